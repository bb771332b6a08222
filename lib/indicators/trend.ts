// Trend direction and strength: adx, aroon, sar, vhf, ichimoku, linreg (slope and R² of the
// best-fit line), efficiencyRatio, range. ADX and aroon follow TTR exactly; sar follows TTR's
// algorithm with two deliberate corrections (see its description).

import { columns, define, param, period } from './define.js'
import { single } from './averages.js'
import { Ema, HighLow, positive, Ring, RollingSum, trueRange } from './primitives.js'
import { TrueRange } from './volatility.js'

/**
 * TTR's wilderSum: the first output (after n − 1 real values) is x + (Σ of those n − 1 values)·(n−1)/n,
 * then x + previous·(n−1)/n. (TTR divides by n each bar; multiplying by the precomputed (n−1)/n
 * differs by ≤ 1 ulp per step and the recursion damps it: ~1e-16 relative, a division saved per bar.)
 */
export class WilderSum {
  private readonly decay: number
  private seen = 0
  private sum = 0
  private value = NaN

  constructor(readonly n: number) {
    this.decay = (n - 1) / n
  }

  push(x: number): number {
    if (x !== x) return NaN // leading: not started; later: a missing bar, skipped
    if (this.seen < this.n - 1) {
      this.sum += x
      this.seen++
      return NaN
    }
    this.value = x + (this.seen === this.n - 1 ? this.sum : this.value) * this.decay
    this.seen = this.n
    return this.value
  }
}

/** Wilder's directional movement, one bar at a time: +DI, −DI (wilderSum-smoothed) and ADX. */
export class AdxState {
  private readonly t = new TrueRange()
  private readonly trSum: WilderSum
  private readonly plusSum: WilderSum
  private readonly minusSum: WilderSum
  private readonly smooth: Ema
  private prevHigh = NaN
  private prevLow = NaN
  plusDi = NaN
  minusDi = NaN

  constructor(n: number) {
    this.trSum = new WilderSum(n)
    this.plusSum = new WilderSum(n)
    this.minusSum = new WilderSum(n)
    this.smooth = new Ema(n, true)
  }

  /** The ADX after this bar; plusDi and minusDi are updated too. */
  push(h: number, l: number, c: number): number {
    const dH = h - this.prevHigh
    const dL = -(l - this.prevLow)
    this.prevHigh = h
    this.prevLow = l
    // TTR: 0 when both moves are equal or both negative, else the larger one on its side.
    const bad = dH + dL !== dH + dL
    const plus = bad ? NaN : positive(dH) * +(dH > dL)
    const minus = bad ? NaN : positive(dL) * +(dL > dH)
    const scale = 100 / this.trSum.push(this.t.push(h, l, c))
    this.plusDi = this.plusSum.push(plus) * scale
    this.minusDi = this.minusSum.push(minus) * scale
    return this.smooth.push(100 * (Math.abs(this.plusDi - this.minusDi) / (this.plusDi + this.minusDi)))
  }
}

export const adx = define({
  name: 'adx',
  description: "Directional movement (Wilder): +DI and −DI over n bars, and ADX = Wilder's EMA of DX",
  inputs: ['high', 'low', 'close'],
  params: { period: period(14) },
  outputs: ['plus_di', 'minus_di', 'adx'],
  batch: (inputs, p, n) => adxKernel(inputs.high, inputs.low, inputs.close, p.period!, n),
  machine: (p) => {
    const state = new AdxState(p.period!)
    const out = new Float64Array(3)
    return {
      out,
      step(_o, h, l, c) {
        out[2] = state.push(h, l, c)
        out[1] = state.minusDi
        return (out[0] = state.plusDi)
      },
    }
  },
})

/**
 * ADX as one fused loop over the arrays: AdxState's arithmetic step for step (its WilderSums and
 * Ema unrolled into locals, which V8 keeps in registers). Once ADX has its first value every sum is
 * seeded, and a bar without NaN takes a short path with no warm-up or gap bookkeeping. The plain
 * version — AdxState.push per bar — gives the same numbers at ~2× the time; the stream test holds
 * the two bit-identical.
 */
