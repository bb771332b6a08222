// Live deployments end to end (issue 19, points 2, 3 and "Tests"): runDeployment with a CcxtVenue — the real
// ccxt — against the loopback Binance stand-in, a scripted strategy for exact orders, and a feed of the
// stand-in's own 1m candles that the test steps one closed bar at a time (the stand-in's clock moves with
// it). Faults: a send accepted but never answered, 429s on orders and on the klines (CcxtPollFeed),
// maintenance, refusals, a cancel racing a fill, restarts with open orders, with a failed first
// reconciliation and with a position closed at the exchange meanwhile, and a process killed with SIGKILL
// between send and answer. Spot specifics: coins held before the first start, bracket legs holding the same
// coins, a leg growing with its entry's fills, exits waiting for the cancels they need. Expected numbers
// come from the stand-in's price function and fee rate or from what it recorded — never from the
// deployment's own output.

import { spawn } from 'node:child_process'
import fs, { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ingestBars, loadBars } from '../../lib/data/index.js'
import { createExchange } from '../../lib/data/sources/ccxt-source.js'
import { syntheticGbm } from '../../lib/data/synthetic.js'
import { getStrategy } from '../../lib/strategy/index.js'
import { CcxtPollFeed, type FeedEvent } from '../../lib/live/ccxt-feed.js'
import { CcxtVenue } from '../../lib/live/ccxt-venue.js'
import { runDeployment } from '../../lib/live/deployment.js'
import { EngineSession, ManualClock, OrderJournal, ReplayFeed, validateDeploymentConfig, type Venue, type VenueEvent, type VenueOrder } from '../../lib/live/index.js'
import type { Context } from '../../lib/strategy/index.js'
import { scripted, type Recorder } from '../backtest/scripted.js'
import { standinCandle, standinPrice } from '../fixtures/binance-standin.js'
import { defineStrategy } from '../../lib/strategy/index.js'
import { FIXTURES } from '../helpers.js'

import { bar, CREDS, cent, cleanup, config, everythingWritten, FEE, fillsOf, M, marketAt, r8, S, T0, world } from './live-harness.js'


