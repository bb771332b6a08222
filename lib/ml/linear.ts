// Linear baselines: L2-penalised logistic regression (binary, and multinomial softmax for 3+ classes) and
// ridge regression, with the objectives scikit-learn uses, so a notebook can check a tree or a forest
// against the model every reviewer will ask about first. Both are small dense solves (Newton / Cholesky).

import { ConfigError } from '../core/index.js'
import { checkClassList, checkColumnNames, checkObject } from './check-json.js'
import { checkColumns, checkFinite, checkLabeled, classesOf, logSumExp, mostProbable, registerModelType, softmaxInto } from './model.js'
import type { Labeled, Matrix, Model, ModelJSON } from './model.js'

export interface LogisticOptions {
  /** Inverse penalty strength, > 0 (default 1): minimise 0.5‖w‖² + C·Σ logloss, as scikit-learn does. */
  C?: number
  /** Fit an unpenalised intercept (default true). */
  fitIntercept?: boolean
  /**
   * Divide each feature by its standard deviation before fitting (default false), so the one penalty treats
   * features on different scales alike (without an intercept they are scaled, not centred). The means and
   * deviations are kept in the JSON; coefficients are always reported on the raw features.
   */
  standardize?: boolean
  /** Newton iterations at most (default 100); not converging is an error, not a silent half-fit. */
  maxIter?: number
  /** Stop when no coefficient moves more than tol·(1 + its size) in a Newton step (default 1e-10). */
  tol?: number
}

export interface LogisticJSON extends ModelJSON {
  type: 'logistic'
  classes: number[]
  options: Required<LogisticOptions>
  /**
   * Rows × features, row-major, on the raw features. Two classes: one row, the log-odds of classes[1];
   * more: one row per class (softmax scores).
   */
  coef: number[]
  intercept: number[]
  /** Per feature, at fit time (population standard deviation): the standardisation and featureImportance. */
  mean: number[]
  std: number[]
  iterations: number
}

export interface RidgeOptions {
  /** Penalty strength, ≥ 0 (default 1): minimise ‖y − Xw − b‖² + alpha·‖w‖², as scikit-learn's Ridge. */
  alpha?: number
  fitIntercept?: boolean
  /** Divide each feature by its standard deviation before fitting (default false); see LogisticOptions. */
  standardize?: boolean
}

export interface RidgeJSON extends ModelJSON {
  type: 'ridge'
  options: Required<RidgeOptions>
  /** Per feature, on the raw features. */
  coef: number[]
  intercept: number
  mean: number[]
  std: number[]
}

/** L2-penalised logistic regression. Labels are any numbers (e.g. −1/1); classes are their sorted values. */
export class LogisticRegression implements Model {
  readonly family = 'logistic'
  readonly task = 'classification' as const
  readonly options: Required<LogisticOptions>
  private fittedJSON: LogisticJSON | undefined

  constructor(options: LogisticOptions = {}) {
    this.options = {
      C: options.C ?? 1,
      fitIntercept: options.fitIntercept ?? true,
      standardize: options.standardize ?? false,
      maxIter: options.maxIter ?? 100,
      tol: options.tol ?? 1e-10,
    }
    const o = this.options
    if (!(o.C > 0 && o.C < Infinity)) throw new ConfigError(`C must be a finite number > 0 (received ${o.C})`)
    if (!Number.isInteger(o.maxIter) || o.maxIter < 1) throw new ConfigError(`maxIter must be an integer ≥ 1 (received ${o.maxIter})`)
    if (!(o.tol > 0 && o.tol < 1)) throw new ConfigError(`tol must be a number in (0, 1) (received ${o.tol})`)
    checkBoolean(o.fitIntercept, 'fitIntercept')
    checkBoolean(o.standardize, 'standardize')
  }

