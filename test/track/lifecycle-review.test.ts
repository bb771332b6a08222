// The run lifecycle's edges a review found: a process that cached a run's folder writes after gc removed the
// run (refused, nothing recreated, no index line), a delete or restore interrupted between its tags append and
// its index line (completed by doing it again), registry versions recording deleted runs (refused, and gc
// re-reading the references just before a removal), and a run lock whose folder went away (NotFoundError).

import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { NotFoundError, withLockSync } from '../../lib/core/index.js'
import { Registry, searchRuns, Tracker } from '../../lib/track/index.js'

const homes: string[] = []
function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-lc-review-'))
  homes.push(home)
  return home
}
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true })
})

function finished(tracker: Tracker, name: string): string {
  const run = tracker.startRun({ experiment: 'lc', name })
  run.logMetric('m', 1)
  run.end()
  return run.id
}

const search = (tracker: Tracker, lifecycle: 'active' | 'deleted' | 'all' = 'active') =>
  searchRuns(tracker, { lifecycle })
    .runs.map((r) => r.info.runId)
    .sort()

/** The index lines naming `runId`, raw, in file order. */
function indexLines(tracker: Tracker, runId: string): Record<string, unknown>[] {
  const text = readFileSync(join(tracker.root, 'lc', 'index.jsonl'), 'utf8')
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.r === runId)
}

describe('writes to a run gc removed', () => {
  it('are refused by every writer of a process that cached its folder; nothing is recreated and the index gets no line', () => {
    const home = workspace()
    const maker = new Tracker(home)
    const id = finished(maker, 'gone')
    maker.deleteRun(id)
    // Six long-lived processes (a kernel, the scheduler, the server…), each with the run's folder cached.
    const writers = Array.from({ length: 6 }, () => new Tracker(home))
    for (const w of writers) w.runDir(id)
    expect(new Tracker(home).gc().removed.map((r) => r.runId)).toEqual([id])
    const linesAfterGc = indexLines(maker, id).length
    const gone = `run ${id} was removed (mtflow runs gc)`
    const calls: [string, () => unknown][] = [
      ['logMetric', () => writers[0]!.logMetric(id, 'm', 2)],
      ['setTag', () => writers[1]!.setTag(id, 'a', 'b')],
      ['logParam', () => writers[2]!.logParam(id, 'p', 1)],
      ['logArtifact', () => writers[3]!.logArtifact(id, { name: 'sub/x.txt', data: 'hi' })],
      ['endRun', () => writers[4]!.endRun(id)],
      ['restoreRun', () => writers[5]!.restoreRun(id)],
    ]
    for (const [what, call] of calls) {
      let error: unknown
      try {
        call()
      } catch (e) {
        error = e
      }
      expect(error, what).toBeInstanceOf(NotFoundError)
      expect((error as Error).message, what).toBe(gone)
    }
    // The cached entry is dropped: the next call finds no run at all.
    expect(() => writers[0]!.logMetric(id, 'm', 3)).toThrow(`unknown run "${id}"`)
    expect(existsSync(join(home, 'runs', 'lc', id))).toBe(false)
    expect(readdirSync(join(home, 'runs', 'lc')).sort()).toEqual(['.trash', 'experiment.json', 'index.jsonl'])
    expect(indexLines(maker, id).length).toBe(linesAfterGc)
  })

  it('a folder an older writer recreated without run.json takes no new file', () => {
    const home = workspace()
    const t = new Tracker(home)
    const id = finished(t, 'gone')
    t.deleteRun(id)
    const u = new Tracker(home)
    u.runDir(id)
    new Tracker(home).gc()
    mkdirSync(join(home, 'runs', 'lc', id)) // what the old appendRecords left: the folder, no run.json
    expect(() => t.setTag(id, 'a', 'b')).toThrow(`run ${id} was removed (mtflow runs gc)`)
    expect(() => u.logArtifact(id, { name: 'x.txt', data: 'hi' })).toThrow(`run ${id} was removed (mtflow runs gc)`)
    expect(existsSync(join(home, 'runs', 'lc', id, 'artifacts'))).toBe(false)
    expect(readFileSync(join(home, 'runs', 'lc', id, 'tags.jsonl'), 'utf8')).toBe('')
  })
})

describe('a lifecycle change interrupted between its tags append and its index line', () => {
  it('a half-done delete is completed by deleting again (or undone by restore)', () => {
    const t = new Tracker(workspace())
    const a = finished(t, 'a')
    const b = finished(t, 'b')
    // What a crash after the fsynced append (before appendIndex) leaves: tags say deleted, the index active.
    for (const id of [a, b]) appendFileSync(join(t.root, 'lc', id, 'tags.jsonl'), `\n${JSON.stringify({ 'mtflow.lifecycle': 'deleted', 'mtflow.deletedTime': '5', 'mtflow.deleteReason': 'x', 'mtflow.deletedWith': '' })}\n`)
    expect(search(t)).toEqual([a, b].sort())
    expect(t.deleteRun(a)).toEqual([{ runId: a, experimentId: 'lc', lifecycle: 'deleted' }])
    expect(search(t)).toEqual([b])
    expect(t.getRun(a).tags).toMatchObject({ 'mtflow.lifecycle': 'deleted', 'mtflow.deletedTime': '5', 'mtflow.deleteReason': 'x' })
    expect(() => t.deleteRun(a)).toThrow(`run ${a} is already deleted`)
    // The other half-deleted run, restored instead: active in both places.
    expect(t.restoreRun(b)).toEqual([{ runId: b, experimentId: 'lc', lifecycle: 'active' }])
    expect(search(t)).toEqual([b])
    expect(() => t.restoreRun(b)).toThrow(`run ${b} is not deleted; nothing to restore`)
  })

  it('a half-done restore is completed by restoring again', () => {
    const t = new Tracker(workspace())
    const a = finished(t, 'a')
    t.deleteRun(a)
    appendFileSync(join(t.root, 'lc', a, 'tags.jsonl'), `\n${JSON.stringify({ 'mtflow.lifecycle': 'active', 'mtflow.restoredTime': '7' })}\n`)
    expect(search(t)).toEqual([])
    expect(t.restoreRun(a)).toEqual([{ runId: a, experimentId: 'lc', lifecycle: 'active' }])
    expect(search(t)).toEqual([a])
    expect(t.getRun(a).tags['mtflow.restoredTime']).toBe('7')
  })
})

