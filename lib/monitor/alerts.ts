// Alerts: { source, key, severity, text } routed to sinks (a log file or stdout, webhooks), with
// de-duplication and a cooldown per key that hold across processes (state in monitor/alerts-state.json,
// decided under a lock held for that one write), and every alert appended to monitor/alerts.jsonl.
// Delivery never throws into the caller: a sink that fails is an outcome in the result and the history.
//
// <home>/monitor/alerts.json (absent: no sinks; alerts are still recorded in alerts.jsonl):
//   { "sinks": [ { "kind": "log", "file": "monitor/alerts.log" | "stdout", "name"?: "…" },
//                { "kind": "webhook", "url": "https://…", "timeoutMs"?: 5000, "retries"?: 3, "name"?: "…" } ],
//     "routes"?: [ { "sources"?: ["deployment:*", "monitor"], "minSeverity"?: "warning", "sinks": ["name", …] } ],
//     "dedupeSeconds"?: 600, "cooldownSeconds"?: 60 }

import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ConfigError, errorMessage, isoTime, preview, readTextFile, resolveInside, sha256, withLockSync, writeFileAtomic } from '../core/index.js'

export type Severity = 'info' | 'warning' | 'critical'
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical']

export interface AlertInput {
  /** Who raised it: "monitor", "scheduler", "deployment:NAME", "model:NAME"… (routes match on it). */
  source: string
  /** What it is about: alerts with the same key are de-duplicated and share a cooldown. */
  key: string
  severity: Severity
  text: string
}

export type SinkConfig =
  | { kind: 'log'; name?: string; file?: string }
  | { kind: 'webhook'; name?: string; url: string; timeoutMs?: number; retries?: number }

export interface RouteConfig {
  /** Sources this route takes: exact names, or a prefix ending in "*" ("deployment:*"); all when absent. */
  sources?: string[]
  /** The lowest severity it takes (default info). */
  minSeverity?: Severity
  sinks: string[]
}

export interface AlertsConfig {
  sinks: SinkConfig[]
  /** Absent or empty: every alert goes to every sink. Otherwise each alert goes to the sinks of every route it matches. */
  routes?: RouteConfig[]
  /** The same alert (key, severity and text) again within this many seconds of its last send is not sent, only counted. */
  dedupeSeconds?: number
  /** After a send, any other alert of the same key within this many seconds is held (counted) unless its severity is higher. */
  cooldownSeconds?: number
}

export interface Delivery {
  sink: string
  ok: boolean
  /** Attempts made (webhooks retry 5xx, 429 and network errors and timeouts, with backoff). */
  attempts: number
  /** The last HTTP status a webhook answered. */
  status?: number
  error?: string
}

export interface AlertOutcome {
  time: string
  source: string
  key: string
  severity: Severity
  text: string
  /** Sent: occurrences this send stands for (1 + those held since the last send). Held: the how-manieth held since the last send. */
  count: number
  sent: boolean
  /** Why it was not sent. */
  held?: 'duplicate' | 'cooldown'
  deliveries: Delivery[]
}

export interface AlertingOptions {
  /** Where a `{ kind: 'log', file: 'stdout' }` sink writes (default process.stdout). */
  stdout?: { write(text: string): unknown }
  /** How backoff waits between webhook attempts (tests pass one that records the delays). */
  sleep?: (ms: number) => Promise<void>
}

/** The webhook backoff: 500 ms before the second attempt, doubling, at most 30 s. */
export const BACKOFF_BASE_MS = 500
const BACKOFF_MAX_MS = 30_000
const DEFAULT_TIMEOUT_MS = 5_000
const DEFAULT_RETRIES = 3
const MAX_RETRIES = 10
const DEFAULT_DEDUPE_S = 600
const DEFAULT_COOLDOWN_S = 60
/** Texts longer than this are cut (a sink is not a log shipper). */
const MAX_TEXT = 2000
/** Keys remembered in the state file at most (the oldest sends are forgotten first). */
const MAX_KEYS = 10_000

