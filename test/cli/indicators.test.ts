// `mtflow indicators list|compute` and `mtflow pairs screen` as processes, on the bundled samples.

import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadBars } from '../../lib/data/index.js'
import { duckdb } from '../../lib/data/duckdb.js'
import { INDICATORS } from '../../lib/indicators/index.js'
import { Tracker } from '../../lib/track/index.js'
import { runCli, runCliBatch } from '../helpers.js'

let home: string
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-ind-'))
  const r = await runCli(['--home', home, 'data', 'samples', '--json'])
  expect(r.code, r.stderr).toBe(0)
}, 60_000)

describe('mtflow indicators', () => {
  it('list: every registered indicator, as text and as JSON', async () => {
    const text = await runCli(['indicators', 'list'])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^bbands\s+close\s+period=20 k=2\s+lower mid upper pctb width$/m)
    expect(text.stdout).toMatch(/^dpo \(lookahead\)/m)
    const json = await runCli(['indicators', 'list', '--json'])
    const list = JSON.parse(json.stdout) as { name: string; params: Record<string, { default: number }> }[]
    expect(list.map((i) => i.name).sort()).toEqual(Object.keys(INDICATORS).sort())
    expect(list.find((i) => i.name === 'rsi')!.params.period!.default).toBe(14)
  })

  it('compute: indicators over SPX written to Parquet and CSV, equal to the library', async () => {
    const out = join(home, 'spx.parquet')
    const r = await runCli(['--home', home, 'indicators', 'compute', '--symbol', 'SPX', '--timeframe', '1d', '--set', 'rsi:period=14', '--set', 'bbands:period=20,k=2', '--set', 'sma:period=5', '--set', 'sma:period=50', '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary).toMatchObject({ rows: 5105, format: 'parquet', columns: ['rsi', 'bbands_lower', 'bbands_mid', 'bbands_upper', 'bbands_pctb', 'bbands_width', 'sma_5', 'sma_50'] })
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const rsi = INDICATORS.rsi!.compute(bars, { period: 14 }).value!
    const conn = await duckdb()
    const rows = (await conn.runAndReadAll(`SELECT epoch_ms(time) AS t, rsi, sma_50 FROM read_parquet('${out}') ORDER BY time`)).getRowObjects()
    expect(rows).toHaveLength(5105)
    expect(Number(rows[0]!.t)).toBe(bars.time[0])
    expect(rows[13]!.rsi).toBeNull() // warm-up: NaN written as NULL
    expect(rows[100]!.rsi).toBe(rsi[100])
    expect(rows[49]!.sma_50).toBeCloseTo(Array.from(bars.close.subarray(0, 50)).reduce((a, b) => a + b, 0) / 50, 9)
    const csv = await runCli(['--home', home, 'indicators', 'compute', '--symbol', 'SPX', '--timeframe', '1d', '--start', '2020-01-01', '--set', 'atr', '--out', join(home, 'spx.csv')])
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stdout).toMatch(/^\d+ bars of SPX 1d with atr → /)
  })

  it('bad input: one line, exit 2, nothing written', async () => {
    const base = ['--home', home, 'indicators', 'compute', '--symbol', 'SPX', '--timeframe', '1d', '--out', join(home, 'bad.parquet')]
    const cases = [
      ['rsii', /^mtflow: unknown indicator "rsii"; expected one of sma, /],
      ['rsi:period=0', /^mtflow: rsi: period must be between 1 and 100000 \(received 0\)/],
      ['rsi:length=14', /^mtflow: rsi has no parameter "length"; expected period/],
      ['bbands:period', /^mtflow: --set bbands:period: expected name:param=number/],
    ] as const
    // One process for the refusals (they are main's, not the process's).
    const results = await runCliBatch([...cases.map(([set]) => [...base, '--set', set]), [...base.slice(0, -1), join(home, 'bad.xlsx'), '--set', 'rsi']])
    for (const [i, [set, message]] of cases.entries()) {
      const r = results[i]!
      expect(r.code, set).toBe(2)
      expect(r.stderr.trim().split('\n'), set).toHaveLength(1)
      expect(r.stderr, set).toMatch(message)
    }
    const wrongExt = results[cases.length]!
    expect(wrongExt.code).toBe(2)
    expect(wrongExt.stderr).toMatch(/expected a \.parquet or \.csv file name/)
  })
})

