// The event-driven engine. It owns the clock: every subscribed series' bars are merged by close time
// (a bar is delivered once it has closed; at equal close times the shorter timeframe first), and
// for each bar:
//   1. on the finest series of its symbol (its execution series), working orders meet the bar:
//      fills at the open first (market orders, gaps through stops and limits), then within the range
//      (stops before limits: when a bar spans both bracket legs, the stop is assumed first);
//   2. the symbol's mark moves to the close; open trades see the bar's high and low (MAE/MFE);
//   3. the strategies subscribed to the series get onBar (after their warm-up);
//   4. the requests they made (orders, cancels) go through the queue: sizing, caps and buying power
//      (portfolio) → the order manager (NEW → SUBMITTED | REJECTED) → working from the next bar.
// Fills call back onFill and onOrder. Per bar there is no allocation and no await: the bar object
// of each series is reused, and all state lives in arrays indexed by symbol.

import { ConfigError, DataError, isoTime, Progress, StrategyError, timeframeMs, type ProgressSink } from '../core/index.js'
import type { Bars } from '../data/index.js'
import type { BarEvent, OrderEvent, OrderOptions, OrderRole, OrderView, Side, Strategy, Subscription } from '../strategy/index.js'
import { SleeveContext } from './context.js'
import { Order } from './orders.js'
import { Book, closingFrees, type RiskLimits } from './portfolio.js'
import { FillLog, grown, OrderLog, TradeLog } from './records.js'
import { commission, executionPrice, fillableQty, openFill, rangeFill, type FillModel } from './sim-exchange.js'

export interface SeriesState {
  key: string
  symbol: string
  symbolIndex: number
  timeframe: string
  tfMs: number
  bars: Bars
  n: number
  /** Index of the last delivered bar (−1 before the first). */
  i: number
  /** The finest timeframe of its symbol: orders fill on its bars. */
  execution: boolean
  subscribers: Sleeve[]
  event: BarEvent
  /** A session's indicator streams on this series: told the index of each appended bar. */
  streams: ((index: number) => void)[]
}

export type { FillRecord, TradeRecord } from './records.js'

interface OpenTrade {
  direction: 1 | -1
  entryTime: number
  entryBar: number
  entryQty: number
  entryNotional: number
  exitQty: number
  exitNotional: number
  fees: number
  realized: number
  minLow: number
  maxHigh: number
  entryOrderId: number
  tag: string
  factors: Record<string, number> | undefined
}

export interface SleeveSpec {
  strategy: Strategy<any>
  params: Record<string, number>
  subscriptions: Subscription[]
  cash: number
  /** Unique within the run: the strategy's name, suffixed when one strategy runs twice. */
  name: string
}

export interface Sleeve {
  readonly name: string
  readonly strategy: Strategy<any>
  readonly params: Record<string, number>
  readonly subscriptions: Subscription[]
  readonly warmup: number
  readonly book: Book
  ctx: SleeveContext<any>
  /** Orders that reached a terminal state (the live ones are in the engine's orderById). */
  readonly orders: OrderLog
  readonly fills: FillLog
  readonly trades: TradeLog
  readonly openTrades: (OpenTrade | undefined)[]
  readonly log: string[]
  equity: Float64Array
  /** Gross exposure / equity at each point (0 while flat: the zeroed pages are never touched). */
  exposure: Float64Array
  /** Σ notional traded (turnover). */
  traded: number
  /** Σ of the equity and exposure points recorded so far. */
  equitySum: number
  exposureSum: number
}

export interface EngineOptions {
  fills: FillModel
  limits: RiskLimits
  /** Default sizing for orders that give none. */
  sizing: OrderOptions
  /** Quantities are floored to a multiple of this (0: fractional units). */
  lotSize: number
  /** Close every open position at the last bar's close when the data ends (the trades closed there, exitReason "close at end", counted in the statistics). */
  closeAtEnd: boolean
  progress?: ProgressSink
  /**
   * A session (lib/live): bars arrive one at a time through `append` instead of being known up front;
   * the series and the equity points grow, and indicators are streamed as bars arrive instead of being
   * computed over the whole series once. Same numbers, bit for bit.
   */
  session?: boolean
  /**
   * Orders go to a venue that fills them itself (lib/live: CcxtVenue). The engine does not match them
   * against bars; a cancel or an expiry is a request to the venue (hooks.withdraw), and the order ends when
   * the venue says so (`venueCancelled`); fills come from the venue (`venueFill`), unclamped: the venue is
   * the truth.
   */
  external?: boolean
}

/**
 * A deployment's view of the order flow (lib/live: the order journal). Undefined in a backtest: one `if`
 * per order event, nothing per bar. Called before the engine acts, so an intent is on record before the
 * order reaches the venue and a fill before the book moves.
 */
export interface EngineHooks {
  /** An order is about to reach the venue (set `order.cid`). The 3 sites: submit, bracket children, closeAtEnd. */
  placed(order: Order): void
  /** A working order's quantity changed (a bracket child follows its entry's fills, an OCO sibling shrinks). */
  amended(order: Order): void
  /** A fill is about to be booked. */
  filled(order: Order, qty: number, price: number, fee: number, time: number): void
  /** A placed order left the book unfilled or partly filled. */
  ended(order: Order, status: 'CANCELLED' | 'EXPIRED' | 'REJECTED', reason: string): void
  /** External venue: ask it to cancel a working order (the order ends when the venue confirms). */
  withdraw?(order: Order, reason: string): void
  /**
   * Guards outside strategy code (lib/live): an order the caps allowed, at its reference price — the
   * quantity to send (≤ qty; a smaller one is reported as RESIZED with the reason given by `admitReason`),
   * or a reason to reject it.
   */
  admit?(order: Order, qty: number, price: number): number | string
  /** Why the last `admit` cut an order down. */
  admitReason?(): string
}

type Request = { kind: 'submit'; order: Order; sleeve: Sleeve; sizing: OrderOptions; resizable: boolean } | { kind: 'cancel'; orderId: number; sleeve: Sleeve; reason: string }

export class Engine {
  readonly series: SeriesState[] = []
  readonly seriesByKey = new Map<string, SeriesState>()
  readonly symbols: string[] = []
  readonly symbolIndex = new Map<string, number>()
  /** Last price of each symbol. */
  marks: Float64Array
  /** The execution series of each symbol. */
  readonly executionOf: SeriesState[] = []
  readonly sleeves: Sleeve[] = []
  /** Working orders by symbol index. */
  readonly working: Order[][] = []
  /** Open trades by symbol (any sleeve): MAE/MFE tracking is skipped where there are none. */
  readonly openTradeCount: Int32Array
  /**
   * Per symbol, a live venue's amount step (setDust; 0 in a backtest). A holding below it is dust — what a fee
   * taken in the coins bought leaves after the close sold the step's multiple: flat for the strategy (position 0,
   * its trade closed, nothing to close, not an open position for the limits), still the account's (in the book,
   * the equity and reconciliation). Not the market's minimum amount: a sell filled in parts passes below it.
   */
  readonly dust: Float64Array
  private readonly queue: Request[] = []
  private readonly snapshot: (Order | undefined)[] = []
  /** Every order of the run by id (ids count from 1), and every sleeve by name: no scan of a sleeve's orders per cancel or fill. */
  private readonly orderById: (Order | undefined)[] = [undefined]
  private readonly sleeveByName = new Map<string, Sleeve>()
  private nextId = 1
  /** Progress of a run (begin → advance → end), and bars delivered so far. */
  private progress: Progress | undefined
  private delivered = 0
  now = NaN
  label = NaN
  hooks: EngineHooks | undefined = undefined
  private readonly external: boolean
  /** Equity points: one per distinct close time, labelled with the open time of its shortest bar. */
  times: Float64Array
  ticks = 0

