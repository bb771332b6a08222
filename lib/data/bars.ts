// Bars: columnar OHLCV, one Float64Array per field, times (UTC epoch ms) strictly increasing.
// Hot paths work on these arrays; notebooks convert to rows or tables at the edge.

import { DataError, parseTime } from '../core/index.js'

export interface Bars {
  symbol: string
  timeframe: string
  time: Float64Array
  open: Float64Array
  high: Float64Array
  low: Float64Array
  close: Float64Array
  volume: Float64Array
}

export const BAR_FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const
export type BarField = (typeof BAR_FIELDS)[number]

export interface BarRow {
  time: number
  open: number
  high: number
  low: number
  close: number
  volume: number
}

export function barCount(bars: Bars): number {
  return bars.time.length
}

/** Throws DataError unless every column has one length and times strictly increase. */
export function checkBars(bars: Bars): void {
  const n = bars.time.length
  for (const field of BAR_FIELDS) {
    if (bars[field].length !== n) throw new DataError(`bars ${bars.symbol}: column ${field} has ${bars[field].length} values, time has ${n}`)
  }
  for (let i = 1; i < n; i++) {
    if (!(bars.time[i]! > bars.time[i - 1]!)) {
      throw new DataError(`bars ${bars.symbol}: time must strictly increase (row ${i + 1}: ${bars.time[i]} after ${bars.time[i - 1]})`)
    }
  }
}

export interface TimeRange {
  /** Inclusive start: epoch ms, a Date or an ISO date/time string (UTC). */
  start?: number | string | Date
  /** Inclusive end. A date without a time ("2020-12-31") covers that whole day. */
  end?: number | string | Date
}

/** The bars with start ≤ time ≤ end (views on the same buffers, no copy). */
export function sliceBars(bars: Bars, range: TimeRange): Bars {
  const start = range.start === undefined ? -Infinity : toEpochMs(range.start, 'start (--start)')
  const end = range.end === undefined ? Infinity : toEpochMs(range.end, 'end (--end)', true)
  if (start > end) throw new DataError(`start ${String(range.start)} is after end ${String(range.end)}`)
  const from = lowerBound(bars.time, start)
  const to = lowerBound(bars.time, end + (Number.isFinite(end) ? Number.MIN_VALUE : 0), true)
  const pick = (a: Float64Array) => a.subarray(from, to)
  return {
    symbol: bars.symbol,
    timeframe: bars.timeframe,
    time: pick(bars.time),
    open: pick(bars.open),
    high: pick(bars.high),
    low: pick(bars.low),
    close: pick(bars.close),
    volume: pick(bars.volume),
  }
}

/** First index with time ≥ t (or > t when `after`); times ascending. */
export function lowerBound(time: Float64Array, t: number, after = false): number {
  let lo = 0
  let hi = time.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (after ? time[mid]! <= t : time[mid]! < t) lo = mid + 1
    else hi = mid
  }
  return lo
}


/**
 * Epoch ms of a time given as ms, Date or text (parseTime: ISO 8601, no offset = UTC, epoch numbers;
 * day/month forms only when unambiguous or with `dateFormat`); `endOfDay` makes a bare date cover its
 * whole day.
 */
export function toEpochMs(value: number | string | Date, name = 'time', endOfDay = false, dateFormat?: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DataError(`${name} must be a finite epoch-ms number (received ${value})`)
    return value
  }
  if (value instanceof Date) return value.getTime()
  return parseTime(value, { field: name, endOfDay, ...(dateFormat === undefined ? {} : { dateFormat }) })
}

/** Rows as objects (time as epoch ms). Use for small slices: it allocates one object per bar. */
export function barsToRows(bars: Bars): BarRow[] {
  const rows: BarRow[] = new Array(bars.time.length)
  for (let i = 0; i < rows.length; i++) {
    rows[i] = { time: bars.time[i]!, open: bars.open[i]!, high: bars.high[i]!, low: bars.low[i]!, close: bars.close[i]!, volume: bars.volume[i]! }
  }
  return rows
}

/**
 * The closes of several datasets on the times they all share (an inner join on time): for pair
 * statistics, which need aligned series.
 */
export function alignCloses(datasets: Record<string, Bars>): { time: Float64Array; closes: Record<string, Float64Array> } {
  const names = Object.keys(datasets)
  if (names.length === 0) return { time: new Float64Array(0), closes: {} }
  let common = Array.from(datasets[names[0]!]!.time)
  for (const name of names.slice(1)) {
    const other = datasets[name]!.time
    const kept: number[] = []
    let j = 0
    for (const t of common) {
      while (j < other.length && other[j]! < t) j++
      if (j < other.length && other[j] === t) kept.push(t)
    }
    common = kept
  }
  const time = Float64Array.from(common)
  const closes: Record<string, Float64Array> = {}
  for (const name of names) {
    const b = datasets[name]!
    const out = new Float64Array(time.length)
    let j = 0
    for (let i = 0; i < time.length; i++) {
      while (b.time[j]! < time[i]!) j++
      out[i] = b.close[j]!
    }
    closes[name] = out
  }
  return { time, closes }
}
