// Bars ↔ arquero tables for notebooks (time becomes a Date column).

import type * as aq from 'arquero'
import type { Bars } from './bars.js'
import { arquero } from './packages.js'

export function toTable(bars: Bars): aq.ColumnTable {
  const time = Array.from(bars.time, (t) => new Date(t))
  return arquero().table({
    time,
    open: bars.open,
    high: bars.high,
    low: bars.low,
    close: bars.close,
    volume: bars.volume,
  })
}
