// The market-data lake: Parquet under MTFLOW_HOME/lake/bars, one file per (source, symbol, timeframe,
// period) — a month for intraday timeframes, a year for daily and weekly ones — in the dataset's
// current generation (generations.ts; writes in lake-write.ts). Readers never lock: they see the whole
// dataset before an import or the whole dataset after it.

import { createHash } from 'node:crypto'
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { checkCanonicalTimeframe, DataError, NotFoundError, sha256, timeframeMs, toIsoDate, writeFileAtomic } from '../core/index.js'
import { checkBars, lowerBound, toEpochMs, type Bars } from './bars.js'
import { emptyBars } from './convert.js'
import { duckdb, queryDoubles, sqlFile } from './duckdb.js'
import { deferredFileSource, openPlainParquet, parquetFooterLength } from './parquet-plain.js'
import { currentFiles, currentGeneration, datasetDir, datasets, lakeDir, periodOfFile, type DatasetKey } from './generations.js'

export { datasetDir, lakeDir, type DatasetKey } from './generations.js'

export const DEFAULT_SOURCE = 'local'

/** Bar times the lake holds: 1970-01-01 up to the end of 2200 (epoch ms; others are quarantined as bad_time). */
export const LAKE_FIRST_MS = 0
export const LAKE_END_MS = Date.UTC(2201, 0, 1)

/**
 * The period of a bar time: "2024-03" for intraday timeframes, "2024" for 1d and longer. Only times
 * the lake can hold have one: a 5-digit or negative year would make a name ("+055969") that sorts and
 * collides wrongly.
 */
export function periodOf(ms: number, timeframe: string): string {
  if (!(ms >= LAKE_FIRST_MS && ms < LAKE_END_MS)) {
    throw new DataError(`time ${ms} is outside the lake's range 1970-01-01 … 2200-12-31 (epoch ms expected)`)
  }
  const iso = new Date(ms).toISOString()
  return timeframeMs(timeframe) >= 86_400_000 ? iso.slice(0, 4) : iso.slice(0, 7)
}

export function partitionIn(dir: string, period: string): string {
  return join(dir, `period=${period}`, 'data.parquet')
}

/** The partition files of a dataset's current generation, in time order (periods sort as text). */
export function partitionFiles(home: string, key: DatasetKey): string[] {
  return currentFiles(datasetDir(home, key)).files
}

/**
 * Run a read over the current generation's partition files (those `pick` keeps), the same generation
 * throughout: when a file went missing or changed during the read (a writer switched generations and
 * removed an old one), the pointer is read again and the read retried.
 */
export async function readCurrent<T>(
  home: string,
  key: DatasetKey,
  pick: (files: string[]) => string[],
  read: (files: string[]) => Promise<T>,
  attempts = 8,
  onRead?: (files: readonly string[], versions: readonly string[]) => void,
): Promise<T> {
  const dataset = datasetDir(home, key)
  for (let attempt = 1; ; attempt++) {
    const generation = currentFiles(dataset)
    const files = pick(generation.files)
    const before = files.map(fileVersion)
    let failure: unknown
    try {
      const result = await read(files)
      if (files.every((f, i) => fileVersion(f) === before[i])) {
        onRead?.(files, before)
        return result
      }
    } catch (error) {
      failure = error
      if (files.every((f, i) => fileVersion(f) === before[i]) && currentGeneration(dataset).generation === generation.generation) throw error
    }
    if (attempt >= attempts) {
      throw failure ?? new DataError(`the lake files of ${key.source}/${key.symbol}/${key.timeframe} kept changing while being read (${files.length} files); try again`)
    }
    // A writer switching generations back to back: a moment before the next attempt (2, 4, … 128 ms), so eight
    // attempts span ~¼ s rather than eight reads in a row that each met a switch (a reader racing ten imports lost
    // all eight on a loaded machine).
    await new Promise((resolve) => setTimeout(resolve, 2 ** Math.min(attempt, 7)))
  }
}

export interface PeriodRange {
  period: string
  /** [from, to) in epoch ms */
  from: number
  to: number
}

