// Multi-objective geometry: Pareto dominance, fast non-dominated sorting, crowding distances (NSGA-II)
// and the hypervolume a front dominates up to a reference point — exact: a sweep in 2-D, the WFG
// algorithm (exclusive volumes of limit sets) in 3-D and up, which is exponential in the worst case
// and meant for fronts of tens of points. All of it minimises; flip maximised objectives first.

import { ConfigError } from '../core/index.js'
import type { Direction, TrialRecord } from './types.js'

type Point = readonly number[]

/** a dominates b (minimising): no worse in every objective and better in one. */
export function dominates(a: Point, b: Point): boolean {
  let better = false
  for (let k = 0; k < a.length; k++) {
    if (a[k]! > b[k]!) return false
    if (a[k]! < b[k]!) better = true
  }
  return better
}

/** Fronts of point indices (each ascending): front 0 is non-dominated, front 1 is dominated only by 0… */
export function nonDominatedSort(points: readonly Point[]): number[][] {
  const n = points.length
  const count = new Int32Array(n)
  const dominated: number[][] = Array.from({ length: n }, () => [])
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (dominates(points[i]!, points[j]!)) {
        dominated[i]!.push(j)
        count[j]!++
      } else if (dominates(points[j]!, points[i]!)) {
        dominated[j]!.push(i)
        count[i]!++
      }
    }
  }
  const fronts: number[][] = []
  let current: number[] = []
  for (let i = 0; i < n; i++) if (count[i] === 0) current.push(i)
  while (current.length > 0) {
    fronts.push(current)
    const next: number[] = []
    for (const i of current) for (const j of dominated[i]!) if (--count[j]! === 0) next.push(j)
    current = next.sort((a, b) => a - b)
  }
  return fronts
}

/**
 * NSGA-II crowding distance of each point of one front (Optuna's definition): per objective, the gap
 * between the two neighbours in sorted order over the objective's range, summed; the extremes of an
 * objective get Infinity; an objective where all points are equal adds nothing.
 */
export function crowdingDistance(points: readonly Point[]): Float64Array {
  const n = points.length
  const out = new Float64Array(n)
  if (n === 0) return out
  // One order re-sorted in place, objective after objective, by a stable sort (Optuna's population.sort): a tie
  // in objective k keeps its order from objective k − 1, which decides which tied point gets the neighbour's
  // gap. Sorting afresh with ties by index (before) gave other distances where values tie (a numbers audit).
  const order = points.map((_, i) => i)
  for (let k = 0; k < points[0]!.length; k++) {
    order.sort((a, b) => points[a]![k]! - points[b]![k]!)
    const v = (r: number) => (r < 0 ? -Infinity : r >= n ? Infinity : points[order[r]!]![k]!)
    if (v(0) === v(n - 1)) continue
    let min = -Infinity
    let max = Infinity
    for (let r = 0; r < n && min === -Infinity; r++) if (v(r) !== -Infinity) min = v(r)
    for (let r = n - 1; r >= 0 && max === Infinity; r--) if (v(r) !== Infinity) max = v(r)
    const width = max - min > 0 ? max - min : 1
    for (let r = 0; r < n; r++) {
      const gap = v(r - 1) === v(r + 1) ? 0 : v(r + 1) - v(r - 1)
      out[order[r]!]! += gap / width
    }
  }
  return out
}

/** A trial's values as minimisation objectives (maximised ones negated). */
export function lossVector(values: readonly number[], directions: readonly Direction[]): number[] {
  return values.map((v, k) => (directions[k] === 'maximize' ? -v : v))
}

/**
 * The complete trials no other complete trial dominates, in trial order (Optuna's best_trials; equal
 * points are all kept). Directions default to minimising every objective.
 */
export function paretoFront<T extends Pick<TrialRecord, 'state' | 'values'>>(trials: readonly T[], directions?: readonly Direction[]): T[] {
  const done = trials.filter((t) => t.state === 'complete' && t.values !== undefined)
  if (done.length === 0) return []
  const dirs = directions ?? done[0]!.values!.map((): Direction => 'minimize')
  const points = done.map((t) => lossVector(t.values!, dirs))
  return nonDominatedSort(points)[0]!.map((i) => done[i]!)
}

/**
 * The volume dominated by `points` and bounded by `reference` (minimising). Points not strictly better
 * than the reference in every objective add nothing.
 */
export function hypervolume(points: readonly Point[], reference: Point): number {
  const d = reference.length
  if (d === 0 || !reference.every(Number.isFinite)) throw new ConfigError(`hypervolume reference must be finite numbers (received [${reference.join(', ')}])`)
  for (const p of points) {
    if (p.length !== d) throw new ConfigError(`hypervolume points must have ${d} objectives like the reference (received [${p.join(', ')}])`)
    if (p.some((x) => Number.isNaN(x))) throw new ConfigError(`hypervolume points must not hold NaN (received [${p.join(', ')}])`)
  }
  const inside = points.filter((p) => p.every((x, k) => x < reference[k]!))
  if (inside.length === 0) return 0
  return wfg(nonDominated(inside), reference)
}

function nonDominated(points: readonly Point[]): Point[] {
  // Duplicates collapse to one: they cover the same box.
  const out: Point[] = []
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!
    let keep = true
    for (let j = 0; j < points.length && keep; j++) {
      if (j === i) continue
      const q = points[j]!
      if (dominates(q, p) || (j < i && q.every((x, k) => x === p[k]))) keep = false
    }
    if (keep) out.push(p)
  }
  return out
}

function wfg(points: readonly Point[], ref: Point): number {
  const d = ref.length
  if (points.length === 0) return 0
  if (d === 1) return ref[0]! - Math.min(...points.map((p) => p[0]!))
  if (d === 2) return sweep2d(points, ref)
  if (points.length === 1) return box(points[0]!, ref)
  // Sorted worst-first on the last objective, the limit sets shrink fastest (WFG's heuristic).
  const sorted = [...points].sort((a, b) => b[d - 1]! - a[d - 1]!)
  let volume = 0
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i]!
    // Exclusive volume of p: its box minus what the later points cover inside it.
    const limited = sorted.slice(i + 1).map((q) => q.map((x, k) => Math.max(x, p[k]!)))
    volume += box(p, ref) - wfg(nonDominated(limited), ref)
  }
  return volume
}

function box(p: Point, ref: Point): number {
  let v = 1
  for (let k = 0; k < ref.length; k++) v *= ref[k]! - p[k]!
  return v
}

function sweep2d(points: readonly Point[], ref: Point): number {
  const sorted = [...points].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!)
  let volume = 0
  let lastY = ref[1]!
  for (const p of sorted) {
    if (p[1]! >= lastY) continue
    volume += (ref[0]! - p[0]!) * (lastY - p[1]!)
    lastY = p[1]!
  }
  return volume
}
