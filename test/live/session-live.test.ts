// The engine with a venue that fills orders itself (issue 19, points 1–2; lib/live/PLAN.md step 9),
// driven by a scripted asynchronous venue: each intent is on disk before the venue sees the order; acks,
// partial fills, duplicate fills, cancels (asked, expired, raced by a fill), rejections and bracket legs
// come back as events and land in the journal and the engine alike; positions = the sum of the venue's
// fills, worked by hand.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { EngineSession, ManualClock, OrderJournal, type Venue, type VenueEvent, type VenueOrder, type VenueOrderList } from '../../lib/live/index.js'
import { scripted } from '../backtest/scripted.js'
import type { Context } from '../../lib/strategy/index.js'

const H = 3_600_000
const T0 = Date.UTC(2024, 0, 1)
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A venue that answers only when the test says so; it reads the journal when an order reaches it. */
class ScriptedVenue implements Venue {
  readonly matchesOnBars = false
  submitted: VenueOrder[] = []
  cancels: string[] = []
  /** The journal's lines when each order reached the venue. */
  journalAtSubmit: string[] = []
  private sink: (e: VenueEvent) => void = () => {}
  constructor(private readonly journalFile: () => string) {}
  async start(): Promise<void> {}
  submit(order: VenueOrder): void {
    this.submitted.push(order)
    this.journalAtSubmit.push(readFileSync(this.journalFile(), 'utf8'))
  }
  cancel(cid: string): void {
    this.cancels.push(cid)
  }
  async lookup() {
    return undefined
  }
  events(sink: (e: VenueEvent) => void): void {
    this.sink = sink
  }
  async close(): Promise<void> {}
  emit(e: VenueEvent): void {
    this.sink(e)
  }
}

/** The scripted venue, taking OCO lists as CcxtVenue does on Binance spot. */
class ListVenue extends ScriptedVenue {
  lists: VenueOrderList[] = []
  journalAtList: string[] = []
  constructor(private readonly file: () => string) {
    super(file)
  }
  submitList(list: VenueOrderList): void {
    this.lists.push(list)
    this.journalAtList.push(readFileSync(this.file(), 'utf8'))
  }
}

function setup<V extends ScriptedVenue = ScriptedVenue>(script: Record<number, (ctx: Context<Record<string, number>>) => void>, make?: (file: () => string) => V) {
  const dir = mkdtempSync(join(tmpdir(), 'mtflow-live-session-'))
  dirs.push(dir)
  const journal = OrderJournal.open(dir, 'live-test')
  const clock = new ManualClock(T0)
  const venue = (make ?? ((file) => new ScriptedVenue(file) as V))(() => journal.file)
  const problems: string[] = []
  const session = new EngineSession(
    { cash: 10_000, sleeves: [{ strategy: scripted(script), symbols: ['BTC/USDT'], timeframe: '1h', weight: 1 }] },
    { journal, clock, venue, onEvent: (_e, problem) => problem !== undefined && problems.push(problem) },
  )
  session.start()
  let k = 0
  /** The next hourly bar (closed by the clock), stepped. */
  const bar = (close: number) => {
    const time = T0 + k++ * H
    clock.advance(Math.max(0, time + H - clock.now()))
    session.onBar({ symbol: 'BTC/USDT', timeframe: '1h', time, closeTime: time + H, open: close, high: close + 1, low: close - 1, close, volume: 10 })
    session.advanceTo(time + H)
  }
  const settle = () => new Promise((r) => setImmediate(r))
  return { journal, venue, session, bar, settle, problems, clock }
}

