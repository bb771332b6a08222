// The Context a strategy sees in a backtest: the past of its series (views up to the current bar),
// indicator handles, its book, and order verbs that queue requests for the engine. Nothing here can
// reach a bar the engine has not delivered yet.

import { ConfigError, isoTime } from '../core/index.js'
import type { Bars } from '../data/index.js'
// lib/features (factorsInto) is below lib/strategy, which the backtest imports already.
import { factorNames, factorsInto } from '../features/index.js'
import { createStream, INDICATORS, type StreamBar } from '../indicators/index.js'
import type { Context, IndicatorHandle, IndicatorOptions, OrderOptions, OrderView, PositionView, Side, Subscription } from '../strategy/index.js'
import type { Engine, SeriesState, Sleeve } from './engine.js'
import type { FactorSets } from './records.js'

// NaN from a module constant, not the global `NaN`: merged with a float from a typed array in an
// inlined call, the global (a tagged constant to V8) made every returned value a fresh heap number —
// 16 bytes per indicator read per bar, a garbage collection every few thousand bars.
const MISSING = 0 / 0

/** An indicator computed once over the whole series, read only at indices ≤ the series' cursor. */
class BatchHandle implements IndicatorHandle {
  constructor(
    readonly name: string,
    readonly output: string,
    readonly label: string,
    private readonly values: Float64Array,
    private readonly series: SeriesState,
  ) {}

  at(barsAgo = 0): number {
    const i = this.series.i - barsAgo
    // barsAgo < 0 would be the future: NaN, like a bar before the data.
    return barsAgo >= 0 && i >= 0 ? this.values[i]! : MISSING
  }
}

/**
 * A session's indicator (lib/live): the values are streamed as bars are appended — the same machine as
 * the batch computation, so the same numbers bit for bit — and read exactly as BatchHandle reads them.
 */
class StreamHandle implements IndicatorHandle {
  private values = new Float64Array(256)
  private readonly bar: StreamBar = { open: NaN, high: NaN, low: NaN, close: NaN, volume: NaN, time: NaN }

  constructor(
    readonly name: string,
    readonly output: string,
    readonly label: string,
    params: Record<string, number>,
    private readonly series: SeriesState,
  ) {
    const stream = createStream(name, params)
    const update = stream.update
    const push = (j: number) => {
      const b = this.series.bars
      const bar = this.bar
      bar.open = b.open[j]!
      bar.high = b.high[j]!
      bar.low = b.low[j]!
      bar.close = b.close[j]!
      bar.volume = b.volume[j]!
      bar.time = b.time[j]!
      if (j >= this.values.length) {
        const out = new Float64Array(this.values.length * 2)
        out.set(this.values)
        this.values = out
      }
      this.values[j] = update(bar)[output]!
    }
    // The bars held already (a warm start's history), then each one appended.
    for (let j = 0; j < series.n; j++) push(j)
    series.streams.push(push)
  }

  at(barsAgo = 0): number {
    const i = this.series.i - barsAgo
    return barsAgo >= 0 && i >= 0 ? this.values[i]! : MISSING
  }
}

export class SleeveContext<P> implements Context<P> {
  time = NaN
  readonly state: Record<string, unknown> = {}
  readonly handles: (BatchHandle | StreamHandle)[] = []
  private readonly cache = new Map<string, BatchHandle | StreamHandle>()

  constructor(
    private readonly engine: Engine,
    private readonly sleeve: Sleeve,
    readonly params: P,
    readonly subscriptions: readonly Subscription[],
  ) {}

  get strategy(): string {
    return this.sleeve.name
  }

  private series(symbol: string, timeframe: string): SeriesState {
    const s = this.engine.seriesByKey.get(`${symbol}@${timeframe}`)
    if (s === undefined || !s.subscribers.includes(this.sleeve)) {
      throw new ConfigError(`${this.sleeve.name} is not subscribed to ${symbol} ${timeframe}; its universe: ${this.subscriptions.map((x) => `${x.symbol} ${x.timeframe}`).join(', ')}`)
    }
    return s
  }

