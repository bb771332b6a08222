// Reading a scoring request and scoring it, with nothing of the HTTP server: the same code runs on the
// server's thread for small batches and in a worker thread (score-worker.ts) for big ones. Inputs are
// checked against the package's signature; every message quotes at most 200 characters of what was sent.

import { capMessage, ConfigError, preview } from '../core/index.js'
import type { Matrix, Model, ModelPackage, SignatureField } from '../ml/index.js'
import { parseJsonBody } from './json-body.js'

/** Rows one request may score. */
export const MAX_ROWS = 100_000

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
      if (typeof c !== 'string') throw new ConfigError(`dataframe_split.columns[${i}] must be a string (received ${preview(c)})`)
    })
    checkNames(columns as string[], fields)
    const at = fields.map((f) => (columns as string[]).indexOf(f.name))
    checkRowCount(split.data.length)
    records = (split.data as unknown[]).map((row, r) => {
      if (!Array.isArray(row) || row.length !== columns.length) throw new ConfigError(`dataframe_split.data[${r}] must be an array of ${columns.length} values (received ${Array.isArray(row) ? `${row.length} values` : preview(row)})`)
      return at.map((i) => row[i])
    })
  } else {
    const list = b[formats[0]!]
    if (!Array.isArray(list)) throw new ConfigError(`"${formats[0]}" must be an array of rows`)
    checkRowCount(list.length)
    records = list.map((row, r) => {
      if (Array.isArray(row)) {
        if (formats[0] === 'dataframe_records') throw new ConfigError(`dataframe_records[${r}] must be an object of field: value`)
        if (row.length !== fields.length) throw new ConfigError(`inputs[${r}] has ${row.length} values; the model takes ${fields.length} (${capMessage(fields.map((f) => f.name).join(', '), 200)})`)
        return row
      }
      if (row === null || typeof row !== 'object') throw new ConfigError(`${formats[0]}[${r}] must be an object of field: value (received ${preview(row)})`)
      checkNames(Object.keys(row), fields, r)
      return fields.map((f) => (row as Record<string, unknown>)[f.name])
    })
  }
  const features = fields.filter((f) => f.type !== 'string')
  const keyIndex = fields.findIndex((f) => f.type === 'string')
  const X = new Float64Array(records.length * features.length)
  const keys: string[] = []
  records.forEach((row, r) => {
    let c = 0
    fields.forEach((f, i) => {
      const v = row[i]
      if (f.type === 'string') {
        if (typeof v !== 'string') throw new ConfigError(`field "${f.name}" at row ${r} must be a string (received ${preview(v)})`)
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
  if (missing !== undefined) throw new ConfigError(`missing input field ${preview(missing.name)}${where} (the model takes ${capMessage(fields.map((f) => f.name).join(', '), 200)})`)
  const extra = names.find((n) => !fields.some((f) => f.name === n))
  if (extra !== undefined) throw new ConfigError(`unexpected input field ${preview(extra)}${where} (the model takes ${capMessage(fields.map((f) => f.name).join(', '), 200)})`)
}

function numberOf(v: unknown, f: SignatureField, r: number): number {
  if (v === null || v === 'NaN' || (typeof v === 'number' && Number.isNaN(v))) {
    if (f.nullable === true) return NaN
    throw new ConfigError(`field "${f.name}" at row ${r} is ${v === null ? 'null' : 'NaN'}; the model does not accept missing values`)
  }
  if (f.type === 'boolean') {
    if (typeof v !== 'boolean') throw new ConfigError(`field "${f.name}" at row ${r} must be a boolean (received ${preview(v)})`)
    return v ? 1 : 0
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`field "${f.name}" at row ${r} must be a finite number (received ${preview(v)})`)
  if (f.type === 'integer' && !Number.isInteger(v)) throw new ConfigError(`field "${f.name}" at row ${r} must be an integer (received ${v})`)
  return v
}

/** Predictions (and class probabilities for classifiers) as the response body. */
export function score(loaded: { pkg: ModelPackage; model: Model }, m: Matrix): Record<string, unknown> {
  const predictions = Array.from(loaded.model.predict(m))
  const classes = loaded.pkg.signature.output.classes
  if (loaded.model.task !== 'classification' || classes === undefined) return { predictions }
  const proba = loaded.model.predictProba(m)
  const k = classes.length
  return { predictions, classes, probabilities: Array.from({ length: m.rows }, (_, r) => Array.from(proba.subarray(r * k, r * k + k))) }
}

/** Bytes one scoring request may hold (the app's body limit, 1 MiB by default, usually comes first). */
export const MAX_INVOCATION_BYTES = 64 * 2 ** 20

/** The body text of POST /invocations as the model's matrix: size and depth checked before parsing. */
export function readInvocation(text: string, pkg: ModelPackage): Matrix {
  return parseInvocation(parseJsonBody(text, 'the body', { maxBytes: MAX_INVOCATION_BYTES }), pkg)
}

/** The response body, serialized (numbers JSON cannot hold as the strings "NaN", "Infinity", "-Infinity"). */
export function scoreToJson(loaded: { pkg: ModelPackage; model: Model }, m: Matrix): string {
  return resultToJson(score(loaded, m))
}

/** A scored result (score's object) as the response body. */
export function resultToJson(result: Record<string, unknown>): string {
  return JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))
}

/** Checked before any row is copied. */
function checkRowCount(rows: number): void {
  if (rows === 0) throw new ConfigError('no rows to score')
  if (rows > MAX_ROWS) throw new ConfigError(`${rows} rows in one request; at most ${MAX_ROWS}`)
}
