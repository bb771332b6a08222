// Data drift per column and per dataset with Evidently's defaults (its DataDriftPreset): a numeric column
// against a reference of ≤ 1,000 rows is tested with two-sample KS (drift when p < 0.05), against a larger
// one with the Wasserstein-1 distance over the reference's standard deviation (drift when ≥ 0.1); columns of
// ≤ 5 distinct values are tested as categories (chi-square, or a two-proportion z-test for two values, when
// the reference is small; Jensen–Shannon distance ≥ 0.1 when it is large); the dataset drifts when ≥ 50 %
// of its columns do. The statistics themselves are lib/stats/drift.ts (checked against SciPy).

import { extname } from 'node:path'
import { ConfigError, DataError, readTextFile, splitCsvLine } from '../core/index.js'
import { readTable } from '../data/index.js'
import { binnedShares, chiSquare, distinctSorted, floorZeroShares, jensenShannon, ksSorted, proportionZTest, psiOfShares, sortFinite, wassersteinSorted } from '../stats/index.js'

export type DriftMethod = 'ks' | 'wasserstein' | 'psi' | 'js' | 'chisquare' | 'ztest'
export const DRIFT_METHODS: readonly DriftMethod[] = ['ks', 'wasserstein', 'psi', 'js', 'chisquare', 'ztest']

/** Evidently's default thresholds: p-values below 0.05 for the tests, distances from 0.1 up. */
export const DEFAULT_THRESHOLDS: Readonly<Record<DriftMethod, number>> = { ks: 0.05, chisquare: 0.05, ztest: 0.05, wasserstein: 0.1, psi: 0.1, js: 0.1 }

/** Methods whose score is a p-value (drift when below the threshold); the others are distances (drift from the threshold up). */
const P_VALUE: ReadonlySet<DriftMethod> = new Set(['ks', 'chisquare', 'ztest'])
const NUMERIC_ONLY: ReadonlySet<DriftMethod> = new Set(['ks', 'wasserstein'])

/** A column as tables hold it: numbers (NaN = missing), text, or flags. */
export type DriftColumnValues = ArrayLike<number> | readonly string[] | readonly boolean[]
export type DriftTable = Readonly<Record<string, DriftColumnValues>>

/** A reference column made ready once (sorted, its spread known) and compared with many current windows. */
export type PreparedColumn = { kind: 'numeric'; sorted: Float64Array; rows: number; /** Population standard deviation, computed when first needed. */ std?: number } | { kind: 'categorical'; counts: Map<string, number>; rows: number }

export interface DriftReference {
  readonly prepared: true
  readonly columns: Readonly<Record<string, PreparedColumn>>
}

export interface ColumnDrift {
  column: string
  kind: 'numeric' | 'categorical'
  method: DriftMethod
  /** The value compared with the threshold: a p-value (ks, chisquare, ztest) or a distance (wasserstein normalised, psi, js). */
  score: number
  /** The test's own statistic where it has one (KS D, χ², z); the distance otherwise. */
  statistic: number
  pValue?: number
  threshold: number
  drifted: boolean
  referenceRows: number
  currentRows: number
}

export interface ColumnDriftOptions {
  /** Name used in results and errors (default "value"). */
  column?: string
  /** Override Evidently's choice. */
  method?: DriftMethod
  /** Override the method's default threshold. */
  threshold?: number
}

export interface DatasetDriftOptions {
  /** Columns to compare (default: every reference column but `time`). */
  columns?: readonly string[]
  method?: DriftMethod
  threshold?: number
  /** Per-column method and threshold, over the options above. */
  perColumn?: Readonly<Record<string, { method?: DriftMethod; threshold?: number }>>
  /** Share of drifted columns from which the dataset drifts (default 0.5, Evidently's drift_share). */
  share?: number
}

export interface DatasetDrift {
  columns: ColumnDrift[]
  driftedColumns: number
  /** driftedColumns / columns compared. */
  share: number
  shareThreshold: number
  datasetDrift: boolean
}

