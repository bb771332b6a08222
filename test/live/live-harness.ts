// The live-deployment test harness (from test/live/live-deploy.test.ts, for tests that need two deployments
// on one stand-in or a strategy of their own): a workspace, the Binance stand-in, runDeployment with a
// CcxtVenue stepped one closed bar at a time.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { CcxtVenue } from '../../lib/live/ccxt-venue.js'
import { runDeployment, type DeploymentStatus } from '../../lib/live/deployment.js'
import { OrderJournal, validateDeploymentConfig, type Clock, type DeploymentConfig, type FeedBar, type FeedBatch, type MarketFeed } from '../../lib/live/index.js'
import type { Context } from '../../lib/strategy/index.js'
import { scripted, type Recorder } from '../backtest/scripted.js'
import { standinCandle, standinPrice, startBinanceStandin, type Standin, type StandinOptions } from '../fixtures/binance-standin.js'

const M = 60_000
const S = 1000
/** The first bar's open time; bar i opens at T0 + i minutes and is stepped 1 s after it closes. */
const T0 = Date.UTC(2024, 0, 10, 5, 0)
const CREDS = { apiKey: 'live-deploy-key-5c1d', secret: 'live-deploy-secret-93e0' }
const FEE = 0.001
const r8 = (x: number) => Math.round(x * 1e8) / 1e8
const cent = (x: number) => Math.round(x * 100) / 100

/** The stand-in's time; sleeps (backoff) are recorded and return at once. */
class StandinClock implements Clock {
  sleeps: number[] = []
  constructor(private readonly standin: Standin) {}
  now(): number {
    return this.standin.now()
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms)
    return new Promise((resolve) => setImmediate(resolve))
  }
}

/** Bars the test hands over one batch at a time; `waiting` when the deployment has asked for the next. */
class StepFeed implements MarketFeed {
  private queue: FeedBatch[] = []
  private wake: (() => void) | undefined
  private ended = false
  waiting = false
  push(batch: FeedBatch): void {
    this.waiting = false
    this.queue.push(batch)
    this.wake?.()
  }
  end(): void {
    this.ended = true
    this.wake?.()
  }
  async *batches(): AsyncIterable<FeedBatch> {
    for (;;) {
      while (this.queue.length === 0) {
        if (this.ended) return
        this.waiting = true
        await new Promise<void>((r) => (this.wake = r))
        this.wake = undefined
      }
      this.waiting = false
      yield this.queue.shift()!
    }
  }
}

/** Bar i of a stand-in market (BTC/USDT unless said) as the stand-in serves it. */
function bar(i: number, symbol = 'BTC/USDT'): FeedBar {
  const time = T0 + i * M
  const [open, high, low, close, volume] = standinCandle(symbol.replace('/', ''), time, M)
  return { symbol, timeframe: '1m', time, closeTime: time + M, open, high, low, close, volume }
}

/** The market price while bar i is stepped (1 s after it closed: the next minute's open). */
const marketAt = (i: number) => standinPrice('BTCUSDT', T0 + (i + 1) * M + S)

const config = (name: string, over: Record<string, unknown> = {}): DeploymentConfig =>
  validateDeploymentConfig({
    name,
    strategy: { name: 'scripted', version: 1, sha256: 'b'.repeat(64) },
    symbols: ['BTC/USDT'],
    timeframe: '1m',
    mode: 'live',
    venue: { exchange: 'binance', apiUrl: 'http://127.0.0.1:1' },
    cash: 10_000,
    feed: { kind: 'poll' },
    ...over,
  })

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

