// CcxtVenue: a live deployment's orders sent to an exchange through ccxt (DESIGN: lib/live, Venue). The
// engine never waits on it: `submit` and `cancel` start the request and return, and every outcome comes
// back as a VenueEvent. A send whose outcome is not known becomes `unknown` and is resolved by looking the
// client id up — never by sending again. Fills come from REST (`fetchMyTrades` from the last trade id seen),
// which is the truth; credentials never leave this file in a message, an event or an error's cause.
// On Binance spot a bracket's two exits go out as one OCO order list (`submitList`), so they lock the coins once.

import ccxt, { type Exchange, type Market, type Order, type Trade } from 'ccxt'
import { BrokerError, ConfigError, capMessage } from '../core/index.js'
import { createExchange, replaceOrigins } from '../data/sources/ccxt-source.js'
import { WallClock, type Clock } from './feed.js'
import { redactSecrets } from './credentials.js'
import { useNativeHmac } from './native-hmac.js'
import type { Venue, VenueEvent, VenueNeeds, VenueOrder, VenueOrderList, VenueOrderState } from './venue.js'

export interface VenueCredentials {
  apiKey: string
  secret: string
  /** Some exchanges (OKX, KuCoin…) need a passphrase too. */
  password?: string
}

export interface CcxtVenueOptions {
  /** Replace the origin of every REST URL of the exchange (proxies, test stand-ins). */
  apiUrl?: string
  /** Trade on the exchange's sandbox/testnet (refused when the exchange has none). */
  sandbox?: boolean
  credentials: VenueCredentials
  /** Per-request timeout in ms (default ccxt's 10 s); a send that times out is `unknown`, never resent. */
  timeoutMs?: number
  /** Attempts per request for reads, cancels and rate-limit refusals of a send (default 4). */
  retries?: number
  /** First retry delay in ms, doubled each time up to 10 s (default 500); a 429's Retry-After wins when longer. */
  backoffMs?: number
  clock?: Clock
  /** Milliseconds between background fill polls after start (default 2000; 0: only when `pollFills` is called). */
  pollMs?: number
  /** Trades before this time are not the deployment's (default: a minute before the clock at start). */
  since?: number
  /** Where alert lines go (a trade of an order that is not ours, a fee not converted, a poll that failed). */
  onAlert?: (line: string) => void
}

/** A trade at the venue as reconciliation reads it; `cid` when the order is one this venue knows. */
export interface VenueTrade {
  /** `${symbol}:${exchange trade id}` (exchange trade ids are unique per market only). */
  tradeId: string
  exchangeOrderId: string
  cid?: string
  symbol: string
  side: 'buy' | 'sell'
  qty: number
  price: number
  /** In the quote currency. */
  fee: number
  /** Of a buy, the units the venue kept as its fee (its fee in the base asset); `fee` holds their value. */
  feeQty?: number
  liquidity: 'maker' | 'taker'
  time: number
}

export interface VenueBalance {
  free: number
  used: number
  total: number
}

/** What one order is to this venue: its market and, once known, the exchange's order id. */
interface Tracked {
  symbol: string
  exchangeId?: string
  acked: boolean
  /** The quantity asked when this venue sent it (not known for an order looked up after a restart). */
  qty?: number
  /** The quantity of its fills reported so far. */
  filled?: number
}

/**
 * One OCO list as this venue follows it: when a leg executes, the exchange expires the other; cancelling a
 * leg while both work cancels both. `ended` holds the legs whose `cancel` event was emitted (each once).
 */
interface ListState {
  listCid: string
  /** [take-profit cid, stop-loss cid]. */
  legs: [string, string]
  /** False once a leg executed or the list was cancelled: the legs are then plain orders, or gone. */
  live: boolean
  ended: Set<string>
  /** The cancel under way for the list, which a cancel of the other leg waits for. */
  cancelling?: Promise<void>
}

/** Binance's implicit endpoint for OCO lists (ccxt 4.5 has no unified OCO for spot): signed, rate-limited, errors mapped. */
interface OcoApi {
  privatePostOrderListOco(params: Record<string, string>): Promise<{
    transactionTime?: number
    orders?: { clientOrderId?: string; orderId?: number | string }[]
    orderReports?: { clientOrderId?: string; orderId?: number | string; status?: string }[]
  }>
}

/** The capabilities every live deployment needs, as ccxt names them in `exchange.has`. */
const NEEDED: readonly [string, string][] = [
  ['createOrder', 'place orders'],
  ['cancelOrder', 'cancel orders'],
  ['fetchMyTrades', 'list its trades (fills are read from them)'],
  ['fetchBalance', 'report balances (positions are reconciled from them)'],
  ['fetchOpenOrders', 'list open orders (reconciliation)'],
]

/** How long a fill waits for its fee asset's price (BNB/USDT) before it is booked without it. */
const FEE_PRICE_BUDGET_MS = 1000

export class CcxtVenue implements Venue {
  readonly matchesOnBars = false
  /** The ccxt client (tests reach in to remove a capability). */
  readonly exchange: Exchange
  /**
   * Places a bracket's take-profit and stop-loss as one OCO order list (Venue.submitList); present only when
   * the exchange takes such lists through ccxt (Binance and Binance US spot), absent elsewhere.
   */
  readonly submitList?: (list: VenueOrderList) => void
  private readonly clock: Clock
  private readonly retries: number
  private readonly backoffMs: number
  private readonly pollMs: number
  private readonly secrets: string[]
  private sink?: (event: VenueEvent) => void
  private started = false
  private closed = false
  private since = 0
  private symbols: string[] = []
  private readonly orders = new Map<string, Tracked>()
  private readonly byExchangeId = new Map<string, string>()
  /** The OCO list each list leg belongs to, by the leg's client id. */
  private readonly lists = new Map<string, ListState>()
  /** Exchange order ids looked up and found not to be ours (another client's, or the user's by hand). */
  private readonly foreign = new Set<string>()
  private readonly seenTrades = new Set<string>()
  private readonly lastTrade = new Map<string, { id: string; time: number }>()
  private readonly inflight = new Set<Promise<void>>()
  private polling?: Promise<void>
  /** Set by lookBack before start: the earliest time a restart needs looked at. */
  private lookBackTo = Infinity

