// The engine under every mtflow tree (decision trees, forests, boosted trees): features cut once into at
// most 256 quantile bins, and a node's best split found by scanning per-bin class counts (Gini) or sums
// (squared error) instead of sorting its rows — what makes a 50,000 × 20 tree take a fraction of a second
// (ml-cart, which sorts at every node, is kept as the small-data reference in the tests). Thresholds are
// real values (midway between neighbouring bins), so prediction needs no binning.

import { ConfigError, seededRandom, type Random } from '../core/index.js'
import type { Matrix } from './model.js'

/** Bin codes and, per feature, the real thresholds between consecutive bins. */
export interface Binned {
  rows: number
  /** Features. */
  p: number
  /** rows × p bin codes, row-major: a node's histogram of every feature is one pass over its rows. */
  codes: Uint8Array
  /** cuts[f][b]: an edge between bin b and bin b+1 (rows with value ≤ it are in bins ≤ b). */
  cuts: Float64Array[]
  /** lo[f][b], hi[f][b]: the lowest and highest value in bin b (a split's threshold is the midpoint of the
   * values either side of it in the node, as in an exact CART). */
  lo: Float64Array[]
  hi: Float64Array[]
}

/** Bin edges come from this many rows drawn once (seeded) when there are more: sorting every value of
 * every feature would cost more than growing the tree (scikit-learn's histogram trees also sample). */
const QUANTILE_SAMPLE = 8192

/** Quantile bins per feature: up to maxBins distinct groups; NaN and ±∞ are refused (impute first). */
export function binFeatures(m: Matrix, maxBins = 256): Binned {
  const { rows } = m
  const p = m.columns.length
  const codes = new Uint8Array(rows * p)
  const cuts: Float64Array[] = []
  const lo: Float64Array[] = []
  const hi: Float64Array[] = []
  // Seeded: the same data bins the same way every time.
  const picked = rows > QUANTILE_SAMPLE ? sampleRows(rows, QUANTILE_SAMPLE, seededRandom(0x5eed)) : undefined
  const sorted = new Float64Array(picked === undefined ? rows : QUANTILE_SAMPLE)
  const padded = new Float64Array(256)
  for (let f = 0; f < p; f++) {
    if (picked === undefined) for (let r = 0; r < rows; r++) sorted[r] = m.X[r * p + f]!
    else for (let i = 0; i < picked.length; i++) sorted[i] = m.X[picked[i]! * p + f]!
    sorted.sort()
    const n = sorted.length
    // Few distinct values: a bin each (cut midway between neighbours); else cut at quantiles.
    let distinct = n > 0 ? 1 : 0
    for (let i = 1; i < n && distinct <= maxBins; i++) if (sorted[i] !== sorted[i - 1]) distinct++
    const edges: number[] = []
    if (distinct <= maxBins) {
      for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) edges.push((sorted[i - 1]! + sorted[i]!) / 2)
    } else {
      for (let b = 1; b < maxBins; b++) {
        const i = Math.floor((b * n) / maxBins)
        const lo = sorted[i - 1]!
        const hi = sorted[i]!
        const edge = lo === hi ? lo : (lo + hi) / 2
        if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge)
      }
    }
    const cut = Float64Array.from(edges)
    padded.fill(Infinity)
    padded.set(cut)
    const low = new Float64Array(cut.length + 1).fill(Infinity)
    const high = new Float64Array(cut.length + 1).fill(-Infinity)
    for (let r = 0; r < rows; r++) {
      const v = m.X[r * p + f]!
      // Checked here, in the one pass over every value (edges drawn from a NaN are thrown away with it).
      if (!Number.isFinite(v)) throw new ConfigError(`feature ${m.columns[f]} is ${v} at row ${r}: impute or drop such rows (makeDataset drops them)`)
      const b = binOf(padded, v)
      codes[r * p + f] = b
      if (v < low[b]!) low[b] = v
      if (v > high[b]!) high[b] = v
    }
    cuts.push(cut)
    lo.push(low)
    hi.push(high)
  }
  return { rows, p, codes, cuts, lo, hi }
}

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

/** k distinct row numbers of 0…rows−1 (a partial Fisher–Yates shuffle), drawn from rng. */
export function sampleRows(rows: number, k: number, rng: Random): Uint32Array {
  const pool = new Uint32Array(rows)
  for (let i = 0; i < rows; i++) pool[i] = i
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.next() * (rows - i))
    const t = pool[i]!
    pool[i] = pool[j]!
    pool[j] = t
  }
  return pool.subarray(0, k)
}

