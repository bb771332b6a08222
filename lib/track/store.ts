// The tracking store: experiments and runs as plain files in the workspace (DESIGN: data/runs/<experiment>/<run>/).
// A run folder holds run.json (info and status, rewritten atomically), params/tags/metrics/artifacts as
// append-only JSON lines, a heartbeat file and artifacts/. Each experiment keeps index.jsonl, an append-only
// log of changes to its runs' summaries, so a search reads one file per experiment rather than four per run.
// Several processes may log at once: appends are single writes, rewrites are atomic, and each lock is held
// for one write only.

import { existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { ConfigError, CorruptFileError, DataError, dict, NotFoundError, paramsHash, preview, readFileInside, resolveHome, resolveInside, sha256, isWriterTemp, piecesOf, withLockSync, withoutHome, writeFileAtomic, writeFileAtomicAsync } from '../core/index.js'
import { appendRecords, countTorn, decodeValue, readRecords } from './jsonl.js'
import { fromSnapshot, toSnapshot, type Snapshot } from './snapshot.js'
import { checkBatch, type CheckedBatch } from './validate.js'
import { findRunFolders } from './run-folder.js'
import { deleteRuns, gcRuns, restoreRuns, type DeleteRunsOptions, type GcOptions, type GcResult, type LifecycleChange } from './lifecycle.js'
import type { Lineage } from '../core/index.js'
import type { Artifact, Experiment, LatestMetric, LogBatch, MetricPoint, ParamValue, Run, RunInfo, RunStatus, RunSummary } from './types.js'
import { RUN_STATUSES } from './types.js'

export const DEFAULT_EXPERIMENT = 'Default'

export interface ReindexResult {
  experimentId: string
  /** Runs in the rebuilt index (the corrupt ones included). */
  runs: number
  /** Runs whose files could not be read: kept in the index, tagged `mtflow.corrupt`. */
  corrupt: { runId: string; error: string }[]
}

/** A run folder's record files (runStamp fingerprints them). */
const RUN_FILES = ['run.json', 'params.jsonl', 'metrics.jsonl', 'tags.jsonl', 'artifacts.jsonl']

export interface TrackerOptions {
  /** How often a live run touches its heartbeat file (ms). */
  heartbeatMs?: number
  /**
   * A RUNNING run whose heartbeat is older than this (ms) is marked FAILED. On the same host, a run whose
   * process is gone is marked at once; one whose process is alive only after 30 × staleMs (pid reuse).
   * A run whose heartbeat a remote client keeps (started with `heartbeat: false`) is judged by its
   * heartbeat alone, wherever its client says it runs.
   */
  staleMs?: number
  /** The clock staleness is judged by (epoch ms; default Date.now): tests move it past staleMs. */
  now?: () => number
  /**
   * Since when remote clients' heartbeats can reach this workspace (epoch ms; a server passes its start).
   * A run a remote client keeps is not judged on silence before then: a server back from an outage longer
   * than staleMs gives its clients staleMs to beat again instead of failing their runs at once.
   */
  remoteBeatsSince?: number
}

export interface StartRunOptions {
  experiment?: string
  name?: string
  params?: Readonly<Record<string, ParamValue>>
  tags?: Readonly<Record<string, string>>
  parentRunId?: string
  lineage?: Lineage
  /**
   * The process the run is made for, when not this one: the server records a remote client's host and pid
   * (default: this host and process).
   */
  origin?: RunOrigin
  /**
   * false: this process keeps no heartbeat for the run — its client does, through Tracker.beat (the server
   * for a RemoteTracker). The run is then judged stale by its heartbeat's age only, never by its pid.
   */
  heartbeat?: boolean
}

/** Where a run is made: a host name and a process id on it. */
export interface RunOrigin {
  host: string
  pid: number
}

/** A finished child run logged in bulk (see Tracker.logChildRuns). */
export interface ChildRun {
  name?: string
  params?: Readonly<Record<string, ParamValue>>
  metrics?: Readonly<Record<string, number>>
  tags?: Readonly<Record<string, string>>
  status?: RunStatus
  startTime?: number
  endTime?: number
  lineage?: Lineage
}

/** One line of an experiment's index: the changes one call made to one run's summary. */
interface IndexLine {
  /** A compacted index: all runs as columns (then r is absent). */
  snapshot?: Snapshot
  /** A compacted index's generation (random, written first): no two rewrites of an index start alike. */
  gen?: string
  r: string
  i?: RunInfo
  p?: Record<string, string>
  t?: Record<string, string>
  m?: Record<string, [number, number, number]>
  /** The run was removed for good (gc): it leaves the index. */
  x?: 1
}

interface IndexState {
  ino: number
  /**
   * The file's first bytes. A rewrite (compaction, reindex) is renamed in, so the inode changes — but the
   * freed inode number is soon reused (ext4 alternates two numbers over successive rewrites), and a reader
   * that missed two rewrites would read on from `end` in the middle of another file: an error for ever, or
   * index lines silently skipped. The head (a rewrite's random gen, else the first run's random id) tells.
   */
  head: Buffer
  end: number
  lines: number
  runs: Map<string, RunSummary>
}

interface MetricLine {
  k: string
  v: number
  s: number
  t: number
}

// Per-process cache of each experiment index, read incrementally: an index only grows between compactions,
// and a compaction is an atomic rewrite (a new inode), which sends the reader back to the start.
const indexCache = new Map<string, IndexState>()

/** How many of an index file's first bytes a reader keeps to know the file again (IndexState.head). */
const INDEX_HEAD = 64

/** A rewritten index: one snapshot line, its random generation first (what IndexState.head compares). */
function snapshotLine(experimentId: string, runs: Iterable<RunSummary>): string {
  return `\n${JSON.stringify({ gen: randomBytes(8).toString('hex'), snapshot: toSnapshot(experimentId, runs) })}\n`
}

/** Forget what this process has read of the experiment indexes (benchmarks measure a cold search with it). */
export function clearIndexCache(): void {
  indexCache.clear()
}

export class Tracker {
  readonly home: string
  readonly root: string
  readonly heartbeatMs: number
  readonly staleMs: number
  private readonly now: () => number
  private readonly remoteBeatsSince: number
  private readonly runDirs = new Map<string, string>()
  /** Runs whose heartbeat file says a remote client keeps it (fixed when the run starts). */
  private readonly remoteKept = new Map<string, boolean>()

  constructor(home?: string, options: TrackerOptions = {}) {
    this.home = resolveHome(home)
    this.root = join(this.home, 'runs')
    this.heartbeatMs = options.heartbeatMs ?? 10_000
    this.staleMs = options.staleMs ?? 120_000
    this.now = options.now ?? Date.now
    this.remoteBeatsSince = options.remoteBeatsSince ?? Number.NEGATIVE_INFINITY
    if (Number.isNaN(this.remoteBeatsSince)) throw new ConfigError('remoteBeatsSince must be epoch milliseconds (received NaN)')
    if (!(this.heartbeatMs > 0) || !(this.staleMs > this.heartbeatMs)) {
      throw new ConfigError(`staleMs must exceed heartbeatMs > 0 (received heartbeatMs ${this.heartbeatMs}, staleMs ${this.staleMs})`)
    }
  }

  // ---- experiments -------------------------------------------------------------------------------

  /** The experiment of that name, created if missing (safe when several processes create it at once). */
  experiment(name: string): Experiment {
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200 || /[\0-\x1f]/.test(name)) {
      throw new ConfigError(`experiment name ${JSON.stringify(name)} is invalid: expected 1–200 printable characters`)
    }
    const id = experimentId(name)
    const dir = join(this.root, id)
    const file = join(dir, 'experiment.json')
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true })
      const created: Experiment = { id, name, createdAt: Date.now() }
      // Written whole under a temp name, then linked into place: link(2) fails if the file exists, so two
      // processes creating the experiment at once cannot both win, and no reader sees a half-written file.
      const tmp = join(dir, `.experiment.json.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
      writeFileSync(tmp, `${JSON.stringify(created, null, 2)}\n`)
      try {
        linkSync(tmp, file)
      } catch (error) {
        const code = (error as { code?: string }).code
        // A filesystem without hard links: an exclusive create still lets only one process win.
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV') {
          try {
            writeFileSync(file, `${JSON.stringify(created, null, 2)}\n`, { flag: 'wx' })
          } catch (inner) {
            if ((inner as { code?: string }).code !== 'EEXIST') throw inner
          }
        } else if (code !== 'EEXIST') throw error
      } finally {
        rmSync(tmp, { force: true })
      }
    }
    const found = readExperiment(file)
    if (found === undefined) throw new NotFoundError(`experiment ${JSON.stringify(name)} was removed while being opened (${file})`)
    if (found.name !== name) throw new ConfigError(`experiment folder ${id} belongs to experiment ${JSON.stringify(found.name)}, not ${JSON.stringify(name)}`)
    return found
  }

  /** An existing experiment by name or id. */
  getExperiment(nameOrId: string): Experiment {
    for (const id of [nameOrId, experimentId(nameOrId)]) {
      if (!/^[\w.-]+$/.test(id)) continue
      const found = readExperiment(join(this.root, id, 'experiment.json'))
      if (found !== undefined) return found
    }
    throw new NotFoundError(`unknown experiment ${JSON.stringify(nameOrId)}; see mtflow runs list --experiments`)
  }

  listExperiments(): Experiment[] {
    if (!existsSync(this.root)) return []
    const out: Experiment[] = []
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const found = readExperiment(join(this.root, entry.name, 'experiment.json'))
      if (found !== undefined) out.push(found)
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || a.name.localeCompare(b.name))
  }

  // ---- runs --------------------------------------------------------------------------------------

  /** Create a RUNNING run and return its handle (which keeps the heartbeat until `end`). */
  startRun(options: StartRunOptions = {}): ActiveRun {
    const origin = checkOrigin(options.origin)
    if (options.heartbeat !== undefined && typeof options.heartbeat !== 'boolean') throw new ConfigError(`heartbeat must be true or false (received ${preview(options.heartbeat)})`)
    const remote = options.heartbeat === false
    const experiment = this.experiment(options.experiment ?? DEFAULT_EXPERIMENT)
    const batch = checkBatch({ params: options.params, tags: options.tags })
    if (options.parentRunId !== undefined) {
      const parentDir = this.runDir(options.parentRunId)
      if (!existsSync(join(parentDir, 'run.json'))) throw this.gone(options.parentRunId)
    }
    const lineage: Lineage = { ...(options.lineage ?? {}) }
    if (lineage.strategy !== undefined && lineage.strategyPriorRuns === undefined) lineage.strategyPriorRuns = this.countStrategyRuns(lineage.strategy.sha256)
    const runId = newRunId()
    const dir = join(this.root, experiment.id, runId)
    mkdirSync(dir)
    const info: RunInfo = {
      runId,
      experimentId: experiment.id,
      name: options.name ?? runId,
      status: 'RUNNING',
      startTime: Date.now(),
      ...(options.parentRunId === undefined ? {} : { parentRunId: options.parentRunId }),
      host: origin?.host ?? hostname(),
      pid: origin?.pid ?? process.pid,
      lineage,
    }
    // `remote`: the heartbeat is kept by a client elsewhere, so its pid means nothing on this machine.
    writeFileSync(join(dir, 'heartbeat'), `${JSON.stringify({ pid: info.pid, host: info.host, ...(remote ? { remote: true } : {}) })}\n`)
    this.remoteKept.set(runId, remote)
    this.appendIndex(experiment.id, this.writeRunFolder(dir, info, batch, true))
    return new ActiveRun(this, info, batch.params, !remote)
  }

  /**
   * Finished child runs in bulk (a sweep's parameter sets): each gets its folder, params, metrics and
   * tags, and the experiment index one append for all. Returns their ids, in order.
   */
  logChildRuns(parentRunId: string, children: readonly ChildRun[]): string[] {
    const parentDir = this.runDir(parentRunId)
    const parent = readInfo(parentDir)
    if (parent === undefined) throw this.gone(parentRunId)
    const lines: IndexLine[] = []
    const ids: string[] = []
    const now = Date.now()
    for (const child of children) {
      const batch = checkBatch({ params: child.params, tags: child.tags, metrics: Object.entries(child.metrics ?? {}).map(([key, value]) => ({ key, value, step: 0, timestamp: now })) }, now)
      const runId = newRunId()
      const dir = join(this.root, parent.experimentId, runId)
      mkdirSync(dir)
      const info: RunInfo = {
        runId,
        experimentId: parent.experimentId,
        name: child.name ?? runId,
        status: child.status ?? 'FINISHED',
        startTime: child.startTime ?? now,
        endTime: child.endTime ?? now,
        parentRunId,
        host: parent.host,
        pid: process.pid,
        lineage: { ...parent.lineage, ...(child.lineage ?? {}), paramsSha256: paramsHash(child.params ?? {}) },
      }
      delete info.lineage.strategyPriorRuns
      lines.push(this.writeRunFolder(dir, info, batch, false))
      ids.push(runId)
    }
    const file = join(this.root, parent.experimentId, 'index.jsonl')
    withLockSync(`${file}.lock`, () => appendRecords(file, lines))
    return ids
  }

  /** Log metrics, params and tags in one call. A param, once logged, keeps its value. */
  logBatch(runId: string, batch: LogBatch): void {
    this.logChecked(runId, checkBatch(batch))
  }

  logMetric(runId: string, key: string, value: number, step?: number): void {
    this.logBatch(runId, { metrics: [{ key, value, step }] })
  }

  logParam(runId: string, key: string, value: ParamValue): void {
    this.logBatch(runId, { params: { [key]: value } })
  }

  setTag(runId: string, key: string, value: string): void {
    this.logBatch(runId, { tags: { [key]: value } })
  }

  /** @internal the batch already checked; `knownParams` spares re-reading the run's params. */
  logChecked(runId: string, batch: CheckedBatch, knownParams?: Record<string, string>): void {
    const dir = this.runDir(runId)
    const line: IndexLine = { r: runId }
    // Params are checked against the file and appended under the run's lock: without it two processes
    // logging the same key could each read "absent" and both append (each key must be accepted once).
    // `knownParams` (what this process logged) settles keys it already holds without the lock.
    let candidates = batch.params
    if (knownParams !== undefined) {
      candidates = dict<string>()
      for (const k in batch.params) if (checkParamValue(runId, k, knownParams[k], batch.params[k]!)) candidates[k] = batch.params[k]!
    }
    if (Object.keys(candidates).length > 0) {
      this.withRunLock(runId, dir, () => {
        const current = readParams(dir)
        const fresh = dict<string>()
        let again = false
        for (const k in candidates) {
          if (checkParamValue(runId, k, current[k], candidates[k]!)) fresh[k] = candidates[k]!
          else again = true
        }
        if (Object.keys(fresh).length > 0) this.appendRun(runId, dir, 'params.jsonl', [fresh])
        // Logged again with the value on file: a writer killed between params.jsonl and its index line left the
        // param out of the index (search and getRun never see it, doctor compares no params). Indexed now.
        const indexed = again ? this.loadIndex(this.experimentOf(runId)).runs.get(runId)?.params : undefined
        if (indexed !== undefined) for (const k in candidates) if (fresh[k] === undefined && indexed[k] === undefined) fresh[k] = candidates[k]!
        if (Object.keys(fresh).length > 0) line.p = fresh
      })
    }
    if (Object.keys(batch.tags).length > 0) {
      this.appendRun(runId, dir, 'tags.jsonl', [batch.tags])
      line.t = batch.tags
    }
    if (batch.metrics.length > 0) {
      const records = metricLines(batch.metrics)
      this.appendRun(runId, dir, 'metrics.jsonl', records)
      line.m = latestOf(records)
    }
    if (line.p !== undefined || line.t !== undefined || line.m !== undefined) this.appendIndex(this.experimentOf(runId), line)
  }

  /** Set a run's final status (FINISHED, FAILED or KILLED) and end time. */
  endRun(runId: string, status: RunStatus = 'FINISHED', endTime = Date.now()): RunInfo {
    if (!RUN_STATUSES.includes(status)) throw new ConfigError(`status must be one of ${RUN_STATUSES.join(', ')} (received ${JSON.stringify(status)})`)
    return this.updateInfo(runId, (info) => {
      info.status = status
      if (status === 'RUNNING') delete info.endTime
      else info.endTime = endTime
      return true
    })!
  }

  /** A run: its info, params, latest metrics, tags and artifacts. A stale RUNNING run is marked FAILED first. */
  getRun(runId: string): Run {
    const dir = this.runDir(runId)
    const experiment = this.experimentOf(runId)
    let summary = this.loadIndex(experiment).runs.get(runId)
    if (summary !== undefined && this.markStale([summary]).changed) summary = this.loadIndex(experiment).runs.get(runId)
    if (summary === undefined) {
      if (!existsSync(join(dir, 'run.json'))) throw this.gone(runId) // a folder this process cached, removed since
      throw new NotFoundError(`run ${runId} is not in its experiment's index; run mtflow runs reindex`)
    }
    return { ...summary, artifacts: readArtifacts(dir) }
  }

  /** Every logged point of a metric (or of all metrics), in the order logged. */
  metricHistory(runId: string, key?: string): MetricPoint[] {
    const records = readRecords<MetricLine>(join(this.runDir(runId), 'metrics.jsonl')).records
    const out: MetricPoint[] = []
    for (const r of records) if (key === undefined || r.k === key) out.push({ key: r.k, value: r.v, step: r.s, timestamp: r.t })
    return out
  }

  /** Run summaries of the given experiments (ids), or of all; stale RUNNING runs are marked FAILED on the way. */
  summaries(experimentIds?: readonly string[]): RunSummary[] {
    const ids = experimentIds ?? this.listExperiments().map((e) => e.id)
    const out: RunSummary[] = []
    for (const id of ids) {
      let state = this.loadIndex(id)
      if (this.markStale(state.runs.values()).changed) state = this.loadIndex(id)
      for (const summary of state.runs.values()) out.push(summary)
    }
    return out
  }

  /** Runs whose parent is `runId` (a sweep's combinations). */
  childRuns(runId: string): RunSummary[] {
    return this.summaries([this.experimentOf(runId)]).filter((s) => s.info.parentRunId === runId)
  }

  /** Mark every stale RUNNING run FAILED; returns the run ids marked. */
  markStaleRuns(): string[] {
    const marked: string[] = []
    for (const e of this.listExperiments()) marked.push(...this.markStale(this.loadIndex(e.id).runs.values()).marked)
    return marked
  }

  // ---- artifacts ---------------------------------------------------------------------------------

  /** Store a file (a path) or bytes as an artifact of the run; returns its record with sha256 and size. */
  logArtifact(runId: string, source: string | { name: string; data: ArtifactData }, name?: string): Artifact {
    const dir = this.runDir(runId)
    const { pieces, path, target } = this.artifactTarget(runId, dir, source, name)
    writeFileAtomic(target, pieces)
    const record = artifactRecord(path, pieces)
    this.appendRun(runId, dir, 'artifacts.jsonl', [record])
    return record
  }

  /**
   * Several artifacts, each file written in libuv's thread pool while the next source is taken: `sources`
   * may be lazy (a generator encoding each table when asked), so this thread hashes one file and encodes
   * the next while the kernel copies it (a tracked backtest's five tables: their writing is off its path).
   * At most two files are being written at once; each is recorded in artifacts.jsonl, in the sources'
   * order, as soon as its write has ended, so a crash loses at most the two files in flight (their temp
   * files stay, temp-named, until a file of the same name is written again or the run is collected). A
   * source's pieces must stay unchanged until the promise settles: a generator must not reuse one buffer
   * for two files, nor change one after its last yield (that code runs while the last files are written;
   * on an error it is closed only once they are). When a source or a write fails, the files written whole
   * are recorded, then the first error is thrown. Each file is atomic and durable as logArtifact's, and
   * names are checked as there, plus: not twice, nor a name and a folder of it, letter case aside.
   */
  async logArtifacts(runId: string, sources: Iterable<{ name: string; data: ArtifactData }>): Promise<Artifact[]> {
    const dir = this.runDir(runId)
    const recorded: Artifact[] = []
    const names = new Set<string>()
    // Files whose writes have started and are not recorded yet (at most two), in order.
    const pending: { write: Promise<void>; record: Artifact | undefined }[] = []
    const settleFirst = async () => {
      const { write, record } = pending[0]!
      try {
        await write
      } catch (error) {
        // The run removed meanwhile (gc): said as such, not as the rename's ENOENT.
        if (!existsSync(join(dir, 'run.json'))) throw this.gone(runId, error)
        throw error
      } finally {
        pending.shift()
      }
      if (record === undefined) return
      this.appendRun(runId, dir, 'artifacts.jsonl', [record])
      recorded.push(record)
    }
    const it = sources[Symbol.iterator]()
    try {
      for (let next = it.next(); next.done !== true; next = it.next()) {
        const source = next.value
        checkBatchName(names, source.name)
        const { pieces, path, target } = this.artifactTarget(runId, dir, source)
        const entry: { write: Promise<void>; record: Artifact | undefined } = { write: writeFileAtomicAsync(target, pieces), record: undefined }
        entry.write.catch(() => undefined) // awaited by settleFirst; no unhandled rejection meanwhile
        pending.push(entry)
        entry.record = artifactRecord(path, pieces) // hashed while the pool writes it
        if (pending.length === 2) await settleFirst()
      }
      while (pending.length > 0) await settleFirst()
    } catch (error) {
      // The files still in flight are waited for (and recorded if whole) before the source is closed (its
      // finally may reuse their buffers); the first error is the one thrown.
      while (pending.length > 0) await settleFirst().catch(() => undefined)
      try {
        it.return?.()
      } catch {
        /* the first error wins */
      }
      throw error
    }
    return recorded
  }

  /**
   * A source's pieces, recorded name and file, after the checks every artifact passes, with its folders
   * made. Stored under exactly the recorded name: "%" would be decoded on the way to the file (a name
   * "a%2Fb" would land on "a/b", another artifact's place); a name shaped like a writer's temp file would
   * be removed as one by the next write beside it; a folder on the way must be a folder, not a link.
   */
  private artifactTarget(runId: string, dir: string, source: string | { name: string; data: ArtifactData }, name?: string): { pieces: readonly Uint8Array[]; path: string; target: string } {
    const { pieces, path } = artifactPieces(source, name)
    if (path.includes('%')) throw new ConfigError(`artifact name ${JSON.stringify(path)} must not contain "%"`)
    // Windows drops a trailing dot or space: ".x.tmp." would be stored as ".x.tmp".
    if (path.split('/').some((part) => /[. ]$/.test(part))) throw new ConfigError(`artifact name ${JSON.stringify(path)} has a part ending in a dot or a space`)
    if (isWriterTemp(path.split('/').pop()!)) throw new ConfigError(`artifact name ${JSON.stringify(path)} has the shape of a writer's temp file (.NAME.PID.HEX.tmp); choose another`)
    const target = resolveInside(join(dir, 'artifacts'), path, 'artifact name')
    this.makeFolders(runId, dir, dirname(target))
    return { pieces, path, target }
  }

  listArtifacts(runId: string): Artifact[] {
    return readArtifacts(this.runDir(runId))
  }

  /**
   * The record of the artifact a path names: the path decoded and checked for traversal (absolute, "..",
   * backslashes and their encodings are a ConfigError), then matched against the run's records (none: a
   * NotFoundError). What readArtifact and the server's artifact viewer look up.
   */
  findArtifact(runId: string, path: string): Artifact {
    const root = join(sep, 'artifacts')
    const wanted = relative(root, resolveInside(root, path, 'artifact path')).split(sep).join('/')
    const artifact = this.listArtifacts(runId).find((a) => a.path === wanted)
    if (artifact === undefined) throw new NotFoundError(`run ${runId} has no artifact ${JSON.stringify(wanted)}`)
    return artifact
  }

  /**
   * A recorded artifact's bytes, checked: only a path the run recorded (not any file that happens to be
   * under artifacts/), never through a symbolic link nor out of the runs folder, and with the sha256
   * recorded when it was logged — anything else is an error naming the file, never a silent read.
   */
  readArtifact(runId: string, path: string): { artifact: Artifact; bytes: Buffer } {
    const dir = join(this.runDir(runId), 'artifacts')
    const artifact = this.findArtifact(runId, path)
    const bytes = readFileInside(dir, artifact.path, { within: this.root, sha256: typeof artifact.sha256 === 'string' ? artifact.sha256 : '', what: `artifact ${JSON.stringify(artifact.path)} of run ${runId}` })
    return { artifact, bytes }
  }

  /** The absolute file of a recorded artifact, after readArtifact's checks (for tools that open it by path). */
  artifactFile(runId: string, path: string): string {
    const { artifact } = this.readArtifact(runId, path)
    return resolveInside(join(this.runDir(runId), 'artifacts'), artifact.path, 'artifact path')
  }

  // ---- lifecycle (lib/track/lifecycle.ts) --------------------------------------------------------

  /** Soft-delete runs (and a sweep parent's children): see deleteRuns. */
  deleteRuns(runIds: readonly string[], options: DeleteRunsOptions = {}): LifecycleChange[] {
    return deleteRuns(this, runIds, options)
  }

  deleteRun(runId: string, options: DeleteRunsOptions = {}): LifecycleChange[] {
    return this.deleteRuns([runId], options)
  }

  /** Restore deleted runs (and the children deleted with them): see restoreRuns. */
  restoreRuns(runIds: readonly string[]): LifecycleChange[] {
    return restoreRuns(this, runIds)
  }

  restoreRun(runId: string): LifecycleChange[] {
    return this.restoreRuns([runId])
  }

  /** Remove deleted runs' folders for good: see gcRuns. */
  gc(options: GcOptions = {}): GcResult {
    return gcRuns(this, options)
  }

  /** @internal the tracker's clock (epoch ms): deletion times and gc's cutoff read it. */
  currentTime(): number {
    return this.now()
  }

  /**
   * @internal Append the lifecycle tags `change` returns for the run's current tags (it throws to refuse),
   * under the run's lock: fsynced to tags.jsonl (one append, whole or absent after a crash), then indexed.
   * `change` returns undefined when the tags already show the change (one interrupted between its append and
   * its index line, or another process's): the run's tags are indexed again, which completes it.
   */
  changeLifecycle(runId: string, change: (tags: Record<string, string>) => Record<string, string> | undefined): void {
    const dir = this.runDir(runId)
    const experimentId = this.experimentOf(runId)
    this.withRunLock(runId, dir, () => {
      if (!existsSync(join(dir, 'run.json'))) throw this.gone(runId)
      const current = readMerged(join(dir, 'tags.jsonl'))
      const tags = change(current)
      if (tags === undefined) return this.appendIndex(experimentId, { r: runId, t: current })
      this.appendRun(runId, dir, 'tags.jsonl', [tags], true)
      this.appendIndex(experimentId, { r: runId, t: tags })
    })
  }

  /**
   * @internal Remove a run for good, if `stillWanted` (its current tags) says so under the run's lock: the
   * folder is renamed to <experiment>/.trash/<run> (one rename: the run is whole or gone), the index drops
   * it, then the trash is deleted. A crash after the rename leaves trash that finishTrash completes.
   */
  removeRunFolder(runId: string, stillWanted: (tags: Record<string, string>) => boolean): boolean {
    const dir = this.runDir(runId)
    const experimentId = this.experimentOf(runId)
    const trash = join(this.trashDir(experimentId, true)!, runId)
    const moved = this.withRunLock(runId, dir, () => {
      if (!existsSync(join(dir, 'run.json'))) throw this.gone(runId)
      if (!stillWanted(readMerged(join(dir, 'tags.jsonl')))) return false
      rmSync(trash, { recursive: true, force: true })
      renameSync(dir, trash)
      return true
    })
    if (!moved) return false
    this.runDirs.delete(runId)
    this.remoteKept.delete(runId)
    this.appendIndex(experimentId, { r: runId, x: 1 })
    rmSync(trash, { recursive: true, force: true })
    return true
  }

  /**
   * @internal Finish what an interrupted gc left: runs in an experiment's .trash/ leave its index and their
   * folders are deleted (`dryRun`: only listed). Returns their ids.
   */
  finishTrash(dryRun = false): string[] {
    const found: string[] = []
    for (const e of this.listExperiments()) {
      const dir = this.trashDir(e.id, false)
      if (dir === undefined) continue
      for (const name of readdirSync(dir).sort()) {
        found.push(name)
        if (dryRun) continue
        if (this.loadIndex(e.id).runs.has(name)) this.appendIndex(e.id, { r: name, x: 1 })
        rmSync(join(dir, name), { recursive: true, force: true })
      }
    }
    return found
  }

  /**
   * An experiment's .trash folder (made when `create`; undefined when absent). Anything but a plain folder
   * there (a symbolic link, a file) is refused: gc must never move or delete outside the runs tree.
   */
  private trashDir(experimentId: string, create: boolean): string | undefined {
    const dir = join(this.root, experimentId, '.trash')
    if (create) {
      try {
        mkdirSync(dir)
      } catch (error) {
        if ((error as { code?: string }).code !== 'EEXIST') throw error
      }
    }
    let st
    try {
      st = lstatSync(dir)
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined
      throw error
    }
    if (!st.isDirectory() || st.isSymbolicLink()) throw new CorruptFileError(`${dir} is not a folder (a link or a file?); gc moves runs only into a plain folder there — remove it by hand`, dir)
    return dir
  }

  // ---- maintenance -------------------------------------------------------------------------------

  /**
   * Rebuild an experiment's index from its run folders (after a crash between a run write and its index
   * line; run.json wins over the old index). A run whose files cannot be read is not dropped: it keeps what
   * the old index knew (else a FAILED placeholder), gets the tag `mtflow.corrupt` naming the file, and is
   * listed in `corrupt`.
   */
  reindex(experimentNameOrId: string, options: { afterScan?: () => void } = {}): ReindexResult {
    const experiment = this.getExperiment(experimentNameOrId)
    const dir = join(this.root, experiment.id)
    const file = join(dir, 'index.jsonl')
    let old: Map<string, RunSummary>
    // Where the index ended before the run folders were read: lines appended after it are newer than what
    // the folders gave, and are applied on top under the lock (a live writer's changes are not lost); if
    // the index was compacted meanwhile, what differs from `old` (the index before the scan) is.
    let since: { end: number; ino: number } | undefined
    try {
      const state = this.loadIndex(experiment.id)
      old = state.runs
      since = { end: state.end, ino: state.ino }
    } catch (error) {
      if (!(error instanceof DataError)) throw error
      old = new Map() // a corrupt index is what reindex replaces
    }
    const runs = new Map<string, RunSummary>()
    const corrupt: ReindexResult['corrupt'] = []
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || !existsSync(join(dir, entry.name, 'run.json'))) continue
      const runDir = join(dir, entry.name)
      let info: RunInfo | undefined
      try {
        info = readInfo(runDir)!
        const metrics = dict<LatestMetric>()
        for (const [k, [value, step, timestamp]] of Object.entries(latestOf(readRecords<MetricLine>(join(runDir, 'metrics.jsonl')).records))) metrics[k] = { value, step, timestamp }
        runs.set(info.runId, { info, params: readParams(runDir), tags: readMerged(join(runDir, 'tags.jsonl')), metrics })
      } catch (error) {
        if (!(error instanceof DataError)) throw error
        const runId = info?.runId ?? entry.name
        const known = old.get(runId)
        const placeholder: RunInfo = { runId, experimentId: experiment.id, name: runId, status: 'FAILED', startTime: Math.round(statSync(runDir).mtimeMs), host: '', pid: 0, lineage: {} }
        const message = error.message
        runs.set(runId, { info: info ?? known?.info ?? placeholder, params: { ...known?.params }, metrics: { ...known?.metrics }, tags: { ...known?.tags, 'mtflow.corrupt': message.slice(0, 8000) } })
        corrupt.push({ runId, error: message })
      }
    }
    // A test seam: what other processes do between the scan and the write (the tests make it happen here).
    options.afterScan?.()
    withLockSync(`${file}.lock`, () => {
      if (since !== undefined) {
        try {
          const late = readRecords<IndexLine>(file, since.end, { raw: true })
          if (late.ino === since.ino) {
            for (const line of late.records) if (line.snapshot === undefined) applyLine(runs, line)
          } else carryOver(dir, runs, old, readIndexFile(file)) // compacted meanwhile: its lines are in a snapshot
        } catch (error) {
          if (!(error instanceof DataError)) throw error // a damaged late line: the run folders stand
        }
      }
      writeFileAtomic(file, snapshotLine(experiment.id, runs.values()))
    })
    indexCache.delete(file)
    return { experimentId: experiment.id, runs: runs.size, corrupt }
  }

  /**
   * An experiment's runs as its index has them, without marking stale runs (for the doctor, which compares
   * them with the run folders). A corrupt index is a DataError naming it.
   */
  indexedRuns(experimentId: string): Map<string, RunSummary> {
    return this.loadIndex(experimentId).runs
  }

  /** Mark one RUNNING run FAILED if its process is gone (as searches do for all); true if it was marked. */
  markStaleRun(info: RunInfo): boolean {
    return this.markStale([{ info, params: dict<string>(), metrics: dict<LatestMetric>(), tags: dict<string>() }]).marked.length > 0
  }

  /** How many records torn by a crash each of a run's record files holds (files with none are left out). */
  tornRecords(runId: string): Record<string, number> {
    const dir = this.runDir(runId)
    const out: Record<string, number> = {}
    for (const name of RUN_FILES) {
      if (!name.endsWith('.jsonl')) continue
      const n = countTorn(join(dir, name))
      if (n > 0) out[name] = n
    }
    return out
  }

  // ---- internals ---------------------------------------------------------------------------------

  /** A new run's run.json, params, tags and metrics; returns the run's first index line. */
  private writeRunFolder(dir: string, info: RunInfo, batch: CheckedBatch, durable: boolean): IndexLine {
    const tags = { ...lineageTags(info), ...batch.tags }
    writeFileAtomic(join(dir, 'run.json'), `${JSON.stringify(info, null, 2)}\n`, { durable })
    this.runDirs.set(info.runId, dir)
    if (Object.keys(batch.params).length > 0) appendRecords(join(dir, 'params.jsonl'), [batch.params])
    appendRecords(join(dir, 'tags.jsonl'), [tags])
    const line: IndexLine = { r: info.runId, i: info, p: batch.params, t: tags }
    if (batch.metrics.length > 0) {
      const records = metricLines(batch.metrics)
      appendRecords(join(dir, 'metrics.jsonl'), records)
      line.m = latestOf(records)
    }
    return line
  }

  /** The run's folder; NotFoundError for an unknown id. */
  /**
   * A cheap fingerprint of a run's stored state (size and mtime of each of its record files): equal
   * fingerprints mean nothing was logged in between. For caches of rendered views (the server's pages).
   */
  runStamp(runId: string): string {
    const dir = this.runDir(runId)
    let stamp = ''
    for (const name of RUN_FILES) {
      try {
        const st = statSync(join(dir, name))
        stamp += `${st.size}:${st.mtimeMs};`
      } catch {
        stamp += '-;'
      }
    }
    return stamp
  }

  runDir(runId: string): string {
    const cached = this.runDirs.get(runId)
    if (cached !== undefined) return cached
    if (typeof runId !== 'string' || !/^[\w-]{1,64}$/.test(runId)) throw new NotFoundError(`unknown run ${JSON.stringify(runId)}`)
    const dir = findRunFolders(this.root, [runId]).get(runId)
    if (dir === undefined) throw new NotFoundError(`unknown run ${JSON.stringify(runId)}`)
    this.runDirs.set(runId, dir)
    return dir
  }

  /**
   * A run whose folder (or run.json) is gone — gc removed it since this process cached where it was (a
   * notebook kernel, the scheduler, the server live long): forgotten here, and the error its writers throw.
   */
  private gone(runId: string, cause?: unknown): NotFoundError {
    this.runDirs.delete(runId)
    this.remoteKept.delete(runId)
    return new NotFoundError(`run ${runId} was removed (mtflow runs gc)`, cause === undefined ? {} : { cause })
  }

  /**
   * Append to one of a run's files, never creating the run's folder: a folder gone (ENOENT on the open, no
   * extra stat per append) or a new file beside no run.json is the run's NotFoundError, and the caller
   * appends no index line for it. (The plain appendRecords would recreate the folder and report success.)
   */
  private appendRun(runId: string, dir: string, name: string, records: readonly unknown[], durable = false): void {
    try {
      appendRecords(join(dir, name), records, { durable, within: 'run.json' })
    } catch (error) {
      if (error instanceof NotFoundError) throw this.gone(runId, error)
      throw error
    }
  }

  /** The run's lock for one write; the lock's folder gone (gc moved it to the trash meanwhile) is the run's NotFoundError. */
  private withRunLock<T>(runId: string, dir: string, work: () => T): T {
    try {
      return withLockSync(join(dir, '.lock'), work)
    } catch (error) {
      if (error instanceof NotFoundError && !existsSync(join(dir, 'run.json'))) throw this.gone(runId, error)
      throw error
    }
  }

  /** `folder` and the folders between it and the run's folder, which must exist (never recreated after gc). */
  private makeFolders(runId: string, dir: string, folder: string): void {
    if (!existsSync(join(dir, 'run.json'))) throw this.gone(runId)
    let at = dir
    for (const part of relative(dir, folder).split(sep)) {
      if (part === '') continue
      at = join(at, part)
      try {
        mkdirSync(at)
      } catch (error) {
        const code = (error as { code?: string }).code
        if (code === 'EEXIST') {
          // Written through a link, a file would land outside the run's folder.
          if (!lstatSync(at).isDirectory()) throw new ConfigError(`${relative(dir, at)} in run ${runId} is not a folder (a link or a file): no artifact is written through it`)
          continue
        }
        if (code === 'ENOENT') throw this.gone(runId, error)
        throw error
      }
    }
  }

  private experimentOf(runId: string): string {
    const parts = this.runDir(runId).split(/[\\/]/)
    return parts[parts.length - 2]!
  }

  private updateInfo(runId: string, change: (info: RunInfo) => boolean, extraTags?: Record<string, string>): RunInfo | undefined {
    const dir = this.runDir(runId)
    const file = join(dir, 'run.json')
    return this.withRunLock(runId, dir, () => {
      const info = readInfo(dir)
      if (info === undefined) throw this.gone(runId)
      if (!change(info)) return undefined
      writeFileAtomic(file, `${JSON.stringify(info, null, 2)}\n`)
      if (extraTags !== undefined) this.appendRun(runId, dir, 'tags.jsonl', [extraTags])
      this.appendIndex(info.experimentId, { r: runId, i: info, ...(extraTags === undefined ? {} : { t: extraTags }) })
      return info
    })
  }

  /**
   * Why a RUNNING run counts as abandoned, or undefined while its process still beats. A run a remote
   * client keeps the heartbeat of is judged by the heartbeat alone: its client's host name may equal this
   * one's without being this machine, so its pid says nothing here.
   */
  staleReason(info: RunInfo, now = this.now()): string | undefined {
    const beat = this.lastBeat(info)
    const age = now - beat
    const remote = this.isRemoteKept(info)
    if (info.host === hostname() && !remote) {
      if (!processAlive(info.pid)) return `process ${info.pid} on ${info.host} is gone (last heartbeat ${new Date(beat).toISOString()})`
      if (age > 30 * this.staleMs) return `no heartbeat for ${Math.round(age / 1000)} s (process ${info.pid} may be a different one now)`
      return undefined
    }
    // Silence from before remote beats could arrive (the server was down) is not the client's.
    if (remote && now - this.remoteBeatsSince <= this.staleMs) return undefined
    return age > this.staleMs ? `no heartbeat from ${info.host} for ${Math.round(age / 1000)} s` : undefined
  }

  /**
   * Mark FAILED those of `runs` that are RUNNING with a stale heartbeat (re-checked under the run's lock).
   * `changed` also counts runs whose index said RUNNING while their run.json had ended: re-indexed here.
   */
  private markStale(runs: Iterable<RunSummary>): { marked: string[]; changed: boolean } {
    const marked: string[] = []
    let changed = false
    for (const { info } of runs) {
      if (info.status !== 'RUNNING') continue
      const reason = this.staleReason(info)
      if (reason === undefined) continue
      let updated: RunInfo | undefined
      try {
        updated = this.updateInfo(
          info.runId,
          (current) => {
            // Ended in run.json but RUNNING in the index: an end (or a mark) killed between its run.json and
            // its index line. Nothing is stale; the index is told, or the run would show RUNNING for good
            // (and be refused by delete and gc) until a reindex.
            if (current.status !== 'RUNNING') {
              this.appendIndex(current.experimentId, { r: current.runId, i: current })
              changed = true
              return false
            }
            if (this.staleReason(current) === undefined) return false
            current.status = 'FAILED'
            current.endTime = Math.round(this.lastBeat(current))
            return true
          },
          { 'mtflow.failure': `marked FAILED: ${reason}` },
        )
      } catch (error) {
        // A corrupt run.json stays as it is (mtflow doctor names it); listing the other runs goes on.
        if (error instanceof DataError) continue
        throw error
      }
      if (updated !== undefined) marked.push(info.runId)
    }
    return { marked, changed: changed || marked.length > 0 }
  }

  /** Whether the run's heartbeat file says a remote client keeps it (an unreadable one: no). */
  private isRemoteKept(info: RunInfo): boolean {
    let remote = this.remoteKept.get(info.runId)
    if (remote === undefined) {
      try {
        const beat = JSON.parse(readFileSync(join(this.runDir(info.runId), 'heartbeat'), 'utf8')) as { remote?: unknown } | null
        remote = beat !== null && typeof beat === 'object' && beat.remote === true
      } catch {
        remote = false
      }
      this.remoteKept.set(info.runId, remote)
    }
    return remote
  }

  private lastBeat(info: RunInfo): number {
    try {
      return statSync(join(this.runDir(info.runId), 'heartbeat')).mtimeMs
    } catch {
      return info.startTime
    }
  }

  /** @internal keep a live run's heartbeat fresh. */
  beat(runId: string): void {
    const now = new Date()
    try {
      utimesSync(join(this.runDir(runId), 'heartbeat'), now, now)
    } catch {
      /* the run folder was removed: nothing to keep alive */
    }
  }

  private countStrategyRuns(strategySha: string): number {
    let n = 0
    for (const s of this.summaries()) if (s.info.lineage.strategy?.sha256 === strategySha) n++
    return n
  }

  private appendIndex(experimentId: string, line: IndexLine): void {
    const file = join(this.root, experimentId, 'index.jsonl')
    withLockSync(`${file}.lock`, () => appendRecords(file, [line]))
  }

  private loadIndex(experimentId: string): IndexState {
    const file = join(this.root, experimentId, 'index.jsonl')
    let state = indexCache.get(file)
    let read = readRecords<IndexLine>(file, state?.end ?? 0, { raw: true, head: INDEX_HEAD, ...(state === undefined ? {} : { expectHead: state.head }) })
    if (state === undefined || read.ino !== state.ino || read.end < state.end) {
      if (state !== undefined) read = readRecords<IndexLine>(file, 0, { raw: true, head: INDEX_HEAD })
      state = { ino: read.ino, head: read.head!, end: 0, lines: 0, runs: new Map() }
      indexCache.set(file, state)
    }
    state.head = read.head! // the same file, now perhaps long enough for a whole head
    for (const line of read.records) {
      if (line.snapshot !== undefined) fromSnapshot(line.snapshot, state.runs)
      else {
        applyLine(state.runs, line)
        state.lines++
      }
    }
    state.end = read.end
    // Change lines since the snapshot: rewrite once they are many, absolutely and relative to the runs.
    if (state.lines > 1000 && state.lines > state.runs.size / 2) {
      this.compact(experimentId)
      return this.loadIndex(experimentId)
    }
    return state
  }

  /** Rewrite an index as one snapshot line (under its lock, so no append is lost). */
  private compact(experimentId: string): void {
    const file = join(this.root, experimentId, 'index.jsonl')
    withLockSync(`${file}.lock`, () => {
      const runs = new Map<string, RunSummary>()
      for (const line of readRecords<IndexLine>(file, 0, { raw: true }).records) {
        if (line.snapshot !== undefined) fromSnapshot(line.snapshot, runs)
        else applyLine(runs, line)
      }
      writeFileAtomic(file, snapshotLine(experimentId, runs.values()))
    })
    indexCache.delete(file)
  }
}

