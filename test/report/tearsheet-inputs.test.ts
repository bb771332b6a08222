// Reading a tearsheet's inputs (lib/report/tearsheet-inputs.ts), shared by `mtflow report` and the server's
// /runs/:id/tearsheet: a run's artifacts, its symbol, source and annualisation; a deployment that has not
// traded (an empty trades.csv) is no trades, not an error; bad rows name the artifact and line.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DataError, NotFoundError } from '../../lib/core/index.js'
import { equityOfTrades, loadRunTearsheet, readEquityCsv, readTradesCsv, tearsheet } from '../../lib/report/index.js'
import { Tracker } from '../../lib/track/index.js'

const home = mkdtempSync(join(tmpdir(), 'mtflow-tearsheet-inputs-'))
afterAll(() => rmSync(home, { recursive: true, force: true }))
const tracker = new Tracker(home)
const EQUITY = 'time,equity\n2024-01-01T00:00:00.000Z,100\n2024-01-02T00:00:00.000Z,105\n2024-01-03T00:00:00.000Z,103\n'

function run(artifacts: Record<string, string>, params: Record<string, string> = {}): string {
  const r = tracker.startRun({ experiment: 'deployments', name: 'deploy x', params })
  for (const [name, data] of Object.entries(artifacts)) r.logArtifact({ name, data })
  r.end()
  return r.id
}

describe('loadRunTearsheet', () => {
  it('a run\'s equity, trades, symbol, timeframe and annualisation (hourly bars, every day: 365.25 daily returns a year)', () => {
    const id = run({ 'equity.csv': EQUITY, 'trades.csv': 'symbol,entryTime,exitTime,pnl\nBTC/USDT,2024-01-01T00:00:00.000Z,2024-01-02T00:00:00.000Z,5\n', 'results.json': JSON.stringify({ periodsPerYear: 8760 }) }, { symbols: 'BTC/USDT', timeframe: '1h' })
    const parts = loadRunTearsheet(tracker, id)
    expect(Array.from(parts.equity)).toEqual([100, 105, 103])
    expect(Array.from(parts.time)).toEqual([Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3)])
    expect(parts.trades?.pnl).toEqual(Float64Array.from([5]))
    // 3 days with a point, 2 days apart: 2 returns in 2/365.25 of a year.
    expect(parts).toMatchObject({ title: 'deploy x', symbol: 'BTC/USDT', timeframe: '1h', periodsPerYear: 365.25 })
  })

  it('hourly bars of a market open 7 hours on weekdays: the daily returns counted as they are (~261 a year), and the Sharpe on them', () => {
    // 3 weeks, Monday 2024-01-01 to Friday 2024-01-19, 14:00–20:00 UTC: 15 days, 7 points each. Equity moves
    // by +1 % or −0.5 % an hour in a fixed pattern; the results say 1,829 bars a year, as such a backtest does.
    const rows: string[] = ['time,equity']
    let e = 100
    const closes: number[] = []
    for (let d = 0; d < 19; d++) {
      const day = Date.UTC(2024, 0, 1 + d)
      const weekday = new Date(day).getUTCDay()
      if (weekday === 0 || weekday === 6) continue
      for (let h = 14; h <= 20; h++) {
        e *= (d + h) % 3 === 0 ? 0.995 : 1.01
        rows.push(`${new Date(day + h * 3_600_000).toISOString()},${e}`)
      }
      closes.push(e)
    }
    const id = run({ 'equity.csv': `${rows.join('\n')}\n`, 'results.json': JSON.stringify({ periodsPerYear: 1829.6 }) }, { symbols: 'SPY', timeframe: '1h' })
    const parts = loadRunTearsheet(tracker, id)
    // 15 days with a point: 14 daily returns over the 18 days from the first Monday to the last Friday.
    const ppy = (14 * 365.25) / 18
    expect(parts.periodsPerYear).toBeCloseTo(ppy, 12)
    // The Sharpe by hand: the daily returns (close to close; the first against the first point), mean / sample sd × √ppy.
    const first = Number(rows[1]!.split(',')[1])
    const r = closes.map((c, k) => c / (k === 0 ? first : closes[k - 1]!) - 1)
    const mean = r.reduce((a, b) => a + b, 0) / r.length
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1))
    const sheet = tearsheet(parts, { periodsPerYear: parts.periodsPerYear! })
    expect(sheet.metrics.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(ppy), 10)
  })

  it('a deployment that has not traded: an empty trades.csv is no trades; a header alone is zero trades', () => {
    expect(loadRunTearsheet(tracker, run({ 'equity.csv': EQUITY, 'trades.csv': '' })).trades).toBeUndefined()
    expect(loadRunTearsheet(tracker, run({ 'equity.csv': EQUITY, 'trades.csv': 'symbol,entryTime,exitTime,pnl\n' })).trades?.pnl.length).toBe(0)
  })

  it('no equity curve, or a bad row: an error naming the run, the artifact and the line', () => {
    const none = run({ 'trades.csv': '' })
    expect(() => loadRunTearsheet(tracker, none)).toThrow(NotFoundError)
    expect(() => loadRunTearsheet(tracker, none)).toThrow(`run ${none} has no equity curve (no equity.parquet or equity.csv artifact)`)
    const bad = run({ 'equity.csv': 'time,equity\n2024-01-01T00:00:00.000Z,100\n2024-01-02T00:00:00.000Z,-5\n' })
    expect(() => loadRunTearsheet(tracker, bad)).toThrow(DataError)
    expect(() => loadRunTearsheet(tracker, bad)).toThrow(`equity.csv of run ${bad} line 3: equity -5 must be > 0`)
    expect(() => readTradesCsv('symbol,pnl\nX,1\n', 'trades.csv')).toThrow(/^trades\.csv has no entryTime column; expected the columns of a backtest trades\.csv/)
  })
})