  constructor(
    specs: readonly SleeveSpec[],
    data: (symbol: string, timeframe: string) => Bars,
    readonly options: EngineOptions,
  ) {
    for (const spec of specs) {
      for (const sub of spec.subscriptions) {
        timeframeMs(sub.timeframe)
        if (!this.symbolIndex.has(sub.symbol)) {
          this.symbolIndex.set(sub.symbol, this.symbols.length)
          this.symbols.push(sub.symbol)
        }
      }
    }
    this.external = options.external === true
    if (this.external && options.session !== true) throw new ConfigError('an external venue needs a session engine')
    this.marks = new Float64Array(this.symbols.length).fill(NaN)
    this.openTradeCount = new Int32Array(this.symbols.length)
    this.dust = new Float64Array(this.symbols.length)
    for (let k = 0; k < this.symbols.length; k++) this.working.push([])
    let total = 0
    for (const spec of specs) {
      for (const sub of spec.subscriptions) {
        const key = `${sub.symbol}@${sub.timeframe}`
        if (this.seriesByKey.has(key)) continue
        const bars = data(sub.symbol, sub.timeframe)
        const symbolIndex = this.symbolIndex.get(sub.symbol)!
        const s: SeriesState = {
          key,
          symbol: sub.symbol,
          symbolIndex,
          timeframe: sub.timeframe,
          tfMs: timeframeMs(sub.timeframe),
          bars,
          n: bars.time.length,
          i: -1,
          execution: false,
          subscribers: [],
          streams: [],
          event: { symbol: sub.symbol, timeframe: sub.timeframe, time: NaN, closeTime: NaN, open: NaN, high: NaN, low: NaN, close: NaN, volume: NaN, index: -1 },
        }
        total += s.n
        this.series.push(s)
        this.seriesByKey.set(key, s)
      }
    }
    for (let k = 0; k < this.symbols.length; k++) {
      const own = this.series.filter((s) => s.symbolIndex === k)
      const finest = own.reduce((a, b) => (b.tfMs < a.tfMs ? b : a))
      finest.execution = true
      this.executionOf.push(finest)
    }
    // A volume cap on bars without volume (NaN: a source that has none, the EuStockMarkets samples) filled nothing,
    // ever, and said nothing: refused.
    for (const s of this.executionOf) {
      if (s.n > 0 && this.cappedWithoutVolume(s)) throw new ConfigError(`fills.volumeShare ${options.fills.volumeShare} caps each fill at a share of its bar's volume, and ${s.symbol} ${s.timeframe} has no volume (missing on every bar): no order would ever fill; leave volumeShare out for these bars`)
    }
    this.times = new Float64Array(total)
    for (const spec of specs) {
      const book = new Book(spec.name, spec.cash, options.limits, this.symbols, this.marks)
      const sleeve: Sleeve = {
        name: spec.name,
        strategy: spec.strategy,
        params: spec.params,
        subscriptions: spec.subscriptions,
        warmup: Math.max(0, Math.floor(spec.strategy.warmup(spec.params))),
        book,
        ctx: undefined as unknown as SleeveContext<any>,
        orders: new OrderLog(spec.name),
        fills: new FillLog(spec.name, this.symbols),
        trades: new TradeLog(spec.name, this.symbols),
        openTrades: this.symbols.map(() => undefined),
        log: [],
        equity: new Float64Array(total),
        exposure: new Float64Array(total),
        traded: 0,
        equitySum: 0,
        exposureSum: 0,
      }
      sleeve.ctx = new SleeveContext(this, sleeve, spec.params, spec.subscriptions)
      this.sleeves.push(sleeve)
      this.sleeveByName.set(sleeve.name, sleeve)
      for (const sub of spec.subscriptions) {
        const s = this.seriesByKey.get(`${sub.symbol}@${sub.timeframe}`)!
        if (!s.subscribers.includes(sleeve)) s.subscribers.push(sleeve)
      }
    }
  }

  /** Runs the whole data set through every sleeve: `begin`, every bar (`advance`), `end`. */
  run(): void {
    this.begin()
    this.advance(Infinity)
    this.end()
  }

  /** onStart for every sleeve, and the orders placed there. The first part of `run`; a session that feeds
   * bars as they close (lib/live) calls it once, then `advance` as bars arrive, then `end`. */
  begin(): void {
    if (this.options.session === true) {
      // A warm start: the bars held already closed before the session; they are history, not events.
      for (const s of this.series) {
        if (s.n === 0) continue
        s.i = s.n - 1
        if (s.execution) this.marks[s.symbolIndex] = s.bars.close[s.i]!
      }
    }
    for (const sleeve of this.sleeves) {
      sleeve.ctx.time = NaN
      this.callback(sleeve, 'onStart', undefined, () => sleeve.strategy.onStart?.(sleeve.ctx))
    }
    this.drain()
    const sink = this.options.progress
    this.progress = sink === undefined ? undefined : new Progress({ label: 'backtest', total: this.times.length, sink })
  }

  /**
   * Steps every bar that closes at or before `until`, in the merge order: by close time; on a tie the
   * shorter timeframe first, then the earlier series. `run` passes Infinity (one compare per bar, against
   * a constant: the plain loop without it measured the same).
   */
  advance(until: number): void {
    const series = this.series
    const count = series.length
    const progress = this.progress
    let delivered = this.delivered
    if (count === 1) {
      // One series: its bars in order, no merge (the loop below with one candidate, minus the search).
      const s = series[0]!
      const time = s.bars.time
      while (s.i + 1 < s.n) {
        const open = time[s.i + 1]!
        const t = open + s.tfMs
        if (t > until) break
        if (t !== this.now) {
          if (this.now === this.now) this.record()
          this.now = t
          this.label = open
        }
        this.step(s)
        if (progress !== undefined && (++delivered & 0xffff) === 0) progress.set(delivered)
      }
    }
    for (;;) {
      // The series whose next bar closes first, all of them on a tie, in the merge order: the shorter
      // timeframe first, then the earlier series (inserted into the few due as they are found).
      const due = this.due
      let ready = 0
      let bestT = Infinity
      for (let k = 0; k < count; k++) {
        const s = series[k]!
        const j = s.i + 1
        if (j >= s.n) continue
        const t = s.bars.time[j]! + s.tfMs
        if (t > bestT) continue
        if (t < bestT) {
          bestT = t
          ready = 0
        }
        let at = ready++
        while (at > 0 && due[at - 1]!.tfMs > s.tfMs) {
          due[at] = due[at - 1]!
          at--
        }
        due[at] = s
      }
      if (ready === 0 || bestT > until) break
      if (bestT !== this.now) {
        if (this.now === this.now) this.record()
        this.now = bestT
        // The point is labelled with the bar's own time (its open), as the bars are.
        this.label = due[0]!.bars.time[due[0]!.i + 1]!
      }
      // Every bar closing now is in the books before a strategy is told of any of them: a strategy deciding on
      // A's bar sees B at this close too, whichever comes first in its symbols (a numbers audit: B's previous
      // close sized the order, so results depended on the order of --symbol).
      // Every due series' orders matched first (each symbol still marked at its previous close, whatever the
      // order of the series), then every symbol marked at this close, then the strategies told: what a fill's
      // callback sees and sizes from does not depend on which symbol came first (a review found it did).
      for (let k = 0; k < ready; k++) this.meet(due[k]!)
      for (let k = 0; k < ready; k++) this.closeBar(due[k]!)
      for (let k = 0; k < ready; k++) {
        this.notify(due[k]!)
        if (progress !== undefined && (++delivered & 0xffff) === 0) progress.set(delivered)
      }
    }
    this.delivered = delivered
  }

  /** The series due at one close time (advance's merge; reused). */
  private readonly due: SeriesState[] = []

  /** The end of the data: positions closed if `closeAtEnd`, the last point recorded, working orders expired
   * ("end of data"), open trades marked open, onStop. */
  end(): void {
    if (this.options.closeAtEnd) this.closeAll()
    if (this.now === this.now) this.record()
    this.finish()
    this.progress?.finish(`${this.times.length.toLocaleString('en-US')} bars`)
  }

  private step(s: SeriesState): void {
    this.meet(s)
    this.closeBar(s)
    this.notify(s)
  }

  /** A series' next bar: its symbol's working orders meet it (its symbol still marked at the previous close). */
  private meet(s: SeriesState): void {
    const i = ++s.i
    if (!s.execution) return
    const b = s.bars
    const k = s.symbolIndex
    if (this.marks[k] !== this.marks[k]) this.marks[k] = b.open[i]!
    if (this.working[k]!.length > 0) {
      if (this.external) this.age(k, i, b.time[i]!)
      else this.match(s, i, b.time[i]!, b.open[i]!, b.high[i]!, b.low[i]!, b.volume[i]!)
    }
  }

  /** The bar just met closed: its symbol marked at its close, its open trades' extremes, its event's fields. */
  private closeBar(s: SeriesState): void {
    const i = s.i
    const b = s.bars
    const open = b.open[i]!
    const high = b.high[i]!
    const low = b.low[i]!
    const close = b.close[i]!
    const time = b.time[i]!
    if (s.execution) {
      const k = s.symbolIndex
      this.marks[k] = close
      if (this.openTradeCount[k]! > 0) {
        for (const sleeve of this.sleeves) {
          const t = sleeve.openTrades[k]
          if (t === undefined) continue
          if (low < t.minLow) t.minLow = low
          if (high > t.maxHigh) t.maxHigh = high
        }
      }
    }
    const ev = s.event
    ev.time = time
    ev.closeTime = time + s.tfMs
    ev.open = open
    ev.high = high
    ev.low = low
    ev.close = close
    ev.volume = b.volume[i]!
    ev.index = i
  }

  /** The strategies subscribed to a series told of its bar just entered (onBar), and the orders they placed submitted. */
  private notify(s: SeriesState): void {
    const i = s.i
    const ev = s.event
    const subs = s.subscribers
    for (let k = 0; k < subs.length; k++) {
      const sleeve = subs[k]!
      if (i + 1 < sleeve.warmup) continue
      const ctx = sleeve.ctx
      ctx.time = ev.closeTime
      try {
        sleeve.strategy.onBar(ctx, ev)
      } catch (error) {
        throw this.wrap(sleeve, 'onBar', s.symbol, error)
      }
    }
    if (this.queue.length > 0) this.drain()
  }

