// Live deployments end to end (issue 19, points 2, 3 and "Tests"): runDeployment with a CcxtVenue — the real
// ccxt — against the loopback Binance stand-in, a scripted strategy for exact orders, and a feed of the
// stand-in's own 1m candles that the test steps one closed bar at a time (the stand-in's clock moves with
// it). Faults: a send accepted but never answered, 429s, maintenance, refusals, a cancel racing a fill,
// restarts with open orders and with a position closed at the exchange meanwhile, and a process killed with
// SIGKILL between send and answer. Expected numbers come from the stand-in's price function and fee rate
// or from what it recorded — never from the deployment's own output.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CcxtVenue } from '../../lib/live/ccxt-venue.js'
import { runDeployment, type DeploymentStatus } from '../../lib/live/deployment.js'
import { OrderJournal, validateDeploymentConfig, type Clock, type DeploymentConfig, type FeedBar, type FeedBatch, type MarketFeed } from '../../lib/live/index.js'
import type { Context } from '../../lib/strategy/index.js'
import { scripted, type Recorder } from '../backtest/scripted.js'
import { standinCandle, standinPrice, startBinanceStandin, type Standin, type StandinOptions } from '../fixtures/binance-standin.js'
import { FIXTURES } from '../helpers.js'

const M = 60_000
const S = 1000
/** The first bar's open time; bar i opens at T0 + i minutes and is stepped 1 s after it closes. */
const T0 = Date.UTC(2024, 0, 10, 5, 0)
const CREDS = { apiKey: 'live-deploy-key-5c1d', secret: 'live-deploy-secret-93e0' }
const FEE = 0.001
const r8 = (x: number) => Math.round(x * 1e8) / 1e8
const cent = (x: number) => Math.round(x * 100) / 100

/** The stand-in's time; sleeps (backoff) are recorded and return at once. */
class StandinClock implements Clock {
  sleeps: number[] = []
  constructor(private readonly standin: Standin) {}
  now(): number {
    return this.standin.now()
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms)
    return new Promise((resolve) => setImmediate(resolve))
  }
}

/** Bars the test hands over one batch at a time; `waiting` when the deployment has asked for the next. */
class StepFeed implements MarketFeed {
  private queue: FeedBatch[] = []
  private wake: (() => void) | undefined
  private ended = false
  waiting = false
  push(batch: FeedBatch): void {
    this.waiting = false
    this.queue.push(batch)
    this.wake?.()
  }
  end(): void {
    this.ended = true
    this.wake?.()
  }
  async *batches(): AsyncIterable<FeedBatch> {
    for (;;) {
      while (this.queue.length === 0) {
        if (this.ended) return
        this.waiting = true
        await new Promise<void>((r) => (this.wake = r))
        this.wake = undefined
      }
      this.waiting = false
      yield this.queue.shift()!
    }
  }
}

/** Bar i of BTC/USDT as the stand-in serves it. */
function bar(i: number): FeedBar {
  const time = T0 + i * M
  const [open, high, low, close, volume] = standinCandle('BTCUSDT', time, M)
  return { symbol: 'BTC/USDT', timeframe: '1m', time, closeTime: time + M, open, high, low, close, volume }
}

/** The market price while bar i is stepped (1 s after it closed: the next minute's open). */
const marketAt = (i: number) => standinPrice('BTCUSDT', T0 + (i + 1) * M + S)

