// Who may talk to an mtflow server (Jupyter's model): the Host header must name this server (a page on
// another origin that resolves to 127.0.0.1 — DNS rebinding — is refused), a browser's Origin must be this
// server's own, and every request carries the workspace token: `Authorization: Bearer <token>`, or the
// HttpOnly, SameSite=Strict cookie that the printed login URL sets. Only the model-scoring routes (they
// change nothing) answer loopback clients without the token, and they are matched exactly — not through a
// proxy (a forwarding header, a Host that is not a loopback name, or any --allow-host: then every client's
// socket may be the proxy's loopback).

import type { Context, MiddlewareHandler } from 'hono'
import { getConnInfo } from '@hono/node-server/conninfo'
import { networkInterfaces } from 'node:os'
import { sendJson } from './api.js'
import { authorized } from './token.js'

export interface AccessOptions {
  token: string
  /** The address the server is bound to: it is an allowed Host (unless a wildcard: then every address of this machine is). */
  host?: string
  /** More names the server may be reached by (a proxy's, a DNS name of this machine): `--allow-host`. */
  allowHosts?: readonly string[]
  /** Routes that loopback clients may call without the token: exact method and whole-path patterns. */
  tokenFree?: readonly { method: string; path: RegExp }[]
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/
/** The Host names a client on this machine uses. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1'])
/** Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever its socket says. */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via']
const WILDCARD = new Set(['0.0.0.0', '::', '[::]', ''])

/** A path of this server: one "/" then no "/" or "\" (which would name another host), no spaces or controls. */
const SAFE_PATH = /^\/(?![/\\])[^\s\x00-\x1f\x7f\\]*$/

/** The login route: `/login?token=…[&next=/path]` sets the cookie and redirects to next. */
export const LOGIN_PATH = '/login'

/** POST /logout expires the login cookie. */
export const LOGOUT_PATH = '/logout'

/** The cookie's name carries the port: two servers on one host (cookies ignore ports) keep their own. */
export function cookieName(hostHeader: string | undefined): string {
  const port = /:(\d+)$/.exec(hostHeader ?? '')?.[1] ?? '80'
  return `mtflow-token-${port}`
}

/** The login URL to print: opening it once gives the browser its cookie. */
export function loginUrl(baseUrl: string, token: string): string {
  return `${baseUrl}${LOGIN_PATH}?token=${encodeURIComponent(token)}`
}

/** The names this server answers to, lower-case, without brackets or port. */
export function allowedHosts(options: Pick<AccessOptions, 'host' | 'allowHosts'>): Set<string> {
  const hosts = new Set(['localhost', '127.0.0.1', '::1'])
  const bound = normalizeHost(options.host ?? '127.0.0.1')
  if (WILDCARD.has(bound)) {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) hosts.add(normalizeHost(a.address))
  } else hosts.add(bound)
  for (const h of options.allowHosts ?? []) hosts.add(normalizeHost(h))
  return hosts
}

/** The middleware: Host, then Origin, then the token. */
export function accessControl(options: AccessOptions): MiddlewareHandler {
  const hosts = allowedHosts(options)
  const tokenFree = options.tokenFree ?? []
  // Behind a reverse proxy on this machine (what --allow-host names) every client's socket is loopback: a server
  // reached by another name answers no one without the token (an attack review: scoring, and its predictions log
  // that the monitors read, were open to the network through a proxy).
  const proxied = (options.allowHosts ?? []).length > 0
  return async (c, next) => {
    const hostHeader = c.req.header('host')
    const hostname = hostHeader === undefined ? undefined : hostOf(hostHeader)
    if (hostname === undefined || !hosts.has(hostname)) {
      // The allowed names are not listed: a stranger learns nothing about this machine's addresses.
      return sendJson(c, { error: `Host ${JSON.stringify(clip(hostHeader ?? ''))} is not a name of this server (start it with --allow-host NAME to answer to another)` }, 403)
    }
    const origin = c.req.header('origin')
    if (origin !== undefined && !sameOrigin(origin, hostHeader!)) {
      return sendJson(c, { error: `Origin ${JSON.stringify(clip(origin))} is not this server's; cross-origin requests are refused` }, 403)
    }
    const path = c.req.path
    if (path === LOGIN_PATH && (c.req.method === 'GET' || c.req.method === 'HEAD')) return login(c, options.token)
    if (path === LOGOUT_PATH && c.req.method === 'POST') return logout(c)
    if (authorized(c.req.header('authorization'), options.token)) return next()
    if (hasCookie(c, options.token)) {
      // A change to the JSON API made with the login cookie comes from this server's pages: a browser sends
      // their Origin (a same-origin Referer at least); without either, no page of this server made it. (The
      // pages' own forms check the same, and a CSRF token, and answer with a page.)
      const referer = c.req.header('referer')
      if (path.startsWith('/api/') && CHANGES.has(c.req.method) && origin === undefined && (referer === undefined || !sameOrigin(referer, hostHeader!))) {
        return sendJson(c, { error: `a change (${c.req.method}) made with the login cookie needs this server's Origin or Referer: make it from this server's pages, or send Authorization: Bearer <token>` }, 403)
      }
      return next()
    }
    if (tokenFree.length > 0 && !proxied && isLoopback(c) && LOOPBACK_NAMES.has(hostname) && !PROXY_HEADERS.some((h) => c.req.header(h) !== undefined) && tokenFree.some((r) => r.method === c.req.method && r.path.test(path))) return next()
    return refuse(c)
  }
}

