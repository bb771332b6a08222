// Buying power on a reversal done in one order (long → short, short → long), hand-worked: equity 10,000 at a
// flat price of 100, no costs; a long holds 1.0 × its notional of equity, a short 0.5 × (lib/backtest/
// portfolio.ts). The position the order closes frees its margin: from +50, a sell of 200 ends at −150
// (7,500 held of 10,000) — the engine counted the long's 5,000 as still held and made it −100; from −50 a
// buy of 200 may end at +100 at most (all of equity), not +75. A numbers audit found both engines off, each
// its own way; the vectorized engine's target form is held to the same figures.

import { describe, expect, it } from 'vitest'
import { backtest, vectorBacktest } from '../../lib/backtest/index.js'
import { bars, scripted } from './scripted.js'

const flat = bars('X', Array.from({ length: 6 }, () => [100, 100, 100, 100, 1e9]))

/** Position after an order from `from` to `to` (qty |to − from|) placed at bar 2, the first at bar 0. */
function eventPosition(from: number, to: number): { position: number; reason: string } {
  const r = backtest({
    strategy: scripted({
      0: (ctx) => (from > 0 ? ctx.buy('X', { qty: from }) : ctx.sell('X', { qty: -from })),
      2: (ctx) => (to > from ? ctx.buy('X', { qty: to - from }) : ctx.sell('X', { qty: from - to })),
    }),
    symbols: ['X'],
    timeframe: '1d',
    data: { X: flat },
    cash: 10_000,
  })
  const f = r.strategies[0]!.fills
  let position = 0
  for (let k = 0; k < f.qty.length; k++) position += (f.side[k] === 'buy' ? 1 : -1) * f.qty[k]!
  return { position, reason: r.strategies[0]!.orders.reason[1] ?? '' }
}

function vectorPosition(from: number, to: number): number {
  const target = Float64Array.from([from, from, to, to, to, to])
  const v = vectorBacktest({ open: flat.open, close: flat.close, targetPosition: target }, { cash: 10_000 })
  // Held from bar 3's open on: equity stays 10,000 at a flat price; the position is what the trades left.
  return v.position[v.position.length - 1]!
}

describe('buying power on a reversal in one order', () => {
  // [from, to, the position the rule allows]
  const cases: [number, number, number][] = [
    [50, -150, -150],
    [50, -160, -160],
    [80, -150, -150],
    [50, -250, -200],
    [-50, 150, 100],
    [-50, 101, 100],
    [-100, 100, 100],
    [-100, 80, 80],
  ]
  for (const [from, to, allowed] of cases) {
    it(`${from} → ${to}: ${allowed}`, () => {
      const event = eventPosition(from, to)
      expect(event.position).toBeCloseTo(allowed, 9)
      // Resized only when the rule binds.
      expect(event.reason === '', event.reason).toBe(allowed === to)
      expect(vectorPosition(from, to)).toBeCloseTo(allowed, 9)
    })
  }
})

describe('buying power with slippage: a sell sized at the price it fills at', () => {
  it('+50 bought at 100.1 (10 bps), then a sell of 300 at 99.9: −200 (9,990 / 49.95), as the vectorized engine', () => {
    // By hand: cash 10,000 − 50 × 100.1 = 4,995; closing 50 at 99.9 brings it to 9,990; a short at 99.9 holds
    // 0.5 × 99.9 a unit: 200 units. The engine sized the sell at 100 × 1.001 (a buy's price): −199.6 (a review).
    const r = backtest({ strategy: scripted({ 0: (ctx) => ctx.buy('X', { qty: 50 }), 2: (ctx) => ctx.sell('X', { qty: 300 }) }), symbols: ['X'], timeframe: '1d', data: { X: flat }, cash: 10_000, fills: { slippageBps: 10 } })
    const f = r.strategies[0]!.fills
    let position = 0
    for (let k = 0; k < f.qty.length; k++) position += (f.side[k] === 'buy' ? 1 : -1) * f.qty[k]!
    expect(position).toBeCloseTo(-200, 9)
    const v = vectorBacktest({ open: flat.open, close: flat.close, targetPosition: Float64Array.from([50, 50, -250, -250, -250, -250]) }, { cash: 10_000, slippageBps: 10 })
    expect(v.position[v.position.length - 1]!).toBeCloseTo(-200, 9)
  })
})

