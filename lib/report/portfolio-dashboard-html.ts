// The portfolio monitoring dashboard as HTML (the bodies of the server's /deployments and /deployments/NAME
// pages): cards, the equity against the backtest replayed over the same window, underwater, positions,
// exposure, slippage per fill, orders by state, alerts. Charts are server-rendered SVG; every text from data
// is escaped (esc / table cells), every link built with seg().

import * as Plot from '@observablehq/plot'
import type { MetricPoint } from '../track/index.js'
import { esc, fmtTime, link, raw, seg, table, type Cell } from './html.js'
import { plotToString } from './plot.js'
import { ORDER_STATES, type DeploymentSnapshot, type PortfolioSnapshot } from './portfolio-dashboard.js'
import { curveChart, underwater } from './runs.js'

/** Fills listed on a deployment's page (the newest). */
const FILLS_SHOWN = 50

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(2)} %` : '—')
const bps = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} bps` : '—')
const num = (x: number) => (Number.isFinite(x) ? x : '—')

function points(key: string, time: ArrayLike<number>, value: ArrayLike<number>): MetricPoint[] {
  return Array.from({ length: time.length }, (_, i) => ({ key, value: value[i]!, step: i, timestamp: time[i]! }))
}

function drawdownPoints(time: ArrayLike<number>, equity: ArrayLike<number>): MetricPoint[] {
  let peak = -Infinity
  return Array.from({ length: time.length }, (_, i) => {
    const e = equity[i]!
    if (e > peak) peak = e
    return { key: 'drawdown', value: peak > 0 ? (peak - e) / peak : 0, step: i, timestamp: time[i]! }
  })
}

function cards(items: readonly [string, string][]): string {
  return `<div class="cards">${items.map(([value, label]) => `<div class="card"><div class="big">${esc(value)}</div>${esc(label)}</div>`).join('')}</div>`
}

function money(x: number): string {
  return Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: 2 }) : '—'
}

/** The combined page: every deployment a row, the sums, the combined equity and exposure per symbol. */
export function portfolioDashboardHtml(p: PortfolioSnapshot, options: { live?: boolean } = {}): string {
  const parts: string[] = ['<h1>Deployments</h1>']
  if (p.rows.length === 0) return `${parts[0]}<p class="muted">No deployments in this workspace yet: mtflow deploy STRATEGY --paper ….</p>`
  // The server's page refreshes while one runs; a published snapshot (live: false) never does.
  if (options.live !== false) parts.push(`<p class="muted">${p.active ? 'Refreshes every 5 s while a deployment runs.' : 'No deployment is running: this page does not refresh.'}</p>`)
  parts.push(
    cards([
      [money(p.totals.equity), 'equity (all deployments)'],
      [money(p.totals.pnl), `P&L (realised ${money(p.totals.realized)}, unrealised ${money(p.totals.unrealized)}, fees ${money(p.totals.fees)})`],
      [money(p.totals.gross), `gross exposure (${pct(p.totals.gross / p.totals.equity)})`],
      [money(p.totals.net), `net exposure (${pct(p.totals.net / p.totals.equity)})`],
      [String(p.rows.filter((r) => r.active).length), `running of ${p.rows.length}`],
    ]),
  )
  parts.push(
    `<div class="scroll">${table(
      ['deployment', 'status', 'mode', 'strategy', 'last bar', 'equity', 'P&L', 'max drawdown', 'tracking error', 'gross exposure', ''],
      p.rows.map((r): Cell[] => [
        link(`/deployments/${seg(r.name)}`, r.name),
        r.state,
        r.mode,
        r.strategy,
        r.lastBar ?? '',
        num(r.equity),
        num(r.pnl),
        pct(r.drawdown),
        pct(r.trackingError),
        num(r.gross),
        r.error ?? '',
      ]),
    )}</div>`,
  )
  if (p.time.length >= 2) {
    parts.push(`<div class="charts"><div class="chart"><h3>Combined equity</h3>${curveChart([{ label: 'equity', points: points('equity', p.time, p.equity) }], { ariaLabel: 'combined equity', y: 'equity', width: 760, height: 260 })}</div></div>`)
    parts.push('<p class="muted">Before its first bar a deployment counts its starting capital, after its last bar its last equity.</p>')
  }
  parts.push('<h2>Exposure per symbol</h2>')
  parts.push(p.perSymbol.length === 0 ? '<p class="muted">No open positions.</p>' : table(['symbol', 'notional', '% of equity', 'deployments'], p.perSymbol.map((s) => [s.symbol, s.notional, pct(s.notional / p.totals.equity), s.deployments.join(', ')])))
  return parts.join('\n')
}

