// Live deployments: what a money-path review of issue 19 found, held as tests (each failed before its fix).
// Two deployments on one account and symbol must not book each other's fills; two workspaces using one
// deployment name must not reuse client order ids; a cancel that overtakes its own order's slow send must
// not orphan the order nor crash the process.

import { describe, expect, it } from 'vitest'
import { defineStrategy } from '../../lib/strategy/index.js'
import { cent, marketAt, world } from './live-harness.js'

describe('live deployments sharing an account', () => {
  it('two deployments on one symbol: each journal holds only its own fills; the shared balance is not booked to either', async () => {
    const { s, start } = await world()
    const a = start('a', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) }, { reconcileEveryMs: 60_000 })
    const b = start('b', { 3: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02 }) }, { reconcileEveryMs: 60_000 })
    for (let i = 0; i < 7; i++) {
      await a.step(i)
      await b.step(i)
    }
    expect(s.balance('BTC').free).toBeCloseTo(0.03, 12) // the account holds both
    expect(a.journal().position('scripted', 'BTC/USDT')).toBe(0.01)
    expect(b.journal().position('scripted', 'BTC/USDT')).toBe(0.02)
    expect([...a.journal().current.orders.values()].filter((o) => o.role === 'outside')).toEqual([])
    expect([...b.journal().current.orders.values()].filter((o) => o.role === 'outside')).toEqual([])
    const sa = await a.stop()
    const sb = await b.stop()
    expect(sa.positions.map((p) => p.qty)).toEqual([0.01])
    expect(sb.positions.map((p) => p.qty)).toEqual([0.02])
  })

  it('the same deployment name in two workspaces: fresh client ids, so neither claims the other\'s order or trades', async () => {
    const w1 = await world()
    const w2 = await world({}, w1.s)
    const s = w1.s
    const limit = cent(marketAt(1) - 30)
    const d1 = w1.start('sma-cross.BTC-USDT', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit }) })
    await d1.step(0)
    await d1.step(1)
    await d1.stop() // a plain stop leaves the limit order resting
    const d2 = w2.start('sma-cross.BTC-USDT', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
    await d2.step(2)
    await d2.step(3)
    const resting = s.orders[0]!.clientOrderId
    const ours = [...d2.journal().current.orders.keys()]
    expect(ours).toHaveLength(1)
    expect(ours[0]).not.toBe(resting)
    expect(d2.journal().order(ours[0]!).state).toBe('FILLED') // not refused as a duplicate
    s.fill(resting, 0.02) // workspace 1's order fills: not workspace 2's business
    await d2.step(4)
    await d2.step(5)
    expect(d2.journal().position('scripted', 'BTC/USDT')).toBe(0.01)
  })
})

describe('a cancel that overtakes its own order', () => {
  it('the order that lands after the cancel is found, cancelled, and the process lives on', async () => {
    const { s, start } = await world()
    const limit = cent(marketAt(1) - 30)
    const strategy = defineStrategy<Record<string, number>>({
      name: 'scripted',
      params: {},
      universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
      warmup: () => 0,
      onBar(ctx, bar) {
        if (bar.index === 1) ctx.buy('BTC/USDT', { qty: 0.02, limit })
      },
      // A strategy (or expireBars, or the kill switch) withdrawing an order right after placing it.
      onOrder(ctx, ev) {
        if (ev.status === 'SUBMITTED' && ev.order.role === 'entry') ctx.cancel(ev.order.id)
      },
    })
    s.fault('POST /api/v3/order', { kind: 'delay', ms: 300 }) // the create reaches the matching engine 300 ms late
    const d = start('race', {}, { strategy, timeoutMs: 1500 })
    await d.step(0)
    await d.step(1)
    await new Promise((r) => setTimeout(r, 600))
    await d.step(2)
    await d.step(3)
    expect(s.orders.map((o) => o.status)).toEqual(['CANCELED']) // nothing left resting unmanaged
    const [order] = [...d.journal().current.orders.values()]
    expect(order).toMatchObject({ state: 'CANCELLED', reason: 'cancelled by the strategy' })
  })
})
