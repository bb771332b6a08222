// Reading, checking and writing Jupyter notebooks (nbformat 4, written as 4.5 with cell ids).
// Written files use Jupyter's own layout (indent 1, sorted keys, sources as line arrays) for clean diffs.

import { readFileSync } from 'node:fs'
import { ConfigError, sha256 } from '../lib/core/index.js'

export type JsonObject = Record<string, unknown>
export type MultilineString = string | string[]

export interface StreamOutput {
  output_type: 'stream'
  name: 'stdout' | 'stderr'
  text: MultilineString
}
export interface DisplayDataOutput {
  output_type: 'display_data'
  data: JsonObject
  metadata: JsonObject
}
export interface ExecuteResultOutput {
  output_type: 'execute_result'
  execution_count: number | null
  data: JsonObject
  metadata: JsonObject
}
export interface ErrorOutput {
  output_type: 'error'
  ename: string
  evalue: string
  traceback: string[]
}
export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput

export interface CellMetadata extends JsonObject {
  tags?: string[]
}

export interface NotebookCell {
  id?: string
  cell_type: 'code' | 'markdown' | 'raw'
  metadata: CellMetadata
  source: MultilineString
  outputs?: Output[]
  execution_count?: number | null
  attachments?: JsonObject
}

export interface Notebook {
  nbformat: number
  nbformat_minor: number
  metadata: JsonObject & {
    kernelspec?: { name?: string; display_name?: string; language?: string }
    language_info?: JsonObject
  }
  cells: NotebookCell[]
}

export interface LoadedNotebook {
  notebook: Notebook
  /** sha256 of the file's bytes. */
  sha256: string
}

/** Read and check a notebook file; every problem is a one-line ConfigError naming the file. */
export function readNotebook(path: string): LoadedNotebook {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (cause) {
    const code = (cause as { code?: string }).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(code ?? cause)
    throw new ConfigError(`cannot read notebook ${path}: ${why}`, { cause })
  }
  return { notebook: parseNotebook(bytes.toString('utf8'), path), sha256: sha256(bytes) }
}

export function parseNotebook(text: string, label: string): Notebook {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    // JSON.parse quotes the start of the text, line breaks and all: one line, at most 120 characters of it.
    const why = (cause as Error).message.replace(/\s+/g, ' ')
    throw new ConfigError(`${label} is not a notebook: invalid JSON (${why.length > 120 ? `${why.slice(0, 119)}…` : why})`, { cause })
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${label} is not a notebook: expected a JSON object with "cells" and "nbformat"`)
  }
  const nb = value as Partial<Notebook>
  if (typeof nb.nbformat !== 'number') {
    throw new ConfigError(`${label} is not a notebook: "nbformat" is missing (expected 4)`)
  }
  if (nb.nbformat !== 4) {
    throw new ConfigError(
      `${label} is nbformat ${nb.nbformat}; expected nbformat 4` +
        (nb.nbformat < 4 ? ' (upgrade it with: jupyter nbconvert --to notebook --nbformat 4)' : ''),
    )
  }
  if (!Array.isArray(nb.cells)) throw new ConfigError(`${label} is not a notebook: "cells" must be an array`)
  nb.cells.forEach((cell, i) => {
    const where = `${label} cell ${i + 1}`
    if (cell === null || typeof cell !== 'object') throw new ConfigError(`${where} is not an object`)
    if (cell.cell_type !== 'code' && cell.cell_type !== 'markdown' && cell.cell_type !== 'raw') {
      throw new ConfigError(`${where} has cell_type ${JSON.stringify(cell.cell_type)}; expected code, markdown or raw`)
    }
    if (typeof cell.source !== 'string' && !(Array.isArray(cell.source) && cell.source.every((s) => typeof s === 'string'))) {
      throw new ConfigError(`${where} has no source (expected a string or an array of strings)`)
    }
    if (cell.metadata === undefined) cell.metadata = {}
    if (!isObject(cell.metadata)) throw new ConfigError(`${where} has metadata ${JSON.stringify(cell.metadata)}; expected an object`)
  })
  const metadata = nb.metadata ?? {}
  if (!isObject(metadata)) throw new ConfigError(`${label} has metadata ${JSON.stringify(metadata)}; expected an object`)
  const kernelspec = metadata.kernelspec
  if (kernelspec !== undefined && !(isObject(kernelspec) && typeof kernelspec.name === 'string')) {
    throw new ConfigError(`${label} has metadata.kernelspec ${JSON.stringify(kernelspec)}; expected an object with a "name"`)
  }
  return {
    nbformat: 4,
    nbformat_minor: typeof nb.nbformat_minor === 'number' ? nb.nbformat_minor : 0,
    metadata,
    cells: nb.cells,
  }
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

export function joinSource(source: MultilineString): string {
  return Array.isArray(source) ? source.join('') : source
}

/** Split text the way Jupyter stores it: lines that keep their "\n", the last without one. */
export function splitLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/)
  return lines.length === 1 && lines[0] === '' ? [] : lines
}

export function hasTag(cell: NotebookCell, tag: string): boolean {
  return Array.isArray(cell.metadata.tags) && cell.metadata.tags.includes(tag)
}

const CELL_ID = /^[a-zA-Z0-9-_]{1,64}$/

/**
 * Upgrade to nbformat 4.5: every cell gets a valid, unique id. Missing or invalid ids are derived from
 * the source notebook's hash and the cell's position, so re-running the same file gives the same ids.
 */
export function ensureCellIds(notebook: Notebook, seed: string): void {
  const seen = new Set<string>()
  notebook.cells.forEach((cell, i) => {
    let id = typeof cell.id === 'string' && CELL_ID.test(cell.id) && !seen.has(cell.id) ? cell.id : undefined
    for (let salt = 0; id === undefined; salt++) {
      const candidate = sha256(`${seed}:${i}:${salt}`).slice(0, 8)
      if (!seen.has(candidate)) id = candidate
    }
    cell.id = id
    seen.add(id)
  })
  notebook.nbformat = 4
  notebook.nbformat_minor = Math.max(5, notebook.nbformat_minor)
}

/** A fresh code cell with the key order and shape Jupyter writes. */
export function newCodeCell(id: string, source: string, tags: string[] = []): NotebookCell {
  return {
    cell_type: 'code',
    execution_count: null,
    id,
    metadata: tags.length > 0 ? { tags } : {},
    outputs: [],
    source: splitLines(source),
  }
}

/** JSON text in Jupyter's layout: keys sorted, indent 1, non-ASCII kept, trailing newline. */
export function serializeNotebook(notebook: Notebook): string {
  return `${JSON.stringify(sortKeys(notebook), null, 1)}\n`
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value === null || typeof value !== 'object') return value
  const out: JsonObject = {}
  for (const key of Object.keys(value).sort()) {
    const v = (value as JsonObject)[key]
    // defineProperty: a "__proto__" key stays a key
    if (v !== undefined) Object.defineProperty(out, key, { value: sortKeys(v), enumerable: true, writable: true, configurable: true })
  }
  return out
}
