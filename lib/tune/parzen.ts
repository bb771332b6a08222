// The univariate Parzen estimator of Optuna's TPE: a mixture of truncated normals (numeric parameters,
// on the log scale for log ranges, with interval masses for stepped ones) or of smoothed one-hot rows
// (categorical), plus a prior component. Bandwidths follow Optuna's defaults: the larger gap to a
// sorted neighbour, the end points not counted as neighbours, "magic" clipping to [range/min(100, n+1),
// range]. The continuous density leaves out each component's 1/σ by default, as Optuna up to 3.4 did
// (Debian's optuna 3.1 included); Optuna 3.5 put it back (PR #5110). Here the old form found better
// optima on Branin and the 10-d sphere, and it is the one the benchmark's reference runs; `normalized`
// gives the corrected one.

import type { Random } from '../core/index.js'
import { LOG_SQRT_2PI, logGaussMass, truncatedNormal } from './normal.js'
import { untransform, type Distribution } from './space.js'

export interface ParzenOptions {
  /** Weight of the prior component (a wide normal, or a uniform row). */
  priorWeight: number
  considerMagicClip: boolean
  considerEndpoints: boolean
  /** Components as normalised densities (with 1/σ, Optuna ≥ 3.5) instead of Optuna ≤ 3.4's form. */
  normalized: boolean
}

export const PARZEN_DEFAULTS: ParzenOptions = { priorWeight: 1, considerMagicClip: true, considerEndpoints: false, normalized: false }

/** Optuna's default_weights: equal for the newest 25 observations, a ramp from 1/n up for older ones. */
export function defaultWeights(n: number): Float64Array {
  const w = new Float64Array(n).fill(1)
  if (n >= 25) {
    const m = n - 25
    // numpy.linspace(1/n, 1, m)
    for (let i = 0; i < m; i++) w[i] = m === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (m - 1)
  }
  return w
}

export class ParzenEstimator {
  /** Mixture weights, the prior last; normalised. */
  readonly weights: Float64Array
  readonly mus: Float64Array
  readonly sigmas: Float64Array
  /** Bounds on the estimator's scale (log for log ranges, widened by half a step for stepped ones). */
  readonly low: number
  readonly high: number
  /** Interval width for stepped parameters (masses instead of densities). */
  readonly q: number | undefined
  /** Categorical: row c of observation i is (v + [c = obs_i]) / (k·v + 1), v = prior/(n+1). */
  private readonly catObs: Int32Array | undefined
  private readonly logNorm: Float64Array

  /**
   * `observations` in internal form (numbers as they are, categories as indices), oldest first;
   * `weights` one per observation (default: Optuna's default_weights).
   */
  constructor(readonly distribution: Distribution, observations: ArrayLike<number>, private readonly options: ParzenOptions = PARZEN_DEFAULTS, weights?: ArrayLike<number>) {
    const n = observations.length
    const w = new Float64Array(n + 1)
    const given = weights ?? defaultWeights(n)
    let total = options.priorWeight
    for (let i = 0; i < n; i++) total += w[i] = given[i]!
    w[n] = options.priorWeight
    for (let i = 0; i <= n; i++) w[i]! /= total
    this.weights = w
    const d = distribution
    if (d.kind === 'categorical') {
      this.catObs = Int32Array.from(observations)
      this.low = this.high = 0
      this.q = undefined
      this.mus = this.sigmas = this.logNorm = new Float64Array(0)
      return
    }
    this.catObs = undefined
    if (d.kind === 'int') {
      this.q = d.log ? undefined : d.step
      this.low = d.log ? Math.log(d.low - 0.5) : d.low - 0.5 * d.step
      this.high = d.log ? Math.log(d.high + 0.5) : d.high + 0.5 * d.step
    } else {
      this.q = d.log ? undefined : d.step
      this.low = d.log ? Math.log(d.low) : d.step === undefined ? d.low : d.low - 0.5 * d.step
      this.high = d.log ? Math.log(d.high) : d.step === undefined ? d.high : d.high + 0.5 * d.step
    }
    const mus = new Float64Array(n + 1)
    for (let i = 0; i < n; i++) mus[i] = d.log ? Math.log(observations[i]!) : observations[i]!
    mus[n] = 0.5 * (this.low + this.high)
    this.mus = mus
    this.sigmas = this.bandwidths(mus)
    // Each component's mass inside [low, high]: the truncated normal's normaliser.
    this.logNorm = new Float64Array(n + 1)
    for (let i = 0; i <= n; i++) this.logNorm[i] = logGaussMass((this.low - mus[i]!) / this.sigmas[i]!, (this.high - mus[i]!) / this.sigmas[i]!)
  }

