// A tracked `mtflow backtest` end to end, as a user runs it (issue 24 point 4): the CLI process (tsx's
// require hook, lib/cli/bin.cjs) reads 100,000 and 1,000,000 one-minute bars of a seeded GBM walk from a
// lake, runs sma-cross 10/30 and records the run (metrics, curves, the tables as Parquet). The figure is
// the marginal rate: 900,000 bars over the 1M run's time minus the 100k run's (process start, module
// loading and the lake's first read cancel out). Reference: ≥ 3,000,000 bars/s, and ≥ 200× backtrader's
// SMA cross on the same bars and machine in the same bench run (test/bench/backtrader_ref.py; backtrader
// is found through BACKTRADER_PATH or an installed package — without it the row says so). The same runs with
// --no-track give the floor the tracked figure can reach: reading, the engine and its metrics, nothing recorded.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { ingestBars, syntheticGbm } from '../../lib/data/index.js'
import { median, type BenchRow } from './timing.js'

const ROOT = resolve(__dirname, '../..')
const SIZES = [100_000, 1_000_000] as const
const TARGET = 3_000_000
const TIME = '/usr/bin/time'
const fmt = (x: number) => Math.round(x).toLocaleString('en-US')

export async function benchBacktestCli(progress: (text: string) => void, runs: number): Promise<BenchRow[]> {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-bench-cli-'))
  try {
    for (const n of SIZES) await ingestBars(home, { ...syntheticGbm({ bars: n, timeframe: '1m', seed: 7 }), symbol: `GBM${n}` }, { source: 'synthetic' })
    // Each size tracked and with --no-track: the untracked marginal (read, engine, metrics; nothing recorded)
    // is the floor the tracked figure can reach, measured beside it.
    const ms: Record<string, number[]> = {}
    const cpu: Record<string, number[]> = {}
    const key = (n: number, tracked: boolean) => `${n}${tracked ? '' : ' untracked'}`
    // Sizes alternate, so a slow spell of the machine falls on both; the first pair warms the page cache.
    for (let r = 0; r <= runs; r++) {
      for (const tracked of [true, false]) {
        for (const n of SIZES) {
          progress(`backtest: ${tracked ? 'tracked' : 'untracked'} mtflow backtest through the CLI, ${fmt(n)} bars (${r}/${runs})`)
          const argv = [process.execPath, join(ROOT, 'lib/cli/bin.cjs'), '--home', home, 'backtest', '--strategy', 'sma-cross', '--symbol', `GBM${n}`, '--source', 'synthetic', '--timeframe', '1m', '--param', 'fast=10', '--param', 'slow=30', '--size-qty', '1', '--commission', '0.0005', ...(tracked ? [] : ['--no-track'])]
          // Under /usr/bin/time when there is one: the child's CPU (user + system), steadier than wall time when other work shares the machine.
          const timed = existsSync(TIME) ? [TIME, '-f', 'mtflow-cpu %U %S', ...argv] : argv
          const started = performance.now()
          const child = spawnSync(timed[0]!, timed.slice(1), { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 })
          const elapsed = performance.now() - started
          if (child.status !== 0) throw new Error(`mtflow backtest failed: ${child.stderr}`)
          // The text a user reads (no --json: its 20,000 trades as JSON are another cost), ending with the run's id.
          if (tracked && !/^run: \S+/m.test(child.stdout)) throw new Error(`mtflow backtest recorded no run: ${child.stdout.slice(-300)}`)
          if (r === 0) continue
          ;(ms[key(n, tracked)] ??= []).push(elapsed)
          const used = /mtflow-cpu ([\d.]+) ([\d.]+)/.exec(child.stderr)
          if (used !== null) (cpu[key(n, tracked)] ??= []).push((Number(used[1]) + Number(used[2])) * 1000)
        }
      }
    }
    const figures = (tracked: boolean) => {
      const big = ms[key(SIZES[1], tracked)]!
      const small = ms[key(SIZES[0], tracked)]!
      const marginal = median(big) - median(small)
      const cpuBig = cpu[key(SIZES[1], tracked)]
      const cpuSmall = cpu[key(SIZES[0], tracked)]
      const cpuMarginal = cpuBig === undefined || cpuSmall === undefined ? NaN : median(cpuBig) - median(cpuSmall)
      const shown = `${median(big).toFixed(0)} − ${median(small).toFixed(0)} ms (CPU ${Number.isNaN(cpuMarginal) ? 'not measured' : `${cpuMarginal.toFixed(0)} ms, ${fmt((SIZES[1] - SIZES[0]) / (cpuMarginal / 1000))} bars/s`} marginal)`
      return { marginal, rate: (SIZES[1] - SIZES[0]) / (marginal / 1000), shown }
    }
    const tracked = figures(true)
    const untracked = figures(false)
    const rate = tracked.rate
    const reference = backtraderRate(home, progress)
    const goal = Math.max(TARGET, typeof reference === 'number' ? 200 * reference : 0)
    const rows: BenchRow[] = [
      {
        workload: `tracked \`mtflow backtest\` (CLI process), sma-cross 10/30, 1M − 100k 1m bars: ${tracked.shown}`,
        median: tracked.marginal,
        throughput: `${fmt(rate)} bars/s marginal`,
        reference: `target ≥ ${fmt(TARGET)} bars/s${typeof reference === 'number' ? `, ≥ 200× backtrader (${fmt(200 * reference)})` : ''}`,
        ratio: (goal / rate).toFixed(2),
      },
      {
        workload: `the same with --no-track (read, engine, metrics; nothing recorded): ${untracked.shown}`,
        median: untracked.marginal,
        throughput: `${fmt(untracked.rate)} bars/s marginal`,
        reference: `tracked ${fmt(rate)} bars/s${typeof reference === 'number' ? `; ${(untracked.rate / reference).toFixed(0)}× backtrader` : ''}`,
        ratio: (goal / untracked.rate).toFixed(2),
      },
    ]
    rows.push(
      typeof reference === 'number'
        ? { workload: `backtrader SMA cross 10/30 on the same 1m bars (${fmt(BACKTRADER_BARS)}, cerebro.run with the CSV read)`, median: (BACKTRADER_BARS / reference) * 1000, throughput: `${fmt(reference)} bars/s`, reference: `mtflow marginal ${fmt(rate)} bars/s`, ratio: `${(rate / reference).toFixed(0)}×` }
        : { workload: 'backtrader SMA cross 10/30 on the same 1m bars', median: NaN, throughput: reference, reference: 'backtrader not measured', ratio: '—' },
    )
    return rows
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

const BACKTRADER_BARS = Number(process.env.BENCH_BACKTRADER_BARS ?? 100_000)

/** backtrader's bars/s on the first BACKTRADER_BARS of the same walk, or why it was not measured. */
function backtraderRate(home: string, progress: (text: string) => void): number | string {
  const bars = syntheticGbm({ bars: BACKTRADER_BARS, timeframe: '1m', seed: 7 })
  const csv = join(home, 'backtrader-bars.csv')
  const lines = ['time,open,high,low,close,volume']
  for (let i = 0; i < bars.time.length; i++) lines.push(`${bars.time[i]},${bars.open[i]},${bars.high[i]},${bars.low[i]},${bars.close[i]},${bars.volume[i]}`)
  writeFileSync(csv, `${lines.join('\n')}\n`)
  progress(`backtest: backtrader on ${fmt(BACKTRADER_BARS)} bars`)
  const path = [process.env.BACKTRADER_PATH, process.env.PYTHONPATH].filter((p) => p !== undefined && p !== '').join(delimiter)
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'test/bench/backtrader_ref.py'), csv], { encoding: 'utf8', timeout: 900_000, env: { ...process.env, PYTHONPATH: path } })
  if (r.status !== 0) return /No module named .?backtrader/.test(r.stderr ?? '') ? 'backtrader not installed (set BACKTRADER_PATH to a checkout of mementum/backtrader)' : `backtrader_ref.py failed: ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').pop()}`
  const out = JSON.parse(r.stdout) as { bars: number; seconds: number }
  return out.bars / out.seconds
}
