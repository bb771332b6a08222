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
}

export async function runWorkerPool<J, R>(o: PoolOptions<J, R>): Promise<void> {
  let next = 0
  const pool = Array.from({ length: Math.max(1, Math.min(o.workers, o.jobs.length)) }, () => new Worker(o.file, { workerData: o.workerData }))
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const send = () => {
              if (next >= o.jobs.length) resolve()
              else worker.postMessage(o.jobs[next++])
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
