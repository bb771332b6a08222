// Parameter sweeps: a grid (or a seeded random sample of it) of parameter sets, each backtested on
// one series, across worker threads, into a table of parameters × metrics in grid order — the same
// table whatever the number of workers (each set's result depends on the set alone). Strategies with
// a vectorized form run on the vectorized engine, memoising indicators across sets; others on the
// event-driven engine.

import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { ConfigError, errorMessage, Progress, seededRandom, type ProgressSink } from '../core/index.js'
import type { Bars } from '../data/index.js'
import { LocalExecutor, type DataRef, type Executor } from '../exec/index.js'
import { checkValue, findStrategy, getStrategy, indicatorCache, indicatorSource, isStrategyFile, resolveParams, strategyRef, type IndicatorCompute, type ParamDef, type Sizing, type Strategy, type StrategyRef } from '../strategy/index.js'
import { backtest } from './backtest.js'
import { observedPeriodsPerYear } from './results.js'
import { seriesOf } from './series.js'
import { strategySignals, vectorSweepMetrics, type SweepMetrics } from './vector.js'

/** Values per parameter: a list, or min:max:step. Parameters left out take their default (or `fixed`). */
export type GridSpec = Readonly<Record<string, readonly number[] | { min: number; max: number; step: number }>>

export interface SweepOptions {
  /** The metric `best` maximises (maxDrawdown: minimises). Default sharpe. */
  metric?: keyof SweepMetrics
  /** Worker threads (default 1: this thread). */
  workers?: number
  /** A seeded random sample of this many sets instead of the whole grid. */
  sample?: number
  seed?: number
  /** Values for parameters not in the grid. */
  fixed?: Readonly<Record<string, number>>
  /** vector (must have signals), event, or auto (vector where the strategy allows). Default auto. */
  engine?: 'auto' | 'vector' | 'event'
  cash?: number
  /** Sizing per entry: { qty } or { percent } (default all in). */
  sizing?: Pick<Sizing, 'qty' | 'percent'>
  commission?: number
  slippageBps?: number
  fixedFee?: number
  periodsPerYear?: number
  /** Memoised indicator results per thread, in bytes (default DEFAULT_CACHE_BYTES of lib/strategy, 256 MiB). */
  cacheBytes?: number
  progress?: ProgressSink
  /**
   * Where the sets run: an executor (lib/exec — local threads, or BullMQ workers on other machines).
   * Default: `workers` threads of this process.
   */
  executor?: Executor
  /** The bars as workers elsewhere find them (their lake query and snapshot id): needed by the bullmq executor. */
  dataRef?: DataRef
  /** Parameter sets per job on an executor other than local threads (default 8; part of each job's id). */
  chunk?: number
  /** Aborting cancels the sets not yet run. */
  signal?: AbortSignal
}

export interface SweepRow {
  params: Record<string, number>
  metrics: SweepMetrics
}

export interface SweepResult {
  strategy: string
  metric: keyof SweepMetrics
  rows: SweepRow[]
  /** The row with the best metric (ties: the first in grid order). */
  best: SweepRow | undefined
  /** Sets the strategy refused (its validate), with the reason. */
  skipped: { params: Record<string, number>; reason: string }[]
  /** Sets whose backtest threw, with the error (the others ran). */
  failed: { params: Record<string, number>; error: string }[]
  engine: 'vector' | 'event'
  /** Why the engine is not the one asked for, or what to know of it (its two forms disagree on these bars). */
  engineNote?: string
  workers: number
  /** What ran the sets: "this thread", "4 threads", or the Redis the workers serve. */
  executor: string
  periodsPerYear: number
  elapsedMs: number
}

export const SWEEP_METRICS: (keyof SweepMetrics)[] = ['totalReturn', 'cagr', 'volatility', 'sharpe', 'sortino', 'calmar', 'maxDrawdown', 'trades', 'winRate', 'profitFactor', 'exposure', 'endEquity']

