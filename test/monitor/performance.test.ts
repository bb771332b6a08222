// Performance monitors (lib/monitor/performance.ts): a predictions log and labels written here by hand,
// matched by request and row or by key and time, and scored per version, role and day (RMSE, directional
// accuracy, accuracy, ROC AUC, moving averages) with every number worked out below; deployments' Sharpe,
// drawdown and tracking error on a hand-made equity curve and on a hand-made deployment folder.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, isoTime } from '../../lib/core/index.js'
import { ingestBars, type Bars } from '../../lib/data/index.js'
import { validateDeploymentConfig } from '../../lib/live/index.js'
import { deploymentPerformance, equityPerformance, matchLabels, modelPerformance, performanceWindows, readPredictions, type MatchedRow } from '../../lib/monitor/index.js'

const DAY = 86_400_000
const D0 = Date.UTC(2025, 0, 6)
const homes: string[] = []
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true })
})
function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-monitor-perf-'))
  homes.push(home)
  return home
}
function writeLines(file: string, lines: (Record<string, unknown> | string)[]): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n')
}
const day = (t: number) => new Date(t).toISOString().slice(0, 10)
const pred = (time: number, requestId: string, row: number | Record<string, number>, prediction: number, extra: Record<string, unknown> = {}) => ({ time, requestId, model: 'ret', version: 1, role: 'champion', row, prediction, ...extra })

