// Random forests: scikit-learn's held-out accuracy and R² on the same data (fixture made by
// make_forest_reference.py), a forest without bootstrap or feature sampling equal to its single tree,
// probabilities equal to an independent average over the trees, the same forest with one or two worker
// threads, out-of-bag rows by hand, JSON round trips and bad input.

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { DecisionTreeClassifier, RandomForestClassifier, RandomForestRegressor, accuracy, modelFromJSON, type ForestJSON } from '../../lib/ml/index.js'
import { treeSample } from '../../lib/ml/forest.js'

const ref = JSON.parse(readFileSync(new URL('../fixtures/ml/forest-reference.json', import.meta.url), 'utf8')) as {
  columns: string[]
  X: number[][]
  y: number[]
  target: number[]
  train: number
  sklearn: { accuracy: number[]; r2: number[] }
}
const slice = (from: number, to: number, y: number[]) => ({ X: Float64Array.from(ref.X.slice(from, to).flat()), rows: to - from, columns: ref.columns, y: y.slice(from, to) })
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
const r2 = (y: number[], p: ArrayLike<number>) => {
  const mean = y.reduce((a, b) => a + b, 0) / y.length
  return 1 - y.reduce((a, v, i) => a + (v - p[i]!) ** 2, 0) / y.reduce((a, v) => a + (v - mean) ** 2, 0)
}

