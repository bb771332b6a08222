// Bollinger breakout: long when the close leaves the upper band (momentum), out when it falls back
// below the middle band. With short = 1, the mirror image below the lower band.

import { intParam, realParam } from '../params.js'
import { above, below } from '../signals.js'
import { defineStrategy, type IndicatorHandle } from '../types.js'
import { eachSymbol, perSymbol } from './common.js'

export interface BollingerBreakoutParams {
  period: number
  k: number
  short: number
}

interface Bands {
  upper: IndicatorHandle
  mid: IndicatorHandle
  lower: IndicatorHandle
}

export const bollingerBreakout = defineStrategy<BollingerBreakoutParams>({
  name: 'bollinger-breakout',
  description: 'Long on a close above the upper Bollinger band, out below the middle band',
  params: {
    period: intParam(20, 2, 500, 'bars in the bands'),
    k: realParam(2, 0.5, 5, 'band width in standard deviations', 0.5),
    short: intParam(0, 0, 1, '1: also short below the lower band'),
  },
  universe: eachSymbol,
  warmup: (p) => p.period,
  signals(p, bars, indicator) {
    if (p.short === 1) return undefined
    const b = indicator('bbands', { period: p.period, k: p.k })
    return { entries: above(bars.close, b.upper!), exits: below(bars.close, b.mid!) }
  },
  onStart(ctx) {
    const { period, k } = ctx.params
    perSymbol<Bands>(ctx, (symbol) => ({
      upper: ctx.indicator('bbands', { period, k }, { symbol, output: 'upper' }),
      mid: ctx.indicator('bbands', { period, k }, { symbol, output: 'mid' }),
      lower: ctx.indicator('bbands', { period, k }, { symbol, output: 'lower' }),
    }))
  },
  onBar(ctx, bar) {
    const b = ctx.state[bar.symbol] as Bands
    const position = ctx.position(bar.symbol)
    const c = bar.close
    if (position === 0) {
      if (c > b.upper.at(0)) ctx.buy(bar.symbol)
      else if (ctx.params.short === 1 && c < b.lower.at(0)) ctx.sell(bar.symbol)
    } else if ((position > 0 && c < b.mid.at(0)) || (position < 0 && c > b.mid.at(0))) {
      ctx.close(bar.symbol)
    }
  },
})
