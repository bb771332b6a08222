// notebooks/05-tuning.ipynb, headless on the real kernel: the TPE winner's Sharpe before and after the
// holdout recomputed here by plain backtests, its trials tracked as child runs; the walk-forward windows
// cut as the arithmetic says; every Pareto-front set's Sharpe and drawdown recomputed, none dominating another.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runNotebook } from '../../kernel/runner.js'
import type { NotebookCell } from '../../kernel/nbformat.js'
import { backtest } from '../../lib/backtest/index.js'
import { loadBars } from '../../lib/data/index.js'
import { Tracker, searchRuns } from '../../lib/track/index.js'
import { outputText, ROOT } from '../helpers.js'

const text = (cell: NotebookCell, mime?: string) => (cell.outputs ?? []).map((o) => outputText(o as never, mime)).join('')

describe('notebooks/05-tuning.ipynb', () => {
  it('TPE on a strategy, a walk-forward report, and a Sharpe–drawdown Pareto front', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-tuning-'))
    const result = await runNotebook(join(ROOT, 'notebooks', '05-tuning.ipynb'), { home, parameters: { trials: 30, windowTrials: 8, paretoTrials: 60 } })
    expect(result.status, result.message).toBe('ok')
    const cell = (id: string) => result.notebook.cells.find((c) => c.id === id)!
    const spx = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const holdout = Date.parse('2015-01-01')
    const run = { symbols: ['SPX'], timeframe: '1d', data: { SPX: spx }, cash: 1_000_000, fills: { takerRate: 0.0005 } }

    // TPE: the winner's figures are those of plain backtests before and after the holdout.
    const tpe = text(cell('tpe')).match(/^TPE: 30 trials \((\d+) failed: fast ≥ slow\), best fast (\d+) \/ slow (\d+): Sharpe (-?\d\.\d{3}) before 2015-01-01, (-?\d\.\d{3}) after$/m)
    expect(tpe, text(cell('tpe'))).not.toBeNull()
    const params = { fast: Number(tpe![2]), slow: Number(tpe![3]) }
    expect(tpe![4]).toBe(backtest({ ...run, strategy: 'sma-cross', params, end: holdout - 1 }).metrics.sharpe.toFixed(3))
    expect(tpe![5]).toBe(backtest({ ...run, strategy: 'sma-cross', params, start: holdout }).metrics.sharpe.toFixed(3))
    expect(text(cell('tpe'), 'text/html').match(/<svg/g)!.length).toBeGreaterThanOrEqual(2)
    // Tracked: the study's run with one child run per trial.
    const runs = searchRuns(new Tracker(home), { experiments: ['notebooks'], maxResults: 1000 }).runs
    const study = runs.find((r) => r.info.name === 'sma-cross TPE study')!
    expect(runs.filter((r) => r.info.parentRunId === study.info.runId)).toHaveLength(30)
    expect(study.metrics.best_in_sample_sharpe!.value.toFixed(3)).toBe(tpe![4])

    // Walk-forward: windows of 756 bars in sample, then 252 out, stepping by 252 while a whole one fits.
    const windows = Math.floor((spx.time.length - 756) / 252)
    expect(text(cell('walkforward'), 'text/html')).toContain(`data-rows="${windows}"`)
    const day = (i: number) => new Date(spx.time[i]!).toISOString().slice(0, 10)
    expect(text(cell('walkforward'), 'text/plain')).toContain(`${day(0)} → ${day(755)}  ${day(756)} → ${day(1007)}`)
    const wf = text(cell('walkforward')).match(/^walk-forward: (\d+) windows, (\d+) trials; mean Sharpe in sample (-?\d\.\d{3}), out of sample (-?\d\.\d{3}) \(efficiency (-?\d\.\d\d)(?:; (\d+) window\(s\) left out of both means: (\d+) with no out-of-sample trade)?\)$/m)
    expect(wf).not.toBeNull()
    expect(Number(wf![1])).toBe(windows)
    expect(Number(wf![2])).toBe(windows * 8)
    const stats = text(cell('walkforward')).match(/deflated Sharpe ratio (\d\.\d{3}) \(PSR against 0: (\d\.\d{3})\); probability of backtest overfitting (\d\.\d{3})$/m)
    expect(stats).not.toBeNull()
    expect(Number(stats![1])).toBeLessThanOrEqual(Number(stats![2])) // deflating for the trials can only lower it

    // Pareto front: each listed set's Sharpe and drawdown are its backtest's; none dominates another.
    const pareto = text(cell('pareto'))
    expect(pareto).toMatch(/^NSGA-II: 60 trials, \d+ on the Pareto front \(\d+ distinct parameter sets\); hypervolume 0\.\d{4}/m)
    const html = text(cell('pareto'), 'text/html')
    const cell_ = (inner: string) => `<td[^>]*>${inner}<\\/td>`
    const rows = [...html.matchAll(new RegExp(`<tr>${cell_('(\\d+)')}${cell_('(\\d+)')}${cell_('([01])')}${cell_('(-?\\d\\.\\d{3})')}${cell_('(\\d+\\.\\d) %')}`, 'g'))]
    expect(rows.length).toBeGreaterThan(1)
    const points = rows.map((m) => {
      const metrics = backtest({ ...run, strategy: 'donchian-breakout', params: { entry: Number(m[1]), exit: Number(m[2]), short: Number(m[3]) }, end: holdout - 1 }).metrics
      expect(m[4]).toBe(metrics.sharpe.toFixed(3))
      expect(m[5]).toBe((100 * metrics.maxDrawdown.depth).toFixed(1))
      return [metrics.sharpe, metrics.maxDrawdown.depth] as const
    })
    for (const a of points) for (const b of points) expect(a[0] >= b[0] && a[1] <= b[1] && (a[0] > b[0] || a[1] < b[1])).toBe(false)
    expect(html).toContain('<svg')
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)
})
