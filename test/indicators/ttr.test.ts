// Every indicator against R's TTR 0.24.3 on the S&P 500 sample (test/fixtures/reference): equal to
// 1e-9 relative wherever TTR has a value, NaN exactly where TTR has NA. Deliberate differences of
// scale (stoch on 0–100, Williams %R on −100…0) are converted here, each one named in CASES.

import { describe, expect, it } from 'vitest'
import { INDICATORS } from '../../lib/indicators/index.js'
import { loadSample, loadTtr } from './reference.js'

const sample = loadSample()
const ttr = loadTtr()

interface Case {
  column: string
  indicator: string
  params?: Record<string, number>
  output?: string
  /** Our value → TTR's convention. */
  convert?: (x: number) => number
}

const CASES: Case[] = [
  { column: 'sma', indicator: 'sma', params: { period: 20 } },
  { column: 'ema', indicator: 'ema', params: { period: 20 } },
  { column: 'wma', indicator: 'wma', params: { period: 20 } },
  { column: 'dema', indicator: 'dema', params: { period: 20 } },
  { column: 'hma', indicator: 'hma', params: { period: 20 } },
  { column: 'zlema', indicator: 'zlema', params: { period: 20 } },
  { column: 'vwma', indicator: 'vwma', params: { period: 20 } },
  { column: 'rsi', indicator: 'rsi', params: { period: 14 } },
  { column: 'macd', indicator: 'macd', params: { fast: 12, slow: 26, signal: 9 }, output: 'macd' },
  { column: 'macd_signal', indicator: 'macd', params: { fast: 12, slow: 26, signal: 9 }, output: 'signal' },
  { column: 'bb_lower', indicator: 'bbands', params: { period: 20, k: 2 }, output: 'lower' },
  { column: 'bb_mid', indicator: 'bbands', params: { period: 20, k: 2 }, output: 'mid' },
  { column: 'bb_upper', indicator: 'bbands', params: { period: 20, k: 2 }, output: 'upper' },
  { column: 'bb_pctb', indicator: 'bbands', params: { period: 20, k: 2 }, output: 'pctb' },
  { column: 'tr', indicator: 'tr' },
  { column: 'atr', indicator: 'atr', params: { period: 14 } },
  { column: 'plus_di', indicator: 'adx', params: { period: 14 }, output: 'plus_di' },
  { column: 'minus_di', indicator: 'adx', params: { period: 14 }, output: 'minus_di' },
  { column: 'adx', indicator: 'adx', params: { period: 14 }, output: 'adx' },
  { column: 'cci', indicator: 'cci', params: { period: 20 } },
  // TTR's stoch is on 0–1; ours on 0–100.
  { column: 'stoch_k', indicator: 'stoch', params: { kPeriod: 14, dPeriod: 3 }, output: 'k', convert: (x) => x / 100 },
  { column: 'stoch_d', indicator: 'stoch', params: { kPeriod: 14, dPeriod: 3 }, output: 'd', convert: (x) => x / 100 },
  // TTR's WPR is (high − close)/(high − low) on 0–1; ours the usual −100…0: WPR = −ours/100.
  { column: 'williams_r', indicator: 'williamsR', params: { period: 14 }, convert: (x) => -x / 100 },
  { column: 'roc', indicator: 'roc', params: { period: 10 } },
  { column: 'momentum', indicator: 'momentum', params: { period: 10 } },
  { column: 'obv', indicator: 'obv' },
  { column: 'mfi', indicator: 'mfi', params: { period: 14 } },
  { column: 'cmf', indicator: 'cmf', params: { period: 20 } },
  { column: 'aroon_up', indicator: 'aroon', params: { period: 25 }, output: 'up' },
  { column: 'aroon_down', indicator: 'aroon', params: { period: 25 }, output: 'down' },
  { column: 'aroon_osc', indicator: 'aroon', params: { period: 25 }, output: 'osc' },
  // SAR: TTR's quirks reproduced through parameters (see the sar test below for the defaults).
  { column: 'sar', indicator: 'sar', params: { accel: 0.02, max: 1000, initGap: sdOf(sample.high.map((h, i) => h - sample.low[i]!)) } },
  { column: 'donchian_high', indicator: 'donchian', params: { period: 20 }, output: 'high' },
  { column: 'donchian_mid', indicator: 'donchian', params: { period: 20 }, output: 'mid' },
  { column: 'donchian_low', indicator: 'donchian', params: { period: 20 }, output: 'low' },
  { column: 'trix', indicator: 'trix', params: { period: 15 } },
  { column: 'vhf', indicator: 'vhf', params: { period: 28 } },
  { column: 'cmo', indicator: 'cmo', params: { period: 14 } },
  { column: 'dpo', indicator: 'dpo', params: { period: 10 } },
  { column: 'runsd', indicator: 'stdev', params: { period: 20 } },
  { column: 'volatility_close', indicator: 'volatility', params: { period: 20, annualization: 252 } },
  { column: 'clv', indicator: 'clv' },
  { column: 'ultimate_osc', indicator: 'ultosc', params: { short: 7, medium: 14, long: 28 } },
  { column: 'keltner_lower', indicator: 'keltner', params: { period: 20, k: 2 }, output: 'lower' },
  { column: 'keltner_mid', indicator: 'keltner', params: { period: 20, k: 2 }, output: 'mid' },
  { column: 'keltner_upper', indicator: 'keltner', params: { period: 20, k: 2 }, output: 'upper' },
]

/** Sample standard deviation, two passes (R's sd). */
function sdOf(x: Float64Array): number {
  let mean = 0
  for (const v of x) mean += v
  mean /= x.length
  let s = 0
  for (const v of x) s += (v - mean) ** 2
  return Math.sqrt(s / (x.length - 1))
}

/** Mismatches of ours against the reference: |a − b| ≤ 1e-9·|b| + 1e-12·max|column| (the floor only matters at ~0). */
export function mismatches(ours: Float64Array, reference: Float64Array, dates: string[]): string[] {
  let scale = 0
  for (const v of reference) if (v === v) scale = Math.max(scale, Math.abs(v))
  const out: string[] = []
  for (let i = 0; i < reference.length; i++) {
    const a = ours[i]!
    const b = reference[i]!
    const ok = Number.isNaN(b) ? Number.isNaN(a) : Math.abs(a - b) <= 1e-9 * Math.abs(b) + 1e-12 * scale
    if (!ok && out.length < 5) out.push(`${dates[i]}: ours ${a}, TTR ${b}`)
  }
  return out
}

describe('indicators match TTR on the S&P 500 sample', () => {
  it('has the same dates as the sample, and a case for every reference column', () => {
    expect(ttr.dates).toEqual(sample.dates)
    expect(Object.keys(ttr.columns).sort()).toEqual(CASES.map((c) => c.column).sort())
  })
  for (const c of CASES) {
    it(`${c.column} = ${c.indicator}(${JSON.stringify(c.params ?? {})})${c.output ? `.${c.output}` : ''}`, () => {
      const indicator = INDICATORS[c.indicator]
      expect(indicator, `indicator ${c.indicator}`).toBeDefined()
      const result = indicator!.compute(sample, c.params)
      const ours = result[c.output ?? 'value']!
      const converted = c.convert === undefined ? ours : ours.map(c.convert)
      const reference = ttr.columns[c.column]!
      expect(reference, `reference column ${c.column}`).toBeDefined()
      expect(mismatches(converted, reference, ttr.dates)).toEqual([])
    })
  }
})
