// Review 24, findings 1 and 2 (slice FX3), through the real CLI: thousands separators beside a decimal
// comma, numbers that could be thousands or decimals, a MetaTrader Date,Time pair, and an import whose rows
// are all lost to conflicting duplicates. A refusal exits 2 with one line and writes nothing. Expected
// values by hand: 2022-03-01 is 19,052 days after 1970-01-01.

import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers.js'

const DAY = 86_400_000
const HOUR = 3_600_000
const MAR_1_2022 = 19_052 * DAY
const home = () => mkdtempSync(join(tmpdir(), 'mtflow-import-csv-'))
const write = (dir: string, name: string, text: string) => {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}
const oneLine = (stderr: string) => stderr.trim().split('\n')

describe('mtflow import: decimal marks, date+time columns, duplicates', () => {
  it('says which accepted rows differ from what the lake holds (they are quarantined; "accepted 3 (1 new, 1 already in the lake)" did not add up: an audit)', async () => {
    const h = home()
    const env = { MTFLOW_HOME: h }
    const first = write(h, 'a.csv', 'date,open,high,low,close\n2022-03-01,10,11,9,10.5\n2022-03-02,10.5,12,10,11\n')
    expect((await runCli(['import', first, '--symbol', 'C', '--timeframe', '1d'], { env })).code).toBe(0)
    // 03-01 the same, 03-02 with another close, 03-03 new.
    const second = write(h, 'b.csv', 'date,open,high,low,close\n2022-03-01,10,11,9,10.5\n2022-03-02,10.5,12,10,11.5\n2022-03-03,11,12,10,11\n')
    const r = await runCli(['import', second, '--symbol', 'C', '--timeframe', '1d'], { env })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('  accepted     3 (1 new, 1 already in the lake, 1 differing from what the lake holds: the lake\'s kept, these quarantined as conflict_existing)\n')
    expect(r.stdout).toMatch(/quarantined {2}1 \(conflict_existing 1;/)
  })

  it('imports 1.500 as 1500 beside a decimal comma; asks for --decimal when 43,160 could be either', async () => {
    const h = home()
    const env = { MTFLOW_HOME: h }
    const us = write(h, 'us.csv', 'date;open;high;low;close;volume\n2022-03-01;43,160;44,949;42,800;44,357;1,234\n2022-03-02;44,357;45,100;43,900;44,000;2,345\n')
    const refused = await runCli(['import', us, '--symbol', 'US', '--timeframe', '1d'], { env })
    expect(refused.code).toBe(2)
    expect(oneLine(refused.stderr)).toEqual([`mtflow: ${us} column open "43,160" is ambiguous (43160 with --decimal ., 43.16 with --decimal ,: a point or comma grouping thousands, or the decimal mark?); give --decimal . or --decimal ,`])
    expect(existsSync(join(h, 'lake'))).toBe(false)
    const ok = await runCli(['import', us, '--symbol', 'US', '--timeframe', '1d', '--decimal', '.', '--json'], { env })
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ input: 2, accepted: 2 })
    const de = write(h, 'de2.csv', 'date;open;high;low;close;volume\n2022-03-01;10,5;11,0;10,0;10,5;1.500\n2022-03-02;10,5;11,0;10,0;10,5;1.500\n')
    const imported = await runCli(['import', de, '--symbol', 'DE', '--timeframe', '1d', '--json'], { env })
    expect(imported.code, imported.stderr).toBe(0)
    expect(JSON.parse(imported.stdout)).toMatchObject({ input: 2, accepted: 2, quarantined: {} })
    const listed = JSON.parse((await runCli(['data', 'list', '--json'], { env })).stdout) as { symbol: string; rows: number }[]
    expect(listed.map((d) => [d.symbol, d.rows]).sort()).toEqual([['DE', 2], ['US', 2]])
  })

  it('reads MetaTrader Date,Time as one instant, and refuses (exit 2, nothing written) rows all lost to conflicting duplicates', async () => {
    const h = home()
    const env = { MTFLOW_HOME: h }
    const rows = [0, 1, 2].flatMap((d) => Array.from({ length: 24 }, (_, hour) => `2022.03.0${d + 1},${String(hour).padStart(2, '0')}:00,${100 + hour},${101 + hour},${99 + hour},${100.5 + hour},10`))
    const mt = write(h, 'mt.csv', `Date,Time,Open,High,Low,Close,Volume\n${rows.join('\n')}\n`)
    const imported = await runCli(['import', mt, '--symbol', 'MT', '--timeframe', '1h', '--json'], { env })
    expect(imported.code, imported.stderr).toBe(0)
    expect(JSON.parse(imported.stdout)).toMatchObject({ input: 72, accepted: 72, quarantined: {} })
    // data list shows a midnight as its date alone.
    const listed = JSON.parse((await runCli(['data', 'list', '--json'], { env })).stdout)
    expect(listed[0]).toMatchObject({ symbol: 'MT', rows: 72, first: '2022-03-01T00:00:00Z', last: new Date(MAR_1_2022 + 2 * DAY + 23 * HOUR).toISOString().replace('.000', '') })
    const h2 = home()
    const dup = write(h2, 'dup.csv', 'date,open,high,low,close\n2022-03-01,1,2,0.5,1.5\n2022-03-01,1,2,0.5,1.25\n')
    const refused = await runCli(['import', dup, '--symbol', 'D', '--timeframe', '1d'], { env: { MTFLOW_HOME: h2 } })
    expect(refused.code).toBe(2)
    expect(oneLine(refused.stderr)).toEqual([`mtflow: ${dup}: 0 of 2 rows accepted: every time of column date repeats with different values (duplicate_conflict 2; 2022-03-01T00:00:00.000Z on 2 rows) (nothing imported)`])
    expect(existsSync(join(h2, 'lake'))).toBe(false)
  })

  it('a row with too few or too many fields: exit 2 naming its line and the header, nothing written (a new-user review: DuckDB\'s "Error when sniffing file")', async () => {
    const h = home()
    const env = { MTFLOW_HOME: h }
    const rows = Array.from({ length: 4000 }, (_, i) => `${new Date(Date.UTC(2000, 0, 1) + i * DAY).toISOString().slice(0, 10)},${100 + i},${101 + i},${99 + i},${100.5 + i},10`)
    const header = 'date,open,high,low,close,volume'
    for (const [at, row, n] of [[30, '2000-01-29,1,2,0.5', 4], [3000, `${rows[2998]},9`, 7]] as const) {
      const lines = [header, ...rows]
      lines[at - 1] = row
      const file = write(h, `ragged-${at}.csv`, `${lines.join('\n')}\n`)
      const r = await runCli(['import', file, '--symbol', 'R', '--timeframe', '1d'], { env })
      expect(r.code).toBe(2)
      expect(oneLine(r.stderr)).toEqual([`mtflow: cannot read ${file} as CSV: line ${at} has ${n} fields; the header has 6 (date, open, high, low, close, volume): fix or remove that line`])
    }
    expect(existsSync(join(h, 'lake'))).toBe(false)
  }, 60_000)
})

