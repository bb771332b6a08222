// The registry on a real workspace: version numbers, content dedupe, references, aliases, model stages
// with their audit log, retire/restore, links to runs, models from a run's artifact, and two processes
// registering at once. Content hashes are computed here with node:crypto.

import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseRef, Registry, Tracker } from '../../lib/track/index.js'
import { FIXTURES } from '../helpers.js'

const homes: string[] = []
function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-registry-'))
  homes.push(home)
  return home
}
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true })
})
const sha = (data: string) => createHash('sha256').update(data).digest('hex')

describe('versions', () => {
  it('numbers versions, dedupes identical content, and resolves references', () => {
    const reg = new Registry(workspace())
    const v1 = reg.register('strategies', 'sma-cross', { files: { 'source.ts': 'export const a = 1\n' }, params: { fast: 10 }, runs: ['r1'] })
    expect(v1).toMatchObject({ created: true, version: { version: 1, sha256: sha('export const a = 1\n'), status: 'active', runs: ['r1'], params: { fast: 10 } } })
    const again = reg.register('strategies', 'sma-cross', { files: { 'source.ts': 'export const a = 1\n' }, runs: ['r2'] })
    expect(again.created).toBe(false)
    expect(again.version.version).toBe(1)
    expect(again.version.runs).toEqual(['r1', 'r2'])
    const v2 = reg.register('strategies', 'sma-cross', { files: { 'source.ts': 'export const a = 2\n' } })
    expect(v2.version.version).toBe(2)
    // Two files: the hash of the sorted "name sha" lines.
    const multi = reg.register('dashboards', 'runs', { files: { 'index.html': '<p>x</p>', 'data.json': '{}' } })
    expect(multi.version.sha256).toBe(sha(`data.json ${sha('{}')}\nindex.html ${sha('<p>x</p>')}\n`))

    expect(reg.resolve('strategies', 'sma-cross').version).toBe(2)
    expect(reg.resolve('strategies', 'sma-cross@latest').version).toBe(2)
    expect(reg.resolve('strategies', 'sma-cross@1').version).toBe(1)
    expect(readFileSync(reg.file('strategies', 'sma-cross@1'), 'utf8')).toBe('export const a = 1\n')
    expect(() => reg.resolve('strategies', 'sma-cross@7')).toThrow(/has no version 7 \(versions: 1, 2\)/)
    expect(() => reg.resolve('strategies', 'sma-cross@champion')).toThrow(/has no alias "champion"/)
    expect(() => reg.resolve('strategies', 'nope')).toThrow(/no strategy named "nope"/)
    expect(() => reg.resolve('strategies', 'sma-cross@Bad!')).toThrow(/after @ expected/)
    expect(() => reg.register('strategies', '../evil', { files: { 'a.ts': 'x' } })).toThrow(/registry name "..\/evil" is invalid/)
    expect(() => reg.register('strategies', 'ok', { files: { '../a.ts': 'x' } })).toThrow(/relative path inside/)
    expect(() => reg.register('widgets' as never, 'ok', { files: { 'a': 'x' } })).toThrow(/registry kind must be one of/)
    expect(reg.list().map((e) => `${e.kind}/${e.name}`)).toEqual(['dashboards/runs', 'strategies/sma-cross'])
    expect(parseRef('m@champion')).toEqual({ name: 'm', selector: 'champion' })
  })

  it('moves aliases, retires and restores, and logs every change with its reason', () => {
    const reg = new Registry(workspace())
    for (const text of ['a', 'b', 'c']) reg.register('strategies', 's', { files: { 'source.ts': text } })
    reg.setAlias('strategies', 's', 'champion', 2, 'best out-of-sample Sharpe')
    reg.setAlias('strategies', 's', 'champion', 3, 'beat v2 on 2025 data')
    expect(reg.resolve('strategies', 's@champion').version).toBe(3)
    expect(() => reg.retire('strategies', 's', 3)).toThrow(/aliased as champion; move or delete the alias/)
    reg.retire('strategies', 's', 2, 'superseded')
    expect(reg.resolve('strategies', 's@2').status).toBe('retired')
    expect(() => reg.setAlias('strategies', 's', 'challenger', 2)).toThrow(/is retired; restore it/)
    reg.deleteAlias('strategies', 's', 'champion', 'rethink')
    reg.retire('strategies', 's', 3)
    // Latest skips retired versions.
    expect(reg.resolve('strategies', 's').version).toBe(1)
    reg.restore('strategies', 's', 3, 'needed again')
    expect(reg.resolve('strategies', 's').version).toBe(3)
    const log = reg.auditLog('strategies', 's').map((e) => [e.action, e.version, e.alias ?? '', e.from ?? '', e.to ?? '', e.reason ?? ''])
    expect(log.slice(3)).toEqual([
      ['alias', 2, 'champion', '', '2', 'best out-of-sample Sharpe'],
      ['alias', 3, 'champion', '2', '3', 'beat v2 on 2025 data'],
      ['retire', 2, '', 'active', 'retired', 'superseded'],
      ['unalias', 3, 'champion', '3', '', 'rethink'],
      ['retire', 3, '', 'active', 'retired', ''],
      ['restore', 3, '', 'retired', 'active', 'needed again'],
    ])
    expect(log.slice(0, 3).map((e) => e[0])).toEqual(['register', 'register', 'register'])
  })

  it('registers a model from a run artifact and moves it through stages', () => {
    const home = workspace()
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'ml' })
    run.logArtifact({ name: 'model/model.json', data: '{"tree":[1,2,3]}' })
    run.end()
    const reg = new Registry(home)
    const m1 = reg.registerModel(tracker, 'pairs-filter', run.id, 'model/model.json')
    expect(m1.version).toMatchObject({ version: 1, stage: 'None', sourceRunId: run.id, source: `runs:/${run.id}/model/model.json`, sha256: sha('{"tree":[1,2,3]}'), runs: [run.id] })
    expect(() => reg.registerModel(tracker, 'pairs-filter', run.id, 'model/missing.json')).toThrow(/has no artifact/)
    const run2 = tracker.startRun({ experiment: 'ml' })
    run2.logArtifact({ name: 'model.json', data: '{"tree":[4]}' })
    reg.registerModel(tracker, 'pairs-filter', run2.id, 'model.json')
    reg.transitionStage('pairs-filter', 1, 'Production', { reason: 'first champion' })
    reg.transitionStage('pairs-filter', 2, 'Production', { reason: 'retrained', archiveExisting: true })
    expect(reg.resolve('models', 'pairs-filter@1').stage).toBe('Archived')
    expect(reg.resolve('models', 'pairs-filter@2').stage).toBe('Production')
    expect(() => reg.transitionStage('pairs-filter', 2, 'Live' as never)).toThrow(/stage must be one of None, Staging, Production, Archived/)
    reg.setAlias('models', 'pairs-filter', 'challenger', 1)
    reg.setAlias('models', 'pairs-filter', 'champion', 2)
    expect(reg.entry('models', 'pairs-filter').aliases).toEqual({ challenger: 1, champion: 2 })
    const stages = reg.auditLog('models', 'pairs-filter').filter((e) => e.action === 'stage').map((e) => `${e.version}:${e.from}->${e.to}`)
    expect(stages).toEqual(['1:None->Production', '1:Production->Archived', '2:None->Production'])
  })

  it('gives two processes registering at once distinct, gap-free version numbers', async () => {
    const home = workspace()
    const outs = await Promise.all(
      ['p', 'q'].map(
        (w) =>
          new Promise<string>((resolve) => {
            const child = spawn(process.execPath, [join(FIXTURES, 'track-writer.cjs'), home, 'register', w, '8'], { stdio: ['ignore', 'pipe', 'inherit'] })
            let out = ''
            child.stdout.on('data', (d: Buffer) => (out += d.toString()))
            child.on('close', () => resolve(out.trim()))
          }),
      ),
    )
    const numbers = outs.flatMap((o) => o.split(',').map(Number)).sort((a, b) => a - b)
    expect(numbers).toEqual(Array.from({ length: 16 }, (_, i) => i + 1))
    expect(new Registry(home).entry('strategies', 'contended').versions).toHaveLength(16)
  })
})

describe("a version's file names (an attack review: version.json was overwritten by the record, a and a/b gave a 500)", () => {
  it('refuses version.json and a name that is another\'s folder, letter case aside, before anything is written', () => {
    const registry = new Registry(workspace())
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'version.json': '{}' }, /a file cannot be named "version.json": version.json is the version's own record/],
      [{ 'Version.JSON': '{}', 'source.ts': 'x' }, /a file cannot be named "Version.JSON"/],
      [{ 'version.json/x': 'x' }, /a file cannot be named "version.json\/x"/],
      [{ a: '1', 'a/b': '2' }, /files "a" and "a\/b" cannot both be: one is a folder of the other/],
      [{ 'Notes.md': '1', 'notes.md': '2' }, /cannot both be: the same name, letter case aside/],
    ]
    for (const [files, message] of cases) expect(() => registry.register('strategies', 's', { files })).toThrow(message)
    expect(registry.list('strategies')).toEqual([])
    expect(registry.register('strategies', 's', { files: { 'a/b': '1', 'a/c': '2', 'ab': '3' } }).version.version).toBe(1)
  })
})
