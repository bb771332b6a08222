// Meta-labelling on real data: a gate that skips chosen entries leaves exactly the other trades of the
// ungated run; sizing scales quantities; the recorded labels are the ungated trades' P&L signs; bet sizes
// at hand-computed probabilities; and the whole evaluation with an oracle feature (the entry's own future
// outcome) keeps exactly the out-of-sample entries that paid.

import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { readBarsCsv, readEuStocks } from '../../lib/data/index.js'
import { DecisionTreeClassifier } from '../../lib/ml/index.js'
import { getStrategy } from '../../lib/strategy/index.js'
import { betSize, gateEntries, metaLabelEvaluation, recordEntries, type EntryGate } from '../../lib/tune/meta-label.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const spx = readBarsCsv(join(ROOT, 'data/samples/sp500-daily-2000-2020.csv'), { symbol: 'SPX', timeframe: '1d' })
const eu = Object.fromEntries(readEuStocks(join(ROOT, 'data/samples/eustockmarkets-1991-1998.csv')).map((b) => [b.symbol, b]))
const smaCross = getStrategy('sma-cross')
const pairs = getStrategy('pairs-zscore')
const base = { data: { SPX: spx }, symbols: ['SPX'], timeframe: '1d', params: { fast: 10, slow: 30 }, fills: { takerRate: 0.0005 }, cash: 1_000_000 }

describe('gateEntries', () => {
  it('skipping every other entry leaves exactly the other trades of the ungated run', () => {
    const plain = backtest({ ...base, strategy: smaCross }).strategies[0]!.trades
    let n = 0
    const gate: EntryGate = { decide: () => (n++ % 2 === 0 ? { multiplier: 1, reason: 'even' } : { multiplier: 0, reason: 'odd' }) }
    const gated = backtest({ ...base, strategy: gateEntries(smaCross, gate) })
    const trades = gated.strategies[0]!.trades
    const expected = Array.from(plain.entryTime).filter((_, i) => i % 2 === 0)
    expect(plain.entryTime.length).toBeGreaterThan(50)
    expect(Array.from(trades.entryTime)).toEqual(expected)
    expect(Array.from(trades.exitTime)).toEqual(Array.from(plain.exitTime).filter((_, i) => i % 2 === 0))
    // Prices to 1e-12 relative: a fill's average price is Σ q·p / Σ q, which rounds with the quantity.
    Array.from(plain.entryPrice).filter((_, i) => i % 2 === 0).forEach((p, i) => expect(Math.abs(trades.entryPrice[i]! / p - 1)).toBeLessThan(1e-12))
    expect(gated.strategies[0]!.log.filter((l) => l.includes('entry skipped: odd')).length).toBe(plain.entryTime.length - expected.length)
  })

  it('sizes entries by the multiplier (pairs: both legs), and refuses to size orders the strategy did not size', () => {
    const opts = { data: eu, symbols: ['DAX', 'CAC'], timeframe: '1d', params: { window: 60, entry: 2, exit: 0.5, stop: 4 }, cash: 1_000_000 }
    const plain = backtest({ ...opts, strategy: pairs }).strategies[0]!.trades
    const half = backtest({ ...opts, strategy: gateEntries(pairs, { decide: () => ({ multiplier: 0.5, reason: 'half' }) }) }).strategies[0]!.trades
    // The first entry of each run: same bar, half the quantity on both legs (equity is the same then).
    expect(half.entryTime[0]).toBe(plain.entryTime[0])
    expect(half.qty[0]).toBeCloseTo(plain.qty[0]! / 2, 9)
    expect(half.qty[1]).toBeCloseTo(plain.qty[1]! / 2, 9)
    expect(() => backtest({ ...base, strategy: gateEntries(smaCross, { decide: () => ({ multiplier: 0.5, reason: '' }) }) })).toThrow(/sizing by the model needs a strategy that sizes its own entries/)
  })
})

