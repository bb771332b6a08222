// HTML building blocks shared by the server's pages and the dashboards: escaping, number formatting,
// tables and one stylesheet. Everything that reaches a page from data goes through `esc` (text) or
// `attr` (attribute values); markup from elsewhere (notebook outputs) is sanitized by lib/server.

// The project's one HTML escaping (pages, dashboards, notebook HTML, the kernel's tables, the sanitizer).
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }

/** Text content, escaped. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>]/g, (ch) => ENTITIES[ch]!)
}

/** An attribute value, escaped for use inside double quotes (also safe as text). */
export function attr(value: unknown): string {
  return String(value ?? '').replace(/[&<>"]/g, (ch) => ENTITIES[ch]!)
}

/** Markup built by us (trusted): a tagged string so tables can tell it from text. */
export class Html {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html
  }
}

export function raw(html: string): Html {
  return new Html(html)
}

/** Formatters made once: toLocaleString with options builds one per call (~40 µs each, in every table cell). */
const INTEGER = new Intl.NumberFormat('en-US')
const TWO_DECIMALS = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })

/** A number as people read it: 4 significant digits, thousands grouped, NaN/∞ spelled out. */
export function fmtNumber(v: number | undefined | null): string {
  if (v === undefined || v === null) return ''
  if (Number.isNaN(v)) return 'NaN'
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞'
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return INTEGER.format(v)
  const a = Math.abs(v)
  if (a >= 1000) return TWO_DECIMALS.format(v)
  if (a >= 1e-3 || a === 0) return Number(v.toPrecision(4)).toString()
  return v.toExponential(3)
}

/** Epoch ms as "2024-01-31 12:00:05" (UTC). */
export function fmtTime(ms: number | undefined): string {
  // Past what a Date holds (±8.64e15): '' as for none — a run file with such a time broke its page (RangeError).
  if (ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return ''
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')
}

/** A run's duration as fmtSpan writes it; '' when there is none (still running, or a clock gone backwards). */
export function fmtDuration(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) || ms < 0 ? '' : fmtSpan(ms)
}

