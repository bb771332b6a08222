// Runs' lifecycle, as MLflow's lifecycle_stage: a run is deleted softly (the tag mtflow.lifecycle = deleted,
// with its time and reason, one fsynced append under the run's lock), restored the same way, and removed for
// good only by gc. gc moves a run's folder into <experiment>/.trash/ (one rename), drops it from the index,
// then deletes the trash: a kill at any point leaves the run whole or gone, and the next gc finishes the job.
// A sweep's children follow their parent. Runs a registry version or a deployment points at are refused
// unless forced, so the registry's lineage never dangles by accident.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, NotFoundError, preview } from '../core/index.js'
import { Registry } from './registry.js'
import { LIFECYCLE_TAG, tagsInFolder } from './run-folder.js'
import type { Tracker } from './store.js'
import type { RunSummary } from './types.js'

export { LIFECYCLE_TAG }
/** When the run was last deleted (epoch ms, as text). */
export const DELETED_TIME_TAG = 'mtflow.deletedTime'
export const DELETE_REASON_TAG = 'mtflow.deleteReason'
/** The run whose deletion deleted this one (a sweep parent), or "" when it was deleted itself. */
export const DELETED_WITH_TAG = 'mtflow.deletedWith'
export const RESTORED_TIME_TAG = 'mtflow.restoredTime'

/** Which runs a listing shows (MLflow's view_type): active ones (the default), deleted ones, or both. */
export type LifecycleView = 'active' | 'deleted' | 'all'
export const LIFECYCLE_VIEWS: readonly LifecycleView[] = ['active', 'deleted', 'all']

export interface DeleteRunsOptions {
  /** Why, kept as the tag mtflow.deleteReason (at most 1000 characters). */
  reason?: string
  /** Delete even runs a registry version or a deployment references, and RUNNING runs. */
  force?: boolean
}

export interface GcOptions {
  /** Only runs deleted at least this long ago (ms; default 0: every deleted run). */
  olderThanMs?: number
  /** Say what would be removed; change nothing. */
  dryRun?: boolean
  /** Remove even runs a registry version, a deployment or an active run's lineage references. */
  force?: boolean
}

/** One run whose lifecycle changed (or would be removed). */
export interface LifecycleChange {
  runId: string
  experimentId: string
  lifecycle: 'active' | 'deleted'
  /** A child deleted or restored with its parent: that parent's id. */
  with?: string
}

export interface GcResult {
  dryRun: boolean
  /** Removed (with dryRun: would be removed). */
  removed: { runId: string; experimentId: string; deletedTime: number }[]
  /** Deleted runs kept, and why (referenced, still RUNNING, active children, restored meanwhile). */
  skipped: { runId: string; reason: string }[]
  /** Run folders an interrupted gc had moved to the trash, removed now (with dryRun: still there). */
  finished: string[]
}

const RUN_ID = /^[\w-]{1,64}$/

export function lifecycleOf(run: Pick<RunSummary, 'tags'>): 'active' | 'deleted' {
  return run.tags[LIFECYCLE_TAG] === 'deleted' ? 'deleted' : 'active'
}

/** Whether a run belongs in a listing of `view`. */
export function inLifecycleView(run: Pick<RunSummary, 'tags'>, view: LifecycleView): boolean {
  return view === 'all' || lifecycleOf(run) === view
}

export function checkLifecycleView(view: unknown, what = 'lifecycle'): LifecycleView {
  if (!LIFECYCLE_VIEWS.includes(view as LifecycleView)) throw new ConfigError(`${what} must be one of ${LIFECYCLE_VIEWS.join(', ')} (received ${preview(view)})`)
  return view as LifecycleView
}

