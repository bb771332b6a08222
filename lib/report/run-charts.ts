// Charts of a run's page and the compare page that the browser can work with: the SVG is Observable Plot's,
// rendered on the server (it shows, with its <title> tips, without JavaScript), and beside it, in a
// data-chart attribute, the points drawn and the plot's frame, so lib/server/assets/charts.js can add a
// crosshair with a tip, drag-to-zoom, a step/time x axis and smoothing without a charting library.

import * as Plot from '@observablehq/plot'
import { DataError } from '../core/index.js'
import { attr, esc, fmtTime } from './html.js'
import { fmtUnit, type MetricUnit } from './metric-units.js'
import { plotScale, renderPlot } from './plot.js'
import { decimateIndices, type TradeColumns } from './tearsheet-metrics.js'
import { tearsheet, type Tearsheet, type TearsheetInput } from './tearsheet.js'

/** Points per series at most, in the SVG and the data block (extremes kept: decimateIndices). */
export const MAX_POINTS = 2000

/** Categorical colours (Plot's observable10), fixed here so the client draws each series as the legend shows it. */
export const SERIES_COLORS = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5', '#9c6b4e', '#9498a0']

export interface ChartSeries {
  label: string
  /** Epoch ms of each point, increasing. */
  time: ArrayLike<number>
  value: ArrayLike<number>
  /** The step of each point (metric histories), for the step x axis. */
  step?: ArrayLike<number>
  color?: string
  /** Filled down to zero (an underwater curve). */
  area?: boolean
}

/** A trade's entry (▲) or exit (▼) on a price chart. */
export interface ChartMark {
  time: number
  value: number
  kind: 'entry' | 'exit'
  direction: string
}

export interface InteractiveChartOptions {
  /** The chart's box id (tests and people find it by it). */
  id?: string
  /** The heading above the chart (text, escaped). */
  title: string
  /** The SVG's accessible name. */
  ariaLabel: string
  /** How values read (axis, tip): fractions as %, money, ratios, plain numbers. */
  unit?: MetricUnit
  /** The y axis label (text). */
  yLabel?: string
  /** The x axis drawn first; "step" needs every series' steps. */
  x?: 'time' | 'step'
  /** Offer the step/time switch (metric histories). */
  axisChoice?: boolean
  /** Offer the smoothing slider (metric histories). */
  smoothing?: boolean
  /** A horizontal rule at this value (0 for returns and drawdowns, 1 for rebased equity). */
  rule?: number
  marks?: readonly ChartMark[]
  width?: number
  height?: number
}

interface Row {
  x: Date | number
  y: number
  series: string
}

/** What the client gets: the frame of the plot inside the SVG's viewBox, the domains and the points. */
interface ChartData {
  v: 1
  unit: MetricUnit
  x: 'time' | 'step'
  axisChoice: boolean
  smoothing: boolean
  frame: { width: number; height: number; left: number; right: number; top: number; bottom: number }
  xDomain: [number, number]
  yDomain: [number, number]
  rule: number | null
  series: { label: string; color: string; area: boolean; t: number[]; s: number[] | null; y: number[] }[]
  marks: { t: number; y: number; kind: string; direction: string }[]
}

/** The indices of a series worth keeping: finite values, at most MAX_POINTS of them, peaks and troughs kept. */
function keep(values: ArrayLike<number>): number[] {
  const finite: number[] = []
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) finite.push(i)
  const picked = decimateIndices(
    finite.map((i) => values[i]!),
    (MAX_POINTS - 2) / 2,
  )
  return picked.map((k) => finite[k]!)
}

/** Ten significant digits: the tip shows at most that many, and the data block stays small. */
function short(v: number): number {
  return Number(v.toPrecision(10))
}

/** Epoch ms as "2024-01-05 14:30" (UTC). */
export function fmtMinute(ms: number): string {
  return fmtTime(ms).slice(0, 16)
}

/**
 * A line chart (areas for underwater curves, ▲/▼ markers for trades) rendered server-side, with its data
 * for charts.js. The SVG is made by Plot; the attribute holds numbers and escaped labels only.
 */
