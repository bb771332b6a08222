// The Strategy contract: the same strategy code runs in the backtest engines, paper and live. A
// strategy sees only the past through its Context, and acts through order verbs; the engine owns the
// clock. Contract version 1 (STRATEGY_API): additions keep old strategies working.

import type { Bars } from '../data/index.js'
import type { ParamSpace } from './params.js'
import type { IndicatorCompute } from './signals.js'

export const STRATEGY_API = 1

/** One series a strategy reads: a symbol at a timeframe. */
export interface Subscription {
  symbol: string
  timeframe: string
}

/** What the user chose to run the strategy on (CLI --symbol/--timeframe, or the caller). */
export interface UniverseRequest {
  symbols: readonly string[]
  timeframe: string
}

/**
 * One bar, delivered when it has closed: `time` is its open time (epoch ms), `closeTime` = time +
 * timeframe. The engine reuses the object for the next bar of the same series: copy what you keep.
 */
export interface BarEvent {
  symbol: string
  timeframe: string
  time: number
  closeTime: number
  open: number
  high: number
  low: number
  close: number
  volume: number
  /** Position of the bar in its series (0 = first bar of the data). */
  index: number
}

export type Side = 'buy' | 'sell'
/** market: next bar's open; limit: at the price or better; stop: a market order once the price trades through `stop`. */
export type OrderType = 'market' | 'limit' | 'stop'
export type OrderStatus = 'NEW' | 'SUBMITTED' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELLED' | 'REJECTED' | 'EXPIRED'
/** entry/exit: placed by the strategy; stop-loss/take-profit: bracket children (OCO) of an entry. */
export type OrderRole = 'entry' | 'exit' | 'stop-loss' | 'take-profit'

/** How much to trade; exactly one of these (else the run's default sizing). */
export interface Sizing {
  /** Units of the instrument. */
  qty?: number
  /** Currency amount at the reference price (the last close). */
  notional?: number
  /** Fraction of equity at the reference price: 0.1 = 10 %. */
  percent?: number
  /** Fraction of equity to lose if the stop-loss is hit: qty = risk·equity / |reference − stopLoss|. */
  risk?: number
}

export interface OrderOptions extends Sizing {
  type?: OrderType
  /** Limit price (type "limit"). */
  limit?: number
  /** Trigger price (type "stop"). */
  stop?: number
  /** Bracket: a protective stop at this price, placed when the entry fills (OCO with takeProfit). */
  stopLoss?: number
  /** Bracket: a limit at this price, placed when the entry fills. */
  takeProfit?: number
  /** Cancel (EXPIRED) if not completely filled within this many bars of its symbol, counted from the first bar it can fill on (after any latencyBars). */
  expireBars?: number
  /** Free text carried to the order and trade records. */
  tag?: string
}

/** A read-only view of an order, as callbacks and verbs return it. */
export interface OrderView {
  readonly id: number
  readonly strategy: string
  readonly symbol: string
  readonly side: Side
  readonly type: OrderType
  readonly role: OrderRole
  readonly qty: number
  readonly filled: number
  readonly avgPrice: number
  readonly limit: number
  readonly stop: number
  readonly status: OrderStatus
  readonly reason: string
  readonly parentId: number
  readonly tag: string
}

export interface OrderEvent {
  order: OrderView
  /** The status the order has just taken; "RESIZED" when a cap or buying power shrank the request. */
  status: OrderStatus | 'RESIZED'
  reason: string
  time: number
}

export interface FillEvent {
  order: OrderView
  symbol: string
  side: Side
  qty: number
  price: number
  fee: number
  time: number
  liquidity: 'maker' | 'taker'
}

/** An indicator's values up to now: at(0) is the current bar, at(1) the one before; NaN before the data. */
export interface IndicatorHandle {
  at(barsAgo?: number): number
  readonly name: string
  readonly output: string
}

export interface IndicatorOptions {
  symbol?: string
  timeframe?: string
  /** Which output of a multi-output indicator (default: the first). */
  output?: string
}

