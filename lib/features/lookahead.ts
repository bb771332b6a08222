// The leakage guard: a feature or indicator that peeks at later bars gives a different value for bar t
// once those bars exist. checkLookahead recomputes it on prefixes of the data and reports every value
// that changed — the prefix's value against the full series' value at the same bar.

import { ConfigError } from '../core/index.js'

export type SeriesRecord = Record<string, Float64Array>
export type FeatureFn = (bars: SeriesRecord) => SeriesRecord | Float64Array

export interface LookaheadChange {
  output: string
  /** Bar index of the value that changed. */
  index: number
  /** Length of the prefix it was computed on. */
  prefixLength: number
  prefix: number
  full: number
}

export interface LookaheadReport {
  clean: boolean
  /** Prefix lengths tried. */
  prefixes: number[]
  /** Outputs with at least one changed value. */
  leaking: string[]
  /** Changed values (the first `limit`). */
  changes: LookaheadChange[]
  /** All changed values, counted. */
  changed: number
}

export interface LookaheadOptions {
  /** How many prefix lengths to try, spread over the series and always including its last bars (default 40). */
  prefixes?: number
  /** Changes listed in the report (default 20). */
  limit?: number
}

/**
 * Recompute `fn` on prefixes of `bars` (every Float64Array field cut to the same length) and compare
 * with the full computation: any value for bar t that differs once bars after t exist is lookahead.
 * Values must agree exactly (NaN with NaN): the computation on a prefix runs the same arithmetic.
 */
export function checkLookahead(fn: FeatureFn, bars: SeriesRecord, options: LookaheadOptions = {}): LookaheadReport {
  const fields = Object.entries(bars).filter((e): e is [string, Float64Array] => e[1] instanceof Float64Array)
  if (fields.length === 0) throw new ConfigError('checkLookahead needs bars with Float64Array series (e.g. close)')
  const n = fields[0]![1].length
  for (const [name, series] of fields) {
    if (series.length !== n) throw new ConfigError(`checkLookahead: series of different lengths (${fields[0]![0]} has ${n}, ${name} has ${series.length})`)
  }
  const limit = options.limit ?? 20
  const full = normalise(fn(bars))
  const prefixes = prefixLengths(n, options.prefixes ?? 40)
  const changes: LookaheadChange[] = []
  const leaking = new Set<string>()
  let changed = 0
  for (const length of prefixes) {
    const prefixBars: SeriesRecord = { ...bars }
    for (const [name, series] of fields) prefixBars[name] = series.slice(0, length)
    const partial = normalise(fn(prefixBars))
    for (const [output, values] of Object.entries(partial)) {
      const reference = full[output]
      if (reference === undefined) continue
      for (let i = 0; i < length; i++) {
        const a = values[i]!
        const b = reference[i]!
        if (a === b || (a !== a && b !== b)) continue
        changed++
        leaking.add(output)
        if (changes.length < limit) changes.push({ output, index: i, prefixLength: length, prefix: a, full: b })
      }
    }
  }
  return { clean: changed === 0, prefixes, leaking: [...leaking].sort(), changes, changed }
}

function normalise(result: SeriesRecord | Float64Array): SeriesRecord {
  return result instanceof Float64Array ? { value: result } : result
}

/** `count` prefix lengths in 1 … n − 1: evenly spread, plus the last 5 (lookahead shows at a prefix's end). */
function prefixLengths(n: number, count: number): number[] {
  const out = new Set<number>()
  for (let k = 1; k <= count; k++) out.add(Math.max(1, Math.round((k * (n - 1)) / (count + 1))))
  for (let k = 1; k <= 5; k++) if (n - k >= 1) out.add(n - k)
  return [...out].sort((a, b) => a - b)
}
