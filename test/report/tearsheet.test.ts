// Tearsheets: every metric against a plain pandas/numpy computation of its formula
// (test/fixtures/reference/tearsheet/make_fixture.py, committed with its inputs and output), hand-worked
// drawdown periods, calendar tables and daily resampling, bad input, and the HTML page (well formed, its
// plots, no script, no external URL, hostile names escaped).

import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Parser } from 'htmlparser2'
import { describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { ConfigError, DataError } from '../../lib/core/index.js'
import { syntheticGbm } from '../../lib/data/index.js'
import { tearsheet, tearsheetHtml, type Tearsheet, type TradeColumns } from '../../lib/report/index.js'

const DIR = fileURLToPath(new URL('../fixtures/reference/tearsheet/', import.meta.url))
const fixture = JSON.parse(readFileSync(`${DIR}fixture.json`, 'utf8'))

function readCsv(name: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(`${DIR}${name}`, 'utf8').trim().split(/\r?\n/)
  const cols = head!.split(',')
  return lines.map((line) => {
    const cells = line.split(',')
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']))
  })
}

const daily = readCsv('daily.csv')
const dailyTime = Float64Array.from(daily, (r) => Number(r.time))
const dailyEquity = Float64Array.from(daily, (r) => Number(r.equity))
const withBench = daily.filter((r) => r.benchmark !== '')
const benchmark = { name: 'BENCH', time: Float64Array.from(withBench, (r) => Number(r.time)), close: Float64Array.from(withBench, (r) => Number(r.benchmark)) }
const intraday = readCsv('intraday.csv')
const tradeRows = readCsv('trades.csv')
const trades: TradeColumns = {
  symbol: tradeRows.map((r) => r.symbol!),
  tag: tradeRows.map((r) => r.tag!),
  exitReason: tradeRows.map((r) => r.exitReason!),
  entryTime: Float64Array.from(tradeRows, (r) => Number(r.entryTime)),
  exitTime: Float64Array.from(tradeRows, (r) => Number(r.exitTime)),
  pnl: Float64Array.from(tradeRows, (r) => Number(r.pnl)),
  returnPct: Float64Array.from(tradeRows, (r) => Number(r.returnPct)),
}

/** Equal to 1e-9 relative (1e-15 absolute near zero); null only where the reference is null. */
function near(actual: unknown, expected: unknown, path: string): void {
  if (expected === null || typeof expected !== 'number') {
    expect(actual, path).toEqual(expected)
    return
  }
  expect(typeof actual, path).toBe('number')
  const a = actual as number
  const tolerance = Math.max(1e-9 * Math.abs(expected), 1e-15)
  if (!(Math.abs(a - expected) <= tolerance)) expect.fail(`${path}: ${a} differs from the reference ${expected} by ${Math.abs(a - expected)} (tolerance ${tolerance})`)
}

function nearAll(actual: readonly unknown[], expected: readonly unknown[], path: string): void {
  expect(actual.length, `${path} length`).toBe(expected.length)
  expected.forEach((e, i) => near(actual[i], e, `${path}[${i}]`))
}

const SCALARS = [
  'totalReturn', 'cagr', 'volatility', 'sharpe', 'probabilisticSharpe', 'deflatedSharpe', 'sortino', 'calmar', 'omega', 'maxDrawdown',
  'longestDrawdownDays', 'recoveryFactor', 'skew', 'kurtosis', 'valueAtRisk', 'conditionalValueAtRisk', 'historicalValueAtRisk',
  'historicalConditionalValueAtRisk', 'tailRatio', 'payoffRatio', 'profitFactor', 'winRateDay', 'winRateMonth', 'winRateYear',
  'bestDay', 'worstDay', 'bestMonth', 'worstMonth', 'bestYear', 'worstYear',
] as const

function drawdownNear(actual: unknown, expected: Record<string, unknown> | null, path: string): void {
  if (expected === null) {
    expect(actual, path).toBeNull()
    return
  }
  const { depth, ...dates } = expected
  const a = actual as Record<string, unknown>
  expect({ ...a, depth: undefined }, path).toEqual({ ...dates, depth: undefined })
  near(a.depth, depth, `${path}.depth`)
}

function compareToReference(sheet: Tearsheet, ref: Record<string, any>): void {
  for (const k of SCALARS) near(sheet.metrics[k], ref[k], k)
  expect(sheet.conventions.days).toBe(ref.days)
  expect(sheet.conventions.returns).toBe(ref.returns)
  expect(sheet.start).toBe(ref.start)
  expect(sheet.end).toBe(ref.end)
  drawdownNear(sheet.metrics.maxDrawdownPeriod, ref.maxDrawdownPeriod, 'maxDrawdownPeriod')
  expect(sheet.drawdowns.length).toBe(ref.worstDrawdowns.length)
  ref.worstDrawdowns.forEach((d: Record<string, unknown>, i: number) => drawdownNear(sheet.drawdowns[i], d, `drawdowns[${i}]`))
  // Monthly table: every (year, month) of the reference, nothing else.
  const cells = sheet.monthly.flatMap((row) => row.months.flatMap((v, m) => (v === null ? [] : [{ year: row.year, month: m + 1, return: v }])))
  expect(cells.map((c) => [c.year, c.month])).toEqual(ref.monthly.map((c: { year: number; month: number }) => [c.year, c.month]))
  nearAll(cells.map((c) => c.return), ref.monthly.map((c: { return: number }) => c.return), 'monthly')
  expect(sheet.yearly.map((y) => y.year)).toEqual(ref.yearly.map((y: { year: number }) => y.year))
  nearAll(sheet.yearly.map((y) => y.return), ref.yearly.map((y: { return: number }) => y.return), 'yearly')
  nearAll(sheet.monthly.map((r) => r.total), ref.yearly.map((y: { return: number }) => y.return), 'monthly totals')
  nearAll(sheet.rolling.sharpe, ref.rollingSharpe, 'rolling sharpe')
  nearAll(sheet.rolling.volatility, ref.rollingVolatility, 'rolling volatility')
  if (ref.rollingSharpeFirst !== null) expect(new Date(sheet.rolling.time[0]!).toISOString().slice(0, 10)).toBe(ref.rollingSharpeFirst)
  expect(sheet.histogram.counts).toEqual(ref.histogram.counts)
  nearAll(sheet.histogram.edges, ref.histogram.edges, 'histogram edges')
}

describe('tearsheet metrics against pandas/numpy (make_fixture.py)', () => {
  it('a daily curve of 3½ years with a benchmark', () => {
    const sheet = tearsheet({ time: dailyTime, equity: dailyEquity, benchmark })
    compareToReference(sheet, fixture.daily)
    const b = fixture.daily.benchmark
    expect(sheet.benchmark!.pairs).toBe(b.pairs)
    for (const k of ['beta', 'alpha', 'correlation', 'totalReturn', 'sharpe', 'volatility', 'maxDrawdown'] as const) near(sheet.benchmark![k], b[k], `benchmark.${k}`)
  })

  it('a risk-free rate moves the excess-return metrics', () => {
    const sheet = tearsheet({ time: dailyTime, equity: dailyEquity }, { riskFree: 0.03 })
    compareToReference(sheet, fixture.dailyRf)
    expect(sheet.metrics.sharpe).not.toBeCloseTo(fixture.daily.sharpe, 3)
  })

  it('twenty trials deflate the Sharpe ratio', () => {
    const sheet = tearsheet({ time: dailyTime, equity: dailyEquity }, { trials: 20 })
    near(sheet.metrics.deflatedSharpe, fixture.dailyTrials.deflatedSharpe, 'deflatedSharpe')
    near(sheet.metrics.probabilisticSharpe, fixture.daily.probabilisticSharpe, 'probabilisticSharpe')
    expect(sheet.metrics.deflatedSharpe!).toBeLessThan(sheet.metrics.probabilisticSharpe!)
  })

  it('an hourly curve with gaps is measured on UTC days', () => {
    const sheet = tearsheet({ time: Float64Array.from(intraday, (r) => Number(r.time)), equity: Float64Array.from(intraday, (r) => Number(r.equity)) })
    compareToReference(sheet, fixture.intraday)
  })

  it('trade breakdowns per symbol, tag, exit reason and month', () => {
    const sheet = tearsheet({ time: dailyTime, equity: dailyEquity, trades })
    const ref = fixture.trades
    const same = (actual: readonly Record<string, unknown>[], expected: readonly Record<string, unknown>[], path: string) => {
      expect(actual.map((g) => g.key), path).toEqual(expected.map((g) => g.key))
      expected.forEach((e, i) => {
        for (const [k, v] of Object.entries(e)) if (k !== 'key') near(actual[i]![k], v, `${path}[${String(e.key)}].${k}`)
      })
    }
    same([sheet.trades!.all as unknown as Record<string, unknown>], [ref.all], 'all')
    same(sheet.trades!.bySymbol as unknown as Record<string, unknown>[], ref.bySymbol, 'bySymbol')
    same(sheet.trades!.byTag as unknown as Record<string, unknown>[], ref.byTag, 'byTag')
    same(sheet.trades!.byExitReason as unknown as Record<string, unknown>[], ref.byExitReason, 'byExitReason')
    same(sheet.trades!.byMonth as unknown as Record<string, unknown>[], ref.byMonth, 'byMonth')
  })
})

const D = 86_400_000
const JAN1 = Date.UTC(2024, 0, 1)

describe('tearsheet, hand-worked', () => {
  it('drawdown periods: a recovered one and one still open at the end', () => {
    // Days 0…7: 100, 110 (high), 99 (−10 %), 104.5 (−5 %), 110 (regained), 121 (high), 108.9 (−10 %), 100 (−17.36 %).
    const equity = [100, 110, 99, 104.5, 110, 121, 108.9, 100]
    const sheet = tearsheet({ time: equity.map((_, i) => JAN1 + i * D), equity })
    expect(sheet.drawdowns).toEqual([
      { peak: '2024-01-06', start: '2024-01-07', trough: '2024-01-08', end: '2024-01-08', recovery: null, depth: 1 - 100 / 121, days: 2 },
      { peak: '2024-01-02', start: '2024-01-03', trough: '2024-01-03', end: '2024-01-04', recovery: '2024-01-05', depth: 1 - 99 / 110, days: 2 },
    ])
    expect(sheet.metrics.maxDrawdown).toBe(1 - 100 / 121)
    expect(sheet.metrics.longestDrawdownDays).toBe(2)
    expect(sheet.series.drawdown).toEqual([0, 0, -(1 - 99 / 110), -(1 - 104.5 / 110), 0, 0, -(1 - 108.9 / 121), -(1 - 100 / 121)])
    // Calmar: CAGR over 7 days of 365.25-day years, total return 0.
    expect(sheet.metrics.totalReturn).toBe(0)
    expect(sheet.metrics.cagr).toBe(0)
  })

  it("a drawdown's trough is its first lowest day (pandas idxmin)", () => {
    const equity = [100, 90, 95, 90, 100]
    const sheet = tearsheet({ time: equity.map((_, i) => JAN1 + i * D), equity })
    expect(sheet.drawdowns).toEqual([{ peak: '2024-01-01', start: '2024-01-02', trough: '2024-01-02', end: '2024-01-04', recovery: '2024-01-05', depth: 1 - 90 / 100, days: 3 }])
  })

  it('monthly and yearly tables compound the daily returns of each calendar month', () => {
    // Jan 30 → Jan 31: +10 %; Feb 1: −10 %, Feb 29: +10 % (Feb −1 %); Mar 1: flat.
    const time = [Date.UTC(2024, 0, 30), Date.UTC(2024, 0, 31), Date.UTC(2024, 1, 1), Date.UTC(2024, 1, 29), Date.UTC(2024, 2, 1)]
    const sheet = tearsheet({ time, equity: [100, 110, 99, 108.9, 108.9] })
    expect(sheet.monthly.length).toBe(1)
    const row = sheet.monthly[0]!
    expect(row.year).toBe(2024)
    expect(row.months.slice(3)).toEqual(new Array(9).fill(null))
    expect(row.months[0]).toBeCloseTo(0.1, 14)
    expect(row.months[1]).toBeCloseTo(0.9 * 1.1 - 1, 14)
    expect(row.months[2]).toBe(0)
    expect(row.total).toBeCloseTo(0.089, 14)
    // Jan up, Feb down, Mar flat (left out): 1 of 2.
    expect(sheet.metrics.winRateMonth).toBe(0.5)
    expect(sheet.metrics.bestMonth).toBeCloseTo(0.1, 14)
    expect(sheet.metrics.worstMonth).toBeCloseTo(-0.01, 14)
    // Days: +10 %, −10 %, +10 %, 0 → 2 up of 3 that moved.
    expect(sheet.metrics.winRateDay).toBe(2 / 3)
  })

  it('intraday points: each UTC day is its last point, the first day measured from the first point', () => {
    const h = 3_600_000
    // Day 1: 100 at 10:00, 102 at 15:00; day 2: 101, 103.02 → daily 100, 102, 103.02: returns +2 %, +1 %.
    const a = tearsheet({ time: [JAN1 + 10 * h, JAN1 + 15 * h, JAN1 + D + 9 * h, JAN1 + D + 23 * h], equity: [100, 102, 101, 103.02] })
    expect(a.returns.value.length).toBe(2)
    expect(a.returns.value[0]).toBeCloseTo(0.02, 14)
    expect(a.returns.value[1]).toBeCloseTo(0.01, 14)
    expect(a.returns.time).toEqual([JAN1, JAN1 + D])
    // A first day with only the first point adds no return of its own.
    const b = tearsheet({ time: [JAN1 + 10 * h, JAN1 + D, JAN1 + D + 12 * h], equity: [100, 101, 99] })
    expect(b.returns.value).toEqual([99 / 100 - 1])
    expect(b.series.cumulative).toEqual([0, 99 / 100 - 1])
  })

  it('a benchmark defaults to buy and hold of the traded symbol; trades are marked on its prices', () => {
    const time = [0, 1, 2, 3].map((i) => JAN1 + i * D)
    const sheet = tearsheet({
      time,
      equity: [1000, 1010, 1005, 1030],
      prices: { name: 'BTC/USDT', time, close: [50, 55, 45, 60] },
      trades: { symbol: ['BTC/USDT', 'ETH/USDT'], entryTime: [time[0]!, time[1]!], exitTime: [time[2]!, time[3]!], entryPrice: [50, 3], exitPrice: [45, 4], pnl: [-5, 1] },
    })
    expect(sheet.benchmark!.source).toBe('buy and hold')
    expect(sheet.benchmark!.name).toBe('BTC/USDT')
    expect(sheet.benchmark!.totalReturn).toBeCloseTo(60 / 50 - 1, 14)
    expect(sheet.benchmark!.maxDrawdown).toBeCloseTo(1 - 45 / 55, 14)
    expect(sheet.prices!.marks).toEqual([
      { trade: 0, time: time[0], price: 50, kind: 'entry', direction: 'long' },
      { trade: 0, time: time[2], price: 45, kind: 'exit', direction: 'long' },
    ])
    expect(tearsheet({ time, equity: [1000, 1010, 1005, 1030], prices: { name: 'BTC/USDT', time, close: [50, 55, 45, 60] } }, { buyAndHold: false }).benchmark).toBeNull()
  })

  it('a benchmark on another calendar is measured over the strategy’s spans: a weekday curve that is a 24/7 price has beta 1 with it', () => {
    // A 24/7 price (a year of days from Monday 2024-01-01) and a strategy whose equity is 1000 × that price,
    // recorded on weekdays only. Over any span the two move alike, so (hand-worked) beta = 1, correlation = 1,
    // alpha = 0, and the benchmark's volatility and Sharpe on the strategy's spans are the strategy's own.
    // Pairing returns dated the same day paired the strategy's Friday-to-Monday return with the benchmark's
    // Sunday-to-Monday one: correlation 0.84, beta 0.97, alpha −2.8 % a year.
    const { time, close } = dailyWalk(364, 1)
    const weekdays = time.map((_, i) => i).filter((i) => new Date(time[i]!).getUTCDay() % 6 !== 0)
    const sheet = tearsheet({ time: weekdays.map((i) => time[i]!), equity: weekdays.map((i) => 1000 * close[i]!), benchmark: { name: 'BTC', time, close } }, { periodsPerYear: 252 })
    const b = sheet.benchmark!
    expect(b.pairs).toBe(weekdays.length - 1)
    expect(b.beta).toBeCloseTo(1, 12)
    expect(b.correlation).toBeCloseTo(1, 12)
    expect(b.alpha).toBeCloseTo(0, 12)
    expect(b.volatility).toBeCloseTo(sheet.metrics.volatility!, 12)
    expect(b.sharpe).toBeCloseTo(sheet.metrics.sharpe!, 12)
  })

  it('a benchmark that ends before the strategy is paired over the days it has, as one that starts later is (a review)', () => {
    // Every strategy return after a benchmark that ends earlier was paired with a benchmark return of 0 (pairs
    // counted, beta, correlation, the benchmark's volatility and Sharpe diluted: 199 pairs, correlation 0.71,
    // volatility 0.131 for 0.18), where one that starts later is left out. The equity is 1000 × the price.
    const { time, close } = dailyWalk(200, 7)
    const equity = close.map((c) => 1000 * c)
    const later = tearsheet({ time, equity, benchmark: { name: 'B', time: time.slice(100), close: close.slice(100) } }).benchmark!
    expect(later.pairs).toBe(99)
    expect(later.correlation).toBeCloseTo(1, 12)
    const earlier = tearsheet({ time, equity, benchmark: { name: 'B', time: time.slice(0, 100), close: close.slice(0, 100) } }).benchmark!
    expect(earlier.pairs).toBe(99)
    expect(earlier.beta).toBeCloseTo(1, 12)
    expect(earlier.correlation).toBeCloseTo(1, 12)
    const own = tearsheet({ time: time.slice(0, 100), equity: close.slice(0, 100) }).metrics
    expect(earlier.volatility).toBeCloseTo(own.volatility!, 12)
  })

  it('open trades are counted apart, not in the statistics', () => {
    const time = [JAN1, JAN1 + D]
    const sheet = tearsheet({ time, equity: [100, 101], trades: { symbol: ['A', 'A', 'A'], entryTime: [JAN1, JAN1, JAN1], exitTime: [JAN1 + D, JAN1 + D, JAN1 + D], pnl: [10, -4, 50], open: [false, false, true] } })
    expect(sheet.trades!.open).toBe(1)
    expect(sheet.trades!.all).toEqual({ key: 'all', trades: 2, wins: 1, losses: 1, winRate: 0.5, pnl: 6, avgPnl: 3, avgReturn: null, profitFactor: 2.5, payoffRatio: 2.5 })
    expect(sheet.trades!.byExitReason).toBeNull()
  })

  it('is plain JSON: every number finite, undefined metrics null', () => {
    const sheet = tearsheet({ time: dailyTime, equity: dailyEquity, benchmark, trades })
    expect(JSON.parse(JSON.stringify(sheet))).toEqual(sheet)
    // Only gains: no loss, so no profit factor, payoff or Sortino.
    const up = tearsheet({ time: [0, 1, 2].map((i) => JAN1 + i * D), equity: [1, 1.1, 1.2] })
    expect(up.metrics.profitFactor).toBeNull()
    expect(up.metrics.payoffRatio).toBeNull()
    expect(up.metrics.sortino).toBeNull()
    expect(up.metrics.maxDrawdownPeriod).toBeNull()
    expect(JSON.parse(JSON.stringify(up))).toEqual(up)
  })
})

describe('tearsheet of a backtest', () => {
  it("reads a BacktestResult's curve and trade columns as they are, and agrees with lib/stats on daily bars", () => {
    const bars = syntheticGbm({ symbol: 'SPX', timeframe: '1d', bars: 800, seed: 4, start: '2020-01-01', volatility: 0.3 })
    const result = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars }, cash: 100_000 })
    const run = result.strategies[0]!
    const sheet = tearsheet({ time: result.time, equity: result.equity, trades: run.trades, prices: { name: 'SPX', time: bars.time, close: bars.close } }, { periodsPerYear: result.periodsPerYear })
    const closed = run.trades.open.map((open, i) => (open ? NaN : run.trades.pnl[i]!)).filter((p) => !Number.isNaN(p))
    expect(closed.length).toBeGreaterThan(5)
    expect(sheet.trades!.all.trades).toBe(closed.length)
    expect(sheet.trades!.open).toBe(run.metrics.openTrades)
    expect(sheet.trades!.all.pnl).toBeCloseTo(closed.reduce((a, b) => a + b, 0), 6)
    expect(sheet.trades!.all.wins).toBe(run.metrics.trades!.wins)
    // One bar a day: the daily curve is the backtest's curve, so lib/stats' metrics of it are ours.
    expect(sheet.conventions.days).toBe(result.equity.length)
    near(sheet.metrics.totalReturn, result.metrics.totalReturn, 'totalReturn')
    near(sheet.metrics.maxDrawdown, result.metrics.maxDrawdown.depth, 'maxDrawdown')
    near(sheet.metrics.sharpe, result.metrics.sharpe, 'sharpe')
    near(sheet.metrics.sortino, result.metrics.sortino, 'sortino')
    near(sheet.metrics.volatility, result.metrics.volatility, 'volatility')
    expect(sheet.benchmark!.source).toBe('buy and hold')
    near(sheet.benchmark!.totalReturn, bars.close[bars.close.length - 1]! / bars.close[0]! - 1, 'buy and hold')
    expect(sheet.prices!.marks.filter((m) => m.kind === 'entry').length).toBe(run.trades.pnl.length)
  })
})

