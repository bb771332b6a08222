// The registry: named, numbered versions of strategies (a source snapshot), models (a run's artifact),
// notebooks (an executed .ipynb), dashboards (a rendered HTML snapshot) and deployments (a production
// config, deployment.json, pinned to one strategy version), each linked to runs; aliases
// (champion, challenger…), model stages, retire/restore, and an audit log of every change with when and why.
// Layout: registry/<kind>/<name>/v<N>/{version.json, files…}, aliases.json, audit.jsonl. Version folders are
// written whole under a temp name and renamed into place; numbers are taken under the entry's lock.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ConfigError, CorruptFileError, DataError, NotFoundError, ownValue, readFileInside, resolveHome, resolveInside, sha256, withLockSync, writeFileAtomic } from '../core/index.js'
import { appendRecords, readRecords } from './jsonl.js'
import { findRunFolders, LIFECYCLE_TAG, tagsInFolder } from './run-folder.js'
import type { Tracker } from './store.js'

export type RegistryKind = 'strategies' | 'models' | 'notebooks' | 'dashboards' | 'deployments'
export const REGISTRY_KINDS: readonly RegistryKind[] = ['strategies', 'models', 'notebooks', 'dashboards', 'deployments']

/** The one file of a deployment version: the production config (lib/live/config.ts validates its content). */
export const DEPLOYMENT_FILE = 'deployment.json'

export type ModelStage = 'None' | 'Staging' | 'Production' | 'Archived'
export const MODEL_STAGES: readonly ModelStage[] = ['None', 'Staging', 'Production', 'Archived']

/** The event-driven and vectorized engines run on the same data: their results, and whether they agree.
 * The shape lib/backtest's parityCheck returns (ParityResult): declared on both sides because neither
 * module may import the other (DESIGN: track depends on core only). */
export interface ParityRecord {
  agree: boolean
  /** The largest relative difference of final equity / of any metric compared. */
  maxRelativeDifference: number
  tolerance: number
  data: string
  event: Record<string, number>
  vector: Record<string, number>
  checkedAt: number
}

export interface RegistryVersion {
  kind: RegistryKind
  name: string
  version: number
  createdAt: number
  /** The content hash: the file's sha256 for a one-file version, else of the sorted "name sha256" lines. */
  sha256: string
  files: { name: string; sha256: string; size: number }[]
  status: 'active' | 'retired'
  description?: string
  /** Runs that validate (strategies), made (models, notebooks) or are shown by (dashboards) this version. */
  runs: string[]
  /** Models: the run whose artifact this is. */
  sourceRunId?: string
  /** Where the content came from (a file path, a run artifact path). */
  source?: string
  /** Strategies: the default parameters. */
  params?: Record<string, unknown>
  parity?: ParityRecord
  /** Models only. */
  stage?: ModelStage
  metadata?: Record<string, unknown>
}

export interface RegistryEntry {
  kind: RegistryKind
  name: string
  versions: RegistryVersion[]
  aliases: Record<string, number>
}

export interface AuditEvent {
  time: number
  user: string
  kind: RegistryKind
  name: string
  version?: number
  action: 'register' | 'link' | 'alias' | 'unalias' | 'stage' | 'retire' | 'restore' | 'parity'
  from?: string
  to?: string
  alias?: string
  reason?: string
}

export interface RegisterOptions {
  /** The version's files: name → content. */
  files: Readonly<Record<string, string | Uint8Array>>
  description?: string
  runs?: readonly string[]
  sourceRunId?: string
  source?: string
  params?: Record<string, unknown>
  metadata?: Record<string, unknown>
  /** Return an existing version with the same content hash instead of making a new one (default true). */
  dedupe?: boolean
  reason?: string
}

const NAME = /^[A-Za-z0-9][\w.-]{0,99}$/
const ALIAS = /^[a-z][a-z0-9_-]{0,39}$/

export class Registry {
  readonly home: string
  readonly root: string

  constructor(home?: string) {
    this.home = resolveHome(home)
    this.root = join(this.home, 'registry')
  }

