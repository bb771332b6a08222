// Live deployment latency (issue 19): from a closed bar arriving on the feed to the order request leaving
// the process, on the real path — an EngineSession with CcxtVenue (the real ccxt 4.5.84 over undici)
// against the Binance stand-in in a process of its own (test/fixtures/binance-standin-process.ts), the
// journal fsync'ing every event before it returns (durability "each", as live runs), and a strategy that
// sends a market order on every bar (buy on even bars, sell on odd ones: the position stays 0 or 0.01).
//
// Per bar: t0 = just before session.onBar + advanceTo of the closed bar; t1 = the request leaving the
// process: the moment undici hands POST /api/v3/order's header and body to the kernel (net.Socket's
// _writeGeneric, which makes the writev(2) call: cork, write, write, uncork). Next to it: when that
// writev returned ('undici:request:bodySent'; on loopback the kernel delivers the bytes to the receiving
// socket and wakes the stand-in inside the sender's call, which costs 0.15 ms typical and milliseconds
// in its tail on this VM), and the moment the stand-in parsed the request's headers, on a clock shared by
// both processes (performance.timeOrigin + performance.now()). Bars are fed one at a time: each waits
// until its order is answered and its fill booked (a live 1m feed brings one bar a minute, so nothing
// queues), and the first `warmup` bars are not counted (JIT tiers, the keep-alive socket, ccxt's market
// cache).

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import fs, { mkdtempSync, rmSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CcxtVenue } from '../../lib/live/ccxt-venue.js'
import { WallClock, type FeedBar } from '../../lib/live/feed.js'
import { OrderJournal } from '../../lib/live/journal.js'
import { EngineSession } from '../../lib/live/session.js'
import { defineStrategy } from '../../lib/strategy/index.js'
import type { BenchRow } from './timing.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SYMBOL = 'BTC/USDT'
const QTY = 0.01
const MINUTE = 60_000

/** How ccxt's REST rate limiter runs in front of each request. */
export type Throttle = 'ccxt' | 'rolling-window'

export interface LiveBenchOptions {
  /** Bars measured after the warm-up (default 2,000). */
  bars?: number
  /** Bars stepped before measuring (default 1,000: the first thousand orders of a process are slower while V8 tiers ccxt's and undici's code up). */
  warmup?: number
  /**
   * 'ccxt': the client as CcxtVenue builds it (ccxt's rolling-window limiter over Binance's one-minute
   * budget). 'rolling-window': the same limiter set again here (it was the comparison with ccxt's default
   * leaky bucket, which held every order ~10 ms before CcxtVenue switched).
   */
  throttle?: Throttle
}

/** One measured bar, milliseconds from t0 (NaN where a point was not seen). */
export interface BarLatency {
  cid: string
  /** 'undici:client:sendHeaders': the request's header is built, about to be written. */
  headers: number
  /** The request's bytes handed to the kernel: net.Socket's _writeGeneric entered (the writev(2) call). */
  handed: number
  /** 'undici:request:bodySent': that writev returned. */
  sent: number
  /** The stand-in parsed the request (other process, shared clock). */
  received: number
  /** session.onBar + advanceTo returned (the step, the journal's intent, sent and mark, venue.submit). */
  stepped: number
  /** Time inside a synchronous fsync(2) between t0 and `handed`, and how many (durability `each` runs the
   * intent's fsync in the thread pool, concurrently with the send: none is expected). */
  fsyncMs: number
  fsyncs: number
  /** Time in the journal's intent(), sent() and mark() calls (each writes one line and fsyncs it). */
  intentMs: number
  sentMs: number
  markMs: number
}

export interface LiveRun {
  samples: BarLatency[]
  /** Orders the stand-in accepted, all bars counted (warm-up included). */
  standinOrders: number
  /** Bars fed, warm-up included. */
  fed: number
}

interface Standin {
  url: string
  ask(command: string): Promise<unknown>
  close(): Promise<void>
}

