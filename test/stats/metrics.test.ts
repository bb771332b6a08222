// Performance metrics and drift tests on hand-worked examples.

import { describe, expect, it } from 'vitest'
import { cagr, drawdownSeries, kolmogorovQ, ks2, maxDrawdown, performanceMetrics, profitablePeriods, psi, returnsOf, sharpe, sortino, tradeStats } from '../../lib/stats/index.js'

describe('performance metrics (hand-worked)', () => {
  // 100 → 110 → 99 → 121 → 121 → 108.9: returns +10 %, −10 %, +22.2… %, 0 %, −10 %
  const equity = Float64Array.from([100, 110, 99, 121, 121, 108.9])

  it('the drawdown at each point', () => {
    // peaks 100, 110, 110, 121, 121, 121: falls 0, 0, 11/110, 0, 0, 12.1/121
    expect(Array.from(drawdownSeries(equity)).map((d) => +d.toFixed(12))).toEqual([0, 0, 0.1, 0, 0, 0.1])
  })

  it('returns, CAGR and drawdown', () => {
    expect(Array.from(returnsOf(equity)).map((r) => +r.toFixed(6))).toEqual([0.1, -0.1, 0.222222, 0, -0.1])
    // 5 steps of a 252-step year: (1.089)^(252/5) − 1
    expect(cagr(equity, { periodsPerYear: 252 })).toBeCloseTo(1.089 ** (252 / 5) - 1, 10)
    // peak 110 at 1, trough 99 at 2 (−10 %), regained at 3; then peak 121 at 3, 108.9 at 5 (−10 %, not regained)
    const dd = maxDrawdown(equity)
    expect(dd.depth).toBeCloseTo(0.1, 12)
    expect(dd).toMatchObject({ peakIndex: 1, troughIndex: 2, recoveryIndex: 3 })
    // under water 1→3 (2 steps) and 4→5 at the end (the peak 121 was last touched at step 4): longest 2
    expect(dd.longestDuration).toBe(2)
  })

  it('Sharpe and Sortino with an explicit annualisation', () => {
    const r = [0.01, -0.02, 0.03, 0.0, 0.01]
    const mean = 0.006
    const sd = Math.sqrt(((0.004 ** 2) + (0.026 ** 2) + (0.024 ** 2) + (0.006 ** 2) + (0.004 ** 2)) / 4)
    expect(sharpe(r, { periodsPerYear: 252 })).toBeCloseTo((mean / sd) * Math.sqrt(252), 10)
    // downside deviation: √(0.02² / 5)
    expect(sortino(r, { periodsPerYear: 12 })).toBeCloseTo((mean / Math.sqrt(0.0004 / 5)) * Math.sqrt(12), 10)
    // a 5 % yearly risk-free rate in monthly steps: (1.05)^(1/12) − 1 per step
    const rf = 1.05 ** (1 / 12) - 1
    expect(sharpe(r, { periodsPerYear: 12, riskFree: 0.05 })).toBeCloseTo(((mean - rf) / sd) * Math.sqrt(12), 10)
    expect(() => sharpe(r, { periodsPerYear: 0 })).toThrow('periodsPerYear must be a number > 0, e.g. 252 for daily bars (received 0)')
  })

  it('trade statistics', () => {
    const s = tradeStats([100, -50, 30, -20, 0])
    expect(s).toMatchObject({ trades: 5, wins: 2, losses: 2, winRate: 0.4, avgWin: 65, avgLoss: -35, expectancy: 12 })
    expect(s.profitFactor).toBeCloseTo(130 / 70, 12)
  })

  it('months and weeks profitable, turnover and exposure', () => {
    const day = 86_400_000
    const t0 = Date.UTC(2024, 0, 29) // a Monday
    // Jan 29, Jan 31 | Feb 1, Feb 5 (Monday: new week), Feb 29 | Mar 1
    const time = [t0, t0 + 2 * day, t0 + 3 * day, t0 + 7 * day, t0 + 31 * day, t0 + 32 * day]
    const eq = [100, 101, 99, 98, 103, 104]
    // months: Jan 100→101 +, Feb 101→103 +, Mar 103→104 + → 3/3
    expect(profitablePeriods(eq, time, 'month')).toEqual({ periods: 3, profitable: 3, share: 1 })
    // weeks: [Jan29–Feb1] 100→99 −, [Feb5] 99→98 −, [Feb26–Mar1] 98→104 + (Feb 29 and Mar 1 share a week)
    expect(profitablePeriods(eq, time, 'week')).toEqual({ periods: 3, profitable: 1, share: 1 / 3 })
    const p = performanceMetrics(eq, { periodsPerYear: 252, time, traded: [0, 100, 0, -100, 50, 0], position: [0, 1, 1, 0, 1, 0], trades: [1, -1] })
    // turnover: 250 traded / mean equity 100.8333… / (5/252 years)
    expect(p.turnover).toBeCloseTo(250 / (605 / 6) / (5 / 252), 9)
    expect(p.exposure).toBeCloseTo(3 / 6, 12)
    expect(p.trades?.winRate).toBe(0.5)
    expect(p.calmar).toBeCloseTo(p.cagr / p.maxDrawdown.depth, 12)
  })

  it('a first period holding the first point alone has no return and is not counted (it was a losing one: an audit)', () => {
    const day = 86_400_000
    // Wed 2024-01-31, Thu 02-01, Fri 02-02, Mon 02-05: 100, 101, 102, 103. January holds the first point alone.
    const t = [Date.UTC(2024, 0, 31), Date.UTC(2024, 1, 1), Date.UTC(2024, 1, 2), Date.UTC(2024, 1, 5)]
    expect(profitablePeriods([100, 101, 102, 103], t, 'month')).toEqual({ periods: 1, profitable: 1, share: 1 })
    expect(profitablePeriods([100, 101, 102, 103], t, 'week')).toEqual({ periods: 2, profitable: 2, share: 1 })
    // Weekdays from Friday 2024-01-05 to Friday 01-19, rising every day: the lone Friday is no week of its own.
    const days = Array.from({ length: 15 }, (_, i) => Date.UTC(2024, 0, 5) + i * day).filter((t) => new Date(t).getUTCDay() % 6 !== 0)
    expect(days.length).toBe(11)
    const rising = days.map((_, i) => 100 + i)
    expect(profitablePeriods(rising, days, 'week')).toEqual({ periods: 2, profitable: 2, share: 1 })
    expect(performanceMetrics(rising, { periodsPerYear: 365, time: days }).weeksProfitable).toBe(1)
  })

  it('months and weeks profitable (one pass for both) equal the shares by the definition on an hourly curve', () => {
    // Hourly points over 14 months from a Wednesday, with a seeded walk: weeks and months end mid-range.
    let x = 7
    const time: number[] = []
    const eq: number[] = []
    for (let i = 0, t = Date.UTC(2023, 10, 15, 13); i < 24 * 430; i++, t += 3_600_000) {
      x = (x * 16807) % 2147483647
      time.push(t)
      eq.push(i === 0 ? 100 : eq[i - 1]! * (1 + (x / 2147483647 - 0.5) * 0.01))
    }
    // The shares by the definition, in plain code: group the points by calendar key, compare each
    // group's last point with the previous group's last (the first group with the first point).
    const share = (key: (t: number) => number) => {
      let base = eq[0]!
      let periods = 0
      let up = 0
      for (let i = 0; i < eq.length; i++) {
        if (i + 1 < eq.length && key(time[i + 1]!) === key(time[i]!)) continue
        periods++
        if (eq[i]! > base) up++
        base = eq[i]!
      }
      return { periods, profitable: up, share: up / periods }
    }
    const months = share((t) => new Date(t).getUTCFullYear() * 12 + new Date(t).getUTCMonth())
    // Monday-based: 1970-01-05 was a Monday, 4 days after the epoch's Thursday.
    const weeks = share((t) => Math.floor((Math.floor(t / 86_400_000) - 4) / 7))
    expect(months.periods).toBe(15) // Nov 2023 … Jan 2025
    const p = performanceMetrics(eq, { periodsPerYear: 24 * 365, time })
    expect(p.monthsProfitable).toBe(months.share)
    expect(p.weeksProfitable).toBe(weeks.share)
    expect(profitablePeriods(eq, time, 'month')).toEqual(months)
    expect(profitablePeriods(eq, time, 'week')).toEqual(weeks)
    expect(() => performanceMetrics([100, 0, 101], { periodsPerYear: 252 })).toThrow('equity must be positive and finite; point 1 is 0')
    expect(() => performanceMetrics([NaN, 100], { periodsPerYear: 252 })).toThrow('point 0 is NaN')
  })

  it('performanceMetrics gives exactly what the single metrics give (one pass over the curve, no returns array)', () => {
    // A long seeded walk with a risk-free rate, as a plain array (the single metrics see the same numbers).
    let x = 1
    const eq: number[] = [100]
    for (let i = 1; i < 5000; i++) {
      x = (x * 16807) % 2147483647
      eq.push(eq[i - 1]! * (1 + (x / 2147483647 - 0.5) * 0.02))
    }
    const opts = { periodsPerYear: 252, riskFree: 0.03 }
    const p = performanceMetrics(eq, opts)
    const r = returnsOf(eq)
    expect(p.sharpe).toBe(sharpe(r, opts))
    expect(p.sortino).toBe(sortino(r, opts))
    expect(p.cagr).toBe(cagr(eq, opts))
    expect(p.maxDrawdown).toEqual(maxDrawdown(eq))
    // the sample sd by its textbook two-pass formula, written here
    const m = r.reduce((a, b) => a + b, 0) / r.length
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - m) ** 2, 0) / (r.length - 1))
    expect(p.volatility).toBeCloseTo(sd * Math.sqrt(252), 12)
  })
})

