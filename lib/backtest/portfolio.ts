// Accounts: one Book per strategy (its cash, positions per symbol, realised P&L), marked to market at
// each bar's close through one array of last prices shared by every book. Equity sums over the held
// positions only. Average-cost accounting: adding to a position
// averages its price; reducing realises (price − average) × qty.
// Margin: a long uses longMargin × notional of equity (1 = a cash account), a short shortMargin ×
// notional (0.5: Reg T's 150 % less the proceeds). Buying power = equity − margin in use − margin
// reserved by working orders.

import { ConfigError } from '../core/index.js'

export class Position {
  /** Signed units. */
  qty = 0
  avgPrice = NaN
  realized = 0
  fees = 0

  constructor(
    readonly symbol: string,
    readonly symbolIndex: number,
    /** Last prices of every symbol, shared by all books of a run. */
    private readonly marks: Float64Array,
  ) {}

  /** The symbol's last price (its latest close). */
  get mark(): number {
    return this.marks[this.symbolIndex]!
  }

  get value(): number {
    return this.qty === 0 ? 0 : this.qty * this.mark
  }

  get unrealized(): number {
    return this.qty === 0 ? 0 : this.qty * (this.mark - this.avgPrice)
  }
}

export interface RiskLimits {
  /** Largest |position| × price per symbol (account currency). Default: none. */
  maxPositionNotional: number
  /** Largest Σ |position| × price as a multiple of equity (1 = no leverage). Default: none. */
  maxGrossExposure: number
  /** Most symbols held at once by one strategy. Default: none. */
  maxOpenPositions: number
  /** Equity held against a long, per unit of notional (1: cash account; 0.5: 2× leverage). Default 1. */
  longMargin: number
  /** Equity held against a short, per unit of notional. Default 0.5. */
  shortMargin: number
  /** Whether a strategy may sell what it does not hold. Default true. */
  allowShort: boolean
}

export const DEFAULT_LIMITS: RiskLimits = {
  maxPositionNotional: Infinity,
  maxGrossExposure: Infinity,
  maxOpenPositions: Infinity,
  longMargin: 1,
  shortMargin: 0.5,
  allowShort: true,
}

export function riskLimits(options: Partial<RiskLimits> = {}): RiskLimits {
  const limits: RiskLimits = { ...DEFAULT_LIMITS }
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (limits as unknown as Record<string, unknown>)[k] = v
  for (const name of ['maxPositionNotional', 'maxGrossExposure', 'maxOpenPositions', 'longMargin', 'shortMargin'] as const) {
    const v = limits[name]
    if (!(typeof v === 'number' && v > 0)) throw new ConfigError(`${name} must be a number > 0 (received ${String(v)})`)
  }
  if (limits.maxOpenPositions !== Infinity && !Number.isInteger(limits.maxOpenPositions)) {
    throw new ConfigError(`maxOpenPositions must be an integer ≥ 1 (received ${limits.maxOpenPositions})`)
  }
  return limits
}

export class Book {
  cash: number
  /** Margin set aside for working orders that add exposure. */
  reserved = 0
  feesPaid = 0
  readonly positions: Position[] = []
  /** The positions with a non-zero quantity (equity sums over these only). */
  readonly held: Position[] = []

  constructor(
    readonly strategy: string,
    readonly initialCash: number,
    readonly limits: RiskLimits,
    symbols: readonly string[],
    private readonly marks: Float64Array,
  ) {
    this.cash = initialCash
    symbols.forEach((s, i) => this.positions.push(new Position(s, i, marks)))
  }

  /** cash + Σ qty × mark. */
  get equity(): number {
    let e = this.cash
    const held = this.held
    for (let k = 0; k < held.length; k++) e += held[k]!.qty * held[k]!.mark
    return e
  }

  /**
   * Equity and gross exposure in one pass over the held positions, into markedEquity and
   * markedGross: the same sums as the equity and gross getters (the engine records both per bar).
   */
  markToMarket(): void {
    let e = this.cash
    let g = 0
    const held = this.held
    const marks = this.marks
    for (let k = 0; k < held.length; k++) {
      const p = held[k]!
      const v = p.qty * marks[p.symbolIndex]!
      e += v
      g += Math.abs(v)
    }
    this.markedEquity = e
    this.markedGross = g
  }

