// lib/core/parquet-columns.ts against hostile Parquet files (review 24), built here by a tiny Thrift
// compact writer of this file's own (a port of the reviewer's hostile.py), not by the module's writer:
// - a 119-byte file whose dictionary indexes are a bit-packed run at width 0 of 2^52 groups hung the
//   reader forever; it is read in a child process (a hang cannot be interrupted in-process) and must
//   answer (its one value: a run at width 0 is values without bytes; only the page's are decoded);
//   a run whose bytes are not in the page is refused before decoding;
// - a 20 KB footer naming 4,000 columns of 160,000 rows and no row groups made the reader allocate
//   4,000 × 160,000 cells (5.1 GB) before checking anything: now refused before allocating (rss grows
//   by less than 200 MB), and so is a well-formed file claiming more rows than its bytes could hold;
// - files the module's own writer makes at 100,000 rows that the old `rows <= bytes × 8` rule refused
//   (a delta-encoded time column alone; time + constant text; time + an all-NaN column) read back.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { columnsParquet, parquetColumns } from '../../lib/core/parquet-columns.js'
import { DataError } from '../../lib/core/index.js'
import { duckdb, sqlString } from '../../lib/data/duckdb.js'
import { ROOT } from '../helpers.js'

const scratch = mkdtempSync(join(tmpdir(), 'mtflow-parquet-hostile-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

// ---- a tiny Thrift compact writer (numbers only up to 2^53) ----

const bytes = (...parts: (number[] | Uint8Array)[]): number[] => parts.flatMap((p) => [...p])
function varint(v: number): number[] {
  const out: number[] = []
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return out
}
const zz = (v: number): number[] => varint(v >= 0 ? v * 2 : -v * 2 - 1)
const I32 = 5
const I64 = 6
const BIN = 8
const LIST = 9
const STRUCT = 12
/** A struct of [id, type, encoded value] in increasing id order (ids 15 apart at most). */
function struct(fields: [number, number, number[]][]): number[] {
  const out: number[] = []
  let last = 0
  for (const [id, type, value] of fields) {
    out.push(((id - last) << 4) | type, ...value)
    last = id
  }
  out.push(0)
  return out
}
const binary = (s: string): number[] => bytes(varint(s.length), new TextEncoder().encode(s))
const list = (type: number, items: number[][]): number[] => bytes(items.length < 15 ? [(items.length << 4) | type] : [0xf0 | type, ...varint(items.length)], ...items)
const u32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff]
const MAGIC = [0x50, 0x41, 0x52, 0x31]
const file = (pages: number[], meta: number[]): Uint8Array => Uint8Array.from(bytes(MAGIC, pages, meta, u32(meta.length), MAGIC))

/** One column `s` of one row group: its pages (at offset 4), its metadata, the schema element. */
function oneColumnFile(opts: { type: number; repetition: number; converted?: number; rows: number; pages: number[]; dictionaryLength?: number; encodings: number[] }): Uint8Array {
  const { pages, rows } = opts
  const colmeta = struct([
    [1, I32, zz(opts.type)],
    [2, LIST, list(I32, opts.encodings.map(zz))],
    [3, LIST, list(BIN, [binary('s')])],
    [4, I32, zz(0)],
    [5, I64, zz(rows)],
    [6, I64, zz(pages.length)],
    [7, I64, zz(pages.length)],
    [9, I64, zz(4 + (opts.dictionaryLength ?? 0))],
    ...(opts.dictionaryLength === undefined ? [] : ([[11, I64, zz(4)]] as [number, number, number[]][])),
  ])
  const chunk = struct([
    [2, I64, zz(4)],
    [3, STRUCT, colmeta],
  ])
  const group = struct([
    [1, LIST, list(STRUCT, [chunk])],
    [2, I64, zz(pages.length)],
    [3, I64, zz(rows)],
  ])
  const schema = [
    struct([
      [4, BIN, binary('schema')],
      [5, I32, zz(1)],
    ]),
    struct([
      [1, I32, zz(opts.type)],
      [3, I32, zz(opts.repetition)],
      [4, BIN, binary('s')],
      ...(opts.converted === undefined ? [] : ([[6, I32, zz(opts.converted)]] as [number, number, number[]][])),
    ]),
  ]
  const meta = struct([
    [1, I32, zz(1)],
    [2, LIST, list(STRUCT, schema)],
    [3, I64, zz(rows)],
    [4, LIST, list(STRUCT, [group])],
  ])
  return file(pages, meta)
}

/** A data page header of `count` values, `size` bytes, `encoding`, RLE levels. */
const dataPageHeader = (size: number, count: number, encoding: number): number[] =>
  struct([
    [1, I32, zz(0)],
    [2, I32, zz(size)],
    [3, I32, zz(size)],
    [
      5,
      STRUCT,
      struct([
        [1, I32, zz(count)],
        [2, I32, zz(encoding)],
        [3, I32, zz(3)],
        [4, I32, zz(3)],
      ]),
    ],
  ])

/**
 * hostile.py's loop.parquet: a text column of 1 row (dictionary ['a']); its dictionary indexes at
 * `width` bits, one run of `header` (odd: bit-packed, (header-1)/2 groups of 8 values) and `after` bytes.
 */
function loopFile(width = 0, header = 2 ** 53 - 1, after: number[] = []): Uint8Array {
  return oneTextFile([0x61], 1, bytes([width], varint(header), after))
}

/** A text column `s` of `rows` rows: a dictionary page of the one value `value` (its bytes), then a data page of `dataBody` (the dictionary indexes). */
function oneTextFile(value: number[], rows: number, dataBody: number[]): Uint8Array {
  const dictBody = bytes(u32(value.length), value)
  const dictHeader = struct([
    [1, I32, zz(2)],
    [2, I32, zz(dictBody.length)],
    [3, I32, zz(dictBody.length)],
    [
      7,
      STRUCT,
      struct([
        [1, I32, zz(1)],
        [2, I32, zz(0)],
      ]),
    ],
  ])
  const dictionary = bytes(dictHeader, dictBody)
  return oneColumnFile({ type: 6, repetition: 0, converted: 0, rows, pages: bytes(dictionary, dataPageHeader(dataBody.length, rows, 8), dataBody), dictionaryLength: dictionary.length, encodings: [0] })
}

/** hostile.py's mem.parquet: `k` REQUIRED DOUBLE columns (no names, or `c0`, `c1`, …), no row groups, rows = the file's size × 8 (the old limit). */
function memFile(k: number, named = false): Uint8Array {
  const element = (c: number) =>
    struct([
      [1, I32, zz(5)],
      [3, I32, zz(0)],
      ...(named ? ([[4, BIN, binary(`c${c}`)]] as [number, number, number[]][]) : []),
    ])
  const schema = [
    struct([
      [4, BIN, binary('s')],
      [5, I32, zz(k)],
    ]),
    ...Array.from({ length: k }, (_, c) => element(c)),
  ]
  let rows = 1
  let out = new Uint8Array(0)
  for (let i = 0; i < 5; i++) {
    out = file(
      [],
      struct([
        [1, I32, zz(1)],
        [2, LIST, list(STRUCT, schema)],
        [3, I64, zz(rows)],
        [4, LIST, list(STRUCT, [])],
      ]),
    )
    rows = out.length * 8
  }
  return out
}

/** The error `parquetColumns` throws for these bytes (fails the test when it returns). */
function refusal(data: Uint8Array, label: string): Error {
  try {
    parquetColumns(data, label)
  } catch (error) {
    return error as Error
  }
  throw new Error(`${label} was read`)
}

describe('parquetColumns refuses hostile files within bounded work', () => {
  it('a bit-packed run at width 0 of 2^52 groups (the 119-byte loop.parquet) reads its one value, in a child process that ends', () => {
    const data = loopFile()
    expect(data.length).toBe(119) // the reviewer's file, byte for byte in size
    const path = join(scratch, 'loop.parquet')
    writeFileSync(path, data)
    const script = join(scratch, 'read.ts')
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs'\n` +
        `import { parquetColumns } from ${JSON.stringify(join(ROOT, 'lib', 'core', 'parquet-columns.ts'))}\n` +
        `try { console.log('read ' + JSON.stringify(parquetColumns(readFileSync(process.argv[2]), 'loop.parquet'))) } catch (error) { console.log(error.constructor.name + ': ' + error.message) }\n`,
    )
    // The timeout only ends a hung child (the old reader never returned); the assertion is on what it printed.
    const child = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), script, path], { encoding: 'utf8', timeout: 60_000 })
    expect(child.stderr).toBe('')
    expect(child.stdout.trim()).toBe('read {"s":["a"]}') // its one value, the run's 2^55 - 1 others never decoded
  })

  it('the same run in-process; runs whose bytes are not there are refused; runs padded past the page read', () => {
    expect(parquetColumns(loopFile(), 'loop.parquet')).toEqual({ s: ['a'] })
    // Width 3, one group (8 values in 3 bytes) with 2 bytes present.
    expect(refusal(loopFile(3, 3, [0, 0]), 'short.parquet').message).toBe('short.parquet: column s: bad dictionary indexes (a bit-packed run of 8 values in 3 bytes, 2 left)')
    // Width 20, 2^40 groups (2^43 values in 20 TB): refused before decoding any.
    expect(refusal(loopFile(20, 2 ** 41 + 1), 'wide.parquet').message).toBe(`wide.parquet: column s: bad dictionary indexes (a bit-packed run of ${2 ** 43} values in ${20 * 2 ** 40} bytes, 0 left)`)
    // Width 3, 4 groups (32 values, 31 past the page's one value, as DuckDB pads) in their 12 bytes: ['a'].
    expect(parquetColumns(loopFile(3, 9, new Array(12).fill(0)), 'padded.parquet')).toEqual({ s: ['a'] })
    // A dictionary index past the dictionary is still refused: the one value is 1 (width 1, one group).
    expect(refusal(loopFile(1, 3, [1]), 'index.parquet').message).toBe('index.parquet: column s: dictionary index 1 past its 1 entries')
  })

  it('4,000 columns of 160,000 rows in a 20 KB footer without row groups: refused before allocating (rss grows < 200 MB)', () => {
    const data = memFile(4000)
    expect(data.length).toBeGreaterThan(20_000)
    global.gc?.()
    const before = process.memoryUsage().rss
    const error = refusal(data, 'mem.parquet')
    const grown = process.memoryUsage().rss - before
    expect(error).toBeInstanceOf(DataError)
    expect(error.message).toBe('mem.parquet: column  appears twice')
    expect(grown).toBeLessThan(200 * 2 ** 20)
    // Named columns: the cells are more than the bytes can hold.
    const named = memFile(4000, true)
    const cells = refusal(named, 'named.parquet')
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 2 ** 20)
    expect(cells.message).toBe(`named.parquet: ${named.length * 8} rows × 4000 columns is more than a ${named.length}-byte file can hold`)
  })

  it('a well-formed file claiming more rows than its bytes hold (one RLE run of NULL levels for 2^30 rows) is refused before allocating', () => {
    // OPTIONAL DOUBLE `s`: one data page, its levels one RLE run of 2^30 zeros (all NULL), no values.
    const rows = 2 ** 30
    const levels = bytes(varint(rows * 2), [0])
    const body = bytes(u32(levels.length), levels)
    const data = oneColumnFile({ type: 5, repetition: 1, rows, pages: bytes(dataPageHeader(body.length, rows, 0), body), encodings: [0, 3] })
    const before = process.memoryUsage().rss
    const error = refusal(data, 'bomb.parquet')
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 2 ** 20)
    expect(error).toBeInstanceOf(DataError)
    expect(error.message).toBe(`bomb.parquet: 1073741824 rows × 1 column is more than a ${data.length}-byte file can hold`)
  })

  it('the same file at 1,000 rows reads: 1,000 NaN', () => {
    const rows = 1000
    const levels = bytes(varint(rows * 2), [0])
    const body = bytes(u32(levels.length), levels)
    const data = oneColumnFile({ type: 5, repetition: 1, rows, pages: bytes(dataPageHeader(body.length, rows, 0), body), encodings: [0, 3] })
    const back = parquetColumns(data, 'nan.parquet')
    expect(Object.keys(back)).toEqual(['s'])
    expect(back.s).toEqual(new Float64Array(rows).fill(NaN))
  })
})

