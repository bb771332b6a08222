// A deployment's production config: which exact strategy version runs, with which params, on which symbols
// and timeframe, in paper or live mode, at which venue, with the backtest's own sizing, cost and cap options,
// its share of the capital and its guards. It is what the registry keeps (kind `deployments`, one
// deployment.json per version): `registerDeployment` pins the strategy reference to a version number and
// content hash, so a deployment version always names one strategy version and nothing else.

import { canonicalTimeframe, ConfigError, DataError, NotFoundError, preview } from '../core/index.js'
import type { RunOptions } from '../backtest/backtest.js'
import { DEFAULT_LIMITS, riskLimits } from '../backtest/portfolio.js'
import { fillModel } from '../backtest/sim-exchange.js'
import { toEpochMs } from '../data/bars.js'
import { DEPLOYMENT_FILE, parseRef, type Registry, type RegistryVersion } from '../track/index.js'

/** One strategy version, exactly: its registry name, version number and content hash. */
export interface StrategyPin {
  name: string
  version: number
  /** The version's content hash as the registry records it (its source's sha256 when the source is its only file). */
  sha256: string
}

export interface DeploymentGuards {
  /** Halt new orders for the rest of the UTC day once equity is this far (in the markets' quote currency, e.g. USDT for BTC/USDT) below the day's start. */
  maxDailyLoss?: number
  /** Largest |position| × price per symbol (in the markets' quote currency); larger orders are resized down to it. */
  maxPositionNotional?: number
  /** Most orders sent in any 60-second window. */
  maxOrdersPerMinute?: number
  /** No new orders when the newest closed bar is older than this many timeframes. Default 2. */
  staleAfterBars: number
}

export type FeedKind = 'replay' | 'poll' | 'ws'

export interface DeploymentFeed {
  kind: FeedKind
  /** Replay only: first bar (epoch ms or ISO date/time, UTC), as the backtest's `start`. */
  start?: number | string
  /** Replay only: last bar, inclusive (a bare date covers the whole day), as the backtest's `end`. */
  end?: number | string
  /** Replay only: the lake source of the bars, as the backtest's `source` (default: the only one holding each symbol). */
  source?: string
}

export interface DeploymentVenue {
  /** The ccxt exchange id (its markets and fees; paper uses it for data only). */
  exchange: string
  /** The exchange's sandbox/testnet. */
  sandbox: boolean
  /** Replace the exchange's REST and WebSocket origins (proxies, test stand-ins), as `ingest ccxt --api-url`. */
  apiUrl?: string
  /**
   * Live: each order's intent fsync'd before the order is sent (journal durability "strict"), instead of
   * written before it and fsync'd while it goes out ("each"). Safe against a power loss without the start's
   * lookup of the client ids after the journal's last, at the disk's fsync latency on every order.
   */
  fsyncBeforeSend?: boolean
}

/**
 * Sizing, costs, caps, lot size and cash exactly as the backtest takes them (lib/backtest RunOptions): left
 * out, the backtest's defaults apply, so a paper deployment and its backtest cannot differ by a default.
 */
export type DeploymentEngineOptions = Pick<RunOptions, 'cash' | 'sizing' | 'fills' | 'limits' | 'lotSize'>

export interface DeploymentConfig extends DeploymentEngineOptions {
  name: string
  strategy: StrategyPin
  params: Record<string, number | string>
  symbols: string[]
  timeframe: string
  mode: 'paper' | 'live'
  venue: DeploymentVenue
  /** Share of the capital, 0 < weight ≤ 1. Default 1. */
  weight: number
  guards: DeploymentGuards
  feed: DeploymentFeed
}

/** A config before registration: the strategy given by reference (NAME, NAME@VERSION or NAME@ALIAS), defaults left out. */
export interface DeploymentDraft extends DeploymentEngineOptions {
  name: string
  strategy: string | StrategyPin
  params?: Record<string, number | string>
  symbols: string[]
  timeframe: string
  mode: 'paper' | 'live'
  venue: { exchange: string; sandbox?: boolean; apiUrl?: string; fsyncBeforeSend?: boolean }
  weight?: number
  guards?: Partial<DeploymentGuards>
  feed: DeploymentFeed
}

