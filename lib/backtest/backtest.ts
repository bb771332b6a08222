// The entry points: backtest (one strategy on its symbols) and portfolioBacktest (several strategies,
// each a sleeve with its share of the capital). Options are normalised and checked once, here; the
// engine then runs without further validation.

import { ConfigError, DataError, type ProgressSink } from '../core/index.js'
// bars.ts, not the folder's index: the index also loads DuckDB, arquero and Arrow (~500 modules,
// ~300 ms), which a sweep worker that only slices bars would load at every start.
import { sliceBars, type Bars, type TimeRange } from '../data/bars.js'
import { getStrategy, resolveParams, type Sizing, type Strategy } from '../strategy/index.js'
import { Engine, type EngineOptions, type SleeveSpec } from './engine.js'
import { riskLimits, type RiskLimits } from './portfolio.js'
import { collectResults, type BacktestResult } from './results.js'
import { fillModel, type FillModel } from './sim-exchange.js'

/** Bars by (symbol, timeframe): a function, or a record keyed "SYMBOL" (one timeframe) or "SYMBOL@TF". */
export type DataSource = ((symbol: string, timeframe: string) => Bars) | Readonly<Record<string, Bars>>

export interface RunOptions extends TimeRange {
  data: DataSource
  /** Starting capital (account currency). Default 100,000. */
  cash?: number
  /** Sizing of orders that give none. Default { percent: 1 }: all of equity, costs included. */
  sizing?: Sizing
  fills?: Partial<FillModel>
  limits?: Partial<RiskLimits>
  /** Quantities are floored to a multiple of this (1: whole shares). Default 0: fractional units. */
  lotSize?: number
  /** Close open positions at the last close (a fill, with costs). Default false: reported as open trades. */
  closeAtEnd?: boolean
  /** Annualisation of the metrics. Default: the bars per year the data has. */
  periodsPerYear?: number
  progress?: ProgressSink
}

export interface BacktestOptions extends RunOptions {
  strategy: Strategy<any> | string
  params?: Readonly<Record<string, number | string>>
  symbols: readonly string[]
  timeframe: string
}

export interface SleeveOptions {
  strategy: Strategy<any> | string
  params?: Readonly<Record<string, number | string>>
  symbols: readonly string[]
  timeframe: string
  /** Share of the capital (weights are normalised to sum to 1). */
  weight: number
  /** Name in the results (default: the strategy's, suffixed #2, #3 … on repeats). */
  name?: string
}

export interface PortfolioOptions extends RunOptions {
  sleeves: readonly SleeveOptions[]
}

export function backtest(options: BacktestOptions): BacktestResult {
  return portfolioBacktest({ ...options, sleeves: [{ strategy: options.strategy, params: options.params, symbols: options.symbols, timeframe: options.timeframe, weight: 1 }] })
}

export function portfolioBacktest(options: PortfolioOptions): BacktestResult {
  const engine = buildEngine(options)
  engine.run()
  const result = collectResults(engine, options.periodsPerYear)
  lastEngine = engine
  return result
}

/**
 * The engine a backtest runs, built and checked from its options: the sleeves' strategies, params,
 * subscriptions, names and capital, the fill model, limits, sizing. A paper deployment builds its engine
 * here too, so it cannot default anything differently (lib/live/PLAN.md step 2); `run()` it, or step it
 * with begin / advance / end.
 */
export function buildEngine(options: PortfolioOptions): Engine {
  return new Engine(sleeveSpecs(options), dataLookup(options.data, options), engineOptions(options))
}

/** Options of a session engine (lib/live): a backtest's, without its data — bars arrive as they close. */
export type SessionEngineOptions = Omit<PortfolioOptions, 'data' | 'start' | 'end' | 'progress' | 'periodsPerYear'> & {
  /**
   * Bars already closed before the session starts (a warm start): held by the series and streamed into
   * the indicators, never delivered to onBar and never traded on.
   */
  history?: DataSource
}

/**
 * The engine a deployment steps (lib/live): the same checked sleeves, fill model, limits and sizing as
 * `buildEngine`, in session mode — `append` each closed bar, `advance` to the feed's watermark.
 */
export function buildSessionEngine(options: SessionEngineOptions, mode: { external?: boolean } = {}): Engine {
  const history = options.history
  const lookup = (symbol: string, timeframe: string): Bars => {
    if (history !== undefined) {
      const bars = typeof history === 'function' ? history(symbol, timeframe) : (history[`${symbol}@${timeframe}`] ?? history[symbol])
      if (bars !== undefined) {
        if (bars.timeframe !== timeframe) throw new DataError(`history for ${symbol} is ${bars.timeframe}, the strategy asked for ${timeframe}`)
        // A copy: the session writes after it.
        return { symbol, timeframe, time: bars.time.slice(), open: bars.open.slice(), high: bars.high.slice(), low: bars.low.slice(), close: bars.close.slice(), volume: bars.volume.slice() }
      }
    }
    const none = new Float64Array(0)
    return { symbol, timeframe, time: none, open: none, high: none, low: none, close: none, volume: none }
  }
  return new Engine(sleeveSpecs(options), lookup, { ...engineOptions(options), session: true, external: mode.external === true })
}

