// Atomic file writes for the shared workspace: write a temp file beside the target, fsync it, rename it
// over the target, fsync the directory. Readers see the old file or the new one, never half of either.

import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join, sep } from 'node:path'
import { ConfigError } from './errors.js'

/**
 * `durable: false` skips the fsyncs: still atomic for readers, but a power cut may lose the write (for
 * records that can be rebuilt, such as a sweep's thousand child runs).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: { durable?: boolean } = {}): void {
  const durable = options.durable !== false
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true })
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  try {
    const fd = openSync(tmp, 'w', 0o644)
    try {
      let offset = 0
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
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
}

function syncDirectory(dir: string): void {
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
