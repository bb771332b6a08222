// Unit-root and cointegration tests as statsmodels computes them: the augmented Dickey–Fuller test
// (optionally choosing the lag by AIC on a common sample), Engle–Granger cointegration on the OLS
// residuals, MacKinnon's approximate p-values (1994) and critical values (2010); the hedge ratio and
// a spread's half-life of mean reversion.

import { ConfigError, DataError } from '../core/index.js'
import { normalCdf } from './normal.js'
import { nestedSsr, ols } from './ols.js'

export type Regression = 'n' | 'c' | 'ct'

// MacKinnon (1994) p-value surfaces, by regression and N (number of I(1) series, 1…6): below
// tauStar the "small p" polynomial applies, above it the "large p" one; beyond tauMin/tauMax the
// p-value is 0/1. (MacKinnon, J.G. 1994, J. Business & Economic Statistics 12(2), Tables 2–3.)
const TAU_MAX: Record<Regression, number[]> = {
  n: [Infinity, 1.51, 0.86, 0.88, 1.05, 1.24],
  c: [2.74, 0.92, 0.55, 0.61, 0.79, 1],
  ct: [0.7, 0.63, 0.71, 0.93, 1.19, 1.42],
}
const TAU_MIN: Record<Regression, number[]> = {
  n: [-19.04, -19.62, -21.21, -23.25, -21.63, -25.74],
  c: [-18.83, -18.86, -23.48, -28.07, -25.96, -23.27],
  ct: [-16.18, -21.15, -25.37, -26.63, -26.53, -26.18],
}
const TAU_STAR: Record<Regression, number[]> = {
  n: [-1.04, -1.53, -2.68, -3.09, -3.07, -3.77],
  c: [-1.61, -2.62, -3.13, -3.47, -3.78, -3.93],
  ct: [-2.89, -3.19, -3.5, -3.65, -3.8, -4.36],
}
// p = Φ(c0 + c1·τ + c2·τ² [+ c3·τ³]); the tables' scaling (×1e-2 on c2 small; ×1e-1, 1e-1, 1e-2 large) applied.
const SMALL_P: Record<Regression, number[][]> = {
  n: [[0.6344, 1.2378, 3.2496e-2], [1.9129, 1.3857, 3.5322e-2], [2.7648, 1.4502, 3.4186e-2], [3.4336, 1.4835, 3.19e-2], [4.0999, 1.5533, 3.59e-2], [4.5388, 1.5344, 2.9807e-2]],
  c: [[2.1659, 1.4412, 3.8269e-2], [2.92, 1.5012, 3.9796e-2], [3.4699, 1.4856, 3.164e-2], [3.9673, 1.4777, 2.6315e-2], [4.5509, 1.5338, 2.9545e-2], [5.1399, 1.6036, 3.4445e-2]],
  ct: [[3.2512, 1.6047, 4.9588e-2], [3.6646, 1.5419, 3.6448e-2], [4.0983, 1.5173, 2.9898e-2], [4.5844, 1.5338, 2.8796e-2], [5.0722, 1.5634, 2.9472e-2], [5.53, 1.5914, 3.0392e-2]],
}
const LARGE_P: Record<Regression, number[][]> = {
  n: [[0.4797, 0.93557, -0.06999, 0.033066], [1.5578, 0.8558, -0.2083, -0.033549], [2.2268, 0.68093, -0.32362, -0.054448], [2.7654, 0.64502, -0.30811, -0.044946], [3.2684, 0.68051, -0.26778, -0.034972], [3.7268, 0.7167, -0.23648, -0.028288]],
  c: [[1.7339, 0.93202, -0.12745, -0.010368], [2.1945, 0.64695, -0.29198, -0.042377], [2.5893, 0.45168, -0.36529, -0.050074], [3.0387, 0.45452, -0.33666, -0.041921], [3.5049, 0.52098, -0.29158, -0.033468], [3.9489, 0.58933, -0.25359, -0.02721]],
  ct: [[2.5261, 0.61654, -0.37956, -0.060285], [2.85, 0.5272, -0.36622, -0.051695], [3.221, 0.5255, -0.32685, -0.041501], [3.652, 0.59758, -0.27483, -0.032081], [4.0712, 0.66428, -0.23464, -0.02546], [4.4735, 0.71757, -0.20681, -0.021196]],
}
// MacKinnon (2010) critical-value surfaces: 1 %, 5 %, 10 % rows of [β∞, β1, β2, β3], crit = β∞ + β1/T + β2/T² + β3/T³.
// ("n" only for N = 1, from MacKinnon 1996, as statsmodels.)
const CRIT_2010: Record<Regression, number[][][]> = {
  n: [[[-2.56574, -2.2358, -3.627, 0], [-1.941, -0.2686, -3.365, 31.223], [-1.61682, 0.2656, -2.714, 25.364]]],
  c: [
    [[-3.43035, -6.5393, -16.786, -79.433], [-2.86154, -2.8903, -4.234, -40.04], [-2.56677, -1.5384, -2.809, 0]],
    [[-3.89644, -10.9519, -33.527, 0], [-3.33613, -6.1101, -6.823, 0], [-3.04445, -4.2412, -2.72, 0]],
    [[-4.29374, -14.4354, -33.195, 47.433], [-3.74066, -8.5632, -10.852, 27.982], [-3.45218, -6.2143, -3.718, 0]],
    [[-4.64332, -18.1031, -37.972, 0], [-4.096, -11.2349, -11.175, 0], [-3.8102, -8.3931, -4.137, 0]],
    [[-4.95756, -21.8883, -45.142, 0], [-4.41519, -14.0405, -12.575, 0], [-4.13157, -10.7417, -3.784, 0]],
    [[-5.24568, -25.6688, -57.737, 88.639], [-4.70693, -16.9178, -17.492, 60.007], [-4.42501, -13.1875, -5.104, 27.877]],
  ],
  ct: [
    [[-3.95877, -9.0531, -28.428, -134.155], [-3.41049, -4.3904, -9.036, -45.374], [-3.12705, -2.5856, -3.925, -22.38]],
    [[-4.32762, -15.4387, -35.679, 0], [-3.78057, -9.5106, -12.074, 0], [-3.49631, -7.0815, -7.538, 21.892]],
    [[-4.66305, -18.7688, -49.793, 104.244], [-4.1189, -11.8922, -19.031, 77.332], [-3.83511, -9.0723, -8.504, 35.403]],
    [[-4.9694, -22.4694, -52.599, 51.314], [-4.42871, -14.5876, -18.228, 39.647], [-4.14633, -11.25, -9.873, 54.109]],
    [[-5.25276, -26.2183, -59.631, 50.646], [-4.71537, -17.3569, -22.66, 91.359], [-4.43422, -13.6078, -10.238, 76.781]],
    [[-5.51727, -29.976, -75.222, 202.253], [-4.98228, -20.305, -25.224, 132.03], [-4.70233, -16.1253, -9.836, 94.272]],
  ],
}

