// Finding a strategy: a built-in by name, or any module that exports one (its default export, or its
// only export that is a strategy). Modules load through the caller's loader — the CLI's require hook
// for TypeScript, import() elsewhere.

import { isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { existsSync, readFileSync } from 'node:fs'
import { ConfigError, installMtflowAlias, moduleDir, NotFoundError, sha256 } from '../core/index.js'
import { STRATEGIES } from './builtin/index.js'
import { bundleStrategy } from './bundle.js'
import type { Strategy } from './types.js'

export function getStrategy(name: string): Strategy<any> {
  const found = Object.prototype.hasOwnProperty.call(STRATEGIES, name) ? STRATEGIES[name] : undefined
  if (found === undefined) {
    // A registered version's ref (NAME@REF) is loaded from the registry: say so where a name or a file was expected.
    const ref = /^[A-Za-z][\w.-]*@[\w.-]+$/.test(name) ? `; a registered version is loaded with loadRegisteredStrategy(registry, ${JSON.stringify(name)}) (lib/strategy, a Registry of lib/track)` : ''
    throw new NotFoundError(`unknown strategy "${name}"; expected one of ${Object.keys(STRATEGIES).join(', ')}, or a .ts/.js file exporting one${ref}`)
  }
  return found
}

/** A built-in by name, or undefined. */
export function findStrategy(name: string): Strategy<any> | undefined {
  return Object.prototype.hasOwnProperty.call(STRATEGIES, name) ? STRATEGIES[name] : undefined
}

/** Whether a value has the shape of a Strategy (the checks a module's exports are held to). */
export function isStrategy(value: unknown): value is Strategy<any> {
  const s = value as Partial<Strategy<any>> | null
  return typeof s === 'object' && s !== null && typeof s.name === 'string' && typeof s.onBar === 'function' && typeof s.universe === 'function' && typeof s.warmup === 'function' && typeof s.params === 'object'
}

export function isStrategyFile(spec: string): boolean {
  return /\.(ts|mts|cts|js|mjs|cjs)$/.test(spec) || spec.includes('/') || spec.includes('\\')
}

export type ModuleLoader = (absolutePath: string) => unknown

/**
 * import(), or require where import() knows no .ts: lib loaded under a CommonJS hook (tslab's kernel, the
 * CLI's loader) has a TypeScript-aware require but no ESM hook, and import() of a .ts file there fails with
 * ERR_UNKNOWN_FILE_EXTENSION.
 */
async function importModule(path: string): Promise<unknown> {
  try {
    return await import(pathToFileURL(path).href)
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION' && typeof require === 'function') return require(path)
    throw error
  }
}

/** A built-in by name, or the strategy a module file exports. */
export async function loadStrategy(spec: string, load: ModuleLoader = importModule): Promise<{ strategy: Strategy<any>; file?: string }> {
  installMtflowAlias()
  if (!isStrategyFile(spec)) return { strategy: getStrategy(spec) }
  const file = isAbsolute(spec) ? spec : resolve(process.cwd(), spec)
  if (!existsSync(file)) throw new NotFoundError(`strategy file ${spec} does not exist`)
  let mod: Record<string, unknown>
  try {
    mod = (await load(file)) as Record<string, unknown>
  } catch (error) {
    throw new ConfigError(`strategy file ${spec} failed to load: ${loadError(error)}`, { cause: error })
  }
  return { strategy: pickStrategy(mod, spec), file }
}

/**
 * Why a module did not load, in one line: for a syntax error the compiler's first error with its place
 * (esbuild: "typo.ts:40:38: ERROR: Expected ">" but found "?"", the line after its "Transform failed with
 * 1 error:"), else the message's first line.
 */
export function loadError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const first = (error as Error & { errors?: { text?: unknown; location?: { file?: unknown; line?: unknown; column?: unknown } | null }[] }).errors?.[0]
  if (first !== undefined && typeof first.text === 'string') {
    const at = first.location
    return at === null || at === undefined ? first.text : `${String(at.file)}:${String(at.line)}:${String(at.column)}: ${first.text}`
  }
  const lines = error.message.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  return lines.find((l) => /\bERROR: /.test(l)) ?? lines[0] ?? error.name
}

/** The default export if it is a strategy, else the only exported strategy. */
export function pickStrategy(mod: Record<string, unknown>, label: string): Strategy<any> {
  const def = mod.default as Record<string, unknown> | undefined
  if (isStrategy(def)) return def
  // CommonJS interop: default may hold the named exports.
  const pool = { ...(def !== null && typeof def === 'object' ? def : {}), ...mod }
  const found = Object.entries(pool).filter(([, v]) => isStrategy(v)) as [string, Strategy<any>][]
  const unique = [...new Map(found.map(([k, v]) => [v, k])).entries()]
  if (unique.length === 1) return unique[0]![0]
  if (unique.length === 0) throw new ConfigError(`${label} exports no strategy (an object with name, params, universe, warmup and onBar)`)
  throw new ConfigError(`${label} exports several strategies (${unique.map(([, k]) => k).join(', ')}); make one the default export`)
}

export interface StrategySource {
  name: string
  /** The file the source came from; undefined for a strategy defined in code (a notebook cell). */
  file?: string
  source: string
  sha256: string
  builtin: boolean
  /** Whether `source` is a bundle of the file and its local imports (lib/strategy/bundle.ts). */
  bundled?: boolean
  /** A bundle's local files, relative to the entry's folder (the entry first). */
  inputs?: string[]
}

/**
 * A strategy's source and its content hash (lineage and the registry): for a strategy file, the file
 * bundled with the local files it imports (its own text when it imports none), so the hash covers what
 * runs; for a built-in its module under lib/strategy/builtin/; else the text of its functions and params.
 */
export function strategySource(strategy: Strategy<any>, file?: string): StrategySource {
  const builtin = STRATEGIES[strategy.name] === strategy
  if (file !== undefined && !builtin) {
    const bundle = bundleStrategy(file)
    return { name: strategy.name, file, source: bundle.source, sha256: bundle.sha256, builtin, bundled: bundle.bundled, inputs: bundle.inputs }
  }
  let path = file
  if (path === undefined && builtin) {
    const dir = join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'builtin')
    path = [`${strategy.name}.ts`, `${strategy.name}.js`].map((f) => join(dir, f)).find((f) => existsSync(f))
  }
  if (path !== undefined) {
    const source = readFileSync(path, 'utf8')
    return { name: strategy.name, file: path, source, sha256: sha256(source), builtin }
  }
  const parts: string[] = [`// strategy ${strategy.name} (defined in code)`, `params = ${JSON.stringify(strategy.params, null, 2)}`]
  for (const [key, value] of Object.entries(strategy)) if (typeof value === 'function') parts.push(`${key} = ${value.toString()}`)
  const source = `${parts.join('\n\n')}\n`
  return { name: strategy.name, source, sha256: sha256(source), builtin }
}
