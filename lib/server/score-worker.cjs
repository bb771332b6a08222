// A scoring worker thread: TypeScript through tsx's require hook (as the mtflow CLI and the forest
// workers load it), then the one-job loop in score-worker.ts.
'use strict'
require('../core/loader.cjs')
require('./score-worker.ts')
