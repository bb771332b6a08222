// Parameter spaces for the tuner: int, float and categorical distributions, conditional parameters
// (active only when a parent has given values), validation on entry, and the conversions samplers
// share (internal numeric form, Optuna's transformed bounds). spaceFromParamSpace adapts a strategy's
// ParamSpace.

import { ConfigError } from '../core/index.js'
import type { ParamValue } from '../track/index.js'

/** A parameter's value: the tracker's ParamValue (number, string or boolean), so trials log as they are. */
export type { ParamValue }
export type ParamSet = Record<string, ParamValue>
/** parent name → the parent values under which the parameter is active (all parents must match). */
export type Condition = Readonly<Record<string, readonly ParamValue[]>>

export interface IntDistribution {
  readonly kind: 'int'
  readonly low: number
  readonly high: number
  readonly step: number
  readonly log: boolean
  readonly when?: Condition
}

export interface FloatDistribution {
  readonly kind: 'float'
  readonly low: number
  readonly high: number
  /** Values low + k·step only. */
  readonly step?: number
  readonly log: boolean
  readonly when?: Condition
}

export interface CategoricalDistribution {
  readonly kind: 'categorical'
  readonly choices: readonly ParamValue[]
  readonly when?: Condition
}

export type Distribution = IntDistribution | FloatDistribution | CategoricalDistribution

export interface WhenOption {
  /** Active only when each named parent (declared earlier) takes one of these values. */
  when?: Readonly<Record<string, ParamValue | readonly ParamValue[]>>
}

export interface RangeOptions extends WhenOption {
  step?: number
  /** Sample on a log scale (low > 0). */
  log?: boolean
}

// The factories only record what was asked; defineSpace (which knows the names) validates.

/** Integers in [low, high] (both inclusive), every `step`-th from low. */
export function intRange(low: number, high: number, options: RangeOptions = {}): IntDistribution {
  return { kind: 'int', low, high, step: options.step ?? 1, log: options.log ?? false, ...when(options) }
}

/** Reals in [low, high]; with a step, only low + k·step. */
export function floatRange(low: number, high: number, options: RangeOptions = {}): FloatDistribution {
  return { kind: 'float', low, high, ...(options.step === undefined ? {} : { step: options.step }), log: options.log ?? false, ...when(options) }
}

/** One of a list of numbers, strings or booleans. */
export function choice<T extends ParamValue>(choices: readonly T[], options: WhenOption = {}): CategoricalDistribution {
  return { kind: 'categorical', choices: Array.isArray(choices) ? [...choices] : choices, ...when(options) }
}

function when(options: WhenOption): { when?: Condition } {
  if (options.when === undefined) return {}
  const out: Record<string, readonly ParamValue[]> = {}
  for (const [parent, v] of Object.entries(options.when)) out[parent] = Array.isArray(v) ? [...(v as ParamValue[])] : [v as ParamValue]
  return { when: out }
}

export type SpaceSpec = Readonly<Record<string, Distribution>>

/** A checked space: parameters in declaration order, parents before the parameters they condition. */
export class Space {
  readonly names: readonly string[]
  constructor(readonly params: Readonly<Record<string, Distribution>>) {
    this.names = Object.keys(params)
  }

  /** The parameters active under `params` (which must hold every active parent). */
  isActive(name: string, params: Readonly<ParamSet>): boolean {
    const d = this.params[name]
    return d !== undefined && isActive(d, params)
  }

  toJSON(): Record<string, Distribution> {
    return { ...this.params }
  }
}

/** Validate every parameter (ConfigError naming it) and its conditions. */
export function defineSpace(spec: SpaceSpec | Space): Space {
  if (spec instanceof Space) return spec
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new ConfigError(`a space must be an object of name → distribution (received ${describe(spec)})`)
  const out: Record<string, Distribution> = {}
  for (const [name, d] of Object.entries(spec)) {
    const checked = checkDistribution(name, d)
    if (checked.when !== undefined) {
      for (const [parent, values] of Object.entries(checked.when)) {
        const p = out[parent]
        if (p === undefined) throw new ConfigError(`param ${name}: its condition names ${parent}, which must be declared before ${name}`)
        if (p.kind === 'float') throw new ConfigError(`param ${name}: condition parent ${parent} must be a categorical or int parameter (received float)`)
        for (const v of values) if (!contains(p, v)) throw new ConfigError(`param ${name}: condition ${parent} = ${JSON.stringify(v)} is not a value of ${parent} (${describeDist(p)})`)
      }
    }
    out[name] = checked
  }
  if (Object.keys(out).length === 0) throw new ConfigError('a space needs at least one parameter (received {})')
  return new Space(out)
}

