// Live feeds with the real ccxt against the loopback Binance stand-ins (REST: binance-standin.ts,
// WebSocket: binance-ws.ts): polling delivers exactly the stand-in's closed candles and never the open one;
// a lagging symbol holds the watermark back, then is reported stale; 429s are retried within bounds; the
// stream only triggers REST (its values never delivered); a dropped stream loses and doubles nothing.
// Time is a ManualClock moved together with the stand-in's clock. A deployment on two symbols, one lagging (an
// audit): it died when the lagging symbol recovered and handed over the bars it owed ("late"), and orders on the
// stale symbol went through on the other's fresh bar.

import { mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createExchange } from '../../lib/data/sources/ccxt-source.js'
import { CcxtPollFeed, CcxtWsFeed, createStreamingExchange, type CcxtFeedBatch, type FeedEvent } from '../../lib/live/ccxt-feed.js'
import { runDeployment } from '../../lib/live/deployment.js'
import { ManualClock, validateDeploymentConfig } from '../../lib/live/index.js'
import { scripted } from '../backtest/scripted.js'
import { startBinanceStandin, standinCandle, type Standin } from '../fixtures/binance-standin.js'
import { attachBinanceWs, type BinanceWsStandin } from '../fixtures/binance-ws.js'

const S = 1000
const M = 60_000
const T0 = Date.UTC(2024, 0, 10, 5, 0)

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** The bar the stand-in serves, as ccxt parses it (prices sent with 2 decimals, volume with 5). */
function served(marketId: string, symbol: string, time: number, step = M) {
  const [o, h, l, c, v] = standinCandle(marketId, time, step)
  return { symbol, timeframe: '1m', time, closeTime: time + step, open: +o.toFixed(2), high: +h.toFixed(2), low: +l.toFixed(2), close: +c.toFixed(2), volume: +v.toFixed(5) }
}

const minutes = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i * M)

async function standinAt(now: number, options: Parameters<typeof startBinanceStandin>[0] = { now }): Promise<Standin> {
  const standin = await startBinanceStandin({ ...options, now })
  cleanups.push(() => standin.close())
  return standin
}

/**
 * Runs a feed in the background and moves time: `until(t)` sets the stand-in's clock, then the feed's,
 * `stepMs` at a time, each time waiting until the feed is paused on the clock again (a poll feed sleeps
 * on the clock between polls). Each batch is recorded with the clock time it was yielded at.
 */
function drive(feed: CcxtPollFeed | CcxtWsFeed, clock: ManualClock, standin: Standin) {
  const batches: (CcxtFeedBatch & { at: number })[] = []
  let failure: unknown
  let finished = false
  const pump = (async () => {
    try {
      for await (const b of feed.batches()) batches.push({ ...b, at: clock.now() })
    } catch (error) {
      failure = error
    } finally {
      finished = true
    }
  })()
  cleanups.push(async () => {
    feed.stop()
    await pump
  })
  const settle = async () => {
    for (let i = 0; i < 20_000; i++) {
      if (failure !== undefined) throw failure
      if (clock.waiting > 0 || finished) return
      await new Promise((r) => setTimeout(r, 1))
    }
    throw new Error('the feed never paused on the clock')
  }
  return {
    batches,
    settle,
    async until(time: number, stepMs = S) {
      await settle()
      while (clock.now() < time) {
        const next = Math.min(time, clock.now() + stepMs)
        standin.setNow(next)
        clock.advance(next - clock.now())
        await settle()
      }
    },
    bars: () => batches.flatMap((b) => b.bars),
  }
}

