// The S&P 500 sample and the TTR reference values computed from it (test/fixtures/reference/README.md).

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../helpers.js'

export interface Sample {
  dates: string[]
  open: Float64Array
  high: Float64Array
  low: Float64Array
  close: Float64Array
  volume: Float64Array
}

function readCsv(file: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/)
  const split = (line: string) => line.split(',').map((cell) => cell.replace(/^"|"$/g, ''))
  return { header: split(lines[0]!), rows: lines.slice(1).map(split) }
}

export function loadSample(): Sample {
  const { header, rows } = readCsv(join(ROOT, 'data/samples/sp500-daily-2000-2020.csv'))
  const col = (name: string) => Float64Array.from(rows, (r) => Number(r[header.indexOf(name)]))
  return { dates: rows.map((r) => r[0]!), open: col('open'), high: col('high'), low: col('low'), close: col('close'), volume: col('volume') }
}

/** Reference columns by name; NA (empty) is NaN. */
export function loadTtr(): { dates: string[]; columns: Record<string, Float64Array> } {
  const { header, rows } = readCsv(join(ROOT, 'test/fixtures/reference/ttr-sp500-std.csv'))
  const columns: Record<string, Float64Array> = {}
  header.slice(1).forEach((name, j) => {
    columns[name] = Float64Array.from(rows, (r) => (r[j + 1] === '' || r[j + 1] === 'NA' ? NaN : Number(r[j + 1])))
  })
  return { dates: rows.map((r) => r[0]!), columns }
}
