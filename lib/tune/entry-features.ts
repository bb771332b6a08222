// Features of a strategy's entry, from the bars of the entered symbol up to the decision (the bar that
// has just closed): the candidate inputs AutoML searches over, in named groups. Every value is defined
// from the first bar on (windows shrink to the bars there are; a flat window gives its neutral value),
// so no entry is dropped for missing history and a model never sees NaN.

import { ConfigError } from '../core/index.js'
import type { Context, Side } from '../strategy/index.js'
import type { EntryFeatures } from './meta-label.js'

/** The feature groups and the columns each adds (`side`, +1 buy / −1 sell, is always included). */
export const ENTRY_FEATURE_GROUPS = {
  /** Simple returns over 5, 20 and 60 bars: close / close k bars ago − 1. */
  momentum: ['ret5', 'ret20', 'ret60'],
  /** Distance from the 50- and 200-bar simple moving averages: close / SMA − 1. */
  trend: ['sma50Gap', 'sma200Gap'],
  /** Sample standard deviation of the last 20 log returns; that of the last 5 over that of the last 60. */
  volatility: ['vol20', 'volRatio'],
  /** z-score of the close in its last 20 closes (sample sd); Cutler's RSI(14); position in the 20-bar range, 0…1. */
  reversion: ['z20', 'rsi14', 'range20'],
  /** log(volume / mean volume of the last 20 bars); 0 without volume. */
  volume: ['volume20'],
} as const satisfies Record<string, readonly string[]>

export type EntryFeatureGroup = keyof typeof ENTRY_FEATURE_GROUPS
export const ENTRY_GROUP_NAMES = Object.keys(ENTRY_FEATURE_GROUPS) as EntryFeatureGroup[]
/** Bars of history the features read (the 200-bar average and the 60-bar returns are the longest). */
export const ENTRY_LOOKBACK = 201

export function checkGroups(groups: readonly string[]): EntryFeatureGroup[] {
  if (groups.length === 0) throw new ConfigError(`give at least one feature group (known: ${ENTRY_GROUP_NAMES.join(', ')})`)
  for (const g of groups) if (!(g in ENTRY_FEATURE_GROUPS)) throw new ConfigError(`unknown feature group ${JSON.stringify(g)} (known: ${ENTRY_GROUP_NAMES.join(', ')})`)
  return [...new Set(groups)] as EntryFeatureGroup[]
}

/**
 * The features of the last bar of a series (oldest first), for the chosen groups. `close` and `volume`
 * are the bars up to and including the decision bar.
 */
export function barFeatures(close: ArrayLike<number>, volume: ArrayLike<number>, groups: readonly string[], side: Side = 'buy'): Record<string, number> {
  const n = close.length
  if (n === 0) throw new ConfigError('entry features need at least one bar')
  const chosen = new Set(checkGroups(groups))
  const last = close[n - 1]!
  const out: Record<string, number> = { side: side === 'buy' ? 1 : -1 }
  const ago = (k: number) => close[Math.max(0, n - 1 - k)]!
  const mean = (k: number) => {
    const m = Math.min(k, n)
    let s = 0
    for (let i = n - m; i < n; i++) s += close[i]!
    return s / m
  }
  // Sample sd of the last k log returns (0 with fewer than two).
  const logSd = (k: number) => {
    const m = Math.min(k, n - 1)
    if (m < 2) return 0
    let s = 0
    let s2 = 0
    for (let i = n - m; i < n; i++) {
      const r = Math.log(close[i]! / close[i - 1]!)
      s += r
      s2 += r * r
    }
    return Math.sqrt(Math.max(0, (s2 - (s * s) / m) / (m - 1)))
  }
  if (chosen.has('momentum')) {
    out.ret5 = last / ago(5) - 1
    out.ret20 = last / ago(20) - 1
    out.ret60 = last / ago(60) - 1
  }
  if (chosen.has('trend')) {
    out.sma50Gap = last / mean(50) - 1
    out.sma200Gap = last / mean(200) - 1
  }
  if (chosen.has('volatility')) {
    const long = logSd(60)
    out.vol20 = logSd(20)
    out.volRatio = long > 0 ? logSd(5) / long : 1
  }
  if (chosen.has('reversion')) {
    const m = Math.min(20, n)
    const mu = mean(20)
    let ss = 0
    let lo = Infinity
    let hi = -Infinity
    for (let i = n - m; i < n; i++) {
      ss += (close[i]! - mu) ** 2
      lo = Math.min(lo, close[i]!)
      hi = Math.max(hi, close[i]!)
    }
    const sd = m > 1 ? Math.sqrt(ss / (m - 1)) : 0
    out.z20 = sd > 0 ? (last - mu) / sd : 0
    let gain = 0
    let loss = 0
    for (let i = Math.max(1, n - 14); i < n; i++) {
      const d = close[i]! - close[i - 1]!
      if (d > 0) gain += d
      else loss -= d
    }
    out.rsi14 = gain + loss > 0 ? (100 * gain) / (gain + loss) : 50
    out.range20 = hi > lo ? (last - lo) / (hi - lo) : 0.5
  }
  if (chosen.has('volume')) {
    const m = Math.min(20, n)
    let s = 0
    for (let i = n - m; i < n; i++) s += volume[i]!
    const v = volume[n - 1]!
    out.volume20 = s > 0 && v > 0 ? Math.log(v / (s / m)) : 0
  }
  for (const [k, v] of Object.entries(out)) if (!Number.isFinite(v)) throw new ConfigError(`entry feature ${k} is ${v}: the bars hold a non-positive or missing close`)
  return out
}