export function interactiveChart(series: readonly ChartSeries[], options: InteractiveChartOptions): string {
  const unit = options.unit ?? 'number'
  const byStep = options.x === 'step' && series.every((s) => s.step !== undefined)
  const width = options.width ?? 760
  const height = options.height ?? 280
  const rows: Row[] = []
  const areaRows: Row[] = []
  const data: ChartData['series'] = []
  series.forEach((s, k) => {
    const color = s.color ?? SERIES_COLORS[k % SERIES_COLORS.length]!
    const idx = keep(s.value)
    const t = idx.map((i) => s.time[i]!)
    const st = s.step === undefined ? null : idx.map((i) => s.step![i]!)
    const y = idx.map((i) => short(s.value[i]!))
    data.push({ label: s.label, color, area: s.area === true, t, s: st, y })
    const target = s.area === true ? areaRows : rows
    idx.forEach((i, j) => target.push({ x: byStep ? st![j]! : new Date(t[j]!), y: y[j]!, series: s.label }))
  })
  const labels = series.map((s) => s.label)
  const colors = data.map((s) => s.color)
  const several = series.length > 1
  const marks = (options.marks ?? []).map((m) => ({ x: new Date(m.time), y: m.value, kind: m.kind === 'entry' ? `entry ${m.direction === 'short' ? 'short' : 'long'}` : 'exit', tip: `${m.kind} ${m.direction} ${fmtMinute(m.time)} at ${fmtUnit('number', m.value)}` }))
  const percent = unit === 'percent'
  const element = renderPlot({
    ariaLabel: options.ariaLabel,
    width,
    height,
    style: { fontSize: '11px', background: 'white' },
    x: { label: byStep ? 'step' : null, type: byStep ? 'linear' : 'utc' },
    y: { label: options.yLabel === undefined ? null : percent ? `${options.yLabel} (%)` : options.yLabel, grid: true, ...(percent ? { percent: true } : {}) },
    color: several ? { legend: true, type: 'categorical', domain: labels, range: colors } : undefined,
    symbol: marks.length > 0 ? { domain: ['entry long', 'entry short', 'exit'], range: ['triangle', 'triangle', 'triangle'] } : undefined,
    marks: [
      ...(options.rule === undefined ? [] : [Plot.ruleY([options.rule], { stroke: '#999' })]),
      ...(areaRows.length > 0 ? [Plot.areaY(areaRows, { x: 'x', y: 'y', z: 'series', fill: several ? 'series' : colors[0], fillOpacity: 0.35, title: 'series' })] : []),
      ...(rows.length > 0 ? [Plot.line(rows, { x: 'x', y: 'y', z: 'series', stroke: several ? 'series' : colors[0], strokeWidth: 1.3, title: 'series', ariaDescription: options.ariaLabel })] : []),
      ...(marks.length > 0
        ? [
            Plot.dot(
              marks.filter((m) => m.kind !== 'exit'),
              { x: 'x', y: 'y', symbol: 'kind', fill: (d: { kind: string }) => (d.kind === 'entry short' ? '#b3261e' : '#1b7f3b'), r: 4, title: 'tip', ariaDescription: 'trade entries' },
            ),
            // An exit is a triangle pointing down.
            Plot.dot(
              marks.filter((m) => m.kind === 'exit'),
              { x: 'x', y: 'y', symbol: 'kind', fill: '#333', r: 4, rotate: 180, title: 'tip', ariaDescription: 'trade exits' },
            ),
          ]
        : []),
    ],
  })
  const xs = plotScale(element, 'x')!
  const ys = plotScale(element, 'y')!
  const xr = xs.range!
  const yr = ys.range!
  const chart: ChartData = {
    v: 1,
    unit,
    x: byStep ? 'step' : 'time',
    axisChoice: options.axisChoice === true && series.every((s) => s.step !== undefined),
    smoothing: options.smoothing === true,
    frame: { width, height, left: xr[0]!, right: xr[1]!, top: Math.min(yr[0]!, yr[1]!), bottom: Math.max(yr[0]!, yr[1]!) },
    xDomain: [Number(xs.domain[0]), Number(xs.domain[1])],
    yDomain: [Number(ys.domain[0]), Number(ys.domain[1])],
    rule: options.rule ?? null,
    series: data,
    marks: (options.marks ?? []).map((m) => ({ t: m.time, y: short(m.value), kind: m.kind, direction: m.direction })),
  }
  const id = options.id === undefined ? '' : ` id="${attr(options.id)}"`
  return `<div class="chart"${id} data-chart="${attr(JSON.stringify(chart))}"><h3>${esc(options.title)}</h3>${element.outerHTML}</div>`
}

