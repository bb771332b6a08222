// The histogram CART: hand-worked stumps; the best stump equal to a brute-force search over every
// midpoint; ml-cart (the declared library) as a reference on held-out rows; JSON round trips.

import { describe, expect, it } from 'vitest'
import { DecisionTreeClassifier as CartClassifier } from 'ml-cart'
import { DecisionTreeClassifier, DecisionTreeRegressor } from '../../lib/ml/index.js'
import { seededRandom } from '../../lib/core/index.js'

const matrix = (rows: number[][], columns: string[]) => ({ X: Float64Array.from(rows.flat()), rows: rows.length, columns })

describe('DecisionTreeClassifier', () => {
  it('splits 1…6 with labels 000111 at 3.5, Gini gain 3 (all of the impurity)', () => {
    const m = matrix([[1], [2], [3], [4], [5], [6]], ['x'])
    const tree = new DecisionTreeClassifier().fit({ ...m, y: [0, 0, 0, 1, 1, 1] })
    const json = tree.toJSON()
    expect(json.feature[0]).toBe(0)
    expect(json.threshold[0]).toBe(3.5)
    expect(json.importance).toEqual([3])
    expect(tree.nodeCount).toBe(3)
    expect(Array.from(tree.predict(matrix([[3.4], [3.6], [-9], [99]], ['x'])))).toEqual([0, 1, 0, 1])
    expect(tree.featureImportance()).toEqual({ x: 1 })
  })

  it('keeps labels as given (−1/0/1) and gives leaf class shares as probabilities', () => {
    const m = matrix([[1], [1], [1], [2], [2]], ['x'])
    const tree = new DecisionTreeClassifier().fit({ ...m, y: [-1, -1, 1, 1, 1] })
    expect(tree.classes).toEqual([-1, 1])
    // Left leaf (x = 1): 2 of 3 are −1.
    expect(Array.from(tree.predictProba(matrix([[1]], ['x'])))).toEqual([2 / 3, 1 / 3])
    expect(Array.from(tree.predict(matrix([[1], [2]], ['x'])))).toEqual([-1, 1])
  })

  it('finds the stump a brute-force search over every feature and midpoint finds', () => {
    const rng = seededRandom(3)
    for (let trial = 0; trial < 20; trial++) {
      const n = 60
      const rows = Array.from({ length: n }, () => [Math.round(rng.next() * 40), Math.round(rng.next() * 40), Math.round(rng.next() * 40)])
      const y = rows.map((r) => (r[0]! + 0.5 * r[1]! + 8 * rng.normal() > 30 ? 1 : 0))
      const gini = (labels: number[]) => {
        const ones = labels.filter((v) => v === 1).length
        return labels.length - (ones * ones + (labels.length - ones) ** 2) / labels.length
      }
      let best = 0
      for (let f = 0; f < 3; f++) {
        const values = [...new Set(rows.map((r) => r[f]!))].sort((a, b) => a - b)
        for (let i = 0; i + 1 < values.length; i++) {
          const t = (values[i]! + values[i + 1]!) / 2
          const gain = gini(y) - gini(y.filter((_, r) => rows[r]![f]! <= t)) - gini(y.filter((_, r) => rows[r]![f]! > t))
          best = Math.max(best, gain)
        }
      }
      const stump = new DecisionTreeClassifier({ maxDepth: 1 }).fit({ ...matrix(rows, ['a', 'b', 'c']), y })
      expect(stump.toJSON().importance.reduce((a, b) => a + b, 0)).toBeCloseTo(best, 9)
    }
  })

  it('agrees with ml-cart on held-out rows', () => {
    const rng = seededRandom(5)
    const make = (n: number) => {
      const rows = Array.from({ length: n }, () => [rng.next() * 10, rng.next() * 10, rng.next() * 10])
      const y = rows.map((r) => (r[0]! > 5 ? (r[1]! > 3 ? 1 : 0) : r[2]! > 7 ? 1 : 0))
      return { rows, y }
    }
    const train = make(200)
    const test = make(300)
    const ours = new DecisionTreeClassifier({ maxDepth: 4 }).fit({ ...matrix(train.rows, ['a', 'b', 'c']), y: train.y })
    const cart = new CartClassifier({ gainFunction: 'gini', maxDepth: 4, minNumSamples: 2 })
    cart.train(train.rows, train.y)
    const a = Array.from(ours.predict(matrix(test.rows, ['a', 'b', 'c'])))
    const b = cart.predict(test.rows) as number[]
    const agree = a.filter((v, i) => v === b[i]).length / a.length
    expect(agree).toBeGreaterThanOrEqual(0.97)
    // And both learn the rule.
    expect(a.filter((v, i) => v === test.y[i]).length / a.length).toBeGreaterThan(0.95)
  })

  it('bins large data from a sample of its quantiles and still splits where the labels change', () => {
    const rng = seededRandom(2)
    const rows = Array.from({ length: 40_000 }, () => [rng.next()])
    const y = rows.map((r) => (r[0]! > 0.3 ? 1 : 0))
    const stump = new DecisionTreeClassifier({ maxDepth: 1 }).fit({ ...matrix(rows, ['x']), y })
    // 256 quantile bins of U(0, 1): the cut lands within one bin width (~0.004) of 0.3.
    expect(Math.abs(stump.toJSON().threshold[0]! - 0.3)).toBeLessThan(0.01)
    const predicted = stump.predict(matrix(rows, ['x']))
    expect(predicted.filter((v, i) => v === y[i]).length / y.length).toBeGreaterThan(0.99)
  })

  it('grows the same tree with and without histogram subtraction (big nodes)', () => {
    const rng = seededRandom(4)
    const rows = Array.from({ length: 12_000 }, () => [rng.normal(), rng.normal(), Math.round(rng.next() * 9), rng.next()])
    const y = rows.map((r) => (r[0]! + r[1]! * r[3]! + 0.2 * r[2]! + 0.5 * rng.normal() > 1 ? 1 : 0))
    const m = { ...matrix(rows, ['a', 'b', 'c', 'd']), y }
    const on = new DecisionTreeClassifier({ maxDepth: 10 }).fit(m).toJSON()
    const off = new DecisionTreeClassifier({ maxDepth: 10, subtraction: false }).fit(m).toJSON()
    expect(on.feature.length).toBeGreaterThan(200)
    expect(on.feature).toEqual(off.feature)
    expect(on.threshold).toEqual(off.threshold)
    expect(on.value).toEqual(off.value)
    const target = rows.map((r) => r[0]! * 2 + r[1]! ** 2 + rng.normal())
    const rOn = new DecisionTreeRegressor({ maxDepth: 8 }).fit({ ...m, y: target }).toJSON()
    const rOff = new DecisionTreeRegressor({ maxDepth: 8, subtraction: false }).fit({ ...m, y: target }).toJSON()
    expect(rOn.threshold).toEqual(rOff.threshold)
    for (let i = 0; i < rOn.value.length; i++) expect(rOn.value[i]).toBeCloseTo(rOff.value[i]!, 9)
  })

  it('round-trips through JSON with identical predictions; refuses other features', () => {
    const rng = seededRandom(9)
    const rows = Array.from({ length: 500 }, () => [rng.normal(), rng.normal()])
    const y = rows.map((r) => (r[0]! * r[1]! > 0 ? 1 : 0))
    const m = matrix(rows, ['u', 'v'])
    const tree = new DecisionTreeClassifier({ maxDepth: 6 }).fit({ ...m, y })
    const copy = DecisionTreeClassifier.fromJSON(JSON.parse(JSON.stringify(tree.toJSON())))
    expect(Array.from(copy.predictProba(m))).toEqual(Array.from(tree.predictProba(m)))
    expect(() => tree.predict(matrix([[1, 2]], ['v', 'u']))).toThrow(/fitted on features \[u, v\]; received \[v, u\]/)
    expect(() => new DecisionTreeClassifier().predict(m)).toThrow(/not fitted yet/)
    expect(() => new DecisionTreeClassifier({ maxDepth: 0 })).toThrow(/maxDepth must be an integer in \[1, Infinity\] \(received 0\)/)
  })
})

describe('DecisionTreeRegressor', () => {
  it('splits at 6.5 into means 1 and 16/3', () => {
    const m = matrix([[1], [2], [3], [10], [11], [12]], ['x'])
    const tree = new DecisionTreeRegressor({ maxDepth: 1 }).fit({ ...m, y: [1, 1, 1, 5, 5, 6] })
    expect(tree.toJSON().threshold[0]).toBe(6.5)
    const p = tree.predict(matrix([[0], [100]], ['x']))
    expect(p[0]).toBe(1)
    expect(p[1]).toBeCloseTo(16 / 3, 12)
    // Squared-error decrease: SSE(all) − SSE(left) − SSE(right) = 26.833… − 0 − 0.666….
    const y = [1, 1, 1, 5, 5, 6]
    const mean = y.reduce((a, b) => a + b) / 6
    const sse = y.reduce((a, v) => a + (v - mean) ** 2, 0) - (2 * (5 - 16 / 3) ** 2 + (6 - 16 / 3) ** 2)
    expect(tree.toJSON().importance[0]).toBeCloseTo(sse, 9)
    expect(DecisionTreeRegressor.fromJSON(tree.toJSON()).predict(m)).toEqual(tree.predict(m))
  })
})
