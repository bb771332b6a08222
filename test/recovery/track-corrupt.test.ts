// Issue 18 point 7: damaged tracking and registry files, on real workspaces through the real CLI and server.
// A torn last record (a crash mid-append) is skipped and counted; any other damage — a corrupt middle line,
// aliases.json, version.json, experiment.json, run.json — is an error naming the file, never read as
// "missing", never overwritten by the next write, never dropped by `runs reindex`.

import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startServer, workspaceToken } from '../../lib/server/index.js'
import { clearIndexCache, Registry, Tracker } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

const homes: string[] = []
function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-corrupt-'))
  homes.push(home)
  return home
}
afterEach(() => {
  clearIndexCache()
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true })
})

/** A finished run with metric x = 1 at step 1 and 2 at step 2. */
function finishedRun(home: string, experiment = 'exp'): { tracker: Tracker; id: string; dir: string } {
  const tracker = new Tracker(home)
  const run = tracker.startRun({ experiment, name: 'r', params: { fast: 10 } })
  run.logMetric('x', 1, 1)
  run.logMetric('x', 2, 2)
  run.end()
  return { tracker, id: run.id, dir: join(home, 'runs', experiment, run.id) }
}

/**
 * Changes the index-th record line (blank separators not counted) with `edit`, writes the file back, and
 * returns that line's number in the file as an editor counts it (blank lines included).
 */
function editLine(file: string, index: number, edit: (line: string) => string): number {
  const lines = readFileSync(file, 'utf8').split('\n')
  const full = lines.map((l, i) => [l, i] as const).filter(([l]) => l !== '')
  const at = full[index]![1]
  lines[at] = edit(lines[at]!)
  writeFileSync(file, lines.join('\n'))
  return at + 1
}

describe('torn records (a crash mid-append)', () => {
  it('a torn last line is skipped and counted by runs show; later appends keep it counted, not fatal', async () => {
    const home = workspace()
    const { tracker, id, dir } = finishedRun(home)
    const metrics = join(dir, 'metrics.jsonl')
    appendFileSync(metrics, '\n{"k":"x","v":99,"s":3') // killed inside the write
    let shown = await runCli(['--home', home, 'runs', 'show', id, '--json'])
    expect(shown.code, shown.stderr).toBe(0)
    expect(JSON.parse(shown.stdout).tornRecords).toEqual({ 'metrics.jsonl': 1 })
    // Another process appends after the torn bytes: the torn record is now a middle line, still tolerated.
    tracker.logMetric(id, 'x', 4, 4)
    expect(tracker.metricHistory(id, 'x').map((p) => p.value)).toEqual([1, 2, 4])
    shown = await runCli(['--home', home, 'runs', 'show', id])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toMatch(/torn records\s+1 \(metrics\.jsonl: 1\)/)
    // Two appends after it do not count it twice, and a second crash makes two.
    tracker.logMetric(id, 'x', 5, 5)
    appendFileSync(metrics, '\n{"k":"x","v":')
    tracker.logMetric(id, 'x', 6, 6)
    expect(tracker.tornRecords(id)).toEqual({ 'metrics.jsonl': 2 })
    expect(tracker.metricHistory(id, 'x').map((p) => p.value)).toEqual([1, 2, 4, 5, 6])
  })

  it('a corrupt middle line of a metrics file is an error naming the file and line, not a silent drop', () => {
    const home = workspace()
    const { tracker, id, dir } = finishedRun(home)
    const metrics = join(dir, 'metrics.jsonl')
    // The file is "\n<rec>\n\n<rec>\n": the first record is on line 2. Damage it, keep the second intact.
    expect(editLine(metrics, 0, () => '{"k":"x","v":1,"s":1,"t":1')).toBe(2)
    expect(() => tracker.metricHistory(id, 'x')).toThrow(`${metrics} line 2 is not valid JSON`)
  })

  it('a corrupt middle line of the experiment index: runs show exits 2 naming the index (no run stuck RUNNING)', async () => {
    const home = workspace()
    const { id } = finishedRun(home)
    const index = join(home, 'runs', 'exp', 'index.jsonl')
    // The index holds: the run's start (RUNNING), two metric lines, then the end (FINISHED). Damage the end.
    const lines = readFileSync(index, 'utf8').split('\n').filter((l) => l !== '')
    expect(lines).toHaveLength(4)
    expect(JSON.parse(lines[3]!).i.status).toBe('FINISHED')
    // Four records, each after a blank line: the fourth is on line 8.
    expect(editLine(index, 3, (l) => l.slice(0, 40))).toBe(8)
    for (const args of [['runs', 'show', id], ['runs', 'list']]) {
      const r = await runCli(['--home', home, ...args])
      expect(r.code, r.stdout).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toContain(`${index} line 8 is not valid JSON`)
    }
  })
})