  private record(): void {
    const t = this.ticks++
    // A session's points grow (a backtest's arrays are sized to every bar up front: never here).
    if (t === this.times.length) this.growPoints()
    this.times[t] = this.label
    const sleeves = this.sleeves
    for (let k = 0; k < sleeves.length; k++) {
      const sleeve = sleeves[k]!
      const book = sleeve.book
      // The sums of the two curves in point order (what the metrics would add up from the arrays).
      if (book.held.length === 0) {
        sleeve.equity[t] = book.cash
        sleeve.equitySum += book.cash
      } else {
        book.markToMarket()
        const e = book.markedEquity
        const x = book.markedGross / e
        sleeve.equity[t] = e
        sleeve.exposure[t] = x
        sleeve.equitySum += e
        sleeve.exposureSum += x
      }
    }
  }

  private growPoints(): void {
    const grow = (a: Float64Array) => (a.length === 0 ? new Float64Array(1024) : grown(a))
    this.times = grow(this.times)
    for (const sleeve of this.sleeves) {
      sleeve.equity = grow(sleeve.equity)
      sleeve.exposure = grow(sleeve.exposure)
    }
  }

  /**
   * A session's next bar of a series (lib/live): written after the bars held, the columns doubled when
   * full, and every indicator stream on the series told. It is stepped by the next `advance` that
   * reaches its close time. The caller checks that bars arrive in time order.
   */
  append(s: SeriesState, time: number, open: number, high: number, low: number, close: number, volume: number): void {
    if (this.options.session !== true) throw new ConfigError('bars are appended only to a session engine (options.session)')
    let b = s.bars
    if (s.n === b.time.length) {
      const size = Math.max(256, b.time.length * 2)
      const widen = (a: Float64Array) => {
        const out = new Float64Array(size)
        out.set(a.subarray(0, s.n))
        return out
      }
      b = { symbol: b.symbol, timeframe: b.timeframe, time: widen(b.time), open: widen(b.open), high: widen(b.high), low: widen(b.low), close: widen(b.close), volume: widen(b.volume) }
      s.bars = b
    }
    const j = s.n
    b.time[j] = time
    b.open[j] = open
    b.high[j] = high
    b.low[j] = low
    b.close[j] = close
    b.volume[j] = volume
    s.n = j + 1
    for (const listener of s.streams) listener(j)
  }

  /**
   * A bar of a session's series that closes at or before a time already stepped (a live feed's symbol back
   * from stale hands over the bars it owed): in the series — its indicators, its symbol's mark, its open
   * trades' extremes — but not an event: no order meets it, no strategy is told. Every bar before it was
   * stepped (a later one would make it not late). Left out, the indicators ran on without those bars until
   * a restart read them from the lake (an audit).
   */
  appendPast(s: SeriesState, time: number, open: number, high: number, low: number, close: number, volume: number): void {
    if (s.i !== s.n - 1) throw new DataError(`bar ${s.symbol} ${s.timeframe}: a late bar while the series has bars not stepped yet`)
    this.append(s, time, open, high, low, close, volume)
    s.i = s.n - 1
    // A trade the venue opened during the outage (a resting order filled meanwhile) did not exist over a late bar
    // that closed before its entry: the bar is not one of its excursions, and it comes before its entry's bar
    // (a review: hours before the fill gave a trade an MFE it never had, and bars held it never held).
    const k = s.symbolIndex
    let kept: [OpenTrade, number, number][] | undefined
    if (s.execution && this.openTradeCount[k]! > 0) {
      for (const sleeve of this.sleeves) {
        const t = sleeve.openTrades[k]
        if (t === undefined || t.entryTime < time + s.tfMs) continue
        t.entryBar++
        ;(kept ??= []).push([t, t.minLow, t.maxHigh])
      }
    }
    this.closeBar(s)
    if (kept !== undefined) {
      for (const [t, minLow, maxHigh] of kept) {
        t.minLow = minLow
        t.maxHigh = maxHigh
      }
    }
  }

  // ---- orders: requests from the strategies -------------------------------------------------

  request(sleeve: Sleeve, side: Side, symbol: string, options: OrderOptions, role: OrderRole): Order {
    const k = this.symbolIndex.get(symbol)
    if (k === undefined) throw new ConfigError(`${sleeve.name} trades ${symbol}, which is not in its universe (${this.symbols.join(', ')})`)
    const type = options.type ?? (options.limit !== undefined ? 'limit' : options.stop !== undefined ? 'stop' : 'market')
    if (type === 'limit' && !(Number.isFinite(options.limit) && options.limit! > 0)) throw new ConfigError(`a limit order needs limit: a price > 0 (received ${options.limit})`)
    if (type === 'stop' && !(Number.isFinite(options.stop) && options.stop! > 0)) throw new ConfigError(`a stop order needs stop: a price > 0 (received ${options.stop})`)
    if (type !== 'market' && type !== 'limit' && type !== 'stop') throw new ConfigError(`order type must be market, limit or stop (received ${String(type)})`)
    const expire = options.expireBars ?? Infinity
    if (!(expire >= 1)) throw new ConfigError(`expireBars must be ≥ 1 (received ${expire})`)
    const order = new Order(this.nextId++, sleeve.name, symbol, side, type, role, NaN, options.limit ?? NaN, options.stop ?? NaN, 0, options.tag ?? '', this.now, expire)
    checkPrice('stopLoss', options.stopLoss)
    checkPrice('takeProfit', options.takeProfit)
    order.stopLoss = options.stopLoss ?? NaN
    order.takeProfit = options.takeProfit ?? NaN
    const explicit = options.qty !== undefined || options.notional !== undefined || options.percent !== undefined || options.risk !== undefined
    const sizing: OrderOptions = explicit ? options : this.options.sizing
    this.track(order)
    this.queue.push({ kind: 'submit', order, sleeve, sizing, resizable: true })
    return order
  }

  /** Requests queued outside a bar (an orders file a deployment takes, lib/live) submitted now, in order. */
  submitQueued(): void {
    if (this.queue.length > 0) this.drain()
  }

  requestCancel(sleeve: Sleeve, orderId: number, reason = 'cancelled by the strategy'): void {
    this.queue.push({ kind: 'cancel', orderId, sleeve, reason })
  }

  /** Cancels the sleeve's working orders on a symbol and sends a market order for its position. */
  closePosition(sleeve: Sleeve, symbol: string, tag: string): Order | undefined {
    const k = this.symbolIndex.get(symbol)
    if (k === undefined) throw new ConfigError(`${sleeve.name} closes ${symbol}, which is not in its universe (${this.symbols.join(', ')})`)
    for (const o of this.working[k]!) if (o.strategy === sleeve.name) this.requestCancel(sleeve, o.id, 'cancelled by close')
    for (const r of this.queue) if (r.kind === 'submit' && r.sleeve === sleeve && r.order.symbol === symbol && r.order.status === 'NEW') r.order.cancelReason = 'superseded by close'
    const q = sleeve.book.positions[k]!.qty
    // Dust: no order can trade it (the venue refuses one below its step); the position is flat already.
    if (this.isFlat(k, q)) return undefined
    const order = new Order(this.nextId++, sleeve.name, symbol, q > 0 ? 'sell' : 'buy', 'market', 'exit', Math.abs(q), NaN, NaN, 0, tag, this.now)
    this.track(order)
    this.queue.push({ kind: 'submit', order, sleeve, sizing: { qty: Math.abs(q) }, resizable: false })
    return order
  }

  /**
   * The market's amount step for `symbol`: a holding below it is dust (see `dust`). Set before any fill is
   * restored (a restart's trades are rebuilt with it). A holding of one step less float noise (0.01001 − 0.01 is
   * 9.999999999999593e-6) is a step, not dust.
   */
  setDust(symbol: string, step: number): void {
    const k = this.symbolIndex.get(symbol)
    if (k === undefined || !(step >= 0) || !Number.isFinite(step)) throw new ConfigError(`amount step of ${symbol}: a known symbol and an amount ≥ 0 (received ${step})`)
    this.dust[k] = step * (1 - 1e-9)
  }

  /** The book's open positions, dust not counted (a fee's remainder must not hold a slot of maxOpenPositions). */
  private openPositions(book: Book): number {
    let n = 0
    for (const p of book.held) if (!this.isFlat(p.symbolIndex, p.qty)) n++
    return n
  }

  /** A volume cap (fills.volumeShare) on an execution series none of whose bars held so far has a volume: nothing would fill. */
  cappedWithoutVolume(s: SeriesState): boolean {
    if (this.options.fills.volumeShare === Infinity || !s.execution) return false
    const v = s.bars.volume
    for (let i = 0; i < s.n; i++) if (v[i] === v[i]) return false
    return true
  }

  /** A holding of symbol k is no position: none, or dust below what an order can trade. */
  isFlat(k: number, qty: number): boolean {
    return qty === 0 || Math.abs(qty) < this.dust[k]!
  }

  /** A live order, or a bracket parent, by id (terminal orders leave this lookup; see `release`). */
  order(id: number): Order | undefined {
    return this.orderById[id]
  }

  workingOrders(sleeve: Sleeve, symbol?: string): OrderView[] {
    const out: OrderView[] = []
    const lists = symbol === undefined ? this.working : [this.working[this.symbolIndex.get(symbol) ?? -1] ?? []]
    for (const list of lists) for (const o of list) if (o.strategy === sleeve.name) out.push(o)
    return out
  }

