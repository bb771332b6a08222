// A venue's fills that no market could give — a negative or zero price, a limit order filled past its limit, a
// fee larger than the trade or negative beyond it, a price 100 times away from the last close — are refused
// by a live session: not booked (no position, cash untouched, no fill in the journal) and said in an alert;
// reconciliation is left to settle it. Booked, they made cash from nothing or put equity at −4e34 with no
// alert (an attack review). The Binance stand-in answers the venue's trade poll with the hostile trade.

import { describe, expect, it } from 'vitest'
import { implausibleFill } from '../../lib/live/journal.js'
import { cent, fillsOf, M, marketAt, S, T0, world } from './live-harness.js'

const trade = (o: { orderId: number }, id: number, over: Record<string, unknown>) => ({
  symbol: 'BTCUSDT', id, orderId: o.orderId, orderListId: -1, price: '40000.00000000', qty: '0.01000000', quoteQty: '400', commission: '0.00000000', commissionAsset: 'USDT', time: T0 + 2 * M + S, isBuyer: true, isMaker: true, isBestMatch: true, ...over,
})

/** A resting limit buy of 0.02 BTC; the next trade poll answers one trade on it with `over`. */
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
  return { status, alerts: d.alerts(), fills: fillsOf(d.journal()), limit }
}

describe('a live session refuses fills no market could give', () => {
  const cases: [string, (limit: number) => Record<string, unknown>, RegExp][] = [
    ['negative price', () => ({ price: '-1000000.00000000' }), /has price -1000000; expected a price > 0/],
    ['zero price', () => ({ price: '0.00000000' }), /has price 0; expected a price > 0/],
    ['past the limit', (limit) => ({ price: String(limit + 100) }), /past its limit/],
    ['1e300 (100 times the last close)', () => ({ price: '1e300' }), /is at 1e\+300, 100 times or more away from the last close/],
    ['negative fee beyond the trade', (limit) => ({ price: String(limit), commission: '-5000.00000000' }), /has fee -5000 on a trade worth/],
    ['a fee of 1e30 BTC', (limit) => ({ price: String(limit), commission: '1e30', commissionAsset: 'BTC' }), /has fee .* on a trade worth/],
  ]
  for (const [label, over, message] of cases) {
    it(label, async () => {
      const { status, alerts, fills } = await answered(label.replace(/\W+/g, '-'), over)
      expect(fills.filter((f) => f.tradeId.endsWith(':5000'))).toEqual([])
      expect(status.positions.filter((p) => p.qty !== 0)).toEqual([])
      expect(status.cash).toBe(10_000)
      const refused = alerts.filter((a) => /the journal refused the venue's fill/.test(a) && /not booked/.test(a))
      expect(refused, alerts.join('\n')).toHaveLength(1)
      expect(refused[0]).toMatch(message)
    })
  }

  it('a fill at the limit with a small maker rebate is booked (the checks let real fills through)', async () => {
    const { status, alerts, fills, limit } = await answered('rebate', (l) => ({ price: String(l), commission: '-0.01000000' }))
    expect(fills.filter((f) => f.tradeId.endsWith(':5000'))).toEqual([expect.objectContaining({ qty: 0.01, price: limit, fee: -0.01 })])
    expect(status.positions).toEqual([expect.objectContaining({ symbol: 'BTC/USDT', qty: 0.01 })])
    expect(alerts.filter((a) => /refused/.test(a))).toEqual([])
  })

  it('a market or stop order is held to 100× either side of the last close (when there is one)', () => {
    const market = { side: 'buy', kind: 'market' } as const
    expect(implausibleFill(market, { qty: 1, price: 4_000_000, fee: 0 }, 40_000)).toBeUndefined()
    expect(implausibleFill(market, { qty: 1, price: 4_000_001, fee: 0 }, 40_000)).toBe('is at 4000001, 100 times or more away from the last close 40000')
    expect(implausibleFill({ side: 'sell', kind: 'stop', price: 39_000 }, { qty: 1, price: 399, fee: 0 }, 40_000)).toBe('is at 399, 100 times or more away from the last close 40000')
    expect(implausibleFill(market, { qty: 1, price: 1e300, fee: 0 })).toBeUndefined() // no close yet: only the price's sign and the fee
    expect(implausibleFill(market, { qty: 2, price: 10, fee: 20 })).toBeUndefined()
    expect(implausibleFill(market, { qty: 2, price: 10, fee: 20.000001 })).toBe('has fee 20.000001 on a trade worth 20; expected a finite fee no larger than the trade')
    expect(implausibleFill(market, { qty: 2, price: 10, fee: NaN })).toMatch(/has fee NaN/)
    expect(implausibleFill({ side: 'sell', kind: 'limit', price: 100 }, { qty: 1, price: 99.9999, fee: 0 })).toBe('is at 99.9999, past its limit 100')
    expect(implausibleFill({ side: 'sell', kind: 'limit', price: 100 }, { qty: 1, price: 100.5, fee: 0 })).toBeUndefined()
  })
})
