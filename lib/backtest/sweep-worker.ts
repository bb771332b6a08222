// The loop of a sweep worker thread: load the strategy once (a built-in by name, or a file through
// the require hook), then answer each chunk of parameter sets with their metrics, memoising
// indicators across the chunks it is given.

import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'
import type { Bars } from '../data/index.js'
import { getStrategy, indicatorCache, indicatorSource, isStrategyFile, pickStrategy, type Strategy } from '../strategy/index.js'
import { runSet, type SweepOptions } from './sweep.js'

interface Init {
  spec: string
  bars: Bars
  options: SweepOptions
  engine: 'vector' | 'event'
  periodsPerYear: number
}

const init = workerData as Init
let strategy: Strategy<any> | undefined
let failure: string | undefined
try {
  if (isStrategyFile(init.spec)) {
    const load = createRequire(`${process.cwd()}/`)
    strategy = pickStrategy(load(init.spec) as Record<string, unknown>, init.spec)
  } else strategy = getStrategy(init.spec)
} catch (error) {
  failure = `sweep worker: ${error instanceof Error ? error.message : String(error)}`
}
const indicator = indicatorSource(init.bars, indicatorCache(init.options.cacheBytes))

parentPort!.on('message', (msg: { from: number; sets: Record<string, number>[] }) => {
  if (failure !== undefined) {
    parentPort!.postMessage({ from: msg.from, error: failure })
    return
  }
  try {
    const metrics = msg.sets.map((set) => runSet(strategy!, set, init.bars, init.options, init.engine, indicator, init.periodsPerYear))
    parentPort!.postMessage({ from: msg.from, metrics })
  } catch (error) {
    parentPort!.postMessage({ from: msg.from, error: error instanceof Error ? error.message : String(error) })
  }
})
