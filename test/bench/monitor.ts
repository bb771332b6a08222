// Drift benchmark (issue 21): 50 numeric features × 100,000 rows against a 100,000-row reference with
// Evidently's defaults (normalised Wasserstein for a reference this large), 10 of the features shifted.
// Timed twice: against a reference prepared once (sorted columns kept, as a monitor comparing each new
// window with its training data does; target ≤ 200 ms) and cold (both tables sorted inside the timing).
// Standalone: npx tsx --expose-gc test/bench/monitor.ts

import { pathToFileURL } from 'node:url'
import { seededRandom } from '../../lib/core/index.js'
import { datasetDrift, prepareReference, type DriftTable } from '../../lib/monitor/index.js'
import { time, type BenchRow } from './timing.js'

const FEATURES = 50
const ROWS = 100_000
const TARGET_MS = 200

function table(seed: number, shifted: number): Record<string, Float64Array> {
  const rng = seededRandom(seed)
  const out: Record<string, Float64Array> = {}
  for (let f = 0; f < FEATURES; f++) {
    const column = new Float64Array(ROWS)
    const scale = 1 + (f % 7)
    const shift = f < shifted ? 0.3 * scale : 0
    for (let i = 0; i < ROWS; i++) column[i] = f * 0.1 + shift + scale * rng.normal()
    out[`f${f}`] = column
  }
  return out
}

export async function benchMonitor(progress: (text: string) => void, runs: number): Promise<BenchRow[]> {
  progress(`monitor: building ${FEATURES} × ${ROWS.toLocaleString('en-US')} reference and current tables`)
  const reference: DriftTable = table(21, 0)
  const current: DriftTable = table(22, 10)
  const prepared = prepareReference(reference)
  const check = datasetDrift(prepared, current)
  if (check.driftedColumns !== 10 || check.columns.some((c) => c.method !== 'wasserstein')) throw new Error(`monitor bench: expected 10 drifted columns by Wasserstein, found ${check.driftedColumns}`)
  progress('monitor: datasetDrift against a prepared reference')
  const warmMs = time(() => datasetDrift(prepared, current), runs)
  progress('monitor: datasetDrift cold (both tables sorted)')
  const coldMs = time(() => datasetDrift(reference, current), runs)
  const values = FEATURES * ROWS
  return [
    {
      workload: `monitor: datasetDrift, ${FEATURES} features × ${ROWS.toLocaleString('en-US')} rows vs a prepared ${ROWS.toLocaleString('en-US')}-row reference (Wasserstein)`,
      median: warmMs,
      throughput: `${Math.round(values / (warmMs / 1000)).toLocaleString('en-US')} values/s`,
      reference: `target ≤ ${TARGET_MS} ms`,
      ratio: (warmMs / TARGET_MS).toFixed(2),
    },
    {
      workload: `monitor: datasetDrift cold (reference sorted too), ${FEATURES} × ${ROWS.toLocaleString('en-US')} vs ${ROWS.toLocaleString('en-US')}`,
      median: coldMs,
      throughput: `${Math.round((2 * values) / (coldMs / 1000)).toLocaleString('en-US')} values/s`,
      reference: `target ≤ ${TARGET_MS} ms (prepared)`,
      ratio: (coldMs / TARGET_MS).toFixed(2),
    },
  ]
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchMonitor((text) => process.stderr.write(`${text}\n`), Number(process.env.BENCH_RUNS ?? 7)).then((rows) => {
    for (const r of rows) console.log(`${r.workload}\n    ${r.median.toFixed(1)} ms  ${r.throughput}  ${r.reference}  ratio ${r.ratio}`)
  })
}
