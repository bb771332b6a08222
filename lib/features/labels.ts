// Labels: what a model learns to predict. They look FORWARD by definition (a label at t describes
// bars after t) — use them as targets only, never as features; the dataset builder in lib/ml purges
// the bars whose labels overlap a test fold. NaN where the horizon runs past the data.

import { ConfigError } from '../core/index.js'

function horizonOf(h: number): number {
  if (!Number.isInteger(h) || h < 1) throw new ConfigError(`horizon must be an integer ≥ 1 (received ${h})`)
  return h
}

/**
 * 1 when the spread is stretched (|z| ≥ entry) and comes back to |z| ≤ exit within `horizon` bars,
 * 0 when stretched but it does not, NaN when not stretched or the horizon is incomplete.
 */
export function zThreshold(z: ArrayLike<number>, options: { entry?: number; exit?: number; horizon?: number } = {}): Float64Array {
  const entry = options.entry ?? 2
  const exit = options.exit ?? 0.5
  const horizon = horizonOf(options.horizon ?? 20)
  const out = new Float64Array(z.length).fill(NaN)
  for (let t = 0; t + horizon < z.length; t++) {
    const zt = z[t]!
    if (!(Math.abs(zt) >= entry)) continue
    let hit = 0
    for (let k = 1; k <= horizon; k++) {
      if (Math.abs(z[t + k]!) <= exit) {
        hit = 1
        break
      }
    }
    out[t] = hit
  }
  return out
}

/** +1 when |z| is smaller `horizon` bars later (the spread reverted toward its mean), −1 when larger, 0 when equal. */
export function revertDirection(z: ArrayLike<number>, options: { horizon?: number } = {}): Float64Array {
  const horizon = horizonOf(options.horizon ?? 10)
  const out = new Float64Array(z.length).fill(NaN)
  for (let t = 0; t + horizon < z.length; t++) {
    const now = Math.abs(z[t]!)
    const later = Math.abs(z[t + horizon]!)
    out[t] = Number.isNaN(now + later) ? NaN : later < now ? 1 : later > now ? -1 : 0
  }
  return out
}

/** Sign of the return over the next `horizon` bars: +1, −1, or 0. */
export function forwardReturnSign(close: ArrayLike<number>, options: { horizon?: number } = {}): Float64Array {
  const horizon = horizonOf(options.horizon ?? 1)
  const out = new Float64Array(close.length).fill(NaN)
  for (let t = 0; t + horizon < close.length; t++) out[t] = Math.sign(close[t + horizon]! / close[t]! - 1)
  return out
}

export interface TripleBarrier {
  /** +1 profit-take hit first, −1 stop hit first, 0 neither before the time limit. */
  label: Float64Array
  /** Bars until the barrier (or the time limit) was reached. */
  bars: Float64Array
  /** Return from the close at t to the exit price. */
  ret: Float64Array
}

/**
 * Triple-barrier labels (López de Prado): from the close at t, an upper barrier at close·(1 + profit),
 * a lower one at close·(1 − stop) and a time limit of `horizon` bars. Bars' highs and lows decide
 * touches when given (a bar touching both counts as the stop: the conservative reading); otherwise
 * closes. Exits at the barrier price, or at the close of the last bar at the time limit.
 */
export function tripleBarrier(
  bars: { close: ArrayLike<number>; high?: ArrayLike<number>; low?: ArrayLike<number> },
  options: { profit: number; stop: number; horizon: number },
): TripleBarrier {
  const { close } = bars
  const high = bars.high ?? close
  const low = bars.low ?? close
  const horizon = horizonOf(options.horizon)
  if (!(options.profit > 0) || !(options.stop > 0)) throw new ConfigError(`profit and stop must be fractions > 0 (received ${options.profit}, ${options.stop})`)
  const n = close.length
  const label = new Float64Array(n).fill(NaN)
  const held = new Float64Array(n).fill(NaN)
  const ret = new Float64Array(n).fill(NaN)
  for (let t = 0; t + horizon < n; t++) {
    const entry = close[t]!
    // A missing price (the entry, or a bar before a barrier is touched) leaves the outcome unknown: NaN, as
    // forwardReturnSign gives, not a 0 (NaN compares false, so it read as "neither barrier touched").
    if (Number.isNaN(entry)) continue
    const up = entry * (1 + options.profit)
    const down = entry * (1 - options.stop)
    let done = false
    let missing = false
    for (let k = 1; k <= horizon && !done; k++) {
      if (Number.isNaN(low[t + k]!) || Number.isNaN(high[t + k]!)) {
        missing = true
        break
      }
      if (low[t + k]! <= down) {
        label[t] = -1
        held[t] = k
        ret[t] = -options.stop
        done = true
      } else if (high[t + k]! >= up) {
        label[t] = 1
        held[t] = k
        ret[t] = options.profit
        done = true
      }
    }
    if (missing) continue
    if (!done) {
      if (Number.isNaN(close[t + horizon]!)) continue
      label[t] = 0
      held[t] = horizon
      ret[t] = close[t + horizon]! / entry - 1
    }
  }
  return { label, bars: held, ret }
}