/**
 * One distribution checked, with the high end of a stepped range moved down onto the last step (as
 * Optuna does): low > high, a log range with low ≤ 0, empty choices and the like are ConfigErrors.
 */
export function checkDistribution(name: string, d: Distribution): Distribution {
  const bad = (what: string) => new ConfigError(`param ${name}: ${what}`)
  if (d === null || typeof d !== 'object') throw bad(`expected a distribution from intRange, floatRange or choice (received ${describe(d)})`)
  if (d.when !== undefined && (typeof d.when !== 'object' || Object.values(d.when).some((v) => !Array.isArray(v) || v.length === 0))) throw bad(`when must map parent names to values (received ${describe(d.when)})`)
  if (d.kind === 'categorical') {
    if (!Array.isArray(d.choices) || d.choices.length === 0) throw bad(`choices must be a non-empty list (received ${describe(d.choices)})`)
    for (const c of d.choices) if (!isParamValue(c)) throw bad(`choices must be numbers, strings or booleans (received ${describe(c)})`)
    if (new Set(d.choices).size !== d.choices.length) throw bad(`choices must be distinct (received ${describe(d.choices)})`)
    return d
  }
  if (d.kind !== 'int' && d.kind !== 'float') throw bad(`unknown distribution kind ${describe((d as { kind?: unknown }).kind)}; expected int, float or categorical`)
  const { low, high, log } = d
  if (typeof low !== 'number' || typeof high !== 'number' || !Number.isFinite(low) || !Number.isFinite(high)) throw bad(`low and high must be finite numbers (received low ${describe(low)}, high ${describe(high)})`)
  if (low > high) throw bad(`low must be ≤ high (received low ${low}, high ${high})`)
  if (log && low <= 0) throw bad(`a log range needs low > 0 (received low ${low})`)
  const step = d.step
  if (step !== undefined && !(typeof step === 'number' && Number.isFinite(step) && step > 0)) throw bad(`step must be a number > 0 (received ${describe(step)})`)
  if (d.kind === 'int') {
    if (!Number.isInteger(low) || !Number.isInteger(high)) throw bad(`int bounds must be integers (received low ${low}, high ${high})`)
    if (!Number.isInteger(step)) throw bad(`an int step must be an integer ≥ 1 (received ${step})`)
    if (log && step !== 1) throw bad(`a log int range takes step 1 (received step ${step})`)
    const top = low + Math.floor((high - low) / step!) * step!
    return top === high ? d : { ...d, high: top }
  }
  if (step === undefined) return d
  if (log) throw bad(`a log range cannot have a step (received step ${step})`)
  const top = Number((low + Math.floor((high - low) / step + 1e-9) * step).toPrecision(14))
  return top === high ? d : { ...d, high: top }
}

export function isActive(d: Distribution, params: Readonly<ParamSet>): boolean {
  if (d.when === undefined) return true
  for (const parent in d.when) {
    const v = params[parent]
    if (v === undefined || !d.when[parent]!.includes(v)) return false
  }
  return true
}

/** Whether `value` is one of the distribution's values. */
export function contains(d: Distribution, value: unknown): boolean {
  if (d.kind === 'categorical') return d.choices.includes(value as ParamValue)
  if (typeof value !== 'number' || !(value >= d.low && value <= d.high)) return false
  if (d.kind === 'int') return Number.isInteger(value) && (value - d.low) % d.step === 0
  if (d.step === undefined) return true
  const k = (value - d.low) / d.step
  return Math.abs(k - Math.round(k)) < 1e-8
}

/** The same distribution, conditions aside (a parameter suggested twice must agree). */
export function sameDistribution(a: Distribution, b: Distribution): boolean {
  if (a.kind !== b.kind) return false
  if (a.kind === 'categorical') {
    const bc = (b as CategoricalDistribution).choices
    return a.choices.length === bc.length && a.choices.every((c, i) => c === bc[i])
  }
  const n = b as IntDistribution | FloatDistribution
  return a.low === n.low && a.high === n.high && a.log === n.log && a.step === n.step
}