/** The stand-in in its own process (tsx through --import: the stand-in's speed is not what is measured). */
async function startStandinProcess(now: number): Promise<Standin> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/binance-standin-process.ts'), JSON.stringify({ now, balances: { USDT: 100_000 } })], { cwd: ROOT })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const lines: Interface = createInterface({ input: child.stdout })
  const waiting: ((line: string) => void)[] = []
  lines.on('line', (line) => waiting.shift()?.(line))
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the stand-in process exited (${code}): ${stderr.trim()}`))))
  const next = () => Promise.race([new Promise<string>((resolve) => waiting.push(resolve)), exited])
  const { url } = JSON.parse(await next()) as { url: string }
  return {
    url,
    ask: async (command) => {
      const answer = next()
      child.stdin.write(`${command}\n`)
      return JSON.parse(await answer) as unknown
    },
    close: async () => {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      exited.catch(() => {})
      child.stdin.end('close\n')
      await gone
    },
  }
}

/** A strategy that orders on every bar: buy on even bars, sell on odd ones. */
const everyBar = defineStrategy<Record<string, never>>({
  name: 'every-bar',
  params: {},
  universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
  warmup: () => 0,
  onBar(ctx, bar) {
    if (bar.index % 2 === 0) ctx.buy(bar.symbol, { qty: QTY })
    else ctx.sell(bar.symbol, { qty: QTY })
  },
})

/** Runs the live path over warm-up + measured bars and returns each measured bar's latencies. */
export async function measureLive(options: LiveBenchOptions = {}, progress: (text: string) => void = () => {}): Promise<LiveRun> {
  const measured = options.bars ?? 2000
  const warmup = options.warmup ?? 1000
  const total = warmup + measured
  // Bars closed in the past by the wall clock, one minute apart, the newest a minute ago.
  const first = Math.floor(Date.now() / MINUTE) * MINUTE - (total + 1) * MINUTE
  const standin = await startStandinProcess(Date.now())
  const dir = mkdtempSync(join(tmpdir(), 'mtflow-bench-live-'))
  const clock = new WallClock()
  const journal = OrderJournal.open(dir, 'bench-live', { durability: 'each' })
  const venue = new CcxtVenue('binance', { apiUrl: standin.url, credentials: { apiKey: 'bench-api-key-1234', secret: 'bench-secret-5678' }, clock, pollMs: 0, timeoutMs: 10_000 })
  if (options.throttle === 'rolling-window') {
    // What `new ccxt.binance({ rateLimiterAlgorithm: 'rollingWindow' })` builds; the bucket built at
    // construction must go first, or its "leakyBucket" wins over the new setting.
    const exchange = venue.exchange as unknown as { rateLimiterAlgorithm: string; tokenBucket: unknown; initRestRateLimiter(): void; throttler: { config: { algorithm: string } } }
    exchange.tokenBucket = undefined
    exchange.rateLimiterAlgorithm = 'rollingWindow'
    exchange.initRestRateLimiter()
    if (exchange.throttler.config.algorithm !== 'rollingWindow') throw new Error(`ccxt kept its ${exchange.throttler.config.algorithm} limiter`)
  }
  const problems: string[] = []
  const session = new EngineSession(
    { cash: 100_000, sleeves: [{ strategy: everyBar, symbols: [SYMBOL], timeframe: '1m', weight: 1 }] },
    { journal, venue, clock, onEvent: (_e, problem) => problem !== undefined && problems.push(problem) },
  )

  let current: BarLatency | undefined
  let t0 = 0
  let fsyncMs = 0
  let fsyncs = 0
  let posts = 0
  let sentSignal: (() => void) | undefined
  const isOrderPost = (request: { method?: string; path?: string }) => request.method === 'POST' && request.path?.startsWith('/api/v3/order') === true
  // The writev(2) call timed where net.Socket makes it, on the sockets undici sends order requests on.
  let armed = false
  const wrapped = new WeakSet<object>()
  const onHeaders = (message: unknown) => {
    const { request, socket } = message as { request: { method?: string; path?: string }; socket: { _writeGeneric: (...args: unknown[]) => unknown } }
    if (current === undefined || !isOrderPost(request)) return
    current.headers = performance.now() - t0
    armed = true
    if (wrapped.has(socket)) return
    wrapped.add(socket)
    const write = socket._writeGeneric
    socket._writeGeneric = function (this: unknown, ...args: unknown[]) {
      if (armed && current !== undefined) {
        current.handed = performance.now() - t0
        current.fsyncMs = fsyncMs
        current.fsyncs = fsyncs
        armed = false
      }
      return write.apply(this, args)
    }
  }
  const onSent = (message: unknown) => {
    const { request } = message as { request: { method?: string; path?: string } }
    if (current === undefined || !isOrderPost(request)) return
    const at = performance.now()
    posts++
    if (posts > 1) return // checked after the bar: one order request per bar
    current.sent = at - t0
    sentSignal?.()
  }
  subscribe('undici:client:sendHeaders', onHeaders)
  subscribe('undici:request:bodySent', onSent)
  // fsync(2) timed where the journal calls it: node:fs's binding wrapped (CommonJS callers read the
  // property at each call; syncBuiltinESMExports updates ES module importers).
  const plainFsync = fs.fsyncSync
  fs.fsyncSync = (fd: number) => {
    const t = performance.now()
    try {
      plainFsync(fd)
    } finally {
      fsyncMs += performance.now() - t
      fsyncs++
    }
  }
  syncBuiltinESMExports()
  // The journal's calls on the order's way out, timed on this instance only.
  const timed = <K extends 'intent' | 'sent' | 'mark'>(name: K, field: 'intentMs' | 'sentMs' | 'markMs') => {
    const plain = journal[name].bind(journal) as (...args: unknown[]) => unknown
    ;(journal as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      const t = performance.now()
      try {
        const out = plain(...args)
        if (name === 'intent' && current !== undefined) current.cid = (out as { clientOrderId: string }).clientOrderId
        return out
      } finally {
        if (current !== undefined) current[field] += performance.now() - t
      }
    }
  }
  timed('intent', 'intentMs')
  timed('sent', 'sentMs')
  timed('mark', 'markMs')

  const samples: BarLatency[] = []
  let fed = 0
  try {
    await venue.start({ symbols: [SYMBOL], kinds: new Set(['market']) })
    session.start()
    let price = 1500
    for (let k = 0; k < total; k++) {
      if (k % 100 === 0) progress(`live: bar ${k + 1}/${total}${k < warmup ? ' (warm-up)' : ''}`)
      const time = first + k * MINUTE
      const open = price
      price += k % 2 === 0 ? 0.5 : -0.5
      const bar: FeedBar = { symbol: SYMBOL, timeframe: '1m', time, closeTime: time + MINUTE, open, high: Math.max(open, price) + 0.25, low: Math.min(open, price) - 0.25, close: price, volume: 10 }
      const sample: BarLatency = { cid: '', headers: NaN, handed: NaN, sent: NaN, received: NaN, stepped: NaN, fsyncMs: NaN, fsyncs: 0, intentMs: 0, sentMs: 0, markMs: 0 }
      const sent = new Promise<void>((resolve) => (sentSignal = resolve))
      session.drainInbox()
      fsyncMs = 0
      fsyncs = 0
      posts = 0
      current = sample
      t0 = performance.now()
      session.onBar(bar)
      session.advanceTo(bar.closeTime)
      sample.stepped = performance.now() - t0
      // A safety net only: a request that never leaves fails the bench, it is not a figure.
      let timer: NodeJS.Timeout | undefined
      await Promise.race([sent, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`bar ${k}: no order request left within 30 s`)), 30_000)))])
      clearTimeout(timer)
      await venue.settled()
      await new Promise((resolve) => setImmediate(resolve))
      current = undefined
      fed++
      if (posts !== 1) throw new Error(`bar ${k}: ${posts} order requests left (expected 1)`)
      const state = journal.order(sample.cid).state
      if (state !== 'FILLED') throw new Error(`bar ${k}: order ${sample.cid} is ${state} after its answer (expected FILLED)${problems.length > 0 ? `; ${problems.join('; ')}` : ''}`)
      const position = journal.position('every-bar', SYMBOL)
      if (Math.abs(position - (k % 2 === 0 ? QTY : 0)) > 1e-9) throw new Error(`bar ${k}: journal position ${position}, expected ${k % 2 === 0 ? QTY : 0}`)
      if (k >= warmup) samples.push({ ...sample, t0Abs: performance.timeOrigin + t0 } as BarLatency & { t0Abs: number })
    }
    const arrivals = (await standin.ask('arrivals')) as { cid: string; at: number }[]
    const byCid = new Map(arrivals.map((a) => [a.cid, a.at]))
    for (const s of samples) s.received = (byCid.get(s.cid) ?? NaN) - (s as BarLatency & { t0Abs: number }).t0Abs
    const standinOrders = (await standin.ask('orders')) as number
    for (const s of samples) delete (s as Partial<BarLatency & { t0Abs: number }>).t0Abs
    return { samples, standinOrders, fed }
  } finally {
    current = undefined
    unsubscribe('undici:client:sendHeaders', onHeaders)
    unsubscribe('undici:request:bodySent', onSent)
    fs.fsyncSync = plainFsync
    syncBuiltinESMExports()
    await venue.close()
    journal.close()
    await standin.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The q-quantile (0..1) of values by the nearest-rank method: p99 of 2,000 values is the 1,980th smallest. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

const ms = (x: number) => (x < 10 ? x.toPrecision(3) : x.toFixed(0))

/** The median of a few numbers. */
const median = (xs: readonly number[]) => quantile(xs, 0.5)

export async function benchLive(progress: (text: string) => void, options: LiveBenchOptions & { throttles?: Throttle[]; runs?: number } = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  // Runs in one process, each with its own stand-in and journal; every figure is the median over the runs
  // (the first run of a process pays for the rest's tiering on top of its warm-up, the VM adds noise).
  const runs = options.runs ?? Number(process.env.BENCH_LIVE_RUNS ?? 3)
  for (const throttle of options.throttles ?? ['ccxt']) {
    const limiter = throttle === 'ccxt' ? 'the client as CcxtVenue builds it' : "ccxt's rolling-window limiter set again"
    const figures: Record<'handed' | 'sent' | 'received' | 'stepped', { p50: number[]; p99: number[]; max: number[] }> = {
      handed: { p50: [], p99: [], max: [] },
      sent: { p50: [], p99: [], max: [] },
      received: { p50: [], p99: [], max: [] },
      stepped: { p50: [], p99: [], max: [] },
    }
    let n = 0
    for (let r = 1; r <= runs; r++) {
      progress(`live: ${throttle} throttle, run ${r}/${runs}`)
      const run = await measureLive({ ...options, throttle }, progress)
      if (run.standinOrders !== run.fed) throw new Error(`the stand-in accepted ${run.standinOrders} orders for ${run.fed} bars`)
      // The intent's fsync runs in the thread pool (durability "each"): a synchronous one on the path is a regression.
      const syncs = run.samples.reduce((a, s) => a + s.fsyncs, 0)
      if (syncs > 0) throw new Error(`${syncs} synchronous fsync calls between a bar and its order request (expected none: the intent's fsync runs in the thread pool)`)
      n = run.samples.length
      for (const key of ['handed', 'sent', 'received', 'stepped'] as const) {
        const values = run.samples.map((s) => s[key])
        figures[key].p50.push(quantile(values, 0.5))
        figures[key].p99.push(quantile(values, 0.99))
        figures[key].max.push(Math.max(...values))
      }
    }
    const row = (key: keyof typeof figures, workload: string, reference: string) => {
      const f = figures[key]
      const p99s = f.p99.map((x) => ms(x)).join(', ')
      rows.push({
        workload,
        median: median(f.p50),
        throughput: `p99 ${ms(median(f.p99))} ms (runs: ${p99s}), max ${ms(Math.max(...f.max))} ms`,
        reference,
        ratio: median(f.p99).toFixed(2),
      })
    }
    const bars = `${runs} runs × ${n.toLocaleString('en-US')} bars`
    row('handed', `live: closed bar → order request leaves the process (writev called), ${bars} (${limiter})`, 'target ≤ 1 ms p99')
    row('sent', `live: … and that writev returned (loopback: the kernel delivers to the stand-in inside it)`, 'kernel time, for context')
    row('received', `live: … and the stand-in parsed it (other process, shared clock)`, 'for context')
    row('stepped', `live: of which the engine's step (onBar; intent and sent written, fsync started; venue.submit called)`, `its share of the median: ${(median(figures.stepped.p50) / median(figures.handed.p50)).toFixed(2)}`)
  }
  return rows
}
