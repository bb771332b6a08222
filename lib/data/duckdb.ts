// The process's embedded DuckDB (in memory; the workspace's Parquet files are the storage) and fast
// column transfer between DuckDB and Float64Arrays.

import type bindings from '@duckdb/node-bindings'
import type { DuckDBConnection, DuckDBDataChunk, DuckDBInstance } from '@duckdb/node-api'
import { duckdbApi, duckdbBindings } from './packages.js'

let instance: Promise<DuckDBInstance> | undefined
let connection: Promise<DuckDBConnection> | undefined
let writers: Promise<DuckDBConnection[]> | undefined

function database(): Promise<DuckDBInstance> {
  instance ??= duckdbApi().DuckDBInstance.create(':memory:')
  return instance
}

async function connect(): Promise<DuckDBConnection> {
  const conn = await (await database()).connect()
  // TimeZone UTC: times without an offset are UTC, as everywhere in mtflow.
  await conn.run("SET TimeZone = 'UTC'")
  return conn
}

/** The shared connection. DuckDB runs one statement at a time per connection: callers await in turn. */
export function duckdb(): Promise<DuckDBConnection> {
  connection ??= connect()
  return connection
}

/**
 * Two more connections to the same database, for running independent statements side by side (the
 * lake writes its partition files two at a time). They see the main database's tables, not the
 * shared connection's TEMP tables.
 */
export function duckdbWriters(): Promise<DuckDBConnection[]> {
  writers ??= Promise.all([connect(), connect()])
  return writers
}

/** A SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

/**
 * A file's path as a SQL string for DuckDB's readers (read_parquet, read_csv), its glob characters made
 * literal ([*], [?], [[]): those readers expand * ? [ ] in any path, so a workspace under "/data/x[1]", a
 * file "prices*.csv" or a symbol "*" (its lake folder "symbol=*") read other files or none (the lake's
 * coverage of "*" counted SPX's bars: second attack review).
 */
export function sqlFile(path: string): string {
  return sqlString(globLiteral(path))
}

/** `path` with DuckDB's glob characters made literal (for a pattern built on it, as the quarantine's). */
export function globLiteral(path: string): string {
  return path.replace(/[[*?]/g, (c) => `[${c}]`)
}

/** A quoted SQL identifier. */
export function sqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/**
 * Run a query whose columns are all DOUBLE without NULLs (a NULL slot holds garbage: map NULL to
 * NaN in the SQL, e.g. coalesce(x, 'NaN'::DOUBLE)) into Float64Arrays. The
 * columns must really be DOUBLE: the bytes are read as float64.
 * Performance: copies each chunk's vector memory with TypedArray.set; the plain version,
 * `reader.getColumns()`, builds a JS array of boxed values per column (~10× slower at 1M rows).
 */
export async function queryDoubles(conn: DuckDBConnection, sql: string, names: readonly string[]): Promise<Record<string, Float64Array>> {
  // conn.run materialises the result; its chunks are then read synchronously (getChunk), where
  // fetchChunk() would cost an async round trip per 2,048 rows.
  const result = await conn.run(sql)
  const chunks: DuckDBDataChunk[] = []
  let total = 0
  for (let i = 0; i < result.chunkCount; i++) {
    const chunk = result.getChunk(i)
    if (chunk.rowCount === 0) continue
    chunks.push(chunk)
    total += chunk.rowCount
  }
  const out: Record<string, Float64Array> = {}
  names.forEach((name, c) => {
    const column = new Float64Array(total)
    let offset = 0
    for (const chunk of chunks) {
      // The vector's memory through the C API (vector_get_data): the node-api wrappers
      // (getColumnVector) build a typed vector object per chunk and column, ~3x slower at 1M rows.
      const raw = (chunk as unknown as { chunk: bindings.DataChunk }).chunk
      const native = duckdbBindings()
      const bytes = native.vector_get_data(native.data_chunk_get_vector(raw, c), chunk.rowCount * 8)
      if (bytes.byteOffset % 8 === 0) column.set(new Float64Array(bytes.buffer, bytes.byteOffset, chunk.rowCount), offset)
      else column.set(new Float64Array(bytes.slice().buffer, 0, chunk.rowCount), offset)
      offset += chunk.rowCount
    }
    out[name] = column
  })
  return out
}

/**
 * Append equal-length Float64Array columns to a table whose columns are all DOUBLE, 2048 rows per
 * chunk (NaN stays NaN; DuckDB keeps IEEE NaN in DOUBLE columns).
 */
export async function appendDoubles(conn: DuckDBConnection, table: string, columns: readonly Float64Array[]): Promise<void> {
  const n = columns[0]?.length ?? 0
  const appender = await conn.createAppender(table)
  const size = 2048
  const { DuckDBDataChunk: Chunk, DOUBLE } = duckdbApi()
  const chunk = Chunk.create(columns.map(() => DOUBLE), size)
  for (let start = 0; start < n; start += size) {
    const count = Math.min(size, n - start)
    chunk.rowCount = count
    columns.forEach((column, c) => {
      const vector = chunk.getColumnVector(c)
      const items = (vector as unknown as { items: Float64Array }).items
      items.set(column.subarray(start, start + count))
      vector.flush()
    })
    appender.appendDataChunk(chunk)
  }
  appender.closeSync()
}
