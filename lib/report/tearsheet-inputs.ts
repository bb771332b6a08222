// What a tearsheet is made of, read from files: an equity.csv (time,equity), a backtest's trades.csv, or a
// tracked run's tables (equity and trades: Parquet, or the CSVs of runs recorded before — lib/track/run-tables.ts),
// its results.json and its lineage. Used by `mtflow report`
// and the server's /runs/:id/tearsheet, so both read a run the same way. Bad input is a DataError naming
// the file, the line and what was expected.

import { DataError, decideTimeFormat, NotFoundError, parseDateWith, parseTime as parseTimeText, Progress, splitCsvLine, summarizeTimes, timeframeMs, type ProgressSink } from '../core/index.js'
import type { Tracker } from '../track/index.js'
import { readRunTable, runTableArtifact, type RunTable } from '../track/run-tables.js'
import type { TradeColumns } from './tearsheet.js'

/** CSV inputs longer than this many rows report their reading (when a progress sink is given). */
const BIG_ROWS = 100_000
const DAY_MS = 86_400_000

/** A run's tearsheet parts, before the lake is asked for prices. */
export interface RunTearsheetParts {
  title: string
  time: Float64Array
  equity: Float64Array
  trades?: TradeColumns
  /** The traded symbol when there is exactly one (its buy and hold is the default benchmark). */
  symbol?: string
  timeframe?: string
  /** The lake source the run read its symbol from (its lineage). */
  source?: string
  /** Daily returns per year the run implies (its own convention), when known. */
  periodsPerYear?: number
}

/** A tracked run's equity and trades tables (read with their recorded hashes checked), its symbol, timeframe, lake source and annualisation. */
export function loadRunTearsheet(tracker: Tracker, runId: string, progress?: ProgressSink): RunTearsheetParts {
  const run = tracker.getRun(runId)
  const has = (name: string) => run.artifacts.some((a) => a.path === name)
  const text = (name: string) => tracker.readArtifact(runId, name).bytes.toString('utf8')
  const curve = readRunEquity(tracker, runId, progress)
  if (curve === undefined) {
    const kind = run.tags['mtflow.kind']
    throw new NotFoundError(`run ${runId}${kind === undefined ? '' : ` (${kind})`} has no equity curve (no equity.parquet or equity.csv artifact); a tearsheet needs a backtest or deployment run`)
  }
  const { time, equity } = curve
  const trades = readRunTrades(tracker, runId, progress)
  const symbols = (run.params.symbols ?? '').split(',').filter((s) => s !== '')
  const timeframe = run.params.timeframe
  const symbol = symbols.length === 1 ? symbols[0] : undefined
  // The lake source the run read its symbol from: lineage names each dataset "source/symbol/timeframe".
  const suffix = `/${symbol}/${timeframe}`
  const dataset = symbol === undefined || timeframe === undefined ? undefined : run.info.lineage.data?.find((d) => d.name.endsWith(suffix))
  return {
    title: run.info.name || runId,
    time,
    equity,
    ...(trades === undefined ? {} : { trades }),
    ...(symbol === undefined ? {} : { symbol }),
    ...(timeframe === undefined ? {} : { timeframe }),
    ...(dataset === undefined ? {} : { source: dataset.name.slice(0, -suffix.length) }),
    ...runPeriodsPerYear(has('results.json') ? text('results.json') : undefined, timeframe, time),
  }
}

/** A tracked run's equity curve (time, equity), checked as an equity.csv is; undefined when the run has none. */
export function readRunEquity(tracker: Tracker, runId: string, progress?: ProgressSink): { time: Float64Array; equity: Float64Array } | undefined {
  const table = readRunTable(tracker, runId, 'equity')
  if (table === undefined) return undefined
  if (table.format === 'csv') return readEquityCsv(table.text, table.label, progress)
  const expected = 'columns time,equity'
  const time = numberColumn(table, 'time', expected)
  const equity = numberColumn(table, 'equity', expected)
  for (let i = 0; i < time.length; i++) {
    if (!(equity[i]! > 0)) throw new DataError(`${table.label} row ${i + 1}: equity ${equity[i]} must be > 0`)
    if (!Number.isFinite(time[i]!) || (i > 0 && !(time[i]! > time[i - 1]!))) throw new DataError(`${table.label} row ${i + 1}: time ${time[i]} is not after the row before; expected strictly increasing times`)
  }
  if (time.length < 2) throw new DataError(`${table.label} has ${time.length} equity point(s); a tearsheet needs at least 2`)
  return { time, equity }
}

