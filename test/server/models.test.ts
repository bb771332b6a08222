// Model serving over real sockets: `mtflow models serve`'s app (one model, loaded once) and the same
// routes inside `mtflow serve` (/models/NAME@REF/…, the alias resolved per request). Predictions equal
// the model's own on the same rows in every input format; every malformed input is a 4xx with a JSON
// message naming the field (a seeded fuzz of 300 bodies never gets a 5xx); the CLI verb starts and answers.

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { DecisionTreeClassifier, GradientBoostingRegressor, RouterModel, packageModel, registerPackage } from '../../lib/ml/index.js'
import { createModelApp, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry } from '../../lib/track/index.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
let home: string
let single: Listening
let full: Listening
const columns = ['z', 'mom', 'vol']

function data(seed: number, rows = 300) {
  const rng = seededRandom(seed)
  const X = new Float64Array(rows * 3)
  const y: number[] = []
  const t: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 3; c++) X[r * 3 + c] = rng.normal()
    y.push(X[r * 3]! - 0.7 * X[r * 3 + 1]! + 0.4 * rng.normal() > 0 ? 1 : -1)
    t.push(2 * X[r * 3]! + X[r * 3 + 2]! ** 2 + 0.1 * rng.normal())
  }
  return { X, rows, columns, y, t }
}
const train = data(1)
const clf = new DecisionTreeClassifier({ maxDepth: 5 }).fit(train)
const clf2 = new DecisionTreeClassifier({ maxDepth: 2 }).fit(train)
const reg = new GradientBoostingRegressor({ nEstimators: 20 }).fit({ ...train, y: train.t })
const probe = data(2, 25)
const records = Array.from({ length: probe.rows }, (_, r) => Object.fromEntries(columns.map((c, j) => [c, probe.X[r * 3 + j]!])))

const post = (url: string, body: unknown, type = 'application/json') => fetch(url, { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) })

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-serve-models-'))
  const registry = new Registry(home)
  registerPackage(registry, 'direction', packageModel(clf2, { data: train }))
  registerPackage(registry, 'direction', packageModel(clf, { data: train, label: 'side', metrics: { accuracy: 0.7 } }), { alias: 'champion' })
  registerPackage(registry, 'size', packageModel(reg, { data: { ...train, y: train.t } }), { alias: 'live' })
  registerPackage(registry, 'pairs', packageModel(new RouterModel({ 'KO/PEP': clf, 'XOM/CVX': clf2 }), { data: train }), { alias: 'champion' })
  const token = workspaceToken(home)
  // A 1 MiB cap on rows to score (64 MiB by default), so the last test can send a body over it.
  single = await startServer({ home, token, port: 0, app: createModelApp({ home, token, ref: 'direction@champion', maxScoringBodyBytes: 2 ** 20 }).app })
  full = await startServer({ home, token, port: 0 })
})
afterAll(async () => {
  await single?.close()
  await full?.close()
  rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
})