describe('Calmar without a drawdown', () => {
  it('is NaN (as empyrical), not Infinity: a curve that never falls, or never moves, has no Calmar to rank by', async () => {
    const { vectorSweepMetrics } = await import('../../lib/backtest/index.js')
    expect(performanceMetrics(Float64Array.from([100, 101, 103, 103, 104]), { periodsPerYear: 252 }).calmar).toBeNaN()
    expect(performanceMetrics(Float64Array.from([100, 100, 100]), { periodsPerYear: 252 }).calmar).toBeNaN()
    // With a drawdown: CAGR over the depth (100 → 110 → 99 → 121: depth 0.1).
    const p = performanceMetrics(Float64Array.from([100, 110, 99, 121]), { periodsPerYear: 252 })
    expect(p.calmar).toBeCloseTo((1.21 ** (252 / 3) - 1) / 0.1, 6)
    // The vectorized engine's statistics, on a run that never trades.
    const n = 300
    const close = Float64Array.from({ length: n }, (_, i) => 100 + Math.sin(i / 9))
    const flat = vectorSweepMetrics({ open: close, close, entries: new Uint8Array(n), exits: new Uint8Array(n) }, {}, 252)
    expect(flat.trades).toBe(0)
    expect(flat.calmar).toBeNaN()
  })
})