  fit(data: Labeled): this {
    checkLabeled(data, 'classification')
    checkFinite(data)
    const classes = classesOf(data.y)
    const index = new Map(classes.map((c, i) => [c, i]))
    const target = Int32Array.from(data.y, (v) => index.get(v)!)
    const { C, fitIntercept, standardize, maxIter, tol } = this.options
    const { cols, d, mean, std, scale } = designMatrix(data, standardize, fitIntercept, fitIntercept)
    const n = data.rows
    const p = data.columns.length
    // Two classes: one vector of log-odds (scikit-learn's binary parameterisation). More: one vector per
    // class; the penalty makes Σₖ wₖ = 0 at the optimum, but the intercepts are free up to a common shift,
    // so 0.5(Σₖ bₖ)² is added, which pins Σₖ bₖ = 0 (as scikit-learn's solution has) and changes nothing else.
    const K = classes.length === 2 ? 1 : classes.length
    const m = K * d
    const penalised = new Float64Array(m)
    for (let k = 0; k < K; k++) for (let j = 0; j < p; j++) penalised[k * d + j] = 1
    const pinShift = K > 1 && fitIntercept
    // Per class, the linear scores of every row (class-major, so the sums below run over contiguous arrays).
    const z = Array.from({ length: K }, () => new Float64Array(n))
    const setScores = (theta: Float64Array): void => {
      for (let k = 0; k < K; k++) {
        const zk = z[k]!
        zk.fill(0)
        for (let a = 0; a < d; a++) {
          const w = theta[k * d + a]!
          const col = cols[a]!
          for (let r = 0; r < n; r++) zk[r]! += w * col[r]!
        }
      }
    }
    const row = new Float64Array(K)
    const objective = (theta: Float64Array): number => {
      let f = 0
      for (let i = 0; i < m; i++) f += 0.5 * penalised[i]! * theta[i]! * theta[i]!
      if (pinShift) f += 0.5 * interceptSum(theta, K, d) ** 2
      setScores(theta)
      let loss = 0
      for (let r = 0; r < n; r++) {
        if (K === 1) loss += target[r] === 1 ? softplus(-z[0]![r]!) : softplus(z[0]![r]!)
        else {
          for (let k = 0; k < K; k++) row[k] = z[k]![r]!
          loss += logSumExp(row) - row[target[r]!]!
        }
      }
      return f + C * loss
    }

    let theta = new Float64Array(m)
    let f = objective(theta)
    let iterations = 0
    let converged = false
    // Binary: prob[0] = P(classes[1]). Multinomial: prob[k] = P(class k).
    const prob = Array.from({ length: K }, () => new Float64Array(n))
    const resid = new Float64Array(n)
    const w = new Float64Array(n)
    const wa = new Float64Array(n)
    while (iterations < maxIter && !converged) {
      iterations++
      setScores(theta)
      for (let r = 0; r < n; r++) {
        if (K === 1) prob[0]![r] = sigmoid(z[0]![r]!)
        else {
          for (let k = 0; k < K; k++) row[k] = z[k]![r]!
          const lse = logSumExp(row)
          for (let k = 0; k < K; k++) prob[k]![r] = Math.exp(row[k]! - lse)
        }
      }
      // Gradient g = penalty·θ + C Σᵢ (pᵢ − tᵢ) ⊗ xᵢ; Hessian H = penalty + C Σᵢ (diag pᵢ − pᵢpᵢᵀ) ⊗ xᵢxᵢᵀ,
      // block (k, l) being Σᵢ wᵢ xᵢxᵢᵀ with wᵢ = pᵢₖ(δₖₗ − pᵢₗ) (binary: pᵢ(1 − pᵢ)). Only the lower triangle
      // is filled (the solver reads no more). Plain version: one pass over the rows adding each row's outer
      // product; the column-wise sums here do the same arithmetic several times faster.
      const g = new Float64Array(m)
      const H = new Float64Array(m * m)
      for (let i = 0; i < m; i++) {
        g[i] = penalised[i]! * theta[i]!
        H[i * m + i] = penalised[i]!
      }
      if (pinShift) {
        const sum = interceptSum(theta, K, d)
        for (let k = 0; k < K; k++) {
          g[k * d + p]! += sum
          for (let l = 0; l <= k; l++) H[(k * d + p) * m + l * d + p]! += 1
        }
      }
      for (let k = 0; k < K; k++) {
        const pk = prob[k]!
        const positive = K === 1 ? 1 : k
        for (let r = 0; r < n; r++) resid[r] = C * (pk[r]! - (target[r] === positive ? 1 : 0))
        for (let a = 0; a < d; a++) g[k * d + a]! += dot(resid, cols[a]!, n)
        for (let l = 0; l <= k; l++) {
          const pl = prob[l]!
          for (let r = 0; r < n; r++) w[r] = C * pk[r]! * ((k === l ? 1 : 0) - pl[r]!)
          for (let a = 0; a < d; a++) {
            const col = cols[a]!
            for (let r = 0; r < n; r++) wa[r] = w[r]! * col[r]!
            // Each block is symmetric in (a, b): compute b ≤ a and mirror into the lower triangle of H.
            for (let b = 0; b <= a; b++) {
              const v = dot(wa, cols[b]!, n)
              H[(k * d + a) * m + l * d + b]! += v
              if (l < k && b < a) H[(k * d + b) * m + l * d + a]! += v
            }
          }
        }
      }
    const step = choleskySolve(H, g, m)
      if (step === undefined) throw new ConfigError('logistic regression: the Hessian is not positive definite (features with huge values?): try standardize: true')
      let moved = 0
      for (let i = 0; i < m; i++) moved = Math.max(moved, Math.abs(step[i]!) / (1 + Math.abs(theta[i]!)))
      // Newton step with backtracking: the objective is convex, so the full step is almost always taken;
      // halving guards the first steps from far away. (The slack of 1e-12·|f| lets rounding pass at the optimum.)
      let t = 1
      const next = new Float64Array(m)
      let descended = false
      for (let halvings = 0; halvings < 50 && !descended; halvings++) {
        for (let i = 0; i < m; i++) next[i] = theta[i]! - t * step[i]!
        const fNext = objective(next)
        if (fNext <= f + 1e-12 * Math.abs(f)) {
          descended = true
          theta = Float64Array.from(next)
          f = fNext
        } else t /= 2
      }
      if (!descended) throw new ConfigError('logistic regression: the line search found no descent (features with huge values?): try standardize: true')
      converged = moved <= tol
    }
    if (!converged) throw new ConfigError(`logistic regression did not converge in ${maxIter} Newton iterations: raise maxIter or try standardize: true`)

    const { coef, intercept } = rawUnits(theta, K, d, p, fitIntercept, mean, scale)
    this.fittedJSON = { type: 'logistic', columns: [...data.columns], classes, options: { ...this.options }, coef, intercept, mean: Array.from(mean), std: Array.from(std), iterations }
    return this
  }

