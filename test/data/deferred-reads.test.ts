// The lake's page reads in the thread pool (deferredFileSource, readPartitions), under faults injected into
// fs.read: a read that fails ends the flush only once every other read of that file has ended (the file's fd
// is closed after it: a read still in flight on a closed fd would land another file's bytes); a dataset of
// many partitions keeps at most 8 files open at once (300 monthly files under a low fd limit failed with
// EMFILE when all were opened together).

import fs, { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ingestBars, loadBars, syntheticGbm } from '../../lib/data/index.js'
import { deferredFileSource } from '../../lib/data/parquet-plain.js'

const realRead = fs.read
const scratch: string[] = []
afterEach(() => {
  fs.read = realRead
  syncBuiltinESMExports()
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** fs.read replaced (for lib's `import { read } from 'node:fs'` too) by `hook`, which gets the real one. */
function patchRead(hook: (real: typeof fs.read, args: unknown[]) => void): void {
  fs.read = ((...args: unknown[]) => hook(realRead, args)) as unknown as typeof fs.read
  syncBuiltinESMExports()
}

describe('deferred page reads', () => {
  it('a failed read rejects the flush only after the file’s other reads have ended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-deferred-'))
    scratch.push(dir)
    const file = join(dir, 'pages.bin')
    writeFileSync(file, Buffer.alloc(4 * 65_536, 17))
    const fd = openSync(file, 'r')
    const events: string[] = []
    let calls = 0
    patchRead((real, args) => {
      const call = ++calls
      const callback = args[args.length - 1] as (error: Error | null, bytes: number) => void
      if (call === 2) {
        // The second page fails at once.
        setImmediate(() => {
          events.push('read 2 failed')
          callback(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }), 0)
        })
        return
      }
      // The others are slow: they end well after the failure.
      ;(real as (...a: unknown[]) => void)(...args.slice(0, -1), (error: Error | null, bytes: number) =>
        setTimeout(() => {
          events.push(`read ${call} ended`)
          callback(error, bytes)
        }, 60),
      )
    })
    const source = deferredFileSource(fd, 4 * 65_536)
    const targets = [0, 1, 2].map(() => new Uint8Array(65_536))
    targets.forEach((into, k) => expect(source.copy(k * 65_536, 65_536, into, {})).toBe(true))
    const settled = await source.flush().then(
      () => 'resolved',
      (error: Error) => {
        events.push('flush rejected')
        return error.message
      },
    )
    closeSync(fd)
    expect(settled).toMatch(/EIO/)
    // Every read had ended before the flush gave up (the fd was still theirs).
    expect(events).toEqual(['read 2 failed', 'read 1 ended', 'read 3 ended', 'flush rejected'])
  })

  it('a dataset of 40 monthly partitions is read with at most 8 files open at once, bit for bit as one at a time', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-deferred-lake-'))
    scratch.push(home)
    // 40 months of 5m bars: 40 partition files of ~8,700 rows, whose pages (~70 kB a column) are read later.
    const bars = { ...syntheticGbm({ bars: 40 * 8_760, timeframe: '5m', seed: 3 }), symbol: 'MANY' }
    await ingestBars(home, bars, { source: 'synthetic' })
    const open = new Set<number>()
    let most = 0
    patchRead((real, args) => {
      const fd = args[0] as number
      open.add(fd)
      most = Math.max(most, open.size)
      const callback = args[args.length - 1] as (error: Error | null, bytes: number) => void
      ;(real as (...a: unknown[]) => void)(...args.slice(0, -1), (error: Error | null, bytes: number) =>
        // Slow enough that every file the reader started is pending together.
        setTimeout(() => {
          open.delete(fd)
          callback(error, bytes)
        }, 5),
      )
    })
    const read = await loadBars(home, { symbol: 'MANY', timeframe: '5m' })
    expect(most).toBeGreaterThan(1)
    expect(most).toBeLessThanOrEqual(8)
    for (const name of ['time', 'open', 'high', 'low', 'close', 'volume'] as const) expect(Buffer.from(read[name].buffer).equals(Buffer.from(bars[name].buffer)), name).toBe(true)
  })
})