/** A live run: logs through the tracker, keeps its heartbeat, and ends once. */
export class ActiveRun {
  readonly id: string
  readonly experimentId: string
  readonly name: string
  private readonly params = dict<string>()
  private readonly timer: ReturnType<typeof setInterval> | undefined
  private ended: RunStatus | undefined

  /** `heartbeat` false: no timer here (a remote client keeps the run's heartbeat; see StartRunOptions). */
  constructor(
    readonly tracker: Tracker,
    info: RunInfo,
    initialParams: Record<string, string> = {},
    heartbeat = true,
  ) {
    this.id = info.runId
    this.experimentId = info.experimentId
    this.name = info.name
    Object.assign(this.params, initialParams)
    if (heartbeat) {
      this.timer = setInterval(() => tracker.beat(this.id), tracker.heartbeatMs)
      this.timer.unref?.()
    }
  }

  get status(): RunStatus {
    return this.ended ?? 'RUNNING'
  }

  logBatch(batch: LogBatch): this {
    const checked = checkBatch(batch)
    this.tracker.logChecked(this.id, checked, this.params)
    Object.assign(this.params, checked.params)
    return this
  }

  logMetric(key: string, value: number, step?: number): this {
    return this.logBatch({ metrics: [{ key, value, step }] })
  }

