// The drawdown curve a tracked backtest logs: 1 − equity / running peak at the deepest bar of each block of
// ceil(n / 2,000) bars and at the last, checked on a hand-worked curve and against a plain two-pass
// computation on long ones.

import { describe, expect, it } from 'vitest'
import { CURVE_POINTS, drawdownCurvePoints } from '../../lib/backtest/index.js'

/** The whole drawdown series, then the deepest bar of each block (the first on a tie) and the last: the independent reference. */
function reference(time: Float64Array, equity: Float64Array): { step: number; value: number; timestamp: number }[] {
  const dd: number[] = []
  let peak = -Infinity
  for (const e of equity) {
    peak = Math.max(peak, e)
    dd.push(peak > 0 ? 1 - e / peak : 0)
  }
  const every = Math.max(1, Math.ceil(equity.length / CURVE_POINTS))
  const steps: number[] = []
  for (let from = 0; from < equity.length; from += every) {
    const block = dd.slice(from, from + every)
    steps.push(from + block.indexOf(Math.max(...block)))
  }
  if (steps[steps.length - 1] !== equity.length - 1) steps.push(equity.length - 1)
  return steps.map((i) => ({ step: i, value: dd[i]!, timestamp: time[i]! }))
}

describe('drawdownCurvePoints', () => {
  it('is 1 − equity / running peak at every bar of a short curve (worked by hand)', () => {
    // peaks 100, 120, 120, 130, 130: drawdowns 0, 0, 1 − 90/120 = 0.25, 0, 1 − 65/130 = 0.5
    const points = drawdownCurvePoints(Float64Array.from([1, 2, 3, 4, 5]), Float64Array.from([100, 120, 90, 130, 65]))
    expect(points).toEqual([0, 0, 0.25, 0, 0.5].map((value, i) => ({ key: 'drawdown', value, step: i, timestamp: i + 1 })))
    expect(drawdownCurvePoints(new Float64Array(0), new Float64Array(0))).toEqual([])
  })

  it("keeps each block's deepest bar (the run's trough is on the chart), on curves of 1,999 … 1,000,001 bars", () => {
    for (const n of [1_999, 2_000, 2_001, 4_000, 4_001, 123_457, 1_000_001]) {
      const time = Float64Array.from({ length: n }, (_, i) => 1_700_000_000_000 + i * 60_000)
      let x = 100_000
      const equity = Float64Array.from({ length: n }, (_, i) => (x *= 1 + Math.sin(i * 0.37) * 0.01 + (i % 97 === 0 ? -0.05 : 0)))
      const got = drawdownCurvePoints(time, equity)
      expect(got.map(({ step, value, timestamp }) => ({ step, value, timestamp })), `n ${n}`).toEqual(reference(time, equity))
      expect(got.length).toBeLessThanOrEqual(CURVE_POINTS + 1)
      // The deepest point drawn is the run's maximum drawdown (1 − equity / running peak over every bar).
      let peak = -Infinity
      let maxDrawdown = 0
      for (const e of equity) {
        peak = Math.max(peak, e)
        maxDrawdown = Math.max(maxDrawdown, 1 - e / peak)
      }
      expect(got.reduce((m, p) => Math.max(m, p.value), 0), `n ${n}`).toBe(maxDrawdown)
    }
  })
})
