// What the scheduler keeps in the workspace between runs: <home>/scheduler/state.json (per job, the last
// fire time it dealt with — run or skipped — which is how runs missed while it was down are found on the
// next start; and the last run's end and status) and <home>/scheduler/history.jsonl (one line per run or
// skip: { job, time, status: ok|failed|skipped, ms, error?, runId?, trigger, attempts? }, `time` the run's
// start as ISO 8601 UTC, `ms` its duration by the scheduler's clock). history.jsonl is appended with
// lib/track's appendRecords (one write per line) and read back with readRecords. A job running now has a
// marker, <home>/scheduler/running/<job>.json ({ pid, host, start }), so that a `scheduler trigger` in one
// process and `scheduler run` in another do not run the same job at once; a marker of a process that is
// gone (on this host) is stale and taken over.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { ConfigError, pidAlive, processStartTime, readTextFile, withLockSync, writeFileAtomic } from '../core/index.js'
import { appendRecords, readRecords } from '../track/index.js'
import { schedulerDir, type Trigger } from './jobs.js'

export interface JobState {
  /** The last fire time (epoch ms) dealt with: run, skipped as an overlap, or skipped as missed. */
  lastRun?: number
  /** When the last run ended (epoch ms), and how. */
  lastEnd?: number
  lastStatus?: HistoryStatus
}

export interface SchedulerState {
  jobs: Record<string, JobState>
}

export type HistoryStatus = 'ok' | 'failed' | 'skipped'

export interface HistoryLine {
  job: string
  /** The start (ISO 8601 UTC). */
  time: string
  status: HistoryStatus
  ms: number
  error?: string
  /** The tracked run (experiment "scheduler"); a skip has none. */
  runId?: string
  trigger: Trigger
  attempts?: number
}

export const stateFile = (home: string) => join(schedulerDir(home), 'state.json')
export const historyFile = (home: string) => join(schedulerDir(home), 'history.jsonl')

export function readState(home: string): SchedulerState {
  const file = stateFile(home)
  if (!existsSync(file)) return { jobs: {} }
  const text = readTextFile(file, 'scheduler state', 16 << 20)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`scheduler state ${file} is not valid JSON; move it aside to start afresh (every job then counts from now)`, { cause: error })
  }
  const jobs = (doc as { jobs?: unknown } | null)?.jobs
  if (typeof jobs !== 'object' || jobs === null || Array.isArray(jobs)) throw new ConfigError(`scheduler state ${file} must be { "jobs": { NAME: { lastRun, … } } }`)
  return { jobs: jobs as Record<string, JobState> }
}

/**
 * Change one job's state under the state file's lock (held for this one read-modify-write). `change` may be a
 * function of the state found there; undefined from it writes nothing.
 */
export function updateJobState(home: string, job: string, change: Partial<JobState> | ((current: JobState | undefined) => Partial<JobState> | undefined)): JobState | undefined {
  const file = stateFile(home)
  mkdirSync(schedulerDir(home), { recursive: true })
  return withLockSync(`${file}.lock`, () => {
    const state = readState(home)
    const current = state.jobs[job]
    const wanted = typeof change === 'function' ? change(current) : change
    if (wanted === undefined) return current
    const next = { ...current, ...wanted }
    state.jobs[job] = next
    writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`)
    return next
  })
}

/**
 * Move the job's lastRun to `time` unless the state already holds it or a later one (another scheduler on the
 * workspace dealt with that fire time): claimed when this caller moved it.
 */
export function claimFireTime(home: string, job: string, time: number): { claimed: boolean; lastRun?: number } {
  let claimed = false
  const state = updateJobState(home, job, (current) => {
    const prev = current?.lastRun
    if (typeof prev === 'number' && prev >= time) return undefined
    claimed = true
    return { lastRun: time }
  })
  return { claimed, ...(state?.lastRun === undefined ? {} : { lastRun: state.lastRun }) }
}

export function appendHistory(home: string, line: HistoryLine): void {
  appendRecords(historyFile(home), [line])
}

/** The history, oldest first (`job`: that job's lines only; `last`: the last N). */
export function readHistory(home: string, options: { job?: string; last?: number } = {}): HistoryLine[] {
  let lines = readRecords<HistoryLine>(historyFile(home)).records.filter((l) => typeof l === 'object' && l !== null && typeof (l as HistoryLine).job === 'string')
  if (options.job !== undefined) lines = lines.filter((l) => l.job === options.job)
  return options.last === undefined ? lines : lines.slice(-options.last)
}

export interface RunningMarker {
  pid: number
  host: string
  /** The process's start time (/proc/<pid>/stat field 22): a pid reused by another process is not this one. */
  procStart?: string
  /** When the run started (epoch ms, the scheduler's clock). */
  start: number
}

const markerFile = (home: string, job: string) => join(schedulerDir(home), 'running', `${job}.json`)

/**
 * Mark `job` as running in this process: undefined when the mark is ours, else the live holder's marker
 * (another process runs the job now). A marker of a process gone from this host is removed and taken over;
 * one from another host is believed.
 */
export function claimRunning(home: string, job: string, start: number): RunningMarker | undefined {
  const file = markerFile(home, job)
  mkdirSync(join(schedulerDir(home), 'running'), { recursive: true })
  const procStart = processStartTime(process.pid)
  const mine: RunningMarker = { pid: process.pid, host: hostname(), start, ...(procStart === undefined ? {} : { procStart }) }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644)
      try {
        writeSync(fd, JSON.stringify(mine))
      } finally {
        closeSync(fd)
      }
      return undefined
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error
    }
    let held: RunningMarker | undefined
    try {
      held = JSON.parse(readFileSync(file, 'utf8')) as RunningMarker
    } catch {
      held = undefined // half-written by a process that died between open and write, or removed meanwhile
    }
    // Stale: unreadable, or from this host with its process gone — or the pid now another process's (a
    // restarted container's pid 1): the process start time the marker recorded is not that pid's now.
    const stale =
      held === undefined ||
      typeof held.pid !== 'number' ||
      (held.host === mine.host && (!pidAlive(held.pid) || (held.procStart !== undefined && processStartTime(held.pid) !== held.procStart)))
    if (!stale) return held
    rmSync(file, { force: true })
  }
  throw new ConfigError(`job ${job}: could not mark it as running (${file} keeps coming back)`)
}

export function releaseRunning(home: string, job: string): void {
  const file = markerFile(home, job)
  try {
    const held = JSON.parse(readFileSync(file, 'utf8')) as RunningMarker
    if (held.pid === process.pid && held.host === hostname()) rmSync(file, { force: true })
  } catch {
    /* already gone */
  }
}
