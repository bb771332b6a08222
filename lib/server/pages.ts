// The HTML pages of `mtflow serve`: home, runs with search, run detail, compare, the registry, executed
// notebooks and published dashboards. Every page works without JavaScript (links, GET forms, SVG charts
// rendered here); the app's one script bundle enhances them (assets.ts), under a CSP that allows that
// script and nothing inline; notebook outputs are sanitized too. The frame (navigation, CSP, sending) is
// layout.ts; each group of pages is a module of its own.

import type { Hono } from 'hono'
import { pageHtml, sendPage, type PageContext } from './layout.js'
import { esc, fmtTime, link, seg, table } from '../report/index.js'
import { type Registry, type RegistryKind, type Tracker } from '../track/index.js'
import { Listings } from './listings.js'

import { PageCache } from './page-cache.js'
import { runsListRoutes, runsTable } from './runs-pages.js'
import { runPageRoutes } from './run-page.js'
import { comparePageRoutes } from './compare-page.js'
import { publishedList, registryPageRoutes } from './registry-pages.js'

export { PAGE_CSP } from './layout.js'

export function pageRoutes(app: Hono, deps: { tracker: Tracker; registry: Registry; listings?: Listings }): void {
  const { tracker, registry } = deps
  const listings = deps.listings ?? new Listings(tracker, registry)
  const pageCache = new PageCache(64 * 2 ** 20)
  // Pages made from the listings (home, runs, registry): valid while the listings' stamps are unchanged,
  // which every request checks (listings.ts), so they are never stale.
  const listingCache = new PageCache(32 * 2 ** 20, 0)
  const ctx: PageContext = { tracker, registry, listings, pageCache, listingCache }
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
  runsListRoutes(app, ctx)
  runPageRoutes(app, ctx)
  comparePageRoutes(app, ctx)
  registryPageRoutes(app, ctx)
}
