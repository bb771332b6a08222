// Permutation importance against hand-worked cases (a model that reads one feature, a constant column, the
// exact expectation over all permutations of 4 rows) and a brute-force re-implementation of the documented
// procedure (baseline − score after a Fisher–Yates shuffle of the column, same permutations for every feature).

import { describe, expect, it } from 'vitest'
import { ConfigError, seededRandom } from '../../lib/core/index.js'
import { permutationImportance } from '../../lib/ml/importance.js'
import { RidgeRegression } from '../../lib/ml/linear.js'
import { accuracy, rmse } from '../../lib/ml/metrics.js'
import type { Labeled, Matrix, Model } from '../../lib/ml/model.js'

/** A stand-in classifier: class 1 when feature 0 is > 0 (it reads nothing else). */
function readsFeature0(): Model {
  const proba = (m: Matrix) => {
    const out = new Float64Array(m.rows * 2)
    for (let r = 0; r < m.rows; r++) {
      const q = 1 / (1 + Math.exp(-m.X[r * m.columns.length]!))
      out[2 * r] = 1 - q
      out[2 * r + 1] = q
    }
    return out
  }
  return {
    family: 'stub',
    task: 'classification',
    fit() {
      return this
    },
    predict: (m) => Float64Array.from({ length: m.rows }, (_, r) => (m.X[r * m.columns.length]! > 0 ? 1 : 0)),
    predictProba: proba,
    featureImportance: () => ({}),
    toJSON: () => ({ type: 'stub', columns: [] }),
  }
}

/** An identity regressor on feature 0 (prediction = x₀). */
function identity(): Model {
  return { ...readsFeature0(), task: 'regression', predict: (m) => Float64Array.from({ length: m.rows }, (_, r) => m.X[r * m.columns.length]!) }
}

const mse = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2
  return s / a.length
}

describe('hand-worked', () => {
  // 8 rows: x0 decides the label exactly; x1 is noise the model never reads; k is constant.
  const data: Labeled = {
    columns: ['x0', 'x1', 'k'],
    rows: 8,
    X: Float64Array.of(-2, 5, 1, -1, 3, 1, -0.5, 9, 1, -3, 2, 1, 1, 4, 1, 2, 8, 1, 0.5, 1, 1, 3, 7, 1),
    y: [0, 0, 0, 0, 1, 1, 1, 1],
  }

  it('a feature the model does not read, and a constant one, are worth exactly 0', () => {
    const imp = permutationImportance(readsFeature0(), data, { metric: accuracy, repeats: 10 })
    expect(imp.x1!.values).toEqual(new Array(10).fill(0))
    expect(imp.k!.values).toEqual(new Array(10).fill(0))
    expect(imp.x1!.std).toBe(0)
    // Baseline accuracy is 1; a shuffled x0 can only lose: every value in [0, 1] and on the grid of 1/8.
    for (const v of imp.x0!.values) {
      expect(v).toBeGreaterThanOrEqual(0)
      expect(Number.isInteger(v * 8)).toBe(true)
    }
    expect(imp.x0!.mean).toBeGreaterThan(0.2)
  })

  it('2 rows: a shuffle is the identity (drop 0) or the swap (accuracy 1 → 0, drop 1)', () => {
    const two: Labeled = { columns: ['x0'], rows: 2, X: Float64Array.of(-1, 1), y: [0, 1] }
    const imp = permutationImportance(readsFeature0(), two, { metric: accuracy, repeats: 200, seed: 3 })
    for (const v of imp.x0!.values) expect([0, 1]).toContain(v)
    // Each shuffle is a fair coin: the share of swaps over 200 is within 0.5 ± 0.15 (≈ 4 standard errors).
    expect(Math.abs(imp.x0!.mean - 0.5)).toBeLessThan(0.15)
  })

  it('4 rows, prediction = x₀ = y = 0,1,2,3, MSE: the mean over shuffles → the mean over all 24 permutations', () => {
    // Baseline MSE 0. A permutation π gives MSE = ¼ Σᵢ (x_π(i) − xᵢ)². Averaged over all 24 permutations,
    // E(x_π(i) − xᵢ)² = ¼ Σⱼ (xⱼ − xᵢ)², so the mean is 1/16 Σᵢ Σⱼ (xᵢ − xⱼ)² = 2·Var(x) = 2·1.25 = 2.5.
    // Enumerated here too, as a check of the arithmetic.
    const x = [0, 1, 2, 3]
    let total = 0
    const perms = (a: number[]): number[][] => (a.length <= 1 ? [a] : a.flatMap((v, i) => perms([...a.slice(0, i), ...a.slice(i + 1)]).map((rest) => [v, ...rest])))
    for (const pi of perms([0, 1, 2, 3])) total += mse(pi.map((j) => x[j]!), x)
    expect(total / 24).toBeCloseTo(2.5, 12)
    const four: Labeled = { columns: ['x0'], rows: 4, X: Float64Array.from(x), y: x }
    const imp = permutationImportance(identity(), four, { metric: mse, greaterIsBetter: false, repeats: 4000, seed: 11 })
    // Values lie in the hand-enumerated set of 24 MSEs; their mean is within 0.1 of 2.5 (sd of one value
    // ≈ 1.9, so the standard error over 4000 is ≈ 0.03).
    const possible = new Set(perms([0, 1, 2, 3]).map((pi) => mse(pi.map((j) => x[j]!), x)))
    for (const v of imp.x0!.values) expect(possible.has(v)).toBe(true)
    expect(Math.abs(imp.x0!.mean - 2.5)).toBeLessThan(0.1)
  })
})

