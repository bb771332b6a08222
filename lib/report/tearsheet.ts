// Tearsheets: quantstats' metrics and plots of an equity curve (with its trades, the traded symbol's prices
// and a benchmark when given) as a JSON-safe object, and that object as one self-contained HTML page.
// The conventions are quantstats 0.0.78's unless written otherwise next to the metric (see Tearsheet).

import { ConfigError, DataError } from '../core/index.js'
import { annualVolatility, deflatedSharpe, returnMoments, sharpe as sharpeRatio, sortino as sortinoRatio } from '../stats/index.js'
import { normalQuantile } from '../stats/index.js'
import {
  calendarReturns,
  checkSeries,
  dailyEquity,
  DAY_MS,
  decimateIndices,
  drawdownPeriods,
  excessKurtosis,
  greeks,
  histogram,
  isoDay,
  mean,
  quantileSorted,
  rollingStats,
  sampleSd,
  skewness,
  sorted,
  tradeGroup,
  tradeGroups,
  winRate,
  worstDrawdowns,
  type DrawdownPeriod,
  type TradeColumns,
  type TradeGroup,
} from './tearsheet-metrics.js'
export { fmtPercent, fmtRatio, tearsheetHtml } from './tearsheet-plots.js'

export type { DrawdownPeriod, TradeColumns, TradeGroup } from './tearsheet-metrics.js'

export interface PriceSeries {
  /** The traded symbol (prices) or the benchmark's name. */
  name: string
  time: ArrayLike<number>
  close: ArrayLike<number>
}

export interface TearsheetInput {
  /** Epoch ms of each equity point, strictly increasing. */
  time: ArrayLike<number>
  /** Account value at each point, > 0. */
  equity: ArrayLike<number>
  trades?: TradeColumns
  /** The traded symbol's closes: the price chart with the trades on it, and the default benchmark (buy and hold). */
  prices?: PriceSeries
  benchmark?: PriceSeries
}

export interface TearsheetOptions {
  title?: string
  /** Daily returns per year (default 252, quantstats' default; 365 for markets that trade every day). */
  periodsPerYear?: number
  /** Annual risk-free rate as a fraction (default 0); per day (1 + rf)^(1/periodsPerYear) − 1. */
  riskFree?: number
  /** Strategies tried before this one was picked (default 1): deflates the Sharpe ratio. */
  trials?: number
  /**
   * Variance of the trials' per-day Sharpe ratios, for the deflated Sharpe. Default: the sampling variance of
   * this curve's own per-day Sharpe, (1 − γ₃·SR + (γ₄ − 1)/4·SR²)/(n − 1) — what the trials' Sharpes would
   * scatter by if none had an edge.
   */
  trialVariance?: number
  /**
   * Rolling window in days (default 126, quantstats' `rolling_sharpe`/`rolling_volatility` default), annualised
   * with √periodsPerYear. The rolling Sharpe subtracts the same per-day risk-free rate as the Sharpe ratio
   * (quantstats de-annualises rf over the window's 126 days there, which we do not copy).
   */
  rollingWindow?: number
  /** Histogram bins of the daily returns (default 50). */
  bins?: number
  /** false: no buy-and-hold benchmark when prices are given and no benchmark is. */
  buyAndHold?: boolean
}

