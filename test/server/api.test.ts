// The JSON API over a real socket on a seeded workspace: reads, search errors with positions, 404s for
// unknown runs/models/versions/aliases, 401 without the token, changes with it, traversal attempts on
// artifacts (encoded, double-encoded, backslashes, absolute), the body limit, and NaN in JSON.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'

let home: string
let server: Listening
let token: string
let runId: string

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-api-'))
  // A file beside the workspace's runs that no request may reach.
  writeFileSync(join(home, 'secret.txt'), 'do not serve')
  const tracker = new Tracker(home)
  const run = tracker.startRun({ experiment: 'api', name: 'one', params: { fast: 10 } })
  run.logMetrics({ sharpe: 1.5, profitFactor: Infinity, nothing: NaN })
  run.logArtifact({ name: 'trades.csv', data: 'a,b\n1,2\n' })
  run.logArtifact({ name: 'page.html', data: '<script>alert(1)</script>' })
  run.end()
  runId = run.id
  const other = tracker.startRun({ experiment: 'api', name: 'two', params: { fast: 20 } })
  other.logMetric('sharpe', 0.5)
  other.end()
  const reg = new Registry(home)
  reg.register('strategies', 's', { files: { 'source.ts': 'x' } })
  reg.register('strategies', 's', { files: { 'source.ts': 'y' } })
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0, maxBodyBytes: 4096 })
})
afterAll(async () => {
  await server.close()
  rmSync(home, { recursive: true, force: true })
})

/** A request; without headers of its own it carries the token (every request needs it). */
async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${server.url}${path}`, init.headers === undefined ? { ...init, headers: { authorization: `Bearer ${token}` } } : init)
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    /* not JSON */
  }
  return { status: response.status, body, headers: response.headers }
}

/** A request with the path sent byte for byte (fetch would normalise "..", backslashes and the like). */
function raw(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url)
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

const auth = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })

describe('reads', () => {
  it('searches runs with the filter language and reports a malformed filter with its position', async () => {
    const ok = await call(`/api/runs?filter=${encodeURIComponent('metrics.sharpe > 1 and params.fast = "10"')}`)
    expect(ok.status).toBe(200)
    expect(ok.body.runs.map((r: any) => r.info.name)).toEqual(['one'])
    // JSON has no Infinity or NaN: they come as strings.
    expect(ok.body.runs[0].metrics.profitFactor.value).toBe('Infinity')
    expect(ok.body.runs[0].metrics.nothing.value).toBe('NaN')
    const ordered = await call('/api/runs?order_by=metrics.sharpe%20asc')
    expect(ordered.body.runs.map((r: any) => r.info.name)).toEqual(['two', 'one'])
    const bad = await call(`/api/runs?filter=${encodeURIComponent('metrics.sharpe >> 1')}`)
    expect(bad.status).toBe(400)
    expect(bad.body).toEqual({ error: expect.stringContaining('position 16'), position: 16 })
  })

  it('shows a run, its metric history and artifacts; compares runs', async () => {
    const run = await call(`/api/runs/${runId}`)
    expect(run.body.params).toEqual({ fast: '10' })
    expect(run.body.artifacts.map((a: any) => a.path)).toEqual(['trades.csv', 'page.html'])
    const history = await call(`/api/runs/${runId}/metric-history?key=sharpe`)
    expect(history.body.map((p: any) => p.value)).toEqual([1.5])
    const csv = await call(`/api/runs/${runId}/artifacts/trades.csv`)
    expect(csv.body).toBe('a,b\n1,2\n')
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/)
    // An HTML artifact is a download under a sandboxing CSP, never a page of this origin.
    const html = await call(`/api/runs/${runId}/artifacts/page.html`)
    expect(html.headers.get('content-disposition')).toBe('attachment')
    expect(html.headers.get('content-type')).toBe('application/octet-stream')
    expect(html.headers.get('content-security-policy')).toMatch(/sandbox/)
  })

  it('answers 404 with a JSON message for unknown runs, models, versions, aliases and routes', async () => {
    const cases: [string, RegExp][] = [
      ['/api/runs/nope', /unknown run "nope"/],
      ['/api/registry/models/ghost', /no model named "ghost"/],
      ['/api/registry/strategies/s/versions/9', /has no version 9/],
      ['/api/registry/strategies/s/versions/champion', /has no alias "champion"/],
      ['/api/nothing-here', /no route for GET \/api\/nothing-here/],
    ]
    for (const [path, message] of cases) {
      const r = await call(path)
      expect(r.status, path).toBe(404)
      expect(r.body.error, path).toMatch(message)
    }
  })

  it('never serves a file outside the run’s artifacts', async () => {
    for (const path of [
      `/api/runs/${runId}/artifacts/../run.json`,
      `/api/runs/${runId}/artifacts/..%2frun.json`,
      `/api/runs/${runId}/artifacts/%2e%2e/%2e%2e/%2e%2e/secret.txt`,
      `/api/runs/${runId}/artifacts/%252e%252e%252f%252e%252e%252fsecret.txt`,
      `/api/runs/${runId}/artifacts/..\\..\\..\\secret.txt`,
      `/api/runs/${runId}/artifacts/..%5c..%5c..%5csecret.txt`,
      `/api/runs/${runId}/artifacts/%2fetc%2fpasswd`,
      `/api/runs/${runId}/artifacts//etc/passwd`,
      `/api/runs/..%2f..%2fsecret.txt/artifacts/x`,
    ]) {
      const r = await raw(path)
      expect(r.status, path).toBeGreaterThanOrEqual(400)
      expect(r.status, path).toBeLessThan(500)
      expect(r.body, path).not.toContain('do not serve')
      expect(r.body, path).not.toContain('root:')
      expect(() => JSON.parse(r.body), path).not.toThrow()
    }
  })
})

