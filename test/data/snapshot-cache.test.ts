// loadBarsWithSnapshot: the bars' snapshot id as they were read, remembered per dataset under
// MTFLOW_HOME/lake/.snapshots and keyed by the exact partition files and rows read. Every id is checked
// against a sha256 computed here from the bars' bytes (the documented barsHash layout), so a stale or
// wrong cache entry fails whichever way it came about.

import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ingestBars, loadBars, loadBarsWithSnapshot, partitionFiles, snapshotCacheDir, syntheticGbm, type Bars } from '../../lib/data/index.js'

const home = () => mkdtempSync(join(tmpdir(), 'mtflow-snapshot-'))

/** sha256 over the JSON header, then each of the six columns' little-endian float64 bytes, time first. */
function expectedId(bars: Bars, source: string): string {
  const hash = createHash('sha256').update(JSON.stringify({ source, symbol: bars.symbol, timeframe: bars.timeframe, rows: bars.time.length }))
  for (const column of [bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume]) {
    const bytes = Buffer.alloc(column.length * 8)
    column.forEach((v, i) => bytes.writeDoubleLE(v, i * 8))
    hash.update(bytes)
  }
  return hash.digest('hex')
}

function cacheFile(h: string): string {
  const files = readdirSync(snapshotCacheDir(h)).filter((f) => f.endsWith('.json'))
  expect(files).toHaveLength(1)
  return join(snapshotCacheDir(h), files[0]!)
}

// 2,000 hourly bars from 2024-01-01: three monthly partitions (January, February, part of March).
const gbm = () => ({ ...syntheticGbm({ bars: 2_000, timeframe: '1h', seed: 3, start: Date.UTC(2024, 0, 1) }), symbol: 'GBM' })

describe('loadBarsWithSnapshot', () => {
  it('gives the sha256 of the bars it read, first by hashing and then from its cache', async () => {
    const h = home()
    await ingestBars(h, gbm(), { source: 'synthetic' })
    const cold = await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })
    expect(cold.bars.time.length).toBe(2_000)
    expect(cold.snapshot).toBe(expectedId(cold.bars, 'synthetic'))
    const cached = JSON.parse(readFileSync(cacheFile(h), 'utf8')) as { entries: { id: string; snapshot: string }[] }
    expect(cached.entries.map((e) => e.snapshot)).toEqual([cold.snapshot])
    // The second read answers from the cache: a planted id for the same files shows through (and only then).
    writeFileSync(cacheFile(h), JSON.stringify({ entries: [{ id: cached.entries[0]!.id, snapshot: 'f'.repeat(64) }] }))
    expect((await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })).snapshot).toBe('f'.repeat(64))
    writeFileSync(cacheFile(h), JSON.stringify(cached))
    const warm = await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })
    expect(warm.snapshot).toBe(cold.snapshot)
    expect(warm.snapshot).toBe(expectedId(warm.bars, 'synthetic'))
  })

  it('hashes afresh when a writer replaced a partition (appended bars, a file renamed over another)', async () => {
    const h = home()
    await ingestBars(h, gbm(), { source: 'synthetic' })
    const first = await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })
    // Bars appended in March: the March partition is replaced by a longer one.
    const more = { ...syntheticGbm({ bars: 2_100, timeframe: '1h', seed: 3, start: Date.UTC(2024, 0, 1) }), symbol: 'GBM' }
    await ingestBars(h, more, { source: 'synthetic' })
    const second = await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })
    expect(second.bars.time.length).toBe(2_100)
    expect(second.snapshot).toBe(expectedId(second.bars, 'synthetic'))
    expect(second.snapshot).not.toBe(first.snapshot)
    // The same rows again (an idempotent re-import) keep the id.
    await ingestBars(h, more, { source: 'synthetic' })
    expect((await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })).snapshot).toBe(second.snapshot)
    // A partition file replaced in place (same path and generation; another walk's February, renamed over it).
    const other = home()
    await ingestBars(other, { ...syntheticGbm({ bars: 2_100, timeframe: '1h', seed: 4, start: Date.UTC(2024, 0, 1) }), symbol: 'GBM' }, { source: 'synthetic' })
    const february = (root: string) => partitionFiles(root, { source: 'synthetic', symbol: 'GBM', timeframe: '1h' }).find((f) => f.includes('period=2024-02'))!
    copyFileSync(february(other), `${february(h)}.new`)
    renameSync(`${february(h)}.new`, february(h))
    const third = await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })
    expect(third.bars.close[800]).not.toBe(second.bars.close[800]) // 2024-02-03: February's bars changed
    expect(third.snapshot).toBe(expectedId(third.bars, 'synthetic'))
    expect(third.snapshot).not.toBe(second.snapshot)
  })

  it('keys a time range by the rows it cut: each range has its own id, equal to the hash of its bars', async () => {
    const h = home()
    await ingestBars(h, gbm(), { source: 'synthetic' })
    const whole = await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })
    const ranges = [
      { start: '2024-01-10', end: '2024-02-20' },
      { start: '2024-01-10T01:00:00Z', end: '2024-02-20' },
      { start: '2024-02-01' },
      { end: '2024-01-31T23:00:00Z' },
    ]
    const ids = new Set([whole.snapshot])
    for (const range of ranges) {
      const cold = await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h', ...range })
      const warm = await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h', ...range })
      const plain = await loadBars(h, { symbol: 'GBM', timeframe: '1h', ...range })
      expect(cold.snapshot).toBe(expectedId(plain, 'synthetic'))
      expect(warm.snapshot).toBe(cold.snapshot)
      ids.add(cold.snapshot)
    }
    expect(ids.size).toBe(ranges.length + 1)
  })

  it('ignores a corrupt cache file, keeps at most 32 ids, and works on a read-only lake', async () => {
    const h = home()
    await ingestBars(h, gbm(), { source: 'synthetic' })
    await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })
    writeFileSync(cacheFile(h), '{"entries": [{"id": 1}, nonsense')
    const again = await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h' })
    expect(again.snapshot).toBe(expectedId(again.bars, 'synthetic'))
    for (let day = 1; day <= 40; day++) await loadBarsWithSnapshot(h, { symbol: 'GBM', timeframe: '1h', start: `2024-01-${String((day % 28) + 1).padStart(2, '0')}T${String(day % 24).padStart(2, '0')}:00:00Z` })
    expect((JSON.parse(readFileSync(cacheFile(h), 'utf8')) as { entries: unknown[] }).entries).toHaveLength(32)
    if (process.getuid?.() === 0) return // root writes through a read-only mode
    const other = home()
    await ingestBars(other, gbm(), { source: 'synthetic' })
    chmodSync(join(other, 'lake'), 0o555)
    const read = await loadBarsWithSnapshot(other, { symbol: 'GBM', timeframe: '1h' })
    expect(read.snapshot).toBe(expectedId(read.bars, 'synthetic'))
    expect(existsSync(snapshotCacheDir(other))).toBe(false)
    chmodSync(join(other, 'lake'), 0o755)
  })
})
