// Bars by snapshot id from a server over a real socket (fetchBars, fetchSnapshot, loadSnapshot): exactly
// the bars loadBars gives, with the same id as snapshotId; refused when a loopback proxy alters or cuts
// the body, when the id is not the one expected, without the token, and for an unreachable server.
// A million bars round-trip.

import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, DataError, NotFoundError } from '../../lib/core/index.js'
import { fetchBars, fetchSnapshot, ingestBars, loadBars, loadSnapshot, snapshotId, type Bars } from '../../lib/data/index.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'

const FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const
const MIN = 60_000
const T0 = Date.UTC(2021, 0, 1)
const BIG = 1_000_000

/** n one-minute bars from T0; prices move on a 997-step cycle so that every column has varied values. */
function minuteBars(n: number, symbol: string): Bars {
  const b: Bars = { symbol, timeframe: '1m', time: new Float64Array(n), open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n) }
  for (let i = 0; i < n; i++) {
    const open = 100 + (i % 997) / 64 + i / 1e6
    b.time[i] = T0 + i * MIN
    b.open[i] = open
    b.close[i] = open + 1 / 8
    b.high[i] = open + 3 / 8
    b.low[i] = open - 1 / 4
    b.volume[i] = (i % 13) + 0.5
  }
  return b
}

/** The snapshot id from its definition: sha256 of {source, symbol, timeframe, rows} as JSON, then the six columns' bytes. */
function idOf(bars: Bars, source: string): string {
  const hash = createHash('sha256').update(JSON.stringify({ source, symbol: bars.symbol, timeframe: bars.timeframe, rows: bars.time.length }))
  for (const f of FIELDS) hash.update(new Uint8Array(bars[f].buffer, bars[f].byteOffset, bars[f].byteLength))
  return hash.digest('hex')
}

function sameBytes(a: Bars, b: Bars): boolean {
  return FIELDS.every((f) => Buffer.from(a[f].buffer, a[f].byteOffset, a[f].byteLength).equals(Buffer.from(b[f].buffer, b[f].byteOffset, b[f].byteLength)))
}

function slice(bars: Bars, from: number, to: number): Bars {
  return { ...bars, ...Object.fromEntries(FIELDS.map((f) => [f, bars[f].slice(from, to)])) } as Bars
}

let home: string
let token: string
let server: Listening
const small = minuteBars(500, 'BTC/USDT')
const big = minuteBars(BIG, 'BIG')

/** A loopback proxy to the server that hands the client `alter(body)` with the server's own headers. */
async function proxy(alter: (body: Buffer) => { body: Buffer; cut?: boolean; chunked?: boolean }): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(server.url)
  const s: Server = createServer((req, res) => {
    const up = request({ host: target.hostname, port: target.port, path: req.url, method: 'GET', headers: { authorization: req.headers.authorization ?? '' } }, (answer) => {
      const parts: Buffer[] = []
      answer.on('data', (c: Buffer) => parts.push(c))
      answer.on('end', () => {
        const { body, cut, chunked } = alter(Buffer.concat(parts))
        const headers = { ...answer.headers }
        if (chunked === true) delete headers['content-length']
        res.writeHead(answer.statusCode!, headers)
        if (cut) res.write(body, () => res.destroy())
        else res.end(body)
      })
    })
    up.end()
  })
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done))
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: () => new Promise<void>((done) => {
      s.close(() => done())
      s.closeAllConnections()
    }),
  }
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-remote-'))
  await ingestBars(home, small, { source: 'binance' })
  await ingestBars(home, big, { source: 'synthetic' })
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0 })
})
afterAll(async () => {
  await server.close()
  rmSync(home, { recursive: true, force: true })
})

