// An attack review, reproduced against the real server over real sockets: token-free model scoring reached
// through a reverse proxy on this machine (every client's socket is then loopback), file names whose extension
// is an Object.prototype key (a 500), a run time past what a Date holds (its page broke for good), and an
// artifact image a shared cache could keep.

import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerPackage, type ModelPackage } from '../../lib/ml/index.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'

let home: string
let token: string
let server: Listening
let open: Listening
let proxy: Server
let runId: string

/** A one-split regression tree written by hand (z ≤ 0.5 → 10, else 20). */
function stumpPackage(): ModelPackage {
  return {
    format: 'mtflow-model', formatVersion: 1, family: 'tree', task: 'regression',
    signature: { inputs: ['z', 'mom', 'vol'].map((name) => ({ name, type: 'double' as const, nullable: false })), output: { name: 'label', type: 'double' } },
    model: { type: 'tree-regressor', columns: ['z', 'mom', 'vol'], options: { maxDepth: 1, minSamplesLeaf: 1, minSamplesSplit: 2, seed: 0, maxBins: 256, maxFeatures: null },
      feature: [0, -1, -1], threshold: [0.5, 0, 0], left: [1, -1, -1], right: [2, -1, -1], value: [15, 10, 20], samples: [2, 1, 1], importance: [1, 0, 0] } as never,
    dataSnapshot: 'hand-written', trainingRows: 2, metrics: { rmse: 0.123 }, createdAt: 0,
  }
}

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; text: string }
function send(port: number, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...options.headers } }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }))
    })
    req.on('error', reject)
    if (options.body !== undefined) req.write(options.body)
    req.end()
  })
}

/** A reverse proxy on this machine as nginx's defaults make one: Host rewritten to the upstream's, or kept with X-Forwarded-For. */
function startProxy(target: number, how: 'keep-host' | 'upstream-host'): Promise<number> {
  proxy = createServer((inbound, outbound) => {
    const headers = how === 'keep-host' ? { ...inbound.headers, 'x-forwarded-for': '203.0.113.7' } : { ...inbound.headers, host: `127.0.0.1:${target}` }
    const upstream = request({ host: '127.0.0.1', port: target, path: inbound.url, method: inbound.method, headers }, (res) => {
      outbound.writeHead(res.statusCode!, res.headers)
      res.pipe(outbound)
    })
    inbound.pipe(upstream)
  })
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as AddressInfo).port)))
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-proxy-names-'))
  registerPackage(new Registry(home), 'stump', stumpPackage(), { alias: 'champion' })
  const run = new Tracker(home).startRun({ experiment: 'audit', name: 'one' })
  run.logArtifact({ name: 'notes.constructor', data: 'hello' })
  run.logArtifact({ name: 'plot.__proto__', data: 'hello' })
  run.logArtifact({ name: 'p.png', data: Buffer.from('89504e470d0a1a0a', 'hex') })
  run.end()
  runId = run.id
  new Registry(home).register('strategies', 'strat', { files: { 'helper.constructor': 'x' } })
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0, allowHosts: ['mtflow.example.com'] })
  open = await startServer({ home, token, port: 0 })
})
afterAll(async () => {
  await server?.close()
  await open?.close()
  await new Promise((done) => (proxy === undefined ? done(undefined) : proxy.close(() => done(undefined))))
  rmSync(home, { recursive: true, force: true })
})

const SCORE = { method: 'POST', body: JSON.stringify({ inputs: [[0, 0, 0]] }) }

describe('token-free model scoring and a reverse proxy on this machine', () => {
  it('through a proxy keeping the Host (X-Forwarded-For) or rewriting it to 127.0.0.1, a remote client without the token is refused', async () => {
    for (const how of ['keep-host', 'upstream-host'] as const) {
      const port = await startProxy(server.port, how)
      const headers = { host: 'mtflow.example.com', 'content-type': 'application/json' }
      const version = await send(port, '/models/stump@champion/version', { headers })
      const scored = await send(port, '/models/stump@champion/invocations', { ...SCORE, headers })
      expect({ how, version: version.status, scored: scored.status }).toEqual({ how, version: 401, scored: 401 })
      await new Promise((done) => proxy.close(() => done(undefined)))
    }
  })

  it('a server without --allow-host: a loopback client scores without the token, one carrying a forwarding header does not', async () => {
    const json = { 'content-type': 'application/json' }
    const direct = await send(open.port, '/models/stump@champion/invocations', { ...SCORE, headers: json })
    expect(direct.status).toBe(200)
    // z = 0 ≤ 0.5: the left leaf's 10.
    expect(JSON.parse(direct.text)).toMatchObject({ predictions: [10] })
    for (const h of ['x-forwarded-for', 'forwarded', 'x-real-ip', 'via']) {
      expect((await send(open.port, '/models/stump@champion/invocations', { ...SCORE, headers: { ...json, [h]: '203.0.113.7' } })).status, h).toBe(401)
    }
    expect((await send(open.port, '/models/stump@champion/invocations', { ...SCORE, headers: { ...json, authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.7' } })).status).toBe(200)
  })
})

describe('file names whose extension is an Object.prototype key', () => {
  const bearer = () => ({ authorization: `Bearer ${token}` })
  it('an artifact "notes.constructor" downloads as an attachment (it was a 500)', async () => {
    const r = await send(open.port, `/api/runs/${runId}/artifacts/notes.constructor`, { headers: bearer() })
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/octet-stream')
    expect(r.headers['content-disposition']).toBe('attachment')
    expect(r.text).toBe('hello')
  })
  it('"plot.__proto__" is not an image (400), not a 500', async () => {
    expect((await send(open.port, `/runs/${runId}/artifacts/image?path=plot.__proto__`, { headers: bearer() })).status).toBe(400)
  })
  it('a registered file "helper.constructor" downloads, and its page names no function as its language', async () => {
    expect((await send(open.port, '/api/registry/strategies/strat/versions/1/files/helper.constructor', { headers: bearer() })).status).toBe(200)
    const page = await send(open.port, '/registry/strategies/strat/v/1?file=helper.constructor', { headers: bearer() })
    expect(page.status).toBe(200)
    expect(page.text).not.toContain('native code')
  })
})

describe('remote tracking times', () => {
  it('an endTime past what a Date holds is refused (400), and the run page keeps rendering', async () => {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const started = await send(open.port, '/api/track/runs', { method: 'POST', headers, body: JSON.stringify({ experiment: 'audit', name: 'far' }) })
    const id = JSON.parse(started.text).info.runId as string
    const ended = await send(open.port, `/api/track/runs/${id}/end`, { method: 'POST', headers, body: JSON.stringify({ status: 'FINISHED', endTime: 1e300 }) })
    expect(ended.status).toBe(400)
    expect(JSON.parse(ended.text).error).toMatch(/endTime must be epoch milliseconds from 0 to 8\.64e15, the last a Date holds \(received 1e\+300\)/)
    expect((await send(open.port, `/runs/${id}`, { headers })).status).toBe(200)
  })
})

describe('cache-control of what a token holder reads', () => {
  it('an artifact image is private (no shared cache in front of --allow-host keeps it)', async () => {
    const r = await send(open.port, `/runs/${runId}/artifacts/image?path=p.png`, { headers: { authorization: `Bearer ${token}` } })
    expect(r.status).toBe(200)
    expect(r.headers['cache-control']).toBe('private, no-cache')
  })
})
