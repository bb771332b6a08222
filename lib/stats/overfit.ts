// How much of a backtest's edge survives the search that found it: the probabilistic and deflated Sharpe
// ratios (Bailey & López de Prado 2012, 2014) and the probability of backtest overfitting by combinatorially
// symmetric cross-validation (Bailey, Borwein, López de Prado & Zhu 2016).
//
// Units: every Sharpe ratio here is per period (mean / standard deviation of one bar's returns), never
// annualised; n counts those periods. Divide an annualised Sharpe by √(periods per year) first.

import { ConfigError } from '../core/index.js'
import { normalCdf, normalQuantile } from './normal.js'

/** The Euler–Mascheroni constant γ. */
const EULER_GAMMA = 0.5772156649015329

/**
 * What PSR and DSR need of a return series, in one pass over its moments: the per-period Sharpe (mean /
 * sample standard deviation), n, the skewness and the non-excess kurtosis (population moments, as Bailey &
 * López de Prado use them).
 */
export function returnMoments(returns: ArrayLike<number>): { sharpe: number; n: number; skew: number; kurtosis: number } {
  const n = returns.length
  if (n < 3) throw new ConfigError(`return moments need at least 3 returns (received ${n})`)
  let mean = 0
  for (let i = 0; i < n; i++) mean += returns[i]!
  mean /= n
  let m2 = 0
  let m3 = 0
  let m4 = 0
  for (let i = 0; i < n; i++) {
    const d = returns[i]! - mean
    m2 += d * d
    m3 += d * d * d
    m4 += d * d * d * d
  }
  const sd = Math.sqrt(m2 / (n - 1))
  m2 /= n
  return { sharpe: mean / sd, n, skew: m3 / n / m2 ** 1.5, kurtosis: m4 / n / (m2 * m2) }
}

/**
 * PSR(SR*): the probability that the true Sharpe ratio exceeds `srBenchmark`, given the observed per-period
 * `sr` over `n` returns with their skewness γ₃ and (non-excess, normal = 3) kurtosis γ₄:
 * Φ((SR − SR*)·√(n − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4·SR²)).
 * Bailey & López de Prado (2012), "The Sharpe ratio efficient frontier", Journal of Risk 15(2), eq. for PSR.
 */
export function probabilisticSharpe(sr: number, n: number, skew: number, kurtosis: number, srBenchmark = 0): number {
  finite(sr, 'sr')
  finite(skew, 'skew')
  finite(srBenchmark, 'srBenchmark')
  if (!Number.isInteger(n) || n < 2) throw new ConfigError(`n must be the number of returns, an integer ≥ 2 (received ${n})`)
  finite(kurtosis, 'kurtosis')
  // Any distribution has γ₄ ≥ 1 + γ₃²; a value below 1 is almost surely an excess kurtosis.
  if (kurtosis < 1) throw new ConfigError(`kurtosis must be the non-excess kurtosis, 3 for normal returns (received ${kurtosis}; excess kurtosis? add 3)`)
  const variance = 1 - skew * sr + ((kurtosis - 1) / 4) * sr * sr
  if (!(variance > 0)) throw new ConfigError(`1 − skew·sr + (kurtosis − 1)/4·sr² must be > 0 (received ${variance} for sr ${sr}, skew ${skew}, kurtosis ${kurtosis}): is sr per period, not annualised?`)
  return normalCdf(((sr - srBenchmark) * Math.sqrt(n - 1)) / Math.sqrt(variance))
}

/**
 * E[max Sharpe] of `nTrials` independent trials whose true Sharpe is 0 and whose estimated Sharpes have
 * variance V: √V·((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))), γ the Euler–Mascheroni constant
 * (Bailey & López de Prado 2014, from the extreme-value limit of the maximum of N normals; the approximation
 * is ~1–3 % high for N between 10 and 1000). N may be fractional (an effective number of trials).
 * One trial selects nothing: 0. The maximum of N ≥ 1 zero-mean draws has a mean ≥ 0, so the result is floored
 * at 0 (the formula dips below for N just above 1).
 */
export function expectedMaxSharpe(nTrials: number, varianceOfTrialSharpes: number): number {
  if (!(nTrials >= 1 && nTrials < Infinity)) throw new ConfigError(`nTrials must be a number ≥ 1 (received ${nTrials})`)
  if (!(varianceOfTrialSharpes >= 0 && varianceOfTrialSharpes < Infinity)) throw new ConfigError(`the variance of the trial Sharpe ratios must be a finite number ≥ 0 (received ${varianceOfTrialSharpes})`)
  if (nTrials === 1) return 0
  const z = (1 - EULER_GAMMA) * normalQuantile(1 - 1 / nTrials) + EULER_GAMMA * normalQuantile(1 - 1 / (nTrials * Math.E))
  return Math.sqrt(varianceOfTrialSharpes) * Math.max(0, z)
}

