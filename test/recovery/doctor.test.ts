// Issue 18 point 6: `mtflow doctor` on a workspace damaged by hand — a writer killed with kill -9 (its run
// stuck RUNNING), a stale lock and a temp file of a dead pid, an index that lost its last line, a torn
// metrics file, and corrupt run.json, version.json and aliases.json. The real CLI lists them, --fix repairs
// the first five exactly, and the exit code stays 1 until the three damaged files are dealt with by hand.

import { spawn } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { clearIndexCache, Registry, Tracker } from '../../lib/track/index.js'
import { countTorn, readRecords } from '../../lib/track/jsonl.js'
import { FIXTURES, runCli, waitFor } from '../helpers.js'

const home = mkdtempSync(join(tmpdir(), 'mtflow-doctor-'))
afterAll(() => rmSync(home, { recursive: true, force: true }))

interface Finding {
  problem: string
  path: string
  detail: string
  status: 'fixed' | 'fixable' | 'needs-you'
  hint?: string
}
const doctor = async (...args: string[]) => {
  const r = await runCli(['--home', home, 'doctor', '--json', ...args])
  const out = JSON.parse(r.stdout) as { findings: Finding[]; summary: { fixed: number; fixable: number; needsYou: number } }
  return { code: r.code, ...out, byPath: (path: string) => out.findings.filter((f) => f.path === path) }
}

