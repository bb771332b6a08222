// Volume and money flow: obv, mfi, cmf, clv, vwap (rolling), vwapSession (reset at a daily anchor) —
// TTR's definitions (OBV counting a log change under 1.49e-8 as unchanged; MFI 100 when no money
// flows out, 50 when none flows at all).

import { define, param, period } from './define.js'
import { RollingSum } from './primitives.js'
import { typicalPrice } from './volatility.js'

const UNCHANGED = Math.sqrt(2 ** -52) // R's sqrt(.Machine$double.eps)

export const obv = define({
  name: 'obv',
  description: 'On-balance volume: the running sum of volume signed by the close change (a log change below 1.49e-8 counts as none); starts at the first volume',
  inputs: ['close', 'volume'],
  params: {},
  outputs: ['value'],
  machine: () => {
    let prev = NaN
    let total = NaN
    const out = new Float64Array(1)
    return {
      out,
      step(_o, _h, _l, c, v) {
        if (Number.isNaN(total)) {
          total = v
        } else {
          const change = Math.log(c) - Math.log(prev)
          const signed = Math.abs(change) < UNCHANGED ? 0 : change > 0 ? v : -v
          if (!Number.isNaN(signed)) total += signed
          else if (Number.isNaN(v)) return (out[0] = NaN) // a bar without volume: skipped
        }
        prev = c
        return (out[0] = total)
      },
    }
  },
})

/** Close location value: ((c − l) − (h − c)) / (h − l), 0 when h = l. */
export function closeLocation(h: number, l: number, c: number): number {
  const value = (c - l - (h - c)) / (h - l)
  return Number.isFinite(value) || Number.isNaN(h + l + c) ? value : 0
}

export const clv = define({
  name: 'clv',
  description: 'Close location value: where the close sits between low (−1) and high (+1); 0 when high = low',
  inputs: ['high', 'low', 'close'],
  params: {},
  outputs: ['value'],
  machine: () => {
    const out = new Float64Array(1)
    return {
      out,
      step: (_o, h, l, c) => (out[0] = closeLocation(h, l, c)),
    }
  },
})

export const ad = define({
  name: 'ad',
  description: 'Chaikin accumulation/distribution line: the running sum of CLV·volume (bars without volume add nothing)',
  inputs: ['high', 'low', 'close', 'volume'],
  params: {},
  outputs: ['value'],
  machine: () => {
    let total = 0
    const out = new Float64Array(1)
    return {
      out,
      step(_o, h, l, c, v) {
        const flow = closeLocation(h, l, c) * v
        if (Number.isNaN(flow)) return (out[0] = NaN)
        return (out[0] = total += flow)
      },
    }
  },
})

export const cmf = define({
  name: 'cmf',
  description: 'Chaikin money flow: Σ CLV·volume / Σ volume over n bars',
  inputs: ['high', 'low', 'close', 'volume'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => {
    const flow = new RollingSum(p.period!)
    const vol = new RollingSum(p.period!)
    const out = new Float64Array(1)
    return {
      out,
      step(_o, h, l, c, v) {
        return (out[0] = flow.push(closeLocation(h, l, c) * v) / vol.push(v))
      },
    }
  },
})

export const mfi = define({
  name: 'mfi',
  description: 'Money flow index: 100 − 100/(1 + Σ up-flow / Σ down-flow) over n bars, flow = typical price × volume (100 with no down-flow, 50 with no flow)',
  inputs: ['high', 'low', 'close', 'volume'],
  params: { period: period(14) },
  outputs: ['value'],
  machine: (p) => {
    const up = new RollingSum(p.period!)
    const down = new RollingSum(p.period!)
    let prev = NaN
    const out = new Float64Array(1)
    return {
      out,
      step(_o, h, l, c, v) {
        const tp = typicalPrice(h, l, c)
        const flow = tp * v
        const first = Number.isNaN(prev)
        const pos = up.push(first ? NaN : tp > prev ? flow : 0)
        const neg = down.push(first ? NaN : tp < prev ? flow : 0)
        prev = tp
        if (neg === 0) return (out[0] = pos === 0 ? 50 : 100)
        return (out[0] = 100 - 100 / (1 + pos / neg))
      },
    }
  },
})

export const vwap = define({
  name: 'vwap',
  description: 'Rolling volume-weighted average price over n bars: Σ typical price·volume / Σ volume',
  inputs: ['high', 'low', 'close', 'volume'],
  params: { period: period(20) },
  outputs: ['value'],
  machine: (p) => {
    const pv = new RollingSum(p.period!)
    const vol = new RollingSum(p.period!)
    const out = new Float64Array(1)
    return {
      out,
      step: (_o, h, l, c, v) => (out[0] = pv.push(typicalPrice(h, l, c) * v) / vol.push(v)),
    }
  },
})

export const vwapSession = define({
  name: 'vwapSession',
  description: 'Session VWAP: Σ typical price·volume / Σ volume since the session start, sessions starting daily at anchorHour (UTC)',
  inputs: ['high', 'low', 'close', 'volume', 'time'],
  params: { anchorHour: param(0, 'hour of day (UTC) a session starts', { min: 0, max: 23, integer: true }) },
  outputs: ['value'],
  machine: (p) => {
    const offset = p.anchorHour! * 3_600_000
    let session = NaN
    let pv = 0
    let vol = 0
    const out = new Float64Array(1)
    return {
      out,
      step(_o, h, l, c, v, t) {
        const day = Math.floor((t - offset) / 86_400_000)
        if (day !== session) {
          session = day
          pv = 0
          vol = 0
        }
        const tp = typicalPrice(h, l, c)
        if (!Number.isNaN(tp * v)) {
          pv += tp * v
          vol += v
        }
        return (out[0] = pv / vol)
      },
    }
  },
})
