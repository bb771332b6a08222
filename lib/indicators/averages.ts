// Moving averages: sma, ema, wma, dema, hma, zlema, vwma, kama — TTR's definitions (EMA seeded with
// the SMA of its first n values; HMA with floor(n/2) and floor(√n); ZLEMA's fractional lag).

import { define, period, type Machine, type Params, type SeriesName } from './define.js'
import { Ema, ExactSum, Ring, RollingSum, Sma, Wma } from './primitives.js'

/**
 * A single-output machine from a function of one input series, or a state object with push(x) (one
 * closure per series: no dispatch per bar; a state object lets streams call its push directly).
 */
export function single(fn: ((x: number) => number) | { push(x: number): number }, input: SeriesName = 'close'): Machine {
  const out = new Float64Array(1)
  const state = typeof fn === 'function' ? { push: fn } : fn
  const push = typeof fn === 'function' ? fn : (x: number) => fn.push(x)
  switch (input) {
    case 'open':
      return { out, input, state, step: (o) => (out[0] = push(o)) }
    case 'high':
      return { out, input, state, step: (_o, h) => (out[0] = push(h)) }
    case 'low':
      return { out, input, state, step: (_o, _h, l) => (out[0] = push(l)) }
    case 'close':
      return { out, input, state, step: (_o, _h, _l, c) => (out[0] = push(c)) }
    case 'volume':
      return { out, input, state, step: (_o, _h, _l, _c, v) => (out[0] = push(v)) }
    case 'time':
      return { out, input, state, step: (_o, _h, _l, _c, _v, t) => (out[0] = push(t)) }
  }
}

