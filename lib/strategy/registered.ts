// A registered strategy version (the registry's NAME@VERSION | NAME@ALIAS) as a Strategy to run: the one
// loader the CLI's --strategy, deployments and library code share. A built-in whose registered source is
// the current one runs as the built-in (its registered copy imports its neighbours by relative paths and
// cannot run from the registry); any other version loads its registered source, checked against its hash
// by the registry. The registry is asked through the few calls used here (lib/track's Registry has them):
// lib/strategy does not depend on lib/track.

import { ConfigError, DataError } from '../core/index.js'
import { findStrategy, loadStrategy, strategySource, type ModuleLoader } from './load.js'
import type { Strategy } from './types.js'

/** What loading a registered strategy asks of a registry (lib/track's Registry). */
export interface StrategyVersions {
  resolve(kind: 'strategies', ref: string, version?: number | string): { name: string; version: number; sha256: string; files: { name: string; sha256: string }[]; source?: string; params?: Record<string, unknown> }
  file(kind: 'strategies', ref: string, fileName?: string): string
}

export interface RegisteredStrategy {
  strategy: Strategy<any>
  version: { name: string; version: number; sha256: string }
  /** The version's registered params (params.json): its defaults. */
  params?: Record<string, unknown>
  /** The registered source it was loaded from, when it is not a built-in. */
  file?: string
}

/**
 * The source file of a registered strategy version (source.ts, .js, .mts, …): its sha256 is what runs of the version
 * record as lineage.strategy.sha256 (the version's own hash covers its params too).
 */
export function registeredSourceFile<F extends { name: string }>(files: readonly F[]): F | undefined {
  return files.find((f) => /^source\.[cm]?[tj]s$/.test(f.name))
}

/** The strategy of a registered version: `ref` is NAME@VERSION or NAME@ALIAS (or NAME with `version`). */
export async function loadRegisteredStrategy(registry: StrategyVersions, ref: string, load?: ModuleLoader, version?: number): Promise<RegisteredStrategy> {
  const v = registry.resolve('strategies', ref, version)
  const what = `strategy ${v.name}@${v.version}`
  const pinned = { name: v.name, version: v.version, sha256: v.sha256 }
  const params = v.params === undefined ? undefined : { ...v.params }
  const source = registeredSourceFile(v.files)
  if (source === undefined) throw new DataError(`${what} holds no source file (files: ${v.files.map((f) => f.name).join(', ')})`)
  const builtin = findStrategy(v.name)
  if (builtin !== undefined && strategySource(builtin).sha256 === source.sha256) return { strategy: builtin, version: pinned, ...(params === undefined ? {} : { params }) }
  const path = registry.file('strategies', `${v.name}@${v.version}`, source.name)
  let strategy: Strategy<any>
  try {
    strategy = (await loadStrategy(path, load)).strategy
  } catch (error) {
    if (builtin !== undefined && v.source === `builtin:${v.name}`) {
      throw new ConfigError(`${what} is the built-in ${v.name} as it was when registered; its source has changed since (register the current one: mtflow strategy register ${v.name})`, { cause: error })
    }
    throw new ConfigError(`${what} cannot be loaded from the registry: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, { cause: error })
  }
  if (strategy.name !== v.name) throw new DataError(`${what}: its source exports the strategy ${JSON.stringify(strategy.name)}, not ${JSON.stringify(v.name)}`)
  return { strategy, version: pinned, file: path, ...(params === undefined ? {} : { params }) }
}
