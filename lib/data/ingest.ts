// Every write into the lake goes through here: rows are staged in DuckDB, validated (bad rows go to
// quarantine with a reason code), exact duplicates dropped and counted, conflicting duplicates
// quarantined, out-of-order input sorted, then merged into the lake. Gaps are reported, never filled.

import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'
import { ConfigError, DataError, epochUnitOf, fileStamp, timeframeAnchor, timeframeMs, withLock, type EpochUnit } from '../core/index.js'
import type { Bars } from './bars.js'
import { appendDoubles, duckdb, sqlIdent, sqlString } from './duckdb.js'
import { DEFAULT_SOURCE, gapStatsSql, LAKE_END_MS, LAKE_FIRST_MS, type DatasetKey } from './lake.js'
import { mergeIntoLake } from './lake-write.js'

export const REASONS = [
  'bad_time',
  'non_finite',
  'non_positive_price',
  'high_below_open_close',
  'low_above_open_close',
  'negative_volume',
  'off_grid',
  'duplicate_conflict',
  'conflict_existing',
] as const
export type Reason = (typeof REASONS)[number]

export interface IngestReport extends DatasetKey {
  /** Rows read from the input. */
  input: number
  /** Valid, unique rows offered to the lake (= added + unchanged + conflicts). */
  accepted: number
  /** Rows new to the lake. */
  added: number
  /** Rows the lake already held, identical (re-ingesting the same data). */
  unchanged: number
  /** Exact duplicate rows inside the input, dropped. */
  duplicates: number
  /** Bad rows of this input, by reason (rows already in the quarantine from an earlier import included). */
  quarantined: Partial<Record<Reason, number>>
  /** Of those, rows the quarantine did not hold yet (keyed by content: re-importing a file adds none). */
  quarantineAdded: number
  quarantineFile?: string
  /** Intervals longer than one step between consecutive accepted rows of this input. */
  gaps: number
  partitions: string[]
}

let counter = 0

/** The raw text columns a staged source may carry for quarantine (NULL: the number is its own text). */
const RAW = ['raw_time', 'raw_open', 'raw_high', 'raw_low', 'raw_close', 'raw_volume'] as const
const NO_RAW = RAW.map((r) => `NULL::VARCHAR AS ${r}`).join(', ')

/**
 * Validate `source` — a SELECT yielding t (epoch ms, NULL when unreadable), open, high, low, close,
 * volume and the raw text of each (raw_time … raw_volume, NULL when not known) — and merge it into the lake. One pass materialises the rows, sorted by time, with their
 * reason code; one window pass over the valid rows counts gaps and repeated times. Only when a time
 * repeats does an aggregate by time separate exact duplicates (dropped) from conflicting ones
 * (quarantined). `cleanup` tables are dropped at the end.
 * The staged tables live in the main in-memory database (not TEMP) so that the lake's writer
 * connections can read them.
 */
