// The vectorized engine: one pass over typed arrays, for sweeps. Its rules are the event-driven
// engine's for market orders — a signal at bar t's close trades at bar t+1's open, plus slippage,
// commission on notional (+ fixed fee), sizing at the signal bar's close and clipped to what the cash
// affords at the fill — so for strategies that can say their signals as arrays the two engines give
// the same trades and equity (test/backtest/parity.test.ts holds them to 1e-9).
// Two forms: entries/exits (long only: enter when flat and entries[t], leave when long and exits[t])
// and targetPosition (units to hold from the next open; NaN keeps the position). Margins are the
// engine's defaults: a cash account for longs (1), 0.5 of notional for shorts.

import { ConfigError, DataError } from '../core/index.js'
import type { Bars } from '../data/index.js'
import { indicatorSource, resolveParams, type IndicatorCompute, type Strategy, type VectorSignals } from '../strategy/index.js'

export interface VectorCosts {
  /** Starting cash. Default 100,000. */
  cash?: number
  /** Commission rate on notional. Default 0. */
  commission?: number
  /** Basis points against the trader on each fill. Default 0. */
  slippageBps?: number
  /** Fixed fee per fill. Default 0. */
  fixedFee?: number
  /** Entries/exits form: units per entry (default), or a fraction of equity (costs included). */
  size?: { qty: number } | { percent: number }
}

export interface SignalInput {
  open: Float64Array
  close: Float64Array
  entries: ArrayLike<boolean | number>
  exits: ArrayLike<boolean | number>
}

export interface TargetInput {
  open: Float64Array
  close: Float64Array
  targetPosition: Float64Array
}

export interface VectorTrades {
  entryIndex: Float64Array
  exitIndex: Float64Array
  qty: Float64Array
  entryPrice: Float64Array
  exitPrice: Float64Array
  fees: Float64Array
  pnl: Float64Array
}

export interface VectorResult {
  /** cash + position × close at each bar. */
  equity: Float64Array
  /** Units held over each bar (after its open's fill). */
  position: Float64Array
  /** Notional traded at each bar's open. */
  traded: Float64Array
  /** Round trips from flat to flat (entries/exits form; a target form's flips close one and open the next). */
  trades: VectorTrades
  fees: number
  /** A position still open at the end is not in `trades`. */
  openPosition: number
  /** Running statistics of the equity curve (computed whether or not the arrays are kept). */
  stats: CurveStats
}

/** What the metrics of a sweep need, accumulated in the same pass as the equity. */
export interface CurveStats {
  points: number
  first: number
  last: number
  /** Mean and sum of squared deviations of the simple returns (Welford). */
  meanReturn: number
  m2: number
  /** Σ min(0, r)². */
  downside: number
  /** Largest fall from a running peak, as a fraction of the peak. */
  maxDrawdown: number
  /** Bars with a position. */
  exposed: number
}

export interface VectorOptions {
  /** Keep the equity, position and traded arrays (default true); false for sweeps: statistics only. */
  record?: boolean
}

export interface SweepMetrics {
  totalReturn: number
  cagr: number
  volatility: number
  sharpe: number
  sortino: number
  calmar: number
  maxDrawdown: number
  trades: number
  winRate: number
  profitFactor: number
  exposure: number
  endEquity: number
}

/**
 * The metrics of lib/stats (risk-free 0) from the running statistics: the same definitions as
 * performanceMetrics, with the mean and variance of returns by Welford's update instead of two passes
 * (equal to ~1e-12 relative).
 */
export function sweepMetrics(r: Pick<VectorResult, 'stats' | 'trades'>, periodsPerYear: number): SweepMetrics {
  if (!(periodsPerYear > 0)) throw new ConfigError(`periodsPerYear must be a number > 0 (received ${periodsPerYear})`)
  const s = r.stats
  const n = s.points - 1
  const sd = Math.sqrt(s.m2 / (n - 1))
  const cagr = Math.pow(s.last / s.first, periodsPerYear / n) - 1
  let wins = 0
  let won = 0
  let lost = 0
  const pnl = r.trades.pnl
  for (let i = 0; i < pnl.length; i++) {
    const x = pnl[i]!
    if (x > 0) {
      wins++
      won += x
    } else lost -= x
  }
  return {
    totalReturn: s.last / s.first - 1,
    cagr,
    volatility: sd * Math.sqrt(periodsPerYear),
    sharpe: (s.meanReturn / sd) * Math.sqrt(periodsPerYear),
    sortino: (s.meanReturn / Math.sqrt(s.downside / n)) * Math.sqrt(periodsPerYear),
    calmar: s.maxDrawdown > 0 ? cagr / s.maxDrawdown : Infinity,
    maxDrawdown: s.maxDrawdown,
    trades: pnl.length,
    winRate: pnl.length === 0 ? NaN : wins / pnl.length,
    profitFactor: lost > 0 ? won / lost : won > 0 ? Infinity : NaN,
    exposure: s.exposed / s.points,
    endEquity: s.last,
  }
}

