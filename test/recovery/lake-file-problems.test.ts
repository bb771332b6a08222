// Review of "Lake audit" (lakeFileProblems, doctor): a damaged current partition is a finding of
// `mtflow doctor`, whatever the damage — doctor must not stop with a stack trace on the very files it audits.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importFile } from '../../lib/data/index.js'
import { lakeFileProblems } from '../../lib/data/lake.js'
import { runCli } from '../helpers.js'

const home = () => mkdtempSync(join(tmpdir(), 'mtflow-lakefile-'))

function dayCsv(file: string): void {
  const lines = ['time,open,high,low,close,volume']
  for (let d = 0; d < 3; d++) lines.push(`${Date.UTC(2024, 0, 1 + d)},1,2,0.5,1.5,10`)
  writeFileSync(file, `${lines.join('\n')}\n`)
}

describe('doctor: damaged current partitions are findings, not crashes', () => {
  it('a partition whose footer decodes to the wrong shape, and a data.parquet that is a folder', async () => {
    const h = home()
    const csv = join(h, 'a.csv')
    dayCsv(csv)
    await importFile(h, csv, { symbol: 'BADFOOT', timeframe: '1d' })
    await importFile(h, csv, { symbol: 'DIRFILE', timeframe: '1d' })
    const part = (symbol: string) => join(h, 'lake', 'bars', 'source=local', `symbol=${symbol}`, 'timeframe=1d', 'gen=1', 'period=2024', 'data.parquet')
    // PAR1, a footer {2: i32 1} (the schema field as a number), its length, PAR1.
    writeFileSync(part('BADFOOT'), Buffer.concat([Buffer.from('PAR1'), Buffer.from([0x25, 0x02, 0x00]), Buffer.from([3, 0, 0, 0]), Buffer.from('PAR1')]))
    rmSync(part('DIRFILE'))
    mkdirSync(part('DIRFILE'))
    const problems = lakeFileProblems(h).map((p) => p.path).sort()
    expect(problems).toEqual([part('BADFOOT'), part('DIRFILE')].sort())
    const r = await runCli(['doctor', '--json'], { env: { MTFLOW_HOME: h } })
    expect(r.code, r.stderr).toBe(1)
    expect(JSON.parse(r.stdout).findings.filter((f: { problem: string }) => f.problem === 'corrupt')).toHaveLength(2)
  }, 60_000)
})
