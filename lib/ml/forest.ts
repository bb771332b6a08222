// Random forests (Breiman 2001, as scikit-learn's RandomForestClassifier/Regressor): each tree grown on a
// bootstrap sample with a random subset of features tried at every node, predictions averaged (class
// probabilities for classifiers). Trees are grown across worker threads; tree i depends only on the seed
// and i, so a forest is the same with one worker or many.

import { availableParallelism } from 'node:os'
import { ConfigError, seededRandom } from '../core/index.js'
import { binFeatures, growTree, type Binned, type GrowOptions, type Grown } from './cart.js'
import { checkClassList, checkColumnNames, checkFiniteArray, checkObject, checkTreeNodes } from './check-json.js'
import { growInWorkers } from './forest-pool.js'
import { checkColumns, checkInt, checkLabeled, classesOf, mostProbable, registerModelType, type Labeled, type Matrix, type Model, type Task } from './model.js'
import { allRows, checkGrowOptions, classTargets, leafOf } from './tree.js'

export interface ForestOptions {
  /** Trees (default 100). */
  nEstimators?: number
  /** Default: unlimited (grown until pure or minSamplesSplit). */
  maxDepth?: number
  minSamplesLeaf?: number
  minSamplesSplit?: number
  /** Features tried per node: 'sqrt' (classifier default), 'log2', 'all' (regressor default), a count, or a fraction in (0, 1]. */
  maxFeatures?: 'sqrt' | 'log2' | 'all' | number
  /** Draw each tree's rows with replacement (default true); false: every tree sees every row. */
  bootstrap?: boolean
  /** Rows per bootstrap sample: a count, or a fraction of the rows (default all). */
  maxSamples?: number
  /** Default 0. */
  seed?: number
  /** Worker threads (default: this machine's cores when the job is big enough to repay starting them, else 1). */
  workers?: number
  /** Bins per feature (default 256). */
  maxBins?: number
  /** Score each row with the trees that did not see it (out-of-bag): accuracy or R² in `oobScore`. */
  oob?: boolean
}

/** One fitted tree, compactly (the forest's JSON holds many). */
export interface TreeNodes {
  feature: number[]
  threshold: number[]
  left: number[]
  right: number[]
  value: number[]
}

export interface ForestJSON {
  type: 'forest-classifier' | 'forest-regressor'
  columns: string[]
  classes?: number[]
  options: { nEstimators: number; maxDepth: number | null; minSamplesLeaf: number; minSamplesSplit: number; maxFeatures: number; bootstrap: boolean; maxSamples: number; seed: number; maxBins: number }
  trees: TreeNodes[]
  /** Mean over trees of each tree's normalised impurity decrease. */
  importance: number[]
  oobScore?: number
}

/** What a worker (or this thread) needs to grow tree i. */
export interface ForestJob {
  binned: Binned
  target: Float64Array
  nClasses: number
  grow: Omit<GrowOptions, 'seed'>
  seed: number
  bootstrap: boolean
  maxSamples: number
}

/** A tree's rows: a seeded bootstrap (or all of them), from the forest's seed and the tree's number alone. */
export function treeSample(job: Pick<ForestJob, 'seed' | 'bootstrap' | 'maxSamples'>, rows: number, i: number): Uint32Array {
  if (!job.bootstrap) return allRows(rows)
  const rng = seededRandom(mix(job.seed, 2 * i))
  const out = new Uint32Array(job.maxSamples)
  for (let j = 0; j < out.length; j++) out[j] = Math.floor(rng.next() * rows)
  return out
}

/** Grow tree i of a forest job (here or in a worker). */
export function growForestTree(job: ForestJob, i: number): { nodes: TreeNodes; importance: Float64Array } {
  const grown = growTree(job.binned, job.target, job.nClasses, treeSample(job, job.binned.rows, i), { ...job.grow, seed: mix(job.seed, 2 * i + 1) })
  return { nodes: compact(grown), importance: grown.importance }
}

function compact(g: Grown): TreeNodes {
  return { feature: g.feature, threshold: g.threshold, left: g.left, right: g.right, value: g.value }
}

/** Two integers into one seed (splitmix-style), so neighbouring trees get unrelated streams. */
function mix(seed: number, i: number): number {
  let z = (seed * 0x9e3779b1 + i * 0x85ebca6b + 0x632be5ab) >>> 0
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0
  return (z ^ (z >>> 16)) >>> 0
}

abstract class ForestBase {
  readonly family = 'forest'
  abstract readonly task: Task
  protected forest: ForestJSON | undefined
  /** Trees grown across this many threads in the last fit. */
  workersUsed = 0

  constructor(readonly options: ForestOptions = {}) {
    checkForestOptions(options)
  }