export const sma = define({
  name: 'sma',
  description: 'Simple moving average of the close',
  inputs: ['close'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => {
    const m = new Sma(p.period!)
    return single(m)
  },
  batch: (inputs, p, n) => [smaKernel(inputs.close, p.period!, n)],
})

/** SMA as one array loop, the same operations as Sma (an exact window sum, NaN-aware). */
export function smaKernel(x: Float64Array, n: number, length = x.length): Float64Array {
  const out = new Float64Array(length)
  let start = 0
  while (start < length && Number.isNaN(x[start]!)) out[start++] = NaN
  const sum = new ExactSum()
  let nans = 0
  for (let i = start; i < length; i++) {
    const v = x[i]!
    if (v === v) sum.add(v)
    else nans++
    if (i - start >= n) {
      const old = x[i - n]!
      if (old === old) sum.remove(old)
      else nans--
    }
    out[i] = i - start >= n - 1 && nans === 0 ? sum.value() / n : NaN
  }
  return out
}

export const ema = define({
  name: 'ema',
  description: 'Exponential moving average (ratio 2/(n+1), seeded with the SMA of the first n values)',
  inputs: ['close'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => {
    const m = new Ema(p.period!)
    return single(m)
  },
  batch: (inputs, p, n) => [emaKernel(inputs.close, p.period!, false, n)],
})

/** EMA as one array loop, the same operations as Ema. */
export function emaKernel(x: Float64Array, n: number, wilder: boolean, length = x.length): Float64Array {
  const out = new Float64Array(length).fill(NaN)
  const ratio = wilder ? 1 / n : 2 / (n + 1)
  const keep = 1 - ratio
  let seen = 0
  let seed = 0
  let value = NaN
  for (let i = 0; i < length; i++) {
    const v = x[i]!
    if (v !== v) continue
    if (seen < n) {
      seed += v / n
      if (++seen === n) out[i] = value = seed
      continue
    }
    out[i] = value = v * ratio + value * keep
  }
  return out
}

export const wma = define({
  name: 'wma',
  description: 'Weighted moving average, weights 1…n (newest heaviest)',
  inputs: ['close'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => {
    const m = new Wma(p.period!)
    return single((x) => m.push(x))
  },
})

export const dema = define({
  name: 'dema',
  description: 'Double EMA: 2·EMA(x) − EMA(EMA(x))',
  inputs: ['close'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => {
    const e1 = new Ema(p.period!)
    const e2 = new Ema(p.period!)
    return single((x) => {
      const a = e1.push(x)
      return 2 * a - e2.push(a)
    })
  },
})

export const tema = define({
  name: 'tema',
  description: 'Triple EMA: 3·EMA(x) − 3·EMA(EMA(x)) + EMA(EMA(EMA(x)))',
  inputs: ['close'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => {
    const e1 = new Ema(p.period!)
    const e2 = new Ema(p.period!)
    const e3 = new Ema(p.period!)
    return single((x) => {
      const a = e1.push(x)
      const b = e2.push(a)
      return 3 * a - 3 * b + e3.push(b)
    })
  },
})

export const hma = define({
  name: 'hma',
  description: 'Hull moving average: WMA(2·WMA(x, n/2) − WMA(x, n), √n), halves and roots rounded down',
  inputs: ['close'],
  params: { period: period(20, 'bars in the window (≥ 2)') },
  outputs: ['value'],
  machine: (p) => {
    const n = p.period!
    const half = new Wma(Math.max(1, Math.floor(n / 2)))
    const full = new Wma(n)
    const outer = new Wma(Math.max(1, Math.floor(Math.sqrt(n))))
    return single((x) => outer.push(2 * half.push(x) - full.push(x)))
  },
})

export const zlema = define({
  name: 'zlema',
  description: "Zero-lag EMA: the EMA of 2·x − x lagged (n+1)/2 bars (a fractional lag interpolates), as TTR's ZLEMA",
  inputs: ['close'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => zlemaMachine(p),
})

function zlemaMachine(p: Params): Machine {
  const n = p.period!
  const ratio = 2 / (n + 1)
  const lag = 1 / ratio
  const wt = lag % 1
  const w1 = 1 - wt
  // TTR: loc = (int)(i − lag); value = 2·x[i] − (w1·x[loc] + wt·x[loc+1]), i.e. loc = i − ⌈lag⌉.
  const back = Math.ceil(lag)
  const ring = new Ring(back + 1)
  let seen = 0
  let seed = 0
  let value = NaN
  return single((x) => {
    if (Number.isNaN(x) && seen === 0) return NaN
    ring.push(x)
    if (seen < n) {
      seed += x / n
      if (++seen === n) value = seed
      return seen === n ? value : NaN
    }
    const v = 2 * x - (w1 * ring.get(back) + wt * ring.get(back - 1))
    if (Number.isNaN(v)) return NaN // a missing bar: skipped
    value = ratio * v + (1 - ratio) * value
    return value
  })
}

export const vwma = define({
  name: 'vwma',
  description: 'Volume-weighted moving average: Σ close·volume / Σ volume over n bars',
  inputs: ['close', 'volume'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => {
    const pv = new RollingSum(p.period!)
    const vol = new RollingSum(p.period!)
    const out = new Float64Array(1)
    return {
      out,
      step(_o, _h, _l, c, v) {
        return (out[0] = pv.push(c * v) / vol.push(v))
      },
    }
  },
})

export const kama = define({
  name: 'kama',
  description: "Kaufman's adaptive moving average: efficiency ratio over n bars scales the smoothing between 2/(fast+1) and 2/(slow+1), squared; starts at the close of bar n",
  inputs: ['close'],
  params: { period: period(10), fast: period(2, 'fast EMA length'), slow: period(30, 'slow EMA length') },
  outputs: ['value'],
  machine: (p) => {
    const n = p.period!
    const fastSc = 2 / (p.fast! + 1)
    const slowSc = 2 / (p.slow! + 1)
    const closes = new Ring(n + 1)
    const noise = new RollingSum(n)
    let value = NaN
    let count = 0
    return single((x) => {
      if (Number.isNaN(x)) return NaN // a missing bar: skipped
      const prev = closes.count > 0 ? closes.get(0) : NaN
      closes.push(x)
      count++
      const volatility = noise.push(count > 1 ? Math.abs(x - prev) : NaN)
      if (count <= n) {
        if (count === n) value = x
        return count === n ? value : NaN
      }
      const change = Math.abs(x - closes.get(n))
      const er = volatility > 0 ? change / volatility : 0
      const sc = (er * (fastSc - slowSc) + slowSc) ** 2
      value = value + sc * (x - value)
      return value
    })
  },
})

