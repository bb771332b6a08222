// Issue 24, point 3: a Parquet time column of integers such as 20220103 (pandas' to_parquet of an int
// date column) holds ISO 8601 basic dates, read as UTC midnights by the CSV reader's rule — not epoch
// seconds of 1970-08-23 — and a refused import leaves the lake as it was. Expected times are worked
// out by hand: 2022-01-01 is 18,993 days after 1970-01-01, so 2022-01-03 is 18,995.

import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importFile, loadBars, parseBarsCsv } from '../../lib/data/index.js'
import { duckdb, sqlString } from '../../lib/data/duckdb.js'
import { runCli } from '../helpers.js'

const DAY = 86_400_000
const JAN_3 = 18_995 * DAY
const home = () => mkdtempSync(join(tmpdir(), 'mtflow-pqdates-'))

/** A Parquet file of n daily bars from 2022-01-03 whose time column `date` is `time` (SQL over `d`, a DATE) cast to `type`. */
async function writeBars(dir: string, name: string, n: number, type: string, time = "strftime(d, '%Y%m%d')"): Promise<string> {
  const file = join(dir, name)
  const conn = await duckdb()
  await conn.run(`COPY (SELECT (${time})::${type} AS date, 100.0 + range AS open, 102.0 + range AS high, 99.0 + range AS low, 101.0 + range AS close, 10.0 AS volume
      FROM (SELECT range, DATE '2022-01-03' + range::INTEGER AS d FROM range(${n}))) TO ${sqlString(file)} (FORMAT parquet)`)
  return file
}

/** Every file under `dir` with a hash of its bytes: what a refused import must leave unchanged. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      const p = join(d, entry)
      if (statSync(p).isDirectory()) walk(p)
      else out[p] = createHash('sha256').update(readFileSync(p)).digest('hex')
    }
  }
  walk(dir)
  return out
}

describe('importing a Parquet file whose time column holds YYYYMMDD integers', () => {
  it('reads INTEGER and BIGINT 20220103 … as UTC midnights of those days, across month ends, as the CSV reader does', async () => {
    for (const type of ['INTEGER', 'BIGINT']) {
      const h = home()
      // 40 days: 2022-01-03 … 2022-02-11, so the integers jump at the month end (20220131 → 20220201).
      const file = await writeBars(h, `days-${type}.parquet`, 40, type)
      const report = await importFile(h, file, { symbol: 'D', timeframe: '1d' })
      expect(report, type).toMatchObject({ input: 40, accepted: 40, quarantined: {} })
      const bars = await loadBars(h, { symbol: 'D', timeframe: '1d' })
      expect(bars.time.length, type).toBe(40)
      expect([bars.time[0], bars.time[28], bars.time[29], bars.time[39]], type).toEqual([JAN_3, JAN_3 + 28 * DAY, JAN_3 + 29 * DAY, JAN_3 + 39 * DAY])
      expect(new Date(bars.time[29]!).toISOString(), type).toBe('2022-02-01T00:00:00.000Z')
      // The CSV reader, on the same values as text, reads the same times.
      const csv = `date,open,high,low,close,volume\n${Array.from({ length: 40 }, (_, i) => `${new Date(JAN_3 + i * DAY).toISOString().slice(0, 10).replace(/-/g, '')},${100 + i},${102 + i},${99 + i},${101 + i},10`).join('\n')}\n`
      expect(Array.from(parseBarsCsv(csv, { symbol: 'D', timeframe: '1d' }).time), type).toEqual(Array.from(bars.time))
    }
  })

  it('still reads an integer column of epoch seconds as epochs', async () => {
    const h = home()
    // 1,641,168,000 s = 18,995 days: 2022-01-03.
    const file = await writeBars(h, 'epoch.parquet', 5, 'BIGINT', 'epoch(d)')
    await importFile(h, file, { symbol: 'E', timeframe: '1d' })
    const bars = await loadBars(h, { symbol: 'E', timeframe: '1d' })
    expect(Array.from(bars.time)).toEqual([0, 1, 2, 3, 4].map((i) => JAN_3 + i * DAY))
  })

  it('refuses YYYYMMDD integers that are no dates (20220230) and leaves the lake as it was', async () => {
    const h = home()
    await importFile(h, await writeBars(h, 'good.parquet', 5, 'INTEGER'), { symbol: 'R', timeframe: '1d' })
    const before = snapshot(join(h, 'lake'))
    expect(Object.keys(before).length).toBeGreaterThan(0)
    // 20220230 … 20220234: shaped as YYYYMMDD (so the column is dates), but no such days.
    const bad = await writeBars(h, 'bad.parquet', 5, 'INTEGER', "20220230 + range")
    await expect(importFile(h, bad, { symbol: 'R', timeframe: '1d' })).rejects.toThrow(/0 of 5 rows accepted/)
    expect(snapshot(join(h, 'lake'))).toEqual(before)
    const bars = await loadBars(h, { symbol: 'R', timeframe: '1d' })
    expect(Array.from(bars.time)).toEqual([0, 1, 2, 3, 4].map((i) => JAN_3 + i * DAY))
  })

  it('mtflow import FILE.parquet puts them in 2022 (one line and exit 2 for the refused one, nothing written)', async () => {
    const h = home()
    const env = { MTFLOW_HOME: h }
    const bad = await writeBars(h, 'bad.parquet', 5, 'INTEGER', "20220230 + range")
    const refused = await runCli(['import', bad, '--symbol', 'P', '--timeframe', '1d'], { env })
    expect(refused.code).toBe(2)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)
    expect(refused.stderr).toContain(bad)
    expect(() => statSync(join(h, 'lake', 'bars'))).toThrow()
    const file = await writeBars(h, 'days.parquet', 10, 'BIGINT')
    const imported = await runCli(['import', file, '--symbol', 'P', '--timeframe', '1d', '--json'], { env })
    expect(imported.code, imported.stderr).toBe(0)
    expect(JSON.parse(imported.stdout)).toMatchObject({ input: 10, accepted: 10, partitions: ['2022'] })
    const listed = JSON.parse((await runCli(['data', 'list', '--json'], { env })).stdout)
    expect(listed[0]).toMatchObject({ symbol: 'P', first: '2022-01-03', last: '2022-01-12', rows: 10 })
  })
})
