// Finding a job kind's handler: `domain.name` → `jobs[name]` of lib/<domain>/jobs.ts. Only those
// modules load: a kind naming anything else (a path, a prototype key, a folder that is not a domain) is
// refused, so a job from the queue cannot make a worker load code of its choosing.

import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { ConfigError, moduleDir } from '../core/index.js'
import type { JobHandler } from './types.js'

const KIND = /^([a-z]{2,20})\.([A-Za-z][A-Za-z0-9]{0,40})$/

export function checkKind(kind: unknown): { domain: string; name: string } {
  const m = typeof kind === 'string' ? KIND.exec(kind) : null
  if (m === null) throw new ConfigError(`job kind must be domain.name, e.g. backtest.sweep (received ${JSON.stringify(kind)?.slice(0, 80)})`)
  return { domain: m[1]!, name: m[2]! }
}

/** lib/, from this module's place. */
function libDir(): string {
  return join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), '..')
}

/** The handler of a kind (loads lib/<domain>/jobs.ts through the thread's require hook). */
export function loadHandler(kind: string): JobHandler {
  const { domain, name } = checkKind(kind)
  const file = join(libDir(), domain, 'jobs.ts')
  if (!existsSync(file)) throw new ConfigError(`no job kinds in lib/${domain} (job kind ${kind})`)
  const mod = createRequire(file)(file) as { jobs?: Record<string, JobHandler> }
  const jobs = mod.jobs
  const handler = jobs !== undefined && Object.prototype.hasOwnProperty.call(jobs, name) ? jobs[name] : undefined
  if (handler === undefined || typeof handler.run !== 'function') throw new ConfigError(`lib/${domain}/jobs.ts has no job kind ${JSON.stringify(name)} (known: ${Object.keys(jobs ?? {}).join(', ')})`)
  return handler
}