  /** The sorted distinct labels; predictProba's columns follow this order. */
  get classes(): number[] {
    return [...this.fitted().classes]
  }

  /** Coefficients on the raw features: one row (two classes, log-odds of classes[1]) or one per class. */
  get coef(): Float64Array[] {
    const j = this.fitted()
    const p = j.columns.length
    return Array.from({ length: j.intercept.length }, (_, k) => Float64Array.from(j.coef.slice(k * p, (k + 1) * p)))
  }

  get intercept(): Float64Array {
    return Float64Array.from(this.fitted().intercept)
  }

  /** Rows × classes, row-major, in `classes` order. */
  predictProba(m: Matrix): Float64Array {
    const j = this.fitted()
    checkColumns(j.columns, m)
    checkFinite(m)
    const p = j.columns.length
    const rowsOfCoef = j.intercept.length
    const K = j.classes.length
    const out = new Float64Array(m.rows * K)
    const z = new Float64Array(rowsOfCoef)
    const prob = new Float64Array(K)
    for (let r = 0; r < m.rows; r++) {
      for (let k = 0; k < rowsOfCoef; k++) {
        let s = j.intercept[k]!
        for (let c = 0; c < p; c++) s += j.coef[k * p + c]! * m.X[r * p + c]!
        z[k] = s
      }
      if (rowsOfCoef === 1) {
        const q = sigmoid(z[0]!)
        out[r * 2] = 1 - q
        out[r * 2 + 1] = q
      } else {
        softmaxInto(z, prob)
        out.set(prob, r * K)
      }
    }
    return out
  }

