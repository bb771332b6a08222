// One self-contained source for a strategy file: the file and every local module it imports, bundled by
// esbuild (ESM, packages left as imports), with imports of this project's lib/ rewritten to the bare
// `mtflow` (lib/index) or `mtflow/lib/…` — specifiers the CLI's loader resolves on any machine with mtflow
// (lib/cli/alias.cjs). The registry stores it, and a run's lineage hashes it: the hash covers what runs.

import { existsSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { ConfigError, moduleDir, sha256 } from '../core/index.js'

export interface StrategyBundle {
  /** The bundle, or the file's own text when it imports nothing local (nothing to bundle). */
  source: string
  sha256: string
  /** Whether the source is a bundle (false: the file as it is). */
  bundled: boolean
  /** The local files it holds, relative to the entry's folder (the entry first). */
  inputs: string[]
}

interface EsbuildMessage {
  text: string
  location?: { file: string; line: number } | null
}
interface EsbuildApi {
  buildSync(options: Record<string, unknown>): {
    outputFiles: { text: string }[]
    metafile: { inputs: Record<string, unknown>; outputs: Record<string, { imports: { path: string; external?: boolean }[] }> }
  }
}

const HERE = moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack)
/** This project's lib/ (this file is lib/strategy/bundle.ts). */
const LIB = resolve(HERE, '..')
const EXTENSIONS = ['', '.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '/index.ts', '/index.js']

/** esbuild, loaded on first use (tsx's dependency; notebooks and most commands never need it). */
let esbuild: EsbuildApi | undefined
function loadEsbuild(): EsbuildApi {
  esbuild ??= createRequire(join(HERE, 'bundle.ts'))('esbuild') as EsbuildApi
  return esbuild
}

/** The bare specifier for a file of this project's lib/, or undefined for a file elsewhere. */
export function libSpecifier(file: string): string | undefined {
  const stems = /\.[cm]?js$/.test(file) ? [file.replace(/js$/, 'ts'), file] : [file]
  let found: string | undefined
  for (const stem of stems) {
    for (const ext of EXTENSIONS) {
      if (found === undefined && existsSync(stem + ext) && statSync(stem + ext).isFile()) found = stem + ext
    }
  }
  const path = found ?? file
  if (!path.startsWith(LIB + sep)) return undefined
  const rel = relative(LIB, path).split(sep).join('/')
  return rel === 'index.ts' || rel === 'index.js' ? 'mtflow' : `mtflow/lib/${rel}`
}

/**
 * The strategy file with its local imports inlined: esbuild with bundle, platform node, format ESM,
 * packages external and this project's lib/ external (then renamed to `mtflow`). Paths in the bundle's
 * comments are relative to the entry's folder, so the same files give the same bundle on any machine.
 */
export function bundleStrategy(file: string): StrategyBundle {
  const entry = resolve(file)
  const dir = dirname(entry)
  const text = readFileSync(entry, 'utf8')
  let built: ReturnType<EsbuildApi['buildSync']>
  try {
    built = loadEsbuild().buildSync({
      entryPoints: [entry],
      absWorkingDir: dir,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      // After resolution: a file of lib/ stays an import (renamed below), whatever relative path named it.
      external: [`${LIB}${sep}*`],
      write: false,
      metafile: true,
      charset: 'utf8',
      logLevel: 'silent',
    })
  } catch (error) {
    const first = (error as { errors?: EsbuildMessage[] }).errors?.[0]
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : ''
    throw new ConfigError(`strategy file ${file} cannot be bundled: ${first === undefined ? String(error) : first.text}${where}`, { cause: error })
  }
  const inputs = Object.keys(built.metafile.inputs)
  const output = Object.values(built.metafile.outputs)[0]
  const renames = new Map<string, string>()
  for (const imp of output?.imports ?? []) {
    if (imp.external !== true || !/^(\.{1,2}\/|\/)/.test(imp.path)) continue
    const spec = libSpecifier(resolve(dir, imp.path))
    if (spec === undefined) throw new ConfigError(`strategy file ${file}: import ${JSON.stringify(imp.path)} is neither a package, this project's lib, nor a file that can be bundled`)
    renames.set(imp.path, spec)
  }
  const own = relative(dir, entry).split(sep).join('/')
  if (inputs.length <= 1 && renames.size === 0) return { source: text, sha256: sha256(text), bundled: false, inputs: [own] }
  let source = built.outputFiles[0]!.text
  for (const [from, to] of renames) {
    const quoted = JSON.stringify(from).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
    source = source.replace(new RegExp(`(\\bfrom\\s*|\\bimport\\s*\\(?\\s*|\\brequire\\s*\\(\\s*)${quoted}`, 'g'), (_m, lead: string) => `${lead}${JSON.stringify(to)}`)
  }
  const header = `// ${basename(entry)} and its local imports, bundled by mtflow (esbuild) so it runs on its own; \`mtflow\` and packages stay imports.\n`
  source = header + source
  return { source, sha256: sha256(source), bundled: true, inputs: [own, ...inputs.filter((i) => i !== own)] }
}