/** Starts a run in another process and kills it with SIGKILL once the run exists: its id and pid. */
async function killedWriter(): Promise<{ runId: string; pid: number }> {
  const child = spawn(process.execPath, [join(FIXTURES, 'track-writer.cjs'), home, 'hang'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  expect(await waitFor(() => out.includes('\n'), 30_000)).toBe(true)
  const closed = new Promise((r) => child.on('close', r))
  child.kill('SIGKILL')
  await closed
  return { runId: out.trim(), pid: child.pid! }
}

const TORN_1 = '{"k":"x","v":99,"s":'
const TORN_2 = '{"k":"x","v":7'

describe('mtflow doctor', () => {
  let stuck: { runId: string; pid: number }
  let torn: string
  let unindexed: string
  let broken: string

  it('lists every problem of a damaged workspace, changes nothing, and exits 1', async () => {
    const tracker = new Tracker(home)
    // A run whose metrics were torn twice by crashes, the second time with an append after it.
    const a = tracker.startRun({ experiment: 'exp', name: 'torn' })
    a.logMetric('x', 1, 1)
    a.end()
    torn = a.id
    const metrics = join(home, 'runs', 'exp', torn, 'metrics.jsonl')
    appendFileSync(metrics, `\n${TORN_1}`)
    tracker.logMetric(torn, 'x', 2, 2)
    appendFileSync(metrics, `\n${TORN_2}`)
    // A run whose end reached run.json but not the index (its last index line is gone).
    const b = tracker.startRun({ experiment: 'exp', name: 'unindexed' })
    b.end()
    unindexed = b.id
    const index = join(home, 'runs', 'exp', 'index.jsonl')
    const text = readFileSync(index, 'utf8')
    writeFileSync(index, text.slice(0, text.lastIndexOf('\n{')))
    // A run whose run.json is corrupt.
    const c = tracker.startRun({ experiment: 'exp', name: 'broken' })
    c.end()
    broken = c.id
    writeFileSync(join(home, 'runs', 'exp', broken, 'run.json'), '{"runId": "')
    // The registry: v2's record and the aliases damaged.
    const reg = new Registry(home)
    reg.register('strategies', 's', { files: { 'source.ts': 'a' } })
    reg.register('strategies', 's', { files: { 'source.ts': 'b' } })
    reg.setAlias('strategies', 's', 'champion', 1)
    writeFileSync(join(home, 'registry', 'strategies', 's', 'v2', 'version.json'), '{"kind":')
    writeFileSync(join(home, 'registry', 'strategies', 's', 'aliases.json'), '{"champ')
    // kill -9: a run left RUNNING, and that dead pid's lock and temp file.
    stuck = await killedWriter()
    writeFileSync(join(home, 'runs', 'exp', torn, '.lock'), JSON.stringify({ pid: stuck.pid, at: Date.now() }))
    writeFileSync(join(home, 'runs', 'exp', torn, `.run.json.${stuck.pid}.0a1b2c3d.tmp`), '{"half":')
    clearIndexCache()

    const before = readFileSync(metrics, 'utf8')
    const d = await doctor()
    expect(d.code).toBe(1)
    const summary = (path: string) => d.byPath(path).map((f) => `${f.problem} ${f.status}`)
    expect(summary(`runs/exp/${torn}/.lock`)).toEqual(['debris fixable'])
    expect(summary(`runs/exp/${torn}/.run.json.${stuck.pid}.0a1b2c3d.tmp`)).toEqual(['debris fixable'])
    expect(summary(`runs/exp/${torn}/metrics.jsonl`)).toEqual(['torn fixable'])
    expect(d.byPath(`runs/exp/${torn}/metrics.jsonl`)[0]!.detail).toMatch(/^2 torn record/)
    expect(summary('runs/exp/index.jsonl')).toEqual(['index fixable'])
    expect(d.byPath('runs/exp/index.jsonl')[0]!.detail).toContain(`${unindexed}: RUNNING ≠ FINISHED`)
    expect(summary(`runs/stale/${stuck.runId}`)).toEqual(['stale-run fixable'])
    expect(summary(`runs/exp/${broken}/run.json`)).toEqual(['corrupt needs-you'])
    expect(summary('registry/strategies/s/v2/version.json')).toEqual(['corrupt needs-you'])
    expect(summary('registry/strategies/s/aliases.json')).toEqual(['corrupt needs-you'])
    // The aliases as the audit log recorded them, for the hand repair.
    expect(d.byPath('registry/strategies/s/aliases.json')[0]!.hint).toContain('{"champion":1}')
    // Two debris files, one torn file, one index, one stale run (fixable); three damaged records.
    expect(d.findings).toHaveLength(8)
    expect(d.summary).toEqual({ fixed: 0, fixable: 5, needsYou: 3 })
    // Listing changed nothing.
    expect(readFileSync(metrics, 'utf8')).toBe(before)
    expect(existsSync(join(home, 'runs', 'exp', torn, '.lock'))).toBe(true)
    expect(JSON.parse(readFileSync(join(home, 'runs', 'stale', stuck.runId, 'run.json'), 'utf8')).status).toBe('RUNNING')
  }, 60_000)

  it('the human output is a table with a summary line', async () => {
    const r = await runCli(['--home', home, 'doctor'])
    expect(r.code).toBe(1)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^status\s+problem\s+path\s+detail$/)
    expect(lines).toHaveLength(10)
    expect(lines[9]).toBe('8 problems: 0 fixed, 5 fixable with --fix, 3 need you')
    expect(lines.filter((l) => l.startsWith('needs you'))).toHaveLength(3)
  }, 30_000)

  it('--fix repairs what is exact, keeps the torn bytes aside, and still exits 1 for the damaged files', async () => {
    const fixed = await doctor('--fix')
    expect(fixed.code).toBe(1)
    expect(fixed.summary).toEqual({ fixed: 5, fixable: 0, needsYou: 3 })
    expect(existsSync(join(home, 'runs', 'exp', torn, '.lock'))).toBe(false)
    expect(existsSync(join(home, 'runs', 'exp', torn, `.run.json.${stuck.pid}.0a1b2c3d.tmp`))).toBe(false)
    // The metrics file holds the two good records only; the torn bytes are in the sidecar, in order.
    const metrics = join(home, 'runs', 'exp', torn, 'metrics.jsonl')
    const records = readFileSync(metrics, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
    expect(records.map((r) => [r.k, r.v, r.s])).toEqual([['x', 1, 1], ['x', 2, 2]])
    expect(readFileSync(`${metrics}.torn`, 'utf8')).toBe(`${TORN_1}\n${TORN_2}\n`)
    const show = async (id: string) => JSON.parse((await runCli(['--home', home, 'runs', 'show', id, '--json'])).stdout)
    expect((await show(torn)).tornRecords).toEqual({})
    expect((await show(unindexed)).info.status).toBe('FINISHED')
    const dead = await show(stuck.runId)
    expect(dead.info.status).toBe('FAILED')
    expect(dead.tags['mtflow.failure']).toContain(`process ${stuck.pid}`)
    // The broken run was kept by the reindex, tagged.
    expect((await show(broken)).tags['mtflow.corrupt']).toContain('run.json is corrupt')

    const again = await doctor()
    expect(again.findings.map((f) => `${f.problem} ${f.path}`).sort()).toEqual([
      'corrupt registry/strategies/s/aliases.json',
      'corrupt registry/strategies/s/v2/version.json',
      `corrupt runs/exp/${broken}/run.json`,
    ])
    expect(again.code).toBe(1)
  }, 60_000)

  it('exits 0 with nothing to report once the damaged files are dealt with', async () => {
    writeFileSync(join(home, 'registry', 'strategies', 's', 'aliases.json'), '{"champion": 1}\n')
    rmSync(join(home, 'registry', 'strategies', 's', 'v2'), { recursive: true })
    rmSync(join(home, 'runs', 'exp', broken), { recursive: true })
    await runCli(['--home', home, 'runs', 'reindex', 'exp'])
    const r = await runCli(['--home', home, 'doctor'])
    expect(r.stdout).toBe(`no problems found in ${home}\n`)
    expect(r.code).toBe(0)
  }, 30_000)

  it('has --help, like every verb', async () => {
    const r = await runCli(['doctor', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Usage: mtflow doctor \[options\]/)
    expect(r.stdout).toContain('--fix')
    expect(r.stdout).toContain('--json')
  })

  it('a workspace that does not exist is bad input: one line, exit 2', async () => {
    const missing = join(home, 'nope')
    const r = await runCli(['--home', missing, 'doctor'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`mtflow: workspace ${missing} does not exist (give --home or set MTFLOW_HOME)\n`)
  })

  it('names a corrupt JSONL line and a corrupt experiment.json, which --fix leaves alone', async () => {
    const other = mkdtempSync(join(tmpdir(), 'mtflow-doctor-'))
    try {
      const tracker = new Tracker(other)
      const run = tracker.startRun({ experiment: 'a', tags: { k: 'v' } })
      run.setTag('k', 'w')
      run.end()
      new Tracker(other).startRun({ experiment: 'b' }).end()
      // tags.jsonl is "\n<rec>\n\n<rec>\n": damage the first record (line 2), complete but not JSON.
      const tags = join(other, 'runs', 'a', run.id, 'tags.jsonl')
      const text = readFileSync(tags, 'utf8')
      writeFileSync(tags, text.replace('{', '{{'))
      writeFileSync(join(other, 'runs', 'b', 'experiment.json'), '{"id":"b",')
      const r = await runCli(['--home', other, 'doctor', '--fix', '--json'])
      expect(r.code).toBe(1)
      const found = (JSON.parse(r.stdout) as { findings: Finding[] }).findings
      expect(found.map((f) => `${f.problem} ${f.status} ${f.path}`)).toEqual([`corrupt needs-you runs/a/${run.id}/tags.jsonl`, 'corrupt needs-you runs/b/experiment.json'])
      expect(found[0]!.detail).toMatch(/^line 2 is not valid JSON/)
      expect(readFileSync(tags, 'utf8')).toBe(text.replace('{', '{{'))
    } finally {
      rmSync(other, { recursive: true, force: true })
    }
  }, 30_000)

  it('an experiment index with a corrupt line is rebuilt from the run folders by --fix', async () => {
    const other = mkdtempSync(join(tmpdir(), 'mtflow-doctor-'))
    try {
      const tracker = new Tracker(other)
      const run = tracker.startRun({ experiment: 'a', params: { p: 1 } })
      run.logMetric('m', 3)
      run.end()
      const index = join(other, 'runs', 'a', 'index.jsonl')
      const lines = readFileSync(index, 'utf8').split('\n')
      lines[1] = lines[1]!.slice(0, 20) // the run's first line: its info, params and tags
      writeFileSync(index, lines.join('\n'))
      const listed = await runCli(['--home', other, 'doctor', '--json'])
      expect(listed.code).toBe(1)
      expect((JSON.parse(listed.stdout) as { findings: Finding[] }).findings.map((f) => `${f.problem} ${f.status} ${f.path}`)).toEqual(['index fixable runs/a/index.jsonl'])
      const fixed = await runCli(['--home', other, 'doctor', '--fix', '--json'])
      expect((JSON.parse(fixed.stdout) as { findings: Finding[] }).findings.map((f) => `${f.problem} ${f.status}`)).toEqual(['index fixed'])
      expect(fixed.code).toBe(0)
      const shown = JSON.parse((await runCli(['--home', other, 'runs', 'show', run.id, '--json'])).stdout)
      expect([shown.info.status, shown.params.p, shown.metrics.m.value]).toEqual(['FINISHED', '1', 3])
    } finally {
      rmSync(other, { recursive: true, force: true })
    }
  }, 30_000)

  it('an index with a corrupt line is reported even when experiment.json is corrupt too (it cannot be rebuilt yet)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'mtflow-doctor-'))
    try {
      const tracker = new Tracker(other)
      tracker.startRun({ experiment: 'a' }).end()
      const index = join(other, 'runs', 'a', 'index.jsonl')
      const lines = readFileSync(index, 'utf8').split('\n')
      lines[1] = lines[1]!.slice(0, 20)
      writeFileSync(index, lines.join('\n'))
      writeFileSync(join(other, 'runs', 'a', 'experiment.json'), '{"id":"a",')
      const r = await runCli(['--home', other, 'doctor', '--fix', '--json'])
      expect(r.code).toBe(1)
      const found = (JSON.parse(r.stdout) as { findings: Finding[] }).findings
      expect(found.map((f) => `${f.problem} ${f.status} ${f.path}`)).toEqual(['corrupt needs-you runs/a/experiment.json', 'index needs-you runs/a/index.jsonl'])
      expect(found[1]!.detail).toMatch(/^unreadable \(line 2 is not valid JSON/)
      expect(found[1]!.hint).toContain('experiment.json')
    } finally {
      rmSync(other, { recursive: true, force: true })
    }
  }, 30_000)

  it('--fix moving torn records aside loses no point a process logs meanwhile, and keeps none twice', async () => {
    const other = mkdtempSync(join(tmpdir(), 'mtflow-doctor-'))
    try {
      const tracker = new Tracker(other)
      const run = tracker.startRun({ experiment: 'a' })
      run.end()
      // An ended run (no heartbeat to refuse on) that another process keeps logging to, leaving a torn
      // fragment every 25 points, while a third process runs the doctor's repairs again and again.
      const COUNT = 10000
      const stop = join(other, 'stop')
      const start = (...args: string[]) => {
        const child = spawn(process.execPath, [join(FIXTURES, 'torn-appender.cjs'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        child.stdout.on('data', (d: Buffer) => (out += d.toString()))
        return new Promise<string>((r) => child.on('close', (code) => r(`${code} ${out}`)))
      }
      const fixer = start('doctor', other, stop)
      expect(await start('append', other, run.id, String(COUNT), '25')).toBe(`0 torn ${COUNT / 25}\n`)
      writeFileSync(stop, '')
      const fixed = await fixer
      expect(fixed).toMatch(/^0 repairs \d+\n$/)
      expect(Number(fixed.split(' ')[2])).toBeGreaterThan(5)
      const metrics = join(other, 'runs', 'a', run.id, 'metrics.jsonl')
      const steps = readRecords<{ s: number }>(metrics).records.map((r) => r.s).sort((a, b) => a - b)
      expect(steps).toEqual(Array.from({ length: COUNT }, (_, i) => i))
      expect(countTorn(metrics)).toBe(0)
      // Every fragment is in the sidecar exactly once.
      const aside = readFileSync(`${metrics}.torn`, 'utf8').split('\n').filter((l) => l !== '').sort()
      expect(aside).toEqual(Array.from({ length: COUNT / 25 }, (_, j) => `{"k":"n","v":-${j * 25 + 24},"s":`).sort())
    } finally {
      rmSync(other, { recursive: true, force: true })
    }
  }, 120_000)
})

describe('mtflow doctor on the lake', () => {
  it('names a dataset pointer it cannot follow, and --fix leaves it for you (nothing guessed, nothing removed)', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'mtflow-doctor-lake-'))
    try {
      expect((await runCli(['--home', ws, 'data', 'samples'])).code).toBe(0)
      const dataset = join(ws, 'lake', 'bars', 'source=sample', 'symbol=SPX', 'timeframe=1d')
      const pointer = join(dataset, 'CURRENT')
      const clean = await runCli(['--home', ws, 'doctor'])
      expect(clean.code).toBe(0)
      expect(clean.stdout).toBe(`no problems found in ${ws}\n`)
      writeFileSync(pointer, 'gen=1\n')
      for (const args of [[], ['--fix']]) {
        const r = await runCli(['--home', ws, 'doctor', '--json', ...args])
        expect(r.code).toBe(1)
        const { findings } = JSON.parse(r.stdout) as { findings: Finding[] }
        expect(findings).toHaveLength(1)
        expect(findings[0]).toMatchObject({ problem: 'corrupt', path: 'lake/bars/source=sample/symbol=SPX/timeframe=1d/CURRENT', status: 'needs-you' })
        expect(readFileSync(pointer, 'utf8')).toBe('gen=1\n')
        expect(existsSync(join(dataset, 'gen=1'))).toBe(true)
      }
    } finally {
      rmSync(ws, { recursive: true, force: true })
    }
  }, 60_000)
})
