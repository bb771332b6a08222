// The engine stepped as a deployment will step it (issue 19, lib/live/PLAN.md step 1): `begin`, then
// `advance(until)` at every close time as bars arrive, then `end` — the same orders, fills, trades and
// equity as one `run`, for one series (the fast path) and for two merged series, whatever the steps.

import { describe, expect, it } from 'vitest'
import { buildEngine, collectResults } from '../../lib/backtest/index.js'
import type { Engine } from '../../lib/backtest/engine.js'
import { readBarsCsv, syntheticPair, timeframeMs, type Bars } from '../../lib/index.js'
import { SAMPLE_CSV } from '../helpers.js'

/** The engine a backtest of these options runs (buildEngine: the backtest's own setup). */
function engine(strategy: string, params: Record<string, number>, data: Record<string, Bars>, timeframe: string): Engine {
  return buildEngine({ sleeves: [{ strategy, params, symbols: Object.keys(data), timeframe, weight: 1 }], data, cash: 100_000, sizing: { percent: 0.5 }, fills: { takerRate: 0.0005, slippageBps: 2 } })
}

/** Every bar's close time across the data, ascending and distinct: the watermarks a feed would give. */
function closeTimes(data: Record<string, Bars>, timeframe: string): number[] {
  const tf = timeframeMs(timeframe)
  return [...new Set(Object.values(data).flatMap((b) => Array.from(b.time, (t) => t + tf)))].sort((a, b) => a - b)
}

describe('Engine begin / advance(until) / end', () => {
  const spx = readBarsCsv(SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
  const [x, y] = syntheticPair({ symbols: ['X', 'Y'], bars: 3000, timeframe: '1h', seed: 11, halfLife: 30 })
  const cases: [string, string, Record<string, number>, Record<string, Bars>, string][] = [
    ['one series (the fast path)', 'sma-cross', { fast: 10, slow: 30 }, { SPX: spx }, '1d'],
    ['two merged series', 'pairs-zscore', {}, { X: x, Y: y }, '1h'],
  ]
  for (const [label, name, params, data, timeframe] of cases) {
    it(`${label}: advancing close time by close time equals one run`, () => {
      const whole = engine(name, params, data, timeframe)
      whole.run()
      const expected = collectResults(whole)
      expect(expected.strategies[0]!.fills.qty.length).toBeGreaterThan(4) // a run that trades

      const stepped = engine(name, params, data, timeframe)
      stepped.begin()
      for (const t of closeTimes(data, timeframe)) {
        stepped.advance(t - 1) // a watermark between two closes steps nothing new
        stepped.advance(t)
        stepped.advance(t) // and the same watermark again nothing either
      }
      stepped.end()
      expect(collectResults(stepped)).toEqual(expected)
    })
  }

  it('advance steps exactly the bars that have closed by the watermark', () => {
    const e = engine('sma-cross', { fast: 10, slow: 30 }, { SPX: spx }, '1d')
    e.begin()
    const day = 86_400_000
    // The first three bars close at their open + 1 day.
    e.advance(spx.time[2]! + day)
    expect(e.ticks).toBe(2) // points are recorded when the next close time begins: two so far, the third pending
    expect(e.now).toBe(spx.time[2]! + day)
    e.advance(spx.time[2]! + day + 1)
    expect(e.now).toBe(spx.time[2]! + day)
    e.advance(spx.time[3]! + day)
    expect(e.ticks).toBe(3)
    // The merge path too: two hourly series stop at the watermark.
    const pair = { X: x, Y: y }
    const closes = closeTimes(pair, '1h')
    const m = engine('pairs-zscore', {}, pair, '1h')
    m.begin()
    m.advance(closes[5]!)
    expect([m.now, m.ticks]).toEqual([closes[5], 5])
    m.advance(closes[9]! - 1)
    expect([m.now, m.ticks]).toEqual([closes[8], 8])
  })
})
