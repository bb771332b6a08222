// Issue 24, points 1 and 3, through the real CLI: every verb that takes a time flag has --date-format
// (import's values); a numeric day/month date without it, or a value that is no time, is refused in one
// line naming the flag, with exit 2; with it, the date reads as the hand-computed day. The lake holds
// 72 hourly synthetic bars from 2024-01-01T00:00Z (19,723 days after 1970-01-01).

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { runCli, runCliBatch } from '../helpers.js'

const DAY = 86_400_000
const HOUR = 3_600_000
const JAN_1 = 19_723 * DAY
const iso = (ms: number) => new Date(ms).toISOString()
const h = mkdtempSync(join(tmpdir(), 'mtflow-datefmt-'))
const env = { MTFLOW_HOME: h, TZ: 'America/New_York' }
const cli = (args: string[]) => runCli(args, { env })
/** Refusals and help in one CLI process (runCliBatch): the message and the exit code are the point. */
const batch = (calls: string[][]) => runCliBatch(calls, { env })
const lines = (stderr: string) => stderr.trim().split('\n')
const ambiguous = (flag: string, value: string) => `mtflow: ${flag} ${JSON.stringify(value)} is ambiguous (day/month or month/day?); give --date-format DD/MM/YYYY or MM/DD/YYYY, or write dates as ISO 8601 (YYYY-MM-DD)`
const notATime = (flag: string, value: string) => `mtflow: ${flag} ${JSON.stringify(value)} is not an ISO date or time (expected e.g. 2020-01-31 or 2020-01-31T12:00:00Z), nor an epoch number; no offset means UTC`

// One command line per verb that takes a time flag, with the flag under test left to fill in.
const BT = ['--strategy', 'sma-cross', '--symbol', 'SYN-GBM', '--timeframe', '1h', '--param', 'fast=2', '--param', 'slow=5', '--no-track']
const VERBS: { name: string; flag: string; args: string[] }[] = [
  { name: 'backtest', flag: '--start', args: ['backtest', ...BT] },
  { name: 'sweep', flag: '--end', args: ['sweep', ...BT, '--grid', 'fast=2:3:1'] },
  { name: 'automl', flag: '--start', args: ['automl', '--strategies', 'sma-cross', '--symbol', 'SYN-GBM', '--timeframe', '1h'] },
  { name: 'indicators compute', flag: '--end', args: ['indicators', 'compute', '--symbol', 'SYN-GBM', '--timeframe', '1h', '--set', 'rsi:period=2', '--out', join(h, 'x.csv')] },
  { name: 'pairs screen', flag: '--start', args: ['pairs', 'screen', '--symbols', 'SYN-GBM,SYN-GBM2', '--timeframe', '1h'] },
  { name: 'features build', flag: '--start', args: ['features', 'build', '--symbols', 'SYN-GBM', '--timeframe', '1h'] },
  { name: 'pipeline pairs', flag: '--end', args: ['pipeline', 'pairs', '--symbols', 'SYN-GBM,SYN-GBM2', '--timeframe', '1h'] },
  { name: 'deploy', flag: '--start', args: ['deploy', 'sma-cross', '--symbols', 'SYN-GBM', '--timeframe', '1h', '--paper', '--exchange', 'binance'] },
  { name: 'ingest ccxt --since', flag: '--since', args: ['ingest', 'ccxt', '--exchange', 'binance', '--symbols', 'BTC/USDT', '--timeframe', '1h'] },
  { name: 'ingest ccxt --until', flag: '--until', args: ['ingest', 'ccxt', '--exchange', 'binance', '--symbols', 'BTC/USDT', '--timeframe', '1h', '--since', '2024-01-01'] },
  { name: 'data synthetic', flag: '--start', args: ['data', 'synthetic', '--bars', '3', '--timeframe', '1h'] },
]

beforeAll(async () => {
  const made = await cli(['data', 'synthetic', '--bars', '72', '--timeframe', '1h', '--start', '2024-01-01', '--json'])
  expect(made.code, made.stderr).toBe(0)
}, 60_000)

