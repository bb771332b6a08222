// Exchange history through ccxt: paginated fetchOHLCV with overlap de-duplication, bounded retries of
// network errors and rate limits, no still-open candle, resumption from what the lake holds.
// Not re-exported by lib/index.ts: ccxt is large; import this module where it is needed. (Not named
// ccxt.ts: tslab resolves require('ccxt') to a sibling ccxt.js before the package.)

import ccxt, { type Exchange } from 'ccxt'
import { ConfigError, Progress, timeframeAnchor, timeframeMs, type ProgressSink } from '../../core/index.js'
import { toEpochMs } from '../bars.js'
import { emptyBars } from '../convert.js'
import { ingestBars, type IngestReport } from '../ingest.js'
import { loadBars, partitionFiles } from '../lake.js'

export interface CcxtIngestOptions {
  exchange: string
  symbols: string[]
  timeframe: string
  /** First candle wanted (epoch ms or ISO). */
  since: number | string
  /** Last candle wanted, inclusive (default: the newest closed one); a bare date (2024-01-31) covers its whole day. */
  until?: number | string
  /** Replace the origin (scheme, host, port) of every REST URL of the exchange: proxies, test stand-ins. */
  apiUrl?: string
  /** The exchange's sandbox/testnet URLs (its candles are the testnet's own: keep them under a source of their own). */
  sandbox?: boolean
  /** Candles per request (default 1000). */
  pageLimit?: number
  /** Attempts per request for network errors and rate limits (default 6). */
  retries?: number
  /** First retry delay in ms, doubled each time up to 10 s (default 500). */
  backoffMs?: number
  /** Per-request timeout in ms; a request that takes longer fails as RequestTimeout and is retried (default ccxt's 10 s). */
  timeoutMs?: number
  /** The lake source name (default: the exchange id). */
  source?: string
  progress?: ProgressSink
  /** Told of each retry as it is scheduled, before the wait (the CLI prints one line per retry). */
  onRetry?: (event: CcxtRetry) => void
}

export interface CcxtRetry {
  /** The attempt that failed (1 = the first request). */
  attempt: number
  /** Attempts allowed in all (`retries`). */
  attempts: number
  /** Milliseconds until the next attempt. */
  waitMs: number
  /** The ccxt error class (RequestTimeout, DDoSProtection, RateLimitExceeded, NetworkError…). */
  error: string
  /** The error's first line, at most 200 characters. */
  message: string
}

export interface CcxtSymbolReport extends IngestReport {
  /** Candles received from the exchange, overlap included. */
  fetched: number
  /** Requests made (retries included). */
  requests: number
  /** Requests retried, by ccxt error class (RateLimitExceeded, RequestTimeout, NetworkError…). */
  retried: Record<string, number>
  /** The first candle asked for after what the lake held (resuming from its newest bar). */
  resumedFrom: string
  /** The window fetched before the lake's oldest bar, when `since` asked for one. */
  backfilled?: { from: string; to: string }
  /** Pages the exchange answered with no candle in their window (gaps at the exchange), skipped over. */
  emptyPages: number
  /** Why a window ended before its end (MAX_EMPTY_PAGES empty pages in a row), when one did. */
  stopped?: string
}

/** Empty pages in a row after which a window ends (each is a request; a delisted market has no end of them). */
export const MAX_EMPTY_PAGES = 24

/** A ConfigError unless `id` is one of ccxt's exchange ids. */
export function checkExchangeId(id: string): void {
  const known = (ccxt as unknown as { exchanges: string[] }).exchanges
  if (!known.includes(id)) throw new ConfigError(`unknown exchange ${JSON.stringify(id.slice(0, 40))}; expected a ccxt exchange id such as binance, kraken, coinbase, bybit, okx`)
}

