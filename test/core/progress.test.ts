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
    const plain = streamProgressSink({ write: (t: string) => (log += t) }, { lineEveryMs: 60_000 })
    plain.update(state(0, 3))
    plain.update(state(1, 3))
    plain.update(state(3, 3, true))
    expect(log.split('\n').filter((l) => l !== '')).toHaveLength(2)
    expect(log).not.toContain('\r')
  })
})