export interface DeflatedSharpeOptions {
  /** The selected strategy's per-period Sharpe ratio. */
  sharpe: number
  /** Its number of returns. */
  n: number
  skew: number
  /** Non-excess (normal = 3). */
  kurtosis: number
  /**
   * Per-period Sharpe ratios of every trial of the search (including the selected one): they give the
   * variance (sample variance, n − 1) and, unless `nTrials` is given, the number of trials.
   */
  trialSharpes?: ArrayLike<number>
  /** Number of (effectively independent) trials; with `variance` when there are no `trialSharpes`. */
  nTrials?: number
  /** Variance of the trials' per-period Sharpe ratios. */
  variance?: number
}

export interface DeflatedSharpe {
  sharpe: number
  /** SR₀ = expectedMaxSharpe(nTrials, variance): the Sharpe the best of the trials reaches by luck alone. */
  sr0: number
  /** PSR against SR₀: the probability that the true Sharpe beats the luck of the search. */
  dsr: number
  /** PSR against 0, for comparison. */
  psr: number
  nTrials: number
  variance: number
}

/**
 * The deflated Sharpe ratio: PSR with the benchmark raised to the expected maximum Sharpe of the search.
 * Bailey & López de Prado (2014), "The deflated Sharpe ratio: correcting for selection bias, backtest
 * overfitting and non-normality", Journal of Portfolio Management 40(5), 94–107.
 */
export function deflatedSharpe(options: DeflatedSharpeOptions): DeflatedSharpe {
  if (options === null || typeof options !== 'object') throw new ConfigError('deflatedSharpe needs an options object { sharpe, n, skew, kurtosis, trialSharpes | nTrials + variance }')
  const { sharpe, n, skew, kurtosis, trialSharpes } = options
  let { nTrials, variance } = options
  if (trialSharpes !== undefined) {
    if (variance !== undefined) throw new ConfigError('give deflatedSharpe either trialSharpes or variance, not both')
    if (trialSharpes.length < 2) throw new ConfigError(`trialSharpes needs at least 2 values to have a variance (received ${trialSharpes.length})`)
    let mean = 0
    for (let i = 0; i < trialSharpes.length; i++) {
      if (!Number.isFinite(trialSharpes[i]!)) throw new ConfigError(`trialSharpes[${i}] is ${trialSharpes[i]}; expected a finite per-period Sharpe ratio`)
      mean += trialSharpes[i]!
    }
    mean /= trialSharpes.length
    variance = 0
    for (let i = 0; i < trialSharpes.length; i++) variance += (trialSharpes[i]! - mean) ** 2
    variance /= trialSharpes.length - 1
    nTrials ??= trialSharpes.length
  } else if (nTrials === undefined || variance === undefined) {
    throw new ConfigError('deflatedSharpe needs trialSharpes, or both nTrials and variance')
  }
  const sr0 = expectedMaxSharpe(nTrials, variance)
  return { sharpe, sr0, dsr: probabilisticSharpe(sharpe, n, skew, kurtosis, sr0), psr: probabilisticSharpe(sharpe, n, skew, kurtosis, 0), nTrials, variance }
}

export type PerformanceMetric = 'mean' | 'sharpe' | ((values: Float64Array) => number)

export interface PboOptions {
  /** S, the number of row blocks: even, 2…24 (default 16, as in the paper). C(S, S/2) splits are scored. */
  partitions?: number
  /**
   * Performance of one configuration over a set of rows (default 'sharpe': mean / sample standard deviation,
   * per period). A function receives the configuration's values on those rows, in time order.
   */
  metric?: PerformanceMetric
}

export interface PboResult {
  /** Share of splits whose in-sample winner ranks in the bottom half out of sample (λ ≤ 0). */
  pbo: number
  /** Per split: λ = ln(ω̄ / (1 − ω̄)). */
  logits: Float64Array
  /** Per split: ω̄ = OOS rank of the IS winner / (N + 1), ranks 1 (worst) … N (best), ties averaged. */
  relativeRanks: Float64Array
  /** Per split: the column that won in sample (the first one on a tie). */
  bestInSample: Int32Array
  /** Per split: that column's in-sample and out-of-sample performance. */
  isPerformance: Float64Array
  oosPerformance: Float64Array
  /**
   * Least-squares line oosPerformance ≈ intercept + slope·isPerformance: the performance degradation
   * (a slope below 0: the better in sample, the worse out of sample). NaN when isPerformance never varies.
   */
  degradation: { slope: number; intercept: number }
  /** Share of splits where the IS winner's OOS performance is < 0. */
  probabilityOfLoss: number
  /** Per split: the blocks forming the in-sample half (the rest is out of sample). */
  splits: number[][]
}

