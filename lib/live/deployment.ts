// Running a deployment: the production config (lib/live/config.ts) on the backtest's engine, fed by a
// MarketFeed, trading through a Venue, with the order journal, guards outside strategy code, a status file
// other processes read (`mtflow deploy status`), control requests they write (stop, pause, resume,
// flatten), reconciliation with a live venue at start and every N seconds, and a tracked run.
//
// Workspace layout: deployments/<name>/
//   journal.jsonl   the order journal (lib/live/journal.ts)
//   status.json     the last state written (atomically): state, positions, open orders, trades, equity
//   control/        requests from other processes, one file each (<seq>.json: { seq, command, at[, file,
//                   sha256] }, created exclusively), taken in order — a pause sent with an orders file loses neither
//   orders/         orders files handed in by `mtflow deploy submit` (lib/live/orders-file.ts), by sha256
//   alerts.jsonl    one line per alert (reconciliation differences, guard refusals, halts)
//   run.pid         { pid, start } while a process runs it (a second start of the same name is refused)
//   outside.json    live: what the account held of each symbol's base before the deployment's first start
//                   (spot balances are positions; coins held before are not the deployment's)
//
// This module loads no exchange library: a live venue and live feeds (ccxt) are built by the caller
// (lib/cli/deploy.ts) and passed in.

