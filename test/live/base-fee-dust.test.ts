// A round trip on Binance spot without BNB: the buy's fee is taken in the coins bought, so the account receives
// qty less 0.1 %, off the market's amount step (0.00001 BTC); the close sells what can be sold — the holding cut
// to the step — and a few millionths of a BTC stay behind, worth cents, that no order can sell (LOT_SIZE). A
// review found the position then never came back to 0: the trade was not recorded as closed, a strategy that
// waits for a flat position never entered again, and a second close was refused by the venue. Below the
// market's step a holding is dust: flat for the strategy and its trades, still the account's (in the equity and
// in reconciliation, which then finds nothing to book).

import { describe, expect, it } from 'vitest'
import { bar, r8, world } from './live-harness.js'

describe('dust left by a fee taken in the coins bought', () => {
  it('is flat for the strategy: the trade closes, the strategy enters again, nothing is booked as outside', async () => {
    const { s, start } = await world({ feeAsset: 'base' })
    const seen: number[] = []
    const enter = (ctx: any) => {
      seen.push(ctx.position('BTC/USDT'))
      if (ctx.position('BTC/USDT') === 0) ctx.buy('BTC/USDT', { qty: 0.0123 })
    }
    const d = start('dust', { 1: enter, 3: (ctx) => ctx.close('BTC/USDT'), 5: enter, 7: (ctx) => ctx.close('BTC/USDT'), 9: (ctx) => { seen.push(ctx.position('BTC/USDT')); ctx.close('BTC/USDT') } }, { reconcileEveryMs: 1 })
    for (let i = 0; i <= 10; i++) await d.step(i)
    const st = await d.stop()
    // Hand-worked: 0.0123 bought, 0.0000123 kept as the fee → 0.0122877 received; the close sells 0.01228 (the
    // step's multiple below it) → 0.0000077 left. The second buy adds 0.0122877 → 0.0122954; its close sells
    // 0.01229 → 0.0000054 left. Nothing is sent at bar 9: dust is no position.
    expect(s.orders.map((o) => [o.side, o.origQty, o.status])).toEqual([
      ['BUY', 0.0123, 'FILLED'],
      ['SELL', 0.01228, 'FILLED'],
      ['BUY', 0.0123, 'FILLED'],
      ['SELL', 0.01229, 'FILLED'],
    ])
    expect(r8(s.balance('BTC').free)).toBe(0.0000054)
    expect(seen).toEqual([0, 0, 0])
    // The threshold is the market's (LOT_SIZE: step and minimum 0.00001), as the deployment's log says.
    expect(d.lines.filter((line) => /are dust/.test(line))).toEqual([expect.stringMatching(/: BTC\/USDT 0\.00001$/)])
    // Two round trips, both closed (a trade's qty is what its entry filled; the units kept are in its fees); no
    // position listed; the dust is the account's: the equity is the USDT plus 0.0000054 BTC at the last close.
    expect(st.tradeCount).toBe(2)
    expect(st.trades.map((t) => [t.qty, t.open])).toEqual([
      [0.0123, false],
      [0.0123, false],
    ])
    expect(st.positions).toEqual([])
    expect(st.cash).toBeCloseTo(s.balance('USDT').free, 8)
    expect(st.equity).toBeCloseTo(s.balance('USDT').free + 0.0000054 * bar(10).close, 8)
    // Reconciliation (every step) finds the journal's fills equal to the venue's balance: no outside trade, no snapshot.
    expect(d.alerts().filter((line) => /outside|changed at the venue|refused|InvalidOrder/.test(line))).toEqual([])
  })

  it('after a restart: the fills read back leave the same dust, the trade closed where its last fill left it', async () => {
    const { s, start } = await world({ feeAsset: 'base' })
    const d1 = start('dust-restart', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.0123 }), 3: (ctx) => ctx.close('BTC/USDT') }, { reconcileEveryMs: 1 })
    for (let i = 0; i <= 4; i++) await d1.step(i)
    const st1 = await d1.stop()
    expect(st1.trades.map((t) => t.open)).toEqual([false])
    const seen: number[] = []
    // (A restarted script counts its own bars: its bar 1 is the second it sees.)
    const d2 = start('dust-restart', { 1: (ctx) => { seen.push(ctx.position('BTC/USDT')); if (ctx.position('BTC/USDT') === 0) ctx.buy('BTC/USDT', { qty: 0.0123 }) } }, { reconcileEveryMs: 1 })
    for (let i = 5; i <= 7; i++) await d2.step(i)
    const st2 = await d2.stop()
    expect(seen).toEqual([0])
    expect(s.orders.map((o) => [o.side, o.origQty, o.status])).toEqual([
      ['BUY', 0.0123, 'FILLED'],
      ['SELL', 0.01228, 'FILLED'],
      ['BUY', 0.0123, 'FILLED'],
    ])
    // The first round trip closed at its sell (as before the restart); the position is the new buy on the dust.
    expect(st2.trades.filter((t) => !t.open).map((t) => [t.exitTime, t.pnl])).toEqual([[st1.trades[0]!.exitTime, st1.trades[0]!.pnl]])
    expect(st2.positions).toHaveLength(1)
    expect(st2.positions[0]!.qty).toBeCloseTo(0.0122954, 12)
    expect(r8(s.balance('BTC').free)).toBe(0.0122954)
    expect([...d1.alerts(), ...d2.alerts()].filter((line) => /outside|changed at the venue|refused|InvalidOrder/.test(line))).toEqual([])
  })

  // A review's cases (each failed on the first version of this change).
  it('a restart rebuilds the same round trips: two stay two, a position on dust is its own trade', async () => {
    const { s, start } = await world({ feeAsset: 'base' })
    const d1 = start('dust-r1', { 1: (c) => c.buy('BTC/USDT', { qty: 0.0123 }), 3: (c) => c.close('BTC/USDT'), 5: (c) => c.buy('BTC/USDT', { qty: 0.0123 }), 7: (c) => c.close('BTC/USDT'), 9: (c) => c.buy('BTC/USDT', { qty: 0.0123 }) }, { reconcileEveryMs: 1 })
    for (let i = 0; i <= 10; i++) await d1.step(i)
    const st1 = await d1.stop()
    expect(st1.trades.filter((t) => !t.open).map((t) => t.qty)).toEqual([0.0123, 0.0123])
    // Restarted (its fills booked again before the venue is read), then the third round trip closed.
    const d2 = start('dust-r1', { 1: (c) => c.close('BTC/USDT') }, { reconcileEveryMs: 1 })
    for (let i = 11; i <= 13; i++) await d2.step(i)
    const st2 = await d2.stop()
    expect(st2.tradeCount).toBe(3)
    expect(st2.trades.slice(0, 2).map((t) => [t.qty, t.exitTime, t.pnl])).toEqual(st1.trades.filter((t) => !t.open).map((t) => [t.qty, t.exitTime, t.pnl]))
    expect(st2.trades.map((t) => [t.qty, t.open])).toEqual([[0.0123, false], [0.0123, false], [0.0123, false]])
    // 0.0000077, then 0.0000054, then 0.0122877 + 0.0000054 = 0.0122931 sold as 0.01229: 0.0000031 left.
    expect(r8(s.balance('BTC').free)).toBe(0.0000031)
  })

  it('dust holds no slot of maxOpenPositions', async () => {
    const { s, start } = await world({ feeAsset: 'base' })
    const d = start('dust-r2', { 1: (c) => c.buy('BTC/USDT', { qty: 0.0123 }), 3: (c) => c.close('BTC/USDT'), 5: (c) => c.buy('ETH/USDT', { qty: 0.0123 }) }, { reconcileEveryMs: 1, over: { symbols: ['BTC/USDT', 'ETH/USDT'], limits: { maxOpenPositions: 1 } } })
    for (let i = 0; i <= 7; i++) await d.step(i)
    const st = await d.stop()
    expect(r8(s.balance('BTC').free)).toBe(0.0000077)
    expect(s.orders.map((o) => [o.symbol, o.side, o.status])).toEqual([['BTCUSDT', 'BUY', 'FILLED'], ['BTCUSDT', 'SELL', 'FILLED'], ['ETHUSDT', 'BUY', 'FILLED']])
    expect(st.positions.map((p) => p.symbol)).toEqual(['ETH/USDT'])
  })

  it('an entry that is dust from the start (its own fee) stays one trade as the strategy buys again', async () => {
    const { s, start } = await world({ feeAsset: 'base', minNotional: 0 })
    const enter = (c: any) => { if (c.position('BTC/USDT') === 0) c.buy('BTC/USDT', { qty: 0.00001 }) }
    const d = start('dust-r3', { 1: enter, 3: enter, 5: (c) => c.close('BTC/USDT') }, { reconcileEveryMs: 1 })
    for (let i = 0; i <= 6; i++) await d.step(i)
    const st = await d.stop()
    // 2 × 0.00000999 = 0.00001998, sold as 0.00001: 0.00000998 left.
    expect(r8(s.balance('BTC').free)).toBe(0.00000998)
    expect(st.trades.map((t) => [t.qty, t.open])).toEqual([[0.00002, false]])
  })

  it('a holding of one step less float noise is sold', async () => {
    const { s, start } = await world({ minNotional: 0 })
    // 0.01001 − 0.01 is 9.999999999999593e-6 in the book: a step (ccxt cut it to 0 before the nudge: refused).
    const d = start('dust-r4', { 1: (c) => c.buy('BTC/USDT', { qty: 0.01001 }), 3: (c) => c.sell('BTC/USDT', { qty: 0.01 }), 5: (c) => c.close('BTC/USDT') }, { reconcileEveryMs: 1 })
    for (let i = 0; i <= 6; i++) await d.step(i)
    const st = await d.stop()
    expect(s.orders.map((o) => [o.side, o.origQty, o.status])).toEqual([['BUY', 0.01001, 'FILLED'], ['SELL', 0.01, 'FILLED'], ['SELL', 0.00001, 'FILLED']])
    expect(st.positions).toEqual([])
    expect(st.dust).toBeUndefined()
  })

  it('a sell filled in parts below the market minimum (above the step) is not dust: the trade closes at its last part', async () => {
    const { s, start } = await world({ minQty: 0.001 })
    const seen: number[] = []
    const d = start('dust-r5', { 1: (c) => c.buy('BTC/USDT', { qty: 0.0123 }), 3: (c) => { c.sell('BTC/USDT', { qty: 0.0123, limit: 2000 }) }, 5: (c) => { seen.push(c.position('BTC/USDT'), c.openOrders('BTC/USDT').length) } }, { reconcileEveryMs: 1 })
    for (let i = 0; i <= 4; i++) await d.step(i)
    const cid = s.orders[1]!.clientOrderId
    s.fill(cid, 0.0115)
    await d.step(5)
    s.fill(cid, 0.0008)
    for (let i = 6; i <= 7; i++) await d.step(i)
    const st = await d.stop()
    expect(seen.map((x) => r8(x))).toEqual([0.0008, 1])
    // Hand-worked: bought 0.0123 at the entry price, sold all at 2000, 0.1 % of each side's notional in USDT.
    const t = st.trades[0]!
    expect(st.trades).toHaveLength(1)
    expect(t.pnl).toBeCloseTo((2000 - t.entryPrice) * 0.0123 - (0.0123 * t.entryPrice + 0.0123 * 2000) * 0.001, 6)
  })
})
