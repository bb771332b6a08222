// RSI mean reversion: long when RSI(period) is below `lower` (oversold), out when it rises above
// `upper`. With short = 1, also short above `upper` and cover below `lower`.

import { intParam, realParam } from '../params.js'
import { above, below } from '../signals.js'
import { defineStrategy, type IndicatorHandle } from '../types.js'
import { eachSymbol, perSymbol } from './common.js'

export interface RsiReversionParams {
  period: number
  lower: number
  upper: number
  short: number
}

export const rsiReversion = defineStrategy<RsiReversionParams>({
  name: 'rsi-reversion',
  description: 'Long while RSI is oversold (below lower) until it is overbought (above upper)',
  params: {
    period: intParam(14, 2, 200, 'RSI bars'),
    lower: realParam(30, 1, 50, 'enter long below this RSI', 5),
    upper: realParam(70, 50, 99, 'exit above this RSI', 5),
    short: intParam(0, 0, 1, '1: also short above upper, cover below lower'),
  },
  universe: eachSymbol,
  warmup: (p) => p.period + 1,
  validate: (p) => (p.lower < p.upper ? undefined : `lower (${p.lower}) must be below upper (${p.upper})`),
  signals(p, _bars, indicator) {
    if (p.short === 1) return undefined
    const rsi = indicator('rsi', { period: p.period }).value!
    return { entries: below(rsi, p.lower), exits: above(rsi, p.upper) }
  },
  onStart(ctx) {
    perSymbol(ctx, (symbol) => ctx.indicator('rsi', { period: ctx.params.period }, { symbol }))
  },
  onBar(ctx, bar) {
    const rsi = (ctx.state[bar.symbol] as IndicatorHandle).at(0)
    const p = ctx.params
    const position = ctx.position(bar.symbol)
    if (position === 0) {
      if (rsi < p.lower) ctx.buy(bar.symbol)
      else if (p.short === 1 && rsi > p.upper) ctx.sell(bar.symbol)
    } else if (position > 0 && rsi > p.upper) {
      ctx.close(bar.symbol)
    } else if (position < 0 && rsi < p.lower) {
      ctx.close(bar.symbol)
    }
  },
})
