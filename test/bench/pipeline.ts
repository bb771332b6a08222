// Pipeline benchmark (issue 20): `mtflow pipeline pairs` on 10 synthetic symbols (5 cointegrated pairs) ×
// 50,000 1h bars, as a user runs it — the CLI's process and loader, from spawn to exit — cold (every step
// computed) and warm (the same command again: every step reused), with the cold run's time per step; then
// `infer` of 1,000 rows (the latest 1,000 bars of one pair's model, its features rebuilt from the lake as
// its lineage says): p50 and p99 of the library call in one process, and the CLI's end to end.
// Standalone: npx tsx --expose-gc test/bench/pipeline.ts

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { inferSignals } from '../../lib/pipeline/index.js'
import { collect, median, type BenchRow } from './timing.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BARS = 50_000
const PAIRS = 5
const SYMBOLS = Array.from({ length: PAIRS }, (_, k) => [`SYN-Y${k + 1}`, `SYN-X${k + 1}`]).flat()

function cli(home: string, args: string[]): { ms: number; stdout: string } {
  const t = performance.now()
  const r = spawnSync(process.execPath, [join(ROOT, 'lib/cli/bin.cjs'), '--home', home, ...args], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 })
  const ms = performance.now() - t
  if (r.status !== 0) throw new Error(`mtflow ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-500)}`)
  return { ms, stdout: r.stdout }
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!
}

export async function benchPipeline(progress: (text: string) => void, runs: number): Promise<BenchRow[]> {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-bench-pipeline-'))
  try {
    progress(`pipeline: ${PAIRS} synthetic pairs × ${BARS.toLocaleString('en-US')} 1h bars into the lake`)
    cli(home, ['data', 'synthetic', '--kind', 'pair', '--pairs', String(PAIRS), '--bars', String(BARS), '--timeframe', '1h', '--json'])
    const args = ['pipeline', 'pairs', '--symbols', SYMBOLS.join(','), '--hyper', 'maxDepth=4', '--json']
    progress('pipeline: pipeline pairs, cold')
    const cold = cli(home, args)
    const out = JSON.parse(cold.stdout) as { steps: { step: string; seconds: number }[]; champions: { model: { name: string; version: number } }[] }
    progress('pipeline: pipeline pairs, warm (every step reused)')
    const warm = median(Array.from({ length: Math.max(1, Math.min(runs, 3)) }, () => cli(home, args).ms))
    const model = `${out.champions[0]!.model.name}@${out.champions[0]!.model.version}`
    progress(`pipeline: infer ${model} --last 1000 in process`)
    await inferSignals(home, model, 1000) // warm-up: JIT, the lake's first read
    const ms: number[] = []
    for (let i = 0; i < 50; i++) {
      collect()
      const t = performance.now()
      await inferSignals(home, model, 1000)
      ms.push(performance.now() - t)
    }
    progress('pipeline: infer through the CLI')
    const viaCli = median(Array.from({ length: runs }, () => cli(home, ['infer', model, '--last', '1000', '--no-track', '--json']).ms))
    const steps = out.steps.filter((s) => s.seconds >= 0.05).map((s) => `${s.step} ${s.seconds.toFixed(1)}`).join(', ')
    return [
      {
        workload: `pipeline pairs, ${SYMBOLS.length} symbols × ${BARS.toLocaleString('en-US')} 1h bars (45 pairs screened), cold, CLI process (s per step: ${steps})`,
        median: cold.ms,
        throughput: `${Math.round((SYMBOLS.length * BARS) / (cold.ms / 1000)).toLocaleString('en-US')} bars/s`,
        reference: 'figure to report (issue 20)',
        ratio: '—',
      },
      {
        workload: 'pipeline pairs, the same command again (every step reused), CLI process',
        median: warm,
        throughput: `${(cold.ms / warm).toFixed(0)}× the cold run`,
        reference: 'figure to report',
        ratio: '—',
      },
      {
        workload: `infer 1,000 rows (${model}, features rebuilt from ${BARS.toLocaleString('en-US')} bars), in process: p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 over 50 calls`,
        median: quantile(ms, 0.99),
        throughput: `${Math.round(1000 / (quantile(ms, 0.5) / 1000)).toLocaleString('en-US')} rows/s`,
        reference: 'figure to report (p99)',
        ratio: '—',
      },
      {
        workload: 'infer --last 1000 through the CLI (spawn to exit, loader included)',
        median: viaCli,
        throughput: `${(1000 / viaCli).toFixed(1)} calls/s`,
        reference: 'figure to report',
        ratio: '—',
      },
    ]
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchPipeline((text) => process.stderr.write(`${text}\n`), Number(process.env.BENCH_RUNS ?? 3)).then((rows) => {
    for (const r of rows) console.log(`${r.workload}\n    ${r.median.toFixed(1)} ms  ${r.throughput}  ${r.reference}  ratio ${r.ratio}`)
  })
}
