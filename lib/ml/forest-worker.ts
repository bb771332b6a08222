// The loop of a forest worker thread: the binned data arrives once (shared memory), then each message
// names a tree to grow; the tree goes back as typed arrays (transferred, not copied).

import { parentPort, workerData } from 'node:worker_threads'
import { growForestTree, type ForestJob } from './forest.js'

const job = workerData as ForestJob

parentPort!.on('message', (i: number) => {
  try {
    const { nodes, importance } = growForestTree(job, i)
    const packed = {
      i,
      feature: Int32Array.from(nodes.feature),
      threshold: Float64Array.from(nodes.threshold),
      left: Int32Array.from(nodes.left),
      right: Int32Array.from(nodes.right),
      value: Float64Array.from(nodes.value),
      importance,
    }
    parentPort!.postMessage(packed, [packed.feature.buffer, packed.threshold.buffer, packed.left.buffer, packed.right.buffer, packed.value.buffer, importance.buffer as ArrayBuffer])
  } catch (error) {
    parentPort!.postMessage({ i, error: error instanceof Error ? error.message : String(error) })
  }
})
