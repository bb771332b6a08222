import { describe, expect, it } from 'vitest'
import { DataError } from '../../lib/core/index.js'
import { barsToRows, parseBarsCsv, readBarsCsv, sliceBars, toEpochMs, toTable } from '../../lib/data/index.js'
import { SAMPLE_CSV, sampleRowsBetween } from '../helpers.js'

const csv = 'Date,Open,High,Low,Close,Volume\n2020-01-02,10,12,9,11,100\n2020-01-03,11,13,10,12.5,200\n2020-01-06,12.5,13,12,12,\n'

describe('bars', () => {
  it('reads OHLCV CSV with any header case; empty cells are NaN', () => {
    const bars = parseBarsCsv(csv, { symbol: 'X', timeframe: '1d' })
    expect(Array.from(bars.time)).toEqual([Date.UTC(2020, 0, 2), Date.UTC(2020, 0, 3), Date.UTC(2020, 0, 6)])
    expect(Array.from(bars.close)).toEqual([11, 12.5, 12])
    expect(bars.volume[2]).toBeNaN()
    expect(barsToRows(bars)[1]).toEqual({ time: Date.UTC(2020, 0, 3), open: 11, high: 13, low: 10, close: 12.5, volume: 200 })
  })

  it('slices by inclusive dates; a bare end date covers its whole day', () => {
    const bars = parseBarsCsv(csv, { symbol: 'X', timeframe: '1d' })
    expect(Array.from(sliceBars(bars, { start: '2020-01-03' }).close)).toEqual([12.5, 12])
    expect(Array.from(sliceBars(bars, { end: '2020-01-03' }).close)).toEqual([11, 12.5])
    expect(Array.from(sliceBars(bars, { start: '2020-01-04', end: '2020-01-05' }).close)).toEqual([])
    expect(() => sliceBars(bars, { start: '2020-02-01', end: '2020-01-01' })).toThrow(DataError)
    expect(toEpochMs('2020-01-03', 'end', true)).toBe(Date.UTC(2020, 0, 4) - 1)
    expect(() => toEpochMs('yesterday', 'start')).toThrow('start "yesterday" is not an ISO date or time (expected e.g. 2020-01-31 or 2020-01-31T12:00:00Z)')
  })

  it('rejects bad rows with the line number', () => {
    expect(() => parseBarsCsv('date,open,high,low,close,volume\n2020-01-02,1,1,1,abc,1\n', { symbol: 'X', timeframe: '1d', label: 'f.csv' })).toThrow(
      'f.csv line 2: close "abc" is not a number',
    )
    expect(() => parseBarsCsv('date,open,high,low,close,volume\n2020-01-03,1,1,1,1,1\n2020-01-02,1,1,1,1,1\n', { symbol: 'X', timeframe: '1d' })).toThrow(/time must strictly increase/)
    expect(() => parseBarsCsv('when,open,high,low,close,volume\n', { symbol: 'X', timeframe: '1d', label: 'f.csv' })).toThrow('f.csv: no column for date/time (columns: when, open, high, low, close, volume); expected columns date/time/timestamp/datetime, open, high, low, close and optionally volume')
  })

  it('loads the bundled S&P 500 sample consistently with its raw text', () => {
    const bars = readBarsCsv(SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
    const all = sampleRowsBetween('0000', '9999')
    expect(bars.time.length).toBe(all.count)
    expect(bars.close[0]).toBe(all.firstClose)
    expect(bars.close[bars.close.length - 1]).toBe(all.lastClose)
    const table = toTable(sliceBars(bars, { start: '2020-04-16' }))
    expect(table.numRows()).toBe(2)
    expect(table.get('time', 0)).toEqual(new Date('2020-04-16T00:00:00Z'))
  })
})
