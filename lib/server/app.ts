// The Hono app of `mtflow serve`: HTML pages and the JSON API over one workspace. Every request needs the
// workspace token (header or login cookie) and a Host and Origin of this server (access.ts); only model
// scoring answers loopback clients without it. Bodies are capped; every error is JSON with a message.

import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import { capMessage, clipEchoes, CorruptFileError, errorMessage, FileIntegrityError, isUserError, NotFoundError } from '../core/index.js'
import { accessControl, type AccessOptions } from './access.js'
import { FilterError, Registry, Tracker } from '../track/index.js'
import { apiRoutes, sendJson } from './api.js'
import { createMetrics } from './metrics.js'
import { loadServedModel, modelRoutes, registryModelRoutes, type LoadedModel } from './models.js'
import { pageRoutes } from './pages.js'
import { assetRoutes } from './assets.js'
import { Listings } from './listings.js'
import { withoutHome } from './layout.js'
import { ChampionServing, type ChampionOptions } from './champion.js'
import { lakeRoutes } from './lake-api.js'
import { trackRoutes } from './track-api.js'

export interface AppOptions {
  home: string
  token: string
  /** Largest request body accepted (bytes); default 1 MiB. */
  maxBodyBytes?: number
  /** The address the server listens on (an allowed Host header; default 127.0.0.1). */
  host?: string
  /** More Host names to answer to (a proxy's, a DNS name of this machine). */
  allowHosts?: readonly string[]
  /** Largest body sent to /api/track (an artifact upload, a registered version's files); default 256 MiB. */
  maxUploadBytes?: number
  /** Largest body of a scoring request (…/invocations: rows to score); default 64 MiB. */
  maxScoringBodyBytes?: number
  /** Milliseconds one scoring request may take (default MTFLOW_SCORING_BUDGET_MS, else 10 s): past it, a 503. */
  scoringBudgetMs?: number
  /** Champion/challenger serving: its clock and prediction log (champion.ts). */
  champion?: ChampionOptions
}

export function createApp(options: AppOptions): Hono {
  // Remote clients' runs get staleMs from this server's start to beat again (it may have been down).
  const tracker = new Tracker(options.home, { remoteBeatsSince: Date.now() })
  const registry = new Registry(options.home)
  const app = baseApp(options, [
    { method: 'POST', path: /^\/models\/[^/]+\/invocations$/ },
    { method: 'GET', path: /^\/models\/[^/]+\/(ping|version)$/ },
  ])
  app.route('/api/lake', lakeRoutes({ home: options.home }))
  app.route(TRACK_PREFIX.slice(0, -1), trackRoutes({ home: options.home, tracker, registry }))
  // The run and registry listings, shared by the pages and the API, read again only after a change.
  const listings = new Listings(tracker, registry)
  app.route('/api', apiRoutes({ tracker, registry, listings }))
  app.route('/models', registryModelRoutes(registry, { budgetMs: options.scoringBudgetMs, champion: new ChampionServing(registry, options.champion) }))
  // The script bundle and the favicon: behind the token like the pages that link them.
  assetRoutes(app)
  pageRoutes(app, { tracker, registry, listings })
  return app
}

/** `mtflow models serve NAME@ALIAS`: one model's /ping, /version and /invocations, loaded once. */
export function createModelApp(options: AppOptions & { ref: string }): { app: Hono; loaded: LoadedModel } {
  const registry = new Registry(options.home)
  const loaded = loadServedModel(registry, options.ref)
  const champion = new ChampionServing(registry, { ...options.champion, startRef: options.ref })
  const tokenFree = [
    { method: 'POST', path: /^\/invocations$/ },
    { method: 'GET', path: /^\/(ping|version|metrics)$/ },
  ]
  return { app: modelRoutes(baseApp(options, tokenFree), loaded, { budgetMs: options.scoringBudgetMs, champion }), loaded }
}

/** The scoring route, of `mtflow serve` (/models/REF/invocations) and of `mtflow models serve` (/invocations). */
const SCORING_PATH = /^(\/models\/[^/]+)?\/invocations$/
/** Remote tracking's routes (track-api.ts): their bodies have the upload cap. */
const TRACK_PREFIX = '/api/track/'

/** Headers, the body cap, access control and JSON errors: what every mtflow app has. Scoring a model
 * (POST …/invocations, GET …/ping and …/version) changes nothing, so on loopback it needs no token. */
