// The indicators TTR has no reference for, each against a brute-force implementation written here
// from its definition (every window recomputed from scratch), or a hand-worked example.

import { describe, expect, it } from 'vitest'
import { INDICATORS, type SeriesName } from '../../lib/indicators/index.js'
import { loadSample } from './reference.js'

const s = loadSample()
const N = 600 // the first 600 bars keep the brute force quick
const cut = (a: Float64Array) => a.slice(0, N)
const data: Record<SeriesName, Float64Array> = {
  open: cut(s.open),
  high: cut(s.high),
  low: cut(s.low),
  close: cut(s.close),
  volume: cut(s.volume),
  time: Float64Array.from(s.dates.slice(0, N), (d) => Date.parse(`${d}T00:00:00Z`)),
}
const { high, low, close, volume } = data

const window = (a: Float64Array, i: number, n: number) => Array.from(a.subarray(i - n + 1, i + 1))
const max = (xs: number[]) => Math.max(...xs)
const min = (xs: number[]) => Math.min(...xs)
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const sampleSd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1))
const tp = (i: number) => (high[i]! + low[i]! + close[i]!) / 3

/** Brute-force EMA (TTR: SMA seed of the first n real values) over a plain array. */
function emaOf(x: number[], n: number): number[] {
  const out = x.map(() => NaN)
  const first = x.findIndex((v) => !Number.isNaN(v))
  if (first < 0 || first + n > x.length) return out
  out[first + n - 1] = mean(x.slice(first, first + n))
  for (let i = first + n; i < x.length; i++) out[i] = x[i]! * (2 / (n + 1)) + out[i - 1]! * (1 - 2 / (n + 1))
  return out
}

