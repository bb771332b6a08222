// Walk-forward optimisation: tune a strategy's parameters on each in-sample window, trade the winner on
// the next out-of-sample window, stitch the out-of-sample equity, and say how much the search itself
// overfitted — the deflated Sharpe ratio of the stitched result given every trial run (Bailey & López de
// Prado 2014) and the probability of backtest overfitting by CSCV (Bailey et al. 2016).

import { ConfigError, Progress, type ProgressSink } from '../core/index.js'
import { backtest, observedPeriodsPerYear, seriesOf, type BacktestOptions, type BacktestResult } from '../backtest/index.js'
import type { Bars } from '../data/index.js'
import type { DataRef, Executor } from '../exec/types.js'
import { deflatedSharpe, performanceMetrics, probabilityOfBacktestOverfitting, returnMoments, returnsOf, type DeflatedSharpe, type Performance, type PboResult } from '../stats/index.js'
import { strategyRefOf, type Strategy, type StrategyRef } from '../strategy/index.js'
import { spaceFromParamSpace, type SpaceSpec } from './space.js'
import { createStudy } from './study.js'
import { TrialPruned } from './trial.js'
import type { Sampler } from './types.js'

export type WalkForwardMetric = 'sharpe' | 'sortino' | 'calmar' | 'totalReturn' | 'cagr'

export interface WalkForwardOptimizeOptions extends Omit<BacktestOptions, 'params' | 'start' | 'end' | 'strategy'> {
  strategy: Strategy<any>
  /** Bars in each in-sample window. */
  inSample: number
  /** Bars in each out-of-sample window (also the step between windows). */
  outOfSample: number
  /** Keep the in-sample start at the first bar (expanding windows; default false: rolling). */
  anchored?: boolean
  /** What the search maximises (default sharpe). */
  metric?: WalkForwardMetric
  /** Trials per window (default 50). */
  nTrials?: number
  /** A new sampler per window (default TPE seeded with seed + window). */
  sampler?: (window: number) => Sampler
  seed?: number
  /** The space searched (default: the strategy's ParamSpace ranges). */
  space?: SpaceSpec
  /** Parameter sets, among those tried, scored over the whole range for PBO (default 32; 0 skips PBO). */
  pboConfigs?: number
  /** CSCV blocks (default 16). */
  pboPartitions?: number
  progress?: ProgressSink
  /**
   * Run the windows as jobs on an executor (lib/exec: local threads, or `mtflow worker` processes through
   * BullMQ); the report is the same, bit for bit, as in this thread. Needs a built-in strategy or
   * `strategyFile`, bars given as a record, and a seed (not a sampler function).
   */
  executor?: Executor
  /** The file the strategy was loaded from (how a worker loads it). */
  strategyFile?: string
  /** Each symbol's bars as workers elsewhere find them (lake query and snapshot id): the bullmq executor needs them. */
  dataRefs?: Readonly<Record<string, DataRef>>
  /** Aborting cancels the windows not yet run (executor only). */
  signal?: AbortSignal
}

export interface WalkForwardWindow {
  inSample: { start: number; end: number }
  outOfSample: { start: number; end: number }
  params: Record<string, number>
  /** The winner's metric in sample, and out of sample. */
  isMetric: number
  oosMetric: number
  trials: number
  /** Trials that gave no number: failed (an error, a set the strategy refused) or pruned (the metric NaN: no trades). */
  failedTrials: number
  /** Every completed trial of the window's search: its parameters and in-sample metric. */
  history: { params: Record<string, number>; value: number }[]
}

export interface WalkForwardReport {
  metric: WalkForwardMetric
  windows: WalkForwardWindow[]
  /** The out-of-sample equity, windows chained (each starts flat with the equity the last one ended on). */
  time: Float64Array
  equity: Float64Array
  outOfSample: Performance
  /**
   * Mean over windows of the winner's metric, in and out of sample, both over the same windows (those where
   * both are numbers); efficiency = OOS / IS.
   */
  isMean: number
  oosMean: number
  efficiency: number
  /** Windows whose out-of-sample metric is not a number (NaN: no trade, a flat curve has no Sharpe). */
  oosUndefined: number
  /** Windows left out of both means: a metric in or out of sample that is not finite (NaN, or +Infinity: a Sortino with no down period). */
  leftOut: number
  nTrials: number
  /** Of the stitched out-of-sample Sharpe (per period), deflated by every trial's in-sample Sharpe. */
  deflatedSharpe: DeflatedSharpe | undefined
  pbo: PboResult | undefined
  periodsPerYear: number
}

