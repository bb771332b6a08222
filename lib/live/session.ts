// A deployment's engine session: the backtest's engine (same order manager, portfolio, sizing, caps,
// brackets) fed closed bars as a MarketFeed delivers them, stepped to each batch's watermark. A bar is
// refused — never traded on — when it is still open by the clock, not on its series' grid, out of order,
// late (its close time already stepped) or not a valid OHLCV bar.
//
// Orders go to the session's venue. SimVenue (paper, the default): the engine fills them against the bars
// with the backtest's fill model, and the journal records what it did. A venue that fills orders itself
// (CcxtVenue): each order's intent is journaled (written; fsync'd before or while it goes out) with its client order id, marked sent, then handed
// to the venue; the venue's answers — acknowledgement, fills, cancels, rejections, "unknown" — come back as
// events, are journaled first (a fill whose trade id was seen is dropped there) and then applied to the
// engine, between steps, never inside one. Spot venues have no reduce-only flag, so exits and bracket legs
// are clamped here to the position they reduce (an exit also to what exits already sent leave); a fill
// that still takes a position past flat (both bracket legs filled at the venue) is booked as the venue
// reports it and said in an alert line. An exit waits (journaled) while same-side orders it cancels still
// hold the coins; a sent order whose quantity changes (a bracket leg following its entry's later fills) is
// cancelled and placed again for what is left under a new client id.

import { ConfigError, DataError, isoTime } from '../core/index.js'
import { buildSessionEngine, collectResults, type BacktestResult, type SessionEngineOptions } from '../backtest/index.js'
import { reduceTo, type Engine, type SeriesState } from '../backtest/engine.js'
import type { Clock, FeedBar, MarketFeed } from './feed.js'
import { checkVenueFill, type OrderJournal } from './journal.js'
import { intentOf, simJournalHooks } from './sim-venue.js'
import type { Venue, VenueEvent, VenueOrder } from './venue.js'
import type { Order } from '../backtest/orders.js'
import type { EngineHooks } from '../backtest/engine.js'

export interface SessionOptions {
  /** Refuses bars that have not closed by this clock (a live feed's guard; a replay needs none). Stamps the journal of a live venue. */
  clock?: Clock
  /** The deployment's order journal: every order placed, filled, amended, cancelled (SimVenue: flushed per step). Required with a live venue. */
  journal?: OrderJournal
  /** Where orders go (default: the simulated exchange, SimVenue). */
  venue?: Venue
  /** Every venue event as it is applied, and every problem applying one (an alert line). */
  onEvent?: (event: VenueEvent, problem?: string) => void
}

export class EngineSession {
  readonly engine: Engine
  private started = false
  private finished = false
  /** The last watermark stepped to. */
  private stepped = -Infinity
  private last: SeriesState | undefined = undefined

  private readonly clock: Clock | undefined
  private journal: OrderJournal | undefined
  private readonly venue: Venue | undefined
  private readonly onEvent: ((event: VenueEvent, problem?: string) => void) | undefined
  /** Live venue: the engine's orders by client order id (how a venue's answer finds its order). */
  readonly orders = new Map<string, Order>()
  /** Live venue: orders journaled and waiting to be sent until same-side orders being cancelled are gone. */
  private readonly parked: Order[] = []
  /**
   * Live venue with OCO lists (venue.submitList): bracket legs journaled and waiting for the end of the
   * current drain or step, so a take-profit and a stop-loss of one entry go out together as one list.
   */
  private readonly pendingLegs: Order[] = []
  /** Live venue: sent orders whose quantity changed, being cancelled to be placed again (see `amended`). */
  private readonly replacing = new Set<Order>()
  /** Live venue: what a replaced order had filled when its current client id was journaled (that id's quantity is the rest). */
  private readonly base = new Map<Order, number>()
  /** Venue events waiting for the engine to be between steps. */
  private readonly inbox: VenueEvent[] = []
  private busy = false
  private drainScheduled = false