/** Every value is a finite number or null (undefined here: e.g. a profit factor without losses). */
export interface TearsheetMetrics {
  /** last / first equity − 1. */
  totalReturn: number | null
  /** (1 + totalReturn)^(1/years) − 1, years = (last time − first time) / 365.25 days (quantstats 0.0.78 counts returns / 252 instead). */
  cagr: number | null
  /** Sample sd (ddof 1) of daily returns × √periodsPerYear (raw returns, not excess). */
  volatility: number | null
  /** Mean daily excess return / sample sd × √periodsPerYear. */
  sharpe: number | null
  /**
   * P(true Sharpe > 0), Bailey & López de Prado (2012) with population skewness and non-excess kurtosis of the
   * daily excess returns. quantstats' `probabilistic_sharpe_ratio` puts pandas' excess kurtosis where the
   * formula wants the non-excess one; we follow the paper.
   */
  probabilisticSharpe: number | null
  /** PSR against the expected maximum Sharpe of `trials` luck-only trials (Bailey & López de Prado 2014); = PSR for one trial. */
  deflatedSharpe: number | null
  /** Mean daily excess return / √(Σ min(0, excess)² / n) × √periodsPerYear (quantstats' downside deviation: squares of the negative excess returns over all n days). */
  sortino: number | null
  /** CAGR / max drawdown. */
  calmar: number | null
  /** Σ positive daily excess returns / |Σ negative| (threshold 0). */
  omega: number | null
  /** Deepest fall of the daily equity from its running high, a positive fraction. */
  maxDrawdown: number | null
  maxDrawdownPeriod: DrawdownPeriod | null
  /** Longest drawdown period in calendar days (DrawdownPeriod.days). */
  longestDrawdownDays: number
  /** |Σ daily returns| / max drawdown (quantstats sums the returns, it does not compound them). */
  recoveryFactor: number | null
  /** Daily returns' skewness, bias-corrected as pandas' `skew`. */
  skew: number | null
  /** Daily returns' excess kurtosis, bias-corrected as pandas' `kurt` (normal = 0). */
  kurtosis: number | null
  /**
   * Daily value at risk at 95 %, as quantstats' `value_at_risk`: parametric (variance–covariance), the 5 % quantile
   * of a normal with the daily returns' mean and sample sd: μ + σ·Φ⁻¹(0.05). A return (negative = a loss).
   */
  valueAtRisk: number | null
  /** As quantstats' `cvar`: mean of the daily returns below valueAtRisk (valueAtRisk itself when none is). */
  conditionalValueAtRisk: number | null
  /** Historical daily VaR at 95 %: the 5 % quantile of the daily returns (linear interpolation, numpy's default). */
  historicalValueAtRisk: number | null
  /** Mean of the daily returns at or below historicalValueAtRisk (expected shortfall). */
  historicalConditionalValueAtRisk: number | null
  /** |95 % quantile / 5 % quantile| of daily returns. */
  tailRatio: number | null
  /** Mean positive daily return / |mean negative daily return|. */
  payoffRatio: number | null
  /** Σ daily returns ≥ 0 / |Σ daily returns < 0| (of returns, as quantstats; trade P&L factors are in `trades`). */
  profitFactor: number | null
  /** Share of days, months, years up among those that moved (quantstats' `win_rate`: flat periods are left out). */
  winRateDay: number | null
  winRateMonth: number | null
  winRateYear: number | null
  /** Best and worst daily return, and calendar month and year returns (compounded from the daily returns). */
  bestDay: number | null
  worstDay: number | null
  bestMonth: number | null
  worstMonth: number | null
  bestYear: number | null
  worstYear: number | null
}

export interface BenchmarkSummary {
  name: string
  /** 'given' or 'buy and hold' (the traded symbol's prices). */
  source: 'given' | 'buy and hold'
  totalReturn: number | null
  cagr: number | null
  sharpe: number | null
  volatility: number | null
  maxDrawdown: number | null
  /** Strategy daily returns with a benchmark value at both ends (the pairs beta, alpha and correlation use: the benchmark's return over the same span). */
  pairs: number
  /** cov(r, b) / var(b) over the paired daily returns (sample covariances). */
  beta: number | null
  /** (mean r − β·mean b) × periodsPerYear. */
  alpha: number | null
  /** Pearson correlation of the paired daily returns. */
  correlation: number | null
}

export interface TradeSummary {
  /** Closed trades (open ones are counted apart and left out). */
  all: TradeGroup
  open: number
  bySymbol: TradeGroup[]
  byTag: TradeGroup[]
  /** Only when the trades record why each was closed. */
  byExitReason: TradeGroup[] | null
  /** By the UTC month of the exit, "2024-01". */
  byMonth: TradeGroup[]
}

