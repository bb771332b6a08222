// The runs list of `mtflow serve` (/runs): the top-level runs a page at a time (each sweep one row with its
// count of child runs), or a search; sortable by any column (server side, over the whole view), columns
// chosen by `cols`, the view as CSV (/runs.csv), a sweep's child rows as a fragment (/runs/ID/children);
// and the runs table the other pages share. Everything works without JavaScript; assets/runs.js enhances it.

import type { Context, Hono } from 'hono'
import { page, pageHtml, scroll, sendPage, PAGE_CSP, type PageContext } from './layout.js'
import { ConfigError, csvText, NotFoundError, ownValue, preview } from '../core/index.js'
import { attr, esc, fmtDuration, fmtMetric, fmtNumber, fmtTime, Html, HEADLINE_METRICS, link, metricRank, raw, seg, type Cell } from '../report/index.js'
import { checkLifecycleView, DELETE_REASON_TAG, DELETED_TIME_TAG, DELETED_WITH_TAG, FilterError, lifecycleOf, MAX_RESULTS, searchReadsClock, searchRuns, type LifecycleView, type RunSummary, type Tracker } from '../track/index.js'
import { runActionRoutes, runsDeleteButton } from './run-actions.js'
import { PAGE_HEADER, queryKey } from './page-cache.js'
import { newestFirst, pageAfter, pageSorted, sortView, type RunListing, type SortDir, type SortedView, type SortValue } from './listings.js'

/** Top-level runs per page of /runs (children are counted, and listed on their parent's page). */
const RUNS_PAGE = 100
/** Rows a CSV export holds at most (the rest is left out, and the file name and a header say so). */
export const CSV_CAP = 100_000
/** Child rows one fold shows at most (the parent's page and a search list them all). */
const CHILD_ROWS = 1000
/** Keys per kind the column chooser offers. */
const CHOOSER_KEYS = 200
/** Extra columns a view shows at most (more are cut to the first ones, with a note). */
export const MAX_COLUMNS = 60

/** The columns every runs list has, by their `sort` name, and their headings. */
const BASE_COLUMNS: Record<string, string> = { name: 'run', status: 'status', experiment: 'experiment', started: 'started', duration: 'duration', children: 'child runs' }
/** Numbers sort largest first on a first click; names, params and tags A to Z. */
const DESC_FIRST = /^(started|duration|children|metrics\..*)$/s
const KEY_COLUMN = /^(params|metrics|tags)\.(.{1,200})$/s

/** What a /runs URL asks for, checked once (a ConfigError names the bad parameter). */
export interface RunsQuery {
  filter: string
  orderBy: string[]
  experiment: string[]
  pageToken?: string
  cursor?: string
  sort?: { column: string; dir: SortDir }
  /** Extra columns (params.X, metrics.X, tags.X); undefined: the most frequent ones of the page. */
  cols?: string[]
  /** How many chosen columns past MAX_COLUMNS were left out (the page says so). */
  colsDropped?: number
  /** Active runs (the default), deleted ones, or all: anything but active is a search. */
  lifecycle?: LifecycleView
}

export function parseRunsQuery(q: Record<string, string[]>): RunsQuery {
  const one = (name: string) => q[name]?.[0]
  const out: RunsQuery = {
    filter: one('filter') ?? '',
    orderBy: (q.order_by ?? []).filter((s) => s.trim() !== ''),
    experiment: (q.experiment ?? []).filter((s) => s !== ''),
  }
  const pageToken = one('page_token')
  if (pageToken !== undefined) out.pageToken = pageToken
  const cursor = one('cursor')
  if (cursor !== undefined) out.cursor = cursor
  const sort = one('sort')
  const dir = one('dir')
  if (sort !== undefined && sort !== '') {
    if (BASE_COLUMNS[sort] === undefined && !KEY_COLUMN.test(sort)) {
      throw new ConfigError(`sort: no column ${preview(sort, 80)} (expected one of ${Object.keys(BASE_COLUMNS).join(', ')}, or params.NAME, metrics.NAME, tags.NAME)`)
    }
    if (dir !== undefined && dir !== '' && dir !== 'asc' && dir !== 'desc') throw new ConfigError(`dir: expected asc or desc (received ${preview(dir, 40)})`)
    out.sort = { column: sort, dir: dir === 'asc' || dir === 'desc' ? dir : DESC_FIRST.test(sort) ? 'desc' : 'asc' }
  } else if (dir !== undefined && dir !== '') throw new ConfigError(`dir: given without sort (sort=COLUMN&dir=${preview(dir, 40)})`)
  if (q.cols !== undefined) {
    const cols = [...new Set(q.cols.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== ''))]
    const bad = cols.find((c) => !KEY_COLUMN.test(c))
    if (bad !== undefined) throw new ConfigError(`cols: ${preview(bad, 80)} is not a column (expected params.NAME, metrics.NAME or tags.NAME, comma-separated)`)
    // More than a page can hold (a remembered choice, a hand-made URL): the first ones, and a note, not a refusal.
    out.cols = cols.slice(0, MAX_COLUMNS)
    if (cols.length > MAX_COLUMNS) out.colsDropped = cols.length - MAX_COLUMNS
  }
  const lifecycle = one('lifecycle')
  if (lifecycle !== undefined && lifecycle !== '' && lifecycle !== 'active') {
    try {
      out.lifecycle = checkLifecycleView(lifecycle)
    } catch {
      throw new ConfigError(`lifecycle: expected active, deleted or all (received ${preview(lifecycle, 40)})`)
    }
  }
  return out
}