export const DEFAULT_STALE_AFTER_BARS = 2

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** A symbol as a deployment names it: BTC/USDT, BTC/USDT:USDT, SPX (letters, digits, / : . _ -; ≤ 64). */
export const SYMBOL = /^[A-Za-z0-9][A-Za-z0-9/:._-]{0,63}$/
const EXCHANGE = /^[a-z][a-z0-9]{0,31}$/
const PARAM = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const SHA256 = /^[0-9a-f]{64}$/

const TOP_KEYS = ['name', 'strategy', 'params', 'symbols', 'timeframe', 'mode', 'venue', 'cash', 'sizing', 'fills', 'limits', 'lotSize', 'weight', 'guards', 'feed'] as const
const SIZING_KEYS = ['qty', 'notional', 'percent', 'risk'] as const
const GUARD_KEYS = ['maxDailyLoss', 'maxPositionNotional', 'maxOrdersPerMinute', 'staleAfterBars'] as const

/**
 * The typed config from parsed JSON (or an object), every field checked once: a ConfigError naming the
 * field, what was expected and what was received, on one line. Unknown fields are refused (a misspelt
 * "gaurds" would otherwise be a deployment without guards). Optional fields stay absent; guards get
 * `staleAfterBars` 2, weight 1, venue.sandbox false, params {}. Keys come out in one fixed order.
 */
export function validateDeploymentConfig(raw: unknown, what = 'deployment config'): DeploymentConfig {
  return check(raw, what, false) as DeploymentConfig
}

/** As `validateDeploymentConfig`, with the strategy given by reference (a string) or already pinned. */
export function validateDeploymentDraft(raw: unknown, what = 'deployment config'): Omit<DeploymentConfig, 'strategy'> & { strategy: string | StrategyPin } {
  return check(raw, what, true)
}