describe('a session with a venue that fills orders itself', () => {
  it('intent on disk before the send; partial fills, a duplicate, the position = Σ fills (by hand)', async () => {
    const { journal, venue, session, bar, settle } = setup({ 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.3 }) })
    bar(100)
    expect(venue.submitted).toHaveLength(0)
    bar(101) // index 1: the strategy buys
    expect(venue.submitted).toEqual([{ cid: journal.current.orders.keys().next().value, symbol: 'BTC/USDT', side: 'buy', kind: 'market', qty: 0.3 }])
    const cid = venue.submitted[0]!.cid
    // The venue saw the order only after its intent and "sent" were on disk.
    const lines = venue.journalAtSubmit[0]!.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string; clientOrderId: string }).filter((l) => l.type !== 'mark')
    expect(lines.map((l) => [l.type, l.clientOrderId])).toEqual([
      ['intent', cid],
      ['sent', cid],
    ])
    venue.emit({ type: 'ack', cid, exchangeId: 'X1', time: T0 + 2 * H + 5 })
    venue.emit({ type: 'fill', cid, tradeId: 't1', qty: 0.1, price: 101.5, fee: 0.01, liquidity: 'taker', time: T0 + 2 * H + 6 })
    venue.emit({ type: 'fill', cid, tradeId: 't1', qty: 0.1, price: 101.5, fee: 0.01, liquidity: 'taker', time: T0 + 2 * H + 6 }) // again: a stream and a REST backfill
    venue.emit({ type: 'fill', cid, tradeId: 't2', qty: 0.2, price: 102, fee: 0.02, liquidity: 'taker', time: T0 + 2 * H + 7 })
    await settle()
    const book = session.engine.sleeves[0]!.book
    expect(book.positions[0]!.qty).toBeCloseTo(0.3, 12)
    // Cash: 10,000 − 0.1 × 101.5 − 0.2 × 102 − fees 0.03 = 9,969.42.
    expect(book.cash).toBeCloseTo(9969.42, 9)
    expect(journal.position('scripted', 'BTC/USDT')).toBeCloseTo(0.3, 12)
    expect(journal.order(cid)).toMatchObject({ state: 'FILLED', exchangeOrderId: 'X1', filled: 0.30000000000000004, fees: 0.03 })
    const order = session.orders.get(cid)!
    expect([order.status, order.filled, order.avgPrice]).toEqual(['FILLED', 0.3, (0.1 * 101.5 + 0.2 * 102) / 0.30000000000000004])
    expect(session.engine.sleeves[0]!.fills.count).toBe(2)
  })

  it('an expiry and a strategy cancel are requests; the venue\'s cancel ends them, a fill that raced it still counts', async () => {
    let limitId = 0
    const { journal, venue, session, bar, settle } = setup({
      1: (ctx) => ctx.buy('BTC/USDT', { qty: 1, limit: 95, expireBars: 2 }),
      2: (ctx) => (limitId = ctx.buy('BTC/USDT', { qty: 2, limit: 90 }).id),
      3: (ctx) => ctx.cancel(limitId),
    })
    bar(100)
    bar(100)
    const [expiring] = venue.submitted
    bar(100)
    const second = venue.submitted[1]!
    bar(100) // index 3: the first has worked 2 bars (2, 3): its expiry is asked; then the strategy cancels the second
    expect(venue.cancels).toEqual([expiring!.cid, second.cid])
    expect(session.orders.get(second.cid)!.status).toBe('SUBMITTED') // not cancelled until the venue says so
    // The venue fills 0.5 of it before the cancel lands, then confirms the cancel.
    venue.emit({ type: 'fill', cid: second.cid, tradeId: 'r1', qty: 0.5, price: 90, fee: 0, liquidity: 'maker', time: T0 + 4 * H + 1 })
    venue.emit({ type: 'cancel', cid: second.cid, reason: 'canceled', time: T0 + 4 * H + 2 })
    await settle()
    expect(session.orders.get(second.cid)!).toMatchObject({ status: 'CANCELLED', filled: 0.5, reason: 'cancelled by the strategy' })
    expect(journal.order(second.cid)).toMatchObject({ state: 'CANCELLED', filled: 0.5, reason: 'cancelled by the strategy' })
    bar(100)
    expect(venue.cancels).toEqual([expiring!.cid, second.cid]) // asked once each
    venue.emit({ type: 'cancel', cid: expiring!.cid, reason: 'canceled', time: T0 + 5 * H + 1 })
    // A late fill of the cancelled order (the venue filled it before cancelling; reported after): booked.
    venue.emit({ type: 'fill', cid: second.cid, tradeId: 'r2', qty: 0.25, price: 90, fee: 0, liquidity: 'maker', time: T0 + 5 * H + 2 })
    await settle()
    expect(session.orders.get(expiring!.cid)!).toMatchObject({ status: 'EXPIRED', reason: 'not filled within 2 bars' })
    expect(journal.order(expiring!.cid)).toMatchObject({ state: 'CANCELLED', reason: 'expired: not filled within 2 bars' })
    expect(session.engine.sleeves[0]!.book.positions[0]!.qty).toBe(0.75)
    expect(journal.position('scripted', 'BTC/USDT')).toBe(0.75)
  })

  it('a rejection ends the order with the venue\'s reason and nothing is sent again; unknown waits for a lookup', async () => {
    const { journal, venue, session, bar, settle, problems } = setup({ 1: (ctx) => ctx.buy('BTC/USDT', { qty: 500 }), 2: (ctx) => ctx.buy('BTC/USDT', { qty: 0.1 }) })
    bar(10)
    bar(10)
    const [big] = venue.submitted
    venue.emit({ type: 'reject', cid: big!.cid, reason: 'InsufficientFunds: Account has insufficient balance for requested action.', time: T0 + 2 * H })
    await settle()
    expect(session.orders.get(big!.cid)!).toMatchObject({ status: 'REJECTED', reason: 'InsufficientFunds: Account has insufficient balance for requested action.' })
    expect(journal.order(big!.cid).state).toBe('REJECTED')
    bar(10)
    expect(venue.submitted.map((o) => o.qty)).toEqual([500, 0.1]) // the rejected one was not sent again
    const small = venue.submitted[1]!
    venue.emit({ type: 'unknown', cid: small.cid, reason: 'RequestTimeout after 10000 ms', time: T0 + 3 * H })
    await settle()
    expect(journal.order(small.cid).state).toBe('UNKNOWN')
    expect(session.orders.get(small.cid)!.status).toBe('SUBMITTED')
    venue.emit({ type: 'ack', cid: small.cid, exchangeId: 'X9', time: T0 + 3 * H + 1 }) // the lookup found it
    venue.emit({ type: 'fill', cid: small.cid, tradeId: 'u1', qty: 0.1, price: 10, fee: 0, liquidity: 'taker', time: T0 + 3 * H + 2 })
    venue.emit({ type: 'fill', cid: 'mtnotours1', tradeId: 'z', qty: 1, price: 10, fee: 0, liquidity: 'taker', time: T0 + 3 * H + 3 })
    await settle()
    expect(journal.order(small.cid)).toMatchObject({ state: 'FILLED', exchangeOrderId: 'X9' })
    expect(venue.submitted).toHaveLength(2)
    expect(problems).toEqual(['the venue reported fill for mtnotours1, which this deployment never placed'])
  })

  it('a bracket: the legs are sent reduce-only when the entry fills; one leg filled → the other is cancelled at the venue', async () => {
    const { journal, venue, session, bar, settle } = setup({ 1: (ctx) => ctx.buy('BTC/USDT', { qty: 1, stopLoss: 90, takeProfit: 120 }) })
    bar(100)
    bar(100)
    const entry = venue.submitted[0]!
    venue.emit({ type: 'fill', cid: entry.cid, tradeId: 'e1', qty: 1, price: 100, fee: 0.1, liquidity: 'taker', time: T0 + 2 * H })
    await settle()
    const legs = venue.submitted.slice(1)
    expect(legs.map((o) => [o.side, o.kind, o.qty, o.stop ?? o.limit, o.reduceOnly])).toEqual([
      ['sell', 'stop', 1, 90, true],
      ['sell', 'limit', 1, 120, true],
    ])
    expect(legs.map((o) => journal.order(o.cid).parentCid)).toEqual([entry.cid, entry.cid])
    venue.emit({ type: 'fill', cid: legs[1]!.cid, tradeId: 'tp', qty: 1, price: 120, fee: 0.12, liquidity: 'maker', time: T0 + 3 * H })
    await settle()
    expect(venue.cancels).toEqual([legs[0]!.cid])
    expect(session.orders.get(legs[0]!.cid)!.status).toBe('SUBMITTED')
    venue.emit({ type: 'cancel', cid: legs[0]!.cid, reason: 'canceled', time: T0 + 3 * H + 1 })
    await settle()
    expect(session.orders.get(legs[0]!.cid)!).toMatchObject({ status: 'CANCELLED', reason: 'OCO: take-profit filled' })
    expect(journal.position('scripted', 'BTC/USDT')).toBe(0)
    bar(120)
    const trades = session.results().strategies[0]!.trades
    expect([trades.pnl.length, trades.pnl[0]]).toEqual([1, 20 - 0.22])
  })
})

