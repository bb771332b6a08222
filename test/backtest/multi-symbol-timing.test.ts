// A strategy on several symbols decides at one bar's close; hand-worked on a handful of bars:
// - an order on another symbol fills at that symbol's first bar opening at or after the decision, never at
//   the open of a bar that began before it (a numbers audit: an order placed in A's onBar filled at B's open
//   of the same day when B came later in the symbols, a price from before the order existed);
// - every symbol's bar closing at that time is in the books before any strategy sees the time (the audit:
//   equity and sizing used B's previous close when B came later, so results depended on --symbol order);
// - a coarser series' bar in progress at the decision (a 1d bar at an hourly decision) is not filled at its
//   open either.

import { describe, expect, it } from 'vitest'
import { backtest, collectResults } from '../../lib/backtest/index.js'
import { defineStrategy, type Context } from '../../lib/strategy/index.js'
import { bars, DAY, scripted, T0 } from './scripted.js'

// Opens 100, 110, 120 … (A) and 1000, 1010, 1020 … (B); each bar closes at open + 2.
const rows = (base: number, step: number) => Array.from({ length: 8 }, (_, i) => [base + step * i, base + step * i + 5, base + step * i - 5, base + step * i + 2])
const A = bars('A', rows(100, 10))
const B = bars('B', rows(1000, 10))

describe('several symbols in one strategy', () => {
  for (const symbols of [['A', 'B'], ['B', 'A']]) {
    it(`an order on the other symbol fills at its next bar's open (symbols ${symbols.join(',')})`, () => {
      // At bar 2's close of the first symbol: buy 1 of the other. Bar 2 opened before the decision: bar 3's open.
      const first = symbols[0]!
      const other = symbols[1]!
      const r = backtest({ strategy: scripted({ 2: (ctx) => ctx.buy(other, { qty: 1 }) }), symbols, timeframe: '1d', data: { A, B }, cash: 1e6 })
      const fills = r.strategies[0]!.fills
      expect(fills.symbol).toEqual([other])
      expect(fills.price[0]).toBe(other === 'B' ? 1030 : 130)
      expect(fills.time[0]).toBe(T0 + 3 * DAY)
      const orders = r.strategies[0]!.orders
      expect(orders.createdAt[0]).toBe(T0 + 3 * DAY) // the close of bar 2
      expect(fills.time[0]!).toBeGreaterThanOrEqual(orders.createdAt[0]!)
      expect(first).not.toBe(other)
    })

    it(`equity at a close marks every symbol at that close (symbols ${symbols.join(',')})`, () => {
      // 10 B bought at bar 0's close (filled at bar 1's open, 1010); at A's bar 3 the equity is cash + 10 × B's bar-3 close.
      const seen: number[] = []
      const strategy = defineStrategy<Record<string, number>>({
        name: 'marks',
        params: {},
        universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
        warmup: () => 0,
        onBar(ctx, bar) {
          if (bar.symbol === 'B' && bar.index === 0) ctx.buy('B', { qty: 10 })
          if (bar.symbol === 'A' && bar.index === 3) seen.push(ctx.equity(), ctx.price('B'))
        },
      })
      backtest({ strategy, symbols, timeframe: '1d', data: { A, B }, cash: 100_000 })
      const bClose3 = 1000 + 30 + 2
      expect(seen).toEqual([100_000 - 10 * 1010 + 10 * bClose3, bClose3])
    })
  }

  it('an order placed in a fill callback is sized from the same prices whichever symbol comes first', () => {
    // A's buy fills at bar 1's open; onFill buys 10,000 of B. B's bar 1 has not closed at A's open: B is marked at
    // its bar-0 close (1002) in both symbol orders, so 10,000 / 1002 units (a review: 6.25 at B's bar-1 close 1600
    // when B came first).
    const a = bars('A', Array.from({ length: 6 }, (_, i) => [100 + 10 * i, 106 + 10 * i, 95 + 10 * i, 102 + 10 * i]))
    const b = bars('B', Array.from({ length: 6 }, (_, i) => [1000 + 100 * i, 1600 + 100 * i, 990 + 100 * i, (i === 1 ? 1500 : 1002) + 100 * i]))
    const outcomes: { seen: number[]; qty: number[]; end: number }[] = []
    for (const symbols of [['A', 'B'], ['B', 'A']]) {
      const seen: number[] = []
      const strategy = defineStrategy<Record<string, number>>({
        name: 'fill-callback',
        params: {},
        universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
        warmup: () => 0,
        onBar(ctx, bar) {
          if (bar.symbol === 'A' && bar.index === 0) ctx.buy('A', { qty: 1 })
        },
        onFill(ctx, ev) {
          if (ev.symbol !== 'A') return
          seen.push(ctx.price('B'), ctx.equity())
          ctx.buy('B', { notional: 10_000 })
        },
      })
      const r = backtest({ strategy, symbols, timeframe: '1d', data: { A: a, B: b }, cash: 1e6 })
      const f = r.strategies[0]!.fills
      outcomes.push({ seen, qty: [...f.qty], end: r.equity[r.equity.length - 1]! })
    }
    expect(outcomes[0]!.seen).toEqual([1002, 1e6 - 110 + 102])
    expect(outcomes[0]!.qty).toEqual([1, 10_000 / 1002])
    expect(outcomes[1]).toEqual(outcomes[0])
  })

  it('a daily bar in progress at an hourly decision is not filled at its open', () => {
    // A: hourly bars from T0 (opens 100, 101 …); B: daily bars (opens 1000, 1010 …). On day 1 at A's 05:00 bar's
    // close (06:00) buy 1 B: B's day 1 opened at 00:00, before the decision; the fill is day 2's open, 1020.
    const hourly = bars('A', Array.from({ length: 48 }, (_, i) => [100 + i, 101 + i, 99 + i, 100.5 + i]), '1h', 3_600_000)
    const daily = bars('B', [[1000, 1005, 995, 1002], [1010, 1015, 1005, 1012], [1020, 1025, 1015, 1022]])
    const strategy = defineStrategy<Record<string, number>>({
      name: 'mixed',
      params: {},
      universe: () => [{ symbol: 'A', timeframe: '1h' }, { symbol: 'B', timeframe: '1d' }],
      warmup: () => 0,
      onBar(ctx: Context<Record<string, number>>, bar) {
        if (bar.symbol === 'A' && bar.index === 29) ctx.buy('B', { qty: 1 })
      },
    })
    const r = backtest({ strategy, symbols: ['A', 'B'], timeframe: '1h', data: { 'A@1h': hourly, 'B@1d': daily }, cash: 1e6 })
    const fills = r.strategies[0]!.fills
    expect([...fills.price]).toEqual([1020])
    expect([...fills.time]).toEqual([T0 + 2 * DAY])
  })
})

