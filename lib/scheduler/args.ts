// What each job kind takes as `args`, checked when the jobs file is read (not when the job first runs),
// and how the kinds that run a CLI verb turn them into its argv: camelCase keys become --kebab-case flags,
// lists are joined by commas, `false` becomes --no-<flag>. Times may be relative to the run: "-3d" is
// three days before the job starts ("now", "-90m", "-12h", "-2w" likewise).

import { isAbsolute } from 'node:path'
import { ConfigError, resolveInside } from '../core/index.js'

export const JOB_KINDS = ['ingest', 'retrain', 'reoptimise', 'monitor', 'report', 'pipeline'] as const
export type JobKind = (typeof JOB_KINDS)[number]

type ArgType = 'string' | 'list' | 'number' | 'integer' | 'boolean' | 'time' | 'url' | 'strings' | 'ranges' | 'path'
interface ArgDef {
  type: ArgType
  required?: boolean
}

const TIME_UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const RELATIVE = /^-(\d{1,6})([mhdw])$/

/** The argument table of each kind. */
export const KIND_ARGS: Record<JobKind, Record<string, ArgDef>> = {
  monitor: {
    /** Evaluate these monitors of <home>/monitor/monitors.json only (default all). */
    monitors: { type: 'strings' },
  },
  ingest: {
    exchange: { type: 'string', required: true },
    symbols: { type: 'list', required: true },
    timeframe: { type: 'string', required: true },
    since: { type: 'time', required: true },
    until: { type: 'time' },
    apiUrl: { type: 'url' },
    source: { type: 'string' },
    timeout: { type: 'number' },
  },
  pipeline: {
    symbols: { type: 'list', required: true },
    timeframe: { type: 'string' },
    source: { type: 'string' },
    start: { type: 'time' },
    end: { type: 'time' },
    holdout: { type: 'string' },
    maxPvalue: { type: 'number' },
    minCorr: { type: 'number' },
    window: { type: 'integer' },
    windows: { type: 'list' },
    label: { type: 'string' },
    horizon: { type: 'integer' },
    model: { type: 'string' },
    cv: { type: 'string' },
    folds: { type: 'integer' },
    hyper: { type: 'strings' },
    prefix: { type: 'string' },
    probaThreshold: { type: 'number' },
    guardrails: { type: 'boolean' },
    topK: { type: 'integer' },
    caps: { type: 'path' },
    positions: { type: 'path' },
    outDir: { type: 'path' },
  },
  retrain: {
    /** The registered model name (its `from` alias is refitted). */
    model: { type: 'string', required: true },
    /** The alias refitted (default champion) and the one the new version gets (default challenger). */
    from: { type: 'string' },
    alias: { type: 'string' },
  },
  reoptimise: {
    strategy: { type: 'string', required: true },
    symbol: { type: 'string', required: true },
    timeframe: { type: 'string', required: true },
    source: { type: 'string' },
    /** Trials this run adds to the persistent study (default 20). */
    trials: { type: 'integer' },
    metric: { type: 'string' },
    /** The bars searched: from `start` (e.g. "-365d") to the run's start. */
    start: { type: 'time' },
    seed: { type: 'integer' },
    commission: { type: 'number' },
    cash: { type: 'number' },
    /** The study's name (default reoptimise-<job>); reopening it resumes it. */
    study: { type: 'string' },
    /** The params searched and their ranges, { fast: [5, 50] } (default: every param over its whole range); the others keep the champion's values. */
    search: { type: 'ranges' },
    from: { type: 'string' },
    alias: { type: 'string' },
  },
  report: {
    /** The newest finished run of this experiment (and filter) gets a tearsheet. */
    experiment: { type: 'string', required: true },
    filter: { type: 'string' },
    /** The HTML file, relative to the workspace (default scheduler/reports/<job>.html). */
    out: { type: 'path' },
  },
}

