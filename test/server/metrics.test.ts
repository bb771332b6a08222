// GET /metrics over real sockets, read with a Prometheus text-format parser (parse-prometheus-text-format):
// request counts per matched route pattern after N requests, latency histograms whose buckets never
// decrease and whose +Inf bucket equals the count, predictions per model version, the workspace's
// deployments, job history and monitor state read at scrape time (values worked out from the files the
// test writes), series that do not grow with distinct raw paths, and /metrics' access rules.

import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { DecisionTreeClassifier, packageModel, registerPackage } from '../../lib/ml/index.js'
import { createModelApp, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry } from '../../lib/track/index.js'

interface Sample {
  labels?: Record<string, string>
  value?: string
}
interface Family {
  name: string
  help: string
  type: string
  metrics: Sample[]
}
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[]

interface HistogramSeries {
  labels: Record<string, string>
  /** [upper bound, cumulative count], in bound order (+Inf last). */
  buckets: [number, number][]
  count: number
  sum: number
}

/**
 * The scrape parsed whole (the parser throws on a malformed line). The parser flattens a histogram's
 * series into one (it drops their labels), so histograms are read from a second parse of the same text
 * with their TYPE lines left out: each _bucket, _sum and _count line then comes back as a plain sample
 * with its labels (prom-client writes `le` first; the parser expects histograms without other labels).
 */
function parseScrape(text: string): { families: Map<string, Family>; histogram(name: string): HistogramSeries[]; value(name: string, labels?: Record<string, string>): number | undefined; series(name: string): Sample[] } {
  // A family's lines interleaved with another's (a histogram's _bucket, _sum, _count per series) come back
  // as several families of one name: their samples are put together.
  const byName = (list: Family[]) => {
    const out = new Map<string, Family>()
    for (const f of list) {
      const seen = out.get(f.name)
      if (seen === undefined) out.set(f.name, { ...f, metrics: [...f.metrics] })
      else seen.metrics.push(...f.metrics)
    }
    return out
  }
  const families = byName(parsePrometheus(text))
  const plain = byName(parsePrometheus(text.split('\n').filter((l) => !/^# TYPE \S+ histogram$/.test(l)).join('\n')))
  const key = (labels: Record<string, string> = {}) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort())
  const samples = (name: string) => plain.get(name)?.metrics ?? families.get(name)?.metrics ?? []
  return {
    families,
    series: samples,
    value(name, labels = {}) {
      const hit = samples(name).find((s) => key(s.labels) === key(labels))
      return hit === undefined ? undefined : Number(hit.value)
    },
    histogram(name) {
      expect(families.get(name)?.type).toBe('HISTOGRAM')
      const out = new Map<string, HistogramSeries>()
      for (const s of samples(`${name}_bucket`)) {
        const k = key(s.labels)
        const h = out.get(k) ?? { labels: Object.fromEntries(Object.entries(s.labels ?? {}).filter(([l]) => l !== 'le')), buckets: [], count: NaN, sum: NaN }
        h.buckets.push([s.labels!.le === '+Inf' ? Infinity : Number(s.labels!.le), Number(s.value)])
        out.set(k, h)
      }
      for (const s of samples(`${name}_count`)) out.get(key(s.labels))!.count = Number(s.value)
      for (const s of samples(`${name}_sum`)) out.get(key(s.labels))!.sum = Number(s.value)
      for (const h of out.values()) h.buckets.sort((a, b) => a[0] - b[0])
      return [...out.values()]
    },
  }
}

let home: string
let token: string
let serve: Listening
let modelServer: Listening
const columns = ['z', 'mom', 'vol']

function data(seed: number, rows: number) {
  const rng = seededRandom(seed)
  const X = new Float64Array(rows * 3)
  const y: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 3; c++) X[r * 3 + c] = rng.normal()
    y.push(X[r * 3]! - 0.5 * X[r * 3 + 1]! > 0 ? 1 : -1)
  }
  return { X, rows, columns, y }
}
const records = (n: number) => Array.from({ length: n }, (_, r) => ({ z: r / 10, mom: -r / 7, vol: 1 + r / 3 }))

