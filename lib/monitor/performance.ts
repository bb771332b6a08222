// Performance monitors. Served models: the predictions log (written by the model server) matched to labels
// that arrive later, scored per version and role over time windows (RMSE, directional accuracy, accuracy,
// ROC AUC) with a moving average over the last few windows. Deployments: live Sharpe, drawdown and tracking
// error against the backtest replay, from the portfolio dashboard's snapshot (lib/report) — not recomputed.
//
// Files (UTC days; one JSON object a line; lines that do not parse are skipped and counted):
//   <home>/monitor/predictions/<model>/<YYYY-MM-DD>.jsonl
//     { time (epoch ms), requestId, model, version, role: champion|challenger|shadow|a|b,
//       row: number (the row's index in its request) | { feature: value } (the row itself), key?,
//       prediction: number, probability?: number }
//     When `row` is the row itself, its index is its position among the records of the same request,
//     version and role, in file order (the server writes a request's rows in order).
//   <home>/monitor/labels/<model>/*.jsonl
//     { requestId, row?: number (default 0), label: number, time }   matches that request's row, every version and role
//     { key, time, label }   matches, per version and role, the prediction with that key nearest to `time`
//                            within ± toleranceMs (default 60 s): `time` is when the labelled prediction was made.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../core/index.js'
import { observedPeriodsPerYear } from '../backtest/index.js'
import { accuracy, directionalAccuracy, rmse, rocAuc } from '../ml/index.js'
import { deploymentSnapshot, maxDrawdown, trackingError, type SnapshotOptions } from '../report/portfolio-dashboard.js'
import { returnsOf, sharpe } from '../stats/index.js'

export const DAY_MS = 86_400_000
const ROLES = new Set(['champion', 'challenger', 'shadow', 'a', 'b'])
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

export interface PredictionRow {
  time: number
  requestId: string
  version: number
  role: string
  /** The row's index in its request. */
  index: number
  key?: string
  prediction: number
  probability?: number
  /** The row's features, when the log holds them. */
  features?: Record<string, number | null>
}

export interface LabelRow {
  requestId?: string
  row?: number
  key?: string
  time: number
  label: number
}

export interface MatchedRow extends PredictionRow {
  label: number
}

export type Task = 'regression' | 'classification'

export interface PerformanceWindow {
  /** Window start and end (epoch ms; end exclusive). */
  start: number
  end: number
  version: number
  role: string
  count: number
  /** Regressors. */
  rmse?: number
  /** Regressors: sign agreement (lib/ml directionalAccuracy); classifiers of direction (0/1): the share of right classes. */
  directionalAccuracy?: number
  /** Classifiers with a probability and both classes among the labels. */
  auc?: number
  accuracy?: number
  /** Each metric's mean over this window and the windows before it within `maWindows` (windows without data left out). */
  ma: { rmse?: number; directionalAccuracy?: number; auc?: number; accuracy?: number }
}

export interface ModelPerformance {
  model: string
  task: Task
  predictions: number
  labels: number
  matched: number
  /** Lines that did not parse or lacked a field, in either log. */
  skippedLines: number
  windows: PerformanceWindow[]
}

export interface PerformanceOptions {
  /** Predictions made in [since, until) (epoch ms); default: all. */
  since?: number
  until?: number
  version?: number
  role?: string
  /** Window length (default one UTC day). */
  windowMs?: number
  /** Windows in the moving average (default 3: with daily windows, the 3-day moving average). */
  maWindows?: number
  /** Default: classification when every matched prediction has a probability and every label is 0 or 1. */
  task?: Task
  toleranceMs?: number
}

/** The model's logged predictions made in [since, until). */
export function readPredictions(home: string, model: string, options: { since?: number; until?: number } = {}): { rows: PredictionRow[]; skipped: number } {
  const dir = join(home, 'monitor', 'predictions', checkName(model))
  const since = options.since ?? -Infinity
  const until = options.until ?? Infinity
  const rows: PredictionRow[] = []
  let skipped = 0
  const ordinal = new Map<string, number>()
  for (const file of jsonlFiles(dir)) {
    const day = Date.parse(`${file.slice(0, 10)}T00:00:00Z`)
    if (!/^\d{4}-\d{2}-\d{2}\.jsonl$/.test(file) || !(day + DAY_MS > since && day < until)) continue
    for (const value of parseLines(join(dir, file), () => skipped++)) {
      const r = value as Record<string, unknown>
      const position = `${String(r.requestId)}\0${String(r.version)}\0${String(r.role)}`
      const nth = ordinal.get(position) ?? 0
      ordinal.set(position, nth + 1)
      if (!(isTime(r.time) && typeof r.requestId === 'string' && Number.isInteger(r.version) && typeof r.role === 'string' && ROLES.has(r.role) && isNumber(r.prediction))) {
        skipped++
        continue
      }
      if (r.time < since || r.time >= until) continue
      const row: PredictionRow = { time: r.time, requestId: r.requestId, version: r.version as number, role: r.role, index: Number.isInteger(r.row) && (r.row as number) >= 0 ? (r.row as number) : nth, prediction: r.prediction }
      if (typeof r.key === 'string') row.key = r.key
      if (isNumber(r.probability)) row.probability = r.probability
      if (r.row !== null && typeof r.row === 'object' && !Array.isArray(r.row)) row.features = r.row as Record<string, number | null>
      rows.push(row)
    }
  }
  rows.sort((a, b) => a.time - b.time)
  return { rows, skipped }
}

