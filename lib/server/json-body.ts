// Request bodies as JSON, refused before they are walked when they are too big or nested too deep: a
// body nested 100,000 levels parses fine but overflows the stack of whatever walks it next (an error
// message's JSON.stringify, a validator). A one-pass iterative scan over the raw text catches that first.

import { Buffer } from 'node:buffer'
import { capMessage, checkJsonDepth, ConfigError, MAX_JSON_DEPTH } from '../core/index.js'

export { checkJsonDepth, MAX_JSON_DEPTH }

/** Default size limit (bytes, UTF-8) when a route gives none. */
export const MAX_JSON_BYTES = 2 ** 20

export interface JsonBodyOptions {
  maxDepth?: number
  maxBytes?: number
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
