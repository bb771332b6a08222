import { describe, expect, it } from 'vitest'
import { Progress, formatProgress, formatSeconds, streamProgressSink, type ProgressState } from '../../lib/core/index.js'

describe('progress', () => {
  const state = (done: number, total: number | undefined, finished = false): ProgressState => ({ label: 'job', done, total, startedAt: 0, finished })

  it('formats a bar with count, percent, elapsed time and an ETA', () => {
    // 3 of 12 done after 3 s: 25 %, the remaining 9 take 9 s at the same pace.
    expect(formatProgress(state(3, 12), 3000, 8)).toBe('job  [##······]  3/12   25%  3.0s  eta 9.0s')
    expect(formatProgress({ ...state(12, 12, true), detail: 'done' }, 4000, 8)).toBe('job  [########]  12/12  100%  4.0s · done')
    expect(formatProgress(state(7, undefined), 1500)).toBe('job  7  1.5s')
    expect(formatSeconds(125)).toBe('2m05s')
  })

  it('throttles updates but always delivers the first and the last', () => {
    const seen: number[] = []
    const bar = new Progress({ total: 1000, sink: { update: (s) => seen.push(s.done) }, throttleMs: 60_000 })
    for (let i = 0; i < 1000; i++) bar.tick()
    bar.finish()
    expect(seen).toEqual([0, 1000])
    expect(() => new Progress({ total: -1 })).toThrow('progress total must be a finite number ≥ 0 (received -1)')
  })

  it('redraws in place on a terminal and writes plain lines elsewhere', () => {
    let tty = ''
    const sink = streamProgressSink({ write: (t: string) => (tty += t), isTTY: true })
    sink.update(state(1, 2))
    sink.update(state(2, 2, true))
    expect(tty.startsWith('\r\x1b[2K')).toBe(true)
    expect(tty.endsWith('\n')).toBe(true)
    let log = ''
    const plain = streamProgressSink({ write: (t: string) => (log += t) }, { lineEveryMs: 60_000, now: () => 0 })
    plain.update(state(0, 3))
    plain.update(state(3, 3, true))
    expect(log.split('\n').filter((l) => l !== '')).toHaveLength(2)
    expect(log).not.toContain('\r')
  })
  it('ends at 100 % when the work finishes, even if the last ticks were batched', () => {
    // The engine reports every 65,536 bars: 5,000 of 5,105 seen before finish.
    const seen: ProgressState[] = []
    const bar = new Progress({ total: 5105, sink: { update: (s) => seen.push(s) }, throttleMs: 0 })
    bar.set(5000)
    bar.finish('5,105 bars')
    const last = seen[seen.length - 1]!
    expect(last.done).toBe(5105)
    expect(last.finished).toBe(true)
    expect(formatProgress(last, last.startedAt, 8)).toBe('[########]  5105/5105  100%  0.0s · 5,105 bars')
  })

  it('without a terminal writes the start, one line per tenth and the end, never the same line twice', () => {
    let log = ''
    let clock = 0
    const sink = streamProgressSink({ write: (t: string) => (log += t) }, { now: () => clock })
    const bar = new Progress({ label: 'sweep', total: 5105, sink, throttleMs: 0 })
    bar.set(0) // a second report of 0/5105 (the doubled first line)
    for (let i = 1; i <= 5100; i++) {
      clock += 1
      bar.set(i)
    }
    bar.finish()
    const lines = log.split('\n').filter((l) => l !== '')
    // Tenths of 5105 are crossed at ceil(510.5 k): 511, 1021, 1532, 2042, 2553, 3063, 3574, 4084, 4595.
    expect(lines.map((l) => / (\d+)\/5105 /.exec(l)?.[1])).toEqual(['0', '511', '1021', '1532', '2042', '2553', '3063', '3574', '4084', '4595', '5105'])
    expect(lines[lines.length - 1]).toContain('100%')
    expect(log).not.toContain('\r')
  })

  it('without a terminal, a total of 0 is one line, not the same line twice (a new-user review: an empty sweep)', () => {
    let log = ''
    const sink = streamProgressSink({ write: (t: string) => (log += t) }, { now: () => 0 })
    new Progress({ label: 'sweep sma-cross', total: 0, sink, throttleMs: 0 }).finish()
    expect(log.split('\n').filter((l) => l !== '')).toHaveLength(1)
    let withDetail = ''
    const other = streamProgressSink({ write: (t: string) => (withDetail += t) }, { now: () => 0 })
    new Progress({ label: 'x', total: 0, sink: other, throttleMs: 0 }).finish('nothing to do')
    expect(withDetail.split('\n').filter((l) => l !== '').pop()).toContain('nothing to do')
  })

  it('without a terminal and without a total, writes one line per interval of the injected clock', () => {
    let log = ''
    let clock = 0
    const sink = streamProgressSink({ write: (t: string) => (log += t) }, { lineEveryMs: 1000, now: () => clock })
    const bar = new Progress({ label: 'scan', sink, throttleMs: 0 })
    for (let i = 1; i <= 35; i++) {
      clock += 100 // 3.5 s in all: lines at the start, 1 s, 2 s, 3 s, then the end
      bar.set(i)
    }
    bar.finish()
    expect(log.split('\n').filter((l) => l !== '').map((l) => l.split('  ')[1])).toEqual(['0', '10', '20', '30', '35'])
  })
})