  /** Signed units of the sleeve's working entry orders on symbol k and `side` not filled yet (the other side's may never fill: they make no room). */
  workingEntries(sleeve: Sleeve, k: number, side: Side): number {
    let q = 0
    for (const o of this.working[k]!) if (o.strategy === sleeve.name && o.role === 'entry' && o.side === side) q += (side === 'buy' ? 1 : -1) * o.remaining
    return q
  }

  /** Signed units of the sleeve's working and queued orders on a symbol. */
  pendingQty(sleeve: Sleeve, symbol: string): number {
    const k = this.symbolIndex.get(symbol)
    if (k === undefined) return 0
    let q = 0
    for (const o of this.working[k]!) if (o.strategy === sleeve.name && o.role === 'entry') q += (o.side === 'buy' ? 1 : -1) * o.remaining
    for (const r of this.queue) {
      if (r.kind === 'submit' && r.sleeve === sleeve && r.order.symbol === symbol && r.order.role === 'entry' && r.sizing.qty !== undefined) {
        q += (r.order.side === 'buy' ? 1 : -1) * r.sizing.qty
      }
    }
    return q
  }

  /** Processes queued requests in order; callbacks may queue more, processed in the same pass. */
  private drain(): void {
    const queue = this.queue
    for (let r = 0; r < queue.length; r++) {
      const req = queue[r]!
      if (req.kind === 'cancel') this.cancel(req.sleeve, req.orderId, req.reason)
      else this.submit(req.sleeve, req.order, req.sizing, req.resizable)
    }
    queue.length = 0
  }

  private submit(sleeve: Sleeve, order: Order, sizing: OrderOptions, resizable: boolean): void {
    const k = order.symbolIndex
    if (order.cancelReason !== '') {
      order.qty = 0
      this.setStatus(sleeve, order, 'REJECTED', order.cancelReason)
      return
    }
    const price = this.marks[k]!
    if (!(price > 0)) {
      order.qty = 0
      this.setStatus(sleeve, order, 'REJECTED', `no price for ${order.symbol} yet`)
      return
    }
    const book = sleeve.book
    const wanted = this.size(sleeve, order, sizing, price)
    const checked = resizable ? this.checkLimits(sleeve, order, wanted, price) : { qty: wanted, reason: '' }
    order.qty = checked.qty
    if (!(checked.qty > 0)) {
      order.qty = 0
      this.setStatus(sleeve, order, 'REJECTED', checked.reason === '' ? 'size is 0' : checked.reason)
      return
    }
    // A cut within rounding (100 % of equity, costs included, sized twice in floating point) is not reported:
    // "60.6110 → 60.6110" told a user an order was made smaller when it was not.
    if (checked.qty < wanted && checked.reason !== '' && wanted - checked.qty > 1e-9 * wanted) this.resized(sleeve, order, `${checked.reason}: ${fmt(wanted)} → ${fmt(checked.qty)}`)
    if (this.hooks?.admit !== undefined) {
      const admitted = this.hooks.admit(order, checked.qty, price)
      if (typeof admitted === 'string') {
        order.qty = 0
        this.setStatus(sleeve, order, 'REJECTED', admitted)
        return
      }
      if (admitted < order.qty) {
        this.resized(sleeve, order, `${this.hooks.admitReason?.() ?? 'guard'}: ${fmt(order.qty)} → ${fmt(admitted)}`)
        order.qty = admitted
      }
    }
    // Its first bar is the first of its symbol's execution series to open at or after this close: the next one,
    // or one later when that series' bar in progress began before the decision (a coarser series, or a bar
    // not in yet). `notBefore` holds it to that time when the bar is not known yet (a session).
    const exec = this.executionOf[k]!
    let first = exec.i + 1
    const now = this.now
    if (now === now) {
      const opens = exec.bars.time
      while (first < exec.n && opens[first]! < now) first++
      order.notBefore = now
      // Its first bar not in yet (a session whose series lags): counted from the first one that opens in time.
      order.anchorLate = first === exec.n
    }
    order.activeFrom = first + this.options.fills.latencyBars
    // What it will take of the buying power at this price: its margin at the fill price, and its costs (two buys
    // that each passed the check left no room for the first one's fees, and both were cut at an unchanged open:
    // an engine audit).
    const f = this.options.fills
    const fillPrice = executionPrice(order.side, price, f)
    order.reserved = this.addedMargin(book, k, order) * fillPrice + order.remaining * fillPrice * f.takerRate + f.fixedFee
    book.reserved += order.reserved
    if (this.hooks !== undefined) this.hooks.placed(order)
    this.working[k]!.push(order)
    this.setStatus(sleeve, order, 'SUBMITTED', '')
  }

  /** Units from the sizing options at the reference price (the last close). */
  private size(sleeve: Sleeve, order: Order, sizing: OrderOptions, price: number): number {
    const count = +(sizing.qty !== undefined) + +(sizing.notional !== undefined) + +(sizing.percent !== undefined) + +(sizing.risk !== undefined)
    if (count > 1) {
      const given = (['qty', 'notional', 'percent', 'risk'] as const).filter((key) => sizing[key] !== undefined)
      throw new ConfigError(`order sizing takes one of qty, notional, percent, risk (received ${given.join(', ')})`)
    }
    const equity = sleeve.book.equity
    let qty: number
    if (sizing.qty !== undefined) qty = sizing.qty
    else if (sizing.notional !== undefined) qty = sizing.notional / price
    else if (sizing.percent !== undefined) {
      // All of the percentage in the position, commission, the fixed fee and slippage paid from it, at the price the
      // order's side fills at (a sell lower: sized as a buy, a short held a little less than asked; with a fixed
      // fee every 100 % order was resized — an engine audit).
      const f = this.options.fills
      qty = Math.max(0, sizing.percent * equity - f.fixedFee) / (executionPrice(order.side, price, f) * (1 + f.takerRate))
    } else if (sizing.risk !== undefined) {
      const stop = sizing.stopLoss ?? order.stopLoss
      if (!(stop > 0)) throw new ConfigError('risk sizing needs a stopLoss price')
      qty = (sizing.risk * equity) / Math.abs(price - stop)
    } else qty = 1
    if (!(Number.isFinite(qty) && qty >= 0)) throw new ConfigError(`order size must be a finite number ≥ 0 (received ${qty})`)
    return floorLot(qty, this.options.lotSize)
  }

  /**
   * The margin an order would add, per unit of price: its position's |qty| × margin rate after, less before
   * (0 when it reduces). A reversal frees the closed side's margin and holds the new side's.
   */
  private addedMargin(book: Book, k: number, order: Pick<Order, 'side' | 'remaining'>): number {
    const q = book.positions[k]!.qty
    const after = q + (order.side === 'buy' ? 1 : -1) * order.remaining
    return Math.max(0, Math.abs(after) * book.marginRate(after) - Math.abs(q) * book.marginRate(q))
  }

  /** The quantity the caps and buying power allow (resized down), with the reason when they bind. */
  private checkLimits(sleeve: Sleeve, order: Order, qty: number, price: number): { qty: number; reason: string } {
    const book = sleeve.book
    const limits = book.limits
    const k = order.symbolIndex
    const q = book.positions[k]!.qty
    const sign = order.side === 'buy' ? 1 : -1
    const lot = this.options.lotSize
    let reason = ''
    let allowed = qty
    // Without shorts a sell may take only what is held and not already promised to the sleeve's other working sells
    // on the symbol (a bracket's legs once: they are one-cancels-other). Held alone (before), two sells of the
    // holding in one bar both went, and a live spot deployment sold the account's own coins (a review).
    if (!limits.allowShort && sign < 0) {
      const promised = this.workingOn(sleeve, k, order)
      let free = Math.max(0, q - promised)
      // A sell of exactly what is free is not cut by the subtraction's rounding (0.009 − 0.002 is 0.00699…9: the
      // venue rounded the cut quantity down a step, a review), and a cut lands on the lot size.
      free = reduceTo(allowed, free, lot)
      if (free < allowed) {
        allowed = free
        reason = promised > 0 ? `shorting is disabled; working sells already take ${+Math.min(promised, Math.max(0, q)).toPrecision(10)} of the ${+Math.max(0, q).toPrecision(10)} held` : 'shorting is disabled'
      }
    }
    // Only the part that adds exposure is subject to the caps.
    const reducing = Math.min(allowed, sign * q < 0 ? Math.abs(q) : 0)
    if (allowed > reducing) {
      if (limits.maxOpenPositions !== Infinity && this.isFlat(k, q) && this.openPositions(book) >= limits.maxOpenPositions) return { qty: 0, reason: `max open positions (${limits.maxOpenPositions}) reached` }
      // The sleeve's entries on the symbol that are working and not filled count as held: two buys in one bar each
      // passed a cap alone and together went past it (an audit: 2 BTC held under a 2,000 cap at 1,503.91).
      const held = limits.maxPositionNotional !== Infinity || limits.maxGrossExposure !== Infinity ? q + this.workingEntries(sleeve, k, order.side) : q
      // |held + sign·x| ≤ C on the side the order adds to: sign·held + x ≤ C, so x ≤ C − sign·held.
      if (limits.maxPositionNotional !== Infinity) {
        const cap = floorLot(limits.maxPositionNotional / price - sign * held, lot)
        if (cap < allowed) {
          allowed = Math.max(0, cap)
          reason = `max position notional ${limits.maxPositionNotional}`
        }
      }
      if (limits.maxGrossExposure !== Infinity) {
        const otherGross = book.gross - Math.abs(q) * price
        const cap = floorLot((limits.maxGrossExposure * book.equity - otherGross) / price - sign * held, lot)
        if (cap < allowed) {
          allowed = Math.max(0, cap)
          reason = `max gross exposure ${limits.maxGrossExposure}× equity`
        }
      }
      const f = this.options.fills
      // The price it fills at from this close: slippage against the trader, up for a buy, down for a sell.
      const slip = f.slippageBps / 10_000
      const fillPrice = sign > 0 ? price * (1 + slip) : price * (1 - slip)
      const rate = book.marginRate(sign) + f.takerRate
      // The part that closes the position frees its margin and realises its move from the mark, less its
      // commission, before the rest adds exposure (the fill-time check's arithmetic): a reversal from +50 to
      // −150 at 100 on 10,000 of equity holds 7,500, not 5,000 + 7,500.
      const freed = closingFrees(reducing, q, price, book.marginRate(q), fillPrice, f.takerRate)
      const power = book.buyingPower - f.fixedFee + freed
      const affordable = floorLot(reducing + Math.max(0, power) / (fillPrice * rate), lot)
      if (affordable < allowed) {
        allowed = Math.max(0, affordable)
        reason = 'insufficient buying power'
      }
    }
    return { qty: allowed, reason }
  }

