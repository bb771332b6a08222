// Sweeps: the table against backtests of each set run one by one in the test, the same table with
// 1 and 2 workers and with a memo too small to hold a row (blocked execution order); the memo's
// least-recently-used eviction and the execution order by hand.

import { describe, expect, it } from 'vitest'
import { executionOrder, strategySignals, sweep, sweepMetrics, vectorBacktest } from '../../lib/backtest/index.js'
import { observedPeriodsPerYear } from '../../lib/backtest/results.js'
import { readBarsCsv } from '../../lib/data/index.js'
import { indicator as findIndicator } from '../../lib/indicators/index.js'
import { crossing, getStrategy, indicatorCache, indicatorSource, signalFlags } from '../../lib/strategy/index.js'
import { SAMPLE_CSV } from '../helpers.js'

const spx = readBarsCsv(SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
const n = spx.close.length
const grid = { fast: [3, 5, 8], slow: [20, 30, 40, 50, 60, 70] }

describe('sweep', () => {
  it('gives each set the metrics of its own backtest, in grid order, whatever the memo or the workers', async () => {
    const ppy = observedPeriodsPerYear(spx.time)
    const expected = grid.fast.flatMap((fast) =>
      grid.slow.map((slow) => {
        const signals = strategySignals(getStrategy('sma-cross'), { fast, slow }, spx)!
        const r = vectorBacktest({ open: spx.open, close: spx.close, ...signals }, { cash: 100_000, commission: 0.0005, size: { percent: 1 } }, { record: false })
        return { params: { fast, slow, short: 0 }, metrics: sweepMetrics(r, ppy) }
      }),
    )
    // Room for 6 series: blocks of 2 slow values (fit − 4), so the sets run out of grid order.
    const small = 6 * 8 * n
    for (const options of [{ workers: 1 }, { workers: 1, cacheBytes: small }, { workers: 2, cacheBytes: small }, { workers: 2 }]) {
      const result = await sweep('sma-cross', grid, spx, { ...options, commission: 0.0005 })
      expect(result.rows).toEqual(expected)
    }
  })

  it('checks the vectorized form against the event-driven one first: a strategy whose two forms disagree is swept event-driven, and says so (a new-user check: a failed parity check, then vector numbers)', async () => {
    const base = getStrategy('sma-cross')
    // Its signals a bar late on the fast SMA: not what its onBar does.
    const skewed = { ...base, name: 'skewed', signals: (p: { fast: number; slow: number; short: number }, bars: Parameters<NonNullable<typeof base.signals>>[1], indicator: Parameters<NonNullable<typeof base.signals>>[2]) => base.signals!({ ...p, fast: p.fast + 1 }, bars, indicator) }
    const small = { fast: [5], slow: [30, 40] }
    const result = await sweep(skewed, small, spx, { commission: 0.0005 })
    expect(result.engine).toBe('event')
    expect(result.engineNote).toMatch(/^the vectorized form of skewed disagrees with its event-driven one on these bars with \{"fast":5,"slow":30,"short":0\} \(\d+ trades against \d+\): swept with the event-driven engine$/)
    // The rows are the event-driven engine's: those of sma-cross itself swept event-driven.
    const event = await sweep('sma-cross', small, spx, { commission: 0.0005, engine: 'event' })
    expect(result.rows).toEqual(event.rows)
    // Asked for the vector engine: its rows, with the note.
    const vector = await sweep(skewed, small, spx, { commission: 0.0005, engine: 'vector' })
    expect(vector.engine).toBe('vector')
    expect(vector.engineNote).toMatch(/: the rows are the vectorized engine's, as asked$/)
    // A strategy whose forms agree: vectorized, no note.
    const agreeing = await sweep('sma-cross', small, spx, { commission: 0.0005 })
    expect(agreeing.engine).toBe('vector')
    expect(agreeing.engineNote).toBeUndefined()
  })

  it('checks the two forms on the whole series when the last 50,000 bars hold too few trades to tell (a review: both making no trade agreed)', async () => {
    // 10,000 bars of the S&P sample's closes cycled, then 50,000 flat bars: no cross in the tail.
    const n = 60_000
    const close = new Float64Array(n)
    for (let i = 0; i < n; i++) close[i] = i < 10_000 ? spx.close[i % spx.close.length]! : spx.close[9_999 % spx.close.length]!
    const long = { symbol: 'L', timeframe: '1m', time: Float64Array.from({ length: n }, (_, i) => Date.UTC(2024, 0, 1) + i * 60_000), open: close.slice(), high: close.slice(), low: close.slice(), close, volume: new Float64Array(n).fill(1) }
    const base = getStrategy('sma-cross')
    const skewed = { ...base, name: 'skewed', signals: (p: { fast: number; slow: number; short: number }, bars: Parameters<NonNullable<typeof base.signals>>[1], indicator: Parameters<NonNullable<typeof base.signals>>[2]) => base.signals!({ ...p, fast: p.fast + 1 }, bars, indicator) }
    const result = await sweep(skewed, { fast: [5], slow: [30] }, long, { commission: 0.0005 })
    expect(result.engine).toBe('event')
    expect(result.engineNote).toMatch(/disagrees with its event-driven one/)
  })

  it('refuses a negative memo size', async () => {
    await expect(sweep('sma-cross', grid, spx, { cacheBytes: -1 })).rejects.toThrow('maxBytes must be a number ≥ 0 (received -1)')
  })
})

describe('executionOrder', () => {
  const sets = [1, 2].flatMap((a) => [10, 20, 30, 40].map((b) => ({ a, b })))
  it('takes the last axis in blocks that fit, each block over the other axes', () => {
    // Room for 6 series of 10 bars → blocks of 2 values of b.
    expect(executionOrder(sets, ['a', 'b'], 6 * 8 * 10, 10)).toEqual([0, 1, 4, 5, 2, 3, 6, 7])
  })
  it('keeps grid order when the last axis fits, or for one axis', () => {
    expect(executionOrder(sets, ['a', 'b'], 8 * 8 * 10, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(executionOrder(sets, ['b'], 0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })
})

describe('indicatorCache', () => {
  it('drops the least recently used result past its size, and counts what it computed', () => {
    const cache = indicatorCache(2 * 8 * n)
    const source = indicatorSource(spx, cache)
    const a = source('sma', { period: 5 })
    source('sma', { period: 6 })
    expect(source('sma', { period: 5 })).toBe(a) // a hit, now the most recent
    source('sma', { period: 7 }) // evicts period 6
    expect(cache.computed).toBe(3)
    expect([...cache.entries.keys()]).toEqual(['sma|{"period":5}', 'sma|{"period":7}'])
    expect(cache.bytes).toBe(2 * 8 * n)
    source('sma', { period: 6 })
    expect(cache.computed).toBe(4)
    expect(source('sma', { period: 5 }).value).toEqual(findIndicator('sma').compute(spx, { period: 5 }).value)
  })

  it('computes each slow SMA once and each fast SMA at most once per block in a blocked sweep', () => {
    const cache = indicatorCache(6 * 8 * n)
    const source = indicatorSource(spx, cache)
    const sets = grid.fast.flatMap((fast) => grid.slow.map((slow) => ({ fast, slow })))
    const computed = new Map<string, number>()
    for (const k of executionOrder(sets, ['fast', 'slow'], cache.maxBytes, n)) {
      const before = new Set(cache.entries.keys())
      strategySignals(getStrategy('sma-cross'), sets[k]!, spx, source)
      for (const key of cache.entries.keys()) if (!before.has(key)) computed.set(key, (computed.get(key) ?? 0) + 1)
    }
    for (const slow of grid.slow) expect(computed.get(`sma|{"period":${slow}}`)).toBe(1)
    // 6 slow values in blocks of 2: three blocks.
    for (const fast of grid.fast) expect(computed.get(`sma|{"period":${fast}}`)).toBeLessThanOrEqual(3)
    expect(cache.computed).toBe([...computed.values()].reduce((a, b) => a + b, 0))
    // In grid order the same memo recomputes the slow SMAs of every row.
    const plain = indicatorCache(6 * 8 * n)
    const inOrder = indicatorSource(spx, plain)
    for (const set of sets) strategySignals(getStrategy('sma-cross'), set, spx, inOrder)
    expect(plain.computed).toBeGreaterThan(cache.computed)
  })
})

describe('vectorized crossings, fused with the statistics', () => {
  const fast = findIndicator('sma').compute(spx, { period: 5 }).value!
  const slow = findIndicator('sma').compute(spx, { period: 40 }).value!
  const costs = { cash: 1_000_000, commission: 0.001, slippageBps: 3, size: { percent: 1 } }

  it('equal the same crossings as flags: below-crossing entries, exits tested only from bar 400', () => {
    // Entries on the fast SMA crossing below (the series swapped inside the kernel); exits from bar
    // 400 only, so the first long segment starts before its exit crossing may be tested.
    const entries = { ...crossing(fast, slow, 'below'), from: 40 }
    const exits = { ...crossing(fast, slow, 'above'), from: 400 }
    const lazy = vectorBacktest({ open: spx.open, close: spx.close, entries, exits }, costs)
    const flags = vectorBacktest({ open: spx.open, close: spx.close, entries: signalFlags(entries), exits: signalFlags(exits) }, costs)
    expect(lazy.trades).toEqual(flags.trades)
    // The flags take the separate loops (scan, statistics, equity written out): the fused loop's
    // equity and trades are checked against them.
    expect(lazy.equity).toEqual(flags.equity)
    expect(lazy.trades.entryIndex[0]!).toBeLessThan(400)
    expect(lazy.trades.exitIndex[0]!).toBeGreaterThan(400)
  })

  it('keep the same statistics whether or not the curve is recorded', () => {
    const entries = crossing(fast, slow, 'above')
    const exits = crossing(fast, slow, 'below')
    const full = vectorBacktest({ open: spx.open, close: spx.close, entries, exits }, costs)
    const lean = vectorBacktest({ open: spx.open, close: spx.close, entries, exits }, costs, { record: false })
    expect(lean.stats).toEqual(full.stats)
    expect(lean.trades).toEqual(full.trades)
  })
})

describe('vectorBacktest input checks', () => {
  it('refuses a crossing whose from is not a bar index', () => {
    const fast = findIndicator('sma').compute(spx, { period: 5 }).value!
    const slow = findIndicator('sma').compute(spx, { period: 40 }).value!
    for (const from of [2.5, NaN, -1]) {
      expect(() => vectorBacktest({ open: spx.open, close: spx.close, entries: crossing(fast, slow, 'above'), exits: { ...crossing(fast, slow, 'below'), from } })).toThrow(`exits: a crossing's from must be a bar index, an integer ≥ 0 (received ${from})`)
    }
  })
})
