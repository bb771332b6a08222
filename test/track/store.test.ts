// The tracking store on a real workspace folder: logging and reading back, latest-metric rules, param
// immutability, non-finite values, artifacts (hashes computed here with node:crypto), search order and
// pages, compare, index compaction and repair, torn writes, several processes logging at once, and a
// run left RUNNING by a killed process.

import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { appendFileSync, linkSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { clearIndexCache, compareRuns, searchRuns, Tracker, withRun } from '../../lib/track/index.js'
import { FIXTURES } from '../helpers.js'
import { CancelledError } from '../../lib/exec/local.js'

const homes: string[] = []
function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-track-'))
  homes.push(home)
  return home
}
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true })
})

const sha = (data: string) => createHash('sha256').update(data).digest('hex')

describe('runs', () => {
  it('stores params, tags, metric history and status, and reads them back', () => {
    const tracker = new Tracker(workspace())
    const run = tracker.startRun({ experiment: 'Backtests 2026', name: 'first', params: { fast: 10, slow: 30, all: true }, tags: { kind: 'single' } })
    run.logMetric('equity', 100, 0).logMetric('equity', 103, 1).logMetric('equity', 101, 2)
    run.logMetrics({ sharpe: 1.25, sortino: 2 })
    run.setTag('kind', 'checked')
    const info = run.end()
    expect(info.status).toBe('FINISHED')
    expect(info.endTime).toBeGreaterThanOrEqual(info.startTime)

    const fresh = new Tracker(tracker.home) // another reader: nothing from the writer's memory
    const got = fresh.getRun(run.id)
    expect(got.info.name).toBe('first')
    expect(got.info.experimentId).toMatch(/^backtests-2026-[0-9a-f]{8}$/)
    expect(fresh.getExperiment('Backtests 2026').name).toBe('Backtests 2026')
    expect(got.params).toEqual({ fast: '10', slow: '30', all: 'true' })
    expect(got.tags.kind).toBe('checked')
    expect(got.metrics.equity!.value).toBe(101)
    expect(got.metrics.sharpe!.value).toBe(1.25)
    expect(fresh.metricHistory(run.id, 'equity').map((p) => [p.step, p.value])).toEqual([
      [0, 100],
      [1, 103],
      [2, 101],
    ])
  })

  it('takes the latest metric at the highest step, not the last logged', () => {
    const tracker = new Tracker(workspace())
    const run = tracker.startRun({})
    run.logBatch({
      metrics: [
        { key: 'loss', value: 0.5, step: 5, timestamp: 1000 },
        { key: 'loss', value: 0.9, step: 1, timestamp: 2000 },
        { key: 'loss', value: 0.4, step: 5, timestamp: 1500 },
      ],
    })
    run.logMetric('loss', 0.7, 3)
    expect(tracker.getRun(run.id).metrics.loss).toEqual({ value: 0.4, step: 5, timestamp: 1500 })
    expect(tracker.metricHistory(run.id, 'loss')).toHaveLength(4)
  })

  it('keeps NaN and infinities, and strings that look like their encoding', () => {
    const tracker = new Tracker(workspace())
    const run = tracker.startRun({ params: { label: '#NaN' } })
    run.logMetrics({ a: NaN, b: Infinity, c: -Infinity, d: -0.5 })
    run.setTag('note', '##x')
    const got = new Tracker(tracker.home).getRun(run.id)
    expect(got.metrics.a!.value).toBeNaN()
    expect(got.metrics.b!.value).toBe(Infinity)
    expect(got.metrics.c!.value).toBe(-Infinity)
    expect(got.metrics.d!.value).toBe(-0.5)
    expect(got.params.label).toBe('#NaN')
    expect(got.tags.note).toBe('##x')
  })

  it('refuses to change a param, bad names and bad values, with messages naming them', () => {
    const tracker = new Tracker(workspace())
    const run = tracker.startRun({ params: { fast: 10 } })
    run.logParam('fast', 10) // the same value again is fine
    expect(() => run.logParam('fast', 12)).toThrow(/param fast of run .* is already "10"/)
    expect(() => tracker.logParam(run.id, 'fast', '12')).toThrow(/already "10"/)
    expect(() => run.logMetric('sharpe', '1.2' as unknown as number)).toThrow(/metric sharpe must be a number/)
    expect(() => run.logMetric('../x', 1)).toThrow(/metric name "..\/x" is invalid/)
    expect(() => run.logMetric('ok', 1, 1.5)).toThrow(/step must be an integer/)
    expect(() => tracker.getRun('nope')).toThrow(/unknown run "nope"/)
    expect(() => tracker.startRun({ parentRunId: 'missing' })).toThrow(/unknown run "missing"/)
    expect(() => tracker.getExperiment('none')).toThrow(/unknown experiment "none"/)
  })

  it('nests child runs under a parent and ends a failed piece of work as FAILED', async () => {
    const tracker = new Tracker(workspace())
    const parent = tracker.startRun({ experiment: 'sweeps', name: 'grid' })
    const kids = [1, 2, 3].map((i) => parent.child({ name: `set ${i}`, params: { i } }))
    for (const k of kids) k.end()
    parent.end()
    expect(tracker.childRuns(parent.id).map((r) => r.info.name).sort()).toEqual(['set 1', 'set 2', 'set 3'])
    expect(tracker.getRun(kids[0]!.id).tags['mtflow.parentRunId']).toBe(parent.id)
    await expect(withRun(tracker, { experiment: 'sweeps' }, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    const failed = searchRuns(tracker, { filter: 'attributes.status = "FAILED"' }).runs
    expect(failed).toHaveLength(1)
    expect(failed[0]!.tags['mtflow.error']).toBe('boom')
    // A batch the user cancelled (Ctrl-C: lib/exec's CancelledError) ends KILLED, as a cancelled sweep does: automl,
    // train and gated batches went down as FAILED.
    await expect(withRun(tracker, { experiment: 'sweeps' }, () => Promise.reject(new CancelledError('cancelled: 1 of 64 jobs had finished')))).rejects.toThrow('cancelled')
    const killed = searchRuns(tracker, { filter: 'attributes.status = "KILLED"' }).runs
    expect(killed.map((r) => r.tags['mtflow.error'])).toEqual(['cancelled: 1 of 64 jobs had finished'])
  })
})

describe('artifacts', () => {
  it('stores files and bytes with their sha256 and size, confined to the run', () => {
    const tracker = new Tracker(workspace())
    const run = tracker.startRun({})
    const src = join(tracker.home, 'trades.csv')
    writeFileSync(src, 'time,price\n1,100\n')
    const a = run.logArtifact(src)
    expect(a).toMatchObject({ path: 'trades.csv', sha256: sha('time,price\n1,100\n'), size: 17 })
    const b = run.logArtifact({ name: 'reports/summary.txt', data: 'hello' })
    expect(b.sha256).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824')
    expect(readFileSync(tracker.artifactFile(run.id, 'reports/summary.txt'), 'utf8')).toBe('hello')
    expect(tracker.getRun(run.id).artifacts.map((x) => x.path)).toEqual(['trades.csv', 'reports/summary.txt'])
    for (const bad of ['../run.json', '/etc/passwd', 'a/../../x', '..%2frun.json', '%252e%252e/run.json', 'a\\..\\b', 'C:/x']) {
      expect(() => tracker.artifactFile(run.id, bad), bad).toThrow(/relative path inside the workspace|not a valid encoded path/)
      expect(() => run.logArtifact({ name: bad, data: 'x' }), bad).toThrow()
    }
    expect(() => tracker.artifactFile(run.id, 'missing.txt')).toThrow(/has no artifact "missing.txt"/)
  })
})

describe('search and compare', () => {
  function seed(tracker: Tracker): string[] {
    const ids: string[] = []
    const rows: [number, number, string][] = [
      [10, 1.2, 'sweep'],
      [20, 0.4, 'sweep'],
      [5, 2.5, 'single'],
      [30, NaN, 'sweep'],
      [9, 1.2, 'single'],
    ]
    for (const [fast, sharpe, kind] of rows) {
      const run = tracker.startRun({ experiment: kind === 'sweep' ? 'sweeps' : 'singles', params: { fast }, tags: { kind } })
      run.logMetric('sharpe', sharpe)
      run.end()
      ids.push(run.id)
    }
    return ids
  }

  it('orders by a metric with missing and NaN last, params numerically, and pages through', () => {
    const tracker = new Tracker(workspace())
    const ids = seed(tracker)
    const bySharpe = searchRuns(tracker, { orderBy: ['metrics.sharpe desc', 'params.fast asc'] }).runs.map((r) => ids.indexOf(r.info.runId))
    // 2.5 (#2), 1.2 with fast 9 (#4) before fast 10 (#0), 0.4 (#1), NaN (#3) last.
    expect(bySharpe).toEqual([2, 4, 0, 1, 3])
    const ascending = searchRuns(tracker, { orderBy: ['metrics.sharpe'] }).runs.map((r) => ids.indexOf(r.info.runId))
    expect(ascending.at(-1)).toBe(3)
    const byFast = searchRuns(tracker, { orderBy: ['params.fast'] }).runs.map((r) => r.params.fast)
    expect(byFast).toEqual(['5', '9', '10', '20', '30'])

    const pages: string[][] = []
    let token: string | undefined
    do {
      const page = searchRuns(tracker, { orderBy: ['params.fast'], maxResults: 2, pageToken: token })
      expect(page.total).toBe(5)
      pages.push(page.runs.map((r) => r.params.fast!))
      token = page.nextPageToken
    } while (token !== undefined)
    expect(pages).toEqual([['5', '9'], ['10', '20'], ['30']])
    expect(searchRuns(tracker, { experiments: ['singles'] }).total).toBe(2)
    expect(() => searchRuns(tracker, { pageToken: 'garbage!' })).toThrow(/page token/)
    expect(() => searchRuns(tracker, { maxResults: 0 })).toThrow(/maxResults/)
  })

  it('compares runs side by side and marks what differs', () => {
    const tracker = new Tracker(workspace())
    const ids = seed(tracker)
    const c = compareRuns(tracker, [ids[0]!, ids[4]!])
    expect(c.params).toEqual([{ key: 'fast', values: ['10', '9'], differs: true }])
    expect(c.metrics).toEqual([{ key: 'sharpe', values: [1.2, 1.2], differs: false }])
    expect(c.tags.find((t) => t.key === 'kind')).toEqual({ key: 'kind', values: ['sweep', 'single'], differs: true })
  })
})

describe('search pages', () => {
  it('pages through ±Infinity, NaN and ties one run at a time, in the order of one whole page, each run once (a review: a page ending on Infinity skipped every finite run)', () => {
    const tracker = new Tracker(mkdtempSync(join(tmpdir(), 'mtflow-pages-')))
    const values = [Infinity, Infinity, 5, 3, 1, NaN, -Infinity, 3]
    for (const [i, v] of values.entries()) {
      const run = tracker.startRun({ name: `r${i}` })
      run.logMetrics({ pf: v })
      run.end()
    }
    for (const order of ['metrics.pf desc', 'metrics.pf asc']) {
      const whole = searchRuns(tracker, { orderBy: [order], maxResults: 100 }).runs.map((r) => r.info.runId)
      const paged: string[] = []
      let token: string | undefined
      do {
        const page = searchRuns(tracker, { orderBy: [order], maxResults: 1, ...(token === undefined ? {} : { pageToken: token }) })
        paged.push(...page.runs.map((r) => r.info.runId))
        token = page.nextPageToken
      } while (token !== undefined && paged.length < 20)
      expect(paged).toEqual(whole)
      expect(new Set(paged).size).toBe(values.length)
    }
  })
})

describe('search pages over a param with numbers and text', () => {
  it('orders numbers (by value) before text and pages through each run once (it went round for ever)', () => {
    const tracker = new Tracker(workspace())
    for (const tf of ['10', '9', '15m', '4h', '100', '1d', '2']) tracker.startRun({ experiment: 'mixed', params: { tf } }).end()
    const whole = searchRuns(tracker, { orderBy: ['params.tf asc'] }).runs.map((r) => r.params.tf)
    expect(whole).toEqual(['2', '9', '10', '100', '15m', '1d', '4h'])
    const paged: string[] = []
    let token: string | undefined
    do {
      const page = searchRuns(tracker, { orderBy: ['params.tf asc'], maxResults: 1, pageToken: token })
      paged.push(...page.runs.map((r) => r.params.tf!))
      token = page.nextPageToken
    } while (token !== undefined && paged.length <= 20)
    expect(paged).toEqual(whole)
  })
})

describe('the experiment index', () => {
  it('compacts a long index without changing what it says', () => {
    const tracker = new Tracker(workspace())
    const run = tracker.startRun({ experiment: 'long', name: '#1', params: { label: '#NaN', n: 3 } })
    for (let i = 0; i < 1500; i++) run.logMetric('x', i, i)
    run.logMetrics({ nan: NaN, inf: Infinity })
    run.setTag('t', '##')
    run.end()
    const file = join(tracker.root, 'long', 'index.jsonl')
    const before = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length
    const got = tracker.getRun(run.id) // reading compacts it
    const after = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length
    expect(before).toBeGreaterThan(1500)
    expect(after).toBe(1)
    expect(got.metrics.x!.value).toBe(1499)
    clearIndexCache()
    const again = new Tracker(tracker.home).getRun(run.id) // read from the snapshot
    expect(again.metrics.x).toEqual(got.metrics.x)
    expect(again.metrics.nan!.value).toBeNaN()
    expect(again.metrics.inf!.value).toBe(Infinity)
    expect(again.params).toEqual({ label: '#NaN', n: '3' })
    expect(again.tags.t).toBe('##')
    expect(again.info).toEqual(got.info)
    expect(again.info.name).toBe('#1')
  })

  it('a reader that missed two compactions is not fooled by the index file reusing its inode number (ext4 does)', async () => {
    const tracker = new Tracker(workspace())
    const runs = ['a', 'b', 'c'].map((name) => tracker.startRun({ experiment: 'reuse', name, params: { name } }))
    for (const run of runs) run.logMetric('x', 1).end()
    const file = join(tracker.root, 'reuse', 'index.jsonl')
    expect(searchRuns(tracker, { experiments: ['reuse'] }).total).toBe(3) // this process has read the index up to its end
    // Another process rewrites (compacts) the index, then appends to it. Its old inode is kept alive here by a
    // second link, and takes the new content back: what a second compaction reusing the freed inode number
    // leaves on ext4 (it alternates two numbers), made certain on any filesystem.
    const keep = join(tracker.root, 'reuse', 'index.keep')
    linkSync(file, keep)
    const size = statSync(file).size
    expect((await node([tracker.home, 'retag', runs[0]!.id, '1100', '100'])).stdout.trim()).toBe('done')
    expect(statSync(file).ino).not.toBe(statSync(keep).ino) // compacted: a new file
    writeFileSync(keep, readFileSync(file))
    renameSync(keep, file)
    expect(statSync(file).size).toBeGreaterThan(size) // longer than what this process read: it reads on from there
    expect(tracker.getRun(runs[0]!.id).tags.n).toBe('last')
    expect(searchRuns(tracker, { experiments: ['reuse'], filter: 'tags.n = "last"' }).runs.map((r) => r.info.name)).toEqual(['a'])
  })

  it('skips a record torn by a crash, and reindex rebuilds the index from the run folders', () => {
    const tracker = new Tracker(workspace())
    const run = tracker.startRun({ experiment: 'torn', params: { p: '#x' } })
    run.logMetric('x', 1, 1)
    run.logMetric('nan', NaN)
    const metrics = join(tracker.root, 'torn', run.id, 'metrics.jsonl')
    appendFileSync(metrics, '\n{"k":"x","v":99,"s":') // a write cut short
    run.logMetric('x', 2, 2)
    expect(tracker.metricHistory(run.id, 'x').map((p) => p.value)).toEqual([1, 2])
    run.end()
    rmSync(join(tracker.root, 'torn', 'index.jsonl'))
    expect(tracker.reindex('torn')).toMatchObject({ runs: 1, corrupt: [] })
    clearIndexCache()
    const got = new Tracker(tracker.home).getRun(run.id)
    expect(got.metrics.x!.value).toBe(2)
    expect(got.metrics.nan!.value).toBeNaN()
    expect(got.params.p).toBe('#x')
    expect(got.info.status).toBe('FINISHED')
  })
})

function node(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(FIXTURES, 'track-writer.cjs'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.on('close', (code) => resolve({ code, stdout }))
  })
}

describe('several processes', () => {
  it('two processes logging to one workspace at once lose nothing', async () => {
    const tracker = new Tracker(workspace())
    const shared = tracker.startRun({ experiment: 'concurrent', name: 'shared' })
    const [runs, batches] = [6, 40]
    const results = await Promise.all(['w1', 'w2'].map((w) => node([tracker.home, 'log', w, String(runs), String(batches), shared.id])))
    expect(results.map((r) => [r.code, r.stdout.trim()])).toEqual([
      [0, 'done'],
      [0, 'done'],
    ])
    shared.end()
    const reader = new Tracker(tracker.home)
    const all = searchRuns(reader, { experiments: ['concurrent'], maxResults: 1000 })
    expect(all.total).toBe(1 + 2 * runs)
    for (const w of ['w1', 'w2']) {
      const mine = searchRuns(reader, { filter: `tags.writer = "${w}" and attributes.status = "FINISHED"` })
      expect(mine.total).toBe(runs)
      for (const r of mine.runs) {
        expect(r.metrics.x!.value).toBe(batches * 10 - 1)
        expect(reader.metricHistory(r.info.runId, 'x').map((p) => p.value)).toEqual(Array.from({ length: batches * 10 }, (_, i) => i))
      }
      const points = reader.metricHistory(shared.id, `from.${w}`).map((p) => p.value)
      expect(points).toEqual(Array.from({ length: runs * batches }, (_, i) => i))
    }
    expect(reader.getRun(shared.id).metrics['from.w1']!.value).toBe(runs * batches - 1)
  })

  it('marks a run FAILED once the process that ran it is killed', async () => {
    const tracker = new Tracker(workspace(), { heartbeatMs: 200, staleMs: 2000 })
    const child = spawn(process.execPath, [join(FIXTURES, 'track-writer.cjs'), tracker.home, 'hang'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const id = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())))
    expect(tracker.getRun(id).info.status).toBe('RUNNING') // alive and beating
    child.kill('SIGKILL')
    await new Promise((r) => child.once('close', r))
    const got = tracker.getRun(id)
    expect(got.info.status).toBe('FAILED')
    expect(got.tags['mtflow.failure']).toMatch(/process \d+ .* is gone/)
    expect(got.info.endTime).toBeLessThanOrEqual(Date.now())
  })

  it('a run whose process was killed between ending it in run.json and indexing that is shown ended, not RUNNING for good', async () => {
    const tracker = new Tracker(workspace())
    const child = spawn(process.execPath, [join(FIXTURES, 'track-writer.cjs'), tracker.home, 'end-killed'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let id = ''
    child.stdout.on('data', (d: Buffer) => (id += d.toString()))
    const signal = await new Promise((r) => child.once('close', (_code, sig) => r(sig)))
    expect(signal).toBe('SIGKILL')
    id = id.trim()
    expect(JSON.parse(readFileSync(join(tracker.root, 'killed-ending', id, 'run.json'), 'utf8')).status).toBe('FINISHED')
    // The index said RUNNING for ever (its process is gone, but run.json is no longer RUNNING, so nothing was
    // marked): search listed it RUNNING and delete refused it as RUNNING.
    expect(tracker.getRun(id).info.status).toBe('FINISHED')
    expect(searchRuns(new Tracker(tracker.home), { experiments: ['killed-ending'] }).runs.map((r) => r.info.status)).toEqual(['FINISHED'])
    expect(tracker.deleteRun(id).map((c) => c.runId)).toEqual([id])
  })

  it('a param whose writer was killed before its index line is indexed when it is logged again', async () => {
    const tracker = new Tracker(workspace())
    const child = spawn(process.execPath, [join(FIXTURES, 'track-writer.cjs'), tracker.home, 'param-killed'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let id = ''
    child.stdout.on('data', (d: Buffer) => (id += d.toString()))
    expect(await new Promise((r) => child.once('close', (_code, sig) => r(sig)))).toBe('SIGKILL')
    id = id.trim()
    expect(readFileSync(join(tracker.root, 'killed-param', id, 'params.jsonl'), 'utf8')).toContain('"lr":"0.01"')
    // Logging it again was taken as "already logged", so the index never had it: search by it missed the run.
    tracker.logParam(id, 'lr', 0.01)
    expect(tracker.getRun(id).params.lr).toBe('0.01')
    expect(searchRuns(new Tracker(tracker.home), { experiments: ['killed-param'], filter: 'params.lr = "0.01"' }).total).toBe(1)
    expect(() => tracker.logParam(id, 'lr', 0.02)).toThrow(/already "0.01"/)
  })

  it('marks a run from another host FAILED when its heartbeat is older than staleMs, not before', () => {
    const tracker = new Tracker(workspace(), { heartbeatMs: 1000, staleMs: 60_000 })
    const run = tracker.startRun({ experiment: 'remote' })
    const dir = join(tracker.root, 'remote', run.id)
    const info = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'))
    info.host = 'another-host'
    writeFileSync(join(dir, 'run.json'), JSON.stringify(info))
    tracker.reindex('remote')
    const beat = join(dir, 'heartbeat')
    const ago = (s: number) => new Date(Date.now() - s * 1000)
    utimesSync(beat, ago(50), ago(50))
    expect(tracker.getRun(run.id).info.status).toBe('RUNNING')
    utimesSync(beat, ago(70), ago(70))
    expect(tracker.markStaleRuns()).toEqual([run.id])
    const got = tracker.getRun(run.id)
    expect(got.info.status).toBe('FAILED')
    expect(got.tags['mtflow.failure']).toMatch(/no heartbeat from another-host for 7\d s/)
    expect(Math.abs(got.info.endTime! - ago(70).getTime())).toBeLessThan(2000)
  })
})
