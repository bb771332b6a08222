// GET /metrics in Prometheus text format (prom-client), one registry per app (two apps in a process, or
// tests, never share series). Requests are counted and timed per matched route pattern — never the raw
// path, so the series stay bounded whatever paths clients send — and per model name and version; the
// workspace's state is read at scrape time: deployments' status.json, the scheduler's job history and the
// monitors' last values (files other processes write; absent files are no series, damaged lines skipped).

import type { Context, MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { readStatus, type DeploymentStatus } from '../live/deployment.js'

export interface MetricsOptions {
  /** The workspace whose deployments, jobs and monitors are read at scrape time. */
  home: string
  /** Read the workspace's deployments, job history and monitor state at scrape time (default true). */
  workspace?: boolean
  /** Node's process metrics (CPU, memory, event-loop lag, GC): prom-client's defaults (default true). */
  processMetrics?: boolean
}

export interface AppMetrics {
  registry: Registry
  /** Counts and times every request; register it before anything else. */
  middleware: MiddlewareHandler
  /** GET /metrics. */
  handler(c: Context): Promise<Response>
}

/** Seconds: Prometheus' default latency buckets (5 ms … 10 s). */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** What the scoring route tells the middleware about a request: the model that answered and the rows it scored. */
export interface ScoringNote {
  model: string
  version: string
  /** Rows scored (predictions made); unset when the request failed or was scored where rows are not counted. */
  rows?: number
}

const notes = new WeakMap<object, ScoringNote>()

/**
 * Called by the scoring route once the model that answers is known: the request is also counted under the
 * model's name and version. Set `rows` on the returned note when predictions were made. Only the first
 * call of a request notes (undefined after): a shadow model scoring the same request is not its answer.
 */
export function noteScoring(c: Context, model: { name: string; version: number }): ScoringNote | undefined {
  if (notes.has(c)) return undefined
  const note: ScoringNote = { model: model.name, version: String(model.version) }
  notes.set(c, note)
  return note
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
/** Names read from workspace files (jobs, monitors, deployments) become labels: at most this many each. */
const MAX_NAMES = 500
const MAX_LABEL = 100

export function createMetrics(options: MetricsOptions): AppMetrics {
  const registry = new Registry()
  const registers = [registry]
  const processRegistry = options.processMetrics === false ? undefined : processMetrics()

  const requests = new Counter({ name: 'mtflow_http_requests_total', help: 'HTTP requests answered, by matched route pattern, method and status code', labelNames: ['route', 'method', 'status'] as const, registers })
  const latency = new Histogram({ name: 'mtflow_http_request_duration_seconds', help: 'Time from a request reaching the app to its response, by matched route pattern and method', labelNames: ['route', 'method'] as const, buckets: LATENCY_BUCKETS, registers })
  const modelRequests = new Counter({ name: 'mtflow_model_requests_total', help: 'Scoring requests a model version answered, by status code', labelNames: ['model', 'version', 'status'] as const, registers })
  const modelLatency = new Histogram({ name: 'mtflow_model_request_duration_seconds', help: 'Time to answer a scoring request, by model name and version', labelNames: ['model', 'version'] as const, buckets: LATENCY_BUCKETS, registers })
  const predictions = new Counter({ name: 'mtflow_model_predictions_total', help: 'Rows scored (predictions returned), by model name and version', labelNames: ['model', 'version'] as const, registers })

  if (options.workspace !== false) workspaceGauges(options.home, registers)

  const middleware: MiddlewareHandler = async (c, next) => {
    const started = performance.now()
    try {
      await next()
    } finally {
      const seconds = (performance.now() - started) / 1000
      const route = routeOf(c)
      const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER'
      const status = String(c.res.status)
      requests.inc({ route, method, status })
      latency.observe({ route, method }, seconds)
      const note = notes.get(c)
      if (note !== undefined) {
        modelRequests.inc({ model: note.model, version: note.version, status })
        modelLatency.observe({ model: note.model, version: note.version }, seconds)
        if (note.rows !== undefined && c.res.status === 200) predictions.inc({ model: note.model, version: note.version }, note.rows)
      }
    }
  }
  const handler = async (c: Context) => {
    const text = (await registry.metrics()) + (processRegistry === undefined ? '' : await processRegistry.metrics())
    return c.body(text, 200, { 'content-type': registry.contentType, 'cache-control': 'no-store' })
  }
  return { registry, middleware, handler }
}

let shared: Registry | undefined
/** Node's process metrics, one set per process: each set watches GC and the event loop for as long as the
 * process lives, so apps (a test suite makes dozens) share it rather than each starting its own. */
function processMetrics(): Registry {
  if (shared === undefined) {
    shared = new Registry()
    collectDefaultMetrics({ register: shared })
  }
  return shared
}

/**
 * The pattern of the route that answered ("/api/runs/:id"), else of the first route the path matched (a
 * request refused before its handler ran), else "unmatched". Middleware ("*") is not a route.
 */
function routeOf(c: Context): string {
  let routes: { method: string; path: string }[]
  try {
    routes = matchedRoutes(c)
  } catch {
    return 'unmatched'
  }
  const answered = routes[c.req.routeIndex]
  if (answered !== undefined && answered.method !== 'ALL') return answered.path
  return routes.find((r) => r.method !== 'ALL')?.path ?? 'unmatched'
}

// ---- the workspace, read at scrape time ----

function workspaceGauges(home: string, registers: Registry[]): void {
  // prom-client reads the metrics in the order they were registered: the gauge whose collect reads the files
  // of a group comes first, so the group's other series are fresh in the same scrape.
  const deploymentLabels = ['deployment'] as const
  let readDeployments = () => {}
  let lastDeployments = 0
  new Gauge({ name: 'mtflow_deployments', help: 'Deployments in the workspace (with a status.json)', registers, collect() {
    readDeployments()
    this.set(lastDeployments)
  } })
  const gauge = (name: string, help: string, labelNames: readonly string[] = deploymentLabels) => new Gauge({ name, help, labelNames, registers })
  const equity = gauge('mtflow_deployment_equity', "A deployment's equity (cash + positions at their last price), from its status.json")
  const cash = gauge('mtflow_deployment_cash', "A deployment's cash")
  const positions = gauge('mtflow_deployment_positions', 'Symbols a deployment holds a non-zero position in')
  const exposure = gauge('mtflow_deployment_gross_exposure', "Sum of the absolute values of a deployment's positions")
  const openOrders = gauge('mtflow_deployment_open_orders', 'Orders a deployment has working')
  const trades = gauge('mtflow_deployment_trades', 'Round trips a deployment has made since it was first started')
  const updated = gauge('mtflow_deployment_last_update_timestamp_seconds', 'When a deployment last wrote its status (Unix seconds)')
  const state = gauge('mtflow_deployment_state', "1 for a deployment's current state (starting, running, paused, halted, stopped, finished, failed)", ['deployment', 'state', 'mode'])
  const deployGauges = [equity, cash, positions, exposure, openOrders, trades, updated, state]
  readDeployments = () => {
    for (const g of deployGauges) g.reset()
    const list = statuses(home)
    lastDeployments = list.length
    for (const s of list) {
      const d = { deployment: label(s.name) }
      setFinite(equity, d, s.equity)
      setFinite(cash, d, s.cash)
      positions.set(d, (s.positions ?? []).filter((p) => p.qty !== 0).length)
      setFinite(exposure, d, (s.positions ?? []).reduce((sum, p) => sum + Math.abs(Number(p.value) || 0), 0))
      openOrders.set(d, (s.openOrders ?? []).length)
      setFinite(trades, d, s.tradeCount)
      const t = Date.parse(s.updatedAt)
      if (Number.isFinite(t)) updated.set(d, t / 1000)
      state.set({ deployment: d.deployment, state: label(String(s.state)), mode: label(String(s.mode)) }, 1)
    }
  }

  // Job history: <home>/scheduler/history.jsonl, lines { job, time, status: 'ok' | 'failed', ms }.
  const jobs = new Map<string, { runs: number; failures: number; last: number; ms: number; ok: boolean }>()
  const history = new JsonlTail(join(home, 'scheduler', 'history.jsonl'), () => jobs.clear(), (v) => {
    const job = nameOf(v.job)
    if (job === undefined || (v.status !== 'ok' && v.status !== 'failed')) return
    const j = jobs.get(job) ?? (jobs.size < MAX_NAMES ? { runs: 0, failures: 0, last: NaN, ms: NaN, ok: true } : undefined)
    if (j === undefined) return
    j.runs++
    if (v.status === 'failed') j.failures++
    const t = timeOf(v.time)
    if (!(t < j.last)) {
      j.last = t
      j.ms = typeof v.ms === 'number' ? v.ms : NaN
      j.ok = v.status === 'ok'
    }
    jobs.set(job, j)
  })
  const jobLabels = ['job'] as const
  const jobRuns = new Counter({ name: 'mtflow_job_runs_total', help: 'Runs of a scheduled job (scheduler/history.jsonl)', labelNames: jobLabels, registers, collect() {
    history.read()
    for (const g of [jobRuns, jobFailures, jobLast, jobDuration, jobOk]) g.reset()
    for (const [job, j] of jobs) {
      jobRuns.inc({ job }, j.runs)
      jobFailures.inc({ job }, j.failures)
      if (Number.isFinite(j.last)) jobLast.set({ job }, j.last / 1000)
      if (Number.isFinite(j.ms)) jobDuration.set({ job }, j.ms / 1000)
      jobOk.set({ job }, j.ok ? 1 : 0)
    }
  } })
  const jobFailures = new Counter({ name: 'mtflow_job_failures_total', help: 'Failed runs of a scheduled job', labelNames: jobLabels, registers })
  const jobLast = new Gauge({ name: 'mtflow_job_last_run_timestamp_seconds', help: "The time of a job's latest run, as its history line gives it (Unix seconds)", labelNames: jobLabels, registers })
  const jobDuration = new Gauge({ name: 'mtflow_job_last_duration_seconds', help: "How long a job's latest run took", labelNames: jobLabels, registers })
  const jobOk = new Gauge({ name: 'mtflow_job_last_success', help: "1 when a job's latest run succeeded, 0 when it failed", labelNames: jobLabels, registers })

  // Monitors: <home>/monitor/state.jsonl, lines { monitor, time, value, breached }: the latest per monitor.
  const monitors = new Map<string, { time: number; value: number; breached: boolean; columns: { column: string; score: number; drifted: boolean }[] }>()
  const monitorState = new JsonlTail(join(home, 'monitor', 'state.jsonl'), () => monitors.clear(), (v) => {
    const monitor = nameOf(v.monitor)
    if (monitor === undefined) return
    const t = timeOf(v.time)
    const m = monitors.get(monitor)
    if (m === undefined && monitors.size >= MAX_NAMES) return
    if (m !== undefined && t < m.time) return
    // An evaluation that measured nothing (no data, an error) is the latest state too: no score, not breached.
    // A drift monitor's columns (evidence.columns: { column, score, drifted }), at most 100 per monitor.
    const raw = (v.evidence as { columns?: unknown } | undefined)?.columns
    const columns = Array.isArray(raw)
      ? (raw as { column?: unknown; score?: unknown; drifted?: unknown }[])
          .filter((c) => c !== null && typeof c === 'object' && nameOf(c.column) !== undefined && typeof c.score === 'number')
          .slice(0, 100)
          .map((c) => ({ column: nameOf(c.column)!, score: c.score as number, drifted: c.drifted === true }))
      : []
    monitors.set(monitor, { time: t, value: typeof v.value === 'number' ? v.value : NaN, breached: v.breached === true, columns })
  })
  const monitorLabels = ['monitor'] as const
  const score = new Gauge({ name: 'mtflow_monitor_score', help: "A monitor's latest value: for a drift monitor the share of drifted columns, else the rule's metric (a rolling RMSE rise, an accuracy, a drawdown…); absent when its latest evaluation measured nothing", labelNames: monitorLabels, registers, collect() {
    monitorState.read()
    for (const g of [score, monitorTime, breached, driftScore, driftDrifted]) g.reset()
    for (const [monitor, m] of monitors) {
      for (const c of m.columns) {
        if (Number.isFinite(c.score)) driftScore.set({ monitor, column: c.column }, c.score)
        driftDrifted.set({ monitor, column: c.column }, c.drifted ? 1 : 0)
      }
      if (Number.isFinite(m.value)) score.set({ monitor }, m.value)
      if (Number.isFinite(m.time)) monitorTime.set({ monitor }, m.time / 1000)
      breached.set({ monitor }, m.breached ? 1 : 0)
    }
  } })
  const monitorTime = new Gauge({ name: 'mtflow_monitor_last_check_timestamp_seconds', help: "When a monitor's latest value was computed (Unix seconds)", labelNames: monitorLabels, registers })
  const breached = new Gauge({ name: 'mtflow_monitor_breached', help: "1 when a monitor's latest value breached its rule", labelNames: monitorLabels, registers })
  const driftScore = new Gauge({ name: 'mtflow_drift_score', help: "A drift monitor's latest score per column: a p-value (KS, chi-square, z-test) or a distance (normalised Wasserstein, PSI, Jensen–Shannon)", labelNames: ['monitor', 'column'] as const, registers })
  const driftDrifted = new Gauge({ name: 'mtflow_drift_drifted', help: "1 when a drift monitor's latest evaluation found the column drifted", labelNames: ['monitor', 'column'] as const, registers })
}

/** Every deployment's last status; one whose status.json cannot be read is left out (the others still count). */
function statuses(home: string): DeploymentStatus[] {
  const root = join(home, 'deployments')
  if (!existsSync(root)) return []
  const out: DeploymentStatus[] = []
  let names: string[]
  try {
    names = readdirSync(root).sort()
  } catch {
    return []
  }
  for (const name of names) {
    if (out.length >= MAX_NAMES) break
    if (!existsSync(join(root, name, 'status.json'))) continue
    try {
      const s = readStatus(home, name)
      if (s !== null && typeof s === 'object') out.push({ ...s, name })
    } catch {
      /* a bad name or a damaged status file */
    }
  }
  return out
}

function setFinite(g: Gauge<string>, labels: Record<string, string>, v: unknown): void {
  if (typeof v === 'number' && Number.isFinite(v)) g.set(labels, v)
}

function label(text: string): string {
  const flat = text.replace(/[\x00-\x1f\x7f]/g, ' ')
  return flat.length > MAX_LABEL ? flat.slice(0, MAX_LABEL) : flat
}

function nameOf(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? label(v) : undefined
}

/** Epoch ms from a number (ms) or an ISO string; NaN otherwise. */
function timeOf(v: unknown): number {
  if (typeof v === 'number') return v
  if (typeof v === 'string') return Date.parse(v)
  return NaN
}

/**
 * A JSON-lines file read incrementally: each read parses only the lines appended since the last (a line
 * still being written waits for its newline), at most 16 MiB per read. A file that shrank or was replaced
 * (another inode) is read again from its start after `reset`. Never follows a symbolic link.
 */
class JsonlTail {
  private offset = 0
  private ino = -1
  private rest: Buffer = Buffer.alloc(0)

  constructor(
    private readonly file: string,
    private readonly reset: () => void,
    private readonly take: (v: Record<string, unknown>) => void,
  ) {}

  read(): void {
    let fd: number
    try {
      fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW)
    } catch {
      if (this.ino !== -1) this.restart(-1)
      return
    }
    try {
      const st = fstatSync(fd)
      if (!st.isFile()) return
      if (st.ino !== this.ino || st.size < this.offset) this.restart(st.ino)
      const end = Math.min(st.size, this.offset + 16 * 2 ** 20)
      if (end <= this.offset) return
      const buf = Buffer.alloc(end - this.offset)
      let got = 0
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, this.offset + got)
        if (n === 0) break
        got += n
      }
      this.offset += got
      const chunk = this.rest.length > 0 ? Buffer.concat([this.rest, buf.subarray(0, got)]) : buf.subarray(0, got)
      const last = chunk.lastIndexOf(0x0a)
      // A line longer than 1 MiB without its end is nobody's record: dropped.
      this.rest = last < 0 ? (chunk.length > 2 ** 20 ? Buffer.alloc(0) : Buffer.from(chunk)) : Buffer.from(chunk.subarray(last + 1))
      if (last < 0) return
      for (const line of chunk.subarray(0, last).toString('utf8').split('\n')) {
        if (line.trim() === '') continue
        try {
          const v = JSON.parse(line) as unknown
          if (v !== null && typeof v === 'object' && !Array.isArray(v)) this.take(v as Record<string, unknown>)
        } catch {
          /* a damaged line */
        }
      }
    } finally {
      closeSync(fd)
    }
  }

  private restart(ino: number): void {
    this.ino = ino
    this.offset = 0
    this.rest = Buffer.alloc(0)
    this.reset()
  }
}
