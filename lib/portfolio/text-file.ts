// Small hand-written or generated input files (signals, caps, weights, positions, results) read whole,
// with a size cap: a file that is not a regular file, is too big or cannot be read is one ConfigError
// naming it. The readers then parse the text and name the line or entry of any problem.

import { ConfigError } from '../core/index.js'
import { parseNumberCell } from '../data/csv.js'

export { readTextFile } from '../core/index.js'

/**
 * A market symbol: the pattern lib/live/config.ts SYMBOL uses (repeated here: lib/portfolio sits below
 * lib/live and may not import it; test/portfolio checks the two agree).
 */
export const MARKET_SYMBOL = /^[A-Za-z0-9][A-Za-z0-9/:._-]{0,63}$/

export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * A JSON text (already parsed: valid) refused when one of its objects names a key twice, as `{ "A": 1, "A": 2 }`:
 * JSON.parse keeps the last silently (a positions file listing a symbol twice was read as its last quantity,
 * an order's qty given twice as the second). The one check of every JSON file a user writes for portfolio
 * targets and deployments (positions, caps, weights, orders).
 */
export function refuseRepeatedKeys(text: string, where: string): void {
  const key = duplicateJsonKey(text)
  if (key !== undefined) throw new ConfigError(`${where}: ${JSON.stringify(key.slice(0, 40))} is given twice in one object (JSON would keep only the last)`)
}

/** The first key an object of a valid JSON text names twice (undefined when none): its strings and brackets walked, the keys of each open object kept. */
function duplicateJsonKey(text: string): string | undefined {
  const stack: (Set<string> | undefined)[] = [] // a Set per open object, undefined per open array
  let expectKey = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      const keys = stack[stack.length - 1]
      if (expectKey && keys !== undefined) {
        const key = JSON.parse(text.slice(i, j + 1)) as string
        if (keys.has(key)) return key
        keys.add(key)
        expectKey = false
      }
      i = j
    } else if (ch === '{') {
      stack.push(new Set())
      expectKey = true
    } else if (ch === '[') {
      stack.push(undefined)
      expectKey = false
    } else if (ch === '}' || ch === ']') {
      stack.pop()
      expectKey = false
    } else if (ch === ',') {
      expectKey = stack[stack.length - 1] !== undefined
    }
  }
  return undefined
}

/**
 * A number written as text in a file (a CSV cell, a JSON string): digits, one decimal point, an exponent —
 * the lake's and the CLI flags' grammar (parseNumberCell); NaN when it is not one. Number() also read 0x10
 * as 16, 0b1, 0o7 and "Infinity": a quantity written "0x10" was 16 units (an audit). No comma: a file's
 * quantity has no thousands separator to guess.
 */
export function numberText(text: string): number {
  return text.includes(',') ? NaN : parseNumberCell(text, '.')
}
