// Crash debris in a workspace: temp files and lock files left behind by writers that were killed mid-write
// (kill -9, power cut). `findDebris` lists them, `removeDebris` removes them after checking each one again,
// so a live process's temp file or lock is never touched. The lake's own files are the lake's business.

import { existsSync, readdirSync, readFileSync, rmSync, statSync, type Dirent } from 'node:fs'
import { basename, join, relative, resolve, sep } from 'node:path'
import { ConfigError, NotFoundError } from './errors.js'
import { duration, lockStaleReason, locksHeld, pidAlive, removeLockIfStale, type LockInfo } from './lock.js'

export interface Debris {
  path: string
  kind: 'temp' | 'lock'
  /** Why it counts as debris, in words: "writer pid 4242 is gone", "lock taken 2 h ago". */
  reason: string
}

export interface DebrisOptions {
  /** A lock older than this is stale even if its pid is alive (pid reuse); lock.ts's default, 10 minutes. */
  staleMs?: number
  /** A temp file untouched for this long is abandoned even if its pid is alive (pid reuse); default 1 hour. */
  tempAgeMs?: number
  /** Top-level folders of the workspace not walked (default ["lake"]: the lake cleans up its own files). */
  skip?: readonly string[]
}

const DEFAULT_STALE_MS = 600_000
const DEFAULT_TEMP_AGE_MS = 3_600_000
/** A lock file with no readable owner yet may be one being written this instant (lock.ts waits 1 s too). */
const UNREADABLE_LOCK_MS = 1000
/** A lock moved aside by lock.ts's breakStale lives for microseconds; one a minute old was orphaned. */
const ASIDE_MS = 60_000

/** writeFileAtomic's `.<base>.<pid>.<hex>.tmp` (and the registry's `.v<n>.<pid>.<hex>.tmp`). */
const ATOMIC_TEMP = /^\.(.+)\.(\d+)\.[0-9a-f]+\.tmp$/
/** A file name of the shape writeFileAtomic gives its temp files: `.<base>.<pid>.<hex>.tmp`. */
export function isWriterTemp(name: string): boolean {
  return ATOMIC_TEMP.test(name)
}

/** `<file>.<pid>.<ms>.tmp`, as the lake and a few single writers name theirs. */
const PID_TIME_TEMP = /^(.+)\.(\d+)\.(\d+)\.tmp$/
/** lock.ts's breakStale: `<lock>.stale.<breaker pid>.<ms>`. */
const LOCK_ASIDE = /^(.+\.lock|\.lock)\.stale\.(\d+)\.(\d+)$/

interface Checks {
  staleMs: number
  tempAgeMs: number
}

/** Temp files of dead writers and stale locks under `root` (a workspace folder), in path order. */
export function findDebris(root: string, options: DebrisOptions = {}): Debris[] {
  const checks = normalise(options)
  const skip = new Set(options.skip ?? ['lake'])
  try {
    if (!statSync(root).isDirectory()) throw new ConfigError(`workspace ${root} is not a folder`)
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') throw new NotFoundError(`workspace folder ${root} does not exist`, { cause: error })
    throw error
  }
  const found: Debris[] = []
  walk(
    root,
    (path, dir, name) => {
      if (artifactsFolder(root, path)) {
        found.push(...artifactTemps(path, checks))
        return false
      }
      return !(dir === root && skip.has(name)) && !userFolder(root, path)
    },
    (path) => {
      const debris = classify(path, checks)
      if (debris !== undefined) found.push(debris)
    },
  )
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

/**
 * The files under `top` (`file` for each), entering the folders `enter` accepts. An explicit stack: a deep
 * workspace must not overflow the call stack. Symlinks are neither entered nor listed (a link could lead out
 * of the workspace, or round in a loop); a folder removed meanwhile, or unreadable, is passed over.
 */
function walk(top: string, enter: (path: string, dir: string, name: string) => boolean, file: (path: string, name: string) => void): void {
  const dirs = [top]
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    let entries: Dirent[]
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      continue
    }
    for (const entry of entries) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (enter(path, dir, entry.name)) dirs.push(path)
      } else if (entry.isFile()) file(path, entry.name)
    }
  }
}