export async function ingestStaged(home: string, key: DatasetKey, source: string, origin: string, cleanup: string[] = []): Promise<IngestReport> {
  const step = timeframeMs(key.timeframe)
  const offset = timeframeAnchor(key.timeframe)
  const conn = await duckdb()
  const id = `${process.pid}_${++counter}`
  const checked = `staged_checked_${id}`
  const valid = `staged_valid_${id}`
  const deduped = `staged_deduped_${id}`
  const quarantine = `staged_quarantine_${id}`
  const differs = ['open', 'high', 'low', 'close', 'volume'].map((c) => `min(${c}) IS DISTINCT FROM max(${c})`).join(' OR ')
  try {
    // Sorted by t: the per-partition writes then read contiguous row groups, already in order.
    // Raw text is kept for bad rows only (for the quarantine); valid rows need their numbers alone.
    await conn.run(`CREATE TABLE ${checked} AS SELECT t, open, high, low, close, volume, reason,
        ${RAW.map((r) => `CASE WHEN reason IS NULL THEN NULL ELSE ${r} END AS ${r}`).join(', ')}
        FROM (SELECT t, open, high, low, close, coalesce(volume, 'NaN'::DOUBLE) AS volume, ${RAW.join(', ')}, CASE
        WHEN t IS NULL OR NOT isfinite(t) OR t < ${LAKE_FIRST_MS} OR t >= ${LAKE_END_MS} THEN 'bad_time'
        WHEN open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL
          OR NOT (isfinite(open) AND isfinite(high) AND isfinite(low) AND isfinite(close)) OR isinf(coalesce(volume, 0)) THEN 'non_finite'
        WHEN least(open, high, low, close) <= 0 THEN 'non_positive_price'
        WHEN high < greatest(open, close) THEN 'high_below_open_close'
        WHEN low > least(open, close) THEN 'low_above_open_close'
        WHEN volume < 0 THEN 'negative_volume'
        WHEN (t - ${offset}) % ${step} <> 0 THEN 'off_grid'
        ELSE NULL END AS reason FROM (${source})) ORDER BY t`)
    await conn.run(`CREATE VIEW ${valid} AS SELECT t, open, high, low, close, volume FROM ${checked} WHERE reason IS NULL`)
    await conn.run(`CREATE TABLE ${quarantine} AS SELECT t, open, high, low, close, volume, reason, ${RAW.join(', ')} FROM ${checked} WHERE reason IS NOT NULL`)
    const input = Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM ${checked}`)).getRowObjects()[0]!.n)
    let stats = (await conn.runAndReadAll(gapStatsSql(valid, key.timeframe))).getRowObjects()[0]!
    const validRows = Number(stats.rows)
    let accepted = valid
    if (Number(stats.repeats) > 0) {
      // min = max per column ⇔ all rows of a time are identical (NaN volumes compare equal in DuckDB).
      await conn.run(`CREATE TABLE ${deduped} AS SELECT t, min(open) AS open, min(high) AS high, min(low) AS low, min(close) AS close,
          min(volume) AS volume, (${differs}) AS conflict FROM ${valid} GROUP BY t ORDER BY t`)
      await conn.run(`INSERT INTO ${quarantine} (t, open, high, low, close, volume, reason) SELECT c.t, c.open, c.high, c.low, c.close, c.volume, 'duplicate_conflict'
          FROM ${valid} c SEMI JOIN (SELECT t FROM ${deduped} WHERE conflict) x ON c.t = x.t`)
      await conn.run(`DELETE FROM ${deduped} WHERE conflict`)
      accepted = deduped
      stats = (await conn.runAndReadAll(gapStatsSql(deduped, key.timeframe))).getRowObjects()[0]!
    }
    const merged = await mergeIntoLake(home, key, accepted, quarantine)
    const quarantined: Partial<Record<Reason, number>> = {}
    for (const row of (await conn.runAndReadAll(`SELECT reason, count(*) AS n FROM ${quarantine} GROUP BY reason ORDER BY reason`)).getRowObjects()) {
      quarantined[String(row.reason) as Reason] = Number(row.n)
    }
    const acceptedRows = merged.added + merged.unchanged + merged.conflicts
    const report: IngestReport = {
      ...key,
      input,
      accepted: acceptedRows,
      added: merged.added,
      unchanged: merged.unchanged,
      duplicates: validRows - (quarantined.duplicate_conflict ?? 0) - acceptedRows,
      quarantined,
      quarantineAdded: 0,
      gaps: Number(stats.gaps),
      partitions: merged.partitions,
    }
    if (Object.keys(quarantined).length > 0) {
      const written = await writeQuarantine(home, key, quarantine, origin)
      report.quarantineAdded = written.added
      if (written.file !== undefined) report.quarantineFile = written.file
    }
    return report
  } finally {
    await conn.run(`DROP VIEW IF EXISTS ${valid}`)
    for (const table of [...cleanup, checked, deduped, quarantine]) await conn.run(`DROP TABLE IF EXISTS ${table}`)
  }
}

export function quarantineDir(home: string, key: DatasetKey): string {
  return join(home, 'lake', 'quarantine', `source=${encodeURIComponent(key.source)}`, `symbol=${encodeURIComponent(key.symbol)}`, `timeframe=${key.timeframe}`)
}

/**
 * Add an import's bad rows to the dataset's quarantine, each once: a row's key is a hash of its raw
 * text (time and the five values; a number's text where it read as a number), its reason and its
 * occurrence among identical rows, so importing the same file again adds nothing while two identical
 * bad lines in one file stay two rows. Under the quarantine folder's lock (concurrent imports of one
 * file add each row once too).
 */
async function writeQuarantine(home: string, key: DatasetKey, table: string, origin: string): Promise<{ file?: string; added: number }> {
  const dir = quarantineDir(home, key)
  mkdirSync(dir, { recursive: true })
  const conn = await duckdb()
  const text = (c: string) => `coalesce(raw_${c}, CAST(${c === 'time' ? 't' : c} AS VARCHAR), '')`
  const content = `concat_ws(chr(31), reason, ${['time', 'open', 'high', 'low', 'close', 'volume'].map(text).join(', ')})`
  const keyed = `(SELECT *, md5(${content} || chr(31) || row_number() OVER (PARTITION BY ${content})) AS row_key FROM ${table})`
  return withLock(join(dir, '.lock'), async () => {
    const earlier = readdirSync(dir).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f))
    let known = ''
    if (earlier.length > 0) {
      // Files written before keys existed have no row_key column: their rows are not matched.
      const list = `[${earlier.map(sqlString).join(', ')}]`
      const hasKey = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${list}, union_by_name = true)`)).getRowObjects().some((r) => r.column_name === 'row_key')
      if (hasKey) known = `WHERE row_key NOT IN (SELECT row_key FROM read_parquet(${list}, union_by_name = true) WHERE row_key IS NOT NULL)`
    }
    const fresh = `(SELECT * FROM ${keyed} ${known})`
    const added = Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM ${fresh}`)).getRowObjects()[0]!.n)
    if (added === 0) return { added }
    const file = join(dir, `${fileStamp()}-${process.pid}-${counter}.parquet`)
    const tmp = `${file}.${process.pid}.${counter}.tmp`
    try {
      await conn.run(
        `COPY (SELECT t AS time_ms, open, high, low, close, volume, reason, ${sqlString(origin)} AS origin, now() AS quarantined_at,
                ${['time', 'open', 'high', 'low', 'close', 'volume'].map((c) => `${text(c)} AS raw_${c}`).join(', ')}, row_key FROM ${fresh} ORDER BY t)
         TO ${sqlString(tmp)} (FORMAT parquet)`,
      )
      renameSync(tmp, file)
    } finally {
      rmSync(tmp, { force: true })
    }
    return { file, added }
  })
}

export interface IngestOptions {
  symbol: string
  timeframe: string
  source?: string
}

function keyOf(options: IngestOptions): DatasetKey {
  if (typeof options.symbol !== 'string' || options.symbol.trim() === '') throw new ConfigError('symbol is required (e.g. --symbol BTC/USDT)')
  timeframeMs(options.timeframe)
  const source = options.source ?? DEFAULT_SOURCE
  if (!/^[\w.-]+$/.test(source)) throw new ConfigError(`source ${JSON.stringify(source)} must be letters, digits, '.', '_' or '-'`)
  return { source, symbol: options.symbol, timeframe: options.timeframe }
}

/** Write Bars (from ccxt, a generator, a notebook) into the lake through validation. */
export async function ingestBars(home: string, bars: Bars, options: { source?: string; origin?: string } = {}): Promise<IngestReport> {
  const key = keyOf({ symbol: bars.symbol, timeframe: bars.timeframe, source: options.source })
  const conn = await duckdb()
  const raw = `raw_${process.pid}_${++counter}`
  await conn.run(`CREATE TEMP TABLE ${raw} (t DOUBLE, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE)`)
  await appendDoubles(conn, raw, [bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume])
  return ingestStaged(home, key, `SELECT *, ${NO_RAW} FROM ${raw}`, options.origin ?? 'bars', [raw])
}

const TIME_NAMES = ['date', 'time', 'timestamp', 'datetime', 'open_time', 'ts']

/**
 * Import a CSV or Parquet file: column names are matched in any case (date/time/timestamp/datetime,
 * open, high, low, close, volume); times may be ISO dates or date-times (UTC unless they carry an
 * offset), or epoch seconds, milliseconds, microseconds or nanoseconds (told apart by the column's
 * median magnitude). Quarantined rows keep the raw text of every field.
 */
export async function importFile(home: string, path: string, options: IngestOptions): Promise<IngestReport> {
  const key = keyOf(options)
  if (!existsSync(path)) throw new ConfigError(`cannot read ${path}: no such file`)
  if (statSync(path).isDirectory()) throw new ConfigError(`cannot read ${path}: it is a directory; expected a CSV or Parquet file`)
  if (statSync(path).size === 0) throw new DataError(`${path} is empty; expected a header row and data rows`)
  const ext = extname(path).toLowerCase()
  const parquet = ext === '.parquet' || ext === '.pq'
  // CSV types are sniffed from the first 2,048 rows (DuckDB's default sample, 20,480, costs ~0.1 s
  // per import). When a later value does not fit the sniffed type, the import is read again with
  // every column as text, where unreadable values become NULL and their rows go to quarantine.
  const reader = (text: boolean) =>
    parquet ? `read_parquet(${sqlString(path)})` : `read_csv(${sqlString(path)}, header = true, sample_size = 2048${text ? ', all_varchar = true' : ''})`
  const conn = await duckdb()
  let columns: { name: string; type: string }[]
  try {
    columns = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${reader(false)}`)).getRowObjects().map((r) => ({ name: String(r.column_name), type: String(r.column_type) }))
  } catch (cause) {
    throw new DataError(`cannot read ${path} as ${parquet ? 'Parquet' : 'CSV'}: ${String((cause as Error).message).split('\n')[0]}`, { cause })
  }
  const find = (names: string[]) => columns.find((c) => names.includes(c.name.trim().toLowerCase()))
  const expected = 'expected columns date/time/timestamp/datetime, open, high, low, close and optionally volume'
  const time = find(TIME_NAMES)
  const cols = { open: find(['open']), high: find(['high']), low: find(['low']), close: find(['close']) }
  const missing = [time === undefined ? 'date/time' : undefined, ...Object.entries(cols).filter(([, c]) => c === undefined).map(([n]) => n)].filter(Boolean)
  if (missing.length > 0) throw new ConfigError(`${path}: no column for ${missing.join(', ')} (columns: ${columns.map((c) => c.name).join(', ')}); ${expected}`)
  const volume = find(['volume', 'vol'])
  const num = (c: { name: string } | undefined) => (c === undefined ? 'NULL::DOUBLE' : `TRY_CAST(${sqlIdent(c.name)} AS DOUBLE)`)
  // Raw text only where a value does not read as a number (the text of the others is their number's):
  // converting every value to text would cost as much as the import itself.
  const raw = (c: { name: string } | undefined) =>
    c === undefined ? 'NULL::VARCHAR' : `CASE WHEN TRY_CAST(${sqlIdent(c.name)} AS DOUBLE) IS NULL THEN CAST(${sqlIdent(c.name)} AS VARCHAR) END`
  // A text time column is carried as it is (ingestStaged keeps it for bad rows only); a numeric one is its number.
  const textTime = /CHAR|TEXT|STRING/i.test(time!.type)
  const unit = await epochUnit(path, parquet, time!, timeframeMs(key.timeframe))
  // In the text read (formats given) a value that did not fit the sniffed type is text: it is carried
  // wherever it does not read as a time, so two different unreadable times stay two quarantined rows.
  const rawTime = (formats?: string[]) =>
    textTime ? sqlIdent(time!.name) : formats === undefined ? 'NULL::VARCHAR' : `CASE WHEN ${timeExpression(time!, unit, formats)} IS NULL THEN ${sqlIdent(time!.name)} END`
  const source = (formats?: string[]) => `SELECT ${timeExpression(time!, unit, formats)} AS t, ${num(cols.open)} AS open, ${num(cols.high)} AS high,
      ${num(cols.low)} AS low, ${num(cols.close)} AS close, ${num(volume)} AS volume,
      ${rawTime(formats)} AS raw_time, ${raw(cols.open)} AS raw_open, ${raw(cols.high)} AS raw_high, ${raw(cols.low)} AS raw_low,
      ${raw(cols.close)} AS raw_close, ${raw(volume)} AS raw_volume FROM ${reader(formats !== undefined)}`
  const ingest = async (text: boolean): Promise<IngestReport> => {
    try {
      return await ingestStaged(home, key, source(text ? await sniffedFormats(path) : undefined), path)
    } catch (cause) {
      if (cause instanceof ConfigError || cause instanceof DataError) throw cause
      const message = String((cause as Error).message)
      if (!parquet && !text && /Conversion Error|Could not convert|Error when converting/i.test(message)) return ingest(true)
      throw new DataError(`cannot read ${path}: ${message.split('\n')[0]}`, { cause })
    }
  }
  const report = await ingest(false)
  if (report.input === 0) throw new DataError(`${path} has no data rows; expected a header row and data rows`)
  return report
}

