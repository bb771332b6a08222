// The clocks and the replay feed (issue 19, lib/live/PLAN.md step 4): batches per close time with a
// watermark (an hourly and a 4-hour series worked by hand), pacing on a manual clock, a replay read from
// the lake, and an engine stepped by the feed's watermarks giving exactly the backtest's results.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { backtest, buildEngine, collectResults } from '../../lib/backtest/index.js'
import { barsFromRows, ingestBars, readBarsCsv, type Bars } from '../../lib/data/index.js'
import { ManualClock, replayFromLake, ReplayFeed, type FeedBatch } from '../../lib/live/index.js'
import { SAMPLE_CSV } from '../helpers.js'

const H = 3_600_000
const T0 = Date.UTC(2024, 0, 1)
const hourly = (symbol: string, n: number, from = T0): Bars =>
  barsFromRows(Array.from({ length: n }, (_, i) => ({ time: from + i * H, open: 100 + i, high: 101 + i, low: 99 + i, close: 100.5 + i, volume: 10 })), { symbol, timeframe: '1h' })

const homes: string[] = []
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true })
})

async function collect(feed: ReplayFeed): Promise<FeedBatch[]> {
  const out: FeedBatch[] = []
  for await (const b of feed.batches()) out.push(b)
  return out
}

describe('ReplayFeed', () => {
  it('one batch per close time; the 4h bar arrives with the hourly bar that closes with it', async () => {
    const h = hourly('A', 8)
    const four = barsFromRows([0, 1].map((k) => ({ time: T0 + k * 4 * H, open: 100, high: 105, low: 95, close: 104, volume: 40 })), { symbol: 'A', timeframe: '4h' })
    const batches = await collect(new ReplayFeed([{ symbol: 'A', timeframe: '1h', bars: h }, { symbol: 'A', timeframe: '4h', bars: four }], { chunk: 1 }))
    // Close times: 01:00 … 08:00 (eight hourly), the 4h bars close at 04:00 and 08:00.
    expect(batches.map((b) => b.watermark)).toEqual(Array.from({ length: 8 }, (_, i) => T0 + (i + 1) * H))
    expect(batches.map((b) => b.bars.map((x) => `${x.timeframe}@${(x.time - T0) / H}`))).toEqual([['1h@0'], ['1h@1'], ['1h@2'], ['1h@3', '4h@0'], ['1h@4'], ['1h@5'], ['1h@6'], ['1h@7', '4h@4']])
    expect(batches[3]!.bars[1]).toEqual({ symbol: 'A', timeframe: '4h', time: T0, closeTime: T0 + 4 * H, open: 100, high: 105, low: 95, close: 104, volume: 40 })
  })

  it('paced: the next batch waits for the clock (1,000 ms per hourly bar here)', async () => {
    const clock = new ManualClock(0)
    const it = new ReplayFeed([{ symbol: 'A', timeframe: '1h', bars: hourly('A', 3) }], { clock, paceMs: 1000 })
      .batches()
      [Symbol.asyncIterator]()
    expect((await it.next()).value.watermark).toBe(T0 + H)
    const second = it.next()
    let arrived = false
    void second.then(() => (arrived = true))
    await new Promise((r) => setImmediate(r))
    expect(clock.waiting).toBe(1)
    clock.advance(999)
    await new Promise((r) => setImmediate(r))
    expect(arrived).toBe(false)
    clock.advance(1)
    expect((await second).value.watermark).toBe(T0 + 2 * H)
    expect(() => clock.advance(-1)).toThrow('a clock moves forward only')
    expect(() => new ReplayFeed([{ symbol: 'A', timeframe: '1h', bars: hourly('A', 1) }], { paceMs: 5 })).toThrow('a paced replay needs a clock')
  })

  it('as fast as possible, up to `chunk` close times per batch, the watermark at the last of them', async () => {
    const batches = await collect(new ReplayFeed([{ symbol: 'A', timeframe: '1h', bars: hourly('A', 10) }], { chunk: 4 }))
    expect(batches.map((b) => [b.bars.length, (b.watermark - T0) / H])).toEqual([
      [4, 4],
      [4, 8],
      [2, 10],
    ])
    expect(() => new ReplayFeed([{ symbol: 'A', timeframe: '1h', bars: hourly('A', 1) }], { chunk: 0 })).toThrow('chunk must be an integer ≥ 1 (received 0)')
  })

  it('replays what the lake holds, between start and end', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-feed-'))
    homes.push(home)
    await ingestBars(home, hourly('BTC/USDT', 48), { source: 'local' })
    const feed = await replayFromLake(home, [{ symbol: 'BTC/USDT', timeframe: '1h' }], { start: T0 + 10 * H, end: T0 + 19 * H }, { chunk: 1 })
    const batches = await collect(feed)
    expect(batches.map((b) => (b.bars[0]!.time - T0) / H)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
    expect(batches[0]!.bars[0]!.close).toBe(110.5)
  })

  it('an engine stepped by the feed\'s watermarks gives exactly the backtest\'s orders, fills, trades and equity', async () => {
    const spx = readBarsCsv(SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
    const options = { strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: spx }, fills: { takerRate: 0.0005, slippageBps: 2 } }
    const expected = backtest(options)
    const engine = buildEngine({ ...options, sleeves: [{ strategy: options.strategy, params: options.params, symbols: options.symbols, timeframe: options.timeframe, weight: 1 }] })
    engine.begin()
    for await (const batch of new ReplayFeed([{ symbol: 'SPX', timeframe: '1d', bars: spx }]).batches()) engine.advance(batch.watermark)
    engine.end()
    const got = collectResults(engine)
    expect(got.strategies[0]!.trades.pnl.length).toBeGreaterThan(10)
    expect(got).toEqual(expected)
  })
})
