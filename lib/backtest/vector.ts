// The vectorized engine: one pass over typed arrays, for sweeps. Its rules are the event-driven
// engine's for market orders — a signal at bar t's close trades at bar t+1's open, plus slippage,
// commission on notional (+ fixed fee), sizing at the signal bar's close and clipped to what the cash
// affords at the fill — so for strategies that can say their signals as arrays the two engines give
// the same trades and equity (test/backtest/parity.test.ts holds them to 1e-9).
// Two forms: entries/exits (long only: enter when flat and entries[t], leave when long and exits[t])
// and targetPosition (units to hold from the next open; NaN keeps the position). Margins are the
// engine's defaults: a cash account for longs (1), 0.5 of notional for shorts.

import { ConfigError, DataError } from '../core/index.js'
import { closingFrees } from './portfolio.js'
import { grown } from './records.js'
import type { Bars } from '../data/index.js'
import { tradeStats } from '../stats/index.js'
import { indicatorSource, isCrossing, resolveParams, signalLength, type Crossing, type IndicatorCompute, type Signal, type Strategy, type VectorSignals } from '../strategy/index.js'

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
  /** Flags (any truthy value), or a Crossing evaluated as the engine scans. */
  entries: ArrayLike<boolean | number> | Crossing
  exits: ArrayLike<boolean | number> | Crossing
}

export interface TargetInput {
  open: Float64Array
  close: Float64Array
  targetPosition: Float64Array
}

/** Round trips as they close, in typed columns grown by doubling (plain arrays cost ~100 ns a push here). */
class TradeLists {
  count = 0
  entryIndex = new Float64Array(256)
  exitIndex = new Float64Array(256)
  qty = new Float64Array(256)
  entryPrice = new Float64Array(256)
  exitPrice = new Float64Array(256)
  fees = new Float64Array(256)
  pnl = new Float64Array(256)

  /** A round trip: qty is every unit it entered, the prices their averages, pnl its realised P&L less its fees. */
  push(entryIndex: number, exitIndex: number, qty: number, entryPrice: number, exitPrice: number, fees: number, pnl: number): void {
    const k = this.count
    if (k === this.pnl.length) this.grow()
    this.entryIndex[k] = entryIndex
    this.exitIndex[k] = exitIndex
    this.qty[k] = qty
    this.entryPrice[k] = entryPrice
    this.exitPrice[k] = exitPrice
    this.fees[k] = fees
    this.pnl[k] = pnl
    this.count = k + 1
  }

  private grow(): void {
    this.entryIndex = grown(this.entryIndex)
    this.exitIndex = grown(this.exitIndex)
    this.qty = grown(this.qty)
    this.entryPrice = grown(this.entryPrice)
    this.exitPrice = grown(this.exitPrice)
    this.fees = grown(this.fees)
    this.pnl = grown(this.pnl)
  }