export interface PositionView {
  symbol: string
  /** Signed units: > 0 long, < 0 short. */
  qty: number
  avgPrice: number
  /** Mark-to-market value qty × last price. */
  value: number
  unrealized: number
  realized: number
}

export interface Context<P> {
  readonly params: P
  readonly strategy: string
  /** What the strategy subscribed to (its universe for this run). */
  readonly subscriptions: readonly Subscription[]
  /** The strategy's own state for this run (a strategy object is shared by every run that uses it). */
  readonly state: Record<string, unknown>
  /** The engine's clock: the close time of the bar being handled (epoch ms). */
  readonly time: number
  /** The last `n` bars of a series up to now (views, no copy). */
  history(symbol: string, timeframe: string, n: number): Bars
  /** An indicator on a series (default: the first subscription), values up to now; best created in onStart. */
  indicator(name: string, params?: Record<string, number>, options?: IndicatorOptions): IndicatorHandle
  /** Last close of a symbol (NaN before its first bar). */
  price(symbol: string): number
  cash(): number
  equity(): number
  /** This strategy's signed position in a symbol. */
  position(symbol: string): number
  positions(): PositionView[]
  /** The whole account's signed position in a symbol (every strategy of a portfolio run). */
  accountPosition(symbol: string): number
  openOrders(symbol?: string): OrderView[]
  buy(symbol: string, options?: OrderOptions): OrderView
  sell(symbol: string, options?: OrderOptions): OrderView
  /** Flatten this strategy's position in a symbol at market, cancelling its working orders there. */
  close(symbol: string, options?: { tag?: string }): OrderView | undefined
  cancel(orderId: number): void
  /** Trade toward a position worth `percent` of equity (negative: short) at the last price. */
  targetPercent(symbol: string, percent: number, options?: { tag?: string }): OrderView | undefined
  /** A message in the run's log (with the bar time). */
  log(message: string): void
}

export interface Strategy<P = Record<string, number>> {
  name: string
  description?: string
  params: ParamSpace<P>
  /** Symbols × timeframes it needs. */
  universe(p: P, request: UniverseRequest): Subscription[]
  /** Bars of history needed before the first decision (the engine does not call onBar before). */
  warmup(p: P): number
  /** Extra checks across parameters ("fast must be below slow"): a message, or undefined. */
  validate?(p: P): string | undefined
  /**
   * The same decisions as arrays over a whole series, for the vectorized engine and fast sweeps:
   * enter (long, when flat) where entries[t], leave where exits[t] — flags, or crossings the engine
   * evaluates as it scans (`crossing(a, b, 'above')`: a sweep then stores no flags per set); undefined when the parameters
   * need more (shorts, brackets). Must equal what onBar does with market orders — the parity tests
   * hold the built-ins to it.
   */
  signals?(p: P, bars: Bars, indicator: IndicatorCompute): VectorSignals | undefined
  onStart?(ctx: Context<P>): void
  onBar(ctx: Context<P>, bar: BarEvent): void
  onOrder?(ctx: Context<P>, event: OrderEvent): void
  onFill?(ctx: Context<P>, event: FillEvent): void
  onStop?(ctx: Context<P>): void
}

export interface VectorSignals {
  entries: Signal
  exits: Signal
}

/** A 0/1 flag per bar, or a crossing of two series evaluated where it is needed. */
export type Signal = Uint8Array | Crossing

/**
 * a crosses above b at t: a[t] > b[t] after a[t−1] ≤ b[t−1] (below: a[t] < b[t] after a[t−1] ≥
 * b[t−1]); NaN never crosses; nothing before bar `from`.
 */
export interface Crossing {
  kind: 'above' | 'below'
  a: Float64Array
  b: Float64Array
  from: number
}

/** Identity with type inference for P: `export default defineStrategy({ … })`. */
export function defineStrategy<P>(strategy: Strategy<P>): Strategy<P> {
  return strategy
}
