// Portfolio backtests: sleeves with static weights are independent books; each equals a backtest of
// its own with its share of the capital, and the combined curve is their sum. Weights from results.

import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { backtest, portfolioBacktest, weightsFrom } from '../../lib/backtest/index.js'
import { readBarsCsv, readEuStocks } from '../../lib/data/index.js'
import { ROOT, SAMPLE_CSV } from '../helpers.js'

const spx = readBarsCsv(SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
const eu = Object.fromEntries(readEuStocks(join(ROOT, 'data/samples/eustockmarkets-1991-1998.csv')).map((b) => [b.symbol, b]))

describe('portfolioBacktest', () => {
  it('each sleeve equals its own backtest with weight × cash; the total is their sum', () => {
    const cash = 1_000_000
    const sleeves = [
      { strategy: 'sma-cross', params: { fast: 10, slow: 50 }, symbols: ['DAX'], timeframe: '1d', weight: 3 },
      { strategy: 'rsi-reversion', symbols: ['CAC'], timeframe: '1d', weight: 1 },
      { strategy: 'sma-cross', params: { fast: 20, slow: 100 }, symbols: ['FTSE', 'SMI'], timeframe: '1d', weight: 1 },
    ]
    const fills = { takerRate: 0.0005 }
    const combined = portfolioBacktest({ sleeves, data: eu, cash, fills })
    expect(combined.strategies.map((s) => s.strategy)).toEqual(['sma-cross', 'rsi-reversion', 'sma-cross#2'])
    const shares = [0.6, 0.2, 0.2]
    sleeves.forEach((sleeve, k) => {
      const alone = backtest({ ...sleeve, data: eu, cash: cash * shares[k]!, fills })
      const s = combined.strategies[k]!
      expect(s.equity.length).toBe(alone.equity.length)
      for (let i = 0; i < s.equity.length; i++) expect(s.equity[i]).toBeCloseTo(alone.equity[i]!, 6)
      expect(s.trades.pnl.length).toBe(alone.strategies[0]!.trades.pnl.length)
    })
    for (let i = 0; i < combined.equity.length; i++) {
      expect(combined.equity[i]).toBeCloseTo(combined.strategies.reduce((a, s) => a + s.equity[i]!, 0), 6)
    }
    expect(combined.metrics.startEquity).toBe(cash)
  })

  it('strategies on different symbols share one clock', () => {
    const r = portfolioBacktest({ sleeves: [{ strategy: 'sma-cross', symbols: ['SPX'], timeframe: '1d', weight: 1 }, { strategy: 'sma-cross', symbols: ['DAX'], timeframe: '1d', weight: 1 }], data: { ...eu, SPX: spx } })
    // The union of the two calendars: 1991–1998 and 2000–2020.
    expect(r.time.length).toBe(spx.time.length + eu.DAX!.time.length)
  })

  it('refuses bad weights', () => {
    expect(() => portfolioBacktest({ sleeves: [{ strategy: 'sma-cross', symbols: ['DAX'], timeframe: '1d', weight: 0 }], data: eu })).toThrow('portfolio weights sum to 0; at least one must be > 0')
    expect(() => portfolioBacktest({ sleeves: [{ strategy: 'sma-cross', symbols: ['DAX'], timeframe: '1d', weight: -1 }], data: eu })).toThrow('weight of sleeve 1 must be a number ≥ 0 (received -1)')
  })
})

describe('weightsFrom', () => {
  const rows = [{ metrics: { totalReturn: 0.2, volatility: 0.1 } }, { metrics: { totalReturn: -0.1, volatility: 0.2 } }, { metrics: { totalReturn: 0.05, volatility: 0.4 } }]
  it('winners: 1 for a positive return, 0 otherwise, normalised', () => {
    expect(weightsFrom(rows, 'winners')).toEqual([0.5, 0, 0.5])
    expect(weightsFrom(rows, 'winners', { metric: 'totalReturn', threshold: 0.1 })).toEqual([1, 0, 0])
  })
  it('equal and inverse volatility', () => {
    expect(weightsFrom(rows, 'equal')).toEqual([1 / 3, 1 / 3, 1 / 3])
    // 1/0.1 : 1/0.2 : 1/0.4 = 10 : 5 : 2.5 → /17.5
    const w = weightsFrom(rows, 'inverse-vol')
    ;[10 / 17.5, 5 / 17.5, 2.5 / 17.5].forEach((x, k) => expect(w[k]).toBeCloseTo(x, 12))
  })
  it('no winner is an error', () => {
    expect(() => weightsFrom([{ metrics: { totalReturn: -1 } }], 'winners')).toThrow('no row qualifies for winners weights (totalReturn > 0)')
  })
})
