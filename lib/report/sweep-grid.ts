// A sweep's child runs as a two-parameter grid of one metric (MLflow's contour view): the other parameters
// sliced at a value or aggregated over, the best cell, and each cell's neighbourhood robustness (the
// median of the surrounding cells) — a best cell far above its neighbours is an isolated peak, overfit.
// A numeric parameter with more distinct values than `bins` (a random or TPE study's floats) is binned
// into ranges holding about the same number of runs, so the grid stays small and cells have neighbours.

import { clip, ConfigError, ownValue } from '../core/index.js'
import { metricDirection } from './metric-units.js'

/** How the runs that fall in one cell are combined. */
export type SweepAggregate = 'mean' | 'median' | 'max' | 'min'
export const SWEEP_AGGREGATES: readonly SweepAggregate[] = ['mean', 'median', 'max', 'min']

/** Which way the metric is better: `max` higher, `min` lower. */
export type SweepDirection = 'max' | 'min'

/** One child run as the grid reads it: parameters as logged (strings), latest metric values. */
export interface SweepChild {
  runId: string
  params: Readonly<Record<string, string>>
  metrics: Readonly<Record<string, number>>
}

/** A parameter of the sweep: its distinct values in axis order (numerically when every value is a finite number, else by code unit). */
export interface SweepParam {
  name: string
  values: string[]
  numeric: boolean
}

/** "*" in `fixed`: aggregate over this parameter instead of slicing it. */
export const ALL_VALUES = '*'

/** A numeric axis with more distinct values than this is binned (the `bins` option's default). */
export const DEFAULT_SWEEP_BINS = 12
/** The range `bins` may take. */
export const MIN_SWEEP_BINS = 2
export const MAX_SWEEP_BINS = 50

/** One range of a binned axis: the smallest and largest value that runs in it have, and how many runs and distinct values it holds. */
export interface SweepBin {
  lo: number
  hi: number
  runs: number
  values: number
}

/**
 * An axis of the grid: a parameter, and for a binned one its bins — then `values` are the bins' labels
 * ("0.012–0.034", or the one value of a bin holding one), not the parameter's values.
 */
export interface SweepAxis extends SweepParam {
  bins?: SweepBin[]
}

export interface SweepGridOptions {
  /** The heatmap's columns (default: the parameter with the most distinct values; ties by name). */
  x?: string
  /** The heatmap's rows (default: the parameter with the next most distinct values). */
  y?: string
  /** Default: `sharpe` when a child has it, else `objective` when a child has it, else the first metric by name. */
  metric?: string
  /** The sweep's ranking metric (its parent's `metric` parameter), the default's second choice. */
  objective?: string
  /** Default: `defaultDirection(metric)`. */
  direction?: SweepDirection
  /** How several runs of one cell combine (default mean). */
  aggregate?: SweepAggregate
  /**
   * The other parameters: a value slices the runs to those with it, "*" aggregates over all its values.
   * A parameter not named here is fixed at the best run's value (`others: 'slice'`, the default) or
   * aggregated over (`others: 'aggregate'`). An entry for x or y is ignored (a form keeps sending the
   * slice of a parameter just moved onto an axis).
   */
  fixed?: Readonly<Record<string, string>>
  others?: 'slice' | 'aggregate'
  /** The isolated-peak threshold t of `robustnessVerdict` (default 0.5). */
  isolatedBelow?: number
  /** `sweepParams(children)` when the caller has it already (a page drawing several views of one sweep). */
  params?: readonly SweepParam[]
  /**
   * A numeric axis with more distinct values than this (default 12, 2–50) is binned into this many ranges
   * of about equal run counts; and another parameter with that many values is aggregated over by default
   * instead of sliced at the best run's value (an exact float holds one run).
   */
  bins?: number
}

export interface SweepCell {
  xi: number
  yi: number
  /** The metric over the cell's runs, combined by the aggregate. */
  value: number
  count: number
  /** The run, when the cell holds exactly one. */
  runId?: string
  /** The median of the values of the up-to-8 surrounding cells that hold runs; undefined when none does. */
  robustness?: number
}

export interface SweepVerdict {
  /** `isolated`: the neighbours fall short of the best by more than (1 − t)·|best|; `robust`: they do not; `alone`: the best cell has no neighbour with runs. */
  kind: 'isolated' | 'robust' | 'alone'
  best: number
  neighbours?: number
  /** neighbours / best (undefined when best is 0 or there are no neighbours). */
  ratio?: number
}