/** A run's `artifacts/` folder (runs/<experiment>/<run>/artifacts). */
function artifactsFolder(root: string, path: string): boolean {
  const parts = relative(root, path).split(sep)
  return parts[0] === 'runs' && parts.length === 4 && parts[3] === 'artifacts'
}

/**
 * The temp files of dead writers in a run's `artifacts/`: writeFileAtomic's `.<base>.<pid>.<hex>.tmp` that
 * the run has not recorded (the tracker refuses such names since, so a recorded one is an older run's
 * artifact and is left alone, as is every file when artifacts.jsonl cannot be read whole). Other names
 * there are the user's, however they look.
 */
function artifactTemps(folder: string, checks: Checks): Debris[] {
  const recorded = recordedArtifacts(join(folder, '..'))
  if (recorded === undefined) return []
  const found: Debris[] = []
  walk(
    folder,
    () => true,
    (path, name) => {
      if (!isWriterTemp(name) || recorded.has(relative(folder, path).split(sep).join('/'))) return
      const debris = classify(path, checks)
      if (debris !== undefined) found.push(debris)
    },
  )
  return found
}

/** The paths a run folder's artifacts.jsonl records; undefined when it cannot be read whole (then nothing there is taken for debris). */
function recordedArtifacts(runDir: string): Set<string> | undefined {
  let text: string
  try {
    text = readFileSync(join(runDir, 'artifacts.jsonl'), 'utf8')
  } catch (error) {
    return (error as { code?: string }).code === 'ENOENT' ? new Set() : undefined
  }
  const paths = new Set<string>()
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try {
      const record = JSON.parse(line) as { path?: unknown; '#torn'?: unknown }
      if (typeof record.path === 'string') paths.add(record.path)
      else if (record['#torn'] === undefined) return undefined
    } catch {
      return undefined
    }
  }
  return paths
}

/** For removeDebris: a temp file in a run's `artifacts/` is still one the run has not recorded. */
function unrecordedIfArtifact(path: string): boolean {
  const parts = resolve(path).split(sep)
  // runs/<experiment>/<run>/artifacts/…, the run folder holding a run.json (a folder named "artifacts"
  // inside a run's artifacts is not the run's).
  for (let i = 0; i + 4 < parts.length; i++) {
    if (parts[i] !== 'runs' || parts[i + 3] !== 'artifacts') continue
    const runDir = parts.slice(0, i + 3).join(sep)
    if (!existsSync(join(runDir, 'run.json'))) continue
    const recorded = recordedArtifacts(runDir)
    return recorded !== undefined && !recorded.has(parts.slice(i + 4).join('/'))
  }
  return true
}

/**
 * Folders holding the user's own files, where a name like `ckpt.12.3.tmp` is a recorded artifact, not a
 * writer's temp: a run's `artifacts/` (runs/<experiment>/<run>/artifacts; only its unrecorded writer temps
 * are looked at, artifactTemps) and a registry version folder (registry/<kind>/<name>/v<N>). Never walked.
 */
function userFolder(root: string, path: string): boolean {
  const parts = relative(root, path).split(sep)
  if (parts[0] === 'runs' && parts.length >= 4 && parts[3] === 'artifacts') return true
  return parts[0] === 'registry' && parts.length >= 4 && /^v\d+$/.test(parts[3]!)
}

/**
 * Removes the listed debris, each only if it is still debris now (its writer may have been a live process
 * that since finished, or a lock may have been taken over by a live one). Returns what was removed.
 */
export function removeDebris(items: readonly Debris[], options: DebrisOptions = {}): Debris[] {
  const checks = normalise(options)
  const removed: Debris[] = []
  for (const item of items) {
    const now = classify(item.path, checks)
    if (now === undefined) continue
    if (now.kind === 'temp' && !unrecordedIfArtifact(item.path)) continue
    if (now.kind === 'temp' || LOCK_ASIDE.test(basename(item.path))) {
      // A temp file's name is unique to its writer (pid + random), and an aside lock is no one's lock.
      rmSync(item.path, { force: true })
      removed.push(now)
    } else if (removeStaleLock(item.path, checks)) {
      removed.push(now)
    }
  }
  return removed
}

/**
 * True when `path` is a temp file of a writer that is gone (or one abandoned for an hour). writeFileAtomic
 * uses it to clear its own target's leftovers.
 */
