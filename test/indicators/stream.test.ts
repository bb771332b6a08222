// Streaming = batch, bit for bit, for every registered indicator: the S&P 500 sample fed one bar at a
// time, and random walks (2,000 and 25,000 bars) with missing volumes, a missing close, high and low, and a halted stretch
// where nothing moves (the NaN and 0/0 paths of every kernel).

import { describe, expect, it } from 'vitest'
import { createStream, INDICATORS, type SeriesName } from '../../lib/indicators/index.js'
import { seededRandom } from '../../lib/core/index.js'
import { loadSample } from './reference.js'

type Inputs = Record<SeriesName, Float64Array>

const sample = loadSample()
const spx: Inputs = { ...sample, time: Float64Array.from(sample.dates, (d) => Date.parse(`${d}T00:00:00Z`)) }

function randomWalk(n: number): Inputs {
  const rng = seededRandom(11)
  const out: Inputs = { open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n), time: new Float64Array(n) }
  let p = 50
  for (let i = 0; i < n; i++) {
    const o = p
    const halted = i >= 1000 && i < 1040
    if (!halted) p *= Math.exp(0.01 * rng.normal())
    out.open[i] = o
    out.high[i] = halted ? p : Math.max(o, p) * (1 + 0.003 * Math.abs(rng.normal()))
    out.low[i] = halted ? p : Math.min(o, p) * (1 - 0.003 * Math.abs(rng.normal()))
    out.close[i] = p
    out.volume[i] = i % 97 === 5 ? NaN : Math.round(1000 * Math.exp(rng.normal()))
    out.time[i] = Date.UTC(2024, 0, 1) + i * 3_600_000
  }
  out.close[600] = NaN // one missing close
  out.high[1500] = NaN
  out.low[1700] = NaN
  return out
}

/** Same numbers, NaN where NaN: compared through their bits. */
function sameBits(a: Float64Array, b: Float64Array): string | undefined {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return `row ${i}: ${a[i]} vs ${b[i]}`
  return undefined
}

describe('streaming updates equal the batch result exactly', () => {
  // The 25,000-bar walk is the first series over define's PRIME_ABOVE in this process: each batch kernel is
  // primed on its first 1,024 bars before its first long run (lib/indicators/define.ts), which must change nothing.
  for (const [label, data] of [['S&P 500 sample', spx], ['random walk with gaps', randomWalk(2000)], ['25,000-bar random walk with gaps (primed kernels)', randomWalk(25_000)]] as const) {
    for (const ind of Object.values(INDICATORS)) {
      it(`${ind.name} on the ${label}`, () => {
        const batch = ind.compute(data)
        const stream = createStream(ind.name)
        const streamed: Record<string, Float64Array> = Object.fromEntries(ind.outputs.map((o) => [o, new Float64Array(data.close.length)]))
        for (let i = 0; i < data.close.length; i++) {
          const out = stream.update({ open: data.open[i], high: data.high[i], low: data.low[i], close: data.close[i], volume: data.volume[i], time: data.time[i] })
          for (const o of ind.outputs) streamed[o]![i] = out[o]!
        }
        for (const o of ind.outputs) {
          if (ind.lookahead === true) {
            // dpo is centred: its value at t needs bars up to t + shift, so the stream gives it shift bars late.
            const shift = Math.floor(stream.params.period! / 2) + 1
            expect(sameBits(streamed[o]!.subarray(shift), batch[o]!.subarray(0, data.close.length - shift)), `${ind.name}.${o}`).toBeUndefined()
          } else {
            expect(sameBits(streamed[o]!, batch[o]!), `${ind.name}.${o}`).toBeUndefined()
          }
        }
        // Not all NaN: the indicator produced something.
        expect(batch[ind.outputs[0]!]!.some((v) => !Number.isNaN(v)), `${ind.name} has values`).toBe(true)
      })
    }
  }
})

describe('ADX through a halt long enough for both directional sums to decay to 0', () => {
  it('has DX = 0/0 (NaN) there, skips it, and streams the same bits', () => {
    // 200 moving bars, then 12,000 identical bars: (13/14)^k underflows, +DM and −DM sums reach 0.
    const walk = randomWalk(200)
    const n = 12_200
    const data = { high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n) }
    for (let i = 0; i < n; i++) {
      const j = Math.min(i, 199)
      data.high[i] = i < 200 ? walk.high[j]! : walk.close[199]!
      data.low[i] = i < 200 ? walk.low[j]! : walk.close[199]!
      data.close[i] = walk.close[j]!
    }
    const batch = INDICATORS.adx!.compute(data)
    const stream = createStream('adx')
    const streamed = new Float64Array(n)
    for (let i = 0; i < n; i++) streamed[i] = stream.update({ high: data.high[i], low: data.low[i], close: data.close[i] }).adx!
    expect(sameBits(streamed, batch.adx!)).toBeUndefined()
    expect(Number.isNaN(batch.adx![n - 1]!)).toBe(true)
    expect(Number.isNaN(batch.adx![300]!)).toBe(false)
  })
})
