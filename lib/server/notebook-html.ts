// An executed Jupyter notebook (nbformat 4) as an HTML fragment for the server's pages. Markdown goes
// through marked, and every piece of markup the notebook supplies (markdown, text/html, SVG) through
// sanitizeHtml, its styles kept inside its own box; everything else is escaped text. Code cells are
// highlighted on the server (highlight.ts) in the notebook's language, within one budget for the whole
// notebook (HIGHLIGHT_PAGE_CHARS: later cells plain, and a note says so), and wrap inside their box. Markup
// (markdown, HTML, SVG) has a budget too (MARKUP_CHARS): past it, markdown is shown as its source and an
// output as its next plain representation. At most NOTEBOOK_CELLS cells, NOTEBOOK_OUTPUTS outputs and
// NOTEBOOK_TEXT_CHARS characters of text are shown, each cut said in a note. Class names are stable so a page stylesheet can style them.

import { marked } from 'marked'
import type { MultilineString, NotebookCell } from '../../kernel/nbformat.js'
import { ConfigError } from '../core/index.js'
import { attr as escapeHtml } from '../report/html.js'
import { MARKDOWN_TIMEOUT_MS, renderMarkdown } from './markdown.js'
import { sanitizeHtml } from './sanitize.js'
import { HIGHLIGHT_CSS, highlightBudget, highlightCode, highlightNote, languageNamed, type HighlightBudget, type HighlightLanguage } from './highlight.js'

export interface RenderNotebookOptions {
  /** Shown as the fragment's heading. */
  title?: string
  /** The page's highlighting budget (a fresh HIGHLIGHT_PAGE_CHARS when not given): code past it is plain. */
  budget?: HighlightBudget
  /**
   * Markdown's HTML (unsanitized), or undefined to show the source: marked on this thread when not given.
   * The server's renderNotebookHtmlAsync gives what a thread of its own rendered.
   */
  markdown?: (source: string) => string | undefined
}

/**
 * The boxes notebook markup is shown in, as selectors for sanitizeHtml's styleScope: a <style> in an output or
 * a markdown cell only reaches inside its box, and the page CSS (lib/report/html.ts) clips each box.
 */
const OUTPUT_BOX = '.notebook .output'
const MARKDOWN_BOX = '.notebook .cell-markdown'

/**
 * Characters of markup (markdown, HTML, SVG) a notebook renders at most: marked and the sanitizer run ~0.5–2
 * MB/s and block the server while they do, so a notebook of megabytes of markdown would take seconds.
 */
export const MARKUP_CHARS = 500_000

/** What is left of a notebook's markup budget, and how many cells or outputs it left unrendered. */
interface MarkupBudget {
  remaining: number
  plain: number
  /** Characters of text (sources, streams, plain and JSON outputs, tracebacks) still shown; then cut. */
  text: number
  /** Texts cut for the text budget. */
  cut: number
  /** Outputs still shown (NOTEBOOK_OUTPUTS at first); then counted in `dropped` and not rendered. */
  outputs: number
  dropped: number
  /** How markdown becomes HTML in this render (RenderNotebookOptions.markdown). */
  markdown: (source: string) => string | undefined
  /** Markdown shown as its source because it was not rendered (too slow, or marked failed). */
  unrendered: number
}

/** Characters of text a notebook shows at most (2 Mi: what a text preview shows), the rest cut with a note. */
export const NOTEBOOK_TEXT_CHARS = 2 * 2 ** 20

/** Cells a notebook shows at most (each is a few hundred bytes of markup even when its text is spent). */
export const NOTEBOOK_CELLS = 5_000

/** Outputs a notebook shows at most (each is markup of its own even when empty: 300,000 of them were 15 MB). */
export const NOTEBOOK_OUTPUTS = 5_000

/** `text` within the notebook's text budget: whole, or cut where the budget ends (and counted). */
function shownText(budget: MarkupBudget, text: string): string {
  if (text.length <= budget.text) {
    budget.text -= text.length
    return text
  }
  const kept = text.slice(0, budget.text)
  budget.text = 0
  budget.cut++
  return `${kept}…`
}

/** An output's class (beside "output") and inner markup. */
interface Shown {
  kind: string
  html: string
}
type Renderer = (value: unknown, budget: MarkupBudget) => Shown | undefined

