// The workspace's API token: generated on first use into MTFLOW_HOME/server-token (mode 0600, created
// exclusively, so two servers starting at once agree on one), printed by `mtflow serve`. Every mutating
// endpoint requires `Authorization: Bearer <token>`.

import { randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function workspaceToken(home: string): string {
  const file = join(home, 'server-token')
  try {
    const existing = readFileSync(file, 'utf8').trim()
    if (existing.length >= 32) return existing
  } catch {
    /* none yet */
  }
  mkdirSync(home, { recursive: true })
  const token = randomBytes(24).toString('base64url')
  try {
    writeFileSync(file, `${token}\n`, { flag: 'wx', mode: 0o600 })
    return token
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error
    return readFileSync(file, 'utf8').trim()
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
