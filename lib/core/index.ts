// lib/core: errors, hashing, atomic files, time, workspace location and progress reporting.
// It imports nothing else of lib.

export * from './errors.js'
export * from './json.js'
export * from './hash.js'
export * from './fs.js'
export * from './time.js'
export * from './workspace.js'
export * from './progress.js'
export * from './random.js'
export * from './lock.js'
export * from './debris.js'
export * from './lineage.js'
export * from './worker-pool.js'
export * from './safe-file.js'
export * from './csv.js'
export * from './sync-http.js'
export * from './parquet-columns.js'