describe('time flags and --date-format on every verb that takes a time', () => {
  it('refuses 01/02/2024 without --date-format, naming the flag and saying --date-format, on every verb', async () => {
    const results = await batch(VERBS.map((verb) => [...verb.args, verb.flag, '01/02/2024']))
    VERBS.forEach((verb, i) => {
      expect(results[i]!.code, verb.name).toBe(2)
      expect(lines(results[i]!.stderr), verb.name).toEqual([ambiguous(verb.flag, '01/02/2024')])
    })
  }, 120_000)

  it("refuses values that are no time ('2022-13-45', '', 'yesterday', '2022') naming the flag, on several verbs", async () => {
    const cases: [string[], string][] = []
    for (const verb of [VERBS[0]!, VERBS[3]!, VERBS[5]!, VERBS[8]!]) {
      for (const value of ['2022-13-45', '', 'yesterday']) cases.push([[...verb.args, verb.flag, value], notATime(verb.flag, value)])
      cases.push([[...verb.args, verb.flag, '2022'], `mtflow: ${verb.flag} "2022" is not a date/time; write 2022-01-01, or an epoch number of 9 or more digits`])
    }
    // The format itself is checked, on a verb with no time given too.
    cases.push([[...VERBS[0]!.args, '--date-format', 'DD-YYYY'], 'mtflow: --date-format "DD-YYYY" is not known; expected DD/MM/YYYY, MM/DD/YYYY, YYYY/MM/DD, DD/MM/YY or MM/DD/YY'])
    cases.push([[...VERBS[0]!.args, '--start', '01/02/2024', '--date-format', 'YYYY/MM/DD'], 'mtflow: --start holds year-last dates ("01/02/2024") but --date-format says YYYY/MM/DD'])
    const results = await batch(cases.map(([args]) => args))
    cases.forEach(([args, message], i) => expect([results[i]!.code, lines(results[i]!.stderr)], args.join(' ')).toEqual([2, [message]]))
  }, 120_000)

  it('backtest reads --start 02/01/2024 --date-format DD/MM/YYYY as 2024-01-02 and an --end date as its whole day', async () => {
    const result = await cli(['backtest', ...BT, '--start', '02/01/2024', '--end', '02/01/2024', '--date-format', 'DD/MM/YYYY', '--json'])
    expect(result.code, result.stderr).toBe(0)
    // 2024-01-02T00:00 … 23:00: the 24 hourly bars of that day (the end covers its day, as an ISO --end does).
    expect(JSON.parse(result.stdout)).toMatchObject({ start: iso(JAN_1 + DAY), end: iso(JAN_1 + DAY + 23 * HOUR), bars: 24 })
    const monthFirst = await cli(['backtest', ...BT, '--start', '01/02/2024 12:00', '--date-format', 'MM/DD/YYYY', '--json'])
    expect(monthFirst.code, monthFirst.stderr).toBe(0)
    // 2024-01-02T12:00 (UTC whatever TZ says) to the last bar, 2024-01-03T23:00: 36 bars.
    expect(JSON.parse(monthFirst.stdout)).toMatchObject({ start: iso(JAN_1 + DAY + 12 * HOUR), bars: 36 })
    // An ISO date needs no format, and is read whatever format is given.
    const isoStart = await cli(['backtest', ...BT, '--start', '2024-01-03', '--date-format', 'DD/MM/YYYY', '--json'])
    expect(isoStart.code, isoStart.stderr).toBe(0)
    expect(JSON.parse(isoStart.stdout)).toMatchObject({ start: iso(JAN_1 + 2 * DAY), bars: 24 })
  }, 60_000)

  it('indicators compute, features build and data synthetic read day/month dates by --date-format; the step records the ISO date', async () => {
    const out = join(h, 'rsi.csv')
    const computed = await cli(['indicators', 'compute', '--symbol', 'SYN-GBM', '--timeframe', '1h', '--set', 'rsi:period=2', '--out', out, '--start', '01/02/2024', '--end', '01/02/2024', '--date-format', 'MM/DD/YYYY', '--json'])
    expect(computed.code, computed.stderr).toBe(0)
    expect(JSON.parse(computed.stdout)).toMatchObject({ rows: 24, first: iso(JAN_1 + DAY), last: iso(JAN_1 + DAY + 23 * HOUR) })
    const features = await cli(['features', 'build', '--symbols', 'SYN-GBM', '--timeframe', '1h', '--window', '5', '--windows', '10', '--start', '3/1/2024', '--date-format', 'MM/DD/YYYY', '--json'])
    expect(features.code, features.stderr).toBe(0)
    const manifest = JSON.parse(features.stdout).manifest
    expect(manifest.params).toMatchObject({ start: '2024-03-01', end: null })
    // 3/1/2024 month-first is March 1st: after the last bar (2024-01-03T23:00), so no rows.
    expect(manifest.tables[0].rows).toBe(0)
    const dayFirst = await cli(['features', 'build', '--symbols', 'SYN-GBM', '--timeframe', '1h', '--window', '5', '--windows', '10', '--start', '3/1/2024', '--date-format', 'DD/MM/YYYY', '--json'])
    expect(dayFirst.code, dayFirst.stderr).toBe(0)
    const m2 = JSON.parse(dayFirst.stdout).manifest
    expect(m2.params).toMatchObject({ start: '2024-01-03' })
    expect([m2.tables[0].rows, m2.tables[0].timeRange]).toEqual([24, [iso(JAN_1 + 2 * DAY), iso(JAN_1 + 2 * DAY + 23 * HOUR)]])
    const h2 = mkdtempSync(join(tmpdir(), 'mtflow-datefmt-syn-'))
    const made = await runCli(['data', 'synthetic', '--bars', '3', '--timeframe', '1d', '--start', '01/02/2024', '--date-format', 'DD/MM/YYYY'], { env: { MTFLOW_HOME: h2 } })
    expect(made.code, made.stderr).toBe(0)
    const listed = JSON.parse((await runCli(['data', 'list', '--json'], { env: { MTFLOW_HOME: h2 } })).stdout)
    expect(listed[0]).toMatchObject({ first: '2024-02-01', last: '2024-02-03', rows: 3 })
  }, 60_000)

  it('lists --date-format in the help of every verb that takes a time', async () => {
    const verbs = [['backtest'], ['sweep'], ['automl'], ['indicators', 'compute'], ['pairs', 'screen'], ['features', 'build'], ['pipeline', 'pairs'], ['deploy'], ['ingest', 'ccxt'], ['data', 'synthetic']]
    const helps = await batch(verbs.map((args) => [...args, '--help']))
    verbs.forEach((args, i) => expect(helps[i]!.stdout, args.join(' ')).toContain('--date-format <format>'))
  }, 60_000)
})
