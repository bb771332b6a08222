// Decision trees (CART) over typed arrays, histogram-based: each feature is cut once into at most 256
// quantile bins, and a node's best split is found by scanning per-bin class counts (classification,
// Gini impurity) or sums (regression, squared error) instead of sorting its rows. That is what makes a
// 50,000 × 20 tree take a fraction of a second (ml-cart, which sorts at every node, is kept as the
// small-data reference in the tests). Split thresholds are real values (midway between the highest value
// of the left bins and the lowest of the right), so prediction needs no binning.

import { ConfigError } from '../core/index.js'
import { seededRandom } from '../core/index.js'

export interface Matrix {
  /** rows × columns, row-major. */
  X: Float64Array
  rows: number
  columns: string[]
}

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

/** Bin codes (column-major) and, per feature, the real thresholds between consecutive bins. */
export interface Binned {
  codes: Uint8Array[]
  /** cuts[f][b]: the threshold between bin b and bin b+1 (rows with value ≤ it go left). */
  cuts: Float64Array[]
}

/** Quantile bins per feature: up to maxBins distinct groups; NaN is refused (impute first). */
export function binFeatures(m: Matrix, maxBins = 256): Binned {
  const { rows } = m
  const p = m.columns.length
  const codes: Uint8Array[] = []
  const cuts: Float64Array[] = []
  const values = new Float64Array(rows)
  for (let f = 0; f < p; f++) {
    for (let r = 0; r < rows; r++) {
      const v = m.X[r * p + f]!
      if (Number.isNaN(v)) throw new ConfigError(`feature ${m.columns[f]} is NaN at row ${r}: impute or drop such rows (makeDataset drops them)`)
      values[r] = v
    }
    // Bin edges from the sorted values, or, past QUANTILE_SAMPLE rows, from a seeded sample of them (as
    // scikit-learn's histogram trees do): the edges move a little, every row still lands in one bin.
    const sorted = (rows > QUANTILE_SAMPLE ? sampleOf(values, QUANTILE_SAMPLE) : Float64Array.from(values)).sort()
    const rowsForEdges = sorted.length
    // Few distinct values: a bin each (cut midway between neighbours); else cut at quantiles.
    let distinct = rowsForEdges > 0 ? 1 : 0
    for (let i = 1; i < rowsForEdges && distinct <= maxBins; i++) if (sorted[i] !== sorted[i - 1]) distinct++
    const edges: number[] = []
    if (distinct <= maxBins) {
      for (let i = 1; i < rowsForEdges; i++) if (sorted[i] !== sorted[i - 1]) edges.push((sorted[i - 1]! + sorted[i]!) / 2)
    } else {
      for (let b = 1; b < maxBins; b++) {
        const i = Math.floor((b * rowsForEdges) / maxBins)
        const lo = sorted[i - 1]!
        const hi = sorted[i]!
        const edge = lo === hi ? lo : (lo + hi) / 2
        if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge)
      }
    }
    const cut = Float64Array.from(edges)
    const padded = new Float64Array(256).fill(Infinity)
    padded.set(cut)
    const code = new Uint8Array(rows)
    for (let r = 0; r < rows; r++) code[r] = binOf(padded, values[r]!)
    codes.push(code)
    cuts.push(cut)
  }
  return { codes, cuts }
}

const QUANTILE_SAMPLE = 16_384

/** The first index whose cut is ≥ v (the bin of v: rows ≤ cut[b] are in bins ≤ b), over cuts padded to
 * 256 with +∞: eight fixed halvings (a plain binary search's loop branches cost twice as much here). */
function binOf(cut: Float64Array, v: number): number {
  let i = 0
  if (cut[i + 127]! < v) i += 128
  if (cut[i + 63]! < v) i += 64
  if (cut[i + 31]! < v) i += 32
  if (cut[i + 15]! < v) i += 16
  if (cut[i + 7]! < v) i += 8
  if (cut[i + 3]! < v) i += 4
  if (cut[i + 1]! < v) i += 2
  if (cut[i]! < v) i += 1
  return i
}