import { chmodSync, closeSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { BrokerError, ConfigError, DataError, errorMessage, isoTime, pidAlive, processStartTime, readFileCapped, resolveHome, sha256, textOf, timeframeMs, writeFileAtomic } from '../core/index.js'
import { collectResults, logBacktest, type BacktestResult } from '../backtest/index.js'
import type { Order } from '../backtest/orders.js'
import { loadBars, type Bars } from '../data/index.js'
import { registeredSourceFile, type Strategy } from '../strategy/index.js'
import { type ActiveRun, openTracker, Registry } from '../track/index.js'
import type { DeploymentConfig } from './config.js'
import { ReplayFeed, WallClock, type Clock, type FeedBatch, type MarketFeed, type ReplaySeries } from './feed.js'
import { guardsFor } from './guards.js'
import { OPEN_STATES, OrderJournal, type JournalOrder, type JournalState } from './journal.js'
import { MAX_ORDERS_FILE_BYTES, parseOrdersFile } from './orders-file.js'
import { appendReconciliation, fetchVenueView, reconcile, type ReconcilableVenue } from './reconcile.js'
import type { VenueTrade } from './ccxt-venue.js'
import { EngineSession } from './session.js'
import { SimVenue } from './sim-venue.js'
import type { Venue, VenueEvent, VenueOrderState } from './venue.js'

const STATUS_TRADES = 1000

export type DeploymentState = 'starting' | 'running' | 'paused' | 'halted' | 'stopped' | 'finished' | 'failed'
export type ControlCommand = 'stop' | 'pause' | 'resume' | 'flatten' | 'orders'

export interface DeploymentStatus {
  name: string
  state: DeploymentState
  /** Why it is paused, halted, stopped or failed. */
  reason?: string
  pid: number
  mode: 'paper' | 'live'
  /** The ccxt exchange id it trades on (live) or takes its markets from (paper). */
  exchange: string
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
  /** Holdings below the least amount an order can trade (a fee taken in the coins bought leaves them): no position, counted in the equity. */
  dust?: { symbol: string; qty: number; value: number }[]
  openOrders: { cid: string; id: number; symbol: string; side: string; type: string; role: string; qty: number; filled: number; limit?: number; stop?: number; status: string }[]
  /** Round trips so far, the last 1,000 (the tracked run has them all as trades.parquet); `tradeCount` counts them all. */
  trades: { symbol: string; direction: 'long' | 'short'; entryTime: string; entryPrice: number; exitTime: string; exitPrice: number; qty: number; pnl: number; open: boolean }[]
  tradeCount: number
  fills: number
  runId?: string
  journal: string
  /** The guards' UTC day (days since the epoch) and its start equity: a restart the same day keeps them (and the halt). */
  guardDay?: { day: number; start: number; halt?: string }
  /** The last orders file handed in (`deploy submit`): taken (its client ids) or refused (why). */
  ordersFile?: { file: string; at: string; taken: boolean; orders: number; clientOrderIds?: string[]; refused?: { clientOrderId: string; reason: string }[]; resized?: { clientOrderId: string; qty: number }[]; reason?: string }
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
  /** Reconcile with a live venue every this many ms (default 60,000); 0: only at start and after reconnects (a live feed's batch with no stale series after one with some). */
  reconcileEveryMs?: number
  /**
   * Live: how long an UNKNOWN order (a send whose answer never came) that the venue does not know is looked
   * up again before it is taken as never placed (default 15,000 ms: longer than the recvWindow within which
   * Binance executes a request or refuses it).
   */
  unknownGraceMs?: number
  /** Status, alert and progress lines. */
  log?: (line: string) => void
  /**
   * Text the deployment writes where the server shows it (alerts.jsonl, status.json's reason, the run's error)
   * with its credentials taken out (the CLI passes lib/live/credentials.ts redact). The venue already strips them
   * from its errors; an error from elsewhere carrying one was written as it was (an attack review).
   */
  redact?: (text: string) => string
  /**
   * Aborted: stop as `deploy stop` asks (working orders and brackets left in place), taken directly — Ctrl-C
   * and SIGTERM of the process running it, which the control folder could hold up (an attack review).
   */
  stop?: AbortSignal
}

/**
 * The journal's deployment id: the name and a random salt made at the folder's first start (deployment.id).
 * Client order ids hash it, so two workspaces trading one account under the same deployment name, or a
 * deployment started again after its folder was deleted, never send an id the exchange has seen.
 */
function journalId(dir: string, name: string): string {
  const file = join(dir, 'deployment.id')
  // A journal from before the salt (no deployment.id beside it) keeps its ids: the name alone.
  if (!existsSync(file) && existsSync(join(dir, 'journal.jsonl'))) return name
  if (!existsSync(file)) writeFileAtomic(file, `${randomBytes(8).toString('hex')}\n`, { durable: true })
  const salt = readFileSync(file, 'utf8').trim()
  if (!/^[0-9a-f]{16}$/.test(salt)) throw new DataError(`${file} is corrupt: expected 16 hex digits (the deployment's client-id salt); see mtflow doctor`)
  return `${name}#${salt}`
}

/** Net journaled positions of the workspace's other live deployments on `exchange`, per symbol, with their names. */
function otherDeployments(home: string, self: string, exchange: string, symbols: readonly string[]): { positions: Record<string, number>; names: Record<string, string[]> } {
  const positions: Record<string, number> = {}
  const names: Record<string, string[]> = {}
  const root = join(home, 'deployments')
  if (!existsSync(root)) return { positions, names }
  for (const name of readdirSync(root)) {
    if (name === self) continue
    const statusFile = join(root, name, 'status.json')
    if (!existsSync(statusFile)) continue
    let status: Partial<DeploymentStatus>
    try {
      status = JSON.parse(readFileSync(statusFile, 'utf8')) as Partial<DeploymentStatus>
    } catch {
      continue
    }
    if (status.mode !== 'live' || status.exchange !== exchange) continue
    const state = OrderJournal.open(join(root, name), name).current
    for (const symbol of symbols) {
      let q = 0
      let trades = false
      for (const [key, qty] of state.positions) {
        if (!key.endsWith(`|${symbol}`)) continue
        q += qty
        trades = true
      }
      if (!trades && !(status.symbols ?? []).includes(symbol)) continue
      // Its fee units paid from the account's other coins are gone from the balance too.
      q -= state.feeOutside?.get(symbol) ?? 0
      positions[symbol] = (positions[symbol] ?? 0) + q
      names[symbol] = [...(names[symbol] ?? []), name]
    }
  }
  return { positions, names }
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
export function requestControl(home: string | undefined, name: string, command: ControlCommand, extra: { file?: string; sha256?: string } = {}): DeploymentStatus & { controlSeq: number } {
  const status = readStatus(home, name)
  const dir = deploymentDir(home, name)
  if (!runningPid(dir)) throw new ConfigError(`deployment ${name} is not running (state ${status.state}${status.reason === undefined ? '' : `: ${status.reason}`})`)
  const folder = join(dir, 'control')
  mkdirSync(folder, { recursive: true })
  // The next number, claimed by linking a whole file to its name exclusively: two requests at once both land,
  // in some order, and a request's file is never seen half-written (written in place, one cut short by a
  // killed `deploy stop` or a full disk stayed empty and held up every request after it: an attack review).
  for (let attempt = 0; attempt < 100; attempt++) {
    const seq = lastControlSeq(dir) + 1
    const body = `${JSON.stringify({ seq, command, at: new Date().toISOString(), ...extra })}\n`
    const temp = join(folder, `.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
    writeFileSync(temp, body, { flag: 'wx' })
    try {
      linkSync(temp, join(folder, controlFileName(seq)))
    } catch (error) {
      if ((error as { code?: string }).code === 'EEXIST') continue
      throw error
    } finally {
      rmSync(temp, { force: true })
    }
    return { ...status, controlSeq: seq }
  }
  throw new BrokerError(`deployment ${name}: could not queue the ${command} request (its control folder keeps changing)`)
}

const controlFileName = (seq: number) => `${String(seq).padStart(12, '0')}.json`

/** A request's number from its file's name (12 digits, more past 999,999,999,999), or undefined for any other file. */
function controlSeqOf(file: string): number | undefined {
  const m = /^(\d{12,15})\.json$/.exec(file)
  return m === null ? undefined : Number(m[1])
}

/** The highest request number in a deployment's control folder (0: none). */
function lastControlSeq(dir: string): number {
  const folder = join(dir, 'control')
  if (!existsSync(folder)) return 0
  let last = 0
  for (const f of readdirSync(folder)) last = Math.max(last, controlSeqOf(f) ?? 0)
  return last
}

/** How long a request's file may stay unreadable before it is skipped (with an alert) so the ones after it are taken. */
const UNREADABLE_CONTROL_MS = 5000

/**
 * Hands an orders file (`mtflow portfolio targets --positions NAME --out FILE`) to a running deployment: checked
 * here first against the deployment's journal id and its next sequence number (a file made before the
 * deployment sent anything else, so its client ids are the next ones), copied into deployments/NAME/orders/
 * under its sha256 and requested; the deployment checks it again and places its orders at once, in file order,
 * on the sleeve's book, under exactly the file's client ids (status.json's ordersFile says what became of it).
 */
export function submitOrdersFile(home: string | undefined, name: string, file: string): { status: DeploymentStatus; sha256: string; orders: number; firstSeq: number } {
  const dir = deploymentDir(home, name)
  const status = readStatus(home, name)
  if (!runningPid(dir)) throw new ConfigError(`deployment ${name} is not running (state ${status.state}${status.reason === undefined ? '' : `: ${status.reason}`}); orders files go to a running deployment`)
  const id = journalId(dir, name)
  // Read only (nothing is appended): the running deployment holds the journal open for writing.
  const nextSeq = OrderJournal.open(dir, id, { durability: 'step' }).current.nextSeq
  // Read once: the text checked is the text copied (read again, a file swapped between the two went in unchecked
  // and uncapped; the deployment checks its copy again all the same).
  // The copy is the file's bytes as they are (a byte-order mark and all): its name is the sha256 `sha256sum` gives.
  const bytes = readFileCapped(file, 'orders file', MAX_ORDERS_FILE_BYTES)
  const content = parseOrdersFile(textOf(bytes), file, { deploymentId: id, nextSeq })
  const hash = sha256(bytes)
  const inbox = join(dir, 'orders')
  mkdirSync(inbox, { recursive: true })
  writeFileAtomic(join(inbox, `${hash}.json`), bytes, { durable: true })
  return { status: requestControl(home, name, 'orders', { file: `${hash}.json`, sha256: hash }), sha256: hash, orders: content.orders.length, firstSeq: content.firstSeq! }
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
  // The deployment's folder is its user's alone (0700): its journal, status and alerts are the account's trading
  // record, which its files' 0644 showed every local user (an attack review).
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
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
  // Requests from before this start are not replayed; those from now on (the claim is taken) are all taken.
  let controlSeq = lastControlSeq(dir)
  const log = options.log ?? (() => {})
  const clock = options.clock ?? new WallClock()
  const live = options.venue !== undefined && !options.venue.matchesOnBars
  if (config.mode === 'live' && !live) throw new ConfigError(`deployment ${config.name} is live: it needs a live venue (CcxtVenue)`)
  if (config.mode === 'paper' && live) throw new ConfigError(`deployment ${config.name} is paper: it trades on the simulated exchange, never on a live venue`)
  const venue = options.venue ?? new SimVenue()
  const journal = OrderJournal.open(dir, journalId(dir, config.name), { durability: !live ? 'step' : config.venue.fsyncBeforeSend === true ? 'strict' : 'each' })
  const guards = guardsFor(config)
  // A restart within the UTC day keeps the day's start equity (restarted, a deployment halted by its daily loss began
  // the day again at the equity after the loss, and lost twice the limit: an audit).
  try {
    const before = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as DeploymentStatus
    if (before.guardDay !== undefined) guards.resumeDay(before.guardDay)
  } catch {
    /* no status yet */
  }
  const alerts = join(dir, 'alerts.jsonl')
  const redact = options.redact ?? ((text: string) => text)
  const alert = (raw: string) => {
    const text = redact(raw)
    writeFileAtomicAppend(alerts, `${JSON.stringify({ time: new Date(clock.now()).toISOString(), text })}\n`)
    log(`alert: ${text}`)
  }
  // What the venue says needs the user (a fee it could not count, a cancel that failed) is an alert, not only a log line.
  ;(venue as { attentionTo?(sink: (line: string) => void): void }).attentionTo?.((line) => alert(`venue ${line}`))
  const problems: string[] = []
  let state: DeploymentState = 'starting'
  let reason: string | undefined
  let ordersFile: DeploymentStatus['ordersFile']
  const startedAt = new Date().toISOString()
  // Cash × weight: the deployment's share of the capital (one sleeve, so the engine's own weights cannot do it).
  const cash = (config.cash ?? 100_000) * config.weight
  // A replay restarted after a crash continues after the last step its journal marked; the bars before it
  // are history (held, streamed into the indicators, never traded on again).
  let feed = options.feed
  let history = options.history
  // A paper replay restarted after a crash runs again from its first bar into a scratch journal up to the
  // last step the journal marked — on the simulated exchange that is deterministic, so the strategy's own
  // state (what it built in onBar) comes back exactly — checks the scratch journal against the real one, and
  // carries on with the real one.
  const marked = journal.current.watermark
  // Only a journal the same config wrote can be reproduced; one written under other params, symbols or
  // costs (a new version deployed under the same name) is taken over as it is: its fills and open orders.
  const configFile = join(dir, 'config.json')
  const configText = `${JSON.stringify(config, null, 1)}\n`
  const sameConfig = existsSync(configFile) && readFileSync(configFile, 'utf8') === configText
  // A pause, resume or flatten is not repeated by a re-run either (an operations review: such a journal was refused).
  const controlled = journal.current.controlled
  const rerun = !live && feed === undefined && config.feed.kind === 'replay' && marked === marked && sameConfig && !controlled
  if (marked === marked && !live && config.feed.kind === 'replay') {
    if (!sameConfig) alert(`the journal was written under another config than this one: its fills and open orders are taken over, and the strategy's own state restarts from the history`)
    else if (controlled) alert(`the journal records a pause, resume or flatten, which a re-run does not repeat: its fills and open orders are taken over, and the strategy's own state restarts from the history`)
  }
  writeFileAtomic(configFile, configText)
  let scratch: OrderJournal | undefined
  /**
   * False while a re-run's catch-up runs on the scratch journal: its book is not yet this deployment's, so
   * status.json keeps the book it last showed (with this start's state): a re-run that does not reproduce
   * the journal once wrote its own trades and positions there (an operations review).
   */
  let verified = true
  if (rerun) {
    verified = false
    const scratchDir = join(dir, 'rerun')
    rmSync(scratchDir, { recursive: true, force: true })
    scratch = OrderJournal.open(scratchDir, journal.deploymentId, { durability: 'step' })
    const whole = await replayFeed(home, config, options, clock, NaN)
    const upTo = splitReplay(whole.series, marked)
    const first = new ReplayFeed(upTo.before) // the catch-up: as fast as possible
    const rest = new ReplayFeed(upTo.after, (options.paceMs ?? 0) > 0 ? { clock, paceMs: options.paceMs! } : {})
    const verify = () => {
      scratch!.flush()
      const strip = (file: string) => readEvents(file).filter((e) => e.type !== 'mark' && e.type !== 'snapshot' && e.type !== 'control')
      const again = strip(scratch!.file)
      const before = strip(journal.file)
      const differs = again.findIndex((e, k) => JSON.stringify(e) !== JSON.stringify(before[k]))
      if (differs >= 0 || again.length !== before.length) {
        const at = differs >= 0 ? differs : Math.min(again.length, before.length)
        throw new DataError(`deployment ${config.name}: re-running its replay up to the last step it recorded does not reproduce its journal (event ${at + 1}: ${JSON.stringify(before[at] ?? null)} recorded, ${JSON.stringify(again[at] ?? null)} now — has the strategy, its params or the lake's bars changed, or was it paused, resumed or flattened (deploy pause/resume/stop --flatten), which a re-run does not repeat?); the journal and its status are kept as they are`)
      }
      session.switchJournal(journal)
      verified = true
      scratch!.close()
      rmSync(scratchDir, { recursive: true, force: true })
    }
    feed = {
      async *batches() {
        yield* first.batches()
        verify()
        yield* rest.batches()
      },
    }
  } else if (feed === undefined) {
    const replay = await replayFeed(home, config, options, clock, journal.current.watermark)
    feed = replay.feed
    if (replay.history !== undefined) history = replay.history
  }
  const session = new EngineSession(
    {
      cash,
      ...(config.sizing === undefined ? {} : { sizing: config.sizing }),
      ...(config.fills === undefined ? {} : { fills: config.fills }),
      // A live venue trades spot markets only (CcxtVenue): no short selling, so a sell is cut to what the deployment
      // holds ("shorting is disabled"). An orders file's or a strategy's sell past it went out whole and sold coins
      // the account held before the deployment, or another deployment's (an attack review: 0.2 BTC with none held).
      ...(config.limits === undefined && !live ? {} : { limits: { ...config.limits, ...(live ? { allowShort: false } : {}) } }),
      ...(config.lotSize === undefined ? {} : { lotSize: config.lotSize }),
      sleeves: [{ strategy: options.strategy, params: config.params, symbols: config.symbols, timeframe: config.timeframe, weight: 1, name: config.strategy.name }],
      ...(history === undefined ? {} : { history }),
    },
    {
      journal: scratch ?? journal,
      venue,
      ...(live ? { clock } : {}),
      onEvent: (event: VenueEvent, problem?: string) => {
        if (problem !== undefined) problems.push(problem)
        else if (event.type === 'unknown' && liveOps !== undefined) {
          // Resolved by looking the client id up, never by sending again.
          liveOps.unknownSince.set(event.cid, clock.now())
          liveOps.kick()
        } else if (event.type === 'reject' && liveOps !== undefined) {
          // A protective leg refused leaves the position without it: said, not only logged in the orders.
          const order = session.orders.get(event.cid)
          if (order !== undefined && (order.role === 'stop-loss' || order.role === 'take-profit')) {
            problems.push(`${event.cid} (${order.role} ${order.side} ${order.qty} ${order.symbol}) was refused: ${event.reason} — the position is not protected by it (on spot both legs of a bracket hold the same coins, so the exchange takes only the first unless the account holds more)`)
          }
        }
      },
    },
  )
  const engine = session.engine
  let liveOps: LiveOps | undefined
  if (live) liveOps = liveOperations({ home, session, journal, venue: venue as Venue & ReconcilableVenue, config, clock, dir, alert, graceMs: options.unknownGraceMs ?? 15_000 })
  let lastClose = NaN
  let bars = 0
  /** Symbols of the series the live feed's last batch reported stale. */
  let staleSymbols = new Set<string>()
  // Guards and pause: asked for every order the strategy places (bracket legs and the kill switch are not).
  let cut = ''
  engine.hooks = {
    ...engine.hooks!,
    admit: (order: Order, qty: number, price: number) => {
      // Halted by the daily loss: the guard judges (orders that only reduce a position still go — the strategy's close
      // was refused, silently, until the next UTC day: an audit); by a failed reconciliation: nothing goes.
      if (state === 'paused' || (state === 'halted' && liveOps?.halted !== undefined)) return `${state}: ${reason ?? ''}`.trim()
      if (staleSymbols.has(order.symbol)) {
        const why = `stale data: the feed reports ${order.symbol} late (no new closed bar past maxLagMs)`
        alert(`${order.symbol} ${order.side} ${qty} refused: ${why}`)
        return why
      }
      // A replay's time is its bars'; any other feed's is the clock's (so data that stopped arriving is stale).
      const now = config.feed.kind === 'replay' ? engine.now : clock.now()
      const k = engine.symbolIndex.get(order.symbol)!
      // The bar being handled is the data the decision rests on: in a batch that catches up after an outage
      // (a 429 storm on the klines), an order placed on one of its older bars is refused as stale.
      const barClose = engine.now === engine.now ? engine.now : lastClose
      // This side's entries working and not filled count toward the notional cap (two buys in one bar each passed it
      // alone; the other side's, which may never fill, do not make room); this side's working orders already take
      // part of the position (a bracket's two legs once; orders being withdrawn take nothing).
      const sleeve = engine.sleeves[0]!
      const pending = engine.workingEntries(sleeve, k, order.side)
      const closing = engine.workingOn(sleeve, k, order, order.side)
      const decision = guards.check({ symbol: order.symbol, side: order.side, qty, price }, { equity: sleeve.book.equity, position: sleeve.book.positions[k]!.qty, pending, closing, lastBarClose: barClose }, now)
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

  const tracker = options.track === false ? undefined : openTracker(home)
  let run: ActiveRun | undefined
  // Fills as the journal counts them (by trade id): the session's own log starts empty at every start, and the
  // status said "0 fills" while holding a recovered position (an operations review).
  const status = (): DeploymentStatus => ({ ...statusOf(config, session, { state, reason, startedAt, bars, lastClose, journal: journal.file, runId: run?.id }), fills: journal.current.tradeIds.size, ...(ordersFile === undefined ? {} : { ordersFile }), ...(guards.dayState === undefined ? {} : { guardDay: guards.dayState }) })
  let written = ''
  /** The journal's events when the status was last written (see the control timer). */
  let statusEvents = -1
  const writeStatus = () => {
    statusEvents = journal.appended
    const file = join(dir, 'status.json')
    if (verified) writeFileAtomic(file, `${JSON.stringify(status(), null, 1)}\n`)
    else if (existsSync(file)) {
      // A re-run's catch-up: this process's status (its pid, start, state) with the book last written.
      const last = JSON.parse(readFileSync(file, 'utf8')) as DeploymentStatus
      const book = { lastBar: last.lastBar, bars: last.bars, equity: last.equity, cash: last.cash, positions: last.positions, openOrders: last.openOrders, trades: last.trades, tradeCount: last.tradeCount, fills: last.fills }
      writeFileAtomic(file, `${JSON.stringify({ ...status(), ...book }, null, 1)}\n`)
    }
    written = `${state}|${reason ?? ''}`
  }
  let lastStatus = 0
  let lastMetric = 0
  /** Halted while a guard (max daily loss) or a failed reconciliation says so; running again when neither does. */
  const updateHalt = () => {
    const halted = liveOps?.halted ?? guards.halted
    const why = halted === undefined ? undefined : redact(halted)
    if (state === 'running' && why !== undefined) {
      state = 'halted'
      reason = why
      alert(`halted: ${reason}`)
    } else if (state === 'halted' && why === undefined) {
      alert(`resumed: ${reason?.startsWith('max daily loss') === true ? 'a new UTC day' : 'reconciliation with the venue succeeded'}; new orders allowed again`)
      state = 'running'
      reason = undefined
    } else if (state === 'halted' && why !== reason) reason = why
  }

  try {
    // The markets' amount steps before the journal's fills are booked again: a restart rebuilds its trades with
    // the same dust rule as when they were made (booked without it, two round trips became one — a review).
    const markets = live ? (venue as Venue).loadMarkets?.bind(venue) : undefined
    if (markets !== undefined) {
      await markets()
      dustBelowAmountStep(engine, config, venue, log)
    }
    if (!rerun) restore(session, journal, clock, venue as { adopt?(cid: string, symbol: string, exchangeId?: string): void; adoptList?(listCid: string, legs: [string, string]): void })
    writeStatus()
    // A restart looks at the venue from its journal's last event (and its oldest open order) on: trades
    // made and orders sent while it was down, intents a power loss took.
    if (live) (venue as { lookBack?(time: number): void }).lookBack?.(lookBackFrom(journal.current))
    await venue.start({ symbols: config.symbols, kinds: new Set(['market', 'limit', 'stop']) })
    if (live) sizeWithVenueFees(engine, config, venue, log)
    if (live) {
      // Orders whose send was never answered (the process died between send and answer): looked up first,
      // their grace counted from when they were journaled.
      for (const o of journal.current.orders.values()) if (o.state === 'UNKNOWN') liveOps!.unknownSince.set(o.clientOrderId, Number.isFinite(o.time) ? o.time : clock.now())
      await liveOps!.resolveUnknown()
      await liveOps!.reconcile()
      // An order recovered after a power loss is nobody's: cancelled at every start until the venue says so.
      for (const [cid, order] of session.orders) {
        if (order.working && journal.current.orders.get(cid)?.role === 'recovered') engine.cancelNow(order, 'its intent was lost (power loss): cancelled at restart')
      }
      if (!rerun) restoreOwedBrackets(session, journal, clock, alert)
      session.drainInbox()
    }
    if (tracker !== undefined) {
      // The lineage of a backtest of the same version: its source's sha256 (the bundle that runs), so one search
      // finds the backtests and the deployments of a strategy (the version's hash, source and params, is tagged
      // apart: a new-user check found the two never matched).
      const source = strategySourceHash(tracker.home, config.strategy)
      run = tracker.startRun({
        experiment: 'deployments',
        name: `deploy ${config.name}`,
        ...(source === undefined ? {} : { lineage: { strategy: { name: config.strategy.name, sha256: source } } }),
        params: { deployment: config.name, strategy: `${config.strategy.name}@${config.strategy.version}`, mode: config.mode, exchange: config.venue.exchange, symbols: config.symbols.join(','), timeframe: config.timeframe, weight: config.weight, cash, ...prefixed(config.params) },
        tags: { 'mtflow.kind': 'deployment', 'mtflow.deployment': config.name, 'mtflow.strategy': `${config.strategy.name}@${config.strategy.version}`, 'mtflow.strategy.sha256': source ?? config.strategy.sha256, 'mtflow.strategy.version.sha256': config.strategy.sha256 },
      })
    }
    state = 'running'
    updateHalt() // a reconciliation that failed at start halts before onStart can place an order
    session.start()
    // Live: what the strategy builds bar by bar (ctx.state) comes back from the warm-up history, replayed
    // through its onBar on the simulated exchange (nothing is sent), so a restart does not begin it afresh.
    if (live && history !== undefined && Object.keys(history).length > 0) {
      try {
        await warmStrategyState(session, options.strategy, config, history, cash)
      } catch (error) {
        alert(`replaying the warm-up history through the strategy failed (${errorMessage(error)}); its own state starts afresh from here`)
      }
    }
    writeStatus()
    log(`deployment ${config.name}: ${config.mode} ${config.strategy.name}@${config.strategy.version} on ${config.symbols.join(', ')} ${config.timeframe}, ${live ? 'live venue' : 'simulated exchange'}, feed ${config.feed.kind}`)

    const controlFolder = join(dir, 'control')
    let stopRequested: ControlCommand | undefined
    let wake: ((why: 'stop' | 'orders') => void) | undefined
    const ordersRequests: { file: string; sha256: string }[] = []
    // A request's file that could not be read, and since when (one of a writer from before requests were linked
    // whole may still be being written: waited for, in order, then skipped with an alert).
    let unreadable: { file: string; since: number } | undefined
    const checkControl = () => {
      if (!existsSync(controlFolder)) return
      const waiting = readdirSync(controlFolder)
        .map((f) => ({ f, seq: controlSeqOf(f) }))
        .filter((x): x is { f: string; seq: number } => x.seq !== undefined && x.seq > controlSeq)
        .sort((a, b) => a.seq - b.seq)
      for (const { f, seq } of waiting) {
        let request: { seq: number; command: ControlCommand; file?: unknown; sha256?: unknown }
        try {
          request = JSON.parse(readFileSync(join(controlFolder, f), 'utf8')) as { seq: number; command: ControlCommand }
          if (request === null || typeof request !== 'object' || typeof request.command !== 'string') throw new Error('not a request')
        } catch {
          const now = Date.now()
          if (unreadable?.file !== f) unreadable = { file: f, since: now }
          if (now - unreadable.since < UNREADABLE_CONTROL_MS) break // read again at the next check, in order
          alert(`control request ${f} could not be read for ${Math.round(UNREADABLE_CONTROL_MS / 1000)} s: skipped (the requests after it are taken)`)
          unreadable = undefined
          controlSeq = seq
          continue
        }
        unreadable = undefined
        controlSeq = seq
        applyControl(request)
      }
      // Requests long taken are removed (the last 50 stay, for a look at what was asked).
      for (const f of readdirSync(controlFolder)) {
        const seq = controlSeqOf(f)
        if (seq !== undefined && seq <= controlSeq - 50) rmSync(join(controlFolder, f), { force: true })
      }
    }
    const applyControl = (request: { seq: number; command: ControlCommand; file?: unknown; sha256?: unknown }) => {
      if (request.command === 'orders') {
        ordersRequests.push({ file: String(request.file), sha256: String(request.sha256) })
        wake?.('orders')
      } else if (request.command === 'pause') {
        if (state === 'running') {
          state = 'paused'
          reason = 'paused by request: no new orders; working orders and brackets stay'
          journal.control('pause', clock.now())
          log(`deployment ${config.name}: ${reason}`)
        }
      } else if (request.command === 'resume') {
        if (state === 'paused') {
          state = 'running'
          reason = undefined
          journal.control('resume', clock.now())
          log(`deployment ${config.name}: resumed`)
        }
      } else {
        // A flatten asked once is not undone by a plain stop after it (an operator's flatten, then systemd's
        // or Ctrl-C's stop within the same second ended with the position held: an attack review).
        if (stopRequested !== 'flatten') stopRequested = request.command
        wake?.('stop')
      }
      writeStatus()
    }
    if (options.stop !== undefined) {
      const direct = () => applyControl({ seq: controlSeq, command: 'stop' })
      if (options.stop.aborted) direct()
      else options.stop.addEventListener('abort', direct, { once: true })
    }
    // Each second: control requests, and the status when the journal moved since it was written — a live
    // venue's fill or acknowledgement arrives between bars (a 1d deployment showed a fill a day late).
    const timer = setInterval(() => {
      checkControl()
      if (journal.appended !== statusEvents) writeStatus()
    }, 1000)
    timer.unref()
    // An orders file handed in by `deploy submit`: checked again here (the journal id, the next sequence
    // number — nothing sent since it was made — every symbol in the universe, a running deployment), then its
    // orders are placed at once in file order on the sleeve's book, so each gets the file's client id. An
    // order that only reduces a position goes as an exit (never more than is held); the rest as entries.
    // The guards judge them as any other order. Refused whole, with an alert, when any check fails.
    const takeOrdersFile = (request: { file: string; sha256: string }) => {
      const at = new Date(clock.now()).toISOString()
      try {
        if (!/^[0-9a-f]{64}\.json$/.test(request.file) || request.file !== `${request.sha256}.json`) throw new ConfigError('the request does not name a file of the orders folder by its sha256')
        const path = join(dir, 'orders', request.file)
        // Read once, capped: the text hashed is the text placed.
        const bytes = readFileCapped(path, 'orders file', MAX_ORDERS_FILE_BYTES)
        if (sha256(bytes) !== request.sha256) throw new ConfigError('its content is not the content submitted (sha256 differs)')
        const text = textOf(bytes)
        if (state !== 'running') throw new ConfigError(`the deployment is ${state}${reason === undefined ? '' : ` (${reason})`}; orders files are taken only while it runs`)
        const content = parseOrdersFile(text, path, { deploymentId: journal.deploymentId, nextSeq: journal.current.nextSeq })
        const sleeve = engine.sleeves[0]!
        for (const o of content.orders) if (!engine.symbols.includes(o.symbol)) throw new ConfigError(`it orders ${o.symbol}, which deployment ${config.name} does not trade (${engine.symbols.join(', ')})`)
        // The positions the file was made from must still be the book's (a fill since would make its orders wrong).
        for (const [symbol, qty] of Object.entries(content.assumed ?? {})) {
          const k = engine.symbols.indexOf(symbol)
          const q = k < 0 ? 0 : sleeve.book.positions[k]!.qty
          const held = k < 0 || engine.isFlat(k, q) ? 0 : q
          if (Math.abs(held - qty) > 1e-9 * Math.max(1, Math.abs(qty))) throw new ConfigError(`it was made for a position of ${qty} ${symbol}; the deployment holds ${held} now (make it again)`)
        }
        for (const o of content.orders) {
          const working = sleeve.ctx.openOrders(o.symbol)
          if (working.length > 0) throw new ConfigError(`${working.length} order${working.length === 1 ? ' is' : 's are'} working on ${o.symbol}; the file's order would add to ${working.length === 1 ? 'it' : 'them'} (cancel or wait, then make it again)`)
        }
        // One order at a time, so each takes the file's id: one the engine or a guard refuses before it is
        // journaled gives its sequence number up (a skip event), and the next order still gets its own.
        const placed: string[] = []
        const refused: { clientOrderId: string; reason: string }[] = []
        const resized: { clientOrderId: string; qty: number }[] = []
        for (const o of content.orders) {
          const seq = journal.current.nextSeq
          const held = sleeve.book.positions[engine.symbols.indexOf(o.symbol)]!.qty
          const reduces = o.side === 'sell' ? held > 0 && o.qty <= held + 1e-12 : held < 0 && o.qty <= -held + 1e-12
          const order = engine.request(sleeve, o.side, o.symbol, { qty: o.qty, type: 'market', tag: 'orders-file' }, reduces ? 'exit' : 'entry')
          engine.submitQueued()
          if (journal.current.nextSeq === seq) {
            journal.skip(`orders file ${request.file}: ${o.clientOrderId} refused (${order.reason || 'not placed'})`, clock.now())
            refused.push({ clientOrderId: o.clientOrderId, reason: order.reason || 'not placed' })
            continue
          }
          if (order.cid !== o.clientOrderId) alert(`orders file ${request.file}: order ${o.clientOrderId} went out under client id ${order.cid}`)
          placed.push(order.cid)
          if (order.qty < o.qty - 1e-12) resized.push({ clientOrderId: o.clientOrderId, qty: order.qty })
        }
        journal.flush()
        const taken = refused.length === 0
        ordersFile = { file: request.file, at, taken, orders: placed.length, clientOrderIds: placed, ...(refused.length === 0 ? {} : { refused }), ...(resized.length === 0 ? {} : { resized }), ...(taken ? {} : { reason: `${refused.length} of ${content.orders.length} orders refused: ${refused.map((r) => `${r.clientOrderId} (${r.reason})`).join('; ')}` }) }
        if (!taken) alert(`orders file ${request.file}: ${ordersFile.reason}; ${placed.length} placed`)
        for (const r of resized) alert(`orders file ${request.file}: ${r.clientOrderId} placed for ${r.qty}, less than the file's quantity (a guard)`)
        log(`deployment ${config.name}: orders file ${request.file}: ${placed.length} of ${content.orders.length} order${content.orders.length === 1 ? '' : 's'} placed (${placed.join(', ')})`)
      } catch (error) {
        const why = errorMessage(error)
        ordersFile = { file: request.file, at, taken: false, orders: 0, reason: why }
        alert(`orders file ${request.file} refused: ${why}`)
      }
      writeStatus()
    }
    const reconcileEvery = options.reconcileEveryMs ?? 60_000
    let lastReconcile = clock.now()
    let feedStale = false
    try {
      const it = feed.batches()[Symbol.asyncIterator]()
      // The feed's next batch, kept across wake-ups (an orders file handed in while a live feed waits for its bar).
      let pending: Promise<IteratorResult<FeedBatch>> | undefined
      for (;;) {
        checkControl()
        if (stopRequested !== undefined) break
        // Taken after the requests before them (a pause first refuses the file) and before the next bar.
        while (ordersRequests.length > 0) {
          takeOrdersFile(ordersRequests.shift()!)
          for (const p of problems.splice(0)) alert(p)
        }
        const woken = new Promise<'stop' | 'orders'>((resolve) => (wake = resolve))
        pending ??= it.next()
        const next = await Promise.race([pending, woken])
        wake = undefined
        if (next === 'orders') continue
        pending = undefined
        if (next === 'stop') {
          // A live feed may be asleep until the next bar: told to stop, it ends now.
          const stoppable = feed as MarketFeed & { stop?: () => void }
          stoppable.stop?.()
          void it.return?.()
          break
        }
        if (next.done === true) break
        const batch = next.value as FeedBatch
        session.drainInbox()
        // Symbols the live feed reports stale: no new order on them until they deliver again.
        const stale = (batch as { staleSymbols?: readonly string[] }).staleSymbols
        if (stale !== undefined) staleSymbols = new Set(stale)
        for (const bar of batch.bars) {
          // A series back from stale hands over the bars it owed, closing before the watermark already stepped:
          // they go to the lake (recordToLake took the batch) and into the series' indicators, but cannot be
          // stepped in order — said, not a crash. (Left out, the indicators ran without them until a restart.)
          if (bar.closeTime <= session.watermark) {
            session.onLateBar(bar)
            alert(`${bar.symbol} ${bar.timeframe} bar ${isoTime(bar.time)} arrived late (closes ${isoTime(bar.closeTime)}, watermark ${isoTime(session.watermark)}): recorded and in its indicators, not stepped (no onBar, no fill on it)`)
            continue
          }
          session.onBar(bar)
        }
        // The guards' "newest closed bar" while these bars are stepped.
        if (batch.bars.length > 0) lastClose = batch.watermark
        session.advanceTo(batch.watermark)
        bars += batch.bars.length
        const now = config.feed.kind === 'replay' ? engine.now : clock.now()
        if (engine.now === engine.now) guards.observe(engine.sleeves[0]!.book.equity, now)
        for (const p of problems.splice(0)) alert(p)
        if (liveOps !== undefined) {
          await liveOps.resolveUnknown()
          // A live feed's batch names the series it had to leave behind (CcxtFeedBatch.stale): when they are
          // all back, the outage is over (a reconnect) and the venue may have moved meanwhile.
          const stale = (batch as { stale?: readonly string[] }).stale
          const reconnected = stale !== undefined && stale.length === 0 && feedStale
          if (stale !== undefined) feedStale = stale.length > 0
          // Halted by a reconciliation that failed: tried again with every batch until one succeeds.
          if (reconnected || liveOps.halted !== undefined || (reconcileEvery > 0 && clock.now() - lastReconcile >= reconcileEvery)) {
            lastReconcile = clock.now()
            await liveOps.reconcile()
          }
          for (const p of problems.splice(0)) alert(p)
        }
        updateHalt()
        const wall = Date.now()
        // At most four times a second, and at once when the state changes (halted, resumed, paused).
        if (wall - lastStatus >= 250 || written !== `${state}|${reason ?? ''}`) {
          lastStatus = wall
          writeStatus()
        }
        if (run !== undefined && wall - lastMetric >= 1000 && engine.ticks > 0) {
          lastMetric = wall
          run.logMetrics({ equity: engine.sleeves[0]!.book.equity }, bars)
        }
      }
      if (stopRequested === 'flatten') {
        journal.control('flatten', clock.now())
        engine.flatten('kill switch: deploy stop --flatten')
        journal.flush()
        if (live) await settle(session, venue, clock, 10_000)
      }
      if (liveOps !== undefined) {
        await liveOps.idle()
        session.drainInbox()
      }
      if (stopRequested === undefined) {
        // A replay ends as a backtest does (working orders expire, open trades are marked). A live venue's
        // orders go on resting there: the engine keeps them as working, as a stop does.
        if (!live) session.finish()
        state = 'finished'
        reason = live ? 'the feed ended; working orders and brackets left in place at the venue' : 'the feed ended'
      } else {
        state = 'stopped'
        reason = stopRequested === 'flatten' ? 'stopped by request; positions closed and orders cancelled (kill switch)' : 'stopped by request; working orders and brackets left in place'
      }
    } finally {
      clearInterval(timer)
    }
    // The positions the deployment ends with, as its books hold them (per strategy|symbol).
    const held: Record<string, number> = {}
    for (const sleeve of engine.sleeves) for (const p of sleeve.book.held) held[`${sleeve.name}|${p.symbol}`] = p.qty
    journal.snapshot('local', held, live ? clock.now() : engine.now === engine.now ? engine.now : clock.now())
    journal.flush()
    writeStatus()
    if (run !== undefined) logRun(run, session, config, journal)
    return status()
  } catch (error) {
    state = 'failed'
    reason = redact(error instanceof Error ? error.message : String(error))
    try {
      journal.flush()
      writeStatus()
    } catch {
      /* the original error matters more */
    }
    run?.fail(reason)
    throw error
  } finally {
    journal.close()
    await venue.close()
  }
}

/**
 * Orders sized (percent, targetPercent) and reserved with the market's own fee rates when the config gives none:
 * at 0, a 100 % buy — the default sizing — came to more than the cash once the venue took its fee, and every
 * entry was refused with InsufficientFunds (an audit). The fees booked are always the venue's own.
 */
function sizeWithVenueFees(engine: EngineSession['engine'], config: DeploymentConfig, venue: Venue, log: (line: string) => void): void {
  const given = config.fills ?? {}
  if (given.takerRate !== undefined && given.makerRate !== undefined) return
  let taker = 0
  let maker = 0
  for (const symbol of config.symbols) {
    const rates = venue.feeRates?.(symbol)
    if (rates === undefined) return
    taker = Math.max(taker, rates.taker)
    maker = Math.max(maker, rates.maker)
  }
  const fills = engine.options.fills
  if (given.takerRate === undefined) fills.takerRate = taker
  if (given.makerRate === undefined) fills.makerRate = maker
  log(`orders are sized with the venue's fee rates: taker ${+(fills.takerRate * 100).toPrecision(6)} %, maker ${+(fills.makerRate * 100).toPrecision(6)} % (fills.takerRate and fills.makerRate in the config set them)`)
}

/**
 * Each market's amount step as the engine's dust threshold: a fee taken in the coins bought leaves the close a
 * remainder below the step, which no order can sell. Without it the position never came back to 0 — the trade never
 * closed, a strategy waiting to be flat never entered again, a second close was refused (a review).
 */
function dustBelowAmountStep(engine: EngineSession['engine'], config: DeploymentConfig, venue: Venue, log: (line: string) => void): void {
  const said: string[] = []
  for (const symbol of config.symbols) {
    const step = venue.amountStep?.(symbol)
    if (step === undefined) continue
    engine.setDust(symbol, step)
    said.push(`${symbol} ${+step.toPrecision(12)}`)
  }
  if (said.length > 0) log(`holdings below the market's amount step are dust (flat for the strategy, kept in the equity): ${said.join(', ')}`)
}

/** The status's `dust` field: holdings below their market's least tradable amount, when there are any. */
function dustOf(engine: EngineSession['engine'], book: { held: readonly { symbolIndex: number; symbol: string; qty: number; value: number }[] }): { dust?: { symbol: string; qty: number; value: number }[] } {
  const dust = book.held.filter((p) => engine.isFlat(p.symbolIndex, p.qty)).map((p) => ({ symbol: p.symbol, qty: p.qty, value: p.value }))
  return dust.length === 0 ? {} : { dust }
}

/** The journal's fills and open orders back into a fresh engine (a restart); nothing to do on a first start. */
function restore(session: EngineSession, journal: OrderJournal, clock: Clock, venue?: { adopt?(cid: string, symbol: string, exchangeId?: string): void; adoptList?(listCid: string, legs: [string, string]): void }): void {
  const state = journal.current
  if (state.orders.size === 0) return
  const engine = session.engine
  let last = 0
  for (const o of state.orders.values()) if (o.orderId !== undefined && o.orderId > last) last = o.orderId
  // Fills in the order they were journaled: the journal file is the order of events.
  for (const e of readEvents(journal.file)) {
    if (e.type !== 'fill') continue
    const o = state.orders.get(e.clientOrderId as string)!
    engine.restoreFill(o.strategy, o.symbol, o.side, e.qty as number, e.price as number, e.fee as number, e.time as number, (e.feeQty as number | undefined) ?? 0)
  }
  // Open orders keep their engine ids, and bracket legs their parent's (a restart between an order's placing
  // and its fill would otherwise shift every later id by one).
  const open = [...state.orders.values()].filter((o) => OPEN_STATES.has(o.state)).sort((a, b) => (a.orderId ?? Infinity) - (b.orderId ?? Infinity) || a.seq - b.seq)
  // Entries whose legs the journal has (open, ended or owed): adopted, they do not place legs again.
  const withLegs = new Set<string>()
  for (const o of state.orders.values()) if (o.parentCid !== undefined) withLegs.add(o.parentCid)
  for (const o of open) {
    const parentId = o.parentCid === undefined ? undefined : state.orders.get(o.parentCid)?.orderId
    const order = engine.adopt(o.strategy, { ...adopted(o), ...(o.orderId === undefined ? {} : { id: o.orderId }), ...(parentId === undefined ? {} : { parentId }), ...(withLegs.has(o.clientOrderId) ? { hadLegs: true } : {}) }, clock.now())
    session.orders.set(o.clientOrderId, order)
    // A live venue knows it again (market, exchange id), so the strategy can cancel it before any lookup.
    venue?.adopt?.(o.clientOrderId, o.symbol, o.exchangeOrderId)
  }
  // Bracket legs sent as one OCO list are linked again (a fill of one ends the other; a cancel ends both). A
  // power loss may have kept one leg's "sent" (with the list) and lost the other's: its sibling of the same
  // entry counts too.
  const lists = new Map<string, JournalOrder[]>()
  for (const o of open) if (o.list !== undefined) lists.set(o.list, [...(lists.get(o.list) ?? []), o])
  for (const [listCid, legs] of lists) {
    if (legs.length !== 1) continue
    const leg = legs[0]!
    const sibling = open.find((o) => o !== leg && o.parentCid !== undefined && o.parentCid === leg.parentCid && o.list === undefined && (o.role === 'take-profit' || o.role === 'stop-loss') && o.role !== leg.role)
    if (sibling !== undefined) legs.push(sibling)
    lists.set(listCid, legs)
  }
  for (const [listCid, legs] of lists) {
    const tp = legs.find((o) => o.role === 'take-profit')
    const sl = legs.find((o) => o.role === 'stop-loss')
    if (legs.length === 2 && tp !== undefined && sl !== undefined) venue?.adoptList?.(listCid, [tp.clientOrderId, sl.clientOrderId])
  }
  engine.continueIdsAfter(last)
}

/**
 * The warm-up history replayed through the strategy's onStart and onBar in a scratch session on the
 * simulated exchange (no journal, no venue: nothing leaves the process; every order it places is refused, so
 * no simulated fill reaches onFill), and the state it built (ctx.state) carried into the live sleeve. The
 * journal's positions and orders are the deployment's. A strategy that keeps its state in ctx.state
 * (pairs-zscore's windows, opening-range's session range) thus carries on where the history leaves it.
 */
/** The sha256 of a registered strategy version's source file (what a run of it records as lineage.strategy.sha256), or undefined. */
function strategySourceHash(home: string, strategy: { name: string; version: number }): string | undefined {
  try {
    const version = new Registry(home).resolve('strategies', strategy.name, strategy.version)
    return registeredSourceFile(version.files)?.sha256
  } catch {
    return undefined
  }
}

async function warmStrategyState(session: EngineSession, strategy: Strategy<any>, config: DeploymentConfig, history: Record<string, Bars>, cash: number): Promise<void> {
  const series: ReplaySeries[] = []
  for (const bars of Object.values(history)) if (bars.time.length > 0) series.push({ symbol: bars.symbol, timeframe: bars.timeframe, bars })
  if (series.length === 0) return
  const scratch = new EngineSession({ cash, sleeves: [{ strategy, params: config.params, symbols: config.symbols, timeframe: config.timeframe, weight: 1, name: config.strategy.name }] })
  // No order of the replay is admitted: no simulated fill may leave the strategy believing in a position
  // (state set in onFill) the deployment does not hold; its positions are the journal's.
  const noOrders = () => 'warm-up replay of the history: no orders'
  scratch.engine.hooks = { placed: () => {}, amended: () => {}, filled: () => {}, ended: () => {}, ...scratch.engine.hooks, admit: noOrders }
  scratch.start()
  for await (const batch of new ReplayFeed(series).batches()) {
    for (const bar of batch.bars) scratch.onBar(bar)
    scratch.advanceTo(batch.watermark)
  }
  const live = session.engine.sleeves[0]!.ctx.state as Record<string, unknown>
  for (const key of Object.keys(live)) delete live[key]
  Object.assign(live, scratch.engine.sleeves[0]!.ctx.state)
}

/** Why a bracket leg may have ended without its position being left unprotected on purpose. */
const NOT_ON_PURPOSE = /^(replaced: |its intent was lost)/

/**
 * Bracket legs a held position is still owed after a restart: its last entry had a stop-loss or a
 * take-profit, and no leg of that role is working or filled — the leg's intent was lost (power loss), the
 * process died between the entry's fill and its legs, or between a leg's cancel for a replacement and the
 * replacement. A leg the strategy, a close, the OCO or the kill switch ended is not owed. Placed again for
 * the whole position, as children of that entry.
 */
function restoreOwedBrackets(session: EngineSession, journal: OrderJournal, clock: Clock, alert: (text: string) => void): void {
  const state = journal.current
  for (const [key, position] of state.positions) {
    if (Math.abs(position) <= 1e-12) continue
    const [strategy, symbol] = [key.slice(0, key.indexOf('|')), key.slice(key.indexOf('|') + 1)]
    const side = position > 0 ? 'buy' : 'sell'
    let entry: JournalOrder | undefined
    for (const o of state.orders.values()) {
      if (o.strategy === strategy && o.symbol === symbol && (o.role ?? 'entry') === 'entry' && o.filled > 0 && (entry === undefined || o.seq > entry.seq)) entry = o
    }
    if (entry === undefined || entry.side !== side || (entry.stopLoss === undefined && entry.takeProfit === undefined)) continue
    const owed: ('stop-loss' | 'take-profit')[] = []
    for (const role of ['stop-loss', 'take-profit'] as const) {
      if ((role === 'stop-loss' ? entry.stopLoss : entry.takeProfit) === undefined) continue
      const legs = [...state.orders.values()].filter((o) => o.parentCid === entry!.clientOrderId && o.role === role)
      const last = legs.at(-1)
      if (last === undefined || (last.state === 'CANCELLED' && last.filled === 0 && NOT_ON_PURPOSE.test(last.reason ?? '') && !legs.some((o) => OPEN_STATES.has(o.state) || o.state === 'FILLED'))) owed.push(role)
    }
    if (owed.length === 0) continue
    // What working legs of the same role (an earlier entry's) already cover is not owed again: on spot a
    // second stop for the same coins would be refused.
    const covered = (role: string) => {
      let sum = 0
      for (const o of state.orders.values()) if (o.strategy === strategy && o.symbol === symbol && o.role === role && OPEN_STATES.has(o.state)) sum += o.qty - o.filled
      return sum
    }
    const qty = round8(Math.abs(position) - Math.max(...owed.map(covered)))
    if (!(qty > 1e-12)) continue
    alert(`${symbol}: ${qty} of the position had lost its ${owed.join(' and ')} (${entry.clientOrderId}'s bracket, cut off by the restart); placed again`)
    session.engine.restoreBrackets(strategy, { cid: entry.clientOrderId, symbol, side, ...(entry.tag === undefined ? {} : { tag: entry.tag }), ...(entry.stopLoss === undefined ? {} : { stopLoss: entry.stopLoss }), ...(entry.takeProfit === undefined ? {} : { takeProfit: entry.takeProfit }) }, qty, owed, clock.now())
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
    ...(o.stopLoss === undefined ? {} : { stopLoss: o.stopLoss }),
    ...(o.takeProfit === undefined ? {} : { takeProfit: o.takeProfit }),
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

/** What a live deployment does besides stepping the engine: UNKNOWN orders looked up, reconciliation, halting. */
interface LiveOps {
  /** UNKNOWN orders waiting for a lookup, with the clock time they became (or were found) UNKNOWN. */
  readonly unknownSince: Map<string, number>
  /** Why new orders are halted (the last reconciliation failed); undefined once one succeeds. */
  readonly halted: string | undefined
  /** Look the UNKNOWN orders up in the background now (an `unknown` event just arrived). */
  kick(): void
  /** One pass over the UNKNOWN orders (waits for a pass already running), its events applied. */
  resolveUnknown(): Promise<void>
  /** Reconcile with the venue; a failure (after the reads' bounded retries) halts, a success lifts that halt. */
  reconcile(): Promise<void>
  /** Resolves when no lookup is running. */
  idle(): Promise<void>
}

interface LiveOpsOptions {
  home: string
  session: EngineSession
  journal: OrderJournal
  venue: Venue & ReconcilableVenue
  config: DeploymentConfig
  clock: Clock
  dir: string
  alert: (text: string) => void
  graceMs: number
}

/**
 * Client ids after the journal's last (or after the last lost one a venue's order listing showed) looked up
 * one by one, and found nowhere in a row, before a start stops looking.
 */
const LOST_WINDOW = 3

/** Where a restart starts looking at the venue: a minute before the journal's last event or oldest open order (NaN: an empty journal). */
function lookBackFrom(state: Readonly<JournalState>): number {
  let from = state.lastTime
  for (const o of state.orders.values()) if (OPEN_STATES.has(o.state) && o.time < from) from = o.time
  return from - 60_000
}

/** Orders whose outcome this process is still waiting for: reconciliation leaves them to the lookups. */
const inFlight = (o: JournalOrder) => o.state === 'INTENT' || o.state === 'SENT' || o.state === 'UNKNOWN'

function liveOperations(o: LiveOpsOptions): LiveOps {
  const { session, journal, venue, config, clock, alert } = o
  const unknownSince = new Map<string, number>()
  const lookupFailed = new Set<string>()
  /** Alerts about things outside the deployment (foreign trades and orders): said once per process, not every reconciliation. */
  const said = new Set<string>()
  let halted: string | undefined
  let outside: Record<string, number> | undefined
  /** Other live deployments of the workspace trading each symbol on this exchange (at the last reconciliation). */
  let shared: Record<string, string[]> = {}
  let busy: Promise<void> | undefined

  const pass = async (): Promise<void> => {
    for (const [cid, since] of [...unknownSince]) {
      const order = journal.current.orders.get(cid)
      if (order === undefined || order.state !== 'UNKNOWN') {
        unknownSince.delete(cid)
        continue
      }
      const events: VenueEvent[] = []
      let found: VenueOrderState | undefined
      try {
        found = await venue.lookup(cid, order.symbol)
        if (found !== undefined && found.filled > 0) {
          for (const t of await venue.orderTrades(cid, order.symbol)) {
            events.push({ type: 'fill', cid, tradeId: t.tradeId, qty: t.qty, price: t.price, fee: t.fee, ...(t.feeQty === undefined ? {} : { feeQty: t.feeQty }), liquidity: t.liquidity, time: t.time })
          }
        }
      } catch (error) {
        if (!lookupFailed.has(cid)) alert(`${cid} is UNKNOWN and looking it up failed (${errorMessage(error)}); it is looked up again, never resent`)
        lookupFailed.add(cid)
        continue
      }
      const time = clock.now()
      if (found === undefined) {
        // Not (yet) at the venue: a request still on its way could be executed until its recvWindow ends.
        if (time - since < o.graceMs) continue
        unknownSince.delete(cid)
        alert(`UNKNOWN resolved by lookup: ${cid} (${order.side} ${order.qty} ${order.symbol}) is not at the venue ${o.graceMs} ms after its send: it never reached it; REJECTED, not sent again`)
        session.enqueue({ type: 'reject', cid, reason: 'never reached the venue (not found by its client id)', time })
        continue
      }
      unknownSince.delete(cid)
      events.unshift({ type: 'ack', cid, exchangeId: found.exchangeId, time })
      if (found.status === 'canceled' || found.status === 'expired' || (found.status === 'rejected' && found.filled > 0)) events.push({ type: 'cancel', cid, reason: `${found.status} at the venue`, time })
      else if (found.status === 'rejected') events.push({ type: 'reject', cid, reason: 'rejected at the venue', time })
      alert(`UNKNOWN resolved by lookup: ${cid} is at the venue as order ${found.exchangeId} (${found.status}, filled ${found.filled} of ${order.qty}); not sent again`)
      for (const e of events) session.enqueue(e)
    }
    session.drainInbox()
  }

  const resolveUnknown = async (): Promise<void> => {
    while (busy !== undefined) await busy
    if (unknownSince.size === 0) return
    busy = pass().finally(() => {
      busy = undefined
    })
    await busy
  }

  /** What the account held of each symbol before the first start (spot balances are positions), recorded once. */
  const holdingsBefore = async (): Promise<Record<string, number>> => {
    const file = join(o.dir, 'outside.json')
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { positions: Record<string, number> }).positions
    let held: Record<string, number>
    try {
      held = await venue.positions(config.symbols)
    } catch (error) {
      throw new BrokerError(`reconciliation could not read the balances held before the first start (${errorMessage(error)}); the deployment halts: no new orders, brackets left in place`, { cause: error })
    }
    const positions: Record<string, number> = {}
    for (const symbol of config.symbols) positions[symbol] = round8((held[symbol] ?? 0) - journaledPosition(journal, symbol) + (journal.current.feeOutside?.get(symbol) ?? 0))
    writeFileAtomic(file, `${JSON.stringify({ recordedAt: isoTime(clock.now()), note: 'held before the deployment first started: not its position', positions }, null, 1)}\n`, { durable: true })
    const nonzero = Object.entries(positions).filter(([, q]) => q !== 0)
    if (nonzero.length > 0) alert(`holdings before the first start, not the deployment's: ${nonzero.map(([s, q]) => `${s} ${q}`).join(', ')} (recorded in outside.json)`)
    return positions
  }

  const reconcileOnce = async (): Promise<void> => {
    outside ??= await holdingsBefore()
    // A spot balance is the account's, shared by every deployment trading the symbol there: what the
    // workspace's other live deployments on this exchange hold is not this one's either.
    const others = otherDeployments(o.home, config.name, config.venue.exchange, config.symbols)
    shared = others.names
    const notOurs: Record<string, number> = { ...outside }
    for (const [symbol, q] of Object.entries(others.positions)) notOurs[symbol] = (notOurs[symbol] ?? 0) + q
    const view = await fetchVenueView(venue, journal.current, config.symbols, { clock, skip: inFlight })
    const pending = [...journal.current.orders.values()].some(inFlight)
    const rec = reconcile(journal.current, view, { outside: notOurs, positions: !pending })
    // Events for orders this process holds go through the session (the engine learns of them too); the rest
    // (orders closed before a restart, snapshots) only to the journal.
    const direct = { ...rec, events: [] as typeof rec.events }
    for (const e of rec.events) {
      const held = 'clientOrderId' in e ? session.orders.get(e.clientOrderId) : undefined
      if (held === undefined) direct.events.push(e)
      else if (e.type === 'fill') session.applyVenueEvent({ type: 'fill', cid: e.clientOrderId, tradeId: e.tradeId, qty: e.qty, price: e.price, fee: e.fee, ...(e.feeQty === undefined ? {} : { feeQty: e.feeQty }), liquidity: 'taker', time: e.time })
      else if (e.type === 'ack') session.applyVenueEvent({ type: 'ack', cid: e.clientOrderId, exchangeId: e.exchangeOrderId, time: e.time })
      else if (e.type === 'cancel') session.applyVenueEvent({ type: 'cancel', cid: e.clientOrderId, reason: e.reason ?? 'cancelled at the venue', time: e.time })
      else if (e.type === 'reject') session.applyVenueEvent({ type: 'reject', cid: e.clientOrderId, reason: e.reason, time: e.time })
      else direct.events.push(e)
    }
    for (const line of appendReconciliation(journal, direct, { markOf: (symbol) => session.markOf(symbol) })) alert(line)
    for (const line of rec.alerts) {
      if (/ was not looked up at the venue; left as it is$/.test(line)) continue // in flight: the lookups settle it
      if (/not the deployment's/.test(line)) {
        if (said.has(line)) continue
        said.add(line)
      }
      alert(line)
    }
    // A position the venue changed outside the journal's orders (closed on the exchange while the deployment
    // was down, a trade by hand): booked as an order of its own (role "outside"), so the journal's position
    // is still the sum of its fills, a restart books it again from the journal, and the strategy no longer
    // believes in a position the venue does not hold.
    for (const e of direct.events) {
      if (e.type === 'snapshot' && e.source === 'venue') for (const [symbol, venueQty] of Object.entries(e.positions)) bookOutside(symbol, venueQty, view.trades, e.time)
    }
  }

  /**
   * Orders whose intents a power loss took. A live journal writes each intent before its order is sent but
   * fsyncs it in the background while the order goes out (durability "each"), so a machine that lost power
   * within that fsync can come back with a journal that ends before orders it sent. Their client ids are the
   * sequence numbers after the journal's last: the venue's orders on every symbol since the journal's last
   * event are listed (CcxtVenue.ordersSince), then the ids after the last one found are looked up one by one
   * until LOST_WINDOW in a row are found nowhere. A found order is journaled again from the venue's answer:
   * an OCO leg whose sibling the journal holds as that bracket's missing leg; any other as role "recovered"
   * (attributed to the deployment's strategy), its trades booked and, when still open, adopted and cancelled
   * — the strategy that placed it kept no memory of it. A number found nowhere before a found one is skipped. Until this has run (the venue answered), reconciliation fails and nothing new is sent: a
   * new intent would otherwise take a client id the venue may already hold.
   */
  let recovered = false
  const recoverLost = async (): Promise<void> => {
    const found: { seq: number; cid: string; symbol: string; state: VenueOrderState }[] = []
    /** The list id of every order the listing showed, by exchange order id. */
    const listOf = new Map<string, string>()
    const lister = venue as { ordersSince?(symbol: string, since: number, fromOrderId?: string): Promise<(VenueOrderState & { symbol: string })[]> }
    if (lister.ordersSince !== undefined) {
      // Every order on each symbol since the journal's last event: ours after its last sequence number are
      // the lost ones, however many intents in between reached no order (refused before sending, not sent).
      const since = lookBackFrom(journal.current)
      for (const symbol of config.symbols) {
        let orders: (VenueOrderState & { symbol: string })[]
        try {
          // From the highest exchange order id the journal knows on the symbol, when it knows one (no time window).
          let known: bigint | undefined
          for (const o of journal.current.orders.values()) {
            if (o.symbol === symbol && o.exchangeOrderId !== undefined && /^\d+$/.test(o.exchangeOrderId) && (known === undefined || BigInt(o.exchangeOrderId) > known)) known = BigInt(o.exchangeOrderId)
          }
          orders = await lister.ordersSince(symbol, Number.isFinite(since) ? since : clock.now() - 60_000, known?.toString())
        } catch (error) {
          throw new BrokerError(`could not list the orders on ${symbol} (${errorMessage(error)}): orders whose journal entries a power loss took cannot be ruled out; the deployment halts: no new orders until the venue answers`, { cause: error })
        }
        for (const o of orders) {
          if (o.listId !== undefined) listOf.set(o.exchangeId, o.listId)
          const seq = journal.seqOf(o.cid)
          if (seq !== undefined && seq >= journal.current.nextSeq && !found.some((f) => f.cid === o.cid)) found.push({ seq, cid: o.cid, symbol, state: o })
        }
      }
      found.sort((a, b) => a.seq - b.seq)
    }
    let misses = 0
    // Without a listing (or past what it showed): client ids after the last one found, looked up one by one.
    for (let seq = Math.max(journal.current.nextSeq, (found.at(-1)?.seq ?? 0) + 1); misses < LOST_WINDOW && found.length < 1000; seq++) {
      const cid = journal.clientIdOf(seq)
      let hit: { symbol: string; state: VenueOrderState } | undefined
      for (const symbol of config.symbols) {
        let state: VenueOrderState | undefined
        try {
          state = await venue.lookup(cid, symbol)
        } catch (error) {
          throw new BrokerError(`could not look up client id ${cid} on ${symbol} (${errorMessage(error)}): orders whose journal entries a power loss took cannot be ruled out; the deployment halts: no new orders until the venue answers`, { cause: error })
        }
        if (state !== undefined) {
          hit = { symbol, state }
          break
        }
      }
      if (hit === undefined) misses++
      else {
        found.push({ seq, cid, ...hit })
        misses = 0
      }
    }
    const engine = session.engine
    const sleeve = engine.sleeves[0]!
    for (const f of found) {
      const time = clock.now()
      while (journal.current.nextSeq < f.seq) journal.skip('intent lost (power loss); no order under its client id at the venue', time)
      const v = f.state
      const trades = v.filled > 0 ? await venue.orderTrades(f.cid, f.symbol) : []
      const side = v.side ?? trades[0]?.side
      const qty = v.qty ?? (v.status === 'closed' ? v.filled : undefined)
      if (side === undefined || qty === undefined || !(qty > 0)) {
        throw new BrokerError(`${f.cid} is at the venue (order ${v.exchangeId}) but its journal entry was lost and the venue does not say its side and quantity; book it by hand: the deployment halts`)
      }
      const kind = v.kind ?? 'market'
      // A leg of an OCO list whose other leg the journal holds (its intent survived): it is that bracket's
      // missing leg — taken back as such and linked to its sibling, not cancelled (cancelling one leg
      // cancels the list, and the position would lose its stop).
      const sibling = v.listId === undefined || v.status !== 'open' ? undefined : [...journal.current.orders.values()].find((o) => OPEN_STATES.has(o.state) && o.symbol === f.symbol && o.exchangeOrderId !== undefined && listOf.get(o.exchangeOrderId) === v.listId && (o.role === 'stop-loss' || o.role === 'take-profit') && o.parentCid !== undefined)
      const legRole = sibling === undefined ? undefined : sibling.role === 'stop-loss' ? 'take-profit' : 'stop-loss'
      if (sibling !== undefined && legRole !== undefined && kind === (legRole === 'stop-loss' ? 'stop' : 'limit')) {
        const listCid = sibling.list ?? `${legRole === 'stop-loss' ? f.cid : sibling.clientOrderId}L`
        const placedLeg = journal.intent({ strategy: sibling.strategy, symbol: f.symbol, side, qty, kind, ...(v.price === undefined ? {} : { price: v.price }), role: legRole, parentCid: sibling.parentCid!, ...(sibling.tag === undefined ? {} : { tag: sibling.tag }) }, time)
        if (placedLeg.clientOrderId !== f.cid) throw new BrokerError(`recovering ${f.cid}: the journal gave ${placedLeg.clientOrderId}`)
        journal.sent(f.cid, time, listCid)
        journal.ack(f.cid, v.exchangeId, time)
        for (const t of trades) {
          if (journal.fill(f.cid, { tradeId: t.tradeId, qty: t.qty, price: t.price, fee: t.fee, feeQty: t.feeQty }, t.time)) engine.restoreFill(sibling.strategy, f.symbol, side, t.qty, t.price, t.fee, t.time, t.feeQty ?? 0)
        }
        const leg = journal.order(f.cid)
        const order = engine.adopt(sibling.strategy, { ...adopted(leg) }, time)
        session.orders.set(f.cid, order)
        const v2 = venue as { adopt?(cid: string, symbol: string, exchangeId?: string): void; adoptList?(listCid: string, legs: [string, string]): void }
        v2.adopt?.(f.cid, f.symbol, v.exchangeId)
        v2.adoptList?.(listCid, legRole === 'take-profit' ? [f.cid, sibling.clientOrderId] : [sibling.clientOrderId, f.cid])
        alert(`recovered ${f.cid}: its journal entry was lost (power loss), the venue has it as order ${v.exchangeId}, the ${legRole} of ${sibling.clientOrderId}'s OCO list; taken back as that leg`)
        continue
      }
      const placed = journal.intent({ strategy: sleeve.name, symbol: f.symbol, side, qty, kind, ...(v.price === undefined ? {} : { price: v.price }), role: 'recovered', tag: 'intent lost (power loss); found at the venue by its client id' }, time)
      if (placed.clientOrderId !== f.cid) throw new BrokerError(`recovering ${f.cid}: the journal gave ${placed.clientOrderId}`)
      journal.ack(f.cid, v.exchangeId, time)
      for (const t of trades) {
        if (journal.fill(f.cid, { tradeId: t.tradeId, qty: t.qty, price: t.price, fee: t.fee, feeQty: t.feeQty }, t.time)) engine.restoreFill(sleeve.name, f.symbol, side, t.qty, t.price, t.fee, t.time, t.feeQty ?? 0)
      }
      const filled = journal.order(f.cid).filled
      if (v.status === 'open') {
        const order = engine.adopt(sleeve.name, { cid: f.cid, symbol: f.symbol, side, type: kind, role: 'entry', qty, filled, avgPrice: journal.order(f.cid).avgPrice, ...(kind === 'limit' && v.price !== undefined ? { limit: v.price } : {}), ...(kind === 'stop' && v.price !== undefined ? { stop: v.price } : {}), tag: 'recovered' }, time)
        session.orders.set(f.cid, order)
        ;(venue as { adopt?(cid: string, symbol: string, exchangeId?: string): void }).adopt?.(f.cid, f.symbol, v.exchangeId)
        engine.cancelNow(order, 'its intent was lost (power loss): cancelled at restart')
      } else if (v.status === 'canceled' || v.status === 'expired' || (v.status === 'rejected' && filled > 0)) journal.cancel(f.cid, time, `${v.status} at the venue`)
      else if (v.status === 'rejected') journal.reject(f.cid, 'rejected at the venue', time)
      alert(`recovered ${f.cid}: its journal entry was lost (power loss), the venue has it as order ${v.exchangeId} (${v.status}, ${side} ${qty} ${f.symbol}, filled ${filled}); journaled${v.status === 'open' ? ', and cancelled' : ''}`)
    }
  }

  const bookOutside = (symbol: string, venueQty: number, trades: readonly VenueTrade[], time: number) => {
    const engine = session.engine
    const k = engine.symbolIndex.get(symbol)
    if (k === undefined) return
    const diff = round8(venueQty - journaledPosition(journal, symbol))
    if (Math.abs(diff) <= 1e-8) return
    const alongside = shared[symbol] ?? []
    if (alongside.length > 0) {
      // Which deployment the difference belongs to cannot be told from a shared balance: said, not booked.
      alert(`position ${symbol}: the account's balance differs from the journals by ${diff}, and ${alongside.join(', ')} trade${alongside.length === 1 ? 's' : ''} it too; not booked to ${config.name} (it cannot be attributed)`)
      return
    }
    const sleeve = engine.sleeves[0]!
    const foreign = trades.filter((t) => t.symbol === symbol && t.cid === undefined).at(-1)
    // The price of the trade made outside the deployment when the venue shows one; else the last mark.
    const price = foreign !== undefined ? foreign.price : engine.marks[k]! > 0 ? engine.marks[k]! : sleeve.book.positions[k]!.avgPrice
    if (!(price > 0)) {
      alert(`position ${symbol}: the venue's change of ${diff} could not be booked (no price known yet); booked at the next reconciliation`)
      return
    }
    const side = diff > 0 ? 'buy' : 'sell'
    const placed = journal.intent({ strategy: sleeve.name, symbol, side, qty: Math.abs(diff), kind: 'market', role: 'outside', tag: 'changed at the venue' }, time)
    journal.ack(placed.clientOrderId, 'outside', time)
    journal.fill(placed.clientOrderId, { tradeId: `outside:${placed.clientOrderId}`, qty: Math.abs(diff), price, fee: 0 }, time)
    engine.restoreFill(sleeve.name, symbol, side, Math.abs(diff), price, 0, time)
  }

  return {
    unknownSince,
    get halted() {
      return halted
    },
    kick() {
      void resolveUnknown().catch((error: unknown) => alert(`looking UNKNOWN orders up failed: ${errorMessage(error)}`))
    },
    resolveUnknown,
    async reconcile() {
      await resolveUnknown()
      try {
        if (!recovered) {
          await recoverLost()
          recovered = true
        }
        await reconcileOnce()
        halted = undefined
      } catch (error) {
        halted = errorMessage(error)
      }
      session.drainInbox()
    },
    async idle() {
      while (busy !== undefined) await busy
    },
  }
}

/** The journal's net position on a symbol, all strategies together (the venue holds one balance). */
function journaledPosition(journal: OrderJournal, symbol: string): number {
  let sum = 0
  for (const [key, qty] of journal.current.positions) if (key.slice(key.indexOf('|') + 1) === symbol) sum += qty
  return sum
}

/** Rounded to 8 decimals (the exchanges' smallest unit), so sums of fills compare exactly. */
function round8(x: number): number {
  return Math.round(x * 1e8) / 1e8
}

/** Waits (bounded) for a live venue to answer the orders just sent (the kill switch). */
async function settle(session: EngineSession, venue: Venue, clock: Clock, ms: number): Promise<void> {
  const until = clock.now() + ms
  // Bounded by its count too: a clock that does not move while sleeping (a test's) cannot hold it forever.
  for (let n = 0; n < ms / 100 && clock.now() < until; n++) {
    session.drainInbox()
    const open = session.engine.sleeves.some((s) => session.engine.workingOrders(s).length > 0)
    if (!open) return
    await (venue as { settled?: () => Promise<void> }).settled?.()
    await clock.sleep(100)
  }
  void venue
}

/** The lake query of a replay deployment's bars of one symbol. */
export function replayQuery(config: DeploymentConfig, symbol: string): { symbol: string; timeframe: string; start?: number | string; end?: number | string; source?: string } {
  const f = config.feed
  return { symbol, timeframe: config.timeframe, ...(f.start === undefined ? {} : { start: f.start }), ...(f.end === undefined ? {} : { end: f.end }), ...(f.source === undefined ? {} : { source: f.source }) }
}

/** The lake's bars of a replay deployment; after `watermark` (a restart) the feed, up to it the history. */
async function replayFeed(home: string, config: DeploymentConfig, options: RunDeploymentOptions, clock: Clock, watermark: number): Promise<{ series: ReplaySeries[]; feed: MarketFeed; history?: Record<string, Bars> }> {
  if (config.feed.kind !== 'replay') throw new ConfigError(`deployment ${config.name}: a ${config.feed.kind} feed is built by the caller (mtflow deploy)`)
  const tf = timeframeMs(config.timeframe)
  const series = []
  const history: Record<string, Bars> = {}
  for (const symbol of config.symbols) {
    const bars = await loadBars(home, replayQuery(config, symbol))
    if (bars.time.length === 0) throw new ConfigError(`deployment ${config.name}: no bars for ${symbol} ${config.timeframe} in the lake between ${String(config.feed.start ?? 'the start')} and ${String(config.feed.end ?? 'the end')}`)
    if (watermark === watermark) {
      let cut = 0
      while (cut < bars.time.length && bars.time[cut]! + tf <= watermark) cut++
      history[`${symbol}@${config.timeframe}`] = sliceAt(bars, 0, cut)
      series.push({ symbol, timeframe: config.timeframe, bars: sliceAt(bars, cut, bars.time.length) })
    } else series.push({ symbol, timeframe: config.timeframe, bars })
  }
  const pace = options.paceMs ?? 0
  return { series, feed: new ReplayFeed(series, pace > 0 ? { clock, paceMs: pace } : {}), ...(watermark === watermark ? { history } : {}) }
}

/** Each series' bars closing at or before `watermark`, and those after. */
function splitReplay(series: readonly ReplaySeries[], watermark: number): { before: ReplaySeries[]; after: ReplaySeries[] } {
  const before: ReplaySeries[] = []
  const after: ReplaySeries[] = []
  for (const s of series) {
    const tf = timeframeMs(s.timeframe)
    let cut = 0
    while (cut < s.bars.time.length && s.bars.time[cut]! + tf <= watermark) cut++
    before.push({ ...s, bars: sliceAt(s.bars, 0, cut) })
    after.push({ ...s, bars: sliceAt(s.bars, cut, s.bars.time.length) })
  }
  return { before, after }
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
    exchange: config.venue.exchange,
    strategy: `${config.strategy.name}@${config.strategy.version}`,
    symbols: config.symbols,
    timeframe: config.timeframe,
    startedAt: s.startedAt,
    updatedAt: new Date().toISOString(),
    ...(s.lastClose === s.lastClose ? { lastBar: isoTime(s.lastClose) } : {}),
    bars: s.bars,
    equity: book.equity,
    cash: book.cash,
    positions: book.held.filter((p) => !engine.isFlat(p.symbolIndex, p.qty)).map((p) => ({ strategy: sleeve.name, symbol: p.symbol, qty: p.qty, avgPrice: p.avgPrice, value: p.value, unrealized: p.unrealized })),
    ...dustOf(engine, book),
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

/** The run gets what a backtest logs (metrics, equity and drawdown, its tables as Parquet: logBacktest) plus the journal. */
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
