// Streaming indicators for live use: feed one bar at a time, get the outputs for that bar — the same
// numbers, bit for bit, as the batch computation over the whole series (the same machine runs both).

import { ConfigError } from '../core/index.js'
import type { Indicator, Params } from './define.js'

/** One bar's values; a series an indicator does not read may be left out. `time` in epoch ms. */
export interface StreamBar {
  open?: number
  high?: number
  low?: number
  close?: number
  volume?: number
  time?: number
}

export interface Stream {
  readonly name: string
  readonly params: Readonly<Params>
  readonly outputs: readonly string[]
  /**
   * Outputs for this bar (NaN while warming up). The returned object is reused by the next call
   * (no allocation per bar): copy it to keep it.
   */
  update(bar: StreamBar): Readonly<Record<string, number>>
}

export function streamOf(indicator: Indicator, params?: Partial<Params>): Stream {
  const resolved = indicator.resolve(params)
  const machine = indicator.machine(resolved)
  const names = indicator.outputs
  const values: Record<string, number> = {}
  for (const name of names) values[name] = NaN
  const first = names[0]!
  const rest = names.slice(1)
  return {
    name: indicator.name,
    params: resolved,
    outputs: names,
    update(bar) {
      values[first] = machine.step(bar.open ?? NaN, bar.high ?? NaN, bar.low ?? NaN, bar.close ?? NaN, bar.volume ?? NaN, bar.time ?? NaN)
      for (let k = 0; k < rest.length; k++) values[rest[k]!] = machine.out[k + 1]!
      return values
    },
  }
}

export function unknownIndicator(name: string, known: readonly string[]): ConfigError {
  return new ConfigError(`unknown indicator "${name}"; expected one of ${known.join(', ')}`)
}
