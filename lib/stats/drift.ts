// Drift tests between a reference sample (training data, last month) and a current one: the
// population stability index over the reference's quantile bins, and the two-sample
// Kolmogorov–Smirnov test with its p-value (exact for small samples, asymptotic otherwise).

import { DataError } from '../core/index.js'

function finite(x: ArrayLike<number>, name: string): Float64Array {
  const out = Float64Array.from(x).filter((v) => Number.isFinite(v))
  if (out.length === 0) throw new DataError(`${name} has no finite values`)
  return out
}

export interface PsiResult {
  psi: number
  /** Bin edges (interior cut points, from the reference's quantiles). */
  edges: number[]
  expected: number[]
  actual: number[]
}

/**
 * Population stability index: Σ (a − e)·ln(a / e) over bins cut at the reference's quantiles, with
 * shares floored at `epsilon` so an empty bin counts as rare, not infinitely so. Rule of thumb:
 * < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 large shift.
 */
export function psi(reference: ArrayLike<number>, current: ArrayLike<number>, options: { bins?: number; epsilon?: number } = {}): PsiResult {
  const ref = finite(reference, 'reference').sort()
  const cur = finite(current, 'current')
  const bins = options.bins ?? 10
  const epsilon = options.epsilon ?? 1e-4
  const edges: number[] = []
  for (let k = 1; k < bins; k++) {
    const q = ref[Math.min(ref.length - 1, Math.floor((k * ref.length) / bins))]!
    if (edges.length === 0 || q > edges[edges.length - 1]!) edges.push(q)
  }
  const count = (xs: Float64Array) => {
    const c = new Array<number>(edges.length + 1).fill(0)
    for (const x of xs) {
      let lo = 0
      let hi = edges.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (x < edges[mid]!) hi = mid
        else lo = mid + 1
      }
      c[lo]!++
    }
    return c.map((n) => n / xs.length)
  }
  const expected = count(ref)
  const actual = count(cur)
  let value = 0
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i]!, epsilon)
    const a = Math.max(actual[i]!, epsilon)
    value += (a - e) * Math.log(a / e)
  }
  return { psi: value, edges, expected, actual }
}

export interface KsResult {
  /** D = sup |F₁ − F₂|. */
  statistic: number
  pvalue: number
  method: 'exact' | 'asymptotic'
}

/**
 * Two-sample Kolmogorov–Smirnov test (two-sided). The p-value is exact (lattice-path count) when
 * n·m ≤ 10,000, otherwise the asymptotic Kolmogorov distribution at √(nm/(n+m))·D with Stephens'
 * small-sample correction.
 */
export function ks2(a: ArrayLike<number>, b: ArrayLike<number>): KsResult {
  const x = finite(a, 'first sample').sort()
  const y = finite(b, 'second sample').sort()
  const n = x.length
  const m = y.length
  let i = 0
  let j = 0
  let d = 0
  while (i < n && j < m) {
    const v = Math.min(x[i]!, y[j]!)
    while (i < n && x[i] === v) i++
    while (j < m && y[j] === v) j++
    d = Math.max(d, Math.abs(i / n - j / m))
  }
  if (n * m <= 10_000) return { statistic: d, pvalue: exactKs(n, m, d), method: 'exact' }
  const en = Math.sqrt((n * m) / (n + m))
  return { statistic: d, pvalue: kolmogorovQ((en + 0.12 + 0.11 / en) * d), method: 'asymptotic' }
}

/** P(D ≥ d) for samples of n and m under H0: 1 − (paths staying strictly inside the band) / C(n+m, n). */
function exactKs(n: number, m: number, d: number): number {
  // A path from (0,0) to (n,m); it "stays inside" while |i/n − j/m| < d (with a tolerance for ties of rounding).
  const tol = 1e-12
  const inside = (i: number, j: number) => Math.abs(i / n - j / m) < d - tol
  // Probabilities instead of counts: each lattice point's share of all paths through it.
  // p(i, j): the probability that a uniformly random path reaches (i, j) without leaving the band.
  // From (i, j) a path steps right with probability (n − i)/(n + m − i − j), up with (m − j)/(…).
  let row = new Float64Array(m + 1)
  row[0] = 1
  for (let jj = 1; jj <= m; jj++) row[jj] = inside(0, jj) ? row[jj - 1]! * ((m - jj + 1) / (n + m - jj + 1)) : 0
  for (let ii = 1; ii <= n; ii++) {
    const next = new Float64Array(m + 1)
    for (let jj = 0; jj <= m; jj++) {
      if (!inside(ii, jj) && !(ii === n && jj === m)) {
        next[jj] = 0
        continue
      }
      // Probability of arriving from the left (i − 1, j) or from below (i, j − 1) along a uniformly random path.
      const remaining = n + m - ii - jj + 1
      const fromLeft = row[jj]! * ((n - ii + 1) / remaining)
      const fromBelow = jj > 0 ? next[jj - 1]! * ((m - jj + 1) / remaining) : 0
      next[jj] = fromLeft + fromBelow
    }
    row = next
  }
  return Math.min(1, Math.max(0, 1 - row[m]!))
}

/** Q_KS(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}. */
export function kolmogorovQ(lambda: number): number {
  if (lambda < 0.2) return 1
  let sum = 0
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda)
    sum += term
    if (Math.abs(term) < 1e-16) break
  }
  return Math.min(1, Math.max(0, sum))
}
