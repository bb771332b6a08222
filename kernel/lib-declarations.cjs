// Declarations of lib/ for the notebook kernel (kernel/tslab-launcher.cjs). tslab type-checks a cell
// together with every local .ts file it reaches, then emits and runs them: for '../lib/index.js' that is
// ~160 files checked and emitted on the first import (~5-10 s). Here the kernel's compiler sees a cached
// lib/X.d.ts in place of each lib/X.ts: cells are checked against the same types (declarations emitted by
// tslab's own TypeScript with tslab's own options), lib is not re-checked or re-emitted, and the cell's
// require of lib loads the sources through tsx's require hook, as the CLI does.
// A missing, stale or damaged cache leaves tslab's path (the sources) as it was; a miss starts a build in
// the background for the next kernel.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

/** Bumped when the cache's layout or the build changes. */
const FORMAT = 1
const DIR = 'lib-declarations'

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex')
const slash = (p) => p.split(path.sep).join('/')

/** Where kernel caches go: $MTFLOW_KERNEL_CACHE_DIR, else node_modules/.cache/mtflow, else the temp folder. */
function cacheDirs(tslabDir, env = process.env) {
  if (env.MTFLOW_KERNEL_CACHE_DIR) return [path.resolve(env.MTFLOW_KERNEL_CACHE_DIR)]
  return [path.join(tslabDir, '..', '.cache', 'mtflow'), path.join(os.tmpdir(), 'mtflow-cache')]
}

/** Files the compiler may read, by extension: what the key covers (a README or a .cjs worker is not). */
const CODE = /\.(ts|tsx|mts|cts|js|jsx|mjs|json)$/

/** lib's code files but the CLI's (notebooks import lib/index.ts and lib/<domain>/…), in a stable order. */
function libFiles(root) {
  const out = []
  const cli = path.join(root, 'lib', 'cli')
  const walk = (dir) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        if (file !== cli) walk(file)
      } else if (entry.isFile() && CODE.test(entry.name)) out.push(file)
    }
  }
  walk(path.join(root, 'lib'))
  return out
}

/** Whether the key covers a project file (relative, with /): the rest lib reaches is checked by hash. */
const keyCovers = (source) => source.startsWith('lib/') && !source.startsWith('lib/cli/') && CODE.test(source)

/** The build's entry points: every .ts module of libFiles. */
function buildRoots(files) {
  return files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
}

/**
 * The cache key: this format, tslab's TypeScript and compiler options, the installed packages (their
 * types are part of lib's), and lib's code files (libFiles) by path and content. Other project files
 * lib reaches (kernel/nbformat.ts) are checked by their hashes in the manifest instead.
 */
function cacheKey({ root, tsVersion, options, files }) {
  const hash = crypto.createHash('sha256')
  hash.update(`mtflow lib declarations ${FORMAT}\nts ${tsVersion}\n${stableJson(options)}\n`)
  for (const name of ['package-lock.json', 'package.json']) {
    try {
      hash.update(`${name} ${sha256(fs.readFileSync(path.join(root, name)))}\n`)
      break
    } catch {
      /* the next one */
    }
  }
  for (const file of files) hash.update(`${slash(path.relative(root, file))}\0${sha256(fs.readFileSync(file))}\n`)
  return hash.digest('hex').slice(0, 32)
}

function stableJson(value) {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * Read and check a cache entry. Returns { declarations: Map(abs .d.ts path → text), sources: Set(abs
 * .ts paths stood in for) } or { problem } — a damaged entry, or a build that failed (then
 * { failed: true }: not worth building again for these sources).
 */
function readCache(dir, key, root) {
  let manifest
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
  } catch {
    return { problem: 'no cache' }
  }
  if (manifest.format !== FORMAT || manifest.key !== key) return { problem: 'cache of other sources' }
  if (manifest.failed !== undefined) return { problem: `declarations could not be built: ${manifest.failed}`, failed: true }
  const declarations = new Map()
  const sources = new Set()
  try {
    for (const { source, sha256: expected } of manifest.inputs) {
      // lib/ is covered by the key; a source outside it (kernel/nbformat.ts) must still be the one built from.
      if (!keyCovers(source) && sha256(fs.readFileSync(path.join(root, source), 'utf8')) !== expected) return { problem: `${source} changed` }
    }
    for (const { source, declaration, sha256: expected } of manifest.files) {
      const text = fs.readFileSync(path.join(dir, declaration), 'utf8')
      if (sha256(text) !== expected) return { problem: `${declaration} is damaged` }
      const abs = slash(path.join(root, source))
      sources.add(abs)
      declarations.set(abs.slice(0, -'.ts'.length) + '.d.ts', text)
    }
  } catch (error) {
    return { problem: `cache unreadable (${error.code ?? error.message})` }
  }
  return { declarations, sources }
}

