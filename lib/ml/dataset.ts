// Datasets for models: feature columns and a label, aligned on the bars, rows with any NaN dropped,
// stored row-major in one Float64Array. Each row keeps its original bar index and the last row its label
// looks at (`labelEnd`, in dataset rows), which is what the purged splitters need.

import { ConfigError } from '../core/index.js'

export interface Dataset {
  /** Feature names, in column order. */
  columns: string[]
  rows: number
  /** rows × columns, row-major. */
  X: Float64Array
  y: Float64Array
  /** The bar (original row) each dataset row came from. */
  index: Int32Array
  /** Bar times of the rows, when given. */
  time?: Float64Array
  /** The last dataset row whose bar the row's label uses (≥ the row itself). */
  labelEnd: Int32Array
}

export interface DatasetOptions {
  features: Readonly<Record<string, ArrayLike<number>>>
  label: ArrayLike<number>
  /** Bars the label looks ahead (e.g. 5 for a 5-bar forward return), or one value per bar. Default 0. */
  horizon?: number | ArrayLike<number>
  time?: ArrayLike<number>
}

/** Align features and label, drop rows with a NaN anywhere, and map label windows onto dataset rows. */
export function makeDataset(options: DatasetOptions): Dataset {
  const columns = Object.keys(options.features)
  if (columns.length === 0) throw new ConfigError('makeDataset needs at least one feature column')
  const n = options.label.length
  for (const c of columns) {
    if (options.features[c]!.length !== n) throw new ConfigError(`feature ${c} has ${options.features[c]!.length} rows; the label has ${n}`)
  }
  if (options.time !== undefined && options.time.length !== n) throw new ConfigError(`time has ${options.time.length} rows; the label has ${n}`)
  const horizon = (i: number): number => {
    const h = typeof options.horizon === 'number' || options.horizon === undefined ? (options.horizon ?? 0) : options.horizon[i]!
    if (!Number.isInteger(h) || h < 0) throw new ConfigError(`horizon${typeof options.horizon === 'object' ? `[${i}]` : ''} must be an integer ≥ 0 (received ${h})`)
    return h
  }
  if (typeof options.horizon === 'object' && options.horizon.length !== n) throw new ConfigError(`horizon has ${options.horizon.length} entries; the label has ${n}`)
  const keep: number[] = []
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(options.label[i]!)) continue
    let ok = true
    for (const c of columns) if (Number.isNaN(options.features[c]![i]!)) ok = false
    if (ok) keep.push(i)
  }
  const rows = keep.length
  const X = new Float64Array(rows * columns.length)
  const y = new Float64Array(rows)
  const index = Int32Array.from(keep)
  for (let r = 0; r < rows; r++) {
    const i = keep[r]!
    y[r] = options.label[i]!
    for (let c = 0; c < columns.length; c++) X[r * columns.length + c] = options.features[columns[c]!]![i]!
  }
  // A label ending at bar e ends, in dataset rows, at the last row whose bar is ≤ e: windows that
  // overlap (or not) in bars overlap (or not) in rows. Per row by binary search: with a horizon per
  // bar (triple-barrier exits) the ends need not be in order.
  const labelEnd = new Int32Array(rows)
  for (let r = 0; r < rows; r++) {
    const e = keep[r]! + horizon(keep[r]!)
    let lo = r
    let hi = rows - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (keep[mid]! <= e) lo = mid
      else hi = mid - 1
    }
    labelEnd[r] = lo
  }
  const out: Dataset = { columns, rows, X, y, index, labelEnd }
  if (options.time !== undefined) out.time = Float64Array.from(keep, (i) => options.time![i]!)
  return out
}

/** The rows given (e.g. a split's train or test indices) as a dataset of their own. */
export function takeRows(ds: Dataset, rows: ArrayLike<number>): Dataset {
  const m = ds.columns.length
  const X = new Float64Array(rows.length * m)
  const y = new Float64Array(rows.length)
  const index = new Int32Array(rows.length)
  const labelEnd = new Int32Array(rows.length)
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!
    if (!Number.isInteger(r) || r < 0 || r >= ds.rows) throw new ConfigError(`row ${r} is outside the dataset (0…${ds.rows - 1})`)
    X.set(ds.X.subarray(r * m, (r + 1) * m), k * m)
    y[k] = ds.y[r]!
    index[k] = ds.index[r]!
    labelEnd[k] = k // windows beyond the subset's own rows are meaningless once taken apart
  }
  const out: Dataset = { columns: ds.columns, rows: rows.length, X, y, index, labelEnd }
  if (ds.time !== undefined) out.time = Float64Array.from(rows, (r) => ds.time![r]!)
  return out
}

/** One feature column as an array. */
export function column(ds: Dataset, name: string): Float64Array {
  const c = ds.columns.indexOf(name)
  if (c < 0) throw new ConfigError(`no feature ${JSON.stringify(name)} (features: ${ds.columns.join(', ')})`)
  const out = new Float64Array(ds.rows)
  for (let r = 0; r < ds.rows; r++) out[r] = ds.X[r * ds.columns.length + c]!
  return out
}
