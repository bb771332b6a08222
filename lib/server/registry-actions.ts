// Registry changes from the browser: the forms of a registry entry's page (set, move or remove an alias, a
// model's stage, retire or restore a version) and the POST routes they send to. Each change asks for a
// reason and lands in the entry's audit log (its user: the account the server runs as). Who may post: the
// token, as for every request (access.ts); a browser's cookie also needs this page's CSRF token (an HMAC of
// the cookie under a secret of this server process) and an Origin or Referer of this server. Every answer is
// a page: a 303 back to the entry on success, else a 400/403/404 page saying what was wrong.

import type { Context, Hono } from 'hono'
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { ConfigError, NotFoundError } from '../core/index.js'
import { attr, esc, link, seg } from '../report/index.js'
import { MODEL_STAGES, REGISTRY_KINDS, singular, type ModelStage, type RegistryEntry, type RegistryKind } from '../track/index.js'
import { cookieName, readCookie } from './access.js'
import { page, withoutHome, type PageContext } from './layout.js'

/** The longest reason accepted (characters). */
export const REASON_MAX = 500

/** The hidden field that carries the CSRF token. */
export const CSRF_FIELD = 'csrf'

/** One secret per page context (one per app): tokens from another server, or an earlier start, do not match. */
const secrets = new WeakMap<PageContext, Buffer>()

function secretOf(ctx: PageContext): Buffer {
  let secret = secrets.get(ctx)
  if (secret === undefined) {
    secret = randomBytes(32)
    secrets.set(ctx, secret)
  }
  return secret
}

/** The login cookie this request carries (access.ts checked it is the token, or a Bearer header got it in). */
function loginCookie(c: Context): { name: string; value: string } | undefined {
  const name = cookieName(c.req.header('host'))
  const value = readCookie(c.req.header('cookie'), name)
  return value === undefined ? undefined : { name, value }
}

/** The CSRF token of this request's cookie ("" without one: a Bearer client's forms need none). */
export function csrfToken(ctx: PageContext, c: Context): string {
  const cookie = loginCookie(c)
  if (cookie === undefined) return ''
  return createHmac('sha256', secretOf(ctx)).update(`${cookie.name}\0${cookie.value}`).digest('base64url')
}

/**
 * Why a change may not go ahead, or undefined when it may. Without a cookie the request came in with the
 * Bearer token (access.ts let nothing else through), which a browser never adds on its own. With a cookie:
 * the request must come from a page of this server (Origin, else Referer: access.ts already refused another
 * Origin) and carry the page's CSRF token.
 */
export function forgery(ctx: PageContext, c: Context, form: Record<string, unknown>): string | undefined {
  const expected = csrfToken(ctx, c)
  if (expected === '') return undefined
  const host = c.req.header('host') ?? ''
  const origin = c.req.header('origin')
  const referer = c.req.header('referer')
  const ownUrl = (value: string) => {
    try {
      const u = new URL(value)
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.host.toLowerCase() === host.toLowerCase()
    } catch {
      return false
    }
  }
  if (origin !== undefined ? !ownUrl(origin) : referer === undefined || !ownUrl(referer)) return 'the form was not sent from a page of this server (no Origin or Referer of this server)'
  const given = form[CSRF_FIELD]
  if (typeof given !== 'string' || given === '') return 'the form has no CSRF token: reload the page and send it again'
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  if (a.length !== b.length || !timingSafeEqual(a, b)) return 'the form\'s CSRF token is not this server\'s (it may have restarted): reload the page and send it again'
  return undefined
}

/** A 400, 403 or 404 page from a refusal of a page's form (registry and run actions): the field or thing named in its message. */
export class FormError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 403 | 404,
  ) {
    super(message)
  }
}

function field(form: Record<string, unknown>, name: string, what: string): string {
  const value = form[name]
  if (typeof value !== 'string' || value.trim() === '') throw new FormError(`${name}: ${what} is required`, 400)
  return value.trim()
}

