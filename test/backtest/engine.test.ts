// Hand-worked engine tests on seven bars: every order type, the gap rules, partial fills, brackets,
// shorts, latency, expiry, caps and sizing. Expected prices and amounts are worked out in the
// comments from the bars below, not taken from the engine.

import { describe, expect, it } from 'vitest'
import { backtest, toRows, type BacktestOptions } from '../../lib/backtest/index.js'
import { StrategyError } from '../../lib/core/index.js'
import { defineStrategy } from '../../lib/strategy/index.js'
import { bars, DAY, scripted, T0, type Recorder } from './scripted.js'

//            open  high  low  close
const ROWS = [
  [100, 102, 99, 101], // 0
  [101, 105, 100, 104], // 1
  [104, 106, 103, 105], // 2
  [110, 112, 108, 109], // 3  gap up
  [100, 101, 95, 96], //   4  gap down
  [96, 99, 94, 98], //     5
  [98, 100, 97, 99], //    6
]
const A = bars('A', ROWS)

function run(script: Parameters<typeof scripted>[0], options: Partial<BacktestOptions> = {}) {
  const rec: Recorder = { orders: [], fills: [], bars: [] }
  const result = backtest({ strategy: scripted(script, rec), symbols: ['A'], timeframe: '1d', data: { A }, cash: 100_000, sizing: { qty: 10 }, ...options })
  const s = result.strategies[0]!
  return { result, rec, orders: toRows(s.orders), fills: toRows(s.fills), trades: toRows(s.trades) }
}

describe('market orders', () => {
  it('fill at the next open plus slippage, commission on notional', () => {
    const { fills, result } = run({ 0: (ctx) => ctx.buy('A') }, { fills: { slippageBps: 10, takerRate: 0.001, fixedFee: 1 } })
    expect(fills).toHaveLength(1)
    // 101 × (1 + 0.001) = 101.101; fee = 10 × 101.101 × 0.001 + 1 = 2.01101
    expect(fills[0]!.price).toBeCloseTo(101.101, 12)
    expect(fills[0]!.fee).toBeCloseTo(2.01101, 12)
    expect(fills[0]!.time).toBe(T0 + 1 * DAY)
    // Equity at bar 1's close: 100000 − 1011.01 − 2.01101 + 10 × 104 = 100026.97899
    expect(result.equity[1]).toBeCloseTo(100_026.97899, 8)
    expect(result.equity[0]).toBe(100_000)
  })

  it('a sell fills lower by the slippage', () => {
    const { fills } = run({ 0: (ctx) => ctx.buy('A'), 2: (ctx) => ctx.close('A') }, { fills: { slippageBps: 10 } })
    expect(fills.map((f) => f.price)).toEqual([101 * 1.001, 110 * 0.999])
  })

  it('with latency 1, a bar later', () => {
    const { fills } = run({ 0: (ctx) => ctx.buy('A') }, { fills: { latencyBars: 1 } })
    expect(fills[0]!.time).toBe(T0 + 2 * DAY)
    expect(fills[0]!.price).toBe(104)
  })

  it('placed on the last bar, expires unfilled at the end of the data', () => {
    const { orders, fills } = run({ 6: (ctx) => ctx.buy('A') })
    expect(fills).toHaveLength(0)
    expect(orders[0]!.status).toBe('EXPIRED')
    expect(orders[0]!.reason).toBe('end of data')
  })
})

describe('stop orders', () => {
  it('trigger inside the range at the stop price', () => {
    // Bar 2: open 104 < 105 ≤ high 106 → 105.
    const { fills } = run({ 1: (ctx) => ctx.buy('A', { stop: 105 }) })
    expect(fills[0]!.price).toBe(105)
    expect(fills[0]!.time).toBe(T0 + 2 * DAY)
  })

  it('fill at the open when the bar gaps through them', () => {
    // Bar 3 opens at 110, above the 108 stop: filled at 110, not 108.
    const { fills } = run({ 2: (ctx) => ctx.buy('A', { stop: 108 }) })
    expect(fills[0]!.price).toBe(110)
    expect(fills[0]!.time).toBe(T0 + 3 * DAY)
  })

  it('a sell stop: at the stop within the range, at the open on a gap down', () => {
    // Long from bar 1 (open 101). Sell stop 97: bar 4 opens 100, low 95 → 97.
    const inRange = run({ 0: (ctx) => ctx.buy('A'), 3: (ctx) => ctx.sell('A', { stop: 97 }) })
    expect(inRange.fills.map((f) => f.price)).toEqual([101, 97])
    // Sell stop 102: bar 4 opens at 100, already below → 100.
    const gap = run({ 0: (ctx) => ctx.buy('A'), 3: (ctx) => ctx.sell('A', { stop: 102 }) })
    expect(gap.fills.map((f) => f.price)).toEqual([101, 100])
    expect(gap.trades[0]!.pnl).toBeCloseTo(10 * (100 - 101), 12)
  })

  it('pay slippage (a stop becomes a market order)', () => {
    const { fills } = run({ 1: (ctx) => ctx.buy('A', { stop: 105 }) }, { fills: { slippageBps: 100 } })
    expect(fills[0]!.price).toBeCloseTo(105 * 1.01, 12)
    expect(fills[0]!.liquidity).toBe('taker')
  })
})

