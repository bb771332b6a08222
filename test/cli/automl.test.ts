// `mtflow automl` on the bundled samples: a per-strategy table, the winners registered as packaged models
// whose metrics are the search's and whose predictions equal a refit done here from the recorded
// entries; by default a winner that lowers its strategy's holdout Sharpe (the unfiltered strategy's,
// recomputed here) or trades nothing there is not registered; a strategy with too few entries is a
// skipped row; bad input exits 2 with one line.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { loadBars } from '../../lib/data/index.js'
import { createModel, loadPackage } from '../../lib/ml/index.js'
import { getStrategy } from '../../lib/strategy/index.js'
import { Registry, Tracker, searchRuns } from '../../lib/track/index.js'
import { FeatureCatalog, recordEntries } from '../../lib/tune/index.js'
import { runCli } from '../helpers.js'

let home: string
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-automl-'))
  expect((await runCli(['--home', home, 'data', 'samples', '--json'])).code).toBe(0)
}, 120_000)

interface Out {
  metric: string
  best: string
  results: {
    name: string
    strategy: string
    entries: number
    searched: number
    heldOut: number
    trials: number
    skipped?: string
    best?: { family: string; options: Record<string, number>; groups: string[]; columns: string[]; value: number; cv: Record<string, number> }
    holdout?: { rocAuc: number; start: string; entries: number; without: { sharpe: number | null; trades: number }; with: { sharpe: number | null; trades: number } }
    registration: { registered: { model: string; version: number } | null; eligible: boolean; reason: string }
  }[]
  registered: { strategy: string; model: string; version: number }[]
  runId: string
}