export function adxKernel(high: Float64Array, low: Float64Array, close: Float64Array, n: number, length = close.length): Float64Array[] {
  const [plusOut, minusOut, adxOut] = columns(3, length) as [Float64Array, Float64Array, Float64Array]
  const decay = (n - 1) / n
  const ratio = 1 / n
  const keep = 1 - ratio
  let prevHigh = NaN
  let prevLow = NaN
  let prevClose = NaN
  let trValue = NaN
  let pValue = NaN
  let mValue = NaN
  let eValue = NaN
  // Warm-up, and any bar with a NaN: each WilderSum and the Ema as AdxState runs them.
  let trSeen = 0
  let trSum = 0
  let pSeen = 0
  let pSum = 0
  let mSeen = 0
  let mSum = 0
  let eSeen = 0
  let eSeed = 0
  for (let i = 0; i < length; i++) {
    const h = high[i]!
    const l = low[i]!
    const dH = h - prevHigh
    const dL = prevLow - l
    const t = trueRange(h, l, prevClose)
    prevHigh = h
    prevLow = l
    prevClose = close[i]!
    if (eSeen === n && t + dH + dL === t + dH + dL) {
      trValue = t + trValue * decay
      pValue = positive(dH) * +(dH > dL) + pValue * decay
      mValue = positive(dL) * +(dL > dH) + mValue * decay
      const scale = 100 / trValue
      const plusDi = pValue * scale
      const minusDi = mValue * scale
      const dx = 100 * (Math.abs(plusDi - minusDi) / (plusDi + minusDi))
      // dx is 0/0 when neither side moved for n bars: ADX skips that bar, as the Ema does.
      if (dx === dx) eValue = dx * ratio + eValue * keep
      plusOut[i] = plusDi
      minusOut[i] = minusDi
      adxOut[i] = dx === dx ? eValue : NaN
      continue
    }
    const bad = dH + dL !== dH + dL
    // TTR's rule: +DM = dH when dH > dL and dH > 0, else 0 (equal moves and two falls give 0).
    const plus = bad ? NaN : positive(dH) * +(dH > dL)
    const minus = bad ? NaN : positive(dL) * +(dL > dH)
    let trs = NaN
    if (t === t) {
      if (trSeen < n - 1) {
        trSum += t
        trSeen++
      } else {
        trs = trValue = t + (trSeen === n - 1 ? trSum : trValue) * decay
        trSeen = n
      }
    }
    let ps = NaN
    if (plus === plus) {
      if (pSeen < n - 1) {
        pSum += plus
        pSeen++
      } else {
        ps = pValue = plus + (pSeen === n - 1 ? pSum : pValue) * decay
        pSeen = n
      }
    }
    let ms = NaN
    if (minus === minus) {
      if (mSeen < n - 1) {
        mSum += minus
        mSeen++
      } else {
        ms = mValue = minus + (mSeen === n - 1 ? mSum : mValue) * decay
        mSeen = n
      }
    }
    const scale = 100 / trs
    const plusDi = ps * scale
    const minusDi = ms * scale
    const dx = 100 * (Math.abs(plusDi - minusDi) / (plusDi + minusDi))
    let value = NaN
    if (dx === dx) {
      if (eSeen < n) {
        eSeed += dx / n
        if (++eSeen === n) value = eValue = eSeed
      } else {
        value = eValue = dx * ratio + eValue * keep
      }
    }
    plusOut[i] = plusDi
    minusOut[i] = minusDi
    adxOut[i] = value
  }
  return [plusOut, minusOut, adxOut]
}

/**
 * TTR's aroon_max: 100·(n − bars since the highest value) / n over a window of n + 1 values; ties go
 * to the most recent. The first value comes at the n-th bar (from n values), as TTR ≥ 0.24.3.
 */
export class AroonMax {
  private readonly ring: Ring
  private count = 0
  private loc = 0
  private max = NaN

  constructor(readonly n: number) {
    this.ring = new Ring(n + 1)
  }

