// Issue 24, point 1, through the real CLI: times without an offset are UTC whatever TZ says, numeric
// day/month dates are refused unless --date-format gives their order, the CSV dialect is sniffed or
// given, and a bad import exits 2 with one line and writes nothing. Expected times are worked out by
// hand (2010-01-04 is 14,613 days after 1970-01-01; 2022-03-01 is 19,052).

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseBarsCsv } from '../../lib/data/csv.js'
import { runCli, runCliBatch } from '../helpers.js'

const DAY = 86_400_000
const home = () => mkdtempSync(join(tmpdir(), 'mtflow-dates-'))
const NEW_YORK = { TZ: 'America/New_York' }
const write = (dir: string, name: string, text: string) => {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}
const oneLine = (stderr: string) => stderr.trim().split('\n')

describe('dates and CSV files on the command line', () => {
  it('reads times without an offset as UTC under TZ=America/New_York (import and --start)', async () => {
    const h = home()
    // Hourly bars 2010-01-03T20:00 … 2010-01-04T03:00, written without an offset.
    const rows = Array.from({ length: 8 }, (_, i) => {
      const t = new Date((14_612 * 24 + 20 + i) * 3_600_000).toISOString().slice(0, 16)
      return `${t},1,2,0.5,1.5,10`
    })
    expect(rows[4]!.startsWith('2010-01-04T00:00,')).toBe(true)
    const file = write(h, 'hourly.csv', `datetime,open,high,low,close,volume\n${rows.join('\n')}\n`)
    const env = { ...NEW_YORK, MTFLOW_HOME: h }
    const imported = await runCli(['import', file, '--symbol', 'NY', '--timeframe', '1h', '--json'], { env })
    expect(imported.code, imported.stderr).toBe(0)
    const listed = await runCli(['data', 'list', '--json'], { env })
    expect(JSON.parse(listed.stdout)[0]).toMatchObject({ symbol: 'NY', first: '2010-01-03T20:00:00Z' })
    const out = join(h, 'rsi.csv')
    const computed = await runCli(['indicators', 'compute', '--symbol', 'NY', '--timeframe', '1h', '--start', '2010-01-04T00:00', '--set', 'rsi:period=2', '--out', out, '--json'], { env })
    expect(computed.code, computed.stderr).toBe(0)
    // The bug started at 05:00 UTC (midnight in New York); 4 bars remain from 00:00 UTC.
    expect(JSON.parse(computed.stdout)).toMatchObject({ rows: 4, first: new Date(14_613 * DAY).toISOString() })
    const ambiguous = await runCli(['indicators', 'compute', '--symbol', 'NY', '--timeframe', '1h', '--start', '01/02/2010', '--set', 'rsi:period=2', '--out', out], { env })
    expect(ambiguous.code).toBe(2)
    expect(oneLine(ambiguous.stderr)).toEqual(['mtflow: --start "01/02/2010" is ambiguous (day/month or month/day?); give --date-format DD/MM/YYYY or MM/DD/YYYY, or write dates as ISO 8601 (YYYY-MM-DD)'])
  })

  it('reads YYYYMMDD files and --start 20220220 as dates, and refuses --start 2022 (review 24, findings 1 and 4)', async () => {
    const h = home()
    // 60 daily bars from 2022-01-01 (18,993 days) written as ISO 8601 basic dates: 20220101 … 20220301.
    const rows = Array.from({ length: 60 }, (_, i) => `${new Date((18_993 + i) * DAY).toISOString().slice(0, 10).replace(/-/g, '')},${100 + i},${102 + i},${99 + i},${101 + i},10`)
    expect(rows[59]!.startsWith('20220301,')).toBe(true)
    const text = `date,open,high,low,close,volume\n${rows.join('\n')}\n`
    // In-process reader: bars of 2022, not of 1970-08-23 (20,220,101 s).
    const bars = parseBarsCsv(text, { symbol: 'B', timeframe: '1d' })
    expect([bars.time[0], bars.time[59]]).toEqual([18_993 * DAY, 19_052 * DAY])
    const file = write(h, 'basic.csv', text)
    const env = { ...NEW_YORK, MTFLOW_HOME: h }
    const imported = await runCli(['import', file, '--symbol', 'B', '--timeframe', '1d', '--json'], { env })
    expect(imported.code, imported.stderr).toBe(0)
    expect(JSON.parse(imported.stdout)).toMatchObject({ input: 60, accepted: 60, partitions: ['2022'] })
    const listed = JSON.parse((await runCli(['data', 'list', '--json'], { env })).stdout)
    expect(listed[0]).toMatchObject({ symbol: 'B', first: '2022-01-01', last: '2022-03-01', rows: 60 })
    const run = await runCli(['backtest', '--strategy', 'sma-cross', '--symbol', 'B', '--start', '20220220', '--json'], { env })
    expect(run.code, run.stderr).toBe(0)
    // 2022-02-20 = 18,993 + 31 + 19 = 19,043 days: 10 bars through 2022-03-01 (before: all 60, from 1970).
    expect(JSON.parse(run.stdout)).toMatchObject({ start: new Date(19_043 * DAY).toISOString(), bars: 10 })
    const year = await runCli(['backtest', '--strategy', 'sma-cross', '--symbol', 'B', '--start', '2022', '--json'], { env })
    expect(year.code).toBe(2)
    expect(oneLine(year.stderr)).toEqual(['mtflow: --start "2022" is not a date/time; write 2022-01-01, or an epoch number of 9 or more digits'])
    const badDay = await runCli(['backtest', '--strategy', 'sma-cross', '--symbol', 'B', '--start', '2020-02-30', '--json'], { env })
    expect(badDay.code).toBe(2)
    expect(oneLine(badDay.stderr)).toEqual(['mtflow: --start "2020-02-30" is not an ISO date or time (expected e.g. 2020-01-31 or 2020-01-31T12:00:00Z), nor an epoch number; no offset means UTC'])
  })

  it('imports 01/03/2022 only with --date-format, and reads a semicolon file with decimal commas', async () => {
    const h = home()
    const file = write(h, 'eu.csv', 'Date;Open;High;Low;Close\n01/03/2022;1234,5;1240;1230,25;1235\n02/03/2022;1235;1241;1231;1236,75\n')
    const env = { MTFLOW_HOME: h }
    const refused = await runCli(['import', file, '--symbol', 'EU', '--timeframe', '1d'], { env })
    expect(refused.code).toBe(2)
    expect(oneLine(refused.stderr)).toEqual([`mtflow: ${file} column Date "01/03/2022" is ambiguous (day/month or month/day?); give --date-format DD/MM/YYYY or MM/DD/YYYY, or write dates as ISO 8601 (YYYY-MM-DD)`])
    expect(existsSync(join(h, 'lake'))).toBe(false)
    const noDecimal = await runCli(['import', file, '--symbol', 'EU', '--timeframe', '1d', '--date-format', 'DD/MM/YYYY', '--decimal', '.'], { env })
    expect(noDecimal.code).toBe(2)
    // Row 1 has a comma in open, row 2 only in close: no row reads whole.
    expect(oneLine(noDecimal.stderr)).toEqual([`mtflow: ${file}: 0 of 2 rows accepted: column Open holds "1234,5" — decimal comma? give --decimal ,`])
    expect(existsSync(join(h, 'lake'))).toBe(false)
    const ok = await runCli(['import', file, '--symbol', 'EU', '--timeframe', '1d', '--date-format', 'DD/MM/YYYY', '--delimiter', ';', '--json'], { env })
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ input: 2, accepted: 2, partitions: ['2022'] })
    const listed = JSON.parse((await runCli(['data', 'list', '--json'], { env })).stdout)
    expect(listed[0]).toMatchObject({ first: new Date(19_052 * DAY).toISOString().slice(0, 10), rows: 2 })
    const badFlag = await runCli(['import', file, '--symbol', 'EU', '--timeframe', '1d', '--date-format', 'DD-YYYY'], { env })
    expect(badFlag.code).toBe(2)
    expect(oneLine(badFlag.stderr)).toEqual(['mtflow: --date-format "DD-YYYY" is not known; expected DD/MM/YYYY, MM/DD/YYYY, YYYY/MM/DD, DD/MM/YY or MM/DD/YY'])
  })

  it('refuses 1h data imported as --timeframe 4h with a hint, and hostile files, in one line with exit 2 and nothing written', async () => {
    const h = home()
    const env = { MTFLOW_HOME: h }
    const hourly = write(h, 'hourly.csv', `time,open,high,low,close\n${Array.from({ length: 8 }, (_, i) => `2022-01-01T0${i}:00:00Z,1,2,0.5,1.5`).join('\n')}\n`)
    const hostile = [
      ['long.csv', `date,open,high,low,close\n${'x'.repeat(10_000)},1,2,0.5,1.5\n`],
      ['huge.csv', `date,open,high,low,close\n${'9'.repeat(400)},1,2,0.5,1.5\n`],
      ['nul.csv', 'date,open,high,low,close\n2022-01-01\u0000,1,2,0.5,1.5\n'],
    ] as const
    // One process for the refusals and --help (they are main's, not the process's).
    const [wrong, ...results] = await runCliBatch(
      [['import', hourly, '--symbol', 'H', '--timeframe', '4h'], ...hostile.map(([name, text]) => ['import', write(h, name, text), '--symbol', 'H', '--timeframe', '1d']), { args: ['import', '--help'], env: { MTFLOW_HOME: process.env.MTFLOW_HOME } }],
      { env },
    )
    expect(wrong!.code).toBe(2)
    expect(oneLine(wrong!.stderr)).toEqual([`mtflow: ${hourly}: --timeframe 4h puts 75% of the rows off its grid; most timestamps are 1h apart — looks like 1h (nothing imported)`])
    for (const [i, [name]] of hostile.entries()) {
      const result = results[i]!
      expect(result.code, name).toBe(2)
      expect(oneLine(result.stderr), name).toHaveLength(1)
      expect(result.stderr.length, name).toBeLessThan(400)
    }
    expect(existsSync(join(h, 'lake'))).toBe(false)
    const help = results[hostile.length]!
    for (const flag of ['--delimiter', '--decimal', '--date-format', '--json']) expect(help.stdout).toContain(flag)
  })
})
