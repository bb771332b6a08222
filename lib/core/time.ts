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
 * A timeframe as the lake names it: in its largest whole unit up to days (60m is 1h, 24h is 1d), or a
 * ConfigError naming that form. 60m data was stored as a dataset apart from 1h, which then found nothing
 * (a new-user check).
 */
export function checkCanonicalTimeframe(timeframe: string): string {
  const canonical = canonicalTimeframe(timeframe)
  if (canonical !== timeframe) throw new ConfigError(`timeframe ${JSON.stringify(timeframe)} is written ${canonical} (bars are kept under the largest whole unit); give ${canonical}`)
  return timeframe
}

/** A valid timeframe written in its largest whole unit up to days (60m → 1h, 24h → 1d, 7d stays 7d). */
export function canonicalTimeframe(timeframe: string): string {
  const ms = timeframeMs(timeframe)
  const unit = timeframe.slice(-1)
  // Days are not rewritten as weeks: 7d bars open on the epoch's Thursdays, 1w bars on Mondays (another grid).
  const larger = ([['d', UNIT_MS.d!], ['h', UNIT_MS.h!]] as const).find(([u, size]) => ms % size === 0 && UNIT_MS[u]! > UNIT_MS[unit]!)
  return larger === undefined ? timeframe : `${ms / larger[1]}${larger[0]}`
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

// ---------------------------------------------------------------------------------------------------
// The one date/time parser (CLI flags, file imports, notebooks). No offset means UTC, never the
// machine's zone. Day/month order is never guessed: a column (or a single value) whose order cannot be
// told from its own values needs a date format. The patterns below are also run by DuckDB (RE2) when
// a file is imported (lib/data/ingest.ts), so they use no back-references or look-arounds.

/** Which of the two leading numbers is the day, for numeric dates such as 01/03/2022. */
export type DateOrder = 'DMY' | 'MDY' | 'YMD'

export interface DateFormat {
  order: DateOrder
  /** 2: two-digit years, read as POSIX strptime %y does (69–99 → 19xx, 00–68 → 20xx). */
  yearDigits: 2 | 4
  /** ISO 8601 basic (20220301, 20220301T0930): year first without separators (order YMD). */
  basic?: true
}

const TIME_PART = '(?:[Tt ](\\d{1,2}):(\\d{2})(?::(\\d{2})(?:[.,](\\d{1,9}))?)?(?: ?([Zz]|UTC|[+-]\\d{2}(?::?\\d{2})?))?)?'
/** ISO 8601 basic: T then hhmm or hhmmss, an optional fraction and offset (Z, +05, +0530, +05:30). */
const BASIC_TIME_PART = '(?:[Tt](\\d{2})(\\d{2})(?:(\\d{2})(?:[.,](\\d{1,9}))?)?(?: ?([Zz]|UTC|[+-]\\d{2}(?::?\\d{2})?))?)?'
/** Groups: 1–3 the date's numbers as written, 4 hour, 5 minute, 6 second, 7 fraction, 8 offset. */
export const TIME_PATTERNS = {
  /** Year first: ISO 8601 (2022-03-01T09:30:00Z, with a space instead of T too) and 2022/03/01. */
  ymd: `^(\\d{4})[-/.](\\d{1,2})[-/.](\\d{1,2})${TIME_PART}$`,
  /** Year last: 01/03/2022, 1.3.22, 01-03-2022 — day and month in an order only a format can say. */
  xxy: `^(\\d{1,2})[-/.](\\d{1,2})[-/.](\\d{4}|\\d{2})${TIME_PART}$`,
  /**
   * ISO 8601 basic, year first without separators: 20220301, 20220301T0930, 20220301T093000Z (same
   * groups as ymd). Eight bare digits also match, but timeKind calls them 'epoch' (the column decides:
   * see TimeSummary.dateDigits) — a date-time needs its T (12 or 14 bare digits are epoch numbers in a
   * column; parseTime reads 14 and refuses 12 that could be either, see there).
   */
  basic: `^(\\d{4})(\\d{2})(\\d{2})${BASIC_TIME_PART}$`,
  /** A number: epoch seconds, ms, µs or ns. */
  epoch: '^-?\\d+(?:\\.\\d+)?$',
  /**
   * Eight digits shaped as YYYYMMDD of 1900–2200 (19000101 … 22001231, month digits 0x/1x, day 0x–3x):
   * a column whose numbers are all these holds dates, not epoch seconds of August–September 1970.
   */
  dateDigits: '^(?:19\\d\\d|2[01]\\d\\d|2200)[01]\\d[0-3]\\d$',
} as const

const YMD = new RegExp(TIME_PATTERNS.ymd)
const XXY = new RegExp(TIME_PATTERNS.xxy)
const EPOCH = new RegExp(TIME_PATTERNS.epoch)
const BASIC = new RegExp(TIME_PATTERNS.basic)
const DATE_DIGITS = new RegExp(TIME_PATTERNS.dateDigits)

/** Beyond this a Date cannot hold the time (±8.64e15 ms, about ±275,000 years). */
export const MAX_EPOCH_MS = 8.64e15

/**
 * A date format from its text: DD/MM/YYYY, MM/DD/YYYY, YYYY/MM/DD, DD/MM/YY or MM/DD/YY (any of / . -
 * as separator, any case, an optional time part such as " HH:MM:SS" — times are always optional).
 */
export function parseDateFormat(text: string, name = 'date format'): DateFormat {
  const m = /^(DD|MM|YYYY)[/.-](DD|MM)[/.-](YYYY|YY|DD)(?:[ T]HH(?::MM(?::SS(?:\.S+)?)?)?)?$/i.exec(String(text).trim())
  const order = m === null ? '' : `${m[1]![0]}${m[2]![0]}${m[3]![0]}`.toUpperCase()
  if (m === null || !['DMY', 'MDY', 'YMD'].includes(order) || (order === 'YMD' && m[1]!.length !== 4)) {
    throw new ConfigError(`${name} ${JSON.stringify(clip(String(text)))} is not known; expected DD/MM/YYYY, MM/DD/YYYY, YYYY/MM/DD, DD/MM/YY or MM/DD/YY`)
  }
  return { order: order as DateOrder, yearDigits: order === 'YMD' || m[3]!.length === 4 ? 4 : 2 }
}

/** The kind of one time text: which pattern it matches, and for day/month forms which number can be a day only. */
export type TimeKind = 'ymd' | 'xxy' | 'basic' | 'epoch' | 'other' | 'empty'

export function timeKind(text: string): TimeKind {
  const t = text.trim()
  if (t === '') return 'empty'
  if (EPOCH.test(t)) return 'epoch'
  if (YMD.test(t)) return 'ymd'
  if (XXY.test(t)) return 'xxy'
  if (BASIC.test(t)) return 'basic'
  return 'other'
}

/**
 * What a column's values look like, enough to pick its one format: counts per kind, a sample of each
 * (the smallest text, so the choice does not depend on row order), and for day/month forms a sample
 * whose first number is > 12 (so it is the day), whose second is > 12, and one with a two-digit year.
 * DuckDB computes the same summary of a file being imported.
 */
export interface TimeSummary {
  counts: Record<Exclude<TimeKind, 'empty'>, number>
  sample: Partial<Record<Exclude<TimeKind, 'empty'>, string>>
  firstOver12?: string
  secondOver12?: string
  twoDigitYear?: string
  /**
   * How many of the 'epoch' values are 8 digits shaped as YYYYMMDD (TIME_PATTERNS.dateDigits), and the
   * least of them: when that is all of them, the column holds ISO 8601 basic dates, not epoch numbers.
   */
  dateDigits?: number
}

export function summarizeTimes(texts: Iterable<string>): TimeSummary {
  const summary: TimeSummary = { counts: { ymd: 0, xxy: 0, basic: 0, epoch: 0, other: 0 }, sample: {} }
  const least = (a: string | undefined, b: string) => (a === undefined || b < a ? b : a)
  for (const raw of texts) {
    const text = raw.trim()
    const kind = timeKind(text)
    if (kind === 'empty') continue
    summary.counts[kind]++
    summary.sample[kind] = least(summary.sample[kind], text)
    if (kind === 'epoch' && DATE_DIGITS.test(text)) summary.dateDigits = (summary.dateDigits ?? 0) + 1
    if (kind === 'xxy') {
      const m = XXY.exec(text)!
      if (Number(m[1]) > 12) summary.firstOver12 = least(summary.firstOver12, text)
      if (Number(m[2]) > 12) summary.secondOver12 = least(summary.secondOver12, text)
      if (m[3]!.length === 2) summary.twoDigitYear = least(summary.twoDigitYear, text)
    }
  }
  return summary
}

/** How a column (or one value) is read: epoch numbers in a unit, or dates in one order. */
export type TimeFormat = { kind: 'epoch' } | { kind: 'date'; format: DateFormat } | { kind: 'none' }

export interface TimeFormatOptions {
  /** Names the input in messages: "--start", "prices.csv column date". */
  field: string
  /** The day/month order, when the values cannot tell it. */
  dateFormat?: DateFormat | string
  /** How the user gives a date format here ("--date-format", "dateFormat"): named in messages. */
  formatOption?: string
}

/**
 * The one format a column is read with, from all its values (pandas-like: a column has one format).
 * Refused with a one-line ConfigError: values of two kinds (ISO and 01/03/2022, dates and epoch
 * numbers); day/month dates whose order the values cannot tell (every number ≤ 12) or that hold both
 * orders (13/01 and 01/13); two-digit years without a format saying so. `none`: nothing readable.
 */
export function decideTimeFormat(summary: TimeSummary, options: TimeFormatOptions): TimeFormat {
  const { field } = options
  const formatOption = options.formatOption ?? 'a date format'
  const given = options.dateFormat === undefined ? undefined : typeof options.dateFormat === 'string' ? parseDateFormat(options.dateFormat, formatOption) : options.dateFormat
  // A column whose numbers are all 8-digit YYYYMMDD holds ISO 8601 basic dates (2022 as epoch
  // seconds is 00:33:42 on 1970-01-01, 20220301 is 1970-08-23: never what a file of dates means).
  if (summary.counts.epoch > 0 && summary.dateDigits === summary.counts.epoch) {
    const basic = summary.sample.basic === undefined || summary.sample.epoch! < summary.sample.basic ? summary.sample.epoch! : summary.sample.basic
    summary = { ...summary, counts: { ...summary.counts, basic: summary.counts.basic + summary.counts.epoch, epoch: 0 }, sample: { ...summary.sample, basic } }
  }
  const kinds = (['ymd', 'xxy', 'basic', 'epoch'] as const).filter((k) => summary.counts[k] > 0)
  if (kinds.length > 1) {
    const [a, b] = kinds.map((k) => JSON.stringify(clip(summary.sample[k]!)))
    throw new ConfigError(`${field} mixes time formats (${a} and ${b}); expected one format per column`)
  }
  const kind = kinds[0]
  if (kind === undefined) return { kind: 'none' }
  if (kind === 'epoch') return { kind: 'epoch' }
  if (kind === 'ymd') {
    if (given !== undefined && given.order !== 'YMD') throw new ConfigError(`${field} holds year-first dates (${JSON.stringify(clip(summary.sample.ymd!))}) but ${formatOption} says ${formatText(given)}`)
    return { kind: 'date', format: { order: 'YMD', yearDigits: 4 } }
  }
  if (kind === 'basic') {
    if (given !== undefined && given.order !== 'YMD') throw new ConfigError(`${field} holds year-first dates (${JSON.stringify(clip(summary.sample.basic!))}) but ${formatOption} says ${formatText(given)}`)
    return { kind: 'date', format: { order: 'YMD', yearDigits: 4, basic: true } }
  }
  const sample = JSON.stringify(clip(summary.sample.xxy!))
  if (given !== undefined) {
    if (given.order === 'YMD') throw new ConfigError(`${field} holds year-last dates (${sample}) but ${formatOption} says YYYY/MM/DD`)
    const bad = given.order === 'DMY' ? summary.secondOver12 : summary.firstOver12
    if (bad !== undefined) throw new ConfigError(`${field} ${JSON.stringify(clip(bad))} has no month ${given.order === 'DMY' ? 'second' : 'first'}, but ${formatOption} says ${formatText(given)}`)
    return { kind: 'date', format: given }
  }
  if (summary.firstOver12 !== undefined && summary.secondOver12 !== undefined) {
    throw new ConfigError(`${field} holds day-first (${JSON.stringify(clip(summary.firstOver12))}) and month-first (${JSON.stringify(clip(summary.secondOver12))}) dates; expected one format per column`)
  }
  const order: DateOrder | undefined = summary.firstOver12 !== undefined ? 'DMY' : summary.secondOver12 !== undefined ? 'MDY' : undefined
  if (order === undefined) {
    throw new ConfigError(`${field} ${sample} is ambiguous (day/month or month/day?); give ${formatOption} DD/MM/YYYY or MM/DD/YYYY, or write dates as ISO 8601 (YYYY-MM-DD)`)
  }
  if (summary.twoDigitYear !== undefined) {
    throw new ConfigError(`${field} ${JSON.stringify(clip(summary.twoDigitYear))} has a two-digit year; give ${formatOption} ${order === 'DMY' ? 'DD/MM/YY' : 'MM/DD/YY'} to read it as 19xx/20xx, or write four digits`)
  }
  return { kind: 'date', format: { order, yearDigits: 4 } }
}

/**
 * Epoch ms of one date text in a known format, or NaN when it does not match the format or names no
 * real date/time (31/02, 25:00). No offset: UTC. Fractions of a millisecond are dropped (truncated).
 */
export function parseDateWith(text: string, format: DateFormat): number {
  const m = (format.order === 'YMD' ? (format.basic === true ? BASIC : YMD) : XXY).exec(text.trim())
  if (m === null) return NaN
  const [a, b, c] = [m[1]!, m[2]!, m[3]!]
  if (format.order !== 'YMD' && c.length !== format.yearDigits) return NaN
  const [yText, mo, d] = format.order === 'YMD' ? [a, Number(b), Number(c)] : format.order === 'DMY' ? [c, Number(b), Number(a)] : [c, Number(a), Number(b)]
  let y = Number(yText)
  if (yText.length === 2) y += y >= 69 ? 1900 : 2000
  const h = m[4] === undefined ? 0 : Number(m[4])
  const mi = m[5] === undefined ? 0 : Number(m[5])
  const s = m[6] === undefined ? 0 : Number(m[6])
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'))
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return NaN
  const offset = offsetMinutes(m[8])
  if (Number.isNaN(offset)) return NaN
  return ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi - offset) * 60_000 + s * 1000 + ms
}