/** The richest representation first; a renderer that cannot use its value passes to the next type. */
const MIME_RENDERERS: Array<[string, Renderer]> = [
  ['image/svg+xml', (v, b) => ifMarkup(v, b, (svg) => ({ kind: 'output-svg', html: sanitizeHtml(svg, { styleScope: OUTPUT_BOX }) }))],
  ['text/html', (v, b) => ifMarkup(v, b, (html) => ({ kind: 'output-html', html: sanitizeHtml(html, { styleScope: OUTPUT_BOX }) }))],
  ['image/png', (v) => image('image/png', v)],
  ['image/jpeg', (v) => image('image/jpeg', v)],
  ['text/markdown', (v, b) => ifMarkup(v, b, (md) => ({ kind: 'output-markdown', html: markdown(md, OUTPUT_BOX, b) }))],
  ['application/json', (v, b) => json(v, b)],
  ['text/plain', (v, b) => ifText(v, (text) => ({ kind: 'output-text', html: `<pre>${escapeHtml(shownText(b, stripAnsi(text)))}</pre>` }))],
]

/** Whether `text` fits in the markup budget (spending it); the first that does not ends the budget. */
function spend(budget: MarkupBudget, text: string): boolean {
  if (text.length <= budget.remaining) {
    budget.remaining -= text.length
    return true
  }
  budget.remaining = 0
  budget.plain++
  return false
}

function ifMarkup(value: unknown, budget: MarkupBudget, render: (text: string) => Shown): Shown | undefined {
  return ifText(value, (text) => (spend(budget, text) ? render(text) : undefined))
}

/** A notebook file's JSON for renderNotebookHtml; not JSON is a ConfigError naming `what` (the page says it and offers the file). */
export function parseNotebookJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`${what} is not valid JSON: not shown as a notebook`, { cause: error })
  }
}

/** `<div class="notebook">…</div>`: every cell in order, code cells with their outputs. */
export function renderNotebookHtml(notebook: unknown, options: RenderNotebookOptions = {}): string {
  if (options.title !== undefined && typeof options.title !== 'string') {
    throw new ConfigError(`title must be a string (received ${describe(options.title)})`)
  }
  const cells = checkCells(notebook)
  const language = notebookLanguage(notebook as Record<string, unknown>)
  const budget = options.budget ?? highlightBudget()
  const markup: MarkupBudget = { remaining: MARKUP_CHARS, plain: 0, text: NOTEBOOK_TEXT_CHARS, cut: 0, outputs: NOTEBOOK_OUTPUTS, dropped: 0, markdown: options.markdown ?? ((source) => marked.parse(source, { async: false })), unrendered: 0 }
  const rendered = cells.slice(0, NOTEBOOK_CELLS).map((cell) => renderCell(cell, language, budget, markup))
  const parts = ['<div class="notebook">']
  // The code cells' style first: the cells stay the box's last children (a page's :last-child rules).
  if (cells.some((c) => c.cell_type === 'code')) parts.push(`<style>${NOTEBOOK_CSS}</style>`)
  if (options.title !== undefined) parts.push(`<h1 class="notebook-title">${escapeHtml(options.title)}</h1>`)
  const note = highlightNote(budget)
  if (note !== '') parts.push(note)
  if (markup.plain > 0) parts.push(`<p class="muted markup-note">Markup (markdown, HTML, SVG) is rendered up to ${MARKUP_CHARS.toLocaleString('en-US')} characters a notebook: ${markup.plain.toLocaleString('en-US')} cell(s) or output(s) after that are shown as text.</p>`)
  if (markup.unrendered > 0) parts.push(`<p class="muted markdown-note">${markup.unrendered.toLocaleString('en-US')} markdown cell(s) or output(s) shown as source: not rendered within ${MARKDOWN_TIMEOUT_MS / 1000} s, or the renderer failed on them.</p>`)
  if (markup.cut > 0) parts.push(`<p class="muted text-note">Text (sources, streams, plain outputs) is shown up to ${NOTEBOOK_TEXT_CHARS.toLocaleString('en-US')} characters a notebook: ${markup.cut.toLocaleString('en-US')} text(s) were cut there (ending in …).</p>`)
  if (markup.dropped > 0) parts.push(`<p class="muted outputs-note">Outputs are shown up to ${NOTEBOOK_OUTPUTS.toLocaleString('en-US')} a notebook: ${markup.dropped.toLocaleString('en-US')} later output(s) are not shown.</p>`)
  if (cells.length > NOTEBOOK_CELLS) parts.push(`<p class="muted cells-note">The first ${NOTEBOOK_CELLS.toLocaleString('en-US')} of ${cells.length.toLocaleString('en-US')} cells are shown.</p>`)
  // One at a time: a spread of 100,000+ cells would overflow the call stack.
  for (const cell of rendered) parts.push(cell)
  parts.push('</div>')
  return parts.join('\n')
}

