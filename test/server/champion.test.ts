// Champion/challenger serving on a real socket: shadow answers exactly the champion's bytes and logs both
// versions' predictions; A/B sends its share of 10,000 requests to the challenger (within binomial bounds,
// and each request where an independent sha256 of its id says); retries are sticky; an expired version
// answers 503 with one alert line; promotion by the out-of-sample rules moves the traffic; rollback.

import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { DecisionTreeClassifier, GradientBoostingClassifier, packageModel, registerPackage } from '../../lib/ml/index.js'
import { PredictionLog } from '../../lib/server/champion.js'
import { createApp, createModelApp, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { waitFor } from '../helpers.js'
import { promoteChallenger, promotionLog, rollback, rollbackOnBreach, writeServingConfig } from '../../lib/track/promotion.js'

const DAY = 86_400_000
const columns = ['z', 'mom', 'vol']
function data(seed: number, rows: number) {
  const rng = seededRandom(seed)
  const X = new Float64Array(rows * 3)
  const y: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 3; c++) X[r * 3 + c] = rng.normal()
    y.push(X[r * 3]! - 0.7 * X[r * 3 + 1]! + 0.4 * rng.normal() > 0 ? 1 : -1)
  }
  return { X, rows, columns, y }
}
const train = data(1, 300)
const v1Model = new DecisionTreeClassifier({ maxDepth: 1 }).fit(train)
const v2Model = new DecisionTreeClassifier({ maxDepth: 6 }).fit(train)
const probe = data(2, 40)
const records = Array.from({ length: probe.rows }, (_, r) => Object.fromEntries(columns.map((c, j) => [c, probe.X[r * 3 + j]!])))

let home: string
let server: Listening
let log: PredictionLog
let clock = 0
let registeredAt = 0

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })

/** The body a model's own predictions make, written here by hand: {predictions, classes, probabilities}. */
function expectedBody(model: DecisionTreeClassifier): string {
  const m = { X: probe.X, rows: probe.rows, columns }
  const p = model.predictProba(m)
  return JSON.stringify({ predictions: Array.from(model.predict(m)), classes: [-1, 1], probabilities: Array.from({ length: probe.rows }, (_, r) => [p[2 * r]!, p[2 * r + 1]!]) })
}

/** The prediction log's records so far (after the pending ones are written). */
async function logged(): Promise<Record<string, any>[]> {
  await new Promise((r) => setImmediate(r))
  await log.flush()
  const file = log.file('direction', clock)
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
}

/** Shadow scoring runs after the answer: wait (by polling, not by time) until n records are logged. */
async function loggedAtLeast(n: number): Promise<Record<string, any>[]> {
  for (let i = 0; i < 200; i++) {
    const out = await logged()
    if (out.length >= n) return out
  }
  return logged()
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-champion-'))
  const registry = new Registry(home)
  registerPackage(registry, 'direction', packageModel(v1Model, { data: train }), { alias: 'champion' })
  registerPackage(registry, 'direction', packageModel(v2Model, { data: train }), { alias: 'challenger' })
  registeredAt = registry.resolve('models', 'direction@1').createdAt
  clock = registeredAt + DAY
  log = new PredictionLog(home, { flushMs: 3_600_000 })
  const token = workspaceToken(home)
  server = await startServer({ home, token, port: 0, app: createApp({ home, token, champion: { now: () => clock, log } }) })
})
afterAll(async () => {
  await server?.close()
  rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
})
beforeEach(async () => {
  await log.flush()
  rmSync(join(home, 'monitor'), { recursive: true, force: true })
})