export async function walkForwardOptimize(o: WalkForwardOptimizeOptions): Promise<WalkForwardReport> {
  const metric = o.metric ?? 'sharpe'
  const nTrials = o.nTrials ?? 50
  if (!(Number.isInteger(o.inSample) && o.inSample >= 20)) throw new ConfigError(`inSample must be an integer number of bars ≥ 20 (received ${o.inSample})`)
  if (!(Number.isInteger(o.outOfSample) && o.outOfSample >= 5)) throw new ConfigError(`outOfSample must be an integer number of bars ≥ 5 (received ${o.outOfSample})`)
  if (!(Number.isInteger(nTrials) && nTrials >= 1)) throw new ConfigError(`nTrials must be an integer ≥ 1 (received ${nTrials})`)
  const time = clock(o)
  // One annualisation for every metric of the report — each window's trials, its out-of-sample run, the stitched
  // curve: the bars per year of the whole data unless given. Each backtest's own (before) annualised each window
  // by its range's bars per year, the stitched curve by the first trial's: in- and out-of-sample Sharpes, and so
  // their means and the efficiency, scaled differently window by window (a numbers audit).
  const annual = o.periodsPerYear ?? observedPeriodsPerYear(time)
  o = { ...o, periodsPerYear: annual }
  const starts: number[] = []
  for (let s = o.inSample; s + o.outOfSample <= time.length; s += o.outOfSample) starts.push(s)
  if (starts.length === 0) throw new ConfigError(`${time.length} bars hold no window of ${o.inSample} in sample + ${o.outOfSample} out of sample`)
  const space = o.space ?? (spaceFromParamSpace(o.strategy.params as never) as unknown as SpaceSpec)
  const progress = new Progress({ sink: o.progress, total: starts.length * nTrials, label: 'walk-forward' })
  const results: WindowRun[] = o.executor === undefined ? [] : await windowsOnExecutor(o, o.executor, starts, space, nTrials, metric, progress)
  if (o.executor === undefined) for (const [w, oosStart] of starts.entries()) results.push(await runWindow(o, w, oosStart, time, space, nTrials, metric, () => progress.tick()))
  const windows: WalkForwardWindow[] = []
  const trialSharpes: number[] = []
  const tried = new Map<string, Record<string, number>>()
  const stitchedTime: number[] = []
  const stitched: number[] = []
  let level = o.cash ?? 100_000
  for (const r of results) {
    trialSharpes.push(...r.trialSharpes)
    for (const params of r.tried) tried.set(JSON.stringify(params), params)
    // Chain: this window's returns applied to the level the last one ended on.
    const { time: t, equity } = r.oos
    if (windows.length === 0) {
      stitchedTime.push(t[0]!)
      stitched.push(level)
    }
    for (let i = 1; i < equity.length; i++) {
      level *= equity[i]! / equity[i - 1]!
      stitchedTime.push(t[i]!)
      stitched.push(level)
    }
    windows.push(r.window)
  }
  progress.finish()
  const equity = Float64Array.from(stitched)
  const outOfSample = performanceMetrics(equity, { periodsPerYear: annual })
  // Both means over the same windows. A window whose out-of-sample run made no trade has a flat curve and no
  // Sharpe (NaN): left out of the out-of-sample mean alone (before), its in-sample value stayed in the other,
  // and the efficiency compared different windows (a numbers audit: 1.005 where the same windows give 1.050).
  const paired = windows.filter((w) => Number.isFinite(w.isMetric) && Number.isFinite(w.oosMetric))
  const isMean = mean(paired.map((w) => w.isMetric))
  const oosMean = mean(paired.map((w) => w.oosMetric))
  const oosUndefined = windows.filter((w) => Number.isNaN(w.oosMetric)).length
  const returns = returnsOf(equity)
  const dsr = trialSharpes.length >= 2 && returns.length >= 3 ? deflatedSharpe({ ...returnMoments(returns), trialSharpes }) : undefined
  const pbo = (o.pboConfigs ?? 32) > 0 && tried.size >= 2 ? overfitting(o, [...tried.values()], o.pboConfigs ?? 32, o.pboPartitions ?? 16, time) : undefined
  return { metric, windows, time: Float64Array.from(stitchedTime), equity, outOfSample, isMean, oosMean, efficiency: oosMean / isMean, oosUndefined, leftOut: windows.length - paired.length, nTrials: windows.reduce((a, w) => a + w.trials, 0), deflatedSharpe: dsr, pbo, periodsPerYear: annual }
}

