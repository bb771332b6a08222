// A strategy as it travels in a job: a built-in's name, or a file's path, its source and the source's
// hash. A worker loads the file where it is when the bytes there hash the same; elsewhere (another
// machine, a changed file) it writes the source it was sent to a folder named by the hash and loads that
// — so a strategy file with no relative imports runs on any worker, and a worker never runs a source
// other than the submitter's.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { ConfigError, errorMessage, sha256 } from '../core/index.js'
import { findStrategy, getStrategy, isStrategyFile, pickStrategy } from './load.js'
import type { Strategy } from './types.js'

export type StrategyRef = { builtin: string } | { file: string; sha256: string; source: string }

/** The ref of a built-in (by name) or of a strategy file (read now). */
export function strategyRef(spec: string): StrategyRef {
  if (!isStrategyFile(spec)) {
    getStrategy(spec)
    return { builtin: spec }
  }
  const file = resolve(spec)
  const source = readFileSync(file, 'utf8')
  return { file, sha256: sha256(source), source }
}

/** The ref of a loaded strategy, when it can cross threads: a built-in, or one loaded from a file. */
export function strategyRefOf(strategy: Strategy<any>, file?: string): StrategyRef | undefined {
  if (file !== undefined) return strategyRef(file)
  return findStrategy(strategy.name) === strategy ? { builtin: strategy.name } : undefined
}

/** What the ref names, loaded in this thread (a file through the thread's require hook). */
export function loadStrategyRef(ref: StrategyRef): Strategy<any> {
  if ('builtin' in ref) return getStrategy(ref.builtin)
  const here = existsSync(ref.file) && sha256(readFileSync(ref.file, 'utf8')) === ref.sha256
  let path = ref.file
  if (!here) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}\.(ts|mts|cts|js|mjs|cjs)$/.test(basename(ref.file))) throw new ConfigError(`strategy file name ${JSON.stringify(basename(ref.file).slice(0, 100))} is not a .ts/.js file name`)
    if (sha256(ref.source) !== ref.sha256) throw new ConfigError(`strategy ${basename(ref.file)}: the source sent does not match its hash`)
    const dir = join(tmpdir(), 'mtflow-strategies', ref.sha256)
    path = join(dir, basename(ref.file))
    if (!existsSync(path)) {
      mkdirSync(dir, { recursive: true })
      writeFileSync(path, ref.source)
    }
  }
  try {
    return pickStrategy(createRequire(path)(path) as Record<string, unknown>, basename(ref.file))
  } catch (error) {
    throw new ConfigError(`strategy file ${ref.file} failed to load${here ? '' : ' (from the source sent with the job)'}: ${errorMessage(error)}`)
  }
}
