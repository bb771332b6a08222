// The process's embedded DuckDB (in memory; the workspace's Parquet files are the storage) and fast
// column transfer between DuckDB and Float64Arrays.

import { DuckDBDataChunk, DuckDBInstance, DOUBLE, type DuckDBConnection } from '@duckdb/node-api'

let connection: Promise<DuckDBConnection> | undefined

/** The shared connection. DuckDB runs one statement at a time per connection: callers await in turn. */
export function duckdb(): Promise<DuckDBConnection> {
  // TimeZone UTC: times without an offset are UTC, as everywhere in mtflow.
  connection ??= DuckDBInstance.create(':memory:').then(async (instance) => {
    const conn = await instance.connect()
    await conn.run("SET TimeZone = 'UTC'")
    return conn
  })
  return connection
}

/** A SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

/** A quoted SQL identifier. */
export function sqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** `coalesce(expr::DOUBLE, 'NaN')`: the SQL for a DOUBLE column that queryDoubles can copy as it is. */
export function doublesOf(expression: string): string {
  return `coalesce((${expression})::DOUBLE, 'NaN'::DOUBLE)`
}

/**
 * Run a query whose columns are all DOUBLE without NULLs (use doublesOf) into Float64Arrays.
 * Performance: copies each chunk's vector memory with TypedArray.set; the plain version,
 * `reader.getColumns()`, builds a JS array of boxed values per column (~10× slower at 1M rows).
 */
export async function queryDoubles(conn: DuckDBConnection, sql: string, names: readonly string[]): Promise<Record<string, Float64Array>> {
  const result = await conn.run(sql)
  const chunks: DuckDBDataChunk[] = []
  let total = 0
  for (;;) {
    const chunk = await result.fetchChunk()
    if (chunk === null || chunk.rowCount === 0) break
    chunks.push(chunk)
    total += chunk.rowCount
  }
  const out: Record<string, Float64Array> = {}
  names.forEach((name, c) => {
    const column = new Float64Array(total)
    let offset = 0
    for (const chunk of chunks) {
      const vector = chunk.getColumnVector(c)
      const items = (vector as unknown as { items?: Float64Array }).items
      if (items instanceof Float64Array) {
        // NULL slots hold garbage here: queries must map NULL to NaN themselves (see doublesOf).
        column.set(items.subarray(0, chunk.rowCount), offset)
      } else {
        for (let i = 0; i < chunk.rowCount; i++) {
          const v = vector.getItem(i)
          column[offset + i] = v === null ? NaN : Number(v)
        }
      }
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
  const chunk = DuckDBDataChunk.create(columns.map(() => DOUBLE), size)
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
