// Reconciliation (issue 19 point 3): the venue is the truth. `fetchVenueView` reads what the venue says —
// each order the journal still has open (by client id), the orders open there, trades the journal may lack,
// positions — with bounded retries, then throws (the caller halts the deployment). `reconcile` is pure: it
// compares that view with the journal's folded state and returns the differences as journal events to
// append (in an order the journal accepts) and one alert line per difference.

import { BrokerError, errorMessage } from '../core/index.js'
import type { CcxtVenue, VenueTrade } from './ccxt-venue.js'
import { WallClock, type Clock } from './feed.js'
import { checkVenueFill, OPEN_STATES, positionAfterFill, type JournalEvent, type JournalOrder, type JournalState, type OrderJournal } from './journal.js'
import type { VenueOrderState } from './venue.js'

/** What reconciliation reads from a venue (CcxtVenue has it all; a SimVenue can answer from its book). */
export type ReconcilableVenue = Pick<CcxtVenue, 'lookup' | 'openOrders' | 'orderTrades' | 'tradesSince' | 'positions'>

export interface VenueView {
  time: number
  /** Each order the journal has open, as the venue knows it (undefined: the venue never saw it). */
  orders: Map<string, VenueOrderState | undefined>
  /** Orders open at the venue, the deployment's and anyone else's. */
  openOrders: (VenueOrderState & { symbol: string })[]
  /** Trades the journal may not hold: those of its open orders, and each symbol's since the last one journaled. */
  trades: VenueTrade[]
  /** Net position per symbol at the venue (spot: the base currency's balance). */
  positions: Record<string, number>
}

export interface ReconcileOptions {
  /** Holdings per symbol that are not the deployment's (spot: coins the account held before it started). */
  outside?: Record<string, number>
  /** Position differences at or below this are equal (default 1e-8, Binance's smallest unit). */
  tolerance?: number
  /**
   * Compare positions (default true). False while an order's outcome is still open (SENT, or UNKNOWN awaiting
   * its lookup): the venue may hold a fill the journal cannot have yet, and booking the difference would
   * count that fill twice once it is reported.
   */
  positions?: boolean
}

export interface Reconciliation {
  /** Journal events to append, in this order. */
  events: JournalEvent[]
  /** One line per difference found. */
  alerts: string[]
}