/** Run ids as given, checked before anything is read: a hostile id ("../x", "", 10 kB) is refused by name. */
export function checkRunIds(ids: unknown): string[] {
  if (!Array.isArray(ids) || ids.length === 0) throw new ConfigError(`expected one or more run ids (received ${preview(ids)})`)
  for (const id of ids) if (typeof id !== 'string' || !RUN_ID.test(id)) throw new NotFoundError(`unknown run ${preview(id, 80)}: a run id is 1–64 letters, digits, _ or -`)
  return [...new Set(ids as string[])]
}

/**
 * Soft-delete runs and their descendants (a sweep's children). Every id is checked first — unknown,
 * already deleted, RUNNING or referenced (unless forced) — and nothing changes unless all pass.
 */
export function deleteRuns(tracker: Tracker, runIds: readonly string[], options: DeleteRunsOptions = {}): LifecycleChange[] {
  const ids = checkRunIds(runIds)
  const reason = options.reason ?? ''
  if (typeof reason !== 'string' || reason.length > 1000 || /[\0-\x08\x0b-\x1f]/.test(reason)) throw new ConfigError(`reason must be text of at most 1000 characters (received ${preview(reason, 80)})`)
  const force = checkFlag(options.force, 'force')
  const runs = ids.map((id) => tracker.getRun(id))
  for (const run of runs) {
    // The index and the run's own tags both say deleted: done. (Tags saying so alone is a delete interrupted
    // before its index line — or a restore interrupted the other way round — which this one completes.)
    if (lifecycleOf(run) === 'deleted' && fileLifecycle(tracker, run) === 'deleted') throw new ConfigError(`run ${run.info.runId} is already deleted (${deletedWhen(run)}); mtflow runs restore ${run.info.runId} brings it back`)
  }
  // Each root, then its active descendants (deleted with it); a run named twice (also a descendant) once.
  const targets: { run: RunSummary; with?: string }[] = []
  const seen = new Set<string>()
  for (const run of runs) if (!seen.has(run.info.runId)) (seen.add(run.info.runId), targets.push({ run }))
  for (const run of runs) {
    for (const d of descendants(tracker, run)) {
      if (seen.has(d.info.runId) || lifecycleOf(d) === 'deleted') continue
      seen.add(d.info.runId)
      targets.push({ run: d, with: run.info.runId })
    }
  }
  if (!force) {
    const running = targets.find((t) => t.run.info.status === 'RUNNING')
    if (running !== undefined) throw new ConfigError(`run ${running.run.info.runId}${running.with === undefined ? '' : ` (a child of ${running.with})`} is RUNNING; end it first, or --force deletes it anyway`)
    const refs = runReferences(tracker.home, targets.map((t) => t.run.info.runId))
    const hit = targets.find((t) => refs.has(t.run.info.runId))
    if (hit !== undefined) throw new ConfigError(`run ${hit.run.info.runId}${hit.with === undefined ? '' : ` (a child of ${hit.with})`} is referenced by ${few(refs.get(hit.run.info.runId)!)}; --force deletes it anyway`)
  }
  const now = tracker.currentTime()
  // Children first, the runs named last: a delete killed half-way leaves the parent active, and deleting
  // it again takes the children still active (restore goes the same way round).
  for (const { run, with: parent } of [...targets].reverse()) {
    const id = run.info.runId
    tracker.changeLifecycle(id, (tags) => {
      // Deleted already (a delete interrupted before its index line, or another process's): indexing completes it.
      if (tags[LIFECYCLE_TAG] === 'deleted') return undefined
      return { [LIFECYCLE_TAG]: 'deleted', [DELETED_TIME_TAG]: String(now), [DELETE_REASON_TAG]: reason, [DELETED_WITH_TAG]: parent ?? '' }
    })
  }
  return targets.map(({ run, with: parent }) => ({ runId: run.info.runId, experimentId: run.info.experimentId, lifecycle: 'deleted' as const, ...(parent === undefined ? {} : { with: parent }) }))
}

