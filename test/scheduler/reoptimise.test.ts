// A reoptimise job: sma-cross registered with params (alias champion) and seeded synthetic daily bars in the
// lake; the job (its real handler) resumes a persistent study whose first trial of each run is the
// champion's params, and registers the best as a strategy version aliased challenger. Every trial's value is
// recomputed here with a plain backtest() of its params on the same bars, and the best picked here.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { ingestBars, loadBars, syntheticGbm } from '../../lib/data/index.js'
import { ManualClock } from '../../lib/live/index.js'
import { checkJob, reoptimiseStrategy, Scheduler } from '../../lib/scheduler/index.js'
import { findStrategy, strategySource } from '../../lib/strategy/index.js'
import { Registry } from '../../lib/track/index.js'
import { loadStudy, tpeSplit } from '../../lib/tune/index.js'

let home: string
const champion = { fast: 10, slow: 30, short: 1 }

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-scheduler-reopt-'))
  await ingestBars(home, syntheticGbm({ symbol: 'SYN-A', timeframe: '1d', bars: 1200, seed: 3, start: '2020-01-01T00:00:00Z' }), { source: 'synthetic' })
  const sma = findStrategy('sma-cross')!
  const source = strategySource(sma)
  const registry = new Registry(home)
  const { version } = registry.register('strategies', 'sma-cross', { files: { 'source.ts': source.source, 'params.json': `${JSON.stringify(champion, null, 2)}\n` }, params: champion, runs: [], source: 'builtin:sma-cross' })
  registry.setAlias('strategies', 'sma-cross', 'champion', version.version, 'test')
}, 120_000)