const config = (name: string, over: Record<string, unknown> = {}): DeploymentConfig =>
  validateDeploymentConfig({
    name,
    strategy: { name: 'scripted', version: 1, sha256: 'b'.repeat(64) },
    symbols: ['BTC/USDT'],
    timeframe: '1m',
    mode: 'live',
    venue: { exchange: 'binance', apiUrl: 'http://127.0.0.1:1' },
    cash: 10_000,
    feed: { kind: 'poll' },
    ...over,
  })

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function world(options: Partial<StandinOptions> = {}) {
  const s = await startBinanceStandin({ now: T0, balances: { USDT: 10_000 }, ...options })
  const home = mkdtempSync(join(tmpdir(), 'mtflow-live-deploy-'))
  cleanup.push(() => s.close(), () => rmSync(home, { recursive: true, force: true }))
  const clock = new StandinClock(s)
  const posts = () => s.signed.filter((r) => r.method === 'POST' && r.path === '/api/v3/order')

  /** One deployment process's life: start it, step bars, end the feed (a restart is another `start`). */
  const start = (name: string, script: Record<number, (ctx: Context<Record<string, number>>) => void>, opts: { reconcileEveryMs?: number; timeoutMs?: number; over?: Record<string, unknown> } = {}) => {
    const venue = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, clock, pollMs: 0, backoffMs: 5, retries: 3, timeoutMs: opts.timeoutMs ?? 1500, since: T0 - M })
    const feed = new StepFeed()
    const rec: Recorder = { orders: [], fills: [], bars: [] }
    const lines: string[] = []
    const strategy = scripted(script, rec)
    const running = runDeployment({ home, config: config(name, opts.over), strategy, venue, feed, clock, track: false, reconcileEveryMs: opts.reconcileEveryMs ?? 0, log: (l) => lines.push(l) })
    let failure: unknown
    running.catch((e: unknown) => (failure = e))
    let done = false
    cleanup.push(async () => {
      if (!done) feed.end()
      await running.catch(() => undefined)
    })
    /** Until the deployment has handled what it was given and asks for more (a real-time safety net only). */
    const idle = async () => {
      for (let n = 0; n < 10_000; n++) {
        if (failure !== undefined) throw failure
        if (feed.waiting) {
          await venue.settled()
          await new Promise((r) => setImmediate(r))
          await new Promise((r) => setImmediate(r))
          if (feed.waiting) return
        }
        await new Promise((r) => setTimeout(r, 1))
      }
      throw new Error('the deployment never asked for the next bar')
    }
    return {
      venue,
      rec,
      lines,
      idle,
      journal: () => OrderJournal.open(join(home, 'deployments', name), name),
      alerts: () => (existsSync(join(home, 'deployments', name, 'alerts.jsonl')) ? readFileSync(join(home, 'deployments', name, 'alerts.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text) : []),
      status: () => JSON.parse(readFileSync(join(home, 'deployments', name, 'status.json'), 'utf8')) as DeploymentStatus,
      /** Bar i closed: the stand-in's clock 1 s past its close (resting orders match), the venue's fill poll, then the bar. */
      async step(i: number) {
        await idle()
        s.setNow(T0 + (i + 1) * M + S)
        await venue.pollFills()
        feed.push({ bars: [bar(i)], watermark: T0 + (i + 1) * M })
        await idle()
      },
      async stop(): Promise<DeploymentStatus> {
        await idle()
        feed.end()
        done = true
        return running
      },
    }
  }
  return { s, home, clock, posts, start }
}

const fillsOf = (journal: OrderJournal) => readFileSync(journal.file, 'utf8').split('\n').filter((l) => l.includes('"type":"fill"')).map((l) => JSON.parse(l) as { clientOrderId: string; tradeId: string; qty: number; price: number; fee: number })

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

  it('a create-order timeout after the exchange accepted it: UNKNOWN, resolved by lookup — exactly one order, the right position', async () => {
    const { s, start, posts } = await world()
    s.fault('POST /api/v3/order', { kind: 'accept-stall' })
    const d = start('timeout', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) }, { timeoutMs: 300 })
    await d.step(0)
    await d.step(1) // the send times out: UNKNOWN, then looked up
    await d.step(2)
    expect(posts()).toHaveLength(1)
    expect(s.orders).toHaveLength(1)
    const cid = s.orders[0]!.clientOrderId
    const j = d.journal()
    expect(j.order(cid)).toMatchObject({ state: 'FILLED', filled: 0.01, exchangeOrderId: String(s.orders[0]!.orderId) })
    expect(readFileSync(j.file, 'utf8')).toMatch(/"type":"unknown"/)
    expect(j.position('scripted', 'BTC/USDT')).toBe(0.01)
    expect(d.alerts()).toContain(`UNKNOWN resolved by lookup: ${cid} is at the venue as order ${s.orders[0]!.orderId} (closed, filled 0.01 of 0.01); not sent again`)
    const status = await d.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01, avgPrice: marketAt(1) })])
    expect(posts()).toHaveLength(1)
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
        ctx.sell('BTC/USDT', { qty: 0.01, limit: 5000 }) // no BTC to sell
        ctx.buy('BTC/USDT', { qty: 0.000001 }) // below the lot step: ccxt refuses it before sending
      },
    }, { over: { cash: 100_000 } })
    await d.step(0)
    await d.step(1)
    await d.step(2)
    await d.step(3)
    expect(posts().map((p) => p.params.quantity)).toEqual(['0.001', '7', '0.01'])
    // In the order the answers came back (ccxt refuses the last one before sending anything).
    const rejected = d.rec.orders.filter((o) => o.status === 'REJECTED').map((o) => [o.order.side, o.order.qty, o.reason])
    expect(rejected.sort((a, b) => (a[1] as number) - (b[1] as number))).toEqual([
      ['buy', 0.000001, 'InvalidOrder: amount of BTC/USDT must be greater than minimum amount precision of 0.00001'],
      ['buy', 0.001, 'BadRequest: Filter failure: NOTIONAL (code -1013)'],
      ['sell', 0.01, 'InsufficientFunds: Account has insufficient balance for requested action.'],
      ['buy', 7, 'InsufficientFunds: Account has insufficient balance for requested action.'],
    ])
    const j = d.journal()
    expect([...j.current.orders.values()].map((o) => o.state)).toEqual(['REJECTED', 'REJECTED', 'REJECTED', 'REJECTED'])
    expect(s.orders).toHaveLength(0)
    const status = await d.stop()
    expect(status.positions).toEqual([])
    expect(posts()).toHaveLength(3)
  })
})