/** A ccxt exchange for `id`, REST URLs pointed at `apiUrl` when given. */
export function createExchange(id: string, apiUrl?: string, timeoutMs?: number, sandbox = false): Exchange {
  const exchanges = ccxt as unknown as Record<string, new (config: object) => Exchange> & { exchanges: string[] }
  checkExchangeId(id)
  const options: Record<string, unknown> = {}
  // Binance loads spot, linear and inverse markets by default: three APIs where spot is asked for.
  if (id.startsWith('binance')) options.fetchMarkets = { types: ['spot'] }
  const exchange = new exchanges[id]!({ enableRateLimit: true, options, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) })
  // The sandbox's URLs first, then the replaced origins (setSandboxMode swaps the whole URL table).
  if (sandbox) {
    if ((exchange.urls as { test?: unknown }).test === undefined) throw new ConfigError(`${id} has no sandbox/testnet in ccxt; run without --sandbox`)
    exchange.setSandboxMode(true)
  }
  if (apiUrl !== undefined) replaceOrigins(exchange, apiUrl)
  return exchange
}

/**
 * Rewrite every http(s) URL under exchange.urls.api to the origin of `apiUrl`, keeping the paths, and
 * every ws(s) URL (ccxt pro's streams) to the same host and port with the matching WebSocket scheme
 * (http → ws, https → wss), so one stand-in or proxy serves both.
 */
export function replaceOrigins(exchange: Exchange, apiUrl: string): void {
  let origin: string
  try {
    origin = new URL(apiUrl).origin
  } catch {
    throw new ConfigError(`--api-url ${JSON.stringify(apiUrl)} is not a URL; expected e.g. http://127.0.0.1:8080`)
  }
  const wsOrigin = origin.replace(/^http(s?):\/\//, 'ws$1://')
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string' && /^(https?|wss?):\/\//.test(value)) {
      const url = new URL(value)
      return `${value.startsWith('ws') ? wsOrigin : origin}${url.pathname}${url.search}`.replace(/\/$/, value.endsWith('/') ? '/' : '')
    }
    if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) (value as Record<string, unknown>)[k] = rewrite(v)
    }
    return value
  }
  const urls = exchange.urls as Record<string, unknown>
  urls.api = rewrite(urls.api)
}

