// Time helpers. mtflow time is UTC epoch milliseconds: text for people and file names, and timeframes
// ("1m" … "1w") with their bucket alignment.

import { ConfigError } from './errors.js'

/** ISO-8601 UTC with milliseconds: 2026-11-21T20:45:01.123Z */
export function isoTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString()
}

/** A file-name-safe, sortable UTC stamp: 20261121T204501123Z */
export function fileStamp(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, '')
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * Milliseconds of a timeframe: "1m", "15m", "4h", "1d", "1w" (any positive multiple of a minute, hour,
 * day or week). Throws a one-line error naming the input otherwise.
 */
export function timeframeMs(timeframe: string): number {
  const match = /^([1-9]\d*)([mhdw])$/.exec(timeframe)
  if (match === null) throw new ConfigError(`timeframe ${JSON.stringify(timeframe)} is not valid; expected a number and a unit m, h, d or w (e.g. 1m, 15m, 1h, 4h, 1d, 1w)`)
  return Number(match[1]) * UNIT_MS[match[2]!]!
}

/**
 * Start of the timeframe bucket that contains `ms`. Buckets are aligned to the Unix epoch, except weeks,
 * which start on Monday 00:00 UTC (the epoch was a Thursday).
 */
export function floorToTimeframe(ms: number, timeframe: string): number {
  const step = timeframeMs(timeframe)
  const anchor = timeframeAnchor(timeframe)
  return Math.floor((ms - anchor) / step) * step + anchor
}

/** Where a timeframe's buckets are anchored: the epoch, or for weeks Monday 1970-01-05 (epoch + 4 days). */
export function timeframeAnchor(timeframe: string): number {
  return timeframe.endsWith('w') ? 4 * UNIT_MS.d! : 0
}

/** "2024-03-01" for midnight UTC, else "2024-03-01T13:00:00Z" (milliseconds only when present). */
export function toIsoDate(ms: number): string {
  const iso = new Date(ms).toISOString()
  if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10)
  return iso.endsWith('.000Z') ? `${iso.slice(0, 19)}Z` : iso
}

export type EpochUnit = 's' | 'ms' | 'us' | 'ns'

const EPOCH_UNITS: readonly EpochUnit[] = ['s', 'ms', 'us', 'ns']

/**
 * The unit of a column of epoch numbers. First by its median step between rows, when the timeframe is
 * known: the one unit in which that step is a whole number (1–999) of bars — units differ by 1000×, so
 * at most one fits, whatever the dates (hourly seconds of 2300 stay seconds and are quarantined as
 * bad_time; hourly ms of 1970 stay ms). Else by the median's magnitude, in bands around what a
 * timestamp of our era has in each unit (~1e9 s, ~1e12 ms, ~1e15 µs, ~1e18 ns; cutoffs 1e11, 1e14,
 * 1e17): a wrong guess lands outside 1970–2200 and is quarantined, never read as another valid date —
 * except ms of the first 84 days of 1970 without a regular step, which read as seconds.
 * (Cutoffs at the end of 2200 in each unit were tried: they read seconds after 2200 as ms of 1970.)
 */
export function epochUnitOf(magnitude: number, step?: { median: number; timeframeMs: number }): EpochUnit {
  if (step !== undefined && step.median > 0 && step.timeframeMs > 0) {
    for (const unit of EPOCH_UNITS) {
      const bars = epochToMs(step.median, unit) / step.timeframeMs
      // Relative tolerance: ns of our era are doubles ~1.7e18, whose differences are off by ~256 ns.
      if (bars > 0.5 && bars < 999.5 && Math.abs(bars - Math.round(bars)) < 1e-6 * bars) return unit
    }
  }
  const m = Math.abs(magnitude)
  return m < 1e11 ? 's' : m < 1e14 ? 'ms' : m < 1e17 ? 'us' : 'ns'
}

/** An epoch number in `unit` as epoch ms (by division for µs and ns: exact for whole milliseconds). */
export function epochToMs(value: number, unit: EpochUnit): number {
  return unit === 's' ? value * 1000 : unit === 'ms' ? value : unit === 'us' ? value / 1000 : value / 1_000_000
}