/** Restore deleted runs, and the descendants deleted with them. Every id must be a deleted run, or nothing changes. */
export function restoreRuns(tracker: Tracker, runIds: readonly string[]): LifecycleChange[] {
  const ids = checkRunIds(runIds)
  const runs = ids.map((id) => tracker.getRun(id))
  for (const run of runs) if (lifecycleOf(run) !== 'deleted' && fileLifecycle(tracker, run) !== 'deleted') throw new ConfigError(`run ${run.info.runId} is not deleted; nothing to restore`)
  const targets: { run: RunSummary; with?: string }[] = []
  const seen = new Set<string>()
  for (const run of runs) if (!seen.has(run.info.runId)) (seen.add(run.info.runId), targets.push({ run }))
  for (const run of runs) {
    // Only those its deletion took: a child deleted on its own before stays deleted.
    for (const d of descendants(tracker, run)) {
      if (seen.has(d.info.runId) || lifecycleOf(d) !== 'deleted' || d.tags[DELETED_WITH_TAG] !== run.info.runId) continue
      seen.add(d.info.runId)
      targets.push({ run: d, with: run.info.runId })
    }
  }
  const now = tracker.currentTime()
  for (const { run } of [...targets].reverse()) {
    const id = run.info.runId
    tracker.changeLifecycle(id, (tags) => {
      if (tags[LIFECYCLE_TAG] !== 'deleted') return undefined // restored already: indexing completes it
      return { [LIFECYCLE_TAG]: 'active', [RESTORED_TIME_TAG]: String(now) }
    })
  }
  return targets.map(({ run, with: parent }) => ({ runId: run.info.runId, experimentId: run.info.experimentId, lifecycle: 'active' as const, ...(parent === undefined ? {} : { with: parent }) }))
}

/**
 * Remove deleted runs' folders for good (those deleted at least olderThanMs ago), first finishing what an
 * interrupted gc left in the trash. A run is kept (and listed in `skipped`) while it is referenced (registry,
 * deployment, an active run's lineage; unless forced), still RUNNING, or has active child runs. Reads the
 * indexes without marking stale runs, so a dry run writes nothing.
 */
