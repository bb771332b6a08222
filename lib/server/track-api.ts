// Remote tracking under /api/track: what RemoteTracker and RemoteRegistry (lib/track/remote.ts) send — runs
// started, batches logged, runs ended, child runs in bulk, artifacts uploaded as raw bytes, registry versions
// registered — and the few reads they need that /api lacks. Every route needs the workspace token (app.ts);
// every body is checked here, field by field, and the local Tracker/Registry do the writing, so the
// workspace's locks and atomic writes hold for remote clients as for local ones. Numbers JSON cannot hold
// (NaN, ±Infinity) travel as the strings "NaN", "Infinity", "-Infinity".

import { Hono, type Context } from 'hono'
import { ConfigError, MAX_EPOCH_MS, preview } from '../core/index.js'
import { parseJsonBody } from './json-body.js'
import { optionalText, sendJson, text } from './api.js'
import { registryKind, RUN_STATUSES, type ChildRun, type Registry, type RunStatus, type StartRunOptions, type Tracker } from '../track/index.js'
import type { Lineage } from '../core/index.js'

export interface TrackApiDeps {
  home: string
  tracker: Tracker
  registry: Registry
}

/** JSON bodies (a batch of records, a sweep's child runs) up to 32 MiB; raw uploads have the app's upload cap. */
const JSON_BYTES = 32 * 2 ** 20
/** An artifact name: at most this many characters, each segment at most 255 bytes (a file name's limit). */
const MAX_NAME = 1000

