// The loader every CommonJS entry of mtflow starts with (the CLI, job/tuning/forest/scoring threads,
// `mtflow strategy test`): tsx's require hook for TypeScript, and plain exports for lib's modules.
//
// Why the second part: tsx's require hook compiles each .ts file with esbuild to CommonJS, whose
// exports are getters (`__export(...)` then `__toCommonJS`, which wraps each in another getter reading
// `from[key]`). A call such as `positive(d)` inside a kernel's loop becomes `import_primitives.positive(d)`
// — two getter calls and a megamorphic keyed load per call that V8 does not inline. Under this hook alone
// rsi, atr and adx ran several times slower than under ESM (`npm run bench`, indicators group: the rows
// per loader, test/bench/README.md). So once a lib module has finished loading, its exports object is replaced by one with data
// properties holding the same values: later `require`s (and the importing modules, which require after
// it finished) read plain properties.
//
// When the values can be taken: lib exports no `let` or `var` binding (a test holds to that), so a module's own
// exports are final once its body has run. Re-exports (`export * from`, `export { x } from`) read
// another module, final only if that module has finished too: the exports are replaced only when the
// module and everything it required, transitively, have finished loading. In an import cycle the
// module that finishes first keeps its getters (correct, only slower); any read that throws (a binding
// still in its temporal dead zone) leaves the getters in place as well.
'use strict'

const Module = require('node:module')
const { sep } = require('node:path')

const LIB = __dirname.slice(0, -'/core'.length) + sep

/**
 * Replace the getter exports of modules under `root` (a directory path ending with the separator) by
 * data properties once they and their requirements have loaded. Returns nothing; installs once per root.
 */
function installPlainExports(root) {
  const roots = (Module.prototype._compile.__mtflowPlainExportRoots ??= [])
  if (roots.includes(root)) return
  roots.push(root)
  if (roots.length > 1) return
  const compile = Module.prototype._compile
  const finished = new WeakSet()
  /**
   * Whether everything `module` required, transitively, has finished loading (`module` itself aside).
   * Nothing is cached until the whole walk has succeeded: in a cycle, a module reached through another
   * still being checked is not "finished" on that account.
   */
  const settled = (module) => {
    const seen = new Set([module])
    const stack = [module]
    while (stack.length > 0) {
      for (const child of stack.pop().children) {
        if (finished.has(child) || seen.has(child)) continue
        if (!child.loaded) return false
        seen.add(child)
        stack.push(child)
      }
    }
    seen.delete(module)
    for (const m of seen) finished.add(m)
    return true
  }
  const patched = function (content, filename) {
    const result = compile.call(this, content, filename)
    if (/\.[cm]?ts$/.test(filename) && !filename.includes(`${sep}node_modules${sep}`) && roots.some((r) => filename.startsWith(r))) {
      const plain = plainCopy(this.exports)
      if (plain !== undefined && settled(this)) this.exports = plain
    }
    return result
  }
  patched.__mtflowPlainExportRoots = roots
  Module.prototype._compile = patched
}

/** The exports as data properties, or undefined when they have no getters or one cannot be read yet. */
function plainCopy(exports) {
  if (exports === null || typeof exports !== 'object') return undefined
  const keys = Object.keys(exports)
  let getters = false
  for (const key of keys) {
    const d = Object.getOwnPropertyDescriptor(exports, key)
    if (d !== undefined && d.get !== undefined) {
      getters = true
      break
    }
  }
  if (!getters) return undefined
  const plain = {}
  if (exports.__esModule === true) Object.defineProperty(plain, '__esModule', { value: true })
  try {
    for (const key of keys) plain[key] = exports[key]
  } catch {
    return undefined
  }
  // Read-only, as the getters were (and as an ES module's namespace is): no caller can swap a function out
  // for every other caller in the process.
  return Object.freeze(plain)
}

require('tsx/cjs/api').register()
installPlainExports(LIB)

module.exports = { installPlainExports, LIB }
