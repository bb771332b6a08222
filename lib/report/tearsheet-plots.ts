// The tearsheet page: metric tables and Observable Plot charts (rendered server-side to SVG) of a
// Tearsheet, in one self-contained HTML document. Only numbers and dates go into the charts; names from the data (symbols, tags, the benchmark)
// appear as escaped text in headings, legends and tables.

import * as Plot from '@observablehq/plot'
import { DataError } from '../core/index.js'
import { esc, raw, STYLESHEET, table, type Cell } from './html.js'
import { plotToString } from './plot.js'
import { decimateIndices, type DrawdownPeriod, type TradeGroup } from './tearsheet-metrics.js'
import type { Tearsheet, TearsheetMetrics } from './tearsheet.js'

const WIDTH = 760
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const STYLE = { fontSize: '11px', background: 'white' }

function chart(id: string, heading: string, svg: string): string {
  return `<div class="chart" id="${id}"><h3>${heading}</h3>${svg}</div>`
}

/** Points of a daily series worth drawing at the chart's width (extremes kept). */
function thin(time: number[], values: number[]): { x: Date; y: number }[] {
  return decimateIndices(values, WIDTH).map((i) => ({ x: new Date(time[i]!), y: values[i]! }))
}

function dayDate(iso: string): Date {
  return new Date(`${iso}T00:00:00Z`)
}

function cumulativeChart(sheet: Tearsheet, shade: readonly DrawdownPeriod[], label: string): string {
  const rows: { x: Date; y: number; series: string }[] = thin(sheet.series.time, sheet.series.cumulative).map((p) => ({ ...p, series: 'strategy' }))
  const bench = sheet.benchmarkSeries
  // The legend's names: the strategy first (blue), the benchmark second (grey), whatever the benchmark is called.
  const benchName = sheet.benchmark === null ? '' : sheet.benchmark.name === 'strategy' ? 'strategy (benchmark)' : sheet.benchmark.name
  if (bench !== null && sheet.benchmark !== null) for (const p of thin(bench.time, bench.cumulative)) rows.push({ ...p, series: benchName })
  const end = new Date(sheet.series.time[sheet.series.time.length - 1]!)
  const bands = shade.map((d) => ({ x1: dayDate(d.start), x2: d.recovery === null ? end : dayDate(d.recovery) }))
  return plotToString({
    ariaLabel: label,
    width: WIDTH,
    height: 300,
    marginLeft: 56,
    style: STYLE,
    x: { type: 'utc', label: null },
    y: { grid: true, percent: true, label: 'cumulative return (%)' },
    color: bench !== null ? { legend: true, type: 'categorical', domain: ['strategy', benchName], range: ['steelblue', '#999'] } : undefined,
    marks: [
      ...(bands.length > 0 ? [Plot.rect(bands, { x1: 'x1', x2: 'x2', fill: '#d62728', fillOpacity: 0.12 })] : []),
      Plot.ruleY([0]),
      Plot.line(rows, { x: 'x', y: 'y', z: 'series', stroke: bench !== null ? 'series' : 'steelblue', strokeWidth: 1.3 }),
    ],
  })
}

function underwaterChart(sheet: Tearsheet): string {
  return plotToString({
    ariaLabel: 'underwater',
    width: WIDTH,
    height: 200,
    marginLeft: 56,
    style: STYLE,
    x: { type: 'utc', label: null },
    y: { grid: true, percent: true, label: 'drawdown (%)' },
    marks: [Plot.areaY(thin(sheet.series.time, sheet.series.drawdown), { x: 'x', y: 'y', fill: '#d62728', fillOpacity: 0.35 }), Plot.ruleY([0])],
  })
}

