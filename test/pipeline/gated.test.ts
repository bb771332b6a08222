// Model-gated backtests (lib/pipeline/gated.ts) on a lake of two seeded cointegrated synthetic pairs and
// the pipeline chained through its library calls: screen → features → dataset → train → register. The
// gate's entries are checked against a plain pairs state machine written here (rolling OLS of log prices
// by sums, the spread's z-score, enter at |z| > entry when p ≥ threshold, leave at |z| < exit), the
// probabilities against `infer` and against the same model scored on a prefix of the bars.

import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { backtest, resultFiles } from '../../lib/backtest/index.js'
import { ingestBars, syntheticGbm, syntheticPair, type Bars } from '../../lib/data/index.js'
import { LocalExecutor, type Executor } from '../../lib/exec/index.js'
import { datasetStep, featuresStep, gatedBacktest, gatedBatch, inferSignals, modelProbabilities, registerModels, screenStep, trainStep } from '../../lib/pipeline/index.js'
import { modelBars, modelFeatureTable, modelLineage, modelProbabilityColumn } from '../../lib/pipeline/model-features.js'
import type { Strategy } from '../../lib/strategy/index.js'
import { Tracker } from '../../lib/track/index.js'
import { readRunTable, runTableCsv } from '../../lib/track/run-tables.js'
import { jobs as pipelineJobs } from '../../lib/pipeline/jobs.js'

const HOUR = 3_600_000
const WINDOW = 30
let home: string
let pairModels: string[]
let symbolModel: string
let trainRun: string

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-gated-'))
  const [a1, a2] = syntheticPair({ bars: 1200, timeframe: '1h', seed: 21, halfLife: 10, spreadVol: 0.03, symbols: ['AY', 'AX'] })
  const [b1, b2] = syntheticPair({ bars: 1200, timeframe: '1h', seed: 22, halfLife: 15, spreadVol: 0.03, hedgeRatio: 0.8, symbols: ['BY', 'BX'] })
  for (const bars of [a1, a2, b1, b2]) await ingestBars(home, bars, { source: 'synthetic' })
  await ingestBars(home, syntheticGbm({ bars: 1200, timeframe: '1h', seed: 5, symbol: 'SOLO' }), { source: 'synthetic' })
  const screen = await screenStep(home, { symbols: [a1.symbol, a2.symbol, b1.symbol, b2.symbol], timeframe: '1h', maxPValue: 0.05, minCorr: 0.3 })
  const feats = await featuresStep(home, { pairs: screen.runId, window: WINDOW, windows: [10] })
  const ds = await datasetStep(home, { features: feats.runId, label: 'revertDirection', horizon: 5 })
  const train = await trainStep(home, { dataset: ds.runId, model: 'tree', cv: 'walk-forward', folds: 3, hyper: { maxDepth: 3, seed: 1 } })
  trainRun = train.runId
  pairModels = (await registerModels(home, { from: train.runId, prefix: 'gt' })).map((m) => m.name)
  const sFeats = await featuresStep(home, { symbols: ['SYN-SOLO'], timeframe: '1h', windows: [10] })
  const sDs = await datasetStep(home, { features: sFeats.runId, label: 'forwardReturnSign', horizon: 3 })
  const sTrain = await trainStep(home, { dataset: sDs.runId, model: 'tree', cv: 'walk-forward', folds: 3, hyper: { maxDepth: 3, seed: 1 } })
  symbolModel = (await registerModels(home, { from: sTrain.runId, prefix: 'gs' }))[0]!.name
}, 240_000)

/** Aligned log closes of a pair's legs (both synthetic series share every time). */
async function legs(ref: string): Promise<{ time: Float64Array; y: Float64Array; x: Float64Array; ly: Float64Array; lx: Float64Array }> {
  const lineage = await modelLineage(home, ref)
  const bars = await modelBars(home, lineage)
  const y = bars[lineage.pair![0]]!
  const x = bars[lineage.pair![1]]!
  expect(Array.from(y.time)).toEqual(Array.from(x.time))
  return { time: y.time, y: y.close, x: x.close, ly: y.close.map(Math.log), lx: x.close.map(Math.log) }
}

