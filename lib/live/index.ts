// lib/live: deployments — paper and live trading with the backtest's engine (DESIGN: MarketFeed, Venue,
// Clock, the order journal, reconciliation, guards). So far: the durable order journal, the clocks and the
// replay feed. The plan for the rest is lib/live/PLAN.md.

export * from './journal.js'
export * from './feed.js'
export * from './session.js'
export * from './venue.js'
export * from './sim-venue.js'