function check(raw: unknown, what: string, draft: boolean): Omit<DeploymentConfig, 'strategy'> & { strategy: string | StrategyPin } {
  const fail = (field: string, expected: string, received: unknown): never => {
    throw new ConfigError(`${what}: ${field} must be ${expected} (received ${preview(received, 80)})`)
  }
  const o = object(raw, what, 'the config', TOP_KEYS)

  if (typeof o.name !== 'string' || !NAME.test(o.name)) fail('name', '1–64 letters, digits, ".", "_" or "-", starting with a letter or digit', o.name)

  let strategy: string | StrategyPin
  if (draft && typeof o.strategy === 'string') {
    try {
      parseRef(o.strategy)
    } catch (error) {
      throw new ConfigError(`${what}: strategy must be NAME, NAME@VERSION or NAME@ALIAS (received ${preview(o.strategy, 80)})`, { cause: error })
    }
    strategy = o.strategy
  } else {
    const s = object(o.strategy, what, 'strategy', ['name', 'version', 'sha256'], draft ? 'a reference NAME@VERSION or NAME@ALIAS, or ' : '')
    if (typeof s.name !== 'string' || !/^[A-Za-z0-9][\w.-]{0,99}$/.test(s.name)) fail('strategy.name', 'a registry name', s.name)
    if (!Number.isSafeInteger(s.version) || (s.version as number) < 1) fail('strategy.version', 'an integer ≥ 1', s.version)
    if (typeof s.sha256 !== 'string' || !SHA256.test(s.sha256)) fail('strategy.sha256', '64 lowercase hex digits', s.sha256)
    strategy = { name: s.name as string, version: s.version as number, sha256: s.sha256 as string }
  }

  const params: Record<string, number | string> = {}
  if (o.params !== undefined) {
    const p = object(o.params, what, 'params')
    for (const key of Object.keys(p).sort()) {
      if (!PARAM.test(key)) fail('a params name', 'an identifier (letters, digits, _)', key)
      const v = p[key]
      if (!((typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= 200))) fail(`params.${key}`, 'a finite number or a string', v)
      params[key] = v as number | string
    }
  }

  if (!Array.isArray(o.symbols) || o.symbols.length === 0) fail('symbols', 'a non-empty list of symbols', o.symbols)
  const symbols = o.symbols as unknown[]
  for (const [k, s] of symbols.entries()) {
    if (typeof s !== 'string' || !SYMBOL.test(s)) fail(`symbols[${k}]`, 'a symbol such as BTC/USDT (letters, digits, / : . _ -)', s)
    if (symbols.indexOf(s) !== k) fail(`symbols[${k}]`, 'a symbol not listed before', s)
  }

  const timeframeProblem = problemOfTimeframe(o.timeframe)
  if (timeframeProblem !== undefined) fail('timeframe', timeframeProblem, o.timeframe)
  if (o.mode !== 'paper' && o.mode !== 'live') fail('mode', '"paper" or "live"', o.mode)

  const v = object(o.venue, what, 'venue', ['exchange', 'sandbox', 'apiUrl', 'fsyncBeforeSend'])
  if (typeof v.exchange !== 'string' || !EXCHANGE.test(v.exchange)) fail('venue.exchange', 'a ccxt exchange id (lowercase letters and digits, e.g. binance)', v.exchange)
  if (v.sandbox !== undefined && typeof v.sandbox !== 'boolean') fail('venue.sandbox', 'true or false', v.sandbox)
  if (v.apiUrl !== undefined) checkApiUrl(v.apiUrl, what)
  if (v.fsyncBeforeSend !== undefined && typeof v.fsyncBeforeSend !== 'boolean') fail('venue.fsyncBeforeSend', 'true or false', v.fsyncBeforeSend)
  const venue: DeploymentVenue = { exchange: v.exchange as string, sandbox: v.sandbox === true, ...(v.apiUrl === undefined ? {} : { apiUrl: v.apiUrl as string }), ...(v.fsyncBeforeSend === true ? { fsyncBeforeSend: true } : {}) }

  if (o.cash !== undefined && !(typeof o.cash === 'number' && Number.isFinite(o.cash) && o.cash > 0)) fail('cash', 'an amount > 0', o.cash)
  if (o.sizing !== undefined) {
    const s = object(o.sizing, what, 'sizing', SIZING_KEYS)
    const given = SIZING_KEYS.filter((k) => s[k] !== undefined)
    if (given.length !== 1) fail('sizing', `exactly one of ${SIZING_KEYS.join(', ')}`, s)
    const x = s[given[0]!]
    if (!(typeof x === 'number' && Number.isFinite(x) && x > 0)) fail(`sizing.${given[0]}`, 'a number > 0', x)
  }
  // The backtest's own checks, so a deployment accepts exactly what a backtest does; their defaults are
  // not kept (the engine applies them when it is built).
  if (o.fills !== undefined) {
    object(o.fills, what, 'fills')
    rethrow(what, 'fills', () => fillModel(o.fills as never))
  }
  if (o.limits !== undefined) {
    const l = object(o.limits, what, 'limits', Object.keys(DEFAULT_LIMITS))
    if (l.allowShort !== undefined && typeof l.allowShort !== 'boolean') fail('limits.allowShort', 'true or false', l.allowShort)
    // A live venue trades spot markets (lib/live/ccxt-venue.ts): a sell past the deployment's own holding would sell the account's coins.
    if (o.mode === 'live' && l.allowShort === true) fail('limits.allowShort', 'false in mode "live" (spot markets: no short selling; a sell beyond what the deployment holds would sell the account\'s coins)', l.allowShort)
    rethrow(what, 'limits', () => riskLimits(l as never))
  }
  if (o.lotSize !== undefined && !(typeof o.lotSize === 'number' && Number.isFinite(o.lotSize) && o.lotSize >= 0)) fail('lotSize', 'a number ≥ 0', o.lotSize)

  if (o.weight !== undefined && !(typeof o.weight === 'number' && o.weight > 0 && o.weight <= 1)) fail('weight', 'a number in (0, 1]', o.weight)

  const guards: DeploymentGuards = { staleAfterBars: DEFAULT_STALE_AFTER_BARS }
  if (o.guards !== undefined) {
    const g = object(o.guards, what, 'guards', GUARD_KEYS)
    const positive = (key: 'maxDailyLoss' | 'maxPositionNotional') => {
      if (g[key] === undefined) return
      if (!(typeof g[key] === 'number' && Number.isFinite(g[key]) && (g[key] as number) > 0)) fail(`guards.${key}`, 'an amount > 0 (in the markets\' quote currency)', g[key])
      guards[key] = g[key] as number
    }
    positive('maxDailyLoss')
    positive('maxPositionNotional')
    if (g.maxOrdersPerMinute !== undefined) {
      if (!(Number.isSafeInteger(g.maxOrdersPerMinute) && (g.maxOrdersPerMinute as number) >= 1)) fail('guards.maxOrdersPerMinute', 'an integer ≥ 1', g.maxOrdersPerMinute)
      guards.maxOrdersPerMinute = g.maxOrdersPerMinute as number
    }
    if (g.staleAfterBars !== undefined) {
      if (!(Number.isSafeInteger(g.staleAfterBars) && (g.staleAfterBars as number) >= 1)) fail('guards.staleAfterBars', 'an integer ≥ 1', g.staleAfterBars)
      guards.staleAfterBars = g.staleAfterBars as number
    }
  }

  const f = object(o.feed, what, 'feed', ['kind', 'start', 'end', 'source'])
  if (f.kind !== 'replay' && f.kind !== 'poll' && f.kind !== 'ws') fail('feed.kind', '"replay", "poll" or "ws"', f.kind)
  const feed: DeploymentFeed = { kind: f.kind as FeedKind }
  for (const key of ['start', 'end'] as const) {
    if (f[key] === undefined) continue
    if (f.kind !== 'replay') throw new ConfigError(`${what}: feed.${key} applies to a replay feed only (a ${String(f.kind)} feed starts from the lake's last bar)`)
    if (!(typeof f[key] === 'number' || typeof f[key] === 'string')) fail(`feed.${key}`, 'an epoch-ms number or an ISO date/time', f[key])
    try {
      toEpochMs(f[key] as number | string, key, key === 'end')
    } catch (error) {
      if (!(error instanceof DataError || error instanceof ConfigError)) throw error
      fail(`feed.${key}`, 'an epoch-ms number or an ISO date/time such as 2024-01-31T00:00:00Z', f[key])
    }
    feed[key] = f[key] as number | string
  }
  if (f.source !== undefined) {
    if (f.kind !== 'replay') throw new ConfigError(`${what}: feed.source applies to a replay feed only (a ${String(f.kind)} feed records its bars under the exchange's name)`)
    if (typeof f.source !== 'string' || !/^[\w.-]{1,64}$/.test(f.source)) fail('feed.source', 'a lake source name (letters, digits, _ . -)', f.source)
    feed.source = f.source as string
  }
  if (feed.start !== undefined && feed.end !== undefined && toEpochMs(feed.start, 'start') > toEpochMs(feed.end, 'end', true)) {
    throw new ConfigError(`${what}: feed.start ${preview(feed.start)} is after feed.end ${preview(feed.end)}`)
  }
  // Live orders on replayed bars would trade on the past.
  if (o.mode === 'live' && f.kind === 'replay') throw new ConfigError(`${what}: mode "live" needs a live feed ("poll" or "ws"); a replay feed is for paper deployments`)

  return {
    name: o.name as string,
    strategy,
    params,
    symbols: [...(symbols as string[])],
    timeframe: o.timeframe as string,
    mode: o.mode as 'paper' | 'live',
    venue,
    ...(o.cash === undefined ? {} : { cash: o.cash as number }),
    ...(o.sizing === undefined ? {} : { sizing: { ...(o.sizing as object) } }),
    ...(o.fills === undefined ? {} : { fills: { ...(o.fills as object) } }),
    ...(o.limits === undefined ? {} : { limits: { ...(o.limits as object) } }),
    ...(o.lotSize === undefined ? {} : { lotSize: o.lotSize as number }),
    weight: o.weight === undefined ? 1 : (o.weight as number),
    guards,
    feed,
  }
}

