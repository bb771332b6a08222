// Review: a lagging symbol's late bars (EngineSession.onLateBar → Engine.appendPast) enter the open trades'
// extremes — but a trade the venue opened during the outage did not exist over the late bars that closed
// before its entry: their highs and lows are not its excursions, nor are those bars bars it was held.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { EngineSession, ManualClock, OrderJournal, type Venue, type VenueEvent, type VenueOrder } from '../../lib/live/index.js'
import { scripted } from '../backtest/scripted.js'

const H = 3_600_000
const T0 = Date.UTC(2024, 0, 1)
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

class ScriptedVenue implements Venue {
  readonly matchesOnBars = false
  submitted: VenueOrder[] = []
  private sink: (e: VenueEvent) => void = () => {}
  async start(): Promise<void> {}
  submit(order: VenueOrder): void {
    this.submitted.push(order)
  }
  cancel(): void {}
  async lookup() {
    return undefined
  }
  events(sink: (e: VenueEvent) => void): void {
    this.sink = sink
  }
  async close(): Promise<void> {}
  emit(e: VenueEvent): void {
    this.sink(e)
  }
}

describe('late bars of a symbol whose position the venue opened during the outage', () => {
  it('leave the trade opened after them out of its excursions and its bars held', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-review-late-'))
    dirs.push(dir)
    const journal = OrderJournal.open(dir, 'review')
    const clock = new ManualClock(T0)
    const venue = new ScriptedVenue()
    // At A's bar 0, a limit buy of B at 100 (B trades at 150 meanwhile).
    const strategy = scripted({ 0: (ctx) => ctx.buy('B', { qty: 1, type: 'limit', limit: 100 }) })
    const session = new EngineSession({ cash: 10_000, sleeves: [{ strategy, symbols: ['A', 'B'], timeframe: '1h', weight: 1 }] }, { journal, clock, venue })
    session.start()
    const bar = (symbol: string, k: number, o: number, h: number, l: number, c: number) => ({ symbol, timeframe: '1h', time: T0 + k * H, closeTime: T0 + (k + 1) * H, open: o, high: h, low: l, close: c, volume: 1 })
    clock.advance(H)
    session.onBar(bar('A', 0, 10, 10, 10, 10))
    session.onBar(bar('B', 0, 150, 150, 150, 150))
    session.advanceTo(T0 + H)
    expect(venue.submitted).toHaveLength(1)
    const cid = venue.submitted[0]!.cid
    // B goes quiet; A steps on to hour 4. B traded 150 → 300 (hours 1–2), then fell to 100 in hour 3, where the
    // venue filled the limit buy (at 03:30).
    for (let k = 1; k <= 3; k++) {
      clock.advance(H)
      session.onBar(bar('A', k, 10, 10, 10, 10))
      session.advanceTo(T0 + (k + 1) * H)
    }
    venue.emit({ type: 'ack', cid, exchangeId: 'X1', time: T0 + 3 * H })
    venue.emit({ type: 'fill', cid, tradeId: 't1', qty: 1, price: 100, fee: 0, liquidity: 'maker', time: T0 + 3.5 * H })
    await new Promise((r) => setImmediate(r))
    const book = session.engine.sleeves[0]!.book
    expect(book.positions[1]!.qty).toBe(1)
    // B's owed bars arrive: hours 1 and 2 closed before the entry (03:30); hour 3 holds it.
    session.onLateBar(bar('B', 1, 150, 300, 150, 300))
    session.onLateBar(bar('B', 2, 300, 300, 50, 280))
    session.onLateBar(bar('B', 3, 280, 280, 100, 100))
    // Then both step on at hour 4, and the trade is still open at the end.
    clock.advance(H)
    session.onBar(bar('A', 4, 10, 10, 10, 10))
    session.onBar(bar('B', 4, 100, 110, 95, 105))
    session.advanceTo(T0 + 5 * H)
    session.finish()
    const c = session.results().strategies[0]!.trades
    const k = c.symbol.indexOf('B')
    const t = { entryPrice: c.entryPrice[k], mae: c.mae[k], mfe: c.mfe[k], barsHeld: c.barsHeld[k] }
    expect(t.entryPrice).toBe(100)
    // Over its life (03:30 on) B's range was 95 … 280 (hour 3's high is the bar holding the entry, taken as a whole
    // bar, as a stepped bar is): MFE 180 %, MAE −5 %. Hour 1's high of 300 and hour 2's low of 50 came before it.
    expect(t.mfe).toBeCloseTo(1.8, 12)
    expect(t.mae).toBeCloseTo(-0.05, 12)
    // Entered in hour 3 (after hour 2's bar): 2 bars held (hours 3 and 4), as when B's bars had come in time.
    expect(t.barsHeld).toBe(2)
  })
})