/** The spread's z at t: y ~ x by OLS over the n bars ending at each u, then z over the last n spreads. */
function plainZ(y: Float64Array, x: Float64Array, n: number, t: number): number {
  if (t < 2 * n - 2) return NaN
  const spreadAt = (u: number) => {
    let sx = 0
    let sy = 0
    let sxx = 0
    let sxy = 0
    for (let i = u - n + 1; i <= u; i++) {
      sx += x[i]!
      sy += y[i]!
      sxx += x[i]! * x[i]!
      sxy += x[i]! * y[i]!
    }
    const beta = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    return y[u]! - (beta * x[u]! + (sy - beta * sx) / n)
  }
  const s = Array.from({ length: n }, (_, k) => spreadAt(t - n + 1 + k))
  const mean = s.reduce((a, b) => a + b, 0) / n
  const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1))
  return (s[n - 1]! - mean) / sd
}

/**
 * The pairs strategy by hand from bar `from` on (its windows start there): the bars it enters on and
 * leaves on, entries only where open(t). Orders fill at the next bar's open, before the next decision.
 */
function plainPairs(ly: Float64Array, lx: Float64Array, from: number, open: (t: number) => boolean, p = { entry: 2, exit: 0.5, stop: 4 }): { entries: number[]; exits: number[] } {
  const y = ly.subarray(from)
  const x = lx.subarray(from)
  const entries: number[] = []
  const exits: number[] = []
  let inTrade = false
  for (let t = 0; t < y.length; t++) {
    const z = plainZ(y, x, WINDOW, t)
    if (Number.isNaN(z)) continue
    const a = Math.abs(z)
    if (!inTrade) {
      if (a > p.entry && a <= p.stop && open(from + t)) {
        entries.push(from + t)
        inTrade = true
      }
    } else if (a < p.exit || a > p.stop) {
      exits.push(from + t)
      inTrade = false
    }
  }
  return { entries, exits }
}

/** CSV text → rows by header. */
function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split('\n')
  const names = head!.split(',')
  return lines.filter((l) => l !== '').map((line) => Object.fromEntries(line.split(',').map((v, k) => [names[k]!, v])))
}

/** Bar indices (into `time`) of the entry orders of a symbol in a run's orders.csv: created at the bar's close. */
function entryBars(files: Record<string, string>, symbol: string, time: Float64Array, side?: string): number[] {
  const at = new Map(Array.from(time, (t, i) => [t, i]))
  const trades = parseCsv(files['trades.csv']!).filter((t) => t.symbol === symbol)
  const orders = new Map(parseCsv(files['orders.csv']!).map((o) => [o.id!, o]))
  return trades.filter((t) => side === undefined || t.direction === side).map((t) => at.get(Date.parse(orders.get(t.entryOrderId!)!.createdAt!) - HOUR)!)
}

describe('modelProbabilities', () => {
  it('a pair model: the probabilities infer gives for the same bars, and the same on a prefix of the bars (causal)', async () => {
    expect(pairModels.length).toBe(2)
    const ref = `${pairModels[0]}@1`
    const p = await modelProbabilities(home, ref)
    expect(p.model).toBe(ref)
    expect(p.pair).toBeDefined()
    expect(p.timeframe).toBe('1h')
    const signals = await inferSignals(home, ref, 7)
    const last = Array.from(p.time.keys()).filter((i) => !Number.isNaN(p.probability[i]!)).slice(-7)
    expect(signals.map((s) => s.time)).toEqual(last.map((i) => new Date(p.time[i]!).toISOString()))
    signals.forEach((s, k) => expect(p.probability[last[k]!]).toBe(s.probability))
    // Warm-up: no probability before the features exist; most bars after have one.
    expect(p.probability[0]).toBeNaN()
    expect(Array.from(p.probability).filter((v) => !Number.isNaN(v)).length).toBeGreaterThan(1000)
    // The model scored on the first k bars only gives the same probability at each of those bars.
    const lineage = await modelLineage(home, ref)
    const bars = await modelBars(home, lineage)
    for (const k of [150, 600, 1100]) {
      const prefix = Object.fromEntries(Object.entries(bars).map(([s, b]) => [s, cut(b, k)]))
      const q = modelProbabilityColumn(lineage, modelFeatureTable(lineage, prefix))
      expect(q.length).toBe(k)
      for (let i = 0; i < k; i++) expect(Object.is(q[i], p.probability[i]) || q[i] === p.probability[i], `bar ${i} of a ${k}-bar prefix`).toBe(true)
    }
  })
})

