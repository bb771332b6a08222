// Splitters: walk-forward against scikit-learn's TimeSeriesSplit worked by hand; purged k-fold and
// combinatorial purged CV worked by hand on a 2-bar forward label, and a brute-force check on random
// label windows that no training row's label window overlaps a test row's.

import { describe, expect, it } from 'vitest'
import { combinatorialPurgedCV, cpcvPaths, purgedKFold, walkForward, type Split } from '../../lib/ml/index.js'
import { seededRandom } from '../../lib/core/index.js'

const arr = (a: Int32Array) => Array.from(a)
const plain = (splits: Split[]) => splits.map((s) => ({ train: arr(s.train), test: arr(s.test) }))
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i)

describe('walkForward', () => {
  it('matches TimeSeriesSplit(n_splits=3) on 10 rows: test size ⌊10/4⌋ = 2, the last 6 rows tested', () => {
    expect(plain(walkForward({ n: 10, nSplits: 3 }))).toEqual([
      { train: [0, 1, 2, 3], test: [4, 5] },
      { train: [0, 1, 2, 3, 4, 5], test: [6, 7] },
      { train: [0, 1, 2, 3, 4, 5, 6, 7], test: [8, 9] },
    ])
  })

  it('leaves a gap before each test window, and rolls a fixed training window', () => {
    expect(plain(walkForward({ n: 10, nSplits: 3, gap: 1 })).map((s) => s.train)).toEqual([[0, 1, 2], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6]])
    expect(plain(walkForward({ n: 10, nSplits: 3, maxTrainSize: 3 })).map((s) => s.train)).toEqual([[1, 2, 3], [3, 4, 5], [5, 6, 7]])
    expect(plain(walkForward({ n: 12, nSplits: 2, testSize: 3, gap: 2, maxTrainSize: 4 }))).toEqual([
      { train: [0, 1, 2, 3], test: [6, 7, 8] },
      { train: [3, 4, 5, 6], test: [9, 10, 11] },
    ])
  })

  it('purges training rows whose label reaches into the test window (an audit: h-bar labels leaked the test bars)', () => {
    // Row i's label uses rows i…i+2 (the last rows' labels end at row 9).
    const labelEnd = upTo(10).map((i) => Math.min(i + 2, 9))
    expect(plain(walkForward({ n: 10, nSplits: 3, labelEnd }))).toEqual([
      { train: [0, 1], test: [4, 5] },
      { train: [0, 1, 2, 3], test: [6, 7] },
      { train: [0, 1, 2, 3, 4, 5], test: [8, 9] },
    ])
    // Same-bar labels purge nothing: TimeSeriesSplit's splits.
    expect(plain(walkForward({ n: 10, nSplits: 3, labelEnd: upTo(10) }))).toEqual(plain(walkForward({ n: 10, nSplits: 3 })))
    expect(() => walkForward({ n: 10, nSplits: 3, labelEnd: upTo(10).map(() => 9) })).toThrow(/split 1 has no training row whose label ends before its test window \(row 4\)/)
    expect(() => walkForward({ n: 10, nSplits: 3, labelEnd: [1, 2] })).toThrow('labelEnd has 2 entries; expected one per row (10)')
    // A rolling window counts the rows left after the purge, as after a gap (a review: it purged inside the window).
    expect(plain(walkForward({ n: 10, nSplits: 3, labelEnd, maxTrainSize: 2 })).map((s) => s.train)).toEqual([[0, 1], [2, 3], [4, 5]])
    expect(plain(walkForward({ n: 10, nSplits: 3, labelEnd, maxTrainSize: 2 })).map((s) => s.train)).toEqual(plain(walkForward({ n: 10, nSplits: 3, gap: 2, maxTrainSize: 2 })).map((s) => s.train))
  })

  it('refuses settings that leave nothing to train on', () => {
    expect(() => walkForward({ n: 6, nSplits: 3, testSize: 2 })).toThrow(/no training rows/)
    expect(() => walkForward({ n: 10, nSplits: 0 })).toThrow(/nSplits must be an integer ≥ 1 \(received 0\)/)
  })
})

