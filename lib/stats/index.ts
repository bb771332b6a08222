// Statistics: unit-root and cointegration tests, least squares, the normal distribution,
// performance metrics and drift tests.

export * from './adf.js'
export * from './normal.js'
export * from './ols.js'
export * from './drift.js'
export * from './metrics.js'
export * from './overfit.js'
