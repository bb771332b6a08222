// The workspace's API token: generated on first use into MTFLOW_HOME/server-token (mode 0600, created
// exclusively, so two servers starting at once agree on one), printed by `mtflow serve` inside its login
// URL. A token file that is empty, short, not a regular file, or readable by group or others is refused
// at start: a token that others can read (or guess) protects nothing.

import { randomBytes, timingSafeEqual } from 'node:crypto'
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../core/index.js'

/** Shortest token accepted from the file (a generated one has 32 characters: 24 random bytes). */
export const MIN_TOKEN_LENGTH = 32

export function workspaceToken(home: string): string {
  const file = join(home, 'server-token')
  const existing = readTokenFile(file)
  if (existing !== undefined) return existing
  mkdirSync(home, { recursive: true })
  const token = randomBytes(24).toString('base64url')
  try {
    writeFileSync(file, `${token}\n`, { flag: 'wx', mode: 0o600 })
    return token
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error
    return readTokenFile(file)!
  }
}

/** The token in the file, checked; undefined when there is no file yet. */
function readTokenFile(file: string): string | undefined {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'ENOENT') return undefined
    if (code === 'ELOOP') throw new ConfigError(`${file} is a symbolic link; the token file must be a regular file (delete it and a new token is generated)`)
    throw error
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new ConfigError(`${file} is not a regular file (delete it and a new token is generated)`)
    if ((st.mode & 0o077) !== 0) throw new ConfigError(`${file} is readable or writable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); run chmod 600 ${file}, or delete it and a new token is generated`)
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new ConfigError(`${file} belongs to another user (uid ${st.uid}); the token file must be yours`)
    const bytes = Buffer.alloc(Math.min(st.size, 4096))
    const n = readSync(fd, bytes, 0, bytes.length, 0)
    const token = bytes.toString('utf8', 0, n).trim()
    if (token === '') throw new ConfigError(`${file} is empty; delete it and a new token is generated`)
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) throw new ConfigError(`${file} holds a ${token.length}-character token; at least ${MIN_TOKEN_LENGTH} characters without spaces are needed (delete it and a new token is generated)`)
    return token
  } finally {
    closeSync(fd)
  }
}

/** Whether an Authorization header carries the token (compared in constant time). */
export function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  if (m === null) return false
  const given = Buffer.from(m[1]!)
  const want = Buffer.from(token)
  return given.length === want.length && timingSafeEqual(given, want)
}
