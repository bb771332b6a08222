// Resampling bars to a longer timeframe (OHLCV rules: first open, highest high, lowest low, last close,
// summed volume) with a completeness count per output bar, and the multi-timeframe alignment that
// never shows a higher-timeframe bar before it has closed.

import { ConfigError, timeframeAnchor, timeframeMs } from '../core/index.js'
import type { Bars } from './bars.js'

export interface ResampledBars extends Bars {
  /** Source bars that went into each output bar. */
  count: Float64Array
  /** Source bars a complete output bar holds (target / source timeframe). */
  expected: number
}

/** One pass over the arrays; buckets as floorToTimeframe (epoch-aligned, weeks on Monday). Missing values (NaN) are skipped: open is the first known, close the last known, high/low/volume over the known ones. */
export function resample(bars: Bars, timeframe: string): ResampledBars {
  const from = timeframeMs(bars.timeframe)
  const to = timeframeMs(timeframe)
  if (to < from || to % from !== 0) {
    throw new ConfigError(`cannot resample ${bars.timeframe} to ${timeframe}: the target must be a whole multiple of ${bars.timeframe}`)
  }
  // Each source bar inside one target bar: their grids meet (weeks open on Mondays, the rest at the epoch's
  // midnight). A 7m bar opening Sunday 23:58 held Monday's minutes and went to the week before (an audit).
  if ((timeframeAnchor(timeframe) - timeframeAnchor(bars.timeframe)) % from !== 0) {
    throw new ConfigError(`cannot resample ${bars.timeframe} to ${timeframe}: ${bars.timeframe} bars straddle the start of a ${timeframe} bar (weeks open on Monday 00:00 UTC); resample from a timeframe that divides a day`)
  }
  const n = bars.time.length
  // At most one output bar per bucket the input spans (and never more than n); trimmed at the end.
  const cap = n === 0 ? 0 : Math.min(n, Math.floor((bars.time[n - 1]! - bars.time[0]!) / to) + 2)
  const out = {
    time: new Float64Array(cap),
    open: new Float64Array(cap),
    high: new Float64Array(cap),
    low: new Float64Array(cap),
    close: new Float64Array(cap),
    volume: new Float64Array(cap),
    count: new Float64Array(cap),
  }
  let k = -1
  let bucket = NaN
  // floorToTimeframe(t, timeframe) inlined: the timeframe is parsed once, not once per bar.
  const offset = timeframeAnchor(timeframe)
  for (let i = 0; i < n; i++) {
    const b = Math.floor((bars.time[i]! - offset) / to) * to + offset
    if (b !== bucket) {
      k++
      bucket = b
      out.time[k] = b
      out.open[k] = bars.open[i]!
      out.high[k] = bars.high[i]!
      out.low[k] = bars.low[i]!
      out.volume[k] = bars.volume[i]!
      out.count[k] = 0
    } else {
      // A missing value (NaN) is skipped wherever it falls, as pandas' first/max/min/last/sum skip it: a NaN
      // high in a bucket's first bar made the bucket's high NaN, one later was passed over (an audit).
      const h = bars.high[i]!
      const l = bars.low[i]!
      if (h > out.high[k]! || out.high[k] !== out.high[k]) out.high[k] = h
      if (l < out.low[k]! || out.low[k] !== out.low[k]) out.low[k] = l
      if (out.open[k] !== out.open[k]) out.open[k] = bars.open[i]!
      const v = bars.volume[i]!
      // A missing volume does not erase the known part of the sum.
      if (!Number.isNaN(v)) out.volume[k] = Number.isNaN(out.volume[k]!) ? v : out.volume[k]! + v
    }
    const c = bars.close[i]!
    if (c === c || out.count[k] === 0) out.close[k] = c
    out.count[k]! += 1
  }
  const m = k + 1
  return {
    symbol: bars.symbol,
    timeframe,
    time: out.time.subarray(0, m),
    open: out.open.subarray(0, m),
    high: out.high.subarray(0, m),
    low: out.low.subarray(0, m),
    close: out.close.subarray(0, m),
    volume: out.volume.subarray(0, m),
    count: out.count.subarray(0, m),
    expected: to / from,
  }
}

/**
 * For each bar of `lower`, the index of the latest `higher` bar that had closed by the time the lower
 * bar closed (−1 if none yet). A higher bar opened at H closes at H + its timeframe; it is visible
 * from the lower bar whose close time t + step reaches that. Use it to read higher-timeframe values
 * in a lower-timeframe loop without lookahead.
 */
export function alignClosed(lower: Bars, higher: Bars): Int32Array {
  const lowStep = timeframeMs(lower.timeframe)
  const highStep = timeframeMs(higher.timeframe)
  const index = new Int32Array(lower.time.length)
  let j = -1
  for (let i = 0; i < lower.time.length; i++) {
    const closeTime = lower.time[i]! + lowStep
    while (j + 1 < higher.time.length && higher.time[j + 1]! + highStep <= closeTime) j++
    index[i] = j
  }
  return index
}
