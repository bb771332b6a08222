// Audit: wrong numbers and lost orders between targets, orders files and a live deployment (Binance stand-in).

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { submitOrdersFile } from '../../lib/live/deployment.js'
import { makeOrdersFile } from '../../lib/live/orders-file.js'
import { OrderJournal } from '../../lib/live/index.js'
import { marketAt, world } from './live-harness.js'

const settle = () => new Promise((r) => setTimeout(r, 1300)) // the deployment's control timer ticks each second

describe('audit: max daily loss', () => {
  it('a deployment halted by the daily loss still sends the strategy\'s close (it only reduces the position)', async () => {
    const { s, start } = await world()
    // 5 BTC at ≈1,530 is ≈7,650 USDT: its 0.1 % fee (≈7.65 USDT) alone puts the equity 5 below the day's start.
    const d = start('dl-close', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 5 }), 3: (ctx) => ctx.close('BTC/USDT') }, { over: { guards: { maxDailyLoss: 5 } } })
    for (const i of [0, 1, 2]) await d.step(i)
    expect(d.status().state).toBe('halted')
    await d.step(3)
    await d.step(4)
    const st = await d.stop()
    // lib/live/guards.ts: "orders that only reduce one still go: they lower the risk".
    expect(s.orders.map((o) => [o.side, o.origQty, o.status])).toEqual([
      ['BUY', 5, 'FILLED'],
      ['SELL', 5, 'FILLED'],
    ])
    expect(st.positions).toEqual([])
  })

  it('a restart on the same UTC day keeps the halt (the day\'s start equity is not reset to the equity after the loss)', async () => {
    const { s, start } = await world()
    const d1 = start('dl-restart', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 5 }) }, { over: { guards: { maxDailyLoss: 5 } } })
    for (const i of [0, 1, 2]) await d1.step(i)
    expect(d1.status().state).toBe('halted')
    const equityAfterLoss = d1.status().equity
    expect(10_000 - equityAfterLoss).toBeGreaterThanOrEqual(5)
    await d1.stop()
    // Restarted a few minutes later, same UTC day (2024-01-10 05:0x): its script buys again at its first bar.
    const d2 = start('dl-restart', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 1 }) }, { over: { guards: { maxDailyLoss: 5 } } })
    for (const i of [3, 4, 5]) await d2.step(i)
    const st = await d2.stop()
    expect(s.orders.filter((o) => o.side === 'BUY').map((o) => o.origQty)).toEqual([5]) // the second buy refused
    expect(st.state === 'halted' || d2.alerts().some((a) => /max daily loss/.test(a))).toBe(true)
  })
})

describe('audit: max position notional', () => {
  it('two buys in one bar: the position stays within the cap', async () => {
    const { s, start } = await world()
    const cap = 2000
    const d = start('notional', { 1: (ctx) => { ctx.buy('BTC/USDT', { qty: 1 }); ctx.buy('BTC/USDT', { qty: 1 }) } }, { over: { guards: { maxPositionNotional: cap } } })
    for (const i of [0, 1, 2, 3]) await d.step(i)
    const st = await d.stop()
    const held = st.positions.reduce((a, p) => a + p.qty, 0)
    // Measured as the guard measures (the last close): at most 2,000 / 1,53x ≈ 1.30 BTC.
    const close = marketAt(3)
    // Hand-worked: the guard's price is bar 1's close, 1,503.91; room for the second: 2,000 / 1,503.91 − 1 = 0.3298678…,
    // ccxt cuts it to the step: 0.32986. Unfixed, both went whole: 2 BTC held, worth 3,007.56 at 1,503.78.
    expect(s.orders.map((o) => o.origQty)).toEqual([1, 0.32986])
    expect(held).toBeCloseTo(1.32986, 10)
    expect(held * close).toBeLessThanOrEqual(cap * 1.001)
  })
})

describe('audit: orders file for a deployment holding dust', () => {
  it('an orders file made from the deployment\'s status (portfolio targets --positions NAME) is taken while the book holds dust', async () => {
    const { start, home } = await world({ feeAsset: 'base' })
    const d = start('dust-file', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.0123 }), 3: (ctx) => ctx.close('BTC/USDT') }, { reconcileEveryMs: 1 })
    for (let i = 0; i <= 4; i++) await d.step(i)
    await settle() // status.json: rewritten at most four times a second
    const st = d.status()
    expect(st.positions).toEqual([])
    expect(st.dust?.[0]?.qty).toBeCloseTo(0.0000077, 12)
    // What lib/cli/portfolio.ts loadPositions does: current = Σ status.positions (dust is not there), nextSeq from the journal.
    const dir = join(home, 'deployments', 'dust-file')
    const id = `dust-file#${readFileSync(join(dir, 'deployment.id'), 'utf8').trim()}`
    const current: Record<string, number> = {}
    for (const p of st.positions) current[p.symbol] = (current[p.symbol] ?? 0) + p.qty
    const nextSeq = OrderJournal.open(dir, id, { durability: 'step' }).current.nextSeq
    const content = makeOrdersFile([{ symbol: 'BTC/USDT', side: 'buy', qty: 0.01, reason: '0 → 0.01' }], { signals: `sha256:${'a'.repeat(64)}`, deployment: { name: 'dust-file', id, nextSeq, positions: current } })
    const file = join(home, 'orders.json')
    writeFileSync(file, JSON.stringify(content))
    submitOrdersFile(home, 'dust-file', file)
    await settle()
    await d.step(5)
    await d.step(6)
    const after = await d.stop()
    expect(after.ordersFile?.reason).toBeUndefined()
    expect(after.ordersFile?.taken).toBe(true)
  })
})