describe('corrupt record files', () => {
  it('a corrupt aliases.json: the alias write refuses (exit 2, one line naming it) and changes nothing', async () => {
    const home = workspace()
    const reg = new Registry(home)
    reg.register('strategies', 's', { files: { 'source.ts': 'a' } })
    reg.register('strategies', 's', { files: { 'source.ts': 'b' } })
    reg.setAlias('strategies', 's', 'champion', 1)
    const aliases = join(home, 'registry', 'strategies', 's', 'aliases.json')
    const audit = join(home, 'registry', 'strategies', 's', 'audit.jsonl')
    const torn = '{\n  "champion": '
    writeFileSync(aliases, torn)
    const auditBefore = readFileSync(audit, 'utf8')
    const r = await runCli(['--home', home, 'registry', 'alias', 'strategies', 's@2', 'challenger'])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`${aliases} is corrupt`)
    expect(readFileSync(aliases, 'utf8')).toBe(torn)
    expect(readFileSync(audit, 'utf8')).toBe(auditBefore)
    // Reading by alias is an error too (not "no alias champion"), and the audit log stays readable to restore it.
    expect(() => reg.resolve('strategies', 's@champion')).toThrow(`${aliases} is corrupt`)
    const log = await runCli(['--home', home, 'registry', 'audit', 'strategies', 's', '--json'])
    expect(log.code, log.stderr).toBe(0)
    expect(JSON.parse(log.stdout).filter((e: { action: string }) => e.action === 'alias')).toMatchObject([{ alias: 'champion', to: '1' }])
  })

  it('a corrupt version.json: listing and re-registering are errors naming it (not a vanished entry, not ENOTEMPTY)', async () => {
    const home = workspace()
    const reg = new Registry(home)
    reg.register('strategies', 's', { files: { 'source.ts': 'a' } })
    reg.register('strategies', 's', { files: { 'source.ts': 'b' } })
    const version = join(home, 'registry', 'strategies', 's', 'v2', 'version.json')
    writeFileSync(version, readFileSync(version, 'utf8').slice(0, 30))
    const list = await runCli(['--home', home, 'registry', 'strategies'])
    expect(list.code).toBe(2)
    expect(list.stderr).toContain(`${version} is corrupt`)
    expect(() => reg.register('strategies', 's', { files: { 'source.ts': 'c' } })).toThrow(`${version} is corrupt`)
    // A version folder that lost its record altogether is named too.
    rmSync(version)
    expect(() => reg.entry('strategies', 's')).toThrow(`${version} cannot be read`)
  })

  it('a corrupt experiment.json is an error naming it, and opening the experiment does not overwrite it', async () => {
    const home = workspace()
    finishedRun(home)
    const file = join(home, 'runs', 'exp', 'experiment.json')
    writeFileSync(file, '{"id":"exp","na')
    const r = await runCli(['--home', home, 'runs', 'list'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${file} is corrupt`)
    expect(() => new Tracker(home).startRun({ experiment: 'exp' })).toThrow(`${file} is corrupt`)
    expect(readFileSync(file, 'utf8')).toBe('{"id":"exp","na')
  })

  it('runs reindex keeps a run whose run.json is corrupt, tagged and listed, instead of dropping it', async () => {
    const home = workspace()
    const good = finishedRun(home)
    const bad = finishedRun(home)
    writeFileSync(join(bad.dir, 'run.json'), '{"runId":')
    const r = await runCli(['--home', home, 'runs', 'reindex', 'exp', '--json'])
    expect(r.code).toBe(1)
    const out = JSON.parse(r.stdout)
    expect(out.runs).toBe(2)
    expect(out.corrupt).toHaveLength(1)
    expect(out.corrupt[0].runId).toBe(bad.id)
    expect(out.corrupt[0].error).toContain(`${join(bad.dir, 'run.json')} is corrupt`)
    // Kept with what the old index knew of it.
    const shown = JSON.parse((await runCli(['--home', home, 'runs', 'show', bad.id, '--json'])).stdout)
    expect(shown.info.status).toBe('FINISHED')
    expect(shown.params).toEqual({ fast: '10' })
    expect(shown.metrics.x.value).toBe(2)
    expect(shown.tags['mtflow.corrupt']).toContain('run.json is corrupt')
    const list = JSON.parse((await runCli(['--home', home, 'runs', 'list', '--json'])).stdout)
    expect(list.runs.map((x: { info: { runId: string } }) => x.info.runId).sort()).toEqual([good.id, bad.id].sort())
  })

  it('the server answers a JSON 500 naming the corrupt file (the request was fine; the data is not), as $MTFLOW_HOME/…', async () => {
    const home = workspace()
    const { id } = finishedRun(home)
    const reg = new Registry(home)
    reg.register('strategies', 's', { files: { 'source.ts': 'a' } })
    const aliases = join(home, 'registry', 'strategies', 's', 'aliases.json')
    writeFileSync(aliases, '{"champion":')
    const index = join(home, 'runs', 'exp', 'index.jsonl')
    editLine(index, 1, (l) => l.slice(0, 10))
    clearIndexCache()
    const token = workspaceToken(home)
    const server = await startServer({ home, token, port: 0 })
    try {
      for (const [path, file] of [[`/api/runs/${id}`, index], ['/api/registry/strategies/s', aliases]] as const) {
        const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
        expect(response.status).toBe(500)
        const body = (await response.json()) as { error: string }
        expect(body.error).toContain(file.replace(home, '$MTFLOW_HOME'))
        expect(body.error).toContain('corrupt')
      }
    } finally {
      await server.close()
    }
  })
})

describe('a corrupt aliases.json stops aliases only', () => {
  it('name@1 and name@latest still resolve; name@champion is the error naming the file', () => {
    const home = workspace()
    const reg = new Registry(home)
    reg.register('models', 'm', { files: { 'model.json': 'one' } })
    reg.register('models', 'm', { files: { 'model.json': 'two' } })
    reg.setAlias('models', 'm', 'champion', 1)
    const aliases = join(home, 'registry', 'models', 'm', 'aliases.json')
    writeFileSync(aliases, '{"champion":')
    expect(reg.resolve('models', 'm@1').version).toBe(1)
    expect(reg.resolve('models', 'm').version).toBe(2)
    expect(reg.readFile('models', 'm@1').toString()).toBe('one')
    expect(() => reg.resolve('models', 'm@champion')).toThrow(`${aliases} is corrupt`)
    expect(readFileSync(aliases, 'utf8')).toBe('{"champion":')
  })
})
