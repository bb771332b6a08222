// The lake's read API under /api/lake, for `mtflow worker` processes on other machines: the bars of a
// BarsQuery in a compact binary form, and their snapshot id (barsHash), which the client recomputes on
// what arrived (lib/data/remote.ts). The access middleware has already required the token.
//
// GET /api/lake/bars?symbol=&timeframe=[&source=][&start=][&end=]   (start/end: epoch ms or ISO, as loadBars)
//   200, content-type application/vnd.mtflow.bars, x-mtflow-snapshot: <id>, content-length, body:
//     bytes 0..3       H, the header's length in bytes (uint32 little-endian)
//     bytes 4..4+H     the header, UTF-8 JSON {"format":"mtflow-bars","version":1,"source","symbol",
//                      "timeframe","rows","snapshot"}, padded with spaces so the columns start at a
//                      multiple of 8 bytes
//     then             six columns of `rows` Float64 little-endian values each, in the order
//                      time (epoch ms), open, high, low, close, volume
//   so the body is 4 + H + 48·rows bytes.
// GET /api/lake/snapshot?… (the same parameters) → {source, symbol, timeframe, snapshot, rows, first, last}
//   (first and last: epoch ms of the first and last bar, null when the range holds none).
// Errors are JSON {error}: a bad parameter 400 (naming it), an unknown series 404, more rows than the
// cap 413 (naming the cap).

import { Hono, type Context } from 'hono'
import { ConfigError, NotFoundError, timeframeMs } from '../core/index.js'
import { barsHash, datasetDir, DEFAULT_SOURCE, LAKE_END_MS, LAKE_FIRST_MS, loadBars, partitionFiles, periodOf, readCurrent, resolveKey, type BarsQuery, type DatasetKey } from '../data/lake.js'
import { BAR_FIELDS, toEpochMs, type Bars } from '../data/bars.js'
import { periodOfFile } from '../data/generations.js'
import { duckdb, sqlString } from '../data/duckdb.js'
import { sendJson } from './api.js'

export interface LakeApiDeps {
  home: string
  /** Most rows one request may fetch (default LAKE_API_MAX_ROWS): past it, a 413 asking for a narrower range. */
  maxRows?: number
}

/** 50 M bars are 2.4 GB of columns: about a century of minute bars, more than one job should move at once. */
export const LAKE_API_MAX_ROWS = 50_000_000

export const BARS_CONTENT_TYPE = 'application/vnd.mtflow.bars'
export const SNAPSHOT_HEADER = 'x-mtflow-snapshot'

const PARAMETERS = new Set(['symbol', 'timeframe', 'source', 'start', 'end'])
/** No parameter needs more: symbols and sources are at most 200 characters URL-encoded (datasetDir). */
const MAX_PARAMETER_LENGTH = 600
/** Control characters (NUL among them): no symbol, source or time has one. */
const CONTROL = /[\x00-\x1f\x7f]/
/** Body chunks handed to the socket: views on the columns, not copies. */
const CHUNK_BYTES = 1 << 20

export function lakeRoutes(deps: LakeApiDeps): Hono {
  const maxRows = deps.maxRows ?? LAKE_API_MAX_ROWS
  const app = new Hono()

  app.get('/bars', async (c) => {
    const { key, query } = readQuery(c, deps.home)
    const bars = await loadCapped(deps.home, key, query, maxRows)
    if (typeof bars === 'string') return sendJson(c, { error: bars }, 413)
    const snapshot = barsHash(bars, key.source)
    const header = encodeHeader({ format: 'mtflow-bars', version: 1, source: key.source, symbol: key.symbol, timeframe: key.timeframe, rows: bars.time.length, snapshot })
    const chunks = [header, ...BAR_FIELDS.flatMap((field) => slices(littleEndianBytes(bars[field])))]
    const length = chunks.reduce((n, chunk) => n + chunk.byteLength, 0)
    let next = 0
    // A pull stream: the socket takes the next view when it has room (no second copy of the columns).
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (next < chunks.length) controller.enqueue(chunks[next++]!)
        else controller.close()
      },
    })
    return c.body(body, 200, { 'content-type': BARS_CONTENT_TYPE, 'content-length': String(length), [SNAPSHOT_HEADER]: snapshot })
  })

  app.get('/snapshot', async (c) => {
    const { key, query } = readQuery(c, deps.home)
    const bars = await loadCapped(deps.home, key, query, maxRows)
    if (typeof bars === 'string') return sendJson(c, { error: bars }, 413)
    const rows = bars.time.length
    return sendJson(c, {
      source: key.source,
      symbol: key.symbol,
      timeframe: key.timeframe,
      snapshot: barsHash(bars, key.source),
      rows,
      first: rows === 0 ? null : bars.time[0],
      last: rows === 0 ? null : bars.time[rows - 1],
    })
  })

  return app
}

/**
 * The query string, checked the way the lake checks a dataset key (timeframeMs; datasetDir's length
 * rule; a writer's source alphabet) plus what no real symbol has (control characters, "." or ".."
 * path segments): unknown, repeated, over-long or malformed parameters are a ConfigError naming the
 * parameter (400), a series the lake does not hold a NotFoundError (404).
 */
