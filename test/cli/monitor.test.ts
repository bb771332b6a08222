// `mtflow monitor drift | status` as a real process (runCli): drift between CSV and Parquet tables with
// Evidently's defaults, its numbers against SciPy's (test/fixtures/reference/drift); bad input is one line
// and exit 2; status shows each monitor's last evaluation and --evaluate records a new one.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { tableParquet } from '../../lib/data/index.js'
import { DecisionTreeRegressor, packageModel, registerPackage } from '../../lib/ml/index.js'
import { Registry } from '../../lib/track/index.js'
import { FIXTURES, runCli, runCliBatch, type CliResult } from '../helpers.js'

interface Dataset {
  name: string
  reference: Record<string, number[]>
  current: Record<string, number[]>
  columns: Record<string, { ksPvalue: number; wassersteinNorm: number }>
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'reference', 'drift', 'drift.json'), 'utf8')) as { datasets: Dataset[] }
const dir = mkdtempSync(join(tmpdir(), 'mtflow-cli-monitor-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function csv(file: string, table: Record<string, (number | string)[]>): string {
  const cols = Object.keys(table)
  const n = table[cols[0]!]!.length
  const lines = [cols.join(',')]
  for (let i = 0; i < n; i++) lines.push(cols.map((c) => String(table[c]![i])).join(','))
  writeFileSync(join(dir, file), `${lines.join('\n')}\n`)
  return join(dir, file)
}

describe('mtflow monitor drift', () => {
  const small = fixture.datasets.find((d) => d.name === 'small-ks')!
  const large = fixture.datasets.find((d) => d.name === 'large-wasserstein')!
  let ref: string
  let cur: string
  beforeAll(async () => {
    ref = csv('ref.csv', { ...small.reference, venue: small.reference.f0!.map(() => 'x') })
    cur = csv('cur.csv', { ...small.current, venue: small.current.f0!.map(() => 'y') })
    const columns = (t: Record<string, number[]>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Float64Array.from(v)]))
    writeFileSync(join(dir, 'large-ref.parquet'), await tableParquet(columns(large.reference)))
    writeFileSync(join(dir, 'large-cur.parquet'), await tableParquet(columns(large.current)))
  })

  it('CSV, a small reference: KS per numeric column, p-values as SciPy computes them, text skipped', async () => {
    const r = await runCli(['monitor', 'drift', '--reference', ref, '--current', cur, '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { columns: { column: string; method: string; pValue: number; drifted: boolean }[]; driftedColumns: number; datasetDrift: boolean; skipped: string[] }
    expect(out.skipped).toEqual(['venue'])
    expect(out.columns.map((c) => c.column)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4'])
    for (const c of out.columns) {
      expect(c.method).toBe('ks')
      expect(Math.abs(c.pValue / small.columns[c.column]!.ksPvalue - 1)).toBeLessThan(1e-12)
      expect(c.drifted).toBe(small.columns[c.column]!.ksPvalue < 0.05)
    }
    const drifted = Object.values(small.columns).filter((c) => c.ksPvalue < 0.05).length
    expect(out.driftedColumns).toBe(drifted)
    expect(out.datasetDrift).toBe(drifted / 5 >= 0.5)
    const text = await runCli(['monitor', 'drift', '--reference', ref, '--current', cur, '--columns', 'f1,f3'])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^column\s+method\s+score\s+threshold\s+drift/)
    expect(text.stdout).toMatch(/\nf1\s+ks\s+\S+\s+p < 0\.05\s+yes/)
    expect(text.stdout).toMatch(/dataset drift: yes \(2 of 2 columns, 100 %; drifts from 50 %\)/)
  })

  it('Parquet, a large reference: normalised Wasserstein; --method and --threshold override', async () => {
    const r = await runCli(['monitor', 'drift', '--reference', join(dir, 'large-ref.parquet'), '--current', join(dir, 'large-cur.parquet'), '--json'])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { columns: { column: string; method: string; score: number; drifted: boolean }[] }
    for (const c of out.columns) {
      expect(c.method).toBe('wasserstein')
      expect(Math.abs(c.score / large.columns[c.column]!.wassersteinNorm - 1)).toBeLessThan(1e-12)
      expect(c.drifted).toBe(large.columns[c.column]!.wassersteinNorm >= 0.1)
    }
    const ks = await runCli(['monitor', 'drift', '--reference', join(dir, 'large-ref.parquet'), '--current', join(dir, 'large-cur.parquet'), '--columns', 'f0', '--method', 'ks', '--threshold', '0.9', '--json'])
    const c = (JSON.parse(ks.stdout) as { columns: { method: string; pValue: number; threshold: number; drifted: boolean }[] }).columns[0]!
    expect(c).toMatchObject({ method: 'ks', threshold: 0.9 })
    expect(Math.abs(c.pValue / large.columns.f0!.ksPvalue - 1)).toBeLessThan(1e-12)
    expect(c.drifted).toBe(large.columns.f0!.ksPvalue < 0.9)
  })

  const bad: [string[], RegExp][] = [
    [['--columns', 'f0,venue'], /^mtflow: column "venue" of .*ref\.csv is not numeric\n$/],
    [['--columns', 'f0,spread'], /^mtflow: column "spread" is not in .*ref\.csv \(columns: f0, f1, f2, f3, f4, venue\)\n$/],
    [['--method', 'median'], /^mtflow: --method must be one of ks, wasserstein, psi, js \(received "median"\)\n$/],
    [['--threshold', '-1'], /^mtflow: --threshold must be a number > 0 \(received "-1"\)\n$/],
  ]
  // The four refusals run in one CLI process (runCliBatch), started by the first of these tests.
  let refusals: Promise<CliResult[]> | undefined
  it.each(bad.map(([extra, message], i) => [extra, message, i] as const))('bad input %j: one line, exit 2', async (_extra, message, i) => {
    refusals ??= runCliBatch(bad.map(([extra]) => ['monitor', 'drift', '--reference', ref, '--current', cur, ...extra]))
    const r = (await refusals)[i]!
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(message)
  })

  it('a file that is not a table: one line, exit 2', async () => {
    writeFileSync(join(dir, 'ragged.csv'), 'a,b\n1,2\n3\n')
    const [ragged, txt, help] = (await runCliBatch([
      ['monitor', 'drift', '--reference', join(dir, 'ragged.csv'), '--current', cur],
      ['monitor', 'drift', '--reference', join(dir, 'x.txt'), '--current', cur],
      ['monitor', 'drift', '--help'],
    ])) as [CliResult, CliResult, CliResult]
    expect([ragged.code, ragged.stderr]).toEqual([2, `mtflow: reference ${join(dir, 'ragged.csv')} line 3 has 1 cells; the header has 2\n`])
    expect([txt.code, txt.stderr]).toEqual([2, `mtflow: reference ${join(dir, 'x.txt')} must be a .csv or .parquet file\n`])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/--json/)
  })
})

