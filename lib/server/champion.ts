// Champion/challenger serving on …/invocations, after the model's serving config (<home>/serving/NAME.json,
// lib/track/promotion.ts): `single` (the champion answers), `shadow` (the challenger scores the same rows
// after the champion's answer has gone out; its predictions are logged, never returned) and `ab` (a share of
// the requests, chosen by a hash of the request id so a caller's retries land on the same version, is
// answered by the challenger). A version older than the config's expireAfter answers 503 and raises one
// alert. Every prediction is appended to <home>/monitor/predictions/NAME/YYYY-MM-DD.jsonl.

import type { Context } from 'hono'
import { createHash, randomUUID } from 'node:crypto'
import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { appendFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { capMessage, NotFoundError, ownValue, preview } from '../core/index.js'
import { loadAlerting } from '../monitor/alerts.js'
import type { Matrix } from '../ml/index.js'
import { parseRef, type Registry } from '../track/index.js'
import { parseDuration, readServingConfig, type ServingConfig } from '../track/promotion.js'
import { sendJson } from './api.js'
import { readInvocation, score } from './invocation.js'
import { loadServedModel, type LoadedModel, type Scored } from './models.js'

export type PredictionRole = 'champion' | 'challenger' | 'shadow' | 'a' | 'b'

/** One line of the prediction log (the performance monitors read exactly this). */
export interface PredictionRecord {
  /** When the request was answered, epoch ms. */
  time: number
  requestId: string
  model: string
  version: number
  role: PredictionRole
  /** The row's features by name (null where missing), as scored. */
  row: Record<string, number | null> | null
  /** The router's key (e.g. the pair), when the model has one. */
  key?: string
  prediction: number | string | null
  /** Classifiers: P(classes[1]) for two classes, the vector in class order for more. */
  probability?: number | string | (number | string)[]
}

export interface PredictionLogOptions {
  /** Lines waiting to be written may hold this many bytes; past it, records are dropped and counted (default 8 MiB). */
  maxPendingBytes?: number
  /** Pending lines are written this often (default 1000 ms), or at once past 1 MiB. */
  flushMs?: number
}

/** Shadow batches scored in worker threads at once (more are dropped and counted: the champion comes first). */
const SHADOW_IN_FLIGHT = 2

/** Every live log, written synchronously when the process exits (a timer may not have fired yet). */
const liveLogs = new Set<PredictionLog>()

/**
 * Writes what the prediction logs of a workspace hold (all of them without `home`): a server that closes has its
 * predictions on disk when close() returns (a batch written after it — the log's one-second timer — hit the
 * folder a test was removing: ENOTEMPTY in a clean clone's run).
 */
export async function flushPredictionLogs(home?: string): Promise<void> {
  for (const log of [...liveLogs]) if (home === undefined || log.home === home) await log.flush()
}
let exitHook = false

/**
 * Buffered appends: lines are gathered per file and written together (one append per file and flush, no
 * fsync: a crash loses at most the last second of predictions, never a request). Memory is bounded by
 * maxPendingBytes; past it records are dropped and counted in `dropped`.
 */
export class PredictionLog {
  dropped = 0
  written = 0
  private pending = new Map<string, string[]>()
  private pendingBytes = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private writing: Promise<void> = Promise.resolve()
  private readonly maxPending: number
  private readonly flushMs: number

  constructor(
    readonly home: string,
    options: PredictionLogOptions = {},
  ) {
    this.maxPending = options.maxPendingBytes ?? 8 * 2 ** 20
    this.flushMs = options.flushMs ?? 1000
    liveLogs.add(this)
    if (!exitHook) {
      exitHook = true
      process.once('exit', () => liveLogs.forEach((l) => l.flushSync()))
    }
  }

  /** <home>/monitor/predictions/NAME/YYYY-MM-DD.jsonl (UTC day of the record's time). */
  file(model: string, time: number): string {
    return join(this.home, 'monitor', 'predictions', model, `${new Date(time).toISOString().slice(0, 10)}.jsonl`)
  }

  add(records: readonly PredictionRecord[]): void {
    if (records.length === 0) return
    const lines = records.map((r) => `${JSON.stringify(r)}\n`)
    const bytes = lines.reduce((n, l) => n + l.length, 0)
    if (this.pendingBytes + bytes > this.maxPending) {
      this.dropped += records.length
      return
    }
    for (let i = 0; i < records.length; i++) {
      const file = this.file(records[i]!.model, records[i]!.time)
      let list = this.pending.get(file)
      if (list === undefined) this.pending.set(file, (list = []))
      list.push(lines[i]!)
    }
    this.pendingBytes += bytes
    if (this.pendingBytes >= 2 ** 20) void this.flush()
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs)
      this.timer.unref()
    }
  }

  /** Write what is pending (after any write in flight); resolves when it is on disk. */
  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.take()
    this.writing = this.writing.then(async () => {
      for (const [file, text, count] of batch) {
        try {
          await mkdir(join(file, '..'), { recursive: true })
          await appendFile(file, text)
          this.written += count
        } catch (error) {
          this.dropped += count
          process.stderr.write(`mtflow: the prediction log ${file} cannot be written (${(error as Error).message}); ${count} records dropped\n`)
        }
      }
    })
    return this.writing
  }

  async close(): Promise<void> {
    await this.flush()
    liveLogs.delete(this)
  }

  private flushSync(): void {
    for (const [file, text, count] of this.take()) {
      try {
        mkdirSync(join(file, '..'), { recursive: true })
        appendFileSync(file, text)
        this.written += count
      } catch {
        this.dropped += count
      }
    }
  }

  private take(): [string, string, number][] {
    const out = [...this.pending].map(([file, lines]): [string, string, number] => [file, lines.join(''), lines.length])
    this.pending = new Map()
    this.pendingBytes = 0
    return out
  }
}

