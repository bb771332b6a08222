// The built-in strategies against their rules, worked out independently: opening-range breakout on
// hand-made minute bars, pairs-zscore against lib/features' batch pairFeatures, and the contract
// checks every built-in passes (parameter space, validate, universe).

import { describe, expect, it } from 'vitest'
import { backtest, toRows } from '../../lib/backtest/index.js'
import { syntheticPair, type Bars } from '../../lib/data/index.js'
import { pairFeatures } from '../../lib/features/index.js'
import { defaultParams, isStrategy, loadStrategy, STRATEGIES } from '../../lib/strategy/index.js'

const MIN = 60_000
const DAY = 86_400_000

/** Minute bars from [open, high, low, close] rows starting at `t0`. */
function minutes(rows: number[][], t0: number, symbol = 'ES'): Bars {
  const n = rows.length
  const b: Bars = { symbol, timeframe: '1m', time: new Float64Array(n), open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n).fill(100) }
  rows.forEach((r, i) => {
    b.time[i] = t0 + i * MIN
    ;[b.open[i], b.high[i], b.low[i], b.close[i]] = r as [number, number, number, number]
  })
  return b
}

describe('every built-in', () => {
  for (const [name, s] of Object.entries(STRATEGIES)) {
    it(`${name}: a strategy with a parameter space whose defaults pass its own checks`, async () => {
      expect(isStrategy(s)).toBe(true)
      expect(s.name).toBe(name)
      const p = defaultParams(s.params)
      expect(s.validate?.(p)).toBeUndefined()
      for (const def of Object.values(s.params) as { default: number; min: number; max: number }[]) {
        expect(def.default).toBeGreaterThanOrEqual(def.min)
        expect(def.default).toBeLessThanOrEqual(def.max)
      }
      expect((await loadStrategy(name)).strategy).toBe(s)
    })
  }
})

describe('opening-range-breakout', () => {
  // Session at 14:30 UTC; a 3-minute range (high 101, low 99), a break at 14:34, flat at 14:40.
  const t0 = Date.UTC(2024, 0, 2, 14, 30)
  const day1 = [
    [100, 101, 99.5, 100.5], // 14:30  range
    [100.5, 100.8, 99, 99.5], // 14:31  range
    [99.5, 100.2, 99.2, 100], // 14:32  range → high 101, low 99
    [100, 100.9, 99.8, 100.9], // 14:33  inside
    [100.9, 101.6, 100.7, 101.5], // 14:34  close above 101: buy at 14:35's open
    [101.6, 102, 101.2, 101.8], // 14:35  filled at 101.6
    [101.8, 102.5, 101.7, 102.4], // 14:36
    [102.4, 102.6, 102, 102.2], // 14:37
    [102.2, 102.3, 101.9, 102], // 14:38
    [102, 102.1, 101.8, 101.9], // 14:39  closes at 14:40 = exitAfter: close at 14:40's open
    [101.9, 102, 101.5, 101.7], // 14:40  exit at 101.9
    [101.7, 101.8, 98, 98.5], // 14:41  a fall after the session's trade: no second trade
  ]
  const bars = minutes(day1, t0)
  const params = { sessionStart: 14 * 60 + 30, rangeMinutes: 3, exitAfter: 10 }

  it('buys the first close above the range at the next open, stop at the range low, flat at exitAfter', () => {
    const r = backtest({ strategy: 'opening-range-breakout', params, symbols: ['ES'], timeframe: '1m', data: { ES: bars }, sizing: { qty: 1 } })
    const s = r.strategies[0]!
    const trades = toRows(s.trades)
    expect(trades).toHaveLength(1)
    expect(trades[0]).toMatchObject({ direction: 'long', entryTime: t0 + 5 * MIN, entryPrice: 101.6, exitTime: t0 + 10 * MIN, exitPrice: 101.9, tag: 'range high' })
    const stop = toRows(s.orders).find((o) => o.role === 'stop-loss')!
    expect(stop.stop).toBe(99)
    expect(stop.status).toBe('CANCELLED')
  })

  it('the stop at the other side of the range takes a failed breakout out', () => {
    // Same morning, but at 14:37 the price falls through 99 (the range low).
    const failed = day1.slice(0, 7).concat([[101.7, 101.7, 98.5, 98.8]])
    const r = backtest({ strategy: 'opening-range-breakout', params, symbols: ['ES'], timeframe: '1m', data: { ES: minutes(failed, t0) }, sizing: { qty: 1 } })
    const trades = toRows(r.strategies[0]!.trades)
    expect(trades[0]).toMatchObject({ entryPrice: 101.6, exitPrice: 99, exitTime: t0 + 7 * MIN })
  })

  it('trades again the next session, short on a break below', () => {
    const day2 = [
      [100, 100.5, 99.6, 100], // range
      [100, 100.4, 99.5, 99.8],
      [99.8, 100.2, 99.7, 100], // → high 100.5, low 99.5
      [100, 100.1, 99, 99.2], // close below 99.5: sell at the next open
      [99.1, 99.3, 98.8, 99],
    ]
    const both = minutes([...day1, ...day2], t0)
    // Day 2 bars start at the next session.
    for (let i = 0; i < day2.length; i++) both.time[day1.length + i] = t0 + DAY + i * MIN
    const r = backtest({ strategy: 'opening-range-breakout', params, symbols: ['ES'], timeframe: '1m', data: { ES: both }, sizing: { qty: 1 } })
    const trades = toRows(r.strategies[0]!.trades)
    expect(trades.map((t) => [t.direction, t.entryPrice])).toEqual([
      ['long', 101.6],
      ['short', 99.1],
    ])
  })

  it('refuses a daily timeframe', () => {
    const daily = { ...bars, timeframe: '1d' }
    expect(() => backtest({ strategy: 'opening-range-breakout', symbols: ['ES'], timeframe: '1d', data: { ES: daily } })).toThrow('opening-range-breakout needs an intraday timeframe (below 1d; received 1d)')
  })
})

