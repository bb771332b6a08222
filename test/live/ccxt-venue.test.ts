// CcxtVenue through the real ccxt against the loopback Binance stand-in: orders, fills, cancels and
// balances, and each fault the issue names (timeout after acceptance, 429, maintenance, refusals, a cancel
// racing a fill). Expected values are computed here from the stand-in's price function and fee rates, or
// read from what the stand-in recorded — never from the venue's own output.

import { afterEach, describe, expect, it, vi } from 'vitest'
import { BrokerError, ConfigError } from '../../lib/core/index.js'
import { CcxtVenue, redact, type CcxtVenueOptions } from '../../lib/live/ccxt-venue.js'
import { WallClock, type Clock } from '../../lib/live/feed.js'
import type { VenueEvent } from '../../lib/live/venue.js'
import { standinPrice, startBinanceStandin, type Standin, type StandinOptions } from '../fixtures/binance-standin.js'

const NOW = Date.UTC(2024, 0, 10, 5, 30, 15)
const CREDS = { apiKey: 'test-api-key-4f2b9c', secret: 'test-secret-8d1e77a0' }
const FEE = 0.001
const r8 = (x: number) => Math.round(x * 1e8) / 1e8

/** The stand-in's time; sleeps are recorded (the backoff asked for) and return at once. */
class StandinClock implements Clock {
  sleeps: number[] = []
  constructor(
    private readonly standin: Standin,
    private readonly real = false,
  ) {}
  now(): number {
    return this.standin.now()
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms)
    return this.real ? new WallClock().sleep(ms) : new Promise((resolve) => setImmediate(resolve))
  }
}

let standin: Standin | undefined
let venue: CcxtVenue | undefined

afterEach(async () => {
  await venue?.close()
  await standin?.close()
  venue = undefined
  standin = undefined
})

async function setup(options: Partial<StandinOptions> = {}, venueOptions: Partial<CcxtVenueOptions> = {}, realSleep = false) {
  const s = await startBinanceStandin({ now: NOW, balances: { USDT: 10_000 }, ...options })
  standin = s
  const clock = new StandinClock(s, realSleep)
  const events: VenueEvent[] = []
  const alerts: string[] = []
  const v = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, clock, pollMs: 0, backoffMs: 5, timeoutMs: 1500, onAlert: (l) => alerts.push(l), ...venueOptions })
  venue = v
  v.events((e) => events.push(e))
  await v.start({ symbols: ['BTC/USDT', 'ETH/USDT'], kinds: new Set(['market', 'limit', 'stop']) })
  const posts = () => s.signed.filter((r) => r.method === 'POST' && r.path === '/api/v3/order')
  return { s, v, clock, events, alerts, posts }
}

/** The first minute after NOW whose price is at or below `limit` (the stand-in's own price function). */
function minuteAtOrBelow(limit: number): number {
  for (let t = NOW + 60_000; t < NOW + 30 * 86_400_000; t += 60_000) if (standinPrice('BTCUSDT', t) <= limit) return t
  throw new Error('no such minute')
}

const types = (events: VenueEvent[]) => events.map((e) => e.type)
const fills = (events: VenueEvent[]) => events.filter((e): e is Extract<VenueEvent, { type: 'fill' }> => e.type === 'fill')

