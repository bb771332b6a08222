// A deployment's engine session: the backtest's engine (same order manager, portfolio, sizing, caps,
// brackets) fed closed bars as a MarketFeed delivers them, stepped to each batch's watermark. A bar is
// refused — never traded on — when it is still open by the clock, not on its series' grid, out of order,
// late (its close time already stepped) or not a valid OHLCV bar.

import { ConfigError, DataError, isoTime } from '../core/index.js'
import { buildSessionEngine, collectResults, type BacktestResult, type SessionEngineOptions } from '../backtest/index.js'
import type { Engine, SeriesState } from '../backtest/engine.js'
import type { Clock, FeedBar, MarketFeed } from './feed.js'
import type { OrderJournal } from './journal.js'
import { simJournalHooks } from './sim-venue.js'

export interface SessionOptions {
  /** Refuses bars that have not closed by this clock (a live feed's guard; a replay needs none). */
  clock?: Clock
  /** The deployment's order journal: every order placed, filled, amended, cancelled (SimVenue: flushed per step). */
  journal?: OrderJournal
}

export class EngineSession {
  readonly engine: Engine
  private started = false
  private finished = false
  /** The last watermark stepped to. */
  private stepped = -Infinity
  private last: SeriesState | undefined = undefined

  private readonly clock: Clock | undefined
  private readonly journal: OrderJournal | undefined

  constructor(options: SessionEngineOptions, session: SessionOptions = {}) {
    this.engine = buildSessionEngine(options)
    this.clock = session.clock
    this.journal = session.journal
    if (this.journal !== undefined) this.engine.hooks = simJournalHooks(this.engine, this.journal)
  }

  /** onStart for every strategy (after the history, if any, is in place). */
  start(): void {
    if (this.started) throw new ConfigError('this session has started already')
    this.started = true
    this.engine.begin()
    this.journal?.flush()
  }

  /** One closed bar of a subscribed series: held, streamed into the indicators, stepped by the next `advanceTo`. */
  onBar(bar: FeedBar): void {
    if (!this.started || this.finished) throw new ConfigError(this.finished ? 'this session has finished' : 'start the session before feeding it bars')
    // The series of the last bar, when this one is of the same (a replay's bars mostly are): no key per bar.
    let s = this.last
    if (s === undefined || s.symbol !== bar.symbol || s.timeframe !== bar.timeframe) {
      s = this.engine.seriesByKey.get(`${bar.symbol}@${bar.timeframe}`)
      if (s === undefined) throw new DataError(`bar for ${bar.symbol} ${bar.timeframe}: not subscribed; the session trades ${[...this.engine.seriesByKey.keys()].join(', ')}`)
      this.last = s
    }
    const { time, open, high, low, close, volume } = bar
    if (!(bar.closeTime === time + s.tfMs && Number.isFinite(time))) throw refused(bar, `close time must be its open + ${bar.timeframe} (received ${bar.closeTime})`)
    if (this.clock !== undefined && bar.closeTime > this.clock.now()) throw refused(bar, `still open (it closes at ${isoTime(bar.closeTime)}, the clock reads ${isoTime(this.clock.now())})`)
    if (s.n > 0 && !(time > s.bars.time[s.n - 1]!)) throw refused(bar, `not after the series' last bar (${isoTime(s.bars.time[s.n - 1]!)})`)
    if (bar.closeTime <= this.stepped) throw refused(bar, `late — its close time was stepped already (watermark ${isoTime(this.stepped)})`)
    // Finite, and a bar: (NaN fails every comparison, so one test each).
    if (!(high >= open && high >= close && low <= open && low <= close && low > 0 && volume >= 0 && high < Infinity && volume < Infinity)) {
      throw refused(bar, Number.isFinite(open + high + low + close + volume) ? `not a valid bar (open ${open}, high ${high}, low ${low}, close ${close}, volume ${volume})` : 'prices and volume must be finite numbers')
    }
    this.engine.append(s, time, open, high, low, close, volume)
  }

  /** Steps every held bar closing at or before `watermark`, in the backtest's tie order. */
  advanceTo(watermark: number): void {
    if (!(watermark >= this.stepped)) throw new DataError(`watermark ${watermark} is before the last one (${this.stepped})`)
    this.stepped = watermark
    this.engine.advance(watermark)
    this.journal?.flush()
  }

  /** The end of the data (a replay that ran out): as a backtest ends — brackets expire, open trades are marked open. */
  finish(): void {
    if (this.finished) return
    this.finished = true
    this.engine.end()
    this.journal?.flush()
  }

  results(periodsPerYear?: number): BacktestResult {
    return collectResults(this.engine, periodsPerYear)
  }

  /** Feeds every batch of a feed (bars, then the watermark), then finishes. */
  async run(feed: MarketFeed): Promise<void> {
    if (!this.started) this.start()
    for await (const batch of feed.batches()) {
      for (const bar of batch.bars) this.onBar(bar)
      this.advanceTo(batch.watermark)
    }
    this.finish()
  }
}

function refused(bar: FeedBar, why: string): DataError {
  return new DataError(`bar ${bar.symbol} ${bar.timeframe} ${Number.isFinite(bar.time) ? isoTime(bar.time) : String(bar.time)}: ${why}`)
}
