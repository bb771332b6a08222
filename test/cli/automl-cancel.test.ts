// Ctrl-C on `mtflow automl --executor bullmq` (a real redis-server and `mtflow worker`): the wave's flow is
// cancelled — exit 130, one line, no job of it left waiting in Redis for the workers to run for nobody —
// as `mtflow sweep` does. (train and gated batches go through the same wrapper, lib/cli/context.ts.)

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue } from 'bullmq'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers.js'
import { errorLines, killAll, startRedis, startWorker, type TestRedis } from '../exec/redis.js'

let redis: TestRedis
let home: string
let queue: Queue

beforeAll(async () => {
  redis = await startRedis()
  home = mkdtempSync(join(tmpdir(), 'mtflow-automl-cancel-'))
  const samples = await runCli(['--home', home, 'data', 'samples'])
  expect(samples.code, errorLines(samples.stderr)).toBe(0)
  await startWorker(['--redis', redis.url, '--concurrency', '1'], { home })
  queue = new Queue('jobs', { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: 'mtflow' })
  queue.on('error', () => undefined)
}, 120_000)

afterAll(async () => {
  await queue?.close().catch(() => undefined)
  killAll()
  rmSync(home, { recursive: true, force: true })
})

describe('mtflow automl on the bullmq executor', () => {
  it('cancels the wave on Ctrl-C: exit 130, one line, no job left waiting', async () => {
    let pid = 0
    const running = runCli(['--home', home, 'automl', '--strategies', 'sma-cross', '--symbol', 'SPX', '--budget', '3000', '--workers', '64', '--executor', 'bullmq', '--redis', redis.url, '--json'], { onSpawn: (p) => (pid = p) })
    let waiting = 0
    for (let k = 0; k < 600 && waiting < 10; k++) {
      waiting = await queue.getWaitingCount()
      if (waiting < 10) await new Promise((r) => setTimeout(r, 100))
    }
    expect(waiting).toBeGreaterThanOrEqual(10)
    process.kill(pid, 'SIGINT')
    const r = await running
    // Before: killed by the signal at once, its wave's jobs left waiting (the worker ran them all).
    expect(r.signal).toBe(null)
    expect(r.code).toBe(130)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('cancelled')])
    expect(await queue.getWaitingCount()).toBe(0)
  })
})
