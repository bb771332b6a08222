// Weights: shares of the capital per target (a pair "Y~X" or a symbol) or per strategy, from a weights
// file people write, or derived from a results table by a scheme:
// - winners: 1 for a Sharpe ratio > 0, 0 otherwise, then normalised to sum 1 (all losers: an error);
// - equal: 1/N;
// - inverse-vol: 1/σ normalised to sum 1 (σ from a volatility column, or the sample sd of a name's returns).
// And the production config of the non-zero weighted strategies, in the format `mtflow deploy --weights`
// reads (lib/live/weights-file.ts: a JSON array of { strategy, symbols, weight }).

import { ConfigError, csvField, preview, splitCsvLine } from '../core/index.js'
import { legsOf } from './signals.js'
import { isPlainObject, MARKET_SYMBOL, numberText, readTextFile, refuseRepeatedKeys } from './text-file.js'

export type WeightScheme = 'winners' | 'equal' | 'inverse-vol'
export const WEIGHT_SCHEMES: readonly WeightScheme[] = ['winners', 'equal', 'inverse-vol']
const MAX_BYTES = 4 * 1024 * 1024

export interface WeightRow {
  /** The CSV line or JSON entry (from 1) and how messages name it ("line 3", "entry 2"). */
  row: number
  label: string
  /** The pair "Y~X" or symbol it weights. */
  target?: string
  /** A registry strategy reference (NAME, NAME@VERSION, NAME@ALIAS). */
  strategy?: string
  /** The symbols a strategy row trades (default: its target's legs). */
  symbols?: string[]
  weight: number
}

const COLUMNS = ['target', 'strategy', 'symbols', 'weight'] as const

function checkRow(raw: Record<string, unknown>, row: number, label: string, where: string): WeightRow {
  const fail = (problem: string): never => {
    throw new ConfigError(`${where} ${label}: ${problem}`)
  }
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined)
  const target = text(raw.target)
  const strategy = text(raw.strategy)
  if (raw.target !== undefined && raw.target !== '' && target === undefined) fail(`target must be a symbol or a pair "Y~X" (received ${preview(raw.target, 60)})`)
  if (target === undefined && strategy === undefined) fail('names no target and no strategy')
  if (target !== undefined && (target.split('~').length > 2 || !legsOf(target).every((s) => MARKET_SYMBOL.test(s)))) fail(`target must be a symbol or a pair "Y~X" of symbols (received ${preview(target, 60)})`)
  if (raw.strategy !== undefined && raw.strategy !== '' && (strategy === undefined || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(@[A-Za-z0-9._-]{1,64})?$/.test(strategy))) fail(`strategy must be a registry reference NAME, NAME@VERSION or NAME@ALIAS (received ${preview(raw.strategy, 60)})`)
  let symbols: string[] | undefined
  if (raw.symbols !== undefined && raw.symbols !== '') {
    const list = typeof raw.symbols === 'string' ? raw.symbols.split(/[\s|]+/).filter((s) => s !== '') : raw.symbols
    if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && MARKET_SYMBOL.test(s))) fail(`symbols must be symbols separated by spaces or "|" (received ${preview(raw.symbols, 60)})`)
    symbols = list as string[]
  }
  const w = typeof raw.weight === 'string' && raw.weight.trim() !== '' ? numberText(raw.weight) : raw.weight
  if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) fail(`weight must be a finite number ≥ 0 (received ${preview(raw.weight, 40)})`)
  return { row, label, ...(target === undefined ? {} : { target }), ...(strategy === undefined ? {} : { strategy }), ...(symbols === undefined ? {} : { symbols }), weight: w as number }
}

