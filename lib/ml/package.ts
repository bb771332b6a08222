// Packaged models: one JSON document holding the fitted model (numbers only — a package is data, never
// code), its signature (the features it reads, their types, the label), the hash of the data it was
// trained on, its cross-validated metrics and the run that made it. Packages round-trip exactly and are
// stored in, and loaded from, the registry by version or alias.

import { readFileSync } from 'node:fs'
import { ConfigError, sha256 } from '../core/index.js'
import { modelFromJSON, type Labeled, type Model, type ModelJSON, type Task } from './model.js'

export const PACKAGE_FORMAT = 'mtflow-model'
export const PACKAGE_VERSION = 1

export type FieldType = 'double' | 'integer' | 'boolean' | 'string'

export interface SignatureField {
  name: string
  type: FieldType
  /** NaN / null accepted (default false: tree models cannot take them). */
  nullable?: boolean
}

export interface Signature {
  inputs: SignatureField[]
  /** The label (classifiers: its classes). */
  output: { name: string; type: FieldType; classes?: number[] }
}

export interface ModelPackage {
  format: typeof PACKAGE_FORMAT
  formatVersion: number
  family: string
  task: Task
  signature: Signature
  model: ModelJSON
  /** sha256 of the training data (columns, X and y bytes), or the lake snapshot hash it was built from. */
  dataSnapshot: string
  trainingRows: number
  /** Cross-validated metrics (mean over folds), e.g. { accuracy: 0.61, rocAuc: 0.64 }. */
  metrics: Record<string, number>
  /** The tracking run that trained it. */
  runId?: string
  createdAt: number
  description?: string
}

export interface PackageOptions {
  /** The training data: the signature and the data hash come from it. */
  data: Labeled
  /** The label's name in the signature (default "label"). */
  label?: string
  metrics?: Record<string, number>
  runId?: string
  /** Override the data hash (e.g. the lake snapshot the dataset was built from). */
  dataSnapshot?: string
  /** Per-feature types other than 'double', or nullable fields. */
  fields?: Record<string, Partial<Omit<SignatureField, 'name'>>>
  description?: string
  /** Extra inputs before the features (the router's key). */
  keyField?: SignatureField
}

/** The sha256 of a training set: column names, then X and y as little-endian float64 bytes. */
export function dataHash(data: Labeled): string {
  const y = Float64Array.from(data.y)
  const header = Buffer.from(`${JSON.stringify(data.columns)}\n${data.rows}\n`, 'utf8')
  return sha256(Buffer.concat([header, Buffer.from(data.X.buffer, data.X.byteOffset, data.X.byteLength), Buffer.from(y.buffer)]))
}

/** A fitted model as a package (its JSON taken now: later refits do not change the package). */
export function packageModel(model: Model, options: PackageOptions): ModelPackage {
  const json = model.toJSON()
  const { data } = options
  if (data.columns.length !== json.columns.length || data.columns.some((c, i) => c !== json.columns[i])) {
    throw new ConfigError(`the data's features [${data.columns.join(', ')}] are not the model's [${json.columns.join(', ')}]`)
  }
  for (const name of Object.keys(options.fields ?? {})) {
    if (!json.columns.includes(name)) throw new ConfigError(`fields names ${JSON.stringify(name)}, which is not a feature of the model (${json.columns.join(', ')})`)
  }
  const inputs: SignatureField[] = json.columns.map((name) => ({ name, type: 'double', nullable: false, ...(options.fields?.[name] ?? {}) }))
  // A router reads its key (e.g. the pair) before the features.
  const key = options.keyField ?? (json.type === 'router' ? { name: String((json as ModelJSON & { key?: string }).key), type: 'string' as const } : undefined)
  if (key !== undefined) inputs.unshift(key)
  const pkg: ModelPackage = {
    format: PACKAGE_FORMAT,
    formatVersion: PACKAGE_VERSION,
    family: model.family,
    task: model.task,
    signature: { inputs, output: { name: options.label ?? 'label', type: 'double', ...(json.classes === undefined ? {} : { classes: json.classes }) } },
    model: JSON.parse(JSON.stringify(json)) as ModelJSON,
    dataSnapshot: options.dataSnapshot ?? dataHash(data),
    trainingRows: data.rows,
    metrics: { ...(options.metrics ?? {}) },
    createdAt: Date.now(),
    ...(options.runId === undefined ? {} : { runId: options.runId }),
    ...(options.description === undefined ? {} : { description: options.description }),
  }
  checkPackage(pkg)
  return pkg
}

