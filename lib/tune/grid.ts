// The grid sampler: every combination of the parameters' values, each run once. Conditional parameters
// branch only where they are active, so { kernel: rbf|linear, gamma when rbf } is rbf×gammas + linear.
// A trial takes the first point no trial has taken (finished or running), so a resumed study skips
// the finished points; when all are taken the study stops.

import { ConfigError, seededRandom } from '../core/index.js'
import { checkDistribution, contains, describeDist, isActive, isParamValue, type Distribution, type ParamValue, type ParamSet } from './space.js'
import type { Sampler, StudyView, TrialRecord } from './types.js'

export interface GridOptions {
  /** Values per parameter; required for floats without a step, optional otherwise. */
  values?: Readonly<Record<string, readonly ParamValue[]>>
  /** Visit the points in a seeded random order instead of the grid's order. */
  shuffle?: number
}

export const GRID_KEY = 'grid:id'
const MAX_POINTS = 10_000_000

/** The values a grid takes for one parameter. */
export function gridValues(name: string, d: Distribution): ParamValue[] {
  if (d.kind === 'categorical') return [...d.choices]
  if (d.kind === 'float' && d.step === undefined) throw new ConfigError(`grid: param ${name} is a continuous float (${describeDist(d)}); give it a step or gridSampler({ values: { ${name}: [...] } })`)
  const step = d.kind === 'int' ? d.step : d.step!
  const count = Math.floor((d.high - d.low) / step + 1e-9) + 1
  if (count > MAX_POINTS) throw new ConfigError(`grid: param ${name} has ${count} values; at most ${MAX_POINTS}`)
  return Array.from({ length: count }, (_, k) => (d.kind === 'int' ? d.low + k * step : Number((d.low + k * step).toPrecision(14))))
}

/**
 * Every point of the grid over `names` (declaration order, parents first): the last parameter varies
 * fastest; a parameter inactive under its parents' values is left out of the point.
 */
export function gridPoints(names: readonly string[], dists: Readonly<Record<string, Distribution>>, values: Readonly<Record<string, readonly ParamValue[]>> = {}): ParamSet[] {
  const axes = names.map((name) => values[name] ?? gridValues(name, dists[name]!))
  const out: ParamSet[] = []
  const walk = (k: number, point: ParamSet) => {
    if (out.length > MAX_POINTS) throw new ConfigError(`the grid has more than ${MAX_POINTS} points; narrow it or use a sampler that does not enumerate`)
    if (k === names.length) {
      out.push({ ...point })
      return
    }
    const name = names[k]!
    if (!isActive(dists[name]!, point)) {
      walk(k + 1, point)
      return
    }
    for (const v of axes[k]!) {
      point[name] = v
      walk(k + 1, point)
    }
    delete point[name]
  }
  walk(0, {})
  return out
}

export function gridSampler(options: GridOptions = {}): Sampler {
  for (const [name, vs] of Object.entries(options.values ?? {})) {
    if (!Array.isArray(vs) || vs.length === 0 || !vs.every(isParamValue)) throw new ConfigError(`grid: values of ${name} must be a non-empty list of numbers, strings or booleans (received ${JSON.stringify(vs)})`)
  }
  let points: ParamSet[] | undefined
  let order: number[] | undefined
  let pointsFor: StudyView | undefined

  function grid(study: StudyView): ParamSet[] {
    if (points !== undefined && pointsFor === study) return points
    const dists: Record<string, Distribution> = {}
    let names: string[]
    if (study.space !== undefined) {
      names = [...study.space.names]
      Object.assign(dists, study.space.params)
      for (const [name, vs] of Object.entries(options.values ?? {})) {
        const d = dists[name]
        if (d === undefined) throw new ConfigError(`grid: values given for ${name}, which is not in the study's space (${names.join(', ')})`)
        for (const v of vs) if (!contains(d, v)) throw new ConfigError(`grid: value ${JSON.stringify(v)} of ${name} is outside its space (${describeDist(d)})`)
      }
    } else {
      // Define-by-run: the grid is the values given, each parameter unconditional.
      names = Object.keys(options.values ?? {})
      if (names.length === 0) throw new ConfigError('gridSampler needs the study to declare a space, or values for each parameter')
      for (const name of names) dists[name] = checkDistribution(name, { kind: 'categorical', choices: options.values![name]! })
    }
    points = gridPoints(names, dists, options.values)
    order = points.map((_, i) => i)
    if (options.shuffle !== undefined) {
      const rng = seededRandom(options.shuffle)
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1))
        ;[order[i], order[j]] = [order[j]!, order[i]!]
      }
    }
    pointsFor = study
    return points
  }

  function taken(study: StudyView): Set<number> {
    const ids = new Set<number>()
    for (const t of study.trials) {
      const id = t.system[GRID_KEY]
      if (typeof id === 'number') ids.add(id)
    }
    return ids
  }

  return {
    name: 'grid',
    sampleRelative(study: StudyView, trial: TrialRecord): ParamSet {
      // An enqueued trial (a crashed trial's re-run) keeps its own values and takes no new point.
      if (trial.fixed !== undefined) return {}
      const all = grid(study)
      const used = taken(study)
      let id = order!.find((i) => !used.has(i))
      // Asked past the end (by hand): repeat a point rather than fail.
      if (id === undefined) id = order![trial.number % order!.length]!
      study.setSystem(trial.number, GRID_KEY, id)
      return { ...all[id]! }
    },
    sampleIndependent(_study: StudyView, trial: TrialRecord, name: string): ParamValue {
      throw new ConfigError(`grid: trial ${trial.number} asked for ${name}, which is not on the grid; declare it in the space or in gridSampler({ values })`)
    },
    isExhausted(study: StudyView): boolean {
      return taken(study).size >= grid(study).length
    },
  }
}
