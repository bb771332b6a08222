// The direct Parquet reader must return exactly what DuckDB reads from the same file, or decline.

import { closeSync, mkdtempSync, openSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { barsFromRows, barsHash, ingestBars, loadBars, partitionFiles } from '../../lib/data/index.js'
import { duckdb, queryDoubles, sqlString } from '../../lib/data/duckdb.js'
import { deferredFileSource, fileSource, openPlainParquet, readPlainParquet } from '../../lib/data/parquet-plain.js'

const dir = mkdtempSync(join(tmpdir(), 'mtflow-parquet-'))
const NAMES = ['time', 'open', 'high', 'low', 'close', 'volume']

/** A table of n rows: times one minute apart from `start`, awkward doubles, NaN volumes every 7th row. */
async function writeFile(name: string, n: number, options: string, start = Date.UTC(2024, 0, 1), nullVolumeAt = -1): Promise<string> {
  const conn = await duckdb()
  const file = join(dir, name)
  await conn.run(`COPY (SELECT make_timestamp(((${start} + range * 60000) * 1000)::BIGINT) AS time,
      100 + sin(range) / 3 AS open, 101 + 1e-13 * range AS high, 99 - range / 7 AS low, pi() * range AS close,
      CASE WHEN range = ${nullVolumeAt} THEN NULL WHEN range % 7 = 0 THEN 'NaN'::DOUBLE ELSE (range % 5)::DOUBLE END AS volume
      FROM range(${n})) TO ${sqlString(file)} (${options})`)
  return file
}

async function viaDuckdb(file: string): Promise<Record<string, Float64Array>> {
  const conn = await duckdb()
  return queryDoubles(conn, `SELECT epoch_ms(time)::DOUBLE, open, high, low, close, coalesce(volume, 'NaN'::DOUBLE) FROM read_parquet(${sqlString(file)})`, NAMES)
}

const bytesOf = (columns: Record<string, Float64Array>) => NAMES.map((n) => Buffer.from(columns[n]!.buffer, columns[n]!.byteOffset, columns[n]!.byteLength).toString('base64'))

describe('readPlainParquet', () => {
  it('reads the lake layout bit for bit as DuckDB does, across row groups, dictionaries and before 1970', async () => {
    const plain = 'FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1'
    for (const [n, start, options] of [
      [1, Date.UTC(2024, 0, 1), plain], // one value per column: DuckDB still writes dictionaries
      [300_001, Date.UTC(2024, 0, 1), plain], // three row groups of DuckDB's 122,880 rows
      [5000, Date.UTC(1965, 5, 1), plain], // negative epoch times
      [20_000, Date.UTC(2024, 0, 1), 'FORMAT parquet, COMPRESSION uncompressed'], // volume dictionary-encoded, 3-bit indices
    ] as const) {
      const file = await writeFile(`plain-${n}-${start}.parquet`, n, options, start)
      const plain = readPlainParquet(file, readFileSync(file), NAMES)
      expect(plain, `${n} rows from ${start}`).toBeDefined()
      expect(plain!.time!.length).toBe(n)
      expect(bytesOf(plain!)).toEqual(bytesOf(await viaDuckdb(file)))
      // The same through reads at offsets of the open file (how loadBars reads), at an offset of 3 rows.
      const bytes = readFileSync(file)
      const opened = openPlainParquet(file, bytes.subarray(bytes.length - 100_000), bytes.length, NAMES)!
      const targets = Object.fromEntries(NAMES.map((name) => [name, new Float64Array(n + 3)]))
      const fd = openSync(file, 'r')
      expect(opened.readInto(fileSource(fd, bytes.length), targets, 3)).toBe(true)
      closeSync(fd)
      expect(bytesOf(Object.fromEntries(NAMES.map((name) => [name, targets[name]!.subarray(3)])))).toEqual(bytesOf(plain!))
      // And through the deferred source (loadBars' way): the pages walked first, the values (times
      // converted after they are in) read by the thread pool at the flush.
      const later = Object.fromEntries(NAMES.map((name) => [name, new Float64Array(n + 3)]))
      const fd2 = openSync(file, 'r')
      const deferred = deferredFileSource(fd2, bytes.length)
      expect(opened.readInto(deferred, later, 3)).toBe(true)
      expect(await deferred.flush()).toBe(true)
      closeSync(fd2)
      expect(bytesOf(Object.fromEntries(NAMES.map((name) => [name, later[name]!.subarray(3)])))).toEqual(bytesOf(plain!))
      expect(plain!.time![n - 1]).toBe(start + (n - 1) * 60_000)
      if (n === 20_000 || n === 1) {
        // The case really goes through a dictionary page.
        const conn = await duckdb()
        const encodings = (await conn.runAndReadAll(`SELECT encodings FROM parquet_metadata(${sqlString(file)}) WHERE path_in_schema = 'volume'`)).getRows()
        expect(String(encodings[0]![0])).toMatch(/DICTIONARY/)
      }
    }
  })

  it('defers only the large page copies, and says so when the file was cut short before they were read', async () => {
    const file = await writeFile('deferred-cut.parquet', 100_000, 'FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1')
    const bytes = readFileSync(file)
    const opened = openPlainParquet(file, bytes.subarray(bytes.length - 100_000), bytes.length, NAMES)!
    const targets = Object.fromEntries(NAMES.map((name) => [name, new Float64Array(100_000)]))
    const fd = openSync(file, 'r')
    try {
      const deferred = deferredFileSource(fd, bytes.length)
      expect(opened.readInto(deferred, targets, 0)).toBe(true)
      // Nothing of the values is in yet: the walk only queued them (100,000 rows are pages of 64 kB and more).
      expect(targets.close!.every((v) => v === 0)).toBe(true)
      // Another writer cuts the file (the lake replaces files, never cuts them: a damaged disk or a careless tool).
      truncateSync(file, Math.floor(bytes.length / 2))
      expect(await deferred.flush()).toBe(false)
    } finally {
      closeSync(fd)
    }
    // The lake's reader then falls back (and DuckDB refuses the cut file with its own error): never half a column read as whole.
  })

  it('declines other layouts (compressed, byte-stream-split, nulls) instead of misreading them', async () => {
    for (const [name, options, nullAt] of [
      ['snappy', 'FORMAT parquet, COMPRESSION snappy, DICTIONARY_SIZE_LIMIT 1', -1],
      ['v2', 'FORMAT parquet, COMPRESSION uncompressed, PARQUET_VERSION V2', -1],
      ['null', 'FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1', 123],
    ] as const) {
      const file = await writeFile(`${name}.parquet`, 2000, options, Date.UTC(2024, 0, 1), nullAt)
      expect(readPlainParquet(file, readFileSync(file), NAMES), name).toBeUndefined()
    }
  })

  it('rejects a file that is not Parquet or is cut short with a one-line error naming it', async () => {
    const file = await writeFile('whole.parquet', 100, 'FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1')
    const bytes = readFileSync(file)
    expect(() => readPlainParquet('cut.parquet', bytes.subarray(0, bytes.length - 20), NAMES)).toThrow(/cut\.parquet is not a Parquet file/)
    const damaged = Buffer.from(bytes)
    damaged.writeUInt32LE(bytes.length * 2, bytes.length - 8)
    expect(() => readPlainParquet('damaged.parquet', damaged, NAMES)).toThrow(/damaged\.parquet is truncated/)
  })
})

describe('loadBars over partitions in other layouts', () => {
  it('reads a partition another writer stored compressed exactly as the lake layout', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-layout-'))
    const id = { symbol: 'L', timeframe: '1h' }
    const T = Date.UTC(2024, 0, 1)
    const rows = Array.from({ length: 200 }, (_, k) => ({ time: T + k * 3_600_000, open: 10 + k / 3, high: 12 + k, low: 9, close: 11 + k / 7, volume: k % 3 === 0 ? NaN : k }))
    await ingestBars(home, barsFromRows(rows, id))
    const before = await loadBars(home, id)
    const [file] = partitionFiles(home, { source: 'local', ...id })
    const conn = await duckdb()
    const copy = join(dir, 'snappy-partition.parquet')
    await conn.run(`COPY (SELECT * FROM read_parquet(${sqlString(file!)})) TO ${sqlString(copy)} (FORMAT parquet, COMPRESSION snappy)`)
    expect(readPlainParquet(copy, readFileSync(copy), NAMES)).toBeUndefined()
    writeFileSync(file!, readFileSync(copy))
    const after = await loadBars(home, id)
    expect(barsHash(after, 'x')).toBe(barsHash(before, 'x'))
    expect(after.volume[0]).toBeNaN()
    expect(after.close[7]).toBe(12)
  })
})
