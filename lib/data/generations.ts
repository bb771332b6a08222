// Generations of a lake dataset: its partitions live in a folder gen=<n>, and a small pointer file
// (CURRENT) names the generation readers use, so an import becomes visible whole, at one rename.
// Also the lake's crash debris (dead writers' temp files, stale locks, orphaned generations).

import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, DataError, lockStaleReason, pidAlive, preview, processStartMs, removeLockIfStale, withLockSync, type LockInfo } from '../core/index.js'

/**
 * Layout of one dataset (source, symbol, timeframe):
 *   CURRENT                      {"generation": n}, replaced atomically by the writer
 *   gen=<n>/period=<p>/data.parquet
 *   .lock                        the writer's lock (one import at a time per dataset)
 *   period=<p>/data.parquet      the layout before generations: read as generation 0
 * A writer builds gen=<n+1> (changed partitions written, unchanged ones hard-linked), switches CURRENT,
 * and removes generations older than <n>, so a reader that picked <n> just before the switch can finish.
 */
export const POINTER_FILE = 'CURRENT'
export const DATASET_LOCK = '.lock'

/** A period folder's name: a 4-digit year or year-month (nothing else is read or written). */
export const PERIOD_NAME = /^period=(\d{4}(?:-(?:0[1-9]|1[0-2]))?)$/
const GENERATION_NAME = /^gen=([1-9]\d{0,15})$/

export interface DatasetKey {
  source: string
  symbol: string
  timeframe: string
}

export function lakeDir(home: string): string {
  return join(home, 'lake', 'bars')
}

/** Path segments are URL-encoded so that any symbol ("BTC/USDT", "^GSPC") makes a safe folder name. */
export function datasetDir(home: string, key: DatasetKey): string {
  // A folder name has at most 255 bytes: a longer one would fail deep in a write, blaming the file.
  for (const [field, value] of [['symbol', key.symbol], ['source', key.source]] as const) {
    if (typeof value !== 'string' || value === '' || encodeURIComponent(value).length > 200) {
      throw new ConfigError(`${field} must be 1 to 200 characters once URL-encoded (received ${preview(value, 60)})`)
    }
  }
  return join(lakeDir(home), `source=${encodeURIComponent(key.source)}`, `symbol=${encodeURIComponent(key.symbol)}`, `timeframe=${key.timeframe}`)
}

export interface Generation {
  generation: number
  /** The folder holding its period=… folders (the dataset folder itself for generation 0). */
  dir: string
}

export function generationDir(dataset: string, generation: number): string {
  return generation === 0 ? dataset : join(dataset, `gen=${generation}`)
}

/**
 * The generation readers should use: the pointer's, or 0 (the layout before generations) without one.
 * A pointer naming a folder that does not exist is a DataError naming the pointer, never an empty
 * dataset (an import would otherwise build on nothing and drop the real data). A folder that vanished
 * because a writer moved the pointer on meanwhile (and removed the old generation) is not that: the
 * pointer is read again.
 */
export function currentGeneration(dataset: string): Generation {
  for (let attempt = 1; ; attempt++) {
    const generation = pointedGeneration(dataset)
    if (generation === 0) {
      // No pointer, yet gen=2 or later: CURRENT was published and then lost (a writer builds a generation
      // before CURRENT exists only on a dataset's first import, and that is gen=1). Read as the old layout it
      // was an empty dataset, its generations "debris" that the next import and doctor --fix removed.
      const published = generationsIn(dataset).filter((g) => g >= 2)
      if (published.length > 0) {
        throw new DataError(
          `${join(dataset, POINTER_FILE)} is missing, but the dataset holds generation folders (${published.map((g) => `gen=${g}`).join(', ')}) only a switched pointer leaves; restore it, e.g. {"generation": ${published[published.length - 1]}} naming the newest complete gen=<n> folder (nothing was read, written or removed)`,
        )
      }
      return { generation, dir: dataset }
    }
    const dir = generationDir(dataset, generation)
    if (isFolder(dir)) return { generation, dir }
    const again = pointedGeneration(dataset)
    if (again === generation || attempt >= 20) {
      throw new DataError(
        `${join(dataset, POINTER_FILE)} names generation ${generation}, but its folder ${dir} is missing; expected the pointer to name an existing gen=<n> folder (restore that folder or point CURRENT at one that exists)`,
      )
    }
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT' || (error as { code?: string }).code === 'ENOTDIR') return false
    throw new DataError(`cannot read ${path}: ${(error as Error).message}`, { cause: error })
  }
}

