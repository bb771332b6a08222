// Handing jobs to worker threads as they come free: the sweep's parameter chunks, the forest's trees.
// Each reply is handled in this thread as it arrives; a handler that throws, a worker error or a worker
// that exits early fails the whole run; every worker is terminated at the end either way.

import { Worker } from 'node:worker_threads'
import { MtflowError } from './errors.js'

export interface PoolOptions<J, R> {
  /** The worker's entry file (a .cjs that registers tsx and loads the TypeScript loop). */
  file: string
  workerData: unknown
  workers: number
  /** One message per job, sent in order to whichever worker is free. */
  jobs: readonly J[]
  /** A reply (one per job); throw to stop the run. */
  onReply(reply: R): void
  /** Names the workers in errors ("forest worker exited with code 1"). */
  label: string
  /**
   * The worker each job should go to (jobs sharing state, like a sweep's memoised indicators, kept on
   * one worker). A worker takes its own jobs in order; when none are left it takes the last job of the
   * worker with the most left. Without it, jobs go in order to whichever worker is free.
   */
  affinity?(job: J, index: number): number
}

export async function runWorkerPool<J, R>(o: PoolOptions<J, R>): Promise<void> {
  const pool = Array.from({ length: Math.max(1, Math.min(o.workers, o.jobs.length)) }, () => new Worker(o.file, { workerData: o.workerData }))
  // One queue (no affinity) or one per worker.
  const queues: J[][] = Array.from({ length: o.affinity === undefined ? 1 : pool.length }, () => [])
  o.jobs.forEach((job, k) => queues[o.affinity === undefined ? 0 : Math.abs(Math.trunc(o.affinity(job, k))) % pool.length]!.push(job))
  const heads = queues.map(() => 0)
  const take = (w: number): J | undefined => {
    const own = o.affinity === undefined ? 0 : w
    if (heads[own]! < queues[own]!.length) return queues[own]![heads[own]!++]
    let most = -1
    for (let q = 0; q < queues.length; q++) if (queues[q]!.length - heads[q]! > 0 && (most < 0 || queues[q]!.length - heads[q]! > queues[most]!.length - heads[most]!)) most = q
    return most < 0 ? undefined : queues[most]!.pop()
  }
  try {
    await Promise.all(
      pool.map(
        (worker, w) =>
          new Promise<void>((resolve, reject) => {
            const send = () => {
              const job = take(w)
              if (job === undefined) resolve()
              else worker.postMessage(job)
            }
            worker.on('message', (reply: R) => {
              try {
                o.onReply(reply)
              } catch (error) {
                reject(error)
                return
              }
              send()
            })
            worker.on('error', reject)
            worker.on('exit', (code) => {
              if (code !== 0) reject(new MtflowError(`${o.label} worker exited with code ${code}`))
            })
            send()
          }),
      ),
    )
  } finally {
    await Promise.all(pool.map((w) => w.terminate()))
  }
}
