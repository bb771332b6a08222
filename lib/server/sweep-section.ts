// The sweep section of a parent run's page (/runs/ID#sweep): a GET form choosing x, y, the metric, its
// direction, how cells combine and where the other parameters are sliced; the heatmap with the best cell
// and the robustness verdict in words; parallel coordinates. Works without JavaScript. A random or TPE
// study's float parameters are binned (`bins`, lib/report/sweep-grid.ts); values are shown in their unit.

import type { Context } from 'hono'
import { page } from './layout.js'
import { attr, esc, fmtMetric, fmtNumber, link, seg } from '../report/index.js'
import { DETAILED_CELLS, sweepAxisPlace, sweepHeatmap, sweepParallel } from '../report/sweep-charts.js'
import { ALL_VALUES, DEFAULT_SWEEP_BINS, MAX_SWEEP_BINS, MIN_SWEEP_BINS, SWEEP_AGGREGATES, isSweepBinned, defaultDirection, defaultMetric, sweepAxisNames, sweepCellsOver, sweepGrid, sweepMetricNames, sweepParams, type SweepAggregate, type SweepChild, type SweepDirection, type SweepGrid, type SweepGridOptions, type SweepParam } from '../report/sweep-grid.js'
import { clip, dict } from '../core/index.js'
import { lifecycleOf, type RunSummary } from '../track/index.js'

/** Query parameters the section reads (and the prefix of the per-parameter slices, `fix.NAME=VALUE|*`). */
const NAMES = ['x', 'y', 'metric', 'dir', 'agg', 'others', 'bins'] as const
const FIX = 'fix.'
/** A parameter with more values than this gets a text box instead of a select (a random search's floats). */
const MAX_OPTIONS = 200

/** What the run page needs: the part of its cache key the query makes, and the section. */
export interface SweepView {
  /** '' for the default view; otherwise the validated choices, canonical (a hostile query cannot make unbounded keys). */
  key: string
  section(parent: RunSummary): string
}

/**
 * The sweep view a request asks for, or a 400 page naming the query parameter that is wrong. A run without
 * child runs carrying parameters and a finite metric gets an empty section (and its query is ignored).
 */
export function sweepRequest(c: Context, parentId: string, children: () => readonly RunSummary[]): SweepView | Response {
  const url = new URL(c.req.url)
  const asked = [...url.searchParams.keys()].some((k) => (NAMES as readonly string[]).includes(k) || k.startsWith(FIX))
  let data: SweepData | undefined | null = null
  const load = () => (data === null ? (data = sweepData(children())) : data)
  if (!asked) return { key: '', section: (parent) => renderSection(parent, load(), {}) }
  const d = load()
  if (d === undefined) return { key: '', section: () => '' }
  const parsed = parseQuery(url.searchParams, d)
  if (typeof parsed === 'string') {
    const body = `<h1>Sweep view of run ${link(`/runs/${seg(parentId)}`, parentId).html}</h1><div class="error-box" role="alert">${esc(parsed)}</div><p>${link(`/runs/${seg(parentId)}#sweep`, 'the default view').html}</p>`
    return page(c, 'Bad sweep view', body, '/runs', 400)
  }
  return { key: `|sweep:${parsed.key}`, section: (parent) => renderSection(parent, d, parsed.options) }
}

interface SweepData {
  children: SweepChild[]
  params: SweepParam[]
  metrics: string[]
  /** Parallel coordinates by metric, direction and best run: the same for every x, y and slice. */
  parallel: Map<string, ReturnType<typeof sweepParallel>>
}

/**
 * Per child list of the cached run listing (the same array until a child changes): its SweepData, so the
 * views of one sweep share the conversion, the parameter values and the parallel coordinates.
 */
const byChildren = new WeakMap<readonly RunSummary[], SweepData | undefined>()

/** The active child runs as the grid reads them; undefined when fewer than two carry parameters and a finite metric, or no parameter varies. */
function sweepData(kids: readonly RunSummary[]): SweepData | undefined {
  if (byChildren.has(kids)) return byChildren.get(kids)
  const data = readSweepData(kids)
  byChildren.set(kids, data)
  return data
}