/**
 * The probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV): Bailey,
 * Borwein, López de Prado & Zhu (2016), "The probability of backtest overfitting", Journal of
 * Computational Finance 20(4). `matrix` is T × N, rows = time periods, columns = the N configurations
 * tried (their return, or P&L, per period). The rows are cut into S contiguous blocks (sizes differing by
 * at most one when S does not divide T); each choice of S/2 blocks is an in-sample half, the rest its
 * out-of-sample half. PBO is the share of splits where the configuration that is best in sample lands in
 * the bottom half out of sample.
 */
export function probabilityOfBacktestOverfitting(matrix: readonly ArrayLike<number>[], options: PboOptions = {}): PboResult {
  const { S, metric } = checkPboOptions(options)
  const T = Array.isArray(matrix) ? matrix.length : 0
  if (T === 0) throw new ConfigError('matrix must be an array of rows (time periods), each with one value per configuration')
  const N = matrix[0]!.length
  if (N < 2) throw new ConfigError(`matrix needs at least 2 columns (configurations) to select among (received ${N})`)
  if (T < S) throw new ConfigError(`matrix has ${T} rows; it needs at least partitions = ${S}`)
  for (let t = 0; t < T; t++) {
    const row = matrix[t]!
    if (row.length !== N) throw new ConfigError(`matrix row ${t} has ${row.length} values; row 0 has ${N}`)
    for (let j = 0; j < N; j++) if (!Number.isFinite(row[j]!)) throw new ConfigError(`matrix[${t}][${j}] is ${row[j]}: fill or drop missing periods first`)
  }
  const start = Array.from({ length: S + 1 }, (_, b) => Math.floor((b * T) / S))
  const half = S / 2
  if (metric === 'sharpe' && Math.floor(T / S) * half < 2) throw new ConfigError(`the Sharpe metric needs at least 2 rows per half: ${T} rows in ${S} partitions leave ${Math.floor(T / S) * half}`)

  // Per block and column: rows, mean and sum of squared deviations (merged exactly for any union of
  // blocks, Chan et al.), so 'mean' and 'sharpe' never revisit the rows. Plain version: gather each half's
  // rows and compute the metric on them, which is what a metric function gets.
  const blockMean = new Float64Array(S * N)
  const blockM2 = new Float64Array(S * N)
  for (let b = 0; b < S; b++) {
    const rows = start[b + 1]! - start[b]!
    for (let j = 0; j < N; j++) {
      let s = 0
      for (let t = start[b]!; t < start[b + 1]!; t++) s += matrix[t]![j]!
      const m = s / rows
      let m2 = 0
      for (let t = start[b]!; t < start[b + 1]!; t++) m2 += (matrix[t]![j]! - m) ** 2
      blockMean[b * N + j] = m
      blockM2[b * N + j] = m2
    }
  }
  const performance = (blocks: number[], out: Float64Array): void => {
    if (typeof metric === 'function') {
      let rows = 0
      for (const b of blocks) rows += start[b + 1]! - start[b]!
      const values = new Float64Array(rows)
      for (let j = 0; j < N; j++) {
        let k = 0
        for (const b of blocks) for (let t = start[b]!; t < start[b + 1]!; t++) values[k++] = matrix[t]![j]!
        const v = metric(values)
        if (typeof v !== 'number' || Number.isNaN(v)) throw new ConfigError(`the PBO metric returned ${String(v)} for column ${j}; expected a number`)
        out[j] = v
      }
      return
    }
    for (let j = 0; j < N; j++) {
      let count = 0
      let mean = 0
      let m2 = 0
      for (const b of blocks) {
        const nb = start[b + 1]! - start[b]!
        const mb = blockMean[b * N + j]!
        const total = count + nb
        const delta = mb - mean
        mean += (delta * nb) / total
        m2 += blockM2[b * N + j]! + (delta * delta * count * nb) / total
        count = total
      }
      if (metric === 'mean') out[j] = mean
      else {
        const sd = Math.sqrt(m2 / (count - 1))
        // A flat series has no Sharpe; ±∞ keeps a flat gain above and a flat loss below everything.
        out[j] = sd > 0 ? mean / sd : mean === 0 ? 0 : mean * Infinity
      }
    }
  }

  // A half's mean and Sharpe are merged from its blocks' (Chan's update), which can leave two equal values an ulp
  // or two apart: a tie in whole ticks or ±1 outcomes became a win or a loss and moved the PBO (0.1667 for an exact
  // 0.3333 — an audit). Values within 1e-12 of the data's scale are ties; a metric function's own values are
  // compared exactly.
  let scale = 1
  if (metric === 'mean') {
    scale = 0
    for (let t = 0; t < T; t++) for (let j = 0; j < N; j++) scale = Math.max(scale, Math.abs(matrix[t]![j]!))
  }
  const tolerance = typeof metric === 'function' ? 0 : 1e-12
  const tied = (a: number, b: number): boolean => a === b || (Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= tolerance * Math.max(scale, Math.abs(a), Math.abs(b)))

  const splits = combinations(S, half)
  const C = splits.length
  const logits = new Float64Array(C)
  const relativeRanks = new Float64Array(C)
  const bestInSample = new Int32Array(C)
  const isPerformance = new Float64Array(C)
  const oosPerformance = new Float64Array(C)
  const R = new Float64Array(N)
  const Rbar = new Float64Array(N)
  let overfit = 0
  let losses = 0
  for (let c = 0; c < C; c++) {
    const inSample = splits[c]!
    const outOfSample = complement(inSample, S)
    performance(inSample, R)
    performance(outOfSample, Rbar)
    let best = 0
    for (let j = 1; j < N; j++) if (R[j]! > R[best]! && !tied(R[j]!, R[best]!)) best = j
    // Ranks 1 (worst) … N (best) out of sample; ties share their average rank.
    let below = 0
    let equal = 0
    for (let j = 0; j < N; j++) {
      if (tied(Rbar[j]!, Rbar[best]!)) equal++
      else if (Rbar[j]! < Rbar[best]!) below++
    }
    const rank = below + (equal + 1) / 2
    const omega = rank / (N + 1)
    const lambda = Math.log(omega / (1 - omega))
    relativeRanks[c] = omega
    logits[c] = lambda
    bestInSample[c] = best
    isPerformance[c] = R[best]!
    oosPerformance[c] = Rbar[best]!
    if (lambda <= 0) overfit++
    if (Rbar[best]! < 0) losses++
  }
  return { pbo: overfit / C, logits, relativeRanks, bestInSample, isPerformance, oosPerformance, degradation: leastSquares(isPerformance, oosPerformance), probabilityOfLoss: losses / C, splits }
}

