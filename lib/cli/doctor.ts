// `mtflow doctor [--fix] [--json]`: what crashes and damage left in the workspace. Lists debris of dead writers,
// runs stuck RUNNING, indexes out of step with run.json and torn records, and repairs them with --fix; damaged
// record files are named with a hint, never guessed at. Exit 1 while any problem remains.

import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { Command } from 'commander'
import { DataError, findDebris, NotFoundError, removeDebris, withLockSync } from '../core/index.js'
import type { RegistryKind, RunInfo, RunSummary, Tracker } from '../track/index.js'
import { formatTable, lazy, printJson, type CliContext } from './context.js'

const track = () => lazy('../track/index.js') as typeof import('../track/index.js')
const jsonl = () => lazy('../track/jsonl.js') as typeof import('../track/jsonl.js')

export type Problem = 'debris' | 'lake-debris' | 'stale-run' | 'index' | 'torn' | 'corrupt'
export type FindingStatus = 'fixed' | 'fixable' | 'needs-you'

export interface Finding {
  problem: Problem
  /** Relative to the workspace. */
  path: string
  detail: string
  status: FindingStatus
  /** For what --fix cannot repair: what to do. */
  hint?: string
}

/** A repair, run only with --fix; it throws when it could not repair. */
type Repair = () => void

export function doctorCommand(context: CliContext): Command {
  return new Command('doctor')
    .description('list (and with --fix repair) what crashes left in the workspace: stale locks and temp files, runs stuck RUNNING, indexes out of step with their runs, torn records; name damaged files it cannot repair (exit 1 while any problem remains)')
    .option('--fix', 'repair what can be repaired exactly (remove debris, mark dead runs FAILED, rebuild indexes, move torn records to <file>.torn)')
    .option('--json', 'print JSON')
    .action((o: { fix?: boolean; json?: boolean }) => {
      const findings = doctor(context.home, o.fix === true)
      const count = (s: FindingStatus) => findings.filter((f) => f.status === s).length
      const summary = { fixed: count('fixed'), fixable: count('fixable'), needsYou: count('needs-you') }
      if (summary.fixable + summary.needsYou > 0) context.exitCode = 1
      if (o.json === true) return printJson(context, { home: context.home, fix: o.fix === true, findings, summary })
      if (findings.length === 0) return void context.stdout.write(`no problems found in ${context.home}\n`)
      const label: Record<FindingStatus, string> = { fixed: 'fixed', fixable: 'fix with --fix', 'needs-you': 'needs you' }
      context.stdout.write(formatTable(['status', 'problem', 'path', 'detail'], findings.map((f) => [label[f.status], f.problem, f.path, f.hint === undefined ? f.detail : `${f.detail} — ${f.hint}`])))
      context.stdout.write(`${findings.length} problems: ${summary.fixed} fixed, ${summary.fixable} fixable with --fix, ${summary.needsYou} need you\n`)
    })
}

