// The strategy dashboard (dashboards/strategy.ts) attributes each run to the strategy version it used when
// two versions share one source (v2 = v1's source with other default params): by the version recorded on
// the run (the mtflow.strategy.version tag, a deployment's mtflow.strategy NAME@N), by the version that
// links it, by its parent's; by the source hash only when that names one version — else it says both.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseHTML } from 'linkedom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256 } from '../../lib/core/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { runComparison, strategyPage } from '../../dashboards/index.js'

const SOURCE = 'export const probe = { name: "probe" }\n'
const OTHER = 'export const probe = { name: "probe", v: 3 }\n'

let home: string
let tracker: Tracker
let registry: Registry
const ids: Record<string, string> = {}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-strategy-dashboard-'))
  tracker = new Tracker(home)
  registry = new Registry(home)
  // v1 and v2: one source, other params (so other version hashes); v3: another source.
  registry.register('strategies', 'probe', { files: { 'source.ts': SOURCE }, params: { fast: 10 } })
  registry.register('strategies', 'probe', { files: { 'source.ts': SOURCE, 'params.json': '{"fast":5}' }, params: { fast: 5 } })
  registry.register('strategies', 'probe', { files: { 'source.ts': OTHER } })
  const lineage = (source: string) => ({ strategy: { name: 'probe', sha256: sha256(source) } })
  const run = (name: string, source: string, tags: Record<string, string> = {}, parentRunId?: string) => {
    const r = tracker.startRun({ experiment: 'probe', name, lineage: lineage(source), tags, ...(parentRunId === undefined ? {} : { parentRunId }) })
    r.logMetrics({ sharpe: 1 })
    r.end()
    ids[name] = r.id
    return r.id
  }
  run('tagged-v1', SOURCE, { 'mtflow.strategy.version': '1' })
  run('tagged-v2', SOURCE, { 'mtflow.strategy.version': '2' })
  // A sweep of v2: its children carry no tag of their own.
  const sweep = run('sweep-v2', SOURCE, { 'mtflow.strategy.version': '2' })
  run('child-a', SOURCE, {}, sweep)
  run('child-b', SOURCE, {}, sweep)
  // A deployment's run names its version in mtflow.strategy.
  run('deployed-v1', SOURCE, { 'mtflow.strategy': 'probe@1' })
  // Linked from v1 when it was validated.
  const linked = run('linked-v1', SOURCE)
  registry.linkRuns('strategies', 'probe', 1, [linked])
  // Nothing recorded: v1 or v2 — the hash cannot tell.
  run('unknown', SOURCE)
  // The third source is v3's alone: the hash names it.
  run('hash-v3', OTHER)
  // Another strategy's v1 is not probe's.
  const other = tracker.startRun({ experiment: 'probe', name: 'other', lineage: { strategy: { name: 'other', sha256: sha256('other') } }, tags: { 'mtflow.strategy.version': '1' } })
  other.end()
})
afterAll(() => {
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

describe('strategy dashboard attribution', () => {
  it('counts each run under the version it used, not the latest version with the same source', async () => {
    const out = await strategyPage.render({ home, tracker, registry, params: { strategy: 'probe' }, now: Date.UTC(2024, 0, 1) })
    const { document } = parseHTML(`<main>${out.body}</main>`)
    const versions = document.querySelector('h2 + table')!
    const header = [...versions.querySelectorAll('thead th')].map((th) => th.textContent)
    const tried = header.indexOf('runs tried')
    const rows = [...versions.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))
    // v1: tagged-v1, deployed-v1, linked-v1 = 3; v2: tagged-v2, sweep-v2 and its 2 children = 4; v3: hash-v3 = 1.
    expect(rows.map((r) => [r[0], r[tried]])).toEqual([
      ['v1', '3'],
      ['v2', '4'],
      ['v3', '1'],
    ])
    // 9 runs in all; the one without a record is named as both candidates.
    expect(out.body).toContain('<h2>Runs: 9 in all</h2>')
    expect(out.body).toContain('v1 or v2 (same source)')
  })
})

describe('strategy dashboard best run', () => {
  it("picks the best run by the metric's direction: the shallowest drawdown for metric=maxDrawdown", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-strategy-best-'))
    try {
      const t = new Tracker(dir)
      const r = new Registry(dir)
      r.register('strategies', 'probe', { files: { 'source.ts': SOURCE } })
      const run = (name: string, maxDrawdown: number) => {
        const a = t.startRun({ experiment: 'probe', name, lineage: { strategy: { name: 'probe', sha256: sha256(SOURCE) } }, tags: { 'mtflow.strategy.version': '1' } })
        a.logMetrics({ maxDrawdown, sharpe: 1 })
        a.logMetric('equity', 100, 0)
        a.logMetric('equity', 101, 1)
        a.end()
      }
      // A drawdown of 5 % is better than one of 40 % (maxDrawdown is a depth: lower is better).
      run('shallow', 0.05)
      run('deep', 0.4)
      const out = await strategyPage.render({ home: dir, tracker: t, registry: r, params: { strategy: 'probe', metric: 'maxDrawdown' }, now: Date.UTC(2024, 0, 1) })
      expect(out.body).toMatch(/Best backtest by maxDrawdown[^<]*<a [^>]*>shallow<\/a>/)
      // The run-comparison dashboard's "top 1 by maxDrawdown" is the shallow one too.
      const top = await runComparison.render({ home: dir, tracker: t, registry: r, params: { metric: 'maxDrawdown', top: '1', filter: 'metrics.maxDrawdown is not null' }, now: Date.UTC(2024, 0, 1) })
      expect(top.runs.length).toBe(1)
      expect(t.getRun(top.runs[0]!).info.name).toBe('shallow')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