describe('mtflow models serve (one model)', () => {
  it('pings and describes the model it loaded', async () => {
    const ping = await fetch(`${single.url}/ping`)
    expect(ping.status).toBe(200)
    expect(await ping.json()).toEqual({ status: 'ok', model: 'direction@2' })
    const version = (await (await fetch(`${single.url}/version`)).json()) as Record<string, any>
    expect(version).toMatchObject({ name: 'direction', version: 2, family: 'tree', task: 'classification', metrics: { accuracy: 0.7 } })
    expect(version.signature.inputs.map((f: { name: string }) => f.name)).toEqual(columns)
    expect(version.signature.output).toEqual({ name: 'side', type: 'double', classes: [-1, 1] })
  })

  it("scores records, rows and dataframe_split alike: the model's own predictions and probabilities", async () => {
    const expected = Array.from(clf.predict(probe))
    const proba = clf.predictProba(probe)
    const a = (await (await post(`${single.url}/invocations`, { inputs: records })).json()) as { predictions: number[]; probabilities: number[][]; classes: number[] }
    expect(a.predictions).toEqual(expected)
    expect(a.classes).toEqual([-1, 1])
    a.probabilities.forEach((p, r) => expect(p).toEqual([proba[r * 2], proba[r * 2 + 1]]))
    const rows = records.map((r) => columns.map((c) => r[c]))
    expect(((await (await post(`${single.url}/invocations`, { inputs: rows })).json()) as { predictions: number[] }).predictions).toEqual(expected)
    // Columns in another order: matched by name.
    const order = ['vol', 'z', 'mom']
    const split = { dataframe_split: { columns: order, data: records.map((r) => order.map((c) => r[c])) } }
    expect(((await (await post(`${single.url}/invocations`, split)).json()) as { predictions: number[] }).predictions).toEqual(expected)
    expect(((await (await post(`${single.url}/invocations`, { dataframe_records: records })).json()) as { predictions: number[] }).predictions).toEqual(expected)
  })

  it('answers bad input with a 4xx naming the field, never a 5xx', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ inputs: [{ z: 1, mom: 2 }] }, 400, /missing input field "vol" at row 0/],
      [{ inputs: [{ z: 1, mom: 2, vol: 3, spread: 4 }] }, 400, /unexpected input field "spread" at row 0/],
      [{ inputs: [{ z: 1, mom: 'high', vol: 3 }] }, 400, /field "mom" at row 0 must be a finite number \(received "high"\)/],
      [{ inputs: [{ z: 1, mom: 2, vol: 3 }, { z: null, mom: 2, vol: 3 }] }, 400, /field "z" at row 1 is null; the model does not accept missing values/],
      [{ inputs: [{ z: 'NaN', mom: 2, vol: 3 }] }, 400, /field "z" at row 0 is NaN/],
      [{ inputs: [{ z: true, mom: 2, vol: 3 }] }, 400, /field "z" at row 0 must be a finite number \(received true\)/],
      [{ inputs: [[1, 2]] }, 400, /inputs\[0\] has 2 values; the model takes 3 \(z, mom, vol\)/],
      [{ inputs: [] }, 400, /no rows to score/],
      [{ dataframe_split: { columns: ['z', 'mom'], data: [[1, 2]] } }, 400, /missing input field "vol"/],
      [{ dataframe_split: { columns: ['z', 'mom', 'vol'], data: [[1, 2]] } }, 400, /dataframe_split.data\[0\] must be an array of 3 values \(received 2 values\)/],
      [{ instances: [] }, 400, /needs exactly one of "inputs", "dataframe_split", "dataframe_records" \(found none\)/],
      [{ inputs: [], dataframe_records: [] }, 400, /found inputs, dataframe_records/],
      [[1, 2, 3], 400, /must be a JSON object/],
      ['{"inputs": [', 400, /the body is not valid JSON/],
    ]
    for (const [body, status, message] of cases) {
      const res = await post(`${single.url}/invocations`, body)
      expect(res.status, JSON.stringify(body)).toBe(status)
      expect(res.headers.get('content-type')).toMatch(/application\/json/)
      expect(((await res.json()) as { error: string }).error).toMatch(message)
    }
    const text = await post(`${single.url}/invocations`, 'z=1', 'application/x-www-form-urlencoded')
    expect(text.status).toBe(415)
    expect((await fetch(`${single.url}/invocations`, { headers: { authorization: `Bearer ${workspaceToken(home)}` } })).status).toBe(404)
  })

  it('never answers 5xx to 300 seeded malformed bodies', async () => {
    const rng = seededRandom(17)
    const atoms = [null, true, 0, -1.5, 1e308, 'x', 'NaN', '', [], {}, [1, 2, 3], { z: 1 }, Infinity]
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rng.next() * a.length)]!
    for (let i = 0; i < 300; i++) {
      const row: Record<string, unknown> = {}
      for (const c of [...columns, 'extra']) if (rng.next() < 0.8) row[c] = rng.next() < 0.7 ? rng.normal() : pick(atoms)
      const shapes = [{ inputs: [row] }, { inputs: row }, { dataframe_split: { columns: Object.keys(row), data: [Object.values(row)] } }, { dataframe_split: pick(atoms) }, { dataframe_records: pick(atoms) }, pick(atoms), { inputs: [pick(atoms)] }]
      const body = JSON.stringify(pick(shapes)) ?? 'null'
      const cut = rng.next() < 0.1 ? body.slice(0, Math.floor(rng.next() * body.length)) : body
      const res = await post(`${single.url}/invocations`, cut)
      expect(res.status, cut).toBeLessThan(500)
      await res.arrayBuffer()
    }
    // Last on this server: a body over the cap is refused before it is read (the socket then closes).
    const big = await post(`${single.url}/invocations`, JSON.stringify({ inputs: Array.from({ length: 40_000 }, () => ({ z: 1.123456789, mom: 2.123456789, vol: 3.123456789 })) }))
    expect(big.status).toBe(413)
  })
})