describe('champion/challenger serving', () => {
  it('the two versions differ on the probe (otherwise the tests below could not tell them apart)', () => {
    expect(expectedBody(v1Model)).not.toBe(expectedBody(v2Model))
  })

  it('single: the champion answers, says its version, and every row is logged with its features', async () => {
    writeServingConfig(home, 'direction', { champion: 'champion', mode: 'single' })
    const res = await post('/models/direction/invocations', { inputs: records }, { 'x-request-id': 'single-1' })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-model-version')).toBe('1')
    expect(res.headers.get('x-request-id')).toBe('single-1')
    expect(await res.text()).toBe(expectedBody(v1Model))
    const lines = await loggedAtLeast(probe.rows)
    expect(lines).toHaveLength(probe.rows)
    const p = v1Model.predictProba({ X: probe.X, rows: probe.rows, columns })
    lines.forEach((l, r) => {
      expect(l).toEqual({ time: clock, requestId: 'single-1', model: 'direction', version: 1, role: 'champion', row: records[r], prediction: v1Model.predict({ X: probe.X, rows: probe.rows, columns })[r], probability: p[2 * r + 1] })
    })
  })

  it('shadow: the response is the champion’s, byte for byte; the challenger’s predictions are logged, never returned', async () => {
    writeServingConfig(home, 'direction', { champion: 'champion', challenger: 'challenger', mode: 'shadow' })
    const res = await post('/models/direction/invocations', { inputs: records }, { 'x-request-id': 'shadow-1' })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-model-version')).toBe('1')
    expect(await res.text()).toBe(expectedBody(v1Model))
    const lines = await loggedAtLeast(2 * probe.rows)
    const m = { X: probe.X, rows: probe.rows, columns }
    const champion = lines.filter((l) => l.role === 'champion')
    const shadow = lines.filter((l) => l.role === 'shadow')
    expect(champion.map((l) => l.prediction)).toEqual(Array.from(v1Model.predict(m)))
    expect(shadow.map((l) => l.prediction)).toEqual(Array.from(v2Model.predict(m)))
    expect(shadow.every((l) => l.version === 2 && l.requestId === 'shadow-1')).toBe(true)
    expect(shadow.map((l) => l.row)).toEqual(records)
  })

  it('`mtflow models serve NAME@champion` honours the same config: champion bytes answered, the shadow logged', async () => {
    writeServingConfig(home, 'direction', { champion: 'champion', challenger: 'challenger', mode: 'shadow' })
    const token = workspaceToken(home)
    const single = await startServer({ home, token, port: 0, app: createModelApp({ home, token, ref: 'direction@champion', champion: { now: () => clock, log } }).app })
    try {
      const res = await fetch(`${single.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'serve-1' }, body: JSON.stringify({ inputs: records }) })
      expect(res.headers.get('x-model-version')).toBe('1')
      expect(await res.text()).toBe(expectedBody(v1Model))
      const lines = await loggedAtLeast(2 * probe.rows)
      expect(lines.filter((l) => l.role === 'shadow' && l.requestId === 'serve-1').map((l) => l.prediction)).toEqual(Array.from(v2Model.predict({ X: probe.X, rows: probe.rows, columns })))
    } finally {
      await single.close()
    }
  })

  it('a batch scored in a worker thread: the champion’s answer, and both versions logged row by row', async () => {
    const big = data(5, 5000)
    const fit = (seed: number) => new GradientBoostingClassifier({ nEstimators: 100, maxDepth: 4, seed, subsample: 0.7 }).fit(train)
    const [h1, h2] = [fit(1), fit(2)]
    const registry = new Registry(home)
    registerPackage(registry, 'heavy', packageModel(h1, { data: train }), { alias: 'champion' })
    registerPackage(registry, 'heavy', packageModel(h2, { data: train }), { alias: 'challenger' })
    writeServingConfig(home, 'heavy', { mode: 'shadow', challenger: 'challenger' })
    const rows = Array.from({ length: big.rows }, (_, r) => columns.map((_c, j) => big.X[r * 3 + j]!))
    const res = await post('/models/heavy/invocations', { inputs: rows }, { 'x-request-id': 'heavy-1' })
    expect(res.status).toBe(200)
    const m = { X: big.X, rows: big.rows, columns }
    expect(((await res.json()) as { predictions: number[] }).predictions).toEqual(Array.from(h1.predict(m)))
    let lines: Record<string, any>[] = []
    // The shadow scoring runs on a thread after the answer: up to 30 s (seconds on a loaded machine).
    for (let i = 0; i < 3000 && lines.length < 2 * big.rows; i++) {
      await new Promise((r) => setTimeout(r, 10))
      await log.flush()
      const file = log.file('heavy', clock)
      lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []
    }
    const p2 = h2.predictProba(m)
    const shadow = lines.filter((l) => l.role === 'shadow')
    expect(lines.filter((l) => l.role === 'champion').map((l) => l.prediction)).toEqual(Array.from(h1.predict(m)))
    expect(shadow.map((l) => l.prediction)).toEqual(Array.from(h2.predict(m)))
    expect(shadow.map((l) => l.probability)).toEqual(Array.from({ length: big.rows }, (_, r) => p2[2 * r + 1]))
    expect(shadow[4321]!.row).toEqual({ z: big.X[4321 * 3], mom: big.X[4321 * 3 + 1], vol: big.X[4321 * 3 + 2] })
  }, 60_000)

  it('the prediction log holds at most maxPendingBytes in memory: past it, records are dropped and counted', async () => {
    const small = new PredictionLog(join(home, 'small'), { maxPendingBytes: 1000, flushMs: 3_600_000 })
    const rec = { time: clock, requestId: 'x', model: 'direction', version: 1, role: 'champion' as const, row: { z: 1 }, prediction: 1 }
    const size = JSON.stringify(rec).length + 1
    const fits = Math.floor(1000 / size)
    for (let i = 0; i < fits + 5; i++) small.add([rec])
    expect(small.dropped).toBe(5)
    await small.close()
    expect(readFileSync(small.file('direction', clock), 'utf8').trim().split('\n')).toHaveLength(fits)
    expect(small.written).toBe(fits)
  })

  it('ab: 10,000 requests split within binomial bounds, each where sha256 of its id says; retries are sticky', async () => {
    const split = 0.3
    writeServingConfig(home, 'direction', { champion: 'champion', challenger: 'challenger', mode: 'ab', split })
    const n = 10_000
    const versions: string[] = new Array(n)
    const one = { inputs: [records[0]] }
    for (let start = 0; start < n; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, n - start) }, async (_, j) => {
          const i = start + j
          const res = await post('/models/direction/invocations', one, { 'x-request-id': `req-${i}` })
          await res.arrayBuffer()
          versions[i] = res.headers.get('x-model-version')!
        }),
      )
    }
    // An independent reading of the rule: the first 4 bytes of sha256("direction\n" + id) as a fraction of 2^32.
    const expected = (id: string) => (createHash('sha256').update(`direction\n${id}`).digest().readUInt32BE(0) / 2 ** 32 < split ? '2' : '1')
    versions.forEach((v, i) => expect(v, `req-${i}`).toBe(expected(`req-${i}`)))
    const b = versions.filter((v) => v === '2').length
    // Binomial(n, split): mean n·p, sd √(n·p·(1−p)) = 45.8; ±5 sd holds with probability 1 − 6e-7.
    const sd = Math.sqrt(n * split * (1 - split))
    expect(Math.abs(b - n * split)).toBeLessThan(5 * sd)
    const lines = await loggedAtLeast(n)
    expect(lines.filter((l) => l.role === 'b').length).toBe(b)
    expect(lines.filter((l) => l.role === 'a').length).toBe(n - b)
    // A caller's retries (same id) land on the same version, whichever it is.
    for (const id of ['req-3', 'req-4', 'retry-xyz']) {
      const seen = new Set<string>()
      for (let k = 0; k < 5; k++) {
        const res = await post('/models/direction/invocations', one, { 'x-request-id': id })
        await res.arrayBuffer()
        seen.add(res.headers.get('x-model-version')!)
      }
      expect([...seen]).toEqual([expected(id)])
    }
  }, 300_000) // 10,000 requests: 46 s seen on a loaded 2-core machine

  it('a request id that is not 1–128 printable characters is a 400 naming the header', async () => {
    const res = await post('/models/direction/invocations', { inputs: [records[0]] }, { 'x-request-id': 'a b' })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toMatch(/x-request-id/)
  })

  it('expiry: past expireAfter the version answers 503 naming it and its age, with one alert line however many requests', async () => {
    writeServingConfig(home, 'direction', { champion: 'champion', mode: 'single', expireAfter: '30d' })
    clock = registeredAt + 29 * DAY
    expect((await post('/models/direction/invocations', { inputs: [records[0]] })).status).toBe(200)
    clock = registeredAt + 31 * DAY + DAY / 2
    for (let k = 0; k < 3; k++) {
      const res = await post('/models/direction/invocations', { inputs: [records[0]] })
      expect(res.status).toBe(503)
      const body = (await res.json()) as { error: string; version: number; ageMs: number }
      expect(body.error).toMatch(/direction@1 has expired: registered 31\.5 days ago, older than its expireAfter of 30d/)
      expect(body.version).toBe(1)
      expect(body.ageMs).toBe(31.5 * DAY)
    }
    // Sent through the alert sinks (none configured here: recorded in the history only), once.
    const history = join(home, 'monitor', 'alerts.jsonl')
    expect(await waitFor(() => existsSync(history) && readFileSync(history, 'utf8').trim() !== '', 5_000)).toBe(true)
    const alerts = readFileSync(history, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(alerts).toHaveLength(1)
    expect(alerts[0]).toMatchObject({ time: new Date(clock).toISOString(), source: 'serving', key: 'serving.expired:direction@1', severity: 'critical' })
    // A second server on the same workspace (a restart) does not raise it again.
    const token = workspaceToken(home)
    const other = await startServer({ home, token, port: 0, app: createApp({ home, token, champion: { now: () => clock, log } }) })
    try {
      const res = await fetch(`${other.url}/models/direction/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [records[0]] }) })
      expect(res.status).toBe(503)
    } finally {
      await other.close()
    }
    expect(readFileSync(join(home, 'monitor', 'alerts.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1)
    clock = registeredAt + DAY
  })
})