/**
 * The kernel's compiler sees lib/X.d.ts (from the cache) where lib/X.ts is: fileExists says the source
 * is absent and the declaration present, readFile serves it, and nothing watches or resolves it on disk.
 * Only ts.sys (tslab's TypeScript) is touched; Node's loader still finds the sources.
 */
function redirectToDeclarations(ts, { declarations, sources }, transform) {
  const sys = ts.sys
  const { fileExists, readFile, watchFile, realpath } = sys
  const transformed = new Map()
  sys.fileExists = function (file) {
    if (sources.has(file)) return false
    if (declarations.has(file)) return true
    return fileExists.call(this, file)
  }
  sys.readFile = function (file, encoding) {
    const text = declarations.get(file)
    if (text === undefined) return readFile.call(this, file, encoding)
    if (transform === undefined) return text
    // The headless kernel reads declarations without JSDoc (readDeclarationsWithoutDocs in the launcher).
    let done = transformed.get(file)
    if (done === undefined) transformed.set(file, (done = transform(text)))
    return done
  }
  if (typeof watchFile === 'function') {
    sys.watchFile = function (file, ...rest) {
      return declarations.has(file) ? { close() {} } : watchFile.call(this, file, ...rest)
    }
  }
  if (typeof realpath === 'function') {
    sys.realpath = function (file) {
      return declarations.has(file) ? file : realpath.call(this, file)
    }
  }
}

/**
 * A cell's require('../lib/index.js') (emitted by tslab) now finds no emitted module, so Node resolves
 * it: a stood-in X.js, X or directory X/ maps to its X.ts / X/index.ts, loaded through the CLI's loader
 * (lib/core/loader.cjs, registered on first use). Requests that Node resolves are untouched,
 * and so is the loading of packages' .js/.mjs files: Node's own loader, as in a kernel without this
 * (tsx would also compile ESM packages such as @observablehq/plot to CommonJS: ~30% of lib's load).
 */
function requireSourcesThroughTsx(sources, tsxApi, root) {
  const Module = require('node:module')
  const resolve = Module._resolveFilename
  const project = path.resolve(root) + path.sep
  const ours = (file) => typeof file === 'string' && file.startsWith(project) && !file.includes(`${path.sep}node_modules${path.sep}`)
  let registered = false
  const register = () => {
    const before = { '.js': Module._extensions['.js'], '.mjs': Module._extensions['.mjs'] }
    // The CLI's loader when the project has it (lib/core/loader.cjs: tsx's hook, and lib's exports as
    // plain properties — under tsx's getters alone rsi ran ~7× slower than in the bench); tsx's hook else.
    const loader = path.join(root, 'lib', 'core', 'loader.cjs')
    if (fs.existsSync(loader)) require(loader)
    else require(tsxApi).register()
    for (const ext of ['.js', '.mjs']) {
      const tsx = Module._extensions[ext]
      const node = before[ext] ?? before['.js']
      if (tsx === node || typeof tsx !== 'function' || typeof node !== 'function') continue
      Module._extensions[ext] = function (module, filename) {
        return (ours(filename) ? tsx : node).call(this, module, filename)
      }
    }
  }
  Module._resolveFilename = function (request, parent, isMain, options) {
    try {
      return resolve.call(this, request, parent, isMain, options)
    } catch (error) {
      const source = error?.code === 'MODULE_NOT_FOUND' ? standIn(request, parent) : undefined
      if (source === undefined) throw error
      if (!registered) {
        registered = true
        register()
      }
      return source
    }
  }
  function standIn(request, parent) {
    if (typeof request !== 'string' || !(request.startsWith('.') || path.isAbsolute(request))) return undefined
    const base = parent?.filename ? path.dirname(parent.filename) : (parent?.path ?? process.cwd())
    const abs = path.resolve(base, request)
    const candidates = abs.endsWith('.js') ? [abs.slice(0, -3) + '.ts'] : [abs + '.ts', path.join(abs, 'index.ts')]
    return candidates.find((c) => sources.has(slash(c)))
  }
}

