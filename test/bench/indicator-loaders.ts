// Indicator rows per loader (issue 24 point 4): rsi, atr and adx over the same 1,000,000 bars, timed
// in a process (or kernel) of their own under each way users load lib:
//   ESM        — `node --import tsx` (how the other bench rows load);
//   tsx alone  — tsx's require hook without lib/core/loader.cjs's plain exports (how the CLI loaded
//                lib before; kept to show what the loader changes);
//   CLI        — lib/core/loader.cjs, as lib/cli/bin.cjs starts (test/bench/require-child.cjs);
//   worker     — a worker thread started with lib/core/loader.cjs, as job/tuning/forest threads start;
//   tslab      — a cell in the real kernel (kernel/tslab-launcher.cjs): lib through the declarations cache
//                (kernel/lib-declarations.cjs, the CLI's loader), and through tslab's own compile of lib.
// Every loader must compute the same values (checksums compared); the ratio is to the ESM row.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KernelClient } from '../../kernel/client.js'
import { kernelArgv } from '../../kernel/kernelspec.js'
import { LOADER_CASES, type CaseResult } from './indicator-case.js'
import { buildEnded } from './notebook-import.js'
import type { BenchRow } from './timing.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CASE = join(ROOT, 'test/bench/indicator-case.ts')
const N = 1_000_000

function spawnCase(label: string, argv: string[], env: NodeJS.ProcessEnv = {}): CaseResult[] {
  const child = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20, env: { ...process.env, ...env } })
  if (child.status !== 0) throw new Error(`indicator bench under ${label} failed: ${child.stderr}`)
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as CaseResult[]
}

/**
 * The case in a tslab kernel cell, with the kernel caches in `cacheDir`; `declarations` says whether the
 * kernel ran lib through the lib declarations cache (kernel/lib-declarations.cjs) or tslab's own compile.
 */
async function tslabRun(names: string[], runs: number, env: NodeJS.ProcessEnv): Promise<{ results: CaseResult[]; declarations: boolean }> {
  const kernel = await KernelClient.launch({ argv: kernelArgv(), cwd: join(ROOT, 'notebooks'), env: { MTFLOW_KERNEL_HEADLESS: '1', ...env } })
  try {
    let text = ''
    const code = `import { main } from '../test/bench/indicator-case.js'\nconsole.log(await main(${JSON.stringify([String(runs), ...names])}))\nconsole.log(JSON.stringify((globalThis as any).__mtflowLibDeclarations ?? null))`
    const result = await kernel.execute(code, {
      timeoutMs: 600_000,
      onIopub: (message) => {
        const content = message.content as { name?: string; text?: string }
        if (message.header.msg_type === 'stream' && content.name === 'stdout') text += content.text ?? ''
      },
    })
    if (result.status !== 'ok') throw new Error(`indicator bench under tslab: ${result.status} ${JSON.stringify(result.reply)}`)
    const lines = text.trim().split('\n')
    const state = JSON.parse(lines.pop()!) as { active?: boolean } | null
    return { results: JSON.parse(lines.pop()!) as CaseResult[], declarations: state?.active === true }
  } finally {
    await kernel.shutdown()
  }
}

/** The kernel as a notebook meets it once lib's declarations are cached: a first kernel starts the build, then one measures. */
async function tslabCase(names: string[], runs: number, progress: (text: string) => void): Promise<CaseResult[]> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'mtflow-bench-kernel-cache-'))
  try {
    for (let attempt = 0; attempt < 4; attempt++) {
      const run = await tslabRun(names, runs, { MTFLOW_KERNEL_CACHE_DIR: cacheDir })
      if (run.declarations) return run.results
      progress('indicators under tslab: waiting for the lib declarations build…')
      if (!(await buildEnded(cacheDir, 600_000)).ended) throw new Error('the lib declarations build did not end within 10 minutes')
    }
    throw new Error('tslab kernels kept missing the lib declarations: is lib/ changing?')
  } finally {
    rmSync(cacheDir, { recursive: true, force: true })
  }
}

export async function benchIndicatorLoaders(progress: (text: string) => void, runs: number, only?: readonly string[]): Promise<BenchRow[]> {
  const names = Object.keys(LOADER_CASES).filter((name) => only === undefined || only.includes(name))
  if (names.length === 0) return []
  const args = [String(runs), ...names]
  const workerCode = `require(${JSON.stringify(join(ROOT, 'lib/core/loader.cjs'))}); const { parentPort, workerData } = require('node:worker_threads'); require(${JSON.stringify(CASE)}).main(workerData).then((out) => parentPort.postMessage(out))`
  const loaders: [string, () => CaseResult[] | Promise<CaseResult[]>][] = [
    ['ESM (node --import tsx)', () => spawnCase('ESM', ['--import', 'tsx', '--input-type=module', '-e', `const m = await import(${JSON.stringify(CASE)}); process.stdout.write(await m.main(${JSON.stringify(args)}))`])],
    ["tsx's require hook alone (the CLI before lib/core/loader.cjs)", () => spawnCase('tsx require hook', [join(ROOT, 'test/bench/require-child.cjs'), CASE, ...args], { MTFLOW_BENCH_TSX_ONLY: '1' })],
    ['CLI loader (lib/core/loader.cjs, as lib/cli/bin.cjs)', () => spawnCase('CLI loader', [join(ROOT, 'test/bench/require-child.cjs'), CASE, ...args])],
    ['worker thread (lib/core/loader.cjs, as job threads)', () => spawnCase('worker thread', ['-e', `const { Worker } = require('node:worker_threads'); new Worker(${JSON.stringify(workerCode)}, { eval: true, workerData: ${JSON.stringify(args)} }).on('message', (out) => process.stdout.write(out))`])],
    ['tslab kernel (a notebook cell, lib declarations cached)', () => tslabCase(names, runs, progress)],
    ["tslab kernel, tslab's own compile of lib (MTFLOW_LIB_DECLARATIONS=off)", async () => (await tslabRun(names, runs, { MTFLOW_LIB_DECLARATIONS: 'off' })).results],
  ]
  const results: [string, CaseResult[]][] = []
  for (const [label, run] of loaders) {
    progress(`indicators under ${label}…`)
    results.push([label, await run()])
  }
  const esm = results[0]![1]
  const rows: BenchRow[] = []
  for (const [i, name] of names.entries()) {
    const reference = esm[i]!
    for (const [label, measured] of results) {
      const m = measured[i]!
      // The same numbers under every loader (summed in the same order: equal bit for bit).
      if (m.checksum !== reference.checksum) throw new Error(`${name} under ${label} computed other values: checksum ${m.checksum} ≠ ${reference.checksum}`)
      rows.push({
        workload: `${name}(14), 1M bars, batch — under ${label}`,
        median: m.median,
        throughput: `${Math.round(N / (m.median / 1000)).toLocaleString('en-US')} bars/s`,
        reference: `ESM ${reference.median.toFixed(1)} ms`,
        ratio: (m.median / reference.median).toFixed(2),
      })
    }
  }
  return rows
}