  /** A new version (or, with dedupe, the existing one of the same content). */
  register(kind: RegistryKind, name: string, options: RegisterOptions): { version: RegistryVersion; created: boolean } {
    registryKind(kind)
    checkName(name)
    const fileNames = Object.keys(options.files)
    if (fileNames.length === 0) throw new ConfigError(`registering ${kind}/${name}: at least one file is needed`)
    if (kind === 'deployments') checkDeploymentFiles(name, options.files)
    const dir = this.entryDir(kind, name)
    checkFileNames(kind, name, fileNames)
    const files = fileNames.sort().map((f) => {
      resolveInside(dir, f, 'registry file name') // checked before anything is written
      const data = options.files[f]!
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
      return { name: f, bytes, sha256: sha256(bytes), size: bytes.length }
    })
    const hash = files.length === 1 ? files[0]!.sha256 : sha256(files.map((f) => `${f.name} ${f.sha256}\n`).join(''))
    mkdirSync(dir, { recursive: true })
    return withLockSync(join(dir, '.lock'), () => {
      const versions = this.readVersions(kind, name)
      if (options.dedupe !== false) {
        const same = versions.find((v) => v.sha256 === hash)
        if (same !== undefined) {
          const extra = (options.runs ?? []).filter((r) => !same.runs.includes(r))
          if (extra.length > 0) {
            this.refuseDeletedRuns(extra)
            same.runs.push(...extra)
            this.writeVersion(same)
            this.audit({ kind, name, version: same.version, action: 'link', to: extra.join(','), reason: options.reason })
          }
          return { version: same, created: false }
        }
      }
      // Checked under the entry's lock, just before the version is written: gc re-reads the references just
      // before it removes a run, so a version recording a run gc may remove is refused here or seen there.
      this.refuseDeletedRuns([...(options.runs ?? []), ...(options.sourceRunId === undefined ? [] : [options.sourceRunId])])
      // Past every v<N> folder, not only the readable versions: a number is never reused.
      const number = Math.max(versions.reduce((m, v) => Math.max(m, v.version), 0), ...this.versionFolders(kind, name)) + 1
      const version: RegistryVersion = {
        kind,
        name,
        version: number,
        createdAt: Date.now(),
        sha256: hash,
        files: files.map(({ name: n, sha256: s, size }) => ({ name: n, sha256: s, size })),
        status: 'active',
        runs: [...(options.runs ?? [])],
        ...(options.description === undefined ? {} : { description: options.description }),
        ...(options.sourceRunId === undefined ? {} : { sourceRunId: options.sourceRunId }),
        ...(options.source === undefined ? {} : { source: options.source }),
        ...(options.params === undefined ? {} : { params: options.params }),
        ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
        ...(kind === 'models' ? { stage: 'None' as ModelStage } : {}),
      }
      // Written whole beside the entry, then renamed in: a reader sees no version or all of it.
      const tmp = join(dir, `.v${number}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`)
      mkdirSync(tmp)
      try {
        for (const f of files) {
          const target = resolveInside(tmp, f.name, 'registry file name')
          mkdirSync(join(target, '..'), { recursive: true })
          writeFileSync(target, f.bytes)
        }
        writeFileSync(join(tmp, 'version.json'), `${JSON.stringify(version, null, 2)}\n`)
        renameSync(tmp, join(dir, `v${number}`))
      } catch (error) {
        rmSync(tmp, { recursive: true, force: true })
        throw error
      }
      this.audit({ kind, name, version: number, action: 'register', to: hash, reason: options.reason })
      return { version, created: true }
    })
  }

  /** A model version from a run's artifact (the run and artifact must exist). */
  registerModel(
    tracker: Tracker,
    name: string,
    runId: string,
    artifactPath: string,
    options: Omit<RegisterOptions, 'files' | 'sourceRunId' | 'source'> & { check?: (bytes: Buffer, path: string) => void } = {},
  ): { version: RegistryVersion; created: boolean } {
    // A recorded artifact only, read without following links and checked against its recorded sha256;
    // `check` (a model package's validation) sees exactly the bytes that are registered.
    const { artifact, bytes } = tracker.readArtifact(runId, artifactPath)
    options.check?.(bytes, artifact.path)
    const fileName = artifact.path.split('/').pop()!
    const { check: _check, ...rest } = options
    return this.register('models', name, { ...rest, files: { [fileName]: bytes }, sourceRunId: runId, source: `runs:/${runId}/${artifact.path}`, runs: [runId, ...(options.runs ?? [])] })
  }