/** The calendar months (intraday timeframes) or years (1d and longer) between two times. */
export function periodRanges(first: number, last: number, timeframe: string): PeriodRange[] {
  const yearly = timeframeMs(timeframe) >= 86_400_000
  const out: PeriodRange[] = []
  const d = new Date(first)
  let year = d.getUTCFullYear()
  let month = yearly ? 0 : d.getUTCMonth()
  for (;;) {
    const from = Date.UTC(year, month, 1)
    if (from > last) break
    const to = yearly ? Date.UTC(year + 1, 0, 1) : Date.UTC(year, month + 1, 1)
    out.push({ period: periodOf(from, timeframe), from, to })
    if (yearly) year++
    else if (++month === 12) {
      month = 0
      year++
    }
  }
  return out
}

const COLUMNS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const
type Columns = Record<(typeof COLUMNS)[number], Float64Array>

export interface BarsQuery {
  /** Default "local"; when omitted and only one source holds the symbol, that one. */
  source?: string
  symbol: string
  timeframe: string
  start?: number | string | Date
  end?: number | string | Date
}

/** Resolve the source of a query: as given, or the only source that holds the symbol and timeframe. */
export function resolveKey(home: string, query: BarsQuery): DatasetKey {
  timeframeMs(query.timeframe)
  const keys = listKeys(home)
  // A dataset kept under another form of the timeframe (60m, imported before forms were checked) is still read
  // by that form; asked by the other form, the answer names it.
  if (!keys.some((k) => k.symbol === query.symbol && k.timeframe === query.timeframe)) {
    const same = keys.find((k) => k.symbol === query.symbol && k.timeframe !== query.timeframe && timeframeMs(k.timeframe) === timeframeMs(query.timeframe))
    if (same !== undefined) throw new NotFoundError(`no bars for ${query.symbol} ${query.timeframe} in the lake; it holds ${query.symbol} under ${same.timeframe} (the same bars written another way): give ${same.timeframe}, or import them again as ${query.timeframe}`)
    checkCanonicalTimeframe(query.timeframe)
  }
  if (query.source !== undefined) return { source: query.source, symbol: query.symbol, timeframe: query.timeframe }
  const sources = keys.filter((k) => k.symbol === query.symbol && k.timeframe === query.timeframe)
  if (sources.length === 1) return sources[0]!
  if (sources.length === 0) throw new NotFoundError(`no bars for ${query.symbol} ${query.timeframe} in the lake (see: mtflow data list)`)
  throw new DataError(`${query.symbol} ${query.timeframe} is in several sources (${sources.map((s) => s.source).join(', ')}); say which (--source on the command line, source in code)`)
}

/**
 * Why a query that names its source finds no bars there — "no bars for SPX 1d in source nope (--source sample
 * holds them)" — or undefined when that source holds its symbol and timeframe (or none is named).
 */
export function missingSource(home: string, query: Pick<BarsQuery, 'symbol' | 'timeframe' | 'source'>): string | undefined {
  if (query.source === undefined) return undefined
  const holding = listKeys(home).filter((k) => k.symbol === query.symbol && k.timeframe === query.timeframe).map((k) => k.source)
  if (holding.includes(query.source)) return undefined
  return `no bars for ${query.symbol} ${query.timeframe} in source ${query.source} (${holding.length === 0 ? 'no source holds them: see mtflow data list' : `--source ${holding.join(' or ')} holds them`})`
}

/** The bars a query selects, read with DuckDB from the partitions that can hold them. */
export async function loadBars(home: string, query: BarsQuery): Promise<Bars> {
  return (await readBars(home, query)).bars
}

/**
 * loadBars with the bars' snapshot id (barsHash), taken as they were read — before anyone can change
 * them. The id is remembered per dataset under MTFLOW_HOME/lake/.snapshots, keyed by the exact partition files read
 * (path, inode, size, mtime, ctime: a writer replaces a file, never rewrites it) and the rows cut from
 * them, so reading the same files again costs no hash over the bars; any other files hash afresh.
 */
