// A sweep's charts as SVG strings, drawn here rather than with Plot (one pass over the cells or runs,
// milliseconds at 10,000 runs): the parameter heatmap of a SweepGrid and parallel coordinates over every
// parameter and the metric. Every name and value is escaped; margins are sized from the longest label.
// Metric values are written in their unit (fmtMetric: fractions as %, ratios with two decimals …).

import { attr, esc, fmtNumber } from './html.js'
import { fmtMetric, metricUnit } from './metric-units.js'
import { ALL_VALUES, type SweepAxis, type SweepChild, type SweepDirection, type SweepGrid, type SweepParam } from './sweep-grid.js'

/** Viridis at ten stops: dark = worse, yellow = better (whichever way the metric points). */
const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725']
const BEST = '#e0245e'
/** Grids up to this many cells get a tooltip and a run link per cell; larger ones (a 100 × 100 sweep) bare cells, or the page would pass 2 MB. */
export const DETAILED_CELLS = 2500
/** Average advance of an 11 px system-ui glyph, for sizing margins to labels. */
const CHAR = 6.6

/** 256 steps of the scale, computed once: a chart colours up to 10,000 cells or lines (the plain version interpolates per call). */
const PALETTE: readonly string[] = Array.from({ length: 256 }, (_, k) => interpolate(k / 255))

function colour(t: number): string {
  return PALETTE[t > 0 ? Math.round(Math.min(1, t) * 255) : 0]!
}

function interpolate(t: number): string {
  const u = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1)
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u))
  const f = u - i
  const a = VIRIDIS[i]!
  const b = VIRIDIS[i + 1]!
  const mix = (k: number) => Math.round(parseInt(a.slice(k, k + 2), 16) * (1 - f) + parseInt(b.slice(k, k + 2), 16) * f)
  return `#${[1, 3, 5].map((k) => mix(k).toString(16).padStart(2, '0')).join('')}`
}