/**
 * A tracked run's trades; undefined when it has none. A deployment that has not traded yet logged an
 * empty trades.csv (no trades) or one with a header alone (zero trades), as a Parquet table of 0 rows.
 */
export function readRunTrades(tracker: Tracker, runId: string, progress?: ProgressSink): TradeColumns | undefined {
  const table = readRunTable(tracker, runId, 'trades')
  if (table === undefined) return undefined
  if (table.format === 'csv') return table.text.trim() === '' ? undefined : readTradesCsv(table.text, table.label, progress, true)
  const expected = 'the columns of a backtest trades table: symbol,entryTime,exitTime,pnl (and optionally direction,entryPrice,exitPrice,returnPct,tag,exitReason,open)'
  const out: TradeColumns = { symbol: textColumn(table, 'symbol', expected), entryTime: numberColumn(table, 'entryTime', expected), exitTime: numberColumn(table, 'exitTime', expected), pnl: numberColumn(table, 'pnl', expected) }
  for (const name of ['entryTime', 'exitTime', 'pnl'] as const) {
    const values = out[name]
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) throw new DataError(`${table.label} row ${i + 1}: ${name} is missing; expected a ${name === 'pnl' ? 'number' : 'time'}`)
  }
  const extra = out as unknown as Record<string, unknown>
  for (const name of ['entryPrice', 'exitPrice', 'returnPct', 'qty'] as const) if (name in table.columns) extra[name] = numberColumn(table, name, expected)
  for (const name of ['direction', 'tag', 'exitReason'] as const) if (name in table.columns) extra[name] = textColumn(table, name, expected)
  if ('open' in table.columns) {
    const open = table.columns.open!
    // A table of 0 rows does not know its flags are flags.
    if (!(open.length === 0 || typeof open[0] === 'boolean')) throw new DataError(`${table.label}: column open holds ${typeof open[0]}; expected flags`)
    extra.open = open
  }
  return out
}

/** Whether a run has an equity curve to make a tearsheet of (without reading it). */
export function hasRunEquity(artifacts: readonly { path: string }[]): boolean {
  return runTableArtifact(artifacts, 'equity') !== undefined
}

function numberColumn(table: RunTable & { format: 'parquet' }, name: string, expected: string): Float64Array {
  const column = table.columns[name]
  if (column === undefined) throw new DataError(`${table.label} has no ${name} column; expected ${expected} (columns: ${Object.keys(table.columns).join(',').slice(0, 200)})`)
  if (column instanceof Float64Array) return column
  if (column.length === 0) return new Float64Array(0)
  throw new DataError(`${table.label}: column ${name} holds ${typeof column[0]}; expected numbers`)
}

function textColumn(table: RunTable & { format: 'parquet' }, name: string, expected: string): readonly string[] {
  const column = table.columns[name]
  if (column === undefined) throw new DataError(`${table.label} has no ${name} column; expected ${expected} (columns: ${Object.keys(table.columns).join(',').slice(0, 200)})`)
  if (column.length === 0) return []
  if (column instanceof Float64Array || typeof column[0] !== 'string') throw new DataError(`${table.label}: column ${name} holds ${typeof column[0]}; expected text`)
  return column as readonly string[]
}

/**
 * The run's own annualisation in daily returns. Daily or longer bars are one return each: results.json's
 * periodsPerYear (bars a year as the run observed them), so the tearsheet's Sharpe of a daily backtest is
 * the run's own Sharpe. Intraday bars are first made daily returns, one per UTC day with a point: their
 * count a year, as observed (dailyReturnsPerYear) — not bars a year × the bar's share of a day, which holds
 * only for a market open 24 hours (7 hourly bars a session made 76 "days" a year of ~261).
 */
