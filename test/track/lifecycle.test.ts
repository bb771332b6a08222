// Runs' lifecycle on a real workspace folder: soft delete and restore (recorded in tags.jsonl, kept by the
// index and by reindex), a sweep's children following their parent, runs a registry version or a deployment
// references refused unless forced, gc by age on a clock the test moves (cutoffs worked out by hand), a dry
// run that changes no byte, an interrupted gc's trash finished by the next, hostile run ids refused, and the
// same operations through a RemoteTracker against a real `mtflow serve`.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, NotFoundError } from '../../lib/core/index.js'
import { clearIndexCache, Registry, RemoteTracker, searchRuns, Tracker, type RunSummary } from '../../lib/track/index.js'
import { ROOT } from '../helpers.js'

const homes: string[] = []
function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-lifecycle-'))
  homes.push(home)
  return home
}
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true })
})

/** A tracker on a clock the test sets (epoch ms). */
function clocked(home = workspace()): { tracker: Tracker; at: (ms: number) => void } {
  let now = 1_000_000
  return { tracker: new Tracker(home, { now: () => now }), at: (ms) => void (now = ms) }
}

function finished(tracker: Tracker, name: string, experiment = 'lc'): string {
  const run = tracker.startRun({ experiment, name })
  run.end()
  return run.id
}

const ids = (runs: RunSummary[]) => runs.map((r) => r.info.runId).sort()
const search = (tracker: Tracker, lifecycle?: 'active' | 'deleted' | 'all') => ids(searchRuns(tracker, { lifecycle }).runs)

