// Workspace studies: the JSON-lines file, resume after a crash (a hand-written file with an orphaned
// running trial, and a real process killed inside a trial), grids resumed without repeats, two
// processes sharing one study, and loadStudy's checks.

import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { NotFoundError } from '../../lib/core/index.js'
import { createStudy, floatRange, gridSampler, intRange, loadStudy, randomSampler, studyFile } from '../../lib/tune/index.js'

const ROOT = join(import.meta.dirname, '..', '..')
const CHILD = join(import.meta.dirname, 'fixtures', 'study-child.ts')
const homes: string[] = []
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })))
const tempHome = () => {
  const h = mkdtempSync(join(tmpdir(), 'mtflow-tune-store-'))
  homes.push(h)
  return h
}
const space = { x: floatRange(0, 1), n: intRange(0, 1000) }

/** The parameters a fresh in-memory study with the children's sampler draws for trial numbers 0..n-1. */
function draws(n: number): Record<string, unknown>[] {
  const s = createStudy({ space, sampler: randomSampler({ seed: 5 }) })
  return Array.from({ length: n }, () => {
    const t = s.ask()
    s.tell(t, 0)
    return { ...t.params }
  })
}

function runChild(home: string, name: string, trials: number, mode = ''): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, home, name, String(trials), mode], { stdio: 'ignore', cwd: ROOT })
    child.on('exit', (code, signal) => resolve(signal === 'SIGKILL' ? -9 : code))
  })
}

