import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ensureCellIds, parseNotebook, readNotebook, serializeNotebook, splitLines } from '../../kernel/nbformat.js'

const dir = mkdtempSync(join(tmpdir(), 'mtflow-nb-'))

describe('nbformat', () => {
  it('reads a notebook and hashes its bytes', () => {
    const text = '{"cells":[],"metadata":{},"nbformat":4,"nbformat_minor":2}'
    writeFileSync(join(dir, 'a.ipynb'), text)
    const { notebook, sha256 } = readNotebook(join(dir, 'a.ipynb'))
    expect(notebook.nbformat_minor).toBe(2)
    // sha256 of that exact text, computed with: printf '%s' "$text" | sha256sum
    expect(sha256).toBe('fde3135090ac290b98a4067264bd819f2e3a0d2cadb87d4f217427e55435012f')
  })

  it('gives one-line errors for missing files, non-JSON and old formats', () => {
    expect(() => readNotebook(join(dir, 'missing.ipynb'))).toThrow(/^cannot read notebook .*missing\.ipynb: no such file$/)
    expect(() => parseNotebook('{oops', 'x.ipynb')).toThrow(/^x\.ipynb is not a notebook: invalid JSON/)
    // A markdown file given as a notebook: one line (JSON.parse quotes its start, line breaks and all).
    expect(() => parseNotebook('# mtflow\n\nThe machine-trading lifecycle\n'.repeat(20), 'README.md')).toThrow(/^README\.md is not a notebook: invalid JSON \([^\n]{1,125}\)$/)
    expect(() => parseNotebook('[]', 'x.ipynb')).toThrow(/expected a JSON object/)
    expect(() => parseNotebook('{"nbformat":3,"worksheets":[]}', 'x.ipynb')).toThrow('x.ipynb is nbformat 3; expected nbformat 4')
    expect(() => parseNotebook('{"cells":[]}', 'x.ipynb')).toThrow(/"nbformat" is missing/)
    expect(() => parseNotebook('{"nbformat":4,"cells":[{"cell_type":"code"}]}', 'x.ipynb')).toThrow(/cell 1 has no source/)
    expect(() => parseNotebook('{"nbformat":4,"cells":[{"cell_type":"sql","source":""}]}', 'x.ipynb')).toThrow(/cell 1 has cell_type "sql"/)
  })

  it('adds valid, unique, reproducible cell ids (nbformat 4.5)', () => {
    const make = () =>
      parseNotebook(
        JSON.stringify({
          nbformat: 4,
          nbformat_minor: 4,
          metadata: {},
          cells: [
            { cell_type: 'code', source: 'a', metadata: {} },
            { cell_type: 'code', id: 'keep-me', source: 'b', metadata: {} },
            { cell_type: 'markdown', id: 'keep-me', source: 'dup', metadata: {} },
            { cell_type: 'raw', id: 'bad id!', source: '', metadata: {} },
          ],
        }),
        'x',
      )
    const a = make()
    const b = make()
    ensureCellIds(a, 'seed')
    ensureCellIds(b, 'seed')
    const ids = a.cells.map((c) => c.id!)
    expect(ids[1]).toBe('keep-me')
    expect(new Set(ids).size).toBe(4)
    for (const id of ids) expect(id).toMatch(/^[a-zA-Z0-9-_]{1,64}$/)
    expect(b.cells.map((c) => c.id)).toEqual(ids)
    expect(a.nbformat_minor).toBe(5)
  })

  it('splits and serialises like Jupyter', () => {
    expect(splitLines('a\nb\n')).toEqual(['a\n', 'b\n'])
    expect(splitLines('a\nb')).toEqual(['a\n', 'b'])
    expect(splitLines('')).toEqual([])
    const text = serializeNotebook({ nbformat: 4, nbformat_minor: 5, metadata: { z: 1, a: 'é' }, cells: [] })
    expect(text).toBe('{\n "cells": [],\n "metadata": {\n  "a": "é",\n  "z": 1\n },\n "nbformat": 4,\n "nbformat_minor": 5\n}\n')
  })
})

describe('nbformat: malformed metadata is bad input', () => {
  const base = (patch: Record<string, unknown>) => JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [], ...patch })
  it('refuses non-object notebook and cell metadata and a kernelspec without a name', () => {
    expect(() => parseNotebook(base({ metadata: [] }), 'x.ipynb')).toThrow('x.ipynb has metadata []; expected an object')
    expect(() => parseNotebook(base({ metadata: { kernelspec: 'tslab' } }), 'x.ipynb')).toThrow(
      'x.ipynb has metadata.kernelspec "tslab"; expected an object with a "name"',
    )
    expect(() => parseNotebook(base({ cells: [{ cell_type: 'code', source: '', metadata: null }] }), 'x.ipynb')).toThrow(
      'x.ipynb cell 1 has metadata null; expected an object',
    )
    expect(() => parseNotebook(base({ cells: [{ cell_type: 'code', source: '', metadata: 'x' }] }), 'x.ipynb')).toThrow(/cell 1 has metadata "x"/)
  })

  it('keeps a "__proto__" key as a key when writing', () => {
    const nb = parseNotebook(base({ metadata: JSON.parse('{"__proto__":{"a":1}}') }), 'x')
    expect(serializeNotebook(nb)).toContain('"__proto__": {')
  })
})
