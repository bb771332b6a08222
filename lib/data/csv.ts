// The OHLCV CSV reader shared by notebooks (readBarsCsv) and the lake's import (importFile): the dialect
// (delimiter , ; tab |, decimal point or comma) sniffed from the file's head or given, the columns found
// by name, and one time format per column (parseTime's rules: no offset = UTC, day/month order never guessed).

import { readFileSync } from 'node:fs'
import { clip, ConfigError, splitCsvLine, DataError, decideTimeFormat, epochToMs, epochUnitOf, parseDateFormat, parseDateWith, summarizeTimes, timeframeMs, type TimeFormat } from '../core/index.js'
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

/** Indexes of the bar columns in a header (names in any case); volume may be missing (-1). */
export function barColumns(header: readonly string[], label: string): { time: number; open: number; high: number; low: number; close: number; volume: number } {
  const names = header.map(columnName)
  const at = (list: readonly string[]) => names.findIndex((n) => list.includes(n))
  const cols = { time: at(TIME_COLUMN_NAMES), open: at(NAMES.open), high: at(NAMES.high), low: at(NAMES.low), close: at(NAMES.close), volume: at(NAMES.volume) }
  const missing = (['time', 'open', 'high', 'low', 'close'] as const).filter((k) => cols[k] < 0).map((k) => (k === 'time' ? 'date/time' : k))
  if (missing.length > 0) {
    throw new ConfigError(`${label}: no column for ${missing.join(', ')} (columns: ${clip(header.join(', '), 200)}); expected columns date/time/timestamp/datetime, open, high, low, close and optionally volume`)
  }
  return cols
}

/** Cells of one line (double quotes around a cell allowed, "" inside one for a quote). */
export function splitLine(line: string, delimiter: string): string[] {
  return splitCsvLine(line, undefined, delimiter)
}

const COMMA_NUMBER = /^\s*[+-]?\d+,\d+\s*$/
const POINT_NUMBER = /^\s*[+-]?\d+\.\d+\s*$/

/**
 * The dialect of a CSV file from its head (the header and up to 50 rows): the delimiter under which the
 * header names the most bar columns (ties: the one that splits every line into as many cells as the
 * header), and a decimal comma when, with another delimiter, price cells hold 1234,5 and none 1234.5.
 * Given options win; a decimal comma with a comma delimiter is refused.
 */
export function sniffDialect(head: string, options: CsvOptions, label: string): CsvDialect {
  const lines = head.split(/\r?\n/).filter((l) => l.trim() !== '').slice(0, 51)
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
    if (delimiter !== ',') {
      for (const line of lines.slice(1)) {
        for (const cell of splitLine(line, delimiter)) {
          if (COMMA_NUMBER.test(cell)) commas++
          else if (POINT_NUMBER.test(cell)) points++
        }
      }
    }
    decimal = commas > 0 && points === 0 ? ',' : '.'
  }
  if (decimal === ',' && delimiter === ',') throw new ConfigError(`${csvOptionName(options, 'decimal')} , needs another delimiter than , (give ${csvOptionName(options, 'delimiter')} ; or tab)`)
  return { delimiter, decimal }
}

/** A number cell: NaN when empty or not a number (a decimal comma read as a point when `decimal` is ","). */
export function parseNumberCell(text: string, decimal: '.' | ','): number {
  const t = text.trim()
  if (t === '') return NaN
  if (decimal === ',' && COMMA_NUMBER.test(t)) return Number(t.replace(',', '.'))
  if (/^0[xbo]/i.test(t.replace(/^[+-]/, ''))) return NaN
  return Number(t)
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
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((line) => line.trim() !== '')
  if (lines.length === 0) throw new DataError(`${label} is empty; expected a header row and data rows`)
  const dialect = sniffDialect(lines.slice(0, 51).join('\n'), options, label)
  const header = splitLine(lines[0]!, dialect.delimiter)
  const cols = barColumns(header, label)
  const n = lines.length - 1
  const bars = emptyBars(options, n)
  const rows = lines.slice(1).map((line) => splitLine(line, dialect.delimiter))
  const timeTexts = rows.map((cells) => (cells[cols.time] ?? '').trim())
  const timeField = `${label} column ${header[cols.time]!.trim().replace(/^"(.*)"$/, '$1').trim()}`
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
        const hint = dialect.decimal === '.' && COMMA_NUMBER.test(raw) ? ` (decimal comma? give ${csvOptionName(options, 'decimal')} ,)` : ''
        throw new DataError(`${where}: ${field} ${JSON.stringify(clip(raw))} is not a ${Number.isNaN(value) ? '' : 'finite '}number${hint}`)
      }
      bars[field][i] = value
    }
  }
  checkBars(bars)
  return bars
}
