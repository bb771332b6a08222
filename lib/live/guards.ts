// Guards outside strategy code (issue 19, point 6): every order a deployment is about to send passes
// `check(order, state, now)` first. Deterministic and free of I/O: the caller passes the time (the
// deployment's Clock) and the state (equity, position, newest closed bar), so tests work every case by hand.
// - stale data: no order when the newest closed bar closed more than staleAfterBars timeframes ago;
// - max daily loss: once equity is maxDailyLoss below the UTC day's start equity, no order that adds to a
//   position until the next UTC day (orders that only reduce one still go, by what the side's other working
//   orders leave: they lower the risk); the day and the halt survive a restart that day (resumeDay);
// - max position notional: the backtest's rule (lib/backtest engine checkLimits) — only the part of an order
//   that adds exposure is capped, |position + qty| × price ≤ cap, and an order over it is RESIZED down to it
//   (floored to the lot size), refused when nothing is left;
// - max order rate: at most maxOrdersPerMinute orders in any 60 s window (sliding; refused orders do not count).

import { ConfigError, isoTime, timeframeMs } from '../core/index.js'
import type { DeploymentConfig, DeploymentGuards } from './config.js'
import type { OrderSide } from './journal.js'

export type GuardName = 'stale-data' | 'max-daily-loss' | 'max-position-notional' | 'max-order-rate'

export interface GuardOptions extends Partial<DeploymentGuards> {
  /** The deployment's timeframe: the unit of staleAfterBars. */
  timeframe: string
  /** Quantities are floored to a multiple of this, as the backtest does (0: fractional). Default 0. */
  lotSize?: number
}

export interface GuardOrder {
  symbol: string
  side: OrderSide
  /** Units, > 0. */
  qty: number
  /** The reference price (the last close): what the notional cap is measured at, as in the backtest. */
  price: number
}

export interface GuardState {
  /** Equity now: cash plus positions marked to market (realised and unrealised P&L). */
  equity: number
  /** The deployment's signed position in the order's symbol (units; short < 0). */
  position: number
  /** Signed units of the deployment's working entry orders on the symbol and the order's side, not yet filled (they count toward the notional cap). */
  pending?: number
  /** Units the deployment's other working orders on the symbol and the order's side already take (a bracket's legs once). */
  closing?: number
  /** Close time (epoch ms) of the newest closed bar the deployment holds; undefined or NaN before the first. */
  lastBarClose: number | undefined
}

export type GuardDecision =
  | { allow: true }
  /** Allowed with a smaller quantity (a cap binds): send `qty`, and report `reason`. */
  | { allow: true; qty: number; guard: GuardName; reason: string }
  | { allow: false; guard: GuardName; reason: string }

const DAY_MS = 86_400_000
const WINDOW_MS = 60_000

export class Guards {
  private readonly tfMs: number
  private readonly staleAfterBars: number
  private readonly lotSize: number
  private day = NaN
  private dayStart = NaN
  private halt: string | undefined
  /** Send times of the orders allowed in the last window, oldest first. */
  private sent: number[] = []