export interface GrowOptions {
  maxDepth: number
  minSamplesLeaf: number
  minSamplesSplit: number
  /** Features tried at each node (≤ p; p: all). */
  maxFeatures: number
  seed: number
  /** Histogram subtraction for big nodes. The tree is the same either way: off only to check that. */
  subtraction: boolean
}

export interface Grown {
  feature: number[]
  threshold: number[]
  left: number[]
  right: number[]
  /** Per node: class shares (nClasses each) or the mean target. */
  value: number[]
  samples: number[]
  importance: Float64Array
  /** The rows, partitioned: node i holds rows[from[i], to[i]) (boosting re-fits leaf values from them). */
  rows: Uint32Array
  from: number[]
  to: number[]
}

/** Nodes of at least this many rows use histograms of every feature, built in one pass over the rows, and
 * histogram subtraction (the larger child's = parent − smaller child's, LightGBM's trick). Smaller nodes
 * histogram one feature at a time over the bins their rows occupy (cheaper than clearing and scanning
 * 256 bins × every feature for a handful of rows). Measured on 50,000 × 20. */
const FULL_MIN = 512

/**
 * Grow one tree. `target`: class index per row (classification, nClasses > 0) or the value (regression,
 * nClasses = 0). `sample`: the rows to use (with repeats for a bootstrap).
 */
export function growTree(binned: Binned, target: Float64Array, nClasses: number, sample: Uint32Array, o: GrowOptions): Grown {
  const { p, codes } = binned
  const maxFeatures = Math.min(p, o.maxFeatures)
  const minLeaf = o.minSamplesLeaf
  const minSplit = Math.max(o.minSamplesSplit, 2 * minLeaf)
  const rng = seededRandom(o.seed)
  const features = Int32Array.from({ length: p }, (_, i) => i)
  const k = nClasses > 0 ? nClasses : 3 // regression: count, sum, sum of squares
  const stride = 256 * k
  const fullSize = p * stride
  const full = maxFeatures === p && o.subtraction
  const rows = Uint32Array.from(sample)
  const scratch = new Uint32Array(rows.length)
  const hist = new Float64Array(stride)
  const seen = new Uint8Array(256)
  const bins = new Uint8Array(256)
  const identity = Uint8Array.from({ length: 256 }, (_, i) => i)
  const total = new Float64Array(k)
  const best = new Split(k)
  const pool: Float64Array[] = []
  const take = () => pool.pop() ?? new Float64Array(fullSize)
  const g: Grown = { feature: [], threshold: [], left: [], right: [], value: [], samples: [], importance: new Float64Array(p), rows, from: [], to: [] }
  // Each node's class counts (or count, sum, sum of squares), taken once when the node is made.
  const totals: number[] = []
  const newNode = (from: number, to: number): number => {
    const id = g.feature.length
    nodeTotals(rows, from, to, target, nClasses, total)
    const n = to - from
    for (let c = 0; c < k; c++) totals.push(total[c]!)
    g.feature.push(-1)
    g.threshold.push(0)
    g.left.push(-1)
    g.right.push(-1)
    g.samples.push(n)
    g.from.push(from)
    g.to.push(to)
    if (nClasses > 0) for (let c = 0; c < nClasses; c++) g.value.push(total[c]! / n)
    else g.value.push(total[1]! / n)
    return id
  }
  // Depth-first with an explicit stack: [from, to, depth, node, the node's full histogram when known].
  const stack: [number, number, number, number, Float64Array | undefined][] = [[0, rows.length, 0, newNode(0, rows.length), undefined]]
  while (stack.length > 0) {
    const [from, to, depth, node, known] = stack.pop()!
    const n = to - from
    if (depth >= o.maxDepth || n < minSplit) {
      if (known !== undefined) pool.push(known)
      continue
    }
    for (let c = 0; c < k; c++) total[c] = totals[node * k + c]!
    const parentCost = cost(total, 0, n, nClasses)
    if (parentCost <= 1e-12 * Math.max(1, n)) {
      if (known !== undefined) pool.push(known)
      continue
    }
    // Features to try: a partial Fisher–Yates draw when fewer than all, tried in index order (so equal
    // gains go to the lower feature whatever the draw, as with all features).
    if (maxFeatures < p) {
      for (let i = 0; i < maxFeatures; i++) {
        const j = i + Math.floor(rng.next() * (p - i))
        const t = features[i]!
        features[i] = features[j]!
        features[j] = t
      }
      features.subarray(0, maxFeatures).sort()
    }
    best.reset(parentCost)
    const nodeHist = known ?? (full && n >= FULL_MIN ? buildFull(rows, from, to, codes, p, target, nClasses, take()) : undefined)
    for (let fi = 0; fi < maxFeatures; fi++) {
      const f = features[fi]!
      const nb = binned.cuts[f]!.length + 1
      if (nb < 2) continue
      if (nodeHist !== undefined) {
        scanBins(nodeHist, f * stride, identity, nb, k, nClasses, total, n, minLeaf, f, best)
      } else {
        const count = histogram(rows, from, to, codes, p, f, target, nClasses, hist, seen, bins)
        sortOccupied(bins, count, seen)
        scanBins(hist, 0, bins, count, k, nClasses, total, n, minLeaf, f, best)
        for (let j = 0; j < count; j++) {
          seen[bins[j]!] = 0
          hist.fill(0, bins[j]! * k, bins[j]! * k + k)
        }
      }
    }
    if (best.feature < 0) {
      if (nodeHist !== undefined) pool.push(nodeHist)
      continue
    }
    // Partition rows[from, to) stably: bins ≤ best.bin left; note the lowest bin going right.
    let l = from
    let s = 0
    let rightBin = 255
    for (let i = from; i < to; i++) {
      const r = rows[i]!
      const b = codes[r * p + best.feature]!
      if (b <= best.bin) rows[l++] = r
      else {
        scratch[s++] = r
        if (b < rightBin) rightBin = b
      }
    }
    rows.set(scratch.subarray(0, s), l)
    g.feature[node] = best.feature
    g.threshold[node] = midpoint(binned.hi[best.feature]![best.bin]!, binned.lo[best.feature]![rightBin]!)
    g.importance[best.feature]! += best.gain
    const leftNode = newNode(from, l)
    const rightNode = newNode(l, to)
    g.left[node] = leftNode
    g.right[node] = rightNode
    let leftHist: Float64Array | undefined
    let rightHist: Float64Array | undefined
    if (nodeHist !== undefined && depth + 1 < o.maxDepth && Math.max(l - from, to - l) >= FULL_MIN) {
      const leftSmaller = l - from <= to - l
      const small = leftSmaller ? buildFull(rows, from, l, codes, p, target, nClasses, take()) : buildFull(rows, l, to, codes, p, target, nClasses, take())
      // The parent's histogram becomes the larger child's: parent − smaller.
      for (let i = 0; i < fullSize; i++) nodeHist[i]! -= small[i]!
      leftHist = leftSmaller ? small : nodeHist
      rightHist = leftSmaller ? nodeHist : small
    } else if (nodeHist !== undefined) pool.push(nodeHist)
    stack.push([l, to, depth + 1, rightNode, rightHist], [from, l, depth + 1, leftNode, leftHist])
  }
  return g
}

