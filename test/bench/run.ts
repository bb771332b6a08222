// `npm run bench`: medians of repeated runs, printed as a table (workload, median, throughput, reference,
// ratio). Run on a quiet machine; figures are only comparable within one run.
//
//   notebook run, 10 trivial cells — `mtflow notebook run` as a process, from spawn to the executed file
//     written (kernel start included). Reference: the 3 s target of issue 2.
//   cli: mtflow --help — the command as a process, spawn to exit: what every command pays before its work
//     (no DuckDB, arquero or Arrow loaded). Reference: the 300 ms target of issue 24.
//   kernel start — launch → kernel_info answered on shell and iopub, for our headless launcher and for
//     the stock `tslab kernel` command (the reference).
//   lake, 1,000,000 one-minute bars — CSV import (rows/s and peak RSS), loadBars, resample to 1h;
//     references: the targets of issue 3.
//   server — `mtflow serve` in its own process, the run page of a 200-run workspace (2,000-point curves)
//     under 50 concurrent keep-alive connections: req/s, median and p99; reference: p99 ≤ 50 ms.
//     (test/bench/server.ts; BENCH_SERVER_SECONDS, BENCH_SERVER_PROF=DIR for the server's CPU profile.)
//   tune — tuner overhead per trial at 1,000 trials (random, TPE) and TPE's best after 100 trials on
//     Branin and the 10-d sphere, against Optuna (Debian python3-optuna; test/bench/optuna_ref.py).
//   live — a live deployment's closed bar → order request leaving the process (EngineSession + CcxtVenue, the
//     real ccxt, the Binance stand-in in its own process, the journal written per event and each intent's
//     fsync started in the thread pool): p50/p99/max over 2,000 bars after 1,000 of warm-up, the median of 3
//     runs (BENCH_LIVE_RUNS); reference: p99 ≤ 1 ms (test/bench/live.ts).
//   pipeline — `mtflow pipeline pairs` on 10 synthetic symbols × 50,000 1h bars as a CLI process, cold and warm
//     (every step reused), and `infer` of 1,000 rows: p50/p99 in process, and the CLI's (test/bench/pipeline.ts).
//   exec — a sweep of 1,000 sets × 1,000,000 bars on local threads (2) and on bullmq with two `mtflow worker`
//     processes against a real redis-server; the queue's overhead per job (test/bench/exec.ts).
//   ml — a decision tree on 50,000 × 20 to depth 20 (target ≤ 0.5 s) and a 100-tree forest on 2 workers,
//     against scikit-learn (Debian python3-sklearn) on the same bytes, with held-out accuracy of each.

import { spawn, spawnSync } from 'node:child_process'
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeFileSync } from 'node:fs'
import { KernelClient } from '../../kernel/client.js'
import { kernelArgv } from '../../kernel/kernelspec.js'
import { benchIndicatorLoaders } from './indicator-loaders.js'
import { seededRandom } from '../../lib/core/index.js'
import { loadBars, resample } from '../../lib/data/index.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RUNS = Number(process.env.BENCH_RUNS ?? 7)
// Indicator runs take milliseconds, and this VM's neighbours swing single runs ±2×: a median of 21.
const INDICATOR_RUNS = 3 * RUNS
const DATA_RUNS = Number(process.env.BENCH_DATA_RUNS ?? 3)
// BENCH_ONLY=lake (or notebook, cli, indicators, backtest, live, track, server, ml, tune, report, pipeline, serving, monitor, exec; comma-separated) runs some groups only; BENCH_CASES=adx,rsi
// some indicator cases (and streams) only.
const ONLY = process.env.BENCH_ONLY?.split(',').map((g) => g.trim())
const wanted = (group: string) => ONLY === undefined || ONLY.includes(group)
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

if (wanted('cli')) {
  // Spawn to exit of `mtflow --help`, after one warm-up run (tsx's transform cache filled, as any second run finds it).
  const helpRun = () => {
    const started = performance.now()
    const r = spawnSync(process.execPath, [join(ROOT, 'lib/cli/bin.cjs'), '--help'], { stdio: 'ignore', env: { ...process.env, MTFLOW_HOME: scratch } })
    if (r.status !== 0) throw new Error(`mtflow --help exited ${r.status}`)
    return performance.now() - started
  }
  helpRun()
  const times: number[] = []
  for (let i = 0; i < Math.max(RUNS, 10); i++) {
    progress(`mtflow --help ${i + 1}`)
    times.push(helpRun())
  }
  rows.push({ workload: 'cli: mtflow --help', median: median(times), throughput: `${(1000 / median(times)).toFixed(1)} runs/s`, reference: 'target 300 ms', ratio: (median(times) / 300).toFixed(2) })
}

