// PSR / DSR against the worked example of Bailey & López de Prado (2014) and against the formula re-derived
// for chosen quantiles; the expected maximum Sharpe against scipy quantiles and a Monte Carlo; PBO (CSCV) on a
// 4-block case worked by hand and on matrices whose answer is known by construction.

import { describe, expect, it } from 'vitest'
import { ConfigError, seededRandom } from '../../lib/core/index.js'
import { combinations, deflatedSharpe, expectedMaxSharpe, probabilisticSharpe, probabilityOfBacktestOverfitting, returnMoments } from '../../lib/stats/overfit.js'

describe('probabilisticSharpe', () => {
  // Pick SR* so that the PSR statistic equals a known normal quantile z, then PSR must be Φ(z).
  // (Quantiles from scipy.stats.norm.ppf: 0.975 → 1.959963984540054, 0.95 → 1.6448536269514722.)
  const cases = [
    { sr: 0.2, n: 101, skew: 0, kurtosis: 3, z: 1.959963984540054, p: 0.975 },
    { sr: 0.1, n: 1250, skew: -1.5, kurtosis: 9, z: 1.6448536269514722, p: 0.95 },
    { sr: -0.05, n: 60, skew: 0.8, kurtosis: 4, z: 0, p: 0.5 },
    { sr: 0.3, n: 24, skew: -2.448, kurtosis: 10.164, z: -1.959963984540054, p: 0.025 },
  ]
  for (const c of cases) {
    it(`sr ${c.sr}, n ${c.n}, skew ${c.skew}, kurtosis ${c.kurtosis}: Φ(${c.z}) = ${c.p}`, () => {
      const sd = Math.sqrt(1 - c.skew * c.sr + ((c.kurtosis - 1) / 4) * c.sr ** 2)
      const benchmark = c.sr - (c.z * sd) / Math.sqrt(c.n - 1)
      expect(probabilisticSharpe(c.sr, c.n, c.skew, c.kurtosis, benchmark)).toBeCloseTo(c.p, 12)
    })
  }

  it('normal returns: PSR(0) = Φ(SR·√(n−1)/√(1 + SR²/2)); n = 65, SR = 0.25 gives z = 2/√1.03125', () => {
    // 0.25·√64 = 2; 1 + 0.0625/2 = 1.03125. scipy: norm.cdf(2 / sqrt(1.03125)) = 0.975550075389045.
    expect(probabilisticSharpe(0.25, 65, 0, 3)).toBeCloseTo(0.975550075389045, 12)
  })

  it('negative skew and fat tails lower the PSR of a positive Sharpe', () => {
    expect(probabilisticSharpe(0.1, 250, -2, 10)).toBeLessThan(probabilisticSharpe(0.1, 250, 0, 3))
  })

  it('bad input', () => {
    expect(() => probabilisticSharpe(0.1, 1, 0, 3)).toThrow(/n must be the number of returns, an integer ≥ 2 \(received 1\)/)
    expect(() => probabilisticSharpe(0.1, 100, 0, 0.5)).toThrow(/excess kurtosis\? add 3/)
    expect(() => probabilisticSharpe(NaN, 100, 0, 3)).toThrow(ConfigError)
    // An annualised Sharpe of 3 with skew 2: 1 − 6 + 0.5·9 < 0.
    expect(() => probabilisticSharpe(3, 100, 2, 3)).toThrow(/not annualised/)
  })
})

