// lib/track: experiment tracking (runs, params, metrics with history, tags, artifacts, lineage, search)
// and the registry (strategies, models, notebooks, dashboards). Imports only lib/core.

export * from './types.js'
export * from './store.js'
export * from './filter.js'
export * from './search.js'
export * from './lifecycle.js'
export * from './registry.js'
export * from './steps.js'
export { appendRecords, readRecords } from './jsonl.js'
export * from './promotion.js'
export * from './remote.js'
export * from './run-tables.js'
