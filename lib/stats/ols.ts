// Ordinary least squares by Householder QR (stable where the normal equations lose digits):
// coefficients, residuals, SSR, standard errors and t-values, log-likelihood and AIC as statsmodels
// defines them.

import { DataError } from '../core/index.js'

export interface OlsResult {
  coef: Float64Array
  stderr: Float64Array
  tvalues: Float64Array
  resid: Float64Array
  ssr: number
  nobs: number
  /** Gaussian log-likelihood: −n/2·(log 2π + log(SSR/n) + 1). */
  llf: number
  /** −2·llf + 2·k (statsmodels: df_model + k_constant = k columns). */
  aic: number
}

/**
 * Least squares of y on the columns of X (column-major: columns[j][i]). No constant is added.
 * Throws DataError when X is rank-deficient or has more columns than rows.
 */
export function ols(y: ArrayLike<number>, columns: ArrayLike<number>[]): OlsResult {
  const n = y.length
  const k = columns.length
  const { r, qty } = householder(y, columns)
  // Back-substitution R·coef = (Qᵀy)[0…k)
  const coef = new Float64Array(k)
  for (let j = k - 1; j >= 0; j--) {
    let s = qty[j]!
    for (let m = j + 1; m < k; m++) s -= r[j * k + m]! * coef[m]!
    coef[j] = s / r[j * k + j]!
  }
  const resid = new Float64Array(n)
  let ssr = 0
  for (let i = 0; i < n; i++) {
    let fit = 0
    for (let j = 0; j < k; j++) fit += columns[j]![i]! * coef[j]!
    resid[i] = y[i]! - fit
    ssr += resid[i]! * resid[i]!
  }
  // (XᵀX)⁻¹ = R⁻¹R⁻ᵀ: its diagonal is the squared row norms of R⁻¹.
  const rinv = new Float64Array(k * k)
  for (let j = k - 1; j >= 0; j--) {
    rinv[j * k + j] = 1 / r[j * k + j]!
    for (let m = j + 1; m < k; m++) {
      let s = 0
      for (let t = j + 1; t <= m; t++) s += r[j * k + t]! * rinv[t * k + m]!
      rinv[j * k + m] = -s / r[j * k + j]!
    }
  }
  const sigma2 = ssr / (n - k)
  const stderr = new Float64Array(k)
  const tvalues = new Float64Array(k)
  for (let j = 0; j < k; j++) {
    let s = 0
    for (let m = j; m < k; m++) s += rinv[j * k + m]! ** 2
    stderr[j] = Math.sqrt(sigma2 * s)
    tvalues[j] = coef[j]! / stderr[j]!
  }
  const llf = (-n / 2) * (Math.log(2 * Math.PI) + Math.log(ssr / n) + 1)
  return { coef, stderr, tvalues, resid, ssr, nobs: n, llf, aic: -2 * llf + 2 * k }
}

/**
 * The residual sum of squares of y regressed on each prefix of the columns — columns[0…m) for m = 1…k — from
 * one Householder QR of all k columns (out[m − 1]). Reflection j changes rows ≥ j only, so after all k the
 * tail (Qᵀy)[m…n) still has the norm it had after the first m: the prefix model's residual. One
 * factorisation instead of k (what an AIC search over nested lag orders needs).
 */
export function nestedSsr(y: ArrayLike<number>, columns: ArrayLike<number>[]): Float64Array {
  const n = y.length
  const k = columns.length
  const { qty } = householder(y, columns)
  const out = new Float64Array(k)
  let tail = 0
  for (let i = n - 1; i >= k; i--) tail += qty[i]! * qty[i]!
  out[k - 1] = tail
  for (let m = k - 1; m >= 1; m--) {
    tail += qty[m]! * qty[m]!
    out[m - 1] = tail
  }
  return out
}

/**
 * Householder QR of [X | y] (X column-major: columns[j][i]): R (k × k, row-major) and Qᵀy. Throws DataError
 * when X is rank-deficient or has more columns than rows.
 */
function householder(y: ArrayLike<number>, columns: ArrayLike<number>[]): { r: Float64Array; qty: Float64Array } {
  const n = y.length
  const k = columns.length
  if (k === 0 || n <= k) throw new DataError(`ols needs more observations than regressors (${n} rows, ${k} columns)`)
  // A = [X | y] copied column-major; Householder reflections turn X into R and y into Qᵀy.
  const a = columns.map((col) => {
    if (col.length !== n) throw new DataError(`ols: a regressor has ${col.length} values, y has ${n}`)
    return Float64Array.from(col)
  })
  const qty = Float64Array.from(y)
  const r = new Float64Array(k * k)
  for (let j = 0; j < k; j++) {
    const col = a[j]!
    let norm = 0
    for (let i = j; i < n; i++) norm += col[i]! * col[i]!
    norm = Math.sqrt(norm)
    if (norm === 0) throw new DataError('ols: the regressors are collinear (a column is all zeros after the others)')
    const alpha = col[j]! > 0 ? -norm : norm
    // v = x − alpha·e1, stored in col[j…]
    col[j] = col[j]! - alpha
    let vnorm2 = 0
    for (let i = j; i < n; i++) vnorm2 += col[i]! * col[i]!
    const apply = (target: Float64Array) => {
      let dot = 0
      for (let i = j; i < n; i++) dot += col[i]! * target[i]!
      const f = (2 * dot) / vnorm2
      for (let i = j; i < n; i++) target[i] = target[i]! - f * col[i]!
    }
    for (let m = j + 1; m < k; m++) apply(a[m]!)
    apply(qty)
    r[j * k + j] = alpha
    for (let m = j + 1; m < k; m++) r[j * k + m] = a[m]![j]!
  }
  for (let j = 0; j < k; j++) {
    if (Math.abs(r[j * k + j]!) < 1e-12 * Math.abs(r[0]!)) throw new DataError('ols: the regressors are collinear')
  }
  return { r, qty }
}