  private bandwidths(mus: Float64Array): Float64Array {
    const m = mus.length
    const { low, high } = this
    const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => mus[a]! - mus[b]!)
    // Sorted centres with the range ends as sentinels: s[0] = low, s[m + 1] = high.
    const s = new Float64Array(m + 2)
    s[0] = low
    s[m + 1] = high
    for (let k = 0; k < m; k++) s[k + 1] = mus[order[k]!]!
    const sorted = new Float64Array(m)
    for (let k = 0; k < m; k++) sorted[k] = Math.max(s[k + 1]! - s[k]!, s[k + 2]! - s[k + 1]!)
    if (!this.options.considerEndpoints && m + 2 >= 4) {
      sorted[0] = s[2]! - s[1]!
      sorted[m - 1] = s[m]! - s[m - 1]!
    }
    const range = high - low
    const minSigma = this.options.considerMagicClip ? range / Math.min(100, 1 + m) : 1e-12
    const sigmas = new Float64Array(m)
    for (let k = 0; k < m; k++) sigmas[order[k]!] = Math.min(range, Math.max(minSigma, sorted[k]!))
    sigmas[m - 1] = range // the prior component (last) is as wide as the range
    return sigmas
  }

  /** `size` draws, in external form (numbers rounded onto the distribution, categories as indices). */
  sample(rng: Random, size: number): number[] {
    const cumulative = new Float64Array(this.weights.length)
    let acc = 0
    for (let i = 0; i < this.weights.length; i++) cumulative[i] = acc += this.weights[i]!
    const out: number[] = new Array(size)
    const d = this.distribution
    for (let j = 0; j < size; j++) {
      const c = pick(cumulative, rng.next())
      if (d.kind === 'categorical') {
        out[j] = this.sampleRow(c, rng.next())
        continue
      }
      const mu = this.mus[c]!
      const sigma = this.sigmas[c]!
      const x = mu + sigma * truncatedNormal(rng, (this.low - mu) / sigma, (this.high - mu) / sigma)
      out[j] = untransform(d, x)
    }
    return out
  }

  private sampleRow(component: number, u: number): number {
    const k = (this.distribution as { choices: readonly unknown[] }).choices.length
    const n = this.catObs!.length
    const v = this.options.priorWeight / (n + 1)
    const obs = component < n ? this.catObs![component]! : -1
    const total = component < n ? k * v + 1 : k * v
    let acc = 0
    for (let c = 0; c < k; c++) {
      acc += (v + (c === obs ? 1 : 0)) / total
      if (acc >= u) return c
    }
    return k - 1
  }

  /**
   * log density (log mass for stepped and categorical parameters) at external values; for continuous
   * parameters unless `normalized`, each component lacks its 1/σ (Optuna ≤ 3.4), so it is a score.
   */
  logPdf(xs: readonly number[]): Float64Array {
    const out = new Float64Array(xs.length)
    const d = this.distribution
    if (d.kind === 'categorical') {
      const k = d.choices.length
      const n = this.catObs!.length
      const v = this.options.priorWeight / (n + 1)
      // p(c) = Σ_i w_i·(v + [c = obs_i])/(k·v + 1) + w_prior/k
      const p = new Float64Array(k).fill(this.weights[n]! / k)
      for (let i = 0; i < n; i++) {
        const wi = this.weights[i]! / (k * v + 1)
        for (let c = 0; c < k; c++) p[c]! += wi * v
        p[this.catObs![i]!]! += wi
      }
      for (let j = 0; j < xs.length; j++) out[j] = Math.log(p[xs[j]!]!)
      return out
    }
    const m = this.mus.length
    const { low, high, q } = this
    const terms = new Float64Array(m)
    const logW = new Float64Array(m)
    for (let i = 0; i < m; i++) logW[i] = Math.log(this.weights[i]!) - this.logNorm[i]! - (q === undefined && this.options.normalized ? Math.log(this.sigmas[i]!) : 0)
    for (let j = 0; j < xs.length; j++) {
      const x = d.log ? Math.log(xs[j]!) : xs[j]!
      let max = -Infinity
      for (let i = 0; i < m; i++) {
        const mu = this.mus[i]!
        const sigma = this.sigmas[i]!
        let t: number
        if (q === undefined) {
          const z = (x - mu) / sigma
          t = logW[i]! - 0.5 * z * z - LOG_SQRT_2PI
        } else {
          t = logW[i]! + logGaussMass((Math.max(x - q / 2, low) - mu) / sigma, (Math.min(x + q / 2, high) - mu) / sigma)
        }
        terms[i] = t
        if (t > max) max = t
      }
      let sum = 0
      for (let i = 0; i < m; i++) sum += Math.exp(terms[i]! - max)
      out[j] = max + Math.log(sum)
    }
    return out
  }
}

/** The first index whose cumulative weight exceeds u (numpy's choice with p). */
function pick(cumulative: Float64Array, u: number): number {
  const target = u * cumulative[cumulative.length - 1]!
  let lo = 0
  let hi = cumulative.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cumulative[mid]! > target) hi = mid
    else lo = mid + 1
  }
  return lo
}