describe('the vectorized target form counts round trips as the event engine does', () => {
  it('0 → 10 → 5 → 0 is one trade; 0 → 10 → −5 → 0 two; P&L at the average cost, less fees', () => {
    // Opens 100, 110, 120, 130 … ; a target at bar t is held from bar t+1's open. Commission 0.1 %.
    const n = 8
    const open = Float64Array.from({ length: n }, (_, i) => 100 + 10 * i)
    const close = open.map((o) => o + 5)
    const fee = (q: number, p: number) => q * p * 0.001
    const one = vectorBacktest({ open, close, targetPosition: Float64Array.from([10, 5, 0, 0, 0, 0, 0, 0]) }, { cash: 1e6, commission: 0.001 })
    // Buy 10 at 110 (bar 1), sell 5 at 120, sell 5 at 130: one trade of 10 units entered at 110, left at 125 on average.
    expect(one.trades.pnl.length).toBe(1)
    expect(one.trades.qty[0]).toBe(10)
    expect(one.trades.entryPrice[0]).toBe(110)
    expect(one.trades.exitPrice[0]).toBe(125)
    expect(one.trades.fees[0]).toBeCloseTo(fee(10, 110) + fee(5, 120) + fee(5, 130), 12)
    expect(one.trades.pnl[0]).toBeCloseTo(5 * 10 + 5 * 20 - (fee(10, 110) + fee(5, 120) + fee(5, 130)), 9)
    const two = vectorBacktest({ open, close, targetPosition: Float64Array.from([10, -5, 0, 0, 0, 0, 0, 0]) }, { cash: 1e6, commission: 0.001 })
    // Buy 10 at 110; sell 15 at 120 (10 close the long, 5 open a short); buy 5 at 130.
    expect(two.trades.pnl.length).toBe(2)
    expect([...two.trades.qty]).toEqual([10, 5])
    expect(two.trades.pnl[0]).toBeCloseTo(10 * 10 - fee(10, 110) - fee(10, 120), 9)
    expect(two.trades.pnl[1]).toBeCloseTo(-5 * 10 - fee(5, 120) - fee(5, 130), 9)
    // The event engine on the same bars and targets agrees trade for trade.
    const bars = { symbol: 'X', timeframe: '1d', time: Float64Array.from({ length: n }, (_, i) => Date.UTC(2024, 0, 1) + i * 86_400_000), open, high: close.map((c) => c + 1), low: open.map((o) => o - 1), close, volume: new Float64Array(n).fill(1e9) }
    for (const [targets, v] of [[[10, 5, 0], one], [[10, -5, 0], two]] as const) {
      const r = backtest({
        strategy: scripted({ 0: (ctx) => ctx.buy('X', { qty: 10 }), 1: (ctx) => (targets[1] > 0 ? ctx.sell('X', { qty: 5 }) : ctx.sell('X', { qty: 15 })), 2: (ctx) => (targets[1] > 0 ? ctx.sell('X', { qty: 5 }) : ctx.buy('X', { qty: 5 })) }),
        symbols: ['X'],
        timeframe: '1d',
        data: { X: bars },
        cash: 1e6,
        fills: { takerRate: 0.001 },
      })
      const t = r.strategies[0]!.trades
      expect([...t.pnl].map((x) => +x.toFixed(9))).toEqual([...v.trades.pnl].map((x) => +x.toFixed(9)))
      expect([...t.qty]).toEqual([...v.trades.qty])
    }
  })
})
