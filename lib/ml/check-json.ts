// Checks on a model's JSON before it is rebuilt: a package is data from disk or the network, and a tree
// whose child points back at its parent makes every prediction loop forever. Trees must be proper trees
// (every node reached exactly once from the root), indices in range, numbers finite; all walks iterative.

import { ConfigError, preview } from '../core/index.js'

/** Feature names: distinct non-empty strings; returns how many. */
export function checkColumnNames(columns: unknown, where: string): number {
  if (!Array.isArray(columns) || columns.length === 0) throw new ConfigError(`${where}: "columns" must be a non-empty array of feature names (received ${preview(columns)})`)
  const seen = new Set<string>()
  columns.forEach((c, i) => {
    if (typeof c !== 'string' || c === '' || seen.has(c)) throw new ConfigError(`${where}: columns[${i}] must be a distinct non-empty string (received ${preview(c)})`)
    seen.add(c)
  })
  return columns.length
}

/** A classifier's classes: at least two finite numbers, strictly increasing (sorted, distinct). */
export function checkClassList(classes: unknown, where: string): number {
  if (!Array.isArray(classes) || classes.length < 2) throw new ConfigError(`${where}: "classes" must list at least two labels (received ${preview(classes)})`)
  classes.forEach((c, i) => {
    if (typeof c !== 'number' || !Number.isFinite(c) || (i > 0 && !(c > (classes[i - 1] as number)))) throw new ConfigError(`${where}: classes must be finite numbers in increasing order (classes[${i}] = ${preview(c)})`)
  })
  return classes.length
}

/** `length` finite numbers (any length when undefined). */
export function checkFiniteArray(v: unknown, length: number | undefined, name: string, where: string): number[] {
  if (!Array.isArray(v) || (length !== undefined && v.length !== length)) throw new ConfigError(`${where}: "${name}" must be ${length ?? 'an array of'} finite numbers (received ${Array.isArray(v) ? `${v.length} values` : preview(v)})`)
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number' || !Number.isFinite(v[i])) throw new ConfigError(`${where}: ${name}[${i}] must be a finite number (received ${preview(v[i])})`)
  }
  return v as number[]
}

/** A plain object (the options block of a model JSON). */
export function checkObject(v: unknown, name: string, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${where}: "${name}" must be an object (received ${preview(v)})`)
  return v as Record<string, unknown>
}

/**
 * One fitted tree's node arrays: feature (−1 for a leaf, else in [0, features)), threshold, left, right
 * (children in [1, n)), and `width` values per node. Walked from the root with an explicit stack: a child
 * seen twice is a cycle or a shared node, a node never reached is left over. Returns the depth (nodes on
 * the longest root-to-leaf path), the number of steps one row's prediction takes at most.
 */
export function checkTreeNodes(t: unknown, features: number, width: number, where: string): number {
  const nodes = checkObject(t, 'tree', where)
  const feature = nodes.feature
  if (!Array.isArray(feature) || feature.length === 0) throw new ConfigError(`${where}: "feature" must be a non-empty array (received ${preview(feature)})`)
  const n = feature.length
  checkFiniteArray(nodes.threshold, n, 'threshold', where)
  const left = checkFiniteArray(nodes.left, n, 'left', where)
  const right = checkFiniteArray(nodes.right, n, 'right', where)
  checkFiniteArray(nodes.value, n * width, 'value', where)
  const depth = new Int32Array(n) // 0 = not reached yet
  depth[0] = 1
  let reached = 1
  let deepest = 1
  const stack = [0]
  while (stack.length > 0) {
    const node = stack.pop()!
    const f = feature[node]
    if (f === -1) {
      if (depth[node]! > deepest) deepest = depth[node]!
      continue
    }
    if (!Number.isInteger(f) || f < 0 || f >= features) throw new ConfigError(`${where}: node ${node} splits on feature ${preview(f)}; expected −1 (a leaf) or an index in [0, ${features})`)
    for (const child of [left[node]!, right[node]!]) {
      if (!Number.isInteger(child) || child < 1 || child >= n) throw new ConfigError(`${where}: node ${node} has child ${child}; expected a node index in [1, ${n})`)
      if (depth[child] !== 0) throw new ConfigError(`${where}: node ${child} is reached twice (from node ${node}): the tree has a cycle or a shared node`)
      depth[child] = depth[node]! + 1
      reached++
      stack.push(child)
    }
  }
  if (reached !== n) throw new ConfigError(`${where}: ${n - reached} of ${n} nodes are not reached from the root`)
  return deepest
}

/**
 * Steps one row's prediction takes at most (tree depths summed over trees, coefficients for linear models,
 * the costliest route for a router): rows × this is what scoring a batch costs, for the server to decide
 * between scoring at once and scoring off the event loop. The JSON must already have been checked.
 */
export function scoringCost(json: unknown): number {
  const j = json as { type: string; columns: string[]; trees?: unknown[]; coef?: unknown[]; routes?: Record<string, unknown>; classes?: unknown[] }
  const p = j.columns.length
  const width = (j.classes?.length ?? 1)
  if (j.type.startsWith('tree-')) return checkTreeNodes(j, p, j.type === 'tree-classifier' ? width : 1, j.type) + width
  if (j.type.startsWith('forest-')) return (j.trees ?? []).reduce<number>((s, t) => s + checkTreeNodes(t, p, j.type === 'forest-classifier' ? width : 1, j.type) + width, 0)
  if (j.type.startsWith('gbt-')) return (j.trees ?? []).reduce<number>((s, round) => s + (round as unknown[]).reduce<number>((a, t) => a + checkTreeNodes(t, p, 1, j.type) + 1, 0), 0) + width
  if (j.type === 'router') return p + Math.max(0, ...Object.values(j.routes ?? {}).map(scoringCost))
  return (j.coef?.length ?? p) + width
}
