// `mtflow worker` whose lib/ changes on disk after it started (a `git pull` on a worker machine without a
// restart): its job threads load lib/ lazily, so they would run the new code under the version the worker
// started with, and the results be kept a week under ids that name that version. It must refuse instead.

import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BullmqExecutor } from '../../lib/exec/bullmq-executor.js'
import { projectVersion } from '../../lib/exec/version.js'
import { ROOT } from '../helpers.js'
import { killAll, startRedis, startWorker, type TestRedis } from './redis.js'

let redis: TestRedis
const dirs: string[] = []
const open: { close(): Promise<unknown> }[] = []

beforeAll(async () => {
  projectVersion()
  redis = await startRedis()
}, 60_000)

afterAll(async () => {
  for (const o of open) await o.close().catch(() => undefined)
  killAll()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

describe('mtflow worker whose sources change after it started', () => {
  it('refuses the jobs (no result of the changed code, none kept) instead of running them under its old version', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'mtflow-copy-'))
    const home = mkdtempSync(join(tmpdir(), 'mtflow-home-'))
    dirs.push(copy, home)
    cpSync(join(ROOT, 'lib'), join(copy, 'lib'), { recursive: true })
    for (const f of ['package.json', 'tsconfig.json']) cpSync(join(ROOT, f), join(copy, f))
    for (const entry of readdirSync(ROOT)) if (!['lib', 'package.json', 'tsconfig.json', '.git'].includes(entry)) symlinkSync(join(ROOT, entry), join(copy, entry))
    const worker = await startWorker(['--redis', redis.url, '--concurrency', '1'], { root: copy, home })
    // It started as this process's version…
    expect(worker.stderr).toContain(projectVersion())
    // …then its sources change (exec.echo now answers something else).
    const jobs = join(copy, 'lib', 'exec', 'jobs.ts')
    const before = readFileSync(jobs, 'utf8')
    const after = before.replace('echo: { run: (_state: unknown, item: unknown) => item }', 'echo: { run: (_state: unknown, item: unknown) => ({ changed: item }) }')
    expect(after).not.toBe(before)
    writeFileSync(jobs, after)
    const ex = await BullmqExecutor.connect({ redis: redis.url, pollMs: 50 })
    open.push(ex)
    const out = await ex.run({ kind: 'exec.echo', context: { salt: randomUUID() }, items: [1, 2] })
    expect(out.filter((o) => o.ok)).toEqual([])
    for (const o of out) expect((o as { error: string }).error).toContain('changed on disk')
    const client = new Redis({ host: '127.0.0.1', port: redis.port })
    expect(await client.keys('mtflow:x:result:*')).toEqual([])
    client.disconnect()
    expect(worker.stderr).toContain('refuses every job')
  })
})