/** Milliseconds as people read a span: "850 ms", "12.5 s", "4 min 5 s", "3 h 20 min", "2 d 3 h", "3 d". */
export function fmtSpan(ms: number): string {
  if (!Number.isFinite(ms)) return fmtNumber(ms)
  const sign = ms < 0 ? '-' : ''
  const a = Math.abs(ms)
  if (a < 1000) return `${sign}${Math.round(a)} ms`
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(1)} s`
  const minutes = Math.floor(a / 60_000)
  // The smaller unit only when it is not zero: "3 d", "3 d 4 h".
  const two = (big: string, small: number, unit: string) => `${sign}${big}${small === 0 ? '' : ` ${small} ${unit}`}`
  if (minutes < 60) return two(`${minutes} min`, Math.floor((a % 60_000) / 1000), 's')
  const hours = Math.floor(minutes / 60)
  if (hours < 24) return two(`${hours} h`, minutes % 60, 'min')
  const days = Math.floor(hours / 24)
  return two(`${days.toLocaleString('en-US')} d`, hours % 24, 'h')
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

export type Cell = string | number | boolean | Html | undefined | null

function cell(v: Cell): string {
  if (v instanceof Html) return v.html
  if (typeof v === 'number') return fmtNumber(v)
  return esc(v ?? '')
}

/** A table: header cells and rows; numbers right-aligned. `rowClass` marks rows (e.g. "differs"). */
export function table(columns: readonly string[], rows: readonly (readonly Cell[])[], options: { className?: string; rowClass?: (i: number) => string | undefined; caption?: string } = {}): string {
  const head = `<thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>`
  const body = rows
    .map((row, i) => {
      const cls = options.rowClass?.(i)
      const cells = row.map((v) => (typeof v === 'number' ? `<td class="num">${cell(v)}</td>` : `<td>${cell(v)}</td>`)).join('')
      return `<tr${cls === undefined ? '' : ` class="${attr(cls)}"`}>${cells}</tr>`
    })
    .join('')
  const caption = options.caption === undefined ? '' : `<caption>${esc(options.caption)}</caption>`
  return `<table${options.className === undefined ? '' : ` class="${attr(options.className)}"`}>${caption}${head}<tbody>${body}</tbody></table>`
}

/** A link (href escaped; only site-relative or http(s) targets are made). */
export function link(href: string, text: unknown): Html {
  const safe = /^(\/|#|\?|https?:\/\/)/.test(href) ? href : '#'
  return raw(`<a href="${attr(safe)}">${esc(text)}</a>`)
}

/** Path segment encoding for links built from names and ids. */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value))
}

export const STYLESHEET = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #fff; --panel: #f6f7f9; --accent: #2456c7; --bad: #b3261e; --good: #1b7f3b; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header.site { display: flex; flex-wrap: wrap; gap: .3em 1.2em; align-items: baseline; padding: .6em 1.2em; border-bottom: 1px solid var(--line); background: var(--panel); }
header.site .brand { font-weight: 700; color: var(--fg); text-decoration: none; }
header.site nav { display: flex; flex-wrap: wrap; gap: .2em 1em; }
header.site nav a { color: var(--muted); text-decoration: none; }
header.site nav a.active { color: var(--accent); font-weight: 600; }
header.site .site-note { margin-left: auto; }
main { padding: 1em 1.2em 3em; max-width: 1400px; min-width: 0; }
h1 { font-size: 1.5em; margin: .3em 0 .6em; }
h2 { font-size: 1.15em; margin: 1.4em 0 .5em; }
main h1, main h2, main h3, main p, main li, main dd { overflow-wrap: anywhere; }
a { color: var(--accent); }
/* Wide tables scroll inside their own box instead of widening the page (900 px windows). */
table { border-collapse: collapse; margin: .4em 0 1em; font-variant-numeric: tabular-nums; display: block; max-width: 100%; overflow-x: auto; }
.scroll > table { display: table; max-width: none; overflow: visible; }
main svg { max-width: 100%; height: auto; }
/* Plot's legends: a long run name wraps instead of widening the page. */
main [class*="-swatches"], main [class*="-swatch"] { max-width: 100%; min-width: 0; overflow-wrap: anywhere; }
th, td { border-bottom: 1px solid var(--line); padding: .25em .7em; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
tr.differs td { background: #fff7e0; }
caption { text-align: left; color: var(--muted); padding: .2em 0; }
.muted { color: var(--muted); }
.status-FINISHED { color: var(--good); } .status-FAILED, .status-KILLED { color: var(--bad); } .status-RUNNING { color: var(--accent); }
.error-box { border: 1px solid var(--bad); color: var(--bad); padding: .5em .8em; margin: .5em 0; white-space: pre-wrap; font-family: ui-monospace, monospace; }
form.search input[type=text] { width: min(60em, 90%); padding: .35em; font: 13px ui-monospace, monospace; }
form.search button, form.compare button { padding: .3em .9em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.chart { border: 1px solid var(--line); padding: .4em; background: #fff; max-width: 100%; min-width: 0; }
.runs-tools { display: flex; flex-wrap: wrap; gap: .3em 1.2em; align-items: baseline; }
.runs-tools > p { flex: 1 1 28em; margin: .4em 0; }
.col-chooser summary { cursor: pointer; color: var(--accent); }
.col-chooser[open] { flex-basis: 100%; border: 1px solid var(--line); padding: .4em .8em; background: var(--panel); }
.col-chooser fieldset { border: 0; padding: .2em 0; margin: 0; display: flex; flex-wrap: wrap; gap: .1em 1em; max-height: 14em; overflow-y: auto; }
.col-chooser legend { font-weight: 600; padding: 0; }
.compare-bar { position: sticky; top: 0; z-index: 3; display: flex; gap: .8em; align-items: baseline; padding: .4em 0; background: var(--bg); border-bottom: 1px solid var(--line); }
table.runs th a.sort { color: inherit; text-decoration: none; }
table.runs th a.sort:hover { text-decoration: underline; }
table.runs td.children { white-space: nowrap; }
button.fold { border: 0; background: none; cursor: pointer; padding: 0 .35em 0 0; font: inherit; color: var(--accent); }
tr.child-row td { background: var(--panel); }
tr.child-row td:nth-child(2) { padding-left: 1.8em; }
tr.child-row.error td { color: var(--bad); }
.chart h3 { font-size: .95em; margin: .1em 0 .3em; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6em 1em; min-width: 12em; background: var(--panel); }
.card .big { font-size: 1.6em; font-weight: 600; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
pre { background: var(--panel); padding: .6em .8em; overflow-x: auto; }
.notebook { contain: paint; position: relative; overflow: auto; }
.notebook .cell { margin: .8em 0; }
.notebook .prompt { color: var(--muted); font: 12px ui-monospace, monospace; }
.notebook .output { padding: .2em .8em; }
.notebook .output, .notebook .cell-markdown { contain: paint; position: relative; overflow: auto; isolation: isolate; }
.notebook .stream-stderr, .notebook .error { background: #fdecea; }
.notebook img, .notebook svg { max-width: 100%; height: auto; }
footer { color: var(--muted); font-size: 12px; padding: 1em 1.2em; border-top: 1px solid var(--line); }
`

/**
 * A whole document: the stylesheet inline, no inline script (pages work without JavaScript). `head` is
 * trusted markup for the head (the server's script bundle and icon links).
 */
export function htmlDocument(options: { title: string; body: string; header?: string; footer?: string; head?: string }): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(options.title)}</title><style>${STYLESHEET}</style>${options.head ?? ''}</head>
<body>${options.header ?? ''}<main>${options.body}</main>${options.footer === undefined ? '' : `<footer>${options.footer}</footer>`}</body></html>
`
}
