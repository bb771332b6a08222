// What the scheduler keeps in the workspace between runs: <home>/scheduler/state.json (per job, the last
// fire time it dealt with — run or skipped — which is how runs missed while it was down are found on the
// next start; and the last run's end and status) and <home>/scheduler/history.jsonl (one line per run or
// skip: { job, time, status: ok|failed|skipped, ms, error?, runId?, trigger, attempts? }, `time` the run's
// start as ISO 8601 UTC, `ms` its duration by the scheduler's clock). history.jsonl is appended with
// lib/track's appendRecords (one write per line) and read back with readRecords.

import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, readTextFile, withLockSync, writeFileAtomic } from '../core/index.js'
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

/** Change one job's state under the state file's lock (held for this one read-modify-write). */
export function updateJobState(home: string, job: string, change: Partial<JobState>): JobState {
  const file = stateFile(home)
  mkdirSync(schedulerDir(home), { recursive: true })
  return withLockSync(`${file}.lock`, () => {
    const state = readState(home)
    const next = { ...state.jobs[job], ...change }
    state.jobs[job] = next
    writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`)
    return next
  })
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