/** "5:50:5" → { min 5, max 50, step 5 }; "5,10,20" → [5, 10, 20]; "7" → [7]. */
export function parseGridValue(name: string, text: string): readonly number[] | { min: number; max: number; step: number } {
  const range = /^\s*(-?[\d.]+)\s*:\s*(-?[\d.]+)\s*(?::\s*(-?[\d.]+)\s*)?$/.exec(text)
  if (range !== null) {
    const [min, max, step] = [Number(range[1]), Number(range[2]), range[3] === undefined ? 1 : Number(range[3])]
    return { min, max, step }
  }
  const list = text.split(',').map((v) => Number(v.trim()))
  if (list.length === 0 || list.some((v) => !Number.isFinite(v))) throw new ConfigError(`--grid ${name} takes min:max:step or a list a,b,c (received "${text}")`)
  return list
}

/** The values of one grid axis, each checked against the parameter's definition. */
function axis(owner: string, name: string, def: ParamDef | undefined, spec: GridSpec[string], known: string[]): number[] {
  if (def === undefined) throw new ConfigError(`unknown parameter "${name}" for ${owner}; expected one of ${known.join(', ')}`)
  let values: number[]
  if (Array.isArray(spec)) values = [...(spec as number[])]
  else {
    const { min, max, step } = spec as { min: number; max: number; step: number }
    if (!(step > 0) || !(max >= min)) throw new ConfigError(`grid ${name}: expected min ≤ max and step > 0 (received ${min}:${max}:${step})`)
    const count = Math.floor((max - min) / step + 1e-9) + 1
    if (count > 1_000_000) throw new ConfigError(`grid ${name} has ${count} values; at most 1,000,000`)
    values = Array.from({ length: count }, (_, k) => Number((min + k * step).toPrecision(12)))
  }
  for (const v of values) checkValue(owner, name, def, v)
  return values
}

/**
 * Every parameter set of the grid (last parameter varying fastest), or a seeded sample of them. With
 * `valid`, a sample counts valid sets only: a drawn set that is not valid stays in the answer (the sweep
 * reports it skipped) and another is drawn in its place, until `sample` are valid or the grid runs out
 * (`--sample 3` on a grid half invalid ran 1 set).
 */
export function gridSets(strategy: Strategy<any>, grid: GridSpec, options: Pick<SweepOptions, 'sample' | 'seed' | 'fixed'> & { valid?: (set: Record<string, number>) => boolean } = {}): Record<string, number>[] {
  const owner = `strategy ${strategy.name}`
  const known = Object.keys(strategy.params)
  const base = resolveParams(owner, strategy.params, options.fixed ?? {}) as Record<string, number>
  const names = Object.keys(grid)
  if (names.length === 0) throw new ConfigError(`a sweep needs at least one --grid parameter (${known.join(', ')})`)
  const axes = names.map((name) => axis(owner, name, (strategy.params as Record<string, ParamDef>)[name], grid[name]!, known))
  const total = axes.reduce((n, a) => n * a.length, 1)
  if (total > 10_000_000) throw new ConfigError(`the grid has ${total} sets; at most 10,000,000 (use sample)`)
  const at = (index: number): Record<string, number> => {
    const set = { ...base }
    for (let k = names.length - 1; k >= 0; k--) {
      const a = axes[k]!
      set[names[k]!] = a[index % a.length]!
      index = Math.floor(index / a.length)
    }
    return set
  }
  if (options.sample === undefined || options.sample >= total) return Array.from({ length: total }, (_, i) => at(i))
  if (!(Number.isInteger(options.sample) && options.sample >= 1)) throw new ConfigError(`sample must be an integer ≥ 1 (received ${options.sample})`)
  // Floyd's algorithm: `sample` distinct indices, then in grid order.
  const rng = seededRandom(options.seed ?? 1)
  const chosen = new Set<number>()
  for (let j = total - options.sample; j < total; j++) {
    const t = Math.floor(rng.next() * (j + 1))
    chosen.add(chosen.has(t) ? j : t)
  }
  const valid = options.valid
  if (valid !== undefined) {
    let short = 0
    for (const i of chosen) if (!valid(at(i))) short++
    // Other sets of the grid, drawn at random in their places (once half the grid is drawn, the first
    // free one after a drawn index: no long run of redraws).
    while (short > 0 && chosen.size < total) {
      let t = Math.floor(rng.next() * total)
      if (chosen.has(t)) {
        if (chosen.size * 2 <= total) continue
        while (chosen.has(t)) t = (t + 1) % total
      }
      chosen.add(t)
      if (valid(at(t))) short--
    }
  }
  return [...chosen].sort((a, b) => a - b).map(at)
}

