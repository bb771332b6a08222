// notebooks/03-backtest.ipynb, headless on the real kernel.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runNotebook } from '../../kernel/runner.js'
import type { NotebookCell } from '../../kernel/nbformat.js'
import { backtest } from '../../lib/backtest/index.js'
import { loadBars } from '../../lib/data/index.js'
import { Tracker } from '../../lib/track/index.js'
import { outputText, ROOT } from '../helpers.js'

const text = (cell: NotebookCell, mime?: string) => (cell.outputs ?? []).map((o) => outputText(o as never, mime)).join('')

describe('notebooks/03-backtest.ipynb', () => {
  it('backtests SPX, charts equity and drawdown, lists trades and draws a sweep heatmap', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-backtest-'))
    const result = await runNotebook(join(ROOT, 'notebooks', '03-backtest.ipynb'), { home, parameters: { start: '2010-01-01' } })
    expect(result.status, result.message).toBe('ok')
    const cell = (id: string) => result.notebook.cells.find((c) => c.id === id)!
    // The notebook's figure equals the library's on the same data.
    const spx = await loadBars(home, { symbol: 'SPX', timeframe: '1d', start: '2010-01-01' })
    const lib = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: spx }, cash: 1_000_000, sizing: { percent: 1 }, fills: { takerRate: 0.0005 } })
    expect(text(cell('run'))).toContain(`end equity ${lib.metrics.endEquity.toFixed(2)} after ${lib.metrics.trades!.trades} trades`)
    expect(text(cell('run'), 'text/html')).toContain('data-rows="7"')
    expect(text(cell('charts'), 'text/html').match(/<svg/g)).toHaveLength(2)
    expect(text(cell('trades'), 'text/html')).toContain('data-rows="10"')
    // fast 5…50 × slow 20…200 is 10 × 10; fast ≥ slow is refused by the strategy: 7 sets at slow 20, 3 at slow 40.
    expect(text(cell('sweep'))).toMatch(/^90 parameter sets \(10 skipped\), best fast \d+ \/ slow \d+: Sharpe -?\d\.\d\d$/m)
    expect(text(cell('sweep'), 'text/html')).toContain('<svg')
    // The last cell tracked the backtest (its metrics are the library's) and the sweep (one child per set).
    const tracked = text(cell('track')).match(/^tracked: backtest run (\w+), sweep with 90 child runs$/m)
    expect(tracked).not.toBeNull()
    const run = new Tracker(home).getRun(tracked![1]!)
    expect(run.metrics.endEquity!.value).toBeCloseTo(lib.metrics.endEquity, 6)
    expect(run.info.lineage.strategy?.name).toBe('sma-cross')
    expect(run.info.experimentId).toBe('notebooks')
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)
})
