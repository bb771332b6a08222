// Decision trees (CART) for classification (Gini) and regression (squared error), grown by the histogram
// engine of cart.ts. They implement the Model interface of model.ts; forests and boosted trees are built
// from the same engine.

import { ConfigError } from '../core/index.js'
import { binFeatures, growTree, type Grown } from './cart.js'
import { checkClassList, checkColumnNames, checkFiniteArray, checkObject, checkTreeNodes } from './check-json.js'
import { checkColumns, checkInt, checkLabeled, classesOf, mostProbable, registerModelType, type Labeled, type Matrix, type Model, type Task } from './model.js'

export interface TreeOptions {
  /** Default 20. */
  maxDepth?: number
  /** Rows a leaf must keep at least (default 1). */
  minSamplesLeaf?: number
  /** Rows a node needs to be split (default 2). */
  minSamplesSplit?: number
  /** Features tried at each node: all (default), or this many drawn at random (forests). */
  maxFeatures?: number
  /** Seed for the feature draw (default 0). */
  seed?: number
  /** Bins per feature, 2…256 (default 256). */
  maxBins?: number
  /** Histogram subtraction for big nodes (default true). The tree is the same either way: off only to check that. */
  subtraction?: boolean
}

export interface TreeJSON {
  type: 'tree-classifier' | 'tree-regressor'
  columns: string[]
  classes?: number[]
  options: Required<Omit<TreeOptions, 'maxFeatures' | 'subtraction'>> & { maxFeatures: number | null }
  /** Per node: the feature (−1 for a leaf), threshold, left and right children. */
  feature: number[]
  threshold: number[]
  left: number[]
  right: number[]
  /** Per node: class probabilities (classifier, nClasses each) or the mean (regressor). */
  value: number[]
  /** Per node: rows it holds at fit time. */
  samples: number[]
  importance: number[]
}

/** The options with defaults filled in, for the engine. */
export function growOptions(o: TreeOptions, p: number) {
  return {
    maxDepth: o.maxDepth ?? 20,
    minSamplesLeaf: o.minSamplesLeaf ?? 1,
    minSamplesSplit: o.minSamplesSplit ?? 2,
    maxFeatures: o.maxFeatures ?? p,
    seed: o.seed ?? 0,
    subtraction: o.subtraction ?? true,
  }
}

/** The leaf each row falls in (node arrays of a fitted tree). */
export function leafOf(t: Pick<TreeJSON, 'feature' | 'threshold' | 'left' | 'right'>, X: Float64Array, p: number, r: number): number {
  let node = 0
  while (t.feature[node]! >= 0) node = X[r * p + t.feature[node]!]! <= t.threshold[node]! ? t.left[node]! : t.right[node]!
  return node
}

abstract class TreeBase {
  readonly family = 'tree'
  protected tree: TreeJSON | undefined
  constructor(readonly options: TreeOptions = {}) {
    checkTreeOptions(options)
  }

  /** Relative total impurity decrease per feature (sums to 1 when the tree split at all). */
  featureImportance(): Record<string, number> {
    const t = this.fitted()
    const sum = t.importance.reduce((a, b) => a + b, 0)
    return Object.fromEntries(t.columns.map((c, i) => [c, sum === 0 ? 0 : t.importance[i]! / sum]))
  }

  toJSON(): TreeJSON {
    return this.fitted()
  }

  /** Nodes in the fitted tree. */
  get nodeCount(): number {
    return this.fitted().feature.length
  }

  /** The leaf each row falls in. */
  protected leaves(m: Matrix): Int32Array {
    const t = this.fitted()
    checkColumns(t.columns, m)
    const out = new Int32Array(m.rows)
    for (let r = 0; r < m.rows; r++) out[r] = leafOf(t, m.X, t.columns.length, r)
    return out
  }

  protected fitted(): TreeJSON {
    if (this.tree === undefined) throw new ConfigError('the model is not fitted yet: call fit() first')
    return this.tree
  }

  protected store(type: TreeJSON['type'], columns: string[], grown: Grown, classes?: number[]): void {
    const o = this.options
    const { maxDepth, minSamplesLeaf, minSamplesSplit, seed } = growOptions(o, columns.length)
    this.tree = {
      type,
      columns: [...columns],
      ...(classes === undefined ? {} : { classes }),
      options: { maxDepth, minSamplesLeaf, minSamplesSplit, seed, maxBins: o.maxBins ?? 256, maxFeatures: o.maxFeatures ?? null },
      feature: grown.feature,
      threshold: grown.threshold,
      left: grown.left,
      right: grown.right,
      value: grown.value,
      samples: grown.samples,
      importance: Array.from(grown.importance),
    }
  }
}

