// Artifact previews: GET /runs/ID/artifacts/view?path=P shows a run's artifact in the page — CSV/TSV and
// Parquet as paged tables (100 rows a page), JSON pretty-printed and highlighted, notebooks rendered, text
// and code highlighted, images inline (through GET /runs/ID/artifacts/image?path=P, as an <img>: an SVG is
// never put into the page, and is served under a CSP that lets it run nothing) — anything else a download
// link. Only recorded artifacts are read, by the tracker's rules (no link, no traversal, sha256 checked);
// a CSV or text file larger than PREVIEW_BYTES is read only as far as its first PREVIEW_BYTES, and the page
// says so. What a page shows is bounded whatever the file holds (columns, characters per cell and per page,
// lines, highlighted code), each cut said on the page; rendered previews are kept (gzip) by the artifact's
// recorded sha256, so a preview costs its rendering once. Everything from the file is escaped.

import type { Context, Hono } from 'hono'
import { join } from 'node:path'
import { ConfigError, CorruptFileError, DataError, FileIntegrityError, parquetColumns, isTimeColumn, readFileInside, type ParquetColumn } from '../core/index.js'
import { attr, esc, fmtBytes, link, seg, table, type Cell } from '../report/index.js'
import type { Artifact, Tracker } from '../track/index.js'
import { IMAGE_CSP } from './assets.js'
import { pageHtml, sendPage, type PageContext } from './layout.js'
import { codeBlock, highlightBudget, highlightNote, highlightStyle, languageOfFile } from './highlight.js'
import { PageCache } from './page-cache.js'
import { parseNotebookJson, renderNotebookHtmlAsync } from './notebook-html.js'

/** Rows per page of a table preview. */
export const PAGE_ROWS = 100
/** The most of a CSV or text file a preview reads (the rest is not read at all). */
export const PREVIEW_BYTES = 10 * 2 ** 20
/** Text shown in a code box (a longer text is cut there, and the page says so). */
export const TEXT_CHARS = 2 * 2 ** 20
/** Lines shown in a code box (each line is numbered markup of its own: 2 MiB of line breaks would be ~80 MB of HTML). */
export const TEXT_LINES = 50_000
/** Files read whole for a preview (Parquet, JSON, images): larger ones are offered as a download. */
export const WHOLE_BYTES = 64 * 2 ** 20
/** Notebooks rendered for a preview: a larger one is offered as a download. */
export const NOTEBOOK_BYTES = 16 * 2 ** 20
/** Columns of a table preview shown (a row's further cells are counted in one "… N more" cell). */
export const TABLE_COLUMNS = 200
/** Cells of a table page at most: PAGE_ROWS rows of TABLE_COLUMNS columns. */
export const PAGE_CELLS = PAGE_ROWS * TABLE_COLUMNS
/** Characters shown of one cell (a longer one ends in "…"). */
export const CELL_CHARS = 2_000
/** Characters of cell text shown on one table page (past it, cells are cut short, ending in "…"). */
export const PAGE_CHARS = 500_000
/** Compressed bytes of rendered previews kept (least recently used dropped first). */
export const PREVIEW_CACHE_BYTES = 32 * 2 ** 20
/** The header a preview answers with: "rendered" or "cached" (kept from an earlier request). */
export const PREVIEW_HEADER = 'x-mtflow-preview'
/** The highest page number accepted. */
const MAX_PAGE = 1_000_000

const IMAGE_TYPES: Readonly<Record<string, string>> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml' }
const TEXT_EXTENSIONS = new Set(['txt', 'log', 'md', 'markdown', 'rst', 'ts', 'mts', 'cts', 'tsx', 'js', 'mjs', 'cjs', 'jsx', 'py', 'json', 'jsonl', 'ndjson', 'yaml', 'yml', 'sql', 'sh', 'bash', 'toml', 'ini', 'cfg', 'conf', 'html', 'htm', 'xml', 'r', 'out', 'err'])

/** The viewer's URL of a run's artifact (for the run page's artifact list). */
export function artifactViewUrl(runId: string, path: string): string {
  return `/runs/${seg(runId)}/artifacts/view?path=${encodeURIComponent(path)}`
}

/** The raw bytes' URL (the JSON API's download route). */
export function artifactDownloadUrl(runId: string, path: string): string {
  return `/api/runs/${seg(runId)}/artifacts/${path.split('/').map(seg).join('/')}`
}

