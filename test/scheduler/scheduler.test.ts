// The scheduler (lib/scheduler) on lib/live's ManualClock: next fire times across the UK's DST changes
// (worked out by hand from the rule: BST = UTC+1 from 01:00 UTC on the last Sunday of March to 01:00 UTC
// on the last Sunday of October), overlap, runs missed while down (skip vs run-once), retries with their
// backoff times, a time limit, a failing job beside a healthy one, triggers, and what is recorded (history
// lines, tracked runs, state.json). Job code is replaced by test handlers; no test waits on real time.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../lib/live/index.js'
import { checkJob, checkTriggers, nextRun, parseJobs, readHistory, readJobs, resolveTime, Scheduler, verbFlags, type JobHandler, type JobSpec } from '../../lib/scheduler/index.js'
import { Tracker } from '../../lib/track/index.js'

const home = () => mkdtempSync(join(tmpdir(), 'mtflow-scheduler-'))
const at = (iso: string) => Date.parse(iso)
const job = (over: Partial<JobSpec> & { name: string; cron: string }): JobSpec => checkJob({ kind: 'monitor', args: {}, ...over }, 0)

/** Let promise chains and the scheduler's bookkeeping run until `done` holds (bounded, never timed). */
async function until(done: () => boolean, rounds = 500): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) await new Promise((r) => setImmediate(r))
  expect(done()).toBe(true)
}

describe('next run times', () => {
  it('follow Europe/London across both DST changes', () => {
    const nine = { cron: '0 9 * * *', timezone: 'Europe/London' }
    // 28 March 2026 is a Saturday (GMT, 09:00 = 09:00Z); the clocks go forward on Sunday 29 March (BST, 09:00 = 08:00Z).
    expect(new Date(nextRun(nine, at('2026-03-27T12:00:00Z'))!).toISOString()).toBe('2026-03-28T09:00:00.000Z')
    expect(new Date(nextRun(nine, at('2026-03-28T09:00:00Z'))!).toISOString()).toBe('2026-03-29T08:00:00.000Z')
    expect(new Date(nextRun(nine, at('2026-03-29T08:00:00Z'))!).toISOString()).toBe('2026-03-30T08:00:00.000Z')
    // And back on Sunday 25 October 2026: 09:00 BST = 08:00Z on the 24th, 09:00 GMT = 09:00Z on the 25th.
    expect(new Date(nextRun(nine, at('2026-10-24T07:00:00Z'))!).toISOString()).toBe('2026-10-24T08:00:00.000Z')
    expect(new Date(nextRun(nine, at('2026-10-24T08:00:00Z'))!).toISOString()).toBe('2026-10-25T09:00:00.000Z')
    // 01:30 does not exist on 29 March (01:00 GMT → 02:00 BST): croner runs it an hour later, 02:30 BST = 01:30Z.
    expect(new Date(nextRun({ cron: '30 1 * * *', timezone: 'Europe/London' }, at('2026-03-29T00:00:00Z'))!).toISOString()).toBe('2026-03-29T01:30:00.000Z')
    // 01:30 occurs twice on 25 October: it runs once, at the first (01:30 BST = 00:30Z); the next is the 26th's 01:30 GMT.
    const half = { cron: '30 1 * * *', timezone: 'Europe/London' }
    expect(new Date(nextRun(half, at('2026-10-25T00:00:00Z'))!).toISOString()).toBe('2026-10-25T00:30:00.000Z')
    expect(new Date(nextRun(half, at('2026-10-25T00:30:00Z'))!).toISOString()).toBe('2026-10-26T01:30:00.000Z')
    // UTC when no time zone is given.
    expect(new Date(nextRun(job({ name: 'u', cron: '0 9 * * *' }), at('2026-03-29T00:00:00Z'))!).toISOString()).toBe('2026-03-29T09:00:00.000Z')
  })

  it('the running scheduler wakes at exactly those times', async () => {
    const h = home()
    const clock = new ManualClock(at('2026-03-28T00:00:00Z'))
    const starts: string[] = []
    const scheduler = new Scheduler({ home: h, clock, jobs: [job({ name: 'nine', cron: '0 9 * * *', timezone: 'Europe/London' })], handlers: { monitor: async (c) => void starts.push(new Date(c.now).toISOString()) } })
    const running = scheduler.run()
    await until(() => clock.waiting > 0)
    clock.advance(at('2026-03-28T09:00:00Z') - clock.now())
    await until(() => starts.length === 1)
    await until(() => readHistory(h).length === 1 && clock.waiting > 0)
    // One hour before the next run nothing happens; at it, the job runs.
    clock.advance(at('2026-03-29T07:00:00Z') - clock.now())
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r))
    expect(starts).toHaveLength(1)
    clock.advance(at('2026-03-29T08:00:00Z') - clock.now())
    await until(() => starts.length === 2)
    scheduler.stop()
    await running
    expect(starts).toEqual(['2026-03-28T09:00:00.000Z', '2026-03-29T08:00:00.000Z'])
    const state = JSON.parse(readFileSync(join(h, 'scheduler', 'state.json'), 'utf8')) as { jobs: Record<string, { lastRun: number; lastStatus: string }> }
    expect(state.jobs.nine!.lastRun).toBe(at('2026-03-29T08:00:00Z'))
    expect(state.jobs.nine!.lastStatus).toBe('ok')
  })
})