function checkN(regression: Regression, n: number, max: number): void {
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ConfigError(`N must be an integer from 1 to ${max} for regression "${regression}" (received ${n})`)
}

/** MacKinnon's approximate p-value of a (A)DF / Engle–Granger τ statistic. */
export function mackinnonp(stat: number, regression: Regression = 'c', n = 1): number {
  checkN(regression, n, 6)
  if (Number.isNaN(stat)) return NaN
  if (stat > TAU_MAX[regression][n - 1]!) return 1
  if (stat < TAU_MIN[regression][n - 1]!) return 0
  const c = stat <= TAU_STAR[regression][n - 1]! ? SMALL_P[regression][n - 1]! : LARGE_P[regression][n - 1]!
  let poly = 0
  for (let j = c.length - 1; j >= 0; j--) poly = poly * stat + c[j]!
  return normalCdf(poly)
}

/** MacKinnon (2010) critical values [1 %, 5 %, 10 %] for nobs observations (Infinity: asymptotic). */
export function mackinnoncrit(n = 1, regression: Regression = 'c', nobs = Infinity): [number, number, number] {
  checkN(regression, n, CRIT_2010[regression].length)
  const rows = CRIT_2010[regression][n - 1]!
  const t = Number.isFinite(nobs) ? 1 / nobs : 0
  return rows.map(([b0, b1, b2, b3]) => b0! + b1! * t + b2! * t * t + b3! * t * t * t) as [number, number, number]
}

