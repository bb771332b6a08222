// The browser assets over a real socket: the one script bundle (every lib/server/assets/*.js, core.js first)
// by its plain name (revalidated: ETag, 304) and by its hash name (immutable); the favicon; nothing else
// under /assets whatever the path tries (traversal, encodings, backslashes, NUL, long names); the token
// needed as for pages; the exact page CSP; and every page kind, dashboards included, linking the bundle and
// the icon and carrying the site navigation.

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseHTML } from 'linkedom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dashboardDocument } from '../../lib/report/index.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'

const ASSETS = fileURLToPath(new URL('../../lib/server/assets/', import.meta.url))
/** Written out here, not imported: a loosened policy must fail this test. */
const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

let home: string
let server: Listening
let token: string
const ids: string[] = []

/** A raw GET: the path goes on the wire exactly as written (fetch would normalise `..` and encodings). */
function raw(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers: { authorization: `Bearer ${token}`, ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-assets-'))
  writeFileSync(join(home, 'secret.txt'), 'do not serve')
  const tracker = new Tracker(home)
  for (const name of ['a', 'b']) {
    const run = tracker.startRun({ experiment: 'assets', name, params: { fast: name === 'a' ? 1 : 2 } })
    run.logMetrics({ sharpe: 1 })
    run.end()
    ids.push(run.id)
  }
  const reg = new Registry(home)
  reg.register('strategies', 's', { files: { 'source.ts': 'export const a = 1' } })
  reg.register('notebooks', 'nb', { files: { 'notebook.ipynb': JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }) } })
  // A dashboard as `mtflow dashboard publish` writes it (its own header: brand and name, no links).
  const doc = dashboardDocument({ name: 'probe', title: 'Probe', description: 'a probe', params: {}, render: () => ({ title: '', body: '', runs: [] }) }, { title: 'Probe <board>', body: '<p id="probe-body">probe body</p>', runs: [] }, { now: Date.UTC(2024, 0, 1), params: {} })
  reg.register('dashboards', 'probe', { files: { 'index.html': doc } })
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0 })
})
afterAll(async () => {
  await server?.close()
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

/** The bundle as the brief defines it, built here from the folder: core.js, then the rest by name. */
function expectedParts(): string[] {
  const names = readdirSync(ASSETS).filter((n) => n.endsWith('.js'))
  const rest = names.filter((n) => n !== 'core.js').sort()
  return ['core.js', ...rest].map((n) => readFileSync(join(ASSETS, n), 'utf8').trim())
}

describe('the script bundle', () => {
  it('is every assets/*.js, core.js first, as JavaScript with nosniff, revalidated by ETag under its plain name', async () => {
    const r = await raw('/assets/mtflow.js')
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(r.headers['x-content-type-options']).toBe('nosniff')
    expect(r.headers['cache-control']).toBe('no-cache')
    const text = r.body.toString('utf8')
    const parts = expectedParts()
    expect(parts.length).toBeGreaterThanOrEqual(2)
    // Each part whole, in order: core.js's text comes first, every other file's after the one before it.
    let at = -1
    for (const part of parts) {
      const i = text.indexOf(part)
      expect(i, part.slice(0, 60)).toBeGreaterThan(at)
      at = i
    }
    expect(text.indexOf(parts[0]!)).toBeLessThan(40) // only the "/* core.js */" label before it
    const etag = r.headers.etag as string
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/)
    // The same bytes' sha256, as the hash URL names it.
    expect(etag.slice(1, -1)).toBe(createHash('sha256').update(r.body).digest('hex').slice(0, 32))

    const again = await raw('/assets/mtflow.js', { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(again.body.length).toBe(0)
    expect((await raw('/assets/mtflow.js', { 'if-none-match': `"x", W/${etag}` })).status).toBe(304)
    expect((await raw('/assets/mtflow.js', { 'if-none-match': '"0123"' })).status).toBe(200)
  })

  it('is served for good under its hash name, the one pages link', async () => {
    const plain = await raw('/assets/mtflow.js')
    const hash16 = createHash('sha256').update(plain.body).digest('hex').slice(0, 16)
    const r = await raw(`/assets/mtflow.${hash16}.js`)
    expect(r.status).toBe(200)
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(r.body.equals(plain.body)).toBe(true)
    const home = parseHTML((await raw('/')).body.toString('utf8')).document
    expect([...home.querySelectorAll('script')].map((s) => s.getAttribute('src'))).toEqual([`/assets/mtflow.${hash16}.js`])
    // Another hash (an old bundle's) is not served.
    expect((await raw(`/assets/mtflow.${'0'.repeat(16)}.js`)).status).toBe(404)
  })

  it('the favicon: the SVG file at /favicon.ico and /assets/favicon.svg, unable to run anything', async () => {
    const svg = readFileSync(join(ASSETS, 'favicon.svg'))
    for (const path of ['/favicon.ico', '/assets/favicon.svg']) {
      const r = await raw(path)
      expect(r.status, path).toBe(200)
      expect(r.headers['content-type']).toBe('image/svg+xml')
      expect(r.headers['content-security-policy']).toContain('sandbox')
      expect(r.body.equals(svg)).toBe(true)
    }
  })

  it('needs the token, as pages do', async () => {
    for (const path of ['/assets/mtflow.js', '/favicon.ico', '/assets/favicon.svg']) {
      const r = await raw(path, { authorization: '' })
      expect(r.status, path).toBe(401)
      expect(r.body.toString()).not.toContain('mtflow.ready')
    }
  })

  it('nothing else under /assets: traversal, encodings, backslashes, NUL, long names and the parts by name are 404 JSON', async () => {
    const hostile = [
      '/assets/core.js',
      '/assets/runs.js',
      '/assets/',
      '/assets',
      '/assets/mtflow.js/',
      '/assets/MTFLOW.JS',
      '/assets/mtflow.js%00',
      '/assets/mtflow.js%00.svg',
      '/assets/%00',
      '/assets/../package.json',
      '/assets/../../../package.json',
      '/assets/..%2f..%2f..%2fpackage.json',
      '/assets/%2e%2e/%2e%2e/%2e%2e/package.json',
      '/assets/%252e%252e%252f%252e%252e%252fpackage.json',
      '/assets/..%5c..%5c..%5cpackage.json',
      '/assets/..\\..\\..\\package.json',
      '/assets//etc/passwd',
      '/assets/%2fetc%2fpasswd',
      '/assets/favicon.svg/..%2f..%2fassets.ts',
      '/assets/../assets.ts',
      `/assets/${'a'.repeat(4000)}.js`,
      '/assets/../../../../secret.txt',
    ]
    for (const path of hostile) {
      const r = await raw(path)
      // A raw backslash is refused by the server before any route (400, JSON); everything else finds no route.
      expect(r.status, path).toBe(path.includes('\\') ? 400 : 404)
      expect(r.headers['content-type'], path).toMatch(/^application\/json/)
      const text = r.body.toString('utf8')
      expect(typeof (JSON.parse(text) as { error: string }).error, path).toBe('string')
      for (const leak of ['mtflow.ready', '"name": "mtflow"', 'do not serve', 'readBundle']) expect(text, path).not.toContain(leak)
    }
    // Only reads: a POST to the bundle is no route either.
    expect((await raw('/assets/mtflow.js', {}, 'POST')).status).toBe(404)
  })
})

describe('pages', () => {
  it('go out under exactly the page CSP: this server\'s script, nothing inline, nothing else loosened', async () => {
    for (const path of ['/', '/runs', `/runs/${ids[0]}`, '/registry', '/dashboards/probe']) {
      const r = await raw(path)
      expect(r.status, path).toBe(200)
      // A published dashboard: the same, in a sandbox that allows the script and keeps the origin, nothing else (no forms, no popups).
      expect(r.headers['content-security-policy'], path).toBe(path.startsWith('/dashboards/') ? `${CSP}; sandbox allow-scripts allow-same-origin` : CSP)
    }
    // An error page too.
    const bad = await raw('/runs?filter=metrics.x%20%3E')
    expect(bad.status).toBe(400)
    expect(bad.headers['content-security-policy']).toBe(CSP)
  })

  it('every page kind links the bundle (deferred, by hash) and the icon, once, and carries the site navigation', async () => {
    const hash16 = createHash('sha256').update((await raw('/assets/mtflow.js')).body).digest('hex').slice(0, 16)
    const paths = [
      '/',
      '/runs',
      '/runs?experiment=assets',
      '/runs?filter=metrics.sharpe%20%3E%200',
      '/runs?filter=metrics.x%20%3E', // the 400 page
      `/runs/${ids[0]}`,
      `/compare?runs=${ids.join(',')}`,
      '/compare',
      '/registry',
      '/registry/strategies',
      '/registry/strategies/s',
      '/notebooks/nb',
      '/dashboards',
      '/dashboards/probe',
      '/dashboards/probe/v/1',
      '/deployments',
      '/monitoring',
    ]
    for (const path of paths) {
      const r = await raw(path)
      expect([200, 400], path).toContain(r.status)
      const doc = parseHTML(r.body.toString('utf8')).document
      const scripts = [...doc.querySelectorAll('script')]
      expect(scripts.map((s) => s.getAttribute('src')), path).toEqual([`/assets/mtflow.${hash16}.js`])
      expect(scripts[0]!.hasAttribute('defer'), path).toBe(true)
      expect(scripts[0]!.parentElement?.tagName, path).toBe('HEAD')
      expect([...doc.querySelectorAll('link[rel="icon"]')].map((l) => l.getAttribute('href')), path).toEqual(['/assets/favicon.svg'])
      const headers = doc.querySelectorAll('header.site')
      expect(headers.length, path).toBe(1)
      const nav = [...headers[0]!.querySelectorAll('nav a')].map((a) => a.getAttribute('href'))
      expect(nav, path).toEqual(['/', '/runs', '/compare', '/registry', '/dashboards', '/deployments', '/monitoring'])
    }
  })

  it('a published dashboard keeps its content, gets the site header in place of its own, the Dashboards entry marked', async () => {
    const r = await raw('/dashboards/probe')
    const text = r.body.toString('utf8')
    const doc = parseHTML(text).document
    expect(doc.querySelector('#probe-body')?.textContent).toBe('probe body')
    expect(doc.querySelector('h1')?.textContent).toBe('Probe <board>')
    expect(doc.querySelector('header.site nav a.active')?.getAttribute('href')).toBe('/dashboards')
    expect(doc.querySelector('header.site .site-note')?.textContent).toBe('dashboard probe v1')
    // The header is the body's first child: the dashboard's own ("dashboard: probe") is gone.
    expect(doc.body.firstElementChild?.tagName).toBe('HEADER')
    expect(text).not.toContain('dashboard: probe')
    expect(text.startsWith('<!DOCTYPE html>')).toBe(true)
  })
})
