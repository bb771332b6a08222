// The runs list of `mtflow serve` (/runs): the top-level runs a page at a time, or a search; and the runs
// table the other pages share.

import type { Hono } from 'hono'
import { page, pageHtml, scroll, sendPage, type PageContext } from './layout.js'
import { ConfigError } from '../core/index.js'
import { attr, esc, fmtDuration, fmtTime, HEADLINE_METRICS, link, raw, seg, table } from '../report/index.js'
import { DELETE_REASON_TAG, DELETED_TIME_TAG, DELETED_WITH_TAG, FilterError, lifecycleOf, searchRuns, type RunSummary } from '../track/index.js'
import { newestFirst, pageAfter } from './listings.js'

/** Top-level runs per page of /runs (children are counted, and listed on their parent's page). */
const RUNS_PAGE = 100

export function runsListRoutes(app: Hono, ctx: PageContext): void {
  const { tracker, listings, listingCache } = ctx
  app.get('/runs', (c) => {
    const q = c.req.queries()
    const one = (name: string) => q[name]?.[0]
    const filter = one('filter') ?? ''
    const orderBy = (q.order_by ?? []).filter((s) => s.trim() !== '')
    const experiment = (q.experiment ?? []).filter((s) => s !== '')
    const pageToken = one('page_token')
    const cursor = one('cursor')
    const form = `<form class="search" method="get" action="/runs">
<input type="text" name="filter" value="${attr(filter)}" placeholder='metrics.sharpe > 1 and (params.fast = "10" or tags.mtflow.kind = "sweep")' aria-label="filter">
<input type="text" name="order_by" value="${attr(orderBy.join(', ').length > 0 ? orderBy[0] : '')}" placeholder="metrics.sharpe desc" aria-label="order by" style="width: 14em">
${experiment.map((e) => `<input type="hidden" name="experiment" value="${attr(e)}">`).join('')}
<button type="submit">Search</button></form>`
    const refused = (error: unknown, shown: string) => {
      if (!(error instanceof FilterError) && !(error instanceof ConfigError)) throw error
      const position = error instanceof FilterError ? error.position : undefined
      const caret = position === undefined ? '' : `\n${shown}\n${' '.repeat(Math.max(0, position))}^`
      return page(c, 'Runs', `<h1>Runs</h1>${form}<div class="error-box" role="alert">${esc(error.message)}${esc(caret)}</div>`, '/runs', 400)
    }
    const listing = listings.runs()
    const key = `runs:${new URL(c.req.url).search}`
    const hit = listingCache.get(key, () => listing.stamp)
    if (hit !== undefined) return sendPage(c, hit)
    const scope = experiment.length === 0 ? '' : ` in ${esc(experiment.join(', '))}`
    // No search: the top-level runs, newest first, a page at a time from the cached listing (each sweep
    // or study counted with its child runs, which its page lists), the next page by cursor.
    if (filter.trim() === '' && orderBy.length === 0 && pageToken === undefined) {
      const ids = experiment.length === 0 ? undefined : [...new Set(experiment.map((e) => tracker.getExperiment(e).id))]
      // Several experiments: a run whose active parent is in one of them is listed on the parent's page.
      const inScope = new Set(ids)
      const parentShown = (r: RunSummary) => {
        const parent = r.info.parentRunId === undefined ? undefined : listing.activeRuns.get(r.info.parentRunId)
        return parent !== undefined && inScope.has(parent.info.experimentId)
      }
      const scoped: readonly RunSummary[] =
        ids === undefined
          ? listing.top
          : ids.length === 1
            ? (listing.topByExperiment.get(ids[0]!) ?? [])
            : ids.flatMap((id) => listing.topByExperiment.get(id) ?? []).filter((r) => !parentShown(r)).sort(newestFirst)
      let shown
      try {
        shown = pageAfter(scoped, cursor, RUNS_PAGE)
      } catch (error) {
        return refused(error, '')
      }
      // Active runs only, as a search shows by default (deleted ones: a search with lifecycle).
      const childCount = (r: RunSummary) => listing.activeChildren.get(r.info.runId) ?? 0
      const total = ids === undefined ? listing.active : ids.reduce((n, id) => n + (listing.activeCounts.get(id) ?? 0), 0)
      const next = shown.next === undefined ? '' : `<p>${link(`/runs?${new URLSearchParams([...experiment.map((e) => ['experiment', e]), ['cursor', shown.next]] as [string, string][]).toString()}`, 'next page →').html}</p>`
      const body = `<h1>Runs${scope}</h1>${form}<p class="muted">${scoped.length} top-level run(s) of ${total} active in all; ${shown.runs.length} shown, newest first. Child runs are listed on their parent's page; a filter searches every run. Tick runs and press Compare.</p>
<form class="compare" method="get" action="/compare">${runsTable(shown.runs, { compare: true, childCount })}<button type="submit">Compare</button></form>${next}`
      return sendPage(c, listingCache.set(key, listing.stamp, pageHtml('Runs', body, '/runs')))
    }
    if (cursor !== undefined) return refused(new ConfigError('cursor pages the runs list without a search; a search pages with page_token'), '')
    let result
    try {
      result = searchRuns(tracker, { filter, orderBy, experiments: experiment.length === 0 ? undefined : experiment, maxResults: 100, pageToken })
    } catch (error) {
      return refused(error, filter)
    }
    const next = result.nextPageToken === undefined ? '' : `<p>${link(`/runs?${new URLSearchParams([['filter', filter], ...orderBy.map((o) => ['order_by', o]), ...experiment.map((e) => ['experiment', e]), ['page_token', result.nextPageToken]] as [string, string][]).toString()}`, 'next page →').html}</p>`
    const body = `<h1>Runs${scope}</h1>${form}<p class="muted">${result.total} run(s) match; ${result.runs.length} shown. Tick runs and press Compare.</p>
<form class="compare" method="get" action="/compare">${runsTable(result.runs, { compare: true })}<button type="submit">Compare</button></form>${next}`
    const html = pageHtml('Runs', body, '/runs')
    // A filter may read the clock (a running run's duration): cached only while no run is RUNNING.
    return sendPage(c, listing.running.length === 0 ? listingCache.set(key, listing.stamp, html) : html)
  })

}