function checkValue(def: ArgDef, value: unknown, at: string, key: string): void {
  const bad = (expected: string) => new ConfigError(`${at}: args.${key} must be ${expected} (received ${JSON.stringify(value)?.slice(0, 80)})`)
  switch (def.type) {
    case 'string':
      if (typeof value !== 'string' || value.trim() === '') throw bad('a non-empty string')
      return
    case 'path':
      // Files a job reads or writes are the workspace's: the jobs file may not reach elsewhere.
      if (typeof value !== 'string' || value.trim() === '' || isAbsolute(value) || value.split(/[\\/]/).includes('..')) throw bad('a path inside the workspace, relative to it, without ..')
      return
    case 'list':
      if (!(typeof value === 'string' && value.trim() !== '') && !(Array.isArray(value) && value.length > 0 && value.every((v) => (typeof v === 'string' && v.trim() !== '' && !v.includes(',')) || typeof v === 'number'))) throw bad('a list (an array of strings, or "A,B")')
      return
    case 'strings':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw bad('an array of strings')
      return
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('a number')
      return
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw bad('an integer ≥ 1')
      return
    case 'boolean':
      if (typeof value !== 'boolean') throw bad('true or false')
      return
    case 'time':
      if (typeof value !== 'string' || (value !== 'now' && !RELATIVE.test(value) && !Number.isFinite(Date.parse(value)))) throw bad('an ISO date/time, "now" or a time before the run such as "-3d" (units m, h, d, w)')
      return
    case 'ranges':
      if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length === 0 || !Object.values(value).every((r) => Array.isArray(r) && r.length === 2 && r.every((x) => typeof x === 'number' && Number.isFinite(x)) && r[0] < r[1])) {
        throw bad('an object of param ranges such as { "fast": [5, 50] } (min < max)')
      }
      return
    case 'url': {
      let ok = false
      try {
        const u = new URL(String(value))
        ok = typeof value === 'string' && (u.protocol === 'http:' || u.protocol === 'https:')
      } catch {
        ok = false
      }
      if (!ok) throw bad('an http(s) URL')
      return
    }
  }
}

/** A kind's args checked against its table: unknown keys, missing required ones and wrong types refused. */
export function checkKindArgs(kind: JobKind, args: Record<string, unknown>, at: string): void {
  const table = KIND_ARGS[kind]
  for (const key of Object.keys(args)) if (!Object.hasOwn(table, key)) throw new ConfigError(`${at}: ${kind} jobs take no args.${key}; they take ${Object.keys(table).join(', ')}`)
  for (const [key, def] of Object.entries(table)) {
    const value = args[key]
    if (value === undefined) {
      if (def.required === true) throw new ConfigError(`${at}: ${kind} jobs need args.${key}`)
      continue
    }
    checkValue(def, value, at, key)
  }
  if (kind === 'reoptimise' && args.metric !== undefined && !['sharpe', 'sortino', 'calmar', 'totalReturn', 'cagr'].includes(args.metric as string)) {
    throw new ConfigError(`${at}: args.metric must be one of sharpe, sortino, calmar, totalReturn, cagr (received ${JSON.stringify(args.metric)})`)
  }
  if (kind === 'reoptimise' && typeof args.strategy === 'string' && args.strategy.includes('@')) {
    throw new ConfigError(`${at}: args.strategy is a strategy name without @ (received ${JSON.stringify(args.strategy)}); the version reoptimised is args.from (default champion)`)
  }
  if ((kind === 'retrain' || kind === 'reoptimise') && typeof args.model === 'string' && args.model.includes('@')) {
    throw new ConfigError(`${at}: args.model is a model name without @ (received ${JSON.stringify(args.model)}); the alias refitted is args.from (default champion)`)
  }
}

/** A time argument at run time `now`: ISO text kept as it is, "-3d" and "now" made ISO. */
export function resolveTime(value: string, now: number): string {
  if (value === 'now') return new Date(now).toISOString()
  const m = RELATIVE.exec(value)
  return m === null ? value : new Date(now - Number(m[1]) * TIME_UNITS[m[2]!]!).toISOString()
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** The CLI flags of a verb kind's args, times resolved at `now`. */
export function verbFlags(kind: 'ingest' | 'pipeline', args: Record<string, unknown>, now: number, home = ''): string[] {
  const table = KIND_ARGS[kind]
  const out: string[] = []
  for (const [key, def] of Object.entries(table)) {
    const value = args[key]
    if (value === undefined) continue
    const flag = `--${kebab(key)}`
    // The verbs' booleans are on by default (--no-guardrails): true is their default, false turns them off.
    if (def.type === 'boolean') out.push(...(value === true ? [] : [`--no-${kebab(key)}`]))
    else if (def.type === 'list') out.push(flag, Array.isArray(value) ? value.join(',') : String(value))
    else if (def.type === 'strings') for (const v of value as string[]) out.push(flag, v)
    else if (def.type === 'time') out.push(flag, resolveTime(value as string, now))
    // The verb resolves a relative path against its working directory: given inside the workspace instead.
    else if (def.type === 'path') out.push(flag, resolveInside(home, value as string, `args.${key}`))
    else out.push(flag, String(value))
  }
  return out
}
