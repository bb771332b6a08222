// The lake read API over a real socket: six hand-made hourly bars across three months are written through
// the lake's writer, then read back as the documented binary body (decoded here by hand, byte by byte)
// and as a snapshot summary; the id is recomputed here from its definition. Hostile parameters, a missing
// token, unknown series and the row cap are refused with one-line JSON errors.

import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ingestBars, snapshotId, type Bars } from '../../lib/data/index.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { lakeRoutes } from '../../lib/server/lake-api.js'

const H = 3_600_000
// Two bars in each of 2024-01, 2024-02 and 2024-03 (one lake partition per month for 1h bars).
const TIMES = [Date.UTC(2024, 0, 31, 22), Date.UTC(2024, 0, 31, 23), Date.UTC(2024, 1, 1, 0), Date.UTC(2024, 1, 29, 23), Date.UTC(2024, 2, 1, 0), Date.UTC(2024, 2, 1, 1)]
const ROWS = TIMES.map((t, i) => ({ time: t, open: 100 + i, high: 101.5 + i, low: 99.25 + i, close: 100.75 + i, volume: 0.1 * (i + 1) }))
const FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const

function barsOf(rows: typeof ROWS, symbol: string): Bars {
  const col = (f: (typeof FIELDS)[number]) => Float64Array.from(rows.map((r) => r[f]))
  return { symbol, timeframe: '1h', time: col('time'), open: col('open'), high: col('high'), low: col('low'), close: col('close'), volume: col('volume') }
}

/** The snapshot id from its definition: sha256 of {source, symbol, timeframe, rows} as JSON, then the six columns as Float64 LE. */
function idOf(rows: typeof ROWS, source: string, symbol: string, timeframe = '1h'): string {
  const hash = createHash('sha256').update(JSON.stringify({ source, symbol, timeframe, rows: rows.length }))
  for (const f of FIELDS) {
    const b = Buffer.alloc(8 * rows.length)
    rows.forEach((r, i) => b.writeDoubleLE(r[f], 8 * i))
    hash.update(b)
  }
  return hash.digest('hex')
}

/** The body decoded by hand from the documented layout. */
function decode(body: Buffer): { header: Record<string, unknown>; rows: typeof ROWS } {
  const length = body.readUInt32LE(0)
  expect((4 + length) % 8).toBe(0)
  const header = JSON.parse(body.toString('utf8', 4, 4 + length)) as Record<string, unknown>
  const n = header.rows as number
  expect(body.length).toBe(4 + length + 48 * n)
  const at = (field: number, i: number) => body.readDoubleLE(4 + length + field * 8 * n + 8 * i)
  const rows = Array.from({ length: n }, (_, i) => ({ time: at(0, i), open: at(1, i), high: at(2, i), low: at(3, i), close: at(4, i), volume: at(5, i) }))
  return { header, rows }
}

let home: string
let token: string
let server: Listening
let capped: Listening

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-lake-api-'))
  await ingestBars(home, barsOf(ROWS, 'BTC/USDT'), { source: 'binance' })
  await ingestBars(home, barsOf(ROWS, 'ETH/USDT'), { source: 'binance' })
  await ingestBars(home, barsOf(ROWS.slice(0, 2), 'ETH/USDT'), { source: 'kraken' })
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0 })
  // The row cap, on its own app (3 rows per request).
  capped = await startServer({ home, token, port: 0, app: new Hono().route('/api/lake', lakeRoutes({ home, maxRows: 3 })) })
})
afterAll(async () => {
  await server.close()
  await capped.close()
  rmSync(home, { recursive: true, force: true })
})

