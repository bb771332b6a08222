// `mtflow report` as a process: a tracked backtest run of the bundled sample (metrics equal tearsheet() of the
// backtest's own equity and time, its Sharpe equals lib/stats' on the daily bars and the run's, the benchmark is
// SPX's buy and hold from the raw sample), hand-worked equity.csv and trades.csv inputs, a --benchmark from the
// lake, a hostile symbol escaped in the HTML, and each bad input: exit 2, one line naming it, nothing written.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { loadBars } from '../../lib/data/index.js'
import { tearsheet } from '../../lib/report/index.js'
import { returnsOf, sharpe } from '../../lib/stats/index.js'
import { Tracker } from '../../lib/track/index.js'
import { runCli, runCliBatch, sampleRowsBetween, type CliResult } from '../helpers.js'

const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 1)
const HOSTILE = '<img src=x onerror=alert(1)>'

let home: string
let runId: string
let result: ReturnType<typeof backtest>

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-report-'))
  expect((await runCli(['--home', home, 'data', 'samples', '--json'])).code).toBe(0)
  const r = await runCli(['--home', home, 'backtest', '--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'fast=10', '--param', 'slow=30', '--commission', '0.0005', '--json'])
  expect(r.code, r.stderr).toBe(0)
  runId = JSON.parse(r.stdout).runId
  // The same backtest through the library: the equity and times the tearsheet must be made of.
  const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
  result = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars }, cash: 100_000, sizing: { percent: 1 }, fills: { takerRate: 0.0005 } })
}, 120_000)

const report = (...args: string[]) => runCli(['--home', home, 'report', ...args])

function file(name: string, text: string): string {
  const path = join(home, 'inputs', name)
  mkdirSync(join(home, 'inputs'), { recursive: true })
  writeFileSync(path, text)
  return path
}

/** Sample mean / sample sd × √252 of hand-listed daily returns. */
function handSharpe(r: number[], periodsPerYear = 252): number {
  const m = r.reduce((a, b) => a + b, 0) / r.length
  const sd = Math.sqrt(r.reduce((a, b) => a + (b - m) ** 2, 0) / (r.length - 1))
  return (m / sd) * Math.sqrt(periodsPerYear)
}

describe('mtflow report RUN', () => {
  it("a tracked backtest: JSON metrics are tearsheet() of the backtest's equity, the Sharpe is lib/stats' and the run's, the benchmark SPX's buy and hold; the HTML is written", async () => {
    const out = join(home, 'reports', 'deep', 'run.html')
    const r = await report(runId, '--json', '--out', out)
    expect(r.code, r.stderr).toBe(0)
    const sheet = JSON.parse(r.stdout)
    const expected = tearsheet({ time: result.time, equity: result.equity }, { periodsPerYear: result.periodsPerYear })
    expect(sheet.metrics).toEqual(JSON.parse(JSON.stringify(expected.metrics)))
    expect(sheet.conventions.periodsPerYear).toBeCloseTo(result.periodsPerYear, 9)
    // Daily bars: one equity point per day, so the tearsheet's Sharpe is the per-bar Sharpe of lib/stats.
    expect(sheet.metrics.sharpe).toBeCloseTo(sharpe(returnsOf(result.equity), { periodsPerYear: result.periodsPerYear }), 10)
    expect(sheet.metrics.sharpe).toBeCloseTo(new Tracker(home).getRun(runId).metrics.sharpe!.value, 10)
    // Buy and hold of the traded symbol over the run's window, from the raw sample text.
    const spx = sampleRowsBetween(sheet.start, sheet.end)
    expect(sheet.benchmark).toMatchObject({ name: 'SPX', source: 'buy and hold' })
    expect(sheet.benchmark.totalReturn).toBeCloseTo(spx.lastClose / spx.firstClose - 1, 12)
    expect(sheet.trades.all.trades).toBe(result.metrics.trades!.trades)
    const html = readFileSync(out, 'utf8')
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true)
    expect(html).toContain('sma-cross SPX 1d')
    expect(html).not.toMatch(/<script/i)
  })

  it('without --json prints the headline numbers', async () => {
    const r = await report(runId)
    expect(r.code, r.stderr).toBe(0)
    const expected = tearsheet({ time: result.time, equity: result.equity }, { periodsPerYear: result.periodsPerYear }).metrics
    expect(r.stdout).toContain(`${(expected.totalReturn! * 100).toFixed(2)} %`)
    expect(r.stdout).toMatch(/^benchmark SPX \(buy and hold\)/m)
  })

  it('a --source or --timeframe that selects none of the traded symbol\'s bars: exit 2 naming it (a new-user review: a warning and exit 0)', async () => {
    const [source, timeframe] = await runCliBatch([
      ['--home', home, 'report', runId, '--source', 'bogus'],
      ['--home', home, 'report', runId, '--timeframe', '1h'],
    ])
    expect(source!.code).toBe(2)
    expect(source!.stderr.trim().split('\n')).toHaveLength(1)
    expect(source!.stderr).toMatch(/^mtflow: --source bogus: /)
    expect(timeframe!.code).toBe(2)
    expect(timeframe!.stderr).toMatch(/^mtflow: --timeframe 1h: /)
  })
})