/** A run's value in a column (what the sort orders by). A running run has no duration yet. */
export function columnValue(column: string, listing: Pick<RunListing, 'activeChildren'>): (r: RunSummary) => SortValue {
  switch (column) {
    case 'name':
      return (r) => r.info.name || r.info.runId
    case 'status':
      return (r) => r.info.status
    case 'experiment':
      return (r) => r.info.experimentId
    case 'started':
      return (r) => r.info.startTime
    case 'duration':
      return (r) => (r.info.endTime === undefined ? undefined : r.info.endTime - r.info.startTime)
    case 'children':
      return (r) => listing.activeChildren.get(r.info.runId) ?? 0
  }
  const m = KEY_COLUMN.exec(column)!
  const name = m[2]!
  if (m[1] === 'metrics') return (r) => ownValue(r.metrics, name)?.value
  if (m[1] === 'params') return (r) => ownValue(r.params, name)
  return (r) => ownValue(r.tags, name)
}

/** The URL of this view with some parameters changed (undefined or '' removes one); paging starts over. */
function viewHref(path: string, q: RunsQuery, change: { sort?: { column: string; dir: SortDir } | null; cols?: string[] | null; cursor?: string; pageToken?: string }): string {
  const p: [string, string][] = []
  if (q.filter !== '') p.push(['filter', q.filter])
  const sort = change.sort === undefined ? q.sort : (change.sort ?? undefined)
  // A sort chosen by a header replaces the search's order_by (it would be ignored beside it).
  if (sort === undefined || change.sort === undefined) for (const o of q.orderBy) p.push(['order_by', o])
  for (const e of q.experiment) p.push(['experiment', e])
  if (sort !== undefined) p.push(['sort', sort.column], ['dir', sort.dir])
  const cols = change.cols === undefined ? q.cols : (change.cols ?? undefined)
  if (cols !== undefined) p.push(['cols', cols.join(',')])
  if (change.cursor !== undefined) p.push(['cursor', change.cursor])
  if (change.pageToken !== undefined) p.push(['page_token', change.pageToken])
  if (q.lifecycle !== undefined) p.push(['lifecycle', q.lifecycle])
  const search = new URLSearchParams(p).toString()
  return search === '' ? path : `${path}?${search}`
}

/** Every run a search matches, in its order (pages of MAX_RESULTS; at most `cap`). */
function allMatches(tracker: Tracker, q: RunsQuery, cap: number): { runs: RunSummary[]; total: number } {
  const runs: RunSummary[] = []
  let pageToken: string | undefined
  let total = 0
  do {
    const result = searchRuns(tracker, { filter: q.filter, orderBy: q.orderBy, experiments: q.experiment.length === 0 ? undefined : q.experiment, maxResults: Math.min(MAX_RESULTS, Math.max(1, cap - runs.length)), pageToken, lifecycle: q.lifecycle })
    total = result.total
    for (const r of result.runs) runs.push(r)
    pageToken = result.nextPageToken
  } while (pageToken !== undefined && runs.length < cap)
  return { runs, total }
}

function searched(q: RunsQuery): boolean {
  return q.filter.trim() !== '' || q.orderBy.length > 0 || q.pageToken !== undefined || q.lifecycle !== undefined
}

