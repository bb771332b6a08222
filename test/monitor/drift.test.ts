// Drift statistics against SciPy (test/fixtures/reference/drift/make_fixture.py wrote drift.json with
// Debian's python3-scipy) and Evidently's default choice of test, restated here from its source.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, DataError, seededRandom } from '../../lib/core/index.js'
import { columnDrift, datasetDrift, prepareReference } from '../../lib/monitor/index.js'
import { binnedShares, chiSquareSf, floorZeroShares, jensenShannon, kolmogorovSf, ksSorted, psiOfShares, smirnovSf, sortFinite, wassersteinSorted } from '../../lib/stats/index.js'
import { FIXTURES } from '../helpers.js'

interface Case {
  name: string
  reference: number[]
  current: number[]
  ks: { statistic: number; pvalue: number }
  wasserstein: number
  std: number
  wassersteinNorm: number
  bins: number
  psi: number
  js: number
  distinct: number
  chisquare?: { statistic: number; pvalue: number }
}
interface Dataset {
  name: string
  reference: Record<string, number[]>
  current: Record<string, number[]>
  columns: Record<string, { ksPvalue: number; ksStatistic: number; wassersteinNorm: number }>
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'reference', 'drift', 'drift.json'), 'utf8')) as {
  cases: Case[]
  datasets: Dataset[]
  kstwo: { n: number; d: number; sf: number }[]
  kstwoTail: { n: number; d: number; sf: number; smirnov: number }[]
  chi2: { x: number; k: number; sf: number }[]
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300)

describe('drift statistics against SciPy', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s: KS, Wasserstein, PSI and JS as SciPy and numpy compute them', (_name, c) => {
    const ref = sortFinite(c.reference)
    const cur = sortFinite(c.current)
    const ks = ksSorted(ref, cur)
    expect(ks.method).toBe(Math.max(c.reference.length, c.current.length) <= 10_000 ? 'exact' : 'asymptotic')
    expect(ks.statistic).toBeCloseTo(c.ks.statistic, 14)
    // The exact p-value to 1e-12 relative, down to SciPy's 1e-161; the asymptotic one (Pelz–Good) to 1e-5.
    expect(rel(ks.pvalue, c.ks.pvalue)).toBeLessThan(ks.method === 'exact' ? 1e-12 : 1e-5)
    expect(rel(wassersteinSorted(ref, cur), c.wasserstein)).toBeLessThan(1e-12)
    const shares = binnedShares(ref, cur)
    expect(shares.reference.length).toBe(c.bins)
    expect(psiOfShares(floorZeroShares(shares.reference), floorZeroShares(shares.current))).toBeCloseTo(c.psi, 12)
    expect(jensenShannon(shares.reference, shares.current)).toBeCloseTo(c.js, 12)
    // Through the monitor's API with the method named.
    expect(rel(columnDrift(c.reference, c.current, { method: 'wasserstein' }).score, c.wassersteinNorm)).toBeLessThan(1e-12)
    expect(columnDrift(c.reference, c.current, { method: 'psi' }).score).toBeCloseTo(c.psi, 12)
    expect(columnDrift(c.reference, c.current, { method: 'js' }).score).toBeCloseTo(c.js, 12)
    if (c.chisquare !== undefined) {
      const chi = columnDrift(c.reference, c.current, { method: 'chisquare' })
      expect(rel(chi.statistic, c.chisquare.statistic)).toBeLessThan(1e-12)
      expect(rel(chi.pValue!, c.chisquare.pvalue)).toBeLessThan(1e-9)
    }
  })

  it('kstwo.sf (the asymptotic KS p-value) and chi2.sf at SciPy points', () => {
    for (const k of fixture.kstwo) expect(rel(kolmogorovSf(k.n, k.d), k.sf)).toBeLessThan(1e-9)
    // The tail, where SciPy takes 2·smirnov (exact): the Pelz–Good expansion and the Kolmogorov limit gave
    // 1.6e-6 and 1–10 % relative there (a numbers audit); ln Γ in the terms limits it to ~1e-9 at n = 5·10⁵.
    for (const k of fixture.kstwoTail) {
      const p = kolmogorovSf(k.n, k.d)
      if (k.sf === 0) expect(p).toBe(0)
      else expect(rel(p, k.sf), `n ${k.n} d ${k.d}: ${p} against ${k.sf}`).toBeLessThan(3e-9)
      if (k.smirnov === 0) expect(smirnovSf(k.n, k.d)).toBe(0)
      else expect(rel(smirnovSf(k.n, k.d), k.smirnov), `smirnov n ${k.n} d ${k.d}`).toBeLessThan(3e-9)
    }
    for (const k of fixture.chi2) expect(rel(chiSquareSf(k.x, k.k), k.sf)).toBeLessThan(1e-12)
  })

  it('sortFinite equals the native sort, NaN and ±Infinity dropped, on values a float32 cannot tell apart', () => {
    const rng = seededRandom(5)
    const inputs = [
      Float64Array.from({ length: 5000 }, () => rng.normal()),
      Float64Array.from({ length: 5000 }, () => 1 + rng.next() * 1e-9), // all one float32 or two
      Float64Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? -0 : i % 3 === 1 ? 0 : Math.floor(rng.next() * 4) - 2)),
      Float64Array.from({ length: 3000 }, (_, i) => (i % 10 === 0 ? NaN : i % 17 === 0 ? Infinity : i % 19 === 0 ? -Infinity : rng.normal() * 1e300)),
      Float64Array.from({ length: 4000 }, (_, i) => 4000 - i),
      // 1,000 short runs of values that share a float32, each run out of order.
      Float64Array.from({ length: 5000 }, (_, i) => (i % 1000) + (4999 - i) * 1e-12),
    ]
    for (const x of inputs) {
      const expected = Float64Array.from(x).filter((v) => Number.isFinite(v)).sort()
      expect(Array.from(sortFinite(x))).toEqual(Array.from(expected))
    }
  })
})