export async function ingestCcxt(home: string, options: CcxtIngestOptions): Promise<CcxtSymbolReport[]> {
  const step = timeframeMs(options.timeframe)
  const since = toEpochMs(options.since, '--since')
  // A bare date covers its whole day, as --end does: --until 2024-01-31 includes that day's last candle.
  const until = options.until === undefined ? Infinity : toEpochMs(options.until, '--until', true)
  // Checked before the exchange is asked anything (it was met only after the retries against it).
  if (options.pageLimit !== undefined && !(Number.isInteger(options.pageLimit) && options.pageLimit >= 1)) throw new ConfigError(`pageLimit must be an integer ≥ 1 (received ${options.pageLimit})`)
  if (until < since) throw new ConfigError(`--until ${options.until} is before --since ${options.since}; expected a window forward in time`)
  if (options.symbols.length === 0) throw new ConfigError('no symbols given; expected e.g. --symbols BTC/USDT,ETH/USDT')
  const exchange = createExchange(options.exchange, options.apiUrl, options.timeoutMs, options.sandbox === true)
  let retried: Record<string, number> = {}
  const retry = retrier(options.retries ?? 6, options.backoffMs ?? 500, (error, event) => {
    retried[error.constructor.name] = (retried[error.constructor.name] ?? 0) + 1
    options.onRetry?.(event)
  })
  let requests = 0
  const call = <T>(fn: () => Promise<T>) => {
    return retry(() => {
      requests++
      return fn()
    })
  }
  await call(() => exchange.loadMarkets())
  const markets = exchange.markets ?? {}
  for (const symbol of options.symbols) {
    if (markets[symbol] === undefined) {
      const near = Object.keys(markets).filter((s) => s.split('/')[0] === symbol.split('/')[0]).slice(0, 5)
      throw new ConfigError(`unknown symbol ${JSON.stringify(symbol)} on ${options.exchange}${near.length > 0 ? `; did you mean ${near.join(', ')}?` : '; expected a market symbol such as BTC/USDT'}`)
    }
  }
  const exchangeFrames = exchange.timeframes as Record<string, unknown> | undefined
  if (exchangeFrames !== undefined && !(options.timeframe in exchangeFrames)) {
    throw new ConfigError(`timeframe ${options.timeframe} is not offered by ${options.exchange}; expected one of ${Object.keys(exchangeFrames).join(' ')}`)
  }
  // The exchange's clock decides which candle is still open; ours may be off.
  let now = Date.now()
  if (exchange.has.fetchTime === true) {
    try {
      now = await call(() => exchange.fetchTime()) ?? now
    } catch {
      /* keep the local clock */
    }
  }
  // The grid of the timeframe (weeks open on Mondays, as the lake's and the exchanges' do): the first candle
  // wanted opens at or after `since`, the last closed one before `now` (a numbers audit: on the epoch's
  // Thursday grid a 1w ingest skipped its first week and the newest closed one).
  const anchor = timeframeAnchor(options.timeframe)
  const lastClosed = Math.floor((now - anchor) / step) * step + anchor - step
  const end = Math.min(until, lastClosed)
  const first = Math.ceil((since - anchor) / step) * step + anchor
  const source = options.source ?? options.exchange
  // No more candles a page than the exchange serves (ccxt's features: Coinbase 300, Kraken 720, Binance 1000): a
  // page window is then what was asked and answered, and stepping over an empty one skips nothing (an empty
  // 300-candle window stepped 1,000 candles on: a review).
  const wanted = options.pageLimit ?? 1000
  // The features of the market's own type: a swap or future serves fewer than the spot market (kucoinfutures 500
  // against 1,500: a review).
  type Limits = { fetchOHLCV?: { limit?: unknown } }
  const features = (exchange as unknown as { features?: Record<string, (Limits & { linear?: Limits; inverse?: Limits }) | undefined> }).features
  const pageOf = (symbol: string): number => {
    const m = markets[symbol] as { type?: string; linear?: boolean; inverse?: boolean } | undefined
    const kind = features?.[m?.type ?? 'spot']
    const served = (m?.type === 'spot' || m?.type === undefined ? kind : m.inverse === true ? kind?.inverse : kind?.linear)?.fetchOHLCV?.limit
    return Math.min(wanted, typeof served === 'number' && served >= 1 ? served : Infinity)
  }
  const reports: CcxtSymbolReport[] = []
  for (const symbol of options.symbols) {
    const limit = pageOf(symbol)
    // What the lake holds is not fetched again: the window before its first bar (a backfill) and the one after
    // its last (resuming). A window that ended before the lake's first bar was answered "added 0" (an audit).
    const stored = await storedRange(home, { source, symbol, timeframe: options.timeframe })
    const windows: [number, number][] = stored === undefined ? [[first, end]] : [[first, Math.min(end, stored.first - step)], [Math.max(first, stored.last + step), end]]
    const todo = windows.filter(([a, b]) => a <= b)
    const total = todo.reduce((n, [a, b]) => n + Math.floor((b - a) / step) + 1, 0)
    const progress = new Progress({ label: `${symbol} ${options.timeframe}`, total: Math.max(0, total), sink: options.progress })
    const before = requests
    retried = {}
    const times: number[] = []
    const rows: number[][] = []
    let fetched = 0
    let emptyPages = 0
    let stopped: string | undefined
    let done = 0
    for (const [from, to] of todo) {
      let cursor = from
      let emptyRun = 0
      while (cursor <= to) {
        const page = await call(() => exchange.fetchOHLCV(symbol, options.timeframe, cursor, limit))
        fetched += page.length
        // Overlapping pages and the still-open candle are dropped here; times only move forward.
        const fresh = page.filter((c) => typeof c[0] === 'number' && c[0]! >= cursor && c[0]! <= to)
        if (fresh.length === 0) {
          // Candles, none in the window: older ones only (nothing newer to page to), or the exchange's next candle
          // lies past the window (it has none in it: a window before the symbol's listing ended after one request,
          // not a page at a time — a review).
          if (page.length > 0) break
          // An empty page: a gap at an exchange that pages by time window (the run ended at the first one: an
          // audit), or nothing more at one that pages from a start time. The next window is asked for, up to
          // MAX_EMPTY_PAGES in a row; then the window ends, said in the report.
          emptyPages++
          if (++emptyRun >= MAX_EMPTY_PAGES) {
            stopped = `${MAX_EMPTY_PAGES} pages in a row without candles from ${new Date(cursor - (emptyRun - 1) * limit * step).toISOString()} (before the market's listing, a delisted market, or a long gap at the exchange): give --since after it to go on`
            break
          }
          cursor += limit * step
          continue
        }
        emptyRun = 0
        for (const candle of fresh) {
          if (times.length > 0 && candle[0]! <= times[times.length - 1]!) continue
          times.push(candle[0]!)
          rows.push(candle.map((v) => (v === undefined || v === null ? NaN : Number(v))))
        }
        cursor = times[times.length - 1]! + step
        progress.set(done + Math.round((Math.min(cursor, to + step) - from) / step), `${new Date(times[times.length - 1]!).toISOString()}`)
      }
      done += Math.floor((to - from) / step) + 1
    }
    progress.finish()
    const start = stored === undefined ? first : Math.max(first, stored.last + step)
    const bars = emptyBars({ symbol, timeframe: options.timeframe }, rows.length)
    rows.forEach((r, i) => {
      bars.time[i] = r[0]!
      bars.open[i] = r[1]!
      bars.high[i] = r[2]!
      bars.low[i] = r[3]!
      bars.close[i] = r[4]!
      bars.volume[i] = r[5]!
    })
    const report = await ingestBars(home, bars, { source, origin: `ccxt:${options.exchange}` })
    const backfilled = stored !== undefined && first < stored.first ? { from: new Date(first).toISOString(), to: new Date(Math.min(end, stored.first - step)).toISOString() } : undefined
    reports.push({ ...report, fetched, requests: requests - before, retried, resumedFrom: new Date(start).toISOString(), emptyPages, ...(backfilled === undefined ? {} : { backfilled }), ...(stopped === undefined ? {} : { stopped }) })
  }
  return reports
}