export interface SweepGrid {
  x: SweepAxis
  y: SweepAxis
  metric: string
  direction: SweepDirection
  aggregate: SweepAggregate
  /** Every other parameter: the value it is sliced at, or "*" when aggregated over. */
  fixed: Record<string, string>
  /** The bin count asked for (binned axes have at most this many bins). */
  bins: number
  /** Row-major, `cells[yi * x.values.length + xi]`; undefined where no run falls. */
  cells: (SweepCell | undefined)[]
  best?: SweepCell
  verdict?: SweepVerdict
  /** The best run of the whole sweep (whatever the slice), by the metric and direction; ties: the first given. */
  bestRun?: { runId: string; value: number }
  /** Runs that landed in a cell. */
  used: number
  /** Runs without a finite value of the metric (NaN, ±Infinity, missing). */
  unscored: number
}

/** `min` where lower is better (metric-units.ts metricDirection: maxDrawdown, logLoss, rmse, fees …), else `max`. */
export function defaultDirection(metric: string): SweepDirection {
  return metricDirection(metric) === 'lower' ? 'min' : 'max'
}

function isNumber(text: string): boolean {
  return text.trim() !== '' && Number.isFinite(Number(text))
}

/** Axis order of a parameter's values: numeric when all of them are finite numbers, else by code unit (locale-free). */
export function orderValues(values: Iterable<string>): { values: string[]; numeric: boolean } {
  const list = [...new Set(values)]
  const numeric = list.length > 0 && list.every(isNumber)
  if (numeric) list.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0))
  else list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return { values: list, numeric }
}

/** The sweep's parameters, by name, each with its values in axis order. */
export function sweepParams(children: readonly SweepChild[]): SweepParam[] {
  const seen = new Map<string, Set<string>>()
  for (const child of children) {
    for (const name in child.params) {
      let set = seen.get(name)
      if (set === undefined) seen.set(name, (set = new Set()))
      set.add(child.params[name]!)
    }
  }
  return [...seen.keys()].sort(byCodeUnit).map((name) => ({ name, ...orderValues(seen.get(name)!) }))
}

