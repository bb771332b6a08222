// Scale-out benchmark (issue 22): a sweep of 1,000 parameter sets (sma-cross, fast 2–41 × slow 50–290) on
// 1,000,000 one-minute bars — on the local executor (2 worker threads) and on the bullmq executor with two
// `mtflow worker` processes (one job thread each, the CLI's loader) on this machine against a real
// redis-server; and the queue's overhead per job: 1,000 `exec.echo` jobs (nothing to compute) through
// BullMQ and through local threads. Each bullmq run changes the cash by one unit, so no job's result is
// reused from the one before (ids are content hashes). The two executors' tables are checked equal, bit
// for bit, before anything is timed.
// Standalone: npx tsx test/bench/exec.ts

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { sweep, type GridSpec, type SweepResult } from '../../lib/backtest/index.js'
import { barsHash, ingestBars, loadBars, syntheticGbm } from '../../lib/data/index.js'
import { createExecutor, LocalExecutor } from '../../lib/exec/index.js'
import { killAll, startRedis, startWorker } from '../exec/redis.js'
import { median, type BenchRow } from './timing.js'

const BARS = 1_000_000
const GRID: GridSpec = { fast: { min: 2, max: 41, step: 1 }, slow: { min: 50, max: 290, step: 10 } }
const SETS = 40 * 25
const JOBS = 1000

function sameTable(a: SweepResult, b: SweepResult): boolean {
  if (a.rows.length !== b.rows.length) return false
  return a.rows.every((r, k) => JSON.stringify(r.params) === JSON.stringify(b.rows[k]!.params) && Object.entries(r.metrics).every(([m, v]) => Object.is(v, (b.rows[k]!.metrics as unknown as Record<string, number>)[m])))
}

export async function benchExec(progress: (text: string) => void, runs: number): Promise<BenchRow[]> {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-bench-exec-'))
  const redis = await startRedis()
  try {
    progress(`exec: ${BARS.toLocaleString('en-US')} synthetic 1m bars into a lake`)
    const gbm = syntheticGbm({ bars: BARS, timeframe: '1m', seed: 3, symbol: 'EXEC' })
    await ingestBars(home, gbm, { source: 'synthetic' })
    const bars = await loadBars(home, { symbol: gbm.symbol, timeframe: '1m', source: 'synthetic' })
    const dataRef = { snapshot: barsHash(bars, 'synthetic'), query: { symbol: bars.symbol, timeframe: '1m', source: 'synthetic' } }
    progress('exec: two mtflow worker processes')
    const workers = [await startWorker(['--redis', redis.url, '--concurrency', '1', '--stalled-ms', '60000'], { home }), await startWorker(['--redis', redis.url, '--concurrency', '1', '--stalled-ms', '60000'], { home })]
    const bullmq = await createExecutor({ executor: 'bullmq', redis: redis.url })
    const local = new LocalExecutor(2)
    try {
      const options = (cash: number) => ({ cash, engine: 'vector' as const })
      progress('exec: checking the two executors give the same table')
      const a = await sweep('sma-cross', GRID, bars, { ...options(100_000), executor: local })
      const b = await sweep('sma-cross', GRID, bars, { ...options(100_000), executor: bullmq, dataRef })
      if (a.rows.length !== SETS || !sameTable(a, b) || b.failed.length > 0) throw new Error('exec bench: the bullmq sweep differs from the local one')
      const localMs: number[] = []
      const remoteMs: number[] = []
      for (let r = 0; r < runs; r++) {
        progress(`exec: sweep run ${r + 1}/${runs}, local threads then bullmq workers`)
        let t = performance.now()
        await sweep('sma-cross', GRID, bars, { ...options(100_001 + r), executor: local })
        localMs.push(performance.now() - t)
        t = performance.now()
        const out = await sweep('sma-cross', GRID, bars, { ...options(100_001 + r), executor: bullmq, dataRef })
        remoteMs.push(performance.now() - t)
        if (out.rows.length !== SETS) throw new Error(`exec bench: ${out.rows.length} rows`)
      }
      const echoMs: number[] = []
      const echoLocalMs: number[] = []
      for (let r = 0; r < runs; r++) {
        progress(`exec: ${JOBS} empty jobs, run ${r + 1}/${runs}`)
        const items = Array.from({ length: JOBS }, (_, k) => ({ run: r, k, at: Date.now() }))
        let t = performance.now()
        const out = await bullmq.run({ kind: 'exec.echo', context: {}, items })
        echoMs.push(performance.now() - t)
        if (out.some((o) => !o.ok || o.reused === true)) throw new Error('exec bench: an echo job failed or was reused')
        t = performance.now()
        await local.run({ kind: 'exec.echo', context: {}, items })
        echoLocalMs.push(performance.now() - t)
      }
      const l = median(localMs)
      const q = median(remoteMs)
      const perJob = median(echoMs) / JOBS
      const perJobLocal = median(echoLocalMs) / JOBS
      const chunks = Math.ceil(SETS / 8)
      return [
        { workload: `exec: sweep ${SETS} sets × ${BARS.toLocaleString('en-US')} bars, local executor (2 threads)`, median: l, throughput: `${Math.round(SETS / (l / 1000))} sets/s`, reference: '—', ratio: '1.00' },
        { workload: `exec: the same sweep on bullmq, 2 mtflow worker processes × 1 thread (${chunks} jobs of 8 sets)`, median: q, throughput: `${Math.round(SETS / (q / 1000))} sets/s`, reference: 'target ≥ 0.8× local', ratio: (l / q).toFixed(2) },
        { workload: `exec: queue overhead, ${JOBS} empty jobs through bullmq (2 workers), per job`, median: perJob, throughput: `${Math.round(1000 / perJob)} jobs/s`, reference: 'target ≤ 2 ms/job', ratio: (perJob / 2).toFixed(2) },
        { workload: `exec: ${JOBS} empty jobs on local threads (2), per job`, median: perJobLocal, throughput: `${Math.round(1000 / perJobLocal)} jobs/s`, reference: '—', ratio: '—' },
      ]
    } finally {
      await bullmq.close()
      await local.close()
      for (const w of workers) w.kill('SIGTERM')
      await Promise.all(workers.map((w) => w.exited))
    }
  } finally {
    await redis.kill()
    killAll()
    rmSync(home, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchExec((text) => process.stderr.write(`${text}\n`), Number(process.env.BENCH_RUNS ?? 3)).then((rows) => {
    for (const r of rows) console.log(`${r.workload}\n    ${r.median.toFixed(2)} ms  ${r.throughput}  ${r.reference}  ratio ${r.ratio}`)
  })
}