  columns(): VectorTrades {
    const n = this.count
    return {
      entryIndex: this.entryIndex.slice(0, n),
      exitIndex: this.exitIndex.slice(0, n),
      qty: this.qty.slice(0, n),
      entryPrice: this.entryPrice.slice(0, n),
      exitPrice: this.exitPrice.slice(0, n),
      fees: this.fees.slice(0, n),
      pnl: this.pnl.slice(0, n),
    }
  }
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
  /** Units held over each bar (after its open's fill); built from the fills on first read. */
  readonly position: Float64Array
  /** Notional traded at each bar's open; built from the fills on first read. */
  readonly traded: Float64Array
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
  /** Mean and sum of squared deviations of the simple returns (from Σr and Σr²). */
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
 * performanceMetrics, with the variance of returns from Σr and Σr² instead of two passes (returns are
 * small and their mean smaller still: agreement to ~1e-12 relative, held to 1e-9 by the tests).
 */
export function sweepMetrics(r: Pick<VectorResult, 'stats' | 'trades'>, periodsPerYear: number): SweepMetrics {
  return metricsOf(r.stats, r.trades.pnl, periodsPerYear)
}

function metricsOf(s: CurveStats, pnl: ArrayLike<number>, periodsPerYear: number): SweepMetrics {
  if (!(periodsPerYear > 0)) throw new ConfigError(`periodsPerYear must be a number > 0 (received ${periodsPerYear})`)
  const n = s.points - 1
  const sd = Math.sqrt(s.m2 / (n - 1))
  const cagr = Math.pow(s.last / s.first, periodsPerYear / n) - 1
  const t = tradeStats(pnl)
  return {
    totalReturn: s.last / s.first - 1,
    cagr,
    volatility: sd * Math.sqrt(periodsPerYear),
    sharpe: (s.meanReturn / sd) * Math.sqrt(periodsPerYear),
    sortino: (s.meanReturn / Math.sqrt(s.downside / n)) * Math.sqrt(periodsPerYear),
    calmar: s.maxDrawdown > 0 ? cagr / s.maxDrawdown : NaN, // no drawdown: NaN (performanceMetrics)
    maxDrawdown: s.maxDrawdown,
    trades: t.trades,
    winRate: t.winRate,
    profitFactor: t.profitFactor,
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

/** The account and the open trade, touched only by fills (rare): out of the hot loop's registers. */
interface Book {
  cash: number
  pos: number
  fees: number
  /** The open trade (the event engine's round trip, flat to flat): its first fill's bar, the units entered and
   * their notional, the units closed and theirs, P&L realised at the average cost, fees. */
  entryIndex: number
  entryQty: number
  entryNotional: number
  exitQty: number
  exitNotional: number
  avgCost: number
  realized: number
  tradeFees: number
  rate: number
  slip: number
  fixed: number
  trades: TradeLists
}

/** Fills `pending` signed units at bar i's open, with the event engine's buying-power check. */
function fill(b: Book, pending: number, i: number, o: number, prevClose: number): number {
  const buy = pending > 0
  const price = buy ? o * (1 + b.slip) : o * (1 - b.slip)
  let q = Math.abs(pending)
  const pos = b.pos
  // Buying power at the fill (the event engine's check, the same arithmetic): the part that closes the
  // position frees its margin and realises its move from the last close, less its commission; the exposure
  // the rest opens must be affordable from that.
  const closing = pos !== 0 && pos > 0 !== buy ? Math.min(q, Math.abs(pos)) : 0
  const opening = q - closing
  if (opening > 0) {
    const affordable = affordableOpening(b, buy, closing, prevClose, price)
    if (opening > affordable * (1 + 1e-12)) q -= opening - affordable
  }
  if (!(q > 0)) return 0
  const fee = q * price * b.rate + b.fixed
  const signed = buy ? q : -q
  const after = pos + signed
  const flat = Math.abs(after) <= 1e-9 * q
  if (closing > 0) {
    // Reduces, closes or reverses (only the part that opens was cut: `closing` stands): the closed part realises
    // (price − average cost); a partial reduction keeps the trade open (one round trip from flat to flat, as the
    // event engine counts them — a numbers audit found 0 → 10 → 5 → 0 counted as two trades).
    const share = closing / q
    b.realized += (price - b.avgCost) * Math.sign(pos) * closing
    b.exitQty += closing
    b.exitNotional += closing * price
    b.tradeFees += fee * share
    if (flat || Math.sign(after) !== Math.sign(pos)) {
      b.trades.push(b.entryIndex, i, b.entryQty, b.entryNotional / b.entryQty, b.exitNotional / b.exitQty, b.tradeFees, b.realized - b.tradeFees)
      if (!flat) open(b, i, Math.abs(after), price, fee * (1 - share))
    }
  } else if (pos === 0) open(b, i, q, price, fee)
  else {
    b.avgCost = (Math.abs(pos) * b.avgCost + q * price) / (Math.abs(pos) + q)
    b.entryQty += q
    b.entryNotional += q * price
    b.tradeFees += fee
  }
  b.cash -= signed * price + fee
  b.fees += fee
  b.pos = flat ? 0 : after
  return q * price
}

/**
 * The event engine's request-time check (checkLimits) of `pending` signed units decided at close px: the part
 * that adds exposure is cut to what the buying power at that close affords (the fill then checks again at the open).
 */
function requestCap(b: Book, pending: number, px: number): number {
  const buy = pending > 0
  const price = buy ? px * (1 + b.slip) : px * (1 - b.slip)
  const q = Math.abs(pending)
  const pos = b.pos
  const closing = pos !== 0 && pos > 0 !== buy ? Math.min(q, Math.abs(pos)) : 0
  if (!(q > closing)) return pending
  const affordable = closing + affordableOpening(b, buy, closing, px, price)
  if (!(affordable < q)) return pending
  return buy ? affordable : -affordable
}

/**
 * Units an order may open past the `closing` units it closes, at `price`, with the position marked at `mark`: the
 * closed part frees its margin and realises its move from the mark, less its commission (the event engine's
 * buying-power arithmetic, at the request and at the fill).
 */
function affordableOpening(b: Book, buy: boolean, closing: number, mark: number, price: number): number {
  const pos = b.pos
  const margin = Math.abs(pos * mark) * (pos > 0 ? 1 : 0.5)
  const freed = closingFrees(closing, pos, mark, pos > 0 ? 1 : 0.5, price, b.rate)
  const power = b.cash + pos * mark - margin - b.fixed + freed
  return Math.max(0, power) / (price * ((buy ? 1 : 0.5) + b.rate))
}

/** A trade opened at bar i: qty units at price, its fee so far. */
function open(b: Book, i: number, qty: number, price: number, fee: number): void {
  b.entryIndex = i
  b.entryQty = qty
  b.entryNotional = qty * price
  b.exitQty = 0
  b.exitNotional = 0
  b.avgCost = price
  b.realized = 0
  b.tradeFees = fee
}

export function vectorBacktest(input: SignalInput | TargetInput, costs: VectorCosts = {}, options: VectorOptions = {}): VectorResult {
  return kernel(input, costs, options.record ?? true, result)
}

/**
 * A sweep set: sweepMetrics of vectorBacktest(input, costs, { record: false }), without building the
 * result (its trade columns are copies nobody reads in a sweep).
 */
export function vectorSweepMetrics(input: SignalInput | TargetInput, costs: VectorCosts, periodsPerYear: number): SweepMetrics {
  return kernel(input, costs, false, (b, _equity, _n, _changes, stats) => metricsOf(stats, b.trades.pnl.subarray(0, b.trades.count), periodsPerYear))
}

type Finish<R> = (b: Book, equity: Float64Array, n: number, changes: FillLog, stats: CurveStats) => R

function kernel<R>(input: SignalInput | TargetInput, costs: VectorCosts, record: boolean, finish: Finish<R>): R {
  const c = checkCosts(costs)
  const { open, close } = input
  const n = close.length
  if (open.length !== n) throw new DataError(`open has ${open.length} values, close has ${n}`)
  const target = 'targetPosition' in input ? input.targetPosition : undefined
  if (target !== undefined && target.length !== n) throw new DataError(`targetPosition has ${target.length} values, close has ${n}`)
  if (target === undefined) {
    const s = input as SignalInput
    const [a, b] = [lengthOf(s.entries), lengthOf(s.exits)]
    if (a !== n || b !== n) throw new DataError(`entries and exits need ${n} values (received ${a} and ${b})`)
    for (const [name, signal] of [['entries', s.entries], ['exits', s.exits]] as const) {
      if (isCrossing(signal) && !(Number.isInteger(signal.from) && signal.from >= 0)) throw new DataError(`${name}: a crossing's from must be a bar index, an integer ≥ 0 (received ${signal.from})`)
    }
  }
  const entries = target === undefined ? (input as SignalInput).entries : undefined
  const exits = target === undefined ? (input as SignalInput).exits : undefined
  const equity = new Float64Array(record ? n : 0)
  // Position and traded notional change only at fills: kept as a log, spread into arrays when read
  // (fresh pages cost this VM ~4 µs each: two 8 MB arrays nobody reads were half the run).
  const changes = new FillLog()
  const rate = c.commission
  const slip = c.slippageBps / 10_000
  const fixed = c.fixedFee
  const qtySize = 'qty' in c.size ? c.size.qty : NaN
  const percent = 'percent' in c.size ? c.size.percent : NaN
  const b: Book = { cash: c.cash, pos: 0, fees: 0, entryIndex: -1, entryQty: 0, entryNotional: 0, exitQty: 0, exitNotional: 0, avgCost: NaN, realized: 0, tradeFees: 0, rate, slip, fixed, trades: tradeLists() }
  const curve = new Curve(c.cash)
  const eqOut = record ? equity : undefined
  const flags = target === undefined ? { entries: truthy(entries!), exits: truthy(exits!) } : undefined
  // Segments: between two fills the cash and the position are constant, so the bars of a segment
  // only feed the statistics (a flat one: not even that, its returns are 0). A segment runs from a
  // fill (or bar 0) through the bar whose close decides the next order; the last bar decides nothing.
  let from = 0
  while (from < n) {
    const pos = b.pos
    let to: number
    if (pos === 0) {
      // Flat: one bar for the step from the last equity; the rest return exactly 0 and make no new
      // peak or depth, so they are only scanned for the next signal.
      to = flags !== undefined ? nextSignal(flags.entries, from, n - 1, open, curve) : nextTarget(target!, from, n - 1, 0)
      const end = to < 0 ? n : to + 1
      // The equity is the cash (not cash + 0 × close: a missing close on a flat bar made every statistic NaN).
      curve.run(ZERO, 0, 1, b.cash, 0)
      if (eqOut !== undefined) eqOut.fill(b.cash, from, end)
    } else if (flags !== undefined) {
      // Long: the exit (flags or a crossing) is tested in the statistics' pass.
      const exits = flags.exits
      if (exits instanceof Uint8Array) {
        to = curve.runUntil(close, from, n, b.cash, pos, exits, open)
        if (to === n - 1) to = -1
      } else {
        // One pass: statistics, equity and the exit test together (a crossing scan, then a second pass
        // for the statistics and a third for the equity, read the arrays three times).
        to = curve.runCross(close, open, from, n, b.cash, pos, exits, record ? equity : scratch, record ? -1 : SCRATCH_MASK)
      }
      const end = to < 0 ? n : to + 1
      curve.exposed += end - from
      if (eqOut !== undefined && exits instanceof Uint8Array) writeEquity(eqOut, close, from, end, b.cash, pos)
    } else {
      to = nextTarget(target!, from, n - 1, pos)
      const end = to < 0 ? n : to + 1
      curve.run(close, from, end, b.cash, pos)
      curve.exposed += end - from
      if (eqOut !== undefined) writeEquity(eqOut, close, from, end, b.cash, pos)
    }
    if (to < 0) break
    const px = close[to]!
    const pending = flags === undefined ? requestCap(b, target![to]! - pos, px) : pos === 0 ? entrySize(qtySize, percent, b.cash, px, slip, rate, fixed) : -pos
    if (pending !== 0) {
      const notional = fill(b, pending, to + 1, open[to + 1]!, px)
      if (record && notional !== 0) changes.push(to + 1, b.pos, notional)
    }
    from = to + 1
  }
  retained.curve = curve
  retained.book = b
  retained.log = changes
  retained.entries = flags?.entries
  retained.exits = flags?.exits
  const stats = curve.stats(n, c.cash)
  // A held bar without a price (NaN close or open): the event engine refuses the curve; NaN metrics here were
  // ranked last in a sweep instead of reported as failed.
  if (n > 1 && !(Number.isFinite(stats.last) && Number.isFinite(stats.meanReturn))) {
    const bad = Math.min(...[close.findIndex((x) => !Number.isFinite(x)), open.findIndex((x) => !Number.isFinite(x))].filter((k) => k >= 0))
    // (No price missing: the equity itself went to 0 or below, a short that lost everything.)
    throw new DataError(Number.isFinite(bad) ? `equity must be positive and finite; a price is missing where a position is held (the first missing price is at bar ${bad})` : `equity must be positive and finite; it reached ${stats.last} (a position lost all the capital)`)
  }
  // The result is built in another function: this one's optimized code then ends in a plain call
  // (property loads here whose feedback V8 judged insufficient deoptimized it at every return).
  return finish(b, equity, record ? n : 0, changes, stats)
}

function writeEquity(out: Float64Array, close: Float64Array, from: number, to: number, cash: number, pos: number): void {
  for (let t = from; t < to; t++) out[t] = cash + pos * close[t]!
}

function lengthOf(signal: ArrayLike<boolean | number> | Crossing): number {
  return isCrossing(signal) ? signalLength(signal) : signal.length
}

/** Flags as 0/1 bytes (typed byte flags and crossings pass through). */
function truthy(flags: ArrayLike<boolean | number> | Crossing): Signal {
  if (flags instanceof Uint8Array || isCrossing(flags)) return flags
  const out = new Uint8Array(flags.length)
  for (let i = 0; i < flags.length; i++) out[i] = flags[i] ? 1 : 0
  return out
}

function nextSignal(signal: Signal, from: number, end: number, open: Float64Array, curve: Curve): number {
  return signal instanceof Uint8Array ? nextSet(signal, from, end, open, curve) : nextCross(signal, from, end, open, curve)
}

/**
 * The first t in [from, end) where the crossing happens, or −1. Branch-free comparisons (which side
 * is above flips too often for the predictor); open is read alongside, as in nextSet.
 */
function nextCross(c: Crossing, from: number, end: number, open: Float64Array, curve: Curve): number {
  const a = c.kind === 'above' ? c.a : c.b
  const b = c.kind === 'above' ? c.b : c.a
  let t = Math.max(from, c.from, 1)
  if (t >= end) return -1
  let touch = 0
  let was = +(a[t - 1]! <= b[t - 1]!)
  for (; t < end; t++) {
    const x = a[t]!
    const y = b[t]!
    touch = open[t]!
    if ((+(x > y) & was) !== 0) break
    was = +(x <= y)
  }
  curve.touch = touch
  return t < end ? t : -1
}

/** The first t in [from, end) with flags[t] set, or −1. */
function nextSet(flags: Uint8Array, from: number, end: number, open: Float64Array, curve: Curve): number {
  let touch = 0
  for (let t = from; t < end; t++) {
    touch = open[t]!
    if (flags[t] !== 0) {
      curve.touch = touch
      return t
    }
  }
  curve.touch = touch
  return -1
}

/** The first t in [from, end) whose target is a number other than `pos`, or −1. */
function nextTarget(target: Float64Array, from: number, end: number, pos: number): number {
  for (let t = from; t < end; t++) {
    const want = target[t]!
    if (want === want && want !== pos) return t
  }
  return -1
}

/** Where each running value of a Curve sits in its array. */
const V = { prev: 0, sum: 1, sumSq: 2, downside: 3, peak: 4, maxDrawdown: 5, low: 6 } as const

/**
 * The running statistics of an equity curve, fed a segment at a time. Returns as Σr and Σr² (no
 * division in a loop-carried chain), the downside branch-free (a return's sign is a coin toss the
 * branch predictor loses), the drawdown's division only near a new depth (rare).
 */
export class Curve {
  // The running values live in a Float64Array (indices V). As plain fields they started as small
  // integers (the cash), so the loops' locals were tagged values: every bar checked their type, and
  // every new peak or depth allocated a heap number (seen in the optimized code). Loads from the array
  // are always doubles.
  private readonly v = new Float64Array(7)
  exposed = 0
  touch = 0
  constructor(cash: number) {
    // Bar 0 never holds a position (orders fill from the next open): its equity is the cash.
    this.v[V.prev] = cash
    this.v[V.peak] = cash
    this.v[V.low] = cash
  }

  /** Bars from ≤ t < to at `cash` and `pos`. */
  run(close: Float64Array, from: number, to: number, cash: number, pos: number): number {
    // (runUntil's loop without the flag test: an optional argument tested in the loop doubled its time.)
    let prev = this.v[V.prev]!
    let sum = this.v[V.sum]!
    let sumSq = this.v[V.sumSq]!
    let downside = this.v[V.downside]!
    let peak = this.v[V.peak]!
    let maxDrawdown = this.v[V.maxDrawdown]!
    let low = this.v[V.low]!
    let hit = -1
    for (let t = from; t < to; t++) {
      const eq = cash + pos * close[t]!
      const r = eq / prev - 1
      const neg = (r - Math.abs(r)) * 0.5
      sum += r
      sumSq += r * r
      downside += neg * neg
      if (eq > peak || eq < low) {
        if (eq > peak) {
          peak = eq
          low = peak * (1 - maxDrawdown)
        } else {
          const dd = 1 - eq / peak
          if (dd > maxDrawdown) maxDrawdown = dd
          low = eq
        }
      }
      prev = eq
    }
    this.v[V.prev] = prev
    this.v[V.sum] = sum
    this.v[V.sumSq] = sumSq
    this.v[V.downside] = downside
    this.v[V.peak] = peak
    this.v[V.maxDrawdown] = maxDrawdown
    this.v[V.low] = low
    return hit
  }

  /**
   * As run, ending after the first bar t < to − 1 where the crossing `c` happens: returns t, or −1
   * when none does (all bars to `to` run). Each bar's equity goes to out[t & mask]: the equity array
   * with mask −1, or a small scratch buffer (mask SCRATCH_MASK) when the curve is not kept — one
   * loop for both, the store cheaper than a test of an optional array per bar. open is read alongside,
   * as in nextCross: the exit fills at the next bar's open, and the reads keep that array streaming
   * (without them a set took ~7 % longer).
   */
  runCross(close: Float64Array, open: Float64Array, from: number, to: number, cash: number, pos: number, c: Crossing, out: Float64Array, mask: number): number {
    // Below b is above with the series swapped: x < y after x ≥ y is y > x after y ≤ x (NaN alike).
    const a = c.kind === 'above' ? c.a : c.b
    const b = c.kind === 'above' ? c.b : c.a
    const start = Math.max(c.from, 1)
    if (from < start) {
      // Bars before the crossing may be tested (the warm-up): statistics only.
      const upto = Math.min(start, to)
      for (let t = from; t < upto; t++) out[t & mask] = cash + pos * close[t]!
      this.run(close, from, upto, cash, pos)
      from = upto
    }
    const end = to - 1
    let prev = this.v[V.prev]!
    let sum = this.v[V.sum]!
    let sumSq = this.v[V.sumSq]!
    let downside = this.v[V.downside]!
    let peak = this.v[V.peak]!
    let maxDrawdown = this.v[V.maxDrawdown]!
    let low = this.v[V.low]!
    let hit = -1
    let touch = 0
    let t = from
    if (t < end) {
      let was = +(a[t - 1]! <= b[t - 1]!)
      for (; t < end; t++) {
        const eq = cash + pos * close[t]!
        out[t & mask] = eq
        const r = eq / prev - 1
        const neg = (r - Math.abs(r)) * 0.5
        sum += r
        sumSq += r * r
        downside += neg * neg
        if (eq > peak || eq < low) {
          if (eq > peak) {
            peak = eq
            low = peak * (1 - maxDrawdown)
          } else {
            const dd = 1 - eq / peak
            if (dd > maxDrawdown) maxDrawdown = dd
            low = eq
          }
        }
        prev = eq
        const x = a[t]!
        const y = b[t]!
        touch = open[t]!
        if ((+(x > y) & was) !== 0) {
          hit = t
          break
        }
        was = +(x <= y)
      }
    }
    this.touch = touch
    this.v[V.prev] = prev
    this.v[V.sum] = sum
    this.v[V.sumSq] = sumSq
    this.v[V.downside] = downside
    this.v[V.peak] = peak
    this.v[V.maxDrawdown] = maxDrawdown
    this.v[V.low] = low
    if (hit < 0 && t < to) {
      // The last bar decides nothing: its statistics only.
      for (let k = t; k < to; k++) out[k & mask] = cash + pos * close[k]!
      this.run(close, t, to, cash, pos)
    }
    return hit
  }

  /** As run, ending after the first bar whose flag in `stop` is set: returns that bar (else −1). */
  runUntil(close: Float64Array, from: number, to: number, cash: number, pos: number, stop: Uint8Array, open: Float64Array): number {
    let touch = 0
    // Below `low` is a new depth: the division only then (rare); a new peak moves `low`.
    let prev = this.v[V.prev]!
    let sum = this.v[V.sum]!
    let sumSq = this.v[V.sumSq]!
    let downside = this.v[V.downside]!
    let peak = this.v[V.peak]!
    let maxDrawdown = this.v[V.maxDrawdown]!
    let low = this.v[V.low]!
    let hit = -1
    for (let t = from; t < to; t++) {
      const eq = cash + pos * close[t]!
      const r = eq / prev - 1
      const neg = (r - Math.abs(r)) * 0.5
      sum += r
      sumSq += r * r
      downside += neg * neg
      if (eq > peak || eq < low) {
        if (eq > peak) {
          peak = eq
          low = peak * (1 - maxDrawdown)
        } else {
          const dd = 1 - eq / peak
          if (dd > maxDrawdown) maxDrawdown = dd
          low = eq
        }
      }
      prev = eq
      touch = open[t]!
      if (stop[t] !== 0) {
        hit = t
        break
      }
    }
    this.v[V.prev] = prev
    this.v[V.sum] = sum
    this.v[V.sumSq] = sumSq
    this.v[V.downside] = downside
    this.v[V.peak] = peak
    this.v[V.maxDrawdown] = maxDrawdown
    this.v[V.low] = low
    this.touch = touch
    return hit
  }

  stats(n: number, first: number): CurveStats {
    const returns = n - 1
    const v = this.v
    const sum = v[V.sum]!
    return { points: n, first, last: n > 0 ? v[V.prev]! : NaN, meanReturn: returns > 0 ? sum / returns : NaN, m2: v[V.sumSq]! - (sum * sum) / returns, downside: v[V.downside]!, maxDrawdown: v[V.maxDrawdown]!, exposed: this.exposed }
  }
}

function result(b: Book, equity: Float64Array, n: number, changes: FillLog, stats: CurveStats): VectorResult {
  let position: Float64Array | undefined
  let traded: Float64Array | undefined
  return {
    equity,
    get position() {
      position ??= changes.position(n)
      return position
    },
    get traded() {
      traded ??= changes.traded(n)
      return traded
    },
    trades: b.trades.columns(),
    fees: b.fees,
    openPosition: b.pos,
    stats,
  }
}

/** Fills as (bar, position after, notional), in typed columns grown by doubling. */
class FillLog {
  count = 0
  index = new Float64Array(256)
  after = new Float64Array(256)
  notional = new Float64Array(256)

  push(index: number, after: number, notional: number): void {
    const k = this.count
    if (k === this.index.length) {
      this.index = grown(this.index)
      this.after = grown(this.after)
      this.notional = grown(this.notional)
    }
    this.index[k] = index
    this.after[k] = after
    this.notional[k] = notional
    this.count = k + 1
  }

  position(n: number): Float64Array {
    const out = new Float64Array(n)
    for (let k = 0; k < this.count; k++) out.fill(this.after[k]!, this.index[k]!, k + 1 < this.count ? this.index[k + 1]! : n)
    return out
  }

  traded(n: number): Float64Array {
    const out = new Float64Array(n)
    for (let k = 0; k < this.count; k++) out[this.index[k]!] = this.notional[k]!
    return out
  }
}

/** Units of an entry decided at a close: fixed, or a share of equity net of costs, capped by what the cash buys. */
function entrySize(qtySize: number, percent: number, eq: number, px: number, slip: number, rate: number, fixed: number): number {
  // The event engine's percent sizing: the fixed fee paid from the percentage too.
  const wanted = qtySize === qtySize ? qtySize : Math.max(0, percent * eq - fixed) / (px * (1 + slip) * (1 + rate))
  // The request-time buying-power cap of the event engine (a cash account).
  const cap = Math.max(0, eq - fixed) / (px * (1 + slip) * (1 + rate))
  return cap < wanted ? cap : wanted
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
  const silence = (signal: Signal): Signal => {
    if (signal instanceof Uint8Array) {
      signal.fill(0, 0, warm)
      return signal
    }
    return { ...signal, from: Math.max(signal.from, warm) }
  }
  return { entries: silence(s.entries), exits: silence(s.exits) }
}

// The last run's working objects, kept alive. A class instance's final shape (V8 map; fields start
// as small integers and widen to doubles, each widening a new map) is reachable only through the
// constructor's transition tree, which holds it weakly: once the last result is garbage, a full
// collection drops the map and every optimized function that checked it deoptimizes ("weak objects"),
// so the next backtest restarted in the interpreter at about twice the time. Keeping the latest
// instances (a few hundred bytes, and the signal objects the caller passed) keeps their maps.
// Plain version: no reference kept (correct, but each run after a full GC starts cold).
/**
 * The round-trip lists, reused from run to run (a run hands back copies of the columns, and runs in
 * one thread never overlap): a sweep's set no longer grows seven arrays from 256 by doubling.
 */
let spareTrades: TradeLists | undefined
function tradeLists(): TradeLists {
  spareTrades ??= new TradeLists()
  spareTrades.count = 0
  return spareTrades
}

/** Where runCross writes the equity of a run that keeps none (a sweep set's): 1,024 values, reused. */
const SCRATCH_MASK = 1023
/** A flat bar's price: its equity is the cash whatever its close. */
const ZERO = new Float64Array(1)
const scratch = new Float64Array(SCRATCH_MASK + 1)

const retained: { curve?: Curve; book?: Book; log?: FillLog; entries?: unknown; exits?: unknown } = {}