describe('limit orders', () => {
  it('fill at the limit when the range reaches it, as maker', () => {
    // Buy limit 99: bars 1–3 stay above; bar 4 opens 100 > 99, low 95 → 99.
    const { fills } = run({ 0: (ctx) => ctx.buy('A', { limit: 99 }) }, { fills: { takerRate: 0.002, makerRate: 0.001 } })
    expect(fills[0]!.price).toBe(99)
    expect(fills[0]!.time).toBe(T0 + 4 * DAY)
    expect(fills[0]!.liquidity).toBe('maker')
    expect(fills[0]!.fee).toBeCloseTo(10 * 99 * 0.001, 12)
  })

  it('fill at the open when the bar opens beyond the limit (a better price)', () => {
    // Buy limit 105 placed at bar 3: bar 4 opens at 100 ≤ 105 → 100.
    const { fills } = run({ 3: (ctx) => ctx.buy('A', { limit: 105 }) })
    expect(fills[0]!.price).toBe(100)
  })

  it('a sell limit: at the limit within the range, no slippage', () => {
    // Long from bar 1; sell limit 111 placed at bar 2: bar 3 opens 110, high 112 → 111.
    const { fills } = run({ 0: (ctx) => ctx.buy('A'), 2: (ctx) => ctx.sell('A', { limit: 111 }) }, { fills: { slippageBps: 50 } })
    expect(fills[1]!.price).toBe(111)
  })

  it('expire after expireBars bars without a fill', () => {
    const { orders } = run({ 0: (ctx) => ctx.buy('A', { limit: 50, expireBars: 2 }) })
    expect(orders[0]!.status).toBe('EXPIRED')
    // Working from bar 1: bars 1 and 2 seen → expired at bar 2's processing.
    expect(orders[0]!.doneAt).toBe(T0 + 3 * DAY)
  })

  it('can be cancelled while working', () => {
    const { orders, rec } = run({ 0: (ctx) => ctx.buy('A', { limit: 50 }), 2: (ctx) => ctx.cancel(ctx.openOrders('A')[0]!.id) })
    expect(orders[0]!.status).toBe('CANCELLED')
    expect(rec.orders.map((e) => e.status)).toEqual(['SUBMITTED', 'CANCELLED'])
  })
})

describe('partial fills', () => {
  it('fill at most volumeShare of each bar, the rest at later bars', () => {
    // 10 % of 1000 = 100 units per bar: 250 units → 100 @101, 100 @104, 50 @110.
    const { fills, orders, rec } = run({ 0: (ctx) => ctx.buy('A', { qty: 250 }) }, { fills: { volumeShare: 0.1 } })
    expect(fills.map((f) => [f.qty, f.price])).toEqual([
      [100, 101],
      [100, 104],
      [50, 110],
    ])
    expect(orders[0]!.avgPrice).toBeCloseTo((100 * 101 + 100 * 104 + 50 * 110) / 250, 12)
    expect(rec.orders.map((e) => e.status)).toEqual(['SUBMITTED', 'PARTIALLY_FILLED', 'PARTIALLY_FILLED', 'FILLED'])
  })
})

describe('brackets (OCO)', () => {
  it('take-profit fills within the entry bar, the stop-loss is cancelled', () => {
    // Entry at bar 1's open 101; children live from after that open: low 100 > 99.5, high 105 ≥ 104.5 → TP 104.5.
    const { fills, orders, trades } = run({ 0: (ctx) => ctx.buy('A', { stopLoss: 99.5, takeProfit: 104.5 }) })
    expect(fills.map((f) => [f.role, f.price])).toEqual([
      ['entry', 101],
      ['take-profit', 104.5],
    ])
    const sl = orders.find((o) => o.role === 'stop-loss')!
    expect(sl.status).toBe('CANCELLED')
    expect(sl.reason).toMatch(/OCO/)
    expect(trades[0]!.pnl).toBeCloseTo(10 * 3.5, 12)
    expect(trades[0]!.exitReason).toBe('take-profit')
  })

  it('each trade says why it ended: stop-loss, exit, signal, reversal, close at end, open at end', () => {
    expect(run({ 0: (ctx) => ctx.buy('A', { stopLoss: 100.5, takeProfit: 104.5 }) }).trades.map((t) => t.exitReason)).toEqual(['stop-loss'])
    expect(run({ 0: (ctx) => ctx.buy('A', { stopLoss: 90, takeProfit: 130 }), 2: (ctx) => ctx.close('A') }).trades.map((t) => t.exitReason)).toEqual(['exit'])
    // A sell of exactly the position placed as an order of its own: flat by a signal; a bigger one reverses.
    expect(run({ 0: (ctx) => ctx.buy('A', { qty: 10 }), 2: (ctx) => ctx.sell('A', { qty: 10 }) }).trades.map((t) => t.exitReason)).toEqual(['signal'])
    expect(run({ 0: (ctx) => ctx.buy('A', { qty: 10 }), 2: (ctx) => ctx.sell('A', { qty: 20 }) }).trades.map((t) => [t.direction, t.exitReason, t.open])).toEqual([
      ['long', 'reversal', false],
      ['short', 'open at end', true],
    ])
    expect(run({ 0: (ctx) => ctx.buy('A', { qty: 10 }) }, { closeAtEnd: true }).trades.map((t) => [t.exitReason, t.open])).toEqual([['close at end', false]])
  })

  it('when a bar spans both legs, the stop-loss is taken first', () => {
    // Bar 1: low 100 ≤ 100.5 and high 105 ≥ 104.5: the pessimistic order — stop at 100.5.
    const { fills, orders } = run({ 0: (ctx) => ctx.buy('A', { stopLoss: 100.5, takeProfit: 104.5 }) })
    expect(fills.map((f) => [f.role, f.price])).toEqual([
      ['entry', 101],
      ['stop-loss', 100.5],
    ])
    expect(orders.find((o) => o.role === 'take-profit')!.status).toBe('CANCELLED')
  })

  it('a gap through the stop-loss fills at the open', () => {
    // Long at bar 2's open 104, stop 102: bar 2 low 103 and bar 3 low 108 stay above; bar 4 opens at 100 → 100, not 102.
    const { fills } = run({ 1: (ctx) => ctx.buy('A', { stopLoss: 102 }) })
    expect(fills.map((f) => [f.role, f.price])).toEqual([
      ['entry', 104],
      ['stop-loss', 100],
    ])
  })

  it('an exit by the strategy cancels both children', () => {
    const { fills, orders } = run({ 0: (ctx) => ctx.buy('A', { stopLoss: 90, takeProfit: 130 }), 2: (ctx) => ctx.close('A') })
    expect(fills.map((f) => [f.role, f.price])).toEqual([
      ['entry', 101],
      ['exit', 110],
    ])
    for (const o of orders.filter((o) => o.role === 'stop-loss' || o.role === 'take-profit')) expect(o.status).toBe('CANCELLED')
  })

  it('children follow partial entry fills', () => {
    const { orders } = run({ 0: (ctx) => ctx.buy('A', { qty: 250, stopLoss: 50, takeProfit: 200 }) }, { fills: { volumeShare: 0.1 } })
    for (const o of orders.filter((o) => o.role !== 'entry')) {
      expect(o.qty).toBe(250)
      expect(o.status).toBe('EXPIRED')
    }
  })
})