describe('a live deployment against the Binance stand-in', () => {
  it('market and limit orders, a partial fill, a cancel: positions, cash and the exchange balances agree with hand-worked numbers', async () => {
    const { s, start, posts } = await world()
    let limitId = 0
    const limit = cent(marketAt(2) - 30)
    const d = start('basic', {
      1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }),
      2: (ctx) => (limitId = ctx.buy('BTC/USDT', { qty: 0.02, limit }).id),
      4: (ctx) => ctx.cancel(limitId),
    })
    await d.step(0)
    await d.step(1)
    const p1 = marketAt(1)
    expect(s.orders.map((o) => [o.side, o.type, o.origQty, o.status])).toEqual([['BUY', 'MARKET', 0.01, 'FILLED']])
    expect(d.journal().position('scripted', 'BTC/USDT')).toBe(0.01)
    await d.step(2)
    expect(s.orders[1]).toMatchObject({ side: 'BUY', type: 'LIMIT', price: limit, origQty: 0.02, status: 'NEW' })
    const cid = s.orders[1]!.clientOrderId
    s.fill(cid, 0.005) // a partial fill at the limit, as maker
    await d.step(3)
    expect(d.journal().order(cid)).toMatchObject({ state: 'PARTIALLY_FILLED', filled: 0.005 })
    await d.step(4) // the strategy cancels the rest
    expect(s.orders[1]!.status).toBe('CANCELED')
    expect(d.journal().order(cid)).toMatchObject({ state: 'CANCELLED', filled: 0.005, reason: 'cancelled by the strategy' })
    const status = await d.stop()
    const fee1 = r8(0.01 * p1 * FEE)
    const fee2 = r8(0.005 * limit * FEE)
    expect(status.positions).toEqual([expect.objectContaining({ symbol: 'BTC/USDT', qty: 0.015 })])
    expect(status.cash).toBeCloseTo(10_000 - 0.01 * p1 - fee1 - 0.005 * limit - fee2, 8)
    expect(status.openOrders).toEqual([])
    // The exchange's balances: the same cash and coins (nothing left locked).
    expect(s.balance('USDT')).toEqual({ free: r8(10_000 - 0.01 * p1 - fee1 - 0.005 * limit - fee2), locked: 0 })
    expect(s.balance('BTC')).toEqual({ free: 0.015, locked: 0 })
    expect(posts()).toHaveLength(2)
    expect(fillsOf(d.journal()).map((f) => [f.qty, f.price, f.fee])).toEqual([
      [0.01, p1, fee1],
      [0.005, limit, fee2],
    ])
  })

  it('a fill the venue reports between bars reaches status.json within a second or two, not at the next bar (an operations review: a 1d deployment showed it a day late)', async () => {
    const { s, start } = await world()
    const limit = cent(marketAt(2) - 30)
    const d = start('between', { 2: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit }) })
    await d.step(0)
    await d.step(1)
    await d.step(2)
    const cid = s.orders[0]!.clientOrderId
    expect(d.status().positions).toEqual([])
    s.fill(cid, 0.02) // filled at the exchange while no bar closes
    await d.venue.pollFills()
    let shown = d.status().positions
    // status.json is rewritten on a 1 s timer: polled for up to 30 s (the timer can lag on a loaded machine).
    for (let k = 0; k < 300 && shown.length === 0; k++) {
      await new Promise((r) => setTimeout(r, 100))
      shown = d.status().positions
    }
    expect(d.journal().position('scripted', 'BTC/USDT')).toBe(0.02)
    expect(shown).toEqual([expect.objectContaining({ symbol: 'BTC/USDT', qty: 0.02 })])
    await d.stop()
  })

  it('a create-order timeout after the exchange accepted it: UNKNOWN, resolved by lookup — exactly one order each, the right position', async () => {
    const { s, start, posts } = await world()
    s.fault('POST /api/v3/order', { kind: 'accept-stall' }, { kind: 'accept-stall' })
    const limit = cent(marketAt(2) - 30)
    const d = start('timeout', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }), 2: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit }) }, { timeoutMs: 300 })
    // No fill poll meanwhile: the lookups alone settle both (a poll would also map the market order's trade).
    await d.step(0)
    await d.step(1, { poll: false }) // the market order's send times out: UNKNOWN, then looked up
    await d.step(2, { poll: false }) // so does the limit order's, which rests: no trade can tell a fill poll about it
    await d.step(3, { poll: false })
    expect(posts()).toHaveLength(2)
    expect(s.orders.map((o) => [o.type, o.status])).toEqual([
      ['MARKET', 'FILLED'],
      ['LIMIT', 'NEW'],
    ])
    const [market, resting] = s.orders.map((o) => o.clientOrderId)
    const j = d.journal()
    expect(j.order(market!)).toMatchObject({ state: 'FILLED', filled: 0.01, exchangeOrderId: String(s.orders[0]!.orderId) })
    expect(j.order(resting!)).toMatchObject({ state: 'ACKED', filled: 0, exchangeOrderId: String(s.orders[1]!.orderId) })
    expect(readFileSync(j.file, 'utf8').match(/"type":"unknown"/g)).toHaveLength(2)
    expect(j.position('scripted', 'BTC/USDT')).toBe(0.01)
    expect(d.alerts()).toEqual([
      `UNKNOWN resolved by lookup: ${market} is at the venue as order ${s.orders[0]!.orderId} (closed, filled 0.01 of 0.01); not sent again`,
      `UNKNOWN resolved by lookup: ${resting} is at the venue as order ${s.orders[1]!.orderId} (open, filled 0 of 0.02); not sent again`,
    ])
    // Known to the venue now: it fills, and the fill is booked.
    s.fill(resting!, 0.02)
    await d.step(4)
    const status = await d.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.03 })])
    expect(status.cash).toBeCloseTo(10_000 - 0.01 * marketAt(1) - r8(0.01 * marketAt(1) * FEE) - 0.02 * limit - r8(0.02 * limit * FEE), 8)
    expect(posts()).toHaveLength(2)
  })

  it('429 on orders: retried with bounded backoff (Retry-After honoured), one order; refused every time, it is REJECTED and not sent again', async () => {
    const { s, clock, start, posts } = await world()
    s.fault('POST /api/v3/order', { kind: 'rate-limit', retryAfter: 2 }, { kind: 'rate-limit', retryAfter: 2 })
    const d = start('ratelimit', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }), 3: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
    await d.step(0)
    await d.step(1)
    expect(posts()).toHaveLength(3)
    expect(clock.sleeps).toEqual([2000, 2000])
    expect(s.orders).toHaveLength(1)
    expect(d.journal().position('scripted', 'BTC/USDT')).toBe(0.01)
    await d.step(2)
    s.fault('POST /api/v3/order', { kind: 'rate-limit', retryAfter: 0 }, { kind: 'rate-limit', retryAfter: 0 }, { kind: 'rate-limit', retryAfter: 0 })
    await d.step(3)
    await d.step(4)
    expect(posts()).toHaveLength(6) // 3 attempts, then given up
    expect(s.orders).toHaveLength(1)
    const rejected = d.rec.orders.filter((o) => o.status === 'REJECTED')
    expect(rejected).toHaveLength(1)
    expect(rejected[0]!.reason).toMatch(/^refused 3 times by the rate limit, not placed/)
    const status = await d.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01 })])
  })

  it('InvalidOrder / InsufficientFunds / below the minimum notional: REJECTED with the reason, never retried', async () => {
    const { s, start, posts } = await world()
    // The deployment believes in 100,000 USDT; the account holds 10,000 and no BTC: the exchange refuses.
    const d = start('refusals', {
      1: (ctx) => {
        ctx.buy('BTC/USDT', { qty: 0.001 }) // ~1.5 USDT, below the 5 USDT minimum notional
        ctx.buy('BTC/USDT', { qty: 7 }) // ~10,500 USDT > 10,000
        ctx.sell('BTC/USDT', { qty: 0.01, limit: 5000 }) // none held: spot has no shorts, refused before it is sent
        ctx.buy('BTC/USDT', { qty: 0.000001 }) // below the lot step: ccxt refuses it before sending
      },
    }, { over: { cash: 100_000 } })
    await d.step(0)
    await d.step(1)
    await d.step(2)
    await d.step(3)
    expect(posts().map((p) => p.params.quantity)).toEqual(['0.001', '7'])
    // In the order the answers came back (ccxt refuses the last one before sending anything).
    const rejected = d.rec.orders.filter((o) => o.status === 'REJECTED' && o.order.side === 'buy').map((o) => [o.order.side, o.order.qty, o.reason])
    expect(rejected.sort((a, b) => (a[1] as number) - (b[1] as number))).toEqual([
      ['buy', 0.000001, 'InvalidOrder: amount of BTC/USDT must be greater than minimum amount precision of 0.00001'],
      ['buy', 0.001, 'BadRequest: Filter failure: NOTIONAL (code -1013)'],
      ['buy', 7, 'InsufficientFunds: Account has insufficient balance for requested action.'],
    ])
    expect(d.rec.orders.filter((o) => o.status === 'REJECTED' && o.order.side === 'sell').map((o) => o.reason)).toEqual(['shorting is disabled'])
    const j = d.journal()
    expect([...j.current.orders.values()].map((o) => o.state)).toEqual(['REJECTED', 'REJECTED', 'REJECTED'])
    expect(s.orders).toHaveLength(0)
    const status = await d.stop()
    expect(status.positions).toEqual([])
    expect(posts()).toHaveLength(2)
  })

  it('a bracket on spot goes out as one OCO list (the coins locked once); the take-profit fills, the exchange ends the stop, the position is flat', async () => {
    const { s, start } = await world()
    const p1 = marketAt(1)
    const sl = cent(p1 - 50)
    const tp = cent(p1 + 50)
    const d = start('spot-bracket', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: sl, takeProfit: tp }) })
    await d.step(0)
    await d.step(1)
    await d.step(2)
    expect(s.orders.map((o) => [o.side, o.type, o.origQty, o.status])).toEqual([
      ['BUY', 'MARKET', 0.01, 'FILLED'],
      ['SELL', 'LIMIT_MAKER', 0.01, 'NEW'],
      ['SELL', 'STOP_LOSS', 0.01, 'NEW'],
    ])
    expect(s.lists).toHaveLength(1)
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0.01 }) // once, for both legs
    const [, stop, take] = [...d.journal().current.orders.values()]
    expect([stop!.role, stop!.state, stop!.price, take!.role, take!.state, take!.price]).toEqual(['stop-loss', 'ACKED', sl, 'take-profit', 'ACKED', tp])
    s.fill(take!.clientOrderId, 0.01) // at its limit, as maker; Binance expires the stop
    await d.step(3)
    const status = await d.stop()
    expect(d.journal().order(take!.clientOrderId).state).toBe('FILLED')
    expect(d.journal().order(stop!.clientOrderId).state).toBe('CANCELLED')
    expect(s.orders[2]!.status).toBe('EXPIRED')
    expect(status.positions).toEqual([])
    expect(status.openOrders).toEqual([])
    expect(status.cash).toBeCloseTo(10_000 - 0.01 * p1 - r8(0.01 * p1 * FEE) + 0.01 * tp - r8(0.01 * tp * FEE), 8)
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0 })
    expect(d.alerts().filter((a) => a.includes('was refused') || a.includes('filled past'))).toEqual([])
  })

  it('a restart with a bracket\'s OCO list open: the legs are linked again — the take-profit fills, the stop ends with it, no cancel request is sent', async () => {
    const { s, start } = await world()
    const p1 = marketAt(1)
    const tp = cent(p1 + 50)
    const d1 = start('list-restart', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: cent(p1 - 50), takeProfit: tp }) })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    const [, stop, take] = [...d1.journal().current.orders.values()]
    expect([stop!.list, take!.list]).toEqual([`${stop!.clientOrderId}L`, `${stop!.clientOrderId}L`])
    const d2 = start('list-restart', {})
    await d2.step(3)
    s.fill(take!.clientOrderId, 0.01)
    await d2.step(4)
    await d2.step(5)
    const status = await d2.stop()
    expect(d2.journal().order(take!.clientOrderId).state).toBe('FILLED')
    expect(d2.journal().order(stop!.clientOrderId)).toMatchObject({ state: 'CANCELLED' })
    expect(s.signed.filter((r) => r.method === 'DELETE')).toEqual([])
    expect(status.positions).toEqual([])
    expect(status.openOrders).toEqual([])
  })

  it('without OCO lists (an exchange that has none), a bracket on spot without spare coins: the exchange refuses the second leg; the position keeps its stop, and an alert says so', async () => {
    const { s, start } = await world()
    const p1 = marketAt(1)
    const d = start('spot-bracket', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: cent(p1 - 50), takeProfit: cent(p1 + 50) }) }, { lists: false })
    await d.step(0)
    await d.step(1)
    await d.step(2)
    expect(s.orders.map((o) => [o.side, o.type, o.status])).toEqual([
      ['BUY', 'MARKET', 'FILLED'],
      ['SELL', 'STOP_LOSS', 'NEW'],
    ])
    await d.stop()
    const [, stop, take] = [...d.journal().current.orders.values()]
    expect([stop!.role, stop!.state, stop!.price, take!.role, take!.state]).toEqual(['stop-loss', 'ACKED', cent(p1 - 50), 'take-profit', 'REJECTED'])
    const tp = d.rec.orders.find((o) => o.order.role === 'take-profit' && o.status === 'REJECTED')!
    expect(tp.reason).toBe('InsufficientFunds: Account has insufficient balance for requested action.')
    expect(d.alerts().filter((a) => a.includes('was refused'))).toEqual([
      `${take!.clientOrderId} (take-profit sell 0.01 BTC/USDT) was refused: InsufficientFunds: Account has insufficient balance for requested action. — the position is not protected by it (on spot both legs of a bracket hold the same coins, so the exchange takes only the first unless the account holds more)`,
    ])
  })

  it('a stop-loss placed on an entry\'s first partial fill grows with the later fills: replaced at the exchange, so it protects the whole position', async () => {
    const { s, start } = await world()
    // The lowest price of the next 4 days (the stand-in's price function): the stop sits just above it.
    let low = T0
    for (let t = T0; t < T0 + 4 * 1440 * M; t += M) if (standinPrice('BTCUSDT', t + S) < standinPrice('BTCUSDT', low + S)) low = t
    const stop = cent(standinPrice('BTCUSDT', low + S) + 2)
    const limit = cent(marketAt(1) - 1) // rests: the price moves less than 10 cents a minute
    expect(stop).toBeLessThan(limit)
    const d = start('grow', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit, stopLoss: stop }) })
    await d.step(0)
    await d.step(1)
    const entry = s.orders[0]!.clientOrderId
    s.fill(entry, 0.008)
    await d.step(2) // the leg goes out for 0.008
    expect(s.orders.slice(1).map((o) => [o.type, o.origQty, o.status])).toEqual([['STOP_LOSS', 0.008, 'NEW']])
    s.fill(entry, 0.012)
    await d.step(3) // the entry is filled: the leg is cancelled and sent again for 0.02
    await d.step(4)
    expect(s.orders.slice(1).map((o) => [o.type, o.origQty, o.stopPrice, o.status])).toEqual([
      ['STOP_LOSS', 0.008, stop, 'CANCELED'],
      ['STOP_LOSS', 0.02, stop, 'NEW'],
    ])
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0.02 })
    const [old, renewed] = s.orders.slice(1).map((o) => d.journal().order(o.clientOrderId))
    expect([old!.state, old!.reason, renewed!.state, renewed!.qty, renewed!.role, renewed!.orderId]).toEqual(['CANCELLED', 'replaced: quantity now 0.02 left', 'ACKED', 0.02, 'stop-loss', old!.orderId])
    // The price falls through the stop: all 0.02 sold, flat.
    await d.step((low - T0) / M - 1) // the stand-in's clock at the low
    const status = await d.stop()
    expect(status.positions).toEqual([])
    expect(status.openOrders).toEqual([])
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0 })
    expect(d.journal().position('scripted', 'BTC/USDT')).toBe(0)
  })

  it('closing a position protected by a stop-loss on spot: the exit waits until the stop, which locks the coins, is cancelled — then it sells', async () => {
    const { s, start, posts } = await world()
    const p1 = marketAt(1)
    const sl = cent(p1 - 50)
    const d = start('close-stop', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: sl }), 3: (ctx) => ctx.close('BTC/USDT') })
    await d.step(0)
    await d.step(1)
    await d.step(2)
    expect(s.orders.map((o) => [o.side, o.type, o.status])).toEqual([
      ['BUY', 'MARKET', 'FILLED'],
      ['SELL', 'STOP_LOSS', 'NEW'],
    ])
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0.01 }) // the stop holds the coins
    // The cancel reaches the matching engine late (another connection): a sell sent with it would find the
    // coins still locked and be refused, leaving the position open and unprotected.
    s.fault('DELETE /api/v3/order', { kind: 'delay', ms: 300 })
    await d.step(3) // close: cancel the stop, then sell
    await d.step(4)
    expect(s.orders.map((o) => [o.side, o.type, o.status])).toEqual([
      ['BUY', 'MARKET', 'FILLED'],
      ['SELL', 'STOP_LOSS', 'CANCELED'],
      ['SELL', 'MARKET', 'FILLED'],
    ])
    const status = await d.stop()
    expect(status.positions).toEqual([])
    const p3 = marketAt(3)
    expect(status.trades.map((t) => [t.qty, t.entryPrice, t.exitPrice])).toEqual([[0.01, p1, p3]])
    expect(posts()).toHaveLength(3)
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0 })
  })

  it('a partial fill, then a cancel that races it (-2011 Unknown order): position = the filled quantity, its fee counted', async () => {
    const { s, start } = await world()
    const limit = cent(marketAt(1) - 30)
    let id = 0
    const d = start('race', { 1: (ctx) => (id = ctx.buy('BTC/USDT', { qty: 0.01, limit }).id), 3: (ctx) => ctx.cancel(id) })
    await d.step(0)
    await d.step(1)
    await d.step(2)
    const cid = s.orders[0]!.clientOrderId
    s.fill(cid, 0.004) // filled in part; the cancel below finds the order gone (the exchange cancelled it and answers -2011)
    s.fault('DELETE /api/v3/order', { kind: 'unknown-order' })
    await d.step(3, { poll: false })
    expect(s.orders[0]!.status).toBe('CANCELED')
    expect(d.journal().order(cid)).toMatchObject({ state: 'CANCELLED', filled: 0.004, fees: r8(0.004 * limit * FEE) })
    const status = await d.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.004, avgPrice: limit })])
    expect(status.cash).toBeCloseTo(10_000 - 0.004 * limit - r8(0.004 * limit * FEE), 8)
    expect(s.balance('USDT')).toEqual({ free: r8(10_000 - 0.004 * limit - r8(0.004 * limit * FEE)), locked: 0 })
    expect(d.rec.orders.at(-1)).toMatchObject({ status: 'CANCELLED', reason: 'cancelled by the strategy' })
  })

  it('a restart with open orders: one filled while the deployment was down is booked once, the other is still open and can be cancelled', async () => {
    const { s, start, posts } = await world()
    const l1 = cent(marketAt(1) - 30)
    const l2 = cent(marketAt(1) - 40)
    const d1 = start('restart', {
      1: (ctx) => {
        ctx.buy('BTC/USDT', { qty: 0.02, limit: l1 })
        ctx.buy('BTC/USDT', { qty: 0.01, limit: l2 })
      },
    })
    await d1.step(0)
    await d1.step(1)
    await d1.stop() // the feed ends: working orders stay at the exchange
    expect(s.orders.map((o) => o.status)).toEqual(['NEW', 'NEW'])
    const [c1, c2] = s.orders.map((o) => o.clientOrderId)
    s.setNow(T0 + 5 * M)
    s.fill(c1!, 0.02) // while down

    const d2 = start('restart', { 1: (ctx) => ctx.openOrders('BTC/USDT').forEach((o) => ctx.cancel(o.id)) })
    await d2.step(5)
    const j = d2.journal()
    expect(j.order(c1!)).toMatchObject({ state: 'FILLED', filled: 0.02 })
    expect(j.order(c2!)).toMatchObject({ state: 'ACKED' })
    expect(d2.status().openOrders.map((o) => [o.cid, o.qty, o.limit])).toEqual([[c2, 0.01, l2]])
    expect(d2.alerts()).toContain(`fill missed: ${c1} buy 0.02 BTC/USDT at ${l1} (trade BTC/USDT:1)`)
    await d2.step(6) // the restarted strategy cancels what is open: the adopted order
    expect(s.orders[1]!.status).toBe('CANCELED')
    expect(d2.journal().order(c2!)).toMatchObject({ state: 'CANCELLED', reason: 'cancelled by the strategy' })
    await d2.step(7)
    const status = await d2.stop()
    expect(fillsOf(j).map((f) => [f.clientOrderId, f.tradeId, f.qty])).toEqual([[c1, 'BTC/USDT:1', 0.02]]) // once
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.02, avgPrice: l1 })])
    expect(status.cash).toBeCloseTo(10_000 - 0.02 * l1 - r8(0.02 * l1 * FEE), 8)
    expect(posts()).toHaveLength(2)
  })

  it('a restart whose first reconciliation fails: halted, yet the adopted order is known to the venue and can be cancelled; reconciled later, running again', async () => {
    const { s, start } = await world()
    const limit = cent(marketAt(1) - 40)
    const d1 = start('adopted', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, limit }) })
    await d1.step(0)
    await d1.step(1)
    await d1.stop()
    const cid = s.orders[0]!.clientOrderId
    // The restart's first lookup by client id (3 attempts) fails, nothing else does: it is the search for
    // orders a power loss may have left out of the journal, under the client id after the journal's last.
    s.fault('GET /api/v3/order', ...Array.from({ length: 3 }, () => ({ kind: 'maintenance' as const })))
    const d2 = start('adopted', { 0: (ctx) => ctx.openOrders('BTC/USDT').forEach((o) => ctx.cancel(o.id)) })
    await d2.step(3) // halted from the start; the strategy cancels the order it finds open (adopted from the journal)
    expect(s.orders[0]!.status).toBe('CANCELED')
    expect(s.signed.filter((r) => r.method === 'DELETE').map((r) => r.params.orderId)).toEqual([String(s.orders[0]!.orderId)])
    expect(d2.journal().order(cid)).toMatchObject({ state: 'CANCELLED', reason: 'cancelled by the strategy' })
    const status = await d2.stop()
    expect(status.state).toBe('finished')
    expect(d2.alerts().filter((a) => a.startsWith('halted: ') || a.startsWith('resumed: '))).toEqual([
      expect.stringMatching(new RegExp(`^halted: could not look up client id ${cid.slice(0, -1)}2 on BTC/USDT \\(binance lookup ${cid.slice(0, -1)}2 failed after 3 attempts: OnMaintenance: System is under maintenance.\\)`)),
      'resumed: reconciliation with the venue succeeded; new orders allowed again',
    ])
  })

  it('a position closed on the exchange while the deployment was down: booked at restart, the strategy sees 0, one alert', async () => {
    const { s, start } = await world()
    const d1 = start('closed', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
    await d1.step(0)
    await d1.step(1)
    await d1.stop()
    s.setNow(T0 + 4 * M)
    const sold = standinPrice('BTCUSDT', T0 + 4 * M)
    s.trade('BTCUSDT', 'SELL', 0.01) // by hand, on the exchange's app

    const seen: number[] = []
    const d2 = start('closed', { 0: (ctx) => seen.push(ctx.position('BTC/USDT')), 2: (ctx) => seen.push(ctx.position('BTC/USDT')) }, { reconcileEveryMs: 60_000 })
    await d2.step(4)
    await d2.step(5)
    await d2.step(6)
    expect(seen).toEqual([0, 0])
    const alerts = d2.alerts()
    expect(alerts.filter((a) => a.startsWith('position BTC/USDT'))).toEqual([
      "position BTC/USDT: the venue holds 0, the journal's fills sum to 0.01; the venue's position is booked (changed at the venue, e.g. closed while the deployment was down)",
    ])
    expect(alerts.filter((a) => a.includes("not the deployment's"))).toHaveLength(1) // said once, not at every reconciliation
    const j = d2.journal()
    expect(j.position('scripted', 'BTC/USDT')).toBe(0)
    const outside = [...j.current.orders.values()].filter((o) => o.role === 'outside')
    expect(outside.map((o) => [o.side, o.qty, o.avgPrice])).toEqual([['sell', 0.01, sold]])
    const status = await d2.stop()
    expect(status.positions).toEqual([])
    expect(status.trades.map((t) => [t.qty, t.entryPrice, t.exitPrice])).toEqual([[0.01, marketAt(1), sold]])
  })

  it('exchange maintenance: no crash, the position unchanged, halted with the reason and no new orders; afterwards reconciled and resumed', async () => {
    const { s, home, start, posts } = await world()
    const d = start('maint', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }), 3: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }), 4: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }), 6: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) }, { reconcileEveryMs: 60_000 })
    await d.step(0)
    await d.step(1)
    await d.step(2)
    expect(d.status().state).toBe('running')
    s.setMaintenance(true)
    await d.step(3) // the send is answered 503: UNKNOWN; its lookup and the reconciliation fail
    const halted = d.status()
    expect(halted.state).toBe('halted')
    expect(halted.reason).toMatch(/^reconciliation could not read .* System is under maintenance.*; the deployment halts: no new orders, brackets left in place$/)
    expect(halted.positions).toEqual([expect.objectContaining({ qty: 0.01 })])
    await d.step(4) // halted: the strategy's order is refused before it reaches the exchange
    expect(d.rec.orders.filter((o) => o.status === 'REJECTED').map((o) => o.reason)).toEqual([expect.stringMatching(/^halted: reconciliation could not read/)])
    s.setMaintenance(false)
    await d.step(5) // the UNKNOWN order is not at the exchange (never reached it): REJECTED; reconciled; running again
    expect(d.status()).toMatchObject({ state: 'running' })
    const unknown = [...d.journal().current.orders.values()][1]!
    expect(unknown).toMatchObject({ state: 'REJECTED', reason: 'never reached the venue (not found by its client id)' })
    await d.step(6)
    const status = await d.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.02 })])
    expect(posts()).toHaveLength(2)
    expect(s.orders).toHaveLength(2)
    const alerts = d.alerts()
    expect(alerts.filter((a) => a.startsWith('halted: ') || a.startsWith('resumed: '))).toEqual([`halted: ${halted.reason}`, 'resumed: reconciliation with the venue succeeded; new orders allowed again'])
    // Errors, alerts, the journal and the status carry no credential, signature or signed query.
    const written = everythingWritten(join(home, 'deployments', 'maint')) + d.lines.join('\n')
    expect(written).toMatch(/System is under maintenance/)
    for (const secret of [CREDS.apiKey, CREDS.secret]) expect(written).not.toContain(secret)
    expect(written).not.toMatch(/signature=|timestamp=\d/)
  })

  it('coins held before the first start are not a position; without OCO lists, both legs of a bracket filled at the exchange are both booked, reconciled and alerted', async () => {
    const { s, home, start } = await world({ balances: { USDT: 10_000, BTC: 0.5 } })
    const p1 = marketAt(1)
    const sl = cent(p1 - 50)
    const tp = cent(p1 + 50)
    const d = start('oco', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: sl, takeProfit: tp }) }, { reconcileEveryMs: 60_000, lists: false })
    await d.step(0)
    expect(JSON.parse(readFileSync(join(home, 'deployments', 'oco', 'outside.json'), 'utf8')).positions).toEqual({ 'BTC/USDT': 0.5 })
    await d.step(1)
    await d.step(2)
    expect(s.orders.map((o) => [o.side, o.type, o.origQty, o.status])).toEqual([
      ['BUY', 'MARKET', 0.01, 'FILLED'],
      ['SELL', 'STOP_LOSS', 0.01, 'NEW'],
      ['SELL', 'LIMIT', 0.01, 'NEW'],
    ])
    // Spot has no linked OCO here: the exchange fills both legs (the account's own 0.5 BTC covers the second).
    s.fill(s.orders[2]!.clientOrderId, 0.01)
    s.fill(s.orders[1]!.clientOrderId, 0.01, sl)
    await d.step(3)
    await d.step(4)
    const status = await d.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: -0.01 })])
    expect(d.journal().position('scripted', 'BTC/USDT')).toBe(-0.01)
    expect(s.balance('BTC').free + s.balance('BTC').locked).toBe(0.49)
    const alerts = d.alerts()
    expect(alerts.filter((a) => a.includes('filled past the position'))).toEqual([
      `${s.orders[1]!.clientOrderId} (stop-loss, sell 0.01 BTC/USDT) filled past the position it reduces (0 held): scripted now holds -0.01 — both legs of a bracket filled at the venue, or an exit raced another; booked as the venue reports`,
    ])
    // The venue's 0.49 less the 0.5 held before = −0.01 = the journal: reconciliation finds no difference.
    expect(alerts.filter((a) => a.startsWith('position '))).toEqual([])
    expect(status.cash).toBeCloseTo(10_000 - 0.01 * p1 - r8(0.01 * p1 * FEE) + 0.01 * tp - r8(0.01 * tp * FEE) + 0.01 * sl - r8(0.01 * sl * FEE), 8)
  })
})