export function alertsConfigFile(home: string): string {
  return join(home, 'monitor', 'alerts.json')
}
export function alertsHistoryFile(home: string): string {
  return join(home, 'monitor', 'alerts.jsonl')
}
function stateFile(home: string): string {
  return join(home, 'monitor', 'alerts-state.json')
}
function offsetsFile(home: string): string {
  return join(home, 'monitor', 'alerts-offsets.json')
}

interface Sink {
  name: string
  kind: 'log' | 'webhook'
  /** Where it goes, for people: "stdout", the log file's workspace path, the webhook's origin. */
  target: string
  send(body: WireAlert): Promise<Delivery>
}

/** The JSON body a webhook receives (and what a log line says). */
export interface WireAlert {
  time: string
  source: string
  key: string
  severity: Severity
  text: string
  count: number
}

interface KeyState {
  sentAt: number
  fingerprint: string
  severity: Severity
  held: number
}

/** The workspace's alerting: its sinks and routes, checked whole when loaded. */
export class Alerting {
  readonly sinks: readonly Sink[]
  private readonly routes: readonly RouteConfig[]
  private readonly dedupeMs: number
  private readonly cooldownMs: number

  constructor(
    readonly home: string,
    config: AlertsConfig,
    options: AlertingOptions = {},
  ) {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
    const stdout = options.stdout ?? process.stdout
    this.sinks = config.sinks.map((s, i) => makeSink(home, s, i, { sleep, stdout }))
    this.routes = config.routes ?? []
    this.dedupeMs = (config.dedupeSeconds ?? DEFAULT_DEDUPE_S) * 1000
    this.cooldownMs = (config.cooldownSeconds ?? DEFAULT_COOLDOWN_S) * 1000
  }

  /** The sinks an alert of this source and severity goes to. */
  route(source: string, severity: Severity): Sink[] {
    if (this.routes.length === 0) return [...this.sinks]
    const names = new Set<string>()
    for (const r of this.routes) {
      if (rank(severity) < rank(r.minSeverity ?? 'info')) continue
      if (r.sources !== undefined && !r.sources.some((p) => (p.endsWith('*') ? source.startsWith(p.slice(0, -1)) : source === p))) continue
      for (const n of r.sinks) names.add(n)
    }
    return this.sinks.filter((s) => names.has(s.name))
  }

  /**
   * Decide (under the state file's lock), deliver outside it, and record the outcome in alerts.jsonl.
   * A malformed alert is a ConfigError (a caller's bug); a failing sink is a Delivery with ok: false.
   */
  async alert(input: AlertInput, options: { now?: number } = {}): Promise<AlertOutcome> {
    const a = checkAlert(input)
    const now = options.now ?? Date.now()
    let decision: { count: number; held?: 'duplicate' | 'cooldown' }
    try {
      decision = this.decide(a, now)
    } catch {
      // The state file cannot be read or written (a full disk, a lock held too long): the alert goes
      // out undecided rather than being lost.
      decision = { count: 1 }
    }
    const wire: WireAlert = { time: isoTime(now), source: a.source, key: a.key, severity: a.severity, text: a.text, count: decision.count }
    const deliveries = decision.held === undefined ? await Promise.all(this.route(a.source, a.severity).map((s) => s.send(wire))) : []
    const outcome: AlertOutcome = { ...wire, sent: decision.held === undefined, ...(decision.held === undefined ? {} : { held: decision.held }), deliveries }
    try {
      appendLine(alertsHistoryFile(this.home), JSON.stringify(outcome))
    } catch (error) {
      outcome.deliveries.push({ sink: 'history', ok: false, attempts: 1, error: `could not append to monitor/alerts.jsonl: ${errorMessage(error)}` })
    }
    return outcome
  }

  /** One test alert through every sink, whatever the routes, the de-duplication and the cooldown. */
  async test(options: { now?: number } = {}): Promise<AlertOutcome> {
    const now = options.now ?? Date.now()
    const wire: WireAlert = { time: isoTime(now), source: 'mtflow', key: 'mtflow:test', severity: 'info', text: 'test alert from mtflow alerts test', count: 1 }
    const deliveries = await Promise.all(this.sinks.map((s) => s.send(wire)))
    const outcome: AlertOutcome = { ...wire, sent: true, deliveries }
    try {
      appendLine(alertsHistoryFile(this.home), JSON.stringify(outcome))
    } catch {
      /* the deliveries are the answer */
    }
    return outcome
  }

