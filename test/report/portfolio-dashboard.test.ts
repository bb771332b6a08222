// The portfolio dashboard's numbers (lib/report/portfolio-dashboard.ts): a hand-made deployment whose
// slippage, positions, P&L, equity, exposure and drawdown are worked out by hand below; a real paper replay
// deployment whose equity is the backtest's (run here) and whose replay tracks it to ~0; a copy of it with one
// fill's price altered, whose slippage and tracking error are computed here independently; the replay cache;
// several deployments combined.

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backtest, type BacktestResult } from '../../lib/backtest/index.js'
import { CorruptFileError, isoTime } from '../../lib/core/index.js'
import { ingestBars, loadBars, type Bars } from '../../lib/data/index.js'
import { syntheticGbm } from '../../lib/data/synthetic.js'
import { runDeployment } from '../../lib/live/deployment.js'
import { validateDeploymentConfig } from '../../lib/live/index.js'
import { fillModel } from '../../lib/backtest/index.js'
import { deploymentNames, deploymentSnapshot, portfolioSnapshot, referencePrice, ReplayCache, trackingError } from '../../lib/report/portfolio-dashboard.js'
import { getStrategy, strategySource } from '../../lib/strategy/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { dashboardDocument } from '../../lib/report/index.js'
import { portfolioDashboard } from '../../dashboards/portfolio.js'

const DAY = 86_400_000
const D0 = Date.UTC(2024, 2, 4)
const H0 = Date.UTC(2024, 0, 1)
const homes: string[] = []
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true })
})

function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-portfolio-'))
  homes.push(home)
  return home
}

