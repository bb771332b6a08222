// Audit of lib/monitor/rules.ts: thresholds at their edge, the breach edge across evaluations that measured
// nothing, and a drift monitor whose reference shares no column with the model. Expected numbers come from
// the documented rule and a pandas computation (in the comments), not from the code under test.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { DecisionTreeRegressor, packageModel, registerPackage } from '../../lib/ml/index.js'
import { equityPerformance, evaluateMonitors, type EquityPerformance } from '../../lib/monitor/index.js'
import { Registry } from '../../lib/track/index.js'

const DAY = 86_400_000
const D0 = Date.UTC(2025, 2, 1)
const homes: string[] = []
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true })
})

function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-audit-rules-'))
  homes.push(home)
  const rng = seededRandom(4)
  const rows = 200
  const X = new Float64Array(rows * 3)
  const y: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 3; c++) X[r * 3 + c] = rng.normal()
    y.push(0.01 * X[r * 3]! + 0.001 * rng.normal())
  }
  const data = { X, rows, columns: ['z', 'mom', 'vol'], y }
  registerPackage(new Registry(home), 'ret', packageModel(new DecisionTreeRegressor({ maxDepth: 3 }).fit(data), { data, metrics: { rmse: 0.02 } }), { alias: 'champion' })
  return home
}

function writeMonitors(home: string, monitors: unknown[]): void {
  mkdirSync(join(home, 'monitor'), { recursive: true })
  writeFileSync(join(home, 'monitor', 'monitors.json'), JSON.stringify({ monitors }))
}

function append(file: string, records: unknown[]): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''), { flag: 'a' })
}

function day(home: string, d: number, pairs: [number, number][], features?: (i: number) => Record<string, number>): void {
  const t = D0 + d * DAY + 3_600_000
  const date = new Date(t).toISOString().slice(0, 10)
  append(join(home, 'monitor', 'predictions', 'ret', `${date}.jsonl`), pairs.map(([p], i) => ({ time: t + i, requestId: `d${d}-${i}`, model: 'ret', version: 1, role: 'champion', row: features?.(i) ?? 0, prediction: p })))
  append(join(home, 'monitor', 'labels', 'ret', 'labels.jsonl'), pairs.map(([, y], i) => ({ requestId: `d${d}-${i}`, row: 0, label: y, time: t + 60_000 })))
}

describe('audit: rmseRise at exactly its threshold', () => {
  it('a 3-day RMSE of exactly 1.2 × the reference RMSE breaches "rise": 0.2 (documented: MA ≥ 1.2 × reference)', async () => {
    const home = workspace()
    // Reference days 0–6: error 0.5 each (RMSE 0.5 exactly); days 7–9: error 0.6 (RMSE 0.6 exactly).
    for (let d = 0; d <= 6; d++) day(home, d, [[0.5, 0], [-0.5, 0]])
    for (let d = 7; d <= 9; d++) day(home, d, [[0.6, 0], [-0.6, 0]])
    writeMonitors(home, [{ name: 'rise', kind: 'rmseRise', target: 'ret@champion', rise: 0.2, trigger: ['retrain-ret'], alert: true }])
    // pandas: cur = pd.Series([0.6]*3).mean(); ref = pd.Series([0.5]*7).mean(); cur >= (1 + 0.2) * ref → True
    const e = await evaluateMonitors(home, { now: D0 + 9 * DAY + 12 * 3_600_000 })
    expect(e.results[0]).toMatchObject({ breached: true, status: 'breached', fired: ['retrain-ret'], alerted: true })
    expect(e.results[0]!.value).toBeCloseTo(0.2, 12)
  })
})

