// notebooks/07-pipeline.ipynb, headless on the real kernel (issue 20 point 4): the pair pipeline on seeded
// synthetic pairs from the screen to targets and a tearsheet. The champions it prints are the batch's rows
// the guardrails keep, recomputed here from the batch run's summary table; the router routes exactly them; the
// report file is written.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runNotebook } from '../../kernel/runner.js'
import type { NotebookCell } from '../../kernel/nbformat.js'
import { searchRuns, Tracker } from '../../lib/track/index.js'
import { outputText, ROOT } from '../helpers.js'
import { readRunTable, runTableCsv } from '../../lib/track/run-tables.js'

const text = (cell: NotebookCell, mime?: string) => (cell.outputs ?? []).map((o) => outputText(o as never, mime)).join('')

describe('notebooks/07-pipeline.ipynb', () => {
  it('runs the pair pipeline from the screen to targets and a report', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-pipeline-'))
    const result = await runNotebook(join(ROOT, 'notebooks', '07-pipeline.ipynb'), { home, parameters: { pairs: 3 }, env: { MTFLOW_SCRATCH_HOME: home } })
    expect(result.status, result.message).toBe('ok')
    const cell = (id: string) => result.notebook.cells.find((c) => c.id === id)!
    expect(text(cell('data'))).toMatch(/^6 symbols × 5000 1h bars; learning before \S+, testing from it$/m)
    expect(text(cell('backtests'), 'text/html')).toContain('<svg')
    const tracker = new Tracker(home)
    const batch = searchRuns(tracker, { filter: 'tags.mtflow.kind = "backtest-batch"' }).runs[0]!.info.runId
    const [header, ...lines] = runTableCsv(readRunTable(tracker, batch, 'summary')!).trim().split('\n')
    const cols = header!.split(',')
    const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])))
    const kept = rows.filter((r) => Number(r.trades) >= 30 && Number(r.sharpe) > 0 && Number(r.maxDrawdown) <= 0.5).sort((a, b) => Number(b.sharpe) - Number(a.sharpe)).slice(0, 2)
    expect(kept.length).toBeGreaterThan(0)
    const champions = kept.map((r) => r.target).join(', ')
    expect(text(cell('select'))).toContain(`${kept.length} champion${kept.length === 1 ? '' : 's'}: ${champions}`)
    const routes = text(cell('router')).match(/^router nb07-router@\d+ over (.+); signals run \w+$/m)
    expect(routes).not.toBeNull()
    expect(routes![1]!.split(', ').sort()).toEqual(kept.map((r) => r.target).sort())
    // Seed and length chosen so the latest bar gives orders: each one the difference from flat, a buy for a positive weight.
    const gross = text(cell('targets')).match(/^gross (\d\.\d{3}), net (-?\d\.\d{3})/m)
    expect(gross).not.toBeNull()
    expect(Number(gross![1])).toBeGreaterThan(0)
    expect(Number(gross![1])).toBeLessThanOrEqual(1)
    expect(text(cell('targets'), 'text/html')).toMatch(/>(buy|sell)</)
    const report = text(cell('report')).match(/^report of run \w+: (.+)$/m)
    expect(report).not.toBeNull()
    expect(existsSync(report![1]!)).toBe(true)
    expect(readFileSync(report![1]!, 'utf8')).toContain('<svg')
  }, 300_000)
})