describe('pairs-zscore', () => {
  const [y, x] = syntheticPair({ bars: 3000, timeframe: '1h', seed: 5, hedgeRatio: 1.2, halfLife: 30, symbols: ['Y', 'X'] })

  it('enters where the batch pair features cross ±entry, hedged by β, and leaves near the mean', () => {
    const params = { window: 60, entry: 2, exit: 0.5, stop: 4 }
    const r = backtest({ strategy: 'pairs-zscore', params, symbols: ['Y', 'X'], timeframe: '1h', data: { Y: y, X: x }, fills: { takerRate: 0.0002 } })
    const f = pairFeatures(Array.from(y.close, Math.log), Array.from(x.close, Math.log), { window: 60 })
    const orders = toRows(r.strategies[0]!.orders).filter((o) => o.role === 'entry')
    expect(orders.length).toBeGreaterThan(10)
    for (let k = 0; k < orders.length; k += 2) {
      const [oy, ox] = [orders[k]!, orders[k + 1]!]
      expect([oy.symbol, ox.symbol]).toEqual(['Y', 'X'])
      // Placed at the close of bar t: z and β there, as the batch features compute them.
      const t = y.time.indexOf(oy.createdAt - 3_600_000)
      const z = f.z[t]!
      expect(Math.abs(z)).toBeGreaterThan(2)
      expect(oy.tag).toBe(`z ${z.toFixed(2)} β ${f.beta[t]!.toFixed(3)}`)
      // z > 0: Y rich → sell Y, buy X (β > 0).
      expect(oy.side).toBe(z > 0 ? 'sell' : 'buy')
      expect(ox.side).toBe(z > 0 ? 'buy' : 'sell')
      // Notional hedge with log prices: X notional = β × Y notional.
      const closeY = y.close[t]!
      const closeX = x.close[t]!
      expect((ox.qty * closeX) / (oy.qty * closeY)).toBeCloseTo(Math.abs(f.beta[t]!), 9)
    }
    const trades = toRows(r.strategies[0]!.trades).filter((tr) => !tr.open)
    // Exits happen at |z| < 0.5 or > 4, at the bar after.
    for (const tr of trades.filter((tr) => tr.symbol === 'Y')) {
      const t = y.time.indexOf(tr.exitTime) - 1
      expect(Math.abs(f.z[t]!) < 0.5 || Math.abs(f.z[t]!) > 4).toBe(true)
    }
    // Several round trips on this seed.
    expect(trades.length).toBeGreaterThan(10)
  })

  it('trades exactly two symbols', () => {
    expect(() => backtest({ strategy: 'pairs-zscore', symbols: ['Y'], timeframe: '1h', data: { Y: y } })).toThrow('pairs-zscore trades exactly 2 symbols (received 1: Y)')
  })
})
