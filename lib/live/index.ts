// lib/live: deployments — paper and live trading with the backtest's engine (DESIGN: MarketFeed, Venue,
// Clock, the order journal, reconciliation, guards). So far: the durable order journal.

export * from './journal.js'
