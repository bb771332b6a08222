// Issue 18, point 5: epoch times in any unit (s, ms, µs, ns) land on the right dates, times outside
// 1970–2200 are quarantined as bad_time, no partition name can collide or escape, and a 6-row file
// never waits on its own lock. Expected dates are worked out here from the numbers written.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { barsFromRows, importFile, ingestBars, lakeDir, loadBars, parseBarsCsv, periodOf } from '../../lib/data/index.js'
import { ROOT } from '../helpers.js'

const home = () => mkdtempSync(join(tmpdir(), 'mtflow-time-'))
const T0_SECONDS = 1_704_067_200 // 2024-01-01T00:00:00Z
const HOUR_S = 3600

/** Six hourly bars from 2024-01-01T00:00Z, the time column written in the given unit. */
function epochCsv(dir: string, name: string, perSecond: bigint): string {
  const lines = ['time,open,high,low,close,volume']
  for (let i = 0; i < 6; i++) lines.push(`${(BigInt(T0_SECONDS + i * HOUR_S) * perSecond).toString()},1,2,0.5,1.5,10`)
  const file = join(dir, name)
  writeFileSync(file, `${lines.join('\n')}\n`)
  return file
}

/** The CLI as a real process, killed after `limitMs` (the bug made it wait 120 s on its own lock). */
function cli(args: string[], env: NodeJS.ProcessEnv, limitMs: number): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'lib', 'cli', 'bin.cjs'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
  })
}

const expectedTimes = Array.from({ length: 6 }, (_, i) => Date.UTC(2024, 0, 1, i))