/** The date and timestamp formats DuckDB's sniffer found in a CSV file (none for ISO). */
async function sniffedFormats(path: string): Promise<string[]> {
  const conn = await duckdb()
  const row = (await conn.runAndReadAll(`SELECT DateFormat AS d, TimestampFormat AS t FROM sniff_csv(${sqlString(path)}, sample_size = 2048)`)).getRowObjects()[0]
  return [row?.t, row?.d].filter((f): f is string => typeof f === 'string' && f !== '')
}

/**
 * The unit of a numeric time column (s, ms, µs, ns) from its first 10,000 values: the median step
 * between rows against the timeframe, else the median magnitude (epochUnitOf). One value off by a
 * factor does not change it (it lands outside 1970–2200 and is quarantined as bad_time). Read as text,
 * so an odd value cannot fail the query.
 */
async function epochUnit(path: string, parquet: boolean, column: { name: string; type: string }, stepMs: number): Promise<EpochUnit> {
  if (!/INT|DOUBLE|FLOAT|DECIMAL|REAL|NUMERIC/i.test(column.type)) return 'ms'
  const conn = await duckdb()
  const reader = parquet ? `read_parquet(${sqlString(path)})` : `read_csv(${sqlString(path)}, header = true, all_varchar = true)`
  const name = sqlIdent(column.name)
  const row = (
    await conn.runAndReadAll(
      `SELECT median(abs(v)) AS m, median(abs(v - p)) AS step FROM (SELECT v, lag(v) OVER (ORDER BY i) AS p FROM
         (SELECT TRY_CAST(${name} AS DOUBLE) AS v, row_number() OVER () AS i FROM (SELECT ${name} FROM ${reader} LIMIT 10000)))`,
    )
  ).getRowObjects()[0]
  return epochUnitOf(Number(row?.m ?? 0), { median: Number(row?.step ?? 0), timeframeMs: stepMs })
}

