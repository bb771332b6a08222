// Tracking through a running `mtflow serve` (MTFLOW_TRACKING_URI), as MLflow clients do through a tracking
// server: RemoteTracker and RemoteRegistry subclass Tracker and Registry and override every public method
// with HTTP calls (lib/server/track-api.ts and /api), so anything typed Tracker or Registry takes them and no
// call site changes beyond openTracker/openRegistry. Calls stay synchronous (syncRequest blocks on a worker
// thread's fetch). Log calls are buffered per run and sent in batches: at `batchSize` records, before any
// read, at endRun, and at process exit. A param conflicting with another process's is then reported by the
// flush that carries it, not by the call that logged it.

import { mkdirSync, readFileSync, renameSync, existsSync, statSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, DataError, dict, MtflowError, NotFoundError, sha256, syncRequest, SyncHttpError, type SyncResponse } from '../core/index.js'
import { ActiveRun, artifactSource, checkBatchName, Tracker, type ArtifactData, type ChildRun, type ReindexResult, type StartRunOptions } from './store.js'
import { parseRef, Registry, singular, type AuditEvent, type ModelStage, type ParityRecord, type RegisterOptions, type RegistryEntry, type RegistryKind, type RegistryVersion } from './registry.js'
import { checkBatch, type CheckedBatch } from './validate.js'
import { checkRunIds, type DeleteRunsOptions, type GcOptions, type GcResult, type LifecycleChange } from './lifecycle.js'
import type { Artifact, Experiment, LogBatch, MetricPoint, ParamValue, Run, RunInfo, RunStatus, RunSummary } from './types.js'
import { RUN_STATUSES } from './types.js'

export const TRACKING_URI_ENV = 'MTFLOW_TRACKING_URI'
export const TRACKING_TOKEN_ENV = 'MTFLOW_TRACKING_TOKEN'

export interface RemoteTrackingOptions {
  /** The server's base URL (http: or https:), e.g. http://host:8787. */
  url: string
  /** The workspace token `mtflow serve` printed. */
  token?: string
  /** Buffered records (params, tags, metric points) that trigger a send (default 1000). */
  batchSize?: number
  /** Milliseconds the first request (a ping) may take before the server counts as unreachable (default 5000). */
  connectTimeoutMs?: number
  /** Milliseconds any later request may take, plus one per KiB it uploads (default 60,000). */
  timeoutMs?: number
  /**
   * Milliseconds between a live run's heartbeats to the server (default 10,000). The server marks a run
   * FAILED once it has heard none for its staleMs (default 120,000), so keep this well below that.
   */
  heartbeatMs?: number
}

/** The tracker of `home`, or of the server named by MTFLOW_TRACKING_URI when it is set. */
export function openTracker(home?: string): Tracker {
  const remote = remoteFromEnv()
  return remote === undefined ? new Tracker(home) : new RemoteTracker(home, remote)
}

/** The registry of `home`, or of the server named by MTFLOW_TRACKING_URI when it is set. */
export function openRegistry(home?: string): Registry {
  const remote = remoteFromEnv()
  return remote === undefined ? new Registry(home) : new RemoteRegistry(home, remote)
}

/** The remote options from the environment; undefined when MTFLOW_TRACKING_URI is unset or empty. */
export function remoteFromEnv(env: NodeJS.ProcessEnv = process.env): RemoteTrackingOptions | undefined {
  const uri = env[TRACKING_URI_ENV]
  if (uri === undefined || uri.trim() === '') return undefined
  const token = env[TRACKING_TOKEN_ENV]
  return { url: checkUrl(uri, TRACKING_URI_ENV), ...(token === undefined || token === '' ? {} : { token }) }
}

function checkUrl(uri: string, what: string): string {
  let url: URL
  try {
    url = new URL(uri.trim())
  } catch {
    throw new ConfigError(`${what} must be an http:// or https:// URL of a running mtflow serve (received ${JSON.stringify(uri.slice(0, 200))})`)
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new ConfigError(`${what} must be an http:// or https:// URL of a running mtflow serve, without credentials, query or fragment (received ${JSON.stringify(uri.slice(0, 200))})`)
  }
  return url.href.replace(/\/+$/, '')
}

