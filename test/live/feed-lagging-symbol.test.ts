// A deployment on two symbols whose feed reports one stale (its klines lag past maxLagMs): an audit found the
// deployment died when that symbol recovered and handed over the bars it owed (closing before the watermark
// already stepped: "late"), leaving positions and orders with no process; and the stale-data guard let orders on
// the stale symbol through on the other symbol's fresh bar. Real ccxt against the loopback Binance stand-in.

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createExchange } from '../../lib/data/sources/ccxt-source.js'
import { CcxtPollFeed, CcxtWsFeed, createStreamingExchange, type CcxtFeedBatch, type FeedEvent } from '../../lib/live/ccxt-feed.js'
import { EngineSession, ManualClock } from '../../lib/live/index.js'
import { scripted } from '../backtest/scripted.js'
import { runDeployment } from '../../lib/live/deployment.js'
import { validateDeploymentConfig } from '../../lib/live/index.js'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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


describe('audit: a deployment on two symbols, one lagging', () => {
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
      'ETH/USDT 1m bar 2024-01-10T05:00:00.000Z arrived late (closes 2024-01-10T05:01:00.000Z, watermark 2024-01-10T05:02:00.000Z): recorded, not stepped',
      'ETH/USDT 1m bar 2024-01-10T05:01:00.000Z arrived late (closes 2024-01-10T05:02:00.000Z, watermark 2024-01-10T05:02:00.000Z): recorded, not stepped',
    ])
  })

  it('refuses orders on a symbol the feed reports stale (the stale-data guard is per series, not the newest bar of any symbol)', async () => {
    // BTC bar #2 (05:01) is stepped at 05:02:01 while the feed reports ETH/USDT stale; ETH's newest bar closed 05:00.
    const { lines } = await deploy({ 2: (ctx) => ctx.buy('ETH/USDT', { qty: 0.01 }) })
    expect(lines.filter((l) => l.startsWith('alert: ETH/USDT buy')).some((l) => /refused: stale data/.test(l))).toBe(true)
  })
})