/** One set's metrics: the computation a worker does, and the in-thread path does the same way. */
export function runSet(strategy: Strategy<any>, params: Record<string, number>, bars: Bars, options: SweepOptions, engine: 'vector' | 'event', indicator: IndicatorCompute, periodsPerYear: number): SweepMetrics {
  const size = options.sizing ?? { percent: 1 }
  if (engine === 'vector') {
    const signals = strategySignals(strategy, params, bars, indicator)
    if (signals === undefined) throw new ConfigError(`strategy ${strategy.name} has no vectorized form for ${JSON.stringify(params)}; use engine: 'event'`)
    return vectorSweepMetrics(
      { open: bars.open, close: bars.close, ...signals },
      { cash: options.cash ?? 100_000, commission: options.commission ?? 0, slippageBps: options.slippageBps ?? 0, fixedFee: options.fixedFee ?? 0, size: size.qty !== undefined ? { qty: size.qty } : { percent: size.percent ?? 1 } },
      periodsPerYear,
    )
  }
  const result = backtest({
    strategy,
    params,
    symbols: [bars.symbol],
    timeframe: bars.timeframe,
    data: { [bars.symbol]: bars },
    cash: options.cash ?? 100_000,
    sizing: size,
    fills: { takerRate: options.commission ?? 0, slippageBps: options.slippageBps ?? 0, fixedFee: options.fixedFee ?? 0 },
    periodsPerYear,
  })
  const m = result.metrics
  return {
    totalReturn: m.totalReturn,
    cagr: m.cagr,
    volatility: m.volatility,
    sharpe: m.sharpe,
    sortino: m.sortino,
    calmar: m.calmar,
    maxDrawdown: m.maxDrawdown.depth,
    trades: m.trades?.trades ?? 0,
    winRate: m.trades?.winRate ?? NaN,
    profitFactor: m.trades?.profitFactor ?? NaN,
    exposure: m.exposure ?? NaN,
    endEquity: m.endEquity,
  }
}

/** What every job of a sweep shares. */
export interface SweepJobContext {
  strategy: StrategyRef
  options: SweepOptions
  engine: 'vector' | 'event'
  periodsPerYear: number
}

export type SetOutcome = { metrics: SweepMetrics } | { error: string }

/** One set's metrics, or the error it threw (the other sets go on). */
export function setOutcome(strategy: Strategy<any>, set: Record<string, number>, bars: Bars, options: SweepOptions, engine: 'vector' | 'event', indicator: IndicatorCompute, periodsPerYear: number): SetOutcome {
  try {
    return { metrics: runSet(strategy, set, bars, options, engine, indicator, periodsPerYear) }
  } catch (error) {
    return { error: errorMessage(error) }
  }
}

/** Where one set's outcomes on the two engines differ (trades, or the equity's end or worst drawdown beyond 1e-9 relative), or undefined. */
function engineDisagreement(vector: SetOutcome, event: SetOutcome): string | undefined {
  if ('error' in vector || 'error' in event) return 'error' in vector && 'error' in event ? undefined : `one engine failed: ${'error' in vector ? vector.error : (event as { error: string }).error}`
  const v = vector.metrics
  const e = event.metrics
  if (v.trades !== e.trades) return `${v.trades} trades against ${e.trades}`
  for (const key of ['endEquity', 'maxDrawdown'] as const) {
    const a = v[key]
    const b = e[key]
    if (!(a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)))) return `${key} ${a} against ${b}`
  }
  return undefined
}

/** Which engine a sweep uses. */
function chooseEngine(strategy: Strategy<any>, sample: Record<string, number>, bars: Bars, wanted: SweepOptions['engine']): 'vector' | 'event' {
  if (wanted === 'event') return 'event'
  const vectorizable = strategy.signals !== undefined && strategy.signals(sample as never, sliceHead(bars), indicatorSource(sliceHead(bars))) !== undefined
  if (wanted === 'vector' && !vectorizable) throw new ConfigError(`strategy ${strategy.name} has no vectorized form with these parameters; use engine: 'event'`)
  return vectorizable ? 'vector' : 'event'
}

/** Bars the sweep's engine check runs on (the series' last ones), and the trades it needs there to be telling. */
const CHECK_BARS = 50_000
const CHECK_TRADES = 5