describe('tearsheet, bad input', () => {
  const time = [JAN1, JAN1 + D, JAN1 + 2 * D]
  it.each([
    [{ time, equity: [1, 2] }, DataError, 'equity: time has 3 values, equity 2; expected one time per point'],
    [{ time: [JAN1, JAN1, JAN1 + D], equity: [1, 2, 3] }, DataError, 'equity: time 1 (1704067200000) is not after time 0 (1704067200000); expected strictly increasing times'],
    [{ time, equity: [1, 0, 3] }, DataError, 'equity: equity 1 is 0; expected a positive finite number'],
    [{ time, equity: [1, 2, 3], benchmark: { name: 'B', time, close: [1, NaN, 2] } }, DataError, 'benchmark: close 1 is NaN; expected a positive finite number'],
    [{ time, equity: [1, 2, 3], trades: { symbol: ['A'], entryTime: [JAN1], exitTime: [JAN1], pnl: [1, 2] } }, DataError, 'trades.symbol has 1 values, trades.pnl 2; expected one per trade'],
  ])('rejects %#', (input, kind, message) => {
    expect(() => tearsheet(input as never)).toThrow(kind)
    expect(() => tearsheet(input as never)).toThrow(message)
  })
  it.each([
    [{ periodsPerYear: 0 }, 'periodsPerYear must be a number > 0, e.g. 252 (received 0)'],
    [{ rollingWindow: 1 }, 'rollingWindow must be an integer ≥ 2 (received 1)'],
    [{ trials: 0.5 }, 'trials must be a number ≥ 1 (received 0.5)'],
  ])('rejects options %#', (options, message) => {
    expect(() => tearsheet({ time, equity: [1, 2, 3] }, options)).toThrow(ConfigError)
    expect(() => tearsheet({ time, equity: [1, 2, 3] }, options)).toThrow(message)
  })
})

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr'])