  /** Several metrics at one step. */
  logMetrics(values: Readonly<Record<string, number>>, step?: number): this {
    const timestamp = Date.now()
    return this.logBatch({ metrics: Object.entries(values).map(([key, value]) => ({ key, value, step, timestamp })) })
  }

  logParam(key: string, value: ParamValue): this {
    return this.logBatch({ params: { [key]: value } })
  }

  logParams(values: Readonly<Record<string, ParamValue>>): this {
    return this.logBatch({ params: values })
  }

  setTag(key: string, value: string): this {
    return this.logBatch({ tags: { [key]: value } })
  }

  setTags(values: Readonly<Record<string, string>>): this {
    return this.logBatch({ tags: values })
  }

  logArtifact(source: string | { name: string; data: ArtifactData }, name?: string): Artifact {
    return this.tracker.logArtifact(this.id, source, name)
  }

  /** Several artifacts, written in the thread pool while the next is taken (Tracker.logArtifacts); each source's pieces must stay unchanged until it settles. */
  logArtifacts(sources: Iterable<{ name: string; data: ArtifactData }>): Promise<Artifact[]> {
    return this.tracker.logArtifacts(this.id, sources)
  }

  /** Finished child runs in bulk (a sweep's parameter sets). */
  logChildren(children: readonly ChildRun[]): string[] {
    return this.tracker.logChildRuns(this.id, children)
  }

