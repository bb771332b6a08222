// Artifact previews (lib/server/artifact-pages.ts) over a real socket: a CSV as a paged table (100 rows a
// page, header, hostile cells as text, quoted fields, ragged rows), a CSV over 10 MiB read only in part, a
// Parquet file paged with its times in ISO 8601, JSON pretty-printed and highlighted, a notebook rendered,
// code highlighted, images as <img> (an SVG never inlined, served under a no-script CSP), a binary file as a
// download link; traversal, absolute and unknown paths and bad page numbers refused with a 4xx.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { columnsParquet } from '../../lib/core/index.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { artifactViewUrl, csvRows } from '../../lib/server/artifact-pages.js'
import { Tracker } from '../../lib/track/index.js'
import { getPage, tableOf, type Page } from './http.js'

let home: string
let server: Listening
let runId: string

const fetchAuth = (url: string) => globalThis.fetch(url, { headers: { authorization: `Bearer ${workspaceToken(home)}` }, redirect: 'manual' })

const get = (path: string): Promise<Page> => getPage(server, workspaceToken(home), path, { redirect: 'manual' })

const view = (path: string, page?: number) => `${artifactViewUrl(runId, path)}${page === undefined ? '' : `&page=${page}`}`


/** 250 data rows: row i (1-based) is "i,i*3,name-i"; a few rows are hostile, quoted or ragged. */
function tradesCsv(): string {
  const lines = ['id,value,name']
  for (let i = 1; i <= 250; i++) {
    if (i === 2) lines.push('2,6,<script>alert(1)</script>')
    else if (i === 3) lines.push(`3,9,"=cmd|' /C calc'!A0"`)
    else if (i === 4) lines.push('4,12,"a, ""quoted""\nline"')
    else if (i === 5) lines.push('5,15')
    else if (i === 6) lines.push('6,18,name-6,extra<b>')
    else lines.push(`${i},${i * 3},name-${i}`)
  }
  return `${lines.join('\r\n')}\r\n`
}

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)" width="10" height="10"><script>alert(2)</script><rect width="10" height="10"/></svg>'
const HOSTILE = '"><img src=x onerror=alert(1)>.png'
const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 1)

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-artifact-pages-'))
  const tracker = new Tracker(home)
  const run = tracker.startRun({ experiment: 'artifacts', name: 'probe' })
  run.logArtifact({ name: 'trades.csv', data: tradesCsv() })
  // 150 rows: time = T0 + i days, close = 100 + i / 4, symbol alternating; row 7's close missing (NaN = NULL).
  const n = 150
  const time = Float64Array.from({ length: n }, (_, i) => T0 + i * DAY)
  const close = Float64Array.from({ length: n }, (_, i) => (i === 7 ? NaN : 100 + i / 4))
  const symbol = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'BTC' : '<i>ETH</i>'))
  run.logArtifact({ name: 'tables/bars.parquet', data: columnsParquet({ time, close, symbol }) })
  run.logArtifact({ name: 'report.json', data: '{"sharpe":1.5,"tags":["a","<img src=x onerror=alert(1)>"]}' })
  run.logArtifact({ name: 'broken.json', data: '{"a": <b>' })
  run.logArtifact({ name: 'notes.py', data: 'def f():\n    return "</code><script>alert(3)</script>"\n' })
  run.logArtifact({ name: 'chart.png', data: PNG })
  run.logArtifact({ name: 'chart.svg', data: SVG })
  run.logArtifact({ name: 'blob.bin', data: Uint8Array.from([0, 1, 2, 0, 255, 254]) })
  run.logArtifact({
    name: 'study.ipynb',
    data: JSON.stringify({ metadata: { kernelspec: { language: 'typescript' } }, cells: [{ cell_type: 'code', metadata: {}, source: 'const x = 1', outputs: [{ output_type: 'stream', name: 'stdout', text: '<b>out</b>' }] }] }),
  })
  // 11 MiB of CSV: more than the preview reads (10 MiB). Each row is 32 bytes: "NNNNNNN,xxxxxxxxxxxxxxxxxxxxxxx\n".
  const row = (i: number) => `${String(i).padStart(7, '0')},${'x'.repeat(23)}\n`
  const rows = Math.ceil((11 * 2 ** 20) / 32)
  run.logArtifact({ name: 'big.csv', data: `id,pad\n${Array.from({ length: rows }, (_, i) => row(i + 1)).join('')}` })
  run.logArtifact({ name: 'bad.parquet', data: 'PAR1 not really <b>parquet</b> PAR1' })
  run.logArtifact({ name: 'bad.ipynb', data: '{"cells": 3}' })
  run.logArtifact({ name: 'edited.csv', data: 'a,b\n1,2\n' })
  // A hostile artifact name: shown as text in the heading, the title and the image's alt, and opened by its links.
  run.logArtifact({ name: HOSTILE, data: PNG })
  // Text of an unknown extension with a three-byte character across the 8 KiB a type guess reads.
  run.logArtifact({ name: 'notes.unknown', data: `${'a'.repeat(8187)}€€€ and more\n` })
  run.end()
  runId = run.id
  // Changed on disk after it was recorded: its sha256 no longer matches.
  writeFileSync(join(tracker.runDir(runId), 'artifacts', 'edited.csv'), 'a,b\n6,6\n')
  writeFileSync(join(home, 'outside.csv'), 'secret,1\n')
  server = await startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' })
})
afterAll(async () => {
  await server?.close()
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

describe('CSV', () => {
  it('page 1: the header, rows 1–100, hostile cells as text, quoted fields whole, ragged rows padded or widened', async () => {
    const page = await get(view('trades.csv'))
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    const { head, rows } = tableOf(page.doc)
    // Row 6 has four cells: the extra one gets a column of its own.
    expect(head).toEqual(['#', 'id', 'value', 'name', '(column 4)'])
    expect(rows).toHaveLength(100)
    expect(rows[0]).toEqual(['1', '1', '3', 'name-1', ''])
    expect(rows[1]).toEqual(['2', '2', '6', '<script>alert(1)</script>', ''])
    expect(rows[2]).toEqual(['3', '3', '9', "=cmd|' /C calc'!A0", ''])
    expect(rows[3]).toEqual(['4', '4', '12', 'a, "quoted"\nline', ''])
    expect(rows[4]).toEqual(['5', '5', '15', '', ''])
    expect(rows[5]).toEqual(['6', '6', '18', 'name-6', 'extra<b>'])
    expect(rows[99]).toEqual(['100', '100', '300', 'name-100', ''])
    // As text: no element from a cell reached the page.
    expect(page.doc.querySelectorAll('main script, .artifact-table b').length).toBe(0)
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(page.text).toMatch(/2 row\(s\) on this page have a different number of cells than the header \(3\)/)
    expect(page.doc.querySelector('.pager').textContent).toBe('page 1 (rows 1–100) · next →')
  })

  it('page 2 holds rows 101–200, page 3 the last 50 with no next link; past the end and bad numbers refused or said', async () => {
    const two = tableOf((await get(view('trades.csv', 2))).doc)
    expect(two.rows).toHaveLength(100)
    expect(two.rows[0]).toEqual(['101', '101', '303', 'name-101'])
    expect(two.rows[99]).toEqual(['200', '200', '600', 'name-200'])
    const three = await get(view('trades.csv', 3))
    const t3 = tableOf(three.doc)
    expect(t3.rows).toHaveLength(50)
    expect(t3.rows[49]).toEqual(['250', '250', '750', 'name-250'])
    expect(three.doc.querySelector('.pager').textContent).toBe('← previous · page 3 (rows 201–250)')
    const past = await get(view('trades.csv', 9))
    expect(past.status).toBe(200)
    expect(past.text).toContain('No rows on page 9 (the file has 250 rows)')
    for (const bad of ['0', '-1', '1e308', '99999999999', 'x', '1.5']) expect((await get(`${artifactViewUrl(runId, 'trades.csv')}&page=${encodeURIComponent(bad)}`)).status, bad).toBe(400)
  })

  it('a CSV over 10 MiB: the first 10 MiB only, said so, the cut last row not shown', async () => {
    // Rows are 32 bytes after the 7-byte header line: 10 MiB hold (10·2^20 − 7) / 32 = 327,679.78 rows, so
    // row 327,679 is the last whole one and row 327,680 is cut.
    const first = await get(view('big.csv'))
    expect(first.status).toBe(200)
    expect(first.text).toContain('the preview reads its first 10.0 MiB only')
    expect(tableOf(first.doc).rows[0]).toEqual(['1', '0000001', 'x'.repeat(23)])
    const lastPage = Math.ceil(327_679 / 100)
    const last = await get(view('big.csv', lastPage))
    const rows = tableOf(last.doc).rows
    expect(rows.at(-1)![1]).toBe('0327679')
    expect(rows).toHaveLength(327_679 - (lastPage - 1) * 100)
    expect(last.doc.querySelector('.pager').textContent).not.toContain('next')
  })

  it('csvRows stops parsing once it has the rows asked for', () => {
    expect(csvRows('a,b\n1,2\n3,4\n5,6\n', ',', 2)).toEqual({ rows: [['a', 'b'], ['1', '2']], more: true, complete: false })
    expect(csvRows('a,b\r\n1,"x\r\ny"', ',', 10)).toEqual({ rows: [['a', 'b'], ['1', 'x\r\ny']], more: false, complete: true })
  })
})

describe('other types', () => {
  it('Parquet: paged, times in ISO 8601, NULL empty, text escaped', async () => {
    const page = await get(view('tables/bars.parquet'))
    expect(page.status).toBe(200)
    const { head, rows } = tableOf(page.doc)
    expect(head).toEqual(['#', 'time', 'close', 'symbol'])
    expect(rows).toHaveLength(100)
    expect(rows[0]).toEqual(['1', '2024-01-01T00:00:00.000Z', '100', 'BTC'])
    expect(rows[1]).toEqual(['2', '2024-01-02T00:00:00.000Z', '100.25', '<i>ETH</i>'])
    expect(rows[7]).toEqual(['8', '2024-01-08T00:00:00.000Z', '', '<i>ETH</i>'])
    expect(page.doc.querySelectorAll('.artifact-table i').length).toBe(0)
    const two = tableOf((await get(view('tables/bars.parquet', 2))).doc)
    expect(two.rows).toHaveLength(50)
    // Row 150: i = 149, close = 100 + 149/4 = 137.25, 149 days after 2024-01-01 = 2024-05-29.
    expect(two.rows[49]).toEqual(['150', '2024-05-29T00:00:00.000Z', '137.25', '<i>ETH</i>'])
  })

  it('JSON pretty-printed and highlighted; invalid JSON shown as it is', async () => {
    const page = await get(view('report.json'))
    expect(page.status).toBe(200)
    const code = page.doc.querySelector('pre.code code')
    expect(code.textContent).toBe('{\n  "sharpe": 1.5,\n  "tags": [\n    "a",\n    "<img src=x onerror=alert(1)>"\n  ]\n}')
    expect(code.querySelectorAll('.line').length).toBe(7)
    expect(code.querySelector('.hljs-attr').textContent).toBe('"sharpe"')
    expect(page.doc.querySelectorAll('main img').length).toBe(0)
    const broken = await get(view('broken.json'))
    expect(broken.text).toContain('Not valid JSON: shown as it is.')
    expect(broken.doc.querySelector('pre.code code').textContent).toBe('{"a": <b>')
  })

  it('code highlighted, a notebook rendered, a binary file a download link', async () => {
    const py = await get(view('notes.py'))
    const code = py.doc.querySelector('pre.code code')
    expect(code.className).toBe('hljs language-python')
    expect(code.textContent).toBe('def f():\n    return "</code><script>alert(3)</script>"\n')
    expect(code.querySelector('.hljs-keyword').textContent).toBe('def')
    expect(py.doc.querySelectorAll('main script').length).toBe(0)
    const nb = await get(view('study.ipynb'))
    expect(nb.doc.querySelector('.notebook pre.source code .hljs-keyword').textContent).toBe('const')
    expect(nb.doc.querySelector('.notebook .stream-stdout pre').textContent).toBe('<b>out</b>')
    const bin = await get(view('blob.bin'))
    expect(bin.text).toContain('No preview for this type of file.')
    expect([...bin.doc.querySelectorAll(`a[href="/api/runs/${runId}/artifacts/blob.bin"]`)].map((a: any) => a.textContent)).toEqual(['download', 'download (6 B)'])
  })

  it('images as <img>: an SVG never inlined, served as an image under a CSP that runs nothing', async () => {
    for (const name of ['chart.png', 'chart.svg']) {
      const page = await get(view(name))
      const img = page.doc.querySelector('main img.artifact-image')
      expect(img.getAttribute('src')).toBe(`/runs/${runId}/artifacts/image?path=${name}`)
      expect(page.text).not.toContain('onload')
      expect(page.doc.querySelectorAll('main svg').length).toBe(0)
    }
    const svg = await fetchAuth(`${server.url}/runs/${runId}/artifacts/image?path=chart.svg`)
    expect(svg.status).toBe(200)
    expect(svg.headers.get('content-type')).toBe('image/svg+xml')
    expect(svg.headers.get('x-content-type-options')).toBe('nosniff')
    expect(svg.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'; sandbox")
    expect(await svg.text()).toBe(SVG)
    const png = await fetchAuth(`${server.url}/runs/${runId}/artifacts/image?path=chart.png`)
    expect(png.headers.get('content-type')).toBe('image/png')
    expect(Buffer.from(await png.arrayBuffer()).equals(PNG)).toBe(true)
    expect((await fetchAuth(`${server.url}/runs/${runId}/artifacts/image?path=trades.csv`)).status).toBe(400)
  })
})

describe('unreadable and changed files', () => {
  it('a Parquet or notebook the previewer cannot read is said on the page with the download; a changed file is a 409', async () => {
    const pq = await get(view('bad.parquet'))
    expect(pq.status).toBe(200)
    expect(pq.doc.querySelector('.error-box').textContent).toMatch(/^artifact bad\.parquet: /)
    expect(pq.doc.querySelectorAll('main b').length).toBe(0)
    expect([...pq.doc.querySelectorAll('a')].map((a: any) => a.textContent)).toContain('download (35 B)')
    const nb = await get(view('bad.ipynb'))
    expect(nb.status).toBe(200)
    expect(nb.doc.querySelector('.error-box').textContent).toBe('notebook "cells" must be an array (received 3)')
    const edited = await get(view('edited.csv'))
    expect(edited.status).toBe(409)
    expect(edited.text).not.toContain('6,6')
  })
})

describe('names and types', () => {
  it('a hostile artifact name is text in the heading, the title and the alt, runs nothing, and its links open it', async () => {
    const page = await get(view(HOSTILE))
    expect(page.status).toBe(200)
    expect(page.doc.querySelector('[onerror]')).toBeNull()
    expect(page.doc.querySelector('h1').textContent).toContain(HOSTILE)
    expect(page.doc.querySelector('title').textContent).toContain(HOSTILE)
    const img = page.doc.querySelector('main img')
    expect(img.getAttribute('alt')).toBe(HOSTILE)
    const image = await fetchAuth(`${server.url}${img.getAttribute('src')}`)
    expect(image.status).toBe(200)
    expect(Buffer.from(await image.arrayBuffer()).equals(PNG)).toBe(true)
  })

  it('text of an unknown extension with a multi-byte character cut by the 8 KiB guess is still text', async () => {
    const page = await get(view('notes.unknown'))
    expect(page.status).toBe(200)
    expect(page.text).toContain('€ and more')
    expect(page.text).not.toContain('No preview')
  })
})

describe('paths', () => {
  it('traversal, encoded traversal, absolute paths and backslashes are 400; unknown artifacts and runs 404; nothing outside is read', async () => {
    for (const path of ['../../server-token', '../../../outside.csv', '%2e%2e/%2e%2e/server-token', '%252e%252e/%252e%252e/server-token', '/etc/passwd', '/' + join(home, 'outside.csv'), 'tables/../../x.csv', '..\\..\\server-token', 'a/./b.csv', '']) {
      const res = await get(`/runs/${runId}/artifacts/view?path=${encodeURIComponent(path)}`)
      expect(res.status, path).toBe(400)
      expect(res.text, path).not.toContain('secret')
      expect((await get(`/runs/${runId}/artifacts/image?path=${encodeURIComponent(path)}`)).status, path).toBe(400)
    }
    expect((await get(`/runs/${runId}/artifacts/view`)).status).toBe(400)
    expect((await get(view('nope.csv'))).status).toBe(404)
    expect((await get(`/runs/nosuchrun/artifacts/view?path=trades.csv`)).status).toBe(404)
    expect((await get(`/runs/..%2F..%2Fserver-token/artifacts/view?path=trades.csv`)).status).toBeGreaterThanOrEqual(400)
  })
})
