// The portfolio monitoring dashboard's numbers: per deployment (positions, exposure, P&L, equity, orders by
// state, fills with their slippage against the pinned fill model, alerts) and the backtest replayed over the
// same window (tracking error), and all deployments combined. Read from the files a deployment writes
// (lib/live/deployment.ts: config.json, status.json, journal.jsonl, alerts.jsonl) and the lake's bars.
// A deployment keeps no equity history in its folder, so its equity is derived here: starting capital, the
// journal's fills (cash), and the lake's closes (marks), one point per bar labelled with the bar's open time
// and valued at its close, as the backtest records it. The HTML is in portfolio-dashboard-html.ts.
// (Unlike the rest of lib/report this reads lib/live, lib/backtest and lib/data: a dashboard of deployments.)

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigError, CorruptFileError, DataError, errorMessage, NotFoundError, sha256, timeframeMs } from '../core/index.js'
import { fillModel, observedPeriodsPerYear, portfolioBacktest } from '../backtest/index.js'
import { loadBars, type Bars } from '../data/index.js'
import { toEpochMs } from '../data/bars.js'
import { deploymentDir, foldJournal, readStatus, validateDeploymentConfig, type DeploymentConfig, type DeploymentStatus, type JournalEvent, type JournalOrderState } from '../live/index.js'
import { deploymentStrategy } from '../live/launch.js'
import type { ModuleLoader } from '../strategy/index.js'
import { Registry } from '../track/index.js'
import { readRecords } from '../track/jsonl.js'
import { derivedEquity, exposureOf, maxDrawdown, positionsOf, referencePrice, slippageBps, trackingError, type Exposure, type FillRow, type PositionRow } from './portfolio-metrics.js'

export * from './portfolio-metrics.js'

/** States in which a process holds the deployment: its page refreshes. */
export const ACTIVE_STATES: ReadonlySet<string> = new Set(['starting', 'running', 'paused', 'halted'])

export const ORDER_STATES: readonly JournalOrderState[] = ['INTENT', 'SENT', 'UNKNOWN', 'ACKED', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED']

export interface OrderRow {
  seq: number
  clientOrderId: string
  time: number
  symbol: string
  side: string
  kind: string
  role: string
  qty: number
  price?: number
  filled: number
  avgPrice: number
  state: JournalOrderState
  reason?: string
}

export interface ReplayComparison {
  /** The replay's equity on the deployment's points (same times). */
  time: Float64Array
  equity: Float64Array
  deployment: Float64Array
  /** Annualised sample standard deviation of (deployment − replay) bar returns. */
  trackingError: number
  periodsPerYear: number
  /** Deployment's final equity − the replay's, in account currency and as a fraction of the replay's. */
  finalDifference: number
  finalDifferencePct: number
  replayTrades: number
}

export interface DeploymentSnapshot {
  name: string
  status: DeploymentStatus
  /** A process holds it (starting, running, paused, halted). */
  active: boolean
  config: DeploymentConfig
  /** cash × weight: the deployment's capital. */
  startingCash: number
  /** Bar open times of the window: the first bar stepped to the last. */
  window?: { first: number; last: number }
  time: Float64Array
  equity: Float64Array
  /** How `equity` was made (said on the page). */
  equitySource: string
  drawdown: number
  positions: PositionRow[]
  exposure: Exposure
  pnl: { realized: number; unrealized: number; fees: number; total: number }
  orders: { counts: Record<JournalOrderState, number>; total: number; latest: OrderRow[] }
  fills: FillRow[]
  slippage: { count: number; meanBps: number; worstBps: number }
  alerts: { time: string; text: string }[]
  alertCount: number
  replay?: ReplayComparison
  replayError?: string
  notes: string[]
}

export interface SnapshotOptions {
  /** Orders and alerts listed (latest first); default 50. */
  latest?: number
  /** Run the backtest replay (default true). */
  replay?: boolean
  /** Loads a pinned strategy version's source when it is not a built-in (default: import()). */
  load?: ModuleLoader
  cache?: ReplayCache
}

/**
 * Replays by (workspace, deployment, config, window): a page that refreshes every few seconds re-runs the
 * backtest only when the deployment has stepped a new bar. Least recently used first out past `size`.
 */
export class ReplayCache {
  private readonly entries = new Map<string, Promise<ReplayOutcome>>()
  /** Backtests run (not served from the cache). */
  runs = 0

  constructor(private readonly size = 32) {}

  get(key: string, compute: () => Promise<ReplayOutcome>): Promise<ReplayOutcome> {
    const hit = this.entries.get(key)
    if (hit !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, hit)
      return hit
    }
    this.runs++
    const value = compute()
    this.entries.set(key, value)
    // A failed replay (its strategy version not registered yet, say) is tried again next time.
    void value.then((outcome) => {
      if ('error' in outcome && this.entries.get(key) === value) this.entries.delete(key)
    })
    for (const k of this.entries.keys()) {
      if (this.entries.size <= this.size) break
      this.entries.delete(k)
    }
    return value
  }
}

