// Bars by snapshot id from another machine: the lake read API of a running `mtflow serve`
// (lib/server/lake-api.ts documents the wire format) or a shared lake path. Whatever arrives is hashed
// again (barsHash) and refused unless it is exactly the snapshot the server named and the caller expects.
//
// Timeouts: the connection (DNS and TCP/TLS) must be made within connectTimeoutMs (5 s), so an
// unreachable server is one line within 5 s. After that the server loads and hashes the bars before it
// answers, and a big series streams for as long as it takes, so there is no total deadline: only an
// idle one (idleTimeoutMs, 120 s without a byte while waiting for the answer or its body).

import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { ConfigError, DataError, NotFoundError } from '../core/index.js'
import { checkBars, BAR_FIELDS, type Bars } from './bars.js'
import { barsHash, loadBars, resolveKey, type BarsQuery } from './lake.js'

export interface RemoteOptions {
  /** Milliseconds to connect to the server (default 5,000). */
  connectTimeoutMs?: number
  /** Milliseconds without a byte from the server before giving up (default 120,000). */
  idleTimeoutMs?: number
}

/** What GET /api/lake/snapshot answers: the id of the bars a query selects and their extent. */
export interface RemoteSnapshot {
  source: string
  symbol: string
  timeframe: string
  snapshot: string
  rows: number
  /** Epoch ms of the first and last bar; null when the range holds none. */
  first: number | null
  last: number | null
}

/** Where a worker reads bars: a lake on a (shared) path, or a server's lake read API. */
export type SnapshotSource = { home: string } | { url: string; token: string }

const SNAPSHOT_ID = /^[0-9a-f]{64}$/
/** Largest bars header accepted: a real one is a few hundred bytes. */
const MAX_HEADER_BYTES = 64 * 1024
/** Largest error body read from a refusing server. */
const MAX_ERROR_BYTES = 64 * 1024
/** More rows than one ArrayBuffer per column can hold (2^31 bytes on some platforms) are refused up front. */
const MAX_ROWS = Math.floor(2 ** 31 / 8)

/** The bars a query selects, from a server's lake; refused unless their hash is the announced (and expected) snapshot. */
export async function fetchBars(baseUrl: string, token: string, query: BarsQuery, expectedSnapshot?: string, options: RemoteOptions = {}): Promise<Bars> {
  if (expectedSnapshot !== undefined) checkSnapshotId(expectedSnapshot, 'expected snapshot')
  const url = lakeUrl(baseUrl, 'bars', query)
  const response = await get(url, token, options)
  if (response.statusCode !== 200) throw await refusal(url, response)
  const { header, bars } = await readBars(url, response, query)
  const got = barsHash(bars, header.source)
  const announced = response.headers['x-mtflow-snapshot']
  if (got !== header.snapshot) throw new DataError(`bars from ${shown(url)} hash to snapshot ${got}, not the ${header.snapshot} the server announced; they were altered on the way (or the server's lake is damaged)`)
  if (announced !== undefined && announced !== header.snapshot) throw new DataError(`bars from ${shown(url)}: header x-mtflow-snapshot ${String(announced).slice(0, 80)} differs from the body's snapshot ${header.snapshot}`)
  if (expectedSnapshot !== undefined && got !== expectedSnapshot) {
    throw new DataError(`bars from ${shown(url)} are snapshot ${got}, not the expected ${expectedSnapshot}; the server's lake changed since the job was made (re-submit it)`)
  }
  checkBars(bars)
  return bars
}

