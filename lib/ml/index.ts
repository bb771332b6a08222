// lib/ml: datasets, time-series cross-validation, models, metrics and model packaging.

export * from './split.js'
export * from './metrics.js'
export * from './dataset.js'
export * from './tree.js'
