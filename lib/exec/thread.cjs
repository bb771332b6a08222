// A job thread: TypeScript through tsx's require hook (the hook the mtflow CLI uses), then thread.ts.
'use strict'
require('../core/loader.cjs')
require('../cli/alias.cjs') // `import … from 'mtflow'` in the strategies and objectives jobs load
require('./thread.ts')
