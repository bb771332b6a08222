// Lock files for the shared workspace (a lake partition, a run, a registry entry), held for one write only
// (DESIGN: no process holds an exclusive lock longer than one write). A lock whose owner process is gone —
// killed mid-write — is taken over; a live owner's never is, however long it holds it (on Linux the
// owner's process start time tells a reused pid apart). `withLockSync` is for the tracker's synchronous logging calls.
// A lock is not re-entrant: work that asks again for a lock its own call chain holds fails at once
// (it would otherwise wait on itself until the deadline).

import { AsyncLocalStorage } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'
import { openSync, closeSync, writeSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, resolve } from 'node:path'
import { threadId } from 'node:worker_threads'
import { DataError, NotFoundError } from './errors.js'

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
  /**
   * A lock older than this is stale even if its pid is alive, only where the owner's start time cannot
   * be checked (no /proc, a lock from another host or from an older version).
   */
  staleMs?: number
}

export async function withLock<T>(path: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.waitMs ?? 120_000)
  const staleMs = options.staleMs ?? 600_000
  const id = resolve(path)
  const mine = chain.getStore()
  if (mine?.has(id) === true) throw reentered(path)
  // Another call chain of this process may hold it: that one ends by itself, so waiting is right.
  let token: string | undefined
  for (let attempt = 0; (token = acquire(path, staleMs)) === undefined; attempt++) {
    if (Date.now() > deadline) throw held(path)
    await new Promise((r) => setTimeout(r, Math.min(100, 5 * (attempt + 1))))
  }
  heldHere.add(id)
  try {
    return await chain.run(new Set([...(mine ?? []), id]), work)
  } finally {
    heldHere.delete(id)
    release(path, token)
  }
}

/** The same lock, waited for by sleeping the thread (for short synchronous writes). */
export function withLockSync<T>(path: string, work: () => T, options: LockOptions = {}): T {
  const deadline = Date.now() + (options.waitMs ?? 30_000)
  const staleMs = options.staleMs ?? 600_000
  const id = resolve(path)
  // The thread sleeps while waiting: no other call chain of this process can release a lock it holds.
  if (syncHeld.has(id) || heldHere.has(id)) throw reentered(path)
  let token: string | undefined
  for (let attempt = 0; (token = acquire(path, staleMs)) === undefined; attempt++) {
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
    release(path, token)
  }
}

/** One attempt: take the lock, or take it over from a gone owner; the lock's token, or undefined while someone else holds it. */
function acquire(path: string, staleMs: number): string | undefined {
  const token = tryCreate(path)
  if (token !== undefined) return token
  if (!isStale(path, staleMs)) return undefined
  breakStale(path, staleMs)
  return tryCreate(path)
}

/**
 * Remove the lock only while it still holds our token: a lock file someone else wrote meanwhile (one
 * that judged ours stale) is theirs, and deleting it would let a third writer in beside them.
 */
function release(path: string, token: string): void {
  let info: LockInfo
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo
  } catch {
    return // gone, or not ours to judge
  }
  if (info.token === token) rmSync(path, { force: true })
}

function held(path: string): DataError {
  return new DataError(`could not lock ${path}: held by another process (${owner(path)})`)
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms)
}

/** What a lock file records about its owner. */
export interface LockInfo {
  pid?: number
  thread?: number
  at?: number
  /** Unique to one acquisition: release removes only a lock holding its own token. */
  token?: string
  /** The owner's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), where known. */
  start?: string
  host?: string
}

/** A process's start time (field 22 of /proc/<pid>/stat), or undefined where /proc cannot tell. */
export function processStartTime(pid: number): string | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const start = fields[22 - 3]
  return start !== undefined && /^\d+$/.test(start) ? start : undefined
}

const ownStart = processStartTime(process.pid)
const ownHost = hostname()

