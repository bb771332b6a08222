// notebooks/08-monitoring.ipynb, headless on the real kernel (issue 21 point 7): a regime change → drift →
// retrain → challenger in shadow → promoted → rolled back, on a ManualClock. What the notebook reports is
// recomputed here from the files it left and the lake's bars, not through lib/monitor: the drift p-values by
// an exact two-sample KS written below, each side's out-of-sample directional accuracy and the breach's
// 3-day moving average from the raw prediction log with labels taken from the bars.

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runNotebook } from '../../kernel/runner.js'
import type { NotebookCell } from '../../kernel/nbformat.js'
import { loadBars } from '../../lib/data/index.js'
import { Registry } from '../../lib/track/index.js'
import { outputText, ROOT } from '../helpers.js'

const text = (cell: NotebookCell, mime?: string) => (cell.outputs ?? []).map((o) => outputText(o as never, mime)).join('')
const MODEL = 'nb08.syn-regime'
const HOUR = 3_600_000
const DAY = 24 * HOUR
const at = (iso: string) => Date.parse(iso)

const jsonl = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)

/**
 * Two-sided two-sample KS p-value, exact (Hodges' lattice paths, as SciPy's ks_2samp method="exact"): the
 * share of the C(n+m, n) monotone paths from (0,0) to (n,m) that leave |i/n − j/m| < D, computed in integers
 * (|i·m − j·n| < D·n·m) so that the paths touching D count as outside.
 */
function ksExact(a: readonly number[], b: readonly number[]): number {
  const x = [...a].sort((p, q) => p - q)
  const y = [...b].sort((p, q) => p - q)
  const n = x.length
  const m = y.length
  // D·n·m = max |i·m − j·n| over the merged sample (ties advance both sides together).
  let i = 0
  let j = 0
  let dnm = 0
  while (i < n || j < m) {
    const v = Math.min(i < n ? x[i]! : Infinity, j < m ? y[j]! : Infinity)
    while (i < n && x[i] === v) i++
    while (j < m && y[j] === v) j++
    dnm = Math.max(dnm, Math.abs(i * m - j * n))
  }
  // f(i, j): the share of paths to (i, j) that stay inside; f(i, j) = f(i−1, j)·i/(i+j) + f(i, j−1)·j/(i+j).
  let row = new Float64Array(m + 1)
  for (let jj = 0; jj <= m; jj++) row[jj] = jj === 0 || (Math.abs(jj * n) < dnm && row[jj - 1] === 1) ? 1 : 0
  for (let ii = 1; ii <= n; ii++) {
    const next = new Float64Array(m + 1)
    for (let jj = 0; jj <= m; jj++) {
      if (Math.abs(ii * m - jj * n) >= dnm) continue
      next[jj] = (row[jj]! * ii) / (ii + jj) + (jj === 0 ? 0 : (next[jj - 1]! * jj) / (ii + jj))
    }
    row = next
  }
  return Math.min(1, Math.max(0, 1 - row[m]!))
}

describe('ksExact (the oracle below)', () => {
  it('matches SciPy on a small hand-checked case', () => {
    // scipy.stats.ks_2samp([1,2,3,4,5], [6,7,8], method="exact") → D = 1, p = 2/56 = 0.03571428571428571
    expect(ksExact([1, 2, 3, 4, 5], [6, 7, 8])).toBeCloseTo(2 / 56, 12)
    // scipy.stats.ks_2samp([1,3,5,7], [2,4,6,8], method="exact") → D = 0.25, p = 1.0
    expect(ksExact([1, 3, 5, 7], [2, 4, 6, 8])).toBeCloseTo(1, 12)
    // scipy.stats.ks_2samp([0.1,0.4,0.7,1.5,2.2,2.9], [1.1,1.9,2.5,3.3,3.8], method="exact") → D = 0.5, p = 0.35714285714285715
    expect(ksExact([0.1, 0.4, 0.7, 1.5, 2.2, 2.9], [1.1, 1.9, 2.5, 3.3, 3.8])).toBeCloseTo(0.35714285714285715, 12)
    // The notebook's sizes (555 reference rows, 168 current): Debian's python3-scipy 1.x,
    //   a = [(k*0.6180339887) % 1 for k in range(1, 556)]; b = [((k*0.4142135623) % 1)*0.8 + 0.12 for k in range(1, 169)]
    //   ks_2samp(a, b, method="exact") → D = 0.12612612612612611, p = 0.029758888637585905
    //   (and with 40 and 30 points, b scaled by 0.9 and shifted by 0.15: p = 0.6182530877166545)
    const seq = (n: number, step: number, scale = 1, shift = 0) => Array.from({ length: n }, (_, k) => (((k + 1) * step) % 1) * scale + shift)
    expect(ksExact(seq(555, 0.6180339887), seq(168, 0.4142135623, 0.8, 0.12))).toBeCloseTo(0.029758888637585905, 10)
    expect(ksExact(seq(40, 0.6180339887), seq(30, 0.4142135623, 0.9, 0.15))).toBeCloseTo(0.6182530877166545, 10)
  })
})

