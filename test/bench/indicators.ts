// The indicator rows of `npm run bench` (1,000,000 bars of a seeded random walk):
//   batch kernels against a hand-written single-pass Float64Array loop of the same formula (ratio ≤ 1.5),
//   against technicalindicators, trading-signals and @ixjb94/indicators (ratio < 1: faster), and
//   streaming updates in ns per bar (≤ 50 ns for sma, ema, rsi, atr).

import { IndicatorsSync } from '@ixjb94/indicators'
import * as ti from 'technicalindicators'
import * as tsig from 'trading-signals'
import { collect, median, time, type BenchRow } from './timing.js'
import { createStream, INDICATORS } from '../../lib/indicators/index.js'
import { walk } from './indicator-case.js'

const N = 1_000_000

// ---- hand-written single-pass loops, the same formulas as the library's ----

function handSma(x: Float64Array, n: number): Float64Array {
  const out = new Float64Array(x.length).fill(NaN)
  let sum = 0
  for (let i = 0; i < x.length; i++) {
    sum += x[i]!
    if (i >= n) sum -= x[i - n]!
    if (i >= n - 1) out[i] = sum / n
  }
  return out
}

function handEma(x: Float64Array, n: number, ratio = 2 / (n + 1)): Float64Array {
  const out = new Float64Array(x.length).fill(NaN)
  let seed = 0
  for (let i = 0; i < n; i++) seed += x[i]! / n
  out[n - 1] = seed
  for (let i = n; i < x.length; i++) out[i] = x[i]! * ratio + out[i - 1]! * (1 - ratio)
  return out
}

function handRsi(x: Float64Array, n: number): Float64Array {
  const out = new Float64Array(x.length).fill(NaN)
  let up = 0
  let down = 0
  for (let i = 1; i <= n; i++) {
    const d = x[i]! - x[i - 1]!
    up += (d > 0 ? d : 0) / n
    down += (d < 0 ? -d : 0) / n
  }
  out[n] = (100 * up) / (up + down)
  for (let i = n + 1; i < x.length; i++) {
    const d = x[i]! - x[i - 1]!
    up = (d > 0 ? d : 0) / n + up * (1 - 1 / n)
    down = (d < 0 ? -d : 0) / n + down * (1 - 1 / n)
    out[i] = (100 * up) / (up + down)
  }
  return out
}

function handTr(h: Float64Array, l: Float64Array, c: Float64Array): Float64Array {
  const tr = new Float64Array(c.length)
  tr[0] = NaN
  for (let i = 1; i < c.length; i++) tr[i] = Math.max(h[i]!, c[i - 1]!) - Math.min(l[i]!, c[i - 1]!)
  return tr
}

function handAtr(h: Float64Array, l: Float64Array, c: Float64Array, n: number): Float64Array {
  const out = new Float64Array(c.length).fill(NaN)
  let v = 0
  for (let i = 1; i <= n; i++) v += (Math.max(h[i]!, c[i - 1]!) - Math.min(l[i]!, c[i - 1]!)) / n
  out[n] = v
  for (let i = n + 1; i < c.length; i++) out[i] = v = (Math.max(h[i]!, c[i - 1]!) - Math.min(l[i]!, c[i - 1]!)) / n + v * (1 - 1 / n)
  return out
}

function handBbands(x: Float64Array, n: number, k: number): Float64Array[] {
  // Running sum for the mid; the variance slides in O(1) (Welford's replace-one update), recomputed
  // exactly every 256 bars — the library's formula.
  const lower = new Float64Array(x.length).fill(NaN)
  const mid = new Float64Array(x.length).fill(NaN)
  const upper = new Float64Array(x.length).fill(NaN)
  const pctb = new Float64Array(x.length).fill(NaN)
  const width = new Float64Array(x.length).fill(NaN)
  let sum = 0
  let mean = 0
  let m2 = 0
  let since = 0
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!
    sum += v
    if (i >= n) sum -= x[i - n]!
    if (i < n - 1) continue
    if (i === n - 1 || since === 256) {
      mean = 0
      for (let j = i - n + 1; j <= i; j++) mean += x[j]! / n
      m2 = 0
      for (let j = i; j > i - n; j--) m2 += (x[j]! - mean) * (x[j]! - mean)
      since = 0
    } else {
      const old = x[i - n]!
      const before = mean
      mean = before + (v - old) / n
      m2 += (v - old) * (v - mean + (old - before))
      since++
    }
    const m = sum / n
    const sd = Math.sqrt(m2 / n)
    mid[i] = m
    upper[i] = m + k * sd
    lower[i] = m - k * sd
    pctb[i] = (v - lower[i]!) / (upper[i]! - lower[i]!)
    width[i] = (upper[i]! - lower[i]!) / m
  }
  return [lower, mid, upper, pctb, width]
}

