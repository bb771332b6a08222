// `mtflow notebook run --track` as a process: the notebook's run with its parameters and lineage, the runs
// the notebook started through kernel/track.ts as its children (one logged a backtest, one left open and
// ended at kernel exit), the executed notebook as an artifact and as a registered notebook version.

import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { readBarsCsv } from '../../lib/data/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { FIXTURES, runCli, SAMPLE_CSV } from '../helpers.js'

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')

describe('mtflow notebook run --track', () => {
  it('tracks the notebook, the runs it makes, and registers the executed notebook', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-track-'))
    const notebook = join(FIXTURES, 'notebooks', 'tracked.ipynb')
    const r = await runCli(['--home', home, 'notebook', 'run', notebook, '--track', '-p', 'fast=12', '-p', 'label=lbl', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.childRuns).toHaveLength(2)
    const tracker = new Tracker(home)
    const run = tracker.getRun(out.runId)
    expect(run.info).toMatchObject({ status: 'FINISHED', name: 'tracked', experimentId: 'notebooks' })
    expect(run.params).toEqual({ fast: '12', label: 'lbl' })
    expect(run.info.lineage.notebook).toEqual({ path: 'test/fixtures/notebooks/tracked.ipynb', sha256: sha(readFileSync(notebook)) })
    expect(run.metrics.cellsOk!.value).toBe(5) // 4 cells + the injected parameters cell

    const children = tracker.childRuns(out.runId)
    const inner = children.find((c) => c.info.name === 'sma inside the notebook')!
    expect(inner.info.status).toBe('FINISHED')
    expect(inner.params).toMatchObject({ fast: '12', slow: '30', label: 'lbl' })
    expect(inner.info.lineage.notebook?.path).toBe('test/fixtures/notebooks/tracked.ipynb')
    // The same backtest run here: the notebook's run logged its numbers, not others.
    const spx = readBarsCsv(SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
    const here = backtest({ strategy: 'sma-cross', params: { fast: 12, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: spx } })
    expect(inner.metrics.sharpe!.value).toBe(here.metrics.sharpe)
    expect(inner.metrics.endEquity!.value).toBe(here.metrics.endEquity)
    expect(tracker.metricHistory(inner.info.runId, 'equity').at(-1)!.value).toBe(here.equity[here.equity.length - 1])
    const open = children.find((c) => c.info.name === 'second')!
    expect(open.info.status).toBe('FINISHED')
    expect(open.metrics.answer!.value).toBe(42)

    const artifact = readFileSync(tracker.artifactFile(out.runId, 'notebook.ipynb'))
    const cell = JSON.parse(artifact.toString()).cells.find((c: { id: string }) => c.id === 'a')
    expect(cell.outputs[0].text.join('')).toContain(`sharpe ${here.metrics.sharpe}`)
    const version = new Registry(home).resolve('notebooks', 'tracked')
    expect(version.version).toBe(out.notebookVersion)
    expect(version.sha256).toBe(sha(artifact))
    expect(version.runs.sort()).toEqual([out.runId, ...out.childRuns].sort())
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)

  it('refuses bad input before recording a run', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-track-bad-'))
    const missing = await runCli(['--home', home, 'notebook', 'run', join(FIXTURES, 'notebooks', 'nope.ipynb'), '--track'])
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim()).toMatch(/^mtflow: cannot read notebook .*nope\.ipynb: no such file$/)
    const badParam = await runCli(['--home', home, 'notebook', 'run', join(FIXTURES, 'notebooks', 'tracked.ipynb'), '--track', '-p', 'no-good=1'])
    expect(badParam.code).toBe(2)
    expect(existsSync(join(home, 'runs'))).toBe(false)
  })
})
