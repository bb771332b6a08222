// The bullmq executor and `mtflow worker` against a real redis-server (Debian's, on a free loopback
// port, no persistence) and real worker processes: results the same bit for bit as the local executor's,
// a worker killed with -9 mid-job, Redis restarted mid-batch, strategies that throw, an unreachable
// Redis, a worker of another version, reuse of finished results, Ctrl-C on the submitter, hostile jobs.

import { randomUUID } from 'node:crypto'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue, QueueEvents } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sweep, type SweepResult } from '../../lib/backtest/index.js'
import { barsHash, loadBars, resolveKey } from '../../lib/data/index.js'
import { BullmqExecutor } from '../../lib/exec/bullmq-executor.js'
import { canonicalJson, sha256 } from '../../lib/core/index.js'
import { encodeValue } from '../../lib/exec/codec.js'
import { signature } from '../../lib/exec/redis.js'
import { CancelledError, LocalExecutor } from '../../lib/exec/local.js'
import { projectVersion } from '../../lib/exec/version.js'
import { Tracker } from '../../lib/track/index.js'
import { getStrategy } from '../../lib/strategy/index.js'
import { intRange } from '../../lib/tune/index.js'
import { walkForwardOptimize } from '../../lib/tune/walk-forward.js'
import { ROOT, runCli, sameBits, waitFor } from '../helpers.js'
import { errorLines, freePort, killAll, startRedis, startWorker, type TestRedis, type TestWorker } from './redis.js'

let redis: TestRedis
let home: string
let workers: TestWorker[] = []
let client: Redis
let jobsQueue: Queue
const open: { close(): Promise<unknown> }[] = []
const dirs: string[] = []

const connection = () => ({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null })
const workerArgs = () => ['--redis', redis.url, '--concurrency', '1', '--stalled-ms', '2000']

/** Whether the test's Redis answers. */
async function pingable(): Promise<boolean> {
  return (await Promise.race([client.ping().then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))])) === true
}

function local2(): LocalExecutor {
  const ex = new LocalExecutor(2)
  open.push(ex)
  return ex
}

async function executor(notices: string[] = []): Promise<BullmqExecutor> {
  const ex = await BullmqExecutor.connect({ redis: redis.url, backoffMs: 100, pollMs: 50, onNotice: (line) => notices.push(line) })
  open.push(ex)
  return ex
}

/** Every metric of every row equal bit for bit (Object.is: NaN equals NaN, -0 differs from 0). */
function expectSameRows(a: SweepResult, b: SweepResult): void {
  expect(a.rows.length).toBeGreaterThan(0)
  expect(b.rows.map((r) => r.params)).toEqual(a.rows.map((r) => r.params))
  a.rows.forEach((row, k) => {
    const other = b.rows[k]!
    expect(Object.keys(other.metrics).sort()).toEqual(Object.keys(row.metrics).sort())
    for (const [name, v] of Object.entries(row.metrics)) {
      if (!Object.is(v, (other.metrics as unknown as Record<string, number>)[name])) throw new Error(`row ${k} ${JSON.stringify(row.params)} ${name}: ${v} ≠ ${(other.metrics as unknown as Record<string, number>)[name]}`)
    }
  })
  expect(b.failed).toEqual(a.failed)
  expect(b.skipped).toEqual(a.skipped)
}

/** Completed events per job id on the jobs queue while `work` runs, and until `settled` holds after it. */
async function countCompleted<T>(work: () => Promise<T>, settled: (completed: Map<string, number>) => boolean): Promise<{ result: T; completed: Map<string, number>; active: number }> {
  const events = new QueueEvents('jobs', { connection: connection(), prefix: 'mtflow' })
  events.on('error', () => undefined)
  await events.waitUntilReady()
  const completed = new Map<string, number>()
  let active = 0
  events.on('completed', ({ jobId }) => completed.set(jobId, (completed.get(jobId) ?? 0) + 1))
  events.on('active', () => active++)
  try {
    const result = await work()
    // Events trail the flow's end a little: wait until those of every finished job are in.
    await waitFor(() => settled(completed), 20_000, 20)
    return { result, completed, active }
  } finally {
    await events.close()
  }
}

function strategyFile(name: string, body: string): string {
  const file = join(home, `${name}.ts`)
  writeFileSync(
    file,
    `import { defineStrategy } from '${join(ROOT, 'lib/strategy/index.js')}'
export default defineStrategy({
  name: '${name}',
  params: { fast: { kind: 'int', default: 10, min: 2, max: 100, description: 'fast' } },
  universe: (_p, r) => [{ symbol: r.symbols[0], timeframe: r.timeframe }],
  warmup: () => 1,
${body}
})
`,
  )
  return file
}

