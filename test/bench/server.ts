// Server benchmark: the run detail page (/runs/:id) of a workspace of 200 backtest-like runs (a
// 2,000-point equity and drawdown curve each, as logBacktest logs them, plus params and headline metrics),
// served by `mtflow serve` in a process of its own and loaded from this one by 50 keep-alive connections
// (node:http, one request in flight per connection, run ids in rotation): 1 s warm-up, then 5 s measured.
// A single connection, measured the same way, gives the time per request without queueing. Before both,
// each page is requested once: that first view renders it (history read, charts drawn), later views of an
// unchanged run come from the server's page cache — the first-view row shows what a miss costs.

import { spawn, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { seededRandom } from '../../lib/core/index.js'
import { Tracker } from '../../lib/track/index.js'
import { median, type BenchRow } from './timing.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RUNS = 200
const POINTS = 2000
const HOUR = 3_600_000
/** The issue's target: the run page's p99 at 50 concurrent connections. */
const TARGET_P99 = 50

export interface ServerBenchOptions {
  connections?: number
  warmupMs?: number
  durationMs?: number
  /** Start the server with --cpu-prof, writing its profile into this folder when it stops. */
  cpuProfDir?: string
}

export async function benchServer(progress: (text: string) => void, options: ServerBenchOptions = {}): Promise<BenchRow[]> {
  const connections = options.connections ?? 50
  const warmupMs = options.warmupMs ?? 1000
  const durationMs = options.durationMs ?? 5000
  const home = mkdtempSync(join(tmpdir(), 'mtflow-bench-server-'))
  let server: { child: ChildProcess; url: string } | undefined
  try {
    progress(`server: ${RUNS} runs × ${POINTS} points`)
    const ids = makeWorkspace(home)
    server = await startServe(home, options.cpuProfDir)
    const paths = ids.map((id) => `/runs/${id}`)
    const check = await get(new Agent(), new URL(server.url), paths[0]!)
    if (check.status !== 200) throw new Error(`GET ${paths[0]} answered ${check.status}`)

    // First views: each page rendered (history read, charts drawn) and cached by the server.
    progress(`server: first view of each of the ${RUNS} run pages`)
    const firstAgent = new Agent({ keepAlive: true, maxSockets: 1 })
    const first: number[] = []
    for (const path of paths) {
      const sent = performance.now()
      const r = await get(firstAgent, new URL(server.url), path)
      if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}`)
      first.push(performance.now() - sent)
    }
    firstAgent.destroy()
    first.sort((a, b) => a - b)

    progress(`server: ${connections} connections, ${warmupMs} ms warm-up + ${durationMs} ms`)
    const many = await load(server.url, paths, { connections, warmupMs, durationMs })
    progress('server: 1 connection')
    const one = await load(server.url, paths, { connections: 1, warmupMs, durationMs: Math.min(durationMs, 3000) })
    const page = `run page /runs/:id (${RUNS} runs, ${POINTS.toLocaleString('en-US')}-point equity + drawdown, ~${Math.round(check.bytes / 1024)} KiB)`
    return [
      {
        workload: `server: ${page}, first view of each (rendered, then cached), 1 connection`,
        median: median(first),
        throughput: `${Math.round(1000 / median(first)).toLocaleString('en-US')} pages/s, p99 ${first[Math.ceil(0.99 * first.length) - 1]!.toFixed(1)} ms`,
        reference: '—',
        ratio: '—',
      },
      {
        workload: `server: ${page}, ${connections} keep-alive connections (pages seen before)`,
        median: many.median,
        throughput: `${Math.round(many.perSecond).toLocaleString('en-US')} req/s, p99 ${many.p99.toFixed(0)} ms${many.errors > 0 ? `, ${many.errors} errors` : ''}`,
        reference: `target p99 ≤ ${TARGET_P99} ms`,
        ratio: (many.p99 / TARGET_P99).toFixed(2),
      },
      {
        // One request at a time: what each request costs the server. 50 queued requests share one event
        // loop, so the p99 target leaves each about 50 ms / 50 = 1 ms.
        workload: `server: ${page}, 1 connection (time per request)`,
        median: one.median,
        throughput: `${Math.round(one.perSecond).toLocaleString('en-US')} req/s, p99 ${one.p99.toFixed(1)} ms${one.errors > 0 ? `, ${one.errors} errors` : ''}`,
        reference: `budget ${TARGET_P99 / connections} ms (${TARGET_P99} ms / ${connections})`,
        ratio: (one.median / (TARGET_P99 / connections)).toFixed(2),
      },
    ]
  } finally {
    if (server !== undefined) await stopServe(server.child)
    rmSync(home, { recursive: true, force: true })
  }
}

/** 200 finished runs as a backtest logs them: params, headline metrics at step 0, then the two curves. */
function makeWorkspace(home: string): string[] {
  const tracker = new Tracker(home)
  const rng = seededRandom(11)
  const t0 = Date.UTC(2023, 0, 1)
  const ids: string[] = []
  for (let r = 0; r < RUNS; r++) {
    const fast = 5 + (r % 20)
    const slow = 30 + 5 * Math.floor(r / 20)
    const run = tracker.startRun({ experiment: 'bench-server', name: `sma ${fast}/${slow}`, params: { strategy: 'sma-cross', fast, slow, symbol: 'BTC/USDT', timeframe: '1h', cash: 10_000, fee: 0.001 } })
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
    run.logBatch({ metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 0 })), tags: { 'mtflow.kind': 'backtest' } })
    run.logBatch({ metrics: curve })
    run.logBatch({ metrics: drawdown })
    run.end()
    ids.push(run.id)
  }
  return ids
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
    const req = request({ agent, host: target.hostname, port: target.port, path, method: 'GET', headers: { authorization } }, (res) => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => (bytes += chunk.length))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}
