// What `--strategy` accepts, for every verb that takes one (backtest, sweep, gated backtests): a built-in
// name, a .ts/.js file, or a registered version NAME@VERSION | NAME@ALIAS (`sma-cross@champion`), whose
// registered params are its defaults (a --param given on the command line wins).

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
  return strategies.loadRegisteredStrategy(new Registry(home), spec, load)
}
