// Bad input names what is wrong and what was expected.

import { describe, expect, it } from 'vitest'
import { createStream, indicator, INDICATORS } from '../../lib/indicators/index.js'

const close = Float64Array.from({ length: 50 }, (_, i) => 100 + i)

describe('indicator input checks', () => {
  it('rejects a period < 1 or not an integer, naming the parameter', () => {
    expect(() => INDICATORS.sma!.compute({ close }, { period: 0 })).toThrow('sma: period must be between 1 and 100000 (received 0)')
    expect(() => INDICATORS.sma!.compute({ close }, { period: 2.5 })).toThrow('sma: period must be an integer ≥ 1 (received 2.5)')
    expect(() => INDICATORS.bbands!.compute({ close }, { k: Number.NaN })).toThrow('bbands: k must be a number (received NaN)')
  })

  it('rejects an unknown indicator or parameter, listing what exists', () => {
    expect(() => indicator('smaa')).toThrow(/^unknown indicator "smaa"; expected one of sma, ema, /)
    expect(() => createStream('nope')).toThrow(/unknown indicator "nope"/)
    expect(() => INDICATORS.rsi!.compute({ close }, { length: 14 } as never)).toThrow('rsi has no parameter "length"; expected period')
  })

  it('rejects series of different lengths or a missing series', () => {
    const high = close.map((c) => c + 1)
    const low = close.slice(0, 49)
    expect(() => INDICATORS.atr!.compute({ high, low, close })).toThrow('atr: series of different lengths (high has 50 values, low has 49)')
    expect(() => INDICATORS.atr!.compute({ high, close })).toThrow('atr needs high, low, close; low is missing')
    expect(() => INDICATORS.sma!.compute({ close: [1, 2, 3] as never })).toThrow('sma needs close; close is not a Float64Array')
  })

  it('describes every indicator: inputs, parameters with bounds, outputs', () => {
    expect(Object.keys(INDICATORS).length).toBeGreaterThanOrEqual(45)
    for (const ind of Object.values(INDICATORS)) {
      expect(ind.inputs.length, ind.name).toBeGreaterThan(0)
      expect(ind.outputs.length, ind.name).toBeGreaterThan(0)
      for (const [name, p] of Object.entries(ind.params)) {
        expect(p.min <= p.default && p.default <= p.max, `${ind.name}.${name}`).toBe(true)
        expect(typeof p.integer).toBe('boolean')
      }
    }
    expect(INDICATORS.macd).toMatchObject({ inputs: ['close'], outputs: ['macd', 'signal', 'hist'] })
    expect(INDICATORS.macd!.params.fast).toMatchObject({ default: 12, min: 1, integer: true })
  })
})