  /**
   * Units the sleeve's working orders of `side` on symbol k (other than `except`) still may trade — its working sells
   * by default: a bracket's legs count once, as the larger. Orders being cancelled at a live venue (`withdrawing`) do
   * not count: a sell placed behind them waits for their cancels in the session (lib/live/session.ts), as an exit
   * does, and is cut there to what is left.
   */
  workingOn(sleeve: Sleeve, k: number, except: Order, side: Side = 'sell'): number {
    let sum = 0
    let legs: Map<number, number> | undefined
    for (const o of this.working[k]!) {
      if (o === except || o.strategy !== sleeve.name || o.side !== side || !o.working || o.withdrawing !== '') continue
      if (o.parentId > 0 && (o.role === 'stop-loss' || o.role === 'take-profit')) {
        legs ??= new Map()
        legs.set(o.parentId, Math.max(legs.get(o.parentId) ?? 0, o.remaining))
      } else sum += o.remaining
    }
    if (legs !== undefined) for (const v of legs.values()) sum += v
    return sum
  }

  private cancel(sleeve: Sleeve, orderId: number, reason: string): void {
    const order = Number.isInteger(orderId) ? this.orderById[orderId] : undefined
    if (order === undefined || order.strategy !== sleeve.name || !(order.working || order.status === 'NEW')) return
    if (order.status === 'NEW') {
      order.cancelReason = `${reason} before it was submitted`
      return
    }
    this.withdraw(sleeve, order, 'CANCELLED', reason)
  }

  /** A working order cancelled (or expired): at once on the simulated exchange; asked of an external venue. */
  private withdraw(sleeve: Sleeve, order: Order, status: 'CANCELLED' | 'EXPIRED', reason: string): void {
    if (!this.external) {
      this.retire(sleeve, order, status, reason)
      return
    }
    if (order.withdrawing !== '') return
    order.withdrawing = status
    order.withdrawReason = reason
    this.hooks?.withdraw?.(order, reason)
  }

  /**
   * A session's orders whose first bar was not in when they were placed (a series that lags): their latency
   * counted from the first bar that opens in time. (A backtest has every bar: none.)
   */
  private anchor(list: readonly Order[], i: number, time: number): void {
    for (let j = 0; j < list.length; j++) {
      const order = list[j]!
      if (order.anchorLate && time >= order.notBefore) {
        order.anchorLate = false
        order.activeFrom = Math.max(order.activeFrom, i + this.options.fills.latencyBars)
      }
    }
  }

  /** External venue: working orders have seen one more bar of their symbol; those past expireBars are withdrawn. */
  private age(k: number, i: number, time: number): void {
    const list = this.working[k]!
    this.anchor(list, i, time)
    for (let j = 0; j < list.length; j++) {
      const order = list[j]!
      if (order.activeFrom > i || time < order.notBefore || order.withdrawing !== '') continue
      if (++order.barsWorking >= order.expireBars) this.withdraw(this.sleeveOf(order), order, 'EXPIRED', `not filled within ${order.expireBars} bars`)
    }
  }

  /** One working order withdrawn now, outside any step (lib/live: a restart cancelling an order it recovered). */
  cancelNow(order: Order, reason: string): void {
    this.withdraw(this.sleeveOf(order), order, 'CANCELLED', reason)
  }

  /**
   * The kill switch (lib/live `deploy stop --flatten`): every working order of every sleeve cancelled, every
   * position closed by a market order. On the simulated exchange they fill at once at the last close, as
   * closeAtEnd does; a live venue is sent the orders (and the cancels), and answers as for any other.
   */
  flatten(reason: string): void {
    for (const sleeve of this.sleeves) {
      for (let k = 0; k < this.symbols.length; k++) {
        for (const o of this.working[k]!.slice()) if (o.strategy === sleeve.name) this.withdraw(sleeve, o, 'CANCELLED', reason)
      }
    }
    if (this.external) {
      for (const sleeve of this.sleeves) for (const p of sleeve.book.held.slice()) this.closePosition(sleeve, p.symbol, reason)
      this.drain()
    } else this.closeAll(reason)
  }

  // ---- a restart (lib/live): the journal's fills and open orders taken back ----------------------

  /** A fill from before a restart, booked into the sleeve's portfolio and trades (no callbacks, no logs of orders). */
  restoreFill(sleeveName: string, symbol: string, side: Side, qty: number, price: number, fee: number, time: number, feeQty = 0): void {
    const sleeve = this.sleeveByName.get(sleeveName)
    const k = this.symbolIndex.get(symbol)
    if (sleeve === undefined || k === undefined) throw new ConfigError(`the journal has a fill of ${sleeveName} on ${symbol}, which this deployment does not trade (strategies ${[...this.sleeveByName.keys()].join(', ')}; symbols ${this.symbols.join(', ')})`)
    // Before its symbol's first bar (a restart, before the warm-up history or the feed marks it), the newest fill
    // booked is the price known: fills come in journal order. The first one (kept before) priced a restarted
    // deployment's equity and unrealized P&L at its oldest fill until a bar came — a day on 1d (a numbers audit).
    if (this.marks[k] !== this.marks[k] || this.executionOf[k]!.i < 0) this.marks[k] = price
    const sign = side === 'buy' ? 1 : -1
    const before = sleeve.book.positions[k]!.qty
    const realized = sleeve.book.apply(k, sign * qty, price, fee)
    if (feeQty > 0) sleeve.book.keepFeeUnits(k, feeQty, price)
    sleeve.traded += qty * price
    const order = new Order(0, sleeve.name, symbol, side, 'market', 'entry', qty, NaN, NaN, 0, 'restored', time)
    this.trade(sleeve, k, order, before, sign * qty, price, fee, realized, Math.max(0, this.executionOf[k]!.i), time)
  }

  /**
   * An order still open at the venue from before a restart, working again under its client order id. Bracket
   * legs that share a parent are linked through a stand-in parent, so one filling cancels the other.
   */
  adopt(
    sleeveName: string,
    o: { cid: string; symbol: string; side: Side; type: 'market' | 'limit' | 'stop'; role: OrderRole; qty: number; filled: number; avgPrice: number; limit?: number; stop?: number; tag?: string; parentCid?: string; id?: number; parentId?: number; stopLoss?: number; takeProfit?: number; hadLegs?: boolean },
    time: number,
  ): Order {
    const sleeve = this.sleeveByName.get(sleeveName)
    const k = this.symbolIndex.get(o.symbol)
    if (sleeve === undefined || k === undefined) throw new ConfigError(`the journal has an open order ${o.cid} of ${sleeveName} on ${o.symbol}, which this deployment does not trade`)
    let parentId = 0
    if (o.parentCid !== undefined) {
      let parent = this.adoptedParents.get(o.parentCid)
      if (parent === undefined) {
        parent = new Order(this.idFor(o.parentId), sleeve.name, o.symbol, o.side === 'buy' ? 'sell' : 'buy', 'market', 'entry', 0, NaN, NaN, 0, o.tag ?? '', time)
        parent.cid = o.parentCid
        parent.children = []
        this.track(parent)
        this.standIns.add(parent)
        this.adoptedParents.set(o.parentCid, parent)
      }
      parentId = parent.id
    }
    const order = new Order(this.idFor(o.id), sleeve.name, o.symbol, o.side, o.type, o.role, o.qty, o.limit ?? NaN, o.stop ?? NaN, parentId, o.tag ?? '', time)
    order.cid = o.cid
    this.track(order)
    order.transition('SUBMITTED', time)
    if (o.filled > 0) {
      order.filled = o.filled
      order.avgPrice = o.avgPrice
      order.transition('PARTIALLY_FILLED', time)
      // A stop with fills has triggered: after a restart its rest is a market order, as before it.
      if (o.type === 'stop') order.triggered = true
    }
    order.activeFrom = this.executionOf[k]!.i + 1
    if (parentId > 0) {
      const parent = this.orderById[parentId]!
      ;(parent.children ??= []).push(order)
      // The entry's bracket prices, from its legs: its later fills resize them, and a leg that completes withdraws
      // its rest, as before the restart (after one, the entry bought on unprotected: a review).
      if (o.role === 'stop-loss') parent.stopLoss = order.stop
      if (o.role === 'take-profit') parent.takeProfit = order.limit
    }
    // An open entry is the parent its legs, adopted after it, are linked to (a stand-in was made for them). Its
    // bracket prices come with it: not filled yet at the restart, it places its legs when it fills (it filled
    // with none: a review). One whose legs the journal already has (ended or re-placed) does not place more.
    if (o.role === 'entry' && o.cid !== '' && !this.adoptedParents.has(o.cid)) {
      if (o.stopLoss !== undefined && o.stopLoss > 0) order.stopLoss = o.stopLoss
      if (o.takeProfit !== undefined && o.takeProfit > 0) order.takeProfit = o.takeProfit
      if (o.hadLegs === true) order.children = []
      this.adoptedParents.set(o.cid, order)
    }
    this.working[k]!.push(order)
    return order
  }