export interface AdfOptions {
  /** Lags of Δx (default: 12·(n/100)^¼ rounded up, capped at n/2 − trend terms − 1). */
  maxlag?: number
  /** 'aic': choose the lag ≤ maxlag with the smallest AIC on a common sample (default); null: use maxlag. */
  autolag?: 'aic' | null
  /** Deterministic terms: 'c' constant (default), 'ct' constant and trend, 'n' none. */
  regression?: Regression
}

export interface AdfResult {
  stat: number
  pvalue: number
  usedlag: number
  nobs: number
  crit: [number, number, number]
  /** The AIC of the chosen lag when autolag was used. */
  icbest?: number
}

function toArray(x: ArrayLike<number>, name: string): Float64Array {
  const out = Float64Array.from(x)
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) throw new DataError(`${name} has a missing or non-finite value at index ${i}; expected finite numbers`)
  }
  return out
}

/**
 * Augmented Dickey–Fuller test of a unit root in x: Δx_t = [c, t] + γ·x_{t−1} + Σ φ_i·Δx_{t−i} + ε;
 * the statistic is γ's t-value. As statsmodels' adfuller (same lags, sample and AIC choice).
 */
export function adf(x: ArrayLike<number>, options: AdfOptions = {}): AdfResult {
  const series = toArray(x, 'x')
  const regression = options.regression ?? 'c'
  const trendTerms = regression === 'n' ? 0 : regression.length
  const n = series.length
  let maxlag = options.maxlag
  if (maxlag === undefined) {
    maxlag = Math.min(Math.floor(n / 2) - trendTerms - 1, Math.ceil(12 * Math.pow(n / 100, 1 / 4)))
    if (maxlag < 0) throw new DataError(`adf: ${n} observations are too few; expected at least ${2 * (trendTerms + 1) + 2}`)
  } else if (!Number.isInteger(maxlag) || maxlag < 0) {
    throw new ConfigError(`adf: maxlag must be an integer ≥ 0 (received ${maxlag})`)
  } else if (maxlag > Math.floor(n / 2) - trendTerms - 1) {
    throw new ConfigError(`adf: maxlag ${maxlag} is too large for ${n} observations; expected at most ${Math.floor(n / 2) - trendTerms - 1}`)
  }
  const autolag = options.autolag === undefined ? 'aic' : options.autolag
  const dx = new Float64Array(n - 1)
  for (let i = 1; i < n; i++) dx[i - 1] = series[i]! - series[i - 1]!

  /** The regression on the last rows of Δx with `lags` lagged differences, its columns in statsmodels' order. */
  const design = (lags: number, rows: number, withTrend: boolean) => {
    // rows: observations t = dx.length − rows … dx.length − 1
    const start = dx.length - rows
    const y = dx.subarray(start)
    const cols: Float64Array[] = []
    if (withTrend && regression !== 'n') {
      cols.push(new Float64Array(rows).fill(1))
      if (regression === 'ct') cols.push(Float64Array.from({ length: rows }, (_, r) => r + 1))
    }
    cols.push(series.subarray(start, start + rows)) // x_{t−1}: the level before each Δx_t
    for (let lag = 1; lag <= lags; lag++) cols.push(dx.subarray(start - lag, start - lag + rows))
    return { y, cols }
  }

  let usedlag = maxlag
  let icbest: number | undefined
  if (autolag === 'aic') {
    // Every lag 0…maxlag on the sample the largest lag leaves, so the AICs compare.
    // The models are nested (lag L's columns are the first columns of maxlag's), so one QR of maxlag's
    // design gives every lag's SSR; AIC = −2·llf + 2k with llf = −n/2·(log 2π + log(SSR/n) + 1), as ols().
    const rows = dx.length - maxlag
    const { y, cols } = design(maxlag, rows, true)
    const ssr = nestedSsr(y, cols)
    let best = Infinity
    for (let lag = 0; lag <= maxlag; lag++) {
      const k = trendTerms + 1 + lag
      const llf = (-rows / 2) * (Math.log(2 * Math.PI) + Math.log(ssr[k - 1]! / rows) + 1)
      const aic = -2 * llf + 2 * k
      if (aic < best) {
        best = aic
        usedlag = lag
      }
    }
    icbest = best
  }
  const rows = dx.length - usedlag
  const { y, cols } = design(usedlag, rows, true)
  const fit = ols(y, cols)
  const stat = fit.tvalues[trendTerms]!
  const result: AdfResult = { stat, pvalue: mackinnonp(stat, regression, 1), usedlag, nobs: rows, crit: mackinnoncrit(1, regression, rows) }
  if (icbest !== undefined) result.icbest = icbest
  return result
}

