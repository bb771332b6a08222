// The NSGA-II sampler (as Optuna's NSGAIISampler): trials are born in generations; once a generation has
// `populationSize` complete trials, the elite of it and the previous parents (non-dominated fronts,
// the last front cut by crowding distance) become the parents of the next. A child takes two parents
// chosen by binary tournament, crosses them (uniform or SBX) and mutates each parameter with
// probability 1/(number of parameters) by drawing it at random. The first generation is random.

import { ConfigError, type Random } from '../core/index.js'
import { crowdingDistance, dominates, lossVector, nonDominatedSort } from './pareto.js'
import { resolveSeed, sampleUniform, trialRandom } from './random.js'
import { contains, isSingle, sameDistribution, transform, transformBounds, untransform, type Distribution, type ParamValue, type ParamSet } from './space.js'
import type { Direction, Sampler, StudyView, TrialRecord } from './types.js'

export interface Nsga2Options {
  seed?: number
  /** Trials per generation (default 50). */
  populationSize?: number
  /** Per-parameter mutation probability (default 1 / number of parameters). */
  mutationProb?: number
  /** uniform (default) or sbx (simulated binary crossover on the numeric parameters). */
  crossover?: 'uniform' | 'sbx'
  crossoverProb?: number
  /** Uniform crossover: the chance to take a parameter from the second parent (default 0.5). */
  swappingProb?: number
  /** SBX distribution index (default 20 for several objectives, 2 for one, as Optuna). */
  sbxEta?: number
}

export const GENERATION_KEY = 'nsga2:generation'

export function nsga2Sampler(options: Nsga2Options = {}): Sampler & { readonly seed: number } {
  const seed = resolveSeed(options.seed, 'nsga2Sampler')
  const size = options.populationSize ?? 50
  const crossoverProb = options.crossoverProb ?? 0.9
  const swappingProb = options.swappingProb ?? 0.5
  const kind = options.crossover ?? 'uniform'
  if (!(Number.isInteger(size) && size >= 2)) throw new ConfigError(`nsga2Sampler populationSize must be an integer ≥ 2 (received ${size})`)
  for (const [name, p] of [['mutationProb', options.mutationProb], ['crossoverProb', crossoverProb], ['swappingProb', swappingProb]] as const) {
    if (p !== undefined && !(p >= 0 && p <= 1)) throw new ConfigError(`nsga2Sampler ${name} must be in [0, 1] (received ${p})`)
  }
  if (kind !== 'uniform' && kind !== 'sbx') throw new ConfigError(`nsga2Sampler crossover must be uniform or sbx (received ${String(kind)})`)
  // Parents per generation, recomputed only when a generation gained complete trials.
  const cache = new Map<number, { count: number; parents: TrialRecord[] }>()
  let cachedStudy: StudyView | undefined

  function parentsOf(study: StudyView): [number, TrialRecord[]] {
    if (cachedStudy !== study) {
      cache.clear()
      cachedStudy = study
    }
    const byGeneration = new Map<number, TrialRecord[]>()
    for (const t of study.trials) {
      const g = t.system[GENERATION_KEY]
      if (typeof g !== 'number' || t.state !== 'complete' || t.values === undefined) continue
      let list = byGeneration.get(g)
      if (list === undefined) byGeneration.set(g, (list = []))
      list.push(t)
    }
    let parents: TrialRecord[] = []
    let generation = -1
    let stale = false
    for (;;) {
      const population = byGeneration.get(generation + 1) ?? []
      if (population.length < size) break
      generation++
      const hit = cache.get(generation)
      if (!stale && hit !== undefined && hit.count === population.length) parents = hit.parents
      else {
        stale = true
        parents = elite([...population, ...parents], study.directions, size)
        cache.set(generation, { count: population.length, parents })
      }
    }
    return [generation, parents]
  }

  return {
    name: 'nsga2',
    seed,
    sampleRelative(study: StudyView, trial: TrialRecord): ParamSet {
      const [parentGeneration, parents] = parentsOf(study)
      study.setSystem(trial.number, GENERATION_KEY, parentGeneration + 1)
      if (parentGeneration < 0 || trial.fixed !== undefined) return {}
      const space = relativeSpace(study)
      const names = Object.keys(space)
      if (names.length === 0) return {}
      const rng = trialRandom(seed, trial.number, 'nsga2')
      let child: ParamSet
      if (rng.next() < crossoverProb && parents.length >= 2) child = crossover(space, parents, study.directions, rng, kind, swappingProb, options.sbxEta ?? (study.directions.length > 1 ? 20 : 2))
      else {
        const parent = parents[Math.floor(rng.next() * parents.length)]!
        child = {}
        for (const name of names) child[name] = parent.params[name]!
      }
      // Mutation: a parameter left out is drawn at random by sampleIndependent.
      const mutation = options.mutationProb ?? 1 / Math.max(1, names.length)
      const kept: ParamSet = {}
      for (const name of names) if (rng.next() >= mutation) kept[name] = child[name]!
      return kept
    },
    sampleIndependent(_study: StudyView, trial: TrialRecord, name: string, d: Distribution): ParamValue {
      return sampleUniform(d, trialRandom(seed, trial.number, name))
    },
  }
}