export interface ChampionOptions {
  /** The clock for expiry and the log's times (default Date.now). */
  now?: () => number
  /** Where predictions go (default: a PredictionLog on the workspace). */
  log?: PredictionLog
  /** `mtflow models serve REF`: the reference it was started with. */
  startRef?: string
}

/** What the routes hand over: how to load a version and how to score a body (models.ts's scoreRequest). */
export interface InvokeDeps {
  /** The model loaded at start (`mtflow models serve`): answers when no serving config applies. */
  fixed?: LoadedModel
  load?: (ref: string) => LoadedModel
  score: (loaded: LoadedModel, text: string, started: number, signal?: AbortSignal) => Promise<Scored>
}

interface Plan {
  primary: LoadedModel
  role: PredictionRole
  shadow?: LoadedModel
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' }
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/
/** Rows of a request scored in a worker are re-read for the log only up to this size (else logged without rows). */
const MAX_RELOG_BYTES = 8 * 2 ** 20

/** Champion/challenger routing of one registry's models (one per app). */
export class ChampionServing {
  readonly log: PredictionLog
  /** Shadow scorings that failed (a challenger whose signature the rows do not fit, a worker error). */
  shadowErrors = 0
  /** Shadow batches dropped because SHADOW_IN_FLIGHT were already being scored in workers. */
  shadowDropped = 0
  private shadowInFlight = 0
  private readonly now: () => number
  private readonly configs = new Map<string, { stamp: string; config: ServingConfig | undefined }>()
  private readonly aliases = new Map<string, { stamp: string; aliases: Record<string, number> }>()
  private readonly models = new Map<string, LoadedModel>()
  private readonly registered = new Map<string, number>()
  private readonly alerted = new Set<string>()

  constructor(
    readonly registry: Registry,
    private readonly options: ChampionOptions = {},
  ) {
    this.now = options.now ?? Date.now
    this.log = options.log ?? new PredictionLog(registry.home)
  }

  get startRef(): string | undefined {
    return this.options.startRef
  }

  /** The model's serving config, re-read when its file changes. */
  config(name: string): ServingConfig | undefined {
    const file = join(this.registry.home, 'serving', `${name}.json`)
    const stamp = fileStamp(file)
    const cached = this.configs.get(name)
    if (cached !== undefined && cached.stamp === stamp) return cached.config
    const config = stamp === '' ? undefined : readServingConfig(this.registry.home, name)
    this.configs.set(name, { stamp, config })
    return config
  }

  async invoke(c: Context, ref: string, deps: InvokeDeps): Promise<Response> {
    const started = Date.now()
    const type = c.req.header('content-type') ?? ''
    if (!/^application\/json\b/i.test(type)) return sendJson(c, { error: `send the rows as JSON (Content-Type: application/json; received ${preview(type)})` }, 415)
    const given = c.req.header('x-request-id')
    if (given !== undefined && !REQUEST_ID.test(given)) return sendJson(c, { error: `x-request-id must be 1–128 printable ASCII characters without spaces (received ${preview(given)})` }, 400)
    const requestId = given ?? randomUUID()
    const plan = this.plan(ref, requestId, deps)
    c.header('x-request-id', requestId)
    c.header('x-model-version', String(plan.primary.version))
    const expired = this.expired(plan.primary)
    if (expired !== undefined) return sendJson(c, { error: expired.text, model: plan.primary.name, version: plan.primary.version, ageMs: expired.ageMs }, 503)
    const text = await c.req.text()
    const scored = await deps.score(plan.primary, text, started, c.req.raw.signal)
    if (scored.status !== 200) return sendJson(c, { error: capMessage(scored.error, 500) }, scored.status)
    const time = this.now()
    // The answer goes out first; logging and the shadow's scoring run after it.
    setImmediate(() => void this.after(plan, scored, text, requestId, time, deps).catch(() => this.shadowErrors++))
    return c.body(scored.body, 200, JSON_TYPE)
  }