describe('meta-labels', () => {
  it('bet size 2Φ((p − ½)/√(p(1 − p))) − 1 at hand-computed points', () => {
    expect(betSize(0.5)).toBe(0)
    expect(betSize(0.3)).toBe(0)
    // p = 0.6: z = 0.1/√0.24 = 0.204124; Φ(z) = 0.580872 → 0.161744. p = 0.8: z = 0.75, Φ = 0.773373 → 0.546745.
    expect(betSize(0.6)).toBeCloseTo(0.161744, 5)
    expect(betSize(0.8)).toBeCloseTo(0.546745, 5)
  })

  it('records one entry per decision, labelled by the sign of its trades’ P&L', () => {
    const plain = backtest({ ...base, strategy: smaCross }).strategies[0]!.trades
    const { entries } = recordEntries({ ...base, strategy: smaCross, features: (ctx) => ({ t: ctx.time }) })
    const closed = Array.from(plain.pnl).filter((_, i) => plain.open[i] !== true)
    expect(entries.filter((e) => Number.isFinite(e.exitTime)).map((e) => e.label)).toEqual(closed.map((p) => (p > 0 ? 1 : 0)))
    expect(entries.filter((e) => Number.isFinite(e.exitTime)).map((e) => e.pnl)).toEqual(closed)
  })

  it('with an oracle feature, keeps exactly the out-of-sample entries that paid', async () => {
    // The oracle: the entry's own outcome, read from an ungated run (the future, on purpose).
    const plain = backtest({ ...base, strategy: smaCross }).strategies[0]!.trades
    const outcome = new Map<number, number>()
    const { entries } = recordEntries({ ...base, strategy: smaCross, features: (ctx) => ({ t: ctx.time }) })
    entries.forEach((e) => outcome.set(e.time, e.label))
    const report = await metaLabelEvaluation({
      ...base,
      strategy: smaCross,
      features: (ctx) => ({ oracle: outcome.get(ctx.time) ?? 0, noise: (ctx.time / 86_400_000) % 7 }),
      model: () => new DecisionTreeClassifier({ maxDepth: 2 }),
      split: '2012-01-01',
    })
    const split = Date.parse('2012-01-01')
    expect(report.splitTime).toBe(split)
    // Both runs cover the whole data and agree before the split; after it, the model keeps only the
    // entries that paid in the ungated run.
    const entered = (t: typeof plain, keep: (i: number) => boolean) => Array.from(t.entryTime).filter((_, i) => t.open[i] !== true && keep(i))
    const kept = report.gated.strategies[0]!.trades
    expect(entered(kept, (i) => kept.entryTime[i]! < split)).toEqual(entered(plain, (i) => plain.entryTime[i]! < split))
    expect(entered(kept, (i) => kept.entryTime[i]! >= split)).toEqual(entered(plain, (i) => plain.entryTime[i]! >= split && plain.pnl[i]! > 0))
    expect(report.without.trades).toBe(entered(plain, (i) => plain.entryTime[i]! >= split).length)
    expect(report.with.trades).toBe(entered(plain, (i) => plain.entryTime[i]! >= split && plain.pnl[i]! > 0).length)
    // The out-of-sample metrics are those of the equity from the split (the last value before it as the base).
    const from = report.baseline.time.findIndex((t) => t >= split)
    const e = report.baseline.equity
    expect(report.without.totalReturn).toBeCloseTo(e[e.length - 1]! / e[from - 1]! - 1, 12)
    expect(report.with.maxDrawdown).toBeLessThan(report.without.maxDrawdown)
    expect(report.with.sharpe).toBeGreaterThan(report.without.sharpe)
    expect(report.test.accuracy).toBe(1)
    expect(report.train.entries).toBe(entries.filter((e) => e.exitTime < split).length)
    expect(plain.entryTime.length).toBeGreaterThan(report.test.entries)
  })

  it('reads a split given as text with parseTime: no offset is UTC whatever TZ says (review 24, finding 2)', async () => {
    const zone = process.env.TZ
    process.env.TZ = 'America/New_York'
    try {
      const options = { ...base, strategy: smaCross, features: (ctx: { time: number }) => ({ d: (ctx.time / 86_400_000) % 7 }), model: () => new DecisionTreeClassifier({ maxDepth: 2 }) }
      // 2012-01-01 is 15,340 days after 1970-01-01 (42 × 365 + 10 leap days): 1,325,376,000,000 ms.
      // Date.parse read "2012-01-01 00:00" in New York, 5 h later.
      expect((await metaLabelEvaluation({ ...options, split: '2012-01-01 00:00' })).splitTime).toBe(1_325_376_000_000)
      expect((await metaLabelEvaluation({ ...options, split: '1325376000' })).splitTime).toBe(1_325_376_000_000)
      await expect(metaLabelEvaluation({ ...options, split: '2012' })).rejects.toThrow('split "2012" is not a date/time; write 2012-01-01, or an epoch number of 9 or more digits; or a fraction of the entries in (0, 1)')
    } finally {
      if (zone === undefined) delete process.env.TZ
      else process.env.TZ = zone
    }
  })
})