const get = (url: string, auth = true) => fetch(url, auth ? { headers: { authorization: `Bearer ${token}` } } : {})
const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
async function scrape(base: string, auth = true) {
  const res = await get(`${base}/metrics`, auth)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parseScrape(await res.text())
}

const hist = (lines: object[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('')

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-metrics-'))
  const train = data(1, 200)
  const registry = new Registry(home)
  registerPackage(registry, 'direction', packageModel(new DecisionTreeClassifier({ maxDepth: 2 }).fit(train), { data: train }))
  registerPackage(registry, 'direction', packageModel(new DecisionTreeClassifier({ maxDepth: 4 }).fit(train), { data: train }), { alias: 'champion' })

  // Deployments: one stopped (its numbers as written), one "running" whose process is gone (read as failed), one damaged.
  const deployment = (name: string, status: object | string) => {
    mkdirSync(join(home, 'deployments', name), { recursive: true })
    writeFileSync(join(home, 'deployments', name, 'status.json'), typeof status === 'string' ? status : JSON.stringify(status))
  }
  const position = (symbol: string, qty: number, value: number) => ({ strategy: 'sma', symbol, qty, avgPrice: 1, value, unrealized: 0 })
  const order = (cid: string) => ({ cid, id: 1, symbol: 'BTC/USDT', side: 'sell', type: 'stop', role: 'stop-loss', qty: 0.5, filled: 0, status: 'SUBMITTED' })
  const base = { pid: 999_999_999, mode: 'paper', exchange: 'binance', strategy: 'sma-cross@1', symbols: ['BTC/USDT'], timeframe: '1h', startedAt: '2026-01-01T00:00:00.000Z', bars: 10, trades: [], fills: 3, journal: 'journal.jsonl' }
  deployment('alpha', { ...base, name: 'alpha', state: 'stopped', updatedAt: '2026-01-05T12:00:00.000Z', equity: 101_234.5, cash: 50_000, positions: [position('BTC/USDT', 0.5, 30_000), position('ETH/USDT', 0, 0), position('SOL/USDT', -10, -1_500)], openOrders: [order('a1'), order('a2')], tradeCount: 7 })
  deployment('beta', { ...base, name: 'beta', mode: 'live', state: 'running', updatedAt: '2026-01-05T13:00:00.000Z', equity: 2_000, cash: 2_000, positions: [], openOrders: [], tradeCount: 0 })
  deployment('gamma', '{"state": "runn')

  mkdirSync(join(home, 'scheduler'), { recursive: true })
  writeFileSync(
    join(home, 'scheduler', 'history.jsonl'),
    hist([
      { job: 'retrain', time: '2026-01-05T00:00:00.000Z', status: 'ok', ms: 1200 },
      { job: 'retrain', time: '2026-01-06T00:00:00.000Z', status: 'failed', ms: 300 },
      { job: 'ingest', time: Date.UTC(2026, 0, 4), status: 'ok', ms: 50 },
      { job: 'retrain', status: 'maybe' },
    ]) + 'not json\n',
  )
  mkdirSync(join(home, 'monitor'), { recursive: true })
  writeFileSync(
    join(home, 'monitor', 'state.jsonl'),
    hist([
      { monitor: 'psi:z', time: '2026-01-06T00:00:00.000Z', value: 0.31, breached: true, evidence: { columns: [{ column: 'z', method: 'psi', score: 0.31, threshold: 0.1, drifted: true }, { column: 'mom', method: 'psi', score: 0.02, threshold: 0.1, drifted: false }] } },
      { monitor: 'psi:z', time: '2026-01-05T00:00:00.000Z', value: 0.05, breached: false },
      { monitor: 'ks:mom', time: '2026-01-05T00:00:00.000Z', value: 0.12, breached: false },
      // Breached, then measured nothing: the latest state has no score and is not breached.
      { monitor: 'dd', time: '2026-01-05T00:00:00.000Z', value: 0.2, breached: true },
      { monitor: 'dd', time: '2026-01-06T00:00:00.000Z', value: null, breached: false, status: 'no-data' },
    ]),
  )

  token = workspaceToken(home)
  serve = await startServer({ home, token, port: 0 })
  modelServer = await startServer({ home, token, port: 0, app: createModelApp({ home, token, ref: 'direction@champion' }).app })
})
afterAll(async () => {
  await serve?.close()
  await modelServer?.close()
  rmSync(home, { recursive: true, force: true })
})

