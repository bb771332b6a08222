// Monitor rules: a workspace file declares monitors on served models (drift of their inputs and
// predictions, RMSE rising, directional accuracy or AUC falling) and on deployments (drawdown, Sharpe,
// tracking error); evaluateMonitors computes each, records it in <home>/monitor/state.jsonl and reports the
// triggers (job names, for the scheduler) and alert texts (for lib/monitor/alerts.ts) that fired.
//
// <home>/monitor/monitors.json:
//   { "monitors": [
//     { "name": "btc-drift", "kind": "drift", "target": "btc-ret@champion",
//       "reference": "monitor/reference/btc-train.parquet",   // a .csv or .parquet inside the workspace
//       "columns"?: ["ret_1", "rsi_14", "prediction", "label"], // default: the model's inputs the reference has;
//                                                              // label: the labels matched so far (none yet: skipped)
//       "window"?: "1d", "method"?: "psi", "threshold"?: 0.1, "share"?: 0.5 },   // breached: dataset drift
//     { "name": "btc-rmse", "kind": "rmseRise", "target": "btc-ret@champion", "rise": 0.2,
//       "maDays"?: 3, "referenceDays"?: 7 | "reference": "training" },         // 3-day MA of RMSE ≥ 1.2 × reference
//     { "name": "btc-da", "kind": "directionalAccuracy", "target": "btc-ret@champion", "min": 0.55, "maDays"?: 3 },
//     { "name": "clf-auc", "kind": "auc", "target": "clf@champion", "min": 0.55, "maDays"?: 3 },
//     { "name": "paper-dd", "kind": "drawdown", "target": "btc-paper", "max": 0.1 },
//     { "name": "paper-sharpe", "kind": "sharpe", "target": "btc-paper", "min": 0 },
//     { "name": "paper-te", "kind": "trackingError", "target": "btc-paper", "max": 0.05 } ] }
//   Every monitor may add "trigger": ["retrain-btc", "rollback"], "alert": true, "role": "champion" (model
//   monitors: that role's predictions only; default every role of the target's version) and "repeat": true.
// Triggers and alerts fire when a monitor goes from not breached (or never evaluated) to breached — an
// evaluation that measured nothing (error, no-data) is neither side of that edge; with
// "repeat": true, at every breached evaluation. Days are UTC days; the current day is the one holding `now`.

import { existsSync, realpathSync } from 'node:fs'
import { join, sep } from 'node:path'
import { ConfigError, errorMessage, isoTime, NotFoundError, preview, readTextFile, resolveInside } from '../core/index.js'
import { loadPackage, type ModelPackage } from '../ml/index.js'
import { Registry } from '../track/index.js'
import { appendRecords, readRecords } from '../track/jsonl.js'
import { datasetDrift, readDriftTable, type DriftMethod, DRIFT_METHODS, type DriftTable } from './drift.js'
import { DAY_MS, deploymentPerformance, matchLabels, performanceWindows, readLabels, readPredictions, type EquityPerformance, type MatchedRow } from './performance.js'

export const MONITOR_KINDS = ['drift', 'rmseRise', 'directionalAccuracy', 'auc', 'drawdown', 'sharpe', 'trackingError'] as const
export type MonitorKind = (typeof MONITOR_KINDS)[number]
const MODEL_KINDS: ReadonlySet<MonitorKind> = new Set(['drift', 'rmseRise', 'directionalAccuracy', 'auc'])

export interface MonitorConfig {
  name: string
  kind: MonitorKind
  target: string
  trigger: string[]
  alert: boolean
  repeat: boolean
  role?: string
  // drift
  reference?: string
  columns?: string[]
  window?: string
  method?: DriftMethod
  threshold?: number
  share?: number
  // rmseRise, directionalAccuracy, auc
  rise?: number
  min?: number
  max?: number
  maDays?: number
  referenceDays?: number
  referenceTraining?: boolean
}

