// Backtests and sweeps logging themselves to a tracked run: lineage (data, strategy source, params, git),
// params, metrics, the equity and drawdown curves as metric history (timestamps = bar times), and the
// run's tables as Parquet artifacts (equity, trades, orders, fills, factors: written straight from the
// engine's columns, no per-row formatting; lib/track/run-tables.ts reads them back) plus results.json.
// The CSV files are for `--export` only (exportResults). lib/backtest does not import lib/track: a run is
// anything with this shape (lib/track's ActiveRun has it).

import { gitCommit, paramsHash, type Lineage } from '../core/index.js'
import { columnsParquetPieces } from '../core/parquet-columns.js'
import { barsHash, type Bars } from '../data/index.js'
import { strategySource, type Strategy } from '../strategy/index.js'
import { summary, type BacktestResult, type Metrics } from './results.js'
import type { SweepResult } from './sweep.js'

type ParamValue = string | number | boolean

export interface RunSink {
  logBatch(batch: { metrics?: { key: string; value: number; step?: number; timestamp?: number }[]; params?: Record<string, ParamValue>; tags?: Record<string, string> }): unknown
  logArtifact(source: { name: string; data: string | Uint8Array | readonly Uint8Array[] }): unknown
  /** Several files, written in the background while the next is taken (lib/track's ActiveRun); optional. Each source's pieces stay unchanged until it settles. */
  logArtifacts?(sources: Iterable<{ name: string; data: string | Uint8Array | readonly Uint8Array[] }>): Promise<unknown>
}

export interface SweepSink extends RunSink {
  logChildren(children: { name?: string; params?: Record<string, ParamValue>; metrics?: Record<string, number>; tags?: Record<string, string> }[]): string[]
}

/** Curves are logged as at most this many points (every k-th bar, and the last). */
export const CURVE_POINTS = 2000

/**
 * What a backtest read and ran, by content hash. `data` names each dataset (e.g. "binance/BTC/USDT/1h");
 * its `sha256`, when given, is the bars' snapshot id as they were read (loadBarsWithSnapshot), else
 * barsHash of the bars now.
 */
export function backtestLineage(options: { strategy: Strategy<any>; file?: string; params: Record<string, unknown>; data: readonly { name: string; source?: string; bars: Bars; sha256?: string }[] }): Lineage {
  const source = strategySource(options.strategy, options.file)
  const commit = gitCommit()
  return {
    data: options.data.map((d) => ({ name: d.name, sha256: d.sha256 ?? barsHash(d.bars, d.source ?? d.name) })),
    strategy: { name: source.name, sha256: source.sha256, ...(source.file === undefined ? {} : { file: source.file }) },
    paramsSha256: paramsHash(options.params),
    ...(commit === undefined ? {} : { gitCommit: commit }),
  }
}

/** The headline metrics as flat numbers (names as in the sweep table where they coincide). */
export function flatMetrics(m: Metrics): Record<string, number> {
  const out: Record<string, number> = {
    totalReturn: m.totalReturn,
    cagr: m.cagr,
    volatility: m.volatility,
    sharpe: m.sharpe,
    sortino: m.sortino,
    calmar: m.calmar,
    maxDrawdown: m.maxDrawdown.depth,
    maxDrawdownDuration: m.maxDrawdown.longestDuration,
    startEquity: m.startEquity,
    endEquity: m.endEquity,
    avgExposure: m.avgExposure,
    fees: m.fees,
    openTrades: m.openTrades,
  }
  if (m.trades !== undefined) {
    out.trades = m.trades.trades
    out.winRate = m.trades.winRate
    out.profitFactor = m.trades.profitFactor
    out.expectancy = m.trades.expectancy
    out.avgWin = m.trades.avgWin
    out.avgLoss = m.trades.avgLoss
  }
  if (m.exposure !== undefined) out.exposure = m.exposure
  if (m.turnover !== undefined) out.turnover = m.turnover
  if (m.monthsProfitable !== undefined) out.monthsProfitable = m.monthsProfitable
  return out
}

/** How a backtest is logged: its strategy params, `config` (more params), and whether the files are written. */
export interface LogBacktestOptions {
  params: Record<string, unknown>
  config?: Record<string, unknown>
  artifacts?: boolean
}

/** Log a finished backtest: params (strategy params + `config`), metrics, curves, the tables (Parquet) and results.json. */
export function logBacktest(run: RunSink, result: BacktestResult, options: LogBacktestOptions): void {
  logRecords(run, result, options)
  if (options.artifacts !== false) for (const artifact of backtestArtifacts(result, options)) run.logArtifact(artifact)
}