  markedEquity = 0
  markedGross = 0

  /** Σ |qty| × mark. */
  get gross(): number {
    let g = 0
    const held = this.held
    for (let k = 0; k < held.length; k++) g += Math.abs(held[k]!.qty * held[k]!.mark)
    return g
  }

  /** Equity held against the open positions. */
  get margin(): number {
    let m = 0
    const held = this.held
    for (let k = 0; k < held.length; k++) m += Math.abs(held[k]!.qty * held[k]!.mark) * this.marginRate(held[k]!.qty)
    return m
  }

  get buyingPower(): number {
    return this.equity - this.margin - this.reserved
  }

  get openPositions(): number {
    return this.held.length
  }

  marginRate(qty: number): number {
    return qty > 0 ? this.limits.longMargin : this.limits.shortMargin
  }

  /**
   * Books a fill of `qty` units (signed: + buy, − sell) at `price`, fee paid: cash, position (average
   * cost), realised P&L. Returns the P&L realised by the part that reduced the position (fee excluded).
   */
  apply(symbolIndex: number, qty: number, price: number, fee: number): number {
    const p = this.positions[symbolIndex]!
    const before = p.qty
    let realized = 0
    if (before === 0 || Math.sign(before) === Math.sign(qty)) {
      p.avgPrice = before === 0 ? price : (Math.abs(before) * p.avgPrice + Math.abs(qty) * price) / (Math.abs(before) + Math.abs(qty))
    } else {
      const closing = Math.min(Math.abs(before), Math.abs(qty))
      realized = closing * (price - p.avgPrice) * Math.sign(before)
      if (Math.abs(qty) > Math.abs(before)) p.avgPrice = price // flipped: the rest opens at this price
    }
    let after = before + qty
    // A remainder within a billionth of the size is rounding from fractional fills: flat.
    if (Math.abs(after) <= 1e-9 * Math.max(Math.abs(before), Math.abs(qty))) after = 0
    if (after === 0) p.avgPrice = NaN
    p.qty = after
    p.realized += realized
    p.fees += fee
    this.feesPaid += fee
    this.cash -= qty * price + fee
    if (before === 0 && after !== 0) this.held.push(p)
    else if (before !== 0 && after === 0) this.held.splice(this.held.indexOf(p), 1)
    return realized
  }

  /**
   * A fee the venue took in the units traded (Binance spot, without BNB: a buy's commission comes out of the coins
   * received; BNB/USDT paying in BNB: a sell's out of the coins held), booked in the fill's `fee` at its price: the
   * units leave the position, and the fee's cash — which the venue never took from the cash — comes back. The
   * average cost stays; cash and equity are as the account's.
   */
  keepFeeUnits(symbolIndex: number, units: number, price: number): void {
    const p = this.positions[symbolIndex]!
    if (!(units > 0) || !(p.qty > 0)) return
    const before = p.qty
    // A sell's fee in the coins held (BNB/USDT paying in BNB) beyond what the position still holds came from
    // coins outside it: only what it holds leaves it (lib/live/journal.ts positionAfterFill, the same rule).
    const taken = Math.min(units, before)
    let after = before - taken
    if (Math.abs(after) <= 1e-9 * before) after = 0
    p.qty = after
    this.cash += taken * price
    if (after === 0) {
      p.avgPrice = NaN
      this.held.splice(this.held.indexOf(p), 1)
    }
  }
}

/**
 * What the part of an order that closes a position (`closing` units of `position`, marked at `mark`, filled at
 * `price`) adds to buying power before the rest opens exposure: its margin freed, its move from the mark
 * realised, its commission paid. The event engine's checks at the order and at the fill, and the vectorized
 * engine's at the fill, use it alike.
 */
export function closingFrees(closing: number, position: number, mark: number, marginRate: number, price: number, feeRate: number): number {
  return closing === 0 ? 0 : closing * mark * marginRate + closing * (price - mark) * Math.sign(position) - closing * price * feeRate
}