  /** Which version answers, in which role, and which one shadows it. */
  private plan(ref: string, requestId: string, deps: InvokeDeps): Plan {
    const { name, selector } = parseRef(ref)
    const config = this.config(name)
    const load = (r: string) => deps.load?.(r) ?? this.load(r)
    const routed = config !== undefined && (selector === config.champion || !ref.includes('@'))
    if (!routed) return { primary: deps.fixed ?? load(ref), role: config?.challenger === selector ? 'challenger' : 'champion' }
    const champion = this.loadAlias(name, config.champion, load)
    if (champion === undefined) throw new NotFoundError(`model ${name} has no alias ${JSON.stringify(config.champion)} (its serving config names it as the champion)`)
    let challenger = config.mode === 'single' || config.challenger === undefined ? undefined : this.loadAlias(name, config.challenger, load)
    if (challenger !== undefined && (challenger.version === champion.version || this.expired(challenger) !== undefined)) challenger = undefined
    if (challenger === undefined) return { primary: champion, role: 'champion' }
    if (config.mode === 'shadow') return { primary: champion, role: 'champion', shadow: challenger }
    return bucket(name, requestId) < config.split! ? { primary: challenger, role: 'b' } : { primary: champion, role: 'a' }
  }

  /** The version an alias names now (aliases.json re-read when it changes), loaded once per version. */
  private loadAlias(name: string, alias: string, load: (ref: string) => LoadedModel): LoadedModel | undefined {
    const file = join(this.registry.root, 'models', name, 'aliases.json')
    const stamp = fileStamp(file)
    let cached = this.aliases.get(name)
    if (cached === undefined || cached.stamp !== stamp) {
      cached = { stamp, aliases: stamp === '' ? {} : this.registry.entry('models', name).aliases }
      this.aliases.set(name, cached)
    }
    const version = ownValue(cached.aliases, alias)
    if (version === undefined) return undefined
    const key = `${name}@${version}`
    let loaded = this.models.get(key)
    if (loaded === undefined) {
      loaded = load(key)
      if (this.models.size >= 32) this.models.delete(this.models.keys().next().value!)
      this.models.set(key, loaded)
    }
    return loaded
  }

  /** A version from the registry, kept (a version never changes). */
  private load(ref: string): LoadedModel {
    const v = this.registry.resolve('models', ref)
    const key = `${v.name}@${v.version}`
    let loaded = this.models.get(key)
    if (loaded === undefined) {
      loaded = loadServedModel(this.registry, key)
      this.models.set(key, loaded)
    }
    return loaded
  }

  /** Past its config's expireAfter: the message and age (and one alert per version). */
  private expired(loaded: LoadedModel): { text: string; ageMs: number } | undefined {
    const config = this.config(loaded.name)
    if (config?.expireAfter === undefined) return undefined
    const key = `${loaded.name}@${loaded.version}`
    let createdAt = this.registered.get(key)
    if (createdAt === undefined) this.registered.set(key, (createdAt = this.registry.resolve('models', key).createdAt))
    const ageMs = this.now() - createdAt
    if (ageMs < parseDuration(config.expireAfter)) return undefined
    const text = `model ${key} has expired: registered ${age(ageMs)} ago, older than its expireAfter of ${config.expireAfter} (serving/${loaded.name}.json); promote a newer version or raise expireAfter`
    this.alertOnce(`serving.expired:${key}`, text)
    return { text, ageMs }
  }