/** Compare the journal with the venue's view; the venue wins every difference. */
export function reconcile(state: Readonly<JournalState>, view: VenueView, options: ReconcileOptions = {}): Reconciliation {
  const time = view.time
  const tolerance = options.tolerance ?? 1e-8
  const events: JournalEvent[] = []
  const alerts: string[] = []
  // A scratch copy of what the events change, so each event is legal after the ones before it.
  const filled = new Map<string, number>()
  const positions = new Map(state.positions)
  const feeOutside = new Map(state.feeOutside ?? [])
  const seen = new Set(state.tradeIds)
  const tradesOf = new Map<string, VenueTrade[]>()
  for (const t of [...view.trades].sort((a, b) => a.time - b.time)) {
    if (seen.has(t.tradeId)) continue
    seen.add(t.tradeId)
    const o = t.cid === undefined ? undefined : state.orders.get(t.cid)
    if (o === undefined) {
      alerts.push(`trade ${t.tradeId} (${t.side} ${t.qty} ${t.symbol} at ${t.price}, order ${t.exchangeOrderId}) is not the deployment's: made outside it`)
      continue
    }
    tradesOf.set(o.clientOrderId, [...(tradesOf.get(o.clientOrderId) ?? []), t])
  }

  const book = (o: JournalOrder, t: VenueTrade, why: string) => {
    const done = filled.get(o.clientOrderId) ?? o.filled
    if (done + t.qty > o.qty * (1 + 1e-9)) {
      alerts.push(`trade ${t.tradeId} of ${o.clientOrderId} would fill it past its qty ${o.qty} (filled ${done} + ${t.qty}); not booked`)
      return
    }
    const feeQty = t.feeQty ?? 0
    events.push({ type: 'fill', clientOrderId: o.clientOrderId, tradeId: t.tradeId, qty: t.qty, price: t.price, fee: t.fee, ...(feeQty > 0 ? { feeQty } : {}), time: t.time })
    filled.set(o.clientOrderId, done + t.qty)
    const key = `${o.strategy}|${o.symbol}`
    const { position, outside } = positionAfterFill(positions.get(key) ?? 0, o.side, t.qty, feeQty)
    positions.set(key, position)
    if (outside > 0) feeOutside.set(o.symbol, (feeOutside.get(o.symbol) ?? 0) + outside)
    alerts.push(`fill missed: ${o.clientOrderId} ${o.side} ${t.qty} ${o.symbol} at ${t.price} (trade ${t.tradeId})${why}`)
  }

  const open = [...state.orders.values()].filter((o) => OPEN_STATES.has(o.state)).sort((a, b) => a.seq - b.seq)
  for (const o of open) {
    const cid = o.clientOrderId
    if (!view.orders.has(cid)) {
      alerts.push(`${cid} (${o.state}) was not looked up at the venue; left as it is`)
      continue
    }
    const v = view.orders.get(cid)
    const trades = tradesOf.get(cid) ?? []
    tradesOf.delete(cid)
    if (v === undefined) {
      for (const t of trades) book(o, t, '')
      if ((filled.get(cid) ?? o.filled) === 0) {
        events.push({ type: 'reject', clientOrderId: cid, reason: 'never reached the venue', time })
        alerts.push(`${cid} (${o.state}) is unknown to the venue: it never reached it; REJECTED`)
      } else {
        events.push({ type: 'cancel', clientOrderId: cid, reason: 'not found at the venue', time })
        alerts.push(`${cid} (${o.state}, filled ${o.filled}) is no longer known to the venue; CANCELLED`)
      }
      continue
    }
    if (o.exchangeOrderId === undefined || o.state === 'INTENT' || o.state === 'SENT' || o.state === 'UNKNOWN') {
      events.push({ type: 'ack', clientOrderId: cid, exchangeOrderId: v.exchangeId, time })
      alerts.push(`ack learned: ${cid} (${o.state}) is at the venue as order ${v.exchangeId} (${v.status})`)
    }
    for (const t of trades) book(o, t, '')
    const done = filled.get(cid) ?? o.filled
    if (v.filled > done * (1 + 1e-9) + 1e-12) alerts.push(`${cid}: the venue reports ${v.filled} filled, the journal ${done}; the missing trades were not found`)
    if (v.status === 'canceled' || v.status === 'expired' || (v.status === 'rejected' && done > 0)) {
      events.push({ type: 'cancel', clientOrderId: cid, reason: `${v.status} at the venue`, time })
      alerts.push(`${cid} was ${v.status} at the venue (filled ${done} of ${o.qty}); CANCELLED`)
    } else if (v.status === 'rejected') {
      events.push({ type: 'reject', clientOrderId: cid, reason: 'rejected at the venue', time })
      alerts.push(`${cid} was rejected at the venue; REJECTED`)
    } else if (v.status === 'closed' && done < o.qty * (1 - 1e-9) && done >= v.filled * (1 - 1e-9)) {
      // Done at the venue with less than asked (ccxt cut its amount to the market's step) and every fill in: its rest
      // will never fill. A resting limit, a stop, a list leg: the send's answer could not say so (a review).
      events.push({ type: 'cancel', clientOrderId: cid, reason: `closed at the venue with ${+done.toPrecision(12)} of ${+o.qty.toPrecision(12)} filled (its amount cut to the market's step)`, time })
    }
  }

  // Trades of orders the journal has closed: a fill that raced a cancel is still the venue's truth.
  for (const [cid, trades] of tradesOf) {
    const o = state.orders.get(cid)!
    for (const t of trades) {
      if (o.state === 'REJECTED' || o.state === 'INTENT') alerts.push(`trade ${t.tradeId} of ${cid}, which the journal has ${o.state}; not booked`)
      else book(o, t, ` after it was ${o.state}`)
    }
  }

  for (const v of view.openOrders) {
    const o = state.orders.get(v.cid)
    if (o === undefined) alerts.push(`order ${v.exchangeId}${v.cid === '' ? '' : ` (${v.cid})`} is open at the venue on ${v.symbol} and is not the deployment's`)
    else if (!OPEN_STATES.has(o.state)) alerts.push(`${v.cid} is ${o.state} in the journal but still open at the venue on ${v.symbol}`)
  }

  const journaled = new Map<string, number>()
  for (const [key, qty] of positions) {
    const symbol = key.slice(key.indexOf('|') + 1)
    journaled.set(symbol, (journaled.get(symbol) ?? 0) + qty)
  }
  const snapshot: Record<string, number> = {}
  let differs = false
  for (const [symbol, held] of Object.entries(options.positions === false ? {} : view.positions)) {
    // The account's other coins that paid fees in the coins traded (beyond a position's) are gone from outside.
    const ours = held - (options.outside?.[symbol] ?? 0) + (feeOutside.get(symbol) ?? 0)
    snapshot[symbol] = ours
    const expected = journaled.get(symbol) ?? 0
    if (Math.abs(ours - expected) > tolerance) {
      differs = true
      alerts.push(`position ${symbol}: the venue holds ${ours}, the journal's fills sum to ${expected}; the venue's position is booked (changed at the venue, e.g. closed while the deployment was down)`)
    }
  }
  if (differs) events.push({ type: 'snapshot', source: 'venue', positions: snapshot, time })
  return { events, alerts }
}

export interface FetchViewOptions {
  /** Attempts per read (default 3); the venue's own reads retry transport failures underneath. */
  retries?: number
  /** First retry delay in ms, doubled each time (default 500). */
  backoffMs?: number
  clock?: Clock
  /** Open orders not to look up (a deployment resolves its own in-flight and UNKNOWN orders); reconcile leaves them as they are. */
  skip?: (order: JournalOrder) => boolean
}

/**
 * Read the venue's view of everything the journal tracks. Throws a BrokerError after bounded retries of
 * any read: the caller halts the deployment (no new orders, brackets left in place) and says why.
 */
