// Model serving, MLflow-compatible: POST /invocations scores rows, GET /ping answers when the model is
// loaded, GET /version describes it. Inputs are checked against the package's signature (invocation.ts);
// the model is rebuilt from numbers (a package is data; nothing in it is ever evaluated) and checked whole
// when loaded. Small batches are scored here; big ones in a worker thread with a time budget, so one
// request can neither stall the event loop nor run forever.
//   { "inputs": [ {"z": 1.2, …}, … ] }            records (or rows as arrays, in signature order)
//   { "dataframe_split": { "columns": […], "data": [[…], …] } }
//   { "dataframe_records": [ {…}, … ] }

import type { Context } from 'hono'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { capMessage, ConfigError, FileIntegrityError, moduleDir, preview } from '../core/index.js'
import { loadPackage, scoringCost, type Matrix, type Model, type ModelPackage } from '../ml/index.js'
import type { Registry } from '../track/index.js'
import { sendJson } from './api.js'
import { readInvocation, resultToJson, score } from './invocation.js'
import type { ChampionServing } from './champion.js'
import { noteScoring } from './metrics.js'
import type { ScoreJob, ScoreReply } from './score-worker.js'

/** A worker's reply that answers the request (not "send me the model again"). */
type Answer = Exclude<ScoreReply, { status: 'missing' }>

export { MAX_ROWS, parseInvocation, score } from './invocation.js'

export interface LoadedModel {
  name: string
  version: number
  pkg: ModelPackage
  model: Model
  /** The stored package (sent to scoring workers as text: a string copies far faster than the model's objects). */
  text?: string
  /** Steps one row's prediction takes at most (see scoringCost): rows × this decides where to score. */
  costPerRow?: number
}

export interface ServingOptions {
  /** Milliseconds one scoring request may take, queueing included (default: MTFLOW_SCORING_BUDGET_MS, else 10 s). */
  budgetMs?: number
  /** Champion/challenger serving (shadow, A/B, expiry, the prediction log: champion.ts); absent, the plain routes. */
  champion?: ChampionServing
}

/** Bodies up to this size are parsed here; a batch is scored here when rows × cost per row stays under INLINE_WORK. */
const INLINE_BYTES = 256 * 1024
/** ~10 ms of tree steps: more is scored in a worker thread (starting one costs ~0.3 s, so small batches stay here). */
const INLINE_WORK = 2_000_000
/** Error messages in a response are cut here, whatever they quote. */
const MAX_MESSAGE = 500

/** The time budget of a scoring request: the option, else MTFLOW_SCORING_BUDGET_MS, else 10 s. */
export function scoringBudget(options: ServingOptions = {}): number {
  const raw = options.budgetMs ?? process.env.MTFLOW_SCORING_BUDGET_MS
  if (raw === undefined || raw === '') return 10_000
  const n = typeof raw === 'number' ? raw : /^\d+$/.test(raw) ? Number(raw) : NaN
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`the scoring budget (MTFLOW_SCORING_BUDGET_MS) must be an integer number of milliseconds ≥ 1 (received ${preview(raw)})`)
  return n
}

function describe(loaded: LoadedModel): Record<string, unknown> {
  const { pkg } = loaded
  return { name: loaded.name, version: loaded.version, family: pkg.family, task: pkg.task, signature: pkg.signature, dataSnapshot: pkg.dataSnapshot, metrics: pkg.metrics, runId: pkg.runId ?? null, createdAt: pkg.createdAt }
}

async function invocations(c: Context, loaded: LoadedModel, scorer: Scorer): Promise<Response> {
  const started = Date.now()
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/json\b/i.test(type)) return sendJson(c, { error: `send the rows as JSON (Content-Type: application/json; received ${preview(type)})` }, 415)
  const scored = await scoringFor(c, scorer)(loaded, await c.req.text(), started, c.req.raw.signal)
  if (scored.status === 200) return c.body(scored.body, 200, JSON_TYPE)
  return sendJson(c, { error: capMessage(scored.error, MAX_MESSAGE) }, scored.status)
}

/** A scored request: the body, and (when scored on this thread) the rows and the result, for the prediction log. */
export type Scored = { status: 200; body: string; m?: Matrix; result?: Record<string, unknown> } | { status: 400 | 500 | 503; error: string }