  constructor(options: SessionEngineOptions, session: SessionOptions = {}) {
    const live = session.venue !== undefined && !session.venue.matchesOnBars
    this.engine = buildSessionEngine(options, { external: live })
    this.clock = session.clock
    this.journal = session.journal
    this.venue = session.venue
    this.onEvent = session.onEvent
    if (live) {
      if (this.journal === undefined) throw new ConfigError('a live venue needs the order journal (intents are journaled before orders are sent)')
      if (this.journal.durability === 'step') throw new ConfigError('a live venue needs journal durability "each" or "strict": an intent must be written before its order is sent')
      if (this.clock === undefined) throw new ConfigError('a live venue needs a clock')
      this.engine.hooks = this.liveHooks(this.journal, session.venue!, this.clock)
      session.venue!.events((event) => this.deliver(event))
    } else if (this.journal !== undefined) this.engine.hooks = simJournalHooks(this.engine, this.journal)
  }

  /**
   * The engine's order flow to a live venue: intent (written, its fsync started or done) → sent → venue.submit, in that order, for
   * every order the engine places; a cancel or an expiry becomes a cancel request. Fills, cancels and
   * rejections are journaled when the venue reports them (applyVenueEvent), not here.
   */
  private liveHooks(journal: OrderJournal, venue: Venue, clock: Clock): EngineHooks {
    return {
      placed: (order: Order) => {
        // Exits and bracket legs only reduce. Spot venues have no reduce-only flag (Binance refuses it), so
        // the quantity is clamped here to the position it closes or protects; with nothing to reduce the order
        // is journaled and refused without being sent.
        let nothing = ''
        if (order.role !== 'entry') {
          const position = (order.side === 'buy' ? -1 : 1) * this.positionOf(order.strategy, order.symbol)
          // An exit also leaves room for the exits already sent and not yet filled (a close asked again before
          // the first one's fill came back). Bracket legs are alternatives to each other (OCO): each covers it all.
          const pending = order.role === 'exit' ? this.pendingExits(order) : 0
          const held = Math.max(0, position - pending)
          if (held <= 1e-12) nothing = `nothing to reduce: ${order.strategy} holds ${Math.max(0, position)} ${order.side === 'sell' ? 'long' : 'short'} on ${order.symbol}${pending > 0 ? `, all of it covered by exits already sent (${pending})` : ''}; not sent`
          else order.qty = reduceTo(order.qty, held, this.engine.options.lotSize)
        }
        const now = clock.now()
        this.intent(order, order.qty, now)
        if (nothing !== '') {
          this.deliver({ type: 'reject', cid: order.cid, reason: nothing, time: now })
          return
        }
        // Spot: orders of the same side being cancelled (a bracket leg a close withdraws) still lock the coins
        // this one sells until their cancel is confirmed; sent before that, it would be refused for
        // insufficient balance. It waits, journaled as an intent, and goes out once they are gone. A sell entry
        // without shorts (live spot) waits the same way: "cancel my resting sell, then sell" was refused live (a
        // review), and sent at once it could sell twice if the resting one filled before its cancel landed.
        if (this.reducesOnly(order) && this.blockers(order)) {
          this.parked.push(order)
          return
        }
        this.dispatch(order, now)
      },
      amended: (order: Order) => {
        const o = journal.current.orders.get(order.cid)
        if (o === undefined || o.state === 'INTENT') {
          journal.amend(order.cid, order.qty - (this.base.get(order) ?? 0), clock.now())
          return
        }
        // Sent: the venue's order keeps the quantity it was sent with (a bracket leg following its entry's
        // later fills must grow, and spot orders cannot grow in place). It is cancelled, and placed again
        // for what is left under a new client id once the cancel is confirmed (or once it has filled).
        if (this.replacing.has(order)) return
        this.replacing.add(order)
        venue.cancel(order.cid)
      },
      filled: () => {},
      ended: () => {},
      withdraw: (order: Order) => {
        const pending = this.pendingLegs.indexOf(order)
        if (pending >= 0) {
          // Journaled, waiting for its sibling to go out with it: never sent, so cancelled here.
          this.pendingLegs.splice(pending, 1)
          this.deliver({ type: 'cancel', cid: order.cid, reason: 'cancelled before it was sent', time: clock.now() })
          return
        }
        const at = this.parked.indexOf(order)
        // Being replaced: its cancel is on its way already, and now ends the order.
        if (at < 0 && this.replacing.has(order)) this.replacing.delete(order)
        else if (at < 0) venue.cancel(order.cid)
        else {
          // Never sent: nothing to ask the venue; cancelled here.
          this.parked.splice(at, 1)
          this.deliver({ type: 'cancel', cid: order.cid, reason: 'cancelled before it was sent', time: clock.now() })
        }
      },
    }
  }