export interface MonthlyRow {
  year: number
  /** January … December; null for a month without data. */
  months: (number | null)[]
  /** The year's return (compounded). */
  total: number
}

export interface Tearsheet {
  version: 1
  title: string
  conventions: { periodsPerYear: number; riskFree: number; trials: number; rollingWindow: number; points: number; days: number; returns: number }
  start: string
  end: string
  metrics: TearsheetMetrics
  benchmark: BenchmarkSummary | null
  /** The 5 deepest drawdown periods, deepest first. */
  drawdowns: DrawdownPeriod[]
  monthly: MonthlyRow[]
  yearly: { year: number; return: number }[]
  /** The daily equity: UTC midnight of each day (ms), cumulative return, drawdown (≤ 0, as plotted underwater). */
  series: { time: number[]; cumulative: number[]; drawdown: number[] }
  /** The benchmark's cumulative return on its own days. */
  benchmarkSeries: { time: number[]; cumulative: number[] } | null
  /** Daily returns (time = the day's UTC midnight). */
  returns: { time: number[]; value: number[] }
  /** Rolling annualised Sharpe and volatility, one value per window end (from the window-th return on). */
  rolling: { window: number; time: number[]; sharpe: number[]; volatility: number[] }
  histogram: { edges: number[]; counts: number[] }
  trades: TradeSummary | null
  /** The traded symbol's closes (decimated for the chart) and the trades on it. */
  prices: { symbol: string; time: number[]; close: number[]; marks: { trade: number; time: number; price: number; kind: 'entry' | 'exit'; direction: string }[] } | null
}

interface Normalised {
  title: string
  periodsPerYear: number
  riskFree: number
  trials: number
  trialVariance: number | undefined
  rollingWindow: number
  bins: number
  buyAndHold: boolean
}

function normalise(options: TearsheetOptions): Normalised {
  if (options === null || typeof options !== 'object') throw new ConfigError(`tearsheet options must be an object (received ${String(options)})`)
  const o = {
    title: options.title ?? 'Tearsheet',
    periodsPerYear: options.periodsPerYear ?? 252,
    riskFree: options.riskFree ?? 0,
    trials: options.trials ?? 1,
    trialVariance: options.trialVariance,
    rollingWindow: options.rollingWindow ?? 126,
    bins: options.bins ?? 50,
    buyAndHold: options.buyAndHold ?? true,
  }
  if (typeof o.title !== 'string') throw new ConfigError(`title must be a string (received ${String(o.title)})`)
  if (!(o.periodsPerYear > 0 && o.periodsPerYear < Infinity)) throw new ConfigError(`periodsPerYear must be a number > 0, e.g. 252 (received ${String(o.periodsPerYear)})`)
  if (!(o.riskFree > -1 && o.riskFree < Infinity)) throw new ConfigError(`riskFree must be an annual rate as a fraction > −1, e.g. 0.03 (received ${String(o.riskFree)})`)
  if (!(o.trials >= 1 && o.trials < Infinity)) throw new ConfigError(`trials must be a number ≥ 1 (received ${String(o.trials)})`)
  if (o.trialVariance !== undefined && !(o.trialVariance >= 0 && o.trialVariance < Infinity)) throw new ConfigError(`trialVariance must be a finite number ≥ 0 (received ${String(o.trialVariance)})`)
  if (!Number.isInteger(o.rollingWindow) || o.rollingWindow < 2) throw new ConfigError(`rollingWindow must be an integer ≥ 2 (received ${String(o.rollingWindow)})`)
  if (!Number.isInteger(o.bins) || o.bins < 1) throw new ConfigError(`bins must be an integer ≥ 1 (received ${String(o.bins)})`)
  if (typeof o.buyAndHold !== 'boolean') throw new ConfigError(`buyAndHold must be true or false (received ${String(o.buyAndHold)})`)
  return o
}