describe('short positions', () => {
  it('selling what is not held opens a short: cash, equity and P&L', () => {
    const { result, trades } = run({ 0: (ctx) => ctx.sell('A'), 3: (ctx) => ctx.close('A') })
    // Short 10 @101 (bar 1): cash 101010; equity at bar 1's close = 101010 − 10 × 104 = 99970.
    expect(result.equity[1]).toBeCloseTo(99_970, 9)
    // Covered at bar 4's open 100: P&L 10 × (101 − 100) = 10.
    expect(trades[0]!.direction).toBe('short')
    expect(trades[0]!.pnl).toBeCloseTo(10, 12)
    expect(result.equity[6]).toBeCloseTo(100_010, 9)
    // MAE/MFE from entry 101: worst high 112 → −10.89 %; best low 100 (the exit) → +0.99 %.
    expect(trades[0]!.mae).toBeCloseTo((101 - 112) / 101, 12)
    expect(trades[0]!.mfe).toBeCloseTo((101 - 100) / 101, 12)
  })

  it('are refused when shorting is disabled', () => {
    const { orders } = run({ 0: (ctx) => ctx.sell('A') }, { limits: { allowShort: false } })
    expect(orders[0]!.status).toBe('REJECTED')
    expect(orders[0]!.reason).toBe('shorting is disabled')
  })

  it('with shorting disabled, two sells of the holding in one bar sell it once (the second finds it promised)', () => {
    // Long 10 from bar 1; at bar 2 two sells of 10: each was limited to the position alone (a review), both
    // filled at bar 3's open and left a short of 10 with shorting disabled.
    const { orders, trades } = run({ 0: (ctx) => ctx.buy('A'), 1: (ctx) => [ctx.sell('A', { qty: 10 }), ctx.sell('A', { qty: 10 })] }, { limits: { allowShort: false } })
    expect(orders.map((o) => [o.side, o.status, o.qty, o.reason])).toEqual([
      ['buy', 'FILLED', 10, ''],
      ['sell', 'FILLED', 10, ''],
      ['sell', 'REJECTED', 0, 'shorting is disabled; working sells already take 10 of the 10 held'],
    ])
    expect(trades.map((t) => [t.direction, t.qty])).toEqual([['long', 10]])
  })

  it('with shorting disabled, a sell of exactly what is free is not cut by the subtraction\'s rounding', () => {
    // 0.009 held, 0.002 promised to a resting limit sell: 0.009 − 0.002 is 0.006999999999999999, which cut a
    // sell of 0.007 by an ulp, with no reason given (a second review).
    const { orders } = run({ 0: (ctx) => ctx.buy('A', { qty: 0.009 }), 1: (ctx) => [ctx.sell('A', { qty: 0.002, limit: 1e6 }), ctx.sell('A', { qty: 0.007 })] }, { limits: { allowShort: false } })
    expect(orders.find((o) => o.type === 'market' && o.side === 'sell')).toMatchObject({ qty: 0.007, filled: 0.007, status: 'FILLED', reason: '' })
  })

  it('a sell larger than the long flips the position', () => {
    const { trades } = run({ 0: (ctx) => ctx.buy('A'), 1: (ctx) => ctx.sell('A', { qty: 30 }), 3: (ctx) => ctx.close('A') })
    // Long 10 @101, sell 30 @104: closes the long (+30), opens 20 short @104, covered @100 (+80).
    expect(trades.map((t) => [t.direction, t.qty, t.entryPrice, t.exitPrice])).toEqual([
      ['long', 10, 101, 104],
      ['short', 20, 104, 100],
    ])
    expect(trades.map((t) => t.pnl)).toEqual([30, 80])
  })
})

