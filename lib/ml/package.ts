// Packaged models: one JSON document holding the fitted model (numbers only — a package is data, never
// code), its signature (the features it reads, their types, the label), the hash of the data it was
// trained on, its cross-validated metrics and the run that made it. Packages round-trip exactly and are
// stored in, and loaded from, the registry by version or alias.

import { capMessage, checkJsonDepth, ConfigError, preview, sha256 } from '../core/index.js'
import { modelFromJSON, type Labeled, type Model, type ModelJSON, type Task } from './model.js'
import { RouterModel } from './router.js'

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

/**
 * A package from its stored text, checked whole before anything uses it: the envelope and signature, the
 * model's JSON (trees acyclic, indices in range, numbers finite: see check-json.ts), and that the two agree
 * (features, key, task, classes). Any fault is a ConfigError naming `where` and what is wrong.
 */
export function readPackage(text: string, where = 'model package'): { pkg: ModelPackage; model: Model } {
  let pkg: ModelPackage
  // Nesting checked on the text first: a hostile package nested far deeper than any real one (under 10
  // levels) never reaches the validators that walk it.
  checkJsonDepth(text, where)
  try {
    pkg = JSON.parse(text) as ModelPackage
  } catch (error) {
    throw new ConfigError(capMessage(`${where} is not JSON: ${error instanceof Error ? error.message : String(error)}`, 300), { cause: error })
  }
  checkPackage(pkg, where)
  let model: Model
  try {
    model = modelFromJSON(pkg.model)
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${where}: ${error.message}`, { cause: error })
    throw error
  }
  checkAgreement(pkg, model, where)
  return { pkg, model }
}

function checkPackage(pkg: ModelPackage, where = 'model package'): void {
  if (pkg === null || typeof pkg !== 'object' || Array.isArray(pkg) || pkg.format !== PACKAGE_FORMAT) throw new ConfigError(`${where} is not an ${PACKAGE_FORMAT} package (format: ${preview((pkg as { format?: unknown } | null)?.format)})`)
  if (pkg.formatVersion !== PACKAGE_VERSION) throw new ConfigError(`${where} has format version ${preview(pkg.formatVersion)}; this mtflow reads version ${PACKAGE_VERSION}`)
  if (!Array.isArray(pkg.signature?.inputs) || pkg.signature.inputs.length === 0) throw new ConfigError(`${where} has no signature inputs`)
  const seen = new Set<string>()
  for (const f of pkg.signature.inputs as unknown[]) {
    const field = (f ?? {}) as Partial<SignatureField>
    if (typeof field.name !== 'string' || field.name === '' || seen.has(field.name)) throw new ConfigError(`${where}: signature input names must be distinct non-empty strings (${preview(field.name)})`)
    if (!['double', 'integer', 'boolean', 'string'].includes(field.type as string)) throw new ConfigError(`${where}: input ${preview(field.name)} has unknown type ${preview(field.type)} (expected double, integer, boolean or string)`)
    if (field.nullable !== undefined && typeof field.nullable !== 'boolean') throw new ConfigError(`${where}: input ${preview(field.name)} has nullable ${preview(field.nullable)} (expected true or false)`)
    seen.add(field.name)
  }
  const output = pkg.signature.output as Partial<Signature['output']> | undefined
  if (output === null || typeof output !== 'object' || typeof output.name !== 'string') throw new ConfigError(`${where}: signature output must be an object with a "name" (received ${preview(output)})`)
  if (pkg.task !== 'classification' && pkg.task !== 'regression') throw new ConfigError(`${where}: task must be classification or regression (received ${preview(pkg.task)})`)
  if (typeof pkg.family !== 'string') throw new ConfigError(`${where}: family must be a string (received ${preview(pkg.family)})`)
  if (typeof pkg.dataSnapshot !== 'string') throw new ConfigError(`${where}: dataSnapshot must be a string (received ${preview(pkg.dataSnapshot)})`)
  if (pkg.metrics === null || typeof pkg.metrics !== 'object' || Array.isArray(pkg.metrics) || Object.values(pkg.metrics).some((v) => typeof v !== 'number' && v !== null)) throw new ConfigError(`${where}: metrics must be an object of name: number (received ${preview(pkg.metrics)})`)
}

/** The signature and the model describe the same thing: it is what the server checks every request against. */
function checkAgreement(pkg: ModelPackage, model: Model, where: string): void {
  const json = model.toJSON()
  if (pkg.family !== model.family || pkg.task !== model.task) throw new ConfigError(`${where}: the package says ${preview(pkg.family)} ${pkg.task}, its model is ${model.family} ${model.task}`)
  const inputs = pkg.signature.inputs
  const features = inputs.filter((f) => f.type !== 'string').map((f) => f.name)
  if (features.length !== json.columns.length || features.some((f, i) => f !== json.columns[i])) {
    throw new ConfigError(`${where}: the signature's ${features.length} numeric inputs [${capMessage(features.join(', '), 200)}] are not the model's ${json.columns.length} features [${capMessage(json.columns.join(', '), 200)}]`)
  }
  const keys = inputs.filter((f) => f.type === 'string').map((f) => f.name)
  if (keys.length > 1) throw new ConfigError(`${where}: the signature has ${keys.length} string inputs; at most one (the key) is read`)
  if (model instanceof RouterModel && keys[0] !== model.key) throw new ConfigError(`${where}: a router reads its key ${preview(model.key)} as a string input; the signature's string inputs are [${capMessage(keys.join(', '), 200)}]`)
  const classes = pkg.signature.output.classes
  if (model.task === 'classification') {
    if (!Array.isArray(classes) || classes.length !== json.classes?.length || classes.some((c, i) => c !== json.classes![i])) {
      throw new ConfigError(`${where}: the signature's classes ${preview(classes)} are not the model's ${preview(json.classes)}`)
    }
  } else if (classes !== undefined) throw new ConfigError(`${where}: a regression model's signature lists classes ${preview(classes)}`)
}

/** What packaging needs of the registry (lib/track's Registry has it; lib/ml does not import lib/track). */
export interface ModelStore {
  register(kind: 'models', name: string, options: { files: Record<string, string>; description?: string; runs?: readonly string[]; sourceRunId?: string; metadata?: Record<string, unknown> }): { version: { version: number; sha256: string }; created: boolean }
  setAlias(kind: 'models', name: string, alias: string, version: number, reason?: string): void
  resolve(kind: 'models', ref: string): { name: string; version: number; files: { name: string }[] }
  /** The version's file, read without following links and checked against its recorded sha256. */
  readFile(kind: 'models', ref: string, fileName?: string): Uint8Array
}

export const PACKAGE_FILE = 'model.json'

/** Store a package as a model version (model.json), linked to its run; optionally point an alias at it. */
export function registerPackage(store: ModelStore, name: string, pkg: ModelPackage, options: { alias?: string; runs?: readonly string[] } = {}): { version: number; created: boolean } {
  // The stored text is read back exactly as a server will read it: a package that would fail there (a
  // hand-edited tree with a cycle, a signature that is not the model's) never enters the registry.
  const text = serializePackage(pkg)
  readPackage(text, `model ${name}`)
  const { version, created } = store.register('models', name, {
    files: { [PACKAGE_FILE]: text },
    ...(pkg.description === undefined ? {} : { description: pkg.description }),
    runs: [...(pkg.runId === undefined ? [] : [pkg.runId]), ...(options.runs ?? [])],
    ...(pkg.runId === undefined ? {} : { sourceRunId: pkg.runId }),
    metadata: { family: pkg.family, task: pkg.task, features: pkg.signature.inputs.map((f) => f.name), metrics: pkg.metrics, dataSnapshot: pkg.dataSnapshot },
  })
  if (options.alias !== undefined) store.setAlias('models', name, options.alias, version.version)
  return { version: version.version, created }
}

/** A model from the registry: "name@3", "name@champion", "name" (the latest); `text` is the stored package. */
export function loadPackage(store: ModelStore, ref: string): { pkg: ModelPackage; model: Model; name: string; version: number; text: string } {
  const v = store.resolve('models', ref)
  // One checked read (no second open by path, which a swapped file could win).
  const text = Buffer.from(store.readFile('models', `${v.name}@${v.version}`, v.files.some((f) => f.name === PACKAGE_FILE) ? PACKAGE_FILE : undefined)).toString('utf8')
  const { pkg, model } = readPackage(text, `model ${v.name}@${v.version}`)
  return { pkg, model, name: v.name, version: v.version, text }
}
