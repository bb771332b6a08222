// The one interface every mtflow model implements (trees, forests, boosted trees, logistic and ridge
// baselines, routers), and the table that turns a model's JSON back into a model. Models are data:
// `fromJSON` rebuilds them from numbers, never from code.

import { ConfigError } from '../core/index.js'

export interface Matrix {
  /** rows × columns, row-major. */
  X: Float64Array
  rows: number
  columns: string[]
  /** The router's key per row (e.g. the pair); other models ignore it. */
  keys?: ArrayLike<string>
}

/** A matrix with one label (classification) or target (regression) per row. */
export type Labeled = Matrix & { y: ArrayLike<number> }

export type Task = 'classification' | 'regression'

/** What every model's JSON carries; each family adds its own fields. */
export interface ModelJSON {
  /** The family and task, e.g. 'tree-classifier', 'forest-regressor', 'logistic', 'ridge'. */
  type: string
  /** Feature names, in the order the model reads them. */
  columns: string[]
  /** Classifiers: the sorted distinct labels; predictProba's columns follow this order. */
  classes?: number[]
}

export interface Model {
  readonly family: string
  readonly task: Task
  /** Fit on the rows (await it: forests fit across worker threads). Returns the model. */
  fit(data: Labeled): this | Promise<this>
  /** Classifiers: the predicted label per row; regressors: the predicted value. */
  predict(m: Matrix): Float64Array
  /** Classifiers: rows × classes, row-major, in `classes` order. Regressors throw. */
  predictProba(m: Matrix): Float64Array
  /** Per feature, summing to 1 when the model used any feature (impurity- or weight-based). */
  featureImportance(): Record<string, number>
  toJSON(): ModelJSON
}

type FromJSON = (json: any) => Model
const readers = new Map<string, FromJSON>()

/** Register how to read a model type back (each model file registers its own types). */
export function registerModelType(type: string, read: FromJSON): void {
  readers.set(type, read)
}

/** A model from its JSON (any registered type). Unknown types are refused by name. */
export function modelFromJSON(json: ModelJSON): Model {
  if (json === null || typeof json !== 'object' || typeof json.type !== 'string') throw new ConfigError('a model JSON needs a string "type"')
  const read = readers.get(json.type)
  if (read === undefined) throw new ConfigError(`unknown model type "${json.type}" (known: ${[...readers.keys()].sort().join(', ')})`)
  return read(json)
}

/** The same features, in the same order, as the model was fitted on — else a one-line error. */
export function checkColumns(expected: readonly string[], m: Matrix): void {
  if (m.columns.length !== expected.length || m.columns.some((c, i) => c !== expected[i])) {
    throw new ConfigError(`the model was fitted on features [${expected.join(', ')}]; received [${m.columns.join(', ')}]`)
  }
  if (m.X.length !== m.rows * m.columns.length) throw new ConfigError(`X has ${m.X.length} values; expected rows × columns = ${m.rows} × ${m.columns.length}`)
}

/** Shape and label checks shared by every fit. */
export function checkLabeled(m: Labeled, task: Task): void {
  if (m.rows < 1) throw new ConfigError('fit needs at least one row')
  if (m.X.length !== m.rows * m.columns.length) throw new ConfigError(`X has ${m.X.length} values; expected rows × columns = ${m.rows} × ${m.columns.length}`)
  if (m.y.length !== m.rows) throw new ConfigError(`y has ${m.y.length} values; expected one per row (${m.rows})`)
  for (let r = 0; r < m.rows; r++) {
    if (!Number.isFinite(m.y[r]!)) throw new ConfigError(`${task === 'classification' ? 'label' : 'target'} at row ${r} is ${m.y[r]}: labels and targets must be finite (drop such rows)`)
  }
}

/** The sorted distinct labels; one class only is refused (nothing to learn). */
export function classesOf(y: ArrayLike<number>): number[] {
  const classes = [...new Set(Array.from(y))].sort((a, b) => a - b)
  if (classes.length < 2) throw new ConfigError(`labels have one class only (${classes[0]}): a classifier needs at least two`)
  return classes
}

/** NaN or ±∞ in X is refused with the feature and row named. */
export function checkFinite(m: Matrix): void {
  const p = m.columns.length
  for (let i = 0; i < m.X.length; i++) {
    if (!Number.isFinite(m.X[i]!)) throw new ConfigError(`feature ${m.columns[i % p]} is ${m.X[i]} at row ${Math.floor(i / p)}: impute or drop such rows (makeDataset drops them)`)
  }
}

/** The most probable class per row of a rows × classes probability matrix (the lower class on a tie). */
export function mostProbable(proba: Float64Array, classes: readonly number[], rows: number): Float64Array {
  const k = classes.length
  const out = new Float64Array(rows)
  for (let r = 0; r < rows; r++) {
    let best = 0
    for (let c = 1; c < k; c++) if (proba[r * k + c]! > proba[r * k + best]!) best = c
    out[r] = classes[best]!
  }
  return out
}

/** log Σ exp(z[i]) over z[from, from + k), without overflow. */
export function logSumExp(z: ArrayLike<number>, from = 0, k = z.length - from): number {
  let max = -Infinity
  for (let i = from; i < from + k; i++) max = Math.max(max, z[i]!)
  let s = 0
  for (let i = from; i < from + k; i++) s += Math.exp(z[i]! - max)
  return max + Math.log(s)
}

/** out[from, from + k) = the softmax of z[from, from + k) (out may be z). */
export function softmaxInto(z: ArrayLike<number>, out: Float64Array, from = 0, k = z.length - from): void {
  const lse = logSumExp(z, from, k)
  for (let i = from; i < from + k; i++) out[i] = Math.exp(z[i]! - lse)
}

/** An optional integer option in [min, max], else a one-line error naming it. */
export function checkInt(v: number | undefined, name: string, min: number, max = Infinity): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new ConfigError(`${name} must be an integer in [${min}, ${max}] (received ${v})`)
}
