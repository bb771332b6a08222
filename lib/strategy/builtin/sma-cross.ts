// Moving-average crossover: long when the fast SMA crosses above the slow one, flat when it crosses
// back below (or short, with short = 1). A cross at bar t is fast[t] > slow[t] after fast[t−1] ≤
// slow[t−1]; the order fills at the next bar's open.

import { intParam } from '../params.js'
import { crossing } from '../signals.js'
import { defineStrategy, type IndicatorHandle } from '../types.js'
import { eachSymbol, perSymbol } from './common.js'

export interface SmaCrossParams {
  fast: number
  slow: number
  short: number
}

export const smaCross = defineStrategy<SmaCrossParams>({
  name: 'sma-cross',
  description: 'Long when the fast SMA crosses above the slow SMA, out (or short) when it crosses below',
  params: {
    fast: intParam(10, 2, 500, 'bars in the fast SMA', 5),
    slow: intParam(30, 3, 2000, 'bars in the slow SMA', 10),
    short: intParam(0, 0, 1, '1: go short on a cross below'),
  },
  universe: eachSymbol,
  warmup: (p) => p.slow + 1,
  validate: (p) => (p.fast < p.slow ? undefined : `fast (${p.fast}) must be below slow (${p.slow})`),
  signals(p, _bars, indicator) {
    if (p.short === 1) return undefined
    const fast = indicator('sma', { period: p.fast }).value!
    const slow = indicator('sma', { period: p.slow }).value!
    return { entries: crossing(fast, slow, 'above'), exits: crossing(fast, slow, 'below') }
  },
  onStart(ctx) {
    perSymbol<{ fast: IndicatorHandle; slow: IndicatorHandle }>(ctx, (symbol) => ({
      fast: ctx.indicator('sma', { period: ctx.params.fast }, { symbol }),
      slow: ctx.indicator('sma', { period: ctx.params.slow }, { symbol }),
    }))
  },
  onBar(ctx, bar) {
    const s = ctx.state[bar.symbol] as { fast: IndicatorHandle; slow: IndicatorHandle }
    const f0 = s.fast.at(0)
    const s0 = s.slow.at(0)
    const f1 = s.fast.at(1)
    const s1 = s.slow.at(1)
    const position = ctx.position(bar.symbol)
    if (f0 > s0 && f1 <= s1) {
      if (position < 0) ctx.close(bar.symbol)
      if (position <= 0) ctx.buy(bar.symbol)
    } else if (f0 < s0 && f1 >= s1) {
      if (position > 0) ctx.close(bar.symbol)
      if (ctx.params.short === 1 && position >= 0) ctx.sell(bar.symbol)
    }
  },
})
