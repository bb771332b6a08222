// Audit: a breach is "new" against the previous delivered evaluation, but an evaluation that could not
// measure (status error or no-data, recorded breached: false) reset the edge: the same ongoing breach fired
// its triggers and alert a second time after one failed read.
import { mkdtempSync } from 'node:fs'
import { mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { evaluateMonitors, type EquityPerformance } from '../../lib/monitor/index.js'

describe('audit: the breach edge across an evaluation that could not measure', () => {
  it('a drawdown breach, an error (deployment unreadable), the same breach: fires once', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-audit-edge-'))
    mkdirSync(join(home, 'monitor'), { recursive: true })
    writeFileSync(join(home, 'monitor', 'monitors.json'), JSON.stringify({ monitors: [{ name: 'dd', kind: 'drawdown', target: 'paper', max: 0.1, trigger: ['retrain-x'], alert: true }] }))
    let fail = false
    const deployment = async (): Promise<EquityPerformance> => {
      if (fail) throw new Error('EBUSY: the journal is being rotated')
      return { sharpe: 0.8, drawdown: 0.12, trackingError: 0.07, points: 30 }
    }
    const t0 = Date.UTC(2025, 2, 3)
    const a = await evaluateMonitors(home, { now: t0, deployment })
    expect(a.firedTriggers).toEqual(['retrain-x'])
    fail = true
    const b = await evaluateMonitors(home, { now: t0 + 3_600_000, deployment })
    expect(b.results[0]!.status).toBe('error')
    fail = false
    const c = await evaluateMonitors(home, { now: t0 + 7_200_000, deployment })
    expect(c.results[0]!.breached).toBe(true)
    expect(c.firedTriggers).toEqual([])
    expect(c.alerts).toEqual([])
  })
})