function cut(b: Bars, k: number): Bars {
  return { symbol: b.symbol, timeframe: b.timeframe, time: b.time.slice(0, k), open: b.open.slice(0, k), high: b.high.slice(0, k), low: b.low.slice(0, k), close: b.close.slice(0, k), volume: b.volume.slice(0, k) }
}

describe('gatedBacktest', () => {
  it('pair model: entries only where p ≥ threshold, as a plain gated pairs machine finds them; the run tagged and linked', async () => {
    const ref = `${pairModels[0]}@1`
    const p = await modelProbabilities(home, ref)
    const [ySym, xSym] = p.pair!
    const { time, ly, lx } = await legs(ref)
    const from = p.probability.findIndex((v) => !Number.isNaN(v))
    // A threshold the probabilities at the ungated entries straddle: the median of theirs.
    const open = plainPairs(ly, lx, from, () => true).entries.map((i) => p.probability[i]!).sort((a, b) => a - b)
    const threshold = open[Math.floor(open.length / 2)]!
    const g = await gatedBacktest(home, { ref, probaThreshold: threshold })
    const files = resultFiles(g.result)
    const got = entryBars(files, ySym, time)
    expect(got.length).toBeGreaterThan(3)
    for (const i of got) expect(p.probability[i]!, `entry at bar ${i}`).toBeGreaterThanOrEqual(threshold)
    const plain = plainPairs(ly, lx, from, (t) => p.probability[t]! >= threshold)
    expect(got).toEqual(plain.entries)
    // Both legs enter together; the gate blocked some entries the ungated strategy takes.
    expect(entryBars(files, xSym, time)).toEqual(got)
    const ungated = entryBars(resultFiles(g.ungated), ySym, time)
    expect(ungated).toEqual(plainPairs(ly, lx, from, () => true).entries)
    expect(ungated.length).toBeGreaterThan(got.length)
    expect(g.gate.blocked).toBeGreaterThan(0)
    // The run: kind backtest, the model, its version and target; params; lineage to the train run.
    const run = new Tracker(home).getRun(g.runId!)
    expect(run.tags).toMatchObject({ 'mtflow.kind': 'backtest', 'mtflow.signals': pairModels[0], 'mtflow.signalsVersion': '1', 'mtflow.target': `${ySym}~${xSym}` })
    expect(run.params).toMatchObject({ probaThreshold: String(threshold), signalsFrom: ref, window: String(WINDOW) })
    expect(run.info.lineage.runs).toEqual([trainRun])
    expect(run.artifacts.map((a) => a.path).sort()).toEqual(['equity.parquet', 'factors.parquet', 'fills.parquet', 'orders.parquet', 'results.json', 'trades.parquet'])
    expect(run.metrics.sharpe!.value).toBeCloseTo(g.result.metrics.sharpe, 12)
    expect(run.metrics.ungated_sharpe!.value).toBeCloseTo(g.ungated.metrics.sharpe, 12)
  })

  it('threshold above 1: no trade; threshold 0: the ungated strategy\'s trades', async () => {
    const ref = `${pairModels[1]}@1`
    const none = await gatedBacktest(home, { ref, probaThreshold: 1.01, track: false })
    expect(none.result.strategies[0]!.trades.entryTime.length).toBe(0)
    expect(none.gate.blocked).toBeGreaterThan(0)
    expect(none.ungated.strategies[0]!.trades.entryTime.length).toBeGreaterThan(0)
    const all = await gatedBacktest(home, { ref, probaThreshold: 0, track: false })
    const strip = (csv: string) => csv.replace(/^[^,\n]*,/gm, '')
    expect(strip(resultFiles(all.result)['trades.csv']!)).toBe(strip(resultFiles(all.ungated)['trades.csv']!))
    expect(all.gate.blocked).toBe(0)
  })

  it('symbol model: long from the bar p ≥ threshold, flat from the bar p < threshold', async () => {
    const p = await modelProbabilities(home, symbolModel)
    expect(p.pair).toBeUndefined()
    const g = await gatedBacktest(home, { ref: symbolModel, probaThreshold: 0.55, track: false })
    const files = resultFiles(g.result)
    const from = p.probability.findIndex((v) => !Number.isNaN(v))
    // By hand: flat → long at a bar with p ≥ 0.55, long → flat at a bar with p < 0.55 (or NaN).
    const entries: number[] = []
    const exits: number[] = []
    let long = false
    for (let i = from; i < p.time.length; i++) {
      const on = p.probability[i]! >= 0.55
      if (on && !long) entries.push(i)
      if (!on && long) exits.push(i)
      long = on
    }
    expect(entries.length).toBeGreaterThan(3)
    expect(entryBars(files, 'SYN-SOLO', p.time)).toEqual(entries)
    const at = new Map(Array.from(p.time, (t, i) => [t, i]))
    const orders = parseCsv(files['orders.csv']!).filter((o) => o.tag === 'model off')
    expect(orders.map((o) => at.get(Date.parse(o.createdAt!) - HOUR))).toEqual(exits)
    // Ungated: bought at the first bar and held.
    expect(g.ungated.strategies[0]!.trades.entryTime.length).toBe(1)
  })

  it('a given strategy on a symbol model: entries gated, exits by sell or targetPercent(0) never', async () => {
    const p = await modelProbabilities(home, symbolModel)
    // Every 10th bar: enter 1 unit (buy, or targetPercent 10 %); 4 bars later leave (sell, or targetPercent 0).
    const cycle = (useTarget: boolean): Strategy => ({
      name: useTarget ? 'cycle-target' : 'cycle-orders',
      params: {},
      universe: (_p, r) => [{ symbol: r.symbols[0]!, timeframe: r.timeframe }],
      warmup: () => 1,
      onBar(ctx, bar) {
        const held = ctx.position(bar.symbol)
        if (bar.index % 10 === 0 && held === 0) {
          if (useTarget) ctx.targetPercent(bar.symbol, 0.1)
          else ctx.buy(bar.symbol, { qty: 1 })
        } else if (bar.index % 10 === 4 && held > 0) {
          if (useTarget) ctx.targetPercent(bar.symbol, 0)
          else ctx.sell(bar.symbol, { qty: held })
        }
      },
    })
    const from = p.probability.findIndex((v) => !Number.isNaN(v))
    // Entry bars by hand: every 10th bar (counted from the backtest's first bar) with p ≥ 0.5.
    const expected: number[] = []
    for (let i = from; i < p.time.length - 1; i++) if ((i - from) % 10 === 0 && p.probability[i]! >= 0.5) expected.push(i)
    expect(expected.length).toBeGreaterThan(5)
    expect(expected.length).toBeLessThan(Math.floor((p.time.length - from) / 10))
    for (const useTarget of [false, true]) {
      const g = await gatedBacktest(home, { ref: symbolModel, strategy: cycle(useTarget), probaThreshold: 0.5, track: false })
      const files = resultFiles(g.result)
      expect(entryBars(files, 'SYN-SOLO', p.time)).toEqual(expected)
      // Each position left 4 bars after it was entered: the closed gate never held an exit back.
      const trades = g.result.strategies[0]!.trades
      for (let k = 0; k < trades.barsHeld.length; k++) if (!trades.open[k]) expect(trades.barsHeld[k]).toBe(4)
      expect(trades.open.filter((o) => !o).length).toBeGreaterThanOrEqual(expected.length - 1)
    }
  })

  it('bad input: a run id, an unknown model, a bad threshold — one line, nothing written', async () => {
    const tracker = new Tracker(home)
    const before = tracker.summaries().length
    const someRun = tracker.summaries().find((s) => s.tags['mtflow.kind'] === 'backtest')!.info.runId
    await expect(gatedBacktest(home, { ref: someRun })).rejects.toThrow(`--signals-from ${someRun} is a backtest run; expected a registered model (NAME@VERSION or NAME@ALIAS)`)
    await expect(gatedBacktest(home, { ref: 'nosuch.model@1' })).rejects.toThrow('no model named "nosuch.model" in the registry')
    await expect(gatedBacktest(home, { ref: `${pairModels[0]}@9` })).rejects.toThrow(`model ${pairModels[0]} has no version 9 (versions: 1)`)
    await expect(gatedBacktest(home, { ref: `${pairModels[0]}@1`, probaThreshold: -1 })).rejects.toThrow('--proba-threshold must be a probability ≥ 0 (above 1 blocks every entry) (received -1)')
    await expect(gatedBacktest(home, { ref: `${pairModels[0]}@1`, params: { exit: 2.5 } })).rejects.toThrow(/^strategy pairs-zscore: thresholds must satisfy/)
    await expect(gatedBatch(home, { pattern: 'nosuch.*@1' })).rejects.toThrow('--signals-from nosuch.*@1: no registered model\'s name starts with "nosuch."')
    await expect(gatedBatch(home, { pattern: 'gt.*@champion' })).rejects.toThrow(`--signals-from gt.*@champion: ${pairModels.join(', ')} have no version or alias "champion"`)
    await expect(gatedBacktest(home, { ref: `${pairModels[0]}@1`, end: '2020-01-01' })).rejects.toThrow(/^start 2024-01-\d\dT\d\d:00:00.000Z is after end 2020-01-01$/)
    await expect(gatedBacktest(home, { ref: `${pairModels[0]}@1`, start: '2030-01-01' })).rejects.toThrow(/^no bars of SYN-[AB]Y 1h between 2030-01-01 and the end$/)
    await expect(gatedBacktest(home, { ref: symbolModel, strategy: 'pairs-zscore' })).rejects.toThrow('pairs-zscore trades exactly 2 symbols (received 1: SYN-SOLO)')
    // A batch whose second model is unknown: refused before the first one runs.
    await expect(gatedBatch(home, { refs: [`${pairModels[0]}@1`, 'nosuch.model@1'] })).rejects.toThrow('no model named "nosuch.model" in the registry')
    expect(tracker.summaries().length).toBe(before)
  })
})

