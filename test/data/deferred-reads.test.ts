// The lake's page reads in the thread pool (deferredFileSource, readPartitions), under faults injected into
// fs (openSync, closeSync, read): a read that fails ends the flush only once every other read of that file
// has ended (the file's fd is closed after it: a read still in flight on a closed fd would land another
// file's bytes); a dataset of many partitions keeps at most 8 files open at once (300 monthly files under a
// low fd limit failed with EMFILE when all were opened together); a partition that fails stops the read
// after the files already being read, all of them closed before the error is reported.

import fs, { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ingestBars, loadBars, syntheticGbm } from '../../lib/data/index.js'
import { deferredFileSource } from '../../lib/data/parquet-plain.js'

const realRead = fs.read
const realOpen = fs.openSync
const realClose = fs.closeSync
const scratch: string[] = []
afterEach(() => {
  fs.read = realRead
  fs.openSync = realOpen
  fs.closeSync = realClose
  syncBuiltinESMExports()
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** fs.read replaced (for lib's `import { read } from 'node:fs'` too) by `hook`, which gets the real one. */
function patchRead(hook: (real: typeof fs.read, args: unknown[]) => void): void {
  fs.read = ((...args: unknown[]) => hook(realRead, args)) as unknown as typeof fs.read
  syncBuiltinESMExports()
}

/** The .parquet files open now, by fd (openSync and closeSync watched), and the most open at once. */
function watchParquetFds(): { open: Map<number, string>; opened: string[]; most: () => number } {
  const open = new Map<number, string>()
  const opened: string[] = []
  let most = 0
  fs.openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    const fd = (realOpen as (...a: unknown[]) => number)(path, ...rest)
    if (String(path).endsWith('.parquet')) {
      open.set(fd, String(path))
      opened.push(String(path))
      most = Math.max(most, open.size)
    }
    return fd
  }) as typeof fs.openSync
  fs.closeSync = ((fd: number) => {
    open.delete(fd)
    realClose(fd)
  }) as typeof fs.closeSync
  syncBuiltinESMExports()
  return { open, opened, most: () => most }
}

/** `months` monthly partitions of 5m bars (~8,700 rows each: pages of ~70 kB a column, read later). */
async function manyPartitions(months: number): Promise<{ home: string; bars: ReturnType<typeof syntheticGbm> }> {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-deferred-lake-'))
  scratch.push(home)
  const bars = { ...syntheticGbm({ bars: months * 8_760, timeframe: '5m', seed: 3 }), symbol: 'MANY' }
  await ingestBars(home, bars, { source: 'synthetic' })
  return { home, bars }
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
    // Every read had ended before the flush gave up (the fd was still theirs); reads 1 and 3 end in either order.
    expect(events[0]).toBe('read 2 failed')
    expect(events.slice(1, 3).sort()).toEqual(['read 1 ended', 'read 3 ended'])
    expect(events[3]).toBe('flush rejected')
    expect(events).toHaveLength(4)
  })

  it('a dataset of 41 monthly partitions is read with at most 8 files open at once, bit for bit as one at a time', async () => {
    const { home, bars } = await manyPartitions(40)
    const fds = watchParquetFds()
    let pending = 0
    let most = 0
    patchRead((real, args) => {
      pending++
      most = Math.max(most, pending)
      const callback = args[args.length - 1] as (error: Error | null, bytes: number) => void
      ;(real as (...a: unknown[]) => void)(...args.slice(0, -1), (error: Error | null, bytes: number) =>
        // Slow enough that every file the reader started is pending together.
        setTimeout(() => {
          pending--
          callback(error, bytes)
        }, 5),
      )
    })
    const read = await loadBars(home, { symbol: 'MANY', timeframe: '5m' })
    expect(most).toBeGreaterThan(8) // the pages of several files were in flight together…
    expect(fds.most()).toBeLessThanOrEqual(8) // …from at most 8 open files
    expect(fds.open.size).toBe(0)
    for (const name of ['time', 'open', 'high', 'low', 'close', 'volume'] as const) expect(Buffer.from(read[name].buffer).equals(Buffer.from(bars[name].buffer)), name).toBe(true)
  })

  it('a partition that fails: no further file is taken, every file is closed before the error is reported, nothing unhandled', async () => {
    const { home } = await manyPartitions(30)
    const fds = watchParquetFds()
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      // The 5th file's page reads fail; the others are slow, so the other lanes are mid-file when it does.
      const failing = () => [...new Set(fds.opened)].sort()[4]
      patchRead((real, args) => {
        const callback = args[args.length - 1] as (error: Error | null, bytes: number) => void
        if (fds.open.get(args[0] as number) === failing()) {
          setImmediate(() => callback(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }), 0))
          return
        }
        ;(real as (...a: unknown[]) => void)(...args.slice(0, -1), (error: Error | null, bytes: number) => setTimeout(() => callback(error, bytes), 20))
      })
      const message = await loadBars(home, { symbol: 'MANY', timeframe: '5m' }).then(
        () => 'resolved',
        (error: Error) => error.message,
      )
      expect(message).toMatch(/EIO/)
      // Closed before the error reached the caller: a retry would not overlap them.
      expect(fds.open.size).toBe(0)
      // The footers are read one file after another (every partition once: 31 months of bars), then each
      // lane opens its files once; after the failure the lanes take none: 8 files read at most (the failing
      // one is the 5th).
      const reads = fds.opened.slice(new Set(fds.opened).size)
      expect(new Set(reads).size).toBe(reads.length)
      expect(reads.length).toBeLessThanOrEqual(8)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
