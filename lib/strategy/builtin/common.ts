// Helpers the built-in strategies share: one subscription per requested symbol, and per-run,
// per-symbol state kept in the context (a strategy object is shared by every run that uses it).

import { ConfigError, timeframeMs } from '../../core/index.js'
import type { Context, Subscription, UniverseRequest } from '../types.js'

/** Every requested symbol at the requested timeframe. */
export function eachSymbol(_p: unknown, request: UniverseRequest): Subscription[] {
  return request.symbols.map((symbol) => ({ symbol, timeframe: request.timeframe }))
}

/** Exactly two symbols (pairs). */
export function twoSymbols(_p: unknown, request: UniverseRequest): Subscription[] {
  if (request.symbols.length !== 2) throw new ConfigError(`pairs-zscore trades exactly 2 symbols (received ${request.symbols.length}: ${request.symbols.join(', ')})`)
  return eachSymbol(_p, request)
}

/** An intraday timeframe (below one day). */
export function intraday(name: string, request: UniverseRequest): Subscription[] {
  if (timeframeMs(request.timeframe) >= 86_400_000) throw new ConfigError(`${name} needs an intraday timeframe (below 1d; received ${request.timeframe})`)
  return eachSymbol(undefined, request)
}

/**
 * With a factory: creates each symbol's state in the run's ctx.state (call it in onStart). With a
 * symbol: that symbol's state. Per bar the built-ins read `ctx.state[bar.symbol]` themselves: loaded
 * through require (tsx, tslab), a function imported from another module is reached through an
 * export getter on every call (~15 ns a bar here).
 */
export function perSymbol<T>(ctx: Context<any>, arg: string | ((symbol: string) => T)): T {
  if (typeof arg === 'function') {
    for (const s of ctx.subscriptions) if (!Object.hasOwn(ctx.state, s.symbol)) ctx.state[s.symbol] = arg(s.symbol)
    return undefined as T
  }
  return ctx.state[arg] as T
}
