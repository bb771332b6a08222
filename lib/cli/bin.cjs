#!/usr/bin/env node
// The `mtflow` executable (package.json "bin"). It loads the TypeScript CLI through tsx's require hook:
// ~40 ms, where tsx's ESM loader (a loader thread) costs ~200 ms on every command.
'use strict'

// `mtflow data list | head`: a closed pipe ends the command quietly, as in any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(0)
    throw error
  })
}

require('../core/loader.cjs') // tsx's require hook, lib's exports as plain properties (loader.cjs says why)
// `import … from 'mtflow'` in a strategy file anywhere resolves to this project's lib.
require('./alias.cjs')
require('./main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code
  })
