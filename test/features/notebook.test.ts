// notebooks/02-features.ipynb, headless on the real kernel.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runNotebook } from '../../kernel/runner.js'
import type { NotebookCell } from '../../kernel/nbformat.js'
import { outputText, ROOT } from '../helpers.js'

const text = (cell: NotebookCell, mime?: string) => (cell.outputs ?? []).map((o) => outputText(o as never, mime)).join('')

describe('notebooks/02-features.ipynb', () => {
  it('computes indicators with charts, checks leakage, screens the European pairs and charts the best spread', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-features-'))
    const result = await runNotebook(join(ROOT, 'notebooks', '02-features.ipynb'), { home, parameters: { start: '2019-01-01' } })
    expect(result.status, result.message).toBe('ok')
    const cell = (id: string) => result.notebook.cells.find((c) => c.id === id)!
    // 2019-01-02 … 2020-04-17 in the sample: 326 trading days (grep -c '^2019\|^2020' on the CSV)
    expect(text(cell('load'))).toContain('SPX: 326 daily bars from 2019-01-02')
    expect(text(cell('indicators'), 'text/html')).toContain('data-rows="5"')
    expect(text(cell('charts'), 'text/html').match(/<svg/g)).toHaveLength(2)
    const leakage = text(cell('leakage'), 'text/plain')
    expect(leakage).toMatch(/rsi\s+true\s+0/)
    expect(leakage).toMatch(/dpo\s+false\s+[1-9]/)
    expect(text(cell('screen'), 'text/html')).toContain('data-rows="6"')
    expect(text(cell('spread'))).toMatch(/best pair: \w+ ~ \w+, p = 0\.\d{4}/)
    expect(text(cell('spread'), 'text/html')).toContain('<svg')
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)
})