function handMacd(x: Float64Array): Float64Array[] {
  const fast = handEma(x, 12)
  const slow = handEma(x, 26)
  const macd = new Float64Array(x.length)
  for (let i = 0; i < x.length; i++) macd[i] = fast[i]! - slow[i]!
  const signal = new Float64Array(x.length).fill(NaN)
  signal.set(handEma(macd.subarray(25), 9), 25)
  const hist = new Float64Array(x.length)
  for (let i = 0; i < x.length; i++) hist[i] = macd[i]! - signal[i]!
  return [macd, signal, hist]
}

function handAdx(h: Float64Array, l: Float64Array, c: Float64Array, n: number): Float64Array[] {
  const len = c.length
  const tr = handTr(h, l, c)
  const plus = new Float64Array(len)
  const minus = new Float64Array(len)
  for (let i = 1; i < len; i++) {
    const dH = h[i]! - h[i - 1]!
    const dL = l[i - 1]! - l[i]!
    plus[i] = dH > dL && dH > 0 ? dH : 0
    minus[i] = dL > dH && dL > 0 ? dL : 0
  }
  const decay = (n - 1) / n
  const wilderSum = (x: Float64Array) => {
    const out = new Float64Array(len).fill(NaN)
    let sum = 0
    for (let i = 1; i < n; i++) sum += x[i]!
    out[n] = x[n]! + sum * decay
    for (let i = n + 1; i < len; i++) out[i] = x[i]! + out[i - 1]! * decay
    return out
  }
  const trs = wilderSum(tr)
  const p = wilderSum(plus)
  const m = wilderSum(minus)
  const plusDi = new Float64Array(len)
  const minusDi = new Float64Array(len)
  const dx = new Float64Array(len)
  for (let i = 0; i < len; i++) {
    const scale = 100 / trs[i]!
    plusDi[i] = p[i]! * scale
    minusDi[i] = m[i]! * scale
    dx[i] = 100 * (Math.abs(plusDi[i]! - minusDi[i]!) / (plusDi[i]! + minusDi[i]!))
  }
  const adx = new Float64Array(len).fill(NaN)
  adx.set(handEma(dx.subarray(n), n, 1 / n), n)
  return [plusDi, minusDi, adx]
}