/**
 * logBacktest for a run that writes its files in the background (logArtifacts, as lib/track's ActiveRun):
 * each table is encoded while the one before is written (the equity table, 16 MB for a million bars,
 * first), and the records are logged meanwhile. The same records and files as logBacktest. A run without
 * logArtifacts is logged by logBacktest.
 */
export async function logBacktestAsync(run: RunSink, result: BacktestResult, options: LogBacktestOptions): Promise<void> {
  if (run.logArtifacts === undefined || options.artifacts === false) return logBacktest(run, result, options)
  const artifacts = backtestArtifacts(result, options)
  let logged = false
  const records = () => {
    logged = true
    logRecords(run, result, options)
  }
  function* overlapped(): Generator<{ name: string; data: string | Uint8Array | readonly Uint8Array[] }> {
    const first = artifacts.next()
    if (first.done !== true) yield first.value
    // Taken after the first file's write has started: the records are logged while it is written.
    records()
    yield* artifacts
  }
  try {
    await run.logArtifacts(overlapped())
  } catch (error) {
    // As logBacktest: the records are logged even when no file could be (the first one failed or was refused).
    if (!logged) {
      try {
        records()
      } catch {
        /* the first error is the one thrown */
      }
    }
    throw error
  }
}

function logRecords(run: RunSink, result: BacktestResult, options: LogBacktestOptions): void {
  const params: Record<string, ParamValue> = {}
  for (const [k, v] of Object.entries(options.params)) params[k] = scalar(v)
  for (const [k, v] of Object.entries(options.config ?? {})) if (params[k] === undefined && v !== undefined) params[k] = scalar(v)
  const metrics = Object.entries(flatMetrics(result.metrics)).map(([key, value]) => ({ key, value, step: 0 }))
  run.logBatch({ params, metrics, tags: { 'mtflow.kind': 'backtest' } })
  run.logBatch({ metrics: curvePoints(result.time, result.equity, 'equity') })
  run.logBatch({ metrics: drawdownCurvePoints(result.time, result.equity) })
}

/** The run's files, each encoded when asked for: the tables as Parquet (equity first, factors last), then results.json. */
function* backtestArtifacts(result: BacktestResult, options: LogBacktestOptions): Generator<{ name: string; data: string | Uint8Array | readonly Uint8Array[] }> {
  for (const name of TABLES) {
    const columns = runTable(result, name)
    // A table without columns (no strategy) has no Parquet form: its readers find no file, as no rows.
    if (Object.keys(columns).length > 0) yield { name: `${name}.parquet`, data: columnsParquetPieces(columns) }
  }
  yield { name: 'results.json', data: `${JSON.stringify(summary(result, { ...options.config, params: options.params }), null, 2)}\n` }
}

/** A tracked backtest's tables, in the order they are written (lib/track/run-tables.ts reads them by these names). */
const TABLES = ['equity', 'trades', 'orders', 'fills', 'factors'] as const
type TableName = (typeof TABLES)[number]

/**
 * One of a backtest's tables as columns, the same ones (and in the same order) as the export's CSV files:
 * number columns are the engine's own Float64Arrays (one strategy: not copied; several: concatenated).
 * Built alone, so the factors (computed when first read) are computed for their table only.
 */
function runTable(result: BacktestResult, name: TableName): Record<string, ArrayLike<unknown>> {
  const s = result.strategies
  switch (name) {
    case 'equity':
      return {
        time: result.time,
        equity: result.equity,
        exposure: result.exposure,
        ...Object.fromEntries(s.length > 1 ? s.map((x) => [`equity_${x.strategy}`, x.equity]) : []),
      }
    case 'trades':
      return stack(s.map((x) => x.trades as Record<string, ArrayLike<unknown>>))
    case 'orders':
      return stack(s.map((x) => x.orders as Record<string, ArrayLike<unknown>>))
    case 'fills':
      return stack(s.map((x) => x.fills as Record<string, ArrayLike<unknown>>))
    case 'factors':
      return stack(
        s.map((x) => {
          const factors = x.factors
          return { strategy: Array.from(factors.entryOrderId ?? [], () => x.strategy), ...factors }
        }),
      )
  }
}

/** Tables with the same columns one after the other (a column a part lacks is missing there: NaN or undefined). */
function stack(parts: Record<string, ArrayLike<unknown>>[]): Record<string, ArrayLike<unknown>> {
  if (parts.length === 1) return parts[0]!
  const names = [...new Set(parts.flatMap((p) => Object.keys(p)))]
  const lengths = parts.map((p) => Object.values(p)[0]?.length ?? 0)
  const total = lengths.reduce((a, b) => a + b, 0)
  const out: Record<string, ArrayLike<unknown>> = {}
  for (const name of names) {
    const numeric = parts.every((p) => p[name] === undefined || p[name] instanceof Float64Array)
    const column: Float64Array | unknown[] = numeric ? new Float64Array(total).fill(NaN) : new Array<unknown>(total).fill(undefined)
    let at = 0
    parts.forEach((p, k) => {
      const values = p[name]
      if (values !== undefined) {
        if (column instanceof Float64Array) column.set(values as Float64Array, at)
        else for (let i = 0; i < values.length; i++) column[at + i] = values[i]
      }
      at += lengths[k]!
    })
    out[name] = column
  }
  return out
}