/** The generation number CURRENT names (0 without the file). */
function pointedGeneration(dataset: string): number {
  const file = join(dataset, POINTER_FILE)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return 0
    throw new DataError(`cannot read ${file}: ${(error as Error).message}`, { cause: error })
  }
  let generation: unknown
  try {
    generation = (JSON.parse(text) as { generation?: unknown }).generation
  } catch (cause) {
    throw new DataError(`${file} is not JSON; expected {"generation": <integer ≥ 1>}`, { cause })
  }
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 1) {
    throw new DataError(`${file}: generation must be an integer ≥ 1 (received ${JSON.stringify(generation)})`)
  }
  return generation
}

/** The partition files in a generation folder, in time order (periods sort as text). */
export function partitionFilesIn(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter((name) => PERIOD_NAME.test(name))
    .sort()
    .map((name) => join(dir, name, 'data.parquet'))
    .filter((file) => existsSync(file))
}

/**
 * The current generation and its partition files, listed whole: when the pointer moved while the folder
 * was listed (a writer switched and may have removed the generation listed), it is listed again. The
 * pointer only moves forward and a writer removes only generations older than the one it built on, so
 * a generation still current after its listing was complete throughout it.
 */
export function currentFiles(dataset: string): Generation & { files: string[] } {
  for (let attempt = 1; ; attempt++) {
    const generation = currentGeneration(dataset)
    const files = partitionFilesIn(generation.dir)
    const after = currentGeneration(dataset)
    if (after.generation === generation.generation) return { ...generation, files }
    if (attempt >= 20) throw new DataError(`${join(dataset, POINTER_FILE)} kept changing while the dataset was listed (${attempt} times); try again`)
  }
}

/** The period of a partition file path ("2024-03" or "2024"). */
export function periodOfFile(file: string): string {
  return /period=([^/\\]+)/.exec(file)![1]!
}

/** Generation numbers present in a dataset folder (0 when it holds period folders of the old layout). */
export function generationsIn(dataset: string): number[] {
  let names: string[]
  try {
    names = readdirSync(dataset)
  } catch {
    return []
  }
  const out = names.map((n) => GENERATION_NAME.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]))
  if (names.some((n) => n.startsWith('period='))) out.push(0)
  return out.sort((a, b) => a - b)
}

/** A generation's folders: gen=<n>, or for 0 the old layout's period folders. */
function generationFolders(dataset: string, generation: number): string[] {
  if (generation !== 0) return [generationDir(dataset, generation)]
  try {
    return readdirSync(dataset).filter((n) => n.startsWith('period=')).map((n) => join(dataset, n))
  } catch {
    return []
  }
}

/** Remove a generation's folders. */
export function removeGeneration(dataset: string, generation: number): string[] {
  const removed: string[] = []
  for (const target of generationFolders(dataset, generation)) {
    rmSync(target, { recursive: true, force: true })
    removed.push(target)
  }
  return removed
}

// ---- crash debris ----

export interface LakeDebris {
  path: string
  kind: 'temp' | 'lock' | 'generation'
  reason: string
}

/** `<file>.<pid>.<n>.tmp` (the lake's partition and quarantine temps) and writeFileAtomic's `.<name>.<pid>.<hex>.tmp`. */
const TEMP_NAMES = [/^.+\.(\d+)\.\d+\.tmp$/, /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/]
/** lock.ts's moved-aside stale locks: `<lock>.stale.<pid>.<ms>`. */
const LOCK_ASIDE = /\.lock\.stale\.(\d+)\.(\d+)$/
const STALE_LOCK_MS = 600_000
const ASIDE_MS = 60_000

