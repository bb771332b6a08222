// The parity check the registry records for a strategy version: the event-driven engine and the
// vectorized engine on the same bars, params and costs must give the same equity at every close and the
// same number of round trips. A strategy without a vectorized form has nothing to check.

import type { Bars } from '../data/index.js'
import type { Strategy } from '../strategy/index.js'
import { backtest } from './backtest.js'
import { strategySignals, vectorBacktest } from './vector.js'

export interface ParityResult {
  agree: boolean
  /** Largest |event − vector| / event over the equity points. */
  maxRelativeDifference: number
  tolerance: number
  data: string
  event: Record<string, number>
  vector: Record<string, number>
  checkedAt: number
}

export function parityCheck(strategy: Strategy<any>, params: Record<string, number>, bars: Bars, options: { cash?: number; commission?: number; slippageBps?: number; tolerance?: number; data?: string } = {}): ParityResult | undefined {
  const signals = strategySignals(strategy, params, bars)
  if (signals === undefined) return undefined
  const cash = options.cash ?? 100_000
  const commission = options.commission ?? 0.001
  const slippageBps = options.slippageBps ?? 5
  const tolerance = options.tolerance ?? 1e-9
  const event = backtest({ strategy, params, symbols: [bars.symbol], timeframe: bars.timeframe, data: { [bars.symbol]: bars }, cash, sizing: { percent: 1 }, fills: { takerRate: commission, slippageBps } })
  const vec = vectorBacktest({ open: bars.open, close: bars.close, ...signals }, { cash, commission, slippageBps, size: { percent: 1 } })
  let worst = vec.equity.length === event.equity.length ? 0 : Infinity
  for (let i = 0; i < vec.equity.length && worst !== Infinity; i++) worst = Math.max(worst, Math.abs(vec.equity[i]! - event.equity[i]!) / Math.abs(event.equity[i]!))
  const eventTrades = event.strategies[0]!.trades.open.filter((o) => !o).length
  const vectorTrades = vec.trades.pnl.length
  return {
    agree: worst <= tolerance && eventTrades === vectorTrades,
    maxRelativeDifference: worst,
    tolerance,
    data: options.data ?? `${bars.symbol} ${bars.timeframe} (${bars.time.length} bars)`,
    event: { endEquity: event.equity[event.equity.length - 1]!, trades: eventTrades },
    vector: { endEquity: vec.equity[vec.equity.length - 1]!, trades: vectorTrades },
    checkedAt: Date.now(),
  }
}
