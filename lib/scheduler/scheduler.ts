// When jobs run: the Scheduler reads each job's cron schedule in its time zone, wakes at the next fire
// time by its injected clock, and hands due jobs to runJob (./runner.ts), which does the running.
//
// Policies, stated:
// - A fire time is due when the scheduler sees it within the job's graceMs (default 60 s) after it passed.
// - Fire times since the job's last one (state.json's lastRun) that are older than that were missed while
//   the scheduler was not running (or the machine slept): with `missed: "skip"` (the default) one history
//   line says how many were skipped and nothing runs until the next fire time; with "run-once" the job
//   runs once at once, however many were missed. A job never seen before counts from the scheduler's start.
// - Overlap: a job whose previous run (scheduled or triggered, in this process or another on the same
//   workspace: state.ts's running marker) is still going is not started again; the fire is recorded as
//   `skipped` with error "overlap…".
// - A job that fails is retried and recorded by runJob; nothing a job does stops the scheduler.
// - Triggers (runTrigger, and the triggers a monitor job returns) start the jobs of that name at once.

import { ConfigError, errorMessage } from '../core/index.js'
import type { ModuleLoader } from '../strategy/index.js'
import type { JobKind } from './args.js'
import { cronOf, readJobs, type JobSpec, type Trigger } from './jobs.js'
import { kindHandlers } from './kinds.js'
import { recordSkip, runJob, WallClock, type JobHandler, type RunRecord, type SchedulerClock } from './runner.js'
import { claimFireTime, claimRunning, readState, releaseRunning, type HistoryLine } from './state.js'

export interface SchedulerOptions {
  home: string
  /** Default: the wall clock. */
  clock?: SchedulerClock
  /** Default: the workspace's jobs file. */
  jobs?: readonly JobSpec[]
  /** Replace the code of some kinds (tests; a different runner). */
  handlers?: Partial<Record<JobKind, JobHandler>>
  verb?: (args: string[]) => Promise<string>
  load?: ModuleLoader
  log?: (line: string) => void
  /** Called with every run and skip as it is recorded. */
  onRecord?: (record: RunRecord | HistoryLine) => void
}

/** The jobs a trigger starts: its name, or a glob with * ("retrain-*"). */
export function jobsMatching(jobs: readonly JobSpec[], pattern: string): JobSpec[] {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
  return jobs.filter((j) => re.test(j.name))
}

/**
 * Monitors' triggers against the jobs (`scheduler validate`): the first trigger that starts no job, as a
 * ConfigError naming the monitor (a typo such as "retrian" fired nothing when the breach came). `rollback`
 * is the monitor job's own action (it moves a model's champion back), not a job.
 */
export function checkTriggers(monitors: readonly { name: string; trigger?: readonly string[] }[], jobs: readonly JobSpec[], where: string): void {
  for (const m of monitors) {
    for (const t of m.trigger ?? []) {
      if (t !== 'rollback' && jobsMatching(jobs, t).length === 0) throw new ConfigError(`monitor ${m.name}: trigger ${JSON.stringify(t)} matches no job in ${where} (jobs: ${jobs.map((j) => j.name).join(', ') || 'none'})`)
    }
  }
}

/** Fire times counted at most, per job and tick, when looking for missed runs. */
const MAX_FIRES = 100_000
/** The longest sleep between ticks: a timer past 2^31 − 1 ms fires at once, and a machine may sleep. */
const MAX_SLEEP_MS = 3_600_000

export class Scheduler {
  readonly home: string
  readonly clock: SchedulerClock
  readonly jobs: readonly JobSpec[]
  private readonly handlers: Partial<Record<JobKind, JobHandler>>
  private readonly running = new Map<string, Promise<RunRecord>>()
  private readonly lastRun = new Map<string, number>()
  private startedAt: number | undefined
  private stopping: (() => void) | undefined
  private stopped = false

