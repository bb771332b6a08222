// The portfolio dashboard's kernels, pure functions of a deployment's fills and bars: what the fill model
// expects of a fill and the slippage against it, equity per bar derived from fills and closes, positions at
// average cost, exposure, drawdown, and the tracking error against a replay. portfolio-dashboard.ts reads the
// files and the lake and calls them.

import { observedPeriodsPerYear } from '../backtest/results.js'
import { executionPrice, openFill, type FillModel } from '../backtest/sim-exchange.js'
import type { Bars } from '../data/bars.js'

export interface PositionRow {
  symbol: string
  qty: number
  /** Average cost of the open quantity (NaN when flat). */
  avgPrice: number
  /** The last close at or before the last bar (NaN when the lake has none). */
  mark: number
  unrealized: number
  /** Realised on reductions, average-cost, fees excluded (they are in `fees`). */
  realized: number
  fees: number
  /** qty × mark (signed). */
  notional: number
}

export interface Exposure {
  gross: number
  net: number
  /** gross / equity and net / equity (fractions). */
  grossPct: number
  netPct: number
  perSymbol: { symbol: string; notional: number }[]
}

export interface FillRow {
  time: number
  clientOrderId: string
  symbol: string
  side: 'buy' | 'sell'
  kind: string
  role: string
  qty: number
  price: number
  fee: number
  /** The bar price the fill model starts from (open, stop or limit), and the price it expects (slippage added). */
  reference: number
  expected: number
  /** (price − expected) / expected in bps, signed against the trader: > 0 is worse than the model. NaN when no bar or model applies. */
  slippageBps: number
}
/**
 * What the fill model expects of a fill on the bar that holds it (the last bar opening at or before its
 * time): a market order the bar's open plus slippage; a stop the open when the bar gapped through it (and it
 * was working before the open), else the stop, plus slippage; a limit the open when the bar opened better,
 * else the limit, without slippage (lib/backtest/sim-exchange.ts). Fills the model does not make (booked
 * from the venue's balance, recovered) and fills outside the bars: NaN.
 */
export function referencePrice(order: { side: 'buy' | 'sell'; kind: string; price?: number; placedAt: number; role: string; filledBefore?: number }, bars: Pick<Bars, 'time' | 'open'>, tf: number, fillTime: number, model: FillModel): { reference: number; expected: number } {
  const none = { reference: NaN, expected: NaN }
  if (order.role === 'outside' || order.role === 'recovered') return none
  const i = lastAtOrBefore(bars.time, fillTime)
  if (i < 0 || fillTime >= bars.time[i]! + tf) return none
  const open = bars.open[i]!
  // A bracket leg is placed at the price its entry filled at — that bar's open — so a leg already beyond it is
  // expected at the open, as the engine fills it; and a stop that filled in an earlier bar has triggered: its
  // rest is a market order (both showed phantom slippage of ±100 bps: a review).
  const leg = order.role === 'stop-loss' || order.role === 'take-profit'
  const afterOpen = !leg && order.placedAt > bars.time[i]!
  const triggered = order.kind === 'stop' && order.filledBefore !== undefined && order.filledBefore < bars.time[i]!
  if (order.kind === 'market' || triggered) return { reference: open, expected: executionPrice(order.side, open, model) }
  const price = order.price
  if (price === undefined || !(price > 0)) return none
  const shape = { side: order.side, type: order.kind as 'stop' | 'limit', stop: price, limit: price }
  const gap = afterOpen ? NaN : openFill(shape, open)
  const reference = gap === gap ? gap : price
  if (order.kind === 'stop') return { reference, expected: executionPrice(order.side, reference, model) }
  if (order.kind === 'limit') return { reference, expected: reference }
  return none
}

/** (price − expected) / expected in bps, signed so that a worse fill for the trader is positive. */
export function slippageBps(side: 'buy' | 'sell', price: number, expected: number): number {
  if (!(expected > 0)) return NaN
  const d = ((price - expected) / expected) * 10_000
  return side === 'buy' ? d : -d
}

