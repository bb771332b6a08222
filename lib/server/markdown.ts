// A notebook's markdown rendered on a thread of its own, within a time limit (markdown-worker.cjs says why).

import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { moduleDir } from '../core/index.js'

/** How long a notebook's markdown may take to render; past it, the notebook shows its markdown as source. */
export const MARKDOWN_TIMEOUT_MS = 3_000

const WORKER = join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'markdown-worker.cjs')

/**
 * Each source's HTML as marked makes it (unsanitized), by source; a source marked cannot take is absent.
 * Undefined when the whole did not end within `timeoutMs` (the thread is ended) or the thread failed.
 */
export function renderMarkdown(sources: readonly string[], timeoutMs = MARKDOWN_TIMEOUT_MS): Promise<Map<string, string> | undefined> {
  if (sources.length === 0) return Promise.resolve(new Map())
  const worker = new Worker(WORKER)
  return new Promise((resolve) => {
    const done = (out: Map<string, string> | undefined) => {
      clearTimeout(timer)
      void worker.terminate()
      resolve(out)
    }
    const timer = setTimeout(() => done(undefined), timeoutMs)
    worker.once('message', (html: (string | null)[]) => {
      const out = new Map<string, string>()
      sources.forEach((source, k) => {
        const h = html[k]
        if (typeof h === 'string') out.set(source, h)
      })
      done(out)
    })
    worker.once('error', () => done(undefined))
    worker.once('exit', () => done(undefined))
    worker.postMessage(sources)
  })
}