/** A form's `reason`: required, at most REASON_MAX characters, no control characters (it is kept in a log). */
export function reasonOf(form: Record<string, unknown>, what = 'a reason for the change (it is kept in the audit log)'): string {
  const reason = field(form, 'reason', what)
  if (reason.length > REASON_MAX) throw new FormError(`reason: at most ${REASON_MAX} characters (received ${reason.length})`, 400)
  if (/[\0-\x08\x0b-\x1f\x7f]/.test(reason)) throw new FormError('reason: control characters are not allowed', 400)
  return reason
}

function versionOf(form: Record<string, unknown>): number {
  const text = field(form, 'version', 'a version number')
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new FormError(`version: expected a version number ≥ 1 (received ${JSON.stringify(text.slice(0, 40))})`, 400)
  return Number(text)
}

function kindOf(value: string): RegistryKind {
  if (!(REGISTRY_KINDS as readonly string[]).includes(value)) throw new FormError(`registry kind must be one of ${REGISTRY_KINDS.join(', ')}`, 404)
  return value as RegistryKind
}

type Action = 'alias' | 'unalias' | 'stage' | 'retire' | 'restore'
const ACTIONS: readonly Action[] = ['alias', 'unalias', 'stage', 'retire', 'restore']

/** POST /registry/KIND/NAME/actions/ACTION (form-encoded): the changes the entry page's forms make. */
export function registryActionRoutes(app: Hono, ctx: PageContext): void {
  const { registry } = ctx
  app.post('/registry/:kind/:name/actions/:action', async (c) => {
    const back = `/registry/${seg(c.req.param('kind'))}/${seg(c.req.param('name'))}`
    try {
      const action = c.req.param('action') as Action
      if (!ACTIONS.includes(action)) throw new FormError(`no registry action ${JSON.stringify(action.slice(0, 40))} (actions: ${ACTIONS.join(', ')})`, 404)
      const kind = kindOf(c.req.param('kind'))
      const name = c.req.param('name')
      const form = await formOf(c)
      const refused = forgery(ctx, c, form)
      if (refused !== undefined) throw new FormError(refused, 403)
      // The entry first: an unknown name is a 404 before any field is judged.
      registry.entry(kind, name)
      const reason = reasonOf(form)
      if (action === 'alias') registry.setAlias(kind, name, field(form, 'alias', 'an alias name'), versionOf(form), reason)
      else if (action === 'unalias') registry.deleteAlias(kind, name, field(form, 'alias', 'the alias to remove'), reason)
      else if (action === 'stage') {
        if (kind !== 'models') throw new FormError(`stage: only models have stages (this is a ${singular(kind)})`, 400)
        const stage = field(form, 'stage', `a stage (${MODEL_STAGES.join(', ')})`)
        if (!(MODEL_STAGES as readonly string[]).includes(stage)) throw new FormError(`stage: expected one of ${MODEL_STAGES.join(', ')} (received ${JSON.stringify(stage.slice(0, 40))})`, 400)
        registry.transitionStage(name, versionOf(form), stage as ModelStage, { reason, archiveExisting: form.archiveExisting === 'on' || form.archiveExisting === 'true' })
      } else if (action === 'retire') registry.retire(kind, name, versionOf(form), reason)
      else registry.restore(kind, name, versionOf(form), reason)
      return c.redirect(back, 303)
    } catch (error) {
      return refusedPage(c, error, { back, backLabel: 'Back to the registry entry', title: 'Registry change refused', active: '/registry', home: registry.home })
    }
  })
}

/** A POST's form fields (repeated ones as arrays), or a 400 when it was not sent as a form. */
export async function formOf(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header('content-type') ?? ''
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) throw new FormError('the change must be sent as a form (application/x-www-form-urlencoded)', 400)
  return (await c.req.parseBody({ all: true })) as Record<string, unknown>
}

/**
 * The page answering a refused form (registry and run actions): the status of the refusal (FormError's own,
 * 404 for a NotFoundError, 400 for a ConfigError), the first line of its message (500 characters at most) and
 * a link back. Any other error is rethrown (a 500).
 */
