// Request bodies as JSON, refused before they are walked when they are too big or nested too deep: a
// body nested 100,000 levels parses fine but overflows the stack of whatever walks it next (an error
// message's JSON.stringify, a validator). A one-pass iterative scan over the raw text catches that first.

import { Buffer } from 'node:buffer'
import { capMessage, ConfigError } from '../core/index.js'

/** Nesting any mtflow request needs is under 10 levels; 64 leaves room and is still safe to recurse. */
export const MAX_JSON_DEPTH = 64
/** Default size limit (bytes, UTF-8) when a route gives none. */
export const MAX_JSON_BYTES = 2 ** 20

export interface JsonBodyOptions {
  maxDepth?: number
  maxBytes?: number
}

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

/** The parsed body; a ConfigError naming `what` if it is over the size or depth limit or not JSON. */
export function parseJsonBody(text: string, what: string, options: JsonBodyOptions = {}): unknown {
  const maxBytes = options.maxBytes ?? MAX_JSON_BYTES
  // UTF-8 is at most 3 bytes per UTF-16 unit: only count exactly when the text might be over.
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text, 'utf8')
    if (bytes > maxBytes) throw new ConfigError(`${what} is ${bytes} bytes; at most ${maxBytes} are accepted`)
  }
  checkJsonDepth(text, what, options.maxDepth ?? MAX_JSON_DEPTH)
  try {
    return JSON.parse(text)
  } catch (error) {
    // V8 quotes part of the text in its message: keep the message short whatever was sent.
    throw new ConfigError(capMessage(`${what} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, 300), { cause: error })
  }
}
