// Server-side syntax highlighting for the pages (notebook code cells, strategy sources, registry files,
// artifact previews): highlight.js with only the languages shown here registered, loaded on first use so
// nothing that merely imports lib/server (the CLI's --help) pays for it. highlight.js escapes the code
// itself (&, <, >, ", ') and only adds <span class="hljs-…">, so its output is safe markup.

import { createRequire } from 'node:module'
import { join } from 'node:path'
import { moduleDir } from '../core/index.js'
import { attr } from '../report/html.js'

export const HIGHLIGHT_LANGUAGES = ['typescript', 'javascript', 'python', 'json', 'yaml', 'sql', 'bash'] as const
export type HighlightLanguage = (typeof HIGHLIGHT_LANGUAGES)[number]

/**
 * Code highlighted on one page at most: past it, code is shown escaped but not highlighted. highlight.js runs
 * ~0.3–1 MB/s on ordinary code and slower on hostile input (200,000 characters of nested JSON brackets take
 * ~0.5 s), and it blocks the server while it runs: one budget per page, not per block, bounds that.
 */
export const HIGHLIGHT_PAGE_CHARS = 200_000
/** Beyond this many characters one block of code is never highlighted (a page's whole budget). */
export const HIGHLIGHT_MAX_CHARS = HIGHLIGHT_PAGE_CHARS

/**
 * A page's highlighting budget: the characters of code it may still highlight, and what it showed plain for
 * want of budget. A block is highlighted only when it fits in what is left; the first that does not ends the
 * budget, so a page highlights its first blocks and shows the rest plain.
 */
export interface HighlightBudget {
  remaining: number
  /** Blocks (in a language of ours) shown plain because the budget was spent. */
  plainBlocks: number
  plainChars: number
  /** Numbered blocks shown plain because their spans nest across too many lines (see NUMBERED_GROWTH). */
  deepBlocks: number
}

export function highlightBudget(chars: number = HIGHLIGHT_PAGE_CHARS): HighlightBudget {
  if (!(chars >= 0)) throw new RangeError(`highlight budget must be a number ≥ 0 (received ${String(chars)})`)
  return { remaining: chars, plainBlocks: 0, plainChars: 0, deepBlocks: 0 }
}

/** A note (HTML) saying what a spent budget left plain, or '' when everything fitted. */
export function highlightNote(budget: HighlightBudget): string {
  const n = (x: number) => x.toLocaleString('en-US')
  const notes: string[] = []
  if (budget.plainBlocks > 0) notes.push(`<p class="muted highlight-note">Code is highlighted up to ${n(HIGHLIGHT_PAGE_CHARS)} characters a page: ${n(budget.plainBlocks)} block(s) after that (${n(budget.plainChars)} characters) are shown as plain text.</p>`)
  if (budget.deepBlocks > 0) notes.push(`<p class="muted highlight-note">${n(budget.deepBlocks)} block(s) are shown as plain text: their highlighting nests across so many lines that its markup would be more than ${NUMBERED_GROWTH} times the code.</p>`)
  return notes.join('')
}

/**
 * A numbered block's markup at most NUMBERED_GROWTH × its code + NUMBERED_SLACK characters of reopened and
 * closed spans: each line repeats the spans still open, so 1,000 nested template strings over 4,000 lines
 * would be hundreds of MB. Past it the block is shown plain (escaped, numbered, not highlighted).
 */
export const NUMBERED_GROWTH = 8
export const NUMBERED_SLACK = 64 * 2 ** 10

const EXTENSIONS: Readonly<Record<string, HighlightLanguage>> = {
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'typescript',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  py: 'python',
  json: 'json',
  ipynb: 'json',
  yaml: 'yaml',
  yml: 'yaml',
  sql: 'sql',
  sh: 'bash',
  bash: 'bash',
}

const ALIASES: Readonly<Record<string, HighlightLanguage>> = { ts: 'typescript', js: 'javascript', py: 'python', python3: 'python', yml: 'yaml', sh: 'bash', shell: 'bash' }

