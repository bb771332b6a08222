// Where a study's trials live: in memory, or in the workspace as an append-only JSON-lines event log
// (MTFLOW_HOME/studies/<name>.jsonl) that several processes share. Each event is one append (a single
// write: concurrent writers never interleave); creating a trial and recovering crashed ones happen under
// a lock held for that one write, after reading what the others appended. The file is the truth: a
// file-backed store applies its own events by reading them back.

import { hostname } from 'node:os'
import { mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ConfigError, withLockSync } from '../core/index.js'
import { appendRecords, readRecords } from '../track/index.js'
import type { Distribution, ParamSet } from './space.js'
import type { Direction, TrialOwner, TrialRecord, TrialState } from './types.js'

export interface StudyHeader {
  name: string
  directions: Direction[]
  /** The declared space, for a study reopened without one. */
  space?: Record<string, Distribution>
  createdAt: number
}

export type StudyEvent =
  | ({ e: 'study'; format: 1 } & StudyHeader)
  | { e: 'trial'; n: number; at: number; owner?: TrialOwner; fixed?: ParamSet; queue?: string }
  | { e: 'params'; n: number; params: ParamSet; dists: Record<string, Distribution> }
  | { e: 'attr'; n: number; key: string; value: unknown }
  | { e: 'report'; n: number; step: number; value: number }
  | { e: 'finish'; n: number; state: Exclude<TrialState, 'running'>; values?: number[]; error?: string; at: number }
  | { e: 'enqueue'; q: string; params: ParamSet; at: number; from?: number }

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
export interface MutableTrial extends Mutable<Omit<TrialRecord, 'params' | 'distributions' | 'intermediate' | 'system'>> {
  params: ParamSet
  distributions: Record<string, Distribution>
  intermediate: Map<number, number>
  system: Record<string, unknown>
}

/** Study objects alive in this process: a running trial of another session of this pid is orphaned. */
export const liveSessions = new Set<string>()

export function newSession(): string {
  const s = randomBytes(6).toString('hex')
  liveSessions.add(s)
  return s
}

