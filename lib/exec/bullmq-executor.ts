// The bullmq executor: a batch becomes a BullMQ flow on Redis — one child job per item on the jobs
// queue, run by `mtflow worker` processes anywhere, and a parent on the flows queue that gathers the
// children's results when the last one ends. A job's id is the hash of its spec (the project version,
// the kind, the context — strategy and source hash, options, data snapshot ids — and the item: params,
// seed), so a result already computed within the week is reused, not run again. Children retry with
// backoff; a worker that dies mid-job leaves it stalled and another takes it; a job whose code throws
// fails alone (recorded with its error) and the rest finish. Aborting the batch (Ctrl-C) cancels
// what has not started. If Redis loses the flow (restarted without persistence) the batch is submitted
// again, reusing what survived, at most twice.

import { randomUUID } from 'node:crypto'
import { FlowProducer, Queue, QueueEvents } from 'bullmq'
import type { Redis } from 'ioredis'
import { canonicalJson, ConfigError, MtflowError, Progress, sha256 } from '../core/index.js'
import { decodeValue, encodeValue } from './codec.js'
import { checkKind } from './handlers.js'
import { CancelledError } from './local.js'
import { connectionOptions, connectRedis, FLOWS_QUEUE, jobKey, JOBS_QUEUE, KEEP_SECONDS, keys, openResult, PREFIX, redactUrl, redisUrl, signature } from './redis.js'
import type { Batch, DataRef, Executor, Outcome } from './types.js'
import { projectVersion } from './version.js'

export interface BullmqOptions {
  /** redis://host:port (default MTFLOW_REDIS_URL). */
  redis?: string
  /** Attempts per job (default 3) and the first backoff in ms (default 1000, doubling). */
  attempts?: number
  backoffMs?: number
  /** How often the flow's state is read, ms (default 250). */
  pollMs?: number
  /** A Redis that does not answer for this long (ms, default 60 000) fails the batch with a one-line error. */
  downMs?: number
  /** Called with a line when something worth telling happens (a flow lost and submitted again). */
  onNotice?(line: string): void
}

/** What a job's data holds in Redis: the context's hash, its item (encoded), its flow. */
export interface JobData {
  ctx: string
  item: string
  flow: string
  /** With MTFLOW_JOB_KEY: the job's signature (redis.ts signature over ctx and item); workers holding the key refuse a job without it. */
  mac?: string
}

/** A batch's shared part as stored once under its hash. */
export interface StoredContext {
  version: string
  kind: string
  context: unknown
  data: Record<string, DataRef>
}

/** What a flow's parent returns: each child's encoded value, or its failure. */
export interface FlowResult {
  values: Record<string, string>
  failures: Record<string, string>
}

export class BullmqExecutor implements Executor {
  readonly kind = 'bullmq' as const
  readonly describe: string
  private readonly jobs: Queue
  private readonly flows: Queue
  private readonly producer: FlowProducer
  /** MTFLOW_JOB_KEY: jobs are signed with it, and results not signed with it are not taken. */
  private readonly key = jobKey()

  private constructor(
    private readonly url: string,
    private readonly redis: Redis,
    private readonly options: BullmqOptions,
  ) {
    this.describe = redactUrl(url)
    const connection = connectionOptions(url)
    this.jobs = new Queue(JOBS_QUEUE, { connection, prefix: PREFIX })
    this.flows = new Queue(FLOWS_QUEUE, { connection, prefix: PREFIX })
    this.producer = new FlowProducer({ connection, prefix: PREFIX })
    this.jobs.on('error', () => undefined)
    this.flows.on('error', () => undefined)
    this.producer.on('error', () => undefined)
  }

  /** Connects (a one-line error naming the URL within 5 s when Redis does not answer). */
  static async connect(options: BullmqOptions = {}): Promise<BullmqExecutor> {
    const url = redisUrl(options.redis)
    return new BullmqExecutor(url, await connectRedis(url), options)
  }

