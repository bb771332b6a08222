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

type PlotDocument = NonNullable<Plot.PlotOptions['document']>
let shared: PlotDocument | undefined

/** A server-side DOM document for Plot (one per process). */
export function plotDocument(): PlotDocument {
  shared ??= parseHTML('<!DOCTYPE html><html><head></head><body></body></html>').document as unknown as PlotDocument
  return shared
}

/** `Plot.plot(options)` with the server-side document. */
export function renderPlot(options: Plot.PlotOptions): RenderedElement {
  return Plot.plot({ ...options, document: plotDocument() }) as unknown as RenderedElement
}

/** The chart as markup. */
export function plotToString(options: Plot.PlotOptions): string {
  return renderPlot(options).outerHTML
}
