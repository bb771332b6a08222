// Features: pair features, factors, labels and the leakage guard.

export * from './lookahead.js'
