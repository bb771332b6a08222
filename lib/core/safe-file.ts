// Reading a stored file that mtflow serves or copies (run artifacts, registry files): never through a
// symbolic link, never from outside its folder, and only with the content that was recorded for it.
// The checks are made on the descriptor actually opened (O_NOFOLLOW, then the kernel's own name for it in
// /proc/self/fd), so swapping a folder for a link between the check and the open gains nothing.

import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, realpathSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { DataError, NotFoundError } from './errors.js'
import { resolveInside } from './fs.js'
import { sha256 } from './hash.js'

export type IntegrityProblem = 'link' | 'outside' | 'not-file' | 'sha256'

/**
 * A stored file that is not what was recorded: reached through a symbolic link, outside its folder, not a
 * regular file, or with other content than its recorded sha256. "Bad data" for the CLI (exit 2); the
 * server answers 403 (link, outside) or 409 (content changed).
 */
export class FileIntegrityError extends DataError {
  constructor(
    message: string,
    readonly problem: IntegrityProblem,
    readonly file: string,
  ) {
    super(message)
  }
}

export interface ReadInsideOptions {
  /** The folder the file must stay in; symbolic links are refused from here down (default: `root`). */
  within?: string
  /** The recorded sha256 (64 hex digits): other content, or a malformed hash ("" for none), is a FileIntegrityError naming the file. */
  sha256?: string
  /** How the file is named in messages ("artifact trades.csv of run …"). */
  what?: string
  /**
   * Read only the first this many bytes (a preview of a large file), by the same rules but for the
   * sha256, which needs the whole file: it cannot be given with this (a caller says its bytes are unchecked).
   */
  prefixBytes?: number
}

/**
 * The bytes of `relativePath` under `root` (a "/"-separated path, checked by resolveInside first). Every
 * component from `within` (default `root`) down must be a real folder or, last, a regular file: a
 * symbolic link anywhere below it is refused, as is a file whose real path is not inside `within`.
 */
export function readFileInside(root: string, relativePath: string, options: ReadInsideOptions = {}): Buffer {
  const what = options.what ?? JSON.stringify(relativePath)
  if (options.prefixBytes !== undefined && options.sha256 !== undefined) throw new Error('readFileInside: prefixBytes reads part of a file, which no sha256 can check')
  const file = resolveInside(root, relativePath, 'path')
  const within = options.within ?? root
  checkComponents(within, file, what)
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'ELOOP') throw new FileIntegrityError(`${what} is a symbolic link (${file}); mtflow serves and copies no file through a link`, 'link', file)
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`${what} does not exist (${file})`)
    throw error
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new FileIntegrityError(`${what} is not a regular file (${file})`, 'not-file', file)
    const opened = openedPath(fd)
    if (opened !== undefined && !isInside(realOf(within), opened)) {
      throw new FileIntegrityError(`${what} resolves outside its folder (${opened}); refused`, 'outside', file)
    }
    const bytes = Buffer.allocUnsafe(options.prefixBytes === undefined ? st.size : Math.min(st.size, options.prefixBytes))
    let got = 0
    while (got < bytes.length) {
      const n = readSync(fd, bytes, got, bytes.length - got, got)
      if (n === 0) break
      got += n
    }
    const data = got === bytes.length ? bytes : bytes.subarray(0, got)
    if (options.sha256 !== undefined) {
      // A record without a proper hash (hand-edited, truncated) vouches for nothing: refused, not skipped.
      if (!/^[0-9a-f]{64}$/.test(options.sha256)) throw new FileIntegrityError(`${what} has no valid recorded sha256 (${JSON.stringify(options.sha256.slice(0, 80))}); refused (${file})`, 'sha256', file)
      const actual = sha256(data)
      if (actual !== options.sha256) {
        throw new FileIntegrityError(`${what} has changed since it was recorded: sha256 ${actual.slice(0, 16)}… on disk, ${options.sha256.slice(0, 16)}… recorded (${file})`, 'sha256', file)
      }
    }
    return data
  } finally {
    closeSync(fd)
  }
}

/** lstat each component below `within`: a link anywhere (a folder swapped for a link to /etc) is refused. */
function checkComponents(within: string, file: string, what: string): void {
  const rel = relative(within, file)
  if (rel === '' || rel.startsWith('..') || rel.startsWith(sep)) throw new FileIntegrityError(`${what} is not inside ${within}`, 'outside', file)
  let at = within
  for (const part of rel.split(sep)) {
    at = join(at, part)
    let st
    try {
      st = lstatSync(at)
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`${what} does not exist (${file})`)
      throw error
    }
    if (st.isSymbolicLink()) {
      const how = at === file ? 'is a symbolic link' : `goes through a symbolic link (${at})`
      throw new FileIntegrityError(`${what} ${how}; mtflow serves and copies no file through a link`, 'link', file)
    }
  }
}

/** The path the kernel holds for an open descriptor (Linux); undefined where /proc is not mounted. */
function openedPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return undefined
  }
}

function realOf(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

function isInside(folder: string, path: string): boolean {
  return path.startsWith(folder.endsWith(sep) ? folder : folder + sep)
}