describe('the loop', () => {
  it('sleeps at most an hour between ticks (a timer past 2^31 − 1 ms would fire at once)', async () => {
    class RecordingClock extends ManualClock {
      readonly sleeps: number[] = []
      override sleep(ms: number): Promise<void> {
        this.sleeps.push(ms)
        return super.sleep(ms)
      }
    }
    const clock = new RecordingClock(at('2026-01-05T10:00:00Z'))
    const scheduler = new Scheduler({ home: home(), clock, jobs: [job({ name: 'yearly', cron: '0 0 1 1 *' }), job({ name: 'soon', cron: '20 10 5 1 *' })], handlers: { monitor: async () => undefined } })
    const running = scheduler.run()
    await until(() => clock.waiting > 0)
    clock.advance(3_600_000)
    await until(() => clock.sleeps.length === 2)
    scheduler.stop()
    await running
    // 10:20 is 20 minutes away: that sleep; then from 11:00, the next fire is next year's: one hour.
    expect(clock.sleeps).toEqual([20 * 60_000, 3_600_000])
  })
})

describe('overlap', () => {
  it('a job still running is not started again: the fire is a skipped line with error overlap', async () => {
    const h = home()
    const clock = new ManualClock(at('2026-01-05T10:00:00Z'))
    let release: () => void = () => undefined
    let starts = 0
    const slow: JobHandler = async () => {
      starts++
      if (starts === 1) await new Promise<void>((r) => (release = r))
    }
    const scheduler = new Scheduler({ home: h, clock, jobs: [job({ name: 'slow', cron: '* * * * *' })], handlers: { monitor: slow } })
    clock.advance(60_000) // 10:01: due
    scheduler.tick()
    await until(() => starts === 1)
    clock.advance(60_000) // 10:02: still running
    scheduler.tick()
    expect(readHistory(h)).toEqual([{ job: 'slow', time: '2026-01-05T10:02:00.000Z', status: 'skipped', ms: 0, error: 'overlap: the previous run is still going', trigger: 'cron' }])
    expect(() => scheduler.runTrigger('slow')).not.toThrow() // a trigger is refused the same way
    expect(readHistory(h).map((l) => [l.status, l.trigger])).toEqual([['skipped', 'cron'], ['skipped', 'trigger']])
    release()
    await scheduler.idle()
    clock.advance(60_000) // 10:03: free again
    await Promise.all(scheduler.tick())
    expect(starts).toBe(2)
    expect(readHistory(h).map((l) => `${l.time} ${l.status}`)).toEqual(['2026-01-05T10:02:00.000Z skipped', '2026-01-05T10:02:00.000Z skipped', '2026-01-05T10:01:00.000Z ok', '2026-01-05T10:03:00.000Z ok'])
  })
})

