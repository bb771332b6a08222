// mtflow runs delete|restore|gc as processes: soft delete and restore seen through list/search --deleted/--all,
// bad input (unknown, already deleted, not deleted, hostile ids, a referenced run) as one line, exit 2 and
// nothing changed, gc --dry-run writing nothing, and a gc killed with SIGKILL mid-way whose workspace still
// lists and whose next gc finishes the removal.

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clearIndexCache, Registry, Tracker } from '../../lib/track/index.js'
import { ROOT, runCli, runCliBatch } from '../helpers.js'

let home: string
let runs: string[] // a, b, c, model
const cli = (...args: string[]) => runCli(['--home', home, ...args])
const listed = async (...flags: string[]): Promise<string[]> => {
  const r = await cli('runs', 'list', ...flags, '--json')
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout).runs as { info: { runId: string } }[]).map((x) => x.info.runId).sort()
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-lifecycle-'))
  const tracker = new Tracker(home)
  runs = ['a', 'b', 'c', 'model'].map((name) => {
    const run = tracker.startRun({ experiment: 'lc', name })
    if (name === 'model') run.logArtifact({ name: 'model.json', data: '{}' })
    run.end()
    return run.id
  })
  new Registry(home).registerModel(tracker, 'm1', runs[3]!, 'model.json')
})
afterAll(() => rmSync(home, { recursive: true, force: true }))

describe('mtflow runs delete|restore|gc', () => {
  it('delete hides runs from list and search until restore; --deleted and --all show them', async () => {
    const [a, b, c, model] = runs as [string, string, string, string]
    const del = await cli('runs', 'delete', a, b, '--reason', 'bad fees', '--json')
    expect(del.code, del.stderr).toBe(0)
    expect(JSON.parse(del.stdout).deleted.map((x: { runId: string }) => x.runId)).toEqual([a, b])
    expect(await listed()).toEqual([c, model].sort())
    expect(await listed('--deleted')).toEqual([a, b].sort())
    expect(await listed('--all')).toEqual([...runs].sort())
    // --experiments counts the active runs, as list does, and the deleted beside them (a new-user review: 4 with 2 deleted).
    const experiments = JSON.parse((await cli('runs', 'list', '--experiments', '--json')).stdout) as { name: string; runs: number; deletedRuns: number }[]
    expect(experiments.find((e) => e.name === 'lc')).toMatchObject({ runs: 2, deletedRuns: 2 })
    const search = await cli('runs', 'search', 'tags.`mtflow.deleteReason` = "bad fees"', '--deleted', '--json')
    expect(JSON.parse(search.stdout).total).toBe(2)
    const restored = await cli('runs', 'restore', b)
    expect(restored.code, restored.stderr).toBe(0)
    expect(restored.stdout).toBe(`restored run ${b} (lc)\n`)
    expect(await listed('--deleted')).toEqual([a])
  })

  it('bad input is one line naming the id, exit 2, and nothing changes', async () => {
    const [a, b, c, model] = runs as [string, string, string, string]
    const cases: [string[], string][] = [
      [['runs', 'delete', c, 'nope'], 'mtflow: unknown run "nope"\n'],
      [['runs', 'delete', c, a], `mtflow: run ${a} is already deleted`],
      [['runs', 'restore', a, c], `mtflow: run ${c} is not deleted; nothing to restore\n`],
      [['runs', 'delete', '../x'], 'mtflow: unknown run "../x": a run id is 1–64 letters, digits, _ or -\n'],
      [['runs', 'delete', ''], 'mtflow: unknown run "": a run id is 1–64 letters, digits, _ or -\n'],
      [['runs', 'delete', 'y'.repeat(5000)], 'mtflow: unknown run "yyyy'],
      [['runs', 'delete', model], `mtflow: run ${model} is referenced by model m1@1 (registry); --force deletes it anyway\n`],
      [['runs', 'gc', '--older-than', '30 days'], 'mtflow: --older-than must be a duration such as 30d, 12h, 90m, 45s or 2w (received "30 days")\n'],
      [['runs', 'list', '--deleted', '--all'], 'mtflow: --deleted and --all cannot be used together'],
    ]
    // One process for the refusals (they are main's, not the process's).
    const results = await runCliBatch(cases.map(([args]) => ['--home', home, ...args]))
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.startsWith(message), r.stderr).toBe(true)
      expect(r.stderr.split('\n').length).toBe(2) // one line
      expect(r.stderr.length).toBeLessThan(400)
    }
    expect(await listed('--deleted')).toEqual([a])
    expect(await listed()).toEqual([b, c, model].sort())
  })

  it('gc --dry-run lists and changes nothing; gc removes; gc keeps a referenced run unless --force', async () => {
    const [a, , , model] = runs as [string, string, string, string]
    const forced = await cli('runs', 'delete', model, '--force')
    expect(forced.code, forced.stderr).toBe(0)
    const dry = await cli('runs', 'gc', '--dry-run', '--json')
    expect(dry.code, dry.stderr).toBe(0)
    expect(JSON.parse(dry.stdout)).toEqual({
      dryRun: true,
      removed: [{ runId: a, experimentId: 'lc', deletedTime: expect.any(Number) }],
      skipped: [{ runId: model, reason: 'referenced by model m1@1 (registry); --force removes it anyway' }],
      finished: [],
    })
    expect(existsSync(join(home, 'runs', 'lc', a, 'run.json'))).toBe(true)
    // Deleted a moment ago: not older than a day.
    const young = await cli('runs', 'gc', '--older-than', '1d', '--json')
    expect(JSON.parse(young.stdout).removed).toEqual([])
    const gc = await cli('runs', 'gc')
    expect(gc.code, gc.stderr).toBe(0)
    expect(gc.stdout).toContain(`kept ${model}: referenced by model m1@1 (registry)`)
    expect(gc.stdout).toContain('removed 1 run(s); kept 1')
    expect(existsSync(join(home, 'runs', 'lc', a))).toBe(false)
    expect(await listed('--all')).not.toContain(a)
  })

  it('--help for each verb', async () => {
    const verbs = ['delete', 'restore', 'gc']
    const results = await runCliBatch(verbs.map((verb) => ['--home', home, 'runs', verb, '--help']))
    for (const [i, verb] of verbs.entries()) {
      const r = results[i]!
      expect(r.code, verb).toBe(0)
      expect(r.stdout).toContain(`Usage: mtflow runs ${verb}`)
    }
  })
})

