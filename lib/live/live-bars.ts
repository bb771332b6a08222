// Live bars into the lake (issue 19 point 4). On start, `catchUp` fetches each series from the lake's last
// bar to the exchange's newest closed one (ingestCcxt: the same resume, retries and validation as
// `mtflow ingest ccxt`) and says where the live feed starts. Then `LakeBarWriter` writes every closed bar
// the feed yields through `ingestBars`, in batches, so a later `loadBars` returns exactly what the
// deployment saw. Source name = the exchange id, as `ingest ccxt` uses.

import { ConfigError, floorToTimeframe, timeframeMs, type ProgressSink } from '../core/index.js'
import { emptyBars, ingestBars, loadBars, partitionFiles, toEpochMs, type IngestReport } from '../data/index.js'
import { ingestCcxt } from '../data/sources/ccxt-source.js'
import type { Clock, FeedBar, FeedBatch } from './feed.js'

export interface CatchUpOptions {
  /** ccxt exchange id; also the lake source name. */
  exchange: string
  /** The exchange's REST origin replaced (proxies, stand-ins), as `ingest ccxt --api-url`. */
  apiUrl?: string
  /** The exchange's sandbox/testnet (`deploy --sandbox`): pass a source of its own too (deploy uses "<id>-sandbox"). */
  sandbox?: boolean
  subscriptions: readonly { symbol: string; timeframe: string }[]
  /** First bar wanted for a series the lake does not hold yet (epoch ms or ISO). */
  since: number | string
  /** Lake source (default: the exchange id). */
  source?: string
  pageLimit?: number
  retries?: number
  backoffMs?: number
  timeoutMs?: number
  progress?: ProgressSink
}

export interface CatchUpReport {
  symbol: string
  timeframe: string
  source: string
  /** Bars the catch-up added to the lake. */
  added: number
  /** Bars it sent to the quarantine (invalid or conflicting with the lake). */
  quarantined: number
  /** Open time of the first bar the live feed must ask for (the lake's newest bar + one step). */
  from: number
}

/**
 * Bring the lake up to the exchange's newest closed bar for every subscription, and return where each
 * live series starts (`from`: pass these as the feed's subscriptions, so nothing is fetched twice and
 * nothing closing between the catch-up and the feed's first poll is missed).
 */