describe('overlap across processes', () => {
  it('a run marked by another live process on this host is an overlap; a dead process\'s mark is taken over', async () => {
    const h = home()
    mkdirSync(join(h, 'scheduler', 'running'), { recursive: true })
    const marker = join(h, 'scheduler', 'running', 'nightly.json')
    writeFileSync(marker, JSON.stringify({ pid: process.ppid, host: hostname(), start: at('2026-01-05T09:00:00Z') }))
    const ran: number[] = []
    const scheduler = new Scheduler({ home: h, clock: new ManualClock(at('2026-01-05T10:00:00Z')), jobs: [job({ name: 'nightly', cron: '0 2 * * *' })], handlers: { monitor: async (c) => void ran.push(c.now) } })
    expect(await scheduler.runTrigger('nightly', 'manual')[0]!).toMatchObject({ status: 'skipped', error: `overlap: the previous run is still going (in process ${process.ppid} on ${hostname()} since 2026-01-05T09:00:00.000Z)` })
    expect(ran).toEqual([])
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!
    writeFileSync(marker, JSON.stringify({ pid: dead, host: hostname(), start: at('2026-01-05T09:00:00Z') }))
    expect(await scheduler.runTrigger('nightly', 'manual')[0]!).toMatchObject({ status: 'ok' })
    expect(ran).toHaveLength(1)
    expect(existsSync(marker)).toBe(false) // released when the run ended
    // A live pid whose start time is not the one recorded: the pid was reused (a restarted container's pid 1).
    writeFileSync(marker, JSON.stringify({ pid: process.ppid, host: hostname(), start: at('2026-01-05T09:00:00Z'), procStart: '1' }))
    expect(await scheduler.runTrigger('nightly', 'manual')[0]!).toMatchObject({ status: 'ok' })
    expect(ran).toHaveLength(2)
  })
})

describe('runs missed while down', () => {
  const down = (missed: 'skip' | 'run-once') => {
    const h = home()
    mkdirSync(join(h, 'scheduler'), { recursive: true })
    // Last run at 10:00; the scheduler comes back at 15:30: the hourly fires 11:00 … 15:00 (five) were missed.
    writeFileSync(join(h, 'scheduler', 'state.json'), JSON.stringify({ jobs: { hourly: { lastRun: at('2026-01-05T10:00:00Z') } } }))
    const clock = new ManualClock(at('2026-01-05T15:30:00Z'))
    const runs: number[] = []
    const scheduler = new Scheduler({ home: h, clock, jobs: [job({ name: 'hourly', cron: '0 * * * *', missed })], handlers: { monitor: async (c) => void runs.push(c.now) } })
    return { h, clock, runs, scheduler }
  }

  it('skip (the default): one skipped line naming the five, nothing run until the next fire time', async () => {
    const { h, clock, runs, scheduler } = down('skip')
    await scheduler.runOnce()
    expect(runs).toEqual([])
    const lines = readHistory(h)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ job: 'hourly', status: 'skipped', time: '2026-01-05T15:30:00.000Z' })
    expect(lines[0]!.error).toContain('missed 5 runs')
    expect(lines[0]!.error).toContain('2026-01-05T11:00:00.000Z … 2026-01-05T15:00:00.000Z')
    expect(new Date(scheduler.nextRun(scheduler.jobs[0]!)!).toISOString()).toBe('2026-01-05T16:00:00.000Z')
    clock.advance(30 * 60_000)
    await scheduler.runOnce()
    expect(runs).toEqual([at('2026-01-05T16:00:00Z')])
  })

  it('run-once: one run at once for all five, then on schedule', async () => {
    const { h, clock, runs, scheduler } = down('run-once')
    await scheduler.runOnce()
    expect(runs).toEqual([at('2026-01-05T15:30:00Z')])
    expect(readHistory(h).map((l) => l.status)).toEqual(['ok'])
    await scheduler.runOnce() // nothing more is due at 15:30
    expect(runs).toHaveLength(1)
    clock.advance(30 * 60_000)
    await scheduler.runOnce()
    expect(runs).toEqual([at('2026-01-05T15:30:00Z'), at('2026-01-05T16:00:00Z')])
  })

  it('a fire seen within graceMs is due, not missed (a cron-driven `run --once` a few seconds late)', async () => {
    const h = home()
    const clock = new ManualClock(at('2026-01-05T16:00:20Z'))
    const runs: number[] = []
    const scheduler = new Scheduler({ home: h, clock, jobs: [job({ name: 'hourly', cron: '0 * * * *', graceMs: 30_000 })], handlers: { monitor: async (c) => void runs.push(c.now) } })
    await scheduler.runOnce()
    expect(runs).toEqual([at('2026-01-05T16:00:20Z')])
    const h2 = home()
    mkdirSync(join(h2, 'scheduler'))
    writeFileSync(join(h2, 'scheduler', 'state.json'), JSON.stringify({ jobs: { hourly: { lastRun: at('2026-01-05T15:00:00Z') } } }))
    const late = new Scheduler({ home: h2, clock: new ManualClock(at('2026-01-05T16:00:40Z')), jobs: [job({ name: 'hourly', cron: '0 * * * *', graceMs: 30_000 })], handlers: { monitor: async (c) => void runs.push(c.now) } })
    await late.runOnce()
    expect(runs).toHaveLength(1) // 40 s late > 30 s: missed (skip)
    expect(readHistory(h2).map((l) => [l.status, l.error])).toEqual([['skipped', 'missed 1 run while the scheduler was not running (2026-01-05T16:00:00.000Z); policy skip: next at its next fire time']])
  })

  it('fire times passed while this scheduler ran (a job held its thread) are not said missed while it was not running (an operations review)', async () => {
    const h = home()
    const clock = new ManualClock(at('2026-01-05T10:00:00Z'))
    const scheduler = new Scheduler({ home: h, clock, jobs: [job({ name: 'minutely', cron: '* * * * *', graceMs: 5_000 })], handlers: { monitor: async () => undefined } })
    await scheduler.runOnce() // 10:00 on time
    clock.advance(5 * 60_000 + 30_000) // 10:05:30: 10:01 … 10:05 passed while a job held the thread
    await scheduler.runOnce()
    expect(readHistory(h).map((l) => [l.status, l.error ?? ''])).toEqual([
      ['ok', ''],
      ['skipped', 'missed 5 runs while the scheduler ran but did not get to them (a job held its thread, or the machine slept) (2026-01-05T10:01:00.000Z … 2026-01-05T10:05:00.000Z); policy skip: next at its next fire time'],
    ])
  })
})

