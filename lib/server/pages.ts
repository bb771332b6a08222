// The HTML pages of `mtflow serve`: home, runs with search, run detail, compare, the registry, executed
// notebooks and published dashboards. No JavaScript: forms are plain GETs and charts are SVG rendered
// here. Every page goes out under a CSP that allows no script at all; notebook outputs are sanitized too.

import type { Context, Hono } from 'hono'
import { ConfigError, DataError, NotFoundError, preview } from '../core/index.js'
import { loadBars } from '../data/index.js'
import {
  attr,
  curveChart,
  esc,
  fmtBytes,
  fmtDuration,
  fmtTime,
  hasRunEquity,
  HEADLINE_METRICS,
  loadRunTearsheet,
  htmlDocument,
  link,
  raw,
  runComparisonHtml,
  seg,
  table,
  tearsheet,
  tearsheetHtml,
  underwater,
  type Cell,
  type TearsheetInput,
} from '../report/index.js'
import { DELETE_REASON_TAG, DELETED_TIME_TAG, DELETED_WITH_TAG, DEPLOYMENT_FILE, FilterError, lifecycleOf, REGISTRY_KINDS, searchRuns, singular, type MetricPoint, type Registry, type RegistryKind, type RegistryVersion, type RunSummary, type Tracker } from '../track/index.js'
import { renderNotebookHtml } from './notebook-html.js'
import { deploymentSnapshot, portfolioSnapshot } from '../report/portfolio-dashboard.js'
import { deploymentDashboardHtml, portfolioDashboardHtml } from '../report/portfolio-dashboard-html.js'
import { monitoringHtml, monitoringView } from './monitoring.js'
import { Listings, newestFirst, pageAfter, type RegistryListing } from './listings.js'
import { PageCache } from './page-cache.js'

export const PAGE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

const NAV: [string, string][] = [
  ['/', 'Home'],
  ['/runs', 'Runs'],
  ['/compare', 'Compare'],
  ['/registry', 'Registry'],
  ['/dashboards', 'Dashboards'],
  ['/deployments', 'Deployments'],
  ['/monitoring', 'Monitoring'],
]

/** Charts on a run page at most (the rest of the metrics are in the table). */
const MAX_CHARTS = 12

/** Child runs listed on a run's page (a sweep's first ones; the rest through the runs search it links to). */
const CHILD_ROWS = 100

/** Top-level runs per page of /runs (children are counted, and listed on their parent's page). */
const RUNS_PAGE = 100

