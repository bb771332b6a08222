// Lock files for the shared workspace (a lake partition, a run, a registry entry), held for one write only
// (DESIGN: no process holds an exclusive lock longer than one write). A lock whose owner process is gone —
// killed mid-write — is taken over. `withLockSync` is for the tracker's synchronous logging calls.
// A lock is not re-entrant: work that asks again for a lock its own call chain holds fails at once
// (it would otherwise wait on itself until the deadline).

import { AsyncLocalStorage } from 'node:async_hooks'
import { openSync, closeSync, writeSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { threadId } from 'node:worker_threads'
import { DataError } from './errors.js'

/**
 * Lock paths this thread holds now (any call chain): a lock file naming our pid and thread but absent
 * here is a dead predecessor's. (Worker threads share the pid and have their own set: a lock of
 * another thread of this process is judged as before, by age.)
 */
const heldHere = new Set<string>()
/** Lock paths held by the current async call chain (withLock inside withLock). */
const chain = new AsyncLocalStorage<ReadonlySet<string>>()
/** Lock paths held by the synchronous call stack (withLockSync inside withLockSync). */
const syncHeld = new Set<string>()

/** The lock paths this process (this thread) holds right now, absolute. */
export function locksHeld(): string[] {
  return [...heldHere]
}

function reentered(path: string): DataError {
  return new DataError(`could not lock ${path}: this very call chain already holds it (pid ${process.pid}); a lock is not re-entrant, so waiting would never end`)
}

export interface LockOptions {
  /** Give up after this many milliseconds of waiting. */
  waitMs?: number
  /** A lock older than this is stale even if its pid is alive (pid reuse). */
  staleMs?: number
}

export async function withLock<T>(path: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.waitMs ?? 120_000)
  const staleMs = options.staleMs ?? 600_000
  const id = resolve(path)
  const mine = chain.getStore()
  if (mine?.has(id) === true) throw reentered(path)
  // Another call chain of this process may hold it: that one ends by itself, so waiting is right.
  for (let attempt = 0; !acquire(path, staleMs); attempt++) {
    if (Date.now() > deadline) throw held(path)
    await new Promise((r) => setTimeout(r, Math.min(100, 5 * (attempt + 1))))
  }
  heldHere.add(id)
  try {
    return await chain.run(new Set([...(mine ?? []), id]), work)
  } finally {
    heldHere.delete(id)
    rmSync(path, { force: true })
  }
}

/** The same lock, waited for by sleeping the thread (for short synchronous writes). */
export function withLockSync<T>(path: string, work: () => T, options: LockOptions = {}): T {
  const deadline = Date.now() + (options.waitMs ?? 30_000)
  const staleMs = options.staleMs ?? 600_000
  const id = resolve(path)
  // The thread sleeps while waiting: no other call chain of this process can release a lock it holds.
  if (syncHeld.has(id) || heldHere.has(id)) throw reentered(path)
  for (let attempt = 0; !acquire(path, staleMs); attempt++) {
    if (Date.now() > deadline) throw held(path)
    sleepSync(Math.min(20, 1 + attempt))
  }
  heldHere.add(id)
  syncHeld.add(id)
  try {
    return work()
  } finally {
    syncHeld.delete(id)
    heldHere.delete(id)
    rmSync(path, { force: true })
  }
}

/** One attempt: take the lock, or take it over from a gone owner; false while someone else holds it. */
function acquire(path: string, staleMs: number): boolean {
  if (tryCreate(path)) return true
  if (!isStale(path, staleMs)) return false
  breakStale(path, staleMs)
  return tryCreate(path)
}

function held(path: string): DataError {
  return new DataError(`could not lock ${path}: held by another process (${owner(path)})`)
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms)
}

function tryCreate(path: string): boolean {
  try {
    const fd = openSync(path, 'wx')
    try {
      writeSync(fd, JSON.stringify({ pid: process.pid, thread: threadId, at: Date.now() }))
    } finally {
      closeSync(fd)
    }
    return true
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') return false
    throw error
  }
}

function owner(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return 'gone'
  }
}

function isStale(path: string, staleMs: number): boolean {
  let info: { pid?: number; thread?: number; at?: number }
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as { pid?: number; thread?: number; at?: number }
  } catch {
    // Unreadable or half-written: stale once it is old enough not to be a lock being written now.
    try {
      return Date.now() - statSync(path).mtimeMs > 1000
    } catch {
      return false
    }
  }
  if (typeof info.at === 'number' && Date.now() - info.at > staleMs) return true
  if (typeof info.pid !== 'number') return false
  // Our own pid and thread on a lock this thread does not hold: left by an earlier process with the
  // same pid (pids are reused, e.g. in containers), which is gone.
  if (info.pid === process.pid) {
    if ((info.thread ?? 0) === threadId) return !heldHere.has(resolve(path))
    return false // another thread of this process: alive as long as we are
  }
  try {
    process.kill(info.pid, 0)
    return false
  } catch (error) {
    return (error as { code?: string }).code === 'ESRCH'
  }
}

/** Move the stale lock aside; if what we moved turns out to be a fresh lock, put it back. */
function breakStale(path: string, staleMs: number): void {
  const aside = `${path}.stale.${process.pid}.${Date.now()}`
  try {
    renameSync(path, aside)
  } catch {
    return
  }
  if (!isStale(aside, staleMs)) {
    try {
      renameSync(aside, path)
      return
    } catch {
      /* fall through: drop it */
    }
  }
  rmSync(aside, { force: true })
}