/** Every label the model has received. */
export function readLabels(home: string, model: string): { rows: LabelRow[]; skipped: number } {
  const dir = join(home, 'monitor', 'labels', checkName(model))
  const rows: LabelRow[] = []
  let skipped = 0
  for (const file of jsonlFiles(dir)) {
    for (const value of parseLines(join(dir, file), () => skipped++)) {
      const r = value as Record<string, unknown>
      const byRequest = typeof r.requestId === 'string' && (r.row === undefined || (Number.isInteger(r.row) && (r.row as number) >= 0))
      const byKey = typeof r.key === 'string' && r.requestId === undefined
      if (!(isNumber(r.label) && isTime(r.time) && (byRequest || byKey))) {
        skipped++
        continue
      }
      rows.push(byRequest ? { requestId: r.requestId as string, row: (r.row as number | undefined) ?? 0, time: r.time, label: r.label } : { key: r.key as string, time: r.time, label: r.label })
    }
  }
  return { rows, skipped }
}

/** Predictions with their labels (the matching described at the top of this file); unlabelled ones are left out. */
export function matchLabels(predictions: readonly PredictionRow[], labels: readonly LabelRow[], options: { toleranceMs?: number } = {}): MatchedRow[] {
  const tolerance = options.toleranceMs ?? 60_000
  const byRequest = new Map<string, number>()
  const byKey = new Map<string, { time: number; label: number }[]>()
  for (const l of labels) {
    if (l.requestId !== undefined) byRequest.set(`${l.requestId}\0${l.row ?? 0}`, l.label)
    else if (l.key !== undefined) {
      let list = byKey.get(l.key)
      if (list === undefined) byKey.set(l.key, (list = []))
      list.push({ time: l.time, label: l.label })
    }
  }
  for (const list of byKey.values()) list.sort((a, b) => a.time - b.time)
  const out: MatchedRow[] = []
  // Key labels, one to one per (version, role): the closest (label, prediction) pairs first, each label and
  // each prediction used once — a prediction between two labels goes to the nearer, the other label to its own.
  const candidates: { slot: string; row: PredictionRow; gap: number; label: number; labelTime: number }[] = []
  for (const p of predictions) {
    const direct = byRequest.get(`${p.requestId}\0${p.index}`)
    if (direct !== undefined) {
      out.push({ ...p, label: direct })
      continue
    }
    const list = p.key === undefined ? undefined : byKey.get(p.key)
    if (list === undefined) continue
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (list[mid]!.time < p.time) lo = mid + 1
      else hi = mid
    }
    for (const i of [lo - 1, lo]) {
      const l = list[i]
      if (l === undefined) continue
      const gap = Math.abs(l.time - p.time)
      if (gap > tolerance) continue
      candidates.push({ slot: `${p.key}\0${i}\0${p.version}\0${p.role}`, row: p, gap, label: l.label, labelTime: l.time })
    }
  }
  candidates.sort((a, b) => a.gap - b.gap || a.labelTime - b.labelTime || a.row.time - b.row.time)
  const usedLabels = new Set<string>()
  const usedRows = new Set<PredictionRow>()
  for (const c of candidates) {
    if (usedLabels.has(c.slot) || usedRows.has(c.row)) continue
    usedLabels.add(c.slot)
    usedRows.add(c.row)
    out.push({ ...c.row, label: c.label })
  }
  return out.sort((a, b) => a.time - b.time || a.requestId.localeCompare(b.requestId) || a.index - b.index)
}

