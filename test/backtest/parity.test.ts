// Parity: for strategies with a vectorized form and market orders, the vectorized engine and the
// event-driven engine give the same trades and the same equity (to 1e-9 relative) on the S&P 500
// sample — with commission, slippage, fixed-unit and all-in sizing.

import { describe, expect, it } from 'vitest'
import { backtest, strategySignals, toRows, vectorBacktest } from '../../lib/backtest/index.js'
import { readBarsCsv } from '../../lib/data/index.js'
import { getStrategy } from '../../lib/strategy/index.js'
import { SAMPLE_CSV } from '../helpers.js'

const spx = readBarsCsv(SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
const CASH = 1_000_000

const cases: { strategy: string; params: Record<string, number> }[] = [
  { strategy: 'sma-cross', params: { fast: 10, slow: 30 } },
  { strategy: 'sma-cross', params: { fast: 5, slow: 200 } },
  { strategy: 'rsi-reversion', params: { period: 14, lower: 30, upper: 70 } },
  { strategy: 'rsi-reversion', params: { period: 2, lower: 10, upper: 90 } },
  { strategy: 'bollinger-breakout', params: { period: 20, k: 2 } },
  { strategy: 'donchian-breakout', params: { entry: 10, exit: 20 } },
]
const sizings = [
  { label: '1 unit', event: { qty: 1 }, vector: { qty: 1 } },
  { label: 'all in', event: { percent: 1 }, vector: { percent: 1 } },
]

describe('vectorized = event-driven', () => {
  for (const c of cases) {
    for (const size of sizings) {
      it(`${c.strategy} ${JSON.stringify(c.params)}, ${size.label}, 0.1 % commission, 5 bps slippage`, () => {
        const event = backtest({ strategy: c.strategy, params: c.params, symbols: ['SPX'], timeframe: '1d', data: { SPX: spx }, cash: CASH, sizing: size.event, fills: { takerRate: 0.001, slippageBps: 5 } })
        const signals = strategySignals(getStrategy(c.strategy), c.params, spx)!
        const vec = vectorBacktest({ open: spx.open, close: spx.close, ...signals }, { cash: CASH, commission: 0.001, slippageBps: 5, size: size.vector })
        // Equity at every close.
        expect(vec.equity.length).toBe(event.equity.length)
        let worst = 0
        for (let i = 0; i < vec.equity.length; i++) worst = Math.max(worst, Math.abs(vec.equity[i]! - event.equity[i]!) / event.equity[i]!)
        expect(worst).toBeLessThan(1e-9)
        // Trades: the same round trips.
        const trades = toRows(event.strategies[0]!.trades).filter((t) => !t.open)
        expect(vec.trades.pnl.length).toBe(trades.length)
        expect(trades.length).toBeGreaterThan(5)
        trades.forEach((t, k) => {
          expect(spx.time[vec.trades.entryIndex[k]!]).toBe(t.entryTime)
          expect(spx.time[vec.trades.exitIndex[k]!]).toBe(t.exitTime)
          expect(vec.trades.entryPrice[k]).toBeCloseTo(t.entryPrice, 9)
          expect(vec.trades.exitPrice[k]).toBeCloseTo(t.exitPrice, 9)
          expect(Math.abs(vec.trades.qty[k]! - t.qty)).toBeLessThan(1e-9 * t.qty)
          expect(Math.abs(vec.trades.pnl[k]! - t.pnl)).toBeLessThan(1e-9 * CASH)
        })
      })
    }
  }

  it('strategies without a vectorized form say so', () => {
    expect(strategySignals(getStrategy('sma-cross'), { short: 1 }, spx)).toBeUndefined()
  })
})

describe('vectorBacktest by hand', () => {
  const open = Float64Array.from([10, 11, 12, 13, 12, 11])
  const close = Float64Array.from([10.5, 11.5, 12.5, 12.5, 11.5, 11])
  it('entries/exits: a signal at t trades at t+1 open', () => {
    const r = vectorBacktest({ open, close, entries: [1, 0, 0, 0, 0, 0], exits: [0, 0, 1, 0, 0, 0] }, { cash: 100, size: { qty: 2 }, commission: 0.01 })
    // Buy 2 @11 (fee 0.22), sell 2 @13 (fee 0.26): P&L 4 − 0.48.
    expect(Array.from(r.position)).toEqual([0, 2, 2, 0, 0, 0])
    expect(Array.from(r.traded)).toEqual([0, 22, 0, 26, 0, 0])
    expect(r.trades.pnl[0]).toBeCloseTo(3.52, 12)
    expect(r.equity[1]).toBeCloseTo(100 - 22 - 0.22 + 23, 12)
    expect(r.equity[5]).toBeCloseTo(103.52, 12)
  })
  it('targetPosition: units to hold from the next open, shorts included', () => {
    const r = vectorBacktest({ open, close, targetPosition: Float64Array.from([1, NaN, -1, -1, 0, 0]) }, { cash: 100 })
    // +1 @11; flip to −1 @13 (sell 2): +2; cover @11: +2.
    expect(Array.from(r.position)).toEqual([0, 1, 1, -1, -1, 0])
    expect(Array.from(r.trades.pnl)).toEqual([2, 2])
    expect(r.equity[5]).toBe(104)
  })
  it('refuses inputs of different lengths', () => {
    expect(() => vectorBacktest({ open, close, entries: [1], exits: [0] })).toThrow('entries and exits need 6 values (received 1 and 1)')
  })
})

describe('sweep metrics from the running statistics', () => {
  it('equal performanceMetrics on the recorded equity', async () => {
    const { performanceMetrics } = await import('../../lib/stats/index.js')
    const signals = strategySignals(getStrategy('sma-cross'), { fast: 10, slow: 30 }, spx)!
    const full = vectorBacktest({ open: spx.open, close: spx.close, ...signals }, { cash: CASH, commission: 0.001, size: { percent: 1 } })
    const lean = vectorBacktest({ open: spx.open, close: spx.close, ...signals }, { cash: CASH, commission: 0.001, size: { percent: 1 } }, { record: false })
    expect(lean.equity.length).toBe(0)
    const { sweepMetrics } = await import('../../lib/backtest/index.js')
    const m = sweepMetrics(lean, 252)
    const ref = performanceMetrics(full.equity, { periodsPerYear: 252, trades: full.trades.pnl, position: full.position })
    for (const key of ['totalReturn', 'cagr', 'volatility', 'sharpe', 'sortino', 'calmar'] as const) expect(Math.abs(m[key] - ref[key]) / Math.abs(ref[key])).toBeLessThan(1e-9)
    expect(m.maxDrawdown).toBeCloseTo(ref.maxDrawdown.depth, 12)
    expect(m.trades).toBe(ref.trades!.trades)
    expect(m.winRate).toBe(ref.trades!.winRate)
    expect(m.profitFactor).toBeCloseTo(ref.trades!.profitFactor, 12)
    expect(m.exposure).toBe(ref.exposure)
  })
})

describe('crossings evaluated lazily', () => {
  it('give the trades and equity of the same crossings as flags (crosses written out here)', async () => {
    const { signalFlags } = await import('../../lib/strategy/index.js')
    for (const params of [{ fast: 10, slow: 30 }, { fast: 3, slow: 50 }]) {
      const lazy = strategySignals(getStrategy('sma-cross'), params, spx)!
      expect(lazy.entries instanceof Uint8Array).toBe(false)
      // The flags by the definition, in plain code: a[t] > b[t] after a[t−1] ≤ b[t−1], none in the warm-up.
      const fast = signalFlags(lazy.entries)
      const warm = params.slow
      const { indicator } = await import('../../lib/indicators/index.js')
      const f = indicator('sma').compute(spx, { period: params.fast }).value!
      const s = indicator('sma').compute(spx, { period: params.slow }).value!
      for (let t = 0; t < f.length; t++) {
        const want = t >= warm && f[t]! > s[t]! && f[t - 1]! <= s[t - 1]! ? 1 : 0
        if (fast[t] !== want) throw new Error(`entry flag at ${t}: ${fast[t]} ≠ ${want}`)
      }
      const a = vectorBacktest({ open: spx.open, close: spx.close, ...lazy }, { cash: CASH, commission: 0.001, size: { percent: 1 } })
      const b = vectorBacktest({ open: spx.open, close: spx.close, entries: signalFlags(lazy.entries), exits: signalFlags(lazy.exits) }, { cash: CASH, commission: 0.001, size: { percent: 1 } })
      expect(a.trades).toEqual(b.trades)
      expect(a.equity).toEqual(b.equity)
      expect(a.trades.pnl.length).toBeGreaterThan(5)
    }
  })
})
