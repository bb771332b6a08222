// A forest worker thread: TypeScript through tsx's require hook (as the mtflow CLI and the sweep
// workers load it), then the loop in forest-worker.ts.
'use strict'
require('tsx/cjs/api').register()
require('./forest-worker.ts')
