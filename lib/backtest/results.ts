// What a backtest returns: per strategy and combined, the equity and exposure curves, orders, fills
// and trades as columnar records (one array per field: straight to Arrow, Parquet, Plot and the
// tracker), and every metric of lib/stats. exportResults writes them as CSV and JSON files.

import { join } from 'node:path'
import { ConfigError, csvText, isoTime, writeFileAtomic } from '../core/index.js'
import { performanceMetrics, type Performance } from '../stats/index.js'
import type { Engine, Sleeve } from './engine.js'
import type { FillRecord, TradeLog, TradeRecord } from './records.js'

/** One array per field. */
export type Columns<T> = { [K in keyof T]: T[K] extends number ? Float64Array : T[K][] }

/** Records → columns: the numeric fields into Float64Array, the others into plain arrays. */
export function toColumns<T extends object>(rows: readonly T[], fields: readonly (keyof T)[], numeric: readonly (keyof T)[]): Columns<T> {
  const out: Record<string, unknown> = {}
  const n = rows.length
  for (const f of fields) {
    if (numeric.includes(f)) {
      const col = new Float64Array(n)
      for (let i = 0; i < n; i++) col[i] = rows[i]![f] as number
      out[f as string] = col
    } else {
      const col = new Array<unknown>(n)
      for (let i = 0; i < n; i++) col[i] = rows[i]![f]
      out[f as string] = col
    }
  }
  return out as Columns<T>
}

/** Columns → records (for tables in notebooks). */
export function toRows<T>(columns: Columns<T>): T[] {
  const keys = Object.keys(columns) as (keyof T)[]
  const n = keys.length === 0 ? 0 : (columns[keys[0]!] as ArrayLike<unknown>).length
  const rows: T[] = []
  for (let i = 0; i < n; i++) {
    const r = {} as T
    for (const k of keys) r[k] = (columns[k] as ArrayLike<T[keyof T]>)[i]!
    rows.push(r)
  }
  return rows
}

export interface OrderRecord {
  id: number
  strategy: string
  symbol: string
  side: string
  type: string
  role: string
  qty: number
  filled: number
  avgPrice: number
  limit: number
  stop: number
  status: string
  reason: string
  parentId: number
  tag: string
  createdAt: number
  submittedAt: number
  doneAt: number
  fees: number
}

export const TRADE_FIELDS: (keyof TradeRecord)[] = ['strategy', 'symbol', 'direction', 'entryTime', 'entryPrice', 'exitTime', 'exitPrice', 'qty', 'fees', 'pnl', 'returnPct', 'mae', 'mfe', 'barsHeld', 'entryOrderId', 'tag', 'open']

export interface Metrics extends Performance {
  /** Equity at the start and the end. */
  startEquity: number
  endEquity: number
  /** Mean of gross exposure / equity over the run. */
  avgExposure: number
  fees: number
  /** Trades still open at the end (reported at the last close, not in the trade statistics). */
  openTrades: number
}

export interface StrategyResult {
  strategy: string
  params: Record<string, number>
  /** One point per distinct bar close of the run (the combined clock). */
  equity: Float64Array
  /** Gross exposure / equity. */
  exposure: Float64Array
  orders: Columns<OrderRecord>
  fills: Columns<FillRecord>
  trades: Columns<Omit<TradeRecord, 'factors'>>
  /** The indicator values each trade's entry order saw, one row per trade: entryOrderId + one column per indicator. */
  factors: Record<string, Float64Array>
  metrics: Metrics
  log: string[]
}

export interface BacktestResult {
  /** Time (epoch ms) of each equity point: the bar's own time (its open); the value is at its close. */
  time: Float64Array
  equity: Float64Array
  exposure: Float64Array
  metrics: Metrics
  strategies: StrategyResult[]
  periodsPerYear: number
  bars: number
}

/** Bars per year the data actually has: (points − 1) over the years they span. */
export function observedPeriodsPerYear(time: ArrayLike<number>): number {
  const n = time.length
  if (n < 2) throw new ConfigError(`a backtest needs at least 2 bars to measure (received ${n})`)
  const years = (time[n - 1]! - time[0]!) / (365.25 * 86_400_000)
  return (n - 1) / years
}