export function refusedPage(c: Context, error: unknown, where: { back: string; backLabel: string; title: string; active: string; home: string }): Response {
  const status = error instanceof FormError ? error.status : error instanceof NotFoundError ? 404 : error instanceof ConfigError ? 400 : undefined
  if (status === undefined) throw error
  const first = withoutHome((error as Error).message.split('\n')[0] ?? '', where.home)
  const message = first.length > 500 ? `${first.slice(0, 500)}…` : first
  const body = `<h1>The change was not made</h1><p class="error-box" role="alert">${esc(message)}</p><p>${link(where.back, where.backLabel).html}</p>`
  return page(c, where.title, body, where.active, status)
}

/**
 * The forms of an entry's page: alias (set or move), remove an alias, stage (models), retire, restore — each
 * with a required reason. `csrf` is csrfToken's value for the request the page is made for.
 */
export function registryActionForms(entry: RegistryEntry, csrf: string): string {
  const base = `/registry/${seg(entry.kind)}/${seg(entry.name)}/actions`
  const hidden = csrf === '' ? '' : `<input type="hidden" name="${CSRF_FIELD}" value="${attr(csrf)}">`
  const reason = `<label>reason <input name="reason" required maxlength="${REASON_MAX}" size="40" placeholder="why (kept in the audit log)"></label>`
  const options = (versions: number[], label = (n: number) => `v${n}`) => versions.map((n) => `<option value="${n}">${esc(label(n))}</option>`).join('')
  const active = entry.versions.filter((v) => v.status === 'active').map((v) => v.version).reverse()
  const retired = entry.versions.filter((v) => v.status === 'retired').map((v) => v.version).reverse()
  const aliases = Object.entries(entry.aliases)
  const form = (action: Action, title: string, inner: string, submit: string, confirm?: string) =>
    `<form class="registry-action" method="post" action="${attr(`${base}/${action}`)}" data-registry-action="${action}"${confirm === undefined ? '' : ` data-confirm="${attr(confirm)}"`}>${hidden}<fieldset><legend>${esc(title)}</legend>${inner} ${reason} <button type="submit">${esc(submit)}</button></fieldset></form>`
  const forms: string[] = []
  if (active.length > 0) {
    forms.push(
      form(
        'alias',
        'Set or move an alias',
        `<label>alias <input name="alias" required maxlength="40" pattern="[a-z][a-z0-9_\\-]{0,39}" size="14" placeholder="champion"${aliases.length > 0 ? ' list="registry-aliases"' : ''}></label> <label>version <select name="version">${options(active)}</select></label>`,
        'Set alias',
      ),
    )
  }
  if (aliases.length > 0) {
    forms.push(`<datalist id="registry-aliases">${aliases.map(([a]) => `<option value="${attr(a)}">`).join('')}</datalist>`)
    forms.push(form('unalias', 'Remove an alias', `<label>alias <select name="alias">${aliases.map(([a, n]) => `<option value="${attr(a)}">${esc(`${a} → v${n}`)}</option>`).join('')}</select></label>`, 'Remove alias', 'Remove this alias?'))
  }
  if (entry.kind === 'models' && entry.versions.length > 0) {
    const all = entry.versions.map((v) => v.version).reverse()
    forms.push(
      form(
        'stage',
        'Set a model version\'s stage',
        `<label>version <select name="version">${options(all)}</select></label> <label>stage <select name="stage">${MODEL_STAGES.map((s) => `<option>${esc(s)}</option>`).join('')}</select></label> <label><input type="checkbox" name="archiveExisting"> archive the versions now in that stage</label>`,
        'Set stage',
      ),
    )
  }
  if (active.length > 0) forms.push(form('retire', 'Retire a version', `<label>version <select name="version">${options(active)}</select></label>`, 'Retire', 'Retire this version?'))
  if (retired.length > 0) forms.push(form('restore', 'Restore a retired version', `<label>version <select name="version">${options(retired)}</select></label>`, 'Restore'))
  if (forms.length === 0) return ''
  return `<h2>Change</h2><style>${ACTION_CSS}</style><div class="registry-actions">${forms.join('\n')}</div>`
}

const ACTION_CSS = `.registry-actions fieldset { border: 1px solid var(--line, #d9dde5); margin: .5em 0; padding: .4em .8em; }
.registry-actions legend { font-weight: 600; }
.registry-actions label { white-space: nowrap; margin-right: .6em; }
.registry-actions input[name=reason] { max-width: 100%; }`
