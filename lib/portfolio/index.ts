// lib/portfolio: signals → target positions under risk caps → orders; weights from files or results;
// production configs for `mtflow deploy --weights`. The orders file itself is lib/live/orders-file.ts
// (a deployment reads it).

export * from './signals.js'
export * from './caps.js'
export * from './targets.js'
export * from './market.js'
export * from './weights.js'
export * from './positions.js'
export { MARKET_SYMBOL, readTextFile } from './text-file.js'
