// Notebook parameters, papermill's convention for TypeScript: the cell tagged `parameters` holds the
// defaults; the runner inserts right after it a cell tagged `injected-parameters` that redeclares the
// given names as TypeScript literals (reusing the type annotations of the defaults).

import { ConfigError } from '../lib/core/index.js'

export type ParameterValue = string | number | boolean | null | ParameterValue[] | { [key: string]: ParameterValue }
export type Parameters = Record<string, ParameterValue>

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof new null return super switch this throw true try typeof var void while with ' +
    'let static yield await implements interface package private protected public undefined NaN Infinity arguments eval'
  ).split(' '),
)

export function checkParameterName(name: string): void {
  if (!IDENTIFIER.test(name) || RESERVED.has(name) || name === '__proto__') {
    throw new ConfigError(`parameter name ${JSON.stringify(name)} is not a usable TypeScript identifier`)
  }
}

/**
 * Parse `key=value` command-line arguments. Values become numbers, booleans, null or JSON arrays /
 * objects / quoted strings when they read as such, and strings otherwise ("2020-01-01" stays a string).
 */
export function parseParameterArgs(args: readonly string[]): Parameters {
  const out: Parameters = {}
  for (const arg of args) {
    const at = arg.indexOf('=')
    if (at <= 0) throw new ConfigError(`parameter ${JSON.stringify(arg)} is not key=value`)
    const name = arg.slice(0, at).trim()
    checkParameterName(name)
    out[name] = parseParameterValue(arg.slice(at + 1))
  }
  return out
}

export function parseParameterValue(text: string): ParameterValue {
  const trimmed = text.trim()
  if (trimmed === 'true') return true
  if (trimmed === 'false') return false
  if (trimmed === 'null') return null
  if (NUMBER.test(trimmed)) {
    const n = Number(trimmed)
    if (Number.isFinite(n)) return n
  }
  if (/^[[{"]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed) as ParameterValue
    } catch {
      /* not JSON: keep the text */
    }
  }
  return text
}

/** A TypeScript literal for a parameter value. */
export function toTsLiteral(value: unknown, name = 'value'): string {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN'
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity'
    return Object.is(value, -0) ? '-0' : String(value)
  }
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return jsonLiteral(value)
  // A plain object by its prototype: an own key "constructor" ({"constructor": {…}}) must not decide it.
  if (Array.isArray(value) || (typeof value === 'object' && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null))) {
    const depth = nesting(value, MAX_NESTING)
    if (depth > MAX_NESTING) throw new ConfigError(`parameter ${name} is nested more than ${MAX_NESTING} levels deep; expected a flatter value`)
    return jsonLiteral(value, (key, v) => {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new ConfigError(`parameter ${name} holds ${v}, which JSON cannot carry`)
      // In an object literal "__proto__": x sets the prototype instead of a key.
      if (key === '__proto__') throw new ConfigError(`parameter ${name} has a "__proto__" key, which a TypeScript object literal cannot carry`)
    })
  }
  throw new ConfigError(`parameter ${name} must be a number, boolean, string, null, array or plain object (received ${typeof value})`)
}

const MAX_NESTING = 64

/** How deep arrays and objects nest in `value` (a walk with a stack of its own), counting up to past `limit`. */
function nesting(value: unknown, limit: number): number {
  let deepest = 0
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (depth > deepest) deepest = depth
    if (deepest > limit) return deepest
    for (const child of Object.values(v)) stack.push([child, depth + 1])
  }
  return deepest
}

/**
 * JSON text that is also a valid TypeScript literal: JSON allows U+2028 / U+2029 inside strings,
 * TypeScript 5.0 (tslab) reads them as line breaks, so they are escaped.
 */
function jsonLiteral(value: unknown, check?: (key: string, value: unknown) => void): string {
  const text = JSON.stringify(value, (key, v: unknown) => {
    check?.(key, v)
    return v
  })
  return text.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

export interface DeclaredParameter {
  name: string
  /** The type annotation's text, when the default had one. */
  type?: string
}

/**
 * The top-level variables a parameters cell declares, with their type annotations. Uses the
 * TypeScript parser (loaded only when parameters are injected: it is 9 MB).
 */
export async function declaredParameters(source: string): Promise<DeclaredParameter[]> {
  const ts = (await import('typescript')).default
  const file = ts.createSourceFile('parameters.ts', source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS)
  const out: DeclaredParameter[] = []
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue
    for (const decl of statement.declarationList.declarations) {
      if (!ts.isIdentifier(decl.name)) continue
      const entry: DeclaredParameter = { name: decl.name.text }
      if (decl.type !== undefined) entry.type = decl.type.getText(file)
      out.push(entry)
    }
  }
  return out
}

/** The source of the injected-parameters cell. */
export function injectedSource(parameters: Parameters, declared: readonly DeclaredParameter[]): string {
  const types = new Map(declared.map((d) => [d.name, d.type]))
  const lines = ['// Parameters injected by `mtflow notebook run`']
  for (const [name, value] of Object.entries(parameters)) {
    checkParameterName(name)
    const type = types.get(name)
    lines.push(`let ${name}${type === undefined ? '' : `: ${type}`} = ${toTsLiteral(value, name)}`)
  }
  return lines.join('\n')
}
