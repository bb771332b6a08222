// Current positions from a file: JSON { "BTC/USDT": 0.5, "ETH/USDT": -2 } or CSV with the header
// symbol,qty (signed quantities: short below 0). A symbol listed twice, a non-finite quantity or a name
// that is not a market symbol is one error naming the file and the entry or line.

import { ConfigError, preview, splitCsvLine } from '../core/index.js'
import { isPlainObject, MARKET_SYMBOL, numberText, readTextFile, refuseRepeatedKeys } from './text-file.js'

export function parsePositions(text: string, file: string): Record<string, number> {
  const where = `positions file ${file}`
  const out = Object.create(null) as Record<string, number>
  const put = (symbol: string, qty: unknown, label: string) => {
    if (!MARKET_SYMBOL.test(symbol)) throw new ConfigError(`${where} ${label}: ${preview(symbol, 40)} is not a symbol such as BTC/USDT`)
    const q = typeof qty === 'string' && qty.trim() !== '' ? numberText(qty) : qty
    if (typeof q !== 'number' || !Number.isFinite(q)) throw new ConfigError(`${where} ${label}: the quantity of ${symbol} must be a finite number (received ${preview(qty, 40)})`)
    if (symbol in out) throw new ConfigError(`${where} ${label}: ${symbol} is listed twice`)
    out[symbol] = q
  }
  const body = text.replace(/^\uFEFF/, '')
  if (/\.json$/i.test(file) || body.trimStart().startsWith('{')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch (error) {
      throw new ConfigError(`${where} is not valid JSON (${preview((error as Error).message, 100)}); expected { symbol: qty }`, { cause: error })
    }
    if (!isPlainObject(parsed)) throw new ConfigError(`${where}: expected an object { symbol: qty } (received ${preview(parsed, 60)})`)
    refuseRepeatedKeys(body, where) // a symbol listed twice is an error here as in the CSV
    for (const [s, q] of Object.entries(parsed)) put(s, q, `entry ${JSON.stringify(s.slice(0, 40))}`)
    return out
  }
  const lines = body.split(/\r?\n/)
  let header = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    const fields = splitCsvLine(line, () => new ConfigError(`${where} line ${i + 1}: a quoted field is not closed`)).map((f) => f.trim())
    if (!header) {
      if (fields.length !== 2 || fields[0]!.toLowerCase() !== 'symbol' || fields[1]!.toLowerCase() !== 'qty') throw new ConfigError(`${where} line ${i + 1}: expected the header symbol,qty`)
      header = true
      continue
    }
    if (fields.length !== 2) throw new ConfigError(`${where} line ${i + 1}: expected 2 fields (symbol,qty), found ${fields.length}`)
    put(fields[0]!, fields[1]!, `line ${i + 1}`)
  }
  return out
}

export function readPositionsFile(file: string): Record<string, number> {
  return parsePositions(readTextFile(file, 'positions file', 1024 * 1024), file)
}
