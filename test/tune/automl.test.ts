// AutoML for meta-labelling: the entry features on a hand-worked series; label windows in entry rows;
// the CV value of the winner recomputed here with a brute-force purge and a pairwise AUC; the holdout
// kept out of the search; an oracle feature group found and judged perfect out of sample; the same seed
// giving the same search; and bad input refused by name.

import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LocalExecutor } from '../../lib/exec/index.js'
import { describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { readBarsCsv } from '../../lib/data/index.js'
import { createModel } from '../../lib/ml/index.js'
import { defineStrategy, eachSymbol, getStrategy } from '../../lib/strategy/index.js'
import { automl, barFeatures, FeatureCatalog, labelEnds, recordEntries, type EntryRecord } from '../../lib/tune/index.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const spx = readBarsCsv(join(ROOT, 'data/samples/sp500-daily-2000-2020.csv'), { symbol: 'SPX', timeframe: '1d' })
const base = { data: { SPX: spx }, symbols: ['SPX'], timeframe: '1d', fills: { takerRate: 0.0005 } }
const smaCross = getStrategy('sma-cross')

describe('entry features', () => {
  it('equal the hand-worked values on a seven-bar series (windows shrink to the bars there are)', () => {
    const close = [100, 101, 103, 102, 104, 108, 107]
    const volume = [10, 20, 30, 40, 50, 60, 70]
    const f = barFeatures(close, volume, ['momentum', 'trend', 'volatility', 'reversion', 'volume'], 'sell')
    const mean = 725 / 7
    const sd = (xs: number[]) => {
      const m = xs.reduce((a, b) => a + b, 0) / xs.length
      return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))
    }
    const lr = close.slice(1).map((c, i) => Math.log(c / close[i]!))
    expect(f.side).toBe(-1)
    expect(f.ret5).toBeCloseTo(107 / 101 - 1, 15)
    expect(f.ret20).toBeCloseTo(0.07, 15)
    expect(f.ret60).toBeCloseTo(0.07, 15)
    expect(f.sma50Gap).toBeCloseTo(107 / mean - 1, 15)
    expect(f.sma200Gap).toBeCloseTo(107 / mean - 1, 15)
    expect(f.vol20).toBeCloseTo(sd(lr), 14)
    expect(f.volRatio).toBeCloseTo(sd(lr.slice(1)) / sd(lr), 13)
    expect(f.z20).toBeCloseTo((107 - mean) / sd(close), 13)
    // Moves +1 +2 −1 +2 +4 −1: gains 9, losses 2.
    expect(f.rsi14).toBeCloseTo((100 * 9) / 11, 12)
    expect(f.range20).toBeCloseTo(7 / 8, 15)
    expect(f.volume20).toBeCloseTo(Math.log(70 / 40), 15)
    // Flat or too short: the neutral values, never NaN.
    expect(barFeatures([50], [0], ['volatility', 'reversion', 'volume'])).toEqual({ side: 1, vol20: 0, volRatio: 1, z20: 0, rsi14: 50, range20: 0.5, volume20: 0 })
  })

  it('label windows in entry rows: the last entry that starts no later than the exit', () => {
    const e = (time: number, exitTime: number) => ({ time, exitTime }) as EntryRecord
    expect(Array.from(labelEnds([e(1, 2), e(3, 7), e(5, 6), e(7, 9), e(10, 11)]))).toEqual([0, 3, 2, 3, 4])
  })
})

/** AUC as the share of (winner, loser) pairs the score orders right, ties half. */
function pairwiseAuc(y: number[], p: number[]): number {
  let good = 0
  let pairs = 0
  for (let i = 0; i < y.length; i++) {
    for (let j = 0; j < y.length; j++) {
      if (y[i] !== 1 || y[j] !== 0) continue
      pairs++
      good += p[i]! > p[j]! ? 1 : p[i] === p[j] ? 0.5 : 0
    }
  }
  return good / pairs
}

