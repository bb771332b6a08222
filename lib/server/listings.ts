// The run and registry listings the server's pages and API show, read once and kept until the workspace
// changes. A change is seen on the next request, whichever process made it: each listing carries a stamp
// of the files every change goes through, taken before the listing is read and compared on each use.
//  - runs: the runs folder's entries and each experiment's index.jsonl (ino, size, mtime). Every change to a
//    run's summary (start, params, metrics, tags, end, a stale run marked FAILED) is an append to that index
//    or, when it is compacted or rebuilt, an atomic rewrite (a new inode), so its size or inode moves.
//  - registry: each kind's folder names and each entry's audit.jsonl (every registry change — a version,
//    an alias, a stage, retire/restore, links, parity — appends to it after writing the change).
// The plain version re-read both listings for every request: ~1,000 version.json files and a search
// over 10,000 run summaries, tens of milliseconds each on a workspace of that size.

import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, NotFoundError, preview } from '../core/index.js'
import type { Experiment, Registry, RegistryEntry, RegistryKind, RunSummary, Tracker } from '../track/index.js'
import { lifecycleOf, REGISTRY_KINDS } from '../track/index.js'

export interface RunListing {
  /** The files' stamp this listing was read at (equal stamps: the same listing). */
  stamp: string
  experiments: Experiment[]
  /** Every run, in index order (experiment by experiment, each in the order its runs were made). */
  all: RunSummary[]
  /** Runs per experiment id (deleted ones included). */
  counts: Map<string, number>
  /** Active runs (not soft-deleted: lib/track/lifecycle.ts) per experiment id, and in all. */
  activeCounts: Map<string, number>
  active: number
  /** Active top-level runs, newest first (start time descending, then run id ascending): what a search shows
   * by default, sweeps folded. Top-level: no parent, or a parent that is not an active run (deleted, removed
   * by gc, never there), so an active child is never on no page. */
  top: RunSummary[]
  /** The same per experiment id, where a run whose active parent is in another experiment is top-level too. */
  topByExperiment: Map<string, RunSummary[]>
  /** Active runs by run id. */
  activeRuns: Map<string, RunSummary>
  /** Child runs per parent run id, in index order (deleted ones included, as Tracker.childRuns). */
  children: Map<string, RunSummary[]>
  /** Active child runs per parent run id. */
  activeChildren: Map<string, number>
  /** Runs still RUNNING: checked for staleness on every use (their process may be gone since). */
  running: RunSummary[]
}

export interface RegistryListing {
  stamp: string
  /** registry.list(): every entry, by kind then name. */
  entries: RegistryEntry[]
  byKind: Map<RegistryKind, RegistryEntry[]>
}

const NO_FILE = '-'

/** A file's identity and extent ("-" when absent): an append moves the size, a rewrite the inode. */
function fileStamp(file: string): string {
  const st = statSync(file, { throwIfNoEntry: false })
  return st === undefined ? NO_FILE : `${st.ino}:${st.size}:${st.mtimeMs}`
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT' || (error as { code?: string }).code === 'ENOTDIR') return []
    throw error
  }
}

/** A runs folder entry's stamp: its index, and experiment.json's while it is not a known experiment. */
interface FolderStamp {
  index: string
  experiment?: string
}

/** One experiment's part of the run listing, kept while its index's stamp is unchanged. */
interface ExperimentPart {
  stamp: string
  runs: RunSummary[]
}

/** One registry entry, kept while its audit log's stamp is unchanged (undefined: no finished version yet). */
interface EntryPart {
  stamp: string
  entry: RegistryEntry | undefined
}

export class Listings {
  private runCache: RunListing | undefined
  private registryCache: RegistryListing | undefined
  private readonly experimentParts = new Map<string, ExperimentPart>()
  private readonly entryParts = new Map<string, EntryPart>()
  /** Stamps taken in this turn of the event loop (see stamps()). */
  private memo: { runs?: Map<string, FolderStamp>; registry?: Map<string, string> } | undefined

  constructor(
    readonly tracker: Tracker,
    readonly registry: Registry,
  ) {}

  /**
   * The stamps, taken at most once per turn of the event loop: the requests one turn handles were all
   * received before it began, so a change finished before any of them was sent is already on disk when
   * the stamps are taken (50 connections' requests in one turn cost one set of stat calls, not 50).
   */
  private stamps(): { runs?: Map<string, FolderStamp>; registry?: Map<string, string> } {
    if (this.memo === undefined) {
      this.memo = {}
      setImmediate(() => (this.memo = undefined))
    }
    return this.memo
  }

