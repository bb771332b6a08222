// A scoring worker thread: TypeScript through tsx's require hook (as the mtflow CLI and the forest
// workers load it), then the one-job loop in score-worker.ts.
'use strict'
require('tsx/cjs/api').register()
require('./score-worker.ts')