describe('retries, time limits and failures', () => {
  it('retries after backoffMs, then twice that, by the clock; one tracked run and one history line', async () => {
    const h = home()
    const clock = new ManualClock(at('2026-02-01T00:00:00Z'))
    const attempts: number[] = []
    const flaky: JobHandler = async (c) => {
      attempts.push(c.now === at('2026-02-01T00:00:00Z') ? clock.now() - c.now : NaN)
      if (attempts.length < 3) throw new Error(`boom ${attempts.length}`)
      return { summary: 'done', metrics: { rows: 7 } }
    }
    const scheduler = new Scheduler({ home: h, clock, jobs: [job({ name: 'flaky', cron: '0 0 1 1 *', retries: 3, backoffMs: 1000 })], handlers: { monitor: flaky } })
    const [done] = scheduler.runTrigger('flaky', 'manual')
    await until(() => attempts.length === 1 && clock.waiting === 1)
    clock.advance(999)
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r))
    expect(attempts).toHaveLength(1)
    clock.advance(1)
    await until(() => attempts.length === 2 && clock.waiting === 1)
    clock.advance(2000)
    const record = await done!
    expect(attempts).toEqual([0, 1000, 3000])
    expect(record).toMatchObject({ job: 'flaky', status: 'ok', ms: 3000, attempts: 3, trigger: 'manual' })
    const run = new Tracker(h).getRun((record as { runId: string }).runId)
    expect(run.info.status).toBe('FINISHED')
    expect(run.tags).toMatchObject({ 'mtflow.kind': 'job', 'mtflow.job': 'flaky', 'mtflow.trigger': 'manual', 'mtflow.job.summary': 'done' })
    expect(run.metrics.attempts!.value).toBe(3)
    expect(run.metrics.rows!.value).toBe(7)
    expect(new Tracker(h).getExperiment('scheduler').name).toBe('scheduler')
    expect(readHistory(h)).toEqual([{ job: 'flaky', time: '2026-02-01T00:00:00.000Z', status: 'ok', ms: 3000, runId: run.info.runId, trigger: 'manual', attempts: 3 }])
  })

  it('an attempt past timeoutMs that stops when told is retried; retries exhausted: status failed, the run FAILED', async () => {
    const h = home()
    const clock = new ManualClock(at('2026-02-01T00:00:00Z'))
    const signals: AbortSignal[] = []
    // Works until its signal is aborted, then gives up (as a job that reads its signal does).
    const polite: JobHandler = (c) => {
      signals.push(c.signal)
      return new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(new Error('stopped'))))
    }
    const scheduler = new Scheduler({ home: h, clock, jobs: [job({ name: 'hang', cron: '0 0 1 1 *', timeoutMs: 5000, retries: 1, backoffMs: 100 })], handlers: { monitor: polite } })
    const [done] = scheduler.runTrigger('hang')
    await until(() => signals.length === 1)
    clock.advance(4999)
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r))
    expect(signals[0]!.aborted).toBe(false)
    clock.advance(1) // 5000: the first attempt times out and stops; the retry waits 100
    await until(() => signals[0]!.aborted && clock.waiting >= 1)
    clock.advance(100)
    await until(() => signals.length === 2)
    clock.advance(5000)
    const record = await done!
    expect(record).toMatchObject({ status: 'failed', error: 'timed out after 5000 ms', ms: 10_100, attempts: 2, trigger: 'trigger' })
    const run = new Tracker(h).getRun((record as { runId: string }).runId)
    expect(run.info.status).toBe('FAILED')
    expect(run.tags['mtflow.error']).toBe('timed out after 5000 ms')
    expect(scheduler.active).toEqual([])
  })

  it('an attempt past timeoutMs that goes on is not retried and holds its slot: no second copy runs until it ends', async () => {
    const h = home()
    const clock = new ManualClock(at('2026-02-01T00:00:00Z'))
    let calls = 0
    let finish: () => void = () => {}
    const stubborn: JobHandler = () => {
      calls++
      return new Promise<void>((resolve) => (finish = resolve))
    }
    const scheduler = new Scheduler({ home: h, clock, jobs: [job({ name: 'hang', cron: '0 0 1 1 *', timeoutMs: 5000, retries: 2, backoffMs: 100 })], handlers: { monitor: stubborn } })
    const [done] = scheduler.runTrigger('hang')
    await until(() => calls === 1)
    clock.advance(5000)
    const record = await done!
    expect(record).toMatchObject({ status: 'failed', attempts: 1, ms: 5000 })
    expect((record as { error: string }).error).toBe('timed out after 5000 ms and still running (it does not stop when told): not retried; no run of it starts until it ends')
    expect(scheduler.active).toEqual(['hang'])
    // Triggered again while the first still runs: skipped as an overlap, nothing started.
    const [again] = scheduler.runTrigger('hang')
    expect(await again!).toMatchObject({ status: 'skipped', error: 'overlap: the previous run is still going' })
    expect(calls).toBe(1)
    finish()
    await scheduler.idle()
    expect(scheduler.active).toEqual([])
    const [third] = scheduler.runTrigger('hang')
    await until(() => calls === 2)
    finish()
    expect(await third!).toMatchObject({ status: 'ok' })
  })

  it('a failing job does not stop the others nor the scheduler', async () => {
    const h = home()
    const clock = new ManualClock(at('2026-01-05T10:00:30Z'))
    const good: string[] = []
    const scheduler = new Scheduler({
      home: h,
      clock,
      // 30 s after 10:00 with a 10 s grace: the 10:00 fire is not due at the start (with the default 60 s it would be).
      jobs: [job({ name: 'bad', cron: '* * * * *', kind: 'report', args: { experiment: 'x' }, graceMs: 10_000 }), job({ name: 'good', cron: '* * * * *', graceMs: 10_000 })],
      handlers: { report: async () => { throw new Error('disk on fire') }, monitor: async (c) => void good.push(new Date(c.now).toISOString()) },
    })
    const running = scheduler.run()
    for (const minute of ['10:01', '10:02']) {
      clock.advance(at(`2026-01-05T${minute}:00Z`) - clock.now())
      await until(() => readHistory(h).filter((l) => l.time === `2026-01-05T${minute}:00.000Z`).length === 2 && clock.waiting > 0)
    }
    scheduler.stop()
    await running
    expect(good).toEqual(['2026-01-05T10:01:00.000Z', '2026-01-05T10:02:00.000Z'])
    const lines = readHistory(h)
    expect(lines.filter((l) => l.job === 'bad').map((l) => [l.status, l.error])).toEqual([['failed', 'disk on fire'], ['failed', 'disk on fire']])
    const tracker = new Tracker(h)
    for (const l of lines) expect(tracker.getRun(l.runId!).info.status).toBe(l.status === 'ok' ? 'FINISHED' : 'FAILED')
    expect(JSON.parse(readFileSync(join(h, 'scheduler', 'state.json'), 'utf8')).jobs.bad.lastStatus).toBe('failed')
  })
})