/** Metrics per (version, role) and window, with their moving averages. */
export function performanceWindows(matched: readonly MatchedRow[], options: { windowMs?: number; maWindows?: number; task?: Task } = {}): PerformanceWindow[] {
  const windowMs = options.windowMs ?? DAY_MS
  const maWindows = options.maWindows ?? 3
  if (!(Number.isFinite(windowMs) && windowMs > 0)) throw new ConfigError(`windowMs must be a positive number of milliseconds (received ${windowMs})`)
  if (!(Number.isInteger(maWindows) && maWindows >= 1)) throw new ConfigError(`maWindows must be an integer ≥ 1 (received ${maWindows})`)
  const task = options.task ?? inferTask(matched)
  const groups = new Map<string, MatchedRow[]>()
  for (const m of matched) {
    const k = `${m.version}\0${m.role}\0${Math.floor(m.time / windowMs)}`
    let list = groups.get(k)
    if (list === undefined) groups.set(k, (list = []))
    list.push(m)
  }
  const windows: PerformanceWindow[] = []
  for (const rows of groups.values()) {
    const start = Math.floor(rows[0]!.time / windowMs) * windowMs
    const w: PerformanceWindow = { start, end: start + windowMs, version: rows[0]!.version, role: rows[0]!.role, count: rows.length, ma: {} }
    const y = rows.map((r) => r.label)
    const p = rows.map((r) => r.prediction)
    if (task === 'regression') {
      w.rmse = rmse(y, p)
      const da = directionalAccuracy(y, p)
      if (Number.isFinite(da)) w.directionalAccuracy = da
    } else {
      if (y.every((v) => v === 0 || v === 1) && p.every((v) => v === 0 || v === 1)) w.accuracy = w.directionalAccuracy = accuracy(y, p)
      const prob = rows.map((r) => r.probability ?? NaN)
      if (prob.every((v) => Number.isFinite(v)) && y.some((v) => v === 1) && y.some((v) => v === 0) && y.every((v) => v === 0 || v === 1)) w.auc = rocAuc(y, prob)
    }
    windows.push(w)
  }
  windows.sort((a, b) => a.version - b.version || a.role.localeCompare(b.role) || a.start - b.start)
  // Moving averages within each (version, role): windows starting within the last maWindows window lengths.
  for (const w of windows) {
    const span = windows.filter((o) => o.version === w.version && o.role === w.role && o.start <= w.start && o.start > w.start - maWindows * windowMs)
    for (const metric of ['rmse', 'directionalAccuracy', 'auc', 'accuracy'] as const) {
      const values = span.map((o) => o[metric]).filter((v): v is number => v !== undefined)
      if (values.length > 0) w.ma[metric] = values.reduce((a, b) => a + b, 0) / values.length
    }
  }
  return windows
}

/** The model's served performance: its logs read, matched and scored. */
export function modelPerformance(home: string, model: string, options: PerformanceOptions = {}): ModelPerformance {
  const predictions = readPredictions(home, model, { ...(options.since === undefined ? {} : { since: options.since }), ...(options.until === undefined ? {} : { until: options.until }) })
  const rows = predictions.rows.filter((r) => (options.version === undefined || r.version === options.version) && (options.role === undefined || r.role === options.role))
  const labels = readLabels(home, model)
  const matched = matchLabels(rows, labels.rows, { ...(options.toleranceMs === undefined ? {} : { toleranceMs: options.toleranceMs }) })
  const task = options.task ?? inferTask(matched)
  return {
    model,
    task,
    predictions: rows.length,
    labels: labels.rows.length,
    matched: matched.length,
    skippedLines: predictions.skipped + labels.skipped,
    windows: performanceWindows(matched, { task, ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }), ...(options.maWindows === undefined ? {} : { maWindows: options.maWindows }) }),
  }
}

function inferTask(matched: readonly MatchedRow[]): Task {
  return matched.length > 0 && matched.every((m) => m.probability !== undefined && (m.label === 0 || m.label === 1)) ? 'classification' : 'regression'
}

// ---------------------------------------------------------------------------------------------------
// Deployments.

export interface EquityPerformance {
  /** Annualised by the points per year the equity's times span (lib/backtest observedPeriodsPerYear). */
  sharpe: number
  /** Largest fall from a running peak, a fraction (lib/report maxDrawdown). */
  drawdown: number
  /** Against the backtest replay over the same bars (lib/report trackingError); absent without a replay. */
  trackingError?: number
  points: number
}

/** Sharpe, drawdown and tracking error of an equity curve (and its replay), with the dashboard's kernels. */
export function equityPerformance(time: ArrayLike<number>, equity: ArrayLike<number>, replay?: ArrayLike<number>): EquityPerformance {
  const points = equity.length
  // No drawdown without two points: NaN, which a monitor reports as no-data (a deployment restarted
  // before its next bar has none; 0 told a drawdown monitor all was well).
  const out: EquityPerformance = { sharpe: NaN, drawdown: points >= 2 ? maxDrawdown(equity) : NaN, points }
  if (points >= 3) out.sharpe = sharpe(returnsOf(equity), { periodsPerYear: observedPeriodsPerYear(time) })
  if (replay !== undefined && points >= 3) out.trackingError = trackingError(time, equity, replay)
  return out
}

/** A deployment's live performance, from its dashboard snapshot (equity derived from its journal and the lake). */
export async function deploymentPerformance(home: string, name: string, options: Pick<SnapshotOptions, 'replay' | 'load' | 'cache'> = {}): Promise<EquityPerformance & { name: string; notes: string[]; replayError?: string }> {
  const s = await deploymentSnapshot(home, name, options)
  const perf = equityPerformance(s.time, s.equity)
  if (s.replay !== undefined) perf.trackingError = s.replay.trackingError
  return { name, ...perf, notes: s.notes, ...(s.replayError === undefined ? {} : { replayError: s.replayError }) }
}

// ---------------------------------------------------------------------------------------------------

function checkName(model: string): string {
  if (typeof model !== 'string' || !NAME.test(model)) throw new ConfigError(`model name must be letters, digits, ".", "_" or "-" (received ${JSON.stringify(String(model).slice(0, 64))})`)
  return model
}

function jsonlFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort()
}

function* parseLines(file: string, skip: () => void): Generator<unknown> {
  const text = readFileSync(file, 'utf8')
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      skip()
      continue
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      skip()
      continue
    }
    yield value
  }
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0
}