describe('audit: the breach edge across an evaluation with no data', () => {
  it('a drawdown breach, the deployment restarted (no equity yet: no-data), the same breach: fires once', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-audit-edge-'))
    homes.push(home)
    writeMonitors(home, [{ name: 'dd', kind: 'drawdown', target: 'paper', max: 0.1, trigger: ['rollback-job'], alert: true }])
    let restarted = false
    const deployment = async (): Promise<EquityPerformance> => (restarted ? equityPerformance([], []) : { sharpe: 0.8, drawdown: 0.12, points: 30 })
    const a = await evaluateMonitors(home, { now: D0, deployment })
    expect(a.firedTriggers).toEqual(['rollback-job'])
    restarted = true
    const b = await evaluateMonitors(home, { now: D0 + 3_600_000, deployment })
    expect(b.results[0]!.status).toBe('no-data')
    restarted = false
    // The drawdown never recovered below 0.1: the same breach, nothing fires again.
    const c = await evaluateMonitors(home, { now: D0 + 7_200_000, deployment })
    expect(c.results[0]!.breached).toBe(true)
    expect(c.firedTriggers).toEqual([])
    expect(c.alerts).toEqual([])
  })

  it('a directional-accuracy breach, a day without labels (no-data), still below its floor: fires once', async () => {
    const home = workspace()
    // Day 0: 1 of 4 directions right (0.25 < 0.5); day 1 nothing; day 2: 1 of 4 right.
    day(home, 0, [[0.01, -0.01], [0.01, -0.01], [0.01, 0.01], [-0.01, 0.01]])
    day(home, 2, [[0.01, -0.01], [0.01, -0.01], [0.01, 0.01], [-0.01, 0.01]])
    writeMonitors(home, [{ name: 'da', kind: 'directionalAccuracy', target: 'ret@champion', min: 0.5, maDays: 1, trigger: ['retrain-ret'], alert: true }])
    const a = await evaluateMonitors(home, { now: D0 + 12 * 3_600_000 })
    expect(a.results[0]).toMatchObject({ value: 0.25, breached: true, fired: ['retrain-ret'] })
    const b = await evaluateMonitors(home, { now: D0 + DAY + 12 * 3_600_000 })
    expect(b.results[0]!.status).toBe('no-data')
    const c = await evaluateMonitors(home, { now: D0 + 2 * DAY + 12 * 3_600_000 })
    expect(c.results[0]).toMatchObject({ value: 0.25, breached: true })
    expect(c.firedTriggers).toEqual([])
    expect(c.alerts).toEqual([])
  })
})

describe('audit: a drift monitor whose reference has none of the model inputs', () => {
  it('is an error naming the problem, not no-data', async () => {
    const home = workspace()
    // The reference's columns are named differently from the model's inputs (z, mom, vol).
    writeFileSync(join(home, 'ref.csv'), ['Z,Mom,Vol', ...Array.from({ length: 50 }, (_, i) => `${i},${i % 7},${i / 3}`)].join('\n'))
    day(home, 3, Array.from({ length: 50 }, () => [0.01, 0] as [number, number]), (i) => ({ z: i + 100, mom: i, vol: i }))
    writeMonitors(home, [{ name: 'inputs', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', trigger: ['retrain-ret'] }])
    const e = await evaluateMonitors(home, { now: D0 + 3 * DAY + 6 * 3_600_000 })
    expect(e.results[0]!.status).toBe('error')
    expect(e.results[0]!.error).toMatch(/z|mom|vol/)
  })
})

describe('audit: rmseRise against reference days of RMSE 0', () => {
  it('no rise can be measured: no-data, nothing fired (it fired an alert saying "is n/a" under status no-data)', async () => {
    const home = workspace()
    for (let d = 0; d <= 6; d++) day(home, d, [[0.01, 0.01]])
    for (let d = 7; d <= 9; d++) day(home, d, [[0.02, 0.01]])
    writeMonitors(home, [{ name: 'rise', kind: 'rmseRise', target: 'ret@champion', rise: 0.2, trigger: ['retrain-ret'], alert: true }])
    const e = await evaluateMonitors(home, { now: D0 + 9 * DAY + 12 * 3_600_000 })
    expect(e.results[0]).toMatchObject({ value: null, status: 'no-data', breached: false, fired: [] })
    expect(e.alerts).toEqual([])
  })
})
