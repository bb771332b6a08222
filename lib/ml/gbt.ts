// Gradient-boosted trees (Friedman 2001, as scikit-learn's GradientBoostingClassifier/Regressor with
// criterion='squared_error'): each round fits a squared-error tree to the loss's negative gradient, sets
// its leaves by one Newton step, and adds them shrunk by the learning rate. Squared error for regression;
// log loss (binary) and softmax (K trees a round) for classification. Optional early stopping holds out
// the LAST rows (time order: never validate on the past).

import { ConfigError, seededRandom } from '../core/index.js'
import { binFeatures, growTree, sampleRows, type Grown } from './cart.js'
import { checkClassList, checkColumnNames, checkFiniteArray, checkObject, checkTreeNodes } from './check-json.js'
import type { TreeNodes } from './forest.js'
import { checkColumns, checkInt, checkLabeled, classesOf, logSumExp, mostProbable, registerModelType, softmaxInto, type Labeled, type Matrix, type Model, type Task } from './model.js'
import { allRows, checkTreeOptions, classTargets, leafOf } from './tree.js'

export interface GbtOptions {
  /** Boosting rounds (default 100). */
  nEstimators?: number
  /** Shrinkage per round (default 0.1). */
  learningRate?: number
  /** Depth of each tree (default 3). */
  maxDepth?: number
  minSamplesLeaf?: number
  minSamplesSplit?: number
  /** Fraction of rows drawn (without replacement) for each round: < 1 is stochastic boosting (default 1). */
  subsample?: number
  /** Features tried per node (default all). */
  maxFeatures?: number
  seed?: number
  maxBins?: number
  /** Stop when the loss on the last `validationFraction` of the rows has not improved for this many rounds. */
  earlyStopping?: { validationFraction?: number; patience?: number }
}

export interface GbtJSON {
  type: 'gbt-classifier' | 'gbt-regressor'
  columns: string[]
  classes?: number[]
  options: { nEstimators: number; learningRate: number; maxDepth: number; minSamplesLeaf: number; minSamplesSplit: number; subsample: number; maxFeatures: number | null; seed: number; maxBins: number }
  /** The starting raw score per output (mean; log-odds; log class priors). */
  init: number[]
  /** Per round, one tree per output (leaf values already multiplied by the learning rate). */
  trees: TreeNodes[][]
  importance: number[]
  /** Validation loss per round when early stopping was on. */
  validationLoss?: number[]
}

abstract class GbtBase {
  readonly family = 'gbt'
  abstract readonly task: Task
  protected model: GbtJSON | undefined

  constructor(readonly options: GbtOptions = {}) {
    checkGbtOptions(options)
  }

