// Reconciliation against the Binance stand-in through the real ccxt, with a real journal on disk: a
// position closed at the exchange while the deployment was down, a fill missed, UNKNOWN orders resolved
// each way, a venue that cannot be read (the deployment halts); and the pure comparison on hand-built
// states. Expected values come from the stand-in's records and price function, not from reconcile itself.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BrokerError } from '../../lib/core/index.js'
import { CcxtVenue } from '../../lib/live/ccxt-venue.js'
import type { Clock } from '../../lib/live/feed.js'
import { foldJournal, OrderJournal, type JournalEvent, type OrderIntent } from '../../lib/live/journal.js'
import { appendReconciliation, fetchVenueView, reconcile, type VenueView } from '../../lib/live/reconcile.js'
import type { VenueEvent } from '../../lib/live/venue.js'
import { standinPrice, startBinanceStandin, type Standin } from '../fixtures/binance-standin.js'

const NOW = Date.UTC(2024, 0, 10, 5, 30, 15)
const CREDS = { apiKey: 'rec-api-key-77aa', secret: 'rec-secret-19bd' }
const FEE = 0.001
const r8 = (x: number) => Math.round(x * 1e8) / 1e8
const SYMBOLS = ['BTC/USDT']

class StandinClock implements Clock {
  constructor(private readonly standin: Standin) {}
  now(): number {
    return this.standin.now()
  }
  sleep(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve))
  }
}

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function world() {
  const s = await startBinanceStandin({ now: NOW, balances: { USDT: 10_000 } })
  const dir = mkdtempSync(join(tmpdir(), 'mtflow-reconcile-'))
  cleanup.push(() => s.close(), () => rmSync(dir, { recursive: true, force: true }))
  const clock = new StandinClock(s)
  /** A venue wired to the journal, as a deployment runs it (a restart is a new venue and a reopened journal). */
  const run = async (journal: OrderJournal, options: { retries?: number; timeoutMs?: number } = {}) => {
    const v = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, clock, pollMs: 0, backoffMs: 1, timeoutMs: options.timeoutMs ?? 1500, retries: options.retries ?? 3, since: NOW - 60_000 })
    cleanup.push(() => v.close())
    v.events((e: VenueEvent) => {
      if (e.type === 'ack') journal.ack(e.cid, e.exchangeId, e.time)
      else if (e.type === 'fill') journal.fill(e.cid, { tradeId: e.tradeId, qty: e.qty, price: e.price, fee: e.fee }, e.time)
      else if (e.type === 'cancel') journal.cancel(e.cid, e.time, e.reason)
      else if (e.type === 'reject') journal.reject(e.cid, e.reason, e.time)
      else journal.unknown(e.cid, e.reason, e.time)
    })
    await v.start({ symbols: SYMBOLS, kinds: new Set(['market', 'limit']) })
    return v
  }
  const send = async (journal: OrderJournal, venue: CcxtVenue, intent: Omit<OrderIntent, 'strategy' | 'symbol'>) => {
    const o = journal.intent({ strategy: 's1', symbol: 'BTC/USDT', ...intent }, s.now())
    journal.sent(o.clientOrderId, s.now())
    venue.submit({ cid: o.clientOrderId, symbol: 'BTC/USDT', side: intent.side, kind: intent.kind, qty: intent.qty, ...(intent.price === undefined ? {} : { limit: intent.price }) })
    await venue.settled()
    return o.clientOrderId
  }
  const posts = () => s.signed.filter((r) => r.method === 'POST' && r.path === '/api/v3/order').length
  return { s, dir, clock, run, send, posts }
}