/** The metrics that at least one child has a finite value of, by name. */
export function sweepMetricNames(children: readonly SweepChild[]): string[] {
  const names = new Set<string>()
  for (const child of children) for (const name in child.metrics) if (Number.isFinite(child.metrics[name])) names.add(name)
  return [...names].sort(byCodeUnit)
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The default metric: sharpe, else the objective, else the first by name (undefined when none is finite anywhere). */
export function defaultMetric(metrics: readonly string[], objective?: string): string | undefined {
  if (metrics.includes('sharpe')) return 'sharpe'
  if (objective !== undefined && metrics.includes(objective)) return objective
  return metrics[0]
}

/**
 * A heatmap has at most this many cells (x values × y values): two text parameters with thousands of
 * distinct values each (6,000 × 6,000 = 36 M cells) would take seconds and gigabytes to walk.
 */
export const MAX_SWEEP_CELLS = 250_000

/** How many columns or rows a parameter makes as an axis at most: `bins` when binned, else its distinct values. */
export function sweepAxisSize(param: SweepParam, bins = DEFAULT_SWEEP_BINS): number {
  return isSweepBinned(param, bins) ? bins : param.values.length
}

/**
 * The two default axes: the parameters with the most distinct values, ties by name — the first such pair
 * (in that order) whose grid fits MAX_SWEEP_CELLS at this bin count; the top two when none does.
 */
export function defaultAxes(params: readonly SweepParam[], bins = DEFAULT_SWEEP_BINS): [string | undefined, string | undefined] {
  const ranked = [...params].sort((a, b) => b.values.length - a.values.length || byCodeUnit(a.name, b.name))
  for (let i = 0; i < ranked.length; i++) {
    for (let j = i + 1; j < ranked.length; j++) {
      if (sweepAxisSize(ranked[i]!, bins) * sweepAxisSize(ranked[j]!, bins) <= MAX_SWEEP_CELLS) return [ranked[i]!.name, ranked[j]!.name]
    }
  }
  return [ranked[0]?.name, ranked[1]?.name]
}

/**
 * The axes a view draws: x and y as asked; one missing, the parameter with the most distinct values (ties
 * by name) that is not the other and fits MAX_SWEEP_CELLS with it; both missing, defaultAxes.
 */
export function sweepAxisNames(params: readonly SweepParam[], x: string | undefined, y: string | undefined, bins = DEFAULT_SWEEP_BINS): [string | undefined, string | undefined] {
  const given = x ?? y
  const other = given === undefined || (x !== undefined && y !== undefined) ? undefined : params.find((p) => p.name === given)
  if (other !== undefined) {
    const ranked = params.filter((p) => p !== other).sort((a, b) => b.values.length - a.values.length || byCodeUnit(a.name, b.name))
    const fit = ranked.find((p) => sweepAxisSize(p, bins) * sweepAxisSize(other, bins) <= MAX_SWEEP_CELLS)
    if (fit !== undefined) return x === undefined ? [fit.name, given] : [given, fit.name]
  }
  const [defaultX, defaultY] = defaultAxes(params, bins)
  const xName = x ?? (y === defaultX ? defaultY : defaultX)
  const yName = y ?? (xName === defaultX ? defaultY : defaultX)
  return [xName, yName]
}

/** The message refusing a grid of x × y past MAX_SWEEP_CELLS, or undefined when it fits. */
export function sweepCellsOver(x: SweepParam, y: SweepParam, bins = DEFAULT_SWEEP_BINS): string | undefined {
  const nx = sweepAxisSize(x, bins)
  const ny = sweepAxisSize(y, bins)
  if (nx * ny <= MAX_SWEEP_CELLS) return undefined
  const n = (v: number) => v.toLocaleString('en-US')
  return `x and y: ${clip(x.name, 80)} (${n(nx)} values) × ${clip(y.name, 80)} (${n(ny)} values) make ${n(nx * ny)} cells, more than the ${n(MAX_SWEEP_CELLS)} a heatmap may have; choose other axes`
}

function median(sorted: readonly number[]): number {
  const n = sorted.length
  const mid = n >> 1
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function combine(values: number[], how: SweepAggregate): number {
  if (how === 'mean') {
    let sum = 0
    for (const v of values) sum += v
    return sum / values.length
  }
  if (how === 'max') return Math.max(...values)
  if (how === 'min') return Math.min(...values)
  return median(values.sort((a, b) => a - b))
}

/**
 * The grid. Throws a ConfigError naming the option when x, y, the metric or a fixed value is not one of
 * the sweep's (what was received, what exists).
 */
export function sweepGrid(children: readonly SweepChild[], options: SweepGridOptions = {}): SweepGrid {
  const params = options.params ?? sweepParams(children)
  const byName = new Map(params.map((p) => [p.name, p]))
  const names = () => params.map((p) => p.name).join(', ')
  const bins = options.bins ?? DEFAULT_SWEEP_BINS
  if (!Number.isInteger(bins) || bins < MIN_SWEEP_BINS || bins > MAX_SWEEP_BINS) throw new ConfigError(`bins must be a whole number from ${MIN_SWEEP_BINS} to ${MAX_SWEEP_BINS} (received ${bins})`)
  const [xName, yName] = sweepAxisNames(params, options.x, options.y, bins)
  if (xName === undefined || yName === undefined) throw new ConfigError(`a sweep grid needs two parameters (the child runs have ${params.length}: ${names() || 'none'})`)
  const x = byName.get(xName)
  const y = byName.get(yName)
  if (x === undefined) throw new ConfigError(`x must be one of the sweep's parameters (${names()}); received ${JSON.stringify(clip(xName, 80))}`)
  if (y === undefined) throw new ConfigError(`y must be one of the sweep's parameters (${names()}); received ${JSON.stringify(clip(yName, 80))}`)
  if (x === y) throw new ConfigError(`x and y must be two different parameters (both are ${JSON.stringify(clip(xName, 80))})`)
  const over = sweepCellsOver(x, y, bins)
  if (over !== undefined) throw new ConfigError(over)
  const metrics = sweepMetricNames(children)
  const metric = options.metric ?? defaultMetric(metrics, options.objective)
  if (metric === undefined) throw new ConfigError('a sweep grid needs a metric with a finite value in some child run (none has one)')
  if (!metrics.includes(metric)) throw new ConfigError(`metric must be one with a finite value in some child run (${metrics.join(', ')}); received ${JSON.stringify(clip(metric, 80))}`)
  const direction = options.direction ?? defaultDirection(metric)
  if (direction !== 'max' && direction !== 'min') throw new ConfigError(`direction must be max or min (received ${JSON.stringify(clip(String(direction), 80))})`)
  const aggregate = options.aggregate ?? 'mean'
  if (!SWEEP_AGGREGATES.includes(aggregate)) throw new ConfigError(`aggregate must be one of ${SWEEP_AGGREGATES.join(', ')} (received ${JSON.stringify(clip(String(aggregate), 80))})`)
  const threshold = options.isolatedBelow ?? 0.5
  if (!(threshold >= 0 && threshold <= 1)) throw new ConfigError(`isolatedBelow must be between 0 and 1 (received ${threshold})`)
  const better = (a: number, b: number) => (direction === 'max' ? a > b : a < b)

  // The best run of the sweep: the default slice of the other parameters.
  let bestRun: { runId: string; value: number; params: Readonly<Record<string, string>> } | undefined
  let unscored = 0
  for (const child of children) {
    const v = child.metrics[metric]
    if (v === undefined || !Number.isFinite(v)) {
      unscored++
      continue
    }
    if (bestRun === undefined || better(v, bestRun.value)) bestRun = { runId: child.runId, value: v, params: child.params }
  }

  const fixed: Record<string, string> = {}
  for (const p of params) {
    if (p === x || p === y) continue
    const chosen = options.fixed === undefined ? undefined : ownValue(options.fixed, p.name)
    if (chosen !== undefined) {
      if (chosen !== ALL_VALUES && !p.values.includes(chosen)) throw new ConfigError(`the value of ${clip(p.name, 80)} must be one of its values (${p.values.slice(0, 20).join(', ')}${p.values.length > 20 ? ', …' : ''}) or * (all); received ${JSON.stringify(clip(chosen, 80))}`)
      fixed[p.name] = chosen
    } else fixed[p.name] = options.others === 'aggregate' || isSweepBinned(p, bins) ? ALL_VALUES : (bestRun?.params[p.name] ?? ALL_VALUES)
  }
  for (const name of Object.keys(options.fixed ?? {})) if (!byName.has(name)) throw new ConfigError(`no parameter named ${JSON.stringify(clip(name, 80))} to fix (the sweep's: ${names()})`)
  const sliced = Object.entries(fixed).filter(([, v]) => v !== ALL_VALUES)

  const xAxis = sweepAxis(children, x, metric, bins)
  const yAxis = sweepAxis(children, y, metric, bins)
  const nx = xAxis.axis.values.length
  const ny = yAxis.axis.values.length
  const xIndex = xAxis.index
  const yIndex = yAxis.index
  const bucket: (number[] | undefined)[] = new Array(nx * ny)
  const firstRun: (string | undefined)[] = new Array(nx * ny)
  let used = 0
  for (const child of children) {
    const v = child.metrics[metric]
    if (v === undefined || !Number.isFinite(v)) continue
    const xv = child.params[x.name]
    const yv = child.params[y.name]
    if (xv === undefined || yv === undefined) continue
    let inSlice = true
    for (const [name, value] of sliced) if (child.params[name] !== value) inSlice = false
    if (!inSlice) continue
    const k = yIndex.get(yv)! * nx + xIndex.get(xv)!
    const list = bucket[k]
    if (list === undefined) {
      bucket[k] = [v]
      firstRun[k] = child.runId
    } else list.push(v)
    used++
  }

  const cells: (SweepCell | undefined)[] = bucket.map((list, k) =>
    list === undefined ? undefined : { xi: k % nx, yi: Math.floor(k / nx), value: combine(list, aggregate), count: list.length, ...(list.length === 1 ? { runId: firstRun[k]! } : {}) },
  )
  // Robustness: the 8-neighbourhood in axis order (neighbouring values or bins, not neighbouring distances).
  for (const cell of cells) {
    if (cell === undefined) continue
    const around: number[] = []
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        if (dx === 0 && dy === 0) continue
        const cx = cell.xi + dx
        const cy = cell.yi + dy
        if (cx < 0 || cy < 0 || cx >= nx || cy >= ny) continue
        const other = cells[cy * nx + cx]
        if (other !== undefined) around.push(other.value)
      }
    }
    if (around.length > 0) cell.robustness = median(around.sort((a, b) => a - b))
  }
  // The best cell: ties go to the first in row-major order (lowest y, then lowest x).
  let best: SweepCell | undefined
  for (const cell of cells) if (cell !== undefined && (best === undefined || better(cell.value, best.value))) best = cell

  return {
    x: xAxis.axis,
    y: yAxis.axis,
    metric,
    direction,
    aggregate,
    bins,
    fixed,
    cells,
    ...(best === undefined ? {} : { best, verdict: robustnessVerdict(best, direction, threshold) }),
    ...(bestRun === undefined ? {} : { bestRun: { runId: bestRun.runId, value: bestRun.value } }),
    used,
    unscored,
  }
}

