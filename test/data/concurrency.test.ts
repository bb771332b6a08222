// Several processes on one workspace: two writers of different symbols at once, a reader during the
// writes, and a writer killed mid-write. Nothing may be lost or torn.

import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ingestBars, barsFromRows, listDatasets, loadBars, snapshotId } from '../../lib/data/index.js'
import { FIXTURES, ROOT } from '../helpers.js'

function worker(home: string, symbol: string, batches: number, size: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, 'ingest-worker.ts'), home, symbol, String(batches), String(size)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('close', (code) => resolve({ code, out, err })))
  return { child, done, output: () => out }
}

/** Every bar a reader sees must be one the writer wrote, whole: close = 100 + minute index. */
function checkConsistent(bars: Awaited<ReturnType<typeof loadBars>>): void {
  const t0 = Date.UTC(2024, 0, 1)
  for (let j = 0; j < bars.time.length; j++) {
    const i = (bars.time[j]! - t0) / 60_000
    if (bars.close[j] !== 100 + i || bars.high[j] !== 101 + i || bars.volume[j] !== 1) throw new Error(`torn bar at ${j}`)
  }
}

describe('the lake under concurrent processes', () => {
  it('two writers of different symbols and a reader during the writes all succeed', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-conc-'))
    // 6 batches of 10,000 minutes: batches cross month partitions (January has 44,640 minutes).
    const a = worker(home, 'AAA', 6, 10_000)
    const b = worker(home, 'BBB', 6, 10_000)
    let reads = 0
    let reading = true
    const reader = (async () => {
      while (reading) {
        // Yield to the event loop: a read that fails at once (no data yet) settles in microtasks only.
        await new Promise((r) => setImmediate(r))
        for (const symbol of ['AAA', 'BBB']) {
          try {
            const bars = await loadBars(home, { symbol, timeframe: '1m', source: 'test' })
            checkConsistent(bars)
            reads++
          } catch (error) {
            if (!/no bars for/.test(String(error))) throw error
          }
        }
      }
    })()
    const [ra, rb] = await Promise.all([a.done, b.done])
    reading = false
    await reader
    expect(ra.code, ra.err).toBe(0)
    expect(rb.code, rb.err).toBe(0)
    expect(reads).toBeGreaterThan(0)
    const datasets = await listDatasets(home)
    expect(datasets.map((d) => [d.symbol, d.rows, d.gaps])).toEqual([
      ['AAA', 60_000, 0],
      ['BBB', 60_000, 0],
    ])
  })

  it('a writer killed mid-write leaves what was stored intact, and the next writer takes its lock over', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-kill-'))
    const t0 = Date.UTC(2024, 0, 1)
    const first = Array.from({ length: 1000 }, (_, i) => ({ time: t0 + i * 60_000, open: 100 + i, high: 101 + i, low: 99 + i, close: 100 + i, volume: 1 }))
    await ingestBars(home, barsFromRows(first, { symbol: 'KKK', timeframe: '1m' }), { source: 'test' })
    const before = await snapshotId(home, { symbol: 'KKK', timeframe: '1m', source: 'test' })
    // A big writer of the same symbol, killed while it works.
    const victim = worker(home, 'KKK', 40, 20_000)
    let exited = false
    void victim.done.then(() => (exited = true))
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (victim.output().includes('batch 1') || exited) {
          clearInterval(timer)
          resolve()
        }
      }, 5)
    })
    expect(exited, 'the writer ended before it could be killed').toBe(false)
    victim.child.kill('SIGKILL')
    await victim.done
    const after = await loadBars(home, { symbol: 'KKK', timeframe: '1m', source: 'test' })
    checkConsistent(after)
    // The rows stored before are still there, unchanged.
    const firstPart = await snapshotId(home, { symbol: 'KKK', timeframe: '1m', source: 'test', end: t0 + 999 * 60_000 })
    expect(firstPart).toBe(before)
    // A new writer gets through (a lock left by the killed one is stale: its pid is gone).
    const next = worker(home, 'KKK', 1, 1000)
    expect((await next.done).code).toBe(0)
  })
})
