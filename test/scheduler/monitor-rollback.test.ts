// The scheduler's monitor job acting on a breach: a drift monitor on the champion alias with a `rollback`
// trigger and an alert — the champion alias moves back to previous-champion (the audit entry names the
// breach), the alert is recorded through the alert sinks, and the other trigger starts its job. The same
// breach on a monitor of the challenger alias rolls nothing back.

import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../lib/live/index.js'
import { DecisionTreeRegressor, packageModel, registerPackage } from '../../lib/ml/index.js'
import { readAlertHistory } from '../../lib/monitor/index.js'
import { checkJob, Scheduler, type RunRecord } from '../../lib/scheduler/index.js'
import { Registry } from '../../lib/track/index.js'

const DAY = 86_400_000
const D0 = Date.UTC(2025, 2, 3)

function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-monitor-rollback-'))
  const registry = new Registry(home)
  const rows = 100
  const X = Float64Array.from({ length: rows * 2 }, (_, i) => ((i * 37) % 100) / 10)
  const data = { X, rows, columns: ['z', 'mom'], y: Array.from({ length: rows }, (_, r) => X[r * 2]! / 100) }
  const fit = (depth: number) => packageModel(new DecisionTreeRegressor({ maxDepth: depth }).fit(data), { data })
  registerPackage(registry, 'ret', fit(2)) // v1
  registerPackage(registry, 'ret', fit(3)) // v2
  registry.setAlias('models', 'ret', 'previous-champion', 1, 'test')
  registry.setAlias('models', 'ret', 'champion', 2, 'test')
  registry.setAlias('models', 'ret', 'challenger', 1, 'test')
  // Reference: z and mom as trained; logged rows of v2 (champion) and v1 (challenger) with z shifted by 5.
  writeFileSync(join(home, 'ref.csv'), ['z,mom', ...Array.from({ length: rows }, (_, r) => `${X[r * 2]},${X[r * 2 + 1]}`)].join('\n'))
  const dir = join(home, 'monitor', 'predictions', 'ret')
  mkdirSync(dir, { recursive: true })
  const lines = (version: number, role: string) =>
    Array.from({ length: rows }, (_, r) => JSON.stringify({ time: D0 + 3_600_000 + r, requestId: `${role}${r}`, model: 'ret', version, role, row: { z: X[r * 2]! + 5, mom: X[r * 2 + 1]! }, prediction: 0.01 })).join('\n') + '\n'
  appendFileSync(join(dir, `${new Date(D0).toISOString().slice(0, 10)}.jsonl`), lines(2, 'champion') + lines(1, 'challenger'))
  return home
}

describe('the monitor job on a breach', () => {
  it('rolls the champion back when its monitor breaches; leaves it when the challenger breaches; alerts and triggers', async () => {
    const home = workspace()
    writeFileSync(
      join(home, 'monitor', 'monitors.json'),
      JSON.stringify({
        monitors: [
          { name: 'champ-drift', kind: 'drift', target: 'ret@champion', reference: 'ref.csv', trigger: ['rollback', 'retrain-ret'], alert: true },
          { name: 'chall-drift', kind: 'drift', target: 'ret@challenger', reference: 'ref.csv', trigger: ['rollback'] },
        ],
      }),
    )
    const ran: string[] = []
    const clock = new ManualClock(D0 + 6 * 3_600_000)
    const job = (name: string, kind: 'monitor' | 'retrain', args: Record<string, unknown>) => checkJob({ name, cron: '0 0 1 1 *', kind, args }, 0)
    const scheduler = new Scheduler({
      home,
      clock,
      jobs: [job('watch-challenger', 'monitor', { monitors: ['chall-drift'] }), job('watch', 'monitor', { monitors: ['champ-drift'] }), job('retrain-ret', 'retrain', { model: 'ret' })],
      handlers: { retrain: async (c) => void ran.push(`${c.job.name} ${c.trigger}`) },
    })
    // The challenger's monitor breaches first: nothing is rolled back.
    const [first] = await Promise.all(scheduler.runTrigger('watch-challenger', 'manual'))
    expect((first as RunRecord).outcome!.summary).toBe('no job triggered; no rollback for ret@challenger v1 (champion v2)')
    expect(new Registry(home).resolve('models', 'ret@champion').version).toBe(2)
    // The champion's monitor: rolled back to v1, the breach in the audit log; the alert recorded; retrain triggered.
    const [second] = await Promise.all(scheduler.runTrigger('watch', 'manual'))
    await scheduler.idle()
    expect((second as RunRecord).outcome!.summary).toBe('triggered retrain-ret; rolled back ret; 1 alert')
    const registry = new Registry(home)
    expect(registry.resolve('models', 'ret@champion').version).toBe(1)
    const audit = registry.auditLog('models', 'ret')
    expect(audit.some((a) => a.action === 'alias' && String(a.reason).includes('monitor breach: champ-drift'))).toBe(true)
    expect(ran).toEqual(['retrain-ret trigger'])
    const alerts = readAlertHistory(home)
    expect(alerts.map((a) => [a.source, a.key, a.severity])).toEqual([['monitor', 'monitor:champ-drift', 'warning']])
    expect(alerts[0]!.text).toMatch(/^monitor champ-drift breached: drift of ret@champion \(v2\)/)
  })
})