/** A plain object with only the allowed keys (when `keys` is given). */
function object(value: unknown, what: string, field: string, keys?: readonly string[], alternative = ''): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${what}: ${field} must be ${alternative}an object (received ${preview(value, 80)})`)
  }
  if (keys !== undefined) {
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) throw new ConfigError(`${what}: ${field} has no field ${preview(key, 64)} (fields: ${keys.join(', ')})`)
    }
  }
  return value as Record<string, unknown>
}

function rethrow(what: string, field: string, work: () => unknown): void {
  try {
    work()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    throw new ConfigError(`${what}: ${field}: ${error.message}`, { cause: error })
  }
}

/**
 * What a timeframe must be, or undefined: the lake's form, since a deployment writes its bars there (60m was
 * accepted here and refused there, later); one written another way names the form to give (24h: give 1d).
 */
function problemOfTimeframe(text: unknown): string | undefined {
  let canonical: string
  try {
    if (typeof text !== 'string') throw new Error('not text')
    canonical = canonicalTimeframe(text)
  } catch {
    return 'a number and a unit m, h, d or w (e.g. 1m, 1h, 1d)'
  }
  return canonical === text ? undefined : `written in its largest whole unit, as the lake keeps it (give ${canonical})`
}

/** An http(s) or ws(s) origin without user or password in it: the config is stored and shown. */
function checkApiUrl(value: unknown, what: string): void {
  let url: URL | undefined
  try {
    url = typeof value === 'string' ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  if (url === undefined || !['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new ConfigError(`${what}: venue.apiUrl must be an http(s) URL such as http://127.0.0.1:8080 (received ${preview(typeof value === 'string' ? value.replace(/\/\/[^/@]*@/, '//***@') : value, 80)})`)
  }
  // Credentials never go in a config that is registered, logged and shown; the URL is not quoted back.
  if (url.username !== '' || url.password !== '') throw new ConfigError(`${what}: venue.apiUrl must not carry a user or password; credentials come from MTFLOW_<EXCHANGE>_* or --credentials FILE`)
}