  constructor(
    readonly exchangeId: string,
    private readonly options: CcxtVenueOptions,
  ) {
    const c = options?.credentials
    for (const field of ['apiKey', 'secret'] as const) {
      if (typeof c?.[field] !== 'string' || c[field] === '') throw new ConfigError(`live trading on ${exchangeId} needs credentials.${field} (a non-empty string; received none)`)
    }
    if (c.password !== undefined && typeof c.password !== 'string') throw new ConfigError(`credentials.password must be a string when given`)
    this.retries = positiveInt(options.retries ?? 4, 'retries')
    this.backoffMs = nonNegative(options.backoffMs ?? 500, 'backoffMs')
    this.pollMs = nonNegative(options.pollMs ?? 2000, 'pollMs')
    this.clock = options.clock ?? new WallClock()
    this.secrets = [c.apiKey, c.secret, ...(c.password === undefined ? [] : [c.password])].filter((s) => s.length >= 4)
    this.exchange = createExchange(exchangeId, undefined, options.timeoutMs)
    // ccxt's default leaky bucket spaces every request by its cost × rateLimit and credits no idle time: an
    // order on Binance (cost 0.2 × 50 ms) waited ~10 ms before leaving, bar after bar (npm run bench, live
    // group). A rolling window of the exchange's one-minute budget lets an order out at once while staying
    // under the limit; a 429 is still backed off (send()).
    const limiter = this.exchange as unknown as { rateLimiterAlgorithm: string; rollingWindowSize: number; tokenBucket: unknown; initRestRateLimiter(): void }
    limiter.rateLimiterAlgorithm = 'rollingWindow'
    limiter.rollingWindowSize = 60_000
    limiter.tokenBucket = undefined
    limiter.initRestRateLimiter()
    if (options.sandbox === true) {
      const urls = this.exchange.urls as { test?: unknown }
      if (urls.test === undefined) throw new ConfigError(`${exchangeId} has no sandbox/testnet in ccxt; run without --sandbox`)
      this.exchange.setSandboxMode(true)
    }
    if (options.apiUrl !== undefined) replaceOrigins(this.exchange, options.apiUrl)
    this.exchange.apiKey = c.apiKey
    this.exchange.secret = c.secret
    if (c.password !== undefined) this.exchange.password = c.password
    // Signatures by node:crypto (the same bytes as ccxt's own, checked on the first of each hash): ~80 µs
    // less on every order's way out (native-hmac.ts).
    useNativeHmac(this.exchange)
    if (exchangeId.startsWith('binance')) {
      // With keys, Binance's loadMarkets also calls /sapi (currencies, margin pairs): not needed to trade spot,
      // and absent on the testnet.
      this.exchange.options.fetchCurrencies = false
      this.exchange.options.fetchMargins = false
    }
    if (typeof (this.exchange as unknown as Partial<OcoApi>).privatePostOrderListOco === 'function') this.submitList = (list) => this.placeList(list)
  }

  events(sink: (event: VenueEvent) => void): void {
    this.sink = sink
  }

  /**
   * Before `start`: orders and trades from `time` on are the venue's to look at (a restart passes its
   * journal's last event, so trades made and orders sent while it was down are found; default: a minute).
   */
  lookBack(time: number): void {
    if (this.started) throw new ConfigError('lookBack goes before the venue starts')
    if (Number.isFinite(time)) this.lookBackTo = Math.min(this.lookBackTo, time)
  }

  /**
   * Every order on `symbol` since `since` (ours and anyone else's, open or done), with its client id. On
   * Binance, from `fromOrderId` (the highest exchange order id a journal knows there) or else the first
   * order after `since`, page by page forward by order id, 1,000 at a time, with no time window; elsewhere
   * from `since`, within the last 23 hours.
   */
  async ordersSince(symbol: string, since: number, fromOrderId?: string): Promise<(VenueOrderState & { symbol: string })[]> {
    const has = this.exchange.has as Record<string, unknown>
    const from = Math.max(since, this.clock.now() - 23 * 3_600_000)
    const pages = this.exchangeId.startsWith('binance') && can(has, 'fetchOrders')
    let orders: Order[]
    if (pages) {
      orders = []
      const seen = new Set<string>()
      const next = (batch: readonly Order[]) => (batch.reduce((m, o) => (BigInt(String(o.id)) > m ? BigInt(String(o.id)) : m), 0n) + 1n).toString()
      let fromId = fromOrderId !== undefined && /^\d+$/.test(fromOrderId) ? fromOrderId : undefined
      if (fromId === undefined) {
        // No order id to start from: 23-hour windows from `since` (Binance lists at most 24 hours at once by
        // time) until the first order, then onward by order id.
        const now = this.clock.now()
        for (let t = since, windows = 0; t <= now && windows < 400; t += 23 * 3_600_000, windows++) {
          const start = t
          const batch = await this.read(`fetchOrders ${symbol}`, () => this.exchange.fetchOrders(symbol, start, 1000, { until: start + 23 * 3_600_000 - 1 }))
          if (batch.length === 0) continue
          orders.push(...batch)
          for (const o of batch) seen.add(String(o.id))
          fromId = next(batch)
          break
        }
      }
      for (let page = 0; fromId !== undefined && page < 100; page++) {
        const params = { orderId: fromId }
        const batch = await this.read(`fetchOrders ${symbol}`, () => this.exchange.fetchOrders(symbol, undefined, 1000, params))
        for (const o of batch) {
          if (seen.has(String(o.id))) continue
          seen.add(String(o.id))
          orders.push(o)
        }
        if (batch.length < 1000) break
        fromId = next(batch)
      }
    } else if (can(has, 'fetchOrders')) orders = await this.read(`fetchOrders ${symbol}`, () => this.exchange.fetchOrders(symbol, from, 1000))
    else orders = [...(await this.read(`fetchOpenOrders ${symbol}`, () => this.exchange.fetchOpenOrders(symbol))), ...(await this.read(`fetchClosedOrders ${symbol}`, () => this.exchange.fetchClosedOrders(symbol, from, 1000)))]
    return orders.map((o) => ({ ...stateOf(o.clientOrderId ?? '', o), symbol }))
  }


