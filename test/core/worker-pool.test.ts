// The worker pool: every job answered once; with affinity, each worker starts on its own share in
// order and takes the others' last jobs when its own run out.

import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runWorkerPool } from '../../lib/core/index.js'

const FILE = join(fileURLToPath(new URL('../fixtures/workers', import.meta.url)), 'echo-worker.cjs')

describe('runWorkerPool', () => {
  it('answers every job once, in any order, without affinity', async () => {
    const seen: number[] = []
    await runWorkerPool<{ id: number }, { id: number; thread: number }>({ file: FILE, workerData: { delays: [0] }, workers: 2, jobs: Array.from({ length: 20 }, (_, id) => ({ id })), label: 'test', onReply: (r) => seen.push(r.id) })
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, k) => k))
  })

  it('with affinity: each worker takes its own share first, in order; a free worker takes the last jobs of the other share', async () => {
    // Jobs 0–9 belong to worker 0, 10–19 to worker 1. Worker 1's jobs are slow (30 ms), worker 0's
    // quick: worker 0 finishes its share, then takes worker 1's jobs from the end (19, 18, …).
    const byThread = new Map<number, number[]>()
    await runWorkerPool<{ id: number }, { id: number; thread: number }>({
      file: FILE,
      workerData: { delays: [...Array(10).fill(0), ...Array(10).fill(30)] },
      workers: 2,
      jobs: Array.from({ length: 20 }, (_, id) => ({ id })),
      affinity: (_job, k) => (k < 10 ? 0 : 1),
      label: 'test',
      onReply: (r) => byThread.set(r.thread, [...(byThread.get(r.thread) ?? []), r.id]),
    })
    const lists = [...byThread.values()]
    const first = lists.find((l) => l[0] === 0)!
    const second = lists.find((l) => l[0] === 10)!
    expect(first.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(first.length).toBeGreaterThan(10)
    expect(first.slice(10)).toEqual([19, 18, 17, 16, 15, 14, 13, 12, 11].slice(0, first.length - 10))
    expect(second).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19].slice(0, second.length))
    expect([...first, ...second].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, k) => k))
  })
})
