// `mtflow worker`: takes jobs from Redis and runs them on this machine's job threads. A job's context
// (kind, JSON, data snapshot ids, the submitter's project version) is read once from Redis; a worker
// whose version differs refuses the job (failed at once, both versions in the message); its series are
// got through `resolveData` (a shared lake path or the server's read API, the snapshot id checked) and
// kept for the next jobs. A job whose code throws fails alone, without retries; a job thread that dies
// fails the attempt (retried). Parents of flows gather their children's results.

import { UnrecoverableError, Worker, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { canonicalJson, errorMessage, sha256 } from '../core/index.js'
import type { FlowResult, JobData, StoredContext } from './bullmq-executor.js'
import { decodeValue, encodeValue } from './codec.js'
import { shareSeries, seriesBytes } from './data.js'
import { connectionOptions, connectRedis, FLOWS_QUEUE, jobKey, JOBS_QUEUE, KEEP_SECONDS, keys, PREFIX, redactUrl, redisUrl, sameSignature, sealResult, signature } from './redis.js'
import { JobThreads } from './threads.js'
import type { DataRef, SharedSeries } from './types.js'
import { projectVersion, sourcesVersion } from './version.js'

export interface WorkerOptions {
  redis?: string
  /** Job threads (jobs at once); default 1. */
  concurrency?: number
  /** Queues served: jobs, flows (default both). */
  queues?: readonly string[]
  /** The bytes of a series, by snapshot id (checked by the resolver). */
  resolveData(ref: DataRef): Promise<SharedSeries>
  /** A job not heard from for this long is taken as stalled and given to another worker (default 30 s). */
  stalledMs?: number
  /** Series kept in memory between jobs, bytes (default 4 GiB). */
  cacheBytes?: number
  /** A line per event worth telling (started, a job failed, stopped). */
  log?(line: string): void
}

export interface WorkerStats {
  completed: number
  failed: number
  refused: number
}

export interface RunningWorker {
  readonly version: string
  readonly stats: WorkerStats
  close(): Promise<void>
}

export const QUEUES = [JOBS_QUEUE, FLOWS_QUEUE] as const

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const url = redisUrl(o.redis)
  // MTFLOW_JOB_KEY: only jobs signed with it run here, and results are signed with it.
  const key = jobKey()
  const redis = await connectRedis(url)
  const version = projectVersion()
  const concurrency = o.concurrency ?? 1
  const queues = o.queues ?? QUEUES
  for (const q of queues) if (!(QUEUES as readonly string[]).includes(q)) throw new Error(`--queues takes ${QUEUES.join(', ')} (received ${JSON.stringify(q)})`)
  const log = o.log ?? (() => undefined)
  const stats: WorkerStats = { completed: 0, failed: 0, refused: 0 }
  const threads = new JobThreads(concurrency)
  const contexts = new Map<string, StoredContext>()
  const series = new SeriesCache(o.cacheBytes ?? 4 * 2 ** 30, o.resolveData)
  const stalledMs = o.stalledMs ?? 30_000
  const workers: Worker[] = []

  // lib/ as it is on disk now, read again for each new context and at most every 10 s otherwise: job threads
  // load lib/ lazily, so a worker whose sources changed after it started (a `git pull` without a restart) ran
  // the new code under the version it started with, and its results were kept a week under ids naming that
  // version (reused by every submitter of it). Once changed, the worker refuses every job, with both versions.
  let checkedAt = Date.now()
  let changedTo: string | undefined
  const sourcesChanged = (now: boolean): string | undefined => {
    if (changedTo === undefined && (now || Date.now() - checkedAt >= 10_000)) {
      checkedAt = Date.now()
      const current = sourcesVersion()
      if (current !== version) {
        changedTo = current
        log(`lib/ changed on disk since this worker started (mtflow ${version} → ${current}): it refuses every job; restart it`)
      }
    }
    return changedTo
  }
  const refuseChanged = (now: boolean): void => {
    const current = sourcesChanged(now)
    if (current === undefined) return
    stats.refused++
    throw new UnrecoverableError(`this worker started as mtflow ${version} but its lib/ sources are now ${current} (changed on disk since it started): restart it`)
  }

  const runJob = async (job: Job<JobData>): Promise<string> => {
    // Anyone who can write to Redis can add jobs: nothing in one is trusted before it is checked.
    const { ctx, item, flow, mac } = (job.data ?? {}) as Partial<JobData>
    if (typeof ctx !== 'string' || typeof item !== 'string' || (flow !== undefined && typeof flow !== 'string')) throw new UnrecoverableError('not an mtflow job: its data must hold ctx, item and flow as text')
    if (key !== undefined) {
      if (!sameSignature(mac, signature(key, 'job', ctx, item))) {
        stats.refused++
        throw new UnrecoverableError('refused: the job is not signed with this worker\'s MTFLOW_JOB_KEY (submitters need the same key)')
      }
      // Its result is signed under its id: a signed job added again under another job's id would have this
      // worker sign the wrong value for that one (a review). The id is the hash of what it runs.
      if (job.id !== idOf(ctx, item)) {
        stats.refused++
        throw new UnrecoverableError('refused: the job\'s id is not the hash of its context and item')
      }
    }
    if (flow !== undefined && (await redis.exists(keys.cancel(flow))) === 1) throw new UnrecoverableError('cancelled by the submitter')
    let stored = contexts.get(ctx)
    refuseChanged(stored === undefined)
    if (stored === undefined) {
      const text = await redis.get(keys.context(ctx))
      if (text === null) throw new UnrecoverableError(`the job's context ${ctx.slice(0, 12)} is no longer in Redis (expired or lost); submit the batch again`)
      const decoded = parse(text)
      if (!isStoredContext(decoded)) throw new UnrecoverableError(`the job's context ${ctx.slice(0, 12)} is not an mtflow job context (version, kind, context, data)`)
      // Stored under its own hash, which the job (and its signature) names: a context replaced in Redis is not run.
      if (sha256(canonicalJson(JSON.parse(text))) !== ctx) {
        stats.refused++
        throw new UnrecoverableError(`the job's context ${ctx.slice(0, 12)} in Redis is not the one its hash names (changed there): refused`)
      }
      stored = decoded
      contexts.set(ctx, stored)
      if (contexts.size > 16) contexts.delete(contexts.keys().next().value!)
    }
    if (stored.version !== version) {
      stats.refused++
      throw new UnrecoverableError(`this worker runs mtflow ${version}; the job was submitted by mtflow ${stored.version}: install the same version (same lib/ sources) on both`)
    }
    const data: Record<string, SharedSeries> = {}
    for (const [name, ref] of Object.entries(stored.data)) data[name] = await series.get(ref)
    const value = parse(item)
    if (value === undefined) throw new UnrecoverableError(`the job's item is not JSON (${JSON.stringify(item.slice(0, 40))})`)
    const out = await threads.run({ key: ctx, kind: stored.kind, context: stored.context, data, item: value })
    if (!out.ok) {
      // A thread that died may have met a passing fault (memory): the attempt is retried. The job's
      // own code throwing would throw again: it fails now.
      if (out.error.startsWith('job thread died')) throw new Error(out.error)
      throw new UnrecoverableError(out.error)
    }
    // (Sources changed while it ran: its code may be either version's.)
    refuseChanged(false)
    const sealed = sealResult(key, job.id!, encodeValue(out.value))
    await redis.set(keys.result(job.id!), sealed, 'EX', KEEP_SECONDS)
    return sealed
  }

  const gather = async (job: Job): Promise<FlowResult> => {
    const values: Record<string, string> = {}
    const failures: Record<string, string> = {}
    for (const [key, v] of Object.entries(await job.getChildrenValues<string>())) values[key.slice(key.lastIndexOf(':') + 1)] = v
    for (const [key, v] of Object.entries(await job.getIgnoredChildrenFailures())) failures[key.slice(key.lastIndexOf(':') + 1)] = v
    return { values, failures }
  }

  const common = { connection: connectionOptions(url), prefix: PREFIX, lockDuration: stalledMs, stalledInterval: stalledMs, maxStalledCount: 2 }
  if (queues.includes(JOBS_QUEUE)) {
    const w = new Worker<JobData, string>(JOBS_QUEUE, runJob, { ...common, concurrency })
    w.on('completed', () => stats.completed++)
    w.on('failed', (job, error) => {
      if (job !== undefined && job.attemptsMade < (job.opts.attempts ?? 1) && !(error instanceof UnrecoverableError)) {
        log(`job ${job.id?.slice(0, 12)} attempt ${job.attemptsMade} failed (${errorMessage(error)}); it will be retried`)
        return
      }
      stats.failed++
      log(`job ${job?.id?.slice(0, 12) ?? '?'} failed: ${errorMessage(error)}`)
    })
    workers.push(w)
  }
  if (queues.includes(FLOWS_QUEUE)) workers.push(new Worker<unknown, FlowResult>(FLOWS_QUEUE, gather, { ...common, concurrency: 4 }))
  for (const w of workers) w.on('error', (error) => log(`redis: ${errorMessage(error)}`))
  await Promise.all(workers.map((w) => w.waitUntilReady()))
  log(`worker ${process.pid} (mtflow ${version}) on ${redactUrl(url)}: ${concurrency} job thread${concurrency === 1 ? '' : 's'}, queues ${queues.join(', ')}`)
  if (key === undefined) log('jobs are not authenticated (no MTFLOW_JOB_KEY): whoever can write to this Redis can run code here; set the same MTFLOW_JOB_KEY on the workers and the submitters')
  return {
    version,
    stats,
    async close() {
      await Promise.all(workers.map((w) => w.close()))
      await threads.close()
      redis.disconnect()
    },
  }
}

