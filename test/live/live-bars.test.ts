// Live bars into the lake with the real ccxt against the Binance stand-in: a lake that stops 50 bars
// before the exchange's newest closed bar is caught up, the live feed goes on from there, and afterwards
// loadBars holds every bar exactly as the stand-in served it — no gap, no duplicate — and exactly what the
// deployment saw. The writer's batching and validation are checked by hand-counted writes.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadBars } from '../../lib/data/index.js'
import { createExchange, ingestCcxt } from '../../lib/data/sources/ccxt-source.js'
import { CcxtPollFeed, type CcxtFeedBatch } from '../../lib/live/ccxt-feed.js'
import { ManualClock, type FeedBar } from '../../lib/live/index.js'
import { catchUp, LakeBarWriter, recordToLake } from '../../lib/live/live-bars.js'
import { startBinanceStandin, standinCandle } from '../fixtures/binance-standin.js'

const S = 1000
const M = 60_000
const T0 = Date.UTC(2024, 0, 10, 5, 0)

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function tmpHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-live-bars-'))
  cleanups.push(() => rmSync(home, { recursive: true, force: true }))
  return home
}

/** The bar the stand-in serves, as ccxt parses it (prices sent with 2 decimals, volume with 5). */
function served(symbol: string, time: number) {
  const [o, h, l, c, v] = standinCandle(symbol.replace('/', ''), time, M)
  return { time, open: +o.toFixed(2), high: +h.toFixed(2), low: +l.toFixed(2), close: +c.toFixed(2), volume: +v.toFixed(5) }
}

function rows(bars: Awaited<ReturnType<typeof loadBars>>) {
  return Array.from(bars.time, (time, i) => ({ time, open: bars.open[i], high: bars.high[i], low: bars.low[i], close: bars.close[i], volume: bars.volume[i] }))
}

describe('catch-up of a weekly series with no closed bar since `since`', () => {
  it('starts the live bars at the week of `since` (a Monday), not at the next one (weeks were lined up on the epoch\'s Thursdays)', async () => {
    // Wednesday 2024-01-10: the week opened Monday 2024-01-08 is still open, and nothing has closed since.
    const standin = await startBinanceStandin({ now: T0 + 30 * S })
    cleanups.push(() => standin.close())
    const home = tmpHome()
    const monday = Date.UTC(2024, 0, 8)
    const reports = await catchUp(home, { exchange: 'binance', apiUrl: standin.url, subscriptions: [{ symbol: 'BTC/USDT', timeframe: '1w' }], since: monday })
    expect(reports.map((r) => [r.added, new Date(r.from).toISOString()])).toEqual([[0, '2024-01-08T00:00:00.000Z']])
  })
})

