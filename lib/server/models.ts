// Model serving, MLflow-compatible: POST /invocations scores rows, GET /ping answers when the model is
// loaded, GET /version describes it. Inputs are checked against the package's signature — a missing or
// extra feature, a wrong type, a null/NaN where none is allowed is a 400 naming the field and row — and
// the model is rebuilt from numbers (a package is data; nothing in it is ever evaluated).
//   { "inputs": [ {"z": 1.2, …}, … ] }            records (or rows as arrays, in signature order)
//   { "dataframe_split": { "columns": […], "data": [[…], …] } }
//   { "dataframe_records": [ {…}, … ] }

import type { Context } from 'hono'
import { Hono } from 'hono'
import { ConfigError } from '../core/index.js'
import { loadPackage, type Matrix, type Model, type ModelPackage, type SignatureField } from '../ml/index.js'
import type { Registry } from '../track/index.js'
import { sendJson } from './api.js'

/** Rows one request may score. */
export const MAX_ROWS = 100_000

export interface LoadedModel {
  name: string
  version: number
  pkg: ModelPackage
  model: Model
}

/** The rows of a request body as the model's matrix (and the router's keys). */
export function parseInvocation(body: unknown, pkg: ModelPackage): Matrix {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ConfigError('the body must be a JSON object with "inputs", "dataframe_split" or "dataframe_records"')
  const b = body as Record<string, unknown>
  const formats = ['inputs', 'dataframe_split', 'dataframe_records'].filter((k) => k in b)
  if (formats.length !== 1) throw new ConfigError(`the body needs exactly one of "inputs", "dataframe_split", "dataframe_records" (found ${formats.length === 0 ? 'none' : formats.join(', ')})`)
  const fields = pkg.signature.inputs
  let records: (readonly unknown[])[]
  if (formats[0] === 'dataframe_split') {
    const split = b.dataframe_split as { columns?: unknown; data?: unknown } | null
    if (split === null || typeof split !== 'object' || !Array.isArray(split.columns) || !Array.isArray(split.data)) throw new ConfigError('dataframe_split needs "columns" (an array of names) and "data" (an array of rows)')
    const columns = split.columns as unknown[]
    columns.forEach((c, i) => {
      if (typeof c !== 'string') throw new ConfigError(`dataframe_split.columns[${i}] must be a string (received ${JSON.stringify(c)})`)
    })
    checkNames(columns as string[], fields)
    const at = fields.map((f) => (columns as string[]).indexOf(f.name))
    records = (split.data as unknown[]).map((row, r) => {
      if (!Array.isArray(row) || row.length !== columns.length) throw new ConfigError(`dataframe_split.data[${r}] must be an array of ${columns.length} values (received ${Array.isArray(row) ? `${row.length} values` : JSON.stringify(row)})`)
      return at.map((i) => row[i])
    })
  } else {
    const list = b[formats[0]!]
    if (!Array.isArray(list)) throw new ConfigError(`"${formats[0]}" must be an array of rows`)
    records = list.map((row, r) => {
      if (Array.isArray(row)) {
        if (formats[0] === 'dataframe_records') throw new ConfigError(`dataframe_records[${r}] must be an object of field: value`)
        if (row.length !== fields.length) throw new ConfigError(`inputs[${r}] has ${row.length} values; the model takes ${fields.length} (${fields.map((f) => f.name).join(', ')})`)
        return row
      }
      if (row === null || typeof row !== 'object') throw new ConfigError(`${formats[0]}[${r}] must be an object of field: value (received ${JSON.stringify(row)})`)
      checkNames(Object.keys(row), fields, r)
      return fields.map((f) => (row as Record<string, unknown>)[f.name])
    })
  }
  if (records.length === 0) throw new ConfigError('no rows to score')
  if (records.length > MAX_ROWS) throw new ConfigError(`${records.length} rows in one request; at most ${MAX_ROWS}`)
  const features = fields.filter((f) => f.type !== 'string')
  const keyIndex = fields.findIndex((f) => f.type === 'string')
  const X = new Float64Array(records.length * features.length)
  const keys: string[] = []
  records.forEach((row, r) => {
    let c = 0
    fields.forEach((f, i) => {
      const v = row[i]
      if (f.type === 'string') {
        if (typeof v !== 'string') throw new ConfigError(`field "${f.name}" at row ${r} must be a string (received ${JSON.stringify(v)})`)
        if (i === keyIndex) keys.push(v)
        return
      }
      X[r * features.length + c++] = numberOf(v, f, r)
    })
  })
  const m: Matrix = { X, rows: records.length, columns: features.map((f) => f.name) }
  if (keyIndex >= 0) m.keys = keys
  return m
}