describe('fetchBars', () => {
  it('gives exactly the bars loadBars gives, with the snapshot id of snapshotId', async () => {
    const query = { symbol: 'BTC/USDT', timeframe: '1m', start: T0 + 10 * MIN, end: new Date(T0 + 409 * MIN).toISOString() }
    const got = await fetchBars(server.url, token, query)
    const local = await loadBars(home, query)
    expect(got.time.length).toBe(400)
    expect(sameBytes(got, local)).toBe(true)
    expect(sameBytes(got, slice(small, 10, 410))).toBe(true)
    const id = idOf(slice(small, 10, 410), 'binance')
    expect(await snapshotId(home, query)).toBe(id)
    expect(await fetchBars(`${server.url}/`, token, query, id)).toMatchObject({ symbol: 'BTC/USDT', timeframe: '1m' })
  })

  it('round-trips a million bars', async () => {
    const got = await fetchBars(server.url, token, { symbol: 'BIG', timeframe: '1m', source: 'synthetic' }, idOf(big, 'synthetic'))
    expect(got.time.length).toBe(BIG)
    expect(sameBytes(got, big)).toBe(true)
  })

  it('refuses a body altered on the way, naming both ids', async () => {
    const id = idOf(small, 'binance')
    // One bit of the last close flipped: the body's length and header are untouched.
    const at = (body: Buffer) => body.length - 8 * small.time.length - 1
    const p = await proxy((body) => {
      const out = Buffer.from(body)
      out[at(out)]! ^= 1
      return { body: out }
    })
    try {
      const altered = slice(small, 0, 500)
      new Uint8Array(altered.close.buffer)[altered.close.byteLength - 1]! ^= 1
      const error = await fetchBars(p.url, token, { symbol: 'BTC/USDT', timeframe: '1m' }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(DataError)
      expect((error as Error).message).toContain(idOf(altered, 'binance'))
      expect((error as Error).message).toContain(id)
      expect((error as Error).message).not.toContain('\n')
    } finally {
      await p.close()
    }
  })

  it('refuses a body cut short: the connection dropped, or a shorter body ended cleanly', async () => {
    for (const how of [{ cut: true }, { chunked: true }]) {
      const p = await proxy((body) => ({ body: body.subarray(0, body.length - 100), ...how }))
      try {
        const error = await fetchBars(p.url, token, { symbol: 'BTC/USDT', timeframe: '1m' }).catch((e: unknown) => e)
        expect(error, JSON.stringify(how)).toBeInstanceOf(DataError)
        expect((error as Error).message).toMatch(/truncated/)
      } finally {
        await p.close()
      }
    }
  })

  it('refuses bars that are not the expected snapshot, naming both ids', async () => {
    const expected = idOf(slice(small, 0, 499), 'binance')
    const actual = idOf(small, 'binance')
    const error = await fetchBars(server.url, token, { symbol: 'BTC/USDT', timeframe: '1m' }, expected).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DataError)
    expect((error as Error).message).toContain(expected)
    expect((error as Error).message).toContain(actual)
  })

  it('without the right token is a ConfigError naming the 401', async () => {
    const error = await fetchBars(server.url, 'not-the-token', { symbol: 'BTC/USDT', timeframe: '1m' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toMatch(/^server http:\/\/127\.0\.0\.1:\d+ refused the token \(401\)/)
  })

  it('an unreachable server is one line naming its URL', async () => {
    const gone = await startServer({ home, token, port: 0 })
    await gone.close()
    const error = await fetchBars(gone.url, token, { symbol: 'BTC/USDT', timeframe: '1m' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toBe(`cannot reach the server at ${gone.url} (ECONNREFUSED)`)
    await expect(fetchBars('ftp://example.test', token, { symbol: 'X', timeframe: '1m' })).rejects.toThrow(/must be http/)
  })

  it('passes on the server refusals: an unknown series (404), a hostile symbol (400)', async () => {
    await expect(fetchBars(server.url, token, { symbol: 'NOPE', timeframe: '1m' })).rejects.toThrow(NotFoundError)
    const error = await fetchBars(server.url, token, { symbol: '../../etc', timeframe: '1m' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toMatch(/refused the request \(400\): parameter symbol/)
  })
})

describe('fetchSnapshot and loadSnapshot', () => {
  it('fetchSnapshot answers the id, rows and extent', async () => {
    expect(await fetchSnapshot(server.url, token, { symbol: 'BTC/USDT', timeframe: '1m', end: T0 + 99 * MIN })).toEqual({
      source: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '1m',
      snapshot: idOf(slice(small, 0, 100), 'binance'),
      rows: 100,
      first: T0,
      last: T0 + 99 * MIN,
    })
  })

  it('reads a snapshot from a lake path or a server, verified either way', async () => {
    const query = { symbol: 'BTC/USDT', timeframe: '1m', start: T0 + 100 * MIN }
    const id = idOf(slice(small, 100, 500), 'binance')
    const fromLake = await loadSnapshot({ home }, query, id)
    const fromServer = await loadSnapshot({ url: server.url, token }, query, id)
    expect(sameBytes(fromLake, slice(small, 100, 500))).toBe(true)
    expect(sameBytes(fromServer, slice(small, 100, 500))).toBe(true)
    const other = idOf(small, 'binance')
    for (const source of [{ home }, { url: server.url, token }]) {
      const error = await loadSnapshot(source, query, other).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(DataError)
      expect((error as Error).message).toContain(other)
      expect((error as Error).message).toContain(id)
    }
    await expect(loadSnapshot({ home }, query, 'abc')).rejects.toThrow(/64 lowercase hex digits/)
  })
})