/** Why a running trial's owner is gone (same host only: another host's trials are left alone). */
export function ownerGone(owner: TrialOwner | undefined): string | undefined {
  if (owner === undefined || owner.host !== hostname()) return undefined
  if (owner.pid === process.pid) return liveSessions.has(owner.session) ? undefined : `its study session ${owner.session} in this process has ended`
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if ((error as { code?: string }).code === 'ESRCH') return `its process ${owner.pid} on ${owner.host} is gone`
  }
  const start = owner.start === undefined ? undefined : processStart(owner.pid)
  if (start !== undefined && start !== owner.start) return `its process ${owner.pid} on ${owner.host} is gone (the pid belongs to a newer process)`
  return undefined
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), where there is a /proc. */
export function processStart(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

export function studyFile(home: string, name: string): string {
  return join(home, 'studies', `${name}.jsonl`)
}

export class StudyStore {
  header: StudyHeader | undefined
  readonly trials: MutableTrial[] = []
  /** Enqueued parameter sets no trial has taken yet, oldest first. */
  readonly queue: { q: string; params: ParamSet }[] = []
  finishedCount = 0
  private offset = 0

  private constructor(readonly file: string | undefined) {}

  static memory(header: StudyHeader): StudyStore {
    const store = new StudyStore(undefined)
    store.header = header
    return store
  }

  /** The store of a study file; with `create`, a missing or empty file gets this header. */
  static open(file: string, create?: StudyHeader): StudyStore {
    const store = new StudyStore(file)
    if (create !== undefined) mkdirSync(dirname(file), { recursive: true })
    store.locked(() => {
      store.refresh()
      if (store.header === undefined && create !== undefined) store.write({ e: 'study', format: 1, ...create })
    })
    return store
  }

  /** Apply what other processes appended since the last read. */
  refresh(): void {
    if (this.file === undefined) return
    const read = readRecords<StudyEvent>(this.file, this.offset)
    for (const event of read.records) this.apply(event)
    this.offset = read.end
  }

  createTrial(owner: TrialOwner, fixed?: ParamSet): MutableTrial {
    return this.locked(() => {
      this.refresh()
      const queued = fixed === undefined ? this.queue[0] : undefined
      const n = this.trials.length
      const extra = queued !== undefined ? { fixed: queued.params, queue: queued.q } : fixed !== undefined ? { fixed } : {}
      this.write({ e: 'trial', n, at: Date.now(), owner, ...extra })
      return this.trials[n]!
    })
  }

  setParams(n: number, params: ParamSet, dists: Record<string, Distribution>): void {
    if (Object.keys(params).length > 0) this.write({ e: 'params', n, params, dists })
  }

  setSystem(n: number, key: string, value: unknown): void {
    this.write({ e: 'attr', n, key, value })
  }

  report(n: number, step: number, value: number): void {
    if (!this.trial(n).intermediate.has(step)) this.write({ e: 'report', n, step, value })
  }

  finish(n: number, state: Exclude<TrialState, 'running'>, values?: number[], error?: string): MutableTrial {
    const t = this.trial(n)
    if (t.state !== 'running') throw new ConfigError(`trial ${n} is already ${t.state}`)
    this.write({ e: 'finish', n, state, at: Date.now(), ...(values === undefined ? {} : { values }), ...(error === undefined ? {} : { error: error.slice(0, 8000) }) })
    return t
  }

  enqueue(params: ParamSet, from?: number): void {
    this.write({ e: 'enqueue', q: randomBytes(6).toString('hex'), params, at: Date.now(), ...(from === undefined ? {} : { from }) })
  }

  /**
   * Running trials whose owner is gone: failed (with the reason) and their parameters enqueued, so
   * the next trial re-runs them. Under the lock, so two processes opening the study re-queue once.
   */
  recover(): number[] {
    const check = () => this.trials.filter((t) => t.state === 'running' && ownerGone(t.owner) !== undefined)
    if (this.file === undefined && check().length === 0) return []
    return this.locked(() => {
      this.refresh()
      const out: number[] = []
      for (const t of check()) {
        this.write({ e: 'finish', n: t.number, state: 'failed', at: Date.now(), error: `abandoned: ${ownerGone(t.owner)}` })
        this.enqueue({ ...t.params }, t.number)
        out.push(t.number)
      }
      return out
    })
  }

  trial(n: number): MutableTrial {
    const t = this.trials[n]
    if (t === undefined) throw new ConfigError(`study ${this.header?.name ?? ''} has no trial ${n}`)
    return t
  }

  private locked<T>(work: () => T): T {
    return this.file === undefined ? work() : withLockSync(`${this.file}.lock`, work)
  }

  private write(event: StudyEvent): void {
    if (this.file === undefined) {
      this.apply(event)
      return
    }
    appendRecords(this.file, [event])
    this.refresh()
  }

  private apply(ev: StudyEvent): void {
    switch (ev.e) {
      case 'study':
        if (this.header === undefined) this.header = { name: ev.name, directions: ev.directions, createdAt: ev.createdAt, ...(ev.space === undefined ? {} : { space: ev.space }) }
        return
      case 'trial': {
        const t: MutableTrial = {
          number: ev.n,
          state: 'running',
          params: {},
          distributions: {},
          values: undefined,
          intermediate: new Map(),
          lastStep: undefined,
          system: {},
          fixed: ev.fixed,
          startedAt: ev.at,
          finishedAt: undefined,
          error: undefined,
          owner: ev.owner,
        }
        this.trials[ev.n] = t
        if (ev.queue !== undefined) {
          const k = this.queue.findIndex((q) => q.q === ev.queue)
          if (k >= 0) this.queue.splice(k, 1)
        }
        return
      }
      case 'enqueue':
        this.queue.push({ q: ev.q, params: ev.params })
        return
    }
    const t = this.trials[ev.n]
    if (t === undefined) return // an event of a trial whose creation was lost: nothing to attach it to
    switch (ev.e) {
      case 'params':
        Object.assign(t.params, ev.params)
        Object.assign(t.distributions, ev.dists)
        return
      case 'attr':
        t.system[ev.key] = ev.value
        return
      case 'report':
        if (t.intermediate.has(ev.step)) return
        t.intermediate.set(ev.step, ev.value)
        if (t.lastStep === undefined || ev.step > t.lastStep) t.lastStep = ev.step
        return
      case 'finish':
        if (t.state !== 'running') return
        t.state = ev.state
        t.values = ev.values
        t.error = ev.error
        t.finishedAt = ev.at
        this.finishedCount++
        return
    }
  }
}

/** A study name usable as a file name. */
export function checkStudyName(name: unknown): string {
  if (typeof name !== 'string' || !/^[\w][\w.-]{0,99}$/.test(name)) throw new ConfigError(`study name must be 1–100 letters, digits, "_", "." or "-", starting with a letter, digit or "_" (received ${JSON.stringify(name)})`)
  return name
}