/** NaN where the oracle is NaN, else within 1e-9 relative (absolute near 0). */
function expectClose(ours: Float64Array, oracle: ArrayLike<number>, label: string, from = 0): void {
  let checked = 0
  for (let i = from; i < oracle.length; i++) {
    const b = oracle[i]!
    const a = ours[i]!
    if (Number.isNaN(b)) {
      expect(a, `${label} row ${i} should be NaN`).toBeNaN()
    } else {
      expect(Math.abs(a - b), `${label} row ${i}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)))
      checked++
    }
  }
  expect(checked, `${label}: values compared`).toBeGreaterThan(N / 2)
}

describe('indicators beyond the TTR reference', () => {
  it('tema = 3·e1 − 3·e2 + e3', () => {
    const e1 = emaOf(Array.from(close), 20)
    const e2 = emaOf(e1, 20)
    const e3 = emaOf(e2, 20)
    expectClose(INDICATORS.tema!.compute(data).value!, e1.map((a, i) => 3 * a - 3 * e2[i]! + e3[i]!), 'tema')
  })

  it('kama: efficiency-ratio smoothing from the close of bar n', () => {
    const n = 10
    const fast = 2 / 3
    const slow = 2 / 31
    const oracle = Array.from(close, () => NaN)
    oracle[n - 1] = close[n - 1]!
    for (let i = n; i < N; i++) {
      let path = 0
      for (let j = i - n + 1; j <= i; j++) path += Math.abs(close[j]! - close[j - 1]!)
      const er = Math.abs(close[i]! - close[i - n]!) / path
      const sc = (er * (fast - slow) + slow) ** 2
      oracle[i] = oracle[i - 1]! + sc * (close[i]! - oracle[i - 1]!)
    }
    expectClose(INDICATORS.kama!.compute(data).value!, oracle, 'kama')
  })

  it('ppo: 100·(EMA12 − EMA26)/EMA26, signal EMA9, histogram', () => {
    const f = emaOf(Array.from(close), 12)
    const sl = emaOf(Array.from(close), 26)
    const ppo = f.map((a, i) => (100 * (a - sl[i]!)) / sl[i]!)
    const sig = emaOf(ppo, 9)
    const r = INDICATORS.ppo!.compute(data)
    expectClose(r.ppo!, ppo, 'ppo')
    expectClose(r.signal!, sig, 'ppo signal')
    expectClose(r.hist!, ppo.map((v, i) => v - sig[i]!), 'ppo hist')
  })

  it('zscore: (close − mean)/sample sd over 20 bars', () => {
    const oracle = Array.from(close, (c, i) => (i < 19 ? NaN : (c - mean(window(close, i, 20))) / sampleSd(window(close, i, 20))))
    expectClose(INDICATORS.zscore!.compute(data).value!, oracle, 'zscore')
  })

  it('natr: 100·ATR/close', () => {
    const atr = INDICATORS.atr!.compute(data).value!
    expectClose(INDICATORS.natr!.compute(data).value!, Array.from(atr, (a, i) => (100 * a) / close[i]!), 'natr')
  })

  it('stochRsi: RSI’s place in its 14-bar range, smoothed 3 and 3', () => {
    const rsi = INDICATORS.rsi!.compute(data).value! // checked against TTR
    const raw = Array.from(rsi, (r, i) => {
      if (i < 14 + 13) return NaN
      const w = window(rsi, i, 14)
      return max(w) === min(w) ? 50 : (100 * (r - min(w))) / (max(w) - min(w))
    })
    const smaOf = (x: number[], n: number) => x.map((_, i) => (i < n - 1 ? NaN : mean(x.slice(i - n + 1, i + 1))))
    const k = smaOf(raw, 3)
    const r = INDICATORS.stochRsi!.compute(data)
    expectClose(r.k!, k, 'stochRsi k')
    expectClose(r.d!, smaOf(k, 3), 'stochRsi d')
  })

  it('ichimoku: midpoints of 9/26/52-bar ranges, the cloud as computed 26 bars earlier, chikou = close', () => {
    const mid = (i: number, n: number) => (i < n - 1 ? NaN : (max(window(high, i, n)) + min(window(low, i, n))) / 2)
    const r = INDICATORS.ichimoku!.compute(data)
    expectClose(r.tenkan!, Array.from(close, (_, i) => mid(i, 9)), 'tenkan')
    expectClose(r.kijun!, Array.from(close, (_, i) => mid(i, 26)), 'kijun')
    expectClose(r.senkouA!, Array.from(close, (_, i) => (i < 26 ? NaN : (mid(i - 26, 9) + mid(i - 26, 26)) / 2)), 'senkouA')
    expectClose(r.senkouB!, Array.from(close, (_, i) => (i < 26 ? NaN : mid(i - 26, 52))), 'senkouB')
    expectClose(r.chikou!, close, 'chikou')
  })

  it('linreg: slope and R² of the least-squares line (normal equations), and exact on a straight line', () => {
    const n = 20
    const slope = Array.from(close, (_, i) => {
      if (i < n - 1) return NaN
      const y = window(close, i, n)
      let sx = 0, sy = 0, sxy = 0, sxx = 0
      y.forEach((v, x) => ((sx += x), (sy += v), (sxy += x * v), (sxx += x * x)))
      return (n * sxy - sx * sy) / (n * sxx - sx * sx)
    })
    const r2 = Array.from(close, (_, i) => {
      if (i < n - 1) return NaN
      const y = window(close, i, n)
      const xs = y.map((_, x) => x)
      const c = y.reduce((a, v, x) => a + (x - mean(xs)) * (v - mean(y)), 0)
      return c ** 2 / (xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) * y.reduce((a, v) => a + (v - mean(y)) ** 2, 0))
    })
    const r = INDICATORS.linreg!.compute(data)
    expectClose(r.slope!, slope, 'slope')
    expectClose(r.r2!, r2, 'r2')
    const line = Float64Array.from({ length: 30 }, (_, i) => 100 + 2.5 * i)
    const straight = INDICATORS.linreg!.compute({ close: line }, { period: 10 })
    expect(straight.slope![29]).toBeCloseTo(2.5, 12)
    expect(straight.r2![29]).toBeCloseTo(1, 12)
  })

  it('efficiencyRatio: |net change| / path over 10 bars; 1 on a straight line', () => {
    const oracle = Array.from(close, (c, i) => {
      if (i < 10) return NaN
      let path = 0
      for (let j = i - 9; j <= i; j++) path += Math.abs(close[j]! - close[j - 1]!)
      return Math.abs(c - close[i - 10]!) / path
    })
    expectClose(INDICATORS.efficiencyRatio!.compute(data).value!, oracle, 'efficiencyRatio')
    const zigzag = Float64Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 10 : 11))
    expect(INDICATORS.efficiencyRatio!.compute({ close: zigzag }, { period: 10 }).value![11]).toBe(0)
    const ramp = Float64Array.from({ length: 12 }, (_, i) => 10 + i)
    expect(INDICATORS.efficiencyRatio!.compute({ close: ramp }, { period: 10 }).value![11]).toBe(1)
  })

  it('range: (highest high − lowest low)/close over 20 bars', () => {
    const oracle = Array.from(close, (c, i) => (i < 19 ? NaN : (max(window(high, i, 20)) - min(window(low, i, 20))) / c))
    expectClose(INDICATORS.range!.compute(data).value!, oracle, 'range')
  })

  it('vwap: Σ typical price·volume / Σ volume over 20 bars', () => {
    const oracle = Array.from(close, (_, i) => {
      if (i < 19) return NaN
      let pv = 0, v = 0
      for (let j = i - 19; j <= i; j++) ((pv += tp(j) * volume[j]!), (v += volume[j]!))
      return pv / v
    })
    expectClose(INDICATORS.vwap!.compute(data).value!, oracle, 'vwap')
  })

  it('ad: running Σ CLV·volume', () => {
    let total = 0
    const oracle = Array.from(close, (c, i) => (total += ((c - low[i]! - (high[i]! - c)) / (high[i]! - low[i]!)) * volume[i]!))
    expectClose(INDICATORS.ad!.compute(data).value!, oracle, 'ad')
  })

  it('vwapSession: resets at the session anchor (hand-worked, two sessions of hourly bars)', () => {
    const H = 3_600_000
    const t0 = Date.UTC(2024, 0, 1, 20) // 20:00 UTC; sessions start at 22:00 UTC
    const bars = {
      time: Float64Array.from([0, 1, 2, 3, 4], (k) => t0 + k * H), // 20:00 21:00 | 22:00 23:00 00:00
      high: Float64Array.from([11, 13, 21, 22, 30]),
      low: Float64Array.from([9, 11, 19, 20, 24]),
      close: Float64Array.from([10, 12, 20, 21, 27]),
      volume: Float64Array.from([1, 3, 2, 2, 4]),
    }
    // typical prices 10, 12 | 20, 21, 27
    const v = INDICATORS.vwapSession!.compute(bars, { anchorHour: 22 }).value!
    expect(Array.from(v)).toEqual([10, (10 + 36) / 4, 20, (40 + 42) / 4, (40 + 42 + 108) / 8])
  })

  it('supertrend: a hand-worked flip (period 1, k 1)', () => {
    // With period 1 the ATR is the true range of each bar (from the second bar on).
    const bars = {
      high: Float64Array.from([10, 11, 12, 13, 12, 9, 8]),
      low: Float64Array.from([9, 10, 11, 12, 10, 7, 6]),
      close: Float64Array.from([9.5, 10.8, 11.9, 12.8, 10.2, 7.2, 6.5]),
    }
    const r = INDICATORS.supertrend!.compute(bars, { period: 1, k: 1 })
    // bar 1: TR = 11 − 9.5 = 1.5, mid 10.5 → lower 9, upper 12; close 10.8 ≥ mid: up, value = lower 9
    // bar 2: TR = 12 − 10.8 = 1.2, mid 11.5 → basic lower 10.3 > 9: lower 10.3; up
    // bar 3: TR = 13 − 11.9 = 1.1, mid 12.5 → basic lower 11.4: lower 11.4; up
    //   (the upper band: 12 at bar 1; basic 12.7 and 13.6 at bars 2–3 do not tighten it, so 12)
    // bar 4: TR = 12.8 − 10 = 2.8, mid 11 → basic lower 8.2 does not raise the lower band: 11.4. The
    //        previous close 12.8 was above the upper band 12, so it resets to basic 13.8. Close 10.2 < 11.4:
    //        the trend flips down and the value is the upper band, 13.8.
    expect(Array.from(r.trend!)).toEqual([NaN, 1, 1, 1, -1, -1, -1])
    expect(r.value![1]).toBeCloseTo(9, 12)
    expect(r.value![2]).toBeCloseTo(10.3, 12)
    expect(r.value![3]).toBeCloseTo(11.4, 12)
    expect(r.value![4]).toBeCloseTo(13.8, 12)
  })

  it('sar defaults: causal start and the 0.2 cap (hand-worked)', () => {
    // A steady rise: each bar a new high, so the factor steps 0.02, 0.04, … and stops at 0.2.
    const n = 15
    const high = Float64Array.from({ length: n }, (_, i) => 11 + i)
    const low = Float64Array.from({ length: n }, (_, i) => 10 + i)
    const sar = INDICATORS.sar!.compute({ high, low }).value!
    // bar 0: stop = low − (high − low) = 9, ep = 11, af = 0.02
    expect(sar[0]).toBe(9)
    // bar 1: 9 + (11 − 9)·0.02 = 9.04 (then clamped under the lows 10, 11: stays 9.04); ep 12, af 0.04
    expect(sar[1]).toBeCloseTo(9.04, 12)
    // bar 2: 9.04 + (12 − 9.04)·0.04 = 9.1584
    expect(sar[2]).toBeCloseTo(9.1584, 12)
    // replay with a capped factor: af_k = min(0.02·(k+1), 0.2)
    let value = 9
    let ep = 11
    let af = 0.02
    for (let i = 1; i < n; i++) {
      value = Math.min(value + (ep - value) * af, low[i - 1]!, low[i]!)
      ep = high[i]!
      af = Math.min(af + 0.02, 0.2)
      expect(sar[i], `bar ${i}`).toBeCloseTo(value, 9)
    }
  })
})