describe('catch-up and live bars into the lake', () => {
  it('a lake 50 bars behind is caught up, live bars follow, and loadBars is every served bar once: no gap, no duplicate, what the deployment saw', async () => {
    const standin = await startBinanceStandin({ now: T0 + 30 * S })
    cleanups.push(() => standin.close())
    const home = tmpHome()
    const symbols = ['BTC/USDT', 'ETH/USDT']
    const first = T0 - 200 * M
    // The lake stops at 04:09; the newest closed bar is 04:59: 50 bars behind.
    await ingestCcxt(home, { exchange: 'binance', apiUrl: standin.url, symbols, timeframe: '1m', since: first, until: T0 - 51 * M })
    for (const symbol of symbols) expect((await loadBars(home, { symbol, timeframe: '1m', source: 'binance' })).time.length).toBe(150)

    // The deployment starts two minutes later (05:00 and 05:01 have closed too).
    standin.setNow(T0 + 2 * M + 30 * S)
    const reports = await catchUp(home, { exchange: 'binance', apiUrl: standin.url, subscriptions: symbols.map((symbol) => ({ symbol, timeframe: '1m' })), since: first })
    expect(reports).toEqual(symbols.map((symbol) => ({ symbol, timeframe: '1m', source: 'binance', added: 52, quarantined: 0, from: T0 + 2 * M })))

    // And 05:02 closes between the catch-up and the feed's first poll.
    const clock = new ManualClock(T0 + 3 * M + 30 * S)
    standin.setNow(clock.now())
    const feed = new CcxtPollFeed({ exchange: createExchange('binance', standin.url), subscriptions: reports, clock, from: first })
    const writer = new LakeBarWriter(home, { source: 'binance', maxBars: 6, clock })
    const seen: FeedBar[] = []
    let failure: unknown
    const pump = (async () => {
      try {
        for await (const b of recordToLake(feed, writer).batches()) seen.push(...(b as CcxtFeedBatch).bars)
      } catch (error) {
        failure = error
      }
    })()
    const settle = async () => {
      for (let i = 0; i < 20_000 && clock.waiting === 0; i++) {
        if (failure !== undefined) throw failure
        await new Promise((r) => setTimeout(r, 1))
      }
    }
    await settle()
    for (let t = clock.now() + 10 * S; t <= T0 + 12 * M + 30 * S; t += 10 * S) {
      standin.setNow(t)
      clock.advance(t - clock.now())
      await settle()
    }
    feed.stop()
    await pump
    expect(failure).toBeUndefined()

    // Live: 05:02 … 05:11 for both symbols, 20 bars; written 6 at a time (3 writes) and the last 2 at the stop.
    expect(seen.map((b) => `${b.symbol}@${(b.time - T0) / M}`)).toEqual(Array.from({ length: 10 }, (_, k) => symbols.map((s) => `${s}@${k + 2}`)).flat())
    expect(writer.writes).toBe(4)
    expect(writer.reports.reduce((n, r) => n + r.added, 0)).toBe(20)
    expect(writer.reports.every((r) => r.unchanged === 0 && Object.keys(r.quarantined).length === 0)).toBe(true)
    for (const symbol of symbols) {
      const bars = await loadBars(home, { symbol, timeframe: '1m', source: 'binance' })
      // 03:40 … 05:11: 212 bars, one per minute, each as served.
      expect(rows(bars)).toEqual(Array.from({ length: 212 }, (_, i) => served(symbol, first + i * M)))
      const live = await loadBars(home, { symbol, timeframe: '1m', source: 'binance', start: T0 + 2 * M })
      expect(rows(live)).toEqual(seen.filter((b) => b.symbol === symbol).map(({ time, open, high, low, close, volume }) => ({ time, open, high, low, close, volume })))
    }
  })

  it('the writer writes every maxBars bars or once the oldest has waited maxWaitMs, and the lake validates what it writes', async () => {
    const home = tmpHome()
    const clock = new ManualClock(T0)
    const writer = new LakeBarWriter(home, { source: 'binance', maxBars: 3, maxWaitMs: 5 * M, clock })
    const bar = (k: number, high?: number): FeedBar => {
      const s = served('BTC/USDT', T0 + k * M)
      return { symbol: 'BTC/USDT', timeframe: '1m', closeTime: s.time + M, ...s, ...(high === undefined ? {} : { high }) }
    }
    writer.add({ bars: [bar(0), bar(1)], watermark: T0 + 2 * M })
    await writer.flush() // nothing due yet: flush writes the 2 waiting bars
    expect(writer.writes).toBe(1)
    writer.add({ bars: [bar(2)], watermark: T0 + 3 * M })
    writer.add({ bars: [bar(3)], watermark: T0 + 4 * M })
    clock.advance(4 * M)
    writer.add({ bars: [], watermark: T0 + 4 * M }) // 4 min waited: not yet
    clock.advance(M)
    writer.add({ bars: [], watermark: T0 + 4 * M }) // 5 min: write (2 bars)
    writer.add({ bars: [bar(4), bar(5, 1), bar(6)], watermark: T0 + 7 * M }) // 3 bars: write; 05:05's high is below its open
    writer.add({ bars: [bar(7)], watermark: T0 + 8 * M }) // waits: written by the flush
    await writer.flush()
    expect(writer.writes).toBe(4)
    expect(writer.reports.map((r) => [r.input, r.added, r.quarantined])).toEqual([
      [2, 2, {}],
      [2, 2, {}],
      [3, 2, { high_below_open_close: 1 }],
      [1, 1, {}],
    ])
    const bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1m', source: 'binance' })
    expect(Array.from(bars.time, (t) => (t - T0) / M)).toEqual([0, 1, 2, 3, 4, 6, 7])
    expect(() => new LakeBarWriter(home, { source: 'bin ance' })).toThrow(`a lake writer needs source: the exchange id (letters, digits, '.', '_' or '-'; received "bin ance")`)
    expect(() => new LakeBarWriter(home, { source: 'binance', maxBars: 0 })).toThrow('maxBars must be an integer ≥ 1 (received 0)')
  })
})