  /** Journal an order's intent for `qty` under the next client order id, which becomes the order's. */
  private intent(order: Order, qty: number, now: number): void {
    const placed = this.journal!.intent(intentOf(this.engine, order, qty), now)
    order.cid = placed.clientOrderId
    this.orders.set(order.cid, order)
  }

  /** A sent order whose quantity changed, its old venue order gone: placed again for what is left, under a new client id. */
  private replace(order: Order): void {
    this.replacing.delete(order)
    const left = order.qty - order.filled
    if (!order.working || !(left > 1e-12)) return
    const now = this.clock!.now()
    this.base.set(order, order.filled)
    this.intent(order, left, now)
    if (this.reducesOnly(order) && this.blockers(order)) this.parked.push(order)
    else this.dispatch(order, now)
  }

  /** Exits and bracket legs; and, where the sleeve may not go short (live spot), any sell. */
  private reducesOnly(order: Order): boolean {
    if (order.role !== 'entry') return true
    return order.side === 'sell' && this.engine.sleeves.find((s) => s.name === order.strategy)?.book.limits.allowShort === false
  }

  /** A bracket leg waits for its sibling when the venue takes OCO lists; anything else is sent now. */
  private dispatch(order: Order, now: number): void {
    if (this.venue?.submitList !== undefined && (order.role === 'stop-loss' || order.role === 'take-profit') && order.parentId > 0) this.pendingLegs.push(order)
    else this.send(order, now)
  }

  /**
   * The legs waiting since this drain or step began: a take-profit limit and a stop-loss stop of one entry,
   * same side and quantity, go out as one OCO list — on spot they then lock the coins once, where two orders
   * would each need them. A leg whose sibling is still being cancelled at the venue (both are replaced when
   * their entry's later fills grow them) waits for it; any other goes out alone.
   */
  private flushLegs(): void {
    if (this.pendingLegs.length === 0) return
    const legs = this.pendingLegs.splice(0)
    const now = this.clock!.now()
    const gone = new Set<Order>()
    for (const leg of legs) {
      if (gone.has(leg)) continue
      gone.add(leg)
      if (!leg.working) continue
      const left = leg.qty - leg.filled
      const sibling = legs.find((o) => !gone.has(o) && o.working && o.parentId === leg.parentId && o.role !== leg.role && o.side === leg.side && o.symbol === leg.symbol && Math.abs(o.qty - o.filled - left) <= 1e-12)
      if (sibling === undefined) {
        const waiting = [...this.replacing].some((o) => o !== leg && o.parentId === leg.parentId && o.working && o.role !== leg.role)
        if (waiting) {
          this.pendingLegs.push(leg)
          continue
        }
        // Its sibling still rests at the venue on its own (a take-profit filled in part: Binance ended the
        // stop of their list; a leg placed again after a restart): alone, this leg would need the coins the
        // sibling holds. The sibling is cancelled too, and both go out again as one list.
        const partner = this.engine.order(leg.parentId)?.children?.find((o) => o !== leg && o.working && o.role !== leg.role && o.side === leg.side && o.cid !== '' && !this.parked.includes(o) && !this.pendingLegs.includes(o))
        if (partner !== undefined && partner.withdrawing === '') {
          this.replacing.add(partner)
          this.venue!.cancel(partner.cid)
          this.pendingLegs.push(leg)
          continue
        }
        this.send(leg, now)
        continue
      }
      gone.add(sibling)
      const [takeProfit, stopLoss] = leg.role === 'take-profit' ? [leg, sibling] : [sibling, leg]
      if (takeProfit.type !== 'limit' || stopLoss.type !== 'stop') {
        this.send(leg, now)
        this.send(sibling, now)
        continue
      }
      const listCid = `${stopLoss.cid}L`
      this.journal!.sent(takeProfit.cid, now, listCid)
      this.journal!.sent(stopLoss.cid, now, listCid)
      this.venue!.submitList!({ listCid, legs: [this.venueOrder(takeProfit), this.venueOrder(stopLoss)] })
    }
  }

  /** Journal "sent", then hand the order to the venue (what is left of it: a replacement carries only that). */
  private send(order: Order, now: number): void {
    this.journal!.sent(order.cid, now)
    this.venue!.submit(this.venueOrder(order))
  }

