// The HTML pages over a real socket on a hand-made workspace: every page under the no-script CSP; runs
// search (and a malformed filter shown with its position); run detail with its params, metrics and a
// chart whose line has one vertex per logged point; compare with the differing params marked; the
// registry; notebooks rendered with their hostile outputs neutralised; dashboards, latest and any version;
// names with markup escaped; traversal refused.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseHTML } from 'linkedom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'

/** Every request needs the workspace token: these tests send it (test/security/access.test.ts tries without). */
const fetch = (url: string, init: RequestInit = {}) => globalThis.fetch(url, { ...init, headers: { authorization: `Bearer ${workspaceToken(home)}`, ...(init.headers as Record<string, string> | undefined) } })

let home: string
let server: Listening
const ids: Record<string, string> = {}
const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 1)

function curve(values: number[]): { key: string; value: number; step: number; timestamp: number }[] {
  return values.map((value, i) => ({ key: 'equity', value, step: i, timestamp: T0 + i * DAY }))
}

const HOSTILE_NAME = '<img src=x onerror=alert(1)>'
const XSS_NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [
    { cell_type: 'markdown', metadata: {}, source: ['# Findings\n', 'see [the docs](javascript:alert(1)) and <script>alert(2)</script>'] },
    {
      cell_type: 'code',
      metadata: {},
      execution_count: 1,
      source: 'show(table)',
      outputs: [
        { output_type: 'execute_result', execution_count: 1, metadata: {}, data: { 'text/html': '<table><tr><td>safe cell</td></tr></table><img src=x onerror="alert(3)">', 'text/plain': 'table' } },
        { output_type: 'display_data', metadata: {}, data: { 'image/svg+xml': '<svg onload="alert(4)"><circle r="3"/></svg>' } },
        { output_type: 'stream', name: 'stdout', text: 'plain words\n' },
      ],
    },
  ],
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-pages-'))
  writeFileSync(join(home, 'secret.txt'), 'do not serve')
  const tracker = new Tracker(home)
  const make = (name: string, params: Record<string, string | number>, sharpe: number, equity: number[]) => {
    const run = tracker.startRun({ experiment: 'pages', name, params, tags: { 'mtflow.kind': 'backtest' } })
    run.logMetrics({ sharpe, trades: 12 })
    run.logBatch({ metrics: curve(equity) })
    run.logArtifact({ name: 'notebook.ipynb', data: JSON.stringify(XSS_NOTEBOOK) })
    run.end()
    return run.id
  }
  ids.alpha = make('alpha', { fast: 10, slow: 30 }, 1.25, [100, 110, 105, 120, 130])
  ids.beta = make('beta', { fast: 20, slow: 30 }, 0.5, [100, 90, 95, 97, 99])
  ids.hostile = make(HOSTILE_NAME, { fast: '<script>x</script>', slow: 30 }, -0.25, [100, 101])
  const reg = new Registry(home)
  reg.register('strategies', 's', { files: { 'source.ts': 'export const a = 1 < 2 && "<b>"' } })
  reg.register('strategies', 's', { files: { 'source.ts': 'export const a = 2' } })
  reg.register('notebooks', 'research', { files: { 'notebook.ipynb': JSON.stringify(XSS_NOTEBOOK) }, runs: [ids.alpha!] })
  reg.register('dashboards', 'board', { files: { 'index.html': '<!DOCTYPE html><p>first snapshot</p>' }, runs: [ids.alpha!] })
  reg.register('dashboards', 'board', { files: { 'index.html': '<!DOCTYPE html><p>second snapshot</p>' }, runs: [ids.beta!] })
  server = await startServer({ home, token: workspaceToken(home), port: 0 })
})
afterAll(async () => {
  await server.close()
  rmSync(home, { recursive: true, force: true })
})

async function get(path: string): Promise<{ status: number; text: string; headers: Headers; doc: any }> {
  const response = await fetch(`${server.url}${path}`)
  const text = await response.text()
  return { status: response.status, text, headers: response.headers, doc: parseHTML(text).document }
}

/** Pages carry the CSP and no script of their own. */
function expectSafePage(page: { status: number; text: string; headers: Headers; doc: any }): void {
  expect(page.headers.get('content-type')).toMatch(/^text\/html/)
  expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
  expect(page.headers.get('content-security-policy')).toContain("script-src 'self';")
  expect(page.doc.querySelectorAll('script:not([src^="/assets/mtflow."]), iframe, object, embed').length).toBe(0)
  for (const element of page.doc.querySelectorAll('*')) {
    for (const name of element.getAttributeNames() as string[]) {
      expect(name, `<${element.tagName} ${name}>`).not.toMatch(/^on/i)
      expect(element.getAttribute(name), `<${element.tagName} ${name}>`).not.toMatch(/^\s*(javascript|vbscript|data:text)/i)
    }
  }
}

