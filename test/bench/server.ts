// Server benchmark: every page kind of `mtflow serve` over a workspace of 10,000 runs in 20 experiments
// (per experiment: 10 backtests with a 2,000-point equity and drawdown curve each, as logBacktest logs
// them, and 2 sweeps of 244 sets logged by logSweep, as `mtflow sweep` does) and 1,000 registry versions
// (20 entries of 50 versions over the five kinds). The server runs in a process of its own and is loaded
// from this one by 50 keep-alive connections (node:http, one request in flight per connection, the page
// kind's paths in rotation): 1 s warm-up, then 5 s measured, one page kind after another, after 2 s of
// load over every kind's paths (the server's code warmed). Before its load, each path of a kind is
// requested once on one connection: that first view renders it (later views of unchanged data may come
// from the server's caches) — the first-view figure shows what a miss costs.
// BENCH_SERVER_HOME=DIR keeps the generated workspace in DIR and reuses it on the next run.

import { spawn, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'node:http'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { seededRandom } from '../../lib/core/index.js'
import { Registry, Tracker, type RegistryKind } from '../../lib/track/index.js'
import { logSweep } from '../../lib/backtest/tracking.js'
import type { SweepResult } from '../../lib/backtest/sweep.js'
import { median, type BenchRow } from './timing.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const EXPERIMENTS = 20
const BACKTESTS = 10
const SWEEPS = 2
const SETS = 244
const POINTS = 2000
const VERSIONS = 1000
const ENTRIES = 20
const RUNS = EXPERIMENTS * (BACKTESTS + SWEEPS * (SETS + 1))
const HOUR = 3_600_000
/** The issue's target: every page's p99 at 50 concurrent connections. */
const TARGET_P99 = 50

export interface ServerBenchOptions {
  connections?: number
  warmupMs?: number
  durationMs?: number
  /** Start the server with --cpu-prof, writing its profile into this folder when it stops. */
  cpuProfDir?: string
  /** Keep the workspace here and reuse it when it is already there. */
  home?: string
  /** Page kinds to measure (default all). */
  kinds?: readonly string[]
}

interface Workspace {
  backtests: string[]
  sweeps: string[]
  experiments: string[]
  entries: { kind: RegistryKind; name: string }[]
}

export async function benchServer(progress: (text: string) => void, options: ServerBenchOptions = {}): Promise<BenchRow[]> {
  const connections = options.connections ?? 50
  const warmupMs = options.warmupMs ?? 1000
  const durationMs = options.durationMs ?? 5000
  const keep = options.home !== undefined
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'mtflow-bench-server-'))
  let server: { child: ChildProcess; url: string } | undefined
  try {
    const marker = join(home, 'bench-workspace.json')
    let ws: Workspace
    if (keep && existsSync(marker)) {
      ws = JSON.parse(readFileSync(marker, 'utf8')) as Workspace
      progress(`server: reusing the workspace in ${home}`)
    } else {
      progress(`server: making ${RUNS.toLocaleString('en-US')} runs in ${EXPERIMENTS} experiments and ${VERSIONS} registry versions`)
      mkdirSync(home, { recursive: true })
      ws = makeWorkspace(home)
      writeFileSync(marker, JSON.stringify(ws))
    }
    server = await startServe(home, options.cpuProfDir)
    const pairs = ws.backtests.map((id, i) => `/compare?runs=${id},${ws.backtests[(i + 1) % ws.backtests.length]}`)
    const size = `${RUNS.toLocaleString('en-US')} runs in ${EXPERIMENTS} experiments, ${VERSIONS.toLocaleString('en-US')} registry versions`
    const kinds: { kind: string; what: string; paths: string[] }[] = [
      { kind: 'home', what: 'home /', paths: ['/'] },
      { kind: 'runs', what: `runs list /runs and /runs?experiment=E (${EXPERIMENTS + 1} paths)`, paths: ['/runs', ...ws.experiments.map((e) => `/runs?experiment=${encodeURIComponent(e)}`)] },
      { kind: 'run', what: `run page /runs/:id (${ws.backtests.length} backtests, ${POINTS.toLocaleString('en-US')}-point equity + drawdown)`, paths: ws.backtests.map((id) => `/runs/${id}`) },
      { kind: 'sweep', what: `sweep parent /runs/:id (${ws.sweeps.length} sweeps of ${SETS} child runs)`, paths: ws.sweeps.map((id) => `/runs/${id}`) },
      { kind: 'compare', what: `compare of two backtests /compare?runs=A,B (${pairs.length} pairs)`, paths: pairs },
      { kind: 'registry', what: `registry /registry and /registry/KIND/NAME (${ws.entries.length + 1} paths)`, paths: ['/registry', ...ws.entries.map((e) => `/registry/${e.kind}/${e.name}`)] },
    ].filter((k) => options.kinds === undefined || options.kinds.includes(k.kind))
    // First views: each path once, one connection (rendered, and cached where the server caches).
    const firsts = new Map<string, { first: number[]; bytes: number }>()
    for (const k of kinds) {
      const firstAgent = new Agent({ keepAlive: true, maxSockets: 1 })
      const first: number[] = []
      let bytes = 0
      for (const path of k.paths) {
        const sent = performance.now()
        const r = await get(firstAgent, new URL(server.url), path)
        if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}`)
        first.push(performance.now() - sent)
        bytes += r.bytes
      }
      firstAgent.destroy()
      firsts.set(k.kind, { first, bytes })
    }
    // The server's code warmed (JIT) on every kind's paths before the first measured one: a server runs
    // for hours, and a cold one's first seconds would be charged to whichever kind comes first.
    progress(`server: warm-up, ${connections} connections over every page kind, 2 s`)
    await load(server.url, kinds.flatMap((k) => k.paths), { connections, warmupMs: 0, durationMs: 2000 })
    const rows: BenchRow[] = []
    for (const k of kinds) {
      const { first, bytes } = firsts.get(k.kind)!
      progress(`server: ${k.kind}: ${connections} connections, ${warmupMs} ms warm-up + ${durationMs} ms`)
      const many = await load(server.url, k.paths, { connections, warmupMs, durationMs })
      rows.push({
        workload: `server: ${k.what}, ${size}, ~${Math.round(bytes / k.paths.length / 1024)} KiB gzip, ${connections} keep-alive connections (accept-encoding as a browser's)`,
        median: many.median,
        throughput: `${Math.round(many.perSecond).toLocaleString('en-US')} req/s, p99 ${many.p99.toFixed(0)} ms${many.errors > 0 ? `, ${many.errors} errors` : ''}; first view ${median(first).toFixed(1)} ms median`,
        reference: `target p99 ≤ ${TARGET_P99} ms`,
        ratio: (many.p99 / TARGET_P99).toFixed(2),
      })
    }
    return rows
  } finally {
    if (server !== undefined) await stopServe(server.child)
    if (!keep) rmSync(home, { recursive: true, force: true })
  }
}

