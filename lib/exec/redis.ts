// Redis for the bullmq executor and `mtflow worker`: one URL (--redis, else MTFLOW_REDIS_URL), checked
// within 5 s, and the names everything lives under.

// ioredis (41 modules) loads when a connection is made, not with lib (lib/index.ts re-exports this file's names).
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Redis, RedisOptions } from 'ioredis'
import { ConfigError } from '../core/index.js'

/** BullMQ's key prefix for mtflow's queues (keys `mtflow:jobs:…`, `mtflow:flows:…`). */
export const PREFIX = 'mtflow'
/** The queue of jobs (one item each) and the queue of flows (a batch's parent, which gathers results). */
export const JOBS_QUEUE = 'jobs'
export const FLOWS_QUEUE = 'flows'

export const keys = {
  context: (hash: string) => `${PREFIX}:x:ctx:${hash}`,
  result: (id: string) => `${PREFIX}:x:result:${id}`,
  cancel: (flow: string) => `${PREFIX}:x:cancel:${flow}`,
  job: (id: string) => `${PREFIX}:${JOBS_QUEUE}:${id}`,
}

/** Contexts and results are kept a week (a re-run within it reuses them). */
export const KEEP_SECONDS = 7 * 24 * 3600

/** The URL as it may be printed: without a password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString().replace(/\/$/, '')
  } catch {
    return url.slice(0, 200)
  }
}

export function redisUrl(given: string | undefined): string {
  const url = given ?? process.env.MTFLOW_REDIS_URL
  if (url === undefined || url === '') throw new ConfigError('the bullmq executor needs a Redis URL: --redis redis://host:6379 or MTFLOW_REDIS_URL')
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new ConfigError(`--redis must be a redis:// or rediss:// URL (received ${JSON.stringify(url.slice(0, 200))})`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ConfigError(`--redis must be a redis:// or rediss:// URL (received ${JSON.stringify(redactUrl(url))})`)
  return url
}

/** Options BullMQ needs on every connection (blocking commands wait for as long as they must). */
export function connectionOptions(url: string): RedisOptions {
  const u = new URL(url)
  return {
    host: u.hostname,
    port: u.port === '' ? 6379 : Number(u.port),
    ...(u.username === '' ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) || 0 } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    // Back off to 2 s between reconnection attempts (a restarted Redis is found again).
    retryStrategy: (times: number) => Math.min(2000, 100 * times),
  }
}

/** A connection that answered PING within `ms`; a one-line ConfigError naming the URL otherwise. */
export async function connectRedis(url: string, ms = 5000): Promise<Redis> {
  const { Redis: RedisClient } = await import('ioredis')
  const client = new RedisClient({ ...connectionOptions(url), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
  let last = ''
  client.on('error', (error: Error) => {
    last = error.message
  })
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer')), ms)
      }),
    ])
  } catch (error) {
    client.disconnect()
    const why = last || (error instanceof Error ? error.message : String(error))
    throw new ConfigError(`cannot reach Redis at ${redactUrl(url)} within ${Math.round(ms / 1000)} s (${why}); start redis-server or give --redis / MTFLOW_REDIS_URL`)
  } finally {
    clearTimeout(timer)
  }
  client.disconnect()
  // The lasting connection: reconnects on its own (a restarted Redis), commands wait meanwhile.
  const lasting = new RedisClient(connectionOptions(url))
  lasting.on('error', () => undefined)
  return lasting
}

/**
 * The secret that signs jobs and their results (MTFLOW_JOB_KEY, at least 16 characters), shared by the
 * submitters and the workers, or undefined (jobs are then not authenticated: whoever can write to the Redis
 * can make the workers run code). From the environment only: an argument shows in every local user's
 * process list.
 */
export function jobKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const key = env.MTFLOW_JOB_KEY
  if (key === undefined || key === '') return undefined
  if (key.length < 16) throw new ConfigError(`MTFLOW_JOB_KEY must be at least 16 characters, a random secret the submitters and the workers share (received ${key.length})`)
  return key
}

/** HMAC-SHA256 of a job (its context hash and item) or a result (its job id and value), hex. */
export function signature(key: string, what: 'job' | 'result', id: string, text: string): string {
  return createHmac('sha256', key).update(`${what}\n${id}\n${text}`).digest('hex')
}

/** Whether `given` is the signature `expected` (compared in constant time). */
export function sameSignature(given: unknown, expected: string): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected))
}

const SEAL = 'sig:'

/** A job's result as stored in Redis: with a key, its signature on a first line ("sig:HEX"). */
export function sealResult(key: string | undefined, id: string, encoded: string): string {
  return key === undefined ? encoded : `${SEAL}${signature(key, 'result', id, encoded)}\n${encoded}`
}

/**
 * A stored result's value, or undefined when a key is set and the result is not signed with it (forged by
 * a party with access to the Redis, or written by a worker without the key). An encoded value is JSON, so it
 * never starts with "sig:".
 */
export function openResult(key: string | undefined, id: string, stored: string): string | undefined {
  if (!stored.startsWith(SEAL)) return key === undefined ? stored : undefined
  const line = stored.indexOf('\n')
  if (line < 0) return undefined
  const encoded = stored.slice(line + 1)
  if (key === undefined) return encoded
  return sameSignature(stored.slice(SEAL.length, line), signature(key, 'result', id, encoded)) ? encoded : undefined
}