  /** Start a nested run under this one. */
  child(options: Omit<StartRunOptions, 'parentRunId'> = {}): ActiveRun {
    return this.tracker.startRun({ experiment: this.tracker.getExperiment(this.experimentId).name, ...options, parentRunId: this.id })
  }

  end(status: RunStatus = 'FINISHED'): RunInfo {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.ended = status
    return this.tracker.endRun(this.id, status)
  }

  /**
   * End as FAILED, with the error's message as the `mtflow.error` tag (the workspace written $MTFLOW_HOME: the
   * server shows it); as KILLED when the error is a batch cancelled by the user (lib/exec's CancelledError:
   * Ctrl-C), as `mtflow sweep` and a notebook interrupted end theirs.
   */
  fail(error?: unknown): RunInfo {
    if (error !== undefined) this.setTag('mtflow.error', withoutHome(error instanceof Error ? error.message : String(error), this.tracker.home).slice(0, 8000))
    return this.end(error instanceof Error && error.name === 'CancelledError' ? 'KILLED' : 'FAILED')
  }
}

/** Run `work` inside a run: FINISHED when it returns, FAILED (and rethrown) when it throws. */
export async function withRun<T>(tracker: Tracker, options: StartRunOptions, work: (run: ActiveRun) => T | Promise<T>): Promise<T> {
  const run = tracker.startRun(options)
  try {
    const result = await work(run)
    run.end('FINISHED')
    return result
  } catch (error) {
    run.fail(error)
    throw error
  }
}