/** `sums`: Σ equity and Σ exposure in point order when the engine kept them (else added up here). */
function metricsOf(equity: Float64Array, exposure: Float64Array, traded: number, time: Float64Array, periodsPerYear: number, trades: readonly TradeLog[], fees: number, sums?: { equity: number; exposure: number }): Metrics {
  const closed = trades.length === 1 ? trades[0]!.closedPnl() : concatPnl(trades.map((t) => t.closedPnl()))
  const perf = performanceMetrics(equity, { periodsPerYear, time, trades: closed, position: exposure })
  let sumExposure = sums?.exposure ?? 0
  let sumEquity = sums?.equity ?? 0
  if (sums === undefined) {
    for (let i = 0; i < equity.length; i++) {
      sumExposure += exposure[i]!
      sumEquity += equity[i]!
    }
  }
  // Turnover as performanceMetrics defines it: Σ |traded| / mean equity, per year.
  perf.turnover = traded / (sumEquity / equity.length) / ((equity.length - 1) / periodsPerYear)
  return {
    ...perf,
    startEquity: equity[0]!,
    endEquity: equity[equity.length - 1]!,
    avgExposure: sumExposure / equity.length,
    fees,
    openTrades: trades.reduce((a, t) => a + t.openCount(), 0),
  }
}

