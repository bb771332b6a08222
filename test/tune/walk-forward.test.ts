// Walk-forward optimisation on the S&P 500 sample with a 2 × 2 grid per window: the windows cut as
// counted by hand, each window's winner equal to a brute-force search of independent in-sample backtests,
// the stitched out-of-sample equity equal to the chained independent out-of-sample backtests, and the
// overfitting statistics present and in range.

import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { readBarsCsv } from '../../lib/data/index.js'
import { defineStrategy, getStrategy, intParam } from '../../lib/strategy/index.js'
import { floatRange, gridSampler, intRange, tpeSplit, type Sampler, type StudyView } from '../../lib/tune/index.js'
import { walkForwardOptimize } from '../../lib/tune/walk-forward.js'
import { LocalExecutor } from '../../lib/exec/index.js'
import { sameBits } from '../helpers.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const spx = readBarsCsv(join(ROOT, 'data/samples/sp500-daily-2000-2020.csv'), { symbol: 'SPX', timeframe: '1d' })
const smaCross = getStrategy('sma-cross')

describe('walkForwardOptimize', () => {
  it('picks each window’s in-sample best, trades it out of sample and chains the results', async () => {
    const common = { data: { SPX: spx }, symbols: ['SPX'], timeframe: '1d', fills: { takerRate: 0.0005 }, cash: 100_000 }
    // Every metric of the report annualised alike: by the bars per year of the whole data (each window's own, before).
    const n0 = spx.time.length
    const ppy = (n0 - 1) / ((spx.time[n0 - 1]! - spx.time[0]!) / (365.25 * 86_400_000))
    const sharpe = (e: ArrayLike<number>) => {
      const r = Array.from({ length: e.length - 1 }, (_, i) => e[i + 1]! / e[i]! - 1)
      const m = r.reduce((a, b) => a + b, 0) / r.length
      return (m / Math.sqrt(r.reduce((a, b) => a + (b - m) ** 2, 0) / (r.length - 1))) * Math.sqrt(ppy)
    }
    const report = await walkForwardOptimize({
      ...common,
      strategy: smaCross,
      inSample: 1000,
      outOfSample: 500,
      space: { fast: intRange(5, 20, { step: 15 }), slow: intRange(50, 100, { step: 50 }) },
      sampler: () => gridSampler(),
      nTrials: 4,
      pboConfigs: 4,
      pboPartitions: 4,
    })
    const n = spx.time.length
    // Windows start at bar 1000 and step by 500 while a whole out-of-sample window fits.
    expect(report.windows).toHaveLength(Math.floor((n - 1000) / 500))
    expect(report.nTrials).toBe(4 * report.windows.length)
    let level = 100_000
    for (const [w, win] of report.windows.entries()) {
      const oosStart = 1000 + 500 * w
      expect(win.inSample).toEqual({ start: spx.time[oosStart - 1000], end: spx.time[oosStart - 1] })
      expect(win.outOfSample).toEqual({ start: spx.time[oosStart], end: spx.time[oosStart + 499] })
      // Brute force over the grid with independent backtests.
      let best = -Infinity
      let bestParams: Record<string, number> = {}
      for (const fast of [5, 20]) {
        for (const slow of [50, 100]) {
          const s = sharpe(backtest({ ...common, strategy: smaCross, params: { fast, slow }, ...win.inSample }).equity)
          if (s > best) {
            best = s
            bestParams = { fast, slow }
          }
        }
      }
      expect(win.params).toEqual(bestParams)
      expect(win.isMetric).toBeCloseTo(best, 12)
      // Out of sample: warm-up bars before the window, positions closed at its end, equity from the bar before it.
      const warm = oosStart - smaCross.warmup(bestParams as never)
      const r = backtest({ ...common, strategy: smaCross, params: bestParams, start: spx.time[warm], end: spx.time[oosStart + 499], closeAtEnd: true })
      const from = r.time.findIndex((t) => t >= spx.time[oosStart]!)
      level *= r.equity[r.equity.length - 1]! / r.equity[from - 1]!
      expect(win.oosMetric).toBeCloseTo(sharpe(r.equity.slice(from - 1)), 12)
    }
    expect(report.equity[report.equity.length - 1]).toBeCloseTo(level, 6)
    expect(report.periodsPerYear).toBe(ppy)
    expect(report.outOfSample.sharpe).toBeCloseTo(sharpe(report.equity), 12)
    expect(report.equity[0]).toBe(100_000)
    expect(report.time.length).toBe(report.equity.length)
    expect(report.deflatedSharpe!.nTrials).toBe(report.nTrials)
    expect(report.deflatedSharpe!.dsr).toBeGreaterThanOrEqual(0)
    expect(report.deflatedSharpe!.dsr).toBeLessThanOrEqual(1)
    expect(report.pbo!.pbo).toBeGreaterThanOrEqual(0)
    expect(report.pbo!.pbo).toBeLessThanOrEqual(1)
    expect(report.pbo!.logits).toHaveLength(6) // C(4, 2)
  })

  it('averages both metrics over the same windows: one with no out-of-sample trade (no Sharpe) is left out of both, and counted', async () => {
    const common = { data: { SPX: spx }, symbols: ['SPX'], timeframe: '1d', fills: { takerRate: 0.0005 }, cash: 1_000_000 }
    const report = await walkForwardOptimize({ ...common, strategy: smaCross, inSample: 750, outOfSample: 250, nTrials: 6, seed: 3, pboConfigs: 0, space: { fast: intRange(5, 40), slow: intRange(50, 200) } })
    // Some windows' winners never trade out of sample (a numbers audit found three of 17 here).
    const flat = report.windows.filter((w) => Number.isNaN(w.oosMetric))
    expect(flat.length).toBeGreaterThan(0)
    for (const w of flat) {
      const warm = spx.time.indexOf(w.outOfSample.start) - smaCross.warmup(w.params as never)
      const r = backtest({ ...common, strategy: smaCross, params: w.params, start: spx.time[warm], end: w.outOfSample.end, closeAtEnd: true })
      expect(r.strategies[0]!.trades.entryTime.filter((t) => t >= w.outOfSample.start)).toHaveLength(0)
      expect(Number.isFinite(w.isMetric)).toBe(true)
    }
    const kept = report.windows.filter((w) => !Number.isNaN(w.oosMetric))
    const avg = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length
    expect(report.oosUndefined).toBe(flat.length)
    expect(report.leftOut).toBe(flat.length)
    expect(report.isMean).toBeCloseTo(avg(kept.map((w) => w.isMetric)), 12)
    expect(report.oosMean).toBeCloseTo(avg(kept.map((w) => w.oosMetric)), 12)
    expect(report.efficiency).toBeCloseTo(avg(kept.map((w) => w.oosMetric)) / avg(kept.map((w) => w.isMetric)), 12)
  })

  it('refuses windows that do not fit', async () => {
    await expect(walkForwardOptimize({ data: { SPX: spx }, symbols: ['SPX'], timeframe: '1d', strategy: smaCross, inSample: 6000, outOfSample: 500 })).rejects.toThrow(/5\d{3} bars hold no window of 6000 in sample \+ 500 out of sample/)
    await expect(walkForwardOptimize({ data: { SPX: spx }, symbols: ['SPX'], timeframe: '1d', strategy: smaCross, inSample: 10, outOfSample: 500 })).rejects.toThrow(/inSample must be an integer number of bars ≥ 20 \(received 10\)/)
  })

  it('gives the same report, bit for bit, with its windows as jobs on worker threads', async () => {
    const options = { data: { SPX: spx }, symbols: ['SPX'], timeframe: '1d', fills: { takerRate: 0.0005 }, cash: 100_000, strategy: smaCross, inSample: 1000, outOfSample: 750, space: { fast: intRange(5, 30), slow: intRange(40, 150) }, seed: 7, nTrials: 6, pboConfigs: 6, pboPartitions: 4 }
    const here = await walkForwardOptimize(options)
    const executor = new LocalExecutor(2)
    const ticks: number[] = []
    const there = await walkForwardOptimize({ ...options, executor, progress: { update: (s) => ticks.push(s.done) } })
    expect(sameBits(there, here)).toBe('')
    expect(here.windows.length).toBeGreaterThan(3)
    // Progress counted trials as the windows came back, up to all of them.
    expect(ticks.at(-1)).toBe(here.nTrials)
    // A strategy object that is not a built-in cannot cross threads: said, not silently run here.
    await expect(walkForwardOptimize({ ...options, strategy: { ...smaCross, name: 'copy' }, executor })).rejects.toThrow('needs a built-in strategy or strategyFile')
    await expect(walkForwardOptimize({ ...options, sampler: () => gridSampler(), executor })).rejects.toThrow('takes a seed, not a sampler function')
  })
  it('prunes a set that never trades (TPE ranks it behind the scored ones) and counts it with the failed', async () => {
    // rsi-reversion entering below RSI 1 never trades on these bars: its Sharpe is NaN.
    const rsi = getStrategy('rsi-reversion')
    expect(backtest({ strategy: rsi, params: { lower: 1 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: spx } }).strategies[0]!.trades.entryTime.length).toBe(0)
    const studies: StudyView[] = []
    const sampler = (): Sampler => ({
      name: 'fixed',
      sampleIndependent(study, trial) {
        if (!studies.includes(study)) studies.push(study)
        return trial.number === 0 ? 1 : 30
      },
    })
    const report = await walkForwardOptimize({ data: { SPX: spx }, symbols: ['SPX'], timeframe: '1d', strategy: rsi, inSample: 1000, outOfSample: 1000, space: { lower: floatRange(1, 45) }, sampler, nTrials: 2 })
    expect(studies).toHaveLength(report.windows.length)
    for (const [w, study] of studies.entries()) {
      expect(study.trials.map((t) => t.state)).toEqual(['pruned', 'complete'])
      // TPE's split keeps the pruned trial, ranked behind the complete one.
      const split = tpeSplit(study.trials, 'maximize', 1)
      expect(split.scored.map((t) => t.number)).toEqual([0, 1])
      expect([...split.below]).toEqual([0, 1])
      expect(report.windows[w]!.failedTrials).toBe(1)
      expect(report.windows[w]!.params).toEqual({ lower: 30 })
    }
  })

  it('a +Infinity metric is a score, not a failure (a Sortino with no down period)', async () => {
    // Buy and hold on a series that rises every bar: no down period, Sortino +Infinity in every window.
    const n = 3000
    const rising = { symbol: 'UP', timeframe: '1d', time: Float64Array.from({ length: n }, (_, i) => Date.UTC(2000, 0, 1) + i * 86_400_000), open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n).fill(1e6) }
    for (let i = 0; i < n; i++) {
      rising.open[i] = 100 * 1.001 ** i
      rising.close[i] = 100 * 1.001 ** (i + 0.5)
      rising.high[i] = rising.close[i]!
      rising.low[i] = rising.open[i]!
    }
    const hold = defineStrategy<{ k: number }>({
      name: 'hold',
      params: { k: intParam(1, 1, 10, 'unused') },
      universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
      warmup: () => 1,
      onBar(ctx, bar) {
        if (ctx.position(bar.symbol) === 0) ctx.buy(bar.symbol)
      },
    })
    const report = await walkForwardOptimize({ data: { UP: rising }, symbols: ['UP'], timeframe: '1d', strategy: hold, inSample: 1000, outOfSample: 1000, metric: 'sortino', nTrials: 3, seed: 1 })
    expect(report.windows.length).toBeGreaterThan(0)
    for (const w of report.windows) {
      expect(w.isMetric).toBe(Infinity)
      expect(w.failedTrials).toBe(0)
    }
    // Every window traded out of sample: none counted as without a trade (a review: +Infinity was counted so); all
    // are left out of the means, which cannot average an infinity.
    expect(report.windows.every((w) => w.oosMetric === Infinity)).toBe(true)
    expect(report.oosUndefined).toBe(0)
    expect(report.leftOut).toBe(report.windows.length)
  })
})