export function trackRoutes(deps: TrackApiDeps): Hono {
  const { tracker, registry } = deps
  const api = new Hono()

  api.get('/ping', (c) => sendJson(c, { ok: true }))

  // ---- experiments ------------------------------------------------------------------------------
  api.get('/experiments', (c) => sendJson(c, tracker.listExperiments()))
  api.post('/experiments', async (c) => sendJson(c, tracker.experiment(text((await body(c)).name, 'name'))))
  api.get('/experiment', (c) => sendJson(c, tracker.getExperiment(text(c.req.query('ref'), 'ref'))))
  api.get('/experiments/:id/index', (c) => sendJson(c, [...tracker.indexedRuns(tracker.getExperiment(c.req.param('id')).id).values()]))
  api.post('/experiments/:id/reindex', (c) => sendJson(c, tracker.reindex(c.req.param('id'))))

  // ---- runs: writes -----------------------------------------------------------------------------
  api.post('/runs', async (c) => {
    const b = await body(c)
    const options: StartRunOptions = {
      experiment: optionalText(b.experiment, 'experiment'),
      name: optionalText(b.name, 'name'),
      params: optionalRecord(b.params, 'params', ['string', 'number', 'boolean']),
      tags: optionalRecord(b.tags, 'tags', ['string']) as Record<string, string> | undefined,
      parentRunId: optionalText(b.parentRunId, 'parentRunId'),
      lineage: lineageOf(b.lineage, 'lineage'),
      // Recorded as the run's host and pid (startRun checks them); the server's own are meaningless here.
      origin: optionalObject(b.origin, 'origin') as StartRunOptions['origin'],
      // The client keeps the run's heartbeat (POST …/heartbeat): a timer in this process would keep an
      // abandoned run alive for as long as the server runs, and the run is judged by those beats alone.
      heartbeat: false,
    }
    const run = tracker.startRun(options)
    return sendJson(c, tracker.getRun(run.id))
  })

  api.post('/runs/:id/batch', async (c) => {
    const b = await body(c)
    tracker.logBatch(c.req.param('id'), {
      params: optionalRecord(b.params, 'params', ['string', 'number', 'boolean']),
      tags: optionalRecord(b.tags, 'tags', ['string']) as Record<string, string> | undefined,
      metrics: metrics(b.metrics),
    })
    return sendJson(c, { ok: true })
  })

  api.post('/runs/:id/end', async (c) => {
    const b = await body(c)
    const status = b.status === undefined ? 'FINISHED' : b.status
    if (!RUN_STATUSES.includes(status as RunStatus)) throw new ConfigError(`status must be one of ${RUN_STATUSES.join(', ')} (received ${preview(status)})`)
    const endTime = b.endTime === undefined ? undefined : time(b.endTime, 'endTime')
    return sendJson(c, tracker.endRun(c.req.param('id'), status as RunStatus, endTime))
  })

  api.post('/runs/:id/children', async (c) => {
    const b = await body(c)
    if (!Array.isArray(b.children)) throw new ConfigError(`children must be an array of child runs (received ${preview(b.children)})`)
    const children = b.children.map((raw, i) => child(raw, `children[${i}]`))
    return sendJson(c, { runIds: tracker.logChildRuns(c.req.param('id'), children) })
  })

  api.post('/runs/:id/heartbeat', (c) => {
    tracker.runDir(c.req.param('id'))
    tracker.beat(c.req.param('id'))
    return sendJson(c, { ok: true })
  })

  // The raw bytes are the body; the name is checked as Tracker.logArtifact checks it (no "..", no absolute
  // path, no backslash, no NUL, no "%") and for length, before anything is written.
  api.put('/runs/:id/artifact', async (c) => {
    const name = artifactName(c.req.query('name'))
    const id = c.req.param('id')
    tracker.runDir(id)
    const bytes = new Uint8Array(await c.req.arrayBuffer())
    return sendJson(c, tracker.logArtifact(id, { name, data: bytes }))
  })

  // Lifecycle (lib/track/lifecycle.ts): soft delete, restore and gc, checked against this workspace's
  // registry and deployments. Declared before /runs/:id/… so "delete" and "restore" are never run ids.
  api.post('/runs/delete', async (c) => {
    const b = await body(c)
    return sendJson(c, tracker.deleteRuns(stringArray(b.runIds, 'runIds'), { reason: optionalText(b.reason, 'reason'), force: optionalFlag(b.force, 'force') }))
  })
  api.post('/runs/restore', async (c) => sendJson(c, tracker.restoreRuns(stringArray((await body(c)).runIds, 'runIds'))))
  api.post('/gc', async (c) => {
    const b = await body(c)
    if (b.olderThanMs !== undefined && (typeof b.olderThanMs !== 'number' || !Number.isSafeInteger(b.olderThanMs) || b.olderThanMs < 0)) throw new ConfigError(`olderThanMs must be an integer ≥ 0 (received ${preview(b.olderThanMs)})`)
    return sendJson(c, tracker.gc({ olderThanMs: b.olderThanMs as number | undefined, dryRun: optionalFlag(b.dryRun, 'dryRun'), force: optionalFlag(b.force, 'force') }))
  })

  api.post('/runs/:id/mark-stale', (c) => sendJson(c, { marked: tracker.markStaleRun(tracker.getRun(c.req.param('id')).info) }))
  api.post('/mark-stale', (c) => sendJson(c, { runIds: tracker.markStaleRuns() }))

  // ---- runs: reads ------------------------------------------------------------------------------
  api.get('/runs/:id', (c) => sendJson(c, tracker.getRun(c.req.param('id'))))
  api.get('/runs/:id/metrics', (c) => sendJson(c, tracker.metricHistory(c.req.param('id'), c.req.query('key'))))
  api.get('/runs/:id/children', (c) => sendJson(c, tracker.childRuns(c.req.param('id'))))
  api.get('/runs/:id/artifacts', (c) => sendJson(c, tracker.listArtifacts(c.req.param('id'))))
  api.get('/runs/:id/artifact', (c) => {
    const { artifact, bytes } = tracker.readArtifact(c.req.param('id'), text(c.req.query('path'), 'path'))
    return c.body(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 200, {
      'content-type': 'application/octet-stream',
      'x-mtflow-artifact': encodeURIComponent(JSON.stringify(artifact)),
    })
  })
  api.get('/runs/:id/stamp', (c) => sendJson(c, { stamp: tracker.runStamp(c.req.param('id')) }))
  api.get('/runs/:id/torn', (c) => sendJson(c, tracker.tornRecords(c.req.param('id'))))
  api.get('/runs/:id/stale-reason', (c) => sendJson(c, { reason: tracker.staleReason(tracker.getRun(c.req.param('id')).info) ?? null }))
  api.get('/summaries', (c) => {
    const ids = c.req.queries('experiment')
    return sendJson(c, tracker.summaries(ids === undefined ? undefined : ids.map((id) => tracker.getExperiment(id).id)))
  })

  // ---- registry writes that /api lacks (aliases, stages, retire and restore are there) ------------
  api.post('/registry/:kind/:name/versions', async (c) => {
    const kind = registryKind(c.req.param('kind'))
    const { options, files } = decodeRegisterBody(new Uint8Array(await c.req.arrayBuffer()))
    return sendJson(c, registry.register(kind, c.req.param('name'), { ...options, files }))
  })
  api.post('/registry/:kind/:name/versions/:version/runs', async (c) => {
    const b = await body(c)
    const runIds = stringArray(b.runIds, 'runIds')
    return sendJson(c, registry.linkRuns(registryKind(c.req.param('kind')), c.req.param('name'), version(c.req.param('version')), runIds, optionalText(b.reason, 'reason')))
  })
  api.post('/registry/strategies/:name/versions/:version/parity', async (c) => {
    const b = await body(c)
    const p = optionalObject(b.parity, 'parity')
    if (p === undefined) throw new ConfigError('parity must be an object (received undefined)')
    return sendJson(c, registry.recordParity(c.req.param('name'), version(c.req.param('version')), p as never))
  })
  api.get('/registry/:kind/:name/damaged', (c) => sendJson(c, registry.damagedFiles(registryKind(c.req.param('kind')), c.req.param('name'))))
  return api
}