export async function loadBarsWithSnapshot(home: string, query: BarsQuery): Promise<{ bars: Bars; snapshot: string }> {
  const { bars, key, read } = await readBars(home, query)
  if (read === undefined || read.files.length === 0) return { bars, snapshot: barsHash(bars, key.source) }
  const dataset = datasetDir(home, key)
  const id = JSON.stringify({ v: 1, source: key.source, symbol: key.symbol, timeframe: key.timeframe, files: read.files.map((f, i) => [relative(dataset, f), read.versions[i]]), from: read.from, to: read.to })
  const file = join(snapshotCacheDir(home), `${sha256(dataset).slice(0, 32)}.json`)
  const entries = readSnapshotCache(file)
  const known = entries.find((e) => e.id === id)
  if (known !== undefined) return { bars, snapshot: known.snapshot }
  const snapshot = barsHash(bars, key.source)
  try {
    writeFileAtomic(file, JSON.stringify({ entries: [{ id, snapshot }, ...entries.filter((e) => e.id !== id)].slice(0, SNAPSHOT_CACHE_ENTRIES) }))
  } catch {
    // A read-only lake: the id is computed again next time.
  }
  return { bars, snapshot }
}

/** Where loadBarsWithSnapshot remembers snapshot ids: MTFLOW_HOME/lake/.snapshots, one small JSON file per dataset. */
export function snapshotCacheDir(home: string): string {
  return join(home, 'lake', '.snapshots')
}

/** Snapshot ids remembered per dataset (the newest first). */
const SNAPSHOT_CACHE_ENTRIES = 32

function readSnapshotCache(file: string): { id: string; snapshot: string }[] {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { entries?: unknown }
    if (!Array.isArray(parsed.entries)) return []
    return parsed.entries.filter((e): e is { id: string; snapshot: string } => typeof e?.id === 'string' && typeof e?.snapshot === 'string' && /^[0-9a-f]{64}$/.test(e.snapshot))
  } catch {
    return []
  }
}

async function readBars(home: string, query: BarsQuery): Promise<{ bars: Bars; key: DatasetKey; read?: { files: readonly string[]; versions: readonly string[]; from: number; to: number } }> {
  const key = resolveKey(home, query)
  const start = query.start === undefined ? -Infinity : toEpochMs(query.start, 'start (--start)')
  const end = query.end === undefined ? Infinity : toEpochMs(query.end, 'end (--end)', true)
  // As sliceBars says it: a window that ends before it starts is a mistake, not an empty answer (an audit).
  if (start > end) throw new DataError(`start ${String(query.start)} is after end ${String(query.end)}`)
  // A bound outside the lake's range selects from its first or up to its last partition.
  const first = start >= LAKE_FIRST_MS && start < LAKE_END_MS ? periodOf(start, key.timeframe) : start < LAKE_FIRST_MS ? '' : '\uffff'
  const last = end >= LAKE_FIRST_MS && end < LAKE_END_MS ? periodOf(end, key.timeframe) : end < LAKE_FIRST_MS ? '' : '\uffff'
  const pick = (files: string[]) => files.filter((file) => {
    const period = periodOfFile(file)
    return period >= first && period <= last
  })
  // Whole partitions of one generation decoded straight into the result's columns (again if a writer
  // switched generations and removed this one meanwhile), then the time range cut by binary search.
  let used: { files: readonly string[]; versions: readonly string[] } | undefined
  const all = await readCurrent(home, key, pick, (files) => (files.length === 0 ? Promise.resolve(emptyBars(key)) : readPartitions(files, key)), undefined, (files, versions) => {
    used = { files, versions }
  })
  if (all.time.length === 0) return { bars: all, key }
  const total = all.time.length
  const from = Number.isFinite(start) ? lowerBound(all.time, start) : 0
  const to = Number.isFinite(end) ? lowerBound(all.time, end, true) : total
  const bars = from === 0 && to === total ? all : emptyBars(key, Math.max(0, to - from))
  if (bars !== all) for (const name of COLUMNS) bars[name].set(all[name].subarray(from, Math.max(from, to)))
  checkBars(bars)
  return { bars, key, ...(used === undefined ? {} : { read: { ...used, from, to: Math.max(from, to) } }) }
}

/** Partition files read at once by readPartitions: enough to keep the thread pool busy, few fds. */
const PARTITIONS_IN_FLIGHT = 8

interface OpenPartition {
  rows: number
  readInto(target: Columns, offset: number): Promise<void>
}