describe('changes', () => {
  it('refuse without the token (401) and work with it', async () => {
    const body = JSON.stringify({ alias: 'champion', version: 2, reason: 'api test' })
    const denied = await call('/api/registry/strategies/s/aliases', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
    expect(denied.status).toBe(401)
    expect(denied.body.error).toMatch(/Authorization: Bearer/)
    const wrong = await call('/api/registry/strategies/s/aliases', { method: 'POST', body, headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    const ok = await call('/api/registry/strategies/s/aliases', { method: 'POST', body, headers: auth() })
    expect(ok.status).toBe(200)
    expect(ok.body).toEqual({ champion: 2 })
    expect((await call('/api/registry/strategies/s/versions/champion')).body.version).toBe(2)
    const retire = await call('/api/registry/strategies/s/versions/1/retire', { method: 'POST', headers: auth(), body: '{"reason":"old"}' })
    expect(retire.body.status).toBe('retired')
    const blocked = await call('/api/registry/strategies/s/versions/2/retire', { method: 'POST', headers: auth() })
    expect(blocked.status).toBe(400)
    expect(blocked.body.error).toMatch(/aliased as champion/)
    const tag = await call(`/api/runs/${runId}/tags`, { method: 'POST', headers: auth(), body: '{"key":"reviewed","value":"yes"}' })
    expect(tag.status).toBe(200)
    expect((await call(`/api/runs/${runId}`)).body.tags.reviewed).toBe('yes')
  })

  it('rejects bad bodies with 4xx JSON and nothing changed', async () => {
    const before = (await call('/api/registry/strategies/s')).body
    for (const [body, status, message] of [
      ['{not json', 400, /not valid JSON/],
      ['[1,2]', 400, /JSON object/],
      ['{"alias":"Bad Alias","version":1}', 400, /alias "Bad Alias" is invalid/],
      ['{"alias":"x","version":"one"}', 400, /version must be an integer/],
      [JSON.stringify({ alias: 'x', version: 1, reason: 'y'.repeat(5000) }), 413, /larger than 4096 bytes/],
    ] as [string, number, RegExp][]) {
      const r = await call('/api/registry/strategies/s/aliases', { method: 'POST', headers: auth(), body })
      expect(r.status, body.slice(0, 30)).toBe(status)
      expect(r.body.error).toMatch(message)
    }
    expect((await call('/api/registry/strategies/s')).body).toEqual(before)
  })
})