/** A reference column ready for repeated comparisons: its finite values sorted, or its category counts. */
export function prepareColumn(values: DriftColumnValues, name = 'value'): PreparedColumn {
  if (isText(values)) {
    const counts = new Map<string, number>()
    let rows = 0
    for (const v of values as readonly (string | boolean)[]) {
      if (v === '' || v === null || v === undefined) continue
      const key = String(v)
      counts.set(key, (counts.get(key) ?? 0) + 1)
      rows++
    }
    if (rows === 0) throw new DataError(`column ${name} has no values`)
    return { kind: 'categorical', counts, rows }
  }
  const sorted = sortFinite(values as ArrayLike<number>)
  if (sorted.length === 0) throw new DataError(`column ${name} has no finite values`)
  return { kind: 'numeric', sorted, rows: sorted.length }
}

/** Every column of a reference table prepared once (for a monitor comparing windows against it). */
export function prepareReference(table: DriftTable, columns?: readonly string[]): DriftReference {
  const names = columns ?? defaultColumns(table)
  const out: Record<string, PreparedColumn> = {}
  for (const name of names) {
    const values = table[name]
    if (values === undefined) throw new ConfigError(`the reference has no column ${JSON.stringify(name)} (columns: ${Object.keys(table).join(', ')})`)
    const column = prepareColumn(values, name)
    if (column.kind === 'numeric') column.std = populationStd(column.sorted)
    out[name] = column
  }
  return { prepared: true, columns: out }
}

/** Drift of one column: Evidently's method for its type and size unless `options.method` says otherwise. */
export function columnDrift(reference: DriftColumnValues | PreparedColumn, current: DriftColumnValues | PreparedColumn, options: ColumnDriftOptions = {}): ColumnDrift {
  const column = options.column ?? 'value'
  checkMethod(options.method, options.threshold, column)
  const ref = isPrepared(reference) ? reference : prepareColumn(reference, column)
  const cur = isPrepared(current) ? current : prepareColumn(current, column)
  if (ref.kind !== cur.kind) throw new DataError(`column ${column} is ${ref.kind} in the reference but ${cur.kind} in the current data`)
  if (ref.kind === 'numeric' && cur.kind === 'numeric') return numericDrift(ref, cur, column, options)
  return categoricalDrift(ref as Extract<PreparedColumn, { kind: 'categorical' }>, cur as Extract<PreparedColumn, { kind: 'categorical' }>, column, options)
}

/** Drift of every column and of the dataset (drifted when the share of drifted columns ≥ `share`). */
export function datasetDrift(reference: DriftTable | DriftReference, current: DriftTable, options: DatasetDriftOptions = {}): DatasetDrift {
  const shareThreshold = options.share ?? 0.5
  if (!(shareThreshold > 0 && shareThreshold <= 1)) throw new ConfigError(`share must be in (0, 1] (received ${options.share})`)
  checkMethod(options.method, options.threshold, 'the dataset')
  const prepared = isReference(reference) ? reference : undefined
  const names = options.columns ?? (prepared !== undefined ? Object.keys(prepared.columns) : defaultColumns(reference as DriftTable))
  if (names.length === 0) throw new ConfigError('no columns to compare')
  const results: ColumnDrift[] = []
  for (const name of names) {
    const ref = prepared !== undefined ? prepared.columns[name] : (reference as DriftTable)[name]
    if (ref === undefined) throw new ConfigError(`the reference has no column ${JSON.stringify(name)}`)
    const cur = current[name]
    if (cur === undefined) throw new ConfigError(`the current data has no column ${JSON.stringify(name)}`)
    const own = options.perColumn?.[name]
    const method = own?.method ?? options.method
    const threshold = own?.threshold ?? (own?.method === undefined ? options.threshold : undefined)
    results.push(columnDrift(ref, cur, { column: name, ...(method === undefined ? {} : { method }), ...(threshold === undefined ? {} : { threshold }) }))
  }
  const driftedColumns = results.filter((r) => r.drifted).length
  const share = driftedColumns / results.length
  return { columns: results, driftedColumns, share, shareThreshold, datasetDrift: share >= shareThreshold }
}

/**
 * A table from a .csv file (a header line; columns whose every non-empty cell is a number are numbers, empty
 * cells missing; other columns text) or a .parquet file (lib/data readTable). Bad files: one DataError or
 * ConfigError naming the file.
 */
