// Lineage: what a run used, by content hash (DESIGN: any result can be reproduced), the project's git
// commit, and canonical hashes of parameters. The tracker stores a Lineage in run.json and mirrors it into
// mtflow.* tags; the backtest and notebook layers build one without importing the tracker.

import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { sha256 } from './hash.js'
import { findProjectRoot } from './workspace.js'

/** What a run read and ran: content hashes that make the result reproducible (DESIGN: lineage). */
export interface Lineage {
  /** The data snapshots read: a name (e.g. "binance/BTC/USDT/1h") and the sha256 of exactly those bars. */
  data?: { name: string; sha256: string }[]
  /** The strategy's source: name, sha256 of its source text, the file it came from. */
  strategy?: { name: string; sha256: string; file?: string }
  notebook?: { path: string; sha256: string }
  /** sha256 of the parameters as canonical JSON (sorted keys). */
  paramsSha256?: string
  /** The project's git commit, when the project is a git checkout. */
  gitCommit?: string
  /** How many runs of the same strategy source (same sha256) the workspace had when this run started. */
  strategyPriorRuns?: number
  /** The runs a pipeline step read (earlier steps' run ids). */
  runs?: string[]
}

/** sha256 of the parameters as JSON with sorted keys: the same set hashes the same in any order. */
export function paramsHash(params: Readonly<Record<string, unknown>>): string {
  return sha256(canonicalJson(params))
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/**
 * The commit checked out in the git repository containing `dir` (default: the mtflow project, else the
 * current folder), read from .git without running git; undefined outside a repository. Uncommitted
 * changes are not detected: the strategy and notebook hashes cover those.
 */
export function gitCommit(dir?: string): string | undefined {
  const gitDir = findGitDir(dir ?? findProjectRoot(process.cwd()) ?? process.cwd())
  if (gitDir === undefined) return undefined
  try {
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim()
    if (/^[0-9a-f]{40}$/.test(head)) return head
    const ref = /^ref: (.+)$/.exec(head)?.[1]
    if (ref === undefined) return undefined
    // A worktree's refs live in the common dir.
    const common = existsSync(join(gitDir, 'commondir')) ? resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim()) : gitDir
    for (const base of [gitDir, common]) {
      const loose = join(base, ref)
      if (existsSync(loose)) return readFileSync(loose, 'utf8').trim()
    }
    const packed = join(common, 'packed-refs')
    if (existsSync(packed)) {
      for (const line of readFileSync(packed, 'utf8').split('\n')) {
        const [sha, name] = line.split(' ')
        if (name === ref && sha !== undefined && /^[0-9a-f]{40}$/.test(sha)) return sha
      }
    }
  } catch {
    /* unreadable: no commit */
  }
  return undefined
}

function findGitDir(from: string): string | undefined {
  let dir = resolve(from)
  for (;;) {
    const candidate = join(dir, '.git')
    if (existsSync(candidate)) {
      if (statSync(candidate).isDirectory()) return candidate
      const pointer = /^gitdir: (.+)$/m.exec(readFileSync(candidate, 'utf8'))?.[1]?.trim()
      if (pointer !== undefined) return isAbsolute(pointer) ? pointer : resolve(dir, pointer)
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}