/**
 * Is the best cell an isolated peak? With b the best cell's value, m its neighbours' median and t the
 * threshold (0.5): the neighbours fall short by (b − m) for a `max` metric, (m − b) for a `min` one, and
 * the peak is isolated when that shortfall exceeds (1 − t)·|b|. For a positive metric that is better
 * higher this reads "m < t·b" (neighbours below half the peak); for a positive lower-is-better one
 * "m > (2 − t)·b". A best value of 0 is isolated as soon as the neighbours are worse at all.
 */
export function robustnessVerdict(best: SweepCell, direction: SweepDirection, threshold = 0.5): SweepVerdict {
  const b = best.value
  const m = best.robustness
  if (m === undefined) return { kind: 'alone', best: b }
  const shortfall = direction === 'max' ? b - m : m - b
  return { kind: shortfall > (1 - threshold) * Math.abs(b) ? 'isolated' : 'robust', best: b, neighbours: m, ...(b === 0 ? {} : { ratio: m / b }) }
}

/** Is the parameter binned at this bin count: numeric with more distinct values than bins. */
export function isSweepBinned(param: SweepParam, bins = DEFAULT_SWEEP_BINS): boolean {
  return param.numeric && param.values.length > bins
}

/**
 * A parameter as an axis: its values, or — numeric with more than `bins` distinct values — quantile bins.
 * The bins are cut over the runs with a finite metric (the whole sweep, not the slice shown, so slices
 * of one sweep share an axis), walking the values in order and closing a bin once it holds its share of
 * the runs still to place (the remaining runs over the remaining bins: a bin closes where stopping is
 * nearer that share than taking the next value). Equal values are never split, so a value repeated more
 * than a share gets a bin of its own and the others share the rest; and a bin closes early when the
 * values left are only as many as the bins left, so there are always min(bins, distinct values) bins —
 * quantiles never collapse into fewer, and an equal-width fallback is never needed. Values that read as
 * the same number ("1" and "1.0") share a bin. `index` maps a logged value to its column or row.
 */
