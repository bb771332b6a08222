// A scoring worker thread: each message is one big request — the raw body text, the model's key and,
// the first time this worker sees that model, its package text. The worker checks and parses the rows,
// scores, and posts back the serialized response (or a bad-input message). The server terminates it
// when a request runs over its time budget.

import { parentPort } from 'node:worker_threads'
import { ConfigError, errorMessage } from '../core/index.js'
import { readPackage, type Model, type ModelPackage } from '../ml/index.js'
import { readInvocation, scoreToJson } from './invocation.js'

export interface ScoreJob {
  /** "name@version": a registry version never changes, so the model it names is read once per worker. */
  key: string
  /** The request body. */
  text: string
  /** The stored package, sent only when this worker has not read `key` yet. */
  pkgText?: string
}

/** 200 with the body; 400 with a bad-input message; 500 with anything else; `missing` when this worker no
 * longer holds the model (it keeps a few): the server sends the package text again. */
export type ScoreReply = { status: 200; body: string; rows: number } | { status: 400 | 500; error: string } | { status: 'missing' }

/** Models read so far (a few: the server sends each worker the models it is asked to score). */
const models = new Map<string, { pkg: ModelPackage; model: Model }>()

parentPort!.on('message', (job: ScoreJob) => {
  let reply: ScoreReply
  try {
    let loaded = models.get(job.key)
    if (loaded === undefined) {
      if (job.pkgText === undefined) {
        parentPort!.postMessage({ status: 'missing' } satisfies ScoreReply)
        return
      }
      loaded = readPackage(job.pkgText, `model ${job.key}`)
      if (models.size >= 8) models.delete(models.keys().next().value!)
      models.set(job.key, loaded)
    }
    const m = readInvocation(job.text, loaded.pkg)
    reply = { status: 200, body: scoreToJson(loaded, m), rows: m.rows }
  } catch (error) {
    reply = error instanceof ConfigError ? { status: 400, error: error.message } : { status: 500, error: errorMessage(error) }
  }
  parentPort!.postMessage(reply)
})
