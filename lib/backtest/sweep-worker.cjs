// A sweep worker thread: TypeScript through tsx's require hook (the same hook the mtflow CLI uses),
// then the worker's loop in sweep-worker.ts.
'use strict'
require('tsx/cjs/api').register()
require('./sweep-worker.ts')
