// Deleting and restoring runs from the browser (soft delete, lib/track/lifecycle.ts, as `mtflow runs
// delete|restore` does: a parent takes its child runs along, a restore brings back those deleted with it).
// A run's page has a "Delete run" form (a reason is required) or, once deleted, "Restore"; the runs list's
// compare bar has "Delete…", which posts the ticked runs to a confirmation page listing them with a reason
// field. Who may post, as for the registry's forms (registry-actions.ts): the token; a browser's login
// cookie also needs the page's CSRF token and an Origin or Referer of this server. Every answer is a page:
// a 303 back on success, else a 400/403/404 page saying what was wrong.

import type { Context, Hono } from 'hono'
import { attr, esc, link, seg } from '../report/index.js'
import { checkRunIds, lifecycleOf, type RunSummary } from '../track/index.js'
import { page, type PageContext } from './layout.js'
import { CSRF_FIELD, csrfToken, forgery, FormError, formOf, REASON_MAX, reasonOf as formReason, refusedPage } from './registry-actions.js'

/** The reason of a delete or restore (kept on the run's tags). */
const reasonOf = (form: Record<string, unknown>) => formReason(form, 'a reason for deleting or restoring (it is kept on the run)')

/** Runs one delete may name at most (a list page's worth, and more). */
const MAX_RUNS = 1000


/** The run ids a form names (`runs`, one or more): each a run id, or a 404 naming it. */
function runIdsOf(form: Record<string, unknown>): string[] {
  const value = form.runs
  const list = (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v) => v !== '')
  if (list.length === 0) throw new FormError('runs: tick one or more runs', 400)
  if (list.length > MAX_RUNS) throw new FormError(`runs: at most ${MAX_RUNS} at once (received ${list.length})`, 400)
  if (list.some((v) => typeof v !== 'string')) throw new FormError('runs: expected run ids', 400)
  return checkRunIds(list)
}

/** Where a change goes back to: the run's page for one run, the runs list (`back=list`) for several. */
function backOf(form: Record<string, unknown>, ids: readonly string[]): string {
  if (form.back === 'list' || ids.length !== 1) return '/runs'
  return `/runs/${seg(ids[0]!)}`
}

function refused(c: Context, error: unknown, back: string, home: string): Response {
  return refusedPage(c, error, { back, backLabel: back === '/runs' ? 'Back to the runs' : 'Back to the run', title: 'Run change refused', active: '/runs', home })
}

function hidden(csrf: string): string {
  return csrf === '' ? '' : `<input type="hidden" name="${CSRF_FIELD}" value="${attr(csrf)}">`
}

function reasonField(): string {
  return `<label>reason <input name="reason" required maxlength="${REASON_MAX}" size="40" placeholder="why (kept on the run)"></label>`
}

/** POST /runs/actions/delete, /runs/actions/restore and /runs/actions/confirm-delete (form-encoded). */
export function runActionRoutes(app: Hono, ctx: PageContext): void {
  const { tracker, listings } = ctx
  // The runs list's "Delete…": the ticked runs, their active child runs counted, and the form that deletes them.
  app.post('/runs/actions/confirm-delete', async (c) => {
    try {
      const form = await formOf(c)
      const ids = runIdsOf(form)
      const runs = ids.map((id) => tracker.getRun(id))
      const listing = listings.runs()
      const rows = runs
        .map((r) => {
          const kids = listing.activeChildren.get(r.info.runId) ?? 0
          const state = lifecycleOf(r) === 'deleted' ? ' (deleted already)' : kids === 0 ? '' : ` and its ${kids} active child run(s)`
          return `<li>${link(`/runs/${seg(r.info.runId)}`, r.info.name || r.info.runId).html} <span class="muted">${esc(r.info.runId)}${esc(state)}</span></li>`
        })
        .join('')
      const csrf = csrfToken(ctx, c)
      c.header('referrer-policy', 'same-origin')
      // Runs deleted already are listed but not sent: deleting them again would refuse the whole change.
      const active = runs.filter((r) => lifecycleOf(r) !== 'deleted').map((r) => r.info.runId)
      const form_ =
        active.length === 0
          ? '<p class="muted">Every ticked run is deleted already: nothing to delete.</p>'
          : `<form class="run-action" method="post" action="/runs/actions/delete" data-run-action="delete">${hidden(csrf)}${active.map((id) => `<input type="hidden" name="runs" value="${attr(id)}">`).join('')}<input type="hidden" name="back" value="list"><fieldset><legend>Delete these runs</legend>${reasonField()} <button type="submit">Delete ${active.length} run(s)</button></fieldset></form>`
      const body = `<h1>Delete ${active.length} run(s)?</h1><p>A deleted run leaves the runs list and searches; its page says it is deleted and restores it. Child runs go with their parent.</p><ul>${rows}</ul>
${form_}
<p>${link('/runs', 'Cancel: back to the runs').html}</p>`
      return page(c, 'Delete runs', body, '/runs')
    } catch (error) {
      return refused(c, error, '/runs', tracker.home)
    }
  })
  app.post('/runs/actions/:action', async (c) => {
    let back = '/runs'
    try {
      const action = c.req.param('action')
      if (action !== 'delete' && action !== 'restore') throw new FormError(`no run action ${JSON.stringify(action.slice(0, 40))} (actions: delete, restore)`, 404)
      const form = await formOf(c)
      const refused = forgery(ctx, c, form)
      if (refused !== undefined) throw new FormError(refused, 403)
      const ids = runIdsOf(form)
      back = backOf(form, ids)
      // Every run first: an unknown id is a 404 before the reason is judged.
      for (const id of ids) tracker.getRun(id)
      try {
        if (action === 'delete') tracker.deleteRuns(ids, { reason: reasonOf(form) })
        else tracker.restoreRuns(ids)
      } finally {
        // The page cache takes a run's stamp again only every 100 ms and the browser is back sooner: every
        // cached page checks it on its next request (even after a refusal: a half-made change is seen).
        ctx.pageCache.revalidate()
      }
      return c.redirect(back, 303)
    } catch (error) {
      return refused(c, error, back, tracker.home)
    }
  })
}

/** The compare bar's second button: the ticked runs to the confirmation page (which asks the reason). */
export function runsDeleteButton(): string {
  return '<button type="submit" formmethod="post" formaction="/runs/actions/confirm-delete" data-delete-button>Delete…</button>'
}

/**
 * A run's page: "Delete run" (with its reason) while active, "Restore" once deleted. `csrf` is csrfToken's
 * value for the request the page is made for (the page's cache key must hold it).
 */
export function runActionForm(run: RunSummary, csrf: string, activeChildren: number): string {
  const id = run.info.runId
  const runs = `<input type="hidden" name="runs" value="${attr(id)}">`
  if (lifecycleOf(run) === 'deleted') {
    return `<form class="run-action" method="post" action="/runs/actions/restore" data-run-action="restore">${hidden(csrf)}${runs}<button type="submit">Restore</button> <span class="muted">brings it back to the runs list, with the child runs deleted with it</span></form>`
  }
  const kids = activeChildren === 0 ? '' : ` and its ${activeChildren} active child run(s)`
  return `<details class="run-action"><summary>Delete run</summary><form method="post" action="/runs/actions/delete" data-run-action="delete">${hidden(csrf)}${runs}<fieldset><legend>Delete this run${esc(kids)}</legend>${reasonField()} <button type="submit">Delete run</button></fieldset></form></details>`
}