function rowNames(doc: any): string[] {
  return [...doc.querySelectorAll('form.compare tbody tr')].map((tr: any) => tr.querySelectorAll('td')[1].textContent)
}

describe('pages', () => {
  it('home: counts and experiments, safe', async () => {
    const page = await get('/')
    expect(page.status).toBe(200)
    expectSafePage(page)
    const cards = [...page.doc.querySelectorAll('.card')].map((c: any) => c.textContent)
    expect(cards).toContain('1experiments')
    expect(cards).toContain('3runs')
    expect(cards).toContain('1dashboards')
  })

  it('runs: all, filtered by the search language, and a malformed filter with its position', async () => {
    const all = await get('/runs')
    expectSafePage(all)
    expect(rowNames(all.doc).sort()).toEqual([HOSTILE_NAME, 'alpha', 'beta'].sort())
    const some = await get(`/runs?filter=${encodeURIComponent('metrics.sharpe > 0.4 and params.slow = "30"')}&order_by=${encodeURIComponent('metrics.sharpe asc')}`)
    expect(rowNames(some.doc)).toEqual(['beta', 'alpha'])
    const bad = await get(`/runs?filter=${encodeURIComponent('metrics.sharpe >')}`)
    expect(bad.status).toBe(400)
    expectSafePage(bad)
    expect(bad.doc.querySelector('[role=alert]').textContent).toMatch(/position 16/)
  })

  it('run detail: params, metrics and an equity chart with one vertex per point', async () => {
    const page = await get(`/runs/${ids.alpha}`)
    expect(page.status).toBe(200)
    expectSafePage(page)
    const cells = [...page.doc.querySelectorAll('td')].map((td: any) => td.textContent)
    expect(cells).toContain('1.25')
    expect(cells).toContain('fast')
    expect(cells).toContain('10')
    const svg = page.doc.querySelector('svg[aria-label="equity history"]')
    expect(svg).not.toBeNull()
    const line = svg.querySelector('g[aria-description="equity history"] path')
    // Five points: a move and four line segments.
    expect((line.getAttribute('d').match(/[ML]/g) ?? []).length).toBe(5)
    expect(page.text).toContain(`/runs/${ids.alpha}/artifacts/view?path=notebook.ipynb`)
  })

  it('shows what is logged to a finished run after its page was cached', async () => {
    const before = await get(`/runs/${ids.beta}`)
    expect(before.text).not.toContain('reviewed-by-desk')
    new Tracker(home).setTag(ids.beta!, 'review', 'reviewed-by-desk')
    await new Promise((resolve) => setTimeout(resolve, 150)) // past the cache's 100 ms re-check window
    const after = await get(`/runs/${ids.beta}`)
    expect(after.text).toContain('reviewed-by-desk')
    const compared = await get(`/compare?runs=${ids.alpha},${ids.beta}`)
    expect(compared.text).not.toContain('desk_score')
    new Tracker(home).logMetric(ids.beta!, 'desk_score', 7)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect((await get(`/compare?runs=${ids.alpha},${ids.beta}`)).text).toContain('desk_score')
  })

  it('escapes markup in names and params', async () => {
    const page = await get(`/runs/${ids.hostile}`)
    expectSafePage(page)
    expect(page.doc.querySelector('h1').textContent).toContain(HOSTILE_NAME)
    expect(page.doc.querySelectorAll('main img').length).toBe(0)
    expect(page.text).toContain('&lt;script&gt;x&lt;/script&gt;')
  })

  it('compare: equity curves overlaid, one line per run; differing params marked', async () => {
    const page = await get(`/compare?runs=${ids.alpha},${ids.beta}`)
    expect(page.status).toBe(200)
    expectSafePage(page)
    const svg = page.doc.querySelector('#equity-chart svg[aria-label="equity curves"]')
    expect(svg).not.toBeNull()
    expect(svg.querySelectorAll('g[aria-description="equity curves"] path').length).toBe(2)
    const rows = [...page.doc.querySelectorAll('tr')].map((tr: any) => ({ key: tr.querySelector('td')?.textContent, differs: tr.getAttribute('class') === 'differs' }))
    expect(rows.find((r) => r.key === 'fast')?.differs).toBe(true)
    expect(rows.find((r) => r.key === 'slow')?.differs).toBe(false)
    expect(rows.find((r) => r.key === 'sharpe')?.differs).toBe(true)
    expect(rows.find((r) => r.key === 'trades')?.differs).toBe(false)
    // Ticking runs on /runs submits runs=A&runs=B: the same page.
    const ticked = await get(`/compare?runs=${ids.alpha}&runs=${ids.beta}`)
    expect(ticked.doc.querySelectorAll('g[aria-description="equity curves"] path').length).toBe(2)
    const missing = await fetch(`${server.url}/compare?runs=nope`)
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: string }).error).toMatch(/nope/)
  })

  it('registry: kinds, versions, strategy source escaped; a bad kind is a 400', async () => {
    const page = await get('/registry/strategies/s')
    expectSafePage(page)
    const versions = [...page.doc.querySelectorAll('tbody tr')].map((tr: any) => tr.querySelector('td').textContent)
    expect(versions.slice(0, 2)).toEqual(['v1', 'v2'])
    const source = await get('/registry/strategies/s/v/1')
    expect(source.doc.querySelector('pre code').textContent).toBe('export const a = 1 < 2 && "<b>"')
    expect(source.doc.querySelectorAll('main b').length).toBe(0)
    const bad = await fetch(`${server.url}/registry/nope`)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toMatch(/registry kind/)
  })

  it('notebooks: rendered with markdown, outputs and stream text; every hostile part neutralised', async () => {
    // The old address of a run's notebook redirects to the artifact viewer (size cap, cache); the default path is notebook.ipynb.
    for (const old of [`/runs/${ids.alpha}/notebook?path=notebook.ipynb`, `/runs/${ids.alpha}/notebook`]) {
      const moved = await fetch(`${server.url}${old}`, { redirect: 'manual' })
      expect(moved.status, old).toBe(302)
      expect(moved.headers.get('location'), old).toBe(`/runs/${ids.alpha}/artifacts/view?path=notebook.ipynb`)
    }
    for (const path of ['/notebooks/research', '/notebooks/research/v/1', `/runs/${ids.alpha}/notebook?path=notebook.ipynb`]) {
      const page = await get(path)
      expect(page.status).toBe(200)
      expectSafePage(page)
      expect(page.doc.querySelector('.notebook h1').textContent).toBe('Findings')
      expect(page.text).toContain('safe cell')
      expect(page.text).toContain('plain words')
      expect(page.doc.querySelector('.notebook svg circle')).not.toBeNull()
    }
  })

  it('dashboards: the latest snapshot and any version, byte for byte', async () => {
    const latest = await get('/dashboards/board')
    expect(latest.status).toBe(200)
    expect(latest.text).toMatch(/^<!DOCTYPE html>.*<header class="site">.*<\/header><p>second snapshot<\/p>$/s)
    expect(latest.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect((await get('/dashboards/board/v/1')).text).toMatch(/<\/header><p>first snapshot<\/p>$/)
    const none = await fetch(`${server.url}/dashboards/board/v/9`)
    expect(none.status).toBe(404)
    expect(((await none.json()) as { error: string }).error).toBeTruthy()
  })

  it('serves a version\'s listed files through the API: the notebook as JSON, HTML only as a sandboxed download', async () => {
    const notebook = await fetch(`${server.url}/api/registry/notebooks/research/versions/1/files/notebook.ipynb`)
    expect(notebook.status).toBe(200)
    expect(JSON.parse(await notebook.text())).toEqual(XSS_NOTEBOOK)
    const html = await fetch(`${server.url}/api/registry/dashboards/board/versions/latest/files/index.html`)
    expect(html.headers.get('content-disposition')).toBe('attachment')
    expect(html.headers.get('content-security-policy')).toContain('sandbox')
    expect(await html.text()).toBe('<!DOCTYPE html><p>second snapshot</p>')
    for (const name of ['version.json', '..%2F..%2F..%2Fsecret.txt', '%2e%2e']) {
      const response = await fetch(`${server.url}/api/registry/dashboards/board/versions/1/files/${name}`)
      expect(response.status, name).toBe(404)
      const body = (await response.json()) as { error: string }
      expect(body.error).toMatch(name === 'version.json' ? /has no file "version.json"/ : /./)
    }
  })

  it('refuses notebook paths outside the run, in any encoding', async () => {
    for (const path of ['../../secret.txt', '..%2F..%2Fsecret.txt', '%252e%252e/%252e%252e/secret.txt', '/etc/passwd', '..\\..\\secret.txt']) {
      const response = await fetch(`${server.url}/runs/${ids.alpha}/notebook?path=${encodeURIComponent(path)}`)
      const text = await response.text()
      expect(response.status, path).toBeGreaterThanOrEqual(400)
      expect(response.status, path).toBeLessThan(500)
      expect(JSON.parse(text).error).toBeTruthy()
      expect(text).not.toContain('do not serve')
    }
  })
})