/**
 * SQL turning the time column into epoch ms (DOUBLE), NULL where it cannot be read. `formats`: the
 * column is read as text (the fallback read) and its sniffed type is parsed with these strptime
 * formats, then as ISO. `unit`: a numeric column's epoch unit.
 */
function timeExpression(column: { name: string; type: string }, unit: EpochUnit, formats?: string[]): string {
  const type = column.type.toUpperCase()
  const name = sqlIdent(column.name)
  const numeric = /INT|DOUBLE|FLOAT|DECIMAL|REAL|NUMERIC/.test(type)
  let c = name
  if (formats !== undefined && type !== 'VARCHAR') {
    c = numeric
      ? `TRY_CAST(${name} AS DOUBLE)`
      : `coalesce(${[...formats.map((f) => `try_strptime(${name}, ${sqlString(f)})::TIMESTAMPTZ`), `TRY_CAST(${name} AS TIMESTAMPTZ)`].join(', ')})`
  }
  if (type.startsWith('TIMESTAMP') || type === 'DATE') return `epoch_ms(${c}::TIMESTAMPTZ)::DOUBLE`
  if (/INT|DOUBLE|FLOAT|DECIMAL|REAL|NUMERIC/.test(type)) {
    // Division, not multiplication by 0.001: exact whenever the result is a whole millisecond.
    const x = `${c}::DOUBLE`
    return unit === 's' ? `${x} * 1000` : unit === 'ms' ? x : unit === 'us' ? `${x} / 1000` : `${x} / 1000000`
  }
  return `epoch_ms(TRY_CAST(${c} AS TIMESTAMPTZ))::DOUBLE`
}