async function readPartitions(files: string[], key: DatasetKey): Promise<Bars> {
  const parts: OpenPartition[] = []
  for (const file of files) parts.push(await openPartition(file))
  const all = emptyBars(key, parts.reduce((n, p) => n + p.rows, 0))
  const offsets: number[] = []
  let offset = 0
  for (const part of parts) {
    offsets.push(offset)
    offset += part.rows
  }
  // Side by side: the plain files' pages are read by the thread pool while this thread walks the next
  // file's, at most PARTITIONS_IN_FLIGHT files (and fds) at a time; DuckDB, for a file it must read, one
  // statement at a time (oneAtATime).
  let next = 0
  let failed = false
  const lane = async (): Promise<void> => {
    while (!failed && next < parts.length) {
      const k = next++
      try {
        await parts[k]!.readInto(all, offsets[k]!)
      } catch (error) {
        failed = true // the other lanes take no further file
        throw error
      }
    }
  }
  // Every lane ends (its file closed) before a failure is reported: a retry never overlaps this read.
  const ended = await Promise.allSettled(Array.from({ length: Math.min(PARTITIONS_IN_FLIGHT, parts.length) }, lane))
  for (const r of ended) if (r.status === 'rejected') throw r.reason
  return all
}

/**
 * One partition file, for reading into columns at an offset: directly when it is in the lake's own
 * plain layout (its footer now, its pages later; loadBars' readCurrent retries when a writer removed
 * the file in between), otherwise by DuckDB.
 */
async function openPartition(file: string): Promise<OpenPartition> {
  const viaDuckdb = (): Promise<Columns> =>
    oneAtATime(async () => {
      const conn = await duckdb()
      const sql = `SELECT epoch_ms(time)::DOUBLE, open, high, low, close, coalesce(volume, 'NaN'::DOUBLE) FROM read_parquet(${sqlFile(file)}, hive_partitioning = false)`
      return (await queryDoubles(conn, sql, COLUMNS)) as Columns
    })
  const copy = (columns: Columns, target: Columns, offset: number) => {
    for (const name of COLUMNS) target[name].set(columns[name], offset)
  }
  const { size, footer } = readFooter(file)
  const plain = openPlainParquet(file, footer, size, COLUMNS)
  if (plain === undefined) {
    const columns = await viaDuckdb()
    return { rows: columns.time.length, readInto: async (target, offset) => copy(columns, target, offset) }
  }
  return {
    rows: plain.rows,
    async readInto(target, offset) {
      const fd = openSync(file, 'r')
      let ok: boolean
      try {
        // The pages are walked here; their values are read by the thread pool (see deferredFileSource).
        const source = deferredFileSource(fd, size)
        ok = plain.readInto(source, target, offset) && (await source.flush())
      } finally {
        closeSync(fd)
      }
      if (ok) return
      // A page outside the plain layout: DuckDB reads the file.
      const columns = await viaDuckdb()
      if (columns.time.length !== plain.rows) throw new DataError(`${file} changed while being read`)
      copy(columns, target, offset)
    },
  }
}

/** The partitions' DuckDB reads, one statement at a time on the shared connection (plain reads run side by side). */
let duckdbTurn: Promise<unknown> = Promise.resolve()
function oneAtATime<T>(task: () => Promise<T>): Promise<T> {
  const run = duckdbTurn.then(task)
  duckdbTurn = run.catch(() => undefined)
  return run
}

/**
 * The current generations' partition files that are not whole Parquet files (cut short, no PAR1 marker, a
 * footer that does not decode): every read of their dataset fails on them, yet doctor said "no problems
 * found" (a lake audit). Listed for `mtflow doctor`; a pointer that cannot be followed is lakePointerProblems'.
 */
