// The monitoring page (/monitoring, issue 21 point 6): every monitor's latest state and its value over time
// against its threshold, the drift of each feature over time for drift monitors, the triggers that fired,
// the scheduler's job history and the alerts. Read from the workspace files the monitors, the scheduler and
// the alerts write (lib/monitor/rules.ts state.jsonl, lib/scheduler/state.ts history.jsonl,
// lib/monitor/alerts.ts alerts.jsonl); nothing is computed here that those did not record. Charts are
// server-rendered SVG; every text from the files is escaped.

import * as Plot from '@observablehq/plot'
import { esc, fmtTime, link, raw, seg, table, type Cell } from '../report/html.js'
import { plotToString } from '../report/plot.js'
import { readAlertHistory, type AlertOutcome } from '../monitor/alerts.js'
import { monitorHistory, type MonitorResult } from '../monitor/rules.js'
import { readHistory, type HistoryLine } from '../scheduler/state.js'

/** Evaluations read per monitor, jobs and alerts listed. */
const HISTORY = 500
const LISTED = 50

export interface DriftPoint {
  time: number
  column: string
  score: number
  threshold: number
  drifted: boolean
}

export interface MonitoringView {
  /** The latest evaluation of each monitor, by name. */
  latest: MonitorResult[]
  /** Each monitor's evaluations, oldest first. */
  series: Record<string, { time: number; value: number | null; threshold: number; breached: boolean }[]>
  /** Drift monitors: each column's score at each evaluation. */
  drift: Record<string, DriftPoint[]>
  /** Evaluations that fired triggers, newest first. */
  fired: MonitorResult[]
  jobs: HistoryLine[]
  alerts: AlertOutcome[]
}

export function monitoringView(home: string): MonitoringView {
  const all = monitorHistory(home, { last: HISTORY * 20 })
  const series: MonitoringView['series'] = {}
  const drift: MonitoringView['drift'] = {}
  const latest = new Map<string, MonitorResult>()
  for (const line of all) {
    // Lines from other writers or versions: missing fields read as empty, never a failed page.
    const r = { ...line, fired: Array.isArray(line.fired) ? line.fired : [], evidence: line.evidence !== null && typeof line.evidence === 'object' ? line.evidence : {} }
    if (typeof r.monitor !== 'string') continue
    latest.set(r.monitor, r)
    ;(series[r.monitor] ??= []).push({ time: r.time, value: r.value, threshold: r.threshold, breached: r.breached })
    const columns = (r.evidence as { columns?: unknown }).columns
    if (r.kind === 'drift' && Array.isArray(columns)) {
      for (const c of columns as { column?: unknown; score?: unknown; threshold?: unknown; drifted?: unknown }[]) {
        if (typeof c?.column !== 'string' || typeof c.score !== 'number') continue
        ;(drift[r.monitor] ??= []).push({ time: r.time, column: c.column, score: c.score, threshold: typeof c.threshold === 'number' ? c.threshold : NaN, drifted: c.drifted === true })
      }
    }
  }
  for (const name of Object.keys(series)) series[name] = series[name]!.slice(-HISTORY)
  return {
    latest: [...latest.values()].sort((a, b) => a.monitor.localeCompare(b.monitor)),
    series,
    drift,
    // A manual evaluation (mtflow monitor status --evaluate) fired nothing: it only said what would.
    fired: all.filter((r) => Array.isArray(r.fired) && r.fired.length > 0 && r.manual !== true).slice(-LISTED).reverse(),
    jobs: readHistory(home, { last: LISTED }).reverse(),
    alerts: readAlertHistory(home, { limit: LISTED }).reverse(),
  }
}

/** An ISO time or epoch ms (alert lines of either kind), as "YYYY-MM-DD HH:MM:SS". */
const when = (t: unknown) => (typeof t === 'number' ? fmtTime(t) : typeof t === 'string' ? t.replace('T', ' ').slice(0, 19) : '—')
const fmt = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4))