function heatmapChart(sheet: Tearsheet): string {
  const cells: { month: string; year: string; value: number }[] = []
  for (const row of sheet.monthly) row.months.forEach((v, m) => v !== null && cells.push({ month: MONTHS[m]!, year: String(row.year), value: v }))
  const extent = Math.max(1e-9, ...cells.map((c) => Math.abs(c.value)))
  return plotToString({
    ariaLabel: 'monthly returns heatmap',
    width: WIDTH,
    height: 40 + 28 * sheet.monthly.length,
    marginLeft: 48,
    style: STYLE,
    x: { domain: MONTHS, label: null },
    y: { type: 'band', domain: sheet.monthly.map((r) => String(r.year)), label: null },
    color: { type: 'diverging', scheme: 'RdYlGn', domain: [-extent, extent] },
    marks: [
      Plot.cell(cells, { x: 'month', y: 'year', fill: 'value', inset: 0.5 }),
      Plot.text(cells, { x: 'month', y: 'year', text: (d: { value: number }) => (d.value * 100).toFixed(1), fontSize: 10 }),
    ],
  })
}

function yearlyChart(sheet: Tearsheet): string {
  const rows = sheet.yearly.map((y) => ({ year: String(y.year), value: y.return }))
  return plotToString({
    ariaLabel: 'yearly returns',
    width: WIDTH,
    height: 220,
    marginLeft: 56,
    style: STYLE,
    x: { type: 'band', label: null },
    y: { grid: true, percent: true, label: 'return (%)' },
    marks: [Plot.barY(rows, { x: 'year', y: 'value', fill: (d: { value: number }) => (d.value >= 0 ? '#1b7f3b' : '#b3261e') }), Plot.ruleY([0])],
  })
}

function rollingChart(sheet: Tearsheet, key: 'sharpe' | 'volatility'): string {
  const roll = sheet.rolling
  return plotToString({
    ariaLabel: `rolling ${key}`,
    width: WIDTH,
    height: 200,
    marginLeft: 56,
    style: STYLE,
    x: { type: 'utc', label: null },
    y: key === 'volatility' ? { grid: true, percent: true, label: 'volatility (%)' } : { grid: true, label: 'Sharpe' },
    marks: [Plot.ruleY([0]), Plot.line(thin(roll.time, roll[key]), { x: 'x', y: 'y', stroke: key === 'sharpe' ? 'steelblue' : '#9467bd' })],
  })
}

function histogramChart(sheet: Tearsheet): string {
  const h = sheet.histogram
  const bins = h.counts.map((count, i) => ({ x1: h.edges[i]! * 100, x2: h.edges[i + 1]! * 100, count }))
  return plotToString({
    ariaLabel: 'daily returns distribution',
    width: WIDTH,
    height: 220,
    marginLeft: 56,
    style: STYLE,
    x: { label: 'daily return (%)' },
    y: { grid: true, label: 'days' },
    marks: [Plot.rectY(bins, { x1: 'x1', x2: 'x2', y: 'count', fill: 'steelblue', insetLeft: 0.5, insetRight: 0.5 }), Plot.ruleY([0]), Plot.ruleX([0], { stroke: '#999' })],
  })
}

/** Markers drawn at most (each one a DOM node in the SVG; 10,000 of them take most of a page's rendering). */
const MAX_MARKS = 1000

function priceChart(prices: NonNullable<Tearsheet['prices']>, every: number): string {
  const line = prices.time.map((t, i) => ({ x: new Date(t), y: prices.close[i]! }))
  const marks = prices.marks.filter((m) => m.trade % every === 0).map((m) => ({ x: new Date(m.time), y: m.price, kind: m.kind === 'entry' ? `entry ${m.direction === 'short' ? 'short' : 'long'}` : 'exit' }))
  return plotToString({
    ariaLabel: 'price and trades',
    width: WIDTH,
    height: 300,
    marginLeft: 64,
    style: STYLE,
    x: { type: 'utc', label: null },
    y: { grid: true, label: 'price' },
    color: { legend: true, domain: ['entry long', 'entry short', 'exit'], range: ['#1b7f3b', '#b3261e', '#333'] },
    symbol: { domain: ['entry long', 'entry short', 'exit'], range: ['triangle', 'triangle', 'times'] },
    marks: [Plot.line(line, { x: 'x', y: 'y', stroke: '#999', strokeWidth: 1 }), Plot.dot(marks, { x: 'x', y: 'y', stroke: 'kind', symbol: 'kind', r: 3.5 })],
  })
}