interface Hljs {
  highlight(code: string, options: { language: string; ignoreIllegals: boolean }): { value: string }
  registerLanguage(name: string, language: unknown): void
}

// Loaded through Node's require from this folder (works under every loader lib runs in: see lib/data/packages.ts).
const load = createRequire(join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'highlight.ts'))
let instance: Hljs | undefined

function hljs(): Hljs {
  if (instance !== undefined) return instance
  const core = load('highlight.js/lib/core') as { newInstance(): Hljs }
  // A private instance: nobody else's registrations or configuration reach it.
  const h = core.newInstance()
  for (const name of HIGHLIGHT_LANGUAGES) h.registerLanguage(name, load(`highlight.js/lib/languages/${name}`))
  instance = h
  return h
}

/** The language of a file by its extension ("source.ts" → typescript), or undefined. */
export function languageOfFile(name: string): HighlightLanguage | undefined {
  const dot = name.lastIndexOf('.')
  if (dot < 0) return undefined
  // Own keys only: "helper.constructor" found Object's constructor.
  const ext = name.slice(dot + 1).toLowerCase()
  return Object.hasOwn(EXTENSIONS, ext) ? EXTENSIONS[ext] : undefined
}

/** A language name as notebooks and users spell it ("TypeScript", "python3", "sh"), or undefined. */
export function languageNamed(name: unknown): HighlightLanguage | undefined {
  if (typeof name !== 'string') return undefined
  const n = name.trim().toLowerCase()
  return (HIGHLIGHT_LANGUAGES as readonly string[]).includes(n) ? (n as HighlightLanguage) : Object.hasOwn(ALIASES, n) ? ALIASES[n] : undefined
}

/**
 * `code` as HTML: escaped text with highlight.js's spans when the language is one of ours and the code is at
 * most HIGHLIGHT_MAX_CHARS and fits in `budget` (which it then spends); escaped text only otherwise (never
 * guessed: auto-detection is slow and wrong).
 */
export function highlightCode(code: string, language: HighlightLanguage | undefined, budget?: HighlightBudget): string {
  if (language === undefined) return attr(code)
  if (code.length > HIGHLIGHT_MAX_CHARS || (budget !== undefined && code.length > budget.remaining)) {
    if (budget !== undefined) {
      budget.remaining = 0
      budget.plainBlocks++
      budget.plainChars += code.length
    }
    return attr(code)
  }
  if (budget !== undefined) budget.remaining -= code.length
  try {
    return hljs().highlight(code, { language, ignoreIllegals: true }).value
  } catch {
    return attr(code)
  }
}

/**
 * A code box: `<pre class="code"><code class="hljs">…</code></pre>`, long lines scrolling inside it; with
 * `lineNumbers`, each line a `<span class="line" id="L<n>">` numbered by CSS (the numbers are not copied
 * with the code). Spans highlight.js opens across a line break are closed and reopened per line. `budget`:
 * the page's highlighting budget (HIGHLIGHT_PAGE_CHARS for this block alone when not given).
 */
export function codeBlock(code: string, options: { language?: HighlightLanguage; lineNumbers?: boolean; wrap?: boolean; budget?: HighlightBudget } = {}): string {
  const budget = options.budget ?? highlightBudget()
  let html = highlightCode(code, options.language, budget)
  const cls = `code${options.wrap === true ? ' wrap' : ''}${options.lineNumbers === true ? ' numbered' : ''}`
  const lang = options.language === undefined ? '' : ` language-${options.language}`
  if (options.lineNumbers !== true) return `<pre class="${cls}"><code class="hljs${lang}">${html}</code></pre>`
  // The text of the box is the code exactly: a line break after every line but a last one the code lacks.
  if (reopenedChars(html, NUMBERED_GROWTH * code.length + NUMBERED_SLACK) === undefined) {
    budget.deepBlocks++
    html = attr(code)
  }
  const lines = splitLines(html)
  const end = code.endsWith('\n') ? '\n' : ''
  return `<pre class="${cls}"><code class="hljs${lang}">${lines.map((line, i) => `<span class="line" id="L${i + 1}">${line}${i < lines.length - 1 ? '\n' : end}</span>`).join('')}</code></pre>`
}

