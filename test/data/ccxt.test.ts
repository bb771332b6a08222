// The real ccxt against a loopback stand-in of Binance's public API, with faults: HTTP 429 every few
// calls, overlapping pages, the still-open newest candle, dropped connections, requests never answered.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadBars, snapshotId } from '../../lib/data/index.js'
import { ingestCcxt } from '../../lib/data/sources/ccxt-source.js'
import { startBinanceStandin, standinCandle, type Standin } from '../fixtures/binance-standin.js'
import { runCli } from '../helpers.js'

const HOUR = 3_600_000
const NOW = Date.UTC(2024, 0, 10, 5, 30) // the 05:00 candle is still open
let standin: Standin

beforeAll(async () => {
  standin = await startBinanceStandin({ now: NOW, rateLimitEvery: 3, overlap: 2, dropEvery: 5 })
})
afterAll(async () => {
  await standin.close()
})

const base = () => ({ exchange: 'binance', timeframe: '1h', since: '2024-01-01T00:00:00Z', apiUrl: standin.url, pageLimit: 50, backoffMs: 5 })

describe('ccxt ingest', () => {
  it('paginates through faults, stores every closed candle once, exactly as served', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-'))
    standin.setNow(NOW)
    const reports = await ingestCcxt(home, { ...base(), symbols: ['BTC/USDT', 'ETH/USDT'] })
    // 2024-01-01 00:00 … 2024-01-10 04:00 closed: 9 × 24 + 5 = 221 candles per symbol.
    for (const [r, id] of [[reports[0]!, 'BTCUSDT'], [reports[1]!, 'ETHUSDT']] as const) {
      expect(r).toMatchObject({ accepted: 221, added: 221, duplicates: 0, quarantined: {}, gaps: 0 })
      const bars = await loadBars(home, { symbol: r.symbol, timeframe: '1h', source: 'binance' })
      expect(bars.time.length).toBe(221)
      expect(bars.time[0]).toBe(Date.UTC(2024, 0, 1))
      expect(bars.time[220]).toBe(Date.UTC(2024, 0, 10, 4)) // not the open 05:00 candle
      for (let i = 0; i < bars.time.length; i++) {
        const [o, h, l, c, v] = standinCandle(id, bars.time[i]!, HOUR)
        expect([bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]]).toEqual([o, h, l, c, v].map((x) => Number(x.toFixed(x === v ? 5 : 2))))
      }
    }
    expect(standin.requests.some((r) => r.startsWith('/api/v3/klines'))).toBe(true)
  })

  it('--until a bare date takes that whole day, as --end does (review 24, finding 3)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-until-'))
    standin.setNow(NOW)
    // 2024-01-01 00:00 … 2024-01-02 23:00: 48 candles (before: 25, through the 2nd's 00:00 candle).
    const [day] = await ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'], until: '2024-01-02' })
    expect(day).toMatchObject({ accepted: 48, added: 48 })
    const bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1h', source: 'binance' })
    expect([bars.time[0], bars.time[47]]).toEqual([Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 2, 23)])
    // A time stays exact: through 2024-01-03 05:00, 6 more.
    const [time] = await ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'], until: '2024-01-03T05:00' })
    expect(time).toMatchObject({ added: 6 })
  })

  it('resumes from what the lake holds and fetches only newer candles; no new candles changes nothing', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-resume-'))
    standin.setNow(NOW)
    await ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'] })
    const id = await snapshotId(home, { symbol: 'BTC/USDT', timeframe: '1h', source: 'binance' })
    const again = await ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'] })
    expect(again[0]).toMatchObject({ accepted: 0, added: 0, resumedFrom: '2024-01-10T05:00:00.000Z' })
    expect(await snapshotId(home, { symbol: 'BTC/USDT', timeframe: '1h', source: 'binance' })).toBe(id)
    standin.setNow(NOW + 3 * HOUR) // 05:00, 06:00 and 07:00 have closed
    const seen = standin.requests.length
    const later = await ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'] })
    expect(later[0]).toMatchObject({ added: 3, resumedFrom: '2024-01-10T05:00:00.000Z' })
    const klines = standin.requests.slice(seen).filter((r) => r.startsWith('/api/v3/klines'))
    expect(klines.every((r) => r.includes(`startTime=${Date.UTC(2024, 0, 10, 5)}`) || r.includes(`startTime=${Date.UTC(2024, 0, 10, 8)}`))).toBe(true)
    expect((await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1h' })).time.length).toBe(224)
  })

  it('weekly candles on the Monday grid: the first week asked for and the newest closed one are stored (a numbers audit: the epoch\'s Thursday grid skipped both)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-week-'))
    const WEEK = 7 * 24 * HOUR
    standin.setNow(Date.UTC(2024, 2, 13, 12)) // a Wednesday: the week of Monday 2024-03-11 is open
    const [r] = await ingestCcxt(home, { ...base(), timeframe: '1w', symbols: ['BTC/USDT'], since: '2024-01-01' })
    // Mondays 2024-01-01 … 2024-03-04: 10 closed weeks.
    expect(r).toMatchObject({ accepted: 10, added: 10, quarantined: {} })
    const bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1w', source: 'binance' })
    expect(Array.from(bars.time)).toEqual(Array.from({ length: 10 }, (_, k) => Date.UTC(2024, 0, 1) + k * WEEK))
    const [o, h, l, c, v] = standinCandle('BTCUSDT', Date.UTC(2024, 0, 1), WEEK)
    expect([bars.open[0], bars.high[0], bars.low[0], bars.close[0], bars.volume[0]]).toEqual([o, h, l, c, v].map((x) => Number(x.toFixed(x === v ? 5 : 2))))
  })

  it('fetches the window before the lake\'s first bar when --since asks for it, and says so (an audit: "added 0" and nothing fetched)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-backfill-'))
    standin.setNow(NOW)
    await ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'], since: '2024-01-08T00:00:00Z' })
    // A window wholly before what the lake holds: 2024-01-05 00:00 … 01-07 23:00, 72 candles.
    const [before] = await ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'], since: '2024-01-05T00:00:00Z', until: '2024-01-07T23:00:00Z' })
    expect(before).toMatchObject({ added: 72, backfilled: { from: '2024-01-05T00:00:00.000Z', to: '2024-01-07T23:00:00.000Z' } })
    // Both sides at once: 01-03 … 01-04 before the lake, 05:00 … 07:00 of the 10th after it.
    standin.setNow(NOW + 3 * HOUR)
    const [both] = await ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'], since: '2024-01-03T00:00:00Z' })
    expect(both).toMatchObject({ added: 48 + 3, resumedFrom: '2024-01-10T05:00:00.000Z', backfilled: { from: '2024-01-03T00:00:00.000Z', to: '2024-01-04T23:00:00.000Z' } })
    const bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1h', source: 'binance' })
    // 2024-01-03 00:00 … 2024-01-10 07:00, every hour once.
    expect(bars.time.length).toBe(7 * 24 + 8)
    expect([bars.time[0], bars.time[bars.time.length - 1]]).toEqual([Date.UTC(2024, 0, 3), Date.UTC(2024, 0, 10, 7)])
    for (let i = 1; i < bars.time.length; i++) expect(bars.time[i]! - bars.time[i - 1]!).toBe(HOUR)
  })

  it('pages past a gap longer than a page on an exchange that pages by time window (an audit: the first empty page ended the ingest)', async () => {
    const gap: [number, number] = [Date.UTC(2024, 0, 3), Date.UTC(2024, 0, 6)] // 72 hours without candles
    const windowed = await startBinanceStandin({ now: NOW, windowPaging: true, gaps: [gap] })
    try {
      const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-gap-'))
      const [r] = await ingestCcxt(home, { ...base(), apiUrl: windowed.url, symbols: ['BTC/USDT'], pageLimit: 24 })
      // 221 closed candles less the 72 of the gap.
      expect(r).toMatchObject({ added: 221 - 72 })
      expect(r!.emptyPages).toBeGreaterThanOrEqual(2)
      const bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1h', source: 'binance' })
      expect(bars.time.length).toBe(149)
      expect(bars.time[bars.time.length - 1]).toBe(Date.UTC(2024, 0, 10, 4))
      expect(Array.from(bars.time).some((t) => t >= gap[0] && t < gap[1])).toBe(false)
    } finally {
      await windowed.close()
    }
  })

  it('asks no more a page than the exchange serves, so stepping over an empty window skips nothing; a window before the listing ends after one request; a long run of empty pages ends the window, said (a review)', async () => {
    const MIN = 60_000
    // 1m from 2024-01-09 00:00 to the 10th 05:29: 1,770 closed candles, the first 1,200 minutes without trades.
    const start = Date.UTC(2024, 0, 9)
    const gapped = await startBinanceStandin({ now: NOW, windowPaging: true, gaps: [[start, start + 1200 * MIN]] })
    try {
      const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-served-'))
      // Binance serves 1,000 a page: asked for 2,000, a 1,000-candle window came back empty and the cursor moved 2,000.
      const [r] = await ingestCcxt(home, { ...base(), apiUrl: gapped.url, timeframe: '1m', symbols: ['BTC/USDT'], since: start, pageLimit: 2000 })
      expect(r).toMatchObject({ added: 1770 - 1200, emptyPages: 1 })
      await expect(ingestCcxt(home, { ...base(), apiUrl: gapped.url, symbols: ['BTC/USDT'], pageLimit: 0 })).rejects.toThrow('pageLimit must be an integer ≥ 1 (received 0)')
    } finally {
      await gapped.close()
    }
    // Listed on the 8th: a window from June 2023 before what the lake holds ends at the first page (its candles are all later).
    const listed = await startBinanceStandin({ now: NOW, gaps: [[0, Date.UTC(2024, 0, 8)]] })
    try {
      const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-listed-'))
      await ingestCcxt(home, { ...base(), apiUrl: listed.url, symbols: ['BTC/USDT'], since: '2024-01-08T00:00:00Z' })
      const seen = listed.requests.length
      const [again] = await ingestCcxt(home, { ...base(), apiUrl: listed.url, symbols: ['BTC/USDT'], since: '2023-06-01T00:00:00Z' })
      expect(again).toMatchObject({ added: 0, emptyPages: 0 })
      expect(listed.requests.slice(seen).filter((q) => q.startsWith('/api/v3/klines')).length).toBeLessThanOrEqual(2)
    } finally {
      await listed.close()
    }
    // Nothing after the 8th (delisted): 52 closed hours in pages of 2, but 24 empty pages in a row end the window, said.
    const delisted = await startBinanceStandin({ now: NOW, gaps: [[Date.UTC(2024, 0, 8), NOW + HOUR]] })
    try {
      const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-delisted-'))
      const [r] = await ingestCcxt(home, { ...base(), apiUrl: delisted.url, symbols: ['BTC/USDT'], since: '2024-01-07T00:00:00Z', pageLimit: 2 })
      expect(r!.added).toBe(24)
      expect(r!.emptyPages).toBe(24)
      expect(r!.stopped).toBe("24 pages in a row without candles from 2024-01-08T00:00:00.000Z (before the market's listing, a delisted market, or a long gap at the exchange): give --since after it to go on")
    } finally {
      await delisted.close()
    }
  })

  it('retries requests that time out, reports retries by error class, and shows progress', async () => {
    const stalling = await startBinanceStandin({ now: NOW, stallEvery: 4, rateLimitEvery: 3 })
    try {
      const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-timeout-'))
      const updates: { done: number; total?: number; finished: boolean }[] = []
      const [report] = await ingestCcxt(home, {
        ...base(),
        apiUrl: stalling.url,
        symbols: ['BTC/USDT'],
        timeoutMs: 300,
        progress: { update: (state) => updates.push({ done: state.done, total: state.total, finished: state.finished }) },
      })
      // 221 candles in pages of 50: 5 pages; klines calls 3, 6, 9 … get 429 and 4, 8, 12 … never answer.
      expect(report).toMatchObject({ accepted: 221, added: 221, quarantined: {}, gaps: 0 })
      expect(report!.retried.RequestTimeout).toBeGreaterThanOrEqual(1)
      // ccxt's binance classes HTTP 429 as DDoSProtection (RateLimitExceeded's parent class).
      expect((report!.retried.DDoSProtection ?? 0) + (report!.retried.RateLimitExceeded ?? 0)).toBeGreaterThanOrEqual(1)
      const bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1h' })
      expect(bars.close[100]).toBe(standinCandle('BTCUSDT', bars.time[100]!, HOUR)[3])
      // Progress: counts of candles out of the 221 expected, never going back, ending finished at 221.
      expect(updates.length).toBeGreaterThanOrEqual(2)
      expect(updates.every((u) => u.total === 221)).toBe(true)
      expect(updates.every((u, i) => i === 0 || u.done >= updates[i - 1]!.done)).toBe(true)
      expect(updates.at(-1)).toEqual({ done: 221, total: 221, finished: true })
    } finally {
      await stalling.close()
    }
  })

  it('names an unknown exchange, symbol or timeframe in one line, and changes nothing', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-bad-'))
    await expect(ingestCcxt(home, { ...base(), exchange: 'notanexchange', symbols: ['BTC/USDT'] })).rejects.toThrow(/unknown exchange "notanexchange"/)
    await expect(ingestCcxt(home, { ...base(), symbols: ['DOGE/EUR'] })).rejects.toThrow(/unknown symbol "DOGE\/EUR" on binance/)
    await expect(ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'], timeframe: '2d' })).rejects.toThrow(/timeframe 2d is not offered by binance/)
    await expect(ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'], apiUrl: 'not a url' })).rejects.toThrow(/--api-url "not a url" is not a URL/)
    // A window backwards is refused before the exchange is asked (a new-user check: after 18 s of retries offline).
    const before = standin.requests.length
    await expect(ingestCcxt(home, { ...base(), symbols: ['BTC/USDT'], since: '2024-01-09', until: '2024-01-02' })).rejects.toThrow('--until 2024-01-02 is before --since 2024-01-09; expected a window forward in time')
    expect(standin.requests.length).toBe(before)
  })

  it('runs as `mtflow ingest ccxt` with --api-url and --json; bad input exits 2', async () => {
    standin.setNow(NOW)
    const home = mkdtempSync(join(tmpdir(), 'mtflow-ccxt-cli-'))
    const args = ['--home', home, 'ingest', 'ccxt', '--exchange', 'binance', '--symbols', 'BTC/USDT', '--timeframe', '1h', '--since', '2024-01-09T00:00:00Z', '--api-url', standin.url]
    const ok = await runCli([...args, '--json'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)[0]).toMatchObject({ symbol: 'BTC/USDT', accepted: 29 }) // 01-09 00:00 … 01-10 04:00
    // Without --json: the progress bar on stderr (one line per update off a terminal) and the report.
    const human = await runCli([...args.slice(0, 5), 'binance', '--symbols', 'ETH/USDT', ...args.slice(8)])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stderr).toMatch(/ETH\/USDT 1h {2}\[#{24}\] {2}29\/29 {2}100%/)
    expect(human.stdout).toMatch(/fetched {6}\d+ candles in \d+ requests/)
    const bad = await runCli([...args.slice(0, 5), 'kraken2000', ...args.slice(6)])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toMatch(/^mtflow: unknown exchange "kraken2000"/)
  })
})
