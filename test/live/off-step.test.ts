// An order whose size is off the market's amount step (a percent, notional or targetPercent size, an orders
// file): ccxt truncates the amount to the step, the venue fills that and closes the order. The engine went on
// waiting for the rest — the order PARTIALLY_FILLED for ever, a cancel of it confirmed by nothing, and an exit
// parked behind that cancel never sent: 1.33 BTC (~2,000 USDT) stayed held while the strategy was exiting (an
// audit). An order the venue reports closed now ends there, its rest cancelled with the reason.

import { describe, expect, it } from 'vitest'
import { cent, marketAt, world } from './live-harness.js'

describe('an order the venue closed with less than was asked (its amount step)', () => {
  it('ends with what was filled, and a close after it goes out and flattens the account', async () => {
    const { s, start } = await world()
    const d = start('offstep', {
      1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.0123456 }),
      3: (ctx) => ctx.sell('BTC/USDT', { qty: 0.0045678 }),
      5: (ctx) => ctx.close('BTC/USDT'),
    })
    for (let i = 0; i <= 8; i++) await d.step(i)
    const st = await d.stop()
    // What the venue did (its own record): buy 0.01234 (truncated), sell 0.00456, then the close sells the 0.00778 left.
    expect(s.orders.map((o) => [o.side, Number(o.executedQty), o.status])).toEqual([
      ['BUY', 0.01234, 'FILLED'],
      ['SELL', 0.00456, 'FILLED'],
      ['SELL', 0.00778, 'FILLED'],
    ])
    expect(s.balance('BTC').free + s.balance('BTC').locked).toBeCloseTo(0, 12)
    expect(st.positions).toEqual([])
    // The two off-step orders end CANCELLED for their rest, saying why; none is left open.
    const ended = d.rec.orders.filter((o) => o.status === 'CANCELLED').map((o) => [o.order.side, o.order.filled, o.reason])
    expect(ended).toEqual([
      ['buy', 0.01234, expect.stringMatching(/^closed at binance with 0\.01234 of 0\.0123456 filled/)],
      ['sell', 0.00456, expect.stringMatching(/^closed at binance with 0\.00456 of 0\.0045678 filled/)],
    ])
  })
})

describe('a resting order the venue closes later with less than was asked', () => {
  it('ends at the next reconciliation, its rest cancelled with the reason (the send could not say: a review)', async () => {
    const { s, start } = await world()
    const limit = cent(marketAt(1) - 1)
    const d = start('offstep-resting', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.0123456, limit }) }, { reconcileEveryMs: 1 })
    await d.step(0)
    await d.step(1)
    // The limit rests (0.01234 at the venue, the step's cut); it fills there later.
    s.fill(s.orders[0]!.clientOrderId, 0.01234)
    for (let i = 2; i <= 4; i++) await d.step(i)
    const st = await d.stop()
    expect(s.orders.map((o) => [o.side, o.origQty, o.status])).toEqual([['BUY', 0.01234, 'FILLED']])
    expect(st.openOrders).toEqual([])
    expect(st.positions).toEqual([expect.objectContaining({ qty: 0.01234 })])
    expect(d.rec.orders.filter((o) => o.status === 'CANCELLED').map((o) => [o.order.filled, o.reason])).toEqual([[0.01234, expect.stringMatching(/^closed at the venue with 0\.01234 of 0\.0123456 filled/)]])
  })
})
