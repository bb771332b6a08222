// Guards (issue 19, point 6), each worked by hand on an injected clock: stale data at and past
// staleAfterBars timeframes; max daily loss against the UTC day's first equity, halting new positions (not
// reductions) until the next UTC day; max position notional resizing as the backtest does (checked against
// the backtest engine itself); the order rate over a sliding 60-second window.

import { describe, expect, it } from 'vitest'
import { backtest, toRows } from '../../lib/backtest/index.js'
import { ConfigError } from '../../lib/core/index.js'
import { validateDeploymentConfig } from '../../lib/live/config.js'
import { Guards, guardsFor, type GuardOrder, type GuardState } from '../../lib/live/guards.js'
import { bars, scripted } from '../backtest/scripted.js'

const T = Date.UTC(2024, 0, 2, 12, 0) // 2024-01-02T12:00:00Z
const MIN = 60_000
const HOUR = 3_600_000
const buy = (qty: number, price = 100, symbol = 'BTC/USDT'): GuardOrder => ({ symbol, side: 'buy', qty, price })
const sell = (qty: number, price = 100, symbol = 'BTC/USDT'): GuardOrder => ({ symbol, side: 'sell', qty, price })
const state = (over: Partial<GuardState> = {}): GuardState => ({ equity: 100_000, position: 0, lastBarClose: T, ...over })

describe('stale data', () => {
  it('allows orders up to staleAfterBars (2) timeframes after the newest close, refuses past it', () => {
    const g = new Guards({ timeframe: '1m' })
    expect(g.check(buy(1), state(), T)).toEqual({ allow: true })
    expect(g.check(buy(1), state(), T + 2 * MIN)).toEqual({ allow: true })
    expect(g.check(buy(1), state(), T + 2 * MIN + 1)).toMatchObject({ allow: false, guard: 'stale-data' })
    expect(g.check(buy(1), state(), T + 3 * MIN)).toEqual({
      allow: false,
      guard: 'stale-data',
      reason: 'stale data: the newest closed bar closed at 2024-01-02T12:00:00.000Z, 3 min ago (limit 2 × 1m)',
    })
    // Every order: a reduction on stale prices too.
    expect(g.check(sell(1), state({ position: 5 }), T + 3 * MIN).allow).toBe(false)
  })

  it('counts in the deployment\'s timeframe and staleAfterBars; no bar yet is stale', () => {
    const g = new Guards({ timeframe: '1h', staleAfterBars: 3 })
    expect(g.check(buy(1), state(), T + 3 * HOUR).allow).toBe(true)
    expect(g.check(buy(1), state(), T + 3 * HOUR + 1).allow).toBe(false)
    expect(g.check(buy(1), state({ lastBarClose: undefined }), T)).toEqual({ allow: false, guard: 'stale-data', reason: 'stale data: no closed bar yet' })
    expect(g.check(buy(1), state({ lastBarClose: Number.NaN }), T).allow).toBe(false)
  })
})

