// The frame every HTML page of `mtflow serve` shares: the navigation, the script bundle and icon, the CSP it
// goes out under, and the helpers that send a page. Pages work without JavaScript; the bundle
// (assets.ts, served from this origin) only enhances them, and the CSP allows no other script.

import { withoutHome as coreWithoutHome } from '../core/index.js'
import type { Context } from 'hono'
import { attr, esc, htmlDocument } from '../report/index.js'
import { assetBundle } from './assets.js'
import type { Registry, Tracker } from '../track/index.js'
import type { Listings } from './listings.js'
import { sendCached, type CachedAnswer, type PageCache } from './page-cache.js'

/**
 * Scripts: this server's bundle only ('self': no inline script, no handler attributes, no javascript: URLs,
 * nothing from elsewhere); fetches: this server only (the runs table's folded child rows).
 */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

const NAV: [string, string][] = [
  ['/', 'Home'],
  ['/runs', 'Runs'],
  ['/compare', 'Compare'],
  ['/registry', 'Registry'],
  ['/dashboards', 'Dashboards'],
  ['/deployments', 'Deployments'],
  ['/monitoring', 'Monitoring'],
]

/** What the page modules share: the tracker, the registry, the cached listings, and the two page caches. */
export interface PageContext {
  tracker: Tracker
  registry: Registry
  listings: Listings
  /** Pages keyed by a run's (or runs') file fingerprints. */
  pageCache: PageCache
  /** Pages made from the listings (home, runs, registry), valid while the listings' stamps are unchanged. */
  listingCache: PageCache
}

/** The site's header: the brand and the navigation (`active` marked), and an optional note (escaped) at its end. */
export function siteHeader(active: string, note?: string): string {
  const nav = NAV.map(([href, label]) => `<a href="${href}"${href === active ? ' class="active" aria-current="page"' : ''}>${label}</a>`).join('')
  return `<header class="site"><a class="brand" href="/">mtflow</a><nav>${nav}</nav>${note === undefined ? '' : `<span class="muted site-note">${esc(note)}</span>`}</header>`
}

/** What every page's head links: the icon and the script bundle (deferred: it runs once the page is parsed). */
export function headLinks(): string {
  return `<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml"><script src="${attr(assetBundle().scriptUrl)}" defer></script>`
}

export function pageHtml(title: string, body: string, active: string): string {
  return htmlDocument({ title: `${title} · mtflow`, header: siteHeader(active), body, head: headLinks() })
}

/**
 * A published dashboard (a standalone document of lib/report/dashboard.ts) framed as a page of the site:
 * the site's header right after <body> in place of the dashboard's own (which names no pages), and the
 * head links. A document without a <head> or <body> (older or hand-made versions) gets what it can.
 */
export function framedDocument(html: string, active: string, note: string): string {
  const header = siteHeader(active, note)
  const head = /<\/head\s*>/i.exec(html)
  const out = head === null ? html : `${html.slice(0, head.index)}${headLinks()}${html.slice(head.index)}`
  const links = head === null ? headLinks() : ''
  const body = /<body\b[^>]*>/i.exec(out)
  if (body === null) {
    // No <body> tag (the parser opens one at the first content): after the doctype, which must stay first.
    const doctype = /^\s*<!doctype[^>]*>/i.exec(out)?.[0] ?? ''
    return `${doctype}${links}${header}${out.slice(doctype.length)}`
  }
  const at = body.index + body[0].length
  // The dashboard's own header (brand + "dashboard: NAME"), as dashboardDocument writes it, is replaced.
  const own = /^\s*<header class="site">(?:(?!<\/header>)[\s\S]){0,2000}<\/header>/.exec(out.slice(at))
  return `${out.slice(0, at)}${links}${header}${out.slice(at + (own === null ? 0 : own[0].length))}`
}

/** A page that reloads itself every 5 s (a meta refresh: it works without script too) while `on`. */
export function refreshing(html: string, on: boolean): string {
  return on ? html.replace('<head>', '<head><meta http-equiv="refresh" content="5">') : html
}

/**
 * A published dashboard's policy: the page's (no inline script: only the app's own bundle runs), in a
 * sandbox that allows that script and keeps the origin (its links and the site header's open pages with
 * the login cookie; an opaque origin sent none, and every link out of a dashboard met the login page), and
 * nothing else: no forms, no popups. A dashboard is HTML anyone with the token published: one that set its
 * own referrer policy posted a form to the API with this server's Origin and moved a strategy's champion
 * alias (second attack review).
 */
export const DASHBOARD_CSP = `${PAGE_CSP}; sandbox allow-scripts allow-same-origin`

export function sendPage(c: Context, html: string | CachedAnswer, status = 200, csp = PAGE_CSP): Response {
  c.header('content-security-policy', csp)
  if (typeof html === 'string') return c.html(html, status as 200)
  return sendCached(c, html, status, 'text/html; charset=UTF-8')
}

export function page(c: Context, title: string, body: string, active: string, status = 200): Response {
  return sendPage(c, pageHtml(title, body, active), status)
}

export function scroll(html: string): string {
  return `<div class="scroll">${html}</div>`
}

/**
 * A message for a client with the workspace's place on disk written $MTFLOW_HOME: the server tells no client
 * where the workspace is (error bodies, and the pages that show an error: a run's missing artifact, a refused
 * change). lib/core's rule, which the tracker and the scheduler also apply to the errors they record.
 */
export function withoutHome(message: string, home: string): string {
  return coreWithoutHome(message, home)
}
