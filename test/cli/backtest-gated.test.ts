// `mtflow backtest --signals-from MODEL@REF [--proba-threshold P]` as a process: a lake of two seeded
// cointegrated synthetic pairs, its models made in-process by the pipeline's library calls, then the CLI:
// one gated backtest (its entries at bars where the model's probability clears the threshold, its run
// tagged), a batch over 'PREFIX.*@1' (a summary sorted by Sharpe), and bad input refused in one line with
// exit 2 and nothing written.

import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ingestBars, syntheticPair } from '../../lib/data/index.js'
import { datasetStep, featuresStep, modelProbabilities, registerModels, screenStep, trainStep } from '../../lib/pipeline/index.js'
import { Tracker } from '../../lib/track/index.js'
import { readRunTable, runTableCsv } from '../../lib/track/run-tables.js'
import { runCli, runCliBatch } from '../helpers.js'

let home: string
let models: string[]

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-gated-'))
  const [a1, a2] = syntheticPair({ bars: 1000, timeframe: '1h', seed: 31, halfLife: 10, spreadVol: 0.03, symbols: ['AY', 'AX'] })
  const [b1, b2] = syntheticPair({ bars: 1000, timeframe: '1h', seed: 32, halfLife: 12, spreadVol: 0.03, hedgeRatio: 1.1, symbols: ['BY', 'BX'] })
  for (const bars of [a1, a2, b1, b2]) await ingestBars(home, bars, { source: 'synthetic' })
  const screen = await screenStep(home, { symbols: [a1.symbol, a2.symbol, b1.symbol, b2.symbol], timeframe: '1h', maxPValue: 0.05, minCorr: 0.3 })
  const feats = await featuresStep(home, { pairs: screen.runId, window: 30, windows: [10] })
  const ds = await datasetStep(home, { features: feats.runId, label: 'revertDirection', horizon: 5 })
  const train = await trainStep(home, { dataset: ds.runId, model: 'tree', cv: 'walk-forward', folds: 3, hyper: { maxDepth: 3, seed: 1 } })
  models = (await registerModels(home, { from: train.runId, prefix: 'cg' })).map((m) => m.name)
}, 240_000)

function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split('\n')
  const names = head!.split(',')
  return lines.filter((l) => l !== '').map((line) => Object.fromEntries(line.split(',').map((v, k) => [names[k]!, v])))
}

/** Every run directory's id in the workspace (what "nothing written" is checked against). */
const runIds = () => new Tracker(home).summaries().map((s) => s.info.runId).sort()

