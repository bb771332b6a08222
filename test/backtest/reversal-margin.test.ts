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