// ---- the HTTP client ---------------------------------------------------------------------------------

interface CallOptions {
  query?: Record<string, string | readonly string[] | undefined>
  json?: unknown
  body?: Uint8Array
  contentType?: string
}

/** One server: requests with the token, answers as values or as one-line errors of mtflow's tree. */
class TrackingClient {
  readonly url: string
  private readonly token: string | undefined
  private readonly connectTimeoutMs: number
  private readonly timeoutMs: number
  private reached = false

  constructor(options: RemoteTrackingOptions) {
    this.url = checkUrl(options.url, 'the tracking server URL')
    this.token = options.token
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000
    this.timeoutMs = options.timeoutMs ?? 60_000
  }

  /** The answer's body parsed as JSON (non-finite numbers still as strings: the callers decode their fields). */
  json<T>(method: string, path: string, options: CallOptions = {}): T {
    const res = this.send(method, path, options)
    return parseAnswer(res, this.url) as T
  }

  send(method: string, path: string, options: CallOptions = {}): SyncResponse {
    if (!this.reached) {
      // A cheap first request with a short timeout: an unreachable server or a refused token is told at once.
      this.check(this.request('GET', '/api/track/ping', {}, this.connectTimeoutMs))
      this.reached = true
    }
    const size = options.body?.length ?? 0
    return this.check(this.request(method, path, options, this.timeoutMs + Math.ceil(size / 1024)))
  }

  /** Fire and forget (the heartbeat): never blocks, never throws. */
  sendAsync(method: string, path: string): void {
    // One catch for both steps: a body cut off (the server killed mid-answer) must not become an
    // unhandled rejection, which would end the client's process.
    fetch(`${this.url}${path}`, { method, headers: this.headers(), signal: AbortSignal.timeout(this.timeoutMs) })
      .then((res) => res.arrayBuffer())
      .catch(() => undefined)
  }

  private headers(contentType?: string): Record<string, string> {
    return { accept: 'application/json', ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }), ...(contentType === undefined ? {} : { 'content-type': contentType }) }
  }

  private request(method: string, path: string, options: CallOptions, timeoutMs: number): SyncResponse {
    let url = `${this.url}${path}`
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v === undefined) continue
      for (const one of typeof v === 'string' ? [v] : v) params.append(k, one)
    }
    if ([...params.keys()].length > 0) url += `?${params}`
    const body = options.json !== undefined ? Buffer.from(JSON.stringify(options.json, wireReplacer), 'utf8') : options.body
    const contentType = options.json !== undefined ? 'application/json' : body !== undefined ? (options.contentType ?? 'application/octet-stream') : undefined
    try {
      return syncRequest({ url, method, headers: this.headers(contentType), body, timeoutMs })
    } catch (error) {
      if (!(error instanceof SyncHttpError)) throw error
      const why = error.code === 'TIMEOUT' ? `no answer within ${Math.round(timeoutMs / 1000)} s` : `${error.code}: ${error.message}`
      throw new ConfigError(`tracking server ${this.url} is unreachable (${why}); is mtflow serve running there? (${TRACKING_URI_ENV})`, { cause: error })
    }
  }

  private check(res: SyncResponse): SyncResponse {
    if (res.status >= 200 && res.status < 300) return res
    if (res.status === 401 || res.status === 403) {
      // A Host/Origin refusal is also a 403: its own message says so.
      const message = errorOf(res)
      if (res.status === 403 && message !== undefined && /^(Host|Origin) /.test(message)) throw new ConfigError(`tracking server ${this.url} refused the request (403): ${message}`)
      throw new ConfigError(`tracking server ${this.url} refused the token (${res.status}): set ${TRACKING_TOKEN_ENV} to the token \`mtflow serve\` printed`)
    }
    const message = errorOf(res) ?? `HTTP ${res.status}`
    if (res.status === 404) throw new NotFoundError(message)
    if (res.status === 409) throw new DataError(message)
    if (res.status >= 400 && res.status < 500) throw new ConfigError(message)
    throw new MtflowError(`tracking server ${this.url} failed (${res.status}): ${message}`)
  }
}

