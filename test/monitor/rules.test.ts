// Monitor rules (lib/monitor/rules.ts): monitors.json checked whole (one line naming the monitor and field;
// a column the registered model does not have), then evaluated on hand-written predictions logs and labels
// (RMSE rising against the reference days or the training RMSE, directional accuracy, input and prediction
// drift) and on deployments (an injected measurement), with the triggers and alerts fired on the edge and
// every evaluation appended to monitor/state.jsonl.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, seededRandom } from '../../lib/core/index.js'
import { DecisionTreeRegressor, packageModel, registerPackage } from '../../lib/ml/index.js'
import { checkMonitors, equityPerformance, evaluateMonitors, monitorHistory, monitorStateFile, monitorStatus, type EquityPerformance } from '../../lib/monitor/index.js'
import { Registry } from '../../lib/track/index.js'

const DAY = 86_400_000
const D0 = Date.UTC(2025, 2, 1)
const homes: string[] = []
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true })
})

function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-monitor-rules-'))
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

/** Predictions of ret@1 on day `d` (UTC days from D0) with the given (prediction, label) pairs, labelled by request. */
function day(home: string, d: number, pairs: [number, number][], features?: (i: number) => Record<string, number>): void {
  const t = D0 + d * DAY + 3_600_000
  const date = new Date(t).toISOString().slice(0, 10)
  append(
    join(home, 'monitor', 'predictions', 'ret', `${date}.jsonl`),
    pairs.map(([p], i) => ({ time: t + i, requestId: `d${d}-${i}`, model: 'ret', version: 1, role: 'champion', row: features?.(i) ?? 0, prediction: p })),
  )
  append(
    join(home, 'monitor', 'labels', 'ret', 'labels.jsonl'),
    pairs.map(([, y], i) => ({ requestId: `d${d}-${i}`, row: 0, label: y, time: t + 60_000 })),
  )
}

