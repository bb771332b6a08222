// Running one job once, apart from when it runs (the Scheduler decides that; a BullMQ worker could call
// this the same way): its attempts — a failure retried after backoffMs, 2×backoffMs, 4×… by the injected
// clock — each under the job's time limit, the whole run as one tracked run (experiment "scheduler", tags
// mtflow.kind=job, mtflow.job, mtflow.trigger) and one history line. An attempt past its time limit is
// abandoned (its signal aborted; work that ignores the signal finishes unobserved) and counts as failed.
// runJob never throws for the job's own failure: that is a value (status "failed").

import { ConfigError, errorMessage, withoutHome } from '../core/index.js'
import type { ModuleLoader } from '../strategy/index.js'
import { type ActiveRun, openTracker } from '../track/index.js'
import type { JobKind } from './args.js'
import type { JobSpec, Trigger } from './jobs.js'
import { appendHistory, updateJobState, type HistoryLine } from './state.js'

/** Time for the scheduler: the wall clock or a test's (lib/live's ManualClock fits; `signal` may be ignored). */
export interface SchedulerClock {
  now(): number
  /** Resolves after `ms`; a clock that honours `signal` drops its timer when it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

/** The wall clock, whose sleeps end early (and free their timer) when their signal aborts. */
export class WallClock implements SchedulerClock {
  now(): number {
    return Date.now()
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) return resolve()
      const timer = setTimeout(done, Math.max(0, ms))
      function done() {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      signal?.addEventListener('abort', done, { once: true })
    })
  }
}

/** What a job kind's code gets for one attempt. */
export interface JobContext {
  home: string
  job: JobSpec
  trigger: Trigger
  /** The run's start by the scheduler's clock (epoch ms): "now" for relative times and retrain windows. */
  now: number
  /** This attempt (1 = the first). */
  attempt: number
  /** The tracked run of this job run. */
  run: ActiveRun
  /** Aborted when the attempt's time limit passes. */
  signal: AbortSignal
  /** A CLI verb run in this process, its stdout returned (the CLI supplies it). */
  verb?: (args: string[]) => Promise<string>
  /** How a registered strategy's source file is loaded (the CLI's require through tsx). */
  load?: ModuleLoader
}

/** What a job kind hands back: a line for people, numbers for the run, triggers to fire (monitor jobs). */
export interface JobOutcome {
  summary?: string
  metrics?: Record<string, number>
  triggers?: string[]
}

export type JobHandler = (context: JobContext) => Promise<JobOutcome | void>

export interface RunnerOptions {
  home: string
  clock: SchedulerClock
  /** The code of each kind (default: ./kinds.ts); tests replace some. */
  handlers: Partial<Record<JobKind, JobHandler>>
  verb?: (args: string[]) => Promise<string>
  load?: ModuleLoader
  /** A line per run, for the foreground `scheduler run`. */
  log?: (line: string) => void
}

/** One run's record: its history line, and the outcome of a successful one. */
export interface RunRecord extends HistoryLine {
  outcome?: JobOutcome
  /** A timed-out attempt still running: settles when it ends (the job's slot is held until then). */
  ended?: Promise<void>
}

const TIMED_OUT = Symbol('timed out')