/**
 * Feature groups to search: built-in ones by name and the caller's own (name → an EntryFeatures function
 * returning the same fields every time). A custom group's columns are learnt from its first call.
 */
export class FeatureCatalog {
  readonly groups: string[]
  private readonly learnt = new Map<string, string[]>()

  constructor(
    groups: readonly string[] | undefined,
    private readonly custom: Readonly<Record<string, EntryFeatures>> = {},
  ) {
    const customNames = Object.keys(custom)
    for (const name of customNames) {
      if (name in ENTRY_FEATURE_GROUPS) throw new ConfigError(`feature group ${JSON.stringify(name)} is built in: give yours another name`)
      if (typeof custom[name] !== 'function') throw new ConfigError(`feature group ${JSON.stringify(name)} must be a function (ctx, symbol, side) → { feature: number }`)
    }
    const chosen = [...new Set(groups ?? [...ENTRY_GROUP_NAMES, ...customNames])]
    if (chosen.length === 0) throw new ConfigError(`give at least one feature group (known: ${[...ENTRY_GROUP_NAMES, ...customNames].join(', ')})`)
    for (const g of chosen) if (!(g in ENTRY_FEATURE_GROUPS) && !customNames.includes(g)) throw new ConfigError(`unknown feature group ${JSON.stringify(g)} (known: ${[...ENTRY_GROUP_NAMES, ...customNames].join(', ')})`)
    this.groups = chosen
  }

  /** The columns of some of the groups: side, the built-in groups' (in their fixed order), then the custom ones' (in the catalog's order). */
  columns(groups: readonly string[]): string[] {
    const set = new Set(groups)
    const builtin = ENTRY_GROUP_NAMES.filter((g) => set.has(g)).flatMap((g) => [...ENTRY_FEATURE_GROUPS[g]])
    const custom = this.groups.filter((g) => set.has(g) && !(g in ENTRY_FEATURE_GROUPS)).flatMap((g) => {
      const cols = this.learnt.get(g)
      if (cols === undefined) throw new ConfigError(`feature group ${g} has not been computed yet: its columns are unknown`)
      return cols
    })
    return ['side', ...builtin, ...custom]
  }

  /** An EntryFeatures function computing these groups (every group of the catalog by default). */
  features(groups: readonly string[] = this.groups): EntryFeatures {
    const builtin = groups.filter((g) => g in ENTRY_FEATURE_GROUPS)
    const own = groups.filter((g) => !(g in ENTRY_FEATURE_GROUPS))
    const base = builtin.length === 0 ? undefined : entryFeatures(builtin)
    return (ctx, symbol, side) => {
      const out = base === undefined ? { side: side === 'buy' ? 1 : -1 } : base(ctx, symbol, side)
      for (const g of own) {
        const f = this.custom[g]!(ctx, symbol, side)
        const keys = Object.keys(f)
        const known = this.learnt.get(g)
        if (known === undefined) {
          if (keys.length === 0) throw new ConfigError(`feature group ${g} returned no fields`)
          for (const k of keys) if (k in out) throw new ConfigError(`feature group ${g} returns ${k}, which another group (or side) already gives`)
          this.learnt.set(g, keys)
        } else if (keys.length !== known.length || keys.some((k, i) => k !== known[i])) {
          throw new ConfigError(`feature group ${g} returned fields [${keys.join(', ')}]; its first call returned [${known.join(', ')}]`)
        }
        for (const k of keys) {
          const v = f[k]
          if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`feature group ${g} gave ${k} = ${String(v)} (a finite number was expected)`)
          out[k] = v
        }
      }
      return out
    }
  }
}

/** An EntryFeatures function for meta-labelling: the chosen groups, from the entered symbol's bars. */
export function entryFeatures(groups: readonly string[] = ENTRY_GROUP_NAMES): EntryFeatures {
  const chosen = checkGroups(groups)
  return (ctx: Context<any>, symbol: string, side: Side) => {
    const sub = ctx.subscriptions.find((s) => s.symbol === symbol)
    if (sub === undefined) throw new ConfigError(`the strategy entered ${symbol}, which it does not subscribe to`)
    const bars = ctx.history(symbol, sub.timeframe, ENTRY_LOOKBACK)
    return barFeatures(bars.close, bars.volume, chosen, side)
  }
}