describe('times of equity.csv and trades.csv (review 24, finding 2)', () => {
  it('reads times without an offset as UTC whatever TZ says, and epoch seconds as seconds', () => {
    const zone = process.env.TZ
    process.env.TZ = 'America/New_York'
    try {
      // 2024-01-02 is 19,724 days after 1970-01-01: 1,704,153,600 s; 09:30 adds 34,200 s.
      const { time } = readEquityCsv('time,equity\n2024-01-02 09:30,100\n2024-01-02T10:30,101\n', 'equity.csv')
      expect(Array.from(time)).toEqual([1_704_187_800_000, 1_704_191_400_000])
      expect(Array.from(readEquityCsv('time,equity\n1704195000,102\n1704198600,103\n', 'equity.csv').time)).toEqual([1_704_195_000_000, 1_704_198_600_000])
      // One format per column, decided column by column.
      const trades = readTradesCsv('symbol,entryTime,exitTime,pnl\nX,2024-01-02 09:30,1704195000000,5\n', 'trades.csv')
      expect([trades.entryTime[0], trades.exitTime[0]]).toEqual([1_704_187_800_000, 1_704_195_000_000])
      expect(() => readEquityCsv('time,equity\n2024-01-02,100\n1704195000,101\n', 'e.csv')).toThrow('e.csv column time mixes time formats ("2024-01-02" and "1704195000"); expected one format per column')
      expect(() => readEquityCsv('time,equity\n2024-01-02,100\n2024-13-02,101\n', 'e.csv')).toThrow('e.csv line 3 time: "2024-13-02" is not a time of the column\'s format; expected ISO 8601')
    } finally {
      if (zone === undefined) delete process.env.TZ
      else process.env.TZ = zone
    }
  })
})

