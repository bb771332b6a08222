// notebooks/06-deploy.ipynb, headless on the real kernel (issue 19 point 8): registers a strategy and a
// deployment, runs it on paper over replayed bars while showing its status, and holds it to the backtest.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runNotebook } from '../../kernel/runner.js'
import type { NotebookCell } from '../../kernel/nbformat.js'
import { backtest } from '../../lib/backtest/index.js'
import { loadBars } from '../../lib/data/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { outputText, ROOT } from '../helpers.js'

const text = (cell: NotebookCell, mime?: string) => (cell.outputs ?? []).map((o) => outputText(o as never, mime)).join('')
const homes: string[] = []
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true })
})

describe('notebooks/06-deploy.ipynb', () => {
  it('registers, deploys on paper over replayed bars, shows it changing, and agrees with the backtest', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-deploy-'))
    homes.push(home)
    const result = await runNotebook(join(ROOT, 'notebooks', '06-deploy.ipynb'), { home, parameters: { start: '2016-01-01', paceMs: 2 }, env: { MTFLOW_SCRATCH_HOME: home } })
    expect(result.status, result.message).toBe('ok')
    const cell = (id: string) => result.notebook.cells.find((c) => c.id === id)!
    expect(text(cell('register'))).toMatch(/^registered sma-cross@1 \(sha256 [0-9a-f]{12}\) and deployment sma-paper-[0-9a-z]+@1$/m)
    // The backtest computed here, outside the notebook, on the same lake bars.
    const spx = await loadBars(home, { symbol: 'SPX', timeframe: '1d', start: '2016-01-01' })
    const lib = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: spx }, cash: 1_000_000, sizing: { percent: 1 }, fills: { takerRate: 0.0005 } })
    expect(text(cell('compare'))).toContain(`deployment and backtest agree: ${lib.strategies[0]!.trades.pnl.length} trades, end equity ${lib.metrics.endEquity.toFixed(2)}`)
    expect(text(cell('compare'), 'text/html')).toContain('<svg')
    // It was watched while it ran: more than one snapshot, the last one finished.
    const html = text(cell('deploy'), 'text/html')
    const rows = Number(html.match(/data-rows="(\d+)"/)![1])
    expect(rows).toBeGreaterThan(2)
    const run = text(cell('deploy')).match(/^deployment (sma-paper-[0-9a-z]+): finished \(the feed ended\) after (\d+) bars, run (\w+)$/m)
    expect(run).not.toBeNull()
    expect(Number(run![2])).toBe(spx.time.length)
    expect(new Tracker(home).getRun(run![3]!).tags['mtflow.kind']).toBe('deployment')
    expect(new Registry(home).resolve('deployments', `${run![1]}@1`).files.map((f) => f.name)).toEqual(['deployment.json'])
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)
})