/** Every file under `dir` with its bytes' sha256: equal snapshots mean nothing was written. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out[p] = `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${statSync(p).mtimeMs}`
    }
  }
  walk(dir)
  return out
}

describe('delete and restore', () => {
  it('a deleted run leaves searches but not getRun, survives a fresh reader and reindex, and comes back whole', () => {
    const { tracker, at } = clocked()
    const a = finished(tracker, 'a')
    const b = finished(tracker, 'b')
    at(1_234_567)
    expect(tracker.deleteRun(a, { reason: 'bad data' })).toEqual([{ runId: a, experimentId: 'lc', lifecycle: 'deleted' }])
    expect(search(tracker)).toEqual([b])
    expect(search(tracker, 'deleted')).toEqual([a])
    expect(search(tracker, 'all')).toEqual([a, b].sort())
    const got = tracker.getRun(a)
    expect(got.tags).toMatchObject({ 'mtflow.lifecycle': 'deleted', 'mtflow.deletedTime': '1234567', 'mtflow.deleteReason': 'bad data', 'mtflow.deletedWith': '' })
    expect(got.info.status).toBe('FINISHED') // the run's status is untouched
    // Recorded in the run's own tags file (the truth reindex reads), as the last line.
    const lines = readFileSync(join(tracker.root, 'lc', a, 'tags.jsonl'), 'utf8').trim().split('\n')
    expect(JSON.parse(lines[lines.length - 1]!)['mtflow.lifecycle']).toBe('deleted')

    clearIndexCache()
    const fresh = new Tracker(tracker.home)
    expect(search(fresh)).toEqual([b])
    fresh.reindex('lc')
    clearIndexCache()
    expect(search(new Tracker(tracker.home), 'deleted')).toEqual([a])

    expect(() => tracker.deleteRun(a)).toThrow(`run ${a} is already deleted (since 1970-01-01T00:20:34.567Z); mtflow runs restore ${a} brings it back`)
    expect(() => tracker.restoreRun(b)).toThrow(`run ${b} is not deleted; nothing to restore`)
    at(2_000_000)
    expect(tracker.restoreRun(a)).toEqual([{ runId: a, experimentId: 'lc', lifecycle: 'active' }])
    expect(search(tracker)).toEqual([a, b].sort())
    expect(tracker.getRun(a).tags).toMatchObject({ 'mtflow.lifecycle': 'active', 'mtflow.restoredTime': '2000000' })
    // A search filter sees the tag like any other.
    expect(ids(searchRuns(tracker, { filter: 'tags.`mtflow.lifecycle` = "active"' }).runs)).toEqual([a])
  })

  it('several ids: one bad id (unknown, already deleted) and none is deleted', () => {
    const { tracker } = clocked()
    const a = finished(tracker, 'a')
    const b = finished(tracker, 'b')
    tracker.deleteRun(b)
    expect(() => tracker.deleteRuns([a, 'zzzzunknown'])).toThrow('unknown run "zzzzunknown"')
    expect(() => tracker.deleteRuns([a, b])).toThrow(`run ${b} is already deleted`)
    expect(search(tracker)).toEqual([a])
    expect(() => tracker.restoreRuns([b, a])).toThrow(`run ${a} is not deleted`)
    expect(search(tracker, 'deleted')).toEqual([b])
  })

  it("a sweep's children are deleted with their parent and restored with it; a child deleted on its own stays deleted", () => {
    const { tracker } = clocked()
    const parent = tracker.startRun({ experiment: 'lc', name: 'sweep' })
    const [c1, c2, c3] = parent.logChildren([{ params: { fast: 5 } }, { params: { fast: 10 } }, { params: { fast: 20 } }])
    parent.end()
    const other = finished(tracker, 'other')
    tracker.deleteRun(c1!)
    const changes = tracker.deleteRun(parent.id, { reason: 'wrong fees' })
    expect(changes.map((c) => [c.runId, c.with])).toEqual([
      [parent.id, undefined],
      [c2, parent.id],
      [c3, parent.id],
    ])
    expect(search(tracker)).toEqual([other])
    expect(tracker.getRun(c2!).tags).toMatchObject({ 'mtflow.deletedWith': parent.id, 'mtflow.deleteReason': 'wrong fees' })
    const restored = tracker.restoreRun(parent.id)
    expect(restored.map((c) => c.runId)).toEqual([parent.id, c2, c3])
    expect(search(tracker)).toEqual([parent.id, c2!, c3!, other].sort())
    expect(search(tracker, 'deleted')).toEqual([c1])
  })

  it('a delete killed after some children (they go first) is completed by deleting the parent again', () => {
    const { tracker } = clocked()
    const parent = tracker.startRun({ experiment: 'lc', name: 'sweep' })
    const [c1, c2] = parent.logChildren([{ params: { fast: 5 } }, { params: { fast: 10 } }])
    parent.end()
    // What the killed delete wrote: c1's record only (the parent, written last, is still active).
    tracker.changeLifecycle(c1!, () => ({ 'mtflow.lifecycle': 'deleted', 'mtflow.deletedTime': '1', 'mtflow.deleteReason': '', 'mtflow.deletedWith': parent.id }))
    expect(tracker.deleteRun(parent.id).map((c) => c.runId)).toEqual([parent.id, c2])
    expect(search(tracker)).toEqual([])
    expect(tracker.restoreRun(parent.id).map((c) => c.runId).sort()).toEqual([parent.id, c1!, c2!].sort())
  })

  it('a RUNNING run is refused unless forced', () => {
    const { tracker } = clocked()
    const run = tracker.startRun({ experiment: 'lc' })
    expect(() => tracker.deleteRun(run.id)).toThrow(`run ${run.id} is RUNNING; end it first, or --force deletes it anyway`)
    expect(tracker.deleteRun(run.id, { force: true })).toHaveLength(1)
    run.end()
  })
})

describe('references', () => {
  it('a model version, a strategy version and a deployment keep their runs from delete and gc unless forced', () => {
    const { tracker } = clocked()
    const home = tracker.home
    const model = tracker.startRun({ experiment: 'lc', name: 'train' })
    model.logArtifact({ name: 'model.json', data: '{"w":[1,2]}' })
    model.end()
    const validation = finished(tracker, 'validate')
    const deployed = finished(tracker, 'paper')
    const free = finished(tracker, 'free')
    const registry = new Registry(home)
    registry.registerModel(tracker, 'm1', model.id, 'model.json')
    registry.register('strategies', 'sma', { files: { 'source.ts': 'export {}\n' }, runs: [validation] })
    mkdirSync(join(home, 'deployments', 'paper-btc'), { recursive: true })
    writeFileSync(join(home, 'deployments', 'paper-btc', 'status.json'), JSON.stringify({ name: 'paper-btc', state: 'stopped', runId: deployed }))

    expect(() => tracker.deleteRun(model.id)).toThrow(`run ${model.id} is referenced by model m1@1 (registry); --force deletes it anyway`)
    expect(() => tracker.deleteRun(validation)).toThrow(`run ${validation} is referenced by strategy sma@1 (registry); --force deletes it anyway`)
    expect(() => tracker.deleteRuns([free, deployed])).toThrow(`run ${deployed} is referenced by deployment paper-btc (deployments/paper-btc/status.json); --force deletes it anyway`)
    expect(search(tracker, 'deleted')).toEqual([]) // `free` was not deleted either

    tracker.deleteRuns([model.id, validation, deployed, free], { force: true })
    const gc = tracker.gc()
    expect(gc.removed.map((r) => r.runId)).toEqual([free])
    expect(gc.skipped.map((s) => s.runId).sort()).toEqual([model.id, validation, deployed].sort())
    expect(gc.skipped.find((s) => s.runId === model.id)!.reason).toBe('referenced by model m1@1 (registry); --force removes it anyway')
    expect(existsSync(join(home, 'runs', 'lc', model.id, 'artifacts', 'model.json'))).toBe(true)
    const forced = tracker.gc({ force: true })
    expect(forced.removed.map((r) => r.runId).sort()).toEqual([model.id, validation, deployed].sort())
    expect(readdirSync(join(home, 'runs', 'lc')).filter((n) => !n.startsWith('.') && !n.endsWith('.json') && !n.endsWith('.lock') && !n.endsWith('.jsonl'))).toEqual([])
  })

  it("gc keeps a deleted run an active run's lineage read (a pipeline step's input)", () => {
    const { tracker } = clocked()
    const input = finished(tracker, 'step1')
    const step2 = tracker.startRun({ experiment: 'lc', name: 'step2', lineage: { runs: [input] } })
    step2.end()
    tracker.deleteRun(input)
    expect(tracker.gc().skipped).toEqual([{ runId: input, reason: `referenced by the lineage of active run ${step2.id}; --force removes it anyway` }])
  })
})

describe('gc', () => {
  it('removes runs deleted at least --older-than ago, after a dry run that changes no byte', () => {
    const { tracker, at } = clocked()
    const x = finished(tracker, 'x')
    const y = finished(tracker, 'y')
    const keep = finished(tracker, 'keep')
    at(10_000_000)
    tracker.deleteRun(x)
    at(10_500_000)
    tracker.deleteRun(y)
    // At 11,000,000 with older-than 600,000 the cutoff is 10,400,000: x (deleted at 10,000,000) goes,
    // y (10,500,000) is too recent.
    at(11_000_000)
    const before = snapshot(tracker.root)
    const dry = tracker.gc({ olderThanMs: 600_000, dryRun: true })
    expect(dry).toEqual({ dryRun: true, removed: [{ runId: x, experimentId: 'lc', deletedTime: 10_000_000 }], skipped: [], finished: [] })
    expect(snapshot(tracker.root)).toEqual(before)

    const done = tracker.gc({ olderThanMs: 600_000 })
    expect(done.removed.map((r) => r.runId)).toEqual([x])
    expect(existsSync(join(tracker.root, 'lc', x))).toBe(false)
    expect(readdirSync(join(tracker.root, 'lc', '.trash'))).toEqual([])
    expect(() => tracker.getRun(x)).toThrow(`unknown run "${x}"`)
    expect(search(tracker, 'all')).toEqual([y, keep].sort())
    clearIndexCache()
    const fresh = new Tracker(tracker.home)
    expect(search(fresh, 'all')).toEqual([y, keep].sort())
    fresh.reindex('lc') // the folders are the truth: x does not come back
    expect(search(fresh, 'all')).toEqual([y, keep].sort())
    // Without --older-than, y goes too.
    expect(tracker.gc().removed.map((r) => r.runId)).toEqual([y])
    expect(search(tracker, 'all')).toEqual([keep])
  })

  it("removes a deleted sweep's children before the parent, and keeps a parent while a child is not going", () => {
    const { tracker, at } = clocked()
    const parent = tracker.startRun({ experiment: 'lc', name: 'sweep' })
    const children = parent.logChildren([{ params: { a: 1 } }, { params: { a: 2 } }])
    parent.end()
    at(5_000_000)
    tracker.deleteRun(parent.id)
    const lone = tracker.startRun({ experiment: 'lc', name: 'sweep2' })
    const [late] = lone.logChildren([{ params: { a: 3 } }])
    lone.end()
    tracker.deleteRun(late!)
    at(9_000_000)
    tracker.deleteRun(lone.id) // its child `late` was deleted at 5,000,000, the parent at 9,000,000
    // Cutoff 9,500,000 − 1,000,000 = 8,500,000: the first sweep and `late` go; sweep2 (9,000,000) stays.
    at(9_500_000)
    const r = tracker.gc({ olderThanMs: 1_000_000 })
    expect(r.removed.map((x) => x.runId)).toEqual([...[...children, late!].sort(), parent.id])
    expect(search(tracker, 'all')).toEqual([lone.id])
    // A deleted parent whose child is active stays.
    const p3 = tracker.startRun({ experiment: 'lc', name: 'sweep3' })
    const [kid] = p3.logChildren([{ params: { a: 4 } }])
    p3.end()
    tracker.deleteRun(p3.id)
    tracker.restoreRun(kid!)
    const r3 = tracker.gc()
    expect(r3.removed.map((x) => x.runId)).toEqual([lone.id])
    expect(r3.skipped).toEqual([{ runId: p3.id, reason: `has active child runs (${kid}); delete them first` }])
  })

  it('a run gc removes while reindex scans stays removed, even when the index is compacted meanwhile', () => {
    const { tracker } = clocked()
    const gone = finished(tracker, 'gone')
    const keep = finished(tracker, 'keep')
    tracker.deleteRun(gone)
    // 990 change lines: under the 1000 that make a reader compact; the other tracker's 21 push it over.
    for (let i = 0; i < 990; i++) tracker.setTag(keep, 'pre', String(i))
    const index = join(tracker.root, 'lc', 'index.jsonl')
    let inodes: [number, number] = [0, 0]
    // Another process (this one's index cache is the reindex's own view), between the scan and the write.
    const script = `require('tsx/cjs/api').register(); const { Tracker } = require(${JSON.stringify(join(ROOT, 'lib', 'track', 'index.ts'))});
      const other = new Tracker(${JSON.stringify(tracker.home)}); const removed = other.gc().removed.map((r) => r.runId);
      for (let i = 0; i < 20; i++) other.setTag(${JSON.stringify(keep)}, 'late', String(i)); other.summaries(); process.stdout.write(JSON.stringify(removed))`
    let removed: string[] = []
    tracker.reindex('lc', {
      afterScan: () => {
        const before = statSync(index).ino
        const child = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })
        expect(child.status, child.stderr).toBe(0)
        removed = JSON.parse(child.stdout) as string[]
        inodes = [before, statSync(index).ino]
      },
    })
    expect(removed).toEqual([gone])
    expect(inodes[1]).not.toBe(inodes[0]) // compacted in between, else this proves nothing
    clearIndexCache()
    const fresh = new Tracker(tracker.home)
    expect(search(fresh, 'all')).toEqual([keep])
    expect(fresh.getRun(keep).tags.late).toBe('19')
  })

  it('a gc interrupted after moving a run to the trash leaves listing working; the next gc finishes it', () => {
    const { tracker } = clocked()
    const a = finished(tracker, 'a')
    const b = finished(tracker, 'b')
    tracker.deleteRuns([a, b])
    // What a kill -9 right after gc's rename leaves: the folder in the trash, the index still naming the run.
    mkdirSync(join(tracker.root, 'lc', '.trash'))
    renameSync(join(tracker.root, 'lc', a), join(tracker.root, 'lc', '.trash', a))
    clearIndexCache()
    const after = new Tracker(tracker.home)
    expect(search(after)).toEqual([])
    expect(search(after, 'all')).toEqual([a, b].sort()) // listed from the index, still
    const dry = after.gc({ dryRun: true })
    expect(dry.finished).toEqual([a])
    expect(existsSync(join(tracker.root, 'lc', '.trash', a))).toBe(true)
    const r = after.gc()
    expect(r.finished).toEqual([a])
    expect(r.removed.map((x) => x.runId)).toEqual([b])
    expect(search(after, 'all')).toEqual([])
    expect(readdirSync(join(tracker.root, 'lc', '.trash'))).toEqual([])
  })
})

describe('hostile run ids', () => {
  it('are refused by name before anything is read or written', () => {
    const { tracker } = clocked()
    const a = finished(tracker, 'a')
    // A folder beside the runs tree that a traversal would reach.
    const outside = join(tracker.home, 'x')
    mkdirSync(outside)
    writeFileSync(join(outside, 'run.json'), '{}')
    const before = snapshot(tracker.home)
    for (const id of ['../x', '', '..', 'a/b', '.', `${a}/../${a}`, 'x'.repeat(100_000), 'lc\0']) {
      expect(() => tracker.deleteRun(id)).toThrow(/^unknown run .{1,90}: a run id is 1–64 letters, digits, _ or -$/)
      expect(() => tracker.restoreRun(id)).toThrow(/^unknown run /)
    }
    expect(() => tracker.deleteRuns([])).toThrow('expected one or more run ids (received [])')
    expect(snapshot(tracker.home)).toEqual(before)
  })

  it('a .trash that is a link out of the runs tree is refused: gc moves and deletes nothing through it', () => {
    const { tracker } = clocked()
    const a = finished(tracker, 'a')
    tracker.deleteRun(a)
    const outside = join(tracker.home, 'precious')
    mkdirSync(outside)
    writeFileSync(join(outside, 'keep.txt'), 'x')
    symlinkSync(outside, join(tracker.root, 'lc', '.trash'))
    expect(() => tracker.gc()).toThrow(/\.trash is not a folder \(a link or a file\?\)/)
    expect(readdirSync(outside)).toEqual(['keep.txt'])
    expect(existsSync(join(tracker.root, 'lc', a, 'run.json'))).toBe(true)
  })
})

describe('through a tracking server', () => {
  let server: ChildProcess
  let serverHome: string
  let url: string
  let token: string
  beforeAll(async () => {
    serverHome = workspace()
    server = spawn(process.execPath, [join(ROOT, 'lib', 'cli', 'bin.cjs'), 'serve', '--port', '0', '--json'], { env: { ...process.env, MTFLOW_HOME: serverHome }, stdio: ['ignore', 'pipe', 'inherit'] })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      server.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve(out.split('\n')[0]!)
      })
      server.once('exit', (code) => reject(new Error(`mtflow serve exited (${code})`)))
    })
    ;({ url, token } = JSON.parse(line) as { url: string; token: string })
  }, 60_000)
  afterAll(() => void server.kill())

  it('RemoteTracker deletes, restores and collects on the server, which checks its own registry', () => {
    const remote = new RemoteTracker(workspace(), { url, token })
    const a = remote.startRun({ experiment: 'lc', name: 'a' })
    a.end()
    const m = remote.startRun({ experiment: 'lc', name: 'model' })
    m.logArtifact({ name: 'model.json', data: '{}' })
    m.end()
    const local = new Tracker(serverHome)
    new Registry(serverHome).registerModel(local, 'm1', m.id, 'model.json')

    expect(remote.deleteRun(a.id, { reason: 'remote' })).toEqual([{ runId: a.id, experimentId: 'lc', lifecycle: 'deleted' }])
    expect(local.getRun(a.id).tags).toMatchObject({ 'mtflow.lifecycle': 'deleted', 'mtflow.deleteReason': 'remote' })
    expect(search(remote)).toEqual([m.id])
    expect(search(remote, 'deleted')).toEqual([a.id])
    expect(() => remote.deleteRun(m.id)).toThrow(ConfigError)
    expect(() => remote.deleteRun(m.id)).toThrow(`run ${m.id} is referenced by model m1@1 (registry); --force deletes it anyway`)
    expect(() => remote.deleteRun('../x')).toThrow(NotFoundError)
    expect(() => remote.restoreRun(m.id)).toThrow(`run ${m.id} is not deleted`)
    expect(remote.gc({ dryRun: true }).removed.map((r) => r.runId)).toEqual([a.id])
    expect(existsSync(join(serverHome, 'runs', 'lc', a.id))).toBe(true)
    expect(remote.restoreRun(a.id).map((c) => c.lifecycle)).toEqual(['active'])
    remote.deleteRun(a.id)
    expect(remote.gc().removed.map((r) => r.runId)).toEqual([a.id])
    expect(existsSync(join(serverHome, 'runs', 'lc', a.id))).toBe(false)
  }, 60_000)

  it('a batch for a run gc removed is a 404 naming the run (the server had its folder cached), and nothing is recreated', () => {
    const remote = new RemoteTracker(workspace(), { url, token })
    const run = remote.startRun({ experiment: 'lc', name: 'short-lived' })
    run.logMetric('m', 1)
    run.end() // the server has written to the run, so its tracker holds the folder's path
    remote.deleteRun(run.id)
    // gc by another process (mtflow runs gc): the server's tracker still has the folder's path.
    expect(new Tracker(serverHome).gc().removed.map((r) => r.runId)).toEqual([run.id])
    remote.logMetric(run.id, 'm', 2)
    const error = (() => {
      try {
        remote.flush(run.id)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(NotFoundError) // the client's reading of a 404
    expect((error as Error).message).toContain(`run ${run.id} was removed (mtflow runs gc)`)
    remote.logMetric(run.id, 'm', 3)
    expect(() => remote.flush(run.id)).toThrow(`unknown run "${run.id}"`)
    expect(existsSync(join(serverHome, 'runs', 'lc', run.id))).toBe(false)
  }, 60_000)
})