describe('sizing and caps', () => {
  it('percent of equity, net of commission and slippage', () => {
    const { fills } = run({ 0: (ctx) => ctx.buy('A', { percent: 0.5 }) }, { fills: { takerRate: 0.001 } })
    // 0.5 × 100000 / (101 (last close) × 1.001) = 494.5549... units.
    expect(fills[0]!.qty).toBeCloseTo(50_000 / (101 * 1.001), 9)
  })

  it('risk-based: the stop distance sets the size', () => {
    const { fills } = run({ 0: (ctx) => ctx.buy('A', { risk: 0.01, stopLoss: 96 }) })
    // 1 % of 100000 = 1000 at risk over 101 − 96 = 5 → 200 units.
    expect(fills[0]!.qty).toBe(200)
  })

  it('lotSize floors quantities', () => {
    const { fills } = run({ 0: (ctx) => ctx.buy('A', { notional: 1000 }) }, { lotSize: 1 })
    expect(fills[0]!.qty).toBe(9) // 1000 / 101 = 9.9 → 9
  })

  it('max position notional resizes the request, with a reason event', () => {
    const { fills, rec } = run({ 0: (ctx) => ctx.buy('A', { qty: 100 }) }, { limits: { maxPositionNotional: 5000 }, lotSize: 1 })
    // 5000 / 101 = 49.5 → 49 units.
    expect(fills[0]!.qty).toBe(49)
    const resized = rec.orders.find((e) => e.status === 'RESIZED')!
    expect(resized.reason).toBe('max position notional 5000: 100 → 49')
  })

  it('max gross exposure resizes against equity', () => {
    const { fills } = run({ 0: (ctx) => ctx.buy('A', { qty: 1000 }) }, { limits: { maxGrossExposure: 0.5 } })
    expect(fills[0]!.qty).toBeCloseTo(50_000 / 101, 9)
  })

  it('buying power: a cash account cannot buy more than its cash', () => {
    const { fills, rec } = run({ 0: (ctx) => ctx.buy('A', { qty: 100 }) }, { cash: 1000, fills: { takerRate: 0.001 } })
    // 1000 / (101 × (1 + 0.001)) = 9.8902 units at most.
    expect(rec.orders[0]!.status).toBe('RESIZED')
    expect(fills[0]!.qty).toBeCloseTo(1000 / (101 * 1.001), 9)
  })

  it('a gap at the fill fills what the buying power allows and cancels the rest', () => {
    // All-in at the last close 105 (bar 2), bar 3 opens at 110: only 100000/110 units are affordable.
    const { fills, orders } = run({ 2: (ctx) => ctx.buy('A', { percent: 1 }) })
    expect(fills[0]!.qty).toBeCloseTo(100_000 / 110, 9)
    expect(orders[0]!.status).toBe('CANCELLED')
    expect(orders[0]!.reason).toBe('insufficient buying power at the fill price')
  })

  it('max open positions rejects a new symbol', () => {
    const B = bars('B', ROWS)
    const rec: Recorder = { orders: [], fills: [], bars: [] }
    backtest({
      strategy: scripted({ 0: (ctx) => ctx.buy('A'), 1: (ctx) => ctx.buy('B') }, rec),
      symbols: ['A', 'B'],
      timeframe: '1d',
      data: { A, B },
      sizing: { qty: 1 },
      limits: { maxOpenPositions: 1 },
    })
    const b = rec.orders.filter((e) => e.order.symbol === 'B')
    expect(b.map((e) => [e.status, e.reason])).toEqual([['REJECTED', 'max open positions (1) reached']])
  })
})

describe('the clock', () => {
  it('delivers a higher-timeframe bar only after it closes, after the shorter bars of its period', () => {
    // 8 hourly bars and the 4-hour bars they make.
    const hourly = bars('A', Array.from({ length: 8 }, (_, i) => [100 + i, 101 + i, 99 + i, 100.5 + i]), '1h', 3_600_000)
    const four = bars('A', [
      [100, 104, 99, 103.5],
      [104, 108, 103, 107.5],
    ], '4h', 4 * 3_600_000)
    const rec: Recorder = { orders: [], fills: [], bars: [] }
    const strategy = defineStrategy<Record<string, number>>({
      ...scripted({}, rec),
      universe: () => [
        { symbol: 'A', timeframe: '1h' },
        { symbol: 'A', timeframe: '4h' },
      ],
      onBar(ctx, bar) {
        rec.bars.push(`${bar.timeframe}#${bar.index}`)
        // On the first 4h bar (closing at 04:00): buy, filled at the 04:00 hourly bar's open (104).
        if (bar.timeframe === '4h' && bar.index === 0) ctx.buy('A', { qty: 1 })
      },
    })
    const result = backtest({ strategy, symbols: ['A'], timeframe: '1h', data: (s, tf) => (tf === '1h' ? hourly : four) })
    expect(rec.bars).toEqual(['1h#0', '1h#1', '1h#2', '1h#3', '4h#0', '1h#4', '1h#5', '1h#6', '1h#7', '4h#1'])
    expect(rec.fills[0]!.price).toBe(104)
    expect(rec.fills[0]!.time).toBe(T0 + 4 * 3_600_000)
    // One equity point per distinct close time: 8.
    expect(result.time.length).toBe(8)
  })

  it('does not call onBar during the warm-up', () => {
    const seen: number[] = []
    const strategy = defineStrategy<Record<string, number>>({ ...scripted({}), warmup: () => 3, onBar: (_ctx, bar) => void seen.push(bar.index) })
    backtest({ strategy, symbols: ['A'], timeframe: '1d', data: { A } })
    expect(seen).toEqual([2, 3, 4, 5, 6])
  })

  it('history() and indicators never reach past the current bar', () => {
    const seen: number[][] = []
    const strategy = defineStrategy<Record<string, number>>({
      ...scripted({}),
      onBar(ctx, bar) {
        const h = ctx.history('A', '1d', 3)
        const sma = ctx.indicator('sma', { period: 2 })
        seen.push([bar.index, h.close.length, h.close[h.close.length - 1]!, sma.at(0), sma.at(-1)])
      },
    })
    backtest({ strategy, symbols: ['A'], timeframe: '1d', data: { A } })
    expect(seen[0]).toEqual([0, 1, 101, NaN, NaN])
    expect(seen[3]).toEqual([3, 3, 109, (105 + 109) / 2, NaN])
  })
})

