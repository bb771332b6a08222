// A live deployment whose config gives no fee rates sizes its orders with the market's own (ccxt's market taker
// and maker): at 0, the default 100 % buy came to more than the cash once the venue took its 0.1 %, and every
// entry was refused with InsufficientFunds (an audit). The fees booked are the venue's, whatever the sizing used.

import { describe, expect, it } from 'vitest'
import { defineStrategy } from '../../lib/strategy/index.js'
import { cent, fillsOf, marketAt, world } from './live-harness.js'

describe('a live deployment without fee rates in its config', () => {
  it("sizes a 100 % buy with the venue's taker rate: it fills, and the fee paid is the venue's", async () => {
    const { s, start } = await world()
    const d = start('fees', { 1: (ctx) => ctx.buy('BTC/USDT', { percent: 1 }) })
    for (let i = 0; i <= 3; i++) await d.step(i)
    const st = await d.stop()
    expect(s.orders.map((o) => o.status)).toEqual(['FILLED'])
    const order = s.orders[0]!
    const cost = order.cumQuote
    // Spent with the venue's 0.1 % fee within the 10,000 the deployment had.
    expect(cost * 1.001).toBeLessThanOrEqual(10_000)
    expect(st.cash).toBeCloseTo(10_000 - cost * 1.001, 6)
    expect(d.lines.some((line) => /orders are sized with the venue's fee rates: taker 0\.1 %, maker 0\.1 %/.test(line))).toBe(true)
  })
})

describe('a fee the venue charges in a third currency (BNB)', () => {
  it('is an alert in alerts.jsonl, saying it is not counted (it reached only the log: an audit)', async () => {
    const { start } = await world({ feeAsset: 'BNB', feeAssetPrice: 300, balances: { USDT: 10_000, BNB: 1 } })
    const d = start('bnb', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
    for (let i = 0; i <= 3; i++) await d.step(i)
    await d.stop()
    const notCounted = d.alerts().filter((line) => /^venue binance: fee of [\d.e-]+ BNB on BTC\/USDT trade \S+ is not in USDT or BTC: not counted \(booked as 0\)/.test(line))
    expect(notCounted, d.alerts().join("\n")).toHaveLength(1)
    // No BNB/USDT market at this venue: said once, with why.
    expect(d.alerts().filter((line) => /fees charged in BNB cannot be valued in USDT: BNB\/USDT: Error: no market BNB\/USDT at binance$/.test(line)), d.alerts().join("\n")).toHaveLength(1)
  })
})

describe('a fee in BNB where the venue lists BNB/USDT (Binance with BNB fee payment)', () => {
  it("is valued at BNB/USDT's last price and counted: the P&L and the cash pay it", async () => {
    const { s, start } = await world({ feeAsset: 'BNB', feeAssetPrice: 312.5, balances: { USDT: 10_000, BNB: 1 }, markets: { BTCUSDT: ['BTC', 'USDT'], BNBUSDT: ['BNB', 'USDT'] } })
    const d = start('bnb-valued', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }), 3: (ctx) => ctx.close('BTC/USDT') })
    for (let i = 0; i <= 4; i++) await d.step(i)
    const st = await d.stop()
    expect(s.orders.map((o) => [o.side, o.executedQty, o.status])).toEqual([
      ['BUY', 0.01, 'FILLED'],
      ['SELL', 0.01, 'FILLED'],
    ])
    // The stand-in took 0.1 % of each trade's notional in BNB at 312.5 USDT a BNB (to 8 decimals): valued back at
    // the same price, each fee is 0.1 % of its notional to within 312.5 × 5e-9.
    const bnbPaid = 1 - s.balance('BNB').free
    const notional = s.orders.reduce((a, o) => a + o.cumQuote, 0)
    expect(bnbPaid * 312.5).toBeCloseTo(notional * 0.001, 5)
    const fees = fillsOf(d.journal()).map((f) => f.fee)
    expect(fees).toHaveLength(2)
    for (const [k, o] of s.orders.entries()) expect(fees[k]).toBeCloseTo(o.cumQuote * 0.001, 5)
    // The round trip's P&L is the sale less the purchase less both fees; the deployment's cash paid the fees (the
    // account's BNB did), so it is the USDT balance less their value.
    const [buy, sell] = s.orders
    expect(st.trades).toHaveLength(1)
    expect(st.trades[0]!.pnl).toBeCloseTo(sell!.cumQuote - buy!.cumQuote - bnbPaid * 312.5, 5)
    expect(st.cash).toBeCloseTo(s.balance('USDT').free - bnbPaid * 312.5, 5)
    expect(d.alerts().filter((line) => /not counted|cannot be valued/.test(line))).toEqual([])
  })
})

