// The mtflow engine: everything a notebook, the CLI or the server calls.
// Notebooks: import { … } from '../lib/index.js'

export * from './core/index.js'
export * from './data/index.js'
export * from './indicators/index.js'
export * from './features/index.js'
export * from './report/index.js'
export * from './stats/index.js'
export * from './strategy/index.js'
export * from './backtest/index.js'
export * from './track/index.js'
export * from './ml/index.js'
export * from './tune/index.js'
