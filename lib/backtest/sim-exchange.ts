// The simulated exchange's fill rules (DESIGN.md's default fill semantics), as pure functions of an
// order and one bar of its symbol:
// - market: the bar's open, plus slippage against the trader;
// - stop: triggers when the bar trades through the stop; a gap through it fills at the open, else at
//   the stop, plus slippage (a stop becomes a market order: what a volume cap leaves fills at later opens);
// - limit: fills at the limit when the bar's range reaches it, or at the open when the bar opens
//   beyond it (a better price); no slippage, maker commission.
// - a bracket leg placed when its entry filled at an open is placed at that open: already beyond it, it fills
//   there (the engine, lib/backtest/engine.ts match);
// - an order fills at most once per bar (under a volume cap, the rest waits for the next bar).
// Commission: a rate on notional (taker for market and stop fills, maker for limits) plus a fixed fee.

import { ConfigError } from '../core/index.js'
import type { Order } from './orders.js'

export interface FillModel {
  /** Basis points added to the price of market and stop fills (buy higher, sell lower). Default 0. */
  slippageBps: number
  /** Commission rate on notional for market and stop fills: 0.0005 = 0.05 %. Default 0. */
  takerRate: number
  /** Commission rate on notional for limit fills. Default: takerRate. */
  makerRate: number
  /** Fixed fee per fill, in account currency. Default 0. */
  fixedFee: number
  /** At most this share of a bar's volume fills per order per bar; the rest waits (partial fills). Default: no cap. */
  volumeShare: number
  /** Bars between placing an order and its first chance to fill (0: the next bar). Default 0. */
  latencyBars: number
}

export const DEFAULT_FILL_MODEL: FillModel = { slippageBps: 0, takerRate: 0, makerRate: 0, fixedFee: 0, volumeShare: Infinity, latencyBars: 0 }

/** Defaults filled in and every field checked once. */
export function fillModel(options: Partial<FillModel> = {}): FillModel {
  // A misspelt option (e.g. "commission") would otherwise be a silent zero-cost backtest.
  for (const key of Object.keys(options)) {
    if (!(key in DEFAULT_FILL_MODEL)) throw new ConfigError(`fills has no option ${JSON.stringify(key)} (options: ${Object.keys(DEFAULT_FILL_MODEL).join(', ')})`)
  }
  const taker = options.takerRate ?? DEFAULT_FILL_MODEL.takerRate
  const model: FillModel = { ...DEFAULT_FILL_MODEL, ...stripUndefined(options), takerRate: taker, makerRate: options.makerRate ?? taker }
  const nonNegative = (name: keyof FillModel) => {
    const v = model[name]
    if (!(typeof v === 'number' && v >= 0)) throw new ConfigError(`${name} must be a number ≥ 0 (received ${String(v)})`)
  }
  for (const name of ['slippageBps', 'takerRate', 'makerRate', 'fixedFee', 'latencyBars'] as const) nonNegative(name)
  if (!(model.takerRate < 1 && model.makerRate < 1)) throw new ConfigError(`commission rates are fractions of notional (0.0005 = 0.05 %); received ${model.takerRate}`)
  if (!(model.volumeShare > 0 && model.volumeShare <= 1) && model.volumeShare !== Infinity) {
    throw new ConfigError(`volumeShare must be in (0, 1] (received ${model.volumeShare})`)
  }
  if (!Number.isInteger(model.latencyBars)) throw new ConfigError(`latencyBars must be an integer ≥ 0 (received ${model.latencyBars})`)
  return model
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

export interface Match {
  price: number
  liquidity: 'maker' | 'taker'
}

/**
 * The raw price at which a working order fills at the bar's open — a market order, or a stop or
 * limit the bar gaps through — or NaN.
 */
export function openFill(order: Pick<Order, 'side' | 'type' | 'limit' | 'stop'> & { triggered?: boolean }, open: number): number {
  const buy = order.side === 'buy'
  switch (order.type) {
    case 'market':
      return open
    case 'stop':
      // Once triggered (part filled under a volume cap) a stop is a market order: its rest fills at the open.
      return order.triggered === true || (buy ? open >= order.stop : open <= order.stop) ? open : NaN
    case 'limit':
      return (buy ? open <= order.limit : open >= order.limit) ? open : NaN
  }
}

/** The raw price at which a stop or limit fills within the bar's range (after its open), or NaN. */
export function rangeFill(order: Pick<Order, 'side' | 'type' | 'limit' | 'stop'> & { triggered?: boolean }, high: number, low: number): number {
  const buy = order.side === 'buy'
  switch (order.type) {
    case 'market':
      return NaN
    case 'stop':
      return order.triggered !== true && (buy ? high >= order.stop : low <= order.stop) ? order.stop : NaN
    case 'limit':
      return (buy ? low <= order.limit : high >= order.limit) ? order.limit : NaN
  }
}

/** The fill of a raw price: limits at that price (maker), market and stop fills with slippage (taker). */
export function execution(order: Pick<Order, 'side' | 'type'>, raw: number, model: FillModel): Match {
  if (order.type === 'limit') return { price: raw, liquidity: 'maker' }
  return { price: executionPrice(order.side, raw, model), liquidity: 'taker' }
}

/** A market or stop fill's price: the raw price moved against the trader by the slippage. */
export function executionPrice(side: 'buy' | 'sell', raw: number, model: FillModel): number {
  const slip = model.slippageBps / 10_000
  return side === 'buy' ? raw * (1 + slip) : raw * (1 - slip)
}

/** Units that may fill on a bar with this volume (all of `remaining` without a volume cap). */
export function fillableQty(remaining: number, volume: number, model: FillModel): number {
  if (model.volumeShare === Infinity) return remaining
  const cap = volume > 0 ? model.volumeShare * volume : 0
  return Math.min(remaining, cap)
}

/** Commission of one fill. */
export function commission(qty: number, price: number, liquidity: 'maker' | 'taker', model: FillModel): number {
  return qty * price * (liquidity === 'maker' ? model.makerRate : model.takerRate) + model.fixedFee
}
