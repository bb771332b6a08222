// What portfolioTargets needs from the lake: each symbol's latest close, each target's annualised
// volatility and each pair's latest hedge ratio. Conventions:
// - Returns are simple per-bar returns c_t / c_{t−1} − 1 over the last `volWindow` bars; a pair's unit
//   position returns r_Y − β·r_X on the bars both legs have.
// - σ is their sample standard deviation (n − 1) × √(bars per year); bars per year default to the
//   timeframe's calendar count, 365.25 days / bar length (a 24/7 market: 8,766 for 1h, 365.25 for 1d);
//   pass barsPerYear for a market with sessions (252 for daily stock bars).
// - β is the rolling OLS of log Y on log X over the last `hedgeWindow` aligned bars — lib/features
//   rollingOls, the computation `features build` stores as the pair's beta.

import { ConfigError, DataError, timeframeMs } from '../core/index.js'
import { alignCloses, loadBars, type Bars } from '../data/index.js'
import { rollingOls } from '../features/index.js'
import { legsOf } from './signals.js'
import type { TargetMarket } from './targets.js'

export const YEAR_MS = 365.25 * 86_400_000

export function barsPerYearOf(timeframe: string): number {
  return YEAR_MS / timeframeMs(timeframe)
}

/** Annualised volatility of the unit position: Y alone, or Y − β·X (closes aligned, same length). */
export function positionVolatility(y: ArrayLike<number>, x: ArrayLike<number> | undefined, beta: number, window: number, barsPerYear: number): number {
  const n = y.length
  if (n < window + 1) return NaN
  const r: number[] = []
  for (let t = n - window; t < n; t++) {
    const ry = y[t]! / y[t - 1]! - 1
    r.push(x === undefined ? ry : ry - beta * (x[t]! / x[t - 1]! - 1))
  }
  const mean = r.reduce((a, b) => a + b, 0) / window
  const variance = r.reduce((a, b) => a + (b - mean) ** 2, 0) / (window - 1)
  return Math.sqrt(variance * barsPerYear)
}

/** The hedge ratio of log Y on log X over the last `window` bars (NaN when there are fewer). */
export function latestHedgeRatio(y: ArrayLike<number>, x: ArrayLike<number>, window: number): number {
  if (y.length < window) return NaN
  const ly = Float64Array.from({ length: window }, (_, k) => Math.log(y[y.length - window + k]!))
  const lx = Float64Array.from({ length: window }, (_, k) => Math.log(x[x.length - window + k]!))
  return rollingOls(ly, lx, window).beta[window - 1]!
}

export interface MarketOptions {
  timeframe: string
  /** Prices, volatilities and hedge ratios from the bars up to this time only (a deployment's last bar: what it sees). */
  asOf?: string
  source?: string
  /** Bars of returns in the volatility (default 60). */
  volWindow?: number
  /** Bars in the hedge-ratio OLS, per pair target or one for all (default 60). */
  hedgeWindow?: number | Readonly<Record<string, number>>
  barsPerYear?: number
}

export interface LoadedMarket extends TargetMarket {
  prices: Record<string, number>
  vols: Record<string, number>
  betas: Record<string, number>
  /** Time of each target's latest bar (both legs' latest common bar for a pair). */
  lastTime: Record<string, number>
  /** Each target's bar times (a pair's: those both legs have). */
  times: Record<string, Float64Array>
  /** Time of the bar each symbol's price is the close of (its own latest). */
  priceTimes: Record<string, number>
}

/** Bars of a target after `time` (how many bars old a signal for that time is). */
export function barsAfter(times: Float64Array, time: number): number {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (times[mid]! <= time) lo = mid + 1
    else hi = mid
  }
  return times.length - lo
}

function checkWindow(name: string, n: number): void {
  if (!(Number.isInteger(n) && n >= 2)) throw new ConfigError(`${name} must be an integer ≥ 2 (received ${n})`)
}