/**
 * Every element is closed explicitly and in order (HTML parsers forgive anything; this does not): an implied
 * close is allowed only right after its own open tag (a self-closing `<line />`), and every `</…>` in the
 * text is a close the parser saw. Returns the tags and collects the attribute names seen.
 */
function wellFormed(html: string, attributes: string[] = []): string[] {
  const tags: string[] = []
  const problems: string[] = []
  let justOpened = ''
  let closes = 0
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        tags.push(name)
        attributes.push(...Object.keys(attribs))
        justOpened = name
      },
      onclosetag(name, implied) {
        if (implied && !VOID.has(name) && justOpened !== name) problems.push(`<${name}> is never closed`)
        if (!implied) closes++
        justOpened = ''
      },
      ontext() {
        justOpened = ''
      },
    },
    { recognizeSelfClosing: true, lowerCaseTags: false },
  )
  parser.write(html)
  parser.end()
  expect(problems.slice(0, 5)).toEqual([])
  expect(closes).toBe(html.split('</').length - 1)
  return tags
}

describe('tearsheetHtml', () => {
  const HOSTILE = '<script>alert(1)</script>'
  const time = Array.from(dailyTime)
  const prices = { name: HOSTILE, time, close: Array.from(dailyEquity, (e, i) => e / 30 + Math.sin(i / 9)) }
  const hostileTrades: TradeColumns = { ...trades, symbol: trades.symbol.map((s, i) => (i % 2 === 0 ? HOSTILE : s)), tag: trades.tag!.map((t, i) => (i % 3 === 0 ? `<img src=x onerror=alert(2)>` : t)), entryPrice: Array.from(trades.pnl, () => 3000), exitPrice: Array.from(trades.pnl, () => 3100) }
  const sheet = tearsheet({ time: dailyTime, equity: dailyEquity, prices, trades: hostileTrades }, { title: `report ${HOSTILE}` })
  const html = tearsheetHtml(sheet)

  it('is one well-formed page with its plots and tables', () => {
    const tags = wellFormed(html)
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true)
    // Cumulative (vs buy and hold), worst drawdowns, underwater, heatmap, yearly, rolling Sharpe and volatility,
    // histogram, price with trades: 9 charts (legends add small swatch SVGs inside <figure>s).
    for (const id of ['cumulative-chart', 'worst-drawdowns-chart', 'underwater-chart', 'monthly-heatmap', 'yearly-chart', 'rolling-sharpe-chart', 'rolling-volatility-chart', 'histogram-chart', 'price-chart']) {
      expect(html.match(new RegExp(`<div class="chart" id="${id}"><h3>[^<]*</h3>(<figure[^>]*>.*?)?<svg`, 's')), id).not.toBeNull()
    }
    expect(tags.filter((t) => t === 'svg').length).toBeGreaterThanOrEqual(9)
    expect(html).toContain('Worst drawdowns')
    expect(html).toContain(fixture.daily.worstDrawdowns[0].start)
    // Percent with 2 decimals, ratios with 2.
    expect(html).toContain(`<td>${(fixture.daily.maxDrawdown * 100).toFixed(2)} %</td>`)
    expect(html).toContain(`<td>${fixture.daily.sharpe.toFixed(2)}</td>`)
  })

  it('shows no NaN when every trade is still open (no closed trade has a mean P&L)', () => {
    const sheet = tearsheet({ time: [JAN1, JAN1 + D, JAN1 + 2 * D], equity: [100, 101, 102], trades: { symbol: ['A'], entryTime: [JAN1], exitTime: [JAN1 + 2 * D], pnl: [2], open: [true] } })
    const page = tearsheetHtml(sheet)
    expect(sheet.trades!.all.trades).toBe(0)
    expect(page).not.toContain('NaN')
  })

  it('writes a negative number with the ASCII minus, as the run page does (copied into Python or a spreadsheet, it parses)', () => {
    // The worst drawdowns' depths are negative percentages; the trades table has losing P&L.
    expect(html).toMatch(/<td>-\d+\.\d\d %<\/td>/)
    expect(html).toMatch(/<span class="num">-[\d,]+\.\d\d<\/span>/)
    // The tables' numbers (the charts' axes are Plot's, typographic): none with U+2212.
    const cells = [...html.matchAll(/<td>([^<]*)<\/td>|<span class="num">([^<]*)<\/span>/g)].map((m) => m[1] ?? m[2]!)
    expect(cells.length).toBeGreaterThan(50)
    expect(cells.filter((c) => c.includes('\u2212'))).toEqual([])
  })

  it('has no script, no event handler and no http(s) URL', () => {
    const attributes: string[] = []
    const tags = wellFormed(html, attributes)
    expect(tags.filter((t) => /script|iframe|object|embed|link|img/i.test(t))).toEqual([])
    expect(attributes.filter((a) => /^on|^href$|^src$|^xlink:href$/i.test(a))).toEqual([])
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/https?:\/\//i)
  })

  it('escapes names from the data', () => {
    expect(html).not.toContain(HOSTILE)
    expect(html).not.toContain('<img')
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).toContain('&lt;img src=x onerror=alert(2)&gt;')
    expect(html).toContain(`<title>report &lt;script&gt;alert(1)&lt;/script&gt;</title>`)
  })

  it('marks at most 1,000 entries and exits, every k-th trade, and says so', () => {
    const t = Array.from({ length: 10 }, (_, i) => JAN1 + i * D)
    const n = 1500
    const many = tearsheet({
      time: t,
      equity: t.map((_, i) => 100 + i),
      prices: { name: 'X', time: t, close: t.map((_, i) => 10 + i) },
      trades: { symbol: new Array(n).fill('X'), entryTime: new Array(n).fill(t[1]), exitTime: new Array(n).fill(t[2]), entryPrice: new Array(n).fill(11), exitPrice: new Array(n).fill(12), pnl: new Array(n).fill(1) },
    })
    expect(many.prices!.marks.length).toBe(3000)
    const page = tearsheetHtml(many)
    // 3,000 marks → 1 trade in 3 → 500 trades, 1,000 dots.
    expect(page).toContain('(1 trade in 3 of 1,500 marked)')
    const chart = page.slice(page.indexOf('id="price-chart"'))
    const dots = chart.slice(chart.indexOf('aria-label="dot"'))
    expect((dots.slice(0, dots.indexOf('</g>')).match(/<path/g) ?? []).length).toBe(1000)
  })

  it('rejects what is not a tearsheet', () => {
    expect(() => tearsheetHtml({} as Tearsheet)).toThrow('tearsheetHtml needs a Tearsheet (version 1) as made by tearsheet()')
  })
})

/** A seeded daily random walk from 2024-01-01 (Park–Miller steps of ±2 %): `days` closes. */
function dailyWalk(days: number, seed: number): { time: number[]; close: number[] } {
  const time: number[] = []
  const close: number[] = []
  let p = 100
  for (let d = 0; d < days; d++) {
    seed = (seed * 48271) % 2147483647
    p *= 1 + 0.04 * (seed / 2147483647 - 0.5)
    time.push(JAN1 + d * D)
    close.push(p)
  }
  return { time, close }
}
