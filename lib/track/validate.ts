// Checks on what a caller logs, once, on entry: key names, value types and sizes (MLflow's limits).
// Errors name the field and say what was expected.

import { ConfigError, dict } from '../core/index.js'
import type { LogBatch, MetricInput, ParamValue } from './types.js'

const KEY = /^[\w\-. /:]{1,250}$/
export const MAX_PARAM_LENGTH = 6000
export const MAX_TAG_LENGTH = 8000

export function checkKey(kind: string, key: string): void {
  if (typeof key !== 'string' || !KEY.test(key) || key.startsWith('/') || key.trim() !== key || key.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new ConfigError(`${kind} name ${JSON.stringify(key)} is invalid: expected 1–250 characters of letters, digits, _ - . / : and space (no leading or trailing space, no empty, . or .. between slashes)`)
  }
  // Stored as a property of a plain object it would set the object's prototype instead: lost, or worse.
  if (key === '__proto__') throw new ConfigError(`${kind} name "__proto__" is reserved; choose another`)
}

export interface CheckedBatch {
  metrics: { key: string; value: number; step: number; timestamp: number }[]
  params: Record<string, string>
  tags: Record<string, string>
}

export function checkBatch(batch: LogBatch, now = Date.now()): CheckedBatch {
  if (batch === null || typeof batch !== 'object') throw new ConfigError(`a log batch must be an object with metrics, params and/or tags (received ${String(batch)})`)
  const metrics = (batch.metrics ?? []).map((m) => checkMetric(m, now))
  const params = dict<string>()
  for (const [k, v] of Object.entries(batch.params ?? {})) params[k] = checkParam(k, v)
  const tags = dict<string>()
  for (const [k, v] of Object.entries(batch.tags ?? {})) {
    checkKey('tag', k)
    if (typeof v !== 'string') throw new ConfigError(`tag ${k} must be a string (received ${typeof v})`)
    if (v.length > MAX_TAG_LENGTH) throw new ConfigError(`tag ${k} is ${v.length} characters; at most ${MAX_TAG_LENGTH} are kept`)
    tags[k] = v
  }
  return { metrics, params, tags }
}

function checkMetric(m: MetricInput, now: number): CheckedBatch['metrics'][number] {
  checkKey('metric', m.key)
  if (typeof m.value !== 'number') throw new ConfigError(`metric ${m.key} must be a number (received ${typeof m.value} ${JSON.stringify(m.value)})`)
  const step = m.step ?? 0
  if (!Number.isSafeInteger(step)) throw new ConfigError(`metric ${m.key}: step must be an integer (received ${String(m.step)})`)
  const timestamp = m.timestamp ?? now
  if (!Number.isFinite(timestamp) || timestamp < 0) throw new ConfigError(`metric ${m.key}: timestamp must be epoch milliseconds ≥ 0 (received ${String(m.timestamp)})`)
  return { key: m.key, value: m.value, step, timestamp }
}

export function checkParam(key: string, value: ParamValue): string {
  checkKey('param', key)
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new ConfigError(`param ${key} must be a string, number or boolean (received ${value === null ? 'null' : typeof value})`)
  }
  const text = String(value)
  if (text.length > MAX_PARAM_LENGTH) throw new ConfigError(`param ${key} is ${text.length} characters; at most ${MAX_PARAM_LENGTH} are kept`)
  return text
}