  /** Every entry of a kind (or of all kinds), with versions and aliases. */
  list(kind?: RegistryKind): RegistryEntry[] {
    const kinds = kind === undefined ? REGISTRY_KINDS : [registryKind(kind)]
    const out: RegistryEntry[] = []
    for (const k of kinds) {
      const dir = join(this.root, k)
      if (!existsSync(dir)) continue
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (!entry.isDirectory() || !NAME.test(entry.name)) continue
        // A folder without a finished version (a registration that failed part-way) is not an entry.
        const versions = this.readVersions(k, entry.name)
        if (versions.length > 0) out.push({ kind: k, name: entry.name, versions, aliases: this.readAliases(k, entry.name) })
      }
    }
    return out.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name))
  }

  entry(kind: RegistryKind, name: string): RegistryEntry {
    registryKind(kind)
    checkName(name)
    const versions = this.readVersions(kind, name)
    if (versions.length === 0) throw new NotFoundError(`no ${singular(kind)} named ${JSON.stringify(name)} in the registry`)
    return { kind, name, versions, aliases: this.readAliases(kind, name) }
  }

  /**
   * A version by reference: "name@3", "name@champion" (an alias), "name@latest" or "name" (the newest
   * active version); also (name, version) as two arguments.
   */
  resolve(kind: RegistryKind, ref: string, version?: number | string): RegistryVersion {
    const { name, selector } = parseRef(ref, version)
    registryKind(kind)
    const versions = this.readVersions(kind, name)
    if (versions.length === 0) throw new NotFoundError(`no ${singular(kind)} named ${JSON.stringify(name)} in the registry`)
    let found: RegistryVersion | undefined
    if (selector === 'latest') {
      found = [...versions].reverse().find((v) => v.status === 'active')
      if (found === undefined) throw new NotFoundError(`${singular(kind)} ${name} has no active version (all are retired)`)
      return found
    }
    if (/^\d+$/.test(selector)) {
      found = versions.find((v) => v.version === Number(selector))
      if (found === undefined) throw new NotFoundError(`${singular(kind)} ${name} has no version ${selector} (versions: ${versions.map((v) => v.version).join(', ')})`)
      return found
    }
    // Aliases are read only for an alias: a damaged aliases.json stops "name@champion", not "name@3".
    const aliases = this.readAliases(kind, name)
    const target = ownValue(aliases, selector)
    // A model stage (MLflow's models:/NAME/Staging): the newest active version in it, when no alias has the name.
    if (target === undefined && kind === 'models' && (MODEL_STAGES as readonly string[]).includes(selector)) {
      found = [...versions].reverse().find((v) => v.status === 'active' && (v.stage ?? 'None') === selector)
      if (found === undefined) throw new NotFoundError(`model ${name} has no active version in stage ${selector}${versions.some((v) => v.stage !== undefined) ? ` (stages: ${versions.filter((v) => v.stage !== undefined).map((v) => `v${v.version} ${v.stage}`).join(', ')})` : ''}`)
      return found
    }
    if (target === undefined) throw new NotFoundError(`${singular(kind)} ${name} has no alias ${JSON.stringify(selector)}${Object.keys(aliases).length > 0 ? ` (aliases: ${Object.keys(aliases).join(', ')})` : ''}`)
    found = versions.find((v) => v.version === target)
    if (found === undefined) throw new NotFoundError(`${singular(kind)} ${name}@${selector} points to version ${target}, which does not exist (versions: ${versions.map((v) => v.version).join(', ')})`)
    return found
  }

  /** A stored file of a version (its only file, or the one named): its path, after readFile's checks. */
  file(kind: RegistryKind, ref: string, fileName?: string): string {
    const { version: v, name } = this.readFileChecked(kind, ref, fileName)
    return resolveInside(join(this.entryDir(kind, v.name), `v${v.version}`), name, 'registry file')
  }

  /**
   * The bytes of a version's file (its only file, or the one named): one the version lists, never through
   * a symbolic link nor out of the registry, and with the sha256 recorded at registration — a file
   * replaced since is an error naming it.
   */
  readFile(kind: RegistryKind, ref: string, fileName?: string): Buffer {
    return this.readFileChecked(kind, ref, fileName).bytes
  }

  private readFileChecked(kind: RegistryKind, ref: string, fileName?: string): { version: RegistryVersion; name: string; bytes: Buffer } {
    const v = this.resolve(kind, ref)
    const name = fileName ?? (v.files.length === 1 ? v.files[0]!.name : undefined)
    const listed = v.files.find((f) => f.name === name)
    if (name === undefined || listed === undefined) throw new NotFoundError(`${singular(kind)} ${v.name}@${v.version} has no file ${JSON.stringify(fileName)} (files: ${v.files.map((f) => f.name).join(', ')})`)
    const bytes = readFileInside(join(this.entryDir(kind, v.name), `v${v.version}`), listed.name, { within: this.root, sha256: typeof listed.sha256 === 'string' ? listed.sha256 : '', what: `${singular(kind)} ${v.name}@${v.version} file ${JSON.stringify(listed.name)}` })
    return { version: v, name: listed.name, bytes }
  }

  setAlias(kind: RegistryKind, name: string, alias: string, version: number, reason?: string): void {
    if (!ALIAS.test(alias) || alias === 'latest') throw new ConfigError(`alias ${JSON.stringify(alias)} is invalid: expected lowercase letters, digits, _ or - (starting with a letter), and not "latest"`)
    this.mutate(kind, name, () => {
      const v = this.resolve(kind, name, version)
      if (v.status === 'retired') throw new ConfigError(`${singular(kind)} ${name}@${version} is retired; restore it before giving it an alias`)
      const aliases = this.readAliases(kind, name)
      const from = ownValue(aliases, alias)
      aliases[alias] = version
      writeFileAtomic(join(this.entryDir(kind, name), 'aliases.json'), `${JSON.stringify(aliases, null, 2)}\n`)
      this.audit({ kind, name, version, action: 'alias', alias, from: from === undefined ? undefined : String(from), to: String(version), reason })
    })
  }

  deleteAlias(kind: RegistryKind, name: string, alias: string, reason?: string): void {
    this.mutate(kind, name, () => {
      const aliases = this.readAliases(kind, name)
      const from = ownValue(aliases, alias)
      if (from === undefined) throw new NotFoundError(`${singular(kind)} ${name} has no alias ${JSON.stringify(alias)}`)
      delete aliases[alias]
      writeFileAtomic(join(this.entryDir(kind, name), 'aliases.json'), `${JSON.stringify(aliases, null, 2)}\n`)
      this.audit({ kind, name, version: from, action: 'unalias', alias, from: String(from), reason })
    })
  }

  /** Move a model version to a stage; `archiveExisting` moves the others in that stage to Archived. */
  transitionStage(name: string, version: number, stage: ModelStage, options: { reason?: string; archiveExisting?: boolean } = {}): RegistryVersion {
    if (!MODEL_STAGES.includes(stage)) throw new ConfigError(`stage must be one of ${MODEL_STAGES.join(', ')} (received ${JSON.stringify(stage)})`)
    return this.mutate('models', name, () => {
      const v = this.resolve('models', name, version)
      if (v.status === 'retired' && stage !== 'Archived') throw new ConfigError(`model ${name}@${version} is retired; restore it before moving it to ${stage}`)
      if (options.archiveExisting === true && stage !== 'Archived') {
        for (const other of this.readVersions('models', name)) {
          if (other.version !== version && other.stage === stage) this.changeStage(other, 'Archived', `archived: version ${version} moved to ${stage}`)
        }
      }
      return this.changeStage(v, stage, options.reason)
    })
  }

  retire(kind: RegistryKind, name: string, version: number, reason?: string): RegistryVersion {
    return this.mutate(kind, name, () => {
      const v = this.resolve(kind, name, version)
      if (v.status === 'retired') return v
      const pointing = Object.entries(this.readAliases(kind, name)).filter(([, n]) => n === version).map(([a]) => a)
      if (pointing.length > 0) throw new ConfigError(`${singular(kind)} ${name}@${version} is aliased as ${pointing.join(', ')}; move or delete the alias before retiring it`)
      v.status = 'retired'
      this.writeVersion(v)
      this.audit({ kind, name, version, action: 'retire', from: 'active', to: 'retired', reason })
      return v
    })
  }

  restore(kind: RegistryKind, name: string, version: number, reason?: string): RegistryVersion {
    return this.mutate(kind, name, () => {
      const v = this.resolve(kind, name, version)
      if (v.status === 'active') return v
      v.status = 'active'
      this.writeVersion(v)
      this.audit({ kind, name, version, action: 'restore', from: 'retired', to: 'active', reason })
      return v
    })
  }

  linkRuns(kind: RegistryKind, name: string, version: number, runIds: readonly string[], reason?: string): RegistryVersion {
    return this.mutate(kind, name, () => {
      const v = this.resolve(kind, name, version)
      const extra = runIds.filter((r) => !v.runs.includes(r))
      if (extra.length === 0) return v
      this.refuseDeletedRuns(extra)
      v.runs.push(...extra)
      this.writeVersion(v)
      this.audit({ kind, name, version, action: 'link', to: extra.join(','), reason })
      return v
    })
  }

  recordParity(name: string, version: number, parity: ParityRecord): RegistryVersion {
    return this.mutate('strategies', name, () => {
      const v = this.resolve('strategies', name, version)
      v.parity = parity
      this.writeVersion(v)
      this.audit({ kind: 'strategies', name, version, action: 'parity', to: parity.agree ? 'agree' : 'disagree', reason: `max relative difference ${parity.maxRelativeDifference} (tolerance ${parity.tolerance}) on ${parity.data}` })
      return v
    })
  }

  /**
   * The entry's record files that cannot be read (each version.json, aliases.json), each with its error:
   * for the doctor, which names every damaged file rather than the first one met.
   */
  damagedFiles(kind: RegistryKind, name: string): { file: string; error: string }[] {
    registryKind(kind)
    checkName(name)
    const out: { file: string; error: string }[] = []
    const dir = this.entryDir(kind, name)
    for (const n of this.versionFolders(kind, name)) {
      const file = join(dir, `v${n}`, 'version.json')
      try {
        this.readVersion(kind, name, n)
      } catch (error) {
        if (!(error instanceof DataError)) throw error
        out.push({ file, error: error.message })
      }
    }
    try {
      this.readAliases(kind, name)
    } catch (error) {
      if (!(error instanceof DataError)) throw error
      out.push({ file: join(dir, 'aliases.json'), error: error.message })
    }
    return out
  }

  /** The aliases as the audit log has them (alias and unalias events replayed): how to restore aliases.json. */
  aliasesFromAudit(kind: RegistryKind, name: string): Record<string, number> {
    const aliases: Record<string, number> = {}
    for (const e of this.auditLog(kind, name)) {
      if (e.alias === undefined) continue
      if (e.action === 'alias' && e.to !== undefined) aliases[e.alias] = Number(e.to)
      else if (e.action === 'unalias') delete aliases[e.alias]
    }
    return aliases
  }

  /** Every change to an entry, oldest first. */
  auditLog(kind: RegistryKind, name: string): AuditEvent[] {
    registryKind(kind)
    checkName(name)
    return readRecords<AuditEvent>(join(this.entryDir(kind, name), 'audit.jsonl')).records
  }

  // ---- internals ---------------------------------------------------------------------------------

  /**
   * What changes when a version is registered or a version's runs change: each entry folder's mtime (a
   * version renamed in, a writer's lock taken or released) and its audit log's size. A few stats per entry:
   * gc compares it before each removal and reads the references again only when it moved.
   */
  changeStamp(): string {
    let out = ''
    for (const kind of REGISTRY_KINDS) {
      const dir = join(this.root, kind)
      let names: string[]
      try {
        names = readdirSync(dir).sort()
      } catch {
        continue // no entries of this kind
      }
      for (const name of names) {
        const entry = join(dir, name)
        out += `${kind}/${name}:${statSync(entry, { throwIfNoEntry: false })?.mtimeMs ?? '-'}:${statSync(join(entry, 'audit.jsonl'), { throwIfNoEntry: false })?.size ?? '-'};`
      }
    }
    return out
  }

  /** A version never records a soft-deleted run (gc would remove it, leaving the version's lineage dangling). */
  private refuseDeletedRuns(runIds: readonly string[]): void {
    for (const [id, dir] of findRunFolders(join(this.home, 'runs'), new Set(runIds))) {
      if (tagsInFolder(dir)[LIFECYCLE_TAG] === 'deleted') throw new ConfigError(`run ${id} is deleted; mtflow runs restore ${id} first`)
    }
  }

  private entryDir(kind: RegistryKind, name: string): string {
    return join(this.root, kind, name)
  }

  private mutate<T>(kind: RegistryKind, name: string, work: () => T): T {
    registryKind(kind)
    checkName(name)
    this.entry(kind, name)
    return withLockSync(join(this.entryDir(kind, name), '.lock'), work)
  }

  private changeStage(v: RegistryVersion, stage: ModelStage, reason?: string): RegistryVersion {
    const from = v.stage ?? 'None'
    if (from === stage) return v
    v.stage = stage
    this.writeVersion(v)
    this.audit({ kind: 'models', name: v.name, version: v.version, action: 'stage', from, to: stage, reason })
    return v
  }

  /**
   * The entry's versions. Version folders are renamed into place whole, so a v<N> folder without a
   * readable, matching version.json was damaged afterwards: a DataError naming the file, never a version
   * that silently vanishes.
   */
  private readVersions(kind: RegistryKind, name: string): RegistryVersion[] {
    return this.versionFolders(kind, name)
      .map((n) => this.readVersion(kind, name, n))
      .sort((a, b) => a.version - b.version)
  }

  private readVersion(kind: RegistryKind, name: string, n: number): RegistryVersion {
    const file = join(this.entryDir(kind, name), `v${n}`, 'version.json')
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (error) {
      throw new CorruptFileError(`${file} cannot be read (${(error as { code?: string }).code ?? String(error)}); the version folder is damaged — see mtflow doctor`, file, { cause: error })
    }
    let v: RegistryVersion
    try {
      v = JSON.parse(text) as RegistryVersion
    } catch (error) {
      throw new CorruptFileError(`${file} is corrupt: not valid JSON (${(error as Error).message}); see mtflow doctor`, file, { cause: error })
    }
    if (v === null || typeof v !== 'object' || v.version !== n || v.name !== name || v.kind !== kind || !Array.isArray(v.files) || !Array.isArray(v.runs)) {
      throw new CorruptFileError(`${file} is corrupt: expected the record of ${singular(kind)} ${name}@${n} (kind, name, version, files, runs); see mtflow doctor`, file)
    }
    return v
  }

  /** The numbers of the entry's v<N> folders. */
  private versionFolders(kind: RegistryKind, name: string): number[] {
    const dir = this.entryDir(kind, name)
    if (!existsSync(dir)) return []
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^v\d+$/.test(e.name))
      .map((e) => Number(e.name.slice(1)))
  }

  private writeVersion(v: RegistryVersion): void {
    writeFileAtomic(join(this.entryDir(v.kind, v.name), `v${v.version}`, 'version.json'), `${JSON.stringify(v, null, 2)}\n`)
  }

  /**
   * The entry's aliases: none when aliases.json does not exist; a DataError naming it when it is corrupt,
   * so an alias write refuses rather than replacing the aliases it could not read.
   */
  private readAliases(kind: RegistryKind, name: string): Record<string, number> {
    const file = join(this.entryDir(kind, name), 'aliases.json')
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return {}
      throw new CorruptFileError(`${file} cannot be read (${(error as { code?: string }).code ?? String(error)}); see mtflow doctor`, file, { cause: error })
    }
    let aliases: Record<string, number>
    try {
      aliases = JSON.parse(text) as Record<string, number>
    } catch (error) {
      throw new CorruptFileError(`${file} is corrupt: not valid JSON (${(error as Error).message}); it is left as it is — restore it from the audit log (mtflow registry audit) or remove it, see mtflow doctor`, file, { cause: error })
    }
    if (aliases === null || typeof aliases !== 'object' || Array.isArray(aliases) || Object.values(aliases).some((v) => !Number.isSafeInteger(v) || v < 1)) {
      throw new CorruptFileError(`${file} is corrupt: expected an object of alias → version number; see mtflow doctor`, file)
    }
    return aliases
  }

  private audit(event: Omit<AuditEvent, 'time' | 'user'>): void {
    const clean = Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined))
    appendRecords(join(this.entryDir(event.kind, event.name), 'audit.jsonl'), [{ time: Date.now(), user: currentUser(), ...clean }])
  }
}

