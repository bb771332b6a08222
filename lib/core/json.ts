// JSON text checked before it is parsed: its nesting, counted on the raw text in one iterative pass. A
// text nested 100,000 levels parses fine but overflows the stack of whatever walks it next (an error
// message's JSON.stringify, a validator). Used by request bodies (lib/server) and model packages (lib/ml).

import { ConfigError } from './errors.js'

/** Nesting any mtflow request needs is under 10 levels; 64 leaves room and is still safe to recurse. */
export const MAX_JSON_DEPTH = 64

/**
 * The deepest nesting of arrays and objects in a JSON text, counting only brackets outside strings
 * (a backslash escapes the next character). Stops with a ConfigError as soon as `maxDepth` is passed.
 * Unbalanced or otherwise malformed text is left for JSON.parse to refuse.
 */
export function checkJsonDepth(text: string, what: string, maxDepth = MAX_JSON_DEPTH): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (inString) {
      if (ch === 0x5c) i++ // backslash: skip the escaped character (\" does not end the string)
      else if (ch === 0x22) inString = false
      continue
    }
    if (ch === 0x22) inString = true
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > maxDepth) throw new ConfigError(`${what} is nested more than ${maxDepth} levels deep (arrays/objects, at character ${i})`)
      if (depth > deepest) deepest = depth
    } else if (ch === 0x5d || ch === 0x7d) depth--
  }
  return deepest
}

/**
 * record[key] when the record itself holds the key, never a property it inherits from Object.prototype:
 * a name a user gives (a param, tag or metric, a column, an alias) that is "constructor" or "toString"
 * reads as absent, not as a function of the language.
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined
}

/**
 * An empty map from names a user gives (params, tags, metrics) to values, with no prototype: a name such
 * as "constructor" or "valueOf" is absent until stored, as any other (on a plain {} it read as a function,
 * so a param of that name was taken as logged already and a snapshot's column was set on Object itself).
 */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>
}