describe('the monitors file', () => {
  const ok = { name: 'm', kind: 'rmseRise', target: 'ret@champion', rise: 0.2 }
  it.each([
    [{ monitors: {} }, /must be an object with a "monitors" array/],
    [{ monitors: [{ ...ok, kind: 'latency' }] }, /monitor m: kind must be one of drift, rmseRise, directionalAccuracy, auc, drawdown, sharpe, trackingError \(received "latency"\)/],
    [{ monitors: [ok, ok] }, /two monitors are named m/],
    [{ monitors: [{ ...ok, rise: undefined }] }, /monitor m: a rmseRise monitor needs "rise"/],
    [{ monitors: [{ ...ok, target: 'ret' }] }, /monitor m: target must be a model as NAME@ALIAS/],
    [{ monitors: [{ name: 'm', kind: 'drawdown', max: 0.1, target: 'x@y' }] }, /monitor m: target must be a deployment name/],
    [{ monitors: [{ ...ok, maDay: 3 }] }, /monitor m: unknown field "maDay" for a rmseRise monitor/],
    [{ monitors: [{ ...ok, trigger: 'retrain' }] }, /monitor m: trigger must be a list of job names/],
    [{ monitors: [{ name: 'd', kind: 'drift', target: 'ret@champion', reference: 'r.csv', window: '3 days' }] }, /monitor d: window must be a duration such as 90m, 12h, 1d or 2w/],
    [{ monitors: [{ name: 'a', kind: 'directionalAccuracy', target: 'ret@champion', min: 55 }] }, /monitor a: min must be a number from 0 to 1 \(received 55\)/],
  ])('refuses %j', (raw, message) => {
    expect(() => checkMonitors(raw)).toThrow(ConfigError)
    expect(() => checkMonitors(raw)).toThrow(message)
  })

  it('a monitor on a column the model does not have: one ConfigError naming it, nothing evaluated or written', async () => {
    const home = workspace()
    writeMonitors(home, [
      { name: 'rise', kind: 'rmseRise', target: 'ret@champion', rise: 0.2 },
      { name: 'inputs', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', columns: ['z', 'spread'] },
    ])
    await expect(evaluateMonitors(home, { now: D0 })).rejects.toThrow(new ConfigError('monitor inputs: model ret@1 has no column "spread" (its inputs: z, mom, vol; and prediction, label)'))
    expect(existsSync(monitorStateFile(home))).toBe(false)
    writeMonitors(home, [{ name: 'gone', kind: 'auc', target: 'nope@champion', min: 0.5 }])
    await expect(evaluateMonitors(home, { now: D0 })).rejects.toThrow(/monitor gone: target nope@champion: no model named "nope"/)
  })
})

describe('model monitors', () => {
  let home: string
  beforeAll(() => {
    home = workspace()
    // Days 0–6 (the reference days before a 3-day window ending on day 9): errors ±0.01 → RMSE 0.01 each day.
    for (let d = 0; d <= 6; d++) day(home, d, [[0.02, 0.01], [-0.01, 0], [0.03, 0.04], [0.01, 0.02]])
    // Days 7–9: errors ±0.013 → RMSE 0.013. Directions: day 7 3 of 4 right, day 8 1 of 4, day 9 2 of 4.
    day(home, 7, [[0.013, 0.026], [0.013, 0.026], [-0.013, -0.026], [0.013, -0.0001]])
    day(home, 8, [[0.013, -0.0001], [0.013, -0.0001], [-0.013, 0.0001], [0.013, 0.026]])
    day(home, 9, [[0.013, 0.026], [0.013, -0.0001], [-0.013, -0.026], [0.013, -0.0001]])
  })

  it('RMSE up about 30 % on the 3-day average against the 7 reference days fires its triggers and alert once', async () => {
    writeMonitors(home, [
      { name: 'rise', kind: 'rmseRise', target: 'ret@champion', rise: 0.2, trigger: ['retrain-ret'], alert: true },
      { name: 'train', kind: 'rmseRise', target: 'ret@champion', rise: 0.2, reference: 'training' },
      { name: 'da', kind: 'directionalAccuracy', target: 'ret@champion', min: 0.55, trigger: ['retrain-ret', 'reoptimise'] },
    ])
    // Errors are 0.013 or ≈ 0.0131 (the −0.0001 labels): the daily RMSEs, worked out from the pairs above.
    const rmseOf = (e: number[]) => Math.sqrt(e.reduce((a, x) => a + x * x, 0) / e.length)
    const ma = (rmseOf([0.013, 0.013, 0.013, 0.0131]) + rmseOf([0.0131, 0.0131, 0.0131, 0.013]) + rmseOf([0.013, 0.0131, 0.013, 0.0131])) / 3
    // Evaluated during day 9 (noon): the window is days 7, 8, 9; the reference days 0–6.
    const now = D0 + 9 * DAY + 12 * 3_600_000
    const first = await evaluateMonitors(home, { now })
    const rise = first.results.find((r) => r.monitor === 'rise')!
    expect(rise.value).toBeCloseTo(ma / 0.01 - 1, 12)
    expect(rise).toMatchObject({ breached: true, status: 'breached', threshold: 0.2, version: 1, fired: ['retrain-ret'], alerted: true })
    // Against the training RMSE 0.02 it fell 35 %.
    const train = first.results.find((r) => r.monitor === 'train')!
    expect(train.value).toBeCloseTo(ma / 0.02 - 1, 12)
    expect(train.breached).toBe(false)
    // Directional accuracy: (3/4 + 1/4 + 2/4) / 3 = 0.5 < 0.55.
    const da = first.results.find((r) => r.monitor === 'da')!
    expect(da.value).toBeCloseTo(0.5, 15)
    expect(da.breached).toBe(true)
    expect(first.firedTriggers).toEqual(['retrain-ret', 'reoptimise'])
    expect(first.alerts).toEqual([`monitor rise breached: rmseRise of ret@champion (v1) is ${Number((ma / 0.01 - 1).toPrecision(4))}, rise ≥ 0.2`])
    // Still breached an hour later: recorded, nothing fired again.
    const second = await evaluateMonitors(home, { now: now + 3_600_000 })
    expect(second.results.map((r) => r.breached)).toEqual([true, false, true])
    expect(second.firedTriggers).toEqual([])
    expect(second.alerts).toEqual([])
    // One line per monitor per evaluation; the latest per monitor is the status.
    const lines = readFileSync(monitorStateFile(home), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l))
    expect(lines.map((l) => [l.monitor, l.time, l.breached])).toEqual([
      ['rise', now, true],
      ['train', now, false],
      ['da', now, true],
      ['rise', now + 3_600_000, true],
      ['train', now + 3_600_000, false],
      ['da', now + 3_600_000, true],
    ])
    expect(lines[0].evidence.referenceRmse).toBeCloseTo(0.01, 15)
    expect(lines[0].evidence.reference.days.map((d: { day: string }) => d.day)).toEqual([0, 1, 2, 3, 4, 5, 6].map((d) => new Date(D0 + d * DAY).toISOString().slice(0, 10)))
    expect(monitorStatus(home).get('rise')!.time).toBe(now + 3_600_000)
    expect(monitorHistory(home, { monitor: 'da' })).toHaveLength(2)
  })

  it('"repeat" fires at every breached evaluation; days without labels are no-data', async () => {
    const other = workspace()
    for (let d = 0; d <= 6; d++) day(other, d, [[0.02, 0.01]])
    for (let d = 7; d <= 9; d++) day(other, d, [[0.05, 0.01]])
    writeMonitors(other, [
      { name: 'rise', kind: 'rmseRise', target: 'ret@champion', rise: 0.2, trigger: ['retrain-ret'], repeat: true },
      { name: 'later', kind: 'directionalAccuracy', target: 'ret@champion', min: 0.5, maDays: 1 },
    ])
    const now = D0 + 9 * DAY + 3 * 3_600_000
    for (const t of [now, now + 1000]) {
      const e = await evaluateMonitors(other, { now: t })
      // RMSE 0.04 against 0.01: up 300 %.
      expect(e.results[0]!.value).toBeCloseTo(3, 12)
      expect(e.firedTriggers).toEqual(['retrain-ret'])
    }
    // On day 12 nothing is labelled within the 1-day window.
    const empty = await evaluateMonitors(other, { now: D0 + 12 * DAY })
    expect(empty.results[1]).toMatchObject({ value: null, status: 'no-data', breached: false })
  })

  it('an evaluation of the past sees only the labels known then', async () => {
    const other = workspace()
    // Day 0's prediction at 01:00, its label known at 01:01.
    day(other, 0, [[0.02, 0.01]])
    writeMonitors(other, [{ name: 'da', kind: 'directionalAccuracy', target: 'ret@champion', min: 0.5, maDays: 1 }])
    const before = await evaluateMonitors(other, { now: D0 + 3_600_000 + 30_000 })
    expect(before.results[0]).toMatchObject({ value: null, status: 'no-data' })
    const after = await evaluateMonitors(other, { now: D0 + 3_600_000 + 120_000 })
    expect(after.results[0]).toMatchObject({ value: 1, status: 'ok' })
  })

  it('drift of the inputs and predictions logged on the last day against a reference file', async () => {
    const other = workspace()
    // Reference: 100 rows. Logged rows: z shifted by 5 (KS p ≈ 0), mom and vol and the predictions the same values (D = 0, p = 1).
    // Labels: the reference's are 100 distinct values, the logged ones all 0 (KS D = 0.99).
    const ref = Array.from({ length: 100 }, (_, i) => ({ z: (i * 37) % 100 / 10, mom: (i * 13) % 100, vol: i / 7, prediction: ((i * 7) % 100) / 1000, label: ((i * 11) % 100) / 1000 - 0.05 }))
    const outside = mkdtempSync(join(tmpdir(), 'mtflow-monitor-outside-'))
    homes.push(outside)
    writeFileSync(join(outside, 'secret.csv'), 'z\n1\n')
    symlinkSync(join(outside, 'secret.csv'), join(other, 'link.csv'))
    writeFileSync(join(other, 'ref.csv'), ['z,mom,vol,prediction,label', ...ref.map((r) => `${r.z},${r.mom},${r.vol},${r.prediction},${r.label}`)].join('\n'))
    day(other, 3, ref.map((r) => [r.prediction, 0] as [number, number]), (i) => ({ z: ref[i]!.z + 5, mom: ref[i]!.mom, vol: ref[i]!.vol }))
    // Role b's rows have no labels yet: the label column is skipped, mom compared.
    append(join(other, 'monitor', 'predictions', 'ret', `${new Date(D0 + 3 * DAY).toISOString().slice(0, 10)}.jsonl`), ref.map((r, i) => ({ time: D0 + 3 * DAY + 7_200_000 + i, requestId: `b${i}`, model: 'ret', version: 1, role: 'b', row: { z: r.z, mom: r.mom, vol: r.vol }, prediction: r.prediction })))
    writeMonitors(other, [
      { name: 'all', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', trigger: ['retrain-ret'] },
      { name: 'z', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', columns: ['z', 'prediction'], window: '12h', alert: true },
      { name: 'out', kind: 'drift', target: 'ret@champion', reference: '../ref.csv' },
      { name: 'link', kind: 'drift', target: 'ret@champion', reference: 'link.csv' },
      // The rows were logged 5 hours before: none in a 3-hour window; none by a shadow.
      { name: 'recent', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', window: '3h' },
      { name: 'shadow', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', role: 'shadow' },
      { name: 'target', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', columns: ['label'], role: 'champion' },
      { name: 'unlabelled', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', columns: ['label', 'mom'], role: 'b' },
    ])
    const e = await evaluateMonitors(other, { now: D0 + 3 * DAY + 6 * 3_600_000 })
    const [all, z, out, link, recent, shadow, target, unlabelled] = e.results
    expect(link).toMatchObject({ status: 'error', error: 'monitor link: reference link.csv leads out of the workspace through a link' })
    expect(target).toMatchObject({ value: 1, breached: true })
    expect(unlabelled).toMatchObject({ value: 0, breached: false, evidence: { skipped: ['label'], driftedColumns: 0 } })
    expect(recent).toMatchObject({ status: 'no-data', value: null })
    expect(shadow).toMatchObject({ status: 'no-data', value: null })
    // Inputs z, mom, vol (the signature's, as the reference has them): 1 of 3 drifted < 50 %.
    expect(all).toMatchObject({ value: 1 / 3, threshold: 0.5, breached: false, fired: [] })
    expect((all!.evidence.columns as { column: string; method: string; drifted: boolean }[]).map((c) => [c.column, c.method, c.drifted])).toEqual([
      ['z', 'ks', true],
      ['mom', 'ks', false],
      ['vol', 'ks', false],
    ])
    // z and the predictions: 1 of 2 → dataset drift (≥ 50 %).
    expect(z).toMatchObject({ value: 0.5, breached: true, alerted: true })
    // A reference outside the workspace: this monitor errs, the others ran.
    expect(out).toMatchObject({ status: 'error', value: null, breached: false })
    expect(out!.error).toMatch(/must be a relative path inside the workspace/)
  })
})

describe('deployment monitors', () => {
  it('drawdown above its max fires a rollback; a deployment that cannot be measured is an error, the others still run', async () => {
    const home = workspace()
    writeMonitors(home, [
      { name: 'dd', kind: 'drawdown', target: 'paper', max: 0.1, trigger: ['rollback'], alert: true },
      { name: 'sr', kind: 'sharpe', target: 'paper', min: 0.5 },
      { name: 'te', kind: 'trackingError', target: 'paper', max: 0.05 },
      { name: 'missing', kind: 'drawdown', target: 'ghost', max: 0.1 },
    ])
    const asked: [string, boolean][] = []
    const deployment = async (_home: string, name: string, o: { replay: boolean }): Promise<EquityPerformance> => {
      asked.push([name, o.replay])
      if (name === 'ghost') throw new Error('no deployment named "ghost" in this workspace')
      return { sharpe: 0.8, drawdown: 0.12, trackingError: 0.07, points: 30 }
    }
    const e = await evaluateMonitors(home, { now: D0, deployment })
    expect(e.results.map((r) => [r.monitor, r.value, r.breached, r.status])).toEqual([
      ['dd', 0.12, true, 'breached'],
      ['sr', 0.8, false, 'ok'],
      ['te', 0.07, true, 'breached'],
      ['missing', null, false, 'error'],
    ])
    // Only tracking error needs the backtest replay.
    expect(asked).toEqual([
      ['paper', false],
      ['paper', false],
      ['paper', true],
      ['ghost', false],
    ])
    expect(e.firedTriggers).toEqual(['rollback'])
    expect(e.alerts).toEqual(['monitor dd breached: drawdown of paper is 0.12, above 0.1'])
    await expect(evaluateMonitors(home, { now: D0, monitors: ['nope'] })).rejects.toThrow(/no monitor named "nope"/)
    await expect(evaluateMonitors(home, { now: NaN })).rejects.toThrow(ConfigError)
  })

  it('a deployment with no equity yet (restarted before its next bar): drawdown and Sharpe monitors say no-data, not ok (an operations review)', async () => {
    const home = workspace()
    writeMonitors(home, [
      { name: 'dd', kind: 'drawdown', target: 'fresh', max: 0.0001, alert: true },
      { name: 'sr', kind: 'sharpe', target: 'fresh', min: 0.5 },
    ])
    const e = await evaluateMonitors(home, { now: D0, deployment: async () => equityPerformance([], []) })
    expect(e.results.map((r) => [r.monitor, r.value, r.status])).toEqual([
      ['dd', null, 'no-data'],
      ['sr', null, 'no-data'],
    ])
    expect(e.alerts).toEqual([])
  })

  it('an evaluation by hand (manual) says what would fire and leaves the breach new for the next one that delivers (a new-user review: the alert was lost)', async () => {
    const home = workspace()
    writeMonitors(home, [{ name: 'dd', kind: 'drawdown', target: 'paper', max: 0.1, trigger: ['retrain'], alert: true }])
    const deployment = async (): Promise<EquityPerformance> => ({ sharpe: 0.8, drawdown: 0.12, points: 30 })
    const fires = (e: Awaited<ReturnType<typeof evaluateMonitors>>) => [e.firedTriggers, e.alerts.length, e.results[0]!.manual === true]
    expect(fires(await evaluateMonitors(home, { now: D0, deployment, manual: true }))).toEqual([['retrain'], 1, true])
    expect(fires(await evaluateMonitors(home, { now: D0 + 1, deployment, manual: true }))).toEqual([['retrain'], 1, true])
    // The scheduler's job: the breach is new to it, once.
    expect(fires(await evaluateMonitors(home, { now: D0 + 2, deployment }))).toEqual([['retrain'], 1, false])
    expect(fires(await evaluateMonitors(home, { now: D0 + 3, deployment }))).toEqual([[], 0, false])
    // By hand after it: already delivered, nothing would fire.
    expect(fires(await evaluateMonitors(home, { now: D0 + 4, deployment, manual: true }))).toEqual([[], 0, true])
    // The last evaluation shown is the newest, by hand or not.
    expect(monitorStatus(home).get('dd')).toMatchObject({ time: D0 + 4, manual: true, status: 'breached' })
  })
})

// An audit of lib/monitor/rules.ts: thresholds at their edge, the breach edge across evaluations that measured
// nothing, and a drift monitor whose reference shares no column with the model (expected numbers from the
// documented rule and a pandas computation, in the comments).
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
