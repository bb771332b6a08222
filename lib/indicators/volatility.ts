// Volatility and bands: tr, atr, bbands, keltner, donchian, stdev, volatility, supertrend — TTR's
// definitions (true range NaN on the first bar; ATR a Wilder EMA; Bollinger on the population sd,
// computed afresh for each window as TTR's runSD does).

import { columns, define, param, period } from './define.js'
import { single } from './averages.js'
import { Ema, ExactSum, HighLow, Ring, Sma, trueRange } from './primitives.js'

/** Typical price (h + l + c)/3, correctly rounded as R's mean() gives it (one correction pass). */
export function typicalPrice(h: number, l: number, c: number): number {
  const s = (h + l + c) / 3
  return s + (h - s + (l - s) + (c - s)) / 3
}

/** True range: max(h, previous close) − min(l, previous close); NaN on the first bar. */
export class TrueRange {
  private prevClose = NaN
  push(h: number, l: number, c: number): number {
    const tr = trueRange(h, l, this.prevClose)
    this.prevClose = c
    return tr
  }
}

/**
 * Standard deviation of the last n values, over n (population) or n − 1 (sample), computed in two passes
 * for every window as TTR's runSD does (mean as Σ x/n oldest first, then Σ (x − mean)² newest first): a
 * function of the window alone. (A sliding Welford update between exact recomputations every 256 bars
 * carried the rounding of the bars before, and the phase of the recomputations was set by the series'
 * first bar: a live session warm-started from the last 300 bars and the backtest over the lake disagreed,
 * through a halt zscore Infinity against 1.3e-7.) O(n) per bar.
 */
export class RollingSd {
  private readonly ring: Ring
  private started = false
  private nans = 0

  constructor(
    readonly n: number,
    private readonly sample: boolean,
  ) {
    this.ring = new Ring(n)
  }

  push(x: number): number {
    if (!this.started) {
      if (x !== x) return NaN
      this.started = true
    }
    const n = this.n
    const full = this.ring.full
    const old = this.ring.push(x)
    if (x !== x) this.nans++
    if (full && old !== old) this.nans--
    if (!this.ring.full || this.nans > 0) return NaN
    let mean = 0
    for (let j = n - 1; j >= 0; j--) mean += this.ring.get(j) / n
    let m2 = 0
    for (let j = 0; j < n; j++) {
      const d = this.ring.get(j) - mean
      m2 += d * d
    }
    return Math.sqrt(m2 / (this.sample ? n - 1 : n))
  }
}

export const tr = define({
  name: 'tr',
  description: 'True range: max(high, previous close) − min(low, previous close); NaN on the first bar',
  inputs: ['high', 'low', 'close'],
  params: {},
  outputs: ['value'],
  machine: () => {
    const t = new TrueRange()
    const out = new Float64Array(1)
    return {
      out,
      step: (_o, h, l, c) => (out[0] = t.push(h, l, c)),
    }
  },
})

/** ATR one bar at a time: TrueRange + Wilder's EMA, fused (the same arithmetic as atrKernel). */
export class AtrState {
  private readonly ratio: number
  private readonly keep: number
  private prevClose = NaN
  private seen = 0
  private value = 0

  constructor(readonly n: number) {
    this.ratio = 1 / n
    this.keep = 1 - this.ratio
  }

  push(h: number, l: number, c: number): number {
    const t = trueRange(h, l, this.prevClose)
    this.prevClose = c
    if (t !== t) return NaN
    if (this.seen < this.n) {
      this.value += t / this.n
      return ++this.seen === this.n ? this.value : NaN
    }
    return (this.value = t * this.ratio + this.value * this.keep)
  }
}

export const atr = define({
  name: 'atr',
  description: "Average true range: Wilder's EMA (ratio 1/n) of the true range",
  inputs: ['high', 'low', 'close'],
  params: { period: period(14) },
  outputs: ['value'],
  machine: (p) => {
    const state = new AtrState(p.period!)
    const out = new Float64Array(1)
    return {
      out,
      hlc: state,
      step: (_o, h, l, c) => (out[0] = state.push(h, l, c)),
    }
  },
  batch: (inputs, p, n) => [atrKernel(inputs.high, inputs.low, inputs.close, p.period!, n)],
})