/** True when the distribution has one value only. */
export function isSingle(d: Distribution): boolean {
  return d.kind === 'categorical' ? d.choices.length === 1 : d.low === d.high
}

/** The numeric form samplers work in: the index of a choice, the number itself otherwise. */
export function toInternal(d: Distribution, value: ParamValue): number {
  return d.kind === 'categorical' ? d.choices.indexOf(value) : (value as number)
}

export function fromInternal(d: Distribution, x: number): ParamValue {
  return d.kind === 'categorical' ? d.choices[x]! : x
}

/**
 * Bounds of Optuna's search-space transform for a numeric distribution: log scale for log ranges,
 * and half a step beyond each end of a stepped range (so each value gets an equal share).
 */
export function transformBounds(d: IntDistribution | FloatDistribution): [number, number] {
  if (d.kind === 'int') return d.log ? [Math.log(d.low - 0.5), Math.log(d.high + 0.5)] : [d.low - 0.5 * d.step, d.high + 0.5 * d.step]
  if (d.log) return [Math.log(d.low), Math.log(d.high)]
  return d.step === undefined ? [d.low, d.high] : [d.low - 0.5 * d.step, d.high + 0.5 * d.step]
}

export function transform(d: IntDistribution | FloatDistribution, value: number): number {
  return d.log ? Math.log(value) : value
}

/** Back from the transformed scale: rounded onto the steps and clipped into [low, high]. */
export function untransform(d: IntDistribution | FloatDistribution, t: number): number {
  if (d.kind === 'int') {
    const v = d.log ? Math.round(Math.exp(t)) : Math.round((t - d.low) / d.step) * d.step + d.low
    return clip(v, d.low, d.high)
  }
  if (d.log) return clip(Math.exp(t), d.low, d.high)
  if (d.step === undefined) return clip(t, d.low, d.high)
  return clip(Number((Math.round((t - d.low) / d.step) * d.step + d.low).toPrecision(14)), d.low, d.high)
}

function clip(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v
}

/** What a strategy's ParamSpace entry looks like (lib/strategy's ParamDef, read structurally). */
export interface ParamDefLike {
  readonly default: number
  readonly min: number
  readonly max: number
  readonly integer?: boolean
  readonly step?: number
}

export interface FromParamSpaceOptions {
  /** Only these parameters (the others keep their defaults, outside the tuner). Default: all. */
  names?: readonly string[]
  /** Tune each parameter on its sweep grid (its step) instead of every integer / every real. */
  discrete?: boolean
  /** Parameters to sample on a log scale (periods spanning orders of magnitude). */
  log?: readonly string[]
}

/** A tuner space from a strategy's ParamSpace (min/max/integer/step of each parameter). */
export function spaceFromParamSpace(paramSpace: Readonly<Record<string, ParamDefLike>>, options: FromParamSpaceOptions = {}): Space {
  const all = Object.keys(paramSpace)
  const names = options.names ?? all
  const spec: Record<string, Distribution> = {}
  for (const name of names) {
    const def = paramSpace[name]
    if (def === undefined) throw new ConfigError(`param ${name} is not in the strategy's space (expected one of ${all.join(', ')})`)
    const log = options.log?.includes(name) === true
    const step = options.discrete === true && !log ? def.step : undefined
    spec[name] = def.integer === true ? intRange(def.min, def.max, { step: step ?? 1, log }) : floatRange(def.min, def.max, { ...(step === undefined ? {} : { step }), log })
  }
  for (const name of options.log ?? []) if (!names.includes(name)) throw new ConfigError(`log names ${name}, which is not a tuned parameter (${names.join(', ')})`)
  return defineSpace(spec)
}

export function isParamValue(v: unknown): v is ParamValue {
  return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' || typeof v === 'boolean'
}

export function describeDist(d: Distribution): string {
  if (d.kind === 'categorical') return `one of ${d.choices.map((c) => JSON.stringify(c)).join(', ')}`
  const extra = [d.step !== undefined && !(d.kind === 'int' && d.step === 1) ? `step ${d.step}` : '', d.log ? 'log' : ''].filter((s) => s !== '').join(', ')
  return `${d.kind} in [${d.low}, ${d.high}]${extra === '' ? '' : ` (${extra})`}`
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined'
  try {
    const s = JSON.stringify(v)
    return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s
  } catch {
    return String(v)
  }
}