/** The findings for a workspace; with `fix`, the repairs done (each finding says whether it was fixed). */
export function doctor(home: string, fix: boolean): Finding[] {
  const findings: Finding[] = []
  const rel = (path: string) => relative(home, path) || '.'
  // An error's message without the file (the path column names it) and without its own advice (the hint).
  const what = (message: string, file: string) => message.replace(`${file} `, '').replace(/\);.*$/, ')')
  const add = (f: Omit<Finding, 'status'> & { status?: FindingStatus }, repair?: Repair): void => {
    const finding: Finding = { ...f, status: f.status ?? (repair === undefined ? 'needs-you' : 'fixable') }
    if (fix && repair !== undefined && finding.status === 'fixable') {
      try {
        repair()
        finding.status = 'fixed'
      } catch (error) {
        finding.status = 'needs-you'
        finding.hint = `the repair failed: ${(error as Error).message.split('\n')[0]}`
      }
    }
    findings.push(finding)
  }
  if (!existsSync(home)) throw new NotFoundError(`workspace ${home} does not exist (give --home or set MTFLOW_HOME)`)

  // 1. Debris first: a stale lock would stall the repairs below.
  const debris = findDebris(home)
  const removed = fix ? new Set(removeDebris(debris).map((d) => d.path)) : new Set<string>()
  for (const d of debris) {
    if (fix && !removed.has(d.path)) continue // in use again since it was listed: not debris
    findings.push({ problem: 'debris', path: rel(d.path), detail: `${d.kind}: ${d.reason}`, status: fix ? 'fixed' : 'fixable' })
  }
  // generations.ts, not the data index: doctor needs no DuckDB, arquero or Arrow.
  const lake = lazy('../data/generations.js') as typeof import('../data/generations.js')
  const found = lake.lakeDebris(home)
  const gone = fix ? new Set(lake.removeLakeDebris(home)) : new Set<string>()
  for (const d of found) findings.push({ problem: 'lake-debris', path: rel(d.path), detail: `${d.kind}: ${d.reason}`, status: gone.has(d.path) ? 'fixed' : 'fixable' })
  // A dataset pointer that cannot be followed: readers and imports stop on it; which generation it
  // should name is not guessed.
  for (const p of lake.lakePointerProblems(home)) {
    add({ problem: 'corrupt', path: rel(p.path), detail: what(p.error, p.path), hint: 'point CURRENT at a generation folder that exists ({"generation": N} for a gen=N folder beside it), or restore the missing folder' })
  }
  // A current partition that is not a whole Parquet file: every read of its dataset fails on it.
  for (const p of (lazy('../data/lake.js') as typeof import('../data/lake.js')).lakeFileProblems(home)) {
    add({ problem: 'corrupt', path: rel(p.path), detail: what(p.error, p.path), hint: 'import the period again from its source (mtflow import … covering it), or restore the file from a backup' })
  }

  const tracker = new (track().Tracker)(home)
  const registry = new (track().Registry)(home)

  // 2. Torn and corrupt JSON lines, in every record file of the runs and the registry.
  for (const file of jsonlFiles(join(home, 'runs')).concat(jsonlFiles(join(home, 'registry')))) {
    let n: number
    try {
      // One read: the reader counts torn records by the same rule doctor repairs.
      n = jsonl().readRecords(file, 0, { raw: true }).torn
    } catch (error) {
      if (!(error instanceof DataError)) throw error
      // An experiment index is derived from its run folders: step 3 rebuilds it, nothing is lost.
      if (file.endsWith(`${sep}index.jsonl`) && file.startsWith(join(home, 'runs'))) continue
      add({ problem: 'corrupt', path: rel(file), detail: what(error.message, file), hint: 'a line that is not a torn write: correct or delete it by hand (the records after it are intact)' })
      continue
    }
    if (n === 0) continue
    const lock = appendLock(tracker, file)
    if (lock === 'live') {
      add({ problem: 'torn', path: rel(file), detail: `${n} torn record(s), skipped when read`, status: 'needs-you', hint: 'its run is still RUNNING; run doctor --fix after it ends' })
      continue
    }
    add({ problem: 'torn', path: rel(file), detail: `${n} torn record(s), skipped when read${fix ? `; moved to ${rel(file)}.torn` : ''}` }, () => {
      withLockSync(lock, () => jsonl().moveTornAside(file))
    })
  }

  // 3. Experiments and their runs: damaged records, indexes out of step, runs stuck RUNNING.
  const stale: RunInfo[] = []
  for (const experimentDir of subfolders(join(home, 'runs'))) {
    const experimentFile = join(experimentDir, 'experiment.json')
    let experimentOk = existsSync(experimentFile)
    if (experimentOk) {
      try {
        tracker.getExperiment(experimentDir.split(/[\\/]/).pop()!)
      } catch (error) {
        if (!(error instanceof DataError)) throw error
        experimentOk = false
        add({ problem: 'corrupt', path: rel(experimentFile), detail: what(error.message, experimentFile), hint: 'rewrite it as {"id": "<folder name>", "name": "<experiment name>", "createdAt": <ms>}' })
      }
    }
    const id = experimentDir.split(/[\\/]/).pop()!
    const runs = new Map<string, RunInfo>()
    for (const runDir of subfolders(experimentDir)) {
      const file = join(runDir, 'run.json')
      if (!existsSync(file)) continue
      try {
        runs.set(runDir.split(/[\\/]/).pop()!, track().readInfo(runDir)!)
      } catch (error) {
        if (!(error instanceof DataError)) throw error
        add({ problem: 'corrupt', path: rel(file), detail: what(error.message, file), hint: 'restore run.json by hand or move the run folder out; runs reindex keeps the run, tagged mtflow.corrupt' })
      }
    }
    if (!experimentOk) {
      // Its index cannot be rebuilt while experiment.json is unreadable (the rebuild opens the experiment),
      // and step 2 left a corrupt index to this step: name it here, or nothing would.
      const index = join(experimentDir, 'index.jsonl')
      try {
        jsonl().readRecords(index, 0, { raw: true })
      } catch (error) {
        if (!(error instanceof DataError)) throw error
        add({ problem: 'index', path: rel(index), detail: `unreadable (${what(error.message, index)})`, hint: `restore ${rel(experimentFile)} first; then doctor --fix rebuilds the index from the run folders` })
      }
      continue
    }
    const disagreement = indexDisagreement(tracker, id, runs)
    if (disagreement !== undefined) add({ problem: 'index', path: rel(join(experimentDir, 'index.jsonl')), detail: disagreement }, () => void tracker.reindex(id))
    for (const info of runs.values()) if (info.status === 'RUNNING' && tracker.staleReason(info) !== undefined) stale.push(info)
  }
  // After the reindexing, so the runs marked FAILED are in their indexes.
  for (const info of stale) {
    add({ problem: 'stale-run', path: rel(join(home, 'runs', info.experimentId, info.runId)), detail: `RUNNING, but ${tracker.staleReason(info)}; to be marked FAILED` }, () => {
      tracker.markStaleRun(info)
    })
  }

  // 4. Registry entries: version.json and aliases.json that cannot be read.
  for (const kindDir of subfolders(join(home, 'registry'))) {
    const kind = kindDir.split(/[\\/]/).pop()! as RegistryKind
    if (!track().REGISTRY_KINDS.includes(kind)) continue
    for (const entryDir of subfolders(kindDir)) {
      const name = entryDir.split(/[\\/]/).pop()!
      if (!/^[A-Za-z0-9][\w.-]{0,99}$/.test(name)) continue
      for (const damaged of registry.damagedFiles(kind, name)) {
        let hint: string
        if (damaged.file.endsWith('aliases.json')) {
          let fromAudit = ''
          try {
            fromAudit = ` (the audit log gives ${JSON.stringify(registry.aliasesFromAudit(kind, name))})`
          } catch {
            /* the audit log is damaged too: it is listed above */
          }
          hint = `alias changes are refused until it is restored: rewrite it from mtflow registry audit ${kind} ${name}${fromAudit}, or delete it to drop the aliases`
        } else {
          hint = "restore version.json by hand (the version's files are beside it) or move the version folder out of the registry"
        }
        add({ problem: 'corrupt', path: rel(damaged.file), detail: what(damaged.error, damaged.file), hint })
      }
    }
  }
  return findings
}