/** ATR as one array loop: the operations of TrueRange + Ema(wilder). */
export function atrKernel(high: Float64Array, low: Float64Array, close: Float64Array, period: number, length = close.length): Float64Array {
  const out = new Float64Array(length).fill(NaN)
  const ratio = 1 / period
  const keep = 1 - ratio
  let prevClose = NaN
  let seen = 0
  let value = 0
  for (let i = 0; i < length; i++) {
    const t = trueRange(high[i]!, low[i]!, prevClose)
    prevClose = close[i]!
    if (t !== t) continue
    if (seen < period) {
      value += t / period
      if (++seen === period) out[i] = value
      continue
    }
    out[i] = value = t * ratio + value * keep
  }
  return out
}

export const natr = define({
  name: 'natr',
  description: 'Normalised ATR: 100·ATR(n)/close',
  inputs: ['high', 'low', 'close'],
  params: { period: period(14) },
  outputs: ['value'],
  machine: (p) => {
    const t = new TrueRange()
    const e = new Ema(p.period!, true)
    const out = new Float64Array(1)
    return {
      out,
      step: (_o, h, l, c) => (out[0] = (100 * e.push(t.push(h, l, c))) / c),
    }
  },
})

export const bbands = define({
  name: 'bbands',
  description: 'Bollinger bands: SMA ± k population standard deviations over n bars; pctb = (x − lower)/(upper − lower), width = (upper − lower)/mid',
  inputs: ['close'],
  params: { period: period(20), k: param(2, 'standard deviations', { min: 0, max: 100, integer: false }) },
  outputs: ['lower', 'mid', 'upper', 'pctb', 'width'],
  batch: (inputs, p, n) => bbandsKernel(inputs.close, p.period!, p.k!, n),
  machine: (p) => {
    const mid = new Sma(p.period!)
    const sd = new RollingSd(p.period!, false)
    const k = p.k!
    const out = new Float64Array(5)
    return {
      out,
      step(_o, _h, _l, c) {
        const m = mid.push(c)
        const s = sd.push(c)
        const upper = m + k * s
        const lower = m - k * s
        out[1] = m
        out[2] = upper
        out[3] = (c - lower) / (upper - lower)
        out[4] = (upper - lower) / m
        return (out[0] = lower)
      },
    }
  },
})

/**
 * Bollinger bands as one array loop: the operations of Sma + RollingSd (population), fused. Outputs
 * lower, mid, upper, pctb, width.
 */
export function bbandsKernel(x: Float64Array, n: number, k: number, length = x.length): Float64Array[] {
  const [lower, mid, upper, pctb, width] = columns(5, length) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array]
  let start = 0
  while (start < length && x[start] !== x[start]) {
    lower[start] = mid[start] = upper[start] = pctb[start] = width[start] = NaN
    start++
  }
  const sum = new ExactSum()
  let nans = 0
  for (let i = start; i < length; i++) {
    const v = x[i]!
    // Sma: exact window sum, NaN-aware
    if (v === v) sum.add(v)
    else nans++
    if (i - start >= n) {
      const old = x[i - n]!
      if (old === old) sum.remove(old)
      else nans--
    }
    if (i - start < n - 1 || nans > 0) {
      lower[i] = mid[i] = upper[i] = pctb[i] = width[i] = NaN
      continue
    }
    const m = sum.value() / n
    // RollingSd (population): two passes over the window
    let mu = 0
    for (let j = i - n + 1; j <= i; j++) mu += x[j]! / n
    let m2 = 0
    for (let j = i; j > i - n; j--) {
      const d = x[j]! - mu
      m2 += d * d
    }
    const sd = Math.sqrt(m2 / n)
    const up = m + k * sd
    const lo = m - k * sd
    lower[i] = lo
    mid[i] = m
    upper[i] = up
    pctb[i] = (v - lo) / (up - lo)
    width[i] = (up - lo) / m
  }
  return [lower, mid, upper, pctb, width]
}

