// Observable Plot rendered server-side: Plot needs a DOM document, which linkedom provides, so charts
// become SVG strings in notebooks, dashboards and the server without a browser.
// (No DOM types here: lib/ compiles without the "dom" lib, in tslab as in tsc.)

import * as Plot from '@observablehq/plot'
import { parseHTML } from 'linkedom'

/** What a rendered chart is to us: markup with a tag name (an <svg>, or a <figure> with legends). */
export interface RenderedElement {
  outerHTML: string
  tagName: string
}

/** A scale of a rendered chart as Plot describes it (`figure.scale('x')`). */
export interface RenderedScale {
  type: string
  domain: unknown[]
  range?: number[]
}

type PlotDocument = NonNullable<Plot.PlotOptions['document']>
let shared: PlotDocument | undefined

/** A server-side DOM document for Plot (one per process). */
export function plotDocument(): PlotDocument {
  shared ??= parseHTML('<!DOCTYPE html><html><head></head><body></body></html>').document as unknown as PlotDocument
  return shared
}

interface Queryable {
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>
}

/** Pixels between the y axis and its tick labels' right edge: Plot's tickSize 6 + tickPadding 3. */
const TICK_GAP = 9
/** Room left of the widest label (the y-axis label "↑ name" starts 37 px left of the axis). */
const MIN_MARGIN_LEFT = 40

/**
 * The width a label takes at a font size, estimated on the generous side (no font metrics on the server):
 * digits, letters and minus signs 0.62 em, wide capitals 0.9 em, separators ("," "." " ") 0.32 em.
 */
export function labelWidth(text: string, fontSize: number): number {
  let em = 0
  for (const ch of text) em += /[,.:;' ]/.test(ch) ? 0.32 : /[MWmw%@]/.test(ch) ? 0.9 : 0.62
  return em * fontSize
}

/** The font size (px) a chart's labels are drawn at: its style's fontSize, else Plot's 10. */
function fontSizeOf(options: Plot.PlotOptions): number {
  const style = options.style
  const size = typeof style === 'object' && style !== null ? parseFloat(String((style as { fontSize?: unknown }).fontSize ?? '')) : NaN
  return Number.isFinite(size) && size > 0 ? size : 10
}

/**
 * `Plot.plot(options)` with the server-side document, its left margin widened to fit the widest y tick
 * label (a 7-digit "1,234,567" needs ~60 px at 11 px; Plot's default margin is 40): drawn once, and again
 * with the margin that fits when the labels drawn would stick out. A given marginLeft is the least margin.
 */
export function renderPlot(options: Plot.PlotOptions): RenderedElement {
  const document = plotDocument()
  const first = Plot.plot({ ...options, document }) as unknown as RenderedElement & Queryable
  const margin = options.marginLeft ?? MIN_MARGIN_LEFT
  const size = fontSizeOf(options)
  let widest = 0
  for (const label of Array.from(first.querySelectorAll('g[aria-label="y-axis tick label"] text'))) widest = Math.max(widest, labelWidth(label.textContent ?? '', size))
  const need = Math.ceil(widest + TICK_GAP + 3)
  if (need <= margin) return first
  return Plot.plot({ ...options, marginLeft: need, document }) as unknown as RenderedElement
}

/** The chart as markup. */
export function plotToString(options: Plot.PlotOptions): string {
  return renderPlot(options).outerHTML
}

/** A scale of a rendered chart (x, y, color …), undefined when it has none. */
export function plotScale(element: RenderedElement, name: string): RenderedScale | undefined {
  return (element as unknown as { scale(name: string): RenderedScale | undefined }).scale(name)
}