describe('lake times', () => {
  it('reads epoch seconds, milliseconds, microseconds and nanoseconds as the same six hours of 2024-01-01', async () => {
    for (const [unit, perSecond] of [['s', 1n], ['ms', 1000n], ['us', 1_000_000n], ['ns', 1_000_000_000n]] as const) {
      const h = home()
      const report = await importFile(h, epochCsv(h, `${unit}.csv`, perSecond), { symbol: 'EPOCH', timeframe: '1h' })
      expect(report, unit).toMatchObject({ input: 6, accepted: 6, added: 6, quarantined: {}, partitions: ['2024-01'] })
      const bars = await loadBars(h, { symbol: 'EPOCH', timeframe: '1h' })
      expect(Array.from(bars.time), unit).toEqual(expectedTimes)
    }
  })

  it('imports the 6-row microsecond file through the CLI in seconds, not after waiting on its own lock', async () => {
    const h = home()
    const result = await cli(['import', epochCsv(h, 'us.csv', 1_000_000n), '--symbol', 'US', '--timeframe', '1h', '--json'], { MTFLOW_HOME: h }, 30_000)
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ input: 6, added: 6, partitions: ['2024-01'] })
    expect(result.ms).toBeLessThan(20_000)
  })

  it('quarantines times before 1970 or after 2200 as bad_time and makes no partition for them', async () => {
    const h = home()
    const file = join(h, 'range.csv')
    // Epoch ms (the median decides the unit): 1969-12-31, 2024-01-01 ×3, 2201-01-01, year 2250.
    const ms = [-86_400_000, Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3), Date.UTC(2201, 0, 1), Date.UTC(2250, 5, 1)]
    writeFileSync(file, `time,open,high,low,close\n${ms.map((t) => `${t},1,2,0.5,1.5`).join('\n')}\n`)
    const report = await importFile(h, file, { symbol: 'RANGE', timeframe: '1d' })
    expect(report).toMatchObject({ input: 6, accepted: 3, quarantined: { bad_time: 3 }, partitions: ['2024'] })
    // Query bounds outside 1970–2200 are fine: they select from the first or up to the last bar.
    expect((await loadBars(h, { symbol: 'RANGE', timeframe: '1d', start: '1950-01-01', end: '2300-01-01' })).time.length).toBe(3)
    expect((await loadBars(h, { symbol: 'RANGE', timeframe: '1d', end: '1960-01-01' })).time.length).toBe(0)
    const dataset = join(lakeDir(h), 'source=local', 'symbol=RANGE', 'timeframe=1d')
    const periods = readdirSync(dataset, { recursive: true }).map(String).filter((p) => /period=/.test(p) && !p.includes('data.parquet'))
    expect(periods.map((p) => p.replace(/^.*period=/, ''))).toEqual(['2024'])
  })

  it('never names a partition after a 5-digit or negative year (Bars from code are checked too)', async () => {
    const h = home()
    const rows = [
      { time: Date.UTC(2024, 0, 1), open: 1, high: 2, low: 0.5, close: 1.5 },
      { time: 1_704_067_200_000_000, open: 1, high: 2, low: 0.5, close: 1.5 }, // µs taken for ms: year 55969
    ]
    const report = await ingestBars(h, barsFromRows(rows, { symbol: 'FAR', timeframe: '1m' }))
    expect(report).toMatchObject({ accepted: 1, quarantined: { bad_time: 1 }, partitions: ['2024-01'] })
    expect(() => periodOf(1_704_067_200_000_000, '1m')).toThrow(/outside the lake's range/)
    expect(() => periodOf(-1, '1d')).toThrow(/outside the lake's range/)
    expect(periodOf(Date.UTC(2200, 11, 31, 23, 59), '1m')).toBe('2200-12')
    const dataset = join(lakeDir(h), 'source=local', 'symbol=FAR', 'timeframe=1m')
    expect(readdirSync(dataset, { recursive: true }).map(String).some((p) => p.includes('+') || p.includes('period=-'))).toBe(false)
    expect(existsSync(dataset)).toBe(true)
  })

  it('tells the unit apart inside 1970–1973 too: the step between rows is a whole number of bars in one unit only', async () => {
    // Hourly rows; each file's times are written here in one unit and expected back as epoch ms.
    const HOUR = 3_600_000
    const cases: [string, number, number, bigint, bigint][] = [
      // name, first hour (epoch ms), rows, numerator, denominator: the number written is t·num/den
      ['ms1970', Date.UTC(1970, 0, 1), 5000, 1n, 1n], // median 2,500 h = 9.0e9 ms (above 7.29e9: ms, not the year 2255)
      ['ms1970-short', Date.UTC(1970, 0, 1), 2000, 1n, 1n], // median 3.6e9 ms: in range as seconds too; the 3,600,000 step says ms
      ['s1970', Date.UTC(1970, 0, 1), 2000, 1n, 1000n], // the same hours in seconds: step 3,600
      ['ms1971', Date.UTC(1971, 5, 1), 48, 1n, 1n], // 4.5e10 ms, read before as seconds (the year 3400)
      ['s2020', Date.UTC(2020, 0, 1), 48, 1n, 1000n], // 1.58e9 s
      ['us1971', Date.UTC(1971, 5, 1), 48, 1000n, 1n], // 4.5e13 µs, read before as ms
      ['ns1971', Date.UTC(1971, 5, 1), 48, 1_000_000n, 1n], // 4.5e16 ns, read before as µs
      ['us2020', Date.UTC(2020, 0, 1), 48, 1000n, 1n],
      ['ns2020', Date.UTC(2020, 0, 1), 48, 1_000_000n, 1n],
    ]
    for (const [name, first, rows, num, den] of cases) {
      const h = home()
      const file = join(h, `${name}.csv`)
      const expected = Array.from({ length: rows }, (_, i) => first + i * HOUR)
      writeFileSync(file, `time,open,high,low,close,volume\n${expected.map((t) => `${(BigInt(t) * num) / den},1,2,0.5,1.5,10`).join('\n')}\n`)
      const report = await importFile(h, file, { symbol: 'U', timeframe: '1h' })
      expect(report, name).toMatchObject({ input: rows, accepted: rows, added: rows, quarantined: {} })
      expect(Array.from((await loadBars(h, { symbol: 'U', timeframe: '1h' })).time), name).toEqual(expected)
    }
    // Hourly times of 2300 in s, ms and µs (and a 6-row file in seconds): the step says which unit, so
    // they are read as 2300 and quarantined as bad_time — never as valid dates of 1970 in a finer unit.
    const y2300 = Date.UTC(2300, 0, 1)
    for (const [name, rows, num, den] of [['s2300', 48, 1n, 1000n], ['ms2300', 48, 1n, 1n], ['us2300', 48, 1000n, 1n], ['s2300-six', 6, 1n, 1000n]] as [string, number, bigint, bigint][]) {
      const h = home()
      const file = join(h, `${name}.csv`)
      writeFileSync(file, `time,open,high,low,close,volume\n${Array.from({ length: rows }, (_, i) => `${(BigInt(y2300 + i * HOUR) * num) / den},1,2,0.5,1.5,10`).join('\n')}\n`)
      // Read as 2300 (out of range), every row: the import accepts none and is refused, writing nothing.
      await expect(importFile(h, file, { symbol: 'U', timeframe: '1h' }), name).rejects.toThrow(/0 of \d+ rows accepted: column time holds times such as 2300-01-01T00:00:00\.000Z: outside 1970-01-01 … 2200-12-31/)
      expect(existsSync(join(h, 'lake')), name).toBe(false)
    }
    // The CSV reader for notebooks (csv.ts) uses the same rule.
    const text = `time,open,high,low,close,volume\n${[0, 1, 2].map((i) => `${Date.UTC(1971, 5, 1) + i * HOUR},1,2,0.5,1.5,1`).join('\n')}\n`
    expect(Array.from(parseBarsCsv(text, { symbol: 'C', timeframe: '1h' }).time)).toEqual([0, 1, 2].map((i) => Date.UTC(1971, 5, 1) + i * HOUR))
    const late = `time,open,high,low,close,volume\n${[0, 1, 2].map((i) => `${(y2300 + i * HOUR) / 1000},1,2,0.5,1.5,1`).join('\n')}\n`
    expect(() => parseBarsCsv(late, { symbol: 'C', timeframe: '1h' })).toThrow(/is outside 1970-01-01 … 2200-12-31/)
  })
})