// ---- helpers -----------------------------------------------------------------------------------------

/**
 * One more name of a batch of artifacts (logArtifacts), refused when it meets one before it as a
 * case-insensitive disk would see them: twice, or as a folder of the other ("n" and "n/x"), which would
 * be two writes to one file, or a write whose outcome depends on which ends first.
 * @internal
 */
export function checkBatchName(names: Set<string>, name: string): void {
  const key = name.normalize('NFC').toLowerCase()
  if (names.has(key)) throw new ConfigError(`artifact name ${JSON.stringify(name)} is given twice (letter case aside)`)
  for (const other of names) {
    if (key.startsWith(`${other}/`) || other.startsWith(`${key}/`)) throw new ConfigError(`artifact name ${JSON.stringify(name)} and another of this call cannot both be: one is a folder of the other`)
  }
  names.add(key)
}

/** An artifact's content: text, bytes, or the file's pieces in order (a Parquet file as encoded: written without joining them). */
export type ArtifactData = string | Uint8Array | readonly Uint8Array[]

/** An artifact's bytes and stored name: a file's path, or a name and its content. */
export function artifactSource(source: string | { name: string; data: ArtifactData }, name?: string): { bytes: Uint8Array; path: string } {
  const { pieces, path } = artifactPieces(source, name)
  return { bytes: pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), path }
}