/** Score a request's body text: here when small, else in a worker thread (bad input is a 400, never thrown). */
export async function scoreRequest(loaded: LoadedModel, text: string, scorer: Scorer, started: number, signal?: AbortSignal): Promise<Scored> {
  try {
    if (text.length <= INLINE_BYTES) {
      const m = readInvocation(text, loaded.pkg)
      const cost = (loaded.costPerRow ??= scoringCost(loaded.pkg.model))
      if (m.rows * cost <= INLINE_WORK) {
        const result = score(loaded, m)
        return { status: 200, body: resultToJson(result), m, result }
      }
    }
  } catch (error) {
    if (error instanceof ConfigError) return { status: 400, error: error.message }
    throw error
  }
  return scorer.run(loaded, text, started, signal)
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' }

/** scoreRequest with the model that answers the request and its rows noted for /metrics (metrics.ts). Only a
 * request's first scoring is noted: a shadow scores the same rows after the answer has gone out. */
function scoringFor(c: Context, scorer: Scorer): (loaded: LoadedModel, text: string, started: number, signal?: AbortSignal) => Promise<Scored> {
  return async (loaded, text, started, signal) => {
    const note = noteScoring(c, loaded)
    const scored = await scoreRequest(loaded, text, scorer, started, signal)
    // Rows scored in a worker are counted once its reply says how many (a `rows` field).
    if (note !== undefined && scored.status === 200) note.rows = scored.m?.rows ?? ('rows' in scored && typeof scored.rows === 'number' ? scored.rows : undefined)
    return scored
  }
}

/** A scoring worker and the models it has read (their package text is sent once per worker). */
interface Slot {
  worker: Worker
  keys: Set<string>
  idleTimer?: ReturnType<typeof setTimeout>
}

/**
 * Big batches in worker threads, at most cores − 1 at once so the event loop keeps a core (the others wait
 * their turn). A worker that answered is kept for the next batch (starting one costs ~0.3 s), for a minute
 * at most; one that runs over the budget or whose client went away is terminated, which is what stops the
 * work. The budget counts from the request's arrival: over it, the answer is a 503.
 */
export class Scorer {
  private running = 0
  private readonly waiting: (() => void)[] = []
  private readonly idle: Slot[] = []
  private readonly limit = Math.max(1, availableParallelism() - 1)
  private readonly file = join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'score-worker.cjs')

  constructor(readonly budgetMs: number) {}

  async run(loaded: LoadedModel, text: string, started: number, signal?: AbortSignal): Promise<Answer | { status: 503; error: string }> {
    const over = (): { status: 503; error: string } => ({ status: 503, error: `scoring took longer than its ${this.budgetMs} ms budget and was stopped: send fewer rows per request (or raise MTFLOW_SCORING_BUDGET_MS)` })
    if (this.running >= this.limit) {
      const turn = await new Promise<boolean>((resolve) => {
        const go = () => {
          clearTimeout(timer)
          resolve(true)
        }
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(go), 1)
          resolve(false)
        }, Math.max(0, started + this.budgetMs - Date.now()))
        this.waiting.push(go)
      })
      if (!turn) return over()
    }
    // A client that went away while its body was read or while it waited for a worker: nothing to score.
    // (An 'abort' listener added later would never fire for a signal that is already aborted.)
    const gone = (): { status: 503; error: string } => ({ status: 503, error: 'the client went away; scoring was stopped' })
    if (signal?.aborted === true) {
      this.waiting.shift()?.()
      return gone()
    }
    this.running++
    try {
      const slot = this.take()
      const key = `${loaded.name}@${loaded.version}`
      const pkgText = () => loaded.text ?? JSON.stringify(loaded.pkg)
      const job: ScoreJob = { key, text, ...(slot.keys.has(key) ? {} : { pkgText: pkgText() }) }
      return await new Promise((resolve) => {
        const { worker } = slot
        let done = false
        const finish = (reply: Answer | { status: 500 | 503; error: string }, keep: boolean) => {
          if (done) return
          done = true
          clearTimeout(timer)
          signal?.removeEventListener('abort', abandon)
          worker.off('message', answered).off('error', failed).off('exit', exited)
          if (keep) this.release(slot)
          else void worker.terminate()
          resolve(reply)
        }
        const answered = (reply: ScoreReply) => {
          if (reply.status === 'missing') {
            // The worker dropped this model to make room for others: send it again, once.
            slot.keys.delete(key)
            if (job.pkgText !== undefined) return finish({ status: 500, error: `the scoring worker did not keep model ${key}` }, false)
            job.pkgText = pkgText()
            worker.postMessage(job)
            return
          }
          slot.keys.add(key)
          finish(reply, true)
        }
        const failed = (error: unknown) => finish({ status: 500, error: `scoring failed: ${error instanceof Error ? error.message : String(error)}` }, false)
        const exited = (code: number) => finish({ status: 500, error: `the scoring worker stopped (exit code ${code}) before answering` }, false)
        const abandon = () => finish(gone(), false)
        const timer = setTimeout(() => finish(over(), false), Math.max(0, started + this.budgetMs - Date.now()))
        signal?.addEventListener('abort', abandon)
        worker.on('message', answered).on('error', failed).on('exit', exited)
        worker.postMessage(job)
      })
    } finally {
      this.running--
      this.waiting.shift()?.()
    }
  }

  private take(): Slot {
    const slot = this.idle.pop()
    if (slot !== undefined) {
      clearTimeout(slot.idleTimer)
      return slot
    }
    const worker = new Worker(this.file)
    // An idle worker must not keep the process alive (a notebook, a test, the CLI after the server closed).
    worker.unref()
    const fresh: Slot = { worker, keys: new Set() }
    // A worker that dies while idle leaves the pool; its error (reported to a request when one is running)
    // must never reach the process as an unhandled 'error' event.
    worker.on('error', () => {})
    worker.once('exit', () => {
      const at = this.idle.indexOf(fresh)
      if (at >= 0) this.idle.splice(at, 1)
      clearTimeout(fresh.idleTimer)
    })
    return fresh
  }

  private release(slot: Slot): void {
    if (this.idle.length >= this.limit) {
      void slot.worker.terminate()
      return
    }
    slot.idleTimer = setTimeout(() => void slot.worker.terminate(), 60_000)
    slot.idleTimer.unref()
    this.idle.push(slot)
  }
}

