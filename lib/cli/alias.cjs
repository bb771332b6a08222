// The bare specifier `mtflow` for code mtflow runs (the CLI, job threads, `strategy test`), installed
// before any user code: lib/core/module-alias.ts (the loaders of strategy and objective files install it
// too). Required after tsx's hook is registered.
'use strict'

const alias = require('../core/module-alias.ts')
alias.installMtflowAlias()

module.exports = { aliasTarget: alias.aliasTarget }
