// Champion/challenger serving benchmark: POST /models/NAME/invocations on `mtflow serve`'s app (in this
// process, on a socket, one keep-alive connection, one request at a time) with 20 rows per request to a
// 50-tree gradient-boosted classifier, in mode single and in mode shadow (a second 50-tree model scores
// the same rows after each answer and both are logged). Rounds alternate the two modes so drift in the
// machine's speed falls on both alike. The target: p99 with shadow ≤ 1.2 × p99 without.

import { Agent, request } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { seededRandom } from '../../lib/core/index.js'
import { GradientBoostingClassifier, packageModel, registerPackage } from '../../lib/ml/index.js'
import { createApp, startServer, workspaceToken } from '../../lib/server/index.js'
import { Registry } from '../../lib/track/index.js'
import { writeServingConfig } from '../../lib/track/promotion.js'
import { median, type BenchRow } from './timing.js'

const FEATURES = 10
const ROWS = 20
const PER_ROUND = 1000
const TARGET_RATIO = 1.2

export async function benchServing(progress: (text: string) => void, runs: number): Promise<BenchRow[]> {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-bench-serving-'))
  const rounds = Math.max(3, Math.min(runs, 10))
  try {
    progress('serving: two 50-tree boosted classifiers as champion and challenger')
    const rng = seededRandom(21)
    const n = 2000
    const columns = Array.from({ length: FEATURES }, (_, j) => `f${j}`)
    const X = Float64Array.from({ length: n * FEATURES }, () => rng.normal())
    const y = Array.from({ length: n }, (_, r) => (X[r * FEATURES]! + 0.5 * X[r * FEATURES + 1]! + 0.5 * rng.normal() > 0 ? 1 : 0))
    const data = { X, rows: n, columns, y }
    const registry = new Registry(home)
    registerPackage(registry, 'bench', packageModel(new GradientBoostingClassifier({ nEstimators: 50, maxDepth: 3, seed: 1 }).fit(data), { data }), { alias: 'champion' })
    registerPackage(registry, 'bench', packageModel(new GradientBoostingClassifier({ nEstimators: 50, maxDepth: 3, seed: 2, subsample: 0.8 }).fit(data), { data }), { alias: 'challenger' })
    const body = JSON.stringify({ inputs: Array.from({ length: ROWS }, (_, r) => Object.fromEntries(columns.map((c, j) => [c, X[r * FEATURES + j]!]))) })
    const token = workspaceToken(home)
    const server = await startServer({ home, token, port: 0, app: createApp({ home, token }) })
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const url = new URL(`${server.url}/models/bench/invocations`)
    const latencies: Record<'single' | 'shadow', number[]> = { single: [], shadow: [] }
    try {
      for (let round = 0; round < rounds; round++) {
        for (const mode of ['single', 'shadow'] as const) {
          writeServingConfig(home, 'bench', mode === 'single' ? { mode } : { mode, challenger: 'challenger' })
          progress(`serving: round ${round + 1}/${rounds}, mode ${mode}, ${PER_ROUND} requests`)
          for (let i = 0; i < 50; i++) await post(agent, url, body) // warm-up after the switch
          for (let i = 0; i < PER_ROUND; i++) {
            const t = performance.now()
            const status = await post(agent, url, body)
            latencies[mode].push(performance.now() - t)
            if (status !== 200) throw new Error(`POST ${url.pathname} answered ${status}`)
          }
        }
      }
    } finally {
      agent.destroy()
      await server.close()
    }
    const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(0.99 * xs.length) - 1]!
    const single = p99(latencies.single)
    const shadow = p99(latencies.shadow)
    const what = `serving: /models/NAME/invocations, ${ROWS} rows × ${FEATURES} features, 50-tree gbt, ${rounds * PER_ROUND} requests per mode, 1 connection`
    return [
      { workload: `${what}, mode single`, median: median(latencies.single), throughput: `p99 ${single.toFixed(2)} ms`, reference: '—', ratio: '—' },
      { workload: `${what}, mode shadow (challenger scored and logged after the answer)`, median: median(latencies.shadow), throughput: `p99 ${shadow.toFixed(2)} ms`, reference: `p99 ≤ ${TARGET_RATIO} × single's (${(TARGET_RATIO * single).toFixed(2)} ms)`, ratio: (shadow / (TARGET_RATIO * single)).toFixed(2) },
    ]
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

function post(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}
