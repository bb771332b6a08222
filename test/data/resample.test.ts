// Resampling against a hand-worked example and an independent implementation (group rows in a Map).

import { describe, expect, it } from 'vitest'
import { alignClosed, barsFromRows, resample } from '../../lib/data/index.js'
import type { Bars } from '../../lib/data/index.js'

const T = Date.UTC(2024, 0, 1)
const minute = (i: number, o: number, h: number, l: number, c: number, v: number) => ({ time: T + i * 60_000, open: o, high: h, low: l, close: c, volume: v })

describe('resample', () => {
  it('aggregates by the OHLCV rules with a completeness count (hand-worked)', () => {
    // minutes 0,1,2 → 5m bucket 0 (3 of 5 bars); minutes 5,9 → bucket 5 (2 of 5)
    const bars = barsFromRows(
      [minute(0, 10, 12, 9, 11, 1), minute(1, 11, 15, 10, 14, 2), minute(2, 14, 14, 8, 9, NaN), minute(5, 9, 10, 9, 10, 4), minute(9, 10, 11, 7, 8, 5)],
      { symbol: 'X', timeframe: '1m' },
    )
    const r = resample(bars, '5m')
    expect(Array.from(r.time)).toEqual([T, T + 5 * 60_000])
    expect(Array.from(r.open)).toEqual([10, 9])
    expect(Array.from(r.high)).toEqual([15, 11])
    expect(Array.from(r.low)).toEqual([8, 7])
    expect(Array.from(r.close)).toEqual([9, 8])
    expect(Array.from(r.volume)).toEqual([3, 9])
    expect(Array.from(r.count)).toEqual([3, 2])
    expect(r.expected).toBe(5)
    expect(() => resample(bars, '90s' as string)).toThrow(/is not valid/)
    expect(() => resample(resample(bars, '5m'), '7m')).toThrow('cannot resample 5m to 7m: the target must be a whole multiple of 5m')
  })

  it('skips a missing value wherever it falls in a bucket, as pandas does, and refuses source bars that straddle a week\'s start (an audit)', () => {
    // Hand-worked: bucket 0 holds a NaN open, high and low in its first bar and a NaN close in its last.
    const bars = barsFromRows([minute(0, NaN, NaN, NaN, 11, 1), minute(1, 11, 15, 10, 14, 2), minute(2, 14, 14, 8, NaN, 3)], { symbol: 'X', timeframe: '1m' })
    const r = resample(bars, '5m')
    expect([r.open[0], r.high[0], r.low[0], r.close[0], r.volume[0], r.count[0]]).toEqual([11, 15, 8, 14, 6, 3])
    // 7m bars do not fit in weeks (Monday 00:00 is 5,760 minutes after the epoch's Thursday: not a multiple of 7).
    const sevens = { ...barsFromRows([minute(0, 1, 1, 1, 1, 1)], { symbol: 'X', timeframe: '1m' }), timeframe: '7m' }
    expect(() => resample(sevens, '1w')).toThrow('cannot resample 7m to 1w: 7m bars straddle the start of a 1w bar (weeks open on Monday 00:00 UTC); resample from a timeframe that divides a day')
    expect(resample({ ...sevens, timeframe: '1d' }, '1w').time.length).toBe(1)
  })

  it('matches an independent implementation on 3 days of random 1m bars, for 15m, 1h, 4h and 1d', () => {
    let seed = 42
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const rows = []
    let p = 100
    for (let i = 0; i < 3 * 1440; i++) {
      if (rand() < 0.1) continue // missing minutes
      const o = p
      p *= 1 + (rand() - 0.5) / 100
      rows.push(minute(i, o, Math.max(o, p) + rand(), Math.min(o, p) - rand(), p, Math.floor(rand() * 100)))
    }
    const bars = barsFromRows(rows, { symbol: 'X', timeframe: '1m' })
    for (const [tf, ms] of [['15m', 900_000], ['1h', 3_600_000], ['4h', 14_400_000], ['1d', 86_400_000]] as const) {
      const groups = new Map<number, typeof rows>()
      for (const r of rows) {
        const key = Math.floor(r.time / ms) * ms
        groups.set(key, [...(groups.get(key) ?? []), r])
      }
      const r = resample(bars, tf)
      expect(r.time.length).toBe(groups.size)
      let k = 0
      for (const [key, g] of groups) {
        expect(r.time[k]).toBe(key)
        expect(r.open[k]).toBe(g[0]!.open)
        expect(r.high[k]).toBe(Math.max(...g.map((x) => x.high)))
        expect(r.low[k]).toBe(Math.min(...g.map((x) => x.low)))
        expect(r.close[k]).toBe(g[g.length - 1]!.close)
        expect(r.volume[k]).toBe(g.reduce((s, x) => s + x.volume, 0))
        expect(r.count[k]).toBe(g.length)
        k++
      }
    }
  })
})

describe('alignClosed', () => {
  it('shows a higher-timeframe bar only from the lower bar at whose close it has closed', () => {
    const lower: Bars = barsFromRows(Array.from({ length: 10 }, (_, i) => minute(i, 1, 1, 1, 1, 1)), { symbol: 'X', timeframe: '1m' })
    const higher = resample(lower, '5m')
    // The 5m bar of minutes 0-4 closes at minute 5: minute 4's bar closes then, so it is visible from i = 4.
    expect(Array.from(alignClosed(lower, higher))).toEqual([-1, -1, -1, -1, 0, 0, 0, 0, 0, 1])
  })
})
