// The scheduler's jobs file, <home>/scheduler/jobs.json, read and checked whole before anything runs: a
// malformed cron expression, an unknown time zone or job kind, a duplicate name or arguments a job kind
// cannot take is one ConfigError naming the job and what was expected. Times of day are in the job's time
// zone (default UTC); croner computes the next run, DST included (a time that does not exist that day runs
// an hour later; one that occurs twice runs once, at its first occurrence).
//
// {
//   "jobs": [
//     { "name": "refresh", "cron": "5 0 * * *", "timezone": "Europe/London", "kind": "ingest",
//       "args": { "exchange": "binance", "symbols": ["BTC/USDT"], "timeframe": "1h", "since": "-3d" },
//       "missed": "skip", "retries": 2, "backoffMs": 60000, "timeoutMs": 600000 }
//   ]
// }
//
// Fields: name (1–64 of A-Z a-z 0-9 . _ -, unique), cron (5 fields, or 6 with seconds first), timezone
// (IANA, default UTC), kind (ingest | retrain | reoptimise | monitor | report | pipeline), args (per kind:
// KIND_ARGS in ./args.ts), missed (skip | run-once, default skip), retries (default 0), backoffMs (default
// 1000, doubled per retry), timeoutMs (per attempt, default none), graceMs (default 60000: how late a fire
// may be seen and still be due rather than missed). Unknown fields are refused. A running scheduler reads
// the file when it starts.

import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Cron } from 'croner'
import { ConfigError, readTextFile } from '../core/index.js'
import { checkKindArgs, JOB_KINDS, type JobKind } from './args.js'

export type MissedPolicy = 'skip' | 'run-once'
export type Trigger = 'cron' | 'trigger' | 'manual'

/** One job as declared, defaults filled in. */
export interface JobSpec {
  name: string
  cron: string
  /** IANA time zone the cron expression is read in (default UTC). */
  timezone: string
  kind: JobKind
  args: Record<string, unknown>
  /** Runs missed while the scheduler was down: skip them (default) or run once on start. */
  missed: MissedPolicy
  /** Attempts after the first failed one (default 0). */
  retries: number
  /** Wait before the first retry; each further retry waits twice as long as the one before (default 1000 ms). */
  backoffMs: number
  /** Each attempt's time limit (default none). */
  timeoutMs?: number
  /** A fire time seen later than this after it passed is a missed run, not a due one (default 60000 ms). */
  graceMs: number
}

export interface JobsFile {
  jobs: JobSpec[]
}

const JOB_KEYS = new Set(['name', 'cron', 'timezone', 'kind', 'args', 'missed', 'retries', 'backoffMs', 'timeoutMs', 'graceMs'])
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const MAX_FILE = 1 << 20

export function schedulerDir(home: string): string {
  return join(home, 'scheduler')
}