function imageUrl(runId: string, path: string): string {
  return `/runs/${seg(runId)}/artifacts/image?path=${encodeURIComponent(path)}`
}

function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1)
  const dot = name.lastIndexOf('.')
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase()
}

export function artifactPageRoutes(app: Hono, ctx: PageContext): void {
  const { tracker } = ctx
  // Rendered previews by run, path and page, valid while the artifact's recorded sha256 is the same: the
  // bytes a preview shows are checked against that sha256 (or said not to be, for a file read in part).
  const previews = new PageCache(PREVIEW_CACHE_BYTES, 0)
  app.get('/runs/:id/artifacts/view', async (c) => {
    const id = c.req.param('id')
    const artifact = findArtifact(tracker, id, c.req.query('path'))
    const pageNo = pageOf(c.req.query('page'))
    const key = JSON.stringify([id, artifact.path, pageNo])
    const hit = previews.get(key, () => artifact.sha256)
    if (hit !== undefined) {
      c.header(PREVIEW_HEADER, 'cached')
      return sendPage(c, hit)
    }
    const ext = extensionOf(artifact.path)
    const head = `<h1>${esc(artifact.path)} <span class="muted">of run ${link(`/runs/${seg(id)}`, id).html}</span></h1>
<p class="muted">${esc(fmtBytes(artifact.size))} · sha256 ${esc(artifact.sha256.slice(0, 16))}… · ${link(artifactDownloadUrl(id, artifact.path), 'download').html}</p>`
    const kept = { cache: true }
    const body = await previewBody(tracker, id, artifact, ext, pageNo, kept)
    c.header(PREVIEW_HEADER, 'rendered')
    const html = pageHtml(`${artifact.path} · ${id}`, `${head}\n${body}`, '/runs')
    return sendPage(c, kept.cache ? previews.set(key, artifact.sha256, html) : html)
  })
  // Images for <img src>: the types a browser draws, under a CSP that lets even an SVG run nothing.
  app.get('/runs/:id/artifacts/image', (c) => {
    const id = c.req.param('id')
    const artifact = findArtifact(tracker, id, c.req.query('path'))
    const ext = extensionOf(artifact.path)
    const type = Object.hasOwn(IMAGE_TYPES, ext) ? IMAGE_TYPES[ext] : undefined
    if (type === undefined) throw new ConfigError(`artifact ${JSON.stringify(artifact.path)} is not an image (png, jpg, gif, webp, svg)`)
    if (artifact.size > WHOLE_BYTES) throw new ConfigError(`artifact ${JSON.stringify(artifact.path)} is ${fmtBytes(artifact.size)}: larger than ${fmtBytes(WHOLE_BYTES)}, download it instead`)
    const { bytes } = tracker.readArtifact(id, artifact.path)
    return imageResponse(c, bytes, type)
  })
}

/** An image's bytes under headers that keep it an image: nosniff, inline, and a CSP with no script (SVG). */
export function imageResponse(c: Context, bytes: Buffer, type: string): Response {
  return c.body(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 200, {
    'content-type': type,
    'x-content-type-options': 'nosniff',
    'content-security-policy': IMAGE_CSP,
    'content-disposition': 'inline',
    'cache-control': 'private, no-cache',
  })
}

/** The recorded artifact a query's path names: a traversal or a malformed path is a 400, an unknown one a 404. */
function findArtifact(tracker: Tracker, runId: string, path: string | undefined): Artifact {
  if (path === undefined || path === '') throw new ConfigError('the query needs path=<artifact path> (as listed on the run page)')
  if (path.length > 1000) throw new ConfigError(`artifact path is ${path.length} characters long; at most 1000`)
  return tracker.findArtifact(runId, path)
}

function pageOf(value: string | undefined): number {
  if (value === undefined || value === '') return 1
  if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > MAX_PAGE) throw new ConfigError(`page must be a whole number from 1 to ${MAX_PAGE} (received ${JSON.stringify(value.slice(0, 40))})`)
  return Number(value)
}