/**
 * How an experiment's index differs from its run folders (run.json is the truth), or undefined when it
 * agrees: runs missing from it, runs it lists that have no folder, and runs whose status, end or name differ.
 */
function indexDisagreement(tracker: Tracker, experimentId: string, runs: Map<string, RunInfo>): string | undefined {
  let indexed: Map<string, RunSummary>
  try {
    indexed = tracker.indexedRuns(experimentId)
  } catch (error) {
    if (!(error instanceof DataError)) throw error
    return `unreadable (${error.message.replace(/^\S+ /, '')}); to be rebuilt from the run folders`
  }
  const missing = [...runs.keys()].filter((id) => !indexed.has(id))
  const orphans = [...indexed.keys()].filter((id) => !existsSync(join(tracker.root, experimentId, id, 'run.json')))
  const differing = [...runs.entries()].filter(([id, info]) => {
    const s = indexed.get(id)?.info
    return s !== undefined && (s.status !== info.status || s.endTime !== info.endTime || s.name !== info.name || s.startTime !== info.startTime)
  })
  const parts: string[] = []
  if (missing.length > 0) parts.push(`${missing.length} run(s) missing from it (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`)
  if (orphans.length > 0) parts.push(`${orphans.length} run(s) it lists have no folder (${orphans.slice(0, 3).join(', ')}${orphans.length > 3 ? ', …' : ''})`)
  if (differing.length > 0) parts.push(`${differing.length} run(s) differ from run.json (${differing.slice(0, 3).map(([id, info]) => `${id}: ${indexed.get(id)!.info.status} ≠ ${info.status}`).join(', ')})`)
  return parts.length === 0 ? undefined : `${parts.join('; ')}; to be rebuilt from the run folders (run.json wins)`
}

/**
 * The lock to hold while a JSONL file's torn records are moved aside: the index's own lock (compaction and
 * reindex rewrite the index under it), a registry entry's lock (audit.jsonl), or a run's lock. The move is
 * in place (see moveTornAside), so appenders that take no lock — a run's metrics, tags, artifacts — lose
 * nothing either. 'live' for a run still RUNNING: its files are left to its own process until it has ended.
 */
function appendLock(tracker: Tracker, file: string): string | 'live' {
  const name = file.split(/[\\/]/).pop()!
  const dir = join(file, '..')
  if (name === 'index.jsonl') return `${file}.lock`
  if (file.startsWith(join(tracker.home, 'registry'))) return join(dir, '.lock')
  try {
    const info = track().readInfo(dir)
    if (info !== undefined && info.status === 'RUNNING' && tracker.staleReason(info) === undefined) return 'live'
  } catch {
    /* a corrupt run.json is listed on its own; its other files are still safe to repair under the lock */
  }
  return join(dir, '.lock')
}


function subfolders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name))
      .sort()
  } catch {
    return []
  }
}

/** Every *.jsonl file under `root` (not following links). */
function jsonlFiles(root: string): string[] {
  const out: string[] = []
  const dirs = [root]
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    let entries
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      continue
    }
    for (const e of entries) {
      const path = join(dir, e.name)
      if (e.isDirectory() && e.name !== 'artifacts' && !e.name.startsWith('.')) dirs.push(path)
      else if (e.isFile() && e.name.endsWith('.jsonl') && statSync(path).size > 0) out.push(path)
    }
  }
  return out.sort()
}
