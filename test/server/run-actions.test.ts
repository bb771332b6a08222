// Deleting and restoring runs from the browser (lib/server/run-actions.ts) over a real socket: with the
// login cookie, the run page's CSRF token and this server's Origin a run is deleted (303 back to its page,
// gone from /runs, listed by /runs?lifecycle=deleted, its page saying deleted with the reason) and restored
// (back in /runs); deleting a sweep parent takes its children along and restoring brings them back; the
// runs list's "Delete…" posts the ticked runs to a confirmation page whose form deletes them. And every
// refusal, none of them changing anything: no token 401, a missing or wrong CSRF token, a foreign Origin or
// none at all 403, a missing or too long reason 400, an unknown run 404, deleting a deleted run 400.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseHTML } from 'linkedom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cookieName, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { lifecycleOf, Tracker } from '../../lib/track/index.js'

const HOSTILE = '<img src=x onerror=alert(1)>'

let home: string
let server: Listening
let tracker: Tracker
let cookie: string
const ids = {} as Record<'a' | 'b' | 'c' | 'sweep' | 'k1' | 'k2' | 'hostile', string>

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-run-actions-'))
  tracker = new Tracker(home)
  const make = (name: string, parent?: string) => {
    const run = tracker.startRun({ experiment: 'life', name, parentRunId: parent })
    run.end()
    return run.id
  }
  ids.a = make('alpha')
  ids.b = make('beta')
  ids.c = make('gamma')
  ids.sweep = make('sweep')
  ids.k1 = make('kid-1', ids.sweep)
  ids.k2 = make('kid-2', ids.sweep)
  ids.hostile = make(HOSTILE)
  server = await startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' })
  cookie = `${cookieName(`127.0.0.1:${server.port}`)}=${encodeURIComponent(workspaceToken(home))}`
})
afterAll(async () => {
  await server?.close()
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

async function get(path: string, headers: Record<string, string> = { cookie }): Promise<{ status: number; text: string; headers: Headers; doc: any }> {
  const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html', ...headers }, redirect: 'manual' })
  const text = await res.text()
  return { status: res.status, text, headers: res.headers, doc: parseHTML(text).document }
}

/** The CSRF token in a run page's form. */
async function csrfOf(id: string): Promise<string> {
  const page = await get(`/runs/${id}`)
  const m = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(page.text)
  expect(m, 'the run page carries a CSRF field').not.toBeNull()
  return m![1]!
}

/** A form POST as a browser sends it from a page of this server (cookie, Origin), with overrides. */
async function post(path: string, fields: [string, string][], headers: Record<string, string | undefined> = {}): Promise<{ status: number; text: string; location: string | null; doc: any }> {
  const h: Record<string, string> = { cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete h[k]
    else h[k] = v
  }
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: h, body: new URLSearchParams(fields).toString(), redirect: 'manual' })
  const text = await res.text()
  return { status: res.status, text, location: res.headers.get('location'), doc: parseHTML(text).document }
}

const listed = async (path = '/runs?experiment=life') => [...(await get(path)).doc.querySelectorAll('table.runs tbody tr[data-run]')].map((tr: any) => tr.getAttribute('data-run'))
const state = (id: string) => lifecycleOf(tracker.getRun(id))