  private venueOrder(order: Order): VenueOrder {
    return {
      cid: order.cid,
      symbol: order.symbol,
      side: order.side,
      kind: order.type,
      qty: order.qty - order.filled,
      ...(order.type === 'limit' ? { limit: order.limit } : {}),
      ...(order.type === 'stop' ? { stop: order.stop } : {}),
      ...(order.role === 'entry' ? {} : { reduceOnly: true }),
    }
  }

  /** Whether orders of the same sleeve, symbol and side that were sent are being cancelled (their coins still locked). */
  private blockers(order: Order): boolean {
    const sleeve = this.engine.sleeves.find((s) => s.name === order.strategy)
    if (sleeve === undefined) return false
    for (const view of this.engine.workingOrders(sleeve, order.symbol)) {
      const o = view as Order
      if (o !== order && o.side === order.side && o.cid !== '' && o.withdrawing !== '' && !this.parked.includes(o)) return true
    }
    return false
  }

  /** Parked orders whose blockers are gone: clamped again to what is left to reduce, then sent (or refused unsent). */
  private releaseParked(): void {
    if (this.parked.length === 0) return
    for (const order of this.parked.slice()) {
      if (this.blockers(order)) continue
      this.parked.splice(this.parked.indexOf(order), 1)
      if (!order.working) continue
      const now = this.clock!.now()
      // A leg may have filled instead of being cancelled: what is left of the position decides.
      const position = (order.side === 'buy' ? -1 : 1) * this.positionOf(order.strategy, order.symbol)
      // A sell entry (no shorts) leaves what the sleeve's other working sells take (as the engine sized it).
      const sleeve = this.engine.sleeves.find((s) => s.name === order.strategy)
      // Parked sells still waiting behind it are not counted: they are released after it, in the order they came,
      // so the first gets what is left first (counted, the later one took its share and the first was cut below
      // the venue's minimum: a review).
      const waiting = this.parked.reduce((sum, o) => (o !== order && o.side === 'sell' && o.strategy === order.strategy && o.symbolIndex === order.symbolIndex && (o.role === 'entry' || o.role === 'exit') ? sum + (o.qty - o.filled) : sum), 0)
      const others = order.role === 'exit' ? this.pendingExits(order) : order.role === 'entry' && sleeve !== undefined ? Math.max(0, this.engine.workingOn(sleeve, order.symbolIndex, order) - waiting) : 0
      const held = Math.max(0, position - others)
      if (held <= 1e-12) {
        this.deliver({ type: 'reject', cid: order.cid, reason: `nothing to reduce: ${order.strategy} holds no ${order.side === 'sell' ? 'long' : 'short'} on ${order.symbol} left to ${order.role === 'exit' ? 'close' : order.role === 'entry' ? 'sell (no short selling)' : 'protect'}; not sent`, time: now })
        continue
      }
      const left = order.qty - order.filled
      const room = reduceTo(left, held, this.engine.options.lotSize)
      if (room < left) {
        order.qty = order.filled + room
        this.journal!.amend(order.cid, order.qty - (this.base.get(order) ?? 0), now)
      }
      this.dispatch(order, now)
    }
  }

  /** The symbol's last close in the engine (NaN before its first bar). */
  markOf(symbol: string): number {
    const k = this.engine.symbolIndex.get(symbol)
    return k === undefined ? NaN : this.engine.marks[k]!
  }

  /** A sleeve's net position on a symbol (0 for a name or symbol it does not trade). */
  private positionOf(strategy: string, symbol: string): number {
    const k = this.engine.symbolIndex.get(symbol)
    const sleeve = this.engine.sleeves.find((s) => s.name === strategy)
    return k === undefined || sleeve === undefined ? 0 : sleeve.book.positions[k]!.qty
  }

  /** What the sleeve's other exits on the order's symbol and side, sent and still working, have left to fill. */
  private pendingExits(order: Order): number {
    const sleeve = this.engine.sleeves.find((s) => s.name === order.strategy)
    if (sleeve === undefined) return 0
    let sum = 0
    for (const o of this.engine.workingOrders(sleeve, order.symbol)) if (o.id !== order.id && o.role === 'exit' && o.side === order.side && o.status !== 'NEW') sum += o.qty - o.filled
    return sum
  }