/**
 * Registers a deployment version (registry kind `deployments`, one deployment.json): the draft is checked,
 * its strategy reference resolved in the registry (NAME@VERSION, NAME@ALIAS or NAME = the newest active
 * version) and pinned to that version's number and content hash; params are the version's registered
 * defaults overlaid with the draft's. The same config registered twice is the same version.
 */
export function registerDeployment(
  registry: Registry,
  draft: DeploymentDraft,
  options: { description?: string; reason?: string; runs?: readonly string[] } = {},
): { config: DeploymentConfig; version: RegistryVersion; created: boolean } {
  const checked = validateDeploymentDraft(draft)
  const strategy = pinStrategy(registry, checked.strategy, `deployment ${checked.name}`)
  const defaults = strategy.params ?? {}
  const params: Record<string, number | string> = {}
  for (const key of [...new Set([...Object.keys(defaults), ...Object.keys(checked.params)])].sort()) {
    params[key] = (checked.params[key] ?? defaults[key]) as number | string
  }
  // Checked again whole: the registered defaults are data too.
  const config = validateDeploymentConfig({ ...checked, strategy: { name: strategy.name, version: strategy.version, sha256: strategy.sha256 }, params })
  const { version, created } = registry.register('deployments', config.name, {
    files: { [DEPLOYMENT_FILE]: `${JSON.stringify(config, null, 2)}\n` },
    metadata: { strategy: `${strategy.name}@${strategy.version}`, mode: config.mode, exchange: config.venue.exchange },
    runs: options.runs ?? [],
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.reason === undefined ? {} : { reason: options.reason }),
  })
  return { config, version, created }
}

/**
 * A registered deployment's config (NAME, NAME@VERSION, NAME@ALIAS), checked, with its strategy version
 * still in the registry under the pinned content hash — a DataError naming both otherwise.
 */
export function loadDeployment(registry: Registry, ref: string): { config: DeploymentConfig; version: RegistryVersion } {
  const version = registry.resolve('deployments', ref)
  const what = `deployment ${version.name}@${version.version} (${DEPLOYMENT_FILE})`
  let raw: unknown
  try {
    raw = JSON.parse(registry.readFile('deployments', `${version.name}@${version.version}`, DEPLOYMENT_FILE).toString('utf8'))
  } catch (error) {
    if (error instanceof SyntaxError) throw new DataError(`${what} is not valid JSON`, { cause: error })
    throw error
  }
  const config = validateDeploymentConfig(raw, what)
  pinStrategy(registry, config.strategy, what)
  return { config, version }
}

/**
 * The strategy version a reference names (NAME, NAME@VERSION, NAME@ALIAS; not a retired one), or a pin
 * names (its content hash must be the registry's).
 */
export function pinStrategy(registry: Registry, ref: string | StrategyPin, what: string): RegistryVersion {
  if (typeof ref === 'string') {
    const v = registry.resolve('strategies', ref)
    if (v.status === 'retired') throw new ConfigError(`${what}: strategy ${v.name}@${v.version} is retired; restore it or deploy another version`)
    return v
  }
  let v: RegistryVersion
  try {
    v = registry.resolve('strategies', ref.name, ref.version)
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError(`${what}: pinned strategy ${ref.name}@${ref.version} is not in the registry (${error.message})`, { cause: error })
    throw error
  }
  if (v.sha256 !== ref.sha256) throw new DataError(`${what}: strategy ${ref.name}@${ref.version} has content ${v.sha256.slice(0, 12)}…, the deployment pinned ${ref.sha256.slice(0, 12)}…; the registry or the config was changed`)
  return v
}