/** A value of the codec's text; undefined when it is not JSON. */
/** A job's id as its submitter makes it (bullmq-executor.ts): the hash of its context hash and its item's JSON. */
function idOf(ctx: string, item: string): string | undefined {
  try {
    return sha256(`${ctx}\n${canonicalJson(JSON.parse(item))}`)
  } catch {
    return undefined
  }
}

function parse(text: string): unknown {
  try {
    return decodeValue(text)
  } catch {
    return undefined
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function isStoredContext(v: unknown): v is StoredContext {
  return isObject(v) && typeof v.version === 'string' && typeof v.kind === 'string' && isObject(v.data) && Object.values(v.data).every((r) => isObject(r) && typeof r.snapshot === 'string' && isObject(r.query))
}

/** Series by snapshot id, in shared memory, the least recently used dropped past the byte budget. */
class SeriesCache {
  private readonly entries = new Map<string, Promise<SharedSeries>>()
  private readonly sizes = new Map<string, number>()

  constructor(
    private readonly maxBytes: number,
    private readonly resolve: (ref: DataRef) => Promise<SharedSeries>,
  ) {}

  get(ref: DataRef): Promise<SharedSeries> {
    const hit = this.entries.get(ref.snapshot)
    if (hit !== undefined) {
      this.entries.delete(ref.snapshot)
      this.entries.set(ref.snapshot, hit)
      return hit
    }
    const loading = this.resolve(ref).then((s) => {
      const shared = shareSeries(s)
      this.sizes.set(ref.snapshot, seriesBytes(shared))
      this.trim()
      return shared
    })
    loading.catch(() => this.entries.delete(ref.snapshot))
    this.entries.set(ref.snapshot, loading)
    return loading
  }

  private trim(): void {
    let total = [...this.sizes.values()].reduce((a, b) => a + b, 0)
    for (const key of this.entries.keys()) {
      if (total <= this.maxBytes || this.entries.size <= 1) break
      total -= this.sizes.get(key) ?? 0
      this.entries.delete(key)
      this.sizes.delete(key)
    }
  }
}

export type { Redis }
