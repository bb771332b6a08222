// Pair screening over a universe of aligned price series: every pair is checked for return
// correlation, Engle–Granger cointegration (both directions; the stronger one is kept) and the
// half-life of its spread. Results for all pairs, best first; `selected` holds those passing.

import { ConfigError, DataError, Progress, type ProgressSink } from '../core/index.js'
import { coint, halfLife } from '../stats/index.js'

export interface PairScreenOptions {
  /** Minimum |correlation| of the two series' log returns (default 0.5). */
  minCorr?: number
  /** Maximum cointegration p-value (default 0.05). */
  maxPValue?: number
  /** Allowed half-life of the spread, in bars (default [1, 250]). */
  halfLifeRange?: [number, number]
  /** Test log prices (default true). */
  logPrices?: boolean
  /** Passed to the ADF on the residuals (default autolag 'aic'). */
  maxlag?: number
  autolag?: 'aic' | null
  progress?: ProgressSink
}

export interface PairCandidate {
  /** The dependent series of the direction kept: spread = y − (alpha + beta·x). */
  y: string
  x: string
  corr: number
  stat: number
  pvalue: number
  alpha: number
  beta: number
  halfLife: number
  passed: boolean
  /** Why it did not pass (empty when it did). */
  reasons: string[]
}

function correlation(a: Float64Array, b: Float64Array): number {
  let ma = 0
  let mb = 0
  for (let i = 0; i < a.length; i++) {
    ma += a[i]!
    mb += b[i]!
  }
  ma /= a.length
  mb /= b.length
  let sab = 0
  let saa = 0
  let sbb = 0
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb)
    saa += (a[i]! - ma) ** 2
    sbb += (b[i]! - mb) ** 2
  }
  return sab / Math.sqrt(saa * sbb)
}

export function screenPairs(universe: Record<string, ArrayLike<number>>, options: PairScreenOptions = {}): { candidates: PairCandidate[]; selected: PairCandidate[] } {
  const names = Object.keys(universe)
  if (names.length < 2) throw new ConfigError(`screenPairs needs at least 2 series (received ${names.length})`)
  const n = universe[names[0]!]!.length
  const minCorr = options.minCorr ?? 0.5
  const maxPValue = options.maxPValue ?? 0.05
  const [hlMin, hlMax] = options.halfLifeRange ?? [1, 250]
  const log = options.logPrices ?? true
  const series: Record<string, Float64Array> = {}
  const returns: Record<string, Float64Array> = {}
  for (const name of names) {
    const s = universe[name]!
    if (s.length !== n) throw new DataError(`screenPairs: ${name} has ${s.length} values, ${names[0]} has ${n}; expected aligned series`)
    series[name] = Float64Array.from(s, (v) => (log ? Math.log(v) : v))
    returns[name] = Float64Array.from({ length: n - 1 }, (_, i) => Math.log(s[i + 1]! / s[i]!))
  }
  const pairs: [string, string][] = []
  for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) pairs.push([names[i]!, names[j]!])
  const progress = new Progress({ label: 'pairs', total: pairs.length, sink: options.progress })
  const candidates: PairCandidate[] = []
  for (const [a, b] of pairs) {
    const corr = correlation(returns[a]!, returns[b]!)
    const ab = coint(series[a]!, series[b]!, { maxlag: options.maxlag, autolag: options.autolag })
    const ba = coint(series[b]!, series[a]!, { maxlag: options.maxlag, autolag: options.autolag })
    const [y, x, test] = ab.pvalue <= ba.pvalue ? [a, b, ab] : [b, a, ba]
    const spread = series[y]!.map((v, t) => v - (test.alpha + test.beta * series[x]![t]!))
    const hl = halfLife(spread)
    const reasons: string[] = []
    if (!(Math.abs(corr) >= minCorr)) reasons.push(`|corr| ${Math.abs(corr).toFixed(3)} < ${minCorr}`)
    if (!(test.pvalue <= maxPValue)) reasons.push(`p ${test.pvalue.toFixed(4)} > ${maxPValue}`)
    if (!(hl >= hlMin && hl <= hlMax)) reasons.push(`half-life ${hl.toFixed(1)} outside [${hlMin}, ${hlMax}]`)
    candidates.push({ y, x, corr, stat: test.stat, pvalue: test.pvalue, alpha: test.alpha, beta: test.beta, halfLife: hl, passed: reasons.length === 0, reasons })
    progress.tick(1, `${y}/${x}`)
  }
  progress.finish()
  candidates.sort((p, q) => p.pvalue - q.pvalue)
  return { candidates, selected: candidates.filter((c) => c.passed) }
}