/**
 * At kernel start, after tslab built its compiler: use the cache if it matches lib/ as it is now, else
 * start a build for the next kernel. MTFLOW_LIB_DECLARATIONS=off keeps tslab's path (no cache, no build).
 * Returns what it did, for the launcher's globalThis.__mtflowLibDeclarations.
 */
function useLibDeclarations(context) {
  try {
    return libDeclarationsFor(context)
  } catch (error) {
    // Nothing is redirected before everything needed is in hand: tslab's path stays as it was.
    return { active: false, reason: `lib declarations not used: ${error?.message ?? error}` }
  }
}

function libDeclarationsFor({ ts, tsPath, tslabDir, root, options, transform, cwd = process.cwd(), env = process.env }) {
  if (env.MTFLOW_LIB_DECLARATIONS === 'off') return { active: false, reason: 'MTFLOW_LIB_DECLARATIONS=off' }
  if (options === null || typeof options !== 'object') return { active: false, reason: "tslab's compiler options are unknown" }
  // tslab reports no diagnostics of files outside the kernel's folder, so lib's own are never shown to a
  // notebook in notebooks/: skipping their check changes nothing there. A kernel whose folder holds lib/
  // would show them, so it keeps tslab's path.
  if (!path.relative(cwd, path.join(root, 'lib')).startsWith('..')) return { active: false, reason: 'lib/ is inside the kernel folder' }
  const files = libFiles(root)
  const key = cacheKey({ root, tsVersion: ts.version, options, files })
  const dirs = cacheDirs(tslabDir, env)
  let reason = 'no cache'
  for (const dir of dirs) {
    const found = readCache(path.join(dir, DIR, key), key, root)
    if (found.problem === undefined) {
      const tsxApi = require.resolve('tsx/cjs/api', { paths: [root] })
      requireSourcesThroughTsx(found.sources, tsxApi, root)
      redirectToDeclarations(ts, found, transform)
      return { active: true, key, declarations: found.declarations.size }
    }
    if (found.problem !== 'no cache') reason = found.problem
    if (found.failed) return { active: false, key, reason }
  }
  if (env.MTFLOW_LIB_DECLARATIONS !== 'no-build') startBuild({ dirs, key, root, tsPath, options, env })
  return { active: false, key, reason }
}

/** A build in its own detached, lower-priority process (it outlives a short headless run), one per key. */
function startBuild({ dirs, key, root, tsPath, options, env }) {
  for (const dir of dirs) {
    const base = path.join(dir, DIR)
    const lock = path.join(base, `.${key}.lock`)
    try {
      fs.mkdirSync(base, { recursive: true })
      if (!takeLock(lock)) return
    } catch {
      continue
    }
    try {
      const { spawn } = require('node:child_process')
      const job = JSON.stringify({ dir: base, key, root, tsPath, options, lock })
      const child = spawn(process.execPath, [__filename, 'build', job], { detached: true, stdio: 'ignore', env: { ...env, MTFLOW_KERNEL_PARENT_PID: '' } })
      try {
        // Below the kernel, which may be checking the same sources the slow way meanwhile; not 19, which
        // starves it for minutes on a busy machine.
        os.setPriority(child.pid, 10)
      } catch {
        /* not allowed: it runs at normal priority */
      }
      fs.writeFileSync(lock, String(child.pid))
      child.unref()
    } catch {
      fs.rmSync(lock, { force: true })
    }
    return
  }
}

/** Exclusive create of the lock; a lock whose process is gone, or older than 10 minutes, is taken over. */
function takeLock(lock) {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, '', { flag: 'wx' })
      return true
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
    }
    let stale = false
    try {
      const pid = Number(fs.readFileSync(lock, 'utf8'))
      const age = Date.now() - fs.statSync(lock).mtimeMs
      if (age > 600_000) stale = true
      else if (pid > 0) {
        try {
          process.kill(pid, 0)
        } catch {
          stale = true
        }
      } else stale = age > 30_000 // being started; its pid comes within milliseconds
    } catch {
      stale = true
    }
    if (!stale) return false
    fs.rmSync(lock, { force: true })
  }
  return false
}