describe('against a brute-force re-implementation', () => {
  // 30 rows, 3 features, y = 2 x0 − x1 + noise; a ridge fit; the metric is RMSE (a loss).
  const random = seededRandom(5)
  const rows = 30
  const X = new Float64Array(rows * 3).map(() => random.normal())
  const y = Float64Array.from({ length: rows }, (_, r) => 2 * X[r * 3]! - X[r * 3 + 1]! + 0.1 * random.normal())
  const data: Labeled = { columns: ['a', 'b', 'c'], rows, X, y }
  const model = new RidgeRegression({ alpha: 0.5 }).fit(data)

  /** The documented procedure, written out plainly. */
  function bruteForce(seed: number, repeats: number): number[][] {
    const base = rmse(y, model.predict(data))
    return [0, 1, 2].map((c) => {
      const rnd = seededRandom(seed)
      const out: number[] = []
      for (let k = 0; k < repeats; k++) {
        const order = Array.from({ length: rows }, (_, i) => i)
        for (let i = rows - 1; i > 0; i--) {
          const j = Math.floor(rnd.next() * (i + 1))
          ;[order[i], order[j]] = [order[j]!, order[i]!]
        }
        const shuffled = Float64Array.from(X)
        for (let r = 0; r < rows; r++) shuffled[r * 3 + c] = X[order[r]! * 3 + c]!
        out.push(rmse(y, model.predict({ X: shuffled, rows, columns: data.columns })) - base)
      }
      return out
    })
  }

  it('values, mean and population std agree', () => {
    const copy = Float64Array.from(X)
    const imp = permutationImportance(model, data, { metric: rmse, greaterIsBetter: false, repeats: 7, seed: 42 })
    const expected = bruteForce(42, 7)
    for (const [c, name] of ['a', 'b', 'c'].entries()) {
      const v = expected[c]!
      expect(imp[name]!.values).toEqual(v)
      const mean = v.reduce((s, x) => s + x, 0) / v.length
      expect(imp[name]!.mean).toBeCloseTo(mean, 14)
      expect(imp[name]!.std).toBeCloseTo(Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length), 14)
    }
    expect(imp.a!.mean).toBeGreaterThan(imp.b!.mean)
    expect(imp.b!.mean).toBeGreaterThan(Math.abs(imp.c!.mean))
    expect(Array.from(X)).toEqual(Array.from(copy)) // the data is not modified
  })

  it('deterministic for a seed, different across seeds', () => {
    const a = permutationImportance(model, data, { metric: rmse, greaterIsBetter: false, seed: 1 })
    const b = permutationImportance(model, data, { metric: rmse, greaterIsBetter: false, seed: 1 })
    const c = permutationImportance(model, data, { metric: rmse, greaterIsBetter: false, seed: 2 })
    expect(a).toEqual(b)
    expect(a.a!.values).not.toEqual(c.a!.values)
    expect(a.a!.values).toHaveLength(5)
  })

  it('greaterIsBetter: true with the negated loss gives the same importances', () => {
    const loss = permutationImportance(model, data, { metric: rmse, greaterIsBetter: false, seed: 9 })
    const score = permutationImportance(model, data, { metric: (t, p) => -rmse(t, p), seed: 9 })
    expect(score.a!.values).toEqual(loss.a!.values)
  })
})

describe('useProba', () => {
  it('two classes: the metric receives P(classes[1]) per row', () => {
    const data: Labeled = { columns: ['x0'], rows: 3, X: Float64Array.of(-1, 0, 2), y: [0, 1, 1] }
    const seen: number[][] = []
    permutationImportance(readsFeature0(), data, {
      useProba: true,
      repeats: 1,
      metric: (_, p) => {
        seen.push(Array.from(p))
        return 0
      },
    })
    // The first call is the baseline: σ(−1), σ(0), σ(2).
    const s = (z: number) => 1 / (1 + Math.exp(-z))
    expect(seen[0]).toEqual([s(-1), s(0), s(2)])
  })
})

describe('bad input', () => {
  const data: Labeled = { columns: ['x0'], rows: 2, X: Float64Array.of(-1, 1), y: [0, 1] }
  it('options', () => {
    expect(() => permutationImportance(readsFeature0(), data, {} as never)).toThrow(/needs options.metric/)
    expect(() => permutationImportance(readsFeature0(), data, { metric: accuracy, repeats: 0 })).toThrow(/repeats must be an integer ≥ 1 \(received 0\)/)
    expect(() => permutationImportance(readsFeature0(), data, { metric: accuracy, seed: 0.5 })).toThrow(ConfigError)
  })
  it('a metric returning NaN', () => {
    expect(() => permutationImportance(readsFeature0(), data, { metric: () => NaN })).toThrow(/metric returned NaN/)
  })
  it('labels of the wrong length', () => {
    expect(() => permutationImportance(readsFeature0(), { ...data, y: [1] }, { metric: accuracy })).toThrow(/y has 1 values/)
  })
})
