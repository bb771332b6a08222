// One big scoring request off the server's thread: the raw body text and the package arrive as
// workerData; the worker parses and checks the rows, rebuilds the model, scores, and posts back the
// serialized response (or a bad-input message). The server terminates it when the time budget runs out.

import { parentPort, workerData } from 'node:worker_threads'
import { ConfigError, errorMessage } from '../core/index.js'
import { modelFromJSON, type ModelPackage } from '../ml/index.js'
import { readInvocation, scoreToJson } from './invocation.js'

export interface ScoreJob {
  text: string
  pkg: ModelPackage
}

/** 200 with the body; 400 with a bad-input message; 500 with anything else. */
export type ScoreReply = { status: 200; body: string } | { status: 400 | 500; error: string }

const job = workerData as ScoreJob
let reply: ScoreReply
try {
  const m = readInvocation(job.text, job.pkg)
  reply = { status: 200, body: scoreToJson({ pkg: job.pkg, model: modelFromJSON(job.pkg.model) }, m) }
} catch (error) {
  reply = error instanceof ConfigError ? { status: 400, error: error.message } : { status: 500, error: errorMessage(error) }
}
parentPort!.postMessage(reply)
