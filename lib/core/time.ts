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

/** The end of the lake's range (2201-01-01T00:00Z, i.e. the end of 2200) in epoch seconds. */
const RANGE_END_S = Date.UTC(2201, 0, 1) / 1000 // 7,289,654,400

/**
 * The unit of epoch numbers of this magnitude (use a column's median, so one odd value does not
 * decide): the cutoffs are the end of 2200 in each unit (7.29e9 s, 7.29e12 ms, 7.29e15 µs), so a
 * number is read in the coarsest unit that keeps it inside 1970–2200. (Cutoffs far above that, like
 * 1e11, read ms values of 1970–1973 as seconds.) Ambiguous only for a median in the first 84 days of
 * 1970 in ms (below 7.29e9 ms), which reads as seconds.
 */
export function epochUnitOf(magnitude: number): EpochUnit {
  const m = Math.abs(magnitude)
  return m < RANGE_END_S ? 's' : m < RANGE_END_S * 1e3 ? 'ms' : m < RANGE_END_S * 1e6 ? 'us' : 'ns'
}

/** An epoch number in `unit` as epoch ms (by division for µs and ns: exact for whole milliseconds). */
export function epochToMs(value: number, unit: EpochUnit): number {
  return unit === 's' ? value * 1000 : unit === 'ms' ? value : unit === 'us' ? value / 1000 : value / 1_000_000
}
