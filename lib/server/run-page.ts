// A run's pages: its detail page (metrics, charts, lineage, artifacts, child runs), tearsheet and executed notebook.

import type { Hono } from 'hono'
import { page, pageHtml, sendPage, type PageContext } from './layout.js'
import { DataError, NotFoundError } from '../core/index.js'
import { loadBars } from '../data/index.js'
import {
  curveChart,
  esc,
  fmtBytes,
  fmtDuration,
  fmtTime,
  hasRunEquity,
  loadRunTearsheet,
  link,
  seg,
  table,
  tearsheet,
  tearsheetHtml,
  underwater,
  type Cell,
  type TearsheetInput,
} from '../report/index.js'
import { lifecycleOf, type MetricPoint, type RunSummary, type Tracker } from '../track/index.js'
import { renderNotebookHtml } from './notebook-html.js'

import { rank, runsTable, deletedBanner } from './runs-pages.js'
import { parseNotebook } from './registry-pages.js'

/** Charts on a run page at most (the rest of the metrics are in the table). */
const MAX_CHARTS = 12

/** Child runs listed on a run's page (a sweep's first ones; the rest through the runs search it links to). */
const CHILD_ROWS = 100

export function runPageRoutes(app: Hono, ctx: PageContext): void {
  const { tracker, listings, pageCache } = ctx
  app.get('/runs/:id', (c) => {
    const id = c.req.param('id')
    // A finished run's page changes only when something is logged to it or its children: cached by the
    // run's file fingerprint and the index stamps of its children's experiments (a child's metric, tag or
    // deletion is an append to its experiment's index), a running run rendered afresh (which also runs
    // the stale-run check).
    let childList: readonly RunSummary[] | undefined
    const children = () => (childList ??= listings.runs().children.get(id) ?? [])
    const stampOf = () => {
      const kids = children()
      const experiments = new Set(kids.map((r) => r.info.experimentId))
      return `${tracker.runStamp(id)}|${kids.length}|${kids.filter((r) => r.info.status === 'RUNNING').length}|${listings.experimentStamps(experiments)}`
    }
    const hit = pageCache.get(`run:${id}`, stampOf)
    if (hit !== undefined) return sendPage(c, hit)
    const stamp = stampOf()
    const run = tracker.getRun(id)
    const kids = children()
    const info = run.info
    const history = tracker.metricHistory(id)
    const byKey = new Map<string, MetricPoint[]>()
    for (const p of history) {
      let list = byKey.get(p.key)
      if (list === undefined) byKey.set(p.key, (list = []))
      list.push(p)
    }
    const curves = [...byKey.entries()].filter(([, points]) => points.length > 1)
    curves.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    const charts = curves.slice(0, MAX_CHARTS).map(([key, points]) => {
      const isCurve = key === 'equity' || key === 'drawdown'
      const svg = curveChart([{ label: key, points: key === 'drawdown' ? underwater(points) : points }], { ariaLabel: `${key} history`, x: isCurve ? 'time' : 'step', y: key, percent: key === 'drawdown', width: 560, height: 220 })
      return `<div class="chart"><h3>${esc(key)}</h3>${svg}</div>`
    })
    const lineage = info.lineage
    const lineageRows: Cell[][] = [
      ...(lineage.data ?? []).map((d): Cell[] => ['data', `${d.name} sha256:${d.sha256.slice(0, 16)}`]),
      ...(lineage.strategy === undefined ? [] : [['strategy', `${lineage.strategy.name} sha256:${lineage.strategy.sha256.slice(0, 16)}${lineage.strategy.file === undefined ? '' : ` (${lineage.strategy.file})`}`] as Cell[]]),
      ...(lineage.notebook === undefined ? [] : [['notebook', `${lineage.notebook.path} sha256:${lineage.notebook.sha256.slice(0, 16)}`] as Cell[]]),
      ...(lineage.paramsSha256 === undefined ? [] : [['params', `sha256:${lineage.paramsSha256.slice(0, 16)}`] as Cell[]]),
      ...(lineage.gitCommit === undefined ? [] : [['git commit', lineage.gitCommit] as Cell[]]),
      ...(lineage.strategyPriorRuns === undefined ? [] : [['prior runs of this strategy source', lineage.strategyPriorRuns] as Cell[]]),
    ]
    const notebooks = run.artifacts.filter((a) => a.path.endsWith('.ipynb'))
    const hasCurve = hasRunEquity(run.artifacts)
    const deletedKids = kids.filter((r) => lifecycleOf(r) === 'deleted').length
    const activeKids = kids.length - deletedKids
    const childrenSearch = link(`/runs?filter=${encodeURIComponent(`attributes.parent_run_id = "${id}"`)}`, `all ${activeKids} active child runs`).html
    const body = [
      `<h1>${esc(info.name || info.runId)} <span class="status-${esc(info.status)}">${esc(info.status)}</span>${lifecycleOf(run) === 'deleted' ? ' <span class="muted">(deleted)</span>' : ''}</h1>`,
      deletedBanner(run),
      table(
        ['', ''],
        [
          ['run id', info.runId],
          ['experiment', link(`/runs?experiment=${seg(info.experimentId)}`, info.experimentId)],
          ['started', fmtTime(info.startTime)],
          ['ended', fmtTime(info.endTime)],
          ['duration', fmtDuration(info.endTime === undefined ? undefined : info.endTime - info.startTime)],
          ['parent', info.parentRunId === undefined ? '' : link(`/runs/${seg(info.parentRunId)}`, info.parentRunId)],
          ['host / pid', `${info.host} / ${info.pid}`],
        ],
      ),
      hasCurve ? `<p>${link(`/runs/${seg(id)}/tearsheet`, 'tearsheet').html}: returns, drawdowns, monthly table, rolling Sharpe and trades against the benchmark</p>` : '',
      notebooks.length === 0 ? '' : `<p>${notebooks.map((a) => link(`/runs/${seg(id)}/notebook?path=${encodeURIComponent(a.path)}`, `view the executed notebook (${a.path})`).html).join(' · ')}</p>`,
      charts.length === 0 ? '' : `<h2>Metric charts</h2><div class="charts">${charts.join('')}</div>`,
      '<h2>Metrics</h2>',
      Object.keys(run.metrics).length === 0
        ? '<p class="muted">No metrics.</p>'
        : table(
            ['metric', 'value', 'step', 'points'],
            Object.entries(run.metrics)
              .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
              .map(([k, m]) => [k, m.value, m.step, byKey.get(k)?.length ?? 1]),
          ),
      '<h2>Parameters</h2>',
      Object.keys(run.params).length === 0 ? '<p class="muted">No parameters.</p>' : table(['param', 'value'], Object.entries(run.params).sort(([a], [b]) => a.localeCompare(b))),
      '<h2>Lineage</h2>',
      lineageRows.length === 0 ? '<p class="muted">No lineage recorded.</p>' : table(['', ''], lineageRows),
      '<h2>Tags</h2>',
      Object.keys(run.tags).length === 0 ? '<p class="muted">No tags.</p>' : table(['tag', 'value'], Object.entries(run.tags).sort(([a], [b]) => a.localeCompare(b))),
      '<h2>Artifacts</h2>',
      run.artifacts.length === 0
        ? '<p class="muted">No artifacts.</p>'
        : table(
            ['path', 'size', 'sha256'],
            run.artifacts.map((a) => [link(`/api/runs/${seg(id)}/artifacts/${a.path.split('/').map(seg).join('/')}`, a.path), fmtBytes(a.size), a.sha256.slice(0, 16)]),
          ),
      // Deleted children are listed too, marked so (their status reads "FINISHED (deleted)"); a search shows active ones.
      kids.length === 0
        ? ''
        : `<h2>Child runs (${deletedKids === 0 ? kids.length : `${activeKids} active, ${deletedKids} deleted`})</h2><form class="compare" method="get" action="/compare">${runsTable(kids.slice(0, CHILD_ROWS), { compare: true })}<button type="submit">Compare</button></form>${kids.length > CHILD_ROWS ? `<p>${CHILD_ROWS} shown: ${childrenSearch}, searchable and sortable</p>` : ''}`,
    ].join('\n')
    const html = pageHtml(`Run ${info.name || info.runId}`, body, '/runs')
    return sendPage(c, info.status === 'RUNNING' ? html : pageCache.set(`run:${id}`, stamp, html))
  })
  // The run's tearsheet (what `mtflow report RUN` writes): a page of its own, cached like the run page.
  app.get('/runs/:id/tearsheet', async (c) => {
    const id = c.req.param('id')
    const stampOf = () => tracker.runStamp(id)
    const hit = pageCache.get(`tearsheet:${id}`, stampOf)
    if (hit !== undefined) return sendPage(c, hit)
    const stamp = stampOf()
    const run = tracker.getRun(id)
    const { input, periodsPerYear } = await runTearsheetInput(tracker, run)
    const html = tearsheetHtml(tearsheet(input, { title: `Tearsheet: ${run.info.name || id}`, ...(periodsPerYear === undefined ? {} : { periodsPerYear }) }))
    return sendPage(c, run.info.status === 'RUNNING' ? html : pageCache.set(`tearsheet:${id}`, stamp, html))
  })
  app.get('/runs/:id/notebook', (c) => {
    const id = c.req.param('id')
    const path = c.req.query('path') ?? 'notebook.ipynb'
    const notebook = parseNotebook(tracker.readArtifact(id, path).bytes.toString('utf8'), `artifact ${path} of run ${id}`)
    const body = `<h1>${esc(path)} <span class="muted">of run ${link(`/runs/${seg(id)}`, id).html}</span></h1>${renderNotebookHtml(notebook)}`
    return page(c, path, body, '/runs')
  })

}