describe('files columnsParquet writes read back at 100,000 rows (the old rows <= bytes × 8 rule refused them)', () => {
  const n = 100_000
  const t0 = Date.UTC(2024, 0, 1)
  const time = Float64Array.from({ length: n }, (_, i) => t0 + i * 60_000)
  const tables: Record<string, Record<string, Float64Array | string[]>> = {
    'a delta-encoded time column alone': { time },
    'time + constant text': { time, symbol: new Array<string>(n).fill('SPY') },
    'time + an all-NaN column': { time, pnl: new Float64Array(n).fill(NaN) },
  }
  for (const [what, columns] of Object.entries(tables)) {
    it(what, () => {
      const data = columnsParquet(columns)
      expect(data.length * 8).toBeLessThan(n) // what the old rule refused
      const back = parquetColumns(data, what)
      expect(Object.keys(back)).toEqual(Object.keys(columns))
      for (const [name, values] of Object.entries(columns)) {
        let differ = 0 // (toEqual over 100,000 values is slow)
        for (let i = 0; i < n; i++) if (!Object.is(back[name]![i], values[i])) differ++
        expect(differ, name).toBe(0)
      }
    })
  }
})

it('a file DuckDB writes (bit-packed definition levels padded by whole groups past a page) reads: 300,000 rows', async () => {
  const path = join(scratch, 'duck.parquet')
  const conn = await duckdb()
  await conn.run(`COPY (SELECT (TIMESTAMP '2020-01-01' + i * INTERVAL 1 MINUTE) AS time, (CASE WHEN i % 7 = 0 THEN NULL ELSE i * 0.5 END)::DOUBLE AS x, 'S' || (i % 3) AS sym FROM range(300000) t(i)) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION uncompressed)`)
  const back = parquetColumns(readFileSync(path), 'duck.parquet')
  expect(Object.keys(back)).toEqual(['time', 'x', 'sym'])
  const t0 = Date.UTC(2020, 0, 1)
  let differ = 0
  for (let i = 0; i < 300_000; i++) if (back.time![i] !== t0 + i * 60_000 || !Object.is(back.x![i], i % 7 === 0 ? NaN : i * 0.5) || back.sym![i] !== `S${i % 3}`) differ++
  expect(differ).toBe(0)
})