function runPeriodsPerYear(results: string | undefined, timeframe: string | undefined, time: Float64Array): { periodsPerYear?: number } {
  if (timeframe === undefined) return {}
  if (timeframeMs(timeframe) < DAY_MS) return dailyReturnsPerYear(time)
  if (results === undefined) return {}
  let ppy: unknown
  try {
    ppy = (JSON.parse(results) as { periodsPerYear?: unknown }).periodsPerYear
  } catch {
    return {}
  }
  if (typeof ppy !== 'number' || !(ppy > 0 && ppy < Infinity)) return {}
  return { periodsPerYear: ppy }
}

/**
 * Daily returns a year of a curve (times increasing), as observed: (UTC days with a point − 1) × 365.25 / the
 * days from the first of them to the last — 365.25 for a market open every day, ~261 for one open on
 * weekdays; nothing (the tearsheet's default) for a curve within one day. A run's report uses it for an
 * intraday run, `mtflow report` for a CSV's curve (for daily points the same count as the run's bars a year;
 * a fixed 252 gave a 24/7 market's exported equity.csv a Sharpe √(252/365.25) = 0.83× its run's — an audit).
 */
export function dailyReturnsPerYear(time: Float64Array): { periodsPerYear?: number } {
  let days = 0
  let first = NaN
  let last = NaN
  for (let i = 0; i < time.length; i++) {
    const day = Math.floor(time[i]! / DAY_MS)
    if (day === last) continue
    if (days++ === 0) first = day
    last = day
  }
  return days < 2 ? {} : { periodsPerYear: ((days - 1) * 365.25) / (last - first) }
}

/** time,equity columns of an equity.csv text (others ignored), checked: times strictly increasing, equity > 0. */
export function readEquityCsv(text: string, label: string, progress?: ProgressSink, options: TimeColumnOptions = {}): { time: Float64Array; equity: Float64Array } {
  return equityColumns({ ...csvTable(text, label, progress), ...options }, label)
}

/** The columns of a backtest trades.csv text; `allowNoRows`: a header alone is no trades (else an error). */
export function readTradesCsv(text: string, label: string, progress?: ProgressSink, allowNoRows = false, options: TimeColumnOptions = {}): TradeColumns {
  return tradeColumns({ ...csvTable(text, label, progress, allowNoRows), ...options }, label)
}

export interface TimeColumnOptions {
  /** The day/month order of numeric dates (DD/MM/YYYY, MM/DD/YYYY, …) when the values cannot tell it (`--date-format`). */
  dateFormat?: string
}

/** A CSV file's header (trimmed): what kind of input it is. */
export function csvHeader(text: string, label: string): string[] {
  return csvTable(text, label, undefined, true).header
}

interface CsvTable {
  label: string
  header: string[]
  /** Data lines, not yet split (most columns of a trades file are never read). */
  lines: string[]
  /** Where a big file's reading is reported. */
  progress?: ProgressSink
  dateFormat?: string
}

/** Header and data lines of a CSV text; an empty file, or (unless allowed) one without data rows, is an error. */
function csvTable(text: string, label: string, progress?: ProgressSink, allowNoRows = false): CsvTable {
  const lines = text.split(/\r?\n/)
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop()
  if (lines.length === 0) throw new DataError(`${label} is empty; expected a header row and data rows`)
  const header = splitCsvLine(lines[0]!, () => new DataError(`${label} line 1: a quoted cell is not closed`)).map((h) => h.trim())
  if (lines.length === 1 && !allowNoRows) throw new DataError(`${label} has a header and no data rows`)
  return { label, header, lines: lines.slice(1), ...(progress === undefined ? {} : { progress }) }
}

