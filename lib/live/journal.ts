// A deployment's order journal: every order intent, send, acknowledgement, fill, cancel, rejection and
// position snapshot, appended as it happens (an intent is in the file, with its deterministic client order
// id, BEFORE the order is sent; when it is fsync'd is the durability's business, below). The journal is the
// deployment's memory across restarts: its state — orders, fills, positions per strategy — is a pure fold of its events, so a process
// killed at any moment restarts into the state the disk says, never into a guess.

import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { closeSync, existsSync, fstatSync, fsync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs'
import { ConfigError, DataError, syncDirectory } from '../core/index.js'
import { readRecords, recordLine, TORN_MARK } from '../track/jsonl.js'

export type OrderSide = 'buy' | 'sell'
export type OrderKind = 'market' | 'limit' | 'stop'

/**
 * INTENT: journaled, not yet sent. SENT: the request left the process. UNKNOWN: the send's outcome is not
 * known (a timeout after the request left, a crash between send and answer) — resolved by looking the
 * client id up at the venue, never by sending again. The rest are the venue's answers.
 */
export type JournalOrderState = 'INTENT' | 'SENT' | 'UNKNOWN' | 'ACKED' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELLED' | 'REJECTED'

export interface OrderIntent {
  strategy: string
  symbol: string
  side: OrderSide
  qty: number
  kind: OrderKind
  /** Limit or stop price. */
  price?: number
  /** The engine's order id, role, tag and bracket parent: what a restart needs to rebuild brackets. */
  orderId?: number
  role?: string
  tag?: string
  parentCid?: string
  /** An entry's bracket prices: a restart places legs its position still owes (their intents lost, or cut off while being replaced). */
  stopLoss?: number
  takeProfit?: number
}

/**
 * When the journal's events reach the disk.
 * - `each` (live): every event is written (write(2): in the OS's page cache, so it survives the process's
 *   death, `kill -9` included) before its call returns. An intent's fsync starts at once in libuv's thread
 *   pool and runs while its order is sent: the disk's fsync latency (0.2 ms typical on this VM, with 2–5 ms
 *   spikes in 1 % of calls) stays off the order's way out. Only a power loss (or a kernel crash) within that
 *   fsync can lose the journal's last events; a live start therefore finds the orders carrying client ids
 *   after the journal's last one at the venue (`recoverLost` in deployment.ts) before it sends anything, and
 *   the venue's answer wins as everywhere in reconciliation. The other events ride on the next fsync or `close`.
 * - `strict` (live, `--fsync-before-send`): as `each`, but an intent's fsync completes before its call
 *   returns: the order leaves only once its intent would survive a power loss, at the cost of the disk's
 *   fsync latency on every order.
 * - `step` (paper on SimVenue): buffered until `flush()`, once per engine step, in one write; fsync'd at most
 *   once a second and on `close` — nothing leaves the process, and steps a crash loses replay deterministically
 *   after the last `mark` on disk.
 */
export type Durability = 'each' | 'strict' | 'step'

export type JournalEvent =
  | ({ type: 'intent'; seq: number; clientOrderId: string; time: number; acked?: true } & OrderIntent)
  /** `list`: sent as a leg of that OCO order list (its client id), with its sibling. */
  | { type: 'sent'; clientOrderId: string; time: number; list?: string }
  | { type: 'ack'; clientOrderId: string; exchangeOrderId: string; time: number }
  | { type: 'fill'; clientOrderId: string; tradeId: string; qty: number; price: number; fee: number; feeQty?: number; time: number }
  | { type: 'cancel'; clientOrderId: string; reason?: string; time: number }
  | { type: 'reject'; clientOrderId: string; reason: string; time: number }
  | { type: 'unknown'; clientOrderId: string; reason: string; time: number }
  /** A working order's quantity changed (a bracket child following its entry's fills; an OCO sibling shrinking). */
  | { type: 'amend'; clientOrderId: string; qty: number; time: number }
  /** Every bar closing at or before `watermark` was stepped, and the events above are all it caused (a restart continues after it). */
  | { type: 'mark'; watermark: number; time: number }
  | { type: 'snapshot'; source: 'venue' | 'local'; positions: Record<string, number>; time: number }
  /**
   * A sequence number given up: its intent was lost (a power loss took the journal's last events) and no
   * order under its client id is at the venue. The next intent takes the number after it.
   */
  | { type: 'skip'; seq: number; reason: string; time: number }
  /**
   * A control request applied (deploy pause, resume, stop --flatten): a replay's re-run does not repeat it,
   * so a restart takes such a journal over (its fills and open orders) instead of re-running it.
   */
  | { type: 'control'; command: 'pause' | 'resume' | 'flatten'; time: number }

export interface JournalOrder extends OrderIntent {
  seq: number
  clientOrderId: string
  state: JournalOrderState
  exchangeOrderId?: string
  filled: number
  /** Quantity-weighted average fill price (NaN before the first fill). */
  avgPrice: number
  fees: number
  reason?: string
  /** When the intent was journaled (clock ms). */
  time: number
  /** The OCO order list it was sent in (a bracket leg on a venue with lists). */
  list?: string
}

export interface JournalState {
  orders: Map<string, JournalOrder>
  /** Net position per "strategy|symbol": the signed sum of fills (buys +, sells −). */
  positions: Map<string, number>
  /**
   * Per symbol: fee units the venue took in the coins traded beyond what the position held (a sell of the whole
   * position paying its fee in BNB from the account's other BNB): they left the account's holdings outside the
   * deployment, which reconciliation must know (positionAfterFill's `outside`).
   */
  feeOutside?: Map<string, number>
  /** The next intent's sequence number. */
  nextSeq: number
  /** Fill trade ids seen (a fill reported twice — by a stream and by a REST backfill — counts once). */
  tradeIds: Set<string>
  /** Records torn by a crash while being appended (skipped; at most the last one). */
  torn: number
  /** The last `mark`: bars closing at or before it were stepped (NaN before the first). */
  watermark: number
  /** The latest time of any event (clock ms; NaN for an empty journal): a restart looks at the venue from about then. */
  lastTime: number
  /** A control request (pause, resume, flatten) is on record: a replay's re-run would not reproduce the journal. */
  controlled: boolean
}

/** Orders still waiting on the venue (what reconciliation looks up). */
export const OPEN_STATES: ReadonlySet<JournalOrderState> = new Set(['INTENT', 'SENT', 'UNKNOWN', 'ACKED', 'PARTIALLY_FILLED'])

/**
 * The client order id of a deployment's seq-th order: "mt", 10 hex digits of the deployment id's sha256,
 * the sequence in base 36. Letters and digits only, starting with a letter, at most 23 characters — valid
 * on the strictest common venues (OKX: 1–32 alphanumerics; Binance: ≤ 36 of [.A-Z:/a-z0-9_-]). The same
 * deployment and sequence always give the same id, so a restarted process looks its orders up by it.
 */
export function clientOrderId(deploymentId: string, seq: number): string {
  return idOf(idPrefix(deploymentId), seq)
}

function idPrefix(deploymentId: string): string {
  return `mt${createHash('sha256').update(deploymentId).digest('hex').slice(0, 10)}`
}

function idOf(prefix: string, seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new ConfigError(`an order sequence number must be an integer ≥ 1 (received ${seq})`)
  return `${prefix}${seq.toString(36)}`
}

export class OrderJournal {
  readonly file: string
  private readonly state: JournalState
  private readonly prefix: string
  /** Whether the file's folder entry is known to be on disk (synced once, after the file is created). */
  private folderSynced: boolean
  /** The file, open for appending from the first event to `close()`. */
  private fd = -1
  /** Lines not yet written (durability `step`). */
  private pending = ''
  /** Written since the last fsync. */
  private unsynced = false
  private lastSync = 0
  /**
   * Durability `each`: the descriptor whose fsync runs in the thread pool (-1: none), another fsync owed
   * after it (on the descriptor open then), a failure, and descriptors `close()` left to their running
   * fsync to close.
   */
  private syncingFd = -1
  private syncAgain = false
  private syncFailure: Error | undefined
  private readonly closeAfterSync = new Set<number>()

  private constructor(
    readonly deploymentId: string,
    private readonly dir: string,
    readonly durability: Durability,
  ) {
    this.file = join(dir, 'journal.jsonl')
    this.prefix = idPrefix(deploymentId)
    this.folderSynced = existsSync(this.file)
    const read = readRecords<JournalEvent>(this.file)
    this.state = foldJournal(read.records, this.file)
    this.state.torn = read.torn
  }

  /** The journal in `dir` (created on the first event), its state folded from what is on disk. */
  static open(dir: string, deploymentId: string, options: { durability?: Durability } = {}): OrderJournal {
    if (typeof deploymentId !== 'string' || deploymentId === '') throw new ConfigError('a journal needs a deployment id')
    const durability = options.durability ?? 'each'
    if (durability !== 'each' && durability !== 'strict' && durability !== 'step') throw new ConfigError(`journal durability must be "each", "strict" or "step" (received ${JSON.stringify(durability)})`)
    return new OrderJournal(deploymentId, dir, durability)
  }

  /** The folded state (live: it changes as events are appended). */
  get current(): Readonly<JournalState> {
    return this.state
  }

  order(clientOrderId: string): JournalOrder {
    const o = this.state.orders.get(clientOrderId)
    if (o === undefined) throw new DataError(`${this.file}: no order ${JSON.stringify(clientOrderId)} in the journal`)
    return o
  }

  position(strategy: string, symbol: string): number {
    return this.state.positions.get(positionKey(strategy, symbol)) ?? 0
  }

  /**
   * Journal an order before it is sent; returns it with its sequence number and client order id. `acked`:
   * the venue took it in the same call, under the client id (a simulated venue) — one record, not three.
   */
  intent(intent: OrderIntent, time: number, acked = false): JournalOrder {
    if (!(intent.qty > 0) || !Number.isFinite(intent.qty)) throw new ConfigError(`order qty must be a finite number > 0 (received ${intent.qty})`)
    const seq = this.state.nextSeq
    const id = idOf(this.prefix, seq)
    this.append({ type: 'intent', seq, clientOrderId: id, time, ...intent, ...(acked ? { acked: true as const } : {}) })
    return this.order(id)
  }

  sent(id: string, time: number, list?: string): void {
    this.append(list === undefined ? { type: 'sent', clientOrderId: id, time } : { type: 'sent', clientOrderId: id, time, list })
  }

  ack(id: string, exchangeOrderId: string, time: number): void {
    this.append({ type: 'ack', clientOrderId: id, exchangeOrderId, time })
  }

  /** A fill; false (nothing written) when its trade id was journaled already. */
  fill(id: string, fill: { tradeId: string; qty: number; price: number; fee: number; feeQty?: number | undefined }, time: number): boolean {
    if (this.state.tradeIds.has(fill.tradeId)) return false
    const { feeQty, ...rest } = fill
    // No fee units is no field (older journals have none); any other value is checked as the event is applied.
    this.append({ type: 'fill', clientOrderId: id, time, ...rest, ...(feeQty === undefined || feeQty === 0 ? {} : { feeQty }) })
    return true
  }

  cancel(id: string, time: number, reason?: string): void {
    this.append({ type: 'cancel', clientOrderId: id, time, ...(reason === undefined ? {} : { reason }) })
  }

  reject(id: string, reason: string, time: number): void {
    this.append({ type: 'reject', clientOrderId: id, reason, time })
  }

  unknown(id: string, reason: string, time: number): void {
    this.append({ type: 'unknown', clientOrderId: id, reason, time })
  }

  amend(id: string, qty: number, time: number): void {
    this.append({ type: 'amend', clientOrderId: id, qty, time })
  }

  /** A control request applied (see the 'control' event). */
  control(command: 'pause' | 'resume' | 'flatten', time: number): void {
    this.append({ type: 'control', command, time })
  }

  /** Bars closing at or before `watermark` were stepped (written with the step's events: a restart continues after it). */
  mark(watermark: number, time: number): void {
    this.append({ type: 'mark', watermark, time })
  }

  snapshot(source: 'venue' | 'local', positions: Record<string, number>, time: number): void {
    this.append({ type: 'snapshot', source, positions, time })
  }

  /** Gives up the next sequence number (see the `skip` event). */
  skip(reason: string, time: number): void {
    this.append({ type: 'skip', seq: this.state.nextSeq, reason, time })
  }

  /** The client order id sequence number `seq` has (or will have) in this journal. */
  clientIdOf(seq: number): string {
    return idOf(this.prefix, seq)
  }

  /** The sequence number of one of this journal's client ids; undefined for anyone else's. */
  seqOf(clientOrderId: string): number | undefined {
    if (!clientOrderId.startsWith(this.prefix)) return undefined
    const rest = clientOrderId.slice(this.prefix.length)
    const seq = /^[0-9a-z]{1,11}$/.test(rest) ? parseInt(rest, 36) : NaN
    return Number.isSafeInteger(seq) && seq >= 1 && idOf(this.prefix, seq) === clientOrderId ? seq : undefined
  }

  /** Writes and fsyncs what is buffered (durability `step`; with `each` nothing ever is). */
  flush(): void {
    if (this.pending !== '') {
      const text = this.pending
      this.pending = ''
      this.write(text)
    }
    // `step`: fsync'd at most once a second (a replay flushes every few thousand bars: one fsync each cost more
    // than the step). `each`: intents were synced as they were written; the rest rides on the next intent's
    // fsync or `close` — a step's mark must not put a second fsync between a bar and the order it causes.
    if (this.unsynced && this.durability === 'step' && Date.now() - this.lastSync >= 1000) this.sync()
  }

  /** Flushes, fsyncs and closes the file (a later event opens it again). */
  close(): void {
    this.flush()
    if (this.fd >= 0) {
      // Synchronously, whatever runs in the background: everything written is on disk when close returns.
      if (this.unsynced || this.syncingFd === this.fd || this.syncAgain) this.sync()
      this.syncAgain = false
      // An fsync still running in the thread pool holds the descriptor: it closes it when it returns.
      if (this.syncingFd === this.fd) this.closeAfterSync.add(this.fd)
      else closeSync(this.fd)
    }
    this.fd = -1
  }

  /** Resolves when no fsync started by `each` is running (tests, and a clean shutdown's last word). */
  synced(): Promise<void> {
    if (this.syncingFd < 0) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  private waiters: (() => void)[] = []

  /** Checked against the state first (an illegal event throws and is not written), then written (fsync'd, or
   * buffered for `flush`), then folded. */
  private append(event: JournalEvent): void {
    applyEvent(this.state, event, this.file, this.writer)
  }

  /** Events appended by this object so far (a deployment rewrites its status when the count moves). */
  get appended(): number {
    return this.count
  }

  private count = 0

  /** Called by applyEvent between its checks and its changes: an event that fails to reach the disk is not folded. */
  private readonly writer = (event: JournalEvent): void => {
    if (this.syncFailure !== undefined) {
      throw new DataError(`${this.file}: an earlier fsync failed (${this.syncFailure.message}); the journal can no longer promise what is on disk, so nothing more is written (nor sent)`)
    }
    this.count++
    if (this.durability === 'step') this.pending += line(event)
    else {
      this.write(line(event))
      if (event.type === 'intent') {
        if (this.durability === 'strict') this.sync()
        else this.syncInBackground()
      }
    }
  }

  /**
   * Durability `each`: fsync in libuv's thread pool while the caller goes on to send the order. One runs
   * at a time; an intent written while one runs is owed another (the running one may have missed it).
   */
  private syncInBackground(): void {
    if (this.syncingFd >= 0) {
      this.syncAgain = true
      return
    }
    const fd = this.fd
    this.syncingFd = fd
    this.syncAgain = false
    this.unsynced = false
    const done = (error: Error | null) => {
      this.syncingFd = -1
      if (error !== null) this.syncFailure ??= error
      else this.lastSync = Date.now()
      if (this.closeAfterSync.delete(fd)) closeSync(fd)
      // The fsync owed to intents written meanwhile: on the descriptor open now (close() synced the old one).
      if (this.syncAgain && this.fd >= 0 && error === null) {
        this.syncInBackground()
        return
      }
      this.syncAgain = false
      for (const resolve of this.waiters.splice(0)) resolve()
    }
    if (this.folderSynced) fsync(fd, done)
    else {
      // A new file's name is durable only once its folder is synced: once, after creation.
      this.folderSynced = true
      fsync(fd, (error) => {
        if (error !== null) return done(error)
        try {
          syncDirectory(this.dir)
          done(null)
        } catch (e) {
          done(e as Error)
        }
      })
    }
  }

  private write(text: string): void {
    if (this.fd < 0) this.openFile()
    const bytes = Buffer.from(text, 'utf8')
    let offset = 0
    while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset, bytes.length - offset)
    this.unsynced = true
  }

  private sync(): void {
    fsyncSync(this.fd)
    this.unsynced = false
    this.lastSync = Date.now()
    // The file's fsync does not make a new file's name durable: its folder is synced once, after creation.
    if (!this.folderSynced) {
      syncDirectory(this.dir)
      this.folderSynced = true
    }
  }

  /** Opens the file for appending; a tail torn by a crash is closed off with the torn mark first (as jsonl.ts does). */
  private openFile(): void {
    mkdirSync(this.dir, { recursive: true })
    const fd = openSync(this.file, 'a+', 0o644)
    const size = fstatSync(fd).size
    const last = Buffer.alloc(1)
    if (size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 10) {
      const mark = Buffer.from(`\n${TORN_MARK}\n`)
      writeSync(fd, mark, 0, mark.length)
    }
    this.fd = fd
  }
}

/** The state a sequence of events leaves; orders sent but never answered before a restart are UNKNOWN. */
export function foldJournal(events: readonly JournalEvent[], file = 'journal'): JournalState {
  const state: JournalState = { orders: new Map(), positions: new Map(), feeOutside: new Map(), nextSeq: 1, tradeIds: new Set(), torn: 0, watermark: NaN, lastTime: NaN, controlled: false }
  for (const e of events) applyEvent(state, e, file)
  // Folded from disk, an INTENT or SENT order has lost its process: it may or may not have reached the venue.
  for (const o of state.orders.values()) if (o.state === 'INTENT' || o.state === 'SENT') o.state = 'UNKNOWN'
  return state
}

/**
 * A flat event as its journal line: what recordLine writes, without a replacer call per value (a paper
 * replay writes ~200,000 of them). Anything else — a non-finite number, a nested object — goes to recordLine.
 */
function line(e: JournalEvent): string {
  const record = e as unknown as Record<string, unknown>
  let out = '\n{'
  for (const key in record) {
    const v = record[key]
    if (v === undefined) continue
    let text: string
    if (typeof v === 'number') {
      if (v - v !== 0) return recordLine(e)
      text = `${v}`
    } else if (typeof v === 'string') text = JSON.stringify(v.charCodeAt(0) === 35 /* # */ ? `#${v}` : v)
    else if (typeof v === 'boolean') text = v ? 'true' : 'false'
    else return recordLine(e)
    out += `${out.length === 2 ? '' : ','}"${key}":${text}`
  }
  return `${out}}\n`
}

/**
 * One event folded into the state. Every check comes before any change, and `write` (the journal's append)
 * runs between the two: an illegal event throws unwritten, and one that fails to reach the disk is not folded.
 */
function applyEvent(state: JournalState, e: JournalEvent, file: string, write?: (e: JournalEvent) => void): void {
  applyEventOnly(state, e, file, write)
  if (e.time === e.time && !(e.time <= state.lastTime)) state.lastTime = e.time
}

function applyEventOnly(state: JournalState, e: JournalEvent, file: string, write?: (e: JournalEvent) => void): void {
  if (e.type === 'snapshot') {
    write?.(e)
    return
  }
  if (e.type === 'skip') {
    if (e.seq !== state.nextSeq) throw new DataError(`${file}: skip of sequence ${e.seq} where ${state.nextSeq} was next`)
    write?.(e)
    state.nextSeq = e.seq + 1
    return
  }
  if (e.type === 'control') {
    if (e.command !== 'pause' && e.command !== 'resume' && e.command !== 'flatten') throw new DataError(`${file}: control ${JSON.stringify(e.command)} is not pause, resume or flatten`)
    write?.(e)
    state.controlled = true
    return
  }
  if (e.type === 'mark') {
    if (!(e.watermark >= (state.watermark === state.watermark ? state.watermark : -Infinity))) throw new DataError(`${file}: mark ${e.watermark} before the last one (${state.watermark})`)
    write?.(e)
    state.watermark = e.watermark
    return
  }
  if (e.type === 'intent') {
    if (state.orders.has(e.clientOrderId)) throw new DataError(`${file}: order ${e.clientOrderId} is journaled twice`)
    if (e.seq !== state.nextSeq) throw new DataError(`${file}: order sequence ${e.seq} where ${state.nextSeq} was next`)
    write?.(e)
    const o: JournalOrder = { seq: e.seq, clientOrderId: e.clientOrderId, strategy: e.strategy, symbol: e.symbol, side: e.side, qty: e.qty, kind: e.kind, state: 'INTENT', filled: 0, avgPrice: NaN, fees: 0, time: e.time }
    if (e.price !== undefined) o.price = e.price
    if (e.orderId !== undefined) o.orderId = e.orderId
    if (e.role !== undefined) o.role = e.role
    if (e.tag !== undefined) o.tag = e.tag
    if (e.parentCid !== undefined) o.parentCid = e.parentCid
    if (e.stopLoss !== undefined) o.stopLoss = e.stopLoss
    if (e.takeProfit !== undefined) o.takeProfit = e.takeProfit
    if (e.acked === true) {
      o.state = 'ACKED'
      o.exchangeOrderId = e.clientOrderId
    }
    state.orders.set(e.clientOrderId, o)
    state.nextSeq = e.seq + 1
    return
  }
  const o = state.orders.get(e.clientOrderId)
  if (o === undefined) throw new DataError(`${file}: ${e.type} for ${JSON.stringify(e.clientOrderId)}, which the journal never sent`)
  const closed = o.state === 'FILLED' || o.state === 'CANCELLED' || o.state === 'REJECTED'
  switch (e.type) {
    case 'sent':
      if (o.state !== 'INTENT') throw illegal(file, o, e.type)
      write?.(e)
      o.state = 'SENT'
      if (e.list !== undefined) o.list = e.list
      return
    case 'unknown':
      if (closed) throw illegal(file, o, e.type)
      write?.(e)
      o.state = 'UNKNOWN'
      o.reason = e.reason
      return
    case 'ack':
      if (o.state === 'REJECTED') throw illegal(file, o, e.type)
      write?.(e)
      o.exchangeOrderId = e.exchangeOrderId
      if (o.state === 'INTENT' || o.state === 'SENT' || o.state === 'UNKNOWN') o.state = 'ACKED'
      return
    case 'fill': {
      // One trade counts once, however often it was reported (a stream and a REST backfill).
      if (state.tradeIds.has(e.tradeId)) return
      // A fill may arrive before the ack, or after a cancel that raced it: the venue is the truth.
      if (o.state === 'INTENT' || o.state === 'REJECTED') throw illegal(file, o, e.type)
      if (!(e.qty > 0) || !Number.isFinite(e.price)) throw new DataError(`${file}: fill ${e.tradeId} of ${o.clientOrderId} has qty ${e.qty} at ${e.price}`)
      if (o.filled + e.qty > o.qty * (1 + 1e-9)) throw new DataError(`${file}: fill ${e.tradeId} would fill ${o.clientOrderId} past its qty ${o.qty} (filled ${o.filled} + ${e.qty})`)
      const feeQty = e.feeQty ?? 0
      if (typeof feeQty !== 'number' || !(feeQty >= 0 && feeQty < e.qty)) throw new DataError(`${file}: fill ${e.tradeId} of ${o.clientOrderId} (${o.side} ${e.qty}) has feeQty ${e.feeQty}; expected units below its qty`)
      write?.(e)
      state.tradeIds.add(e.tradeId)
      o.avgPrice = o.filled === 0 ? e.price : (o.avgPrice * o.filled + e.price * e.qty) / (o.filled + e.qty)
      o.filled += e.qty
      o.fees += e.fee
      if (o.state !== 'CANCELLED') o.state = o.filled >= o.qty * (1 - 1e-9) ? 'FILLED' : 'PARTIALLY_FILLED'
      const key = positionKey(o.strategy, o.symbol)
      const { position, outside } = positionAfterFill(state.positions.get(key) ?? 0, o.side, e.qty, feeQty)
      state.positions.set(key, position)
      if (outside > 0) {
        const fees = (state.feeOutside ??= new Map<string, number>())
        fees.set(o.symbol, (fees.get(o.symbol) ?? 0) + outside)
      }
      return
    }
    case 'cancel':
      if (o.state === 'FILLED' || o.state === 'REJECTED') throw illegal(file, o, e.type)
      write?.(e)
      o.state = 'CANCELLED'
      if (e.reason !== undefined) o.reason = e.reason
      return
    case 'amend':
      if (closed || !(Number.isFinite(e.qty) && e.qty > 0) || e.qty < o.filled * (1 - 1e-9)) {
        throw new DataError(`${file}: amend of ${o.clientOrderId} (${o.state}, filled ${o.filled}) to qty ${e.qty}`)
      }
      write?.(e)
      o.qty = e.qty
      if (o.filled >= o.qty * (1 - 1e-9) && o.filled > 0) o.state = 'FILLED'
      return
    case 'reject':
      if (o.filled > 0 || closed) throw illegal(file, o, e.type)
      write?.(e)
      o.state = 'REJECTED'
      o.reason = e.reason
      return
  }
}

/**
 * A venue's fill checked for numbers no market gives, with what to book instead, or undefined when it is
 * believable. Its price must be > 0 and within 100× of the last close `mark` (when there is one); its fee
 * finite and at most the trade's value either way (a maker rebate is a small negative fee). Booked as
 * reported, a negative price or fee made cash from nothing and a fee of 1e30 put equity at −4e34, with no
 * alert (an attack review). The quantity is the venue's: refusing the fill left the venue holding a position
 * the deployment did not (a review), so a live session books it at the last close, the fee at 0 when it is
 * the fee that is wrong, and alerts; with no close to book at (`price` undefined) it refuses the fill.
 * A limit order's own limit is not a bound: the venue rounds it to its tick.
 */
export function checkVenueFill(f: { qty: number; price: number; fee: number }, mark = NaN): { why: string; price: number | undefined; fee: number } | undefined {
  const why: string[] = []
  let price: number | undefined = f.price
  if (!(f.price > 0 && f.price < Infinity)) why.push(`price ${f.price}`)
  else if (mark > 0 && (f.price > mark * 100 || f.price < mark / 100)) why.push(`price ${f.price}, 100 times or more away from the last close ${mark}`)
  if (why.length > 0) price = mark > 0 ? mark : undefined
  const notional = f.qty * (price ?? 0)
  let fee = f.fee
  if (!Number.isFinite(f.fee) || (price !== undefined && Math.abs(f.fee) > notional)) {
    why.push(`fee ${f.fee} on a trade worth ${notional}`)
    fee = 0
  }
  return why.length === 0 ? undefined : { why: why.join(', '), price, fee }
}

function illegal(file: string, o: JournalOrder, event: string): DataError {
  return new DataError(`${file}: order ${o.clientOrderId} is ${o.state}; a ${event} cannot follow`)
}

/**
 * A position after a fill of `qty` on `side`, less `feeQty` units the venue kept as its fee in the coins traded
 * (a buy's from the coins bought, a sell's from the coins held): taken from a long position only, at most what
 * it holds; `outside` is the rest, paid from the account's coins outside the position (reconciliation must
 * expect them gone). The engine's book does the same (Book.keepFeeUnits), so the journal's positions and the
 * engine's agree.
 */
export function positionAfterFill(position: number, side: 'buy' | 'sell', qty: number, feeQty: number): { position: number; outside: number } {
  const traded = position + (side === 'buy' ? qty : -qty)
  if (!(feeQty > 0)) return { position: traded, outside: 0 }
  if (!(traded > 0)) return { position: traded, outside: feeQty }
  const taken = Math.min(feeQty, traded)
  const after = traded - taken
  return { position: Math.abs(after) <= 1e-9 * traded ? 0 : after, outside: feeQty - taken }
}

function positionKey(strategy: string, symbol: string): string {
  return `${strategy}|${symbol}`
}