describe('user errors', () => {
  it('an exception in onBar becomes a StrategyError naming the strategy, symbol and bar', () => {
    const strategy = defineStrategy<Record<string, number>>({
      ...scripted({}),
      onBar(_ctx, bar) {
        if (bar.index === 2) throw new Error('boom')
      },
    })
    expect(() => backtest({ strategy, symbols: ['A'], timeframe: '1d', data: { A } })).toThrow(StrategyError)
    expect(() => backtest({ strategy, symbols: ['A'], timeframe: '1d', data: { A } })).toThrow('strategy scripted: onBar failed on A at the bar closing 2024-01-04T00:00:00.000Z: boom')
  })

  it('unknown strategy, unknown parameter, out-of-range parameter, no data', () => {
    const base = { symbols: ['A'], timeframe: '1d', data: { A } }
    expect(() => backtest({ ...base, strategy: 'nope' })).toThrow(/unknown strategy "nope"; expected one of sma-cross/)
    expect(() => backtest({ ...base, strategy: 'sma-cross', params: { speed: 3 } })).toThrow('unknown parameter "speed" for strategy sma-cross; expected one of fast, slow, short')
    expect(() => backtest({ ...base, strategy: 'sma-cross', params: { fast: 1 } })).toThrow('strategy sma-cross parameter fast must be an integer in [2, 500] (received 1)')
    expect(() => backtest({ ...base, strategy: 'sma-cross', params: { fast: 40 } })).toThrow('strategy sma-cross: fast (40) must be below slow (30)')
    expect(() => backtest({ ...base, symbols: ['Z'], strategy: 'sma-cross' })).toThrow('no data for Z 1d')
    expect(() => backtest({ ...base, strategy: 'sma-cross', start: '2030-01-01' })).toThrow(/no bars for A 1d between 2030-01-01/)
  })
})

describe('the order list', () => {
  it('holds each order once, in the order they were placed, whenever each ended', () => {
    // Bar 0: a limit buy at 95 (fills at bar 4's low, 95) and a market buy (fills at bar 1's open);
    // bar 1: a stop sell at 90 that never triggers (expires at the end). They end in the order
    // 2 (bar 1), 1 (bar 4), 3 (end of data); the list stays 1, 2, 3.
    const { orders } = run({
      0: (ctx) => {
        ctx.buy('A', { limit: 95 })
        ctx.buy('A')
      },
      1: (ctx) => ctx.sell('A', { stop: 90 }),
    })
    expect(orders.map((o) => o.id)).toEqual([1, 2, 3])
    expect(orders.map((o) => o.status)).toEqual(['FILLED', 'FILLED', 'EXPIRED'])
    expect(orders.map((o) => o.type)).toEqual(['limit', 'market', 'stop'])
    expect(orders[0]!.avgPrice).toBe(95)
    expect(orders[1]!.avgPrice).toBe(101)
    expect(orders[0]!.doneAt).toBeGreaterThan(orders[1]!.doneAt)
  })
})

describe('curve sums kept by the engine', () => {
  it('give the mean exposure and the turnover of the recorded curves', () => {
    const { result } = run({ 0: (ctx) => ctx.buy('A'), 3: (ctx) => ctx.close('A'), 4: (ctx) => ctx.sell('A') }, { limits: { allowShort: true } })
    const s = result.strategies[0]!
    const n = s.equity.length
    let eq = 0
    let ex = 0
    for (let i = 0; i < n; i++) {
      eq += s.equity[i]!
      ex += s.exposure[i]!
    }
    expect(s.metrics.avgExposure).toBe(ex / n)
    // Traded: 10 at 101 (bar 1), 10 at 100 (bar 4), 10 at 96 (bar 5, the short).
    const traded = 10 * 101 + 10 * 100 + 10 * 96
    expect(s.metrics.turnover).toBe(traded / (eq / n) / ((n - 1) / result.periodsPerYear))
    expect(ex).toBeGreaterThan(0)
    expect(result.metrics.avgExposure).toBe(s.metrics.avgExposure)
  })
})

describe('edges the fast paths must keep', () => {
  it('an order placed in onStop is listed, still NEW', () => {
    const base = scripted({ 0: (ctx) => ctx.buy('A') })
    const strategy = { ...base, onStop: (ctx: Parameters<NonNullable<typeof base.onStop>>[0]) => void ctx.sell('A', { qty: 3 }) }
    const s = backtest({ strategy, symbols: ['A'], timeframe: '1d', data: { A }, cash: 100_000, sizing: { qty: 10 } }).strategies[0]!
    const orders = toRows(s.orders)
    expect(orders.map((o) => [o.id, o.side, o.status])).toEqual([
      [1, 'buy', 'FILLED'],
      [2, 'sell', 'NEW'],
    ])
  })

  it('a symbol outside the universe has position 0 and price NaN, asked first or after another', () => {
    const seen: number[] = []
    run({
      0: (ctx) => {
        seen.push(ctx.position(''), ctx.price(''), ctx.price('A'), ctx.position('B'), ctx.price('B'))
      },
    })
    expect(seen).toEqual([0, NaN, 101, 0, NaN])
  })
})