/** A label cut to `max` characters (the whole text goes into a <title>). */
function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, Math.max(1, max - 1))}…` : text
}

function px(v: number): string {
  return (Math.round(v * 10) / 10).toString()
}

/** Better values to t = 1 (yellow). */
/** Better values to t = 1 (yellow). Halves first: max − min of finite values can overflow (1e308 − −1e308). */
function scaler(min: number, max: number, direction: SweepDirection): (v: number) => number {
  const half = max / 2 - min / 2
  return (v) => {
    const t = half > 0 ? (v / 2 - min / 2) / half : 1
    return direction === 'max' ? t : 1 - t
  }
}

/** min + k·(max − min) without overflowing. */
function between(min: number, max: number, k: number): number {
  return min + k * 2 * (max / 2 - min / 2)
}

export interface SweepHeatmapOptions {
  /** A cell holding one run links here (default `/runs/ID`). */
  runHref?: (runId: string) => string
  /** The plot area's size budget in pixels (cells shrink to fit, down to 10 px; default 720 × 420). */
  width?: number
  height?: number
}

/** Where a cell lies on an axis: "fast=10", or for a binned axis "lr in 0.012–0.034". */
export function sweepAxisPlace(axis: SweepAxis, i: number): string {
  return `${axis.name}${axis.bins === undefined ? '=' : ' in '}${axis.values[i]}`
}

/**
 * The grid as a heatmap: a cell per (x, y) with runs, coloured by the metric (legend at the right),
 * a <title> tooltip per cell (x, y or their bins' ranges, value in the metric's unit, run count,
 * neighbours' median), the best cell outlined, a cell of one run a link to it. Axis values thinned so
 * labels never overlap; long ones cut (whole in the tooltip).
 */
export function sweepHeatmap(grid: SweepGrid, options: SweepHeatmapOptions = {}): string {
  const href = options.runHref ?? ((id: string) => `/runs/${encodeURIComponent(id)}`)
  const nx = grid.x.values.length
  const ny = grid.y.values.length
  const cellW = Math.max(10, Math.min(72, Math.floor((options.width ?? 720) / nx)))
  const cellH = Math.max(10, Math.min(36, Math.floor((options.height ?? 420) / ny)))
  const xLabels = grid.x.values.map((v) => cut(v, 24))
  const yLabels = grid.y.values.map((v) => cut(v, 24))
  const maxX = Math.max(...xLabels.map((l) => l.length)) * CHAR
  const maxY = Math.max(...yLabels.map((l) => l.length)) * CHAR
  const rotate = maxX + 6 > cellW
  const xStep = rotate ? Math.ceil(14 / cellW) : 1
  const yStep = Math.ceil(14 / cellH)
  const plotW = nx * cellW
  const plotH = ny * cellH
  const yTitle = cut(grid.y.name, Math.max(8, Math.floor(plotH / CHAR)))
  const left = Math.ceil(Math.max(22 + maxY + 8, rotate ? maxX * 0.72 - cellW / 2 + 8 : 0))
  const top = 12
  const xLabelsH = rotate ? maxX * 0.72 + 16 : 18
  const bottom = Math.ceil(xLabelsH + 24)
  const finite = grid.cells.filter((c) => c !== undefined).map((c) => c!.value)
  const min = finite.length === 0 ? 0 : Math.min(...finite)
  const max = finite.length === 0 ? 0 : Math.max(...finite)
  const fmt = (v: number) => fmtMetric(grid.metric, v)
  const legendLabels = [fmt(max), fmt(min)]
  // Swatches and their labels, or the metric's name and "higher is better" under them, whichever is wider.
  const legendW = Math.max(14 + 6 + Math.max(...legendLabels.map((l) => l.length)) * CHAR, Math.min(16, grid.metric.length) * CHAR, 16 * CHAR)
  const width = Math.ceil(left + plotW + 18 + legendW + 8)
  const legendH = Math.max(60, Math.min(plotH, 200))
  const height = Math.ceil(Math.max(top + plotH + bottom, top + legendH + 38))
  const t = scaler(min, max, grid.direction)
  const detailed = grid.cells.length <= DETAILED_CELLS
  const fixed = Object.entries(grid.fixed).map(([k, v]) => (v === ALL_VALUES ? `${k}: ${grid.aggregate} over all` : `${k}=${v}`))

  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="sweep-heatmap" data-sweep-heatmap="" data-unit="${attr(metricUnit(grid.metric))}" data-metric="${attr(grid.metric)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${attr(`${grid.metric} by ${grid.x.name} and ${grid.y.name}`)}" font-family="system-ui, sans-serif" font-size="11">`,
  )
  out.push(`<title>${esc(`${grid.metric} by ${grid.x.name} (x) and ${grid.y.name} (y)${fixed.length === 0 ? '' : `; ${fixed.join(', ')}`}`)}</title>`)
  // No run: the background shows through (grey).
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="#eceef2"/>`)
  out.push('<g class="cells" stroke="#fff" stroke-width="0.5">')
  for (const cell of grid.cells) {
    if (cell === undefined) continue
    const x = left + cell.xi * cellW
    const y = top + cell.yi * cellH
    if (!detailed) {
      // Past DETAILED_CELLS: the bare cell (about 110 bytes instead of 250), its details in data attributes.
      out.push(`<rect class="cell" data-xi="${cell.xi}" data-yi="${cell.yi}" data-value="${cell.value}" data-n="${cell.count}"${cell.robustness === undefined ? '' : ` data-r="${cell.robustness}"`} x="${x}" y="${y}" width="${cellW}" height="${cellH}" fill="${colour(t(cell.value))}"/>`)
      continue
    }
    const tip = [
      `${sweepAxisPlace(grid.x, cell.xi)}, ${sweepAxisPlace(grid.y, cell.yi)}`,
      `${grid.metric} ${fmt(cell.value)} (${cell.count === 1 ? '1 run' : `${grid.aggregate} of ${cell.count} runs`})`,
      `neighbours' median ${cell.robustness === undefined ? '— (no neighbours)' : fmt(cell.robustness)}`,
    ].join('\n')
    const rect = `<rect class="cell" data-xi="${cell.xi}" data-yi="${cell.yi}" data-value="${cell.value}" x="${x}" y="${y}" width="${cellW}" height="${cellH}" fill="${colour(t(cell.value))}"><title>${esc(tip)}</title></rect>`
    out.push(cell.runId === undefined ? rect : `<a href="${attr(href(cell.runId))}">${rect}</a>`)
  }
  out.push('</g>')
  // Values written in the cells when they fit.
  if (cellW >= 40 && cellH >= 16) {
    out.push('<g text-anchor="middle" font-size="10" pointer-events="none">')
    for (const cell of grid.cells) {
      if (cell === undefined) continue
      const label = cut(fmt(cell.value), Math.floor((cellW - 4) / 6))
      out.push(`<text x="${px(left + (cell.xi + 0.5) * cellW)}" y="${px(top + (cell.yi + 0.5) * cellH + 3.5)}" fill="${t(cell.value) > 0.6 ? '#1d2330' : '#fff'}">${esc(label)}</text>`)
    }
    out.push('</g>')
  }
  if (grid.best !== undefined) {
    const b = grid.best
    out.push(`<rect class="best" data-best="" x="${left + b.xi * cellW + 1.5}" y="${top + b.yi * cellH + 1.5}" width="${cellW - 3}" height="${cellH - 3}" fill="none" stroke="${BEST}" stroke-width="3" pointer-events="none"/>`)
  }
  // x axis: values under the columns (rotated when wider than a column), the name below.
  // A binned axis says so (the page script's readout writes "lr in 0.1–0.2" rather than "lr=0.1–0.2").
  const binnedAttr = (a: SweepAxis) => (a.bins === undefined ? '' : ' data-binned=""')
  out.push(`<g class="x-axis"${binnedAttr(grid.x)} fill="#5b6475">`)
  const xBase = top + plotH + 12
  grid.x.values.forEach((v, i) => {
    if (i % xStep !== 0) {
      // A value without room for its label: kept (hidden) when cells have no tooltip, for the page script's readout.
      if (!detailed) out.push(`<text class="hidden-tick" data-i="${i}" display="none">${esc(v)}</text>`)
      return
    }
    const cx = px(left + (i + 0.5) * cellW)
    const text = `<title>${esc(v)}</title>${esc(xLabels[i])}`
    out.push(rotate ? `<text class="tick" data-i="${i}" transform="translate(${cx},${xBase - 4}) rotate(-45)" text-anchor="end">${text}</text>` : `<text class="tick" data-i="${i}" x="${cx}" y="${xBase}" text-anchor="middle">${text}</text>`)
  })
  out.push(`<text x="${px(left + plotW / 2)}" y="${px(top + plotH + xLabelsH + 16)}" text-anchor="middle" font-weight="600" fill="#1d2330" class="axis-name">${esc(cut(grid.x.name, Math.floor(plotW / CHAR) + 10))}</text>`)
  out.push('</g>')
  out.push(`<g class="y-axis"${binnedAttr(grid.y)} fill="#5b6475" text-anchor="end">`)
  grid.y.values.forEach((v, i) => {
    if (i % yStep !== 0) {
      if (!detailed) out.push(`<text class="hidden-tick" data-i="${i}" display="none">${esc(v)}</text>`)
      return
    }
    out.push(`<text class="tick" data-i="${i}" x="${left - 6}" y="${px(top + (i + 0.5) * cellH + 4)}"><title>${esc(v)}</title>${esc(yLabels[i])}</text>`)
  })
  out.push(`<text transform="translate(14,${px(top + plotH / 2)}) rotate(-90)" text-anchor="middle" font-weight="600" fill="#1d2330" class="axis-name"><title>${esc(grid.y.name)}</title>${esc(yTitle)}</text>`)
  out.push('</g>')
  // Legend: ten swatches, better at the top.
  const lx = left + plotW + 18
  const seg = legendH / VIRIDIS.length
  out.push(`<g class="legend"><text x="${lx}" y="${top + legendH + 16}" fill="#5b6475">${esc(cut(grid.metric, 16))}</text>`)
  for (let k = 0; k < VIRIDIS.length; k++) out.push(`<rect x="${lx}" y="${px(top + k * seg)}" width="14" height="${px(seg + 0.5)}" fill="${colour(1 - (k + 0.5) / VIRIDIS.length)}"/>`)
  const [hi, lo] = grid.direction === 'max' ? [max, min] : [min, max]
  out.push(`<text x="${lx + 20}" y="${top + 9}" fill="#5b6475">${esc(fmt(hi))}</text><text x="${lx + 20}" y="${px(top + legendH)}" fill="#5b6475">${esc(fmt(lo))}</text>`)
  out.push(`<text x="${lx}" y="${top + legendH + 30}" fill="#5b6475">${grid.direction === 'max' ? 'higher' : 'lower'} is better</text></g>`)
  out.push('</svg>')
  return out.join('')
}