describe('expectedMaxSharpe', () => {
  const gamma = 0.5772156649015329
  it('N = 100, V = 1 from scipy quantiles: 0.4228·Φ⁻¹(0.99) + 0.5772·Φ⁻¹(1 − 1/(100e))', () => {
    const expected = (1 - gamma) * 2.3263478740408408 + gamma * 2.6802104449668875 // = 2.5306028932016846
    expect(expectedMaxSharpe(100, 1)).toBeCloseTo(expected, 9)
    expect(expectedMaxSharpe(100, 0.25)).toBeCloseTo(expected / 2, 9)
  })

  it('N = 10, V = 1: 0.4228·Φ⁻¹(0.9) + 0.5772·Φ⁻¹(1 − 1/(10e))', () => {
    expect(expectedMaxSharpe(10, 1)).toBeCloseTo((1 - gamma) * 1.2815515655446004 + gamma * 1.7892417645816283, 9)
  })

  for (const N of [10, 100, 1000]) {
    it(`N = ${N}: within 4 % of a Monte Carlo mean of the maximum of N normal Sharpes`, () => {
      // The approximation is known to run ~1–3 % high here (E[max of 100 N(0,1)] = 2.5076 vs 2.5306).
      const sd = 0.2
      const random = seededRandom(N)
      const reps = 3000
      let sum = 0
      for (let r = 0; r < reps; r++) {
        let max = -Infinity
        for (let i = 0; i < N; i++) max = Math.max(max, sd * random.normal())
        sum += max
      }
      const mc = sum / reps
      expect(Math.abs(expectedMaxSharpe(N, sd * sd) / mc - 1)).toBeLessThan(0.04)
    })
  }

  it('one trial selects nothing; bad input', () => {
    expect(expectedMaxSharpe(1, 0.5)).toBe(0)
    expect(expectedMaxSharpe(1.01, 0.5)).toBe(0)
    expect(() => expectedMaxSharpe(0, 1)).toThrow(/nTrials must be a number ≥ 1 \(received 0\)/)
    expect(() => expectedMaxSharpe(10, -1)).toThrow(/variance/)
  })
})

describe('returnMoments and combinations', () => {
  it('returns 1, 2, 3, 4: Sharpe 2.5/√(5/3), skew 0, kurtosis (10.25/4)/1.25² = 1.64', () => {
    const m = returnMoments([1, 2, 3, 4])
    expect(m.n).toBe(4)
    expect(m.sharpe).toBeCloseTo(2.5 / Math.sqrt(5 / 3), 14)
    expect(m.skew).toBeCloseTo(0, 14)
    expect(m.kurtosis).toBeCloseTo(1.64, 14)
    // Right-skewed: 0, 0, 3 — deviations −1, −1, 2: m2 = 2, m3 = 2 → 2 / 2^1.5.
    expect(returnMoments([0, 0, 3]).skew).toBeCloseTo(2 / 2 ** 1.5, 14)
    expect(() => returnMoments([1, 2])).toThrow(/at least 3 returns \(received 2\)/)
  })

  it('lists every k-subset in lexicographic order', () => {
    expect(combinations(4, 2)).toEqual([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])
    expect(combinations(16, 8)).toHaveLength(12870)
  })
})

describe('deflatedSharpe', () => {
  it('Bailey & López de Prado (2014), numerical example: SR0 ≈ 0.1132 per day, DSR ≈ 0.9004', () => {
    // "The deflated Sharpe ratio", JPM 40(5), section "A numerical example": N = 100 trials whose annualised
    // Sharpes have variance 1/2; the best has an annualised Sharpe of 2.5 over T = 1250 daily returns
    // (5 years of 250 days), skewness −3 and kurtosis 10. Per day: SR = 2.5/√250, V = 0.5/250. The paper
    // reports E[max SR] = 0.1132 (daily; ≈ 1.7894 annualised) and DSR = 0.9004.
    const out = deflatedSharpe({ sharpe: 2.5 / Math.sqrt(250), n: 1250, skew: -3, kurtosis: 10, nTrials: 100, variance: 0.5 / 250 })
    expect(Math.abs(out.sr0 - 0.1132)).toBeLessThan(5e-5)
    expect(Math.abs(out.sr0 * Math.sqrt(250) - 1.7894)).toBeLessThan(5e-4)
    expect(Math.abs(out.dsr - 0.9004)).toBeLessThan(5e-5)
    expect(out.psr).toBeGreaterThan(0.9999)
    expect(out.nTrials).toBe(100)
  })

  it('from the trial Sharpes: the sample variance and their count', () => {
    const trialSharpes = [0.01, 0.05, -0.02, 0.08, 0.03] // mean 0.03; squared deviations sum to 0.0058
    const out = deflatedSharpe({ sharpe: 0.08, n: 500, skew: 0, kurtosis: 3, trialSharpes })
    expect(out.variance).toBeCloseTo(0.0058 / 4, 15)
    expect(out.nTrials).toBe(5)
    expect(out.sr0).toBeCloseTo(expectedMaxSharpe(5, 0.0058 / 4), 15)
    expect(out.dsr).toBeCloseTo(probabilisticSharpe(0.08, 500, 0, 3, out.sr0), 15)
    expect(out.dsr).toBeLessThan(out.psr)
    // An effective number of trials can replace the count.
    expect(deflatedSharpe({ sharpe: 0.08, n: 500, skew: 0, kurtosis: 3, trialSharpes, nTrials: 2 }).nTrials).toBe(2)
  })

  it('bad input', () => {
    expect(() => deflatedSharpe({ sharpe: 0.1, n: 100, skew: 0, kurtosis: 3 })).toThrow(/needs trialSharpes, or both nTrials and variance/)
    expect(() => deflatedSharpe({ sharpe: 0.1, n: 100, skew: 0, kurtosis: 3, trialSharpes: [0.1, 0.2], variance: 1 })).toThrow(/not both/)
    expect(() => deflatedSharpe({ sharpe: 0.1, n: 100, skew: 0, kurtosis: 3, trialSharpes: [0.1] })).toThrow(/at least 2/)
  })
})

