// Lineage: canonical parameter hashes (against a hand-written canonical string), the git commit read
// from a real repository made here with git, strategy source hashes, and the prior-run count.

import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { getStrategy, strategySource } from '../../lib/strategy/index.js'
import { gitCommit, paramsHash } from '../../lib/core/index.js'
import { Tracker } from '../../lib/track/index.js'
import { ROOT } from '../helpers.js'

const dirs: string[] = []
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'mtflow-lineage-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const sha = (data: string) => createHash('sha256').update(data).digest('hex')

describe('lineage', () => {
  it('hashes parameters independently of key order', () => {
    expect(paramsHash({ slow: 30, fast: 10 })).toBe(sha('{"fast":10,"slow":30}'))
    expect(paramsHash({ fast: 10, slow: 30 })).toBe(paramsHash({ slow: 30, fast: 10 }))
    expect(paramsHash({ b: { y: 1, x: [2, 'a'] }, a: null })).toBe(sha('{"a":null,"b":{"x":[2,"a"],"y":1}}'))
  })

  it('reads the checked-out commit of a git repository, loose or packed, and none outside one', () => {
    const repo = temp()
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim()
    git('init', '-q')
    writeFileSync(join(repo, 'a.txt'), 'a')
    git('add', '.')
    git('commit', '-qm', 'one')
    expect(gitCommit(repo)).toBe(git('rev-parse', 'HEAD'))
    git('pack-refs', '--all')
    expect(gitCommit(join(repo))).toBe(git('rev-parse', 'HEAD'))
    git('checkout', '-q', '--detach')
    expect(gitCommit(repo)).toBe(git('rev-parse', 'HEAD'))
    expect(gitCommit(temp())).toBeUndefined()
  })

  it("hashes a built-in strategy's module file and a strategy defined in code", () => {
    const builtin = strategySource(getStrategy('sma-cross'))
    expect(builtin.builtin).toBe(true)
    expect(builtin.file).toBe(join(ROOT, 'lib', 'strategy', 'builtin', 'sma-cross.ts'))
    expect(builtin.sha256).toBe(sha(readFileSync(builtin.file!, 'utf8')))
    const inline = { ...getStrategy('sma-cross'), name: 'mine' }
    const a = strategySource(inline)
    expect(a.builtin).toBe(false)
    expect(a.file).toBeUndefined()
    expect(a.source).toContain('onBar')
    expect(strategySource({ ...inline, warmup: () => 99 }).sha256).not.toBe(a.sha256)
  })

  it('counts the runs a strategy source had before, and mirrors lineage into tags', () => {
    const tracker = new Tracker(temp())
    const lineage = (s: string) => ({ strategy: { name: 'x', sha256: s }, data: [{ name: 'spx/1d', sha256: 'd1' }], gitCommit: 'c0ffee' })
    const counts = [lineage('aaa'), lineage('aaa'), lineage('bbb'), lineage('aaa')].map((l, i) => {
      const run = tracker.startRun({ experiment: i % 2 === 0 ? 'e1' : 'e2', lineage: l })
      run.end()
      return tracker.getRun(run.id).info.lineage.strategyPriorRuns
    })
    expect(counts).toEqual([0, 1, 0, 2])
    const run = tracker.startRun({ lineage: lineage('aaa') })
    expect(tracker.getRun(run.id).tags).toMatchObject({ 'mtflow.strategy': 'x', 'mtflow.strategy.sha256': 'aaa', 'mtflow.data.sha256': 'd1', 'mtflow.git.commit': 'c0ffee' })
  })
})