  constructor(private readonly options: SchedulerOptions) {
    this.home = options.home
    this.clock = options.clock ?? new WallClock()
    this.jobs = options.jobs ?? readJobs(options.home).jobs
    this.handlers = { ...kindHandlers, ...options.handlers }
    const state = readState(this.home)
    for (const job of this.jobs) {
      const last = state.jobs[job.name]?.lastRun
      if (typeof last === 'number' && Number.isFinite(last)) this.lastRun.set(job.name, last)
    }
  }

  /** The job's next fire time after `after` (default: now, or its last fire time if that is later). */
  nextRun(job: JobSpec, after?: number): number | undefined {
    const from = after ?? Math.max(this.clock.now(), this.lastRun.get(job.name) ?? -Infinity)
    return cronOf(job).nextRun(new Date(from))?.getTime()
  }

  /** Every job's next fire time. */
  schedule(): { job: JobSpec; next: number | undefined; lastRun: number | undefined }[] {
    return this.jobs.map((job) => ({ job, next: this.nextRun(job), lastRun: this.lastRun.get(job.name) }))
  }

  /** Names of the jobs running now. */
  get active(): string[] {
    return [...this.running.keys()]
  }

  /**
   * Start what is due now: each job's fire times since it was last dealt with are found, missed ones
   * skipped or run once as the job says, a due one started (unless it is still running). Returns the runs
   * started (each settles when its run ends).
   */
  tick(): Promise<RunRecord | HistoryLine>[] {
    const now = this.clock.now()
    this.startedAt ??= now
    const started: Promise<RunRecord | HistoryLine>[] = []
    // What another scheduler on this workspace dealt with since counts too (it ran that fire time).
    const saved = readState(this.home)
    for (const job of this.jobs) {
      const cron = cronOf(job)
      const persisted = saved.jobs[job.name]?.lastRun
      const from = Math.max(this.lastRun.get(job.name) ?? this.startedAt - job.graceMs, typeof persisted === 'number' && Number.isFinite(persisted) ? persisted : -Infinity)
      let count = 0
      let first: number | undefined
      let latest: number | undefined
      let before: number | undefined
      for (let t = cron.nextRun(new Date(from)); t !== null && t.getTime() <= now && count < MAX_FIRES; t = cron.nextRun(t)) {
        count++
        first ??= t.getTime()
        before = latest
        latest = t.getTime()
      }
      if (latest === undefined) continue
      const onTime = now - latest <= job.graceMs
      const missed = onTime ? count - 1 : count
      const claim = claimFireTime(this.home, job.name, latest)
      this.lastRun.set(job.name, claim.lastRun ?? latest)
      if (!claim.claimed) continue // another scheduler took it between the read above and now
      if (missed > 0 && (job.missed === 'skip' || onTime)) {
        const span = missed === 1 ? new Date(first!).toISOString() : `${new Date(first!).toISOString()} … ${new Date(onTime ? before! : latest).toISOString()}`
        // Fire times after this scheduler started passed while it ran: a job held its thread past them, or the machine slept.
        const why = first! >= this.startedAt ? 'while the scheduler ran but did not get to them (a job held its thread, or the machine slept)' : 'while the scheduler was not running'
        const reason = `missed ${count >= MAX_FIRES ? `at least ${missed}` : missed} run${missed === 1 ? '' : 's'} ${why} (${span})${onTime ? '' : '; policy skip: next at its next fire time'}`
        this.emit(recordSkip(this.home, job, 'cron', now, reason))
      }
      if (onTime || (missed > 0 && job.missed === 'run-once')) started.push(this.start(job, 'cron'))
    }
    return started
  }

  /** Start every job whose name matches `pattern` (a name, or a glob with *) at once; none matching is an error. */
  runTrigger(pattern: string, trigger: Trigger = 'trigger'): Promise<RunRecord | HistoryLine>[] {
    const jobs = jobsMatching(this.jobs, pattern)
    if (jobs.length === 0) throw new ConfigError(`no job matches ${JSON.stringify(pattern)}; jobs: ${this.jobs.map((j) => j.name).join(', ') || 'none (the jobs file declares none)'}`)
    return jobs.map((job) => this.start(job, trigger))
  }