/** The top-level runs of the scope, newest first (as the unsearched list pages them). */
function scopedTop(tracker: Tracker, listing: RunListing, experiment: readonly string[]): readonly RunSummary[] {
  if (experiment.length === 0) return listing.top
  const ids = [...new Set(experiment.map((e) => tracker.getExperiment(e).id))]
  if (ids.length === 1) return listing.topByExperiment.get(ids[0]!) ?? []
  // Several experiments: a run whose active parent is in one of them is listed on the parent's page.
  const inScope = new Set(ids)
  const parentShown = (r: RunSummary) => {
    const parent = r.info.parentRunId === undefined ? undefined : listing.activeRuns.get(r.info.parentRunId)
    return parent !== undefined && inScope.has(parent.info.experimentId)
  }
  return ids.flatMap((id) => listing.topByExperiment.get(id) ?? []).filter((r) => !parentShown(r)).sort(newestFirst)
}

export function runsListRoutes(app: Hono, ctx: PageContext): void {
  const { tracker, listings, listingCache } = ctx
  // POST /runs/actions/…: delete and restore (declared here, beside the list whose bar posts to them).
  runActionRoutes(app, ctx)
  // Sorted views by listing stamp and query: paging through one sorts it once (a few kept; a new stamp clears them).
  const sortedViews = new Map<string, SortedView>()
  const sortedView = (listing: RunListing, key: string, make: () => SortedView): SortedView => {
    const full = `${listing.stamp}\n${key}`
    const hit = sortedViews.get(full)
    if (hit !== undefined) return hit
    for (const k of sortedViews.keys()) if (!k.startsWith(`${listing.stamp}\n`) || sortedViews.size >= 8) sortedViews.delete(k)
    const view = make()
    sortedViews.set(full, view)
    return view
  }

  /** The whole view (every row, in order) for a sorted page or an export: unsearched, the scope's top-level runs. */
  const wholeView = (q: RunsQuery, listing: RunListing, cap: number): { runs: readonly RunSummary[]; total: number } => {
    if (!searched(q)) {
      const runs = scopedTop(tracker, listing, q.experiment)
      return { runs, total: runs.length }
    }
    return allMatches(tracker, { ...q, pageToken: undefined }, cap)
  }

  app.get('/runs', (c) => {
    // Its compare bar posts "Delete…": the POST must carry this page's Origin (no-referrer, the site's default, sends "null").
    c.header('referrer-policy', 'same-origin')
    let q: RunsQuery
    const bare: RunsQuery = { filter: c.req.query('filter') ?? '', orderBy: [], experiment: (c.req.queries('experiment') ?? []).filter((e) => e !== '') }
    try {
      q = parseRunsQuery(c.req.queries())
    } catch (error) {
      return refused(c, bare, error, '')
    }
    const listing = listings.runs()
    // The whole query is the key (filter, order_by, experiment, cursor, page_token, sort, dir, cols), in any order.
    const key = `runs:${queryKey(c.req.queries())}`
    const hit = listingCache.get(key, () => listing.stamp)
    c.header(PAGE_HEADER, hit === undefined ? 'rendered' : 'cached')
    if (hit !== undefined) return sendPage(c, hit)
    const scope = `${q.lifecycle === 'deleted' ? ': deleted' : q.lifecycle === 'all' ? ': active and deleted' : ''}${q.experiment.length === 0 ? '' : ` in ${esc(q.experiment.join(', '))}`}`
    const isSearch = searched(q)
    // A search that reads the clock (a RUNNING run's duration) is not kept while a run is RUNNING.
    const live = isSearch && listing.running.length > 0 && searchReadsClock(q.filter, q.orderBy)
    if (q.sort !== undefined && q.pageToken !== undefined) return refused(c, q, new ConfigError('page_token pages a search in its own order; a sorted view pages with cursor (follow its "next page" link)'), '')
    if (!isSearch && q.pageToken !== undefined) return refused(c, q, new ConfigError('page_token pages a search; the runs list pages with cursor'), '')
    if (isSearch && q.sort === undefined && q.cursor !== undefined) return refused(c, q, new ConfigError('cursor pages the runs list without a search, or a sorted view; a search pages with page_token'), '')
    const childCount = isSearch ? undefined : (r: RunSummary) => listing.activeChildren.get(r.info.runId) ?? 0
    let shown: RunSummary[]
    let next: string | undefined
    let viewRuns: readonly RunSummary[] | undefined
    let about: string
    try {
      if (q.sort !== undefined) {
        const { column, dir } = q.sort
        // The whole view is searched only when the sorted one is not kept already (never kept when `live`).
        const make = () => sortView(wholeView(q, listing, Number.MAX_SAFE_INTEGER).runs, columnValue(column, listing), dir)
        const view = live ? make() : sortedView(listing, `${new URLSearchParams([['lifecycle', q.lifecycle ?? 'active'], ['filter', q.filter], ...q.orderBy.map((o) => ['order_by', o]), ...q.experiment.map((e) => ['experiment', e]), ['sort', column], ['dir', dir]] as [string, string][])}`, make)
        const paged = pageSorted(view, column, dir, q.cursor, RUNS_PAGE)
        shown = paged.runs
        next = paged.next === undefined ? undefined : viewHref('/runs', q, { cursor: paged.next })
        viewRuns = view.runs
        about = isSearch ? `${view.runs.length} run(s) match; ${shown.length} shown, sorted by ${esc(column)} (${dir}).` : `${view.runs.length} top-level run(s); ${shown.length} shown, sorted by ${esc(column)} (${dir}).`
      } else if (!isSearch) {
        const scoped = scopedTop(tracker, listing, q.experiment)
        const paged = pageAfter(scoped, q.cursor, RUNS_PAGE)
        shown = paged.runs
        next = paged.next === undefined ? undefined : viewHref('/runs', q, { cursor: paged.next })
        viewRuns = scoped
        const total = q.experiment.length === 0 ? listing.active : [...new Set(q.experiment.map((e) => tracker.getExperiment(e).id))].reduce((n, id) => n + (listing.activeCounts.get(id) ?? 0), 0)
        about = `${scoped.length} top-level run(s) of ${total} active in all; ${shown.length} shown, newest first.`
      } else {
        const result = searchRuns(tracker, { filter: q.filter, orderBy: q.orderBy, experiments: q.experiment.length === 0 ? undefined : q.experiment, maxResults: RUNS_PAGE, pageToken: q.pageToken, lifecycle: q.lifecycle })
        shown = result.runs
        next = result.nextPageToken === undefined ? undefined : viewHref('/runs', q, { pageToken: result.nextPageToken })
        about = `${result.total} run(s) match; ${shown.length} shown.`
      }
    } catch (error) {
      return refused(c, q, error, error instanceof FilterError ? q.filter : '')
    }
    const columns = q.cols ?? frequentColumns(shown)
    const exportHref = viewHref('/runs.csv', q, { cols: columns })
    const total = viewRuns?.length
    const exportNote = total !== undefined && total > CSV_CAP ? ` (the first ${CSV_CAP.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows)` : ''
    const hint = isSearch ? 'Tick runs and press Compare; a header sorts by its column.' : 'A sweep or study is one row: its count of child runs opens them. A filter searches every run. Tick runs and press Compare; a header sorts by its column.'
    const dropped = q.colsDropped === undefined ? '' : `<p class="note" role="status" data-cols-dropped="${q.colsDropped}">${MAX_COLUMNS} columns at most: the first ${MAX_COLUMNS} chosen are shown, ${q.colsDropped} left out. ${link(viewHref('/runs', q, { cols: null }), 'Reset to the default view').html}</p>`
    const lifecycleLinks = lifecycleNav(q)
    const body = `<h1>Runs${scope}</h1>${searchForm(q)}${dropped}
<div class="runs-tools"><p class="muted">${about} ${hint} ${lifecycleLinks}</p>${columnChooser(q, viewRuns ?? shown, columns)}<a class="export" href="${attr(exportHref)}" download>Export CSV${esc(exportNote)}</a></div>
<form class="compare" method="get" action="/compare"><div class="compare-bar"><button type="submit" data-compare-button>Compare</button> <span class="muted" data-compare-hint>tick two or more runs</span>${q.lifecycle === 'deleted' ? '' : ` ${runsDeleteButton()}`}</div>
${runsTable(shown, { compare: true, childCount, columns, sorted: q.sort, sortHref: (column) => viewHref('/runs', q, { sort: nextSort(q, column) }), scope: q.experiment.join(',') })}</form>${next === undefined ? '' : `<p>${link(next, 'next page →').html}</p>`}`
    const html = pageHtml('Runs', body, '/runs')
    return sendPage(c, live ? html : listingCache.set(key, listing.stamp, html))
  })

  // The view as CSV: every row (not one page), the page's columns, at most CSV_CAP rows.
  app.get('/runs.csv', (c) => {
    const q = parseRunsQuery(c.req.queries())
    const listing = listings.runs()
    // Sorted: every match sorted, then cut (the first CSV_CAP of the view /runs shows, not of the search's order).
    const whole = wholeView(q, listing, q.sort === undefined ? CSV_CAP : Number.MAX_SAFE_INTEGER)
    const runs = q.sort === undefined ? whole.runs : sortView(whole.runs, columnValue(q.sort.column, listing), q.sort.dir).runs
    const rows = runs.slice(0, CSV_CAP)
    const total = Math.max(whole.total, runs.length)
    const columns = q.cols ?? frequentColumns(rows)
    const children = !searched(q)
    const csv = runsCsv(rows, columns, children ? (r) => listing.activeChildren.get(r.info.runId) ?? 0 : undefined)
    const cut = total > rows.length
    c.header('content-type', 'text/csv; charset=utf-8')
    c.header('content-disposition', `attachment; filename="${cut ? `runs-first-${rows.length}-of-${total}.csv` : 'runs.csv'}"`)
    c.header('x-mtflow-rows', `${rows.length} of ${total}${cut ? `: capped at ${CSV_CAP}, narrow the filter for the rest` : ''}`)
    c.header('cache-control', 'no-store')
    return c.body(csv)
  })

  // A run's active child runs as rows of the /runs table (`fragment=1`: the <tr>s alone, for the fold), or as a page.
  app.get('/runs/:id/children', (c) => {
    const id = c.req.param('id')
    const q = parseRunsQuery(c.req.queries())
    const listing = listings.runs()
    const parent = listing.activeRuns.get(id) ?? listing.all.find((r) => r.info.runId === id)
    if (parent === undefined) throw new NotFoundError(`no run ${preview(id, 80)}`)
    const kids = (listing.children.get(parent.info.runId) ?? []).filter((r) => lifecycleOf(r) === 'active')
    const ordered = q.sort === undefined ? kids : sortView(kids, columnValue(q.sort.column, listing), q.sort.dir).runs
    const rows = ordered.slice(0, CHILD_ROWS)
    const columns = q.cols ?? frequentColumns(rows)
    const childCount = (r: RunSummary) => listing.activeChildren.get(r.info.runId) ?? 0
    const more = ordered.length > rows.length ? ordered.length - rows.length : 0
    if (c.req.query('fragment') === '1') {
      const width = 7 + columns.length
      const tail = more === 0 ? '' : `<tr class="child-row more" data-parent="${attr(parent.info.runId)}"><td colspan="${width}">${more} more: ${link(`/runs?${new URLSearchParams([['filter', `attributes.parent_run_id = "${parent.info.runId}"`]]).toString()}`, 'search them').html}</td></tr>`
      c.header('content-security-policy', PAGE_CSP)
      c.header('cache-control', 'no-store')
      return c.html(`${runRows(rows, { compare: true, childCount, columns, parent: parent.info.runId })}${tail}`)
    }
    const title = `Child runs of ${parent.info.name || parent.info.runId}`
    const body = `<h1>${esc(title)}</h1><p class="muted">${ordered.length} active child run(s)${more === 0 ? '' : `, ${rows.length} shown`}; ${link(`/runs/${seg(parent.info.runId)}`, 'the parent run').html}.</p>
<form class="compare" method="get" action="/compare"><div class="compare-bar"><button type="submit" data-compare-button>Compare</button> <span class="muted" data-compare-hint>tick two or more runs</span></div>${runsTable(rows, { compare: true, childCount, columns, sorted: q.sort, sortHref: (column) => viewHref(`/runs/${seg(parent.info.runId)}/children`, q, { sort: nextSort(q, column) }) })}</form>`
    return page(c, title, body, '/runs')
  })
}

