// lib/live: deployments — paper and live trading with the backtest's engine (DESIGN: MarketFeed, Venue,
// Clock, the order journal, reconciliation, guards). The exchange adapters (ccxt-venue.ts, ccxt-feed.ts,
// live-bars.ts, credentials.ts) load ccxt and are imported where they are needed, not from here.

export * from './journal.js'
export * from './feed.js'
export * from './session.js'
export * from './venue.js'
export * from './sim-venue.js'
export * from './config.js'
export * from './guards.js'
export * from './weights-file.js'
export * from './reconcile.js'
export * from './deployment.js'