export async function catchUp(home: string, options: CatchUpOptions): Promise<CatchUpReport[]> {
  if (options === null || typeof options !== 'object' || typeof options.exchange !== 'string') throw new ConfigError('catchUp needs options { exchange, subscriptions, since }')
  if (!Array.isArray(options.subscriptions) || options.subscriptions.length === 0) throw new ConfigError('catchUp needs at least one subscription { symbol, timeframe }')
  const since = toEpochMs(options.since, 'since')
  const source = options.source ?? options.exchange
  const byTimeframe = new Map<string, string[]>()
  for (const s of options.subscriptions) {
    timeframeMs(s.timeframe)
    const symbols = byTimeframe.get(s.timeframe) ?? []
    if (!symbols.includes(s.symbol)) symbols.push(s.symbol)
    byTimeframe.set(s.timeframe, symbols)
  }
  const reports: CatchUpReport[] = []
  for (const [timeframe, symbols] of byTimeframe) {
    const ingested = await ingestCcxt(home, {
      exchange: options.exchange,
      symbols,
      timeframe,
      since,
      source,
      ...(options.apiUrl === undefined ? {} : { apiUrl: options.apiUrl }),
      ...(options.sandbox === true ? { sandbox: true } : {}),
      ...(options.pageLimit === undefined ? {} : { pageLimit: options.pageLimit }),
      ...(options.retries === undefined ? {} : { retries: options.retries }),
      ...(options.backoffMs === undefined ? {} : { backoffMs: options.backoffMs }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
    })
    for (const r of ingested) {
      const last = await newestBar(home, { source, symbol: r.symbol, timeframe })
      const step = timeframeMs(timeframe)
      // The first bucket opening at or after `since` on the timeframe's grid (weeks open on Mondays: on the epoch's
      // Thursday grid the week of `since` was skipped).
      const start = floorToTimeframe(since, timeframe)
      const from = last === -Infinity ? (start < since ? start + step : start) : last + step
      reports.push({ symbol: r.symbol, timeframe, source, added: r.added, quarantined: Object.values(r.quarantined).reduce((a, b) => a + (b ?? 0), 0), from })
    }
  }
  return options.subscriptions.map((s) => reports.find((r) => r.symbol === s.symbol && r.timeframe === s.timeframe)!)
}

/** The newest bar time the lake holds for a dataset, or -Infinity (reads the last partition only). */
async function newestBar(home: string, key: { source: string; symbol: string; timeframe: string }): Promise<number> {
  const files = partitionFiles(home, key)
  if (files.length === 0) return -Infinity
  const period = /period=([^/\\]+)/.exec(files[files.length - 1]!)![1]!
  const bars = await loadBars(home, { ...key, start: period.length === 4 ? `${period}-01-01` : `${period}-01` })
  return bars.time.length > 0 ? bars.time[bars.time.length - 1]! : -Infinity
}

export interface LakeBarWriterOptions {
  /** Lake source: the exchange id, as `ingest ccxt` names it. */
  source: string
  /** The quarantine's origin label (default "live:<source>"). */
  origin?: string
  /**
   * Write once this many bars wait, all series together (default 60). Each write is one ingest per series,
   * a new lake generation with the touched month's partition rewritten: measured ~40 ms (1 day of 1m bars in
   * the month) to ~55 ms (20 days), the same for 1 bar or 60 — so one write per bar costs 60× more for the
   * same data. A crash loses at most the waiting bars, which the next start's `catchUp` fetches again.
   */
  maxBars?: number
  /** Or once the oldest waiting bar has waited this long on the clock (default 15 min). Checked when bars arrive. */
  maxWaitMs?: number
  /** The deployment's clock (for maxWaitMs; default: the bars' close times). */
  clock?: Clock
}

/**
 * Writes the feed's closed bars into the lake through `ingestBars` (validated, quarantined with a reason,
 * duplicates of what the lake holds counted as unchanged). Call `flush` when the deployment stops, or use
 * `recordToLake`, which does.
 */
export class LakeBarWriter {
  private waiting: FeedBar[] = []
  private oldest = NaN
  private chain: Promise<void> = Promise.resolve()
  private failure: unknown
  /** Every write's ingest reports, in order. */
  readonly reports: IngestReport[] = []
  /** Writes made (each one lake generation per series written). */
  writes = 0
  private readonly maxBars: number
  private readonly maxWaitMs: number

  constructor(
    private readonly home: string,
    private readonly options: LakeBarWriterOptions,
  ) {
    if (options === null || typeof options !== 'object' || typeof options.source !== 'string' || !/^[\w.-]+$/.test(options.source)) {
      throw new ConfigError(`a lake writer needs source: the exchange id (letters, digits, '.', '_' or '-'; received ${JSON.stringify(options?.source)})`)
    }
    this.maxBars = options.maxBars ?? 60
    if (!(Number.isInteger(this.maxBars) && this.maxBars >= 1)) throw new ConfigError(`maxBars must be an integer ≥ 1 (received ${this.maxBars})`)
    this.maxWaitMs = options.maxWaitMs ?? 15 * 60_000
    if (!(this.maxWaitMs >= 0)) throw new ConfigError(`maxWaitMs must be a number ≥ 0 (received ${this.maxWaitMs})`)
  }

  /**
   * Take a batch's bars. When maxBars wait, or the oldest has waited maxWaitMs, a write starts in the
   * background: a lake write (~50 ms, see above) never sits between a closed bar and the engine. A failed
   * write is thrown by the next `add` or `flush`.
   */
  add(batch: FeedBatch | readonly FeedBar[]): void {
    this.rethrow()
    const bars = Array.isArray(batch) ? (batch as readonly FeedBar[]) : (batch as FeedBatch).bars
    if (bars.length === 0 && this.waiting.length === 0) return
    const now = this.options.clock?.now() ?? (bars.length > 0 ? bars[bars.length - 1]!.closeTime : NaN)
    if (this.waiting.length === 0 && bars.length > 0) this.oldest = now
    this.waiting.push(...bars)
    if (this.waiting.length >= this.maxBars || now - this.oldest >= this.maxWaitMs) this.start()
  }

  /** Write every waiting bar now and wait for every write started so far. */
  async flush(): Promise<void> {
    this.start()
    await this.chain
    this.rethrow()
  }

  private start(): void {
    const bars = this.waiting
    this.waiting = []
    this.oldest = NaN
    if (bars.length === 0) return
    // Writes run one after another, in the order the bars came; the first failure is kept.
    this.chain = this.chain.then(() => (this.failure === undefined ? this.write(bars) : undefined)).catch((error: unknown) => {
      this.failure ??= error
    })
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure
  }

  private async write(bars: FeedBar[]): Promise<void> {
    if (bars.length === 0) return
    const series = new Map<string, FeedBar[]>()
    for (const b of bars) {
      const key = `${b.symbol}\u0000${b.timeframe}`
      const list = series.get(key) ?? []
      list.push(b)
      series.set(key, list)
    }
    for (const list of series.values()) {
      const out = emptyBars({ symbol: list[0]!.symbol, timeframe: list[0]!.timeframe }, list.length)
      list.forEach((b, i) => {
        out.time[i] = b.time
        out.open[i] = b.open
        out.high[i] = b.high
        out.low[i] = b.low
        out.close[i] = b.close
        out.volume[i] = b.volume
      })
      this.reports.push(await ingestBars(this.home, out, { source: this.options.source, origin: this.options.origin ?? `live:${this.options.source}` }))
    }
    this.writes++
  }
}

/**
 * The same feed, each batch handed to the writer before it is passed on (the writer decides when to write);
 * the writer is flushed when the feed ends or its consumer stops.
 */
export function recordToLake<B extends FeedBatch>(feed: { batches(): AsyncIterable<B> }, writer: LakeBarWriter): { batches(): AsyncGenerator<B> } {
  return {
    async *batches() {
      try {
        for await (const batch of feed.batches()) {
          writer.add(batch)
          yield batch
        }
      } finally {
        await writer.flush()
      }
    },
  }
}