/**
 * A fraction as a percentage with 2 decimals ("-12.34 %"); null as "–". Negative numbers keep the ASCII
 * minus on every page (the run page's and the tearsheet's alike): a number copied into Python or a
 * spreadsheet parses, where "−12.34" (U+2212) does not.
 */
export function fmtPercent(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–'
  return `${(v * 100).toFixed(2)} %`
}

/** A ratio with 2 decimals; null as "–". */
export function fmtRatio(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–'
  return v.toFixed(2)
}

type Format = 'percent' | 'ratio' | 'days' | 'text'

const ROWS: [string, keyof TearsheetMetrics, Format][] = [
  ['Cumulative return', 'totalReturn', 'percent'],
  ['CAGR', 'cagr', 'percent'],
  ['Volatility (ann.)', 'volatility', 'percent'],
  ['Sharpe', 'sharpe', 'ratio'],
  ['Probabilistic Sharpe', 'probabilisticSharpe', 'percent'],
  ['Deflated Sharpe', 'deflatedSharpe', 'percent'],
  ['Sortino', 'sortino', 'ratio'],
  ['Calmar', 'calmar', 'ratio'],
  ['Omega', 'omega', 'ratio'],
  ['Max drawdown', 'maxDrawdown', 'percent'],
  ['Longest drawdown (days)', 'longestDrawdownDays', 'days'],
  ['Recovery factor', 'recoveryFactor', 'ratio'],
  ['Skew', 'skew', 'ratio'],
  ['Kurtosis (excess)', 'kurtosis', 'ratio'],
  ['Daily VaR 95 % (normal)', 'valueAtRisk', 'percent'],
  ['Daily CVaR 95 % (below normal VaR)', 'conditionalValueAtRisk', 'percent'],
  ['Daily VaR 95 % (historical)', 'historicalValueAtRisk', 'percent'],
  ['Daily CVaR 95 % (historical)', 'historicalConditionalValueAtRisk', 'percent'],
  ['Tail ratio', 'tailRatio', 'ratio'],
  ['Payoff ratio (days)', 'payoffRatio', 'ratio'],
  ['Profit factor (days)', 'profitFactor', 'ratio'],
  ['Win days', 'winRateDay', 'percent'],
  ['Win months', 'winRateMonth', 'percent'],
  ['Win years', 'winRateYear', 'percent'],
  ['Best day', 'bestDay', 'percent'],
  ['Worst day', 'worstDay', 'percent'],
  ['Best month', 'bestMonth', 'percent'],
  ['Worst month', 'worstMonth', 'percent'],
  ['Best year', 'bestYear', 'percent'],
  ['Worst year', 'worstYear', 'percent'],
]

function fmt(v: unknown, format: Format): Cell {
  if (format === 'percent') return fmtPercent(v as number | null)
  if (format === 'ratio') return fmtRatio(v as number | null)
  if (format === 'days') return v === null || v === undefined ? '–' : String(v)
  return String(v ?? '–')
}

/** Right-aligned, coloured by sign. */
function signed(v: number | null, format: 'percent' | 'ratio' = 'percent'): Cell {
  const text = format === 'percent' ? fmtPercent(v) : fmtRatio(v)
  const cls = v === null ? '' : v > 0 ? ' pos' : v < 0 ? ' neg' : ''
  return raw(`<span class="num${cls}">${esc(text)}</span>`)
}