describe('triggers', () => {
  it("a monitor job's fired triggers start the jobs of those names (trigger: trigger); a glob matches several", async () => {
    const h = home()
    const clock = new ManualClock(at('2026-01-05T10:00:00Z'))
    const ran: string[] = []
    const scheduler = new Scheduler({
      home: h,
      clock,
      jobs: [job({ name: 'watch', cron: '0 0 1 1 *' }), job({ name: 'retrain-a', cron: '0 0 1 1 *', kind: 'retrain', args: { model: 'a' } }), job({ name: 'retrain-b', cron: '0 0 1 1 *', kind: 'retrain', args: { model: 'b' } }), job({ name: 'other', cron: '0 0 1 1 *', kind: 'retrain', args: { model: 'c' } })],
      handlers: { monitor: async () => ({ triggers: ['retrain-*'] }), retrain: async (c) => void ran.push(`${c.job.name} ${c.trigger}`) },
    })
    scheduler.runTrigger('watch', 'manual')
    await scheduler.idle()
    expect(ran.sort()).toEqual(['retrain-a trigger', 'retrain-b trigger'])
    expect(() => scheduler.runTrigger('nope')).toThrow('no job matches "nope"; jobs: watch, retrain-a, retrain-b, other')
  })

  it('a fired trigger that starts no job is on record as skipped, with the job that fired it, and logged (an operations review: it vanished)', async () => {
    const h = home()
    const clock = new ManualClock(at('2026-01-05T10:00:00Z'))
    const logged: string[] = []
    const records: string[] = []
    const scheduler = new Scheduler({
      home: h,
      clock,
      jobs: [job({ name: 'watch', cron: '0 0 1 1 *' }), job({ name: 'retrain', cron: '0 0 1 1 *', kind: 'retrain', args: { model: 'a' } })],
      handlers: { monitor: async () => ({ triggers: ['retrian'] }), retrain: async () => undefined },
      log: (line) => logged.push(line),
      onRecord: (r) => records.push(`${r.job} ${r.status}`),
    })
    scheduler.runTrigger('watch', 'manual')
    await scheduler.idle()
    expect(records).toEqual(['watch ok', 'retrian skipped'])
    expect(readHistory(h).map((l) => [l.job, l.status, l.trigger, l.error ?? ''])).toEqual([
      ['watch', 'ok', 'manual', ''],
      ['retrian', 'skipped', 'trigger', 'fired by job watch, it starts nothing: no job matches "retrian"; jobs: watch, retrain'],
    ])
    expect(logged).toContain('scheduler: trigger retrian fired by job watch, it starts nothing: no job matches "retrian"; jobs: watch, retrain')
  })

  it('checkTriggers: a monitor trigger that matches no job is a ConfigError naming the monitor', () => {
    const jobs = [job({ name: 'retrain-btc', cron: '0 0 1 1 *' }), job({ name: 'rollback', cron: '0 0 1 1 *' })]
    expect(() => checkTriggers([{ name: 'dd', trigger: ['rollback', 'retrain-btc'] }], jobs, 'jobs.json')).not.toThrow()
    // rollback is the monitor job's own action, not a job: valid with no job of that name.
    expect(() => checkTriggers([{ name: 'dd', trigger: ['rollback'] }], [jobs[0]!], 'jobs.json')).not.toThrow()
    expect(() => checkTriggers([{ name: 'dd', trigger: ['rollback'] }, { name: 'dd3', trigger: ['retrian'] }], jobs, 'jobs.json')).toThrow('monitor dd3: trigger "retrian" matches no job in jobs.json (jobs: retrain-btc, rollback)')
  })
})

