// Hostile JSON bodies against a real `mtflow serve` over real sockets (issue 18, point 3): nesting far past
// 64 levels, bodies over a route's size limit, and huge values that an error message would echo. Each is
// a 400 with a short JSON message, nothing stored changes, and the server keeps answering.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, preview } from '../../lib/core/index.js'
import { registerPackage, type ModelPackage } from '../../lib/ml/index.js'
import { checkJsonDepth, parseJsonBody } from '../../lib/server/json-body.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

let home: string
let token: string
let server: Listening

/** A hand-written regression tree: z ≤ 0.5 → 10, else 20 (features z, mom, vol). */
function stumpPackage(): ModelPackage {
  return {
    format: 'mtflow-model',
    formatVersion: 1,
    family: 'tree',
    task: 'regression',
    signature: { inputs: ['z', 'mom', 'vol'].map((name) => ({ name, type: 'double' as const, nullable: false })), output: { name: 'label', type: 'double' } },
    model: {
      type: 'tree-regressor',
      columns: ['z', 'mom', 'vol'],
      options: { maxDepth: 1, minSamplesLeaf: 1, minSamplesSplit: 2, seed: 0, maxBins: 256, maxFeatures: null },
      feature: [0, -1, -1],
      threshold: [0.5, 0, 0],
      left: [1, -1, -1],
      right: [2, -1, -1],
      value: [15, 10, 20],
      samples: [2, 1, 1],
      importance: [1, 0, 0],
    } as never,
    dataSnapshot: 'hand-written',
    trainingRows: 2,
    metrics: {},
    createdAt: 0,
  }
}

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)
// Every request carries the token: the test is about bodies, not about who may send them.
const authorized = { authorization: '', 'content-type': 'application/json' }
const post = (path: string, body: string) => fetch(`${server.url}${path}`, { method: 'POST', headers: authorized, body, signal: AbortSignal.timeout(10_000) })

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-payloads-'))
  registerPackage(new Registry(home), 'stump', stumpPackage(), { alias: 'champion' })
  token = workspaceToken(home)
  authorized.authorization = `Bearer ${token}`
  server = await startServer({ home, token, port: 0 })
})
afterAll(async () => {
  await server?.close()
  rmSync(home, { recursive: true, force: true })
})

describe('the depth scanner', () => {
  it('counts brackets outside strings only, escapes included, and stops past the limit', () => {
    expect(checkJsonDepth(deep(64), 'x')).toBe(64)
    expect(() => checkJsonDepth(deep(65), 'the body')).toThrow('the body is nested more than 64 levels deep')
    // 100 brackets inside a string are text, not nesting: depth 1 (the object).
    expect(checkJsonDepth(`{"a":"${'['.repeat(100)}"}`, 'x')).toBe(1)
    // An escaped quote does not end the string: the brackets after it are still text.
    expect(checkJsonDepth(`["\\"${'['.repeat(100)}"]`, 'x')).toBe(1)
    // An escaped backslash does end it: "\\" is a one-character string, then 64 real levels inside the outer array.
    expect(() => checkJsonDepth(`["\\\\",${deep(64)}]`, 'x')).toThrow('nested more than 64 levels')
    expect(checkJsonDepth(`["\\\\",${deep(63)}]`, 'x')).toBe(64)
  })

  it('parses what passes, refuses oversize bodies by their UTF-8 size, and bad JSON in one short line', () => {
    expect(parseJsonBody('{"a":[1,{"b":2}]}', 'x')).toEqual({ a: [1, { b: 2 }] })
    // "é" is 2 bytes in UTF-8: 6 of them plus the quotes are 14 bytes, over a 13-byte limit though only 8 characters.
    expect(() => parseJsonBody(`"${'é'.repeat(6)}"`, 'the body', { maxBytes: 13 })).toThrow('the body is 14 bytes; at most 13 are accepted')
    expect(parseJsonBody(`"${'é'.repeat(6)}"`, 'x', { maxBytes: 14 })).toBe('éééééé')
    const bad = `{"a": ${'1'.repeat(10_000)}x}`
    let message = ''
    try {
      parseJsonBody(bad, 'the body')
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      message = (error as Error).message
    }
    expect(message).toMatch(/^the body is not valid JSON/)
    expect(message.length).toBeLessThanOrEqual(300)
  })

  it('previews any value in at most 200 characters, however deep or long', () => {
    expect(preview({ a: 1, b: [1, 2], c: 'x' })).toBe('{"a":1,"b":[1,2],"c":"x"}')
    expect(preview(undefined)).toBe('undefined')
    const long = preview('x'.repeat(100_000))
    expect(long.length).toBe(200)
    expect(long.endsWith('…')).toBe(true)
    expect(long.startsWith('"xxx')).toBe(true)
    // 100,000 levels: JSON.stringify overflows the stack here; preview stops at 8 levels.
    let nested: unknown = 1
    for (let i = 0; i < 100_000; i++) nested = [nested]
    expect(() => JSON.stringify(nested)).toThrow(RangeError)
    expect(preview(nested)).toBe('[[[[[[[[[…]]]]]]]]]')
    expect(preview(Array.from({ length: 1_000_000 }, (_, i) => i)).length).toBe(200)
  })
})

