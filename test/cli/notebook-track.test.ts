// `mtflow notebook run --track` as a process: the notebook's run with its parameters and lineage, the runs
// the notebook started through kernel/track.ts as its children (one logged a backtest, one left open and
// ended at kernel exit), the executed notebook as an artifact and as a registered notebook version.

import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
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

  it('a run the notebook left open when a cell failed ends FAILED, not FINISHED (the kernel is shut down: it can never be completed)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-track-cut-'))
    const notebook = join(FIXTURES, 'notebooks', 'cut-off.ipynb')
    const r = await runCli(['--home', home, 'notebook', 'run', notebook, '--track', '--json'])
    expect(r.code, r.stderr).toBe(1)
    const out = JSON.parse(r.stdout)
    expect(out.status).toBe('error')
    const tracker = new Tracker(home)
    expect(tracker.getRun(out.runId).info.status).toBe('FAILED')
    const children = tracker.childRuns(out.runId)
    // Ended by the next track.start, after its cell ran through: complete.
    expect(children.find((c) => c.info.name === 'left open')!.info.status).toBe('FINISHED')
    // Open when its cell threw (step 2 never logged): the kernel's exit must not call it FINISHED.
    const cut = children.find((c) => c.info.name === 'cut off')!
    expect(tracker.metricHistory(cut.info.runId, 'step').map((p) => p.value)).toEqual([1])
    expect(cut.info.status).toBe('FAILED')
    // The same notebook run through: its run ends FINISHED.
    const ok = JSON.parse((await runCli(['--home', home, 'notebook', 'run', notebook, '--track', '-p', 'fail=false', '--json'])).stdout)
    expect(ok.status).toBe('ok')
    expect(tracker.childRuns(ok.runId).map((c) => c.info.status)).toEqual(['FINISHED', 'FINISHED'])
  }, 300_000)

  it('records the sha256 of the source it executed, even when the notebook is saved as the run starts', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-track-saved-'))
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-nb-saved-'))
    const notebook = join(dir, 'saved.ipynb')
    copyFileSync(join(FIXTURES, 'notebooks', 'failing.ipynb'), notebook)
    const original = readFileSync(notebook)
    const edited = Buffer.from(original.toString('utf8').replace("console.log('before', a)", "console.log('edited', a)"))
    expect(edited.equals(original)).toBe(false)
    // The user saves the notebook just after the run is recorded: when its git commit is read (the lineage,
    // after the run's source was hashed), the file is replaced — deterministically, through a preload.
    mkdirSync(join(dir, '.git'))
    writeFileSync(join(dir, '.git', 'HEAD'), `${'a'.repeat(40)}\n`)
    const preload = join(dir, 'save-on-head.cjs')
    writeFileSync(
      preload,
      `const fs = require('node:fs'); const read = fs.readFileSync; let done = false
fs.readFileSync = function (path, ...rest) {
  const out = read.call(this, path, ...rest)
  if (!done && String(path) === ${JSON.stringify(join(dir, '.git', 'HEAD'))}) { done = true; fs.writeFileSync(${JSON.stringify(notebook)}, Buffer.from(${JSON.stringify(edited.toString('base64'))}, 'base64')) }
  return out
}
`,
    )
    const r = await runCli(['--home', home, 'notebook', 'run', notebook, '--track', '--json'], { env: { NODE_OPTIONS: `--require ${preload}` } })
    expect(readFileSync(notebook).equals(edited)).toBe(true) // the save happened during the run
    const out = JSON.parse(r.stdout)
    const run = new Tracker(home).getRun(out.runId)
    const executed = JSON.parse(readFileSync(new Tracker(home).artifactFile(out.runId, 'notebook.ipynb'), 'utf8'))
    const ran = executed.metadata.mtflow.run.source.sha256 as string
    const printed = executed.cells.find((c: { id: string }) => c.id === 'first').outputs[0].text.join('')
    // What the kernel ran and what the run records as its source are one version of the file.
    expect(ran).toBe(printed.startsWith('edited') ? sha(edited) : sha(original))
    expect(run.info.lineage.notebook!.sha256).toBe(ran)
    expect(out.sourceSha256).toBe(ran)
    expect(new Registry(home).resolve('notebooks', 'saved').metadata!.sourceSha256).toBe(ran)
  }, 300_000)

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