  /** Resolves when no job is running (runs that triggers start meanwhile included). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()])
  }

  /** Due jobs now, and everything they trigger, then return (`scheduler run --once`). */
  async runOnce(): Promise<(RunRecord | HistoryLine)[]> {
    const records = await Promise.all(this.tick())
    await this.idle()
    return records
  }

  /** Run until stop(): tick at every fire time. Running jobs are waited for before it resolves. */
  async run(): Promise<void> {
    this.stopped = false
    const stop = new Promise<void>((resolve) => (this.stopping = resolve))
    while (!this.stopped) {
      try {
        this.tick()
      } catch (error) {
        // The state file could not be written (a full disk…): said, and tried again at the next wake.
        this.options.log?.(`scheduler: ${errorMessage(error)}`)
      }
      const now = this.clock.now()
      const next = Math.min(...this.jobs.map((j) => this.nextRun(j) ?? Infinity))
      const release = new AbortController()
      await Promise.race([stop, ...(Number.isFinite(next) ? [this.clock.sleep(Math.min(MAX_SLEEP_MS, Math.max(0, next - now)), release.signal)] : [])])
      release.abort()
    }
    await this.idle()
  }

  stop(): void {
    this.stopped = true
    this.stopping?.()
  }

  private start(job: JobSpec, trigger: Trigger): Promise<RunRecord | HistoryLine> {
    const now = this.clock.now()
    const elsewhere = this.running.has(job.name) ? undefined : claimRunning(this.home, job.name, now)
    if (this.running.has(job.name) || elsewhere !== undefined) {
      const where = elsewhere === undefined ? '' : ` (in process ${elsewhere.pid} on ${elsewhere.host} since ${new Date(elsewhere.start).toISOString()})`
      const line = recordSkip(this.home, job, trigger, now, `overlap: the previous run is still going${where}`)
      this.emit(line)
      return Promise.resolve(line)
    }
    const run = runJob(job, trigger, { home: this.home, clock: this.clock, handlers: this.handlers, verb: this.options.verb, load: this.options.load, log: this.options.log })
      .catch((error: unknown): RunRecord => {
        // Only the bookkeeping itself can fail here (the tracker's files); the scheduler carries on.
        this.options.log?.(`scheduler: job ${job.name}: ${errorMessage(error)}`)
        return { job: job.name, time: new Date(now).toISOString(), status: 'failed', ms: this.clock.now() - now, error: errorMessage(error), trigger }
      })
      .then((record) => {
        // A timed-out attempt still going keeps the slot (in this process and across processes) until it ends.
        const free = () => {
          this.running.delete(job.name)
          releaseRunning(this.home, job.name)
        }
        if ((record as RunRecord).ended === undefined) free()
        else {
          const held = (record as RunRecord).ended!.then(free)
          this.running.set(job.name, held.then(() => record))
        }
        this.emit(record)
        for (const name of record.outcome?.triggers ?? []) {
          try {
            this.runTrigger(name, 'trigger')
          } catch (error) {
            // A trigger that starts nothing is on record (the history, the monitoring page), not only in the
            // log: a monitor's retrain or rollback that names no job was dropped without a word (an operations review).
            const why = `fired by job ${job.name}, it starts nothing: ${errorMessage(error)}`
            this.emit(recordSkip(this.options.home, { ...job, name }, 'trigger', this.clock.now(), why))
            this.options.log?.(`scheduler: trigger ${name} ${why}`)
          }
        }
        return record
      })
    this.running.set(job.name, run)
    return run
  }

  private emit(record: RunRecord | HistoryLine): void {
    try {
      this.options.onRecord?.(record)
    } catch {
      /* a listener's failure is not the scheduler's */
    }
  }
}