/** "name@selector" → parts; a bare name means the latest active version. Stages (capitalised) never collide with aliases (lowercase). */
export function parseRef(ref: string, version?: number | string): { name: string; selector: string } {
  if (typeof ref !== 'string' || ref === '') throw new ConfigError(`a registry reference must be NAME, NAME@VERSION or NAME@ALIAS (received ${JSON.stringify(ref)})`)
  const at = ref.lastIndexOf('@')
  const name = at < 0 ? ref : ref.slice(0, at)
  const selector = version !== undefined ? String(version) : at < 0 ? 'latest' : ref.slice(at + 1)
  checkName(name)
  if (selector === '' || !(/^\d+$/.test(selector) || ALIAS.test(selector) || selector === 'latest' || (MODEL_STAGES as readonly string[]).includes(selector))) {
    throw new ConfigError(`${JSON.stringify(ref)}: after @ expected a version number, an alias, a model stage (Staging, Production…) or "latest"`)
  }
  return { name, selector }
}

/** `kind` as a RegistryKind, or a ConfigError naming the kinds (the CLI's exit 2, the server's 400). */
export function registryKind(kind: string): RegistryKind {
  if (!REGISTRY_KINDS.includes(kind as RegistryKind)) throw new ConfigError(`registry kind must be one of ${REGISTRY_KINDS.join(', ')} (received ${JSON.stringify(kind.length > 60 ? `${kind.slice(0, 60)}…` : kind)})`)
  return kind as RegistryKind
}

