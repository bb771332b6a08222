// Every write into the lake goes through here: rows are staged in DuckDB, validated (bad rows go to
// quarantine with a reason code), exact duplicates dropped and counted, conflicting duplicates
// quarantined, out-of-order input sorted, then merged into the lake. Gaps are reported, never filled.

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs'
import { extname, join, resolve, sep } from 'node:path'
import { checkCanonicalTimeframe, clip, ConfigError, DataError, decideTimeFormat, epochUnitOf, fileStamp, parseDateFormat, TIME_PATTERNS, timeKind, timeframeAnchor, timeframeMs, withLock, type DateFormat, type EpochUnit, type TimeSummary } from '../core/index.js'
import { barColumns, csvOptionName, timeframeOfStep, MAX_BAR_PRICE, MIN_BAR_PRICE, decimalHint, NUMBER_PATTERNS, offGridMessage, sniffDialect, splitLine, type CsvOptions } from './csv.js'
import type { Bars } from './bars.js'
import { appendDoubles, duckdb, globLiteral, sqlFile, sqlIdent, sqlString } from './duckdb.js'
import { DEFAULT_SOURCE, gapStatsSql, LAKE_END_MS, LAKE_FIRST_MS, type DatasetKey } from './lake.js'
import { mergeIntoLake } from './lake-write.js'

export const REASONS = [
  'bad_time',
  'non_finite',
  'non_positive_price',
  'price_out_of_range',
  'high_below_open_close',
  'low_above_open_close',
  'negative_volume',
  'off_grid',
  'duplicate_conflict',
  'conflict_existing',
] as const
export type Reason = (typeof REASONS)[number]

/**
 * The prices a bar may hold: 1e-12 (below the smallest coin quoted) to 1e15 (above any index or currency). A
 * subnormal 1e-320 or a 1e308 was accepted before and made a backtest's CAGR 8e23 % and a trade's return
 * Infinity (an attack review); such a row is a unit error or a corrupt file.
 */
export const MIN_PRICE = MIN_BAR_PRICE
export const MAX_PRICE = MAX_BAR_PRICE

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
  /** Said when the accepted rows are mostly further apart than the timeframe (1h data imported as 30m). */
  hint?: string
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
export async function ingestStaged(home: string, key: DatasetKey, source: string, origin: string, cleanup: string[] = [], refuse?: Refusal): Promise<IngestReport> {
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
          OR NOT (isfinite(open) AND isfinite(high) AND isfinite(low) AND isfinite(close)) OR isinf(coalesce(volume, 0))
          OR (volume IS NULL AND nullif(trim(raw_volume), '') IS NOT NULL) THEN 'non_finite'
        WHEN least(open, high, low, close) <= 0 THEN 'non_positive_price'
        WHEN least(open, high, low, close) < ${MIN_PRICE} OR greatest(open, high, low, close) > ${MAX_PRICE} THEN 'price_out_of_range'
        WHEN high < greatest(open, close) THEN 'high_below_open_close'
        WHEN low > least(open, close) THEN 'low_above_open_close'
        WHEN volume < 0 THEN 'negative_volume'
        WHEN (t - ${offset}) % ${step} <> 0 THEN 'off_grid'
        ELSE NULL END AS reason FROM (${source})) ORDER BY t`)
    await conn.run(`CREATE VIEW ${valid} AS SELECT t, open, high, low, close, volume FROM ${checked} WHERE reason IS NULL`)
    await conn.run(`CREATE TABLE ${quarantine} AS SELECT t, open, high, low, close, volume, reason, ${RAW.join(', ')} FROM ${checked} WHERE reason IS NOT NULL`)
    const input = Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM ${checked}`)).getRowObjects()[0]!.n)
    if (refuse !== undefined) await refuseBadImport(checked, input, key, refuse)
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
    // Valid rows all lost to conflicting duplicates (a date column beside the time of day, say): refused
    // before anything is written, as when no row is valid.
    if (refuse !== undefined && Number(stats.rows) === 0) await refuseAllConflicts(quarantine, input, refuse)
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
      // A file's rows mostly further apart than its timeframe: said (an exchange's sparse market is not a wrong timeframe).
      ...(refuse === undefined ? {} : coarserHint(Number(stats.step), key.timeframe)),
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

/** What a file import needs to refuse itself, before anything is written, and to say why. */
interface Refusal {
  label: string
  /** The file's column of each field. */
  columns: Partial<Record<'time' | 'open' | 'high' | 'low' | 'close' | 'volume', string>>
  options: CsvOptions
  decimal?: '.' | ','
}

/**
 * Refuse an import (DataError, nothing written) that has no data rows, accepts none, or puts most rows
 * off the timeframe's grid; the message names a column and a value that did not read, or the
 * timeframe the times look like (their median step).
 */
