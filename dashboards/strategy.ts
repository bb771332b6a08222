// Dashboard: one strategy — its registered versions (parity, default params), every run of it grouped by
// version (how many times it was tried: the overfitting count), metrics across versions, and the equity,
// drawdown and trades of its best run.

import * as Plot from '@observablehq/plot'
import { ConfigError, NotFoundError } from '../lib/core/index.js'
import { curveChart, underwater, esc, fmtTime, link, plotToString, raw, seg, table, type Cell, type DashboardDefinition } from '../lib/report/index.js'
import type { RegistryEntry, RegistryVersion, RunSummary } from '../lib/track/index.js'
import { readRunTable, runTableRows } from '../lib/track/run-tables.js'

const TRADE_ROWS = 50

export const strategyPage: DashboardDefinition = {
  name: 'strategy',
  title: 'Strategy',
  description: 'a strategy: versions, runs per version, metrics across versions, its best run',
  params: {
    strategy: 'the registered strategy (default: the most recently registered one)',
    metric: 'the metric that picks the best run (default sharpe)',
  },
  render(context) {
    const { registry, tracker } = context
    const metric = context.params.metric ?? 'sharpe'
    let name = context.params.strategy
    if (name === undefined) {
      const entries = registry.list('strategies').filter((e) => e.versions.length > 0)
      if (entries.length === 0) return { title: 'Strategy', body: '<p class="muted">No strategy is registered yet: mtflow strategy register NAME|FILE.</p>', runs: [] }
      entries.sort((a, b) => latest(b).createdAt - latest(a).createdAt)
      name = entries[0]!.name
    }
    let entry: RegistryEntry
    try {
      entry = registry.entry('strategies', name)
    } catch (error) {
      if (error instanceof NotFoundError) throw new ConfigError(`strategy ${JSON.stringify(name)} is not registered (registered: ${registry.list('strategies').map((e) => e.name).join(', ') || 'none'})`, { cause: error })
      throw error
    }
    // A run's lineage holds its source's sha256; a version with params.json beside the source is matched
    // by its source file (the latest version of that source wins).
    const sourceSha = (v: RegistryVersion) => v.files.find((f) => f.name.startsWith('source.'))?.sha256 ?? v.sha256
    const bySha = new Map(entry.versions.map((v) => [sourceSha(v), v]))
    const runs = tracker.summaries().filter((r) => r.info.lineage.strategy?.name === name || (r.info.lineage.strategy !== undefined && bySha.has(r.info.lineage.strategy.sha256)))
    const versionOf = (r: RunSummary) => {
      const v = r.info.lineage.strategy === undefined ? undefined : bySha.get(r.info.lineage.strategy.sha256)
      return v === undefined ? 'unregistered source' : `v${v.version}`
    }
    const aliasesOf = (v: RegistryVersion) => Object.entries(entry.aliases).filter(([, n]) => n === v.version).map(([a]) => a)
    const parts: string[] = []

    parts.push('<h2>Versions</h2>')
    parts.push(
      table(
        ['version', 'registered', 'status', 'sha256', 'aliases', 'default params', 'parity (event vs vectorized)', 'runs tried', 'validating runs'],
        entry.versions.map((v): Cell[] => [
          `v${v.version}`,
          fmtTime(v.createdAt),
          v.status,
          v.sha256.slice(0, 12),
          aliasesOf(v).join(', '),
          JSON.stringify(v.params ?? {}),
          v.parity === undefined ? 'not checked' : `${v.parity.agree ? 'agree' : 'DISAGREE'} (max rel. diff ${v.parity.maxRelativeDifference.toExponential(2)})`,
          runs.filter((r) => versionOf(r) === `v${v.version}`).length,
          raw(v.runs.map((id) => link(`/runs/${seg(id)}`, id.slice(0, 8)).html).join(' ')),
        ]),
      ),
    )

    const scored = runs.filter((r) => Number.isFinite(r.metrics[metric]?.value))
    parts.push(`<h2>Runs: ${runs.length} in all</h2>`)
    parts.push(`<p class="muted">Every backtest and sweep set of this strategy counts: the more sets tried, the more the best ${esc(metric)} overstates what to expect.</p>`)
    if (scored.length > 0) {
      const rows = scored.map((r) => ({ version: versionOf(r), value: r.metrics[metric]!.value, kind: r.tags['mtflow.kind'] ?? 'run' }))
      parts.push(
        `<div class="chart"><h3>${esc(metric)} of every run, by version</h3>${plotToString({
          ariaLabel: `${metric} across versions`,
          width: 760,
          height: 260,
          marginLeft: 64,
          style: { fontSize: '11px', background: 'white' },
          x: { label: null, type: 'band', padding: 0.4 },
          y: { label: metric, grid: true },
          color: { legend: true },
          marks: [Plot.ruleY([0]), Plot.boxY(rows, { x: 'version', y: 'value', fill: '#eee', stroke: '#999' }), Plot.dot(rows, { x: 'version', y: 'value', fill: 'kind', r: 3, fillOpacity: 0.8 })],
        })}</div>`,
      )
    }

    const best = [...scored].sort((a, b) => b.metrics[metric]!.value - a.metrics[metric]!.value).find((r) => tracker.metricHistory(r.info.runId, 'equity').length > 1)
    const shown: string[] = []
    if (best === undefined) {
      parts.push('<p class="muted">No run of this strategy logged an equity curve yet (mtflow backtest does).</p>')
    } else {
      const id = best.info.runId
      shown.push(id)
      parts.push(`<h2>Best backtest by ${esc(metric)} (of those with an equity curve): ${link(`/runs/${seg(id)}`, best.info.name || id).html} (${esc(versionOf(best))})</h2>`)
      parts.push(table(['param', 'value'], Object.entries(best.params)))
      parts.push('<div class="charts">')
      parts.push(`<div class="chart"><h3>Equity</h3>${curveChart([{ label: best.info.name, points: tracker.metricHistory(id, 'equity') }], { ariaLabel: 'equity curve', y: 'equity' })}</div>`)
      const dd = tracker.metricHistory(id, 'drawdown')
      if (dd.length > 1) parts.push(`<div class="chart"><h3>Drawdown</h3>${curveChart([{ label: best.info.name, points: underwater(dd) }], { ariaLabel: 'drawdown', y: 'drawdown', percent: true, height: 200 })}</div>`)
      parts.push('</div>')
      const trades = readRunTable(tracker, id, 'trades')
      if (trades !== undefined) {
        const { columns, rows } = trades.format === 'csv' ? readCsv(trades.text) : runTableRows(trades)
        const keep = ['symbol', 'direction', 'entryTime', 'entryPrice', 'exitTime', 'exitPrice', 'qty', 'fees', 'pnl', 'returnPct', 'mae', 'mfe', 'barsHeld', 'open'].filter((c) => columns.includes(c))
        const cols = keep.length > 0 ? keep : columns
        const idx = cols.map((c) => columns.indexOf(c))
        parts.push(`<h2>Trades (${rows.length}${rows.length > TRADE_ROWS ? `, first ${TRADE_ROWS} shown` : ''})</h2>`)
        parts.push(table(cols, rows.slice(0, TRADE_ROWS).map((r) => idx.map((i) => numeric(r[i])))))
      }
    }
    return { title: `Strategy: ${name}`, body: parts.join('\n'), runs: [...new Set([...entry.versions.flatMap((v) => v.runs), ...shown])] }
  },
}

function latest(e: { versions: RegistryVersion[] }): RegistryVersion {
  return e.versions[e.versions.length - 1]!
}

function numeric(text: string | undefined): Cell {
  if (text === undefined || text === '') return ''
  const n = Number(text)
  return Number.isFinite(n) && /^-?[\d.]+(e[-+]?\d+)?$/i.test(text) ? n : text
}

/** A small CSV reader for our own exports (quoted fields allowed). */
function readCsv(text: string): { columns: string[]; rows: string[][] } {
  const lines: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++
      else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') row.push(field), (field = '')
    else if (ch === '\n') row.push(field), lines.push(row), (row = []), (field = '')
    else if (ch !== '\r') field += ch
  }
  if (field !== '' || row.length > 0) row.push(field), lines.push(row)
  return { columns: lines[0] ?? [], rows: lines.slice(1) }
}