export interface MonitorResult {
  monitor: string
  kind: MonitorKind
  target: string
  /** The model version the target resolved to. */
  version?: number
  time: number
  /** null when there was nothing to measure (no labelled predictions in the window, say). */
  value: number | null
  threshold: number
  breached: boolean
  status: 'ok' | 'breached' | 'no-data' | 'error'
  error?: string
  /** Triggers fired by this evaluation. */
  fired: string[]
  alerted: boolean
  evidence: Record<string, unknown>
  /** Evaluated by hand (nothing delivered): not the "before" of the next evaluation's edge. */
  manual?: true
}

export interface Evaluation {
  time: number
  results: MonitorResult[]
  /** Job names to start (deduplicated), for the scheduler. */
  firedTriggers: string[]
  /** One line per alert, for lib/monitor/alerts.ts. */
  alerts: string[]
}

export interface EvaluateOptions {
  now: number
  /** Evaluate these monitors only. */
  monitors?: readonly string[]
  /** How a deployment's performance is measured (default deploymentPerformance, with the replay for trackingError). */
  deployment?: (home: string, name: string, options: { replay: boolean }) => Promise<EquityPerformance>
  /**
   * An evaluation whose caller delivers nothing (mtflow monitor status --evaluate): recorded with `manual`, its
   * fired and alerted say what a delivering one would do, and a breach it sees first is still new to the next
   * delivering evaluation (the scheduler's monitor job), which sends the alert and starts the triggers.
   */
  manual?: boolean
  /**
   * Leave the evaluation unrecorded (the caller records it with recordEvaluation once it has delivered its
   * alerts and triggers): an evaluation recorded before delivery and a job failing (or killed) after it made
   * the breach "already delivered" to every later evaluation — its triggers and alert were never sent.
   */
  defer?: boolean
}

export function monitorsFile(home: string): string {
  return join(home, 'monitor', 'monitors.json')
}

export function monitorStateFile(home: string): string {
  return join(home, 'monitor', 'state.jsonl')
}

/** The monitors declared in <home>/monitor/monitors.json (none when it is absent), checked whole. */
export function loadMonitors(home: string): MonitorConfig[] {
  const file = monitorsFile(home)
  if (!existsSync(file)) return []
  let raw: unknown
  try {
    raw = JSON.parse(readTextFile(file, 'monitors file', 4 * 2 ** 20))
  } catch (error) {
    if (error instanceof SyntaxError) throw new ConfigError(`monitors file ${file} is not valid JSON (${error.message})`)
    throw error
  }
  return checkMonitors(raw, file)
}