  private readonly adoptedParents = new Map<string, Order>()
  /**
   * Parents made to link adopted legs whose entry ended before the restart: that entry is the last session's
   * order, not this one's. They never work and are never listed (one showed in the results as an extra
   * "entry REJECTED 0/0 end of data").
   */
  private readonly standIns = new Set<Order>()

  /**
   * A restart (lib/live): bracket legs an entry still owes its position — their intents lost, or the
   * process cut off between a leg's cancel and its replacement — placed again for `qty`, as children of
   * the entry (known by its client id), through the hooks like any order.
   */
  restoreBrackets(sleeveName: string, entry: { cid: string; symbol: string; side: Side; tag?: string; stopLoss?: number; takeProfit?: number }, qty: number, roles: readonly ('stop-loss' | 'take-profit')[], time: number): Order[] {
    const sleeve = this.sleeveByName.get(sleeveName)
    const k = this.symbolIndex.get(entry.symbol)
    if (sleeve === undefined || k === undefined) throw new ConfigError(`the journal's entry ${entry.cid} of ${sleeveName} on ${entry.symbol} is not this deployment's`)
    let parent = this.adoptedParents.get(entry.cid)
    if (parent === undefined) {
      parent = new Order(this.nextId++, sleeve.name, entry.symbol, entry.side, 'market', 'entry', 0, NaN, NaN, 0, entry.tag ?? '', time)
      parent.cid = entry.cid
      parent.children = []
      this.track(parent)
      this.standIns.add(parent)
      this.adoptedParents.set(entry.cid, parent)
    }
    // An adopted entry still filling resizes the legs placed here, as it would have the ones it placed (its later
    // fills were left unprotected: a review).
    parent.children ??= []
    if (entry.stopLoss !== undefined && entry.stopLoss > 0) parent.stopLoss = entry.stopLoss
    if (entry.takeProfit !== undefined && entry.takeProfit > 0) parent.takeProfit = entry.takeProfit
    const side: Side = entry.side === 'buy' ? 'sell' : 'buy'
    const out: Order[] = []
    for (const role of roles) {
      const price = role === 'stop-loss' ? entry.stopLoss : entry.takeProfit
      if (price === undefined || !(price > 0)) continue
      const type = role === 'stop-loss' ? 'stop' : 'limit'
      const child = new Order(this.nextId++, sleeve.name, entry.symbol, side, type, role, qty, type === 'limit' ? price : NaN, type === 'stop' ? price : NaN, parent.id, entry.tag ?? '', time)
      child.activeFrom = this.executionOf[k]!.i + 1
      parent.children!.push(child)
      this.track(child)
      if (this.hooks !== undefined) this.hooks.placed(child)
      child.transition('SUBMITTED', time)
      this.working[k]!.push(child)
      this.emitOrder(sleeve, child, 'SUBMITTED', '')
      out.push(child)
    }
    return out
  }

  /** An adopted order's id: the one it had before the restart when it is free, else the next. */
  private idFor(id: number | undefined): number {
    if (id !== undefined && Number.isSafeInteger(id) && id > 0 && this.orderById[id] === undefined) {
      if (id >= this.nextId) this.nextId = id + 1
      return id
    }
    return this.nextId++
  }

  /** Order ids continue after `id` (a restart: the journal's orders keep theirs). */
  continueIdsAfter(id: number): void {
    if (Number.isSafeInteger(id) && id >= this.nextId) this.nextId = id + 1
  }

  // ---- an external venue's answers (lib/live) ---------------------------------------------------

  /**
   * The venue filled `qty` of an order at `price`: booked as it is (the venue is the truth — nothing clamped).
   * `feeQty`: the units the venue kept as its fee in the coins traded (its value is in `fee`): they leave the position
   * (Book.keepFeeUnits) before anything sees it — the bracket legs placed for this fill, onFill, the orders
   * they place (a review: legs sized from the whole amount were refused, the position left without its stop).
   */
  venueFill(order: Order, qty: number, price: number, fee: number, liquidity: 'maker' | 'taker', time: number, feeQty = 0): void {
    const sleeve = this.sleeveOf(order)
    const i = this.executionOf[order.symbolIndex]!.i
    const units = feeQty > 0 ? feeQty : 0
    if (order.working) this.applyFill(sleeve, order, qty, price, fee, liquidity, i, time, false, units)
    else {
      // A fill that raced the order's cancel (or came after the venue closed it): the position is the
      // venue's, so the book takes it; the order's own state stays terminal.
      const k = order.symbolIndex
      const sign = order.side === 'buy' ? 1 : -1
      const before = sleeve.book.positions[k]!.qty
      const realized = sleeve.book.apply(k, sign * qty, price, fee)
      if (units > 0) sleeve.book.keepFeeUnits(k, units, price)
      sleeve.traded += qty * price
      sleeve.fills.push(order.id, k, order.side, qty, price, fee, time, liquidity, order.role)
      this.trade(sleeve, k, order, before, sign * qty, price, fee, realized, i, time)
    }
    if (this.queue.length > 0) this.drain()
  }

  /** The venue cancelled an order (asked, or on its own: expiry, self-trade prevention, an exchange restart). */
  venueCancelled(order: Order, reason: string): void {
    if (!order.working) return
    const status = order.withdrawing === '' ? 'CANCELLED' : order.withdrawing
    this.retire(this.sleeveOf(order), order, status, order.withdrawing === '' ? reason : order.withdrawReason)
    if (this.queue.length > 0) this.drain()
  }

  /** The venue refused an order it was sent. */
  venueRejected(order: Order, reason: string): void {
    if (!order.working || order.filled > 0) return
    this.retire(this.sleeveOf(order), order, 'REJECTED', reason)
    if (this.queue.length > 0) this.drain()
  }

  /** Takes a working order out of the book in a terminal state. */
  private retire(sleeve: Sleeve, order: Order, status: 'CANCELLED' | 'EXPIRED' | 'FILLED' | 'REJECTED', reason: string): void {
    const k = order.symbolIndex
    const list = this.working[k]!
    // Out of the list by shifting the rest down (splice allocates the array it removes).
    const at = list.indexOf(order)
    if (at >= 0) {
      for (let j = at + 1; j < list.length; j++) list[j - 1] = list[j]!
      list.pop()
    }
    sleeve.book.reserved -= order.reserved
    order.reserved = 0
    if (status !== 'FILLED') this.setStatus(sleeve, order, status, reason)
    else this.release(sleeve, order)
  }

  private setStatus(sleeve: Sleeve, order: Order, status: 'SUBMITTED' | 'CANCELLED' | 'EXPIRED' | 'REJECTED', reason: string): void {
    order.transition(status, this.now, reason)
    if (status !== 'SUBMITTED') {
      if (this.hooks !== undefined && order.cid !== '') this.hooks.ended(order, status, reason)
      this.release(sleeve, order)
    }
    this.emitOrder(sleeve, order, status, reason)
  }

  /**
   * An order made smaller than asked (a cap, buying power, a guard): the strategy is told (RESIZED), and the
   * order keeps the reason ("resized: …") unless it ends with one of its own, so the orders table says why
   * its qty is less than the sizing asked for.
   */
  private resized(sleeve: Sleeve, order: Order, why: string): void {
    order.reason = `resized: ${why}`
    this.emitOrder(sleeve, order, 'RESIZED', why)
  }

  private emitOrder(sleeve: Sleeve, order: Order, status: OrderEvent['status'], reason: string): void {
    const cb = sleeve.strategy.onOrder
    if (cb === undefined) return
    sleeve.ctx.time = this.now
    this.callback(sleeve, 'onOrder', order.symbol, () => cb.call(sleeve.strategy, sleeve.ctx, { order, status, reason, time: this.now }))
  }

  // ---- the simulated exchange: working orders meet a bar --------------------------------------