  /** The most probable class per row (the lower class on a tie). */
  predict(m: Matrix): Float64Array {
    return mostProbable(this.predictProba(m), this.fitted().classes!, m.rows)
  }

  /** |coefficient| × the feature's standard deviation (summed over classes), normalised to sum 1. */
  featureImportance(): Record<string, number> {
    const j = this.fitted()
    return scaledImportance(j.columns, j.coef, j.std)
  }

  toJSON(): LogisticJSON {
    const j = this.fitted()
    return { ...j, columns: [...j.columns], classes: [...j.classes], options: { ...j.options }, coef: [...j.coef], intercept: [...j.intercept], mean: [...j.mean], std: [...j.std] }
  }

  static fromJSON(json: LogisticJSON): LogisticRegression {
    if (json?.type !== 'logistic') throw new ConfigError(`expected a logistic model (received ${json?.type})`)
    const model = new LogisticRegression(checkObject(json.options, 'options', 'logistic model JSON'))
    const p = checkJSONColumns(json)
    checkClassList(json.classes, 'logistic model JSON')
    const rows = json.classes.length === 2 ? 1 : json.classes.length
    checkNumbers(json.intercept, rows, 'intercept')
    checkNumbers(json.coef, rows * p, 'coef')
    checkNumbers(json.mean, p, 'mean')
    checkNumbers(json.std, p, 'std')
    model.fittedJSON = { ...json, options: model.options }
    return model
  }

  private fitted(): LogisticJSON {
    if (this.fittedJSON === undefined) throw new ConfigError('the model is not fitted yet: call fit() first')
    return this.fittedJSON
  }
}

/** Ridge regression: least squares with an L2 penalty on the coefficients (not on the intercept). */
export class RidgeRegression implements Model {
  readonly family = 'ridge'
  readonly task = 'regression' as const
  readonly options: Required<RidgeOptions>
  private fittedJSON: RidgeJSON | undefined

  constructor(options: RidgeOptions = {}) {
    this.options = { alpha: options.alpha ?? 1, fitIntercept: options.fitIntercept ?? true, standardize: options.standardize ?? false }
    const o = this.options
    if (!(o.alpha >= 0 && o.alpha < Infinity)) throw new ConfigError(`alpha must be a finite number ≥ 0 (received ${o.alpha})`)
    checkBoolean(o.fitIntercept, 'fitIntercept')
    checkBoolean(o.standardize, 'standardize')
  }

  fit(data: Labeled): this {
    checkLabeled(data, 'regression')
    checkFinite(data)
    const { alpha, fitIntercept, standardize } = this.options
    const n = data.rows
    const p = data.columns.length
    // Centred features and target when there is an intercept (scikit-learn's Ridge): the intercept drops out
    // of the penalised problem and is recovered as ȳ − x̄·w. Then (ZᵀZ + αI) w = Zᵀy by Cholesky.
    const { cols, mean, std, scale } = designMatrix(data, standardize, fitIntercept, false)
    let yMean = 0
    if (fitIntercept) {
      for (let r = 0; r < n; r++) yMean += data.y[r]!
      yMean /= n
    }
    const yc = Float64Array.from({ length: n }, (_, r) => data.y[r]! - yMean)
    const A = new Float64Array(p * p)
    const b = new Float64Array(p)
    for (let a = 0; a < p; a++) {
      b[a] = dot(cols[a]!, yc, n)
      for (let c = 0; c <= a; c++) A[a * p + c] = dot(cols[a]!, cols[c]!, n)
    }
    for (let a = 0; a < p; a++) A[a * p + a]! += alpha
    const w = choleskySolve(A, b, p)
    if (w === undefined) throw new ConfigError(`ridge: XᵀX + alpha·I is singular (collinear or constant features with alpha = ${alpha}): use alpha > 0`)
    const coef = Array.from(w, (v, c) => v / scale[c]!)
    let intercept = 0
    if (fitIntercept) {
      intercept = yMean
      for (let c = 0; c < p; c++) intercept -= coef[c]! * mean[c]!
    }
    this.fittedJSON = { type: 'ridge', columns: [...data.columns], options: { ...this.options }, coef, intercept, mean: Array.from(mean), std: Array.from(std) }
    return this
  }

