// The local executor: worker threads of this process (the default; nothing to install). Items go to
// whichever thread is free, or — for a contiguous batch — each thread takes its own contiguous share and,
// when done, the last items of the share with the most left. The threads start with the first batch and
// serve the next ones (a study's waves, a walk-forward's windows) until close(); idle, they do not keep
// the process alive. Batches given at once run one after another.

import { canonicalJson, ConfigError, MtflowError, Progress, sha256 } from '../core/index.js'
import { shareSeries } from './data.js'
import { checkKind } from './handlers.js'
import { JobThreads } from './threads.js'
import type { Batch, Executor, Outcome, SharedSeries } from './types.js'

export class CancelledError extends MtflowError {}

export class LocalExecutor implements Executor {
  readonly kind = 'local' as const
  readonly describe: string

  constructor(readonly threads: number) {
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= 256)) throw new ConfigError(`threads must be an integer in [1, 256] (received ${threads})`)
    this.describe = `${threads} thread${threads === 1 ? '' : 's'}`
  }

  private pool: JobThreads | undefined
  private queue: Promise<unknown> = Promise.resolve()

  run<I, R>(batch: Batch<I>): Promise<Outcome<R>[]> {
    const turn = this.queue.then(() => this.runNow<I, R>(batch))
    this.queue = turn.catch(() => undefined)
    return turn
  }

  private async runNow<I, R>(batch: Batch<I>): Promise<Outcome<R>[]> {
    checkKind(batch.kind)
    const n = batch.items.length
    const outcomes: Outcome<R>[] = new Array(n)
    if (n === 0) return outcomes
    const data: Record<string, SharedSeries> = {}
    for (const [name, input] of Object.entries(batch.data ?? {})) {
      if (input.series === undefined) throw new ConfigError(`series ${name} of ${batch.label ?? batch.kind} has no data in this process (the local executor needs the bars)`)
      data[name] = shareSeries(input.series)
    }
    const key = sha256(canonicalJson({ kind: batch.kind, context: batch.context, data: Object.keys(data) })) + `:${Date.now()}:${Math.random()}`
    const count = Math.min(this.threads, n)
    this.pool ??= new JobThreads(this.threads)
    const pool = this.pool
    const progress = batch.progress === undefined ? undefined : new Progress({ label: batch.label ?? batch.kind, total: n, sink: batch.progress })
    // Queues: one shared, or one contiguous share per thread.
    const share = Math.ceil(n / count)
    const queues: number[][] = batch.contiguous === true ? Array.from({ length: count }, (_, k) => range(k * share, Math.min(n, (k + 1) * share))) : [range(0, n)]
    const take = (k: number): number | undefined => {
      const own = queues.length === 1 ? queues[0]! : queues[k]!
      if (own.length > 0) return own.shift()
      let most: number[] | undefined
      for (const q of queues) if (q.length > 0 && (most === undefined || q.length > most.length)) most = q
      return most?.pop()
    }
    let cancelled = false
    // Cancelled: the threads (and the jobs they run) are stopped; the next batch starts new ones.
    const onAbort = () => {
      cancelled = true
      if (this.pool === pool) this.pool = undefined
      void pool.close()
    }
    batch.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      if (batch.signal?.aborted === true) onAbort()
      await Promise.all(
        Array.from({ length: count }, async (_, k) => {
          for (let i = take(k); i !== undefined && !cancelled; i = take(k)) {
            outcomes[i] = (await pool.runOn(k, { key, kind: batch.kind, context: batch.context, data, item: batch.items[i] })) as Outcome<R>
            progress?.tick()
          }
        }),
      )
      if (cancelled) throw new CancelledError(`${batch.label ?? batch.kind} cancelled`)
      progress?.finish()
      return outcomes
    } finally {
      batch.signal?.removeEventListener('abort', onAbort)
    }
  }

  async close(): Promise<void> {
    await this.queue
    const pool = this.pool
    this.pool = undefined
    await pool?.close()
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k)
}