export async function readDriftTable(file: string, what = 'table'): Promise<Record<string, Float64Array | string[] | boolean[]>> {
  const ext = extname(file).toLowerCase()
  if (ext === '.parquet') return (await readTable(file)) as Record<string, Float64Array | string[] | boolean[]>
  if (ext !== '.csv') throw new ConfigError(`${what} ${file} must be a .csv or .parquet file`)
  const text = readTextFile(file, what, 512 * 2 ** 20)
  const lines = text.split(/\r?\n/)
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop()
  if (lines.length === 0) throw new DataError(`${what} ${file} is empty (expected a header line)`)
  const unclosed = (n: number) => () => new DataError(`${what} ${file} line ${n}: a quoted cell is not closed`)
  const header = splitCsvLine(lines[0]!, unclosed(1)).map((h) => h.trim())
  const seen = new Set<string>()
  for (const h of header) {
    if (h === '') throw new DataError(`${what} ${file}: a column has no name in the header`)
    if (seen.has(h)) throw new DataError(`${what} ${file}: column ${JSON.stringify(h.slice(0, 64))} appears twice in the header`)
    seen.add(h)
  }
  const cells: string[][] = header.map(() => [])
  for (let i = 1; i < lines.length; i++) {
    const row = splitCsvLine(lines[i]!, unclosed(i + 1))
    if (row.length !== header.length) throw new DataError(`${what} ${file} line ${i + 1} has ${row.length} cells; the header has ${header.length}`)
    for (let c = 0; c < row.length; c++) cells[c]!.push(row[c]!.trim())
  }
  const out: Record<string, Float64Array | string[]> = {}
  header.forEach((name, c) => {
    const column = cells[c]!
    const numeric = column.every((v) => v === '' || Number.isFinite(Number(v)))
    out[name] = numeric ? Float64Array.from(column, (v) => (v === '' ? NaN : Number(v))) : column
  })
  return out
}

// ---------------------------------------------------------------------------------------------------

function numericDrift(ref: Extract<PreparedColumn, { kind: 'numeric' }>, cur: Extract<PreparedColumn, { kind: 'numeric' }>, column: string, options: ColumnDriftOptions): ColumnDrift {
  let method = options.method
  if (method === undefined) {
    // Evidently counts the distinct values of both samples together.
    const few = distinctUnion(ref.sorted, cur.sorted, 5) <= 5
    if (ref.rows <= 1000) method = few ? (distinctUnion(ref.sorted, cur.sorted, 2) > 2 ? 'chisquare' : 'ztest') : 'ks'
    else method = few ? 'js' : 'wasserstein'
  }
  if (method === 'chisquare' || method === 'ztest') return categoricalDrift(countsOf(ref.sorted), countsOf(cur.sorted), column, { ...options, method }, 'numeric')
  const threshold = options.threshold ?? DEFAULT_THRESHOLDS[method]
  const base = { column, kind: 'numeric' as const, method, threshold, referenceRows: ref.rows, currentRows: cur.rows }
  switch (method) {
    case 'ks': {
      const r = ksSorted(ref.sorted, cur.sorted)
      return { ...base, score: r.pvalue, statistic: r.statistic, pValue: r.pvalue, drifted: !(r.pvalue >= threshold) }
    }
    case 'wasserstein': {
      ref.std ??= populationStd(ref.sorted)
      const value = wassersteinSorted(ref.sorted, cur.sorted) / Math.max(ref.std, 0.001)
      return { ...base, score: value, statistic: value, drifted: !(value < threshold) }
    }
    case 'psi':
    case 'js': {
      const shares = binnedShares(ref.sorted, cur.sorted)
      const value = method === 'psi' ? psiOfShares(floorZeroShares(shares.reference), floorZeroShares(shares.current)) : jensenShannon(shares.reference, shares.current)
      return { ...base, score: value, statistic: value, drifted: !(value < threshold) }
    }
  }
}