describe('job kinds', () => {
  it('verb jobs become the verb\'s flags, relative times resolved at the run\'s start', () => {
    const now = at('2026-03-10T12:00:00Z')
    expect(resolveTime('-3d', now)).toBe('2026-03-07T12:00:00.000Z')
    expect(resolveTime('-90m', now)).toBe('2026-03-10T10:30:00.000Z')
    expect(resolveTime('now', now)).toBe('2026-03-10T12:00:00.000Z')
    expect(resolveTime('2025-01-01', now)).toBe('2025-01-01')
    expect(verbFlags('ingest', { exchange: 'binance', symbols: ['BTC/USDT', 'ETH/USDT'], timeframe: '1h', since: '-2w', apiUrl: 'http://127.0.0.1:9/' }, now)).toEqual(['--exchange', 'binance', '--symbols', 'BTC/USDT,ETH/USDT', '--timeframe', '1h', '--since', '2026-02-24T12:00:00.000Z', '--api-url', 'http://127.0.0.1:9/'])
    expect(verbFlags('pipeline', { symbols: 'A,B,C', topK: 2, guardrails: false, hyper: ['maxDepth=3', 'minLeaf=5'], end: 'now' }, now)).toEqual(['--symbols', 'A,B,C', '--end', '2026-03-10T12:00:00.000Z', '--hyper', 'maxDepth=3', '--hyper', 'minLeaf=5', '--no-guardrails', '--top-k', '2'])
    expect(verbFlags('pipeline', { symbols: ['A', 'B'], guardrails: true }, now)).toEqual(['--symbols', 'A,B'])
  })

  it('a monitor job calls lib/monitor\'s evaluateMonitors at the run\'s start; an unknown monitor fails the run', async () => {
    const h = home()
    mkdirSync(join(h, 'monitor'))
    writeFileSync(join(h, 'monitor', 'monitors.json'), JSON.stringify({ monitors: [] }))
    const clock = new ManualClock(at('2026-01-05T10:00:00Z'))
    const scheduler = new Scheduler({ home: h, clock, jobs: [job({ name: 'watch', cron: '*/5 * * * *' }), job({ name: 'watch-one', cron: '*/5 * * * *', args: { monitors: ['btc-drift'] } })] })
    const [ok, bad] = await Promise.all([...scheduler.runTrigger('watch'), ...scheduler.runTrigger('watch-one')])
    expect(ok).toMatchObject({ status: 'ok', outcome: { summary: 'no job triggered', triggers: [] } })
    expect(bad).toMatchObject({ status: 'failed', error: 'no monitor named "btc-drift" in $MTFLOW_HOME/monitor/monitors.json' })
  })
})

