// lib/monitor: drift and performance monitors, the rules that turn them into triggers and alerts, and the
// alert sinks.

export * from './drift.js'
export * from './performance.js'
export * from './rules.js'
export * from './alerts.js'