/** An artifact's record: the sha256 and size of its pieces joined. */
function artifactRecord(path: string, pieces: readonly Uint8Array[]): Artifact {
  const hash = createHash('sha256')
  let size = 0
  for (const piece of pieces) {
    hash.update(piece)
    size += piece.length
  }
  return { path, sha256: hash.digest('hex'), size, timestamp: Date.now() }
}

function artifactPieces(source: string | { name: string; data: ArtifactData }, name?: string): { pieces: readonly Uint8Array[]; path: string } {
  if (typeof source === 'string') {
    if (!existsSync(source) || !statSync(source).isFile()) throw new NotFoundError(`artifact source ${source} is not a file`)
    return { pieces: [readFileSync(source)], path: name ?? source.split(/[\\/]/).pop()! }
  }
  return { pieces: piecesOf(source.data), path: name ?? source.name }
}

/** A folder name for an experiment: the name itself when it is a safe one, else a slug and a hash. */
export function experimentId(name: string): string {
  if (/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name)) return name
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40)
  return `${slug === '' ? 'experiment' : slug}-${sha256(name).slice(0, 8)}`
}

/** Sortable by creation: base-36 milliseconds, then 6 random hex digits. */
function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
}

function lineageTags(info: RunInfo): Record<string, string> {
  const l = info.lineage
  const tags = dict<string>()
  if (l.strategy !== undefined) {
    tags['mtflow.strategy'] = l.strategy.name
    tags['mtflow.strategy.sha256'] = l.strategy.sha256
  }
  if (l.data !== undefined && l.data.length > 0) tags['mtflow.data.sha256'] = l.data.map((d) => d.sha256).join(',')
  if (l.notebook !== undefined) {
    tags['mtflow.notebook'] = l.notebook.path
    tags['mtflow.notebook.sha256'] = l.notebook.sha256
  }
  if (l.gitCommit !== undefined) tags['mtflow.git.commit'] = l.gitCommit
  if (info.parentRunId !== undefined) tags['mtflow.parentRunId'] = info.parentRunId
  return tags
}

