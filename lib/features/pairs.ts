// Pair features on two aligned price series (log prices are the usual input): rolling OLS hedge
// ratio and intercept by Cov/Var, the spread y − (β·x + α), its rolling z-score, rolling half-life
// of mean reversion, and the z-score's velocity and acceleration. Every value at bar t uses bars
// ≤ t only (checkLookahead holds them to it).

import { ConfigError, DataError } from '../core/index.js'

export interface PairFeatureOptions {
  /** Bars in the hedge-ratio window (default 60). */
  window?: number
  /** Bars in the z-score window of the spread (default: window). */
  zWindow?: number
  /** Bars in the half-life window (default: window). */
  halfLifeWindow?: number
}

export interface PairFeatures {
  beta: Float64Array
  alpha: Float64Array
  spread: Float64Array
  z: Float64Array
  halfLife: Float64Array
  zVelocity: Float64Array
  zAcceleration: Float64Array
}

function checkWindow(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer ≥ ${min} (received ${value})`)
  return value
}

/**
 * Rolling OLS of y on x over n bars, by Cov/Var computed afresh in two passes for every window
 * (exact; O(n) per bar): beta = Σ(x−x̄)(y−ȳ)/Σ(x−x̄)², alpha = ȳ − beta·x̄. NaN until n bars, and for
 * windows holding a NaN.
 */
export function rollingOls(y: ArrayLike<number>, x: ArrayLike<number>, n: number): { beta: Float64Array; alpha: Float64Array } {
  checkWindow('window', n, 2)
  if (y.length !== x.length) throw new DataError(`rollingOls: y has ${y.length} values, x has ${x.length}; expected aligned series`)
  const len = y.length
  const beta = new Float64Array(len).fill(NaN)
  const alpha = new Float64Array(len).fill(NaN)
  for (let t = n - 1; t < len; t++) {
    let mx = 0
    let my = 0
    for (let i = t - n + 1; i <= t; i++) {
      mx += x[i]!
      my += y[i]!
    }
    mx /= n
    my /= n
    let sxy = 0
    let sxx = 0
    for (let i = t - n + 1; i <= t; i++) {
      const dx = x[i]! - mx
      sxy += dx * (y[i]! - my)
      sxx += dx * dx
    }
    const b = sxy / sxx
    beta[t] = b
    alpha[t] = my - b * mx
  }
  return { beta, alpha }
}

/** Rolling z-score over n bars: (v − mean) / sample sd, two passes per window. */
export function rollingZ(v: ArrayLike<number>, n: number): Float64Array {
  checkWindow('zWindow', n, 2)
  const out = new Float64Array(v.length).fill(NaN)
  for (let t = n - 1; t < v.length; t++) {
    let m = 0
    for (let i = t - n + 1; i <= t; i++) m += v[i]!
    m /= n
    let s = 0
    for (let i = t - n + 1; i <= t; i++) s += (v[i]! - m) ** 2
    out[t] = (v[t]! - m) / Math.sqrt(s / (n - 1))
  }
  return out
}

/**
 * Rolling half-life over n bars: OLS of Δs on the lagged s (with a constant) over the last n changes,
 * −ln 2 / slope; Infinity where the slope is ≥ 0 (no reversion).
 */
export function rollingHalfLife(s: ArrayLike<number>, n: number): Float64Array {
  checkWindow('halfLifeWindow', n, 3)
  const out = new Float64Array(s.length).fill(NaN)
  for (let t = n; t < s.length; t++) {
    // changes Δs_i = s_i − s_{i−1} for i = t−n+1 … t, regressed on s_{i−1}
    let mx = 0
    let my = 0
    for (let i = t - n + 1; i <= t; i++) {
      mx += s[i - 1]!
      my += s[i]! - s[i - 1]!
    }
    mx /= n
    my /= n
    let sxy = 0
    let sxx = 0
    for (let i = t - n + 1; i <= t; i++) {
      const dx = s[i - 1]! - mx
      sxy += dx * (s[i]! - s[i - 1]! - my)
      sxx += dx * dx
    }
    const b = sxy / sxx
    out[t] = Number.isNaN(b) ? NaN : b < 0 ? -Math.LN2 / b : Infinity
  }
  return out
}

/** Every pair feature at once. */
export function pairFeatures(y: ArrayLike<number>, x: ArrayLike<number>, options: PairFeatureOptions = {}): PairFeatures {
  const window = options.window ?? 60
  const { beta, alpha } = rollingOls(y, x, window)
  const spread = new Float64Array(y.length)
  for (let t = 0; t < y.length; t++) spread[t] = y[t]! - (beta[t]! * x[t]! + alpha[t]!)
  // The z-score window starts where the spread does.
  const z = new Float64Array(y.length).fill(NaN)
  const halfLife = new Float64Array(y.length).fill(NaN)
  if (window <= y.length) {
    z.set(rollingZ(spread.subarray(window - 1), options.zWindow ?? window), window - 1)
    halfLife.set(rollingHalfLife(spread.subarray(window - 1), options.halfLifeWindow ?? window), window - 1)
  }
  const zVelocity = new Float64Array(y.length).fill(NaN)
  const zAcceleration = new Float64Array(y.length).fill(NaN)
  for (let t = 1; t < y.length; t++) zVelocity[t] = z[t]! - z[t - 1]!
  for (let t = 2; t < y.length; t++) zAcceleration[t] = zVelocity[t]! - zVelocity[t - 1]!
  return { beta, alpha, spread, z, halfLife, zVelocity, zAcceleration }
}
