// Issue 18, point 9: the quarantine is keyed by content. Importing the same flawed file twice (from
// code and through the CLI) adds its bad rows once, and every quarantined row keeps the raw text of
// its fields ("abc" stays "abc"). Fates of the lines below are worked out by hand.

import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importFile, quarantineSummary } from '../../lib/data/index.js'
import { duckdb, sqlString } from '../../lib/data/duckdb.js'
import { runCli } from '../helpers.js'

const home = () => mkdtempSync(join(tmpdir(), 'mtflow-quar-'))

const FLAWED = [
  'Date,Open,High,Low,Close,Volume',
  '2020-01-01,1,2,0.5,1.5,10', // accepted
  '2020-01-02,abc,2,0.5,1.5,10', // non_finite, open kept as "abc"
  '2020-01-03,1,2,0.5,1.5,-1', // negative_volume
  '2020-01-03,1,2,0.5,1.5,-1', // negative_volume again: an identical line is a second row
  'someday,1,2,0.5,1.5,10', // bad_time, time kept as "someday"
  '2020-01-06,1,0.9,0.5,1.5,10', // high_below_open_close
].join('\n')

async function quarantineRows(h: string): Promise<Record<string, unknown>[]> {
  const dir = join(h, 'lake', 'quarantine', 'source=local', 'symbol=FLAW', 'timeframe=1d')
  const files = readdirSync(dir).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f))
  const conn = await duckdb()
  const list = `[${files.map(sqlString).join(', ')}]`
  return (await conn.runAndReadAll(`SELECT reason, raw_time, raw_open, raw_volume FROM read_parquet(${list}, union_by_name = true) ORDER BY reason, raw_time`)).getRowObjects()
}

describe('the quarantine keyed by content', () => {
  it('adds the bad rows of a file once however often it is imported, keeping their raw text', async () => {
    const h = home()
    const file = join(h, 'flawed.csv')
    writeFileSync(file, FLAWED)
    const first = await importFile(h, file, { symbol: 'FLAW', timeframe: '1d' })
    expect(first).toMatchObject({ input: 6, accepted: 1, quarantineAdded: 5, quarantined: { non_finite: 1, negative_volume: 2, bad_time: 1, high_below_open_close: 1 } })
    // The same content under another name: still nothing new.
    const copy = join(h, 'flawed-again.csv')
    copyFileSync(file, copy)
    const second = await importFile(h, copy, { symbol: 'FLAW', timeframe: '1d' })
    expect(second).toMatchObject({ input: 6, added: 0, unchanged: 1, quarantineAdded: 0 })
    expect(second.quarantineFile).toBeUndefined()
    expect(await quarantineSummary(h)).toEqual([
      { source: 'local', symbol: 'FLAW', timeframe: '1d', rows: 5, files: 1, reasons: { bad_time: 1, high_below_open_close: 1, negative_volume: 2, non_finite: 1 } },
    ])
    const rows = await quarantineRows(h)
    // Text that is not a number is kept as written; a field that read as a number keeps its number's text.
    expect(rows).toEqual([
      { reason: 'bad_time', raw_time: 'someday', raw_open: '1.0', raw_volume: '10.0' },
      { reason: 'high_below_open_close', raw_time: '2020-01-06', raw_open: '1.0', raw_volume: '10.0' },
      { reason: 'negative_volume', raw_time: '2020-01-03', raw_open: '1.0', raw_volume: '-1.0' },
      { reason: 'negative_volume', raw_time: '2020-01-03', raw_open: '1.0', raw_volume: '-1.0' },
      { reason: 'non_finite', raw_time: '2020-01-02', raw_open: 'abc', raw_volume: '10.0' },
    ])
  })

  it('shows the time of a row quarantined after it read (a conflicting duplicate) as ISO 8601, and still adds it once (an audit: "1646179200000.0")', async () => {
    const h = home()
    const file = join(h, 'dups.csv')
    writeFileSync(file, 'date,open,high,low,close,volume\n2022-03-02,1,2,0.5,1.5,10\n2022-03-02,1,2,0.5,1.7,10\n2022-03-03,1,2,0.5,1.5,10\n')
    for (const round of [1, 2]) expect((await importFile(h, file, { symbol: 'FLAW', timeframe: '1d' })).quarantineAdded).toBe(round === 1 ? 2 : 0)
    expect(await quarantineRows(h)).toEqual([
      { reason: 'duplicate_conflict', raw_time: '2022-03-02T00:00:00.000Z', raw_open: '1.0', raw_volume: '10.0' },
      { reason: 'duplicate_conflict', raw_time: '2022-03-02T00:00:00.000Z', raw_open: '1.0', raw_volume: '10.0' },
    ])
  })

  it('through the CLI: importing twice leaves data validate counting each bad row once', async () => {
    const h = home()
    const file = join(h, 'flawed.csv')
    writeFileSync(file, FLAWED)
    for (const round of [1, 2]) {
      const r = await runCli(['import', file, '--symbol', 'FLAW', '--timeframe', '1d'], { env: { MTFLOW_HOME: h } })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain(round === 1 ? '5 new to the quarantine' : '0 new to the quarantine')
    }
    const v = await runCli(['data', 'validate', '--json'], { env: { MTFLOW_HOME: h } })
    expect(v.code, v.stderr).toBe(0)
    const { quarantine } = JSON.parse(v.stdout) as { quarantine: { rows: number; reasons: Record<string, number> }[] }
    expect(quarantine).toHaveLength(1)
    expect(quarantine[0]).toMatchObject({ rows: 5, reasons: { bad_time: 1, high_below_open_close: 1, negative_volume: 2, non_finite: 1 } })
  })

  it('keeps two different unreadable times after 2,048 good ones as two rows, each with its own text', async () => {
    // 3,000 hourly epoch-second rows make the sniffer call the column a number; the last line of
    // each file is not a time, so the import is read again as text. Same prices, different times.
    const h = home()
    const file = (bad: string, name: string) => {
      const lines = ['time,open,high,low,close,volume']
      for (let i = 0; i < 3000; i++) lines.push(`${1_704_067_200 + i * 3600},1,1,1,1,1`)
      lines.push(`${bad},1,1,1,1,1`)
      writeFileSync(join(h, name), `${lines.join('\n')}\n`)
      return join(h, name)
    }
    const a = await importFile(h, file('N/A', 'a.csv'), { symbol: 'FLAW', timeframe: '1h' })
    expect(a).toMatchObject({ input: 3001, added: 3000, quarantined: { bad_time: 1 }, quarantineAdded: 1 })
    const b = await importFile(h, file('garbage-2024', 'b.csv'), { symbol: 'FLAW', timeframe: '1h' })
    expect(b).toMatchObject({ input: 3001, added: 0, unchanged: 3000, quarantined: { bad_time: 1 }, quarantineAdded: 1 })
    const dir = join(h, 'lake', 'quarantine', 'source=local', 'symbol=FLAW', 'timeframe=1h')
    const list = `[${readdirSync(dir).filter((f) => f.endsWith('.parquet')).map((f) => sqlString(join(dir, f))).join(', ')}]`
    const rows = (await (await duckdb()).runAndReadAll(`SELECT reason, raw_time FROM read_parquet(${list}) ORDER BY raw_time`)).getRowObjects()
    expect(rows).toEqual([
      { reason: 'bad_time', raw_time: 'N/A' },
      { reason: 'bad_time', raw_time: 'garbage-2024' },
    ])
  })
})