describe('mtflow backtest --signals-from', () => {
  it('one model: a tracked gated backtest whose entries are at bars with p ≥ threshold; text and --json', async () => {
    expect(models.length).toBe(2)
    const ref = `${models[0]}@1`
    const r = await runCli(['--home', home, 'backtest', '--signals-from', ref, '--proba-threshold', '0.6', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { runId: string; signalsFrom: string; probaThreshold: number; target: string; gate: { allowed: number; blocked: number }; ungated: { sharpe: number; trades: number }; metrics: { sharpe: number } }
    expect(out).toMatchObject({ signalsFrom: ref, probaThreshold: 0.6 })
    const tracker = new Tracker(home)
    const run = tracker.getRun(out.runId)
    expect(run.tags).toMatchObject({ 'mtflow.kind': 'backtest', 'mtflow.source': 'cli', 'mtflow.signals': models[0], 'mtflow.signalsVersion': '1', 'mtflow.target': out.target })
    expect(run.params).toMatchObject({ probaThreshold: '0.6', signalsFrom: ref })
    // Each entry order was placed at a bar (created at its close, an hour after its open) where p ≥ 0.6.
    const p = await modelProbabilities(home, ref)
    const at = new Map(Array.from(p.time, (t, i) => [t, i]))
    const orders = new Map(parseCsv(runTableCsv(readRunTable(tracker, out.runId, 'orders')!)).map((o) => [o.id!, o]))
    const trades = parseCsv(runTableCsv(readRunTable(tracker, out.runId, 'trades')!))
    expect(trades.length).toBeGreaterThan(0)
    for (const t of trades) expect(p.probability[at.get(Date.parse(orders.get(t.entryOrderId!)!.createdAt!) - 3_600_000)!]!).toBeGreaterThanOrEqual(0.6)
    expect(out.gate.allowed).toBe(trades.length)
    expect(run.metrics.ungated_sharpe!.value).toBeCloseTo(out.ungated.sharpe, 12)
    // The text form: both columns, and where the run is.
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-cli-gated-export-'))
    const text = await runCli(['--home', home, 'backtest', '--signals-from', ref, '--proba-threshold', '0.6', '--no-track', '--export', dir])
    expect(text.code, text.stderr).toBe(0)
    // The same backtest exported: its trades, and each entry's factor set beside them.
    expect(readFileSync(join(dir, 'trades.csv'), 'utf8')).toBe(runTableCsv(readRunTable(tracker, out.runId, 'trades')!))
    expect(readFileSync(join(dir, 'factors.csv'), 'utf8').split('\n')[0]).toContain(',factor.slope_20,factor.r2_20,')
    expect(text.stdout).toContain(`entries where ${ref} gives p ≥ 0.6 (entry orders: ${out.gate.allowed} let through, ${out.gate.blocked} blocked)`)
    expect(text.stdout).toMatch(/^metric +gated +ungated$/m)
    expect(text.stdout).toMatch(new RegExp(`^Sharpe +${out.metrics.sharpe.toFixed(2).replace('.', '\\.')} +${out.ungated.sharpe.toFixed(2).replace('.', '\\.')}$`, 'm'))
    expect(text.stdout).not.toContain('run: ')
  })

  it("a batch over 'PREFIX.*@1': a child run per model, the summary best Sharpe first", async () => {
    const r = await runCli(['--home', home, 'backtest', '--signals-from', 'cg.*@1', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { runId: string; rows: { model: string; runId: string; sharpe: number; ungated_sharpe: number }[] }
    expect(out.rows.map((row) => row.model).sort()).toEqual(models.map((m) => `${m}@1`).sort())
    expect(out.rows[0]!.sharpe).toBeGreaterThanOrEqual(out.rows[1]!.sharpe)
    const tracker = new Tracker(home)
    expect(tracker.getRun(out.runId).tags['mtflow.kind']).toBe('backtest-batch')
    expect(tracker.childRuns(out.runId).map((c) => c.info.runId).sort()).toEqual(out.rows.map((row) => row.runId).sort())
    for (const row of out.rows) expect(tracker.getRun(row.runId).metrics.sharpe!.value).toBeCloseTo(row.sharpe, 12)
    const text = await runCli(['--home', home, 'backtest', '--signals-from', 'cg.*@1'])
    expect(text.code, text.stderr).toBe(0)
    const lines = text.stdout.split('\n')
    const head = lines.findIndex((l) => l.startsWith('target'))
    expect(lines[head]).toMatch(/^target +model +trades +return +CAGR +Sharpe +maxDD +win +exposure +ungated trades +ungated return +ungated Sharpe +ungated maxDD$/)
    expect(lines.slice(head + 1, head + 3).map((l) => l.split(/\s+/)[1])).toEqual(out.rows.map((row) => row.model))
    expect(text.stderr).toContain('gated backtests')
    // The summary is Parquet (a run's tables are; CSV only on --export): no summary.csv.
    expect(tracker.getRun(out.runId).artifacts.map((a) => a.path).filter((p) => p.startsWith('summary.'))).toEqual(['summary.parquet'])
    const summary = runTableCsv(readRunTable(tracker, out.runId, 'summary')!).split('\n')[0]
    expect(summary).toBe('target,model,runId,trades,totalReturn,cagr,sharpe,maxDrawdown,winRate,exposure,ungated_trades,ungated_totalReturn,ungated_cagr,ungated_sharpe,ungated_maxDrawdown,ungated_winRate,ungated_exposure')
  })

  it('bad input: a backtest run, an unknown model, a contradicting --symbol or --timeframe, a bad threshold — one line, exit 2, nothing written', async () => {
    const ref = `${models[0]}@1`
    const someRun = new Tracker(home).summaries().find((s) => s.tags['mtflow.kind'] === 'backtest')!.info.runId
    const before = runIds()
    const cases: [string[], string][] = [
      [['--signals-from', someRun], `mtflow: --signals-from ${someRun} is a backtest run; expected a registered model (NAME@VERSION or NAME@ALIAS)\n`],
      [['--signals-from', 'nosuch.model@1'], 'mtflow: no model named "nosuch.model" in the registry\n'],
      [['--signals-from', 'nosuch.*@1'], 'mtflow: --signals-from nosuch.*@1: no registered model\'s name starts with "nosuch."\n'],
      [['--signals-from', ref, '--symbol', 'SYN-AY,SYN-BX'], `mtflow: --symbol SYN-AY,SYN-BX contradicts model ${ref}, which trades ${models[0]!.startsWith('cg.syn-ay') ? 'SYN-AY~SYN-AX' : 'SYN-BY~SYN-BX'}; leave --symbol out (the model's lineage gives its symbols)\n`],
      [['--signals-from', ref, '--timeframe', '1d'], `mtflow: --timeframe 1d contradicts model ${ref}, whose features are 1h; leave --timeframe out\n`],
      [['--signals-from', ref, '--proba-threshold', 'high'], 'mtflow: --proba-threshold must be a probability ≥ 0 (above 1 blocks every entry) (received "high")\n'],
      [['--signals-from', 'cg.*@1', '--symbol', 'SYN-AY'], 'mtflow: --symbol cannot be given with a batch (cg.*@1): each model trades its own pair or symbol\n'],
      [['--strategy', 'sma-cross', '--symbol', 'SYN-AY', '--timeframe', '1h', '--proba-threshold', '0.7'], 'mtflow: --proba-threshold needs --signals-from MODEL@REF (the model whose probability gates the entries)\n'],
    ]
    // One process for the refusals (they are main's, not the process's).
    const results = await runCliBatch(cases.map(([args]) => ['--home', home, 'backtest', ...args]))
    for (const [i, [args, stderr]] of cases.entries()) {
      const r = results[i]!
      expect([r.code, r.stderr], args.join(' ')).toEqual([2, stderr])
    }
    expect(runIds()).toEqual(before)
  })
})