describe('exits on a venue without reduce-only (spot)', () => {
  /** A venue that answers only when the test says so. */
  class QuietVenue implements Venue {
    readonly matchesOnBars = false
    submitted: VenueOrder[] = []
    sink: (e: VenueEvent) => void = () => {}
    async start(): Promise<void> {}
    submit(order: VenueOrder): void {
      this.submitted.push(order)
    }
    cancel(): void {}
    async lookup() {
      return undefined
    }
    events(sink: (e: VenueEvent) => void): void {
      this.sink = sink
    }
    async close(): Promise<void> {}
  }

  it('a close asked again before the first one filled is clamped to what is left: nothing, so it is REJECTED unsent; the position never goes past flat', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-live-exits-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const journal = OrderJournal.open(dir, 'exits')
    const clock = new ManualClock(T0)
    const venue = new QuietVenue()
    const rec: Recorder = { orders: [], fills: [], bars: [] }
    const session = new EngineSession(
      { cash: 10_000, sleeves: [{ strategy: scripted({ 0: (ctx) => ctx.buy('BTC/USDT', { qty: 0.3 }), 1: (ctx) => ctx.close('BTC/USDT'), 2: (ctx) => ctx.close('BTC/USDT') }, rec), symbols: ['BTC/USDT'], timeframe: '1m', weight: 1 }] },
      { journal, clock, venue },
    )
    session.start()
    const step = (i: number) => {
      clock.advance(T0 + (i + 1) * M - clock.now())
      session.onBar(bar(i))
      session.advanceTo(T0 + (i + 1) * M)
    }
    step(0)
    venue.sink({ type: 'fill', cid: venue.submitted[0]!.cid, tradeId: 'e1', qty: 0.3, price: 1500, fee: 0, liquidity: 'taker', time: T0 + M })
    await new Promise((r) => setImmediate(r))
    step(1) // the first close: a sell of 0.3, sent; its fill has not come back
    step(2) // the second: 0.3 is covered by the first → not sent
    await new Promise((r) => setImmediate(r))
    expect(venue.submitted.map((o) => [o.side, o.qty])).toEqual([
      ['buy', 0.3],
      ['sell', 0.3],
    ])
    const refused = rec.orders.filter((o) => o.status === 'REJECTED')
    expect(refused.map((o) => [o.order.role, o.reason])).toEqual([['exit', 'nothing to reduce: scripted holds 0.3 long on BTC/USDT, all of it covered by exits already sent (0.3); not sent']])
    const cids = [...journal.current.orders.keys()]
    expect(cids.map((c) => journal.order(c).state)).toEqual(['FILLED', 'SENT', 'REJECTED'])
    venue.sink({ type: 'fill', cid: venue.submitted[1]!.cid, tradeId: 'x1', qty: 0.3, price: 1510, fee: 0, liquidity: 'taker', time: T0 + 3 * M })
    await new Promise((r) => setImmediate(r))
    expect(session.engine.sleeves[0]!.book.positions[0]!.qty).toBe(0)
    expect(journal.position('scripted', 'BTC/USDT')).toBe(0)
  })
})