describe('probabilityOfBacktestOverfitting: S = 4 by hand', () => {
  // 4 rows = 4 blocks of one row, 3 configurations A, B, C, metric = mean. For each pair of IS blocks:
  //   IS blocks  IS sums (A,B,C)  best  OOS sums (A,B,C)  OOS rank of best     ω̄      λ
  //   {0,1}      2, 5, 2          B     10, 4, 8          1                   1/4    −ln 3
  //   {0,2}      5, 3, 6          C     7, 6, 4           1                   1/4    −ln 3
  //   {0,3}      5, 3, 4          A     7, 6, 6           3                   3/4    +ln 3
  //   {1,2}      7, 6, 6          A     5, 3, 4           3                   3/4    +ln 3
  //   {1,3}      7, 6, 4          A     5, 3, 6           2                   1/2    0
  //   {2,3}      10, 4, 8         A     2, 5, 2           1.5 (tied with C)   3/8    ln(3/5)
  // λ ≤ 0 in 4 of 6 splits: PBO = 2/3. Performances are the sums / 2 (two rows per half).
  const matrix = [
    [0, 1, 1],
    [2, 4, 1],
    [5, 2, 5],
    [5, 2, 3],
  ]
  const out = probabilityOfBacktestOverfitting(matrix, { partitions: 4, metric: 'mean' })

  it('splits, winners, ranks, logits and PBO', () => {
    expect(out.splits).toEqual([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])
    expect(Array.from(out.bestInSample)).toEqual([1, 2, 0, 0, 0, 0])
    expect(Array.from(out.relativeRanks)).toEqual([1 / 4, 1 / 4, 3 / 4, 3 / 4, 1 / 2, 3 / 8])
    const expected = [-Math.log(3), -Math.log(3), Math.log(3), Math.log(3), 0, Math.log(3 / 5)]
    out.logits.forEach((l, i) => expect(l).toBeCloseTo(expected[i]!, 14))
    expect(out.pbo).toBeCloseTo(4 / 6, 15)
  })

  it('IS/OOS pairs and the degradation line', () => {
    expect(Array.from(out.isPerformance)).toEqual([2.5, 3, 2.5, 3.5, 3.5, 5])
    expect(Array.from(out.oosPerformance)).toEqual([2, 2, 3.5, 2.5, 2.5, 1])
    // x̄ = 10/3, ȳ = 9/4; Sxy = −11/4, Sxx = 13/3: slope = −33/52, intercept = 9/4 + (33/52)(10/3) = 227/52.
    expect(out.degradation.slope).toBeCloseTo(-33 / 52, 14)
    expect(out.degradation.intercept).toBeCloseTo(227 / 52, 14)
    expect(out.probabilityOfLoss).toBe(0)
  })
})

