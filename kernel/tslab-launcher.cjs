#!/usr/bin/env node
// Starts the project's own tslab kernel (never a global one) for Jupyter and for the headless runner:
//   node kernel/tslab-launcher.cjs --config-path CONNECTION_FILE
// It also exits when the process that started it dies (MTFLOW_KERNEL_PARENT_PID or JPY_PARENT_PID),
// so a killed runner or notebook server leaves no orphan kernel behind. Notebooks' imports of lib/ are
// checked against cached declarations of lib (kernel/lib-declarations.cjs; MTFLOW_LIB_DECLARATIONS=off
// keeps tslab's own path). Kernel caches live in $MTFLOW_KERNEL_CACHE_DIR, else node_modules/.cache/mtflow.
'use strict'

const path = require('node:path')

function argValue(name) {
  const at = process.argv.indexOf(name)
  if (at >= 0 && at + 1 < process.argv.length) return process.argv[at + 1]
  const inline = process.argv.find((a) => a.startsWith(name + '='))
  return inline === undefined ? undefined : inline.slice(name.length + 1)
}

const configPath = argValue('--config-path')
if (configPath === undefined) {
  process.stderr.write('tslab-launcher: --config-path CONNECTION_FILE is required\n')
  process.exit(2)
}

watchParent(Number(process.env.MTFLOW_KERNEL_PARENT_PID || process.env.JPY_PARENT_PID || 0))

const tslabDir = path.dirname(require.resolve('tslab/package.json', { paths: [__dirname] }))
const tsPath = require.resolve('@tslab/typescript-for-tslab', { paths: [tslabDir] })
const libDeclarations = require('./lib-declarations.cjs')
const cacheDirs = libDeclarations.cacheDirs(tslabDir)
const codeCache = loadWithCodeCache(tsPath)
const converterPatched = patchConverterRootDir(path.join(tslabDir, 'dist', 'converter.js'))
const stripJsDoc = process.env.MTFLOW_KERNEL_HEADLESS === '1' ? require('./strip-jsdoc.cjs').stripJsDoc : undefined
if (stripJsDoc !== undefined) readDeclarationsWithoutDocs(require(tsPath), stripJsDoc)
queuedSends(require(require.resolve('zeromq', { paths: [tslabDir] })))
const jupyter = require(path.join(tslabDir, 'dist', 'jupyter.js'))
bufferedStreams(jupyter.JupyterHandlerImpl)
// Display helpers (kernel/display.ts) write multi-MIME display_data through tslab's own writer.
globalThis.__mtflowTslabJupyter = jupyter
exitWhenAPortIsTaken()
require(path.join(tslabDir, 'dist', 'main.js')).startKernel({
  configPath,
  enableFindLocal: false,
  jsKernel: false,
  globalVersion: require(path.join(tslabDir, 'package.json')).version,
})
// startKernel has built tslab's compiler by now, so the cache holds the functions a kernel start runs.
codeCache.save()
// lib/ as declarations for the compiler (kernel/lib-declarations.cjs): tslab's options are known now.
globalThis.__mtflowLibDeclarations = converterPatched.done
  ? libDeclarations.useLibDeclarations({ ts: require(tsPath), tsPath, tslabDir, root: path.join(__dirname, '..'), options: globalThis.__mtflowTslabCompilerOptions, transform: stripJsDoc })
  : { active: false, reason: 'tslab converter not patched' }

/**
 * A port of the connection file taken by another process (between the client choosing it and the kernel
 * binding it) makes tslab's bind reject: tslab logs that as an unhandled rejection and stays up without
 * its sockets, answering nothing. Exit instead, with a code the client knows (kernel/client.ts
 * PORT_IN_USE_EXIT), so it starts the kernel again on other ports (Jupyter's restarter does too).
 */
function exitWhenAPortIsTaken() {
  let ports = []
  try {
    const c = JSON.parse(require('node:fs').readFileSync(configPath, 'utf8'))
    ports = [c.shell_port, c.iopub_port, c.stdin_port, c.control_port, c.hb_port].map(String)
  } catch {
    return // tslab reports an unreadable connection file itself
  }
  // Only the kernel's own sockets: a notebook's server on a taken port is the notebook's error, not a reason to
  // end the kernel and its session (a review).
  process.on('unhandledRejection', (reason) => {
    if (reason === null || typeof reason !== 'object' || typeof reason.address !== 'string') return
    if (reason.code !== 'EADDRINUSE' && !/address already in use/i.test(String(reason.message))) return
    if (!/^tcp:/.test(reason.address) || !ports.includes(reason.address.split(':').pop())) return
    process.stderr.write(`tslab-launcher: cannot bind ${reason.address}, a port of the connection file: address already in use\n`)
    process.exit(98)
  })
}