  get coef(): Float64Array {
    return Float64Array.from(this.fitted().coef)
  }

  get intercept(): number {
    return this.fitted().intercept
  }

  predict(m: Matrix): Float64Array {
    const j = this.fitted()
    checkColumns(j.columns, m)
    checkFinite(m)
    const p = j.columns.length
    const out = new Float64Array(m.rows)
    for (let r = 0; r < m.rows; r++) {
      let s = j.intercept
      for (let c = 0; c < p; c++) s += j.coef[c]! * m.X[r * p + c]!
      out[r] = s
    }
    return out
  }

  predictProba(_m: Matrix): Float64Array {
    throw new ConfigError('ridge is a regression model: it has no class probabilities (use predict)')
  }

  /** |coefficient| × the feature's standard deviation, normalised to sum 1. */
  featureImportance(): Record<string, number> {
    const j = this.fitted()
    return scaledImportance(j.columns, j.coef, j.std)
  }

  toJSON(): RidgeJSON {
    const j = this.fitted()
    return { ...j, columns: [...j.columns], options: { ...j.options }, coef: [...j.coef], mean: [...j.mean], std: [...j.std] }
  }

  static fromJSON(json: RidgeJSON): RidgeRegression {
    if (json?.type !== 'ridge') throw new ConfigError(`expected a ridge model (received ${json?.type})`)
    const model = new RidgeRegression(checkObject(json.options, 'options', 'ridge model JSON'))
    const p = checkJSONColumns(json)
    if (json.classes !== undefined) throw new ConfigError('ridge model JSON: a regressor has no "classes"')
    checkNumbers(json.coef, p, 'coef')
    checkNumbers([json.intercept], 1, 'intercept')
    checkNumbers(json.mean, p, 'mean')
    checkNumbers(json.std, p, 'std')
    model.fittedJSON = { ...json, options: model.options }
    return model
  }

  private fitted(): RidgeJSON {
    if (this.fittedJSON === undefined) throw new ConfigError('the model is not fitted yet: call fit() first')
    return this.fittedJSON
  }
}

registerModelType('logistic', (json) => LogisticRegression.fromJSON(json))
registerModelType('ridge', (json) => RidgeRegression.fromJSON(json))

interface Design {
  /** d columns of `rows` values: the features (scaled, and centred if asked), then a column of ones if asked. */
  cols: Float64Array[]
  d: number
  mean: Float64Array
  /** Population standard deviation per feature. */
  std: Float64Array
  /** What each feature is divided by: its std when standardising (1 for a constant feature), else 1. */
  scale: Float64Array
}

/**
 * The features the solver sees. Centring (with an intercept) changes nothing in the optimum — the intercept
 * absorbs it — but keeps the Hessian well conditioned; without an intercept the features are only scaled.
 */
function designMatrix(data: Matrix, standardize: boolean, centre: boolean, ones: boolean): Design {
  const n = data.rows
  const p = data.columns.length
  const mean = new Float64Array(p)
  const std = new Float64Array(p)
  for (let r = 0; r < n; r++) for (let c = 0; c < p; c++) mean[c]! += data.X[r * p + c]!
  for (let c = 0; c < p; c++) mean[c]! /= n
  for (let r = 0; r < n; r++) for (let c = 0; c < p; c++) std[c]! += (data.X[r * p + c]! - mean[c]!) ** 2
  for (let c = 0; c < p; c++) std[c] = Math.sqrt(std[c]! / n)
  // A feature whose spread is rounding noise around its mean counts as constant (as scikit-learn's scaler).
  const scale = Float64Array.from(std, (s, c) => (standardize && s > 10 * Number.EPSILON * Math.max(1, Math.abs(mean[c]!)) ? s : 1))
  const d = p + (ones ? 1 : 0)
  const cols = Array.from({ length: p }, (_, c) => Float64Array.from({ length: n }, (_, r) => (data.X[r * p + c]! - (centre ? mean[c]! : 0)) / scale[c]!))
  if (ones) cols.push(new Float64Array(n).fill(1))
  return { cols, d, mean, std, scale }
}

