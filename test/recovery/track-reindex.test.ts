// `runs reindex` while another process logs to the same experiment: the rebuild reads the run folders, then
// replaces the index; a line appended in between must not be lost. A real CLI process rebuilds an index of
// 2,000 runs while this process logs new params round-robin to 20 live runs (scanned at different moments
// of the rebuild); afterwards the index holds every param each run's file holds.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { clearIndexCache, Tracker } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

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
})