export function gcRuns(tracker: Tracker, options: GcOptions = {}): GcResult {
  const olderThanMs = options.olderThanMs ?? 0
  if (typeof olderThanMs !== 'number' || !Number.isSafeInteger(olderThanMs) || olderThanMs < 0) throw new ConfigError(`olderThanMs must be an integer ≥ 0 (received ${preview(olderThanMs)})`)
  const dryRun = checkFlag(options.dryRun, 'dryRun')
  const force = checkFlag(options.force, 'force')
  const finished = tracker.finishTrash(dryRun)
  const now = tracker.currentTime()
  const all: RunSummary[] = []
  for (const e of tracker.listExperiments()) for (const s of tracker.indexedRuns(e.id).values()) all.push(s)
  const children = byParent(all)
  const byId = new Map(all.map((s) => [s.info.runId, s]))
  const skipped: GcResult['skipped'] = []
  const candidates: { run: RunSummary; deletedTime: number; depth: number }[] = []
  for (const run of all) {
    if (lifecycleOf(run) !== 'deleted') continue
    const deletedTime = Number(run.tags[DELETED_TIME_TAG])
    const known = run.tags[DELETED_TIME_TAG] !== undefined && Number.isFinite(deletedTime)
    if (olderThanMs > 0 && (!known || deletedTime > now - olderThanMs)) continue
    if (run.info.status === 'RUNNING') {
      skipped.push({ runId: run.info.runId, reason: 'still RUNNING' })
      continue
    }
    const active = below(run.info.runId, children).filter((d) => lifecycleOf(d) === 'active').map((d) => d.info.runId)
    if (active.length > 0) {
      skipped.push({ runId: run.info.runId, reason: `has active child runs (${few(active)}); delete them first` })
      continue
    }
    candidates.push({ run, deletedTime: known ? deletedTime : 0, depth: depthOf(run, byId) })
  }
  let kept = candidates
  const registry = new Registry(tracker.home)
  let registryStamp = ''
  let refs = new Map<string, string[]>()
  const lineageRefs = new Map<string, string[]>()
  if (!force && candidates.length > 0) {
    const ids = candidates.map((c) => c.run.info.runId)
    registryStamp = registry.changeStamp()
    refs = runReferences(tracker.home, ids)
    // An active run that read one of these (a pipeline step's lineage.runs) would lose its input.
    const wanted = new Set(ids)
    for (const s of all) {
      if (lifecycleOf(s) === 'deleted') continue
      for (const r of s.info.lineage.runs ?? []) if (wanted.has(r)) (lineageRefs.get(r) ?? lineageRefs.set(r, []).get(r)!).push(`the lineage of active run ${s.info.runId}`)
    }
    kept = candidates.filter((c) => {
      const by = referencedBy(c.run.info.runId)
      if (by === undefined) return true
      skipped.push({ runId: c.run.info.runId, reason: `referenced by ${few(by)}; --force removes it anyway` })
      return false
    })
  }
  function referencedBy(id: string): string[] | undefined {
    const by = [...(refs.get(id) ?? []), ...(lineageRefs.get(id) ?? [])]
    return by.length === 0 ? undefined : by
  }
  // Re-read before each removal while the registry changed since (a version registered from a run during a
  // long gc): the stamp is a few stats, the references are read again only when it moved.
  function referencedNow(id: string): string[] | undefined {
    const stamp = registry.changeStamp()
    if (stamp !== registryStamp) {
      registryStamp = stamp
      refs = runReferences(tracker.home, kept.map((c) => c.run.info.runId))
    }
    return referencedBy(id)
  }
  // Children before their parents: a crash between the two leaves no child whose parent is gone. And a
  // parent stays while any run below it does (deleted after the cutoff, kept above, or not removable now):
  // deepest first, so each child is settled before its parent is looked at.
  kept.sort((a, b) => b.depth - a.depth || a.run.info.runId.localeCompare(b.run.info.runId))
  const removed: GcResult['removed'] = []
  const gone = new Set<string>()
  for (const { run, deletedTime } of kept) {
    const id = run.info.runId
    const stays = below(id, children).find((d) => !gone.has(d.info.runId))?.info.runId
    if (stays !== undefined) {
      skipped.push({ runId: id, reason: `its child run ${stays} stays` })
      continue
    }
    if (!dryRun) {
      const stamp = run.tags[DELETED_TIME_TAG]
      let moved: boolean
      let why = 'restored or deleted again meanwhile'
      try {
        // Re-checked under the run's lock: a restore (or a new deletion) since the index was read wins, and so
        // does a registry version that records the run since the references were read.
        moved = tracker.removeRunFolder(id, (tags) => {
          if (tags[LIFECYCLE_TAG] !== 'deleted' || tags[DELETED_TIME_TAG] !== stamp) return false
          const by = force ? undefined : referencedNow(id)
          if (by === undefined) return true
          why = `referenced by ${few(by)}; --force removes it anyway`
          return false
        })
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error
        skipped.push({ runId: id, reason: 'its folder is gone (another gc?)' })
        continue
      }
      if (!moved) {
        skipped.push({ runId: id, reason: why })
        continue
      }
    }
    gone.add(id)
    removed.push({ runId: id, experimentId: run.info.experimentId, deletedTime })
  }
  return { dryRun, removed, skipped, finished }
}

/**
 * What references each of `runIds`: registry versions (their runs and source run) and deployments (the run
 * their status.json names). A registry that cannot be read is an error (nothing can be said to be safe); a
 * deployment status that cannot be parsed counts as a reference if it holds the id at all.
 */