describe('registry versions and deleted runs', () => {
  it('a version recording a deleted run is refused until the run is restored', () => {
    const home = workspace()
    const t = new Tracker(home)
    const run = t.startRun({ experiment: 'lc', name: 'train' })
    run.logArtifact({ name: 'model.json', data: '{}' })
    run.end()
    const other = finished(t, 'other')
    const registry = new Registry(home)
    registry.register('strategies', 'sma', { files: { 'source.ts': 'export {}\n' }, runs: [other] })
    t.deleteRuns([run.id])
    const refused = `run ${run.id} is deleted; mtflow runs restore ${run.id} first`
    expect(() => registry.registerModel(t, 'm1', run.id, 'model.json')).toThrow(refused)
    expect(() => registry.register('dashboards', 'd', { files: { 'index.html': '<p>' }, runs: [run.id] })).toThrow(refused)
    expect(() => registry.linkRuns('strategies', 'sma', 1, [run.id])).toThrow(refused)
    // Same content (dedupe links the runs to v1): refused too.
    expect(() => registry.register('strategies', 'sma', { files: { 'source.ts': 'export {}\n' }, runs: [run.id] })).toThrow(refused)
    expect(registry.list().map((e) => `${e.kind}/${e.name}`)).toEqual(['strategies/sma'])
    expect(registry.resolve('strategies', 'sma@1').runs).toEqual([other])
    t.restoreRun(run.id)
    expect(registry.registerModel(t, 'm1', run.id, 'model.json').version.sourceRunId).toBe(run.id)
  })

  it('gc reads the references again before each removal: a version that records a run meanwhile keeps it', () => {
    const home = workspace()
    let now = 1_000
    let first: string | undefined
    const registry = new Registry(home)
    // gc's removal of the first run is where another process links the second one to a version. That
    // process checked the run before it was deleted, so it is replayed here as restore, link, delete again
    // with the same deletion time (what gc's own check under the run's lock compares).
    class Racing extends Tracker {
      override removeRunFolder(runId: string, stillWanted: (tags: Record<string, string>) => boolean): boolean {
        if (first === undefined) {
          first = runId
          const later = [a, b].find((id) => id !== runId)!
          this.restoreRun(later)
          registry.linkRuns('strategies', 'sma', 1, [later])
          now = 2_000
          this.deleteRun(later, { force: true })
        }
        return super.removeRunFolder(runId, stillWanted)
      }
    }
    const t = new Racing(home, { now: () => now })
    const a = finished(t, 'a')
    const b = finished(t, 'b')
    registry.register('strategies', 'sma', { files: { 'source.ts': 'export {}\n' } })
    now = 2_000
    t.deleteRuns([a, b])
    now = 3_000
    const r = t.gc()
    const later = [a, b].find((id) => id !== first)!
    expect(r.removed.map((x) => x.runId)).toEqual([first])
    expect(r.skipped).toEqual([{ runId: later, reason: 'referenced by strategy sma@1 (registry); --force removes it anyway' }])
    expect(existsSync(join(home, 'runs', 'lc', later, 'run.json'))).toBe(true)
  })
})

describe('a run lock whose folder is gone', () => {
  it('is a NotFoundError, not a raw ENOENT', () => {
    const dir = join(workspace(), 'nowhere')
    expect(() => withLockSync(join(dir, '.lock'), () => 1)).toThrow(NotFoundError)
    expect(() => withLockSync(join(dir, '.lock'), () => 1)).toThrow(`could not lock ${join(dir, '.lock')}: its folder ${dir} is gone`)
  })

  it('gc skips a run another gc moved meanwhile, and restore says the run was removed', () => {
    const home = workspace()
    const t = new Tracker(home)
    const a = finished(t, 'a')
    const b = finished(t, 'b')
    t.deleteRuns([a, b])
    // Another gc's rename, done while this process still has both folders cached and indexed.
    mkdirSync(join(home, 'elsewhere'))
    renameSync(join(t.root, 'lc', a), join(home, 'elsewhere', a))
    expect(() => t.restoreRun(a)).toThrow(`run ${a} was removed (mtflow runs gc)`)
    t.runDir(b)
    renameSync(join(t.root, 'lc', b), join(home, 'elsewhere', b))
    const r = t.gc()
    expect(r.removed).toEqual([])
    expect(r.skipped).toEqual([a, b].sort().map((runId) => ({ runId, reason: 'its folder is gone (another gc?)' })))
  })
})