/** A progress line on stderr while the rows of a big file are read (none for a small one). */
function rowProgress(table: CsvTable): { tick(i: number): void; finish(): void } {
  const n = table.lines.length
  if (table.progress === undefined || n <= BIG_ROWS) return { tick() {}, finish() {} }
  const p = new Progress({ label: `mtflow report: reading ${table.label}`, total: n, sink: table.progress, throttleMs: 500 })
  return {
    tick: (i) => {
      if (i % 10_000 === 0) p.set(i)
    },
    finish: () => {
      p.state.done = n
      p.finish()
    },
  }
}

function columnOf(table: CsvTable, name: string, expected: string): number {
  const at = table.header.indexOf(name)
  if (at < 0) throw new DataError(`${table.label} has no ${name} column; expected ${expected} (header: ${table.header.join(',').slice(0, 200)})`)
  return at
}

/**
 * The reader of a table's time columns, their format decided from all their values as the lake's import
 * decides it (core's decideTimeFormat: ISO 8601 with no offset = UTC whatever the machine's zone, a bare
 * date UTC midnight, day/month dates only when the values or `dateFormat` tell the order, else refused
 * naming the column; epoch numbers in s, ms, µs or ns by their magnitude). Cell by cell, "01/01/2022"
 * was "not a time" where the reason was its order (a new-user check).
 */
function timeReader(table: CsvTable, rows: readonly string[][], columns: readonly number[]): (text: string, where: string) => number {
  const texts = function* () {
    for (const cells of rows) for (const c of columns) yield cells[c] ?? ''
  }
  const field = `${table.label} column ${columns.map((c) => table.header[c]).join(' and ')}`
  const format = decideTimeFormat(summarizeTimes(texts()), { field, formatOption: '--date-format', ...(table.dateFormat === undefined ? {} : { dateFormat: table.dateFormat }) })
  return (text, where) => {
    const t = text.trim()
    let ms = NaN
    try {
      ms = format.kind === 'date' ? parseDateWith(t, format.format) : parseTimeText(t, { field: where })
    } catch {
      /* said below */
    }
    if (!Number.isFinite(ms)) throw new DataError(`${where}: ${JSON.stringify(t.slice(0, 40))} is not a time of the column's format; expected ISO 8601 (2024-01-31T00:00:00Z; no offset means UTC), a date, or an epoch number (s, ms, µs or ns)`)
    return ms
  }
}

function splitRows(table: CsvTable, label: string): string[][] {
  return table.lines.map((line, i) => splitCsvLine(line, () => new DataError(`${label} line ${i + 2}: a quoted cell is not closed`)))
}

function parseNumber(text: string, where: string): number {
  const t = text.trim()
  const v = t === '' ? NaN : Number(t)
  if (!Number.isFinite(v)) throw new DataError(`${where}: ${JSON.stringify(t.slice(0, 40))} is not a number`)
  return v
}

/** time,equity columns (others ignored), checked: times strictly increasing, equity > 0. */
function equityColumns(table: CsvTable, label: string): { time: Float64Array; equity: Float64Array } {
  const expected = 'columns time,equity'
  const ti = columnOf(table, 'time', expected)
  const ei = columnOf(table, 'equity', expected)
  const n = table.lines.length
  const time = new Float64Array(n)
  const equity = new Float64Array(n)
  const progress = rowProgress(table)
  const rows = splitRows(table, label)
  const parseTime = timeReader(table, rows, [ti])
  for (let i = 0; i < n; i++) {
    progress.tick(i)
    const cells = rows[i]!
    const where = `${label} line ${i + 2}`
    time[i] = parseTime(cells[ti] ?? '', `${where} time`)
    equity[i] = parseNumber(cells[ei] ?? '', `${where} equity`)
    if (!(equity[i]! > 0)) throw new DataError(`${where}: equity ${cells[ei]} must be > 0`)
    if (i > 0 && !(time[i]! > time[i - 1]!)) throw new DataError(`${where}: time ${cells[ti]} is not after the line before; expected strictly increasing times`)
  }
  progress.finish()
  if (n < 2) throw new DataError(`${label} has ${n} equity point(s); a tearsheet needs at least 2`)
  return { time, equity }
}