  async start(needs: VenueNeeds): Promise<void> {
    if (this.started) throw new ConfigError(`the ${this.exchangeId} venue is started already`)
    if (this.sink === undefined) throw new ConfigError('a venue needs its event sink (events(sink)) before start')
    if (!Array.isArray(needs?.symbols) || needs.symbols.length === 0) throw new ConfigError('a venue needs the symbols it trades (received none)')
    const has = this.exchange.has as Record<string, unknown>
    const missing: string[] = []
    for (const [cap, why] of NEEDED) if (!can(has, cap)) missing.push(`${cap} (${why})`)
    if (!can(has, 'fetchOrder') && !(can(has, 'fetchOpenOrders') && can(has, 'fetchClosedOrders'))) {
      missing.push('fetchOrder, or fetchOpenOrders and fetchClosedOrders (an order is looked up by client id)')
    }
    if (needs.kinds.has('stop') && !can(has, 'createStopOrder') && !can(has, 'createTriggerOrder')) missing.push('createStopOrder (stop orders)')
    if (needs.kinds.has('limit') && has.createLimitOrder === false) missing.push('createLimitOrder (limit orders)')
    if (needs.kinds.has('market') && has.createMarketOrder === false) missing.push('createMarketOrder (market orders)')
    if (missing.length > 0) throw new ConfigError(`${this.exchangeId} cannot be traded live through ccxt: it lacks ${missing.join('; ')}`)
    await this.read('loadMarkets', () => this.exchange.loadMarkets())
    for (const symbol of needs.symbols) {
      const market = this.exchange.markets?.[symbol]
      if (market === undefined) throw new ConfigError(`unknown symbol ${JSON.stringify(symbol)} on ${this.exchangeId}; expected a market symbol such as BTC/USDT`)
      if (market.active === false) throw new ConfigError(`${symbol} is not trading on ${this.exchangeId} (market inactive)`)
      if (market.spot !== true) throw new ConfigError(`${symbol} on ${this.exchangeId} is not a spot market; CcxtVenue trades spot markets only so far`)
    }
    // One quote currency: cash, equity and P&L are counted in it, and a position is its base currency's balance.
    // ETH/BTC beside BTC/USDT summed BTC and USDT as one cash, and the BTC spent on ETH read as BTC sold outside
    // the deployment: a −14.4 BTC "position" and 21,700 USDT of cash that did not exist (an audit).
    const quotes = new Map<string, string>()
    for (const symbol of needs.symbols) quotes.set(this.exchange.markets![symbol]!.quote, symbol)
    if (quotes.size > 1) {
      const named = [...quotes].map(([quote, symbol]) => `${symbol} in ${quote}`).join(', ')
      throw new ConfigError(`a live deployment's markets share one quote currency, in which its cash and P&L are counted (${named}): deploy each quote currency's markets apart`)
    }
    this.symbols = [...needs.symbols]
    // A minute of slack for the exchange's clock running behind ours; earlier trades of our orders are still
    // mapped by order id. A restart looks back to its journal's last event (lookBack), within the 23 hours
    // Binance answers for (its trade and order listings take at most a 24-hour window).
    const now = this.clock.now()
    this.since = this.options.since ?? Math.max(now - 23 * 3_600_000, Math.min(now - 60_000, this.lookBackTo))
    this.started = true
    if (this.pollMs > 0) this.polling = this.pollLoop()
  }

  submit(order: VenueOrder): void {
    const market = this.market(order.symbol)
    if (market === undefined) {
      this.emit({ type: 'reject', cid: order.cid, reason: `${order.symbol} was not among the symbols the venue started with`, time: this.clock.now() })
      return
    }
    if (this.orders.has(order.cid)) throw new ConfigError(`order ${order.cid} was sent already; an order is never sent twice (look it up instead)`)
    this.orders.set(order.cid, { symbol: order.symbol, acked: false, qty: order.qty })
    this.spawn(this.send(order, market))
  }

  cancel(cid: string, exchangeId?: string): void {
    const t = this.orders.get(cid)
    if (t === undefined) throw new ConfigError(`cannot cancel ${cid}: this venue never sent or looked it up (look it up first, with its symbol)`)
    if (exchangeId !== undefined && t.exchangeId === undefined) this.learn(cid, exchangeId)
    const list = this.lists.get(cid)
    if (list === undefined) return this.spawn(this.cancelNow(cid, t))
    // A leg already ended (its sibling executed, or the list was cancelled) is gone at the exchange: nothing to send.
    if (list.ended.has(cid)) return
    if (list.cancelling !== undefined) {
      // The other leg's cancel is cancelling the list: this leg ends with it (or, if that cancel failed, is cancelled after it).
      const before = list.cancelling
      return this.spawn(before.then(() => (list.ended.has(cid) ? undefined : this.cancelNow(cid, t))))
    }
    const task = this.cancelNow(cid, t)
    if (list.live) list.cancelling = task.catch(() => undefined).finally(() => (list.cancelling = undefined))
    this.spawn(task)
  }

  /**
   * An order this deployment sent before a restart (its journal holds it open): known again by client id,
   * market and, when the journal has it, exchange order id — so it can be cancelled (`cancel` has no symbol)
   * and its trades map to it before any lookup. Nothing is sent.
   */
  adopt(cid: string, symbol: string, exchangeId?: string): void {
    if (!this.orders.has(cid)) this.orders.set(cid, { symbol, acked: exchangeId !== undefined })
    if (exchangeId !== undefined) this.learn(cid, exchangeId)
  }

  /**
   * Two adopted orders that went out as one OCO list before a restart (take-profit, then stop-loss): followed
   * as a list again, so one's execution ends the other and a cancel of either reports both. Nothing is sent.
   */
  adoptList(listCid: string, legs: [string, string]): void {
    for (const cid of legs) {
      if (!this.orders.has(cid)) throw new ConfigError(`cannot adopt list ${listCid}: its leg ${cid} is not adopted (adopt each leg, with its symbol, first)`)
    }
    if (legs[0] === legs[1]) throw new ConfigError(`cannot adopt list ${listCid}: the legs need distinct client ids (both are ${legs[0]})`)
    const state: ListState = { listCid, legs: [legs[0], legs[1]], live: true, ended: new Set() }
    for (const cid of legs) this.lists.set(cid, state)
  }

  async lookup(cid: string, symbol: string): Promise<VenueOrderState | undefined> {
    const order = await this.findOrder(cid, symbol)
    if (order === undefined) return undefined
    const t = this.orders.get(cid) ?? { symbol, acked: false }
    this.orders.set(cid, t)
    this.learn(cid, String(order.id))
    return stateOf(cid, order)
  }

  /** Wait until every send and cancel started so far has finished (and emitted its events). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
  }

  async close(): Promise<void> {
    this.closed = true
    await this.settled()
    await this.polling
  }

  /** One REST pass over every symbol's trades since the last one seen: fills of our orders become events. */
  async pollFills(): Promise<void> {
    for (const symbol of this.symbols) {
      for (const trade of await this.tradesSince(symbol)) this.emitFill(trade)
    }
  }