describe('bracket legs on a venue with OCO lists (Binance spot): one list, never two orders holding the same coins', () => {
  const listVenue = (file: () => string) => new ListVenue(file)

  it('the entry fills: both legs go out as one list (journaled and marked sent first); the take-profit fills, the venue ends the stop', async () => {
    const { journal, venue, session, bar, settle } = setup({ 1: (ctx) => ctx.buy('BTC/USDT', { qty: 1, stopLoss: 90, takeProfit: 120 }) }, listVenue)
    bar(100)
    bar(100)
    const entry = venue.submitted[0]!
    venue.emit({ type: 'fill', cid: entry.cid, tradeId: 'e1', qty: 1, price: 100, fee: 0.1, liquidity: 'taker', time: T0 + 2 * H })
    await settle()
    expect(venue.submitted).toEqual([entry]) // no leg alone
    expect(venue.lists).toHaveLength(1)
    const [tp, sl] = venue.lists[0]!.legs
    expect([tp, sl].map((o) => [o.side, o.kind, o.qty, o.stop ?? o.limit, o.reduceOnly])).toEqual([
      ['sell', 'limit', 1, 120, true],
      ['sell', 'stop', 1, 90, true],
    ])
    expect(venue.lists[0]!.listCid).toBe(`${sl.cid}L`)
    const seen = venue.journalAtList[0]!.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string; clientOrderId?: string }).filter((l) => l.clientOrderId === tp.cid || l.clientOrderId === sl.cid)
    expect(seen.map((l) => l.type).sort()).toEqual(['intent', 'intent', 'sent', 'sent'])
    venue.emit({ type: 'ack', cid: tp.cid, exchangeId: 'X2', time: T0 + 2 * H + 1 })
    venue.emit({ type: 'ack', cid: sl.cid, exchangeId: 'X3', time: T0 + 2 * H + 1 })
    // The take-profit executes; the exchange ends the stop (the venue reports it), and the engine's own OCO
    // asks to cancel it too (the venue sends nothing for a leg already ended).
    venue.emit({ type: 'fill', cid: tp.cid, tradeId: 'tp', qty: 1, price: 120, fee: 0.12, liquidity: 'maker', time: T0 + 3 * H })
    venue.emit({ type: 'cancel', cid: sl.cid, reason: 'ended by binance: its OCO sibling executed', time: T0 + 3 * H })
    await settle()
    expect(venue.cancels).toEqual([sl.cid])
    expect(session.orders.get(sl.cid)!).toMatchObject({ status: 'CANCELLED' })
    expect(journal.order(sl.cid).state).toBe('CANCELLED')
    expect(journal.position('scripted', 'BTC/USDT')).toBe(0)
  })

  it('an entry filled in two parts: the list is cancelled and sent again, whole, under new client ids — no leg goes out alone meanwhile', async () => {
    const { journal, venue, bar, settle, session } = setup({ 1: (ctx) => ctx.buy('BTC/USDT', { qty: 1, stopLoss: 90, takeProfit: 120 }) }, listVenue)
    bar(100)
    bar(100)
    const entry = venue.submitted[0]!
    venue.emit({ type: 'fill', cid: entry.cid, tradeId: 'e1', qty: 0.4, price: 100, fee: 0.04, liquidity: 'taker', time: T0 + 2 * H })
    await settle()
    const [tp1, sl1] = venue.lists[0]!.legs
    expect([tp1.qty, sl1.qty]).toEqual([0.4, 0.4])
    venue.emit({ type: 'ack', cid: tp1.cid, exchangeId: 'X2', time: T0 + 2 * H + 1 })
    venue.emit({ type: 'ack', cid: sl1.cid, exchangeId: 'X3', time: T0 + 2 * H + 1 })
    venue.emit({ type: 'fill', cid: entry.cid, tradeId: 'e2', qty: 0.6, price: 100, fee: 0.06, liquidity: 'taker', time: T0 + 2 * H + 2 })
    await settle()
    // Both legs grow to 1: cancel asked for each (the venue cancels the list once); nothing new until both are gone.
    expect([...venue.cancels].sort()).toEqual([tp1.cid, sl1.cid].sort())
    expect(venue.lists).toHaveLength(1)
    venue.emit({ type: 'cancel', cid: tp1.cid, reason: 'canceled', time: T0 + 2 * H + 3 })
    await settle()
    expect(venue.lists).toHaveLength(1) // the take-profit waits for its sibling's cancel
    expect(venue.submitted).toEqual([entry])
    venue.emit({ type: 'cancel', cid: sl1.cid, reason: 'cancelled with its OCO list', time: T0 + 2 * H + 3 })
    await settle()
    expect(venue.lists).toHaveLength(2)
    const [tp2, sl2] = venue.lists[1]!.legs
    expect([tp2, sl2].map((o) => [o.kind, o.qty, o.stop ?? o.limit])).toEqual([
      ['limit', 1, 120],
      ['stop', 1, 90],
    ])
    expect([tp2.cid, sl2.cid]).not.toContain(tp1.cid)
    expect(journal.order(tp1.cid)).toMatchObject({ state: 'CANCELLED', reason: 'replaced: quantity now 1 left' })
    expect(journal.order(sl2.cid)).toMatchObject({ state: 'SENT', qty: 1 })
    expect(venue.submitted).toEqual([entry])
    expect(session.engine.sleeves[0]!.book.positions[0]!.qty).toBe(1)
  })

  it('a bracket with a stop only: the leg goes out alone, as an order', async () => {
    const { venue, bar, settle } = setup({ 1: (ctx) => ctx.buy('BTC/USDT', { qty: 1, stopLoss: 90 }) }, listVenue)
    bar(100)
    bar(100)
    venue.emit({ type: 'fill', cid: venue.submitted[0]!.cid, tradeId: 'e1', qty: 1, price: 100, fee: 0.1, liquidity: 'taker', time: T0 + 2 * H })
    await settle()
    expect(venue.lists).toEqual([])
    expect(venue.submitted.slice(1).map((o) => [o.kind, o.qty, o.stop])).toEqual([['stop', 1, 90]])
  })
})