export function lakeFileProblems(home: string): { path: string; error: string }[] {
  const out: { path: string; error: string }[] = []
  for (const dataset of datasets(home)) {
    // Listed again when a writer switched generations meanwhile (it may have removed the one listed: its
    // files gone is not damage), as readers do.
    for (let attempt = 1; ; attempt++) {
      let listed: { generation: number; files: string[] }
      try {
        listed = currentFiles(dataset)
      } catch (error) {
        if (error instanceof DataError) break
        throw error
      }
      const found: { path: string; error: string }[] = []
      for (const file of listed.files) {
        try {
          const { size, footer } = readFooter(file)
          if (!startsWithMagic(file)) throw new DataError(`${file} is not a Parquet file (no PAR1 marker at its start)`)
          openPlainParquet(file, footer, size, COLUMNS)
        } catch (error) {
          // Any failure reading a file's head and footer is that file's damage (a footer of the wrong shape
          // is a TypeError, a data.parquet that is a folder EISDIR): a finding, never doctor's crash.
          found.push({ path: file, error: error instanceof DataError ? error.message : `${file} cannot be read as Parquet (${String((error as Error).message ?? error)})` })
        }
      }
      let moved = false
      try {
        moved = found.length > 0 && attempt < 5 && currentGeneration(dataset).generation !== listed.generation
      } catch {
        /* the pointer is lakePointerProblems' */
      }
      if (moved) continue
      out.push(...found)
      break
    }
  }
  return out
}

function startsWithMagic(file: string): boolean {
  const head = Buffer.alloc(4)
  const fd = openSync(file, 'r')
  try {
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === 'PAR1'
  } finally {
    closeSync(fd)
  }
}

/** The size of a file and its last bytes, enough to hold its Parquet footer. */
function readFooter(file: string): { size: number; footer: Buffer } {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (cause) {
    throw new DataError(`cannot read ${file}: ${(cause as Error).message}`, { cause })
  }
  try {
    const stat = fstatSync(fd)
    const readTail = (n: number) => {
      const tail = Buffer.alloc(Math.min(n, stat.size))
      readSync(fd, tail, 0, tail.length, stat.size - tail.length)
      return tail
    }
    let footer = readTail(64 * 1024)
    const length = parquetFooterLength(file, footer, stat.size)
    if (length > footer.length) footer = readTail(length)
    return { size: stat.size, footer }
  } finally {
    closeSync(fd)
  }
}