export const keltner = define({
  name: 'keltner',
  description: 'Keltner channels: EMA of the typical price ± k × ATR(n) (Wilder)',
  inputs: ['high', 'low', 'close'],
  params: { period: period(20), k: param(2, 'ATR multiples', { min: 0, max: 100, integer: false }) },
  outputs: ['lower', 'mid', 'upper'],
  machine: (p) => {
    const mid = new Ema(p.period!)
    const t = new TrueRange()
    const a = new Ema(p.period!, true)
    const k = p.k!
    const out = new Float64Array(3)
    return {
      out,
      step(_o, h, l, c) {
        const m = mid.push(typicalPrice(h, l, c))
        const range = k * a.push(t.push(h, l, c))
        out[1] = m
        out[2] = m + range
        return (out[0] = m - range)
      },
    }
  },
})

export const donchian = define({
  name: 'donchian',
  description: 'Donchian channel: highest high and lowest low of the last n bars (this bar included), and their midpoint',
  inputs: ['high', 'low'],
  params: { period: period(20) },
  outputs: ['high', 'mid', 'low'],
  machine: (p) => {
    const range = new HighLow(p.period!)
    const out = new Float64Array(3)
    return {
      out,
      step(_o, h, l) {
        const { high, low } = range.push(h, l)
        out[1] = (high + low) / 2
        out[2] = low
        return (out[0] = high)
      },
    }
  },
})

export const stdev = define({
  name: 'stdev',
  description: 'Sample standard deviation of the close over n bars',
  inputs: ['close'],
  params: { period: period(20, 'bars in the window (≥ 2)') },
  outputs: ['value'],
  machine: (p) => {
    const sd = new RollingSd(p.period!, true)
    return single((x) => sd.push(x))
  },
})

export const volatility = define({
  name: 'volatility',
  description: 'Close-to-close volatility: sample sd of the last n − 1 log returns × √annualization (TTR calc="close")',
  inputs: ['close'],
  params: { period: period(20, 'prices in the window (≥ 3)'), annualization: param(252, 'periods per year', { min: 1, max: 1_000_000 }) },
  outputs: ['value'],
  machine: (p) => {
    const sd = new RollingSd(Math.max(2, p.period! - 1), true)
    const scale = Math.sqrt(p.annualization!)
    let prev = NaN
    return single((x) => {
      const r = Math.log(x) - Math.log(prev)
      if (!Number.isNaN(x)) prev = x
      return scale * sd.push(r)
    })
  },
})

export const supertrend = define({
  name: 'supertrend',
  description: 'SuperTrend: a trailing band at (h + l)/2 ∓ k·ATR(n) that flips sides when the close crosses it; trend +1 (up) or −1 (down)',
  inputs: ['high', 'low', 'close'],
  params: { period: period(10), k: param(3, 'ATR multiples', { min: 0, max: 100, integer: false }) },
  outputs: ['value', 'trend'],
  machine: (p) => {
    const t = new TrueRange()
    const a = new Ema(p.period!, true)
    const k = p.k!
    let upper = NaN
    let lower = NaN
    let trend = 0
    let prevClose = NaN
    const out = new Float64Array(2)
    return {
      out,
      step(_o, h, l, c) {
        const range = a.push(t.push(h, l, c))
        if (Number.isNaN(range)) {
          prevClose = c
          out[1] = NaN
          return (out[0] = NaN)
        }
        const mid = (h + l) / 2
        const basicUpper = mid + k * range
        const basicLower = mid - k * range
        // Bands only tighten while the close stays inside them.
        upper = Number.isNaN(upper) || basicUpper < upper || prevClose > upper ? basicUpper : upper
        lower = Number.isNaN(lower) || basicLower > lower || prevClose < lower ? basicLower : lower
        if (trend === 0) trend = c >= mid ? 1 : -1
        else if (trend === 1 && c < lower) trend = -1
        else if (trend === -1 && c > upper) trend = 1
        prevClose = c
        out[1] = trend
        return (out[0] = trend === 1 ? lower : upper)
      },
    }
  },
})