/**
 * A temp file of another live pid found while holding the dataset's lock: a writer that lost the lock
 * (only possible by the age rule where /proc cannot tell) or a reused pid. It is the live writer's, and
 * kept, unless that process started after the file was last written (then the pid was reused). The 2 s
 * margin covers the clock's skew against /proc's boot time; a reuse that quick leaves the file for later.
 */
function reusedPid(pid: number, path: string): boolean {
  const started = processStartMs(pid)
  if (started === undefined) return true // no /proc: only the lock holder writes here (as before)
  try {
    return started > statSync(path).mtimeMs + 2000
  } catch {
    return false
  }
}

function tempPid(name: string): number | undefined {
  for (const re of TEMP_NAMES) {
    const m = re.exec(name)
    if (m !== null) return Number(m[1])
  }
  return undefined
}

/** Why a lock file is stale (lock.ts's rule: its owner is gone, or its pid was reused), or undefined while it is live. */
function staleLock(path: string): string | undefined {
  let info: LockInfo
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo
  } catch {
    try {
      return Date.now() - statSync(path).mtimeMs > 1000 ? 'unreadable lock file' : undefined
    } catch {
      return undefined
    }
  }
  return lockStaleReason(info, path.replace(/\.stale\.\d+\.\d+$/, ''), STALE_LOCK_MS)
}

/** As lock.ts breaks a stale lock (moved aside, judged again, put back if a live writer took it). */
function removeStaleLock(path: string): boolean {
  return removeLockIfStale(path, (aside) => staleLock(aside) !== undefined)
}

/**
 * Temp files of dead writers and stale locks anywhere under `dir` (walked to any depth). `locked`: the
 * caller holds the dataset's lock, so another process's temp file there is debris even if its pid is
 * alive now (pids are reused); only a writer holding the lock writes temps in a dataset.
 */
function fileDebris(dir: string, out: LakeDebris[], locked = false): void {
  let entries: import('node:fs').Dirent[]
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      fileDebris(path, out, locked)
      continue
    }
    const pid = tempPid(entry.name)
    if (pid !== undefined) {
      if (!pidAlive(pid)) out.push({ path, kind: 'temp', reason: `writer pid ${pid} is gone` })
      else if (locked && pid !== process.pid && reusedPid(pid, path)) out.push({ path, kind: 'temp', reason: `pid ${pid} does not hold the dataset's lock` })
      continue
    }
    const aside = LOCK_ASIDE.exec(entry.name)
    if (aside !== null) {
      if (Date.now() - Number(aside[2]) > ASIDE_MS) out.push({ path, kind: 'lock', reason: 'stale lock moved aside and left behind' })
      continue
    }
    if (entry.name.endsWith('.lock')) {
      const why = staleLock(path)
      if (why !== undefined) out.push({ path, kind: 'lock', reason: why })
    }
  }
}

/** Generations of a dataset nobody reads or writes: not current, not the one before it, not being built. */
function generationDebris(dataset: string, out: LakeDebris[]): void {
  let current: Generation
  try {
    current = currentGeneration(dataset)
  } catch {
    return // an unreadable pointer is reported by readers; its generations are not guessed at
  }
  const present = generationsIn(dataset)
  const previous = Math.max(-1, ...present.filter((g) => g < current.generation))
  const lock = join(dataset, DATASET_LOCK)
  const writing = existsSync(lock) && staleLock(lock) === undefined
  for (const g of present) {
    if (g === current.generation || g === previous) continue
    if (g > current.generation) {
      if (!writing) out.push({ path: generationDir(dataset, g), kind: 'generation', reason: `generation ${g} was never switched to (its writer stopped)` })
    } else {
      const reason = `generation ${g} was replaced by ${previous} and then ${current.generation}`
      for (const path of generationFolders(dataset, g)) out.push({ path, kind: 'generation', reason })
    }
  }
}

