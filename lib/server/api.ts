// The JSON API under /api: runs (search, detail, metric history, artifacts, compare) and the registry,
// read openly; changes (tags, aliases, stages, retire/restore) need the workspace token. Numbers that JSON
// cannot hold (NaN, ±Infinity) travel as the strings "NaN", "Infinity", "-Infinity".

import { Hono, type Context } from 'hono'
import { ConfigError, NotFoundError, preview } from '../core/index.js'
import { parseJsonBody } from './json-body.js'
import { compareRuns, registryKind, searchReadsClock, searchRuns, type Registry, type Tracker } from '../track/index.js'
import { Listings } from './listings.js'
import { PageCache, queryKey, sendCached, type CachedAnswer } from './page-cache.js'

export interface ApiDeps {
  tracker: Tracker
  registry: Registry
  /** The cached listings (listings.ts); made here when not given. */
  listings?: Listings
  /** Bytes of search answers kept for repeated searches (default 32 MiB; least recently used dropped first). */
  searchCacheBytes?: number
}

export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value
}

export function sendJson(c: Context, value: unknown, status = 200): Response {
  return c.body(JSON.stringify(value, jsonReplacer), status as 200, { 'content-type': 'application/json; charset=utf-8' })
}

const CONTENT_TYPES: Record<string, string> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  parquet: 'application/vnd.apache.parquet',
  ipynb: 'application/x-ipynb+json',
}

export function apiRoutes(deps: ApiDeps): Hono {
  const { tracker, registry } = deps
  const listings = deps.listings ?? new Listings(tracker, registry)
  const api = new Hono()

  api.get('/experiments', (c) => {
    const runs = listings.runs()
    // runs: active ones (as the runs list and a search count them); deletedRuns: the soft-deleted ones gc has not removed.
    return sendJson(
      c,
      runs.experiments.map((e) => {
        const active = runs.activeCounts.get(e.id) ?? 0
        return { ...e, runs: active, deletedRuns: (runs.counts.get(e.id) ?? 0) - active }
      }),
    )
  })

  // Searches answered from the bytes of the same search while the run listing is unchanged (and, for one
  // that reads the clock — a RUNNING run's duration —, while no run is RUNNING). Answers of at most 1 MiB
  // each, 32 MiB in all, the least recently used dropped first: any token holder can make keys (any query
  // string), so the count alone bounds nothing.
  const searches = new PageCache(deps.searchCacheBytes ?? 32 * 2 ** 20, 0)
  api.get('/runs', (c) => {
    const q = c.req.queries()
    const one = (name: string) => q[name]?.[0]
    const max = one('max_results')
    const listing = listings.runs()
    const key = queryKey(c.req.queries())
    const hit = searches.get(key, () => listing.stamp)
    if (hit !== undefined) return jsonBytes(c, hit)
    const result = searchRuns(tracker, {
      filter: one('filter') ?? '',
      orderBy: q.order_by ?? [],
      experiments: q.experiment,
      maxResults: max === undefined ? 100 : positiveInt(max, 'max_results'),
      pageToken: one('page_token'),
    })
    const body = JSON.stringify(result, jsonReplacer)
    const keep = listing.running.length === 0 || !searchReadsClock(one('filter') ?? '', q.order_by ?? [])
    if (keep && body.length <= 2 ** 20) return jsonBytes(c, searches.set(key, listing.stamp, body))
    return c.body(body, 200, { 'content-type': 'application/json; charset=utf-8' })
  })

  api.get('/runs/:id', (c) => {
    const id = c.req.param('id')
    const run = tracker.getRun(id)
    return sendJson(c, { ...run, children: tracker.childRuns(id).map((r) => r.info.runId) })
  })

  api.get('/runs/:id/metric-history', (c) => {
    const key = c.req.query('key')
    if (key === undefined || key === '') throw new ConfigError('the query needs key=<metric name>')
    return sendJson(c, tracker.metricHistory(c.req.param('id'), key))
  })

  api.get('/runs/:id/artifacts', (c) => sendJson(c, tracker.listArtifacts(c.req.param('id'))))

  api.get('/runs/:id/artifacts/*', (c) => {
    const id = c.req.param('id')
    // The raw path after /artifacts/, still percent-encoded: resolveInside decodes it and refuses traversal.
    const raw = new URL(c.req.url).pathname.split(`/runs/${encodeURIComponent(id)}/artifacts/`)[1] ?? ''
    const { artifact, bytes } = tracker.readArtifact(id, raw)
    return sendFile(c, artifact.path, bytes)
  })

  api.get('/compare', (c) => {
    const ids = (c.req.query('runs') ?? '').split(',').filter((s) => s !== '')
    if (ids.length < 2) throw new ConfigError('compare needs runs=<id>,<id>[,…] (two or more)')
    return sendJson(c, compareRuns(tracker, ids))
  })

  api.get('/registry', (c) => sendJson(c, listings.registryListing().entries))
  api.get('/registry/:kind', (c) => {
    const kind = registryKind(c.req.param('kind'))
    return sendJson(c, listings.registryListing().byKind.get(kind))
  })
  api.get('/registry/:kind/:name', (c) => sendJson(c, registry.entry(registryKind(c.req.param('kind')), c.req.param('name'))))
  api.get('/registry/:kind/:name/audit', (c) => {
    const kind = registryKind(c.req.param('kind'))
    registry.entry(kind, c.req.param('name'))
    return sendJson(c, registry.auditLog(kind, c.req.param('name')))
  })
  api.get('/registry/:kind/:name/versions/:ref', (c) => sendJson(c, registry.resolve(registryKind(c.req.param('kind')), `${c.req.param('name')}@${c.req.param('ref')}`)))
  // A version's file (the notebook, the dashboard's HTML, a strategy's source, a model): one of the
  // files the version lists, never a path made from the request.
  api.get('/registry/:kind/:name/versions/:ref/files/:file', (c) => {
    const v = registry.resolve(registryKind(c.req.param('kind')), `${c.req.param('name')}@${c.req.param('ref')}`)
    const listed = v.files.find((f) => f.name === c.req.param('file'))
    if (listed === undefined) throw new NotFoundError(`${v.kind}/${v.name}@${v.version} has no file ${JSON.stringify(c.req.param('file'))} (files: ${v.files.map((f) => f.name).join(', ')})`)
    return sendFile(c, listed.name, registry.readFile(v.kind, `${v.name}@${v.version}`, listed.name))
  })

  // ---- changes (token required: see app.ts) -------------------------------------------------------

  api.post('/runs/:id/tags', async (c) => {
    const body = await jsonBody(c)
    const key = text(body.key, 'key')
    tracker.setTag(c.req.param('id'), key, text(body.value, 'value'))
    return sendJson(c, { runId: c.req.param('id'), key, value: body.value })
  })

  api.post('/registry/:kind/:name/aliases', async (c) => {
    const body = await jsonBody(c)
    const kind = registryKind(c.req.param('kind'))
    registry.setAlias(kind, c.req.param('name'), text(body.alias, 'alias'), version(body.version), optionalText(body.reason, 'reason'))
    return sendJson(c, registry.entry(kind, c.req.param('name')).aliases)
  })

  api.delete('/registry/:kind/:name/aliases/:alias', (c) => {
    const kind = registryKind(c.req.param('kind'))
    registry.deleteAlias(kind, c.req.param('name'), c.req.param('alias'), c.req.query('reason'))
    return sendJson(c, registry.entry(kind, c.req.param('name')).aliases)
  })

  api.post('/registry/models/:name/versions/:version/stage', async (c) => {
    const body = await jsonBody(c)
    const after = registry.transitionStage(c.req.param('name'), version(c.req.param('version')), text(body.stage, 'stage') as never, {
      reason: optionalText(body.reason, 'reason'),
      archiveExisting: body.archiveExisting === true,
    })
    return sendJson(c, after)
  })

  for (const verb of ['retire', 'restore'] as const) {
    api.post(`/registry/:kind/:name/versions/:version/${verb}`, async (c) => {
      const body = await jsonBody(c, true)
      const kind = registryKind(c.req.param('kind'))
      const n = version(c.req.param('version'))
      const reason = optionalText(body.reason, 'reason')
      return sendJson(c, verb === 'retire' ? registry.retire(kind, c.req.param('name'), n, reason) : registry.restore(kind, c.req.param('name'), n, reason))
    })
  }
  return api
}

