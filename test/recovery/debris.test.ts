// Crash debris (issue 18): temp files and locks left by writers killed with SIGKILL mid-write are found by
// findDebris, removed by removeDebris and by the next writeFileAtomic of the same file, while a live
// process's temp file and lock are never touched. Real child processes, real kill -9, real files.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { findDebris, removeDebris, withLockSync, writeFileAtomic, type Debris } from '../../lib/core/index.js'
import { ROOT } from '../helpers.js'

const HOUR = 3_600_000

/**
 * A writer as the library writes: it takes `<target>.lock` with the real withLockSync, and inside the lock
 * starts writing `target` under writeFileAtomic's temp name (`.<base>.<pid>.<hex>.tmp`), writes half of the
 * bytes, says "ready" and hangs — the moment a kill -9 leaves both behind.
 */
const WRITER = `
require('tsx/cjs/api').register()
const { withLockSync } = require(${JSON.stringify(join(ROOT, 'lib/core/lock.ts'))})
const fs = require('node:fs'), path = require('node:path'), crypto = require('node:crypto')
const target = process.argv[1]
withLockSync(target + '.lock', () => {
  const tmp = path.join(path.dirname(target), '.' + path.basename(target) + '.' + process.pid + '.' + crypto.randomBytes(4).toString('hex') + '.tmp')
  const fd = fs.openSync(tmp, 'w')
  fs.writeSync(fd, '{"half":')
  process.stdout.write('ready ' + tmp + '\\n')
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
})
`

function startWriter(target: string): Promise<{ child: ChildProcess; tmp: string }> {
  const child = spawn(process.execPath, ['-e', WRITER, target], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /ready (.+)\n/.exec(out)
      if (m) resolve({ child, tmp: m[1]! })
    })
    child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)))
  })
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const run = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(run.stdout.toString())
}

const children: ChildProcess[] = []
let home: string

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-debris-'))
})
afterEach(() => {
  rmSync(home, { recursive: true, force: true })
})
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

const rel = (items: Debris[]) => items.map((d) => [d.path.slice(home.length + 1), d.kind])

describe('a writer killed with SIGKILL mid-write', () => {
  it('leaves a temp file and a lock that findDebris lists and removeDebris removes; a live writer is untouched', async () => {
    const runDir = join(home, 'runs', 'exp', 'r1')
    mkdirSync(runDir, { recursive: true })
    const target = join(runDir, 'run.json')
    writeFileSync(target, '{"status":"running"}\n')
    const killed = await startWriter(target)
    const liveTarget = join(home, 'runs', 'exp', 'r2', 'run.json')
    mkdirSync(join(home, 'runs', 'exp', 'r2'))
    const live = await startWriter(liveTarget)

    // Before the kill: both writers are alive, nothing is debris.
    expect(findDebris(home)).toEqual([])

    await killHard(killed.child)
    const pid = killed.child.pid!
    const tmpName = killed.tmp.slice(runDir.length + 1)
    expect(tmpName).toMatch(new RegExp(`^\\.run\\.json\\.${pid}\\.[0-9a-f]{8}\\.tmp$`))
    expect(readdirSync(runDir).sort()).toEqual([tmpName, 'run.json', 'run.json.lock'].sort())

    const found = findDebris(home)
    expect(rel(found)).toEqual([
      [`runs/exp/r1/${tmpName}`, 'temp'],
      ['runs/exp/r1/run.json.lock', 'lock'],
    ])
    expect(found[0]!.reason).toBe(`writer pid ${pid} is gone`)
    expect(found[1]!.reason).toBe(`lock owner pid ${pid} is gone`)

    // Handing removeDebris the live writer's files too: they are checked again and kept.
    const forged: Debris[] = [
      { path: live.tmp, kind: 'temp', reason: 'forged' },
      { path: `${liveTarget}.lock`, kind: 'lock', reason: 'forged' },
    ]
    const removed = removeDebris([...found, ...forged])
    expect(rel(removed)).toEqual(rel(found))
    expect(readdirSync(runDir)).toEqual(['run.json'])
    expect(readFileSync(target, 'utf8')).toBe('{"status":"running"}\n') // the old file, whole
    expect(existsSync(live.tmp)).toBe(true)
    expect(JSON.parse(readFileSync(`${liveTarget}.lock`, 'utf8')).pid).toBe(live.child.pid)
    expect(findDebris(home)).toEqual([])

    // The lock is free again for the next writer.
    expect(withLockSync(`${target}.lock`, () => 'taken', { waitMs: 200 })).toBe('taken')
    await killHard(live.child)
  })

  it('the next writeFileAtomic of the same file removes the dead writer’s temp file, not a live one’s', async () => {
    const dir = join(home, 'registry', 'models', 'm')
    mkdirSync(dir, { recursive: true })
    const target = join(dir, 'aliases.json')
    const killed = await startWriter(target)
    const live = await startWriter(join(dir, 'other.json'))
    await killHard(killed.child)
    // A live writer of the same target (this process, a temp name of its own) is not disturbed either.
    const mine = join(dir, `.aliases.json.${process.pid}.0badcafe.tmp`)
    writeFileSync(mine, 'x')

    expect(existsSync(killed.tmp)).toBe(true)
    writeFileAtomic(target, '{"prod":3}\n')
    expect(existsSync(killed.tmp)).toBe(false)
    expect(readFileSync(target, 'utf8')).toBe('{"prod":3}\n')
    expect(existsSync(mine)).toBe(true)
    expect(existsSync(live.tmp)).toBe(true)
    await killHard(live.child)
  })
})