function metricLines(metrics: CheckedBatch['metrics']): MetricLine[] {
  return metrics.map((m) => ({ k: m.key, v: m.value, s: m.step, t: m.timestamp }))
}

/** The latest point of each key: [value, step, timestamp]. */
function latestOf(records: readonly MetricLine[]): Record<string, [number, number, number]> {
  const latest = dict<[number, number, number]>()
  for (const r of records) {
    const prev = latest[r.k]
    if (prev === undefined || isLater(r.s, r.t, prev[1], prev[2])) latest[r.k] = [r.v, r.s, r.t]
  }
  return latest
}

function isLater(step: number, time: number, prevStep: number, prevTime: number): boolean {
  return step > prevStep || (step === prevStep && time >= prevTime)
}

function applyLine(runs: Map<string, RunSummary>, line: IndexLine): void {
  if (line.x === 1) {
    runs.delete(line.r)
    return
  }
  let s = runs.get(line.r)
  if (line.i !== undefined) {
    if (s === undefined) {
      s = { info: line.i, params: dict<string>(), metrics: dict<LatestMetric>(), tags: dict<string>() }
      runs.set(line.r, s)
    } else s.info = line.i
  }
  if (s === undefined) return
  if (line.i !== undefined) s.info.name = decodeValue(s.info.name) as string
  if (line.p !== undefined) for (const k in line.p) if (s.params[k] === undefined) s.params[k] = decodeValue(line.p[k]!) as string
  if (line.t !== undefined) for (const k in line.t) s.tags[k] = decodeValue(line.t[k]!) as string
  if (line.m !== undefined) {
    for (const k in line.m) {
      const [raw, step, timestamp] = line.m[k]!
      const value = decodeValue(raw)
      const prev: LatestMetric | undefined = s.metrics[k]
      if (prev === undefined || isLater(step, timestamp, prev.step, prev.timestamp)) s.metrics[k] = { value, step, timestamp }
    }
  }
}