function jsonBytes(c: Context, cached: CachedAnswer): Response {
  return sendCached(c, cached, 200, 'application/json; charset=utf-8')
}

/** A stored file: known data types as themselves; anything a browser could run (HTML, SVG, scripts) or an
 * unknown type as a download, never rendered here. */
function sendFile(c: Context, file: string, bytes: Buffer): Response {
  const ext = file.split('.').pop()!.toLowerCase()
  // Own keys only: "x.constructor" found Object's constructor (a 500, and no attachment — an attack review).
  const known = Object.hasOwn(CONTENT_TYPES, ext) ? CONTENT_TYPES[ext] : undefined
  const type = known ?? 'application/octet-stream'
  const headers: Record<string, string> = { 'content-type': type, 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; sandbox" }
  if (known === undefined) headers['content-disposition'] = 'attachment'
  return c.body(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 200, headers)
}

/** The JSON bodies of the API (tags, aliases, stages, reasons) are small: 64 KiB is generous. */
const API_BODY_BYTES = 64 * 1024

async function jsonBody(c: Context, optional = false): Promise<Record<string, unknown>> {
  const raw = await c.req.text()
  if (raw.trim() === '') {
    if (optional) return {}
    throw new ConfigError('the request needs a JSON object body')
  }
  // Depth and size checked on the raw text first: nothing walks a hostile body (issue 18).
  const value = parseJsonBody(raw, 'the request body', { maxBytes: API_BODY_BYTES })
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError('the request body must be a JSON object')
  return value as Record<string, unknown>
}

export function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${field} must be a non-empty string (received ${preview(value)})`)
  return value
}

export function optionalText(value: unknown, field: string): string | undefined {
  return value === undefined || value === null ? undefined : text(value, field)
}

function version(value: unknown): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new ConfigError(`version must be an integer ≥ 1 (received ${preview(value)})`)
  return n
}

function positiveInt(value: string, field: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < 1) throw new ConfigError(`${field} must be an integer ≥ 1 (received ${preview(value)})`)
  return n
}