/** A finite number, else null (JSON has no NaN or ∞). */
function num(v: number): number | null {
  return Number.isFinite(v) ? v : null
}

function checkTrades(trades: TradeColumns): number[] {
  if (trades === null || typeof trades !== 'object') throw new DataError('trades must be columns { symbol, entryTime, exitTime, pnl, … }')
  for (const k of ['symbol', 'entryTime', 'exitTime', 'pnl'] as const) {
    if (trades[k] === undefined || typeof trades[k].length !== 'number') throw new DataError(`trades.${k} is missing; expected one value per trade`)
  }
  const n = trades.pnl.length
  for (const k of ['symbol', 'entryTime', 'exitTime', 'returnPct', 'entryPrice', 'exitPrice', 'qty', 'direction', 'tag', 'exitReason', 'open'] as const) {
    const col = trades[k]
    if (col !== undefined && col.length !== n) throw new DataError(`trades.${k} has ${col.length} values, trades.pnl ${n}; expected one per trade`)
  }
  const rows: number[] = []
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(trades.pnl[i]!)) throw new DataError(`trades.pnl[${i}] is ${trades.pnl[i]}; expected a finite number`)
    if (!Number.isFinite(trades.exitTime[i]!)) throw new DataError(`trades.exitTime[${i}] is ${trades.exitTime[i]}; expected epoch milliseconds`)
    if (trades.open?.[i] !== true) rows.push(i)
  }
  return rows
}

/** Daily returns of a daily curve. */
function returnsOfDaily(value: Float64Array): Float64Array {
  const r = new Float64Array(value.length - 1)
  for (let k = 1; k < value.length; k++) r[k - 1] = value[k]! / value[k - 1]! - 1
  return r
}

/** Elements a…b − 1 (a view of a typed array, a copy of anything else). */
function span(x: ArrayLike<number>, a: number, b: number): ArrayLike<number> {
  return x instanceof Float64Array ? x.subarray(a, b) : Array.prototype.slice.call(x, a, b)
}

function maxOf(x: ArrayLike<number>): number {
  let m = -Infinity
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!
  return m
}

function minOf(x: ArrayLike<number>): number {
  let m = Infinity
  for (let i = 0; i < x.length; i++) if (x[i]! < m) m = x[i]!
  return m
}

function cagrOf(first: number, last: number, t0: number, t1: number): number {
  return Math.pow(last / first, 1 / ((t1 - t0) / (365.25 * DAY_MS))) - 1
}

