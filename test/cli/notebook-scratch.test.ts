// Notebooks write their demonstrations into a scratch workspace, never into the user's: notebook 01's
// deliberately flawed DEMO file is imported and quarantined in a temporary folder, and MTFLOW_HOME's lake
// holds the bundled samples only; the demonstration notebooks (06 deploy, 07 pipeline, 08 monitoring) work
// wholly in a temporary workspace (or MTFLOW_SCRATCH_HOME's), leaving MTFLOW_HOME untouched.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Notebook } from '../../kernel/nbformat.js'
import { ROOT, runCli } from '../helpers.js'

const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-scratch-'))
afterAll(() => rmSync(home, { recursive: true, force: true }))

describe('notebooks/01-data.ipynb', () => {
  it('quarantines its DEMO rows in a scratch workspace, not in MTFLOW_HOME', async () => {
    const out = join(home, 'executed.ipynb')
    const r = await runCli(['--home', home, 'notebook', 'run', join(ROOT, 'notebooks', '01-data.ipynb'), '--out', out, '--no-progress'])
    expect(r.code, r.stderr).toBe(0)
    // The lake: the five bundled series under source "sample", nothing from the demo.
    const bars = join(home, 'lake', 'bars')
    expect(readdirSync(bars).sort()).toEqual(['source=sample'])
    const all = (readdirSync(home, { recursive: true }) as string[]).join('\n')
    expect(all).not.toMatch(/DEMO|source=demo/)
    expect(existsSync(join(home, 'lake', 'quarantine')) ? readdirSync(join(home, 'lake', 'quarantine'), { recursive: true }) : []).toEqual([])
    // The notebook still shows what validation did: 3 rows quarantined (hand-counted in the flawed file).
    const nb = JSON.parse(readFileSync(out, 'utf8')) as Notebook
    const cell = nb.cells.find((c) => c.id === 'quarantine')!
    const text = (cell.outputs ?? []).map((o) => JSON.stringify(o)).join('')
    expect(text).toContain('quarantined rows: 3 in the demonstration; 0 in your lake')
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)
})

describe('notebooks/07-pipeline.ipynb', () => {
  it('works in a scratch workspace: MTFLOW_HOME gets nothing', async () => {
    const user = mkdtempSync(join(tmpdir(), 'mtflow-nb-user-'))
    const out = join(home, 'executed-07.ipynb')
    try {
      const r = await runCli(['--home', user, 'notebook', 'run', join(ROOT, 'notebooks', '07-pipeline.ipynb'), '-p', 'pairs=2', '--out', out, '--no-progress'], { env: { MTFLOW_SCRATCH_HOME: undefined } })
      expect(r.code, r.stderr).toBe(0)
      expect(readdirSync(user)).toEqual([])
      const nb = JSON.parse(readFileSync(out, 'utf8')) as Notebook
      const printed = (nb.cells.find((c) => c.id === 'data')!.outputs ?? []).map((o) => JSON.stringify(o)).join('')
      const scratch = /scratch workspace: (\/[^\s"\\]+)/.exec(printed)?.[1]
      expect(scratch).toBeDefined()
      expect(scratch!.startsWith(join(tmpdir(), 'mtflow-nb07-'))).toBe(true)
      // The demonstration's runs and models are there instead.
      expect(readdirSync(join(scratch!, 'registry', 'models')).some((name) => name.startsWith('nb07.'))).toBe(true)
      rmSync(scratch!, { recursive: true, force: true })
    } finally {
      rmSync(user, { recursive: true, force: true })
    }
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)
})