/** The oldest and newest bar times the lake holds for a dataset (read from its first and last partitions), or undefined. */
async function storedRange(home: string, key: { source: string; symbol: string; timeframe: string }): Promise<{ first: number; last: number } | undefined> {
  const files = partitionFiles(home, key)
  if (files.length === 0) return undefined
  const startOf = (file: string) => {
    const period = /period=([^/\\]+)/.exec(file)![1]!
    return `${period.length === 4 ? `${period}-01` : period}-01`
  }
  const newest = await loadBars(home, { ...key, start: startOf(files[files.length - 1]!) })
  if (newest.time.length === 0) return undefined
  // The oldest partition alone (up to where the next one starts).
  const oldest = files.length === 1 ? newest : await loadBars(home, { ...key, start: startOf(files[0]!), end: Date.parse(startOf(files[1]!)) - 1 })
  return { first: oldest.time.length > 0 ? oldest.time[0]! : newest.time[0]!, last: newest.time[newest.time.length - 1]! }
}

/** Retries ccxt's NetworkError family (RequestTimeout, RateLimitExceeded, DDoSProtection…) with doubling delays. */
function retrier(attempts: number, backoffMs: number, onRetry: (error: Error, event: CcxtRetry) => void) {
  return async function retry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (error) {
        if (!(error instanceof ccxt.NetworkError) || attempt >= attempts) throw error
        const waitMs = Math.min(10_000, backoffMs * 2 ** (attempt - 1))
        const line = String(error.message).split('\n')[0]!.trim()
        onRetry(error, { attempt, attempts, waitMs, error: error.constructor.name, message: line.length > 200 ? `${line.slice(0, 199)}…` : line })
        await new Promise((r) => setTimeout(r, waitMs))
      }
    }
  }
}
