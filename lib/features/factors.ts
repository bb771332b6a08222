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

/**
 * The factor set at one bar i — what factorSet(bars)[name][i] holds — from the windows ending at i alone:
 * O(Σ windows) per bar instead of a pass over the whole series (the backtest's factors.csv needs it at each
 * entry only). The same formulas and the same summation order as the indicators (the least-squares line in
 * two passes over the window, oldest bar first); the efficiency ratio's path is summed directly where the
 * indicator keeps a running sum, so the two agree to the last few bits.
 */
export function factorsAt(bars: FactorBars, i: number, options: { windows?: readonly number[] } = {}): Record<string, number> {
  const windows = options.windows ?? DEFAULT_WINDOWS
  const names = factorNames(windows)
  const values = new Float64Array(names.length)
  factorsInto(bars, i, values, 0, windows)
  const out: Record<string, number> = {}
  for (let k = 0; k < names.length; k++) out[names[k]!] = values[k]!
  return out
}

const NAMES = new Map<string, readonly string[]>()

/** The names of factorsAt's values, in the order factorsInto writes them: per window range, trend, slope, r2; then ret_1, ret_5, ret_20. */
export function factorNames(windows: readonly number[] = DEFAULT_WINDOWS): readonly string[] {
  const key = windows.join(',')
  let names = NAMES.get(key)
  if (names === undefined) {
    names = Object.freeze([...windows.flatMap((w) => [`range_${w}`, `trend_${w}`, `slope_${w}`, `r2_${w}`]), 'ret_1', 'ret_5', 'ret_20'])
    NAMES.set(key, names)
  }
  return names
}

/**
 * factorsAt's values at bar i written into out[at …] (factorNames' order), with no object or key per call:
 * a backtest writes each trade's entry factors straight into its factor columns.
 */
export function factorsInto(bars: FactorBars, i: number, out: Float64Array, at: number, windows: readonly number[] = DEFAULT_WINDOWS): void {
  const { high, low, close } = bars
  const c = close[i]!
  let o = at
  for (let wi = 0; wi < windows.length; wi++) {
    const w = windows[wi]!
    // The least-squares line through the last n = max(2, w) closes against bar number.
    const n = Math.max(2, w)
    let range = NaN
    let trend = NaN
    let mean = NaN
    if (n === w && i >= w - 1) {
      // One pass over the window for the range, the efficiency ratio's path and the closes' sum, each
      // summed oldest bar first as the separate loops (and the indicators) do: the same values to the bit.
      let hi = -Infinity
      let lo = Infinity
      let missing = false
      let path = 0
      let sum = 0
      const withPath = i >= w
      for (let k = i - w + 1; k <= i; k++) {
        const h = high[k]!
        const l = low[k]!
        const x = close[k]!
        if (h !== h || l !== l) missing = true
        if (h > hi) hi = h
        if (l < lo) lo = l
        if (withPath) path += Math.abs(x - close[k - 1]!)
        sum += x
      }
      range = missing ? NaN : (hi - lo) / c
      if (withPath) trend = Math.abs(c - close[i - w]!) / path
      mean = sum / n
    } else {
      range = rangeAt(high, low, c, i, w)
      trend = trendAt(close, c, i, w)
      if (i >= n - 1) {
        let sum = 0
        for (let j = i - n + 1; j <= i; j++) sum += close[j]!
        mean = sum / n
      }
    }
    out[o++] = range
    out[o++] = trend
    let slope = NaN
    let r2 = NaN
    if (i >= n - 1) {
      const xMean = (n - 1) / 2
      // Σ (j − x̄)² over j = 0 … n−1 is n(n² − 1)/12: multiples of ¼ summed exactly, so the loop's value.
      const sxx = (n * (n * n - 1)) / 12
      const from = i - n + 1
      let sxy = 0
      let syy = 0
      for (let j = 0; j < n; j++) {
        const dy = close[from + j]! - mean
        sxy += (j - xMean) * dy
        syy += dy * dy
      }
      r2 = syy === 0 ? NaN : (sxy * sxy) / (sxx * syy)
      slope = sxy / sxx / c
    }
    out[o++] = slope
    out[o++] = r2
  }
  out[o++] = i >= 1 ? c / close[i - 1]! - 1 : NaN
  out[o++] = i >= 5 ? c / close[i - 5]! - 1 : NaN
  out[o++] = i >= 20 ? c / close[i - 20]! - 1 : NaN
}

/** (highest high − lowest low over the w bars ending at i) / c; NaN before w bars or when one is NaN. */
function rangeAt(high: Float64Array, low: Float64Array, c: number, i: number, w: number): number {
  if (i < w - 1) return NaN
  let hi = -Infinity
  let lo = Infinity
  for (let k = i - w + 1; k <= i; k++) {
    const h = high[k]!
    const l = low[k]!
    if (h !== h || l !== l) return NaN
    if (h > hi) hi = h
    if (l < lo) lo = l
  }
  return (hi - lo) / c
}

/** Kaufman's efficiency ratio: |c_i − c_{i−w}| / Σ |c_k − c_{k−1}| over the w changes ending at i. */
function trendAt(close: Float64Array, c: number, i: number, w: number): number {
  if (i < w) return NaN
  let path = 0
  for (let k = i - w + 1; k <= i; k++) path += Math.abs(close[k]! - close[k - 1]!)
  return Math.abs(c - close[i - w]!) / path
}
