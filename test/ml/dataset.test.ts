// The dataset builder on a hand-made series: NaN rows dropped, row-major values, label windows mapped
// onto dataset rows so that purged CV on the dataset purges what overlaps in bars.

import { describe, expect, it } from 'vitest'
import { column, makeDataset, purgedKFold, takeRows } from '../../lib/ml/index.js'

describe('makeDataset', () => {
  // Bars 0…7; bar 2 has no feature, bar 5 no label; labels look 2 bars ahead.
  const a = [1, 2, NaN, 4, 5, 6, 7, 8]
  const b = [10, 20, 30, 40, 50, 60, 70, 80]
  const label = [1, 0, 1, 1, 0, NaN, 1, 0]
  const ds = makeDataset({ features: { a, b }, label, horizon: 2, time: [100, 101, 102, 103, 104, 105, 106, 107] })

  it('drops rows with a NaN and stores the rest row-major', () => {
    expect(ds.rows).toBe(6)
    expect(Array.from(ds.index)).toEqual([0, 1, 3, 4, 6, 7])
    expect(Array.from(ds.X)).toEqual([1, 10, 2, 20, 4, 40, 5, 50, 7, 70, 8, 80])
    expect(Array.from(ds.y)).toEqual([1, 0, 1, 0, 1, 0])
    expect(Array.from(ds.time!)).toEqual([100, 101, 103, 104, 106, 107])
    expect(Array.from(column(ds, 'b'))).toEqual([10, 20, 40, 50, 70, 80])
  })

  it('maps each label window (bar i … i+2) to the last dataset row inside it', () => {
    // Bar 0 → bars 0–2 → rows up to bar 1 (row 1); bar 1 → 1–3 → row 2 (bar 3); bar 3 → 3–5 → row 3 (bar 4);
    // bar 4 → 4–6 → row 4 (bar 6); bar 6 → 6–8 → row 5; bar 7 → row 5.
    expect(Array.from(ds.labelEnd)).toEqual([1, 2, 3, 4, 5, 5])
  })

  it('maps per-bar horizons (triple-barrier exits) whose ends are out of order', () => {
    // Bar 0 looks 5 ahead (to bar 5), bar 1 only 1 (to bar 2), bar 2 none, bar 3 to bar 6, bar 4 none.
    const d = makeDataset({ features: { x: [0, 1, 2, 3, 4] }, label: [1, 0, 1, 0, 1], horizon: [5, 1, 0, 3, 0] })
    expect(Array.from(d.labelEnd)).toEqual([4, 2, 2, 4, 4])
  })

  it('feeds the purged splitter: a training row never reaches a test bar', () => {
    for (const split of purgedKFold({ n: ds.rows, k: 3, labelEnd: ds.labelEnd })) {
      const testBars = Array.from(split.test, (r) => ds.index[r]!)
      for (const r of split.train) {
        const from = ds.index[r]!
        expect(testBars.some((t) => t >= from && t <= from + 2)).toBe(false)
      }
    }
  })

  it('takes rows as a dataset of their own, and names bad input', () => {
    const sub = takeRows(ds, [4, 1])
    expect(Array.from(sub.X)).toEqual([7, 70, 2, 20])
    expect(Array.from(sub.index)).toEqual([6, 1])
    expect(() => takeRows(ds, [6])).toThrow(/row 6 is outside the dataset \(0…5\)/)
    expect(() => makeDataset({ features: { a: [1, 2] }, label: [1] })).toThrow(/feature a has 2 rows; the label has 1/)
    expect(() => makeDataset({ features: { a: [1] }, label: [1], horizon: -1 })).toThrow(/horizon must be an integer ≥ 0 \(received -1\)/)
    expect(() => column(ds, 'c')).toThrow(/no feature "c" \(features: a, b\)/)
  })
})