/** A pass-through proxy in front of the stand-in whose klines answers a test may rewrite (lag, corruption). */
async function proxy(target: string, rewrite: (url: URL, rows: unknown[][]) => unknown[][]): Promise<string> {
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', target)
    const answer = await fetch(url)
    let body = await answer.text()
    if (url.pathname === '/api/v3/klines' && answer.status === 200) body = JSON.stringify(rewrite(url, JSON.parse(body) as unknown[][]))
    res.writeHead(answer.status, { 'content-type': 'application/json' })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('CcxtPollFeed', () => {
  it('delivers exactly the stand-in\'s closed candles, once each, never the open one', async () => {
    const standin = await standinAt(T0 + 30 * S) // 05:00 is open
    const clock = new ManualClock(T0 + 30 * S)
    const events: FeedEvent[] = []
    const feed = new CcxtPollFeed({ exchange: createExchange('binance', standin.url), subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }], clock, from: T0 - 10 * M, onEvent: (e) => events.push(e) })
    const run = drive(feed, clock, standin)
    await run.settle()
    // The first poll catches up 04:50 … 04:59 in one batch; 05:00 (served, still open) is not among them.
    expect(run.batches.length).toBe(1)
    expect(run.batches[0]!.bars.map((b) => b.time)).toEqual(minutes(T0 - 10 * M, 10))
    expect(run.batches[0]!.watermark).toBe(T0)
    await run.until(T0 + 5 * M + 30 * S)
    // Then one batch per close, 1 s after it (delayMs): 05:00 … 05:04; 05:05 is open at 05:05:30.
    expect(run.batches.slice(1).map((b) => [b.at, b.watermark, b.bars.map((x) => x.time)])).toEqual(
      [1, 2, 3, 4, 5].map((k) => [T0 + k * M + S, T0 + k * M, [T0 + (k - 1) * M]]),
    )
    expect(run.bars()).toEqual(minutes(T0 - 10 * M, 15).map((t) => served('BTCUSDT', 'BTC/USDT', t)))
    expect(run.batches.every((b) => b.bars.every((x) => x.closeTime <= b.at) && b.stale.length === 0)).toBe(true)
    // The last poll (05:05:01, from 05:04) was served 05:04 and the open 05:05, and took only 05:04.
    expect(standin.requests.filter((r) => r.startsWith('/api/v3/klines')).at(-1)).toContain(`startTime=${T0 + 4 * M}`)
    expect(events).toEqual([])
  })

  it('two symbols, one lagging: the watermark waits for it up to maxLagMs, then goes on without it (stale), and takes its late bars when it recovers', async () => {
    const standin = await standinAt(T0 + 30 * S)
    let ethBehind = Infinity // ETHUSDT candles opening at or after this are not served yet (the exchange lags)
    const url = await proxy(standin.url, (u, rows) => (u.searchParams.get('symbol') === 'ETHUSDT' ? rows.filter((r) => (r[0] as number) < ethBehind) : rows))
    const clock = new ManualClock(T0 + 30 * S)
    const events: FeedEvent[] = []
    const feed = new CcxtPollFeed({
      exchange: createExchange('binance', url),
      subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }, { symbol: 'ETH/USDT', timeframe: '1m' }],
      clock,
      from: T0 - M,
      maxLagMs: 30 * S,
      onEvent: (e) => events.push(e),
    })
    const run = drive(feed, clock, standin)
    await run.settle()
    expect(run.batches.map((b) => [b.watermark, b.bars.map((x) => `${x.symbol}@${(x.time - T0) / M}`)])).toEqual([[T0, ['BTC/USDT@-1', 'ETH/USDT@-1']]])
    ethBehind = T0 + M // from now on ETH's 05:01 candle does not start: its 05:00 bar cannot be confirmed
    await run.until(T0 + M + 31 * S)
    // At 05:01:01 BTC's 05:00 bar is in, but the watermark stays at 05:00 for ETH (held, not released).
    expect(run.batches.length).toBe(1)
    await run.until(T0 + M + 32 * S)
    // 05:01 + 1 s delay + 30 s maxLag passed: ETH is stale; BTC's bar goes out with the watermark at 05:01.
    expect(run.batches.slice(1).map((b) => [b.at, b.watermark, b.stale, b.bars.map((x) => `${x.symbol}@${(x.time - T0) / M}`)])).toEqual([
      [T0 + M + 32 * S, T0 + M, ['ETH/USDT 1m'], ['BTC/USDT@0']],
    ])
    await run.until(T0 + 2 * M + 30 * S)
    expect(run.batches.slice(2).map((b) => [b.watermark, b.stale, b.bars.map((x) => `${x.symbol}@${(x.time - T0) / M}`)])).toEqual([[T0 + 2 * M, ['ETH/USDT 1m'], ['BTC/USDT@1']]])
    ethBehind = Infinity // ETH catches up: its 05:00 and 05:01 bars are late (the watermark passed 05:02)
    await run.until(T0 + 3 * M + 30 * S)
    expect(run.batches.slice(3).map((b) => [b.watermark, b.stale, b.bars.map((x) => `${x.symbol}@${(x.time - T0) / M}`)])).toEqual([
      [T0 + 2 * M, [], ['ETH/USDT@0', 'ETH/USDT@1']],
      [T0 + 3 * M, [], ['BTC/USDT@2', 'ETH/USDT@2']],
    ])
    expect(events.map((e) => [e.type, 'late' in e ? e.late : undefined])).toEqual([['stale', undefined], ['fresh', 2]])
    for (const b of run.bars()) expect(b).toEqual(served(b.symbol.replace('/', ''), b.symbol, b.time))
  })

  it('429 on every 3rd klines request and overlapping pages: every bar arrives once, each request retried at most once', async () => {
    const standin = await standinAt(T0 + 30 * S, { now: 0, rateLimitEvery: 3, overlap: 2 }) // pages also repeat 2 earlier candles
    const clock = new ManualClock(T0 + 30 * S)
    const events: FeedEvent[] = []
    const feed = new CcxtPollFeed({
      exchange: createExchange('binance', standin.url),
      subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }, { symbol: 'ETH/USDT', timeframe: '1m' }],
      clock,
      from: T0 - 120 * M,
      pageLimit: 50,
      backoffMs: 200,
      onEvent: (e) => events.push(e),
    })
    const run = drive(feed, clock, standin)
    await run.until(T0 + 10 * M + 30 * S, 100)
    for (const [id, symbol] of [['BTCUSDT', 'BTC/USDT'], ['ETHUSDT', 'ETH/USDT']]) {
      expect(run.bars().filter((b) => b.symbol === symbol)).toEqual(minutes(T0 - 120 * M, 130).map((t) => served(id!, symbol!, t)))
    }
    const klines = standin.requests.filter((r) => r.startsWith('/api/v3/klines')).length
    const retries = events.filter((e) => e.type === 'retry')
    // Every 3rd call was a 429 and each was retried once (the retry is never itself a 3rd call).
    expect(retries.length).toBe(Math.floor(klines / 3))
    expect(retries.every((e) => e.type === 'retry' && e.attempt === 1 && e.waitMs === 200 && /DDoSProtection|RateLimitExceeded/.test(e.error))).toBe(true)
    expect(events.filter((e) => e.type !== 'retry')).toEqual([])
  })

  it('retries are bounded: a request refused every time gives up after `retries` attempts, reports it, and the series goes stale', async () => {
    const standin = await standinAt(T0 + 30 * S, { now: 0, rateLimitEvery: 1 })
    const clock = new ManualClock(T0 + 30 * S)
    const events: FeedEvent[] = []
    const feed = new CcxtPollFeed({ exchange: createExchange('binance', standin.url), subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }], clock, from: T0 - M, retries: 3, backoffMs: 100, retryMs: 10 * S, maxLagMs: 5 * S, onEvent: (e) => events.push(e) })
    const run = drive(feed, clock, standin)
    await run.until(T0 + 31 * S, 100)
    // One poll: 3 attempts (2 retries after 100 and 200 ms), then an error event. 04:59 closed at 05:00,
    // was due 05:00:01 and is more than 5 s late at 05:00:30: stale at once.
    const poll = [['retry', 1, 100], ['retry', 2, 200], ['error', undefined, undefined]]
    const seen = () => events.map((e) => [e.type, 'attempt' in e ? e.attempt : undefined, 'waitMs' in e ? e.waitMs : undefined])
    expect(standin.requests.filter((r) => r.startsWith('/api/v3/klines')).length).toBe(3)
    expect(seen()).toEqual([...poll, ['stale', undefined, undefined]])
    expect(run.batches.at(-1)!.stale).toEqual(['BTC/USDT 1m'])
    // The next poll comes retryMs (10 s) after the failed one, with its own 3 attempts; stale is said once.
    await run.until(T0 + 39 * S, 100)
    expect(standin.requests.filter((r) => r.startsWith('/api/v3/klines')).length).toBe(3)
    await run.until(T0 + 41 * S, 100)
    expect(standin.requests.filter((r) => r.startsWith('/api/v3/klines')).length).toBe(6)
    expect(seen()).toEqual([...poll, ['stale', undefined, undefined], ...poll])
    expect(run.bars()).toEqual([])
  })

  it('a candle the exchange already serves as closed waits for our clock to pass its close', async () => {
    const standin = await standinAt(T0 + M + 30 * S) // the exchange's clock is a minute ahead: it serves 05:00 closed, 05:01 open
    const clock = new ManualClock(T0 + 30 * S)
    const feed = new CcxtPollFeed({ exchange: createExchange('binance', standin.url), subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }], clock, from: T0 - M })
    const run = drive(feed, clock, standin)
    await run.settle()
    expect(run.bars().map((b) => b.time)).toEqual([T0 - M])
    clock.advance(31 * S) // 05:01:01 on our clock; the exchange's stays ahead
    await run.settle()
    expect(run.bars().map((b) => b.time)).toEqual([T0 - M, T0])
    expect(run.batches.at(-1)!.at).toBe(T0 + M + S)
  })

  it('an invalid candle is an event, not a bar; its neighbours arrive', async () => {
    const standin = await standinAt(T0 + 30 * S)
    const url = await proxy(standin.url, (_u, rows) => rows.map((r) => (r[0] === T0 - 3 * M ? [r[0], r[1], '1.00', r[3], r[4], r[5], ...r.slice(6)] : r)))
    const clock = new ManualClock(T0 + 30 * S)
    const events: FeedEvent[] = []
    const feed = new CcxtPollFeed({ exchange: createExchange('binance', url), subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }], clock, from: T0 - 5 * M, onEvent: (e) => events.push(e) })
    const run = drive(feed, clock, standin)
    await run.settle()
    expect(run.bars().map((b) => (b.time - T0) / M)).toEqual([-5, -4, -2, -1])
    expect(events).toEqual([{ type: 'invalid', symbol: 'BTC/USDT', timeframe: '1m', time: T0 - 3 * M, reason: 'high_below_open_close', at: T0 + 30 * S }])
    expect(run.batches[0]!.watermark).toBe(T0)
  })

  it('refuses bad input with one line naming it', async () => {
    const clock = new ManualClock(0)
    const exchange = createExchange('binance', 'http://127.0.0.1:9')
    expect(() => new CcxtPollFeed({ exchange, subscriptions: [], clock, from: 0 })).toThrow('a ccxt feed needs at least one subscription { symbol, timeframe }')
    expect(() => new CcxtPollFeed({ exchange, subscriptions: [{ symbol: 'BTC/USDT', timeframe: '7x' }], clock, from: 0 })).toThrow('timeframe "7x" is not valid')
    expect(() => new CcxtPollFeed({ exchange, subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }, { symbol: 'BTC/USDT', timeframe: '1m' }], clock, from: 0 })).toThrow('subscription BTC/USDT 1m is given twice')
    expect(() => new CcxtPollFeed({ exchange, subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }], clock, from: 0, delayMs: -1 })).toThrow('delayMs must be a finite number ≥ 0 (received -1)')
    expect(() => new CcxtPollFeed({ exchange, subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }], clock, from: 'yesterday' })).toThrow(/from/)
    const standin = await standinAt(T0)
    const feed = new CcxtPollFeed({ exchange: createExchange('binance', standin.url), subscriptions: [{ symbol: 'BTC/USD', timeframe: '1m' }], clock, from: 0 })
    await expect(feed.batches().next()).rejects.toThrow('unknown symbol "BTC/USD" on binance; did you mean BTC/USDT?')
  })
})

