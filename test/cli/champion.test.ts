// `mtflow champion status | promote | rollback | serve-mode` through the CLI's main() in this process: bad
// input is one line and exit 2 with nothing written; a refused promotion is one line and exit 1 with the
// aliases unchanged; an accepted one moves them; rollback with a reason; --help and --json on every verb.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../lib/cli/main.js'
import type { CliContext } from '../../lib/cli/context.js'
import { seededRandom } from '../../lib/core/index.js'
import { DecisionTreeClassifier, packageModel, registerPackage } from '../../lib/ml/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'

let home: string
let runs: { v1: string; v2: string; thin: string }

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const context: CliContext = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, home, verbose: false, exitCode: 0 }
  const code = await main(['--home', home, 'champion', ...args], context)
  return { code, stdout, stderr }
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-champion-'))
  const rng = seededRandom(3)
  const rows = 200
  const X = new Float64Array(rows * 2).map(() => rng.normal())
  const data = { X, rows, columns: ['a', 'b'], y: Array.from({ length: rows }, (_, r) => (X[2 * r]! > 0 ? 1 : 0)) }
  const registry = new Registry(home)
  registerPackage(registry, 'm', packageModel(new DecisionTreeClassifier({ maxDepth: 1 }).fit(data), { data }), { alias: 'champion' })
  registerPackage(registry, 'm', packageModel(new DecisionTreeClassifier({ maxDepth: 3 }).fit(data), { data }), { alias: 'challenger' })
  const tracker = new Tracker(home)
  const run = (metrics: Record<string, number>) => {
    const r = tracker.startRun({ experiment: 'wf' })
    r.logMetrics(metrics)
    r.end()
    return r.id
  }
  runs = { v1: run({ oos_sharpe: 0.5, oos_bars: 400 }), v2: run({ oos_sharpe: 0.9, oos_bars: 400 }), thin: run({ oos_sharpe: 3, oos_bars: 10 }) }
  // Each run is evidence of its version: linked to it in the registry.
  registry.linkRuns('models', 'm', 1, [runs.v1], 'walk-forward of v1')
  registry.linkRuns('models', 'm', 2, [runs.v2, runs.thin], 'walk-forward of v2')
})
afterAll(() => rmSync(home, { recursive: true, force: true }))

const aliases = () => new Registry(home).entry('models', 'm').aliases

describe('mtflow champion', () => {
  it('every verb has --help', async () => {
    for (const verb of ['status', 'promote', 'rollback', 'serve-mode']) {
      const r = await cli(verb, '--help')
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('--json')
    }
  })

  it('serve-mode writes serving/NAME.json; bad input is one line, exit 2, nothing written', async () => {
    const file = join(home, 'serving', 'm.json')
    for (const [args, why] of [
      [['m', 'canary'], /mode must be one of single, shadow, ab \(received "canary"\)/],
      [['m', 'ab', '--split', '1.5'], /--split must be a number between 0 and 1, exclusive \(received "1.5"\)/],
      [['m', 'shadow', '--split', '0.2'], /--split applies to mode ab only/],
      [['m', 'single', '--expire-after', '30 days'], /expireAfter must be a duration such as 30d/],
      [['nope', 'single'], /no model named "nope"/],
    ] as [string[], RegExp][]) {
      const r = await cli('serve-mode', ...args)
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(why)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(existsSync(file)).toBe(false)
    }
    const r = await cli('serve-mode', 'm', 'ab', '--split', '0.25', '--expire-after', '30d', '--json')
    expect(r.code).toBe(0)
    const written = { champion: 'champion', mode: 'ab', challenger: 'challenger', split: 0.25, expireAfter: '30d' }
    expect(JSON.parse(r.stdout)).toEqual(written)
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(written)
    expect(r.stderr).toBe('')
    // A challenger alias the model does not have: allowed (a job may set it later), and said (an operations review: traffic silently all to the champion).
    const missing = await cli('serve-mode', 'm', 'ab', '--split', '0.3', '--challenger', 'candidate')
    expect(missing.code).toBe(0)
    expect(missing.stderr).toBe('mtflow: note: model m has no alias candidate yet: champion answers every request until it is set (mtflow registry alias models m@VERSION candidate)\n')
    await cli('serve-mode', 'm', 'ab', '--split', '0.25', '--expire-after', '30d')
  })

  it('status shows the aliases, the mode and whether each version has expired', async () => {
    const r = await cli('status', 'm', '--json')
    expect(r.code).toBe(0)
    const s = JSON.parse(r.stdout)
    expect(s.configured).toBe(true)
    expect(s.config.mode).toBe('ab')
    expect(s.aliases.map((a: { alias: string; version: number; expired: boolean }) => [a.alias, a.version, a.expired])).toEqual([
      ['challenger', 2, false],
      ['champion', 1, false],
    ])
    const text = await cli('status', 'm')
    expect(text.stdout).toMatch(/m: ab \(25 % to challenger\), versions expire after 30d/)
  })

  it('promote: refused is one line and exit 1, aliases unchanged; accepted moves them', async () => {
    let r = await cli('promote', 'm', '--evidence-champion', runs.v1, '--evidence-challenger', runs.v2, '--margin', '0.5')
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^not promoted: challenger v2 oos_sharpe 0\.9000 vs champion v1 oos_sharpe 0\.5000 \+ margin 0\.5000 on 400 out-of-sample observations: below 1\n$/)
    r = await cli('promote', 'm', '--evidence-champion', runs.v1, '--evidence-challenger', runs.thin)
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/rests on 10 observations, fewer than 30/)
    expect(aliases()).toEqual({ champion: 1, challenger: 2 })
    r = await cli('promote', 'm', '--evidence-champion', runs.v1, '--evidence-challenger', runs.v2, '--margin', 'x')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--margin must be a number ≥ 0 \(received "x"\)/)
    r = await cli('promote', 'm', '--evidence-champion', runs.v1, '--evidence-challenger', runs.v2, '--margin', '0.3', '--min-observations', '400', '--json')
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout)
    expect(result).toMatchObject({ promoted: true, champion: { version: 1, value: 0.5 }, challenger: { version: 2, value: 0.9, observations: 400 } })
    expect(aliases()).toEqual({ champion: 2, 'previous-champion': 1 })
  })

  it('rollback needs a reason and moves champion back', async () => {
    let r = await cli('rollback', 'm')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--reason/)
    r = await cli('rollback', 'm', '--reason', 'drawdown 12 % > 10 %', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ rolledBack: true, from: 2, to: 1 })
    expect(aliases()).toEqual({ champion: 1, 'rolled-back': 2 })
    r = await cli('rollback', 'm', '--reason', 'again')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/no previous-champion to roll back to/)
    const history = JSON.parse((await cli('status', 'm', '--json')).stdout).history.map((e: { action: string }) => e.action)
    expect(history).toEqual(['refuse', 'refuse', 'promote', 'rollback'])
  })
})
