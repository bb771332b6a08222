// Live market feeds through ccxt (DESIGN: MarketFeed). CcxtPollFeed asks REST for each series' candles
// after every close; CcxtWsFeed listens to ccxt pro's watchOHLCV only to learn that a candle has closed and
// then asks REST for it, so REST is the truth in both: a candle is delivered only once its close time has
// passed on the clock AND the exchange serves a later candle (the one that started when it closed). The
// still-open candle is never delivered. Batches carry a watermark: every series not reported stale has
// delivered all its bars closing at or before it. Not re-exported by lib/index.ts (ccxt is large).

import ccxt, { type Exchange, type OHLCV } from 'ccxt'
import { ConfigError, errorMessage, floorToTimeframe, timeframeMs } from '../core/index.js'
import { MAX_PRICE, MIN_PRICE, toEpochMs } from '../data/index.js'
import { replaceOrigins } from '../data/sources/ccxt-source.js'
import type { Clock, FeedBar, FeedBatch, MarketFeed } from './feed.js'

export interface FeedSubscription {
  symbol: string
  timeframe: string
  /** First bar wanted (its open time) when it differs from the feed's `from` (e.g. the lake's last bar + 1). */
  from?: number | string
}

/** What a feed reports besides bars: one line each for logs and for guards. */
export type FeedEvent =
  /** A candle broke the bar contract (non-finite, high below open/close…): not delivered, not traded. */
  | { type: 'invalid'; symbol: string; timeframe: string; time: number; reason: string; at: number }
  /** A series is late past `maxLagMs`: batches go on without it (guards should refuse new orders on it). */
  | { type: 'stale'; symbol: string; timeframe: string; due: number; at: number }
  /** A stale series delivers again; `late` of its bars close at or before the watermark already passed. */
  | { type: 'fresh'; symbol: string; timeframe: string; late: number; at: number }
  /** A request failed with a network error or a rate limit and is tried again after `waitMs`. */
  | { type: 'retry'; symbol: string; timeframe: string; error: string; attempt: number; waitMs: number; at: number }
  /** A request failed for good (retries spent, or an exchange error): the series stays late until a later poll works. */
  | { type: 'error'; symbol: string; timeframe: string; message: string; at: number }
  /** The exchange has no watchOHLCV: CcxtWsFeed polls instead (reported once). */
  | { type: 'fallback'; message: string; at: number }
  | { type: 'disconnect'; symbol: string; timeframe: string; message: string; at: number }
  /** The stream is back; the gap is filled over REST. */
  | { type: 'reconnect'; symbol: string; timeframe: string; at: number }

export interface CcxtFeedBatch extends FeedBatch {
  /** Series ("BTC/USDT 1m") the watermark left behind (late past `maxLagMs`). */
  stale: string[]
  /** Their symbols (no new order on them: the deployment's stale-data rule). */
  staleSymbols: string[]
}

export interface CcxtPollFeedOptions {
  /** Built with createExchange (REST) or createStreamingExchange (ccxt pro), `apiUrl` applied. */
  exchange: Exchange
  subscriptions: readonly FeedSubscription[]
  clock: Clock
  /** First bar wanted (open time, epoch ms or ISO), unless a subscription says otherwise. */
  from: number | string
  /** Wait after a bar's close before asking for it (the exchange needs a moment to start the next candle). Default 1,000 ms. */
  delayMs?: number
  /** Ask again this long after a poll that found no new closed bar. Default 2,000 ms. */
  retryMs?: number
  /** A series late by more than this (past its close + delayMs) no longer holds the watermark back. Default 60,000 ms. */
  maxLagMs?: number
  /** Candles per request (default 1,000). */
  pageLimit?: number
  /** Attempts per request on network errors and rate limits (default 6). */
  retries?: number
  /** First retry delay, doubled each time up to 10 s (default 500 ms; slept on the clock). */
  backoffMs?: number
  /** Where events go (default: one line each on stderr). */
  onEvent?: (event: FeedEvent) => void
}