export function runReferences(home: string, runIds: readonly string[]): Map<string, string[]> {
  const wanted = new Set(runIds)
  const out = new Map<string, string[]>()
  const add = (id: string, what: string) => {
    if (!wanted.has(id)) return
    const list = out.get(id) ?? out.set(id, []).get(id)!
    if (!list.includes(what)) list.push(what)
  }
  for (const entry of new Registry(home).list()) {
    const kind = entry.kind === 'strategies' ? 'strategy' : entry.kind.slice(0, -1)
    for (const v of entry.versions) {
      const what = `${kind} ${entry.name}@${v.version} (registry)`
      if (typeof v.sourceRunId === 'string') add(v.sourceRunId, what)
      for (const r of v.runs) if (typeof r === 'string') add(r, what)
    }
  }
  const root = join(home, 'deployments')
  if (existsSync(root)) {
    for (const name of readdirSync(root).sort()) {
      const file = join(root, name, 'status.json')
      let text: string
      try {
        text = readFileSync(file, 'utf8')
      } catch {
        continue // no status (yet): no run
      }
      const what = `deployment ${name} (deployments/${name}/status.json)`
      let runId: unknown
      try {
        runId = (JSON.parse(text) as { runId?: unknown } | null)?.runId
      } catch {
        for (const id of wanted) if (text.includes(id)) add(id, what)
        continue
      }
      if (typeof runId === 'string') add(runId, what)
    }
  }
  return out
}

// ---- helpers -----------------------------------------------------------------------------------------

function checkFlag(value: unknown, what: string): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw new ConfigError(`${what} must be true or false (received ${preview(value)})`)
  return value === true
}

/** The first three of a list, then how many more: one line however many there are. */
function few(list: readonly string[]): string {
  return `${list.slice(0, 3).join(', ')}${list.length > 3 ? ` and ${list.length - 3} more` : ''}`
}

function deletedWhen(run: RunSummary): string {
  const t = Number(run.tags[DELETED_TIME_TAG])
  return Number.isFinite(t) && run.tags[DELETED_TIME_TAG] !== '' ? `since ${new Date(t).toISOString()}` : 'time unknown'
}

/** Runs by their parent's id. */
function byParent(runs: Iterable<RunSummary>): Map<string, RunSummary[]> {
  const out = new Map<string, RunSummary[]>()
  for (const s of runs) if (s.info.parentRunId !== undefined) (out.get(s.info.parentRunId) ?? out.set(s.info.parentRunId, []).get(s.info.parentRunId)!).push(s)
  return out
}

/** Every run below `runId` (children, their children…), nearest first. */
function below(runId: string, children: Map<string, RunSummary[]>): RunSummary[] {
  const out: RunSummary[] = []
  const seen = new Set([runId])
  const queue = [runId]
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      if (seen.has(c.info.runId)) continue
      seen.add(c.info.runId)
      out.push(c)
      queue.push(c.info.runId)
    }
  }
  return out
}

/** A run's lifecycle as its own tags.jsonl has it (the index may lag it after a crash between the two appends). */
function fileLifecycle(tracker: Tracker, run: RunSummary): 'active' | 'deleted' {
  return tagsInFolder(tracker.runDir(run.info.runId))[LIFECYCLE_TAG] === 'deleted' ? 'deleted' : 'active'
}

/** A run's descendants, from its experiment's index (children live in their parent's experiment). */
function descendants(tracker: Tracker, run: RunSummary): RunSummary[] {
  return below(run.info.runId, byParent(tracker.indexedRuns(run.info.experimentId).values()))
}

/** How many ancestors a run has (0 for a top-level run). */
function depthOf(run: RunSummary, byId: Map<string, RunSummary>): number {
  let depth = 0
  let parent = run.info.parentRunId
  const seen = new Set<string>()
  while (parent !== undefined && byId.has(parent) && !seen.has(parent)) {
    seen.add(parent)
    depth++
    parent = byId.get(parent)!.info.parentRunId
  }
  return depth
}