  private match(s: SeriesState, i: number, time: number, open: number, high: number, low: number, volume: number): void {
    const list = this.working[s.symbolIndex]!
    if (this.options.session === true) this.anchor(list, i, time)
    // Fills remove orders from the list and brackets add some: each pass walks a snapshot (a reused
    // array, not a copy per bar).
    const orders = this.snapshot
    // Pass 1, the open: market orders and gaps through stops and limits.
    let count = snapshotInto(list, orders)
    for (let k = 0; k < count; k++) {
      const order = orders[k]!
      if (order.activeFrom > i || time < order.notBefore || order.placedAfterOpen || !order.working) continue
      const raw = openFill(order, open)
      if (raw === raw) this.execute(order, raw, i, time, volume, true)
    }
    // Pass 2, the range after the open: stops first (the pessimistic order within a bar), then limits. An order
    // fills once a bar at most (one that filled at the open, under a volume cap, waits for the next bar: it
    // filled again within the range, above the bar's high — an engine audit). A bracket leg placed at this
    // open is placed at the open's price: already beyond it, it fills there (it filled at its own level, even
    // outside the bar's range — an engine audit).
    for (let pass = 0; pass < 2 && list.length > 0; pass++) {
      const type = pass === 0 ? 'stop' : 'limit'
      count = snapshotInto(list, orders)
      for (let k = 0; k < count; k++) {
        const order = orders[k]!
        if (order.activeFrom > i || time < order.notBefore || order.type !== type || !order.working || order.lastFillBar === i) continue
        const atPlacement = order.placedAfterOpen ? openFill(order, open) : NaN
        const raw = atPlacement === atPlacement ? atPlacement : rangeFill(order, high, low)
        if (raw === raw) this.execute(order, raw, i, time, volume, atPlacement === atPlacement)
      }
    }
    // Expiry: a working order has seen one more bar.
    count = snapshotInto(list, orders)
    for (let k = 0; k < count; k++) {
      const order = orders[k]!
      orders[k] = undefined
      order.placedAfterOpen = false
      if (order.activeFrom > i || time < order.notBefore || !order.working) continue
      if (++order.barsWorking >= order.expireBars) this.retire(this.sleeveOf(order), order, 'EXPIRED', `not filled within ${order.expireBars} bars`)
    }
    if (this.queue.length > 0) this.drain()
  }

  private sleeveOf(order: Order): Sleeve {
    return this.sleeveByName.get(order.strategy)!
  }

  private track(order: Order): void {
    order.symbolIndex = this.symbolIndex.get(order.symbol)!
    this.orderById[order.id] = order
  }

  /**
   * A terminal order goes to its sleeve's log and out of orderById, unless it is a bracket parent
   * (its children, placed after it fills, find their OCO siblings through it). Held for the whole
   * run, tens of thousands of orders were copied by every young-generation collection.
   */
  private release(sleeve: Sleeve, order: Order): void {
    sleeve.orders.push(order)
    const parent = order.children !== undefined || order.stopLoss === order.stopLoss || order.takeProfit === order.takeProfit
    if (!parent) this.orderById[order.id] = undefined
  }

  private execute(order: Order, raw: number, i: number, time: number, volume: number, atOpen: boolean): void {
    const sleeve = this.sleeveOf(order)
    const book = sleeve.book
    const k = order.symbolIndex
    const model = this.options.fills
    const maker = order.type === 'limit'
    const price = maker ? raw : executionPrice(order.side, raw, model)
    const liquidity = maker ? 'maker' : 'taker'
    let qty = fillableQty(order.remaining, volume, model)
    const position = book.positions[k]!
    const sign = order.side === 'buy' ? 1 : -1
    const lot = this.options.lotSize
    // A cut (volume, buying power) lands on the lot size, as the sizing did: 3.5 shares of a 1-share lot filled,
    // and a close() then left a fraction behind as an open trade (an engine audit).
    // A cap below one lot fills nothing this bar (the order waits for a bar with the volume).
    if (qty < order.remaining && lot > 0) qty = floorLot(qty, lot)
    // Exits and bracket children only reduce: never more than the position they close or protect.
    if (order.role !== 'entry') {
      const held = Math.max(0, -sign * position.qty)
      if (held === 0) {
        this.retire(sleeve, order, 'CANCELLED', 'no position left to reduce')
        return
      }
      if (held < qty) qty = held
    }
    if (!(qty > 0)) return
    // Buying power at the fill price (a gap may make a sized order unaffordable): fill what it allows.
    let shortfall = false
    if (order.role === 'entry') {
      book.reserved -= order.reserved
      // The part that closes the position (a reversal's first part) frees its margin and realises its move
      // from the mark, less its commission; the rest, the exposure it opens, must be affordable from that.
      const q0 = position.qty
      const closing = q0 !== 0 && Math.sign(q0) !== sign ? Math.min(qty, Math.abs(q0)) : 0
      const opening = qty - closing
      if (opening > 0) {
        const feeRate = liquidity === 'maker' ? model.makerRate : model.takerRate
        const rate = book.marginRate(sign) + feeRate
        const freed = closingFrees(closing, q0, position.mark, book.marginRate(q0), price, feeRate)
        const power = book.buyingPower - model.fixedFee + freed
        const affordable = Math.max(0, power) / (price * rate)
        if (opening > affordable * (1 + 1e-12)) {
          qty -= opening - affordable
          if (lot > 0) qty = floorLot(qty, lot)
          shortfall = true
        }
      }
      book.reserved += order.reserved
    }
    if (qty > 0) this.applyFill(sleeve, order, qty, price, commission(qty, price, liquidity, model), liquidity, i, time, atOpen)
    if (shortfall && order.working) this.retire(sleeve, order, 'CANCELLED', 'insufficient buying power at the fill price')
  }

  /** A fill decided (by the simulated exchange, or reported by a venue) booked: portfolio, order, logs, trades, brackets, callbacks. */
  private applyFill(sleeve: Sleeve, order: Order, qty: number, price: number, fee: number, liquidity: 'maker' | 'taker', i: number, time: number, atOpen: boolean, feeUnits = 0): void {
    const book = sleeve.book
    const k = order.symbolIndex
    const sign = order.side === 'buy' ? 1 : -1
    if (this.hooks !== undefined) this.hooks.filled(order, qty, price, fee, time)
    const before = book.positions[k]!.qty
    const realized = book.apply(k, sign * qty, price, fee)
    if (feeUnits > 0) book.keepFeeUnits(k, feeUnits, price)
    order.fill(qty, price, fee, time)
    order.lastFillBar = i
    // A stop that filled has traded through its level: what is left of it is a market order.
    if (order.type === 'stop') order.triggered = true
    const share = order.qty > 0 ? order.remaining / order.qty : 0
    book.reserved -= order.reserved - order.reserved * share
    order.reserved *= share
    sleeve.traded += qty * price
    sleeve.fills.push(order.id, k, order.side, qty, price, fee, time, liquidity, order.role)
    this.trade(sleeve, k, order, before, sign * qty, price, fee, realized, i, time)
    if (order.status === 'FILLED') this.retire(sleeve, order, 'FILLED', '')
    // Bracket legs protect what the fill put in the position: less the units the venue kept as its fee from a buy.
    this.afterFill(sleeve, order, order.side === 'buy' ? qty - feeUnits : qty, i, atOpen)
    const onFill = sleeve.strategy.onFill
    sleeve.ctx.time = this.now
    if (onFill !== undefined) this.callback(sleeve, 'onFill', order.symbol, () => onFill.call(sleeve.strategy, sleeve.ctx, { order, symbol: order.symbol, side: order.side, qty, price, fee, time, liquidity }))
    this.emitOrder(sleeve, order, order.status, '')
  }

  /** Brackets and OCO after a fill. */
  private afterFill(sleeve: Sleeve, order: Order, qty: number, i: number, atOpen: boolean): void {
    const k = order.symbolIndex
    if (order.role === 'entry' && (order.stopLoss === order.stopLoss || order.takeProfit === order.takeProfit)) {
      if (order.children === undefined) {
        order.children = []
        const side: Side = order.side === 'buy' ? 'sell' : 'buy'
        const legs: [OrderRole, 'stop' | 'limit', number][] = []
        if (order.stopLoss === order.stopLoss) legs.push(['stop-loss', 'stop', order.stopLoss])
        if (order.takeProfit === order.takeProfit) legs.push(['take-profit', 'limit', order.takeProfit])
        for (const [role, type, price] of legs) {
          const child = new Order(this.nextId++, sleeve.name, order.symbol, side, type, role, qty, type === 'limit' ? price : NaN, type === 'stop' ? price : NaN, order.id, order.tag, this.now)
          // Placed when the entry filled: at the open, the rest of this bar is after it; within the bar, from the next one.
          child.activeFrom = atOpen ? i : i + 1
          child.placedAfterOpen = atOpen
          order.children!.push(child)
          this.track(child)
          if (this.hooks !== undefined) this.hooks.placed(child)
          child.transition('SUBMITTED', this.now)
          this.working[k]!.push(child)
          this.emitOrder(sleeve, child, 'SUBMITTED', '')
        }
      } else {
        for (const child of order.children) {
          if (!child.working) continue
          child.qty += qty
          if (this.hooks !== undefined) this.hooks.amended(child)
        }
      }
    }
    if (order.role === 'stop-loss' || order.role === 'take-profit') {
      const parent = this.orderById[order.parentId]
      for (const sibling of parent?.children ?? NO_ORDERS) {
        if (sibling === order || !sibling.working) continue
        if (order.status === 'FILLED') this.withdraw(sleeve, sibling, 'CANCELLED', `OCO: ${order.role} filled`)
        else {
          sibling.qty = Math.max(sibling.filled, sibling.qty - qty)
          if (this.hooks !== undefined) this.hooks.amended(sibling)
        }
      }
      // The bracket is done: what is left of its entry is withdrawn, not bought without a stop (an entry still
      // filling under a volume cap after its take-profit bought on, unprotected — an engine audit).
      if (order.status === 'FILLED' && parent !== undefined && parent.working) this.withdraw(sleeve, parent, 'CANCELLED', `bracket closed: ${order.role} filled`)
    }
    // Flat (dust included): protective children of this symbol have nothing left to protect.
    if (this.working[k]!.length > 0 && this.isFlat(k, sleeve.book.positions[k]!.qty)) {
      for (const o of this.working[k]!.slice()) {
        if (o.strategy === sleeve.name && (o.role === 'stop-loss' || o.role === 'take-profit')) this.withdraw(sleeve, o, 'CANCELLED', 'position closed')
      }
    }
  }