function metricsTable(sheet: Tearsheet): string {
  const b = sheet.benchmark
  const benchValues: Partial<Record<keyof TearsheetMetrics, number | null>> = b === null ? {} : { totalReturn: b.totalReturn, cagr: b.cagr, volatility: b.volatility, sharpe: b.sharpe, maxDrawdown: b.maxDrawdown }
  const rows: Cell[][] = ROWS.map(([label, key, format]) => {
    const row: Cell[] = [label, fmt(sheet.metrics[key], format)]
    if (b !== null) row.push(key in benchValues ? fmt(benchValues[key], format) : '')
    return row
  })
  const dd = sheet.metrics.maxDrawdownPeriod
  if (dd !== null) rows.splice(10, 0, ['Max drawdown dates', `${dd.start} → ${dd.trough} → ${dd.recovery ?? 'not recovered'}`, ...(b === null ? [] : [''])])
  if (b !== null) {
    rows.push(['Beta', fmtRatio(b.beta), ''], ['Alpha (ann.)', fmtPercent(b.alpha), ''], ['Correlation', fmtPercent(b.correlation), ''])
  }
  return table(['metric', 'strategy', ...(b === null ? [] : [`benchmark: ${b.name}`])], rows, { className: 'metrics' })
}

function monthlyTable(sheet: Tearsheet): string {
  const rows = sheet.monthly.map((r) => [String(r.year), ...r.months.map((v) => (v === null ? '' : signed(v))), signed(r.total)])
  return table(['year', ...MONTHS, 'year'], rows, { className: 'heat' })
}

function drawdownTable(periods: readonly DrawdownPeriod[]): string {
  if (periods.length === 0) return '<p class="muted">No drawdown: the curve never fell below a previous high.</p>'
  return table(
    ['start', 'trough', 'end', 'recovered', 'depth', 'days'],
    periods.map((d) => [d.start, d.trough, d.end, d.recovery ?? 'not yet', signed(-d.depth), d.days]),
  )
}

/** An amount with 2 decimals, thousands grouped; "–" when undefined (the mean P&L of no closed trade was "NaN"). */
function money(v: number): Cell {
  if (!Number.isFinite(v)) return '–'
  return raw(`<span class="num">${esc(v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }))}</span>`)
}

function tradeTable(label: string, groups: readonly TradeGroup[]): string {
  return table(
    [label, 'trades', 'wins', 'losses', 'win rate', 'P&L', 'avg P&L', 'avg return', 'profit factor', 'payoff'],
    groups.map((g) => [g.key === '' ? '(none)' : g.key, g.trades, g.wins, g.losses, fmtPercent(g.winRate), money(g.pnl), money(g.avgPnl), fmtPercent(g.avgReturn), fmtRatio(g.profitFactor), fmtRatio(g.payoffRatio)]),
  )
}

