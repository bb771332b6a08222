// A module file as it travels in a job (an objective, a strategy): its path, and the sources of it and of
// every file it imports by a relative path (not lib/ — the project version covers that — nor packages),
// with one hash over them all. A worker loads the files where they are when every one hashes the same;
// elsewhere (another machine, a changed file) it writes the sources it was sent to a folder named by the
// hash and loads them from there — so a worker never runs a source other than the submitter's, and a
// result cached under a job's id is the result of exactly those sources. A thread that loaded an earlier
// version of a file forgets it (and its local imports) before loading the new one.

import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { ConfigError, errorMessage, installMtflowAlias, sha256, writeFileAtomic } from '../core/index.js'
import { projectRoot } from './version.js'

export interface ModuleRef {
  /** The entry file's absolute path on the submitter. */
  file: string
  /** sha256 over every file of the closure (relative path and source, in path order). */
  sha256: string
  /** The entry's source. */
  source: string
  /** The folder the closure's paths are relative to, and each file's source by that path. */
  root?: string
  files?: Record<string, string>
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g
const EXTENSIONS = ['', '.ts', '.tsx', '.mts', '.cts', '.js', '.mjs', '.cjs', '/index.ts', '/index.js']

/** The file a relative specifier names (TypeScript's `.js` → `.ts` included), or undefined. */
function resolveSpecifier(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec)
  const stems = /\.(m|c)?js$/.test(base) ? [base.replace(/js$/, 'ts'), base] : [base]
  for (const stem of stems) {
    for (const ext of EXTENSIONS) {
      try {
        if (statSync(stem + ext).isFile()) return stem + ext
      } catch {
        /* not there */
      }
    }
  }
  return undefined
}

/** The entry and the files it imports by relative paths, transitively (not lib/, not packages). */
function closure(entry: string): string[] {
  const lib = join(projectRoot(), 'lib') + sep
  const seen = new Set<string>([entry])
  const todo = [entry]
  while (todo.length > 0) {
    const file = todo.pop()!
    const source = readFileSync(file, 'utf8')
    for (const m of source.matchAll(SPECIFIER)) {
      const found = resolveSpecifier(file, m[1]!)
      if (found === undefined || seen.has(found) || found.startsWith(lib) || found.includes(`${sep}node_modules${sep}`)) continue
      seen.add(found)
      todo.push(found)
    }
  }
  return [...seen]
}

function commonRoot(files: readonly string[]): string {
  let root = dirname(files[0]!)
  while (!files.every((f) => f.startsWith(root.endsWith(sep) ? root : root + sep))) root = dirname(root)
  return root
}

function hashFiles(files: Readonly<Record<string, string>>): string {
  return sha256(
    Object.keys(files)
      .sort()
      .map((rel) => `${rel}\0${files[rel]}\0`)
      .join(''),
  )
}

export function moduleRef(file: string): ModuleRef {
  const entry = resolve(file)
  const paths = closure(entry)
  const root = commonRoot(paths)
  const files: Record<string, string> = {}
  for (const p of paths) files[relative(root, p).split(sep).join('/')] = readFileSync(p, 'utf8')
  return { file: entry, sha256: hashFiles(files), source: files[relative(root, entry).split(sep).join('/')]!, root, files }
}

/** A relative path a job may name: no `..`, not absolute, plain characters. */
function checkRelative(rel: string, what: string): void {
  if (typeof rel !== 'string' || rel === '' || rel.length > 300 || isAbsolute(rel) || rel.split('/').some((s) => s === '' || s === '.' || s === '..' || !/^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/.test(s))) {
    throw new ConfigError(`${what}: file path ${JSON.stringify(String(rel).slice(0, 100))} is not a plain relative path`)
  }
}

/** Versions of files loaded by this thread: path → the closure hash it was loaded at. */
const loadedAt = new Map<string, string>()

/** Drop a module and the local modules it loaded from the require cache (packages and lib/ stay). */
function forget(load: NodeRequire, path: string): void {
  const lib = join(projectRoot(), 'lib') + sep
  const cache = load.cache
  const stack = [cache[path]]
  while (stack.length > 0) {
    const m = stack.pop()
    if (m === undefined || m.id.startsWith(lib) || m.id.includes(`${sep}node_modules${sep}`) || cache[m.id] === undefined) continue
    delete cache[m.id]
    stack.push(...m.children)
  }
}