describe('probabilityOfBacktestOverfitting: exact ties (P&L in whole ticks; an audit found them ranked as wins or losses)', () => {
  // An independent CSCV for integer matrices: each half's mean is its integer sum over its rows / the rows, so
  // equal performances are equal exactly; PBO = share of splits whose IS winner (first on a tie) ranks ≤ the
  // median OOS (ω = average rank / (N + 1) ≤ 1/2).
  const reference = (m: number[][], S: number): number => {
    const T = m.length
    const N = m[0]!.length
    const start = Array.from({ length: S + 1 }, (_, b) => Math.floor((b * T) / S))
    const perf = (blocks: number[]) =>
      Array.from({ length: N }, (_, j) => {
        let sum = 0
        let rows = 0
        for (const b of blocks) for (let t = start[b]!; t < start[b + 1]!; t++) (sum += m[t]![j]!), rows++
        return sum / rows
      })
    const splits = combinations(S, S / 2)
    let overfit = 0
    for (const inSample of splits) {
      const out = Array.from({ length: S }, (_, b) => b).filter((b) => !inSample.includes(b))
      const R = perf(inSample)
      const Rbar = perf(out)
      let best = 0
      for (let j = 1; j < N; j++) if (R[j]! > R[best]!) best = j
      const below = Rbar.filter((v) => v < Rbar[best]!).length
      const equal = Rbar.filter((v) => v === Rbar[best]!).length
      if ((below + (equal + 1) / 2) / (N + 1) <= 0.5) overfit++
    }
    return overfit / splits.length
  }

  it("the audit's case: two columns tied at −1/3 out of sample give PBO 1/3 (it read 1/6)", () => {
    const m = [[-1, -2], [0, 2], [-1, -3], [0, -2], [3, -1], [0, 1], [2, 1], [3, -1], [-2, 0], [-1, 2], [0, 3], [2, 0], [2, -1], [1, 2]]
    expect(reference(m, 4)).toBeCloseTo(1 / 3, 15)
    expect(probabilityOfBacktestOverfitting(m, { partitions: 4, metric: 'mean' }).pbo).toBeCloseTo(1 / 3, 15)
  })

  it('equals the exact CSCV on random integer matrices', () => {
    const random = seededRandom(5)
    for (const [T, N, S] of [[72, 3, 12], [109, 2, 8], [154, 6, 12], [40, 4, 6], [63, 5, 10]] as const) {
      const m = Array.from({ length: T }, () => Array.from({ length: N }, () => Math.round(random.normal() * 2)))
      expect(probabilityOfBacktestOverfitting(m, { partitions: S, metric: 'mean' }).pbo, `${T}×${N}, S=${S}`).toBeCloseTo(reference(m, S), 15)
    }
  })
})

