// What the runner does to a notebook before any kernel starts: ids, cleared outputs, injected parameters.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { joinSource } from '../../kernel/nbformat.js'
import { prepareNotebook } from '../../kernel/runner.js'
import { FIXTURES, QUICKSTART } from '../helpers.js'

describe('prepareNotebook', () => {
  it('injects parameters at the top when no cell is tagged parameters', async () => {
    const { notebook } = await prepareNotebook(join(FIXTURES, 'notebooks', 'v4-2-no-ids.ipynb'), { who: 'world', n: 3 })
    expect(notebook.cells[0]!.id).toBe('injected-parameters')
    expect(notebook.cells[0]!.metadata.tags).toEqual(['injected-parameters'])
    expect(joinSource(notebook.cells[0]!.source)).toBe('// Parameters injected by `mtflow notebook run`\nlet who = "world"\nlet n = 3')
    // stale outputs and counts of the old run are gone
    expect(notebook.cells[2]!.outputs).toEqual([])
    expect(notebook.cells[2]!.execution_count).toBeNull()
  })

  it('replaces the injected cell of an executed notebook instead of stacking a second one', async () => {
    const first = await prepareNotebook(QUICKSTART, { start: '2010-01-01' })
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-prepare-'))
    writeFileSync(join(dir, 'executed.ipynb'), JSON.stringify(first.notebook))
    const second = await prepareNotebook(join(dir, 'executed.ipynb'), { start: '2012-06-30' })
    const injected = second.notebook.cells.filter((c) => c.metadata.tags?.includes('injected-parameters'))
    expect(injected).toHaveLength(1)
    expect(joinSource(injected[0]!.source)).toContain('let start: string = "2012-06-30"')
    const at = second.notebook.cells.findIndex((c) => c.id === 'parameters')
    expect(second.notebook.cells[at + 1]!.id).toBe('injected-parameters')
  })

  it('leaves a notebook untouched but for ids when no parameters are given', async () => {
    const { notebook } = await prepareNotebook(QUICKSTART)
    expect(notebook.cells.some((c) => c.metadata.tags?.includes('injected-parameters'))).toBe(false)
    expect(notebook.cells.map((c) => c.id)).toEqual(['intro', 'parameters', 'imports', 'load', 'table', 'chart', 'summary'])
  })
})
