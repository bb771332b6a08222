// Dashboard: one strategy — its registered versions (parity, default params), every run of it grouped by
// version (how many times it was tried: the overfitting count), metrics across versions, and the equity,
// drawdown and trades of its best run.

import * as Plot from '@observablehq/plot'
import { ConfigError, NotFoundError } from '../lib/core/index.js'
import { curveChart, underwater, esc, fmtTime, link, metricDirection, plotToString, raw, seg, table, type Cell, type DashboardDefinition } from '../lib/report/index.js'
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
    const versionOf = attribution(entry, tracker.summaries())
    const runs = versionOf.runs
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

    // Best by the metric's direction: lower for maxDrawdown, volatility, fees … (sorted highest first whatever the
    // metric, metric=maxDrawdown showed the run with the deepest drawdown as the best: an audit).
    const sign = metricDirection(metric) === 'lower' ? -1 : 1
    const best = [...scored].sort((a, b) => sign * (b.metrics[metric]!.value - a.metrics[metric]!.value)).find((r) => tracker.metricHistory(r.info.runId, 'equity').length > 1)
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

/**
 * Which version each run of the strategy used. Versions may share a source (v2 = v1's source with other
 * default params), so a run's source sha256 alone cannot tell them apart. In order: the version recorded on
 * the run (the tag mtflow.strategy.version, set by a backtest of NAME@REF; a deployment's mtflow.strategy
 * NAME@N), the one version that links the run (registered or validated with it), the same for its parent
 * (a sweep's children), and only then the source hash — when it names one version; when it names several,
 * the run is "v1 or v2 (same source)".
 */
function attribution(entry: RegistryEntry, summaries: RunSummary[]): ((r: RunSummary) => string) & { runs: RunSummary[] } {
  const name = entry.name
  const numbers = new Set(entry.versions.map((v) => v.version))
  const sourceSha = (v: RegistryVersion) => v.files.find((f) => f.name.startsWith('source.'))?.sha256 ?? v.sha256
  const bySha = new Map<string, number[]>()
  for (const v of entry.versions) bySha.set(sourceSha(v), [...(bySha.get(sourceSha(v)) ?? []), v.version])
  const linkedBy = new Map<string, number[]>()
  for (const v of entry.versions) for (const id of v.runs) linkedBy.set(id, [...(linkedBy.get(id) ?? []), v.version])
  const byId = new Map(summaries.map((r) => [r.info.runId, r]))
  const recorded = (r: RunSummary): number | undefined => {
    // The version tag counts for a run of this strategy only (another strategy's v1 is not ours).
    const tag = r.tags['mtflow.strategy.version']
    const ours = r.info.lineage.strategy?.name === name || r.tags['mtflow.strategy'] === name
    if (ours && tag !== undefined && /^\d+$/.test(tag) && numbers.has(Number(tag))) return Number(tag)
    const ref = /^(.+)@(\d+)$/.exec(r.tags['mtflow.strategy'] ?? '')
    if (ref !== null && ref[1] === name && numbers.has(Number(ref[2]))) return Number(ref[2])
    const links = linkedBy.get(r.info.runId)
    return links !== undefined && links.length === 1 ? links[0] : undefined
  }
  const versionNumber = (r: RunSummary): number | undefined => {
    // The run, then its parent and grandparents (a sweep's children, a study's trials), at most 4 up.
    let at: RunSummary | undefined = r
    for (let depth = 0; at !== undefined && depth < 4; depth++) {
      const n = recorded(at)
      if (n !== undefined) return n
      at = at.info.parentRunId === undefined ? undefined : byId.get(at.info.parentRunId)
    }
    return undefined
  }
  const of = (r: RunSummary): string => {
    const n = versionNumber(r)
    if (n !== undefined) return `v${n}`
    const candidates = r.info.lineage.strategy === undefined ? [] : (bySha.get(r.info.lineage.strategy.sha256) ?? [])
    if (candidates.length === 1) return `v${candidates[0]}`
    if (candidates.length > 1) return `${candidates.map((c) => `v${c}`).join(' or ')} (same source)`
    return 'unregistered source'
  }
  const runs = summaries.filter((r) => r.info.lineage.strategy?.name === name || (r.info.lineage.strategy !== undefined && bySha.has(r.info.lineage.strategy.sha256)) || versionNumber(r) !== undefined)
  return Object.assign(of, { runs })
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