/**
 * The workspace, through the tracking API as the CLI writes it: backtests (params, headline metrics at
 * step 0, then the two curves) and sweeps (a parent, then its sets in one logSweep), and registry
 * versions through Registry.register.
 */
function makeWorkspace(home: string): Workspace {
  const tracker = new Tracker(home)
  const rng = seededRandom(11)
  const t0 = Date.UTC(2023, 0, 1)
  const out: Workspace = { backtests: [], sweeps: [], experiments: [], entries: [] }
  for (let x = 0; x < EXPERIMENTS; x++) {
    const experiment = `bench-${String(x).padStart(2, '0')}`
    out.experiments.push(experiment)
    for (let r = 0; r < BACKTESTS; r++) {
      const fast = 5 + ((x * BACKTESTS + r) % 20)
      const slow = 30 + 5 * r
      const run = tracker.startRun({ experiment, name: `sma ${fast}/${slow}`, params: { strategy: 'sma-cross', fast, slow, symbol: 'BTC/USDT', timeframe: '1h', cash: 10_000, fee: 0.001 }, tags: { 'mtflow.kind': 'backtest' } })
      let e = 10_000
      let peak = e
      let maxDd = 0
      const curve = []
      const drawdown = []
      for (let i = 0; i < POINTS; i++) {
        e *= Math.exp(0.002 * rng.normal() + 0.0001)
        peak = Math.max(peak, e)
        maxDd = Math.max(maxDd, 1 - e / peak)
        curve.push({ key: 'equity', value: e, step: i, timestamp: t0 + i * HOUR })
        drawdown.push({ key: 'drawdown', value: 1 - e / peak, step: i, timestamp: t0 + i * HOUR })
      }
      const totalReturn = e / 10_000 - 1
      const metrics = { totalReturn, cagr: totalReturn * 4.38, volatility: 0.35, sharpe: totalReturn * 3, sortino: totalReturn * 4, calmar: totalReturn / Math.max(maxDd, 1e-9), maxDrawdown: maxDd, maxDrawdownDuration: 300 + r, startEquity: 10_000, endEquity: e, avgExposure: 0.6, fees: 120 + r, openTrades: r % 2, trades: 80 + r, winRate: 0.45, profitFactor: 1.2, expectancy: 3.5 }
      run.logBatch({ metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 0 })) })
      run.logBatch({ metrics: curve })
      run.logBatch({ metrics: drawdown })
      run.end()
      out.backtests.push(run.id)
    }
    for (let s = 0; s < SWEEPS; s++) {
      const run = tracker.startRun({ experiment, name: `sweep sma-cross BTC/USDT 1h #${s}`, tags: { 'mtflow.source': 'cli' } })
      const rows: SweepResult['rows'] = []
      for (let i = 0; i < SETS; i++) {
        const totalReturn = 0.3 * rng.normal()
        rows.push({ params: { fast: 2 + (i % 61), slow: 70 + 10 * Math.floor(i / 61) }, metrics: { totalReturn, cagr: totalReturn * 2, volatility: 0.3, sharpe: totalReturn * 3, sortino: totalReturn * 4, calmar: totalReturn, maxDrawdown: 0.2, trades: 40 + i, winRate: 0.5, profitFactor: 1.1, exposure: 0.6, endEquity: 10_000 * (1 + totalReturn) } as SweepResult['rows'][number]['metrics'] })
      }
      const best = rows.reduce((a, b) => (b.metrics.sharpe > a.metrics.sharpe ? b : a))
      const result: SweepResult = { strategy: 'sma-cross', metric: 'sharpe', rows, best, skipped: [], failed: [], engine: 'vector', workers: 2, executor: '2 threads', periodsPerYear: 8760, elapsedMs: 1000 }
      logSweep(run, result, { grid: { fast: '2:62', slow: '70:100:10' }, config: { symbol: 'BTC/USDT', timeframe: '1h', cash: 10_000 } })
      run.end()
      out.sweeps.push(run.id)
    }
  }
  const registry = new Registry(home)
  const kinds: RegistryKind[] = ['strategies', 'models', 'notebooks', 'dashboards', 'deployments']
  for (let n = 0; n < ENTRIES; n++) {
    const kind = kinds[n % kinds.length]!
    const name = `${kind === 'strategies' ? 'strategy' : kind.slice(0, -1)}-${n}`
    out.entries.push({ kind, name })
    for (let v = 1; v <= VERSIONS / ENTRIES; v++) {
      const files: Record<string, string> =
        kind === 'strategies' ? { 'source.ts': `export const version = ${v}\n` }
        : kind === 'models' ? { 'model.json': JSON.stringify({ weights: [v, n] }) }
        : kind === 'notebooks' ? { 'notebook.ipynb': JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: 'markdown', metadata: {}, source: `v${v}` }] }) }
        : kind === 'dashboards' ? { 'index.html': `<!DOCTYPE html><p>snapshot ${v}</p>` }
        : { 'deployment.json': JSON.stringify({ strategy: { name: 'strategy-0', version: v } }) }
      registry.register(kind, name, { files, runs: [out.backtests[(n * 7 + v) % out.backtests.length]!], description: `version ${v}` })
    }
    registry.setAlias(kind, name, 'champion', VERSIONS / ENTRIES)
  }
  return out
}