/**
 * Build the declarations: tslab's TypeScript with tslab's compiler options, every lib module but the
 * CLI's as roots, one .d.ts per source file of the project the program reaches. Declaration
 * diagnostics (a type that cannot be written down) fail the build: such a file's .d.ts would not say
 * what its source says. lib's own semantic diagnostics do not (tslab does not show them to notebooks).
 * Writes <dir>/<key>/ (manifest.json, lib/…/X.d.ts) by renaming a finished temporary folder.
 */
function build({ dir, key, root, tsPath, options }) {
  const ts = require(tsPath)
  const files = libFiles(root)
  if (cacheKey({ root, tsVersion: ts.version, options, files }) !== key) return { skipped: 'lib changed since the kernel started' }
  const program = ts.createProgram(buildRoots(files), { ...options, declaration: true, emitDeclarationOnly: true, noEmit: false })
  const rootSlash = slash(root) + '/'
  const inProject = (f) => f.fileName.startsWith(rootSlash) && !f.fileName.includes('/node_modules/')
  const manifest = { format: FORMAT, key, typescript: ts.version, built: new Date().toISOString(), inputs: [], files: [] }
  const outputs = new Map()
  const problems = []
  for (const file of program.getSourceFiles()) {
    if (!inProject(file)) continue
    const source = file.fileName.slice(rootSlash.length)
    const onDisk = fs.readFileSync(file.fileName, 'utf8')
    // Edited while the program was read: these declarations would match neither version.
    if (onDisk.replace(/^\uFEFF/, '') !== file.text) return { skipped: `${source} changed during the build` }
    manifest.inputs.push({ source, sha256: sha256(onDisk) })
    if (file.isDeclarationFile || source.endsWith('.json')) continue // read as they are
    if (!source.endsWith('.ts') || source.endsWith('.d.ts')) {
      problems.push(`${source} is not a .ts module`)
      continue
    }
    for (const d of program.getDeclarationDiagnostics(file)) {
      problems.push(`${source}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`)
    }
    let text
    program.emit(file, (name, data) => {
      if (name.endsWith('.d.ts')) text = data
    }, undefined, true)
    if (text === undefined) problems.push(`${source}: no declaration emitted`)
    else outputs.set(source, text)
  }
  if (cacheKey({ root, tsVersion: ts.version, options, files: libFiles(root) }) !== key) return { skipped: 'lib changed during the build' }
  if (problems.length > 0) manifest.failed = problems.slice(0, 5).join('; ')
  const tmp = path.join(dir, `.${key}.${process.pid}.tmp`)
  fs.rmSync(tmp, { recursive: true, force: true })
  for (const [source, text] of outputs) {
    if (manifest.failed !== undefined) break
    const declaration = `${source.slice(0, -'.ts'.length)}.d.ts`
    fs.mkdirSync(path.dirname(path.join(tmp, declaration)), { recursive: true })
    fs.writeFileSync(path.join(tmp, declaration), text)
    manifest.files.push({ source, declaration, sha256: sha256(text) })
  }
  fs.mkdirSync(tmp, { recursive: true })
  fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1))
  try {
    // A build starts only where the entry is missing or unusable (damaged): it is replaced.
    const target = path.join(dir, key)
    if (readCache(target, key, root).problem !== undefined) fs.rmSync(target, { recursive: true, force: true })
    fs.renameSync(tmp, target)
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }) // another build finished first
  }
  prune(dir, key)
  return { failed: manifest.failed, files: manifest.files.length }
}

/** Keep the newest few entries: lib changes often while it is being developed. */
function prune(dir, keep, count = 4) {
  try {
    const entries = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== keep)
      .map((e) => ({ name: e.name, mtime: fs.statSync(path.join(dir, e.name)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime)
    for (const e of entries.slice(count - 1)) fs.rmSync(path.join(dir, e.name), { recursive: true, force: true })
  } catch {
    /* pruning is best effort */
  }
}

module.exports = { FORMAT, cacheDirs, cacheKey, libFiles, readCache, useLibDeclarations, build, DIR }

if (require.main === module && process.argv[2] === 'build') {
  const job = JSON.parse(process.argv[3])
  try {
    build(job)
  } finally {
    fs.rmSync(job.lock, { force: true })
  }
}