describe('a live deployment fed by REST polling (CcxtPollFeed) on a clock the test moves', () => {
  it('429s on the klines: bounded backoff while they last, no order on the stale bars that arrive after them, reconciled when the feed is back', async () => {
    const { s, home, posts, standinOptions } = await world()
    const clock = new ManualClock(T0 + 30 * S)
    s.setNow(clock.now())
    const feedEvents: FeedEvent[] = []
    const feed = new CcxtPollFeed({ exchange: createExchange('binance', s.url), subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }], clock, from: T0, retries: 2, backoffMs: 100, retryMs: 20 * S, maxLagMs: 5 * S, onEvent: (e) => feedEvents.push(e) })
    const venue = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, clock, pollMs: 0, retries: 3, backoffMs: 5, since: T0 - M })
    const rec: Recorder = { orders: [], fills: [], bars: [] }
    // The strategy buys 0.01 on every bar it sees.
    const strategy = scripted(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [i, (ctx: Context<Record<string, number>>) => void ctx.buy('BTC/USDT', { qty: 0.01 })])), rec)
    const lines: string[] = []
    const running = runDeployment({ home, config: config('polled'), strategy, venue, feed, clock, track: false, reconcileEveryMs: 0, log: (l) => lines.push(l) })
    let failure: unknown
    running.catch((e: unknown) => (failure = e))
    cleanup.push(async () => {
      feed.stop()
      await running.catch(() => undefined)
    })
    /** Until everything waits on the clock again (real time only as a safety net). */
    const settle = async () => {
      for (let n = 0; n < 20_000; n++) {
        if (failure !== undefined) throw failure
        if (clock.waiting > 0) {
          await venue.settled()
          await new Promise((r) => setTimeout(r, 2))
          if (clock.waiting > 0) return
        }
        await new Promise((r) => setTimeout(r, 1))
      }
      throw new Error('the deployment never waited on the clock')
    }
    const until = async (t: number) => {
      await settle()
      while (clock.now() < t) {
        const next = Math.min(t, clock.now() + S)
        s.setNow(next)
        clock.advance(next - clock.now())
        await settle()
      }
    }
    const klines = () => s.requests.filter((r) => r.startsWith('/api/v3/klines')).length
    await until(T0 + 2 * M + 30 * S) // bars 0 and 1 arrive on time: two orders
    expect(posts()).toHaveLength(2)
    standinOptions.rateLimitEvery = 1 // every klines request answered 429 for five minutes
    const before = klines()
    await until(T0 + 7 * M + 30 * S)
    const storm = klines() - before
    // Bounded: one poll every retryMs (20 s) at most, each of 2 attempts.
    expect(storm).toBeGreaterThan(0)
    expect(storm).toBeLessThanOrEqual(2 * Math.ceil((5 * M) / (20 * S)))
    expect(feedEvents.filter((e) => e.type === 'retry').every((e) => e.type === 'retry' && e.waitMs === 100 && /DDoSProtection|RateLimitExceeded/.test(e.error))).toBe(true)
    expect(feedEvents.some((e) => e.type === 'stale')).toBe(true)
    expect(posts()).toHaveLength(2) // no bars, no orders
    standinOptions.rateLimitEvery = undefined
    const accountReads = () => s.signed.filter((r) => r.path === '/api/v3/account').length
    const readsBefore = accountReads()
    await until(T0 + 8 * M + 30 * S) // the missed bars arrive late, in one catch-up
    // The outage's end is a reconnect: reconciled once (balances read), though reconcileEveryMs is 0.
    expect(accountReads() - readsBefore).toBe(1)
    // Every order the strategy asked for on a bar that closed more than 2 minutes before the clock is refused
    // (stale data); the others are sent. The journal's intents carry the clock time they were placed at.
    const intents = [...OrderJournal.open(join(home, 'deployments', 'polled'), 'polled').current.orders.values()]
    expect(rec.bars).toEqual(Array.from({ length: 8 }, (_, i) => `BTC/USDT@1m#${i}`)) // each bar once
    const refused = rec.orders.filter((o) => o.status === 'REJECTED')
    const sent = rec.orders.filter((o) => o.status === 'SUBMITTED')
    expect(sent.length + refused.length).toBe(rec.bars.length)
    expect(refused.length).toBeGreaterThanOrEqual(3)
    for (const o of refused) expect(o.reason).toMatch(/^stale data: the newest closed bar closed at .*\(limit 2 × 1m\)$/)
    expect(intents).toHaveLength(sent.length)
    expect(posts()).toHaveLength(sent.length)
    const placed = new Map(readFileSync(join(home, 'deployments', 'polled', 'journal.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"type":"intent"')).map((l) => JSON.parse(l) as { orderId: number; time: number }).map((e) => [e.orderId, e.time]))
    for (const o of sent) expect(placed.get(o.order.id)! - o.time).toBeLessThanOrEqual(2 * M) // o.time: the close of the bar it was placed on
    for (const o of refused) {
      const said = /^stale data: the newest closed bar closed at (\S+), (\d+) s ago/.exec(o.reason)!
      expect(Date.parse(said[1]!)).toBe(o.time) // the bar the order was placed on, not the batch's newest
      expect(Number(said[2]) * S).toBeGreaterThan(2 * M)
    }
    feed.stop()
    await running
  })
})