  /**
   * Trades of `symbol` after the last one this venue has seen (or after `fromTradeId`, an exchange trade id,
   * or since the deployment started), oldest first, each mapped to our client id when the order is ours.
   */
  async tradesSince(symbol: string, fromTradeId?: string): Promise<VenueTrade[]> {
    const own = fromTradeId === undefined
    const last = own ? this.lastTrade.get(symbol) : { id: fromTradeId, time: this.since }
    const fetched = await this.read(`fetchMyTrades ${symbol}`, () => {
      // Binance pages by trade id (fromId is inclusive); elsewhere by time, and the seen set drops repeats.
      if (last !== undefined && this.exchangeId.startsWith('binance') && /^\d+$/.test(last.id)) {
        return this.exchange.fetchMyTrades(symbol, undefined, 1000, { fromId: (BigInt(last.id) + 1n).toString() })
      }
      // Before the first trade: from the start, but within the last 23 hours (Binance answers a 24-hour
      // window from startTime; trades older than that were seen by earlier polls).
      return this.exchange.fetchMyTrades(symbol, last?.time ?? Math.max(this.since, this.clock.now() - 23 * 3_600_000), 1000)
    })
    const out: VenueTrade[] = []
    for (const t of fetched.sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0))) {
      if (last !== undefined && String(t.id) === last.id) continue
      out.push(await this.toVenueTrade(symbol, t))
      // Only the venue's own polls move its cursor: a reconciliation's read does not mark trades as reported.
      if (own) this.lastTrade.set(symbol, { id: String(t.id), time: t.timestamp ?? this.since })
    }
    return out
  }

  /** Every trade of one of our orders (reconciliation: fills missed while the process was down). */
  async orderTrades(cid: string, symbol: string): Promise<VenueTrade[]> {
    let t = this.orders.get(cid)
    if (t?.exchangeId === undefined) {
      await this.lookup(cid, symbol)
      t = this.orders.get(cid)
    }
    const id = t?.exchangeId
    if (id === undefined) return []
    const has = this.exchange.has as Record<string, unknown>
    const trades = await this.read(`trades of ${cid}`, () =>
      can(has, 'fetchOrderTrades') ? this.exchange.fetchOrderTrades(id, symbol) : this.exchange.fetchMyTrades(symbol, this.since, 1000).then((all) => all.filter((x) => x.order === id)),
    )
    const out: VenueTrade[] = []
    for (const x of trades) out.push(await this.toVenueTrade(symbol, x))
    return out
  }

  /** Orders open at the venue on `symbol` (ours and anyone else's). */
  async openOrders(symbol: string): Promise<(VenueOrderState & { symbol: string })[]> {
    const open = await this.read(`fetchOpenOrders ${symbol}`, () => this.exchange.fetchOpenOrders(symbol))
    return open.map((o) => ({ ...stateOf(o.clientOrderId ?? '', o), symbol }))
  }

  /** Balances per currency (free, used by open orders, total). */
  async balances(): Promise<Record<string, VenueBalance>> {
    const b = (await this.read('fetchBalance', () => this.exchange.fetchBalance())) as unknown as Record<string, { free?: number; used?: number; total?: number }>
    const out: Record<string, VenueBalance> = {}
    for (const [currency, v] of Object.entries(b)) {
      if (v === null || typeof v !== 'object' || ['info', 'free', 'used', 'total', 'timestamp', 'datetime'].includes(currency)) continue
      out[currency] = { free: v.free ?? 0, used: v.used ?? 0, total: v.total ?? 0 }
    }
    return out
  }

  /** Net position per symbol: on spot, the base currency's total balance (what the account holds). */
  async positions(symbols: readonly string[] = this.symbols): Promise<Record<string, number>> {
    const balances = await this.balances()
    const out: Record<string, number> = {}
    for (const symbol of symbols) {
      const market = this.market(symbol)
      if (market === undefined) throw new ConfigError(`${symbol} was not among the symbols the venue started with`)
      out[symbol] = balances[market.base]?.total ?? 0
    }
    return out
  }

  // ---- sending ----

  private async send(order: VenueOrder, market: Market): Promise<void> {
    const type = order.kind === 'market' ? 'market' : order.kind === 'limit' ? 'limit' : order.limit === undefined ? 'market' : 'limit'
    const price = type === 'limit' ? order.limit : undefined
    const params: Record<string, unknown> = { clientOrderId: order.cid }
    if (order.kind === 'stop') params.triggerPrice = order.stop
    // Spot has no reduce-only flag (Binance refuses unknown parameters); the engine clamps it locally.
    if (order.reduceOnly === true && market?.contract === true) params.reduceOnly = true
    for (let attempt = 1; ; attempt++) {
      let placed: Order
      try {
        // ccxt truncates the amount to the market's step: a quantity a float's noise below a step (0.01001 − 0.01 is
        // 9.999999999999593e-6) would be cut a whole step, to 0 (refused). Nudged by 1e-9 of itself first.
        placed = await this.exchange.createOrder(order.symbol, type, order.side, order.qty * (1 + 1e-9), price, params)
      } catch (error) {
        // A 429 / DDoSProtection / RateLimitExceeded is the exchange's rate limiter refusing the request
        // before it reaches the matching engine (Binance answers 429 to a request that breaks a rate
        // limit, and does not execute it), so no order exists and sending again cannot duplicate one.
        // The retry carries the same client id, and Binance refuses a second open order with it (-2010
        // Duplicate order sent), so even a wrong guess cannot make two orders. Every other transport
        // failure may have reached the engine: it is `unknown`, resolved by lookup, never resent.
        if (isRateRefusal(error) && attempt < this.retries && !this.closed) {
          await this.clock.sleep(this.backoff(attempt))
          continue
        }
        this.emit(this.sendFailure(order.cid, error, attempt))
        return
      }
      this.learn(order.cid, String(placed.id))
      this.ack(order.cid, placed.timestamp ?? this.clock.now())
      for (const t of placed.trades ?? []) {
        if (t.id === undefined || t.id === null) continue
        this.emitFill(this.mapTrade(order.cid, order.symbol, t, placed, await this.feeAssetPrice(order.symbol, t)))
      }
      if (placed.status === 'canceled' || placed.status === 'expired') {
        this.emit({ type: 'cancel', cid: order.cid, reason: `${placed.status} at once by ${this.exchangeId}`, time: this.clock.now() })
      } else if (placed.status === 'closed') await this.closedShort(order.cid, order.symbol, order.qty, { filled: Number(placed.filled ?? NaN), amount: Number(placed.amount) })
      return
    }
  }

  private sendFailure(cid: string, error: unknown, attempts: number): VenueEvent {
    const time = this.clock.now()
    const reason = this.describe(error)
    if (isRateRefusal(error)) return { type: 'reject', cid, reason: `refused ${attempts} times by the rate limit, not placed: ${reason}`, time }
    // After a retry, "duplicate" means an earlier attempt did reach the book after all: look it up.
    if (attempts > 1 && /duplicate/i.test(reason)) return { type: 'unknown', cid, reason: `a retried send found the client id taken (${reason}); look it up`, time }
    if (error instanceof ccxt.ExchangeError) return { type: 'reject', cid, reason, time }
    return { type: 'unknown', cid, reason: `the send's outcome is not known (${reason}); look it up, never resend`, time }
  }

  private placeList(list: VenueOrderList): void {
    const [tp, sl] = checkList(list)
    const market = this.market(tp.symbol)
    if (market === undefined) {
      for (const leg of list.legs) this.emit({ type: 'reject', cid: leg.cid, reason: `${leg.symbol} was not among the symbols the venue started with`, time: this.clock.now() })
      return
    }
    for (const leg of list.legs) {
      if (this.orders.has(leg.cid)) throw new ConfigError(`order ${leg.cid} (of list ${list.listCid}) was sent already; an order is never sent twice (look it up instead)`)
    }
    const state: ListState = { listCid: list.listCid, legs: [tp.cid, sl.cid], live: true, ended: new Set() }
    for (const leg of list.legs) {
      this.orders.set(leg.cid, { symbol: leg.symbol, acked: false })
      this.lists.set(leg.cid, state)
    }
    this.spawn(this.sendList(list.listCid, tp, sl, market))
  }

  /**
   * POST /api/v3/orderList/oco. Closing a long (sell): the take-profit is the LIMIT_MAKER above the price and
   * the stop the STOP_LOSS below it; closing a short (buy): the stop above, the take-profit below. Failures
   * follow `send()`: a rate refusal is retried with the same client ids, an exchange refusal rejects both
   * legs, anything else leaves both unknown (looked up by client id, never resent).
   */
  private async sendList(listCid: string, tp: VenueOrder, sl: VenueOrder, market: Market): Promise<void> {
    const api = this.exchange as unknown as OcoApi
    const symbol = tp.symbol
    for (let attempt = 1; ; attempt++) {
      let answer: Awaited<ReturnType<OcoApi['privatePostOrderListOco']>>
      try {
        const quantity = String(this.exchange.amountToPrecision(symbol, tp.qty * (1 + 1e-9)))
        const take = String(this.exchange.priceToPrecision(symbol, tp.limit))
        const stop = String(this.exchange.priceToPrecision(symbol, sl.stop))
        const legs: Record<string, string> =
          tp.side === 'sell'
            ? { aboveType: 'LIMIT_MAKER', aboveClientOrderId: tp.cid, abovePrice: take, belowType: 'STOP_LOSS', belowClientOrderId: sl.cid, belowStopPrice: stop }
            : { aboveType: 'STOP_LOSS', aboveClientOrderId: sl.cid, aboveStopPrice: stop, belowType: 'LIMIT_MAKER', belowClientOrderId: tp.cid, belowPrice: take }
        answer = await api.privatePostOrderListOco({ symbol: String(market?.id ?? ''), listClientOrderId: listCid, side: tp.side === 'sell' ? 'SELL' : 'BUY', quantity, ...legs, newOrderRespType: 'FULL' })
      } catch (error) {
        if (isRateRefusal(error) && attempt < this.retries && !this.closed) {
          await this.clock.sleep(this.backoff(attempt))
          continue
        }
        const failures = [tp, sl].map((leg) => this.sendFailure(leg.cid, error, attempt))
        // Refused: no list exists at the exchange. Unknown: it may, and stays followed as one.
        const list = this.lists.get(tp.cid)
        if (list !== undefined && failures.every((e) => e.type === 'reject')) list.live = false
        for (const e of failures) this.emit(e)
        return
      }
      const time = Number(answer.transactionTime ?? this.clock.now())
      for (const o of [...(answer.orders ?? []), ...(answer.orderReports ?? [])]) {
        if (o.clientOrderId !== undefined && o.orderId !== undefined && this.lists.get(o.clientOrderId)?.listCid === listCid) this.learn(o.clientOrderId, String(o.orderId))
      }
      for (const leg of [tp, sl]) this.ack(leg.cid, time)
      for (const r of answer.orderReports ?? []) {
        // A leg the exchange ended at once (not expected for a list whose prices passed its checks).
        if (r.clientOrderId !== undefined && (r.status === 'EXPIRED' || r.status === 'CANCELED' || r.status === 'REJECTED')) this.endLeg(r.clientOrderId, `${r.status.toLowerCase()} at once by ${this.exchangeId}`)
      }
      return
    }
  }

  // ---- cancelling ----

  private async cancelNow(cid: string, t: Tracked): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.exchange.cancelOrder(t.exchangeId ?? '', t.symbol, t.exchangeId === undefined ? { clientOrderId: cid } : {})
        // Fills before the cancel may not have been reported yet: they come first (a list leg's fill ends its sibling).
        await this.catchUp(cid, t.symbol)
        this.cancelled(cid, 'cancelled')
        // Binance cancels the whole list when one of its working legs is cancelled.
        const list = this.lists.get(cid)
        if (list?.live === true) {
          list.live = false
          this.endLeg(sibling(list, cid), 'cancelled with its OCO list')
        }
        return
      } catch (error) {
        if (error instanceof ccxt.OrderNotFound) {
          // The order finished before the cancel arrived (filled, or cancelled by a cancel whose answer was
          // lost): not an error. Its final state at the venue is what is reported.
          const found = await this.lookup(cid, t.symbol).catch((e: unknown) => {
            this.alert(`cancel ${cid}: the order is unknown to ${this.exchangeId} and looking it up failed (${this.describe(e)}); reconciliation will settle it`)
            return null
          })
          if (found === null) return
          if (found === undefined) {
            // Not there YET is not "never": a cancel can overtake its own order's send (a slow request, one whose
            // answer was lost). Unknown, so the deployment keeps looking it up for its grace period, and cancels
            // it if it lands.
            this.emit({ type: 'unknown', cid, reason: `a cancel found no order ${cid} at ${this.exchangeId} (it may still be on its way); looked up again`, time: this.clock.now() })
            return
          }
          if (found.status === 'open' && attempt < this.retries) continue
          const list = this.lists.get(cid)
          // A list leg found expired or cancelled: its sibling executed (its fills, reported first, end this leg)
          // or the whole list was cancelled.
          if (list !== undefined) await this.catchUp(sibling(list, cid), t.symbol)
          await this.catchUp(cid, t.symbol)
          if (found.status === 'closed' && list === undefined) await this.closedShort(cid, t.symbol, t.qty, { filled: found.filled, amount: found.qty }, false)
          else if (found.status !== 'closed' && found.status !== 'open') {
            this.cancelled(cid, `${found.status} at the venue`)
            if (list?.live === true) {
              list.live = false
              this.endLeg(sibling(list, cid), 'cancelled with its OCO list')
            }
          }
          return
        }
        // Cancelling twice is harmless (the second one finds the order gone), so transport failures are retried.
        if (error instanceof ccxt.NetworkError && attempt < this.retries && !this.closed) {
          await this.clock.sleep(this.backoff(attempt))
          continue
        }
        this.warn(`cancel ${cid} failed: ${this.describe(error)}; reconciliation will settle it`)
        return
      }
    }
  }

  /** A cancel event for an order; for a list leg, once. */
  private cancelled(cid: string, reason: string): void {
    if (this.lists.has(cid)) this.endLeg(cid, reason)
    else this.emit({ type: 'cancel', cid, reason, time: this.clock.now() })
  }

  /** Report a list leg ended (cancelled, or expired by its sibling's execution), once. */
  private endLeg(cid: string, reason: string): void {
    const list = this.lists.get(cid)
    if (list === undefined || list.ended.has(cid)) return
    list.ended.add(cid)
    this.emit({ type: 'cancel', cid, reason, time: this.clock.now() })
  }

  /** Emit the fills of one order the venue has not reported yet. */
  private async catchUp(cid: string, symbol: string): Promise<void> {
    for (const trade of await this.orderTrades(cid, symbol)) this.emitFill(trade)
  }

  /**
   * An order the venue closed (done: nothing more will fill) with less than was asked — ccxt truncated its amount
   * to the market's step (an off-step percent, notional or targetPercent size): its fills reported (all of them,
   * read again when the answer did not list them), then its rest cancelled with the reason. The engine waited for
   * that rest for ever: the order stayed PARTIALLY_FILLED, a cancel of it found it closed and confirmed nothing,
   * and an exit parked behind that cancel was never sent (an audit: 1.33 BTC left held).
   */
  private async closedShort(cid: string, symbol: string, asked: number | undefined, o: { filled: number; amount?: number | undefined }, catchUp = true): Promise<void> {
    const filled = o.filled
    if (!(filled >= 0) || (asked !== undefined && !(filled < asked * (1 - 1e-12)))) return
    // Read the order's trades again only when the answer did not list them all (a failed read then ends nothing).
    if (catchUp && (this.orders.get(cid)?.filled ?? 0) < filled * (1 - 1e-9)) await this.catchUp(cid, symbol).catch((e: unknown) => this.alert(`trades of ${cid}: ${this.describe(e)}`))
    // Only once every fill the venue counts has been reported: a fill reported after the rest was cancelled
    // would find the order ended, and be lost.
    const seen = this.orders.get(cid)?.filled ?? 0
    if (seen < filled * (1 - 1e-9)) {
      this.warn(`${cid} is closed at ${this.exchangeId} with ${+filled.toPrecision(12)} filled, ${+seen.toPrecision(12)} of it reported so far: its rest is left working until reconciliation`)
      return
    }
    const of = asked ?? o.amount ?? NaN
    this.cancelled(cid, `closed at ${this.exchangeId} with ${+filled.toPrecision(12)} of ${+of.toPrecision(12)} filled (its amount cut to the market's step)`)
  }

  // ---- reading ----

  private async findOrder(cid: string, symbol: string): Promise<Order | undefined> {
    const has = this.exchange.has as Record<string, unknown>
    try {
      if (can(has, 'fetchOrder')) return await this.read(`lookup ${cid}`, () => this.exchange.fetchOrder('', symbol, { clientOrderId: cid }))
      const open = await this.read(`fetchOpenOrders ${symbol}`, () => this.exchange.fetchOpenOrders(symbol))
      const closed = await this.read(`fetchClosedOrders ${symbol}`, () => this.exchange.fetchClosedOrders(symbol, this.since))
      return [...open, ...closed].find((o) => o.clientOrderId === cid)
    } catch (error) {
      if (error instanceof BrokerError && (error.cause as { name?: string } | undefined)?.name === 'OrderNotFound') return undefined
      throw error
    }
  }

  private async toVenueTrade(symbol: string, t: Trade): Promise<VenueTrade> {
    const orderId = String(t.order ?? '')
    let cid = this.byExchangeId.get(orderId)
    if (cid === undefined && orderId !== '' && !this.foreign.has(orderId) && this.orders.size > 0) {
      // A trade of an order whose answer never came (a send that timed out): its client id says whether it is ours.
      const has = this.exchange.has as Record<string, unknown>
      if (can(has, 'fetchOrder')) {
        const order = await this.read(`fetchOrder ${orderId}`, () => this.exchange.fetchOrder(orderId, symbol)).catch(() => undefined)
        const theirs = order?.clientOrderId
        if (theirs !== undefined && this.orders.has(theirs)) {
          this.learn(theirs, orderId)
          cid = theirs
        } else if (order !== undefined) this.foreign.add(orderId)
      }
    }
    return this.mapTrade(cid, symbol, t, undefined, await this.feeAssetPrice(symbol, t))
  }

  /**
   * The price, in the market's quote, of the asset a trade's fee was charged in when it is neither the quote nor
   * the base (BNB on Binance with BNB fee payment): its ticker's last price on FEE/QUOTE, read at most once a minute
   * per asset. Undefined when there is no such market or it cannot be read (the fee is then not counted, and said so).
   */
  private async feeAssetPrice(symbol: string, t: Trade): Promise<number | undefined> {
    const market = this.market(symbol)
    const currency = t.fee?.currency
    if (market === undefined || currency === undefined || currency === market.quote || currency === market.base || !(Number(t.fee?.cost) !== 0)) return undefined
    const pair = `${currency}/${market.quote}`
    const now = this.clock.now()
    const cached = this.feePrices.get(pair)
    // A failed read is remembered as long: a send's fill is not held up by a retried ticker on every trade.
    if (cached !== undefined && now - cached.at < 60_000) return Number.isNaN(cached.price) ? undefined : cached.price
    let price: number | undefined
    try {
      if (this.exchange.markets?.[pair] === undefined) throw new Error(`no market ${pair} at ${this.exchangeId}`)
      // One attempt within a second: the fill it prices has happened, and waits for it (a review: 6 s, 43 s with
      // ccxt's defaults, while the position was open without its bracket legs). A failure is remembered a minute.
      let timer: ReturnType<typeof setTimeout> | undefined
      const ticker = await Promise.race([
        this.exchange.fetchTicker(pair),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${FEE_PRICE_BUDGET_MS} ms`)), FEE_PRICE_BUDGET_MS))),
      ]).finally(() => clearTimeout(timer))
      const last = Number(ticker.last ?? ticker.close ?? NaN)
      const mid = (Number(ticker.bid) + Number(ticker.ask)) / 2
      price = last > 0 && Number.isFinite(last) ? last : mid > 0 && Number.isFinite(mid) ? mid : undefined
      if (price === undefined) throw new Error(`its ticker has no price`)
    } catch (error) {
      if (!this.feeWarned.has(`price:${pair}`)) {
        this.feeWarned.add(`price:${pair}`)
        this.warn(`fees charged in ${currency} cannot be valued in ${market.quote}: ${pair}: ${this.describe(error)}`)
      }
      this.feePrices.set(pair, { price: NaN, at: now })
      return undefined
    }
    if (cached === undefined || Number.isNaN(cached.price)) this.alert(`fees charged in ${currency} are valued at ${pair}'s last price (${price} now, read again at most once a minute) and counted in ${market.quote}`)
    this.feePrices.set(pair, { price, at: now })
    return price
  }

  private mapTrade(cid: string | undefined, symbol: string, t: Trade, order?: Order, feePrice?: number): VenueTrade {
    const market = this.market(symbol)
    const price = Number(t.price)
    let fee = 0
    let feeQty = 0
    const cost = Number(t.fee?.cost ?? 0)
    const currency = t.fee?.currency
    const side = (t.side ?? order?.side) === 'sell' ? 'sell' : 'buy'
    if (cost !== 0 && currency !== undefined && market !== undefined) {
      if (currency === market.quote) fee = cost
      else if (currency === market.base) {
        fee = cost * price
        // A buy's fee in the coins bought: the account received amount − cost (it was booked as the whole amount,
        // and a close then sold coins the account did not have: InsufficientFunds — an audit). A sell's (BNB/USDT
        // paying its fees in BNB): the coins held lost amount + cost (booked as amount, the rest stayed as held).
        if (cost > 0 && cost < Number(t.amount)) feeQty = cost
      }
      // A fee in a third asset (BNB), valued at its price in the quote: the deployment's cash pays it (the account's
      // BNB did), so the P&L and the daily-loss guard count it. (Booked as 0 before: above the truth by 0.075 %.)
      else if (feePrice !== undefined) fee = cost * feePrice
      else if (!this.feeWarned.has(`${symbol}:${t.id}`)) {
        // Once a trade: the send's answer and a poll may both map it.
        this.feeWarned.add(`${symbol}:${t.id}`)
        this.warn(`fee of ${cost} ${currency} on ${symbol} trade ${t.id} is not in ${market.quote} or ${market.base}: not counted (booked as 0), so the P&L and the daily-loss guard are above the truth by it`)
      }
    }
    return {
      tradeId: `${symbol}:${t.id}`,
      exchangeOrderId: String(t.order ?? order?.id ?? ''),
      ...(cid === undefined ? {} : { cid }),
      symbol,
      side,
      qty: Number(t.amount),
      price,
      fee,
      ...(feeQty > 0 ? { feeQty } : {}),
      liquidity: t.takerOrMaker === 'maker' ? 'maker' : 'taker',
      time: t.timestamp ?? order?.timestamp ?? this.clock.now(),
    }
  }

  /** Report a fill of ours once per trade id, whichever path (the send's answer, a poll, a cancel) saw it. */
  private emitFill(trade: VenueTrade): void {
    if (trade.cid === undefined || this.seenTrades.has(trade.tradeId)) return
    this.seenTrades.add(trade.tradeId)
    const tracked = this.orders.get(trade.cid)
    if (tracked !== undefined) tracked.filled = (tracked.filled ?? 0) + trade.qty
    // A fill of an order whose send was unknown is also its acknowledgement.
    this.ack(trade.cid, trade.time)
    this.emit({ type: 'fill', cid: trade.cid, tradeId: trade.tradeId, qty: trade.qty, price: trade.price, fee: trade.fee, ...(trade.feeQty === undefined ? {} : { feeQty: trade.feeQty }), liquidity: trade.liquidity, time: trade.time })
    // Binance expires the other leg of a list on any execution, partial or full.
    const list = this.lists.get(trade.cid)
    if (list !== undefined) {
      list.live = false
      this.endLeg(sibling(list, trade.cid), `ended by ${this.exchangeId}: its OCO sibling ${trade.cid} executed`)
    }
  }

  private ack(cid: string, time: number): void {
    const t = this.orders.get(cid)
    if (t === undefined || t.acked || t.exchangeId === undefined) return
    t.acked = true
    this.emit({ type: 'ack', cid, exchangeId: t.exchangeId, time })
  }

  private learn(cid: string, exchangeId: string): void {
    const t = this.orders.get(cid)
    if (t !== undefined) t.exchangeId = exchangeId
    this.byExchangeId.set(exchangeId, cid)
  }

  /** A read retried on transport failures and rate limits (reads are safe to repeat), then a BrokerError. */
  private async read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (error) {
        if (error instanceof ccxt.NetworkError && attempt < this.retries && !this.closed) {
          await this.clock.sleep(this.backoff(attempt))
          continue
        }
        const tries = error instanceof ccxt.NetworkError ? ` after ${attempt} attempt${attempt === 1 ? '' : 's'}` : ''
        throw new BrokerError(`${this.exchangeId} ${what} failed${tries}: ${this.describe(error)}`, { cause: this.scrubbed(error) })
      }
    }
  }

  private async pollLoop(): Promise<void> {
    while (!this.closed) {
      await this.clock.sleep(this.pollMs)
      if (this.closed) return
      try {
        await this.pollFills()
      } catch (error) {
        this.alert(`fill poll failed: ${this.describe(error)}`)
      }
    }
  }

  private backoff(attempt: number): number {
    const plain = Math.min(10_000, this.backoffMs * 2 ** (attempt - 1))
    const headers = (this.exchange as unknown as { last_response_headers?: Record<string, string> }).last_response_headers
    const after = Number(headers?.['Retry-After'] ?? headers?.['retry-after'])
    return Number.isFinite(after) && after > 0 ? Math.max(plain, Math.min(60_000, after * 1000)) : plain
  }

  feeRates(symbol: string): { taker: number; maker: number } | undefined {
    const market = this.market(symbol)
    const taker = Number(market?.taker)
    const maker = Number(market?.maker)
    return taker >= 0 && maker >= 0 && taker < 1 && maker < 1 ? { taker, maker } : undefined
  }

  /** The exchange's markets, read once (what `start` reads first): a restart needs their steps before it rebuilds its trades. */
  async loadMarkets(): Promise<void> {
    await this.read('loadMarkets', () => this.exchange.loadMarkets())
  }

  /**
   * The market's amount step (ccxt's precision.amount, read by the exchange's precision mode), once the markets
   * are loaded; undefined when the market does not say it in a step or decimal places. A holding below it cannot be
   * sold: what a fee taken in the coins bought leaves after a close.
   */
  amountStep(symbol: string): number | undefined {
    const market = this.exchange.markets?.[symbol]
    const precision = Number(market?.precision?.amount)
    if (!(precision >= 0)) return undefined
    const mode = (this.exchange as unknown as { precisionMode?: number }).precisionMode
    // Number('1e-5') is the decimal 0.00001 exactly (10 ** -5 is 9.999999999999999e-6).
    const step = mode === ccxt.TICK_SIZE ? precision : mode === ccxt.DECIMAL_PLACES && Number.isInteger(precision) ? Number(`1e-${precision}`) : NaN
    return step > 0 && Number.isFinite(step) ? step : undefined
  }

  private market(symbol: string): Market | undefined {
    return this.symbols.includes(symbol) ? this.exchange.markets?.[symbol] : undefined
  }

  private spawn(p: Promise<void>): void {
    const run = p.catch((error: unknown) => this.alert(`venue task failed: ${this.describe(error)}`))
    this.inflight.add(run)
    void run.finally(() => this.inflight.delete(run))
  }

  private emit(event: VenueEvent): void {
    this.sink?.(event)
  }

  private alert(line: string): void {
    this.options.onAlert?.(`${this.exchangeId}: ${line}`)
  }

  /**
   * Where lines that need the user go besides the log (a deployment: its alerts.jsonl and status): a fee the
   * books do not count, a cancel that failed. They reached only the deployment's log (an audit).
   */
  attentionTo(sink: (line: string) => void): void {
    this.attention = sink
  }

  private attention: ((line: string) => void) | undefined
  private readonly feeWarned = new Set<string>()
  /** Prices of fee assets (BNB/USDT), with the time read. */
  private readonly feePrices = new Map<string, { price: number; at: number }>()

  private warn(line: string): void {
    if (this.attention !== undefined) this.attention(`${this.exchangeId}: ${line}`)
    else this.alert(line)
  }

  /** An error as one safe line: its class, then the exchange's own code and message when it sent them. */
  private describe(error: unknown): string {
    const name = error instanceof Error ? error.constructor.name : 'Error'
    let message = error instanceof Error ? error.message : String(error)
    const answer = /\{"code":\s*(-?\d+),\s*"msg":\s*"((?:[^"\\]|\\.)*)"/.exec(message)
    if (answer !== null && !(error instanceof BrokerError)) message = `${answer[2]} (code ${answer[1]})`
    else if (message.startsWith(`${this.exchangeId} `)) message = message.slice(this.exchangeId.length + 1)
    return capMessage(redact(error instanceof BrokerError ? message : `${name}: ${message}`, this.secrets), 400)
  }

  /** The error's class and redacted message, standing in for the raw ccxt error as a cause. */
  private scrubbed(error: unknown): Error {
    const e = new Error(redact(error instanceof Error ? error.message : String(error), this.secrets))
    e.name = error instanceof Error ? error.constructor.name : 'Error'
    return e
  }
}