  // ---- trades: round trips from flat to flat ---------------------------------------------------

  private trade(sleeve: Sleeve, k: number, order: Order, before: number, signed: number, price: number, fee: number, realized: number, i: number, time: number): void {
    let open = sleeve.openTrades[k]
    const after = sleeve.book.positions[k]!.qty
    const qty = Math.abs(signed)
    if (open === undefined || before === 0) {
      open = this.openTrade(sleeve, k, order, Math.sign(signed) as 1 | -1, qty, price, fee, i, time)
      return
    }
    if (Math.sign(signed) === open.direction) {
      open.entryQty += qty
      open.entryNotional += qty * price
      open.fees += fee
      return
    }
    const closing = Math.min(qty, Math.abs(before))
    const share = closing / qty
    open.exitQty += closing
    open.exitNotional += closing * price
    open.fees += fee * share
    open.realized += realized
    if (price < open.minLow) open.minLow = price
    if (price > open.maxHigh) open.maxHigh = price
    // Back to flat, dust left included (a fee in the coins bought leaves less than a step after the close), or reversed.
    const flat = this.isFlat(k, after)
    if (flat || Math.sign(after) !== open.direction) {
      this.closeTrade(sleeve, k, open, i, time, false, exitReasonOf(order, !flat))
      if (!flat) this.openTrade(sleeve, k, order, Math.sign(after) as 1 | -1, Math.abs(after), price, fee * (1 - share), i, time)
    }
  }

  private openTrade(sleeve: Sleeve, k: number, order: Order, direction: 1 | -1, qty: number, price: number, fee: number, i: number, time: number): OpenTrade {
    const t: OpenTrade = {
      direction,
      entryTime: time,
      entryBar: i,
      entryQty: qty,
      entryNotional: qty * price,
      exitQty: 0,
      exitNotional: 0,
      fees: fee,
      realized: 0,
      minLow: price,
      maxHigh: price,
      entryOrderId: order.id,
      tag: order.tag,
      factors: order.factors,
    }
    sleeve.openTrades[k] = t
    this.openTradeCount[k]!++
    return t
  }

  private closeTrade(sleeve: Sleeve, k: number, t: OpenTrade, i: number, time: number, atEnd: boolean, exitReason: string): void {
    const entryPrice = t.entryNotional / t.entryQty
    const exitPrice = t.exitNotional / t.exitQty
    const d = t.direction
    const pnl = t.realized - t.fees
    const mae = d > 0 ? (t.minLow - entryPrice) / entryPrice : (entryPrice - t.maxHigh) / entryPrice
    const mfe = d > 0 ? (t.maxHigh - entryPrice) / entryPrice : (entryPrice - t.minLow) / entryPrice
    sleeve.trades.push(k, d > 0, t.entryTime, entryPrice, time, exitPrice, t.entryQty, t.fees, pnl, pnl / t.entryNotional, mae, mfe, i - t.entryBar, t.entryOrderId, t.tag, atEnd, t.factors, exitReason)
    sleeve.openTrades[k] = undefined
    this.openTradeCount[k]!--
  }

  // ---- the end -----------------------------------------------------------------------------------

  /** closeAtEnd: every position leaves at its symbol's last close (a market-on-close fill, slippage and commission paid). */
  private closeAll(tag = 'close at end'): void {
    for (const sleeve of this.sleeves) {
      for (const p of sleeve.book.held.slice()) {
        const exec = this.executionOf[p.symbolIndex]!
        const order = new Order(this.nextId++, sleeve.name, p.symbol, p.qty > 0 ? 'sell' : 'buy', 'market', 'exit', Math.abs(p.qty), NaN, NaN, 0, tag, this.now)
        this.track(order)
        if (this.hooks !== undefined) this.hooks.placed(order)
        order.transition('SUBMITTED', this.now)
        this.working[p.symbolIndex]!.push(order)
        this.execute(order, p.mark, exec.i, exec.bars.time[exec.i]!, Infinity, false)
      }
    }
  }

  private finish(): void {
    for (const sleeve of this.sleeves) {
      for (let k = 0; k < this.symbols.length; k++) {
        for (const o of this.working[k]!.slice()) if (o.strategy === sleeve.name) this.retire(sleeve, o, 'EXPIRED', 'end of data')
      }
      for (const o of this.standIns) if (o.strategy === sleeve.name) this.orderById[o.id] = undefined
      for (const o of this.orderById) if (o !== undefined && o.strategy === sleeve.name && o.status === 'NEW') this.setStatus(sleeve, o, 'REJECTED', 'end of data')
      const last = this.executionOf
      for (let k = 0; k < this.symbols.length; k++) {
        const open = sleeve.openTrades[k]
        if (open === undefined) continue
        // Still open: reported at the last close, marked as open (not in the trade statistics unless closeAtEnd).
        const p = sleeve.book.positions[k]!
        const exec = last[k]!
        const remaining = Math.abs(p.qty)
        open.exitQty += remaining
        open.exitNotional += remaining * p.mark
        open.realized += p.unrealized
        this.closeTrade(sleeve, k, open, exec.i, exec.bars.time[exec.i]!, true, 'open at end')
      }
      sleeve.ctx.time = this.now
      this.callback(sleeve, 'onStop', undefined, () => sleeve.strategy.onStop?.(sleeve.ctx))
      // Orders placed in onStop are never submitted: they stay NEW, and are listed as such.
      for (const o of this.orderById) if (o !== undefined && o.strategy === sleeve.name && o.status === 'NEW') this.release(sleeve, o)
    }
  }

  private callback(sleeve: Sleeve, name: string, symbol: string | undefined, fn: () => void): void {
    try {
      fn()
    } catch (error) {
      throw this.wrap(sleeve, name, symbol, error)
    }
  }

  private wrap(sleeve: Sleeve, callback: string, symbol: string | undefined, error: unknown): Error {
    if (error instanceof StrategyError) return error
    const message = error instanceof Error ? error.message : String(error)
    const at = this.now === this.now ? ` at the bar closing ${isoTime(this.now)}` : ''
    return new StrategyError(`strategy ${sleeve.name}: ${callback} failed${symbol === undefined ? '' : ` on ${symbol}`}${at}: ${message}`, { cause: error })
  }
}

/** Copies list into the front of `into` and returns how many (no length change: a builtin call per bar). */
const NO_ORDERS: readonly Order[] = []

function snapshotInto(list: readonly Order[], into: (Order | undefined)[]): number {
  for (let k = 0; k < list.length; k++) into[k] = list[k]!
  return list.length
}

/**
 * A reducing quantity `wanted` cut to `room` (what is held and free to sell, computed by subtraction): within
 * 1e-12 of it (the subtraction's rounding: 0.009 − 0.002 is 0.00699…9) it stays whole; else it is `room` on
 * the lot size. Cut by the rounding (a review), a venue sold a step less and the order stayed open for ever.
 */
export function reduceTo(wanted: number, room: number, lot: number): number {
  if (wanted - room <= 1e-12 * Math.max(Math.abs(wanted), Math.abs(room))) return wanted
  return floorLot(Math.max(0, room), lot)
}

/** x floored to a multiple of lot (lot 0: unchanged). */
function floorLot(x: number, lot: number): number {
  return lot > 0 ? Math.floor(x / lot + 1e-9) * lot : x
}

function checkPrice(name: string, price: number | undefined): void {
  if (price !== undefined && !(Number.isFinite(price) && price > 0)) throw new ConfigError(`${name} must be a price > 0 (received ${price})`)
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(6)
}

/**
 * Why a trade ended, from the order whose fill closed it: a bracket leg ("stop-loss", "take-profit"), the
 * backtest's closeAtEnd ("close at end"), a strategy's exit ("exit": close, or a sell/buy placed as an
 * exit), or an entry-side order that reduced the position to zero ("signal") or past it ("reversal").
 */
function exitReasonOf(order: Order, reversed: boolean): string {
  if (order.role === 'stop-loss' || order.role === 'take-profit') return order.role
  if (order.role === 'exit') return order.tag === 'close at end' ? 'close at end' : 'exit'
  return reversed ? 'reversal' : 'signal'
}