// Review: a lagging symbol's late bars (EngineSession.onLateBar → Engine.appendPast) enter the open trades'
// extremes — but a trade the venue opened during the outage did not exist over the late bars that closed
// before its entry: their highs and lows are not its excursions, nor are those bars bars it was held.
describe('late bars of a symbol whose position the venue opened during the outage', () => {
  it('leave the trade opened after them out of its excursions and its bars held', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-review-late-'))
    dirs.push(dir)
    const journal = OrderJournal.open(dir, 'review')
    const clock = new ManualClock(T0)
    const venue = new ScriptedVenue(() => journal.file)
    // At A's bar 0, a limit buy of B at 100 (B trades at 150 meanwhile).
    const strategy = scripted({ 0: (ctx) => ctx.buy('B', { qty: 1, type: 'limit', limit: 100 }) })
    const session = new EngineSession({ cash: 10_000, sleeves: [{ strategy, symbols: ['A', 'B'], timeframe: '1h', weight: 1 }] }, { journal, clock, venue })
    session.start()
    const bar = (symbol: string, k: number, o: number, h: number, l: number, c: number) => ({ symbol, timeframe: '1h', time: T0 + k * H, closeTime: T0 + (k + 1) * H, open: o, high: h, low: l, close: c, volume: 1 })
    clock.advance(H)
    session.onBar(bar('A', 0, 10, 10, 10, 10))
    session.onBar(bar('B', 0, 150, 150, 150, 150))
    session.advanceTo(T0 + H)
    expect(venue.submitted).toHaveLength(1)
    const cid = venue.submitted[0]!.cid
    // B goes quiet; A steps on to hour 4. B traded 150 → 300 (hours 1–2), then fell to 100 in hour 3, where the
    // venue filled the limit buy (at 03:30).
    for (let k = 1; k <= 3; k++) {
      clock.advance(H)
      session.onBar(bar('A', k, 10, 10, 10, 10))
      session.advanceTo(T0 + (k + 1) * H)
    }
    venue.emit({ type: 'ack', cid, exchangeId: 'X1', time: T0 + 3 * H })
    venue.emit({ type: 'fill', cid, tradeId: 't1', qty: 1, price: 100, fee: 0, liquidity: 'maker', time: T0 + 3.5 * H })
    await new Promise((r) => setImmediate(r))
    const book = session.engine.sleeves[0]!.book
    expect(book.positions[1]!.qty).toBe(1)
    // B's owed bars arrive: hours 1 and 2 closed before the entry (03:30); hour 3 holds it.
    session.onLateBar(bar('B', 1, 150, 300, 150, 300))
    session.onLateBar(bar('B', 2, 300, 300, 50, 280))
    session.onLateBar(bar('B', 3, 280, 280, 100, 100))
    // Then both step on at hour 4, and the trade is still open at the end.
    clock.advance(H)
    session.onBar(bar('A', 4, 10, 10, 10, 10))
    session.onBar(bar('B', 4, 100, 110, 95, 105))
    session.advanceTo(T0 + 5 * H)
    session.finish()
    const c = session.results().strategies[0]!.trades
    const k = c.symbol.indexOf('B')
    const t = { entryPrice: c.entryPrice[k], mae: c.mae[k], mfe: c.mfe[k], barsHeld: c.barsHeld[k] }
    expect(t.entryPrice).toBe(100)
    // Over its life (03:30 on) B's range was 95 … 280 (hour 3's high is the bar holding the entry, taken as a whole
    // bar, as a stepped bar is): MFE 180 %, MAE −5 %. Hour 1's high of 300 and hour 2's low of 50 came before it.
    expect(t.mfe).toBeCloseTo(1.8, 12)
    expect(t.mae).toBeCloseTo(-0.05, 12)
    // Entered in hour 3 (after hour 2's bar): 2 bars held (hours 3 and 4), as when B's bars had come in time.
    expect(t.barsHeld).toBe(2)
  })
})
