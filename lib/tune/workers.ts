// Trials in worker threads: each worker loads the objective once (a module file and an export name —
// a function cannot cross threads) through tsx's require hook, then runs one trial at a time. What a
// trial asks of the study while it runs (a define-by-run suggestion, shouldPrune) is a synchronous
// call: the worker posts it and sleeps on a shared flag until the main thread writes the answer.

import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Worker } from 'node:worker_threads'
import { ConfigError, moduleDir } from '../core/index.js'
import type { Distribution, ParamSet } from './space.js'
import type { TrialHost } from './trial.js'

export interface ObjectiveFile {
  /** A module (.ts or .js) that exports the objective. */
  file: string
  /** The export's name (default "objective"; "default" for a default export). */
  export?: string
}

/** How one trial ended, as seen from the thread that ran it. */
export interface Outcome {
  result?: unknown
  pruned?: boolean
  error?: string
}

export interface TrialJob {
  number: number
  params: ParamSet
  distributions: Record<string, Distribution>
}

/** Bytes for one answer (a parameter value or a verdict, as JSON). */
const ANSWER_BYTES = 1 << 16

type FromWorker =
  | { type: 'ready' }
  | { type: 'load-error'; message: string }
  | { type: 'suggest'; number: number; name: string; distribution: Distribution }
  | { type: 'prune'; number: number }
  | { type: 'report'; number: number; step: number; value: number }
  | { type: 'done'; number: number; outcome: Outcome }

interface Slot {
  worker: Worker
  control: Int32Array
  data: Uint8Array
  job: { number: number; resolve: (o: Outcome) => void } | undefined
  closing: boolean
}

export function checkObjectiveFile(spec: ObjectiveFile): { file: string; exportName: string } {
  if (spec === null || typeof spec !== 'object' || typeof spec.file !== 'string' || spec.file === '') throw new ConfigError(`an objective must be a function or { file, export } (received ${JSON.stringify(spec)})`)
  const file = resolve(spec.file)
  if (!existsSync(file)) throw new ConfigError(`objective file ${file} does not exist`)
  const exportName = spec.export ?? 'objective'
  if (typeof exportName !== 'string' || exportName === '') throw new ConfigError(`objective export must be a non-empty name (received ${JSON.stringify(exportName)})`)
  return { file, exportName }
}

export class WorkerPool {
  private readonly slots: Slot[] = []
  private readonly entry: string

  private constructor(
    private readonly spec: { file: string; exportName: string },
    private readonly host: TrialHost,
  ) {
    this.entry = join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'tune-worker.cjs')
  }

  /** `count` workers with the objective loaded; a ConfigError if it does not load. */
  static async start(spec: ObjectiveFile, count: number, host: TrialHost): Promise<WorkerPool> {
    const pool = new WorkerPool(checkObjectiveFile(spec), host)
    try {
      await Promise.all(Array.from({ length: count }, () => pool.spawn()))
    } catch (error) {
      await pool.close()
      throw error
    }
    return pool
  }

  private spawn(): Promise<Slot> {
    const shared = new SharedArrayBuffer(8 + ANSWER_BYTES)
    const worker = new Worker(this.entry, { workerData: { ...this.spec, shared } })
    const slot: Slot = { worker, control: new Int32Array(shared, 0, 2), data: new Uint8Array(shared, 8), job: undefined, closing: false }
    return new Promise<Slot>((resolveReady, rejectReady) => {
      let ready = false
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') {
          ready = true
          this.slots.push(slot)
          resolveReady(slot)
        } else if (msg.type === 'load-error') rejectReady(new ConfigError(msg.message))
        else this.onMessage(slot, msg)
      })
      // A worker that dies (process.exit in the objective, an error thrown outside it) fails its trial.
      const died = (why: string) => {
        if (!ready) rejectReady(new ConfigError(`tune worker for ${this.spec.file} could not start: ${why}`))
        const job = slot.job
        slot.job = undefined
        const k = this.slots.indexOf(slot)
        if (k >= 0) this.slots.splice(k, 1)
        if (job !== undefined) job.resolve({ error: `worker died: ${why}` })
      }
      worker.on('error', (error) => died(error instanceof Error ? error.message : String(error)))
      worker.on('exit', (code) => {
        if (!slot.closing) died(`exited with code ${code}`)
      })
    })
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.type === 'report') {
      this.guard(() => this.host.report(msg.number, msg.step, msg.value))
    } else if (msg.type === 'suggest') {
      this.answer(slot, () => this.host.suggest(msg.number, msg.name, msg.distribution))
    } else if (msg.type === 'prune') {
      this.answer(slot, () => this.host.shouldPrune(msg.number))
    } else if (msg.type === 'done') {
      const job = slot.job
      slot.job = undefined
      job?.resolve(msg.outcome)
    }
  }

  private guard(work: () => void): void {
    try {
      work()
    } catch {
      /* a report on a trial that ended meanwhile: nothing to record */
    }
  }

  /** Write the answer (or the error) where the sleeping worker reads it, then wake it. */
  private answer(slot: Slot, work: () => unknown): void {
    let text: string
    try {
      text = JSON.stringify({ value: work() })
    } catch (error) {
      text = JSON.stringify({ error: error instanceof Error ? error.message : String(error) })
    }
    let bytes = Buffer.from(text, 'utf8')
    if (bytes.length > ANSWER_BYTES) bytes = Buffer.from(JSON.stringify({ error: `an answer of ${bytes.length} bytes does not fit the ${ANSWER_BYTES} a worker reads` }), 'utf8')
    slot.data.set(bytes)
    Atomics.store(slot.control, 1, bytes.length)
    Atomics.store(slot.control, 0, 1)
    Atomics.notify(slot.control, 0)
  }

  /** Run one trial on a free worker (the caller keeps at most `count` in flight). */
  async run(job: TrialJob): Promise<Outcome> {
    for (;;) {
      const s = this.slots.find((x) => x.job === undefined)
      if (s !== undefined) {
        return new Promise<Outcome>((resolveJob) => {
          s.job = { number: job.number, resolve: resolveJob }
          s.worker.postMessage({ type: 'run', ...job })
        })
      }
      // All workers busy means one died and was dropped: start its replacement.
      await this.spawn()
    }
  }

  async close(): Promise<void> {
    for (const s of this.slots) s.closing = true
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
    this.slots.length = 0
  }
}