/** The snapshot id of what a query selects on a server, with its row count and first and last bar. */
export async function fetchSnapshot(baseUrl: string, token: string, query: BarsQuery, options: RemoteOptions = {}): Promise<RemoteSnapshot> {
  const url = lakeUrl(baseUrl, 'snapshot', query)
  const response = await get(url, token, options)
  if (response.statusCode !== 200) throw await refusal(url, response)
  const text = (await readAll(url, response, MAX_ERROR_BYTES)).toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new DataError(`${shown(url)} answered something other than JSON (expected {snapshot, rows, first, last})`)
  }
  const v = value as Partial<RemoteSnapshot>
  const time = (t: unknown) => t === null || (typeof t === 'number' && Number.isFinite(t))
  if (typeof v !== 'object' || v === null || typeof v.snapshot !== 'string' || !SNAPSHOT_ID.test(v.snapshot) || !Number.isSafeInteger(v.rows) || v.rows! < 0 ||
    !time(v.first) || !time(v.last) || typeof v.source !== 'string' || typeof v.symbol !== 'string' || typeof v.timeframe !== 'string') {
    throw new DataError(`${shown(url)} answered ${text.slice(0, 120).replace(/\s+/g, ' ')}; expected {source, symbol, timeframe, snapshot (64 hex digits), rows, first, last}`)
  }
  return { source: v.source, symbol: v.symbol, timeframe: v.timeframe, snapshot: v.snapshot, rows: v.rows!, first: v.first!, last: v.last! }
}

/** The bars of a snapshot, from a lake path or a server, refused unless they hash to `snapshot`. */
export async function loadSnapshot(source: SnapshotSource, query: BarsQuery, snapshot: string, options: RemoteOptions = {}): Promise<Bars> {
  checkSnapshotId(snapshot, 'snapshot')
  if ('url' in source) return fetchBars(source.url, source.token, query, snapshot, options)
  const bars = await loadBars(source.home, query)
  const got = barsHash(bars, resolveKey(source.home, query).source)
  if (got !== snapshot) throw new DataError(`the lake at ${source.home} holds snapshot ${got} for ${query.symbol} ${query.timeframe}, not the expected ${snapshot}; it changed since the job was made (re-submit it)`)
  return bars
}

function checkSnapshotId(id: unknown, name: string): void {
  if (typeof id !== 'string' || !SNAPSHOT_ID.test(id)) throw new ConfigError(`${name} must be 64 lowercase hex digits (a barsHash id), received ${JSON.stringify(String(id).slice(0, 80))}`)
}

