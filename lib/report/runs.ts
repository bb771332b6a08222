// Charts and tables of tracked runs, shared by the server's pages and the dashboards: metric curves
// (equity and drawdown over bar time, any metric over steps) and the side-by-side run comparison.

import * as Plot from '@observablehq/plot'
import { ConfigError } from '../core/index.js'
import { compareRuns, type MetricPoint, type Tracker } from '../track/index.js'
import { attr, esc, fmtDuration, fmtTime, link, raw, seg, table, type Cell } from './html.js'
import { fmtMetric, fmtMetricDelta, metricDirection } from './metric-units.js'
import { interactiveChart, type ChartSeries } from './run-charts.js'
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

/** A metric's place among the headline metrics (the others after them, alike). */
export function metricRank(key: string): number {
  const i = HEADLINE_METRICS.indexOf(key)
  return i < 0 ? HEADLINE_METRICS.length : i
}

/** How the compare page draws equity: rebased to 1.0 at each run's start (default), as % return, or raw amounts. */
export type Rebase = '1' | 'pct' | 'raw'
export const REBASES: readonly Rebase[] = ['1', 'pct', 'raw']

/**
 * Runs side by side: who they are, the equity curves overlaid (rebased to 1.0 by default, so a 100k and a 1M
 * run overlay) and the drawdowns overlaid, metrics (with units; the best value of each row marked, the
 * difference to the first run beside each other value), then params: those that differ first, the equal
 * ones folded below. Rows where the runs differ are marked. Runs without curves are listed, not charted.
 */
export function runComparisonHtml(tracker: Tracker, runIds: readonly string[], options: { linkRuns?: boolean; rebase?: Rebase } = {}): { html: string; charted: number } {
  const cmp = compareRuns(tracker, runIds)
  const labels = runLabels(cmp.runs)
  const linkRuns = options.linkRuns !== false
  const rebase = options.rebase ?? '1'
  if (!REBASES.includes(rebase)) throw new ConfigError(`rebase must be 1, pct or raw (received ${JSON.stringify(String(rebase).slice(0, 40))})`)
  const head = ['', ...labels]
  const who: Cell[][] = [
    ['run id', ...cmp.runs.map((r) => (linkRuns ? link(`/runs/${seg(r.runId)}`, r.runId) : r.runId))],
    ['experiment', ...cmp.runs.map((r) => r.experimentId)],
    ['status', ...cmp.runs.map((r) => raw(`<span class="status-${esc(r.status)}">${esc(r.status)}</span>`))],
    ['started', ...cmp.runs.map((r) => fmtTime(r.startTime))],
    ['duration', ...cmp.runs.map((r) => fmtDuration(r.endTime === undefined ? undefined : r.endTime - r.startTime))],
  ]
  const metrics = [...cmp.metrics].sort((a, b) => metricRank(a.key) - metricRank(b.key) || a.key.localeCompare(b.key))
  const equity: ChartSeries[] = []
  const drawdown: ChartSeries[] = []
  cmp.runs.forEach((r, i) => {
    // One read of the run's metric history for both curves (interactiveChart thins long ones, extremes kept).
    const history = tracker.metricHistory(r.runId)
    const e = history.filter((p) => p.key === 'equity' && Number.isFinite(p.value))
    const d = underwater(history.filter((p) => p.key === 'drawdown' && Number.isFinite(p.value)))
    const first = e[0]?.value ?? NaN
    const scale = (v: number) => (rebase === 'raw' ? v : rebase === '1' ? v / first : v / first - 1)
    if (e.length > 1 && (rebase === 'raw' || (Number.isFinite(first) && first !== 0))) equity.push({ label: labels[i]!, time: e.map((p) => p.timestamp), value: e.map((p) => scale(p.value)) })
    if (d.length > 1) drawdown.push({ label: labels[i]!, time: d.map((p) => p.timestamp), value: d.map((p) => p.value) })
  })
  const parts: string[] = []
  parts.push(`<style>${COMPARE_CSS}</style>`)
  parts.push(table(head, who))
  if (equity.length > 0) {
    const views: [Rebase, string][] = [
      ['1', 'rebased to 1.0'],
      ['pct', '% return'],
      ['raw', 'amounts'],
    ]
    const ids = cmp.runs.map((r) => r.runId).join(',')
    const toggle = views.map(([v, text]) => (v === rebase ? `<strong aria-current="true">${esc(text)}</strong>` : `<a href="?runs=${attr(encodeURIComponent(ids))}&amp;rebase=${v}">${esc(text)}</a>`)).join(' · ')
    if (linkRuns) parts.push(`<p class="rebase">Equity: ${toggle}</p>`)
    const title = rebase === '1' ? 'Equity (rebased to 1.0 at each start)' : rebase === 'pct' ? 'Return since start (%)' : 'Equity'
    parts.push('<div class="charts">')
    parts.push(interactiveChart(equity, { id: 'equity-chart', title, ariaLabel: 'equity curves', unit: rebase === 'pct' ? 'percent' : rebase === 'raw' ? 'money' : 'number', yLabel: rebase === '1' ? 'equity / start' : rebase === 'pct' ? 'return' : 'equity', ...(rebase === 'raw' ? {} : { rule: rebase === '1' ? 1 : 0 }) }))
    if (drawdown.length > 0) parts.push(interactiveChart(drawdown, { id: 'drawdown-chart', title: 'Drawdown', ariaLabel: 'drawdowns', unit: 'percent', yLabel: 'drawdown', rule: 0, height: 200 }))
    parts.push('</div>')
  } else {
    parts.push('<p class="muted">None of these runs logged an equity curve (backtests do).</p>')
  }
  parts.push('<h2>Metrics</h2>')
  parts.push(metricsTable(labels, metrics))
  parts.push('<h2>Parameters</h2>')
  if (cmp.params.length === 0) {
    parts.push('<p class="muted">No parameters.</p>')
  } else {
    // Those that differ first: what tells the runs apart; the equal ones folded (a <details>: no script needed).
    const differ = cmp.params.filter((p) => p.differs)
    const same = cmp.params.filter((p) => !p.differs)
    if (differ.length > 0) parts.push(table(['param', ...labels], differ.map((p) => [p.key, ...p.values]), { rowClass: () => 'differs', className: 'params-differ' }))
    else parts.push('<p class="muted">Every parameter is the same in these runs.</p>')
    if (same.length > 0) parts.push(`<details class="params-same"><summary>${same.length} parameter(s) the same in every run</summary>${table(['param', ...labels], same.map((p) => [p.key, ...p.values]), { className: 'params-same' })}</details>`)
  }
  return { html: parts.join('\n'), charted: equity.length }
}

