// Job threads of this process: a fixed number of slots, each one thread running one job at a time. A
// context travels to a thread once; a thread that dies fails the job it held (as an outcome) and is
// replaced by a fresh one.

import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { moduleDir } from '../core/index.js'
import type { FromThread, ToThread } from './thread.js'
import type { Outcome, SharedSeries } from './types.js'

export interface ThreadJob {
  /** The context's key (a hash of kind, context and data). */
  key: string
  kind: string
  context: unknown
  data: Record<string, SharedSeries>
  item: unknown
}

interface Slot {
  worker: Worker
  contexts: Set<string>
  job: { id: number; resolve: (o: Outcome) => void } | undefined
}

export class JobThreads {
  private readonly slots: Slot[] = []
  private readonly waiting: (() => void)[] = []
  private next = 1
  private closed = false
  private readonly entry = join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'thread.cjs')

  constructor(readonly count: number) {
    for (let k = 0; k < count; k++) this.slots.push(this.spawn())
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(this.entry), contexts: new Set(), job: undefined }
    // Idle threads do not keep the process alive; a thread running a job does.
    slot.worker.unref()
    slot.worker.on('message', (msg: FromThread) => {
      const job = slot.job
      if (job === undefined || job.id !== msg.id) return
      slot.job = undefined
      slot.worker.unref()
      job.resolve(msg.ok ? { ok: true, value: msg.value } : { ok: false, error: msg.error })
      this.waiting.shift()?.()
    })
    const died = (why: string) => {
      if (this.closed) return
      const k = this.slots.indexOf(slot)
      const job = slot.job
      slot.job = undefined
      if (k >= 0) this.slots[k] = this.spawn()
      job?.resolve({ ok: false, error: `job thread died: ${why}` })
      this.waiting.shift()?.()
    }
    slot.worker.on('error', (error) => died(error instanceof Error ? error.message : String(error)))
    slot.worker.on('exit', (code) => died(`exited with code ${code}`))
    return slot
  }

  /** Whether slot `k` is free. */
  idle(k: number): boolean {
    return this.slots[k]!.job === undefined
  }

  /** Run on slot `k` (which must be free). */
  runOn(k: number, job: ThreadJob): Promise<Outcome> {
    const slot = this.slots[k]!
    if (slot.job !== undefined) throw new Error(`job thread ${k} is busy`)
    if (!slot.contexts.has(job.key)) {
      slot.worker.postMessage({ type: 'context', key: job.key, kind: job.kind, context: job.context, data: job.data } satisfies ToThread)
      slot.contexts.add(job.key)
      // The thread keeps its last few contexts; past that it may have dropped one: send it again.
      if (slot.contexts.size > 4) slot.contexts = new Set([job.key])
    }
    const id = this.next++
    return new Promise<Outcome>((resolve) => {
      slot.job = { id, resolve }
      slot.worker.ref()
      slot.worker.postMessage({ type: 'run', id, key: job.key, item: job.item } satisfies ToThread)
    })
  }

  /** Run on whichever slot frees first. */
  async run(job: ThreadJob): Promise<Outcome> {
    for (;;) {
      if (this.closed) return { ok: false, error: 'job threads closed' }
      const k = this.slots.findIndex((s) => s.job === undefined)
      if (k >= 0) return this.runOn(k, job)
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    }
  }

  async close(): Promise<void> {
    this.closed = true
    for (const w of this.waiting.splice(0)) w()
    for (const s of this.slots) {
      const job = s.job
      s.job = undefined
      job?.resolve({ ok: false, error: 'job threads closed' })
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
  }
}