function tailBars(bars: Bars, n: number): Bars {
  const from = Math.max(0, bars.time.length - n)
  if (from === 0) return bars
  return { ...bars, time: bars.time.subarray(from), open: bars.open.subarray(from), high: bars.high.subarray(from), low: bars.low.subarray(from), close: bars.close.subarray(from), volume: bars.volume.subarray(from) }
}

function sliceHead(bars: Bars): Bars {
  const n = Math.min(bars.time.length, 3)
  return { ...bars, time: bars.time.subarray(0, n), open: bars.open.subarray(0, n), high: bars.high.subarray(0, n), low: bars.low.subarray(0, n), close: bars.close.subarray(0, n), volume: bars.volume.subarray(0, n) }
}

function better(metric: keyof SweepMetrics, a: number, b: number): boolean {
  if (a !== a) return false
  if (b !== b) return true
  return metric === 'maxDrawdown' || metric === 'volatility' ? a < b : a > b
}

/**
 * Sweeps `grid` for a strategy (a built-in name, a strategy file, or — in this thread only — an
 * object) on one series.
 */
export async function sweep(strategySpec: string | Strategy<any> | { strategy: Strategy<any>; file?: string }, grid: GridSpec, bars: Bars, options: SweepOptions = {}): Promise<SweepResult> {
  const started = performance.now()
  let strategy: Strategy<any>
  // What a worker thread loads: a built-in's name, or a strategy file's absolute path.
  let workerSpec: string | undefined
  if (typeof strategySpec === 'string') {
    workerSpec = isStrategyFile(strategySpec) ? resolve(strategySpec) : strategySpec
    strategy = isStrategyFile(strategySpec) ? await loadInThread(workerSpec) : getStrategy(strategySpec)
  } else if ('onBar' in strategySpec) {
    strategy = strategySpec
    workerSpec = findStrategy(strategy.name) === strategy ? strategy.name : undefined
  } else {
    strategy = strategySpec.strategy
    workerSpec = strategySpec.file ?? (findStrategy(strategy.name) === strategy ? strategy.name : undefined)
  }
  const metric = options.metric ?? 'sharpe'
  if (!SWEEP_METRICS.includes(metric)) throw new ConfigError(`metric must be one of ${SWEEP_METRICS.join(', ')} (received ${String(metric)})`)
  // Sizing checked before anything runs: { qty: 0 } or a percent ≤ 0 failed the vectorized check, the sweep fell
  // back to the event engine, which rejects every order of such a size, and the table was sets that never traded.
  if (options.sizing !== undefined) {
    const { qty, percent } = options.sizing
    const value = qty ?? percent
    if ((qty !== undefined && percent !== undefined) || (value !== undefined && !(Number.isFinite(value) && value > 0))) throw new ConfigError(`sizing must be { qty } or { percent }, a number > 0 (received ${JSON.stringify(options.sizing)})`)
  }
  const workers = options.workers ?? 1
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= 256)) throw new ConfigError(`workers must be an integer in [1, 256] (received ${workers})`)
  if (workers > 1 && workerSpec === undefined) throw new ConfigError('a sweep across workers needs a built-in strategy or a strategy file (an object cannot cross threads)')
  const check = strategy.validate
  const sets = gridSets(strategy, grid, { ...options, ...(check === undefined ? {} : { valid: (set: Record<string, number>) => check(set as never) === undefined }) })
  const valid: Record<string, number>[] = []
  const skipped: SweepResult['skipped'] = []
  for (const set of sets) {
    const why = strategy.validate?.(set)
    if (why === undefined) valid.push(set)
    else skipped.push({ params: set, reason: why })
  }
  const periodsPerYear = options.periodsPerYear ?? observedPeriodsPerYear(bars.time)
  let engine = valid.length === 0 ? 'vector' : chooseEngine(strategy, valid[0]!, bars, options.engine ?? 'auto')
  // The vectorized form is the strategy author's second copy of its logic: checked against the event-driven
  // one on these bars with the first set before the sweep trusts it. A registered version whose parity check
  // had failed was swept on the vector engine without a word, its numbers not the backtest's (a new-user check).
  let engineNote: string | undefined
  const plain: SweepOptions = { ...options, progress: undefined, executor: undefined, dataRef: undefined, signal: undefined }
  if (engine === 'vector' && valid.length > 0) {
    // On the last CHECK_BARS bars: an event-driven run of a million bars cost the 1,000-set sweep a sixth of its time.
    // Where the set trades fewer than CHECK_TRADES times there, on the whole series (both making no trade agree
    // whatever their logic: a review).
    const check = (b: Bars) => [setOutcome(strategy, valid[0]!, b, plain, 'vector', indicatorSource(b), periodsPerYear), setOutcome(strategy, valid[0]!, b, plain, 'event', indicatorSource(b), periodsPerYear)] as const
    let outcomes = check(tailBars(bars, CHECK_BARS))
    const traded = (o: SetOutcome) => ('metrics' in o ? o.metrics.trades : 0)
    if (bars.time.length > CHECK_BARS && Math.max(traded(outcomes[0]), traded(outcomes[1])) < CHECK_TRADES) outcomes = check(bars)
    const differs = engineDisagreement(outcomes[0], outcomes[1])
    if (differs !== undefined) {
      const what = `the vectorized form of ${strategy.name} disagrees with its event-driven one on these bars with ${JSON.stringify(valid[0])} (${differs})`
      if (options.engine === 'vector') engineNote = `${what}: the rows are the vectorized engine's, as asked`
      else {
        engine = 'event'
        engineNote = `${what}: swept with the event-driven engine`
      }
    }
  }
  const progress = options.progress === undefined ? undefined : new Progress({ label: `sweep ${strategy.name}`, total: valid.length, sink: options.progress })
  const outcomes: SetOutcome[] = new Array(valid.length)
  const cacheBytes = indicatorCache(options.cacheBytes).maxBytes
  const order = executionOrder(valid, Object.keys(grid), cacheBytes, bars.close.length)
  let executor = options.executor
  const own = executor === undefined && workers > 1 && valid.length > 1 ? new LocalExecutor(Math.min(workers, valid.length)) : undefined
  executor ??= own
  if (executor === undefined) {
    const indicator = indicatorSource(bars, indicatorCache(cacheBytes))
    for (const k of order) {
      if (options.signal?.aborted === true) throw new ConfigError(`sweep ${strategy.name} cancelled`)
      outcomes[k] = setOutcome(strategy, valid[k]!, bars, plain, engine, indicator, periodsPerYear)
      progress?.tick()
    }
  } else {
    if (workerSpec === undefined) throw new ConfigError(`a sweep on ${executor.describe} needs a built-in strategy or a strategy file (an object cannot cross threads)`)
    try {
      await runOnExecutor(executor, workerSpec, valid, order, bars, { ...plain, cacheBytes }, engine, periodsPerYear, outcomes, options, progress)
    } finally {
      await own?.close()
    }
  }
  progress?.finish()
  const rows: SweepRow[] = []
  const failed: SweepResult['failed'] = []
  valid.forEach((params, k) => {
    const o = outcomes[k]!
    if ('metrics' in o) rows.push({ params, metrics: o.metrics })
    else failed.push({ params, error: o.error })
  })
  // A strategy that cannot run at all (it fails to load, or throws on every set) fails the sweep.
  if (rows.length === 0 && failed.length > 0 && failed.every((f) => f.error === failed[0]!.error)) throw new ConfigError(`sweep ${strategy.name}: ${failed[0]!.error}`)
  let best: SweepRow | undefined
  for (const row of rows) if (best === undefined || better(metric, row.metrics[metric], best.metrics[metric])) best = row
  const ran = options.executor?.describe ?? (executor === undefined ? 'this thread' : executor.describe)
  return { strategy: strategy.name, metric, rows, best, skipped, failed, engine, ...(engineNote === undefined ? {} : { engineNote }), workers: options.executor === undefined ? workers : 0, executor: ran, periodsPerYear, elapsedMs: performance.now() - started }
}