  history(symbol: string, timeframe: string, n: number): Bars {
    const s = this.series(symbol, timeframe)
    const to = s.i + 1
    const from = Math.max(0, to - Math.max(0, Math.floor(n)))
    const b = s.bars
    return {
      symbol: b.symbol,
      timeframe: b.timeframe,
      time: b.time.subarray(from, to),
      open: b.open.subarray(from, to),
      high: b.high.subarray(from, to),
      low: b.low.subarray(from, to),
      close: b.close.subarray(from, to),
      volume: b.volume.subarray(from, to),
    }
  }

  indicator(name: string, params: Record<string, number> = {}, options: IndicatorOptions = {}): IndicatorHandle {
    const first = this.subscriptions[0]!
    const symbol = options.symbol ?? first.symbol
    const timeframe = options.timeframe ?? (options.symbol === undefined ? first.timeframe : this.subscriptions.find((s) => s.symbol === symbol)?.timeframe ?? first.timeframe)
    const key = `${name}|${JSON.stringify(params)}|${symbol}|${timeframe}|${options.output ?? ''}`
    const cached = this.cache.get(key)
    if (cached !== undefined) return cached
    const ind = INDICATORS[name]
    if (ind === undefined) throw new ConfigError(`unknown indicator "${name}"; expected one of ${Object.keys(INDICATORS).join(', ')}`)
    if (ind.lookahead === true) throw new ConfigError(`${name} uses later bars (centred); a strategy cannot use it`)
    const output = options.output ?? ind.outputs[0]!
    if (!ind.outputs.includes(output)) throw new ConfigError(`${name} has no output "${output}"; expected one of ${ind.outputs.join(', ')}`)
    const s = this.series(symbol, timeframe)
    const shown = Object.entries(ind.resolve(params)).map(([, v]) => v).join(',')
    const label = `${name}(${shown})${output === ind.outputs[0] ? '' : `.${output}`}${symbol === first.symbol && timeframe === first.timeframe ? '' : `@${symbol}:${timeframe}`}`
    // A backtest computes it over the whole series once; the handle never reads past the cursor, and every
    // registered indicator (dpo excepted, refused above) is causal — checkLookahead holds them to it. A
    // session streams it as bars arrive.
    const handle = this.engine.options.session === true ? new StreamHandle(name, output, label, params, s) : new BatchHandle(name, output, label, ind.compute(s.bars, params)[output]!, s)
    this.cache.set(key, handle)
    this.handles.push(handle)
    return handle
  }

  price(symbol: string): number {
    const index = this.indexOf(symbol)
    return index === undefined ? MISSING : this.engine.marks[index]!
  }

  cash(): number {
    return this.sleeve.book.cash
  }

  equity(): number {
    return this.sleeve.book.equity
  }

  /** The sleeve's position in symbol; dust (below what an order can trade, engine.dust) is 0. */
  position(symbol: string): number {
    const index = this.indexOf(symbol)
    if (index === undefined) return 0
    const q = this.sleeve.book.positions[index]!.qty
    return this.engine.isFlat(index, q) ? 0 : q
  }

  /** The engine's index of a symbol; the last one asked is remembered (strategies ask per bar, mostly for one). */
  private indexOf(symbol: string): number | undefined {
    if (symbol === this.lastSymbol) return this.lastIndex
    const index = this.engine.symbolIndex.get(symbol)
    if (index !== undefined) {
      this.lastSymbol = symbol
      this.lastIndex = index
    }
    return index
  }

  private lastSymbol: string | undefined = undefined
  private lastIndex: number | undefined = undefined

  positions(): PositionView[] {
    return this.sleeve.book.held.filter((p) => !this.engine.isFlat(p.symbolIndex, p.qty)).map((p) => ({ symbol: p.symbol, qty: p.qty, avgPrice: p.avgPrice, value: p.value, unrealized: p.unrealized, realized: p.realized }))
  }

  accountPosition(symbol: string): number {
    const index = this.engine.symbolIndex.get(symbol)
    if (index === undefined) return 0
    let q = 0
    for (const s of this.engine.sleeves) q += s.book.positions[index]!.qty
    return this.engine.isFlat(index, q) ? 0 : q
  }

  openOrders(symbol?: string): OrderView[] {
    return this.engine.workingOrders(this.sleeve, symbol)
  }

  buy(symbol: string, options: OrderOptions = {}): OrderView {
    return this.order('buy', symbol, options)
  }