/**
 * Exit when the process that started us dies. The check runs on a worker thread, because a cell that
 * keeps the kernel's own thread busy (`while (true) {}`) would starve a timer there. It kills the
 * kernel's process group (which the runner made it lead), so processes a notebook started go too.
 */
function watchParent(parentPid) {
  if (!(parentPid > 1)) return
  const { Worker } = require('node:worker_threads')
  const ownConnectionFile = process.env.MTFLOW_KERNEL_PARENT_PID ? configPath : ''
  const worker = new Worker(
    `
    const { rmSync } = require('node:fs')
    const { parentPid, pid, connectionFile } = require('node:worker_threads').workerData
    setInterval(() => {
      try {
        process.kill(parentPid, 0)
      } catch {
        if (connectionFile) rmSync(connectionFile, { force: true })
        try { process.kill(-pid, 'SIGKILL') } catch { process.kill(pid, 'SIGKILL') }
      }
    }, 500)
    `,
    { eval: true, workerData: { parentPid, pid: process.pid, connectionFile: ownConnectionFile } },
  )
  worker.unref()
}

/**
 * tslab sends each message without waiting for the previous send, and zeromq.js allows one send in
 * progress per socket: the others throw EBUSY, which Node's console swallows — a cell printing in a
 * loop silently lost all but ~500 lines. Sends on the kernel's iopub (Publisher) and shell/control
 * (Router) sockets are queued and sent in order instead; iopub's queue is unbounded
 * (sendHighWaterMark 0), so nothing is dropped.
 */
function queuedSends(zmq) {
  // zeromq.js sockets are not extensible: the queue lives beside them.
  const queues = new WeakMap()
  const queued = (Base, extra) =>
    class extends Base {
      constructor(options) {
        super({ ...options, ...extra })
        queues.set(this, { pending: [], draining: false })
      }
      send(message) {
        const queue = queues.get(this)
        return new Promise((resolve) => {
          queue.pending.push({ message, resolve })
          if (!queue.draining) void this.drain(queue)
        })
      }
      async drain(queue) {
        queue.draining = true
        while (queue.pending.length > 0) {
          const { message, resolve } = queue.pending.shift()
          try {
            await super.send(message)
          } catch {
            /* a closed socket at shutdown: nothing left to tell */
          }
          resolve()
        }
        queue.draining = false
      }
    }
  zmq.Publisher = queued(zmq.Publisher, { sendHighWaterMark: 0 })
  zmq.Router = queued(zmq.Router, {})
}

/**
 * tslab turns every write to stdout/stderr into its own iopub message (50,000 console.log calls, 50,000
 * messages, each sent and signed on its own). Like ipykernel's OutStream we buffer the text and send
 * it every 50 ms, past 64 KB, and when the cell ends — before tslab sends its reply and idle status,
 * so the order of messages is unchanged.
 */
function bufferedStreams(Handler) {
  const create = Handler.prototype.createWriteToIopub
  const run = Handler.prototype.handleExecuteImpl
  if (typeof create !== 'function' || typeof run !== 'function') return
  const current = new Map() // stream name → flush of the writer now installed
  Handler.prototype.createWriteToIopub = function (name, writeStream) {
    current.get(name)?.()
    const decoder = new (require('node:util').TextDecoder)()
    let buffer = ''
    let timer
    const flush = () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      if (buffer === '') return
      const text = buffer
      buffer = ''
      writeStream(name, text)
    }
    current.set(name, flush)
    return (chunk, encoding, callback) => {
      buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk)
      if (buffer.length >= 65536) flush()
      else if (timer === undefined) timer = setTimeout(flush, 50)
      const done = typeof encoding === 'function' ? encoding : callback
      if (typeof done === 'function') done()
      return true
    }
  }
  Handler.prototype.handleExecuteImpl = async function (...args) {
    try {
      return await run.apply(this, args)
    } finally {
      for (const flush of current.values()) flush()
    }
  }
}

/**
 * Kernel start is dominated by tslab's 9 MB TypeScript compiler: compiling its source costs ~0.2 s and
 * its first program ~0.2 s more in lazily compiled functions. We keep V8's code cache for it on disk
 * (node_modules/.cache/mtflow, else the temp folder). The plain version is `require(tsPath)`; a cache
 * that V8 rejects (other Node version or flags) is simply rebuilt.
 */