function readQuery(c: Context, home: string): { key: DatasetKey; query: BarsQuery } {
  const all = c.req.queries()
  for (const [name, values] of Object.entries(all)) {
    if (!PARAMETERS.has(name)) throw new ConfigError(`unknown parameter ${JSON.stringify(name.slice(0, 40))}; expected symbol, timeframe, source, start, end`)
    if (values.length > 1) throw new ConfigError(`parameter ${name} is given ${values.length} times; expected once`)
  }
  const one = (name: string): string | undefined => {
    const value = all[name]?.[0]
    if (value === undefined) return undefined
    if (value.length > MAX_PARAMETER_LENGTH) throw new ConfigError(`parameter ${name} is ${value.length} characters long; expected at most ${MAX_PARAMETER_LENGTH}`)
    if (CONTROL.test(value)) throw new ConfigError(`parameter ${name} holds a control character; expected printable text`)
    return value
  }
  const symbol = one('symbol')
  const timeframe = one('timeframe')
  const source = one('source')
  if (symbol === undefined || symbol === '') throw new ConfigError('parameter symbol is required (e.g. symbol=BTC/USDT)')
  if (timeframe === undefined || timeframe === '') throw new ConfigError('parameter timeframe is required (e.g. timeframe=1m)')
  if (symbol.split('/').some((segment) => segment === '.' || segment === '..')) throw new ConfigError(`parameter symbol must not have a "." or ".." path segment`)
  timeframeMs(timeframe)
  if (source !== undefined && (!/^[\w.-]+$/.test(source) || /^\.+$/.test(source))) {
    throw new ConfigError(`parameter source must be letters, digits, '.', '_' or '-' (and not only dots)`)
  }
  datasetDir(home, { source: source ?? DEFAULT_SOURCE, symbol, timeframe }) // the lake's own length rule
  const query: BarsQuery = { symbol, timeframe, source, start: timeOf(one('start'), 'start'), end: timeOf(one('end'), 'end') }
  const key = resolveKey(home, query)
  if (partitionFiles(home, key).length === 0) throw new NotFoundError(`no bars for ${key.source}/${key.symbol}/${key.timeframe} in the lake`)
  return { key, query: { ...query, source: key.source } }
}

/** A bound as loadBars takes it: digits are epoch ms, anything else an ISO date or time (checked there). */
function timeOf(value: string | undefined, name: string): number | string | undefined {
  if (value === undefined || value === '') return undefined
  if (!/^-?\d+$/.test(value)) {
    toEpochMs(value, `parameter ${name}`)
    return value
  }
  const ms = Number(value)
  if (!Number.isSafeInteger(ms)) throw new ConfigError(`parameter ${name} ${value.slice(0, 40)} is not a safe integer of epoch ms`)
  return ms
}

/**
 * loadBars under the row cap, or why not (the message of a 413). Before reading, the rows of the partitions the range touches are counted
 * from their Parquet footers (a bound: at most two partial periods above the answer), so an oversized
 * request is refused without loading it; the loaded bars are checked again (an import may have landed
 * in between).
 */
async function loadCapped(home: string, key: DatasetKey, query: BarsQuery, maxRows: number): Promise<Bars | string> {
  const refusal = (rows: number) => `${rows} rows asked for, more than the cap of ${maxRows} rows per request; ask for a narrower start/end range`
  const bound = await rowsTouched(home, key, query)
  if (bound > maxRows) return refusal(bound)
  const bars = await loadBars(home, query)
  return bars.time.length > maxRows ? refusal(bars.time.length) : bars
}

async function rowsTouched(home: string, key: DatasetKey, query: BarsQuery): Promise<number> {
  const start = query.start === undefined ? -Infinity : toEpochMs(query.start, 'start')
  const end = query.end === undefined ? Infinity : toEpochMs(query.end, 'end', true)
  // The same partition choice as loadBars: a bound outside the lake's range selects from its first or up to its last period.
  const period = (ms: number) => (ms >= LAKE_FIRST_MS && ms < LAKE_END_MS ? periodOf(ms, key.timeframe) : ms < LAKE_FIRST_MS ? '' : '\uffff')
  const first = period(start)
  const last = period(end)
  const pick = (files: string[]) => files.filter((file) => periodOfFile(file) >= first && periodOfFile(file) <= last)
  return readCurrent(home, key, pick, async (files) => {
    if (files.length === 0) return 0
    const conn = await duckdb()
    const result = await conn.runAndReadAll(`SELECT coalesce(sum(num_rows), 0)::DOUBLE AS n FROM parquet_file_metadata([${files.map(sqlString).join(', ')}])`)
    return Number(result.getRowObjects()[0]!.n)
  })
}

function encodeHeader(header: Record<string, unknown>): Uint8Array {
  const json = Buffer.from(JSON.stringify(header), 'utf8')
  const padded = Math.ceil((4 + json.length) / 8) * 8 - 4
  const out = Buffer.alloc(4 + padded, 0x20)
  out.writeUInt32LE(padded, 0)
  json.copy(out, 4)
  return out
}

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f

/** A column's bytes in little-endian order: a view on this (little-endian) machine, a swapped copy elsewhere. */
function littleEndianBytes(column: Float64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(column.buffer, column.byteOffset, column.byteLength)
  const out = new Uint8Array(column.byteLength)
  const view = new DataView(out.buffer)
  for (let i = 0; i < column.length; i++) view.setFloat64(i * 8, column[i]!, true)
  return out
}

function slices(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < bytes.byteLength; at += CHUNK_BYTES) out.push(bytes.subarray(at, Math.min(at + CHUNK_BYTES, bytes.byteLength)))
  return out
}
