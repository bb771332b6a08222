// The golden test: sma-cross fast 10 / slow 30 on the S&P 500 sample, 1 unit, commission 0.05 % of
// notional, cash 1,000,000, default fills — against a minimal implementation written here, from the
// rules alone: SMAs by plain summation, a cross when the fast SMA goes from ≤ to > the slow one,
// market orders filled at the next bar's open.

import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { backtest, toRows } from '../../lib/backtest/index.js'
import { readBarsCsv, type Bars } from '../../lib/data/index.js'
import { ROOT } from '../helpers.js'

const spx = readBarsCsv(join(ROOT, 'data/samples/sp500-daily-2000-2020.csv'), { symbol: 'SPX', timeframe: '1d' })
const RATE = 0.0005

function sma(x: Float64Array, n: number): Float64Array {
  const out = new Float64Array(x.length).fill(NaN)
  for (let t = n - 1; t < x.length; t++) {
    let s = 0
    for (let k = t - n + 1; k <= t; k++) s += x[k]!
    out[t] = s / n
  }
  return out
}

interface Trade {
  entryTime: number
  entryPrice: number
  exitTime: number
  exitPrice: number
  pnl: number
}

/** The oracle: positions 0 or 1 unit, orders decided at bar t's close and filled at t+1's open. */
function oracle(bars: Bars, fast: number, slow: number, cash0: number): { trades: Trade[]; equity: number[]; open: Trade | undefined } {
  const f = sma(bars.close, fast)
  const s = sma(bars.close, slow)
  let cash = cash0
  let pos = 0
  let pending: 'buy' | 'sell' | undefined
  let entry: { time: number; price: number; fee: number } | undefined
  const trades: Trade[] = []
  const equity: number[] = []
  for (let t = 0; t < bars.time.length; t++) {
    const open = bars.open[t]!
    if (pending === 'buy') {
      const fee = open * RATE
      cash -= open + fee
      pos = 1
      entry = { time: bars.time[t]!, price: open, fee }
    } else if (pending === 'sell') {
      const fee = open * RATE
      cash += open - fee
      pos = 0
      trades.push({ entryTime: entry!.time, entryPrice: entry!.price, exitTime: bars.time[t]!, exitPrice: open, pnl: open - entry!.price - entry!.fee - fee })
      entry = undefined
    }
    pending = undefined
    if (t >= slow) {
      const up = f[t]! > s[t]! && f[t - 1]! <= s[t - 1]!
      const down = f[t]! < s[t]! && f[t - 1]! >= s[t - 1]!
      if (up && pos === 0) pending = 'buy'
      else if (down && pos === 1) pending = 'sell'
    }
    equity.push(cash + pos * bars.close[t]!)
  }
  const last = bars.time.length - 1
  const open = entry === undefined ? undefined : { entryTime: entry.time, entryPrice: entry.price, exitTime: bars.time[last]!, exitPrice: bars.close[last]!, pnl: bars.close[last]! - entry.price - entry.fee }
  return { trades, equity, open }
}

describe('golden: sma-cross 10/30 on the S&P 500 sample', () => {
  const result = backtest({
    strategy: 'sma-cross',
    params: { fast: 10, slow: 30 },
    symbols: ['SPX'],
    timeframe: '1d',
    data: { SPX: spx },
    cash: 1_000_000,
    sizing: { qty: 1 },
    fills: { takerRate: RATE },
  })
  const expected = oracle(spx, 10, 30, 1_000_000)
  const ours = result.strategies[0]!
  const trades = toRows(ours.trades)
  const closed = trades.filter((t) => !t.open)

  it('has the same trades: times, prices and P&L net of commission', () => {
    expect(closed.length).toBe(expected.trades.length)
    expect(closed.length).toBeGreaterThan(50)
    closed.forEach((t, k) => {
      const e = expected.trades[k]!
      expect(t.entryTime).toBe(e.entryTime)
      expect(t.exitTime).toBe(e.exitTime)
      expect(t.entryPrice).toBe(e.entryPrice)
      expect(t.exitPrice).toBe(e.exitPrice)
      expect(t.pnl).toBeCloseTo(e.pnl, 9)
      expect(t.direction).toBe('long')
      expect(t.qty).toBe(1)
    })
  })

  it('reports the position still open at the end at the last close', () => {
    const open = trades.filter((t) => t.open)
    expect(open.length).toBe(expected.open === undefined ? 0 : 1)
    if (expected.open !== undefined) {
      expect(open[0]!.entryTime).toBe(expected.open.entryTime)
      expect(open[0]!.pnl).toBeCloseTo(expected.open.pnl, 9)
    }
  })

  it('has the same equity at every close and at the end', () => {
    expect(result.equity.length).toBe(expected.equity.length)
    for (let i = 0; i < expected.equity.length; i++) expect(Math.abs(result.equity[i]! - expected.equity[i]!)).toBeLessThan(1e-9 * 1_000_000)
    const final = expected.equity[expected.equity.length - 1]!
    expect(result.metrics.endEquity).toBeCloseTo(final, 6)
  })

  it('charges 0.05 % of notional per fill', () => {
    const fills = toRows(ours.fills)
    for (const f of fills) expect(f.fee).toBeCloseTo(f.qty * f.price * RATE, 12)
    const fees = fills.reduce((a, f) => a + f.fee, 0)
    expect(result.metrics.fees).toBeCloseTo(fees, 9)
  })
})