/** k values drawn without replacement (seeded: the same data bins the same way every time). */
function sampleOf(values: Float64Array, k: number): Float64Array {
  const rng = seededRandom(0x5eed)
  const pool = Float64Array.from(values)
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.next() * (pool.length - i))
    const t = pool[i]!
    pool[i] = pool[j]!
    pool[j] = t
  }
  return pool.subarray(0, k)
}

interface Grown {
  feature: number[]
  threshold: number[]
  left: number[]
  right: number[]
  value: number[]
  samples: number[]
  importance: Float64Array
}

/**
 * Grow one tree. `target`: class index per row (classification, nClasses > 0) or the value (regression,
 * nClasses = 0). `sample`: the rows to use (with repeats for a bootstrap).
 */
export function growTree(binned: Binned, target: Float64Array, nClasses: number, sample: Uint32Array, options: TreeOptions): Grown {
  const maxDepth = options.maxDepth ?? 20
  const minLeaf = options.minSamplesLeaf ?? 1
  const minSplit = Math.max(options.minSamplesSplit ?? 2, 2 * minLeaf)
  const p = binned.codes.length
  const maxFeatures = options.maxFeatures === undefined ? p : Math.min(p, options.maxFeatures)
  const rng = seededRandom(options.seed ?? 0)
  const features = Int32Array.from({ length: p }, (_, i) => i)
  const k = nClasses > 0 ? nClasses : 3 // regression: count, sum, sum of squares
  const hist = new Float64Array(256 * k)
  const total = new Float64Array(k)
  const leftAcc = new Float64Array(k)
  const rightAcc = new Float64Array(k)
  const seen = new Uint8Array(256)
  const bins = new Uint8Array(256)
  const grown: Grown = { feature: [], threshold: [], left: [], right: [], value: [], samples: [], importance: new Float64Array(p) }
  const rows = Uint32Array.from(sample)
  const scratch = new Uint32Array(rows.length)

  const stats = (from: number, to: number, out: Float64Array) => {
    out.fill(0)
    for (let i = from; i < to; i++) {
      const t = target[rows[i]!]!
      if (nClasses > 0) out[t]!++
      else {
        out[0]!++
        out[1]! += t
        out[2]! += t * t
      }
    }
  }
  // Impurity × rows: Gini n(1 − Σ pᵢ²) = n − Σ cᵢ²/n; squared error Σy² − (Σy)²/n.
  const cost = (s: Float64Array | number[], n: number): number => {
    if (n === 0) return 0
    if (nClasses > 0) {
      let sq = 0
      for (let c = 0; c < nClasses; c++) sq += s[c]! * s[c]!
      return n - sq / n
    }
    return s[2]! - (s[1]! * s[1]!) / n
  }

  const leafValue = (s: Float64Array, n: number): number[] => (nClasses > 0 ? Array.from({ length: nClasses }, (_, c) => s[c]! / n) : [s[1]! / n])

  // Depth-first with an explicit stack: [from, to, depth, node, the node's full histogram when known].
  const stack: [number, number, number, number, Float64Array | undefined][] = []
  // Nodes this big keep a histogram of every feature (p × 256 × k): a split computes the smaller child's
  // from its rows and the larger one's as parent − smaller (LightGBM's subtraction), halving the work at
  // the top of the tree where most rows are. Smaller nodes histogram one feature at a time and scan
  // only the bins their rows occupy.
  const BIG = 2048
  const full = maxFeatures === p && options.subtraction !== false
  const fullSize = p * 256 * k
  const identity = Uint8Array.from({ length: 256 }, (_, i) => i)
  const buildFull = (from: number, to: number): Float64Array => {
    const h = new Float64Array(fullSize)
    for (let f = 0; f < p; f++) histogram(rows, from, to, binned.codes[f]!, target, nClasses, h, f * 256 * k, undefined, bins)
    return h
  }
  // Each node's class counts (or count, sum, sum of squares), taken once when the node is made.
  const totals: number[] = []
  const newNode = (from: number, to: number): number => {
    const id = grown.feature.length
    stats(from, to, total)
    for (let c = 0; c < k; c++) totals.push(total[c]!)
    grown.feature.push(-1)
    grown.threshold.push(0)
    grown.left.push(-1)
    grown.right.push(-1)
    grown.samples.push(to - from)
    grown.value.push(...leafValue(total, to - from))
    return id
  }
  stack.push([0, rows.length, 0, newNode(0, rows.length), undefined])
  while (stack.length > 0) {
    const [from, to, depth, node, known] = stack.pop()!
    const n = to - from
    if (depth >= maxDepth || n < minSplit) continue
    for (let c = 0; c < k; c++) total[c] = totals[node * k + c]!
    const parentCost = cost(total, n)
    if (parentCost <= 1e-12 * Math.max(1, n)) continue
    // Features to try: a partial Fisher–Yates draw when fewer than all.
    for (let i = 0; i < maxFeatures; i++) {
      const j = i + Math.floor(rng.next() * (p - i))
      const t = features[i]!
      features[i] = features[j]!
      features[j] = t
    }
    let bestGain = 0
    let bestFeature = -1
    let bestBin = -1
    const nodeHist = full && n >= BIG ? (known ?? buildFull(from, to)) : undefined
    for (let fi = 0; fi < maxFeatures; fi++) {
      const f = features[fi]!
      const nb = binned.cuts[f]!.length + 1
      if (nb < 2) continue
      let h: Float64Array
      let base: number
      let order: Uint8Array
      let count: number
      if (nodeHist !== undefined) {
        // Every bin of this feature, in order, from the node's full histogram.
        h = nodeHist
        base = f * 256 * k
        order = identity
        count = nb
      } else {
        h = hist
        base = 0
        order = bins
        count = histogram(rows, from, to, binned.codes[f]!, target, nClasses, hist, 0, seen, bins)
        sortOccupied(bins, count, seen)
      }
      // Rows in bins ≤ b go left: try each boundary between occupied bins.
      leftAcc.fill(0)
      let nLeft = 0
      for (let j = 0; j + 1 < count; j++) {
        const o = base + order[j]! * k
        const cnt = nClasses > 0 ? sumClasses(h, o, k) : h[o]!
        if (cnt === 0) continue
        for (let c = 0; c < k; c++) leftAcc[c]! += h[o + c]!
        nLeft += cnt
        const nRight = n - nLeft
        if (nLeft < minLeaf) continue
        if (nRight < minLeaf) break
        for (let c = 0; c < k; c++) rightAcc[c] = total[c]! - leftAcc[c]!
        const gain = parentCost - cost(leftAcc, nLeft) - cost(rightAcc, nRight)
        if (gain > bestGain + 1e-12) {
          bestGain = gain
          bestFeature = f
          bestBin = order[j]!
        }
      }
      if (nodeHist === undefined) {
        for (let j = 0; j < count; j++) {
          seen[bins[j]!] = 0
          hist.fill(0, bins[j]! * k, bins[j]! * k + k)
        }
      }
    }
    if (bestFeature < 0) continue
    // Partition rows[from, to) stably: bins ≤ bestBin left.
    const code = binned.codes[bestFeature]!
    let l = from
    let s = 0
    for (let i = from; i < to; i++) {
      const r = rows[i]!
      if (code[r]! <= bestBin) rows[l++] = r
      else scratch[s++] = r
    }
    rows.set(scratch.subarray(0, s), l)
    grown.feature[node] = bestFeature
    grown.threshold[node] = binned.cuts[bestFeature]![bestBin]!
    grown.importance[bestFeature]! += bestGain
    const leftNode = newNode(from, l)
    const rightNode = newNode(l, to)
    grown.left[node] = leftNode
    grown.right[node] = rightNode
    let leftHist: Float64Array | undefined
    let rightHist: Float64Array | undefined
    if (nodeHist !== undefined && depth + 1 < maxDepth && Math.max(l - from, to - l) >= BIG) {
      const leftSmaller = l - from <= to - l
      const small = leftSmaller ? buildFull(from, l) : buildFull(l, to)
      // The parent's histogram becomes the larger child's: parent − smaller.
      for (let i = 0; i < fullSize; i++) nodeHist[i]! -= small[i]!
      leftHist = leftSmaller ? small : nodeHist
      rightHist = leftSmaller ? nodeHist : small
    }
    stack.push([l, to, depth + 1, rightNode, rightHist], [from, l, depth + 1, leftNode, leftHist])
  }
  return grown
}