/** A deployment folder written by hand: config.json, status.json, journal.jsonl, alerts.jsonl. */
function writeDeployment(home: string, name: string, files: { config: Record<string, unknown>; status: Record<string, unknown>; journal: Record<string, unknown>[]; alerts?: Record<string, unknown>[] }): void {
  const dir = join(home, 'deployments', name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(validateDeploymentConfig(files.config), null, 1)}\n`)
  writeFileSync(join(dir, 'status.json'), `${JSON.stringify(files.status)}\n`)
  writeFileSync(join(dir, 'journal.jsonl'), files.journal.map((e) => `${JSON.stringify(e)}\n`).join(''))
  if (files.alerts !== undefined) writeFileSync(join(dir, 'alerts.jsonl'), files.alerts.map((e) => `${JSON.stringify(e)}\n`).join(''))
}

const status = (name: string, over: Record<string, unknown> = {}) => ({
  name,
  state: 'stopped',
  pid: 1,
  mode: 'paper',
  exchange: 'binance',
  strategy: 'hand@1',
  symbols: ['HW'],
  timeframe: '1d',
  startedAt: isoTime(D0),
  updatedAt: isoTime(D0 + 4 * DAY),
  lastBar: isoTime(D0 + 4 * DAY),
  bars: 4,
  equity: 0,
  cash: 0,
  positions: [],
  openOrders: [],
  trades: [],
  tradeCount: 0,
  fills: 2,
  journal: 'journal.jsonl',
  ...over,
})

// Four daily bars: open, high, low, close.
const rows = [
  [98, 99, 97, 98.5],
  [100, 103, 99, 102],
  [106, 109, 105, 107],
  [107, 108, 104, 105],
]
const col = (k: number) => Float64Array.from(rows, (r) => r[k]!)
const HW: Bars = { symbol: 'HW', timeframe: '1d', time: Float64Array.from(rows, (_, i) => D0 + i * DAY), open: col(0), high: col(1), low: col(2), close: col(3), volume: Float64Array.from(rows, () => 1000) }

describe('the fill model\'s price for a fill', () => {
  // One bar opening at D0 (open 94, high 111), a taker rate irrelevant here and 10 bps of slippage.
  const bar = { time: Float64Array.of(D0), open: Float64Array.of(94) }
  const model = fillModel({ slippageBps: 10 })
  const ref = (order: { side: 'buy' | 'sell'; kind: string; price?: number; placedAt?: number; role?: string }, fillTime = D0) =>
    referencePrice({ placedAt: D0, role: 'entry', ...order }, bar, DAY, fillTime, model)

  it('a sell stop the bar gapped through fills at the open less slippage; a bracket leg placed at that open and already beyond it, at the open too (as the engine fills it); a stop that filled in an earlier bar, at the open', () => {
    expect(ref({ side: 'sell', kind: 'stop', price: 95 })).toEqual({ reference: 94, expected: expect.closeTo(94 * 0.999, 12) })
    expect(ref({ side: 'sell', kind: 'stop', price: 95, placedAt: D0 + DAY, role: 'stop-loss' })).toEqual({ reference: 94, expected: expect.closeTo(94 * 0.999, 12) })
    expect(ref({ side: 'sell', kind: 'stop', price: 90, placedAt: D0 + DAY, role: 'stop-loss' })).toEqual({ reference: 90, expected: expect.closeTo(90 * 0.999, 12) })
    // A buy stop at 110 triggered the day before: its rest is a market order at this open (not 110).
    expect(referencePrice({ side: 'buy', kind: 'stop', price: 110, placedAt: D0 - 2 * DAY, role: 'entry', filledBefore: D0 - DAY }, bar, DAY, D0, model)).toEqual({ reference: 94, expected: expect.closeTo(94 * 1.001, 12) })
  })

  it('a buy stop above the open at its stop plus slippage; a limit the open gapped past at the open, without slippage', () => {
    expect(ref({ side: 'buy', kind: 'stop', price: 110 })).toEqual({ reference: 110, expected: expect.closeTo(110 * 1.001, 12) })
    expect(ref({ side: 'buy', kind: 'limit', price: 100 })).toEqual({ reference: 94, expected: 94 })
    expect(ref({ side: 'sell', kind: 'limit', price: 100 })).toEqual({ reference: 100, expected: 100 })
    expect(ref({ side: 'buy', kind: 'market' }, D0 + 3_600_000)).toEqual({ reference: 94, expected: expect.closeTo(94 * 1.001, 12) })
  })

  it('none for fills the model does not make or outside the bars', () => {
    expect(ref({ side: 'buy', kind: 'market', role: 'outside' }).expected).toBeNaN()
    expect(ref({ side: 'buy', kind: 'market' }, D0 + DAY).expected).toBeNaN()
    expect(ref({ side: 'buy', kind: 'market' }, D0 - 1).expected).toBeNaN()
  })

  it('tracking error by hand: returns differ by +1 %, −1 %, 0 over a year of 4 points', () => {
    // Replay flat at 100; deployment 100, 101, 99.99, 99.99: differences 0.01, −0.01, 0 (mean 0, sample sd 0.01).
    const year = 365.25 * DAY
    const t = [0, year / 3, (2 * year) / 3, year]
    expect(trackingError(t, [100, 101, 99.99, 99.99], [100, 100, 100, 100])).toBeCloseTo(0.01 * Math.sqrt(3), 12)
  })
})

describe('a hand-made deployment', () => {
  let home: string
  beforeAll(async () => {
    home = tempHome()
    await ingestBars(home, HW, { source: 'binance' })
    const cid = (n: number) => `mthand${n}`
    writeDeployment(home, 'hand', {
      config: {
        name: 'hand',
        strategy: { name: 'hand', version: 1, sha256: 'b'.repeat(64) },
        symbols: ['HW'],
        timeframe: '1d',
        mode: 'paper',
        venue: { exchange: 'binance' },
        cash: 10_000,
        weight: 0.5,
        fills: { slippageBps: 10, takerRate: 0.001 },
        feed: { kind: 'replay' },
      },
      status: status('hand'),
      journal: [
        // A market buy placed at day 1's close, filled at day 2's open (100) 0.2 worse than the model's 100.1.
        { type: 'intent', seq: 1, clientOrderId: cid(1), time: D0 + DAY, strategy: 'hand', symbol: 'HW', side: 'buy', qty: 10, kind: 'market', role: 'entry', acked: true },
        { type: 'fill', clientOrderId: cid(1), tradeId: 't1', qty: 10, price: 100.3, fee: 1.003, time: D0 + DAY },
        // A limit sell at 108 placed at day 2's close: day 3 opens at 106 and reaches 109, so the model fills at 108; it got 107.9.
        { type: 'intent', seq: 2, clientOrderId: cid(2), time: D0 + 2 * DAY, strategy: 'hand', symbol: 'HW', side: 'sell', qty: 4, kind: 'limit', price: 108, role: 'exit', acked: true },
        { type: 'fill', clientOrderId: cid(2), tradeId: 't2', qty: 4, price: 107.9, fee: 0.4316, time: D0 + 2 * DAY },
        // A stop never reached, cancelled.
        { type: 'intent', seq: 3, clientOrderId: cid(3), time: D0 + 3 * DAY, strategy: 'hand', symbol: 'HW', side: 'sell', qty: 6, kind: 'stop', price: 90, role: 'exit', acked: true },
        { type: 'cancel', clientOrderId: cid(3), time: D0 + 4 * DAY, reason: 'stopped' },
      ],
      alerts: [
        { time: isoTime(D0 + 2 * DAY), text: 'HW buy 3 refused: <max orders>' },
        { time: isoTime(D0 + 3 * DAY), text: 'halted: max daily loss' },
      ],
    })
  }, 60_000)

  it('slippage per fill against the fill model, in bps against the trader', async () => {
    const s = await deploymentSnapshot(home, 'hand', { replay: false })
    expect(s.fills.map((f) => [f.reference, f.expected])).toEqual([
      [100, expect.closeTo(100.1, 12)],
      [108, 108],
    ])
    // (100.3 − 100.1) / 100.1 × 10⁴ = 19.98002 bps worse for the buyer; (108 − 107.9) / 108 × 10⁴ = 9.259259 bps worse for the seller.
    expect(s.fills[0]!.slippageBps).toBeCloseTo(19.980019980, 6)
    expect(s.fills[1]!.slippageBps).toBeCloseTo(9.259259259, 6)
    expect(s.slippage.meanBps).toBeCloseTo((19.980019980 + 9.259259259) / 2, 6)
    expect(s.slippage.worstBps).toBeCloseTo(19.980019980, 6)
  })

  it('positions, P&L, equity per bar, exposure and drawdown', async () => {
    const s = await deploymentSnapshot(home, 'hand', { replay: false })
    expect(s.startingCash).toBe(5000) // 10,000 × 0.5
    // 6 left at 100.3; 4 sold at 107.9 realised 4 × 7.6 = 30.4; marked at day 4's close 105: 6 × 4.7 = 28.2.
    expect(s.positions).toHaveLength(1)
    const p = s.positions[0]!
    expect([p.symbol, p.qty, p.mark]).toEqual(['HW', 6, 105])
    expect(p.avgPrice).toBeCloseTo(100.3, 12)
    expect(p.realized).toBeCloseTo(30.4, 9)
    expect(p.unrealized).toBeCloseTo(28.2, 9)
    expect(s.pnl.fees).toBeCloseTo(1.4346, 12)
    expect(s.pnl.total).toBeCloseTo(30.4 + 28.2 - 1.4346, 9)
    // Day 1: nothing filled yet. Day 2: 5000 − 1003 − 1.003 + 10 × 102. Day 3: + 431.6 − 0.4316, 6 × 107. Day 4: 6 × 105.
    expect([...s.time]).toEqual([0, 1, 2, 3].map((k) => D0 + k * DAY))
    const cash3 = 5000 - 1003 - 1.003 + 431.6 - 0.4316
    const expected = [5000, 5000 - 1003 - 1.003 + 1020, cash3 + 642, cash3 + 630]
    expected.forEach((e, k) => expect(s.equity[k]).toBeCloseTo(e, 9))
    expect(s.exposure.gross).toBeCloseTo(630, 12)
    expect(s.exposure.net).toBeCloseTo(630, 12)
    expect(s.exposure.grossPct).toBeCloseTo(630 / (cash3 + 630), 12)
    expect(s.drawdown).toBeCloseTo((cash3 + 642 - (cash3 + 630)) / (cash3 + 642), 12)
  })

  it('started again and no bar seen yet (its status has no last bar): marked at the journal\'s last stepped bar, totals as before (an operations review: NaN)', async () => {
    const from = join(home, 'deployments', 'hand')
    const config = JSON.parse(readFileSync(join(from, 'config.json'), 'utf8')) as Record<string, unknown>
    const journal = readFileSync(join(from, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    // Day 4's bar (opening D0 + 3 days) closes at D0 + 4 days: the watermark of the last step.
    journal.push({ type: 'mark', watermark: D0 + 4 * DAY, time: D0 + 4 * DAY })
    const { lastBar: _none, ...restarted } = status('again', { state: 'running' })
    // A workspace of its own (the others list this one's deployments).
    const own = tempHome()
    await ingestBars(own, HW, { source: 'binance' })
    writeDeployment(own, 'again', { config: { ...config, name: 'again' }, status: restarted, journal })
    const s = await deploymentSnapshot(own, 'again', { replay: false })
    const p = s.positions[0]!
    expect([p.symbol, p.qty, p.mark]).toEqual(['HW', 6, 105])
    expect(p.unrealized).toBeCloseTo(28.2, 9)
    expect(s.pnl.total).toBeCloseTo(30.4 + 28.2 - 1.4346, 9)
    expect([...s.time]).toEqual([0, 1, 2, 3].map((k) => D0 + k * DAY))
    expect(s.notes).not.toContain('no bar stepped yet: no equity, marks or replay')
    // Before any bar (no mark in the journal either): no drawdown to show (NaN, "—"), as the drawdown monitor says no-data — not 0 %.
    writeDeployment(own, 'fresh', { config: { ...config, name: 'fresh' }, status: restarted, journal: [] })
    expect((await deploymentSnapshot(own, 'fresh', { replay: false })).drawdown).toBeNaN()
  })

  it('orders by state, the latest first; alerts, the latest first; no replay without the pinned strategy', async () => {
    const cache = new ReplayCache()
    const s = await deploymentSnapshot(home, 'hand', { latest: 2, cache })
    expect(s.orders.counts).toMatchObject({ FILLED: 2, CANCELLED: 1, ACKED: 0 })
    expect(s.orders.total).toBe(3)
    expect(s.orders.latest.map((o) => [o.seq, o.state, o.reason])).toEqual([
      [3, 'CANCELLED', 'stopped'],
      [2, 'FILLED', undefined],
    ])
    expect(s.alerts.map((a) => a.text)).toEqual(['halted: max daily loss', 'HW buy 3 refused: <max orders>'])
    expect(s.alertCount).toBe(2)
    expect(s.replay).toBeUndefined()
    expect(s.replayError).toMatch(/replay of hand@1 failed: no strategy named "hand" in the registry/)
    // A failed replay is not cached: tried again (its strategy may be registered meanwhile).
    await deploymentSnapshot(home, 'hand', { cache })
    expect(cache.runs).toBe(2)
  })

  it('a deployment on live bars marks at its exchange\'s lake source, not another\'s', async () => {
    const other = tempHome()
    cpSync(join(home, 'deployments'), join(other, 'deployments'), { recursive: true })
    const file = join(other, 'deployments', 'hand', 'config.json')
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), feed: { kind: 'poll' } }))
    await ingestBars(other, HW, { source: 'binance' })
    const up = (a: Float64Array) => a.map((x) => x + 50)
    await ingestBars(other, { ...HW, open: up(HW.open), high: up(HW.high), low: up(HW.low), close: up(HW.close) }, { source: 'kraken' })
    const s = await deploymentSnapshot(other, 'hand', { replay: false })
    expect(s.positions[0]!.mark).toBe(105)
    expect(s.fills[0]!.reference).toBe(100)
    expect(s.equity[3]).toBeCloseTo(5000 - 1003 - 1.003 + 431.6 - 0.4316 + 630, 9)
  })

  it('a damaged status, config or journal is named', async () => {
    const other = tempHome()
    await ingestBars(other, HW, { source: 'binance' })
    const cases: [string, string, RegExp][] = [
      ['status.json', '{"state": "runn', /deployment hand: status\.json is not valid JSON/],
      ['status.json', 'null', /deployment hand: status\.json is not valid JSON/],
      ['status.json', '[]', /deployment hand: status\.json is not a deployment status/],
      ['config.json', '{"name": "hand"}', /deployment hand: config\.json is not a deployment config \(deployment hand \(config\.json\): strategy must be/],
      ['journal.jsonl', `${JSON.stringify({ type: 'fill', clientOrderId: 'mtx1', tradeId: 't', qty: 1, price: 1, fee: 0, time: D0 })}\n`, /deployment hand: journal\.jsonl cannot be read \(journal\.jsonl: fill for "mtx1", which the journal never sent\)/],
    ]
    for (const [file, text, message] of cases) {
      rmSync(join(other, 'deployments'), { recursive: true, force: true })
      cpSync(join(home, 'deployments'), join(other, 'deployments'), { recursive: true })
      writeFileSync(join(other, 'deployments', 'hand', file), text)
      const error = await deploymentSnapshot(other, 'hand', { replay: false }).catch((e: unknown) => e)
      expect(error, file).toBeInstanceOf(CorruptFileError)
      expect((error as Error).message, file).toMatch(message)
      // The combined view still shows the others, and this one's row says why.
      const p = await portfolioSnapshot(other, { replay: false })
      expect(p.rows.map((r) => [r.name, r.error])).toEqual([['hand', (error as Error).message]])
    }
  })

  it('names outside the workspace listing are refused', async () => {
    expect(deploymentNames(home)).toEqual(['hand'])
    for (const bad of ['..', '../hand', 'hand/..', 'nope', '', 'hand\u0000']) await expect(deploymentSnapshot(home, bad)).rejects.toThrow(/no deployment named/)
  })
})

describe('a real paper replay deployment', () => {
  let home: string
  let bars: Bars
  let expected: BacktestResult
  const FILLS = { takerRate: 0.001, slippageBps: 2 }

  beforeAll(async () => {
    home = tempHome()
    const gbm = syntheticGbm({ symbol: 'BTC/USDT', timeframe: '1h', bars: 1200, seed: 21, start: H0, volatility: 0.5 })
    await ingestBars(home, { ...gbm, symbol: 'BTC/USDT' }, { source: 'binance' })
    bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1h' })
    // The pinned version is the built-in's source, registered as `mtflow strategy register sma-cross` does.
    const src = strategySource(getStrategy('sma-cross'))
    const { version } = new Registry(home).register('strategies', 'sma-cross', { files: { 'source.ts': src.source }, params: {}, runs: [], source: 'builtin:sma-cross' })
    const config = validateDeploymentConfig({
      name: 'sma-paper',
      strategy: { name: 'sma-cross', version: version.version, sha256: version.sha256 },
      params: { fast: 10, slow: 30 },
      symbols: ['BTC/USDT'],
      timeframe: '1h',
      mode: 'paper',
      venue: { exchange: 'binance' },
      cash: 50_000,
      weight: 0.4,
      fills: FILLS,
      feed: { kind: 'replay' },
    })
    await runDeployment({ home, config, strategy: getStrategy('sma-cross'), track: false })
    // The reference, outside the dashboard: the backtest on the same bars with cash × weight.
    expected = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['BTC/USDT'], timeframe: '1h', data: { 'BTC/USDT': bars }, cash: 20_000, fills: FILLS })
    // A copy whose first buy filled 1 % worse than it did.
    const dir = join(home, 'deployments', 'sma-paper')
    const copy = join(home, 'deployments', 'sma-altered')
    cpSync(dir, copy, { recursive: true })
    rmSync(join(copy, 'run.pid'), { force: true })
    const lines = readFileSync(join(copy, 'journal.jsonl'), 'utf8').split('\n')
    const intents = new Map<string, string>()
    let altered = false
    const out = lines.map((l) => {
      if (!l.startsWith('{')) return l
      const e = JSON.parse(l) as Record<string, unknown>
      if (e.type === 'intent') intents.set(e.clientOrderId as string, e.side as string)
      if (!altered && e.type === 'fill' && intents.get(e.clientOrderId as string) === 'buy') {
        altered = true
        return JSON.stringify({ ...e, price: (e.price as number) * 1.01 })
      }
      return l
    })
    writeFileSync(join(copy, 'journal.jsonl'), out.join('\n'))
    const st = JSON.parse(readFileSync(join(copy, 'status.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(join(copy, 'status.json'), JSON.stringify({ ...st, name: 'sma-altered' }))
  }, 120_000)

  it("its equity is the backtest's, its replay tracks it to ~0, and every fill is the model's", async () => {
    const cache = new ReplayCache()
    const s = await deploymentSnapshot(home, 'sma-paper', { cache })
    expect(s.status.state).toBe('finished')
    const f = expected.strategies[0]!.fills
    expect(f.qty.length).toBeGreaterThan(10)
    expect(s.fills).toHaveLength(f.qty.length)
    expect([...s.time]).toEqual([...expected.time])
    for (let i = 0; i < expected.equity.length; i++) expect(Math.abs(s.equity[i]! - expected.equity[i]!)).toBeLessThan(1e-6)
    expect(s.pnl.total + s.startingCash).toBeCloseTo(expected.metrics.endEquity, 6)
    expect(s.replay).toBeDefined()
    expect(s.replay!.trackingError).toBeLessThan(1e-9)
    expect(Math.abs(s.replay!.finalDifference)).toBeLessThan(1e-6)
    expect(s.replay!.replayTrades).toBe(expected.strategies[0]!.trades.pnl.length)
    for (const x of s.fills) expect(Math.abs(x.slippageBps)).toBeLessThan(1e-6)
    // The model's slippage is in `expected`: a buy's expected price is 2 bps over the open it filled at.
    const buy = s.fills.find((x) => x.side === 'buy')!
    expect(buy.expected).toBeCloseTo(buy.reference * 1.0002, 9)
    // The same window again: served from the cache.
    await deploymentSnapshot(home, 'sma-paper', { cache })
    expect(cache.runs).toBe(1)
  })

  it('a fill 1 % worse shows 100 bps of slippage and the tracking error computed here', async () => {
    const s = await deploymentSnapshot(home, 'sma-altered', { cache: new ReplayCache() })
    const f = expected.strategies[0]!.fills
    const k = [...f.side.keys()].find((i) => f.side[i] === 'buy')!
    const qty = f.qty[k]!
    const price = f.price[k]!
    const worse = s.fills.filter((x) => Math.abs(x.slippageBps) > 1e-6)
    expect(worse).toHaveLength(1)
    expect(worse[0]!.slippageBps).toBeCloseTo(100, 6)
    // From its bar on, the altered deployment holds the same position and has paid qty × 1 % × price more.
    const lost = qty * price * 0.01
    const shifted = Float64Array.from(expected.equity, (e, i) => (expected.time[i]! >= f.time[k]! ? e - lost : e))
    const n = shifted.length
    const diff: number[] = []
    for (let i = 1; i < n; i++) diff.push(shifted[i]! / shifted[i - 1]! - expected.equity[i]! / expected.equity[i - 1]!)
    const mean = diff.reduce((a, x) => a + x, 0) / diff.length
    const sd = Math.sqrt(diff.reduce((a, x) => a + (x - mean) ** 2, 0) / (diff.length - 1))
    const years = (expected.time[n - 1]! - expected.time[0]!) / (365.25 * DAY)
    const te = sd * Math.sqrt((n - 1) / years)
    expect(te).toBeGreaterThan(1e-4)
    expect(s.replay!.trackingError).toBeCloseTo(te, 9)
    expect(s.replay!.finalDifference).toBeCloseTo(-lost, 6)
  })

  it('combined: both deployments summed', async () => {
    const p = await portfolioSnapshot(home, { cache: new ReplayCache() })
    expect(p.rows.map((r) => [r.name, r.state])).toEqual([
      ['sma-altered', 'finished'],
      ['sma-paper', 'finished'],
    ])
    expect(p.active).toBe(false)
    const [a, b] = p.deployments
    expect(p.totals.equity).toBeCloseTo(a!.startingCash + a!.pnl.total + b!.startingCash + b!.pnl.total, 9)
    expect(p.totals.startingCash).toBe(40_000)
    // The unaltered one ends at the backtest's equity, the altered one below it by what its worse fill cost.
    const f = expected.strategies[0]!.fills
    const k = [...f.side.keys()].find((i) => f.side[i] === 'buy')!
    expect(p.equity[p.equity.length - 1]).toBeCloseTo(2 * expected.metrics.endEquity - f.qty[k]! * f.price[k]! * 0.01, 6)
    expect(p.totals.pnl).toBeCloseTo(2 * (expected.metrics.endEquity - 20_000) - f.qty[k]! * f.price[k]! * 0.01, 6)
    const held = a!.positions.reduce((x, q) => x + q.notional, 0) + b!.positions.reduce((x, q) => x + q.notional, 0)
    expect(p.perSymbol.reduce((x, q) => x + q.notional, 0)).toBeCloseTo(held, 9)
    expect(p.rows.every((r) => r.trackingError === r.trackingError)).toBe(true)
  })

  it('the portfolio dashboard: a static snapshot of both (no refresh), each with its section', async () => {
    const context = { home, tracker: new Tracker(home), registry: new Registry(home), params: {}, now: Date.UTC(2025, 0, 1) }
    const rendered = await portfolioDashboard.render(context)
    const html = dashboardDocument(portfolioDashboard, rendered, context)
    expect(html).not.toContain('http-equiv="refresh"')
    expect(html).not.toMatch(/refreshes every|does not refresh/i)
    expect(html).toContain('<h1>Deployment sma-altered</h1>')
    expect(html).toContain('<h1>Deployment sma-paper</h1>')
    expect(html).toContain('href="/deployments/sma-paper"')
    expect(rendered.runs).toEqual([]) // run without tracking
  })
})