/** A preview's body; `kept.cache` is set false for one that is not the page for good (a notebook whose markdown timed out). */
async function previewBody(tracker: Tracker, id: string, artifact: Artifact, ext: string, pageNo: number, kept: { cache: boolean }): Promise<string> {
  const download = link(artifactDownloadUrl(id, artifact.path), `download (${fmtBytes(artifact.size)})`).html
  const tooLarge = `<p class="muted">Larger than ${esc(fmtBytes(WHOLE_BYTES))}: not previewed. ${download}</p>`
  const image = Object.hasOwn(IMAGE_TYPES, ext) ? IMAGE_TYPES[ext] : undefined
  if (image !== undefined) {
    if (artifact.size > WHOLE_BYTES) return tooLarge
    return `<p><img class="artifact-image" alt="${attr(artifact.path)}" src="${attr(imageUrl(id, artifact.path))}"></p><style>.artifact-image { max-width: 100%; height: auto; border: 1px solid #e1e4e8; }</style>`
  }
  if (ext === 'csv' || ext === 'tsv') {
    const { text, cut } = readText(tracker, id, artifact, PREVIEW_BYTES)
    return csvPreview(text, { delimiter: ext === 'tsv' ? '\t' : ',', cut, pageNo, url: (n) => `${artifactViewUrl(id, artifact.path)}&page=${n}`, size: artifact.size })
  }
  // A file the previewer cannot read (a Parquet layout it does not know, a malformed notebook) is said on
  // the page, with the download; a file that is not what was recorded (a link, changed bytes) stays an error.
  const unreadable = (error: unknown) => {
    if (!(error instanceof DataError || error instanceof ConfigError) || error instanceof FileIntegrityError || error instanceof CorruptFileError) throw error
    return `<p class="error-box">${esc(error.message.split('\n')[0])}</p><p>${download}</p>`
  }
  if (ext === 'parquet') {
    if (artifact.size > WHOLE_BYTES) return tooLarge
    const bytes = tracker.readArtifact(id, artifact.path).bytes
    try {
      return parquetPreview(parquetColumns(bytes, `artifact ${artifact.path}`), pageNo, (n) => `${artifactViewUrl(id, artifact.path)}&page=${n}`)
    } catch (error) {
      return unreadable(error)
    }
  }
  if (ext === 'ipynb') {
    if (artifact.size > NOTEBOOK_BYTES) return `<p class="muted">A notebook larger than ${esc(fmtBytes(NOTEBOOK_BYTES))}: not rendered. ${download}</p>`
    const bytes = tracker.readArtifact(id, artifact.path).bytes
    try {
      const { html, complete } = await renderNotebookHtmlAsync(parseNotebookJson(bytes.toString('utf8'), 'the file'))
      kept.cache = complete
      return html
    } catch (error) {
      return unreadable(error)
    }
  }
  if (TEXT_EXTENSIONS.has(ext)) {
    const { text, cut } = readText(tracker, id, artifact, PREVIEW_BYTES)
    return textPreview(artifact.path, text, { cut: cut ? `the first ${fmtBytes(PREVIEW_BYTES)} of ${fmtBytes(artifact.size)}` : undefined })
  }
  // Another type: text when it looks like text (read once, whole, sha256 checked).
  if (artifact.size <= PREVIEW_BYTES) {
    const bytes = tracker.readArtifact(id, artifact.path).bytes
    if (looksTextual(bytes)) return textPreview(artifact.path, bytes.toString('utf8'))
  }
  return `<p>No preview for this type of file. ${download}</p>`
}

/**
 * A file's text as a code box: JSON pretty-printed, highlighted by its extension (within the page's
 * highlighting budget), lines numbered; cut at TEXT_CHARS or TEXT_LINES (and said so). `cut` says how much of
 * the file the text is, when not all of it.
 */
export function textPreview(name: string, text: string, options: { cut?: string } = {}): string {
  let shown = text
  let note = options.cut === undefined ? '' : `Shown: ${options.cut} (not checked against its recorded sha256; the download is). `
  // Pretty-printed only when it fits what is shown anyway (TEXT_CHARS) and is not nested past 1,000 levels:
  // parsing and printing megabytes of deep nesting blocks the server for seconds.
  if (extensionOf(name) === 'json' && options.cut === undefined && text.length <= TEXT_CHARS && jsonDepthAtMost(text, 1_000)) {
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2)
    } catch {
      note += 'Not valid JSON: shown as it is. '
    }
  }
  if (shown.length > TEXT_CHARS) {
    note += `Only the first ${fmtBytes(TEXT_CHARS)} of text are shown. `
    shown = shown.slice(0, TEXT_CHARS)
  }
  const lineEnd = endOfLine(shown, TEXT_LINES)
  if (lineEnd < shown.length) {
    note += `Only the first ${TEXT_LINES.toLocaleString('en-US')} lines are shown. `
    shown = shown.slice(0, lineEnd)
  }
  const budget = highlightBudget()
  const box = codeBlock(shown, { language: languageOfFile(name), lineNumbers: true, budget })
  return `${note === '' ? '' : `<p class="muted">${esc(note.trim())}</p>`}${highlightNote(budget)}${highlightStyle()}${box}`
}

