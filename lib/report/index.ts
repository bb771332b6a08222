// lib/report: charts and reports (Observable Plot rendered server-side).

export * from './plot.js'