describe('RandomForestClassifier', () => {
  it("scores within one point of scikit-learn's forest on held-out rows (median of 5 seeds each)", async () => {
    const n = ref.X.length
    const train = slice(0, ref.train, ref.y)
    const test = slice(ref.train, n, ref.y)
    const ours: number[] = []
    for (let seed = 0; seed < 5; seed++) {
      const forest = await new RandomForestClassifier({ nEstimators: 100, seed, workers: 1 }).fit(train)
      ours.push(accuracy(test.y, Array.from(forest.predict(test))))
    }
    expect(Math.abs(median(ours) - median(ref.sklearn.accuracy))).toBeLessThanOrEqual(0.01)
    // And the forest beats one deep tree on the same rows (the point of averaging).
    const tree = new DecisionTreeClassifier({ maxDepth: 30 }).fit(train)
    expect(median(ours)).toBeGreaterThan(accuracy(test.y, Array.from(tree.predict(test))) + 0.02)
  })

  it('without bootstrap or feature sampling, every tree is the single decision tree', async () => {
    const train = slice(0, 600, ref.y)
    const forest = await new RandomForestClassifier({ nEstimators: 3, bootstrap: false, maxFeatures: 'all', maxDepth: 8, workers: 1 }).fit(train)
    const tree = new DecisionTreeClassifier({ maxDepth: 8 }).fit(train).toJSON()
    for (const t of forest.toJSON().trees) {
      expect(t.feature).toEqual(tree.feature)
      expect(t.threshold).toEqual(tree.threshold)
      expect(t.value).toEqual(tree.value)
    }
  })

  it('gives probabilities equal to the average of its trees, walked independently', async () => {
    const train = slice(0, 800, ref.y)
    const test = slice(2000, 2100, ref.y)
    const forest = await new RandomForestClassifier({ nEstimators: 7, seed: 3, workers: 1 }).fit(train)
    const json = forest.toJSON()
    const proba = forest.predictProba(test)
    for (let r = 0; r < test.rows; r++) {
      let p1 = 0
      for (const t of json.trees) {
        let node = 0
        while (t.feature[node]! !== -1) node = ref.X[2000 + r]![t.feature[node]!]! <= t.threshold[node]! ? t.left[node]! : t.right[node]!
        p1 += t.value[node * 2 + 1]! / json.trees.length
      }
      expect(proba[r * 2 + 1]).toBeCloseTo(p1, 12)
      expect(proba[r * 2]! + proba[r * 2 + 1]!).toBeCloseTo(1, 12)
    }
  })

  it('is the same forest with one worker thread or two', async () => {
    const train = slice(0, 2000, ref.y)
    const one = await new RandomForestClassifier({ nEstimators: 12, seed: 5, workers: 1 }).fit(train)
    const two = new RandomForestClassifier({ nEstimators: 12, seed: 5, workers: 2 })
    await two.fit(train)
    expect(two.workersUsed).toBe(2)
    expect(JSON.stringify(two.toJSON())).toBe(JSON.stringify(one.toJSON()))
  })

  it('draws bootstraps with replacement: about 1 − 1/e of the rows in each, different per tree', () => {
    const job = { seed: 1, bootstrap: true, maxSamples: 10_000 }
    const a = treeSample(job, 10_000, 0)
    const b = treeSample(job, 10_000, 1)
    const share = (s: Uint32Array) => new Set(s).size / 10_000
    expect(share(a)).toBeGreaterThan(0.62)
    expect(share(a)).toBeLessThan(0.645)
    expect(Array.from(a.subarray(0, 20))).not.toEqual(Array.from(b.subarray(0, 20)))
    expect(Array.from(treeSample(job, 10_000, 0))).toEqual(Array.from(a))
  })

  it('scores out of bag: each row by the trees that did not draw it', async () => {
    const train = slice(0, 400, ref.y)
    const forest = await new RandomForestClassifier({ nEstimators: 15, seed: 2, oob: true, workers: 1 }).fit(train)
    const json = forest.toJSON()
    const job = { seed: 2, bootstrap: true, maxSamples: 400 }
    let hits = 0
    let scored = 0
    for (let r = 0; r < 400; r++) {
      const votes = [0, 0]
      let used = 0
      json.trees.forEach((t, i) => {
        if (treeSample(job, 400, i).includes(r)) return
        let node = 0
        while (t.feature[node]! !== -1) node = ref.X[r]![t.feature[node]!]! <= t.threshold[node]! ? t.left[node]! : t.right[node]!
        votes[0]! += t.value[node * 2]!
        votes[1]! += t.value[node * 2 + 1]!
        used++
      })
      if (used === 0) continue
      scored++
      if ((votes[1]! > votes[0]! ? 1 : 0) === ref.y[r]) hits++
    }
    expect(forest.oobScore).toBeCloseTo(hits / scored, 12)
  })

  it('round-trips through JSON (any model type) with identical predictions', async () => {
    const train = slice(0, 500, ref.y)
    const forest = await new RandomForestClassifier({ nEstimators: 5, workers: 1 }).fit(train)
    const copy = modelFromJSON(JSON.parse(JSON.stringify(forest.toJSON())) as ForestJSON)
    expect(copy).toBeInstanceOf(RandomForestClassifier)
    expect(Array.from(copy.predictProba(train))).toEqual(Array.from(forest.predictProba(train)))
    const importance = Object.values(forest.featureImportance())
    expect(importance.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
  })

  it('refuses one class, NaN features, bad options', async () => {
    const m = { X: Float64Array.from([1, 2, 3]), rows: 3, columns: ['x'] }
    await expect(new RandomForestClassifier().fit({ ...m, y: [1, 1, 1] })).rejects.toThrow(/one class only \(1\)/)
    await expect(new RandomForestClassifier().fit({ X: Float64Array.from([1, NaN, 3]), rows: 3, columns: ['x'], y: [0, 1, 0] })).rejects.toThrow(/feature x is NaN at row 1/)
    expect(() => new RandomForestClassifier({ nEstimators: 0 })).toThrow(/nEstimators must be an integer in \[1, Infinity\] \(received 0\)/)
    expect(() => new RandomForestClassifier({ maxFeatures: 1.5 })).toThrow(/maxFeatures must be/)
    expect(() => new RandomForestRegressor().predictProba(m)).toThrow(/not fitted yet|no class probabilities/)
  })
})

describe('RandomForestRegressor', () => {
  it("explains held-out variance within 0.02 of scikit-learn's forest (R², median of 5 seeds)", async () => {
    const n = ref.X.length
    const train = slice(0, ref.train, ref.target)
    const test = slice(ref.train, n, ref.target)
    const ours: number[] = []
    for (let seed = 0; seed < 5; seed++) {
      const forest = await new RandomForestRegressor({ nEstimators: 100, seed, workers: 1 }).fit(train)
      ours.push(r2(test.y, forest.predict(test)))
    }
    expect(Math.abs(median(ours) - median(ref.sklearn.r2))).toBeLessThanOrEqual(0.02)
  })

  it('predicts the mean of its trees; a forest of one unbootstrapped tree is that tree', async () => {
    const rng = seededRandom(1)
    const rows = 300
    const X = Float64Array.from({ length: rows }, () => rng.next())
    const y = Array.from(X, (x) => (x > 0.5 ? 2 : -1) + 0.1 * rng.normal())
    const m = { X, rows, columns: ['x'], y }
    const forest = await new RandomForestRegressor({ nEstimators: 1, bootstrap: false, maxDepth: 1 }).fit(m)
    const [stump] = forest.toJSON().trees
    const left = y.filter((_, i) => X[i]! <= stump!.threshold[0]!)
    const mean = left.reduce((a, b) => a + b, 0) / left.length
    expect(stump!.threshold[0]).toBeGreaterThan(0.49)
    expect(stump!.threshold[0]).toBeLessThan(0.51)
    expect(forest.predict({ X: Float64Array.from([0.1]), rows: 1, columns: ['x'] })[0]).toBeCloseTo(mean, 12)
  })
})