function concatPnl(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A copy of metrics (the combined result of a single strategy is its own, not shared with it). */
function copyMetrics(m: Metrics): Metrics {
  return { ...m, maxDrawdown: { ...m.maxDrawdown }, ...(m.trades === undefined ? {} : { trades: { ...m.trades } }) }
}

export function collectResults(engine: Engine, periodsPerYear?: number): BacktestResult {
  const n = engine.ticks
  // Views on the engine's arrays (no copies: a million points is 8 MB per curve).
  const time = engine.times.subarray(0, n)
  const ppy = periodsPerYear ?? observedPeriodsPerYear(time)
  if (!(ppy > 0 && Number.isFinite(ppy))) throw new ConfigError(`periodsPerYear must be a number > 0 (received ${ppy})`)
  const single = engine.sleeves.length === 1
  const total = single ? engine.sleeves[0]!.equity.subarray(0, n) : new Float64Array(n)
  const strategies = engine.sleeves.map((sleeve: Sleeve) => {
    let factors: Record<string, Float64Array> | undefined
    const equity = sleeve.equity.subarray(0, n)
    const exposure = sleeve.exposure.subarray(0, n)
    if (!single) for (let i = 0; i < n; i++) total[i] += equity[i]!
    return {
      strategy: sleeve.name,
      params: sleeve.params,
      equity,
      exposure,
      orders: sleeve.orders.columns(),
      fills: sleeve.fills.columns(),
      trades: sleeve.trades.columns(),
      // Read on demand: the factor set is computed only when someone reads the factors (see factorSets in context.ts).
      get factors(): Record<string, Float64Array> {
        factors ??= sleeve.trades.factorColumns(sleeve.ctx.factorSets())
        return factors
      },
      metrics: metricsOf(equity, exposure, sleeve.traded, time, ppy, [sleeve.trades], sleeve.book.feesPaid, { equity: sleeve.equitySum, exposure: sleeve.exposureSum }),
      log: sleeve.log,
    }
  })
  // Combined exposure: Σ gross / Σ equity, the gross of each sleeve being its exposure × equity.
  let exposure = strategies[0]!.exposure
  if (!single) {
    exposure = new Float64Array(n)
    for (const s of strategies) for (let i = 0; i < n; i++) exposure[i] += s.exposure[i]! * s.equity[i]!
    for (let i = 0; i < n; i++) exposure[i] /= total[i]!
  }
  const fees = engine.sleeves.reduce((a, s) => a + s.book.feesPaid, 0)
  // One strategy: the combined curve, trades and fees are its own, and so are the metrics (the same
  // arithmetic on the same arrays; computing them again was a sixth of the run).
  const metrics = single
    ? copyMetrics(strategies[0]!.metrics)
    : metricsOf(total, exposure, engine.sleeves.reduce((a, s) => a + s.traded, 0), time, ppy, engine.sleeves.map((s) => s.trades), fees)
  return {
    time,
    equity: total,
    exposure,
    metrics,
    strategies,
    periodsPerYear: ppy,
    bars: engine.series.reduce((a, s) => a + s.n, 0),
  }
}

// ---- export ------------------------------------------------------------------------------------

function csvCell(v: unknown, timeField: boolean): string {
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return ''
    return timeField && Number.isFinite(v) ? isoTime(v) : String(v)
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  // Text a spreadsheet would run as a formula (a tag or a symbol starting with =, +, -, @) is prefixed with "'".
  return csvText(String(v ?? ''))
}

/** CSV of columns; fields ending in Time or At, and `time`, as ISO 8601 UTC. */
export function columnsCsv(columns: Record<string, ArrayLike<unknown>>): string {
  const names = Object.keys(columns)
  const n = names.length === 0 ? 0 : columns[names[0]!]!.length
  const isTime = names.map((k) => k === 'time' || /(Time|At)$/.test(k))
  const lines = [names.join(',')]
  for (let i = 0; i < n; i++) lines.push(names.map((k, j) => csvCell(columns[k]![i], isTime[j]!)).join(','))
  return `${lines.join('\n')}\n`
}

/** Parts one after the other; a column a part lacks is empty on that part's rows (strategies' factor sets differ). */
function concat<T>(parts: Columns<T>[]): Record<string, ArrayLike<unknown>> {
  const columns = parts.map((part) => Object.entries(part) as [string, ArrayLike<unknown>][])
  const names = [...new Set(columns.flatMap((c) => c.map(([k]) => k)))]
  const out: Record<string, unknown[]> = Object.fromEntries(names.map((k) => [k, []]))
  for (const c of columns) {
    const rows = c[0]?.[1].length ?? 0
    const byName = new Map(c)
    for (const name of names) {
      const v = byName.get(name)
      const column = out[name]!
      for (let i = 0; i < rows; i++) column.push(v === undefined ? undefined : v[i])
    }
  }
  return out
}

/** trades.csv, orders.csv, fills.csv, equity.csv, factors.csv and results.json in `dir` (each written atomically). */
export function exportResults(result: BacktestResult, dir: string, extra: Record<string, unknown> = {}): string[] {
  const written: string[] = []
  for (const [name, text] of Object.entries(resultFiles(result, extra))) {
    const path = join(dir, name)
    writeFileAtomic(path, text)
    written.push(path)
  }
  return written
}

/** The export files by name (what exportResults writes and a tracked run keeps as artifacts). */
export function resultFiles(result: BacktestResult, extra: Record<string, unknown> = {}): Record<string, string> {
  return {
    'trades.csv': columnsCsv(concat(result.strategies.map((s) => s.trades))),
    'orders.csv': columnsCsv(concat(result.strategies.map((s) => s.orders))),
    'fills.csv': columnsCsv(concat(result.strategies.map((s) => s.fills))),
    'equity.csv': columnsCsv({
      time: result.time,
      equity: result.equity,
      exposure: result.exposure,
      ...Object.fromEntries(result.strategies.length > 1 ? result.strategies.map((s) => [`equity_${s.strategy}`, s.equity]) : []),
    }),
    'factors.csv': columnsCsv(
      concat(result.strategies.map((s) => ({ strategy: Array.from(s.factors.entryOrderId ?? [], () => s.strategy), ...s.factors }) as unknown as Columns<unknown>)),
    ),
    'results.json': `${JSON.stringify(summary(result, extra), null, 2)}\n`,
  }
}

/** The JSON summary: metrics per strategy and combined, the configuration given in `extra`. */
export function summary(result: BacktestResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const clean = (m: Metrics) => JSON.parse(JSON.stringify(m, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))) as unknown
  return {
    ...extra,
    start: result.time.length > 0 ? isoTime(result.time[0]!) : null,
    end: result.time.length > 0 ? isoTime(result.time[result.time.length - 1]!) : null,
    bars: result.bars,
    periodsPerYear: result.periodsPerYear,
    metrics: clean(result.metrics),
    strategies: result.strategies.map((s) => ({ strategy: s.strategy, params: s.params, trades: s.trades.pnl?.length ?? 0, metrics: clean(s.metrics) })),
  }
}
