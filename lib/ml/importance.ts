// Permutation importance (Breiman 2001; scikit-learn's permutation_importance): how much a fitted model's
// score drops when one feature's column is shuffled, breaking its link to the label while keeping its
// distribution. Unlike impurity or weight importances it works for any model and any metric, on held-out rows.

import { ConfigError, seededRandom } from '../core/index.js'
import type { Random } from '../core/index.js'
import { checkLabeled } from './model.js'
import type { Labeled, Model } from './model.js'

export interface PermutationOptions {
  /**
   * Score of predictions against labels, e.g. accuracy, rocAuc, rmse from lib/ml/metrics. It receives
   * `model.predict` rows, or with `useProba` the probabilities (see there).
   */
  metric: (yTrue: ArrayLike<number>, yPredOrProba: Float64Array) => number
  /**
   * Score probabilities instead of predictions (default false). Two classes: the probability of the second
   * class (classes[1]) per row, which is what rocAuc, prAuc and logLoss take; more classes: the whole
   * rows × classes matrix, row-major.
   */
  useProba?: boolean
  /** Shuffles per feature (default 5). */
  repeats?: number
  /** Default 0. */
  seed?: number
  /** false for losses (rmse, logLoss): the importance is then the loss increase (default true). */
  greaterIsBetter?: boolean
}

export interface PermutationScore {
  /** Mean of `values`. */
  mean: number
  /** Population standard deviation of `values` (as scikit-learn's importances_std). */
  std: number
  /** Per repeat: baseline score − score with the column shuffled (for losses: shuffled loss − baseline loss). */
  values: number[]
}

/**
 * Per feature, the drop in score when its column is shuffled. Every feature is shuffled by the same
 * `repeats` permutations (a fresh seededRandom(seed) per feature, as scikit-learn reuses one seed for every
 * column), so differences between features are not noise from different shuffles. Each permutation is a
 * Fisher–Yates shuffle of the rows 0…n−1: for i from n−1 down to 1, swap i with ⌊next()·(i + 1)⌋.
 * The model and the data are not modified.
 */
export function permutationImportance(model: Model, data: Labeled, options: PermutationOptions): Record<string, PermutationScore> {
  const { metric, useProba, repeats, seed, greaterIsBetter } = checkOptions(options)
  checkLabeled(data, model.task)
  const p = data.columns.length
  const n = data.rows
  const sign = greaterIsBetter ? 1 : -1
  const score = (X: Float64Array): number => {
    const m = { X, rows: n, columns: data.columns }
    const out = useProba ? probabilities(model.predictProba(m), n) : model.predict(m)
    const s = metric(data.y, out)
    if (typeof s !== 'number' || Number.isNaN(s)) throw new ConfigError(`permutationImportance: the metric returned ${String(s)}; expected a number`)
    return sign * s
  }
  const baseline = score(data.X)
  const X = Float64Array.from(data.X)
  const result: Record<string, PermutationScore> = {}
  for (let c = 0; c < p; c++) {
    const random = seededRandom(seed)
    const values: number[] = []
    for (let k = 0; k < repeats; k++) {
      const order = shuffledRows(n, random)
      for (let r = 0; r < n; r++) X[r * p + c] = data.X[order[r]! * p + c]!
      values.push(baseline - score(X))
    }
    for (let r = 0; r < n; r++) X[r * p + c] = data.X[r * p + c]!
    const mean = values.reduce((a, b) => a + b, 0) / repeats
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / repeats)
    result[data.columns[c]!] = { mean, std, values }
  }
  return result
}

/** The rows 0…n−1 in the order of a Fisher–Yates shuffle driven by `random`. */
export function shuffledRows(n: number, random: Random): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1))
    const t = order[i]!
    order[i] = order[j]!
    order[j] = t
  }
  return order
}

/** Two classes: the second class's column; more: the matrix as it is. */
function probabilities(proba: Float64Array, n: number): Float64Array {
  const k = proba.length / n
  if (k !== 2) return proba
  return Float64Array.from({ length: n }, (_, r) => proba[r * 2 + 1]!)
}

function checkOptions(o: PermutationOptions): Required<PermutationOptions> {
  if (o === null || typeof o !== 'object' || typeof o.metric !== 'function') throw new ConfigError('permutationImportance needs options.metric, a function (yTrue, yPred) => score')
  const repeats = o.repeats ?? 5
  const seed = o.seed ?? 0
  if (!Number.isInteger(repeats) || repeats < 1) throw new ConfigError(`repeats must be an integer ≥ 1 (received ${repeats})`)
  if (!Number.isInteger(seed)) throw new ConfigError(`seed must be an integer (received ${seed})`)
  const useProba = o.useProba ?? false
  const greaterIsBetter = o.greaterIsBetter ?? true
  if (typeof useProba !== 'boolean') throw new ConfigError(`useProba must be true or false (received ${String(useProba)})`)
  if (typeof greaterIsBetter !== 'boolean') throw new ConfigError(`greaterIsBetter must be true or false (received ${String(greaterIsBetter)})`)
  return { metric: o.metric, useProba, repeats, seed, greaterIsBetter }
}
