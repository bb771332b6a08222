// RemoteTracker and RemoteRegistry against a real `mtflow serve` (a child process: the clients block this
// thread while they wait, so the server cannot share it). What a local Tracker/Registry on the server's
// workspace then reads must equal what was logged; records are buffered until a read, endRun, batchSize
// or exit; a wrong token is one line (and exit 2 in the CLI); two processes logging at once lose nothing.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { openRegistry, openTracker, Registry, RemoteRegistry, RemoteTracker, Tracker, TRACKING_TOKEN_ENV, TRACKING_URI_ENV } from '../../lib/track/index.js'
import { FIXTURES, ROOT, runCli } from '../helpers.js'

let home: string
let elsewhere: string
let server: ChildProcess
let url: string
let token: string

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-remote-server-'))
  // The clients' own workspace: nothing may land here.
  elsewhere = mkdtempSync(join(tmpdir(), 'mtflow-remote-client-'))
  server = spawn(process.execPath, [join(ROOT, 'lib', 'cli', 'bin.cjs'), 'serve', '--port', '0', '--json'], { env: { ...process.env, MTFLOW_HOME: home }, stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0]!)
    })
    server.once('exit', (code) => reject(new Error(`mtflow serve exited (${code})`)))
  })
  ;({ url, token } = JSON.parse(line) as { url: string; token: string })
}, 60_000)

afterAll(() => {
  server.kill()
  rmSync(home, { recursive: true, force: true })
  rmSync(elsewhere, { recursive: true, force: true })
})

const remote = (options: { batchSize?: number; token?: string } = {}) => new RemoteTracker(elsewhere, { url, token: options.token ?? token, batchSize: options.batchSize })