  async run<I, R>(batch: Batch<I>): Promise<Outcome<R>[]> {
    checkKind(batch.kind)
    const label = batch.label ?? batch.kind
    const data: Record<string, DataRef> = {}
    for (const [name, input] of Object.entries(batch.data ?? {})) {
      if (input.ref === undefined) throw new ConfigError(`series ${name} of ${label} is not in the lake: workers read data by snapshot id (import it first, or use the local executor)`)
      data[name] = input.ref
    }
    const stored: StoredContext = { version: projectVersion(), kind: batch.kind, context: batch.context, data }
    const storedText = encodeValue(stored)
    const ctx = sha256(canonicalJson(JSON.parse(storedText)))
    const items = batch.items.map((item) => encodeValue(item))
    const ids = items.map((item) => sha256(`${ctx}\n${canonicalJson(JSON.parse(item))}`))
    const progress = batch.progress === undefined ? undefined : new Progress({ label, total: ids.length, sink: batch.progress })
    const found = new Map<string, Outcome<R>>()
    const counts = new Map<string, number>()
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1)
    for (let attempt = 0; ; attempt++) {
      await this.answer(this.reuse(ids, found, progress, counts), label, batch.signal)
      let pending = [...new Set(ids.filter((id) => !found.has(id)))]
      if (pending.length === 0) break
      // Jobs of these ids still running for an earlier flow (one just cancelled, or another
      // submitter's): their results are waited for and reused, not computed twice.
      if (await this.waitRunning(pending, batch)) {
        await this.answer(this.reuse(ids, found, progress, counts), label, batch.signal)
        pending = [...new Set(ids.filter((id) => !found.has(id)))]
        if (pending.length === 0) break
      }
      // (Again on each attempt: a Redis that lost the flow lost this too.)
      await this.answer(this.redis.set(keys.context(ctx), storedText, 'EX', KEEP_SECONDS), label, batch.signal)
      const lost = await this.runFlow(batch, ctx, pending, items, ids, found, progress)
      if (!lost) break
      if (attempt >= 2) throw new MtflowError(`${label}: Redis at ${this.describe} lost jobs of the flow three times (restarted without persistence? another submitter removing them?); ${found.size} of ${new Set(ids).size} results were gathered`)
      this.options.onNotice?.(`${label}: Redis at ${this.describe} lost the flow or some of its jobs (restarted? another submitter removed them?); submitting the ${pending.length - countIn(pending, found)} unfinished jobs again`)
    }
    progress?.finish()
    return ids.map((id) => found.get(id)!)
  }

  /**
   * A call to Redis, given up when Redis has not answered for downMs (a one-line error naming it) or,
   * once the batch is aborted, after 2 s more (CancelledError: Ctrl-C works while Redis is down).
   */
  private answer<T>(call: Promise<T>, label: string, signal: AbortSignal | undefined, ms = this.options.downMs ?? 60_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer = setTimeout(() => reject(new MtflowError(`${label}: Redis at ${this.describe} has not answered for ${Math.round(ms / 1000)} s (down?); results already computed are kept in it for a re-run`)), ms)
      const onAbort = () => {
        clearTimeout(timer)
        timer = setTimeout(() => reject(new CancelledError(`${label} cancelled (Redis at ${this.describe} is not answering: jobs it holds may still run)`)), 2000)
      }
      if (signal?.aborted === true) onAbort()
      else signal?.addEventListener('abort', onAbort, { once: true })
      call.then(resolve, reject).finally(() => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      })
    })
  }

  /** Results computed before (by any submitter, within the week). */
  private async reuse<R>(ids: readonly string[], found: Map<string, Outcome<R>>, progress: Progress | undefined, counts: ReadonlyMap<string, number>): Promise<void> {
    const unique = [...new Set(ids.filter((id) => !found.has(id)))]
    for (let from = 0; from < unique.length; from += 500) {
      const slice = unique.slice(from, from + 500)
      const values = await this.redis.mget(slice.map(keys.result))
      values.forEach((v, k) => {
        // A result not signed with the job key (forged, or a keyless worker's) is computed again.
        const text = v === null ? undefined : openResult(this.key, slice[k]!, v)
        if (text === undefined) return
        found.set(slice[k]!, { ok: true, value: decodeValue(text) as R, reused: true })
        progress?.tick(counts.get(slice[k]!) ?? 1)
      })
    }
  }

  /** One flow for the pending jobs; true when Redis lost it before it ended. */
  private async runFlow<I, R>(batch: Batch<I>, ctx: string, pending: string[], items: string[], ids: string[], found: Map<string, Outcome<R>>, progress: Progress | undefined): Promise<boolean> {
    const label = batch.label ?? batch.kind
    const itemOf = new Map<string, string>()
    ids.forEach((id, k) => itemOf.set(id, items[k]!))
    await this.answer(this.clearStale(pending), label, batch.signal)
    const flow = `flow-${randomUUID()}`
    const counts = new Map<string, number>()
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1)
    const events = new QueueEvents(JOBS_QUEUE, { connection: connectionOptions(this.url), prefix: PREFIX })
    events.on('error', () => undefined)
    const waiting = new Set(pending)
    // Once every child has been heard of, the parent gathers at once: look often, not every pollMs.
    let wake: (() => void) | undefined
    events.on('completed', ({ jobId }) => {
      if (waiting.delete(jobId)) progress?.tick(counts.get(jobId) ?? 1)
      if (waiting.size === 0) wake?.()
    })
    const pause = () => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waiting.size === 0 ? 10 : (this.options.pollMs ?? 250))
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    let aborted = false
    const onAbort = () => {
      aborted = true
    }
    batch.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await this.answer(events.waitUntilReady(), label, batch.signal)
      const added = this.producer.add({
        name: batch.kind,
        queueName: FLOWS_QUEUE,
        data: { label, jobs: pending.length },
        opts: { jobId: flow, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } },
        children: pending.map((id) => ({
          name: batch.kind,
          queueName: JOBS_QUEUE,
          data: { ctx, item: itemOf.get(id)!, flow, ...(this.key === undefined ? {} : { mac: signature(this.key, 'job', ctx, itemOf.get(id)!) }) } satisfies JobData,
          opts: {
            jobId: id,
            attempts: this.options.attempts ?? 3,
            backoff: { type: 'exponential', delay: this.options.backoffMs ?? 1000 },
            removeOnComplete: true,
            removeOnFail: true,
            ignoreDependencyOnFailure: true,
          },
        })),
      })
      await this.answer(added, label, batch.signal)
      for (;;) {
        if (aborted || batch.signal?.aborted === true) {
          // (Bounded: a Redis that is down cannot be told; what it queued may then still run.)
          const finished = await this.answer(this.cancel(flow, pending), label, undefined, 5000).catch(() => undefined)
          if (finished === undefined) throw new CancelledError(`${label} cancelled (Redis at ${this.describe} is not answering: jobs it holds may still run)`)
          throw new CancelledError(`${label} cancelled: ${finished} of ${pending.length} jobs had finished (their results are kept for a re-run)`)
        }
        const job = await this.answer(this.flows.getJob(flow), label, batch.signal)
        if (job === undefined || job === null) return true
        const state = await this.answer(job.getState(), label, batch.signal)
        if (state === 'completed') {
          // Read again: the job fetched above may predate its completion (no return value yet).
          const done = await this.answer(this.flows.getJob(flow), label, batch.signal)
          const result = done?.returnvalue as FlowResult | null | undefined
          if (result === null || result === undefined || typeof result !== 'object') {
            if (done === undefined || done === null) return true
            await sleep(this.options.pollMs ?? 250)
            continue
          }
          // A child neither gathered nor failed was taken from this flow (another submitter's clean-up, a
          // Redis that lost it): its result is read from the cache, else it is submitted again.
          let missing = false
          for (const id of pending) {
            const v = result.values[id]
            const f = result.failures[id]
            if (v !== undefined) {
              const text = openResult(this.key, id, v)
              found.set(id, text === undefined ? { ok: false, error: 'its result is not signed with this submitter\'s MTFLOW_JOB_KEY (forged in Redis, or computed by a worker without the key): not taken' } : { ok: true, value: decodeValue(text) as R })
            } else if (f !== undefined) found.set(id, { ok: false, error: f })
            else {
              const cached = await this.answer(this.redis.get(keys.result(id)), label, batch.signal)
              const text = cached === null ? undefined : openResult(this.key, id, cached)
              if (text !== undefined) found.set(id, { ok: true, value: decodeValue(text) as R })
              else missing = true
            }
          }
          return missing
        }
        if (state === 'failed') throw new MtflowError(`${label}: gathering the results failed: ${job.failedReason}`)
        await pause()
      }
    } finally {
      batch.signal?.removeEventListener('abort', onAbort)
      if (!(await within(events.close(), 2000))) await within(events.disconnect(), 2000)
    }
  }

  /**
   * Waits while any of these jobs belongs to a flow still under way — running on a worker, or waiting its
   * turn in another submitter's live flow (its parent there, not cancelled) — whose result will be
   * reused; whether there was any. Jobs of a flow that is gone or cancelled are left for clearStale.
   */
  private async waitRunning<I>(ids: readonly string[], batch: Batch<I>): Promise<boolean> {
    const label = batch.label ?? batch.kind
    let told = false
    for (;;) {
      const live = await this.answer(this.liveJobs(ids), label, batch.signal)
      if (live.length === 0) return told
      if (batch.signal?.aborted === true) throw new CancelledError(`${label} cancelled (while waiting for ${live.length} jobs of an earlier run to end)`)
      if (!told) this.options.onNotice?.(`${label}: waiting for ${live.length} job${live.length === 1 ? '' : 's'} of an earlier or concurrent submission (their results will be reused)`)
      told = true
      await sleep(this.options.pollMs ?? 250)
    }
  }

  /** The ids whose job is active, or waiting in a flow whose parent exists and is not cancelled. */
  private async liveJobs(ids: readonly string[]): Promise<string[]> {
    const live: string[] = []
    for (let from = 0; from < ids.length; from += 500) {
      const slice = ids.slice(from, from + 500)
      const pipeline = this.redis.pipeline()
      for (const id of slice) pipeline.hmget(keys.job(id), 'parentKey', 'data')
      const rows = (await pipeline.exec()) ?? []
      for (const [k, [, row]] of rows.entries()) {
        const [parentKey, data] = (row ?? [null, null]) as [string | null, string | null]
        if (data === null) continue
        const id = slice[k]!
        const state = await this.jobs.getJobState(id)
        if (state === 'active') {
          live.push(id)
          continue
        }
        if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized' && state !== 'waiting-children') continue
        const flow = parentKey?.slice(parentKey.lastIndexOf(':') + 1)
        if (flow === undefined || (await this.redis.exists(keys.cancel(flow))) === 1 || (await this.redis.exists(parentKey!)) === 0) continue
        live.push(id)
      }
    }
    return live
  }

  /**
   * Jobs left under these ids by an earlier flow that did not finish them (cancelled, failed, or a
   * submitter that died): removed, so the new flow's children can take the ids.
   */
  private async clearStale(ids: readonly string[]): Promise<void> {
    for (let from = 0; from < ids.length; from += 500) {
      const slice = ids.slice(from, from + 500)
      const pipeline = this.redis.pipeline()
      for (const id of slice) pipeline.exists(keys.job(id))
      const exists = (await pipeline.exec()) ?? []
      for (const [k, [, n]] of exists.entries()) {
        if (n !== 1) continue
        const id = slice[k]!
        const removed = await this.jobs.remove(id).catch(() => 0)
        if (removed !== 1) throw new MtflowError(`job ${id.slice(0, 12)} is running for another submitter right now; wait for it to end and run again`)
      }
    }
  }

  /** Marks the flow cancelled, removes what has not started; how many had finished. */
  private async cancel(flow: string, pending: readonly string[]): Promise<number> {
    await this.redis.set(keys.cancel(flow), '1', 'EX', 24 * 3600)
    for (const id of pending) await this.jobs.remove(id).catch(() => 0)
    await this.flows.remove(flow, { removeChildren: true }).catch(() => 0)
    const values = await this.redis.mget(pending.map(keys.result))
    return values.filter((v) => v !== null).length
  }

  async close(): Promise<void> {
    // BullMQ emits an error nobody can hear when a connection is closed while still connecting (the
    // process dies of it): let each connection become ready first, for at most 5 s. Closing sends QUIT,
    // which a Redis that is down never answers: past 2 s the connections are dropped instead.
    const parts = [this.jobs, this.flows, this.producer]
    await within(Promise.all(parts.map((p) => p.waitUntilReady().catch(() => undefined))), 5000)
    const closing = Promise.all(parts.map((p) => p.close().catch(() => undefined)))
    if (!(await within(closing, 2000))) {
      await within(Promise.all(parts.map((p) => p.disconnect().catch(() => undefined))), 2000)
      await within(closing, 2000)
    }
    this.redis.disconnect()
  }
}

/** Whether `work` ended within `ms` (it goes on regardless). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const ended = await Promise.race([
    work.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms)
    }),
  ])
  clearTimeout(timer)
  return ended
}

function countIn(ids: readonly string[], found: Map<string, unknown>): number {
  return ids.filter((id) => found.has(id)).length
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