describe('findDebris', () => {
  it('tells debris from live files by pid and age, leaves foreign files and the lake alone', async () => {
    const dead = deadPid()
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' })
    children.push(sleeper)
    const alive = sleeper.pid!
    const now = Date.now()
    const put = (path: string, text: string, ageMs = 0) => {
      const full = join(home, path)
      mkdirSync(join(full, '..'), { recursive: true })
      writeFileSync(full, text)
      const t = (now - ageMs) / 1000
      utimesSync(full, t, t)
    }
    // Temp files: dead pid (listed), live pid but untouched 2 h (listed), live and fresh (kept).
    put(`runs/e/r/.metrics.jsonl.${dead}.00ff00ff.tmp`, 'x')
    put(`runs/e/r/.params.json.${process.pid}.0a0b0c0d.tmp`, 'x', 2 * HOUR)
    put(`runs/e/r/.tags.json.${process.pid}.01020304.tmp`, 'x', 10_000)
    put(`registry/models/m/.v2.${dead}.abcdef.tmp`, 'x')
    put(`exports/bars.csv.${dead}.1733440000000.tmp`, 'x')
    // Locks: dead owner, live owner taken 11 minutes ago (stale by age), live and fresh (kept),
    // empty (killed between create and write) 5 s old (listed), empty and just made (kept), a foreign
    // "yarn.lock" (kept), an aside left by a dead breaker (listed).
    put('runs/e/snapshot.jsonl.lock', JSON.stringify({ pid: dead, at: now }))
    put('runs/e/r/metrics.jsonl.lock', JSON.stringify({ pid: process.pid, at: now - 11 * 60_000 }))
    put('runs/e/r/params.jsonl.lock', JSON.stringify({ pid: alive, at: now }))
    // Our own pid on a lock this process does not hold: an earlier process with the same pid left it.
    put('registry/models/m/aliases.json.lock', JSON.stringify({ pid: process.pid, at: now }))
    put('registry/models/m/.lock', '', 5000)
    put('registry/models/n/.lock', '')
    put('notebooks/yarn.lock', '# yarn lockfile v1\n', 2 * HOUR)
    put(`runs/e/r/tags.jsonl.lock.stale.${dead}.${now - 5000}`, JSON.stringify({ pid: dead, at: now - 5000 }))
    // Not ours: ordinary files, and the lake (its engineer's cleanup) even with dead-pid debris in it.
    put('runs/e/r/run.json', '{}')
    put('runs/e/r/notes.tmp', 'x', 2 * HOUR)
    put(`lake/bars/x.parquet.${dead}.1733440000000.tmp`, 'x')
    put('lake/bars/x.parquet.lock', JSON.stringify({ pid: dead, at: now }))

    const found = findDebris(home)
    expect(found.map((d) => [d.path.slice(home.length + 1), d.kind, d.reason])).toEqual([
      [`exports/bars.csv.${dead}.1733440000000.tmp`, 'temp', `writer pid ${dead} is gone`],
      ['registry/models/m/.lock', 'lock', 'lock without an owner'],
      [`registry/models/m/.v2.${dead}.abcdef.tmp`, 'temp', `writer pid ${dead} is gone`],
      ['registry/models/m/aliases.json.lock', 'lock', `lock names pid ${process.pid} (this process), which does not hold it`],
      [`runs/e/r/.metrics.jsonl.${dead}.00ff00ff.tmp`, 'temp', `writer pid ${dead} is gone`],
      [`runs/e/r/.params.json.${process.pid}.0a0b0c0d.tmp`, 'temp', 'untouched for 2 h'],
      ['runs/e/r/metrics.jsonl.lock', 'lock', 'lock taken 11 min ago'],
      [`runs/e/r/tags.jsonl.lock.stale.${dead}.${now - 5000}`, 'lock', `lock moved aside by pid ${dead}, which is gone`],
      ['runs/e/snapshot.jsonl.lock', 'lock', `lock owner pid ${dead} is gone`],
    ])
    // With the lake included, its two leftovers are listed as well.
    expect(findDebris(home, { skip: [] }).length).toBe(found.length + 2)

    // A lock this process holds right now is not debris, though it names our pid.
    const held = withLockSync(join(home, 'runs/e/r/run.json.lock'), () => findDebris(home))
    expect(held.map((d) => d.path)).toEqual(found.map((d) => d.path))

    expect(removeDebris(found).length).toBe(9)
    expect(findDebris(home)).toEqual([])
    for (const kept of ['runs/e/r/params.jsonl.lock', 'registry/models/n/.lock', 'notebooks/yarn.lock', 'runs/e/r/run.json', 'runs/e/r/notes.tmp']) {
      expect(existsSync(join(home, kept))).toBe(true)
    }
    expect(existsSync(join(home, `runs/e/r/.tags.json.${process.pid}.01020304.tmp`))).toBe(true)
    await killHard(sleeper)
  })

  it('refuses a missing workspace and bad options with a one-line message', () => {
    expect(() => findDebris(join(home, 'nope'))).toThrow(`workspace folder ${join(home, 'nope')} does not exist`)
    expect(() => findDebris(home, { staleMs: -1 })).toThrow('staleMs must be a number of milliseconds ≥ 0 (received -1)')
  })

  it('never takes a recorded artifact or a registry version’s file for a temp, however it is named', () => {
    const dead = deadPid()
    const put = (p: string, text = 'user data') => {
      mkdirSync(join(home, p, '..'), { recursive: true })
      writeFileSync(join(home, p), text)
    }
    put('runs/e/r/run.json', '{}')
    // Artifact and registry file names a user chose, that happen to look like temp names of a dead pid
    // (recorded by an older run: the tracker refuses temp-shaped names now).
    put(`runs/e/r/artifacts/ckpt.${dead}.3.tmp`)
    put(`runs/e/r/artifacts/deep/.w.${dead}.abc.tmp`)
    put('runs/e/r/artifacts.jsonl', `${JSON.stringify({ path: `ckpt.${dead}.3.tmp` })}\n${JSON.stringify({ path: `deep/.w.${dead}.abc.tmp` })}\n`)
    put(`registry/models/m/v2/.weights.${dead}.abcdef.tmp`)
    put(`registry/models/m/v10/model.${dead}.1.tmp`)
    // The writers' own temps beside them are still found, in artifacts/ too when the run has not recorded them
    // (a tracked backtest killed while its tables were written); a user's name of another shape is never.
    put(`runs/e/r/.params.json.${dead}.0a0b0c0d.tmp`)
    put(`registry/models/m/.v3.${dead}.abcdef.tmp`)
    put(`runs/e/r/artifacts/.equity.parquet.${dead}.0a0b0c0d.tmp`, 'half a table')
    put(`runs/e/r/artifacts/deep/artifacts/.x.${dead}.ab.tmp`, 'half')
    put(`runs/e/r/artifacts/notes.${dead}.7.tmp`)
    const found = findDebris(home)
    expect(rel(found)).toEqual([
      [`registry/models/m/.v3.${dead}.abcdef.tmp`, 'temp'],
      [`runs/e/r/.params.json.${dead}.0a0b0c0d.tmp`, 'temp'],
      [`runs/e/r/artifacts/.equity.parquet.${dead}.0a0b0c0d.tmp`, 'temp'],
      [`runs/e/r/artifacts/deep/artifacts/.x.${dead}.ab.tmp`, 'temp'],
    ])
    expect(removeDebris(found)).toHaveLength(4)
    for (const p of [`runs/e/r/artifacts/ckpt.${dead}.3.tmp`, `runs/e/r/artifacts/deep/.w.${dead}.abc.tmp`, `runs/e/r/artifacts/notes.${dead}.7.tmp`, `registry/models/m/v2/.weights.${dead}.abcdef.tmp`, `registry/models/m/v10/model.${dead}.1.tmp`]) {
      expect(readFileSync(join(home, p), 'utf8'), p).toBe('user data')
    }
    expect(existsSync(join(home, `runs/e/r/artifacts/.equity.parquet.${dead}.0a0b0c0d.tmp`))).toBe(false)
    // A run whose artifacts.jsonl cannot be read whole: nothing in its artifacts/ is taken for debris.
    put(`runs/e/r/artifacts/.again.${dead}.0a0b0c0d.tmp`, 'half')
    put('runs/e/r/artifacts.jsonl', '{"path":"a"}\nnot json\n{"path":"b"}\n')
    expect(rel(findDebris(home))).toEqual([])
  })

  it('a lock held by a worker thread of this process is not debris (threads share the pid)', async () => {
    const lock = join(home, 'runs', 'e', 'r', 'metrics.jsonl.lock')
    mkdirSync(join(lock, '..'), { recursive: true })
    const shared = new Int32Array(new SharedArrayBuffer(4))
    const code = `require('tsx/cjs/api').register();
      const { workerData, parentPort } = require('node:worker_threads');
      const { withLockSync } = require(${JSON.stringify(join(ROOT, 'lib', 'core', 'lock.ts'))});
      withLockSync(${JSON.stringify(lock)}, () => { parentPort.postMessage('held'); Atomics.wait(workerData, 0, 0, 10000) })`
    const worker = new Worker(code, { eval: true, workerData: shared })
    try {
      await new Promise<void>((resolve, reject) => {
        worker.on('message', () => resolve())
        worker.on('error', reject)
      })
      const info = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number; thread: number }
      expect(info).toMatchObject({ pid: process.pid, thread: worker.threadId })
      expect(findDebris(home)).toEqual([])
      expect(removeDebris([{ path: lock, kind: 'lock', reason: 'forged' }])).toEqual([])
      expect(existsSync(lock)).toBe(true)
    } finally {
      Atomics.store(shared, 0, 1)
      Atomics.notify(shared, 0)
      await new Promise((r) => worker.on('exit', r))
    }
    expect(existsSync(lock)).toBe(false) // released by its thread
  })
})