/**
 * Where sources sent with a job are written to be loaded (a worker on another machine): a folder of this
 * user's own under the temp folder, made readable by no one else. The shared "mtflow-modules" of before let
 * another user of the machine plant code there for a worker to load (second attack review). Refused when
 * it is not a folder (a link) or not this user's; every file in it is checked against the source sent.
 */
function privateModuleDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined
  return privateFolder(join(tmpdir(), uid === undefined ? 'mtflow-modules' : `mtflow-modules-${uid}`), uid)
}

/** `dir` made (0700) or checked as this user's own folder, not a link, readable by no one else (see privateModuleDir). */
export function privateFolder(dir: string, uid = typeof process.getuid === 'function' ? process.getuid() : undefined): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = lstatSync(dir)
  if (!st.isDirectory()) throw new ConfigError(`${dir} is not a folder (a link?): sources sent with a job are not loaded from it`)
  if (uid !== undefined && st.uid !== uid) throw new ConfigError(`${dir} belongs to user ${st.uid}, not to this one (${uid}): sources sent with a job are not loaded from it`)
  if (uid !== undefined && (st.mode & 0o077) !== 0) chmodSync(dir, 0o700)
  return dir
}

/** The module's exports, loaded in this thread (through its require hook). */
export function loadModuleRef(ref: ModuleRef, what = 'module'): Record<string, unknown> {
  installMtflowAlias()
  if (ref === null || typeof ref !== 'object' || typeof ref.file !== 'string' || typeof ref.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(ref.sha256)) throw new ConfigError(`${what}: not a module reference`)
  const files: Record<string, string> = ref.files ?? { [ref.file.split(/[\\/]/).pop()!]: ref.source }
  const root = ref.files === undefined ? dirname(ref.file) : String(ref.root)
  for (const [rel, text] of Object.entries(files)) {
    checkRelative(rel, what)
    if (typeof text !== 'string') throw new ConfigError(`${what}: the source of ${rel} is not text`)
  }
  if (hashFiles(files) !== ref.sha256 && ref.files !== undefined) throw new ConfigError(`${what} ${ref.file}: the sources sent do not match their hash`)
  const entryRel = relative(root, ref.file).split(sep).join('/')
  if (files[entryRel] === undefined) throw new ConfigError(`${what} ${ref.file}: its own source is not among the files sent`)
  const onDisk = () => Object.entries(files).every(([rel, text]) => {
    const p = join(root, ...rel.split('/'))
    try {
      return readFileSync(p, 'utf8') === text
    } catch {
      return false
    }
  })
  // The legacy form (one file, no closure) is checked by the entry's own hash.
  const here = isAbsolute(root) && (ref.files === undefined ? existsSync(ref.file) && sha256(readFileSync(ref.file, 'utf8')) === ref.sha256 : onDisk())
  let path = ref.file
  if (!here) {
    if (ref.files === undefined && sha256(ref.source) !== ref.sha256) throw new ConfigError(`${what} ${entryRel}: the source sent does not match its hash`)
    const dir = join(privateModuleDir(), ref.sha256)
    // Each file as sent: one already there is read and compared (a worker killed mid-write left it cut
    // short, or someone else wrote it), and written again whole, atomically, when it differs.
    for (const [rel, text] of Object.entries(files)) {
      const p = join(dir, ...rel.split('/'))
      let same = false
      try {
        same = readFileSync(p, 'utf8') === text
      } catch {
        same = false
      }
      if (!same) {
        mkdirSync(dirname(p), { recursive: true, mode: 0o700 })
        writeFileAtomic(p, text, { durable: false })
      }
    }
    path = join(dir, ...entryRel.split('/'))
  }
  const load = createRequire(path)
  if (here && loadedAt.has(path) && loadedAt.get(path) !== ref.sha256) forget(load, path)
  try {
    const mod = load(path) as Record<string, unknown>
    loadedAt.set(path, ref.sha256)
    if (here && !onDisk()) throw new Error('a file changed while it was loaded; submit again')
    return mod
  } catch (error) {
    forget(load, path)
    loadedAt.delete(path)
    throw new ConfigError(`${what} file ${ref.file} failed to load${here ? '' : ' (from the sources sent with the job)'}: ${errorMessage(error)}`)
  }
}
