// Gradient-boosted trees against scikit-learn's GradientBoosting (criterion='squared_error') on integer
// features, where histogram and exact trees see the same splits: probabilities and predictions on
// held-out rows match to 1e-9 (binary, three classes, regression). Plus early stopping on the last rows,
// stochastic boosting's reproducibility, JSON round trips and bad input.

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { GradientBoostingClassifier, GradientBoostingRegressor, modelFromJSON, type GbtJSON } from '../../lib/ml/index.js'

const ref = JSON.parse(readFileSync(new URL('../fixtures/ml/gbt-reference.json', import.meta.url), 'utf8')) as {
  columns: string[]
  X: number[][]
  binary: number[]
  three: number[]
  target: number[]
  train: number
  options: { n_estimators: number; learning_rate: number; max_depth: number; min_samples_leaf: number }
  binaryProba: number[]
  threeProba: number[][]
  regression: number[]
}
const rows = (from: number, to: number) => ({ X: Float64Array.from(ref.X.slice(from, to).flat()), rows: to - from, columns: ref.columns })
const train = rows(0, ref.train)
const test = rows(ref.train, ref.X.length)
const options = { nEstimators: ref.options.n_estimators, learningRate: ref.options.learning_rate, maxDepth: ref.options.max_depth, minSamplesLeaf: ref.options.min_samples_leaf }

describe('GradientBoostingClassifier', () => {
  it("matches scikit-learn's probabilities on held-out rows (two classes, log loss)", () => {
    const model = new GradientBoostingClassifier(options).fit({ ...train, y: ref.binary.slice(0, ref.train) })
    const proba = model.predictProba(test)
    ref.binaryProba.forEach((p, r) => expect(proba[r * 2 + 1]).toBeCloseTo(p, 9))
  })

  it("matches scikit-learn's probabilities with three classes (softmax, three trees a round)", () => {
    const model = new GradientBoostingClassifier(options).fit({ ...train, y: ref.three.slice(0, ref.train) })
    expect(model.toJSON().trees[0]).toHaveLength(3)
    const proba = model.predictProba(test)
    ref.threeProba.forEach((row, r) => row.forEach((p, c) => expect(proba[r * 3 + c]).toBeCloseTo(p, 9)))
  })

  it('stops early on the last rows when their loss stops falling, and keeps the best round', () => {
    const model = new GradientBoostingClassifier({ nEstimators: 400, learningRate: 0.5, maxDepth: 4, earlyStopping: { validationFraction: 0.25, patience: 5 } })
    model.fit({ ...rows(0, ref.X.length), y: ref.binary })
    const losses = model.toJSON().validationLoss!
    const best = losses.indexOf(Math.min(...losses))
    expect(losses.length).toBeLessThan(400)
    expect(losses.length).toBe(best + 1 + 5)
    expect(model.rounds).toBe(best + 1)
  })

  it('counts in its feature importance only the rounds early stopping keeps', () => {
    // An audit: the importance summed the gains of every round grown, the ones early stopping then dropped
    // included — rounds past the best validation loss, fitting noise — so a feature no kept tree splits on
    // had a share (b: 0.0091 here). Expected from the kept trees themselves: a feature none of them splits
    // on has importance 0, and a is then the only one (1).
    const n = 200
    const X = new Float64Array(n * 2)
    const y = new Float64Array(n)
    let s = 12345
    const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32)
    for (let i = 0; i < n; i++) {
      X[2 * i] = i % 2 // a: the signal
      X[2 * i + 1] = next() // b: noise
      y[i] = 3 * (i % 2) + (next() - 0.5) * 2
    }
    const model = new GradientBoostingRegressor({ nEstimators: 200, maxDepth: 1, learningRate: 0.5, earlyStopping: { validationFraction: 0.25, patience: 10 } }).fit({ X, rows: n, columns: ['a', 'b'], y })
    const json = model.toJSON()
    expect(json.validationLoss!.length).toBeGreaterThan(json.trees.length) // rounds were dropped
    const used = new Set(json.trees.flatMap((round) => round.flatMap((t) => t.feature.filter((f) => f >= 0))))
    expect([...used]).toEqual([0])
    expect(model.featureImportance()).toEqual({ a: 1, b: 0 })
  })

  it('round-trips through JSON; stochastic boosting is the same for the same seed', () => {
    const a = new GradientBoostingClassifier({ nEstimators: 10, subsample: 0.5, seed: 4 }).fit({ ...train, y: ref.binary.slice(0, ref.train) })
    const b = new GradientBoostingClassifier({ nEstimators: 10, subsample: 0.5, seed: 4 }).fit({ ...train, y: ref.binary.slice(0, ref.train) })
    const c = new GradientBoostingClassifier({ nEstimators: 10, subsample: 0.5, seed: 5 }).fit({ ...train, y: ref.binary.slice(0, ref.train) })
    expect(Array.from(b.predictProba(test))).toEqual(Array.from(a.predictProba(test)))
    expect(Array.from(c.predictProba(test))).not.toEqual(Array.from(a.predictProba(test)))
    const copy = modelFromJSON(JSON.parse(JSON.stringify(a.toJSON())) as GbtJSON)
    expect(Array.from(copy.predictProba(test))).toEqual(Array.from(a.predictProba(test)))
    expect(Object.values(a.featureImportance()).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12)
  })

  it('refuses one class and bad options', () => {
    expect(() => new GradientBoostingClassifier().fit({ ...rows(0, 3), y: [2, 2, 2] })).toThrow(/one class only \(2\)/)
    expect(() => new GradientBoostingClassifier({ learningRate: 0 })).toThrow(/learningRate must be in \(0, 10\] \(received 0\)/)
    expect(() => new GradientBoostingClassifier({ subsample: 1.5 })).toThrow(/subsample must be in \(0, 1\]/)
  })
})

describe('GradientBoostingRegressor', () => {
  it("matches scikit-learn's predictions on held-out rows (squared error)", () => {
    const model = new GradientBoostingRegressor(options).fit({ ...train, y: ref.target.slice(0, ref.train) })
    const predicted = model.predict(test)
    ref.regression.forEach((v, r) => expect(predicted[r]).toBeCloseTo(v, 9))
  })

  it('one round with learning rate 1 and depth 1 is the mean plus the best stump of the residuals', () => {
    const X = Float64Array.from([1, 2, 3, 4, 5, 6])
    const y = [1, 1, 2, 10, 11, 12]
    const model = new GradientBoostingRegressor({ nEstimators: 1, learningRate: 1, maxDepth: 1 }).fit({ X, rows: 6, columns: ['x'], y })
    // Mean 37/6; the best cut is at 3.5: left mean 4/3, right mean 11.
    expect(Array.from(model.predict({ X: Float64Array.from([0, 3.5, 3.6]), rows: 3, columns: ['x'] }))).toEqual([4 / 3, 4 / 3, 11].map((v) => expect.closeTo(v, 12)))
  })
})
