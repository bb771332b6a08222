// Dashboard: the portfolio — every deployment combined (equity, P&L, exposure per symbol, tracking error
// against the backtest replayed over its window) and each deployment's own section, as a static snapshot
// (the server's /deployments pages are the live, refreshing view of the same numbers).

import { portfolioDashboardHtml, deploymentDashboardHtml } from '../lib/report/portfolio-dashboard-html.js'
import { portfolioSnapshot } from '../lib/report/portfolio-dashboard.js'
import type { DashboardDefinition } from '../lib/report/index.js'

export const portfolioDashboard: DashboardDefinition = {
  name: 'portfolio',
  title: 'Portfolio',
  description: 'deployments: positions, exposure, P&L, equity against the backtest replay, slippage, orders, alerts',
  params: {},
  async render(context) {
    const p = await portfolioSnapshot(context.home)
    const sections = p.deployments.map((d) => `<hr>${deploymentDashboardHtml(d)}`)
    // The deployments' tracked runs that are in the workspace (a run deleted since is not linked).
    const runs = p.deployments.flatMap((d) => {
      const id = d.status.runId
      if (id === undefined) return []
      try {
        context.tracker.getRun(id)
        return [id]
      } catch {
        return []
      }
    })
    return { title: 'Portfolio', body: [portfolioDashboardHtml(p, { live: false }), ...sections].join('\n'), runs }
  },
}
