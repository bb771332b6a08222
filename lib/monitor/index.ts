// lib/monitor: drift and performance monitors, and the rules that turn them into triggers and alerts.

export * from './drift.js'