/** (inode, size, mtime, ctime) of a file: changes whenever a writer replaces it. */
function fileVersion(file: string): string {
  try {
    const s = statSync(file)
    return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`
  } catch {
    return 'missing'
  }
}

/**
 * Run a read of partition files and retry it if a writer replaced any of them meanwhile. A replaced
 * file is a new inode at the same path; DuckDB opens a file more than once during a scan, so a read
 * that spans a replacement could mix two versions. Comparing (inode, size, mtime) before and after
 * makes every returned read one consistent version of each file.
 */
export async function stableRead<T>(files: readonly string[], read: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const before = files.map(fileVersion)
    try {
      const result = await read()
      if (files.every((f, i) => fileVersion(f) === before[i])) return result
    } catch (error) {
      if (files.every((f, i) => fileVersion(f) === before[i]) || attempt >= attempts) throw error
    }
    if (attempt >= attempts) throw new DataError(`the lake files kept changing while being read (${files.length} files); try again`)
  }
}

/** Every (source, symbol, timeframe) in the lake. */
export function listKeys(home: string): DatasetKey[] {
  const root = lakeDir(home)
  if (!existsSync(root)) return []
  const keys: DatasetKey[] = []
  for (const s of readdirSync(root).filter((n) => n.startsWith('source='))) {
    for (const y of readdirSync(join(root, s)).filter((n) => n.startsWith('symbol='))) {
      for (const t of readdirSync(join(root, s, y)).filter((n) => n.startsWith('timeframe='))) {
        const key = { source: decodeURIComponent(s.slice(7)), symbol: decodeURIComponent(y.slice(7)), timeframe: t.slice(10) }
        if (partitionFiles(home, key).length > 0) keys.push(key)
      }
    }
  }
  return keys
}

export interface DatasetInfo extends DatasetKey {
  first: string
  last: string
  rows: number
  /** Intervals longer than one timeframe step between consecutive bars. */
  gaps: number
  /** Bars missing inside those gaps, counted on the timeframe grid. */
  missing: number
  largestGap: { from: string; to: string } | null
  bytes: number
}

/** Coverage of every dataset: first and last bar, rows, gaps. */
export async function listDatasets(home: string): Promise<DatasetInfo[]> {
  const conn = await duckdb()
  const out: DatasetInfo[] = []
  for (const key of listKeys(home)) {
    const { row, bytes } = await readCurrent(home, key, (files) => files, async (files) => {
      if (files.length === 0) return { row: undefined, bytes: 0 }
      const bars = `(SELECT epoch_ms(time)::DOUBLE AS t FROM read_parquet([${files.map(sqlFile).join(', ')}], hive_partitioning = false))`
      const size = files.reduce((sum, f) => sum + statSync(f).size, 0)
      return { row: (await conn.runAndReadAll(gapStatsSql(bars, key.timeframe))).getRowObjects()[0]!, bytes: size }
    })
    if (row === undefined) continue // emptied since listKeys looked
    // One form per dataset: dates for daily and longer bars, times for intraday ones (midnight too: "2022-03-01"
    // beside "2022-03-02T23:00:00Z" read as two kinds of value, a new-user check).
    const intraday = timeframeMs(key.timeframe) < 86_400_000
    const at = (ms: number) => (intraday ? `${new Date(ms).toISOString().slice(0, 19)}Z` : toIsoDate(ms))
    out.push({
      ...key,
      first: at(Number(row.first)),
      last: at(Number(row.last)),
      rows: Number(row.rows),
      gaps: Number(row.gaps),
      missing: Number(row.missing),
      largestGap: row.gap_from === null ? null : { from: at(Number(row.gap_from)), to: at(Number(row.gap_to)) },
      bytes,
    })
  }
  return out
}

/**
 * Coverage and gaps of a relation with a column t (epoch ms): first, last, rows, repeats (rows whose
 * time equals the previous row's), gaps (consecutive bars further apart than one step), missing (bars
 * absent inside gaps) and the largest gap.
 * Daily data with no bar on any Saturday or Sunday is a weekday market: weekends are not gaps there,
 * only missing weekdays count (so an exchange holiday is one missing bar, a weekend none).
 */
export function gapStatsSql(relation: string, timeframe: string): string {
  const step = timeframeMs(timeframe)
  const day = 86_400_000
  // Weekdays before day index m, counting from Monday 1969-12-29 (epoch day 0 is a Thursday: m = d + 3).
  const weekdaysBefore = (ms: string) => `(floor((${ms} / ${day} + 3) / 7) * 5 + least(((((${ms} / ${day} + 3) % 7) + 7) % 7), 5))`
  return `WITH b AS (SELECT t FROM ${relation}),
    kind AS (SELECT ${timeframe === '1d' ? `count(*) FILTER (WHERE dayofweek(make_timestamp((t * 1000)::BIGINT)) IN (0, 6)) = 0 AS weekdays FROM b` : 'false AS weekdays'}),
    d AS (SELECT t, lag(t) OVER (ORDER BY t) AS p FROM b),
    g AS (SELECT t, p, CASE WHEN (SELECT weekdays FROM kind) THEN ${weekdaysBefore('t')} - ${weekdaysBefore(`(p + ${day})`)}
                            ELSE round((t - p) / ${step}) - 1 END AS missing FROM d)
    SELECT min(t) AS first, max(t) AS last, count(*) AS rows,
           count(*) FILTER (WHERE t = p) AS repeats,
           count(*) FILTER (WHERE missing > 0) AS gaps,
           coalesce(sum(missing) FILTER (WHERE missing > 0), 0) AS missing,
           median(t - p) FILTER (WHERE t > p) AS step,
           arg_max(p, missing) FILTER (WHERE missing > 0) AS gap_from,
           arg_max(t, missing) FILTER (WHERE missing > 0) AS gap_to
    FROM g`
}

/**
 * A content hash of exactly the bars a query returns: sha256 over the dataset key and the bytes of the
 * six Float64 columns. The same bars give the same id however the lake stores them.
 */
export async function snapshotId(home: string, query: BarsQuery): Promise<string> {
  return (await loadBarsWithSnapshot(home, query)).snapshot
}

export function barsHash(bars: Bars, source: string): string {
  // Column by column into the hash: the same id as over the concatenated bytes, without copying them.
  const hash = createHash('sha256').update(JSON.stringify({ source, symbol: bars.symbol, timeframe: bars.timeframe, rows: bars.time.length }))
  for (const f of ['time', 'open', 'high', 'low', 'close', 'volume'] as const) hash.update(new Uint8Array(bars[f].buffer, bars[f].byteOffset, bars[f].byteLength))
  return hash.digest('hex')
}

