// The notional caps count the sleeve's working entries: two buys placed on one bar each passed
// maxPositionNotional alone (the position was 0 when each was checked) and together went past it — an audit of a
// live deployment found 2 BTC held under a 2,000 cap at 1,503.91; the backtest engine had the same formula.
// Hand-worked on 4 daily bars: both orders are sized at the close of bar 1 (100) and fill at bar 2's open.

import { describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { bars, scripted } from './scripted.js'

const A = bars('A', [
  [100, 101, 99, 100],
  [100, 101, 99, 100],
  [102, 103, 101, 102],
  [102, 103, 101, 102],
])

describe('notional caps and working entries', () => {
  it('maxPositionNotional: the second buy of a bar is cut to what the first leaves (2,500 at 100: 15, then 10 units)', () => {
    const r = backtest({ strategy: scripted({ 1: (ctx) => { ctx.buy('A', { qty: 15 }); ctx.buy('A', { qty: 15 }) } }), params: {}, symbols: ['A'], timeframe: '1d', data: { A }, limits: { maxPositionNotional: 2500 } })
    const o = r.strategies[0]!.orders
    // 2,500 / 100 = 25 units: the first takes 15, the second the 10 left (it took 15 too before: 30 units, 3,060 at 102).
    expect(Array.from(o.qty)).toEqual([15, 10])
    expect(Array.from(o.filled)).toEqual([15, 10])
  })

  it('maxGrossExposure: the same, as a multiple of equity (0.2 × 100,000 = 20,000 = 200 units)', () => {
    const r = backtest({ strategy: scripted({ 1: (ctx) => { ctx.buy('A', { qty: 150 }); ctx.buy('A', { qty: 150 }) } }), params: {}, symbols: ['A'], timeframe: '1d', data: { A }, limits: { maxGrossExposure: 0.2 } })
    expect(Array.from(r.strategies[0]!.orders.qty)).toEqual([150, 50])
  })
})

describe('the other side makes no room (a review)', () => {
  it('a resting buy limit that never fills does not raise the cap for a sell: 25 units, not 45', () => {
    const r = backtest({ strategy: scripted({ 1: (ctx) => { ctx.buy('A', { qty: 20, limit: 50 }); ctx.sell('A', { qty: 40 }) } }), params: {}, symbols: ['A'], timeframe: '1d', data: { A }, limits: { maxPositionNotional: 2500 } })
    expect(Array.from(r.strategies[0]!.orders.qty)).toEqual([20, 25])
  })
})
