// The compare page: runs side by side.

import type { Hono } from 'hono'
import { page, pageHtml, sendPage, type PageContext } from './layout.js'
import { ConfigError } from '../core/index.js'
import { link, runComparisonHtml } from '../report/index.js'

export function comparePageRoutes(app: Hono, ctx: PageContext): void {
  const { tracker, pageCache } = ctx
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

}