// ---- a run's tearsheet input ------------------------------------------------------------------------
type RunRecord = ReturnType<Tracker['getRun']>

/** A run's tearsheet input as `mtflow report RUN` reads it (loadRunTearsheet), with the traded symbol's closes when the lake has them. */
async function runTearsheetInput(tracker: Tracker, run: RunRecord): Promise<{ input: TearsheetInput; periodsPerYear?: number }> {
  const parts = loadRunTearsheet(tracker, run.info.runId)
  const input: TearsheetInput = { time: parts.time, equity: parts.equity, ...(parts.trades === undefined ? {} : { trades: parts.trades }) }
  // The traded symbol (one) from the lake: the price chart with the trades, and the buy-and-hold benchmark.
  if (parts.symbol !== undefined && parts.timeframe !== undefined) {
    try {
      const bars = await loadBars(tracker.home, { symbol: parts.symbol, timeframe: parts.timeframe, source: parts.source, start: parts.time[0]!, end: parts.time[parts.time.length - 1]! })
      if (bars.time.length >= 2) input.prices = { name: parts.symbol, time: bars.time, close: bars.close }
    } catch (error) {
      // Not in the lake (any more): the tearsheet goes without prices and benchmark.
      if (!(error instanceof NotFoundError || error instanceof DataError)) throw error
    }
  }
  return { input, ...(parts.periodsPerYear === undefined ? {} : { periodsPerYear: parts.periodsPerYear }) }
}