/** The three routes for one loaded model, at the root of an app (`mtflow models serve`). */
export function modelRoutes(app: Hono, loaded: LoadedModel, options: ServingOptions = {}): Hono {
  const scorer = new Scorer(scoringBudget(options))
  app.get('/ping', (c) => sendJson(c, { status: 'ok', model: `${loaded.name}@${loaded.version}` }))
  app.get('/version', (c) => sendJson(c, describe(loaded)))
  const { champion } = options
  const ref = `${loaded.name}@${loaded.version}`
  app.post('/invocations', (c) => (champion === undefined ? invocations(c, loaded, scorer) : champion.invoke(c, champion.startRef ?? ref, { fixed: loaded, score: scoringFor(c, scorer) })))
  return app
}

/** Inside `mtflow serve`: /models/NAME@REF/{ping,version,invocations}, the alias resolved at each request
 * (moving an alias moves the traffic), each version loaded (and checked) once. A version whose package is
 * broken — a cyclic tree, an index out of range, a signature that is not the model's — answers its routes
 * with a 500 naming the fault (remembered, so it is not re-read every request); other routes are untouched. */
export function registryModelRoutes(registry: Registry, options: ServingOptions = {}): Hono {
  const scorer = new Scorer(scoringBudget(options))
  const cache = new Map<string, LoadedModel | { broken: string } | { refused: FileIntegrityError; until: number }>()
  const load = (ref: string): LoadedModel => {
    const v = registry.resolve('models', ref)
    const key = `${v.name}@${v.version}`
    let loaded = cache.get(key)
    if (loaded !== undefined && 'refused' in loaded && loaded.until < Date.now()) loaded = undefined
    if (loaded === undefined) {
      try {
        const { pkg, model, text } = loadPackage(registry, key)
        loaded = { name: v.name, version: v.version, pkg, model, text }
      } catch (error) {
        // A file swapped for a link or changed since registration (403/409) is remembered a few seconds
        // (requests cannot make the server re-read and re-hash it in a loop), then read again: someone
        // may have put the right file back.
        if (error instanceof FileIntegrityError) loaded = { refused: error, until: Date.now() + 5_000 }
        else if (!(error instanceof ConfigError)) throw error
        else {
          const fault = error.message.startsWith(`model ${key}: `) ? error.message.slice(`model ${key}: `.length) : error.message
          loaded = { broken: capMessage(`model ${key} cannot be served, its package is invalid: ${fault}`, MAX_MESSAGE) }
        }
      }
      if (cache.size >= 32) cache.delete(cache.keys().next().value!)
      cache.set(key, loaded)
    }
    if ('refused' in loaded) throw loaded.refused
    if ('broken' in loaded) throw new HTTPException(500, { message: loaded.broken })
    return loaded
  }
  const app = new Hono()
  app.get('/:ref/ping', (c) => {
    const loaded = load(c.req.param('ref'))
    return sendJson(c, { status: 'ok', model: `${loaded.name}@${loaded.version}` })
  })
  app.get('/:ref/version', (c) => sendJson(c, describe(load(c.req.param('ref')))))
  const { champion } = options
  app.post('/:ref/invocations', (c) => (champion === undefined ? invocations(c, load(c.req.param('ref')), scorer) : champion.invoke(c, c.req.param('ref'), { load, score: scoringFor(c, scorer) })))
  return app
}

/** A model loaded once from the registry, for `mtflow models serve NAME@ALIAS`. */
export function loadServedModel(registry: Registry, ref: string): LoadedModel {
  const { pkg, model, name, version, text } = loadPackage(registry, ref)
  return { name, version, pkg, model, text }
}