/** One deployment's page. */
export function deploymentDashboardHtml(s: DeploymentSnapshot): string {
  const st = s.status
  const parts: string[] = [`<h1>Deployment ${esc(s.name)}</h1>`]
  parts.push(
    `<p><span class="state state-${esc(st.state)}">${esc(st.state)}</span>${st.reason === undefined ? '' : ` — ${esc(st.reason)}`}</p>`,
    `<p class="muted">${esc(st.mode)} · ${esc(st.strategy)} · ${esc(st.symbols.join(', '))} ${esc(st.timeframe)} · ${esc(st.exchange)} · started ${esc(st.startedAt)} · last bar ${esc(st.lastBar ?? '—')} · ${esc(st.bars)} bars${st.runId === undefined ? '' : ` · run ${link(`/runs/${seg(st.runId)}`, st.runId.slice(0, 8)).html}`} · ${link('/deployments', 'all deployments').html}</p>`,
  )
  const equityNow = s.startingCash + s.pnl.total
  parts.push(
    cards([
      [money(equityNow), `equity (started with ${money(s.startingCash)})`],
      [money(s.pnl.total), `P&L (realised ${money(s.pnl.realized)}, unrealised ${money(s.pnl.unrealized)}, fees ${money(s.pnl.fees)})`],
      [pct(s.drawdown), 'max drawdown'],
      [money(s.exposure.gross), `gross exposure (${pct(s.exposure.grossPct)}); net ${money(s.exposure.net)} (${pct(s.exposure.netPct)})`],
      [s.replay === undefined ? '—' : pct(s.replay.trackingError), 'tracking error vs the backtest replay (annualised)'],
      [bps(s.slippage.meanBps), `mean slippage vs the fill model over ${s.slippage.count} fills (worst ${bps(s.slippage.worstBps)})`],
    ]),
  )

  parts.push('<h2>Equity</h2>')
  const charts: string[] = []
  if (s.time.length >= 2) {
    const series = [{ label: 'deployment', points: points('deployment', s.time, s.equity) }]
    if (s.replay !== undefined) series.push({ label: 'backtest replay', points: points('replay', s.replay.time, s.replay.equity) })
    charts.push(`<div class="chart"><h3>Equity against the backtest replayed over the same window</h3>${curveChart(series, { ariaLabel: 'equity against the backtest replay', y: 'equity', width: 760, height: 280 })}</div>`)
    charts.push(`<div class="chart"><h3>Underwater</h3>${curveChart([{ label: 'drawdown', points: underwater(drawdownPoints(s.time, s.equity)) }], { ariaLabel: 'underwater', y: 'drawdown', percent: true, width: 560, height: 220 })}</div>`)
  }
  parts.push(charts.length === 0 ? '<p class="muted">No equity yet.</p>' : `<div class="charts">${charts.join('')}</div>`)
  parts.push(`<p class="muted">Equity ${esc(s.equitySource)}.</p>`)
  if (s.replay !== undefined) {
    const r = s.replay
    parts.push(
      table(
        ['replay', 'value'],
        [
          ['tracking error (annualised sd of bar-return differences)', pct(r.trackingError)],
          ['final equity: deployment − replay', num(r.finalDifference)],
          ['final equity difference', pct(r.finalDifferencePct)],
          ['points compared', r.time.length],
          ['replay trades', r.replayTrades],
        ],
      ),
    )
  } else if (s.replayError !== undefined) parts.push(`<div class="error-box" role="alert">${esc(s.replayError)}</div>`)

  parts.push('<h2>Positions</h2>')
  parts.push(
    s.positions.length === 0
      ? '<p class="muted">No fills yet.</p>'
      : table(
          ['symbol', 'qty', 'avg price', 'mark', 'notional', '% of equity', 'unrealised P&L', 'realised P&L', 'fees'],
          s.positions.map((p) => [p.symbol, p.qty, num(p.avgPrice), num(p.mark), p.notional, pct(p.notional / equityNow), p.unrealized, p.realized, p.fees]),
        ),
  )

  parts.push('<h2>Slippage per fill against the fill model</h2>')
  parts.push(`<p class="muted">Expected: the bar's open for a market order, the open or the stop for a stop (the model's ${esc(s.config.fills?.slippageBps ?? 0)} bps added), the open or the limit for a limit. Positive bps are worse for the trader than the model.</p>`)
  const measured = s.fills.filter((f) => Number.isFinite(f.slippageBps)).map((f) => ({ bps: f.slippageBps }))
  if (measured.length > 0) {
    parts.push(
      `<div class="chart"><h3>Slippage (bps)</h3>${plotToString({
        ariaLabel: 'slippage histogram',
        width: 560,
        height: 200,
        style: { fontSize: '11px', background: 'white' },
        x: { label: 'bps against the trader' },
        y: { label: 'fills', grid: true },
        marks: [Plot.rectY(measured, Plot.binX({ y: 'count' }, { x: 'bps' })), Plot.ruleY([0])],
      })}</div>`,
    )
  }
  const fills = s.fills.slice(-FILLS_SHOWN).reverse()
  parts.push(
    fills.length === 0
      ? '<p class="muted">No fills.</p>'
      : `<div class="scroll">${table(
          ['time', 'order', 'symbol', 'side', 'kind', 'role', 'qty', 'price', 'model reference', 'model expected', 'slippage (bps)', 'fee'],
          fills.map((f) => [fmtTime(f.time), f.clientOrderId, f.symbol, f.side, f.kind, f.role, f.qty, f.price, num(f.reference), num(f.expected), Number.isFinite(f.slippageBps) ? raw(`<span class="num">${esc(f.slippageBps.toFixed(2))}</span>`) : '—', f.fee]),
          { caption: `the latest ${fills.length} of ${s.fills.length} fills` },
        )}</div>`,
  )

  parts.push('<h2>Orders</h2>')
  parts.push(table(['state', 'orders'], ORDER_STATES.filter((k) => s.orders.counts[k] > 0).map((k) => [k, s.orders.counts[k]])))
  parts.push(
    s.orders.latest.length === 0
      ? '<p class="muted">No orders.</p>'
      : `<div class="scroll">${table(
          ['#', 'order', 'time', 'symbol', 'side', 'kind', 'role', 'qty', 'limit/stop', 'filled', 'avg price', 'state', 'reason'],
          s.orders.latest.map((o) => [o.seq, o.clientOrderId, fmtTime(o.time), o.symbol, o.side, o.kind, o.role, o.qty, o.price ?? '', o.filled, num(o.avgPrice), o.state, o.reason ?? '']),
          { caption: `the latest ${s.orders.latest.length} of ${s.orders.total} orders` },
        )}</div>`,
  )

  parts.push('<h2>Alerts</h2>')
  parts.push(s.alerts.length === 0 ? '<p class="muted">No alerts.</p>' : table(['time', 'alert'], s.alerts.map((a) => [a.time, a.text]), { caption: `the latest ${s.alerts.length} of ${s.alertCount}` }))
  if (s.notes.length > 0) parts.push(`<ul class="muted">${s.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`)
  return parts.join('\n')
}