/** Every dataset folder of the lake (source=/symbol=/timeframe=). */
export function datasets(home: string): string[] {
  const out: string[] = []
  const root = lakeDir(home)
  const sub = (dir: string, prefix: string) => {
    try {
      return readdirSync(dir).filter((n) => n.startsWith(prefix)).map((n) => join(dir, n))
    } catch {
      return []
    }
  }
  for (const s of sub(root, 'source=')) for (const y of sub(s, 'symbol=')) out.push(...sub(y, 'timeframe='))
  return out
}

/**
 * Debris in the lake: temp files whose writer pid is gone, stale locks, and generations no reader
 * or writer can be using (the quarantine folders are walked for temps and locks too).
 */
export function lakeDebris(home: string): LakeDebris[] {
  const out: LakeDebris[] = []
  for (const dataset of datasets(home)) {
    fileDebris(dataset, out)
    generationDebris(dataset, out)
  }
  fileDebris(join(home, 'lake', 'quarantine'), out)
  fileDebris(join(home, 'lake', '.snapshots'), out) // loadBarsWithSnapshot's cache files' temps
  return out
}

/**
 * Datasets whose CURRENT pointer cannot be followed (not JSON, or naming a missing generation): what
 * readers and imports stop on. Listed for `mtflow doctor`, never repaired by guessing a generation.
 */
export function lakePointerProblems(home: string): { path: string; error: string }[] {
  const out: { path: string; error: string }[] = []
  for (const dataset of datasets(home)) {
    try {
      currentGeneration(dataset)
    } catch (error) {
      if (!(error instanceof DataError)) throw error
      out.push({ path: join(dataset, 'CURRENT'), error: error.message })
    }
  }
  return out
}

/**
 * Remove the lake's debris, each dataset under its write lock (a dataset being written now is left
 * alone). Returns the paths removed.
 */
export function removeLakeDebris(home: string): string[] {
  const removed: string[] = []
  for (const dataset of datasets(home)) {
    const lock = join(dataset, DATASET_LOCK)
    // A stale dataset lock is taken over (and so removed) by withLockSync; the rest is decided under it.
    const staleBefore = existsSync(lock) && staleLock(lock) !== undefined
    try {
      withLockSync(lock, () => removed.push(...removeDatasetDebris(dataset)), { waitMs: 0 })
      if (staleBefore) removed.push(lock)
    } catch (error) {
      if (!(error instanceof DataError)) throw error // held by a live writer: left alone
    }
  }
  const quarantine: LakeDebris[] = []
  fileDebris(join(home, 'lake', 'quarantine'), quarantine)
  for (const d of quarantine) {
    if (d.kind === 'lock' && !/\.stale\.\d+\.\d+$/.test(d.path)) {
      // A quarantine lock may have been taken by a live writer since it was listed: judged again, aside.
      if (removeStaleLock(d.path)) removed.push(d.path)
      continue
    }
    rmSync(d.path, { force: true })
    removed.push(d.path)
  }
  return removed
}

/** Debris of one dataset, removed; the caller holds the dataset's write lock. */
export function removeDatasetDebris(dataset: string): string[] {
  // The pointer first: one naming a missing generation stops the write here, before anything is removed.
  const current = currentGeneration(dataset)
  const found: LakeDebris[] = []
  fileDebris(dataset, found, true)
  const lock = join(dataset, DATASET_LOCK)
  const removed: string[] = []
  for (const d of found) {
    if (d.path === lock) continue // ours now
    rmSync(d.path, { force: true })
    removed.push(d.path)
  }
  const present = generationsIn(dataset)
  const previous = Math.max(-1, ...present.filter((g) => g < current.generation))
  for (const g of present) {
    if (g === current.generation || g === previous) continue
    removed.push(...removeGeneration(dataset, g))
  }
  return removed
}
