// `mtflow pipeline pairs` (lib/cli/pipeline-pairs.ts) on three seeded cointegrated pairs: every step a run
// whose input is the previous step's; the features, dataset and models built on the bars before the
// holdout, the gated backtests on the holdout only; the champions exactly the batch rows the guardrails keep
// (recomputed here from the batch's summary table), each deflated over the whole batch; the router over them,
// the signals and the orders its outputs. Run again, every step is reused; a step that fails (caps that
// cannot be met) fails the pipeline with one line naming the step, and the same command with good caps
// resumes: the earlier steps reused. Bad options are one line, exit 2.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadBars } from '../../lib/data/index.js'
import { Registry, searchRuns, Tracker } from '../../lib/track/index.js'
import { readRunTable, runTableCsv } from '../../lib/track/run-tables.js'
import { runCli } from '../helpers.js'

/** The bar times of a run's equity table (epoch ms). */
function equityTimes(tracker: Tracker, runId: string): Float64Array {
  const table = readRunTable(tracker, runId, 'equity')
  if (table?.format !== 'parquet') throw new Error(`run ${runId} has no equity.parquet`)
  return table.columns.time as Float64Array
}

let home: string
const SYMBOLS = 'SYN-Y1,SYN-X1,SYN-Y2,SYN-X2,SYN-Y3,SYN-X3'
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-pipeline-pairs-'))
  const r = await runCli(['--home', home, 'data', 'synthetic', '--kind', 'pair', '--pairs', '3', '--bars', '3000', '--timeframe', '1h', '--json'])
  expect(r.code, r.stderr).toBe(0)
}, 60_000)

interface Out {
  runId: string
  holdout: string
  steps: { step: string; runId?: string; reused: boolean }[]
  champions: { runId: string; target: string; sharpe: number; trials: number; dsr: number | null }[]
  router: string
  signals: { target: string; model: string }[]
  files?: Record<string, string>
}

