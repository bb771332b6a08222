// Review: a sell's fee charged in the coins held (BNB/USDT paying its fees in BNB) when the sell takes the whole
// position: positionAfterFill and Book.keepFeeUnits take from the position only what it holds — "the rest came
// from coins outside it" — but nothing tells reconciliation so: the account's outside BNB (kept for fees) is
// short by the fee, reconciliation books the difference to the deployment as a sell made "outside", and a spot
// deployment ends short.
import { describe, expect, it } from 'vitest'
import { world } from './live-harness.js'

describe("a close of the whole position paying its fee from the account's other BNB", () => {
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
