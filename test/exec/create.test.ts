// createExecutor, as notebooks and library callers use it: local threads by default, BullMQ loaded only
// when asked for (and found under any loader), an unreachable Redis or an unknown name said in one line.

import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { createExecutor, LocalExecutor } from '../../lib/exec/index.js'
import { freePort } from './redis.js'

describe('createExecutor', () => {
  it('makes local threads by default, and refuses what it does not know', async () => {
    const local = await createExecutor({ threads: 3 })
    expect(local).toBeInstanceOf(LocalExecutor)
    expect(local.describe).toBe('3 threads')
    await expect(createExecutor({ executor: 'celery' })).rejects.toThrow('--executor must be local or bullmq (received "celery")')
    await expect(createExecutor({ executor: 'bullmq', redis: 'http://127.0.0.1:6379' })).rejects.toThrow(/--redis must be a redis:\/\/ or rediss:\/\/ URL/)
  })

  it('loads the bullmq executor on demand and names an unreachable Redis in one line', async () => {
    const port = await freePort()
    const error = await createExecutor({ executor: 'bullmq', redis: `redis://127.0.0.1:${port}` }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect(String((error as Error).message)).toMatch(new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${port} within 5 s`))
    expect((error as Error).message).not.toContain('\n')
  })
})