// ---- the run page's performance tables ------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** A return's cell coloured by sign and size: green up, red down, full colour at `scale` (the largest |value|). */
function heatCell(v: number | null, scale: number): string {
  if (v === null) return '<td></td>'
  const alpha = Math.min(1, Math.abs(v) / scale) * 0.55 + 0.08
  const rgb = v >= 0 ? '27,127,59' : '179,38,30'
  return `<td class="num" style="background: rgba(${rgb},${alpha.toFixed(2)})">${esc(fmtUnit('percent', v))}</td>`
}

/** Year × month returns (compounded daily returns of each month, as the tearsheet computes them) with the year's total. */
export function monthlyReturnsTable(monthly: readonly { year: number; months: readonly (number | null)[]; total: number }[]): string {
  let scale = 1e-9
  for (const row of monthly) for (const v of row.months) if (v !== null) scale = Math.max(scale, Math.abs(v))
  const head = `<thead><tr><th>year</th>${MONTHS.map((m) => `<th>${m}</th>`).join('')}<th>year</th></tr></thead>`
  const body = monthly
    .map((row) => `<tr><th scope="row">${row.year}</th>${row.months.map((v) => heatCell(v, scale)).join('')}<td class="num total">${esc(fmtUnit('percent', row.total))}</td></tr>`)
    .join('')
  return `<table class="monthly-returns">${head}<tbody>${body}</tbody></table>`
}

/** The trades table's columns: query value, heading, how a trade sorts by it. */
export const TRADE_SORTS = ['symbol', 'side', 'entry', 'exit', 'qty', 'entryPrice', 'exitPrice', 'pnl', 'return', 'duration'] as const
export type TradeSort = (typeof TRADE_SORTS)[number]

/** The columns a trades table needs: a tearsheet's trade columns (a backtest's trades, or a trades.csv). */
export type TradeRows = Pick<TradeColumns, 'symbol' | 'entryTime' | 'exitTime' | 'pnl' | 'returnPct' | 'entryPrice' | 'exitPrice' | 'qty' | 'direction' | 'open'>

const HEADINGS: Record<TradeSort, string> = { symbol: 'symbol', side: 'side', entry: 'entry (UTC)', exit: 'exit (UTC)', qty: 'qty', entryPrice: 'entry price', exitPrice: 'exit price', pnl: 'P&L', return: 'return', duration: 'duration' }

/**
 * Trades as a table sorted by a column (links in the headings sort it, so it works without JavaScript),
 * `limit` rows at most. `href(sort, dir)` makes a heading's link.
 */