function readSweepData(kids: readonly RunSummary[]): SweepData | undefined {
  const children: SweepChild[] = []
  for (const r of kids) {
    if (lifecycleOf(r) === 'deleted') continue
    if (Object.keys(r.params).length === 0) continue
    const metrics: Record<string, number> = {}
    let scored = false
    for (const k in r.metrics) {
      const v = r.metrics[k]!.value
      metrics[k] = v
      if (Number.isFinite(v)) scored = true
    }
    if (scored) children.push({ runId: r.info.runId, params: r.params, metrics })
  }
  if (children.length < 2) return undefined
  // Children that all share one parameter set (repeated steps, seeds not logged) are not a sweep.
  const params = sweepParams(children)
  if (params.every((p) => p.values.length < 2)) return undefined
  return { children, params, metrics: sweepMetricNames(children), parallel: new Map() }
}

/** A value from the query, quoted and clipped for a message. */
function quoted(text: string): string {
  return JSON.stringify(clip(text))
}

/** The query's choices checked against the sweep: options for the grid and a canonical key, or the message naming the bad parameter. */
function parseQuery(q: URLSearchParams, d: SweepData): { options: SweepGridOptions; key: string } | string {
  const one = (name: string) => {
    const v = q.get(name)
    return v === null || v === '' ? undefined : v
  }
  const names = d.params.map((p) => p.name)
  const list = (values: readonly string[]) => (values.length > 12 ? `${values.slice(0, 12).join(', ')}, …` : values.join(', '))
  const options: SweepGridOptions = {}
  const x = one('x')
  const y = one('y')
  if (x !== undefined && !names.includes(x)) return `x: ${quoted(x)} is not a parameter of this sweep's child runs (${list(names)})`
  if (y !== undefined && !names.includes(y)) return `y: ${quoted(y)} is not a parameter of this sweep's child runs (${list(names)})`
  if (names.length >= 2 && x !== undefined && x === y) return `x and y: both are ${quoted(x)}; choose two different parameters`
  if (x !== undefined) options.x = x
  if (y !== undefined) options.y = y
  const metric = one('metric')
  if (metric !== undefined && !d.metrics.includes(metric)) return `metric: ${quoted(metric)} is not a metric with a finite value in this sweep's child runs (${list(d.metrics)})`
  if (metric !== undefined) options.metric = metric
  const dir = one('dir')
  if (dir !== undefined && dir !== 'max' && dir !== 'min') return `dir: must be max (higher is better) or min (lower is better); received ${quoted(dir)}`
  if (dir !== undefined) options.direction = dir as SweepDirection
  const agg = one('agg')
  if (agg !== undefined && !SWEEP_AGGREGATES.includes(agg as SweepAggregate)) return `agg: must be one of ${SWEEP_AGGREGATES.join(', ')}; received ${quoted(agg)}`
  if (agg !== undefined) options.aggregate = agg as SweepAggregate
  const others = one('others')
  if (others !== undefined && others !== 'slice' && others !== 'aggregate') return `others: must be slice or aggregate; received ${quoted(others)}`
  if (others !== undefined) options.others = others
  // Digits only (no "1e1", "08.0"): the canonical number goes into the cache key.
  const bins = one('bins')
  if (bins !== undefined && !(/^\d{1,2}$/.test(bins) && Number(bins) >= MIN_SWEEP_BINS && Number(bins) <= MAX_SWEEP_BINS)) return `bins: must be a whole number from ${MIN_SWEEP_BINS} to ${MAX_SWEEP_BINS} (how many ranges a numeric axis with more values is cut into); received ${quoted(bins)}`
  if (bins !== undefined) options.bins = Number(bins)
  // Two axes with thousands of text values each would make millions of cells: refused before any is built.
  const [xName, yName] = sweepAxisNames(d.params, options.x, options.y, options.bins)
  const xParam = d.params.find((p) => p.name === xName)
  const yParam = d.params.find((p) => p.name === yName)
  if (xParam !== undefined && yParam !== undefined && xParam !== yParam) {
    const over = sweepCellsOver(xParam, yParam, options.bins)
    if (over !== undefined) return over
  }
  const fixed = dict<string>()
  for (const [k, v] of q) {
    if (!k.startsWith(FIX)) continue
    const name = k.slice(FIX.length)
    const p = d.params.find((p) => p.name === name)
    if (p === undefined) return `${quoted(k)}: no parameter named ${quoted(name)} in this sweep's child runs (${list(names)})`
    if (v !== ALL_VALUES && !p.values.includes(v)) return `${quoted(k)}: ${quoted(v)} is not a value of ${quoted(name)} (${list(p.values)}) nor * (all values)`
    fixed[name] = v
  }
  if (Object.keys(fixed).length > 0) options.fixed = fixed
  const key = [
    ...NAMES.map((n) => [n, n === 'bins' && options.bins !== undefined ? String(options.bins) : one(n)] as const).filter(([, v]) => v !== undefined),
    ...Object.entries(fixed)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [`${FIX}${k}`, v] as const),
  ]
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`)
    .join('&')
  return { options, key }
}

function renderSection(parent: RunSummary, d: SweepData | undefined, asked: SweepGridOptions): string {
  if (d === undefined) return ''
  const parentId = parent.info.runId
  // The objective: a sweep's ranking metric (its `metric` parameter), a study's trial value (it logs best_value).
  const objective = parent.params.metric ?? (parent.metrics.best_value === undefined ? undefined : 'value')
  const metric = asked.metric ?? defaultMetric(d.metrics, objective)!
  const auto = autoDirection(parent, d, metric)
  const base: SweepGridOptions = { ...asked, params: d.params, ...(objective === undefined ? {} : { objective }), ...(asked.direction === undefined ? { direction: auto } : {}) }
  const out: string[] = [`<section id="sweep" class="sweep" data-sweep="">`]
  if (d.params.length < 2) {
    const direction = asked.direction ?? auto
    const pc = sweepParallel(d.children, d.params, metric, direction)
    out.push(`<h2>Sweep: ${esc(metric)} over ${d.children.length} child runs</h2><p class="muted">One parameter only: no heatmap.</p><div class="chart scroll">${pc.svg}</div></section>`)
    return out.join('')
  }
  // A slice named for a parameter now on an axis (the form still carries it after x or y changed) is ignored by sweepGrid.
  let grid: SweepGrid
  try {
    grid = sweepGrid(d.children, base)
  } catch (error) {
    // Choices that were valid alone but not together (e.g. only y given, equal to the default x).
    return `${out[0]}<h2>Sweep</h2><div class="error-box" role="alert">${esc(error instanceof Error ? error.message : String(error))}</div></section>`
  }
  const cells = grid.cells.filter((c) => c !== undefined).length
  out.push(`<h2>Sweep: ${esc(grid.metric)} by ${esc(grid.x.name)} × ${esc(grid.y.name)}</h2>`)
  out.push(form(parentId, d, grid, asked, auto))
  out.push(verdict(grid))
  out.push(`<div class="chart scroll">${sweepHeatmap(grid)}<p class="muted" data-sweep-readout="heatmap" aria-live="polite"></p></div>`)
  const sliced = Object.entries(grid.fixed)
  const binnedAxes = [grid.x, grid.y].filter((a) => a.bins !== undefined)
  out.push(
    `<p class="muted">${
      binnedAxes.length === 0
        ? ''
        : `${binnedAxes.map((a) => `${esc(a.name)} (${fmtNumber(d.params.find((p) => p.name === a.name)!.values.length)} values)`).join(' and ')} ${binnedAxes.length === 1 ? 'is' : 'are'} cut into ${grid.bins} ranges holding about the same number of runs each (bins=${grid.bins}); a cell combines the runs in its ranges by their ${esc(grid.aggregate)}, and its tooltip gives its ranges and run count. `
    }${cells} of ${grid.x.values.length * grid.y.values.length} cells hold runs (${grid.used} runs${grid.unscored > 0 ? `; ${grid.unscored} of the ${d.children.length} child runs have no finite ${esc(grid.metric)}` : ''}).${
      sliced.length === 0 ? '' : ` Other parameters: ${sliced.map(([k, v]) => (v === ALL_VALUES ? `${esc(k)} (${esc(grid.aggregate)} over all values)` : `${esc(k)} = ${esc(v)}`)).join(', ')}.`
    } ${
      grid.cells.length <= DETAILED_CELLS
        ? "A cell's tooltip gives its neighbours' median (the up-to-8 surrounding cells with runs); a cell of one run links to it."
        : `The grid has more than ${fmtNumber(DETAILED_CELLS)} cells: no per-cell tooltips or links (slice or choose other axes for them).`
    } The best cell is outlined.</p>`,
  )
  const pcKey = `${grid.metric}\u0000${grid.direction}\u0000${grid.bestRun?.runId ?? ''}`
  let pc = d.parallel.get(pcKey)
  if (pc === undefined) {
    // At most four kept per sweep (up to ~150 KB each at 2,000 lines): the oldest goes first.
    if (d.parallel.size >= 4) d.parallel.delete(d.parallel.keys().next().value!)
    d.parallel.set(pcKey, (pc = sweepParallel(d.children, d.params, grid.metric, grid.direction, grid.bestRun === undefined ? {} : { bestRunId: grid.bestRun.runId })))
  }
  out.push(`<h3>Parallel coordinates</h3><div class="chart scroll">${pc.svg}<p class="muted" data-sweep-readout="parallel" aria-live="polite"></p></div>`)
  out.push(
    `<p class="muted">${pc.drawn < pc.runs ? `${fmtNumber(pc.drawn)} of ${fmtNumber(pc.runs)} runs drawn (every ${fmtNumber(Math.round((pc.runs / pc.drawn) * 10) / 10)}th in logging order; the best run always). ` : `${fmtNumber(pc.runs)} runs. `}Colour: ${esc(grid.metric)}, yellow = better; the best run of the sweep in red.</p>`,
  )
  out.push('</section>')
  return out.join('')
}

/**
 * Which way `metric` is better when the request does not say: a study's `value` the way its parent's
 * best_value went (a study minimizes unless told otherwise, and does not log its direction), else by name.
 */
function autoDirection(parent: RunSummary, d: SweepData, metric: string): SweepDirection {
  const best = parent.metrics.best_value?.value
  if (metric === 'value' && best !== undefined && Number.isFinite(best)) {
    let lo = Infinity
    let hi = -Infinity
    for (const c of d.children) {
      const v = c.metrics.value
      if (v === undefined || !Number.isFinite(v)) continue
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
    if (best === lo && best !== hi) return 'min'
    if (best === hi && best !== lo) return 'max'
  }
  return defaultDirection(metric)
}

function options(values: readonly string[], selected: string | undefined, labels: Record<string, string> = {}): string {
  return values.map((v) => `<option value="${attr(v)}"${v === selected ? ' selected' : ''}>${esc(labels[v] ?? v)}</option>`).join('')
}

function form(parentId: string, d: SweepData, grid: SweepGrid, asked: SweepGridOptions, auto: SweepDirection): string {
  const action = `/runs/${seg(parentId)}#sweep`
  const names = d.params.map((p) => p.name)
  const field = (label: string, html: string) => `<label>${esc(label)} ${html}</label>`
  const select = (name: string, html: string) => `<select name="${attr(name)}" style="max-width: 16em">${html}</select>`
  const parts = [
    field('x', select('x', options(names, grid.x.name))),
    field('y', select('y', options(names, grid.y.name))),
    field('metric', select('metric', options(d.metrics, grid.metric))),
    field('better', select('dir', `<option value="">auto (${auto === 'max' ? 'higher' : 'lower'})</option>${options(['max', 'min'], asked.direction, { max: 'higher', min: 'lower' })}`)),
    field('cells combine by', select('agg', options(SWEEP_AGGREGATES, grid.aggregate))),
  ]
  // The bin count, when an axis is binned (or was asked to be): a grid sweep's few values show no such field.
  if (asked.bins !== undefined || [grid.x, grid.y].some((a) => a.bins !== undefined))
    parts.push(field('bins', `<input type="number" name="bins" min="${MIN_SWEEP_BINS}" max="${MAX_SWEEP_BINS}" step="1" value="${grid.bins}" style="width: 4.5em" title="a numeric axis with more values than this is cut into this many ranges (${MIN_SWEEP_BINS}–${MAX_SWEEP_BINS}; default ${DEFAULT_SWEEP_BINS})">`))
  const others = d.params.filter((p) => p.name !== grid.x.name && p.name !== grid.y.name)
  const slices = others.map((p) => {
    const value = grid.fixed[p.name]
    const name = `${FIX}${p.name}`
    if (p.values.length > MAX_OPTIONS) return field(p.name, `<input type="text" name="${attr(name)}" value="${attr(value ?? ALL_VALUES)}" size="10" title="a value, or * for all">`)
    return field(p.name, select(name, `<option value="${ALL_VALUES}"${value === ALL_VALUES ? ' selected' : ''}>all (${esc(grid.aggregate)})</option>${options(p.values, value)}`))
  })
  return `<form class="sweep-form" method="get" action="${attr(action)}" data-sweep-form=""><p>${parts.join(' ')}</p>${
    slices.length === 0 ? '' : `<p>other parameters (sliced at the best run's values unless chosen${others.some((p) => isSweepBinned(p, grid.bins)) ? `; numeric ones with more than ${grid.bins} values are aggregated over, an exact value holding too few runs` : ''}): ${slices.join(' ')}</p>`
  }<p><button type="submit">Show</button> ${link(action, 'default view').html}${others.length === 0 ? '' : ` · ${link(`/runs/${seg(parentId)}?x=${encodeURIComponent(grid.x.name)}&y=${encodeURIComponent(grid.y.name)}&others=aggregate${asked.bins === undefined ? '' : `&bins=${asked.bins}`}#sweep`, 'aggregate over every other parameter').html}`}</p></form>`
}