function categoricalDrift(ref: Extract<PreparedColumn, { kind: 'categorical' }>, cur: Extract<PreparedColumn, { kind: 'categorical' }>, column: string, options: ColumnDriftOptions, kind: 'numeric' | 'categorical' = 'categorical'): ColumnDrift {
  const keys = [...new Set([...ref.counts.keys(), ...cur.counts.keys()])]
  let method = options.method
  if (method !== undefined && NUMERIC_ONLY.has(method)) throw new ConfigError(`column ${column} is categorical: ${method} needs numbers (use chisquare, ztest, psi or js)`)
  if (method === undefined) method = ref.rows <= 1000 ? (keys.length > 2 ? 'chisquare' : 'ztest') : 'js'
  const threshold = options.threshold ?? DEFAULT_THRESHOLDS[method]
  const base = { column, kind, method, threshold, referenceRows: ref.rows, currentRows: cur.rows }
  const r = Float64Array.from(keys, (k) => (ref.counts.get(k) ?? 0) / ref.rows)
  const c = Float64Array.from(keys, (k) => (cur.counts.get(k) ?? 0) / cur.rows)
  switch (method) {
    case 'chisquare': {
      // scipy.stats.chisquare(current counts, reference counts scaled to the current size), as Evidently.
      const observed = keys.map((k) => cur.counts.get(k) ?? 0)
      const expected = keys.map((k) => ((ref.counts.get(k) ?? 0) * cur.rows) / ref.rows)
      const t = keys.length < 2 ? { statistic: 0, pvalue: 1 } : chiSquare(observed, expected)
      return { ...base, score: t.pvalue, statistic: t.statistic, pValue: t.pvalue, drifted: !(t.pvalue >= threshold) }
    }
    case 'ztest': {
      if (keys.length > 2) throw new ConfigError(`column ${column} has ${keys.length} distinct values: ztest compares two (use chisquare)`)
      const first = keys.sort()[0]!
      const t = keys.length < 2 ? { statistic: 0, pvalue: 1 } : proportionZTest(ref.counts.get(first) ?? 0, ref.rows, cur.counts.get(first) ?? 0, cur.rows)
      return { ...base, score: t.pvalue, statistic: t.statistic, pValue: t.pvalue, drifted: !(t.pvalue >= threshold) }
    }
    case 'psi': {
      const value = psiOfShares(floorZeroShares(r), floorZeroShares(c))
      return { ...base, score: value, statistic: value, drifted: !(value < threshold) }
    }
    case 'js': {
      const value = jensenShannon(r, c)
      return { ...base, score: value, statistic: value, drifted: !(value < threshold) }
    }
    default:
      throw new ConfigError(`unknown drift method ${String(method)}`)
  }
}

function checkMethod(method: unknown, threshold: unknown, where: string): void {
  if (method !== undefined && !DRIFT_METHODS.includes(method as DriftMethod)) throw new ConfigError(`drift method for ${where} must be one of ${DRIFT_METHODS.join(', ')} (received ${JSON.stringify(String(method).slice(0, 40))})`)
  if (threshold !== undefined && !(typeof threshold === 'number' && Number.isFinite(threshold) && threshold > 0)) throw new ConfigError(`drift threshold for ${where} must be a number > 0 (received ${String(threshold).slice(0, 40)})`)
}

function isPrepared(v: unknown): v is PreparedColumn {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && 'kind' in v && 'rows' in v
}

function isReference(v: unknown): v is DriftReference {
  return typeof v === 'object' && v !== null && (v as { prepared?: unknown }).prepared === true && typeof (v as { columns?: unknown }).columns === 'object'
}

function isText(values: DriftColumnValues): boolean {
  if (ArrayBuffer.isView(values)) return false
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as unknown
    if (typeof v === 'string' || typeof v === 'boolean') return true
    if (typeof v === 'number') return false
  }
  return false
}

function defaultColumns(table: DriftTable): string[] {
  return Object.keys(table).filter((name) => name !== 'time')
}

function populationStd(sorted: Float64Array): number {
  let mean = 0
  for (const v of sorted) mean += v
  mean /= sorted.length
  let ss = 0
  for (const v of sorted) ss += (v - mean) ** 2
  return Math.sqrt(ss / sorted.length)
}

/** Distinct values of two sorted samples together, counting up to `limit` + 1 at most. */
function distinctUnion(a: Float64Array, b: Float64Array, limit: number): number {
  if (distinctSorted(a, limit) > limit || distinctSorted(b, limit) > limit) return limit + 1
  const seen = new Set<number>()
  for (const s of [a, b]) for (let i = 0; i < s.length; i++) if (i === 0 || s[i] !== s[i - 1]) seen.add(s[i]!)
  return seen.size
}

function countsOf(sorted: Float64Array): Extract<PreparedColumn, { kind: 'categorical' }> {
  const counts = new Map<string, number>()
  for (let i = 0; i < sorted.length; ) {
    let j = i
    while (j < sorted.length && sorted[j] === sorted[i]) j++
    counts.set(String(sorted[i]), j - i)
    i = j
  }
  return { kind: 'categorical', counts, rows: sorted.length }
}