  push(x: number): number {
    if (this.count === 0 && Number.isNaN(x)) return NaN
    const n = this.n
    this.ring.push(x)
    const i = this.count++
    if (i === 0) this.max = x
    if (i < n - 1) {
      if (x >= this.max) {
        this.max = x
        this.loc = 0
      }
      this.loc++
      return NaN
    }
    if (this.loc > n) {
      // The maximum left the window: rescan it, newest first, strictly greater wins.
      this.max = x
      this.loc = 0
      for (let j = 1; j <= n; j++) {
        const v = this.ring.get(j)
        if (v > this.max) {
          this.max = v
          this.loc = j
        }
      }
    } else if (x >= this.max) {
      this.max = x
      this.loc = 0
    }
    const value = (100 * (n - this.loc)) / n
    this.loc++
    return value
  }
}

export const aroon = define({
  name: 'aroon',
  description: 'Aroon: up = 100·(n − bars since the n-bar high)/n, down likewise for the low, osc = up − down',
  inputs: ['high', 'low'],
  params: { period: period(25) },
  outputs: ['up', 'down', 'osc'],
  machine: (p) => {
    const up = new AroonMax(p.period!)
    const down = new AroonMax(p.period!)
    const out = new Float64Array(3)
    return {
      out,
      step(_o, h, l) {
        const u = up.push(h)
        const d = down.push(-l)
        out[1] = d
        out[2] = u - d
        return (out[0] = u)
      },
    }
  },
})

export const sar = define({
  name: 'sar',
  description:
    "Parabolic SAR (Wilder), TTR's algorithm with two corrections: the acceleration factor is capped at max " +
    '(TTR tests af == 0.2 exactly, which 0.02 steps never reach in floating point, so its factor grows unbounded), and the ' +
    "first bar's stop is low − initGap with initGap the first bar's range when 0 (TTR uses the sd of high − low over the " +
    'whole series, which looks ahead). With max = 1000 and initGap = sd(high − low) it reproduces TTR.',
  inputs: ['high', 'low'],
  params: {
    accel: param(0.02, 'acceleration step', { min: 1e-6, max: 1 }),
    max: param(0.2, 'acceleration cap', { min: 1e-6, max: 1000 }),
    initGap: param(0, "distance below the first low where the first stop sits (0: the first bar's high − low)", { min: 0, max: 1e12, integer: false }),
  },
  outputs: ['value'],
  machine: (p) => {
    const accel = p.accel!
    const cap = p.max!
    let i = 0
    let sig = 1
    let ep = NaN
    let af = accel
    let value = NaN
    let prevHigh = NaN
    let prevLow = NaN
    const out = new Float64Array(1)
    return {
      out,
      step(_o, h, l) {
        if (i === 0) {
          if (Number.isNaN(h) || Number.isNaN(l)) return (out[0] = NaN)
          ep = h
          value = l - (p.initGap! > 0 ? p.initGap! : h - l)
        } else {
          const sig1 = sig
          const ep1 = ep
          const af1 = af
          const lmin = Math.min(prevLow, l)
          const lmax = Math.max(prevHigh, h)
          if (sig1 === 1) {
            sig = l > value ? 1 : -1
            ep = Math.max(lmax, ep1)
          } else {
            sig = h < value ? -1 : 1
            ep = Math.min(lmin, ep1)
          }
          if (sig === sig1) {
            let next = value + (ep1 - value) * af1
            af = Math.min(accel + af1, cap)
            if (sig === 1) {
              af = ep > ep1 ? af : af1
              next = Math.min(next, lmin)
            } else {
              af = ep < ep1 ? af : af1
              next = Math.max(next, lmax)
            }
            value = next
          } else {
            af = accel
            value = ep
          }
        }
        i++
        prevHigh = h
        prevLow = l
        return (out[0] = value)
      },
    }
  },
})

export const vhf = define({
  name: 'vhf',
  description: 'Vertical horizontal filter (trendiness): (highest − lowest close over n) / Σ |close change| over n',
  inputs: ['close'],
  params: { period: period(28) },
  outputs: ['value'],
  machine: (p) => {
    const window = new HighLow(p.period!)
    const noise = new RollingSum(p.period!)
    let prev = NaN
    return single((x) => {
      const { high, low } = window.push(x, x)
      const range = high - low
      const d = Math.abs(x - prev)
      if (!Number.isNaN(x)) prev = x
      return range / noise.push(d)
    })
  },
})

