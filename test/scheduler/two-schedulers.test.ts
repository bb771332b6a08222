// Audit: two schedulers on one workspace (a daemon, and a `scheduler run --once` or a second container)
// each keep the last fire time in memory: the 09:00 fire that one ran and recorded in state.json is run
// again by the other within graceMs. The running marker only stops copies that overlap in time.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../lib/live/index.js'
import { checkJob, readHistory, Scheduler } from '../../lib/scheduler/index.js'

describe('audit: one fire time, two schedulers', () => {
  it('runs once', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-audit-double-'))
    const clock = new ManualClock(Date.parse('2026-03-02T08:59:30Z'))
    const jobs = [checkJob({ name: 'nine', cron: '0 9 * * *', kind: 'monitor', args: {} }, 0)]
    const runs: string[] = []
    const handlers = { monitor: async (c: { now: number }) => void runs.push(new Date(c.now).toISOString()) }
    const a = new Scheduler({ home, clock, jobs, handlers })
    const b = new Scheduler({ home, clock, jobs, handlers })
    await a.runOnce()
    await b.runOnce()
    clock.advance(35_000) // 09:00:05
    await a.runOnce()
    clock.advance(10_000) // 09:00:15, within the 60 s grace
    await b.runOnce()
    expect(runs).toEqual(['2026-03-02T09:00:05.000Z'])
    expect(readHistory(home).filter((l) => l.status === 'ok')).toHaveLength(1)
  })
})