/** Credentials, signatures and query strings (which carry timestamps, signatures and keys) taken out of a text. */
export function redact(text: string, secrets: readonly string[]): string {
  // Every form an exchange may echo a secret in (URL-encoded, JSON-escaped, base64: credentials.ts), as the
  // terminal's redaction does: the raw values alone (before) left the other forms in alerts.jsonl and the journal.
  return redactSecrets(text, secrets)
    .replace(/(https?:\/\/[^\s?"'#]*)\?[^\s"']*/g, '$1?…')
    .replace(/(signature|apiKey|api_key|secret|password|passphrase)=[^&\s"']*/gi, '$1=***')
    .replace(/("?(?:X-MBX-APIKEY|apiKey|secret|password|OK-ACCESS-KEY|OK-ACCESS-PASSPHRASE)"?\s*[:=]\s*)"[^"]*"/gi, '$1"***"')
}

/** The other leg of a list. */
function sibling(list: ListState, cid: string): string {
  return list.legs[0] === cid ? list.legs[1] : list.legs[0]
}

/** A list's legs checked on entry: [take-profit limit, stop-loss stop], one symbol, side and quantity. */
function checkList(list: VenueOrderList): [VenueOrder & { limit: number }, VenueOrder & { stop: number }] {
  const name = typeof list?.listCid === 'string' && list.listCid !== '' ? `order list ${list.listCid}` : 'an order list'
  if (typeof list?.listCid !== 'string' || list.listCid === '') throw new ConfigError(`an order list needs listCid (a non-empty string; received ${JSON.stringify(list?.listCid)})`)
  if (!Array.isArray(list.legs) || list.legs.length !== 2) throw new ConfigError(`${name} needs legs [take-profit, stop-loss] (received ${Array.isArray(list.legs) ? list.legs.length : 'no'} legs)`)
  const [tp, sl] = list.legs
  if (tp.kind !== 'limit' || !(Number(tp.limit) > 0)) throw new ConfigError(`${name}: legs[0] must be the take-profit, kind "limit" with a limit price > 0 (received kind ${JSON.stringify(tp.kind)}, limit ${tp.limit})`)
  if (sl.kind !== 'stop' || !(Number(sl.stop) > 0)) throw new ConfigError(`${name}: legs[1] must be the stop-loss, kind "stop" with a stop price > 0 (received kind ${JSON.stringify(sl.kind)}, stop ${sl.stop})`)
  if (tp.symbol !== sl.symbol || tp.side !== sl.side || tp.qty !== sl.qty) {
    throw new ConfigError(`${name}: both legs must have one symbol, side and quantity (received ${tp.symbol} ${tp.side} ${tp.qty} and ${sl.symbol} ${sl.side} ${sl.qty})`)
  }
  if (tp.cid === sl.cid) throw new ConfigError(`${name}: the legs need distinct client ids (both are ${tp.cid})`)
  return [tp as VenueOrder & { limit: number }, sl as VenueOrder & { stop: number }]
}

/** ccxt's `has` says true for a native method and "emulated" for one it builds from others; both work. */
function can(has: Record<string, unknown>, capability: string): boolean {
  return has[capability] === true || has[capability] === 'emulated'
}

function isRateRefusal(error: unknown): boolean {
  return error instanceof ccxt.DDoSProtection || error instanceof ccxt.RateLimitExceeded
}

function stateOf(cid: string, o: Order): VenueOrderState {
  const status = o.status === 'open' || o.status === 'closed' || o.status === 'canceled' || o.status === 'rejected' || o.status === 'expired' ? o.status : 'open'
  const filled = Number(o.filled ?? 0)
  const state: VenueOrderState = { cid, exchangeId: String(o.id), status, filled, average: filled > 0 ? Number(o.average ?? NaN) : NaN }
  if (o.side === 'buy' || o.side === 'sell') state.side = o.side
  const qty = Number(o.amount)
  if (qty > 0 && Number.isFinite(qty)) state.qty = qty
  const trigger = Number(o.triggerPrice ?? o.stopPrice ?? NaN)
  const type = String(o.type ?? '').toLowerCase()
  // Binance's STOP_LOSS(_LIMIT) / TAKE_PROFIT(_LIMIT) come back as their own types, with a trigger price.
  if (trigger > 0) {
    state.kind = 'stop'
    state.price = trigger
  } else if (type === 'limit' || type === 'limit_maker') {
    state.kind = 'limit'
    if (Number(o.price) > 0) state.price = Number(o.price)
  } else if (type === 'market') state.kind = 'market'
  // Binance: a leg of an order list carries the list's id (-1 for a plain order).
  const listId = (o.info as { orderListId?: unknown } | undefined)?.orderListId
  if (listId !== undefined && listId !== null && Number(listId) >= 0) state.listId = String(listId)
  return state
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be an integer ≥ 1 (received ${value})`)
  return value
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new ConfigError(`${name} must be a finite number ≥ 0 (received ${value})`)
  return value
}