describe('a lake that cannot be written (a lake audit)', () => {
  it('says the lake, not the input, and stores nothing', async () => {
    const h = home()
    const env = { MTFLOW_HOME: h }
    const file = join(h, 'a.csv')
    writeFileSync(file, 'time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T01:00:00Z,1,2,0.5,1.5,10\n')
    // The lake's bars folder is a file: every write below it fails (as a full disk or a read-only mount would).
    mkdirSync(join(h, 'lake'))
    writeFileSync(join(h, 'lake', 'bars'), 'not a folder')
    const r = await runCli(['import', file, '--symbol', 'X', '--timeframe', '1h'], { env })
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    // Before: "cannot read …/a.csv: ENOTDIR …" — the file was fine.
    expect(lines[0]).toMatch(/^mtflow: cannot write X 1h to the lake: ENOTDIR: not a directory, mkdir .*; nothing of .*a\.csv was stored$/)
  })
})

describe('an input file whose path begins with the workspace lake folder (review)', () => {
  it('a ragged CSV under <home>/lake-inbox/ or <home>/lake/inbox/ is still "cannot read <input>", not a lake write failure', async () => {
    const h = home()
    const env = { MTFLOW_HOME: h }
    // A row past DuckDB's sniff (line 3000): DuckDB's refusal ends "file = <input>" on a later line of its message.
    const rows = Array.from({ length: 4000 }, (_, i) => `${new Date(Date.UTC(2000, 0, 1) + i * DAY).toISOString().slice(0, 10)},${100 + i},${101 + i},${99 + i},${100.5 + i},10`)
    const lines = ['date,open,high,low,close,volume', ...rows]
    lines[2999] = `${rows[2998]},9`
    for (const folder of ['lake-inbox', join('lake', 'inbox')]) {
      mkdirSync(join(h, folder), { recursive: true })
      const file = write(join(h, folder), 'ragged.csv', `${lines.join('\n')}\n`)
      const r = await runCli(['import', file, '--symbol', 'R', '--timeframe', '1d'], { env })
      expect(r.code).toBe(2)
      expect(oneLine(r.stderr)).toEqual([`mtflow: cannot read ${file} as CSV: line 3000 has 7 fields; the header has 6 (date, open, high, low, close, volume): fix or remove that line`])
    }
  }, 60_000)
})