/** The methods that change something (every route's GET and HEAD only read). */
const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

function hasCookie(c: Context, token: string): boolean {
  const cookie = readCookie(c.req.header('cookie'), cookieName(c.req.header('host')))
  return cookie !== undefined && authorized(`Bearer ${cookie}`, token)
}

/**
 * POST /logout: the login cookie expired in this browser (a shared computer; before it, a browser kept the
 * token until it closed: second attack review). Needs nothing: anyone may forget their own cookie. The
 * token itself stays valid for every other browser and client until MTFLOW_HOME/server-token is replaced.
 */
function logout(c: Context): Response {
  c.header('set-cookie', `${cookieName(c.req.header('host'))}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`)
  c.header('cache-control', 'no-store')
  return c.html('<!doctype html><meta charset="utf-8"><title>mtflow: logged out</title><p>Logged out: this browser no longer holds the login cookie. Open the login URL printed by <code>mtflow serve</code> to log in again.</p>', 200)
}

/** GET /login?token=T&next=/path: a right token sets the cookie and redirects; a wrong one is a 401. */
function login(c: Context, token: string): Response {
  const given = c.req.query('token') ?? ''
  if (!authorized(`Bearer ${given}`, token)) return sendJson(c, { error: 'wrong or missing token: open the login URL printed by mtflow serve (the token is in MTFLOW_HOME/server-token)' }, 401)
  const next = c.req.query('next') ?? '/'
  // Only a path of this server: "//evil.example" or "/\evil" would leave it.
  const target = SAFE_PATH.test(next) ? next : '/'
  c.header('set-cookie', `${cookieName(c.req.header('host'))}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`)
  c.header('cache-control', 'no-store')
  return c.redirect(target, 303)
}

function refuse(c: Context): Response {
  const accept = c.req.header('accept') ?? ''
  const path = c.req.path
  if (!path.startsWith('/api/') && accept.includes('text/html')) {
    // A browser that followed a link from another site: its SameSite=Strict cookie was not sent, but a
    // navigation from this page is same-site and will carry it.
    // The link back is this server's page only: a path like //evil.example or /\evil (which browsers
    // read as another host) links to the home page instead.
    const url = new URL(c.req.url)
    const self = url.pathname + url.search
    const back = self.length <= 2000 && SAFE_PATH.test(self) ? self : '/'
    return c.html(
      `<!doctype html><meta charset="utf-8"><title>mtflow: log in</title><p>This mtflow server needs its token.</p><p>If you have opened the login URL printed by <code>mtflow serve</code> in this browser, <a href="${escapeAttr(back)}">continue to the page</a>; otherwise open that URL (or send <code>Authorization: Bearer &lt;token&gt;</code>).</p>`,
      401,
    )
  }
  return sendJson(c, { error: 'this server needs its token: send Authorization: Bearer <token> (printed by mtflow serve, stored in MTFLOW_HOME/server-token) or open the printed login URL' }, 401)
}

/** A cookie's value from a Cookie header, percent-decoded (undefined when absent or malformed). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue
    try {
      return decodeURIComponent(part.slice(eq + 1).trim())
    } catch {
      return undefined
    }
  }
  return undefined
}

/** "Example.COM:8787" → "example.com"; "[::1]:80" → "::1"; undefined when it is not a host. */
function hostOf(header: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/@]+)(?::(\d{1,5}))?$/.exec(header.trim())
  return m === null ? undefined : normalizeHost(m[1]!)
}

function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (h.endsWith('.')) h = h.slice(0, -1)
  return h
}

function sameOrigin(origin: string, hostHeader: string): boolean {
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false // "null" (sandboxed frames, file: pages) and anything unparseable
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  const defaultPort = url.protocol === 'https:' ? '443' : '80'
  const [, host = '', port = defaultPort] = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim()) ?? []
  return normalizeHost(url.hostname) === normalizeHost(host) && (url.port || defaultPort) === port
}

function isLoopback(c: Context): boolean {
  try {
    return LOOPBACK.test(getConnInfo(c).remote.address ?? '')
  } catch {
    return false
  }
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text
}

function escapeAttr(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}