describe('audit: an orders file whose send is never answered', () => {
  it('is placed once (looked up by its client id), and the same file again is refused', async () => {
    const { s, start, home } = await world()
    const d = start('stall-file', {}, { timeoutMs: 300 })
    await d.step(0)
    await d.step(1)
    const dir = join(home, 'deployments', 'stall-file')
    const id = `stall-file#${readFileSync(join(dir, 'deployment.id'), 'utf8').trim()}`
    const nextSeq = OrderJournal.open(dir, id, { durability: 'step' }).current.nextSeq
    const content = makeOrdersFile([{ symbol: 'BTC/USDT', side: 'buy', qty: 0.01, reason: '0 → 0.01' }], { signals: `sha256:${'b'.repeat(64)}`, deployment: { name: 'stall-file', id, nextSeq, positions: {} } })
    const file = join(home, 'orders.json')
    writeFileSync(file, JSON.stringify(content))
    s.fault('POST /api/v3/order', { kind: 'accept-stall' })
    submitOrdersFile(home, 'stall-file', file)
    await settle()
    for (const i of [2, 3, 4, 5]) await d.step(i)
    expect(() => submitOrdersFile(home, 'stall-file', file)).toThrow(/starts at sequence/)
    const st = await d.stop()
    expect(s.orders.map((o) => [o.clientOrderId, o.origQty, o.status])).toEqual([[content.orders[0]!.clientOrderId, 0.01, 'FILLED']])
    expect(st.positions.map((p) => p.qty)).toEqual([0.01])
  })
})

// A review of the fixes above.
describe('review: halted, reducing orders cannot reverse; a restart keeps the halt; the other side makes no room', () => {
  it('two sells of the whole position in one bar, halted: the second is refused (a paper replay held −493 units)', async () => {
    const { mkdtempSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { ingestBars, syntheticGbm } = await import('../../lib/data/index.js')
    const { runDeployment } = await import('../../lib/live/deployment.js')
    const { validateDeploymentConfig } = await import('../../lib/live/index.js')
    const { scripted } = await import('../backtest/scripted.js')
    const home = mkdtempSync(join(tmpdir(), 'mtflow-halt-reverse-'))
    await ingestBars(home, { ...syntheticGbm({ timeframe: '1h', bars: 12, seed: 21, start: Date.UTC(2024, 0, 1), volatility: 0.5 }), symbol: 'BTC/USDT' }, { source: 'synthetic' })
    const config = validateDeploymentConfig({ name: 'halt-reverse', strategy: { name: 'scripted', version: 1, sha256: 'a'.repeat(64) }, symbols: ['BTC/USDT'], timeframe: '1h', mode: 'paper', venue: { exchange: 'binance' }, fills: { takerRate: 0.001 }, feed: { kind: 'replay' }, cash: 100_000, guards: { maxDailyLoss: 1, staleAfterBars: 1000 } })
    let held = NaN
    const st = await runDeployment({
      home, config, track: false, log: () => {},
      strategy: scripted({
        1: (ctx) => ctx.buy('BTC/USDT', { percent: 0.5 }),
        3: (ctx) => {
          held = ctx.position('BTC/USDT')
          ctx.sell('BTC/USDT', { qty: held })
          ctx.sell('BTC/USDT', { qty: held })
        },
      }),
    })
    // The buy's fee alone (0.1 % of 50,000) is past the 1 loss: halted from bar 1 on; the first sell closes, the second is refused.
    expect(held).toBeGreaterThan(0)
    expect(st.positions).toEqual([])
    expect(st.state).toBe('finished')
  })

  it('a restart the same UTC day keeps the halt though the equity came back', async () => {
    const { Guards } = await import('../../lib/live/guards.js')
    const t = Date.UTC(2024, 0, 10, 5, 0)
    const g1 = new Guards({ timeframe: '1m', maxDailyLoss: 5 })
    g1.observe(10_000, t)
    g1.observe(9_994, t + 60_000)
    g1.observe(9_998, t + 120_000)
    expect(g1.halted).toMatch(/max daily loss/)
    const g2 = new Guards({ timeframe: '1m', maxDailyLoss: 5 })
    g2.resumeDay(JSON.parse(JSON.stringify(g1.dayState)))
    g2.observe(9_998, t + 180_000)
    expect(g2.halted).toMatch(/max daily loss/)
    // The next UTC day lifts it, as in one process.
    g2.observe(9_998, Date.UTC(2024, 0, 11, 0, 1))
    expect(g2.halted).toBeUndefined()
  })

  it('a resting sell does not make room for a buy under the notional cap (it ended with 2 BTC worth 3,007 under 2,000)', async () => {
    const { start } = await world()
    const d = start('netting', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 1 }), 3: (ctx) => { ctx.sell('BTC/USDT', { qty: 1, limit: 3000 }); ctx.buy('BTC/USDT', { qty: 1 }) } }, { over: { guards: { maxPositionNotional: 2000 } } })
    for (const i of [0, 1, 2, 3, 4, 5]) await d.step(i)
    const st = await d.stop()
    const held = st.positions.reduce((a, p) => a + p.qty, 0)
    // The buy at bar 3 is cut to 2,000 / price − 1 (about 0.33), whatever the resting sell.
    expect(held).toBeGreaterThan(1.3)
    expect(held).toBeLessThan(1.34)
  })
})