describe('CcxtVenue against the Binance stand-in', () => {
  it('places a market order: ack, one taker fill at the market price with the fee in USDT, balances moved', async () => {
    const { s, v, events, posts } = await setup()
    const px = standinPrice('BTCUSDT', NOW)
    v.submit({ cid: 'mtabc1', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01, reduceOnly: true })
    await v.settled()
    expect(types(events)).toEqual(['ack', 'fill'])
    expect(events[0]).toMatchObject({ type: 'ack', cid: 'mtabc1', exchangeId: String(s.orders[0]!.orderId) })
    expect(fills(events)[0]).toMatchObject({ cid: 'mtabc1', tradeId: 'BTC/USDT:1', qty: 0.01, price: px, fee: r8(0.01 * px * FEE), liquidity: 'taker' })
    // What went over the wire: the client id as newClientOrderId, the key header, a signature, no reduceOnly on spot.
    expect(posts()).toHaveLength(1)
    expect(posts()[0]).toMatchObject({ apiKey: CREDS.apiKey, signed: true, params: { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.01', newClientOrderId: 'mtabc1' } })
    expect(posts()[0]!.params.reduceOnly).toBeUndefined()
    const balances = await v.balances()
    expect(balances.BTC!.total).toBe(0.01)
    expect(balances.USDT!.total).toBeCloseTo(10_000 - 0.01 * px - r8(0.01 * px * FEE), 8)
    expect(await v.positions()).toEqual({ 'BTC/USDT': 0.01, 'ETH/USDT': 0 })
    // A later REST poll sees the same trade and reports nothing twice.
    await v.pollFills()
    expect(fills(events)).toHaveLength(1)
  })

  it('rests a limit order, reports a partial fill and the rest when the price crosses, by REST polling', async () => {
    const { s, v, events } = await setup()
    const limit = Math.round((standinPrice('BTCUSDT', NOW) - 8) * 100) / 100
    v.submit({ cid: 'mtabc2', symbol: 'BTC/USDT', side: 'buy', kind: 'limit', qty: 0.02, limit })
    await v.settled()
    expect(types(events)).toEqual(['ack'])
    expect(s.balance('USDT').locked).toBeCloseTo(0.02 * limit, 8)
    s.fill('mtabc2', 0.005)
    await v.pollFills()
    expect(fills(events)).toEqual([expect.objectContaining({ qty: 0.005, price: limit, fee: r8(0.005 * limit * FEE), liquidity: 'maker' })])
    expect(await v.lookup('mtabc2', 'BTC/USDT')).toMatchObject({ status: 'open', filled: 0.005 })
    s.setNow(minuteAtOrBelow(limit))
    await v.pollFills()
    expect(fills(events).map((f) => f.qty)).toEqual([0.005, 0.015])
    expect(new Set(fills(events).map((f) => f.tradeId)).size).toBe(2)
    const state = await v.lookup('mtabc2', 'BTC/USDT')
    expect(state).toMatchObject({ cid: 'mtabc2', status: 'closed', filled: 0.02 })
    expect(state!.average).toBeCloseTo(limit, 8)
    expect(s.balance('USDT')).toEqual({ free: r8(10_000 - 0.02 * limit - r8(0.005 * limit * FEE) - r8(0.015 * limit * FEE)), locked: 0 })
  })

  it('cancels a resting order: cancel event, funds unlocked', async () => {
    const { s, v, events } = await setup()
    const limit = Math.round((standinPrice('BTCUSDT', NOW) - 20) * 100) / 100
    v.submit({ cid: 'mtabc3', symbol: 'BTC/USDT', side: 'buy', kind: 'limit', qty: 0.01, limit })
    await v.settled()
    v.cancel('mtabc3')
    await v.settled()
    expect(types(events)).toEqual(['ack', 'cancel'])
    expect(s.orders[0]!.status).toBe('CANCELED')
    expect(s.balance('USDT')).toEqual({ free: 10_000, locked: 0 })
    expect(() => v.cancel('mtnever1')).toThrow(ConfigError)
  })

  it('a send that times out after the exchange accepted it is unknown, never resent; lookup and polling find the one order', async () => {
    const { s, v, events, posts } = await setup({}, { timeoutMs: 400 })
    s.fault('POST /api/v3/order', { kind: 'accept-stall' })
    v.submit({ cid: 'mtabc4', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01 })
    await v.settled()
    expect(types(events)).toEqual(['unknown'])
    expect((events[0] as { reason: string }).reason).toMatch(/RequestTimeout/)
    expect(posts()).toHaveLength(1)
    expect(s.orders).toHaveLength(1)
    expect(await v.lookup('mtabc4', 'BTC/USDT')).toMatchObject({ cid: 'mtabc4', exchangeId: String(s.orders[0]!.orderId), status: 'closed', filled: 0.01 })
    await v.pollFills()
    expect(types(events)).toEqual(['unknown', 'ack', 'fill'])
    expect(fills(events)[0]).toMatchObject({ cid: 'mtabc4', qty: 0.01, price: standinPrice('BTCUSDT', NOW) })
    expect(posts()).toHaveLength(1)
    expect(s.orders).toHaveLength(1)
    // An answer that comes after the client gave up is the same: unknown, one order, nothing resent.
    s.fault('POST /api/v3/order', { kind: 'accept-late', ms: 800 })
    v.submit({ cid: 'mtabcl', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01 })
    await v.settled()
    expect(events.at(-1)).toMatchObject({ type: 'unknown', cid: 'mtabcl' })
    expect(posts()).toHaveLength(2)
    expect(s.orders.map((o) => o.clientOrderId)).toEqual(['mtabc4', 'mtabcl'])
  })

  it('a fill polled for an order whose answer never came maps to its client id through the exchange', async () => {
    const { s, v, events } = await setup({}, { timeoutMs: 400 })
    s.fault('POST /api/v3/order', { kind: 'accept-stall' })
    v.submit({ cid: 'mtabc5', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01 })
    await v.settled()
    await v.pollFills() // no lookup first
    expect(types(events)).toEqual(['unknown', 'ack', 'fill'])
    expect(events[1]).toMatchObject({ exchangeId: String(s.orders[0]!.orderId) })
  })

  it('429 before acceptance is retried with bounded backoff honouring Retry-After; exhausted, it is a reject', async () => {
    const { s, v, clock, events, posts } = await setup({}, { retries: 3 })
    s.fault('POST /api/v3/order', { kind: 'rate-limit', retryAfter: 2 }, { kind: 'rate-limit', retryAfter: 2 })
    v.submit({ cid: 'mtabc6', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01 })
    await v.settled()
    expect(posts()).toHaveLength(3)
    expect(clock.sleeps).toEqual([2000, 2000])
    expect(types(events)).toEqual(['ack', 'fill'])
    expect(s.orders).toHaveLength(1)

    s.fault('POST /api/v3/order', { kind: 'rate-limit', retryAfter: 0 }, { kind: 'rate-limit', retryAfter: 0 }, { kind: 'rate-limit', retryAfter: 0 }, { kind: 'rate-limit' })
    v.submit({ cid: 'mtabc7', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01 })
    await v.settled()
    expect(posts()).toHaveLength(6) // 3 attempts, then no more
    expect(clock.sleeps).toEqual([2000, 2000, 5, 10])
    expect(events.at(-1)).toMatchObject({ type: 'reject', cid: 'mtabc7' })
    expect((events.at(-1) as { reason: string }).reason).toMatch(/refused 3 times by the rate limit.*Too much request weight/)
    expect(s.orders).toHaveLength(1)
  })

  it('maintenance: the send is unknown, reads fail with a clear error after bounded retries, nothing crashes; after it, lookup says never placed', async () => {
    const { s, v, events, posts } = await setup({}, { retries: 3 })
    s.setMaintenance(true)
    v.submit({ cid: 'mtabc8', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01 })
    await v.settled()
    expect(types(events)).toEqual(['unknown'])
    expect((events[0] as { reason: string }).reason).toMatch(/OnMaintenance.*System is under maintenance/)
    const seen = s.requests.length
    await expect(v.lookup('mtabc8', 'BTC/USDT')).rejects.toThrow(/binance lookup mtabc8 failed after 3 attempts: OnMaintenance: System is under maintenance/)
    expect(s.requests.length - seen).toBe(3)
    await expect(v.balances()).rejects.toThrow(BrokerError)
    s.setMaintenance(false)
    expect(posts()).toHaveLength(0) // the maintenance answer came before the order API
    expect(await v.lookup('mtabc8', 'BTC/USDT')).toBeUndefined()
    expect((await v.balances()).USDT!.total).toBe(10_000)
  })

  it('InvalidOrder / InsufficientFunds / below minimum notional are rejects with the reason, sent exactly once', async () => {
    const { s, v, events, posts } = await setup()
    v.submit({ cid: 'mtabc9', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.001 }) // ~1 USDT < 5
    await v.settled()
    expect(posts()).toHaveLength(1)
    v.submit({ cid: 'mtabca', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 20 }) // ~30,000 USDT > 10,000
    await v.settled()
    expect(posts()).toHaveLength(2)
    v.submit({ cid: 'mtabcb', symbol: 'ETH/USDT', side: 'sell', kind: 'limit', qty: 1, limit: 2000 }) // no ETH
    await v.settled()
    expect(posts()).toHaveLength(3)
    v.submit({ cid: 'mtabcc', symbol: 'BTC/USDT', side: 'buy', kind: 'limit', qty: 9001, limit: 1 }) // above LOT_SIZE's maxQty
    await v.settled()
    v.submit({ cid: 'mtabcd', symbol: 'DOGE/USDT', side: 'buy', kind: 'market', qty: 1 })
    expect(types(events)).toEqual(['reject', 'reject', 'reject', 'reject', 'reject'])
    const reasons = events.map((e) => (e as { reason: string }).reason)
    expect(reasons[0]).toMatch(/Filter failure: NOTIONAL \(code -1013\)/)
    expect(reasons[1]).toMatch(/InsufficientFunds: Account has insufficient balance/)
    expect(reasons[2]).toMatch(/InsufficientFunds: Account has insufficient balance/)
    expect(reasons[3]).toMatch(/InvalidOrder: Filter failure: LOT_SIZE \(code -1013\)/)
    expect(reasons[4]).toMatch(/DOGE\/USDT was not among the symbols/)
    expect(posts()).toHaveLength(4)
    expect(s.orders).toHaveLength(0)
  })

  it('a partial fill, then a cancel racing with -2011 Unknown order: the fill is reported once, then the cancel; position = filled qty, fee counted', async () => {
    const { s, v, events } = await setup()
    const limit = Math.round((standinPrice('BTCUSDT', NOW) - 20) * 100) / 100
    v.submit({ cid: 'mtabce', symbol: 'BTC/USDT', side: 'buy', kind: 'limit', qty: 0.01, limit })
    await v.settled()
    s.fill('mtabce', 0.004)
    s.fault('DELETE /api/v3/order', { kind: 'unknown-order' })
    v.cancel('mtabce')
    await v.settled()
    expect(types(events)).toEqual(['ack', 'fill', 'cancel'])
    expect(fills(events)[0]).toMatchObject({ qty: 0.004, price: limit, fee: r8(0.004 * limit * FEE) })
    expect(events[2]).toMatchObject({ type: 'cancel', reason: 'canceled at the venue' })
    await v.pollFills()
    expect(fills(events)).toHaveLength(1)
    expect(await v.positions(['BTC/USDT'])).toEqual({ 'BTC/USDT': 0.004 })
    expect(s.balance('USDT')).toEqual({ free: r8(10_000 - 0.004 * limit - r8(0.004 * limit * FEE)), locked: 0 })
  })

  it('a cancel of an order that filled meanwhile reports the fills and no cancel', async () => {
    const { s, v, events } = await setup()
    const limit = Math.round((standinPrice('BTCUSDT', NOW) - 20) * 100) / 100
    v.submit({ cid: 'mtabcf', symbol: 'BTC/USDT', side: 'buy', kind: 'limit', qty: 0.01, limit })
    await v.settled()
    s.fill('mtabcf', 0.01)
    v.cancel('mtabcf')
    await v.settled()
    expect(types(events)).toEqual(['ack', 'fill'])
  })

  it('a stop order goes out as STOP_LOSS with its trigger and fills as taker once the price falls through it', async () => {
    const { s, v, events, posts } = await setup({ balances: { USDT: 10_000, BTC: 0.05 } })
    const stop = Math.round((standinPrice('BTCUSDT', NOW) - 8) * 100) / 100
    v.submit({ cid: 'mtabci', symbol: 'BTC/USDT', side: 'sell', kind: 'stop', qty: 0.02, stop, reduceOnly: true })
    await v.settled()
    expect(posts()[0]!.params).toMatchObject({ type: 'STOP_LOSS', stopPrice: String(stop), quantity: '0.02', newClientOrderId: 'mtabci' })
    expect(s.balance('BTC')).toEqual({ free: 0.03, locked: 0.02 })
    const t = minuteAtOrBelow(stop)
    s.setNow(t)
    await v.pollFills()
    const px = standinPrice('BTCUSDT', t)
    expect(types(events)).toEqual(['ack', 'fill'])
    expect(fills(events)[0]).toMatchObject({ qty: 0.02, price: px, fee: r8(0.02 * px * FEE), liquidity: 'taker', time: t })
  })

  it('polls fills in the background after start, every pollMs of its clock', async () => {
    const { s, v, events } = await setup({}, { pollMs: 20 }, true)
    const limit = Math.round((standinPrice('BTCUSDT', NOW) - 20) * 100) / 100
    v.submit({ cid: 'mtabcj', symbol: 'BTC/USDT', side: 'buy', kind: 'limit', qty: 0.01, limit })
    await v.settled()
    s.fill('mtabcj', 0.01)
    await vi.waitFor(() => expect(types(events)).toEqual(['ack', 'fill']), { timeout: 4000, interval: 20 })
    expect(fills(events)[0]).toMatchObject({ cid: 'mtabcj', qty: 0.01, price: limit })
  })

  it('a retry after a 429 that finds its client id taken is unknown, not a reject (the first attempt reached the book)', async () => {
    const { s, v, events, posts } = await setup()
    s.fault('POST /api/v3/order', { kind: 'rate-limit', retryAfter: 0 }, { kind: 'answer', status: 400, body: { code: -2010, msg: 'Duplicate order sent.' } })
    v.submit({ cid: 'mtabck', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01 })
    await v.settled()
    expect(posts()).toHaveLength(2)
    expect(types(events)).toEqual(['unknown'])
    expect((events[0] as { reason: string }).reason).toMatch(/client id taken.*Duplicate order sent/)
  })

  it('without fetchOrder, lookup by client id scans open and closed orders', async () => {
    const s = await startBinanceStandin({ now: NOW, balances: { USDT: 10_000 } })
    standin = s
    const v = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, pollMs: 0, clock: new StandinClock(s) })
    venue = v
    const events: VenueEvent[] = []
    v.events((e) => events.push(e))
    ;(v.exchange.has as Record<string, unknown>).fetchOrder = false
    await v.start({ symbols: ['BTC/USDT'], kinds: new Set(['market', 'limit']) })
    const limit = Math.round((standinPrice('BTCUSDT', NOW) - 20) * 100) / 100
    v.submit({ cid: 'mtscan1', symbol: 'BTC/USDT', side: 'buy', kind: 'limit', qty: 0.01, limit })
    v.submit({ cid: 'mtscan2', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01 })
    await v.settled()
    expect(await v.lookup('mtscan1', 'BTC/USDT')).toMatchObject({ exchangeId: String(s.orders[0]!.orderId), status: 'open', filled: 0 })
    expect(await v.lookup('mtscan2', 'BTC/USDT')).toMatchObject({ exchangeId: String(s.orders[1]!.orderId), status: 'closed', filled: 0.01 })
    expect(await v.lookup('mtscan3', 'BTC/USDT')).toBeUndefined()
    expect(s.signed.some((r) => r.path === '/api/v3/order' && r.method === 'GET')).toBe(false)
    expect(s.signed.some((r) => r.path === '/api/v3/allOrders')).toBe(true)
  })

  it('start refuses markets of two quote currencies (ETH/BTC beside BTC/USDT made a −14.4 BTC position and 21,700 USDT of cash that did not exist: an audit)', async () => {
    const s = await startBinanceStandin({ now: NOW, markets: { BTCUSDT: ['BTC', 'USDT'], ETHBTC: ['ETH', 'BTC'], ETHUSDT: ['ETH', 'USDT'] } })
    standin = s
    const v = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, pollMs: 0 })
    v.events(() => {})
    await expect(v.start({ symbols: ['BTC/USDT', 'ETH/BTC'], kinds: new Set(['market']) })).rejects.toThrow(
      "a live deployment's markets share one quote currency, in which its cash and P&L are counted (BTC/USDT in USDT, ETH/BTC in BTC): deploy each quote currency's markets apart",
    )
    await v.start({ symbols: ['BTC/USDT', 'ETH/USDT'], kinds: new Set(['market']) })
    expect(s.signed).toHaveLength(0)
  })

  it('start refuses an exchange lacking a needed capability, naming it; a sandbox the exchange lacks; missing credentials', async () => {
    const s = await startBinanceStandin({ now: NOW })
    standin = s
    const v = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, pollMs: 0 })
    v.events(() => {})
    ;(v.exchange.has as Record<string, unknown>).fetchMyTrades = false
    await expect(v.start({ symbols: ['BTC/USDT'], kinds: new Set(['market']) })).rejects.toThrow(/^binance cannot be traded live through ccxt: it lacks fetchMyTrades/)
    ;(v.exchange.has as Record<string, unknown>).fetchMyTrades = true
    ;(v.exchange.has as Record<string, unknown>).createStopOrder = false
    ;(v.exchange.has as Record<string, unknown>).createTriggerOrder = false
    await expect(v.start({ symbols: ['BTC/USDT'], kinds: new Set(['market', 'stop']) })).rejects.toThrow(/lacks createStopOrder \(stop orders\)/)
    await expect(v.start({ symbols: ['BTC/XYZ'], kinds: new Set(['market']) })).rejects.toThrow(/unknown symbol "BTC\/XYZ" on binance/)
    expect(s.signed).toHaveLength(0)
    expect(() => new CcxtVenue('kraken', { credentials: CREDS, sandbox: true })).toThrow(/kraken has no sandbox\/testnet in ccxt; run without --sandbox/)
    expect(() => new CcxtVenue('binance', { credentials: { apiKey: '', secret: 'x' } } as CcxtVenueOptions)).toThrow(/needs credentials.apiKey/)
    const sandboxed = new CcxtVenue('binance', { credentials: CREDS, sandbox: true, apiUrl: s.url })
    expect(sandboxed.exchange.isSandboxModeEnabled).toBe(true)
  })

  it('credentials, signatures and signed URLs never appear in errors, reasons or alerts', async () => {
    const { s, v, events, alerts } = await setup({}, { retries: 2, timeoutMs: 400 })
    // An answer that echoes the key (a proxy's error page), and a server error whose ccxt message carries the signed URL.
    s.fault('GET /api/v3/account', { kind: 'answer', status: 400, body: { code: -2015, msg: `Invalid API-key ${CREDS.apiKey}, IP, or permissions for action. (Basic ${Buffer.from(CREDS.apiKey).toString('base64')})` } })
    const first = await v.balances().catch((e: unknown) => e as Error)
    s.fault('GET /api/v3/account', { kind: 'answer', status: 502, body: 'Bad Gateway' }, { kind: 'answer', status: 502, body: 'Bad Gateway' })
    const second = await v.balances().catch((e: unknown) => e as Error)
    s.fault('GET /api/v3/order', { kind: 'stall' }, { kind: 'stall' })
    const third = await v.lookup('mtabcg', 'BTC/USDT').catch((e: unknown) => e as Error)
    s.fault('POST /api/v3/order', { kind: 'stall' })
    v.submit({ cid: 'mtabch', symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.01 })
    await v.settled()
    const texts = [first, second, third].flatMap((e) => [(e as Error).message, String(((e as Error).cause as Error | undefined)?.message)])
    expect(texts[0]).toMatch(/Invalid API-key \*\*\*, IP/)
    expect(texts[2]).toMatch(/failed after 2 attempts: ExchangeNotAvailable/)
    expect(texts[4]).toMatch(/RequestTimeout/)
    const everything = [...texts, ...events.map((e) => JSON.stringify(e)), ...alerts].join('\n')
    expect(everything).not.toContain(CREDS.apiKey)
    expect(everything).not.toContain(CREDS.secret)
    expect(everything).not.toMatch(/signature=[0-9a-f]/)
    expect(everything).not.toMatch(/timestamp=\d/)
    expect(everything).not.toContain(Buffer.from(CREDS.apiKey).toString('base64'))
    expect(redact(`GET http://x/api/v3/account?timestamp=1&signature=abc key ${CREDS.secret}`, [CREDS.secret])).toBe('GET http://x/api/v3/account?… key ***')
    // Every form an exchange may echo a secret in, as the terminal's redaction takes them (an attack review found
    // the URL-encoded, twice JSON-escaped and base64 forms in alerts.jsonl, which took out the raw value only).
    const odd = 'k+y/= "q\\z&%'
    const forms = [odd, encodeURIComponent(odd), new URLSearchParams({ v: odd }).toString().slice(2), JSON.stringify(odd).slice(1, -1), JSON.stringify(JSON.stringify(odd).slice(1, -1)).slice(1, -1), Buffer.from(odd).toString('base64'), Buffer.from(odd).toString('base64url')]
    for (const form of forms) expect(redact(`echo ${form} end`, [odd]), form).toBe('echo *** end')
  })
})
