// What an artifact or code preview shows is bounded whatever the file holds (lib/server/artifact-pages.ts,
// highlight.ts, registry-pages.ts): the reviewer's hostile CSVs (one row of 200,000 and of 1,000,000 commas)
// answer a page of bounded size with 200 columns and a "… N more" cell; long cells and a page's characters
// are cut; Parquet shows 200 columns; a notebook of 40 × 50 KB code cells highlights 200,000 characters and
// says so, and its second request is served from the preview cache; a notebook renders 500,000 characters
// of markup (markdown, HTML, SVG) and shows the rest as text; a notebook over 16 MiB is a download; a
// registry source over the budget is plain text.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseHTML } from 'linkedom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { columnsParquet } from '../../lib/core/index.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { artifactViewUrl } from '../../lib/server/artifact-pages.js'
import { renderNotebookHtml } from '../../lib/server/notebook-html.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { getPage, tableOf, type Page } from './http.js'

let home: string
let server: Listening
let runId: string

const get = (path: string): Promise<Page> => getPage(server, workspaceToken(home), path, { redirect: 'manual' })
const view = (path: string, page?: number) => `${artifactViewUrl(runId, path)}${page === undefined ? '' : `&page=${page}`}`


/** The reviewer's file (/tmp/review23/wide.mts): a header "h", one row of `commas` commas, 100 rows "1". */
const wideCsv = (commas: number) => `h\n${','.repeat(commas)}\n${'1\n'.repeat(100)}`
/** 50,000 characters of Python: 2,000 lines "x = 1  # abcdefghijklmno\n" of 25 characters. */
const PY_CELL = 'x = 1  # abcdefghijklmno\n'.repeat(2_000)
const HOSTILE = '<img src=x onerror=alert(1)>'

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-preview-limits-'))
  const tracker = new Tracker(home)
  const run = tracker.startRun({ experiment: 'previews', name: 'hostile' })
  run.logArtifact({ name: 'wide.csv', data: wideCsv(200_000) })
  run.logArtifact({ name: 'wide1m.csv', data: wideCsv(1_000_000) })
  // 100 rows of 5 cells of 1,999 "x" under the header a,b,c,d,e; and one cell of 100,000 hostile characters.
  run.logArtifact({ name: 'long.csv', data: `a,b,c,d,e\n${`${Array(5).fill('x'.repeat(1_999)).join(',')}\n`.repeat(100)}` })
  run.logArtifact({ name: 'cell.csv', data: `v,w\n"${HOSTILE.repeat(3_600).replace(/"/g, '""')}",<b>2</b>\n` })
  const columns: Record<string, Float64Array> = {}
  for (let j = 1; j <= 250; j++) columns[`c${j}`] = Float64Array.of(j, j * 10)
  run.logArtifact({ name: 'wide.parquet', data: columnsParquet(columns) })
  const nb = (cells: unknown[]) => JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { language: 'python', name: 'python3' } }, cells })
  const code = (source: string) => ({ cell_type: 'code', metadata: {}, execution_count: 1, source, outputs: [] })
  run.logArtifact({ name: 'cells.ipynb', data: nb(Array.from({ length: 40 }, () => code(PY_CELL))) })
  const huge = nb([{ cell_type: 'raw', metadata: {}, source: 'x'.repeat(17 * 2 ** 20) }])
  run.logArtifact({ name: 'huge.ipynb', data: huge })
  // 20,000 rows "k,"a<line break>bk"" under the header n,v: row k's cells are k and "a\nbk" (a quoted line break).
  run.logArtifact({ name: 'deep.csv', data: `n,v\n${Array.from({ length: 20_000 }, (_, i) => `${i + 1},"a\nb${i + 1}"\n`).join('')}` })
  run.logArtifact({ name: 'nested.ts', data: '`${'.repeat(1_000) + '\n'.repeat(4_000) })
  run.logArtifact({ name: 'lines.txt', data: 'a\n'.repeat(60_000) })
  run.end()
  runId = run.id
  const registry = new Registry(home)
  // 300,000 characters of TypeScript (over the budget) and 150,000 (within it).
  registry.register('strategies', 'big', { files: { 'source.ts': 'const a = 1\n'.repeat(25_000) } })
  registry.register('strategies', 'mid', { files: { 'source.ts': 'const a = 1\n'.repeat(12_500) } })
  registry.register('notebooks', 'huge', { files: { 'huge.ipynb': huge } })
  registry.register('notebooks', 'small', { files: { 'small.ipynb': nb([code('print(1)')]) } })
  server = await startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' })
}, 60_000)
afterAll(async () => {
  await server?.close()
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

describe('the reviewer’s wide CSVs', () => {
  for (const [name, commas] of [
    ['wide.csv', 200_000],
    ['wide1m.csv', 1_000_000],
  ] as const) {
    it(`${name}: 200 columns and a count of the rest, in a page of bounded size`, async () => {
      const page = await get(view(name))
      expect(page.status).toBe(200)
      // 100 rows of 202 cells ("#", 200 columns, "… N more") at ~10 bytes each are ~200 KB: 1 MB bounds it
      // (the unbounded page was 176 MiB for 200,000 commas).
      expect(Buffer.byteLength(page.text)).toBeLessThan(1_000_000)
      const { head, rows } = tableOf(page.doc)
      expect(head).toEqual(['#', 'h', ...Array.from({ length: 199 }, (_, j) => `(column ${j + 2})`), '…'])
      expect(rows).toHaveLength(100)
      // Row 1: `commas` commas are commas + 1 empty cells; 200 shown, the rest counted.
      const rest = (commas + 1 - 200).toLocaleString('en-US')
      expect(rest).toBe(commas === 200_000 ? '199,801' : '999,801')
      expect(rows[0]).toEqual(['1', ...Array(200).fill(''), `… ${rest} more`])
      // Rows 2–100 hold one cell "1": padded to the 200 columns shown, not to the widest row.
      expect(rows[1]).toEqual(['2', '1', ...Array(199).fill(''), ''])
      expect(rows[99]![0]).toBe('100')
      expect(page.text).toContain('Only the first 200 columns are shown: 1 row(s) here (the header counted) have more')
    })
  }

  it('cells cut at 2,000 characters, and the page at 500,000 characters of cells (hostile text escaped)', async () => {
    const long = await get(view('long.csv'))
    expect(long.status).toBe(200)
    const { head, rows } = tableOf(long.doc)
    expect(head).toEqual(['#', 'a', 'b', 'c', 'd', 'e'])
    const x = 'x'.repeat(1_999)
    // The header's 5 characters, then cells of 1,999: (500,000 − 5) / 1,999 = 250.1, so 250 whole cells
    // (rows 1–50), the 251st (row 51, column a) cut to 500,000 − 5 − 250 · 1,999 = 245 characters, the rest "…".
    expect(rows[49]).toEqual(['50', x, x, x, x, x])
    expect(rows[50]).toEqual(['51', `${'x'.repeat(245)}…`, '…', '…', '…', '…'])
    expect(rows[99]).toEqual(['100', '…', '…', '…', '…', '…'])
    expect(long.text).toContain('A page shows at most 500,000 characters of cells: 250 later cell(s) are cut short')
    expect(Buffer.byteLength(long.text)).toBeLessThan(600_000)
    const cell = await get(view('cell.csv'))
    const t = tableOf(cell.doc)
    // 3,600 × 28 = 100,800 characters: its first 2,000 shown (71 whole copies and 12 characters), then "…".
    expect(t.rows[0]).toEqual(['1', `${HOSTILE.repeat(71)}${HOSTILE.slice(0, 12)}…`, '<b>2</b>'])
    expect(cell.text).toContain('1 cell(s) longer than 2,000 characters are cut there')
    expect(cell.doc.querySelectorAll('main img, .artifact-table b').length).toBe(0)
    expect(Buffer.byteLength(cell.text)).toBeLessThan(100_000)
  })

  it('Parquet: the first 200 of 250 columns, said so', async () => {
    const page = await get(view('wide.parquet'))
    expect(page.status).toBe(200)
    const { head, rows } = tableOf(page.doc)
    expect(head).toEqual(['#', ...Array.from({ length: 200 }, (_, j) => `c${j + 1}`)])
    // Row 2 of column cJ holds J · 10.
    expect(rows[1]).toEqual(['2', ...Array.from({ length: 200 }, (_, j) => String((j + 1) * 10))])
    expect(page.text).toContain('Only the first 200 of its 250 columns are shown')
  })
})

describe('notebooks and code', () => {
  it('a notebook of 40 cells of 50,000 characters highlights the first 4 (200,000 characters), says so, and is cached', async () => {
    const first = await get(view('cells.ipynb'))
    expect(first.status).toBe(200)
    expect(first.headers.get('x-mtflow-preview')).toBe('rendered')
    const sources = [...first.doc.querySelectorAll('.notebook pre.source code')]
    expect(sources).toHaveLength(40)
    const spans = sources.map((code: any) => code.querySelectorAll('span').length)
    // Each line "x = 1  # …" has a number and a comment: 2 spans a line, 2,000 lines a cell.
    expect(spans.slice(0, 4)).toEqual([4_000, 4_000, 4_000, 4_000])
    expect(spans.slice(4)).toEqual(Array(36).fill(0))
    expect(sources.every((code: any) => code.textContent === PY_CELL)).toBe(true)
    expect(first.doc.querySelector('.highlight-note').textContent).toBe('Code is highlighted up to 200,000 characters a page: 36 block(s) after that (1,800,000 characters) are shown as plain text.')
    const second = await get(view('cells.ipynb'))
    expect(second.headers.get('x-mtflow-preview')).toBe('cached')
    expect(second.text).toBe(first.text)
    // Another page number is another preview.
    expect((await get(view('cells.ipynb', 2))).headers.get('x-mtflow-preview')).toBe('rendered')
  })

  it('served from the cache: a kept preview is not read again (its file changed on disk still shows what was recorded)', async () => {
    const tracker = new Tracker(home)
    const before = await get(view('lines.txt'))
    expect(before.headers.get('x-mtflow-preview')).toBe('rendered')
    writeFileSync(join(tracker.runDir(runId), 'artifacts', 'lines.txt'), 'changed\n')
    const after = await get(view('lines.txt'))
    expect(after.status).toBe(200)
    expect(after.headers.get('x-mtflow-preview')).toBe('cached')
    expect(after.text).not.toContain('changed')
    // Not in the cache, the changed file is refused (its sha256 is checked when it is read).
    expect((await get(`/api/runs/${runId}/artifacts/lines.txt`)).status).toBe(409)
  })

  it('a notebook renders 500,000 characters of markup; later markdown is its source and an HTML output its plain text', () => {
    const words = 'word '.repeat(40_000) // 200,000 characters
    const md = (source: string) => ({ cell_type: 'markdown', metadata: {}, source })
    const out = (data: Record<string, string>) => ({ cell_type: 'code', metadata: {}, execution_count: 1, source: 'x', outputs: [{ output_type: 'display_data', data }] })
    const html = renderNotebookHtml({
      metadata: {},
      cells: [
        md(words), // 200,000: rendered, 300,000 left
        md(`**${'x'.repeat(199_996)}**`), // 200,000: rendered, 100,000 left
        // 200,000 > 100,000: its text/plain (counted once, SVG and HTML refused); the budget ends.
        out({ 'image/svg+xml': `<svg>${'x'.repeat(199_989)}</svg>`, 'text/html': `<b>${words.slice(7)}</b>`, 'text/plain': 'the plain one' }),
        md('<script>alert(1)</script>'), // 25, but the budget has ended: its source as text
        out({ 'text/html': '<i>x</i>' }), // no other type: a note
      ],
    })
    const doc = parseHTML(`<main>${html}</main>`).document
    const cells = [...doc.querySelectorAll('.cell-markdown')]
    expect(cells[0].querySelector('p').textContent).toBe(words)
    expect(cells[1].querySelector('strong').textContent).toBe('x'.repeat(199_996))
    expect(doc.querySelector('.output-text pre').textContent).toBe('the plain one')
    expect(doc.querySelectorAll('.output-html, .output-svg, svg').length).toBe(0)
    expect(cells[2].querySelector('pre.markdown-source').textContent).toBe('<script>alert(1)</script>')
    expect(doc.querySelectorAll('script, i').length).toBe(0)
    expect(doc.querySelector('.output-unsupported').textContent).toBe("text/html not rendered: the notebook's markup budget (500,000 characters) is spent")
    expect(doc.querySelector('.markup-note').textContent).toBe('Markup (markdown, HTML, SVG) is rendered up to 500,000 characters a notebook: 3 cell(s) or output(s) after that are shown as text.')
  })

  it('a text of 60,000 lines shows 50,000, and says so', async () => {
    const page = await get(view('lines.txt'))
    expect(page.doc.querySelectorAll('pre.code .line').length).toBe(50_000)
    expect(page.text).toContain('Only the first 50,000 lines are shown.')
  })

  it('a notebook over 16 MiB is not rendered: a note and the download', async () => {
    const page = await get(view('huge.ipynb'))
    expect(page.status).toBe(200)
    expect(page.doc.querySelector('.notebook')).toBeNull()
    expect(page.text).toContain('A notebook larger than 16.0 MiB: not rendered.')
    expect([...page.doc.querySelectorAll('main a')].map((a: any) => a.getAttribute('href'))).toContain(`/api/runs/${runId}/artifacts/huge.ipynb`)
    expect(Buffer.byteLength(page.text)).toBeLessThan(20_000)
  })

  it('the registry’s source viewer: over the budget plain with the note, within it highlighted; kept by sha256', async () => {
    const big = await get('/registry/strategies/big/v/1')
    expect(big.status).toBe(200)
    const code = big.doc.querySelector('pre.code code')
    expect(code.textContent).toBe('const a = 1\n'.repeat(25_000))
    expect(code.querySelectorAll('span[class^="hljs-"]').length).toBe(0)
    expect(big.doc.querySelector('.highlight-note').textContent).toBe('Code is highlighted up to 200,000 characters a page: 1 block(s) after that (300,000 characters) are shown as plain text.')
    const mid = await get('/registry/strategies/mid/v/1')
    expect(mid.headers.get('x-mtflow-preview')).toBe('rendered')
    // 12,500 lines "const a = 1": a keyword and a number each.
    expect(mid.doc.querySelectorAll('pre.code code span[class^="hljs-"]').length).toBe(25_000)
    expect(mid.doc.querySelector('.highlight-note')).toBeNull()
    const again = await get('/registry/strategies/mid/v/1')
    expect(again.headers.get('x-mtflow-preview')).toBe('cached')
    expect(again.doc.querySelectorAll('pre.code code span[class^="hljs-"]').length).toBe(25_000)
  })
})

describe('deep pages, registry notebooks, nested code', () => {
  it('page 150 of a 20,000-row CSV shows rows 14,901–15,000 (quoted line breaks in the rows before counted right)', async () => {
    const page = await get(view('deep.csv', 150))
    expect(page.status).toBe(200)
    const { head, rows } = tableOf(page.doc)
    expect(head).toEqual(['#', 'n', 'v'])
    expect(rows).toHaveLength(100)
    expect(rows[0]).toEqual(['14,901', '14901', 'a\nb14901'])
    expect(rows[99]).toEqual(['15,000', '15000', 'a\nb15000'])
    expect(page.text).toContain('page 150 (rows 14901–15000)')
    const last = await get(view('deep.csv', 200))
    expect(tableOf(last.doc).rows.at(-1)).toEqual(['20,000', '20000', 'a\nb20000'])
    expect(last.text).not.toContain('next →')
    const past = await get(view('deep.csv', 201))
    expect(past.text).toContain('No rows on page 201 (the file has 20000 rows).')
    const first = await get(view('deep.csv'))
    expect(tableOf(first.doc).rows[0]).toEqual(['1', '1', 'a\nb1'])
  })

  it('/notebooks/NAME: a notebook over 16 MiB is not rendered: a note and the registry download', async () => {
    const page = await get('/notebooks/huge')
    expect(page.status).toBe(200)
    expect(page.doc.querySelector('.notebook')).toBeNull()
    expect(page.text).toContain('A notebook larger than 16.0 MiB: not rendered.')
    expect([...page.doc.querySelectorAll('main a')].map((a: any) => a.getAttribute('href'))).toContain('/api/registry/notebooks/huge/versions/1/files/huge.ipynb')
    expect(Buffer.byteLength(page.text)).toBeLessThan(20_000)
    const small = await get('/notebooks/small/v/1')
    expect(small.doc.querySelector('.notebook pre.source').textContent).toBe('print(1)')
    // Rendered once per version: the next request (by alias or number) is served from the views kept.
    expect(small.headers.get('x-mtflow-preview')).toBe('rendered')
    const again = await get('/notebooks/small')
    expect(again.headers.get('x-mtflow-preview')).toBe('cached')
    expect(again.doc.querySelector('.notebook').outerHTML).toBe(small.doc.querySelector('.notebook').outerHTML)
    // A new version shows at once (latest resolves first), rendered; another notebook whose file has the same
    // name is its own: neither is served the other's page.
    const registry = new Registry(home)
    const nb = (source: string) => JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: 'code', metadata: {}, execution_count: 1, source, outputs: [] }] })
    registry.register('notebooks', 'small', { files: { 'small.ipynb': nb('print(2)') } })
    const second = await get('/notebooks/small')
    expect(second.headers.get('x-mtflow-preview')).toBe('rendered')
    expect(second.doc.querySelector('.notebook pre.source').textContent).toBe('print(2)')
    registry.register('notebooks', 'twin', { files: { 'small.ipynb': nb('print(3)') } })
    const twin = await get('/notebooks/twin/v/1')
    expect(twin.headers.get('x-mtflow-preview')).toBe('rendered')
    expect(twin.doc.querySelector('.notebook pre.source').textContent).toBe('print(3)')
    expect((await get('/notebooks/small/v/1')).doc.querySelector('.notebook pre.source').textContent).toBe('print(1)')
  })

  it('a .ts of 1,000 nested template strings and 4,000 line breaks: a plain page of bounded size, text intact', async () => {
    const page = await get(view('nested.ts'))
    expect(page.status).toBe(200)
    const code = page.doc.querySelector('pre.code code')
    expect(code.textContent).toBe('`${'.repeat(1_000) + '\n'.repeat(4_000))
    expect(code.querySelectorAll('span[class^="hljs-"]').length).toBe(0)
    expect(page.text).toContain('1 block(s) are shown as plain text')
    // 7,000 characters of code in 4,000 line spans of < 40 characters, plus the page's frame (< 60 KB): not 248 MiB.
    expect(Buffer.byteLength(page.text)).toBeLessThan(7_000 + 4_000 * 40 + 60_000)
  })
})