function checkCells(notebook: unknown): NotebookCell[] {
  if (!isObject(notebook)) {
    throw new ConfigError(`notebook must be an object with a "cells" array (received ${describe(notebook)})`)
  }
  const cells = notebook.cells
  if (!Array.isArray(cells)) throw new ConfigError(`notebook "cells" must be an array (received ${describe(cells)})`)
  cells.forEach((cell: unknown, i) => {
    const where = `notebook cell ${i + 1}`
    if (!isObject(cell)) throw new ConfigError(`${where} must be an object (received ${describe(cell)})`)
    if (cell.cell_type !== 'code' && cell.cell_type !== 'markdown' && cell.cell_type !== 'raw') {
      throw new ConfigError(`${where} has cell_type ${describe(cell.cell_type)}; expected code, markdown or raw`)
    }
    if (!isMultiline(cell.source)) {
      throw new ConfigError(`${where} has source ${describe(cell.source)}; expected a string or an array of strings`)
    }
    if (cell.outputs !== undefined && !Array.isArray(cell.outputs)) {
      throw new ConfigError(`${where} has outputs ${describe(cell.outputs)}; expected an array`)
    }
  })
  return cells as NotebookCell[]
}

/** Code wraps inside its box (a long line never widens the page); highlight.js's colours. */
const NOTEBOOK_CSS = `.notebook pre.source { white-space: pre-wrap; overflow-wrap: anywhere; }${HIGHLIGHT_CSS}`

/** The kernel's language (metadata.kernelspec.language, else metadata.language_info.name), if one we highlight. */
function notebookLanguage(notebook: Record<string, unknown>): HighlightLanguage | undefined {
  const meta = notebook.metadata
  if (!isObject(meta)) return undefined
  const spec = isObject(meta.kernelspec) ? meta.kernelspec.language : undefined
  const info = isObject(meta.language_info) ? meta.language_info.name : undefined
  return languageNamed(spec) ?? languageNamed(info)
}

function renderCell(cell: NotebookCell, language: HighlightLanguage | undefined, budget: HighlightBudget, markup: MarkupBudget): string {
  const whole = joinText(cell.source)
  if (cell.cell_type === 'markdown') return `<div class="cell cell-markdown">${spend(markup, whole) ? markdown(whole, MARKDOWN_BOX, markup) : `<pre class="markdown-source">${escapeHtml(shownText(markup, whole))}</pre>`}</div>`
  const source = shownText(markup, whole)
  if (cell.cell_type === 'raw') return `<div class="cell cell-raw"><pre>${escapeHtml(source)}</pre></div>`
  const input =
    `<div class="input">${prompt('In', cell.execution_count)}` +
    (language === undefined ? `<pre class="source"><code>${escapeHtml(source)}</code></pre></div>` : `<pre class="source"><code class="hljs language-${language}">${highlightCode(source, language, budget)}</code></pre></div>`)
  const all = cell.outputs ?? []
  const kept = Math.min(all.length, markup.outputs)
  markup.outputs -= kept
  markup.dropped += all.length - kept
  const outputs: string[] = []
  for (let i = 0; i < kept; i++) outputs.push(renderOutput(all[i], markup))
  if (kept < all.length) outputs.push(note(`${(all.length - kept).toLocaleString('en-US')} output(s) not shown: the notebook's output budget (${NOTEBOOK_OUTPUTS.toLocaleString('en-US')}) is spent`))
  const body = outputs.length > 0 ? `\n<div class="outputs">\n${outputs.join('\n')}\n</div>` : ''
  return `<div class="cell cell-code">\n${input}${body}\n</div>`
}

function renderOutput(output: unknown, markup: MarkupBudget): string {
  if (!isObject(output)) return note(`unreadable output ${describe(output)}`)
  switch (output.output_type) {
    case 'stream': {
      const name = output.name === 'stderr' ? 'stderr' : 'stdout'
      return block(`stream-${name}`, `<pre>${escapeHtml(shownText(markup, stripAnsi(joinText(output.text))))}</pre>`)
    }
    case 'execute_result':
    case 'display_data': {
      const { kind, html } = renderMimeBundle(output.data, markup)
      const out = output.output_type === 'execute_result' ? prompt('Out', output.execution_count) : ''
      return block(kind, out + html)
    }
    case 'error': {
      const header = `${joinText(output.ename)}: ${joinText(output.evalue)}`
      const traceback = Array.isArray(output.traceback) ? joinText(output.traceback as unknown[], '\n') : ''
      const text = stripAnsi(traceback === '' ? header : `${header}\n${traceback}`)
      return block('error', `<pre>${escapeHtml(shownText(markup, text))}</pre>`)
    }
    default:
      return note(`output of unknown type ${describe(output.output_type)}`)
  }
}

