// The tearsheet's arithmetic: an equity curve resampled to UTC days, and quantstats' metrics of its daily
// returns, drawdown periods, calendar tables, rolling windows, benchmark greeks and trade breakdowns.
// Kernels on typed arrays; every convention is written next to the function that applies it.

import { DataError } from '../core/index.js'

export const DAY_MS = 86_400_000

/**
 * The curve as days: the first point, then each UTC day's last point — the first day's last point only when
 * that day holds more than the first point (else it is the first point again). `day` is each value's UTC day
 * number (epoch ms / 86,400,000, floored); the first value is dated by the first point's day.
 * Daily returns are the step-to-step changes of these values (quantstats works on daily returns; an intraday
 * curve is measured day over day, a daily one as given).
 */
export function dailyEquity(time: ArrayLike<number>, equity: ArrayLike<number>): { day: Float64Array; value: Float64Array } {
  const n = time.length
  const day = new Float64Array(n + 1)
  const value = new Float64Array(n + 1)
  day[0] = Math.floor(time[0]! / DAY_MS)
  value[0] = equity[0]!
  let k = 1
  // Plain version: group points by Math.floor(t / DAY_MS) and keep each group's last. Here a point whose
  // time is inside the current day's [from, to) is two comparisons.
  let from = day[0]! * DAY_MS
  let to = from + DAY_MS
  for (let i = 1; i < n; i++) {
    const t = time[i]!
    if (t >= to) {
      // The previous point closed its day (the first day's close only if it is not the first point).
      if (i > 1) {
        day[k] = Math.floor(time[i - 1]! / DAY_MS)
        value[k] = equity[i - 1]!
        k++
      }
      from = Math.floor(t / DAY_MS) * DAY_MS
      to = from + DAY_MS
    }
  }
  if (n > 1) {
    day[k] = Math.floor(time[n - 1]! / DAY_MS)
    value[k] = equity[n - 1]!
    k++
  }
  return { day: day.slice(0, k), value: value.slice(0, k) }
}

/** "2024-01-31" for a UTC day number. */
export function isoDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10)
}

export function mean(x: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i]!
  return s / x.length
}

/** Sample standard deviation (ddof 1, as pandas' std). */
export function sampleSd(x: ArrayLike<number>, from = 0, to = x.length): number {
  const n = to - from
  let s = 0
  for (let i = from; i < to; i++) s += x[i]!
  const m = s / n
  let ss = 0
  for (let i = from; i < to; i++) ss += (x[i]! - m) ** 2
  return Math.sqrt(ss / (n - 1))
}

/** Sorted copy. */
export function sorted(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x).sort()
}

/** The p-quantile of sorted values by linear interpolation between order statistics (numpy's and pandas' default). */
export function quantileSorted(s: Float64Array, p: number): number {
  const h = (s.length - 1) * p
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, s.length - 1)
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!)
}

/** Skewness, bias-corrected as pandas' `Series.skew` (adjusted Fisher–Pearson G1). */
export function skewness(x: ArrayLike<number>): number {
  const n = x.length
  const m = mean(x)
  let m2 = 0
  let m3 = 0
  for (let i = 0; i < n; i++) {
    const d = x[i]! - m
    m2 += d * d
    m3 += d * d * d
  }
  m2 /= n
  m3 /= n
  if (n < 3 || m2 === 0) return NaN
  return (Math.sqrt(n * (n - 1)) / (n - 2)) * (m3 / m2 ** 1.5)
}

/** Excess kurtosis, bias-corrected as pandas' `Series.kurt` (G2; normal = 0). */
export function excessKurtosis(x: ArrayLike<number>): number {
  const n = x.length
  const m = mean(x)
  let m2 = 0
  let m4 = 0
  for (let i = 0; i < n; i++) {
    const d = (x[i]! - m) ** 2
    m2 += d
    m4 += d * d
  }
  m2 /= n
  m4 /= n
  if (n < 4 || m2 === 0) return NaN
  return ((n - 1) / ((n - 2) * (n - 3))) * ((n + 1) * (m4 / (m2 * m2)) - 3 * (n - 1))
}

