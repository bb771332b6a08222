// The Hono app of `mtflow serve`: HTML pages and the JSON API over one workspace. Reads are open to
// loopback clients (other clients need the token for reads too); every mutating request needs
// `Authorization: Bearer <token>`. Bodies are capped; every error is JSON with a message.

import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import { getConnInfo } from '@hono/node-server/conninfo'
import { errorMessage, isUserError, NotFoundError } from '../core/index.js'
import { FilterError, Registry, Tracker } from '../track/index.js'
import { apiRoutes, sendJson } from './api.js'
import { loadServedModel, modelRoutes, registryModelRoutes, type LoadedModel } from './models.js'
import { pageRoutes } from './pages.js'
import { authorized } from './token.js'

export interface AppOptions {
  home: string
  token: string
  /** Largest request body accepted (bytes); default 1 MiB. */
  maxBodyBytes?: number
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/

export function createApp(options: AppOptions): Hono {
  const tracker = new Tracker(options.home)
  const registry = new Registry(options.home)
  const app = baseApp(options)
  app.route('/api', apiRoutes({ tracker, registry }))
  app.route('/models', registryModelRoutes(registry))
  pageRoutes(app, { tracker, registry })
  return app
}

/** `mtflow models serve NAME@ALIAS`: one model's /ping, /version and /invocations, loaded once. */
export function createModelApp(options: AppOptions & { ref: string }): { app: Hono; loaded: LoadedModel } {
  const loaded = loadServedModel(new Registry(options.home), options.ref)
  return { app: modelRoutes(baseApp(options), loaded), loaded }
}

/** Headers, the body cap, the token rule and JSON errors: what every mtflow app has. Scoring a model
 * (POST …/invocations) changes nothing, so on loopback it needs no token, like a read. */
function baseApp(options: AppOptions): Hono {
  const maxBody = options.maxBodyBytes ?? 2 ** 20
  const app = new Hono()

  // Headers set before the handler runs are part of the response it builds; set afterwards they would
  // make the adapter turn its light response into a full fetch Response (and encode the body again).
  app.use('*', async (c, next) => {
    c.header('x-content-type-options', 'nosniff')
    c.header('referrer-policy', 'no-referrer')
    c.header('x-frame-options', 'DENY')
    await next()
  })
  const limit = bodyLimit({ maxSize: maxBody, onError: (c) => sendJson(c, { error: `request body larger than ${maxBody} bytes` }, 413) })
  // Reads have no body to limit (and looking for one costs a full Request object per request).
  app.use('*', (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : limit(c, next)))
  app.use('*', async (c, next) => {
    const mutating = !['GET', 'HEAD', 'OPTIONS'].includes(c.req.method) && !(c.req.method === 'POST' && c.req.path.endsWith('/invocations'))
    if (mutating || !isLoopback(c)) {
      if (!authorized(c.req.header('authorization'), options.token)) {
        return sendJson(c, { error: mutating ? 'this request changes the workspace: send Authorization: Bearer <token> (printed by mtflow serve, stored in MTFLOW_HOME/server-token)' : 'reads from outside this machine need Authorization: Bearer <token>' }, 401)
      }
    }
    await next()
  })

  app.notFound((c) => sendJson(c, { error: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404))
  app.onError((error, c) => {
    if (error instanceof HTTPException) return sendJson(c, { error: error.message || 'request refused' }, error.status)
    if (error instanceof NotFoundError) return sendJson(c, { error: errorMessage(error) }, 404)
    if (error instanceof FilterError) return sendJson(c, { error: errorMessage(error), position: error.position }, 400)
    if (isUserError(error)) return sendJson(c, { error: errorMessage(error) }, 400)
    process.stderr.write(`mtflow serve: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    return sendJson(c, { error: 'internal error (details in the server log)' }, 500)
  })
  return app
}

function isLoopback(c: Parameters<typeof getConnInfo>[0]): boolean {
  try {
    return LOOPBACK.test(getConnInfo(c).remote.address ?? '')
  } catch {
    return false
  }
}