describe('automl', () => {
  it("the winner's CV value is the mean AUC over purged folds, recomputed here by brute force; the holdout stays out of the search", async () => {
    const report = await automl({ ...base, strategies: [smaCross], families: ['tree', 'logistic'], budget: 8, folds: 4, embargo: 2, holdout: 0.25, seed: 3 })
    const r = report.results[0]!
    expect(report.best).toBe(0)
    expect(r.trials).toBe(8)
    // The entries, recorded independently: closed ones, the cut at the entry 75 % of the way.
    const catalog = new FeatureCatalog(undefined)
    const closed = recordEntries({ ...base, strategy: smaCross, features: catalog.features() }).entries.filter((e) => Number.isFinite(e.exitTime))
    const cut = closed[Math.floor(0.75 * closed.length)]!.time
    const searched = closed.filter((e) => e.time < cut && e.exitTime < cut)
    expect([r.entries, r.searched, r.heldOut]).toEqual([closed.length, searched.length, closed.filter((e) => e.time >= cut).length])
    expect(r.holdout!.start).toBe(cut)
    // Folds: 4 contiguous blocks; training drops entries whose [time, exit] meets the block's span, and the 2 after the span.
    const best = r.best!
    const cols = best.columns
    const n = searched.length
    const sizes = [0, 1, 2, 3].map((k) => Math.floor(n / 4) + (k < n % 4 ? 1 : 0))
    let from = 0
    const aucs: number[] = []
    for (const size of sizes) {
      const test = searched.slice(from, from + size)
      const spanEnd = Math.max(...test.map((e) => e.exitTime))
      // The embargo: the 2 entries after the last one that starts within the test entries' span.
      const spanRow = searched.reduce((last, e, i) => (e.time <= spanEnd ? i : last), -1)
      const train = searched.filter((e, i) => (i < from || i > spanRow + 2) && (e.exitTime < test[0]!.time || e.time > spanEnd))
      from += size
      const X = (rows: EntryRecord[]) => ({ X: Float64Array.from(rows.flatMap((e) => cols.map((c) => e.features[c]!))), rows: rows.length, columns: cols })
      const model = createModel(best.family, 'classification', best.options)
      await model.fit({ ...X(train), y: train.map((e) => e.label) })
      const positive = model.toJSON().classes!.indexOf(1)
      const proba = model.predictProba(X(test))
      const p = test.map((_, i) => proba[i * 2 + positive]!)
      const y = test.map((e) => e.label)
      if (y.includes(0) && y.includes(1)) aucs.push(pairwiseAuc(y, p))
    }
    expect(best.cv.folds).toBe(4)
    expect(best.value).toBeCloseTo(aucs.reduce((a, b) => a + b, 0) / aucs.length, 12)
    expect(best.cv.rocAuc).toBe(best.value)
    // The leaderboard: one row per family tried, best first, the winner on top.
    expect(r.leaderboard[0]!.trial).toBe(best.trial)
    expect(r.leaderboard.every((row, i) => i === 0 || row.value <= r.leaderboard[i - 1]!.value)).toBe(true)
    // The refitted winner is trained on the searched entries only.
    expect(r.training!.rows).toBe(searched.length)
  })

  it('finds an oracle feature group, and out of sample the model keeps exactly the entries that paid', async () => {
    // The oracle: each entry's own outcome, from an ungated run (the future, on purpose).
    const outcome = new Map<number, number>()
    for (const e of recordEntries({ ...base, strategy: smaCross, features: () => ({}) }).entries) outcome.set(e.time, e.label)
    const report = await automl({
      ...base,
      strategies: [smaCross],
      families: ['tree'],
      features: { oracle: (ctx) => ({ paid: outcome.get(ctx.time) ?? 0 }), noise: (ctx) => ({ weekday: new Date(ctx.time).getUTCDay() }) },
      groups: ['oracle', 'noise'],
      budget: 12,
      sampler: 'random',
      seed: 5,
    })
    const r = report.results[0]!
    expect(r.best!.groups).toContain('oracle')
    expect(r.best!.columns).toEqual(r.best!.groups.length === 2 ? ['side', 'paid', 'weekday'] : ['side', 'paid'])
    expect(r.best!.value).toBe(1)
    expect(r.holdout!.rocAuc).toBe(1)
    expect(r.holdout!.accuracy).toBe(1)
    // The gated run after the cut: only the ungated run's winners.
    const plain = backtest({ ...base, strategy: smaCross }).strategies[0]!.trades
    const after = Array.from(plain.entryTime.keys()).filter((i) => plain.entryTime[i]! >= r.holdout!.start && plain.open[i] !== true)
    expect(r.holdout!.without.trades).toBe(after.length)
    expect(r.holdout!.with.trades).toBe(after.filter((i) => plain.pnl[i]! > 0).length)
    expect(r.holdout!.with.sharpe).toBeGreaterThan(r.holdout!.without.sharpe)
  })

  it('cross-validates trials as jobs on an executor: one at a time or in waves, the same search as in this thread', async () => {
    const options = { ...base, strategies: [smaCross], families: ['tree', 'logistic'], budget: 6, folds: 4, embargo: 2, seed: 4 }
    const here = await automl(options)
    const executor = new LocalExecutor(2)
    const one = await automl({ ...options, executor, workers: 1 })
    const strip = (r: typeof here) => r.results.map((x) => ({ best: x.best, leaderboard: x.leaderboard, trials: x.trials, failed: x.failedTrials, holdout: x.holdout }))
    expect(strip(one)).toEqual(strip(here))
    // A random sampler draws the same trials whatever it has seen: waves of 3 run the same search.
    const random = { ...options, sampler: 'random' as const }
    const waves = await automl({ ...random, executor, workers: 3 })
    expect(waves.results[0]!.trials).toBe(6)
    expect(strip(waves)).toEqual(strip(await automl(random)))
    await executor.close()
  })

  it('the same seed gives the same search; too few entries is a skipped row, not an error', async () => {
    const run = () => automl({ ...base, strategies: [smaCross, { strategy: getStrategy('rsi-reversion'), name: 'rsi' }], families: ['tree', 'gbt'], budget: 5, seed: 9 })
    const [a, b] = [await run(), await run()]
    expect(a.results[0]!.best).toEqual(b.results[0]!.best)
    expect(a.results[0]!.leaderboard).toEqual(b.results[0]!.leaderboard)
    expect(a.results[1]!.name).toBe('rsi')
    expect(a.results[1]!.skipped).toMatch(/^\d+ entries to search \(20 at least\)$/)
    expect(a.best).toBe(0)
  })

  it('a strategy whose first entry is held across every fold is skipped, naming the fold', async () => {
    // On A: one long held from the first bar to the last but one; on B: in for 5 bars, out for 5. The first
    // entry's holding period covers every other entry, so the fold holding it has nothing left to train on.
    const hold = defineStrategy<Record<string, never>>({
      name: 'hold-and-flip',
      params: {},
      universe: eachSymbol,
      warmup: () => 1,
      onBar(ctx, bar) {
        if (bar.symbol === 'A') {
          if (bar.index === 0) ctx.buy('A', { percent: 0.5 })
          if (bar.index === 1500) ctx.close('A')
        } else if (bar.index % 10 === 1) ctx.buy('B', { percent: 0.4 })
        else if (bar.index % 10 === 6) ctx.close('B')
      },
    })
    const a = { ...spx, symbol: 'A', time: spx.time.subarray(0, 1502), open: spx.open.subarray(0, 1502), high: spx.high.subarray(0, 1502), low: spx.low.subarray(0, 1502), close: spx.close.subarray(0, 1502), volume: spx.volume.subarray(0, 1502) }
    const report = await automl({ data: { A: a, B: { ...a, symbol: 'B' } }, symbols: ['A', 'B'], timeframe: '1d', strategies: [hold], families: ['tree'], budget: 2, holdout: 0 })
    expect(report.results[0]!.skipped).toBe('fold 1 of 5 has no training entries left after purging (the entries\' holding periods overlap it): use fewer folds')
    expect(report.best).toBeUndefined()
  })

  it('refuses bad input by name', async () => {
    const bad = (o: Record<string, unknown>) => automl({ ...base, strategies: [smaCross], budget: 2, ...o })
    await expect(bad({ families: ['tree', 'svm'] })).rejects.toThrow('unknown model family "svm" (known: tree, forest, gbt, logistic, ridge)')
    await expect(bad({ families: ['ridge'] })).rejects.toThrow('ridge is a regressor; automl classifies entries (paid or not): use tree, forest, gbt, logistic')
    await expect(bad({ budget: 0 })).rejects.toThrow('budget must be an integer ≥ 1 trials per strategy (received 0)')
    await expect(bad({ groups: ['momentum', 'astrology'] })).rejects.toThrow('unknown feature group "astrology" (known: momentum, trend, volatility, reversion, volume)')
    await expect(bad({ features: { trend: () => ({ x: 1 }) } })).rejects.toThrow('feature group "trend" is built in: give yours another name')
    await expect(bad({ holdout: 1 })).rejects.toThrow('holdout must be a fraction in [0, 1) of the entries (received 1)')
    await expect(bad({ metric: 'sharpe' })).rejects.toThrow('metric must be one of rocAuc, logLoss, accuracy, f1 (received "sharpe")')
  })
})