describe('/metrics on mtflow serve', () => {
  it('needs the token like every other route', async () => {
    expect((await get(`${serve.url}/metrics`, false)).status).toBe(401)
  })

  it('counts requests per route pattern, method and status, and times them in a histogram', async () => {
    for (let i = 0; i < 7; i++) expect((await get(`${serve.url}/api/experiments`)).status).toBe(200)
    for (let i = 0; i < 3; i++) expect((await get(`${serve.url}/api/runs/no-such-run-${i}`)).status).toBe(404)
    expect((await get(`${serve.url}/api/experiments`, false)).status).toBe(401)
    const m = await scrape(serve.url)
    expect(m.value('mtflow_http_requests_total', { route: '/api/experiments', method: 'GET', status: '200' })).toBe(7)
    expect(m.value('mtflow_http_requests_total', { route: '/api/experiments', method: 'GET', status: '401' })).toBe(1)
    expect(m.value('mtflow_http_requests_total', { route: '/api/runs/:id', method: 'GET', status: '404' })).toBe(3)
    // Earlier scrapes count too (the one in flight is counted once it has answered).
    expect(m.value('mtflow_http_requests_total', { route: '/metrics', method: 'GET', status: '401' })).toBe(1)
    const series = m.histogram('mtflow_http_request_duration_seconds')
    const experiments = series.find((h) => h.labels.route === '/api/experiments')!
    expect(experiments.labels).toEqual({ route: '/api/experiments', method: 'GET' })
    expect(experiments.count).toBe(8)
    expect(experiments.buckets.map(([le]) => le)).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, Infinity])
    for (const h of series) {
      for (let i = 1; i < h.buckets.length; i++) expect(h.buckets[i]![1]).toBeGreaterThanOrEqual(h.buckets[i - 1]![1])
      expect(h.buckets.at(-1)![1]).toBe(h.count)
      expect(h.sum).toBeGreaterThanOrEqual(0)
    }
    // The raw paths never appear.
    expect([...m.series('mtflow_http_requests_total')].some((s) => s.labels?.route?.includes('no-such-run'))).toBe(false)
  })

  it('does not grow with distinct raw paths', async () => {
    const once = async (i: number) => {
      await get(`${serve.url}/api/runs/other-${i}`)
      await get(`${serve.url}/runs/other-${i}`)
      await get(`${serve.url}/nothing/here/${i}`)
      await get(`${serve.url}/nothing-${i}`, false)
    }
    await once(0)
    const before = await scrape(serve.url)
    for (let i = 1; i <= 40; i++) await once(i)
    const after = await scrape(serve.url)
    const keys = (m: ReturnType<typeof parseScrape>, name: string) => m.series(name).map((s) => JSON.stringify(s.labels)).sort()
    for (const name of ['mtflow_http_requests_total', 'mtflow_http_request_duration_seconds_bucket']) expect(keys(after, name)).toEqual(keys(before, name))
    expect(after.value('mtflow_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(41)
    expect(after.value('mtflow_http_requests_total', { route: 'unmatched', method: 'GET', status: '401' })).toBe(41)
    expect(after.value('mtflow_http_requests_total', { route: '/runs/:id', method: 'GET', status: '404' })).toBe(41)
  })

  it('counts scoring requests and predictions per model name and version', async () => {
    const url = `${serve.url}/models/direction@champion/invocations`
    for (const n of [5, 3, 4]) expect((await post(url, { inputs: records(n) })).status).toBe(200)
    expect((await post(url, { inputs: [{ z: 1 }] })).status).toBe(400)
    expect((await post(`${serve.url}/models/direction@1/invocations`, { inputs: records(2) })).status).toBe(200)
    const m = await scrape(serve.url)
    expect(m.value('mtflow_model_predictions_total', { model: 'direction', version: '2' })).toBe(12)
    expect(m.value('mtflow_model_predictions_total', { model: 'direction', version: '1' })).toBe(2)
    expect(m.value('mtflow_model_requests_total', { model: 'direction', version: '2', status: '200' })).toBe(3)
    expect(m.value('mtflow_model_requests_total', { model: 'direction', version: '2', status: '400' })).toBe(1)
    expect(m.value('mtflow_http_requests_total', { route: '/models/:ref/invocations', method: 'POST', status: '200' })).toBe(4)
    const v2 = m.histogram('mtflow_model_request_duration_seconds').find((h) => h.labels.version === '2')!
    expect(v2.labels).toEqual({ model: 'direction', version: '2' })
    expect(v2.count).toBe(4)
    expect(v2.buckets.at(-1)![1]).toBe(4)
  })

  it("reads deployments' status, the job history and the monitors' state at scrape time", async () => {
    let m = await scrape(serve.url)
    expect(m.value('mtflow_deployments')).toBe(2)
    expect(m.value('mtflow_deployment_equity', { deployment: 'alpha' })).toBe(101_234.5)
    expect(m.value('mtflow_deployment_cash', { deployment: 'alpha' })).toBe(50_000)
    expect(m.value('mtflow_deployment_positions', { deployment: 'alpha' })).toBe(2)
    expect(m.value('mtflow_deployment_gross_exposure', { deployment: 'alpha' })).toBe(31_500)
    expect(m.value('mtflow_deployment_open_orders', { deployment: 'alpha' })).toBe(2)
    expect(m.value('mtflow_deployment_trades', { deployment: 'alpha' })).toBe(7)
    expect(m.value('mtflow_deployment_last_update_timestamp_seconds', { deployment: 'alpha' })).toBe(Date.UTC(2026, 0, 5, 12) / 1000)
    expect(m.series('mtflow_deployment_state').map((s) => s.labels)).toEqual([
      { deployment: 'alpha', state: 'stopped', mode: 'paper' },
      { deployment: 'beta', state: 'failed', mode: 'live' },
    ])
    expect(m.value('mtflow_deployment_equity', { deployment: 'beta' })).toBe(2_000)

    expect(m.families.get('mtflow_job_runs_total')?.type).toBe('COUNTER')
    expect(m.value('mtflow_job_runs_total', { job: 'retrain' })).toBe(2)
    expect(m.value('mtflow_job_failures_total', { job: 'retrain' })).toBe(1)
    expect(m.value('mtflow_job_last_success', { job: 'retrain' })).toBe(0)
    expect(m.value('mtflow_job_last_duration_seconds', { job: 'retrain' })).toBe(0.3)
    expect(m.value('mtflow_job_last_run_timestamp_seconds', { job: 'retrain' })).toBe(Date.UTC(2026, 0, 6) / 1000)
    expect(m.value('mtflow_job_runs_total', { job: 'ingest' })).toBe(1)
    expect(m.value('mtflow_job_failures_total', { job: 'ingest' })).toBe(0)
    expect(m.value('mtflow_job_last_run_timestamp_seconds', { job: 'ingest' })).toBe(Date.UTC(2026, 0, 4) / 1000)

    // The latest value by time, not by line order.
    expect(m.value('mtflow_monitor_score', { monitor: 'psi:z' })).toBe(0.31)
    expect(m.value('mtflow_monitor_breached', { monitor: 'psi:z' })).toBe(1)
    expect(m.value('mtflow_monitor_score', { monitor: 'ks:mom' })).toBe(0.12)
    expect(m.value('mtflow_monitor_breached', { monitor: 'ks:mom' })).toBe(0)
    expect(m.value('mtflow_monitor_breached', { monitor: 'dd' })).toBe(0)
    // Per column, from the latest evaluation's evidence.
    expect(m.value('mtflow_drift_score', { monitor: 'psi:z', column: 'z' })).toBe(0.31)
    expect(m.value('mtflow_drift_score', { monitor: 'psi:z', column: 'mom' })).toBe(0.02)
    expect(m.value('mtflow_drift_drifted', { monitor: 'psi:z', column: 'z' })).toBe(1)
    expect(m.value('mtflow_drift_drifted', { monitor: 'psi:z', column: 'mom' })).toBe(0)
    expect(m.value('mtflow_monitor_score', { monitor: 'dd' })).toBeUndefined()

    // Lines appended since (one still being written) are read on the next scrape, once each.
    const next = { job: 'retrain', time: '2026-01-07T00:00:00.000Z', status: 'ok', ms: 900 }
    const text = JSON.stringify(next)
    appendFileSync(join(home, 'scheduler', 'history.jsonl'), `${text}\n${text.slice(0, 10)}`)
    m = await scrape(serve.url)
    expect(m.value('mtflow_job_runs_total', { job: 'retrain' })).toBe(3)
    expect(m.value('mtflow_job_last_success', { job: 'retrain' })).toBe(1)
    appendFileSync(join(home, 'scheduler', 'history.jsonl'), `${JSON.stringify({ ...next, status: 'failed' }).slice(10)}\n`)
    m = await scrape(serve.url)
    expect(m.value('mtflow_job_runs_total', { job: 'retrain' })).toBe(4)
    expect(m.value('mtflow_job_failures_total', { job: 'retrain' })).toBe(2)

    // A history replaced by a shorter one is read again from its start.
    writeFileSync(join(home, 'scheduler', 'history.jsonl'), hist([{ job: 'report', time: '2026-01-08T00:00:00.000Z', status: 'ok', ms: 10 }]))
    m = await scrape(serve.url)
    expect(m.series('mtflow_job_runs_total').map((s) => [s.labels, Number(s.value)])).toEqual([[{ job: 'report' }, 1]])

    // A deployment removed from the workspace leaves no series behind.
    rmSync(join(home, 'deployments', 'beta'), { recursive: true })
    m = await scrape(serve.url)
    expect(m.value('mtflow_deployments')).toBe(1)
    expect(m.series('mtflow_deployment_equity').map((s) => s.labels)).toEqual([{ deployment: 'alpha' }])
    expect(m.series('mtflow_deployment_state').map((s) => s.labels?.deployment)).toEqual(['alpha'])
  })

  it('two apps in one process keep their own series', async () => {
    const other = await startServer({ home, token, port: 0 })
    try {
      await get(`${other.url}/api/experiments`)
      const m = await scrape(other.url)
      expect(m.value('mtflow_http_requests_total', { route: '/api/experiments', method: 'GET', status: '200' })).toBe(1)
    } finally {
      await other.close()
    }
  })
})

describe('/metrics on a model server', () => {
  it('answers loopback without the token, like /ping, and counts /invocations per model version', async () => {
    for (const n of [2, 6]) expect((await post(`${modelServer.url}/invocations`, { inputs: records(n) })).status).toBe(200)
    const m = await scrape(modelServer.url, false)
    expect(m.value('mtflow_http_requests_total', { route: '/invocations', method: 'POST', status: '200' })).toBe(2)
    expect(m.value('mtflow_model_predictions_total', { model: 'direction', version: '2' })).toBe(8)
    expect(m.value('mtflow_model_requests_total', { model: 'direction', version: '2', status: '200' })).toBe(2)
    expect(m.families.has('process_cpu_seconds_total')).toBe(true)
  })
})
