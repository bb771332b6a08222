// The project's version as a worker compares it: package.json's version and a hash of every source file
// under lib/, so a worker whose code differs in any way refuses the submitter's jobs (results must be
// the same bit for bit whichever machine computes them).

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { moduleDir } from '../core/index.js'

let cached: string | undefined

/** The project's root (the folder holding package.json and lib/). */
export function projectRoot(): string {
  return join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), '..', '..')
}

/** "0.1.0+3f9a1c2b7d4e": package.json's version, then 12 hex of the sources' hash. */
export function projectVersion(): string {
  cached ??= sourcesVersion()
  return cached
}

/**
 * The version of the sources on disk now, read again (about 25 ms): job threads load lib/ lazily, so a
 * worker whose sources changed after it started (a `git pull` without a restart) runs the new code under
 * the version it started with (worker.ts compares the two).
 */
export function sourcesVersion(): string {
  const root = projectRoot()
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }
  const hash = createHash('sha256')
  const walk = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path, `${rel}${entry.name}/`)
      else if (/\.(ts|cts|mts|cjs|js|mjs|json)$/.test(entry.name)) {
        hash.update(`${rel}${entry.name}\0`)
        hash.update(readFileSync(path))
        hash.update('\0')
      }
    }
  }
  walk(join(root, 'lib'), 'lib/')
  return `${pkg.version ?? '0.0.0'}+${hash.digest('hex').slice(0, 12)}`
}
