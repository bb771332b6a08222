// The lake through its public calls: import with validation and quarantine (a hand-worked file),
// idempotent re-ingest, loadBars ranges, coverage and gaps, snapshot ids, Bars conversions.

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { barsFromRows, barsHash, fromArrow, fromTable, importFile, ingestBars, listDatasets, loadBars, quarantineSummary, snapshotId, toArrow, toTable } from '../../lib/data/index.js'
import { SAMPLE_CSV, sampleRowsBetween } from '../helpers.js'

const home = () => mkdtempSync(join(tmpdir(), 'mtflow-lake-'))

// 12 rows, each line's fate worked out by hand:
const HAND = [
  'Date,Open,High,Low,Close,Volume',
  '2020-01-01,1,2,0.5,1.5,10', // accepted
  '2020-01-02,1,0.9,0.5,1.5,10', // high 0.9 < max(open 1, close 1.5): high_below_open_close
  '2020-01-03,1,2,0.5,1.5,-1', // negative_volume
  '2020-01-03,1,2,0.5,1.5,-1', // negative_volume
  '2020-01-04,1,2,0.5,1.5,10', // accepted
  '2020-01-04,1,2,0.5,1.5,10', // exact duplicate: dropped
  '2020-01-05,1,2,0.5,1.6,10', // same time, other close: duplicate_conflict
  '2020-01-05,1,2,0.5,1.7,10', // duplicate_conflict
  'nope,1,2,0.5,1.5,10', // bad_time
  '2020-01-06T12:00:00Z,1,2,0.5,1.5,10', // noon is off the 1d grid: off_grid
  '2020-01-07,0,2,0.5,1.5,10', // non_positive_price
  '2020-01-08,abc,2,0.5,1.5,10', // non_finite
  '2020-01-09,1e-320,2,1e-320,1.5,10', // a subnormal open and low: price_out_of_range (an attack review)
  '2020-01-10,1,1e308,0.5,1.5,10', // price_out_of_range
  '2020-01-11,1e-12,1e15,1e-12,1e15,10', // the bounds themselves: accepted
].join('\n')