describe('mtflow pairs screen', () => {
  it('screens the European indices, with a progress bar off --json and every pair in JSON', async () => {
    const args = ['--home', home, 'pairs', 'screen', '--symbols', 'DAX,SMI,CAC,FTSE', '--timeframe', '1d', '--max-pvalue', '0.5', '--min-corr', '0.3']
    const text = await runCli(args)
    expect(text.code, text.stderr).toBe(0)
    expect(text.stderr).toMatch(/pairs {2}\[#{24}\] {2}6\/6 {2}100%/)
    expect(text.stdout).toMatch(/of 6 pairs selected, on 1860 shared bars/)
    const json = JSON.parse((await runCli([...args, '--json'])).stdout) as { bars: number; candidates: { y: string; x: string; pvalue: number }[] }
    expect(json.bars).toBe(1860)
    expect(json.candidates).toHaveLength(6)
    const bad = await runCli(['--home', home, 'pairs', 'screen', '--symbols', 'DAX', '--timeframe', '1d'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^mtflow: --symbols needs at least 2 symbols/)
  })
})

describe('mtflow pairs screen --save (a pipeline step)', () => {
  it('records a tracked run with pairs.parquet and a manifest (rows, columns, hashes); the same screen again reuses it; other rules make a new one', async () => {
    const args = ['--home', home, 'pairs', 'screen', '--symbols', 'DAX,SMI,CAC', '--timeframe', '1d', '--max-pvalue', '0.5', '--min-corr', '0.3']
    const plain = JSON.parse((await runCli([...args, '--json'])).stdout) as { candidates: { y: string; x: string; pvalue: number; beta: number; passed: boolean; reasons: string[] }[]; selected: unknown[] }
    const first = await runCli([...args, '--save', '--json'])
    expect(first.code, first.stderr).toBe(0)
    const saved = JSON.parse(first.stdout) as { runId: string }
    expect(saved.runId).toMatch(/^[0-9a-z]{8,}$/)
    const run = JSON.parse((await runCli(['--home', home, 'runs', 'show', saved.runId, '--json'])).stdout) as { tags: Record<string, string>; artifacts: { path: string; sha256?: string }[]; info: { experimentId: string } }
    expect(run.tags['mtflow.kind']).toBe('pairs-screen')
    expect(run.artifacts.map((a) => a.path).sort()).toEqual(['manifest.json', 'pairs.parquet'])
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-cli-step-'))
    const get = async (name: string) => {
      const out = join(dir, name)
      writeFileSync(out, new Tracker(home).readArtifact(saved.runId, name).bytes)
      return out
    }
    const manifestFile = await get('manifest.json')
    const parquet = await get('pairs.parquet')
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { step: string; inputs: { kind: string; ref: string }[]; params: Record<string, unknown>; tables: { name: string; rows: number; columns: { name: string; type: string }[]; sha256: string }[] }
    expect(manifest.step).toBe('pairs-screen')
    expect(manifest.inputs.map((i) => [i.kind, i.ref])).toEqual([['data', 'sample/DAX/1d'], ['data', 'sample/SMI/1d'], ['data', 'sample/CAC/1d']])
    expect(manifest.params).toMatchObject({ maxPValue: 0.5, minCorr: 0.3, timeframe: '1d' })
    expect(manifest.tables).toHaveLength(1)
    expect(manifest.tables[0]!.rows).toBe(3)
    expect(manifest.tables[0]!.columns.map((c) => `${c.name}:${c.type}`)).toEqual(['y:text', 'x:text', 'corr:number', 'stat:number', 'pvalue:number', 'beta:number', 'halfLife:number', 'selected:flag', 'reasons:text'])
    expect(manifest.tables[0]!.sha256).toBe(createHash('sha256').update(readFileSync(parquet)).digest('hex'))
    // The Parquet read by DuckDB itself: the same pairs as the screen printed.
    const conn = await duckdb()
    const rows = (await conn.runAndReadAll(`SELECT y, x, pvalue, beta, selected FROM read_parquet('${parquet}')`)).getRowObjects()
    expect(rows.map((r) => [r.y, r.x, r.selected])).toEqual(plain.candidates.map((c) => [c.y, c.x, c.passed]))
    rows.forEach((r, i) => expect(r.pvalue).toBeCloseTo(plain.candidates[i]!.pvalue, 12))
    // Again: the same bars and rules are the same step.
    const again = await runCli([...args, '--save'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe(`the same bars screened by the same rules: run ${saved.runId} (reused)\n`)
    const other = JSON.parse((await runCli([...args.slice(0, -1), '0.4', '--save', '--json'])).stdout) as { runId: string }
    expect(other.runId).not.toBe(saved.runId)
  })
})
