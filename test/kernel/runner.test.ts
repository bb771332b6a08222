// The headless runner on the real tslab kernel. Expected numbers come from the raw sample CSV
// (test/helpers.ts), not from lib/.

import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runNotebook } from '../../kernel/runner.js'
import type { Notebook, NotebookCell } from '../../kernel/nbformat.js'
import { FIXTURES, kernelsOf, outputText, QUICKSTART, sampleRowsBetween } from '../helpers.js'

const out = mkdtempSync(join(tmpdir(), 'mtflow-runner-'))

function cell(nb: Notebook, id: string): NotebookCell {
  const found = nb.cells.find((c) => c.id === id)
  if (found === undefined) throw new Error(`no cell ${id}`)
  return found
}

function streams(c: NotebookCell): string {
  return (c.outputs ?? []).filter((o) => o.output_type === 'stream').map((o) => outputText(o as never)).join('')
}

function display(c: NotebookCell, mime: string): string {
  return (c.outputs ?? []).filter((o) => o.output_type === 'display_data').map((o) => outputText(o as never, mime)).join('')
}

const hasNbformat = (() => {
  try {
    execFileSync('python3', ['-c', 'import nbformat'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/** Validates with the reference implementation (Python's nbformat) where it is installed. */
function validateWithNbformat(path: string): void {
  if (!hasNbformat) return
  execFileSync('python3', ['-c', 'import nbformat,sys; nb = nbformat.read(sys.argv[1], as_version=4); nbformat.validate(nb); assert nb.nbformat_minor >= 5', path])
}

describe('runNotebook on the tslab kernel', () => {
  it('executes the quickstart headless: table of the sample, an SVG chart, lineage metadata', async () => {
    const path = join(out, 'quickstart.ipynb')
    const result = await runNotebook(QUICKSTART, { out: path })
    expect(result.status, result.message).toBe('ok')
    const expected = sampleRowsBetween('2000-01-01', '2020-12-31')
    expect(expected.count).toBe(5105)
    const nb = JSON.parse(readFileSync(path, 'utf8')) as Notebook

    expect(streams(cell(nb, 'load'))).toBe(`bars: ${expected.count} daily bars, ${expected.first} to ${expected.last}\n`)
    const table = display(cell(nb, 'table'), 'text/html')
    expect(table).toContain(`data-rows="${expected.count}"`)
    expect(table).toContain(`${expected.count.toLocaleString('en-US')} rows × 6 columns (first 10 shown)`)
    expect(table).toContain(`<td>${expected.first}</td>`)
    expect(display(cell(nb, 'chart'), 'text/html')).toContain('<svg')
    const totalReturn = ((expected.lastClose / expected.firstClose - 1) * 100).toFixed(2)
    expect(streams(cell(nb, 'summary'))).toBe(`total return: ${totalReturn}%\n`)

    const run = (nb.metadata.mtflow as { run: Record<string, unknown> }).run
    expect(run.status).toBe('ok')
    expect(run.parameters).toEqual({})
    expect((run.source as { sha256: string }).sha256).toBe(createHash('sha256').update(readFileSync(QUICKSTART)).digest('hex'))
    expect(Date.parse(run.end_time as string)).toBeGreaterThanOrEqual(Date.parse(run.start_time as string))
    for (const c of nb.cells.filter((c) => c.cell_type === 'code')) {
      const timing = c.metadata.mtflow as { duration_ms: number; status: string }
      expect(timing.status).toBe('ok')
      expect(timing.duration_ms).toBeGreaterThanOrEqual(0)
      expect(c.execution_count).toBeGreaterThan(0)
    }
    expect(nb.nbformat).toBe(4)
    expect(nb.nbformat_minor).toBe(5)
    validateWithNbformat(path)
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)

  it('injects parameters after the parameters cell and they change the computed values', async () => {
    const result = await runNotebook(QUICKSTART, { parameters: { start: '2010-01-01', end: '2015-12-31' } })
    expect(result.status, result.message).toBe('ok')
    const nb = result.notebook
    const at = nb.cells.findIndex((c) => c.id === 'parameters')
    const injected = nb.cells[at + 1]!
    expect(injected.metadata.tags).toEqual(['injected-parameters'])
    expect(injected.source).toEqual([
      '// Parameters injected by `mtflow notebook run`\n',
      'let start: string = "2010-01-01"\n',
      'let end: string = "2015-12-31"',
    ])
    const expected = sampleRowsBetween('2010-01-01', '2015-12-31')
    expect(expected.count).toBeLessThan(5105)
    expect(streams(cell(nb, 'load'))).toBe(`bars: ${expected.count} daily bars, ${expected.first} to ${expected.last}\n`)
    expect(display(cell(nb, 'table'), 'text/html')).toContain(`data-rows="${expected.count}"`)
    const totalReturn = ((expected.lastClose / expected.firstClose - 1) * 100).toFixed(2)
    expect(streams(cell(nb, 'summary'))).toBe(`total return: ${totalReturn}%\n`)
    expect((nb.metadata.mtflow as { run: { parameters: unknown } }).run.parameters).toEqual({ start: '2010-01-01', end: '2015-12-31' })
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)

  it('stops at a failing cell, saves the error, runs no later cell and leaves no kernel behind', async () => {
    const path = join(out, 'failing.ipynb')
    const result = await runNotebook(join(FIXTURES, 'notebooks', 'failing.ipynb'), { out: path })
    expect(result.status).toBe('error')
    expect(result.failedCell).toEqual({ index: 2, id: 'fails', ename: 'RangeError', evalue: 'deliberate failure in cell 2' })
    expect(result.message).toBe('cell 2 (id fails) failed: RangeError: deliberate failure in cell 2')
    const nb = JSON.parse(readFileSync(path, 'utf8')) as Notebook
    expect(streams(cell(nb, 'first'))).toBe('before 1\n')
    const failed = cell(nb, 'fails')
    expect(streams(failed)).toContain('about to fail\n')
    expect(failed.outputs!.find((o) => o.output_type === 'error')).toMatchObject({ ename: 'RangeError', evalue: 'deliberate failure in cell 2' })
    expect(cell(nb, 'never').execution_count).toBeNull()
    expect(cell(nb, 'never').outputs).toEqual([])
    expect(result.cells.map((c) => c.status)).toEqual(['ok', 'error', 'skipped'])
    expect(kernelsOf(process.pid)).toEqual([])
    validateWithNbformat(path)
  })

  it('reports a TypeScript type error as the cell error', async () => {
    const result = await runNotebook(join(FIXTURES, 'notebooks', 'type-error.ipynb'))
    expect(result.status).toBe('error')
    expect(result.failedCell?.ename).toBe('TypeScriptError')
    expect(result.failedCell?.evalue).toBe("1:5 - Type 'string' is not assignable to type 'number'.")
    expect(cell(result.notebook, 'never').execution_count).toBeNull()
  })

  it('interrupts a cell past the cell timeout and shuts the kernel down', async () => {
    const started = Date.now()
    const result = await runNotebook(join(FIXTURES, 'notebooks', 'slow.ipynb'), { cellTimeout: 2 })
    expect(result.status).toBe('timeout')
    expect(result.failedCell).toMatchObject({ index: 2, id: 'busy', ename: 'CellTimeoutError', evalue: 'cell timed out after 2 s' })
    expect(Date.now() - started).toBeLessThan(60_000)
    expect(cell(result.notebook, 'never').execution_count).toBeNull()
    expect(kernelsOf(process.pid)).toEqual([])
  })

  it('upgrades an nbformat 4.2 notebook without ids or kernelspec, clearing stale outputs', async () => {
    const path = join(out, 'old.ipynb')
    const result = await runNotebook(join(FIXTURES, 'notebooks', 'v4-2-no-ids.ipynb'), { out: path })
    expect(result.status, result.message).toBe('ok')
    const nb = JSON.parse(readFileSync(path, 'utf8')) as Notebook
    expect(nb.nbformat_minor).toBe(5)
    expect(nb.metadata.kernelspec?.name).toBe('mtflow-ts')
    const [, code, empty] = nb.cells
    expect(code!.id).toMatch(/^[0-9a-f]{8}$/)
    expect(streams(code!)).toBe('hello 42\n')
    expect(code!.execution_count).toBe(1)
    expect(empty!.execution_count).toBeNull()
    validateWithNbformat(path)
  })

  it('shows tables, Markdown and live progress bars from kernel/display.ts (a tslab-kernelspec notebook)', async () => {
    const result = await runNotebook(join(FIXTURES, 'notebooks', 'display.ipynb'))
    expect(result.status, result.message).toBe('ok')
    const nb = result.notebook
    const loop = cell(nb, 'loop')
    expect(streams(loop)).toBe('sum 15\n')
    // One display, updated in place to its final state.
    const bars = loop.outputs!.filter((o) => o.output_type === 'display_data')
    expect(bars).toHaveLength(1)
    expect(outputText(bars[0] as never, 'text/html')).toContain('<progress value="5" max="5"></progress>')
    expect(outputText(bars[0] as never, 'text/plain')).toMatch(/^summing {2}\[#{24}\] {2}5\/5 {2}100%/)
    // finish() says the work is done: a bar ticked to 3 of 4 ends at its total (callers that tick in batches stop short).
    expect(display(cell(nb, 'manual'), 'text/html')).toContain('<progress value="4" max="4"></progress>')
    expect(display(cell(nb, 'rows'), 'text/html')).toContain('data-rows="2"')
    expect(display(cell(nb, 'md'), 'text/markdown')).toBe('## heading')
  })

  it('keeps every line of a cell that prints 50,000 lines, in order', async () => {
    const result = await runNotebook(join(FIXTURES, 'notebooks', 'chatty.ipynb'))
    expect(result.status, result.message).toBe('ok')
    const text = streams(cell(result.notebook, 'chatty'))
    const expected = Array.from({ length: 50_000 }, (_, i) => `${i}\n`).join('')
    expect(text.length).toBe(expected.length)
    expect(text === expected).toBe(true)
    expect(streams(cell(result.notebook, 'after'))).toBe('after\n')
  })

  it('refuses bad input before starting a kernel and writes nothing', async () => {
    const target = join(out, 'never-written.ipynb')
    await expect(runNotebook(join(FIXTURES, 'notebooks', 'missing.ipynb'), { out: target })).rejects.toThrow(/cannot read notebook .*no such file/)
    await expect(runNotebook(QUICKSTART, { out: target, parameters: { '1bad': 1 } })).rejects.toThrow(/not a usable TypeScript identifier/)
    await expect(runNotebook(QUICKSTART, { out: target, cellTimeout: -1 })).rejects.toThrow(/cell timeout must be a number of seconds > 0 \(received -1\)/)
    await expect(runNotebook(QUICKSTART, { out })).rejects.toThrow(/is a directory; expected a notebook file path/)
    expect(existsSync(target)).toBe(false)
    expect(kernelsOf(process.pid)).toEqual([])
  })
})