/** An index file read whole into its runs (no cache, no compaction). */
function readIndexFile(file: string): Map<string, RunSummary> {
  const runs = new Map<string, RunSummary>()
  for (const line of readRecords<IndexLine>(file, 0, { raw: true }).records) {
    if (line.snapshot !== undefined) fromSnapshot(line.snapshot, runs)
    else applyLine(runs, line)
  }
  return runs
}

/**
 * For reindex, when the index was rewritten (compacted) while the run folders were read: the lines appended
 * meanwhile are folded into a snapshot with the older ones, so they are found as what differs between the
 * index now (`now`) and as it was before the scan (`before`): those params, tags and metrics are applied on
 * top of the rebuilt runs, as late lines are. A run whose info differs gets its run.json read again (it
 * wins, and it is newer than the scan); a run new since the scan is added if its folder has a run.json.
 */
function carryOver(dir: string, runs: Map<string, RunSummary>, before: Map<string, RunSummary>, now: Map<string, RunSummary>): void {
  // Removed by gc since the scan (an index line x, folded into the snapshot): the folder is gone too.
  for (const runId of before.keys()) if (!now.has(runId) && !existsSync(join(dir, runId, 'run.json'))) runs.delete(runId)
  for (const [runId, current] of now) {
    const was = before.get(runId)
    let target = runs.get(runId)
    const infoChanged = was === undefined || was.info.status !== current.info.status || was.info.endTime !== current.info.endTime || was.info.name !== current.info.name
    if (target === undefined) {
      if (was !== undefined) continue // it had no folder when scanned: the rebuild drops it
      try {
        const info = readInfo(join(dir, runId))
        if (info === undefined) continue
        target = { info, params: dict<string>(), metrics: dict<LatestMetric>(), tags: dict<string>() }
        runs.set(runId, target)
      } catch (error) {
        if (!(error instanceof DataError)) throw error
        continue
      }
    } else if (infoChanged) {
      try {
        target.info = readInfo(join(dir, runId)) ?? target.info
      } catch (error) {
        if (!(error instanceof DataError)) throw error // a run.json damaged since: the scanned info stands
      }
    }
    for (const k in current.params) if (was?.params[k] === undefined && target.params[k] === undefined) target.params[k] = current.params[k]!
    for (const k in current.tags) if (current.tags[k] !== was?.tags[k]) target.tags[k] = current.tags[k]!
    for (const k in current.metrics) {
      const m = current.metrics[k]!
      const prev = was?.metrics[k]
      if (prev !== undefined && Object.is(prev.value, m.value) && prev.step === m.step && prev.timestamp === m.timestamp) continue
      const mine = target.metrics[k]
      if (mine === undefined || isLater(m.step, m.timestamp, mine.step, mine.timestamp)) target.metrics[k] = { ...m }
    }
  }
}

/** A param's value against the one already logged: true if new, false if the same, else a ConfigError. */
function checkParamValue(runId: string, key: string, old: string | undefined, value: string): boolean {
  if (old === undefined) return true
  if (old === value) return false
  throw new ConfigError(`param ${key} of run ${runId} is already ${JSON.stringify(old)}; a param cannot change (received ${JSON.stringify(value)}) — use a metric or a tag for values that change`)
}

/** The experiment record; undefined only when the file does not exist (a corrupt one is a DataError). */
function readExperiment(file: string): Experiment | undefined {
  const e = readJsonFile<Experiment>(file, 'an experiment record (id, name, createdAt)', (v) => typeof v.id === 'string' && typeof v.name === 'string' && typeof v.createdAt === 'number')
  return e
}

/** The run's run.json; undefined only when the file does not exist (a corrupt one is a DataError). */
export function readInfo(dir: string): RunInfo | undefined {
  return readJsonFile<RunInfo>(join(dir, 'run.json'), 'a run record (runId, status, startTime, lineage)', (v) => typeof v.runId === 'string' && RUN_STATUSES.includes(v.status) && typeof v.startTime === 'number' && typeof v.lineage === 'object' && v.lineage !== null)
}

/**
 * A JSON record file: undefined when absent; a DataError naming the file when it cannot be read as JSON or
 * is not the record expected — never read as missing, so the next write cannot silently replace it.
 */
export function readJsonFile<T>(file: string, expected: string, valid: (value: T) => boolean): T | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined
    throw new CorruptFileError(`${file} cannot be read (${(error as Error).message}); see mtflow doctor`, file, { cause: error })
  }
  let value: T
  try {
    value = JSON.parse(text) as T
  } catch (error) {
    throw new CorruptFileError(`${file} is corrupt: not valid JSON (${(error as Error).message}); see mtflow doctor`, file, { cause: error })
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !valid(value)) throw new CorruptFileError(`${file} is corrupt: expected ${expected}; see mtflow doctor`, file)
  return value
}

/** Params as first logged (a later conflicting line, from a racing process, does not override). */
function readParams(dir: string): Record<string, string> {
  const out = dict<string>()
  for (const r of readRecords<Record<string, string>>(join(dir, 'params.jsonl')).records) for (const k in r) if (out[k] === undefined) out[k] = r[k]!
  return out
}

function readMerged(file: string): Record<string, string> {
  const out = dict<string>()
  for (const r of readRecords<Record<string, string>>(file).records) Object.assign(out, r)
  return out
}

function readArtifacts(dir: string): Artifact[] {
  // A re-logged path replaces the earlier record.
  const byPath = new Map<string, Artifact>()
  for (const a of readRecords<Artifact>(join(dir, 'artifacts.jsonl')).records) byPath.set(a.path, a)
  return [...byPath.values()]
}

/** A run's origin as given, checked: a host name of 1–255 printable characters and a pid ≥ 1. */
function checkOrigin(origin: RunOrigin | undefined): RunOrigin | undefined {
  if (origin === undefined) return undefined
  if (origin === null || typeof origin !== 'object' || Array.isArray(origin)) throw new ConfigError(`origin must be an object { host, pid } (received ${preview(origin)})`)
  const { host, pid } = origin
  if (typeof host !== 'string' || host === '' || host.length > 255 || /[\0-\x1f\x7f]/.test(host)) {
    throw new ConfigError(`origin.host must be a host name of 1–255 printable characters (received ${preview(host, 100)})`)
  }
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid < 1) throw new ConfigError(`origin.pid must be an integer ≥ 1 (received ${preview(pid)})`)
  return { host, pid }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM'
  }
}
