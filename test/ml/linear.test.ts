// Logistic and ridge regression against scikit-learn 1.2.1 (test/fixtures/ml/linear-reference.json, made by
// test/fixtures/ml/make_linear_reference.py on test/fixtures/ml/linear-data.csv), a ridge solved by hand,
// and the optimality conditions of the logistic objective checked directly on a separable toy set.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { LogisticRegression, RidgeRegression } from '../../lib/ml/linear.js'
import { modelFromJSON } from '../../lib/ml/model.js'
import type { Labeled } from '../../lib/ml/model.js'
import { FIXTURES } from '../helpers.js'

interface LogisticRef { target: 'y_bin' | 'y_multi'; C: number; fitIntercept: boolean; standardize: boolean; classes: number[]; coef: number[][]; intercept: number[]; proba: number[][]; predict: number[] }
interface RidgeRef { alpha: number; fitIntercept: boolean; standardize: boolean; coef: number[]; intercept: number; predict: number[] }
const ref = JSON.parse(readFileSync(join(FIXTURES, 'ml/linear-reference.json'), 'utf8')) as { columns: string[]; logistic: LogisticRef[]; ridge: RidgeRef[] }

const lines = readFileSync(join(FIXTURES, 'ml/linear-data.csv'), 'utf8').trim().split('\n')
const header = lines[0]!.split(',')
const cells = lines.slice(1).map((l) => l.split(',').map(Number))
const columns = ['x0', 'x1', 'x2', 'x3']
const X = Float64Array.from(cells.flatMap((row) => columns.map((c) => row[header.indexOf(c)]!)))
const target = (name: string) => Float64Array.from(cells, (row) => row[header.indexOf(name)]!)
const data = (y: string): Labeled => ({ X, rows: cells.length, columns, y: target(y) })