describe('a regressor served for four days', () => {
  let home: string
  beforeAll(() => {
    home = tempHome()
    const dir = join(home, 'monitor', 'predictions', 'ret')
    // Day 0: request r1 has two rows given by index; r2 two rows given as features (indexes 0, 1 by order).
    // The shadow (version 2) scored r1 too. One line is torn, one lacks a prediction.
    writeLines(join(dir, `${day(D0)}.jsonl`), [
      pred(D0 + 1000, 'r1', 0, 0.02),
      pred(D0 + 1000, 'r1', 1, -0.01),
      pred(D0 + 1000, 'r1', 0, 0.05, { version: 2, role: 'shadow' }),
      pred(D0 + 1000, 'r1', 1, 0.01, { version: 2, role: 'shadow' }),
      pred(D0 + 2000, 'r2', { x: 1 }, 0.03),
      pred(D0 + 2000, 'r2', { x: 2 }, -0.02),
      '{"time": 1, "requestId": "torn',
      { time: D0 + 3000, requestId: 'r9', model: 'ret', version: 1, role: 'champion', row: 0 },
    ])
    // Day 1: one row; day 3: two rows (day 2 has no predictions).
    writeLines(join(dir, `${day(D0 + DAY)}.jsonl`), [pred(D0 + DAY + 5, 'r3', 0, 0.01)])
    writeLines(join(dir, `${day(D0 + 3 * DAY)}.jsonl`), [pred(D0 + 3 * DAY + 5, 'r4', 0, 0.04), pred(D0 + 3 * DAY + 5, 'r4', 1, -0.04)])
    // Labels: by request and row; r2's second row and r4 by request; r3 unlabelled.
    writeLines(join(home, 'monitor', 'labels', 'ret', 'a.jsonl'), [
      { requestId: 'r1', row: 0, label: 0.01, time: D0 + DAY },
      { requestId: 'r1', row: 1, label: 0.01, time: D0 + DAY },
      { requestId: 'r2', row: 0, label: 0.05, time: D0 + DAY },
      { requestId: 'r2', row: 1, label: -0.01, time: D0 + DAY },
      'not json',
      { requestId: 5, key: 'BTC', label: 1, time: D0 },
    ])
    writeLines(join(home, 'monitor', 'labels', 'ret', 'b.jsonl'), [
      { requestId: 'r4', row: 0, label: 0.02, time: D0 + 4 * DAY },
      { requestId: 'r4', row: 1, label: 0.01, time: D0 + 4 * DAY },
    ])
  })

  it('reads the log, indexing rows logged as features by their order, and counts what it skips', () => {
    const { rows, skipped } = readPredictions(home, 'ret')
    expect(skipped).toBe(2)
    expect(rows.filter((r) => r.requestId === 'r2').map((r) => [r.index, r.features])).toEqual([
      [0, { x: 1 }],
      [1, { x: 2 }],
    ])
    expect(readPredictions(home, 'ret', { since: D0 + DAY, until: D0 + 3 * DAY }).rows.map((r) => r.requestId)).toEqual(['r3'])
    expect(new Set(readPredictions(home, 'ret', { until: D0 + 1500 }).rows.map((r) => r.requestId))).toEqual(new Set(['r1']))
  })

  it('RMSE, directional accuracy and the 3-day moving average per version and role, by hand', () => {
    const perf = modelPerformance(home, 'ret')
    expect(perf).toMatchObject({ task: 'regression', predictions: 9, labels: 6, matched: 8, skippedLines: 4 })
    const champion = perf.windows.filter((w) => w.version === 1)
    expect(champion.map((w) => [w.start, w.count])).toEqual([
      [D0, 4],
      [D0 + 3 * DAY, 2],
    ])
    // Day 0: errors 0.01, −0.02, −0.02, −0.01 → RMSE √(0.001/4); directions: + vs +, − vs +, + vs +, − vs − → 3/4.
    const rmse0 = Math.sqrt((0.01 ** 2 + 0.02 ** 2 + 0.02 ** 2 + 0.01 ** 2) / 4)
    expect(champion[0]!.rmse).toBeCloseTo(rmse0, 15)
    expect(champion[0]!.directionalAccuracy).toBe(0.75)
    // Day 3: errors 0.02, −0.05 → √(0.0029/2); directions + vs +, − vs + → 1/2.
    const rmse3 = Math.sqrt((0.02 ** 2 + 0.05 ** 2) / 2)
    expect(champion[1]!.rmse).toBeCloseTo(rmse3, 15)
    expect(champion[1]!.directionalAccuracy).toBe(0.5)
    // Day 3's 3-day average covers days 1–3: only day 3 has labels. Day 0's covers itself.
    expect(champion[1]!.ma.rmse).toBeCloseTo(rmse3, 15)
    expect(champion[0]!.ma.directionalAccuracy).toBe(0.75)
    // The shadow's own window: errors 0.04, 0 → √(0.0016/2).
    const shadow = perf.windows.filter((w) => w.role === 'shadow')
    expect(shadow).toHaveLength(1)
    expect(shadow[0]!.rmse).toBeCloseTo(Math.sqrt(0.0016 / 2), 15)
    expect(modelPerformance(home, 'ret', { version: 2 }).windows).toHaveLength(1)
  })

  it('moving averages skip windows without data: days 0 and 2 averaged at day 2 over 3 windows', () => {
    const row = (t: number, p: number, y: number): MatchedRow => ({ time: t, requestId: String(t), version: 1, role: 'champion', index: 0, prediction: p, label: y })
    // Daily RMSE: day 0 |1 − 0| = 1; day 2 |3 − 0| = 3; day 3 |2 − 0| = 2.
    const w = performanceWindows([row(D0, 1, 0), row(D0 + 2 * DAY, 3, 0), row(D0 + 3 * DAY, 2, 0)], { maWindows: 3 })
    expect(w.map((x) => x.ma.rmse)).toEqual([1, 2, 2.5])
    // A challenger of the same version on day 0 is a window of its own.
    const both = performanceWindows([row(D0, 1, 0), { ...row(D0 + 5, 4, 0), role: 'challenger' }])
    expect(both.map((x) => [x.role, x.rmse])).toEqual([
      ['challenger', 4],
      ['champion', 1],
    ])
    expect(() => performanceWindows([], { maWindows: 0 })).toThrow(ConfigError)
  })

  it('a model name that could leave the folder is refused', () => {
    expect(() => readPredictions(home, '../x')).toThrow(ConfigError)
  })
})