  constructor(private readonly options: GuardOptions) {
    this.tfMs = timeframeMs(options.timeframe)
    this.staleAfterBars = options.staleAfterBars ?? 2
    this.lotSize = options.lotSize ?? 0
    const positive = (name: string, v: number | undefined) => {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new ConfigError(`guards: ${name} must be a number > 0 (received ${v})`)
    }
    positive('maxDailyLoss', options.maxDailyLoss)
    positive('maxPositionNotional', options.maxPositionNotional)
    const integer = (name: string, v: number | undefined) => {
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1)) throw new ConfigError(`guards: ${name} must be an integer ≥ 1 (received ${v})`)
    }
    integer('maxOrdersPerMinute', options.maxOrdersPerMinute)
    integer('staleAfterBars', this.staleAfterBars)
    if (!(Number.isFinite(this.lotSize) && this.lotSize >= 0)) throw new ConfigError(`guards: lotSize must be a number ≥ 0 (received ${this.lotSize})`)
  }

  /**
   * Equity as it moves (call it after every step): the first value seen in a UTC day is that day's start
   * equity, and a new day lifts the previous day's halt. `check` observes its state's equity too.
   */
  observe(equity: number, now: number): void {
    if (!Number.isFinite(equity)) throw new ConfigError(`guards: equity must be a finite number (received ${equity})`)
    const day = Math.floor(now / DAY_MS)
    if (day !== this.day) {
      this.day = day
      this.dayStart = equity
      this.halt = undefined
    }
    const limit = this.options.maxDailyLoss
    if (limit !== undefined && this.halt === undefined && this.dayStart - equity >= limit) {
      this.halt = `max daily loss: equity ${fmt(equity)} is ${fmt(this.dayStart - equity)} below the UTC day's start ${fmt(this.dayStart)} (limit ${fmt(limit)}); no new positions until ${isoTime((day + 1) * DAY_MS)}`
    }
  }

  /** The UTC day (days since the epoch) and its start equity, once an equity was seen. */
  get dayState(): { day: number; start: number; halt?: string } | undefined {
    return this.day === this.day ? { day: this.day, start: this.dayStart, ...(this.halt === undefined ? {} : { halt: this.halt }) } : undefined
  }

  /** A restart within the same UTC day keeps that day's start equity (so its halt comes back at the first observation). */
  resumeDay(state: { day: number; start: number; halt?: unknown }): void {
    if (Number.isSafeInteger(state.day) && Number.isFinite(state.start)) {
      this.day = state.day
      this.dayStart = state.start
      // Halted that day, halted after a restart that day, though the equity came back since (as in one process).
      if (typeof state.halt === 'string' && state.halt !== '') this.halt = state.halt
    }
  }

  /** Why new positions are halted for the rest of the UTC day, or undefined. */
  get halted(): string | undefined {
    return this.halt
  }

  /** Whether `order` may be sent at `now`; an allowed order is counted against the order rate. */
  check(order: GuardOrder, state: GuardState, now: number): GuardDecision {
    if (!(Number.isFinite(order.qty) && order.qty > 0)) throw new ConfigError(`guards: order qty must be a number > 0 (received ${order.qty})`)
    if (!(Number.isFinite(order.price) && order.price > 0)) throw new ConfigError(`guards: order price must be a number > 0 (received ${order.price})`)
    if (order.side !== 'buy' && order.side !== 'sell') throw new ConfigError(`guards: order side must be "buy" or "sell" (received ${String(order.side)})`)
    if (!Number.isFinite(state.position)) throw new ConfigError(`guards: position must be a finite number (received ${state.position})`)
    this.observe(state.equity, now)

    const last = state.lastBarClose
    if (last === undefined || !(last === last)) return { allow: false, guard: 'stale-data', reason: 'stale data: no closed bar yet' }
    const limitMs = this.staleAfterBars * this.tfMs
    if (now - last > limitMs) {
      return { allow: false, guard: 'stale-data', reason: `stale data: the newest closed bar closed at ${isoTime(last)}, ${duration(now - last)} ago (limit ${this.staleAfterBars} × ${this.options.timeframe})` }
    }

    const sign = order.side === 'buy' ? 1 : -1
    const q = state.position
    // The part of the order that brings the position towards zero.
    const reducing = Math.min(order.qty, sign * q < 0 ? Math.abs(q) : 0)
    let qty = order.qty
    let resized: { guard: GuardName; reason: string } | undefined

    // Halted, only what reduces the position and is not reduced already by other working orders of this side: two
    // sells of the whole position in one bar each "only reduced" and together reversed it (a review).
    const left = Math.min(reducing, Math.max(0, Math.abs(q) - (state.closing ?? 0)))
    if (this.halt !== undefined && qty > left) {
      if (left <= 0) return { allow: false, guard: 'max-daily-loss', reason: this.halt }
      qty = left
      resized = { guard: 'max-daily-loss', reason: `${this.halt} (only the part that reduces the position is sent)` }
    }

    const cap = this.options.maxPositionNotional
    if (cap !== undefined && qty > reducing) {
      // |q + sign·x| ≤ C/price on the side the order adds to: x ≤ C/price − sign·q (the backtest's formula).
      const most = floorLot(cap / order.price - sign * (q + (state.pending ?? 0)), this.lotSize)
      if (most < qty) {
        qty = Math.max(0, most)
        const reason = `max position notional ${fmt(cap)}: ${order.symbol} position ${fmt(q)} at ${fmt(order.price)}`
        if (qty === 0) return { allow: false, guard: 'max-position-notional', reason: `${reason} leaves no room for a ${order.side}` }
        resized = { guard: 'max-position-notional', reason: `${reason}; ${order.side} resized from ${fmt(order.qty)} to ${fmt(qty)}` }
      }
    }

    const rate = this.options.maxOrdersPerMinute
    if (rate !== undefined) {
      let drop = 0
      while (drop < this.sent.length && this.sent[drop]! <= now - WINDOW_MS) drop++
      if (drop > 0) this.sent.splice(0, drop)
      if (this.sent.length >= rate) {
        return { allow: false, guard: 'max-order-rate', reason: `max order rate: ${this.sent.length} orders in the last 60 s (limit ${rate}); the next is allowed at ${isoTime(this.sent[0]! + WINDOW_MS)}` }
      }
      this.sent.push(now)
    }
    return resized === undefined ? { allow: true } : { allow: true, qty, ...resized }
  }
}

/** The guards of a deployment config. */
export function guardsFor(config: Pick<DeploymentConfig, 'guards' | 'timeframe' | 'lotSize'>): Guards {
  return new Guards({ ...config.guards, timeframe: config.timeframe, ...(config.lotSize === undefined ? {} : { lotSize: config.lotSize }) })
}

/** The backtest engine's lot flooring (lib/backtest/engine.ts floorLot), so a cap resizes to the same quantity. */
function floorLot(x: number, lot: number): number {
  return lot > 0 ? Math.floor(x / lot + 1e-9) * lot : x
}

function fmt(x: number): string {
  return String(Number(x.toPrecision(10)))
}

function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`
  if (ms % 60_000 === 0) return `${ms / 60_000} min`
  return `${Math.round(ms / 1000)} s`
}