export async function fetchVenueView(venue: ReconcilableVenue, state: Readonly<JournalState>, symbols: readonly string[], options: FetchViewOptions = {}): Promise<VenueView> {
  const retries = options.retries ?? 3
  const backoffMs = options.backoffMs ?? 500
  const clock = options.clock ?? new WallClock()
  const read = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (error) {
        if (attempt >= retries) {
          throw new BrokerError(`reconciliation could not read ${what} from the venue after ${attempt} attempt${attempt === 1 ? '' : 's'} (${errorMessage(error)}); the deployment halts: no new orders, brackets left in place`, { cause: error })
        }
        await clock.sleep(Math.min(10_000, backoffMs * 2 ** (attempt - 1)))
      }
    }
  }
  const orders = new Map<string, VenueOrderState | undefined>()
  const trades: VenueTrade[] = []
  const open = [...state.orders.values()].filter((o) => OPEN_STATES.has(o.state) && options.skip?.(o) !== true).sort((a, b) => a.seq - b.seq)
  for (const o of open) {
    const v = await read(`order ${o.clientOrderId}`, () => venue.lookup(o.clientOrderId, o.symbol))
    orders.set(o.clientOrderId, v)
    if (v !== undefined && v.filled > 0) trades.push(...(await read(`the trades of ${o.clientOrderId}`, () => venue.orderTrades(o.clientOrderId, o.symbol))))
  }
  const openOrders: VenueView['openOrders'] = []
  for (const symbol of symbols) {
    openOrders.push(...(await read(`the open orders on ${symbol}`, () => venue.openOrders(symbol))))
    // Trades after the newest the journal holds for this symbol (fills of orders it has closed, trades made outside).
    const last = lastTradeId(state.tradeIds, symbol)
    if (last !== undefined) trades.push(...(await read(`the trades on ${symbol}`, () => venue.tradesSince(symbol, last))))
  }
  const positions = await read('positions', () => venue.positions(symbols))
  return { time: clock.now(), orders, openOrders, trades, positions }
}

/**
 * Append a reconciliation's events to the journal (each checked and written, in order), and say what was
 * corrected. A fill found at the venue passes the check a live session's fills pass (journal.ts
 * checkVenueFill): a price ≤ 0 or 100× away from the symbol's last close (`markOf`), or a fee beyond the
 * trade's value, is booked at the last close (the fee at 0 when it is the fee that is wrong) — the quantity
 * is the venue's — and with no close to book at it is not booked; either way a line says so. Booked as
 * reported (before), a fill of an order closed before a restart, found by the trade poll, made cash from a
 * negative price with no alert, though the same fill reaching a running session was corrected.
 */
export function appendReconciliation(journal: OrderJournal, rec: Reconciliation, options: { markOf?: (symbol: string) => number } = {}): string[] {
  const said: string[] = []
  for (const e of rec.events) {
    switch (e.type) {
      case 'ack':
        journal.ack(e.clientOrderId, e.exchangeOrderId, e.time)
        break
      case 'fill': {
        let { price, fee } = e
        let feeQty = e.feeQty
        const o = journal.order(e.clientOrderId)
        const fix = journal.current.tradeIds.has(e.tradeId) ? undefined : checkVenueFill(e, options.markOf?.(o.symbol) ?? NaN)
        if (fix !== undefined) {
          const what = `fill ${e.tradeId} of ${e.clientOrderId} (${o.side} ${e.qty} ${o.symbol}), found by reconciliation, has ${fix.why}`
          if (fix.price === undefined) {
            said.push(`${what}; not booked: no last close to book it at — check it at the venue`)
            break
          }
          said.push(`${what}: no market's; booked at ${fix.price === e.price ? 'its price' : `the last close ${fix.price}`}${fix.fee === e.fee ? '' : ` with fee ${fix.fee}`} — check it at the venue`)
          price = fix.price
          if (fix.fee !== e.fee) feeQty = undefined
          fee = fix.fee
        }
        journal.fill(e.clientOrderId, { tradeId: e.tradeId, qty: e.qty, price, fee, feeQty }, e.time)
        break
      }
      case 'cancel':
        journal.cancel(e.clientOrderId, e.time, e.reason)
        break
      case 'reject':
        journal.reject(e.clientOrderId, e.reason, e.time)
        break
      case 'snapshot':
        journal.snapshot(e.source, e.positions, e.time)
        break
      default:
        throw new BrokerError(`reconciliation produced a ${e.type} event, which it never should`)
    }
  }
  return said
}

/** The newest exchange trade id journaled for `symbol` (trade ids are "SYMBOL:id"; numeric ids only). */
function lastTradeId(tradeIds: ReadonlySet<string>, symbol: string): string | undefined {
  let best: bigint | undefined
  const prefix = `${symbol}:`
  for (const id of tradeIds) {
    if (!id.startsWith(prefix)) continue
    const rest = id.slice(prefix.length)
    if (!/^\d+$/.test(rest)) return undefined
    const n = BigInt(rest)
    if (best === undefined || n > best) best = n
  }
  return best?.toString()
}
