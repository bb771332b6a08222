// Performance metrics of an equity curve and of a list of trades. Annualisation is always explicit:
// `periodsPerYear` (252 trading days, 365 for crypto days, 8,760 hours …) says what one step of the
// curve is; nothing is guessed from timestamps. Returns are simple returns, e_t / e_{t−1} − 1.

import { ConfigError, DataError } from '../core/index.js'

export interface AnnualisationOptions {
  /** Steps of the series per year: 252 (trading days), 365 (calendar days), 52, 12, 8760 (hours) … */
  periodsPerYear: number
  /** Risk-free rate per year, as a fraction (default 0); per step it is (1 + rf)^(1/periodsPerYear) − 1. */
  riskFree?: number
}

function checkPeriods(options: AnnualisationOptions): number {
  const p = options?.periodsPerYear
  if (typeof p !== 'number' || !(p > 0)) throw new ConfigError(`periodsPerYear must be a number > 0, e.g. 252 for daily bars (received ${String(p)})`)
  return p
}

function checkEquity(equity: ArrayLike<number>): void {
  if (equity.length < 2) throw new DataError(`an equity curve needs at least 2 points (received ${equity.length})`)
  for (let i = 0; i < equity.length; i++) {
    const e = equity[i]!
    if (!(e > 0 && e < Infinity)) throw new DataError(`equity must be positive and finite; point ${i} is ${e}`)
  }
}

/** Simple returns e_t / e_{t−1} − 1 (length n − 1). */
export function returnsOf(equity: ArrayLike<number>): Float64Array {
  const out = new Float64Array(Math.max(0, equity.length - 1))
  for (let i = 1; i < equity.length; i++) out[i - 1] = equity[i]! / equity[i - 1]! - 1
  return out
}

function mean(x: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i]!
  return s / x.length
}

function sampleSd(x: ArrayLike<number>): number {
  const m = mean(x)
  let s = 0
  for (let i = 0; i < x.length; i++) s += (x[i]! - m) ** 2
  return Math.sqrt(s / (x.length - 1))
}

function riskFreePerStep(options: AnnualisationOptions): number {
  return Math.pow(1 + (options.riskFree ?? 0), 1 / checkPeriods(options)) - 1
}

/** Compound annual growth rate: (last/first)^(periodsPerYear / steps) − 1. */
export function cagr(equity: ArrayLike<number>, options: AnnualisationOptions): number {
  checkEquity(equity)
  const years = (equity.length - 1) / checkPeriods(options)
  return Math.pow(equity[equity.length - 1]! / equity[0]!, 1 / years) - 1
}

/** Annualised volatility: sample sd of returns × √periodsPerYear. */
export function annualVolatility(returns: ArrayLike<number>, options: AnnualisationOptions): number {
  return sampleSd(returns) * Math.sqrt(checkPeriods(options))
}

/** Sharpe ratio: mean excess return per step / sample sd of returns × √periodsPerYear. */
export function sharpe(returns: ArrayLike<number>, options: AnnualisationOptions): number {
  const rf = riskFreePerStep(options)
  return ((mean(returns) - rf) / sampleSd(returns)) * Math.sqrt(checkPeriods(options))
}

/**
 * Sortino ratio: mean excess return / downside deviation × √periodsPerYear, the downside deviation
 * being √(mean over all steps of min(0, r − rf)²).
 */
export function sortino(returns: ArrayLike<number>, options: AnnualisationOptions): number {
  const rf = riskFreePerStep(options)
  let down = 0
  for (let i = 0; i < returns.length; i++) {
    // min(0, x)² without a branch on the sign (a coin toss for the predictor) or Math.min (slower still).
    const x = returns[i]! - rf
    const neg = x * +(x < 0)
    down += neg * neg
  }
  const dd = Math.sqrt(down / returns.length)
  return ((mean(returns) - rf) / dd) * Math.sqrt(checkPeriods(options))
}

export interface Drawdown {
  /** Largest fall from a running peak, as a fraction of the peak (0.25 = −25 %). */
  depth: number
  peakIndex: number
  troughIndex: number
  /** Index where the curve regained the peak of the deepest drawdown, −1 if it never did. */
  recoveryIndex: number
  /** Longest stretch under water, in steps: from a peak to the step it is regained (or the end). */
  longestDuration: number
}

/** The fall from the running peak at each point, as a fraction of the peak (0.1 = −10 %; 0 at a peak). */
export function drawdownSeries(equity: ArrayLike<number>): Float64Array {
  const out = new Float64Array(equity.length)
  let peak = -Infinity
  for (let i = 0; i < equity.length; i++) {
    if (equity[i]! > peak) peak = equity[i]!
    out[i] = peak > 0 ? 1 - equity[i]! / peak : 0
  }
  return out
}

export function maxDrawdown(equity: ArrayLike<number>): Drawdown {
  checkEquity(equity)
  return drawdownOf(equity)
}