// An engine audit (an independent simulator) found these; each expected number is worked out from the bars.
describe('fills an engine audit found wrong', () => {
  const on = (rows: number[][], script: Parameters<typeof scripted>[0], options: Partial<BacktestOptions> = {}) => {
    const B = bars('B', rows)
    const result = backtest({ strategy: scripted(script), symbols: ['B'], timeframe: '1d', data: { B }, cash: 100_000, sizing: { qty: 10 }, ...options })
    const s = result.strategies[0]!
    return { result, orders: toRows(s.orders), fills: toRows(s.fills), trades: toRows(s.trades) }
  }
  const day = (t: number) => (t - T0) / DAY

  it('a bracket leg already beyond the open its entry filled at fills at that open, never at its own level outside the bar', () => {
    // Entry at bar 1's open 95; the stop at 98 is already through (the bar trades 94–96): out at 95, P&L 0 (it sold at 98: +30).
    const stop = on([[100, 101, 99, 100], [95, 96, 94, 95], [95, 96, 94, 95]], { 0: (ctx) => ctx.buy('B', { stopLoss: 98, takeProfit: 110 }) })
    expect(stop.fills.map((f) => [f.role, f.price, day(f.time)])).toEqual([['entry', 95, 1], ['stop-loss', 95, 1]])
    expect(stop.trades.map((t) => [t.pnl, t.exitReason])).toEqual([[0, 'stop-loss']])
    expect(stop.result.equity[2]).toBe(100_000)
    // Entry at 106; a take-profit at 103 is marketable there: sold at 106 (it sold at 103, below the bar's low of 104).
    const target = on([[100, 101, 99, 100], [106, 107, 104, 106], [106, 107, 105, 106]], { 0: (ctx) => ctx.buy('B', { stopLoss: 90, takeProfit: 103 }) })
    expect(target.fills.map((f) => [f.role, f.price, f.liquidity])).toEqual([['entry', 106, 'taker'], ['take-profit', 106, 'maker']])
    expect(target.trades[0]!.pnl).toBe(0)
  })

  it('under a volume cap an order fills once a bar, and a triggered stop fills its rest at the next opens', () => {
    const capped = { fills: { volumeShare: 0.05 } }
    // Cap 5 in bars 2 and 3 (volume 100): the sell stop at 98 gaps at 95 both times (it also sold 5 at 98 in each, above the high of 96).
    const stop = on([[100, 101, 99, 100, 1000], [100, 101, 99, 100, 1000], [95, 96, 94, 95, 100], [95, 96, 94, 95, 100]], { 0: (ctx) => ctx.buy('B', { qty: 20 }), 1: (ctx) => ctx.sell('B', { qty: 20, stop: 98 }) }, capped)
    expect(stop.fills.map((f) => [f.side, f.qty, f.price, day(f.time)])).toEqual([['buy', 20, 100, 1], ['sell', 5, 95, 2], ['sell', 5, 95, 3]])
    // A limit buy at 104.5 with cap 5 then 3: 5 at bar 1's open 101, not 5 more at 104.5 in the same bar; 3 at bar 2's open 104.
    const limit = on([[100, 102, 99, 101, 1000], [101, 105, 100, 104, 50], [104, 106, 103, 105, 30]], { 0: (ctx) => ctx.buy('B', { qty: 12, limit: 104.5 }) }, { fills: { volumeShare: 0.1 } })
    expect(limit.fills.map((f) => [f.qty, f.price, day(f.time)])).toEqual([[5, 101, 1], [3, 104, 2]])
    // A buy stop at 104.5 trades through in bar 1 (5 of 12 at 104.5); the rest is a market order: 3 at 104, 3 at 103, 1 at 103 (it waited for 104.5 again).
    const triggered = on([[100, 102, 99, 101, 1000], [101, 105, 100, 104, 50], [104, 104.4, 103, 104, 30], [103, 104.2, 102, 103, 30], [103, 104.4, 102, 104, 1000]], { 0: (ctx) => ctx.buy('B', { qty: 12, stop: 104.5 }) }, { fills: { volumeShare: 0.1 } })
    expect(triggered.fills.map((f) => [f.qty, f.price, day(f.time)])).toEqual([[5, 104.5, 1], [3, 104, 2], [3, 103, 3], [1, 103, 4]])
  })

  it('a cut by buying power or volume lands on the lot size, so a close leaves nothing behind', () => {
    // Sized at bar 2's close 105: floor(100000 / 105) = 952; at bar 3's open 110 cash buys 909.09 → 909 (it bought 909.0909).
    const power = run({ 2: (ctx) => ctx.buy('A', { percent: 1 }), 4: (ctx) => ctx.close('A') }, { lotSize: 1 })
    expect(power.fills.map((f) => [f.side, f.qty, f.price])).toEqual([['buy', 909, 110], ['sell', 909, 96]])
    // One closed round trip: 909 × (96 − 110) = −12,726 (a fraction was left as an open trade).
    expect(power.trades.map((t) => [t.pnl, t.exitReason, t.open])).toEqual([[-12_726, 'exit', false]])
    // Caps 3.5, 2.1 and 7 units: 3, 2 and 7 whole units.
    const volume = on([[100, 102, 99, 101, 1000], [101, 105, 100, 104, 50], [104, 106, 103, 105, 30], [110, 112, 108, 109, 100]], { 0: (ctx) => ctx.buy('B', { qty: 12 }) }, { lotSize: 1, fills: { volumeShare: 0.07 } })
    expect(volume.fills.map((f) => [f.qty, f.price])).toEqual([[3, 101], [2, 104], [7, 110]])
  })

  it('a bracket whose leg completed withdraws what is left of its entry (it bought on without a stop)', () => {
    // Cap 10 in bar 1: 10 of 40 at 101; the take-profit at 104.5 fills those 10 in the bar (high 105); the stop goes (OCO), and so does the entry's rest.
    const r = on([[100, 102, 99, 101, 1000], [101, 105, 100, 104, 50], [104, 106, 103, 105, 30], [110, 112, 108, 109, 1000], [100, 101, 90, 91, 1000], [91, 92, 80, 81, 1000]], { 0: (ctx) => ctx.buy('B', { qty: 40, stopLoss: 97, takeProfit: 104.5 }) }, { fills: { volumeShare: 0.2 } })
    expect(r.fills.map((f) => [f.role, f.qty, f.price])).toEqual([['entry', 10, 101], ['take-profit', 10, 104.5]])
    expect(r.orders.find((o) => o.role === 'entry')).toMatchObject({ status: 'CANCELLED', filled: 10, reason: 'bracket closed: take-profit filled' })
    // 100,000 + 10 × (104.5 − 101)
    expect(r.result.equity[r.result.equity.length - 1]).toBe(100_035)
  })
})