describe('gatedBatch', () => {
  it('one child run per model under a backtest-batch parent; the summary rows are the children\'s metrics and the ungated strategy\'s on the same bars', async () => {
    const batch = await gatedBatch(home, { pattern: 'gt.*@1', probaThreshold: 0.5 })
    const tracker = new Tracker(home)
    const parent = tracker.getRun(batch.runId)
    expect(parent.tags['mtflow.kind']).toBe('backtest-batch')
    expect(parent.params).toMatchObject({ signalsFrom: 'gt.*@1', probaThreshold: '0.5', models: '2' })
    const children = tracker.childRuns(batch.runId)
    expect(children.map((c) => c.info.runId).sort()).toEqual(batch.rows.map((r) => r.runId).sort())
    expect(batch.rows.map((r) => r.model).sort()).toEqual(pairModels.map((m) => `${m}@1`).sort())
    // Best Sharpe first.
    expect(batch.rows[0]!.sharpe).toBeGreaterThanOrEqual(batch.rows[1]!.sharpe)
    const csv = parseCsv(runTableCsv(readRunTable(tracker, batch.runId, 'summary')!))
    expect(csv.map((r) => r.model)).toEqual(batch.rows.map((r) => r.model))
    for (const [k, row] of batch.rows.entries()) {
      const child = children.find((c) => c.info.runId === row.runId)!
      expect(child.tags).toMatchObject({ 'mtflow.kind': 'backtest', 'mtflow.target': row.target })
      for (const m of ['trades', 'totalReturn', 'cagr', 'sharpe', 'maxDrawdown', 'winRate', 'exposure'] as const) {
        expect(row[m], `${row.model} ${m}`).toBeCloseTo(child.metrics[m]!.value, 12)
        expect(Number(csv[k]![m])).toBeCloseTo(row[m], 9)
      }
      // The ungated numbers: pairs-zscore backtested here on the same bars (from the first bar with a probability).
      const p = await modelProbabilities(home, row.model)
      const from = p.time[p.probability.findIndex((v) => !Number.isNaN(v))]!
      const lineage = await modelLineage(home, row.model)
      const bars = await modelBars(home, lineage)
      const plain = backtest({ strategy: 'pairs-zscore', params: { window: WINDOW }, symbols: p.pair!, timeframe: '1h', data: bars, start: from })
      expect(row.ungated_sharpe).toBeCloseTo(plain.metrics.sharpe, 12)
      expect(row.ungated_trades).toBe(plain.metrics.trades!.trades)
      expect(row.ungated_totalReturn).toBeCloseTo(plain.metrics.totalReturn, 12)
    }
  })

  it('on an executor: each backtest a job that records its own child run; the same rows as in this thread', async () => {
    const here = await gatedBatch(home, { pattern: 'gt.*@1', probaThreshold: 0.5 })
    const executor = new LocalExecutor(2)
    const there = await gatedBatch(home, { pattern: 'gt.*@1', probaThreshold: 0.5, executor })
    await executor.close()
    const strip = (rows: typeof here.rows) => rows.map(({ runId: _r, ...rest }) => rest)
    expect(strip(there.rows)).toEqual(strip(here.rows))
    expect(there.children).toEqual([])
    // The jobs recorded the children, under the new parent, with the numbers of the rows.
    const tracker = new Tracker(home)
    const children = tracker.childRuns(there.runId)
    expect(children.map((c) => c.info.runId).sort()).toEqual(there.rows.map((r) => r.runId).sort())
    for (const row of there.rows) expect(children.find((c) => c.info.runId === row.runId)!.metrics.sharpe!.value).toBeCloseTo(row.sharpe, 12)
  })

  it('on an executor: a job whose lake holds other bars than the batch was planned on fails, naming the snapshot (no row of other bars)', async () => {
    // A copy of the workspace, whose lake gets new bars of both legs between the planning and the jobs (an
    // import landing while the batch waits in the queue, or a worker reading its own, other copy of the lake).
    const copy = mkdtempSync(join(tmpdir(), 'mtflow-gated-lake-'))
    cpSync(home, copy, { recursive: true })
    const planned = await gatedBatch(copy, { pattern: 'gt.*@1', probaThreshold: 0.5 })
    const inner = new LocalExecutor(1)
    const executor: Executor = {
      kind: 'local',
      describe: inner.describe,
      async run(batch) {
        const lineage = await modelLineage(copy, `${pairModels[0]}@1`)
        const bars = await modelBars(copy, lineage)
        for (const symbol of lineage.symbols) {
          const b = bars[symbol]!
          const n = 48
          const last = b.time.length - 1
          const time = Float64Array.from({ length: n }, (_, k) => b.time[last]! + (k + 1) * HOUR)
          const close = Float64Array.from({ length: n }, (_, k) => b.close[last]! * (1 + (k % 2 === 0 ? 0.02 : -0.015)))
          await ingestBars(copy, { symbol: b.symbol, timeframe: b.timeframe, time, open: close.slice(), high: close.map((c) => c * 1.001), low: close.map((c) => c * 0.999), close, volume: new Float64Array(n).fill(1) }, { source: 'synthetic' })
        }
        return inner.run(batch)
      },
      close: () => inner.close(),
    }
    let rows: typeof planned.rows | undefined
    let error: unknown
    try {
      rows = (await gatedBatch(copy, { pattern: 'gt.*@1', probaThreshold: 0.5, executor })).rows
    } catch (e) {
      error = e
    } finally {
      await executor.close()
      rmSync(copy, { recursive: true, force: true })
    }
    // Before: the rows of the bars the batch never planned on, silently (the parent run FINISHED).
    if (rows !== undefined) {
      const strip = (r: typeof planned.rows) => r.map(({ runId: _r, ...rest }) => rest)
      expect(strip(rows)).toEqual(strip(planned.rows))
    }
    expect(String(error)).toMatch(/lake at .* holds snapshot .* not the .* the batch was planned with/)
  })

  it('a gated-backtest job run twice (BullMQ delivers at least once: a retry after kill -9, a stalled job a second worker takes) records one child run', async () => {
    const tracker = new Tracker(home)
    const parent = tracker.startRun({ experiment: 'gated-twice', name: 'batch parent' })
    const context = { home, options: { probaThreshold: 0.5, experiment: 'gated-twice', parentRunId: parent.id } }
    const item = { ref: `${pairModels[0]}@1` }
    const first = await pipelineJobs.gatedBacktest!.run(undefined, item, context)
    const second = await pipelineJobs.gatedBacktest!.run(undefined, item, context)
    parent.end()
    expect(second.sharpe).toBe(first.sharpe)
    // Before: two FINISHED children of one model under the batch (a duplicated tracked backtest).
    expect(new Tracker(home).childRuns(parent.id).map((c) => c.info.status)).toEqual(['FINISHED'])
    expect(second).toEqual(first)
    // Two attempts at once (a stalled job's worker was only slow): one child kept, both rows naming it.
    const other = tracker.startRun({ experiment: 'gated-twice', name: 'batch parent 2' })
    const both = await Promise.all([0, 1].map(() => pipelineJobs.gatedBacktest!.run(undefined, item, { ...context, options: { ...context.options, parentRunId: other.id } })))
    other.end()
    const children = new Tracker(home).childRuns(other.id)
    expect(children.map((c) => c.info.status)).toEqual(['FINISHED'])
    expect(both.map((r) => r.runId)).toEqual([children[0]!.info.runId, children[0]!.info.runId])
    const { runId: _a, ...a } = both[0]!
    const { runId: _f, ...f } = first
    expect(a).toEqual(f)
  })
  it('a gated-backtest job run again after its child finished, once the lake has new bars, is that child\'s row (not a failed batch)', async () => {
    // The at-least-once retry the dedupe is for (a worker killed once the job had finished, a flow Redis lost and
    // the submitter sent again), after an import landed meanwhile: the earlier attempt's child was checked on the
    // planned bars and is the job's row. Before: the snapshot check ran first and failed the job — and the batch.
    const copy = mkdtempSync(join(tmpdir(), 'mtflow-gated-retry-'))
    cpSync(home, copy, { recursive: true })
    const inner = new LocalExecutor(1)
    const sent: { context: unknown; items: unknown[] }[] = []
    const executor: Executor = {
      kind: 'local',
      describe: inner.describe,
      run(batch) {
        sent.push({ context: batch.context, items: [...batch.items] })
        return inner.run(batch)
      },
      close: () => inner.close(),
    }
    try {
      const batch = await gatedBatch(copy, { pattern: 'gt.*@1', probaThreshold: 0.5, executor })
      const { context, items } = sent[0]!
      const item = items[0] as { ref: string }
      const row = batch.rows.find((r) => r.model === item.ref)!
      const lineage = await modelLineage(copy, item.ref)
      const bars = await modelBars(copy, lineage)
      for (const symbol of lineage.symbols) {
        const b = bars[symbol]!
        const n = 24
        const last = b.time.length - 1
        const time = Float64Array.from({ length: n }, (_, k) => b.time[last]! + (k + 1) * HOUR)
        const close = Float64Array.from({ length: n }, (_, k) => b.close[last]! * (1 + (k % 2 === 0 ? 0.01 : -0.01)))
        await ingestBars(copy, { symbol: b.symbol, timeframe: b.timeframe, time, open: close.slice(), high: close.map((c) => c * 1.001), low: close.map((c) => c * 0.999), close, volume: new Float64Array(n).fill(1) }, { source: 'synthetic' })
      }
      const again = await pipelineJobs.gatedBacktest!.run(undefined, item, context)
      expect(again).toEqual(row)
      expect(new Tracker(copy).childRuns(batch.runId).filter((c) => c.tags['mtflow.batchItem'] === item.ref).map((c) => c.info.status)).toEqual(['FINISHED'])
    } finally {
      await executor.close()
      rmSync(copy, { recursive: true, force: true })
    }
  })
})
