// A tuning worker thread: TypeScript through tsx's require hook (as the sweep workers), then the
// worker's loop in tune-worker.ts.
'use strict'
require('../core/loader.cjs')
require('../cli/alias.cjs') // `import … from 'mtflow'` in the objectives and strategies tuning loads
require('./tune-worker.ts')
