// Registry changes from the entry page's forms (lib/server/registry-actions.ts) over a real socket: with the
// login cookie, the page's CSRF token and this server's Origin an alias is set (303 back, the audit entry
// with its reason, the cached page shows it on the next GET); moving and removing an alias, a model's stage,
// retire and restore; and every refusal: no token 401, a wrong or missing CSRF token or a foreign or missing
// Origin 403, a missing or too long reason 400 naming the field, an unknown version 404, an unknown alias
// 404, a bad alias 400 — none of them changing anything. And the viewers of those pages: a strategy
// version's files, its source highlighted with line numbers; a model package's files, record, metadata and
// signature; a file that is not listed is a 404.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cookieName, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry } from '../../lib/track/index.js'

const SOURCE = 'export const a = 1 < 2 && "<b>"\n// second line\nexport function f() { return 3 }\n'
const PACKAGE = {
  format: 'mtflow-model',
  formatVersion: 1,
  family: 'forest',
  task: 'classification',
  signature: { inputs: [{ name: 'rsi', type: 'double' }, { name: '<script>x</script>', type: 'double', nullable: true }], output: { name: 'label', type: 'double', classes: [0, 1] } },
  model: { trees: [] },
  dataSnapshot: 'abc123',
  trainingRows: 1234,
  metrics: { accuracy: 0.61, rocAuc: 0.64 },
  createdAt: Date.UTC(2024, 4, 1),
}

let home: string
let server: Listening
let registry: Registry
let cookie: string

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-registry-actions-'))
  registry = new Registry(home)
  // A strategy with three versions (v3 retired later), a model with two.
  for (const n of [1, 2, 3]) registry.register('strategies', 'probe', { files: { 'source.ts': `export const version = ${n}\n` } })
  for (const n of [1, 2]) registry.register('models', 'clf', { files: { 'model.json': JSON.stringify({ n }) } })
  registry.register('strategies', 'viewed', { files: { 'source.ts': SOURCE, 'params.json': '{"fast":10,"slow":30}' }, params: { fast: 10, slow: 30 } })
  registry.register('models', 'pkg', { files: { 'model.json': JSON.stringify(PACKAGE), 'notes.txt': 'trained on <b>2024</b>\n', 'weights.bin': Buffer.from([0, 1, 2, 3]) }, metadata: { family: 'forest', features: ['rsi', 'atr'] }, description: 'a <i>forest</i>' })
  server = await startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' })
  cookie = `${cookieName(`127.0.0.1:${server.port}`)}=${encodeURIComponent(workspaceToken(home))}`
})
afterAll(async () => {
  await server?.close()
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

/** A browser's GET of a page with the login cookie. */
async function get(path: string, headers: Record<string, string> = { cookie }): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html', ...headers }, redirect: 'manual' })
  return { status: res.status, text: await res.text(), headers: res.headers }
}

/** The CSRF token in the entry page's forms. */
async function csrfOf(path = '/registry/strategies/probe'): Promise<string> {
  const page = await get(path)
  const m = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(page.text)
  expect(m, 'the entry page carries a CSRF field').not.toBeNull()
  return m![1]!
}

/** A form POST as a browser sends it from the entry page (cookie, Origin), with overrides. */
async function post(path: string, fields: Record<string, string>, headers: Record<string, string | undefined> = {}): Promise<{ status: number; text: string; location: string | null }> {
  const h: Record<string, string> = { cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete h[k]
    else h[k] = v
  }
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: h, body: new URLSearchParams(fields).toString(), redirect: 'manual' })
  return { status: res.status, text: await res.text(), location: res.headers.get('location') }
}

const audit = (kind: 'strategies' | 'models', name: string) => registry.auditLog(kind, name).filter((e) => e.action !== 'register')

