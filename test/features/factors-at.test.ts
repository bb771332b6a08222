// factorsAt(bars, i) — the factor set at one bar from the windows ending there — against factorSet over the
// whole series at the same bar: the least-squares line, the range and the returns bit for bit, the
// efficiency ratio (a direct sum where the indicator keeps a running one) to 1e-12; NaN exactly where the
// series version has not enough bars yet.

import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { factorsAt, factorSet } from '../../lib/features/index.js'

describe('factorsAt', () => {
  it('equals factorSet at every bar checked, NaNs included', () => {
    const rng = seededRandom(7)
    const n = 3000
    const close = new Float64Array(n)
    const high = new Float64Array(n)
    const low = new Float64Array(n)
    let p = 100
    for (let i = 0; i < n; i++) {
      p *= 1 + 0.01 * rng.normal()
      close[i] = p
      high[i] = p * (1 + 0.005 * Math.abs(rng.normal()))
      low[i] = p * (1 - 0.005 * Math.abs(rng.normal()))
    }
    const bars = { high, low, close }
    const all = factorSet(bars)
    const names = Object.keys(all)
    for (const i of [0, 1, 4, 5, 9, 10, 19, 20, 29, 49, 50, 99, 100, 101, 777, 2999]) {
      const at = factorsAt(bars, i)
      expect(Object.keys(at)).toEqual(names)
      for (const name of names) {
        const want = all[name]![i]!
        const got = at[name]!
        if (Number.isNaN(want)) expect(got, `${name} at ${i}`).toBeNaN()
        else if (name.startsWith('trend_')) expect(Math.abs(got - want), `${name} at ${i}`).toBeLessThan(1e-12)
        else expect(got, `${name} at ${i}`).toBe(want)
      }
    }
  })
})