function valueChart(name: string, points: MonitoringView['series'][string]): string {
  const data = points.filter((p) => p.value !== null).map((p) => ({ time: new Date(p.time), value: p.value!, threshold: p.threshold, state: p.breached ? 'breached' : 'ok' }))
  if (data.length === 0) return `<p class="muted">${esc(name)}: nothing measured yet</p>`
  return plotToString({
    title: name,
    width: 640,
    height: 180,
    marginLeft: 60,
    x: { type: 'utc', label: null },
    y: { grid: true, label: 'value' },
    color: { domain: ['ok', 'breached'], range: ['#4c78a8', '#e45756'], legend: true },
    marks: [Plot.lineY(data, { x: 'time', y: 'value', stroke: '#888' }), Plot.dot(data, { x: 'time', y: 'value', fill: 'state', r: 3 }), Plot.lineY(data, { x: 'time', y: 'threshold', stroke: '#e45756', strokeDasharray: '4 3' })],
  })
}

function driftChart(name: string, points: readonly DriftPoint[]): string {
  const data = points.map((p) => ({ ...p, time: new Date(p.time) }))
  return plotToString({
    title: `${name}: drift score per column (dashed: each column's threshold)`,
    width: 640,
    height: 220,
    marginLeft: 60,
    x: { type: 'utc', label: null },
    y: { grid: true, label: 'score' },
    color: { legend: true },
    marks: [Plot.lineY(data, { x: 'time', y: 'score', stroke: 'column' }), Plot.dot(data.filter((d) => d.drifted), { x: 'time', y: 'score', stroke: 'column', r: 4 }), Plot.lineY(data, { x: 'time', y: 'threshold', z: 'column', stroke: '#bbb', strokeDasharray: '4 3' })],
  })
}

export function monitoringHtml(view: MonitoringView): string {
  const state = (r: MonitorResult): Cell => (r.status === 'breached' ? raw('<strong class="bad">breached</strong>') : r.status)
  const monitors =
    view.latest.length === 0
      ? '<p class="muted">No monitor has been evaluated: declare them in monitor/monitors.json, then mtflow monitor status --evaluate (or a monitor job of the scheduler).</p>'
      : table(
          ['monitor', 'kind', 'target', 'state', 'value', 'threshold', 'evaluated', 'triggers'],
          view.latest.map((r) => [r.monitor, r.kind, r.target + (r.version === undefined ? '' : ` (v${r.version})`), state(r), fmt(r.value), fmt(r.threshold), fmtTime(r.time) + (r.manual === true ? ' (by hand)' : ''), r.manual === true ? '' : r.fired.join(', ')]),
        )
  const charts = Object.entries(view.series)
    .map(([name, points]) => valueChart(name, points))
    .join('\n')
  const drift = Object.entries(view.drift)
    .map(([name, points]) => driftChart(name, points))
    .join('\n')
  const fired = view.fired.length === 0 ? '<p class="muted">No trigger has fired.</p>' : table(['evaluated', 'monitor', 'value', 'threshold', 'triggers'], view.fired.map((r) => [fmtTime(r.time), r.monitor, fmt(r.value), fmt(r.threshold), r.fired.join(', ')]))
  const jobs =
    view.jobs.length === 0
      ? '<p class="muted">No scheduled job has run (mtflow scheduler run).</p>'
      : table(
          ['started', 'job', 'trigger', 'status', 'ms', 'run', 'error'],
          view.jobs.map((j) => [when(j.time), j.job, j.trigger, j.status === 'failed' ? raw('<strong class="bad">failed</strong>') : j.status, String(j.ms), j.runId === undefined ? '—' : link(`/runs/${seg(j.runId)}`, j.runId), j.error ?? '']),
        )
  const alerts = view.alerts.length === 0 ? '<p class="muted">No alert.</p>' : table(['time', 'source', 'severity', 'text', 'sent'], view.alerts.map((a) => [when(a.time), a.source, a.severity, a.text, a.sent ? `yes (${a.count})` : 'held']))
  return `<h1>Monitoring</h1>
<h2>Monitors</h2>
${monitors}
${charts === '' ? '' : `<h2>Over time</h2>\n${charts}`}
${drift === '' ? '' : `<h2>Drift per feature</h2>\n${drift}`}
<h2>Triggers fired</h2>
${fired}
<h2>Scheduled jobs</h2>
${jobs}
<h2>Alerts</h2>
${alerts}`
}