  /**
   * Boost: K raw scores per row (1 for regression and two classes, else one per class); each round fits a
   * tree per score to the loss's negative gradient on the fitting rows, sets its leaves by a Newton step and
   * adds them (shrunk) to every row's score, the hold-out rows' included for early stopping.
   */
  protected boost(type: GbtJSON['type'], m: Labeled, classes: number[] | undefined, target: Float64Array): void {
    const o = this.options
    const p = m.columns.length
    const K = classes === undefined ? 1 : classes.length === 2 ? 1 : classes.length
    const nEstimators = o.nEstimators ?? 100
    const lr = o.learningRate ?? 0.1
    const binned = binFeatures(m, o.maxBins ?? 256)
    const n = m.rows
    const validation = o.earlyStopping === undefined ? 0 : Math.floor(n * (o.earlyStopping.validationFraction ?? 0.1))
    if (o.earlyStopping !== undefined && (validation < 1 || validation >= n)) throw new ConfigError(`early stopping needs validation rows: validationFraction × rows = ${validation} of ${n}`)
    const fitRows = n - validation
    const patience = o.earlyStopping?.patience ?? 10
    const init = initialScores(target, classes, fitRows)
    const raw = new Float64Array(n * K)
    for (let r = 0; r < n; r++) for (let c = 0; c < K; c++) raw[r * K + c] = init[c]!
    const residual = new Float64Array(n)
    const proba = new Float64Array(n * K)
    const subsample = o.subsample ?? 1
    const rng = seededRandom(o.seed ?? 0)
    const grow = { maxDepth: o.maxDepth ?? 3, minSamplesLeaf: o.minSamplesLeaf ?? 1, minSamplesSplit: o.minSamplesSplit ?? 2, maxFeatures: o.maxFeatures ?? p, subtraction: true }
    const trees: TreeNodes[][] = []
    // Per round, so the importance is that of the trees kept: rounds early stopping drops (grown past the best
    // validation loss, often on noise) must not count for features the model never splits on.
    const roundImportance: Float64Array[] = []
    const validationLoss: number[] = []
    let bestLoss = Infinity
    let bestRound = 0
    for (let round = 0; round < nEstimators; round++) {
      const sample = subsample < 1 ? sampleRows(fitRows, Math.max(1, Math.round(subsample * fitRows)), rng).sort() : allRows(fitRows)
      if (classes !== undefined) probabilities(raw, K, n, proba)
      const roundTrees: TreeNodes[] = []
      const importance = new Float64Array(p)
      for (let c = 0; c < K; c++) {
        // Negative gradient: y − F (squared error), y − p (log loss), 1[y = c] − p_c (softmax).
        for (let r = 0; r < fitRows; r++) {
          if (classes === undefined) residual[r] = target[r]! - raw[r]!
          else if (K === 1) residual[r] = target[r]! - proba[r]!
          else residual[r] = (target[r] === c ? 1 : 0) - proba[r * K + c]!
        }
        const grown = growTree(binned, residual, 0, sample, { ...grow, seed: (o.seed ?? 0) + round * K + c })
        for (let f = 0; f < p; f++) importance[f]! += grown.importance[f]!
        const nodes = newtonLeaves(grown, residual, classes === undefined ? 0 : K, lr)
        roundTrees.push(nodes)
        for (let r = 0; r < n; r++) raw[r * K + c]! += nodes.value[leafOf(nodes, m.X, p, r)]!
      }
      trees.push(roundTrees)
      roundImportance.push(importance)
      if (validation > 0) {
        const loss = lossOn(raw, target, K, classes !== undefined, fitRows, n)
        validationLoss.push(loss)
        if (loss < bestLoss - 1e-12) {
          bestLoss = loss
          bestRound = round
        } else if (round - bestRound >= patience) break
      }
    }
    const kept = validation > 0 ? trees.slice(0, bestRound + 1) : trees
    const importance = new Float64Array(p)
    for (let round = 0; round < kept.length; round++) for (let f = 0; f < p; f++) importance[f]! += roundImportance[round]![f]!
    const sum = importance.reduce((a, b) => a + b, 0)
    this.model = {
      type,
      columns: [...m.columns],
      ...(classes === undefined ? {} : { classes }),
      options: { nEstimators, learningRate: lr, maxDepth: grow.maxDepth, minSamplesLeaf: grow.minSamplesLeaf, minSamplesSplit: grow.minSamplesSplit, subsample, maxFeatures: o.maxFeatures ?? null, seed: o.seed ?? 0, maxBins: o.maxBins ?? 256 },
      init,
      trees: kept,
      importance: Array.from(importance, (v) => (sum === 0 ? 0 : v / sum)),
      ...(validation > 0 ? { validationLoss } : {}),
    }
  }

  /** Raw scores (rows × outputs): init plus every tree's leaf. */
  protected raw(m: Matrix): Float64Array {
    const g = this.fitted()
    checkColumns(g.columns, m)
    const K = g.init.length
    const p = g.columns.length
    const out = new Float64Array(m.rows * K)
    for (let r = 0; r < m.rows; r++) {
      for (let c = 0; c < K; c++) out[r * K + c] = g.init[c]!
      for (const round of g.trees) for (let c = 0; c < K; c++) out[r * K + c]! += round[c]!.value[leafOf(round[c]!, m.X, p, r)]!
    }
    return out
  }

  /** Boosting rounds kept (fewer than nEstimators when early stopping cut them). */
  get rounds(): number {
    return this.fitted().trees.length
  }

  featureImportance(): Record<string, number> {
    const g = this.fitted()
    return Object.fromEntries(g.columns.map((c, i) => [c, g.importance[i]!]))
  }