/** Rows of a weights file: CSV with a header of weight and target and/or strategy (symbols optional), or a JSON array of such objects. */
export function parseWeightsTable(text: string, file: string): WeightRow[] {
  const where = `weights file ${file}`
  const body = text.replace(/^\uFEFF/, '')
  let rows: WeightRow[] = []
  if (/\.json$/i.test(file) || body.trimStart().startsWith('[')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch (error) {
      throw new ConfigError(`${where} is not valid JSON (${preview((error as Error).message, 100)}); expected an array of { target?, strategy?, symbols?, weight }`, { cause: error })
    }
    if (!Array.isArray(parsed)) throw new ConfigError(`${where} must hold a JSON array of { target?, strategy?, symbols?, weight }`)
    refuseRepeatedKeys(body, where)
    rows = parsed.map((e, k) => {
      if (!isPlainObject(e)) throw new ConfigError(`${where} entry ${k + 1}: expected an object { target?, strategy?, symbols?, weight } (received ${preview(e, 60)})`)
      for (const key of Object.keys(e)) if (!(COLUMNS as readonly string[]).includes(key)) throw new ConfigError(`${where} entry ${k + 1}: no field ${preview(key, 40)} (fields: ${COLUMNS.join(', ')})`)
      return checkRow(e, k + 1, `entry ${k + 1}`, where)
    })
  } else {
    const lines = body.split(/\r?\n/)
    let columns: string[] | undefined
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue
      const label = `line ${i + 1}`
      const fields = splitCsvLine(line, () => new ConfigError(`${where} ${label}: a quoted field is not closed`))
      if (columns === undefined) {
        columns = fields.map((f) => f.trim().toLowerCase())
        for (const c of columns) if (!(COLUMNS as readonly string[]).includes(c)) throw new ConfigError(`${where} ${label}: unknown column ${preview(c, 40)}; expected target,weight or strategy,weight (symbols optional)`)
        if (new Set(columns).size !== columns.length) throw new ConfigError(`${where} ${label}: the header names a column twice`)
        if (!columns.includes('weight') || !(columns.includes('target') || columns.includes('strategy'))) throw new ConfigError(`${where} ${label}: expected the header target,weight or strategy,weight (received ${preview(line, 60)})`)
        continue
      }
      if (fields.length !== columns.length) throw new ConfigError(`${where} ${label}: expected ${columns.length} fields (${columns.join(',')}), found ${fields.length}`)
      const raw: Record<string, unknown> = {}
      columns.forEach((c, j) => (raw[c] = fields[j]!.trim()))
      rows.push(checkRow(raw, i + 1, label, where))
    }
  }
  if (rows.length === 0) throw new ConfigError(`${where} holds no rows; expected target,weight or strategy,weight and one row per target or strategy`)
  const seen = new Map<string, string>()
  for (const r of rows) {
    const key = `${r.strategy ?? ''}|${r.target ?? ''}`
    const before = seen.get(key)
    if (before !== undefined) throw new ConfigError(`${where} ${r.label}: ${[r.strategy, r.target].filter((v) => v !== undefined).join(' on ')} is already on ${before}`)
    seen.set(key, r.label)
  }
  return rows
}

/**
 * Each target's share: the sum of its rows' weights. Two strategies may trade one target (rows strategy,target
 * differ); the target then holds both shares, as the production config deploys both (keeping only the last
 * row's weight sized the book on part of the capital the deployments get: an audit).
 */
export function targetShares(rows: readonly WeightRow[]): Record<string, number> {
  const out = Object.create(null) as Record<string, number>
  for (const r of rows) if (r.target !== undefined) out[r.target] = (out[r.target] ?? 0) + r.weight
  return out
}

export function readWeightsTable(file: string): WeightRow[] {
  return parseWeightsTable(readTextFile(file, 'weights file', MAX_BYTES), file)
}

/** One name's results: its Sharpe ratio and volatility (NaN when the table has none). */
export interface ResultRow {
  name: string
  sharpe: number
  volatility: number
}

/**
 * Rows of a results CSV: a name (column name or target), sharpe, and volatility — or, in long form, one
 * row per name and period with a returns column (σ = the sample sd of a name's returns; its Sharpe, when
 * the table has none, mean/sd of them, not annualised: only its sign and order matter to the schemes).
 */
export function parseResultsCsv(text: string, file: string): ResultRow[] {
  const where = `results file ${file}`
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  let columns: string[] | undefined
  const byName = new Map<string, { sharpe: number; volatility: number; returns: number[]; label: string }>()
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    const label = `line ${i + 1}`
    const fields = splitCsvLine(line, () => new ConfigError(`${where} ${label}: a quoted field is not closed`)).map((f) => f.trim())
    if (columns === undefined) {
      columns = fields.map((f) => f.toLowerCase())
      if (!columns.includes('name') && !columns.includes('target')) throw new ConfigError(`${where} ${label}: the header has no name or target column`)
      if (!columns.includes('sharpe') && !columns.includes('volatility') && !columns.includes('returns')) throw new ConfigError(`${where} ${label}: the header has none of sharpe, volatility, returns`)
      continue
    }
    if (fields.length !== columns.length) throw new ConfigError(`${where} ${label}: expected ${columns.length} fields, found ${fields.length}`)
    const get = (c: string) => (columns!.includes(c) ? fields[columns!.indexOf(c)]! : undefined)
    const name = get('name') ?? get('target')!
    if (name === '' || name.length > 200) throw new ConfigError(`${where} ${label}: the name is empty or longer than 200 characters`)
    const num = (c: string): number => {
      const v = get(c)
      if (v === undefined || v === '') return NaN
      const n = numberText(v)
      if (!Number.isFinite(n)) throw new ConfigError(`${where} ${label}: ${c} must be a finite number (received ${preview(v, 40)})`)
      return n
    }
    const entry = byName.get(name) ?? { sharpe: NaN, volatility: NaN, returns: [], label }
    const r = num('returns')
    if (!Number.isNaN(r)) entry.returns.push(r)
    else if (byName.has(name)) throw new ConfigError(`${where} ${label}: ${name} is already on ${entry.label}`)
    if (!Number.isNaN(num('sharpe'))) entry.sharpe = num('sharpe')
    if (!Number.isNaN(num('volatility'))) entry.volatility = num('volatility')
    byName.set(name, entry)
  }
  if (byName.size === 0) throw new ConfigError(`${where} holds no rows`)
  return [...byName].map(([name, e]) => {
    if (e.returns.length >= 2) {
      const mean = e.returns.reduce((a, b) => a + b, 0) / e.returns.length
      const sd = Math.sqrt(e.returns.reduce((a, b) => a + (b - mean) ** 2, 0) / (e.returns.length - 1))
      return { name, sharpe: Number.isNaN(e.sharpe) ? (sd > 0 ? mean / sd : 0) : e.sharpe, volatility: Number.isNaN(e.volatility) ? sd : e.volatility }
    }
    return { name, sharpe: e.sharpe, volatility: e.volatility }
  })
}