describe('delete and restore from a run page', () => {
  it('the page carries the delete form with a required reason of at most 500 characters, and referrer-policy same-origin', async () => {
    const page = await get(`/runs/${ids.a}`)
    expect(page.headers.get('referrer-policy')).toBe('same-origin')
    const form = page.doc.querySelector('form[data-run-action=delete]')
    expect(form.getAttribute('method')).toBe('post')
    expect(form.getAttribute('action')).toBe('/runs/actions/delete')
    expect(form.querySelector('input[name=runs]').getAttribute('value')).toBe(ids.a)
    const reason = form.querySelector('input[name=reason]')
    expect(reason.hasAttribute('required')).toBe(true)
    expect(reason.getAttribute('maxlength')).toBe('500')
    // The token is per cookie: a Bearer client's page has no token field (and needs none).
    const bearer = await get(`/runs/${ids.a}`, { authorization: `Bearer ${workspaceToken(home)}` })
    expect(bearer.doc.querySelector('form[data-run-action=delete] input[name=csrf]')).toBeNull()
  })

  it('deletes with cookie + CSRF: 303 back, gone from /runs, listed as deleted, its page says so with the reason; restore brings it back', async () => {
    expect(await listed()).toContain(ids.a)
    const csrf = await csrfOf(ids.a)
    // The page just cached (csrfOf fetched it): the page the 303 lands on at once must be rendered afresh.
    const r = await post('/runs/actions/delete', [['csrf', csrf], ['runs', ids.a], ['reason', `stale data ${HOSTILE}`]])
    expect(r.status).toBe(303)
    expect(r.location).toBe(`/runs/${ids.a}`)
    // The run page now says deleted, with the reason escaped, and offers Restore.
    const page = await get(`/runs/${ids.a}`)
    expect(state(ids.a)).toBe('deleted')
    expect(await listed()).not.toContain(ids.a)
    expect(await listed('/runs?experiment=life&lifecycle=deleted')).toEqual([ids.a])
    const banner = page.doc.querySelector('[data-deleted-banner]')
    expect(banner.textContent).toContain(`reason: stale data ${HOSTILE}`)
    expect(page.text).not.toContain(HOSTILE)
    expect(banner.querySelector('a[href="/runs?lifecycle=deleted"]')).not.toBeNull()
    expect(page.doc.querySelector('form[data-run-action=delete]')).toBeNull()
    const restore = page.doc.querySelector('form[data-run-action=restore]')
    expect(restore.getAttribute('action')).toBe('/runs/actions/restore')
    const back = await post('/runs/actions/restore', [['csrf', restore.querySelector('input[name=csrf]').getAttribute('value')], ['runs', ids.a]])
    expect(back.status).toBe(303)
    expect(back.location).toBe(`/runs/${ids.a}`)
    expect(state(ids.a)).toBe('active')
    expect(await listed()).toContain(ids.a)
    expect((await get(`/runs/${ids.a}`)).doc.querySelector('[data-deleted-banner]')).toBeNull()
  })

  it('deleting a sweep parent deletes its two children; restoring it brings all three back', async () => {
    const csrf = await csrfOf(ids.sweep)
    expect((await get(`/runs/${ids.sweep}`)).doc.querySelector('form[data-run-action=delete] legend').textContent).toBe('Delete this run and its 2 active child run(s)')
    expect((await post('/runs/actions/delete', [['csrf', csrf], ['runs', ids.sweep], ['reason', 'wrong grid']])).status).toBe(303)
    expect([ids.sweep, ids.k1, ids.k2].map(state)).toEqual(['deleted', 'deleted', 'deleted'])
    expect(tracker.getRun(ids.k1).tags['mtflow.deletedWith']).toBe(ids.sweep)
    expect((await post('/runs/actions/restore', [['csrf', csrf], ['runs', ids.sweep]])).status).toBe(303)
    expect([ids.sweep, ids.k1, ids.k2].map(state)).toEqual(['active', 'active', 'active'])
  })

  it('works with the Bearer token alone (no cookie, no CSRF token)', async () => {
    const r = await post('/runs/actions/delete', [['runs', ids.c], ['reason', 'api client']], { cookie: undefined, origin: undefined, authorization: `Bearer ${workspaceToken(home)}` })
    expect(r.status).toBe(303)
    expect(state(ids.c)).toBe('deleted')
    expect((await post('/runs/actions/restore', [['runs', ids.c]], { cookie: undefined, origin: undefined, authorization: `Bearer ${workspaceToken(home)}` })).status).toBe(303)
    expect(state(ids.c)).toBe('active')
  })
})