describe('mtflow report FILE.csv', () => {
  it('equity.csv with epoch-ms times: the hand-worked return, drawdown and Sharpe; --benchmark SPX is the sample over the same window', async () => {
    // 2010-01-04 … 2010-01-07 are sample trading days; equity 100 → 110 → 99 → 120.
    const t = [Date.UTC(2010, 0, 4), Date.UTC(2010, 0, 5), Date.UTC(2010, 0, 6), Date.UTC(2010, 0, 7)]
    const path = file('equity.csv', `time,equity\n${t[0]},100\n${t[1]},110\n${t[2]},99\n${t[3]},120\n`)
    const r = await report(path, '--json', '--benchmark', 'SPX')
    expect(r.code, r.stderr).toBe(0)
    const sheet = JSON.parse(r.stdout)
    expect(sheet.metrics.totalReturn).toBeCloseTo(0.2, 12)
    expect(sheet.metrics.maxDrawdown).toBeCloseTo(0.1, 12)
    expect(sheet.metrics.bestDay).toBeCloseTo(120 / 99 - 1, 12)
    expect(sheet.metrics.worstDay).toBeCloseTo(-0.1, 12)
    // Annualised as the curve's days with a point a year, as a run's report does: 3 returns over 3 days, 365.25
    // (a fixed 252 gave a CSV a Sharpe other than its run's).
    expect(sheet.conventions.periodsPerYear).toBe(365.25)
    expect(sheet.metrics.sharpe).toBeCloseTo(handSharpe([0.1, -0.1, 120 / 99 - 1], 365.25), 10)
    const spx = sampleRowsBetween('2010-01-04', '2010-01-07')
    expect(sheet.benchmark).toMatchObject({ name: 'SPX', source: 'given', pairs: 3 })
    expect(sheet.benchmark.totalReturn).toBeCloseTo(spx.lastClose / spx.firstClose - 1, 12)
  })

  it('equity.csv with ISO times and --periods-per-year 365', async () => {
    const path = file('equity-iso.csv', 'time,equity,exposure\n2024-01-01T00:00:00.000Z,100,0\n2024-01-02,101,0\n2024-01-03T00:00:00Z,99.99,0\n')
    const r = await report(path, '--json', '--periods-per-year', '365')
    expect(r.code, r.stderr).toBe(0)
    const sheet = JSON.parse(r.stdout)
    expect(sheet.start).toBe('2024-01-01')
    expect(sheet.end).toBe('2024-01-03')
    expect(sheet.metrics.totalReturn).toBeCloseTo(-0.0001, 12)
    expect(sheet.metrics.volatility).toBeCloseTo(Math.abs(0.01 - -0.01) / Math.SQRT2 * Math.sqrt(365), 10)
  })

  it('trades.csv alone: the equity is --cash plus the running P&L at each exit; a hostile symbol is escaped in the HTML', async () => {
    const iso = (d: number) => new Date(T0 + d * DAY).toISOString()
    const header = 'strategy,symbol,direction,entryTime,entryPrice,exitTime,exitPrice,qty,fees,pnl,returnPct,mae,mfe,barsHeld,entryOrderId,tag,open'
    const row = (entry: number, exit: number, pnl: number, tag: string) => `s,"${HOSTILE}",long,${iso(entry)},10,${iso(exit)},11,1,0,${pnl},0.1,0,0,1,1,"${tag}",false`
    const path = file('trades.csv', [header, row(0, 1, 100, 'a,b'), row(1, 2, -50, 'x'), row(3, 4, 30, 'x'), `s,"${HOSTILE}",long,${iso(4)},10,${iso(5)},10,1,0,999,0,0,0,1,1,x,true`].join('\n'))
    const out = join(home, 'reports', 'trades.html')
    const r = await report(path, '--cash', '1000', '--json', '--out', out)
    expect(r.code, r.stderr).toBe(0)
    const sheet = JSON.parse(r.stdout)
    // 1000 at the first entry, then 1100, 1050 and 1080 (the open trade is left out).
    expect(sheet.metrics.totalReturn).toBeCloseTo(0.08, 12)
    expect(sheet.metrics.maxDrawdown).toBeCloseTo(50 / 1100, 12)
    expect(sheet.trades.all).toMatchObject({ trades: 3, wins: 2, losses: 1 })
    expect(sheet.trades.open).toBe(1)
    expect(sheet.trades.byTag.map((g: { key: string }) => g.key)).toEqual(['a,b', 'x'])
    expect(r.stderr).toMatch(/no price chart or buy-and-hold benchmark/)
    const html = readFileSync(out, 'utf8')
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(html).not.toContain(HOSTILE)
  })
})