// ---- bodies ---------------------------------------------------------------------------------------------

async function body(c: Context): Promise<Record<string, unknown>> {
  const raw = await c.req.text()
  if (raw.trim() === '') return {}
  const value = parseJsonBody(raw, 'the request body', { maxBytes: JSON_BYTES })
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`the request body must be a JSON object (received ${preview(value)})`)
  return value as Record<string, unknown>
}


/** A run's lineage, checked field by field (Lineage in lib/core/lineage.ts): nothing is written for a bad one. */
function lineageOf(value: unknown, field: string): Lineage | undefined {
  const o = optionalObject(value, field)
  if (o === undefined) return undefined
  const known = ['data', 'strategy', 'notebook', 'paramsSha256', 'gitCommit', 'strategyPriorRuns', 'runs']
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new ConfigError(`${field}.${k.slice(0, 40)} is not a lineage field (expected ${known.join(', ')})`)
  const text = (v: unknown, f: string, optional = false): string | undefined => {
    if (optional && (v === undefined || v === null)) return undefined
    if (typeof v !== 'string' || v === '' || v.length > 1000) throw new ConfigError(`${f} must be a non-empty string of at most 1000 characters (received ${preview(v)})`)
    return v
  }
  const out: Lineage = {}
  if (o.data !== undefined) {
    if (!Array.isArray(o.data) || o.data.length > 10_000) throw new ConfigError(`${field}.data must be an array of { name, sha256 } (received ${preview(o.data)})`)
    out.data = o.data.map((d, i) => {
      const e = optionalObject(d, `${field}.data[${i}]`) ?? {}
      return { name: text(e.name, `${field}.data[${i}].name`)!, sha256: text(e.sha256, `${field}.data[${i}].sha256`)! }
    })
  }
  if (o.strategy !== undefined) {
    const e = optionalObject(o.strategy, `${field}.strategy`) ?? {}
    const file = text(e.file, `${field}.strategy.file`, true)
    out.strategy = { name: text(e.name, `${field}.strategy.name`)!, sha256: text(e.sha256, `${field}.strategy.sha256`)!, ...(file === undefined ? {} : { file }) }
  }
  if (o.notebook !== undefined) {
    const e = optionalObject(o.notebook, `${field}.notebook`) ?? {}
    out.notebook = { path: text(e.path, `${field}.notebook.path`)!, sha256: text(e.sha256, `${field}.notebook.sha256`)! }
  }
  for (const k of ['paramsSha256', 'gitCommit'] as const) {
    const v = text(o[k], `${field}.${k}`, true)
    if (v !== undefined) out[k] = v
  }
  if (o.strategyPriorRuns !== undefined) {
    if (typeof o.strategyPriorRuns !== 'number' || !Number.isInteger(o.strategyPriorRuns) || o.strategyPriorRuns < 0) throw new ConfigError(`${field}.strategyPriorRuns must be an integer ≥ 0 (received ${preview(o.strategyPriorRuns)})`)
    out.strategyPriorRuns = o.strategyPriorRuns
  }
  if (o.runs !== undefined) {
    if (!Array.isArray(o.runs) || o.runs.length > 10_000) throw new ConfigError(`${field}.runs must be an array of run ids (received ${preview(o.runs)})`)
    out.runs = o.runs.map((r, i) => text(r, `${field}.runs[${i}]`)!)
  }
  return out
}