  /** A venue event from outside the venue's own sink (a deployment resolving an UNKNOWN order by lookup): applied as `deliver` does. */
  enqueue(event: VenueEvent): void {
    this.deliver(event)
  }

  /** A venue event: applied now if the engine is between steps, else when the current step ends. */
  private deliver(event: VenueEvent): void {
    this.inbox.push(event)
    if (this.busy || this.drainScheduled) return
    this.drainScheduled = true
    queueMicrotask(() => {
      this.drainScheduled = false
      this.drainInbox()
    })
  }

  /** Applies every waiting venue event, in arrival order. */
  drainInbox(): void {
    if (this.busy) return
    // Parked orders are looked at once the events are in (one may be the cancel they wait for); what they
    // cause (a refusal) is applied in the same drain.
    do {
      while (this.inbox.length > 0) this.applyVenueEvent(this.inbox.shift()!)
      this.releaseParked()
      this.flushLegs()
    } while (this.inbox.length > 0)
    this.journal?.flush()
  }

  /**
   * One venue event: journaled first (the journal refuses what cannot follow, and drops a trade id seen
   * before), then applied to the engine. An event for an order this process does not hold is journaled
   * only when the journal knows it (reconciliation after a restart); otherwise it is reported as a problem.
   */
  applyVenueEvent(event: VenueEvent): void {
    const journal = this.journal!
    const order = this.orders.get(event.cid)
    if (!journal.current.orders.has(event.cid)) {
      this.onEvent?.(event, `the venue reported ${event.type} for ${event.cid}, which this deployment never placed`)
      return
    }
    this.busy = true
    try {
      switch (event.type) {
        case 'ack': {
          const known = journal.order(event.cid)
          if (known.state === 'REJECTED') {
            // The venue has an order the journal gave up on (it was not found for the whole grace period): it
            // is the venue's now — said loudly, never silently left working unmanaged.
            this.onEvent?.(event, `the venue acknowledged ${event.cid} (${known.side} ${known.qty} ${known.symbol}), which the journal had rejected as never placed; it rests at the venue unmanaged — cancel it there (reconciliation lists it)`)
            return
          }
          if (known.exchangeOrderId === undefined || known.state === 'UNKNOWN') journal.ack(event.cid, event.exchangeId, event.time)
          // Found after a cancel overtook it: the cancel is asked again now that the venue has it.
          if (order !== undefined && order.working && order.withdrawing !== '' && order.cid === event.cid) this.venue?.cancel(order.cid)
          break
        }
        case 'fill': {
          // Numbers no market gives (lib/live/journal.ts checkVenueFill): the venue's quantity booked at the last
          // close, said loudly; with no close to book at, refused (an alert; reconciliation lists it).
          let { price, fee } = event
          let feeQty = event.feeQty
          const fix = journal.current.tradeIds.has(event.tradeId) ? undefined : checkVenueFill(event, this.markOf(journal.order(event.cid).symbol))
          if (fix !== undefined) {
            const o = journal.order(event.cid)
            const what = `fill ${event.tradeId} of ${event.cid} (${o.side} ${event.qty} ${o.symbol}) has ${fix.why}`
            if (fix.price === undefined) throw new DataError(`${what}; not booked: no last close to book it at`)
            this.onEvent?.(event, `${what}: no market's; booked at ${fix.price === event.price ? 'its price' : `the last close ${fix.price}`}${fix.fee === event.fee ? '' : ` with fee ${fix.fee}`} — check it at the venue`)
            price = fix.price
            // A fee found wrong is not taken from the units either.
            if (fix.fee !== event.fee) feeQty = undefined
            fee = fix.fee
          }
          if (!journal.fill(event.cid, { tradeId: event.tradeId, qty: event.qty, price, fee, feeQty }, event.time)) return
          if (order === undefined) break
          // An exit or bracket leg that takes the position past flat: on spot nothing stops both OCO legs from
          // filling at the venue (no reduce-only, no linked order). The venue is the truth: the fill is booked
          // as reported, reconciliation compares the position, and this says what happened.
          const held = order.role === 'entry' ? 0 : (order.side === 'buy' ? -1 : 1) * this.positionOf(order.strategy, order.symbol)
          this.engine.venueFill(order, event.qty, price, fee, event.liquidity, event.time, feeQty ?? 0)
          // Being replaced, and its old venue order filled before the cancel: no cancel will come; the rest goes out now.
          if (this.replacing.has(order) && order.cid === event.cid && journal.order(event.cid).state === 'FILLED') this.replace(order)
          if (order.role !== 'entry' && event.qty > held + 1e-12) {
            const now = this.positionOf(order.strategy, order.symbol)
            this.onEvent?.(event, `${event.cid} (${order.role}, ${order.side} ${event.qty} ${order.symbol}) filled past the position it reduces (${held} held): ${order.strategy} now holds ${now} — both legs of a bracket filled at the venue, or an exit raced another; booked as the venue reports`)
          }
          break
        }
        case 'cancel': {
          const state = journal.order(event.cid).state
          if (state === 'FILLED' || state === 'REJECTED' || state === 'CANCELLED') break
          if (order !== undefined && order.cid === event.cid && this.replacing.has(order)) {
            // The old venue order of one being replaced: gone, so the new one goes out.
            journal.cancel(event.cid, event.time, `replaced: quantity now ${order.qty - order.filled} left`)
            this.replace(order)
            break
          }
          const reason = order !== undefined && order.withdrawing === 'EXPIRED' ? `expired: ${order.withdrawReason}` : order !== undefined && order.withdrawing !== '' ? order.withdrawReason : event.reason
          journal.cancel(event.cid, event.time, reason)
          if (order !== undefined) this.engine.venueCancelled(order, event.reason)
          break
        }
        case 'reject': {
          const o = journal.order(event.cid)
          if (o.filled > 0 || o.state === 'FILLED' || o.state === 'CANCELLED' || o.state === 'REJECTED') {
            this.onEvent?.(event, `the venue rejected ${event.cid}, which is ${o.state} with ${o.filled} filled; ignored`)
            return
          }
          journal.reject(event.cid, event.reason, event.time)
          if (order !== undefined) this.engine.venueRejected(order, event.reason)
          break
        }
        case 'unknown':
          if (journal.order(event.cid).state === 'FILLED' || journal.order(event.cid).state === 'CANCELLED' || journal.order(event.cid).state === 'REJECTED') break
          journal.unknown(event.cid, event.reason, event.time)
          break
      }
      this.onEvent?.(event)
    } catch (error) {
      // An answer the journal refuses (a fill past the order's quantity, an event after a rejection): the
      // venue and the journal disagree. Said as an alert and left to reconciliation — never a crash that
      // would leave the venue's orders unmanaged.
      if (!(error instanceof DataError)) throw error
      this.onEvent?.(event, `the journal refused the venue's ${event.type} for ${event.cid}: ${error.message}; reconciliation settles it`)
    } finally {
      this.busy = false
    }
  }