export function tradesTable(t: TradeRows, options: { sort: TradeSort; dir: 'asc' | 'desc'; limit: number; href: (sort: TradeSort, dir: 'asc' | 'desc') => string }): string {
  const n = t.pnl.length
  const num = (col: ArrayLike<number> | undefined, i: number) => (col === undefined ? NaN : col[i]!)
  const key = (i: number): number | string => {
    switch (options.sort) {
      case 'symbol':
        return t.symbol[i] ?? ''
      case 'side':
        return t.direction?.[i] ?? 'long'
      case 'entry':
        return t.entryTime[i]!
      case 'exit':
        return t.exitTime[i]!
      case 'qty':
        return num(t.qty, i)
      case 'entryPrice':
        return num(t.entryPrice, i)
      case 'exitPrice':
        return num(t.exitPrice, i)
      case 'pnl':
        return t.pnl[i]!
      case 'return':
        return num(t.returnPct, i)
      case 'duration':
        return t.exitTime[i]! - t.entryTime[i]!
    }
  }
  const sign = options.dir === 'asc' ? 1 : -1
  const order = Array.from({ length: n }, (_, i) => i)
  order.sort((a, b) => {
    const ka = key(a)
    const kb = key(b)
    // Missing numbers last whichever the direction; ties in entry order.
    if (typeof ka === 'number' && typeof kb === 'number') {
      const na = Number.isNaN(ka)
      const nb = Number.isNaN(kb)
      if (na || nb) return na === nb ? a - b : na ? 1 : -1
      return (ka - kb) * sign || a - b
    }
    return String(ka).localeCompare(String(kb)) * sign || a - b
  })
  const head = TRADE_SORTS.map((s) => {
    const active = s === options.sort
    const next = active && options.dir === 'asc' ? 'desc' : active ? 'asc' : s === 'pnl' || s === 'return' || s === 'duration' ? 'desc' : 'asc'
    const arrow = active ? (options.dir === 'asc' ? ' ▲' : ' ▼') : ''
    return `<th${active ? ` aria-sort="${options.dir === 'asc' ? 'ascending' : 'descending'}"` : ''}><a href="${attr(options.href(s, next))}">${esc(HEADINGS[s])}${arrow}</a></th>`
  }).join('')
  const price = (v: number) => (Number.isFinite(v) ? fmtUnit('money', v) : '')
  const body = order
    .slice(0, options.limit)
    .map((i) => {
      const pnl = t.pnl[i]!
      const open = t.open?.[i] === true
      const cls = pnl > 0 ? ' pos' : pnl < 0 ? ' neg' : ''
      const cells = [
        `<td>${esc(t.symbol[i] ?? '')}</td>`,
        `<td>${esc(t.direction?.[i] ?? 'long')}</td>`,
        `<td class="num">${esc(fmtMinute(t.entryTime[i]!))}</td>`,
        `<td class="num">${open ? 'open' : esc(fmtMinute(t.exitTime[i]!))}</td>`,
        `<td class="num">${Number.isFinite(num(t.qty, i)) ? esc(fmtUnit('number', num(t.qty, i))) : ''}</td>`,
        `<td class="num">${esc(price(num(t.entryPrice, i)))}</td>`,
        `<td class="num">${esc(price(num(t.exitPrice, i)))}</td>`,
        `<td class="num${cls}">${esc(fmtUnit('money', pnl))}</td>`,
        `<td class="num${cls}">${Number.isFinite(num(t.returnPct, i)) ? esc(fmtUnit('percent', num(t.returnPct, i))) : ''}</td>`,
        `<td class="num">${esc(fmtUnit('duration', t.exitTime[i]! - t.entryTime[i]!))}</td>`,
      ]
      return `<tr>${cells.join('')}</tr>`
    })
    .join('')
  return `<table class="trades"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`
}

/** The page-specific styles of the run page's performance section (the shared stylesheet is lib/report/html.ts). */
export const RUN_CHARTS_CSS = `
table.monthly-returns td.num { min-width: 4.6em; }
table.monthly-returns td.total { font-weight: 600; }
table.trades th a { color: inherit; text-decoration: none; white-space: nowrap; }
table.trades .pos { color: var(--good); } table.trades .neg { color: var(--bad); }
.chart[data-chart] { position: relative; }
`

// ---- the run page's performance section ------------------------------------------------------------------

/** Trade markers drawn at most (each a DOM node; the tearsheet's limit too). */
const MAX_MARKS = 1000
/** Trades listed at most on the page (sorted first, so the largest P&L is one click away). */
const TRADE_ROWS = 500

/** The trades table's order from the query (`tsort`, `tdir`), or the message of a bad value. */
export function tradeSortOf(sort: string | undefined, dir: string | undefined): { sort: TradeSort; dir: 'asc' | 'desc' } | string {
  const s = sort ?? 'entry'
  if (!(TRADE_SORTS as readonly string[]).includes(s)) return `tsort must be one of ${TRADE_SORTS.join(', ')} (received ${JSON.stringify(s.slice(0, 40))})`
  const d = dir ?? 'asc'
  if (d !== 'asc' && d !== 'desc') return `tdir must be asc or desc (received ${JSON.stringify(d.slice(0, 40))})`
  return { sort: s as TradeSort, dir: d }
}

/** How the trades table is sorted, and the link a heading sorts it with. */
export interface TradeTableOptions {
  sort: TradeSort
  dir: 'asc' | 'desc'
  href: (sort: TradeSort, dir: 'asc' | 'desc') => string
}

/**
 * A backtest's tearsheet core for its run page: equity against buy and hold of the traded symbol (when its
 * bars are known), underwater (drawdown %), monthly returns, the price with the trades marked, and the
 * trades. `input` as runTearsheetInput reads it (the run's equity and trades tables, the lake's closes).
 */
export function performanceSection(loaded: { input: TearsheetInput; periodsPerYear?: number }, options: TradeTableOptions): string {
  const trades = loaded.input.trades
  return `${performanceCharts(loaded)}\n${trades === undefined ? '' : tradesSection(trades, options)}`
}