async function refuseBadImport(checked: string, input: number, key: DatasetKey, refuse: Refusal): Promise<void> {
  const { label, columns } = refuse
  if (input === 0) throw new DataError(`${label} has no data rows; expected a header row and data rows`)
  const conn = await duckdb()
  const counts = new Map<string, number>()
  for (const row of (await conn.runAndReadAll(`SELECT coalesce(reason, '') AS reason, count(*) AS n FROM ${checked} GROUP BY reason`)).getRowObjects()) counts.set(String(row.reason), Number(row.n))
  const valid = counts.get('') ?? 0
  const offGrid = counts.get('off_grid') ?? 0
  // Half or more off the grid is a wrong timeframe, not a few bad rows: at exactly half, 1h data imported as
  // 2h kept every other hour as a "2h" bar (a new-user check).
  if (offGrid * 2 >= input) {
    const row = (await conn.runAndReadAll(`SELECT median(d) FILTER (WHERE d > 0) AS d, min(t) FILTER (WHERE reason = 'off_grid') AS off FROM (SELECT t, reason, t - lag(t) OVER (ORDER BY t) AS d FROM ${checked} WHERE reason IS NULL OR reason = 'off_grid')`)).getRowObjects()[0]
    throw new DataError(offGridMessage(label, refuse.options, key.timeframe, offGrid, input, Number(row?.d ?? 0), 'nothing imported', Number(row?.off)))
  }
  if (valid > 0) return
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0]
  const sample = async (column: string): Promise<{ n: number; text: string | null }> => {
    const row = (await conn.runAndReadAll(`SELECT count(${column}) AS n, min(${column}) AS v FROM ${checked}`)).getRowObjects()[0]!
    return { n: Number(row.n), text: row.v === null ? null : String(row.v) }
  }
  const head = `${label}: 0 of ${input} rows accepted`
  if (top === 'bad_time') {
    // A time that read but lies outside the lake's years, else one that did not read.
    const row = (await conn.runAndReadAll(`SELECT arg_min(raw_time, t) FILTER (WHERE t IS NOT NULL) AS read, min(t) AS t, min(raw_time) FILTER (WHERE t IS NULL) AS unread FROM ${checked}`)).getRowObjects()[0]!
    const t = Number(row.t)
    const what =
      row.unread !== null
        ? `${JSON.stringify(clip(String(row.unread)))}, not a date/time (expected ISO 8601 such as 2020-01-31 or 2020-01-31T12:00:00Z, or epoch numbers)`
        : row.t !== null
          ? `${row.read === null ? 'times such as' : `${JSON.stringify(clip(String(row.read)))}, read as`} ${Math.abs(t) <= 8.64e15 ? new Date(t).toISOString() : 'a time past year 275,000'}: outside 1970-01-01 … 2200-12-31`
          : 'no readable times'
    throw new DataError(`${head}: column ${columns.time} holds ${what}`)
  }
  if (top === 'non_finite') {
    let worst: { field: string; n: number; text: string | null } | undefined
    for (const field of ['open', 'high', 'low', 'close', ...(columns.volume === undefined ? [] : ['volume' as const])] as const) {
      const s = await sample(`raw_${field}`)
      if (worst === undefined || s.n > worst.n) worst = { field, ...s }
    }
    const other = worst!.text === null ? '' : decimalHint(worst!.text, refuse.decimal ?? '.', refuse.options)
    const hint = other === '' ? ' — not a number' : ` — ${other}`
    const column = columns[worst!.field as 'open']
    throw new DataError(worst!.text === null ? `${head}: prices are missing (column ${columns.close} is empty)` : `${head}: column ${column} holds ${JSON.stringify(clip(worst!.text))}${hint}`)
  }
  const reasons = [...counts.entries()].filter(([r]) => r !== '').map(([r, n]) => `${r} ${n}`).join(', ')
  throw new DataError(`${head}: every row fails validation (${reasons})`)
}

