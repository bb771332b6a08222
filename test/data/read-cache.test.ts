// The partition read cache may speed reads up but never change what they return.

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { barsFromRows, barsHash, ingestBars, loadBars, partitionFiles } from '../../lib/data/index.js'

const id = { symbol: 'C', timeframe: '1h' }
const T = Date.UTC(2024, 0, 1)
const rows = (from: number, n: number, bump = 0) =>
  Array.from({ length: n }, (_, k) => ({ time: T + (from + k) * 3_600_000, open: 10 + k, high: 12 + k + bump, low: 9 + k, close: 11 + k, volume: k }))

describe('the partition read cache', () => {
  it('is built on first read and gives the same bars as the Parquet file', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-cache-'))
    await ingestBars(home, barsFromRows(rows(0, 100), id))
    const [file] = partitionFiles(home, { source: 'local', ...id })
    expect(existsSync(`${file}.f64`)).toBe(false)
    const first = await loadBars(home, id)
    expect(existsSync(`${file}.f64`)).toBe(true)
    const second = await loadBars(home, id)
    expect(barsHash(second, 'x')).toBe(barsHash(first, 'x'))
    expect(Array.from(second.close.subarray(0, 3))).toEqual([11, 12, 13])
  })

  it('is never read once the partition changed, nor when it is damaged', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-cache-stale-'))
    await ingestBars(home, barsFromRows(rows(0, 100), id))
    await loadBars(home, id) // builds the cache
    await ingestBars(home, barsFromRows(rows(100, 50), id)) // replaces the partition file
    const after = await loadBars(home, id)
    expect(after.time.length).toBe(150)
    const [file] = partitionFiles(home, { source: 'local', ...id })
    writeFileSync(`${file}.f64`, 'MTFLF64\ngarbage that is not a cache')
    expect(barsHash(await loadBars(home, id), 'x')).toBe(barsHash(after, 'x'))
  })
})