/** The index just past the `n`th line break of `text`, or its length when it has fewer. */
function endOfLine(text: string, n: number): number {
  let at = -1
  for (let k = 0; k < n; k++) {
    at = text.indexOf('\n', at + 1)
    if (at < 0) return text.length
  }
  return at + 1
}

/** No NUL byte in the first 8 KiB and valid UTF-8 there (a multi-byte character cut at the end allowed). */
export function looksTextual(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 8192)
  if (head.includes(0)) return false
  try {
    // Streaming: a character the 8 KiB boundary cuts is left pending, not judged.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: head.length < bytes.length })
    return true
  } catch {
    return false
  }
}

/** A text artifact: whole (sha256 checked) up to `limit` bytes, else its first `limit` bytes only. */
function readText(tracker: Tracker, id: string, artifact: Artifact, limit: number): { text: string; cut: boolean } {
  if (artifact.size <= limit) return { text: tracker.readArtifact(id, artifact.path).bytes.toString('utf8'), cut: false }
  const bytes = readPrefix(tracker, id, artifact.path, limit)
  return { text: bytes.toString('utf8'), cut: true }
}

/** Whether no bracket of `text` (outside strings) nests deeper than `max`: one pass, no parse. */
export function jsonDepthAtMost(text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return true
}

/**
 * The first `limit` bytes of a recorded artifact, opened by the rules of lib/core/safe-file.ts (every folder
 * from the workspace's runs folder down lstat'ed, the file opened with O_NOFOLLOW, the opened descriptor's
 * real path checked to be inside that folder) — without its sha256 check, which would read the whole file.
 */
function readPrefix(tracker: Tracker, id: string, path: string, limit: number): Buffer {
  return readFileInside(join(tracker.runDir(id), 'artifacts'), path, { within: tracker.root, what: `artifact ${JSON.stringify(path)} of run ${id}`, prefixBytes: limit })
}

/**
 * Rows of delimited text (RFC 4180: quoted fields with "" for a quote, line breaks inside quotes, CRLF or
 * LF), parsed only as far as asked: `wanted` rows, then one more to know whether there is a next page.
 */
export function csvRows(text: string, delimiter: string, wanted: number): { rows: string[][]; more: boolean; complete: boolean } {
  const { rows, more, complete } = parseCsv(text, delimiter, wanted, Infinity, Infinity, 0)
  return { rows, more, complete }
}

/**
 * csvRows keeping at most `fields` cells of a row (`counts` has each row's whole number of cells) and at most
 * `chars` + 1 characters of a cell (so a longer one is known to be longer): what a page can show of a row of a
 * million commas or a cell of ten million characters, in memory bounded by what is shown. Only the header
 * (row 0) and the rows from `keepFrom` on are kept: the rows between are parsed (a quoted line break is not a
 * row) and counted in `seen`, one character of a field at most, so a deep page costs no more memory than the
 * first.
 */