  toJSON(): GbtJSON {
    return this.fitted()
  }

  protected fitted(): GbtJSON {
    if (this.model === undefined) throw new ConfigError('the model is not fitted yet: call fit() first')
    return this.model
  }

  protected load(json: GbtJSON): this {
    this.model = json
    return this
  }
}

/** Boosted trees on log loss (two classes) or softmax (more). */
export class GradientBoostingClassifier extends GbtBase implements Model {
  readonly task: Task = 'classification'

  fit(m: Labeled): this {
    checkLabeled(m, 'classification')
    const classes = classesOf(m.y)
    this.boost('gbt-classifier', m, classes, classTargets(m.y, classes))
    return this
  }

  get classes(): number[] {
    return this.fitted().classes!
  }

  predictProba(m: Matrix): Float64Array {
    const k = this.fitted().classes!.length
    const raw = this.raw(m)
    const out = new Float64Array(m.rows * k)
    if (k === 2) {
      for (let r = 0; r < m.rows; r++) {
        const p1 = 1 / (1 + Math.exp(-raw[r]!))
        out[r * 2] = 1 - p1
        out[r * 2 + 1] = p1
      }
    } else probabilities(raw, k, m.rows, out)
    return out
  }

  /** The most probable class per row (the lower class on a tie). */
  predict(m: Matrix): Float64Array {
    return mostProbable(this.predictProba(m), this.fitted().classes!, m.rows)
  }

  static fromJSON(json: GbtJSON): GradientBoostingClassifier {
    if (json.type !== 'gbt-classifier') throw new ConfigError(`expected a gbt-classifier model (received ${json.type})`)
    checkGbtJSON(json)
    return new GradientBoostingClassifier(fromJSONOptions(json)).load(json)
  }
}

/** Boosted trees on squared error. */
export class GradientBoostingRegressor extends GbtBase implements Model {
  readonly task: Task = 'regression'

  fit(m: Labeled): this {
    checkLabeled(m, 'regression')
    this.boost('gbt-regressor', m, undefined, Float64Array.from(m.y))
    return this
  }

  predict(m: Matrix): Float64Array {
    return this.raw(m)
  }

  predictProba(_m: Matrix): Float64Array {
    throw new ConfigError('a regression model has no class probabilities: use predict()')
  }

  static fromJSON(json: GbtJSON): GradientBoostingRegressor {
    if (json.type !== 'gbt-regressor') throw new ConfigError(`expected a gbt-regressor model (received ${json.type})`)
    checkGbtJSON(json)
    return new GradientBoostingRegressor(fromJSONOptions(json)).load(json)
  }
}

/** Mean (regression), log-odds of class 1 (binary), log class priors (softmax) — over the fitting rows. */
function initialScores(target: Float64Array, classes: number[] | undefined, rows: number): number[] {
  if (classes === undefined) {
    let s = 0
    for (let r = 0; r < rows; r++) s += target[r]!
    return [s / rows]
  }
  const counts = new Float64Array(classes.length)
  for (let r = 0; r < rows; r++) counts[target[r]!]!++
  if (counts.some((c) => c === 0)) throw new ConfigError('every class must appear in the fitting rows (before the early-stopping hold-out)')
  if (classes.length === 2) return [Math.log(counts[1]! / counts[0]!)]
  return Array.from(counts, (c) => Math.log(c / rows))
}

/** Softmax (K > 1) or the logistic function (K = 1) of the raw scores, into out. */
function probabilities(raw: Float64Array, K: number, n: number, out: Float64Array): void {
  if (K === 1) {
    for (let r = 0; r < n; r++) out[r] = 1 / (1 + Math.exp(-raw[r]!))
    return
  }
  for (let r = 0; r < n; r++) softmaxInto(raw, out, r * K, K)
}

/**
 * The tree's leaves set by one Newton step and shrunk: squared error keeps the mean residual; log loss
 * Σr / Σ(y − r)(1 − y + r) (= Σr / Σp(1 − p)); softmax (K − 1)/K · Σr / Σ|r|(1 − |r|) — scikit-learn's
 * formulas. A zero denominator gives 0.
 */
