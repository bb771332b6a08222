// A run's pages: its detail page (metrics, charts, lineage, artifacts, child runs), tearsheet and executed notebook.

import type { Hono } from 'hono'
import { framedDocument, page, pageHtml, sendPage, withoutHome, type PageContext } from './layout.js'
import { DataError, MtflowError, NotFoundError } from '../core/index.js'
import { loadBars } from '../data/index.js'
import {
  attr,
  esc,
  fmtBytes,
  fmtDuration,
  fmtMetric,
  fmtTime,
  hasRunEquity,
  loadRunTearsheet,
  link,
  metricUnit,
  readRunTrades,
  seg,
  table,
  tearsheet,
  tearsheetHtml,
  type Cell,
  type TearsheetInput,
} from '../report/index.js'
import { interactiveChart, performanceCharts, RUN_CHARTS_CSS, tradesSection, tradeSortOf, type TradeTableOptions } from '../report/run-charts.js'
import { lifecycleOf, type MetricPoint, type RunSummary, type Tracker } from '../track/index.js'
import { csrfToken } from './registry-actions.js'
import { runActionForm } from './run-actions.js'

import { artifactViewUrl } from './artifact-pages.js'
import { rank, runsTable, deletedBanner } from './runs-pages.js'
import { sweepRequest } from './sweep-section.js'

/** Charts on a run page at most (the rest of the metrics are in the table). */
const MAX_CHARTS = 12

/** Child runs listed on a run's page (a sweep's first ones; the rest through the runs search it links to). */
const CHILD_ROWS = 100

export function runPageRoutes(app: Hono, ctx: PageContext): void {
  const { tracker, listings, pageCache } = ctx
  app.get('/runs/:id', async (c) => {
    const id = c.req.param('id')
    // The trades table's order (?tsort=pnl&tdir=desc): checked first, a bad value is a 400 page naming it.
    const tradeSort = tradeSortOf(c.req.query('tsort'), c.req.query('tdir'))
    if (typeof tradeSort === 'string') return page(c, 'Bad request', `<h1>Bad request</h1><p role="alert" class="error-box">${esc(tradeSort)}</p>`, '/runs', 400)
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
    // A sweep's view (?x=&y=&metric=…): checked against its child runs, a bad choice is a 400 page naming it.
    const sweep = sweepRequest(c, id, children)
    if (sweep instanceof Response) return sweep
    // The delete/restore form carries the request's CSRF token (run-actions.ts): part of the cached page's key;
    // a form posted from this page must carry its Origin (no-referrer, the site's default, sends "null").
    const csrf = csrfToken(ctx, c)
    c.header('referrer-policy', 'same-origin')
    const cacheKey = `run:${id}|${tradeSort.sort}|${tradeSort.dir}${sweep.key}|${csrf}`
    const hit = pageCache.get(cacheKey, stampOf)
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
    const hasCurve = hasRunEquity(run.artifacts)
    // A backtest's equity and drawdown are in its performance section (from its equity table); other runs' here.
    const curves = [...byKey.entries()].filter(([key, points]) => points.length > 1 && !(hasCurve && (key === 'equity' || key === 'drawdown')))
    curves.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    const charts = curves.slice(0, MAX_CHARTS).map(([key, points]) => {
      const isCurve = key === 'equity' || key === 'drawdown'
      const series = { label: key, time: points.map((p) => p.timestamp), step: points.map((p) => p.step), value: points.map((p) => (key === 'drawdown' && p.value !== 0 ? -p.value : p.value)) }
      // The unit the metrics table shows the key in (a totalReturn history in %, a fees one in money).
      const unit = metricUnit(key)
      return interactiveChart([series], {
        title: key,
        ariaLabel: `${key} history`,
        x: isCurve ? 'time' : 'step',
        axisChoice: !isCurve,
        smoothing: !isCurve,
        yLabel: key,
        unit,
        ...(key === 'drawdown' ? { rule: 0 } : {}),
        width: 560,
        height: 220,
      })
    })
    const performance = hasCurve ? await performanceOf(tracker, run, pageCache, { ...tradeSort, href: (sort, dir) => `/runs/${seg(id)}?tsort=${sort}&tdir=${dir}#trades` }) : ''
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
    const deletedKids = kids.filter((r) => lifecycleOf(r) === 'deleted').length
    const activeKids = kids.length - deletedKids
    const childrenSearch = link(`/runs?filter=${encodeURIComponent(`attributes.parent_run_id = "${id}"`)}`, `all ${activeKids} active child runs`).html
    const body = [
      `<h1>${esc(info.name || info.runId)} <span class="status-${esc(info.status)}">${esc(info.status)}</span>${lifecycleOf(run) === 'deleted' ? ' <span class="muted">(deleted)</span>' : ''}</h1>`,
      deletedBanner(run),
      runActionForm(run, csrf, activeKids),
      sweep.section(run),
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
      notebooks.length === 0 ? '' : `<p>${notebooks.map((a) => link(artifactViewUrl(id, a.path), `view the executed notebook (${a.path})`).html).join(' · ')}</p>`,
      performance,
      charts.length === 0 ? '' : `<h2>Metric charts</h2><div class="charts">${charts.join('')}</div>`,
      '<h2>Metrics</h2>',
      Object.keys(run.metrics).length === 0 ? '<p class="muted">No metrics.</p>' : metricsTable(run.metrics, byKey),
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
            ['path', 'size', 'sha256', ''],
            run.artifacts.map((a) => [link(artifactViewUrl(id, a.path), a.path), fmtBytes(a.size), a.sha256.slice(0, 16), link(`/api/runs/${seg(id)}/artifacts/${a.path.split('/').map(seg).join('/')}`, 'download')]),
          ),
      // Deleted children are listed too, marked so (their status reads "FINISHED (deleted)"); a search shows active ones.
      kids.length === 0
        ? ''
        : `<h2>Child runs (${deletedKids === 0 ? kids.length : `${activeKids} active, ${deletedKids} deleted`})</h2><form class="compare" method="get" action="/compare">${runsTable(kids.slice(0, CHILD_ROWS), { compare: true })}<button type="submit">Compare</button></form>${kids.length > CHILD_ROWS ? `<p>${CHILD_ROWS} shown: ${childrenSearch}, searchable and sortable</p>` : ''}`,
    ].join('\n')
    const html = pageHtml(`Run ${info.name || info.runId}`, `<style>${RUN_CHARTS_CSS}</style>${body}`, '/runs')
    return sendPage(c, info.status === 'RUNNING' ? html : pageCache.set(cacheKey, stamp, html))
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
    // The standalone tearsheet (as `mtflow report` writes it) framed with the site's navigation.
    const own = tearsheetHtml(tearsheet(input, { title: `Tearsheet: ${run.info.name || id}`, ...(periodsPerYear === undefined ? {} : { periodsPerYear }) }))
    const html = framedDocument(own, '/runs', `tearsheet of run ${run.info.name || id}`)
    return sendPage(c, run.info.status === 'RUNNING' ? html : pageCache.set(`tearsheet:${id}`, stamp, html))
  })
  // The executed notebook's old address: the artifact viewer renders it (with its size cap and page cache).
  app.get('/runs/:id/notebook', (c) => c.redirect(artifactViewUrl(c.req.param('id'), c.req.query('path') ?? 'notebook.ipynb'), 302))

}

