// The bare specifier `mtflow` for code mtflow runs (the CLI, job threads, `strategy test`): a strategy
// file anywhere on the machine imports `{ defineStrategy, … } from 'mtflow'` and gets this project's
// lib/index.ts; `mtflow/lib/…` names one of its files. Installed once per process, before any user code.
'use strict'

const Module = require('node:module')
const path = require('node:path')

const LIB = path.join(__dirname, '..')
const INSTALLED = Symbol.for('mtflow.alias')

/** The file a `mtflow` or `mtflow/lib/…` specifier names, or undefined for any other specifier. */
function aliasTarget(request) {
  if (request === 'mtflow') return path.join(LIB, 'index.ts')
  if (!request.startsWith('mtflow/lib/')) return undefined
  const rest = request.slice('mtflow/lib/'.length)
  // Only plain paths under lib/ (no `..`): the alias cannot reach outside the library.
  if (rest === '' || rest.split('/').some((s) => s === '' || s === '.' || s === '..')) return undefined
  return path.join(LIB, ...rest.split('/'))
}

if (Module[INSTALLED] !== true) {
  Module[INSTALLED] = true
  const resolve = Module._resolveFilename
  Module._resolveFilename = function (request, parent, ...rest) {
    const target = typeof request === 'string' ? aliasTarget(request) : undefined
    return resolve.call(this, target === undefined ? request : target, parent, ...rest)
  }
}

module.exports = { aliasTarget }
