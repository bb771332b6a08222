// Opening-range breakout (intraday): the high and low of the first `rangeMinutes` of each session
// form the range; the first close above it goes long (below it, short), with a stop-loss at the other
// side of the range; every position is closed `exitAfter` minutes into the session. One trade per
// session. Sessions start at `sessionStart` minutes past midnight UTC (870 = 14:30 UTC, NYSE in winter).

import { intParam } from '../params.js'
import { defineStrategy } from '../types.js'
import { intraday, perSymbol } from './common.js'

export interface OrbParams {
  sessionStart: number
  rangeMinutes: number
  exitAfter: number
  short: number
  stop: number
}

interface Session {
  start: number
  high: number
  low: number
  traded: boolean
}

const DAY = 86_400_000
const MINUTE = 60_000

export const openingRangeBreakout = defineStrategy<OrbParams>({
  name: 'opening-range-breakout',
  description: 'Breakout of the first minutes of each session, stop at the other side, flat before the session ends',
  params: {
    sessionStart: intParam(0, 0, 1439, 'session start, minutes past midnight UTC'),
    rangeMinutes: intParam(30, 1, 720, 'minutes in the opening range', 15),
    exitAfter: intParam(1435, 2, 1440, 'minutes into the session when positions are closed'),
    short: intParam(1, 0, 1, '1: also short below the range'),
    stop: intParam(1, 0, 1, '1: stop-loss at the other side of the range'),
  },
  universe: (_p, request) => intraday('opening-range-breakout', request),
  warmup: () => 1,
  validate: (p) => (p.rangeMinutes < p.exitAfter ? undefined : `rangeMinutes (${p.rangeMinutes}) must be below exitAfter (${p.exitAfter})`),
  onStart(ctx) {
    perSymbol<Session>(ctx, () => ({ start: NaN, high: -Infinity, low: Infinity, traded: false }))
  },
  onBar(ctx, bar) {
    const p = ctx.params
    const s = ctx.state[bar.symbol] as Session
    const offset = p.sessionStart * MINUTE
    const start = Math.floor((bar.time - offset) / DAY) * DAY + offset
    if (start !== s.start) {
      s.start = start
      s.high = -Infinity
      s.low = Infinity
      s.traded = false
    }
    const position = ctx.position(bar.symbol)
    if (bar.closeTime <= start + p.rangeMinutes * MINUTE) {
      if (bar.high > s.high) s.high = bar.high
      if (bar.low < s.low) s.low = bar.low
      return
    }
    if (bar.closeTime >= start + p.exitAfter * MINUTE) {
      if (position !== 0) ctx.close(bar.symbol, { tag: 'session end' })
      return
    }
    if (position !== 0 || s.traded || !(s.high > s.low)) return
    if (bar.close > s.high) {
      s.traded = true
      ctx.buy(bar.symbol, p.stop === 1 ? { stopLoss: s.low, tag: 'range high' } : { tag: 'range high' })
    } else if (p.short === 1 && bar.close < s.low) {
      s.traded = true
      ctx.sell(bar.symbol, p.stop === 1 ? { stopLoss: s.high, tag: 'range low' } : { tag: 'range low' })
    }
  },
})