/** Run a script in a child process with the tracking variables set (the library loaded through tsx, as bin.cjs does). */
function child(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const code = `require('tsx/cjs/api').register(); const track = require(${JSON.stringify(join(ROOT, 'lib', 'track', 'index.ts'))}); ${script}`
    const p = spawn(process.execPath, ['-e', code], { cwd: ROOT, env: { ...process.env, MTFLOW_HOME: elsewhere, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    p.on('close', (c) => resolve({ code: c, stdout, stderr }))
  })
}

describe('RemoteTracker', () => {
  it('logArtifacts uploads each file in order (the server checks the names); a name given twice is refused after the ones before', async () => {
    const tracker = remote()
    const run = tracker.startRun({ experiment: 'remote-many' })
    const records = await run.logArtifacts([
      { name: 'a.bin', data: Buffer.from([1, 2, 3]) },
      { name: 'sub/b.txt', data: [Buffer.from('he'), Buffer.from('llo')] },
    ])
    expect(records.map((r) => [r.path, r.size])).toEqual([
      ['a.bin', 3],
      ['sub/b.txt', 5],
    ])
    await expect(run.logArtifacts([{ name: 'c.txt', data: 'c' }, { name: 'c.txt', data: 'again' }])).rejects.toThrow(/given twice/)
    await expect(run.logArtifacts([{ name: '.x.4194305.ab.tmp', data: 'x' }])).rejects.toThrow(/temp file/)
    run.end()
    const local = new Tracker(home)
    expect(local.listArtifacts(run.id).map((a) => a.path)).toEqual(['a.bin', 'sub/b.txt', 'c.txt'])
    expect(local.readArtifact(run.id, 'sub/b.txt').bytes.toString()).toBe('hello')
    expect(local.readArtifact(run.id, 'c.txt').bytes.toString()).toBe('c')
  })

  it('logs a run (params, metrics with steps, tags, artifacts, child runs) that the server workspace reads back as logged', () => {
    const tracker = remote()
    const run = tracker.startRun({ experiment: 'remote', name: 'sweep', params: { fast: 10, mode: 'long', on: true }, tags: { owner: 'ci' } })
    run.logParam('slow', 30)
    run.setTags({ stage: 'research' })
    const losses = [0.9, 0.5, 0.25, Number.NaN]
    losses.forEach((v, step) => run.logMetric('loss', v, step))
    run.logMetrics({ sharpe: 1.25, pf: Infinity }, 7)
    const file = join(elsewhere, 'report.txt')
    writeFileSync(file, 'from a file\n')
    const a1 = run.logArtifact(file)
    const a2 = run.logArtifact({ name: 'nested/equity.csv', data: 't,e\n1,100\n' })
    expect(a1).toMatchObject({ path: 'report.txt', size: 12 })
    expect(a2.path).toBe('nested/equity.csv')
    const kids = run.logChildren([
      { name: 'p1', params: { fast: 5 }, metrics: { sharpe: 0.5 } },
      { name: 'p2', params: { fast: 6 }, metrics: { sharpe: -0.5 }, status: 'FAILED' },
    ])
    const nested = run.child({ name: 'fold-1' })
    nested.logMetric('score', 3, 1)
    nested.end()
    run.end('FINISHED')

    const local = new Tracker(home)
    const got = local.getRun(run.id)
    expect(got.info.name).toBe('sweep')
    expect(got.info.status).toBe('FINISHED')
    expect(got.params).toEqual({ fast: '10', mode: 'long', on: 'true', slow: '30' })
    expect(got.tags).toMatchObject({ owner: 'ci', stage: 'research' })
    expect(local.metricHistory(run.id, 'loss').map((p) => [p.step, p.value])).toEqual([
      [0, 0.9],
      [1, 0.5],
      [2, 0.25],
      [3, Number.NaN],
    ])
    expect(got.metrics.sharpe).toMatchObject({ value: 1.25, step: 7 })
    expect(got.metrics.pf!.value).toBe(Infinity)
    expect(local.readArtifact(run.id, 'report.txt').bytes.toString()).toBe('from a file\n')
    expect(local.readArtifact(run.id, 'nested/equity.csv').bytes.toString()).toBe('t,e\n1,100\n')
    const children = local.childRuns(run.id).sort((a, b) => a.info.name.localeCompare(b.info.name))
    expect(children.map((c) => [c.info.name, c.params.fast ?? '', c.info.status])).toEqual([
      ['fold-1', '', 'FINISHED'],
      ['p1', '5', 'FINISHED'],
      ['p2', '6', 'FAILED'],
    ])
    expect(kids.sort()).toEqual(children.filter((c) => c.info.name !== 'fold-1').map((c) => c.info.runId).sort())
    expect(local.getRun(nested.id).metrics.score).toMatchObject({ value: 3, step: 1 })
    // …and the remote client reads the same.
    expect(tracker.getRun(run.id).params).toEqual(got.params)
    expect(tracker.metricHistory(run.id, 'loss')[3]!.value).toBeNaN()
    expect(tracker.readArtifact(run.id, 'nested/equity.csv').bytes.toString()).toBe('t,e\n1,100\n')
    expect(tracker.childRuns(run.id).length).toBe(3)
    // Nothing in the client's own workspace.
    expect(new Tracker(elsewhere).listExperiments()).toEqual([])
  })

  it('buffers log calls until a read, endRun or batchSize records', () => {
    const tracker = remote({ batchSize: 5 })
    const local = new Tracker(home)
    const run = tracker.startRun({ experiment: 'remote', name: 'buffered' })
    for (let i = 0; i < 4; i++) run.logMetric('m', i, i)
    expect(local.metricHistory(run.id)).toEqual([]) // 4 < 5: still here
    run.setTag('fifth', 'record')
    expect(local.metricHistory(run.id).length).toBe(4) // the fifth record sent the batch
    run.logMetric('m', 4, 4)
    expect(local.metricHistory(run.id).length).toBe(4)
    expect(tracker.getRun(run.id).metrics.m).toMatchObject({ value: 4, step: 4 }) // a read flushes first
    run.logParam('p', 1)
    run.end()
    expect(local.getRun(run.id).params).toEqual({ p: '1' })
    expect(() => run.logParam('p', 2)).toThrow(/param p of run .* is already "1"/)
  })

  it('sends what is still buffered when the process exits', async () => {
    const out = await child(
      `const t = track.openTracker(); const run = t.startRun({ experiment: 'remote', name: 'at-exit' }); run.logMetric('late', 42, 3); process.stdout.write(run.id + '\\n', () => process.exit(0))`,
      { [TRACKING_URI_ENV]: url, [TRACKING_TOKEN_ENV]: token },
    )
    expect(out.stderr).toBe('')
    expect(out.code).toBe(0)
    expect(new Tracker(home).metricHistory(out.stdout.trim(), 'late').map((p) => [p.step, p.value])).toEqual([[3, 42]])
  }, 60_000)

  it('loses nothing when two processes log into one run and their own runs at once', async () => {
    // Batches of 10 records: the two processes' requests interleave on the server.
    const shared = remote().startRun({ experiment: 'remote', name: 'shared' })
    const script = (who: string) =>
      `const t = new track.RemoteTracker(undefined, { url: process.env.MTFLOW_TRACKING_URI, token: process.env.MTFLOW_TRACKING_TOKEN, batchSize: 10 }); const mine = t.startRun({ experiment: 'remote', name: '${who}' });
       for (let i = 0; i < 300; i++) { t.logMetric(${JSON.stringify(shared.id)}, '${who}', i, i); t.logParam(${JSON.stringify(shared.id)}, '${who}-' + i, i); mine.logMetric('x', i, i) }
       mine.end(); console.log(mine.id)`
    const env = { [TRACKING_URI_ENV]: url, [TRACKING_TOKEN_ENV]: token }
    const [a, b] = await Promise.all([child(script('a'), env), child(script('b'), env)])
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, '', ''])
    shared.end()
    const local = new Tracker(home)
    for (const who of ['a', 'b']) {
      expect(local.metricHistory(shared.id, who).map((p) => p.value)).toEqual(Array.from({ length: 300 }, (_, i) => i))
    }
    const params = local.getRun(shared.id).params
    expect(Object.keys(params).length).toBe(600)
    expect(params['a-299']).toBe('299')
    expect(params['b-0']).toBe('0')
    for (const id of [a.stdout.trim(), b.stdout.trim()]) expect(local.metricHistory(id, 'x').length).toBe(300)
  }, 120_000)

  it('refuses a wrong token in one line, and names an unreachable server', async () => {
    const wrong = remote({ token: 'not-the-token' })
    expect(() => wrong.listExperiments()).toThrow(ConfigError)
    expect(() => wrong.startRun({ experiment: 'x' })).toThrow(`tracking server ${url} refused the token (401): set MTFLOW_TRACKING_TOKEN to the token \`mtflow serve\` printed`)
    expect(new Tracker(home).listExperiments().map((e) => e.name)).not.toContain('x')
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port
        s.close(() => resolve(p))
      })
    })
    const gone = new RemoteTracker(elsewhere, { url: `http://127.0.0.1:${port}`, token })
    expect(() => gone.listExperiments()).toThrow(new RegExp(`^tracking server http://127\\.0\\.0\\.1:${port} is unreachable \\(ECONNREFUSED`))
  })

  it('the CLI reads through the server with the variables set, and exits 2 on a wrong token', async () => {
    new Registry(home).register('models', 'served-model', { files: { 'model.json': '{}' } })
    const ok = await runCli(['models', 'list', '--json'], { env: { MTFLOW_HOME: elsewhere, [TRACKING_URI_ENV]: url, [TRACKING_TOKEN_ENV]: token } })
    expect(ok.code).toBe(0)
    expect(JSON.stringify(JSON.parse(ok.stdout))).toContain('served-model')
    const refused = await runCli(['models', 'list', '--json'], { env: { MTFLOW_HOME: elsewhere, [TRACKING_URI_ENV]: url, [TRACKING_TOKEN_ENV]: 'wrong' } })
    expect(refused.code).toBe(2)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)
    expect(refused.stderr).toContain(`tracking server ${url} refused the token (401): set MTFLOW_TRACKING_TOKEN to the token \`mtflow serve\` printed`)
    const bad = await runCli(['models', 'list', '--json'], { env: { MTFLOW_HOME: elsewhere, [TRACKING_URI_ENV]: 'ftp://host/x' } })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('MTFLOW_TRACKING_URI must be an http:// or https:// URL')
  }, 60_000)

  it('`notebook run --track` with the variables set: the runs the notebook starts (kernel/track.ts) are children of its run on the server', async () => {
    const env = { MTFLOW_HOME: elsewhere, [TRACKING_URI_ENV]: url, [TRACKING_TOKEN_ENV]: token }
    const r = await runCli(['notebook', 'run', join(FIXTURES, 'notebooks', 'tracked.ipynb'), '--track', '--experiment', 'remote-notebook', '--out', join(elsewhere, 'tracked.ipynb'), '--json'], { env })
    // The kernel's track.start looked its parent run up in the local store: "NotFoundError: unknown run".
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { runId: string; childRuns: string[]; notebookVersion: number }
    expect(out.childRuns).toHaveLength(2)
    const server = new Tracker(home)
    expect(server.childRuns(out.runId).map((c) => [c.info.name, c.info.status]).sort()).toEqual([['second', 'FINISHED'], ['sma inside the notebook', 'FINISHED']])
    expect(new Registry(home).resolve('notebooks', 'tracked', out.notebookVersion).runs.sort()).toEqual([out.runId, ...out.childRuns].sort())
    // Nothing in the client's own workspace.
    expect(new Tracker(elsewhere).summaries()).toEqual([])
  }, 300_000)
})