/** The monitors of a parsed monitors file; the first problem is one ConfigError naming the monitor and field. */
export function checkMonitors(raw: unknown, where = 'monitors file'): MonitorConfig[] {
  if (raw === null || typeof raw !== 'object' || !Array.isArray((raw as { monitors?: unknown }).monitors)) throw new ConfigError(`${where} must be an object with a "monitors" array`)
  const list = (raw as { monitors: unknown[] }).monitors
  if (list.length > 1000) throw new ConfigError(`${where} declares ${list.length} monitors; at most 1000`)
  const names = new Set<string>()
  return list.map((m, i) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new ConfigError(`${where}: monitor ${i + 1} must be an object (received ${preview(m, 60)})`)
    const o = m as Record<string, unknown>
    const name = o.name
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new ConfigError(`${where}: monitor ${i + 1} needs a "name" of letters, digits, ".", "_" or "-" (received ${preview(name, 60)})`)
    if (names.has(name)) throw new ConfigError(`${where}: two monitors are named ${name}`)
    names.add(name)
    const at = `${where}: monitor ${name}`
    const kind = o.kind as MonitorKind
    if (!MONITOR_KINDS.includes(kind)) throw new ConfigError(`${at}: kind must be one of ${MONITOR_KINDS.join(', ')} (received ${preview(o.kind, 40)})`)
    const known = new Set(['name', 'kind', 'target', 'trigger', 'alert', 'repeat', 'role', ...KIND_FIELDS[kind]])
    for (const k of Object.keys(o)) if (!known.has(k)) throw new ConfigError(`${at}: unknown field ${JSON.stringify(k.slice(0, 40))} for a ${kind} monitor (fields: ${[...known].join(', ')})`)
    const target = o.target
    if (typeof target !== 'string' || (MODEL_KINDS.has(kind) ? !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}@[A-Za-z0-9._-]{1,64}$/.test(target) : !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(target))) {
      throw new ConfigError(`${at}: target must be ${MODEL_KINDS.has(kind) ? 'a model as NAME@ALIAS (or NAME@VERSION)' : 'a deployment name'} (received ${preview(target, 60)})`)
    }
    const trigger = o.trigger === undefined ? [] : o.trigger
    if (!Array.isArray(trigger) || trigger.some((t) => typeof t !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(t))) throw new ConfigError(`${at}: trigger must be a list of job names (received ${preview(o.trigger, 60)})`)
    for (const flag of ['alert', 'repeat'] as const) if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw new ConfigError(`${at}: ${flag} must be true or false (received ${preview(o[flag], 40)})`)
    if (o.role !== undefined && !['champion', 'challenger', 'shadow', 'a', 'b'].includes(o.role as string)) throw new ConfigError(`${at}: role must be champion, challenger, shadow, a or b (received ${preview(o.role, 40)})`)
    const c: MonitorConfig = { name, kind, target, trigger: trigger as string[], alert: o.alert === true, repeat: o.repeat === true, ...(o.role === undefined ? {} : { role: o.role as string }) }
    const num = (k: string, check: (v: number) => boolean, expected: string, required = false): number | undefined => {
      const v = o[k]
      if (v === undefined) {
        if (required) throw new ConfigError(`${at}: a ${kind} monitor needs "${k}" (${expected})`)
        return undefined
      }
      if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw new ConfigError(`${at}: ${k} must be ${expected} (received ${preview(v, 40)})`)
      return v
    }
    const days = (k: string) => num(k, (v) => Number.isInteger(v) && v >= 1 && v <= 366, 'a whole number of days from 1 to 366')
    switch (kind) {
      case 'drift': {
        if (typeof o.reference !== 'string') throw new ConfigError(`${at}: a drift monitor needs "reference", a .csv or .parquet file inside the workspace`)
        c.reference = o.reference
        if (o.columns !== undefined) {
          if (!Array.isArray(o.columns) || o.columns.length === 0 || o.columns.some((x) => typeof x !== 'string' || x === '')) throw new ConfigError(`${at}: columns must be a non-empty list of column names (received ${preview(o.columns, 60)})`)
          c.columns = o.columns as string[]
        }
        if (o.window !== undefined) {
          durationMs(o.window, `${at}: window`)
          c.window = o.window as string
        }
        if (o.method !== undefined) {
          if (!DRIFT_METHODS.includes(o.method as DriftMethod)) throw new ConfigError(`${at}: method must be one of ${DRIFT_METHODS.join(', ')} (received ${preview(o.method, 40)})`)
          c.method = o.method as DriftMethod
        }
        const threshold = num('threshold', (v) => v > 0, 'a number > 0')
        const share = num('share', (v) => v > 0 && v <= 1, 'a share in (0, 1]')
        if (threshold !== undefined) c.threshold = threshold
        if (share !== undefined) c.share = share
        break
      }
      case 'rmseRise': {
        c.rise = num('rise', (v) => v > 0, 'a fraction > 0 (0.2 = up 20 %)', true)
        c.maDays = days('maDays') ?? 3
        if (o.reference !== undefined && o.reference !== 'training') throw new ConfigError(`${at}: reference may only be "training" (the model's cross-validated RMSE); otherwise referenceDays before the moving average`)
        if (o.reference === 'training' && o.referenceDays !== undefined) throw new ConfigError(`${at}: give reference "training" or referenceDays, not both`)
        c.referenceTraining = o.reference === 'training'
        c.referenceDays = days('referenceDays') ?? 7
        break
      }
      case 'directionalAccuracy':
      case 'auc':
        c.min = num('min', (v) => v >= 0 && v <= 1, 'a number from 0 to 1', true)
        c.maDays = days('maDays') ?? 3
        break
      case 'drawdown':
      case 'trackingError':
        c.max = num('max', (v) => v >= 0, 'a number ≥ 0', true)
        break
      case 'sharpe':
        c.min = num('min', () => true, 'a number', true)
        break
    }
    return c
  })
}

