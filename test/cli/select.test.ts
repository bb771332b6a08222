// `mtflow select` on a tracked sweep of the S&P 500 sample: the champions are the sweep sets that pass the
// rules — the options given plus the guardrail defaults (30 trades at least) — ranked by Sharpe, checked
// against the sets' own backtests run here, registered with their params and run, the alias on the best;
// --no-guardrails drops the trade floor; a dry run registers nothing; bad rules exit 2.

import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { loadBars } from '../../lib/data/index.js'
import { Registry } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

let home: string
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-select-'))
  expect((await runCli(['--home', home, 'data', 'samples', '--json'])).code).toBe(0)
  const r = await runCli(['--home', home, 'sweep', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast=5:20:5', '--grid', 'slow=50:150:50', '--commission', '0.0005'])
  expect(r.code, r.stderr).toBe(0)
}, 120_000)

describe('mtflow select', () => {
  it('registers the top sets that pass the rules, ranked by Sharpe, and aliases the best', async () => {
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    // The expected champions, from independent backtests of every set of the grid.
    const sets: { fast: number; slow: number; sharpe: number; dd: number; trades: number }[] = []
    for (const fast of [5, 10, 15, 20]) {
      for (const slow of [50, 100, 150]) {
        const m = backtest({ strategy: 'sma-cross', params: { fast, slow }, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars }, fills: { takerRate: 0.0005 } }).metrics
        sets.push({ fast, slow, sharpe: m.sharpe, dd: m.maxDrawdown.depth, trades: m.trades!.trades })
      }
    }
    const minSharpe = 0.1
    const maxDrawdown = 0.45
    const ranked = (minTrades: number) => sets.filter((s) => s.sharpe >= minSharpe && s.dd <= maxDrawdown && s.trades >= minTrades).sort((a, b) => b.sharpe - a.sharpe).slice(0, 2)
    const expected = ranked(30) // the guardrail's trade floor applies though only Sharpe and drawdown are given
    expect(expected.length).toBe(2)
    // The floor matters here: without it another set would be second.
    const unguarded = ranked(0)
    expect(unguarded.map((s) => [s.fast, s.slow])).not.toEqual(expected.map((s) => [s.fast, s.slow]))
    const loose = await runCli(['--home', home, 'select', '--min-sharpe', String(minSharpe), '--max-drawdown', String(maxDrawdown), '--top-k', '2', '--no-guardrails', '--dry-run', '--json'])
    expect(loose.code, loose.stderr).toBe(0)
    expect((JSON.parse(loose.stdout) as { champions: { params: Record<string, number> }[] }).champions.map((c) => [c.params.fast, c.params.slow])).toEqual(unguarded.map((s) => [s.fast, s.slow]))

    const r = await runCli(['--home', home, 'select', '--min-sharpe', String(minSharpe), '--max-drawdown', String(maxDrawdown), '--top-k', '2', '--alias', 'champion', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as {
      champions: { strategy: string; params: Record<string, number>; metrics: Record<string, number>; runId: string; trials: number; deflated: unknown; dsrNote: string }[]
      registered: { version: number }[]
      verdicts: { params: Record<string, number>; passed: boolean; failed: string[]; checks: { rule: string; metric: string; value: number; threshold: number; passed: boolean; origin: string }[] }[]
    }
    expect(out.champions.map((c) => [c.params.fast, c.params.slow])).toEqual(expected.map((s) => [s.fast, s.slow]))
    out.champions.forEach((c, i) => expect(c.metrics.sharpe).toBeCloseTo(expected[i]!.sharpe, 9))
    expect(out.verdicts).toHaveLength(12)
    expect(out.verdicts.filter((v) => !v.passed).every((v) => v.failed.length > 0)).toBe(true)
    // Every verdict lists the three rules; the trade floor is the guardrail's, the others the options'.
    for (const v of out.verdicts) {
      const set = sets.find((s) => s.fast === v.params.fast && s.slow === v.params.slow)!
      expect(v.checks.map((c) => [c.rule, c.metric, c.threshold, c.origin])).toEqual([['minTrades', 'trades', 30, 'guardrail'], ['minSharpe', 'sharpe', minSharpe, 'option'], ['maxDrawdown', 'maxDrawdown', maxDrawdown, 'option']])
      expect(v.checks[0]!.value).toBe(set.trades)
      expect(v.checks[0]!.passed).toBe(set.trades >= 30)
    }
    // Twelve sets of one sweep: twelve trials; a sweep set has no equity curve, so no DSR (and it says why).
    for (const c of out.champions) {
      expect(c.trials).toBe(12)
      expect(c.deflated).toBeNull()
      expect(c.dsrNote).toMatch(/no equity curve/)
    }
    const registry = new Registry(home)
    const best = registry.resolve('strategies', 'sma-cross@champion')
    expect(best.version).toBe(out.registered[0]!.version)
    expect(JSON.parse(readFileSync(registry.file('strategies', `sma-cross@${best.version}`, 'params.json'), 'utf8'))).toEqual({ fast: expected[0]!.fast, slow: expected[0]!.slow, short: 0 })
    expect(best.runs).toContain(out.champions[0]!.runId)
    expect(registry.resolve('strategies', `sma-cross@${out.registered[1]!.version}`).params).toMatchObject({ fast: expected[1]!.fast, slow: expected[1]!.slow })
  })

  it('a filter narrows the candidates, not the trials: every set of the sweep still counts', async () => {
    const r = await runCli(['--home', home, 'select', '--filter', 'params.slow = "150"', '--no-guardrails', '--top-k', '3', '--dry-run', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { candidates: number; champions: { params: Record<string, number>; trials: number }[] }
    expect(out.candidates).toBe(4)
    expect(out.champions.every((c) => c.params.slow === 150 && c.trials === 12)).toBe(true)
  })

  it('a dry run registers nothing; no survivor exits 1; bad rules exit 2', async () => {
    const before = new Registry(home).list('strategies').flatMap((e) => e.versions).length
    const dry = await runCli(['--home', home, 'select', '--min-sharpe', '0', '--top-k', '3', '--dry-run'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/12 candidate runs; \d+ pass the rules/)
    expect(new Registry(home).list('strategies').flatMap((e) => e.versions).length).toBe(before)
    const none = await runCli(['--home', home, 'select', '--min-sharpe', '99', '--dry-run'])
    expect(none.code).toBe(1)
    expect(none.stdout).toMatch(/no champion: no run passes every rule/)
    const bad = await runCli(['--home', home, 'select', '--max-drawdown', '50'])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim()).toBe('mtflow: max-drawdown is a fraction in [0, 1] (0.5 = −50 %; received 50)')
  })
})
