// lib/ml: datasets, time-series cross-validation, models, metrics and model packaging.

export * from './model.js'
export * from './split.js'
export * from './metrics.js'
export * from './dataset.js'
export { binFeatures, type Binned } from './cart.js'
export * from './tree.js'
export * from './forest.js'
export * from './gbt.js'
export * from './package.js'
export * from './router.js'
export * from './linear.js'
export * from './families.js'
