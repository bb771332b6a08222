// A module file as it travels in a job (an objective, a strategy): its path, its source and the source's
// hash. A worker loads the file where it is when the bytes there hash the same; elsewhere (another
// machine, a changed file) it writes the source it was sent to a folder named by the hash and loads that
// — a module without relative imports runs on any worker, and a worker never runs another source.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { ConfigError, errorMessage, sha256 } from '../core/index.js'

export interface ModuleRef {
  file: string
  sha256: string
  source: string
}

export function moduleRef(file: string): ModuleRef {
  const path = resolve(file)
  const source = readFileSync(path, 'utf8')
  return { file: path, sha256: sha256(source), source }
}

/** The module's exports, loaded in this thread (through its require hook). */
export function loadModuleRef(ref: ModuleRef, what = 'module'): Record<string, unknown> {
  const here = existsSync(ref.file) && sha256(readFileSync(ref.file, 'utf8')) === ref.sha256
  let path = ref.file
  if (!here) {
    const name = basename(ref.file)
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}\.(ts|mts|cts|js|mjs|cjs)$/.test(name)) throw new ConfigError(`${what} file name ${JSON.stringify(name.slice(0, 100))} is not a .ts/.js file name`)
    if (sha256(ref.source) !== ref.sha256) throw new ConfigError(`${what} ${name}: the source sent does not match its hash`)
    const dir = join(tmpdir(), 'mtflow-modules', ref.sha256)
    path = join(dir, name)
    if (!existsSync(path)) {
      mkdirSync(dir, { recursive: true })
      writeFileSync(path, ref.source)
    }
  }
  try {
    return createRequire(path)(path) as Record<string, unknown>
  } catch (error) {
    throw new ConfigError(`${what} file ${ref.file} failed to load${here ? '' : ' (from the source sent with the job)'}: ${errorMessage(error)}`)
  }
}