  /**
   * Paper: carry on with another journal (a restarted replay re-runs into a scratch journal up to its last
   * mark, checks it against the real one, then switches to it). The engine's other hooks (guards) stay.
   */
  switchJournal(next: OrderJournal): void {
    if (this.venue !== undefined && !this.venue.matchesOnBars) throw new ConfigError('a live session keeps its journal')
    this.journal?.flush()
    this.journal = next
    this.engine.hooks = { ...this.engine.hooks, ...simJournalHooks(this.engine, next) }
  }

  /** onStart for every strategy (after the history, if any, is in place). */
  start(): void {
    if (this.started) throw new ConfigError('this session has started already')
    this.started = true
    this.engine.begin()
    this.journal?.flush()
  }

  /** The last watermark stepped to (a bar closing at or before it is late: `onBar` refuses it). */
  get watermark(): number {
    return this.stepped
  }

  /** One closed bar of a subscribed series: held, streamed into the indicators, stepped by the next `advanceTo`. */
  onBar(bar: FeedBar): void {
    const s = this.checked(bar)
    if (bar.closeTime <= this.stepped) throw refused(bar, `late — its close time was stepped already (watermark ${isoTime(this.stepped)})`)
    this.engine.append(s, bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume)
  }

  /**
   * A closed bar that closes at or before the watermark already stepped, after its series' last bar (a live
   * feed's symbol back from stale hands over the bars it owed): into the series and its indicators and its
   * symbol's mark, not stepped — no strategy is told, no order meets it (its time is past).
   */
  onLateBar(bar: FeedBar): void {
    const s = this.checked(bar)
    if (bar.closeTime > this.stepped) throw refused(bar, `not late — it closes after the watermark (${isoTime(this.stepped)}): feed it to onBar`)
    this.engine.appendPast(s, bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume)
  }