/** Wait (on real time, as a safety net only) until the condition holds. */
async function waitFor(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 5000; i++) {
    if (condition()) return
    await new Promise((r) => setTimeout(r, 2))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A stream feed on the stand-ins, run in the background; `at(t)` moves the stand-in's clock and the feed's. */
async function streaming(from: number, now: number) {
  const standin = await standinAt(now)
  const ws = attachBinanceWs(standin)
  cleanups.push(() => ws.close())
  const clock = new ManualClock(now)
  const events: FeedEvent[] = []
  const feed = new CcxtWsFeed({ exchange: createStreamingExchange('binance', standin.url), subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }], clock, from, reconnectMs: 1000, onEvent: (e) => events.push(e) })
  const batches: (CcxtFeedBatch & { at: number })[] = []
  let failure: unknown
  const pump = (async () => {
    try {
      for await (const b of feed.batches()) batches.push({ ...b, at: clock.now() })
    } catch (error) {
      failure = error
    }
  })()
  cleanups.push(async () => {
    feed.stop()
    await pump
  })
  const at = (t: number) => {
    standin.setNow(t)
    clock.advance(t - clock.now())
  }
  const bars = () => batches.flatMap((b) => b.bars)
  const until = (what: string, condition: () => boolean) =>
    waitFor(what, () => {
      if (failure !== undefined) throw failure
      return condition()
    })
  return { standin, ws, clock, events, batches, bars, at, until }
}