function tryCreate(path: string): string | undefined {
  const token = randomBytes(12).toString('hex')
  try {
    const fd = openSync(path, 'wx')
    try {
      const info: LockInfo = { pid: process.pid, thread: threadId, at: Date.now(), token, host: ownHost }
      if (ownStart !== undefined) info.start = ownStart
      writeSync(fd, JSON.stringify(info))
    } finally {
      closeSync(fd)
    }
    return token
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'EEXIST') return undefined
    // The lock's folder is gone (a run folder gc moved to the trash while we waited): what it guarded is gone.
    if (code === 'ENOENT') throw new NotFoundError(`could not lock ${path}: its folder ${dirname(path)} is gone`, { cause: error })
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

/**
 * Why a lock's owner no longer holds it, or undefined while it does. The one rule for lock.ts, debris.ts
 * and the lake: a pid that is gone; a live pid whose start time differs from the recorded one (the pid
 * was reused); our own pid and thread on a lock this thread does not hold (an earlier process with our
 * pid). Another thread of this process is alive as long as we are. Only where the start time cannot be
 * compared (no /proc, another host, a lock without it) does age decide: older than `staleMs`.
 * `held(path)`: whether this thread holds the lock at `path` (default: this module's record).
 */
export function lockStaleReason(info: LockInfo, path: string, staleMs: number, held: (path: string) => boolean = (p) => heldHere.has(resolve(p))): string | undefined {
  const age = typeof info.at === 'number' ? Date.now() - info.at : undefined
  const old = age !== undefined && age > staleMs ? `lock taken ${duration(age)} ago` : undefined
  if (info.host !== undefined && info.host !== ownHost) return old // pids of another host mean nothing here
  // Without a recorded start time (a lock from before start times, or no /proc) age decides first, as it did.
  if ((info.start === undefined || ownStart === undefined) && old !== undefined) return old
  if (typeof info.pid !== 'number') return undefined
  if (info.pid === process.pid) {
    if (info.start !== undefined && ownStart !== undefined && info.start !== ownStart) return `lock names pid ${info.pid} (this process) but an earlier process's start time`
    if ((info.thread ?? 0) === threadId) return held(path) ? undefined : `lock names pid ${info.pid} (this process), which does not hold it`
    return undefined // another thread of this process: alive as long as we are
  }
  if (!pidAlive(info.pid)) return `lock owner pid ${info.pid} is gone`
  if (info.start === undefined) return undefined
  const start = processStartTime(info.pid)
  if (start === undefined) return old // /proc cannot tell: the age rule
  return start === info.start ? undefined : `lock owner pid ${info.pid} is now another process (started later)`
}

/**
 * When a live process started, in epoch ms (/proc's boot time plus its start ticks at 100 per second),
 * or undefined where /proc cannot tell. Tells a live writer's temp file from a reused pid's.
 */
export function processStartMs(pid: number): number | undefined {
  const ticks = processStartTime(pid)
  if (ticks === undefined) return undefined
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))
    return btime === null ? undefined : Number(btime[1]) * 1000 + Number(ticks) * 10
  } catch {
    return undefined
  }
}

/** A duration for messages: seconds, minutes or hours. */
export function duration(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`
  return `${Math.round(ms / 3_600_000)} h`
}

/** Alive on this host: signal 0 reaches it, or it exists under another user (EPERM). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0x7fffffff) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code !== 'ESRCH'
  }
}

function isStale(path: string, staleMs: number): boolean {
  let info: LockInfo
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo
  } catch {
    // Unreadable or half-written: stale once it is old enough not to be a lock being written now.
    try {
      return Date.now() - statSync(path).mtimeMs > 1000
    } catch {
      return false
    }
  }
  // A moved-aside lock is judged under its own name (this thread holding it would be under that name).
  const name = path.replace(/\.stale\.\d+\.\d+$/, '')
  return lockStaleReason(info, name, staleMs) !== undefined
}

/** Move the stale lock aside; if what we moved turns out to be a fresh lock, put it back. */
function breakStale(path: string, staleMs: number): void {
  removeLockIfStale(path, (aside) => isStale(aside, staleMs))
}

/**
 * Remove a lock judged stale without racing a live taker: move it aside, judge what was moved (a live
 * process may have taken the lock over in between), put it back if it is live, else delete it. True when
 * removed. The one way lock.ts, the workspace debris and the lake's debris break a lock.
 */
export function removeLockIfStale(path: string, stale: (aside: string) => boolean): boolean {
  const aside = `${path}.stale.${process.pid}.${Date.now()}`
  try {
    renameSync(path, aside)
  } catch {
    return false
  }
  if (!stale(aside)) {
    try {
      renameSync(aside, path)
      return false
    } catch {
      /* it cannot go back, so it goes */
    }
  }
  rmSync(aside, { force: true })
  return true
}