const KIND_FIELDS: Record<MonitorKind, string[]> = {
  drift: ['reference', 'columns', 'window', 'method', 'threshold', 'share'],
  rmseRise: ['rise', 'maDays', 'referenceDays', 'reference'],
  directionalAccuracy: ['min', 'maDays'],
  auc: ['min', 'maDays'],
  drawdown: ['max'],
  sharpe: ['min'],
  trackingError: ['max'],
}

/** "90m", "12h", "1d", "2w" in milliseconds. */
export function durationMs(text: unknown, what: string): number {
  const m = typeof text === 'string' ? /^([1-9]\d{0,4})(m|h|d|w)$/.exec(text) : null
  if (m === null) throw new ConfigError(`${what} must be a duration such as 90m, 12h, 1d or 2w (received ${preview(text, 40)})`)
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS }[m[2] as 'm' | 'h' | 'd' | 'w']
}

interface Resolved {
  monitor: MonitorConfig
  pkg?: ModelPackage
  model?: string
  version?: number
  columns?: string[]
}

/**
 * Each model monitor's target resolved in the registry and its columns checked against the model's
 * signature (its inputs; and "prediction", "label"): a column the model does not have is a ConfigError naming it.
 */
export function resolveMonitors(home: string, monitors: readonly MonitorConfig[]): Resolved[] {
  const registry = new Registry(home)
  return monitors.map((monitor) => {
    if (!MODEL_KINDS.has(monitor.kind)) return { monitor }
    let loaded: ReturnType<typeof loadPackage>
    try {
      loaded = loadPackage(registry, monitor.target)
    } catch (error) {
      if (error instanceof NotFoundError) throw new ConfigError(`monitor ${monitor.name}: target ${monitor.target}: ${errorMessage(error)}`, { cause: error })
      throw error
    }
    const inputs = loaded.pkg.signature.inputs.filter((f) => f.type !== 'string').map((f) => f.name)
    if (monitor.columns !== undefined) {
      for (const column of monitor.columns) {
        if (column !== 'prediction' && column !== 'label' && !inputs.includes(column)) throw new ConfigError(`monitor ${monitor.name}: model ${loaded.name}@${loaded.version} has no column ${JSON.stringify(column.slice(0, 64))} (its inputs: ${inputs.join(', ')}; and prediction, label)`)
      }
    }
    return { monitor, pkg: loaded.pkg, model: loaded.name, version: loaded.version, columns: monitor.columns ?? inputs }
  })
}

/**
 * Evaluate the workspace's monitors at `now`: append one line per monitor to monitor/state.jsonl and return
 * the results, the triggers fired and the alert texts. A bad monitors file (or a monitor on a column its model
 * lacks) is a ConfigError before anything is evaluated or written; a monitor that fails at run time (its
 * reference file missing, its deployment gone) is recorded with status "error" and the others still run.
 */