/** quantstats' `win_rate`: periods up / periods that moved (a flat period is neither); NaN when none moved. */
export function winRate(r: ArrayLike<number>): number {
  let up = 0
  let moved = 0
  for (let i = 0; i < r.length; i++) {
    if (r[i]! > 0) up++
    if (r[i]! !== 0) moved++
  }
  return moved === 0 ? NaN : up / moved
}

export interface PeriodReturn {
  /** Year, and month 1–12 for a monthly return. */
  year: number
  month?: number
  return: number
}

/** Daily returns compounded per UTC calendar month or year (each return dated by its day): Π(1 + r) − 1. */
export function calendarReturns(day: ArrayLike<number>, r: ArrayLike<number>, by: 'month' | 'year'): PeriodReturn[] {
  const out: PeriodReturn[] = []
  let key = NaN
  let growth = 1
  let year = 0
  let month = 0
  for (let i = 0; i < r.length; i++) {
    const d = new Date(day[i]! * DAY_MS)
    const y = d.getUTCFullYear()
    const m = d.getUTCMonth() + 1
    const k = by === 'month' ? y * 12 + m : y
    if (k !== key) {
      if (i > 0) out.push(by === 'month' ? { year, month, return: growth - 1 } : { year, return: growth - 1 })
      key = k
      growth = 1
      year = y
      month = m
    }
    growth *= 1 + r[i]!
  }
  if (r.length > 0) out.push(by === 'month' ? { year, month, return: growth - 1 } : { year, return: growth - 1 })
  return out
}

export interface DrawdownPeriod {
  /** The last day at the high the drawdown falls from. */
  peak: string
  /** First day under water. */
  start: string
  /** Day of the lowest point (the first, on a tie). */
  trough: string
  /** Last day under water (the data's last day when not recovered). */
  end: string
  /** First day back at the high, null when the curve never regained it. */
  recovery: string | null
  /** Fall from the high at the trough, a positive fraction (0.2 = −20 %). */
  depth: number
  /** Calendar days from start to end, both counted (quantstats' `drawdown_details`). */
  days: number
}

/**
 * Drawdown of each daily value from its running high (positive fractions), and the periods under water:
 * maximal runs of days with a drawdown > 0, dated as quantstats' `drawdown_details` dates them (start = first
 * day under water, end = last day under water, days = end − start + 1), plus the peak before and the recovery
 * after, in time order.
 */
export function drawdownPeriods(day: ArrayLike<number>, value: ArrayLike<number>): { drawdown: Float64Array; periods: DrawdownPeriod[] } {
  const n = value.length
  const dd = new Float64Array(n)
  let high = -Infinity
  for (let k = 0; k < n; k++) {
    if (value[k]! > high) high = value[k]!
    dd[k] = 1 - value[k]! / high
  }
  const periods: DrawdownPeriod[] = []
  let k = 0
  while (k < n) {
    if (!(dd[k]! > 0)) {
      k++
      continue
    }
    const a = k
    let trough = k
    while (k + 1 < n && dd[k + 1]! > 0) {
      k++
      if (dd[k]! > dd[trough]!) trough = k
    }
    const b = k
    periods.push({
      peak: isoDay(day[a - 1]!),
      start: isoDay(day[a]!),
      trough: isoDay(day[trough]!),
      end: isoDay(day[b]!),
      recovery: b + 1 < n ? isoDay(day[b + 1]!) : null,
      depth: dd[trough]!,
      days: day[b]! - day[a]! + 1,
    })
    k++
  }
  return { drawdown: dd, periods }
}

/** The `count` deepest periods, deepest first (earlier first on equal depth). */
export function worstDrawdowns(periods: readonly DrawdownPeriod[], count: number): DrawdownPeriod[] {
  return periods
    .map((p, i) => ({ p, i }))
    .sort((a, b) => b.p.depth - a.p.depth || a.i - b.i)
    .slice(0, count)
    .map((x) => x.p)
}