describe('mtflow monitor status', () => {
  it('lists the monitors, evaluates them with --evaluate and shows the last evaluation; a bad file is exit 2', async () => {
    const home = mkdtempSync(join(dir, 'home-'))
    const rng = seededRandom(2)
    const X = Float64Array.from({ length: 300 }, () => rng.normal())
    const data = { X, rows: 100, columns: ['z', 'mom', 'vol'], y: Array.from({ length: 100 }, (_, i) => X[i * 3]!) }
    registerPackage(new Registry(home), 'ret', packageModel(new DecisionTreeRegressor({ maxDepth: 2 }).fit(data), { data }), { alias: 'champion' })
    mkdirSync(join(home, 'monitor'), { recursive: true })
    const monitors = join(home, 'monitor', 'monitors.json')
    writeFileSync(monitors, JSON.stringify({ monitors: [{ name: 'rise', kind: 'rmseRise', target: 'ret@champion', rise: 0.2 }, { name: 'dd', kind: 'drawdown', target: 'ghost', max: 0.1 }] }))
    const before = await runCli(['--home', home, 'monitor', 'status'])
    expect(before.code).toBe(0)
    expect(before.stdout).toMatch(/\nrise\s+rmseRise\s+ret@champion\s+not evaluated\n/)
    const evaluated = await runCli(['--home', home, 'monitor', 'status', '--evaluate', '--json'])
    expect(evaluated.code).toBe(1) // a monitor that could not be evaluated (dd: its deployment is gone) fails the command
    const out = JSON.parse(evaluated.stdout) as { monitors: { monitor: string; status: string; error?: string }[]; firedTriggers: string[]; alerts: string[] }
    expect(out.monitors.map((m) => [m.monitor, m.status])).toEqual([
      ['rise', 'no-data'],
      ['dd', 'error'],
    ])
    expect(out.monitors[1]!.error).toMatch(/no deployment named "ghost"/)
    expect(out).toMatchObject({ firedTriggers: [], alerts: [] })
    const after = await runCli(['--home', home, 'monitor', 'status'])
    expect(after.stdout).toMatch(/\ndd\s+drawdown\s+ghost\s+\d{4}-\d\d-\d\dT\S+\s+0\.1\s+error: no deployment named "ghost"/)
    // A monitor on a column the model does not have: one line, exit 2, nothing recorded.
    const lines = readFileSync(join(home, 'monitor', 'state.jsonl'), 'utf8')
    writeFileSync(monitors, JSON.stringify({ monitors: [{ name: 'inputs', kind: 'drift', target: 'ret@champion', reference: 'r.csv', columns: ['spread'] }] }))
    const bad = await runCli(['--home', home, 'monitor', 'status', '--evaluate'])
    expect([bad.code, bad.stderr]).toEqual([2, 'mtflow: monitor inputs: model ret@1 has no column "spread" (its inputs: z, mom, vol; and prediction, label)\n'])
    expect(readFileSync(join(home, 'monitor', 'state.jsonl'), 'utf8')).toBe(lines)
    writeFileSync(monitors, '{"monitors": [')
    const broken = await runCli(['--home', home, 'monitor', 'status'])
    expect(broken.code).toBe(2)
    expect(broken.stderr).toMatch(/^mtflow: monitors file .*monitors\.json is not valid JSON/)
    expect(readdirSync(join(home, 'monitor')).sort()).toEqual(['monitors.json', 'state.jsonl'])
    expect(existsSync(join(home, 'monitor', 'predictions'))).toBe(false)
  }, 60_000)
})