/** The API URL of a query: the base URL's own path kept (a server behind a proxy prefix). */
function lakeUrl(baseUrl: string, route: 'bars' | 'snapshot', query: BarsQuery): URL {
  let url: URL
  try {
    url = new URL(baseUrl)
  } catch {
    throw new ConfigError(`server URL ${JSON.stringify(String(baseUrl).slice(0, 200))} is not a URL; expected e.g. http://host:8787`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`server URL ${url.origin} must be http:// or https://`)
  if (url.username !== '' || url.password !== '') throw new ConfigError('server URL must not carry a user or password; the token is passed on its own')
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/lake/${route}`
  url.search = ''
  url.hash = ''
  if (typeof query.symbol !== 'string' || typeof query.timeframe !== 'string') throw new ConfigError('query needs symbol and timeframe strings')
  url.searchParams.set('symbol', query.symbol)
  url.searchParams.set('timeframe', query.timeframe)
  if (query.source !== undefined) url.searchParams.set('source', query.source)
  for (const name of ['start', 'end'] as const) {
    const value = query[name]
    if (value === undefined) continue
    // Strings go as given: the server reads "2020-12-31" as an end of day, as loadBars does.
    const text = value instanceof Date ? value.toISOString() : typeof value === 'number' ? String(value) : value
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new ConfigError(`${name} must be whole epoch ms (received ${value})`)
    url.searchParams.set(name, text)
  }
  return url
}

/** The URL as messages show it: without the query string's values. */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`
}

/** A GET that resolves with the response once its head arrived (connect within connectTimeoutMs). */
function get(url: URL, token: string, options: RemoteOptions): Promise<IncomingMessage> {
  if (typeof token !== 'string' || token === '' || /[\s\x00-\x1f]/.test(token)) throw new ConfigError(`the token for ${url.origin} must be a non-empty string without spaces`)
  const connectMs = options.connectTimeoutMs ?? 5_000
  const idleMs = options.idleTimeoutMs ?? 120_000
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(url, { method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.mtflow.bars, application/json' } })
    let connected = false
    const connectTimer = setTimeout(() => {
      req.destroy(new ConfigError(`cannot reach the server at ${url.origin}: no connection within ${connectMs / 1000} s`))
    }, connectMs)
    req.on('socket', (socket) => {
      const done = () => {
        connected = true
        clearTimeout(connectTimer)
      }
      // A reused keep-alive socket is connected already.
      if (!socket.connecting) done()
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', done)
    })
    req.setTimeout(idleMs, () => {
      req.destroy(new DataError(`${url.origin} sent nothing for ${idleMs / 1000} s; gave up`))
    })
    req.on('response', (response) => resolve(response))
    req.on('error', (error) => {
      clearTimeout(connectTimer)
      if (error instanceof ConfigError || error instanceof DataError) reject(error)
      else if (!connected) reject(new ConfigError(`cannot reach the server at ${url.origin} (${(error as NodeJS.ErrnoException).code ?? error.message})`, { cause: error }))
      else reject(new DataError(`the connection to ${url.origin} failed: ${error.message}`, { cause: error }))
    })
    req.end()
  })
}

/** A non-200 answer as an error of the matching kind, quoting the server's one-line message. */
async function refusal(url: URL, response: IncomingMessage): Promise<Error> {
  const status = response.statusCode ?? 0
  let message = ''
  try {
    const body = (await readAll(url, response, MAX_ERROR_BYTES)).toString('utf8')
    const parsed = JSON.parse(body) as { error?: unknown }
    if (typeof parsed.error === 'string') message = parsed.error.replace(/\s+/g, ' ').slice(0, 300)
  } catch {
    // no JSON message: the status says it
  }
  const said = message === '' ? '' : `: ${message}`
  if (status === 401) return new ConfigError(`server ${url.origin} refused the token (401); pass that server's workspace token (its MTFLOW_HOME/server-token)`)
  if (status === 404) return new NotFoundError(`${shown(url)} answered 404${said}`)
  if (status === 400 || status === 403) return new ConfigError(`${shown(url)} refused the request (${status})${said}`)
  return new DataError(`${shown(url)} answered ${status}${said}`)
}

/** A whole (small) body, at most `max` bytes. */
function readAll(url: URL, response: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let size = 0
    response.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > max) {
        response.destroy()
        reject(new DataError(`${shown(url)} answered more than ${max} bytes where a short JSON answer was expected`))
      } else parts.push(chunk)
    })
    response.on('end', () => resolve(Buffer.concat(parts)))
    response.on('error', (error) => reject(new DataError(`reading the answer of ${shown(url)} failed: ${error.message}`, { cause: error })))
    response.on('aborted', () => reject(new DataError(`the answer of ${shown(url)} was cut off`)))
  })
}

interface BarsHeader {
  source: string
  symbol: string
  timeframe: string
  rows: number
  snapshot: string
}

/**
 * Decode the bars body as it streams: the header, then each column straight into its own Float64Array
 * (one allocation per column, no concatenated copy of the body). A body shorter or longer than the
 * header says, or a header that is not the one asked for, is a DataError.
 */
