// Who may talk to the server: the Host allow-list (DNS rebinding), the Origin check, the token on reads as
// on writes, the login URL's cookie, the token-free scoring routes matched exactly, and the token file's
// checks at start. Raw node:http requests, since fetch will not send a Host or Origin of our choosing.

import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loginUrl, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

let home: string
let server: Listening
let proxied: Listening
let token: string
let runId: string

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  body: any
}

function send(base: Listening, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: base.port, path, method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => {
        let body: any
        try {
          body = JSON.parse(text)
        } catch {
          body = undefined
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, body })
      })
    })
    req.on('error', reject)
    if (options.body !== undefined) req.write(options.body)
    req.end()
  })
}

const host = () => `127.0.0.1:${server.port}`
const bearer = () => `Bearer ${token}`

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-access-'))
  const tracker = new Tracker(home)
  const run = tracker.startRun({ experiment: 'access', name: 'one', params: { fast: 10 } })
  run.logMetric('sharpe', 1.5)
  run.end()
  runId = run.id
  new Registry(home).register('strategies', 's', { files: { 'source.ts': 'x' } })
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0 })
  proxied = await startServer({ home, token, port: 0, allowHosts: ['mtflow.internal'] })
})

afterAll(async () => {
  await server.close()
  await proxied.close()
  rmSync(home, { recursive: true, force: true })
})