describe('numeric dates in equity.csv and trades.csv, read as the lake reads them (a new-user check: "01/01/2022" was "not a time")', () => {
  it('refuses day/month dates whose order the values do not tell, reads them given the order, and tells the order from a day past 12', () => {
    const text = 'time,equity\n01/01/2022,100\n02/01/2022,101\n03/01/2022,102\n'
    expect(() => readEquityCsv(text, 'eq.csv')).toThrow('eq.csv column time "01/01/2022" is ambiguous (day/month or month/day?); give --date-format DD/MM/YYYY or MM/DD/YYYY')
    // 2022-01-01 is 18,993 days after 1970-01-01.
    const day = 86_400_000
    expect(Array.from(readEquityCsv(text, 'eq.csv', undefined, { dateFormat: 'DD/MM/YYYY' }).time)).toEqual([18_993, 18_994, 18_995].map((d) => d * day))
    expect(Array.from(readEquityCsv(text, 'eq.csv', undefined, { dateFormat: 'MM/DD/YYYY' }).time)).toEqual([18_993, 18_993 + 31, 18_993 + 59].map((d) => d * day))
    expect(Array.from(readEquityCsv('time,equity\n12/01/2022,100\n13/01/2022,101\n', 'eq.csv').time)).toEqual([18_993 + 11, 18_993 + 12].map((d) => d * day))
    const trades = readTradesCsv('symbol,entryTime,exitTime,pnl\nX,01/02/2022,03/02/2022,5\n', 't.csv', undefined, false, { dateFormat: 'DD/MM/YYYY' })
    expect([trades.entryTime[0], trades.exitTime[0]]).toEqual([(18_993 + 31) * day, (18_993 + 33) * day])
  })
})