describe('a live deployment killed with SIGKILL between send and acknowledgement', () => {
  it('restarts into the order looked up by its client id: UNKNOWN resolved, no duplicate at the exchange, the right position', async () => {
    const { s, home, start, posts } = await world()
    s.setNow(T0 + 2 * M + S) // bars 0 and 1 have closed
    s.fault('POST /api/v3/order', { kind: 'accept-stall' }) // the exchange places the order and never answers
    const c = config('kill9')
    const child = spawn(process.execPath, [join(FIXTURES, 'live-deploy-runner.cjs'), home, JSON.stringify(c), s.url, String(s.now()), String(T0), '2'], { stdio: ['ignore', 'pipe', 'pipe'] })
    cleanup.push(() => void child.kill('SIGKILL')) // never left running, whatever happens below
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.stderr.on('data', (b: Buffer) => (out += b.toString()))
    const closed = new Promise((r) => child.on('close', r))
    const file = join(home, 'deployments', 'kill9', 'journal.jsonl')
    // Killed once the order is at the exchange and its send is journaled, while the request waits for its answer.
    for (let i = 0; i < 3000 && !(s.orders.length === 1 && existsSync(file) && readFileSync(file, 'utf8').includes('"type":"sent"')); i++) await new Promise((r) => setTimeout(r, 10))
    expect(s.orders, out).toHaveLength(1)
    child.kill('SIGKILL')
    await closed
    const before = readFileSync(file, 'utf8')
    expect(before).not.toMatch(/"type":"(ack|fill|unknown)"/) // it died between send and answer
    const cid = s.orders[0]!.clientOrderId
    expect(OrderJournal.open(join(home, 'deployments', 'kill9'), 'kill9').order(cid).state).toBe('UNKNOWN') // sent, never answered

    const d = start('kill9', {})
    await d.step(2)
    await d.step(3)
    // Looked up by its client id, never sent again.
    expect(s.signed.filter((r) => r.method === 'GET' && r.path === '/api/v3/order').map((r) => r.params.origClientOrderId)).toContain(cid)
    expect(posts()).toHaveLength(1)
    expect(s.orders).toHaveLength(1)
    const j = d.journal()
    expect(j.order(cid)).toMatchObject({ state: 'FILLED', filled: 0.01, exchangeOrderId: String(s.orders[0]!.orderId) })
    expect(j.position('scripted', 'BTC/USDT')).toBe(0.01)
    expect(d.alerts()).toContain(`UNKNOWN resolved by lookup: ${cid} is at the venue as order ${s.orders[0]!.orderId} (closed, filled 0.01 of 0.01); not sent again`)
    const status = await d.stop()
    const px = standinPrice('BTCUSDT', T0 + 2 * M + S)
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01, avgPrice: px })])
    expect(status.cash).toBeCloseTo(10_000 - 0.01 * px - r8(0.01 * px * FEE), 8)
    expect(s.balance('BTC')).toEqual({ free: 0.01, locked: 0 })
  }, 60_000)
})

