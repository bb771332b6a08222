// Bars ↔ the shapes notebooks and other tools use: arrays of row objects, arquero tables and Arrow
// tables (time as a millisecond timestamp column). Conversions back check the Bars contract.

import type * as aq from 'arquero'
import type { Table } from 'apache-arrow'
import { arrowApi } from './packages.js'
import { DataError } from '../core/index.js'
import { BAR_FIELDS, checkBars, toEpochMs, type Bars } from './bars.js'

export interface BarsIdentity {
  symbol: string
  timeframe: string
}

export interface RowLike {
  time: number | string | Date
  open: number
  high: number
  low: number
  close: number
  volume?: number
}

/** Bars from row objects (time as epoch ms, Date or ISO string); rows must already be in time order. */
export function barsFromRows(rows: readonly RowLike[], id: BarsIdentity): Bars {
  const n = rows.length
  const bars = emptyBars(id, n)
  for (let i = 0; i < n; i++) {
    const r = rows[i]!
    bars.time[i] = toEpochMs(r.time, `row ${i + 1} time`)
    bars.open[i] = r.open
    bars.high[i] = r.high
    bars.low[i] = r.low
    bars.close[i] = r.close
    bars.volume[i] = r.volume ?? NaN
  }
  checkBars(bars)
  return bars
}

export function emptyBars(id: BarsIdentity, n = 0): Bars {
  return {
    symbol: id.symbol,
    timeframe: id.timeframe,
    time: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  }
}

/** An Arrow table: time as Timestamp[ms, UTC], prices and volume as Float64. */
export function toArrow(bars: Bars): Table {
  const { Table, TimestampMillisecond, makeVector, vectorFromArray } = arrowApi()
  return new Table({
    time: vectorFromArray(Array.from(bars.time), new TimestampMillisecond('UTC')),
    open: makeVector(bars.open),
    high: makeVector(bars.high),
    low: makeVector(bars.low),
    close: makeVector(bars.close),
    volume: makeVector(bars.volume),
  })
}

/** Bars from an Arrow table with time (timestamp or epoch-ms number) and OHLCV columns. */
export function fromArrow(table: Table, id: BarsIdentity): Bars {
  const bars = emptyBars(id, table.numRows)
  for (const field of BAR_FIELDS) {
    const column = table.getChild(field)
    if (column === null) {
      if (field === 'volume') bars.volume.fill(NaN)
      else throw new DataError(`Arrow table has no ${field} column (columns: ${table.schema.fields.map((f) => f.name).join(', ')})`)
      continue
    }
    const target = bars[field]
    for (let i = 0; i < target.length; i++) {
      const v = column.get(i) as unknown
      target[i] = v === null ? NaN : v instanceof Date ? v.getTime() : typeof v === 'bigint' ? Number(v) : (v as number)
    }
  }
  checkBars(bars)
  return bars
}

/** Bars from an arquero table with the same columns (time as Date or epoch ms). */
export function fromTable(table: aq.ColumnTable, id: BarsIdentity): Bars {
  const bars = emptyBars(id, table.numRows())
  for (const field of BAR_FIELDS) {
    if (!table.columnNames().includes(field)) {
      if (field === 'volume') bars.volume.fill(NaN)
      else throw new DataError(`table has no ${field} column (columns: ${table.columnNames().join(', ')})`)
      continue
    }
    const values = table.array(field) as ArrayLike<unknown>
    const target = bars[field]
    for (let i = 0; i < target.length; i++) {
      const v = values[i]
      target[i] = v === null || v === undefined ? NaN : v instanceof Date ? v.getTime() : (v as number)
    }
  }
  checkBars(bars)
  return bars
}

