// A notebook's markdown rendered on a thread of its own, within a time limit (markdown-worker.cjs says why):
// at most MARKDOWN_THREADS at once (more wait their turn; the time limit starts with the thread), and one
// render shared by the requests for the same markdown that arrive while it runs.

import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { moduleDir } from '../core/index.js'

/** How long a notebook's markdown may take to render; past it, the notebook shows its markdown as source. */
export const MARKDOWN_TIMEOUT_MS = 3_000

/** Markdown threads at once: 60 requests for hostile notebooks once started 60 threads (475 MB, 10 s for a bystander). */
export const MARKDOWN_THREADS = 2

const WORKER = join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'markdown-worker.cjs')

let running = 0
const waiting: (() => void)[] = []
const inFlight = new Map<string, Promise<Map<string, string> | undefined>>()

/**
 * Each source's HTML as marked makes it (unsanitized), by source; a source marked cannot take is absent.
 * Undefined when the whole did not end within `timeoutMs` of its thread's start (the thread is ended) or
 * the thread failed.
 */
export function renderMarkdown(sources: readonly string[], timeoutMs = MARKDOWN_TIMEOUT_MS): Promise<Map<string, string> | undefined> {
  if (sources.length === 0) return Promise.resolve(new Map())
  const key = createHash('sha256').update(JSON.stringify(sources)).update(String(timeoutMs)).digest('hex')
  const known = inFlight.get(key)
  if (known !== undefined) return known
  const render = turn()
    .then(() => inThread(sources, timeoutMs))
    .finally(() => {
      inFlight.delete(key)
      running--
      waiting.shift()?.()
    })
  inFlight.set(key, render)
  return render
}

/** Resolves when a thread may start (counted in `running` from then). */
function turn(): Promise<void> {
  if (running < MARKDOWN_THREADS) {
    running++
    return Promise.resolve()
  }
  return new Promise((resolve) =>
    waiting.push(() => {
      running++
      resolve()
    }),
  )
}

function inThread(sources: readonly string[], timeoutMs: number): Promise<Map<string, string> | undefined> {
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
