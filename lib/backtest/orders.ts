// Orders and their lifecycle: the explicit transition table of DESIGN.md, enforced — an illegal
// transition is a bug in the engine or a broker adapter, and throws rather than corrupting the book.
//   NEW → SUBMITTED → PARTIALLY_FILLED → FILLED | CANCELLED | REJECTED | EXPIRED

import { MtflowError } from '../core/index.js'
import type { OrderRole, OrderStatus, OrderType, OrderView, Side } from '../strategy/index.js'

export const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  NEW: ['SUBMITTED', 'REJECTED'],
  SUBMITTED: ['PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED'],
  PARTIALLY_FILLED: ['PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'EXPIRED'],
  FILLED: [],
  CANCELLED: [],
  REJECTED: [],
  EXPIRED: [],
}

/**
 * TRANSITIONS[from].includes(to), written out: the table lookup is a keyed load by a status held in a
 * variable, twice per order event (test/backtest/orders.test.ts holds the two to the same answers).
 */
export function allowed(from: OrderStatus, to: OrderStatus): boolean {
  switch (from) {
    case 'NEW':
      return to === 'SUBMITTED' || to === 'REJECTED'
    case 'SUBMITTED':
      return to === 'PARTIALLY_FILLED' || to === 'FILLED' || to === 'CANCELLED' || to === 'REJECTED' || to === 'EXPIRED'
    case 'PARTIALLY_FILLED':
      return to === 'PARTIALLY_FILLED' || to === 'FILLED' || to === 'CANCELLED' || to === 'EXPIRED'
    default:
      return false
  }
}

/** An order moved along a transition the table does not allow. */
export class OrderStateError extends MtflowError {}

export function isTerminal(status: OrderStatus): boolean {
  return TRANSITIONS[status].length === 0
}

export class Order implements OrderView {
  status: OrderStatus = 'NEW'
  filled = 0
  avgPrice = NaN
  fees = 0
  reason = ''
  /** Epoch ms: when the strategy asked, when it was accepted, when it reached a terminal state. */
  createdAt: number
  submittedAt = NaN
  doneAt = NaN
  /** Bars of its symbol seen while working (for expireBars and latency). */
  barsWorking = 0
  /** Takes part in matching from this bar index of its symbol's execution series on. */
  activeFrom = 0
  /** And only in bars opening at or after this time (epoch ms): the close it was decided at (−Infinity: any). */
  notBefore = -Infinity
  /** Placed before its first bar was in (a session whose series lags): activeFrom is fixed when that bar comes. */
  anchorLate = false
  /** Bracket children (stop-loss, take-profit) are cancelled together: one fills, the other goes. */
  children: Order[] | undefined = undefined
  /** The engine's index of the symbol (set when the engine takes the order: no lookup by name per fill). */
  symbolIndex = -1
  /** Placed after the open of its first bar (a child of an entry filled at that open): that open is the price it
   * is placed at, so a leg already beyond it fills there, never at its own level outside the bar. */
  placedAfterOpen = false
  /** A stop that has traded through its level: a market order from then on (its rest fills at later opens). */
  triggered = false
  /** The bar index of its last fill on the simulated exchange (−1: none): at most one fill per order per bar. */
  lastFillBar = -1
  /** Bracket prices to attach when this entry fills. */
  stopLoss = NaN
  takeProfit = NaN
  expireBars: number
  /** The indicator values the strategy saw when it placed the order (factors.csv). */
  factors: Record<string, number> | undefined
  /** Buying power set aside for the exposure this order would add (released as it fills or ends). */
  reserved = 0
  /** Cancelled while still queued: rejected when the queue reaches it, with this reason. */
  cancelReason = ''
  /** A deployment's client order id (journaled before the order reaches the venue); '' in a backtest. */
  cid = ''
  /** Fills so far (a simulated venue's trade ids count them). */
  fillCount = 0
  /** A venue that fills orders itself (lib/live): a cancel was asked of it, to end the order in this status. */
  withdrawing: '' | 'CANCELLED' | 'EXPIRED' = ''
  withdrawReason = ''

  constructor(
    readonly id: number,
    readonly strategy: string,
    readonly symbol: string,
    readonly side: Side,
    readonly type: OrderType,
    readonly role: OrderRole,
    public qty: number,
    readonly limit: number,
    readonly stop: number,
    readonly parentId: number,
    readonly tag: string,
    createdAt: number,
    expireBars = Infinity,
  ) {
    this.createdAt = createdAt
    this.expireBars = expireBars
  }

  get remaining(): number {
    return this.qty - this.filled
  }

  /** Moves to `next`, or throws OrderStateError naming the order and both states. */
  transition(next: OrderStatus, time: number, reason = ''): void {
    if (!allowed(this.status, next)) {
      throw new OrderStateError(`order ${this.id} (${this.symbol} ${this.side} ${this.type}): illegal transition ${this.status} → ${next}`)
    }
    this.status = next
    if (reason !== '') this.reason = reason
    if (next === 'SUBMITTED') this.submittedAt = time
    else if (next !== 'PARTIALLY_FILLED') this.doneAt = time
  }

  /** Records a fill of `qty` at `price` (volume-weighted average price) and moves the state on. */
  fill(qty: number, price: number, fee: number, time: number): void {
    if (!(qty > 0) || qty > this.remaining + 1e-9 * this.qty) {
      throw new OrderStateError(`order ${this.id}: fill of ${qty} with ${this.remaining} remaining`)
    }
    const before = this.filled
    this.fillCount++
    this.filled = before + qty
    this.avgPrice = before === 0 ? price : (this.avgPrice * before + price * qty) / this.filled
    this.fees += fee
    // A fill within a billionth of the quantity completes the order (fractional sizes).
    if (this.remaining <= 1e-9 * this.qty) {
      this.filled = this.qty
      this.transition('FILLED', time)
    } else {
      this.transition('PARTIALLY_FILLED', time)
    }
  }

  get working(): boolean {
    return this.status === 'SUBMITTED' || this.status === 'PARTIALLY_FILLED'
  }
}