export interface QuarantineSummary extends DatasetKey {
  reasons: Partial<Record<Reason, number>>
  rows: number
  files: number
}

/** What the quarantine holds, per dataset and reason. */
export async function quarantineSummary(home: string): Promise<QuarantineSummary[]> {
  const root = join(home, 'lake', 'quarantine')
  if (!existsSync(root)) return []
  const conn = await duckdb()
  const glob = join(root, '*', '*', '*', '*.parquet')
  const rows = (
    await conn.runAndReadAll(
      `SELECT regexp_extract(filename, 'source=([^/]+)/symbol=([^/]+)/timeframe=([^/]+)/', ['s', 'y', 't']) AS k, reason, count(*) AS n, count(DISTINCT filename) AS files
       FROM read_parquet(${sqlString(glob)}, filename = true, union_by_name = true) GROUP BY k, reason ORDER BY k, reason`,
    )
  ).getRowObjects()
  const byKey = new Map<string, QuarantineSummary>()
  for (const row of rows) {
    const k = row.k as unknown as { entries: Record<string, string> } | Record<string, string>
    const parts = ('entries' in k ? k.entries : k) as Record<string, string>
    const id = `${parts.s}/${parts.y}/${parts.t}`
    const entry = byKey.get(id) ?? { source: decodeURIComponent(parts.s!), symbol: decodeURIComponent(parts.y!), timeframe: parts.t!, reasons: {}, rows: 0, files: 0 }
    entry.reasons[String(row.reason) as Reason] = Number(row.n)
    entry.rows += Number(row.n)
    entry.files = Math.max(entry.files, Number(row.files))
    byKey.set(id, entry)
  }
  return [...byKey.values()]
}