function parseCsv(text: string, delimiter: string, wanted: number, fields: number, chars: number, keepFrom = 1): { rows: string[][]; counts: number[]; seen: number; more: boolean; complete: boolean } {
  const rows: string[][] = []
  const counts: number[] = []
  let seen = 0
  let row: string[] = []
  let count = 0
  let field = ''
  let quoted = false
  // A skipped row's fields keep their first character only: enough to know a field has begun (a quote after it is text).
  let limit = chars
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  const n = text.length
  const endField = () => {
    if (row.length < fields) row.push(field)
    count++
    field = ''
  }
  const endRow = () => {
    endField()
    if (seen === 0 || seen >= keepFrom) {
      rows.push(row)
      counts.push(count)
    }
    seen++
    row = []
    count = 0
    limit = seen === 0 || seen >= keepFrom ? chars : 0
  }
  // One row past `wanted` was parsed (to know there is more): it is not returned.
  const overflow = () => {
    const last = seen - 1
    const kept = last === 0 || last >= keepFrom ? 1 : 0
    return { rows: rows.slice(0, rows.length - kept), counts: counts.slice(0, counts.length - kept), seen: wanted, more: true, complete: false }
  }
  for (; i < n; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          if (field.length <= limit) field += '"'
          i++
        } else quoted = false
      } else if (field.length <= limit) field += ch
      continue
    }
    if (ch === '"' && field === '') quoted = true
    else if (ch === delimiter) endField()
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      endRow()
      if (seen > wanted) return overflow()
    } else if (field.length <= limit) field += ch
  }
  if (field !== '' || count > 0) {
    endRow()
    if (seen > wanted) return overflow()
  }
  return { rows, counts, seen, more: false, complete: true }
}

/**
 * Cells as a page shows them: at most CELL_CHARS characters each and PAGE_CHARS in all (a cut cell ends in
 * "…"), counting what was cut for the page's note.
 */
class CellText {
  private left = PAGE_CHARS
  long = 0
  starved = 0

  show(value: string): string {
    if (value.length <= CELL_CHARS && value.length <= this.left) {
      this.left -= value.length
      return value
    }
    if (value.length > CELL_CHARS && CELL_CHARS <= this.left) this.long++
    else this.starved++
    const keep = Math.min(CELL_CHARS, this.left)
    this.left -= keep
    return `${value.slice(0, keep)}…`
  }

  notes(): string[] {
    const notes: string[] = []
    if (this.long > 0) notes.push(`${this.long} cell(s) longer than ${CELL_CHARS.toLocaleString('en-US')} characters are cut there (ending in …).`)
    if (this.starved > 0) notes.push(`A page shows at most ${PAGE_CHARS.toLocaleString('en-US')} characters of cells: ${this.starved} later cell(s) are cut short (ending in …).`)
    return notes
  }
}

/** "… 199,801 more" (the cells of a row past the shown columns), or '' when none. */
function moreCells(count: number): string {
  return count > TABLE_COLUMNS ? `… ${(count - TABLE_COLUMNS).toLocaleString('en-US')} more` : ''
}

/**
 * One page of a CSV's rows under its header; ragged rows padded (or extra cells given a column of their own)
 * up to TABLE_COLUMNS columns; a row's cells past those counted in one last "… N more" cell.
 */
export function csvPreview(text: string, options: { delimiter: string; cut: boolean; pageNo: number; url: (page: number) => string; size: number }): string {
  const { pageNo } = options
  const first = (pageNo - 1) * PAGE_ROWS
  // Only the header and this page's rows are kept (the rows before are counted).
  const parsed = parseCsv(text, options.delimiter, 1 + first + PAGE_ROWS, TABLE_COLUMNS, CELL_CHARS, 1 + first)
  // A file read only in part ends in a row that may be cut: it is not shown.
  const whole = options.cut && parsed.complete ? parsed.seen - 1 : parsed.seen
  const more = parsed.more
  const header = parsed.rows[0] ?? []
  const headerCount = parsed.counts[0] ?? 0
  // Kept rows 1… are the file's rows 1 + first…; those at or past `whole` are not shown.
  const shown = Math.max(0, Math.min(whole, 1 + first + PAGE_ROWS) - (1 + first))
  const rows = parsed.rows.slice(1, 1 + shown)
  const counts = parsed.counts.slice(1, 1 + shown)
  const notes: string[] = []
  if (options.cut) notes.push(`The file is ${fmtBytes(options.size)}: the preview reads its first ${fmtBytes(PREVIEW_BYTES)} only (later rows are not shown; the download has them all), not checked against its recorded sha256.`)
  if (whole <= 0) return `<p class="muted">Empty file.</p>`
  if (rows.length === 0) return `${notesHtml(notes)}<p class="muted">No rows on page ${pageNo}${first > 0 ? ` (the file${options.cut ? "'s first part" : ''} has ${whole - 1} rows)` : ''}. ${link(options.url(1), 'First page').html}</p>`
  const widest = Math.max(headerCount, ...counts)
  // Never padded past the columns shown: a row of a million cells is 200 of them and a count.
  const width = Math.min(widest, TABLE_COLUMNS)
  const wider = widest > TABLE_COLUMNS
  const cells = new CellText()
  const columns = ['#', ...Array.from({ length: width }, (_, j) => (j < header.length ? cells.show(header[j]!) : `(column ${j + 1})`)), ...(wider ? [moreCells(headerCount) || '…'] : [])]
  const ragged = counts.filter((k) => k !== headerCount).length
  if (ragged > 0) notes.push(`${ragged} row(s) on this page have a different number of cells than the header (${headerCount.toLocaleString('en-US')}): missing cells are left empty, extra ones get columns of their own${wider ? ` up to ${TABLE_COLUMNS}` : ''}.`)
  if (wider) {
    const over = [headerCount, ...counts].filter((k) => k > TABLE_COLUMNS).length
    notes.push(`Only the first ${TABLE_COLUMNS} columns are shown: ${over} row(s) here (the header counted) have more, counted in the last column (… N more); the download has them all.`)
  }
  const body = rows.map((r, k): Cell[] => [first + k + 1, ...Array.from({ length: width }, (_, j) => cells.show(r[j] ?? '')), ...(wider ? [moreCells(counts[k]!)] : [])])
  notes.push(...cells.notes())
  const range = `rows ${first + 1}–${first + rows.length}`
  return `${notesHtml(notes)}${pager(pageNo, more, options.url, range)}<div class="scroll artifact-table">${table(columns, body)}</div>${pager(pageNo, more, options.url, range)}<style>.artifact-table { overflow: auto; max-width: 100%; } .artifact-table td { white-space: pre-wrap; max-width: 40em; overflow-wrap: anywhere; }</style>`
}

