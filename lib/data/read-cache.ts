// A read cache beside each lake partition: its six columns as raw Float64 (data.parquet.f64), so that
// repeated loads (notebooks, sweeps, several processes) skip Parquet decoding. Parquet stays the
// storage: the cache records the (inode, size, mtime) of the file it was built from and is rebuilt
// whenever that changes, so a stale cache is never read. The plain version is one DuckDB query per
// load (see loadPartition's fallback), ~1.5× slower for 1M bars.

import { readFileSync, statSync } from 'node:fs'
import { writeFileAtomic } from '../core/index.js'
import { duckdb, queryDoubles, sqlString } from './duckdb.js'

export const COLUMNS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const
export type Columns = Record<(typeof COLUMNS)[number], Float64Array>

const MAGIC = 'MTFLF64\n'

/** (inode, size, mtime) of a file: changes whenever a writer replaces it. */
export function fileVersion(file: string): string {
  try {
    const s = statSync(file)
    return `${s.ino}:${s.size}:${s.mtimeMs}`
  } catch {
    return 'missing'
  }
}

/** The columns of one partition file, from its cache when the cache matches the file. */
export async function loadPartition(file: string): Promise<Columns> {
  const version = fileVersion(file)
  const cached = readCache(`${file}.f64`, version)
  if (cached !== undefined) return cached
  const conn = await duckdb()
  const columns = (await queryDoubles(
    conn,
    `SELECT epoch_ms(time)::DOUBLE, open, high, low, close, volume FROM read_parquet(${sqlString(file)}, hive_partitioning = false)`,
    COLUMNS,
  )) as Columns
  // Only a read of one unchanged version becomes a cache (a writer may have replaced the file meanwhile).
  if (fileVersion(file) === version) writeCache(`${file}.f64`, version, columns)
  return columns
}

function readCache(path: string, version: string): Columns | undefined {
  let buffer: Buffer
  try {
    buffer = readFileSync(path)
  } catch {
    return undefined
  }
  if (buffer.length < 16 || buffer.toString('latin1', 0, 8) !== MAGIC) return undefined
  const headerLength = buffer.readUInt32LE(8)
  let header: { version?: string; rows?: number }
  try {
    header = JSON.parse(buffer.toString('utf8', 12, 12 + headerLength)) as { version?: string; rows?: number }
  } catch {
    return undefined
  }
  const rows = header.rows ?? -1
  const dataOffset = align8(12 + headerLength)
  if (header.version !== version || rows < 0 || buffer.length !== dataOffset + rows * 8 * COLUMNS.length) return undefined
  // Views when the bytes are 8-byte aligned in memory, copies otherwise.
  const aligned = (buffer.byteOffset + dataOffset) % 8 === 0
  const out = {} as Columns
  COLUMNS.forEach((name, c) => {
    const start = buffer.byteOffset + dataOffset + c * rows * 8
    out[name] = aligned ? new Float64Array(buffer.buffer, start, rows) : new Float64Array(buffer.buffer.slice(start, start + rows * 8))
  })
  return out
}

function writeCache(path: string, version: string, columns: Columns): void {
  const rows = columns.time.length
  const header = Buffer.from(JSON.stringify({ version, rows, columns: COLUMNS }))
  const dataOffset = align8(12 + header.length)
  const out = Buffer.alloc(dataOffset + rows * 8 * COLUMNS.length)
  out.write(MAGIC, 0, 'latin1')
  out.writeUInt32LE(header.length, 8)
  header.copy(out, 12)
  COLUMNS.forEach((name, c) => {
    const column = columns[name]
    Buffer.from(column.buffer, column.byteOffset, column.byteLength).copy(out, dataOffset + c * rows * 8)
  })
  try {
    writeFileAtomic(path, out)
  } catch {
    /* a read-only workspace: no cache, reads still work */
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8
}