/** The token header every request carries (the server answers nothing without it). */
let authorization = ''

/** `mtflow serve --port 0 --json` as a child process; resolves with its URL once it listens. */
function startServe(home: string, cpuProfDir: string | undefined): Promise<{ child: ChildProcess; url: string }> {
  const flags = cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir]
  const child = spawn(process.execPath, [...flags, join(ROOT, 'lib/cli/bin.cjs'), '--home', home, 'serve', '--port', '0', '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const nl = out.indexOf('\n')
      if (nl < 0) return
      child.stdout!.off('data', onData)
      try {
        const printed = JSON.parse(out.slice(0, nl)) as { url: string; token: string }
        authorization = `Bearer ${printed.token}`
        resolve({ child, url: printed.url })
      } catch (error) {
        reject(new Error(`mtflow serve printed ${JSON.stringify(out)}`, { cause: error }))
      }
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`mtflow serve exited ${code} before listening`)))
    child.once('error', reject)
  })
}

/** SIGTERM (the server closes and exits, writing its CPU profile if asked), SIGKILL after 10 s. */
function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

interface LoadResult {
  /** Milliseconds from sending a request to the last byte of its response, over the measured window. */
  median: number
  p99: number
  /** Responses completed per second during the measured window. */
  perSecond: number
  errors: number
}

/**
 * `connections` loops, each one request in flight on its own keep-alive socket, for warm-up + duration;
 * latencies of requests sent during the measured window count. Paths are taken in rotation.
 */
async function load(url: string, paths: readonly string[], options: { connections: number; warmupMs: number; durationMs: number }): Promise<LoadResult> {
  const target = new URL(url)
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections })
  const start = performance.now()
  const from = start + options.warmupMs
  const until = from + options.durationMs
  const latencies: number[] = []
  let completed = 0
  let errors = 0
  let next = 0
  const loop = async () => {
    for (;;) {
      const sent = performance.now()
      if (sent >= until) return
      const path = paths[next++ % paths.length]!
      let status = 0
      try {
        status = (await get(agent, target, path)).status
      } catch {
        status = 0
      }
      const done = performance.now()
      if (sent >= from) {
        if (status === 200) latencies.push(done - sent)
        else errors++
      }
      if (done >= from && done < until) completed++
    }
  }
  await Promise.all(Array.from({ length: options.connections }, loop))
  agent.destroy()
  const sorted = latencies.sort((a, b) => a - b)
  return {
    median: median(sorted),
    p99: sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)] ?? NaN,
    perSecond: completed / (options.durationMs / 1000),
    errors,
  }
}

function get(agent: Agent, target: URL, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    // As a browser asks (every one accepts gzip): cached pages are kept and sent compressed.
    const req = request({ agent, host: target.hostname, port: target.port, path, method: 'GET', headers: { authorization, 'accept-encoding': 'gzip, deflate, br' } }, (res) => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => (bytes += chunk.length))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}