  sell(symbol: string, options: OrderOptions = {}): OrderView {
    return this.order('sell', symbol, options)
  }

  private order(side: Side, symbol: string, options: OrderOptions): OrderView {
    const order = this.engine.request(this.sleeve, side, symbol, options, 'entry')
    const factors: Record<string, number> = {}
    for (const h of this.handles) factors[h.label] = h.at(0)
    this.noteFactorSet(symbol, factors)
    order.factors = factors
    return order
  }

  /**
   * The traded symbol's factor set (lib/features factorSet: range, trendiness, best-fit slope and R² per
   * window, returns) at the bar the order is placed on goes into the order's factors as `factor.<name>`.
   * Here only the series and the bar are noted; factorSets computes the values when the results' factors
   * are first read. (The plain version — factorSet over the series on its first order — cost 2 s on a
   * million bars, ten times the event-driven backtest itself, in every backtest whether or not its
   * factors were read.) For a pair strategy each leg's order is a trade of its own, so each row carries
   * its own leg's factors.
   */
  private noteFactorSet(symbol: string, factors: Record<string, number>): void {
    let s = this.lastSeries
    if (s === undefined || s.symbol !== symbol) {
      const sub = this.subscriptions.find((x) => x.symbol === symbol)
      if (sub === undefined) return
      s = this.engine.seriesByKey.get(`${symbol}@${sub.timeframe}`)
      if (s === undefined) return
      this.lastSeries = s
    }
    if (s.i < 0) return
    this.pendingFactors.push(factors)
    this.pendingSeries.push(s)
    this.pendingBars.push(s.i)
  }

  /** The series of the last order's symbol (orders come mostly on one): no lookup per order. */
  private lastSeries: SeriesState | undefined = undefined
  private readonly pendingFactors: Record<string, number>[] = []
  private readonly pendingSeries: SeriesState[] = []
  private readonly pendingBars: number[] = []

  /**
   * The factor sets of the noted orders, for the results' factor columns: `names` (as `factor.<name>`) and
   * `write(factors, out, at)`, which writes the set of the order whose factors record this is into
   * out[at …] (factorNames' order) and says whether there was one. Computed per trade entry as its column
   * row is filled, from the windows ending at that bar alone (factorsInto: a few hundred operations and no
   * object per order; factorSet over a million bars cost 2 s and 230 MB, and a record with 23 more keys
   * per order a third of a tracked backtest's time). A value at bar i uses bars ≤ i only: that bar's past.
   */
  factorSets(): FactorSets {
    const index = new Map<Record<string, number>, number>()
    for (let k = 0; k < this.pendingFactors.length; k++) index.set(this.pendingFactors[k]!, k)
    const names = factorNames().map((name) => `factor.${name}`)
    return {
      names,
      write: (factors, out, at) => {
        const k = index.get(factors)
        if (k === undefined) return false
        factorsInto(this.pendingSeries[k]!.bars, this.pendingBars[k]!, out, at)
        return true
      },
    }
  }

  close(symbol: string, options: { tag?: string } = {}): OrderView | undefined {
    return this.engine.closePosition(this.sleeve, symbol, options.tag ?? '')
  }

  cancel(orderId: number): void {
    this.engine.requestCancel(this.sleeve, orderId)
  }

  targetPercent(symbol: string, percent: number, options: { tag?: string } = {}): OrderView | undefined {
    if (!Number.isFinite(percent)) throw new ConfigError(`targetPercent: percent must be a finite fraction of equity (received ${percent})`)
    const price = this.price(symbol)
    if (!(price > 0)) throw new ConfigError(`targetPercent: no price for ${symbol} yet`)
    const target = (percent * this.equity()) / price
    const delta = target - this.position(symbol) - this.engine.pendingQty(this.sleeve, symbol)
    if (Math.abs(delta) * price < 1e-9 * Math.max(1, this.equity())) return undefined
    const tag = options.tag ?? ''
    return delta > 0 ? this.buy(symbol, { qty: delta, tag }) : this.sell(symbol, { qty: -delta, tag })
  }

  log(message: string): void {
    this.sleeve.log.push(`${isoTime(this.time)} ${message}`)
  }
}