/**
 * A backtest's performance section; a curve or trades table that cannot be read (a deployment's first point,
 * a damaged or changed file) is a note in its place, the rest of the page still shown.
 */
async function performanceOf(tracker: Tracker, run: RunRecord, pageCache: PageContext['pageCache'], options: TradeTableOptions): Promise<string> {
  const id = run.info.runId
  try {
    // The charts and monthly table do not change with the trades' order: cached apart, by the run's stamp, so
    // another order costs a read of the trades table, not the charts again (~150 ms for 5,000 daily bars).
    const key = `run-performance:${id}`
    const stampOf = () => tracker.runStamp(id)
    const hit = pageCache.get(key, stampOf)
    if (hit !== undefined) {
      const trades = readRunTrades(tracker, id)
      return `${hit.text()}\n${trades === undefined ? '' : tradesSection(trades, options)}`
    }
    const stamp = stampOf()
    const loaded = await runTearsheetInput(tracker, run)
    const charts = performanceCharts(loaded)
    if (run.info.status !== 'RUNNING') pageCache.set(key, stamp, charts)
    return `${charts}\n${loaded.input.trades === undefined ? '' : tradesSection(loaded.input.trades, options)}`
  } catch (error) {
    if (!(error instanceof MtflowError)) throw error
    return `<h2>Performance</h2><p class="muted">Its equity curve or trades cannot be shown: ${esc(withoutHome(error.message, tracker.home))}</p>`
  }
}

/** The run's last value of each metric with its unit (12.34 %, 1.23, 1,234, 10,980.00), the exact value in its title. */
function metricsTable(metrics: RunRecord['metrics'], byKey: ReadonlyMap<string, readonly MetricPoint[]>): string {
  const rows = Object.entries(metrics)
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([k, m]) => `<tr><td>${esc(k)}</td><td class="num" title="${attr(String(m.value))}">${esc(fmtMetric(k, m.value))}</td><td class="num">${esc(m.step.toLocaleString('en-US'))}</td><td class="num">${esc((byKey.get(k)?.length ?? 1).toLocaleString('en-US'))}</td></tr>`)
  return `<table class="metrics"><thead><tr><th>metric</th><th>value</th><th>step</th><th>points</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
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