export function isDeadTemp(path: string, options: DebrisOptions = {}): boolean {
  return classify(path, normalise(options))?.kind === 'temp'
}

function normalise(options: DebrisOptions): Checks {
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS
  const tempAgeMs = options.tempAgeMs ?? DEFAULT_TEMP_AGE_MS
  for (const [name, value] of [['staleMs', staleMs], ['tempAgeMs', tempAgeMs]] as const) {
    if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name} must be a number of milliseconds ≥ 0 (received ${value})`)
  }
  return { staleMs, tempAgeMs }
}

/** The file as debris, or undefined when it is not ours or still in use. Reads the file system afresh. */
function classify(path: string, checks: Checks): Debris | undefined {
  const name = basename(path)
  const temp = ATOMIC_TEMP.exec(name) ?? PID_TIME_TEMP.exec(name)
  if (temp !== null) return tempDebris(path, Number(temp[2]), checks)
  const aside = LOCK_ASIDE.exec(name)
  if (aside !== null) {
    const pid = Number(aside[2])
    const age = Date.now() - Number(aside[3])
    if (!pidAlive(pid)) return { path, kind: 'lock', reason: `lock moved aside by pid ${pid}, which is gone` }
    if (age > ASIDE_MS) return { path, kind: 'lock', reason: `lock moved aside ${duration(age)} ago` }
    return undefined
  }
  if (name === '.lock' || name.endsWith('.lock')) return lockDebris(path, checks)
  return undefined
}

function tempDebris(path: string, pid: number, checks: Checks): Debris | undefined {
  const age = ageOf(path)
  if (age === undefined) return undefined // gone meanwhile: renamed into place or removed by its writer
  if (!pidAlive(pid)) return { path, kind: 'temp', reason: `writer pid ${pid} is gone` }
  if (age > checks.tempAgeMs) return { path, kind: 'temp', reason: `untouched for ${duration(age)}` }
  return undefined
}

/** lock.ts's rules for a stale lock, with one more care: a file that is not a lock of ours is left alone. */
function lockDebris(path: string, checks: Checks): Debris | undefined {
  const owner = readOwner(path)
  if (owner === 'gone') return undefined
  if (owner === 'partial') {
    // Killed between creating the lock and writing its owner: empty or cut short.
    const age = ageOf(path)
    return age !== undefined && age > UNREADABLE_LOCK_MS ? { path, kind: 'lock', reason: 'lock without an owner' } : undefined
  }
  if (owner === 'foreign') return undefined
  // lock.ts's rule, the same everywhere: owner gone, pid reused (start time), or — without a start time — age;
  // a lock of another thread of this process is live (worker threads share the pid).
  const reason = lockStaleReason(owner as LockInfo, path.replace(/\.stale\.\d+\.\d+$/, ''), checks.staleMs, heldHere)
  return reason === undefined ? undefined : { path, kind: 'lock', reason }
}

type Owner = { pid?: unknown; at?: unknown } | 'gone' | 'partial' | 'foreign'

function readOwner(path: string): Owner {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return 'gone'
  }
  try {
    const parsed = JSON.parse(text) as unknown
    if (typeof parsed === 'object' && parsed !== null && ('pid' in parsed || 'at' in parsed)) return parsed as { pid?: unknown; at?: unknown }
    return 'foreign'
  } catch {
    // lock.ts writes `{"pid":…,"at":…}` in one write; anything else (a yarn.lock, say) is not ours.
    return text === '' || '{"pid":'.startsWith(text) || text.startsWith('{"pid":') ? 'partial' : 'foreign'
  }
}

/** As lock.ts breaks a stale lock (moved aside, judged again, put back if a live process took it). */
function removeStaleLock(path: string, checks: Checks): boolean {
  return removeLockIfStale(path, (aside) => lockDebris(aside, checks) !== undefined || readOwner(aside) === 'gone')
}

function heldHere(path: string): boolean {
  const id = resolve(path)
  return locksHeld().some((held) => held === id || id.startsWith(`${held}.stale.`))
}


function ageOf(path: string): number | undefined {
  try {
    return Date.now() - statSync(path).mtimeMs
  } catch {
    return undefined
  }
}
