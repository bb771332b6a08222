// The compare page: runs side by side, equity rebased to 1.0 (or % return, or amounts: ?rebase=1|pct|raw).

import type { Hono } from 'hono'
import { page, pageHtml, sendPage, type PageContext } from './layout.js'
import { ConfigError } from '../core/index.js'
import { esc, link, REBASES, runComparisonHtml, type Rebase } from '../report/index.js'

export function comparePageRoutes(app: Hono, ctx: PageContext): void {
  const { tracker, pageCache } = ctx
  app.get('/compare', (c) => {
    const ids = (c.req.queries('runs') ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '')
    if (ids.length === 0) {
      return page(c, 'Compare', `<h1>Compare runs</h1><p class="muted">Pick runs on the ${link('/runs', 'runs page').html} (tick them and press Compare), or open /compare?runs=ID,ID.</p>`, '/compare')
    }
    if (ids.length > 50) throw new ConfigError(`compare at most 50 runs at once (received ${ids.length})`)
    // Equity rebased to 1.0 (default), as % return, or raw amounts: a bad value is a 400 page naming the parameter.
    const rebase = c.req.query('rebase') ?? '1'
    if (!(REBASES as readonly string[]).includes(rebase)) {
      return page(c, 'Bad request', `<h1>Bad request</h1><p role="alert" class="error-box">${esc(`rebase must be 1, pct or raw (received ${JSON.stringify(rebase.slice(0, 40))})`)}</p>`, '/compare', 400)
    }
    const stampOf = () => ids.map((id) => tracker.runStamp(id)).join('|')
    const key = `compare:${rebase}:${ids.join(',')}`
    const hit = pageCache.get(key, stampOf)
    if (hit !== undefined) return sendPage(c, hit)
    const stamp = stampOf()
    const { html } = runComparisonHtml(tracker, ids, { rebase: rebase as Rebase })
    return sendPage(c, pageCache.set(key, stamp, pageHtml('Compare runs', `<h1>Compare ${ids.length} run(s)</h1>${html}`, '/compare')))
  })

}