const wrong = { open: 1, high: 2, low: 0.5, close: 999, volume: 1 }

describe('CcxtWsFeed', () => {
  it('the stream only says a candle closed; REST gives its values (a wrong final stream value is not delivered) and the open candle never goes out', async () => {
    const f = await streaming(T0 - 3 * M, T0 + 10 * S)
    await f.until('the catch-up batch and a subscribed stream', () => f.batches.length === 1 && f.ws.open === 1 && f.ws.subscribed.length === 1)
    expect(f.ws.subscribed).toEqual([['btcusdt@kline_1m']])
    expect(f.batches[0]!.bars).toEqual([-3, -2, -1].map((k) => served('BTCUSDT', 'BTC/USDT', T0 + k * M)))
    // 05:00 in progress, twice, then a wrong value for it marked final, then 05:01 starting — all on the stream.
    f.at(T0 + 20 * S)
    f.ws.push(T0 + 20 * S)
    f.at(T0 + 40 * S)
    f.ws.push(T0 + 40 * S)
    f.ws.send('BTCUSDT', '1m', T0, wrong, true)
    f.at(T0 + M + 2 * S) // before the silent-stream poll (05:01 + 1 s delay + 5 s grace): only the stream can trigger it
    f.ws.send('BTCUSDT', '1m', T0 + M, wrong, false)
    await f.until('the 05:00 bar', () => f.batches.length === 2)
    expect(f.batches[1]).toEqual({ bars: [served('BTCUSDT', 'BTC/USDT', T0)], watermark: T0 + M, stale: [], staleSymbols: [], at: T0 + M + 2 * S })
    // 05:01 updates keep coming; it goes out only after 05:02 has started.
    for (const t of [T0 + M + 30 * S, T0 + 2 * M - 1]) {
      f.at(t)
      f.ws.push(t)
    }
    f.at(T0 + 2 * M + 2 * S)
    f.ws.push(T0 + 2 * M + 2 * S)
    await f.until('the 05:01 bar', () => f.batches.length === 3)
    expect(f.bars()).toEqual([-3, -2, -1, 0, 1].map((k) => served('BTCUSDT', 'BTC/USDT', T0 + k * M)))
    expect(f.events).toEqual([])
  })

  it('a dropped stream: the bars closing while it is down come over REST, once each; it reconnects and drives again', async () => {
    const f = await streaming(T0 - 2 * M, T0 + 10 * S)
    await f.until('the catch-up batch and a subscribed stream', () => f.batches.length === 1 && f.ws.open === 1 && f.ws.subscribed.length === 1)
    f.ws.refuse = true
    f.ws.dropAll()
    await f.until('the disconnect', () => f.events.length === 1)
    expect(f.events[0]).toMatchObject({ type: 'disconnect', symbol: 'BTC/USDT', timeframe: '1m' })
    expect(f.events[0]!.type === 'disconnect' && f.events[0]!.message).toMatch(/NetworkError: connection closed by remote server, closing code 1006/)
    // 05:00, 05:01 and 05:02 close while the stream is down (reconnects refused).
    for (let t = T0 + 15 * S; t <= T0 + 3 * M + 5 * S; t += 5 * S) {
      f.at(t)
      await new Promise((r) => setTimeout(r, 2))
    }
    await f.until('the gap over REST', () => f.bars().length === 5)
    expect(f.ws.accepted).toBe(1)
    f.ws.refuse = false
    for (let t = T0 + 3 * M + 6 * S; f.ws.subscribed.length < 2; t += S) {
      f.at(t)
      await new Promise((r) => setTimeout(r, 5))
    }
    f.ws.push(f.clock.now())
    await f.until('the reconnect', () => f.events.length === 2)
    expect(f.events.map((e) => e.type)).toEqual(['disconnect', 'reconnect'])
    // Reconnecting took a while (backoff doubling on the clock while refused); every bar closed by then is in.
    const next = Math.ceil(f.clock.now() / M) * M
    const k = (next - T0) / M
    await f.until('the bars closed before the reconnect', () => f.bars().length === k + 1)
    // The stream drives again: the bar before `next` goes out as soon as `next` shows on it, before any silent-stream poll.
    f.at(next + 2 * S)
    f.ws.push(next + 2 * S)
    await f.until('the bar the stream triggered', () => f.bars().length === k + 2)
    expect(f.batches.at(-1)!.at).toBe(next + 2 * S)
    expect(f.bars()).toEqual(Array.from({ length: k + 2 }, (_, i) => served('BTCUSDT', 'BTC/USDT', T0 + (i - 2) * M)))
    expect(f.ws.accepted).toBe(2)
  })

  it('an exchange without watchOHLCV is polled, and says so once', async () => {
    const standin = await standinAt(T0 + 30 * S)
    const clock = new ManualClock(T0 + 30 * S)
    const events: FeedEvent[] = []
    const feed = new CcxtWsFeed({ exchange: createExchange('binance', standin.url), subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }], clock, from: T0 - 2 * M, onEvent: (e) => events.push(e) })
    const run = drive(feed, clock, standin)
    await run.until(T0 + 2 * M + 30 * S)
    expect(run.bars()).toEqual([-2, -1, 0, 1].map((k) => served('BTCUSDT', 'BTC/USDT', T0 + k * M)))
    expect(events).toEqual([{ type: 'fallback', message: 'binance has no watchOHLCV here; polling REST instead', at: T0 + 30 * S }])
  })

  it('the stream URLs follow --api-url: ws for http, wss for https, paths kept', () => {
    const local = createStreamingExchange('binance', 'http://127.0.0.1:8123')
    const proxied = createStreamingExchange('binance', 'https://proxy.example:8443/')
    const ws = (e: typeof local) => (e.urls.api as unknown as { ws: Record<string, unknown> }).ws
    expect(ws(local).spot).toBe('ws://127.0.0.1:8123/ws')
    expect(ws(proxied).spot).toBe('wss://proxy.example:8443/ws')
    expect((local.urls.api as unknown as Record<string, string>).public).toBe('http://127.0.0.1:8123/api/v3')
  })
})