describe('workspace studies', () => {
  it('writes one event per line and reads it back in a new Study', async () => {
    const home = tempHome()
    const a = createStudy({ name: 'basic', storage: { home }, direction: 'maximize', space, sampler: randomSampler({ seed: 5 }) })
    await a.optimize((t) => t.params.n as number, { nTrials: 3 })
    const lines = readFileSync(studyFile(home, 'basic'), 'utf8').split('\n').filter((l) => l !== '')
    expect(lines.map((l) => JSON.parse(l).e)).toEqual(['study', ...Array(3).fill(['trial', 'params', 'finish']).flat()])
    const b = loadStudy({ name: 'basic', storage: { home } })
    expect(b.directions).toEqual(['maximize'])
    expect(b.space!.params).toEqual(a.space!.params)
    expect(b.trials.map((t) => [t.params, t.values, t.state])).toEqual(a.trials.map((t) => [t.params, t.values, t.state]))
    expect(b.bestValue).toBe(Math.max(...a.trials.map((t) => t.values![0]!)))
  })

  it('fails and re-queues a running trial whose process is gone; finished trials are not repeated', async () => {
    const home = tempHome()
    const file = studyFile(home, 'crashed')
    mkdirSync(join(home, 'studies'), { recursive: true })
    const dead = spawnSync(process.execPath, ['-e', '0']).pid // exited: its pid is free
    const owner = { host: hostname(), pid: dead, session: 'gone' }
    const d = draws(5)
    const dists = { x: space.x, n: { ...space.n, step: 1 } }
    const events = [
      { e: 'study', format: 1, name: 'crashed', directions: ['minimize'], space: { x: space.x, n: dists.n }, createdAt: 1 },
      ...[0, 1].flatMap((n) => [
        { e: 'trial', n, at: 1, owner },
        { e: 'params', n, params: d[n], dists },
        { e: 'finish', n, state: 'complete', values: [n], at: 2 },
      ]),
      { e: 'trial', n: 2, at: 3, owner },
      { e: 'params', n: 2, params: { x: 0.125, n: 7 }, dists },
      { e: 'report', n: 2, step: 0, value: 1.5 },
    ]
    writeFileSync(file, events.map((e) => `\n${JSON.stringify(e)}\n`).join(''))
    const study = createStudy({ name: 'crashed', storage: { home }, sampler: randomSampler({ seed: 5 }) })
    expect(study.trials[2]!.state).toBe('failed')
    expect(study.trials[2]!.error).toBe(`abandoned: its process ${dead} on ${hostname()} is gone`)
    await study.optimize((t) => t.params.x as number, { nTrials: 3 })
    const t = study.trials
    expect(t.map((x) => x.state)).toEqual(['complete', 'complete', 'failed', 'complete', 'complete', 'complete'])
    expect(t[3]!.params).toEqual({ x: 0.125, n: 7 }) // the crashed trial's parameters run next
    expect(t[3]!.fixed).toEqual({ x: 0.125, n: 7 })
    // The sampler continues at trial numbers 4 and 5: the draws of those numbers, not of 0 and 1 again.
    expect([t[4]!.params, t[5]!.params]).toEqual([draws(6)[4], draws(6)[5]])
    expect(new Set(t.map((x) => JSON.stringify(x.params))).size).toBe(5) // trial 3 repeats trial 2 only
    // Reopening again re-queues nothing more.
    const again = createStudy({ name: 'crashed', storage: { home }, sampler: randomSampler({ seed: 5 }) })
    await again.optimize(() => 0, { nTrials: 1 })
    expect(again.trials[6]!.fixed).toBeUndefined()
  })

  it('leaves a live owner’s running trial alone, but not a reused pid’s', () => {
    const home = tempHome()
    mkdirSync(join(home, 'studies'), { recursive: true })
    const parent = process.ppid // alive while this test runs
    const ticks = readFileSync(`/proc/${parent}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!
    const header = { e: 'study', format: 1, name: 'owners', directions: ['minimize'], createdAt: 1 }
    const events = [header, { e: 'trial', n: 0, at: 1, owner: { host: hostname(), pid: parent, session: 's', start: ticks } }, { e: 'trial', n: 1, at: 1, owner: { host: hostname(), pid: parent, session: 's', start: '1' } }]
    writeFileSync(studyFile(home, 'owners'), events.map((e) => `\n${JSON.stringify(e)}\n`).join(''))
    const study = loadStudy({ name: 'owners', storage: { home } })
    expect(study.trials.map((t) => t.state)).toEqual(['running', 'failed'])
    expect(study.trials[1]!.error).toBe(`abandoned: its process ${parent} on ${hostname()} is gone (the pid belongs to a newer process)`)
  })

  it('resumes after a process is killed inside a trial', async () => {
    const home = tempHome()
    expect(await runChild(home, 'killed', 10, 'crash-at=3')).toBe(-9)
    const study = createStudy({ name: 'killed', storage: { home }, space, sampler: randomSampler({ seed: 5 }) })
    const before = study.trials
    expect(before.map((t) => t.state)).toEqual(['complete', 'complete', 'complete', 'failed'])
    expect(before[3]!.error).toMatch(/^abandoned: its process \d+ on .* is gone$/)
    await study.optimize((t) => (t.params.x as number) + (t.params.n as number), { nTrials: 3 })
    const t = study.trials
    const d = draws(7)
    expect(t.slice(0, 4).map((x) => x.params)).toEqual(d.slice(0, 4))
    expect(t[4]!.params).toEqual(d[3]) // re-run of the killed trial
    expect([t[5]!.params, t[6]!.params]).toEqual([d[5], d[6]])
    expect(t.filter((x) => x.state === 'complete')).toHaveLength(6)
  })

  it('resumes a grid without repeating finished points', async () => {
    const home = tempHome()
    const gridSpace = { a: intRange(0, 2), b: intRange(0, 1) }
    const first = createStudy({ name: 'grid', storage: { home }, space: gridSpace, sampler: gridSampler({ shuffle: 1 }) })
    await first.optimize(() => 0, { nTrials: 4 })
    const second = createStudy({ name: 'grid', storage: { home }, space: gridSpace, sampler: gridSampler({ shuffle: 1 }) })
    await second.optimize(() => 0, { nTrials: 10 })
    const points = second.trials.map((t) => `${t.params.a},${t.params.b}`)
    expect(points).toHaveLength(6)
    expect(new Set(points)).toEqual(new Set(['0,0', '0,1', '1,0', '1,1', '2,0', '2,1']))
  })

  it('lets two processes run one study: unique trial numbers, every trial recorded', async () => {
    const home = tempHome()
    createStudy({ name: 'shared', storage: { home }, space, sampler: randomSampler({ seed: 5 }) })
    const codes = await Promise.all([runChild(home, 'shared', 25), runChild(home, 'shared', 25)])
    expect(codes).toEqual([0, 0])
    const study = loadStudy({ name: 'shared', storage: { home } })
    const t = study.trials
    expect(t.map((x) => x.number)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(t.every((x) => x.state === 'complete')).toBe(true)
    expect(new Set(t.map((x) => x.owner!.pid)).size).toBe(2)
    // Trial n has the draw of number n, whichever process ran it.
    expect(t.map((x) => x.params)).toEqual(draws(50))
  })

  it('skips a torn last line and checks names, directions and existence', () => {
    const home = tempHome()
    const study = createStudy({ name: 'torn', storage: { home }, space })
    study.tell(study.ask(), 1)
    appendFileSync(studyFile(home, 'torn'), '\n{"e":"trial","n":1,"at"')
    expect(loadStudy({ name: 'torn', storage: { home } }).trials).toHaveLength(1)
    expect(() => createStudy({ name: 'torn', storage: { home }, direction: 'maximize' })).toThrow(/study torn was created with directions \[minimize\] \(received \[maximize\]\)/)
    expect(() => loadStudy({ name: 'nothing', storage: { home } })).toThrow(NotFoundError)
    expect(() => loadStudy({ name: 'nothing', storage: { home } })).toThrow(/no study "nothing" in/)
  })
})
