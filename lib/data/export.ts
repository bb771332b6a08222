// Columns out to a Parquet or CSV file through DuckDB, atomically (temp file + rename): for the CLI's
// indicator and feature exports. A `time` column (epoch ms) is written as a UTC timestamp.

import { renameSync, rmSync } from 'node:fs'
import { extname } from 'node:path'
import { ConfigError, DataError } from '../core/index.js'
import { appendDoubles, duckdb, sqlIdent, sqlString } from './duckdb.js'

let counter = 0

export async function writeColumns(path: string, columns: Record<string, Float64Array>): Promise<{ rows: number; format: 'parquet' | 'csv' }> {
  const ext = extname(path).toLowerCase()
  const format = ext === '.parquet' || ext === '.pq' ? 'parquet' : ext === '.csv' ? 'csv' : undefined
  if (format === undefined) throw new ConfigError(`--out ${path}: expected a .parquet or .csv file name`)
  const names = Object.keys(columns)
  const rows = columns[names[0]!]?.length ?? 0
  for (const name of names) if (columns[name]!.length !== rows) throw new DataError(`column ${name} has ${columns[name]!.length} values, expected ${rows}`)
  const conn = await duckdb()
  const table = `export_${process.pid}_${++counter}`
  const tmp = `${path}.${process.pid}.tmp`
  try {
    await conn.run(`CREATE TEMP TABLE ${table} (${names.map((n) => `${sqlIdent(n)} DOUBLE`).join(', ')})`)
    await appendDoubles(conn, table, names.map((n) => columns[n]!))
    const select = names.map((n) => (n === 'time' ? `make_timestamp((${sqlIdent(n)} * 1000)::BIGINT) AS time` : `CASE WHEN isnan(${sqlIdent(n)}) THEN NULL ELSE ${sqlIdent(n)} END AS ${sqlIdent(n)}`)).join(', ')
    await conn.run(`COPY (SELECT ${select} FROM ${table}) TO ${sqlString(tmp)} (FORMAT ${format}${format === 'csv' ? ', HEADER true' : ''})`)
    renameSync(tmp, path)
  } finally {
    rmSync(tmp, { force: true })
    await conn.run(`DROP TABLE IF EXISTS ${table}`)
  }
  return { rows, format }
}