describe('drift tests', () => {
  it('PSI is 0 for the same distribution and grows with a shift (hand-worked bins)', () => {
    const ref = Float64Array.from({ length: 1000 }, (_, i) => i)
    expect(psi(ref, ref).psi).toBe(0)
    // 4 quartile bins cut at 250, 500, 750; the current sample puts 40 % / 10 % / 10 % / 40 % in them
    const cur = [...Array(40).fill(10), ...Array(10).fill(300), ...Array(10).fill(600), ...Array(40).fill(900)]
    const r = psi(ref, cur, { bins: 4 })
    expect(r.edges).toEqual([250, 500, 750])
    const expected = 2 * (0.4 - 0.25) * Math.log(0.4 / 0.25) + 2 * (0.1 - 0.25) * Math.log(0.1 / 0.25)
    expect(r.psi).toBeCloseTo(expected, 12)
  })

  it('KS: statistic, exact small-sample p-values, and the asymptotic distribution', () => {
    // Fully separated samples of 2 and 2: D = 1; 2 of the C(4,2) = 6 paths reach it → p = 1/3.
    expect(ks2([1, 2], [3, 4])).toMatchObject({ statistic: 1, method: 'exact' })
    expect(ks2([1, 2], [3, 4]).pvalue).toBeCloseTo(1 / 3, 12)
    // 3 and 3 separated: 2 of C(6,3) = 20
    expect(ks2([1, 2, 3], [4, 5, 6]).pvalue).toBeCloseTo(2 / 20, 12)
    // Identical samples: D = 0, p = 1
    expect(ks2([1, 2, 3], [1, 2, 3])).toMatchObject({ statistic: 0, pvalue: 1 })
    // Kolmogorov's distribution: the classic 5 % and 1 % points
    expect(kolmogorovQ(1.3581)).toBeCloseTo(0.05, 4)
    expect(kolmogorovQ(1.6276)).toBeCloseTo(0.01, 4)
    // Large samples use it: two shifted uniform grids
    const a = Float64Array.from({ length: 400 }, (_, i) => i)
    const b = Float64Array.from({ length: 400 }, (_, i) => i + 40) // shifted by 10 % of the range: D = 40/400
    const r = ks2(a, b)
    expect(r.method).toBe('asymptotic')
    expect(r.statistic).toBeCloseTo(0.1, 12)
    const en = Math.sqrt(200)
    expect(r.pvalue).toBeCloseTo(kolmogorovQ((en + 0.12 + 0.11 / en) * 0.1), 12)
  })
})