/**
 * Log a sweep: the parent gets the grid, the best set and the table (sweep.parquet, from sweepColumns: CSV only
 * where the user asks, `sweep --out`); one child run per parameter set.
 */
export function logSweep(run: SweepSink, result: SweepResult, options: { grid: Record<string, unknown>; config?: Record<string, unknown>; table?: Record<string, ArrayLike<unknown>> }): string[] {
  const params: Record<string, ParamValue> = { strategy: result.strategy, metric: result.metric, engine: result.engine, sets: result.rows.length }
  if (result.failed.length > 0) params.failedSets = result.failed.length
  for (const [k, v] of Object.entries(options.grid)) params[`grid.${k}`] = scalar(v)
  for (const [k, v] of Object.entries(options.config ?? {})) if (params[k] === undefined && v !== undefined) params[k] = scalar(v)
  const best = result.best
  run.logBatch({
    params,
    tags: { 'mtflow.kind': 'sweep', 'mtflow.executor': result.executor },
    metrics: best === undefined ? [] : Object.entries(best.metrics).map(([k, v]) => ({ key: `best.${k}`, value: v, step: 0 })),
  })
  if (best !== undefined) run.logBatch({ tags: { 'mtflow.sweep.best': JSON.stringify(best.params) } })
  if (options.table !== undefined && Object.keys(options.table).length > 0) run.logArtifact({ name: 'sweep.parquet', data: columnsParquetPieces(options.table) })
  const name = (p: Record<string, number>) =>
    Object.entries(p)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')
  return run.logChildren([
    ...result.rows.map((row) => ({ name: name(row.params), params: row.params, metrics: { ...row.metrics }, tags: { 'mtflow.kind': 'sweep-set' } })),
    // A set whose backtest threw: a FAILED child holding the error.
    ...result.failed.map((f) => ({ name: name(f.params), params: f.params, status: 'FAILED' as const, tags: { 'mtflow.kind': 'sweep-set', 'mtflow.error': f.error.slice(0, 500) } })),
  ])
}

function scalar(v: unknown): ParamValue {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v)
}

/**
 * The drawdown curve's points: drawdownSeries(equity) at the deepest bar of each block of ⌈n / CURVE_POINTS⌉
 * bars (the first on a tie), and at the last bar — from one pass over the equity (the running peak) without
 * the whole series. The deepest, not the block's first as the equity curve samples: a chart of every 500th bar
 * of a 1m run missed its trough, and showed a drawdown shallower than the run's maxDrawdown beside it (an audit).
 */
export function drawdownCurvePoints(time: Float64Array, equity: Float64Array): { key: string; value: number; step: number; timestamp: number }[] {
  const n = equity.length
  if (n === 0) return []
  const every = Math.max(1, Math.ceil(n / CURVE_POINTS))
  const out: { key: string; value: number; step: number; timestamp: number }[] = []
  let peak = -Infinity
  let deepest = -1
  let depth = -Infinity
  for (let i = 0; i < n; i++) {
    const e = equity[i]!
    if (e > peak) peak = e
    const dd = peak > 0 ? 1 - e / peak : 0
    if (dd > depth) {
      depth = dd
      deepest = i
    }
    if ((i + 1) % every === 0 || i === n - 1) {
      out.push({ key: 'drawdown', value: depth, step: deepest, timestamp: time[deepest]! })
      if (i === n - 1 && deepest !== i) out.push({ key: 'drawdown', value: dd, step: i, timestamp: time[i]! })
      depth = -Infinity
    }
  }
  return out
}

function curvePoints(time: Float64Array, values: Float64Array, key: string): { key: string; value: number; step: number; timestamp: number }[] {
  const n = values.length
  if (n === 0) return []
  const every = Math.max(1, Math.ceil(n / CURVE_POINTS))
  const out: { key: string; value: number; step: number; timestamp: number }[] = []
  for (let i = 0; i < n; i += every) out.push({ key, value: values[i]!, step: i, timestamp: time[i]! })
  if ((n - 1) % every !== 0) out.push({ key, value: values[n - 1]!, step: n - 1, timestamp: time[n - 1]! })
  return out
}
