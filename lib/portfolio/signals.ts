// Signals as `mtflow infer --out` writes them (one JSON object per line, or a JSON array): validated field
// by field — a hostile or hand-edited file fails on its first bad line with one error naming file:line —
// then reduced to the latest signal per target. The shape is lib/pipeline/infer.ts `Signal` (repeated
// here: lib/portfolio does not import the pipeline).

import { ConfigError, preview, sha256 } from '../core/index.js'
import { isPlainObject, MARKET_SYMBOL, readTextFile } from './text-file.js'

export interface Signal {
  /** ISO time of the bar the signal is for. */
  time: string
  /** "Y~X" for a pair, else a symbol. */
  target: string
  /** The model that made it, NAME@VERSION. */
  model: string
  /** P(label = 1): the spread reverts (a pair), the return is up (a symbol). */
  probability: number
  side: 'long' | 'short' | 'long spread' | 'short spread'
  /** |2p − 1|. */
  confidence: number
}

/** 16 MiB: about 80,000 signals; `infer --last N` over a few hundred models stays far below. */
export const MAX_SIGNALS_BYTES = 16 * 1024 * 1024
const FIELDS = ['time', 'target', 'model', 'probability', 'side', 'confidence'] as const
const SIDES = ['long', 'short', 'long spread', 'short spread'] as const
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/

/** The legs of a target: [Y, X] for "Y~X", [symbol] otherwise. */
export function legsOf(target: string): [string] | [string, string] {
  const at = target.indexOf('~')
  return at < 0 ? [target] : [target.slice(0, at), target.slice(at + 1)]
}

/** One signal from a parsed value, or a ConfigError `${where}: …`. */
export function checkSignal(value: unknown, where: string): Signal {
  const fail = (problem: string): never => {
    throw new ConfigError(`${where}: ${problem}`)
  }
  if (!isPlainObject(value)) fail(`expected an object { ${FIELDS.join(', ')} } (received ${preview(value, 80)})`)
  const v = value as Record<string, unknown>
  for (const key of Object.keys(v)) if (!(FIELDS as readonly string[]).includes(key)) fail(`no field ${preview(key, 40)} (fields: ${FIELDS.join(', ')})`)
  for (const key of FIELDS) if (!(key in v)) fail(`field ${key} is missing`)
  if (typeof v.time !== 'string' || !ISO.test(v.time) || !Number.isFinite(Date.parse(v.time))) fail(`time must be an ISO time such as 2024-01-31T00:00:00.000Z (received ${preview(v.time, 60)})`)
  const target = v.target
  if (typeof target !== 'string' || target.split('~').length > 2 || !legsOf(target).every((s) => MARKET_SYMBOL.test(s))) fail(`target must be a symbol or a pair "Y~X" of symbols (received ${preview(target, 80)})`)
  const legs = legsOf(target as string)
  if (legs.length === 2 && legs[0] === legs[1]) fail(`target ${target as string} pairs a symbol with itself`)
  if (typeof v.model !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}@[A-Za-z0-9._-]{1,64}$/.test(v.model)) fail(`model must be a registry reference NAME@VERSION (received ${preview(v.model, 80)})`)
  const p = v.probability
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) fail(`probability must be a number in [0, 1] (received ${preview(p, 40)})`)
  if (!(SIDES as readonly unknown[]).includes(v.side)) fail(`side must be one of ${SIDES.map((s) => `"${s}"`).join(', ')} (received ${preview(v.side, 40)})`)
  const spread = v.side === 'long spread' || v.side === 'short spread'
  if (spread !== (legs.length === 2)) fail(`side "${v.side as string}" is for ${spread ? 'a pair "Y~X"' : 'a symbol'}; target ${target as string} is ${legs.length === 2 ? 'a pair' : 'a symbol'}`)
  const c = v.confidence
  if (typeof c !== 'number' || !(c >= 0 && c <= 1)) fail(`confidence must be a number in [0, 1] (received ${preview(c, 40)})`)
  if (Math.abs((c as number) - Math.abs(2 * (p as number) - 1)) > 1e-9) fail(`confidence ${c as number} is not |2p − 1| of probability ${p as number}`)
  return { time: v.time as string, target: target as string, model: v.model as string, probability: p as number, side: v.side as Signal['side'], confidence: c as number }
}

/** Signals of a text: JSON lines, or a JSON array (text starting with "["). `name` says where, in errors. */
export function parseSignals(text: string, name: string): Signal[] {
  const body = text.replace(/^\uFEFF/, '')
  if (body.trimStart().startsWith('[')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch (error) {
      throw new ConfigError(`${name} is not valid JSON (${preview((error as Error).message, 100)}); expected JSON lines or an array of signals`, { cause: error })
    }
    if (!Array.isArray(parsed)) throw new ConfigError(`${name}: expected an array of signals`)
    return parsed.map((s, k) => checkSignal(s, `${name} entry ${k + 1}`))
  }
  const out: Signal[] = []
  const lines = body.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '')
    if (line.trim() === '') continue
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch (error) {
      throw new ConfigError(`${name}:${i + 1}: not a JSON object (${preview((error as Error).message, 80)}); expected one signal per line`, { cause: error })
    }
    out.push(checkSignal(parsed, `${name}:${i + 1}`))
  }
  return out
}

/** The signals of a file with the sha256 of its bytes (what an orders file records as its source). */
export function readSignalsFile(file: string): { signals: Signal[]; sha256: string } {
  const text = readTextFile(file, 'signals file', MAX_SIGNALS_BYTES)
  const signals = parseSignals(text, file)
  if (signals.length === 0) throw new ConfigError(`signals file ${file} holds no signals; expected one JSON object per line (mtflow infer --out)`)
  return { signals, sha256: sha256(text) }
}

/** The latest signal of each target (by time; of two at one time, the later in the list), in order of first appearance. */
export function latestPerTarget(signals: readonly Signal[]): Signal[] {
  const latest = new Map<string, Signal>()
  for (const s of signals) {
    const before = latest.get(s.target)
    if (before === undefined || Date.parse(s.time) >= Date.parse(before.time)) latest.set(s.target, s)
  }
  return [...latest.values()]
}

/**
 * A signal's direction. A symbol: +1 long, −1 short. A pair: "long spread" +1 (long Y, short β·X), "short
 * spread" −1 — but only when the model expects the spread to revert (p ≥ 0.5); below that the side is only
 * where z points and the model bets against it, so the pair is flat (0). Signals under `minConfidence` are flat.
 */
export function directionOf(s: Signal, minConfidence = 0): -1 | 0 | 1 {
  if (s.confidence < minConfidence) return 0
  if (s.side === 'long') return 1
  if (s.side === 'short') return -1
  if (s.probability < 0.5) return 0
  return s.side === 'long spread' ? 1 : -1
}
