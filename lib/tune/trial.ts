// The live trial an objective receives: its parameters (sampled up front from a declared space, or
// asked for define-by-run with suggestInt/Float/Categorical), report(value, step) and shouldPrune().
// The same class runs in a worker thread, where its host answers through the main thread.

import { ConfigError, MtflowError } from '../core/index.js'
import { checkDistribution, choice, describeDist, floatRange, intRange, sameDistribution, type Distribution, type ParamValue, type ParamSet } from './space.js'

/** Throw from an objective to end the trial as pruned (after shouldPrune() said so). */
export class TrialPruned extends MtflowError {
  constructor(message = 'trial pruned') {
    super(message)
  }
}

export function isTrialPruned(error: unknown): boolean {
  return error instanceof TrialPruned || (error instanceof Error && error.name === 'TrialPruned')
}

/** What a trial asks of its study (in this thread, or across the worker boundary). */
export interface TrialHost {
  suggest(trial: number, name: string, distribution: Distribution): ParamValue
  report(trial: number, step: number, value: number): void
  shouldPrune(trial: number): boolean
}

export class Trial<P extends object = ParamSet> {
  private readonly known: ParamSet
  private readonly dists: Record<string, Distribution>

  constructor(
    readonly number: number,
    params: Readonly<ParamSet>,
    distributions: Readonly<Record<string, Distribution>>,
    private readonly host: TrialHost,
  ) {
    this.known = { ...params }
    this.dists = { ...distributions }
  }

  /** The parameters so far: the declared space's active ones, then those suggested. */
  get params(): P {
    return this.known as unknown as P
  }

  get distributions(): Readonly<Record<string, Distribution>> {
    return this.dists
  }

  /** A real in [low, high]; `step` for low + k·step only, `log` for a log scale. */
  suggestFloat(name: string, low: number, high: number, options: { step?: number; log?: boolean } = {}): number {
    return this.suggest(name, floatRange(low, high, options)) as number
  }

  suggestInt(name: string, low: number, high: number, options: { step?: number; log?: boolean } = {}): number {
    return this.suggest(name, intRange(low, high, options)) as number
  }

  suggestCategorical<T extends ParamValue>(name: string, choices: readonly T[]): T {
    return this.suggest(name, choice(choices)) as T
  }

  /** A parameter from any distribution; asking again for a known name returns its value. */
  suggest(name: string, distribution: Distribution): ParamValue {
    if (typeof name !== 'string' || name === '') throw new ConfigError(`a parameter name must be a non-empty string (received ${JSON.stringify(name)})`)
    const d = checkDistribution(name, distribution)
    const known = this.known[name]
    if (known !== undefined) {
      const before = this.dists[name]
      if (before !== undefined && !sameDistribution(before, d)) throw new ConfigError(`param ${name} of trial ${this.number} is ${describeDist(before)}; it cannot be suggested as ${describeDist(d)}`)
      return known
    }
    const value = this.host.suggest(this.number, name, d)
    this.known[name] = value
    this.dists[name] = d
    return value
  }

  /** An intermediate value at a step (an integer ≥ 0); a step reported twice keeps its first value. */
  report(value: number, step: number): void {
    if (typeof value !== 'number') throw new ConfigError(`trial.report value must be a number (received ${JSON.stringify(value)})`)
    if (!(Number.isInteger(step) && step >= 0)) throw new ConfigError(`trial.report step must be an integer ≥ 0 (received ${step})`)
    this.host.report(this.number, step, value)
  }

  /** Whether the study's pruner would stop this trial now (throw new TrialPruned() to stop). */
  shouldPrune(): boolean {
    return this.host.shouldPrune(this.number)
  }
}