/** Refuse an import whose valid rows were all conflicting duplicates, naming the first such time. */
async function refuseAllConflicts(quarantine: string, input: number, refuse: Refusal): Promise<void> {
  const conn = await duckdb()
  const rows = (await conn.runAndReadAll(`SELECT t, count(*) AS k, sum(count(*)) OVER () AS n FROM ${quarantine} WHERE reason = 'duplicate_conflict' GROUP BY t ORDER BY t LIMIT 1`)).getRowObjects()
  const first = rows[0]
  const example = first === undefined ? '' : `; ${new Date(Number(first.t)).toISOString()} on ${Number(first.k)} rows`
  throw new DataError(`${refuse.label}: 0 of ${input} rows accepted: every time of column ${refuse.columns.time} repeats with different values (duplicate_conflict ${Number(first?.n ?? 0)}${example}) (nothing imported)`)
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
  // A row quarantined after it read (a conflicting duplicate, a value the lake holds otherwise) kept no text: its
  // time is shown as ISO 8601, not "1646179200000.0" (an audit). The row key keeps the text it always hashed.
  const shownTime = `coalesce(raw_time, CASE WHEN t IS NOT NULL AND isfinite(t) AND t >= ${LAKE_FIRST_MS} AND t < ${LAKE_END_MS} THEN strftime(epoch_ms(t::BIGINT), '%Y-%m-%dT%H:%M:%S.%gZ') ELSE CAST(t AS VARCHAR) END, '')`
  const keyed = `(SELECT *, md5(${content} || chr(31) || row_number() OVER (PARTITION BY ${content})) AS row_key FROM ${table})`
  return withLock(join(dir, '.lock'), async () => {
    const earlier = readdirSync(dir).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f))
    let known = ''
    if (earlier.length > 0) {
      // Files written before keys existed have no row_key column: their rows are not matched.
      const list = `[${earlier.map(sqlFile).join(', ')}]`
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
                ${['time', 'open', 'high', 'low', 'close', 'volume'].map((c) => `${c === 'time' ? shownTime : text(c)} AS raw_${c}`).join(', ')}, row_key FROM ${fresh} ORDER BY t)
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
  checkCanonicalTimeframe(options.timeframe)
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

/** What an import adds to IngestOptions: the CSV dialect and date format (see lib/data/csv.ts). */
export interface ImportOptions extends IngestOptions, CsvOptions {}

/**
 * Import a CSV or Parquet file. CSV: the dialect (delimiter , ; tab |, decimal comma) is sniffed by the
 * reader readBarsCsv uses, or given; column names are matched in any case (date/time/timestamp/datetime,
 * open, high, low, close, optional volume). Times follow parseTime's rules, one format per column
 * decided from all its values: ISO 8601 (UTC unless they carry an offset), day/month dates only when the
 * values tell the order or `dateFormat` does, or epoch seconds, ms, µs or ns (told apart by the column's
 * median step, else magnitude). Quarantined rows keep the raw text of every field. Refused with a
 * one-line DataError, nothing written: no data rows, no row accepted (naming a column and a value that
 * did not read), or most rows off the timeframe's grid (naming the timeframe the times look like).
 */
export async function importFile(home: string, path: string, options: ImportOptions): Promise<IngestReport> {
  const key = keyOf(options)
  if (!existsSync(path)) throw new ConfigError(`cannot read ${path}: no such file`)
  if (statSync(path).isDirectory()) throw new ConfigError(`cannot read ${path}: it is a directory; expected a CSV or Parquet file`)
  if (statSync(path).size === 0) throw new DataError(`${path} is empty; expected a header row and data rows`)
  const ext = extname(path).toLowerCase()
  const parquet = ext === '.parquet' || ext === '.pq'
  const head = parquet ? '' : readHead(path)
  const dialect = parquet ? undefined : sniffDialect(head, options, path, () => fileLines(path))
  const csvArgs = dialect === undefined ? '' : `, delim = ${sqlString(dialect.delimiter)}, quote = '"', decimal_separator = ${sqlString(dialect.decimal)}`
  // CSV types are sniffed from the first 2,048 rows (DuckDB's default sample, 20,480, costs ~0.1 s
  // per import). When a later value does not fit the sniffed type, the import is read again with
  // every column as text, where unreadable values become NULL and their rows go to quarantine.
  // The time column is always read as text from CSV: parseTime's rules decide how it reads.
  const conn = await duckdb()
  let columns: { name: string; type: string }[]
  const describe = async (types: string) =>
    (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${parquet ? `read_parquet(${sqlFile(path)})` : `read_csv(${sqlFile(path)}, header = true, sample_size = 2048${csvArgs}${types})`}`))
      .getRowObjects()
      .map((r) => ({ name: String(r.column_name), type: String(r.column_type) }))
  try {
    columns = await describe('')
  } catch (cause) {
    const ragged = dialect === undefined ? undefined : raggedLine(path, dialect.delimiter)
    throw new DataError(`cannot read ${path} as ${parquet ? 'Parquet' : 'CSV'}: ${ragged ?? String((cause as Error).message).split('\n')[0]}`, { cause })
  }
  // The head's data rows, split as readBarsCsv splits them: they tell a separate time-of-day column.
  const sample = dialect === undefined ? [] : head.split(/\r\n|\r|\n/).filter((l) => l.trim() !== '').slice(1, 51).map((l) => splitLine(l, dialect.delimiter))
  const at = barColumns(columns.map((c) => c.name), path, sample)
  const dateColumn = columns[at.time]!
  const clock = at.clock < 0 ? undefined : columns[at.clock]!
  // A date and a time-of-day column are read as one text column, "date time", as readBarsCsv joins them.
  const time = clock === undefined ? dateColumn : { name: '__date_time', type: 'VARCHAR' }
  const cols = { open: columns[at.open], high: columns[at.high], low: columns[at.low], close: columns[at.close] }
  const volume = at.volume < 0 ? undefined : columns[at.volume]
  // A CSV time column DuckDB sniffs as numbers is read as epoch numbers (a later value that is not a
  // number sends the import to the text read below, where TRY_CAST makes it bad_time). Any other is
  // read as text, never as DuckDB's own date guess: parseTime's rules decide how it reads.
  let numericTime = clock === undefined && /INT|DOUBLE|FLOAT|DECIMAL|REAL|NUMERIC/i.test(time.type)
  // Except whole numbers that are all 8 digits shaped YYYYMMDD (TIME_PATTERNS.dateDigits) in the first
  // 10,000 rows: those are read as text, where parseTime's rules (over the whole column) read them as dates.
  // The same for a Parquet integer column (pandas writes an int date column 20220103 as int64): dates of
  // 2022, not epoch seconds of 1970-08-23.
  const parquetFile = `read_parquet(${sqlFile(path)})`
  const dateDigits = numericTime && /INT/i.test(time.type) && (await dateDigitsColumn(parquet ? parquetFile : `read_csv(${sqlFile(path)}, header = true${csvArgs}, all_varchar = true)`, time.name))
  if (dateDigits) numericTime = false
  if ((!parquet && !numericTime) || dateDigits) time.type = 'VARCHAR'
  // CSV numbers are read as text and parsed by NUMBER_PATTERNS, as readBarsCsv reads them (DuckDB's own
  // cast would take 1_000, inf and nan, and its decimal_separator a point beside a decimal comma).
  const valueColumns = [cols.open, cols.high, cols.low, cols.close, volume].filter((c): c is { name: string; type: string } => c !== undefined)
  const textColumns = parquet ? [] : [...(numericTime ? [] : [dateColumn.name]), ...(clock === undefined ? [] : [clock.name]), ...valueColumns.map((c) => c.name)]
  const types = textColumns.length === 0 ? '' : `, types = {${textColumns.map((n) => `${sqlString(n)}: 'VARCHAR'`).join(', ')}}`
  const csvReader = (text: boolean) => `read_csv(${sqlFile(path)}, header = true, sample_size = 2048${csvArgs}${text ? ', all_varchar = true' : types})`
  const cell = (c: { name: string }) => `nullif(trim(CAST(${sqlIdent(c.name)} AS VARCHAR)), '')`
  const joined = clock === undefined ? '' : `CASE WHEN ${cell(dateColumn)} IS NULL OR ${cell(clock)} IS NULL THEN '' ELSE ${cell(dateColumn)} || ' ' || ${cell(clock)} END`
  const reader = (text: boolean) =>
    parquet ? (dateDigits ? `(SELECT * REPLACE (CAST(${sqlIdent(time.name)} AS VARCHAR) AS ${sqlIdent(time.name)}) FROM ${parquetFile})` : parquetFile) : clock === undefined ? csvReader(text) : `(SELECT *, ${joined} AS ${sqlIdent(time.name)} FROM ${csvReader(text)})`
  const decimal = dialect?.decimal ?? '.'
  // NUMBER_PATTERNS in SQL. A regex per value would cost twice the import, so: DuckDB's cast, which reads
  // the plain numbers as Number() does, minus what only it takes (1_000, +-1; inf and nan stay non-finite
  // and are refused as such), and the patterns only for cells holding the thousands separator.
  const number = (c: { name: string }, volume: boolean) => {
    const p = NUMBER_PATTERNS[decimal]
    const v = `CAST(${sqlIdent(c.name)} AS VARCHAR)`
    const grouped = `CASE WHEN regexp_full_match(trim(${v}), ${sqlString(p.grouped)}) THEN TRY_CAST(replace(replace(trim(${v}), ${sqlString(p.group)}, ''), ',', '.') AS DOUBLE) END`
    const plain = `TRY_CAST(${decimal === ',' ? `replace(${v}, ',', '.')` : v} AS DOUBLE)`
    const x = `CASE WHEN contains(${v}, ${sqlString(p.group)}) THEN ${grouped} WHEN contains(${v}, '_') OR contains(${v}, '+-') THEN NULL ELSE ${plain} END`
    // A volume of nan is not a missing volume (NaN in DuckDB equals NaN).
    return volume ? `nullif(${x}, 'NaN'::DOUBLE)` : x
  }
  const textual = (c: { name: string; type: string }) => !parquet || /CHAR|TEXT|STRING/i.test(c.type)
  const num = (c: { name: string; type: string } | undefined) => (c === undefined ? 'NULL::DOUBLE' : textual(c) ? number(c, c === volume) : `TRY_CAST(${sqlIdent(c.name)} AS DOUBLE)`)
  // Raw text only where a value does not read as a finite number (the text of the others is their number's):
  // converting every value to text would cost as much as the import itself.
  const raw = (c: { name: string; type: string } | undefined) => (c === undefined ? 'NULL::VARCHAR' : `CASE WHEN NOT coalesce(isfinite(${num(c)}), false) THEN CAST(${sqlIdent(c.name)} AS VARCHAR) END`)
  const textTime = /CHAR|TEXT|STRING/i.test(time.type)
  const timeLabel = clock === undefined ? time.name : `${dateColumn.name} and ${clock.name}`
  const field = clock === undefined ? `${path} column ${time.name}` : `${path} columns ${timeLabel}`
  const unreadable = (cause: unknown) => {
    if (cause instanceof ConfigError || cause instanceof DataError) return cause
    // A failure writing the lake (a full disk, a read-only workspace) is not the input's: it was said as
    // "cannot read <input>" (a lake audit). Nothing of the import was stored either way.
    // Inside the lake folder (a whole path segment: not <home>/lake-inbox), and not the input itself (an
    // input kept under <home>/lake/, which DuckDB's refusals quote as "file = <input>").
    const lake = join(resolve(home), 'lake') + sep
    const input = resolve(path)
    const failedPath = (cause as NodeJS.ErrnoException).path
    const message = String((cause as Error).message)
    const inLake = (p: string) => (p + sep).startsWith(lake) && p !== input
    const quoted = [input, path].filter((p) => p.includes(sep)).reduce((m, p) => m.split(p).join(''), message)
    if ((typeof failedPath === 'string' && inLake(resolve(failedPath))) || quoted.includes(lake)) {
      return new DataError(`cannot write ${key.symbol} ${key.timeframe} to the lake: ${message.split('\n')[0]}; nothing of ${path} was stored`, { cause })
    }
    const ragged = dialect === undefined ? undefined : raggedLine(path, dialect.delimiter)
    return new DataError(`cannot read ${path}${ragged === undefined ? '' : ' as CSV'}: ${ragged ?? String((cause as Error).message).split('\n')[0]}`, { cause })
  }
  const { expression: tExpr, from } = await (textTime
    ? textTimeExpression(time.name, `(SELECT ${sqlIdent(time.name)} FROM ${reader(false)})`, { ...options, field, stepMs: timeframeMs(key.timeframe) })
    : epochUnit(path, parquet, time, timeframeMs(key.timeframe)).then((unit) => ({ expression: numericTimeExpression(time, unit), from: (r: string) => r }))
  ).catch((cause: unknown) => {
    throw unreadable(cause)
  })
  const rawTime = textTime ? sqlIdent(time.name) : `CASE WHEN ${tExpr} IS NULL THEN CAST(${sqlIdent(time.name)} AS VARCHAR) END`
  const source = (text: boolean) => `SELECT ${tExpr} AS t, ${num(cols.open)} AS open, ${num(cols.high)} AS high,
      ${num(cols.low)} AS low, ${num(cols.close)} AS close, ${num(volume)} AS volume,
      ${rawTime} AS raw_time, ${raw(cols.open)} AS raw_open, ${raw(cols.high)} AS raw_high, ${raw(cols.low)} AS raw_low,
      ${raw(cols.close)} AS raw_close, ${raw(volume)} AS raw_volume FROM ${from(reader(text))}`
  const names = { time: timeLabel, open: cols.open!.name, high: cols.high!.name, low: cols.low!.name, close: cols.close!.name, ...(volume === undefined ? {} : { volume: volume.name }) }
  const refuse: Refusal = { label: path, columns: names, options, ...(dialect === undefined ? {} : { decimal: dialect.decimal }) }
  const ingest = async (text: boolean): Promise<IngestReport> => {
    try {
      return await ingestStaged(home, key, source(text), path, [], refuse)
    } catch (cause) {
      const message = String((cause as Error).message)
      if (!(cause instanceof ConfigError || cause instanceof DataError) && !parquet && !text && /Conversion Error|Could not convert|Error when converting/i.test(message)) return ingest(true)
      throw unreadable(cause)
    }
  }
  return ingest(false)
}

/** The first 64 KiB of a file (whole lines), for sniffing its dialect. */
/**
 * The first line whose field count is not the header's, said as such ("line 30 has 4 fields; the header
 * has 7: date, open, …"): what DuckDB's refusal of a ragged file ("Error when sniffing file") does not
 * say. The file is read whole (up to 512 MiB; past that, undefined) only when DuckDB has refused it.
 */
function raggedLine(path: string, delimiter: string): string | undefined {
  if (statSync(path).size > 512 * 2 ** 20) return undefined
  const lines = readFileSync(path, 'utf8').split(/\r\n|\r|\n/)
  const header = splitLine(lines[0] ?? '', delimiter)
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue
    const n = splitLine(lines[i]!, delimiter).length
    if (n !== header.length) return `line ${i + 1} has ${n} field${n === 1 ? '' : 's'}; the header has ${header.length} (${header.join(', ').slice(0, 200)}): fix or remove that line`
  }
  return undefined
}

/** A hint when the rows' median step is two or more of the timeframe's: most of its grid is empty. */
function coarserHint(step: number, timeframe: string): { hint?: string } {
  const tf = timeframeMs(timeframe)
  if (!(step >= 2 * tf)) return {}
  const looks = timeframeOfStep(step)
  return { hint: `most rows are ${looks} apart, coarser than ${timeframe}: looks like ${looks} (import it as --timeframe ${looks}, or resample)` }
}

/**
 * The lines of a text file (ended by \n, \r\n or a lone \r, as Excel for Mac writes), read a MiB at a time, up
 * to SNIFF_BYTES: the dialect's sniff when the head settles nothing. A "line" longer than a MiB is skipped, not
 * grown without end (a file without line breaks was read quadratically: a review).
 */
function* fileLines(path: string): Generator<string> {
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.alloc(1 << 20)
    let carry = Buffer.alloc(0)
    for (let at = 0; at < SNIFF_BYTES; ) {
      const n = readSync(fd, buffer, 0, buffer.length, at)
      if (n === 0) break
      at += n
      const bytes = carry.length === 0 ? buffer.subarray(0, n) : Buffer.concat([carry, buffer.subarray(0, n)])
      // Cut after the last line break: a UTF-8 sequence never spans one.
      const cut = Math.max(bytes.lastIndexOf(10), bytes.lastIndexOf(13))
      carry = cut < 0 ? (bytes.length > 1 << 20 ? Buffer.alloc(0) : Buffer.from(bytes)) : Buffer.from(bytes.subarray(cut + 1))
      if (cut >= 0) for (const line of bytes.toString('utf8', 0, cut).split(/\r\n|\r|\n/)) yield line
    }
    if (carry.length > 0) yield carry.toString('utf8')
  } finally {
    closeSync(fd)
  }
}

/** How far the sniff reads on when the head settles nothing. */
const SNIFF_BYTES = 256 * 2 ** 20

function readHead(path: string): string {
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.alloc(65_536)
    const n = readSync(fd, buffer, 0, buffer.length, 0)
    const text = buffer.subarray(0, n).toString('utf8').replace(/^\uFEFF/, '')
    const cut = n === buffer.length ? Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r')) : -1
    return cut > 0 ? text.slice(0, cut) : text
  } finally {
    closeSync(fd)
  }
}

/**
 * The unit of a numeric time column (s, ms, µs, ns) from its first 10,000 values: the median step
 * between rows against the timeframe, else the median magnitude (epochUnitOf). One value off by a
 * factor does not change it (it lands outside 1970–2200 and is quarantined as bad_time). Read as text,
 * so an odd value cannot fail the query. `values`: a query of one text column, when given.
 */
async function epochUnit(path: string, parquet: boolean, column: { name: string; type: string }, stepMs: number, values?: string): Promise<EpochUnit> {
  if (values === undefined && !/INT|DOUBLE|FLOAT|DECIMAL|REAL|NUMERIC/i.test(column.type)) return 'ms'
  const conn = await duckdb()
  const reader = values ?? (parquet ? `read_parquet(${sqlFile(path)})` : `read_csv(${sqlFile(path)}, header = true, all_varchar = true)`)
  const name = sqlIdent(column.name)
  const row = (
    await conn.runAndReadAll(
      `SELECT median(abs(v)) AS m, median(abs(v - p)) AS step FROM (SELECT v, lag(v) OVER (ORDER BY i) AS p FROM
         (SELECT TRY_CAST(trim(CAST(${name} AS VARCHAR)) AS DOUBLE) AS v, row_number() OVER () AS i FROM (SELECT ${name} FROM ${reader} LIMIT 10000)) WHERE v IS NOT NULL)`,
    )
  ).getRowObjects()[0]
  return epochUnitOf(Number(row?.m ?? 0), { median: Number(row?.step ?? 0), timeframeMs: stepMs })
}

/** Whether the numbers among a column's first 10,000 values (of the file query `reader`) are all YYYYMMDD dates (TIME_PATTERNS.dateDigits). */
async function dateDigitsColumn(reader: string, name: string): Promise<boolean> {
  const conn = await duckdb()
  const head = `SELECT trim(CAST(${sqlIdent(name)} AS VARCHAR)) AS v FROM ${reader} LIMIT 10000`
  const row = (await conn.runAndReadAll(`SELECT count(*) FILTER (WHERE regexp_full_match(v, ${sqlString(TIME_PATTERNS.epoch)})) AS n,
      count(*) FILTER (WHERE regexp_full_match(v, ${sqlString(TIME_PATTERNS.dateDigits)})) AS d FROM (${head})`)).getRowObjects()[0]!
  return Number(row.n) > 0 && Number(row.n) === Number(row.d)
}

/** SQL turning a numeric (epoch in `unit`) or timestamp column into epoch ms (DOUBLE). */
function numericTimeExpression(column: { name: string; type: string }, unit: EpochUnit): string {
  const type = column.type.toUpperCase()
  const name = sqlIdent(column.name)
  // TIMESTAMP (no zone) is UTC: epoch_ms reads it as such. A cast to TIMESTAMPTZ would apply the machine's zone.
  if (type.startsWith('TIMESTAMP')) return `epoch_ms(${name})::DOUBLE`
  if (type === 'DATE') return `epoch_ms(${name}::TIMESTAMP)::DOUBLE`
  // Division, not multiplication by 0.001: exact whenever the result is a whole millisecond.
  const x = `TRY_CAST(${name} AS DOUBLE)`
  return unit === 's' ? `${x} * 1000` : unit === 'ms' ? x : unit === 'us' ? `${x} / 1000` : `${x} / 1000000`
}

/**
 * A text time column read by parseTime's rules, in SQL: the column's one format decided (decideTimeFormat)
 * from a summary of all its values that DuckDB computes with the same patterns (TIME_PATTERNS), then
 * each value matched and its fields turned into epoch ms with the same checks as parseDateWith (the
 * tests compare the two value by value). `from` wraps the reader to add the matched fields (__g).
 */
async function textTimeExpression(name: string, values: string, options: CsvOptions & { field: string; stepMs: number }): Promise<{ expression: string; from: (reader: string) => string }> {
  const conn = await duckdb()
  const v = `trim(${sqlIdent(name)})`
  // Every pattern depends only on where the digits are, so the values are grouped by their shape (each
  // digit as 0: one cheap pass instead of a regex per value and pattern), and the shapes classified
  // here by timeKind. Only for day/month shapes does a second pass look at the numbers themselves.
  const shapes = (await conn.runAndReadAll(`SELECT translate(v, '0123456789', '0000000000') AS shape, count(*) AS n, min(v) AS sample
      FROM (SELECT ${v} AS v FROM ${values}) WHERE v IS NOT NULL AND v <> '' GROUP BY shape ORDER BY n DESC LIMIT 10000`)).getRowObjects()
  const summary: TimeSummary = { counts: { ymd: 0, xxy: 0, basic: 0, epoch: 0, other: 0 }, sample: {} }
  for (const row of shapes) {
    const kind = timeKind(String(row.shape))
    if (kind === 'empty') continue
    const sample = String(row.sample)
    summary.counts[kind] += Number(row.n)
    if (summary.sample[kind] === undefined || sample < summary.sample[kind]!) summary.sample[kind] = sample
  }
  if (shapes.some((row) => String(row.shape) === '00000000')) {
    // 8-digit numbers: YYYYMMDD dates when every number of the column is one (summarizeTimes' dateDigits).
    const row = (await conn.runAndReadAll(`SELECT count(*) AS n FROM (SELECT ${v} AS v FROM ${values}) WHERE regexp_full_match(v, ${sqlString(TIME_PATTERNS.dateDigits)})`)).getRowObjects()[0]!
    summary.dateDigits = Number(row.n)
  }
  if (summary.counts.xxy > 0) {
    const group = (i: number) => `TRY_CAST(regexp_extract(v, ${sqlString(TIME_PATTERNS.xxy)}, ${i}) AS INTEGER)`
    const row = (await conn.runAndReadAll(`SELECT min(v) FILTER (WHERE ${group(1)} > 12) AS first12, min(v) FILTER (WHERE ${group(2)} > 12) AS second12,
        min(v) FILTER (WHERE length(regexp_extract(v, ${sqlString(TIME_PATTERNS.xxy)}, 3)) = 2) AS yy
        FROM (SELECT ${v} AS v FROM ${values}) WHERE regexp_full_match(v, ${sqlString(TIME_PATTERNS.xxy)})`)).getRowObjects()[0]!
    if (row.first12 !== null) summary.firstOver12 = String(row.first12)
    if (row.second12 !== null) summary.secondOver12 = String(row.second12)
    if (row.yy !== null) summary.twoDigitYear = String(row.yy)
  }
  const formatOption = csvOptionName(options, 'dateFormat')
  const format = decideTimeFormat(summary, { field: options.field, formatOption, ...(options.dateFormat === undefined ? {} : { dateFormat: parseDateFormat(options.dateFormat, formatOption) }) })
  if (format.kind === 'none') return { expression: 'NULL::DOUBLE', from: (r) => r }
  if (format.kind === 'epoch') {
    const unit = await epochUnit('', false, { name, type: 'VARCHAR' }, options.stepMs, values)
    const x = `CAST(${v} AS DOUBLE)`
    const ms = unit === 's' ? `${x} * 1000` : unit === 'ms' ? x : unit === 'us' ? `${x} / 1000` : `${x} / 1000000`
    // TIME_PATTERNS.epoch by shape: digits, at most one '.' between digits, an optional leading '-'.
    const shape = `ltrim(translate(${v}, '0123456789', '0000000000'), '-')`
    const epoch = `(regexp_full_match(${shape}, '0+(\\.0+)?') AND NOT starts_with(${v}, '--'))`
    return { expression: `CASE WHEN ${epoch} THEN ${ms} END`, from: (r) => r }
  }
  // ISO without offset, seconds and fraction (the common case): DuckDB's own cast to TIMESTAMP (no zone:
  // read as UTC), hours ≥ 24 excluded (DuckDB reads 24:00 as the next day). Everything else: dateSql.
  const pattern = format.format.order === 'YMD' ? (format.format.basic === true ? TIME_PATTERNS.basic : TIME_PATTERNS.ymd) : TIME_PATTERNS.xxy
  const fast = format.format.order === 'YMD'
    ? `(translate(${v}, '0123456789', '0000000000') IN ('0000-00-00', '0000-00-00T00:00:00', '0000-00-00 00:00:00', '0000-00-00T00:00', '0000-00-00 00:00') AND (length(${v}) = 10 OR substr(${v}, 12, 2) < '24'))`
    : 'false'
  return {
    expression: `CASE WHEN __fast THEN epoch_ms(TRY_CAST(${v} AS TIMESTAMP))::DOUBLE ELSE ${dateSql(format.format)} END`,
    from: (r) => `(SELECT *, CASE WHEN __fast THEN NULL ELSE regexp_extract(${v}, ${sqlString(pattern)}, ['a', 'b', 'c', 'h', 'mi', 's', 'f', 'z']) END AS __g FROM (SELECT *, ${fast} AS __fast FROM ${r}))`,
  }
}

/** parseDateWith in SQL over the matched fields __g (all '' when the value did not match). */
function dateSql(format: DateFormat): string {
  const int = (x: string, fallback = 'NULL') => `coalesce(TRY_CAST(NULLIF(${x}, '') AS INTEGER), ${fallback})`
  const [yf, mf, df] = format.order === 'YMD' ? ['__g.a', '__g.b', '__g.c'] : format.order === 'DMY' ? ['__g.c', '__g.b', '__g.a'] : ['__g.c', '__g.a', '__g.b']
  const y = format.yearDigits === 2 ? `(${int(yf)} + CASE WHEN ${int(yf)} >= 69 THEN 1900 ELSE 2000 END)` : int(yf)
  const m = int(mf)
  const d = int(df)
  const [h, mi, s] = [int('__g.h', '0'), int('__g.mi', '0'), int('__g.s', '0')]
  const frac = `CASE WHEN __g.f = '' THEN 0 ELSE CAST(rpad(left(__g.f, 3), 3, '0') AS INTEGER) END`
  const digits = `replace(substr(__g.z, 2), ':', '')`
  const offH = `TRY_CAST(left(${digits}, 2) AS INTEGER)`
  const offM = `CASE WHEN length(${digits}) > 2 THEN TRY_CAST(substr(${digits}, 3) AS INTEGER) ELSE 0 END`
  const zoned = `__g.z <> '' AND lower(__g.z) NOT IN ('z', 'utc')`
  const offset = `CASE WHEN ${zoned} THEN (CASE WHEN left(__g.z, 1) = '-' THEN -1 ELSE 1 END) * (${offH} * 60 + ${offM}) ELSE 0 END`
  const dim = `CASE WHEN ${m} = 2 THEN CASE WHEN ${y} % 4 = 0 AND (${y} % 100 <> 0 OR ${y} % 400 = 0) THEN 29 ELSE 28 END WHEN ${m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END`
  const yearLength = format.order === 'YMD' ? 'false' : `length(${yf}) <> ${format.yearDigits}`
  return `CASE WHEN __g.a IS NULL OR __g.a = '' OR ${yearLength} OR ${m} < 1 OR ${m} > 12 OR ${d} < 1 OR ${d} > ${dim} OR ${h} > 23 OR ${mi} > 59 OR ${s} > 59
    OR (${zoned} AND (${offH} > 23 OR ${offM} > 59)) THEN NULL
    ELSE epoch_ms(make_timestamp(${y}, ${m}, ${d}, ${h}, ${mi}, ${s}))::DOUBLE + ${frac} - (${offset}) * 60000 END`
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
  const glob = join(globLiteral(root), '*', '*', '*', '*.parquet')
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