describe('notebooks/08-monitoring.ipynb', () => {
  it('detects the regime change, retrains, shadows, promotes by the rules and rolls back on a breach', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-monitoring-'))
    const result = await runNotebook(join(ROOT, 'notebooks', '08-monitoring.ipynb'), { home, env: { MTFLOW_SCRATCH_HOME: home } })
    expect(result.status, result.message).toBe('ok')
    const cell = (id: string) => result.notebook.cells.find((c) => c.id === id)!

    // The prediction log, read raw: one record per scored row, with its features, version and role.
    const dir = join(home, 'monitor', 'predictions', MODEL)
    const predictions = readdirSync(dir)
      .sort()
      .flatMap((f) => jsonl(join(dir, f))) as { time: number; requestId: string; version: number; role: string; row: Record<string, number>; prediction: number }[]
    // Labels from the lake's bars: did the next bar close higher? Known once that next bar has closed.
    const bars = await loadBars(home, { symbol: 'SYN-REGIME', timeframe: '1h', source: 'synthetic' })
    const index = new Map(Array.from(bars.time, (t, i) => [t, i]))
    const labelOf = (requestId: string, asOf: number): number | undefined => {
      const i = index.get(Date.parse(requestId.split('@')[1]!))!
      if (i + 1 >= bars.time.length || bars.time[i + 1]! + HOUR > asOf) return undefined
      return bars.close[i + 1]! > bars.close[i]! ? 1 : 0
    }

    // 1. Drift: each monitored column's KS p-value at each weekly check, from the reference file and the
    // champion's logged rows of the 7 days before it.
    const [header, ...lines] = readFileSync(join(home, 'monitor', 'reference', 'nb08-train.csv'), 'utf8').trim().split('\n')
    const refColumns = header!.split(',')
    const reference = (c: string) => lines.map((l) => Number(l.split(',')[refColumns.indexOf(c)]))
    const states = jsonl(join(home, 'monitor', 'state.jsonl')) as { monitor: string; time: number; value: number; breached: boolean; fired: string[]; version: number; evidence: { columns?: { column: string; score: number }[] } }[]
    const drift = states.filter((s) => s.monitor === 'inputs-drift')
    expect(drift.map((s) => new Date(s.time).toISOString())).toEqual(['2024-04-01T00:05:00.000Z', '2024-04-08T00:05:00.000Z', '2024-04-15T00:05:00.000Z', '2024-04-22T00:05:00.000Z'])
    const shares: number[] = []
    for (const s of drift.slice(0, 2)) {
      const rows = predictions.filter((p) => p.role === 'champion' && p.version === s.version && p.time >= s.time - 7 * DAY && p.time < s.time)
      expect(rows.length).toBe(168)
      const columns = s.evidence.columns!
      expect(columns.map((c) => c.column)).toEqual(['range_5', 'trend_5', 'slope_5', 'r2_5', 'ret_1'])
      let drifted = 0
      for (const c of columns) {
        const p = ksExact(reference(c.column), rows.map((r) => r.row[c.column]!))
        expect(c.score).toBeCloseTo(p, 9)
        if (p < 0.05) drifted++
      }
      shares.push(drifted / columns.length)
      expect(s.value).toBeCloseTo(drifted / columns.length, 12)
    }
    // The first regime's week does not drift; the week of the uptrend does, and only that check fires retrain.
    expect(shares[0]).toBeLessThan(0.5)
    expect(shares[1]).toBeGreaterThanOrEqual(0.5)
    expect(drift.map((s) => s.fired.join())).toEqual(['', 'retrain', '', ''])

    // 2. The retrain job, started by the trigger at the second check, made v2 the challenger.
    const history = jsonl(join(home, 'scheduler', 'history.jsonl')) as { job: string; time: string; status: string; trigger: string }[]
    expect(history.filter((h) => h.job === 'retrain').map((h) => [h.time, h.trigger, h.status])).toEqual([['2024-04-08T00:05:00.000Z', 'trigger', 'ok']])
    expect(history.filter((h) => h.job === 'monitor').map((h) => h.time)).toEqual(['2024-04-01T00:05:00.000Z', '2024-04-08T00:05:00.000Z', '2024-04-15T00:05:00.000Z', '2024-04-22T00:05:00.000Z'])

    // 3. Shadow week: both versions scored the same requests; each side's directional accuracy on the labels
    // matured by the decision (2024-04-15 00:05), against the audit log's promotion entry.
    const shadowFrom = at('2024-04-08T00:05:00Z')
    const decided = at('2024-04-15T00:05:00Z')
    const side = (role: string, version: number) => {
      const rows = predictions.filter((p) => p.role === role && p.version === version && p.time >= shadowFrom && p.time < decided)
      const labelled = rows.flatMap((p) => {
        const label = labelOf(p.requestId, decided)
        return label === undefined ? [] : [p.prediction === label ? 1 : 0]
      })
      return { requests: rows.map((p) => p.requestId), n: labelled.length, accuracy: labelled.reduce((a, b) => a + b, 0) / labelled.length }
    }
    const champion = side('champion', 1)
    const challenger = side('shadow', 2)
    expect(challenger.requests).toEqual(champion.requests)
    expect(champion.n).toBe(167)
    const audit = jsonl(join(home, 'serving', `${MODEL}.audit.jsonl`)) as { time: number; action: string; from?: number; to?: number; champion?: { value: number; version: number }; challenger?: { value: number; version: number; observations: number }; evidence?: { value: number; threshold: number } }[]
    expect(audit.map((a) => a.action)).toEqual(['promote', 'rollback'])
    const promote = audit[0]!
    expect(promote.time).toBe(decided)
    expect(promote.champion!.version).toBe(1)
    expect(promote.challenger!.version).toBe(2)
    expect(promote.champion!.value).toBeCloseTo(champion.accuracy, 12)
    expect(promote.challenger!.value).toBeCloseTo(challenger.accuracy, 12)
    expect(promote.challenger!.observations).toBe(challenger.n)
    // The rule: challenger ≥ champion + 0.02 on ≥ 100 observations.
    expect(challenger.accuracy).toBeGreaterThanOrEqual(champion.accuracy + 0.02)

    // 4. Rollback at 2024-04-22 00:05: v2's role-champion accuracy, per UTC day of the last 3 days with matured
    // labels, averaged — below the 55 % floor — and the aliases it left.
    const rolled = at('2024-04-22T00:05:00Z')
    const today = Math.floor(rolled / DAY)
    const daily: number[] = []
    for (let d = today - 2; d <= today; d++) {
      const hits = predictions
        .filter((p) => p.role === 'champion' && p.version === 2 && Math.floor(p.time / DAY) === d && p.time < rolled)
        .flatMap((p) => {
          const label = labelOf(p.requestId, rolled)
          return label === undefined ? [] : [p.prediction === label ? 1 : 0]
        })
      if (hits.length > 0) daily.push(hits.reduce((a, b) => a + b, 0) / hits.length)
    }
    const ma = daily.reduce((a, b) => a + b, 0) / daily.length
    expect(ma).toBeLessThan(0.55)
    const rollback = audit[1]!
    expect(rollback.time).toBe(rolled)
    expect([rollback.from, rollback.to]).toEqual([2, 1])
    expect(rollback.evidence!.value).toBeCloseTo(ma, 12)
    expect(rollback.evidence!.threshold).toBe(0.55)
    expect(new Registry(home).entry('models', MODEL).aliases).toEqual({ champion: 1, 'rolled-back': 2 })

    // The notebook says the same, and draws its charts.
    expect(text(cell('promote'))).toContain(`promoted v2 to champion (v1 kept as previous-champion)`)
    expect(text(cell('rollback'))).toMatch(/^aliases now: champion → v1, rolled-back → v2$/m)
    expect((text(cell('charts'), 'text/html').match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(2)
  }, 300_000)
})