export interface HedgeRatio {
  alpha: number
  beta: number
}

/** OLS y = alpha + beta·x. */
export function hedgeRatio(y: ArrayLike<number>, x: ArrayLike<number>): HedgeRatio {
  const ys = toArray(y, 'y')
  const xs = toArray(x, 'x')
  if (ys.length !== xs.length) throw new DataError(`hedgeRatio: y has ${ys.length} values, x has ${xs.length}; expected aligned series`)
  const fit = ols(ys, [new Float64Array(ys.length).fill(1), xs])
  return { alpha: fit.coef[0]!, beta: fit.coef[1]! }
}

/**
 * Half-life of mean reversion of a spread, in bars: −ln 2 / b from OLS Δs_t = a + b·s_{t−1}.
 * Infinity when the spread does not revert (b ≥ 0).
 */
export function halfLife(spread: ArrayLike<number>): number {
  const s = toArray(spread, 'spread')
  if (s.length < 3) throw new DataError(`halfLife needs at least 3 values (received ${s.length})`)
  const lagged = s.subarray(0, s.length - 1)
  const diff = Float64Array.from({ length: s.length - 1 }, (_, i) => s[i + 1]! - s[i]!)
  const b = ols(diff, [new Float64Array(diff.length).fill(1), lagged]).coef[1]!
  return b < 0 ? -Math.LN2 / b : Infinity
}

export interface CointResult {
  stat: number
  pvalue: number
  /** Critical values [1 %, 5 %, 10 %]. */
  crit: [number, number, number]
  usedlag: number
  alpha: number
  beta: number
}

/**
 * Engle–Granger two-step cointegration test of y and x (statsmodels' coint, trend 'c'): OLS
 * y = alpha + beta·x, then an ADF test without deterministic terms on the residuals; p-value and
 * critical values from MacKinnon's surfaces for N = 2 series with a constant.
 */
export function coint(y: ArrayLike<number>, x: ArrayLike<number>, options: { maxlag?: number; autolag?: 'aic' | null } = {}): CointResult {
  const ys = toArray(y, 'y')
  const xs = toArray(x, 'x')
  if (ys.length !== xs.length) throw new DataError(`coint: y has ${ys.length} values, x has ${xs.length}; expected aligned series`)
  const fit = ols(ys, [new Float64Array(ys.length).fill(1), xs])
  const test = adf(fit.resid, { maxlag: options.maxlag, autolag: options.autolag === undefined ? 'aic' : options.autolag, regression: 'n' })
  return {
    stat: test.stat,
    pvalue: mackinnonp(test.stat, 'c', 2),
    crit: mackinnoncrit(2, 'c', ys.length - 1),
    usedlag: test.usedlag,
    alpha: fit.coef[0]!,
    beta: fit.coef[1]!,
  }
}