/** CART classifier (Gini). Labels are any numbers (e.g. −1/0/1); classes are their sorted distinct values. */
export class DecisionTreeClassifier extends TreeBase implements Model {
  readonly task: Task = 'classification'
  fit(m: Labeled, sample?: Uint32Array): this {
    checkLabeled(m, 'classification')
    const classes = classesOf(m.y)
    const target = classTargets(m.y, classes)
    const binned = binFeatures(m, this.options.maxBins ?? 256)
    const grown = growTree(binned, target, classes.length, sample ?? allRows(m.rows), growOptions(this.options, m.columns.length))
    this.store('tree-classifier', m.columns, grown, classes)
    return this
  }

  get classes(): number[] {
    return this.fitted().classes!
  }

  /** Class probabilities: rows × classes, row-major (for two classes, column 1 is P(class = classes[1])). */
  predictProba(m: Matrix): Float64Array {
    const t = this.fitted()
    const k = t.classes!.length
    const leaves = this.leaves(m)
    const out = new Float64Array(m.rows * k)
    for (let r = 0; r < m.rows; r++) for (let c = 0; c < k; c++) out[r * k + c] = t.value[leaves[r]! * k + c]!
    return out
  }

  /** The most probable class per row (the lower class on a tie). */
  predict(m: Matrix): Float64Array {
    return mostProbable(this.predictProba(m), this.fitted().classes!, m.rows)
  }

  static fromJSON(json: TreeJSON): DecisionTreeClassifier {
    if (json.type !== 'tree-classifier') throw new ConfigError(`expected a tree-classifier model (received ${json.type})`)
    checkTreeJSON(json)
    const model = new DecisionTreeClassifier({ ...json.options, maxFeatures: json.options.maxFeatures ?? undefined })
    model.tree = json
    return model
  }
}

/** CART regressor (squared error): a leaf predicts the mean of its rows. */
export class DecisionTreeRegressor extends TreeBase implements Model {
  readonly task: Task = 'regression'
  fit(m: Labeled, sample?: Uint32Array): this {
    checkLabeled(m, 'regression')
    const target = Float64Array.from(m.y)
    const binned = binFeatures(m, this.options.maxBins ?? 256)
    const grown = growTree(binned, target, 0, sample ?? allRows(m.rows), growOptions(this.options, m.columns.length))
    this.store('tree-regressor', m.columns, grown)
    return this
  }

  predict(m: Matrix): Float64Array {
    const t = this.fitted()
    const leaves = this.leaves(m)
    return Float64Array.from(leaves, (leaf) => t.value[leaf]!)
  }

  predictProba(_m: Matrix): Float64Array {
    throw new ConfigError('a regression tree has no class probabilities: use predict()')
  }

  static fromJSON(json: TreeJSON): DecisionTreeRegressor {
    if (json.type !== 'tree-regressor') throw new ConfigError(`expected a tree-regressor model (received ${json.type})`)
    checkTreeJSON(json)
    const model = new DecisionTreeRegressor({ ...json.options, maxFeatures: json.options.maxFeatures ?? undefined })
    model.tree = json
    return model
  }
}

/**
 * A tree's JSON before it is used: feature names, classes (classifiers only), options, and node arrays that
 * form a proper tree over those features with finite thresholds and values (see check-json.ts).
 */
function checkTreeJSON(json: TreeJSON): void {
  const where = `${json.type} model JSON`
  const p = checkColumnNames(json.columns, where)
  const k = json.type === 'tree-classifier' ? checkClassList(json.classes, where) : 1
  if (json.type === 'tree-regressor' && json.classes !== undefined) throw new ConfigError(`${where}: a regressor has no "classes"`)
  checkObject(json.options, 'options', where)
  checkTreeNodes(json, p, k, where)
  checkFiniteArray(json.importance, p, 'importance', where)
}

/** Class index per row (labels are any numbers; classes their sorted distinct values). */
export function classTargets(y: ArrayLike<number>, classes: number[]): Float64Array {
  const index = new Map(classes.map((c, i) => [c, i]))
  const target = new Float64Array(y.length)
  for (let r = 0; r < y.length; r++) target[r] = index.get(y[r]!)!
  return target
}

export function allRows(n: number): Uint32Array {
  const rows = new Uint32Array(n)
  for (let i = 0; i < n; i++) rows[i] = i
  return rows
}

/** The growth options every tree model shares (a forest's maxFeatures takes more forms: it checks its own). */
export function checkGrowOptions(o: Omit<TreeOptions, 'maxFeatures'>): void {
  checkInt(o.maxDepth, 'maxDepth', 1)
  checkInt(o.minSamplesLeaf, 'minSamplesLeaf', 1)
  checkInt(o.minSamplesSplit, 'minSamplesSplit', 2)
  checkInt(o.maxBins, 'maxBins', 2, 256)
  checkInt(o.seed, 'seed', 0)
}

export function checkTreeOptions(o: TreeOptions): void {
  checkGrowOptions(o)
  checkInt(o.maxFeatures, 'maxFeatures', 1)
}

registerModelType('tree-classifier', (json) => DecisionTreeClassifier.fromJSON(json))
registerModelType('tree-regressor', (json) => DecisionTreeRegressor.fromJSON(json))