export interface CcxtWsFeedOptions extends CcxtPollFeedOptions {
  /** A stream silent this long past a close (after delayMs) is not waited for: REST is asked anyway. Default 5,000 ms. */
  streamGraceMs?: number
  /** First delay before reconnecting a dropped stream, doubled up to 30 s (default 500 ms, on the clock). */
  reconnectMs?: number
}

/**
 * A ccxt pro exchange for `id` (REST and WebSocket), its REST and stream URLs pointed at `apiUrl` when
 * given; the REST-only class when ccxt has no pro class for it (CcxtWsFeed then polls). Spot markets
 * only for Binance, as createExchange does.
 */
export function createStreamingExchange(id: string, apiUrl?: string, timeoutMs?: number): Exchange {
  const all = ccxt as unknown as Record<string, new (config: object) => Exchange> & { exchanges: string[]; pro: Record<string, new (config: object) => Exchange> }
  if (!all.exchanges.includes(id)) throw new ConfigError(`unknown exchange ${JSON.stringify(id)}; expected a ccxt exchange id such as binance, kraken, coinbase, bybit, okx`)
  const options: Record<string, unknown> = {}
  if (id.startsWith('binance')) options.fetchMarkets = { types: ['spot'] }
  const Class = all.pro[id] ?? all[id]!
  const exchange = new Class({ enableRateLimit: true, options, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) })
  if (apiUrl !== undefined) replaceOrigins(exchange, apiUrl)
  return exchange
}

interface Series {
  symbol: string
  timeframe: string
  name: string
  step: number
  /** Open time of the next bar wanted (= the close time of the last one delivered). */
  next: number
  /** Validated bars not yet released (waiting for the watermark). */
  pending: FeedBar[]
  /** Do not ask REST before this clock time (after a poll that found nothing new, or an error). */
  quietUntil: number
  stale: boolean
  /** Stream state (CcxtWsFeed): the newest candle open time the stream has shown, and whether it is down. */
  streamOpen: number
  down: boolean
  /** Ask REST now whatever the clock says (start, reconnect). */
  backfill: boolean
}

/** Checks shared by both feeds: options once on entry, the series' state, REST confirmation, the watermark. */
class FeedCore {
  readonly series: Series[]
  readonly exchange: Exchange
  readonly clock: Clock
  readonly delayMs: number
  readonly retryMs: number
  readonly maxLagMs: number
  readonly pageLimit: number
  readonly retries: number
  readonly backoffMs: number
  readonly emit: (event: FeedEvent) => void
  watermark = -Infinity
  stopped = false
  private readonly stopping: Promise<void>
  private stopNow: () => void = () => undefined

