// A notebook shown by the server stays bounded whatever it holds: at most NOTEBOOK_CELLS cells (a note says
// how many there were; 130,000 cells once overflowed the call stack), at most NOTEBOOK_TEXT_CHARS of text
// (sources, streams, plain outputs, tracebacks) with the rest cut and noted; and a JSON preview pretty-prints
// only what is not nested past 1,000 levels.

import { describe, expect, it } from 'vitest'
import { NOTEBOOK_CELLS, NOTEBOOK_OUTPUTS, NOTEBOOK_TEXT_CHARS, renderNotebookHtml } from '../../lib/server/notebook-html.js'
import { jsonDepthAtMost } from '../../lib/server/artifact-pages.js'

const notebook = (cells: unknown[]) => ({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells })
const code = (source: string, outputs: unknown[] = []) => ({ cell_type: 'code', metadata: {}, execution_count: 1, source, outputs })

describe('notebook limits', () => {
  it('shows the first 5,000 of 130,000 cells, and says so', () => {
    const html = renderNotebookHtml(notebook(Array.from({ length: 130_000 }, (_, i) => code(`x${i}`))))
    expect(NOTEBOOK_CELLS).toBe(5_000)
    expect(html.match(/class="cell cell-code"/g)).toHaveLength(5_000)
    expect(html).toContain('The first 5,000 of 130,000 cells are shown.')
    expect(html).toContain('x4999')
    expect(html).not.toContain('x5000<')
  })

  it('cuts text past 2 Mi characters a notebook: a stream of 15 MB ends where the budget does', () => {
    const line = '<b>x</b>\n' // 9 characters, escaped to 27
    const stream = { output_type: 'stream', name: 'stdout', text: line.repeat(1_500_000) }
    const html = renderNotebookHtml(notebook([code('print(1)', [stream]), code('after', [{ output_type: 'stream', name: 'stdout', text: 'late output' }])]))
    // "print(1)" (8) then the stream's first NOTEBOOK_TEXT_CHARS − 8 characters, escaped; "after" and the late output are cut to "…".
    const shown = NOTEBOOK_TEXT_CHARS - 8
    const escaped = (t: string) => t.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
    expect(html).toContain(`<pre>${escaped(line.repeat(1_500_000).slice(0, shown))}…</pre>`)
    expect(html).not.toContain('late output')
    expect(html).toContain('3 text(s) were cut there')
    expect(html.length).toBeLessThan(8 * 2 ** 20)
    expect(html).not.toMatch(/<b>x<\/b>/)
  })

  it('shows the first 5,000 outputs of a notebook across its cells, and says so', () => {
    const stream = (text: string) => ({ output_type: 'stream', name: 'stdout', text })
    // Three cells of 2,000 outputs: the first two whole (4,000), the third's first 1,000; 1,000 not shown.
    const cells = [0, 1, 2].map((c) => code(`cell${c}`, Array.from({ length: 2_000 }, (_, i) => stream(`o${c}-${i}.`))))
    const html = renderNotebookHtml(notebook(cells))
    expect(NOTEBOOK_OUTPUTS).toBe(5_000)
    expect(html.match(/class="output stream-stdout"/g)).toHaveLength(5_000)
    expect(html).toContain('o1-1999.')
    expect(html).toContain('o2-999.')
    expect(html).not.toContain('o2-1000.')
    expect(html).toContain('Outputs are shown up to 5,000 a notebook: 1,000 later output(s) are not shown.')
    expect(html).toContain("1,000 output(s) not shown: the notebook's output budget (5,000) is spent")
  })

  it('the reviewer’s cell of 300,000 empty outputs: 5,000 of them, in a page of bounded size', () => {
    const out = { output_type: 'stream', name: 'stdout', text: '' }
    const html = renderNotebookHtml(notebook([code('x', Array.from({ length: 300_000 }, () => out))]))
    expect(html.match(/class="output stream-stdout"/g)).toHaveLength(5_000)
    expect(html).toContain('295,000 later output(s) are not shown.')
    // Each shown output is '<div class="output stream-stdout"><pre></pre></div>\n' (52 characters): ~260 KB, not 15 MB.
    expect(html.length).toBeLessThan(5_000 * 52 + 10_000)
  })

  it('a small notebook is shown whole, with no note', () => {
    const html = renderNotebookHtml(notebook([code('1 + 1', [{ output_type: 'execute_result', execution_count: 1, metadata: {}, data: { 'text/plain': '2' } }])]))
    expect(html).toContain('<pre>2</pre>')
    expect(html).not.toContain('text-note')
    expect(html).not.toContain('cells-note')
    expect(html).not.toContain('outputs-note')
  })

  it('measures JSON nesting outside strings', () => {
    expect(jsonDepthAtMost('{"a": [1, {"b": 2}]}', 3)).toBe(true)
    expect(jsonDepthAtMost('{"a": [1, {"b": 2}]}', 2)).toBe(false)
    expect(jsonDepthAtMost('"[[[[[[" ', 1)).toBe(true) // brackets inside a string
    expect(jsonDepthAtMost('["\\"[[[["]', 1)).toBe(true) // an escaped quote does not end the string
    expect(jsonDepthAtMost('['.repeat(1001) + ']'.repeat(1001), 1_000)).toBe(false)
    expect(jsonDepthAtMost('['.repeat(1000) + ']'.repeat(1000), 1_000)).toBe(true)
  })
})