export const ichimoku = define({
  name: 'ichimoku',
  description:
    'Ichimoku: tenkan and kijun (midpoints of the high–low range over tenkan and kijun bars); senkouA = (tenkan + kijun)/2 and ' +
    'senkouB (midpoint over senkou bars) as they stand at this bar, i.e. computed displacement bars ago — the cloud drawn ' +
    'here, never a value from the future; chikou = this close (drawn displacement bars back).',
  inputs: ['high', 'low', 'close'],
  params: { tenkan: period(9, 'conversion line window'), kijun: period(26, 'base line window'), senkou: period(52, 'leading span B window'), displacement: period(26, 'bars the cloud is shifted forward') },
  outputs: ['tenkan', 'kijun', 'senkouA', 'senkouB', 'chikou'],
  machine: (p) => {
    const mid = (n: number) => {
      const range = new HighLow(n)
      return (h: number, l: number) => {
        const { high, low } = range.push(h, l)
        return (high + low) / 2
      }
    }
    const tenkan = mid(p.tenkan!)
    const kijun = mid(p.kijun!)
    const spanB = mid(p.senkou!)
    const d = p.displacement!
    const a = new Ring(d + 1)
    const b = new Ring(d + 1)
    const out = new Float64Array(5)
    return {
      out,
      step(_o, h, l, c) {
        const t = tenkan(h, l)
        const k = kijun(h, l)
        a.push((t + k) / 2)
        b.push(spanB(h, l))
        out[1] = k
        out[2] = a.full ? a.get(d) : NaN
        out[3] = b.full ? b.get(d) : NaN
        out[4] = c
        return (out[0] = t)
      },
    }
  },
})

export const linreg = define({
  name: 'linreg',
  description: 'Least-squares line through the last n closes against bar number: slope (price per bar) and R²',
  inputs: ['close'],
  params: { period: period(20, 'bars in the window (≥ 2)') },
  outputs: ['slope', 'r2'],
  machine: (p) => {
    const n = p.period!
    const ring = new Ring(n)
    const xMean = (n - 1) / 2
    let sxx = 0
    for (let j = 0; j < n; j++) sxx += (j - xMean) ** 2
    let started = false
    const out = new Float64Array(2)
    return {
      out,
      step(_o, _h, _l, c) {
        if (!started && Number.isNaN(c)) return (out[0] = out[1] = NaN)
        started = true
        ring.push(c)
        if (!ring.full || n < 2) return (out[0] = out[1] = NaN)
        // Two passes over the window (bar j = 0 the oldest): exact where running sums would drift.
        let mean = 0
        for (let j = 0; j < n; j++) mean += ring.get(n - 1 - j)
        mean /= n
        let sxy = 0
        let syy = 0
        for (let j = 0; j < n; j++) {
          const dy = ring.get(n - 1 - j) - mean
          sxy += (j - xMean) * dy
          syy += dy * dy
        }
        out[1] = syy === 0 ? NaN : (sxy * sxy) / (sxx * syy)
        return (out[0] = sxy / sxx)
      },
    }
  },
})

export const efficiencyRatio = define({
  name: 'efficiencyRatio',
  description: "Kaufman's efficiency ratio (trendiness, 0…1): |close − close n bars ago| / Σ |close change| over n bars",
  inputs: ['close'],
  params: { period: period(10) },
  outputs: ['value'],
  machine: (p) => {
    const n = p.period!
    const closes = new Ring(n + 1)
    const noise = new RollingSum(n)
    let started = false
    return single((x) => {
      if (!started && Number.isNaN(x)) return NaN
      const prev = started ? closes.get(0) : NaN
      started = true
      closes.push(x)
      const path = noise.push(Math.abs(x - prev))
      return closes.full ? Math.abs(x - closes.get(n)) / path : NaN
    })
  },
})

export const range = define({
  name: 'range',
  description: 'Rolling range as a fraction of the close: (highest high − lowest low over n bars) / close',
  inputs: ['high', 'low', 'close'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => {
    const window = new HighLow(p.period!)
    const out = new Float64Array(1)
    return {
      out,
      step(_o, h, l, c) {
        const { high, low } = window.push(h, l)
        return (out[0] = (high - low) / c)
      },
    }
  },
})
