// Strategy parameter spaces: each parameter's default and range, which the CLI, sweeps and the tuner
// read. resolveParams fills defaults and checks every value once, on entry.

import { ConfigError } from '../core/index.js'

export interface ParamDef {
  default: number
  min: number
  max: number
  /** Integers only (periods, counts). */
  integer?: boolean
  /** Grid step a sweep uses when none is given. */
  step?: number
  description?: string
}

/** Every parameter of P with its definition. */
export type ParamSpace<P> = { readonly [K in keyof P]: ParamDef }

/** An integer parameter (periods, bar counts). */
export function intParam(defaultValue: number, min: number, max: number, description = '', step = 1): ParamDef {
  return { default: defaultValue, min, max, integer: true, step, description }
}

/** A real-valued parameter (thresholds, multipliers). */
export function realParam(defaultValue: number, min: number, max: number, description = '', step?: number): ParamDef {
  return { default: defaultValue, min, max, integer: false, ...(step === undefined ? {} : { step }), description }
}

/** Defaults for every parameter of a space. */
export function defaultParams<P>(space: ParamSpace<P>): P {
  const out: Record<string, number> = {}
  for (const [name, def] of Object.entries(space) as [string, ParamDef][]) out[name] = def.default
  return out as P
}

/**
 * Defaults overlaid with the given values, each checked: a name not in the space, a value that is not
 * a number (strings are parsed, as from the CLI), outside [min, max] or fractional for an integer
 * parameter is a ConfigError naming the parameter and what was expected.
 */
export function resolveParams<P>(owner: string, space: ParamSpace<P>, given: Readonly<Record<string, unknown>> = {}): P {
  const out = defaultParams(space) as Record<string, number>
  const names = Object.keys(space)
  for (const [name, raw] of Object.entries(given)) {
    if (raw === undefined) continue
    const def = (space as Record<string, ParamDef | undefined>)[name]
    if (def === undefined) throw new ConfigError(`unknown parameter "${name}" for ${owner}; expected one of ${names.join(', ')}`)
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new ConfigError(`${owner} parameter ${name} must be a number (received ${JSON.stringify(raw)})`)
    checkValue(owner, name, def, value)
    out[name] = value
  }
  return out as P
}

export function checkValue(owner: string, name: string, def: ParamDef, value: number): void {
  const kind = def.integer === true ? 'an integer' : 'a number'
  if ((def.integer === true && !Number.isInteger(value)) || !(value >= def.min && value <= def.max)) {
    throw new ConfigError(`${owner} parameter ${name} must be ${kind} in [${def.min}, ${def.max}] (received ${value})`)
  }
}

/** "fast=10" → ["fast", "10"]; a ConfigError naming `flag` for anything else. */
export function parseParamArg(text: string, flag = '--param'): [string, string] {
  const at = text.indexOf('=')
  if (at <= 0 || at === text.length - 1) throw new ConfigError(`${flag} takes name=${flag === '--grid' ? 'values (min:max:step or a,b,c)' : 'value'} (received "${text}")`)
  return [text.slice(0, at).trim(), text.slice(at + 1).trim()]
}
