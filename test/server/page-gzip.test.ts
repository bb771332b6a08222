// Cached pages and searches are kept gzip-compressed and sent so to clients that accept gzip: the same
// bytes as the uncompressed answer once inflated, `content-encoding: gzip` and `vary: accept-encoding`;
// a client without gzip (or refusing it with q=0) gets the plain bytes. Raw node:http requests, so no
// client inflates anything behind the test's back.

import { request } from 'node:http'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { acceptsGzip } from '../../lib/server/page-cache.js'
import { Tracker } from '../../lib/track/index.js'

let home: string
let server: Listening
let runId: string

function get(path: string, encoding?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.url)
    const req = request(url, { headers: { authorization: `Bearer ${workspaceToken(home)}`, ...(encoding === undefined ? {} : { 'accept-encoding': encoding }) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-gzip-'))
  const tracker = new Tracker(home)
  const run = tracker.startRun({ experiment: 'gzip', name: 'curve', params: { fast: 10 } })
  run.logBatch({ metrics: Array.from({ length: 500 }, (_, i) => ({ key: 'equity', value: 10_000 + i * 3.25, step: i, timestamp: Date.UTC(2024, 0, 1) + i * 86_400_000 })) })
  run.end()
  runId = run.id
  server = await startServer({ home, token: workspaceToken(home), port: 0 })
})

afterAll(async () => {
  await server?.close()
})

describe('compressed cached answers', () => {
  it('pages and searches: gzip when accepted, the same bytes as the plain answer', async () => {
    for (const path of ['/', '/runs', `/runs/${runId}`, `/compare?runs=${runId}`, '/registry', '/api/runs?filter=']) {
      await get(path) // rendered and cached
      const plain = await get(path)
      const zipped = await get(path, 'gzip, deflate, br')
      expect(plain.status, path).toBe(200)
      expect(plain.headers['content-encoding'], path).toBeUndefined()
      expect(zipped.headers['content-encoding'], path).toBe('gzip')
      expect(zipped.headers.vary, path).toMatch(/accept-encoding/i)
      expect(gunzipSync(zipped.body).equals(plain.body), path).toBe(true)
      expect(zipped.body.length, path).toBeLessThan(plain.body.length)
      // Refused with q=0: plain.
      expect((await get(path, 'gzip;q=0, identity')).headers['content-encoding'], path).toBeUndefined()
    }
  })

  it('reads Accept-Encoding as RFC 9110 does', () => {
    expect(acceptsGzip(undefined)).toBe(false)
    expect(acceptsGzip('')).toBe(false)
    expect(acceptsGzip('identity')).toBe(false)
    expect(acceptsGzip('br, deflate')).toBe(false)
    expect(acceptsGzip('gzip')).toBe(true)
    expect(acceptsGzip('GZIP;Q=0.5')).toBe(true)
    expect(acceptsGzip('deflate, gzip;q=0')).toBe(false)
    expect(acceptsGzip('gzip;q=0.000, *;q=0')).toBe(false)
    expect(acceptsGzip('*')).toBe(true)
    expect(acceptsGzip('x-gzip')).toBe(true)
    // An explicit gzip;q=0 is not overridden by *; * covers gzip only when gzip is not named.
    expect(acceptsGzip('gzip;q=0, *')).toBe(false)
    expect(acceptsGzip('*, gzip;q=0')).toBe(false)
    expect(acceptsGzip('br, *')).toBe(true)
    expect(acceptsGzip('*;q=0')).toBe(false)
    expect(acceptsGzip('*;q=0, gzip')).toBe(true)
  })
})
