// What an executor runs: a batch of jobs of one kind sharing a context and named series, each job one
// item. The same batch runs on worker threads of this process (local) or on `mtflow worker` processes
// through BullMQ on Redis (bullmq); either way the outcomes come back in item order.

import type { ProgressSink } from '../core/index.js'

/** Columns of Float64 plus what describes them (a Bars: symbol and timeframe, time…volume). */
export interface SharedSeries {
  meta: Record<string, unknown>
  columns: Record<string, Float64Array>
}

/** A series by its content: the snapshot id (a hash of its bytes) and the query that reads it from the lake. */
export interface DataRef {
  snapshot: string
  query: Record<string, unknown>
}

/** A named series of a batch: the bytes (local) and where a worker elsewhere finds them (bullmq). */
export interface DataInput {
  ref?: DataRef
  series?: SharedSeries
}

export interface Batch<I = unknown> {
  /** `domain.name`: the handler `jobs[name]` exported by lib/<domain>/jobs.ts. */
  kind: string
  /** JSON: what every job of the batch shares (strategy, options). */
  context: unknown
  data?: Readonly<Record<string, DataInput>>
  /** JSON: one job each. */
  items: readonly I[]
  /** Names the batch in progress and errors ("sweep sma-cross"). */
  label?: string
  progress?: ProgressSink
  /** Aborting cancels the jobs not yet finished. */
  signal?: AbortSignal
  /** Local threads take contiguous shares of the items (state memoised per thread serves neighbours). */
  contiguous?: boolean
}

export type Outcome<R = unknown> = { ok: true; value: R; reused?: boolean } | { ok: false; error: string }

export interface Executor {
  readonly kind: 'local' | 'bullmq'
  /** What it runs on, for tables and run tags ("2 threads", "redis://host:6379"). */
  readonly describe: string
  run<I, R>(batch: Batch<I>): Promise<Outcome<R>[]>
  close(): Promise<void>
}

/**
 * A job kind, exported as `jobs.<name>` from lib/<domain>/jobs.ts. `prepare` runs once per context in a
 * thread (load the strategy, memo tables); `run` once per item. A thrown error fails that job only.
 */
export interface JobHandler<C = any, S = any, I = any, R = any> {
  prepare?(context: C, data: Record<string, SharedSeries>): S | Promise<S>
  run(state: S, item: I, context: C): R | Promise<R>
}
