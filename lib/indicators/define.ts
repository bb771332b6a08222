// How an indicator is declared: its input series, parameters (with defaults and bounds), outputs,
// and a factory for its incremental machine. Batch computation runs the machine over arrays, so a
// streaming update and the batch value at the same bar are the same number, bit for bit. Hot
// indicators may add a `batch` kernel (a plain array loop); the tests hold it to the machine's values.

import { ConfigError } from '../core/index.js'

/** Bar series an indicator may read; `time` (epoch ms) only for session-anchored ones. */
export const SERIES = ['open', 'high', 'low', 'close', 'volume', 'time'] as const
export type SeriesName = (typeof SERIES)[number]

export interface ParamSpec {
  default: number
  min: number
  max: number
  integer: boolean
  description: string
}

export type Params = Record<string, number>

/** One bar's state machine: `step` takes the bar's values and returns output 0; `out` holds all outputs. */
export interface Machine {
  step(open: number, high: number, low: number, close: number, volume: number, time: number): number
  readonly out: Float64Array
  /** Single-input machines: the series read and the state whose push(x) gives output 0 (streams call it directly). */
  readonly input?: SeriesName
  readonly state?: { push(x: number): number }
  /** High–low–close machines may expose their state likewise: push(high, low, close) → output 0. */
  readonly hlc?: { push(high: number, low: number, close: number): number }
}

export interface IndicatorSpec {
  name: string
  description: string
  inputs: readonly SeriesName[]
  params: Record<string, ParamSpec>
  outputs: readonly string[]
  /** A fresh machine for validated parameters. */
  machine(params: Params): Machine
  /** Optional array kernel; must return exactly what the machine gives. */
  batch?(inputs: Record<SeriesName, Float64Array>, params: Params, n: number): Float64Array[]
  /** Uses later bars (centred): for research only; checkLookahead flags it. */
  lookahead?: boolean
}

export interface Indicator extends IndicatorSpec {
  /** Validate inputs and parameters, then compute every output over the whole series. */
  compute(inputs: Partial<Record<SeriesName, Float64Array>>, params?: Partial<Params>): Record<string, Float64Array>
  /** Parameters with defaults filled in, each checked against its bounds. */
  resolve(params?: Partial<Params>): Params
}

export function param(defaultValue: number, description: string, options: { min?: number; max?: number; integer?: boolean } = {}): ParamSpec {
  const integer = options.integer ?? Number.isInteger(defaultValue)
  return { default: defaultValue, min: options.min ?? (integer ? 1 : 0), max: options.max ?? (integer ? 10_000 : 1_000), integer, description }
}

/** A period parameter: an integer ≥ 1. */
export function period(defaultValue: number, description = 'bars in the window'): ParamSpec {
  return param(defaultValue, description, { min: 1, max: 100_000, integer: true })
}

export function define(spec: IndicatorSpec): Indicator {
  const resolve = (params: Partial<Params> = {}): Params => {
    if (params === null || typeof params !== 'object') throw new ConfigError(`${spec.name}: parameters must be an object (received ${String(params)})`)
    for (const key of Object.keys(params)) {
      if (!(key in spec.params)) {
        throw new ConfigError(`${spec.name} has no parameter "${key}"; expected ${Object.keys(spec.params).join(', ') || 'none'}`)
      }
    }
    const out: Params = {}
    for (const [key, p] of Object.entries(spec.params)) {
      const value = params[key] ?? p.default
      if (typeof value !== 'number' || Number.isNaN(value)) throw new ConfigError(`${spec.name}: ${key} must be a number (received ${String(value)})`)
      if (p.integer && !Number.isInteger(value)) throw new ConfigError(`${spec.name}: ${key} must be an integer ≥ ${p.min} (received ${value})`)
      if (value < p.min || value > p.max) throw new ConfigError(`${spec.name}: ${key} must be between ${p.min} and ${p.max} (received ${value})`)
      out[key] = value
    }
    return out
  }
  let primed = false
  const compute = (inputs: Partial<Record<SeriesName, Float64Array>>, params?: Partial<Params>): Record<string, Float64Array> => {
    const p = resolve(params)
    const n = checkInputs(spec, inputs)
    const arrays = inputs as Record<SeriesName, Float64Array>
    if (spec.batch !== undefined && !primed && n > PRIME_ABOVE) {
      // Before a kernel's first long loop, a few short runs over the series' first bars: V8 then optimizes
      // the kernel at its entry with feedback for every path (prologue, warm-up, gaps). Run first on a long
      // series it is optimized on the stack (OSR) with the prologue's feedback missing, deoptimizes, and
      // can stay on the OSR code for the life of the process, boxing doubles (adx ~2.3x, rsi ~3x slower).
      primed = true
      for (let k = 0; k < 3; k++) spec.batch(arrays, p, PRIME_BARS)
    }
    const columns = spec.batch !== undefined ? spec.batch(arrays, p, n) : runMachine(spec.machine(p), spec, arrays, n)
    const result: Record<string, Float64Array> = {}
    spec.outputs.forEach((name, k) => (result[name] = columns[k]!))
    return result
  }
  return { ...spec, compute, resolve }
}

const EMPTY = new Float64Array(0)
/** Series longer than this prime the batch kernel first (define's compute); PRIME_BARS bars per priming run. */
const PRIME_ABOVE = 20_000
const PRIME_BARS = 1024

/**
 * k output columns of one length, carved from one zeroed block. The memory of a fresh block costs a
 * page fault per 4 KiB on first write — for a million bars that is a third of ADX's time — and the
 * allocator reuses one freed block of k columns where it would give k separate ones back to the
 * system. The columns are subarrays (mind byteOffset when taking .buffer); any one keeps the block.
 */
export function columns(k: number, length: number): Float64Array[] {
  const block = new Float64Array(k * length)
  return Array.from({ length: k }, (_, j) => block.subarray(j * length, (j + 1) * length))
}

/** The machine run bar by bar over the arrays. */
export function runMachine(machine: Machine, spec: Pick<IndicatorSpec, 'inputs' | 'outputs'>, inputs: Record<SeriesName, Float64Array>, n: number): Float64Array[] {
  const result = columns(spec.outputs.length, n)
  const o = inputs.open ?? EMPTY
  const h = inputs.high ?? EMPTY
  const l = inputs.low ?? EMPTY
  const c = inputs.close ?? EMPTY
  const v = inputs.volume ?? EMPTY
  const t = inputs.time ?? EMPTY
  const first = result[0]!
  const rest = result.length - 1
  const out = machine.out
  for (let i = 0; i < n; i++) {
    // Unused series read past an empty array: undefined → NaN, never used by the machine.
    first[i] = machine.step(o[i]!, h[i]!, l[i]!, c[i]!, v[i]!, t[i]!)
    for (let k = 1; k <= rest; k++) result[k]![i] = out[k]!
  }
  return result
}

function checkInputs(spec: IndicatorSpec, inputs: Partial<Record<SeriesName, Float64Array>>): number {
  let n = -1
  let first = ''
  for (const name of spec.inputs) {
    const series = inputs[name]
    if (!(series instanceof Float64Array)) {
      throw new ConfigError(`${spec.name} needs ${spec.inputs.join(', ')}; ${name} is ${series === undefined ? 'missing' : 'not a Float64Array'}`)
    }
    if (n === -1) {
      n = series.length
      first = name
    } else if (series.length !== n) {
      throw new ConfigError(`${spec.name}: series of different lengths (${first} has ${n} values, ${name} has ${series.length})`)
    }
  }
  return Math.max(n, 0)
}
