// The loop of a tuning worker thread: load the objective module once, then run each trial it is sent.
// Suggestions and pruning verdicts come from the main thread synchronously: post the question, sleep on
// the shared flag until the answer is written (the main thread is free meanwhile; this one is not).

import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'
import { ConfigError } from '../core/index.js'
import { Trial, isTrialPruned, type TrialHost } from './trial.js'
import type { Distribution, ParamSet } from './space.js'
import type { Outcome } from './workers.js'

interface Init {
  file: string
  exportName: string
  shared: SharedArrayBuffer
}

const init = workerData as Init
const control = new Int32Array(init.shared, 0, 2)
const data = new Uint8Array(init.shared, 8)
const port = parentPort!

function call(message: object): unknown {
  Atomics.store(control, 0, 0)
  port.postMessage(message)
  Atomics.wait(control, 0, 0)
  const length = Atomics.load(control, 1)
  const answer = JSON.parse(Buffer.from(data.subarray(0, length)).toString('utf8')) as { value?: unknown; error?: string }
  if (answer.error !== undefined) throw new ConfigError(answer.error)
  return answer.value
}

const host: TrialHost = {
  suggest: (number, name, distribution) => call({ type: 'suggest', number, name, distribution }) as string | number | boolean,
  shouldPrune: (number) => call({ type: 'prune', number }) === true,
  report: (number, step, value) => port.postMessage({ type: 'report', number, step, value }),
}

let objective: ((trial: Trial) => unknown) | undefined
try {
  const load = createRequire(`${process.cwd()}/`)
  const mod = load(init.file) as Record<string, unknown>
  const found = mod[init.exportName] ?? (init.exportName === 'default' ? mod : undefined)
  if (typeof found !== 'function') throw new Error(`${init.file} has no function export "${init.exportName}" (exports: ${Object.keys(mod).join(', ') || 'none'})`)
  objective = found as (trial: Trial) => unknown
  port.postMessage({ type: 'ready' })
} catch (error) {
  port.postMessage({ type: 'load-error', message: `objective ${init.file}: ${error instanceof Error ? error.message : String(error)}` })
}

port.on('message', async (msg: { type: 'run'; number: number; params: ParamSet; distributions: Record<string, Distribution> }) => {
  if (msg.type !== 'run' || objective === undefined) return
  let outcome: Outcome
  try {
    const trial = new Trial(msg.number, msg.params, msg.distributions, host)
    outcome = { result: await objective(trial) }
  } catch (error) {
    outcome = isTrialPruned(error) ? { pruned: true } : { error: error instanceof Error ? error.message : String(error) }
  }
  try {
    port.postMessage({ type: 'done', number: msg.number, outcome })
  } catch {
    // The result could not be cloned (a function, a symbol): report that instead.
    port.postMessage({ type: 'done', number: msg.number, outcome: { error: 'the objective returned a value that cannot leave the worker thread' } })
  }
})
