// SimVenue: paper trading on the backtest's own simulated exchange. The engine keeps matching working
// orders against each bar with the backtest's fill model (same slippage, commission, volume share,
// latency, clamps), so paper fills exactly as the backtest does and never better. What the venue adds is
// the journal: every order placed gets its intent (with a deterministic client order id) and an
// acknowledgement, every fill a trade id, every cancel or expiry its reason — the same records a live
// deployment writes, so the two are read, reconciled and reported alike.

import type { Engine, EngineHooks } from '../backtest/engine.js'
import type { Order } from '../backtest/orders.js'
import type { OrderIntent, OrderJournal } from './journal.js'
import type { Venue, VenueEvent, VenueNeeds, VenueOrderState } from './venue.js'

export class SimVenue implements Venue {
  readonly matchesOnBars = true

  async start(_needs: VenueNeeds): Promise<void> {}

  /** Never called: the engine places and matches simulated orders itself. */
  submit(): void {}

  cancel(): void {}

  async lookup(): Promise<VenueOrderState | undefined> {
    return undefined
  }

  events(_sink: (event: VenueEvent) => void): void {}

  async close(): Promise<void> {}
}

/**
 * The engine's order flow written to the journal, for a venue that matches on bars (SimVenue): an order's
 * intent and acknowledgement (the simulated exchange's order id is the client id) when it is placed,
 * a fill with trade id "<cid>-<n>" (its n-th fill), an amend when a bracket leg's quantity follows its
 * entry, a cancel with the reason when it ends unfilled ("expired: …" for expiry). Stamped with the
 * engine's time (the bar's close), so a replay's journal is the same file every time.
 */
/** What the journal records of an engine order about to be placed for `qty`: enough to rebuild it (and its bracket) after a restart. */
export function intentOf(engine: Engine, order: Order, qty: number): OrderIntent {
  const price = order.type === 'limit' ? order.limit : order.type === 'stop' ? order.stop : NaN
  const parent = order.parentId > 0 ? engine.order(order.parentId) : undefined
  return {
    strategy: order.strategy,
    symbol: order.symbol,
    side: order.side,
    qty,
    kind: order.type,
    ...(price === price ? { price } : {}),
    orderId: order.id,
    role: order.role,
    ...(order.tag === '' ? {} : { tag: order.tag }),
    ...(parent === undefined ? {} : { parentCid: parent.cid }),
    ...(order.role === 'entry' && order.stopLoss === order.stopLoss ? { stopLoss: order.stopLoss } : {}),
    ...(order.role === 'entry' && order.takeProfit === order.takeProfit ? { takeProfit: order.takeProfit } : {}),
  }
}

export function simJournalHooks(engine: Engine, journal: OrderJournal): EngineHooks {
  return {
    placed(order: Order): void {
      const placed = journal.intent(
        intentOf(engine, order, order.qty),
        engine.now,
        // Accepted in the same call that placed it: the intent records the acknowledgement (the simulated
        // exchange's order id is the client id).
        true,
      )
      order.cid = placed.clientOrderId
    },
    amended(order: Order): void {
      journal.amend(order.cid, order.qty, engine.now)
    },
    filled(order: Order, qty: number, price: number, fee: number, time: number): void {
      journal.fill(order.cid, { tradeId: `${order.cid}-${order.fillCount + 1}`, qty, price, fee }, time)
    },
    ended(order: Order, status: 'CANCELLED' | 'EXPIRED' | 'REJECTED', reason: string): void {
      if (status === 'REJECTED') journal.reject(order.cid, reason, engine.now)
      else journal.cancel(order.cid, engine.now, status === 'EXPIRED' ? `expired: ${reason}` : reason)
    },
  }
}
