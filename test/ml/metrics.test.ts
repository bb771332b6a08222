// Metrics on hand-worked examples (the ROC/PR case is scikit-learn's documented one: AUC 0.75, AP 0.83).

import { describe, expect, it } from 'vitest'
import { accuracy, confusion, directionalAccuracy, f1, logLoss, mae, prAuc, precision, recall, rmse, rocAuc } from '../../lib/ml/index.js'

describe('classification', () => {
  const y = [1, 1, 0, 0, 1]
  const p = [1, 0, 1, 0, 1]
  it('counts: tp 2, fn 1, fp 1, tn 1', () => {
    expect(confusion(y, p)).toEqual({ tp: 2, fn: 1, fp: 1, tn: 1 })
    expect(accuracy(y, p)).toBe(3 / 5)
    expect(precision(y, p)).toBe(2 / 3)
    expect(recall(y, p)).toBe(2 / 3)
    expect(f1(y, p)).toBe(2 / 3)
    expect(precision([1, 0], [0, 0])).toBe(0)
    expect(f1([1, 1, 1, 0], [1, 0, 0, 0])).toBeCloseTo(2 / (2 + 0 + 2), 15)
  })

  it('ROC AUC: 3 of 4 positive–negative pairs ordered; ties count one half', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75)
    expect(rocAuc([0, 1], [0.5, 0.5])).toBe(0.5)
    // Positives 0.5, 0.9; negatives 0.5, 0.2: pairs (0.5,0.5) ½, (0.5,0.2) 1, (0.9,·) 1 + 1 → 3.5 / 4.
    expect(rocAuc([1, 1, 0, 0], [0.5, 0.9, 0.5, 0.2])).toBe(0.875)
    expect(() => rocAuc([1, 1], [0.2, 0.3])).toThrow(/both classes/)
  })

  it('PR AUC as average precision: ½ × 1 + ½ × ⅔', () => {
    expect(prAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(5 / 6, 15)
    expect(prAuc([1, 0, 1], [0.9, 0.9, 0.1])).toBeCloseTo(0.5 * 0.5 + 0.5 * (2 / 3), 15)
  })

  it('log loss: −(ln 0.8 + ln 0.7) / 2, clipped at the ends', () => {
    expect(logLoss([1, 0], [0.8, 0.3])).toBeCloseTo((0.2231435513142097 + 0.35667494393873245) / 2, 15)
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-15), 10)
    expect(() => logLoss([1], [1.2])).toThrow(/probability 0 must be in \[0, 1\]/)
  })

  it('refuses labels that are not 0/1 and arrays of different lengths', () => {
    expect(() => precision([2, 0], [1, 0])).toThrow(/label 0 must be 0 or 1 \(received 2\)/)
    expect(() => accuracy([1, 0], [1])).toThrow(/2 labels but 1 predictions/)
  })
})

describe('regression and direction', () => {
  it('RMSE √(4/3) and MAE ⅔ for one miss of 2 in 3', () => {
    expect(rmse([1, 2, 3], [1, 2, 5])).toBeCloseTo(Math.sqrt(4 / 3), 15)
    expect(mae(Float64Array.from([1, 2, 3]), Float64Array.from([1, 2, 5]))).toBeCloseTo(2 / 3, 15)
  })

  it('directional accuracy over rows with a forecast and a move: 2 of 3', () => {
    expect(directionalAccuracy([0.01, -0.02, 0.03, 0, -0.01], [0.5, 0.1, 0.2, 0.3, 0])).toBeCloseTo(2 / 3, 15)
    expect(directionalAccuracy([0], [1])).toBeNaN()
  })
})
