// The bare specifier `mtflow` for code mtflow loads (strategy files, objectives, registered strategy
// bundles): `import { defineStrategy, … } from 'mtflow'` gets this project's lib/index.ts, and
// `mtflow/lib/…` one of its files (plain paths under lib/ only: no `..`). Installed once per process —
// by the CLI and the worker threads before any user code (lib/cli/alias.cjs), and by every loader of
// strategy and objective files, so a notebook, a test or a library caller resolves it too.

import { createRequire } from 'node:module'
import { join } from 'node:path'
import { moduleDir } from './workspace.js'

const LIB = join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), '..')
const INSTALLED = Symbol.for('mtflow.alias')

/** The file a `mtflow` or `mtflow/lib/…` specifier names, or undefined for any other specifier. */
export function aliasTarget(request: string): string | undefined {
  if (request === 'mtflow') return join(LIB, 'index.ts')
  if (!request.startsWith('mtflow/lib/')) return undefined
  const rest = request.slice('mtflow/lib/'.length)
  if (rest === '' || rest.split('/').some((s) => s === '' || s === '.' || s === '..' || s.includes('\\'))) return undefined
  return join(LIB, ...rest.split('/'))
}

export function installMtflowAlias(): void {
  const Module = createRequire(join(LIB, 'core', 'module-alias.ts'))('node:module') as { _resolveFilename: (request: unknown, ...rest: unknown[]) => string } & Record<symbol, unknown>
  if (Module[INSTALLED] === true) return
  Module[INSTALLED] = true
  const resolve = Module._resolveFilename
  Module._resolveFilename = function (this: unknown, request: unknown, ...rest: unknown[]) {
    const target = typeof request === 'string' ? aliasTarget(request) : undefined
    return resolve.call(this, target === undefined ? request : target, ...rest)
  }
}
