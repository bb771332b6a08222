// Series handed to job threads: columns copied once into shared memory, so every thread reads the same
// bytes (no copy per thread or per job).

import type { SharedSeries } from './types.js'

export function isShared(series: SharedSeries): boolean {
  return Object.values(series.columns).every((c) => c.buffer instanceof SharedArrayBuffer)
}

/** The series with its columns in one SharedArrayBuffer (as it is when they already are). */
export function shareSeries(series: SharedSeries): SharedSeries {
  if (isShared(series)) return series
  const names = Object.keys(series.columns)
  const total = names.reduce((n, k) => n + series.columns[k]!.length, 0)
  const buffer = new SharedArrayBuffer(8 * total)
  const columns: Record<string, Float64Array> = {}
  let offset = 0
  for (const name of names) {
    const src = series.columns[name]!
    const view = new Float64Array(buffer, offset * 8, src.length)
    view.set(src)
    columns[name] = view
    offset += src.length
  }
  return { meta: series.meta, columns }
}

export function seriesBytes(series: SharedSeries): number {
  return Object.values(series.columns).reduce((n, c) => n + c.byteLength, 0)
}