/** The page body of a tearsheet (trusted markup; data escaped). */
function tearsheetSections(sheet: Tearsheet, title: string): string {
  const c = sheet.conventions
  const parts: string[] = []
  parts.push(`<h1>${esc(title)}</h1>`)
  parts.push(
    `<p class="muted">${esc(sheet.start)} – ${esc(sheet.end)} · ${c.returns.toLocaleString('en-US')} daily returns (UTC days) · ${c.periodsPerYear} periods a year · risk-free ${esc(fmtPercent(c.riskFree))} · ${c.trials} trial(s) · rolling window ${c.rollingWindow} days${sheet.benchmark === null ? '' : ` · benchmark: ${esc(sheet.benchmark.name)} (${esc(sheet.benchmark.source)})`}</p>`,
  )
  parts.push('<div class="ts-grid"><div>')
  parts.push('<h2>Key metrics</h2>', metricsTable(sheet))
  parts.push('</div><div class="charts">')
  parts.push(chart('cumulative-chart', sheet.benchmark === null ? 'Cumulative returns' : `Cumulative returns vs ${esc(sheet.benchmark.name)}`, cumulativeChart(sheet, [], 'cumulative returns')))
  parts.push(chart('worst-drawdowns-chart', 'Worst 5 drawdown periods', cumulativeChart({ ...sheet, benchmarkSeries: null, benchmark: null }, sheet.drawdowns, 'worst drawdown periods')))
  parts.push(chart('underwater-chart', 'Underwater', underwaterChart(sheet)))
  parts.push('</div></div>')
  parts.push('<h2>Worst drawdowns</h2>', drawdownTable(sheet.drawdowns))
  parts.push('<h2>Monthly returns</h2><div class="charts">', chart('monthly-heatmap', 'Monthly returns (%)', heatmapChart(sheet)), chart('yearly-chart', 'Yearly returns', yearlyChart(sheet)), '</div>')
  parts.push(`<div class="scroll">${monthlyTable(sheet)}</div>`)
  parts.push('<h2>Rolling and distribution</h2><div class="charts">')
  if (sheet.rolling.time.length > 0) {
    parts.push(chart('rolling-sharpe-chart', `Rolling Sharpe (${c.rollingWindow} days)`, rollingChart(sheet, 'sharpe')))
    parts.push(chart('rolling-volatility-chart', `Rolling volatility (${c.rollingWindow} days)`, rollingChart(sheet, 'volatility')))
  } else {
    parts.push(`<p class="muted">Fewer than ${c.rollingWindow} daily returns: no rolling window.</p>`)
  }
  parts.push(chart('histogram-chart', 'Daily returns', histogramChart(sheet)), '</div>')
  if (sheet.prices !== null) {
    const marks = sheet.prices.marks.length
    const every = Math.ceil(marks / MAX_MARKS)
    const traded = new Set(sheet.prices.marks.map((m) => m.trade)).size
    const note = every > 1 ? ` (1 trade in ${every} of ${traded.toLocaleString('en-US')} marked)` : ''
    parts.push(`<h2>Price and trades: ${esc(sheet.prices.symbol)}</h2>`, chart('price-chart', `${esc(sheet.prices.symbol)}${note}`, priceChart(sheet.prices, every)))
  }
  const t = sheet.trades
  if (t !== null) {
    parts.push('<h2>Trades</h2>')
    parts.push(`<p class="muted">${t.all.trades} closed trade(s)${t.open > 0 ? `, ${t.open} still open at the end (left out)` : ''}.</p>`)
    parts.push(tradeTable('all', [t.all]))
    parts.push('<h3>By symbol</h3>', tradeTable('symbol', t.bySymbol))
    if (t.byExitReason !== null) parts.push('<h3>By exit reason</h3>', tradeTable('exit reason', t.byExitReason))
    parts.push('<h3>By tag</h3>', tradeTable('tag', t.byTag))
    parts.push('<h3>By month of exit</h3>', tradeTable('month', t.byMonth))
  }
  return parts.join('\n')
}

const TEARSHEET_CSS = `
.ts-grid { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
table.heat td.num { min-width: 4.2em; }
.pos { color: var(--good); } .neg { color: var(--bad); }
`

/**
 * The tearsheet as one self-contained HTML page: styles inline, plots as inline SVG, no script and no
 * external URL. Every string from the data (title, symbols, tags, benchmark name) is escaped.
 */
export function tearsheetHtml(sheet: Tearsheet, options: { title?: string } = {}): string {
  if (sheet === null || typeof sheet !== 'object' || sheet.version !== 1) throw new DataError('tearsheetHtml needs a Tearsheet (version 1) as made by tearsheet()')
  const title = options.title ?? sheet.title
  const body = tearsheetSections(sheet, title)
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLESHEET}${TEARSHEET_CSS}</style></head>
<body><main>${body}</main><footer>mtflow tearsheet · ${esc(sheet.start)} – ${esc(sheet.end)} · ${sheet.conventions.points.toLocaleString('en-US')} equity points, ${sheet.conventions.returns.toLocaleString('en-US')} daily returns</footer></body></html>
`
}