describe('a restart with an order placed and not yet filled', () => {
  it('keeps the order\'s engine id, so every later order is numbered as in the run that never stopped', async () => {
    const homes = [mkdtempSync(join(tmpdir(), 'mtflow-live-ids-')), mkdtempSync(join(tmpdir(), 'mtflow-live-ids-'))]
    cleanup.push(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })))
    const gbm = syntheticGbm({ symbol: 'BTC/USDT', timeframe: '1h', bars: 600, seed: 21, start: Date.UTC(2024, 0, 1), volatility: 0.5 })
    for (const h of homes) await ingestBars(h, { ...gbm, symbol: 'BTC/USDT' }, { source: 'binance' })
    const c = validateDeploymentConfig({ name: 'ids', strategy: { name: 'sma-cross', version: 1, sha256: 'a'.repeat(64) }, params: { fast: 10, slow: 30 }, symbols: ['BTC/USDT'], timeframe: '1h', mode: 'paper', venue: { exchange: 'binance' }, feed: { kind: 'replay' } })
    // One batch per bar, so the journal has a mark after every step (an unpaced replay batches 4,096).
    const feed = new ReplayFeed([{ symbol: 'BTC/USDT', timeframe: '1h', bars: await loadBars(homes[0]!, { symbol: 'BTC/USDT', timeframe: '1h' }) }], { chunk: 1 })
    await runDeployment({ home: homes[0], config: c, strategy: getStrategy('sma-cross'), feed, track: false })
    const lines = readFileSync(join(homes[0]!, 'deployments', 'ids', 'journal.jsonl'), 'utf8').split('\n').filter((l) => l !== '')
    const events = lines.map((l) => JSON.parse(l) as { type: string; seq?: number; orderId?: number; clientOrderId?: string })
    // A step that placed an order (market: it fills at the next bar's open), cut right after its mark: the
    // journal a process killed between that step and the next leaves. Taken after a few orders.
    const cut = events.findIndex((e, i) => e.type === 'mark' && i > 0 && events[i - 1]!.type === 'intent' && events.slice(0, i).filter((x) => x.type === 'intent').length >= 4)
    expect(cut).toBeGreaterThan(0)
    const open = events[cut - 1]!.clientOrderId
    mkdirSync(join(homes[1]!, 'deployments', 'ids'), { recursive: true })
    writeFileSync(join(homes[1]!, 'deployments', 'ids', 'journal.jsonl'), `${lines.slice(0, cut + 1).join('\n')}\n`)
    expect(OrderJournal.open(join(homes[1]!, 'deployments', 'ids'), 'ids').order(open!).state).toBe('ACKED')
    await runDeployment({ home: homes[1], config: c, strategy: getStrategy('sma-cross'), track: false })
    const after = readFileSync(join(homes[1]!, 'deployments', 'ids', 'journal.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
    const orders = (list: Record<string, unknown>[]) => list.filter((e) => e.type === 'intent').map((e) => [e.seq, e.orderId, e.side, e.qty])
    expect(orders(after)).toEqual(orders(events as Record<string, unknown>[]))
    expect(orders(after).length).toBeGreaterThan(6)
  })
})