describe('probabilityOfBacktestOverfitting: answers known by construction', () => {
  const noise = (seed: number, T: number, N: number, shift: (t: number, j: number) => number = () => 0) => {
    const random = seededRandom(seed)
    return Array.from({ length: T }, (_, t) => Array.from({ length: N }, (_, j) => random.normal() + shift(t, j)))
  }

  it('one column best in every block: PBO 0, every λ = ln N', () => {
    const N = 8
    const matrix = noise(1, 64, N).map((row) => row.map((v, j) => (j === 3 ? 100 + v : v)))
    const out = probabilityOfBacktestOverfitting(matrix, { partitions: 8 })
    expect(out.pbo).toBe(0)
    expect(out.splits).toHaveLength(70) // C(8, 4)
    for (const b of out.bestInSample) expect(b).toBe(3)
    for (const l of out.logits) expect(l).toBeCloseTo(Math.log(N), 12)
  })

  it('IS winner always OOS worst: PBO 1, every λ = −ln N, degradation slope −1', () => {
    // Every column sums to 0 over all rows, and the halves have equal size: OOS mean = −IS mean, so the
    // OOS order is the IS order reversed.
    const N = 6
    const matrix = noise(2, 48, N)
    for (let j = 0; j < N; j++) {
      const mean = matrix.reduce((s, row) => s + row[j]!, 0) / matrix.length
      for (const row of matrix) row[j]! -= mean
    }
    const out = probabilityOfBacktestOverfitting(matrix, { partitions: 8, metric: 'mean' })
    expect(out.pbo).toBe(1)
    for (const l of out.logits) expect(l).toBeCloseTo(-Math.log(N), 12)
    expect(out.degradation.slope).toBeCloseTo(-1, 10)
    expect(out.degradation.intercept).toBeCloseTo(0, 12)
  })

  it('identical columns: the IS pick ties OOS with all, ω̄ = 1/2, λ = 0, PBO 1', () => {
    const matrix = noise(3, 32, 1).map((row) => [row[0]!, row[0]!, row[0]!, row[0]!])
    const out = probabilityOfBacktestOverfitting(matrix, { partitions: 4 })
    for (const w of out.relativeRanks) expect(w).toBe(0.5)
    expect(out.pbo).toBe(1)
  })

  it('i.i.d. noise (N = 10): PBO averages 1/2 over seeds', () => {
    // With no skill, the IS winner's OOS rank is uniform on 1…N; λ ≤ 0 for ranks ≤ 5.5, i.e. half of them.
    const pbos: number[] = []
    for (let seed = 0; seed < 40; seed++) pbos.push(probabilityOfBacktestOverfitting(noise(100 + seed, 80, 10), { partitions: 8 }).pbo)
    const mean = pbos.reduce((a, b) => a + b, 0) / pbos.length
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.1)
  })

  it('the Sharpe shortcut (merged block moments) equals the plain metric on gathered rows, with uneven blocks', () => {
    const matrix = noise(4, 103, 5, (t, j) => 0.05 * j * Math.sin(t / 7)) // 103 rows: blocks of 12 or 13
    const sharpe = (v: Float64Array) => {
      const m = v.reduce((a, b) => a + b, 0) / v.length
      return m / Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1))
    }
    const fast = probabilityOfBacktestOverfitting(matrix, { partitions: 8, metric: 'sharpe' })
    const plain = probabilityOfBacktestOverfitting(matrix, { partitions: 8, metric: sharpe })
    expect(Array.from(fast.bestInSample)).toEqual(Array.from(plain.bestInSample))
    fast.isPerformance.forEach((v, i) => expect(v).toBeCloseTo(plain.isPerformance[i]!, 12))
    fast.oosPerformance.forEach((v, i) => expect(v).toBeCloseTo(plain.oosPerformance[i]!, 12))
    expect(fast.pbo).toBe(plain.pbo)
  })

  it('a metric function gets the half’s rows in time order; 16 partitions by default', () => {
    const matrix = Array.from({ length: 32 }, (_, t) => [t, -t])
    const seen: number[][] = []
    probabilityOfBacktestOverfitting(matrix, {
      partitions: 4,
      metric: (v) => {
        seen.push(Array.from(v))
        return v[0]!
      },
    })
    // First split: IS = blocks {0, 1} = rows 0…15, column 0 first.
    expect(seen[0]).toEqual(Array.from({ length: 16 }, (_, t) => t))
    expect(seen[2]).toEqual(Array.from({ length: 16 }, (_, t) => 16 + t)) // OOS of the first split, column 0
    expect(probabilityOfBacktestOverfitting(matrix).splits).toHaveLength(12870) // C(16, 8)
  })

  it('bad input', () => {
    const m = noise(5, 40, 3)
    expect(() => probabilityOfBacktestOverfitting(m, { partitions: 5 })).toThrow(/partitions must be an even integer in \[2, 24\] \(received 5\)/)
    expect(() => probabilityOfBacktestOverfitting(m.slice(0, 10))).toThrow(/10 rows; it needs at least partitions = 16/)
    expect(() => probabilityOfBacktestOverfitting(m.map((r) => [r[0]!]))).toThrow(/at least 2 columns/)
    expect(() => probabilityOfBacktestOverfitting([...m.slice(0, 39), [1, 2]])).toThrow(/row 39 has 2 values/)
    const withNaN = m.map((r) => [...r])
    withNaN[7]![1] = NaN
    expect(() => probabilityOfBacktestOverfitting(withNaN, { partitions: 4 })).toThrow(/matrix\[7\]\[1\] is NaN/)
    expect(() => probabilityOfBacktestOverfitting(m, { partitions: 4, metric: 'median' as never })).toThrow(/metric must be/)
    expect(() => probabilityOfBacktestOverfitting(m, { partitions: 4, metric: () => NaN })).toThrow(/returned NaN/)
  })
})
