// The OHLCV CSV reader shared by notebooks (readBarsCsv) and the lake's import (importFile): the dialect
// (delimiter , ; tab |, decimal point or comma) sniffed from the file's head or given, the columns found
// by name, and one time format per column (parseTime's rules: no offset = UTC, day/month order never guessed).

import { readFileSync } from 'node:fs'
import { clip, ConfigError, splitCsvLine, DataError, decideTimeFormat, epochToMs, epochUnitOf, parseDateFormat, parseDateWith, summarizeTimes, timeframeAnchor, timeframeMs, type TimeFormat } from '../core/index.js'
import { checkBars, type Bars } from './bars.js'
import { emptyBars } from './convert.js'

export interface CsvOptions {
  /** Field separator: , ; tab (or "\t", "tab") or |. Default: sniffed from the header and first rows. */
  delimiter?: string
  /** Decimal mark of the numbers: "." or ",". Default: sniffed (a comma only with another delimiter). */
  decimal?: string
  /** Day/month order for dates such as 01/03/2022: DD/MM/YYYY, MM/DD/YYYY, YYYY/MM/DD (…/YY). */
  dateFormat?: string
  /** How the caller's user gives these (messages name them): "--" for CLI flags, else (default) option names. */
  optionPrefix?: '--' | ''
}

export interface ReadCsvOptions extends CsvOptions {
  symbol: string
  timeframe: string
}

export interface CsvDialect {
  delimiter: string
  decimal: '.' | ','
}

export const TIME_COLUMN_NAMES = ['date', 'time', 'timestamp', 'datetime', 'open_time', 'ts'] as const
const NAMES = { open: ['open'], high: ['high'], low: ['low'], close: ['close'], volume: ['volume', 'vol'] } as const
const DELIMITERS = [',', ';', '\t', '|'] as const

/** Option names as the caller's user types them. */
export function csvOptionName(options: CsvOptions, name: 'delimiter' | 'decimal' | 'dateFormat'): string {
  if (options.optionPrefix !== '--') return name
  return name === 'dateFormat' ? '--date-format' : `--${name}`
}

function normalizeDelimiter(value: string, options: CsvOptions): string {
  const d = value === 'tab' || value === '\\t' ? '\t' : value
  if (!(DELIMITERS as readonly string[]).includes(d)) throw new ConfigError(`${csvOptionName(options, 'delimiter')} ${JSON.stringify(clip(value))} is not known; expected , ; tab or |`)
  return d
}

/** A header cell as a column name: unquoted, trimmed, lower case. */
export function columnName(cell: string): string {
  return cell.trim().replace(/^"(.*)"$/, '$1').trim().toLowerCase()
}

/** A time of day (MetaTrader's Time column beside its Date): 09:00, 9:00:00, 09:00:00.250. */
const CLOCK = /^\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/

/**
 * Indexes of the bar columns in a header (names in any case); volume may be missing (-1). A column
 * named date beside one named time whose cells in `sample` (data rows, split) are all times of day
 * (MetaTrader's Date,Time) is read as one instant: `time` is the date column, `clock` the time column
 * (else -1).
 */
export function barColumns(header: readonly string[], label: string, sample: readonly (readonly string[])[] = []): { time: number; clock: number; open: number; high: number; low: number; close: number; volume: number } {
  const names = header.map(columnName)
  const at = (list: readonly string[]) => names.findIndex((n) => list.includes(n))
  const cols = { time: at(TIME_COLUMN_NAMES), clock: -1, open: at(NAMES.open), high: at(NAMES.high), low: at(NAMES.low), close: at(NAMES.close), volume: at(NAMES.volume) }
  const missing = (['time', 'open', 'high', 'low', 'close'] as const).filter((k) => cols[k] < 0).map((k) => (k === 'time' ? 'date/time' : k))
  if (missing.length > 0) {
    throw new ConfigError(`${label}: no column for ${missing.join(', ')} (columns: ${clip(header.join(', '), 200)}); expected columns date/time/timestamp/datetime, open, high, low, close and optionally volume`)
  }
  const date = names.indexOf('date')
  const clock = names.indexOf('time')
  if (date >= 0 && clock >= 0) {
    const cells = sample.map((cells) => (cells[clock] ?? '').trim()).filter((c) => c !== '')
    if (cells.length > 0 && cells.every((c) => CLOCK.test(c))) {
      cols.time = date
      cols.clock = clock
    }
  }
  return cols
}