describe('labels matched by key and time; a classifier', () => {
  it('each key label goes to the nearest prediction per version and role within the tolerance', () => {
    const p = (time: number, version: number, role: string, prediction: number) => ({ time, requestId: `q${time}${role}`, version, role, index: 0, key: 'BTC/USDT', prediction })
    const predictions = [p(D0, 1, 'champion', 0.1), p(D0 + 30_000, 1, 'champion', 0.2), p(D0 + 40_000, 2, 'shadow', 0.3), p(D0 + 200_000, 1, 'champion', 0.4)]
    // The last label is 300 s from the nearest prediction: no match.
    const labels = [{ key: 'BTC/USDT', time: D0 + 10_000, label: 1 }, { key: 'ETH/USDT', time: D0, label: 5 }, { key: 'BTC/USDT', time: D0 + 500_000, label: 0 }]
    const m = matchLabels(predictions, labels)
    // Champion: D0 (10 s away) beats D0 + 30 s (20 s away); the shadow's only one is 30 s away; D0 + 200 s is out of the 60 s tolerance.
    expect(m.map((x) => [x.time, x.role, x.label])).toEqual([
      [D0, 'champion', 1],
      [D0 + 40_000, 'shadow', 1],
    ])
    expect(matchLabels(predictions, labels, { toleranceMs: 5000 })).toEqual([])
  })

  it('one to one: a prediction between two labels goes to the nearer, never to both; each label to its own', () => {
    // Predictions at k·60 s + 30 s, labels at k·60 s: each prediction 30 s from two labels (ties go to the earlier label).
    const p = (k: number) => ({ time: D0 + k * 60_000 + 30_000, requestId: `r${k}`, version: 1, role: 'champion', index: 0, key: 'BTC', prediction: k })
    const predictions = [p(0), p(1), p(2)]
    const labels = [0, 1, 2, 3].map((k) => ({ key: 'BTC', time: D0 + k * 60_000, label: 100 + k }))
    const m = matchLabels(predictions, labels)
    expect(m.map((x) => [x.requestId, x.label])).toEqual([['r0', 100], ['r1', 101], ['r2', 102]])
  })

  it('accuracy and ROC AUC of a classifier, by hand', () => {
    const home = tempHome()
    const rows = [
      [0.9, 1, 1],
      [0.8, 1, 0],
      [0.3, 0, 1],
      [0.1, 0, 0],
    ]
    writeLines(
      join(home, 'monitor', 'predictions', 'clf', `${day(D0)}.jsonl`),
      rows.map(([prob, cls], i) => ({ time: D0 + i, requestId: `c${i}`, model: 'clf', version: 3, role: 'champion', row: 0, prediction: cls, probability: prob })),
    )
    writeLines(
      join(home, 'monitor', 'labels', 'clf', 'l.jsonl'),
      rows.map(([, , y], i) => ({ requestId: `c${i}`, label: y, time: D0 + DAY })),
    )
    const perf = modelPerformance(home, 'clf')
    expect(perf.task).toBe('classification')
    // Positives score 0.9 and 0.3, negatives 0.8 and 0.1: 3 of the 4 pairs ordered right. Classes right: rows 0 and 3.
    expect(perf.windows[0]).toMatchObject({ version: 3, count: 4, auc: 0.75, accuracy: 0.5, directionalAccuracy: 0.5 })
  })
})

