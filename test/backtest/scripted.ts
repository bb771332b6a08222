// A strategy that does what a test script says at given bars, and records every callback: for
// hand-worked engine tests on a handful of bars.

import type { Bars } from '../../lib/data/index.js'
import { defineStrategy, type Context, type FillEvent, type OrderEvent, type Strategy } from '../../lib/strategy/index.js'

export const DAY = 86_400_000
export const T0 = Date.UTC(2024, 0, 1)

/** Daily bars from rows of [open, high, low, close, volume?]. */
export function bars(symbol: string, rows: number[][], timeframe = '1d', step = DAY, t0 = T0): Bars {
  const n = rows.length
  const b: Bars = { symbol, timeframe, time: new Float64Array(n), open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n) }
  rows.forEach((r, i) => {
    b.time[i] = t0 + i * step
    b.open[i] = r[0]!
    b.high[i] = r[1]!
    b.low[i] = r[2]!
    b.close[i] = r[3]!
    b.volume[i] = r[4] ?? 1000
  })
  return b
}

export interface Recorder {
  orders: OrderEvent[]
  fills: FillEvent[]
  bars: string[]
}

/** Runs script[i](ctx) at bar i of `symbol` (of the first subscription by default). */
export function scripted(script: Record<number, (ctx: Context<Record<string, number>>) => void>, rec: Recorder = { orders: [], fills: [], bars: [] }, on?: string): Strategy<Record<string, number>> {
  return defineStrategy<Record<string, number>>({
    name: 'scripted',
    params: {},
    universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
    warmup: () => 0,
    onBar(ctx, bar) {
      rec.bars.push(`${bar.symbol}@${bar.timeframe}#${bar.index}`)
      if (bar.symbol !== (on ?? ctx.subscriptions[0]!.symbol)) return
      script[bar.index]?.(ctx)
    },
    onOrder(_ctx, ev) {
      rec.orders.push({ ...ev, order: { ...ev.order } })
    },
    onFill(_ctx, ev) {
      rec.fills.push({ ...ev, order: { ...ev.order } })
    },
  })
}