/** Minutes east of UTC of an offset text (Z, UTC, +02, +0200, +02:00); NaN when out of range. */
function offsetMinutes(text: string | undefined): number {
  if (text === undefined || /^(z|utc)$/i.test(text)) return 0
  const digits = text.slice(1).replace(':', '')
  const h = Number(digits.slice(0, 2))
  const m = digits.length > 2 ? Number(digits.slice(2)) : 0
  if (h > 23 || m > 59) return NaN
  return (text[0] === '-' ? -1 : 1) * (h * 60 + m)
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil; any year ≥ 0). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

export interface ParseTimeOptions extends TimeFormatOptions {
  /** A bare date ("2020-12-31") stands for its last millisecond (inclusive ends of ranges). */
  endOfDay?: boolean
}

/**
 * Epoch ms of one time given by a person: ISO 8601 (2022-03-01, 2022-03-01T09:30, …:00.5Z, ±hh:mm;
 * no offset = UTC), ISO 8601 basic (20220301, 20220301T0930, 20220301T093000Z, and 14 bare digits
 * 20220301093000), a year-first date 2022/03/01, a day/month date when its order is certain from the
 * value (13/01/2022) or given by `dateFormat`, or an epoch number of 9 or more integer digits (unit from
 * its magnitude: s, ms, µs, ns). Refused, as a one-line ConfigError naming `field`: a number of fewer
 * than 9 integer digits that is no YYYYMMDD date ("2022 is not a date/time; write 2022-01-01": epoch
 * seconds of 1970's first three years are not typed by people); 12 bare digits that read both as
 * YYYYMMDDhhmm of 1900–2200 and as epoch ms of 1973–2001 (202203011200: write 20220301T1200 or
 * 2022-03-01T12:00); anything ambiguous, unreadable or out of range.
 */