export async function evaluateMonitors(home: string, options: EvaluateOptions): Promise<Evaluation> {
  const now = options?.now
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new ConfigError(`evaluateMonitors needs now, epoch milliseconds (received ${preview(now, 40)})`)
  let monitors = loadMonitors(home)
  if (options.monitors !== undefined) {
    for (const name of options.monitors) if (!monitors.some((m) => m.name === name)) throw new ConfigError(`no monitor named ${JSON.stringify(String(name).slice(0, 64))} in ${monitorsFile(home)}`)
    monitors = monitors.filter((m) => options.monitors!.includes(m.name))
  }
  const resolved = resolveMonitors(home, monitors)
  // A breach is new against the last evaluation that delivered its alerts and triggers (a manual one did not).
  // An evaluation that could not measure (status error or no-data) is neither side of the edge: a breach, a
  // failed read or a day without data, the same breach is one breach (it fired the triggers and alert twice).
  const previous = monitorStatus(home, { delivered: true, measured: true })
  const deployment = options.deployment ?? ((h: string, n: string, o: { replay: boolean }) => deploymentPerformance(h, n, o))
  const results: MonitorResult[] = []
  for (const r of resolved) {
    const m = r.monitor
    const base = { monitor: m.name, kind: m.kind, target: m.target, ...(r.version === undefined ? {} : { version: r.version }), time: now }
    let measured: { value: number | null; threshold: number; breached: boolean; evidence: Record<string, unknown> }
    let error: string | undefined
    try {
      measured = await measure(home, r, now, deployment)
    } catch (e) {
      error = errorMessage(e)
      measured = { value: null, threshold: thresholdOf(m), breached: false, evidence: {} }
    }
    // No value, no breach: a status no-data never fires (it said "is n/a" in the alert).
    if (measured.value === null || !Number.isFinite(measured.value)) measured.breached = false
    const before = previous.get(m.name)
    const edge = measured.breached && (m.repeat || before === undefined || before.breached !== true)
    results.push({
      ...base,
      value: measured.value === null || !Number.isFinite(measured.value) ? null : measured.value,
      threshold: measured.threshold,
      breached: measured.breached,
      status: error !== undefined ? 'error' : measured.value === null || !Number.isFinite(measured.value) ? 'no-data' : measured.breached ? 'breached' : 'ok',
      ...(error === undefined ? {} : { error }),
      fired: edge ? m.trigger : [],
      alerted: edge && m.alert,
      evidence: measured.evidence,
      ...(options.manual === true ? { manual: true as const } : {}),
    })
  }
  if (options.defer !== true) recordEvaluation(home, { time: now, results })
  const firedTriggers = [...new Set(results.flatMap((r) => r.fired))]
  const alerts = results.filter((r) => r.alerted).map((r) => `monitor ${r.monitor} breached: ${r.kind} of ${r.target}${r.version === undefined ? '' : ` (v${r.version})`} is ${fmt(r.value)}, ${COMPARE[r.kind]} ${fmt(r.threshold)}`)
  return { time: now, results, firedTriggers, alerts }
}

/** Append an evaluation's results to monitor/state.jsonl (evaluateMonitors does it unless told to defer). */
export function recordEvaluation(home: string, evaluation: Pick<Evaluation, 'time' | 'results'>): void {
  if (evaluation.results.length > 0) appendRecords(monitorStateFile(home), evaluation.results.map((r) => ({ ...r, iso: isoTime(evaluation.time) })))
}

const COMPARE: Record<MonitorKind, string> = { drift: 'drifted share ≥', rmseRise: 'rise ≥', directionalAccuracy: 'below', auc: 'below', drawdown: 'above', sharpe: 'below', trackingError: 'above' }

function fmt(v: number | null): string {
  return v === null ? 'n/a' : Number(v.toPrecision(4)).toString()
}

function thresholdOf(m: MonitorConfig): number {
  switch (m.kind) {
    case 'drift':
      return m.share ?? 0.5
    case 'rmseRise':
      return m.rise!
    case 'drawdown':
    case 'trackingError':
      return m.max!
    default:
      return m.min!
  }
}