  /** The bar's series, once the bar is one it may hold: subscribed, closed, after the series' last bar, a valid OHLCV bar. */
  private checked(bar: FeedBar): SeriesState {
    if (!this.started || this.finished) throw new ConfigError(this.finished ? 'this session has finished' : 'start the session before feeding it bars')
    // The series of the last bar, when this one is of the same (a replay's bars mostly are): no key per bar.
    let s = this.last
    if (s === undefined || s.symbol !== bar.symbol || s.timeframe !== bar.timeframe) {
      s = this.engine.seriesByKey.get(`${bar.symbol}@${bar.timeframe}`)
      if (s === undefined) throw new DataError(`bar for ${bar.symbol} ${bar.timeframe}: not subscribed; the session trades ${[...this.engine.seriesByKey.keys()].join(', ')}`)
      this.last = s
    }
    const { time, open, high, low, close, volume } = bar
    if (!(bar.closeTime === time + s.tfMs && Number.isFinite(time))) throw refused(bar, `close time must be its open + ${bar.timeframe} (received ${bar.closeTime})`)
    if (this.clock !== undefined && bar.closeTime > this.clock.now()) throw refused(bar, `still open (it closes at ${isoTime(bar.closeTime)}, the clock reads ${isoTime(this.clock.now())})`)
    if (s.n > 0 && !(time > s.bars.time[s.n - 1]!)) throw refused(bar, `not after the series' last bar (${isoTime(s.bars.time[s.n - 1]!)})`)
    // Finite, and a bar: (NaN fails every comparison, so one test each). A volume may be missing (NaN), as in the lake
    // and the backtest: a source without volume (the EuStockMarkets samples) — a paper replay of them was refused.
    const volumeOk = volume !== volume || (volume >= 0 && volume < Infinity)
    if (!(high >= open && high >= close && low <= open && low <= close && low > 0 && high < Infinity && volumeOk)) {
      const finite = Number.isFinite(open + high + low + close)
      throw refused(bar, finite && volumeOk ? `not a valid bar (open ${open}, high ${high}, low ${low}, close ${close}, volume ${volume})` : finite ? `volume must be a number ≥ 0 or missing (received ${volume})` : 'prices must be finite numbers')
    }
    // A volume cap on a series without any volume filled nothing and said nothing (the backtest refuses it at start).
    if (volume !== volume && this.engine.cappedWithoutVolume(s)) throw refused(bar, `has no volume, and fills.volumeShare ${this.engine.options.fills.volumeShare} caps each fill at a share of its bar's volume: no order would ever fill; leave volumeShare out for these bars`)
    return s
  }

  /** Steps every held bar closing at or before `watermark`, in the backtest's tie order. */
  advanceTo(watermark: number): void {
    if (!(watermark >= this.stepped)) throw new DataError(`watermark ${watermark} is before the last one (${this.stepped})`)
    this.stepped = watermark
    this.busy = true
    try {
      this.engine.advance(watermark)
    } finally {
      this.busy = false
    }
    if (this.journal !== undefined) {
      this.journal.mark(watermark, this.clock?.now() ?? watermark)
      this.journal.flush()
    }
    if (this.inbox.length > 0 || this.parked.length > 0 || this.pendingLegs.length > 0) this.drainInbox()
  }

  /** The end of the data (a replay that ran out): as a backtest ends — brackets expire, open trades are marked open. */
  finish(): void {
    if (this.finished) return
    this.finished = true
    this.engine.end()
    this.journal?.flush()
  }

  results(periodsPerYear?: number): BacktestResult {
    return collectResults(this.engine, periodsPerYear)
  }

  /** Feeds every batch of a feed (bars, then the watermark), then finishes. */
  async run(feed: MarketFeed): Promise<void> {
    if (!this.started) this.start()
    for await (const batch of feed.batches()) {
      for (const bar of batch.bars) this.onBar(bar)
      this.advanceTo(batch.watermark)
    }
    this.finish()
  }
}

function refused(bar: FeedBar, why: string): DataError {
  return new DataError(`bar ${bar.symbol} ${bar.timeframe} ${Number.isFinite(bar.time) ? isoTime(bar.time) : String(bar.time)}: ${why}`)
}
