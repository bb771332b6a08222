// Renders values to Jupyter MIME bundles: tables (arquero, Arrow, arrays of objects, columnar records
// such as Bars) as HTML with the first rows and the total count, Plot figures as inline SVG, strings as
// Markdown, anything else as readable text. Pure functions: kernel/display.ts sends the bundles.

import { inspect } from 'node:util'
import { attr as escapeHtml } from '../lib/report/html.js'

export interface MimeBundle {
  data: Record<string, string>
  metadata: Record<string, unknown>
}

export interface RenderOptions {
  /** Rows shown for tables (the total is always given). Default 10. */
  rows?: number
}

type Row = Record<string, unknown>

interface TableView {
  columns: string[]
  rows: Row[]
  total: number
  /** Scalar fields of a columnar record (e.g. symbol, timeframe) shown in the caption. */
  notes: string[]
}

export function render(value: unknown, options: RenderOptions = {}): MimeBundle {
  const rows = options.rows ?? 10
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`rows must be an integer ≥ 0 (received ${rows})`)
  if (typeof value === 'string') return { data: { 'text/markdown': value, 'text/plain': value }, metadata: {} }
  const element = asElement(value)
  if (element !== undefined) {
    const html = element.outerHTML
    const data: Record<string, string> = { 'text/html': html, 'text/plain': `<${element.tagName.toLowerCase()} figure>` }
    if (element.tagName.toLowerCase() === 'svg') data['image/svg+xml'] = html
    return { data, metadata: {} }
  }
  const table = asTable(value, rows)
  if (table !== undefined) return { data: { 'text/html': tableHtml(table), 'text/plain': tableText(table) }, metadata: {} }
  return { data: { 'text/plain': inspect(value, { depth: 4, maxArrayLength: 50, breakLength: 100 }) }, metadata: {} }
}

function asElement(value: unknown): { outerHTML: string; tagName: string } | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const v = value as { outerHTML?: unknown; tagName?: unknown }
  return typeof v.outerHTML === 'string' && typeof v.tagName === 'string' ? (v as { outerHTML: string; tagName: string }) : undefined
}

function asTable(value: unknown, limit: number): TableView | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const v = value as Record<string, unknown>
  // arquero: numRows() / columnNames() / objects({ limit })
  if (typeof v.numRows === 'function' && typeof v.columnNames === 'function' && typeof v.objects === 'function') {
    const t = v as unknown as { numRows(): number; columnNames(): string[]; objects(o: { limit: number }): Row[] }
    return { columns: t.columnNames(), rows: t.objects({ limit }), total: t.numRows(), notes: [] }
  }
  // Apache Arrow: schema.fields, numRows, slice().toArray() of rows with toJSON()
  if (typeof v.numRows === 'number' && v.schema !== null && typeof v.schema === 'object' && typeof v.slice === 'function') {
    const t = v as unknown as { numRows: number; schema: { fields: { name: string }[] }; slice(a: number, b: number): { toArray(): unknown[] } }
    const rows = t
      .slice(0, limit)
      .toArray()
      .map((r) => (r !== null && typeof (r as { toJSON?: unknown }).toJSON === 'function' ? (r as { toJSON(): Row }).toJSON() : (r as Row)))
    return { columns: t.schema.fields.map((f) => f.name), rows, total: t.numRows, notes: [] }
  }
  // An array of plain objects
  if (Array.isArray(value)) {
    if (value.length === 0 || !value.every(isPlainObject)) return undefined
    const columns = [...new Set(value.slice(0, 1000).flatMap((r) => Object.keys(r as Row)))]
    return { columns, rows: value.slice(0, limit) as Row[], total: value.length, notes: [] }
  }
  // A columnar record: equal-length arrays (Bars, results), scalars noted in the caption
  if (isPlainObject(value)) {
    const entries = Object.entries(v)
    const columns = entries.filter(([, c]) => isColumn(c))
    if (columns.length < 2 || columns.length !== entries.filter(([, c]) => typeof c === 'object' && c !== null).length) return undefined
    const length = (columns[0]![1] as ArrayLike<unknown>).length
    if (!columns.every(([, c]) => (c as ArrayLike<unknown>).length === length)) return undefined
    const rows: Row[] = []
    for (let i = 0; i < Math.min(limit, length); i++) {
      const row: Row = {}
      for (const [name, c] of columns) row[name] = (c as ArrayLike<unknown>)[i]
      rows.push(row)
    }
    const notes = entries.filter(([, c]) => !isColumn(c) && (typeof c !== 'object' || c === null)).map(([k, c]) => `${k}: ${String(c)}`)
    return { columns: columns.map(([name]) => name), rows, total: length, notes }
  }
  return undefined
}

function isPlainObject(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function isColumn(value: unknown): boolean {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))
}

const TIME_COLUMNS = new Set(['time', 'timestamp', 'date', 'datetime', 'entry_time', 'exit_time'])

/** Cell text: epoch-ms time columns as ISO dates, floats to 10 significant digits, NaN kept visible. */
export function formatCell(value: unknown, column = ''): string {
  if (value === null || value === undefined) return ''
  if (value instanceof Date) return isoShort(value.getTime())
  if (typeof value === 'number') {
    if (TIME_COLUMNS.has(column.toLowerCase()) && Number.isFinite(value) && Math.abs(value) > 1e11) return isoShort(value)
    if (Number.isInteger(value) || !Number.isFinite(value)) return String(value)
    return String(Number(value.toPrecision(10)))
  }
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'string') return value
  return inspect(value, { depth: 1, breakLength: Infinity })
}

function isoShort(ms: number): string {
  const iso = new Date(ms).toISOString()
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.replace('.000Z', 'Z')
}

function caption(table: TableView): string {
  const shown = table.rows.length < table.total ? ` (first ${table.rows.length} shown)` : ''
  const size = `${table.total.toLocaleString('en-US')} rows × ${table.columns.length} columns${shown}`
  return table.notes.length > 0 ? `${table.notes.join(', ')} · ${size}` : size
}

function tableHtml(table: TableView): string {
  const head = table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')
  const body = table.rows
    .map((row) => {
      const cells = table.columns.map((c) => {
        const v = row[c]
        const align = typeof v === 'number' && !TIME_COLUMNS.has(c.toLowerCase()) ? ' style="text-align:right"' : ''
        return `<td${align}>${escapeHtml(formatCell(v, c))}</td>`
      })
      return `<tr>${cells.join('')}</tr>`
    })
    .join('\n')
  return (
    `<table class="mtflow-table" data-rows="${table.total}" data-columns="${table.columns.length}">\n` +
    `<caption style="caption-side:bottom;text-align:left">${escapeHtml(caption(table))}</caption>\n` +
    `<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`
  )
}

function tableText(table: TableView): string {
  const cells = table.rows.map((row) => table.columns.map((c) => formatCell(row[c], c)))
  const widths = table.columns.map((c, j) => Math.max(c.length, ...cells.map((r) => r[j]!.length)))
  const line = (values: string[]) => values.map((v, j) => v.padStart(widths[j]!)).join('  ')
  return [line(table.columns), ...cells.map(line), caption(table)].join('\n')
}

/** lib/report's attribute escaping: safe in text and in double-quoted attributes. */
export { escapeHtml }
