// lib/report: charts and reports (Observable Plot rendered server-side), HTML building blocks, run
// comparisons and the dashboard contract.

export * from './plot.js'
export * from './html.js'
export * from './runs.js'
export * from './dashboard.js'
export * from './tearsheet.js'
export * from './tearsheet-inputs.js'
export * from './metric-units.js'
export * from './sweep-grid.js'
export * from './sweep-charts.js'
