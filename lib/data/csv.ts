// A small, strict reader for OHLCV CSV files with a header row (date/time, open, high, low, close,
// volume in any order and case). Issue-level import with validation and quarantine builds on this.

import { readFileSync } from 'node:fs'
import { DataError, epochToMs, epochUnitOf, timeframeMs } from '../core/index.js'
import { checkBars, toEpochMs, type Bars } from './bars.js'
import { emptyBars } from './convert.js'

export interface ReadCsvOptions {
  symbol: string
  timeframe: string
}

const TIME_NAMES = ['date', 'time', 'timestamp', 'datetime']

export function readBarsCsv(path: string, options: ReadCsvOptions): Bars {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new DataError(`cannot read ${path}: ${(cause as { code?: string }).code ?? String(cause)}`, { cause })
  }
  return parseBarsCsv(text, { ...options, label: path })
}

export function parseBarsCsv(text: string, options: ReadCsvOptions & { label?: string }): Bars {
  const label = options.label ?? 'csv'
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '')
  if (lines.length === 0) throw new DataError(`${label} is empty; expected a header row and data rows`)
  const header = lines[0]!.split(',').map((h) => h.trim().replace(/^"|"$/g, '').toLowerCase())
  const column = (names: string[], what: string): number => {
    const at = header.findIndex((h) => names.includes(h))
    if (at < 0) throw new DataError(`${label} has no ${what} column (header: ${header.join(',')})`)
    return at
  }
  const cols = {
    time: column(TIME_NAMES, 'date/time'),
    open: column(['open'], 'open'),
    high: column(['high'], 'high'),
    low: column(['low'], 'low'),
    close: column(['close'], 'close'),
    volume: column(['volume'], 'volume'),
  }
  const n = lines.length - 1
  const bars = emptyBars(options, n)
  const rows = lines.slice(1).map((line) => line.split(','))
  const timeTexts = rows.map((cells) => (cells[cols.time] ?? '').trim().replace(/^"|"$/g, ''))
  const isEpoch = (text: string) => /^\d+(\.\d+)?$/.test(text)
  // Epoch numbers: one unit (s, ms, µs or ns) for the whole column, from its median step between rows
  // against the timeframe, else its median magnitude (epochUnitOf).
  const inOrder = timeTexts.filter(isEpoch).map(Number)
  const steps = inOrder.slice(1).map((v, i) => Math.abs(v - inOrder[i]!)).sort((a, b) => a - b)
  const epochs = [...inOrder].sort((a, b) => a - b)
  const unit = epochUnitOf(epochs.length === 0 ? 0 : epochs[epochs.length >> 1]!, { median: steps.length === 0 ? 0 : steps[steps.length >> 1]!, timeframeMs: timeframeMs(options.timeframe) })
  for (let i = 0; i < n; i++) {
    const cells = rows[i]!
    const where = `${label} line ${i + 2}`
    const timeText = timeTexts[i]!
    bars.time[i] = toEpochMs(isEpoch(timeText) ? epochToMs(Number(timeText), unit) : timeText, `${where} time`)
    if (!(bars.time[i]! >= 0 && bars.time[i]! < Date.UTC(2201, 0, 1))) {
      throw new DataError(`${where}: time ${JSON.stringify(timeText)} is outside 1970-01-01 … 2200-12-31`)
    }
    for (const field of ['open', 'high', 'low', 'close', 'volume'] as const) {
      const raw = (cells[cols[field]] ?? '').trim()
      const value = raw === '' ? NaN : Number(raw)
      if (raw !== '' && Number.isNaN(value)) throw new DataError(`${where}: ${field} ${JSON.stringify(raw)} is not a number`)
      bars[field][i] = value
    }
  }
  checkBars(bars)
  return bars
}