  protected async grow(type: ForestJSON['type'], m: Labeled, target: Float64Array, classes: number[] | undefined): Promise<void> {
    const o = this.options
    const p = m.columns.length
    const nEstimators = o.nEstimators ?? 100
    const maxFeatures = resolveMaxFeatures(o.maxFeatures ?? (classes === undefined ? 'all' : 'sqrt'), p)
    const maxSamples = o.maxSamples === undefined ? m.rows : o.maxSamples <= 1 && !Number.isInteger(o.maxSamples) ? Math.max(1, Math.round(o.maxSamples * m.rows)) : o.maxSamples
    if (maxSamples > m.rows && o.bootstrap === false) throw new ConfigError(`maxSamples ${maxSamples} exceeds the ${m.rows} rows`)
    const binned = binFeatures(m, o.maxBins ?? 256)
    const job: ForestJob = {
      binned,
      target,
      nClasses: classes?.length ?? 0,
      grow: { maxDepth: o.maxDepth ?? 1_000_000, minSamplesLeaf: o.minSamplesLeaf ?? 1, minSamplesSplit: o.minSamplesSplit ?? 2, maxFeatures, subtraction: true },
      seed: o.seed ?? 0,
      bootstrap: o.bootstrap ?? true,
      maxSamples,
    }
    const workers = Math.min(nEstimators, o.workers ?? (m.rows * nEstimators >= 500_000 ? availableParallelism() : 1))
    this.workersUsed = workers
    const grown = workers > 1 ? await growInWorkers(job, nEstimators, workers) : Array.from({ length: nEstimators }, (_, i) => growForestTree(job, i))
    const importance = new Float64Array(p)
    for (const t of grown) {
      const sum = t.importance.reduce((a, b) => a + b, 0)
      if (sum > 0) for (let f = 0; f < p; f++) importance[f]! += t.importance[f]! / sum / nEstimators
    }
    this.forest = {
      type,
      columns: [...m.columns],
      ...(classes === undefined ? {} : { classes }),
      options: { nEstimators, maxDepth: o.maxDepth ?? null, minSamplesLeaf: job.grow.minSamplesLeaf, minSamplesSplit: job.grow.minSamplesSplit, maxFeatures, bootstrap: job.bootstrap, maxSamples, seed: job.seed, maxBins: o.maxBins ?? 256 },
      trees: grown.map((t) => t.nodes),
      importance: Array.from(importance),
    }
    if (o.oob) this.forest.oobScore = this.outOfBag(m, job)
  }

  /** The mean over trees of each row's leaf values (k per row). */
  protected accumulate(m: Matrix, k: number): Float64Array {
    const f = this.fitted()
    checkColumns(f.columns, m)
    const p = f.columns.length
    const out = new Float64Array(m.rows * k)
    for (const t of f.trees) {
      for (let r = 0; r < m.rows; r++) {
        const leaf = leafOf(t, m.X, p, r)
        for (let c = 0; c < k; c++) out[r * k + c]! += t.value[leaf * k + c]!
      }
    }
    const n = f.trees.length
    for (let i = 0; i < out.length; i++) out[i]! /= n
    return out
  }

  /** Out-of-bag score: each row predicted by the trees whose bootstrap missed it (rows no tree missed are skipped). */
  private outOfBag(m: Labeled, job: ForestJob): number {
    const f = this.fitted()
    const k = job.nClasses > 0 ? job.nClasses : 1
    const p = f.columns.length
    const sums = new Float64Array(m.rows * k)
    const votes = new Uint32Array(m.rows)
    const inBag = new Uint8Array(m.rows)
    f.trees.forEach((t, i) => {
      inBag.fill(0)
      for (const r of treeSample(job, m.rows, i)) inBag[r] = 1
      for (let r = 0; r < m.rows; r++) {
        if (inBag[r] === 1) continue
        const leaf = leafOf(t, m.X, p, r)
        for (let c = 0; c < k; c++) sums[r * k + c]! += t.value[leaf * k + c]!
        votes[r]!++
      }
    })
    let scored = 0
    let hits = 0
    let sse = 0
    let mean = 0
    for (let r = 0; r < m.rows; r++) if (votes[r]! > 0) mean += m.y[r]!
    const counted = votes.reduce((a, v) => a + (v > 0 ? 1 : 0), 0)
    if (counted === 0) return NaN
    mean /= counted
    let sst = 0
    for (let r = 0; r < m.rows; r++) {
      if (votes[r] === 0) continue
      scored++
      if (job.nClasses > 0) {
        let best = 0
        for (let c = 1; c < k; c++) if (sums[r * k + c]! > sums[r * k + best]!) best = c
        if (best === job.target[r]) hits++
      } else {
        const e = sums[r]! / votes[r]! - m.y[r]!
        sse += e * e
        sst += (m.y[r]! - mean) ** 2
      }
    }
    return job.nClasses > 0 ? hits / scored : 1 - sse / sst
  }

  /** Mean over trees of each tree's normalised impurity decrease (scikit-learn's feature_importances_). */
  featureImportance(): Record<string, number> {
    const f = this.fitted()
    return Object.fromEntries(f.columns.map((c, i) => [c, f.importance[i]!]))
  }

  /** Out-of-bag score of the last fit (accuracy or R²), when fitted with `oob: true`. */
  get oobScore(): number | undefined {
    return this.fitted().oobScore
  }

  toJSON(): ForestJSON {
    return this.fitted()
  }

