// Pareto geometry against hand-worked examples: dominance, non-dominated fronts, crowding distances,
// exact hypervolumes (2-D by hand, 3-D by inclusion–exclusion, 3-/4-D against counting unit cells).

import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { crowdingDistance, dominates, hypervolume, nonDominatedSort, paretoFront } from '../../lib/tune/index.js'
import type { TrialRecord } from '../../lib/tune/index.js'

describe('dominance and sorting', () => {
  it('dominates means no worse everywhere and better somewhere', () => {
    expect(dominates([1, 2], [2, 2])).toBe(true)
    expect(dominates([1, 2], [1, 2])).toBe(false)
    expect(dominates([1, 3], [2, 2])).toBe(false)
    expect(dominates([0, 0, 0], [0, 0, 1])).toBe(true)
  })

  it('sorts a hand-built set into its fronts', () => {
    // Front 0: a(1,5) b(2,3) c(4,1); front 1: d(3,4) e(5,2) (d is dominated by b, e by c); front 2: f(6,6).
    const points = [
      [3, 4], // 0 d
      [1, 5], // 1 a
      [6, 6], // 2 f
      [2, 3], // 3 b
      [5, 2], // 4 e
      [4, 1], // 5 c
    ]
    expect(nonDominatedSort(points)).toEqual([[1, 3, 5], [0, 4], [2]])
  })

  it('puts equal points on the same front', () => {
    expect(nonDominatedSort([[1, 1], [1, 1], [2, 2]])).toEqual([[0, 1], [2]])
  })
})

describe('crowding distance (Optuna definition)', () => {
  it('matches a hand computation on a four-point front', () => {
    // Objective 0 sorted 1,2,3,5 (range 4): inner gaps (3-1)/4 and (5-2)/4; objective 1 mirrors it.
    const d = crowdingDistance([[1, 5], [2, 3], [3, 2], [5, 1]])
    expect(d[0]).toBe(Infinity)
    expect(d[3]).toBe(Infinity)
    expect(d[1]).toBeCloseTo(0.5 + 0.75, 12)
    expect(d[2]).toBeCloseTo(0.75 + 0.5, 12)
  })

  it('adds nothing for an objective where all points are equal', () => {
    // Objective 1 is constant; objective 0 sorted 0,1,4: the middle gets (4-0)/4.
    const d = crowdingDistance([[0, 7], [1, 7], [4, 7]])
    expect([...d]).toEqual([Infinity, 1, Infinity])
  })

  it('ties keep the order of the previous objective\'s sort, as Optuna\'s in-place stable sort does', () => {
    // Objective 0 sorts the points 0, 1, 4, 2, 3 (values 0, 1, 1.5, 2, 3; range 3): inner gaps 1.5/3, 1/3, 1.5/3.
    // Objective 1 (range 5) sorts that order stably: 3 (0), then the tied 1, 4, 2 (3) in it, then 0 (5): point
    // 1 gets (3 − 0)/5, point 4 (3 − 3)/5, point 2 (5 − 3)/5. Sorted afresh with ties by index (1, 2, 4), the
    // gaps went to other points: 1.1, 0.5, 0.733 (a numbers audit against Optuna's code).
    const d = crowdingDistance([[0, 5], [1, 3], [2, 3], [3, 0], [1.5, 3]])
    expect(d[0]).toBe(Infinity)
    expect(d[3]).toBe(Infinity)
    expect(d[1]).toBeCloseTo(0.5 + 0.6, 12)
    expect(d[2]).toBeCloseTo(0.5 + 0.4, 12)
    expect(d[4]).toBeCloseTo(1 / 3 + 0, 12)
  })
})

describe('hypervolume', () => {
  it('2-D: three staircase points, by hand', () => {
    // Boxes up to (4,4): (1,3) adds 3×1, (2,2) adds 2×1 more, (3,1) adds 1×1 more.
    expect(hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4])).toBe(6)
  })

  it('2-D: dominated, duplicate and out-of-reference points add nothing', () => {
    expect(hypervolume([[1, 3], [2, 2], [3, 1], [3, 3], [2, 2], [5, 0], [0, 4]], [4, 4])).toBe(6)
    expect(hypervolume([], [1, 1])).toBe(0)
  })

  it('3-D: inclusion–exclusion by hand', () => {
    // p1 (1,1,3) box 3·3·1 = 9, p2 (2,2,1) box 2·2·3 = 12, p1∩p2 = (2,2,3) → 2·2·1 = 4.
    expect(hypervolume([[1, 1, 3], [2, 2, 1]], [4, 4, 4])).toBe(17)
    // + p3 (3,1,2) box 1·3·2 = 6; p1∩p3 = (3,1,3) → 3, p2∩p3 = (3,2,2) → 4, all three (3,2,3) → 2.
    expect(hypervolume([[1, 1, 3], [2, 2, 1], [3, 1, 2]], [4, 4, 4])).toBe(9 + 12 + 6 - 4 - 3 - 4 + 2)
  })

  it('3-D and 4-D: equals the count of dominated unit cells on random integer fronts', () => {
    const rng = seededRandom(7)
    for (const dims of [3, 4]) {
      for (let rep = 0; rep < 5; rep++) {
        const ref = Array.from({ length: dims }, () => 6)
        const points = Array.from({ length: 8 }, () => Array.from({ length: dims }, () => Math.floor(rng.next() * 6)))
        // Oracle: a unit cell [c, c+1)^d is covered when some point is ≤ c in every coordinate.
        let cells = 0
        const c = new Array(dims).fill(0)
        const total = 6 ** dims
        for (let i = 0; i < total; i++) {
          let r = i
          for (let k = 0; k < dims; k++) {
            c[k] = r % 6
            r = Math.floor(r / 6)
          }
          if (points.some((p) => p.every((x, k) => x <= c[k]))) cells++
        }
        expect(hypervolume(points, ref)).toBe(cells)
      }
    }
  })

  it('rejects a reference of the wrong size and NaN points', () => {
    expect(() => hypervolume([[1, 2, 3]], [4, 4])).toThrow(/2 objectives like the reference/)
    expect(() => hypervolume([[NaN, 1]], [4, 4])).toThrow(/NaN/)
  })
})

describe('paretoFront', () => {
  const trial = (number: number, values: number[] | undefined, state: TrialRecord['state'] = 'complete') => ({ number, state, values })

  it('keeps the non-dominated complete trials, in trial order', () => {
    const trials = [trial(0, [1, 5]), trial(1, [3, 4]), trial(2, [2, 3]), trial(3, [0, 0], 'failed'), trial(4, [4, 1]), trial(5, [2, 3])]
    expect(paretoFront(trials).map((t) => t.number)).toEqual([0, 2, 4, 5])
  })

  it('flips maximised objectives', () => {
    // Maximise the first, minimise the second: (3,6) is worse than (3,4) in the second only, so dominated;
    // (3,4) trades a lower first value for a lower second against (5,5), so it stays.
    const trials = [trial(0, [5, 5]), trial(1, [1, 1]), trial(2, [3, 4]), trial(3, [3, 6])]
    expect(paretoFront(trials, ['maximize', 'minimize']).map((t) => t.number)).toEqual([0, 1, 2])
  })
})
