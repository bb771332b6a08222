// What `--strategy` accepts, for every verb that takes one (backtest, sweep, gated backtests): a built-in
// name, a .ts/.js file, or a registered version NAME@VERSION | NAME@ALIAS (`sma-cross@champion`), whose
// registered params are its defaults (a --param given on the command line wins).

import { ConfigError, DataError } from '../core/index.js'
import type { Strategy } from '../strategy/index.js'
import { lazy } from './context.js'

export interface LoadedStrategySpec {
  strategy: Strategy<any>
  /** The module file it was loaded from (a registered version's source in the registry), if not a built-in. */
  file?: string
  /** The registered version, for a NAME@REF spec. */
  version?: { name: string; version: number; sha256: string }
  /** The registered version's params (params.json), to apply under the command line's. */
  params?: Record<string, unknown>
}

/** A NAME@REF spec: not a path (names have no "/" and no extension), with an "@". */
export function isRegistryStrategyRef(spec: string): boolean {
  const { isStrategyFile } = lazy('../strategy/index.js') as typeof import('../strategy/index.js')
  return spec.includes('@') && !isStrategyFile(spec)
}

export async function loadStrategySpec(home: string, spec: string): Promise<LoadedStrategySpec> {
  const strategies = lazy('../strategy/index.js') as typeof import('../strategy/index.js')
  const load = (path: string) => lazy(path)
  if (!isRegistryStrategyRef(spec)) return strategies.loadStrategy(spec, load)
  const { Registry } = lazy('../track/index.js') as typeof import('../track/index.js')
  const registry = new Registry(home)
  const v = registry.resolve('strategies', spec)
  const what = `strategy ${v.name}@${v.version} (--strategy ${spec})`
  const version = { name: v.name, version: v.version, sha256: v.sha256 }
  const params = v.params === undefined ? undefined : { ...(v.params as Record<string, unknown>) }
  const source = v.files.find((f) => /^source\.[cm]?[tj]s$/.test(f.name))
  if (source === undefined) throw new DataError(`${what} holds no source file (files: ${v.files.map((f) => f.name).join(', ')})`)
  // A built-in whose source is the registered one runs as the built-in (its copy in the registry imports
  // its neighbours by relative paths and cannot run from there).
  const builtin = strategies.findStrategy(v.name)
  if (builtin !== undefined && strategies.strategySource(builtin).sha256 === source.sha256) return { strategy: builtin, version, ...(params === undefined ? {} : { params }) }
  // Otherwise the registered source itself, from the registry (its bytes checked against the recorded hash).
  const path = registry.file('strategies', `${v.name}@${v.version}`, source.name)
  let loaded: { strategy: Strategy<any>; file?: string }
  try {
    loaded = await strategies.loadStrategy(path, load)
  } catch (error) {
    if (builtin !== undefined && v.source === `builtin:${v.name}`) {
      throw new ConfigError(`${what} is the built-in ${v.name} as it was when registered; its source has changed since (register the current one: mtflow strategy register ${v.name})`, { cause: error })
    }
    throw new ConfigError(`${what} cannot be loaded from the registry: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, { cause: error })
  }
  if (loaded.strategy.name !== v.name) throw new DataError(`${what}: its source exports the strategy ${JSON.stringify(loaded.strategy.name)}, not ${JSON.stringify(v.name)}`)
  return { ...loaded, version, ...(params === undefined ? {} : { params }) }
}
