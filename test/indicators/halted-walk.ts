// A random walk with a halted stretch, shared by the window-exactness and warm-start parity tests.

import { seededRandom } from '../../lib/core/index.js'
import type { SeriesName } from '../../lib/indicators/index.js'

export type Inputs = Record<SeriesName, Float64Array>

/** A random walk with a 40-bar halt (nothing moves) at bars 1000–1039. */
export function haltedWalk(n: number): Inputs {
  const rng = seededRandom(11)
  const out: Inputs = { open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n), time: new Float64Array(n) }
  let p = 50
  for (let i = 0; i < n; i++) {
    const o = p
    const halted = i >= 1000 && i < 1040
    if (!halted) p *= Math.exp(0.01 * rng.normal())
    out.open[i] = o
    out.close[i] = p
    out.high[i] = halted ? p : Math.max(o, p) * 1.001
    out.low[i] = halted ? p : Math.min(o, p) * 0.999
    out.volume[i] = Math.round(1000 * Math.exp(rng.normal()))
    out.time[i] = Date.UTC(2024, 0, 1) + i * 3_600_000
  }
  return out
}