  protected fitted(): ForestJSON {
    if (this.forest === undefined) throw new ConfigError('the model is not fitted yet: call fit() first')
    return this.forest
  }

  protected load(json: ForestJSON): this {
    this.forest = json
    return this
  }
}

/** A random forest of Gini trees; predictProba averages the trees' leaf class shares. */
export class RandomForestClassifier extends ForestBase implements Model {
  readonly task: Task = 'classification'

  async fit(m: Labeled): Promise<this> {
    checkLabeled(m, 'classification')
    const classes = classesOf(m.y)
    await this.grow('forest-classifier', m, classTargets(m.y, classes), classes)
    return this
  }

  get classes(): number[] {
    return this.fitted().classes!
  }

  predictProba(m: Matrix): Float64Array {
    return this.accumulate(m, this.fitted().classes!.length)
  }

  /** The most probable class per row (the lower class on a tie). */
  predict(m: Matrix): Float64Array {
    return mostProbable(this.predictProba(m), this.fitted().classes!, m.rows)
  }

  static fromJSON(json: ForestJSON): RandomForestClassifier {
    if (json.type !== 'forest-classifier') throw new ConfigError(`expected a forest-classifier model (received ${json.type})`)
    checkForestJSON(json)
    return new RandomForestClassifier(fromJSONOptions(json)).load(json)
  }
}

/** A random forest of squared-error trees; predict averages the trees. */
export class RandomForestRegressor extends ForestBase implements Model {
  readonly task: Task = 'regression'

  async fit(m: Labeled): Promise<this> {
    checkLabeled(m, 'regression')
    await this.grow('forest-regressor', m, Float64Array.from(m.y), undefined)
    return this
  }

  predict(m: Matrix): Float64Array {
    return this.accumulate(m, 1)
  }

  predictProba(_m: Matrix): Float64Array {
    throw new ConfigError('a regression forest has no class probabilities: use predict()')
  }

  static fromJSON(json: ForestJSON): RandomForestRegressor {
    if (json.type !== 'forest-regressor') throw new ConfigError(`expected a forest-regressor model (received ${json.type})`)
    checkForestJSON(json)
    return new RandomForestRegressor(fromJSONOptions(json)).load(json)
  }
}

/** A forest's JSON before it is used: names, classes, options, and every tree a proper tree (check-json.ts). */
function checkForestJSON(json: ForestJSON): void {
  const where = `${json.type} model JSON`
  const p = checkColumnNames(json.columns, where)
  const k = json.type === 'forest-classifier' ? checkClassList(json.classes, where) : 1
  if (json.type === 'forest-regressor' && json.classes !== undefined) throw new ConfigError(`${where}: a regressor has no "classes"`)
  checkObject(json.options, 'options', where)
  if (!Array.isArray(json.trees) || json.trees.length === 0) throw new ConfigError(`${where}: "trees" must be a non-empty array of trees`)
  json.trees.forEach((t, i) => checkTreeNodes(t, p, k, `${where}, tree ${i}`))
  checkFiniteArray(json.importance, p, 'importance', where)
}

function fromJSONOptions(json: ForestJSON): ForestOptions {
  const o = json.options
  return { nEstimators: o.nEstimators, maxDepth: o.maxDepth ?? undefined, minSamplesLeaf: o.minSamplesLeaf, minSamplesSplit: o.minSamplesSplit, maxFeatures: o.maxFeatures, bootstrap: o.bootstrap, seed: o.seed, maxBins: o.maxBins }
}

function resolveMaxFeatures(v: NonNullable<ForestOptions['maxFeatures']>, p: number): number {
  if (v === 'sqrt') return Math.max(1, Math.floor(Math.sqrt(p)))
  if (v === 'log2') return Math.max(1, Math.floor(Math.log2(p)))
  if (v === 'all') return p
  if (Number.isInteger(v) && v >= 1) return Math.min(p, v)
  return Math.max(1, Math.floor(v * p))
}

function checkForestOptions(o: ForestOptions): void {
  const { maxFeatures: _, ...grow } = o
  checkGrowOptions(grow)
  checkInt(o.nEstimators, 'nEstimators', 1)
  checkInt(o.workers, 'workers', 1, 256)
  const mf = o.maxFeatures
  if (mf !== undefined && !(mf === 'sqrt' || mf === 'log2' || mf === 'all' || (typeof mf === 'number' && mf > 0 && (Number.isInteger(mf) || mf <= 1)))) {
    throw new ConfigError(`maxFeatures must be 'sqrt', 'log2', 'all', an integer ≥ 1 or a fraction in (0, 1] (received ${mf})`)
  }
  const ms = o.maxSamples
  if (ms !== undefined && !(ms > 0 && (Number.isInteger(ms) || ms <= 1))) throw new ConfigError(`maxSamples must be an integer ≥ 1 or a fraction in (0, 1] (received ${ms})`)
}

registerModelType('forest-classifier', (json) => RandomForestClassifier.fromJSON(json))
registerModelType('forest-regressor', (json) => RandomForestRegressor.fromJSON(json))
