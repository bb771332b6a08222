// `mtflow deploy --weights FILE`: a portfolio of deployments, one per row — a strategy reference, its
// symbols and its share of the capital ("run live with weights"). CSV with the header
// strategy,symbols,weight (symbols separated by spaces or "|"), or a JSON array of
// { strategy, symbols, weight, params? }. Every reference is resolved in the registry and pinned here, so
// the deployments started from the file run exactly the versions that were checked. Any problem is one
// line naming the file, the row (CSV line or JSON entry, from 1) and what was expected.

import { ConfigError, preview, readTextFile, sha256, splitCsvLine } from '../core/index.js'
import { parseRef, type Registry } from '../track/index.js'
import { numberText, refuseRepeatedKeys } from '../portfolio/text-file.js'
import { pinStrategy, SYMBOL, type DeploymentDraft, type StrategyPin } from './config.js'

export interface WeightedStrategy {
  /** The reference as the file gives it (NAME, NAME@VERSION or NAME@ALIAS). */
  ref: string
  /** The version it resolved to. */
  strategy: StrategyPin
  symbols: string[]
  /** Share of the capital, 0 < weight; the file's weights sum to at most 1. */
  weight: number
  params?: Record<string, number | string>
  /** The CSV line or the JSON entry it came from (from 1). */
  row: number
}

/** Weights may sum to 1 with rounding (0.34 + 0.56 + 0.1 = 1.0000000000000002). */
const SUM_TOLERANCE = 1e-9
const MAX_FILE_BYTES = 1024 * 1024
const CSV_COLUMNS = ['strategy', 'symbols', 'weight'] as const
const JSON_FIELDS = ['strategy', 'symbols', 'weight', 'params'] as const

/** The weighted strategies of a weights file (CSV, or JSON by its .json name or a leading "["). */
export function readWeightsFile(file: string, registry: Registry): WeightedStrategy[] {
  // One descriptor for the checks and the read (a file swapped between a stat and a read got past the cap).
  return parseWeights(readTextFile(file, 'weights file', MAX_FILE_BYTES), { file, registry })
}

