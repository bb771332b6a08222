// The bundled samples (data/samples) into a workspace: the S&P 500 daily OHLCV as SPX, and the DAX,
// SMI, CAC and FTSE daily closes of R's EuStockMarkets. Those are sampled in business time (260 per
// year, fractional-year stamps): observation k of a year is dated the k-th weekday of that year, an
// approximation (holidays are not known) stated wherever the series is described.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DataError } from '../core/index.js'
import type { Bars } from './bars.js'
import { emptyBars } from './convert.js'
import { importFile, ingestBars, type IngestReport } from './ingest.js'

export const SAMPLE_SOURCE = 'sample'

/** Epoch ms of the k-th weekday (0-based) of `year`. */
export function weekdayOfYear(year: number, k: number): number {
  let t = Date.UTC(year, 0, 1)
  let seen = -1
  for (;;) {
    const day = new Date(t).getUTCDay()
    if (day !== 0 && day !== 6 && ++seen === k) return t
    t += 86_400_000
  }
}

/** The EuStockMarkets closes as 1d bars (open = high = low = close, no volume), one per index. */
export function readEuStocks(path: string): Bars[] {
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/)
  const header = lines[0]!.split(',').map((h) => h.replace(/"/g, ''))
  if (header[0] !== 't') throw new DataError(`${path}: expected a first column "t" (fractional year)`)
  const names = header.slice(1)
  const out = names.map((name) => emptyBars({ symbol: name, timeframe: '1d' }, lines.length - 1))
  lines.slice(1).forEach((line, i) => {
    const cells = line.split(',').map(Number)
    const t = cells[0]!
    const year = Math.floor(t + 1e-9)
    const k = Math.round((t - year) * 260)
    const time = weekdayOfYear(year, k)
    names.forEach((_, j) => {
      const close = cells[j + 1]!
      const bars = out[j]!
      bars.time[i] = time
      bars.open[i] = close
      bars.high[i] = close
      bars.low[i] = close
      bars.close[i] = close
      bars.volume[i] = NaN
    })
  })
  return out
}

export async function importSamples(home: string, samplesDir: string): Promise<IngestReport[]> {
  const reports = [await importFile(home, join(samplesDir, 'sp500-daily-2000-2020.csv'), { symbol: 'SPX', timeframe: '1d', source: SAMPLE_SOURCE })]
  for (const bars of readEuStocks(join(samplesDir, 'eustockmarkets-1991-1998.csv'))) {
    reports.push(await ingestBars(home, bars, { source: SAMPLE_SOURCE, origin: 'eustockmarkets-1991-1998.csv' }))
  }
  return reports
}