/**
 * Rolling annualised Sharpe (mean / sample sd of the excess returns) and volatility (sample sd of the returns)
 * over `window` daily returns, one value per window end (quantstats' `rolling_sharpe`/`rolling_volatility`).
 * Each window is summed afresh (window × days operations): running sums would drift from the direct formula.
 */
export function rollingStats(r: Float64Array, rfPerDay: number, window: number, periodsPerYear: number): { sharpe: Float64Array; volatility: Float64Array } {
  const count = Math.max(0, r.length - window + 1)
  const sharpe = new Float64Array(count)
  const volatility = new Float64Array(count)
  const root = Math.sqrt(periodsPerYear)
  for (let j = 0; j < count; j++) {
    const sd = sampleSd(r, j, j + window)
    let s = 0
    for (let i = j; i < j + window; i++) s += r[i]! - rfPerDay
    sharpe[j] = (s / window / sd) * root
    volatility[j] = sd * root
  }
  return { sharpe, volatility }
}

/** Equal-width bins from the least to the greatest value, the last bin closed (numpy's `histogram`). */
export function histogram(x: ArrayLike<number>, bins: number): { edges: number[]; counts: number[] } {
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < x.length; i++) {
    if (x[i]! < lo) lo = x[i]!
    if (x[i]! > hi) hi = x[i]!
  }
  if (lo === hi) {
    lo -= 0.5
    hi += 0.5
  }
  const edges: number[] = []
  // numpy: linspace(lo, hi, bins + 1), i.e. lo + i·step with the last edge exactly hi.
  const step = (hi - lo) / bins
  for (let i = 0; i <= bins; i++) edges.push(i === bins ? hi : lo + i * step)
  const counts = new Array<number>(bins).fill(0)
  const norm = bins / (hi - lo)
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!
    // numpy computes the bin as (v − lo) · (bins / (hi − lo)), then corrects it against the edges.
    let b = Math.floor((v - lo) * norm)
    if (b >= bins) b = bins - 1
    if (b < 0) b = 0
    if (v < edges[b]!) b--
    else if (b < bins - 1 && v >= edges[b + 1]!) b++
    counts[b]!++
  }
  return { edges, counts }
}

/** Beta, annualised alpha and correlation of returns against benchmark returns (pairs over the same spans). */
export function greeks(r: ArrayLike<number>, b: ArrayLike<number>, periodsPerYear: number): { beta: number; alpha: number; correlation: number } {
  const n = r.length
  const mr = mean(r)
  const mb = mean(b)
  let srb = 0
  let sbb = 0
  let srr = 0
  for (let i = 0; i < n; i++) {
    srb += (r[i]! - mr) * (b[i]! - mb)
    sbb += (b[i]! - mb) ** 2
    srr += (r[i]! - mr) ** 2
  }
  const beta = srb / sbb
  return { beta, alpha: (mr - beta * mb) * periodsPerYear, correlation: srb / Math.sqrt(srr * sbb) }
}

/** The trade columns a tearsheet reads (BacktestResult's per-strategy `trades`, or a trades.csv). */
export interface TradeColumns {
  symbol: readonly string[]
  entryTime: ArrayLike<number>
  exitTime: ArrayLike<number>
  pnl: ArrayLike<number>
  /** Return of the trade as a fraction (optional). */
  returnPct?: ArrayLike<number>
  entryPrice?: ArrayLike<number>
  exitPrice?: ArrayLike<number>
  /** Units traded (optional; the run page's trades table shows it). */
  qty?: ArrayLike<number>
  direction?: readonly string[]
  tag?: readonly string[]
  /** Why the trade was closed (take-profit, stop-loss, exit …) when the source records it. */
  exitReason?: readonly string[]
  /** Still open at the end of the data: left out of the statistics, counted apart. */
  open?: readonly boolean[]
}