if (wanted('notebook')) {
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

  // A notebook's first lib import in a fresh kernel, cold and with the lib declarations cached (test/bench/notebook-import.ts).
  const { benchNotebookImport } = await import('./notebook-import.js')
  rows.push(...(await benchNotebookImport(progress, RUNS)))
}
if (wanted('lake')) {
  // The lake: 1,000,000 one-minute bars (a deterministic random walk) as CSV.
  const N = 1_000_000
  const csv = join(scratch, 'bars-1m.csv')
  {
    const t0 = Date.UTC(2022, 0, 1)
    const lines = ['timestamp,open,high,low,close,volume']
    let p = 100
    const rng = seededRandom(7)
    for (let i = 0; i < N; i++) {
      const o = p
      p *= Math.exp(0.0005 * rng.normal())
      lines.push(`${t0 + i * 60_000},${o},${Math.max(o, p) * 1.0001},${Math.min(o, p) * 0.9999},${p},${(i % 97) + 1}`)
    }
    writeFileSync(csv, lines.join('\n'))
    // On disk before the imports start: its write-back would otherwise compete with their fsyncs.
    const fd = openSync(csv, 'r')
    fsyncSync(fd)
    closeSync(fd)
  }
  const imports: number[] = []
  let peakRss = 0
  for (let i = 0; i < DATA_RUNS; i++) {
    progress(`lake import ${i + 1}/${DATA_RUNS}`)
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/bench/import-child.ts'), csv, join(scratch, `lake-${i}`)], { cwd: ROOT, encoding: 'utf8' })
    if (child.status !== 0) throw new Error(`import child failed: ${child.stderr}`)
    const measured = JSON.parse(child.stdout) as { ms: number; rows: number; peakRss: number }
    if (measured.rows !== N) throw new Error(`import accepted ${measured.rows} rows, expected ${N}`)
    imports.push(measured.ms)
    peakRss = Math.max(peakRss, measured.peakRss)
  }
  rows.push({
    workload: `lake: CSV import, ${N.toLocaleString('en-US')} 1m bars (peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB)`,
    median: median(imports),
    throughput: `${Math.round(N / (median(imports) / 1000)).toLocaleString('en-US')} rows/s`,
    reference: 'target ≥ 700,000 rows/s, ≤ 1024 MiB',
    ratio: (700_000 / (N / (median(imports) / 1000))).toFixed(2),
  })
  // loadBars in fresh processes: the first load (as a notebook's first cell does it), then repeated loads.
  const firstLoads: number[] = []
  const loads: number[] = []
  for (let i = 0; i < DATA_RUNS; i++) {
    progress(`loadBars ${i + 1}/${DATA_RUNS}`)
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/bench/load-child.ts'), join(scratch, `lake-${i}`)], { cwd: ROOT, encoding: 'utf8' })
    if (child.status !== 0) throw new Error(`load child failed: ${child.stderr}`)
    const measured = JSON.parse(child.stdout) as { first: number; repeated: number[] }
    firstLoads.push(measured.first)
    loads.push(...measured.repeated)
  }
  const resamples: number[] = []
  const bars = await loadBars(join(scratch, 'lake-0'), { symbol: 'BENCH', timeframe: '1m' })
  for (let i = 0; i < DATA_RUNS + 2; i++) {
    progress(`resample ${i + 1}`)
    const t = performance.now()
    resample(bars, '1h')
    resamples.push(performance.now() - t)
  }
  rows.push({
    workload: `lake: loadBars, ${N.toLocaleString('en-US')} 1m bars, first load in a fresh process`,
    median: median(firstLoads),
    throughput: `${Math.round(N / (median(firstLoads) / 1000)).toLocaleString('en-US')} bars/s`,
    reference: 'target 150 ms',
    ratio: (median(firstLoads) / 150).toFixed(2),
  })
  rows.push({
    workload: `lake: loadBars, ${N.toLocaleString('en-US')} 1m bars, repeated loads`,
    median: median(loads),
    throughput: `${Math.round(N / (median(loads) / 1000)).toLocaleString('en-US')} bars/s`,
    reference: 'target 150 ms',
    ratio: (median(loads) / 150).toFixed(2),
  })
  rows.push({
    workload: `resample ${N.toLocaleString('en-US')} 1m bars → 1h`,
    median: median(resamples),
    throughput: `${Math.round(N / (median(resamples) / 1000)).toLocaleString('en-US')} bars/s`,
    reference: 'target 50 ms',
    ratio: (median(resamples) / 50).toFixed(2),
  })

}
if (wanted('indicators')) {
  progress('indicators (a process per case)…')
  const cases = process.env.BENCH_CASES?.split(',').map((name) => name.trim())
  const pick = (names: string[]) => names.filter((name) => cases === undefined || cases.includes(name))
  for (const extra of [...pick(['sma', 'ema', 'rsi', 'atr', 'bbands', 'macd', 'adx']).map((name) => ['batch', name]), ...pick(['sma', 'ema', 'rsi', 'atr']).map((name) => ['stream', name])]) {
    progress(`indicators ${extra.join(' ')}…`)
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(ROOT, 'test/bench/indicators-child.ts'), String(INDICATOR_RUNS), ...extra], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 })
    if (child.status !== 0) throw new Error(`indicator bench failed: ${child.stderr}`)
    rows.push(...(JSON.parse(child.stdout) as typeof rows))
  }
  // rsi, atr and adx under each loader users run (CLI, worker threads, tslab), against ESM.
  rows.push(...(await benchIndicatorLoaders(progress, INDICATOR_RUNS, cases)))
}
if (wanted('backtest')) {
  progress('backtest (own process)…')
  const sweepRuns = Number(process.env.BENCH_SWEEP_RUNS ?? 1)
  // As the CLI runs: tsx's require hook, not --import tsx (test/bench/require-child.cjs says why).
  const child = spawnSync(process.execPath, ['--expose-gc', join(ROOT, 'test/bench/require-child.cjs'), join(ROOT, 'test/bench/backtest-child.ts'), String(Math.max(3, Math.min(RUNS, 5))), String(sweepRuns)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 })
  if (child.status !== 0) throw new Error(`backtest bench failed: ${child.stderr}`)
  rows.push(...(JSON.parse(child.stdout) as typeof rows))
}