function verdict(grid: SweepGrid): string {
  const best = grid.best
  const v = grid.verdict
  if (best === undefined || v === undefined) return `<p class="verdict">No cell holds a run with a finite ${esc(grid.metric)} in this slice.</p>`
  const where = `${sweepAxisPlace(grid.x, best.xi)}, ${sweepAxisPlace(grid.y, best.yi)}`
  const fmt = (v: number | undefined) => fmtMetric(grid.metric, v)
  const value = `${grid.metric} ${fmt(best.value)}${best.count === 1 ? '' : ` (${grid.aggregate} of ${best.count} runs)`}`
  const cell = best.runId === undefined ? esc(`Best cell ${where}`) : `Best cell ${link(`/runs/${seg(best.runId)}`, where).html}`
  const ratio = v.ratio === undefined ? '' : ` (${fmtNumber(Math.round(v.ratio * 100) / 100)} of the best)`
  const rule =
    '<span class="muted">Isolated: the neighbours’ median falls short of the best by more than half the best’s magnitude (for a positive, higher-is-better metric: below 50 % of the peak).</span>'
  if (v.kind === 'alone') return `<p class="verdict" data-verdict="alone">${cell}: ${esc(value)}; no neighbouring cell holds runs, so its robustness cannot be judged.</p>`
  if (v.kind === 'isolated') return `<p class="verdict" data-verdict="isolated"><strong>${cell}: ${esc(value)}; neighbours’ median ${esc(fmt(v.neighbours))}${esc(ratio)} — an isolated peak, likely overfit.</strong> ${rule}</p>`
  return `<p class="verdict" data-verdict="robust">${cell}: ${esc(value)}; robust: neighbours’ median ${esc(fmt(v.neighbours))}${esc(ratio)}. ${rule}</p>`
}