describe("Evidently's default tests", () => {
  it.each(fixture.datasets.map((d) => [d.name, d] as const))('%s: the method for the reference size, each column against SciPy, and the share drifted', (_name, d) => {
    const small = d.reference.f0!.length <= 1000
    const result = datasetDrift(d.reference, d.current)
    expect(result.columns.map((c) => c.column)).toEqual(Object.keys(d.reference))
    let drifted = 0
    for (const c of result.columns) {
      const expected = d.columns[c.column]!
      if (small) {
        expect(c.method).toBe('ks')
        expect(rel(c.pValue!, expected.ksPvalue)).toBeLessThan(1e-12)
        expect(c.threshold).toBe(0.05)
        expect(c.drifted).toBe(expected.ksPvalue < 0.05)
        if (expected.ksPvalue < 0.05) drifted++
      } else {
        expect(c.method).toBe('wasserstein')
        expect(rel(c.score, expected.wassersteinNorm)).toBeLessThan(1e-12)
        expect(c.threshold).toBe(0.1)
        expect(c.drifted).toBe(expected.wassersteinNorm >= 0.1)
        if (expected.wassersteinNorm >= 0.1) drifted++
      }
    }
    const cols = Object.keys(d.reference).length
    expect(result.driftedColumns).toBe(drifted)
    expect(result.share).toBeCloseTo(drifted / cols, 15)
    expect(result.datasetDrift).toBe(drifted / cols >= 0.5)
    // A reference prepared once gives the same answer.
    expect(datasetDrift(prepareReference(d.reference), d.current)).toEqual(result)
  })

  it('dataset drift at exactly half the columns (Evidently: share ≥ 0.5), and a custom share', () => {
    const d = fixture.datasets.find((x) => x.name === 'small-ks')!
    // f1 and f3 drift (p ≈ 8e-6 and 1e-7); f0 and f2 do not: 2 of 4.
    const four = datasetDrift(d.reference, d.current, { columns: ['f0', 'f1', 'f2', 'f3'] })
    expect(four.share).toBe(0.5)
    expect(four.datasetDrift).toBe(true)
    expect(datasetDrift(d.reference, d.current, { columns: ['f0', 'f1', 'f2', 'f3'], share: 0.6 }).datasetDrift).toBe(false)
  })

  it('few distinct values are categories: chi-square (> 2 values) or z-test (2) on a small reference, JS on a large one', () => {
    const few = fixture.cases.find((c) => c.name === 'few-values-900-1100')!
    const r1 = columnDrift(few.reference, few.current)
    expect(r1.method).toBe('chisquare')
    expect(rel(r1.pValue!, few.chisquare!.pvalue)).toBeLessThan(1e-9)
    // Two values, 500 vs 400 rows: the pooled two-proportion z-test. Counted here from the raw values.
    const bin = fixture.cases.find((c) => c.name === 'binary-500-400')!
    const r2 = columnDrift(bin.reference, bin.current)
    expect(r2.method).toBe('ztest')
    const a = bin.reference.filter((v) => v === 0).length
    const b = bin.current.filter((v) => v === 0).length
    const p1 = a / 500
    const p2 = b / 400
    const p = (a + b) / 900
    const z = (p1 - p2) / Math.sqrt(p * (1 - p) * (1 / 500 + 1 / 400))
    expect(r2.statistic).toBeCloseTo(z, 12)
    // 2·Φ(−|z|) by erfc's series is not in reach here: check the decision against |z| > 1.959964.
    expect(r2.drifted).toBe(Math.abs(z) > 1.959964)
    // Over 1,000 reference rows, few values: Jensen–Shannon of the shares per value.
    const big = { reference: [...few.reference, ...few.reference], current: few.current }
    const r3 = columnDrift(big.reference, big.current)
    expect(r3.method).toBe('js')
    expect(r3.score).toBeCloseTo(few.js, 12) // doubling the reference keeps its shares
    // Text columns: categories too.
    const text = columnDrift(['a', 'b', 'c', 'a'], ['a', 'a', 'a', 'c'])
    expect(text).toMatchObject({ kind: 'categorical', method: 'chisquare' })
    // A large text reference: Jensen–Shannon of the shares, worked by hand. Reference a:b = 1:1, current a:b = 3:1.
    const ref = Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? 'a' : 'b'))
    const cur = Array.from({ length: 400 }, (_, i) => (i % 4 === 3 ? 'b' : 'a'))
    const kl = (p: number[], q: number[]) => p.reduce((s, x, i) => s + x * Math.log(x / q[i]!), 0)
    const m = [0.625, 0.375]
    const js = Math.sqrt((kl([0.5, 0.5], m) + kl([0.75, 0.25], m)) / 2)
    const r4 = columnDrift(ref, cur)
    expect(r4).toMatchObject({ kind: 'categorical', method: 'js', drifted: js >= 0.1 })
    expect(r4.score).toBeCloseTo(js, 14)
  })

  it('a method and a threshold override the defaults; KS on a large reference uses the asymptotic p-value', () => {
    const c = fixture.cases.find((x) => x.name === 'lognormal-2000-1500')!
    expect(columnDrift(c.reference, c.current).method).toBe('wasserstein')
    const ks = columnDrift(c.reference, c.current, { method: 'ks' })
    expect(rel(ks.pValue!, c.ks.pvalue)).toBeLessThan(1e-12)
    expect(ks.drifted).toBe(true) // p ≈ 0.0049
    expect(columnDrift(c.reference, c.current, { method: 'ks', threshold: 0.001 }).drifted).toBe(false)
    expect(columnDrift(c.reference, c.current, { method: 'wasserstein', threshold: 0.05 }).drifted).toBe(c.wassersteinNorm >= 0.05)
    // Per column, over the table-wide choice; a column named time is left out unless named.
    const t = { time: c.reference.map((_, i) => i), a: c.reference, b: c.reference }
    const u = { time: c.current.map((_, i) => i), a: c.current, b: c.current }
    // A column's own method takes its own default threshold, not the table-wide one (a p-value here).
    const r = datasetDrift(t, u, { method: 'ks', threshold: 0.01, perColumn: { b: { method: 'psi' } } })
    expect(r.columns.map((x) => [x.column, x.method, x.threshold])).toEqual([
      ['a', 'ks', 0.01],
      ['b', 'psi', 0.1],
    ])
    expect(r.columns[1]!.score).toBeCloseTo(c.psi, 12)
  })

  it("a reference without spread is normalised by Evidently's floor of 0.001", () => {
    // W₁ between 1,500 fives and 1,000 values of 5.002 is 0.002; the reference's std is 0.
    const r = columnDrift(new Float64Array(1500).fill(5), new Float64Array(1000).fill(5.002), { method: 'wasserstein' })
    expect(r.score).toBeCloseTo(2, 9)
  })

  it('bad input: one line naming the column or option', () => {
    expect(() => columnDrift(['a', 'b'], ['a'], { method: 'ks', column: 'venue' })).toThrow(new ConfigError('column venue is categorical: ks needs numbers (use chisquare, ztest, psi or js)'))
    expect(() => columnDrift([1, 2], [1], { method: 'median' as never })).toThrow(ConfigError)
    expect(() => columnDrift([1, 2], [1], { threshold: -1 })).toThrow(/threshold .* must be a number > 0/)
    expect(() => columnDrift([NaN, NaN], [1], { column: 'spread' })).toThrow(new DataError('column spread has no finite values'))
    expect(() => columnDrift([1, 2, 3], ['x'], { column: 'z' })).toThrow(/column z is numeric in the reference but categorical/)
    expect(() => datasetDrift({ a: [1, 2] }, { b: [1, 2] })).toThrow(/the current data has no column "a"/)
    expect(() => datasetDrift({ a: [1, 2] }, { a: [1, 2] }, { columns: ['q'] })).toThrow(/the reference has no column "q"/)
  })
})

describe('a category the reference never had', () => {
  it('is drift: chi-square ∞ with p = 0, as SciPy gives, and the column counts as drifted', async () => {
    const { chiSquare } = await import('../../lib/stats/drift.js')
    const { columnDrift } = await import('../../lib/monitor/drift.js')
    // scipy.stats.chisquare([100, 100, 100, 0], [100, 100, 0, 100]) → (inf, 0.0)
    const r = chiSquare([100, 100, 100, 0], [100, 100, 0, 100])
    expect(r.statistic).toBe(Infinity)
    expect(r.pvalue).toBe(0)
    const reference = Array.from({ length: 300 }, (_, i) => ['a', 'b', 'c'][i % 3]!)
    const current = Array.from({ length: 300 }, (_, i) => ['a', 'b', 'd'][i % 3]!)
    const d = columnDrift(reference, current)
    expect(d.method).toBe('chisquare')
    expect(d.drifted).toBe(true)
  })
})