async function measure(home: string, r: Resolved, now: number, deployment: NonNullable<EvaluateOptions['deployment']>): Promise<{ value: number | null; threshold: number; breached: boolean; evidence: Record<string, unknown> }> {
  const m = r.monitor
  const threshold = thresholdOf(m)
  switch (m.kind) {
    case 'drawdown':
    case 'sharpe':
    case 'trackingError': {
      const perf = await deployment(home, m.target, { replay: m.kind === 'trackingError' })
      const value = m.kind === 'drawdown' ? perf.drawdown : m.kind === 'sharpe' ? perf.sharpe : perf.trackingError ?? NaN
      const ok = Number.isFinite(value)
      return { value: ok ? value : null, threshold, breached: ok && (m.kind === 'sharpe' ? value < threshold : value > threshold), evidence: { sharpe: finiteOrNull(perf.sharpe), drawdown: finiteOrNull(perf.drawdown), trackingError: finiteOrNull(perf.trackingError), points: perf.points } }
    }
    case 'drift': {
      const window = durationMs(m.window ?? '1d', `monitor ${m.name}: window`)
      const file = insideWorkspace(home, m.reference!, `monitor ${m.name}: reference`)
      const reference = await readDriftTable(file, `monitor ${m.name} reference`)
      const columns = m.columns ?? r.columns!.filter((c) => reference[c] !== undefined)
      if (columns.length === 0) throw new ConfigError(`monitor ${m.name}: reference ${m.reference} has none of the model's inputs (${r.columns!.join(', ')}; its columns: ${Object.keys(reference).join(', ')})`)
      for (const c of columns) if (reference[c] === undefined) throw new ConfigError(`monitor ${m.name}: reference ${m.reference} has no column ${JSON.stringify(c)}`)
      const rows = readPredictions(home, r.model!, { since: now - window, until: now }).rows.filter((p) => p.version === r.version && (m.role === undefined || p.role === m.role))
      if (rows.length === 0) return { value: null, threshold, breached: false, evidence: { rows: 0 } }
      // Targets: the labels matched so far to the window's predictions (labels mature later: may be none yet).
      const labelOf = new Map<string, number>()
      if (columns.includes('label')) for (const x of matchLabels(rows, readLabels(home, r.model!).rows.filter((l) => !(l.time > now)))) labelOf.set(`${x.requestId}\0${x.index}\0${x.role}`, x.label)
      const current: Record<string, Float64Array> = {}
      const skipped: string[] = []
      for (const c of columns) {
        const values = Float64Array.from(rows, (p) => (c === 'prediction' ? p.prediction : c === 'label' ? labelOf.get(`${p.requestId}\0${p.index}\0${p.role}`) ?? NaN : typeof p.features?.[c] === 'number' ? (p.features[c] as number) : NaN))
        if (values.some((v) => Number.isFinite(v))) current[c] = values
        else skipped.push(c)
      }
      const compared = columns.filter((c) => !skipped.includes(c))
      if (compared.length === 0) return { value: null, threshold, breached: false, evidence: { rows: rows.length, skipped } }
      const result = datasetDrift(reference as DriftTable, current, { columns: compared, ...(m.method === undefined ? {} : { method: m.method }), ...(m.threshold === undefined ? {} : { threshold: m.threshold }), share: threshold })
      return {
        value: result.share,
        threshold,
        breached: result.datasetDrift,
        evidence: { rows: rows.length, driftedColumns: result.driftedColumns, columns: result.columns.map((c) => ({ column: c.column, method: c.method, score: c.score, threshold: c.threshold, drifted: c.drifted })), ...(skipped.length === 0 ? {} : { skipped }) },
      }
    }
    default:
      return modelMetric(home, r, now, threshold)
  }
}