describe('promotion and rollback', () => {
  let championRun: string
  let challengerRun: string
  let insampleRun: string
  let runningRun: string
  let unlinkedRun: string
  let taggedRun: string
  beforeAll(() => {
    const tracker = new Tracker(home)
    const run = (name: string, metrics: Record<string, number>, end = true) => {
      const r = tracker.startRun({ experiment: 'wf', name })
      r.logMetrics(metrics)
      if (end) r.end()
      return r.id
    }
    championRun = run('wf-v1', { oosSharpe: 0.8, oosObservations: 250, sharpe: 2.5 })
    challengerRun = run('wf-v2', { oosSharpe: 1.1, oosObservations: 250, sharpe: 1.9 })
    insampleRun = run('is-v2', { sharpe: 3 })
    runningRun = run('wf-v2-running', { oosSharpe: 2, oosObservations: 500 }, false)
    unlinkedRun = run('wf-other', { oosSharpe: 3, oosObservations: 500 })
    const tagged = tracker.startRun({ experiment: 'wf', name: 'is-tagged', tags: { 'mtflow.inSample': 'true' } })
    tagged.logMetrics({ oosSharpe: 3, oosObservations: 500 })
    tagged.end()
    taggedRun = tagged.id
    // Evidence is a run of its side's version: linked in the registry (all but unlinkedRun).
    const registry = new Registry(home)
    registry.linkRuns('models', 'direction', 1, [championRun], 'walk-forward of v1')
    registry.linkRuns('models', 'direction', 2, [challengerRun, insampleRun, runningRun, taggedRun], 'walk-forward of v2')
    writeServingConfig(home, 'direction', { champion: 'champion', mode: 'single' })
  })

  it('refuses, with one line why, when a rule is not met; the aliases do not move', () => {
    const evidence = { champion: { runId: championRun }, challenger: { runId: challengerRun } }
    const cases: [Parameters<typeof promoteChallenger>[2], RegExp][] = [
      // 1.1 < 0.8 + 0.5
      [{ evidence, rules: { margin: 0.5 } }, /challenger v2 oosSharpe 1\.100 vs champion v1 oosSharpe 0\.8000 \+ margin 0\.5000 on 250 out-of-sample observations: below 1\.300/],
      [{ evidence, rules: { minObservations: 251 } }, /rests on 250 observations, fewer than 251/],
      [{ evidence: { champion: { runId: championRun }, challenger: { runId: insampleRun } } }, /has no finite out-of-sample sharpe \(looked for oosSharpe/],
      [{ evidence: { champion: { runId: championRun }, challenger: { runId: runningRun } } }, /is RUNNING, not FINISHED/],
      [{ evidence: { champion: { runId: challengerRun }, challenger: { runId: challengerRun } } }, /both sides cite the same run/],
      [{ evidence: { champion: { runId: championRun }, challenger: { runId: unlinkedRun } } }, /the challenger's evidence run \w+ is not a run of direction v2 \(not linked to the version, nor a backtest gated by it\)/],
      [{ evidence: { champion: { runId: challengerRun }, challenger: { runId: championRun } } }, /the champion's evidence run \w+ is not a run of direction v1/],
      [{ evidence: { champion: { runId: championRun }, challenger: { runId: taggedRun } } }, /the challenger's evidence run \w+ is in sample/],
    ]
    for (const [options, why] of cases) {
      const result = promoteChallenger(home, 'direction', options)
      expect(result.promoted).toBe(false)
      expect(result.reason).toMatch(why)
      expect(result.reason).not.toMatch(/\n/)
    }
    expect(new Registry(home).entry('models', 'direction').aliases).toEqual({ champion: 1, challenger: 2 })
    expect(promotionLog(home, 'direction').filter((e) => e.action === 'refuse')).toHaveLength(cases.length)
  })

  it('promotes when the challenger beats the champion by the margin: aliases, audit with evidence, and the traffic moves', async () => {
    const result = promoteChallenger(home, 'direction', { evidence: { champion: { runId: championRun }, challenger: { runId: challengerRun } }, rules: { metric: 'sharpe', margin: 0.25, minObservations: 250 }, now: () => clock })
    expect(result.promoted).toBe(true)
    expect(result.champion).toMatchObject({ version: 1, metricKey: 'oosSharpe', value: 0.8, runId: championRun })
    expect(result.challenger).toMatchObject({ version: 2, metricKey: 'oosSharpe', value: 1.1, observations: 250, runId: challengerRun })
    const registry = new Registry(home)
    expect(registry.entry('models', 'direction').aliases).toEqual({ champion: 2, 'previous-champion': 1 })
    const moved = registry.auditLog('models', 'direction').filter((e) => e.action === 'alias' && e.alias === 'champion').pop()!
    expect(moved).toMatchObject({ version: 2, from: '1', to: '2' })
    expect(moved.reason).toContain(championRun)
    expect(moved.reason).toContain(challengerRun)
    const entry = promotionLog(home, 'direction').pop()!
    expect(entry).toMatchObject({ action: 'promote', time: clock, model: 'direction', rules: { metric: 'sharpe', margin: 0.25, minObservations: 250 } })
    const res = await post('/models/direction/invocations', { inputs: records })
    expect(res.headers.get('x-model-version')).toBe('2')
    expect(await res.text()).toBe(expectedBody(v2Model))
  })

  it('rollback: champion back to previous-champion with the reason; nothing left to roll back to is refused', async () => {
    const result = rollback(home, 'direction', 'directional accuracy 0.51 < 0.55')
    expect(result).toMatchObject({ rolledBack: true, from: 2, to: 1 })
    const registry = new Registry(home)
    expect(registry.entry('models', 'direction').aliases).toEqual({ champion: 1, 'rolled-back': 2 })
    expect(registry.auditLog('models', 'direction').filter((e) => e.alias === 'champion').pop()!.reason).toBe('rollback: directional accuracy 0.51 < 0.55')
    const res = await post('/models/direction/invocations', { inputs: records })
    expect(res.headers.get('x-model-version')).toBe('1')
    expect(() => rollback(home, 'direction', 'again')).toThrow(/has no previous-champion to roll back to/)
    expect(() => rollback(home, 'direction', ' ')).toThrow(/needs a reason/)
    // The monitor's trigger gets a value, never an exception, when there is nothing to roll back to.
    const breach = rollbackOnBreach(home, 'direction', { monitor: 'rmse-3d', rule: 'rmse up 20 %', value: 0.3, threshold: 0.24 })
    expect(breach).toMatchObject({ rolledBack: false, from: null, to: null })
    expect(breach.reason).toMatch(/^not rolled back: model direction has no previous-champion/)
  })

  it('rollbackOnBreach rolls back with the breach as the reason and the evidence recorded', () => {
    const registry = new Registry(home)
    registry.setAlias('models', 'direction', 'previous-champion', 2)
    const breach = rollbackOnBreach(home, 'direction', { monitor: 'rmse-3d', rule: 'rmse up 20 %', value: 0.3, threshold: 0.24 })
    expect(breach).toMatchObject({ rolledBack: true, from: 1, to: 2 })
    expect(registry.auditLog('models', 'direction').filter((e) => e.alias === 'champion').pop()!.reason).toBe('rollback: monitor breach: rmse-3d, rmse up 20 %, value 0.3, threshold 0.24')
    expect(promotionLog(home, 'direction').pop()).toMatchObject({ action: 'rollback', evidence: { monitor: 'rmse-3d', value: 0.3 } })
  })

  it('a damaged serving config is a 500 naming the file, and writeServingConfig refuses bad input with one line', async () => {
    expect(() => writeServingConfig(home, 'direction', { mode: 'ab' } as never)).toThrow(/mode ab needs a challenger alias/)
    expect(() => writeServingConfig(home, 'direction', { mode: 'ab', challenger: 'challenger', split: 1 } as never)).toThrow(/split must be a number between 0 and 1/)
    expect(() => writeServingConfig(home, 'direction', { mode: 'single', expireAfter: '30 days' } as never)).toThrow(/expireAfter must be a duration such as 30d/)
    expect(() => writeServingConfig(home, 'nosuch', { mode: 'single' })).toThrow(/no model named "nosuch"/)
    writeFileSync(join(home, 'serving', 'direction.json'), '{"mode": "shadow"')
    const res = await post('/models/direction/invocations', { inputs: [records[0]] })
    expect(res.status).toBe(500)
    expect(((await res.json()) as { error: string }).error).toMatch(/serving\/direction\.json is corrupt/)
    writeServingConfig(home, 'direction', { mode: 'single' })
  })
})
