// The TPE sampler (Optuna's defaults, univariate): past trials split into the best γ(n) ("below", l) and
// the rest ("above", g); each parameter is drawn as the best l(x)/g(x) of 24 candidates drawn from l.
// The first 10 trials are random. Pruned trials rank behind complete ones, by how far they got.

import { ConfigError } from '../core/index.js'
import { ParzenEstimator, defaultWeights, PARZEN_DEFAULTS, type ParzenOptions } from './parzen.js'
import { resolveSeed, sampleUniform, trialRandom } from './random.js'
import { contains, fromInternal, toInternal, type Distribution, type ParamValue } from './space.js'
import type { Direction, Sampler, StudyView, TrialRecord } from './types.js'

export interface TpeOptions extends Partial<ParzenOptions> {
  seed?: number
  /** Random trials before TPE starts (default 10). */
  nStartupTrials?: number
  /** Candidates drawn from l(x) per parameter (default 24). */
  nEiCandidates?: number
  /** How many of n trials form l(x) (default min(⌈0.1 n⌉, 25)). */
  gamma?: (n: number) => number
  /** Observation weights, oldest first (default: Optuna's default_weights). */
  weights?: (n: number) => ArrayLike<number>
}

export const defaultGamma = (n: number): number => Math.min(Math.ceil(0.1 * n), 25)

/** The l/g split of a study: trial numbers of the scored trials (oldest first) and which are below. */
export interface TpeSplit {
  /** Complete and pruned trials, in number order. */
  scored: TrialRecord[]
  /** below[k]: scored[k] is among the best γ(n). */
  below: Uint8Array
}

/**
 * Optuna's ranking: complete trials first, by signed value; then pruned ones, the furthest step first,
 * then by their value at it (NaN last); pruned before any report last of all. Ties keep trial order.
 */
export function tpeSplit(trials: readonly TrialRecord[], direction: Direction, nBelow: number): TpeSplit {
  const sign = direction === 'minimize' ? 1 : -1
  const scored: TrialRecord[] = []
  const k1: number[] = []
  const k2: number[] = []
  for (const t of trials) {
    if (t.state === 'complete' && t.values !== undefined) {
      k1.push(-Infinity)
      k2.push(sign * t.values[0]!)
    } else if (t.state === 'pruned') {
      if (t.lastStep !== undefined) {
        const v = t.intermediate.get(t.lastStep)!
        k1.push(-t.lastStep)
        k2.push(Number.isNaN(v) ? Infinity : sign * v)
      } else {
        k1.push(1)
        k2.push(0)
      }
    } else continue
    scored.push(t)
  }
  const order = scored.map((_, i) => i).sort((a, b) => k1[a]! - k1[b]! || k2[a]! - k2[b]! || a - b)
  const below = new Uint8Array(scored.length)
  for (let r = 0; r < Math.min(nBelow, order.length); r++) below[order[r]!] = 1
  return { scored, below }
}

export function tpeSampler(options: TpeOptions = {}): Sampler & { readonly seed: number } {
  const seed = resolveSeed(options.seed, 'tpeSampler')
  const nStartup = options.nStartupTrials ?? 10
  const nCandidates = options.nEiCandidates ?? 24
  if (!(Number.isInteger(nStartup) && nStartup >= 0)) throw new ConfigError(`tpeSampler nStartupTrials must be an integer ≥ 0 (received ${nStartup})`)
  if (!(Number.isInteger(nCandidates) && nCandidates >= 1)) throw new ConfigError(`tpeSampler nEiCandidates must be an integer ≥ 1 (received ${nCandidates})`)
  const priorWeight = options.priorWeight ?? PARZEN_DEFAULTS.priorWeight
  if (!(priorWeight > 0)) throw new ConfigError(`tpeSampler priorWeight must be > 0 (received ${priorWeight})`)
  const parzen: ParzenOptions = { priorWeight, considerMagicClip: options.considerMagicClip ?? true, considerEndpoints: options.considerEndpoints ?? false, normalized: options.normalized ?? false }
  const gamma = options.gamma ?? defaultGamma
  const weights = options.weights ?? defaultWeights
  // The split changes only when a trial finishes: one sort per finished trial, shared by all parameters.
  let cache: { study: StudyView; version: number; split: TpeSplit } | undefined

  return {
    name: 'tpe',
    seed,
    check(directions) {
      if (directions.length !== 1) throw new ConfigError(`tpeSampler optimises one objective (received ${directions.length} directions); use nsga2Sampler for several`)
    },
    sampleIndependent(study: StudyView, trial: TrialRecord, name: string, d: Distribution): ParamValue {
      if (cache === undefined || cache.study !== study || cache.version !== study.finishedCount || cache.split.scored.length === 0) {
        const scored = study.trials.filter((t) => t.state === 'complete' || t.state === 'pruned').length
        cache = { study, version: study.finishedCount, split: tpeSplit(study.trials, study.directions[0]!, gamma(scored)) }
      }
      const { scored, below } = cache.split
      if (scored.length < nStartup) return sampleUniform(d, trialRandom(seed, trial.number, name))
      const lo: number[] = []
      const hi: number[] = []
      for (let k = 0; k < scored.length; k++) {
        const t = scored[k]!
        const v = t.params[name]
        if (v === undefined || !contains(d, v)) continue
        ;(below[k] === 1 ? lo : hi).push(toInternal(d, v))
      }
      const l = new ParzenEstimator(d, lo, parzen, weights(lo.length))
      const g = new ParzenEstimator(d, hi, parzen, weights(hi.length))
      const candidates = l.sample(trialRandom(seed, trial.number, `tpe:${name}`), nCandidates)
      const ll = l.logPdf(candidates)
      const lg = g.logPdf(candidates)
      let best = 0
      for (let j = 1; j < candidates.length; j++) if (ll[j]! - lg[j]! > ll[best]! - lg[best]!) best = j
      return fromInternal(d, candidates[best]!)
    },
  }
}