/** Run `job` once (with its retries); record it as a tracked run, a history line and the job's state. */
export async function runJob(job: JobSpec, trigger: Trigger, options: RunnerOptions): Promise<RunRecord> {
  const { clock, home } = options
  const start = clock.now()
  const tracker = openTracker(home)
  const run = tracker.startRun({
    experiment: 'scheduler',
    name: `${job.name} (${trigger})`,
    params: { kind: job.kind, args: JSON.stringify(job.args), cron: job.cron, timezone: job.timezone, retries: job.retries },
    tags: { 'mtflow.kind': 'job', 'mtflow.job': job.name, 'mtflow.job.kind': job.kind, 'mtflow.trigger': trigger },
  })
  const handler = options.handlers[job.kind]
  let outcome: JobOutcome | undefined
  let error: string | undefined
  let ended: Promise<void> | undefined
  let attempt = 0
  for (;;) {
    attempt++
    try {
      if (handler === undefined) throw new ConfigError(`job ${job.name}: no code for job kind ${job.kind} here`)
      outcome = (await attemptOnce(handler, { home, job, trigger, now: start, attempt, run, verb: options.verb, load: options.load }, clock, job.timeoutMs)) ?? {}
      error = undefined
      break
    } catch (e) {
      // Kept in the history the server shows on /monitoring: the workspace written $MTFLOW_HOME.
      error = withoutHome(errorMessage(e), home).slice(0, 2000)
      run.logMetric('failedAttempts', attempt)
      if (e instanceof StillRunning) {
        ended = e.ended
        break
      }
      if (attempt > job.retries) break
      await clock.sleep(job.backoffMs * 2 ** (attempt - 1))
    }
  }
  const ms = clock.now() - start
  try {
    run.logMetrics({ attempts: attempt, ms, ...(outcome?.metrics ?? {}) })
    if (outcome?.summary !== undefined) run.setTag('mtflow.job.summary', outcome.summary.slice(0, 2000))
  } catch (e) {
    // Metrics a job hands back that the tracker refuses (a bad name) fail the run, not the scheduler.
    error ??= `job ${job.name}: its results could not be logged (${withoutHome(errorMessage(e), home)})`
  }
  if (error === undefined) run.end('FINISHED')
  else run.fail(error)
  const line: HistoryLine = { job: job.name, time: new Date(start).toISOString(), status: error === undefined ? 'ok' : 'failed', ms, ...(error === undefined ? {} : { error }), runId: run.id, trigger, attempts: attempt }
  appendHistory(home, line)
  updateJobState(home, job.name, { lastEnd: clock.now(), lastStatus: line.status })
  options.log?.(`${line.time} ${job.name} ${line.status}${attempt > 1 ? ` after ${attempt} attempts` : ''} (${ms} ms, run ${run.id})${error === undefined ? (outcome?.summary === undefined ? '' : `: ${outcome.summary}`) : `: ${error}`}`)
  return { ...line, ...(error === undefined ? { outcome } : {}), ...(ended === undefined ? {} : { ended }) }
}

/** A timed-out attempt that did not stop when its signal was aborted: `ended` settles when it finally does. */
class StillRunning extends Error {
  constructor(
    message: string,
    readonly ended: Promise<void>,
  ) {
    super(message)
  }
}

/**
 * One attempt, raced against the time limit; the timer is released as soon as either side ends. Timed out, the
 * attempt's signal is aborted; one that stops is a failed attempt (retried), one that goes on is StillRunning:
 * no retry, and the job keeps its slot (no next run beside it) until it ends (RunRecord.ended).
 */
async function attemptOnce(handler: JobHandler, base: Omit<JobContext, 'signal'>, clock: SchedulerClock, timeoutMs: number | undefined): Promise<JobOutcome | void> {
  const abort = new AbortController()
  const work = Promise.resolve().then(() => handler({ ...base, signal: abort.signal }))
  if (timeoutMs === undefined) return work
  work.catch(() => undefined) // a late failure of abandoned work is not an unhandled rejection
  const release = new AbortController()
  try {
    const first = await Promise.race([work, clock.sleep(timeoutMs, release.signal).then(() => TIMED_OUT)])
    if (first === TIMED_OUT) {
      abort.abort()
      // A moment to stop (its signal is aborted); still going after it, the attempt holds the job's slot.
      const settled = await Promise.race([work.then(() => true, () => true), Promise.resolve().then(() => new Promise<boolean>((resolve) => setImmediate(() => resolve(false))))])
      if (!settled) throw new StillRunning(`timed out after ${timeoutMs} ms and still running (it does not stop when told): not retried; no run of it starts until it ends`, work.then(() => undefined, () => undefined))
      throw new Error(`timed out after ${timeoutMs} ms`)
    }
    return first as JobOutcome | void
  } finally {
    release.abort()
  }
}

/** A skip (overlap, or runs missed while down): a history line and the job's state, no tracked run. */
export function recordSkip(home: string, job: JobSpec, trigger: Trigger, time: number, reason: string): HistoryLine {
  const line: HistoryLine = { job: job.name, time: new Date(time).toISOString(), status: 'skipped', ms: 0, error: reason, trigger }
  appendHistory(home, line)
  return line
}