/**
 * One page of a Parquet table: numbers as stored (all their digits), times as ISO 8601 UTC, NULL empty; its
 * first TABLE_COLUMNS columns, text cut as a CSV's is.
 */
export function parquetPreview(columns: Record<string, ParquetColumn>, pageNo: number, url: (page: number) => string): string {
  const all = Object.keys(columns)
  const names = all.slice(0, TABLE_COLUMNS)
  const total = names.length === 0 ? 0 : columns[names[0]!]!.length
  const first = (pageNo - 1) * PAGE_ROWS
  if (total === 0) return '<p class="muted">No rows.</p>'
  if (first >= total) return `<p class="muted">No rows on page ${pageNo} (the table has ${total} rows). ${link(url(1), 'First page').html}</p>`
  const last = Math.min(total, first + PAGE_ROWS)
  const text = new CellText()
  const cell = (name: string, column: ParquetColumn, i: number): Cell => {
    const v = column[i]
    if (typeof v === 'number') {
      if (Number.isNaN(v)) return ''
      if (isTimeColumn(name) && Number.isFinite(v) && Math.abs(v) <= 8.64e15) return new Date(v).toISOString()
      return String(v)
    }
    return typeof v === 'boolean' ? String(v) : text.show(v ?? '')
  }
  const heads = names.map((n) => text.show(n))
  const rows: Cell[][] = []
  for (let i = first; i < last; i++) rows.push([i + 1, ...names.map((n) => cell(n, columns[n]!, i))])
  const range = `rows ${first + 1}–${last} of ${total}`
  const more = last < total
  const notes = all.length > TABLE_COLUMNS ? [`Only the first ${TABLE_COLUMNS} of its ${all.length.toLocaleString('en-US')} columns are shown; the download has them all.`] : []
  notes.push(...text.notes())
  return `${notesHtml(notes)}${pager(pageNo, more, url, range)}<div class="scroll artifact-table">${table(['#', ...heads], rows)}</div>${pager(pageNo, more, url, range)}<style>.artifact-table { overflow: auto; max-width: 100%; }</style>`
}

function notesHtml(notes: string[]): string {
  return notes.map((n) => `<p class="muted">${esc(n)}</p>`).join('')
}

/** Previous / next links and the range shown (plain links: no script needed). */
function pager(pageNo: number, more: boolean, url: (page: number) => string, range: string): string {
  const prev = pageNo > 1 ? link(url(pageNo - 1), '← previous').html : ''
  const next = more ? link(url(pageNo + 1), 'next →').html : ''
  return `<p class="pager">${[prev, `page ${pageNo} (${esc(range)})`, next].filter((s) => s !== '').join(' · ')}</p>`
}
