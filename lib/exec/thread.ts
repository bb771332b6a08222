// A job thread: contexts arrive once ({ type: 'context' }: the kind, its JSON and its series), jobs
// then name the context they run in. A context's `prepare` runs once and its state is kept for the
// next jobs (the last few contexts only).

import { parentPort } from 'node:worker_threads'
import { errorMessage } from '../core/index.js'
import { loadHandler } from './handlers.js'
import type { JobHandler, SharedSeries } from './types.js'

export type ToThread =
  | { type: 'context'; key: string; kind: string; context: unknown; data: Record<string, SharedSeries> }
  | { type: 'run'; id: number; key: string; item: unknown }

export type FromThread = { type: 'done'; id: number; ok: true; value: unknown } | { type: 'done'; id: number; ok: false; error: string }

interface Prepared {
  handler: JobHandler
  context: unknown
  state: Promise<unknown>
}

/** Contexts kept (a sweep has one; a walk-forward one per batch). */
const KEEP = 4
const contexts = new Map<string, Prepared>()

parentPort!.on('message', (msg: ToThread) => {
  if (msg.type === 'context') {
    contexts.delete(msg.key)
    let handler: JobHandler
    let state: Promise<unknown>
    try {
      handler = loadHandler(msg.kind)
      state = Promise.resolve(handler.prepare === undefined ? undefined : handler.prepare(msg.context, msg.data))
    } catch (error) {
      handler = { run: () => undefined }
      state = Promise.reject(error)
    }
    state.catch(() => undefined)
    contexts.set(msg.key, { handler, context: msg.context, state })
    while (contexts.size > KEEP) contexts.delete(contexts.keys().next().value!)
    return
  }
  const prepared = contexts.get(msg.key)
  const reply = (out: FromThread) => parentPort!.postMessage(out)
  if (prepared === undefined) {
    reply({ type: 'done', id: msg.id, ok: false, error: `job thread has no context ${msg.key}` })
    return
  }
  prepared.state
    .then((state) => prepared.handler.run(state, msg.item, prepared.context))
    .then(
      (value) => reply({ type: 'done', id: msg.id, ok: true, value }),
      (error) => reply({ type: 'done', id: msg.id, ok: false, error: errorMessage(error) }),
    )
})
