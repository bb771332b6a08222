// notebooks/04-ml.ipynb, headless on the real kernel: the pair dataset, purged CV, the forest, the
// meta-label evaluation (its "without" figures recomputed here from a plain backtest), both models
// registered with the notebook's run, served over HTTP and scored equal to the notebook's models.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runNotebook } from '../../kernel/runner.js'
import type { NotebookCell } from '../../kernel/nbformat.js'
import { backtest } from '../../lib/backtest/index.js'
import { loadBars } from '../../lib/data/index.js'
import { pairFeatures } from '../../lib/features/index.js'
import { loadPackage } from '../../lib/ml/index.js'
import { performanceMetrics } from '../../lib/stats/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { outputText, ROOT } from '../helpers.js'

const text = (cell: NotebookCell, mime?: string) => (cell.outputs ?? []).map((o) => outputText(o as never, mime)).join('')

describe('notebooks/04-ml.ipynb', () => {
  it('purged CV, a forest, meta-labelling pairs-zscore, register, serve and score', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-ml-'))
    const result = await runNotebook(join(ROOT, 'notebooks', '04-ml.ipynb'), { home, parameters: { trees: 30 } })
    expect(result.status, result.message).toBe('ok')
    const cell = (id: string) => result.notebook.cells.find((c) => c.id === id)!

    // The dataset: every bar with a z-score two bars ago (for its acceleration), now, and `horizon` bars
    // ahead; label 1 where |z| shrinks.
    const dax = await loadBars(home, { symbol: 'DAX', timeframe: '1d' })
    const cac = await loadBars(home, { symbol: 'CAC', timeframe: '1d' })
    const z = pairFeatures(Array.from(dax.close, Math.log), Array.from(cac.close, Math.log), { window: 60 }).z
    let rows = 0
    let ones = 0
    for (let t = 0; t + 10 < z.length; t++) {
      if (t < 2 || !Number.isFinite(z[t - 2]!) || !Number.isFinite(z[t + 10]!)) continue
      rows++
      if (Math.abs(z[t + 10]!) < Math.abs(z[t]!)) ones++
    }
    expect(text(cell('dataset'))).toContain(`dataset: ${rows} rows × 6 features (z, absZ, zVelocity, zAcceleration, speed, beta); label 1 (|z| shrinks within 10 bars) on ${ones} rows`)

    // Purged CV: five folds, each purging the training rows whose 10-bar label reaches into it.
    expect(text(cell('cv'), 'text/html')).toContain('data-rows="5"')
    const cv = text(cell('cv')).match(/^purged 5-fold CV: mean ROC AUC (\d\.\d{4}), mean accuracy (\d\.\d{4})$/m)
    expect(cv).not.toBeNull()
    expect(Number(cv![1])).toBeGreaterThan(0.6) // |z| now says much about |z| later: far better than chance
    expect(text(cell('train'), 'text/html')).toContain('<svg')

    // Meta-labelling: the "without" column is the plain strategy's equity from the split.
    const split = Date.parse('1996-01-01')
    const plain = backtest({ strategy: 'pairs-zscore', params: { window: 60 }, symbols: ['DAX', 'CAC'], timeframe: '1d', data: { DAX: dax, CAC: cac }, cash: 1_000_000, fills: { takerRate: 0.0005 } })
    const from = plain.time.findIndex((t) => t >= split) - 1
    const sharpe = performanceMetrics(plain.equity.subarray(from), { periodsPerYear: plain.periodsPerYear }).sharpe
    const trades = plain.strategies[0]!.trades
    const after = Array.from(trades.entryTime).filter((t, i) => t >= split && trades.open[i] !== true).length
    const oos = text(cell('meta')).match(/^out of sample from 1996-01-01: Sharpe (-?\d\.\d{3}) → (-?\d\.\d{3}), trades (\d+) → (\d+)$/m)
    expect(oos).not.toBeNull()
    expect(oos![1]).toBe(sharpe.toFixed(3))
    expect(Number(oos![3])).toBe(after)
    expect(Number(oos![4])).toBeLessThanOrEqual(after)
    expect(text(cell('meta'))).toMatch(/^entries: \d+ to train \(\d+ paid\), \d+ after 1996-01-01/m)
    expect(text(cell('meta'), 'text/html')).toContain('<svg')

    // Registered with the notebook's run; the run holds the CV figure printed above.
    const registered = text(cell('register')).match(/^registered pairs-reversion@1 and pairs-zscore-meta@1 \(alias champion\) from run (\w+)$/m)
    expect(registered).not.toBeNull()
    const registry = new Registry(home)
    const reversion = loadPackage(registry, 'pairs-reversion@champion')
    expect(reversion.pkg.runId).toBe(registered![1])
    expect(reversion.pkg.metrics.rocAuc!.toFixed(4)).toBe(cv![1])
    expect(reversion.pkg.signature.inputs.map((f) => f.name)).toEqual(['z', 'absZ', 'zVelocity', 'zAcceleration', 'speed', 'beta'])
    expect(loadPackage(registry, 'pairs-zscore-meta@champion').pkg.signature.output.name).toBe('paid')
    expect(new Tracker(home).getRun(registered![1]!).metrics.cv_rocAuc!.value.toFixed(4)).toBe(cv![1])

    // Served over HTTP: the same probabilities as the notebook's models; a bad row is a 400 naming the field.
    const served = text(cell('serve'))
    expect(served).toMatch(/^pairs-reversion: HTTP 200, \d+ rows scored; equal to the notebook's model: true$/m)
    expect(served).toMatch(/^pairs-zscore-meta: HTTP 200, \d+ entries scored; equal to the notebook's model: true$/m)
    expect(served).toContain('a row without its features: HTTP 400 {"error":"missing input field \\"absZ\\" at row 0')
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)
})