/** One window: its search in sample, the winner out of sample, and what the report gathers from it. */
export interface WindowRun {
  window: WalkForwardWindow
  /** Each finite trial Sharpe, per period, in the order tried. */
  trialSharpes: number[]
  /** The parameter sets tried, in the order first tried. */
  tried: Record<string, number>[]
  /** The out-of-sample equity from the bar before the window (the chain's link). */
  oos: { time: Float64Array; equity: Float64Array }
}

export async function runWindow(o: WalkForwardOptimizeOptions, w: number, oosStart: number, time: Float64Array, space: SpaceSpec, nTrials: number, metric: WalkForwardMetric, onTrial: () => void): Promise<WindowRun> {
  // The backtests report nothing of their own: the walk-forward's progress is per trial.
  const runs = { ...o, progress: undefined, executor: undefined, signal: undefined }
  const value = (r: BacktestResult) => r.metrics[metric] as number
  const isStart = o.anchored === true ? 0 : oosStart - o.inSample
  const isRange = { start: time[isStart]!, end: time[oosStart - 1]! }
  const sampler = o.sampler?.(w)
  const study = createStudy({ direction: 'maximize', space, ...(sampler === undefined ? { seed: (o.seed ?? 0) + w } : { sampler }) })
  const trialSharpes: number[] = []
  const tried = new Map<string, Record<string, number>>()
  await study.optimize(
    (trial) => {
      const params = trial.params as Record<string, number>
      const r = backtest({ ...runs, params, ...isRange })
      const s = r.metrics.sharpe
      if (Number.isFinite(s)) trialSharpes.push(s / Math.sqrt(r.periodsPerYear))
      tried.set(JSON.stringify(params), params)
      const v = value(r)
      // No number (NaN: a set that never traded): pruned, not failed, so TPE ranks it behind the scored sets and
      // moves away from it (it learns nothing from failed trials). +Infinity is a score.
      if (Number.isNaN(v)) throw new TrialPruned(`${metric} is undefined for these params (NaN: no trades, or no drawdown for calmar)`)
      return v
    },
    { nTrials, onTrial },
  )
  // A number, +Infinity included (a Sortino with no down period is the best there is).
  const complete = study.trials.filter((t) => t.state === 'complete' && t.values !== undefined && !Number.isNaN(t.values[0]))
  if (complete.length === 0) throw new ConfigError(`window ${w + 1}: no trial gave a number for ${metric} (e.g. every parameter set failed validation or never traded)`)
  const best = complete.reduce((a, b) => (b.values![0]! > a.values![0]! ? b : a))
  const params = best.params as Record<string, number>
  // Out of sample: from enough bars before the window for the strategy's warm-up, positions closed at its end.
  const oosEnd = Math.min(time.length, oosStart + o.outOfSample) - 1
  const warm = Math.max(0, oosStart - Math.max(1, o.strategy.warmup(params as never)))
  const r = backtest({ ...runs, params, start: time[warm]!, end: time[oosEnd]!, closeAtEnd: true })
  const from = Math.max(0, r.time.findIndex((t) => t >= time[oosStart]!) - 1)
  const equity = r.equity.slice(from)
  const seg = equity.length >= 2 ? performanceMetrics(equity, { periodsPerYear: o.periodsPerYear ?? r.periodsPerYear }) : undefined
  return {
    window: {
      inSample: isRange,
      outOfSample: { start: time[oosStart]!, end: time[oosEnd]! },
      params,
      isMetric: best.values![0]!,
      oosMetric: seg === undefined ? NaN : (seg[metric] as number),
      trials: study.trials.length,
      failedTrials: study.trials.filter((t) => t.state !== 'complete').length,
      history: complete.map((t) => ({ params: t.params as Record<string, number>, value: t.values![0]! })),
    },
    trialSharpes,
    tried: [...tried.values()],
    oos: { time: r.time.slice(from, from + equity.length), equity },
  }
}