/**
 * Per-bin sums of rows[from, to) into h at offset: class counts (k = nClasses per bin), or count, sum
 * and sum of squares (regression, nClasses = 0). With `seen`, each newly occupied bin is listed in `bins`;
 * returns how many. (A function of its own: its arrays are locals here, not variables captured by
 * growTree's closures, which the hot loop would read through a context.)
 */
function histogram(rows: Uint32Array, from: number, to: number, code: Uint8Array, target: Float64Array, nClasses: number, h: Float64Array, offset: number, seen: Uint8Array | undefined, bins: Uint8Array): number {
  let touched = 0
  const k = nClasses > 0 ? nClasses : 3
  for (let i = from; i < to; i++) {
    const r = rows[i]!
    const b = code[r]!
    if (seen !== undefined && seen[b] === 0) {
      seen[b] = 1
      bins[touched++] = b
    }
    const o = offset + b * k
    if (nClasses > 0) h[o + (target[r]! | 0)]!++
    else {
      const t = target[r]!
      h[o]!++
      h[o + 1]! += t
      h[o + 2]! += t * t
    }
  }
  return touched
}

/** The `count` occupied bins listed in `bins`, put in order: a sweep of the seen-flags when many, an insertion sort when few. */
function sortOccupied(bins: Uint8Array, count: number, seen: Uint8Array): void {
  if (count > 32) {
    let j = 0
    for (let b = 0; b < 256; b++) if (seen[b] === 1) bins[j++] = b
    return
  }
  for (let a = 1; a < count; a++) {
    const v = bins[a]!
    let j = a - 1
    while (j >= 0 && bins[j]! > v) {
      bins[j + 1] = bins[j]!
      j--
    }
    bins[j + 1] = v
  }
}