describe('reoptimise job', () => {
  it('warm-starts a persistent study from the champion and registers its best as challenger', async () => {
    const now = Date.parse('2022-12-31T00:00:00Z')
    const spec = checkJob({ name: 'weekly-reopt', cron: '0 3 * * 0', kind: 'reoptimise', args: { strategy: 'sma-cross', symbol: 'SYN-A', timeframe: '1d', trials: 8, seed: 11, search: { fast: [3, 40], slow: [20, 150] } } }, 0)
    const scheduler = new Scheduler({ home, clock: new ManualClock(now), jobs: [spec] })
    const first = (await scheduler.runTrigger('weekly-reopt')[0]!) as { status: string; error?: string }
    expect(first.status, first.error).toBe('ok')

    const bars = await loadBars(home, { symbol: 'SYN-A', timeframe: '1d', end: now })
    expect(bars.time[bars.time.length - 1]!).toBeLessThanOrEqual(now)
    const sma = findStrategy('sma-cross')!
    const sharpe = (searched: Record<string, number>) => backtest({ strategy: sma, params: { ...champion, ...searched }, symbols: ['SYN-A'], timeframe: '1d', data: { 'SYN-A': bars } }).metrics.sharpe
    const study = loadStudy({ name: 'reoptimise-weekly-reopt', storage: { home } })
    expect(study.trials).toHaveLength(8)
    // Only fast and slow are searched (short stays the champion's 1, not the default 0); the first trial is the champion's.
    expect(study.trials[0]!.params).toEqual({ fast: 10, slow: 30 })
    const complete = study.trials.filter((t) => t.state === 'complete')
    for (const t of complete) expect(t.values![0]).toBeCloseTo(sharpe(t.params as Record<string, number>), 12)
    const best = complete.reduce((a, b) => (b.values![0]! > a.values![0]! ? b : a))
    expect(complete.length).toBeGreaterThan(4)
    expect(best.number).not.toBe(0) // the search found better than the champion here (else the test below shows nothing)
    const expected = { ...best.params, short: 1 }

    const registry = new Registry(home)
    const entry = registry.entry('strategies', 'sma-cross')
    const challenger = registry.resolve('strategies', 'sma-cross@challenger')
    expect(entry.aliases.champion).toBe(1)
    expect(challenger.params).toEqual(expected)
    expect(JSON.parse(registry.readFile('strategies', `sma-cross@${challenger.version}`, 'params.json').toString('utf8'))).toEqual(expected)
    // Its source is the champion's, byte for byte.
    expect(registry.readFile('strategies', `sma-cross@${challenger.version}`, 'source.ts').equals(registry.readFile('strategies', 'sma-cross@1', 'source.ts'))).toBe(true)

    // The next run resumes the same study: six more trials, the first of them the champion again.
    const second = (await scheduler.runTrigger('weekly-reopt')[0]!) as { status: string }
    expect(second.status).toBe('ok')
    const again = loadStudy({ name: 'reoptimise-weekly-reopt', storage: { home } })
    expect(again.trials).toHaveLength(16)
    expect(again.trials[8]!.params).toEqual({ fast: 10, slow: 30 })

    // A run whose only trial is the champion's own finds nothing better: no version, the challenger stays
    // (an operations review: it moved to the champion's own version every run, demoting a better one).
    const held = new Registry(home).entry('strategies', 'sma-cross')
    const only = await reoptimiseStrategy(home, { strategy: 'sma-cross', symbol: 'SYN-A', timeframe: '1d', trials: 1, now, study: 'reoptimise-weekly-reopt', search: { fast: [3, 40], slow: [20, 150] } })
    expect(only).toMatchObject({ moved: false, created: false, version: 1, params: { ...champion }, trials: 1 })
    expect(only.value).toBe(only.championValue)
    const after = new Registry(home).entry('strategies', 'sma-cross')
    expect(after.aliases).toEqual(held.aliases)
    expect(after.versions.length).toBe(held.versions.length)
    // timeoutMs: no trial starts past it (the trials run on the scheduler's thread; its own time limit cannot stop them).
    const bounded = await reoptimiseStrategy(home, { strategy: 'sma-cross', symbol: 'SYN-A', timeframe: '1d', trials: 5_000, now, study: 'reoptimise-bounded', timeoutMs: 300 })
    expect(bounded.trials).toBeGreaterThanOrEqual(1)
    expect(loadStudy({ name: 'reoptimise-bounded', storage: { home } }).trials.length).toBeLessThan(5_000)
    expect(() => checkJob({ name: 'r', cron: '0 3 * * 0', kind: 'reoptimise', args: { strategy: 'sma-cross@1', symbol: 'SYN-A', timeframe: '1d' } }, 0)).toThrow('args.strategy is a strategy name without @ (received "sma-cross@1"); the version reoptimised is args.from (default champion)')
  })
  it('scores a set that never trades as pruned, so TPE ranks it behind every scored set (not a failure it never learns from)', async () => {
    // rsi-reversion entering below RSI 1: on these bars it never trades (checked below), so its Sharpe is NaN.
    const dead = { period: 14, lower: 1, upper: 70, short: 0 }
    const rsi = findStrategy('rsi-reversion')!
    const registry = new Registry(home)
    const { version } = registry.register('strategies', 'rsi-reversion', { files: { 'source.ts': strategySource(rsi).source, 'params.json': `${JSON.stringify(dead, null, 2)}\n` }, params: dead, runs: [], source: 'builtin:rsi-reversion' })
    registry.setAlias('strategies', 'rsi-reversion', 'champion', version.version, 'test')
    const now = Date.parse('2022-12-31T00:00:00Z')
    const result = await reoptimiseStrategy(home, { strategy: 'rsi-reversion', symbol: 'SYN-A', timeframe: '1d', trials: 12, seed: 5, now, study: 'reoptimise-dead', search: { lower: [1, 45] } })

    const bars = await loadBars(home, { symbol: 'SYN-A', timeframe: '1d', end: now })
    const run = (lower: number) => backtest({ strategy: rsi, params: { ...dead, lower }, symbols: ['SYN-A'], timeframe: '1d', data: { 'SYN-A': bars } })
    expect(run(1).strategies[0]!.trades.entryTime.length).toBe(0)
    expect(run(1).metrics.sharpe).toBeNaN()
    const study = loadStudy({ name: 'reoptimise-dead', storage: { home } })
    expect(study.trials).toHaveLength(12)
    expect(study.trials[0]!.params).toEqual({ lower: 1 })
    for (const t of study.trials) {
      const sharpe = run(t.params.lower as number).metrics.sharpe
      // No trade: pruned (TPE's split keeps it, ranked last); a number: complete with that number. Never failed.
      if (Number.isNaN(sharpe)) expect(t.state, `lower ${t.params.lower}`).toBe('pruned')
      else {
        expect(t.state, `lower ${t.params.lower}`).toBe('complete')
        expect(t.values![0]).toBeCloseTo(sharpe, 12)
      }
    }
    const split = tpeSplit(study.trials, 'maximize', 3)
    expect(split.scored.map((t) => t.number)).toContain(0)
    expect(split.below[split.scored.findIndex((t) => t.number === 0)]).toBe(0)
    // The champion gave no number: the best finite set is the challenger.
    expect(result.championValue).toBeNaN()
    expect(result.moved).toBe(true)
  })
})
