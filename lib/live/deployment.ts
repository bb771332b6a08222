// Running a deployment: the production config (lib/live/config.ts) on the backtest's engine, fed by a
// MarketFeed, trading through a Venue, with the order journal, guards outside strategy code, a status file
// other processes read (`mtflow deploy status`), control requests they write (stop, pause, resume,
// flatten), reconciliation with a live venue at start and every N seconds, and a tracked run.
//
// Workspace layout: deployments/<name>/
//   journal.jsonl   the order journal (lib/live/journal.ts)
//   status.json     the last state written (atomically): state, positions, open orders, trades, equity
//   control.json    the last request from another process: { seq, command, at }
//   alerts.jsonl    one line per alert (reconciliation differences, guard refusals, halts)
//   run.pid         { pid, start } while a process runs it (a second start of the same name is refused)
//
// This module loads no exchange library: a live venue and live feeds (ccxt) are built by the caller
// (lib/cli/deploy.ts) and passed in.

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, isoTime, pidAlive, processStartTime, resolveHome, timeframeMs, writeFileAtomic } from '../core/index.js'
import { collectResults, logBacktest, type BacktestResult } from '../backtest/index.js'
import type { Order } from '../backtest/orders.js'
import { loadBars, type Bars } from '../data/index.js'
import type { Strategy } from '../strategy/index.js'
import { Tracker, type ActiveRun } from '../track/index.js'
import type { DeploymentConfig } from './config.js'
import { ReplayFeed, WallClock, type Clock, type FeedBatch, type MarketFeed } from './feed.js'
import { guardsFor, type Guards } from './guards.js'
import { OPEN_STATES, OrderJournal, type JournalOrder } from './journal.js'
import { appendReconciliation, fetchVenueView, reconcile, type ReconcilableVenue } from './reconcile.js'
import { EngineSession } from './session.js'
import { SimVenue } from './sim-venue.js'
import type { Venue, VenueEvent } from './venue.js'

const STATUS_TRADES = 1000

export type DeploymentState = 'starting' | 'running' | 'paused' | 'halted' | 'stopped' | 'finished' | 'failed'
export type ControlCommand = 'stop' | 'pause' | 'resume' | 'flatten'

export interface DeploymentStatus {
  name: string
  state: DeploymentState
  /** Why it is paused, halted, stopped or failed. */
  reason?: string
  pid: number
  mode: 'paper' | 'live'
  strategy: string
  symbols: string[]
  timeframe: string
  startedAt: string
  updatedAt: string
  /** Close time of the newest bar stepped (ISO), and bars stepped since start. */
  lastBar?: string
  bars: number
  equity: number
  cash: number
  positions: { strategy: string; symbol: string; qty: number; avgPrice: number; value: number; unrealized: number }[]
  openOrders: { cid: string; id: number; symbol: string; side: string; type: string; role: string; qty: number; filled: number; limit?: number; stop?: number; status: string }[]
  /** Round trips so far, the last 1,000 (the tracked run has them all as trades.csv); `tradeCount` counts them all. */
  trades: { symbol: string; direction: 'long' | 'short'; entryTime: string; entryPrice: number; exitTime: string; exitPrice: number; qty: number; pnl: number; open: boolean }[]
  tradeCount: number
  fills: number
  runId?: string
  journal: string
}

export interface RunDeploymentOptions {
  home?: string
  config: DeploymentConfig
  /** The pinned strategy version's module (the caller loads it from the registry). */
  strategy: Strategy<any>
  clock?: Clock
  /** Default: SimVenue (paper). A live deployment passes its CcxtVenue. */
  venue?: Venue & Partial<ReconcilableVenue>
  /** Default: for a replay feed, the lake's bars between feed.start and feed.end. Live feeds are built by the caller. */
  feed?: MarketFeed
  /** Replay pacing: wall ms per bar of the deployment's timeframe (0: as fast as possible). */
  paceMs?: number
  /** Bars closed before the feed starts (warm-up): held by the engine, never traded on. */
  history?: Readonly<Record<string, Bars>>
  /** Record a tracked run (default true). */
  track?: boolean
  /** Reconcile with a live venue every this many ms (default 60,000); 0: only at start and after reconnects. */
  reconcileEveryMs?: number
  /** Status, alert and progress lines. */
  log?: (line: string) => void
}