describe("a sell's fee in the coins held (BNB/USDT with BNB fee payment, an audit)", () => {
  it('leaves the position with the coins: the position is the account\'s, before and after a restart; nothing outside', async () => {
    const { s, start } = await world({ feeAsset: 'BNB', feeAssetPrice: 312.5, balances: { USDT: 10_000 }, markets: { BNBUSDT: ['BNB', 'USDT'] } })
    const over = { symbols: ['BNB/USDT'] }
    const d1 = start('bnb-sell', { 1: (ctx) => ctx.buy('BNB/USDT', { qty: 1 }), 3: (ctx) => ctx.sell('BNB/USDT', { qty: 0.5 }) }, { over, reconcileEveryMs: 1 })
    for (let i = 0; i <= 4; i++) await d1.step(i)
    const st1 = await d1.stop()
    expect(s.orders.map((o) => [o.side, o.executedQty, o.status])).toEqual([
      ['BUY', 1, 'FILLED'],
      ['SELL', 0.5, 'FILLED'],
    ])
    // 0.1 % of each in BNB: 1 − 0.001 received, then 0.5 sold and 0.0005 paid from what is held: 0.4985.
    expect(s.balance('BNB').free).toBeCloseTo(0.4985, 12)
    expect(st1.positions).toEqual([expect.objectContaining({ symbol: 'BNB/USDT', qty: expect.closeTo(0.4985, 12) })])
    // A restart folds the journal into the same position.
    const d2 = start('bnb-sell', {}, { over, reconcileEveryMs: 1 })
    for (let i = 5; i <= 6; i++) await d2.step(i)
    const st2 = await d2.stop()
    expect(st2.positions).toEqual([expect.objectContaining({ symbol: 'BNB/USDT', qty: expect.closeTo(0.4985, 12) })])
    expect([...d1.alerts(), ...d2.alerts()].filter((line) => /outside|changed at the venue/.test(line))).toEqual([])
  })

  // A review: the sell takes the whole position, its fee paid from the account's other BNB (kept for fees). The
  // position gives only what it holds; reconciliation must know the outside coins fell by the rest, or it books
  // the difference as an outside sell and the spot deployment ends short.
  it('leaves the deployment flat: no short booked by reconciliation, before or after a restart', async () => {
    const { s, start } = await world({ feeAsset: 'BNB', feeAssetPrice: 312.5, balances: { USDT: 10_000, BNB: 5 }, markets: { BNBUSDT: ['BNB', 'USDT'] } })
    const over = { symbols: ['BNB/USDT'] }
    const d1 = start('bnb-close', { 1: (ctx) => ctx.buy('BNB/USDT', { qty: 1 }), 3: (ctx) => ctx.close('BNB/USDT') }, { over, reconcileEveryMs: 1 })
    for (let i = 0; i <= 6; i++) await d1.step(i)
    const st1 = await d1.stop()
    expect(s.orders.map((o) => [o.side, o.executedQty, o.status])).toEqual([
      ['BUY', 1, 'FILLED'],
      ['SELL', 0.999, 'FILLED'],
    ])
    // 5 held before + 1 bought − 0.001 fee − 0.999 sold − 0.000999 fee: the account's own 5 less the second fee.
    expect(s.balance('BNB').free).toBeCloseTo(4.999001, 12)
    const alerts = d1.alerts()
    expect(st1.positions, alerts.join('\n')).toEqual([])
    expect(alerts.filter((line) => /changed at the venue|journal's fills sum/.test(line))).toEqual([])
    const d2 = start('bnb-close', {}, { over, reconcileEveryMs: 1 })
    for (let i = 7; i <= 8; i++) await d2.step(i)
    const st2 = await d2.stop()
    expect(st2.positions, d2.alerts().join('\n')).toEqual([])
  })
})

describe('a fee price that does not come (a review)', () => {
  it('holds the fill back a second at most: the fill is booked without it (the fee uncounted, said), not after ccxt\'s retries', async () => {
    const { s, start } = await world({ feeAsset: 'BNB', feeAssetPrice: 312.5, balances: { USDT: 10_000, BNB: 1 }, markets: { BTCUSDT: ['BTC', 'USDT'], BNBUSDT: ['BNB', 'USDT'] } })
    const d = start('bnb-stall', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
    // The ticker never answers.
    ;(d.venue as unknown as { exchange: { fetchTicker: () => Promise<never> } }).exchange.fetchTicker = () => new Promise<never>(() => undefined)
    for (let i = 0; i <= 2; i++) await d.step(i)
    await d.stop()
    expect(s.orders.map((o) => o.status)).toEqual(['FILLED'])
    // Given up after the one-second budget (before: ccxt's own timeout, then the venue's retries with backoff).
    expect(fillsOf(d.journal()).map((f) => f.fee)).toEqual([0])
    expect(d.alerts().filter((line) => /fees charged in BNB cannot be valued in USDT: BNB\/USDT: Error: no answer within 1000 ms/.test(line))).toHaveLength(1)
  })
})

describe("a buy's fee taken in the coins bought (Binance spot without BNB)", () => {
  it('the position is what the account received; the close sells exactly that, before and after a restart; no phantom trade', async () => {
    const { s, start } = await world({ feeAsset: 'base' })
    const d1 = start('basefee', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) }, { reconcileEveryMs: 1 })
    for (let i = 0; i <= 2; i++) await d1.step(i)
    const st1 = await d1.stop()
    // The venue kept 0.1 % of the 0.01 bought: 0.00999 BTC received; the USDT paid is the whole 0.01 × price.
    expect(s.balance('BTC').free).toBeCloseTo(0.00999, 12)
    const paid = s.orders[0]!.cumQuote
    expect(st1.positions).toEqual([expect.objectContaining({ qty: 0.00999 })])
    expect(st1.cash).toBeCloseTo(10_000 - paid, 8)
    // A restart books the journal's fills again: the same 0.00999; then the close sells it all.
    // (A restarted script counts its own bars: its bar 1 is the second it sees.)
    const d2 = start('basefee', { 1: (ctx) => ctx.close('BTC/USDT') }, { reconcileEveryMs: 1 })
    for (let i = 3; i <= 6; i++) await d2.step(i)
    const st = await d2.stop()
    expect(s.orders.map((o) => [o.side, o.executedQty, o.status])).toEqual([
      ['BUY', 0.01, 'FILLED'],
      ['SELL', 0.00999, 'FILLED'],
    ])
    expect(s.balance('BTC').free + s.balance('BTC').locked).toBeCloseTo(0, 12)
    expect(st.positions).toEqual([])
    // Cash as the account's: the sale's USDT less its fee (charged in USDT on a sell).
    expect(st.cash).toBeCloseTo(s.balance('USDT').free, 8)
    // Nothing booked as a trade made outside the deployment, no "changed at the venue".
    expect([...d1.alerts(), ...d2.alerts()].filter((line) => /outside|changed at the venue/.test(line))).toEqual([])
  })
})

describe("a buy's fee in the coins bought, seen by what the fill sets off (a review)", () => {
  it('its bracket legs protect what the account received: one OCO list for qty − fee, not refused', async () => {
    const { s, start } = await world({ feeAsset: 'base' })
    const p1 = marketAt(1)
    const d = start('bracket-basefee', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: cent(p1 - 50), takeProfit: cent(p1 + 50) }) })
    for (let i = 0; i <= 3; i++) await d.step(i)
    const st = await d.stop()
    expect(s.lists).toHaveLength(1)
    expect(s.orders.filter((o) => o.side === 'SELL').map((o) => [o.origQty, o.status])).toEqual([
      [0.00999, 'NEW'],
      [0.00999, 'NEW'],
    ])
    expect(st.positions).toEqual([expect.objectContaining({ qty: 0.00999 })])
    expect(d.rec.orders.filter((o) => o.status === 'REJECTED')).toEqual([])
  })

  it('onFill sees the position the account holds, and a close placed there sells exactly it', async () => {
    const { s, start } = await world({ feeAsset: 'base' })
    const seen: number[] = []
    const strategy = defineStrategy<Record<string, number>>({
      name: 'scripted',
      params: {},
      universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
      warmup: () => 0,
      onBar(ctx, bar) {
        if (bar.index === 1) ctx.buy('BTC/USDT', { qty: 0.01 })
      },
      onFill(ctx, ev) {
        seen.push(ctx.position('BTC/USDT'))
        if (ev.side === 'buy') ctx.close('BTC/USDT')
      },
    })
    const d = start('onfill-basefee', {}, { strategy })
    for (let i = 0; i <= 4; i++) await d.step(i)
    const st = await d.stop()
    expect(seen[0]).toBeCloseTo(0.00999, 12)
    expect(s.orders.map((o) => [o.side, o.executedQty, o.status])).toEqual([
      ['BUY', 0.01, 'FILLED'],
      ['SELL', 0.00999, 'FILLED'],
    ])
    expect(st.positions).toEqual([])
  })

  it('a fill found by reconciliation, and one of a send resolved by lookup, keep the fee units: no outside trade', async () => {
    for (const how of ['reconciliation', 'lookup'] as const) {
      const { s, start } = await world({ feeAsset: 'base' })
      if (how === 'lookup') s.fault('POST /api/v3/order', { kind: 'accept-stall' })
      const limit = cent(marketAt(1) - 1)
      const d = start(`found-${how}`, { 1: (ctx) => (how === 'lookup' ? ctx.buy('BTC/USDT', { qty: 0.02 }) : ctx.buy('BTC/USDT', { qty: 0.02, limit })) }, { reconcileEveryMs: 1, timeoutMs: 300 })
      await d.step(0)
      await d.step(1, { poll: false })
      if (how === 'reconciliation') s.fill(s.orders[0]!.clientOrderId, 0.02)
      await d.step(2, { poll: false })
      await d.step(3)
      const st = await d.stop()
      expect(s.balance('BTC').free, how).toBeCloseTo(0.01998, 12)
      expect(st.positions, how).toEqual([expect.objectContaining({ qty: 0.01998 })])
      expect(d.alerts().filter((line) => /outside|changed at the venue/.test(line)), how).toEqual([])
    }
  })
})