/** One text column `s` of `rows` rows, all the one dictionary value `valueLength` × "x": one RLE run at width 0. */
function oneValueFile(rows: number, valueLength: number): Uint8Array {
  return oneTextFile(new Array<number>(valueLength).fill(0x78), rows, bytes([0], varint(rows * 2)))
}

describe('a text column of one value claiming tens of millions of rows (second attack review)', () => {
  it('60,000,000 rows in a 131 KB file are refused before allocating (the server decoded them for a preview: 28 s, 4.8 GB)', () => {
    const data = oneValueFile(60_000_000, 131_072)
    expect(data.length).toBeLessThan(132_000)
    const before = process.memoryUsage().rss
    const error = refusal(data, 'big.parquet')
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 2 ** 20)
    expect(error.message).toBe(`big.parquet: 60000000 rows × 1 column is more than a ${data.length}-byte file can hold`)
  })

  it('past 2^24 rows a text column is refused whatever the file\'s size (2^26 cells for a table); within the bounds it reads', () => {
    const over = oneValueFile(2 ** 24 + 1, 300_000)
    expect(refusal(over, 'over.parquet').message).toBe(`over.parquet: ${2 ** 24 + 1} rows of a text column (s) are more than the 16,777,216 such a column is read with`)
    const wide = oneValueFile(2 ** 26 + 1, 1_100_000)
    expect(refusal(wide, 'wide.parquet').message).toBe(`wide.parquet: ${2 ** 26 + 1} rows × 1 column is more than the 67,108,864 cells a table is read with`)
    // 2^22 + 64 per byte: 1,000 bytes of value hold 4,194,304 + 64 × ~1,060 rows.
    const fits = oneValueFile(4_200_000, 1_000)
    const column = parquetColumns(fits, 'fits.parquet').s as string[]
    expect(column.length).toBe(4_200_000)
    expect(column[0]).toBe('x'.repeat(1_000))
    expect(column[4_199_999]).toBe(column[0])
  })
})