function drawdownOf(equity: ArrayLike<number>): Drawdown {
  let peak = equity[0]!
  let peakIndex = 0
  const out: Drawdown = { depth: 0, peakIndex: 0, troughIndex: 0, recoveryIndex: -1, longestDuration: 0 }
  let underSince = -1
  for (let i = 1; i < equity.length; i++) {
    const e = equity[i]!
    if (e >= peak) {
      if (underSince >= 0) out.longestDuration = Math.max(out.longestDuration, i - underSince)
      underSince = -1
      peak = e
      peakIndex = i
      continue
    }
    if (underSince < 0) underSince = peakIndex
    const depth = 1 - e / peak
    if (depth > out.depth) {
      out.depth = depth
      out.peakIndex = peakIndex
      out.troughIndex = i
    }
  }
  if (underSince >= 0) out.longestDuration = Math.max(out.longestDuration, equity.length - 1 - underSince)
  if (out.depth > 0) {
    const top = equity[out.peakIndex]!
    for (let i = out.troughIndex + 1; i < equity.length; i++) {
      if (equity[i]! >= top) {
        out.recoveryIndex = i
        break
      }
    }
  }
  return out
}

export interface TradeStats {
  trades: number
  wins: number
  losses: number
  /** wins / trades (a trade with P&L exactly 0 counts as neither win nor loss, but as a trade). */
  winRate: number
  /** Mean P&L of winning trades (positive). */
  avgWin: number
  /** Mean P&L of losing trades (negative). */
  avgLoss: number
  /** Mean P&L per trade. */
  expectancy: number
  /** Gross profit / |gross loss| (Infinity with no loss). */
  profitFactor: number
}

export function tradeStats(pnl: ArrayLike<number>): TradeStats {
  let wins = 0
  let losses = 0
  let profit = 0
  let loss = 0
  let total = 0
  for (let i = 0; i < pnl.length; i++) {
    const p = pnl[i]!
    if (!Number.isFinite(p)) throw new DataError(`trade ${i} has P&L ${p}; expected a finite number`)
    total += p
    if (p > 0) {
      wins++
      profit += p
    } else if (p < 0) {
      losses++
      loss += p
    }
  }
  const n = pnl.length
  return {
    trades: n,
    wins,
    losses,
    winRate: n === 0 ? NaN : wins / n,
    avgWin: wins === 0 ? NaN : profit / wins,
    avgLoss: losses === 0 ? NaN : loss / losses,
    expectancy: n === 0 ? NaN : total / n,
    profitFactor: loss === 0 ? (profit > 0 ? Infinity : NaN) : profit / -loss,
  }
}

/**
 * Share of calendar periods (UTC months or ISO weeks, Monday-based) whose return is positive: each
 * period's last equity against the previous period's last (the first against the first point).
 */
export function profitablePeriods(equity: ArrayLike<number>, time: ArrayLike<number>, period: 'month' | 'week'): PeriodCount {
  checkEquity(equity)
  return periodCounts(equity, time)[period]
}

export interface PeriodCount {
  periods: number
  profitable: number
  share: number
}

export interface PerformanceOptions extends AnnualisationOptions {
  /** Epoch ms of each equity point: adds % of months and weeks profitable. */
  time?: ArrayLike<number>
  /** P&L of each closed trade: adds the trade statistics. */
  trades?: ArrayLike<number>
  /** Notional traded at each step (absolute value is used): adds annualised turnover. */
  traded?: ArrayLike<number>
  /** Position (any unit) held over each step: adds exposure, the share of steps with a position. */
  position?: ArrayLike<number>
}

export interface Performance {
  totalReturn: number
  cagr: number
  volatility: number
  sharpe: number
  sortino: number
  calmar: number
  maxDrawdown: Drawdown
  trades?: TradeStats
  monthsProfitable?: number
  weeksProfitable?: number
  /** Σ |traded| / mean equity, per year. */
  turnover?: number
  /** Share of steps with a non-zero position. */
  exposure?: number
}

/**
 * Mean, sample sd and Σ min(0, r − rf)² of the simple returns, computed from the curve without
 * storing them: the same operations in the same order as mean, sampleSd and sortino on returnsOf.
 * The first pass also checks every point (checkEquity's test and message).
 */
function returnStats(e: Float64Array, rf: number): { mean: number; sd: number; downside: number } {
  const n = e.length - 1
  if (e.length < 2) throw new DataError(`an equity curve needs at least 2 points (received ${e.length})`)
  if (!(e[0]! > 0 && e[0]! < Infinity)) throw new DataError(`equity must be positive and finite; point 0 is ${e[0]}`)
  let sum = 0
  for (let i = 1; i <= n; i++) {
    const x = e[i]!
    if (!(x > 0 && x < Infinity)) throw new DataError(`equity must be positive and finite; point ${i} is ${x}`)
    sum += x / e[i - 1]! - 1
  }
  const m = sum / n
  let ss = 0
  let down = 0
  for (let i = 1; i <= n; i++) {
    const r = e[i]! / e[i - 1]! - 1
    ss += (r - m) ** 2
    const x = r - rf
    const neg = x * +(x < 0)
    down += neg * neg
  }
  return { mean: m, sd: Math.sqrt(ss / (n - 1)), downside: down }
}

