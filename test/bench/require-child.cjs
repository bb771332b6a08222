// Runs a benchmark child the way the mtflow CLI runs (lib/cli/bin.cjs): TypeScript through tsx's
// require hook, not `--import tsx`. On Node 20 the ESM loader's hooks run on a loader thread that
// talks to this one by transferring ArrayBuffers, and the first detached buffer disables V8's
// "no ArrayBuffer was ever detached" assumption for the whole process: every typed-array read in
// every hot loop then re-checks its buffer (~25 % on the backtest kernels, seen in their optimized
// code). Usage: node require-child.cjs CHILD.ts [args…]; the child exports main(args): Promise<string>.
'use strict'
// As lib/cli/bin.cjs: lib/core/loader.cjs (tsx's hook and lib's exports as plain properties); with
// MTFLOW_BENCH_TSX_ONLY=1, tsx's hook alone (the loader before, for the indicator rows per loader).
if (process.env.MTFLOW_BENCH_TSX_ONLY === '1') require('tsx/cjs/api').register()
else require('../../lib/core/loader.cjs')
const [file, ...args] = process.argv.slice(2)
require(require('node:path').resolve(file))
  .main(args)
  .then((out) => process.stdout.write(out))
  .catch((error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`)
    process.exitCode = 1
  })
