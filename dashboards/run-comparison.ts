// Dashboard: run comparison — the chosen runs side by side: headline metrics, overlaid equity curves and
// drawdowns, parameters (rows where the runs differ are marked). By default the best backtests by Sharpe.

import { ConfigError } from '../lib/core/index.js'
import { esc, metricDirection, runComparisonHtml, type DashboardDefinition } from '../lib/report/index.js'
import { searchRuns } from '../lib/track/index.js'

export const runComparison: DashboardDefinition = {
  name: 'run-comparison',
  title: 'Run comparison',
  description: 'runs side by side: metrics, equity curves and drawdowns overlaid, parameters',
  params: {
    runs: 'run ids, comma-separated (default: the top backtests by the metric)',
    filter: 'a search filter choosing the runs (default: tags.mtflow.kind = "backtest" and status FINISHED)',
    metric: 'the metric ranking runs (default sharpe)',
    top: 'how many runs (default 5)',
    experiment: 'only runs of this experiment',
  },
  render(context) {
    const p = context.params
    const metric = p.metric ?? 'sharpe'
    const top = p.top === undefined ? 5 : Number(p.top)
    if (!Number.isInteger(top) || top < 1 || top > 50) throw new ConfigError(`top must be an integer from 1 to 50 (received ${p.top})`)
    let ids: string[]
    let how: string
    if (p.runs !== undefined && p.runs.trim() !== '') {
      ids = p.runs.split(',').map((s) => s.trim()).filter((s) => s !== '')
      how = 'the runs given'
    } else {
      const filter = p.filter ?? `tags.\`mtflow.kind\` = "backtest" and attributes.status = "FINISHED" and metrics.${metric} is not null`
      const found = searchRuns(context.tracker, {
        filter,
        // The best first by the metric's direction (maxDrawdown, volatility, fees: the lowest).
        orderBy: [`metrics.\`${metric}\` ${metricDirection(metric) === 'lower' ? 'asc' : 'desc'}`],
        maxResults: top,
        ...(p.experiment === undefined ? {} : { experiments: [p.experiment] }),
      })
      ids = found.runs.map((r) => r.info.runId)
      how = `the top ${ids.length} of ${found.total} runs matching <code>${esc(filter)}</code> by ${esc(metric)}`
    }
    if (ids.length === 0) return { title: 'Run comparison', body: '<p class="muted">No runs to compare yet: run a backtest (mtflow backtest …) or pass runs=ID,ID.</p>', runs: [] }
    const { html } = runComparisonHtml(context.tracker, ids)
    return { title: `Run comparison: ${ids.length} run(s)`, body: `<p>Showing ${how}.</p>\n${html}`, runs: ids }
  },
}
