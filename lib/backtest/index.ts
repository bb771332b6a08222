// lib/backtest: the event-driven engine (simulated exchange, order manager, portfolio), results and
// exports, the vectorized engine, sweeps and portfolio backtests.

export * from './backtest.js'
export * from './orders.js'
export * from './portfolio.js'
export * from './results.js'
export * from './sim-exchange.js'
export * from './vector.js'
export type { FillRecord, TradeRecord } from './engine.js'
export * from './sweep.js'
export * from './weights.js'
export * from './tracking.js'
export * from './parity.js'
export { barsOf, seriesOf } from './series.js'