async function get(path: string, auth = true, base = server.url): Promise<{ status: number; headers: Headers; body: Buffer; json: any }> {
  const response = await fetch(`${base}${path}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} })
  const body = Buffer.from(await response.arrayBuffer())
  let json: unknown
  try {
    json = JSON.parse(body.toString('utf8'))
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, body, json }
}

describe('GET /api/lake/bars', () => {
  it('answers every bar as the documented binary body, with the snapshot id in the header and the body', async () => {
    const r = await get('/api/lake/bars?symbol=BTC%2FUSDT&timeframe=1h&source=binance')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('application/vnd.mtflow.bars')
    expect(Number(r.headers.get('content-length'))).toBe(r.body.length)
    const { header, rows } = decode(r.body)
    const id = idOf(ROWS, 'binance', 'BTC/USDT')
    expect(header).toEqual({ format: 'mtflow-bars', version: 1, source: 'binance', symbol: 'BTC/USDT', timeframe: '1h', rows: 6, snapshot: id })
    expect(rows).toEqual(ROWS)
    expect(r.headers.get('x-mtflow-snapshot')).toBe(id)
    expect(await snapshotId(home, { symbol: 'BTC/USDT', timeframe: '1h', source: 'binance' })).toBe(id)
  })

  it('selects start … end given as epoch ms or ISO, end inclusive, and finds the only source when none is named', async () => {
    const byMs = await get(`/api/lake/bars?symbol=BTC/USDT&timeframe=1h&start=${TIMES[1]}&end=${TIMES[3]}`)
    expect(byMs.status).toBe(200)
    expect(decode(byMs.body).rows).toEqual(ROWS.slice(1, 4))
    expect(byMs.headers.get('x-mtflow-snapshot')).toBe(idOf(ROWS.slice(1, 4), 'binance', 'BTC/USDT'))
    // A bare end date covers its whole day: 2024-02-29 takes the 23:00 bar.
    const byIso = await get('/api/lake/bars?symbol=BTC/USDT&timeframe=1h&start=2024-02-01T00:00:00Z&end=2024-02-29')
    expect(decode(byIso.body).rows).toEqual(ROWS.slice(2, 4))
    const none = await get(`/api/lake/bars?symbol=BTC/USDT&timeframe=1h&start=${TIMES[5]! + H}`)
    expect(none.status).toBe(200)
    expect(decode(none.body)).toEqual({ header: expect.objectContaining({ rows: 0, snapshot: idOf([], 'binance', 'BTC/USDT') }), rows: [] })
  })

  it('needs the token (401 without it)', async () => {
    const r = await get('/api/lake/bars?symbol=BTC/USDT&timeframe=1h', false)
    expect(r.status).toBe(401)
    expect(r.body.includes(Buffer.from([0, 0, 0]))).toBe(false)
    expect((await get('/api/lake/snapshot?symbol=BTC/USDT&timeframe=1h', false)).status).toBe(401)
  })

  it.each([
    ['symbol=..%2F..%2Fetc%2Fpasswd&timeframe=1h', 'symbol'],
    ['symbol=BTC%00&timeframe=1h', 'symbol'],
    [`symbol=${'A'.repeat(201)}&timeframe=1h`, 'symbol'],
    [`symbol=${'%F0%9F%92%A9'.repeat(30)}&timeframe=1h`, 'symbol'], // 60 characters, 360 once URL-encoded
    [`symbol=${'A'.repeat(5000)}&timeframe=1h`, 'symbol'],
    ['timeframe=1h', 'symbol'],
    ['symbol=BTC/USDT&timeframe=..%2F..', 'timeframe'],
    ['symbol=BTC/USDT&timeframe=1h%00', 'timeframe'],
    ['symbol=BTC/USDT', 'timeframe'],
    ['symbol=BTC/USDT&timeframe=1h&source=..%2Fbinance', 'source'],
    ['symbol=BTC/USDT&timeframe=1h&source=..', 'source'],
    ['symbol=BTC/USDT&timeframe=1h&start=yesterday', 'start'],
    ['symbol=BTC/USDT&timeframe=1h&end=99999999999999999999', 'end'],
    ['symbol=BTC/USDT&timeframe=1h&symbol=ETH/USDT', 'symbol'],
    ['symbol=BTC/USDT&timeframe=1h&stat=1', 'stat'],
  ])('refuses %s with a 400 naming %s', async (query, name) => {
    for (const route of ['bars', 'snapshot']) {
      const r = await get(`/api/lake/${route}?${query}`)
      expect(r.status, `${route}?${query}`).toBe(400)
      expect(r.json.error).toContain(name)
      expect(r.json.error).not.toContain('\n')
      expect(r.json.error.length).toBeLessThanOrEqual(500)
    }
  })

  it('answers 404 for a series the lake does not hold', async () => {
    for (const query of ['symbol=NOPE&timeframe=1h', 'symbol=BTC/USDT&timeframe=1h&source=kraken', 'symbol=BTC/USDT&timeframe=4h']) {
      const r = await get(`/api/lake/bars?${query}`)
      expect(r.status, query).toBe(404)
      expect(r.json.error).toMatch(/no bars for/)
    }
  })

  it('asks for a source when several hold the symbol (400)', async () => {
    const r = await get('/api/lake/bars?symbol=ETH/USDT&timeframe=1h')
    expect(r.status).toBe(400)
    expect(r.json.error).toMatch(/several sources \(binance, kraken\)/)
    expect(decode((await get('/api/lake/bars?symbol=ETH/USDT&timeframe=1h&source=kraken')).body).rows).toEqual(ROWS.slice(0, 2))
  })

  it('refuses more rows than the cap with a 413 naming it, and serves a range under it', async () => {
    const all = await get('/api/lake/bars?symbol=BTC/USDT&timeframe=1h', true, capped.url)
    expect(all.status).toBe(413)
    expect(all.json.error).toMatch(/6 rows asked for, more than the cap of 3 rows/)
    // January and February: 4 rows in the partitions touched.
    expect((await get(`/api/lake/bars?symbol=BTC/USDT&timeframe=1h&end=2024-02-29`, true, capped.url)).status).toBe(413)
    expect((await get('/api/lake/snapshot?symbol=BTC/USDT&timeframe=1h', true, capped.url)).status).toBe(413)
    // Refused before loading: the rows of the partitions a range touches are counted (here January's
    // and February's two each, for a range of 2 bars), at most two partial periods more than the answer.
    const straddling = await get(`/api/lake/bars?symbol=BTC/USDT&timeframe=1h&start=${TIMES[1]}&end=${TIMES[2]}`, true, capped.url)
    expect(straddling.status).toBe(413)
    expect(straddling.json.error).toMatch(/^4 rows asked for/)
    const february = await get('/api/lake/bars?symbol=BTC/USDT&timeframe=1h&start=2024-02-01&end=2024-02-29', true, capped.url)
    expect(february.status).toBe(200)
    expect(decode(february.body).rows).toEqual(ROWS.slice(2, 4))
  })
})

describe('GET /api/lake/snapshot', () => {
  it('answers the id, the row count and the first and last bar', async () => {
    const r = await get(`/api/lake/snapshot?symbol=BTC/USDT&timeframe=1h&source=binance&start=${TIMES[1]}&end=2024-03-01T00:00:00Z`)
    expect(r.status).toBe(200)
    expect(r.json).toEqual({ source: 'binance', symbol: 'BTC/USDT', timeframe: '1h', snapshot: idOf(ROWS.slice(1, 5), 'binance', 'BTC/USDT'), rows: 4, first: TIMES[1], last: TIMES[4] })
    const none = await get(`/api/lake/snapshot?symbol=BTC/USDT&timeframe=1h&end=${TIMES[0]! - 1}`)
    expect(none.json).toMatchObject({ rows: 0, first: null, last: null, snapshot: idOf([], 'binance', 'BTC/USDT') })
  })
})
