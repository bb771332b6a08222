// lib/strategy: the Strategy contract, parameter spaces, the built-in strategies and the loader.

export * from './types.js'
export * from './params.js'
export * from './builtin/index.js'
export * from './load.js'
export * from './registered.js'
export * from './bundle.js'
export * from './signals.js'
export { eachSymbol } from './builtin/common.js'
export * from './job-ref.js'
