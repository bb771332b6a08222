// The leakage guard over every registered indicator: only dpo (centred by design) may be flagged.

import { describe, expect, it } from 'vitest'
import { checkLookahead } from '../../lib/features/index.js'
import { INDICATORS } from '../../lib/indicators/index.js'
import { loadSample } from './reference.js'

const s = loadSample()
const bars = { open: s.open, high: s.high, low: s.low, close: s.close, volume: s.volume, time: Float64Array.from(s.dates, (d) => Date.parse(`${d}T00:00:00Z`)) }

describe('checkLookahead', () => {
  for (const ind of Object.values(INDICATORS)) {
    it(`${ind.name} ${ind.lookahead === true ? 'is flagged' : 'never changes a past value'}`, () => {
      const report = checkLookahead((b) => ind.compute(b), bars, { prefixes: 30 })
      if (ind.lookahead === true) {
        expect(report.clean).toBe(false)
        // dpo(10) needs the SMA 6 bars later: a prefix of length p lacks it for bars p − 6 … p − 1, which
        // change once the later bars exist — those where the full series has a value (bars 3 … n − 7).
        const n = bars.close.length
        expect(report.changes.every((c) => c.index >= c.prefixLength - 6)).toBe(true)
        expect(report.changed).toBe(report.prefixes.reduce((sum, p) => sum + Math.max(0, Math.min(p - 1, n - 7) - Math.max(p - 6, 3) + 1), 0))
      } else {
        expect(report.changes).toEqual([])
        expect(report.clean).toBe(true)
      }
    })
  }

  it('catches a hand-made leak: tomorrow’s close', () => {
    const leak = (b: Record<string, Float64Array>) => Float64Array.from(b.close!, (_, i) => b.close![i + 1] ?? NaN)
    const report = checkLookahead(leak, { close: s.close.slice(0, 100) })
    expect(report.clean).toBe(false)
    expect(report.leaking).toEqual(['value'])
    expect(report.changes[0]).toMatchObject({ index: report.changes[0]!.prefixLength - 1 })
  })
})