describe('bad input', () => {
  const one = (j: Record<string, unknown>) => () => parseJobs({ jobs: [{ name: 'j', cron: '0 * * * *', kind: 'monitor', args: {}, ...j }] })
  it('one line naming the job and what was expected', () => {
    expect(one({ cron: '61 * * * *' })).toThrow(/^job j: cron "61 \* \* \* \*" is not a valid cron expression \(.*minute.*\); expected 5 or 6 fields/)
    expect(one({ cron: 'every day' })).toThrow('job j: cron "every day" is not a valid cron expression')
    expect(one({ cron: '0 0 30 2 *' })).toThrow('job j: cron "0 0 30 2 *" never fires (no date matches it); expected a schedule that runs')
    expect(one({ kind: 'backup' })).toThrow('job j: kind must be one of ingest, retrain, reoptimise, monitor, report, pipeline (received "backup")')
    expect(one({ timezone: 'Mars/Olympus' })).toThrow('job j: timezone must be an IANA time zone such as "Europe/London" (received "Mars/Olympus")')
    expect(one({ missed: 'all' })).toThrow('job j: missed must be "skip" or "run-once" (received "all")')
    expect(one({ retries: -1 })).toThrow('job j: retries must be an integer in [0, 100] (received -1)')
    expect(one({ timeoutMs: 0 })).toThrow('job j: timeoutMs must be an integer ≥ 1 (received 0)')
    expect(one({ kind: 'retrain', args: {} })).toThrow('job j: retrain jobs need args.model')
    expect(one({ kind: 'retrain', args: { model: 'm@champion' } })).toThrow('job j: args.model is a model name without @')
    expect(one({ kind: 'report', args: { experiment: 'e', when: 'now' } })).toThrow('job j: report jobs take no args.when; they take experiment, filter, out')
    expect(one({ kind: 'ingest', args: { exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since: 'yesterday' } })).toThrow('job j: args.since must be an ISO date/time, "now" or a time before the run such as "-3d"')
    expect(one({ kind: 'ingest', args: { exchange: 'binance', symbols: 'BTC/USDT', timeframe: '1h', since: '-3d', apiUrl: 'file:///etc/passwd' } })).toThrow('job j: args.apiUrl must be an http(s) URL (received "file:///etc/passwd")')
    expect(one({ kind: 'reoptimise', args: { strategy: 's', symbol: 'X', timeframe: '1d', metric: 'luck' } })).toThrow('job j: args.metric must be one of sharpe, sortino, calmar, totalReturn, cagr (received "luck")')
    expect(one({ schedule: 'daily' })).toThrow('job j: unknown field "schedule"')
    expect(one({ kind: 'report', args: { experiment: 'e', out: '../../etc/cron.d/x' } })).toThrow('job j: args.out must be a path inside the workspace, relative to it, without .. (received "../../etc/cron.d/x")')
    expect(one({ kind: 'report', args: { experiment: 'e', out: '/tmp/x.html' } })).toThrow('job j: args.out must be a path inside the workspace')
    // A pipeline job's files too (it wrote its out dir anywhere and read any caps file: an attack review).
    const pipe = (args: Record<string, unknown>) => one({ kind: 'pipeline', args: { symbols: ['DAX', 'CAC'], ...args } })
    expect(pipe({ outDir: '/tmp/outside' })).toThrow('job j: args.outDir must be a path inside the workspace, relative to it, without .. (received "/tmp/outside")')
    expect(pipe({ outDir: 'a/../../x' })).toThrow('job j: args.outDir must be a path inside the workspace')
    expect(pipe({ caps: '/etc/passwd' })).toThrow('job j: args.caps must be a path inside the workspace')
    expect(pipe({ positions: '..\\x.json' })).toThrow('job j: args.positions must be a path inside the workspace')
    // Names of Object.prototype are not args (they passed `key in table`).
    for (const key of ['toString', 'constructor', 'hasOwnProperty']) expect(pipe({ [key]: 'x' })).toThrow(`job j: pipeline jobs take no args.${key}`)
    expect(() => parseJobs(JSON.parse('{"jobs":[{"name":"j","cron":"* * * * *","kind":"report","args":{"experiment":"e","__proto__":{"out":"y"}}}]}'))).toThrow('job j: report jobs take no args.__proto__')
    expect(verbFlags('pipeline', { symbols: ['A', 'B'], outDir: 'out/pairs', caps: 'caps.json' }, 0, '/ws')).toEqual(['--symbols', 'A,B', '--caps', '/ws/caps.json', '--out-dir', '/ws/out/pairs'])
    expect(one({ args: { monitors: 'btc-drift' } })).toThrow('job j: args.monitors must be an array of strings (received "btc-drift")')
    expect(one({ kind: 'reoptimise', args: { strategy: 's', symbol: 'X', timeframe: '1d', search: { fast: [50, 5] } } })).toThrow('job j: args.search must be an object of param ranges such as { "fast": [5, 50] } (min < max)')
    expect(() => parseJobs({ jobs: [{ name: 'a b', cron: '* * * * *', kind: 'monitor' }] })).toThrow('jobs[0]: name must be 1–64 letters, digits, . _ - (received "a b")')
    expect(() => parseJobs({ jobs: [{ name: 'j', cron: '* * * * *', kind: 'monitor' }, { name: 'j', cron: '0 * * * *', kind: 'monitor' }] })).toThrow('job j is declared twice in jobs file; job names must be unique')
    expect(() => parseJobs([])).toThrow('jobs file must be a JSON object { "jobs": [ … ] }')
  })

  it('a jobs file that is not JSON is named; no file means no jobs', () => {
    const h = home()
    expect(readJobs(h).jobs).toEqual([])
    mkdirSync(join(h, 'scheduler'))
    writeFileSync(join(h, 'scheduler', 'jobs.json'), '{ "jobs": [ ')
    expect(() => readJobs(h)).toThrow(`jobs file ${join(h, 'scheduler', 'jobs.json')} is not valid JSON`)
  })
})