describe('registry actions from the entry page', () => {
  it('sets an alias with the cookie and CSRF token: 303 back, an audit entry with the reason, the next GET shows it', async () => {
    const before = await get('/registry/strategies/probe')
    expect(before.status).toBe(200)
    // The forms' page sends its Origin on a POST (the site default, no-referrer, would send "null").
    expect(before.headers.get('referrer-policy')).toBe('same-origin')
    expect(before.text).toContain('action="/registry/strategies/probe/actions/alias"')
    expect(before.text).not.toMatch(/champion → v2|<td>champion<\/td>/)
    const csrf = await csrfOf()
    const res = await post('/registry/strategies/probe/actions/alias', { csrf, alias: 'champion', version: '2', reason: 'best out-of-sample Sharpe' })
    expect(res.status).toBe(303)
    expect(res.location).toBe('/registry/strategies/probe')
    expect(registry.entry('strategies', 'probe').aliases).toEqual({ champion: 2 })
    const entries = audit('strategies', 'probe')
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ action: 'alias', alias: 'champion', version: 2, to: '2', reason: 'best out-of-sample Sharpe' })
    expect(typeof entries[0]!.user).toBe('string')
    expect(entries[0]!.user).not.toBe('')
    // The entry page is cached by the registry's stamp: the change shows on the very next GET.
    const after = await get('/registry/strategies/probe')
    expect(after.text).toMatch(/<td>v2<\/td>(?:<td>[^<]*<\/td>){2}<td>champion<\/td>/)
    expect(after.text).toContain('best out-of-sample Sharpe')
    // The registry listing page too.
    expect((await get('/registry/strategies')).text).toContain('champion → v2')
  })

  it('moves and removes an alias, retires and restores a version, sets a model stage: each with its audit entry', async () => {
    const csrf = await csrfOf()
    expect((await post('/registry/strategies/probe/actions/alias', { csrf, alias: 'champion', version: '1', reason: 'rolled back' })).status).toBe(303)
    expect(registry.entry('strategies', 'probe').aliases).toEqual({ champion: 1 })
    expect(audit('strategies', 'probe').at(-1)).toMatchObject({ action: 'alias', alias: 'champion', from: '2', to: '1', reason: 'rolled back' })
    expect((await post('/registry/strategies/probe/actions/retire', { csrf, version: '3', reason: 'look-ahead bug' })).status).toBe(303)
    expect(registry.resolve('strategies', 'probe@3').status).toBe('retired')
    expect(audit('strategies', 'probe').at(-1)).toMatchObject({ action: 'retire', version: 3, reason: 'look-ahead bug' })
    expect((await get('/registry/strategies/probe')).text).toContain('action="/registry/strategies/probe/actions/restore"')
    expect((await post('/registry/strategies/probe/actions/restore', { csrf, version: '3', reason: 'bug was in the test' })).status).toBe(303)
    expect(registry.resolve('strategies', 'probe@3').status).toBe('active')
    expect((await post('/registry/strategies/probe/actions/unalias', { csrf, alias: 'champion', reason: 'no champion for now' })).status).toBe(303)
    expect(registry.entry('strategies', 'probe').aliases).toEqual({})
    expect(audit('strategies', 'probe').at(-1)).toMatchObject({ action: 'unalias', alias: 'champion', from: '1', reason: 'no champion for now' })

    const mcsrf = await csrfOf('/registry/models/clf')
    expect((await get('/registry/models/clf')).text).toContain('action="/registry/models/clf/actions/stage"')
    expect((await post('/registry/models/clf/actions/stage', { csrf: mcsrf, version: '1', stage: 'Production', reason: 'go live' })).status).toBe(303)
    expect((await post('/registry/models/clf/actions/stage', { csrf: mcsrf, version: '2', stage: 'Production', archiveExisting: 'on', reason: 'better AUC' })).status).toBe(303)
    expect(registry.resolve('models', 'clf@1').stage).toBe('Archived')
    expect(registry.resolve('models', 'clf@2').stage).toBe('Production')
    expect(audit('models', 'clf').map((e) => [e.version, e.from, e.to, e.reason])).toEqual([
      [1, 'None', 'Production', 'go live'],
      [1, 'Production', 'Archived', 'archived: version 2 moved to Production'],
      [2, 'None', 'Production', 'better AUC'],
    ])
  })

  it('refuses, changing nothing: no token 401, CSRF or Origin wrong 403, reason missing or too long 400, unknown version 404', async () => {
    const csrf = await csrfOf()
    const path = '/registry/strategies/probe/actions/alias'
    const good = { csrf, alias: 'champion', version: '2', reason: 'ok' }
    const count = audit('strategies', 'probe').length
    expect((await post(path, good, { cookie: undefined })).status).toBe(401)
    expect((await post(path, good, { cookie: `${cookieName(`127.0.0.1:${server.port}`)}=wrong-token` })).status).toBe(401)
    const wrong = await post(path, { ...good, csrf: `${csrf.slice(0, -2)}AA` })
    expect(wrong.status).toBe(403)
    expect(wrong.text).toContain('CSRF token')
    expect((await post(path, { ...good, csrf: '' })).status).toBe(403)
    const { csrf: _omit, ...noCsrf } = good
    expect((await post(path, noCsrf)).status).toBe(403)
    // Another site's page (access.ts refuses its Origin); no Origin and no Referer at all; a foreign Referer.
    expect((await post(path, good, { origin: 'http://evil.example' })).status).toBe(403)
    expect((await post(path, good, { origin: undefined })).status).toBe(403)
    expect((await post(path, good, { origin: undefined, referer: 'http://evil.example/registry/strategies/probe' })).status).toBe(403)
    // Reasons.
    const missing = await post(path, { ...good, reason: '' })
    expect(missing.status).toBe(400)
    expect(missing.text).toContain('reason: a reason for the change')
    // The refusal is announced (role="alert"), as on the runs' refusal pages: one page maker for both.
    expect(missing.text).toMatch(/<p class="error-box" role="alert">reason: a reason for the change/)
    // A field sent twice is refused, not joined or half-read.
    const twice = `${new URLSearchParams(good).toString()}&reason=one&reason=two`
    const doubled = await fetch(`${server.url}${path}`, { method: 'POST', headers: { cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' }, body: twice, redirect: 'manual' })
    expect(doubled.status).toBe(400)
    expect(await doubled.text()).toContain('reason: a reason for the change')
    expect((await post(path, { ...good, reason: '   ' })).status).toBe(400)
    const long = await post(path, { ...good, reason: 'x'.repeat(501) })
    expect(long.status).toBe(400)
    expect(long.text).toContain('reason: at most 500 characters (received 501)')
    // Control characters would land in the audit log (a terminal escape, a forged line): refused, as for runs.
    const escape = await post(path, { ...good, reason: 'ok\u001b[2Jcleared' })
    expect(escape.status).toBe(400)
    expect(escape.text).toContain('reason: control characters are not allowed')
    // Versions and aliases.
    const unknown = await post(path, { ...good, version: '99' })
    expect(unknown.status).toBe(404)
    expect(unknown.text).toContain('has no version 99')
    expect((await post(path, { ...good, version: 'two' })).status).toBe(400)
    expect((await post(path, { ...good, alias: 'Champion!' })).status).toBe(400)
    expect((await post('/registry/strategies/probe/actions/unalias', { csrf, alias: 'nope', reason: 'x' })).status).toBe(404)
    expect((await post('/registry/strategies/nobody/actions/alias', good)).status).toBe(404)
    expect((await post('/registry/strategies/probe/actions/stage', { csrf, version: '1', stage: 'Production', reason: 'x' })).status).toBe(400)
    expect((await post('/registry/models/clf/actions/stage', { csrf, version: '1', stage: 'Live', reason: 'x' })).status).toBe(400)
    // Exactly 500 characters is accepted (the limit, not one under it)… on another alias, then nothing else changed.
    expect((await post(path, { ...good, alias: 'limit', reason: 'y'.repeat(500) })).status).toBe(303)
    expect(audit('strategies', 'probe')).toHaveLength(count + 1)
    expect(registry.entry('strategies', 'probe').aliases).toEqual({ limit: 2 })
  })

  it('a Bearer client needs no CSRF token (a browser never adds the header on its own); error pages escape what they quote', async () => {
    const res = await fetch(`${server.url}/registry/strategies/probe/actions/alias`, {
      method: 'POST',
      headers: { authorization: `Bearer ${workspaceToken(home)}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ alias: 'bearer', version: '1', reason: 'scripted' }).toString(),
      redirect: 'manual',
    })
    expect(res.status).toBe(303)
    expect(registry.entry('strategies', 'probe').aliases.bearer).toBe(1)
    const csrf = await csrfOf()
    const hostile = await post('/registry/strategies/probe/actions/unalias', { csrf, alias: '<script>alert(1)</script>', reason: 'x' })
    expect(hostile.status).toBe(404)
    expect(hostile.text).not.toContain('<script>alert(1)')
    expect(hostile.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
  })
})

describe('registry viewers', () => {
  it('a strategy version: its files listed with links, the source highlighted with numbered lines, another file on request', async () => {
    const page = await get('/registry/strategies/viewed/v/1')
    expect(page.status).toBe(200)
    const rows = [...page.text.matchAll(/<tr><td>(?:<strong>)?([^<]+)(?:<\/strong>)?<\/td><td>([^<]+)<\/td>/g)].map((m) => [m[1], m[2]])
    // params.json is 21 bytes; source.ts 32 + 15 + 33 = 80 (its three lines with their line breaks).
    expect(rows).toEqual([
      ['params.json', '21 B'],
      ['source.ts', `${Buffer.byteLength(SOURCE)} B`],
    ])
    expect(Buffer.byteLength(SOURCE)).toBe(80)
    expect(page.text).toContain('href="/registry/strategies/viewed/v/1?file=params.json"')
    expect(page.text).toContain('href="/api/registry/strategies/viewed/versions/1/files/source.ts"')
    // Three numbered lines, the first one highlighted and escaped.
    expect(page.text).toContain('<span class="line" id="L1"><span class="hljs-keyword">export</span> <span class="hljs-keyword">const</span> a = <span class="hljs-number">1</span> &lt; <span class="hljs-number">2</span> &amp;&amp; <span class="hljs-string">&quot;&lt;b&gt;&quot;</span>\n</span>')
    expect(page.text.match(/<span class="line" id="L\d+">/g)).toHaveLength(3)
    expect(page.text).not.toContain('"<b>"')
    const params = await get('/registry/strategies/viewed/v/1?file=params.json')
    expect(params.text).toContain('<code class="hljs language-json">')
    expect(params.text.match(/<span class="line" id="L\d+">/g)).toHaveLength(4)
    for (const file of ['../../server-token', 'nope.ts', '%2e%2e%2fserver-token']) expect((await get(`/registry/strategies/viewed/v/1?file=${encodeURIComponent(file)}`)).status, file).toBe(404)
  })

  it('a model package: files with sizes, its record and metadata, the signature and metrics; files as text only when text', async () => {
    const page = await get('/registry/models/pkg/v/1')
    expect(page.status).toBe(200)
    expect(page.text).toContain('<td>notes.txt</td><td>23 B</td>')
    expect(page.text).toContain('<td>weights.bin</td><td>4 B</td>')
    expect(page.text).toContain(`<td>model.json</td><td>${Buffer.byteLength(JSON.stringify(PACKAGE))} B</td>`)
    expect(page.text).toContain('<td>description</td><td>a &lt;i&gt;forest&lt;/i&gt;</td>')
    expect(page.text).toContain('<td>trainingRows</td><td class="num">1,234</td>')
    expect(page.text).toContain('<td>createdAt</td><td>2024-05-01 00:00:00 UTC</td>')
    expect(page.text).toContain('<td>rocAuc</td><td class="num">0.64</td>')
    expect(page.text).toContain('<td>rsi</td><td>double</td><td>no</td>')
    expect(page.text).toContain('<td>&lt;script&gt;x&lt;/script&gt;</td><td>double</td><td>yes</td>')
    expect(page.text).toContain('output: <code>{"name":"label","type":"double","classes":[0,1]}</code>')
    expect(page.text).not.toContain('<script>x')
    // Metadata pretty-printed (and highlighted: the keys are hljs-attr spans).
    expect(page.text).toContain('<span class="hljs-attr">&quot;family&quot;</span>')
    // The entry page links the package view.
    expect((await get('/registry/models/pkg')).text).toContain('href="/registry/models/pkg/v/1"')
    const notes = await get('/registry/models/pkg/v/1?file=notes.txt')
    expect(notes.text).toContain('<span class="line" id="L1">trained on &lt;b&gt;2024&lt;/b&gt;\n</span>')
    const bin = await get('/registry/models/pkg/v/1?file=weights.bin')
    expect(bin.text).toContain('Not a text file (4 B); download it.')
  })
  it('a hostile reason is stored as given and shown as text in the audit table, running nothing', async () => {
    const csrf = await csrfOf()
    const hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    expect((await post('/registry/strategies/probe/actions/retire', { csrf, version: '3', reason: hostile })).status).toBe(303)
    expect(audit('strategies', 'probe').at(-1)).toMatchObject({ action: 'retire', version: 3, reason: hostile })
    const page = await get('/registry/strategies/probe')
    expect(page.text).not.toContain('<img src=x')
    expect(page.text).not.toContain('<script>alert(2)')
    expect(page.text).toContain('&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;')
    expect((await post('/registry/strategies/probe/actions/restore', { csrf, version: '3', reason: 'back' })).status).toBe(303)
  })
})