describe('max daily loss', () => {
  const MIDNIGHT = Date.UTC(2024, 0, 2)
  const at = (ms: number) => state({ lastBarClose: ms })

  it('halts new positions once equity is the limit below the day\'s first equity, until the next UTC day', () => {
    const g = new Guards({ timeframe: '1h', maxDailyLoss: 1000 })
    g.observe(100_000, MIDNIGHT + 30_000) // the day's start equity
    g.observe(100_400, MIDNIGHT + 2 * HOUR)
    // 100000 − 99001 = 999 < 1000.
    expect(g.check(buy(1), { ...at(MIDNIGHT + 10 * HOUR), equity: 99_001 }, MIDNIGHT + 10 * HOUR)).toEqual({ allow: true })
    expect(g.halted).toBeUndefined()
    // 100000 − 99000 = 1000 ≥ 1000: halted.
    const reason = "max daily loss: equity 99000 is 1000 below the UTC day's start 100000 (limit 1000); no new positions until 2024-01-03T00:00:00.000Z"
    expect(g.check(buy(1), { ...at(MIDNIGHT + 11 * HOUR), equity: 99_000 }, MIDNIGHT + 11 * HOUR)).toEqual({ allow: false, guard: 'max-daily-loss', reason })
    expect(g.halted).toBe(reason)
    // Equity recovering does not lift the halt for the day; a short is a new position too.
    expect(g.check(buy(1), { ...at(MIDNIGHT + 12 * HOUR), equity: 100_500 }, MIDNIGHT + 12 * HOUR)).toMatchObject({ allow: false, guard: 'max-daily-loss' })
    expect(g.check(sell(1), { ...at(MIDNIGHT + 12 * HOUR), equity: 100_500 }, MIDNIGHT + 12 * HOUR)).toMatchObject({ allow: false })
    // Reducing a long of 5 still goes; a sell of 8 would flip it, so only the 5 that reduce go.
    expect(g.check(sell(3), { ...at(MIDNIGHT + 13 * HOUR), equity: 99_500, position: 5 }, MIDNIGHT + 13 * HOUR)).toEqual({ allow: true })
    expect(g.check(sell(8), { ...at(MIDNIGHT + 13 * HOUR), equity: 99_500, position: 5 }, MIDNIGHT + 13 * HOUR)).toEqual({ allow: true, qty: 5, guard: 'max-daily-loss', reason: `${reason} (only the part that reduces the position is sent)` })
    expect(g.check(buy(2), { ...at(MIDNIGHT + 13 * HOUR), equity: 99_500, position: -2 }, MIDNIGHT + 13 * HOUR)).toEqual({ allow: true })
    // The next UTC day starts from its own first equity (98900), and the halt is lifted.
    const next = MIDNIGHT + 24 * HOUR
    expect(g.check(buy(1), { ...at(next), equity: 98_900 }, next)).toEqual({ allow: true })
    expect(g.halted).toBeUndefined()
    // 98900 − 97950 = 950: allowed; 98900 − 97900 = 1000: halted again.
    expect(g.check(buy(1), { ...at(next + HOUR), equity: 97_950 }, next + HOUR).allow).toBe(true)
    expect(g.check(buy(1), { ...at(next + 2 * HOUR), equity: 97_900 }, next + 2 * HOUR)).toMatchObject({ allow: false, reason: /equity 97900 is 1000 below the UTC day's start 98900 .*until 2024-01-04T00:00:00\.000Z/ })
  })

  it('without observe, the first check of the day sets the day\'s start', () => {
    const g = new Guards({ timeframe: '1h', maxDailyLoss: 500 })
    expect(g.check(buy(1), { ...at(T), equity: 50_000 }, T).allow).toBe(true)
    expect(g.check(buy(1), { ...at(T + HOUR), equity: 49_501 }, T + HOUR).allow).toBe(true)
    expect(g.check(buy(1), { ...at(T + HOUR), equity: 49_500 }, T + HOUR).allow).toBe(false)
  })
})

describe('max position notional', () => {
  it('resizes the part that adds exposure to |position| × price ≤ cap, refuses when no room is left', () => {
    const g = new Guards({ timeframe: '1m', maxPositionNotional: 10_000 })
    // 10000 / 100 = 100 units at most.
    expect(g.check(buy(150), state(), T)).toEqual({ allow: true, qty: 100, guard: 'max-position-notional', reason: 'max position notional 10000: BTC/USDT position 0 at 100; buy resized from 150 to 100' })
    expect(g.check(buy(100), state(), T)).toEqual({ allow: true })
    // Holding 60: 100 − 60 = 40 more.
    expect(g.check(buy(50), state({ position: 60 }), T)).toMatchObject({ allow: true, qty: 40 })
    expect(g.check(buy(1), state({ position: 100 }), T)).toEqual({ allow: false, guard: 'max-position-notional', reason: 'max position notional 10000: BTC/USDT position 100 at 100 leaves no room for a buy' })
    // Long 100, sell 250: 100 reduce, then at most 100 short → 200.
    expect(g.check(sell(250), state({ position: 100 }), T)).toMatchObject({ allow: true, qty: 200 })
    // Reductions are never capped, even over the cap after a price rise (long 100 at 150 = 15000).
    expect(g.check(sell(100, 150), state({ position: 100 }), T)).toEqual({ allow: true })
    expect(g.check(buy(20), state({ position: -30 }), T)).toEqual({ allow: true })
  })

  it('floors to the lot size', () => {
    const g = new Guards({ timeframe: '1m', maxPositionNotional: 1000, lotSize: 1 })
    // 1000 / 300 = 3.33 → 3.
    expect(g.check(buy(10, 300), state(), T)).toMatchObject({ allow: true, qty: 3 })
    expect(g.check(buy(10, 1001), state(), T)).toMatchObject({ allow: false, guard: 'max-position-notional' })
  })

  it('gives the quantities the backtest engine fills under the same cap', () => {
    // Flat bars at 100: the reference price and the fill price are both 100.
    const A = bars('A', Array.from({ length: 5 }, () => [100, 100, 100, 100, 1e9]))
    const script = { 0: (ctx: any) => ctx.buy('A', { qty: 60 }), 1: (ctx: any) => ctx.buy('A', { qty: 50 }), 2: (ctx: any) => ctx.sell('A', { qty: 250 }) }
    const result = backtest({ strategy: scripted(script), symbols: ['A'], timeframe: '1d', data: { A }, cash: 1_000_000, limits: { maxPositionNotional: 10_000 } })
    const fills = toRows(result.strategies[0]!.fills).map((f) => f.qty * (f.side === 'buy' ? 1 : -1))
    expect(fills).toEqual([60, 40, -200])
    const g = new Guards({ timeframe: '1d', maxPositionNotional: 10_000 })
    const now = Date.UTC(2024, 0, 1)
    const q1 = g.check({ symbol: 'A', side: 'buy', qty: 60, price: 100 }, state({ position: 0, lastBarClose: now }), now)
    const q2 = g.check({ symbol: 'A', side: 'buy', qty: 50, price: 100 }, state({ position: 60, lastBarClose: now }), now)
    const q3 = g.check({ symbol: 'A', side: 'sell', qty: 250, price: 100 }, state({ position: 100, lastBarClose: now }), now)
    const qty = (d: ReturnType<Guards['check']>, asked: number) => (d.allow ? ('qty' in d ? d.qty : asked) : 0)
    expect([qty(q1, 60), qty(q2, 50), -qty(q3, 250)]).toEqual(fills)
  })
})

describe('max order rate', () => {
  it('allows maxOrdersPerMinute in any 60 s window; refused orders do not count', () => {
    const g = new Guards({ timeframe: '1m', maxOrdersPerMinute: 3 })
    const s = (now: number) => state({ lastBarClose: now })
    expect(g.check(buy(1), s(T), T).allow).toBe(true)
    expect(g.check(buy(1), s(T), T + 10_000).allow).toBe(true)
    expect(g.check(buy(1), s(T), T + 20_000).allow).toBe(true)
    expect(g.check(buy(1), s(T), T + 30_000)).toEqual({ allow: false, guard: 'max-order-rate', reason: 'max order rate: 3 orders in the last 60 s (limit 3); the next is allowed at 2024-01-02T12:01:00.000Z' })
    expect(g.check(buy(1), s(T), T + 59_999).allow).toBe(false)
    // At T + 60 s the order at T has left the window.
    expect(g.check(buy(1), s(T + MIN), T + 60_000).allow).toBe(true)
    // Window (T+1s, T+61s]: T+10s, T+20s, T+60s → full.
    expect(g.check(buy(1), s(T + MIN), T + 61_000)).toMatchObject({ allow: false, reason: /the next is allowed at 2024-01-02T12:01:10\.000Z/ })
    expect(g.check(buy(1), s(T + MIN), T + 70_000).allow).toBe(true)
  })

  it('does not count an order another guard refused', () => {
    const g = new Guards({ timeframe: '1m', maxOrdersPerMinute: 1, maxPositionNotional: 100 })
    expect(g.check(buy(5), state({ position: 1 }), T)).toMatchObject({ allow: false, guard: 'max-position-notional' })
    expect(g.check(buy(1), state(), T + 5 * MIN)).toMatchObject({ allow: false, guard: 'stale-data' })
    expect(g.check(buy(0.5), state(), T + 1000)).toEqual({ allow: true })
    expect(g.check(buy(0.5), state(), T + 2000)).toMatchObject({ allow: false, guard: 'max-order-rate' })
  })
})

describe('options', () => {
  it('come from a deployment config and are checked on entry', () => {
    const config = validateDeploymentConfig({
      name: 'd',
      strategy: { name: 's', version: 1, sha256: 'a'.repeat(64) },
      symbols: ['A'],
      timeframe: '5m',
      mode: 'paper',
      venue: { exchange: 'binance' },
      feed: { kind: 'replay' },
      lotSize: 1,
      guards: { maxPositionNotional: 1000 },
    })
    const g = guardsFor(config)
    // 5m × 2 bars = 10 min of staleness allowed; lot 1.
    expect(g.check(buy(10, 300), state(), T + 10 * MIN)).toMatchObject({ allow: true, qty: 3 })
    expect(g.check(buy(1, 300), state(), T + 10 * MIN + 1).allow).toBe(false)
    expect(() => new Guards({ timeframe: '1m', maxDailyLoss: -1 })).toThrow(ConfigError)
    expect(() => new Guards({ timeframe: '1m', maxOrdersPerMinute: 0.5 })).toThrow(/guards: maxOrdersPerMinute must be an integer ≥ 1 \(received 0\.5\)/)
    expect(() => new Guards({ timeframe: 'x' })).toThrow(/timeframe "x" is not valid/)
    expect(() => new Guards({ timeframe: '1m' }).check(buy(0), state(), T)).toThrow(/order qty must be a number > 0 \(received 0\)/)
    expect(() => new Guards({ timeframe: '1m' }).check(buy(1, Number.NaN), state(), T)).toThrow(/order price must be a number > 0/)
  })
})