describe('reconcile against the stand-in', () => {
  it('a position closed at the exchange while the deployment was down becomes a venue snapshot and an alert', async () => {
    const { s, dir, clock, run, send } = await world()
    const j1 = OrderJournal.open(dir, 'dep-rec')
    const v1 = await run(j1)
    await send(j1, v1, { side: 'buy', kind: 'market', qty: 0.01 })
    expect(j1.position('s1', 'BTC/USDT')).toBe(0.01)
    await v1.close()
    s.setNow(NOW + 3_600_000)
    s.trade('BTCUSDT', 'SELL', 0.01) // closed by hand on the exchange's app while the process was down

    const j2 = OrderJournal.open(dir, 'dep-rec')
    const v2 = await run(j2)
    const view = await fetchVenueView(v2, j2.current, SYMBOLS, { clock })
    expect(view.positions).toEqual({ 'BTC/USDT': 0 })
    const rec = reconcile(j2.current, view)
    expect(rec.events).toEqual([{ type: 'snapshot', source: 'venue', positions: { 'BTC/USDT': 0 }, time: NOW + 3_600_000 }])
    expect(rec.alerts).toEqual([
      expect.stringMatching(/^trade BTC\/USDT:2 \(sell 0.01 BTC\/USDT at [\d.]+, order \d+\) is not the deployment's/),
      'position BTC/USDT: the venue holds 0, the journal\'s fills sum to 0.01; the venue\'s position is booked (changed at the venue, e.g. closed while the deployment was down)',
    ])
    appendReconciliation(j2, rec)
    const lines = readFileSync(j2.file, 'utf8').trim().split('\n')
    expect(JSON.parse(lines.at(-1)!)).toEqual(rec.events[0])
  })

  it('a fill missed while the deployment was down is booked once, with the venue\'s trade id, price and fee', async () => {
    const { s, dir, clock, run, send } = await world()
    const j1 = OrderJournal.open(dir, 'dep-rec')
    const v1 = await run(j1)
    const limit = Math.round((standinPrice('BTCUSDT', NOW) - 20) * 100) / 100
    const cid = await send(j1, v1, { side: 'buy', kind: 'limit', qty: 0.02, price: limit })
    expect(j1.order(cid).state).toBe('ACKED')
    await v1.close()
    s.fill(cid, 0.005)

    const j2 = OrderJournal.open(dir, 'dep-rec')
    const v2 = await run(j2)
    const rec = reconcile(j2.current, await fetchVenueView(v2, j2.current, SYMBOLS, { clock }))
    expect(rec.events).toEqual([{ type: 'fill', clientOrderId: cid, tradeId: `BTC/USDT:${s.trades[0]!.id}`, qty: 0.005, price: limit, fee: r8(0.005 * limit * FEE), time: NOW }])
    expect(rec.alerts).toEqual([`fill missed: ${cid} buy 0.005 BTC/USDT at ${limit} (trade BTC/USDT:1)`])
    appendReconciliation(j2, rec)
    expect(j2.order(cid)).toMatchObject({ state: 'PARTIALLY_FILLED', filled: 0.005 })
    expect(j2.position('s1', 'BTC/USDT')).toBe(0.005)
    // Reconciling again finds nothing: the venue and the journal agree.
    expect(reconcile(j2.current, await fetchVenueView(v2, j2.current, SYMBOLS, { clock }))).toEqual({ events: [], alerts: [] })
  })

  it('UNKNOWN orders are resolved by lookup, never resent: accepted → ACKED/FILLED, cancelled there → CANCELLED, never placed → REJECTED', async () => {
    const { s, dir, clock, run, send, posts } = await world()
    const j1 = OrderJournal.open(dir, 'dep-rec')
    const v1 = await run(j1, { timeoutMs: 300 })
    const limit = Math.round((standinPrice('BTCUSDT', NOW) - 20) * 100) / 100
    s.fault('POST /api/v3/order', { kind: 'accept-stall' }, { kind: 'stall' }, { kind: 'accept-stall' }, { kind: 'accept-stall' })
    const filled = await send(j1, v1, { side: 'buy', kind: 'market', qty: 0.01 })
    const never = await send(j1, v1, { side: 'buy', kind: 'market', qty: 0.01 })
    const resting = await send(j1, v1, { side: 'buy', kind: 'limit', qty: 0.01, price: limit })
    const gone = await send(j1, v1, { side: 'buy', kind: 'limit', qty: 0.01, price: limit })
    for (const cid of [filled, never, resting, gone]) expect(j1.order(cid).state).toBe('UNKNOWN')
    await v1.close()
    s.cancel(gone)
    expect(posts()).toBe(4)
    expect(s.orders.map((o) => o.clientOrderId)).toEqual([filled, resting, gone])

    const j2 = OrderJournal.open(dir, 'dep-rec')
    const v2 = await run(j2)
    const rec = reconcile(j2.current, await fetchVenueView(v2, j2.current, SYMBOLS, { clock }))
    const px = standinPrice('BTCUSDT', NOW)
    const [a, c, d] = s.orders.map((o) => String(o.orderId))
    expect(rec.events).toEqual([
      { type: 'ack', clientOrderId: filled, exchangeOrderId: a, time: NOW },
      { type: 'fill', clientOrderId: filled, tradeId: 'BTC/USDT:1', qty: 0.01, price: px, fee: r8(0.01 * px * FEE), time: NOW },
      { type: 'reject', clientOrderId: never, reason: 'never reached the venue', time: NOW },
      { type: 'ack', clientOrderId: resting, exchangeOrderId: c, time: NOW },
      { type: 'ack', clientOrderId: gone, exchangeOrderId: d, time: NOW },
      { type: 'cancel', clientOrderId: gone, reason: 'canceled at the venue', time: NOW },
    ])
    appendReconciliation(j2, rec)
    expect([filled, never, resting, gone].map((cid) => j2.order(cid).state)).toEqual(['FILLED', 'REJECTED', 'ACKED', 'CANCELLED'])
    expect(j2.position('s1', 'BTC/USDT')).toBe(0.01)
    expect(posts()).toBe(4)
    expect(s.orders).toHaveLength(3)
  })

  it('a venue that cannot be read fails after bounded retries with a clear error (the deployment halts); once it answers again, reconciliation resumes', async () => {
    const { s, dir, clock, run, send } = await world()
    const j = OrderJournal.open(dir, 'dep-rec')
    const v = await run(j, { retries: 2 })
    const limit = Math.round((standinPrice('BTCUSDT', NOW) - 20) * 100) / 100
    const cid = await send(j, v, { side: 'buy', kind: 'limit', qty: 0.01, price: limit })
    s.setMaintenance(true)
    const before = s.requests.length
    const error = await fetchVenueView(v, j.current, SYMBOLS, { clock, retries: 2 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BrokerError)
    expect((error as Error).message).toBe(
      `reconciliation could not read order ${cid} from the venue after 2 attempts (binance lookup ${cid} failed after 2 attempts: OnMaintenance: System is under maintenance.); the deployment halts: no new orders, brackets left in place`,
    )
    expect(s.requests.length - before).toBe(4) // 2 outer × 2 inner, then it stops
    expect(j.order(cid).state).toBe('ACKED') // nothing changed
    // Maintenance over: the next reconciliation reads the venue and finds the journal right.
    s.setMaintenance(false)
    expect(reconcile(j.current, await fetchVenueView(v, j.current, SYMBOLS, { clock }))).toEqual({ events: [], alerts: [] })
  })
})

describe('reconcile on hand-built states', () => {
  const intent = (seq: number, cid: string, qty: number, side: 'buy' | 'sell' = 'buy'): JournalEvent => ({ type: 'intent', seq, clientOrderId: cid, time: 1, strategy: 's1', symbol: 'ETH/USDT', side, qty, kind: 'limit', price: 2000 })
  const trade = (id: number, cid: string | undefined, qty: number) => ({ tradeId: `ETH/USDT:${id}`, exchangeOrderId: '9', ...(cid === undefined ? {} : { cid }), symbol: 'ETH/USDT', side: 'buy' as const, qty, price: 2000, fee: 2, liquidity: 'maker' as const, time: 5 })

  it('books a late fill of a cancelled order, refuses an overfill, names foreign orders, and nets out holdings outside the deployment', () => {
    const state = foldJournal([
      intent(1, 'c1', 1),
      { type: 'sent', clientOrderId: 'c1', time: 1 },
      { type: 'ack', clientOrderId: 'c1', exchangeOrderId: '9', time: 2 },
      { type: 'cancel', clientOrderId: 'c1', time: 3 },
      intent(2, 'c2', 1),
      { type: 'sent', clientOrderId: 'c2', time: 1 },
      { type: 'ack', clientOrderId: 'c2', exchangeOrderId: '10', time: 2 },
      { type: 'fill', clientOrderId: 'c2', tradeId: 'ETH/USDT:1', qty: 0.75, price: 2000, fee: 1.5, time: 3 },
    ])
    const view: VenueView = {
      time: 10,
      orders: new Map([['c2', { cid: 'c2', exchangeId: '10', status: 'open', filled: 0.75, average: 2000 }]]),
      openOrders: [
        { cid: 'c2', exchangeId: '10', status: 'open', filled: 0.75, average: 2000, symbol: 'ETH/USDT' },
        { cid: 'web_1', exchangeId: '77', status: 'open', filled: 0, average: NaN, symbol: 'ETH/USDT' },
      ],
      trades: [trade(1, 'c2', 0.75), trade(2, 'c1', 0.5), trade(3, 'c2', 0.5)],
      positions: { 'ETH/USDT': 3.25 },
    }
    const rec = reconcile(state, view, { outside: { 'ETH/USDT': 2 } })
    expect(rec.events).toEqual([{ type: 'fill', clientOrderId: 'c1', tradeId: 'ETH/USDT:2', qty: 0.5, price: 2000, fee: 2, time: 5 }])
    expect(rec.alerts).toEqual([
      'trade ETH/USDT:3 of c2 would fill it past its qty 1 (filled 0.75 + 0.5); not booked',
      'fill missed: c1 buy 0.5 ETH/USDT at 2000 (trade ETH/USDT:2) after it was CANCELLED',
      'order 77 (web_1) is open at the venue on ETH/USDT and is not the deployment\'s',
    ])
    // 3.25 held − 2 outside = 1.25 = 0.75 + 0.5: no snapshot. Without the outside holdings it differs.
    expect(reconcile(state, view).events.at(-1)).toEqual({ type: 'snapshot', source: 'venue', positions: { 'ETH/USDT': 3.25 }, time: 10 })
  })
  it('a fill found by reconciliation with numbers no market gives is booked at the last close (fee 0 when the fee is wrong), or not at all without one, and said', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-reconcile-hostile-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const journal = OrderJournal.open(dir, 'dep-hostile')
    // Three orders closed before a restart (cancelled), each with a trade the venue reports afterwards.
    const cids = [1, 2, 3].map((k) => {
      const o = journal.intent({ strategy: 's1', symbol: 'ETH/USDT', side: 'buy', qty: 1, kind: 'limit', price: 2000 }, k)
      journal.sent(o.clientOrderId, k)
      journal.ack(o.clientOrderId, String(100 + k), k)
      journal.cancel(o.clientOrderId, k)
      return o.clientOrderId
    })
    const hostile = (id: number, cid: string, price: number, fee: number) => ({ ...trade(id, cid, 0.5), price, fee })
    const view: VenueView = { time: 10, orders: new Map(), openOrders: [], trades: [hostile(1, cids[0]!, -1_000_000, 0), hostile(2, cids[1]!, 1990, 1e30), hostile(3, cids[2]!, 2010, 1)], positions: { 'ETH/USDT': 1.5 } }
    const rec = reconcile(journal.current, view)
    expect(rec.events.filter((e) => e.type === 'fill')).toHaveLength(3)
    // Without a last close the price cannot be corrected: that fill is not booked; the fee one is (fee 0).
    const first = appendReconciliation(journal, { events: rec.events.slice(0, 1), alerts: [] })
    expect(first).toEqual([`fill ETH/USDT:1 of ${cids[0]} (buy 0.5 ETH/USDT), found by reconciliation, has price -1000000; not booked: no last close to book it at — check it at the venue`])
    expect(journal.current.tradeIds.has('ETH/USDT:1')).toBe(false)
    const said = appendReconciliation(journal, rec, { markOf: (symbol) => (symbol === 'ETH/USDT' ? 2000 : NaN) })
    expect(said).toEqual([
      `fill ETH/USDT:1 of ${cids[0]} (buy 0.5 ETH/USDT), found by reconciliation, has price -1000000: no market's; booked at the last close 2000 — check it at the venue`,
      `fill ETH/USDT:2 of ${cids[1]} (buy 0.5 ETH/USDT), found by reconciliation, has fee 1e+30 on a trade worth 995: no market's; booked at its price with fee 0 — check it at the venue`,
    ])
    expect([...journal.current.orders.values()].map((o) => [o.filled, o.avgPrice, o.fees])).toEqual([
      [0.5, 2000, 0],
      [0.5, 1990, 0],
      [0.5, 2010, 1],
    ])
    expect(journal.position('s1', 'ETH/USDT')).toBe(1.5)
  })
})
