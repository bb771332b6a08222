// Atomic file writes for the shared workspace: write a temp file beside the target, fsync it, rename it
// over the target, fsync the directory. Readers see the old file or the new one, never half of either.
// Each write also clears its target's temp files left by writers that were killed mid-write.

import { close, closeSync, constants, existsSync, fstatSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writev, writevSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join, resolve as resolvePath, sep } from 'node:path'
import { isDeadTemp } from './debris.js'
import { ConfigError } from './errors.js'

/**
 * `data` is text, bytes, or the file's pieces in order (written with writev, never joined in memory).
 * `durable: false` skips the fsyncs: still atomic for readers, but a power cut may lose the write (for
 * records that can be rebuilt, such as a sweep's thousand child runs).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[], options: { durable?: boolean } = {}): void {
  const { durable, dir, base, tmpName, tmp, pieces } = atomicWrite(path, data, options)
  try {
    const fd = openSync(tmp, 'w', 0o644)
    try {
      writePieces(fd, pieces)
      if (durable) fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (error) {
    rmSync(tmp, { force: true })
    throw error
  }
  if (durable) syncDirectory(dir)
  removeDeadTemps(dir, base, tmpName)
}

/** An atomic write's target folder (made), its temp file beside the target, and the data as pieces. */
function atomicWrite(path: string, data: string | Uint8Array | readonly Uint8Array[], options: { durable?: boolean }): { durable: boolean; dir: string; base: string; tmpName: string; tmp: string; pieces: readonly Uint8Array[] } {
  const dir = dirname(path)
  makeDirs(dir)
  const base = basename(path)
  const tmpName = `.${base}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  return { durable: options.durable !== false, dir, base, tmpName, tmp: join(dir, tmpName), pieces: piecesOf(data) }
}

/** Text, bytes or pieces as the pieces of a file, in order. */
export function piecesOf(data: string | Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data
}

/** The most buffers one writev takes (Linux's IOV_MAX). */
const IOV_MAX = 1024

/**
 * Where a write of `pieces` stands: the next batch for one writev (at most IOV_MAX buffers, empty pieces
 * left out, starting inside a piece after a short write) and what a writev's byte count moves past.
 */
function pieceCursor(pieces: readonly Uint8Array[]): { batch(): Uint8Array[] | undefined; advance(written: number, asked: Uint8Array[]): void } {
  let i = 0
  let done = 0 // bytes of pieces[i] already written
  const skipEmpty = () => {
    while (i < pieces.length && pieces[i]!.length === done) {
      i++
      done = 0
    }
  }
  skipEmpty()
  return {
    batch() {
      if (i >= pieces.length) return undefined
      const batch: Uint8Array[] = []
      for (let k = i; k < pieces.length && batch.length < IOV_MAX; k++) {
        const piece = k === i ? pieces[k]!.subarray(done) : pieces[k]!
        if (piece.length > 0) batch.push(piece)
      }
      return batch
    },
    advance(written, asked) {
      if (!(written > 0)) throw new Error(`write of ${asked.reduce((n, b) => n + b.length, 0)} bytes wrote nothing`)
      while (written > 0) {
        const left = pieces[i]!.length - done
        if (written >= left) {
          written -= left
          i++
          done = 0
        } else {
          done += written
          written = 0
        }
      }
      skipEmpty()
    },
  }
}

/**
 * Write `pieces` one after the other at the file's position, with as few writev calls as the kernel
 * allows: a short write (the kernel may write less than asked) continues where it stopped, inside a
 * piece if need be. `write` (writev) is replaceable for tests of short writes.
 */
export function writePieces(fd: number, pieces: readonly Uint8Array[], write: (fd: number, buffers: readonly Uint8Array[]) => number = writevSync): void {
  const cursor = pieceCursor(pieces)
  for (let batch = cursor.batch(); batch !== undefined; batch = cursor.batch()) cursor.advance(write(fd, batch), batch)
}

/** writePieces with each writev in libuv's thread pool. */
export async function writePiecesAsync(fd: number, pieces: readonly Uint8Array[], write: (fd: number, buffers: readonly Uint8Array[]) => Promise<number> = writevAsync): Promise<void> {
  const cursor = pieceCursor(pieces)
  for (let batch = cursor.batch(); batch !== undefined; batch = cursor.batch()) cursor.advance(await write(fd, batch), batch)
}

const writevAsync = (fd: number, buffers: readonly Uint8Array[]) => new Promise<number>((resolve, reject) => writev(fd, buffers as Uint8Array[], (error, written) => (error === null ? resolve(written) : reject(error))))
const fsyncAsync = (fd: number) => new Promise<void>((resolve, reject) => fsync(fd, (error) => (error === null ? resolve() : reject(error))))
const closeAsync = (fd: number) => new Promise<void>((resolve, reject) => close(fd, (error) => (error === null || error === undefined ? resolve() : reject(error))))

/**
 * writeFileAtomic whose writes and fsync run in libuv's thread pool: the first writev is handed to the
 * pool before this returns, so the caller's thread goes on (a tracked backtest encodes its next table,
 * hashes this one) while the kernel copies the bytes. The same temp file, rename, directory fsync and
 * cleanup of dead temps. The pieces must not change until the promise settles.
 */
export async function writeFileAtomicAsync(path: string, data: string | Uint8Array | readonly Uint8Array[], options: { durable?: boolean } = {}): Promise<void> {
  const { durable, dir, base, tmpName, tmp, pieces } = atomicWrite(path, data, options)
  try {
    // Opened here, not in the pool: the first writev is queued before the caller's thread moves on. A
    // durable write opens the file O_DSYNC, so each writev returns with its bytes on disk in the same pool
    // job (fdatasync's guarantee): an fsync after it would wait for this thread to come back to the event
    // loop. Where there is no O_DSYNC (Windows), the file is fsync'd after its writes.
    const dsync = durable && typeof constants.O_DSYNC === 'number'
    const fd = openSync(tmp, dsync ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC : 'w', 0o644)
    try {
      await writePiecesAsync(fd, pieces)
      if (durable && !dsync) await fsyncAsync(fd)
    } catch (error) {
      // The write's error, not the close's.
      await closeAsync(fd).catch(() => undefined)
      throw error
    }
    await closeAsync(fd)
    renameSync(tmp, path)
  } catch (error) {
    rmSync(tmp, { force: true })
    throw error
  }
  if (durable) await syncDirectoryAsync(dir)
  removeDeadTemps(dir, base, tmpName)
}

/** syncDirectory with the fsync in the thread pool (the folder's journal commit waits there, not here). */
async function syncDirectoryAsync(dir: string): Promise<void> {
  let fd: number
  try {
    fd = openSync(dir, 'r')
  } catch {
    return // best effort, as syncDirectory
  }
  try {
    await fsyncAsync(fd)
  } catch {
    /* best effort: some filesystems refuse fsync on a directory; the rename is still atomic */
  } finally {
    await closeAsync(fd).catch(() => undefined)
  }
}

/**
 * Temp files of this target whose writer is gone (killed between creating and renaming them) are removed,
 * so a crash leaves nothing behind once the file is written again. Costs one directory listing: ~8 µs in a
 * run folder; ~5 ms in an experiment folder of 10,000 runs, whose only writer here is the index compaction
 * that rewrites all 10,000 runs anyway. Best effort: a failed cleanup never fails the write.
 */
function removeDeadTemps(dir: string, base: string, own: string): void {
  const prefix = `.${base}.`
  try {
    for (const name of readdirSync(dir)) {
      if (name === own || !name.startsWith(prefix) || !TEMP_TAIL.test(name.slice(prefix.length))) continue
      const file = join(dir, name)
      if (isDeadTemp(file)) rmSync(file, { force: true })
    }
  } catch {
    /* best effort */
  }
}
/** What follows `.<base>.` in writeFileAtomic's temp name: `<pid>.<hex>.tmp`. */
const TEMP_TAIL = /^\d+\.[0-9a-f]+\.tmp$/

/** Flush a folder's entries, making a rename in it durable (best effort: some filesystems refuse). */
export function syncDirectory(dir: string): void {
  // Makes the rename durable. Some filesystems refuse fsync on a directory; the rename is still atomic.
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    /* best effort */
  }
}

/**
 * `relative` resolved inside `root`, or a ConfigError: absolute paths, ".." segments, backslashes, NUL
 * and percent-encoded forms of any of them are refused (decoded repeatedly, so %252e%252e is caught too).
 */
export function resolveInside(root: string, relative: string, what = 'path'): string {
  let text = relative
  for (let i = 0; i < 4 && /%[0-9a-f]{2}/i.test(text); i++) {
    try {
      text = decodeURIComponent(text)
    } catch {
      throw new ConfigError(`${what} ${JSON.stringify(relative)} is not a valid encoded path`)
    }
  }
  const segments = text.split('/')
  if (
    text === '' ||
    text.includes('\\') ||
    text.includes('\0') ||
    text.startsWith('/') ||
    /^[a-zA-Z]:/.test(text) ||
    segments.some((s) => s === '..' || s === '.' || s === '')
  ) {
    throw new ConfigError(`${what} ${JSON.stringify(relative)} must be a relative path inside the workspace ("/"-separated, no "..", no backslash)`)
  }
  const full = join(root, ...segments)
  if (!full.startsWith(join(root) + sep)) throw new ConfigError(`${what} ${JSON.stringify(relative)} leaves its folder`)
  return full
}

// Small input files read whole (orders, signals, caps, weights, positions): a file that is not a regular file,
// is too big or cannot be read is one ConfigError naming it.
/** The text of `file` (a BOM dropped), at most `maxBytes` bytes; `what` names it in errors ("caps file"). */
export function readTextFile(file: string, what: string, maxBytes: number): string {
  return textOf(readFileCapped(file, what, maxBytes))
}

/** Bytes as text: UTF-8, a leading BOM dropped (what readTextFile returns for the file's bytes). */
export function textOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8').replace(/^\uFEFF/, '')
}

/** The bytes of `file` as readTextFile reads them (one descriptor, a regular file, at most `maxBytes`). */
export function readFileCapped(file: string, what: string, maxBytes: number): Buffer {
  let fd: number | undefined
  try {
    // Checked and read through one descriptor, at most maxBytes + 1 bytes of it: a file swapped for a bigger
    // one between a stat and a read (an attack review) is refused as too big, not read whole. Opened
    // non-blocking, so a FIFO is refused instead of waiting for a writer.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
    const st = fstatSync(fd)
    if (!st.isFile()) throw new ConfigError(`${what} ${file} is not a regular file`)
    if (st.size > maxBytes) throw new ConfigError(`${what} ${file} is ${st.size} bytes; expected at most ${maxBytes}`)
    // Room for what the stat said (and a byte to see growth), grown as needed up to maxBytes + 1: a cap of 512 MiB
    // set aside in full for a 7-byte file (a review) cost 100 ms and 514 MiB over 50 reads.
    let buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(st.size + 1, 64 * 1024)))
    let length = 0
    for (;;) {
      if (length === buffer.length) {
        if (buffer.length > maxBytes) break
        const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, buffer.length * 2))
        buffer.copy(grown, 0, 0, length)
        buffer = grown
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null)
      if (n === 0) break
      length += n
    }
    if (length > maxBytes) throw new ConfigError(`${what} ${file} grew past ${maxBytes} bytes while it was read; expected at most ${maxBytes}`)
    return buffer.subarray(0, length)
  } catch (error) {
    if (error instanceof ConfigError) throw error
    const code = (error as { code?: string }).code
    throw new ConfigError(`${what} ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(error)})`}`, { cause: error })
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * mkdir -p, a folder at a time from the nearest one that exists: Node 20's recursive mkdir loops for ever
 * below /proc (`--dir /proc/nope` hung a command at full CPU, a new-user check); this fails at once there.
 */
export function makeDirs(dir: string): void {
  if (existsSync(dir)) return
  const missing: string[] = []
  let at = resolvePath(dir)
  while (!existsSync(at)) {
    missing.push(at)
    const up = dirname(at)
    if (up === at) break
    at = up
  }
  for (let k = missing.length - 1; k >= 0; k--) {
    try {
      mkdirSync(missing[k]!)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // Made meanwhile by another process: fine when it is a folder; a dangling link there is said here.
      if (code === 'EEXIST' && isFolder(missing[k]!)) continue
      if (code === 'EEXIST') throw new ConfigError(`cannot make the folder ${missing[k]}: a file or a broken link is there`)
      throw error
    }
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