describe('hostile bodies against mtflow serve', () => {
  it('POST …/aliases nested 10,000 deep is a 400 (not a 500) and the aliases do not change', async () => {
    const res = await post('/api/registry/models/stump/aliases', `{"alias":"x","version":${deep(10_000)}}`)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('the request body is nested more than 64 levels deep (arrays/objects, at character 86)')
    const entry = (await (await fetch(`${server.url}/api/registry/models/stump`, { headers: authorized })).json()) as { aliases: Record<string, number> }
    expect(entry.aliases).toEqual({ champion: 1 })
  })

  it('POST …/aliases over 64 KiB is a 400 naming the limit; nested 100,000 deep too (the size is checked first)', async () => {
    // {"alias":"x","version":1,"reason":"…"}: 37 bytes of JSON around a 70,000-byte reason.
    const body = `{"alias":"x","version":1,"reason":"${'r'.repeat(70_000)}"}`
    expect(Buffer.byteLength(body)).toBe(70_037)
    const res = await post('/api/registry/models/stump/aliases', body)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'the request body is 70037 bytes; at most 65536 are accepted' })
    const huge = await post('/api/registry/models/stump/aliases', `{"alias":"x","version":${deep(100_000)}}`)
    expect(huge.status).toBe(400)
  })

  it('a 50,000-character value is quoted in at most 200 characters', async () => {
    const res = await post('/api/registry/models/stump/aliases', JSON.stringify({ alias: 'x', version: 'v'.repeat(50_000) }))
    expect(res.status).toBe(400)
    const { error } = (await res.json()) as { error: string }
    expect(error.startsWith('version must be an integer ≥ 1 (received "vvvv')).toBe(true)
    expect(error.length).toBeLessThanOrEqual('version must be an integer ≥ 1 (received )'.length + 200)
    expect(error).toContain('…')
  })

  it('POST /invocations nested 100,000 deep is a 400 (not a 500)', async () => {
    const res = await post('/models/stump@champion/invocations', `{"inputs":[{"z":${deep(100_000)},"mom":1,"vol":1}]}`)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'the body is nested more than 64 levels deep (arrays/objects, at character 77)' })
  })

  it('POST /invocations: a 30-level value (under the limit) is refused by its field, quoted in ≤ 200 characters', async () => {
    const res = await post('/models/stump@champion/invocations', `{"inputs":[{"z":${deep(30)},"mom":1,"vol":1}]}`)
    expect(res.status).toBe(400)
    // preview shows 8 levels, then […]
    expect(await res.json()).toEqual({ error: 'field "z" at row 0 must be a finite number (received [[[[[[[[[…]]]]]]]]])' })
  })

  it('POST /invocations: a 100,000-character field name or value is quoted in ≤ 200 characters', async () => {
    const name = 'n'.repeat(100_000)
    const a = await post('/models/stump@champion/invocations', JSON.stringify({ inputs: [{ z: 1, mom: 1, vol: 1, [name]: 1 }] }))
    expect(a.status).toBe(400)
    const ea = ((await a.json()) as { error: string }).error
    expect(ea.startsWith('unexpected input field "nnn')).toBe(true)
    expect(ea.length).toBeLessThan(300)
    const b = await post('/models/stump@champion/invocations', JSON.stringify({ inputs: [{ z: 'v'.repeat(100_000), mom: 1, vol: 1 }] }))
    expect(b.status).toBe(400)
    const eb = ((await b.json()) as { error: string }).error
    expect(eb.startsWith('field "z" at row 0 must be a finite number (received "vvv')).toBe(true)
    expect(eb.length).toBeLessThan(300)
  })

  it('still scores after all that: z ≤ 0.5 → 10, else 20', async () => {
    const res = await post('/models/stump@champion/invocations', JSON.stringify({ inputs: [[0.5, 0, 0], [0.51, 0, 0], [-3, 9, 9]] }))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ predictions: [10, 20, 10] })
  })

  it('a 5,000-character run id, alias or query in the URL comes back in at most 200 characters', async () => {
    const long = 'A'.repeat(5000)
    const longestRun = (text: string) => Math.max(0, ...(text.match(/A+/g) ?? []).map((m) => m.length))
    for (const [method, path] of [
      ['GET', `/api/runs/${long}`],
      ['GET', `/runs/${long}`],
      ['DELETE', `/api/registry/models/stump/aliases/${long.toLowerCase()}`],
      ['GET', `/api/registry/models/stump/versions/${long}`],
      ['GET', `/api/runs?max_results=${long}`],
    ]) {
      const res = await fetch(`${server.url}${path}`, { method, headers: authorized })
      expect(res.status, path!.slice(0, 40)).toBeGreaterThanOrEqual(400)
      expect(res.status, path!.slice(0, 40)).toBeLessThan(500)
      const text = await res.text()
      expect(Math.max(longestRun(text), longestRun(text.toUpperCase())), path!.slice(0, 40)).toBeLessThanOrEqual(200)
    }
  })

  it('mtflow refuses a workspace that is a file, and a symbol too long for a folder name (exit 2, one line naming it)', async () => {
    const file = join(home, 'a-file')
    writeFileSync(file, 'x')
    const r = await runCli(['--home', file, 'runs', 'list'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`mtflow: the workspace ${file} is a file, not a folder (give --home or MTFLOW_HOME a folder)\n`)
    const csv = join(home, 'bars.csv')
    writeFileSync(csv, 'time,open,high,low,close,volume\n1704067200,1,2,0.5,1.5,1\n')
    const long = await runCli(['--home', home, 'import', csv, '--symbol', 'S'.repeat(5000), '--timeframe', '1h'])
    expect(long.code).toBe(2)
    expect(long.stderr.trim().split('\n')).toHaveLength(1)
    expect(long.stderr).toMatch(/^mtflow: symbol must be 1 to 200 characters once URL-encoded/)
    expect(long.stderr.length).toBeLessThan(300)
  })

  it('mtflow quotes what was typed in at most 200 characters (exit 2, one line)', async () => {
    const r = await runCli(['--home', home, 'runs', 'show', 'R'.repeat(5000)])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(Math.max(...(r.stderr.match(/R+/g) ?? ['']).map((m) => m.length))).toBeLessThanOrEqual(200)
  })
  it('a scoring body has its own size cap: 40,000 rows (~1.8 MB) are scored, the same size elsewhere is a 413', async () => {
    // z alternates 0 / 1: predictions alternate 10 / 20 (hand-worked from the stump above).
    const rows = Array.from({ length: 40_000 }, (_, i) => ({ z: i % 2, mom: 0.123456789, vol: 0.987654321 }))
    const body = JSON.stringify({ inputs: rows })
    expect(body.length).toBeGreaterThan(2 ** 20)
    const scored = await post('/models/stump@champion/invocations', body)
    expect(scored.status).toBe(200)
    const { predictions } = (await scored.json()) as { predictions: number[] }
    expect(predictions.length).toBe(40_000)
    expect(predictions.slice(0, 4)).toEqual([10, 20, 10, 20])
    expect(predictions.reduce((a, b) => a + b, 0)).toBe(20_000 * 10 + 20_000 * 20)
    const elsewhere = await post('/api/registry/models/stump/aliases', JSON.stringify({ alias: 'x', version: 1, reason: 'r'.repeat(2 ** 20) }))
    expect(elsewhere.status).toBe(413)
  })
})