describe('buying power set aside for working orders (an engine audit)', () => {
  it('includes the costs: the second of two same-bar buys is sized to what the first leaves, and neither is cut at an unchanged open', () => {
    const B = bars('B', [[100, 102, 99, 101], [101, 105, 100, 104], [104, 106, 103, 105]])
    const fills = { slippageBps: 7, takerRate: 0.0013, fixedFee: 1.5 }
    const result = backtest({ strategy: scripted({ 0: (ctx) => { ctx.buy('B', { qty: 60 }); ctx.buy('B', { qty: 38.9 }) } }), symbols: ['B'], timeframe: '1d', data: { B }, cash: 10_000, fills })
    const s = result.strategies[0]!
    // At the close 101 each unit costs 101 × 1.0007 with 0.13 % on top; the first order sets aside 60 units of that and its fixed fee.
    const unit = 101 * 1.0007
    const first = 60 * unit * (1 + 0.0013) + 1.5
    const second = (10_000 - first - 1.5) / (unit * (1 + 0.0013))
    const f = toRows(s.fills)
    expect(f.map((x) => x.qty)).toEqual([60, expect.closeTo(second, 9)])
    expect(toRows(s.orders).map((o) => o.status)).toEqual(['FILLED', 'FILLED'])
    expect(toRows(s.orders)[1]!.reason).toMatch(/^resized: insufficient buying power/)
  })
})

describe('percent sizing (an engine audit)', () => {
  it('pays the fixed fee from the percentage (no resize at 100 %), and sizes a sell at the price a sell fills at', () => {
    const fills = { slippageBps: 10, takerRate: 0.001, fixedFee: 2 }
    // At bar 0's close 101: a buy fills at 101 × 1.001, a sell at 101 × 0.999.
    const buy = run({ 0: (ctx) => ctx.buy('A', { percent: 1 }) }, { fills })
    expect(buy.fills[0]!.qty).toBeCloseTo((100_000 - 2) / (101 * 1.001 * 1.001), 9)
    expect(buy.rec.orders.some((e) => e.status === 'RESIZED')).toBe(false)
    const half = run({ 0: (ctx) => ctx.buy('A', { percent: 0.5 }) }, { fills })
    expect(half.fills[0]!.qty).toBeCloseTo((50_000 - 2) / (101 * 1.001 * 1.001), 9)
    const short = run({ 0: (ctx) => ctx.sell('A', { percent: 0.5 }) }, { fills })
    expect(short.fills[0]!.qty).toBeCloseTo((50_000 - 2) / (101 * 0.999 * 1.001), 9)
  })
})