function optionalObject(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${field} must be an object (received ${preview(value)})`)
  return value as Record<string, unknown>
}

function optionalRecord(value: unknown, field: string, types: readonly string[]): Record<string, string | number | boolean> | undefined {
  const o = optionalObject(value, field)
  if (o === undefined) return undefined
  for (const [k, v] of Object.entries(o)) {
    if (!types.includes(typeof v)) throw new ConfigError(`${field}.${k.slice(0, 100)} must be a ${types.join(' or ')} (received ${preview(v)})`)
  }
  return o as Record<string, string | number | boolean>
}

function optionalFlag(value: unknown, field: string): boolean | undefined {
  if (value !== undefined && value !== null && typeof value !== 'boolean') throw new ConfigError(`${field} must be true or false (received ${preview(value)})`)
  return value === true ? true : value === false ? false : undefined
}

function stringArray(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ConfigError(`${field} must be an array of strings (received ${preview(value)})`)
  return value as string[]
}

/** A number as sent: a JSON number, or "NaN", "Infinity", "-Infinity". */
function wireNumber(value: unknown, field: string): number {
  if (typeof value === 'number') return value
  if (value === 'NaN') return Number.NaN
  if (value === 'Infinity') return Number.POSITIVE_INFINITY
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY
  throw new ConfigError(`${field} must be a number (or "NaN", "Infinity", "-Infinity") (received ${preview(value)})`)
}

function time(value: unknown, field: string): number {
  // Past the last instant a Date holds every page showing the time failed (RangeError; an attack review).
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_EPOCH_MS) throw new ConfigError(`${field} must be epoch milliseconds from 0 to 8.64e15, the last a Date holds (received ${preview(value)})`)
  return value
}

function metrics(value: unknown): { key: string; value: number; step?: number; timestamp?: number }[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw new ConfigError(`metrics must be an array of { key, value, step, timestamp } (received ${preview(value)})`)
  return value.map((m: unknown, i) => {
    const o = optionalObject(m, `metrics[${i}]`)
    if (o === undefined) throw new ConfigError(`metrics[${i}] must be an object { key, value, step, timestamp } (received ${preview(m)})`)
    return {
      key: text(o.key, `metrics[${i}].key`),
      value: wireNumber(o.value, `metrics[${i}].value`),
      ...(o.step === undefined ? {} : { step: o.step as number }),
      ...(o.timestamp === undefined ? {} : { timestamp: o.timestamp as number }),
    }
  })
}

function child(raw: unknown, field: string): ChildRun {
  const o = optionalObject(raw, field)
  if (o === undefined) throw new ConfigError(`${field} must be an object (received ${preview(raw)})`)
  const status = o.status
  if (status !== undefined && !RUN_STATUSES.includes(status as RunStatus)) throw new ConfigError(`${field}.status must be one of ${RUN_STATUSES.join(', ')} (received ${preview(status)})`)
  const m = optionalObject(o.metrics, `${field}.metrics`)
  const metricValues: Record<string, number> = {}
  for (const [k, v] of Object.entries(m ?? {})) metricValues[k] = wireNumber(v, `${field}.metrics.${k.slice(0, 100)}`)
  return {
    name: optionalText(o.name, `${field}.name`),
    params: optionalRecord(o.params, `${field}.params`, ['string', 'number', 'boolean']),
    tags: optionalRecord(o.tags, `${field}.tags`, ['string']) as Record<string, string> | undefined,
    metrics: metricValues,
    status: status as RunStatus | undefined,
    startTime: o.startTime === undefined ? undefined : time(o.startTime, `${field}.startTime`),
    endTime: o.endTime === undefined ? undefined : time(o.endTime, `${field}.endTime`),
    lineage: lineageOf(o.lineage, `${field}.lineage`),
  }
}

function artifactName(value: unknown): string {
  const name = text(value, 'name')
  if (name.length > MAX_NAME || name.split('/').some((s) => Buffer.byteLength(s) > 255)) throw new ConfigError(`artifact name is ${name.length} characters; at most ${MAX_NAME}, and at most 255 bytes between slashes`)
  if (name.includes('\0') || name.includes('\\') || name.includes('%') || name.startsWith('/') || /^[a-zA-Z]:/.test(name) || name.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new ConfigError(`artifact name ${JSON.stringify(name)} must be a relative path ("/"-separated, no "..", no backslash, no NUL, no "%")`)
  }
  return name
}

function version(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new ConfigError(`version must be an integer ≥ 1 (received ${preview(value)})`)
  return Number(value)
}


/**
 * A registration body: a 4-byte big-endian header length, the header (JSON: `options`, the register options
 * without files, and `files`, each `{ name, size }`), then the files' bytes one after the other.
 */
export function decodeRegisterBody(bytes: Uint8Array): { options: Record<string, unknown>; files: Record<string, Uint8Array> } {
  if (bytes.length < 4) throw new ConfigError('the registration body is too short: expected a 4-byte header length, a JSON header and the files')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLength = view.getUint32(0)
  if (headerLength > bytes.length - 4 || headerLength > JSON_BYTES) throw new ConfigError(`the registration header is ${headerLength} bytes; the body has ${bytes.length - 4} after the length`)
  const header = parseJsonBody(Buffer.from(bytes.buffer, bytes.byteOffset + 4, headerLength).toString('utf8'), 'the registration header', { maxBytes: JSON_BYTES })
  const h = optionalObject(header, 'the registration header')
  if (h === undefined) throw new ConfigError('the registration header must be a JSON object')
  const options = optionalObject(h.options, 'options') ?? {}
  if ('files' in options) throw new ConfigError('options.files must not be set: the files follow the header')
  for (const f of ['description', 'sourceRunId', 'source', 'reason'] as const) optionalText(options[f], `options.${f}`)
  if (options.runs !== undefined) stringArray(options.runs, 'options.runs')
  if (options.dedupe !== undefined && typeof options.dedupe !== 'boolean') throw new ConfigError(`options.dedupe must be true or false (received ${preview(options.dedupe)})`)
  optionalObject(options.params, 'options.params')
  optionalObject(options.metadata, 'options.metadata')
  if (!Array.isArray(h.files)) throw new ConfigError(`files must be an array of { name, size } (received ${preview(h.files)})`)
  // No prototype: a file named "__proto__" is a file like any other.
  const files: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>
  let at = 4 + headerLength
  for (const [i, raw] of h.files.entries()) {
    const f = optionalObject(raw, `files[${i}]`)
    const name = text(f?.name, `files[${i}].name`)
    const size = f?.size
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || at + size > bytes.length) throw new ConfigError(`files[${i}].size must be the byte count that follows (received ${preview(size)}; ${bytes.length - at} bytes left)`)
    if (Object.prototype.hasOwnProperty.call(files, name)) throw new ConfigError(`files[${i}].name ${JSON.stringify(name)} is given twice`)
    files[name] = bytes.subarray(at, at + size)
    at += size
  }
  if (at !== bytes.length) throw new ConfigError(`the registration body has ${bytes.length - at} bytes past its files`)
  return { options, files }
}
