// A venue's fills with numbers no market gives — a negative or zero price, one 100 times away from the last
// close, a fee larger than the trade (or a rebate beyond it) — are booked at the last close (the fee at 0 when
// it is the fee that is wrong), with an alert naming what the venue said: the quantity is the venue's, so the
// deployment holds what the venue holds, but its cash and equity are not thrown anywhere. Booked as reported
// (before), a negative price or fee made cash from nothing and a 1e30 fee put equity at −4e34, with no alert
// (an attack review); refused (a first fix), the venue held a position the deployment did not (a review). A
// maker fill at the limit the venue rounded to its tick is an ordinary fill. The Binance stand-in answers the
// venue's trade poll with the hostile trade.

import { describe, expect, it } from 'vitest'
import { checkVenueFill } from '../../lib/live/journal.js'
import { bar, cent, fillsOf, M, marketAt, S, T0, world } from './live-harness.js'

const trade = (o: { orderId: number }, id: number, over: Record<string, unknown>) => ({
  symbol: 'BTCUSDT', id, orderId: o.orderId, orderListId: -1, price: '40000.00000000', qty: '0.01000000', quoteQty: '400', commission: '0.00000000', commissionAsset: 'USDT', time: T0 + 2 * M + S, isBuyer: true, isMaker: true, isBestMatch: true, ...over,
})

/** A resting limit buy of 0.02 BTC; the next trade poll answers one trade of 0.01 on it with `over`. */
async function answered(name: string, over: (limit: number) => Record<string, unknown>) {
  const { s, start } = await world()
  const limit = cent(marketAt(1) - 500)
  const d = start(name, { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit }) })
  await d.step(0)
  await d.step(1)
  const o = s.orders[0]!
  s.fault('GET /api/v3/myTrades', { kind: 'answer', status: 200, body: [trade(o, 5000, over(limit))] })
  await d.step(2)
  await d.step(3)
  const status = await d.stop()
  return { status, alerts: d.alerts(), fills: fillsOf(d.journal()).filter((f) => f.tradeId.endsWith(':5000')), limit }
}

// The closes the poll may meet as the last one (it runs between bars 1 and 2 or 2 and 3 are stepped).
const closes = [bar(1).close, bar(2).close]

describe('a live session books a fill no market could give at the last close, and says so', () => {
  const cases: [string, (limit: number) => Record<string, unknown>, RegExp, 'price' | 'fee'][] = [
    ['negative price', () => ({ price: '-1000000.00000000' }), /has price -1000000: no market's; booked at the last close/, 'price'],
    ['zero price', () => ({ price: '0.00000000' }), /has price 0: no market's; booked at the last close/, 'price'],
    ['1e300 (100 times the last close)', () => ({ price: '1e300' }), /has price 1e\+300, 100 times or more away from the last close .*: no market's; booked at the last close/, 'price'],
    ['a rebate beyond the trade', (limit) => ({ price: String(limit), commission: '-5000.00000000' }), /has fee -5000 on a trade worth .*: no market's; booked at its price with fee 0/, 'fee'],
    ['a fee of 1e30 BTC', (limit) => ({ price: String(limit), commission: '1e30', commissionAsset: 'BTC' }), /has fee .* on a trade worth .*: no market's; booked at its price with fee 0/, 'fee'],
  ]
  for (const [label, over, message, wrong] of cases) {
    it(label, async () => {
      const { status, alerts, fills, limit } = await answered(label.replace(/\W+/g, '-'), over)
      expect(fills).toHaveLength(1)
      const f = fills[0]!
      expect(f.qty).toBe(0.01)
      expect(f.fee).toBe(0)
      if (wrong === 'price') expect(closes).toContain(f.price)
      else expect(f.price).toBe(limit)
      // The books follow: 0.01 held, cash 10,000 less what was booked.
      expect(status.positions).toEqual([expect.objectContaining({ symbol: 'BTC/USDT', qty: 0.01 })])
      expect(status.cash).toBeCloseTo(10_000 - 0.01 * f.price, 6)
      const said = alerts.filter((a) => /no market's/.test(a))
      expect(said, alerts.join('\n')).toHaveLength(1)
      expect(said[0]).toMatch(message)
      expect(said[0]).toMatch(/check it at the venue$/)
    })
  }

  it('fills at a limit the venue rounded to its tick, or past it, and a small maker rebate are ordinary fills', async () => {
    // The strategy's limit 0.001 off the tick: the venue rounds it and fills there (a review: refused as "past its limit").
    const { status, alerts, fills, limit } = await answered('tick', (l) => ({ price: String(l + 0.004), commission: '-0.01000000' }))
    expect(fills).toEqual([expect.objectContaining({ qty: 0.01, price: limit + 0.004, fee: -0.01 })])
    expect(status.positions).toEqual([expect.objectContaining({ symbol: 'BTC/USDT', qty: 0.01 })])
    expect(alerts.filter((a) => /no market's|refused/.test(a))).toEqual([])
  })

  it('checkVenueFill: what it corrects, and to what', () => {
    expect(checkVenueFill({ qty: 1, price: 4_000_000, fee: 0 }, 40_000)).toBeUndefined()
    expect(checkVenueFill({ qty: 1, price: 4_000_001, fee: 0 }, 40_000)).toEqual({ why: 'price 4000001, 100 times or more away from the last close 40000', price: 40_000, fee: 0 })
    expect(checkVenueFill({ qty: 1, price: 399, fee: 3 }, 40_000)).toEqual({ why: 'price 399, 100 times or more away from the last close 40000', price: 40_000, fee: 3 })
    expect(checkVenueFill({ qty: 1, price: -5, fee: 0 })).toEqual({ why: 'price -5', price: undefined, fee: 0 }) // no close yet: refused
    expect(checkVenueFill({ qty: 1, price: 1e300, fee: 0 })).toBeUndefined() // no close yet: only the sign and the fee
    expect(checkVenueFill({ qty: 2, price: 10, fee: 20 })).toBeUndefined()
    expect(checkVenueFill({ qty: 2, price: 10, fee: 20.000001 })).toEqual({ why: 'fee 20.000001 on a trade worth 20', price: 10, fee: 0 })
    expect(checkVenueFill({ qty: 2, price: 10, fee: NaN })).toEqual({ why: 'fee NaN on a trade worth 20', price: 10, fee: 0 })
  })
})
