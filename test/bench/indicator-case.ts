// One indicator case timed under whichever loader runs this file (issue 24 point 4: "indicators run as
// fast under every loader users run — CLI, worker threads, tslab — as in the bench"). The same seeded
// 1,000,000-bar walk as indicators.ts; returns the median time and a checksum of the values, so the
// loaders' rows can be checked to compute the same numbers. Kept free of the comparison packages, so
// tslab type-checks little when a notebook cell imports it.

import { seededRandom } from '../../lib/core/random.js'
import { INDICATORS } from '../../lib/indicators/index.js'

const N = 1_000_000
export const LOADER_CASES: Readonly<Record<string, Record<string, number>>> = { rsi: { period: 14 }, atr: { period: 14 }, adx: { period: 14 } }

/** The indicator rows' 1,000,000-bar walk (seeded: the same bars in every process and loader). */
export function walk(): { high: Float64Array; low: Float64Array; close: Float64Array } {
  const rng = seededRandom(3)
  const high = new Float64Array(N)
  const low = new Float64Array(N)
  const close = new Float64Array(N)
  let p = 100
  for (let i = 0; i < N; i++) {
    const o = p
    p *= Math.exp(0.001 * rng.normal())
    high[i] = Math.max(o, p) * (1 + 0.0005 * Math.abs(rng.normal()))
    low[i] = Math.min(o, p) * (1 - 0.0005 * Math.abs(rng.normal()))
    close[i] = p
  }
  return { high, low, close }
}

export interface CaseResult {
  name: string
  median: number
  checksum: number
}

/** Times INDICATORS[name].compute over the walk `runs` times (after 2 warm-up runs). */
export function timeCase(name: string, runs: number): CaseResult {
  const params = LOADER_CASES[name]
  if (params === undefined) throw new Error(`indicator case ${JSON.stringify(name)} is not one of ${Object.keys(LOADER_CASES).join(', ')}`)
  const { high, low, close } = walk()
  const bars = { open: close, high, low, close, volume: new Float64Array(N).fill(1) }
  const indicator = INDICATORS[name]!
  let checksum = 0
  const ms: number[] = []
  for (let r = -2; r < runs; r++) {
    const started = performance.now()
    const out = indicator.compute(bars, params)
    const elapsed = performance.now() - started
    if (r >= 0) ms.push(elapsed)
    if (r === -2) {
      for (const column of Object.values(out) as Float64Array[]) for (let i = 0; i < column.length; i++) if (column[i] === column[i]) checksum += column[i]!
    }
  }
  ms.sort((a, b) => a - b)
  return { name, median: ms[ms.length >> 1]!, checksum }
}

/** For test/bench/require-child.cjs and the worker-thread runner: args = runs NAME… */
export async function main(args: string[]): Promise<string> {
  const runs = Number(args[0] ?? 21)
  return JSON.stringify(args.slice(1).map((name) => timeCase(name, runs)))
}