function sleeveSpecs(options: Omit<PortfolioOptions, 'data'>): SleeveSpec[] {
  const cash = options.cash ?? 100_000
  if (!(Number.isFinite(cash) && cash > 0)) throw new ConfigError(`cash must be a number > 0 (received ${cash})`)
  if (options.sleeves.length === 0) throw new ConfigError('a portfolio backtest needs at least one strategy')
  const weights = options.sleeves.map((s) => s.weight)
  for (const [k, w] of weights.entries()) if (!(Number.isFinite(w) && w >= 0)) throw new ConfigError(`weight of sleeve ${k + 1} must be a number ≥ 0 (received ${w})`)
  const totalWeight = weights.reduce((a, b) => a + b, 0)
  if (!(totalWeight > 0)) throw new ConfigError('portfolio weights sum to 0; at least one must be > 0')
  const lotSize = options.lotSize ?? 0
  if (!(lotSize >= 0)) throw new ConfigError(`lotSize must be ≥ 0 (received ${lotSize})`)
  const seen = new Map<string, number>()
  const specs: SleeveSpec[] = options.sleeves.map((sleeve, k) => {
    const strategy = typeof sleeve.strategy === 'string' ? getStrategy(sleeve.strategy) : sleeve.strategy
    const params = resolveParams(`strategy ${strategy.name}`, strategy.params, sleeve.params) as Record<string, number>
    const problem = strategy.validate?.(params)
    if (problem !== undefined) throw new ConfigError(`strategy ${strategy.name}: ${problem}`)
    if (sleeve.symbols.length === 0) throw new ConfigError(`strategy ${strategy.name} needs at least one symbol`)
    const subscriptions = strategy.universe(params, { symbols: sleeve.symbols, timeframe: sleeve.timeframe })
    if (subscriptions.length === 0) throw new ConfigError(`strategy ${strategy.name} subscribed to nothing`)
    const base = sleeve.name ?? strategy.name
    const count = (seen.get(base) ?? 0) + 1
    seen.set(base, count)
    return { strategy, params, subscriptions, cash: (cash * weights[k]!) / totalWeight, name: count === 1 ? base : `${base}#${count}` }
  })
  return specs
}

function engineOptions(options: Omit<PortfolioOptions, 'data'>): EngineOptions {
  const lotSize = options.lotSize ?? 0
  return {
    fills: fillModel(options.fills),
    limits: riskLimits(options.limits),
    sizing: options.sizing ?? { percent: 1 },
    lotSize,
    closeAtEnd: options.closeAtEnd ?? false,
    ...(options.progress === undefined ? {} : { progress: options.progress }),
  }
}

// The last run's engine, kept alive until the next run. Its objects' final shapes (V8 maps) are
// reachable only through their constructors' transition trees, which hold them weakly: once a run's
// objects were all garbage, a full collection dropped the maps and deoptimized every engine function
// that checked them ("weak objects"), so the next backtest restarted in the interpreter (about 1.4×
// the time). The cost is the last run's working state (its record logs and indicator arrays) kept
// until the next backtest. Plain version: nothing kept.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
let lastEngine: Engine | undefined

/** The data source as a lookup that slices to the time range and refuses what it does not have. */
function dataLookup(data: DataSource, range: TimeRange): (symbol: string, timeframe: string) => Bars {
  return (symbol, timeframe) => {
    let bars: Bars | undefined
    if (typeof data === 'function') bars = data(symbol, timeframe)
    else {
      bars = data[`${symbol}@${timeframe}`] ?? data[symbol]
      if (bars !== undefined && bars.timeframe !== timeframe) {
        throw new DataError(`data for ${symbol} is ${bars.timeframe}, the strategy asked for ${timeframe}; pass "${symbol}@${timeframe}"`)
      }
    }
    if (bars === undefined) throw new DataError(`no data for ${symbol} ${timeframe}`)
    const sliced = range.start === undefined && range.end === undefined ? bars : sliceBars(bars, range)
    if (sliced.time.length === 0) throw new DataError(`no bars for ${symbol} ${timeframe} between ${String(range.start ?? 'the start')} and ${String(range.end ?? 'the end')}`)
    return sliced
  }
}