export function rank(key: string): number {
  if (key === 'equity') return -2
  if (key === 'drawdown') return -1
  const i = HEADLINE_METRICS.indexOf(key)
  return i < 0 ? HEADLINE_METRICS.length : i
}

/** Runs as a table: the most common metrics and params as columns; a checkbox per run for comparing. */
export function runsTable(runs: readonly RunSummary[], options: { compare: boolean; childCount?: (r: RunSummary) => number }): string {
  if (runs.length === 0) return '<p class="muted">No runs.</p>'
  const frequent = (pick: (r: RunSummary) => Record<string, unknown>, limit: number, prefer: readonly string[]) => {
    const counts = new Map<string, number>()
    for (const r of runs) for (const k of Object.keys(pick(r))) counts.set(k, (counts.get(k) ?? 0) + 1)
    return [...counts.entries()]
      .sort((a, b) => {
        const pa = prefer.indexOf(a[0])
        const pb = prefer.indexOf(b[0])
        return (pa < 0 ? prefer.length : pa) - (pb < 0 ? prefer.length : pb) || b[1] - a[1] || a[0].localeCompare(b[0])
      })
      .slice(0, limit)
      .map(([k]) => k)
  }
  const metrics = frequent((r) => r.metrics, 6, HEADLINE_METRICS.filter((k) => k !== 'endEquity' && k !== 'fees'))
  const params = frequent((r) => r.params, 5, ['strategy', 'fast', 'slow', 'symbols'])
  const count = options.childCount
  const header = [...(options.compare ? [''] : []), 'run', 'status', 'experiment', 'started', 'duration', ...(count === undefined ? [] : ['child runs']), ...params.map((p) => `params.${p}`), ...metrics.map((m) => `metrics.${m}`)]
  return scroll(table(
    header,
    runs.map((r) => [
      ...(options.compare ? [raw(`<input type="checkbox" name="runs" value="${attr(r.info.runId)}" aria-label="compare ${attr(r.info.runId)}">`)] : []),
      link(`/runs/${seg(r.info.runId)}`, r.info.name || r.info.runId),
      raw(`<span class="status-${esc(r.info.status)}">${esc(r.info.status)}</span>${lifecycleOf(r) === 'deleted' ? ' (deleted)' : ''}`),
      r.info.experimentId,
      fmtTime(r.info.startTime),
      fmtDuration(r.info.endTime === undefined ? undefined : r.info.endTime - r.info.startTime),
      ...(count === undefined ? [] : [count(r) === 0 ? '' : link(`/runs/${seg(r.info.runId)}`, String(count(r)))]),
      ...params.map((p) => r.params[p]),
      ...metrics.map((m) => r.metrics[m]?.value),
    ]),
  ))
}

/** A deleted run's page says so first: when, why, with which parent, and how to bring it back. */
export function deletedBanner(run: RunSummary): string {
  if (lifecycleOf(run) !== 'deleted') return ''
  const time = Number(run.tags[DELETED_TIME_TAG])
  const reason = run.tags[DELETE_REASON_TAG] ?? ''
  const parent = run.tags[DELETED_WITH_TAG] ?? ''
  const id = run.info.runId
  const when = run.tags[DELETED_TIME_TAG] !== undefined && Number.isFinite(time) ? ` ${esc(fmtTime(time))} UTC` : ''
  const how = [parent === '' ? '' : `with its parent ${link(`/runs/${seg(parent)}`, parent).html}`, reason === '' ? '' : `reason: ${esc(reason)}`].filter((t) => t !== '').join('; ')
  return `<div class="error-box" role="status">deleted${when}${how === '' ? '' : ` (${how})`} — restore with <code>mtflow runs restore ${esc(id)}</code>. Searches and the runs list leave it out; mtflow runs gc removes it for good.</div>`
}