/** The package as stored: stable key order, numbers written exactly (JSON's shortest round-trip form). */
export function serializePackage(pkg: ModelPackage): string {
  return `${JSON.stringify(pkg)}\n`
}

/** A package from its stored text, checked; its model rebuilt. */
export function readPackage(text: string, where = 'model package'): { pkg: ModelPackage; model: Model } {
  let pkg: ModelPackage
  try {
    pkg = JSON.parse(text) as ModelPackage
  } catch (error) {
    throw new ConfigError(`${where} is not JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  checkPackage(pkg, where)
  return { pkg, model: modelFromJSON(pkg.model) }
}

function checkPackage(pkg: ModelPackage, where = 'model package'): void {
  if (pkg === null || typeof pkg !== 'object' || pkg.format !== PACKAGE_FORMAT) throw new ConfigError(`${where} is not an ${PACKAGE_FORMAT} package (format: ${JSON.stringify((pkg as { format?: unknown } | null)?.format)})`)
  if (pkg.formatVersion !== PACKAGE_VERSION) throw new ConfigError(`${where} has format version ${pkg.formatVersion}; this mtflow reads version ${PACKAGE_VERSION}`)
  if (!Array.isArray(pkg.signature?.inputs) || pkg.signature.inputs.length === 0) throw new ConfigError(`${where} has no signature inputs`)
  const seen = new Set<string>()
  for (const f of pkg.signature.inputs) {
    if (typeof f.name !== 'string' || f.name === '' || seen.has(f.name)) throw new ConfigError(`${where}: signature input names must be distinct non-empty strings (${JSON.stringify(f.name)})`)
    if (!['double', 'integer', 'boolean', 'string'].includes(f.type)) throw new ConfigError(`${where}: input ${f.name} has unknown type ${JSON.stringify(f.type)} (expected double, integer, boolean or string)`)
    seen.add(f.name)
  }
}

/** What packaging needs of the registry (lib/track's Registry has it; lib/ml does not import lib/track). */
export interface ModelStore {
  register(kind: 'models', name: string, options: { files: Record<string, string>; description?: string; runs?: readonly string[]; sourceRunId?: string; metadata?: Record<string, unknown> }): { version: { version: number; sha256: string }; created: boolean }
  setAlias(kind: 'models', name: string, alias: string, version: number, reason?: string): void
  resolve(kind: 'models', ref: string): { name: string; version: number; files: { name: string }[] }
  file(kind: 'models', ref: string, fileName?: string): string
}

export const PACKAGE_FILE = 'model.json'

/** Store a package as a model version (model.json), linked to its run; optionally point an alias at it. */
export function registerPackage(store: ModelStore, name: string, pkg: ModelPackage, options: { alias?: string; runs?: readonly string[] } = {}): { version: number; created: boolean } {
  const { version, created } = store.register('models', name, {
    files: { [PACKAGE_FILE]: serializePackage(pkg) },
    ...(pkg.description === undefined ? {} : { description: pkg.description }),
    runs: [...(pkg.runId === undefined ? [] : [pkg.runId]), ...(options.runs ?? [])],
    ...(pkg.runId === undefined ? {} : { sourceRunId: pkg.runId }),
    metadata: { family: pkg.family, task: pkg.task, features: pkg.signature.inputs.map((f) => f.name), metrics: pkg.metrics, dataSnapshot: pkg.dataSnapshot },
  })
  if (options.alias !== undefined) store.setAlias('models', name, options.alias, version.version)
  return { version: version.version, created }
}

/** A model from the registry: "name@3", "name@champion", "name" (the latest). */
export function loadPackage(store: ModelStore, ref: string): { pkg: ModelPackage; model: Model; name: string; version: number } {
  const v = store.resolve('models', ref)
  const file = store.file('models', `${v.name}@${v.version}`, v.files.some((f) => f.name === PACKAGE_FILE) ? PACKAGE_FILE : undefined)
  const { pkg, model } = readPackage(readFileSync(file, 'utf8'), `model ${v.name}@${v.version}`)
  return { pkg, model, name: v.name, version: v.version }
}