/** Midway between the highest value going left and the lowest going right (the lower one should rounding
 * land the midpoint on the upper: scikit-learn's rule), so a threshold never depends on the binning. */
function midpoint(a: number, b: number): number {
  const m = a / 2 + b / 2
  return m >= b ? a : m
}

/** The best split so far of one node. */
class Split {
  gain = 0
  feature = -1
  bin = -1
  parentCost = 0
  readonly left: Float64Array
  readonly right: Float64Array
  constructor(k: number) {
    this.left = new Float64Array(k)
    this.right = new Float64Array(k)
  }
  reset(parentCost: number): void {
    this.gain = 0
    this.feature = -1
    this.bin = -1
    this.parentCost = parentCost
  }
}

/** Impurity × rows: Gini n(1 − Σ pᵢ²) = n − Σ cᵢ²/n; squared error Σy² − (Σy)²/n. */
function cost(s: Float64Array, offset: number, n: number, nClasses: number): number {
  if (n === 0) return 0
  if (nClasses > 0) {
    let sq = 0
    for (let c = 0; c < nClasses; c++) sq += s[offset + c]! * s[offset + c]!
    return n - sq / n
  }
  return s[offset + 2]! - (s[offset + 1]! * s[offset + 1]!) / n
}

/**
 * Try each boundary between the `count` bins listed in `order` (ascending) of the histogram at `base`:
 * rows in bins ≤ b go left. Updates `best` when a split gains more (ties keep the earlier feature/bin).
 * Two classes have their own loop (the common case; the generic loop's per-class inner loops cost ~2×).
 */