function sumClasses(hist: Float64Array, offset: number, k: number): number {
  let s = 0
  for (let c = 0; c < k; c++) s += hist[offset + c]!
  return s
}

abstract class TreeBase {
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
    const p = t.columns.length
    if (m.columns.length !== p || m.columns.some((c, i) => c !== t.columns[i])) throw new ConfigError(`the model was fitted on features [${t.columns.join(', ')}]; received [${m.columns.join(', ')}]`)
    const out = new Int32Array(m.rows)
    for (let r = 0; r < m.rows; r++) {
      let node = 0
      while (t.feature[node]! >= 0) {
        const v = m.X[r * p + t.feature[node]!]!
        node = v <= t.threshold[node]! ? t.left[node]! : t.right[node]!
      }
      out[r] = node
    }
    return out
  }

  protected fitted(): TreeJSON {
    if (this.tree === undefined) throw new ConfigError('the model is not fitted yet: call fit() first')
    return this.tree
  }

  protected store(type: TreeJSON['type'], columns: string[], grown: Grown, classes?: number[]): void {
    const o = this.options
    this.tree = {
      type,
      columns: [...columns],
      ...(classes === undefined ? {} : { classes }),
      options: { maxDepth: o.maxDepth ?? 20, minSamplesLeaf: o.minSamplesLeaf ?? 1, minSamplesSplit: o.minSamplesSplit ?? 2, seed: o.seed ?? 0, maxBins: o.maxBins ?? 256, maxFeatures: o.maxFeatures ?? null },
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
export class DecisionTreeClassifier extends TreeBase {
  fit(m: Matrix & { y: ArrayLike<number> }, sample?: Uint32Array): this {
    checkMatrix(m)
    const classes = [...new Set(Array.from(m.y))].sort((a, b) => a - b)
    if (classes.some((c) => !Number.isFinite(c))) throw new ConfigError('labels must be finite numbers (drop NaN rows first)')
    const index = new Map(classes.map((c, i) => [c, i]))
    const target = new Float64Array(m.rows)
    for (let r = 0; r < m.rows; r++) target[r] = index.get(m.y[r]!)!
    const binned = binFeatures(m, this.options.maxBins ?? 256)
    const grown = growTree(binned, target, classes.length, sample ?? Uint32Array.from({ length: m.rows }, (_, i) => i), this.options)
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
    const t = this.fitted()
    const k = t.classes!.length
    const proba = this.predictProba(m)
    const out = new Float64Array(m.rows)
    for (let r = 0; r < m.rows; r++) {
      let best = 0
      for (let c = 1; c < k; c++) if (proba[r * k + c]! > proba[r * k + best]!) best = c
      out[r] = t.classes![best]!
    }
    return out
  }

  static fromJSON(json: TreeJSON): DecisionTreeClassifier {
    if (json.type !== 'tree-classifier') throw new ConfigError(`expected a tree-classifier model (received ${json.type})`)
    const model = new DecisionTreeClassifier({ ...json.options, maxFeatures: json.options.maxFeatures ?? undefined })
    model.tree = json
    return model
  }
}

/** CART regressor (squared error): a leaf predicts the mean of its rows. */
export class DecisionTreeRegressor extends TreeBase {
  fit(m: Matrix & { y: ArrayLike<number> }, sample?: Uint32Array): this {
    checkMatrix(m)
    const target = Float64Array.from(m.y)
    if (target.some((v) => !Number.isFinite(v))) throw new ConfigError('targets must be finite numbers (drop NaN rows first)')
    const binned = binFeatures(m, this.options.maxBins ?? 256)
    const grown = growTree(binned, target, 0, sample ?? Uint32Array.from({ length: m.rows }, (_, i) => i), this.options)
    this.store('tree-regressor', m.columns, grown)
    return this
  }

  predict(m: Matrix): Float64Array {
    const t = this.fitted()
    const leaves = this.leaves(m)
    return Float64Array.from(leaves, (leaf) => t.value[leaf]!)
  }

  static fromJSON(json: TreeJSON): DecisionTreeRegressor {
    if (json.type !== 'tree-regressor') throw new ConfigError(`expected a tree-regressor model (received ${json.type})`)
    const model = new DecisionTreeRegressor({ ...json.options, maxFeatures: json.options.maxFeatures ?? undefined })
    model.tree = json
    return model
  }
}

function checkMatrix(m: Matrix & { y: ArrayLike<number> }): void {
  if (m.rows < 1) throw new ConfigError('fit needs at least one row')
  if (m.X.length !== m.rows * m.columns.length) throw new ConfigError(`X has ${m.X.length} values; expected rows × columns = ${m.rows} × ${m.columns.length}`)
  if (m.y.length !== m.rows) throw new ConfigError(`y has ${m.y.length} values; expected one per row (${m.rows})`)
}

function checkTreeOptions(o: TreeOptions): void {
  const int = (v: number | undefined, name: string, min: number, max = Infinity) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new ConfigError(`${name} must be an integer in [${min}, ${max}] (received ${v})`)
  }
  int(o.maxDepth, 'maxDepth', 1)
  int(o.minSamplesLeaf, 'minSamplesLeaf', 1)
  int(o.minSamplesSplit, 'minSamplesSplit', 2)
  int(o.maxFeatures, 'maxFeatures', 1)
  int(o.maxBins, 'maxBins', 2, 256)
  int(o.seed, 'seed', 0)
}
