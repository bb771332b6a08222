// Review follow-up (issue 18): a live lock holder is never robbed. A real child process holding a lock
// keeps it however old its lock is; a lock whose pid is alive but belongs to a process started at another
// time (pid reuse) is taken over at once; a holder whose lock was replaced meanwhile does not delete the
// new owner's lock on release. Start times are read from /proc here, independently of lock.ts.

import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { withLock, withLockSync } from '../../lib/core/index.js'
import { ROOT } from '../helpers.js'

const dir = () => mkdtempSync(join(tmpdir(), 'mtflow-lock2-'))

/** Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot. */
function startOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!
}

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
})

/**
 * A real process that takes `lock` through lock.ts and holds it until `release` exists (a minute at most);
 * resolves once it holds it. Released by the test, not after a fixed time: on a loaded machine the checks made
 * while it holds the lock can take longer than any hold time chosen here.
 */
function holder(lock: string, release: string): Promise<ChildProcess> {
  const script = `require('tsx/cjs/api').register();
    const { existsSync } = require('node:fs');
    const { withLockSync } = require(${JSON.stringify(join(ROOT, 'lib', 'core', 'lock.ts'))});
    withLockSync(${JSON.stringify(lock)}, () => {
      process.stdout.write('held\\n');
      const wait = new Int32Array(new SharedArrayBuffer(4));
      for (const end = Date.now() + 60000; !existsSync(${JSON.stringify(release)}) && Date.now() < end; ) Atomics.wait(wait, 0, 0, 20);
    })`
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve(child))
    child.on('exit', (code) => reject(new Error(`holder exited early (${code})`)))
  })
}

describe('locks judged by their owner, not their age', () => {
  it('does not take over a live process’s lock, even one older than staleMs', async () => {
    const folder = dir()
    const lock = join(folder, 'live.lock')
    const release = join(folder, 'release')
    const child = await holder(lock, release)
    const exited = new Promise((r) => child.on('exit', r))
    // staleMs of 50 ms: the age rule alone would call the child's lock stale almost at once.
    await expect(withLock(lock, async () => 'stolen', { staleMs: 50, waitMs: 1500 })).rejects.toThrow(/could not lock .*live\.lock: held by another process/)
    expect(() => withLockSync(lock, () => 'stolen', { staleMs: 50, waitMs: 500 })).toThrow(/held by another process/)
    expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: child.pid, start: startOf(child.pid!) })
    // Once the child is done, the lock is free.
    writeFileSync(release, '')
    await exited
    expect(await withLock(lock, async () => 'after', { waitMs: 1000 })).toBe('after')
  }, 20_000)

  it('a live process’s lock written an hour ago by hand (its real start time) is not stale either', async () => {
    const lock = join(dir(), 'old.lock')
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' })
    children.push(child)
    await new Promise((r) => child.on('spawn', r))
    await new Promise((r) => setTimeout(r, 100)) // /proc/<pid>/stat is the node binary's by now
    writeFileSync(lock, JSON.stringify({ pid: child.pid, thread: 0, at: Date.now() - 3_600_000, token: 'x', start: startOf(child.pid!), host: hostname() }))
    await expect(withLock(lock, async () => 'stolen', { waitMs: 300 })).rejects.toThrow(/held by another process/)
    expect(existsSync(lock)).toBe(true)
  })

  it('takes over at once a lock naming a live pid with another start time (the pid was reused)', async () => {
    const lock = join(dir(), 'reused.lock')
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' })
    children.push(child)
    await new Promise((r) => child.on('spawn', r))
    const realStart = Number(startOf(child.pid!))
    writeFileSync(lock, JSON.stringify({ pid: child.pid, thread: 0, at: Date.now(), token: 'x', start: String(realStart - 1), host: hostname() }))
    const started = Date.now()
    expect(await withLock(lock, async () => 'taken', { waitMs: 3000 })).toBe('taken')
    expect(Date.now() - started).toBeLessThan(1000)
    // Our own pid with another start time is an earlier process's too.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, thread: 1234, at: Date.now(), token: 'y', start: String(Number(startOf(process.pid)) - 1), host: hostname() }))
    expect(withLockSync(lock, () => 'ours', { waitMs: 1000 })).toBe('ours')
  })

  it('a holder whose lock was replaced meanwhile leaves the new owner’s lock in place on release', async () => {
    const lock = join(dir(), 'token.lock')
    const thief = JSON.stringify({ pid: process.pid + 1, thread: 0, at: Date.now(), token: 'thief' })
    await withLock(lock, async () => {
      writeFileSync(lock, thief) // another writer took the lock over while we were in it
    })
    expect(readFileSync(lock, 'utf8')).toBe(thief)
    withLockSync(join(dir(), 'other.lock'), () => undefined)
    const sync = join(dir(), 'sync.lock')
    withLockSync(sync, () => writeFileSync(sync, thief))
    expect(readFileSync(sync, 'utf8')).toBe(thief)
    // Our own lock is removed on release as before.
    const plain = join(dir(), 'plain.lock')
    await withLock(plain, async () => expect(existsSync(plain)).toBe(true))
    expect(existsSync(plain)).toBe(false)
  })
})