describe('a power loss that took the journal\'s last intents (written, their background fsync not done)', () => {
  it('the restart finds the orders by the client ids after the journal\'s last: a gap skipped, a filled one booked, an open one cancelled; no client id reused, nothing sent twice', async () => {
    const { s, start, posts } = await world()
    const limit = cent(marketAt(3) - 40)
    const d1 = start('power', {
      1: (ctx) => ctx.buy('BTC/USDT', { qty: 7 }), // ~10,500 USDT > 10,000: refused, so no order exists under seq 1
      2: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }),
      3: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit }),
    }, { over: { cash: 100_000 } })
    for (const i of [0, 1, 2, 3]) await d1.step(i)
    await d1.stop()
    const sentCids = posts().map((p) => p.params.newClientOrderId as string)
    expect(sentCids).toHaveLength(3)
    const [c1, c2, c3] = sentCids as [string, string, string]
    expect(s.orders.map((o) => [o.clientOrderId, o.status])).toEqual([
      [c2, 'FILLED'],
      [c3, 'NEW'],
    ])
    // The power loss: the journal keeps what was on disk before the first intent (its marks), nothing after.
    const file = d1.journal().file
    const lines = readFileSync(file, 'utf8').split('\n')
    const cut = lines.findIndex((l) => l.includes('"type":"intent"'))
    writeFileSync(file, `${lines.slice(0, cut).join('\n')}\n`)
    expect(d1.journal().current.orders.size).toBe(0)

    // Script keys count this process's bars: 1 is step(5).
    const d2 = start('power', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.005 }) }, { over: { cash: 100_000 } })
    await d2.step(4)
    const j = d2.journal()
    // seq 1 given up (refused, so nowhere at the venue), 2 and 3 journaled again from the venue's answers.
    const events = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{"type":"skip"')).map((l) => JSON.parse(l) as { seq: number })
    expect(events.map((e) => e.seq)).toEqual([1])
    const p2 = marketAt(2)
    expect(j.order(c2)).toMatchObject({ seq: 2, state: 'FILLED', side: 'buy', qty: 0.01, filled: 0.01, avgPrice: p2, role: 'recovered' })
    expect(j.order(c3)).toMatchObject({ seq: 3, state: 'CANCELLED', side: 'buy', kind: 'limit', price: limit, qty: 0.02, filled: 0, role: 'recovered' })
    expect(s.orders[1]!.status).toBe('CANCELED')
    expect(d2.alerts().filter((a) => a.startsWith('recovered '))).toEqual([
      `recovered ${c2}: its journal entry was lost (power loss), the venue has it as order ${s.orders[0]!.orderId} (closed, buy 0.01 BTC/USDT, filled 0.01); journaled`,
      `recovered ${c3}: its journal entry was lost (power loss), the venue has it as order ${s.orders[1]!.orderId} (open, buy 0.02 BTC/USDT, filled 0); journaled, and cancelled`,
    ])
    // Reconciliation then finds the journal and the venue agreeing: nothing booked as "outside".
    expect([...j.current.orders.values()].filter((o) => o.role === 'outside')).toEqual([])
    await d2.step(5) // a new order takes the number after the recovered ones
    const status = await d2.stop()
    const newCid = posts()[3]!.params.newClientOrderId as string
    expect(posts()).toHaveLength(4)
    expect([c1, c2, c3]).not.toContain(newCid)
    expect(d2.journal().order(newCid)).toMatchObject({ seq: 4, state: 'FILLED', qty: 0.005 })
    const p5 = marketAt(5)
    expect(status.positions).toEqual([expect.objectContaining({ symbol: 'BTC/USDT', qty: 0.015 })])
    expect(status.cash).toBeCloseTo(100_000 - 0.01 * p2 - r8(0.01 * p2 * FEE) - 0.005 * p5 - r8(0.005 * p5 * FEE), 8)
    expect(s.balance('BTC')).toEqual({ free: 0.015, locked: 0 })
  })

  it('a venue that cannot be asked at the restart: halted, no new order, until it answers', async () => {
    const { s, start, posts } = await world()
    const d1 = start('power-down', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
    await d1.step(0)
    await d1.step(1)
    await d1.stop()
    const file = d1.journal().file
    const lines = readFileSync(file, 'utf8').split('\n')
    writeFileSync(file, `${lines.slice(0, lines.findIndex((l) => l.includes('"type":"intent"'))).join('\n')}\n`)
    // Listing the symbol's orders fails at the restart and at the next bar (3 attempts each); the rest works.
    const down = Array.from({ length: 6 }, () => ({ kind: 'maintenance' as const }))
    s.fault('GET /api/v3/allOrders', ...down)
    const d2 = start('power-down', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
    await d2.step(2)
    expect(d2.status()).toMatchObject({ state: 'halted' })
    expect(d2.status().reason).toMatch(/^could not list the orders on BTC\/USDT \(binance fetchOrders BTC\/USDT failed after 3 attempts: OnMaintenance: System is under maintenance\.\): orders whose journal entries a power loss took cannot be ruled out; the deployment halts/)
    await d2.step(3) // the strategy's order meets the halt: refused, not sent; then the venue answers
    expect(posts()).toHaveLength(1)
    expect(d2.status()).toMatchObject({ state: 'running' })
    expect(d2.alerts().some((a) => a.startsWith(`recovered ${posts()[0]!.params.newClientOrderId as string}: `))).toBe(true)
    const status = await d2.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01 })])
    expect(posts()).toHaveLength(1)
  })
})