type ReplayOutcome = { time: Float64Array; equity: Float64Array; trades: number } | { error: string }

const SHARED_CACHE = new ReplayCache()

/** The names of the workspace's deployments (folders holding a status.json), sorted. */
export function deploymentNames(home: string): string[] {
  const root = join(resolve(home), 'deployments')
  if (!existsSync(root)) return []
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'status.json')))
    .map((d) => d.name)
    .sort()
}

/** Everything the deployment page shows. `name` must be one of deploymentNames(home) (a NotFoundError otherwise). */
export async function deploymentSnapshot(home: string, name: string, options: SnapshotOptions = {}): Promise<DeploymentSnapshot> {
  const latest = options.latest ?? 50
  if (!(Number.isInteger(latest) && latest >= 1)) throw new ConfigError(`latest must be an integer ≥ 1 (received ${latest})`)
  if (typeof name !== 'string' || !deploymentNames(home).includes(name)) throw new NotFoundError(`no deployment named ${JSON.stringify(String(name).slice(0, 64))} in this workspace`)
  const dir = deploymentDir(home, name)
  // The deployment's own files are the workspace's data: one that cannot be read is a damaged file, named.
  const corrupt = (file: string, what: string, error: unknown) => new CorruptFileError(`deployment ${name}: ${file} ${what} (${errorMessage(error)})`, join(dir, file), { cause: error })
  let status: DeploymentStatus
  try {
    status = readStatus(home, name)
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof TypeError) throw corrupt('status.json', 'is not valid JSON', error)
    throw error
  }
  if (typeof status !== 'object' || status === null || typeof status.state !== 'string' || !Array.isArray(status.symbols)) throw corrupt('status.json', 'is not a deployment status', 'expected state and symbols')
  const configFile = join(dir, 'config.json')
  if (!existsSync(configFile)) throw new DataError(`deployment ${name} has no config.json (written at its start); start it again`)
  const configText = readFileSync(configFile, 'utf8')
  let config: DeploymentConfig
  try {
    config = validateDeploymentConfig(JSON.parse(configText), `deployment ${name} (config.json)`)
  } catch (error) {
    throw corrupt('config.json', error instanceof SyntaxError ? 'is not valid JSON' : 'is not a deployment config', error)
  }
  const notes: string[] = []
  const model = fillModel(config.fills ?? {})
  const startingCash = (config.cash ?? 100_000) * config.weight
  let events: JournalEvent[]
  let journal: ReturnType<typeof foldJournal>
  try {
    events = readRecords<JournalEvent>(join(dir, 'journal.jsonl')).records
    journal = foldJournal(events, 'journal.jsonl')
  } catch (error) {
    if (!(error instanceof DataError || error instanceof SyntaxError)) throw error
    throw corrupt('journal.jsonl', 'cannot be read', error)
  }
  const tf = timeframeMs(config.timeframe)

  // The window: the first bar it stepped (a replay's feed start; else its first journal event or start) to the last.
  const window = windowOf(config, status, events, tf)
  const bars: Record<string, Bars> = {}
  // A replay reads the lake as its feed did (any source); live bars are the lake source `mtflow deploy` wrote them under.
  const source = config.feed.kind === 'replay' ? undefined : config.venue.sandbox ? `${config.venue.exchange}-sandbox` : config.venue.exchange
  if (window !== undefined) {
    for (const symbol of config.symbols) {
      try {
        bars[symbol] = await loadBars(home, { symbol, timeframe: config.timeframe, start: window.first, end: window.last, ...(source === undefined ? {} : { source }) })
      } catch (error) {
        if (!(error instanceof NotFoundError || error instanceof DataError || error instanceof ConfigError)) throw error
        notes.push(`no ${symbol} ${config.timeframe} bars in the lake for the window (${errorMessage(error)}): not marked`)
      }
    }
  } else notes.push('no bar stepped yet: no equity, marks or replay')

  const fillEvents = events.filter((e): e is Extract<JournalEvent, { type: 'fill' }> => e.type === 'fill')
  const firstFill = new Map<string, number>()
  const fills: FillRow[] = fillEvents.map((e) => {
    const o = journal.orders.get(e.clientOrderId)!
    const b = bars[o.symbol]
    const before = firstFill.get(e.clientOrderId)
    if (before === undefined) firstFill.set(e.clientOrderId, e.time)
    const ref = b === undefined ? { reference: NaN, expected: NaN } : referencePrice({ side: o.side, kind: o.kind, ...(o.price === undefined ? {} : { price: o.price }), placedAt: o.time, role: o.role ?? '', ...(before === undefined ? {} : { filledBefore: before }) }, b, tf, e.time, model)
    return {
      time: e.time,
      clientOrderId: e.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      kind: o.kind,
      role: o.role ?? '',
      qty: e.qty,
      price: e.price,
      fee: e.fee,
      reference: ref.reference,
      expected: ref.expected,
      slippageBps: slippageBps(o.side, e.price, ref.expected),
    }
  })

  const curve = window === undefined ? { time: new Float64Array(0), equity: new Float64Array(0) } : derivedEquity({ symbols: config.symbols, bars, tf, fills, startingCash })
  const marks: Record<string, number> = {}
  for (const symbol of config.symbols) {
    const b = bars[symbol]
    marks[symbol] = b !== undefined && b.close.length > 0 ? b.close[b.close.length - 1]! : NaN
  }
  // A running deployment's journal may hold fills of a bar its status has not reached yet: left for the next look.
  const booked = window === undefined ? fills : fills.filter((f) => f.time < window.last + tf)
  const positions = positionsOf(booked, marks)
  const fees = booked.reduce((a, f) => a + f.fee, 0)
  const realized = positions.reduce((a, p) => a + p.realized, 0)
  const unrealized = positions.reduce((a, p) => a + (p.qty === 0 ? 0 : p.unrealized), 0)
  const equityNow = curve.equity.length > 0 ? curve.equity[curve.equity.length - 1]! : startingCash + realized + unrealized - fees
  const exposure = exposureOf(positions, equityNow)

  const counts = Object.fromEntries(ORDER_STATES.map((s) => [s, 0])) as Record<JournalOrderState, number>
  for (const o of journal.orders.values()) counts[o.state]++
  const orderRows: OrderRow[] = [...journal.orders.values()]
    .sort((a, b) => b.seq - a.seq)
    .slice(0, latest)
    .map((o) => ({ seq: o.seq, clientOrderId: o.clientOrderId, time: o.time, symbol: o.symbol, side: o.side, kind: o.kind, role: o.role ?? '', qty: o.qty, ...(o.price === undefined ? {} : { price: o.price }), filled: o.filled, avgPrice: o.avgPrice, state: o.state, ...(o.reason === undefined ? {} : { reason: o.reason }) }))

  const alertLines = readRecords<{ time?: unknown; text?: unknown }>(join(dir, 'alerts.jsonl')).records
  const alerts = alertLines.slice(-latest).reverse().map((a) => ({ time: String(a.time ?? ''), text: String(a.text ?? '') }))

  const measured = fills.filter((f) => f.slippageBps === f.slippageBps)
  const slippage = {
    count: measured.length,
    meanBps: measured.length === 0 ? NaN : measured.reduce((a, f) => a + f.slippageBps, 0) / measured.length,
    worstBps: measured.reduce((a, f) => (f.slippageBps > a || a !== a ? f.slippageBps : a), NaN),
  }

  const snapshot: DeploymentSnapshot = {
    name,
    status,
    active: ACTIVE_STATES.has(status.state),
    config,
    startingCash,
    ...(window === undefined ? {} : { window }),
    time: curve.time,
    equity: curve.equity,
    equitySource: 'derived: starting capital (cash × weight), the journal\'s fills and fees, positions marked at the lake\'s closes (a deployment records no equity history of its own)',
    // No drawdown without two points (as the drawdown monitor says no-data): NaN, shown "–", not 0 %.
    drawdown: curve.equity.length >= 2 ? maxDrawdown(curve.equity) : NaN,
    positions,
    exposure,
    pnl: { realized, unrealized, fees, total: equityNow - startingCash },
    orders: { counts, total: journal.orders.size, latest: orderRows },
    fills,
    slippage,
    alerts,
    alertCount: alertLines.length,
    notes,
  }

  if (options.replay !== false && window !== undefined && curve.time.length >= 2 && Object.keys(bars).length === config.symbols.length) {
    const key = [resolve(home), name, sha256(configText), window.first, window.last].join('\0')
    const outcome = await (options.cache ?? SHARED_CACHE).get(key, () => runReplay(home, config, bars, startingCash, options.load))
    if ('error' in outcome) snapshot.replayError = outcome.error
    else snapshot.replay = compareToReplay(curve.time, curve.equity, outcome.time, outcome.equity, outcome.trades)
  }
  return snapshot
}