export function sweepAxis(children: readonly SweepChild[], param: SweepParam, metric: string, bins = DEFAULT_SWEEP_BINS): { axis: SweepAxis; index: Map<string, number> } {
  if (!isSweepBinned(param, bins)) return { axis: param, index: new Map(param.values.map((v, i) => [v, i])) }
  const counts = new Map<string, number>()
  for (const child of children) {
    const v = child.metrics[metric]
    const p = child.params[param.name]
    if (p === undefined || v === undefined || !Number.isFinite(v)) continue
    counts.set(p, (counts.get(p) ?? 0) + 1)
  }
  // Groups of equal numbers with runs, in axis order (param.values is sorted numerically).
  const groups: { num: number; texts: string[]; runs: number }[] = []
  for (const text of param.values) {
    const runs = counts.get(text)
    if (runs === undefined) continue
    const num = Number(text)
    const last = groups[groups.length - 1]
    if (last !== undefined && last.num === num) {
      last.texts.push(text)
      last.runs += runs
    } else groups.push({ num, texts: [text], runs })
  }
  const out: SweepBin[] = []
  const index = new Map<string, number>()
  let runsLeft = 0
  for (const g of groups) runsLeft += g.runs
  let binsLeft = bins
  let current: SweepBin | undefined
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!
    if (current === undefined) current = { lo: g.num, hi: g.num, runs: 0, values: 0 }
    current.hi = g.num
    current.runs += g.runs
    current.values++
    for (const text of g.texts) index.set(text, out.length)
    const after = groups.length - i - 1
    if (after === 0) break
    if (binsLeft === 1) continue
    const share = runsLeft / binsLeft
    if (current.runs + groups[i + 1]!.runs - share > share - current.runs || after <= binsLeft - 1) {
      out.push(current)
      runsLeft -= current.runs
      binsLeft--
      current = undefined
    }
  }
  if (current !== undefined) out.push(current)
  return { axis: { name: param.name, numeric: true, values: binLabels(out), bins: out }, index }
}

/** "lo–hi" at 3 significant digits (more while two bins would read the same); a bin of one value is that value in full. */
function binLabels(list: readonly SweepBin[]): string[] {
  for (let digits = 3; ; digits++) {
    const short = (v: number) => (Number.isInteger(v) && Math.abs(v) < 1e15) || digits >= 17 ? String(v) : String(Number(v.toPrecision(digits)))
    const labels = list.map((b) => (b.lo === b.hi ? String(b.lo) : `${short(b.lo)}–${short(b.hi)}`))
    if (digits >= 17 || new Set(labels).size === labels.length) return labels
  }
}

/** A cell at (xi, yi). */
export function gridCell(grid: SweepGrid, xi: number, yi: number): SweepCell | undefined {
  return grid.cells[yi * grid.x.values.length + xi]
}