describe('purgedKFold', () => {
  // Each label is the return over the next two bars: row i's label uses rows i…i+2.
  const labelEnd = upTo(10).map((i) => Math.min(i + 2, 9))

  it('purges training rows whose label reaches into the test fold, and embargoes the row after its label span', () => {
    const splits = plain(purgedKFold({ n: 10, k: 5, labelEnd, embargo: 1 }))
    expect(splits.map((s) => s.test)).toEqual([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]])
    // Test 0–1 spans rows 0–3 (row 1's label reaches 3): rows 2 and 3 lie inside the span, row 4 is embargoed.
    expect(splits[0]!.train).toEqual([5, 6, 7, 8, 9])
    // Test 4–5 spans rows 4–7: rows 2 and 3 reach into it, rows 6 and 7 lie inside it, row 8 is embargoed.
    expect(splits[2]!.train).toEqual([0, 1, 9])
    // Test 8–9: rows 6 and 7 reach into it; nothing after it to embargo.
    expect(splits[4]!.train).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('without look-ahead or embargo is plain k-fold', () => {
    expect(plain(purgedKFold({ n: 7, k: 3 }))).toEqual([
      { train: [3, 4, 5, 6], test: [0, 1, 2] },
      { train: [0, 1, 2, 5, 6], test: [3, 4] },
      { train: [0, 1, 2, 3, 4], test: [5, 6] },
    ])
  })

  it('an embargo below 1 is a fraction of the rows', () => {
    // 0.1 × 20 = 2 rows after the test block 0–3.
    expect(plain(purgedKFold({ n: 20, k: 5, embargo: 0.1 }))[0]!.train.slice(0, 2)).toEqual([6, 7])
  })
})

describe('combinatorialPurgedCV', () => {
  it('tests every pair of 6 groups once: 15 splits, each group in 5, 5 paths', () => {
    const splits = combinatorialPurgedCV({ n: 12, groups: 6, testGroups: 2 })
    expect(splits).toHaveLength(15)
    expect(splits[0]).toMatchObject({ groups: [0, 1] })
    expect(arr(splits[0]!.test)).toEqual([0, 1, 2, 3])
    expect(arr(splits[0]!.train)).toEqual([4, 5, 6, 7, 8, 9, 10, 11])
    for (let g = 0; g < 6; g++) expect(splits.filter((s) => s.groups.includes(g))).toHaveLength(5)
    expect(cpcvPaths(6, 2)).toBe(5)
    expect(cpcvPaths(10, 2)).toBe(9)
  })

  it('purges around each test group separately', () => {
    const labelEnd = upTo(12).map((i) => Math.min(i + 1, 11))
    // Groups of 2; test groups 1 (rows 2–3, span 2–4) and 4 (rows 8–9, span 8–10); embargo 1.
    const split = combinatorialPurgedCV({ n: 12, groups: 6, testGroups: 2, labelEnd, embargo: 1 }).find((s) => s.groups.join() === '1,4')!
    expect(arr(split.test)).toEqual([2, 3, 8, 9])
    // Row 1 reaches row 2; row 4 is inside the span, row 5 embargoed; row 7 reaches 8; row 10 inside, row 11 embargoed.
    expect(arr(split.train)).toEqual([0, 6])
  })
})

describe('no training label window overlaps a test label window (brute force)', () => {
  it('holds for random label horizons, k-fold and combinatorial, with and without embargo', () => {
    const rng = seededRandom(7)
    for (let trial = 0; trial < 40; trial++) {
      const n = 30 + Math.floor(rng.next() * 70)
      const labelEnd = upTo(n).map((i) => Math.min(n - 1, i + Math.floor(rng.next() * 6)))
      const embargo = trial % 2 === 0 ? 0 : 1 + Math.floor(rng.next() * 3)
      const splits: Split[] = [...purgedKFold({ n, k: 2 + (trial % 5), labelEnd, embargo }), ...combinatorialPurgedCV({ n, groups: 5, testGroups: 2, labelEnd, embargo })]
      for (const s of splits) {
        const test = arr(s.test)
        for (const i of arr(s.train)) {
          expect(test.includes(i)).toBe(false)
          for (const j of test) {
            const disjoint = labelEnd[i]! < j || labelEnd[j]! < i
            if (!disjoint) throw new Error(`trial ${trial}: train row ${i} (to ${labelEnd[i]}) overlaps test row ${j} (to ${labelEnd[j]})`)
          }
          // Embargo: no training row within `embargo` rows after the label span of a test block (its rows and their labels).
          for (const j of test) {
            if (test.includes(j + 1)) continue
            let first = j
            while (test.includes(first - 1)) first--
            let spanEnd = j
            for (let r = first; r <= j; r++) spanEnd = Math.max(spanEnd, labelEnd[r]!)
            if (i > spanEnd && i <= spanEnd + embargo) throw new Error(`trial ${trial}: row ${i} is in the embargo after ${spanEnd}`)
          }
        }
      }
      // k-fold test folds partition the rows.
      const folds = purgedKFold({ n, k: 4, labelEnd }).flatMap((s) => arr(s.test))
      expect(folds).toEqual(upTo(n))
    }
  })
})