/** The performance section but the trades table: what does not change with the table's order (the run page caches it apart). */
export function performanceCharts(loaded: { input: TearsheetInput; periodsPerYear?: number }): string {
  const { input } = loaded
  const parts: string[] = ['<h2>Performance</h2>']
  let sheet: Tearsheet | undefined
  try {
    sheet = tearsheet(input, loaded.periodsPerYear === undefined ? {} : { periodsPerYear: loaded.periodsPerYear })
  } catch (error) {
    // A curve the tearsheet cannot read (one day long …): the charts without the monthly table.
    if (!(error instanceof DataError)) throw error
    parts.push(`<p class="muted">${esc(error.message)}</p>`)
  }
  const time = input.time
  const equity = input.equity
  const series: ChartSeries[] = [{ label: 'equity', time, value: equity }]
  const prices = input.prices
  if (prices !== undefined) {
    // Buy and hold from the first bar at or after the curve's start, scaled to the starting equity.
    let a = 0
    while (a < prices.time.length && prices.time[a]! < time[0]!) a++
    if (a < prices.time.length) {
      const base = prices.close[a]!
      const t: number[] = []
      const v: number[] = []
      for (let i = a; i < prices.time.length && prices.time[i]! <= time[time.length - 1]!; i++) {
        t.push(prices.time[i]!)
        v.push((equity[0]! * prices.close[i]!) / base)
      }
      if (t.length > 1) series.push({ label: `${prices.name} buy & hold`, time: t, value: v, color: '#999' })
    }
  }
  const underwater = new Float64Array(equity.length)
  let peak = -Infinity
  for (let i = 0; i < equity.length; i++) {
    peak = Math.max(peak, equity[i]!)
    underwater[i] = equity[i]! / peak - 1
  }
  parts.push('<div class="charts">')
  parts.push(interactiveChart(series, { id: 'equity-chart', title: series.length > 1 ? `Equity against ${series[1]!.label}` : 'Equity', ariaLabel: 'equity', unit: 'money', yLabel: 'equity' }))
  parts.push(interactiveChart([{ label: 'drawdown', time, value: underwater, area: true, color: '#d62728' }], { id: 'underwater-chart', title: 'Underwater', ariaLabel: 'underwater', unit: 'percent', yLabel: 'drawdown', rule: 0, height: 200 }))
  if (prices !== undefined) {
    const marks: ChartMark[] = []
    const t = input.trades
    if (t !== undefined && t.entryPrice !== undefined && t.exitPrice !== undefined) {
      for (let i = 0; i < t.pnl.length; i++) {
        if (t.symbol[i] !== prices.name) continue
        const direction = String(t.direction?.[i] ?? 'long')
        if (Number.isFinite(t.entryTime[i]!) && Number.isFinite(t.entryPrice[i]!)) marks.push({ time: t.entryTime[i]!, value: t.entryPrice[i]!, kind: 'entry', direction })
        if (t.open?.[i] !== true && Number.isFinite(t.exitPrice[i]!)) marks.push({ time: t.exitTime[i]!, value: t.exitPrice[i]!, kind: 'exit', direction })
      }
    }
    const every = Math.ceil(marks.length / MAX_MARKS)
    const shown = every > 1 ? marks.filter((_, k) => k % every === 0) : marks
    const note = every > 1 ? ` (1 marker in ${every} of ${marks.length.toLocaleString('en-US')})` : ''
    parts.push(
      interactiveChart([{ label: prices.name, time: prices.time, value: prices.close, color: '#777' }], { id: 'price-chart', title: `${prices.name}: price and trades (▲ entry, ▼ exit)${note}`, ariaLabel: 'price and trades', unit: 'number', yLabel: 'price', marks: shown }),
    )
  }
  parts.push('</div>')
  if (sheet !== undefined && sheet.monthly.length > 0) parts.push('<h2 id="monthly">Monthly returns</h2>', `<div class="scroll">${monthlyReturnsTable(sheet.monthly)}</div>`)
  return parts.join('\n')
}

/** The trades, sorted as asked (TRADE_ROWS at most), under their heading. */
export function tradesSection(t: TradeRows, options: TradeTableOptions): string {
  const n = t.pnl.length
  return `<h2 id="trades">Trades</h2><p class="muted">${n.toLocaleString('en-US')} trade(s)${n > TRADE_ROWS ? `, the first ${TRADE_ROWS} in this order shown (sort by a column to see others)` : ''}; times in UTC.</p><div class="scroll">${tradesTable(t, { ...options, limit: TRADE_ROWS })}</div>`
}