describe('the token on every request', () => {
  it('answers no read without it, even from loopback: API and pages alike', async () => {
    for (const path of ['/', '/runs', `/runs/${runId}`, '/registry', '/api/experiments', '/api/runs', `/api/runs/${runId}`, '/api/registry', '/nope']) {
      const r = await send(server, path, { headers: { host: host() } })
      expect(r.status, path).toBe(401)
      expect(r.headers['content-type'], path).toMatch(/application\/json/)
      expect(r.body.error).toMatch(/needs its token/)
    }
    // A browser's navigation gets a page that says what to do, not a JSON blob.
    const page = await send(server, '/runs?filter=x', { headers: { host: host(), accept: 'text/html' } })
    expect(page.status).toBe(401)
    expect(page.text).toMatch(/login URL printed by <code>mtflow serve<\/code>/)
    expect(page.text).toContain('<a href="/runs?filter=x">continue to the page</a>')
    // Its link back never leads off the server (browsers read //host and /\host as another host).
    // (A raw backslash is refused by the adapter with a 400 before it gets here.)
    for (const path of ['//evil.example/x', '/%5Cevil.example/x', '/%09/evil.example/x', '/%2F/evil.example/x']) {
      const r = await send(server, path, { headers: { host: host(), accept: 'text/html' } })
      expect(r.status, path).toBe(401)
      const href = /<a href="([^"]*)">continue/.exec(r.text)?.[1]
      expect(href, path).toBeDefined()
      expect(new URL(href!.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))), server.url).host, path).toBe(`127.0.0.1:${server.port}`)
    }
  })

  it('answers with the header, and with the cookie the login URL sets', async () => {
    expect((await send(server, `/api/runs/${runId}`, { headers: { host: host(), authorization: bearer() } })).status).toBe(200)
    const url = new URL(loginUrl(server.url, token))
    const login = await send(server, url.pathname + url.search, { headers: { host: host() } })
    expect(login.status).toBe(303)
    expect(login.headers.location).toBe('/')
    const cookie = String(login.headers['set-cookie'])
    expect(cookie).toMatch(new RegExp(`^mtflow-token-${server.port}=`))
    expect(cookie).toMatch(/; HttpOnly/)
    expect(cookie).toMatch(/; SameSite=Strict/)
    expect(cookie).toMatch(/; Path=\//)
    const pair = cookie.split(';')[0]!
    expect((await send(server, '/runs', { headers: { host: host(), cookie: pair } })).status).toBe(200)
    // A cookie for another port's server (cookies ignore ports) opens nothing here.
    const other = pair.replace(`mtflow-token-${server.port}`, 'mtflow-token-1')
    expect((await send(server, '/runs', { headers: { host: host(), cookie: other } })).status).toBe(401)
    // POST /logout expires it (a shared computer: the second attack review found no way out but closing the browser).
    const out = await send(server, '/logout', { method: 'POST', headers: { host: host(), cookie: pair } })
    expect(out.status).toBe(200)
    expect(String(out.headers['set-cookie'])).toBe(`mtflow-token-${server.port}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`)
    expect(out.text).toContain('Logged out')
    // From another site's page it is refused, as every cross-origin request is.
    expect((await send(server, '/logout', { method: 'POST', headers: { host: host(), origin: 'http://evil.example' } })).status).toBe(403)
  })

  it('a change to the API with the cookie alone needs an Origin or Referer of this server; the header alone does not (an attack review)', async () => {
    const cookie = `mtflow-token-${server.port}=${encodeURIComponent(token)}`
    const tag = (key: string, headers: Record<string, string>) => send(server, `/api/runs/${runId}/tags`, { method: 'POST', headers: { host: host(), 'content-type': 'application/json', ...headers }, body: JSON.stringify({ key, value: 'v' }) })
    const bare = await tag('cookie-bare', { cookie })
    expect(bare.status).toBe(403)
    expect(bare.body.error).toBe("a change (POST) made with the login cookie needs this server's Origin or Referer: make it from this server's pages, or send Authorization: Bearer <token>")
    expect((await tag('cookie-foreign-referer', { cookie, referer: 'http://evil.example/x' })).status).toBe(403)
    expect((await tag('cookie-origin', { cookie, origin: `http://${host()}` })).status).toBe(200)
    expect((await tag('cookie-referer', { cookie, referer: `http://${host()}/runs/${runId}` })).status).toBe(200)
    expect((await tag('bearer', { authorization: bearer() })).status).toBe(200)
    const tags = (await send(server, `/api/runs/${runId}`, { headers: { host: host(), authorization: bearer() } })).body.tags
    expect(Object.keys(tags).filter((k) => k.startsWith('cookie-') || k === 'bearer').sort()).toEqual(['bearer', 'cookie-origin', 'cookie-referer'])
    // Reads with the cookie alone are as before.
    expect((await send(server, `/api/runs/${runId}`, { headers: { host: host(), cookie } })).status).toBe(200)
  })

  it('what a token holder reads is private to them: no shared cache keeps pages or answers; the assets are public', async () => {
    for (const path of ['/', '/runs', `/runs/${runId}`, `/api/runs/${runId}`, '/api/experiments']) {
      expect((await send(server, path, { headers: { host: host(), authorization: bearer() } })).headers['cache-control'], path).toBe('private, no-cache')
    }
    const page = await send(server, '/', { headers: { host: host(), authorization: bearer() } })
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page.text)?.[1]
    expect(asset).toBeDefined()
    expect((await send(server, asset!, { headers: { host: host(), authorization: bearer() } })).headers['cache-control']).toMatch(/^public, max-age=31536000, immutable$|^no-cache$/)
  })

  it('refuses a wrong token at login and never redirects off the server', async () => {
    const wrong = await send(server, `/login?token=${'x'.repeat(32)}`, { headers: { host: host() } })
    expect(wrong.status).toBe(401)
    expect(wrong.headers['set-cookie']).toBeUndefined()
    for (const next of ['//evil.example/', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)']) {
      const r = await send(server, `/login?token=${encodeURIComponent(token)}&next=${encodeURIComponent(next)}`, { headers: { host: host() } })
      expect(r.status, next).toBe(303)
      expect(r.headers.location, next).toBe('/')
    }
    const kept = await send(server, `/login?token=${encodeURIComponent(token)}&next=${encodeURIComponent('/runs?filter=x')}`, { headers: { host: host() } })
    expect(kept.headers.location).toBe('/runs?filter=x')
  })
})