  private decide(a: AlertInput, now: number): { count: number; held?: 'duplicate' | 'cooldown' } {
    const fingerprint = sha256(`${a.severity}\n${a.text}`).slice(0, 16)
    const file = stateFile(this.home)
    mkdirSync(dirname(file), { recursive: true })
    return withLockSync(`${file}.lock`, () => {
      const keys = readState(file)
      const s = Object.hasOwn(keys, a.key) ? keys[a.key] : undefined
      let result: { count: number; held?: 'duplicate' | 'cooldown' }
      if (s === undefined) result = { count: 1 }
      else {
        const since = now - s.sentAt
        if (s.fingerprint === fingerprint && since < this.dedupeMs) result = { count: s.held + 1, held: 'duplicate' }
        else if (since < this.cooldownMs && rank(a.severity) <= rank(s.severity)) result = { count: s.held + 1, held: 'cooldown' }
        else result = { count: s.held + 1 }
      }
      keys[a.key] = result.held === undefined ? { sentAt: now, fingerprint, severity: a.severity, held: 0 } : { ...s!, held: s!.held + 1 }
      writeFileAtomic(file, JSON.stringify({ keys: prune(keys, now, Math.max(this.dedupeMs, this.cooldownMs)) }))
      return result
    })
  }
}

/** The workspace's alerting from monitor/alerts.json (no file: no sinks). A bad file is one ConfigError naming it. */
export function loadAlerting(home: string, options: AlertingOptions = {}): Alerting {
  const file = alertsConfigFile(home)
  if (!existsSync(file)) return new Alerting(home, { sinks: [] }, options)
  const text = readTextFile(file, 'alerts config', 2 ** 20)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`alerts config ${file} is not valid JSON (${errorMessage(error)})`, { cause: error })
  }
  try {
    return new Alerting(home, checkAlertsConfig(raw), options)
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`alerts config ${file}: ${error.message}`, { cause: error })
    throw error
  }
}

/** The config checked whole: unknown fields, bad sinks, routes naming no sink are refused. */
export function checkAlertsConfig(raw: unknown): AlertsConfig {
  const obj = record(raw, 'the config')
  onlyKeys(obj, ['sinks', 'routes', 'dedupeSeconds', 'cooldownSeconds'], 'the config')
  if (!Array.isArray(obj.sinks)) throw new ConfigError(`"sinks" must be an array of sinks (received ${preview(obj.sinks)})`)
  if (obj.sinks.length > 50) throw new ConfigError(`at most 50 sinks (received ${obj.sinks.length})`)
  const sinks = obj.sinks.map((s, i) => checkSink(s, i))
  const names = sinks.map((s, i) => sinkName(s, i))
  const dup = names.find((n, i) => names.indexOf(n) !== i)
  if (dup !== undefined) throw new ConfigError(`two sinks are named ${JSON.stringify(dup)}`)
  const config: AlertsConfig = { sinks }
  if (obj.routes !== undefined) {
    if (!Array.isArray(obj.routes) || obj.routes.length > 100) throw new ConfigError(`"routes" must be an array of at most 100 routes (received ${preview(obj.routes)})`)
    config.routes = obj.routes.map((r, i) => checkRoute(r, i, names))
  }
  for (const k of ['dedupeSeconds', 'cooldownSeconds'] as const) {
    const v = obj[k]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 31 * 86400) throw new ConfigError(`"${k}" must be a number of seconds from 0 to 2678400 (received ${preview(v)})`)
    config[k] = v
  }
  return config
}