describe('deployments', () => {
  it('Sharpe, drawdown and tracking error of an equity curve, by hand', () => {
    // Four points a year apart in thirds: returns +10 %, −10 %, +10 % (mean 1/30, sample sd √(0.04/3)),
    // 3 periods a year: Sharpe (1/30)/√(0.04/3)·√3 = 0.5. Peak 110 → 99: drawdown 0.1. Against a flat replay
    // the return differences are the returns: tracking error √(0.04/3)·√3 = 0.2.
    const year = 365.25 * DAY
    const t = [0, year / 3, (2 * year) / 3, year]
    const p = equityPerformance(t, [100, 110, 99, 108.9], [100, 100, 100, 100])
    expect(p.sharpe).toBeCloseTo(0.5, 12)
    expect(p.drawdown).toBeCloseTo(0.1, 12)
    expect(p.trackingError).toBeCloseTo(0.2, 12)
    expect(equityPerformance([0, 1], [100, 90]).sharpe).toBeNaN()
    // Fewer than two points: no drawdown to measure (not 0, which read as "no drawdown": an operations review).
    expect(equityPerformance([], []).drawdown).toBeNaN()
    expect(equityPerformance([0], [100]).drawdown).toBeNaN()
    expect(equityPerformance([0, 1], [100, 90]).drawdown).toBeCloseTo(0.1, 12)
  })

  it("a hand-made deployment's live performance from its journal and the lake", async () => {
    const home = tempHome()
    const rows = [
      [98, 99, 97, 98.5],
      [100, 103, 99, 102],
      [106, 109, 105, 107],
      [107, 108, 104, 105],
    ]
    const col = (k: number) => Float64Array.from(rows, (r) => r[k]!)
    const HW: Bars = { symbol: 'HW', timeframe: '1d', time: Float64Array.from(rows, (_, i) => D0 + i * DAY), open: col(0), high: col(1), low: col(2), close: col(3), volume: Float64Array.from(rows, () => 1000) }
    await ingestBars(home, HW, { source: 'binance' })
    const dir = join(home, 'deployments', 'hand')
    mkdirSync(dir, { recursive: true })
    const config = { name: 'hand', strategy: { name: 'hand', version: 1, sha256: 'b'.repeat(64) }, symbols: ['HW'], timeframe: '1d', mode: 'paper', venue: { exchange: 'binance' }, cash: 10_000, weight: 0.5, fills: { slippageBps: 10, takerRate: 0.001 }, feed: { kind: 'replay' } }
    writeFileSync(join(dir, 'config.json'), JSON.stringify(validateDeploymentConfig(config)))
    writeFileSync(join(dir, 'status.json'), JSON.stringify({ name: 'hand', state: 'stopped', pid: 1, mode: 'paper', exchange: 'binance', strategy: 'hand@1', symbols: ['HW'], timeframe: '1d', startedAt: isoTime(D0), updatedAt: isoTime(D0 + 4 * DAY), lastBar: isoTime(D0 + 4 * DAY), bars: 4, equity: 0, cash: 0, positions: [], openOrders: [], trades: [], tradeCount: 0, fills: 2, journal: 'journal.jsonl' }))
    writeLines(join(dir, 'journal.jsonl'), [
      { type: 'intent', seq: 1, clientOrderId: 'mthand1', time: D0 + DAY, strategy: 'hand', symbol: 'HW', side: 'buy', qty: 10, kind: 'market', role: 'entry', acked: true },
      { type: 'fill', clientOrderId: 'mthand1', tradeId: 't1', qty: 10, price: 100.3, fee: 1.003, time: D0 + DAY },
      { type: 'intent', seq: 2, clientOrderId: 'mthand2', time: D0 + 2 * DAY, strategy: 'hand', symbol: 'HW', side: 'sell', qty: 4, kind: 'limit', price: 108, role: 'exit', acked: true },
      { type: 'fill', clientOrderId: 'mthand2', tradeId: 't2', qty: 4, price: 107.9, fee: 0.4316, time: D0 + 2 * DAY },
    ])
    const p = await deploymentPerformance(home, 'hand', { replay: false })
    // The status's lastBar is the last bar's close (D0 + 4 days): bars D0 … D0 + 3 days were stepped.
    // Equity by hand: 5,000 cash; day 1 bought 10 at 100.3 (fee 1.003), marked at 102; day 2 sold 4 at 107.9
    // (fee 0.4316), 6 marked at 107; day 3 marked at 105.
    const cash = 5000 - 1003 - 1.003 + 431.6 - 0.4316
    const equity = [5000, 5000 - 1003 - 1.003 + 1020, cash + 642, cash + 630]
    const r = equity.slice(1).map((e, i) => e / equity[i]! - 1)
    const mean = r.reduce((a, b) => a + b, 0) / 3
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / 2)
    // 3 steps over 3 days: 365.25 periods a year.
    expect(p.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(365.25), 9)
    expect(p.drawdown).toBeCloseTo((cash + 642 - (cash + 630)) / (cash + 642), 12)
    expect(p.trackingError).toBeUndefined()
    expect(p.points).toBe(4)
  }, 60_000)
})