  constructor(options: CcxtPollFeedOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigError('a ccxt feed needs options { exchange, subscriptions, clock, from }')
    const { exchange, subscriptions, clock } = options
    if (exchange === undefined || typeof (exchange as { fetchOHLCV?: unknown }).fetchOHLCV !== 'function') throw new ConfigError('a ccxt feed needs exchange: a ccxt exchange (createExchange or createStreamingExchange)')
    if (clock === undefined || typeof clock.now !== 'function' || typeof clock.sleep !== 'function') throw new ConfigError('a ccxt feed needs clock: a Clock (WallClock, or ManualClock in tests)')
    if (!Array.isArray(subscriptions) || subscriptions.length === 0) throw new ConfigError('a ccxt feed needs at least one subscription { symbol, timeframe }')
    const number = (name: string, value: number | undefined, fallback: number, min: number) => {
      const v = value ?? fallback
      if (!(Number.isFinite(v) && v >= min)) throw new ConfigError(`${name} must be a finite number ≥ ${min} (received ${v})`)
      return v
    }
    this.delayMs = number('delayMs', options.delayMs, 1000, 0)
    this.retryMs = number('retryMs', options.retryMs, 2000, 1)
    this.maxLagMs = number('maxLagMs', options.maxLagMs, 60_000, 0)
    this.pageLimit = Math.floor(number('pageLimit', options.pageLimit, 1000, 2))
    this.retries = Math.floor(number('retries', options.retries, 6, 1))
    this.backoffMs = number('backoffMs', options.backoffMs, 500, 0)
    const from = toEpochMs(options.from, 'from')
    const seen = new Set<string>()
    this.series = subscriptions.map((sub) => {
      if (sub === null || typeof sub.symbol !== 'string' || sub.symbol === '') throw new ConfigError(`a subscription needs a symbol such as BTC/USDT (received ${JSON.stringify(sub)})`)
      const step = timeframeMs(sub.timeframe)
      const name = `${sub.symbol} ${sub.timeframe}`
      if (seen.has(name)) throw new ConfigError(`subscription ${name} is given twice`)
      seen.add(name)
      const first = sub.from === undefined ? from : toEpochMs(sub.from, `from of ${name}`)
      // The first bar wanted is the first whole bar at or after `from`.
      const start = floorToTimeframe(first, sub.timeframe)
      const next = start === first ? start : start + step
      return { symbol: sub.symbol, timeframe: sub.timeframe, name, step, next, pending: [], quietUntil: -Infinity, stale: false, streamOpen: -Infinity, down: false, backfill: true }
    })
    this.exchange = exchange
    this.clock = clock
    this.emit = options.onEvent ?? ((event) => process.stderr.write(`feed ${JSON.stringify(event)}\n`))
    this.stopping = new Promise((resolve) => (this.stopNow = resolve))
  }

  stop(): void {
    this.stopped = true
    this.stopNow()
  }

  /** Sleep on the clock, cut short by stop(). */
  sleep(ms: number): Promise<void> {
    return Promise.race([this.clock.sleep(ms), this.stopping])
  }

  /** Load markets; refuse symbols and timeframes the exchange does not have. */
  async start(): Promise<void> {
    await this.request(this.series[0]!, () => this.exchange.loadMarkets(), true)
    const markets = this.exchange.markets ?? {}
    const frames = this.exchange.timeframes as Record<string, unknown> | undefined
    for (const s of this.series) {
      if (markets[s.symbol] === undefined) {
        const near = Object.keys(markets).filter((m) => m.split('/')[0] === s.symbol.split('/')[0]).slice(0, 5)
        throw new ConfigError(`unknown symbol ${JSON.stringify(s.symbol)} on ${this.exchange.id}${near.length > 0 ? `; did you mean ${near.join(', ')}?` : '; expected a market symbol such as BTC/USDT'}`)
      }
      if (frames !== undefined && !(s.timeframe in frames)) throw new ConfigError(`timeframe ${s.timeframe} is not offered by ${this.exchange.id}; expected one of ${Object.keys(frames).join(' ')}`)
    }
  }