/** What every window job of a walk-forward shares (lib/tune/jobs.ts). */
export interface WindowJobContext {
  strategy: StrategyRef
  /** The options, JSON: no strategy object, data, sampler or progress. */
  options: Omit<WalkForwardOptimizeOptions, 'strategy' | 'data' | 'sampler' | 'progress' | 'executor' | 'signal' | 'dataRefs' | 'strategyFile'>
  space: SpaceSpec
  nTrials: number
  metric: WalkForwardMetric
}

async function windowsOnExecutor(o: WalkForwardOptimizeOptions, executor: Executor, starts: number[], space: SpaceSpec, nTrials: number, metric: WalkForwardMetric, progress: Progress): Promise<WindowRun[]> {
  if (o.sampler !== undefined) throw new ConfigError('a walk-forward on an executor takes a seed, not a sampler function (a function cannot cross threads)')
  if (typeof o.data === 'function') throw new ConfigError('a walk-forward on an executor needs its bars as a record { SYMBOL: bars } (a loader function cannot cross threads)')
  const ref = strategyRefOf(o.strategy, o.strategyFile)
  if (ref === undefined) throw new ConfigError(`a walk-forward on ${executor.describe} needs a built-in strategy or strategyFile (an object cannot cross threads)`)
  const { strategy: _s, data: _d, sampler: _p, progress: _g, executor: _e, signal: _x, dataRefs: _r, strategyFile: _f, ...options } = o
  const data: Record<string, { series: ReturnType<typeof seriesOf>; ref?: DataRef }> = {}
  for (const symbol of o.symbols) {
    const bars = (o.data as Record<string, Bars>)[symbol]
    if (bars === undefined) throw new ConfigError(`no bars for ${symbol} ${o.timeframe}`)
    const r = o.dataRefs?.[symbol]
    data[symbol] = { series: seriesOf(bars), ...(r === undefined ? {} : { ref: r }) }
  }
  const context: WindowJobContext = { strategy: ref, options, space, nTrials, metric }
  const outcomes = await executor.run<{ w: number; oosStart: number }, WindowRun>({
    kind: 'tune.walkForwardWindow',
    label: 'walk-forward',
    context,
    data,
    items: starts.map((oosStart, w) => ({ w, oosStart })),
    ...(o.signal === undefined ? {} : { signal: o.signal }),
    progress: { update: (state) => progress.set((state.done ?? 0) * nTrials) },
  })
  return outcomes.map((r, w) => {
    if (!r.ok) throw new ConfigError(`walk-forward window ${w + 1}: ${r.error}`)
    return r.value
  })
}

/** The bar times of the first subscription (the windows are cut on them). */
function clock(o: WalkForwardOptimizeOptions): Float64Array {
  const symbol = o.symbols[0]
  if (symbol === undefined) throw new ConfigError('walk-forward needs at least one symbol')
  const bars: Bars | undefined = typeof o.data === 'function' ? o.data(symbol, o.timeframe) : o.data[symbol]
  if (bars === undefined) throw new ConfigError(`no bars for ${symbol} ${o.timeframe}`)
  return bars.time
}

/**
 * PBO over the parameter sets tried: each scored over the whole range (one return per bar), the sets
 * spread evenly over those tried (in the order first tried) when there are more than `count`.
 */
function overfitting(o: WalkForwardOptimizeOptions, sets: Record<string, number>[], count: number, partitions: number, time: Float64Array): PboResult | undefined {
  const picked = sets.length <= count ? sets : Array.from({ length: count }, (_, i) => sets[Math.floor((i * sets.length) / count)]!)
  const columns: Float64Array[] = []
  for (const params of picked) {
    try {
      const r = backtest({ ...o, progress: undefined, params, start: time[0]!, end: time[time.length - 1]! })
      columns.push(returnsOf(r.equity))
    } catch {
      // A set that fails over the whole range (it passed on a window) is left out.
    }
  }
  if (columns.length < 2) return undefined
  const rows = Math.min(...columns.map((c) => c.length))
  if (rows < partitions * 2) return undefined
  const matrix = Array.from({ length: rows }, (_, t) => Float64Array.from(columns, (c) => c[c.length - rows + t]!))
  return probabilityOfBacktestOverfitting(matrix, { partitions })
}

function mean(x: readonly number[]): number {
  const finite = x.filter(Number.isFinite)
  return finite.length === 0 ? NaN : finite.reduce((a, b) => a + b, 0) / finite.length
}