if (wanted('live')) {
  progress('live: bar → order request (own process; the Binance stand-in in a third)…')
  // As the CLI runs: tsx's require hook (require-child.cjs). BENCH_LIVE_BARS measured bars (default 2,000) after 1,000 of warm-up.
  const child = spawnSync(process.execPath, [join(ROOT, 'test/bench/require-child.cjs'), join(ROOT, 'test/bench/live-child.ts'), process.env.BENCH_LIVE_BARS ?? '2000', '1000'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 })
  if (child.status !== 0) throw new Error(`live bench failed: ${child.stderr}`)
  rows.push(...(JSON.parse(child.stdout) as typeof rows))
}

if (wanted('track')) {
  progress('tracking (own process)…')
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(ROOT, 'test/bench/track-child.ts'), String(RUNS)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 })
  if (child.status !== 0) throw new Error(`tracking bench failed: ${child.stderr}`)
  rows.push(...(JSON.parse(child.stdout) as typeof rows))
}
if (wanted('server')) {
  progress('server (load generator and server in processes of their own)…')
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/bench/server-child.ts')], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 })
  if (child.status !== 0) throw new Error(`server bench failed: ${child.stderr}`)
  rows.push(...(JSON.parse(child.stdout) as typeof rows))
}
if (wanted('ml')) {
  progress('ml: tree and forest (own process; scikit-learn as the reference)…')
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/bench/ml-child.ts'), String(Math.max(3, Math.min(RUNS, 5))), process.env.BENCH_FOREST_RUNS ?? '3'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 })
  if (child.status !== 0) throw new Error(`ml bench failed: ${child.stderr}`)
  rows.push(...(JSON.parse(child.stdout) as typeof rows))
}
if (wanted('tune')) {
  const { benchTune } = await import('./tune.js')
  rows.push(...(await benchTune(progress, RUNS)))
}
if (wanted('report')) {
  const { benchReport } = await import('./report.js')
  rows.push(...(await benchReport(progress, RUNS)))
}
if (wanted('monitor')) {
  const { benchMonitor } = await import('./monitor.js')
  rows.push(...(await benchMonitor(progress, RUNS)))
}
if (wanted('serving')) {
  const { benchServing } = await import('./serving.js')
  rows.push(...(await benchServing(progress, RUNS)))
}
if (wanted('exec')) {
  const { benchExec } = await import('./exec.js')
  rows.push(...(await benchExec(progress, Number(process.env.BENCH_EXEC_RUNS ?? 3))))
}
if (wanted('pipeline')) {
  const { benchPipeline } = await import('./pipeline.js')
  rows.push(...(await benchPipeline(progress, RUNS)))
}

progress('')
rmSync(scratch, { recursive: true, force: true })

const header = ['workload', 'median', 'throughput', 'reference', 'ratio']
// Sub-10 ms medians (a tuner's per-trial overhead) keep three significant digits: "0 ms" says nothing.
const table = rows.map((r) => [r.workload, `${r.median < 10 ? r.median.toPrecision(3) : r.median.toFixed(0)} ms`, r.throughput, r.reference, r.ratio])
const widths = header.map((h, j) => Math.max(h.length, ...table.map((r) => r[j]!.length)))
const line = (cells: string[]) => `| ${cells.map((c, j) => c.padEnd(widths[j]!)).join(' | ')} |`
console.log(`mtflow bench — ${RUNS} runs each (lake imports ${DATA_RUNS}, indicators ${INDICATOR_RUNS}), median; node ${process.version}, ${new Date().toISOString()}`)
console.log(line(header))
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
for (const r of table) console.log(line(r))