  /**
   * One REST call with bounded retries of ccxt's NetworkError family (RequestTimeout, RateLimitExceeded,
   * DDoSProtection, ExchangeNotAvailable…), the backoff slept on the clock. Other exchange errors and
   * spent retries: an error event and undefined (or a throw when `fatal`: nothing works without markets).
   */
  async request<T>(s: Series, fn: () => Promise<T>, fatal = false): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (error) {
        if (this.stopped) return undefined
        if (!(error instanceof ccxt.BaseError)) throw error
        if (error instanceof ccxt.NetworkError && attempt < this.retries) {
          const waitMs = Math.min(10_000, this.backoffMs * 2 ** (attempt - 1))
          this.emit({ type: 'retry', symbol: s.symbol, timeframe: s.timeframe, error: error.constructor.name, attempt, waitMs, at: this.clock.now() })
          await this.sleep(waitMs)
          continue
        }
        if (fatal) throw error
        this.emit({ type: 'error', symbol: s.symbol, timeframe: s.timeframe, message: `${error.constructor.name}: ${errorMessage(error)}`, at: this.clock.now() })
        return undefined
      }
    }
  }

  /**
   * Ask REST for the series' candles from `next` on and take every closed one: its close time has passed
   * on the clock and the exchange serves a later candle. Overlap before `next` is dropped, invalid candles
   * are reported and skipped, pages are followed while they end in a closed candle. Returns the bars taken.
   */
  async confirm(s: Series): Promise<number> {
    let taken = 0
    for (;;) {
      const page = await this.request(s, () => this.exchange.fetchOHLCV(s.symbol, s.timeframe, s.next, this.pageLimit))
      if (page === undefined || this.stopped) break
      const now = this.clock.now()
      const rows = page.filter((c): c is OHLCV => Array.isArray(c) && typeof c[0] === 'number' && Number.isFinite(c[0])).sort((a, b) => a[0]! - b[0]!)
      const newest = rows.length > 0 ? rows[rows.length - 1]![0]! : -Infinity
      let tookHere = 0
      for (const c of rows) {
        const time = c[0]!
        if (time < s.next) continue
        const closeTime = time + s.step
        if (closeTime > now || newest < closeTime) break
        s.next = closeTime
        const bar: FeedBar = { symbol: s.symbol, timeframe: s.timeframe, time, closeTime, open: num(c[1]), high: num(c[2]), low: num(c[3]), close: num(c[4]), volume: num(c[5]) }
        const reason = invalidBar(bar)
        if (reason !== undefined) {
          this.emit({ type: 'invalid', symbol: s.symbol, timeframe: s.timeframe, time, reason, at: now })
          continue
        }
        s.pending.push(bar)
        tookHere++
      }
      taken += tookHere
      // More may follow only when the newest candle served is itself closed on our clock (a page's end, not
      // the open candle). Not `page.length < pageLimit`: ccxt drops a page's overlap before `since` itself.
      if (tookHere === 0 || newest + s.step > now) break
    }
    s.quietUntil = taken > 0 ? -Infinity : this.clock.now() + this.retryMs
    return taken
  }

  /**
   * The next batch, or undefined when nothing changed: a series is stale once it is `maxLagMs` past its
   * next close (+ delayMs); the watermark is held below the earliest next close of the others; pending bars
   * closing before it are released in close-time order.
   */
  release(): CcxtFeedBatch | undefined {
    const now = this.clock.now()
    let changed = false
    for (const s of this.series) {
      const due = s.next + s.step + this.delayMs
      const stale = now > due + this.maxLagMs
      if (stale !== s.stale) {
        changed = true
        s.stale = stale
        if (stale) this.emit({ type: 'stale', symbol: s.symbol, timeframe: s.timeframe, due, at: now })
        else this.emit({ type: 'fresh', symbol: s.symbol, timeframe: s.timeframe, late: s.pending.filter((b) => b.closeTime <= this.watermark).length, at: now })
      }
    }
    const live = this.series.filter((s) => !s.stale)
    const hard = Math.min(...live.map((s) => s.next + s.step))
    const bars: FeedBar[] = []
    for (const s of this.series) {
      let n = 0
      while (n < s.pending.length && s.pending[n]!.closeTime < hard) n++
      if (n > 0) bars.push(...s.pending.splice(0, n))
    }
    const order = new Map(this.series.map((s, i) => [s.name, i]))
    bars.sort((a, b) => a.closeTime - b.closeTime || order.get(`${a.symbol} ${a.timeframe}`)! - order.get(`${b.symbol} ${b.timeframe}`)!)
    let watermark = this.watermark
    if (live.length > 0) watermark = Math.max(watermark, Math.min(...live.map((s) => s.next)))
    if (bars.length > 0) watermark = Math.max(watermark, bars[bars.length - 1]!.closeTime)
    if (bars.length === 0 && watermark === this.watermark && !changed) return undefined
    this.watermark = watermark
    const stale = this.series.filter((s) => s.stale)
    return { bars, watermark, stale: stale.map((s) => s.name), staleSymbols: [...new Set(stale.map((s) => s.symbol))] }
  }

  /** When the loop must look again without news: the next due poll or the next stale deadline. */
  wakeAt(dueOf: (s: Series) => number): number {
    let at = Infinity
    for (const s of this.series) {
      at = Math.min(at, Math.max(dueOf(s), s.quietUntil))
      if (!s.stale) at = Math.min(at, s.next + s.step + this.delayMs + this.maxLagMs + 1)
    }
    return at
  }
}