describe('when the intent is fsync\'d: while the order goes out (default), or before it (--fsync-before-send)', () => {
  it('default: no synchronous fsync of the journal before the order request; fsyncBeforeSend: one before it', async () => {
    const plain = { fsync: fs.fsync, fsyncSync: fs.fsyncSync }
    const seen: { kind: string; posts: number }[] = []
    let posts = () => 0
    const journalFd = (fd: number) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('journal.jsonl')
      } catch {
        return false
      }
    }
    ;(fs as { fsync: unknown }).fsync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
      if (journalFd(fd)) seen.push({ kind: 'fsync', posts: posts() })
      plain.fsync(fd, callback)
    }
    fs.fsyncSync = (fd: number) => {
      if (journalFd(fd)) seen.push({ kind: 'fsyncSync', posts: posts() })
      plain.fsyncSync(fd)
    }
    syncBuiltinESMExports()
    try {
      for (const strict of [false, true]) {
        seen.length = 0
        const w = await world()
        posts = () => w.posts().length
        const d = w.start(strict ? 'strict' : 'each', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) }, strict ? { over: { venue: { exchange: 'binance', apiUrl: 'http://127.0.0.1:1', fsyncBeforeSend: true } } } : {})
        await d.step(0)
        await d.step(1)
        await d.stop()
        expect(w.posts()).toHaveLength(1)
        const before = seen.filter((x) => x.posts === 0).map((x) => x.kind)
        if (strict) expect(before).toContain('fsyncSync')
        else {
          expect(before).not.toContain('fsyncSync')
          expect(before).toEqual(['fsync']) // started as the intent was written, not waited for
        }
      }
    } finally {
      ;(fs as { fsync: unknown }).fsync = plain.fsync
      fs.fsyncSync = plain.fsyncSync
      syncBuiltinESMExports()
    }
  })
})

describe('a live start with warm-up history: the strategy\'s own state (ctx.state) is rebuilt from it', () => {
  it('the history runs through onStart and onBar on the simulated exchange (nothing sent); the first live bar finds every close in ctx.state', async () => {
    const { start, posts } = await world()
    // Ten closed bars before the first live one, as the stand-in serves them.
    const n = 10
    const time = Float64Array.from({ length: n }, (_, j) => T0 - (n - j) * M)
    const candles = Array.from(time, (t) => standinCandle('BTCUSDT', t, M))
    const col = (c: number) => Float64Array.from(candles, (k) => k[c]!)
    const history = { 'BTC/USDT@1m': { symbol: 'BTC/USDT', timeframe: '1m', time, open: col(0), high: col(1), low: col(2), close: col(3), volume: col(4) } }
    const seen: number[][] = []
    const strategy = defineStrategy<Record<string, never>>({
      name: 'scripted',
      params: {},
      universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
      warmup: () => 0,
      onStart(ctx) {
        ctx.state.closes = []
      },
      onBar(ctx, bar) {
        ;(ctx.state.closes as number[]).push(bar.close)
        seen.push([...(ctx.state.closes as number[])])
        ctx.buy(bar.symbol, { qty: 0.001 }) // on every bar: in the warm-up replay it must not reach the exchange
      },
    })
    const d = start('warm', {}, { strategy, history })
    await d.step(0)
    const live = seen.at(-1)!
    expect(live).toEqual([...candles.map((c) => c[3]!), bar(0).close])
    expect(posts()).toHaveLength(1) // the live bar's order only
    await d.stop()
  })
})
