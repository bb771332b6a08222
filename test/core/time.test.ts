import { describe, expect, it } from 'vitest'
import { floorToTimeframe, timeframeMs, toIsoDate } from '../../lib/core/index.js'

describe('timeframes', () => {
  it('knows the length of any multiple of m, h, d, w', () => {
    expect(timeframeMs('1m')).toBe(60_000)
    expect(timeframeMs('15m')).toBe(900_000)
    expect(timeframeMs('4h')).toBe(14_400_000)
    expect(timeframeMs('1d')).toBe(86_400_000)
    expect(timeframeMs('1w')).toBe(604_800_000)
    for (const bad of ['', '0m', '1x', '1.5h', 'h', '1M']) expect(() => timeframeMs(bad)).toThrow(/is not valid; expected a number and a unit m, h, d or w/)
  })

  it('floors to buckets; weeks start on Monday', () => {
    const t = Date.UTC(2024, 0, 3, 13, 47) // Wednesday 2024-01-03 13:47
    expect(floorToTimeframe(t, '15m')).toBe(Date.UTC(2024, 0, 3, 13, 45))
    expect(floorToTimeframe(t, '4h')).toBe(Date.UTC(2024, 0, 3, 12))
    expect(floorToTimeframe(t, '1d')).toBe(Date.UTC(2024, 0, 3))
    expect(floorToTimeframe(t, '1w')).toBe(Date.UTC(2024, 0, 1)) // Monday
    expect(toIsoDate(Date.UTC(2024, 0, 1))).toBe('2024-01-01')
    expect(toIsoDate(Date.UTC(2024, 0, 1, 13))).toBe('2024-01-01T13:00:00Z')
  })
})
