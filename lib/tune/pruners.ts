// Pruners stop unpromising trials early from their intermediate values (trial.report(value, step)),
// with Optuna's semantics: the median/percentile pruner compares a trial's best value so far with the
// completed trials' values at the same step; successive halving promotes through rungs at steps
// minResource·η^(rate + rung), keeping the best 1/η of the values seen at each rung.

import { ConfigError } from '../core/index.js'
import type { Pruner, StudyView, TrialRecord } from './types.js'

export interface PercentileOptions {
  /** Pruning is off until this many trials completed (default 5). */
  nStartupTrials?: number
  /** Pruning is off before this step (default 0). */
  nWarmupSteps?: number
  /** Check every this many steps, counted from the warm-up (default 1). */
  intervalSteps?: number
  /** Fewer completed trials than this reported at the step: no pruning (default 1). */
  nMinTrials?: number
}

export function nopPruner(): Pruner {
  return { name: 'nop', prune: () => false }
}

/** Prune a trial whose best intermediate value is worse than the median of completed trials at its step. */
export function medianPruner(options: PercentileOptions = {}): Pruner {
  return { ...percentilePruner(50, options), name: 'median' }
}

/** Prune a trial whose best value so far is outside the best `percentile` % at its step. */
export function percentilePruner(percentile: number, options: PercentileOptions = {}): Pruner {
  const nStartup = options.nStartupTrials ?? 5
  const warmup = options.nWarmupSteps ?? 0
  const interval = options.intervalSteps ?? 1
  const nMin = options.nMinTrials ?? 1
  if (!(percentile >= 0 && percentile <= 100)) throw new ConfigError(`percentile must be in [0, 100] (received ${percentile})`)
  checkInt('nStartupTrials', nStartup, 0)
  checkInt('nWarmupSteps', warmup, 0)
  checkInt('intervalSteps', interval, 1)
  checkInt('nMinTrials', nMin, 1)
  return {
    name: 'percentile',
    prune(study: StudyView, trial: TrialRecord): boolean {
      const completed = study.trials.filter((t) => t.state === 'complete')
      if (completed.length === 0 || completed.length < nStartup) return false
      const step = trial.lastStep
      if (step === undefined || step < warmup) return false
      if (!firstInInterval(step, trial.intermediate, warmup, interval)) return false
      const maximize = study.directions[0] === 'maximize'
      let best = NaN
      for (const v of trial.intermediate.values()) if (!Number.isNaN(v) && (Number.isNaN(best) || (maximize ? v > best : v < best))) best = v
      if (Number.isNaN(best)) return true
      const atStep: number[] = []
      for (const t of completed) {
        const v = t.intermediate.get(step)
        if (v !== undefined) atStep.push(v)
      }
      if (atStep.length < nMin) return false
      const p = nanPercentile(atStep, maximize ? 100 - percentile : percentile)
      if (Number.isNaN(p)) return false
      return maximize ? best < p : best > p
    },
  }
}

/**
 * True when `step` is the first report at or after the latest check point (warm-up + k·interval):
 * a check that found no report is made at the next one.
 */
function firstInInterval(step: number, reported: ReadonlyMap<number, number>, warmup: number, interval: number): boolean {
  const checkPoint = Math.floor((step - warmup) / interval) * interval + warmup
  let previous = -1
  for (const s of reported.keys()) if (s > previous && s !== step) previous = s
  return previous < checkPoint
}

/** numpy.nanpercentile with linear interpolation. */
export function nanPercentile(values: readonly number[], percentile: number): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const rank = (percentile / 100) * (v.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return v[lo]! + (v[hi]! - v[lo]!) * (rank - lo)
}

export interface SuccessiveHalvingOptions {
  /** Steps of the first rung; 'auto' (default): max(last step of the completed trials ÷ 100, 1). */
  minResource?: number | 'auto'
  /** η: each rung keeps the best 1/η (default 4). */
  reductionFactor?: number
  /** s: the first rung is at minResource·η^s (default 0). */
  minEarlyStoppingRate?: number
  /** A trial is pruned at a rung until more than this many trials reached it (default 0). */
  bootstrapCount?: number
}

export const RUNG_PREFIX = 'sh:rung'

/** Asynchronous successive halving (ASHA), as Optuna's SuccessiveHalvingPruner. */
export function successiveHalvingPruner(options: SuccessiveHalvingOptions = {}): Pruner {
  const eta = options.reductionFactor ?? 4
  const rate = options.minEarlyStoppingRate ?? 0
  const bootstrap = options.bootstrapCount ?? 0
  const given = options.minResource ?? 'auto'
  if (given !== 'auto') checkInt('minResource', given, 1)
  checkInt('reductionFactor', eta, 2)
  checkInt('minEarlyStoppingRate', rate, 0)
  checkInt('bootstrapCount', bootstrap, 0)
  if (bootstrap > 0 && given === 'auto') throw new ConfigError(`successiveHalvingPruner: bootstrapCount > 0 needs a numeric minResource (received 'auto')`)
  let minResource = given === 'auto' ? undefined : given
  return {
    name: 'successive-halving',
    prune(study: StudyView, trial: TrialRecord): boolean {
      const step = trial.lastStep
      if (step === undefined) return false
      const value = trial.intermediate.get(step)!
      let rung = 0
      while (trial.system[`${RUNG_PREFIX}${rung}`] !== undefined) rung++
      if (minResource === undefined) {
        let last = -1
        for (const t of study.trials) if (t.state === 'complete' && t.lastStep !== undefined && t.lastStep > last) last = t.lastStep
        if (last < 0) return false
        minResource = Math.max(Math.floor(last / 100), 1)
      }
      for (;;) {
        if (step < minResource * Math.pow(eta, rate + rung)) return false
        if (Number.isNaN(value)) return true
        const key = `${RUNG_PREFIX}${rung}`
        const competing: number[] = []
        for (const t of study.trials) {
          const v = t.system[key]
          if (t !== trial && typeof v === 'number') competing.push(v)
        }
        competing.push(value)
        study.setSystem(trial.number, key, value)
        if (competing.length <= bootstrap) return true
        if (!promotable(value, competing, eta, study.directions[0] === 'maximize')) return true
        rung++
      }
    },
  }
}

/** In the best ⌊n/η⌋ of the rung's values (the best one while fewer than η reached it). */
function promotable(value: number, competing: number[], eta: number, maximize: boolean): boolean {
  let k = Math.floor(competing.length / eta) - 1
  if (k === -1) k = 0
  competing.sort((a, b) => a - b)
  return maximize ? value >= competing[competing.length - 1 - k]! : value <= competing[k]!
}

function checkInt(name: string, v: number, min: number): void {
  if (!(Number.isInteger(v) && v >= min)) throw new ConfigError(`${name} must be an integer ≥ ${min} (received ${v})`)
}