export function parseTime(text: string, options: ParseTimeOptions): number {
  const { field } = options
  const value = String(text).trim()
  if (EPOCH.test(value)) {
    const digits = /^-?(\d*)/.exec(value)![1]!.length
    if (/^\d{8}$/.test(value) || /^\d{14}$/.test(value)) {
      const ms = parseDateWith(value.length === 8 ? value : `${value.slice(0, 8)}T${value.slice(8)}`, BASIC_FORMAT)
      if (!Number.isNaN(ms) && ms >= YEAR_1900 && ms < YEAR_2201) return value.length === 8 && options.endOfDay === true ? ms + 86_400_000 - 1 : ms
      if (value.length === 8) throw new ConfigError(`${field} ${JSON.stringify(value)} is not a date/time: 8 digits are read as YYYYMMDD (1900–2200); write an ISO date such as 2022-03-01`)
    }
    if (digits < 9) {
      const write = /^\d{4}$/.test(value) ? `${value}-01-01` : 'an ISO date such as 2022-01-01'
      throw new ConfigError(`${field} ${JSON.stringify(clip(value))} is not a date/time; write ${write}, or an epoch number of 9 or more digits`)
    }
    if (/^\d{12}$/.test(value)) {
      const basic = parseDateWith(`${value.slice(0, 8)}T${value.slice(8)}`, BASIC_FORMAT)
      if (!Number.isNaN(basic) && basic >= YEAR_1900 && basic < YEAR_2201) {
        const iso = toIsoDate(basic).replace(/:00Z$/, '').replace(/Z$/, '')
        throw new ConfigError(`${field} ${JSON.stringify(value)} is ambiguous (YYYYMMDDhhmm ${iso} or epoch ms ${new Date(Number(value)).toISOString()}?); write ${value.slice(0, 8)}T${value.slice(8)} or ${iso}, or the epoch in seconds`)
      }
    }
  }
  const format = decideTimeFormat(summarizeTimes([value]), options)
  let ms = NaN
  if (format.kind === 'epoch') {
    const n = Number(value)
    ms = Number.isFinite(n) ? epochToMs(n, epochUnitOf(n)) : NaN
    if (!(Math.abs(ms) <= MAX_EPOCH_MS)) throw new ConfigError(`${field} ${JSON.stringify(clip(value))} is not a time: as an epoch number it is out of range`)
    return ms
  }
  if (format.kind === 'date') ms = parseDateWith(value, format.format)
  if (Number.isNaN(ms)) {
    throw new ConfigError(`${field} ${JSON.stringify(clip(value))} is not an ISO date or time (expected e.g. 2020-01-31 or 2020-01-31T12:00:00Z), nor an epoch number; no offset means UTC`)
  }
  const bareDate = !/[T ]\d/i.test(value)
  return bareDate && options.endOfDay === true ? ms + 86_400_000 - 1 : ms
}

const BASIC_FORMAT: DateFormat = { order: 'YMD', yearDigits: 4, basic: true }
/** 1900-01-01 and 2201-01-01 in epoch ms (-25,567 and 84,371 days: daysFromCivil). */
const YEAR_1900 = -25_567 * 86_400_000
const YEAR_2201 = 84_371 * 86_400_000

function formatText(f: DateFormat): string {
  const y = f.yearDigits === 2 ? 'YY' : 'YYYY'
  return f.order === 'DMY' ? `DD/MM/${y}` : f.order === 'MDY' ? `MM/DD/${y}` : 'YYYY/MM/DD'
}

/** Long or hostile text shortened for a one-line message (control characters shown escaped by JSON). */
export function clip(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`
}