/**
 * A flag cell: true/false in any case (pandas writes True), 1/0 (1.0/0.0 from a float column), or empty (false). Anything else is refused: read
 * as false, an open trade's unrealised P&L went into the closed trades' statistics and curve.
 */
function flag(cell: string, where: string): boolean {
  const v = cell.trim().toLowerCase()
  if (v === 'true' || (v !== '' && Number(v) === 1)) return true
  if (v === 'false' || v === '' || Number(v) === 0) return false
  throw new DataError(`${where} is ${JSON.stringify(cell.slice(0, 40))}; expected true or false`)
}

/** The backtest's trades.csv columns: symbol, entryTime, exitTime and pnl needed; the others when present. */
function tradeColumns(table: CsvTable, label: string): TradeColumns {
  const expected = 'the columns of a backtest trades.csv: symbol,entryTime,exitTime,pnl (and optionally direction,entryPrice,exitPrice,returnPct,tag,exitReason,open)'
  const need = { symbol: columnOf(table, 'symbol', expected), entryTime: columnOf(table, 'entryTime', expected), exitTime: columnOf(table, 'exitTime', expected), pnl: columnOf(table, 'pnl', expected) }
  const opt = (name: string) => {
    const at = table.header.indexOf(name)
    return at < 0 ? undefined : at
  }
  const at = { entryPrice: opt('entryPrice'), exitPrice: opt('exitPrice'), returnPct: opt('returnPct'), qty: opt('qty'), direction: opt('direction'), tag: opt('tag'), exitReason: opt('exitReason'), open: opt('open') }
  const n = table.lines.length
  const cols = {
    symbol: new Array<string>(n),
    entryTime: new Float64Array(n),
    exitTime: new Float64Array(n),
    pnl: new Float64Array(n),
    entryPrice: at.entryPrice === undefined ? undefined : new Float64Array(n),
    exitPrice: at.exitPrice === undefined ? undefined : new Float64Array(n),
    returnPct: at.returnPct === undefined ? undefined : new Float64Array(n),
    qty: at.qty === undefined ? undefined : new Float64Array(n),
    direction: at.direction === undefined ? undefined : new Array<string>(n),
    tag: at.tag === undefined ? undefined : new Array<string>(n),
    exitReason: at.exitReason === undefined ? undefined : new Array<string>(n),
    open: at.open === undefined ? undefined : new Array<boolean>(n),
  }
  // An empty price cell (NaN in the backtest's files) stays NaN: the trade is left off the price chart.
  const maybe = (cell: string | undefined) => (cell === undefined || cell.trim() === '' ? NaN : Number(cell))
  const progress = rowProgress(table)
  const rows = splitRows(table, label)
  const entryTime = timeReader(table, rows, [need.entryTime])
  const exitTime = timeReader(table, rows, [need.exitTime])
  for (let i = 0; i < n; i++) {
    progress.tick(i)
    const c = rows[i]!
    const where = `${label} line ${i + 2}`
    cols.symbol[i] = c[need.symbol] ?? ''
    cols.entryTime[i] = entryTime(c[need.entryTime] ?? '', `${where} entryTime`)
    cols.exitTime[i] = exitTime(c[need.exitTime] ?? '', `${where} exitTime`)
    cols.pnl[i] = parseNumber(c[need.pnl] ?? '', `${where} pnl`)
    if (cols.entryPrice !== undefined) cols.entryPrice[i] = maybe(c[at.entryPrice!])
    if (cols.exitPrice !== undefined) cols.exitPrice[i] = maybe(c[at.exitPrice!])
    if (cols.returnPct !== undefined) cols.returnPct[i] = maybe(c[at.returnPct!])
    if (cols.qty !== undefined) cols.qty[i] = maybe(c[at.qty!])
    if (cols.direction !== undefined) cols.direction[i] = c[at.direction!] ?? ''
    if (cols.tag !== undefined) cols.tag[i] = c[at.tag!] ?? ''
    if (cols.exitReason !== undefined) cols.exitReason[i] = c[at.exitReason!] ?? ''
    if (cols.open !== undefined) cols.open[i] = flag(c[at.open!] ?? '', `${where} open`)
  }
  progress.finish()
  const out: TradeColumns = { symbol: cols.symbol, entryTime: cols.entryTime, exitTime: cols.exitTime, pnl: cols.pnl }
  for (const k of ['entryPrice', 'exitPrice', 'returnPct', 'qty', 'direction', 'tag', 'exitReason', 'open'] as const) if (cols[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = cols[k]
  return out
}

function onWeekend(t: number): boolean {
  const weekday = new Date(Math.floor(t / DAY_MS) * DAY_MS).getUTCDay()
  return weekday === 0 || weekday === 6
}

/**
 * An equity curve from trades alone: `cash` at the first entry, then cash plus the closed trades' running
 * P&L at each exit time (open trades are left out, as the tearsheet leaves them out of its statistics), and
 * at the end of every weekday (UTC; every day when a trade opens or closes on a weekend) between: flat between exits, so a day without an exit is a daily return
 * of 0. (Points at the exits alone made each gap between exits — weeks, often — one "daily" return, and the
 * annualised volatility and Sharpe of a backtest's trades came out ~8× those of its equity curve.) It knows
 * nothing of open positions' marks, so its drawdowns are those of realised P&L.
 */
export function equityOfTrades(trades: TradeColumns, cash: number, label: string): { time: Float64Array; equity: Float64Array } {
  const rows: number[] = []
  for (let i = 0; i < trades.pnl.length; i++) if (trades.open?.[i] !== true) rows.push(i)
  if (rows.length === 0) throw new DataError(`${label} has no closed trades; an equity curve from trades needs at least one`)
  rows.sort((a, b) => trades.exitTime[a]! - trades.exitTime[b]!)
  let first = Infinity
  for (const i of rows) first = Math.min(first, trades.entryTime[i]!)
  const last = trades.exitTime[rows[rows.length - 1]!]!
  if (!(last > first)) throw new DataError(`${label}: every trade opens and closes at ${new Date(first).toISOString()}; a tearsheet needs equity at 2 times`)
  const time = [first]
  const equity = [cash]
  let total = cash
  let next = 0
  // The calendar of the flat days: weekdays, or every day when a trade opens or closes on a weekend (a 24/7
  // market: its weekend exits alone made points, a mix of two calendars).
  let everyDay = false
  for (const i of rows) if (onWeekend(trades.entryTime[i]!) || onWeekend(trades.exitTime[i]!)) everyDay = true
  for (let day = Math.floor(first / DAY_MS); day <= Math.floor(last / DAY_MS); day++) {
    const end = (day + 1) * DAY_MS
    let exited = false
    for (; next < rows.length && trades.exitTime[rows[next]!]! < end; next++) {
      const i = rows[next]!
      total += trades.pnl[i]!
      if (!(total > 0)) throw new DataError(`${label}: equity falls to ${total} at ${new Date(trades.exitTime[i]!).toISOString()} from --cash ${cash}; give a larger --cash`)
      const t = trades.exitTime[i]!
      if (time.length === 1 && t === time[0]) {
        // A trade that ends where the first one began (a stop hit on its entry bar: fills carry the bar's time):
        // the cash is its start, a millisecond before. It replaced the start, and that trade's P&L was lost.
        time[0] = t - 1
        time.push(t)
        equity.push(total)
      } else if (t === time[time.length - 1]) equity[equity.length - 1] = total
      else {
        time.push(t)
        equity.push(total)
      }
      exited = true
    }
    // A day of the calendar without an exit (after the first entry's): its close, flat.
    const weekday = new Date(day * DAY_MS).getUTCDay()
    if (!exited && (everyDay || (weekday >= 1 && weekday <= 5)) && end - 1 > first) {
      time.push(end - 1)
      equity.push(total)
    }
  }
  return { time: Float64Array.from(time), equity: Float64Array.from(equity) }
}

