// Audit: a monitor job that fails after evaluateMonitors recorded the breach (here: alerts.json has a typo,
// so loadAlerting throws) loses the breach's triggers and alert for good: the next run sees the breach
// as already delivered (state.jsonl says breached, not manual) and fires nothing.
import { appendFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../lib/live/index.js'
import { DecisionTreeRegressor, packageModel, registerPackage } from '../../lib/ml/index.js'
import { readAlertHistory } from '../../lib/monitor/index.js'
import { checkJob, Scheduler, type RunRecord } from '../../lib/scheduler/index.js'
import { Registry } from '../../lib/track/index.js'

const D0 = Date.UTC(2025, 2, 3)

/** A drift breach waiting (ref.csv, 100 logged rows shifted by +5); `forwardFails`: alerts.json in place, a 2-day window, and an unrelated deployment whose alerts file cannot be opened (a link: O_NOFOLLOW → ELOOP). */
function workspace(options: { forwardFails?: boolean } = {}): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-audit-lost-'))
  const registry = new Registry(home)
  const rows = 100
  const X = Float64Array.from({ length: rows * 2 }, (_, i) => ((i * 37) % 100) / 10)
  const data = { X, rows, columns: ['z', 'mom'], y: Array.from({ length: rows }, (_, r) => X[r * 2]! / 100) }
  registerPackage(registry, 'ret', packageModel(new DecisionTreeRegressor({ maxDepth: 2 }).fit(data), { data }))
  registry.setAlias('models', 'ret', 'champion', 1, 'test')
  writeFileSync(join(home, 'ref.csv'), ['z,mom', ...Array.from({ length: rows }, (_, r) => `${X[r * 2]},${X[r * 2 + 1]}`)].join('\n'))
  const dir = join(home, 'monitor', 'predictions', 'ret')
  mkdirSync(dir, { recursive: true })
  appendFileSync(join(dir, '2025-03-03.jsonl'), Array.from({ length: rows }, (_, r) => JSON.stringify({ time: D0 + 3_600_000 + r, requestId: `c${r}`, model: 'ret', version: 1, role: 'champion', row: { z: X[r * 2]! + 5, mom: X[r * 2 + 1]! }, prediction: 0.01 })).join('\n') + '\n')
  writeFileSync(join(home, 'monitor', 'monitors.json'), JSON.stringify({ monitors: [{ name: 'drift', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', ...(options.forwardFails === true ? { window: '2d' } : {}), trigger: ['retrain-ret'], alert: true }] }))
  if (options.forwardFails === true) {
    writeFileSync(join(home, 'monitor', 'alerts.json'), '{"sinks": [{"kind": "log", "file": "monitor/alerts.log"}]}')
    mkdirSync(join(home, 'deployments', 'paper'), { recursive: true })
    writeFileSync(join(home, 'elsewhere.jsonl'), '{"time":1,"text":"x"}\n')
    symlinkSync(join(home, 'elsewhere.jsonl'), join(home, 'deployments', 'paper', 'alerts.jsonl'))
  }
  return home
}

describe('audit: a monitor job that fails after evaluating', () => {
  it('delivers the breach (trigger + alert) on its next run instead of dropping it', async () => {
    const home = workspace()
    writeFileSync(join(home, 'monitor', 'alerts.json'), '{"sinks": [{"kind": "log", "file": "monitor/alerts.log"}], "dedupeSeconds": "ten"}') // a typo
    const ran: string[] = []
    const clock = new ManualClock(D0 + 6 * 3_600_000)
    const job = (name: string, kind: 'monitor' | 'retrain', args: Record<string, unknown>) => checkJob({ name, cron: '0 0 1 1 *', kind, args }, 0)
    const scheduler = new Scheduler({ home, clock, jobs: [job('watch', 'monitor', {}), job('retrain-ret', 'retrain', { model: 'ret' })], handlers: { retrain: async (c) => void ran.push(c.trigger) } })
    const [first] = await Promise.all(scheduler.runTrigger('watch', 'manual'))
    await scheduler.idle()
    expect(first!.status).toBe('failed')
    expect(ran).toEqual([])
    // The operator fixes the typo; the breach persists.
    writeFileSync(join(home, 'monitor', 'alerts.json'), '{"sinks": [{"kind": "log", "file": "monitor/alerts.log"}]}')
    clock.advance?.(60_000)
    const [second] = await Promise.all(scheduler.runTrigger('watch', 'manual'))
    await scheduler.idle()
    expect((second as RunRecord).outcome!.summary).toBe('triggered retrain-ret; 1 alert')
    expect(ran).toEqual(['trigger'])
    expect(readAlertHistory(home).filter((a) => a.sent).length).toBe(1)
  })
})

// A review then: forwarding deployments' alerts failing on every run (one deployment's alerts.jsonl unreadable) kept
// the job from recording its evaluation: the breach was re-alerted every run past the dedupe window, its retrain never started.
describe('review: forwarding deployment alerts fails on every run', () => {
  it('the breach is delivered once and its trigger starts', async () => {
    const home = workspace({ forwardFails: true })
    const ran: string[] = []
    const clock = new ManualClock(D0 + 6 * 3_600_000)
    const job = (name: string, kind: 'monitor' | 'retrain', args: Record<string, unknown>) => checkJob({ name, cron: '0 0 1 1 *', kind, args }, 0)
    const scheduler = new Scheduler({ home, clock, jobs: [job('watch', 'monitor', {}), job('retrain-ret', 'retrain', { model: 'ret' })], handlers: { retrain: async (c) => void ran.push(c.trigger) } })
    const records: RunRecord[] = []
    for (let k = 0; k < 3; k++) {
      const [r] = await Promise.all(scheduler.runTrigger('watch', 'manual'))
      await scheduler.idle()
      records.push(r as RunRecord)
      clock.advance(3_600_000) // an hour between runs (past the 10-minute dedupe)
    }
    console.log(records.map((r) => `${r.status} ${r.error ?? r.outcome?.summary}`))
    console.log('sent', readAlertHistory(home).filter((a) => a.sent && a.key === 'monitor:drift').length, 'retrain runs', ran.length)
    expect(readAlertHistory(home).filter((a) => a.sent && a.key === 'monitor:drift').length).toBe(1)
    expect(ran).toEqual(['trigger'])
  })
})
