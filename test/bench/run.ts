// `npm run bench`: medians of repeated runs, printed as a table (workload, median, throughput, reference,
// ratio). Run on a quiet machine; figures are only comparable within one run.
//
//   notebook run, 10 trivial cells — `mtflow notebook run` as a process, from spawn to the executed file
//     written (kernel start included). Reference: the 3 s target of issue 2.
//   kernel start — launch → kernel_info answered on shell and iopub, for our headless launcher and for
//     the stock `tslab kernel` command (the reference).

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KernelClient } from '../../kernel/client.js'
import { kernelArgv } from '../../kernel/kernelspec.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RUNS = Number(process.env.BENCH_RUNS ?? 7)
const scratch = mkdtempSync(join(tmpdir(), 'mtflow-bench-'))

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

async function notebookRun(i: number): Promise<{ written: number; exited: number }> {
  const out = join(scratch, `trivial-${i}.ipynb`)
  const started = Date.now()
  const child = spawn(process.execPath, [join(ROOT, 'lib/cli/bin.cjs'), 'notebook', 'run', join(ROOT, 'test/fixtures/notebooks/trivial-10.ipynb'), '--out', out, '--no-progress'], {
    stdio: 'ignore',
    env: { ...process.env, MTFLOW_HOME: scratch },
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const exited = Date.now() - started
  if (code !== 0) throw new Error(`notebook run exited ${code}`)
  return { written: statSync(out).mtimeMs - started, exited }
}

async function kernelStart(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now()
  const kernel = await KernelClient.launch({ argv, cwd: join(ROOT, 'notebooks'), env })
  const ms = performance.now() - started
  await kernel.shutdown()
  return ms
}

interface Row {
  workload: string
  median: number
  throughput: string
  reference: string
  ratio: string
}

const rows: Row[] = []
const progress = (text: string) => {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`)
}

// Warm-up: fills tsx's transform cache and the kernel's V8 code cache, as any second run finds them.
progress('warming up…')
await notebookRun(-1)

const written: number[] = []
const exited: number[] = []
for (let i = 0; i < RUNS; i++) {
  progress(`notebook run ${i + 1}/${RUNS}`)
  const r = await notebookRun(i)
  written.push(r.written)
  exited.push(r.exited)
}
const target = 3000
rows.push({
  workload: 'notebook run, 10 trivial cells: start → file written',
  median: median(written),
  throughput: `${((10 / median(written)) * 1000).toFixed(1)} cells/s`,
  reference: 'target 3000 ms',
  ratio: (median(written) / target).toFixed(2),
})
rows.push({
  workload: 'notebook run, 10 trivial cells: start → process exit',
  median: median(exited),
  throughput: `${((10 / median(exited)) * 1000).toFixed(1)} cells/s`,
  reference: 'target 3000 ms',
  ratio: (median(exited) / target).toFixed(2),
})

const ours: number[] = []
const stock: number[] = []
const stockArgv = [process.execPath, join(ROOT, 'node_modules/tslab/bin/tslab'), 'kernel', '--config-path', '{connection_file}']
for (let i = 0; i < RUNS; i++) {
  progress(`kernel start ${i + 1}/${RUNS}`)
  ours.push(await kernelStart(kernelArgv(), { MTFLOW_KERNEL_HEADLESS: '1' }))
  stock.push(await kernelStart(stockArgv, {}))
}
rows.push({
  workload: 'kernel start, mtflow launcher (headless)',
  median: median(ours),
  throughput: `${(1000 / median(ours)).toFixed(2)} starts/s`,
  reference: `stock tslab ${median(stock).toFixed(0)} ms`,
  ratio: (median(ours) / median(stock)).toFixed(2),
})
progress('')

rmSync(scratch, { recursive: true, force: true })

const header = ['workload', 'median', 'throughput', 'reference', 'ratio']
const table = rows.map((r) => [r.workload, `${r.median.toFixed(0)} ms`, r.throughput, r.reference, r.ratio])
const widths = header.map((h, j) => Math.max(h.length, ...table.map((r) => r[j]!.length)))
const line = (cells: string[]) => `| ${cells.map((c, j) => c.padEnd(widths[j]!)).join(' | ')} |`
console.log(`mtflow bench — ${RUNS} runs each, median; node ${process.version}, ${new Date().toISOString()}`)
console.log(line(header))
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
for (const r of table) console.log(line(r))