/**
 * Calendar months and weeks (Monday to Sunday, UTC), each period's last equity against the previous
 * period's last (the first against the first point), both in one pass. Each point's period is known as
 * a [from, to) range of times: a point inside both current ranges is four comparisons (intraday curves
 * have many points per period); one outside a range starts that range's next period.
 */
function periodCounts(equity: ArrayLike<number>, time: ArrayLike<number>): { month: PeriodCount; week: PeriodCount } {
  if (time.length !== equity.length) throw new DataError(`time has ${time.length} values, equity ${equity.length}; expected one time per point`)
  let monthBase = equity[0]!
  let weekBase = equity[0]!
  let months = 0
  let weeks = 0
  let monthsUp = 0
  let weeksUp = 0
  let monthFrom = NaN
  let monthTo = NaN
  let weekFrom = NaN
  let weekTo = NaN
  for (let i = 0; i < equity.length; i++) {
    const t = time[i]!
    if (t >= weekFrom && t < weekTo && t >= monthFrom && t < monthTo) continue
    const last = i > 0 ? equity[i - 1]! : NaN
    // A first period holding the first point alone has no return: not a losing period (it was counted as one:
    // a curve rising every week from a Friday start had 2 weeks of 3 profitable — an audit).
    if (!(t >= weekFrom && t < weekTo)) {
      if (i > 1) {
        weeks++
        if (last > weekBase) weeksUp++
        weekBase = last
      }
      const day = Math.floor(t / 86_400_000)
      // Weeks from Monday 1969-12-29.
      const week = Math.floor((day + 3) / 7)
      weekFrom = (week * 7 - 3) * 86_400_000
      weekTo = weekFrom + 7 * 86_400_000
      if (!(t >= weekFrom && t < weekTo)) throw new DataError(`time ${i} is ${t}; expected epoch milliseconds`)
    }
    if (!(t >= monthFrom && t < monthTo)) {
      if (i > 1) {
        months++
        if (last > monthBase) monthsUp++
        monthBase = last
      }
      const d = new Date(Math.floor(t / 86_400_000) * 86_400_000)
      monthFrom = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
      monthTo = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
      if (!(t >= monthFrom && t < monthTo)) throw new DataError(`time ${i} is ${t}; expected epoch milliseconds`)
    }
  }
  const end = equity[equity.length - 1]!
  months++
  if (end > monthBase) monthsUp++
  weeks++
  if (end > weekBase) weeksUp++
  return { month: { periods: months, profitable: monthsUp, share: monthsUp / months }, week: { periods: weeks, profitable: weeksUp, share: weeksUp / weeks } }
}

/** Every metric of an equity curve at once. */
export function performanceMetrics(equity: ArrayLike<number>, options: PerformanceOptions): Performance {
  const periods = checkPeriods(options)
  const e = equity instanceof Float64Array ? equity : Float64Array.from(equity)
  const rf = riskFreePerStep(options)
  // Checks every point (as checkEquity) in its first pass.
  const r = returnStats(e, rf)
  const dd = drawdownOf(e)
  const growth = Math.pow(e[e.length - 1]! / e[0]!, 1 / ((e.length - 1) / periods)) - 1
  const root = Math.sqrt(periods)
  const out: Performance = {
    totalReturn: e[e.length - 1]! / e[0]! - 1,
    cagr: growth,
    volatility: r.sd * root,
    sharpe: ((r.mean - rf) / r.sd) * root,
    sortino: ((r.mean - rf) / Math.sqrt(r.downside / (e.length - 1))) * root,
    // No drawdown: NaN, as empyrical's calmar_ratio — not Infinity, which put sets that never lost (or never
    // traded) at the top of a sweep ranked by Calmar.
    calmar: dd.depth > 0 ? growth / dd.depth : NaN,
    maxDrawdown: dd,
  }
  if (options.trades !== undefined) out.trades = tradeStats(options.trades)
  if (options.time !== undefined) {
    const counts = periodCounts(e, options.time)
    out.monthsProfitable = counts.month.share
    out.weeksProfitable = counts.week.share
  }
  if (options.traded !== undefined) {
    let notional = 0
    for (let i = 0; i < options.traded.length; i++) notional += Math.abs(options.traded[i]!)
    out.turnover = notional / mean(equity) / ((equity.length - 1) / periods)
  }
  const position = options.position
  if (position !== undefined) {
    let held = 0
    for (let i = 0; i < position.length; i++) {
      const x = position[i]!
      held += +(x === x && x !== 0)
    }
    out.exposure = position.length === 0 ? NaN : held / position.length
  }
  return out
}