/** The pinned strategy version run as a backtest on the window's bars, with the deployment's capital, sizing, costs and caps. */
async function runReplay(home: string, config: DeploymentConfig, bars: Record<string, Bars>, cash: number, load?: ModuleLoader): Promise<ReplayOutcome> {
  try {
    const strategy = await deploymentStrategy(new Registry(home), config.strategy, load ?? ((path) => import(pathToFileURL(path).href)))
    const result = portfolioBacktest({
      data: bars,
      cash,
      ...(config.sizing === undefined ? {} : { sizing: config.sizing }),
      ...(config.fills === undefined ? {} : { fills: config.fills }),
      ...(config.limits === undefined ? {} : { limits: config.limits }),
      ...(config.lotSize === undefined ? {} : { lotSize: config.lotSize }),
      sleeves: [{ strategy, params: config.params, symbols: config.symbols, timeframe: config.timeframe, weight: 1, name: config.strategy.name }],
    })
    return { time: Float64Array.from(result.time), equity: Float64Array.from(result.equity), trades: result.strategies[0]!.trades.pnl.length }
  } catch (error) {
    return { error: `the backtest replay of ${config.strategy.name}@${config.strategy.version} failed: ${errorMessage(error)}` }
  }
}

function windowOf(config: DeploymentConfig, status: DeploymentStatus, events: readonly JournalEvent[], tf: number): { first: number; last: number } | undefined {
  // The last bar stepped: the status's, or (a deployment started again that has seen no bar yet: its status
  // has none) the journal's last watermark — else its positions showed no mark and the totals NaN.
  const lastClose = status.lastBar !== undefined ? Date.parse(status.lastBar) : lastWatermark(events)
  if (!Number.isFinite(lastClose)) return undefined
  const last = lastClose - tf
  let first: number
  if (config.feed.kind === 'replay') first = config.feed.start === undefined ? -8.64e15 : toEpochMs(config.feed.start, 'feed.start')
  else {
    const started = Date.parse(status.startedAt)
    const firstEvent = events.find((e) => Number.isFinite(e.time))?.time ?? Infinity
    first = Math.min(started, firstEvent) - tf
  }
  return last >= first ? { first, last } : undefined
}

