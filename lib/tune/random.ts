// The random sampler, and the seeding every sampler shares: a trial's random stream is derived from the
// sampler's seed, the trial number and the parameter name, so trial n draws the same candidate whatever
// ran before it — in one worker or eight, fresh or resumed after a crash.

import { randomBytes } from 'node:crypto'
import { ConfigError, seededRandom, type Random } from '../core/index.js'
import { fromInternal, transformBounds, untransform, type Distribution, type ParamValue } from './space.js'
import type { Sampler, StudyView, TrialRecord } from './types.js'

/** The stream of (seed, trial, key): independent streams for different trials and parameters. */
export function trialRandom(seed: number, trial: number, key: string): Random {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ (seed >>> 0), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13) ^ Math.imul(trial + 1, 0x9e3779b1), 0xc2b2ae35)
  return seededRandom((h ^ (h >>> 16)) >>> 0)
}

/** A seed option checked, or a fresh random one (an unseeded study still differs run to run). */
export function resolveSeed(seed: number | undefined, owner: string): number {
  if (seed === undefined) return randomBytes(4).readUInt32LE(0)
  if (!Number.isInteger(seed)) throw new ConfigError(`${owner} seed must be an integer (received ${seed})`)
  return seed >>> 0
}

/** A uniform draw from the distribution: uniform on Optuna's transformed scale, then rounded. */
export function sampleUniform(d: Distribution, rng: Random): ParamValue {
  if (d.kind === 'categorical') return fromInternal(d, Math.min(d.choices.length - 1, Math.floor(rng.next() * d.choices.length)))
  const [lo, hi] = transformBounds(d)
  return untransform(d, lo + rng.next() * (hi - lo))
}

export interface RandomSamplerOptions {
  seed?: number
}

export function randomSampler(options: RandomSamplerOptions = {}): Sampler & { readonly seed: number } {
  const seed = resolveSeed(options.seed, 'randomSampler')
  return {
    name: 'random',
    seed,
    sampleIndependent(_study: StudyView, trial: TrialRecord, name: string, d: Distribution): ParamValue {
      return sampleUniform(d, trialRandom(seed, trial.number, name))
    },
  }
}