describe('Host and Origin', () => {
  it('refuses a Host that is not this server (DNS rebinding), with the token or not', async () => {
    // Not even a host name: the adapter refuses to make a URL of it (400).
    expect((await send(server, '/api/runs', { headers: { host: `localhost@evil:${server.port}`, authorization: bearer() } })).status).toBe(400)
    for (const h of [`rebind.attacker.example:${server.port}`, 'attacker.example', `127.0.0.1.attacker.example:${server.port}`, `localhost.evil.example:${server.port}`]) {
      const r = await send(server, '/api/runs', { headers: { host: h, authorization: bearer() } })
      expect(r.status, h).toBe(403)
      expect(r.body.error).toMatch(/is not a name of this server/)
      // Nothing about the machine's names or addresses is told to a stranger.
      expect(r.body.error).not.toContain('allowed')
      expect(r.body.error).not.toContain('::1')
    }
    for (const h of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`]) {
      expect((await send(server, '/api/runs', { headers: { host: h, authorization: bearer() } })).status, h).toBe(200)
    }
  })

  it('answers to the names given with --allow-host', async () => {
    const h = `mtflow.internal:${proxied.port}`
    expect((await send(proxied, '/api/runs', { headers: { host: h, authorization: bearer() } })).status).toBe(200)
    expect((await send(server, '/api/runs', { headers: { host: `mtflow.internal:${server.port}`, authorization: bearer() } })).status).toBe(403)
  })

  it('refuses a foreign Origin even with a valid token, and changes nothing', async () => {
    const body = JSON.stringify({ alias: 'champion', version: 1 })
    for (const origin of ['http://evil.example', `http://localhost:${server.port + 1}`, 'null', `https://127.0.0.1:${server.port}x`]) {
      const r = await send(server, '/api/registry/strategies/s/aliases', { method: 'POST', body, headers: { host: host(), origin, authorization: bearer(), 'content-type': 'application/json' } })
      expect(r.status, origin).toBe(403)
      expect(r.body.error).toMatch(/Origin .* is not this server's/)
    }
    expect(new Registry(home).entry('strategies', 's').aliases).toEqual({})
    const same = await send(server, '/api/registry/strategies/s/aliases', { method: 'POST', body, headers: { host: host(), origin: `http://127.0.0.1:${server.port}`, authorization: bearer(), 'content-type': 'application/json' } })
    expect(same.status).toBe(200)
    expect(new Registry(home).entry('strategies', 's').aliases).toEqual({ champion: 1 })
  })
})

describe('token-free scoring routes', () => {
  it('are matched as whole paths, not by suffix', async () => {
    // Scoring a model that does not exist: past the token check (404), not refused by it (401).
    const scoring = await send(server, '/models/nothing@champion/invocations', { method: 'POST', body: '{}', headers: { host: host(), 'content-type': 'application/json' } })
    expect(scoring.status).toBe(404)
    expect((await send(server, '/models/nothing@champion/ping', { headers: { host: host() } })).status).toBe(404)
    for (const [method, path] of [
      ['POST', `/api/runs/${runId}/tags/invocations`],
      ['POST', '/api/registry/strategies/s/aliases/invocations'],
      ['POST', '/models/a/b/invocations'],
      ['GET', '/models/nothing@champion/ping/x'],
      ['GET', '/api/models/x/ping'],
    ]) {
      const r = await send(server, path!, { method, body: method === 'POST' ? '{}' : undefined, headers: { host: host(), 'content-type': 'application/json' } })
      expect(r.status, `${method} ${path}`).toBe(401)
    }
  })
})

describe('the token file', () => {
  it('is created 0600 with a 32-character token', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'mtflow-token-'))
    try {
      const t = workspaceToken(fresh)
      expect(t).toMatch(/^[A-Za-z0-9_-]{32}$/)
      expect(statSync(join(fresh, 'server-token')).mode & 0o777).toBe(0o600)
      expect(workspaceToken(fresh)).toBe(t)
    } finally {
      rmSync(fresh, { recursive: true, force: true })
    }
  })

  it('is refused at start when empty, short, or readable by others: exit 2, one line naming it', async () => {
    const cases: [string, number, RegExp][] = [
      ['', 0o600, /server-token is empty/],
      ['short-token\n', 0o600, /server-token holds a 11-character token; at least 32/],
      [`${'a'.repeat(40)}\n`, 0o644, /server-token is readable or writable by group or others \(mode 0644\)/],
      [`${'a'.repeat(40)}\n`, 0o640, /mode 0640/],
    ]
    for (const [content, mode, message] of cases) {
      const ws = mkdtempSync(join(tmpdir(), 'mtflow-token-'))
      try {
        const file = join(ws, 'server-token')
        writeFileSync(file, content)
        chmodSync(file, mode)
        const r = await runCli(['serve', '--port', '0', '--json'], { env: { MTFLOW_HOME: ws } })
        expect(r.code, content).toBe(2)
        expect(r.stderr.trim().split('\n'), content).toHaveLength(1)
        expect(r.stderr).toMatch(message)
        expect(r.stderr).toContain(file)
      } finally {
        rmSync(ws, { recursive: true, force: true })
      }
    }
  })
})