  /** One line in <home>/monitor/alerts.jsonl per key, whichever process or request raises it first. */
  private alertOnce(key: string, text: string): void {
    if (this.alerted.has(key)) return
    this.alerted.add(key)
    const file = join(this.registry.home, 'monitor', 'alerts.jsonl')
    let existing = ''
    try {
      existing = readFileSync(file, 'utf8')
    } catch {
      // no alerts yet
    }
    const quoted = JSON.stringify(key)
    const raised = existing.split('\n').some((line) => {
      if (!line.includes(quoted)) return false
      try {
        const a = JSON.parse(line) as { key?: unknown; source?: unknown }
        return a.key === key && a.source === 'serving'
      } catch {
        return false
      }
    })
    if (raised) return
    // Through the workspace's alert sinks (log, webhook), which record it in alerts.jsonl; never in the request's way.
    try {
      void loadAlerting(this.registry.home)
        .alert({ source: 'serving', key, severity: 'critical', text }, { now: this.now() })
        .catch(() => {})
    } catch {
      // A damaged alerts.json: `mtflow alerts check` names it; the 503 still answers.
    }
  }

  /** Log the answer's predictions; score and log the shadow's. */
  private async after(plan: Plan, scored: Extract<Scored, { status: 200 }>, text: string, requestId: string, time: number, deps: InvokeDeps): Promise<void> {
    let m = scored.m
    if (m === undefined && text.length <= MAX_RELOG_BYTES) m = readInvocation(text, plan.primary.pkg)
    const result = scored.result ?? (JSON.parse(scored.body) as Record<string, unknown>)
    this.log.add(records(plan.primary, plan.role, m, result, requestId, time))
    const shadow = plan.shadow
    if (shadow === undefined) return
    try {
      let shadowM: Matrix | undefined
      let shadowResult: Record<string, unknown>
      // Same signature: the rows already read are scored as they are (no second parse).
      if (m !== undefined && scored.m !== undefined && sameInputs(plan.primary, shadow)) {
        shadowM = m
        shadowResult = score(shadow, m)
      } else {
        // Through the scoring workers the champion uses too: at most SHADOW_IN_FLIGHT shadow batches at a time,
        // the rest dropped (counted), so shadow work never queues ahead of the champion's under load.
        if (this.shadowInFlight >= SHADOW_IN_FLIGHT) {
          this.shadowDropped++
          return
        }
        this.shadowInFlight++
        let s: Scored
        try {
          s = await deps.score(shadow, text, Date.now())
        } finally {
          this.shadowInFlight--
        }
        if (s.status !== 200) {
          this.shadowErrors++
          return
        }
        shadowM = s.m ?? (sameInputs(plan.primary, shadow) ? m : undefined)
        shadowResult = s.result ?? (JSON.parse(s.body) as Record<string, unknown>)
      }
      this.log.add(records(shadow, 'shadow', shadowM, shadowResult, requestId, time))
    } catch {
      this.shadowErrors++
    }
  }
}

function sameInputs(a: LoadedModel, b: LoadedModel): boolean {
  return JSON.stringify(a.pkg.signature.inputs) === JSON.stringify(b.pkg.signature.inputs)
}

/** The records of one scored request, one per row. */
function records(loaded: LoadedModel, role: PredictionRole, m: Matrix | undefined, result: Record<string, unknown>, requestId: string, time: number): PredictionRecord[] {
  const predictions = result.predictions as (number | string | null)[]
  const probabilities = result.probabilities as (number | string)[][] | undefined
  const out: PredictionRecord[] = []
  const k = m?.columns.length ?? 0
  for (let r = 0; r < predictions.length; r++) {
    let row: Record<string, number | null> | null = null
    if (m !== undefined) {
      row = {}
      for (let j = 0; j < k; j++) {
        const v = m.X[r * k + j]!
        row[m.columns[j]!] = Number.isNaN(v) ? null : v
      }
    }
    const rec: PredictionRecord = { time, requestId, model: loaded.name, version: loaded.version, role, row, ...(m?.keys === undefined ? {} : { key: m.keys[r]! }), prediction: predictions[r] ?? null }
    const p = probabilities?.[r]
    if (p !== undefined) rec.probability = p.length === 2 ? p[1]! : p
    out.push(rec)
  }
  return out
}

/** The request's place in [0, 1): sha256 of the model name and request id, so a retry lands on the same version. */
export function bucket(name: string, requestId: string): number {
  return createHash('sha256').update(`${name}\n${requestId}`).digest().readUInt32BE(0) / 2 ** 32
}

/** "ino:mtime:size" of a file, '' when it does not exist. */
function fileStamp(file: string): string {
  try {
    const s = statSync(file)
    return `${s.ino}:${s.mtimeMs}:${s.size}`
  } catch {
    return ''
  }
}

function age(ms: number): string {
  const days = ms / 86_400_000
  if (days >= 1) return `${days.toFixed(1)} days`
  return `${(ms / 3_600_000).toFixed(1)} hours`
}