beforeAll(async () => {
  // This process's version, read as the workers read theirs (lib/ must not change meanwhile).
  projectVersion()
  redis = await startRedis()
  home = mkdtempSync(join(tmpdir(), 'mtflow-bullmq-'))
  dirs.push(home)
  const samples = await runCli(['--home', home, 'data', 'samples'])
  expect(samples.code, errorLines(samples.stderr)).toBe(0)
  workers = await Promise.all([0, 1, 2].map(() => startWorker(workerArgs(), { home })))
  client = new Redis(connection())
  client.on('error', () => undefined)
  jobsQueue = new Queue('jobs', { connection: connection(), prefix: 'mtflow' })
  jobsQueue.on('error', () => undefined)
}, 120_000)

afterAll(async () => {
  for (const o of open) await o.close().catch(() => undefined)
  await jobsQueue?.close().catch(() => undefined)
  client?.disconnect()
  killAll()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

describe('bullmq executor with mtflow worker processes', () => {
  it('gives the local executor\'s sweep table bit for bit (library, vector and event engines)', async () => {
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const source = resolveKey(home, { symbol: 'SPX', timeframe: '1d' }).source
    const dataRef = { snapshot: barsHash(bars, source), query: { symbol: 'SPX', timeframe: '1d', source } }
    const ex = await executor()
    for (const [engine, grid] of [
      ['vector', { fast: { min: 5, max: 50, step: 5 }, slow: { min: 20, max: 200, step: 30 } }],
      ['event', { fast: [5, 12, 30], slow: [20, 60] }],
    ] as const) {
      const local = await sweep('sma-cross', grid, bars, { executor: local2(), engine })
      const remote = await sweep('sma-cross', grid, bars, { executor: ex, dataRef, chunk: 3, engine })
      expect(remote.engine).toBe(engine)
      expect(remote.executor).toBe(redis.url)
      expectSameRows(local, remote)
    }
  })

  it('gives the walk-forward report of one thread, bit for bit, with its windows on the workers', async () => {
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const source = resolveKey(home, { symbol: 'SPX', timeframe: '1d' }).source
    const dataRefs = { SPX: { snapshot: barsHash(bars, source), query: { symbol: 'SPX', timeframe: '1d', source } } }
    const options = { data: { SPX: bars }, symbols: ['SPX'], timeframe: '1d', fills: { takerRate: 0.0005 }, cash: 100_000, strategy: getStrategy('sma-cross'), inSample: 1000, outOfSample: 1000, space: { fast: intRange(5, 30), slow: intRange(40, 150) }, seed: 3, nTrials: 4, pboConfigs: 4, pboPartitions: 4 }
    const here = await walkForwardOptimize(options)
    const there = await walkForwardOptimize({ ...options, executor: await executor(), dataRefs })
    expect(here.windows.length).toBeGreaterThanOrEqual(3)
    expect(sameBits(there, here)).toBe('')
  })

  it('gives the local executor\'s sweep table through the CLI (sweep --json both ways)', async () => {
    const args = ['--home', home, 'sweep', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast=3:30:3', '--grid', 'slow=40:120:20', '--no-track', '--json']
    const [local, remote] = await Promise.all([runCli([...args, '--workers', '2']), runCli([...args, '--executor', 'bullmq', '--redis', redis.url, '--chunk', '5'])])
    expect(local.code, local.stderr).toBe(0)
    expect(remote.code, remote.stderr).toBe(0)
    const a = JSON.parse(local.stdout)
    const b = JSON.parse(remote.stdout)
    expect(b.executor).toBe(redis.url)
    expect(a.rows.length).toBe(50)
    // The JSON text of the numbers: the shortest text that reads back to the same double.
    expect(JSON.stringify(b.rows)).toBe(JSON.stringify(a.rows))
    expect(b.failed).toEqual([])
  })

  it('runs the job of a worker killed with -9 mid-job again on another, each result exactly once', async () => {
    const ex = await executor()
    const salt = randomUUID()
    const items = [0, 1, 2, 3, 4, 5].map((k) => ({ ms: 2500, value: `${salt} ${k}` }))
    const victim = workers[0]!
    const { result, completed } = await countCompleted(async () => {
      const running = ex.run<(typeof items)[number], string>({ kind: 'exec.sleep', context: { salt }, items })
      // All three workers (one job each) busy: whichever is killed is in the middle of a job.
      let busy = 0
      for (let k = 0; k < 400 && busy < 3; k++) {
        busy = await jobsQueue.getActiveCount()
        if (busy < 3) await new Promise((r) => setTimeout(r, 25))
      }
      expect(busy).toBe(3)
      victim.kill('SIGKILL')
      return running
    }, (completed) => completed.size >= 6)
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' })
    expect(result).toEqual(items.map((item) => ({ ok: true, value: item.value })))
    // Six jobs, each completed once (the killed one by another worker).
    expect(completed.size).toBe(6)
    expect([...completed.values()]).toEqual([1, 1, 1, 1, 1, 1])
    workers[0] = await startWorker(workerArgs(), { home })
  })

  it('completes a batch when Redis is restarted empty in the middle of it, nothing twice', async () => {
    const notices: string[] = []
    const ex = await executor(notices)
    const salt = randomUUID()
    const items = [0, 1, 2, 3, 4, 5].map((k) => ({ ms: 1500, value: `${salt} ${k}` }))
    const running = ex.run<(typeof items)[number], string>({ kind: 'exec.sleep', context: { salt }, items, label: 'restart batch' }).then(
      (outcomes) => ({ outcomes }),
      (error: Error) => ({ error }),
    )
    let busy = 0
    for (let k = 0; k < 400 && busy < 1; k++) {
      busy = await jobsQueue.getActiveCount()
      if (busy < 1) await new Promise((r) => setTimeout(r, 25))
    }
    expect(busy).toBeGreaterThan(0)
    await redis.kill()
    await redis.start()
    const out = await running
    if ('error' in out) {
      // Or a clear one-line error naming the Redis.
      expect(out.error.message).not.toContain('\n')
      expect(out.error.message).toContain(redis.url)
    } else {
      expect(out.outcomes).toEqual(items.map((item) => ({ ok: true, value: item.value })))
      expect(notices.some((n) => n.includes('lost the flow'))).toBe(true)
    }
    // The workers serve on after the restart.
    const after = await ex.run({ kind: 'exec.echo', context: { salt, after: true }, items: [1, 2, 3] })
    expect(after).toEqual([1, 2, 3].map((v) => ({ ok: true, value: v })))
  }, 120_000)

  it('fails with one line naming the Redis when it stays down mid-batch, and cancels at once meanwhile', async () => {
    const ex = await BullmqExecutor.connect({ redis: redis.url, pollMs: 50, downMs: 3000 })
    open.push(ex)
    const salt = randomUUID()
    const sleepy = (k: number) => ({ ms: 1500, value: `${salt} ${k}` })
    const waitBusy = async () => {
      let busy = 0
      for (let k = 0; k < 400 && busy < 1; k++) {
        busy = await jobsQueue.getActiveCount()
        if (busy < 1) await new Promise((r) => setTimeout(r, 25))
      }
      expect(busy).toBeGreaterThan(0)
    }
    try {
      // Down for longer than downMs: a one-line error naming the URL.
      const running = ex.run({ kind: 'exec.sleep', context: { salt }, items: [0, 1, 2].map(sleepy), label: 'down batch' })
      running.catch(() => undefined)
      await waitBusy()
      await redis.kill()
      const error = await running.then(() => undefined, (e: Error) => e)
      expect(error?.message).toMatch(/^down batch: Redis at redis:\/\/127\.0\.0\.1:\d+ has not answered for 3 s/)
      expect(error!.message).toContain(redis.url)
      expect(error!.message).not.toContain('\n')
      // Closing while Redis is down ends (the CLI closes its executor on the way out).
      await ex.close()
      await redis.start()
      // Down, and Ctrl-C meanwhile: cancelled without waiting for Redis.
      const controller = new AbortController()
      const patient = await BullmqExecutor.connect({ redis: redis.url, pollMs: 50, downMs: 600_000 })
      open.push(patient)
      const cancelled = patient.run({ kind: 'exec.sleep', context: { salt, again: true }, items: [0, 1, 2].map(sleepy), signal: controller.signal })
      cancelled.catch(() => undefined)
      await waitBusy()
      await redis.kill()
      controller.abort()
      await expect(cancelled).rejects.toBeInstanceOf(CancelledError)
    } finally {
      if (redis.pid === undefined || !(await pingable())) await redis.start()
    }
    // Back up: the workers serve on.
    const back = await executor()
    expect(await back.run({ kind: 'exec.echo', context: { salt, after: true }, items: [4] })).toEqual([{ ok: true, value: 4 }])
  }, 120_000)

  it('fails the sets whose strategy throws, with the error; the rest finish; the tracked sweep has FAILED children', async () => {
    const file = strategyFile('boom', `  onBar(ctx, bar) {
    if (ctx.params.fast === 15) throw new Error('boom 15')
    if (ctx.position(bar.symbol) === 0 && ctx.openOrders().length === 0) ctx.buy(bar.symbol)
  },`)
    const r = await runCli(['--home', home, 'sweep', '--strategy', file, '--symbol', 'SPX', '--grid', 'fast=5:25:5', '--executor', 'bullmq', '--redis', redis.url, '--chunk', '2', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.rows.map((row: { params: { fast: number } }) => row.params.fast).sort((x: number, y: number) => x - y)).toEqual([5, 10, 20, 25])
    expect(out.failed).toHaveLength(1)
    expect(out.failed[0].params.fast).toBe(15)
    expect(out.failed[0].error).toContain('boom 15')
    const tracker = new Tracker(home)
    expect(tracker.getRun(out.runId).info.status).toBe('FINISHED')
    const children = tracker.childRuns(out.runId)
    expect(children).toHaveLength(5)
    const failed = children.filter((c) => c.info.status === 'FAILED')
    expect(failed).toHaveLength(1)
    expect(failed[0]!.params.fast).toBe('15')
    expect(failed[0]!.tags['mtflow.error']).toContain('boom 15')
    expect(children.filter((c) => c.info.status === 'FINISHED')).toHaveLength(4)
  })

  it('fails the sets whose vector signals throw (library), the rest equal to the local run', async () => {
    const file = strategyFile('boom-vector', `  signals(p, bars) {
    if (p.fast === 15) throw new Error('boom vector 15')
    const entries = new Uint8Array(bars.close.length)
    const exits = new Uint8Array(bars.close.length)
    for (let i = 0; i < bars.close.length; i += p.fast) entries[i] = 1
    for (let i = 1; i < bars.close.length; i += p.fast) exits[i] = 1
    return { entries, exits }
  },
  onBar() {},`)
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const source = resolveKey(home, { symbol: 'SPX', timeframe: '1d' }).source
    const { loadStrategy } = await import('../../lib/strategy/index.js')
    const loaded = await loadStrategy(file, (path: string) => import(path))
    const grid = { fast: [5, 10, 15, 20] }
    const ex = await executor()
    const remote = await sweep(loaded as never, grid, bars, { executor: ex, dataRef: { snapshot: barsHash(bars, source), query: { symbol: 'SPX', timeframe: '1d', source } }, chunk: 1, engine: 'vector' })
    const local = await sweep(loaded as never, grid, bars, { executor: local2(), engine: 'vector' })
    expect(remote.failed.map((f) => f.params.fast)).toEqual([15])
    expect(remote.failed[0]!.error).toContain('boom vector 15')
    expect(remote.rows.map((r) => r.params.fast).sort((x, y) => x! - y!)).toEqual([5, 10, 20])
    expectSameRows(local, remote)
  })

  it('says an unreachable Redis in one line naming the URL and exits 2 (sweep and worker)', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`
    const [s, w] = await Promise.all([
      runCli(['--home', home, 'sweep', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast=5,10', '--executor', 'bullmq', '--redis', url, '--json']),
      runCli(['--home', home, 'worker', '--redis', url]),
    ])
    for (const r of [s, w]) {
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toContain(url)
    }
    // The same from MTFLOW_REDIS_URL; and flags that are not a Redis URL, a count or a queue.
    const fromEnv = await runCli(['--home', home, 'worker'], { env: { MTFLOW_REDIS_URL: url } })
    expect(fromEnv.code).toBe(2)
    expect(fromEnv.stderr.trim().split('\n')).toEqual([expect.stringContaining(url)])
    for (const [args, says] of [
      [['--redis', 'http://127.0.0.1:6379'], '--redis must be a redis:// or rediss:// URL'],
      [['--redis', url, '--concurrency', '0'], '--concurrency must be an integer in [1, 256]'],
      [['--redis', url, '--queues', 'jobs,other'], '--queues takes jobs, flows'],
    ] as const) {
      const r = await runCli(['--home', home, 'worker', ...args])
      expect(r.code).toBe(2)
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(says)])
    }
  })

  it('has a worker of another project version refuse the jobs, both versions in the message, no result', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'mtflow-copy-'))
    dirs.push(copy)
    cpSync(join(ROOT, 'lib'), join(copy, 'lib'), { recursive: true })
    for (const f of ['package.json', 'tsconfig.json']) cpSync(join(ROOT, f), join(copy, f))
    // The rest (node_modules, kernel/, data/) as links: the version is package.json's and lib/'s.
    for (const entry of readdirSync(ROOT)) if (!['lib', 'package.json', 'tsconfig.json', '.git'].includes(entry)) symlinkSync(join(ROOT, entry), join(copy, entry))
    const changed = join(copy, 'lib', 'exec', 'jobs.ts')
    writeFileSync(changed, `${readFileSync(changed, 'utf8')}// another version\n`)
    // Its own Redis database, so that only the other version's worker serves it.
    const db = `${redis.url}/3`
    const other = await startWorker(['--redis', db, '--concurrency', '1'], { root: copy, home })
    const otherVersion = /mtflow (\d+\.\d+\.\d+\+[0-9a-f]{12})/.exec(other.stderr)![1]!
    const ours = projectVersion()
    expect(otherVersion).not.toBe(ours)
    const ex = await BullmqExecutor.connect({ redis: db, pollMs: 50 })
    open.push(ex)
    const out = await ex.run({ kind: 'exec.echo', context: { salt: randomUUID() }, items: [1, 2] })
    expect(out).toHaveLength(2)
    for (const o of out) {
      expect(o.ok).toBe(false)
      const error = (o as { error: string }).error
      expect(error).toContain(ours)
      expect(error).toContain(otherVersion)
      expect(error).not.toContain('\n')
    }
    const db3 = new Redis({ ...connection(), db: 3 })
    expect(await db3.keys('mtflow:x:result:*')).toEqual([])
    db3.disconnect()
    other.kill('SIGKILL')
  })

  it('stops a worker on SIGTERM after its running job, with its counts (--json)', async () => {
    // Alone on its own database: every job of the batch is its own.
    const db = `${redis.url}/5`
    const alone = await startWorker(['--redis', db, '--concurrency', '1', '--json'], { home })
    const ex = await BullmqExecutor.connect({ redis: db, pollMs: 50 })
    open.push(ex)
    const salt = randomUUID()
    const out = await ex.run({ kind: 'exec.fail', context: { salt }, items: [{ message: 'no', fail: false, value: 1 }, { message: 'refused 2' }, { message: 'no', fail: false, value: 3 }] })
    expect(out).toEqual([{ ok: true, value: 1 }, { ok: false, error: 'refused 2' }, { ok: true, value: 3 }])
    // SIGTERM in the middle of a job: the job finishes first, its result delivered.
    const running = ex.run({ kind: 'exec.sleep', context: { salt }, items: [{ ms: 1500, value: 'last' }] })
    const queue5 = new Queue('jobs', { connection: { ...connection(), db: 5 }, prefix: 'mtflow' })
    let busy = 0
    for (let k = 0; k < 400 && busy < 1; k++) {
      busy = await queue5.getActiveCount()
      if (busy < 1) await new Promise((r) => setTimeout(r, 25))
    }
    await queue5.close()
    expect(busy).toBe(1)
    alone.kill('SIGTERM')
    expect(await alone.exited).toEqual({ code: 0, signal: null })
    expect(JSON.parse(alone.stdout)).toMatchObject({ completed: 3, failed: 1, refused: 0 })
    expect(alone.stdout).toContain(projectVersion())
    const db5 = new Redis({ ...connection(), db: 5 })
    expect((await db5.keys('mtflow:x:result:*')).length).toBe(3)
    db5.disconnect()
    // Gathering the batch (the flows queue) waits for a worker: the next one gathers what the first ran.
    const next = await startWorker(['--redis', db, '--concurrency', '1', '--json'], { home })
    expect(await running).toEqual([{ ok: true, value: 'last' }])
    next.kill('SIGTERM')
    expect(JSON.parse((await next.exited, next.stdout))).toMatchObject({ completed: 0, failed: 0 })
  })

  it('reuses finished results when the same batch is submitted again: no job runs', async () => {
    const ex = await executor()
    const batch = { kind: 'exec.echo', context: { salt: randomUUID() }, items: ['a', 'b', 'c', 'b'] }
    const first = await countCompleted(() => ex.run<string, string>(batch), (c) => c.size >= 3)
    expect(first.result).toEqual(['a', 'b', 'c', 'b'].map((v) => ({ ok: true, value: v })))
    expect(first.active).toBe(3)
    expect(first.completed.size).toBe(3)
    // Then a batch that does run, one job: the jobs queue's events are ordered, so once its job's
    // completion is in, any job the re-submission ran would have been counted before it.
    const again = await countCompleted(async () => {
      const reused = await ex.run<string, string>(batch)
      const barrier = await ex.run({ kind: 'exec.echo', context: { salt: randomUUID() }, items: ['barrier'] })
      return { reused, barrier }
    }, (c) => c.size >= 1)
    expect(again.result.reused).toEqual(['a', 'b', 'c', 'b'].map((v) => ({ ok: true, value: v, reused: true })))
    expect(again.result.barrier).toEqual([{ ok: true, value: 'barrier' }])
    expect(again.active).toBe(1)
    expect(again.completed.size).toBe(1)
  })

  it('two submitters of the same batch at once: both get every result, each job run once', async () => {
    const a = await executor()
    const notices: string[] = []
    const b = await executor(notices)
    // More slow jobs than workers: some wait in A's flow while B arrives.
    const batch = { kind: 'exec.sleep', context: { salt: randomUUID() }, items: Array.from({ length: 6 }, (_, k) => ({ ms: 400, value: `v${k}` })) }
    const both = await countCompleted(async () => {
      const first = a.run<{ ms: number; value: string }, string>(batch)
      await new Promise((r) => setTimeout(r, 150))
      const second = b.run<{ ms: number; value: string }, string>(batch)
      return Promise.all([first, second])
    }, (c) => c.size >= 6)
    const expected = batch.items.map((i) => i.value)
    expect(both.result[0].map((o) => (o.ok ? o.value : o.error))).toEqual(expected)
    expect(both.result[1].map((o) => (o.ok ? o.value : o.error))).toEqual(expected)
    // B waited for A's jobs instead of taking them: none ran twice.
    expect([...both.completed.values()].every((n) => n === 1)).toBe(true)
    expect(both.completed.size).toBe(6)
    expect(notices.some((n) => n.includes('earlier or concurrent submission'))).toBe(true)
  })

  it('cancels on Ctrl-C of the submitter: exit 130, one line, no job left waiting, the run KILLED', async () => {
    const file = strategyFile('slow', `  onStart() { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500) },
  onBar() {},`)
    let pid = 0
    const args = ['--home', home, 'sweep', '--strategy', file, '--symbol', 'SPX', '--grid', 'fast=2:13:1', '--executor', 'bullmq', '--redis', redis.url, '--chunk', '1', '--json']
    const running = runCli(args, { onSpawn: (p) => (pid = p) })
    let busy = 0
    for (let k = 0; k < 1200 && busy < 1; k++) {
      busy = await jobsQueue.getActiveCount()
      if (busy < 1) await new Promise((r) => setTimeout(r, 25))
    }
    expect(busy).toBeGreaterThan(0)
    process.kill(pid, 'SIGINT')
    const r = await running
    expect(r.code, r.stderr).toBe(130)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain('cancelled')
    const counts = await jobsQueue.getJobCounts('waiting', 'delayed', 'prioritized', 'paused', 'waiting-children')
    expect(counts).toEqual({ waiting: 0, delayed: 0, prioritized: 0, paused: 0, 'waiting-children': 0 })
    const tracker = new Tracker(home)
    const runs = tracker.summaries().filter((s) => s.info.name.startsWith('sweep slow'))
    expect(runs.map((s) => s.info.status)).toEqual(['KILLED'])
    // Run again at once: the jobs still running from the cancelled sweep are waited for and reused.
    const again = await runCli([...args, '--no-track'])
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout).rows).toHaveLength(12)
  }, 120_000)

  it('fails hostile jobs put straight into Redis with a one-line reason and serves on', async () => {
    const version = projectVersion()
    const cases: [string, unknown, RegExp][] = [
      ['path', { version, kind: '../../etc', context: {}, data: {} }, /job kind must be domain\.name/],
      ['proto', { version, kind: 'exec.__proto__', context: {}, data: {} }, /job kind must be domain\.name/],
      ['ctor', { version, kind: 'exec.constructor', context: {}, data: {} }, /no job kind "constructor"/],
      ['domain', { version, kind: 'child.process', context: {}, data: {} }, /no job kinds in lib\/child/],
      ['version', { version: '9.9.9+000000000000', kind: 'exec.echo', context: {}, data: {} }, /submitted by mtflow 9\.9\.9\+000000000000/],
      ['notobject', 'just text', /not an mtflow job context/],
      ['nodata', { version, kind: 'exec.sum', context: {}, data: { bars: { snapshot: '../../etc/passwd', query: { symbol: '../x' } } } }, /snapshot must be 64 lowercase hex digits/],
    ]
    const events = new QueueEvents('jobs', { connection: connection(), prefix: 'mtflow' })
    events.on('error', () => undefined)
    await events.waitUntilReady()
    const reasons = new Map<string, string>()
    // Only these jobs: the queue also carries the jobs of earlier tests (a cancelled sweep's may fail meanwhile).
    // A reason only when it is one: under load an event (or a job read back mid-update) came without it.
    events.on('failed', ({ jobId, failedReason }) => {
      if (jobId.startsWith('hostile-') && typeof failedReason === 'string' && failedReason !== '') reasons.set(jobId, failedReason)
    })
    const salt = randomUUID()
    // Each context stored under its own hash, as a submitter stores it, so the checks behind the hash's are reached.
    const hashOf = (text: string) => sha256(canonicalJson(JSON.parse(text)))
    const ctxOf = new Map<string, string>()
    for (const [name, stored] of cases) {
      const text = encodeValue(stored)
      const ctx = name === 'notobject' ? `hostile-${name}-${salt}` : hashOf(text)
      ctxOf.set(name, ctx)
      await client.set(`mtflow:x:ctx:${ctx}`, text)
      await jobsQueue.add('hostile', { ctx, item: '{"series":"bars","column":"close"}', flow: 'none' }, { jobId: `hostile-${name}-${salt}` })
    }
    // A context replaced in Redis under another's hash: the hash the job names is not the text's.
    const benign = encodeValue({ version, kind: 'exec.echo', context: { salt }, data: {} })
    await client.set(`mtflow:x:ctx:${hashOf(benign)}-swapped`, encodeValue({ version, kind: 'exec.echo', context: { salt, evil: true }, data: {} }))
    await jobsQueue.add('hostile', { ctx: `${hashOf(benign)}-swapped`, item: '1', flow: 'none' }, { jobId: `hostile-swapped-${salt}` })
    await jobsQueue.add('hostile', { nothing: true }, { jobId: `hostile-empty-${salt}` })
    await jobsQueue.add('hostile', { ctx: ctxOf.get('path')!, item: '{not json', flow: 'none' }, { jobId: `hostile-item-${salt}` })
    const expected = cases.length + 3
    // The failure events, and each job's own state as read back from the queue (an event can be missed
    // by a listener under load; the job's failedReason cannot): the same reasons either way.
    const ids = [...cases.map(([name]) => `hostile-${name}-${salt}`), `hostile-empty-${salt}`, `hostile-item-${salt}`, `hostile-swapped-${salt}`]
    const all = () => ids.every((id) => reasons.has(id))
    for (let deadline = Date.now() + 60_000; !all() && Date.now() < deadline; ) {
      for (const id of ids) {
        if (reasons.has(id)) continue
        const job = await jobsQueue.getJob(id)
        if (job !== undefined && (await job.isFailed()) && typeof job.failedReason === 'string' && job.failedReason !== '') reasons.set(id, job.failedReason)
      }
      if (!all()) await new Promise((r) => setTimeout(r, 100))
    }
    await events.close()
    expect(ids.filter((id) => !reasons.has(id))).toEqual([])
    expect(ids).toHaveLength(expected)
    for (const [name, , pattern] of cases) {
      const reason = reasons.get(`hostile-${name}-${salt}`)!
      expect(reason, name).toMatch(pattern)
      expect(reason.split('\n'), name).toHaveLength(1)
    }
    expect(reasons.get(`hostile-empty-${salt}`)).toMatch(/not an mtflow job/)
    expect(reasons.get(`hostile-item-${salt}`)).toBe('the job\'s item is not JSON ("{not json")')
    expect(reasons.get(`hostile-swapped-${salt}`)).toMatch(/^the job's context [0-9a-f]{12} in Redis is not the one its hash names \(changed there\): refused$/)
    // Every worker alive and serving.
    for (const w of workers) expect(await Promise.race([w.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('alive'), 10))])).toBe('alive')
    const ex = await executor()
    expect(await ex.run({ kind: 'exec.echo', context: { salt }, items: [7, 8, 9] })).toEqual([7, 8, 9].map((v) => ({ ok: true, value: v })))
  })

  it('with MTFLOW_JOB_KEY: a keyed worker runs only jobs signed with the key; a keyed submitter takes only results signed with it', async () => {
    const key = `key-${randomUUID()}`
    const version = projectVersion()
    const hashOf = (text: string) => sha256(canonicalJson(JSON.parse(text)))
    // A Redis of its own: the unkeyed workers of the other tests must not take these jobs.
    const r2 = await startRedis()
    const keyed = await startWorker(['--redis', r2.url, '--concurrency', '1', '--stalled-ms', '2000'], { home, env: { MTFLOW_JOB_KEY: key } })
    expect(keyed.stderr).not.toMatch(/not authenticated/)
    expect(workers[0]!.stderr).toMatch(/jobs are not authenticated \(no MTFLOW_JOB_KEY\): whoever can write to this Redis can run code here/)
    const c2 = new Redis({ host: '127.0.0.1', port: r2.port, maxRetriesPerRequest: null })
    c2.on('error', () => undefined)
    const saved = process.env.MTFLOW_JOB_KEY
    const connect = async (k: string | undefined) => {
      if (k === undefined) delete process.env.MTFLOW_JOB_KEY
      else process.env.MTFLOW_JOB_KEY = k
      const ex = await BullmqExecutor.connect({ redis: r2.url, backoffMs: 100, pollMs: 50 })
      open.push(ex)
      return ex
    }
    try {
      const salt = randomUUID()
      const signed = await connect(key)
      expect(await signed.run({ kind: 'exec.echo', context: { salt }, items: [1, 2] })).toEqual([1, 2].map((value) => ({ ok: true, value })))
      // A result forged in Redis for a job not run yet: not taken, the job runs, its own value comes back.
      const ctx = hashOf(encodeValue({ version, kind: 'exec.echo', context: { salt: `${salt}-forged` }, data: {} }))
      await c2.set(`mtflow:x:result:${sha256(`${ctx}\n${canonicalJson(5)}`)}`, encodeValue(666))
      expect(await signed.run({ kind: 'exec.echo', context: { salt: `${salt}-forged` }, items: [5] })).toEqual([{ ok: true, value: 5 }])
      // A signed job (as anyone reading the Redis sees one) added again under another item's job id: refused, so
      // the worker never signs item 1's value as item 2's result (a review); item 2 then gets its own value.
      const replay = hashOf(encodeValue({ version, kind: 'exec.echo', context: { salt: `${salt}-replay` }, data: {} }))
      await c2.set(`mtflow:x:ctx:${replay}`, encodeValue({ version, kind: 'exec.echo', context: { salt: `${salt}-replay` }, data: {} }))
      const q2 = new Queue('jobs', { connection: { host: '127.0.0.1', port: r2.port, maxRetriesPerRequest: null }, prefix: 'mtflow' })
      q2.on('error', () => undefined)
      const victim = sha256(`${replay}\n${canonicalJson(2)}`)
      await q2.add('exec.echo', { ctx: replay, item: encodeValue(1), flow: 'none', mac: signature(key, 'job', replay, encodeValue(1)) }, { jobId: victim, attempts: 1 })
      let refusal = ''
      for (let deadline = Date.now() + 20_000; refusal === '' && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        // The reason read from the job as fetched after it is known failed (fetched before, it can lack it under load).
        const job = await q2.getJob(victim)
        if (job !== undefined && (await job.isFailed())) refusal = (await q2.getJob(victim))?.failedReason ?? ''
      }
      await q2.obliterate({ force: true })
      await q2.close()
      expect(refusal).toBe('refused: the job\'s id is not the hash of its context and item')
      expect(await c2.get(`mtflow:x:result:${victim}`)).toBeNull()
      expect(await signed.run({ kind: 'exec.echo', context: { salt: `${salt}-replay` }, items: [2] })).toEqual([{ ok: true, value: 2 }])
      // Jobs without the key, or signed with another, are refused by the keyed worker.
      for (const [label, k] of [['unsigned', undefined], ['another key', `other-${randomUUID()}`]] as const) {
        const ex = await connect(k)
        const out = await ex.run({ kind: 'exec.echo', context: { salt: `${salt}-${label}` }, items: [3] })
        expect(out, label).toEqual([{ ok: false, error: 'refused: the job is not signed with this worker\'s MTFLOW_JOB_KEY (submitters need the same key)' }])
      }
      // A key too short to be a secret is refused where it is read.
      await expect(connect('short')).rejects.toThrow('MTFLOW_JOB_KEY must be at least 16 characters, a random secret the submitters and the workers share (received 5)')
    } finally {
      if (saved === undefined) delete process.env.MTFLOW_JOB_KEY
      else process.env.MTFLOW_JOB_KEY = saved
      c2.disconnect()
      keyed.kill()
      await r2.kill()
    }
  })
})