describe('a bracket adopted after a restart (a review)', () => {
  it('its entry is its legs\' parent again: a leg that completes withdraws the entry\'s rest, as without the restart', async () => {
    const { buildSessionEngine, collectResults } = await import('../../lib/backtest/index.js')
    const rows = [[100, 101, 99, 100, 100], [100, 101, 99, 100, 100], [103, 106, 102, 105, 1000], [99, 100, 98, 99, 1000], [99, 100, 98, 99, 1000]]
    // The entry (limit 100, 100 units, cap 30 a bar) filled 30 at bar 1; then the deployment restarted.
    const history = bars('A', rows.slice(0, 2))
    const e = buildSessionEngine({ sleeves: [{ strategy: scripted({}), symbols: ['A'], timeframe: '1d', weight: 1 }], fills: { volumeShare: 0.3 }, history: { A: history } })
    e.begin()
    e.restoreFill('scripted', 'A', 'buy', 30, 100, 0, history.time[1]!)
    e.adopt('scripted', { cid: 'e1', symbol: 'A', side: 'buy', type: 'limit', role: 'entry', qty: 100, filled: 30, avgPrice: 100, limit: 100, id: 1 }, 0)
    e.adopt('scripted', { cid: 's1', symbol: 'A', side: 'sell', type: 'stop', role: 'stop-loss', qty: 30, filled: 0, avgPrice: NaN, stop: 90, parentCid: 'e1', id: 2, parentId: 1 }, 0)
    e.adopt('scripted', { cid: 't1', symbol: 'A', side: 'sell', type: 'limit', role: 'take-profit', qty: 30, filled: 0, avgPrice: NaN, limit: 105, parentCid: 'e1', id: 3, parentId: 1 }, 0)
    const s = e.series[0]!
    for (const row of rows.slice(2)) {
      const t = s.bars.time[s.n - 1]! + DAY
      e.append(s, t, row[0]!, row[1]!, row[2]!, row[3]!, row[4]!)
      e.advance(t + DAY)
    }
    e.end()
    const orders = toRows(collectResults(e).strategies[0]!.orders)
    // The take-profit sells the 30 at 105 at bar 2; the entry's 70 are withdrawn (they were bought at 99 at bar 3, unprotected).
    expect(orders.map((o) => [o.id, o.role, o.status, o.filled, o.reason])).toEqual([
      [1, 'entry', 'CANCELLED', 30, 'bracket closed: take-profit filled'],
      [2, 'stop-loss', 'CANCELLED', 0, 'OCO: take-profit filled'],
      [3, 'take-profit', 'FILLED', 30, ''],
    ])
    expect(e.sleeves[0]!.book.positions[0]!.qty).toBe(0)
  })

  const restarted = async (rows: number[][], at: number, setUp: (e: import('../../lib/backtest/engine.js').Engine, history: ReturnType<typeof bars>) => void) => {
    const { buildSessionEngine, collectResults } = await import('../../lib/backtest/index.js')
    const history = bars('A', rows.slice(0, at))
    const e = buildSessionEngine({ sleeves: [{ strategy: scripted({}), symbols: ['A'], timeframe: '1d', weight: 1 }], fills: { volumeShare: 0.3 }, history: { A: history } })
    e.begin()
    setUp(e, history)
    const s = e.series[0]!
    for (const row of rows.slice(at)) {
      const t = s.bars.time[s.n - 1]! + DAY
      e.append(s, t, row[0]!, row[1]!, row[2]!, row[3]!, row[4]!)
      e.advance(t + DAY)
    }
    e.end()
    return { e, orders: toRows(collectResults(e).strategies[0]!.orders) }
  }

  it('an entry not filled at the restart places its legs when it fills (it filled with none)', async () => {
    const rows = [[100, 101, 99, 100, 1000], [101, 102, 100, 101, 1000], [99, 100, 98, 99, 1000], [80, 81, 79, 80, 1000]]
    // A limit buy at 100 for 100 units, bracket 90/120, not filled before the restart; bar 2 opens at 99: filled 100 (cap 300).
    const { e, orders } = await restarted(rows, 2, (eng) => {
      eng.adopt('scripted', { cid: 'e1', symbol: 'A', side: 'buy', type: 'limit', role: 'entry', qty: 100, filled: 0, avgPrice: NaN, limit: 100, id: 1, stopLoss: 90, takeProfit: 120 }, 0)
    })
    // Its stop-loss at 90 is gapped through at bar 3's open 80: out at 80, flat.
    expect(orders.map((o) => [o.role, o.status, o.filled])).toEqual([['entry', 'FILLED', 100], ['stop-loss', 'FILLED', 100], ['take-profit', 'CANCELLED', 0]])
    expect(e.sleeves[0]!.book.positions[0]!.qty).toBe(0)
  })

  it('legs re-placed for a partly filled entry grow with its later fills (70 were left unprotected)', async () => {
    const rows = [[100, 101, 99, 100, 100], [100, 101, 99, 100, 100], [99, 100, 98, 99, 1000], [80, 81, 79, 80, 1000]]
    const { e, orders } = await restarted(rows, 2, (eng, history) => {
      // 30 of 100 filled at bar 1, then the process died before the legs were sent: they are owed.
      eng.restoreFill('scripted', 'A', 'buy', 30, 100, 0, history.time[1]!)
      eng.adopt('scripted', { cid: 'e1', symbol: 'A', side: 'buy', type: 'limit', role: 'entry', qty: 100, filled: 30, avgPrice: 100, limit: 100, id: 1, stopLoss: 90, takeProfit: 120 }, 0)
      eng.restoreBrackets('scripted', { cid: 'e1', symbol: 'A', side: 'buy', stopLoss: 90, takeProfit: 120 }, 30, ['stop-loss', 'take-profit'], 0)
    })
    // The entry's other 70 fill at bar 2's open 99; the legs grow to 100; the stop gapped at bar 3: out at 80, flat.
    expect(orders.filter((o) => o.role !== 'entry').map((o) => [o.role, o.status, o.qty, o.filled])).toEqual([['stop-loss', 'FILLED', 100, 100], ['take-profit', 'CANCELLED', 100, 0]])
    expect(e.sleeves[0]!.book.positions[0]!.qty).toBe(0)
  })

  it('an entry FILLED before the restart is not listed again: its legs alone are this session\'s orders (a stand-in parent showed as "entry REJECTED 0/0 end of data")', async () => {
    const rows = [[100, 101, 99, 100, 1000], [100, 101, 99, 100, 1000], [101, 102, 100, 101, 1000], [103, 106, 102, 105, 1000]]
    const { orders } = await restarted(rows, 2, (eng, history) => {
      // Entry 1 filled 100 at 100 at bar 1; its legs (stop 90, target 105) were working at the venue when it restarted.
      eng.restoreFill('scripted', 'A', 'buy', 100, 100, 0, history.time[1]!)
      eng.adopt('scripted', { cid: 's1', symbol: 'A', side: 'sell', type: 'stop', role: 'stop-loss', qty: 100, filled: 0, avgPrice: NaN, stop: 90, parentCid: 'e1', id: 2, parentId: 1 }, 0)
      eng.adopt('scripted', { cid: 't1', symbol: 'A', side: 'sell', type: 'limit', role: 'take-profit', qty: 100, filled: 0, avgPrice: NaN, limit: 105, parentCid: 'e1', id: 3, parentId: 1 }, 0)
    })
    // Bar 3 reaches 106: the take-profit sells the 100 at 105, the stop is cancelled (OCO). Entry 1 is the last session's.
    expect(orders.map((o) => [o.id, o.role, o.status, o.filled, o.reason])).toEqual([
      [2, 'stop-loss', 'CANCELLED', 0, 'OCO: take-profit filled'],
      [3, 'take-profit', 'FILLED', 100, ''],
    ])
  })

  it('legs re-placed for an entry FILLED before the restart list no stand-in entry either', async () => {
    const rows = [[100, 101, 99, 100, 1000], [100, 101, 99, 100, 1000], [101, 102, 100, 101, 1000], [95, 96, 94, 95, 1000]]
    const { orders } = await restarted(rows, 2, (eng, history) => {
      eng.restoreFill('scripted', 'A', 'buy', 100, 100, 0, history.time[1]!)
      eng.restoreBrackets('scripted', { cid: 'e1', symbol: 'A', side: 'buy', stopLoss: 97, takeProfit: 120 }, 100, ['stop-loss', 'take-profit'], 0)
    })
    // Bar 3 opens at 95, through the stop at 97: out at 95; the take-profit is cancelled.
    expect(orders.map((o) => [o.role, o.status, o.filled])).toEqual([['stop-loss', 'FILLED', 100], ['take-profit', 'CANCELLED', 0]])
  })
})