export function jobsFile(home: string): string {
  return join(schedulerDir(home), 'jobs.json')
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** The cron schedule of a job (paused: it only computes times, never fires by itself). */
export function cronOf(job: Pick<JobSpec, 'cron' | 'timezone'>): Cron {
  return new Cron(job.cron, { timezone: job.timezone, paused: true })
}

/** The job's first fire time strictly after `after` (epoch ms), or undefined when the schedule has none. */
export function nextRun(job: Pick<JobSpec, 'cron' | 'timezone'>, after: number): number | undefined {
  return cronOf(job).nextRun(new Date(after))?.getTime()
}

function whole(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min
}

/** One job checked, defaults filled; `at` names it in errors ("job refresh", "job 3"). */
export function checkJob(raw: unknown, index: number): JobSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`jobs[${index}] must be an object { name, cron, kind, args, … } (received ${JSON.stringify(raw)?.slice(0, 80)})`)
  const r = raw as Record<string, unknown>
  if (typeof r.name !== 'string' || !NAME.test(r.name)) throw new ConfigError(`jobs[${index}]: name must be 1–64 letters, digits, . _ - (received ${JSON.stringify(r.name)?.slice(0, 80)})`)
  const at = `job ${r.name}`
  for (const key of Object.keys(r)) if (!JOB_KEYS.has(key)) throw new ConfigError(`${at}: unknown field ${JSON.stringify(key)}; expected ${[...JOB_KEYS].join(', ')}`)
  if (typeof r.cron !== 'string' || r.cron.trim() === '') throw new ConfigError(`${at}: cron must be a cron expression such as "0 6 * * 1-5" (received ${JSON.stringify(r.cron)})`)
  const timezone = r.timezone ?? 'UTC'
  if (typeof timezone !== 'string' || !isTimeZone(timezone)) throw new ConfigError(`${at}: timezone must be an IANA time zone such as "Europe/London" (received ${JSON.stringify(r.timezone)})`)
  let cron: ReturnType<typeof cronOf>
  try {
    cron = cronOf({ cron: r.cron, timezone })
  } catch (error) {
    throw new ConfigError(`${at}: cron ${JSON.stringify(r.cron)} is not a valid cron expression (${error instanceof Error ? error.message.replace(/^CronPattern: /, '') : String(error)}); expected 5 or 6 fields, e.g. "0 6 * * 1-5"`, { cause: error })
  }
  // A valid expression that names no real time (30 February) would never run.
  if (cron.nextRun(new Date(Date.UTC(2000, 0, 1))) === null) throw new ConfigError(`${at}: cron ${JSON.stringify(r.cron)} never fires (no date matches it); expected a schedule that runs`)
  if (typeof r.kind !== 'string' || !(JOB_KINDS as readonly string[]).includes(r.kind)) throw new ConfigError(`${at}: kind must be one of ${JOB_KINDS.join(', ')} (received ${JSON.stringify(r.kind)})`)
  const args = r.args ?? {}
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new ConfigError(`${at}: args must be an object (received ${JSON.stringify(args)?.slice(0, 80)})`)
  const missed = r.missed ?? 'skip'
  if (missed !== 'skip' && missed !== 'run-once') throw new ConfigError(`${at}: missed must be "skip" or "run-once" (received ${JSON.stringify(r.missed)})`)
  const retries = r.retries ?? 0
  if (!whole(retries, 0) || retries > 100) throw new ConfigError(`${at}: retries must be an integer in [0, 100] (received ${JSON.stringify(r.retries)})`)
  const backoffMs = r.backoffMs ?? 1000
  if (!whole(backoffMs, 0)) throw new ConfigError(`${at}: backoffMs must be an integer ≥ 0 (received ${JSON.stringify(r.backoffMs)})`)
  if (r.timeoutMs !== undefined && !whole(r.timeoutMs, 1)) throw new ConfigError(`${at}: timeoutMs must be an integer ≥ 1 (received ${JSON.stringify(r.timeoutMs)})`)
  const graceMs = r.graceMs ?? 60_000
  if (!whole(graceMs, 0)) throw new ConfigError(`${at}: graceMs must be an integer ≥ 0 (received ${JSON.stringify(r.graceMs)})`)
  const kind = r.kind as JobKind
  checkKindArgs(kind, args as Record<string, unknown>, at)
  return { name: r.name, cron: r.cron, timezone, kind, args: args as Record<string, unknown>, missed, retries, backoffMs, ...(r.timeoutMs === undefined ? {} : { timeoutMs: r.timeoutMs as number }), graceMs }
}

/** A jobs document (already parsed JSON) checked whole. */
export function parseJobs(doc: unknown, what = 'jobs file'): JobsFile {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !Array.isArray((doc as { jobs?: unknown }).jobs)) {
    throw new ConfigError(`${what} must be a JSON object { "jobs": [ … ] }`)
  }
  const extra = Object.keys(doc).filter((k) => k !== 'jobs')
  if (extra.length > 0) throw new ConfigError(`${what}: unknown field ${JSON.stringify(extra[0])}; expected only "jobs"`)
  const jobs = (doc as { jobs: unknown[] }).jobs.map((j, i) => checkJob(j, i))
  const seen = new Set<string>()
  for (const j of jobs) {
    if (seen.has(j.name)) throw new ConfigError(`job ${j.name} is declared twice in ${what}; job names must be unique`)
    seen.add(j.name)
  }
  return { jobs }
}

/** The workspace's jobs file, read and checked (no file: no jobs). */
export function readJobs(home: string, file = jobsFile(home)): JobsFile {
  if (!existsSync(file) && file === jobsFile(home)) return { jobs: [] }
  const text = readTextFile(file, 'jobs file', MAX_FILE)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`jobs file ${file} is not valid JSON (${error instanceof Error ? error.message : String(error)})`, { cause: error })
  }
  return parseJobs(doc, `jobs file ${file}`)
}