/** A header's sort: the other direction when its column is sorted now, else its first direction. */
function nextSort(q: RunsQuery, column: string): { column: string; dir: SortDir } {
  if (q.sort?.column === column) return { column, dir: q.sort.dir === 'asc' ? 'desc' : 'asc' }
  return { column, dir: DESC_FIRST.test(column) ? 'desc' : 'asc' }
}

/** Links between the active runs and the deleted ones (of the same scope and columns). */
function lifecycleNav(q: RunsQuery): string {
  const to = (lifecycle: LifecycleView | undefined, label: string) => link(viewHref('/runs', { ...q, lifecycle }, {}), label).html
  if (q.lifecycle === 'deleted') return `Deleted runs only (a run's page restores it): ${to(undefined, 'the active runs')} · ${to('all', 'active and deleted')}.`
  if (q.lifecycle === 'all') return `Active and deleted runs: ${to(undefined, 'the active runs only')} · ${to('deleted', 'the deleted runs only')}.`
  return `${to('deleted', 'Deleted runs')} (restore them from their pages).`
}

function searchForm(q: RunsQuery): string {
  const keep = [
    ...q.experiment.map((e) => ['experiment', e]),
    ...(q.lifecycle === undefined ? [] : [['lifecycle', q.lifecycle]]),
    ...(q.sort === undefined ? [] : [['sort', q.sort.column], ['dir', q.sort.dir]]),
    ...(q.cols === undefined ? [] : [['cols', q.cols.join(',')]]),
  ]
  return `<form class="search" method="get" action="/runs" data-runs-filter>
<input type="text" name="filter" value="${attr(q.filter)}" placeholder='metrics.sharpe > 1 and (params.fast = "10" or tags.mtflow.kind = "sweep")' aria-label="filter">
<input type="text" name="order_by" value="${attr(q.orderBy[0] ?? '')}" placeholder="metrics.sharpe desc" aria-label="order by" style="width: 14em">
${keep.map(([k, v]) => `<input type="hidden" name="${attr(k)}" value="${attr(v)}">`).join('')}
<button type="submit">Search</button></form>`
}