export function benchIndicators(progress: (text: string) => void, runs: number, only?: readonly string[]): BenchRow[] {
  const rows: BenchRow[] = []
  const { high, low, close } = walk()
  const bars = { high, low, close }
  const arrays = { high: Array.from(high), low: Array.from(low), close: Array.from(close) }
  const ixSync = new IndicatorsSync()
  const libRuns = Math.max(3, Math.floor(runs / 2))

  const cases: { name: string; ours: () => unknown; hand: () => unknown; libs: Record<string, () => unknown> }[] = [
    {
      name: 'sma(20)',
      ours: () => INDICATORS.sma!.compute(bars, { period: 20 }),
      hand: () => handSma(close, 20),
      libs: {
        technicalindicators: () => ti.SMA.calculate({ period: 20, values: arrays.close }),
        'trading-signals': () => {
          const s = new tsig.SMA(20)
          for (const v of arrays.close) s.add(v)
        },
        '@ixjb94/indicators': () => ixSync.sma(arrays.close, 20),
      },
    },
    {
      name: 'ema(20)',
      ours: () => INDICATORS.ema!.compute(bars, { period: 20 }),
      hand: () => handEma(close, 20),
      libs: {
        technicalindicators: () => ti.EMA.calculate({ period: 20, values: arrays.close }),
        'trading-signals': () => {
          const s = new tsig.EMA(20)
          for (const v of arrays.close) s.add(v)
        },
        '@ixjb94/indicators': () => ixSync.ema(arrays.close, 20),
      },
    },
    {
      name: 'rsi(14)',
      ours: () => INDICATORS.rsi!.compute(bars, { period: 14 }),
      hand: () => handRsi(close, 14),
      libs: {
        technicalindicators: () => ti.RSI.calculate({ period: 14, values: arrays.close }),
        'trading-signals': () => {
          const s = new tsig.RSI(14)
          for (const v of arrays.close) s.add(v)
        },
        '@ixjb94/indicators': () => ixSync.rsi(arrays.close, 14),
      },
    },
    {
      name: 'atr(14)',
      ours: () => INDICATORS.atr!.compute(bars, { period: 14 }),
      hand: () => handAtr(high, low, close, 14),
      libs: {
        technicalindicators: () => ti.ATR.calculate({ period: 14, high: arrays.high, low: arrays.low, close: arrays.close }),
        'trading-signals': () => {
          const s = new tsig.ATR(14)
          for (let i = 0; i < N; i++) s.add({ high: arrays.high[i]!, low: arrays.low[i]!, close: arrays.close[i]! })
        },
        '@ixjb94/indicators': () => ixSync.atr(arrays.high, arrays.low, arrays.close, 14),
      },
    },
    {
      name: 'bbands(20, 2)',
      ours: () => INDICATORS.bbands!.compute(bars, { period: 20, k: 2 }),
      hand: () => handBbands(close, 20, 2),
      libs: {
        technicalindicators: () => ti.BollingerBands.calculate({ period: 20, stdDev: 2, values: arrays.close }),
        'trading-signals': () => {
          const s = new tsig.BollingerBands(20, 2)
          for (const v of arrays.close) s.add(v)
        },
        '@ixjb94/indicators': () => ixSync.bbands(arrays.close, 20, 2),
      },
    },
    {
      name: 'macd(12, 26, 9)',
      ours: () => INDICATORS.macd!.compute(bars, { fast: 12, slow: 26, signal: 9 }),
      hand: () => handMacd(close),
      libs: {
        technicalindicators: () =>
          ti.MACD.calculate({ fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, SimpleMAOscillator: false, SimpleMASignal: false, values: arrays.close }),
        'trading-signals': () => {
          const s = new tsig.MACD(new tsig.EMA(12), new tsig.EMA(26), new tsig.EMA(9))
          for (const v of arrays.close) s.add(v)
        },
        '@ixjb94/indicators': () => ixSync.macd(arrays.close, 12, 26, 9),
      },
    },
    {
      name: 'adx(14)',
      ours: () => INDICATORS.adx!.compute(bars, { period: 14 }),
      hand: () => handAdx(high, low, close, 14),
      libs: {
        technicalindicators: () => ti.ADX.calculate({ period: 14, high: arrays.high, low: arrays.low, close: arrays.close }),
        'trading-signals': () => {
          const s = new tsig.ADX(14)
          for (let i = 0; i < N; i++) s.add({ high: arrays.high[i]!, low: arrays.low[i]!, close: arrays.close[i]! })
        },
        '@ixjb94/indicators': () => ixSync.adx(arrays.high, arrays.low, 14),
      },
    },
  ]

  const perBar = (ms: number) => `${((ms * 1e6) / N).toFixed(1)} ns/bar`
  const chosen = cases.filter((c) => only === undefined || only.includes(c.name.replace(/\(.*$/, '')))
  if (chosen.length === 0) throw new Error(`no indicator case named ${only?.join(', ')}`)
  for (const c of chosen) {
    progress(`indicators: ${c.name}`)
    const ours = time(c.ours, runs)
    const hand = time(c.hand, runs)
    rows.push({ workload: `indicator ${c.name}, 1M bars (batch)`, median: ours, throughput: perBar(ours), reference: `hand loop ${hand.toFixed(1)} ms`, ratio: (ours / hand).toFixed(2) })
    for (const [lib, fn] of Object.entries(c.libs)) {
      progress(`indicators: ${c.name} ${lib}`)
      const theirs = time(fn, libRuns)
      rows.push({ workload: `  vs ${lib}`, median: theirs, throughput: perBar(theirs), reference: `ours ${ours.toFixed(1)} ms`, ratio: (ours / theirs).toFixed(2) })
    }
  }

  return rows
}

/**
 * One streaming indicator, created once (as a live feed holds it), fed 1M bars per timed pass
 * through createStream(…).update(bar), the bar object reused (the feed's own cost excluded). Run in a
 * process of its own: the figure is this update's steady state, not other streams' type feedback.
 */
class FeedBar {
  high = NaN
  low = NaN
  close = NaN
}

export function benchStream(name: string, runs: number): BenchRow {
  const { high, low, close } = walk()
  const stream = createStream(name)
  // A class, not { high: 0, low: 0, close: 0 }: that literal would share its shape with walk()'s
  // { high, low, close } of arrays, and every number stored in it would then be allocated.
  const bar = new FeedBar()
  const ms = time(() => {
    let sink = 0
    for (let i = 0; i < N; i++) {
      bar.high = high[i]!
      bar.low = low[i]!
      bar.close = close[i]!
      sink += stream.update(bar).value!
    }
    return sink
  }, runs, 3) // a live stream runs long: measured once the JIT has settled
  return { workload: `stream ${name} update, 1M bars`, median: ms, throughput: `${((ms * 1e6) / N).toFixed(1)} ns/bar`, reference: 'target 50 ns/bar', ratio: ((ms * 1e6) / N / 50).toFixed(2) }
}
