// Notebook display helpers: `show(x)` and `progress(iterable | total)`. Inside a tslab kernel they send
// Jupyter display_data (several MIME types at once, updated in place for progress); anywhere else they
// print text, so the same notebook code also runs under plain Node.
// Loaded by tslab (CommonJS, TypeScript 5.0): no import.meta, no top-level await.

import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Progress, formatProgress, streamProgressSink, type ProgressSink, type ProgressState } from '../lib/core/index.js'
import { escapeHtml, render, type MimeBundle, type RenderOptions } from './render.js'

interface DisplayPayload extends MimeBundle {
  transient?: { display_id?: string }
}
type WriteDisplayData = (payload: DisplayPayload, update: boolean) => void

/** tslab's display writer for the cell being executed, or null outside a kernel. */
function kernelWriter(): WriteDisplayData | null {
  const fromLauncher = (globalThis as { __mtflowTslabJupyter?: { lastWriteDisplayData?: WriteDisplayData | null } }).__mtflowTslabJupyter
  if (fromLauncher !== undefined) return fromLauncher.lastWriteDisplayData ?? null
  // A kernel started by the stock `tslab` kernelspec: tslab runs the project's local copy.
  try {
    const jupyter = createRequire(join(process.cwd(), 'noop.js'))('tslab/dist/jupyter.js') as { lastWriteDisplayData?: WriteDisplayData | null }
    return jupyter.lastWriteDisplayData ?? null
  } catch {
    return null
  }
}

/** Show a value: a table, a Plot figure, Markdown text, or anything else as text. */
export function show(value: unknown, options: RenderOptions = {}): void {
  const bundle = render(value, options)
  const write = kernelWriter()
  if (write !== null) write({ ...bundle, transient: {} }, false)
  else process.stdout.write(`${bundle.data['text/plain'] ?? ''}\n`)
}

/** Show Markdown text. */
export function markdown(text: string): void {
  show(text)
}

export interface NotebookProgressOptions {
  label?: string
  /** Total when an iterable's length cannot be known (generators). */
  total?: number
}

/**
 * A progress bar for long loops. `for (const x of progress(items)) …` wraps an (async) iterable;
 * `const bar = progress(1000); bar.tick(); bar.finish()` counts by hand.
 */
export function progress(total: number, options?: NotebookProgressOptions): Progress
export function progress<T>(items: Iterable<T>, options?: NotebookProgressOptions): Generator<T, void, undefined>
export function progress<T>(items: AsyncIterable<T>, options?: NotebookProgressOptions): AsyncGenerator<T, void, undefined>
export function progress<T>(
  what: number | Iterable<T> | AsyncIterable<T>,
  options: NotebookProgressOptions = {},
): Progress | Generator<T, void, undefined> | AsyncGenerator<T, void, undefined> {
  if (typeof what === 'number') return new Progress({ label: options.label ?? '', total: what, sink: notebookSink() })
  if (what !== null && typeof what === 'object' && Symbol.asyncIterator in what) return asyncProgress(what, options)
  if (what !== null && typeof what === 'object' && Symbol.iterator in what) return syncProgress(what as Iterable<T>, options)
  throw new TypeError(`progress expects a number or an iterable (received ${typeof what})`)
}

function* syncProgress<T>(items: Iterable<T>, options: NotebookProgressOptions): Generator<T, void, undefined> {
  const bar = new Progress({ label: options.label ?? '', total: options.total ?? sizeOf(items), sink: notebookSink() })
  try {
    for (const item of items) {
      yield item
      bar.tick()
    }
  } finally {
    bar.finish()
  }
}

async function* asyncProgress<T>(items: AsyncIterable<T>, options: NotebookProgressOptions): AsyncGenerator<T, void, undefined> {
  const bar = new Progress({ label: options.label ?? '', total: options.total, sink: notebookSink() })
  try {
    for await (const item of items) {
      yield item
      bar.tick()
    }
  } finally {
    bar.finish()
  }
}

function sizeOf(items: unknown): number | undefined {
  const v = items as { length?: unknown; size?: unknown }
  if (typeof v.length === 'number') return v.length
  if (typeof v.size === 'number') return v.size
  return undefined
}

/** A progress sink for library calls that take one (sweeps, backtests): a live display in a notebook. */
export function progressSink(): ProgressSink {
  return notebookSink()
}

/** Inside a kernel: one display updated in place. Elsewhere: a text bar on stderr. */
function notebookSink(): ProgressSink {
  const write = kernelWriter()
  if (write === null) return streamProgressSink(process.stderr)
  const displayId = randomBytes(8).toString('hex')
  let shown = false
  return {
    update(state: ProgressState) {
      write({ ...progressBundle(state), transient: { display_id: displayId } }, shown)
      shown = true
    },
  }
}

function progressBundle(state: ProgressState): MimeBundle {
  const text = formatProgress(state)
  const max = state.total ?? 0
  const bar = state.total === undefined ? '<progress></progress>' : `<progress value="${Math.min(state.done, max)}" max="${max}"></progress>`
  return { data: { 'text/html': `<div class="mtflow-progress">${bar} <code>${escapeHtml(text)}</code></div>`, 'text/plain': text }, metadata: {} }
}
