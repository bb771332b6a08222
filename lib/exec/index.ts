// lib/exec: the executor interface (local worker threads | BullMQ on Redis) used by sweeps, walk-forward
// windows, CV folds, trials and batch backtests; `mtflow worker` is startWorker. It imports only core:
// callers hand it job specs, handlers live in lib/<domain>/jobs.ts. BullMQ and ioredis load only when a
// bullmq executor or a worker starts.

import { ConfigError } from '../core/index.js'
import type { BullmqOptions } from './bullmq-executor.js'
import { LocalExecutor } from './local.js'
import type { Executor } from './types.js'
import type { RunningWorker, WorkerOptions } from './worker.js'

export * from './types.js'
export { LocalExecutor, CancelledError } from './local.js'
export type { BullmqOptions } from './bullmq-executor.js'
export type { WorkerOptions, RunningWorker, WorkerStats } from './worker.js'
export { projectVersion } from './version.js'
export { encodeValue, decodeValue } from './codec.js'
export { shareSeries } from './data.js'
export { redisUrl, redactUrl, JOBS_QUEUE, FLOWS_QUEUE } from './redis.js'

/** The queues a worker serves (bullmq executor). */
export const QUEUES = ['jobs', 'flows'] as const
export { checkKind } from './handlers.js'

export type ExecutorName = 'local' | 'bullmq'

export interface ExecutorSpec extends BullmqOptions {
  /** local (default) or bullmq. */
  executor?: ExecutorName | string
  /** Threads of the local executor (default 1). */
  threads?: number
}

/** The executor a spec names: local threads, or BullMQ on Redis (connected: an unreachable Redis fails here, within 5 s). */
export async function createExecutor(spec: ExecutorSpec = {}): Promise<Executor> {
  const name = spec.executor ?? 'local'
  if (name === 'local') return new LocalExecutor(spec.threads ?? 1)
  if (name === 'bullmq') {
    const { BullmqExecutor } = await load<typeof import('./bullmq-executor.js')>('./bullmq-executor.js')
    return BullmqExecutor.connect(spec)
  }
  throw new ConfigError(`--executor must be local or bullmq (received ${JSON.stringify(String(name).slice(0, 40))})`)
}

/** `mtflow worker`: serve the queues until closed. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const worker = await load<typeof import('./worker.js')>('./worker.js')
  return worker.startWorker(options)
}

/** A module of this folder, loaded when first needed: through require where this code runs as CommonJS
 * (the CLI's and tslab's loaders), import() where it runs as ESM. */
function load<T>(specifier: string): Promise<T> {
  if (typeof require === 'function') {
    try {
      return Promise.resolve(require(specifier) as T)
    } catch (error) {
      // A require that does not map .js to .ts (vitest's): import() resolves it.
      if ((error as { code?: string }).code !== 'MODULE_NOT_FOUND') throw error
    }
  }
  return import(specifier) as Promise<T>
}
export { moduleRef, loadModuleRef, type ModuleRef } from './module-ref.js'