/** A date and a time of day as one time text (empty when either is: such a row's time does not read). */
export function joinDateClock(date: string, clock: string): string {
  const d = date.trim()
  const c = clock.trim()
  return d === '' || c === '' ? '' : `${d} ${c}`
}

/** Cells of one line (double quotes around a cell allowed, "" inside one for a quote). */
export function splitLine(line: string, delimiter: string): string[] {
  return splitCsvLine(line, undefined, delimiter)
}

const COMMA_NUMBER = /^\s*[+-]?\d+,\d+\s*$/
const POINT_NUMBER = /^\s*[+-]?\d+\.\d+\s*$/

/**
 * The numbers both readers accept (the import runs the same patterns in DuckDB), by decimal mark:
 * `plain`, digits with at most one decimal mark and an optional exponent; `grouped`, thousands
 * grouped by the other mark (1,234,567.5 or 1.234.567,5), whose separators are dropped. Nothing else
 * reads: 1_000, inf, nan, 0x10, and under a decimal comma any other point (1.5).
 */
export const NUMBER_PATTERNS = {
  '.': { plain: '^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?$', grouped: '^[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+(\\.[0-9]+)?$', group: ',' },
  ',': { plain: '^[+-]?([0-9]+,?[0-9]*|,[0-9]+)([eE][+-]?[0-9]+)?$', grouped: '^[+-]?[1-9][0-9]{0,2}(\\.[0-9]{3})+(,[0-9]+)?$', group: '.' },
} as const
const NUMBER_RE = {
  '.': { plain: new RegExp(NUMBER_PATTERNS['.'].plain), grouped: new RegExp(NUMBER_PATTERNS['.'].grouped) },
  ',': { plain: new RegExp(NUMBER_PATTERNS[','].plain), grouped: new RegExp(NUMBER_PATTERNS[','].grouped) },
}

/** Cells that settle the decimal mark: 12,5 or 1.234,5 (comma); 12.5 or 1,234.5 (point). */
const COMMA_DECIMAL = [/^[+-]?\d+,\d+$/, /^[+-]?[1-9]\d{0,2}(\.\d{3})+,\d+$/]
const POINT_DECIMAL = [/^[+-]?\d+\.\d+$/, /^[+-]?[1-9]\d{0,2}(,\d{3})+\.\d+$/]
/** Cells that could be either: 43,160 (thousands, or a decimal comma) and 1.500 (decimals, or thousands). A group
 * of thousands never starts with 0: 0,001 is a decimal comma, 0.500 a decimal point. */
const COMMA_GROUPED = /^[+-]?[1-9]\d{0,2}(,\d{3})+$/
const POINT_GROUPED = /^[+-]?[1-9]\d{0,2}(\.\d{3})+$/
/** One comma group (151,801): thousands, or a decimal comma with three decimals; two groups (1,234,567) can only be thousands. */
const SINGLE_COMMA_GROUP = /^[+-]?[1-9]\d{0,2},\d{3}$/

/**
 * The dialect of a CSV file from its head (the header and up to 50 rows): the delimiter under which the
 * header names the most bar columns (ties: the one that splits every line into as many cells as the
 * header). The decimal mark, with another delimiter than a comma, from the cells that settle it: a
 * comma when some cell reads 12,5 or 1.234,5 and none 12.5 or 1,234.5 (1.500 is then 1500); else a
 * point. When the head settles nothing (whole numbers only), the rest of the file (`rest`, its data
 * lines after the head) is read until a cell does. A file whose only such cells could be either —
 * 43,160 or 1.500 (thousands, or decimals?) — is refused naming the column and a cell: read as a point,
 * a volume of 12.345 meant as 12,345 was silently a thousand times too small (a numbers audit). Given
 * options win; a decimal comma with a comma delimiter is refused.
 */
