// Growing a forest's trees across worker threads: the bin codes and targets are copied once into shared
// memory, trees are handed out one at a time as workers come free, and each comes back into its own slot
// (tree i is the same whichever worker grew it).

import { join } from 'node:path'
import { MtflowError, moduleDir, runWorkerPool } from '../core/index.js'
import type { ForestJob, TreeNodes } from './forest.js'

interface Packed {
  i: number
  feature: Int32Array
  threshold: Float64Array
  left: Int32Array
  right: Int32Array
  value: Float64Array
  importance: Float64Array
  error?: string
}

export async function growInWorkers(job: ForestJob, nTrees: number, workers: number): Promise<{ nodes: TreeNodes; importance: Float64Array }[]> {
  const codes = new Uint8Array(new SharedArrayBuffer(job.binned.codes.length))
  codes.set(job.binned.codes)
  const target = new Float64Array(new SharedArrayBuffer(job.target.length * 8))
  target.set(job.target)
  const shared: ForestJob = { ...job, binned: { ...job.binned, codes }, target }
  const file = join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'forest-worker.cjs')
  const out: { nodes: TreeNodes; importance: Float64Array }[] = new Array(nTrees)
  await runWorkerPool<number, Packed>({
    file,
    workerData: shared,
    workers,
    jobs: Array.from({ length: nTrees }, (_, i) => i),
    label: 'forest',
    onReply: (msg) => {
      if (msg.error !== undefined) throw new MtflowError(`forest worker, tree ${msg.i}: ${msg.error}`)
      out[msg.i] = {
        nodes: { feature: Array.from(msg.feature), threshold: Array.from(msg.threshold), left: Array.from(msg.left), right: Array.from(msg.right), value: Array.from(msg.value) },
        importance: msg.importance,
      }
    },
  })
  return out
}
