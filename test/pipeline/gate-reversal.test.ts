// The entry gate of model-gated backtests (gateEntries) on orders that reverse a position: while the gate is
// closed only the part back to flat goes through — a sell of 20 against a long of 10 sells 10, a targetPercent
// across zero goes flat — and with the gate open the whole reversal does. Hand-worked on a few daily bars.

import { describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { gateEntries } from '../../lib/pipeline/index.js'
import { bars, scripted, DAY, T0 } from '../backtest/scripted.js'

const data = { X: bars('X', Array.from({ length: 8 }, () => [100, 101, 99, 100])) }
// The gate is open at bar 0 (the first entry) and from bar `openFrom` on; the net filled quantity at the end.
const finalQty = (script: Parameters<typeof scripted>[0], openFrom: number) => {
  const gated = gateEntries(scripted(script), (time) => time === T0 || time >= T0 + openFrom * DAY)
  const r = backtest({ strategy: gated, symbols: ['X'], timeframe: '1d', data, cash: 100_000, fills: { takerRate: 0 } })
  const f = r.strategies[0]!.fills
  let q = 0
  for (let i = 0; i < f.qty.length; i++) q += (f.side[i] === 'buy' ? 1 : -1) * f.qty[i]!
  return q
}

describe('the gate on reversals', () => {
  it('a sell larger than the long: only the long is sold while closed, all of it while open', () => {
    const script = { 0: (ctx: any) => ctx.buy('X', { qty: 10 }), 3: (ctx: any) => ctx.sell('X', { qty: 20 }) }
    expect(finalQty(script, 99)).toBe(0)
    expect(finalQty(script, 3)).toBe(-10)
  })

  it('a targetPercent across zero: flat while closed, the other side while open', () => {
    const script = { 0: (ctx: any) => ctx.buy('X', { qty: 10 }), 3: (ctx: any) => ctx.targetPercent('X', -0.01) }
    expect(finalQty(script, 99)).toBe(0)
    // Open: −1 % of 100,000 at 100 = −10.
    expect(finalQty(script, 3)).toBe(-10)
  })
})
