// Bars as the series a job reads (lib/exec's SharedSeries), and back: the same arrays, not copies.

import type { Bars } from '../data/index.js'
import type { SharedSeries } from '../exec/types.js'

/** A series of a job as Bars (its columns are the bars' columns, shared, not copied). */
export function barsOf(series: SharedSeries): Bars {
  const c = series.columns
  return { symbol: String(series.meta.symbol), timeframe: String(series.meta.timeframe), time: c.time!, open: c.open!, high: c.high!, low: c.low!, close: c.close!, volume: c.volume! } as Bars
}

/** Bars as a series a job reads. */
export function seriesOf(bars: Bars): SharedSeries {
  return { meta: { symbol: bars.symbol, timeframe: bars.timeframe }, columns: { time: bars.time, open: bars.open, high: bars.high, low: bars.low, close: bars.close, volume: bars.volume } }
}

