// Small hand-written or generated input files (signals, caps, weights, positions, results) read whole,
// with a size cap: a file that is not a regular file, is too big or cannot be read is one ConfigError
// naming it. The readers then parse the text and name the line or entry of any problem.

import { ConfigError } from '../core/index.js'

export { readTextFile } from '../core/index.js'

/**
 * A market symbol: the pattern lib/live/config.ts SYMBOL uses (repeated here: lib/portfolio sits below
 * lib/live and may not import it; test/portfolio checks the two agree).
 */
export const MARKET_SYMBOL = /^[A-Za-z0-9][A-Za-z0-9/:._-]{0,63}$/

export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
