// Features: pair features, factors, labels, pair screening and the leakage guard.

export * from './factors.js'
export * from './labels.js'
export * from './lookahead.js'
export * from './pairs.js'
export * from './screen.js'