function baseApp(options: AppOptions, tokenFree: AccessOptions['tokenFree']): Hono {
  const maxBody = options.maxBodyBytes ?? 2 ** 20
  const hideHome = (message: string) => withoutHome(message, options.home)
  const app = new Hono()
  // Every request is counted and timed (metrics.ts), refused ones included; GET /metrics is below.
  const metrics = createMetrics({ home: options.home })
  app.use('*', metrics.middleware)

  // Headers set before the handler runs are part of the response it builds; set afterwards they would
  // make the adapter turn its light response into a full fetch Response (and encode the body again).
  app.use('*', async (c, next) => {
    c.header('x-content-type-options', 'nosniff')
    c.header('referrer-policy', 'no-referrer')
    c.header('x-frame-options', 'DENY')
    // What a token holder reads is theirs: no shared cache (a proxy in front of --allow-host) keeps it; a
    // browser asks again each time (an unchanged page is a 304 by its ETag). Routes may say otherwise (assets).
    c.header('cache-control', 'private, no-cache')
    await next()
  })
  // Who may ask comes first: a stranger's body is never read.
  app.use('*', accessControl({ token: options.token, host: options.host, allowHosts: options.allowHosts, tokenFree }))
  const limit = bodyLimit({ maxSize: maxBody, onError: (c) => sendJson(c, { error: `request body larger than ${maxBody} bytes` }, 413) })
  // Rows to score are the one big body: their own cap (the route checks depth and size again, and
  // parses a big one off the event loop).
  const maxScoring = options.maxScoringBodyBytes ?? 64 * 2 ** 20
  const scoringLimit = bodyLimit({ maxSize: maxScoring, onError: (c) => sendJson(c, { error: `rows to score larger than ${maxScoring} bytes: send them in several requests` }, 413) })
  // Remote tracking's uploads (artifacts, registered files) are the other: their own cap.
  const maxUpload = options.maxUploadBytes ?? 256 * 2 ** 20
  const uploadLimit = bodyLimit({ maxSize: maxUpload, onError: (c) => sendJson(c, { error: `upload larger than ${maxUpload} bytes (the server's maxUploadBytes)` }, 413) })
  // Reads have no body to limit (and looking for one costs a full Request object per request).
  app.use('*', (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next()
    if (c.req.path.startsWith(TRACK_PREFIX)) return uploadLimit(c, next)
    return SCORING_PATH.test(c.req.path) ? scoringLimit(c, next) : limit(c, next)
  })

  // /metrics keeps the access rules: the token on `mtflow serve`; on a model server, loopback needs none (like /ping).
  app.get('/metrics', metrics.handler)

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname
    return sendJson(c, { error: `no route for ${c.req.method.slice(0, 20)} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}` }, 404)
  })
  app.onError((error, c) => {
    // Messages are cut: whatever they quote of a request comes back at most 200 characters at a time,
    // the whole message at most 500; the workspace's place on disk is not told to clients.
    const text = error instanceof HTTPException ? error.message || 'request refused' : errorMessage(error)
    const message = () => capMessage(clipEchoes(hideHome(text), requestTexts(c)), 500)
    if (error instanceof HTTPException) return sendJson(c, { error: message() }, error.status)
    if (error instanceof FileIntegrityError) return sendJson(c, { error: message() }, error.problem === 'sha256' ? 409 : 403)
    // A damaged workspace file: the request was fine, the server's data is not (named, for the operator).
    if (error instanceof CorruptFileError) return sendJson(c, { error: message() }, 500)
    if (error instanceof NotFoundError) return sendJson(c, { error: message() }, 404)
    if (error instanceof FilterError) return sendJson(c, { error: message(), position: error.position }, 400)
    if (isUserError(error)) return sendJson(c, { error: message() }, 400)
    process.stderr.write(`mtflow serve: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    return sendJson(c, { error: 'internal error (details in the server log)' }, 500)
  })
  return app
}

/** The texts a request carries that a message might quote: its path (raw and decoded, and each
 * segment) and its query values. */
function requestTexts(c: { req: { url: string } }): string[] {
  const url = new URL(c.req.url)
  const decode = (t: string) => {
    try {
      return decodeURIComponent(t)
    } catch {
      return t
    }
  }
  const segments = url.pathname.split('/').flatMap((s) => [s, decode(s)])
  return [url.pathname, decode(url.pathname), ...segments, ...[...url.searchParams.values()]].sort((a, b) => b.length - a.length)
}