export function readResultsCsv(file: string): ResultRow[] {
  return parseResultsCsv(readTextFile(file, 'results file', 64 * 1024 * 1024), file)
}

/** Weights of results by a scheme (summing to 1); `what` names the source in errors. */
export function schemeWeights(rows: readonly ResultRow[], scheme: WeightScheme, what: string): Record<string, number> {
  if (!WEIGHT_SCHEMES.includes(scheme)) throw new ConfigError(`--scheme must be one of ${WEIGHT_SCHEMES.join(', ')} (received ${JSON.stringify(scheme)})`)
  if (rows.length === 0) throw new ConfigError(`${what} has no rows to weight`)
  let raw: number[]
  if (scheme === 'equal') raw = rows.map(() => 1)
  else if (scheme === 'winners') {
    const missing = rows.find((r) => Number.isNaN(r.sharpe))
    if (missing !== undefined) throw new ConfigError(`${what}: ${missing.name} has no Sharpe ratio; the winners scheme needs one per row`)
    raw = rows.map((r) => (r.sharpe > 0 ? 1 : 0))
    if (raw.every((v) => v === 0)) throw new ConfigError(`${what}: no row has a Sharpe ratio > 0; the winners scheme would weight nothing`)
  } else {
    const bad = rows.find((r) => !(r.volatility > 0 && Number.isFinite(r.volatility)))
    if (bad !== undefined) throw new ConfigError(`${what}: ${bad.name} has volatility ${bad.volatility}; inverse-vol needs a volatility > 0 per row (a volatility column, or returns)`)
    raw = rows.map((r) => 1 / r.volatility)
  }
  const sum = raw.reduce((a, b) => a + b, 0)
  const out = Object.create(null) as Record<string, number>
  rows.forEach((r, k) => (out[r.name] = raw[k]! / sum))
  return out
}

/** A weights CSV (name column `target` or `strategy`), what `--weights` reads back. */
export function formatWeightsCsv(weights: Readonly<Record<string, number>>, column: 'target' | 'strategy' = 'target'): string {
  return `${column},weight\n${Object.entries(weights).map(([n, w]) => `${csvField(n)},${w}`).join('\n')}\n`
}

export interface ProdConfigRow {
  strategy: string
  symbols: string[]
  weight: number
}

/**
 * The production config: the rows with a weight > 0, their weights rescaled to sum 1 when they sum above it
 * (shares of the capital, as `deploy --weights` wants them: at most 1 in all). Weights summing below 1 are
 * kept as they are: the rest is a cash reserve, which `deploy --weights` takes and the targets keep too
 * (scaling 0.3 + 0.3 up to 0.5 + 0.5 deployed 1.67× the capital asked for: an audit). Strategies are given
 * pinned (NAME@VERSION).
 */
export function prodConfig(rows: readonly ProdConfigRow[]): ProdConfigRow[] {
  const kept = rows.filter((r) => r.weight > 0)
  if (kept.length === 0) throw new ConfigError('--prod-config: no strategy has a weight > 0; nothing to deploy')
  const sum = kept.reduce((a, r) => a + r.weight, 0)
  const scale = Math.max(1, sum)
  // Rounded down at 12 digits so the rescaled weights never sum above 1.
  return kept.map((r) => ({ strategy: r.strategy, symbols: [...r.symbols], weight: Math.floor((r.weight / scale) * 1e12) / 1e12 }))
}
