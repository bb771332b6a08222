// /api/track over a real socket, called with plain fetch: the token on every write (401 and nothing
// written without it), a run logged through the routes read back by a local Tracker, one-line 400s naming
// the field for bad bodies, hostile artifact names refused before anything is written, the upload cap
// (413 past it, its own setting rather than the 1 MiB of other bodies), and a registration's framed body.

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'

let home: string
let server: Listening
let token: string
const UPLOAD_CAP = 5000

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-track-api-'))
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0, app: createApp({ home, token, maxBodyBytes: 1000, maxUploadBytes: UPLOAD_CAP }) })
})
afterAll(async () => {
  await server.close()
  rmSync(home, { recursive: true, force: true })
})

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body instanceof Uint8Array) init.body = body
  else if (body !== undefined) {
    init.body = JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
  }
  const res = await fetch(`${server.url}/api/track${path}`, init)
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed }
}

async function newRun(name: string): Promise<string> {
  const res = await call('POST', '/runs', { experiment: 'api-track', name })
  expect(res.status).toBe(200)
  return res.body.info.runId as string
}

describe('/api/track', () => {
  it('refuses every write without the token (401) and writes nothing', async () => {
    const runId = await newRun('guarded')
    const none = {}
    const wrong = { authorization: 'Bearer not-the-token' }
    for (const headers of [none, wrong]) {
      expect((await call('POST', '/experiments', { name: 'intruder' }, headers)).status).toBe(401)
      expect((await call('POST', '/runs', { experiment: 'intruder' }, headers)).status).toBe(401)
      expect((await call('POST', `/runs/${runId}/batch`, { params: { p: 1 }, metrics: [{ key: 'm', value: 1 }] }, headers)).status).toBe(401)
      expect((await call('POST', `/runs/${runId}/end`, { status: 'KILLED' }, headers)).status).toBe(401)
      expect((await call('PUT', `/runs/${runId}/artifact?name=a.txt`, new Uint8Array([1, 2]), headers)).status).toBe(401)
      expect((await call('POST', `/runs/${runId}/children`, { children: [{}] }, headers)).status).toBe(401)
      // The lifecycle routes delete, restore and remove runs for good: the same guard.
      expect((await call('POST', '/runs/delete', { runIds: [runId], force: true }, headers)).status).toBe(401)
      expect((await call('POST', '/runs/restore', { runIds: [runId] }, headers)).status).toBe(401)
      expect((await call('POST', '/gc', { force: true }, headers)).status).toBe(401)
    }
    const tracker = new Tracker(home)
    expect(tracker.listExperiments().map((e) => e.name)).toEqual(['api-track'])
    const run = tracker.getRun(runId)
    expect(run.params).toEqual({})
    expect(run.metrics).toEqual({})
    expect(run.artifacts).toEqual([])
    expect(run.info.status).toBe('RUNNING')
    expect(run.tags['mtflow.lifecycle']).toBeUndefined()
    expect(tracker.childRuns(runId)).toEqual([])
  })

  it('logs a run through the routes as the local Tracker then reads it', async () => {
    const parent = await newRun('parent')
    const start = await call('POST', '/runs', { experiment: 'api-track', name: 'child', parentRunId: parent, params: { fast: 10, flag: true }, tags: { kind: 'test' } })
    expect(start.status).toBe(200)
    const runId = start.body.info.runId as string
    const batch = {
      params: { slow: 30 },
      tags: { note: 'two' },
      metrics: [
        { key: 'equity', value: 100, step: 0, timestamp: 1000 },
        { key: 'equity', value: 101.5, step: 1, timestamp: 2000 },
        { key: 'equity', value: 99.25, step: 2, timestamp: 3000 },
        { key: 'pf', value: 'Infinity', step: 0, timestamp: 1000 },
        { key: 'nothing', value: 'NaN', step: 0, timestamp: 1000 },
      ],
    }
    expect((await call('POST', `/runs/${runId}/batch`, batch)).status).toBe(200)
    expect((await call('PUT', `/runs/${runId}/artifact?name=${encodeURIComponent('out/trades.csv')}`, new TextEncoder().encode('a,b\n1,2\n'))).status).toBe(200)
    const kids = await call('POST', `/runs/${runId}/children`, { children: [{ name: 'k1', params: { x: 1 }, metrics: { score: 0.5 } }, { name: 'k2', params: { x: 2 }, metrics: { score: '-Infinity' }, status: 'FAILED' }] })
    expect(kids.status).toBe(200)
    const ended = await call('POST', `/runs/${runId}/end`, { status: 'FINISHED', endTime: 5000 })
    expect(ended.body.status).toBe('FINISHED')

    const tracker = new Tracker(home)
    const run = tracker.getRun(runId)
    expect(run.info.parentRunId).toBe(parent)
    expect(run.info.endTime).toBe(5000)
    expect(run.params).toEqual({ fast: '10', flag: 'true', slow: '30' })
    expect(run.tags.kind).toBe('test')
    expect(run.tags.note).toBe('two')
    expect(run.metrics.equity).toEqual({ value: 99.25, step: 2, timestamp: 3000 })
    expect(run.metrics.pf!.value).toBe(Infinity)
    expect(run.metrics.nothing!.value).toBeNaN()
    expect(tracker.metricHistory(runId, 'equity').map((p) => [p.step, p.value])).toEqual([
      [0, 100],
      [1, 101.5],
      [2, 99.25],
    ])
    expect(tracker.readArtifact(runId, 'out/trades.csv').bytes.toString()).toBe('a,b\n1,2\n')
    const children = tracker.childRuns(runId).sort((a, b) => a.info.name.localeCompare(b.info.name))
    expect(children.map((c) => [c.info.name, c.params.x, c.info.status])).toEqual([
      ['k1', '1', 'FINISHED'],
      ['k2', '2', 'FAILED'],
    ])
    expect(children[1]!.metrics.score!.value).toBe(-Infinity)
  })

  it('answers a bad body with one line naming the field, and logs nothing of it', async () => {
    const runId = await newRun('bad-bodies')
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', `/runs/${runId}/batch`, { metrics: 'loss' }, /^metrics must be an array/],
      ['POST', `/runs/${runId}/batch`, { metrics: [{ key: 'm', value: 1 }, { key: 'm', value: 'high' }] }, /^metrics\[1\]\.value must be a number/],
      ['POST', `/runs/${runId}/batch`, { metrics: [{ key: 'm', value: 1, step: 1.5 }] }, /step must be an integer/],
      ['POST', `/runs/${runId}/batch`, { params: { p: { nested: 1 } } }, /^params\.p must be a string or number or boolean/],
      ['POST', `/runs/${runId}/batch`, { tags: { t: 3 } }, /^tags\.t must be a string/],
      ['POST', `/runs/${runId}/end`, { status: 'DONE' }, /^status must be one of RUNNING, FINISHED, FAILED, KILLED/],
      ['POST', `/runs/${runId}/children`, { children: [{ status: 'NOPE' }] }, /^children\[0\]\.status must be one of/],
      ['POST', '/runs', { experiment: 7 }, /^experiment must be a non-empty string/],
      ['POST', `/runs/${runId}/batch`, [1, 2], /^the request body must be a JSON object/],
      ['POST', '/runs', { experiment: 'lineage-bad', lineage: { data: 'notarray' } }, /^lineage\.data must be an array of \{ name, sha256 \}/],
      ['POST', '/runs', { experiment: 'lineage-bad', lineage: { strategy: { name: 'x' } } }, /^lineage\.strategy\.sha256 must be a non-empty string/],
      ['POST', '/runs', { experiment: 'lineage-bad', lineage: { runs: [1] } }, /^lineage\.runs\[0\] must be a non-empty string/],
      ['POST', '/runs', { experiment: 'lineage-bad', lineage: { extra: 1 } }, /^lineage\.extra is not a lineage field/],
      ['POST', `/runs/${runId}/children`, { children: [{ lineage: { data: [{ name: 'a' }] } }] }, /^children\[0\]\.lineage\.data\[0\]\.sha256 must be/],
    ]
    for (const [method, path, body, expected] of cases) {
      const res = await call(method, path, body)
      expect(res.status, path).toBe(400)
      expect(res.body.error).toMatch(expected)
      expect(res.body.error).not.toContain('\n')
    }
    // A bad lineage left no run behind (the experiment was not even made).
    expect(new Tracker(home).listExperiments().map((e) => e.name)).not.toContain('lineage-bad')
    const run = new Tracker(home).getRun(runId)
    expect(run.metrics).toEqual({})
    expect(run.params).toEqual({})
    expect(run.info.status).toBe('RUNNING')
  })

  it('refuses hostile artifact names with a 400 and writes no file', async () => {
    const runId = await newRun('hostile')
    const names = ['../escape.txt', 'a/../../escape.txt', '/etc/passwd', 'a\\b.txt', 'a\0b.txt', 'a%2F..%2Fb', 'C:/x.txt', 'a//b', './a', 'x'.repeat(300), `${'d/'.repeat(600)}f`]
    for (const name of names) {
      const res = await call('PUT', `/runs/${runId}/artifact?name=${encodeURIComponent(name)}`, new Uint8Array([1, 2, 3]))
      expect(res.status, JSON.stringify(name)).toBe(400)
      expect(res.body.error).toMatch(/^(artifact name|name)/)
    }
    const tracker = new Tracker(home)
    expect(tracker.listArtifacts(runId)).toEqual([])
    const dir = join(tracker.runDir(runId), 'artifacts')
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([])
    expect(existsSync(join(tracker.runDir(runId), '..', 'escape.txt'))).toBe(false)
  })

  it('caps uploads at maxUploadBytes (413 past it), not at the 1 MiB… of other bodies', async () => {
    const runId = await newRun('upload-cap')
    // Bigger than maxBodyBytes (1000) yet within the upload cap: accepted.
    const fits = await call('PUT', `/runs/${runId}/artifact?name=fits.bin`, new Uint8Array(UPLOAD_CAP))
    expect(fits.status).toBe(200)
    expect(fits.body.size).toBe(UPLOAD_CAP)
    const over = await call('PUT', `/runs/${runId}/artifact?name=over.bin`, new Uint8Array(UPLOAD_CAP + 1))
    expect(over.status).toBe(413)
    expect(over.body.error).toBe(`upload larger than ${UPLOAD_CAP} bytes (the server's maxUploadBytes)`)
    expect(new Tracker(home).listArtifacts(runId).map((a) => a.path)).toEqual(['fits.bin'])
    // Other routes keep the small cap.
    const other = await fetch(`${server.url}/api/registry/strategies/s/aliases`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ alias: 'a', pad: 'x'.repeat(2000) }) })
    expect(other.status).toBe(413)
  })

  it('registers a version from a framed body (header, then the files) and refuses a torn one', async () => {
    const files: [string, Uint8Array][] = [
      ['model.json', new TextEncoder().encode('{"w":[1,2]}')],
      ['extra/readme.txt', new Uint8Array([0, 255, 7])],
    ]
    const frame = (header: unknown, blobs: Uint8Array[]) => {
      const h = new TextEncoder().encode(JSON.stringify(header))
      const out = new Uint8Array(4 + h.length + blobs.reduce((n, b) => n + b.length, 0))
      new DataView(out.buffer).setUint32(0, h.length)
      out.set(h, 4)
      let at = 4 + h.length
      for (const b of blobs) (out.set(b, at), (at += b.length))
      return out
    }
    const header = { options: { description: 'remote' }, files: files.map(([name, bytes]) => ({ name, size: bytes.length })) }
    const res = await call('POST', '/registry/models/m1/versions', frame(header, files.map(([, b]) => b)))
    expect(res.status).toBe(200)
    expect(res.body.created).toBe(true)
    const registry = new Registry(home)
    expect(registry.readFile('models', 'm1@1', 'model.json').toString()).toBe('{"w":[1,2]}')
    expect([...registry.readFile('models', 'm1@1', 'extra/readme.txt')]).toEqual([0, 255, 7])
    expect(registry.resolve('models', 'm1@1').description).toBe('remote')

    const torn = await call('POST', '/registry/models/m2/versions', frame(header, [files[0]![1]]))
    expect(torn.status).toBe(400)
    expect(torn.body.error).toMatch(/^files\[1\]\.size must be the byte count that follows/)
    const hostile = await call('POST', '/registry/models/m2/versions', frame({ files: [{ name: '../x', size: 1 }] }, [new Uint8Array([1])]))
    expect(hostile.status).toBe(400)
    expect(() => registry.entry('models', 'm2')).toThrow(/no model named "m2"/)
  })
})