/** |a − b| ≤ tol · max(1, |b|), element-wise, with the index in the message. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!))
    expect(err, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThan(tol)
  }
}

describe('LogisticRegression against scikit-learn (newton-cg, converged to < 1e-7 per coefficient)', () => {
  for (const r of ref.logistic) {
    it(`${r.target}, C = ${r.C}, fitIntercept ${r.fitIntercept}, standardize ${r.standardize}`, () => {
      const model = new LogisticRegression({ C: r.C, fitIntercept: r.fitIntercept, standardize: r.standardize }).fit(data(r.target))
      expect(model.classes).toEqual(r.classes)
      expectClose(model.coef.flatMap((row) => Array.from(row)), r.coef.flat(), 2e-7, 'coef')
      expectClose(model.intercept, r.intercept, 2e-7, 'intercept')
      expectClose(model.predictProba({ X, rows: cells.length, columns }), r.proba.flat(), 1e-8, 'proba')
      expect(Array.from(model.predict({ X, rows: cells.length, columns }))).toEqual(r.predict)
    })
  }

  it('labels −1/+1 give the 0/1 fit, with classes [−1, 1]', () => {
    const r = ref.logistic[0]!
    const y = Float64Array.from(target('y_bin'), (v) => (v === 1 ? 1 : -1))
    const model = new LogisticRegression().fit({ X, rows: cells.length, columns, y })
    expect(model.classes).toEqual([-1, 1])
    expectClose(model.coef[0]!, r.coef[0]!, 2e-7, 'coef')
    expect(Array.from(model.predict({ X, rows: cells.length, columns }))).toEqual(r.predict.map((v) => (v === 1 ? 1 : -1)))
  })

  it('multinomial probabilities are rows that sum to 1, in classes order', () => {
    const model = new LogisticRegression().fit(data('y_multi'))
    const proba = model.predictProba({ X, rows: cells.length, columns })
    expect(proba.length).toBe(cells.length * 3)
    for (let r = 0; r < cells.length; r++) expect(proba[3 * r]! + proba[3 * r + 1]! + proba[3 * r + 2]!).toBeCloseTo(1, 14)
  })
})

describe('LogisticRegression: optimality conditions on a separable toy set', () => {
  // x = −2, −1, 1, 2 with labels 0, 0, 1, 1 is separable: without the penalty w would run off to ∞. With it,
  // the optimum satisfies w + C Σ (pᵢ − yᵢ) xᵢ = 0 and Σ (pᵢ − yᵢ) = 0 (the intercept is unpenalised).
  const toy: Labeled = { X: Float64Array.of(-2, -1, 1, 2), rows: 4, columns: ['x'], y: [0, 0, 1, 1] }
  for (const C of [0.1, 1, 1000]) {
    it(`C = ${C}: the gradient vanishes`, () => {
      const model = new LogisticRegression({ C }).fit(toy)
      const w = model.coef[0]![0]!
      const b = model.intercept[0]!
      let gw = w
      let gb = 0
      for (let i = 0; i < 4; i++) {
        const p = 1 / (1 + Math.exp(-(w * toy.X[i]! + b)))
        gw += C * (p - toy.y[i]!) * toy.X[i]!
        gb += C * (p - toy.y[i]!)
      }
      expect(Math.abs(gw)).toBeLessThan(1e-9 * Math.max(1, C))
      expect(Math.abs(gb)).toBeLessThan(1e-9 * Math.max(1, C))
      expect(Math.abs(b)).toBeLessThan(1e-9) // symmetric data: the intercept is 0
      expect(Number.isFinite(w) && w > 0).toBe(true)
    })
  }
})

describe('RidgeRegression against scikit-learn (solver cholesky)', () => {
  for (const r of ref.ridge) {
    it(`alpha = ${r.alpha}, fitIntercept ${r.fitIntercept}, standardize ${r.standardize}`, () => {
      const model = new RidgeRegression({ alpha: r.alpha, fitIntercept: r.fitIntercept, standardize: r.standardize }).fit(data('y_reg'))
      expectClose(model.coef, r.coef, 1e-10, 'coef')
      expectClose([model.intercept], [r.intercept], 1e-10, 'intercept')
      expectClose(model.predict({ X, rows: cells.length, columns }), r.predict, 1e-10, 'predict')
    })
  }
})

describe('RidgeRegression by hand', () => {
  it('without intercept: (XᵀX + I) w = Xᵀy solved as a 2 × 2 system', () => {
    // X = [[1,0],[0,1],[1,1]], y = [1,2,4]: XᵀX + I = [[3,1],[1,3]], Xᵀy = [5,6], det 8,
    // w = [[3,−1],[−1,3]]·[5,6] / 8 = [9/8, 13/8].
    const model = new RidgeRegression({ alpha: 1, fitIntercept: false }).fit({ X: Float64Array.of(1, 0, 0, 1, 1, 1), rows: 3, columns: ['a', 'b'], y: [1, 2, 4] })
    expectClose(model.coef, [9 / 8, 13 / 8], 1e-15, 'coef')
    expect(model.intercept).toBe(0)
  })

  it('with intercept: centred normal equations, intercept = ȳ − x̄·w', () => {
    // X = [[0,0],[1,0],[0,1],[1,1]], y = [1,3,2,6]: x̄ = (½,½), ȳ = 3; centred XᵀX = I, Xᵀ(y − ȳ) = [3,2];
    // (I + 1·I) w = [3,2] → w = [1.5, 1]; b = 3 − ½·1.5 − ½·1 = 1.75.
    const model = new RidgeRegression({ alpha: 1 }).fit({ X: Float64Array.of(0, 0, 1, 0, 0, 1, 1, 1), rows: 4, columns: ['a', 'b'], y: [1, 3, 2, 6] })
    expectClose(model.coef, [1.5, 1], 1e-15, 'coef')
    expectClose([model.intercept], [1.75], 1e-15, 'intercept')
    expectClose(model.predict({ X: Float64Array.of(2, -1), rows: 1, columns: ['a', 'b'] }), [1.75 + 3 - 1], 1e-15, 'predict')
  })
})

describe('featureImportance = |coef| × std, normalised', () => {
  // Population standard deviations of the features, computed here from the CSV.
  const std = columns.map((_, c) => {
    const v = cells.map((row) => row[header.indexOf(columns[c]!)]!)
    const m = v.reduce((a, b) => a + b, 0) / v.length
    return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length)
  })
  const expected = (coefRows: number[][]) => {
    const w = columns.map((_, c) => coefRows.reduce((a, row) => a + Math.abs(row[c]!) * std[c]!, 0))
    const s = w.reduce((a, b) => a + b, 0)
    return w.map((v) => v / s)
  }

  it('logistic, multinomial (summed over classes)', () => {
    const r = ref.logistic.find((x) => x.target === 'y_multi' && !x.standardize)!
    const imp = new LogisticRegression({ C: r.C }).fit(data('y_multi')).featureImportance()
    expectClose(columns.map((c) => imp[c]!), expected(r.coef), 1e-6, 'importance')
  })

  it('ridge', () => {
    const r = ref.ridge[0]!
    const imp = new RidgeRegression({ alpha: r.alpha }).fit(data('y_reg')).featureImportance()
    expectClose(columns.map((c) => imp[c]!), expected([r.coef]), 1e-9, 'importance')
    expect(Object.values(imp).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14)
  })

  it('a constant feature gets 0', () => {
    const imp = new RidgeRegression().fit({ X: Float64Array.of(1, 5, 2, 5, 3, 5, 4, 5), rows: 4, columns: ['x', 'k'], y: [1, 2, 2, 4] }).featureImportance()
    expect(imp).toEqual({ x: 1, k: 0 })
  })
})

describe('JSON round trip', () => {
  it('logistic (multinomial, standardised) through modelFromJSON and JSON text', () => {
    const model = new LogisticRegression({ C: 0.2, standardize: true }).fit(data('y_multi'))
    const back = modelFromJSON(JSON.parse(JSON.stringify(model.toJSON())))
    expect(back).toBeInstanceOf(LogisticRegression)
    expect(back.family).toBe('logistic')
    expect(back.task).toBe('classification')
    const m = { X, rows: cells.length, columns }
    expect(Array.from(back.predictProba(m))).toEqual(Array.from(model.predictProba(m)))
    expect(back.featureImportance()).toEqual(model.featureImportance())
  })

  it('ridge through modelFromJSON', () => {
    const model = new RidgeRegression({ alpha: 3, standardize: true }).fit(data('y_reg'))
    const json = JSON.parse(JSON.stringify(model.toJSON()))
    expect(json.type).toBe('ridge')
    const back = modelFromJSON(json)
    expect(back).toBeInstanceOf(RidgeRegression)
    const m = { X, rows: cells.length, columns }
    expect(Array.from(back.predict(m))).toEqual(Array.from(model.predict(m)))
  })

  it('refuses a JSON of the wrong type or shape', () => {
    const json = new RidgeRegression().fit(data('y_reg')).toJSON()
    expect(() => LogisticRegression.fromJSON(json as never)).toThrow(/expected a logistic model/)
    expect(() => RidgeRegression.fromJSON({ ...json, coef: [1, 2] })).toThrow(/"coef" must be 4 finite numbers/)
  })
})

describe('bad input', () => {
  it('NaN feature: ConfigError naming the feature and the row', () => {
    const bad = Float64Array.from(X)
    bad[3 * 4 + 2] = NaN
    expect(() => new LogisticRegression().fit({ X: bad, rows: cells.length, columns, y: target('y_bin') })).toThrow(ConfigError)
    expect(() => new RidgeRegression().fit({ X: bad, rows: cells.length, columns, y: target('y_reg') })).toThrow(/feature x2 is NaN at row 3/)
  })

  it('one class only', () => {
    expect(() => new LogisticRegression().fit({ X, rows: cells.length, columns, y: new Float64Array(cells.length) })).toThrow(/one class only/)
  })

  it('shapes', () => {
    expect(() => new RidgeRegression().fit({ X, rows: cells.length, columns, y: [1, 2] })).toThrow(/y has 2 values/)
    expect(() => new RidgeRegression().fit({ X, rows: cells.length + 1, columns, y: target('y_reg') })).toThrow(ConfigError)
    const model = new RidgeRegression().fit(data('y_reg'))
    expect(() => model.predict({ X: new Float64Array(3), rows: 1, columns: ['x0', 'x1', 'x2'] })).toThrow(/fitted on features/)
  })

  it('ridge has no probabilities; unfitted models say so', () => {
    const model = new RidgeRegression().fit(data('y_reg'))
    expect(() => model.predictProba({ X, rows: cells.length, columns })).toThrow(ConfigError)
    expect(() => new LogisticRegression().predict({ X, rows: cells.length, columns })).toThrow(/not fitted/)
  })

  it('options', () => {
    expect(() => new LogisticRegression({ C: 0 })).toThrow(/C must be a finite number > 0 \(received 0\)/)
    expect(() => new LogisticRegression({ maxIter: 1.5 })).toThrow(/maxIter/)
    expect(() => new RidgeRegression({ alpha: -1 })).toThrow(/alpha must be a finite number ≥ 0 \(received -1\)/)
  })

  it('collinear features with alpha = 0', () => {
    expect(() => new RidgeRegression({ alpha: 0 }).fit({ X: Float64Array.of(1, 2, 2, 4, 3, 6), rows: 3, columns: ['a', 'b'], y: [1, 2, 3] })).toThrow(/singular/)
  })
})