export interface SweepParallelOptions {
  /** Lines drawn at most; more runs are sampled (every k-th in the given order, the best run kept). Default 2,000. */
  maxLines?: number
  /** The run to highlight. */
  bestRunId?: string
  height?: number
}

export interface SweepParallel {
  svg: string
  /** Runs with every axis's value and a finite metric. */
  runs: number
  drawn: number
}

/**
 * Parallel coordinates: an axis per parameter that varies (numeric ones to scale, others evenly by their
 * order) and the metric last (better at the top), one polyline per run coloured by the metric, the best
 * run drawn last in the highlight colour.
 */
export function sweepParallel(children: readonly SweepChild[], params: readonly SweepParam[], metric: string, direction: SweepDirection, options: SweepParallelOptions = {}): SweepParallel {
  const maxLines = options.maxLines ?? 2000
  const varying = params.filter((p) => p.values.length > 1)
  const axes = varying.length === 0 ? [...params] : varying
  // Runs with a finite metric and every axis's parameter.
  const rows: SweepChild[] = []
  let best: SweepChild | undefined
  for (const child of children) {
    const v = child.metrics[metric]
    if (v === undefined || !Number.isFinite(v)) continue
    if (!axes.every((a) => child.params[a.name] !== undefined)) continue
    rows.push(child)
    if (child.runId === options.bestRunId) best = child
  }
  const values = rows.map((r) => r.metrics[metric]!)
  const min = values.length === 0 ? 0 : values.reduce((a, b) => (b < a ? b : a), Infinity)
  const max = values.length === 0 ? 0 : values.reduce((a, b) => (b > a ? b : a), -Infinity)
  const t = scaler(min, max, direction)

  let drawn = rows
  if (rows.length > maxLines) {
    drawn = Array.from({ length: maxLines }, (_, i) => rows[Math.floor((i * rows.length) / maxLines)]!)
    if (best !== undefined && !drawn.includes(best)) drawn[drawn.length - 1] = best
  }

  const count = axes.length + 1
  const height = options.height ?? 340
  const top = 40
  const bottom = 18
  const plotH = height - top - bottom
  const spacing = Math.max(100, Math.min(180, Math.floor(880 / Math.max(1, count - 1))))
  const labelChars = Math.floor((spacing - 12) / CHAR)
  // Axis names centred over their axis, each cut to the spacing between axes so neighbours never overlap;
  // the outer two get half their width as margin. Tick labels sit right of their axis: the last axis (the
  // metric) needs room for its own.
  const metricName = `${metric} (${direction === 'max' ? 'higher' : 'lower'} is better)`
  const names = [...axes.map((a) => a.name), metricName].map((n) => cut(n, labelChars))
  const left = Math.ceil(Math.max(14, (names[0]!.length * CHAR) / 2 + 4))
  const metricTicks = [0, 0.25, 0.5, 0.75, 1].map((k) => (k === 1 ? max : between(min, max, k)))
  const right = Math.ceil(Math.max(12 + Math.max(...metricTicks.map((v) => fmtMetric(metric, v).length)) * CHAR, (names[count - 1]!.length * CHAR) / 2 + 4))
  const width = Math.ceil(left + (count - 1) * spacing + right)
  const ax = (i: number) => left + i * spacing
  // y of a value on each parameter axis: numeric to scale, others evenly; top = largest / last.
  const position = axes.map((p) => {
    const map = new Map<string, number>()
    if (p.numeric) {
      const lo = Number(p.values[0])
      const hi = Number(p.values[p.values.length - 1])
      for (const v of p.values) map.set(v, hi > lo ? (Number(v) / 2 - lo / 2) / (hi / 2 - lo / 2) : 0.5)
    } else p.values.forEach((v, i) => map.set(v, p.values.length > 1 ? i / (p.values.length - 1) : 0.5))
    return map
  })
  const yOf = (f: number) => px(top + (1 - f) * plotH)

  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="sweep-parallel" data-sweep-parallel="" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${attr(`parallel coordinates of ${axes.map((a) => a.name).join(', ')} and ${metric}`)}" font-family="system-ui, sans-serif" font-size="10">`,
  )
  // Lines: worse first so the better ones lie on top.
  const order = drawn.filter((r) => r !== best).sort((a, b) => t(a.metrics[metric]!) - t(b.metrics[metric]!))
  out.push('<g class="lines" fill="none" stroke-width="1" stroke-opacity="0.55">')
  const points = (r: SweepChild) => [...axes.map((a, i) => `${ax(i)},${yOf(position[i]!.get(r.params[a.name]!)!)}`), `${ax(count - 1)},${yOf(t(r.metrics[metric]!))}`].join(' ')
  for (const r of order) out.push(`<polyline points="${points(r)}" stroke="${colour(t(r.metrics[metric]!))}"/>`)
  out.push('</g>')
  if (best !== undefined) {
    out.push(`<polyline class="best" data-best="" points="${points(best)}" fill="none" stroke="${BEST}" stroke-width="2.5"><title>${esc(`best run ${best.runId}: ${metric} ${fmtMetric(metric, best.metrics[metric])} (${axes.map((a) => `${a.name}=${best!.params[a.name]}`).join(', ')})`)}</title></polyline>`)
  }
  // Axes: a line, ticks labelled right of it, the name above.
  const axis = (i: number, name: string, ticks: [number, string][]) => {
    const x = ax(i)
    // The strip the page script brushes along (nothing without it).
    const parts = [`<g class="axis" data-axis="${i}"><line x1="${x}" x2="${x}" y1="${top}" y2="${top + plotH}" stroke="#5b6475"/><rect class="brush-area" data-axis="${i}" x="${x - 9}" y="${top}" width="18" height="${plotH}" fill="none" pointer-events="all"/>`]
    parts.push(`<text class="axis-name" x="${x}" y="18" text-anchor="middle" font-weight="600" font-size="11" fill="#1d2330"><title>${esc(name)}</title>${esc(names[i])}</text>`)
    for (const [f, label] of ticks) parts.push(`<text x="${x + 4}" y="${px(top + (1 - f) * plotH + 3)}" fill="#5b6475" paint-order="stroke" stroke="#fff" stroke-width="3"><title>${esc(label)}</title>${esc(cut(label, labelChars))}</text>`)
    parts.push('</g>')
    return parts.join('')
  }
  const maxTicks = Math.max(2, Math.floor(plotH / 14))
  axes.forEach((p, i) => {
    let ticks: [number, string][]
    if (p.numeric && p.values.length > maxTicks) {
      const lo = Number(p.values[0])
      const hi = Number(p.values[p.values.length - 1])
      ticks = [0, 0.25, 0.5, 0.75, 1].map((k) => [k, fmtNumber(k === 1 ? hi : between(lo, hi, k))])
    } else {
      const step = Math.ceil(p.values.length / maxTicks)
      ticks = p.values.filter((_, k) => k % step === 0 || k === p.values.length - 1).map((v) => [position[i]!.get(v)!, v])
    }
    out.push(axis(i, p.name, ticks))
  })
  out.push(axis(count - 1, metricName, metricTicks.map((v) => [t(v), fmtMetric(metric, v)])))
  out.push('</svg>')
  return { svg: out.join(''), runs: rows.length, drawn: drawn.length }
}