/** The market of `targets` plus the latest close of `held` symbols, from the lake (bars read one series at a time). */
export async function loadTargetMarket(home: string, targets: readonly string[], held: readonly string[], options: MarketOptions): Promise<LoadedMarket> {
  const volWindow = options.volWindow ?? 60
  checkWindow('--vol-window', volWindow)
  const barsPerYear = options.barsPerYear ?? barsPerYearOf(options.timeframe)
  if (!(barsPerYear > 0 && Number.isFinite(barsPerYear))) throw new ConfigError(`--bars-per-year must be a number > 0 (received ${barsPerYear})`)
  const cache = new Map<string, Bars>()
  const bars = async (symbol: string): Promise<Bars> => {
    let b = cache.get(symbol)
    if (b === undefined) {
      b = await loadBars(home, { symbol, timeframe: options.timeframe, ...(options.source === undefined ? {} : { source: options.source }), ...(options.asOf === undefined ? {} : { end: options.asOf }) })
      if (b.time.length === 0) throw new DataError(`no ${options.timeframe} bars of ${symbol} in the lake`)
      cache.set(symbol, b)
    }
    return b
  }
  const dict = <T>() => Object.create(null) as Record<string, T>
  const out: LoadedMarket = { prices: dict(), vols: dict(), betas: dict(), lastTime: dict(), times: dict(), priceTimes: dict() }
  for (const target of targets) {
    const legs = legsOf(target)
    if (legs.length === 1) {
      const b = await bars(legs[0])
      if (b.time.length < volWindow + 1) throw new DataError(`${target}: ${b.time.length} bars in the lake; the volatility needs ${volWindow + 1} (--vol-window ${volWindow})`)
      out.vols[target] = positionVolatility(b.close, undefined, 0, volWindow, barsPerYear)
      out.lastTime[target] = b.time[b.time.length - 1]!
      out.times[target] = b.time
      continue
    }
    const [y, x] = legs
    const hedgeWindow = typeof options.hedgeWindow === 'number' ? options.hedgeWindow : options.hedgeWindow?.[target] ?? 60
    checkWindow('--hedge-window', hedgeWindow)
    const { time, closes } = alignCloses({ [y]: await bars(y), [x]: await bars(x) })
    if (time.length < Math.max(hedgeWindow, volWindow + 1)) throw new DataError(`${target}: ${time.length} bars of its legs line up in the lake; the hedge ratio needs ${hedgeWindow} and the volatility ${volWindow + 1}`)
    const beta = latestHedgeRatio(closes[y]!, closes[x]!, hedgeWindow)
    out.betas[target] = beta
    out.vols[target] = positionVolatility(closes[y]!, closes[x]!, beta, volWindow, barsPerYear)
    out.lastTime[target] = time[time.length - 1]!
    out.times[target] = time
  }
  for (const symbol of new Set([...targets.flatMap((t) => legsOf(t)), ...held])) {
    const b = await bars(symbol)
    out.prices[symbol] = b.close[b.close.length - 1]!
    out.priceTimes[symbol] = b.time[b.time.length - 1]!
  }
  return out
}

/**
 * Symbols whose price is older than the newest symbol's by more than `bars` bars of the timeframe: a series that
 * stopped (a feed down, a delisting) sizes its orders at a stale close while a pair's hedge ratio and volatility,
 * and --max-age, look at the bars both legs share (an audit). Said, not refused: markets on different calendars
 * end a holiday apart.
 */
export function stalePrices(market: Pick<LoadedMarket, 'priceTimes'>, timeframe: string, bars = 3): { symbol: string; time: number; behind: number }[] {
  const step = timeframeMs(timeframe)
  const times = Object.entries(market.priceTimes)
  const newest = times.reduce((m, [, t]) => Math.max(m, t), -Infinity)
  return times.filter(([, t]) => newest - t > bars * step).map(([symbol, time]) => ({ symbol, time, behind: Math.round((newest - time) / step) }))
}