/** Solver coefficients (on centred, scaled features) back on the raw features. */
function rawUnits(theta: Float64Array, K: number, d: number, p: number, intercept: boolean, mean: Float64Array, scale: Float64Array): { coef: number[]; intercept: number[] } {
  const coef: number[] = []
  const b: number[] = []
  for (let k = 0; k < K; k++) {
    let bk = intercept ? theta[k * d + p]! : 0
    for (let c = 0; c < p; c++) {
      const w = theta[k * d + c]! / scale[c]!
      coef.push(w)
      if (intercept) bk -= w * mean[c]!
    }
    b.push(bk)
  }
  return { coef, intercept: b }
}

function dot(a: Float64Array, b: Float64Array, n: number): number {
  let s = 0
  for (let r = 0; r < n; r++) s += a[r]! * b[r]!
  return s
}

function interceptSum(theta: Float64Array, K: number, d: number): number {
  let s = 0
  for (let k = 0; k < K; k++) s += theta[k * d + d - 1]!
  return s
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z))
}

/** log(1 + eˣ) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))
}

/**
 * Solves A x = b for symmetric positive definite A (n × n, row-major; only the lower triangle is read).
 * Undefined when A is not (numerically) positive definite. A is overwritten by its Cholesky factor.
 */
function choleskySolve(A: Float64Array, b: Float64Array, n: number): Float64Array | undefined {
  for (let j = 0; j < n; j++) {
    const diagonal = A[j * n + j]!
    let s = diagonal
    for (let k = 0; k < j; k++) s -= A[j * n + k]! * A[j * n + k]!
    // A pivot at rounding level of its diagonal means a (numerically) singular matrix, not a tiny one.
    if (!(s > 64 * Number.EPSILON * diagonal)) return undefined
    const ljj = Math.sqrt(s)
    A[j * n + j] = ljj
    for (let i = j + 1; i < n; i++) {
      let t = A[i * n + j]!
      for (let k = 0; k < j; k++) t -= A[i * n + k]! * A[j * n + k]!
      A[i * n + j] = t / ljj
    }
  }
  const x = Float64Array.from(b)
  for (let i = 0; i < n; i++) {
    let t = x[i]!
    for (let k = 0; k < i; k++) t -= A[i * n + k]! * x[k]!
    x[i] = t / A[i * n + i]!
  }
  for (let i = n - 1; i >= 0; i--) {
    let t = x[i]!
    for (let k = i + 1; k < n; k++) t -= A[k * n + i]! * x[k]!
    x[i] = t / A[i * n + i]!
  }
  return x
}

function scaledImportance(columns: string[], coef: number[], std: number[]): Record<string, number> {
  const p = columns.length
  const weight = new Float64Array(p)
  for (let i = 0; i < coef.length; i++) weight[i % p]! += Math.abs(coef[i]!) * std[i % p]!
  const sum = weight.reduce((a, b) => a + b, 0)
  return Object.fromEntries(columns.map((c, i) => [c, sum === 0 ? 0 : weight[i]! / sum]))
}

function checkBoolean(v: unknown, name: string): void {
  if (typeof v !== 'boolean') throw new ConfigError(`${name} must be true or false (received ${String(v)})`)
}

function checkJSONColumns(json: ModelJSON): number {
  return checkColumnNames(json.columns, `${json.type} model JSON`)
}

function checkNumbers(v: unknown, length: number, name: string): void {
  if (!Array.isArray(v) || v.length !== length || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new ConfigError(`model JSON: "${name}" must be ${length} finite numbers (received ${Array.isArray(v) ? `${v.length} values` : typeof v})`)
  }
}