describe('bad input: exit 2, one line naming it, nothing written', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['an unknown run', () => ['nosuchrun42'], /unknown run "nosuchrun42"/],
    ['a run without an equity curve (a sweep parent)', () => {
      const run = new Tracker(home).startRun({ experiment: 'sweeps', name: 'grid', tags: { 'mtflow.kind': 'sweep' } })
      run.logArtifact({ name: 'sweep.csv', data: 'fast,sharpe\n10,1\n' })
      run.end()
      return [run.id]
    }, /run \w+ \(sweep\) has no equity curve/],
    ['a CSV without the needed columns', () => [file('other.csv', 'a,b\n1,2\n')], /other\.csv has neither an equity column .* nor a pnl column/],
    ['an equity.csv without a time column', () => [file('no-time.csv', 'equity\n1\n2\n')], /no-time\.csv has no time column; expected columns time,equity/],
    ['a trades.csv without exitTime', () => [file('bad-trades.csv', 'symbol,entryTime,pnl\nX,2024-01-01,1\n')], /bad-trades\.csv has no exitTime column/],
    ['an empty file', () => [file('empty.csv', '')], /empty\.csv is empty/],
    ['a time that is not one', () => [file('bad-time.csv', 'time,equity\n2024-01-01,100\nyesterday,101\n')], /bad-time\.csv line 3 time: "yesterday" is not a time/],
    ['day/month dates whose order the values do not tell', () => [file('dmy.csv', 'time,equity\n01/01/2022,100\n02/01/2022,101\n')], /dmy\.csv column time "01\/01\/2022" is ambiguous \(day\/month or month\/day\?\); give --date-format DD\/MM\/YYYY or MM\/DD\/YYYY/],
    ['--date-format with a run id', () => [runId, '--date-format', 'DD/MM/YYYY'], /--trades, --cash and --date-format go with a CSV input, not a run id/],
    ['a missing file', () => [join(home, 'nowhere.csv')], /nowhere\.csv: no such file/],
    ['a benchmark not in the lake', () => [runId, '--benchmark', 'NOPE'], /--benchmark NOPE 1d has 0 bar\(s\) in the lake/],
    ['--periods-per-year 0', () => [runId, '--periods-per-year', '0'], /--periods-per-year must be a number of daily returns per year > 0/],
  ]
  // One process for the refusals (they are main's, not the process's): a process each took ~1 s.
  const out = () => join(home, 'bad', 'report.html')
  let results: CliResult[] = []
  beforeAll(async () => {
    results = await runCliBatch(cases.map(([, args]) => ['--home', home, 'report', ...args(), '--out', out()]))
  })
  for (const [i, [what, , message]] of cases.entries()) {
    it(what, () => {
      const r = results[i]!
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(message)
      expect(existsSync(join(home, 'bad'))).toBe(false)
    })
  }

  it('--out naming a directory', async () => {
    mkdirSync(join(home, 'a-dir'), { recursive: true })
    const r = await report(runId, '--out', join(home, 'a-dir'))
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--out .*a-dir is a directory; expected a file path/)
  })
})