describe('openTracker / openRegistry', () => {
  it('pick the local store without MTFLOW_TRACKING_URI, the server with it, and refuse other schemes', () => {
    const saved = { uri: process.env[TRACKING_URI_ENV], token: process.env[TRACKING_TOKEN_ENV] }
    try {
      delete process.env[TRACKING_URI_ENV]
      expect(openTracker(elsewhere)).not.toBeInstanceOf(RemoteTracker)
      expect(openRegistry(elsewhere)).not.toBeInstanceOf(RemoteRegistry)
      process.env[TRACKING_URI_ENV] = `${url}/`
      process.env[TRACKING_TOKEN_ENV] = token
      const t = openTracker(elsewhere)
      expect(t).toBeInstanceOf(RemoteTracker)
      expect((t as RemoteTracker).url).toBe(url)
      expect(openRegistry(elsewhere)).toBeInstanceOf(RemoteRegistry)
      for (const bad of ['file:///tmp/x', 'redis://h:6379', 'not a url', 'http://user:pw@h:1']) {
        process.env[TRACKING_URI_ENV] = bad
        expect(() => openTracker(elsewhere), bad).toThrow(/^MTFLOW_TRACKING_URI must be an http:\/\/ or https:\/\/ URL/)
      }
    } finally {
      if (saved.uri === undefined) delete process.env[TRACKING_URI_ENV]
      else process.env[TRACKING_URI_ENV] = saved.uri
      if (saved.token === undefined) delete process.env[TRACKING_TOKEN_ENV]
      else process.env[TRACKING_TOKEN_ENV] = saved.token
    }
  })
})