  /** Per folder of the runs folder: its index's stamp (and, until it is a known experiment, experiment.json's). */
  private runsStamps(): Map<string, FolderStamp> {
    const root = this.tracker.root
    const out = new Map<string, FolderStamp>()
    for (const name of names(root)) {
      if (name.startsWith('.')) continue
      const dir = join(root, name)
      // An experiment folder gets experiment.json before its first run: a folder without it is stamped
      // with it absent, so its arrival is a change.
      out.set(name, { index: fileStamp(join(dir, 'index.jsonl')), ...(this.experimentParts.has(name) ? {} : { experiment: fileStamp(join(dir, 'experiment.json')) }) })
    }
    return out
  }

  /** The runs folder's stamp as one string, against the experiments known now. */
  private runsKey(stamps: Map<string, FolderStamp>): string {
    let out = ''
    for (const [name, s] of stamps) out += `${name}=${s.index}${this.experimentParts.has(name) ? '' : `/${s.experiment ?? '?'}`};`
    return out
  }

  /**
   * The index stamps of these experiments, as the run listing last read them in this turn: what a view made
   * from those experiments' run summaries (a parent's child runs) is valid for.
   */
  experimentStamps(experimentIds: Iterable<string>): string {
    const stamps = (this.stamps().runs ??= this.runsStamps())
    let out = ''
    for (const id of experimentIds) out += `${id}=${stamps.get(id)?.index ?? NO_FILE};`
    return out
  }

  /** Per registry entry (KIND/NAME): its audit log's stamp. */
  private registryStamps(): Map<string, string> {
    const out = new Map<string, string>()
    for (const kind of REGISTRY_KINDS) {
      for (const name of names(join(this.registry.root, kind))) if (!name.startsWith('.')) out.set(`${kind}/${name}`, fileStamp(join(this.registry.root, kind, name, 'audit.jsonl')))
    }
    return out
  }

  /** The run listing; an experiment's runs are read again only when its index has changed. */
  runs(): RunListing {
    const cached = this.runCache
    // A RUNNING run whose process is gone is marked FAILED (an index append), as every search does.
    if (cached !== undefined && cached.running.length > 0) {
      let marked = false
      for (const r of cached.running) marked = this.tracker.markStaleRun(r.info) || marked
      if (marked) this.memo = undefined
    }
    const memo = this.stamps()
    const stamps = (memo.runs ??= this.runsStamps())
    if (cached !== undefined && cached.stamp === this.runsKey(stamps)) return cached
    // Stamped before reading: a change made while reading moves the stamp, so a later call reads again.
    const experiments = this.tracker.listExperiments()
    const all: RunSummary[] = []
    const known = new Set<string>()
    for (const e of experiments) {
      known.add(e.id)
      const s = stamps.get(e.id)?.index ?? NO_FILE
      let part = this.experimentParts.get(e.id)
      if (part === undefined || part.stamp !== s) {
        part = { stamp: s, runs: this.tracker.summaries([e.id]) }
        this.experimentParts.set(e.id, part)
      }
      for (const r of part.runs) all.push(r)
    }
    for (const id of this.experimentParts.keys()) if (!known.has(id)) this.experimentParts.delete(id)
    // Keyed against the experiments known now: the next call, finding them known, makes the same key.
    const listing = buildRunListing(this.runsKey(stamps), experiments, all)
    this.runCache = listing
    return listing
  }

  /** The registry listing; an entry is read again only when its audit log has changed. */
  registryListing(): RegistryListing {
    const memo = this.stamps()
    const stamps = (memo.registry ??= this.registryStamps())
    const stamp = joinStamps(stamps)
    const cached = this.registryCache
    if (cached !== undefined && cached.stamp === stamp) return cached
    const entries: RegistryEntry[] = []
    for (const [key, s] of stamps) {
      let part = this.entryParts.get(key)
      if (part === undefined || part.stamp !== s) {
        part = { stamp: s, entry: this.readEntry(key) }
        this.entryParts.set(key, part)
      }
      if (part.entry !== undefined) entries.push(part.entry)
    }
    for (const key of this.entryParts.keys()) if (!stamps.has(key)) this.entryParts.delete(key)
    // registry.list()'s order: by kind, then name.
    entries.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name))
    const byKind = new Map<RegistryKind, RegistryEntry[]>(REGISTRY_KINDS.map((k) => [k, []]))
    for (const e of entries) byKind.get(e.kind)!.push(e)
    const listing = { stamp, entries, byKind }
    this.registryCache = listing
    return listing
  }

  /** An entry as registry.list() has it; undefined for what list() leaves out (a file, a bad name, no version yet). */
  private readEntry(key: string): RegistryEntry | undefined {
    const slash = key.indexOf('/')
    const kind = key.slice(0, slash) as RegistryKind
    const name = key.slice(slash + 1)
    if (!REGISTRY_NAME.test(name) || statSync(join(this.registry.root, kind, name), { throwIfNoEntry: false })?.isDirectory() !== true) return undefined
    try {
      return this.registry.entry(kind, name)
    } catch (error) {
      if (error instanceof NotFoundError) return undefined
      throw error
    }
  }
}