describe('refusals change nothing', () => {
  it('each refusal has its status and message; the run stays active', async () => {
    const csrf = await csrfOf(ids.b)
    const ok: [string, string][] = [['csrf', csrf], ['runs', ids.b], ['reason', 'why not']]
    const without = (name: string) => ok.filter(([k]) => k !== name)
    const cases: [string, [string, string][], Record<string, string | undefined>, number, RegExp][] = [
      ['no token', ok, { cookie: undefined }, 401, /./],
      ['no CSRF token', without('csrf'), {}, 403, /no CSRF token/],
      ['a wrong CSRF token', [...without('csrf'), ['csrf', `${csrf.slice(0, -2)}xx`]], {}, 403, /not this server's/],
      ['a cross-origin POST', ok, { origin: 'http://evil.example' }, 403, /./],
      ['no Origin nor Referer', ok, { origin: undefined }, 403, /not sent from a page of this server/],
      ['a foreign Referer without Origin', ok, { origin: undefined, referer: 'http://evil.example/x' }, 403, /not sent from a page of this server/],
      ['no reason', without('reason'), {}, 400, /^reason: a reason for deleting or restoring \(it is kept on the run\) is required/],
      ['a blank reason', [...without('reason'), ['reason', '   ']], {}, 400, /^reason: a reason/],
      ['a reason of 501 characters', [...without('reason'), ['reason', 'x'.repeat(501)]], {}, 400, /^reason: at most 500 characters \(received 501\)/],
      ['no runs', without('runs'), {}, 400, /^runs: tick one or more runs/],
      ['an unknown run', [...without('runs'), ['runs', 'nosuchrun']], {}, 404, /nosuchrun/],
      ['a hostile run id', [...without('runs'), ['runs', HOSTILE]], {}, 404, /unknown run/],
      ['a form not urlencoded', ok, { 'content-type': 'text/plain' }, 400, /must be sent as a form/],
    ]
    for (const [what, fields, headers, status, message] of cases) {
      const r = await post('/runs/actions/delete', fields, headers)
      expect(r.status, what).toBe(status)
      if (status !== 401 && headers.origin !== 'http://evil.example') expect(r.doc.querySelector('.error-box').textContent, what).toMatch(message)
      expect(r.text, what).not.toContain(HOSTILE)
      expect(state(ids.b), what).toBe('active')
    }
    // A Referer of this server stands in for a missing Origin (a same-origin referrer policy sends it).
    const viaReferer = await post('/runs/actions/delete', ok, { origin: undefined, referer: `${server.url}/runs/${ids.b}` })
    expect(viaReferer.status).toBe(303)
    expect(state(ids.b)).toBe('deleted')
    // Deleting it again: 400 naming the run; restoring an active run: 400; an unknown action: 404.
    const again = await post('/runs/actions/delete', ok)
    expect(again.status).toBe(400)
    expect(again.doc.querySelector('.error-box').textContent).toMatch(new RegExp(`^run ${ids.b} is already deleted`))
    expect((await post('/runs/actions/restore', [['csrf', csrf], ['runs', ids.b]])).status).toBe(303)
    const active = await post('/runs/actions/restore', [['csrf', csrf], ['runs', ids.b]])
    expect(active.status).toBe(400)
    expect(active.doc.querySelector('.error-box').textContent).toMatch(/is not deleted; nothing to restore/)
    expect((await post('/runs/actions/purge', ok)).status).toBe(404)
    expect(state(ids.b)).toBe('active')
  })
})

describe('deleting ticked runs from the runs list', () => {
  it('the compare bar posts the ticked runs to a confirmation page; its form deletes them together and goes back to /runs', async () => {
    const list = await get('/runs?experiment=life')
    // Its POST must carry this page's Origin: the list's referrer policy is same-origin (the site's default sends "null").
    expect(list.headers.get('referrer-policy')).toBe('same-origin')
    const button = list.doc.querySelector('form.compare [data-delete-button]')
    expect([button.getAttribute('formmethod'), button.getAttribute('formaction')]).toEqual(['post', '/runs/actions/confirm-delete'])
    const confirm = await post('/runs/actions/confirm-delete', [['runs', ids.b], ['runs', ids.c]])
    expect(confirm.status).toBe(200)
    expect(confirm.doc.querySelector('h1').textContent).toBe('Delete 2 run(s)?')
    // Nothing changed yet; the form carries both ids, the CSRF token and a required reason.
    expect([state(ids.b), state(ids.c)]).toEqual(['active', 'active'])
    const form = confirm.doc.querySelector('form[data-run-action=delete]')
    const fields: [string, string][] = [...form.querySelectorAll('input[type=hidden]')].map((i: any) => [i.getAttribute('name'), i.getAttribute('value')])
    expect(fields.filter(([k]) => k === 'runs').map(([, v]) => v)).toEqual([ids.b, ids.c])
    expect(form.querySelector('input[name=reason]').hasAttribute('required')).toBe(true)
    const r = await post('/runs/actions/delete', [...fields, ['reason', 'both bad']])
    expect(r.status).toBe(303)
    expect(r.location).toBe('/runs')
    expect([state(ids.b), state(ids.c)]).toEqual(['deleted', 'deleted'])
    const left = await listed()
    expect(left).not.toContain(ids.b)
    expect(left).not.toContain(ids.c)
    expect(await listed('/runs?experiment=life&lifecycle=deleted&sort=name&dir=asc')).toEqual([ids.b, ids.c])
    // Ticked in /runs?lifecycle=all with a deleted run beside an active one: the deleted one is listed, not sent,
    // so the delete goes through for the other (sending it too refused the whole change).
    const mixed = await post('/runs/actions/confirm-delete', [['runs', ids.b], ['runs', ids.hostile]])
    expect(mixed.doc.querySelector('h1').textContent).toBe('Delete 1 run(s)?')
    expect(mixed.text).toContain('(deleted already)')
    const mixedForm = mixed.doc.querySelector('form[data-run-action=delete]')
    const mixedFields: [string, string][] = [...mixedForm.querySelectorAll('input[type=hidden]')].map((i: any) => [i.getAttribute('name'), i.getAttribute('value')])
    expect(mixedFields.filter(([k]) => k === 'runs').map(([, v]) => v)).toEqual([ids.hostile])
    expect((await post('/runs/actions/delete', [...mixedFields, ['reason', 'the other one']])).status).toBe(303)
    expect(state(ids.hostile)).toBe('deleted')
    // Only deleted runs ticked: no form at all.
    const none = await post('/runs/actions/confirm-delete', [['runs', ids.b]])
    expect(none.doc.querySelector('form[data-run-action=delete]')).toBeNull()
    expect(none.text).toContain('nothing to delete')
    expect((await post('/runs/actions/restore', [...mixedFields.filter(([k]) => k === 'csrf'), ['runs', ids.hostile]])).status).toBe(303)
    // Without ticked runs, or with an unknown one, the confirmation is refused.
    // A hostile run name stays text on the confirmation page; 1,001 runs at once are refused.
    const named = await post('/runs/actions/confirm-delete', [['runs', ids.hostile]])
    expect(named.status).toBe(200)
    expect(named.text).not.toContain(HOSTILE)
    expect(named.doc.querySelector('main li a').textContent).toBe(HOSTILE)
    expect(named.doc.querySelectorAll('main img').length).toBe(0)
    const many = await post('/runs/actions/confirm-delete', Array.from({ length: 1001 }, (_, i) => ['runs', `r${i}`] as [string, string]))
    expect(many.status).toBe(400)
    expect(many.doc.querySelector('.error-box').textContent).toMatch(/^runs: at most 1000 at once \(received 1001\)/)
    expect((await post('/runs/actions/confirm-delete', [])).status).toBe(400)
    expect((await post('/runs/actions/confirm-delete', [['runs', 'nosuchrun']])).status).toBe(404)
    expect((await post('/runs/actions/confirm-delete', [['runs', ids.b]], { origin: 'http://evil.example' })).status).toBe(403)
  })
})
