// `runs reindex` while another process logs to the same experiment: the rebuild reads the run folders, then
// replaces the index; a line appended in between must not be lost. A real CLI process rebuilds an index of
// 2,000 runs while this process logs new params round-robin to 20 live runs (scanned at different moments
// of the rebuild); afterwards the index holds every param each run's file holds.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { clearIndexCache, Tracker } from '../../lib/track/index.js'
import { appendRecords } from '../../lib/track/jsonl.js'
import { FIXTURES, runCli } from '../helpers.js'

const home = mkdtempSync(join(tmpdir(), 'mtflow-reindex-'))
afterAll(() => rmSync(home, { recursive: true, force: true }))

describe('runs reindex with a live writer', () => {
  it('keeps every index line appended while it rebuilt', async () => {
    const tracker = new Tracker(home)
    const parent = tracker.startRun({ experiment: 'busy' })
    parent.logChildren(Array.from({ length: 2000 }, (_, i) => ({ params: { i }, metrics: { m: i } })))
    parent.end()
    const live = Array.from({ length: 20 }, (_, i) => tracker.startRun({ experiment: 'busy', name: `live-${i}` }))
    let done = false
    const rebuilt = runCli(['--home', home, 'runs', 'reindex', 'busy']).then((r) => {
      done = true
      return r
    })
    let logged = 0
    while (!done) {
      live[logged % live.length]!.logParam(`p${logged}`, logged)
      logged++
      await new Promise((r) => setImmediate(r))
    }
    const r = await rebuilt
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('reindexed 2021 runs of busy\n')
    expect(logged).toBeGreaterThan(100)
    for (const run of live) run.end()
    clearIndexCache()
    const reader = new Tracker(home)
    let inFiles = 0
    for (const run of live) {
      // What the run's own file holds, read here, against what a fresh reader of the index sees.
      const inFile: string[] = []
      for (const line of readFileSync(join(home, 'runs', 'busy', run.id, 'params.jsonl'), 'utf8').split('\n')) if (line !== '') inFile.push(...Object.keys(JSON.parse(line)))
      inFiles += inFile.length
      expect(Object.keys(reader.getRun(run.id).params).sort()).toEqual(inFile.sort())
    }
    expect(inFiles).toBe(logged)
  }, 60_000)

  it('keeps a late index line when the index was also compacted meanwhile (a new inode)', async () => {
    const tracker = new Tracker(home)
    const big = tracker.startRun({ experiment: 'compacted', name: 'big' })
    big.end()
    // 500,000 metric points: the rebuild spends a while parsing this run's file, after its size was taken.
    const metrics = join(home, 'runs', 'compacted', big.id, 'metrics.jsonl')
    appendRecords(metrics, Array.from({ length: 500_000 }, (_, i) => ({ k: 'x', v: i, s: i, t: 1_700_000_000_000 + i })))
    const filler = tracker.startRun({ experiment: 'compacted', name: 'filler' })
    filler.end()
    // 990 change lines: under the 1000 that make a reader compact the index; the other process adds 21.
    for (let i = 0; i < 990; i++) tracker.setTag(filler.id, 'pre', String(i))
    const go = join(home, 'go')
    const done = join(home, 'done')
    writeFileSync(go, '')
    // The other process runs exactly between the rebuild's scan of the run folders and its write.
    let status: number | null = null
    const result = tracker.reindex('compacted', {
      afterScan: () => {
        status = spawnSync(process.execPath, [join(FIXTURES, 'late-index-writer.cjs'), home, 'compacted', big.id, filler.id, go, done, '0'], { stdio: 'inherit' }).status
      },
    })
    expect(status).toBe(0)
    const inodes = JSON.parse(readFileSync(done, 'utf8')) as { before: number; after: number }
    // The other process compacted the index (a new inode), else the test proves nothing.
    expect(inodes.after).not.toBe(inodes.before)
    expect(result.runs).toBe(2)
    clearIndexCache()
    const summary = new Tracker(home).summaries().find((s) => s.info.runId === big.id)!
    expect(summary.metrics.late).toMatchObject({ value: 42, step: 7 })
    expect(summary.metrics.x).toMatchObject({ value: 499_999, step: 499_999 })
    expect(summary.info.status).toBe('FINISHED')
    expect(new Tracker(home).summaries().find((s) => s.info.runId === filler.id)!.tags.filler).toBe('19')
  }, 120_000)
})