describe('an equity curve from trades alone (mtflow report trades.csv; a new-user review found Sharpe 2.24 against 0.28)', () => {
  const D = 86_400_000
  const at = (date: string) => Date.parse(`${date}T00:00:00Z`)

  it('flat between exits, with a point at the close of every weekday: a day without an exit is a return of 0', () => {
    // 2024-01-01 is a Monday. Entries on the 1st and the 8th; exits Wed 3rd (+100) and Wed 10th (−50).
    const trades = readTradesCsv('symbol,entryTime,exitTime,pnl\nX,2024-01-01T14:00:00Z,2024-01-03T15:00:00Z,100\nX,2024-01-08T14:00:00Z,2024-01-10T15:00:00Z,-50\n', 'trades.csv')
    const { time, equity } = equityOfTrades(trades, 10_000, 'trades.csv')
    const close = (date: string) => at(date) + D - 1
    expect(Array.from(time)).toEqual([at('2024-01-01') + 14 * 3_600_000, close('2024-01-01'), close('2024-01-02'), at('2024-01-03') + 15 * 3_600_000, close('2024-01-04'), close('2024-01-05'), close('2024-01-08'), close('2024-01-09'), at('2024-01-10') + 15 * 3_600_000])
    expect(Array.from(equity)).toEqual([10_000, 10_000, 10_000, 10_100, 10_100, 10_100, 10_100, 10_100, 10_050])
  })

  it("its Sharpe and volatility are those of the realised P&L per day, computed here by hand (these trades open and close on weekends too: every day is a point)", () => {
    // 40 trades over ~half a year, a seeded sequence of P&L; each held 3 days, one entered every 4 days.
    const lines = ['symbol,entryTime,exitTime,pnl']
    let seed = 7
    const pnl: number[] = []
    for (let k = 0; k < 40; k++) {
      seed = (seed * 16807) % 2147483647
      const p = Math.round(((seed / 2147483647) * 600 - 250) * 100) / 100
      pnl.push(p)
      const entry = at('2023-01-02') + k * 4 * D + 10 * 3_600_000
      lines.push(`X,${new Date(entry).toISOString()},${new Date(entry + 3 * D).toISOString()},${p}`)
    }
    const trades = readTradesCsv(`${lines.join('\n')}\n`, 'trades.csv')
    const curve = equityOfTrades(trades, 100_000, 'trades.csv')
    const sheet = tearsheet({ ...curve, trades })
    // By hand: the account each day from the first entry's day to the last exit's, then day-over-day returns.
    const first = at('2023-01-02')
    const lastExit = at('2023-01-02') + 39 * 4 * D + 3 * D
    const values: number[] = [100_000]
    let total = 100_000
    for (let day = first; day <= lastExit; day += D) {
      for (let k = 0; k < 40; k++) {
        const exit = at('2023-01-02') + k * 4 * D + 3 * D + 10 * 3_600_000
        if (Math.floor(exit / D) * D === day) total += pnl[k]!
      }
      values.push(total)
    }
    const r = values.slice(1).map((v, i) => v / values[i]! - 1)
    const mean = r.reduce((a, b) => a + b, 0) / r.length
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1))
    expect(sheet.conventions.returns).toBe(r.length)
    expect(sheet.metrics.volatility).toBeCloseTo(sd * Math.sqrt(252), 10)
    expect(sheet.metrics.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(252), 10)
  })

  it('keeps the P&L of a first trade that closes where it opened (a stop on its entry bar): the cash is the start, a millisecond before (an audit)', () => {
    const trades = readTradesCsv('symbol,entryTime,exitTime,pnl,returnPct,direction\nBTC,2024-01-02T00:00:00Z,2024-01-02T00:00:00Z,-5000,-0.05,long\nBTC,2024-01-03T00:00:00Z,2024-01-05T00:00:00Z,1000,0.01,long\nBTC,2024-01-08T00:00:00Z,2024-01-10T00:00:00Z,500,0.005,long\n', 'trades.csv')
    const curve = equityOfTrades(trades, 100_000, 'trades.csv')
    expect(Array.from(curve.time.slice(0, 2))).toEqual([at('2024-01-02') - 1, at('2024-01-02')])
    expect(curve.equity[0]).toBe(100_000)
    expect(curve.equity[1]).toBe(95_000)
    expect(curve.equity[curve.equity.length - 1]).toBe(96_500)
    // By hand: 100,000 → 95,000 → 96,000 → 96,500: −3.5 %, the deepest fall 5 % (it read +1.58 % and 0 %).
    const sheet = tearsheet({ ...curve, trades })
    expect(sheet.metrics.totalReturn).toBeCloseTo(-0.035, 12)
    expect(sheet.metrics.maxDrawdown).toBeCloseTo(0.05, 12)
  })

  it('fills weekdays only for trades that never touch a weekend, every day for those that do (a 24/7 market)', () => {
    const close = (date: string) => at(date) + D - 1
    // Fri 2024-01-05 entry, Sun 2024-01-07 exit (+10), Tue 2024-01-09 entry, Wed 2024-01-10 exit (+5).
    const weekend = readTradesCsv('symbol,entryTime,exitTime,pnl\nBTC,2024-01-05T12:00:00Z,2024-01-07T12:00:00Z,10\nBTC,2024-01-09T12:00:00Z,2024-01-10T12:00:00Z,5\n', 'trades.csv')
    const every = equityOfTrades(weekend, 1000, 'trades.csv')
    expect(Array.from(every.time)).toEqual([at('2024-01-05') + 12 * 3_600_000, close('2024-01-05'), close('2024-01-06'), at('2024-01-07') + 12 * 3_600_000, close('2024-01-08'), close('2024-01-09'), at('2024-01-10') + 12 * 3_600_000])
    expect(Array.from(every.equity)).toEqual([1000, 1000, 1000, 1010, 1010, 1010, 1015])
    // The same trades Friday to Monday: weekdays only.
    const weekdays = readTradesCsv('symbol,entryTime,exitTime,pnl\nX,2024-01-05T12:00:00Z,2024-01-08T12:00:00Z,10\n', 'trades.csv')
    expect(Array.from(equityOfTrades(weekdays, 1000, 'trades.csv').time)).toEqual([at('2024-01-05') + 12 * 3_600_000, close('2024-01-05'), at('2024-01-08') + 12 * 3_600_000])
  })

  it("reads the open column's flags as pandas and spreadsheets write them, and refuses others (an open trade read as closed put its unrealised P&L in the statistics)", () => {
    const rows = ['True', 'TRUE', '1.0', 'true', 'False', '0.0', '', 'false']
    const text = `symbol,entryTime,exitTime,pnl,open\n${rows.map((v, i) => `X,2024-01-0${1 + (i % 8)}T00:00:00Z,2024-01-0${2 + (i % 8)}T00:00:00Z,1,${v}`).join('\n')}\n`
    expect(readTradesCsv(text, 'trades.csv').open).toEqual([true, true, true, true, false, false, false, false])
    expect(() => readTradesCsv('symbol,entryTime,exitTime,pnl,open\nX,2024-01-01,2024-01-02,1,yes\n', 'trades.csv')).toThrow('trades.csv line 2 open is "yes"; expected true or false')
  })
})