function refused(c: Context, q: RunsQuery, error: unknown, shown: string): Response {
  if (!(error instanceof FilterError) && !(error instanceof ConfigError)) throw error
  const position = error instanceof FilterError ? error.position : undefined
  const caret = position === undefined ? '' : `\n${shown}\n${' '.repeat(Math.max(0, position))}^`
  // A way out whatever caused it (a remembered column choice included: runs.js forgets it on this page).
  const reset = viewHref('/runs', { filter: '', orderBy: [], experiment: q.experiment }, {})
  const scope = q.experiment.join(',') || '*'
  return page(c, 'Runs', `<h1>Runs</h1>${searchForm(q)}<div class="error-box" role="alert" data-runs-error data-scope="${attr(scope)}">${esc(error.message)}${esc(caret)}</div><p><a href="${attr(reset)}" data-cols-reset data-scope="${attr(scope)}">Reset to the default view</a> (no filter, sort or chosen columns).</p>`, '/runs', 400)
}

/** Each kind's keys over a view's runs (CHOOSER_KEYS a kind at most), kept per runs array: a cached sorted view or listing is walked once, not per page. */
const viewKeyCache = new WeakMap<readonly RunSummary[], Map<string, readonly string[]>>()

function viewKeys(runs: readonly RunSummary[]): Map<string, readonly string[]> {
  let keys = viewKeyCache.get(runs)
  if (keys !== undefined) return keys
  keys = new Map()
  for (const [kind, pick] of [['params', (r: RunSummary) => r.params], ['metrics', (r: RunSummary) => r.metrics], ['tags', (r: RunSummary) => r.tags]] as const) {
    const found = new Set<string>()
    for (const r of runs) {
      for (const k of Object.keys(pick(r))) found.add(k)
      if (found.size >= CHOOSER_KEYS) break
    }
    keys.set(kind, [...found])
  }
  viewKeyCache.set(runs, keys)
  return keys
}