function checkCosts(costs: VectorCosts): Required<Omit<VectorCosts, 'size'>> & { size: { qty: number } | { percent: number } } {
  const out = { cash: costs.cash ?? 100_000, commission: costs.commission ?? 0, slippageBps: costs.slippageBps ?? 0, fixedFee: costs.fixedFee ?? 0, size: costs.size ?? { qty: 1 } }
  if (!(out.cash > 0)) throw new ConfigError(`cash must be a number > 0 (received ${out.cash})`)
  for (const name of ['commission', 'slippageBps', 'fixedFee'] as const) if (!(out[name] >= 0)) throw new ConfigError(`${name} must be a number ≥ 0 (received ${out[name]})`)
  const size = out.size as { qty?: number; percent?: number }
  const v = size.qty ?? size.percent
  if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new ConfigError(`size must be { qty } or { percent }, a number > 0 (received ${JSON.stringify(costs.size)})`)
  return out
}

export function vectorBacktest(input: SignalInput | TargetInput, costs: VectorCosts = {}, options: VectorOptions = {}): VectorResult {
  const c = checkCosts(costs)
  const { open, close } = input
  const n = close.length
  if (open.length !== n) throw new DataError(`open has ${open.length} values, close has ${n}`)
  const target = 'targetPosition' in input ? input.targetPosition : undefined
  if (target !== undefined && target.length !== n) throw new DataError(`targetPosition has ${target.length} values, close has ${n}`)
  if (target === undefined) {
    const s = input as SignalInput
    if (s.entries.length !== n || s.exits.length !== n) throw new DataError(`entries and exits need ${n} values (received ${s.entries.length} and ${s.exits.length})`)
  }
  const record = options.record ?? true
  const equity = new Float64Array(record ? n : 0)
  const position = new Float64Array(record ? n : 0)
  const traded = new Float64Array(record ? n : 0)
  let prevEquity = NaN
  let meanReturn = 0
  let m2 = 0
  let downside = 0
  let peak = -Infinity
  let maxDrawdown = 0
  let exposed = 0
  let returns = 0
  const t = { entryIndex: [] as number[], exitIndex: [] as number[], qty: [] as number[], entryPrice: [] as number[], exitPrice: [] as number[], fees: [] as number[], pnl: [] as number[] }
  const rate = c.commission
  const slip = c.slippageBps / 10_000
  const fixed = c.fixedFee
  const qtySize = 'qty' in c.size ? c.size.qty : NaN
  const percent = 'percent' in c.size ? c.size.percent : NaN
  let cash = c.cash
  let pos = 0
  let fees = 0
  // The order decided at the previous close: signed units (NaN: none).
  let pending = NaN
  // The open trade: entry index, average entry price, its fees and the P&L realised so far.
  let entryIndex = -1
  let entryPrice = NaN
  let entryQty = 0
  let tradeFees = 0
  const closeTrade = (i: number, exitPrice: number, qty: number, fee: number) => {
    const pnl = (exitPrice - entryPrice) * (pos > 0 ? qty : -qty) - tradeFees - fee
    t.entryIndex.push(entryIndex)
    t.exitIndex.push(i)
    t.qty.push(qty)
    t.entryPrice.push(entryPrice)
    t.exitPrice.push(exitPrice)
    t.fees.push(tradeFees + fee)
    t.pnl.push(pnl)
  }
  for (let i = 0; i < n; i++) {
    if (pending === pending && pending !== 0) {
      const buy = pending > 0
      const o = open[i]!
      const price = buy ? o * (1 + slip) : o * (1 - slip)
      let q = Math.abs(pending)
      // Cash-account buying power at the fill (the event engine's check, the same arithmetic).
      const added = Math.max(0, Math.abs(pos + (buy ? q : -q)) - Math.abs(pos))
      if (added > 0) {
        const margin = Math.abs(pos * close[i - 1]!) * (pos > 0 ? 1 : 0.5)
        const power = cash + pos * close[i - 1]! - margin - fixed
        const affordable = Math.max(0, power) / (price * ((buy ? 1 : 0.5) + rate))
        if (added > affordable * (1 + 1e-12)) q -= added - affordable
      }
      if (q > 0) {
        const fee = q * price * rate + fixed
        const signed = buy ? q : -q
        const after = pos + signed
        if (pos !== 0 && Math.sign(signed) !== Math.sign(pos)) {
          const closing = Math.min(q, Math.abs(pos))
          const share = closing / q
          closeTrade(i, price, closing, fee * share)
          if (Math.abs(after) > 1e-9 * q && Math.sign(after) !== Math.sign(pos)) {
            entryIndex = i
            entryPrice = price
            entryQty = Math.abs(after)
            tradeFees = fee * (1 - share)
          } else if (Math.abs(after) > 1e-9 * q) {
            tradeFees = 0
          }
        } else if (pos === 0) {
          entryIndex = i
          entryPrice = price
          entryQty = q
          tradeFees = fee
        } else {
          entryPrice = (entryQty * entryPrice + q * price) / (entryQty + q)
          entryQty += q
          tradeFees += fee
        }
        cash -= signed * price + fee
        fees += fee
        if (record) traded[i] = q * price
        pos = Math.abs(after) <= 1e-9 * q ? 0 : after
      }
    }
    pending = NaN
    const px = close[i]!
    const eq = pos === 0 ? cash : cash + pos * px
    if (record) {
      position[i] = pos
      equity[i] = eq
    }
    if (pos !== 0) exposed++
    if (eq > peak) peak = eq
    else if (1 - eq / peak > maxDrawdown) maxDrawdown = 1 - eq / peak
    if (prevEquity === prevEquity) {
      const r = eq / prevEquity - 1
      const d = r - meanReturn
      meanReturn += d / ++returns
      m2 += d * (r - meanReturn)
      if (r < 0) downside += r * r
    }
    prevEquity = eq
    if (i === n - 1) break
    if (target !== undefined) {
      const want = target[i]!
      if (want === want) pending = want - pos
    } else {
      const s = input as SignalInput
      if (pos === 0) {
        if (s.entries[i]) pending = qtySize === qtySize ? qtySize : (percent * eq) / (px * (1 + slip) * (1 + rate))
        // The request-time buying-power cap of the event engine (a cash account).
        if (pending === pending) {
          const cap = Math.max(0, eq - fixed) / (px * (1 + slip) * (1 + rate))
          if (cap < pending) pending = cap
        }
      } else if (pos > 0 && s.exits[i]) pending = -pos
    }
  }
  return {
    equity,
    position,
    traded,
    trades: {
      entryIndex: Float64Array.from(t.entryIndex),
      exitIndex: Float64Array.from(t.exitIndex),
      qty: Float64Array.from(t.qty),
      entryPrice: Float64Array.from(t.entryPrice),
      exitPrice: Float64Array.from(t.exitPrice),
      fees: Float64Array.from(t.fees),
      pnl: Float64Array.from(t.pnl),
    },
    fees,
    openPosition: pos,
    // Nothing trades before bar 1's open: the first point is the starting cash.
    stats: { points: n, first: c.cash, last: prevEquity, meanReturn, m2, downside, maxDrawdown, exposed },
  }
}

/**
 * A strategy's signals over a series (Strategy.signals), silenced during its warm-up as onBar is —
 * or undefined when the strategy (with these parameters) has no vectorized form.
 */
export function strategySignals(strategy: Strategy<any>, params: Readonly<Record<string, number | string>>, bars: Bars, indicator: IndicatorCompute = indicatorSource(bars)): VectorSignals | undefined {
  const p = resolveParams(`strategy ${strategy.name}`, strategy.params, params) as Record<string, number>
  const problem = strategy.validate?.(p)
  if (problem !== undefined) throw new ConfigError(`strategy ${strategy.name}: ${problem}`)
  const s = strategy.signals?.(p, bars, indicator)
  if (s === undefined) return undefined
  const warm = Math.min(bars.close.length, Math.max(0, Math.floor(strategy.warmup(p)) - 1))
  s.entries.fill(0, 0, warm)
  s.exits.fill(0, 0, warm)
  return s
}