export function sniffDialect(head: string, options: CsvOptions, label: string, rest?: () => Iterable<string>): CsvDialect {
  const lines = head.split(/\r\n|\r|\n/).filter((l) => l.trim() !== '').slice(0, 51)
  if (lines.length === 0) throw new DataError(`${label} is empty; expected a header row and data rows`)
  let delimiter: string
  if (options.delimiter !== undefined) delimiter = normalizeDelimiter(options.delimiter, options)
  else {
    const score = (d: string) => {
      const header = splitLine(lines[0]!, d).map(columnName)
      const known = header.filter((n) => (TIME_COLUMN_NAMES as readonly string[]).includes(n) || Object.values(NAMES).some((list) => (list as readonly string[]).includes(n))).length
      const even = lines.every((l) => splitLine(l, d).length === header.length) ? 1 : 0
      return known * 2 + even
    }
    delimiter = [...DELIMITERS].sort((a, b) => score(b) - score(a))[0]!
  }
  let decimal: '.' | ','
  if (options.decimal !== undefined) {
    if (options.decimal !== '.' && options.decimal !== ',') throw new ConfigError(`${csvOptionName(options, 'decimal')} ${JSON.stringify(clip(options.decimal))} is not known; expected . or ,`)
    decimal = options.decimal
  } else {
    let commas = 0
    let points = 0
    let ambiguous: { column: number; cell: string } | undefined
    // A comma-delimited file holds a comma only in a quoted cell: "1,234.5" groups thousands, but "151,45" is a
    // decimal comma and "151,801" could be either — read as 151801 beside quarantined "151,45" rows before (an audit).
    let commaCell: string | undefined
    let singleGroup: { column: number; cell: string } | undefined
    // A cell of two groups or more ("17,142,847") can only group thousands: it settles a comma file.
    let manyGroups = false
    {
      const look = (line: string) => {
        // Only cells holding a point or a comma can settle anything (a whole number, a date with dashes cannot).
        // (In a , file every line holds a comma: only a quoted cell can hold one in a number.)
        if (line.indexOf('.') < 0 && line.indexOf(delimiter === ',' ? '"' : ',') < 0) return
        splitLine(line, delimiter).forEach((raw, column) => {
          const cell = raw.trim()
          if (COMMA_DECIMAL.some((re) => re.test(cell)) && !COMMA_GROUPED.test(cell)) {
            commas++
            commaCell ??= cell
          } else if (POINT_DECIMAL.some((re) => re.test(cell)) && !POINT_GROUPED.test(cell)) points++
          else {
            if ((COMMA_GROUPED.test(cell) || POINT_GROUPED.test(cell)) && ambiguous === undefined) ambiguous = { column, cell }
            if (SINGLE_COMMA_GROUP.test(cell)) singleGroup ??= { column, cell }
            else if (COMMA_GROUPED.test(cell)) manyGroups = true
          }
        })
      }
      for (const line of lines.slice(1)) look(line)
      // Nothing settled in the head (whole numbers, or cells that could be either): on through the file until a
      // cell settles it; a 1.500 on one line and 105,5 on the next is a decimal comma (a review).
      const settled = () => commas > 0 || points > 0 || (delimiter === ',' && manyGroups)
      if (!settled() && rest !== undefined) {
        for (const line of rest()) {
          look(line)
          if (settled()) break
        }
      }
    }
    if (delimiter === ',' && points === 0 && (commas > 0 || (singleGroup !== undefined && !manyGroups))) {
      const flag = csvOptionName(options, 'decimal')
      const cell = commaCell ?? singleGroup!.cell
      const what = commaCell !== undefined ? 'a decimal comma' : `${parseNumberCell(cell, '.')} (thousands) or ${parseNumberCell(cell, ',')} (a decimal comma)? ambiguous`
      throw new ConfigError(`${label} holds quoted numbers such as ${JSON.stringify(clip(cell))} with the delimiter , : ${what}; a decimal comma needs another delimiter (save with ; or tab), or give ${flag} . if the commas group thousands`)
    }
    if (delimiter === ',') decimal = '.'
    else if (commas > 0 && points === 0) decimal = ','
    else {
      if (commas === 0 && points === 0 && ambiguous !== undefined) {
        const name = (splitLine(lines[0]!, delimiter)[ambiguous.column] ?? `${ambiguous.column + 1}`).trim().replace(/^"(.*)"$/, '$1').trim()
        const flag = csvOptionName(options, 'decimal')
        const cell = ambiguous.cell
        const as = (mark: '.' | ',') => String(parseNumberCell(cell, mark))
        throw new ConfigError(`${label} column ${clip(name)} ${JSON.stringify(clip(ambiguous.cell))} is ambiguous (${as('.')} with ${flag} ., ${as(',')} with ${flag} ,: a point or comma grouping thousands, or the decimal mark?); give ${flag} . or ${flag} ,`)
      }
      decimal = '.'
    }
  }
  if (decimal === ',' && delimiter === ',') throw new ConfigError(`${csvOptionName(options, 'decimal')} , needs another delimiter than , (give ${csvOptionName(options, 'delimiter')} ; or tab)`)
  return { delimiter, decimal }
}