/**
 * The order the sets run in (the table stays in grid order). Indicators usually follow single
 * parameters — sma-cross's fast and slow SMAs — and the memo holds `cacheBytes`; in grid order
 * (last parameter fastest) every value of the last parameter comes round again for each value of
 * the others, so a last axis whose indicators do not all fit would be recomputed for every row.
 * The last axis is therefore taken in blocks that fit (with room for the other parameters'), and
 * each block runs over the whole of the other axes before the next: each last-axis indicator is
 * computed once, the others once per block. Entries are estimated at one array of the series.
 */
export function executionOrder(sets: readonly Record<string, number>[], names: readonly string[], cacheBytes: number, bars: number): number[] {
  const order = sets.map((_, k) => k)
  const last = names[names.length - 1]
  if (names.length < 2 || last === undefined) return order
  const values = [...new Set(sets.map((set) => set[last]!))].sort((a, b) => a - b)
  const fit = Math.floor(cacheBytes / (8 * Math.max(1, bars)))
  const block = Math.max(1, fit - 4)
  if (values.length <= block) return order
  const rank = new Map(values.map((v, k) => [v, Math.floor(k / block)]))
  // Stable: within a block, grid order.
  return order.sort((a, b) => rank.get(sets[a]![last]!)! - rank.get(sets[b]![last]!)! || a - b)
}

