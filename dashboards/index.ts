// The dashboards mtflow ships: `mtflow dashboard publish NAME` renders one and saves the snapshot as a
// registry version; the server shows the latest or any version.

import type { DashboardDefinition } from '../lib/report/index.js'
import { dataCoverage } from './data-coverage.js'
import { portfolioDashboard } from './portfolio.js'
import { runComparison } from './run-comparison.js'
import { strategyPage } from './strategy.js'

export const DASHBOARDS: readonly DashboardDefinition[] = [runComparison, strategyPage, dataCoverage, portfolioDashboard]

export { dataCoverage, portfolioDashboard, runComparison, strategyPage }