describe('the lake', () => {
  it('validates every row of an import and quarantines the bad ones with a reason', async () => {
    const h = home()
    const file = join(h, 'hand.csv')
    writeFileSync(file, HAND)
    const report = await importFile(h, file, { symbol: 'TEST', timeframe: '1d' })
    expect(report).toMatchObject({ source: 'local', input: 15, accepted: 3, added: 3, unchanged: 0, duplicates: 1, gaps: 2 })
    expect(report.quarantined).toEqual({
      bad_time: 1,
      duplicate_conflict: 2,
      high_below_open_close: 1,
      negative_volume: 2,
      non_finite: 1,
      non_positive_price: 1,
      off_grid: 1,
      price_out_of_range: 2,
    })
    const bars = await loadBars(h, { symbol: 'TEST', timeframe: '1d' })
    expect(Array.from(bars.time)).toEqual([Date.UTC(2020, 0, 1), Date.UTC(2020, 0, 4), Date.UTC(2020, 0, 11)])
    expect(await quarantineSummary(h)).toEqual([
      { source: 'local', symbol: 'TEST', timeframe: '1d', rows: 11, files: 1, reasons: report.quarantined },
    ])
    const [info] = await listDatasets(h)
    expect(info).toMatchObject({ rows: 3, first: '2020-01-01', last: '2020-01-11', gaps: 2, missing: 8, largestGap: { from: '2020-01-04', to: '2020-01-11' } })
  })

  it('imports the S&P sample, loads ranges, and re-ingesting leaves identical data (same snapshot id)', async () => {
    const h = home()
    const first = await importFile(h, SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d', source: 'sample' })
    expect(first).toMatchObject({ input: 5105, accepted: 5105, added: 5105, duplicates: 0, quarantined: {} })
    const id = await snapshotId(h, { symbol: 'SPX', timeframe: '1d' })
    // The dataset's first generation (gen=1, named by CURRENT) holds one partition per year, 2000 … 2020.
    const files = readdirSync(join(h, 'lake', 'bars', 'source=sample', 'symbol=SPX', 'timeframe=1d', 'gen=1'))
    expect(files).toHaveLength(21)
    const again = await importFile(h, SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d', source: 'sample' })
    expect(again).toMatchObject({ added: 0, unchanged: 5105, partitions: [] })
    expect(await snapshotId(h, { symbol: 'SPX', timeframe: '1d' })).toBe(id)

    const expected = sampleRowsBetween('2008-09-01', '2008-12-31')
    const slice = await loadBars(h, { symbol: 'SPX', timeframe: '1d', start: '2008-09-01', end: '2008-12-31' })
    expect(slice.time.length).toBe(expected.count)
    expect(slice.close[0]).toBe(expected.firstClose)
    expect(slice.close[slice.close.length - 1]).toBe(expected.lastClose)
    // A window that ends before it starts is refused, as sliceBars refuses it (it read as 0 bars: an audit).
    await expect(loadBars(h, { symbol: 'SPX', timeframe: '1d', start: '2008-12-31', end: '2008-09-01' })).rejects.toThrow('start 2008-12-31 is after end 2008-09-01')
    expect(await snapshotId(h, { symbol: 'SPX', timeframe: '1d', start: '2008-09-01', end: '2008-12-31' })).not.toBe(id)
  })

  it('keeps existing bars over conflicting new ones, quarantining the new', async () => {
    const h = home()
    const id = { symbol: 'BTC/USDT', timeframe: '1h' }
    const t0 = Date.UTC(2024, 0, 1)
    const bar = (i: number, close: number) => ({ time: t0 + i * 3_600_000, open: 100, high: 110, low: 90, close, volume: 1 })
    await ingestBars(h, barsFromRows([bar(0, 100), bar(1, 101)], id), { source: 'binance' })
    const second = await ingestBars(h, barsFromRows([bar(1, 105), bar(2, 102)], id), { source: 'binance' })
    expect(second).toMatchObject({ added: 1, unchanged: 0, quarantined: { conflict_existing: 1 } })
    const bars = await loadBars(h, { ...id, source: 'binance' })
    expect(Array.from(bars.close)).toEqual([100, 101, 102])
    expect(readdirSync(join(h, 'lake', 'bars', 'source=binance'))).toEqual(['symbol=BTC%2FUSDT'])
  })

  it('sorts out-of-order input and names bad input in one line', async () => {
    const h = home()
    writeFileSync(join(h, 'rev.csv'), 'timestamp,open,high,low,close\n1577923200,2,3,1,2\n1577836800,1,2,0.5,1.5\n')
    const report = await importFile(h, join(h, 'rev.csv'), { symbol: 'E', timeframe: '1d' })
    expect(report).toMatchObject({ accepted: 2, quarantined: {} })
    const bars = await loadBars(h, { symbol: 'E', timeframe: '1d' })
    expect(Array.from(bars.time)).toEqual([Date.UTC(2020, 0, 1), Date.UTC(2020, 0, 2)]) // epoch seconds read as seconds
    expect(bars.volume[0]).toBeNaN()
    writeFileSync(join(h, 'cols.csv'), 'a,b\n1,2\n')
    await expect(importFile(h, join(h, 'cols.csv'), { symbol: 'X', timeframe: '1d' })).rejects.toThrow(/no column for date\/time, open, high, low, close \(columns: a, b\)/)
    await expect(importFile(h, join(h, 'missing.csv'), { symbol: 'X', timeframe: '1d' })).rejects.toThrow(/no such file/)
    await expect(importFile(h, join(h, 'rev.csv'), { symbol: 'X', timeframe: '90s' })).rejects.toThrow(/timeframe "90s" is not valid/)
    writeFileSync(join(h, 'header-only.csv'), 'date,open,high,low,close\n')
    await expect(importFile(h, join(h, 'header-only.csv'), { symbol: 'X', timeframe: '1d' })).rejects.toThrow(/has no data rows/)
    expect((await listDatasets(h)).map((d) => d.symbol)).toEqual(['E'])
  })

  it('converts Bars to and from rows, arquero and Arrow without loss', () => {
    const bars = barsFromRows(
      [
        { time: '2020-01-01', open: 1, high: 2, low: 0.5, close: 1.5, volume: 10 },
        { time: Date.UTC(2020, 0, 2), open: 1.5, high: 2, low: 1, close: 2 },
      ],
      { symbol: 'X', timeframe: '1d' },
    )
    const back = fromArrow(toArrow(bars), { symbol: 'X', timeframe: '1d' })
    expect(barsHash(back, 's')).toBe(barsHash(bars, 's'))
    expect(barsHash(fromTable(toTable(bars), { symbol: 'X', timeframe: '1d' }), 's')).toBe(barsHash(bars, 's'))
    expect(toArrow(bars).schema.fields.map((f) => String(f.type))).toEqual(['Timestamp<MILLISECOND, UTC>', 'Float64', 'Float64', 'Float64', 'Float64', 'Float64'])
    expect(() => barsFromRows([{ time: 2, open: 1, high: 1, low: 1, close: 1 }, { time: 1, open: 1, high: 1, low: 1, close: 1 }], { symbol: 'X', timeframe: '1d' })).toThrow(/strictly increase/)
  })
})

describe('file import formats', () => {
  it('reads Parquet, epoch milliseconds and ISO times with offsets the same as CSV', async () => {
    const h = home()
    const { duckdb } = await import('../../lib/data/duckdb.js')
    const conn = await duckdb()
    const pq = join(h, 'bars.parquet')
    // 2020-01-01 and 2020-01-02 UTC midnight as epoch ms, columns in another order and case
    await conn.run(`COPY (SELECT * FROM (VALUES (1577836800000, 1.0, 2.0, 0.5, 1.5, 10.0), (1577923200000, 1.5, 2.5, 1.0, 2.0, 20.0))
      AS v("TimeStamp", "OPEN", "High", "low", "Close", "Volume")) TO '${pq}' (FORMAT parquet)`)
    const report = await importFile(h, pq, { symbol: 'PQ', timeframe: '1d' })
    expect(report).toMatchObject({ input: 2, accepted: 2, quarantined: {} })
    const bars = await loadBars(h, { symbol: 'PQ', timeframe: '1d' })
    expect(Array.from(bars.time)).toEqual([Date.UTC(2020, 0, 1), Date.UTC(2020, 0, 2)])
    expect(Array.from(bars.close)).toEqual([1.5, 2])
    // The same instants written with a +02:00 offset
    writeFileSync(join(h, 'offset.csv'), 'datetime,open,high,low,close,volume\n2020-01-01T02:00:00+02:00,1,2,0.5,1.5,10\n2020-01-02T02:00:00+02:00,1.5,2.5,1,2,20\n')
    expect(await importFile(h, join(h, 'offset.csv'), { symbol: 'PQ', timeframe: '1d' })).toMatchObject({ added: 0, unchanged: 2 })
  })

  it('quarantines a value that does not fit the sniffed type far past the sniffer sample, keeping the date format', async () => {
    const h = home()
    // 5,000 days as DD/MM/YYYY with integer volumes, then row 4,001 has "n/a" as close and row 4,002 a
    // fractional volume: neither fits what the first 2,048 rows suggested (DOUBLE close, BIGINT volume).
    const day = (i: number) => new Date(Date.UTC(2000, 0, 1) + i * 86_400_000)
    const ddmmyyyy = (d: Date) => `${String(d.getUTCDate()).padStart(2, '0')}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${d.getUTCFullYear()}`
    const lines = Array.from({ length: 5000 }, (_, i) => `${ddmmyyyy(day(i))},1,2,0.5,${i === 4000 ? 'n/a' : '1.5'},${i === 4001 ? '10.5' : '10'}`)
    writeFileSync(join(h, 'late.csv'), ['Date,Open,High,Low,Close,Volume', ...lines].join('\n'))
    const report = await importFile(h, join(h, 'late.csv'), { symbol: 'LATE', timeframe: '1d' })
    expect(report).toMatchObject({ input: 5000, accepted: 4999, quarantined: { non_finite: 1 } })
    const bars = await loadBars(h, { symbol: 'LATE', timeframe: '1d' })
    expect(bars.time[0]).toBe(Date.UTC(2000, 0, 1))
    expect(bars.time[4000]).toBe(day(4001).getTime()) // day 4000 quarantined
    expect(bars.volume[4000]).toBe(10.5)
    expect(bars.time[4998]).toBe(day(4999).getTime())
  })

  it('an import that fails leaves what the lake held unchanged', async () => {
    const h = home()
    await importFile(h, SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
    const before = await snapshotId(h, { symbol: 'SPX', timeframe: '1d' })
    // 30,000 good new rows, then a line with too many fields far past the sniffer's sample: the whole
    // file is refused and nothing of it lands.
    const good = Array.from({ length: 30_000 }, (_, i) => `${new Date(Date.UTC(2021, 0, 1) + i * 86_400_000).toISOString().slice(0, 10)},1,2,0.5,1.5,10`)
    writeFileSync(join(h, 'broken.csv'), ['date,open,high,low,close,volume', ...good, '2103-02-01,1,2,0.5,1.5,10,extra,fields'].join('\n'))
    await expect(importFile(h, join(h, 'broken.csv'), { symbol: 'SPX', timeframe: '1d' })).rejects.toThrow(/cannot read .*broken\.csv/)
    expect(await snapshotId(h, { symbol: 'SPX', timeframe: '1d' })).toBe(before)
    expect((await listDatasets(h))[0]!.last).toBe('2020-04-17')
  })
})

describe('gaps', () => {
  it('in daily weekday data, counts missing weekdays only (checked day by day on the raw dates)', async () => {
    const h = home()
    await importFile(h, SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
    const dates = readFileSync(SAMPLE_CSV, 'utf8').trim().split('\n').slice(1).map((l) => Date.parse(`${l.slice(0, 10)}T00:00:00Z`))
    let gaps = 0
    let missing = 0
    for (let i = 1; i < dates.length; i++) {
      let absent = 0
      for (let d = dates[i - 1]! + 86_400_000; d < dates[i]!; d += 86_400_000) {
        const dow = new Date(d).getUTCDay()
        if (dow !== 0 && dow !== 6) absent++
      }
      if (absent > 0) gaps++
      missing += absent
    }
    const [info] = await listDatasets(h)
    expect({ gaps: info!.gaps, missing: info!.missing }).toEqual({ gaps, missing })
    expect(info!.largestGap).toEqual({ from: '2001-09-10', to: '2001-09-17' }) // markets closed after 9/11
  })
})