export function pageRoutes(app: Hono, deps: { tracker: Tracker; registry: Registry; listings?: Listings }): void {
  const { tracker, registry } = deps
  const listings = deps.listings ?? new Listings(tracker, registry)
  const pageCache = new PageCache(64 * 2 ** 20)
  // Pages made from the listings (home, runs, registry): valid while the listings' stamps are unchanged,
  // which every request checks (listings.ts), so they are never stale.
  const listingCache = new PageCache(32 * 2 ** 20, 0)

  app.get('/', (c) => {
    const runs = listings.runs()
    const reg = listings.registryListing()
    const stamp = `${runs.stamp}|${reg.stamp}`
    const hit = listingCache.get('home', () => stamp)
    if (hit !== undefined) return sendPage(c, hit)
    const { experiments } = runs
    // Active top-level runs only: a sweep's hundreds of children would crowd out everything else.
    const recent = runs.top.slice(0, 10)
    const count = (kind: RegistryKind) => reg.byKind.get(kind)!.length
    const body = [
      '<h1>mtflow</h1>',
      `<div class="cards">${[
        [experiments.length, 'experiments', '/runs'],
        [runs.active, 'runs', '/runs'],
        [count('strategies'), 'strategies', '/registry/strategies'],
        [count('models'), 'models', '/registry/models'],
        [count('notebooks'), 'notebooks', '/registry/notebooks'],
        [count('dashboards'), 'dashboards', '/dashboards'],
        [count('deployments'), 'deployments', '/registry/deployments'],
      ]
        .map(([n, label, href]) => `<div class="card"><div class="big">${esc(n)}</div>${link(String(href), label).html}</div>`)
        .join('')}</div>`,
      '<h2>Experiments</h2>',
      // Active runs (as the runs list and a search count them), and the deleted ones beside them: as /api/experiments.
      experiments.length === 0
        ? '<p class="muted">No runs yet: mtflow backtest …, mtflow notebook run --track …, or npm start.</p>'
        : table(
            ['experiment', 'runs', 'deleted runs', 'created'],
            experiments.map((e) => {
              const active = runs.activeCounts.get(e.id) ?? 0
              const deleted = (runs.counts.get(e.id) ?? 0) - active
              return [link(`/runs?experiment=${seg(e.id)}`, e.name), active, deleted === 0 ? '' : deleted, fmtTime(e.createdAt)]
            }),
          ),
      '<h2>Recent runs</h2>',
      runsTable(recent, { compare: false }),
      '<h2>Published</h2>',
      publishedList(reg),
    ].join('\n')
    return sendPage(c, listingCache.set('home', stamp, pageHtml('mtflow', body, '/')))
  })

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

  app.get('/compare', (c) => {
    const ids = (c.req.queries('runs') ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '')
    if (ids.length === 0) {
      return page(c, 'Compare', `<h1>Compare runs</h1><p class="muted">Pick runs on the ${link('/runs', 'runs page').html} (tick them and press Compare), or open /compare?runs=ID,ID.</p>`, '/compare')
    }
    if (ids.length > 50) throw new ConfigError(`compare at most 50 runs at once (received ${ids.length})`)
    const stampOf = () => ids.map((id) => tracker.runStamp(id)).join('|')
    const key = `compare:${ids.join(',')}`
    const hit = pageCache.get(key, stampOf)
    if (hit !== undefined) return sendPage(c, hit)
    const stamp = stampOf()
    const { html } = runComparisonHtml(tracker, ids)
    return sendPage(c, pageCache.set(key, stamp, pageHtml('Compare runs', `<h1>Compare ${ids.length} run(s)</h1>${html}`, '/compare')))
  })

  // Registry pages from the cached registry listing, and kept as bytes until the registry changes.
  const registryPage = (c: Context, key: string, render: (reg: RegistryListing) => string) => {
    const reg = listings.registryListing()
    const hit = listingCache.get(key, () => reg.stamp)
    if (hit !== undefined) return sendPage(c, hit)
    return sendPage(c, listingCache.set(key, reg.stamp, render(reg)))
  }

  app.get('/registry', (c) =>
    registryPage(c, 'registry', (reg) => pageHtml('Registry', ['<h1>Registry</h1>', ...REGISTRY_KINDS.map((kind) => `<h2>${link(`/registry/${kind}`, kind[0]!.toUpperCase() + kind.slice(1)).html}</h2>${entriesTable(reg, kind)}`)].join('\n'), '/registry')),
  )

  app.get('/registry/:kind', (c) => {
    const kind = kindOf(c.req.param('kind'))
    return registryPage(c, `registry:${kind}`, (reg) => pageHtml(`Registry: ${kind}`, `<h1>${esc(kind[0]!.toUpperCase() + kind.slice(1))}</h1>${entriesTable(reg, kind)}`, '/registry'))
  })

  app.get('/registry/:kind/:name', (c) => {
    const kind = kindOf(c.req.param('kind'))
    const name = c.req.param('name')
    return registryPage(c, `registry:${kind}/${name}`, (reg) => entryPageHtml(registry, reg, kind, name))
  })

  const entryPageHtml = (registry: Registry, reg: RegistryListing, kind: RegistryKind, name: string): string => {
    // The listing's entry when it has one (a name it lacks is asked of the registry: a clear 404 or 400).
    const entry = reg.byKind.get(kind)!.find((e) => e.name === name) ?? registry.entry(kind, name)
    const aliasesOf = (v: RegistryVersion) => Object.entries(entry.aliases).filter(([, n]) => n === v.version).map(([a]) => a).join(', ')
    const view = (v: RegistryVersion): Cell => {
      if (kind === 'notebooks') return link(`/notebooks/${seg(entry.name)}/v/${v.version}`, 'view')
      if (kind === 'dashboards') return link(`/dashboards/${seg(entry.name)}/v/${v.version}`, 'view')
      if (kind === 'strategies') return link(`/registry/strategies/${seg(entry.name)}/v/${v.version}`, 'source')
      if (kind === 'deployments') return link(`/registry/deployments/${seg(entry.name)}/v/${v.version}`, 'config')
      return link(`/api/registry/${kind}/${seg(entry.name)}/versions/${v.version}`, 'JSON')
    }
    const rows = entry.versions.map((v): Cell[] => [
      `v${v.version}`,
      fmtTime(v.createdAt),
      v.status,
      ...(kind === 'models' ? [v.stage ?? 'None'] : []),
      aliasesOf(v),
      v.sha256.slice(0, 12),
      v.files.map((f) => `${f.name} (${fmtBytes(f.size)})`).join(', '),
      ...(kind === 'strategies' ? [v.parity === undefined ? 'not checked' : v.parity.agree ? 'agree' : 'DISAGREE'] : []),
      raw(v.runs.slice(0, 8).map((id) => link(`/runs/${seg(id)}`, id.slice(0, 8)).html).join(' ') + (v.runs.length > 8 ? ` … ${v.runs.length} in all` : '')),
      view(v),
    ])
    const header = ['version', 'created', 'status', ...(kind === 'models' ? ['stage'] : []), 'aliases', 'sha256', 'files', ...(kind === 'strategies' ? ['parity'] : []), 'runs', '']
    const audit = registry.auditLog(kind, entry.name).slice(-50).reverse()
    const body = [
      `<h1>${esc(singular(kind))}: ${esc(entry.name)}</h1>`,
      table(header, rows),
      '<h2>Audit log</h2>',
      table(
        ['time', 'user', 'action', 'version', 'from', 'to', 'reason'],
        audit.map((e) => [fmtTime(e.time), e.user, e.action + (e.alias === undefined ? '' : ` ${e.alias}`), e.version ?? '', e.from ?? '', e.to ?? '', e.reason ?? '']),
      ),
    ].join('\n')
    return pageHtml(`${singular(kind)} ${entry.name}`, body, '/registry')
  }

  app.get('/registry/strategies/:name/v/:ref', (c) => {
    const v = registry.resolve('strategies', c.req.param('name'), c.req.param('ref'))
    const file = v.files.find((f) => /^source\./.test(f.name)) ?? v.files[0]!
    const source = registry.readFile('strategies', `${v.name}@${v.version}`, file.name).toString('utf8')
    const body = `<h1>strategy ${link(`/registry/strategies/${seg(v.name)}`, v.name).html} v${v.version}</h1>
<p class="muted">${esc(file.name)} · sha256 ${esc(v.sha256)} · default params ${esc(JSON.stringify(v.params ?? {}))}</p><pre><code>${esc(source)}</code></pre>`
    return page(c, `${v.name}@${v.version}`, body, '/registry')
  })

  // A deployment version: its production config, linked to the strategy version it pins.
  app.get('/registry/deployments/:name/v/:ref', (c) => {
    const v = registry.resolve('deployments', c.req.param('name'), c.req.param('ref'))
    const text = registry.readFile('deployments', `${v.name}@${v.version}`, DEPLOYMENT_FILE).toString('utf8')
    let pinned = ''
    try {
      const s = (JSON.parse(text) as { strategy?: { name?: unknown; version?: unknown } }).strategy
      if (typeof s?.name === 'string' && Number.isSafeInteger(s.version)) pinned = ` · strategy ${link(`/registry/strategies/${seg(s.name)}/v/${String(s.version)}`, `${s.name}@${String(s.version)}`).html}`
    } catch {
      pinned = ' · not valid JSON'
    }
    const body = `<h1>deployment ${link(`/registry/deployments/${seg(v.name)}`, v.name).html} v${v.version}</h1>
<p class="muted">${esc(DEPLOYMENT_FILE)} · sha256 ${esc(v.sha256)}${pinned}</p><pre><code>${esc(text)}</code></pre>`
    return page(c, `${v.name}@${v.version}`, body, '/registry')
  })

  const notebookPage = (c: Context, name: string, ref: string) => {
    const v = registry.resolve('notebooks', name, ref)
    const file = v.files.find((f) => f.name.endsWith('.ipynb'))
    if (file === undefined) throw new ConfigError(`notebook ${v.name}@${v.version} holds no .ipynb file`)
    const notebook = parseNotebook(registry.readFile('notebooks', `${v.name}@${v.version}`, file.name).toString('utf8'), `notebook ${v.name}@${v.version}`)
    const runs = v.runs.map((id) => link(`/runs/${seg(id)}`, id.slice(0, 8)).html).join(' ')
    const body = `<h1>notebook ${link(`/registry/notebooks/${seg(v.name)}`, v.name).html} v${v.version}</h1>
<p class="muted">executed ${esc(fmtTime(v.createdAt))} UTC${v.source === undefined ? '' : ` from ${esc(v.source)}`}${runs === '' ? '' : ` · runs: ${runs}`}</p>${renderNotebookHtml(notebook)}`
    return page(c, `${v.name}@${v.version}`, body, '/registry')
  }
  app.get('/notebooks/:name', (c) => notebookPage(c, c.req.param('name'), 'latest'))
  app.get('/notebooks/:name/v/:ref', (c) => notebookPage(c, c.req.param('name'), c.req.param('ref')))

  app.get('/dashboards', (c) => registryPage(c, 'dashboards', (reg) => pageHtml('Dashboards', `<h1>Dashboards</h1>${entriesTable(reg, 'dashboards')}<p class="muted">Publish with mtflow dashboard publish NAME (run-comparison, strategy, data-coverage).</p>`, '/dashboards')))
  const dashboardPage = (c: Context, name: string, ref: string) => {
    const v = registry.resolve('dashboards', name, ref)
    const html = registry.readFile('dashboards', `${v.name}@${v.version}`, 'index.html').toString('utf8')
    c.header('content-security-policy', PAGE_CSP)
    c.header('x-mtflow-version', `${v.name}@${v.version}`)
    return c.html(html)
  }
  app.get('/dashboards/:name', (c) => dashboardPage(c, c.req.param('name'), 'latest'))
  app.get('/dashboards/:name/v/:ref', (c) => dashboardPage(c, c.req.param('name'), c.req.param('ref')))

  // The portfolio monitoring dashboard: all deployments combined, and each one (its name must be one of the
  // workspace's deployment folders: anything else is a 404). Refreshed every 5 s while a shown one runs.
  app.get('/deployments', async (c) => {
    const snapshot = await portfolioSnapshot(tracker.home)
    return sendPage(c, refreshing(pageHtml('Deployments', portfolioDashboardHtml(snapshot), '/deployments'), snapshot.active))
  })
  app.get('/deployments/:name', async (c) => {
    const snapshot = await deploymentSnapshot(tracker.home, c.req.param('name'))
    return sendPage(c, refreshing(pageHtml(`Deployment ${snapshot.name}`, deploymentDashboardHtml(snapshot), '/deployments'), snapshot.active))
  })

  // Monitors, their values and drift over time, triggers, scheduled jobs and alerts (lib/server/monitoring.ts).
  app.get('/monitoring', (c) => sendPage(c, pageHtml('Monitoring', monitoringHtml(monitoringView(tracker.home)), '/monitoring')))
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

function pageHtml(title: string, body: string, active: string): string {
  const nav = NAV.map(([href, label]) => `<a href="${href}"${href === active ? ' class="active"' : ''}>${label}</a>`).join('')
  const header = `<header class="site"><a class="brand" href="/">mtflow</a><nav>${nav}</nav></header>`
  return htmlDocument({ title: `${title} · mtflow`, header, body })
}

/** A page that reloads itself every 5 s (no script: the CSP allows none) while `on`. */
function refreshing(html: string, on: boolean): string {
  return on ? html.replace('<head>', '<head><meta http-equiv="refresh" content="5">') : html
}

function sendPage(c: Context, html: string | Buffer, status = 200): Response {
  c.header('content-security-policy', PAGE_CSP)
  if (typeof html === 'string') return c.html(html, status as 200)
  return c.body(new Uint8Array(html.buffer, html.byteOffset, html.byteLength), status as 200, { 'content-type': 'text/html; charset=UTF-8' })
}

function page(c: Context, title: string, body: string, active: string, status = 200): Response {
  return sendPage(c, pageHtml(title, body, active), status)
}

function rank(key: string): number {
  if (key === 'equity') return -2
  if (key === 'drawdown') return -1
  const i = HEADLINE_METRICS.indexOf(key)
  return i < 0 ? HEADLINE_METRICS.length : i
}

/** Runs as a table: the most common metrics and params as columns; a checkbox per run for comparing. */
function runsTable(runs: readonly RunSummary[], options: { compare: boolean; childCount?: (r: RunSummary) => number }): string {
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
function deletedBanner(run: RunSummary): string {
  if (lifecycleOf(run) !== 'deleted') return ''
  const time = Number(run.tags[DELETED_TIME_TAG])
  const reason = run.tags[DELETE_REASON_TAG] ?? ''
  const parent = run.tags[DELETED_WITH_TAG] ?? ''
  const id = run.info.runId
  const when = run.tags[DELETED_TIME_TAG] !== undefined && Number.isFinite(time) ? ` ${esc(fmtTime(time))} UTC` : ''
  const how = [parent === '' ? '' : `with its parent ${link(`/runs/${seg(parent)}`, parent).html}`, reason === '' ? '' : `reason: ${esc(reason)}`].filter((t) => t !== '').join('; ')
  return `<div class="error-box" role="status">deleted${when}${how === '' ? '' : ` (${how})`} — restore with <code>mtflow runs restore ${esc(id)}</code>. Searches and the runs list leave it out; mtflow runs gc removes it for good.</div>`
}

function scroll(html: string): string {
  return `<div class="scroll">${html}</div>`
}

function entriesTable(reg: RegistryListing, kind: RegistryKind): string {
  const entries = reg.byKind.get(kind)!
  if (entries.length === 0) return `<p class="muted">No ${esc(kind)} registered.</p>`
  return table(
    ['name', 'versions', 'latest', 'aliases', 'latest created', ''],
    entries.map((e) => {
      const last = e.versions[e.versions.length - 1]!
      const open = kind === 'notebooks' ? link(`/notebooks/${seg(e.name)}`, 'open latest') : kind === 'dashboards' ? link(`/dashboards/${seg(e.name)}`, 'open latest') : ''
      return [
        link(`/registry/${kind}/${seg(e.name)}`, e.name),
        e.versions.length,
        `v${last.version}`,
        Object.entries(e.aliases)
          .map(([a, n]) => `${a} → v${n}`)
          .join(', '),
        fmtTime(last.createdAt),
        open,
      ]
    }),
  )
}

function publishedList(reg: RegistryListing): string {
  const items = [
    ...reg.byKind.get('dashboards')!.map((e) => `<li>dashboard ${link(`/dashboards/${seg(e.name)}`, e.name).html} (${e.versions.length} version(s))</li>`),
    ...reg.byKind.get('notebooks')!.map((e) => `<li>notebook ${link(`/notebooks/${seg(e.name)}`, e.name).html} (${e.versions.length} version(s))</li>`),
  ]
  return items.length === 0 ? '<p class="muted">Nothing published yet.</p>' : `<ul>${items.join('')}</ul>`
}

function kindOf(value: string): RegistryKind {
  if (!(REGISTRY_KINDS as readonly string[]).includes(value)) throw new ConfigError(`registry kind must be one of ${REGISTRY_KINDS.join(', ')} (received ${preview(value)})`)
  return value as RegistryKind
}

function parseNotebook(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`${what} is not valid JSON`, { cause: error })
  }
}
