// Small hand-written or generated input files (signals, caps, weights, positions, results) read whole,
// with a size cap: a file that is not a regular file, is too big or cannot be read is one ConfigError
// naming it. The readers then parse the text and name the line or entry of any problem.

import { readFileSync, statSync } from 'node:fs'
import { ConfigError } from '../core/index.js'

/** The text of `file` (a BOM dropped), at most `maxBytes` bytes; `what` names it in errors ("caps file"). */
export function readTextFile(file: string, what: string, maxBytes: number): string {
  try {
    const st = statSync(file)
    if (!st.isFile()) throw new ConfigError(`${what} ${file} is not a regular file`)
    if (st.size > maxBytes) throw new ConfigError(`${what} ${file} is ${st.size} bytes; expected at most ${maxBytes}`)
    return readFileSync(file, 'utf8').replace(/^\uFEFF/, '')
  } catch (error) {
    if (error instanceof ConfigError) throw error
    const code = (error as { code?: string }).code
    throw new ConfigError(`${what} ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(error)})`}`, { cause: error })
  }
}

/**
 * A market symbol: the pattern lib/live/config.ts SYMBOL uses (repeated here: lib/portfolio sits below
 * lib/live and may not import it; test/portfolio checks the two agree).
 */
export const MARKET_SYMBOL = /^[A-Za-z0-9][A-Za-z0-9/:._-]{0,63}$/

export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
