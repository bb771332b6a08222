// A numbers audit of the vectorized engine and sweeps: expected values from an independent pandas/numpy
// reference (long-only next-open fills, commission on notional, cash-account buying power).

import { describe, expect, it } from 'vitest'
import { backtest, sweep, sweepMetrics, toRows, vectorBacktest } from '../../lib/backtest/index.js'
import { vectorSweepMetrics } from '../../lib/backtest/vector.js'
import { readBarsCsv } from '../../lib/data/index.js'
import { DataError } from '../../lib/core/index.js'
import { SAMPLE_CSV } from '../helpers.js'

const open = Float64Array.from([10, 11, 12, 13, 12, 11])

describe('vectorized engine, audit', () => {
  it('a missing close on a bar held flat does not poison the statistics (record or not)', () => {
    // Buy 1 @11 (bar 1), sell @13 (bar 3, whose close is missing: flat there). Equity 100, 100.5, 101.5, 102, 102, 102.
    const close = Float64Array.from([10, 11.5, 12.5, NaN, 11.5, 11])
    const input = () => ({ open, close, entries: [1, 0, 0, 0, 0, 0], exits: [0, 0, 1, 0, 0, 0] })
    const r = vectorBacktest(input(), { cash: 100 })
    expect(Array.from(r.equity)).toEqual([100, 100.5, 101.5, 102, 102, 102])
    for (const m of [sweepMetrics(r, 252), vectorSweepMetrics(input(), { cash: 100 }, 252)]) {
      // numpy: eq[1:]/eq[:-1]-1, mean/std(ddof=1)*sqrt(252); the event engine gives the same.
      expect(m.endEquity).toBe(102)
      expect(m.totalReturn).toBeCloseTo(0.02, 14)
      expect(m.sharpe).toBeCloseTo(15.16545903717053, 9)
      expect(m.volatility).toBeCloseTo(0.06605592332728355, 12)
    }
  })

  it('a missing close while a position is held is refused, as the event-driven engine refuses it (not NaN metrics)', () => {
    const close = Float64Array.from([10, 11.5, NaN, 12.5, 11.5, 11])
    const input = () => ({ open, close, entries: [1, 0, 0, 0, 0, 0], exits: [0, 0, 0, 1, 0, 0] })
    expect(() => vectorSweepMetrics(input(), { cash: 100 }, 252)).toThrow(DataError)
    expect(() => vectorBacktest(input(), { cash: 100 })).toThrow(DataError)
  })

  it('targetPosition: an order is capped by the buying power at its decision close too (the event engine\'s request check)', () => {
    const o = Float64Array.from([10, 11, 12, 13, 12, 11, 10, 11, 12, 13, 14, 13])
    const c = Float64Array.from([10.5, 11.5, 12.5, 12.5, 11.5, 11, 10.5, 11.5, 12.5, 13.5, 13.5, 13])
    const r = vectorBacktest({ open: o, close: c, targetPosition: Float64Array.from([200, 200, 200, 0, -200, -200, 0, 0, 0, 0, 0, 0]) }, { cash: 1000, commission: 0.01, slippageBps: 10 })
    // Short 200 decided at 11.5 on 1,067.17 of equity: 1,067.17 / (11.5 × 0.999 × (0.5 + 0.01)) = 182.14 units, not
    // the 190.42 that the 10.989 fill alone would allow. Reference (and event engine): 1,045.151804 then 1,013.561672.
    expect(r.equity[5]).toBeCloseTo(1045.151804464053, 8)
    expect(r.equity[11]).toBeCloseTo(1013.5616717131193, 8)
  })
})

describe('sweep, audit', () => {
  const spx = readBarsCsv(SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
  for (const sizing of [{ qty: 0 }, { percent: 0 }, { percent: -0.5 }]) {
    it(`refuses sizing ${JSON.stringify(sizing)} instead of a table of sets that never traded`, async () => {
      await expect(sweep('sma-cross', { fast: [5, 10], slow: [30] }, spx, { sizing })).rejects.toThrow(/sizing must be \{ qty \} or \{ percent \}, a number > 0/)
    })
  }
  it('statistics-only rows equal the full run and the event-driven run on the S&P 500 (pandas reference)', async () => {
    const s = await sweep('sma-cross', { fast: [10], slow: [30] }, spx, { commission: 0.001, slippageBps: 5, periodsPerYear: 252 })
    const m = s.rows[0]!.metrics
    expect(s.engine).toBe('vector')
    expect(m.endEquity).toBeCloseTo(126107.94499757669, 6)
    expect(m.sharpe).toBeCloseTo(0.16033505385589852, 12)
    expect(m.sortino).toBeCloseTo(0.2177178390275573, 12)
    expect(m.maxDrawdown).toBeCloseTo(0.3229262526659914, 14)
    expect(m.trades).toBe(87)
    const e = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: spx }, cash: 100_000, sizing: { percent: 1 }, fills: { takerRate: 0.001, slippageBps: 5 }, periodsPerYear: 252 })
    expect(toRows(e.strategies[0]!.trades).filter((t) => !t.open).length).toBe(87)
    expect(Math.abs(e.metrics.sharpe - m.sharpe)).toBeLessThan(1e-12)
  })
})