describe('a deployment on two symbols whose feed reports one stale (an audit)', () => {
  async function deploy(script: Parameters<typeof scripted>[0]) {
    const standin = await standinAt(T0 + 30 * S)
    let ethBehind = Infinity
    const url = await proxy(standin.url, (u, rows) => (u.searchParams.get('symbol') === 'ETHUSDT' ? rows.filter((r) => (r[0] as number) < ethBehind) : rows))
    const clock = new ManualClock(T0 + 30 * S)
    const feed = new CcxtPollFeed({ exchange: createExchange('binance', url), subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1m' }, { symbol: 'ETH/USDT', timeframe: '1m' }], clock, from: T0 - M, maxLagMs: 30 * S, onEvent: () => undefined })
    const home = mkdtempSync(join(tmpdir(), 'audit-deploy-'))
    const lines: string[] = []
    const config = validateDeploymentConfig({ name: 'lag', strategy: { name: 'scripted', version: 1, sha256: 'a'.repeat(64) }, params: {}, symbols: ['BTC/USDT', 'ETH/USDT'], timeframe: '1m', mode: 'paper', venue: { exchange: 'binance' }, feed: { kind: 'poll' } })
    let failure: unknown
    const running = runDeployment({ home, config, strategy: scripted(script, undefined, 'BTC/USDT'), feed, clock, track: false, log: (l) => lines.push(l) }).catch((e: unknown) => { failure = e })
    const settle = async () => { for (let i = 0; i < 20_000 && clock.waiting === 0 && failure === undefined; i++) await new Promise((r) => setTimeout(r, 1)) }
    const until = async (t: number) => { await settle(); while (clock.now() < t && failure === undefined) { const n = Math.min(t, clock.now() + S); standin.setNow(n); clock.advance(n - clock.now()); await settle() } }
    await settle()
    ethBehind = T0 + M
    await until(T0 + 2 * M + 30 * S)
    ethBehind = Infinity
    await until(T0 + 4 * M + 30 * S)
    feed.stop()
    const status = await running
    return { failure, status, lines }
  }

  it('does not die when the lagging symbol recovers with its late bars', async () => {
    const { failure, status, lines } = await deploy({})
    expect(failure).toBeUndefined()
    expect((status as { state: string }).state).toBe('finished')
    expect((status as { lastBar: string }).lastBar).toBe('2024-01-10T05:04:00.000Z')
    // ETH 05:00 and 05:01 came after the watermark passed 05:02: said, not stepped (and not a crash).
    expect(lines.filter((l) => l.includes('arrived late')).map((l) => l.replace(/^alert: /, ''))).toEqual([
      'ETH/USDT 1m bar 2024-01-10T05:00:00.000Z arrived late (closes 2024-01-10T05:01:00.000Z, watermark 2024-01-10T05:02:00.000Z): recorded and in its indicators, not stepped (no onBar, no fill on it)',
      'ETH/USDT 1m bar 2024-01-10T05:01:00.000Z arrived late (closes 2024-01-10T05:02:00.000Z, watermark 2024-01-10T05:02:00.000Z): recorded and in its indicators, not stepped (no onBar, no fill on it)',
    ])
  })

  it('refuses orders on a symbol the feed reports stale (the stale-data guard is per series, not the newest bar of any symbol)', async () => {
    // BTC bar #2 (05:01) is stepped at 05:02:01 while the feed reports ETH/USDT stale; ETH's newest bar closed 05:00.
    const { lines } = await deploy({ 2: (ctx) => ctx.buy('ETH/USDT', { qty: 0.01 }) })
    expect(lines.filter((l) => l.startsWith('alert: ETH/USDT buy')).some((l) => /refused: stale data/.test(l))).toBe(true)
  })
})
