// The frame every HTML page of `mtflow serve` shares: the navigation, the CSP it goes out under, and the
// helpers that send a page.

import type { Context } from 'hono'
import { htmlDocument } from '../report/index.js'
import type { Registry, Tracker } from '../track/index.js'
import type { Listings } from './listings.js'
import type { PageCache } from './page-cache.js'

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

export function pageHtml(title: string, body: string, active: string): string {
  const nav = NAV.map(([href, label]) => `<a href="${href}"${href === active ? ' class="active"' : ''}>${label}</a>`).join('')
  const header = `<header class="site"><a class="brand" href="/">mtflow</a><nav>${nav}</nav></header>`
  return htmlDocument({ title: `${title} · mtflow`, header, body })
}

/** A page that reloads itself every 5 s (no script: the CSP allows none) while `on`. */
export function refreshing(html: string, on: boolean): string {
  return on ? html.replace('<head>', '<head><meta http-equiv="refresh" content="5">') : html
}

export function sendPage(c: Context, html: string | Buffer, status = 200): Response {
  c.header('content-security-policy', PAGE_CSP)
  if (typeof html === 'string') return c.html(html, status as 200)
  return c.body(new Uint8Array(html.buffer, html.byteOffset, html.byteLength), status as 200, { 'content-type': 'text/html; charset=UTF-8' })
}

export function page(c: Context, title: string, body: string, active: string, status = 200): Response {
  return sendPage(c, pageHtml(title, body, active), status)
}

export function scroll(html: string): string {
  return `<div class="scroll">${html}</div>`
}
