// Donchian (turtle) breakout: long when the close exceeds the highest high of the previous `entry`
// bars, out when it falls below the lowest low of the previous `exit` bars. With short = 1, the
// mirror image. "Previous" bars: the channel at t − 1, so the breakout bar is not in its own channel.

import { intParam } from '../params.js'
import { above, below } from '../signals.js'
import { defineStrategy, type IndicatorHandle } from '../types.js'
import { eachSymbol, perSymbol } from './common.js'

export interface DonchianBreakoutParams {
  entry: number
  exit: number
  short: number
}

interface Channels {
  entryHigh: IndicatorHandle
  entryLow: IndicatorHandle
  exitHigh: IndicatorHandle
  exitLow: IndicatorHandle
}

export const donchianBreakout = defineStrategy<DonchianBreakoutParams>({
  name: 'donchian-breakout',
  description: 'Long above the highest high of the last `entry` bars, out below the lowest low of the last `exit` bars',
  params: {
    entry: intParam(20, 2, 500, 'bars in the entry channel', 5),
    exit: intParam(10, 1, 500, 'bars in the exit channel', 5),
    short: intParam(0, 0, 1, '1: also short below the entry channel'),
  },
  universe: eachSymbol,
  warmup: (p) => Math.max(p.entry, p.exit) + 1,
  signals(p, bars, indicator) {
    if (p.short === 1) return undefined
    const entry = indicator('donchian', { period: p.entry })
    const exit = indicator('donchian', { period: p.exit })
    return { entries: above(bars.close, entry.high!, 1), exits: below(bars.close, exit.low!, 1) }
  },
  onStart(ctx) {
    const { entry, exit } = ctx.params
    perSymbol<Channels>(ctx, (symbol) => ({
      entryHigh: ctx.indicator('donchian', { period: entry }, { symbol, output: 'high' }),
      entryLow: ctx.indicator('donchian', { period: entry }, { symbol, output: 'low' }),
      exitHigh: ctx.indicator('donchian', { period: exit }, { symbol, output: 'high' }),
      exitLow: ctx.indicator('donchian', { period: exit }, { symbol, output: 'low' }),
    }))
  },
  onBar(ctx, bar) {
    const ch = ctx.state[bar.symbol] as Channels
    const position = ctx.position(bar.symbol)
    const c = bar.close
    if (position === 0) {
      if (c > ch.entryHigh.at(1)) ctx.buy(bar.symbol)
      else if (ctx.params.short === 1 && c < ch.entryLow.at(1)) ctx.sell(bar.symbol)
    } else if ((position > 0 && c < ch.exitLow.at(1)) || (position < 0 && c > ch.exitHigh.at(1))) {
      ctx.close(bar.symbol)
    }
  },
})