function loadWithCodeCache(file) {
  const fs = require('node:fs')
  const vm = require('node:vm')
  const Module = require('node:module')
  const stat = fs.statSync(file)
  const name = `tslab-ts-${process.version}-${process.arch}-${stat.size}-${Math.floor(stat.mtimeMs)}.v8cache`
  const dirs = cacheDirs
  let cached
  for (const dir of dirs) {
    try {
      cached = fs.readFileSync(path.join(dir, name))
      break
    } catch {
      /* not there */
    }
  }
  let script
  const compile = Module.prototype._compile
  Module.prototype._compile = function (content, filename) {
    if (filename !== file) return compile.call(this, content, filename)
    Module.prototype._compile = compile
    script = new vm.Script(Module.wrap(content), { filename, cachedData: cached })
    const localRequire = (id) => this.require(id)
    localRequire.resolve = (request) => Module._resolveFilename(request, this)
    return script
      .runInThisContext({ displayErrors: true })
      .call(this.exports, this.exports, localRequire, this, filename, path.dirname(filename))
  }
  try {
    require(file)
  } finally {
    Module.prototype._compile = compile
  }
  return {
    save() {
      if (script === undefined || (cached !== undefined && !script.cachedDataRejected)) return
      const data = script.createCachedData()
      for (const dir of dirs) {
        try {
          fs.mkdirSync(dir, { recursive: true })
          const tmp = path.join(dir, `.${name}.${process.pid}.tmp`)
          fs.writeFileSync(tmp, data)
          fs.renameSync(tmp, path.join(dir, name))
          return
        } catch {
          /* try the next folder */
        }
      }
    },
  }
}

/**
 * tslab compiles with rootDir = the kernel's working directory, so a notebook in notebooks/ cannot
 * import '../lib/index.js' (TS6059 "not under rootDir"). We load tslab's converter with rootDir set to
 * the filesystem root and the emitted paths mapped back accordingly. The edits are checked against
 * the pinned tslab; if one does not apply, tslab runs unpatched and says why on stderr.
 */
function patchConverterRootDir(file) {
  const Module = require('node:module')
  const edits = [
    [
      'const declFilename = (0, tspath_1.normalizeJoin)(cwd, "__prev__.d.ts");',
      'const declFilename = (0, tspath_1.normalizeJoin)(cwd, "__prev__.d.ts");\n' +
        '    const rootDir = (0, tspath_1.normalizeSlashes)(path_1.default.parse(cwd).root);',
    ],
    [
      'const dstFilename = (0, tspath_1.normalizeJoin)(outDir, "__tslab__.js");',
      'const dstFilename = (0, tspath_1.normalizeJoin)(outDir, path_1.default.relative(rootDir, cwd), "__tslab__.js");',
    ],
    [
      'const dstDeclFilename = (0, tspath_1.normalizeJoin)(outDir, "__tslab__.d.ts");',
      'const dstDeclFilename = (0, tspath_1.normalizeJoin)(outDir, path_1.default.relative(rootDir, cwd), "__tslab__.d.ts");',
    ],
    ['rootDir: cwd,', 'rootDir,'],
    ['path: (0, tspath_1.normalizeJoin)(cwd, rel),', 'path: (0, tspath_1.normalizeJoin)(rootDir, rel),'],
    // The Node converter's compiler options, for building lib's declarations with the same ones.
    [
      'const watch = ts.createWatchProgram(host);',
      'const watch = ts.createWatchProgram(host);\n' +
        '    if (!(options === null || options === void 0 ? void 0 : options.isBrowser) && builder) globalThis.__mtflowTslabCompilerOptions = builder.getProgram().getCompilerOptions();',
    ],
  ]
  const result = { done: false }
  const compile = Module.prototype._compile
  Module.prototype._compile = function (content, filename) {
    if (filename !== file) return compile.call(this, content, filename)
    Module.prototype._compile = compile
    let patched = content
    for (const [from, to] of edits) {
      if (patched.split(from).length !== 2) {
        process.stderr.write(`mtflow: tslab ${path.basename(file)} differs from the pinned version; notebooks can only import files under their own folder\n`)
        return compile.call(this, content, filename)
      }
      patched = patched.replace(from, to)
    }
    result.done = true
    return compile.call(this, patched, filename)
  }
  return result
}

/**
 * Headless runs only (the runner sets MTFLOW_KERNEL_HEADLESS=1): nobody asks for hover docs, and two
 * thirds of @types/node is JSDoc that TypeScript 5.0 parses eagerly. Declaration files are read with
 * their /** … *\/ blocks removed (JSDoc carries no types in .d.ts files), which cuts the kernel's first
 * program by ~0.3-0.5 s. The plain version is ts.sys.readFile unchanged; interactive kernels keep it.
 */
function readDeclarationsWithoutDocs(ts, stripJsDoc) {
  const read = ts.sys.readFile
  ts.sys.readFile = function (file, encoding) {
    const text = read.call(this, file, encoding)
    return text !== undefined && file.endsWith('.d.ts') ? stripJsDoc(text) : text
  }
}