/**
 * The column chooser: every params/metrics/tags key the view's runs have (a form of checkboxes: it works
 * without script; runs.js applies a tick at once and remembers the choice per experiment).
 */
function columnChooser(q: RunsQuery, runs: readonly RunSummary[], columns: readonly string[]): string {
  const kinds: [string, (r: RunSummary) => Record<string, unknown>][] = [
    ['params', (r) => r.params],
    ['metrics', (r) => r.metrics],
    ['tags', (r) => r.tags],
  ]
  const chosen = new Set(columns)
  const seen = viewKeys(runs)
  const groups = kinds.map(([kind]) => {
    const keys = new Set(seen.get(kind))
    for (const col of columns) if (col.startsWith(`${kind}.`)) keys.add(col.slice(kind.length + 1))
    const sorted = [...keys].sort()
    if (sorted.length === 0) return ''
    return `<fieldset><legend>${kind}</legend>${sorted
      .map((k) => {
        const col = `${kind}.${k}`
        return `<label><input type="checkbox" name="cols" value="${attr(col)}"${chosen.has(col) ? ' checked' : ''}> ${esc(k)}</label>`
      })
      .join('')}</fieldset>`
  })
  const keep = [...q.experiment.map((e) => ['experiment', e]), ...(q.lifecycle === undefined ? [] : [['lifecycle', q.lifecycle]]), ...(q.filter === '' ? [] : [['filter', q.filter]]), ...q.orderBy.map((o) => ['order_by', o]), ...(q.sort === undefined ? [] : [['sort', q.sort.column], ['dir', q.sort.dir]])]
  const reset = viewHref('/runs', q, { cols: null })
  return `<details class="col-chooser" data-col-chooser data-max-cols="${MAX_COLUMNS}" data-scope="${attr(q.experiment.join(',') || '*')}"><summary>Columns (${columns.length})</summary>
<form method="get" action="/runs">${keep.map(([k, v]) => `<input type="hidden" name="${attr(k)}" value="${attr(v)}">`).join('')}<input type="hidden" name="cols" value="">
${groups.join('') || '<p class="muted">These runs have no params, metrics or tags.</p>'}
<p class="muted">At most ${MAX_COLUMNS} columns.</p><p><button type="submit">Show these columns</button> ${`<a href="${attr(reset)}" data-cols-reset>the default columns</a>`}</p></form></details>`
}