/** Every k-subset of 0…n−1, in lexicographic order (CSCV's splits; combinatorial purged CV's test groups). */
export function combinations(n: number, k: number): number[][] {
  const out: number[][] = []
  const pick: number[] = []
  const walk = (from: number): void => {
    if (pick.length === k) {
      out.push([...pick])
      return
    }
    for (let i = from; i <= n - (k - pick.length); i++) {
      pick.push(i)
      walk(i + 1)
      pick.pop()
    }
  }
  walk(0)
  return out
}

function complement(blocks: number[], S: number): number[] {
  const chosen = new Set(blocks)
  return Array.from({ length: S }, (_, b) => b).filter((b) => !chosen.has(b))
}

function leastSquares(x: Float64Array, y: Float64Array): { slope: number; intercept: number } {
  const n = x.length
  let mx = 0
  let my = 0
  for (let i = 0; i < n; i++) {
    mx += x[i]!
    my += y[i]!
  }
  mx /= n
  my /= n
  let sxy = 0
  let sxx = 0
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my)
    sxx += (x[i]! - mx) ** 2
  }
  const slope = sxy / sxx
  return { slope, intercept: my - slope * mx }
}

function checkPboOptions(o: PboOptions): { S: number; metric: PerformanceMetric } {
  const S = o.partitions ?? 16
  if (!Number.isInteger(S) || S < 2 || S > 24 || S % 2 !== 0) throw new ConfigError(`partitions must be an even integer in [2, 24] (received ${S})`)
  const metric = o.metric ?? 'sharpe'
  if (metric !== 'mean' && metric !== 'sharpe' && typeof metric !== 'function') throw new ConfigError(`metric must be 'mean', 'sharpe' or a function of a column's values (received ${String(metric)})`)
  return { S, metric }
}

function finite(v: number, name: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${name} must be a finite number (received ${String(v)})`)
}