/** The metrics and series of an equity curve (and its trades, prices and benchmark when given). */
export function tearsheet(input: TearsheetInput, options: TearsheetOptions = {}): Tearsheet {
  const o = normalise(options)
  if (input === null || typeof input !== 'object') throw new DataError('tearsheet input must be { time, equity, trades?, prices?, benchmark? }')
  const { time, equity } = input
  checkSeries('equity', time, equity, 'equity', 2)
  const n = time.length
  const { day, value } = dailyEquity(time, equity)
  if (value.length < 2) throw new DataError('equity spans a single point in time; a tearsheet needs at least 2')
  const r = returnsOfDaily(value)
  const rDay = day.subarray(1)
  const nr = r.length
  const ann = { periodsPerYear: o.periodsPerYear, riskFree: o.riskFree }
  const rfDay = Math.pow(1 + o.riskFree, 1 / o.periodsPerYear) - 1
  const excess = new Float64Array(nr)
  for (let i = 0; i < nr; i++) excess[i] = r[i]! - rfDay

  const totalReturn = equity[n - 1]! / equity[0]! - 1
  const cagr = cagrOf(equity[0]!, equity[n - 1]!, time[0]!, time[n - 1]!)
  const { drawdown, periods } = drawdownPeriods(day, value)
  const maxDd = maxOf(drawdown)
  const deepest = periods.length === 0 ? null : worstDrawdowns(periods, 1)[0]!
  const s = sorted(r)
  const hasMoments = nr >= 3
  let psr = NaN
  let dsr = NaN
  if (hasMoments) {
    const m = returnMoments(excess)
    try {
      const variance = o.trialVariance ?? (1 - m.skew * m.sharpe + ((m.kurtosis - 1) / 4) * m.sharpe * m.sharpe) / (m.n - 1)
      const d = deflatedSharpe({ sharpe: m.sharpe, n: m.n, skew: m.skew, kurtosis: m.kurtosis, nTrials: o.trials, variance })
      psr = d.psr
      dsr = d.dsr
    } catch (cause) {
      // A flat or degenerate curve has no Sharpe distribution: both stay undefined (null).
      if (!(cause instanceof ConfigError)) throw cause
    }
  }
  const mr = mean(r)
  const sdr = sampleSd(r)
  const varNormal = mr + sdr * normalQuantile(0.05)
  let below = 0
  let belowSum = 0
  let sumPos = 0
  let sumNeg = 0
  let nPos = 0
  let nNeg = 0
  let sumAll = 0
  let exPos = 0
  let exNeg = 0
  for (let i = 0; i < nr; i++) {
    const x = r[i]!
    sumAll += x
    if (x < varNormal) {
      below++
      belowSum += x
    }
    if (x > 0) {
      nPos++
      sumPos += x
    } else if (x < 0) {
      nNeg++
      sumNeg += x
    }
    const e = excess[i]!
    if (e > 0) exPos += e
    else if (e < 0) exNeg += e
  }
  const varHist = quantileSorted(s, 0.05)
  let tail = 0
  let tailSum = 0
  for (let i = 0; i < nr && s[i]! <= varHist; i++) {
    tail++
    tailSum += s[i]!
  }
  const months = calendarReturns(rDay, r, 'month')
  const years = calendarReturns(rDay, r, 'year')
  const monthValues = months.map((m) => m.return)
  const yearValues = years.map((y) => y.return)
  const q95 = quantileSorted(s, 0.95)
  const q05 = varHist

  const metrics: TearsheetMetrics = {
    totalReturn: num(totalReturn),
    cagr: num(cagr),
    volatility: num(nr >= 2 ? annualVolatility(r, ann) : NaN),
    sharpe: num(nr >= 2 ? sharpeRatio(r, ann) : NaN),
    probabilisticSharpe: num(psr),
    deflatedSharpe: num(dsr),
    sortino: num(sortinoRatio(r, ann)),
    calmar: maxDd > 0 ? num(cagr / maxDd) : null,
    omega: exNeg < 0 ? num(exPos / -exNeg) : null,
    maxDrawdown: num(maxDd),
    maxDrawdownPeriod: deepest,
    longestDrawdownDays: periods.reduce((a, p) => Math.max(a, p.days), 0),
    recoveryFactor: maxDd > 0 ? num(Math.abs(sumAll) / maxDd) : null,
    skew: num(skewness(r)),
    kurtosis: num(excessKurtosis(r)),
    valueAtRisk: num(varNormal),
    conditionalValueAtRisk: num(below > 0 ? belowSum / below : varNormal),
    historicalValueAtRisk: num(varHist),
    historicalConditionalValueAtRisk: num(tailSum / tail),
    tailRatio: q05 === 0 ? null : num(Math.abs(q95 / q05)),
    payoffRatio: nPos > 0 && nNeg > 0 ? num(sumPos / nPos / Math.abs(sumNeg / nNeg)) : null,
    profitFactor: nNeg > 0 ? num(sumPos / -sumNeg) : null,
    winRateDay: num(winRate(r)),
    winRateMonth: num(winRate(monthValues)),
    winRateYear: num(winRate(yearValues)),
    bestDay: num(maxOf(r)),
    worstDay: num(minOf(r)),
    bestMonth: num(maxOf(monthValues)),
    worstMonth: num(minOf(monthValues)),
    bestYear: num(maxOf(yearValues)),
    worstYear: num(minOf(yearValues)),
  }

  const monthly: MonthlyRow[] = years.map((y) => ({ year: y.year, months: new Array<number | null>(12).fill(null), total: y.return }))
  for (const m of months) monthly.find((row) => row.year === m.year)!.months[m.month! - 1] = m.return

  const time0 = time[0]!
  const timeN = time[n - 1]!
  const benchmarkInput = input.benchmark ?? (input.prices !== undefined && o.buyAndHold ? input.prices : undefined)
  let benchmark: BenchmarkSummary | null = null
  // The prices when they are the benchmark too: checked once.
  let checked: PriceSeries | undefined
  let benchmarkSeries: Tearsheet['benchmarkSeries'] = null
  if (benchmarkInput !== undefined) {
    const which = input.benchmark !== undefined ? 'benchmark' : 'prices'
    if (typeof benchmarkInput.name !== 'string') throw new DataError(`${which}.name must be a string (received ${String(benchmarkInput.name)})`)
    checkSeries(which, benchmarkInput.time, benchmarkInput.close, 'close', 2)
    checked = benchmarkInput
    // The benchmark over the strategy's span only.
    let a = 0
    while (a < benchmarkInput.time.length && benchmarkInput.time[a]! < time0) a++
    let b = benchmarkInput.time.length
    while (b > a && benchmarkInput.time[b - 1]! > timeN) b--
    if (b - a < 2) throw new DataError(`${which} has fewer than 2 points between the equity's first and last time`)
    const bt = span(benchmarkInput.time, a, b)
    const bc = span(benchmarkInput.close, a, b)
    const bd = dailyEquity(bt, bc)
    // Pairs: each strategy return with the benchmark's return over the same span. The benchmark's value at each
    // of the strategy's daily points is its last daily value on or before that day (at the first point, its own
    // first, when on the first day); a span in which the benchmark has no new value is a return of 0 (quantstats
    // reindexes the benchmark's prices to the strategy's dates too). Pairing the returns dated the same day paired
    // a Friday-to-Monday return with a Sunday-to-Monday one when the calendars differ: a weekday curve that was
    // a 24/7 benchmark's price had a correlation of 0.84 and a beta of 0.97 with it (an audit).
    // Past the benchmark's last day it has no value (a benchmark ending before the strategy): no pair there, as
    // before its first (a return of 0 paired with each strategy return after its end diluted beta, correlation,
    // and its volatility: a review).
    const at = new Int32Array(value.length).fill(-1)
    const lastDay = bd.day[bd.day.length - 1]!
    if (bd.day[0]! <= day[0]!) at[0] = 0
    for (let k = 1, j = -1; k < value.length; k++) {
      while (j + 1 < bd.day.length && bd.day[j + 1]! <= day[k]!) j++
      at[k] = day[k]! > lastDay ? -1 : j
    }
    const pr: number[] = []
    const pb: number[] = []
    for (let i = 0; i < nr; i++) {
      const from = at[i]!
      const to = at[i + 1]!
      if (from < 0 || to < 0) continue
      pr.push(r[i]!)
      pb.push(bd.value[to]! / bd.value[from]! - 1)
    }
    const g = pr.length >= 2 ? greeks(pr, pb, o.periodsPerYear) : { beta: NaN, alpha: NaN, correlation: NaN }
    const bdd = drawdownPeriods(bd.day, bd.value).drawdown
    benchmark = {
      name: benchmarkInput.name,
      source: input.benchmark !== undefined ? 'given' : 'buy and hold',
      totalReturn: num(bc[bc.length - 1]! / bc[0]! - 1),
      cagr: num(cagrOf(bc[0]!, bc[bc.length - 1]!, bt[0]!, bt[bt.length - 1]!)),
      // On the strategy's spans, as periodsPerYear counts them: a 24/7 benchmark's own 365 returns a year
      // annualised with a weekday curve's 252 understated its volatility by √(252/365).
      sharpe: num(pb.length >= 2 ? sharpeRatio(pb, ann) : NaN),
      volatility: num(pb.length >= 2 ? annualVolatility(pb, ann) : NaN),
      maxDrawdown: num(maxOf(bdd)),
      pairs: pr.length,
      beta: num(g.beta),
      alpha: num(g.alpha),
      correlation: num(g.correlation),
    }
    benchmarkSeries = { time: Array.from(bd.day, (d) => d * DAY_MS), cumulative: Array.from(bd.value, (v) => v / bd.value[0]! - 1) }
  }

  let trades: TradeSummary | null = null
  if (input.trades !== undefined) {
    const t = input.trades
    const rows = checkTrades(t)
    trades = {
      all: tradeGroup(t, 'all', rows),
      open: t.pnl.length - rows.length,
      bySymbol: tradeGroups(t, (i) => String(t.symbol[i]), rows),
      byTag: tradeGroups(t, (i) => String(t.tag?.[i] ?? ''), rows),
      byExitReason: t.exitReason === undefined ? null : tradeGroups(t, (i) => String(t.exitReason![i]), rows),
      byMonth: tradeGroups(t, (i) => new Date(t.exitTime[i]!).toISOString().slice(0, 7), rows),
    }
  }

  let prices: Tearsheet['prices'] = null
  if (input.prices !== undefined) {
    const p = input.prices
    if (typeof p.name !== 'string') throw new DataError(`prices.name must be the traded symbol (received ${String(p.name)})`)
    if (checked !== p) checkSeries('prices', p.time, p.close, 'close', 2)
    const keep = decimateIndices(p.close, 400)
    const marks: NonNullable<Tearsheet['prices']>['marks'] = []
    const t = input.trades
    if (t !== undefined && t.entryPrice !== undefined && t.exitPrice !== undefined) {
      for (let i = 0; i < t.pnl.length; i++) {
        if (t.symbol[i] !== p.name) continue
        const direction = String(t.direction?.[i] ?? 'long')
        if (Number.isFinite(t.entryTime[i]!) && Number.isFinite(t.entryPrice[i]!)) marks.push({ trade: i, time: t.entryTime[i]!, price: t.entryPrice[i]!, kind: 'entry', direction })
        if (t.open?.[i] !== true && Number.isFinite(t.exitPrice[i]!)) marks.push({ trade: i, time: t.exitTime[i]!, price: t.exitPrice[i]!, kind: 'exit', direction })
      }
    }
    prices = { symbol: p.name, time: keep.map((i) => p.time[i]!), close: keep.map((i) => p.close[i]!), marks }
  }

  const roll = rollingStats(r, rfDay, o.rollingWindow, o.periodsPerYear)
  return {
    version: 1,
    title: o.title,
    conventions: { periodsPerYear: o.periodsPerYear, riskFree: o.riskFree, trials: o.trials, rollingWindow: o.rollingWindow, points: n, days: value.length, returns: nr },
    start: isoDay(day[0]!),
    end: isoDay(day[day.length - 1]!),
    metrics,
    benchmark,
    drawdowns: worstDrawdowns(periods, 5),
    monthly,
    yearly: years.map((y) => ({ year: y.year, return: y.return })),
    series: { time: Array.from(day, (d) => d * DAY_MS), cumulative: Array.from(value, (v) => v / value[0]! - 1), drawdown: Array.from(drawdown, (d) => (d === 0 ? 0 : -d)) },
    benchmarkSeries,
    returns: { time: Array.from(rDay, (d) => d * DAY_MS), value: Array.from(r) },
    rolling: { window: o.rollingWindow, time: Array.from(rDay.subarray(o.rollingWindow - 1), (d) => d * DAY_MS), sharpe: Array.from(roll.sharpe), volatility: Array.from(roll.volatility) },
    histogram: histogram(r, o.bins),
    trades,
    prices,
  }
}