async function loadInThread(file: string): Promise<Strategy<any>> {
  const { loadStrategy } = await import('../strategy/index.js')
  return (await loadStrategy(file)).strategy
}

/** The table as columns: one per parameter, then one per metric (for Arrow, Plot, CSV). */
export function sweepColumns(result: SweepResult): Record<string, Float64Array> {
  const names = result.rows.length === 0 ? [] : Object.keys(result.rows[0]!.params)
  const out: Record<string, Float64Array> = {}
  for (const name of names) out[name] = Float64Array.from(result.rows, (r) => r.params[name]!)
  for (const m of SWEEP_METRICS) out[m] = Float64Array.from(result.rows, (r) => r.metrics[m])
  return out
}

// ---- executors --------------------------------------------------------------------------------

/**
 * The sets as jobs of `backtest.sweep` (lib/backtest/jobs.ts), chunks of the execution order. On local
 * threads, small chunks, each thread a contiguous share (its memo then serves its own sets: chunks
 * dealt round-robin had both threads compute nearly every indicator), taking the other shares' last
 * chunks when done; elsewhere, chunks of a fixed size (`chunk`), so a job's id — and a result reused
 * from an earlier run — does not depend on how many workers there are.
 */
async function runOnExecutor(
  executor: Executor,
  spec: string,
  sets: Record<string, number>[],
  order: readonly number[],
  bars: Bars,
  options: SweepOptions,
  engine: 'vector' | 'event',
  periodsPerYear: number,
  out: SetOutcome[],
  given: SweepOptions,
  progress: Progress | undefined,
): Promise<void> {
  const local = executor instanceof LocalExecutor
  const chunk = local ? Math.max(1, Math.min(16, Math.floor(sets.length / (executor.threads * 8)))) : (given.chunk ?? 8)
  if (!(Number.isInteger(chunk) && chunk >= 1 && chunk <= 10_000)) throw new ConfigError(`chunk must be an integer in [1, 10000] (received ${chunk})`)
  const starts: number[] = []
  for (let from = 0; from < order.length; from += chunk) starts.push(from)
  // Only what a set's metrics depend on (and the memo's size): the ranking metric, the number of
  // workers, the sample's seed… are not part of a job, so its id — and a result reused — does not move with them.
  const { cash, sizing, commission, slippageBps, fixedFee, cacheBytes } = options
  const costs: SweepOptions = JSON.parse(JSON.stringify({ cash, sizing, commission, slippageBps, fixedFee, cacheBytes }))
  const context: SweepJobContext = { strategy: strategyRef(spec), options: costs, engine, periodsPerYear }
  const outcomes = await executor.run<{ sets: Record<string, number>[] }, SetOutcome[]>({
    kind: 'backtest.sweep',
    label: `sweep ${bars.symbol}`,
    context,
    data: { bars: { series: seriesOf(bars), ...(given.dataRef === undefined ? {} : { ref: given.dataRef }) } },
    items: starts.map((from) => ({ sets: order.slice(from, from + chunk).map((k) => sets[k]!) })),
    contiguous: local,
    ...(given.signal === undefined ? {} : { signal: given.signal }),
    // Progress counts sets, not jobs.
    progress: progress === undefined ? undefined : { update: (state) => progress.set(Math.round((state.done / Math.max(1, state.total ?? 1)) * sets.length)) },
  })
  outcomes.forEach((o, j) => {
    const from = starts[j]!
    const n = Math.min(chunk, order.length - from)
    for (let k = 0; k < n; k++) out[order[from + k]!] = o.ok ? o.value[k]! : { error: o.error }
  })
}

/** Worker threads that help this machine: its cores. */
export function defaultWorkers(): number {
  return availableParallelism()
}
