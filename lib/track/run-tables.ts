// A tracked run's tables (equity, trades, orders, fills, factors) as their readers get them: the one
// place that knows which file holds a table. Runs logged since issue 24 keep NAME.parquet (written by
// logBacktest straight from the engine's columns, lib/core/parquet-columns.ts: times as TIMESTAMP(ms, UTC),
// missing values as NULL); runs recorded before keep NAME.csv (times as ISO 8601 text), read as they were.

import { csvText, DataError, isoTime, splitCsvLine } from '../core/index.js'
import { isTimeColumn, parquetColumns, type ParquetColumn } from '../core/parquet-columns.js'

/** A backtest's tables, a sweep's (one row per parameter set) and a gated batch's summary. */
export const RUN_TABLES = ['equity', 'trades', 'orders', 'fills', 'factors', 'sweep', 'summary'] as const
export type RunTableName = (typeof RUN_TABLES)[number]

/** The artifact a new run's table is logged as. */
export function runTableFile(name: RunTableName): string {
  return `${name}.parquet`
}

/** The artifact holding a run's table: NAME.parquet, else a run recorded before's NAME.csv, else undefined. */
export function runTableArtifact(artifacts: readonly { path: string }[], name: RunTableName): string | undefined {
  for (const path of [runTableFile(name), `${name}.csv`]) if (artifacts.some((a) => a.path === path)) return path
  return undefined
}

/** A run's table: decoded columns (Parquet), or the text of a run recorded before (CSV, its readers parse it). */
export type RunTable = { artifact: string; label: string } & ({ format: 'parquet'; columns: Record<string, ParquetColumn> } | { format: 'csv'; text: string })

/** What reading a run's tables needs of a tracker (Tracker and RemoteTracker have it). */
export interface RunArtifactReader {
  getRun(runId: string): { artifacts: readonly { path: string }[] }
  readArtifact(runId: string, path: string): { bytes: Uint8Array }
}

/** A run's table (its recorded sha256 checked by readArtifact), or undefined when the run has none. */
export function readRunTable(tracker: RunArtifactReader, runId: string, name: RunTableName): RunTable | undefined {
  const artifact = runTableArtifact(tracker.getRun(runId).artifacts, name)
  if (artifact === undefined) return undefined
  const label = `${artifact} of run ${runId}`
  const bytes = tracker.readArtifact(runId, artifact).bytes
  if (artifact.endsWith('.parquet')) return { artifact, label, format: 'parquet', columns: parquetColumns(bytes, label) }
  return { artifact, label, format: 'csv', text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8') }
}

/**
 * A table's header and rows as the CSV export writes its cells (times as ISO 8601, missing values empty,
 * flags as true/false), whichever file holds it: for pages that show a table as text. `limit` rows at most.
 */
export function runTableRows(table: RunTable, limit = Infinity): { columns: string[]; rows: string[][]; total: number } {
  if (table.format === 'csv') {
    const lines = table.text.split(/\r?\n/).filter((line) => line.trim() !== '')
    const unclosed = () => new DataError(`${table.label}: a quoted cell is not closed`)
    const columns = lines.length === 0 ? [] : splitCsvLine(lines[0]!, unclosed)
    return { columns, rows: lines.slice(1, 1 + Math.min(limit, lines.length)).map((line) => splitCsvLine(line, unclosed)), total: Math.max(0, lines.length - 1) }
  }
  const columns = Object.keys(table.columns)
  const total = columns.length === 0 ? 0 : table.columns[columns[0]!]!.length
  const rows: string[][] = []
  for (let i = 0; i < Math.min(total, limit); i++) rows.push(columns.map((c) => cellText(table.columns[c]![i]!, isTimeColumn(c))))
  return { columns, rows, total }
}

/** A table as the CSV text `--export` writes for it (a run recorded before: its own CSV file's text). */
export function runTableCsv(table: RunTable): string {
  // A run recorded before: its own CSV's cells, each written again (its text cells escaped as every CSV is now).
  const { columns, rows } = runTableRows(table)
  return `${[columns.map(csvText).join(','), ...rows.map((row) => row.map(csvText).join(','))].join('\n')}\n`
}

function cellText(v: number | string | boolean, time: boolean): string {
  if (typeof v === 'number') return Number.isNaN(v) ? '' : time && Number.isFinite(v) ? isoTime(v) : String(v)
  return typeof v === 'boolean' ? String(v) : v
}
