// A notebook's parameters (the variables its `parameters`-tagged cell declares, papermill's convention)
// and parameter files for `notebook run -f`: JSON objects, or YAML restricted to flat `key: value` lines.

import { ConfigError, errorMessage, readTextFile } from '../core/index.js'
import { checkParameterName, toTsLiteral, type ParameterValue, type Parameters } from '../../kernel/parameters.js'
import type { Notebook } from '../../kernel/nbformat.js'
import { lazy } from './context.js'

export interface NotebookParameter {
  name: string
  /** The annotation's text (`string`), else the literal's kind (number, string, boolean, null, array, object), else `unknown`. */
  type: string
  /** The initializer's source text, when there is one. */
  default?: string
  /** The type is an annotation (`let fast: number = 10`): the kernel holds an injected value to it. */
  annotated?: true
}

/** A parameters file is small: a few names and values. */
const MAX_FILE_BYTES = 1 << 20

/** The declared parameters, or undefined when no code cell is tagged `parameters` (nothing can be injected). */
export function notebookParameters(notebook: Notebook): NotebookParameter[] | undefined {
  const cell = notebook.cells.find((c) => c.cell_type === 'code' && Array.isArray(c.metadata.tags) && (c.metadata.tags as unknown[]).includes('parameters'))
  if (cell === undefined) return undefined
  const source = Array.isArray(cell.source) ? cell.source.join('') : cell.source
  // The TypeScript parser (9 MB) is loaded only here.
  const ts = lazy('typescript') as typeof import('typescript')
  const file = ts.createSourceFile('parameters.ts', source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS)
  const out: NotebookParameter[] = []
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue
    for (const decl of statement.declarationList.declarations) {
      if (!ts.isIdentifier(decl.name)) continue
      const init = decl.initializer
      const type = decl.type !== undefined ? decl.type.getText(file) : init === undefined ? 'unknown' : literalKind(ts, init)
      out.push({ name: decl.name.text, type, ...(init === undefined ? {} : { default: init.getText(file) }), ...(decl.type !== undefined ? { annotated: true as const } : {}) })
    }
  }
  return out
}

function literalKind(ts: typeof import('typescript'), node: import('typescript').Expression): string {
  if (ts.isNumericLiteral(node) || (ts.isPrefixUnaryExpression(node) && ts.isNumericLiteral(node.operand))) return 'number'
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return 'string'
  if (node.kind === ts.SyntaxKind.TrueKeyword || node.kind === ts.SyntaxKind.FalseKeyword) return 'boolean'
  if (node.kind === ts.SyntaxKind.NullKeyword) return 'null'
  if (ts.isArrayLiteralExpression(node)) return 'array'
  if (ts.isObjectLiteralExpression(node)) return 'object'
  return 'unknown'
}

/**
 * Parameters from a file: `.json` (one object of name → value) or `.yaml` / `.yml` (flat `key: value`
 * lines — no nesting, lists, anchors or multi-line values; those are refused, naming the line).
 * Every name must be a usable identifier and every value a literal the runner can inject.
 */
export function readParametersFile(file: string): Parameters {
  const text = readTextFile(file, 'parameters file', MAX_FILE_BYTES)
  let values: Parameters
  if (/\.json$/i.test(file)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw new ConfigError(`parameters file ${file} is not JSON: ${errorMessage(error)}`, { cause: error })
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`parameters file ${file} must hold a JSON object of name: value (received ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed})`)
    values = parsed as Parameters
  } else if (/\.ya?ml$/i.test(file)) {
    values = parseFlatYaml(text, file)
  } else {
    throw new ConfigError(`parameters file ${file} must end in .json, .yaml or .yml`)
  }
  for (const [name, value] of Object.entries(values)) {
    try {
      checkParameterName(name)
      toTsLiteral(value, name)
    } catch (error) {
      throw new ConfigError(`parameters file ${file}: ${errorMessage(error)}`, { cause: error })
    }
  }
  return values
}

/** YAML's flat subset: `key: value` per line, `#` comments, quoted or plain scalars. */
export function parseFlatYaml(text: string, file: string): Parameters {
  const out: Parameters = Object.create(null) as Parameters
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!
    const line = raw.replace(/\s+#.*$/, '').replace(/^#.*$/, '')
    if (line.trim() === '' || line.trim() === '---') continue
    const where = `parameters file ${file} line ${i + 1}`
    if (/^\s/.test(line)) throw new ConfigError(`${where}: indented lines (nested maps, multi-line values) are not read; only flat key: value lines`)
    const m = /^([^:\s'"][^:]*?|"[^"]*"|'[^']*'):(?:\s+(.*))?$/.exec(line)
    if (m === null) throw new ConfigError(`${where}: expected key: value (received ${JSON.stringify(raw.slice(0, 60))})`)
    const key = m[1]!.replace(/^(["'])(.*)\1$/, '$2')
    if (Object.prototype.hasOwnProperty.call(out, key)) throw new ConfigError(`${where}: ${key} is given twice`)
    out[key] = yamlScalar((m[2] ?? '').trim(), where)
  }
  return { ...out }
}

function yamlScalar(text: string, where: string): ParameterValue {
  if (text === '' || text === '~' || text === 'null' || text === 'Null' || text === 'NULL') return null
  if (/^(true|True|TRUE)$/.test(text)) return true
  if (/^(false|False|FALSE)$/.test(text)) return false
  if (text.startsWith('"')) {
    try {
      const value = JSON.parse(text) as unknown
      if (typeof value === 'string') return value
    } catch {
      /* reported below */
    }
    throw new ConfigError(`${where}: a double-quoted value must be one string on one line (received ${JSON.stringify(text.slice(0, 60))})`)
  }
  if (text.startsWith("'")) {
    if (!/^'(?:[^']|'')*'$/.test(text)) throw new ConfigError(`${where}: a single-quoted value must be one string on one line (received ${JSON.stringify(text.slice(0, 60))})`)
    return text.slice(1, -1).replace(/''/g, "'")
  }
  if (/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text)
  if (/^[[{&*!|>%@`]/.test(text) || text.startsWith('- ')) throw new ConfigError(`${where}: lists, maps, anchors, tags and block scalars are not read (received ${JSON.stringify(text.slice(0, 60))}); use a .json file`)
  return text
}
