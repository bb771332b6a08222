// Charts and tables of tracked runs, shared by the server's pages and the dashboards: metric curves
// (equity and drawdown over bar time, any metric over steps) and the side-by-side run comparison.

import * as Plot from '@observablehq/plot'
import { compareRuns, type MetricPoint, type Tracker } from '../track/index.js'
import { esc, fmtDuration, fmtTime, link, raw, seg, table, type Cell } from './html.js'
import { plotToString } from './plot.js'
import { decimateIndices } from './tearsheet-metrics.js'

export interface Series {
  label: string
  points: readonly MetricPoint[]
}

export interface CurveOptions {
  /** The chart's accessible name (also how tests and people find it on a page). */
  ariaLabel: string
  /** "time": x is each point's timestamp (bar time for backtest curves); "step": x is the step. */
  x?: 'time' | 'step'
  y?: string
  /** Values are fractions shown as percentages. */
  percent?: boolean
  width?: number
  height?: number
}

/** One line per series, coloured by label with a legend when there are several. */
export function curveChart(series: readonly Series[], options: CurveOptions): string {
  const byTime = (options.x ?? 'time') === 'time'
  const width = options.width ?? 760
  const rows: { x: Date | number; y: number; series: string }[] = []
  for (const s of series) {
    for (const p of decimate(s.points, Math.floor(width / 2))) rows.push({ x: byTime ? new Date(p.timestamp) : p.step, y: p.value, series: s.label })
  }
  const several = series.length > 1
  return plotToString({
    ariaLabel: options.ariaLabel,
    width,
    height: options.height ?? 280,
    marginLeft: 64,
    style: { fontSize: '11px', background: 'white' },
    x: { label: byTime ? null : 'step', type: byTime ? 'utc' : 'linear' },
    y: { label: options.y ?? null, grid: true, ...(options.percent === true ? { percent: true, label: `${options.y ?? ''} (%)` } : {}) },
    color: several ? { legend: true, type: 'categorical' } : undefined,
    marks: [
      ...(options.percent === true ? [Plot.ruleY([0])] : []),
      Plot.line(rows, { x: 'x', y: 'y', z: 'series', stroke: several ? 'series' : 'steelblue', strokeWidth: 1.3, ariaDescription: options.ariaLabel }),
    ],
  })
}

/** Drawdown depths (positive fractions, as logged) drawn below zero, as an underwater curve. */
export function underwater(points: readonly MetricPoint[]): MetricPoint[] {
  return points.map((p) => ({ ...p, value: p.value === 0 ? 0 : -p.value }))
}

/**
 * At most two points per bucket of consecutive points — the lowest and the highest, in their order — plus
 * the first and the last: a line drawn through them looks the same at that many pixel columns as one
 * drawn through every point (no peak or trough is lost), and renders several times faster. Non-finite
 * values are left out (a line has no place for them).
 */
export function decimate(points: readonly MetricPoint[], buckets: number): MetricPoint[] {
  const finite = points.filter((p) => Number.isFinite(p.value))
  if (buckets < 1) return finite
  return decimateIndices(finite.map((p) => p.value), buckets).map((i) => finite[i]!)
}

/** A run's label in legends and headers: its name (or short id) — unique across the list given. */
export function runLabels(runs: readonly { runId: string; name: string }[]): string[] {
  const labels = runs.map((r) => r.name || r.runId.slice(0, 8))
  return labels.map((l, i) => (labels.indexOf(l) !== labels.lastIndexOf(l) ? `${l} (${runs[i]!.runId.slice(0, 8)})` : l))
}

/** Metrics listed first in comparisons, when present. */
export const HEADLINE_METRICS = ['sharpe', 'sortino', 'totalReturn', 'cagr', 'maxDrawdown', 'calmar', 'volatility', 'trades', 'winRate', 'profitFactor', 'endEquity', 'fees']

/**
 * Runs side by side: who they are, params and metrics (rows where the runs differ are marked), the
 * equity curves overlaid and the drawdowns overlaid. Runs without curves are listed, not charted.
 */
export function runComparisonHtml(tracker: Tracker, runIds: readonly string[], options: { linkRuns?: boolean } = {}): { html: string; charted: number } {
  const cmp = compareRuns(tracker, runIds)
  const labels = runLabels(cmp.runs)
  const linkRuns = options.linkRuns !== false
  const head = ['', ...labels]
  const who: Cell[][] = [
    ['run id', ...cmp.runs.map((r) => (linkRuns ? link(`/runs/${seg(r.runId)}`, r.runId) : r.runId))],
    ['experiment', ...cmp.runs.map((r) => r.experimentId)],
    ['status', ...cmp.runs.map((r) => raw(`<span class="status-${esc(r.status)}">${esc(r.status)}</span>`))],
    ['started', ...cmp.runs.map((r) => fmtTime(r.startTime))],
    ['duration', ...cmp.runs.map((r) => fmtDuration(r.endTime === undefined ? undefined : r.endTime - r.startTime))],
  ]
  const order = (key: string) => {
    const i = HEADLINE_METRICS.indexOf(key)
    return i < 0 ? HEADLINE_METRICS.length : i
  }
  const metrics = [...cmp.metrics].sort((a, b) => order(a.key) - order(b.key) || a.key.localeCompare(b.key))
  const equity: { label: string; points: MetricPoint[] }[] = []
  const drawdown: { label: string; points: MetricPoint[] }[] = []
  cmp.runs.forEach((r, i) => {
    // One read of the run's metric history for both curves.
    const history = tracker.metricHistory(r.runId)
    const e = history.filter((p) => p.key === 'equity')
    const d = history.filter((p) => p.key === 'drawdown')
    if (e.length > 1) equity.push({ label: labels[i]!, points: e })
    if (d.length > 1) drawdown.push({ label: labels[i]!, points: underwater(d) })
  })
  const parts: string[] = []
  parts.push(table(head, who))
  if (equity.length > 0) {
    parts.push('<div class="charts">')
    parts.push(`<div class="chart" id="equity-chart"><h3>Equity</h3>${curveChart(equity, { ariaLabel: 'equity curves', y: 'equity' })}</div>`)
    if (drawdown.length > 0) parts.push(`<div class="chart" id="drawdown-chart"><h3>Drawdown</h3>${curveChart(drawdown, { ariaLabel: 'drawdowns', y: 'drawdown', percent: true, height: 200 })}</div>`)
    parts.push('</div>')
  } else {
    parts.push('<p class="muted">None of these runs logged an equity curve (backtests do).</p>')
  }
  parts.push('<h2>Metrics</h2>')
  parts.push(
    table(
      ['metric', ...labels],
      metrics.map((m) => [m.key, ...m.values.map((v) => v)]),
      { rowClass: (i) => (metrics[i]!.differs ? 'differs' : undefined) },
    ),
  )
  parts.push('<h2>Parameters</h2>')
  parts.push(
    cmp.params.length === 0
      ? '<p class="muted">No parameters.</p>'
      : table(
          ['param', ...labels],
          cmp.params.map((p) => [p.key, ...p.values]),
          { rowClass: (i) => (cmp.params[i]!.differs ? 'differs' : undefined) },
        ),
  )
  return { html: parts.join('\n'), charted: equity.length }
}
