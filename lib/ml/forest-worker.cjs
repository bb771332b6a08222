// A forest worker thread: TypeScript through tsx's require hook (as the mtflow CLI and the sweep
// workers load it), then the loop in forest-worker.ts.
'use strict'
require('../core/loader.cjs')
require('./forest-worker.ts')
