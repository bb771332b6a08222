// Audit (live vs backtest): a live deployment starts its session from warm-up history — the lake's last 300
// bars (lib/cli/deploy.ts HISTORY_BARS, lib/live/launch.ts warmupHistory) — while a backtest over the lake
// runs its indicators from the lake's first bar. The indicators' rolling sums carry rounding from every bar
// since their series' first, so the session's ctx.indicator values differ from the backtest's at the same
// bar; through a flat stretch (a halt) not in the last bits: zscore Infinity live against 1.3e-7 in the
// backtest, so the live strategy buys where its backtest did not.

import { describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import type { Bars } from '../../lib/data/index.js'
import { haltedWalk } from '../indicators/halted-walk.js'
import { EngineSession } from '../../lib/live/index.js'
import { defineStrategy, type IndicatorHandle } from '../../lib/strategy/index.js'

const T0 = Date.UTC(2024, 0, 1)
const H = 3_600_000

function haltedBars(n: number): Bars {
  return { symbol: 'A', timeframe: '1h', ...haltedWalk(n) }
}

const slice = (b: Bars, from: number, to: number): Bars => ({ symbol: b.symbol, timeframe: b.timeframe, time: b.time.slice(from, to), open: b.open.slice(from, to), high: b.high.slice(from, to), low: b.low.slice(from, to), close: b.close.slice(from, to), volume: b.volume.slice(from, to) })

/** Records, per bar, zscore(20), mfi(14), sma(20) and whether it would buy (zscore > 2). */
function recorder(rows: Map<number, number[]>) {
  return defineStrategy({
    name: 'zscore-reader',
    params: {},
    universe: () => [{ symbol: 'A', timeframe: '1h' }],
    warmup: () => 21,
    onStart(ctx) {
      ctx.state.h = [ctx.indicator('zscore', { period: 20 }), ctx.indicator('mfi', { period: 14 }), ctx.indicator('sma', { period: 20 })]
    },
    onBar(ctx, bar) {
      const [z, mfi, sma] = (ctx.state.h as IndicatorHandle[]).map((h) => h.at(0)) as [number, number, number]
      rows.set((bar.time - T0) / H, [z, mfi, sma, z > 2 ? 1 : 0])
    },
  })
}

describe('a live session warm-started from the last 300 bars = the backtest over the whole series', () => {
  it("gives the backtest's ctx.indicator values and decisions at every live bar", () => {
    const bars = haltedBars(1200)
    const expected = new Map<number, number[]>()
    backtest({ strategy: recorder(expected), symbols: ['A'], timeframe: '1h', data: { A: bars } })

    const split = 1000
    const got = new Map<number, number[]>()
    const s = new EngineSession({ sleeves: [{ strategy: recorder(got), params: {}, symbols: ['A'], timeframe: '1h', weight: 1 }], history: { 'A@1h': slice(bars, split - 300, split) } })
    s.start()
    for (let i = split; i < 1200; i++) {
      s.onBar({ symbol: 'A', timeframe: '1h', time: bars.time[i]!, closeTime: bars.time[i]! + H, open: bars.open[i]!, high: bars.high[i]!, low: bars.low[i]!, close: bars.close[i]!, volume: bars.volume[i]! })
      s.advanceTo(bars.time[i]! + H)
    }
    s.finish()
    const names = ['zscore', 'mfi', 'sma', 'buys']
    const diffs: string[] = []
    for (const [i, row] of got) {
      const e = expected.get(i)!
      row.forEach((v, k) => {
        if (!Object.is(v, e[k]) && !(Number.isNaN(v) && Number.isNaN(e[k]!))) diffs.push(`bar ${i} ${names[k]}: live ${v} backtest ${e[k]}`)
      })
    }
    expect(got.size).toBe(200)
    // Decisions first: the live strategy buys on bars where its backtest does not.
    expect(diffs.filter((d) => d.includes('buys')).slice(0, 5)).toEqual([])
    expect(diffs.slice(0, 5)).toEqual([])
  })
})
