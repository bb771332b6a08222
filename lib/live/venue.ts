// The Venue port (DESIGN: lib/live): where a deployment's orders go. SimVenue is the backtest's own
// simulated exchange — the engine keeps matching orders against its bars, so paper fills exactly as the
// backtest does. CcxtVenue sends them to an exchange through ccxt. A venue never blocks the engine's step:
// `submit` and `cancel` return at once and every outcome comes back later as a VenueEvent.

import type { OrderKind, OrderSide } from './journal.js'

/** What the engine asks a venue to place: the journaled intent with its client order id. */
export interface VenueOrder {
  /** The deterministic client order id written to the journal before the send. */
  cid: string
  /** Unified symbol, e.g. "BTC/USDT". */
  symbol: string
  side: OrderSide
  kind: OrderKind
  qty: number
  /** Limit price (kind "limit"). */
  limit?: number
  /** Trigger price (kind "stop"). */
  stop?: number
  /** Only reduce an open position (bracket children, closing orders). */
  reduceOnly?: boolean
}

/** An order's state at the venue, as a lookup by client id finds it. */
export interface VenueOrderState {
  cid: string
  exchangeId: string
  status: 'open' | 'closed' | 'canceled' | 'rejected' | 'expired'
  /** Quantity filled so far. */
  filled: number
  /** Quantity-weighted average fill price (NaN before any fill). */
  average: number
  /** What the order is, when the venue says (a restart rebuilds an order whose intent was lost from it). */
  side?: 'buy' | 'sell'
  qty?: number
  kind?: 'market' | 'limit' | 'stop'
  /** Limit price (limit) or trigger price (stop). */
  price?: number
  /** The venue's id of the order list (OCO) it belongs to, when it is a leg of one. */
  listId?: string
}

export type VenueEvent =
  | { type: 'ack'; cid: string; exchangeId: string; time: number }
  | {
      type: 'fill'
      cid: string
      /**
       * The trade's id, unique within the venue: fills are booked once per trade id whatever path reported
       * them (a stream, a REST backfill, reconciliation). CcxtVenue: "SYMBOL:exchangeTradeId" (an exchange's
       * ids are unique per market only); SimVenue: "<client order id>-<n>", the order's n-th fill.
       */
      tradeId: string
      qty: number
      price: number
      /** Fee in the quote currency (converted when the exchange charged another one). */
      fee: number
      /**
       * The units the venue kept as its fee in the asset traded (Binance spot charges a buy's commission in the asset
       * bought; BNB/USDT paying in BNB, a sell's in the coins held): `fee` holds their value at the fill's price, and
       * they leave the position (journal.ts positionAfterFill).
       */
      feeQty?: number
      liquidity: 'maker' | 'taker'
      time: number
    }
  | { type: 'cancel'; cid: string; reason: string; time: number }
  | { type: 'reject'; cid: string; reason: string; time: number }
  /** The send's outcome is not known (timeout after the request left, dropped connection): look it up, never resend. */
  | { type: 'unknown'; cid: string; reason: string; time: number }

/** What a deployment needs of a venue, checked at start (ccxt's `has.*` for CcxtVenue). */
export interface VenueNeeds {
  symbols: readonly string[]
  kinds: ReadonlySet<OrderKind>
}

/**
 * Two exit legs of one bracket — a take-profit limit and a stop-loss stop, same symbol, side and quantity —
 * as one OCO (one-cancels-the-other) order list at the venue: on spot both legs then lock the coins once
 * (Binance's POST /api/v3/orderList/oco), where two separate orders would each need them.
 */
export interface VenueOrderList {
  /** The list's own client id (unique at the venue, like an order's). */
  listCid: string
  /** [take-profit (kind limit), stop-loss (kind stop)]. */
  legs: [VenueOrder, VenueOrder]
}

export interface Venue {
  /** True when the engine matches orders against bars (SimVenue); false when fills come from the venue. */
  readonly matchesOnBars: boolean
  /** Check capabilities and load markets; throws a ConfigError naming what is missing. */
  start(needs: VenueNeeds): Promise<void>
  submit(order: VenueOrder): void
  /**
   * Present when the venue takes OCO order lists (CcxtVenue on Binance spot). Events come per leg as for
   * `submit` (ack, fills, reject or unknown for each). Once either leg executes, in part or in full, the venue
   * ends the other and reports a `cancel` for it. Cancelling either leg cancels the list: a `cancel` is
   * reported for both, and a cancel asked for a leg already ended sends nothing.
   */
  submitList?(list: VenueOrderList): void
  cancel(cid: string, exchangeId?: string): void
  /** Find an order by its client id (resolves UNKNOWN; undefined when the venue never saw it). */
  lookup(cid: string, symbol: string): Promise<VenueOrderState | undefined>
  /** The market's fee rates as the venue states them, once started (CcxtVenue: ccxt's market taker/maker); undefined when it does not say. */
  feeRates?(symbol: string): { taker: number; maker: number } | undefined
  /** Read the exchange's markets (before `start`: a restart needs their amount steps to rebuild its trades). */
  loadMarkets?(): Promise<void>
  /** The market's amount step, once its markets are loaded; a holding below it is dust. */
  amountStep?(symbol: string): number | undefined
  /** Where the venue delivers its events (one sink; set before `start`). */
  events(sink: (event: VenueEvent) => void): void
  close(): Promise<void>
}
