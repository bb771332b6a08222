// What `mtflow deploy` needs to start a deployment from the registry, kept apart from the CLI: the pinned
// strategy version's module (the built-in whose source hash matches, or the version's own source file), the
// deployment of a name that is running now (a second start is refused before anything is registered), and
// the warm-up history a live feed starts with (the lake's last closed bars before the feed's first one).
// Loads no exchange library.

import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, timeframeMs } from '../core/index.js'
import { loadBars, type Bars } from '../data/index.js'
import { loadRegisteredStrategy, type ModuleLoader, type Strategy } from '../strategy/index.js'
import type { Registry } from '../track/index.js'
import type { StrategyPin } from './config.js'
import { deploymentDir, readStatus, type DeploymentStatus } from './deployment.js'

/** States in which a process holds the deployment. */
const LIVE_STATES = new Set(['starting', 'running', 'paused', 'halted'])

/**
 * The module of a pinned strategy version: the built-in of that name when its source is byte for byte the
 * version's (sha256), else the version's own source file from the registry (its hash checked on read),
 * loaded with `load` (the CLI's require through tsx). The module must export a strategy of the version's name.
 */
export async function deploymentStrategy(registry: Registry, pin: StrategyPin, load: ModuleLoader): Promise<Strategy<any>> {
  return (await loadRegisteredStrategy(registry, pin.name, load, pin.version)).strategy
}

/** The status of the deployment `name` when a live process holds it (starting, running, paused, halted). */
export function runningDeployment(home: string | undefined, name: string): DeploymentStatus | undefined {
  if (!existsSync(join(deploymentDir(home, name), 'status.json'))) return undefined
  const status = readStatus(home, name)
  return LIVE_STATES.has(status.state) ? status : undefined
}

/**
 * The last `bars` closed bars of each series before `before` (epoch ms: the open time of the feed's first
 * bar), from the lake's `source`: a live deployment's warm-up, held by the engine and never traded on.
 */
export async function warmupHistory(
  home: string,
  series: readonly { symbol: string; timeframe: string; before: number }[],
  options: { source: string; bars: number },
): Promise<Record<string, Bars>> {
  if (!(Number.isInteger(options.bars) && options.bars >= 1)) throw new ConfigError(`warm-up bars must be an integer ≥ 1 (received ${options.bars})`)
  const out: Record<string, Bars> = {}
  for (const s of series) {
    const step = timeframeMs(s.timeframe)
    const all = await loadBars(home, { symbol: s.symbol, timeframe: s.timeframe, source: options.source, start: s.before - options.bars * step, end: s.before - 1 })
    const from = Math.max(0, all.time.length - options.bars)
    const cut = (a: Float64Array) => a.subarray(from)
    out[`${s.symbol}@${s.timeframe}`] = { symbol: all.symbol, timeframe: all.timeframe, time: cut(all.time), open: cut(all.open), high: cut(all.high), low: cut(all.low), close: cut(all.close), volume: cut(all.volume) }
  }
  return out
}