function renderMimeBundle(data: unknown, markup: MarkupBudget): Shown {
  if (!isObject(data)) return unsupported('output without data')
  const before = markup.plain
  // An output counts once however many of its types the markup budget refused.
  const counted = <T>(x: T): T => {
    markup.plain = Math.min(markup.plain, before + 1)
    return x
  }
  for (const [mime, render] of MIME_RENDERERS) {
    if (!Object.hasOwn(data, mime)) continue
    const shown = render(data[mime], markup)
    if (shown !== undefined) return counted(shown)
  }
  const types = Object.keys(data)
  if (markup.plain > before) return counted(unsupported(`${types.join(', ')} not rendered: the notebook's markup budget (${MARKUP_CHARS.toLocaleString('en-US')} characters) is spent`))
  return unsupported(types.length === 0 ? 'empty output' : `no renderer for output of type ${types.join(', ')}`)
}

/** A base64 image as a data: URI, only when the payload is plain base64 (so nothing else rides along). */
function image(mime: string, value: unknown): Shown | undefined {
  if (!isMultiline(value)) return undefined
  const payload = joinText(value).replace(/[\r\n]/g, '')
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(payload)) return undefined
  return { kind: 'output-image', html: `<img alt="" src="data:${mime};base64,${payload}">` }
}

function json(value: unknown, budget: MarkupBudget): Shown | undefined {
  let text: string | undefined
  try {
    text = JSON.stringify(value, null, 2)
  } catch {
    return undefined // not JSON after all (a cycle, a BigInt, nested past the stack): the next type is shown
  }
  return text === undefined ? undefined : { kind: 'output-json', html: `<pre>${escapeHtml(shownText(budget, text))}</pre>` }
}

function markdown(source: string, box: string, budget: MarkupBudget): string {
  let html: string | undefined
  try {
    html = budget.markdown(source)
  } catch {
    html = undefined // marked's stack overflowed (deep nesting): the source as text
  }
  if (html !== undefined) return sanitizeHtml(html, { styleScope: box })
  budget.unrendered++
  return `<pre class="markdown-source">${escapeHtml(source)}</pre>`
}

/** The markdown a notebook would render (its markdown cells and text/markdown outputs), in order, up to the markup budget. */
function markdownSources(notebook: unknown): string[] {
  const out: string[] = []
  let remaining = MARKUP_CHARS
  const take = (text: string) => {
    if (text.length > remaining) return false
    remaining -= text.length
    out.push(text)
    return true
  }
  for (const cell of checkCells(notebook).slice(0, NOTEBOOK_CELLS)) {
    if (cell.cell_type === 'markdown') {
      if (!take(joinText(cell.source))) return out
      continue
    }
    for (const output of Array.isArray((cell as { outputs?: unknown }).outputs) ? ((cell as { outputs: unknown[] }).outputs) : []) {
      const data = isObject(output) && isObject(output.data) ? output.data : undefined
      const md = data !== undefined && Object.hasOwn(data, 'text/markdown') ? data['text/markdown'] : undefined
      if (isMultiline(md) && !take(joinText(md))) return out
    }
  }
  return out
}

/**
 * renderNotebookHtml with the markdown rendered on a thread of its own within MARKDOWN_TIMEOUT_MS (the
 * server's: marked is quadratic or worse in some inputs, and a notebook is anyone's upload): past it, or
 * when marked fails, the markdown is shown as its source, and the page says so. `complete`: the thread
 * ended in time (a source marked failed on fails again: kept) — a page that timed out is not cached (a
 * busy moment is not kept as the page).
 */
export async function renderNotebookHtmlAsync(notebook: unknown, options: Omit<RenderNotebookOptions, 'markdown'> = {}): Promise<{ html: string; complete: boolean }> {
  const sources = markdownSources(notebook)
  const rendered = await renderMarkdown(sources)
  const html = renderNotebookHtml(notebook, { ...options, markdown: (source) => rendered?.get(source) })
  return { html, complete: rendered !== undefined }
}

function prompt(label: string, count: unknown): string {
  const n = typeof count === 'number' && Number.isInteger(count) ? String(count) : ' '
  return `<div class="prompt">${label} [${n}]:</div>`
}

function block(kind: string, inner: string): string {
  return `<div class="output ${kind}">${inner}</div>`
}

function unsupported(text: string): Shown {
  return { kind: 'output-unsupported', html: `<p>${escapeHtml(text)}</p>` }
}

function note(text: string): string {
  const { kind, html } = unsupported(text)
  return block(kind, html)
}

function ifText(value: unknown, render: (text: string) => Shown | undefined): Shown | undefined {
  return isMultiline(value) ? render(joinText(value)) : undefined
}

/** Removes ANSI escape sequences (colours, cursor moves, OSC titles) and any stray ESC. */
function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-_]?/g, '')
}

/** A string, or the strings of an array joined (nbformat's multiline strings); anything else is "". */
function joinText(value: unknown, separator = ''): string {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string').join(separator)
  return ''
}

function isMultiline(value: unknown): value is MultilineString {
  return typeof value === 'string' || (Array.isArray(value) && value.every((s) => typeof s === 'string'))
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