/** Exactly the signature's fields (checked per record: the common case, all present, costs one pass). */
function checkNames(names: readonly string[], fields: readonly SignatureField[], row?: number): void {
  const where = row === undefined ? '' : ` at row ${row}`
  if (names.length === fields.length && fields.every((f, i) => names[i] === f.name)) return
  const missing = fields.find((f) => !names.includes(f.name))
  if (missing !== undefined) throw new ConfigError(`missing input field "${missing.name}"${where} (the model takes ${fields.map((f) => f.name).join(', ')})`)
  const extra = names.find((n) => !fields.some((f) => f.name === n))
  if (extra !== undefined) throw new ConfigError(`unexpected input field "${extra}"${where} (the model takes ${fields.map((f) => f.name).join(', ')})`)
}

function numberOf(v: unknown, f: SignatureField, r: number): number {
  if (v === null || v === 'NaN' || (typeof v === 'number' && Number.isNaN(v))) {
    if (f.nullable === true) return NaN
    throw new ConfigError(`field "${f.name}" at row ${r} is ${v === null ? 'null' : 'NaN'}; the model does not accept missing values`)
  }
  if (f.type === 'boolean') {
    if (typeof v !== 'boolean') throw new ConfigError(`field "${f.name}" at row ${r} must be a boolean (received ${JSON.stringify(v)})`)
    return v ? 1 : 0
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`field "${f.name}" at row ${r} must be a finite number (received ${JSON.stringify(v)})`)
  if (f.type === 'integer' && !Number.isInteger(v)) throw new ConfigError(`field "${f.name}" at row ${r} must be an integer (received ${v})`)
  return v
}

/** Predictions (and class probabilities for classifiers) as the response body. */
export function score(loaded: LoadedModel, m: Matrix): Record<string, unknown> {
  const predictions = Array.from(loaded.model.predict(m))
  const classes = loaded.pkg.signature.output.classes
  if (loaded.model.task !== 'classification' || classes === undefined) return { predictions }
  const proba = loaded.model.predictProba(m)
  const k = classes.length
  return { predictions, classes, probabilities: Array.from({ length: m.rows }, (_, r) => Array.from(proba.subarray(r * k, r * k + k))) }
}

function describe(loaded: LoadedModel): Record<string, unknown> {
  const { pkg } = loaded
  return { name: loaded.name, version: loaded.version, family: pkg.family, task: pkg.task, signature: pkg.signature, dataSnapshot: pkg.dataSnapshot, metrics: pkg.metrics, runId: pkg.runId ?? null, createdAt: pkg.createdAt }
}

async function invocations(c: Context, loaded: LoadedModel): Promise<Response> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/json\b/i.test(type)) return sendJson(c, { error: `send the rows as JSON (Content-Type: application/json; received ${JSON.stringify(type)})` }, 415)
  let body: unknown
  try {
    body = JSON.parse(await c.req.text())
  } catch (error) {
    return sendJson(c, { error: `the body is not JSON: ${error instanceof Error ? error.message : String(error)}` }, 400)
  }
  try {
    return sendJson(c, score(loaded, parseInvocation(body, loaded.pkg)))
  } catch (error) {
    if (error instanceof ConfigError) return sendJson(c, { error: error.message }, 400)
    throw error
  }
}

/** The three routes for one loaded model, at the root of an app (`mtflow models serve`). */
export function modelRoutes(app: Hono, loaded: LoadedModel): Hono {
  app.get('/ping', (c) => sendJson(c, { status: 'ok', model: `${loaded.name}@${loaded.version}` }))
  app.get('/version', (c) => sendJson(c, describe(loaded)))
  app.post('/invocations', (c) => invocations(c, loaded))
  return app
}

/** Inside `mtflow serve`: /models/NAME@REF/{ping,version,invocations}, the alias resolved at each request
 * (moving an alias moves the traffic), each version loaded once. */
export function registryModelRoutes(registry: Registry): Hono {
  const cache = new Map<string, LoadedModel>()
  const load = (ref: string): LoadedModel => {
    const v = registry.resolve('models', ref)
    const key = `${v.name}@${v.version}`
    let loaded = cache.get(key)
    if (loaded === undefined) {
      const { pkg, model } = loadPackage(registry, key)
      loaded = { name: v.name, version: v.version, pkg, model }
      if (cache.size >= 32) cache.delete(cache.keys().next().value!)
      cache.set(key, loaded)
    }
    return loaded
  }
  const app = new Hono()
  app.get('/:ref/ping', (c) => {
    const loaded = load(c.req.param('ref'))
    return sendJson(c, { status: 'ok', model: `${loaded.name}@${loaded.version}` })
  })
  app.get('/:ref/version', (c) => sendJson(c, describe(load(c.req.param('ref')))))
  app.post('/:ref/invocations', (c) => invocations(c, load(c.req.param('ref'))))
  return app
}

/** A model loaded once from the registry, for `mtflow models serve NAME@ALIAS`. */
export function loadServedModel(registry: Registry, ref: string): LoadedModel {
  const { pkg, model, name, version } = loadPackage(registry, ref)
  return { name, version, pkg, model }
}