export async function world(options: Partial<StandinOptions> = {}, shared?: Standin) {
  // The stand-in reads its options as it answers: a test may change rateLimitEvery on this object.
  const standinOptions: StandinOptions = { now: T0, balances: { USDT: 10_000 }, ...options }
  const s = shared ?? (await startBinanceStandin(standinOptions))
  const home = mkdtempSync(join(tmpdir(), 'mtflow-live-deploy-'))
  cleanup.push(() => (shared ? undefined : s.close()), () => rmSync(home, { recursive: true, force: true }))
  const clock = new StandinClock(s)
  const posts = () => s.signed.filter((r) => r.method === 'POST' && r.path === '/api/v3/order')

  /** One deployment process's life: start it, step bars, end the feed (a restart is another `start`). */
  /**
   * `since`: the venue's look-back before its first start (default T0 − 1 min; 'venue' leaves the venue's own,
   * as the CLI does); `without`: ccxt capabilities switched off; `lists: false`: an exchange without OCO lists.
   */
  const start = (name: string, script: Record<number, (ctx: Context<Record<string, number>>) => void>, opts: { reconcileEveryMs?: number; timeoutMs?: number; over?: Record<string, unknown>; strategy?: any; lists?: false; history?: Record<string, import('../../lib/data/index.js').Bars>; since?: number | 'venue'; without?: string[] } = {}) => {
    const since = opts.since === undefined ? T0 - M : opts.since
    const venue = new CcxtVenue('binance', { apiUrl: s.url, credentials: CREDS, clock, pollMs: 0, backoffMs: 5, retries: 3, timeoutMs: opts.timeoutMs ?? 1500, ...(since === 'venue' ? {} : { since }) })
    // An exchange without OCO order lists: bracket legs go out as two orders.
    if (opts.lists === false) (venue as { submitList?: unknown }).submitList = undefined
    const has = (venue as unknown as { exchange: { has: Record<string, unknown> } }).exchange.has
    for (const cap of opts.without ?? []) has[cap] = false
    const symbols = ((opts.over?.symbols as string[] | undefined) ?? ['BTC/USDT'])
    const feed = new StepFeed()
    const rec: Recorder = { orders: [], fills: [], bars: [] }
    const lines: string[] = []
    const strategy = opts.strategy ?? scripted(script, rec)
    const running = runDeployment({ home, config: config(name, opts.over), strategy, venue, feed, clock, track: false, reconcileEveryMs: opts.reconcileEveryMs ?? 0, log: (l) => lines.push(l), ...(opts.history === undefined ? {} : { history: opts.history }) })
    let failure: unknown
    running.catch((e: unknown) => (failure = e))
    let done = false
    cleanup.push(async () => {
      if (!done) feed.end()
      await running.catch(() => undefined)
    })
    /** Until the deployment has handled what it was given and asks for more (a real-time safety net only). */
    const idle = async () => {
      for (let n = 0; n < 10_000; n++) {
        if (failure !== undefined) throw failure
        if (feed.waiting) {
          await venue.settled()
          await new Promise((r) => setImmediate(r))
          await new Promise((r) => setImmediate(r))
          if (feed.waiting) return
        }
        await new Promise((r) => setTimeout(r, 1))
      }
      throw new Error('the deployment never asked for the next bar')
    }
    return {
      venue,
      rec,
      lines,
      idle,
      journal: () => OrderJournal.open(join(home, 'deployments', name), name),
      alerts: () => (existsSync(join(home, 'deployments', name, 'alerts.jsonl')) ? readFileSync(join(home, 'deployments', name, 'alerts.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text) : []),
      status: () => JSON.parse(readFileSync(join(home, 'deployments', name, 'status.json'), 'utf8')) as DeploymentStatus,
      /** Bar i closed: the stand-in's clock 1 s past its close (resting orders match), the venue's fill poll, then the bar. */
      async step(i: number, options: { poll?: boolean } = {}) {
        await idle()
        s.setNow(T0 + (i + 1) * M + S)
        // The venue's background fill poll (it alerts and carries on when the exchange does not answer).
        if (options.poll !== false) await venue.pollFills().catch(() => undefined)
        feed.push({ bars: symbols.map((symbol) => bar(i, symbol)), watermark: T0 + (i + 1) * M })
        await idle()
      },
      async stop(): Promise<DeploymentStatus> {
        await idle()
        feed.end()
        done = true
        return running
      },
    }
  }
  return { s, home, clock, posts, start, standinOptions }
}

/** Every file a deployment wrote (journal, status, alerts, outside holdings), as one text. */
function everythingWritten(dir: string): string {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n')
}

const fillsOf = (journal: OrderJournal) => readFileSync(journal.file, 'utf8').split('\n').filter((l) => l.includes('"type":"fill"')).map((l) => JSON.parse(l) as { clientOrderId: string; tradeId: string; qty: number; price: number; fee: number })


export { M, S, T0, CREDS, FEE, r8, cent, bar, marketAt, fillsOf, StepFeed, StandinClock, config, cleanup, everythingWritten }