/** The most common metrics and params of these runs (headline metrics first): the default extra columns. */
export function frequentColumns(runs: readonly RunSummary[]): string[] {
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
  return [...params.map((p) => `params.${p}`), ...metrics.map((m) => `metrics.${m}`)]
}

/** Metric keys in reading order: the equity and drawdown curves, then the headline metrics, then the rest. */
export function rank(key: string): number {
  if (key === 'equity') return -2
  if (key === 'drawdown') return -1
  return metricRank(key)
}

export interface RunsTableOptions {
  /** A checkbox per run (name "runs") for the compare form around the table. */
  compare: boolean
  /** A "child runs" column: the count, linking to the parent's page (runs.js folds them open in place). */
  childCount?: (r: RunSummary) => number
  /** The extra columns (params.X, metrics.X, tags.X); default: the most frequent params and metrics. */
  columns?: readonly string[]
  /** Headers that sort: the link for a column, and the column sorted now. */
  sortHref?: (column: string) => string
  sorted?: { column: string; dir: SortDir }
  /** The experiments the view is scoped to (the column chooser's memory is per scope). */
  scope?: string
}

/** Runs as a table: name, status, experiment, times, then the chosen params, metrics and tags. */
export function runsTable(runs: readonly RunSummary[], options: RunsTableOptions): string {
  if (runs.length === 0) return '<p class="muted">No runs.</p>'
  const columns = options.columns ?? frequentColumns(runs)
  const heads: [string | undefined, string][] = [
    ...(options.compare ? [[undefined, ''] as [undefined, string]] : []),
    ...(['name', 'status', 'experiment', 'started', 'duration'] as const).map((k) => [k, BASE_COLUMNS[k]!] as [string, string]),
    ...(options.childCount === undefined ? [] : [['children', BASE_COLUMNS.children!] as [string, string]]),
    ...columns.map((c) => [c, c] as [string, string]),
  ]
  const head = heads
    .map(([column, label]) => {
      if (column === undefined || options.sortHref === undefined) return `<th>${esc(label)}</th>`
      const on = options.sorted?.column === column ? options.sorted.dir : undefined
      const arrow = on === undefined ? '' : on === 'asc' ? ' ▲' : ' ▼'
      return `<th${on === undefined ? '' : ` aria-sort="${on === 'asc' ? 'ascending' : 'descending'}"`}><a class="sort" href="${attr(options.sortHref(column))}" data-sort="${attr(column)}">${esc(label)}${arrow}</a></th>`
    })
    .join('')
  const data = `data-runs-table data-cols="${attr(columns.join(','))}"${options.scope === undefined ? '' : ` data-scope="${attr(options.scope)}"`}${options.sorted === undefined ? '' : ` data-sort="${attr(options.sorted.column)}" data-dir="${options.sorted.dir}"`}`
  return scroll(`<table class="runs" ${data}><thead><tr>${head}</tr></thead><tbody>${runRows(runs, { ...options, columns })}</tbody></table>`)
}