describe('a session whose second series lags (its bars appended after the first one\'s)', () => {
  it('an order placed before the other symbol\'s bar is in waits latencyBars from the first bar opening in time, as in a backtest', async () => {
    const { buildSessionEngine } = await import('../../lib/backtest/index.js')
    const run = (lag: boolean) => {
      const strategy = scripted({ 2: (ctx) => ctx.buy('B', { qty: 1 }) })
      const e = buildSessionEngine({ sleeves: [{ strategy, symbols: ['A', 'B'], timeframe: '1d', weight: 1 }], cash: 1e6, fills: { latencyBars: 1 } })
      e.begin()
      const sa = e.seriesByKey.get('A@1d')!
      const sb = e.seriesByKey.get('B@1d')!
      const add = (s: typeof sa, src: typeof A, i: number) => e.append(s, src.time[i]!, src.open[i]!, src.high[i]!, src.low[i]!, src.close[i]!, src.volume[i]!)
      for (let i = 0; i < 8; i++) {
        const close = A.time[i]! + DAY
        add(sa, A, i)
        if (!lag) add(sb, B, i)
        e.advance(close) // with the lag, A's bar i alone: the order at A's bar 2 meets a B whose bar 2 is not in
        if (lag) {
          add(sb, B, i)
          e.advance(close)
        }
      }
      e.end()
      return collectResults(e).strategies[0]!.fills
    }
    const inTime = run(false)
    const lagging = run(true)
    // Decided at bar 2's close: bar 3 is the first to open after it, one bar of latency: bar 4's open.
    expect([...inTime.price]).toEqual([1040])
    expect([...lagging.price]).toEqual([...inTime.price])
    expect([...lagging.time]).toEqual([...inTime.time])
  })
})
