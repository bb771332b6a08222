// Factors for models and screens: range and trendiness over several windows, the slope of the
// best-fit line, lags and returns. Each value at bar t uses bars ≤ t.

import { ConfigError } from '../core/index.js'
import { INDICATORS } from '../indicators/index.js'

export interface FactorBars {
  high: Float64Array
  low: Float64Array
  close: Float64Array
}

/** x shifted k bars later: out[t] = x[t − k] (NaN for the first k). */
export function lag(x: ArrayLike<number>, k = 1): Float64Array {
  if (!Number.isInteger(k) || k < 0) throw new ConfigError(`lag must be an integer ≥ 0 (received ${k})`)
  const out = new Float64Array(x.length).fill(NaN)
  for (let t = k; t < x.length; t++) out[t] = x[t - k]!
  return out
}

/** Simple return over k bars: x[t] / x[t − k] − 1. */
export function pctChange(x: ArrayLike<number>, k = 1): Float64Array {
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`return horizon must be an integer ≥ 1 (received ${k})`)
  const out = new Float64Array(x.length).fill(NaN)
  for (let t = k; t < x.length; t++) out[t] = x[t]! / x[t - k]! - 1
  return out
}

/** Log return over k bars: ln x[t] − ln x[t − k]. */
export function logReturn(x: ArrayLike<number>, k = 1): Float64Array {
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`return horizon must be an integer ≥ 1 (received ${k})`)
  const out = new Float64Array(x.length).fill(NaN)
  for (let t = k; t < x.length; t++) out[t] = Math.log(x[t]!) - Math.log(x[t - k]!)
  return out
}

export const DEFAULT_WINDOWS = [10, 20, 30, 50, 100] as const

/**
 * The factor set over each window n: range_n = (highest high − lowest low)/close, trend_n = Kaufman's
 * efficiency ratio (0 chop … 1 straight line), slope_n = slope of the least-squares line through the
 * closes per bar, relative to the close (so comparable across prices), r2_n = that line's R²; plus
 * ret_1, ret_5, ret_20 (simple returns).
 */
export function factorSet(bars: FactorBars, options: { windows?: readonly number[] } = {}): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {}
  for (const n of options.windows ?? DEFAULT_WINDOWS) {
    out[`range_${n}`] = INDICATORS.range!.compute(bars, { period: n }).value!
    out[`trend_${n}`] = INDICATORS.efficiencyRatio!.compute(bars, { period: n }).value!
    const fit = INDICATORS.linreg!.compute(bars, { period: Math.max(2, n) })
    out[`slope_${n}`] = fit.slope!.map((s, t) => s / bars.close[t]!)
    out[`r2_${n}`] = fit.r2!
  }
  for (const k of [1, 5, 20]) out[`ret_${k}`] = pctChange(bars.close, k)
  return out
}