/** The table's rows; `parent`: child rows folded open under that run. */
function runRows(runs: readonly RunSummary[], options: RunsTableOptions & { columns: readonly string[]; parent?: string }): string {
  const count = options.childCount
  return runs
    .map((r) => {
      const id = r.info.runId
      const n = count?.(r) ?? 0
      const cells: Cell[] = [
        ...(options.compare ? [raw(`<input type="checkbox" name="runs" value="${attr(id)}" aria-label="compare ${attr(r.info.name || id)}">`)] : []),
        link(`/runs/${seg(id)}`, r.info.name || id),
        raw(`<span class="status-${esc(r.info.status)}">${esc(r.info.status)}</span>${lifecycleOf(r) === 'deleted' ? ' (deleted)' : ''}`),
        r.info.experimentId,
        fmtTime(r.info.startTime),
        fmtDuration(r.info.endTime === undefined ? undefined : r.info.endTime - r.info.startTime),
      ]
      const tds = cells.map(td)
      if (count !== undefined) tds.push(n === 0 ? '<td class="num children"></td>' : `<td class="num children"><a class="child-count" href="/runs/${attr(seg(id))}">${fmtNumber(n)}</a></td>`)
      for (const col of options.columns) tds.push(col.startsWith('metrics.') ? metricTd(col.slice(8), ownValue(r.metrics, col.slice(8))?.value) : td(extraCell(r, col)))
      const attrs = `data-run="${attr(id)}"${n > 0 ? ` data-children="${n}"` : ''}${options.parent === undefined ? '' : ` class="child-row" data-parent="${attr(options.parent)}"`}`
      return `<tr ${attrs}>${tds.join('')}</tr>`
    })
    .join('')
}

function extraCell(r: RunSummary, column: string): Cell {
  const m = KEY_COLUMN.exec(column)
  if (m === null) return ''
  if (m[1] === 'metrics') return ownValue(r.metrics, m[2]!)?.value
  return m[1] === 'params' ? ownValue(r.params, m[2]!) : ownValue(r.tags, m[2]!)
}

/** A metric with its unit (0.1234 totalReturn: "12.34 %"), the full value in its title (and in /runs.csv). */
function metricTd(key: string, v: number | undefined): string {
  if (v === undefined) return '<td class="num"></td>'
  return `<td class="num" title="${attr(String(v))}">${esc(fmtMetric(key, v))}</td>`
}

function td(v: Cell): string {
  if (v instanceof Html) return `<td>${v.html}</td>`
  if (typeof v === 'number') return `<td class="num">${fmtNumber(v)}</td>`
  return `<td>${esc(v ?? '')}</td>`
}

// ---- CSV ------------------------------------------------------------------------------------------

/**
 * Runs as CSV (RFC 4180: a cell with a comma, quote or line break is quoted, quotes doubled; lines end
 * CRLF). Text cells that a spreadsheet would read as a formula (starting =, +, -, @, tab or CR) get a
 * leading ' (OWASP's CSV injection advice); numbers are written as numbers, in full precision.
 */
export function runsCsv(runs: readonly RunSummary[], columns: readonly string[], childCount?: (r: RunSummary) => number): string {
  const header = ['run_id', 'name', 'status', 'experiment', 'started', 'duration_ms', ...(childCount === undefined ? [] : ['child_runs']), ...columns]
  const lines = [header.map((h) => csvCell(h)).join(',')]
  for (const r of runs) {
    const cells: (string | number | undefined)[] = [
      r.info.runId,
      r.info.name,
      r.info.status,
      r.info.experimentId,
      Number.isFinite(r.info.startTime) ? new Date(r.info.startTime).toISOString() : '',
      r.info.endTime === undefined ? undefined : r.info.endTime - r.info.startTime,
      ...(childCount === undefined ? [] : [childCount(r)]),
      ...columns.map((col) => extraCell(r, col) as string | number | undefined),
    ]
    lines.push(cells.map((v) => csvCell(v)).join(','))
  }
  return `${lines.join('\r\n')}\r\n`
}


export function csvCell(v: string | number | undefined | null): string {
  if (v === undefined || v === null) return ''
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v)
  // A cell a spreadsheet would run as a formula is prefixed with "'"; a plain number (a param "-0.5") is not one.
  return csvText(v)
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
  return `<div class="error-box" role="status" data-deleted-banner>deleted${when}${how === '' ? '' : ` (${how})`} — restore it with the button below or <code>mtflow runs restore ${esc(id)}</code>. Searches and the runs list leave it out (${link('/runs?lifecycle=deleted', 'the deleted runs').html}); mtflow runs gc removes it for good.</div>`
}
