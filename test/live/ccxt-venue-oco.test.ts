// CcxtVenue's OCO order lists (submitList) through the real ccxt against the loopback Binance stand-in: a
// bracket's take-profit and stop-loss placed as one list that locks the coins once, the other leg ended when
// one executes, cancels of either leg, refusals, 429s and a send whose answer never came. Expected values come
// from the stand-in's price function and fee rate, or from what it recorded — never from the venue's output.

import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { CcxtVenue, type CcxtVenueOptions } from '../../lib/live/ccxt-venue.js'
import { StandinClock } from './live-harness.js'
import type { VenueEvent, VenueOrderList } from '../../lib/live/venue.js'
import { standinPrice, startBinanceStandin, type Standin, type StandinOptions } from '../fixtures/binance-standin.js'

const NOW = Date.UTC(2024, 0, 10, 5, 30, 15)
const CREDS = { apiKey: 'test-api-key-4f2b9c', secret: 'test-secret-8d1e77a0' }
const FEE = 0.001
const PX = standinPrice('BTCUSDT', NOW)
const r2 = (x: number) => Math.round(x * 100) / 100
const r8 = (x: number) => Math.round(x * 1e8) / 1e8

let standin: Standin | undefined
let venue: CcxtVenue | undefined

afterEach(async () => {
  await venue?.close()
  await standin?.close()
  venue = undefined
  standin = undefined
})

async function setup(options: Partial<StandinOptions> = {}, venueOptions: Partial<CcxtVenueOptions> = {}) {
  const s = await startBinanceStandin({ now: NOW, balances: { USDT: 10_000, BTC: 0.05 }, ...options })
  standin = s
  const clock = new StandinClock(s)
  const events: VenueEvent[] = []
  const v = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, clock, pollMs: 0, backoffMs: 5, timeoutMs: 1500, ...venueOptions })
  venue = v
  v.events((e) => events.push(e))
  await v.start({ symbols: ['BTC/USDT'], kinds: new Set(['market', 'limit', 'stop']) })
  const listPosts = () => s.signed.filter((r) => r.method === 'POST' && r.path === '/api/v3/orderList/oco')
  const deletes = () => s.signed.filter((r) => r.method === 'DELETE' && r.path === '/api/v3/order')
  const submitList = (list: VenueOrderList) => {
    if (v.submitList === undefined) throw new Error('the binance venue has no submitList')
    v.submitList(list)
  }
  return { s, v, clock, events, listPosts, deletes, submitList }
}

/** A bracket's exits as one list: take-profit `tp`, stop `stop`, closing a long (sell) or a short (buy). */
function bracket(id: string, side: 'sell' | 'buy', qty: number, tp: number, stop: number): VenueOrderList {
  return {
    listCid: `${id}L`,
    legs: [
      { cid: `${id}T`, symbol: 'BTC/USDT', side, kind: 'limit', qty, limit: tp, reduceOnly: true },
      { cid: `${id}S`, symbol: 'BTC/USDT', side, kind: 'stop', qty, stop, reduceOnly: true },
    ],
  }
}

/** The first minute after NOW whose price satisfies `ok` (the stand-in's own price function). */
function minuteWhere(ok: (price: number) => boolean): number {
  for (let t = NOW + 60_000; t < NOW + 30 * 86_400_000; t += 60_000) if (ok(standinPrice('BTCUSDT', t))) return t
  throw new Error('no such minute')
}

const brief = (events: VenueEvent[]) => events.map((e) => `${e.type} ${e.cid}`)
const fills = (events: VenueEvent[]) => events.filter((e): e is Extract<VenueEvent, { type: 'fill' }> => e.type === 'fill')
const reason = (e: VenueEvent | undefined) => (e as { reason?: string } | undefined)?.reason