function num(v: unknown): number {
  return v === undefined || v === null ? NaN : Number(v)
}

/**
 * Why a bar breaks the contract, or undefined: finite positive prices, high ≥ max(open, close), low ≤ min,
 * volume ≥ 0 or missing (NaN, as the lake keeps it: some exchanges report no volume). Reasons are the lake's
 * quarantine codes.
 */
function invalidBar(b: FeedBar): string | undefined {
  if (![b.open, b.high, b.low, b.close].every(Number.isFinite) || Math.abs(b.volume) === Infinity) return 'non_finite'
  if (Math.min(b.open, b.high, b.low, b.close) <= 0) return 'non_positive_price'
  if (Math.min(b.open, b.high, b.low, b.close) < MIN_PRICE || Math.max(b.open, b.high, b.low, b.close) > MAX_PRICE) return 'price_out_of_range'
  if (b.high < Math.max(b.open, b.close)) return 'high_below_open_close'
  if (b.low > Math.min(b.open, b.close)) return 'low_above_open_close'
  if (b.volume < 0) return 'negative_volume'
  return undefined
}

/**
 * REST polling: each series is asked for its candles `delayMs` after every close (again every `retryMs`
 * while the exchange has not started the next candle), from `from` on — the first poll catches up.
 */
export class CcxtPollFeed implements MarketFeed {
  private readonly core: FeedCore

  constructor(options: CcxtPollFeedOptions) {
    this.core = new FeedCore(options)
  }

  batches(): AsyncGenerator<CcxtFeedBatch> {
    return pollBatches(this.core)
  }

  /** Stop after the current step (a consumer's `break` does the same). */
  stop(): void {
    this.core.stop()
  }
}

async function* pollBatches(core: FeedCore): AsyncGenerator<CcxtFeedBatch> {
  await core.start()
  try {
    while (!core.stopped) {
      for (const s of core.series) {
        const now = core.clock.now()
        if (now >= s.next + s.step + core.delayMs && now >= s.quietUntil) await core.confirm(s)
      }
      const batch = core.release()
      if (batch !== undefined) yield batch
      const wake = core.wakeAt((s) => s.next + s.step + core.delayMs)
      // At least 1 ms: a loop with nothing due must wait on the clock, never spin (a wall clock can step back).
      if (!core.stopped) await core.sleep(Math.max(1, wake - core.clock.now()))
    }
  } finally {
    core.stop()
  }
}

/**
 * ccxt pro's watchOHLCV as the trigger, REST as the truth: a series is asked over REST as soon as its
 * stream shows the next candle (and the close time has passed on the clock), or `streamGraceMs` after the
 * close when the stream is silent. The stream's values are never delivered. A dropped stream reconnects
 * with backoff and the gap is filled over REST (bars are keyed by open time: none lost, none twice). An
 * exchange without watchOHLCV is polled (a `fallback` event says so once).
 */
export class CcxtWsFeed implements MarketFeed {
  private readonly core: FeedCore
  private readonly graceMs: number
  private readonly reconnectMs: number
  private wake: (() => void) | undefined
  private woken = false

  constructor(options: CcxtWsFeedOptions) {
    this.core = new FeedCore(options)
    this.graceMs = options.streamGraceMs ?? 5000
    if (!(Number.isFinite(this.graceMs) && this.graceMs >= 0)) throw new ConfigError(`streamGraceMs must be a finite number ≥ 0 (received ${this.graceMs})`)
    this.reconnectMs = options.reconnectMs ?? 500
    if (!(Number.isFinite(this.reconnectMs) && this.reconnectMs >= 0)) throw new ConfigError(`reconnectMs must be a finite number ≥ 0 (received ${this.reconnectMs})`)
  }