function readBars(url: URL, response: IncomingMessage, query: BarsQuery): Promise<{ header: BarsHeader; bars: Bars }> {
  return new Promise((resolve, reject) => {
    const fail = (message: string) => {
      response.destroy()
      reject(new DataError(`bars from ${shown(url)}: ${message}`))
    }
    let head = Buffer.alloc(0)
    let header: BarsHeader | undefined
    let columns: Float64Array[] = []
    let bytes: Uint8Array[] = []
    let columnBytes = 0
    let received = 0 // bytes of the columns so far
    let total = 0
    const contentLength = response.headers['content-length'] === undefined ? undefined : Number(response.headers['content-length'])

    const startColumns = (rest: Buffer) => {
      const h = parseHeader(head)
      if (typeof h === 'string') return fail(h)
      if (h.symbol !== query.symbol || h.timeframe !== query.timeframe || (query.source !== undefined && h.source !== query.source)) {
        return fail(`the server sent ${h.source}/${h.symbol}/${h.timeframe}, not the ${query.source ?? '(any source)'}/${query.symbol}/${query.timeframe} asked for`)
      }
      header = h
      columnBytes = h.rows * 8
      total = 6 * columnBytes
      const expected = head.length + total
      if (contentLength !== undefined && contentLength !== expected) return fail(`content-length ${contentLength} differs from the ${expected} bytes its header implies (${h.rows} rows)`)
      columns = BAR_FIELDS.map(() => new Float64Array(h.rows))
      bytes = columns.map((c) => new Uint8Array(c.buffer))
      take(rest)
    }
    const take = (chunk: Uint8Array) => {
      if (received + chunk.length > total) return fail(`the body is longer than the ${header!.rows} rows its header announces`)
      let at = 0
      while (at < chunk.length) {
        const column = Math.floor(received / columnBytes)
        const offset = received - column * columnBytes
        const n = Math.min(columnBytes - offset, chunk.length - at)
        bytes[column]!.set(chunk.subarray(at, at + n), offset)
        at += n
        received += n
      }
    }

    response.on('data', (chunk: Buffer) => {
      if (header !== undefined) return take(chunk)
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
      if (head.length < 4) return
      const length = head.readUInt32LE(0)
      if (length > MAX_HEADER_BYTES || (4 + length) % 8 !== 0) return fail(`header length ${length} is not a padded length of at most ${MAX_HEADER_BYTES} bytes; not an mtflow bars body`)
      if (head.length < 4 + length) return
      const rest = head.subarray(4 + length)
      head = head.subarray(0, 4 + length)
      startColumns(rest)
    })
    response.on('end', () => {
      if (header === undefined) return fail(`the body ended inside its header (${head.length} bytes)`)
      if (received < total) return fail(`truncated: ${received + head.length} of ${total + head.length} bytes arrived`)
      if (!LITTLE_ENDIAN) for (const c of columns) swapBytes(c)
      const [time, open, high, low, close, volume] = columns as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array]
      resolve({ header, bars: { symbol: header.symbol, timeframe: header.timeframe, time, open, high, low, close, volume } })
    })
    response.on('aborted', () => fail(`truncated: the connection closed after ${received + head.length} bytes`))
    response.on('error', (error) => fail(`truncated: ${error.message}`))
  })
}

function parseHeader(head: Buffer): BarsHeader | string {
  let h: Record<string, unknown>
  try {
    h = JSON.parse(head.toString('utf8', 4)) as Record<string, unknown>
  } catch {
    return 'its header is not JSON; not an mtflow bars body'
  }
  if (typeof h !== 'object' || h === null || h.format !== 'mtflow-bars') return 'its header does not name the mtflow-bars format'
  if (h.version !== 1) return `format version ${String(h.version).slice(0, 20)} is not the version 1 this client reads (update mtflow on one side)`
  const rows = h.rows
  if (typeof rows !== 'number' || !Number.isSafeInteger(rows) || rows < 0 || rows > MAX_ROWS) return `rows ${String(rows).slice(0, 30)} is not a count of at most ${MAX_ROWS}`
  if (typeof h.snapshot !== 'string' || !SNAPSHOT_ID.test(h.snapshot)) return 'its header has no snapshot id of 64 hex digits'
  if (typeof h.source !== 'string' || typeof h.symbol !== 'string' || typeof h.timeframe !== 'string') return 'its header lacks source, symbol or timeframe'
  return { source: h.source, symbol: h.symbol, timeframe: h.timeframe, rows, snapshot: h.snapshot }
}

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f

/** The wire is little-endian: on a big-endian machine each value's bytes are reversed in place. */
function swapBytes(column: Float64Array): void {
  const b = new Uint8Array(column.buffer, column.byteOffset, column.byteLength)
  for (let i = 0; i < b.length; i += 8) b.subarray(i, i + 8).reverse()
}
