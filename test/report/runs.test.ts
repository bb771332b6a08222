// Curve decimation for charts: a hand-worked case, and extremes kept on a long series.

import { describe, expect, it } from 'vitest'
import { decimate } from '../../lib/report/index.js'

const points = (values: number[]) => values.map((value, step) => ({ key: 'equity', value, step, timestamp: step * 1000 }))

describe('decimate', () => {
  it('keeps the lowest and highest of each bucket in order, and the first and last point', () => {
    // Inner points 1..8 in two buckets: [5, 1, 9, 2] → 1 then 9; [8, 3, 7, 4] → 8 then 3.
    const out = decimate(points([0, 5, 1, 9, 2, 8, 3, 7, 4, 6]), 2)
    expect(out.map((p) => p.step)).toEqual([0, 2, 3, 5, 6, 9])
    expect(out.map((p) => p.value)).toEqual([0, 1, 9, 8, 3, 6])
  })

  it('leaves short series alone except for non-finite values', () => {
    expect(decimate(points([1, NaN, 3, Infinity, 5]), 10).map((p) => p.value)).toEqual([1, 3, 5])
  })

  it('never loses a spike or a trough of a long series', () => {
    const values = Array.from({ length: 2000 }, (_, i) => 100 + Math.sin(i / 50))
    values[537] = 1e6
    values[1222] = -1e6
    const out = decimate(points(values), 380)
    expect(out.length).toBeLessThanOrEqual(2 * 380 + 2)
    expect(out.find((p) => p.value === 1e6)?.step).toBe(537)
    expect(out.find((p) => p.value === -1e6)?.step).toBe(1222)
    const steps = out.map((p) => p.step)
    expect(steps).toEqual([...steps].sort((a, b) => a - b))
    expect(steps[0]).toBe(0)
    expect(steps.at(-1)).toBe(1999)
  })
})