  async *batches(): AsyncGenerator<CcxtFeedBatch> {
    const core = this.core
    const ex = core.exchange
    if (ex.has.watchOHLCV !== true || typeof (ex as { watchOHLCV?: unknown }).watchOHLCV !== 'function') {
      core.emit({ type: 'fallback', message: `${ex.id} has no watchOHLCV here; polling REST instead`, at: core.clock.now() })
      yield* pollBatches(core)
      return
    }
    await core.start()
    // ccxt refuses plain ws:// URLs (a stand-in, a local proxy) until it has an http agent for them.
    const withAgent = ex as unknown as { loadHttpProxyAgent?: () => Promise<unknown> }
    if (typeof withAgent.loadHttpProxyAgent === 'function') await withAgent.loadHttpProxyAgent()
    // A watcher's unexpected failure ends the feed with it (after the loop's next wake).
    let failed: unknown
    const watchers = core.series.map((s) =>
      this.watch(s).catch((error: unknown) => {
        failed ??= error
        this.stop()
      }),
    )
    try {
      while (!core.stopped) {
        for (const s of core.series) {
          const now = core.clock.now()
          const closed = now >= s.next + s.step
          const streamSays = s.streamOpen >= s.next + s.step
          const silent = now >= s.next + s.step + core.delayMs + (s.down ? 0 : this.graceMs)
          if (now >= s.quietUntil && (s.backfill || (closed && (streamSays || silent)))) {
            s.backfill = false
            await core.confirm(s)
          }
        }
        const batch = core.release()
        if (batch !== undefined) yield batch
        if (core.stopped) break
        const wakeAt = core.wakeAt((s) =>
          s.backfill ? -Infinity : s.streamOpen >= s.next + s.step ? s.next + s.step : s.next + s.step + core.delayMs + (s.down ? 0 : this.graceMs),
        )
        // Sleep until the next deadline or until a stream brings news, whichever comes first.
        if (!this.woken) {
          const now = core.clock.now()
          await new Promise<void>((resolve) => {
            this.wake = resolve
            if (wakeAt < Infinity) void core.sleep(Math.max(1, wakeAt - now)).then(resolve)
          })
        }
        this.woken = false
        this.wake = undefined
      }
    } finally {
      core.stop()
      const closing = ex as unknown as { close?: () => Promise<void> }
      if (typeof closing.close === 'function') await closing.close().catch(() => undefined)
      await Promise.all(watchers)
    }
    if (failed !== undefined) throw failed
  }

  /** Stop after the current step and close the exchange's streams. */
  stop(): void {
    this.core.stop()
    this.notify()
  }

  private notify(): void {
    this.woken = true
    this.wake?.()
  }

  /** One stream per series: it only moves `streamOpen` (and the down/backfill flags) and wakes the loop. */
  private async watch(s: Series): Promise<void> {
    const core = this.core
    const ex = core.exchange as Exchange & { watchOHLCV(symbol: string, timeframe: string): Promise<OHLCV[]> }
    let failures = 0
    while (!core.stopped) {
      try {
        const candles = await ex.watchOHLCV(s.symbol, s.timeframe)
        if (core.stopped) return
        failures = 0
        for (const c of candles) if (typeof c[0] === 'number' && c[0] > s.streamOpen) s.streamOpen = c[0]
        if (s.down) {
          s.down = false
          s.backfill = true
          core.emit({ type: 'reconnect', symbol: s.symbol, timeframe: s.timeframe, at: core.clock.now() })
        }
        this.notify()
      } catch (error) {
        if (core.stopped) return
        if (!(error instanceof ccxt.BaseError)) throw error
        if (!s.down) {
          s.down = true
          core.emit({ type: 'disconnect', symbol: s.symbol, timeframe: s.timeframe, message: `${error.constructor.name}: ${errorMessage(error)}`, at: core.clock.now() })
          this.notify()
        }
        failures++
        await core.sleep(Math.min(30_000, this.reconnectMs * 2 ** Math.min(failures - 1, 16)))
      }
    }
  }
}