/** The close time of the last bar a journal records as stepped (its last mark), or NaN. */
function lastWatermark(events: readonly JournalEvent[]): number {
  for (let k = events.length - 1; k >= 0; k--) {
    const e = events[k]!
    if (e.type === 'mark' && Number.isFinite(e.watermark)) return e.watermark
  }
  return NaN
}

function compareToReplay(time: Float64Array, equity: Float64Array, replayTime: Float64Array, replayEquity: Float64Array, trades: number): ReplayComparison {
  const at = new Map<number, number>()
  replayTime.forEach((t, i) => at.set(t, replayEquity[i]!))
  const keep: number[] = []
  time.forEach((t, i) => {
    if (at.has(t)) keep.push(i)
  })
  const t = Float64Array.from(keep, (i) => time[i]!)
  const dep = Float64Array.from(keep, (i) => equity[i]!)
  const rep = Float64Array.from(keep, (i) => at.get(time[i]!)!)
  const ppy = t.length >= 2 ? observedPeriodsPerYear(t) : NaN
  const n = t.length
  const finalDifference = n === 0 ? NaN : dep[n - 1]! - rep[n - 1]!
  return { time: t, equity: rep, deployment: dep, trackingError: trackingError(t, dep, rep, ppy), periodsPerYear: ppy, finalDifference, finalDifferencePct: n === 0 ? NaN : finalDifference / rep[n - 1]!, replayTrades: trades }
}