/** A number cell: NaN when empty or not a number by NUMBER_PATTERNS for the decimal mark `decimal`. */
export function parseNumberCell(text: string, decimal: '.' | ','): number {
  const t = text.replace(/^[ \t\r\n\f\v]+|[ \t\r\n\f\v]+$/g, '')
  if (t === '') return NaN
  const re = NUMBER_RE[decimal]
  const group = NUMBER_PATTERNS[decimal].group
  const s = re.grouped.test(t) ? t.split(group).join('') : re.plain.test(t) ? t : undefined
  if (s === undefined) return NaN
  return Number(decimal === ',' ? s.replace(',', '.') : s)
}

/** Why a number cell did not read, as a hint: the other decimal mark, when the cell looks like it. */
export function decimalHint(text: string, decimal: '.' | ',', options: CsvOptions): string {
  const flag = csvOptionName(options, 'decimal')
  if (decimal === '.' && COMMA_NUMBER.test(text)) return `decimal comma? give ${flag} ,`
  if (decimal === ',' && POINT_NUMBER.test(text)) return `decimal point? give ${flag} . (under ${flag} , a point only groups thousands, as in 1.500)`
  return ''
}

/** "1h" for 3,600,000 ms: the largest unit the step is a whole number of. */
export function timeframeOfStep(ms: number): string {
  for (const [unit, size] of [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms / 1000}s`
}

/** The refusal of a file whose rows are mostly off the timeframe's grid (`step`: the median step, 0 if none). */
export function offGridMessage(label: string, options: CsvOptions, timeframe: string, offGrid: number, rows: number, step: number, outcome: string, firstOff?: number): string {
  const looks = step > 0 ? timeframeOfStep(step) : undefined
  const flag = csvOptionName(options, 'dateFormat') === '--date-format' ? '--timeframe' : 'timeframe'
  const share = `${label}: ${flag} ${timeframe} puts ${Math.round((offGrid / rows) * 100)}% of the rows off its grid`
  const tf = timeframeMs(timeframe)
  // The right spacing at the wrong phase (daily bars stamped 05:00 UTC or with a -05:00 offset): "looks like 1d" for
  // --timeframe 1d contradicted itself (a new-user check).
  if (step === tf && firstOff !== undefined && Number.isFinite(firstOff)) {
    const anchor = timeframeAnchor(timeframe)
    const phase = (((firstOff - anchor) % tf) + tf) % tf
    return `${share}: the timestamps are ${timeframe} apart, as ${timeframe} bars are, but ${timeframeOfStep(phase)} past the start of their ${timeframe} period (${new Date(firstOff).toISOString()}); mtflow stamps a bar at the start of its UTC period (${anchor === 0 ? 'multiples of the timeframe from 1970-01-01 00:00' : 'weeks on Monday 00:00'}): shift the times to it before importing (${outcome})`
  }
  return `${share}${looks === undefined ? '' : `; most timestamps are ${looks} apart — looks like ${looks}`} (${outcome})`
}

/** The one time format of a column (and, for epoch numbers, their unit) from all its values. */
export function timeColumnFormat(texts: readonly string[], options: CsvOptions & { timeframe: string; field: string }): { format: TimeFormat; read: (text: string) => number } {
  const format = decideTimeFormat(summarizeTimes(texts), { field: options.field, ...(options.dateFormat === undefined ? {} : { dateFormat: parseDateFormat(options.dateFormat, csvOptionName(options, 'dateFormat')) }), formatOption: csvOptionName(options, 'dateFormat') })
  if (format.kind === 'date') return { format, read: (text) => parseDateWith(text, format.format) }
  if (format.kind === 'none') return { format, read: () => NaN }
  // Epoch numbers: one unit for the column, from its median step against the timeframe, else its median magnitude.
  const values = texts.map((t) => Number(t.trim())).filter((v) => Number.isFinite(v))
  const steps = values.slice(1).map((v, i) => Math.abs(v - values[i]!)).sort((a, b) => a - b)
  const sorted = [...values].sort((a, b) => a - b)
  const unit = epochUnitOf(sorted.length === 0 ? 0 : sorted[sorted.length >> 1]!, { median: steps.length === 0 ? 0 : steps[steps.length >> 1]!, timeframeMs: timeframeMs(options.timeframe) })
  return { format, read: (text) => (/^\s*-?\d+(\.\d+)?\s*$/.test(text) ? epochToMs(Number(text), unit) : NaN) }
}

export function readBarsCsv(path: string, options: ReadCsvOptions): Bars {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new DataError(`cannot read ${path}: ${(cause as { code?: string }).code ?? String(cause)}`, { cause })
  }
  return parseBarsCsv(text, { ...options, label: path })
}

/**
 * Bars from CSV text, strictly: any row whose time or price does not read, or a time outside
 * 1970–2200, is a one-line DataError naming the line (the lake's import quarantines such rows
 * instead). A missing volume column or cell is NaN, as in the lake.
 */
export function parseBarsCsv(text: string, options: ReadCsvOptions & { label?: string }): Bars {
  const label = options.label ?? 'csv'
  timeframeMs(options.timeframe)
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).filter((line) => line.trim() !== '')
  if (lines.length === 0) throw new DataError(`${label} is empty; expected a header row and data rows`)
  const dialect = sniffDialect(lines.slice(0, 51).join('\n'), options, label, () => lines.slice(51))
  const header = splitLine(lines[0]!, dialect.delimiter)
  const n = lines.length - 1
  const rows = lines.slice(1).map((line) => splitLine(line, dialect.delimiter))
  const cols = barColumns(header, label, rows.slice(0, 50))
  if (n === 0) throw new DataError(`${label} has no data rows; expected a header row and data rows`)
  const bars = emptyBars(options, n)
  const timeTexts = rows.map((cells) => (cols.clock < 0 ? (cells[cols.time] ?? '').trim() : joinDateClock(cells[cols.time] ?? '', cells[cols.clock] ?? '')))
  const headerName = (i: number) => header[i]!.trim().replace(/^"(.*)"$/, '$1').trim()
  const timeField = cols.clock < 0 ? `${label} column ${headerName(cols.time)}` : `${label} columns ${headerName(cols.time)} and ${headerName(cols.clock)}`
  const { read } = timeColumnFormat(timeTexts, { ...options, field: timeField })
  for (let i = 0; i < n; i++) {
    const cells = rows[i]!
    const where = `${label} line ${i + 2}`
    const t = read(timeTexts[i]!)
    if (!(t >= 0 && t < Date.UTC(2201, 0, 1))) {
      throw new DataError(`${where}: time ${JSON.stringify(clip(timeTexts[i]!))} ${Number.isNaN(t) ? 'does not read as the column\'s format' : 'is outside 1970-01-01 … 2200-12-31'}`)
    }
    bars.time[i] = t
    for (const field of ['open', 'high', 'low', 'close', 'volume'] as const) {
      if (cols[field] < 0) {
        bars[field][i] = NaN
        continue
      }
      const raw = (cells[cols[field]] ?? '').trim()
      const value = parseNumberCell(raw, dialect.decimal)
      if (raw !== '' && !Number.isFinite(value)) {
        const hint = decimalHint(raw, dialect.decimal, options)
        throw new DataError(`${where}: ${field} ${JSON.stringify(clip(raw))} is not a ${Number.isNaN(value) ? '' : 'finite '}number${hint === '' ? '' : ` (${hint})`}`)
      }
      if (raw === '' && field !== 'volume') throw new DataError(`${where}: ${field} is empty; a bar needs open, high, low and close`)
      bars[field][i] = value
    }
    // The rules the lake's import quarantines by (lib/data/ingest.ts), here an error: a bar the lake would
    // refuse is not handed to a backtest either.
    const problem = barProblem(bars.open[i]!, bars.high[i]!, bars.low[i]!, bars.close[i]!, bars.volume[i]!)
    if (problem !== undefined) throw new DataError(`${where}: ${problem}`)
  }
  // The timeframe's grid, as the import checks it: most rows off it is a wrong timeframe.
  const step = timeframeMs(options.timeframe)
  const anchor = timeframeAnchor(options.timeframe)
  let offGrid = 0
  for (let i = 0; i < n; i++) if ((bars.time[i]! - anchor) % step !== 0) offGrid++
  if (offGrid * 2 >= n && n > 0) {
    const sorted = Array.from(bars.time).sort((a, b) => a - b)
    const steps = sorted.slice(1).map((t, i) => t - sorted[i]!).filter((d) => d > 0).sort((a, b) => a - b)
    const m = steps.length >> 1
    const median = steps.length === 0 ? 0 : steps.length % 2 === 1 ? steps[m]! : (steps[m - 1]! + steps[m]!) / 2
    throw new DataError(offGridMessage(label, options, options.timeframe, offGrid, n, median, 'nothing read', bars.time.find((t) => (t - anchor) % step !== 0)))
  }
  if (offGrid > 0) {
    const i = bars.time.findIndex((t) => (t - anchor) % step !== 0)
    throw new DataError(`${label} line ${i + 2}: time ${JSON.stringify(clip(timeTexts[i]!))} is off the ${options.timeframe} grid (bars of ${options.timeframe} open at multiples of ${options.timeframe}${anchor === 0 ? ' from 1970-01-01' : ', weeks on Mondays'})`)
  }
  checkBars(bars)
  return bars
}

/**
 * Why a bar's values are not a bar, or undefined: the lake import's quarantine rules (ingest.ts) in its order
 * — prices ≤ 0, outside 1e-12 … 1e15, high below open or close, low above them, a negative volume.
 */
export function barProblem(open: number, high: number, low: number, close: number, volume: number): string | undefined {
  const least = Math.min(open, high, low, close)
  const most = Math.max(open, high, low, close)
  if (least <= 0) return `a price is ≤ 0 (open ${open}, high ${high}, low ${low}, close ${close})`
  if (least < MIN_BAR_PRICE || most > MAX_BAR_PRICE) return `a price is outside 1e-12 … 1e15 (open ${open}, high ${high}, low ${low}, close ${close})`
  if (high < Math.max(open, close)) return `high ${high} is below open ${open} or close ${close}`
  if (low > Math.min(open, close)) return `low ${low} is above open ${open} or close ${close}`
  if (volume < 0) return `volume ${volume} is negative`
  return undefined
}

/** The prices a bar may hold (the lake's price_out_of_range outside them). */
export const MIN_BAR_PRICE = 1e-12
export const MAX_BAR_PRICE = 1e15