/** The metrics side by side: values with units, the best of each row (by the metric's direction) marked, the difference to the first run beside the others. */
function metricsTable(labels: readonly string[], metrics: readonly { key: string; values: readonly (number | undefined)[]; differs: boolean }[]): string {
  const headRow = `<thead><tr><th>metric</th>${labels.map((l) => `<th>${esc(l)}</th>`).join('')}</tr></thead>`
  const rows = metrics.map((m) => {
    const direction = metricDirection(m.key)
    const finite = m.values.filter((v): v is number => v !== undefined && Number.isFinite(v))
    const best = direction === undefined || finite.length < 2 ? undefined : direction === 'higher' ? Math.max(...finite) : Math.min(...finite)
    const allBest = best !== undefined && finite.every((v) => v === best)
    const first = m.values[0]
    const cells = m.values.map((v, i) => {
      if (v === undefined) return '<td></td>'
      const isBest = best !== undefined && !allBest && v === best
      const delta = i > 0 && first !== undefined && Number.isFinite(first) && Number.isFinite(v) && v !== first ? ` <small class="delta">(${esc(fmtMetricDelta(m.key, first, v))})</small>` : ''
      return `<td class="num${isBest ? ' best' : ''}" title="${attr(String(v))}${isBest ? ' (best)' : ''}">${esc(fmtMetric(m.key, v))}${delta}</td>`
    })
    return `<tr${m.differs ? ' class="differs"' : ''}><td>${esc(m.key)}</td>${cells.join('')}</tr>`
  })
  return `<table class="compare-metrics">${headRow}<tbody>${rows.join('')}</tbody></table>`
}

const COMPARE_CSS = `
table.compare-metrics td.best { font-weight: 700; box-shadow: inset 3px 0 0 var(--good); }
table.compare-metrics small.delta { color: var(--muted); font-size: 11px; }
details.params-same { color: var(--muted); }
details.params-same summary { cursor: pointer; }
p.rebase strong { font-weight: 600; }
`
