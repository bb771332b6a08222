// Tuner benchmarks against Optuna (test/bench/optuna_ref.py, run once with Debian's /usr/bin/python3):
//   overhead per trial at 1,000 trials of a trivial objective (two floats), random and TPE, in memory —
//     targets ≤ 0.1 ms (random) and ≤ 4 ms (TPE);
//   TPE's best value after 100 trials on Branin (minimum 0.397887) and the 10-d sphere (minimum 0),
//     median over seeds 0–9 — target within 10 % of Optuna's median. Also with `normalized: true`
//     (Optuna ≥ 3.5's density), for comparison.
// Standalone: npx tsx test/bench/tune.ts

import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createStudy, floatRange, randomSampler, tpeSampler, type Distribution, type Sampler } from '../../lib/tune/index.js'
import { collect, median, type BenchRow } from './timing.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PYTHON = '/usr/bin/python3'
const SEEDS = 10

interface OptunaRef {
  optuna: string
  branin: number[]
  sphere10: number[]
  randomMsPerTrial: number
  tpeMsPerTrial: number
}

export function branin(x: number, y: number): number {
  const b = 5.1 / (4 * Math.PI ** 2)
  const c = 5 / Math.PI
  const t = 1 / (8 * Math.PI)
  return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * Math.cos(x) + 10
}

const sphereSpace: Record<string, Distribution> = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`x${i}`, floatRange(-5.12, 5.12)]))

/** Optuna's figures, or why there are none. */
function optunaReference(progress: (text: string) => void): OptunaRef | string {
  if (!existsSync(PYTHON)) return 'optuna not installed'
  progress('tune: running optuna_ref.py (about two minutes)')
  const r = spawnSync(PYTHON, [join(ROOT, 'test/bench/optuna_ref.py'), '--seeds', String(SEEDS)], { encoding: 'utf8', timeout: 900_000 })
  if (r.status !== 0) return /No module named .?optuna/.test(r.stderr ?? '') ? 'optuna not installed' : `optuna_ref.py failed: ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').pop()}`
  return JSON.parse(r.stdout) as OptunaRef
}

/** Milliseconds per trial of `trials` trials with a trivial objective (the tuner's own cost). */
async function overhead(sampler: () => Sampler, trials: number): Promise<number> {
  const study = createStudy({ space: { x: floatRange(-10, 10), y: floatRange(-10, 10) }, sampler: sampler() })
  collect()
  const started = performance.now()
  await study.optimize((t) => (t.params.x as number) ** 2 + (t.params.y as number) ** 2, { nTrials: trials })
  return (performance.now() - started) / trials
}

/** Best values of TPE after 100 trials for seeds 0..SEEDS-1, and the median milliseconds per study. */
async function quality(problem: 'branin' | 'sphere', normalized: boolean): Promise<{ best: number[]; ms: number }> {
  const best: number[] = []
  const ms: number[] = []
  for (let seed = 0; seed < SEEDS; seed++) {
    const sampler = tpeSampler({ seed, normalized })
    const study = problem === 'branin' ? createStudy({ space: { x: floatRange(-5, 10), y: floatRange(0, 15) }, sampler }) : createStudy({ space: sphereSpace, sampler })
    const started = performance.now()
    await study.optimize((t) => (problem === 'branin' ? branin(t.params.x as number, t.params.y as number) : Object.values(t.params as Record<string, number>).reduce((s, v) => s + v * v, 0)), { nTrials: 100 })
    ms.push(performance.now() - started)
    best.push(study.bestValue!)
  }
  return { best, ms: median(ms) }
}

export async function benchTune(progress: (text: string) => void = () => {}, runs = 5): Promise<BenchRow[]> {
  const ref = optunaReference(progress)
  const optuna = typeof ref === 'string' ? undefined : ref
  const against = (ours: number, theirs: number | undefined, unit: string, target: string) => ({
    reference: theirs === undefined ? `${ref as string}; ${target}` : `optuna ${optuna!.optuna} ${theirs.toPrecision(4)}${unit}; ${target}`,
    ratio: theirs === undefined ? '-' : (ours / theirs).toFixed(2),
  })
  const rows: BenchRow[] = []

  for (const [name, make, target, theirs] of [
    ['random', () => randomSampler({ seed: 1 }), 'target ≤ 0.1 ms', optuna?.randomMsPerTrial],
    ['TPE', () => tpeSampler({ seed: 1 }), 'target ≤ 4 ms', optuna?.tpeMsPerTrial],
  ] as const) {
    progress(`tune: ${name} overhead`)
    await overhead(make, 200) // warm-up: JIT tiers
    const perTrial: number[] = []
    for (let r = 0; r < (name === 'TPE' ? Math.max(1, Math.ceil(runs / 2)) : runs); r++) perTrial.push(await overhead(make, 1000))
    const m = median(perTrial)
    rows.push({ workload: `tune: ${name} sampler overhead per trial, 1,000 trials (2 floats, trivial objective, in memory)`, median: m, throughput: `${Math.round(1000 / m).toLocaleString('en-US')} trials/s`, ...against(m, theirs, ' ms/trial', target) })
  }

  for (const [problem, label, minimum, theirs] of [
    ['branin', 'Branin', 0.397887, optuna?.branin],
    ['sphere', '10-d sphere', 0, optuna?.sphere10],
  ] as const) {
    for (const normalized of [false, true]) {
      progress(`tune: TPE on ${label}${normalized ? ' (normalized)' : ''}`)
      const q = await quality(problem, normalized)
      const best = median(q.best)
      const ref = theirs === undefined ? undefined : median(theirs)
      rows.push({
        workload: `tune: TPE${normalized ? ' (normalized density)' : ''} best of 100 trials on ${label} (min ${minimum}), median of seeds 0–${SEEDS - 1}; time per study`,
        median: q.ms,
        throughput: `best ${best.toFixed(4)} (gap ${(best - minimum).toFixed(4)})`,
        ...against(best, ref, '', 'target within 10 %'),
      })
    }
  }
  return rows
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchTune((text) => process.stderr.write(`${text}\n`)).then((rows) => {
    for (const r of rows) console.log(`${r.workload}\n    ${r.median.toFixed(3)} ms  ${r.throughput}  ${r.reference}  ratio ${r.ratio}`)
  })
}
