// Columns out to a Parquet or CSV file through DuckDB, atomically (temp file + rename): for the CLI's
// indicator and feature exports. A `time` column (epoch ms) is written as a UTC timestamp.

import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, extname, join, resolve } from 'node:path'
import { ConfigError, DataError } from '../core/index.js'
import { appendDoubles, duckdb, sqlFile, sqlIdent, sqlString } from './duckdb.js'

let counter = 0

export async function writeColumns(path: string, columns: Record<string, Float64Array>): Promise<{ rows: number; format: 'parquet' | 'csv' }> {
  const ext = extname(path).toLowerCase()
  const format = ext === '.parquet' || ext === '.pq' ? 'parquet' : ext === '.csv' ? 'csv' : undefined
  if (format === undefined) throw new ConfigError(`--out ${path}: expected a .parquet or .csv file name`)
  // The folder is checked here: DuckDB's refusal would name the temporary file.
  const folder = dirname(resolve(path))
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new ConfigError(`--out ${path}: the folder ${folder} does not exist`)
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

/** A column of a pipeline step's table: numbers (NaN = missing), text, or flags. */
export type TableColumn = Float64Array | readonly string[] | readonly boolean[]

function columnType(name: string, column: TableColumn): 'DOUBLE' | 'VARCHAR' | 'BOOLEAN' {
  if (column instanceof Float64Array) return 'DOUBLE'
  if (column.length === 0 || typeof column[0] === 'string') {
    for (const v of column as readonly unknown[]) if (typeof v !== 'string') throw new DataError(`column ${name} mixes text with ${typeof v}`)
    return 'VARCHAR'
  }
  for (const v of column as readonly unknown[]) if (typeof v !== 'boolean') throw new DataError(`column ${name} mixes flags with ${typeof v}`)
  return 'BOOLEAN'
}

/**
 * A table as the bytes of a Parquet file (through DuckDB): DOUBLE (NaN written as NULL), VARCHAR and BOOLEAN
 * columns, a `time` column (epoch ms) as a UTC timestamp. For pipeline steps' tables (screened pairs,
 * features, datasets): thousands to a few million rows.
 */
export function tableParquet(columns: Record<string, TableColumn>): Promise<Uint8Array> {
  return oneAtATime(() => writeTableParquet(columns))
}

/**
 * The process shares one DuckDB connection, which runs one query at a time: a second table written while
 * one is (Promise.all over a step's tables) failed with "Attempting to execute an unsuccessful or closed
 * pending query result". Table writes and reads queue here.
 */
let queue: Promise<unknown> = Promise.resolve()
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const run = queue.then(work, work)
  queue = run.catch(() => undefined)
  return run
}

async function writeTableParquet(columns: Record<string, TableColumn>): Promise<Uint8Array> {
  const names = Object.keys(columns)
  if (names.length === 0) throw new DataError('a table needs at least one column')
  const rows = columns[names[0]!]!.length
  for (const name of names) if (columns[name]!.length !== rows) throw new DataError(`column ${name} has ${columns[name]!.length} values, expected ${rows}`)
  const types = names.map((n) => columnType(n, columns[n]!))
  const conn = await duckdb()
  const table = `table_${process.pid}_${++counter}`
  const dir = mkdtempSync(join(tmpdir(), 'mtflow-table-'))
  const file = join(dir, 'table.parquet')
  try {
    await conn.run(`CREATE TEMP TABLE ${table} (${names.map((n, c) => `${sqlIdent(n)} ${types[c]}`).join(', ')})`)
    const appender = await conn.createAppender(table)
    for (let i = 0; i < rows; i++) {
      for (let c = 0; c < names.length; c++) {
        const v = columns[names[c]!]![i]!
        if (types[c] === 'DOUBLE') {
          if (Number.isNaN(v as number)) appender.appendNull()
          else appender.appendDouble(v as number)
        } else if (types[c] === 'VARCHAR') appender.appendVarchar(v as string)
        else appender.appendBoolean(v as boolean)
      }
      appender.endRow()
    }
    appender.closeSync()
    const select = names.map((n, c) => (n === 'time' && types[c] === 'DOUBLE' ? `make_timestamp((${sqlIdent(n)} * 1000)::BIGINT) AS time` : sqlIdent(n))).join(', ')
    await conn.run(`COPY (SELECT ${select} FROM ${table}) TO ${sqlString(file)} (FORMAT parquet)`)
    return readFileSync(file)
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await conn.run(`DROP TABLE IF EXISTS ${table}`)
  }
}

/** A Parquet file's columns: numbers as Float64Array (NULL as NaN, timestamps as epoch ms), text as strings, flags as booleans. */
export function readTable(path: string): Promise<Record<string, TableColumn>> {
  return oneAtATime(() => readTableNow(path))
}

async function readTableNow(path: string): Promise<Record<string, TableColumn>> {
  const conn = await duckdb()
  const source = `read_parquet(${sqlFile(path)})`
  let described: Record<string, unknown>[]
  try {
    described = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjects() as Record<string, unknown>[]
  } catch (error) {
    throw new DataError(`${path} is not a readable Parquet file (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`)
  }
  const cols = described.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }))
  const select = cols.map(({ name, type }) => (type.startsWith('TIMESTAMP') ? `epoch_ms(${sqlIdent(name)})::DOUBLE AS ${sqlIdent(name)}` : /INT|DOUBLE|FLOAT|DECIMAL|REAL/.test(type) ? `${sqlIdent(name)}::DOUBLE AS ${sqlIdent(name)}` : sqlIdent(name))).join(', ')
  const rows = (await conn.runAndReadAll(`SELECT ${select} FROM ${source}`)).getRowObjects() as Record<string, unknown>[]
  const out: Record<string, TableColumn> = {}
  for (const { name, type } of cols) {
    if (type === 'VARCHAR') out[name] = rows.map((r) => String(r[name] ?? ''))
    else if (type === 'BOOLEAN') out[name] = rows.map((r) => r[name] === true)
    else out[name] = Float64Array.from(rows, (r) => (r[name] === null || r[name] === undefined ? NaN : Number(r[name])))
  }
  return out
}