/** A registry entry's folder name (lib/track/registry.ts NAME): other folders are not entries. */
const REGISTRY_NAME = /^[A-Za-z0-9][\w.-]{0,99}$/

function joinStamps(stamps: Map<string, string>): string {
  let out = ''
  for (const [k, v] of stamps) out += `${k}=${v};`
  return out
}

/** Start time descending, then run id ascending: searchRuns' default order. */
export function newestFirst(a: RunSummary, b: RunSummary): number {
  return b.info.startTime - a.info.startTime || (a.info.runId < b.info.runId ? -1 : a.info.runId > b.info.runId ? 1 : 0)
}

export function buildRunListing(stamp: string, experiments: Experiment[], all: RunSummary[]): RunListing {
  const counts = new Map<string, number>(experiments.map((e) => [e.id, 0]))
  const activeCounts = new Map<string, number>(experiments.map((e) => [e.id, 0]))
  const children = new Map<string, RunSummary[]>()
  const activeChildren = new Map<string, number>()
  const activeRuns = new Map<string, RunSummary>()
  const running: RunSummary[] = []
  for (const r of all) {
    const e = r.info.experimentId
    counts.set(e, (counts.get(e) ?? 0) + 1)
    if (r.info.status === 'RUNNING') running.push(r)
    const live = lifecycleOf(r) === 'active'
    if (live) {
      activeRuns.set(r.info.runId, r)
      activeCounts.set(e, (activeCounts.get(e) ?? 0) + 1)
    }
    const parent = r.info.parentRunId
    if (parent !== undefined) {
      let list = children.get(parent)
      if (list === undefined) children.set(parent, (list = []))
      list.push(r)
      if (live) activeChildren.set(parent, (activeChildren.get(parent) ?? 0) + 1)
    }
  }
  // Top-level once every run is known: a parent may come after its child in index order (another experiment).
  const top: RunSummary[] = []
  const topByExperiment = new Map<string, RunSummary[]>(experiments.map((e) => [e.id, []]))
  for (const r of activeRuns.values()) {
    const parent = r.info.parentRunId === undefined ? undefined : activeRuns.get(r.info.parentRunId)
    if (parent === undefined) top.push(r)
    if (parent === undefined || parent.info.experimentId !== r.info.experimentId) {
      let list = topByExperiment.get(r.info.experimentId)
      if (list === undefined) topByExperiment.set(r.info.experimentId, (list = []))
      list.push(r)
    }
  }
  top.sort(newestFirst)
  for (const list of topByExperiment.values()) list.sort(newestFirst)
  return { stamp, experiments, all, counts, activeCounts, active: activeRuns.size, top, topByExperiment, activeRuns, children, activeChildren, running }
}

// ---- cursors --------------------------------------------------------------------------------------

/**
 * A page's cursor: the last run shown, as START_RUNID (its start time in epoch ms and its id). The next
 * page starts after that place in the order, so a cursor stays good while runs are added (new runs sort
 * before it) or the run it names goes away.
 */
export function encodeCursor(run: RunSummary): string {
  return `${run.info.startTime}_${run.info.runId}`
}

export function decodeCursor(cursor: string): { startTime: number; runId: string } {
  const m = /^(\d{1,16})_([\w-]{1,64})$/.exec(cursor)
  const startTime = m === null ? NaN : Number(m[1])
  if (m === null || !Number.isSafeInteger(startTime)) throw new ConfigError(`cursor ${preview(cursor, 80)} is not one a runs page gave (expected START_RUNID: epoch milliseconds, "_", a run id)`)
  return { startTime, runId: m[2]! }
}

/** The runs after the cursor's place in newest-first order, at most `size` (binary search: O(log n)). */
export function pageAfter(sorted: readonly RunSummary[], cursor: string | undefined, size: number): { runs: RunSummary[]; next?: string } {
  let from = 0
  if (cursor !== undefined) {
    const at = decodeCursor(cursor)
    const place = { info: { startTime: at.startTime, runId: at.runId } } as RunSummary
    let lo = 0
    let hi = sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (newestFirst(sorted[mid]!, place) <= 0) lo = mid + 1
      else hi = mid
    }
    from = lo
  }
  const runs = sorted.slice(from, from + size)
  return from + size < sorted.length ? { runs, next: encodeCursor(runs[runs.length - 1]!) } : { runs }
}

// ---- sorted views -----------------------------------------------------------------------------------

export type SortDir = 'asc' | 'desc'
/** A run's value in the sorted column: a number (metrics, times, counts) or a string (names, params, tags). */
export type SortValue = number | string | undefined

