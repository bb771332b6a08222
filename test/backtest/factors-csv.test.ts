// factors.csv (lib/backtest/context.ts): each entry's row holds, next to the indicator values the strategy
// saw, the traded symbol's factor set at the bar the order was placed on (`factor.<name>`). The values
// here are computed in the test from the bars by plain loops: range, Kaufman's efficiency ratio, the
// least-squares line through the closes (slope relative to the close, R²) and simple returns.

import { describe, expect, it } from 'vitest'
import { backtest, resultFiles } from '../../lib/backtest/index.js'
import { syntheticGbm, syntheticPair, type Bars } from '../../lib/data/index.js'

const WINDOWS = [10, 20, 30, 50, 100]

/** Bar j's factor set by hand (NaN where the window reaches before the data). */
function plainFactors(b: Bars, j: number): Record<string, number> {
  const out: Record<string, number> = {}
  const c = b.close
  for (const n of WINDOWS) {
    if (j < n - 1) {
      out[`range_${n}`] = out[`slope_${n}`] = out[`r2_${n}`] = NaN
    } else {
      let hi = -Infinity
      let lo = Infinity
      for (let k = j - n + 1; k <= j; k++) {
        hi = Math.max(hi, b.high[k]!)
        lo = Math.min(lo, b.low[k]!)
      }
      out[`range_${n}`] = (hi - lo) / c[j]!
      // y = a + s·x over x = 0 … n − 1 (the oldest bar first).
      let sx = 0
      let sy = 0
      for (let x = 0; x < n; x++) {
        sx += x
        sy += c[j - n + 1 + x]!
      }
      const mx = sx / n
      const my = sy / n
      let sxx = 0
      let sxy = 0
      let syy = 0
      for (let x = 0; x < n; x++) {
        const dy = c[j - n + 1 + x]! - my
        sxx += (x - mx) ** 2
        sxy += (x - mx) * dy
        syy += dy * dy
      }
      const slope = sxy / sxx
      out[`slope_${n}`] = slope / c[j]!
      out[`r2_${n}`] = (sxy * sxy) / (sxx * syy)
    }
    if (j < n) out[`trend_${n}`] = NaN
    else {
      let path = 0
      for (let k = j - n + 1; k <= j; k++) path += Math.abs(c[k]! - c[k - 1]!)
      out[`trend_${n}`] = Math.abs(c[j]! - c[j - n]!) / path
    }
  }
  for (const k of [1, 5, 20]) out[`ret_${k}`] = j < k ? NaN : c[j]! / c[j - k]! - 1
  return out
}

/** CSV text → rows of cells by header name. */
function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split('\n')
  const names = head!.split(',')
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, k) => [names[k]!, v])))
}

const cell = (v: string | undefined) => (v === undefined || v === '' ? NaN : Number(v))

/** Each factors.csv row against the factor set by hand at the bar its entry order was placed on. */
function checkRows(files: Record<string, string>, bars: Record<string, Bars>, tfMs: number): number {
  const orders = new Map(parseCsv(files['orders.csv']!).map((o) => [o.id!, o]))
  const rows = parseCsv(files['factors.csv']!)
  const names = Object.keys(plainFactors(Object.values(bars)[0]!, 0))
  expect(Object.keys(rows[0]!).filter((k) => k.startsWith('factor.')).sort()).toEqual(names.map((n) => `factor.${n}`).sort())
  let finite = 0
  for (const row of rows) {
    const order = orders.get(row.entryOrderId!)!
    const b = bars[order.symbol!]!
    // The order was created at the close of the bar it was placed on (ctx.time = bar open + timeframe).
    const j = b.time.indexOf(Date.parse(order.createdAt!) - tfMs)
    expect(j).toBeGreaterThanOrEqual(0)
    const expected = plainFactors(b, j)
    for (const n of names) {
      const got = cell(row[`factor.${n}`])
      if (Number.isNaN(expected[n]!)) expect(got, `${n} at bar ${j}`).toBeNaN()
      else {
        expect(got, `${n} at bar ${j}`).toBeCloseTo(expected[n]!, 10)
        finite++
      }
    }
  }
  return finite
}

describe('factors.csv: the factor set at each entry', () => {
  it('sma-cross on one symbol: every row, its indicators and factor.* as computed by hand at the entry bar', () => {
    const bars = syntheticGbm({ bars: 400, timeframe: '1d', seed: 11, volatility: 0.4 })
    const result = backtest({ strategy: 'sma-cross', params: { fast: 5, slow: 20 }, symbols: [bars.symbol], timeframe: '1d', data: { [bars.symbol]: bars } })
    const files = resultFiles(result)
    const rows = parseCsv(files['factors.csv']!)
    const trades = parseCsv(files['trades.csv']!)
    expect(rows.length).toBe(trades.length)
    expect(rows.length).toBeGreaterThan(10)
    // Entries before bar 99 have no 100-bar window: some rows with NaN there, most with a value.
    expect(rows.some((r) => r['factor.r2_100'] === '')).toBe(true)
    expect(Object.keys(rows[0]!).slice(0, 5)).toEqual(['strategy', 'entryOrderId', 'entryTime', 'sma(5)', 'sma(20)'])
    expect(checkRows(files, { [bars.symbol]: bars }, 86_400_000)).toBeGreaterThan(200)
  })

  it('pairs-zscore: each leg\'s trade carries its own leg\'s factor set', () => {
    const [y, x] = syntheticPair({ bars: 500, timeframe: '1h', seed: 3, halfLife: 8, spreadVol: 0.03 })
    const result = backtest({ strategy: 'pairs-zscore', params: { window: 30, entry: 1.5, exit: 0.3 }, symbols: [y.symbol, x.symbol], timeframe: '1h', data: { [y.symbol]: y, [x.symbol]: x } })
    const files = resultFiles(result)
    const trades = parseCsv(files['trades.csv']!)
    expect(new Set(trades.map((t) => t.symbol))).toEqual(new Set([y.symbol, x.symbol]))
    expect(checkRows(files, { [y.symbol]: y, [x.symbol]: x }, 3_600_000)).toBeGreaterThan(100)
  })
})