describe('mtflow automl', () => {
  it('searches each strategy, prints the table, registers each winner (--no-guardrails) as a package equal to a refit', async () => {
    const r = await runCli(['--home', home, 'automl', '--strategies', 'sma-cross,bollinger-breakout', '--symbol', 'SPX', '--models', 'tree,logistic', '--budget', '6', '--commission', '0.0005', '--alias', 'champion', '--no-guardrails', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as Out
    expect(out.metric).toBe('rocAuc')
    expect(out.results.map((x) => x.name)).toEqual(['sma-cross', 'bollinger-breakout'])
    expect(out.results.every((x) => x.trials === 6 && x.best !== undefined && ['tree', 'logistic'].includes(x.best.family))).toBe(true)
    const top = out.results.reduce((a, b) => (b.best!.value > a.best!.value ? b : a))
    expect(out.best).toBe(top.name)
    expect(out.registered.map((x) => x.model)).toEqual(['automl-sma-cross', 'automl-bollinger-breakout'])
    // Registered although the guardrails would not have: these winners let no holdout entry through.
    expect(out.results.map((x) => [x.holdout!.with.trades, x.registration.eligible, x.registration.reason.startsWith('trades nothing on the holdout')])).toEqual([[0, false, true], [0, false, true]])

    // The registered package: the search's metrics, and predictions equal to a refit on the searched entries.
    const spx = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const res = out.results[0]!
    const { pkg, model, version } = loadPackage(new Registry(home), 'automl-sma-cross@champion')
    expect(version).toBe(out.registered[0]!.version)
    expect(pkg.metrics.cv_rocAuc).toBe(res.best!.cv.rocAuc)
    expect(pkg.metrics.cv_trials).toBe(6)
    expect(pkg.metrics.holdout_rocAuc).toBe(res.holdout!.rocAuc)
    expect(pkg.signature.inputs.map((f) => f.name)).toEqual(res.best!.columns)
    const catalog = new FeatureCatalog(undefined)
    const base = { data: { SPX: spx }, symbols: ['SPX'], timeframe: '1d', fills: { takerRate: 0.0005 }, strategy: getStrategy('sma-cross') }
    const closed = recordEntries({ ...base, features: catalog.features() }).entries.filter((e) => Number.isFinite(e.exitTime))
    const cut = Date.parse(res.holdout!.start)
    const searched = closed.filter((e) => e.time < cut && e.exitTime < cut)
    expect(pkg.trainingRows).toBe(searched.length)
    const cols = res.best!.columns
    const data = { X: Float64Array.from(closed.flatMap((e) => cols.map((c) => e.features[c]!))), rows: closed.length, columns: cols }
    const refit = createModel(res.best!.family, 'classification', res.best!.options)
    await refit.fit({ X: Float64Array.from(searched.flatMap((e) => cols.map((c) => e.features[c]!))), rows: searched.length, columns: cols, y: searched.map((e) => e.label) })
    expect(Array.from(model.predictProba(data))).toEqual(Array.from(refit.predictProba(data)))

    // Tracked: the parent, a child per strategy, a grandchild per trial.
    const runs = searchRuns(new Tracker(home), { experiments: ['automl'], maxResults: 1000 }).runs
    const children = runs.filter((x) => x.info.parentRunId === out.runId)
    expect(children.map((x) => x.info.name).sort()).toEqual(['automl bollinger-breakout', 'automl sma-cross'])
    for (const c of children) expect(runs.filter((x) => x.info.parentRunId === c.info.runId)).toHaveLength(6)
  })

  it('guardrails: a winner is registered only if it trades on the holdout and keeps the unfiltered Sharpe there', async () => {
    const before = JSON.stringify(new Registry(home).list('models'))
    const args = ['--home', home, 'automl', '--strategies', 'sma-cross,bollinger-breakout,donchian-breakout', '--symbol', 'SPX', '--models', 'gbt', '--threshold', '0.4', '--budget', '6', '--commission', '0.0005', '--name', 'guarded', '--no-track']
    const r = await runCli([...args, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as Out
    // The unfiltered strategy's holdout Sharpe, recomputed here: its backtest's equity from the bar before the
    // holdout start (the base), per-bar returns, mean / sample sd × √(bars a year).
    const spx = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    for (const x of out.results) {
      const res = backtest({ strategy: x.strategy, symbols: ['SPX'], timeframe: '1d', data: { SPX: spx }, fills: { takerRate: 0.0005 } })
      const from = Date.parse(x.holdout!.start)
      const i = Array.from(res.time).findIndex((t) => t >= from)
      const e = Array.from(res.equity).slice(i - 1)
      const ret = e.slice(1).map((v, k) => v / e[k]! - 1)
      const mean = ret.reduce((a, b) => a + b, 0) / ret.length
      const sd = Math.sqrt(ret.reduce((a, b) => a + (b - mean) ** 2, 0) / (ret.length - 1))
      expect(x.holdout!.without.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(res.periodsPerYear), 9)
      // The rule, applied here to the figures: at least one gated trade and a Sharpe no lower than without the model.
      const keep = x.holdout!.with.trades >= 1 && x.holdout!.with.sharpe !== null && x.holdout!.with.sharpe >= x.holdout!.without.sharpe!
      expect(x.registration.eligible).toBe(keep)
      expect(x.registration.registered !== null).toBe(keep)
    }
    // The case this guards against: the best by CV lowers its strategy's holdout Sharpe, and is not registered.
    const top = out.results.find((x) => x.name === out.best)!
    expect(top.name).toBe('bollinger-breakout')
    expect(top.holdout!.with.sharpe!).toBeLessThan(top.holdout!.without.sharpe!)
    expect(top.registration).toMatchObject({ registered: null, reason: `lowers the holdout Sharpe: ${top.holdout!.without.sharpe!.toFixed(2)} without the model → ${top.holdout!.with.sharpe!.toFixed(2)} with it` })
    // Only sma-cross's winner passes here (checked above against the figures); only it is in the registry.
    expect(out.registered.map((x) => x.model)).toEqual(['guarded-sma-cross'])
    expect(new Registry(home).list('models').map((m) => m.name).filter((n) => n.startsWith('guarded-'))).toEqual(['guarded-sma-cross'])
    expect(JSON.stringify(new Registry(home).list('models').filter((m) => !m.name.startsWith('guarded-')))).toBe(before)
  })

  it('guardrails: when every winner is refused nothing is registered, each says why in one line, and the exit code is 1', async () => {
    const before = JSON.stringify(new Registry(home).list('models'))
    const args = ['--home', home, 'automl', '--strategies', 'sma-cross,bollinger-breakout', '--symbol', 'SPX', '--models', 'tree,logistic', '--budget', '6', '--commission', '0.0005', '--name', 'refused', '--no-track']
    const r = await runCli([...args, '--json'])
    expect(r.code, r.stderr).toBe(1)
    const out = JSON.parse(r.stdout) as Out
    expect(out.registered).toEqual([])
    for (const x of out.results) {
      expect(x.holdout!.with.trades).toBe(0)
      expect(x.registration).toMatchObject({ registered: null, eligible: false, reason: `trades nothing on the holdout (1 at least; ${x.holdout!.without.trades} without the model)` })
    }
    expect(JSON.stringify(new Registry(home).list('models'))).toBe(before)
    const text = await runCli(args)
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(/^not registered: sma-cross — its winner trades nothing on the holdout \(1 at least; \d+ without the model\) \(--no-guardrails registers it anyway\)$/m)
    expect(text.stdout).toMatch(/^no winner registered: each one lowers its strategy's holdout Sharpe or trades too little there$/m)
    expect(JSON.stringify(new Registry(home).list('models'))).toBe(before)
  })

  it('prints a table; a strategy with too few entries is a skipped row; none searchable exits 1', async () => {
    const r = await runCli(['--home', home, 'automl', '--strategies', 'rsi-reversion,sma-cross', '--symbol', 'SPX', '--models', 'gbt', '--features', 'momentum,volatility', '--budget', '3', '--no-register', '--no-track'])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^strategy\s+entries \(search\/holdout\)\s+win rate \(searched\)\s+best model\s+features\s+CV rocAuc\s+holdout AUC/)
    expect(lines[1]).toMatch(/^rsi-reversion\s+\d+\/\d+\s+[\d.]+\s+skipped: \d+ entries to search \(20 at least\)$/)
    expect(lines[2]).toMatch(/^sma-cross\s+\d+\/\d+\s+[\d.]+\s+gbt nEstimators=\d+ .*\s+(momentum|volatility)/)
    expect(lines[3]).toMatch(/^best: sma-cross — gbt on /)
    expect(r.stderr).toMatch(/automl\s+\[#+\]\s+6\/6/)
    const none = await runCli(['--home', home, 'automl', '--strategies', 'rsi-reversion', '--symbol', 'SPX', '--budget', '2', '--no-track'])
    expect(none.code).toBe(1)
    expect(none.stdout).toMatch(/no strategy could be searched \(see the skipped rows\)/)
  })

  it('has --help listing --json', async () => {
    const r = await runCli(['automl', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/--budget <n>[\s\S]*--no-guardrails[\s\S]*--json/)
  })

  it('bad input: one line naming the option, exit 2', async () => {
    const bad = async (args: string[], message: string) => {
      const r = await runCli(['--home', home, 'automl', '--symbol', 'SPX', ...args])
      expect(r.code).toBe(2)
      expect(r.stderr.trim()).toBe(`mtflow: ${message}`)
    }
    await bad(['--strategies', 'sma-cross', '--models', 'tree,svm'], '--models: unknown model family "svm" (known: tree, forest, gbt, logistic)')
    await bad(['--strategies', 'sma-cross', '--models', 'ridge'], '--models: ridge is a regressor; automl classifies entries (paid or not): use tree, forest, gbt, logistic')
    await bad(['--strategies', 'sma-cross', '--budget', '0'], '--budget must be an integer ≥ 1 (received "0")')
    await bad(['--strategies', 'sma-cross', '--min-holdout-trades', '-1'], '--min-holdout-trades must be an integer ≥ 0 (received "-1")')
    await bad(['--strategies', 'sma-cross', '--features', 'trend,astrology'], 'unknown feature group "astrology" (known: momentum, trend, volatility, reversion, volume)')
    await bad(['--strategies', 'sma-cross', '--metric', 'sharpe'], '--metric must be one of roc-auc, log-loss, accuracy, f1 (received "sharpe")')
    await bad(['--strategies', 'sma-cross,sma-cross'], '--strategies names sma-cross twice (a strategy, or one version of it, once)')
    await bad([], '--strategies is required: built-in names (see mtflow backtest --list), strategy files or registered NAME@VERSION')
    await bad(['--strategies', 'no-such-strategy'], 'unknown strategy "no-such-strategy"; expected one of sma-cross, rsi-reversion, bollinger-breakout, donchian-breakout, opening-range-breakout, pairs-zscore, or a .ts/.js file exporting one')
  })
})
