// The clock and market feeds a deployment runs on (DESIGN: MarketFeed, Clock). A feed yields batches of
// closed bars with a watermark: every subscribed series has delivered all its bars closing at or before it,
// so the engine may `advance(watermark)` and step them in its own tie order whatever order they arrived in.
// ReplayFeed replays the lake's bars — as fast as possible, or paced by the clock (one bar period of the
// finest series per `paceMs`) — which is how a paper deployment reproduces a backtest.

import { ConfigError, timeframeMs } from '../core/index.js'
import { loadBars, type Bars } from '../data/index.js'
import type { BarEvent } from '../strategy/index.js'

/** Time for a deployment: the wall clock, or one a test moves. */
export interface Clock {
  now(): number
  sleep(ms: number): Promise<void>
}

export class WallClock implements Clock {
  now(): number {
    return Date.now()
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
  }
}

/** A clock that moves only when told: `sleep` resolves once `advance` has moved it past the wake time. */
export class ManualClock implements Clock {
  private sleepers: { at: number; wake: () => void }[] = []

  constructor(private time = 0) {}

  now(): number {
    return this.time
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      this.sleepers.push({ at: this.time + Math.max(0, ms), wake })
      this.release()
    })
  }

  /** Move the clock forward by `ms`, waking every sleeper whose time has come. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new ConfigError(`a clock moves forward only (received ${ms} ms)`)
    this.time += ms
    this.release()
  }

  /** Sleepers waiting now (a test's way to know the feed is paused on the clock). */
  get waiting(): number {
    return this.sleepers.length
  }

  private release(): void {
    const due = this.sleepers.filter((s) => s.at <= this.time)
    this.sleepers = this.sleepers.filter((s) => s.at > this.time)
    for (const s of due) s.wake()
  }
}

/** One closed bar of one series: the strategy's BarEvent without its position in the engine's series. */
export type FeedBar = Omit<BarEvent, 'index'>

export interface FeedBatch {
  bars: FeedBar[]
  /** Every series has delivered all of its bars closing at or before this. */
  watermark: number
}

export interface MarketFeed {
  batches(): AsyncIterable<FeedBatch>
}

export interface ReplaySeries {
  symbol: string
  timeframe: string
  bars: Bars
}

/**
 * Bars already in memory (or loaded from the lake with `replayFromLake`), in time order: paced, one batch
 * per distinct close time (`paceMs` of wall time per bar period of the finest series); as fast as possible,
 * up to `chunk` close times per batch (default 4,096; the engine steps a batch's bars in its own merge
 * order whatever its size, so the results are the same — the batches only save an await per bar).
 */
export class ReplayFeed implements MarketFeed {
  private readonly finestMs: number

  constructor(
    private readonly series: readonly ReplaySeries[],
    private readonly options: { clock?: Clock; paceMs?: number; chunk?: number } = {},
  ) {
    const chunk = options.chunk ?? 4096
    if (!(Number.isInteger(chunk) && chunk >= 1)) throw new ConfigError(`chunk must be an integer ≥ 1 (received ${chunk})`)
    if (series.length === 0) throw new ConfigError('a replay feed needs at least one series')
    const pace = options.paceMs ?? 0
    if (!(pace >= 0 && Number.isFinite(pace))) throw new ConfigError(`paceMs must be a finite number ≥ 0 (received ${pace})`)
    if (pace > 0 && options.clock === undefined) throw new ConfigError('a paced replay needs a clock')
    this.finestMs = Math.min(...series.map((s) => timeframeMs(s.timeframe)))
  }

  async *batches(): AsyncIterable<FeedBatch> {
    const tf = this.series.map((s) => timeframeMs(s.timeframe))
    const cursor = this.series.map(() => 0)
    const pace = this.options.paceMs ?? 0
    const chunk = pace > 0 ? 1 : (this.options.chunk ?? 4096)
    let previous = NaN
    let bars: FeedBar[] = []
    let times = 0
    for (;;) {
      // The next close time across the series.
      let next = Infinity
      for (let k = 0; k < this.series.length; k++) {
        const b = this.series[k]!.bars
        if (cursor[k]! < b.time.length) next = Math.min(next, b.time[cursor[k]!]! + tf[k]!)
      }
      if (next === Infinity) {
        if (times > 0) yield { bars, watermark: previous }
        return
      }
      if (pace > 0 && previous === previous) await this.options.clock!.sleep(((next - previous) / this.finestMs) * pace)
      for (let k = 0; k < this.series.length; k++) {
        const s = this.series[k]!
        const b = s.bars
        while (cursor[k]! < b.time.length && b.time[cursor[k]!]! + tf[k]! === next) {
          const i = cursor[k]!++
          bars.push({ symbol: s.symbol, timeframe: s.timeframe, time: b.time[i]!, closeTime: next, open: b.open[i]!, high: b.high[i]!, low: b.low[i]!, close: b.close[i]!, volume: b.volume[i]! })
        }
      }
      previous = next
      if (++times === chunk) {
        yield { bars, watermark: next }
        bars = []
        times = 0
      }
    }
  }
}

/** A replay of the lake's bars for these subscriptions (from `start` to `end`, as `loadBars` reads them). */
export async function replayFromLake(
  home: string,
  subscriptions: readonly { symbol: string; timeframe: string; source?: string }[],
  range: { start?: number | string; end?: number | string } = {},
  options: { clock?: Clock; paceMs?: number; chunk?: number } = {},
): Promise<ReplayFeed> {
  const series: ReplaySeries[] = []
  for (const sub of subscriptions) {
    const bars = await loadBars(home, { symbol: sub.symbol, timeframe: sub.timeframe, ...(sub.source === undefined ? {} : { source: sub.source }), ...range })
    series.push({ symbol: sub.symbol, timeframe: sub.timeframe, bars })
  }
  return new ReplayFeed(series, options)
}