export interface TradeGroup {
  key: string
  trades: number
  wins: number
  losses: number
  /** wins / trades (a trade with P&L exactly 0 is a trade, neither a win nor a loss). */
  winRate: number
  pnl: number
  avgPnl: number
  /** Mean of returnPct, null without that column. */
  avgReturn: number | null
  /** Σ winning P&L / |Σ losing P&L|, null with no loss. */
  profitFactor: number | null
  /** Mean win / |mean loss|, null without both. */
  payoffRatio: number | null
}

/** Closed trades grouped by a key, groups in key order (code-unit order, as Python sorts strings). */
export function tradeGroups(trades: TradeColumns, keyOf: (i: number) => string, rows: readonly number[]): TradeGroup[] {
  const groups = new Map<string, number[]>()
  for (const i of rows) {
    const k = keyOf(i)
    let g = groups.get(k)
    if (g === undefined) groups.set(k, (g = []))
    g.push(i)
  }
  const keys = [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return keys.map((key) => tradeGroup(trades, key, groups.get(key)!))
}

export function tradeGroup(trades: TradeColumns, key: string, rows: readonly number[]): TradeGroup {
  let wins = 0
  let losses = 0
  let won = 0
  let lost = 0
  let total = 0
  let ret = 0
  for (const i of rows) {
    const p = trades.pnl[i]!
    total += p
    if (p > 0) {
      wins++
      won += p
    } else if (p < 0) {
      losses++
      lost += p
    }
    if (trades.returnPct !== undefined) ret += trades.returnPct[i]!
  }
  const n = rows.length
  return {
    key,
    trades: n,
    wins,
    losses,
    winRate: wins / n,
    pnl: total,
    avgPnl: total / n,
    avgReturn: trades.returnPct === undefined ? null : ret / n,
    profitFactor: losses === 0 ? null : won / -lost,
    payoffRatio: losses === 0 || wins === 0 ? null : won / wins / (-lost / losses),
  }
}

/**
 * At most `2 × buckets + 2` indices of a series: the first and last, and each bucket's lowest and highest
 * point in their order — a line through them looks the same at that many pixel columns as one through every
 * point. runs.ts' `decimate` draws metric histories with it.
 */
export function decimateIndices(values: ArrayLike<number>, buckets: number): number[] {
  const n = values.length
  if (n <= 2 * buckets + 2) return Array.from({ length: n }, (_, i) => i)
  const out: number[] = [0]
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor((b * (n - 2)) / buckets)
    const to = 1 + Math.floor(((b + 1) * (n - 2)) / buckets)
    if (to <= from) continue
    let lo = from
    let hi = from
    for (let i = from + 1; i < to; i++) {
      if (values[i]! < values[lo]!) lo = i
      if (values[i]! > values[hi]!) hi = i
    }
    if (lo === hi) out.push(lo)
    else if (lo < hi) out.push(lo, hi)
    else out.push(hi, lo)
  }
  out.push(n - 1)
  return out
}

/** Times strictly increasing and finite, values positive and finite: the message names the series and the point. */
export function checkSeries(name: string, time: ArrayLike<number>, values: ArrayLike<number>, valueName: string, minLength: number): void {
  if (time === undefined || values === undefined || typeof time.length !== 'number' || typeof values.length !== 'number') throw new DataError(`${name} needs time and ${valueName} arrays`)
  if (time.length !== values.length) throw new DataError(`${name}: time has ${time.length} values, ${valueName} ${values.length}; expected one time per point`)
  if (time.length < minLength) throw new DataError(`${name} needs at least ${minLength} points (received ${time.length})`)
  for (let i = 0; i < time.length; i++) {
    const t = time[i]!
    if (!Number.isFinite(t)) throw new DataError(`${name}: time ${i} is ${t}; expected epoch milliseconds`)
    if (i > 0 && !(t > time[i - 1]!)) throw new DataError(`${name}: time ${i} (${t}) is not after time ${i - 1} (${time[i - 1]}); expected strictly increasing times`)
    const v = values[i]!
    if (!(v > 0 && v < Infinity)) throw new DataError(`${name}: ${valueName} ${i} is ${v}; expected a positive finite number`)
  }
}