function errorOf(res: SyncResponse): string | undefined {
  try {
    const parsed = JSON.parse(res.body.toString('utf8')) as { error?: unknown }
    return typeof parsed.error === 'string' ? parsed.error.split('\n')[0]!.slice(0, 1000) : undefined
  } catch {
    return undefined
  }
}

function parseAnswer(res: SyncResponse, url: string): unknown {
  try {
    return JSON.parse(res.body.toString('utf8'))
  } catch {
    throw new MtflowError(`tracking server ${url} answered ${res.status} with a body that is not JSON (is it mtflow serve?)`)
  }
}

/** Numbers JSON cannot hold travel as "NaN", "Infinity", "-Infinity" (the server's convention, api.ts). */
function wireReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value
}

function wireNumber(value: unknown): number {
  if (value === 'NaN') return Number.NaN
  if (value === 'Infinity') return Number.POSITIVE_INFINITY
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY
  return value as number
}

function decodeSummary<T extends RunSummary>(s: T): T {
  for (const k in s.metrics) s.metrics[k]!.value = wireNumber(s.metrics[k]!.value)
  return s
}

const seg = encodeURIComponent

/** A downloaded file's place in this machine's cache, by content hash (for methods that return a path). */
function cacheFile(hash: string, name: string, bytes: Uint8Array): string {
  const dir = join(tmpdir(), 'mtflow-remote-cache', hash.replace(/[^0-9a-f]/g, '').slice(0, 64))
  const file = join(dir, name.split('/').pop()!.replace(/[^\w.-]/g, '_') || 'file')
  if (existsSync(file) && statSync(file).size === bytes.length && sha256(readFileSync(file)) === hash) return file
  mkdirSync(dir, { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, bytes)
  renameSync(tmp, file)
  return file
}

// ---- buffered logging --------------------------------------------------------------------------------

interface Pending {
  params: Record<string, string>
  tags: Record<string, string>
  metrics: CheckedBatch['metrics']
}

/** Trackers holding unsent records: flushed when the process exits. */
const unflushed = new Set<RemoteTracker>()
let exitHooked = false

function hookExit(): void {
  if (exitHooked) return
  exitHooked = true
  process.on('exit', () => {
    for (const t of [...unflushed]) {
      try {
        t.flush()
      } catch (error) {
        process.stderr.write(`mtflow: records not sent to the tracking server at exit: ${error instanceof Error ? error.message : String(error)}\n`)
      }
    }
  })
}

export class RemoteTracker extends Tracker {
  readonly url: string
  readonly batchSize: number
  private readonly client: TrackingClient
  private readonly pending = new Map<string, Pending>()
  private pendingCount = 0

  constructor(home: string | undefined, options: RemoteTrackingOptions) {
    const heartbeatMs = options.heartbeatMs ?? 10_000
    if (!Number.isInteger(heartbeatMs) || heartbeatMs < 1) throw new ConfigError(`heartbeatMs must be an integer ≥ 1 (received ${String(options.heartbeatMs)})`)
    // staleMs is the server's to apply; this one only has to exceed heartbeatMs.
    super(home, { heartbeatMs, staleMs: Math.max(120_000, 2 * heartbeatMs) })
    this.client = new TrackingClient(options)
    this.url = this.client.url
    this.batchSize = options.batchSize ?? 1000
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new ConfigError(`batchSize must be an integer ≥ 1 (received ${String(options.batchSize)})`)
  }

  // ---- experiments ----

  override experiment(name: string): Experiment {
    return this.client.json('POST', '/api/track/experiments', { json: { name } })
  }

  override getExperiment(nameOrId: string): Experiment {
    return this.client.json('GET', '/api/track/experiment', { query: { ref: nameOrId } })
  }

  override listExperiments(): Experiment[] {
    return this.client.json('GET', '/api/track/experiments')
  }

  // ---- runs ----

  override startRun(options: StartRunOptions = {}): ActiveRun {
    const batch = checkBatch({ params: options.params, tags: options.tags })
    if (options.parentRunId !== undefined) this.flush(options.parentRunId)
    // Where the run is made: the server records this host and process as the run's, and judges the run by
    // the heartbeats this handle's timer posts (beat below), every heartbeatMs until the run ends.
    const origin = options.origin ?? { host: hostname(), pid: process.pid }
    const run = decodeSummary(this.client.json<Run>('POST', '/api/track/runs', { json: { ...options, params: batch.params, tags: batch.tags, origin } }))
    return new ActiveRun(this, run.info, run.params, options.heartbeat !== false)
  }

  override logChildRuns(parentRunId: string, children: readonly ChildRun[]): string[] {
    this.flush(parentRunId)
    return this.client.json<{ runIds: string[] }>('POST', `/api/track/runs/${seg(parentRunId)}/children`, { json: { children } }).runIds
  }

  override logBatch(runId: string, batch: LogBatch): void {
    this.logChecked(runId, checkBatch(batch))
  }

  override logMetric(runId: string, key: string, value: number, step?: number): void {
    this.logBatch(runId, { metrics: [{ key, value, step }] })
  }

  override logParam(runId: string, key: string, value: ParamValue): void {
    this.logBatch(runId, { params: { [key]: value } })
  }

  override setTag(runId: string, key: string, value: string): void {
    this.logBatch(runId, { tags: { [key]: value } })
  }

  /** Buffered: sent at batchSize records, before a read, at endRun and at exit. */
  override logChecked(runId: string, batch: CheckedBatch, knownParams?: Record<string, string>): void {
    let p = this.pending.get(runId)
    if (p === undefined) {
      if (typeof runId !== 'string' || !/^[\w-]{1,64}$/.test(runId)) throw new NotFoundError(`unknown run ${JSON.stringify(runId)}`)
      p = { params: dict<string>(), tags: dict<string>(), metrics: [] }
    }
    // A param changed within this process is refused at once, as the local tracker refuses it.
    for (const k in batch.params) {
      const old = knownParams?.[k] ?? p.params[k]
      if (old !== undefined && old !== batch.params[k]) {
        throw new ConfigError(`param ${k} of run ${runId} is already ${JSON.stringify(old)}; a param cannot change (received ${JSON.stringify(batch.params[k])}) — use a metric or a tag for values that change`)
      }
    }
    let added = 0
    for (const k in batch.params) if (p.params[k] === undefined && knownParams?.[k] === undefined) (p.params[k] = batch.params[k]!), added++
    for (const k in batch.tags) (p.tags[k] = batch.tags[k]!), added++
    p.metrics.push(...batch.metrics)
    added += batch.metrics.length
    if (added === 0) return
    this.pending.set(runId, p)
    this.pendingCount += added
    unflushed.add(this)
    hookExit()
    if (this.pendingCount >= this.batchSize) this.flush()
  }

  /** Send the buffered records of one run (or of all). */
  flush(runId?: string): void {
    const ids = runId === undefined ? [...this.pending.keys()] : this.pending.has(runId) ? [runId] : []
    for (const id of ids) {
      const p = this.pending.get(id)!
      // Taken off the buffer first: a batch the server refuses is reported once, not resent forever.
      this.pending.delete(id)
      this.pendingCount -= Object.keys(p.params).length + Object.keys(p.tags).length + p.metrics.length
      if (this.pending.size === 0) unflushed.delete(this)
      this.client.json('POST', `/api/track/runs/${seg(id)}/batch`, { json: p })
    }
  }

  override endRun(runId: string, status: RunStatus = 'FINISHED', endTime = Date.now()): RunInfo {
    if (!RUN_STATUSES.includes(status)) throw new ConfigError(`status must be one of ${RUN_STATUSES.join(', ')} (received ${JSON.stringify(status)})`)
    this.flush(runId)
    return this.client.json('POST', `/api/track/runs/${seg(runId)}/end`, { json: { status, endTime } })
  }

  override getRun(runId: string): Run {
    this.flush(runId)
    return decodeSummary(this.client.json<Run>('GET', `/api/track/runs/${seg(runId)}`))
  }

  override metricHistory(runId: string, key?: string): MetricPoint[] {
    this.flush(runId)
    const points = this.client.json<MetricPoint[]>('GET', `/api/track/runs/${seg(runId)}/metrics`, { query: { key } })
    for (const p of points) p.value = wireNumber(p.value)
    return points
  }

  override summaries(experimentIds?: readonly string[]): RunSummary[] {
    this.flush()
    return this.client.json<RunSummary[]>('GET', '/api/track/summaries', { query: { experiment: experimentIds } }).map(decodeSummary)
  }

  override childRuns(runId: string): RunSummary[] {
    this.flush()
    return this.client.json<RunSummary[]>('GET', `/api/track/runs/${seg(runId)}/children`).map(decodeSummary)
  }

  override markStaleRuns(): string[] {
    return this.client.json<{ runIds: string[] }>('POST', '/api/track/mark-stale').runIds
  }

  override markStaleRun(info: RunInfo): boolean {
    return this.client.json<{ marked: boolean }>('POST', `/api/track/runs/${seg(info.runId)}/mark-stale`).marked
  }

  override staleReason(info: RunInfo): string | undefined {
    return this.client.json<{ reason: string | null }>('GET', `/api/track/runs/${seg(info.runId)}/stale-reason`).reason ?? undefined
  }

  /** The heartbeat, sent without blocking (ActiveRun's timer calls it). */
  override beat(runId: string): void {
    this.client.sendAsync('POST', `/api/track/runs/${seg(runId)}/heartbeat`)
  }

  // ---- artifacts ----

  override logArtifact(runId: string, source: string | { name: string; data: ArtifactData }, name?: string): Artifact {
    const { bytes, path } = artifactSource(source, name)
    return this.client.json('PUT', `/api/track/runs/${seg(runId)}/artifact`, { query: { name: path }, body: bytes })
  }

  /** One request per artifact, in order (the server writes and checks each); the batch's names are checked as locally. */
  override async logArtifacts(runId: string, sources: Iterable<{ name: string; data: ArtifactData }>): Promise<Artifact[]> {
    const out: Artifact[] = []
    const names = new Set<string>()
    for (const source of sources) {
      checkBatchName(names, source.name)
      out.push(this.logArtifact(runId, source))
    }
    return out
  }

  override listArtifacts(runId: string): Artifact[] {
    return this.client.json('GET', `/api/track/runs/${seg(runId)}/artifacts`)
  }

  /** The bytes, checked here against the sha256 the server recorded. */
  override readArtifact(runId: string, path: string): { artifact: Artifact; bytes: Buffer } {
    const res = this.client.send('GET', `/api/track/runs/${seg(runId)}/artifact`, { query: { path } })
    let artifact: Artifact
    try {
      artifact = JSON.parse(decodeURIComponent(res.headers['x-mtflow-artifact'] ?? '')) as Artifact
    } catch {
      throw new MtflowError(`tracking server ${this.url} sent artifact ${JSON.stringify(path)} of run ${runId} without its record`)
    }
    if (sha256(res.body) !== artifact.sha256) throw new DataError(`artifact ${JSON.stringify(artifact.path)} of run ${runId} arrived from ${this.url} with another sha256 than recorded`)
    return { artifact, bytes: res.body }
  }

  /** A local copy (in the system's temp folder, by content hash): the file is on the server. */
  override artifactFile(runId: string, path: string): string {
    const { artifact, bytes } = this.readArtifact(runId, path)
    return cacheFile(artifact.sha256, artifact.path, bytes)
  }

  // ---- maintenance ----

  override reindex(experimentNameOrId: string): ReindexResult {
    return this.client.json('POST', `/api/track/experiments/${seg(experimentNameOrId)}/reindex`)
  }

  override indexedRuns(experimentId: string): Map<string, RunSummary> {
    const runs = this.client.json<RunSummary[]>('GET', `/api/track/experiments/${seg(experimentId)}/index`).map(decodeSummary)
    return new Map(runs.map((r) => [r.info.runId, r]))
  }

  override tornRecords(runId: string): Record<string, number> {
    return this.client.json('GET', `/api/track/runs/${seg(runId)}/torn`)
  }

  override runStamp(runId: string): string {
    this.flush(runId)
    return this.client.json<{ stamp: string }>('GET', `/api/track/runs/${seg(runId)}/stamp`).stamp
  }

  // ---- lifecycle: the server checks references against its own registry and deployments ----

  override deleteRuns(runIds: readonly string[], options: DeleteRunsOptions = {}): LifecycleChange[] {
    const ids = checkRunIds(runIds)
    for (const id of ids) this.flush(id)
    return this.client.json('POST', '/api/track/runs/delete', { json: { runIds: ids, ...options } })
  }

  override restoreRuns(runIds: readonly string[]): LifecycleChange[] {
    return this.client.json('POST', '/api/track/runs/restore', { json: { runIds: checkRunIds(runIds) } })
  }

  override gc(options: GcOptions = {}): GcResult {
    return this.client.json('POST', '/api/track/gc', { json: options })
  }

  override changeLifecycle(runId: string): void {
    throw new ConfigError(`run ${runId}'s lifecycle is the tracking server's to change (${this.url}): use deleteRuns or restoreRuns`)
  }

  override removeRunFolder(runId: string): boolean {
    throw new ConfigError(`run ${runId}'s folder is on the tracking server ${this.url}: use gc`)
  }

  override finishTrash(): string[] {
    throw new ConfigError(`the runs' trash is on the tracking server ${this.url}: use gc`)
  }

  /** Run folders are on the server: nothing on this machine to point at. */
  override runDir(runId: string): string {
    throw new ConfigError(`run ${runId}'s folder is on the tracking server ${this.url} (${TRACKING_URI_ENV} is set); unset it to work on a local workspace`)
  }
}

// ---- the registry --------------------------------------------------------------------------------------

export class RemoteRegistry extends Registry {
  readonly url: string
  private readonly client: TrackingClient

  constructor(home: string | undefined, options: RemoteTrackingOptions) {
    super(home)
    this.client = new TrackingClient(options)
    this.url = this.client.url
  }

  /** One request: the options as a JSON header, then the files' bytes (track-api's decodeRegisterBody). */
  override register(kind: RegistryKind, name: string, options: RegisterOptions): { version: RegistryVersion; created: boolean } {
    const { files, ...rest } = options
    const names = Object.keys(files)
    const blobs = names.map((n) => {
      const data = files[n]!
      return typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    })
    const header = Buffer.from(JSON.stringify({ options: rest, files: names.map((n, i) => ({ name: n, size: blobs[i]!.length })) }, wireReplacer), 'utf8')
    const length = Buffer.alloc(4)
    length.writeUInt32BE(header.length)
    const body = Buffer.concat([length, header, ...blobs])
    return this.client.json('POST', `/api/track/registry/${seg(kind)}/${seg(name)}/versions`, { body })
  }

  override list(kind?: RegistryKind): RegistryEntry[] {
    return this.client.json('GET', kind === undefined ? '/api/registry' : `/api/registry/${seg(kind)}`)
  }

  override entry(kind: RegistryKind, name: string): RegistryEntry {
    return this.client.json('GET', `/api/registry/${seg(kind)}/${seg(name)}`)
  }

  override resolve(kind: RegistryKind, ref: string, version?: number | string): RegistryVersion {
    const { name, selector } = parseRef(ref, version)
    return this.client.json('GET', `/api/registry/${seg(kind)}/${seg(name)}/versions/${seg(selector)}`)
  }

  /** A local copy (in the system's temp folder, by content hash): the file is on the server. */
  override file(kind: RegistryKind, ref: string, fileName?: string): string {
    const { name, sha, bytes } = this.download(kind, ref, fileName)
    return cacheFile(sha, name, bytes)
  }

  override readFile(kind: RegistryKind, ref: string, fileName?: string): Buffer {
    return this.download(kind, ref, fileName).bytes
  }

  private download(kind: RegistryKind, ref: string, fileName?: string): { name: string; sha: string; bytes: Buffer } {
    const v = this.resolve(kind, ref)
    const name = fileName ?? (v.files.length === 1 ? v.files[0]!.name : undefined)
    const listed = v.files.find((f) => f.name === name)
    if (name === undefined || listed === undefined) throw new NotFoundError(`${singular(kind)} ${v.name}@${v.version} has no file ${JSON.stringify(fileName)} (files: ${v.files.map((f) => f.name).join(', ')})`)
    const bytes = this.client.send('GET', `/api/registry/${seg(kind)}/${seg(v.name)}/versions/${v.version}/files/${seg(listed.name)}`).body
    if (sha256(bytes) !== listed.sha256) throw new DataError(`${singular(kind)} ${v.name}@${v.version} file ${JSON.stringify(listed.name)} arrived from ${this.url} with another sha256 than recorded`)
    return { name: listed.name, sha: listed.sha256, bytes }
  }

  override setAlias(kind: RegistryKind, name: string, alias: string, version: number, reason?: string): void {
    this.client.json('POST', `/api/registry/${seg(kind)}/${seg(name)}/aliases`, { json: { alias, version, reason } })
  }

  override deleteAlias(kind: RegistryKind, name: string, alias: string, reason?: string): void {
    this.client.json('DELETE', `/api/registry/${seg(kind)}/${seg(name)}/aliases/${seg(alias)}`, { query: { reason } })
  }

  override transitionStage(name: string, version: number, stage: ModelStage, options: { reason?: string; archiveExisting?: boolean } = {}): RegistryVersion {
    return this.client.json('POST', `/api/registry/models/${seg(name)}/versions/${seg(String(version))}/stage`, { json: { stage, reason: options.reason, archiveExisting: options.archiveExisting === true } })
  }

  override retire(kind: RegistryKind, name: string, version: number, reason?: string): RegistryVersion {
    return this.client.json('POST', `/api/registry/${seg(kind)}/${seg(name)}/versions/${seg(String(version))}/retire`, { json: { reason } })
  }

  override restore(kind: RegistryKind, name: string, version: number, reason?: string): RegistryVersion {
    return this.client.json('POST', `/api/registry/${seg(kind)}/${seg(name)}/versions/${seg(String(version))}/restore`, { json: { reason } })
  }

  override linkRuns(kind: RegistryKind, name: string, version: number, runIds: readonly string[], reason?: string): RegistryVersion {
    return this.client.json('POST', `/api/track/registry/${seg(kind)}/${seg(name)}/versions/${seg(String(version))}/runs`, { json: { runIds, reason } })
  }

  override recordParity(name: string, version: number, parity: ParityRecord): RegistryVersion {
    return this.client.json('POST', `/api/track/registry/strategies/${seg(name)}/versions/${seg(String(version))}/parity`, { json: { parity } })
  }

  override damagedFiles(kind: RegistryKind, name: string): { file: string; error: string }[] {
    return this.client.json('GET', `/api/track/registry/${seg(kind)}/${seg(name)}/damaged`)
  }

  override auditLog(kind: RegistryKind, name: string): AuditEvent[] {
    return this.client.json('GET', `/api/registry/${seg(kind)}/${seg(name)}/audit`)
  }

  /** gc's stamp is of the server's registry folder, which only the server stats. */
  override changeStamp(): string {
    throw new ConfigError(`the registry is on the tracking server ${this.url}: gc runs there`)
  }
}