/**
 * A deployment version is one JSON object in deployment.json: anything else would be a version the runner
 * cannot start. Its fields are lib/live's to check (track imports only core).
 */
function checkDeploymentFiles(name: string, files: Readonly<Record<string, string | Uint8Array>>): void {
  const names = Object.keys(files)
  if (names.length !== 1 || names[0] !== DEPLOYMENT_FILE) {
    throw new ConfigError(`registering deployments/${name}: a deployment version holds one file, ${DEPLOYMENT_FILE} (received ${names.map((n) => JSON.stringify(n)).join(', ')})`)
  }
  const data = files[DEPLOYMENT_FILE]!
  let parsed: unknown
  try {
    parsed = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'))
  } catch {
    parsed = undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`registering deployments/${name}: ${DEPLOYMENT_FILE} must hold a JSON object (the deployment config)`)
}

function checkName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigError(`registry name ${JSON.stringify(name)} is invalid: expected 1–100 letters, digits, _ . or - (starting with a letter or digit)`)
}

export function singular(kind: RegistryKind): string {
  return kind === 'strategies' ? 'strategy' : kind.slice(0, -1)
}

function currentUser(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'unknown'
  }
}

/**
 * A version's file names, before anything is written: not version.json (the version's own record, written
 * beside them: the file would be overwritten and the version be "changed since recorded" for good), and no
 * name that is another's folder ("a" and "a/b": one would fail to write, half a version on disk). Letter case
 * aside, as a case-insensitive disk sees them.
 */
function checkFileNames(kind: RegistryKind, name: string, fileNames: readonly string[]): void {
  const keys = fileNames.map((f) => f.normalize('NFC').toLowerCase())
  for (const [i, key] of keys.entries()) {
    const f = fileNames[i]!
    if (key === 'version.json' || key.startsWith('version.json/')) throw new ConfigError(`registering ${kind}/${name}: a file cannot be named ${JSON.stringify(f)}: version.json is the version's own record`)
    for (const [j, other] of keys.entries()) {
      if (j !== i && (other === key || other.startsWith(`${key}/`))) throw new ConfigError(`registering ${kind}/${name}: files ${JSON.stringify(f)} and ${JSON.stringify(fileNames[j])} cannot both be: ${other === key ? 'the same name, letter case aside' : 'one is a folder of the other'}`)
    }
  }
}