/** A webhook URL as the config may give it: absolute http(s), a host, no credentials. Returns the URL. */
export function checkWebhookUrl(url: unknown, what = 'webhook url'): URL {
  if (typeof url !== 'string' || url.length > 2000) throw new ConfigError(`${what} must be a string of at most 2000 characters (received ${preview(url)})`)
  // An absolute http(s) URL written out: "http:host" and "//host" parse too leniently to be taken.
  if (!/^https?:\/\/[^/\s]/i.test(url) || /[\s\x00-\x1f\x7f]/.test(url)) throw new ConfigError(`${what} ${preview(url)} must be an absolute http:// or https:// URL`)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(`${what} ${preview(url)} is not a URL`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${what} ${preview(url)} must be an absolute http:// or https:// URL`)
  if (parsed.username !== '' || parsed.password !== '') throw new ConfigError(`${what} ${preview(parsed.origin)}: credentials in the URL are refused (put a token in the path or use a receiver that needs none)`)
  if (parsed.hostname === '') throw new ConfigError(`${what} ${preview(url)} has no host`)
  // Cloud metadata services and link-local addresses (credentials live there): never a receiver of alerts.
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (/^169\.254\./.test(host) || /^fe[89ab][0-9a-f]:/.test(host) || host === '0.0.0.0' || host === '::' || host === 'metadata.google.internal' || host === 'metadata' || /^fd00:ec2::/.test(host)) {
    throw new ConfigError(`${what} ${preview(parsed.origin)}: a link-local or cloud metadata address is refused as an alert receiver`)
  }
  return parsed
}

function checkSink(raw: unknown, i: number): SinkConfig {
  const what = `sinks[${i}]`
  const s = record(raw, what)
  if (s.kind === 'log') {
    onlyKeys(s, ['kind', 'name', 'file'], what)
    const sink: SinkConfig = { kind: 'log' }
    if (s.name !== undefined) sink.name = checkName(s.name, `${what}.name`)
    if (s.file !== undefined) {
      if (typeof s.file !== 'string') throw new ConfigError(`${what}.file must be "stdout" or a path inside the workspace (received ${preview(s.file)})`)
      if (s.file !== 'stdout') resolveInside('/workspace', s.file, `${what}.file`)
      sink.file = s.file
    }
    return sink
  }
  if (s.kind === 'webhook') {
    onlyKeys(s, ['kind', 'name', 'url', 'timeoutMs', 'retries'], what)
    checkWebhookUrl(s.url, `${what}.url`)
    const sink: SinkConfig = { kind: 'webhook', url: s.url as string }
    if (s.name !== undefined) sink.name = checkName(s.name, `${what}.name`)
    if (s.timeoutMs !== undefined) {
      if (!Number.isInteger(s.timeoutMs) || (s.timeoutMs as number) < 1 || (s.timeoutMs as number) > 120_000) throw new ConfigError(`${what}.timeoutMs must be an integer from 1 to 120000 (received ${preview(s.timeoutMs)})`)
      sink.timeoutMs = s.timeoutMs as number
    }
    if (s.retries !== undefined) {
      if (!Number.isInteger(s.retries) || (s.retries as number) < 0 || (s.retries as number) > MAX_RETRIES) throw new ConfigError(`${what}.retries must be an integer from 0 to ${MAX_RETRIES} (received ${preview(s.retries)})`)
      sink.retries = s.retries as number
    }
    return sink
  }
  throw new ConfigError(`${what}.kind must be "log" or "webhook" (received ${preview(s.kind)})`)
}

function checkRoute(raw: unknown, i: number, names: string[]): RouteConfig {
  const what = `routes[${i}]`
  const r = record(raw, what)
  onlyKeys(r, ['sources', 'minSeverity', 'sinks'], what)
  if (!Array.isArray(r.sinks) || r.sinks.length === 0) throw new ConfigError(`${what}.sinks must be a non-empty array of sink names (received ${preview(r.sinks)})`)
  for (const n of r.sinks) if (typeof n !== 'string' || !names.includes(n)) throw new ConfigError(`${what}.sinks names ${preview(n)}, which is no sink (sinks: ${names.join(', ') || 'none'})`)
  const route: RouteConfig = { sinks: r.sinks as string[] }
  if (r.sources !== undefined) {
    if (!Array.isArray(r.sources) || r.sources.some((p) => typeof p !== 'string' || p === '' || p.length > 200)) throw new ConfigError(`${what}.sources must be an array of source names or prefixes ending in "*" (received ${preview(r.sources)})`)
    route.sources = r.sources as string[]
  }
  if (r.minSeverity !== undefined) route.minSeverity = checkSeverity(r.minSeverity, `${what}.minSeverity`)
  return route
}

function checkAlert(input: AlertInput): AlertInput {
  const a = record(input, 'an alert')
  for (const k of ['source', 'key'] as const) {
    if (typeof a[k] !== 'string' || a[k] === '' || (a[k] as string).length > 200) throw new ConfigError(`an alert's ${k} must be a string of 1–200 characters (received ${preview(a[k])})`)
  }
  if (typeof a.text !== 'string') throw new ConfigError(`an alert's text must be a string (received ${preview(a.text)})`)
  const text = a.text.length > MAX_TEXT ? `${a.text.slice(0, MAX_TEXT - 1)}…` : a.text
  return { source: a.source as string, key: a.key as string, severity: checkSeverity(a.severity, "an alert's severity"), text }
}

function checkSeverity(v: unknown, what: string): Severity {
  if (!SEVERITIES.includes(v as Severity)) throw new ConfigError(`${what} must be one of ${SEVERITIES.join(', ')} (received ${preview(v)})`)
  return v as Severity
}

function checkName(v: unknown, what: string): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) throw new ConfigError(`${what} must be 1–64 letters, digits, '.', '_' or '-' (received ${preview(v)})`)
  return v
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${what} must be a JSON object (received ${preview(v)})`)
  return v as Record<string, unknown>
}

function onlyKeys(obj: Record<string, unknown>, allowed: string[], what: string): void {
  const extra = Object.keys(obj).find((k) => !allowed.includes(k))
  if (extra !== undefined) throw new ConfigError(`${what} has an unknown field ${preview(extra)} (expected ${allowed.join(', ')})`)
}

function sinkName(s: SinkConfig, i: number): string {
  return s.name ?? `${s.kind}-${i + 1}`
}

function rank(s: Severity): number {
  return SEVERITIES.indexOf(s)
}

function makeSink(home: string, s: SinkConfig, i: number, io: { sleep: (ms: number) => Promise<void>; stdout: { write(text: string): unknown } }): Sink {
  const name = sinkName(s, i)
  if (s.kind === 'log') {
    const file = s.file ?? 'monitor/alerts.log'
    const path = file === 'stdout' ? undefined : resolveInside(home, file, `sinks[${i}].file`)
    return {
      name,
      kind: 'log',
      target: file,
      send: async (a) => {
        // One line each, whatever the alert carries: control characters (newlines, terminal escapes) become spaces.
        const flat = (t: string) => t.replace(/[\x00-\x1f\x7f]+/g, ' ')
        const line = `${a.time} ${a.severity.toUpperCase()} ${flat(a.source)} ${flat(a.key)}: ${flat(a.text)}${a.count > 1 ? ` (×${a.count})` : ''}\n`
        try {
          if (path === undefined) io.stdout.write(line)
          else appendLine(path, line.slice(0, -1))
          return { sink: name, ok: true, attempts: 1 }
        } catch (error) {
          return { sink: name, ok: false, attempts: 1, error: errorMessage(error) }
        }
      },
    }
  }
  const url = s.url
  const timeoutMs = s.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const retries = s.retries ?? DEFAULT_RETRIES
  return { name, kind: 'webhook', target: new URL(url).origin, send: (a) => postWebhook(name, url, a, { timeoutMs, retries, sleep: io.sleep }) }
}

/** POST the alert; 5xx, 429, network errors and timeouts are retried after 500 ms, 1 s, 2 s…; anything else is final. */
async function postWebhook(sink: string, url: string, body: WireAlert, o: { timeoutMs: number; retries: number; sleep: (ms: number) => Promise<void> }): Promise<Delivery> {
  const payload = JSON.stringify(body)
  let last: Delivery = { sink, ok: false, attempts: 0 }
  for (let attempt = 1; attempt <= o.retries + 1; attempt++) {
    if (attempt > 1) await o.sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 2)))
    let retry: boolean
    try {
      // Redirects are not followed: a receiver is where it was configured, nowhere else.
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload, redirect: 'manual', signal: AbortSignal.timeout(o.timeoutMs) })
      await res.body?.cancel().catch(() => {})
      if (res.status >= 200 && res.status < 300) return { sink, ok: true, attempts: attempt, status: res.status }
      retry = res.status >= 500 || res.status === 429
      last = { sink, ok: false, attempts: attempt, status: res.status, error: `the receiver answered ${res.status}` }
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
      last = { sink, ok: false, attempts: attempt, error: timedOut ? `no answer within ${o.timeoutMs} ms` : `could not reach the receiver (${networkReason(error)})` }
      retry = true
    }
    if (!retry) return last
  }
  return last
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? errorMessage(error)
}

function readState(file: string): Record<string, KeyState> {
  try {
    const parsed = JSON.parse(readTextFile(file, 'alert state', 64 * 2 ** 20)) as { keys?: unknown }
    const keys = parsed.keys
    if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) return Object.create(null) as Record<string, KeyState>
    const out: Record<string, KeyState> = Object.create(null) as Record<string, KeyState>
    for (const [k, v] of Object.entries(keys as Record<string, unknown>)) {
      const s = v as Partial<KeyState> | null
      if (s === null || typeof s !== 'object' || typeof s.sentAt !== 'number' || typeof s.fingerprint !== 'string' || !SEVERITIES.includes(s.severity as Severity) || typeof s.held !== 'number') continue
      out[k] = { sentAt: s.sentAt, fingerprint: s.fingerprint, severity: s.severity!, held: s.held }
    }
    return out
  } catch {
    // No file yet, or a damaged one: alerting starts afresh rather than going silent.
    return Object.create(null) as Record<string, KeyState>
  }
}

/** Keys whose last send is older than both windows no longer matter; past MAX_KEYS the oldest go. */
function prune(keys: Record<string, KeyState>, now: number, keepMs: number): Record<string, KeyState> {
  let entries = Object.entries(keys).filter(([, s]) => now - s.sentAt < keepMs || s.held > 0)
  if (entries.length > MAX_KEYS) entries = entries.sort((a, b) => b[1].sentAt - a[1].sentAt).slice(0, MAX_KEYS)
  return Object.fromEntries(entries)
}

/** One line appended with a single write (O_APPEND: lines of concurrent writers do not interleave); never through a link. */
function appendLine(file: string, line: string): void {
  mkdirSync(dirname(file), { recursive: true })
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644)
  try {
    writeSync(fd, `${line}\n`)
  } finally {
    closeSync(fd)
  }
}

// ---- history ----

/** The last `limit` alerts recorded (newest last); damaged lines are skipped. Reads at most the file's last 4 MiB. */
export function readAlertHistory(home: string, options: { limit?: number } = {}): AlertOutcome[] {
  const limit = options.limit ?? 50
  const text = readTail(alertsHistoryFile(home), 4 * 2 ** 20)
  const out: AlertOutcome[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try {
      const v = JSON.parse(line) as AlertOutcome
      if (v !== null && typeof v === 'object' && typeof v.key === 'string' && typeof v.text === 'string') out.push(v)
    } catch {
      /* a torn or foreign line */
    }
  }
  return out.slice(-limit)
}

function readTail(file: string, maxBytes: number): string {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch {
    return ''
  }
  try {
    const size = fstatSync(fd).size
    const start = Math.max(0, size - maxBytes)
    const buf = Buffer.alloc(size - start)
    let got = 0
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got)
      if (n === 0) break
      got += n
    }
    const text = buf.subarray(0, got).toString('utf8')
    // A cut first line is dropped.
    return start > 0 ? text.slice(text.indexOf('\n') + 1) : text
  } finally {
    closeSync(fd)
  }
}

// ---- deployments ----

/** Bytes of one deployment's alerts.jsonl read per call at most (the rest waits for the next call). */
const FORWARD_CHUNK = 2 ** 20

/**
 * New lines of every deployments/NAME/alerts.jsonl (written by lib/live/deployment.ts as { time, text })
 * sent through the sinks as source "deployment:NAME", key "deployment:NAME:" + a hash of the text
 * (the same text repeated is de-duplicated), severity critical when the text speaks of a halt, else
 * warning. The offset reached in each file is kept in monitor/alerts-offsets.json after its lines were
 * handled, so a crash sends a line again rather than never (the de-duplication then holds it). A file
 * that shrank (replaced) is read from its start.
 */
export async function forwardDeploymentAlerts(home: string, options: { now?: number; alerting?: Alerting } = {}): Promise<AlertOutcome[]> {
  const root = join(home, 'deployments')
  if (!existsSync(root)) return []
  const alerting = options.alerting ?? loadAlerting(home)
  const offsets = readOffsets(offsetsFile(home))
  const out: AlertOutcome[] = []
  for (const name of readdirSync(root).sort()) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) continue
    const file = join(root, name, 'alerts.jsonl')
    let size: number
    try {
      const st = statSync(file)
      if (!st.isFile()) continue
      size = st.size
    } catch {
      continue
    }
    let from = Object.hasOwn(offsets, name) ? offsets[name]! : 0
    const restarted = size < from
    if (restarted) from = 0
    if (size === from) continue
    const chunk = readRange(file, from, Math.min(size, from + FORWARD_CHUNK))
    const end = chunk.lastIndexOf(0x0a)
    if (end < 0) {
      // One line longer than a chunk: skipped whole (no deployment writes such a line).
      if (chunk.length >= FORWARD_CHUNK) commitOffset(home, name, from + chunk.length, restarted)
      continue
    }
    for (const line of chunk.subarray(0, end).toString('utf8').split('\n')) {
      const text = deploymentAlertText(line)
      if (text === undefined) continue
      const severity: Severity = /\bhalt/i.test(text) ? 'critical' : 'warning'
      // Keyed by the text with its numbers blanked: the same alert with another price or time is one key (dedupe, cooldown).
      out.push(await alerting.alert({ source: `deployment:${name}`, key: `deployment:${name}:${sha256(text.replace(/-?\d+(\.\d+)?(e-?\d+)?/gi, '#')).slice(0, 12)}`, severity, text }, { now: options.now }))
    }
    commitOffset(home, name, from + end + 1, restarted)
  }
  return out
}

function deploymentAlertText(line: string): string | undefined {
  if (line.trim() === '') return undefined
  try {
    const v = JSON.parse(line) as { text?: unknown }
    return v !== null && typeof v === 'object' && typeof v.text === 'string' && v.text !== '' ? v.text : undefined
  } catch {
    return undefined
  }
}

function readRange(file: string, from: number, to: number): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    const buf = Buffer.alloc(to - from)
    let got = 0
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got)
      if (n === 0) break
      got += n
    }
    return buf.subarray(0, got)
  } finally {
    closeSync(fd)
  }
}

function readOffsets(file: string): Record<string, number> {
  try {
    const v = JSON.parse(readTextFile(file, 'alert offsets', 16 * 2 ** 20)) as unknown
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return {}
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter((e): e is [string, number] => Number.isSafeInteger(e[1]) && (e[1] as number) >= 0))
  } catch {
    return {}
  }
}

/** The offset moves forward only (of two forwarders, the one further along wins), unless the file was
 * read again from its start because it shrank. */
function commitOffset(home: string, name: string, offset: number, restarted: boolean): void {
  const file = offsetsFile(home)
  withLockSync(`${file}.lock`, () => {
    const offsets = readOffsets(file)
    if (!restarted && offset <= (Object.hasOwn(offsets, name) ? offsets[name]! : 0)) return
    offsets[name] = offset
    writeFileAtomic(file, JSON.stringify(offsets))
  })
}
