// Bars ↔ arquero tables for notebooks (time becomes a Date column).

import * as aq from 'arquero'
import type { Bars } from './bars.js'

export function toTable(bars: Bars): aq.ColumnTable {
  const time = Array.from(bars.time, (t) => new Date(t))
  return aq.table({
    time,
    open: bars.open,
    high: bars.high,
    low: bars.low,
    close: bars.close,
    volume: bars.volume,
  })
}