function modelMetric(home: string, r: Resolved, now: number, threshold: number): { value: number | null; threshold: number; breached: boolean; evidence: Record<string, unknown> } {
  const m = r.monitor
  const maDays = m.maDays!
  const today = Math.floor(now / DAY_MS)
  const refDays = m.kind === 'rmseRise' && !m.referenceTraining ? m.referenceDays! : 0
  const since = (today - maDays - refDays + 1) * DAY_MS
  const rows = readPredictions(home, r.model!, { since, until: now }).rows.filter((p) => p.version === r.version && (m.role === undefined || p.role === m.role))
  // Every role of the version together unless the monitor names one.
  // Labels known by `now` only (an evaluation of the past — a backfill, an injected clock — sees what had matured then).
  const matched: MatchedRow[] = matchLabels(rows, readLabels(home, r.model!).rows.filter((l) => !(l.time > now))).map((x) => ({ ...x, role: m.role ?? 'any' }))
  const task = r.pkg!.task === 'classification' ? 'classification' : 'regression'
  const windows = performanceWindows(matched, { windowMs: DAY_MS, maWindows: maDays, task })
  const metric = m.kind === 'rmseRise' ? 'rmse' : m.kind === 'auc' ? 'auc' : 'directionalAccuracy'
  const days = (from: number, to: number) => windows.filter((w) => w.start >= from * DAY_MS && w.start <= to * DAY_MS && w[metric] !== undefined)
  const span = days(today - maDays + 1, today)
  const evidence: Record<string, unknown> = { metric, days: span.map((w) => ({ day: isoTime(w.start).slice(0, 10), [metric]: w[metric], count: w.count })) }
  if (span.length === 0) return { value: null, threshold, breached: false, evidence }
  const ma = span.reduce((a, w) => a + w[metric]!, 0) / span.length
  evidence.movingAverage = ma
  if (m.kind !== 'rmseRise') return { value: ma, threshold, breached: ma < threshold, evidence }
  let reference: number | undefined
  if (m.referenceTraining) {
    reference = r.pkg!.metrics.rmse
    if (!(typeof reference === 'number' && reference > 0)) throw new ConfigError(`monitor ${m.name}: model ${r.model}@${r.version} records no training rmse to compare with; give referenceDays instead`)
    evidence.reference = { source: 'training', rmse: reference }
  } else {
    const refWindows = days(today - maDays - refDays + 1, today - maDays)
    evidence.reference = { source: 'window', days: refWindows.map((w) => ({ day: isoTime(w.start).slice(0, 10), rmse: w.rmse, count: w.count })) }
    if (refWindows.length === 0) return { value: null, threshold, breached: false, evidence }
    reference = refWindows.reduce((a, w) => a + w.rmse!, 0) / refWindows.length
  }
  evidence.referenceRmse = reference
  const rise = ma / reference - 1
  // Breached when MA ≥ (1 + rise) × reference, compared as documented: ma / reference − 1 rounds an exact
  // 1.2 × reference to 0.19999999999999996, under a rise of 0.2.
  // A reference RMSE of 0 leaves no rise to measure (no-data): never breached with a value that says n/a.
  return { value: rise, threshold, breached: Number.isFinite(rise) && ma >= (1 + threshold) * reference, evidence }
}

/** A workspace-relative path that stays inside the workspace, links resolved (a link out of it is refused). */
function insideWorkspace(home: string, relative: string, what: string): string {
  const file = resolveInside(home, relative, what)
  if (!existsSync(file)) throw new ConfigError(`${what} ${relative} does not exist in the workspace`)
  const root = realpathSync(home)
  if (!realpathSync(file).startsWith(root + sep)) throw new ConfigError(`${what} ${relative} leads out of the workspace through a link`)
  return file
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null
}

/** The latest recorded evaluation of each monitor, from monitor/state.jsonl. */
export function monitorStatus(home: string, options: { delivered?: boolean; measured?: boolean } = {}): Map<string, MonitorResult> {
  const out = new Map<string, MonitorResult>()
  for (const r of monitorHistory(home)) {
    if (options.delivered === true && r.manual === true) continue
    // Not measured: an error, or nothing to measure (no-data, recorded breached: false) — neither side of the edge.
    if (options.measured === true && (r.status === 'error' || r.status === 'no-data')) continue
    const before = out.get(r.monitor)
    if (before === undefined || r.time >= before.time) out.set(r.monitor, r)
  }
  return out
}

/** Recorded evaluations, oldest first (optionally one monitor's, the last `last`). */
export function monitorHistory(home: string, options: { monitor?: string; last?: number } = {}): MonitorResult[] {
  const file = monitorStateFile(home)
  if (!existsSync(file)) return []
  let rows = readRecords<MonitorResult>(file).records.filter((r) => r !== null && typeof r === 'object' && typeof r.monitor === 'string' && typeof r.time === 'number')
  if (options.monitor !== undefined) rows = rows.filter((r) => r.monitor === options.monitor)
  return options.last === undefined ? rows : rows.slice(-options.last)
}