function scanBins(h: Float64Array, base: number, order: Uint8Array, count: number, k: number, nClasses: number, total: Float64Array, n: number, minLeaf: number, f: number, best: Split): void {
  const parentCost = best.parentCost
  if (nClasses === 2) {
    let left0 = 0
    let left1 = 0
    const t0 = total[0]!
    const t1 = total[1]!
    for (let j = 0; j + 1 < count; j++) {
      const o = base + order[j]! * 2
      const c0 = h[o]!
      const c1 = h[o + 1]!
      if (c0 + c1 === 0) continue
      left0 += c0
      left1 += c1
      const nLeft = left0 + left1
      const nRight = n - nLeft
      if (nLeft < minLeaf) continue
      if (nRight < minLeaf) break
      const r0 = t0 - left0
      const r1 = t1 - left1
      const gain = parentCost - (nLeft - (left0 * left0 + left1 * left1) / nLeft) - (nRight - (r0 * r0 + r1 * r1) / nRight)
      if (gain > best.gain + 1e-12) {
        best.gain = gain
        best.feature = f
        best.bin = order[j]!
      }
    }
    return
  }
  const left = best.left
  const right = best.right
  left.fill(0)
  let nLeft = 0
  for (let j = 0; j + 1 < count; j++) {
    const o = base + order[j]! * k
    let cnt = 0
    if (nClasses > 0) for (let c = 0; c < k; c++) cnt += h[o + c]!
    else cnt = h[o]!
    if (cnt === 0) continue
    for (let c = 0; c < k; c++) left[c]! += h[o + c]!
    nLeft += cnt
    const nRight = n - nLeft
    if (nLeft < minLeaf) continue
    if (nRight < minLeaf) break
    for (let c = 0; c < k; c++) right[c] = total[c]! - left[c]!
    const gain = parentCost - cost(left, 0, nLeft, nClasses) - cost(right, 0, nRight, nClasses)
    if (gain > best.gain + 1e-12) {
      best.gain = gain
      best.feature = f
      best.bin = order[j]!
    }
  }
}

/** A node's class counts (or count, sum, sum of squares) from its rows. */
function nodeTotals(rows: Uint32Array, from: number, to: number, target: Float64Array, nClasses: number, out: Float64Array): void {
  out.fill(0)
  if (nClasses > 0) {
    for (let i = from; i < to; i++) out[target[rows[i]!]! | 0]!++
    return
  }
  let sum = 0
  let sq = 0
  for (let i = from; i < to; i++) {
    const t = target[rows[i]!]!
    sum += t
    sq += t * t
  }
  out[0] = to - from
  out[1] = sum
  out[2] = sq
}

/** Histograms of every feature of rows[from, to), into h (p × 256 × k), in one pass over the rows. */
function buildFull(rows: Uint32Array, from: number, to: number, codes: Uint8Array, p: number, target: Float64Array, nClasses: number, h: Float64Array): Float64Array {
  h.fill(0)
  if (nClasses > 0) {
    const k = nClasses
    const stride = 256 * k
    for (let i = from; i < to; i++) {
      const r = rows[i]!
      const t = target[r]! | 0
      const base = r * p
      for (let f = 0, o = t; f < p; f++, o += stride) h[o + codes[base + f]! * k]!++
    }
    return h
  }
  const stride = 256 * 3
  for (let i = from; i < to; i++) {
    const r = rows[i]!
    const t = target[r]!
    const t2 = t * t
    const base = r * p
    for (let f = 0, o = 0; f < p; f++, o += stride) {
      const b = o + codes[base + f]! * 3
      h[b]!++
      h[b + 1]! += t
      h[b + 2]! += t2
    }
  }
  return h
}

/**
 * One feature's per-bin sums of rows[from, to) into h (256 × k); each newly occupied bin is listed in
 * `bins`; returns how many.
 */
function histogram(rows: Uint32Array, from: number, to: number, codes: Uint8Array, p: number, f: number, target: Float64Array, nClasses: number, h: Float64Array, seen: Uint8Array, bins: Uint8Array): number {
  let touched = 0
  const k = nClasses > 0 ? nClasses : 3
  for (let i = from; i < to; i++) {
    const r = rows[i]!
    const b = codes[r * p + f]!
    if (seen[b] === 0) {
      seen[b] = 1
      bins[touched++] = b
    }
    const o = b * k
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