function newtonLeaves(g: Grown, residual: Float64Array, K: number, lr: number): TreeNodes {
  const value = new Array<number>(g.feature.length)
  for (let node = 0; node < g.feature.length; node++) {
    if (K === 0) {
      value[node] = lr * g.value[node]!
      continue
    }
    if (g.feature[node]! >= 0) {
      value[node] = 0
      continue
    }
    let num = 0
    let den = 0
    for (let i = g.from[node]!; i < g.to[node]!; i++) {
      const r = residual[g.rows[i]!]!
      num += r
      const a = Math.abs(r)
      den += a * (1 - a)
    }
    const step = Math.abs(den) < 1e-150 ? 0 : (K === 1 ? 1 : (K - 1) / K) * (num / den)
    value[node] = lr * step
  }
  return { feature: g.feature, threshold: g.threshold, left: g.left, right: g.right, value }
}

/** Mean loss on rows [from, to): squared error, log loss or softmax cross-entropy. */
function lossOn(raw: Float64Array, target: Float64Array, K: number, classification: boolean, from: number, to: number): number {
  let s = 0
  for (let r = from; r < to; r++) {
    if (!classification) s += (target[r]! - raw[r]!) ** 2
    else if (K === 1) {
      const z = raw[r]!
      // log(1 + e^z) − y z, stably.
      s += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - target[r]! * z
    } else {
      s += logSumExp(raw, r * K, K) - raw[r * K + target[r]!]!
    }
  }
  return s / (to - from)
}

/**
 * A boosted model's JSON before it is used: names, classes, options, one starting score per output (1 for
 * regression and two classes, else one per class), each round one proper tree per output (check-json.ts).
 */
function checkGbtJSON(json: GbtJSON): void {
  const where = `${json.type} model JSON`
  const p = checkColumnNames(json.columns, where)
  const k = json.type === 'gbt-classifier' ? checkClassList(json.classes, where) : 1
  if (json.type === 'gbt-regressor' && json.classes !== undefined) throw new ConfigError(`${where}: a regressor has no "classes"`)
  const K = k === 2 ? 1 : k
  checkObject(json.options, 'options', where)
  checkFiniteArray(json.init, K, 'init', where)
  if (!Array.isArray(json.trees)) throw new ConfigError(`${where}: "trees" must be an array of rounds`)
  json.trees.forEach((round, i) => {
    if (!Array.isArray(round) || round.length !== K) throw new ConfigError(`${where}: round ${i} must hold ${K} tree${K === 1 ? '' : 's'} (one per output)`)
    round.forEach((t, c) => checkTreeNodes(t, p, 1, `${where}, round ${i} tree ${c}`))
  })
  checkFiniteArray(json.importance, p, 'importance', where)
}

function fromJSONOptions(json: GbtJSON): GbtOptions {
  const o = json.options
  return { nEstimators: o.nEstimators, learningRate: o.learningRate, maxDepth: o.maxDepth, minSamplesLeaf: o.minSamplesLeaf, minSamplesSplit: o.minSamplesSplit, subsample: o.subsample, maxFeatures: o.maxFeatures ?? undefined, seed: o.seed, maxBins: o.maxBins }
}

function checkGbtOptions(o: GbtOptions): void {
  checkInt(o.nEstimators, 'nEstimators', 1)
  checkTreeOptions(o)
  const int = checkInt
  if (o.learningRate !== undefined && !(o.learningRate > 0 && o.learningRate <= 10)) throw new ConfigError(`learningRate must be in (0, 10] (received ${o.learningRate})`)
  if (o.subsample !== undefined && !(o.subsample > 0 && o.subsample <= 1)) throw new ConfigError(`subsample must be in (0, 1] (received ${o.subsample})`)
  const es = o.earlyStopping
  if (es?.validationFraction !== undefined && !(es.validationFraction > 0 && es.validationFraction < 1)) throw new ConfigError(`earlyStopping.validationFraction must be in (0, 1) (received ${es.validationFraction})`)
  int(es?.patience, 'earlyStopping.patience', 1)
}

registerModelType('gbt-classifier', (json) => GradientBoostingClassifier.fromJSON(json))
registerModelType('gbt-regressor', (json) => GradientBoostingRegressor.fromJSON(json))