/**
 * A value's place in a sort: numbers — and strings that read as numbers, so params "9" < "10" — first,
 * by value; then other strings, by code unit; missing values (and NaN) last whichever the direction. A
 * total order (the search's mixed number/string comparison is not transitive), so keyset cursors work.
 */
export interface SortKey {
  rank: 0 | 1 | 2
  num: number
  str: string
}

export function sortKey(v: SortValue): SortKey {
  if (v === undefined || (typeof v === 'number' && Number.isNaN(v))) return { rank: 2, num: 0, str: '' }
  if (typeof v === 'number') return { rank: 0, num: v, str: '' }
  const n = Number(v)
  return v.trim() !== '' && Number.isFinite(n) ? { rank: 0, num: n, str: v } : { rank: 1, num: 0, str: v }
}

const cmp = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0)

export function compareKeys(a: SortKey, b: SortKey, dir: SortDir): number {
  if (a.rank === 2 || b.rank === 2) return a.rank === b.rank ? 0 : a.rank === 2 ? 1 : -1
  const c = a.rank - b.rank || cmp(a.num, b.num) || cmp(a.str, b.str)
  return dir === 'asc' ? c : -c
}

export interface SortedView {
  runs: RunSummary[]
  keys: SortKey[]
}

/** The runs ordered by one column's value, ties newest first (start time descending, then run id). */
export function sortView(runs: readonly RunSummary[], valueOf: (r: RunSummary) => SortValue, dir: SortDir): SortedView {
  const keyed = runs.map((run) => ({ run, key: sortKey(valueOf(run)) }))
  keyed.sort((a, b) => compareKeys(a.key, b.key, dir) || newestFirst(a.run, b.run))
  return { runs: keyed.map((k) => k.run), keys: keyed.map((k) => k.key) }
}

/**
 * A sorted page's cursor: "s." and, base64url, [column, dir, the last run's value, its start time, its
 * id] — the place after which the next page starts, so it keeps its place while runs are added, and a
 * cursor of another sort is refused rather than misread.
 */
export function encodeSortCursor(column: string, dir: SortDir, key: SortKey, run: RunSummary): string {
  const value = key.rank === 2 ? null : key.rank === 0 && key.str === '' ? ['n', String(key.num)] : ['s', key.str]
  return `s.${Buffer.from(JSON.stringify([column, dir, value, run.info.startTime, run.info.runId]), 'utf8').toString('base64url')}`
}

function decodeSortCursor(cursor: string, column: string, dir: SortDir): { key: SortKey; place: RunSummary } {
  const bad = () => new ConfigError(`cursor ${preview(cursor, 80)} is not one a page sorted by ${preview(column, 80)} (${dir}) gave`)
  if (!cursor.startsWith('s.') || cursor.length > 2000) throw bad()
  let parts: unknown
  try {
    parts = JSON.parse(Buffer.from(cursor.slice(2), 'base64url').toString('utf8'))
  } catch {
    throw bad()
  }
  if (!Array.isArray(parts) || parts.length !== 5) throw bad()
  const [c, d, value, startTime, runId] = parts as unknown[]
  if (c !== column || d !== dir) throw new ConfigError(`cursor was given by a page sorted by ${preview(String(c), 80)} ${d === 'asc' || d === 'desc' ? d : '(?)'}, not by ${preview(column, 80)} ${dir}: start again from the first page`)
  if (typeof startTime !== 'number' || !Number.isSafeInteger(startTime) || typeof runId !== 'string' || runId.length > 64) throw bad()
  let key: SortKey
  if (value === null) key = sortKey(undefined)
  else if (Array.isArray(value) && value[0] === 'n' && typeof value[1] === 'string' && !Number.isNaN(Number(value[1]))) key = sortKey(Number(value[1]))
  else if (Array.isArray(value) && value[0] === 's' && typeof value[1] === 'string') key = sortKey(value[1])
  else throw bad()
  return { key, place: { info: { startTime, runId } } as RunSummary }
}

/** The runs after a sorted cursor's place, at most `size` (binary search: O(log n)). */
export function pageSorted(view: SortedView, column: string, dir: SortDir, cursor: string | undefined, size: number): { runs: RunSummary[]; next?: string } {
  let from = 0
  if (cursor !== undefined) {
    const at = decodeSortCursor(cursor, column, dir)
    let lo = 0
    let hi = view.runs.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((compareKeys(view.keys[mid]!, at.key, dir) || newestFirst(view.runs[mid]!, at.place)) <= 0) lo = mid + 1
      else hi = mid
    }
    from = lo
  }
  const runs = view.runs.slice(from, from + size)
  const last = from + runs.length - 1
  return from + size < view.runs.length ? { runs, next: encodeSortCursor(column, dir, view.keys[last]!, view.runs[last]!) } : { runs }
}