/**
 * The characters of span tags splitLines would add to `html` (the open spans reopened at each line's start and
 * closed at its end), or undefined as soon as they pass `limit`: one pass, nothing built.
 */
export function reopenedChars(html: string, limit: number): number | undefined {
  const open: number[] = []
  let openChars = 0
  let total = 0
  const tag = /<span[^>]*>|<\/span>|\n/g
  for (let m = tag.exec(html); m !== null; m = tag.exec(html)) {
    if (m[0] === '\n') {
      // The line ending here closes what is open; the next one reopens it.
      total += open.length * 7 + openChars
      if (total > limit) return undefined
    } else if (m[0] === '</span>') openChars -= open.pop() ?? 0
    else {
      open.push(m[0].length)
      openChars += m[0].length
    }
  }
  return total
}

/** Highlighted HTML split at its line breaks, each line's markup balanced (spans reopened where they continue). */
export function splitLines(html: string): string[] {
  // The code's last line break (the spans it is inside may close after it) ends the last line, not a new one.
  const text = html.replace(/\n((?:<\/span>)*)$/, '$1')
  const lines: string[] = []
  const open: string[] = []
  for (const line of text.split('\n')) {
    const prefix = open.join('')
    for (const m of line.matchAll(/<span[^>]*>|<\/span>/g)) {
      if (m[0] === '</span>') open.pop()
      else open.push(m[0])
    }
    lines.push(prefix + line + '</span>'.repeat(open.length))
  }
  return lines
}

/**
 * The styles of code boxes and highlight.js's classes (a light theme after GitHub's). Pages include it in a
 * <style> of their body (the page CSP allows inline styles, not scripts).
 */
export const HIGHLIGHT_CSS = `
pre.code { background: #f6f8fa; border: 1px solid #e1e4e8; padding: .6em .8em; overflow: auto; max-width: 100%; max-height: 80vh; tab-size: 4; }
pre.code.wrap { white-space: pre-wrap; overflow-wrap: anywhere; max-height: none; }
pre.code.numbered { counter-reset: line; padding-left: 0; }
pre.code.numbered .line { display: block; padding-left: 4.2em; position: relative; }
pre.code.numbered .line::before { counter-increment: line; content: counter(line); position: absolute; left: 0; width: 3.4em; text-align: right; color: #8c959f; user-select: none; }
pre.code.numbered .line:target { background: #fff8c5; }
.hljs-comment, .hljs-quote { color: #6a737d; font-style: italic; }
.hljs-keyword, .hljs-selector-tag, .hljs-type, .hljs-meta .hljs-keyword, .hljs-doctag, .hljs-template-tag { color: #cf222e; }
.hljs-string, .hljs-regexp, .hljs-meta .hljs-string, .hljs-addition { color: #0a3069; }
.hljs-number, .hljs-literal, .hljs-variable, .hljs-template-variable, .hljs-attr, .hljs-symbol, .hljs-selector-attr, .hljs-operator { color: #0550ae; }
.hljs-title, .hljs-title.function_, .hljs-section, .hljs-name { color: #6639ba; }
.hljs-built_in, .hljs-title.class_, .hljs-class .hljs-title { color: #953800; }
.hljs-params, .hljs-subst { color: inherit; }
.hljs-meta, .hljs-bullet, .hljs-link { color: #116329; }
.hljs-deletion { color: #82071e; background: #ffebe9; }
.hljs-emphasis { font-style: italic; }
.hljs-strong { font-weight: bold; }
`

/** HIGHLIGHT_CSS as a <style> element, for a page body. */
export function highlightStyle(): string {
  return `<style>${HIGHLIGHT_CSS}</style>`
}