describe('pipeline pairs', () => {
  it('chains every step with lineage, learns before the holdout and tests on it, selects by the guardrails, and reuses everything the second time', async () => {
    const out = join(home, 'out')
    const r = await runCli(['--home', home, 'pipeline', 'pairs', '--symbols', SYMBOLS, '--top-k', '3', '--out-dir', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const p = JSON.parse(r.stdout) as Out
    expect(p.steps.map((s) => s.step)).toEqual(['screen', 'features', 'dataset', 'train', 'register', 'gated backtests', 'select', 'router', 'infer', 'targets', 'report'])
    const run = (name: string) => p.steps.find((s) => s.step === name)!.runId!
    const tracker = new Tracker(home)
    const input = (id: string) => (JSON.parse(tracker.readArtifact(id, 'manifest.json').bytes.toString('utf8')) as { inputs: { kind: string; ref: string }[] }).inputs.filter((i) => i.kind === 'run').map((i) => i.ref)
    expect(input(run('features'))).toEqual([run('screen')])
    expect(input(run('dataset'))).toEqual([run('features')])
    expect(input(run('train'))).toEqual([run('dataset')])
    expect(input(run('router'))).toEqual([run('train')])
    expect(tracker.getRun(run('gated backtests')).info.lineage.runs).toEqual([run('train')])
    expect(tracker.getRun(run('infer')).info.lineage.runs).toEqual([run('router')])

    // Learned before the holdout, tested on it.
    const split = Date.parse(p.holdout)
    const features = JSON.parse(tracker.readArtifact(run('features'), 'manifest.json').bytes.toString('utf8')) as { tables: { timeRange: [string, string] }[] }
    for (const t of features.tables) expect(Date.parse(t.timeRange[1])).toBeLessThan(split)
    const batch = run('gated backtests')
    const kids = searchRuns(tracker, { filter: `attributes.parent_run_id = "${batch}"` }).runs
    expect(kids).toHaveLength(3)
    for (const k of kids) {
      const time = equityTimes(tracker, k.info.runId)
      expect(time[0]!).toBeGreaterThanOrEqual(split)
    }

    // The champions: the batch's rows with ≥ 30 trades, Sharpe > 0 and drawdown ≤ 0.5, best Sharpe first.
    const [header, ...lines] = runTableCsv(readRunTable(tracker, batch, 'summary')!).trim().split('\n')
    const cols = header!.split(',')
    const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])))
    const kept = rows.filter((row) => Number(row.trades) >= 30 && Number(row.sharpe) > 0 && Number(row.maxDrawdown) <= 0.5).sort((a, b) => Number(b.sharpe) - Number(a.sharpe))
    expect(kept.length).toBeGreaterThan(0)
    expect(p.champions.map((c) => c.target)).toEqual(kept.map((row) => row.target))
    p.champions.forEach((c, i) => expect(c.sharpe).toBeCloseTo(Number(kept[i]!.sharpe), 9))
    // Each deflated over the whole batch: every pair tried is a trial.
    for (const c of p.champions) expect(c.trials).toBe(rows.length)
    // The router routes exactly the champions; the signals are its, one per route.
    const [name, version] = p.router.split('@') as [string, string]
    const registry = new Registry(home)
    expect(registry.resolve('models', `${name}@Staging`).version).toBe(Number(version))
    const routerPkg = JSON.parse(registry.readFile('models', p.router).toString('utf8')) as { model: { routes: Record<string, unknown> } }
    expect(Object.keys(routerPkg.model.routes).sort()).toEqual(p.champions.map((c) => c.target).sort())
    expect(p.signals.map((sg) => sg.target).sort()).toEqual(p.champions.map((c) => c.target).sort())
    expect(p.signals.every((sg) => sg.model === p.router)).toBe(true)
    // The outputs: files and the pipeline run's artifacts, the same bytes.
    for (const f of ['orders.json', 'targets.json', 'report.html', 'pipeline.json']) {
      expect(existsSync(join(out, f))).toBe(true)
      expect(tracker.readArtifact(p.runId, f).bytes.equals(readFileSync(join(out, f)))).toBe(true)
    }
    const orders = JSON.parse(readFileSync(join(out, 'orders.json'), 'utf8')) as { orders: { symbol: string }[] }
    const legs = new Set(p.champions.flatMap((c) => c.target.split('~')))
    expect(orders.orders.length).toBeGreaterThan(0)
    for (const o of orders.orders) expect(legs.has(o.symbol)).toBe(true)
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<svg')

    // The same command again: every step that records a run is the same run.
    const again = await runCli(['--home', home, 'pipeline', 'pairs', '--symbols', SYMBOLS, '--top-k', '3', '--json'])
    expect(again.code, again.stderr).toBe(0)
    const q = JSON.parse(again.stdout) as Out
    for (const name of ['screen', 'features', 'dataset', 'train', 'gated backtests', 'router']) {
      const s = q.steps.find((x) => x.step === name)!
      expect([name, s.runId, s.reused]).toEqual([name, run(name), true])
    }
    expect(q.steps.find((x) => x.step === 'register')!.reused).toBe(true)
    expect(q.champions.map((c) => c.runId)).toEqual(p.champions.map((c) => c.runId))
  }, 300_000)

  it('a failed step fails the pipeline naming it; the same command resumes with the earlier steps reused', async () => {
    const bad = join(home, 'caps-bad.json')
    writeFileSync(bad, JSON.stringify({ maxWeightPerAsset: 0 }))
    const failed = await runCli(['--home', home, 'pipeline', 'pairs', '--symbols', SYMBOLS, '--top-k', '3', '--caps', bad, '--label', 'zThreshold'])
    expect(failed.code).toBe(2)
    expect(failed.stderr.split('\n').filter((l) => l.startsWith('mtflow: '))).toHaveLength(1)
    expect(failed.stderr).toMatch(/^mtflow: step targets failed: .*\(run the same command again to resume: finished steps are reused\)$/m)
    const tracker = new Tracker(home)
    const pipelines = searchRuns(tracker, { filter: 'tags.mtflow.kind = "pipeline"' }).runs
    expect(pipelines[0]!.info.status).toBe('FAILED')
    const good = join(home, 'caps-good.json')
    writeFileSync(good, JSON.stringify({ maxWeightPerAsset: 0.5, capital: 100000 }))
    const resumed = await runCli(['--home', home, 'pipeline', 'pairs', '--symbols', SYMBOLS, '--top-k', '3', '--caps', good, '--label', 'zThreshold', '--json'])
    expect(resumed.code, resumed.stderr).toBe(0)
    const r = JSON.parse(resumed.stdout) as Out
    for (const name of ['screen', 'features', 'dataset', 'train', 'gated backtests', 'router']) expect([name, r.steps.find((x) => x.step === name)!.reused]).toEqual([name, true])
  }, 300_000)

  it('new bars after the holdout started: the steps before it are reused, the gated backtests run again on them', async () => {
    const holdout = '2024-03-28T00:00:00.000Z'
    const first = JSON.parse((await runCli(['--home', home, 'pipeline', 'pairs', '--symbols', SYMBOLS, '--top-k', '3', '--holdout', holdout, '--json'])).stdout) as Out
    const tracker = new Tracker(home)
    const lastOf = (batch: string) => Math.max(...searchRuns(tracker, { filter: `attributes.parent_run_id = "${batch}"` }).runs.map((k) => equityTimes(tracker, k.info.runId).at(-1)!))
    const batch1 = first.steps.find((x) => x.step === 'gated backtests')!.runId!
    // 50 more hourly bars of every symbol, flat at its last close, imported after the lake's end.
    for (const symbol of SYMBOLS.split(',')) {
      const bars = await loadBars(home, { symbol, timeframe: '1h' })
      const t0 = bars.time[bars.time.length - 1]!
      const c = bars.close[bars.close.length - 1]!
      const lines = Array.from({ length: 50 }, (_, k) => `${new Date(t0 + (k + 1) * 3_600_000).toISOString()},${c},${c},${c},${c},1`)
      const file = join(home, `more-${symbol}.csv`)
      writeFileSync(file, `time,open,high,low,close,volume\n${lines.join('\n')}\n`)
      const r = await runCli(['--home', home, 'import', file, '--symbol', symbol, '--timeframe', '1h', '--source', 'synthetic', '--json'])
      expect(r.code, r.stderr).toBe(0)
    }
    const second = JSON.parse((await runCli(['--home', home, 'pipeline', 'pairs', '--symbols', SYMBOLS, '--top-k', '3', '--holdout', holdout, '--json'])).stdout) as Out
    for (const name of ['screen', 'features', 'dataset', 'train']) expect([name, second.steps.find((x) => x.step === name)!.reused]).toEqual([name, true])
    const batch2 = second.steps.find((x) => x.step === 'gated backtests')!
    expect(batch2.reused).toBe(false)
    expect(batch2.runId).not.toBe(batch1)
    expect(lastOf(batch2.runId!)).toBe(lastOf(batch1) + 50 * 3_600_000)
  }, 300_000)

  it('refuses bad options with one line and exit 2', async () => {
    const one = await runCli(['--home', home, 'pipeline', 'pairs', '--symbols', 'SYN-Y1'])
    expect([one.code, one.stderr]).toEqual([2, 'mtflow: --symbols needs at least 2 symbols (received "SYN-Y1")\n'])
    const holdout = await runCli(['--home', home, 'pipeline', 'pairs', '--symbols', SYMBOLS, '--holdout', '1.5'])
    expect([holdout.code, holdout.stderr]).toEqual([2, 'mtflow: --holdout must be a fraction in (0, 1) or a time (received "1.5")\n'])
    const label = await runCli(['--home', home, 'pipeline', 'pairs', '--symbols', SYMBOLS, '--label', 'nope'])
    expect([label.code, label.stderr]).toEqual([2, 'mtflow: --label must be one of zThreshold, revertDirection, forwardReturnSign, tripleBarrier (received "nope")\n'])
  })
})