describe('RemoteRegistry', () => {
  it('registers, aliases, stages and reads back versions as the local registry has them', () => {
    const registry = new RemoteRegistry(elsewhere, { url, token })
    const one = registry.register('strategies', 'remote-strat', { files: { 'source.ts': 'export const a = 1\n', 'meta/info.json': '{"k":1}' }, description: 'first' })
    expect(one.created).toBe(true)
    const again = registry.register('strategies', 'remote-strat', { files: { 'source.ts': 'export const a = 1\n', 'meta/info.json': '{"k":1}' } })
    expect(again).toMatchObject({ created: false, version: { version: one.version.version } })
    const two = registry.register('strategies', 'remote-strat', { files: { 'source.ts': 'export const a = 2\n' } })
    registry.setAlias('strategies', 'remote-strat', 'champion', one.version.version, 'best so far')
    registry.setAlias('strategies', 'remote-strat', 'challenger', two.version.version)
    registry.deleteAlias('strategies', 'remote-strat', 'challenger')

    const local = new Registry(home)
    expect(local.entry('strategies', 'remote-strat').aliases).toEqual({ champion: 1 })
    expect(local.readFile('strategies', 'remote-strat@champion', 'meta/info.json').toString()).toBe('{"k":1}')
    expect(local.resolve('strategies', 'remote-strat@latest').version).toBe(2)
    expect(registry.resolve('strategies', 'remote-strat@champion').description).toBe('first')
    expect(registry.readFile('strategies', 'remote-strat', 'source.ts').toString()).toBe('export const a = 2\n')
    expect(registry.auditLog('strategies', 'remote-strat').map((e) => e.action)).toEqual(local.auditLog('strategies', 'remote-strat').map((e) => e.action))
    expect(() => registry.retire('strategies', 'remote-strat', 1)).toThrow(/aliased as champion/)

    // A model from a run's artifact uploaded through the remote tracker.
    const tracker = remote()
    const run = tracker.startRun({ experiment: 'remote', name: 'train' })
    run.logArtifact({ name: 'model.json', data: '{"w":[0.5]}' })
    run.end()
    const model = registry.registerModel(tracker, 'remote-model', run.id, 'model.json')
    registry.transitionStage('remote-model', model.version.version, 'Staging')
    expect(local.resolve('models', 'remote-model@Staging').sourceRunId).toBe(run.id)
    expect(local.readFile('models', 'remote-model@1').toString()).toBe('{"w":[0.5]}')
  })
})
