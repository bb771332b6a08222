// Audit (live vs backtest): a rolling-window indicator must be a function of its window alone. The running
// sums (RollingSum, smaKernel, bbandsKernel, RollingSd's sliding update) carry the rounding of every bar
// since the series' first one, so the same bar gets different numbers depending on where the series starts:
// a backtest over the lake starts at the lake's first bar, a live deployment's session at its warm-up
// history (the last 300 bars, lib/cli/deploy.ts HISTORY_BARS). Through a flat stretch the difference is not
// in the last bits: NaN or Infinity against a finite number, an MFI of 400 against 113.

import { describe, expect, it } from 'vitest'
import { createStream, INDICATORS } from '../../lib/indicators/index.js'
import { haltedWalk, type Inputs } from './halted-walk.js'

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))

describe('a rolling-window indicator depends on its window only', () => {
  it('sma(2) of [1e-8, 1e-8] is 1e-8 after a 1e8 print has left the window (hand-worked)', () => {
    const close = Float64Array.from([1e8, 1e-8, 1e-8, 1e-8, 1e-8])
    const sma = INDICATORS.sma!.compute({ close }, { period: 2 }).value!
    // (1e-8 + 1e-8) / 2 = 1e-8 exactly; the running sum kept 1e8's rounding: 1.4901161193847655e-8.
    expect(sma[3]).toBe(1e-8)
    expect(sma[4]).toBe(1e-8)
    const stream = createStream('sma', { period: 2 })
    const streamed = [...close].map((c) => stream.update({ close: c }).value!)
    expect(streamed[4]).toBe(1e-8)
  })

  it('MFI stays within 0–100 through a halt (it reached 400: a negative rounding residue as the down-flow sum)', () => {
    const data = haltedWalk(1200)
    const mfi = INDICATORS.mfi!.compute(data).value!
    const out = [...mfi.keys()].filter((i) => mfi[i]! < 0 || mfi[i]! > 100)
    expect(out.map((i) => `${i}: ${mfi[i]}`)).toEqual([])
  })

  // A live session warm-started 300 bars back (the deployment's history) against the backtest over the whole
  // series, at every bar once the warm-up's window is full.
  const windowed: [string, Record<string, number>][] = [
    ['sma', {}],
    ['vwma', {}],
    ['cmo', {}],
    ['mfi', {}],
    ['cmf', {}],
    ['vwap', {}],
    ['bbands', {}],
    ['stdev', {}],
    ['zscore', {}],
  ]
  for (const [name, params] of windowed) {
    it(`${name}: a stream started 300 bars before the halt gives the backtest's numbers`, () => {
      const data = haltedWalk(1200)
      const ind = INDICATORS[name]!
      const batch = ind.compute(data, params)
      const from = 700
      const stream = createStream(name, params)
      const diffs: string[] = []
      for (let i = from; i < 1200; i++) {
        const v = stream.update({ open: data.open[i], high: data.high[i], low: data.low[i], close: data.close[i], volume: data.volume[i], time: data.time[i] })
        if (i < from + 100) continue // past the warm-up
        for (const o of ind.outputs) if (!same(v[o]!, batch[o]![i]!)) diffs.push(`bar ${i} ${o}: live ${v[o]} backtest ${batch[o]![i]}`)
      }
      expect(diffs.slice(0, 5)).toEqual([])
    })
  }
})
