// A live deployment trades spot markets (CcxtVenue): no short selling. A sell past what the deployment holds is
// cut to its holding ("shorting is disabled"), and one with nothing held is refused before it reaches the
// exchange. Sent whole (before), a strategy's or an orders file's sell sold coins the account held before the
// deployment (or another deployment's): an attack review sold 0.2 BTC of the account's with none held. The
// exchange's own records (orders, balances) are the expected values.

import { describe, expect, it } from 'vitest'
import { validateDeploymentConfig } from '../../lib/live/index.js'
import { config, world } from './live-harness.js'

describe('a live spot deployment never sells what it does not hold', () => {
  it('a sell with nothing held is refused; a sell past the holding is cut to it; the account\'s own coins stay', async () => {
    const { s, start, posts } = await world({ balances: { USDT: 10_000, BTC: 1 } })
    const d = start('spot-shorts', {
      1: (ctx) => ctx.sell('BTC/USDT', { qty: 0.2 }),
      2: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }),
      4: (ctx) => ctx.sell('BTC/USDT', { qty: 0.05 }),
    })
    for (const i of [0, 1]) await d.step(i)
    expect(posts()).toHaveLength(0)
    expect(d.rec.orders.at(-1)).toMatchObject({ status: 'REJECTED', reason: 'shorting is disabled', order: expect.objectContaining({ side: 'sell', qty: 0 }) })
    for (const i of [2, 3, 4, 5]) await d.step(i)
    const status = await d.stop()
    expect(s.orders.map((o) => [o.side, o.origQty, o.status])).toEqual([
      ['BUY', 0.01, 'FILLED'],
      ['SELL', 0.01, 'FILLED'],
    ])
    // The account's coin from before the deployment is still there; the deployment is flat.
    expect(s.balance('BTC').free + s.balance('BTC').locked).toBeCloseTo(1, 12)
    expect(status.positions).toEqual([])
  })

  it('a live config asking for shorts is refused, naming the field', () => {
    expect(() => validateDeploymentConfig({ ...config('x'), limits: { allowShort: true } })).toThrow(/limits\.allowShort must be false in mode "live" \(spot markets: no short selling.*\(received true\)$/)
  })
})