/** The best `size` of a population: whole fronts while they fit, the next cut by crowding distance. */
export function elite(population: readonly TrialRecord[], directions: readonly Direction[], size: number): TrialRecord[] {
  const losses = population.map((t) => lossVector(t.values!, directions))
  const out: TrialRecord[] = []
  for (const front of nonDominatedSort(losses)) {
    if (out.length + front.length < size) {
      for (const i of front) out.push(population[i]!)
      continue
    }
    const distance = crowdingDistance(front.map((i) => losses[i]!))
    const order = front.map((_, k) => k).sort((a, b) => distance[b]! - distance[a]! || population[front[a]!]!.number - population[front[b]!]!.number)
    for (const k of order.slice(0, size - out.length)) out.push(population[front[k]!]!)
    break
  }
  return out
}

/**
 * The parameters crossed over: the declared unconditional ones, or else those every complete trial
 * has with one distribution (Optuna's intersection search space); single-valued ones left out.
 */
function relativeSpace(study: StudyView): Record<string, Distribution> {
  const out: Record<string, Distribution> = {}
  if (study.space !== undefined) {
    for (const name of study.space.names) {
      const d = study.space.params[name]!
      if (d.when === undefined && !isSingle(d)) out[name] = d
    }
    return out
  }
  let first = true
  for (const t of study.trials) {
    if (t.state !== 'complete') continue
    if (first) {
      Object.assign(out, t.distributions)
      first = false
    } else for (const name of Object.keys(out)) if (t.distributions[name] === undefined || !sameDistribution(t.distributions[name]!, out[name]!)) delete out[name]
  }
  for (const name of Object.keys(out)) if (isSingle(out[name]!)) delete out[name]
  return out
}

function tournament(parents: readonly TrialRecord[], directions: readonly Direction[], rng: Random): TrialRecord {
  const a = parents[Math.floor(rng.next() * parents.length)]!
  const b = parents[Math.floor(rng.next() * parents.length)]!
  return dominates(lossVector(a.values!, directions), lossVector(b.values!, directions)) ? a : b
}

function crossover(space: Record<string, Distribution>, parents: readonly TrialRecord[], directions: readonly Direction[], rng: Random, kind: 'uniform' | 'sbx', swappingProb: number, eta: number): ParamSet {
  const names = Object.keys(space)
  // Optuna redraws parents until the child lies in the space; SBX children can fall off a stepped grid's
  // clip only in degenerate cases, so a few attempts then the first parent's values suffice.
  for (let attempt = 0; attempt < 100; attempt++) {
    const p0 = tournament(parents, directions, rng)
    const p1 = tournament(parents.filter((t) => t !== p0), directions, rng)
    const child: ParamSet = {}
    for (const name of names) {
      const d = space[name]!
      const a = p0.params[name]
      const b = p1.params[name]
      if (a === undefined || b === undefined) continue
      if (d.kind === 'categorical' || kind === 'uniform') {
        child[name] = rng.next() >= swappingProb ? b : a
        continue
      }
      child[name] = untransform(d, sbx(transform(d, a as number), transform(d, b as number), transformBounds(d), eta, rng))
    }
    if (names.every((n) => child[n] !== undefined && contains(space[n]!, child[n]))) return child
  }
  const fallback: ParamSet = {}
  for (const name of names) if (parents[0]!.params[name] !== undefined) fallback[name] = parents[0]!.params[name]!
  return fallback
}

/** One gene of simulated binary crossover with Optuna's bounded form (one child, coin flips as Optuna). */
function sbx(x1: number, x2: number, [xl, xu]: [number, number], eta: number, rng: Random): number {
  const lo = Math.min(x1, x2)
  const hi = Math.max(x1, x2)
  const diff = Math.max(hi - lo, 1e-10)
  const beta1 = 1 + (2 * (lo - xl)) / diff
  const beta2 = 1 + (2 * (xu - hi)) / diff
  const alpha1 = 2 - Math.pow(beta1, -(eta + 1))
  const alpha2 = 2 - Math.pow(beta2, -(eta + 1))
  const u = rng.next()
  const betaq = (alpha: number) => (u > 1 / alpha ? Math.pow(1 / (2 - u * alpha), 1 / (eta + 1)) : Math.pow(u * alpha, 1 / (eta + 1)))
  const c1 = 0.5 * (lo + hi - betaq(alpha1) * diff)
  const c2 = 0.5 * (lo + hi + betaq(alpha2) * diff)
  if (rng.next() < 0.5) return rng.next() < 0.5 ? c1 : c2
  return rng.next() < 0.5 ? x1 : x2
}
