// Review: forwardDeploymentAlerts failing on every run (one deployment's alerts.jsonl unreadable) keeps the
// monitor job from ever recording its evaluation: the same breach is re-alerted at every run past the
// dedupe window, and its retrain trigger never starts.
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

function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-review-fwd-'))
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
  writeFileSync(join(home, 'monitor', 'monitors.json'), JSON.stringify({ monitors: [{ name: 'drift', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', window: '2d', trigger: ['retrain-ret'], alert: true }] }))
  writeFileSync(join(home, 'monitor', 'alerts.json'), '{"sinks": [{"kind": "log", "file": "monitor/alerts.log"}]}')
  // An unrelated deployment whose alerts file cannot be opened (a link: O_NOFOLLOW → ELOOP).
  mkdirSync(join(home, 'deployments', 'paper'), { recursive: true })
  writeFileSync(join(home, 'elsewhere.jsonl'), '{"time":1,"text":"x"}\n')
  symlinkSync(join(home, 'elsewhere.jsonl'), join(home, 'deployments', 'paper', 'alerts.jsonl'))
  return home
}

describe('review: forwarding deployment alerts fails on every run', () => {
  it('the breach is delivered once and its trigger starts', async () => {
    const home = workspace()
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
