// Checks of what users hand the study — directions, parameter sets, an objective's result — each with
// a one-line message saying what was expected and what was received.

import { ConfigError } from '../core/index.js'
import { isParamValue } from './space.js'
import type { Direction } from './types.js'

/** The objective's result as values, or why it is not one. */
export function checkResult(result: unknown, k: number): number[] | string {
  const arr = typeof result === 'number' ? [result] : Array.isArray(result) ? (result as unknown[]) : undefined
  const expected = k === 1 ? 'a number' : `${k} numbers`
  if (arr === undefined || arr.some((v) => typeof v !== 'number')) return `the objective returned ${preview(result)}; expected ${expected}`
  if (arr.length !== k) return `the objective returned ${arr.length} values; expected ${expected}`
  if ((arr as number[]).some(Number.isNaN)) return `the objective returned NaN`
  return arr as number[]
}

export function preview(v: unknown): string {
  try {
    return (JSON.stringify(v) ?? String(v)).slice(0, 80)
  } catch {
    return String(v)
  }
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'
}

export function checkDirections(direction: Direction | undefined, directions: readonly Direction[] | undefined): Direction[] | undefined {
  if (direction !== undefined && directions !== undefined) throw new ConfigError('give direction or directions, not both')
  const list = directions ?? (direction === undefined ? undefined : [direction])
  if (list === undefined) return undefined
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`directions must be a non-empty list of "minimize" or "maximize" (received ${preview(list)})`)
  for (const d of list) if (d !== 'minimize' && d !== 'maximize') throw new ConfigError(`a direction must be "minimize" or "maximize" (received ${preview(d)})`)
  return [...list]
}

export function checkParams(params: unknown, what: string): void {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new ConfigError(`${what} takes an object of parameter values (received ${preview(params)})`)
  for (const [name, v] of Object.entries(params)) if (!isParamValue(v)) throw new ConfigError(`${what}: ${name} must be a number, string or boolean (received ${preview(v)})`)
}