/** deployments/<name> in the workspace. */
export function deploymentDir(home: string | undefined, name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new ConfigError(`deployment name ${JSON.stringify(name)}: expected 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  return join(resolveHome(home), 'deployments', name)
}

/** The last status a deployment wrote; a "running" one whose process is gone reads as failed ("process gone"). */
export function readStatus(home: string | undefined, name: string): DeploymentStatus {
  const file = join(deploymentDir(home, name), 'status.json')
  if (!existsSync(file)) throw new ConfigError(`no deployment named ${JSON.stringify(name)} in this workspace (mtflow deploy list shows them)`)
  const status = JSON.parse(readFileSync(file, 'utf8')) as DeploymentStatus
  if ((status.state === 'running' || status.state === 'paused' || status.state === 'halted' || status.state === 'starting') && !runningPid(deploymentDir(home, name))) {
    return { ...status, state: 'failed', reason: `its process (pid ${status.pid}) is gone without stopping it (killed?); start it again to recover from its journal` }
  }
  return status
}

/** Every deployment of the workspace with its last status. */
export function listDeployments(home?: string): DeploymentStatus[] {
  const root = join(resolveHome(home), 'deployments')
  if (!existsSync(root)) return []
  const out: DeploymentStatus[] = []
  for (const name of readdirSync(root).sort()) {
    if (!existsSync(join(root, name, 'status.json'))) continue
    out.push(readStatus(home, name))
  }
  return out
}

/** Ask a running deployment to stop, pause, resume or flatten (it checks between batches and every second). */
export function requestControl(home: string | undefined, name: string, command: ControlCommand): DeploymentStatus {
  const status = readStatus(home, name)
  const dir = deploymentDir(home, name)
  if (!runningPid(dir)) throw new ConfigError(`deployment ${name} is not running (state ${status.state}${status.reason === undefined ? '' : `: ${status.reason}`})`)
  const file = join(dir, 'control.json')
  const seq = existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { seq: number }).seq ?? 0) + 1 : 1
  writeFileAtomic(file, `${JSON.stringify({ seq, command, at: new Date().toISOString() })}\n`, { durable: true })
  return status
}

/** The pid running the deployment in `dir`, if that process is alive and is the one that wrote the file. */
function runningPid(dir: string): number | undefined {
  const file = join(dir, 'run.pid')
  if (!existsSync(file)) return undefined
  try {
    const { pid, start } = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; start?: string }
    if (!pidAlive(pid)) return undefined
    if (start !== undefined && processStartTime(pid) !== start) return undefined
    return pid
  } catch {
    return undefined
  }
}

/** Claims the deployment for this process (run.pid, created exclusively); a live claim by another process refuses. */
function claim(dir: string, name: string): () => void {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'run.pid')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644)
      writeSync(fd, `${JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) })}\n`)
      closeSync(fd)
      return () => rmSync(file, { force: true })
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error
      const pid = runningPid(dir)
      if (pid !== undefined) throw new ConfigError(`deployment ${name} is already running (pid ${pid}); stop it first (mtflow deploy stop ${name})`)
      rmSync(file, { force: true }) // left by a process that is gone
    }
  }
  throw new ConfigError(`deployment ${name}: could not claim ${file}`)
}

/**
 * Runs a deployment until its feed ends (a replay: state "finished"), it is stopped, or it fails. A
 * deployment whose journal holds orders and fills (a restart) takes them back first: fills into the
 * portfolio, open orders working again under their client ids; a live venue is then reconciled (the venue
 * wins) before the first bar.
 */
export async function runDeployment(options: RunDeploymentOptions): Promise<DeploymentStatus> {
  const home = resolveHome(options.home)
  const dir = deploymentDir(home, options.config.name)
  const release = claim(dir, options.config.name)
  try {
    return await runClaimed(options, home, dir)
  } finally {
    release()
  }
}

async function runClaimed(options: RunDeploymentOptions, home: string, dir: string): Promise<DeploymentStatus> {
  const config = options.config
  const log = options.log ?? (() => {})
  const clock = options.clock ?? new WallClock()
  const live = options.venue !== undefined && !options.venue.matchesOnBars
  if (config.mode === 'live' && !live) throw new ConfigError(`deployment ${config.name} is live: it needs a live venue (CcxtVenue)`)
  if (config.mode === 'paper' && live) throw new ConfigError(`deployment ${config.name} is paper: it trades on the simulated exchange, never on a live venue`)
  const venue = options.venue ?? new SimVenue()
  const journal = OrderJournal.open(dir, config.name, { durability: live ? 'each' : 'step' })
  const guards = guardsFor(config)
  const alerts = join(dir, 'alerts.jsonl')
  const alert = (text: string) => {
    writeFileAtomicAppend(alerts, `${JSON.stringify({ time: new Date(clock.now()).toISOString(), text })}\n`)
    log(`alert: ${text}`)
  }
  const problems: string[] = []
  let state: DeploymentState = 'starting'
  let reason: string | undefined
  const startedAt = new Date().toISOString()
  // Cash × weight: the deployment's share of the capital (one sleeve, so the engine's own weights cannot do it).
  const cash = (config.cash ?? 100_000) * config.weight
  // A replay restarted after a crash continues after the last step its journal marked; the bars before it
  // are history (held, streamed into the indicators, never traded on again).
  let feed = options.feed
  let history = options.history
  if (feed === undefined) {
    const replay = await replayFeed(home, config, options, clock, journal.current.watermark)
    feed = replay.feed
    if (replay.history !== undefined) history = replay.history
  }
  const session = new EngineSession(
    {
      cash,
      ...(config.sizing === undefined ? {} : { sizing: config.sizing }),
      ...(config.fills === undefined ? {} : { fills: config.fills }),
      ...(config.limits === undefined ? {} : { limits: config.limits }),
      ...(config.lotSize === undefined ? {} : { lotSize: config.lotSize }),
      sleeves: [{ strategy: options.strategy, params: config.params, symbols: config.symbols, timeframe: config.timeframe, weight: 1, name: config.strategy.name }],
      ...(history === undefined ? {} : { history }),
    },
    {
      journal,
      venue,
      ...(live ? { clock } : {}),
      onEvent: (event: VenueEvent, problem?: string) => {
        if (problem !== undefined) problems.push(problem)
      },
    },
  )
  const engine = session.engine
  let lastClose = NaN
  let bars = 0
  // Guards and pause: asked for every order the strategy places (bracket legs and the kill switch are not).
  let cut = ''
  engine.hooks = {
    ...engine.hooks!,
    admit: (order: Order, qty: number, price: number) => {
      if (state === 'paused' || state === 'halted') return `${state}: ${reason ?? ''}`.trim()
      // A replay's time is its bars'; any other feed's is the clock's (so data that stopped arriving is stale).
      const now = config.feed.kind === 'replay' ? engine.now : clock.now()
      const k = engine.symbolIndex.get(order.symbol)!
      const decision = guards.check({ symbol: order.symbol, side: order.side, qty, price }, { equity: engine.sleeves[0]!.book.equity, position: engine.sleeves[0]!.book.positions[k]!.qty, lastBarClose: lastClose }, now)
      if (!decision.allow) {
        alert(`${order.symbol} ${order.side} ${qty} refused: ${decision.reason}`)
        return decision.reason
      }
      if ('qty' in decision) {
        cut = decision.reason
        return decision.qty
      }
      return qty
    },
    admitReason: () => cut,
  }

  const tracker = options.track === false ? undefined : new Tracker(home)
  let run: ActiveRun | undefined
  const status = (): DeploymentStatus => statusOf(config, session, { state, reason, startedAt, bars, lastClose, journal: journal.file, runId: run?.id })
  const writeStatus = () => writeFileAtomic(join(dir, 'status.json'), `${JSON.stringify(status(), null, 1)}\n`)
  let lastStatus = 0
  let lastMetric = 0

  try {
    restore(session, journal, clock)
    writeStatus()
    await venue.start({ symbols: config.symbols, kinds: new Set(['market', 'limit', 'stop']) })
    if (live) {
      const r = await reconcileNow(session, journal, venue as Venue & ReconcilableVenue, config.symbols, clock)
      for (const line of r) alert(line)
    }
    if (tracker !== undefined) {
      run = tracker.startRun({
        experiment: 'deployments',
        name: `deploy ${config.name}`,
        params: { deployment: config.name, strategy: `${config.strategy.name}@${config.strategy.version}`, mode: config.mode, exchange: config.venue.exchange, symbols: config.symbols.join(','), timeframe: config.timeframe, weight: config.weight, cash, ...prefixed(config.params) },
        tags: { 'mtflow.kind': 'deployment', 'mtflow.deployment': config.name, 'mtflow.strategy': `${config.strategy.name}@${config.strategy.version}`, 'mtflow.strategy.sha256': config.strategy.sha256 },
      })
    }
    session.start()
    state = 'running'
    writeStatus()
    log(`deployment ${config.name}: ${config.mode} ${config.strategy.name}@${config.strategy.version} on ${config.symbols.join(', ')} ${config.timeframe}, ${live ? 'live venue' : 'simulated exchange'}, feed ${config.feed.kind}`)

    const controlFile = join(dir, 'control.json')
    let controlSeq = existsSync(controlFile) ? ((JSON.parse(readFileSync(controlFile, 'utf8')) as { seq: number }).seq ?? 0) : 0
    let stopRequested: ControlCommand | undefined
    let wake: (() => void) | undefined
    const checkControl = () => {
      if (!existsSync(controlFile)) return
      let request: { seq: number; command: ControlCommand }
      try {
        request = JSON.parse(readFileSync(controlFile, 'utf8')) as { seq: number; command: ControlCommand }
      } catch {
        return
      }
      if (request.seq <= controlSeq) return
      controlSeq = request.seq
      if (request.command === 'pause') {
        if (state === 'running') {
          state = 'paused'
          reason = 'paused by request: no new orders; working orders and brackets stay'
          log(`deployment ${config.name}: ${reason}`)
        }
      } else if (request.command === 'resume') {
        if (state === 'paused') {
          state = 'running'
          reason = undefined
          log(`deployment ${config.name}: resumed`)
        }
      } else {
        stopRequested = request.command
        wake?.()
      }
      writeStatus()
    }
    const timer = setInterval(checkControl, 1000)
    timer.unref()
    const reconcileEvery = options.reconcileEveryMs ?? 60_000
    let lastReconcile = clock.now()
    try {
      const it = feed.batches()[Symbol.asyncIterator]()
      for (;;) {
        checkControl()
        if (stopRequested !== undefined) break
        const stopped = new Promise<'stop'>((resolve) => (wake = () => resolve('stop')))
        const next = await Promise.race([it.next(), stopped])
        wake = undefined
        if (next === 'stop') {
          void it.return?.()
          break
        }
        if (next.done === true) break
        const batch = next.value as FeedBatch
        session.drainInbox()
        for (const bar of batch.bars) session.onBar(bar)
        // The guards' "newest closed bar" while these bars are stepped.
        if (batch.bars.length > 0) lastClose = batch.watermark
        session.advanceTo(batch.watermark)
        bars += batch.bars.length
        const now = config.feed.kind === 'replay' ? engine.now : clock.now()
        if (engine.now === engine.now) {
          guards.observe(engine.sleeves[0]!.book.equity, now)
          if (guards.halted !== undefined && state === 'running') {
            state = 'halted'
            reason = guards.halted
            alert(`halted: ${reason}`)
          } else if (guards.halted === undefined && state === 'halted' && reason?.startsWith('max daily loss') === true) {
            state = 'running'
            reason = undefined
          }
        }
        for (const p of problems.splice(0)) alert(p)
        if (live && reconcileEvery > 0 && clock.now() - lastReconcile >= reconcileEvery) {
          lastReconcile = clock.now()
          try {
            for (const line of await reconcileNow(session, journal, venue as Venue & ReconcilableVenue, config.symbols, clock)) alert(line)
          } catch (error) {
            state = 'halted'
            reason = (error as Error).message
            alert(`halted: ${reason}`)
          }
        }
        const wall = Date.now()
        if (wall - lastStatus >= 250) {
          lastStatus = wall
          writeStatus()
        }
        if (run !== undefined && wall - lastMetric >= 1000 && engine.ticks > 0) {
          lastMetric = wall
          run.logMetrics({ equity: engine.sleeves[0]!.book.equity }, bars)
        }
      }
      if (stopRequested === 'flatten') {
        engine.flatten('kill switch: deploy stop --flatten')
        journal.flush()
        if (live) await settle(session, venue, clock, 10_000)
      }
      if (stopRequested === undefined) {
        session.finish()
        state = 'finished'
        reason = 'the feed ended'
      } else {
        state = 'stopped'
        reason = stopRequested === 'flatten' ? 'stopped by request; positions closed and orders cancelled (kill switch)' : 'stopped by request; working orders and brackets left in place'
      }
    } finally {
      clearInterval(timer)
    }
    journal.flush()
    writeStatus()
    if (run !== undefined) logRun(run, session, config, journal)
    return status()
  } catch (error) {
    state = 'failed'
    reason = error instanceof Error ? error.message : String(error)
    try {
      journal.flush()
      writeStatus()
    } catch {
      /* the original error matters more */
    }
    run?.fail(error)
    throw error
  } finally {
    journal.close()
    await venue.close()
  }
}

/** The journal's fills and open orders back into a fresh engine (a restart); nothing to do on a first start. */
function restore(session: EngineSession, journal: OrderJournal, clock: Clock): void {
  const state = journal.current
  if (state.orders.size === 0) return
  const engine = session.engine
  let last = 0
  for (const o of state.orders.values()) if (o.orderId !== undefined && o.orderId > last) last = o.orderId
  engine.continueIdsAfter(last)
  // Fills in the order they were journaled: the journal file is the order of events.
  for (const e of readEvents(journal.file)) {
    if (e.type !== 'fill') continue
    const o = state.orders.get(e.clientOrderId as string)!
    engine.restoreFill(o.strategy, o.symbol, o.side, e.qty as number, e.price as number, e.fee as number, e.time as number)
  }
  for (const o of state.orders.values()) {
    if (!OPEN_STATES.has(o.state)) continue
    const order = engine.adopt(o.strategy, adopted(o), clock.now())
    session.orders.set(o.clientOrderId, order)
  }
}

function adopted(o: JournalOrder) {
  return {
    cid: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    type: o.kind,
    role: (o.role ?? 'entry') as 'entry',
    qty: o.qty,
    filled: o.filled,
    avgPrice: o.avgPrice,
    ...(o.kind === 'limit' && o.price !== undefined ? { limit: o.price } : {}),
    ...(o.kind === 'stop' && o.price !== undefined ? { stop: o.price } : {}),
    ...(o.tag === undefined ? {} : { tag: o.tag }),
    ...(o.parentCid === undefined ? {} : { parentCid: o.parentCid }),
  }
}

function readEvents(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{') && !l.startsWith('{"#'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>]
      } catch {
        return []
      }
    })
}

/** Reconcile with a live venue: its view read (bounded retries), the differences journaled and applied. */
async function reconcileNow(session: EngineSession, journal: OrderJournal, venue: Venue & ReconcilableVenue, symbols: readonly string[], clock: Clock): Promise<string[]> {
  const view = await fetchVenueView(venue, journal.current, symbols, { clock })
  const rec = reconcile(journal.current, view)
  // Events for orders this process holds go through the session (the engine learns of them too); the rest
  // (orders closed before a restart, snapshots) only to the journal.
  const direct = { ...rec, events: [] as typeof rec.events }
  for (const e of rec.events) {
    const held = 'clientOrderId' in e ? session.orders.get(e.clientOrderId) : undefined
    if (held === undefined) {
      direct.events.push(e)
      continue
    }
    if (e.type === 'fill') session.applyVenueEvent({ type: 'fill', cid: e.clientOrderId, tradeId: e.tradeId, qty: e.qty, price: e.price, fee: e.fee, liquidity: 'taker', time: e.time })
    else if (e.type === 'ack') session.applyVenueEvent({ type: 'ack', cid: e.clientOrderId, exchangeId: e.exchangeOrderId, time: e.time })
    else if (e.type === 'cancel') session.applyVenueEvent({ type: 'cancel', cid: e.clientOrderId, reason: e.reason ?? 'cancelled at the venue', time: e.time })
    else if (e.type === 'reject') session.applyVenueEvent({ type: 'reject', cid: e.clientOrderId, reason: e.reason, time: e.time })
    else direct.events.push(e)
  }
  appendReconciliation(journal, direct)
  // A position the venue changed outside the journal's orders (closed on the exchange while down) is booked
  // into the portfolio at the last mark, so the strategy no longer believes in it.
  for (const e of direct.events) {
    if (e.type !== 'snapshot' || e.source !== 'venue') continue
    const engine = session.engine
    for (const [symbol, venueQty] of Object.entries(e.positions)) {
      const k = engine.symbolIndex.get(symbol)
      if (k === undefined) continue
      const held = engine.sleeves[0]!.book.positions[k]!.qty
      const diff = venueQty - held
      if (Math.abs(diff) <= 1e-9) continue
      const mark = engine.marks[k]! > 0 ? engine.marks[k]! : engine.sleeves[0]!.book.positions[k]!.avgPrice
      engine.restoreFill(engine.sleeves[0]!.name, symbol, diff > 0 ? 'buy' : 'sell', Math.abs(diff), mark, 0, clock.now())
    }
  }
  return rec.alerts
}

/** Waits (bounded) for a live venue to answer the orders just sent (the kill switch). */
async function settle(session: EngineSession, venue: Venue, clock: Clock, ms: number): Promise<void> {
  const until = clock.now() + ms
  while (clock.now() < until) {
    session.drainInbox()
    const open = session.engine.sleeves.some((s) => session.engine.workingOrders(s).length > 0)
    if (!open) return
    await clock.sleep(100)
  }
  void venue
}

/** The lake's bars of a replay deployment; after `watermark` (a restart) the feed, up to it the history. */
async function replayFeed(home: string, config: DeploymentConfig, options: RunDeploymentOptions, clock: Clock, watermark: number): Promise<{ feed: MarketFeed; history?: Record<string, Bars> }> {
  if (config.feed.kind !== 'replay') throw new ConfigError(`deployment ${config.name}: a ${config.feed.kind} feed is built by the caller (mtflow deploy)`)
  const tf = timeframeMs(config.timeframe)
  const series = []
  const history: Record<string, Bars> = {}
  for (const symbol of config.symbols) {
    const bars = await loadBars(home, { symbol, timeframe: config.timeframe, ...(config.feed.start === undefined ? {} : { start: config.feed.start }), ...(config.feed.end === undefined ? {} : { end: config.feed.end }) })
    if (bars.time.length === 0) throw new ConfigError(`deployment ${config.name}: no bars for ${symbol} ${config.timeframe} in the lake between ${String(config.feed.start ?? 'the start')} and ${String(config.feed.end ?? 'the end')}`)
    if (watermark === watermark) {
      let cut = 0
      while (cut < bars.time.length && bars.time[cut]! + tf <= watermark) cut++
      history[`${symbol}@${config.timeframe}`] = sliceAt(bars, 0, cut)
      series.push({ symbol, timeframe: config.timeframe, bars: sliceAt(bars, cut, bars.time.length) })
    } else series.push({ symbol, timeframe: config.timeframe, bars })
  }
  const pace = options.paceMs ?? 0
  return { feed: new ReplayFeed(series, pace > 0 ? { clock, paceMs: pace } : {}), ...(watermark === watermark ? { history } : {}) }
}

function sliceAt(b: Bars, from: number, to: number): Bars {
  return { symbol: b.symbol, timeframe: b.timeframe, time: b.time.subarray(from, to), open: b.open.subarray(from, to), high: b.high.subarray(from, to), low: b.low.subarray(from, to), close: b.close.subarray(from, to), volume: b.volume.subarray(from, to) }
}

function statusOf(
  config: DeploymentConfig,
  session: EngineSession,
  s: { state: DeploymentState; reason: string | undefined; startedAt: string; bars: number; lastClose: number; journal: string; runId: string | undefined },
): DeploymentStatus {
  const engine = session.engine
  const sleeve = engine.sleeves[0]!
  const book = sleeve.book
  const all = sleeve.trades.columns()
  // The last 1,000 while it runs (status.json is rewritten every quarter second); the run keeps them all.
  const from = Math.max(0, all.symbol.length - STATUS_TRADES)
  const trades = { ...all, symbol: all.symbol.slice(from) }
  return {
    name: config.name,
    state: s.state,
    ...(s.reason === undefined ? {} : { reason: s.reason }),
    pid: process.pid,
    mode: config.mode,
    strategy: `${config.strategy.name}@${config.strategy.version}`,
    symbols: config.symbols,
    timeframe: config.timeframe,
    startedAt: s.startedAt,
    updatedAt: new Date().toISOString(),
    ...(s.lastClose === s.lastClose ? { lastBar: isoTime(s.lastClose) } : {}),
    bars: s.bars,
    equity: book.equity,
    cash: book.cash,
    positions: book.held.map((p) => ({ strategy: sleeve.name, symbol: p.symbol, qty: p.qty, avgPrice: p.avgPrice, value: p.value, unrealized: p.unrealized })),
    openOrders: engine.workingOrders(sleeve).map((o) => {
      const order = o as Order
      return {
        cid: order.cid,
        id: order.id,
        symbol: order.symbol,
        side: order.side,
        type: order.type,
        role: order.role,
        qty: order.qty,
        filled: order.filled,
        ...(order.limit === order.limit ? { limit: order.limit } : {}),
        ...(order.stop === order.stop ? { stop: order.stop } : {}),
        status: order.status,
      }
    }),
    trades: trades.symbol.map((symbol, k) => ({
      symbol,
      direction: all.direction[from + k]!,
      entryTime: isoTime(all.entryTime[from + k]!),
      entryPrice: all.entryPrice[from + k]!,
      exitTime: isoTime(all.exitTime[from + k]!),
      exitPrice: all.exitPrice[from + k]!,
      qty: all.qty[from + k]!,
      pnl: all.pnl[from + k]!,
      open: all.open[from + k]!,
    })),
    tradeCount: all.symbol.length,
    fills: sleeve.fills.count,
    ...(s.runId === undefined ? {} : { runId: s.runId }),
    journal: s.journal,
  }
}

/** The run gets what a backtest logs (metrics, equity and drawdown, orders/fills/trades files) plus the journal. */
function logRun(run: ActiveRun, session: EngineSession, config: DeploymentConfig, journal: OrderJournal): void {
  let result: BacktestResult | undefined
  try {
    result = collectResults(session.engine)
  } catch {
    result = undefined // fewer than two points: nothing to measure yet
  }
  if (result !== undefined) logBacktest(run, result, { params: config.params, config: { deployment: config.name, mode: config.mode } })
  run.setTag('mtflow.kind', 'deployment')
  if (existsSync(journal.file)) run.logArtifact({ name: 'journal.jsonl', data: readFileSync(journal.file) })
  run.end()
}

function prefixed(params: Record<string, number | string>): Record<string, number | string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [`param.${k}`, v]))
}

function writeFileAtomicAppend(file: string, line: string): void {
  const fd = openSync(file, 'a', 0o644)
  try {
    writeSync(fd, line)
  } finally {
    closeSync(fd)
  }
}

export const __test = { restore, timeframeMs }