describe('CcxtVenue OCO order lists against the Binance stand-in', () => {
  it("places a long's exits as one list: one request, both legs acked, the coins locked once", async () => {
    // 0.02 BTC held: a list of two 0.02 legs fits; two separate orders would need 0.04.
    const { s, v, events, listPosts, submitList } = await setup({ balances: { USDT: 10_000, BTC: 0.02 } })
    const tp = r2(PX + 8)
    const stop = r2(PX - 8)
    submitList(bracket('mtoco1', 'sell', 0.02, tp, stop))
    await v.settled()
    expect(listPosts()).toHaveLength(1)
    expect(listPosts()[0]).toMatchObject({
      apiKey: CREDS.apiKey,
      signed: true,
      params: { symbol: 'BTCUSDT', listClientOrderId: 'mtoco1L', side: 'SELL', quantity: '0.02', aboveType: 'LIMIT_MAKER', aboveClientOrderId: 'mtoco1T', abovePrice: String(tp), belowType: 'STOP_LOSS', belowClientOrderId: 'mtoco1S', belowStopPrice: String(stop) },
    })
    expect(s.signed.filter((r) => r.method === 'POST')).toHaveLength(1)
    expect(s.lists).toEqual([expect.objectContaining({ listClientOrderId: 'mtoco1L', legs: ['mtoco1T', 'mtoco1S'], status: 'EXECUTING' })])
    const [tpOrder, slOrder] = s.orders
    expect(brief(events)).toEqual(['ack mtoco1T', 'ack mtoco1S'])
    expect(events[0]).toMatchObject({ exchangeId: String(tpOrder!.orderId) })
    expect(events[1]).toMatchObject({ exchangeId: String(slOrder!.orderId) })
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0.02 })
    const open = await v.openOrders('BTC/USDT')
    expect(open.map((o) => [o.cid, o.kind, o.price, o.qty, o.side])).toEqual([
      ['mtoco1T', 'limit', tp, 0.02, 'sell'],
      ['mtoco1S', 'stop', stop, 0.02, 'sell'],
    ])
    expect(await v.lookup('mtoco1S', 'BTC/USDT')).toMatchObject({ exchangeId: String(slOrder!.orderId), status: 'open', filled: 0 })
    // The same exits as two plain orders: the second finds the coins taken.
    const s2 = await startBinanceStandin({ now: NOW, balances: { BTC: 0.02 } })
    try {
      const v2 = new CcxtVenue('binance', { apiUrl: s2.url, credentials: CREDS, clock: new StandinClock(s2), pollMs: 0 })
      const events2: VenueEvent[] = []
      v2.events((e) => events2.push(e))
      await v2.start({ symbols: ['BTC/USDT'], kinds: new Set(['limit', 'stop']) })
      const [a, b] = bracket('mtoco2', 'sell', 0.02, tp, stop).legs
      v2.submit(a)
      await v2.settled()
      v2.submit(b)
      await v2.settled()
      await v2.close()
      expect(brief(events2)).toEqual(['ack mtoco2T', 'reject mtoco2S'])
      expect(reason(events2[1])).toMatch(/insufficient balance/)
    } finally {
      await s2.close()
    }
  })

  it('the take-profit fills: its fill, then one cancel for the stop, which the exchange expired', async () => {
    const { s, v, events, submitList } = await setup()
    const tp = r2(PX + 8)
    submitList(bracket('mtoco3', 'sell', 0.02, tp, r2(PX - 8)))
    await v.settled()
    s.setNow(minuteWhere((p) => p >= tp))
    await v.pollFills()
    await v.pollFills()
    expect(brief(events)).toEqual(['ack mtoco3T', 'ack mtoco3S', 'fill mtoco3T', 'cancel mtoco3S'])
    expect(fills(events)[0]).toMatchObject({ qty: 0.02, price: tp, fee: r8(0.02 * tp * FEE), liquidity: 'maker' })
    expect(reason(events[3])).toBe('ended by binance: its OCO sibling mtoco3T executed')
    expect(s.orders.map((o) => o.status)).toEqual(['FILLED', 'EXPIRED'])
    expect(s.lists[0]).toMatchObject({ status: 'ALL_DONE', endedBy: 'execution' })
    expect(s.balance('BTC')).toEqual({ free: 0.03, locked: 0 })
    expect(s.balance('USDT')).toEqual({ free: r8(10_000 + 0.02 * tp - r8(0.02 * tp * FEE)), locked: 0 })
    expect(await v.lookup('mtoco3S', 'BTC/USDT')).toMatchObject({ status: 'expired', filled: 0 })
    expect((await v.orderTrades('mtoco3T', 'BTC/USDT')).map((t) => [t.cid, t.qty, t.price])).toEqual([['mtoco3T', 0.02, tp]])
    // The ended stop is gone at the exchange: cancelling it sends nothing and reports nothing more.
    const before = s.signed.length
    v.cancel('mtoco3S')
    await v.settled()
    expect(s.signed).toHaveLength(before)
    expect(events).toHaveLength(4)
  })

  it('the stop triggers instead: its taker fill at the market price, then the take-profit cancelled', async () => {
    const { s, v, events, submitList } = await setup()
    const stop = r2(PX - 8)
    submitList(bracket('mtoco4', 'sell', 0.02, r2(PX + 8), stop))
    await v.settled()
    const t = minuteWhere((p) => p <= stop)
    s.setNow(t)
    await v.pollFills()
    const px = standinPrice('BTCUSDT', t)
    expect(brief(events)).toEqual(['ack mtoco4T', 'ack mtoco4S', 'fill mtoco4S', 'cancel mtoco4T'])
    expect(fills(events)[0]).toMatchObject({ qty: 0.02, price: px, fee: r8(0.02 * px * FEE), liquidity: 'taker', time: t })
    expect(reason(events[3])).toBe('ended by binance: its OCO sibling mtoco4S executed')
    expect(s.orders.map((o) => o.status)).toEqual(['EXPIRED', 'FILLED'])
    expect(s.balance('BTC')).toEqual({ free: 0.03, locked: 0 })
  })

  it("a short's exits (buy): the stop above, the take-profit below, the quote locked once at the stop's value", async () => {
    const { s, v, events, listPosts, submitList } = await setup({ balances: { USDT: 100 } })
    const tp = r2(PX - 8)
    const stop = r2(PX + 8)
    submitList(bracket('mtoco5', 'buy', 0.05, tp, stop))
    await v.settled()
    expect(listPosts()[0]!.params).toMatchObject({ side: 'BUY', aboveType: 'STOP_LOSS', aboveClientOrderId: 'mtoco5S', aboveStopPrice: String(stop), belowType: 'LIMIT_MAKER', belowClientOrderId: 'mtoco5T', belowPrice: String(tp) })
    expect(brief(events)).toEqual(['ack mtoco5T', 'ack mtoco5S'])
    expect(s.balance('USDT')).toEqual({ free: r8(100 - 0.05 * stop), locked: r8(0.05 * stop) })
    s.setNow(minuteWhere((p) => p <= tp))
    await v.pollFills()
    expect(brief(events).slice(2)).toEqual(['fill mtoco5T', 'cancel mtoco5S'])
    expect(s.balance('USDT')).toEqual({ free: r8(100 - 0.05 * tp - r8(0.05 * tp * FEE)), locked: 0 })
    expect(s.balance('BTC')).toEqual({ free: 0.05, locked: 0 })
  })

  it('a partial fill of the take-profit ends the stop at once; the rest of the take-profit still rests and cancels alone', async () => {
    const { s, v, events, deletes, submitList } = await setup()
    const tp = r2(PX + 8)
    submitList(bracket('mtoco6', 'sell', 0.02, tp, r2(PX - 8)))
    await v.settled()
    s.fill('mtoco6T', 0.005)
    await v.pollFills()
    expect(brief(events)).toEqual(['ack mtoco6T', 'ack mtoco6S', 'fill mtoco6T', 'cancel mtoco6S'])
    expect(fills(events)[0]).toMatchObject({ qty: 0.005, price: tp })
    expect(s.orders.map((o) => o.status)).toEqual(['PARTIALLY_FILLED', 'EXPIRED'])
    // The list locked 0.02 once; the take-profit now needs its remaining 0.015.
    expect(s.balance('BTC')).toEqual({ free: 0.03, locked: 0.015 })
    v.cancel('mtoco6S')
    await v.settled()
    expect(deletes()).toHaveLength(0)
    v.cancel('mtoco6T')
    await v.settled()
    expect(deletes()).toHaveLength(1)
    expect(brief(events).slice(4)).toEqual(['cancel mtoco6T'])
    expect(s.orders.map((o) => o.status)).toEqual(['CANCELED', 'EXPIRED'])
    expect(s.balance('BTC')).toEqual({ free: 0.045, locked: 0 })
  })

  it('cancelling one leg cancels the list with one DELETE: both reported, the coins free; the other leg then sends nothing', async () => {
    const { s, v, events, deletes, submitList } = await setup()
    submitList(bracket('mtoco7', 'sell', 0.02, r2(PX + 8), r2(PX - 8)))
    await v.settled()
    v.cancel('mtoco7S')
    await v.settled()
    expect(deletes()).toHaveLength(1)
    expect(deletes()[0]!.params).toMatchObject({ symbol: 'BTCUSDT', orderId: String(s.orders[1]!.orderId) })
    expect(brief(events)).toEqual(['ack mtoco7T', 'ack mtoco7S', 'cancel mtoco7S', 'cancel mtoco7T'])
    expect(reason(events[2])).toBe('cancelled')
    expect(reason(events[3])).toBe('cancelled with its OCO list')
    expect(s.orders.map((o) => o.status)).toEqual(['CANCELED', 'CANCELED'])
    expect(s.lists[0]).toMatchObject({ status: 'ALL_DONE', endedBy: 'cancel' })
    expect(s.balance('BTC')).toEqual({ free: 0.05, locked: 0 })
    const before = s.signed.length
    v.cancel('mtoco7T')
    await v.settled()
    expect(s.signed).toHaveLength(before)
    expect(events).toHaveLength(4)
  })

  it('both legs cancelled in one breath: still one DELETE and one cancel per leg', async () => {
    const { s, v, events, deletes, submitList } = await setup()
    submitList(bracket('mtoco8', 'sell', 0.02, r2(PX + 8), r2(PX - 8)))
    await v.settled()
    v.cancel('mtoco8T')
    v.cancel('mtoco8S')
    await v.settled()
    expect(deletes()).toHaveLength(1)
    expect(brief(events)).toEqual(['ack mtoco8T', 'ack mtoco8S', 'cancel mtoco8T', 'cancel mtoco8S'])
    expect(s.orders.map((o) => o.status)).toEqual(['CANCELED', 'CANCELED'])
  })

  it('a cancel of a leg whose sibling executed unseen finds it expired: the sibling fill first, then one cancel', async () => {
    const { s, v, events, deletes, submitList } = await setup()
    const tp = r2(PX + 8)
    submitList(bracket('mtoco9', 'sell', 0.02, tp, r2(PX - 8)))
    await v.settled()
    s.fill('mtoco9T', 0.02) // not polled yet
    v.cancel('mtoco9S')
    await v.settled()
    expect(deletes()).toHaveLength(1) // answered -2011 Unknown order: the stop had expired
    expect(brief(events)).toEqual(['ack mtoco9T', 'ack mtoco9S', 'fill mtoco9T', 'cancel mtoco9S'])
    expect(reason(events[3])).toBe('ended by binance: its OCO sibling mtoco9T executed')
    await v.pollFills()
    expect(events).toHaveLength(4)
  })

  it('a wrong price relationship rejects both legs with the reason; nothing rests, nothing is locked', async () => {
    const { s, v, events, listPosts, submitList } = await setup()
    // A take-profit below the market for a sell.
    submitList(bracket('mtocoa', 'sell', 0.02, r2(PX - 4), r2(PX - 8)))
    await v.settled()
    expect(listPosts()).toHaveLength(1)
    expect(brief(events)).toEqual(['reject mtocoaT', 'reject mtocoaS'])
    for (const e of events) expect(reason(e)).toMatch(/The relationship of the prices for the orders is not correct\. \(code -2010\)/)
    expect(s.orders).toHaveLength(0)
    expect(s.lists).toHaveLength(0)
    expect(s.balance('BTC')).toEqual({ free: 0.05, locked: 0 })
    // Too few coins: InsufficientFunds, both legs.
    submitList(bracket('mtocob', 'sell', 0.06, r2(PX + 8), r2(PX - 8)))
    await v.settled()
    expect(brief(events).slice(2)).toEqual(['reject mtocobT', 'reject mtocobS'])
    expect(reason(events[3])).toMatch(/InsufficientFunds: Account has insufficient balance/)
  })

  it('429 then success: the same list sent again after the backoff, one list at the exchange', async () => {
    const { s, v, clock, events, listPosts, submitList } = await setup()
    s.fault('POST /api/v3/orderList/oco', { kind: 'rate-limit', retryAfter: 0 })
    submitList(bracket('mtococ', 'sell', 0.02, r2(PX + 8), r2(PX - 8)))
    await v.settled()
    expect(listPosts()).toHaveLength(2)
    expect(listPosts().map((r) => [r.params.listClientOrderId, r.params.aboveClientOrderId, r.params.belowClientOrderId])).toEqual([
      ['mtococL', 'mtococT', 'mtococS'],
      ['mtococL', 'mtococT', 'mtococS'],
    ])
    expect(clock.sleeps).toEqual([5])
    expect(s.lists).toHaveLength(1)
    expect(s.orders).toHaveLength(2)
    expect(brief(events)).toEqual(['ack mtococT', 'ack mtococS'])
  })

  it('a list accepted but never answered: both legs unknown, never resent; lookup finds both; a later fill still ends the sibling', async () => {
    const { s, v, events, listPosts, submitList } = await setup({}, { timeoutMs: 400 })
    s.fault('POST /api/v3/orderList/oco', { kind: 'accept-stall' })
    const tp = r2(PX + 8)
    submitList(bracket('mtocod', 'sell', 0.02, tp, r2(PX - 8)))
    await v.settled()
    expect(brief(events)).toEqual(['unknown mtocodT', 'unknown mtocodS'])
    expect(reason(events[0])).toMatch(/RequestTimeout/)
    expect(listPosts()).toHaveLength(1)
    expect(s.lists).toHaveLength(1)
    expect(await v.lookup('mtocodT', 'BTC/USDT')).toMatchObject({ exchangeId: String(s.orders[0]!.orderId), status: 'open', kind: 'limit', price: tp })
    expect(await v.lookup('mtocodS', 'BTC/USDT')).toMatchObject({ exchangeId: String(s.orders[1]!.orderId), status: 'open', kind: 'stop' })
    s.fill('mtocodT', 0.02)
    await v.pollFills()
    expect(brief(events).slice(2)).toEqual(['ack mtocodT', 'fill mtocodT', 'cancel mtocodS'])
    expect(listPosts()).toHaveLength(1)
  })

  it('after a restart, adopted legs re-linked as a list: a fill ends the sibling; a cancel reports both', async () => {
    const { s, v, submitList } = await setup()
    const tp = r2(PX + 8)
    submitList(bracket('mtocoh', 'sell', 0.01, tp, r2(PX - 8)))
    submitList(bracket('mtocoi', 'sell', 0.01, tp, r2(PX - 8)))
    await v.settled()
    await v.close()
    // A new process: the legs known again from the journal (client id, symbol, exchange id), nothing sent.
    const writes = () => s.signed.filter((r) => r.method !== 'GET').length
    const sent = writes()
    const again = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, clock: new StandinClock(s), pollMs: 0 })
    venue = again
    const later: VenueEvent[] = []
    again.events((e) => later.push(e))
    await again.start({ symbols: ['BTC/USDT'], kinds: new Set(['limit', 'stop']) })
    for (const o of s.orders) again.adopt(o.clientOrderId, 'BTC/USDT', String(o.orderId))
    again.adoptList('mtocohL', ['mtocohT', 'mtocohS'])
    again.adoptList('mtocoiL', ['mtocoiT', 'mtocoiS'])
    expect(() => again.adoptList('mtocojL', ['mtocojT', 'mtocojS'])).toThrow(/its leg mtocojT is not adopted/)
    expect(writes()).toBe(sent)
    s.fill('mtocohT', 0.01)
    await again.pollFills()
    expect(brief(later)).toEqual(['fill mtocohT', 'cancel mtocohS']) // adopted with its exchange id: acked already
    again.cancel('mtocoiS')
    await again.settled()
    expect(brief(later).slice(2)).toEqual(['cancel mtocoiS', 'cancel mtocoiT'])
    expect(s.orders.map((o) => o.status)).toEqual(['FILLED', 'EXPIRED', 'CANCELED', 'CANCELED'])
  })

  it('a venue on an exchange without lists has no submitList; a malformed list is refused naming what is wrong', async () => {
    expect(new CcxtVenue('kraken', { credentials: CREDS }).submitList).toBeUndefined()
    expect(new CcxtVenue('bybit', { credentials: CREDS }).submitList).toBeUndefined()
    expect(new CcxtVenue('binanceus', { credentials: CREDS }).submitList).toBeTypeOf('function')
    const { v, submitList } = await setup()
    expect(v.submitList).toBeTypeOf('function')
    const swapped = bracket('mtocoe', 'sell', 0.02, r2(PX + 8), r2(PX - 8))
    swapped.legs.reverse()
    expect(() => submitList(swapped)).toThrow(ConfigError)
    expect(() => submitList(swapped)).toThrow(/order list mtocoeL: legs\[0\] must be the take-profit, kind "limit"/)
    const uneven = bracket('mtocof', 'sell', 0.02, r2(PX + 8), r2(PX - 8))
    uneven.legs[1].qty = 0.01
    expect(() => submitList(uneven)).toThrow(/both legs must have one symbol, side and quantity/)
    submitList(bracket('mtocog', 'sell', 0.01, r2(PX + 8), r2(PX - 8)))
    expect(() => submitList(bracket('mtocog', 'sell', 0.01, r2(PX + 8), r2(PX - 8)))).toThrow(/was sent already/)
  })
})