// ---- all deployments together ----------------------------------------------------------------------

export interface PortfolioRow {
  name: string
  state: string
  active: boolean
  mode: string
  strategy: string
  lastBar?: string
  equity: number
  pnl: number
  drawdown: number
  trackingError: number
  gross: number
  error?: string
}

export interface PortfolioSnapshot {
  rows: PortfolioRow[]
  deployments: DeploymentSnapshot[]
  active: boolean
  /** Σ of every deployment's equity, per time: before its first point a deployment counts its starting capital, after its last its last equity. */
  time: Float64Array
  equity: Float64Array
  totals: { equity: number; startingCash: number; pnl: number; realized: number; unrealized: number; fees: number; gross: number; net: number }
  perSymbol: { symbol: string; notional: number; deployments: string[] }[]
}

/** Every deployment's snapshot and the sums over them; a deployment that cannot be read is a row with its error. */
export async function portfolioSnapshot(home: string, options: SnapshotOptions = {}): Promise<PortfolioSnapshot> {
  const rows: PortfolioRow[] = []
  const deployments: DeploymentSnapshot[] = []
  for (const name of deploymentNames(home)) {
    try {
      const s = await deploymentSnapshot(home, name, options)
      deployments.push(s)
      rows.push({
        name,
        state: s.status.state,
        active: s.active,
        mode: s.status.mode,
        strategy: s.status.strategy,
        ...(s.status.lastBar === undefined ? {} : { lastBar: s.status.lastBar }),
        equity: s.startingCash + s.pnl.total,
        pnl: s.pnl.total,
        drawdown: s.drawdown,
        trackingError: s.replay?.trackingError ?? NaN,
        gross: s.exposure.gross,
      })
    } catch (error) {
      let state = 'unreadable'
      let active = false
      try {
        const st = readStatus(home, name)
        state = st.state
        active = ACTIVE_STATES.has(st.state)
      } catch {
        /* the row says why below */
      }
      rows.push({ name, state, active, mode: '', strategy: '', equity: NaN, pnl: NaN, drawdown: NaN, trackingError: NaN, gross: NaN, error: errorMessage(error) })
    }
  }
  const times = new Set<number>()
  for (const d of deployments) for (const t of d.time) times.add(t)
  const time = Float64Array.from([...times].sort((a, b) => a - b))
  const equity = new Float64Array(time.length)
  for (const d of deployments) {
    let j = -1
    for (let i = 0; i < time.length; i++) {
      while (j + 1 < d.time.length && d.time[j + 1]! <= time[i]!) j++
      equity[i] += j < 0 ? d.startingCash : d.equity[j]!
    }
  }
  const symbols = new Map<string, { notional: number; deployments: string[] }>()
  for (const d of deployments) {
    for (const p of d.positions) {
      if (p.notional === 0) continue
      const s = symbols.get(p.symbol) ?? { notional: 0, deployments: [] }
      s.notional += p.notional
      s.deployments.push(d.name)
      symbols.set(p.symbol, s)
    }
  }
  const sum = (f: (d: DeploymentSnapshot) => number) => deployments.reduce((a, d) => a + f(d), 0)
  return {
    rows,
    deployments,
    active: rows.some((r) => r.active),
    time,
    equity,
    totals: {
      equity: sum((d) => d.startingCash + d.pnl.total),
      startingCash: sum((d) => d.startingCash),
      pnl: sum((d) => d.pnl.total),
      realized: sum((d) => d.pnl.realized),
      unrealized: sum((d) => d.pnl.unrealized),
      fees: sum((d) => d.pnl.fees),
      gross: sum((d) => d.exposure.gross),
      net: sum((d) => d.exposure.net),
    },
    perSymbol: [...symbols.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([symbol, s]) => ({ symbol, ...s })),
  }
}
