// Risk caps for `mtflow portfolio targets` (--caps caps.json). Weights are signed fractions of the capital
// (0.25 = a long position worth a quarter of the capital; −0.1 = a short worth a tenth). Every key is
// optional; unknown keys are refused, and a value out of its range or caps that contradict each other are
// one ConfigError naming the cap. Caps that only the signals can show to be unmeetable (a gross cap of 0
// with positions asked for) are refused by portfolioTargets.

import { ConfigError, preview } from '../core/index.js'
import { isPlainObject, MARKET_SYMBOL, readTextFile, refuseRepeatedKeys } from './text-file.js'

export interface Caps {
  /** Largest |weight| of one symbol, after the targets touching it are summed (default 1: no leverage in one name). Clipped. */
  maxWeightPerAsset: number
  /** Largest Σ|weight| (default 1). Above it every weight is scaled down by one factor. */
  maxGross: number
  /** Largest |Σ weight| (default 1; may exceed maxGross, then it never binds). Scaled down as maxGross. */
  maxNet: number
  /** The drawdown from the equity's peak (a fraction, e.g. 0.2) at which the brake engages (default: none). */
  maxDrawdown?: number
  /** What the weights are multiplied by while the brake is engaged (default 0: flat). In [0, 1]. */
  drawdownBrake: number
  /** Money the weights are fractions of (default: the deployment's equity with --positions DEPLOYMENT, else 10,000). */
  capital?: number
  /** Quantity step per symbol (e.g. 0.001 BTC, 1 share); target quantities are rounded toward zero to it. Default: 1e-8. */
  lotSizes: Record<string, number>
  /** Orders worth less than this (|qty| × price) are dropped (default 0). */
  minNotional: number
}

export const DEFAULT_CAPITAL = 10_000
export const DEFAULT_LOT = 1e-8
const KEYS = ['maxWeightPerAsset', 'maxGross', 'maxNet', 'maxDrawdown', 'drawdownBrake', 'capital', 'lotSizes', 'minNotional'] as const

/** Caps from a parsed JSON value (`what` names it in errors, e.g. "caps file caps.json"). */
export function checkCaps(raw: unknown, what = 'caps'): Caps {
  const fail = (key: string, problem: string): never => {
    throw new ConfigError(`${what}: ${key} ${problem}`)
  }
  if (!isPlainObject(raw)) throw new ConfigError(`${what}: expected an object { ${KEYS.join(', ')} } (received ${preview(raw, 80)})`)
  for (const key of Object.keys(raw)) if (!(KEYS as readonly string[]).includes(key)) throw new ConfigError(`${what}: unknown cap ${preview(key, 40)} (caps: ${KEYS.join(', ')})`)
  const num = (key: string, expected: string, ok: (n: number) => boolean, fallback: number | undefined): number | undefined => {
    const v = raw[key]
    if (v === undefined) return fallback
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(key, `must be ${expected} (received ${preview(v, 40)})`)
    return v as number
  }
  const caps: Caps = {
    maxWeightPerAsset: num('maxWeightPerAsset', 'a fraction of the capital ≥ 0', (n) => n >= 0, 1)!,
    maxGross: num('maxGross', 'a fraction of the capital ≥ 0', (n) => n >= 0, 1)!,
    maxNet: num('maxNet', 'a fraction of the capital ≥ 0', (n) => n >= 0, 1)!,
    drawdownBrake: num('drawdownBrake', 'a multiplier in [0, 1] (0: flat while the brake is on)', (n) => n >= 0 && n <= 1, 0)!,
    minNotional: num('minNotional', 'an amount ≥ 0', (n) => n >= 0, 0)!,
    lotSizes: Object.create(null) as Record<string, number>,
  }
  const maxDrawdown = num('maxDrawdown', 'a drawdown fraction in (0, 1], e.g. 0.2', (n) => n > 0 && n <= 1, undefined)
  if (maxDrawdown !== undefined) caps.maxDrawdown = maxDrawdown
  const capital = num('capital', 'an amount > 0', (n) => n > 0, undefined)
  if (capital !== undefined) caps.capital = capital
  if (raw.lotSizes !== undefined) {
    if (!isPlainObject(raw.lotSizes)) fail('lotSizes', `must be an object symbol → lot size (received ${preview(raw.lotSizes, 60)})`)
    for (const [symbol, lot] of Object.entries(raw.lotSizes as object)) {
      if (!MARKET_SYMBOL.test(symbol)) fail('lotSizes', `names ${preview(symbol, 40)}, not a symbol such as BTC/USDT`)
      if (typeof lot !== 'number' || !Number.isFinite(lot) || !(lot > 0)) fail(`lotSizes.${symbol}`, `must be a quantity > 0 (received ${preview(lot, 40)})`)
      caps.lotSizes[symbol] = lot as number
    }
  }
  // Contradictions visible from the caps alone.
  if (raw.drawdownBrake !== undefined && maxDrawdown === undefined) fail('drawdownBrake', 'is set but maxDrawdown is not: the brake never engages (set maxDrawdown, or drop drawdownBrake)')
  if (caps.capital !== undefined) checkNotional(caps, caps.capital, what)
  return caps
}

/** A per-asset cap too small for any leg to reach the minimum order: every position would be dropped. */
export function checkNotional(caps: Caps, capital: number, what = 'caps'): void {
  if (caps.minNotional > 0 && caps.maxWeightPerAsset * capital < caps.minNotional) {
    throw new ConfigError(`${what}: maxWeightPerAsset ${caps.maxWeightPerAsset} × capital ${capital} = ${Number((caps.maxWeightPerAsset * capital).toPrecision(10))} is below minNotional ${caps.minNotional}: no position could be traded`)
  }
}

/** Caps of a caps.json file (at most 1 MiB). */
export function readCapsFile(file: string): Caps {
  const text = readTextFile(file, 'caps file', 1024 * 1024)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`caps file ${file} is not valid JSON (${preview((error as Error).message, 100)})`, { cause: error })
  }
  refuseRepeatedKeys(text, `caps file ${file}`)
  return checkCaps(parsed, `caps file ${file}`)
}

export const DEFAULT_CAPS: Caps = checkCaps({})