describe('a gc killed mid-way', () => {
  it('leaves a workspace that lists, and the next gc finishes the removal', async () => {
    const h = mkdtempSync(join(tmpdir(), 'mtflow-cli-gc-kill-'))
    try {
      const tracker = new Tracker(h)
      const keep = tracker.startRun({ experiment: 'big', name: 'keep' })
      keep.end()
      const parent = tracker.startRun({ experiment: 'big', name: 'sweep' })
      const children = parent.logChildren(Array.from({ length: 400 }, (_, i) => ({ params: { i } })))
      parent.end()
      // Files to delete, so removing each run takes a while (artifacts written directly: gc only deletes them).
      for (const id of children) {
        const dir = join(h, 'runs', 'big', id, 'artifacts')
        mkdirSync(dir)
        for (let f = 0; f < 25; f++) writeFileSync(join(dir, `f${f}.bin`), 'x')
      }
      tracker.deleteRun(parent.id)
      const trash = join(h, 'runs', 'big', '.trash')
      const child = spawn(process.execPath, [join(ROOT, 'lib', 'cli', 'bin.cjs'), '--home', h, 'runs', 'gc'], { stdio: 'ignore' })
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
      // Kill as soon as the first run is in the trash (a tight poll: the whole gc takes about a second).
      const deadline = Date.now() + 60_000
      while (!existsSync(trash) && Date.now() < deadline) await new Promise((r) => setImmediate(r))
      child.kill('SIGKILL')
      expect(await exited).toBe('SIGKILL')
      const left = readdirSync(join(h, 'runs', 'big')).filter((n) => children.includes(n) || n === parent.id)
      expect(left.length).toBeGreaterThan(0) // killed before the end (else this test proves nothing)
      expect(left).toContain(parent.id) // the parent goes last

      // Listing works, and every run it lists is whole (getRun reads its folder).
      const list = await runCli(['--home', h, 'runs', 'list', '--all', '--max', '1000', '--json'])
      expect(list.code, list.stderr).toBe(0)
      clearIndexCache()
      const after = new Tracker(h)
      const present = (JSON.parse(list.stdout).runs as { info: { runId: string } }[]).map((r) => r.info.runId).filter((id) => existsSync(join(h, 'runs', 'big', id)))
      for (const id of present) expect(after.getRun(id).info.runId).toBe(id)

      const again = await runCli(['--home', h, 'runs', 'gc', '--json'])
      expect(again.code, again.stderr).toBe(0)
      const result = JSON.parse(again.stdout) as { removed: { runId: string }[]; finished: string[] }
      // Between them the two gcs removed the 400 children and the parent, each once at most in this one.
      expect(new Set([...result.removed.map((r) => r.runId), ...result.finished]).size).toBe(result.removed.length + result.finished.length)
      expect(result.removed.map((r) => r.runId)).toContain(parent.id)
      expect(readdirSync(trash)).toEqual([])
      expect(readdirSync(join(h, 'runs', 'big')).filter((n) => children.includes(n) || n === parent.id)).toEqual([])
      const final = await runCli(['--home', h, 'runs', 'list', '--all', '--json'])
      expect(final.code, final.stderr).toBe(0)
      expect((JSON.parse(final.stdout).runs as { info: { runId: string } }[]).map((r) => r.info.runId)).toEqual([keep.id])
    } finally {
      rmSync(h, { recursive: true, force: true })
    }
  }, 120_000)
})