describe('model routes inside mtflow serve', () => {
  it('serves any model by alias without a token on loopback; moving the alias moves the traffic', async () => {
    const url = `${full.url}/models/direction@champion`
    expect(((await (await post(`${url}/invocations`, { inputs: records })).json()) as { predictions: number[] }).predictions).toEqual(Array.from(clf.predict(probe)))
    new Registry(home).setAlias('models', 'direction', 'champion', 1)
    expect(((await (await post(`${url}/invocations`, { inputs: records })).json()) as { predictions: number[] }).predictions).toEqual(Array.from(clf2.predict(probe)))
    expect(((await (await fetch(`${url}/version`)).json()) as { version: number }).version).toBe(1)
    new Registry(home).setAlias('models', 'direction', 'champion', 2)
    const size = (await (await post(`${full.url}/models/size@live/invocations`, { inputs: records })).json()) as { predictions: number[]; probabilities?: unknown }
    Array.from(reg.predict(probe)).forEach((v, r) => expect(size.predictions[r]).toBeCloseTo(v, 12))
    expect(size.probabilities).toBeUndefined()
    const missing = await fetch(`${full.url}/models/nothing@champion/ping`)
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: string }).error).toMatch(/nothing/)
    // Other POSTs still need the token.
    expect((await post(`${full.url}/api/runs`, {})).status).toBe(401)
  })

  it('routes rows of a router by their pair', async () => {
    const rows = records.slice(0, 6).map((r, i) => ({ pair: i % 2 === 0 ? 'KO/PEP' : 'XOM/CVX', ...r }))
    const res = (await (await post(`${full.url}/models/pairs@champion/invocations`, { inputs: rows })).json()) as { predictions: number[] }
    rows.forEach((_, i) => {
      const one = { X: probe.X.subarray(i * 3, i * 3 + 3), rows: 1, columns }
      expect(res.predictions[i]).toBe((i % 2 === 0 ? clf : clf2).predict(one)[0])
    })
    const bad = await post(`${full.url}/models/pairs@champion/invocations`, { inputs: [{ ...records[0], pair: 'GLD/GDX' }] })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toMatch(/no model for pair "GLD\/GDX" at row 0/)
    const numeric = await post(`${full.url}/models/pairs@champion/invocations`, { inputs: [{ ...records[0], pair: 7 }] })
    expect(((await numeric.json()) as { error: string }).error).toMatch(/field "pair" at row 0 must be a string \(received 7\)/)
  })
})

describe('the CLI verb', () => {
  it('mtflow models serve NAME@ALIAS --port 0 --json starts, answers /ping, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'lib/cli/bin.cjs'), '--home', home, 'models', 'serve', 'direction@champion', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve(out.split('\n')[0]!)
      })
      child.on('exit', (code) => reject(new Error(`exited ${code}`)))
    })
    const { url, model, version } = JSON.parse(line) as { url: string; model: string; version: number }
    expect([model, version]).toEqual(['direction', 2])
    expect((await fetch(`${url}/ping`)).status).toBe(200)
    child.kill('SIGTERM')
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0)
    const bad = spawn(process.execPath, [join(ROOT, 'lib/cli/bin.cjs'), '--home', home, 'models', 'serve', 'direction@nope'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    bad.stderr.on('data', (d: Buffer) => (err += d.toString()))
    expect(await new Promise((resolve) => bad.on('exit', resolve))).toBe(2)
    expect(err.trim()).toBe('mtflow: model direction has no alias "nope" (aliases: champion)')
  })
})