/** Index of the last time ≤ t (−1 when none). */
function lastAtOrBefore(time: ArrayLike<number>, t: number): number {
  let lo = 0
  let hi = time.length - 1
  let at = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (time[mid]! <= t) {
      at = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return at
}

/**
 * Equity per bar: starting cash, less each fill's signed notional and fee once its bar is reached (a fill
 * at time f belongs to the bar opening at or before f), plus positions × the bar's close (each symbol's last
 * close carried over a bar it lacks). Points are the bars' open times, all symbols merged, as the backtest's.
 */
export function derivedEquity(input: { symbols: readonly string[]; bars: Readonly<Record<string, Pick<Bars, 'time' | 'close'>>>; tf: number; fills: readonly Pick<FillRow, 'time' | 'symbol' | 'side' | 'qty' | 'price' | 'fee'>[]; startingCash: number }): { time: Float64Array; equity: Float64Array } {
  const times = new Set<number>()
  for (const s of input.symbols) for (const t of input.bars[s]?.time ?? []) times.add(t)
  const time = Float64Array.from([...times].sort((a, b) => a - b))
  const equity = new Float64Array(time.length)
  const fills = [...input.fills].sort((a, b) => a.time - b.time)
  const qty = new Map<string, number>()
  const cursor = new Map<string, number>()
  const mark = new Map<string, number>()
  let cash = input.startingCash
  let f = 0
  for (let i = 0; i < time.length; i++) {
    const t = time[i]!
    while (f < fills.length && fills[f]!.time < t + input.tf) {
      const x = fills[f++]!
      const signed = x.side === 'buy' ? x.qty : -x.qty
      cash -= signed * x.price + x.fee
      const before = qty.get(x.symbol) ?? 0
      let after = before + signed
      if (Math.abs(after) <= 1e-9 * Math.max(Math.abs(before), Math.abs(signed))) after = 0
      qty.set(x.symbol, after)
    }
    let e = cash
    for (const s of input.symbols) {
      const b = input.bars[s]
      if (b !== undefined) {
        let j = cursor.get(s) ?? 0
        while (j < b.time.length && b.time[j]! <= t) mark.set(s, b.close[j++]!)
        cursor.set(s, j)
      }
      const q = qty.get(s) ?? 0
      if (q !== 0) e += q * (mark.get(s) ?? NaN)
    }
    equity[i] = e
  }
  return { time, equity }
}

/** Positions per symbol from the fills (average cost, as the backtest's book), marked at `marks`. */
export function positionsOf(fills: readonly Pick<FillRow, 'symbol' | 'side' | 'qty' | 'price' | 'fee'>[], marks: Readonly<Record<string, number>>): PositionRow[] {
  const book = new Map<string, { qty: number; avg: number; realized: number; fees: number }>()
  for (const f of fills) {
    const p = book.get(f.symbol) ?? { qty: 0, avg: NaN, realized: 0, fees: 0 }
    const signed = f.side === 'buy' ? f.qty : -f.qty
    const before = p.qty
    if (before === 0 || Math.sign(before) === Math.sign(signed)) p.avg = before === 0 ? f.price : (Math.abs(before) * p.avg + f.qty * f.price) / (Math.abs(before) + f.qty)
    else {
      p.realized += Math.min(Math.abs(before), f.qty) * (f.price - p.avg) * Math.sign(before)
      if (f.qty > Math.abs(before)) p.avg = f.price
    }
    let after = before + signed
    if (Math.abs(after) <= 1e-9 * Math.max(Math.abs(before), f.qty)) after = 0
    if (after === 0) p.avg = NaN
    p.qty = after
    p.fees += f.fee
    book.set(f.symbol, p)
  }
  return [...book.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([symbol, p]) => {
      const m = marks[symbol] ?? NaN
      return { symbol, qty: p.qty, avgPrice: p.avg, mark: m, unrealized: p.qty === 0 ? 0 : p.qty * (m - p.avg), realized: p.realized, fees: p.fees, notional: p.qty === 0 ? 0 : p.qty * m }
    })
}

export function exposureOf(positions: readonly Pick<PositionRow, 'symbol' | 'notional'>[], equity: number): Exposure {
  let gross = 0
  let net = 0
  for (const p of positions) {
    gross += Math.abs(p.notional)
    net += p.notional
  }
  return { gross, net, grossPct: gross / equity, netPct: net / equity, perSymbol: positions.filter((p) => p.notional !== 0).map((p) => ({ symbol: p.symbol, notional: p.notional })) }
}

/** Largest fall from a running peak, as a fraction of the peak (≥ 0; 0 for fewer than two points). */
export function maxDrawdown(equity: ArrayLike<number>): number {
  let peak = -Infinity
  let worst = 0
  for (let i = 0; i < equity.length; i++) {
    const e = equity[i]!
    if (e > peak) peak = e
    else if (peak > 0 && (peak - e) / peak > worst) worst = (peak - e) / peak
  }
  return worst
}

/**
 * Tracking error: the annualised sample standard deviation of the difference of bar returns, deployment
 * minus replay, on the points both have (matched by time); annualised by the points per year the times span.
 */
export function trackingError(time: ArrayLike<number>, deployment: ArrayLike<number>, replay: ArrayLike<number>, periodsPerYear = observedPeriodsPerYear(time)): number {
  const n = time.length
  if (n < 3) return NaN
  const d = new Float64Array(n - 1)
  for (let i = 1; i < n; i++) d[i - 1] = deployment[i]! / deployment[i - 1]! - 1 - (replay[i]! / replay[i - 1]! - 1)
  let mean = 0
  for (const x of d) mean += x
  mean /= d.length
  let ss = 0
  for (const x of d) ss += (x - mean) ** 2
  return Math.sqrt(ss / (d.length - 1)) * Math.sqrt(periodsPerYear)
}