/** `text` as a weights file named `file` (for messages); `format` by default from the name or the content. */
export function parseWeights(text: string, options: { file: string; registry: Registry; format?: 'csv' | 'json' }): WeightedStrategy[] {
  const { file } = options
  const body = text.replace(/^\uFEFF/, '')
  const format = options.format ?? (/\.json$/i.test(file) || body.trimStart().startsWith('[') ? 'json' : 'csv')
  const rows = format === 'json' ? jsonRows(body, file) : csvRows(body, file)
  if (rows.length === 0) {
    throw new ConfigError(format === 'json' ? `weights file ${file} holds no entries; expected a JSON array of { strategy, symbols, weight, params? }` : `weights file ${file} is empty; expected the header strategy,symbols,weight and one row per strategy`)
  }
  const out: WeightedStrategy[] = []
  const seen = new Map<string, number>()
  let sum = 0
  for (const r of rows) {
    const where = `weights file ${file} ${r.label}`
    const fail = (problem: string, cause?: unknown): never => {
      throw new ConfigError(`${where}: ${problem}`, cause === undefined ? {} : { cause })
    }
    if (typeof r.strategy !== 'string' || r.strategy === '') fail(`strategy must be a registry reference NAME, NAME@VERSION or NAME@ALIAS (received ${preview(r.strategy, 80)})`)
    const ref = r.strategy as string
    try {
      parseRef(ref)
    } catch (error) {
      fail(`strategy must be a registry reference NAME, NAME@VERSION or NAME@ALIAS (received ${preview(ref, 80)})`, error)
    }
    let version
    try {
      version = pinStrategy(options.registry, ref, `strategy ${preview(ref, 80)}`)
    } catch (error) {
      // "no strategy named …", "has no version 7 (versions: 1, 2)", "has no alias …", "is retired".
      return fail(`unknown strategy ${preview(ref, 80)}: ${(error as Error).message.replace(/^strategy "[^"]*": /, '')}`, error)
    }

    const symbols = typeof r.symbols === 'string' ? r.symbols.split(/[\s|]+/).filter((s) => s !== '') : r.symbols
    if (!Array.isArray(symbols) || symbols.length === 0) fail(`symbols must be one or more symbols separated by spaces or "|" (received ${preview(r.symbols, 80)})`)
    for (const s of symbols as unknown[]) {
      if (typeof s !== 'string' || !SYMBOL.test(s)) fail(`symbol ${preview(s, 80)} is not a symbol such as BTC/USDT (letters, digits, / : . _ -)`)
    }
    const list = symbols as string[]
    const repeated = list.find((s, k) => list.indexOf(s) !== k)
    if (repeated !== undefined) fail(`symbol ${repeated} is listed twice`)

    // The lake's number grammar, not Number(): "0x1" is no weight (Number read it as 1).
    const weight = typeof r.weight === 'string' && r.weight.trim() !== '' ? numberText(r.weight) : r.weight
    if (!(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) fail(`weight must be a finite number > 0 (received ${preview(r.weight, 80)})`)
    const w = weight as number

    let params: Record<string, number | string> | undefined
    if (r.params !== undefined) {
      if (r.params === null || typeof r.params !== 'object' || Array.isArray(r.params)) fail(`params must be an object of name → number or string (received ${preview(r.params, 80)})`)
      params = {}
      for (const [k, v] of Object.entries(r.params as object)) {
        if (!((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string')) fail(`params.${k} must be a finite number or a string (received ${preview(v, 80)})`)
        params[k] = v as number | string
      }
    }

    // One strategy (whatever its version) once per symbol: the journal books positions per strategy|symbol.
    for (const s of list) {
      const key = `${version.name}|${s}`
      const before = seen.get(key)
      if (before !== undefined) fail(`strategy ${version.name} on ${s} is already on ${r.label.startsWith('line') ? 'line' : 'entry'} ${before}`)
      seen.set(key, r.row)
    }
    sum += w
    if (sum > 1 + SUM_TOLERANCE) fail(`the weights sum to ${Number(sum.toPrecision(12))} by this row; they are shares of the capital and must sum to at most 1`)

    out.push({ ref, strategy: { name: version.name, version: version.version, sha256: version.sha256 }, symbols: [...list], weight: w, ...(params === undefined ? {} : { params }), row: r.row })
  }
  return out
}

/** What every deployment of a weights file shares (the command line's flags). */
export type SharedDeploymentOptions = Omit<DeploymentDraft, 'name' | 'strategy' | 'symbols' | 'weight' | 'params'>

/**
 * One deployment draft per row: the row's pinned strategy, symbols, weight and params over the shared
 * options. Names are `<strategy>.<symbols>` ("/" and ":" as "_", symbols joined by "-"), e.g.
 * "sma-cross.BTC_USDT-ETH_USDT"; past 64 characters, cut to 51 and suffixed with 12 hex digits of the full
 * name's sha256. The same row always gets the same name, so one row can be stopped or started again without
 * touching the others.
 */
export function weightedDrafts(entries: readonly WeightedStrategy[], shared: SharedDeploymentOptions): DeploymentDraft[] {
  const rows = new Map<string, number>()
  return entries.map((e) => {
    const name = deploymentName(e.strategy.name, e.symbols)
    const before = rows.get(name)
    // Only symbols that differ by "/" vs "_" (BTC/USDT and BTC_USDT) can meet here.
    if (before !== undefined) throw new ConfigError(`weights rows ${before} and ${e.row} give the same deployment name ${name}; list their symbols in one row or rename a symbol`)
    rows.set(name, e.row)
    return {
      ...shared,
      name,
      strategy: { ...e.strategy },
      symbols: [...e.symbols],
      weight: e.weight,
      ...(e.params === undefined ? {} : { params: { ...e.params } }),
    }
  })
}

/** A deployment name for a strategy on symbols: [A-Za-z0-9._-], at most 64 characters. */
export function deploymentName(strategy: string, symbols: readonly string[]): string {
  const full = `${strategy}.${symbols.map((s) => s.replace(/[^A-Za-z0-9._-]/g, '_')).join('-')}`.replace(/^[^A-Za-z0-9]+/, '')
  return full.length <= 64 ? full : `${full.slice(0, 51)}-${sha256(full).slice(0, 12)}`
}

interface RawRow {
  row: number
  label: string
  strategy: unknown
  symbols: unknown
  weight: unknown
  params?: unknown
}

function jsonRows(text: string, file: string): RawRow[] {
  if (text.trim() === '') return []
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`weights file ${file} is not valid JSON (${preview((error as Error).message, 120)}); expected an array of { strategy, symbols, weight, params? }`, { cause: error })
  }
  if (!Array.isArray(parsed)) throw new ConfigError(`weights file ${file} must hold a JSON array of { strategy, symbols, weight, params? } (received ${preview(parsed, 80)})`)
  refuseRepeatedKeys(text, `weights file ${file}`)
  return parsed.map((entry, k) => {
    const label = `entry ${k + 1}`
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new ConfigError(`weights file ${file} ${label}: expected an object { strategy, symbols, weight, params? } (received ${preview(entry, 80)})`)
    for (const key of Object.keys(entry)) {
      if (!(JSON_FIELDS as readonly string[]).includes(key)) throw new ConfigError(`weights file ${file} ${label}: no field ${preview(key, 40)} (fields: ${JSON_FIELDS.join(', ')})`)
    }
    const e = entry as Record<string, unknown>
    return { row: k + 1, label, strategy: e.strategy, symbols: e.symbols, weight: e.weight, ...(e.params === undefined ? {} : { params: e.params }) }
  })
}

/** Rows of a small CSV: a header naming the three columns (any order), blank lines and "#" lines skipped. */
function csvRows(text: string, file: string): RawRow[] {
  const lines = text.split(/\r?\n/)
  const rows: RawRow[] = []
  let columns: string[] | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    const label = `line ${i + 1}`
    const fields = splitCsvLine(line, () => new ConfigError(`weights file ${file} ${label}: a quoted field is not closed`))
    if (columns === undefined) {
      columns = fields.map((f) => f.trim().toLowerCase())
      for (const c of columns) {
        if (!(CSV_COLUMNS as readonly string[]).includes(c)) throw new ConfigError(`weights file ${file} ${label}: unknown column ${preview(c, 40)}; expected the header strategy,symbols,weight`)
      }
      for (const c of CSV_COLUMNS) {
        if (!columns.includes(c)) throw new ConfigError(`weights file ${file} ${label}: the header has no column "${c}"; expected strategy,symbols,weight`)
      }
      if (new Set(columns).size !== columns.length) throw new ConfigError(`weights file ${file} ${label}: the header names a column twice; expected strategy,symbols,weight`)
      continue
    }
    if (fields.length !== columns.length) throw new ConfigError(`weights file ${file} ${label}: expected ${columns.length} fields (${columns.join(',')}), found ${fields.length}`)
    const value = (name: string) => fields[columns!.indexOf(name)]!.trim()
    rows.push({ row: i + 1, label, strategy: value('strategy'), symbols: value('symbols'), weight: value('weight') })
  }
  return rows
}

