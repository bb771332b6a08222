// Paths with DuckDB's glob characters (second attack review): DuckDB's readers expand * ? [ ] in any path,
// so a symbol "*" (its lake folder "symbol=*") had the coverage count another symbol's bars, and a workspace
// or a file whose name holds "[1]" or "*" read other files or none. Every concrete path is read as itself.

import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { importFile, listDatasets, loadBars } from '../../lib/data/index.js'
import { SAMPLE_CSV, sampleRowsBetween } from '../helpers.js'

const root = mkdtempSync(join(tmpdir(), 'mtflow-glob-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('glob characters in lake and file paths', () => {
  it.each([
    ['a plain workspace', 'plain'],
    ['a workspace under "w[1]*"', 'w[1]*'],
  ])('a symbol "*" beside SPX, in %s: each dataset counts its own bars', async (_label, folder) => {
    const home = join(root, folder)
    mkdirSync(home)
    const spx = await importFile(home, SAMPLE_CSV, { symbol: 'SPX', timeframe: '1d' })
    // Two days of 2010 as the "*" symbol, from a file whose own name holds glob characters.
    const two = join(home, 'prices[*]?.csv')
    writeFileSync(two, 'time,open,high,low,close,volume\n2010-01-04,1,2,0.5,1.5,10\n2010-01-05,1.5,2,1,1.2,10\n')
    const star = await importFile(home, two, { symbol: '*', timeframe: '1d' })
    expect(star.added).toBe(2)
    const rows = Object.fromEntries((await listDatasets(home)).map((d) => [d.symbol, d.rows]))
    expect(rows).toEqual({ '*': 2, SPX: spx.added })
    expect(spx.added).toBe(sampleRowsBetween('0000', '9999').count)
    expect(Array.from((await loadBars(home, { symbol: '*', timeframe: '1d' })).close)).toEqual([1.5, 1.2])
    // Imported again: nothing new (the lake's own files are read back as themselves).
    copyFileSync(two, join(home, 'again.csv'))
    expect(await importFile(home, join(home, 'again.csv'), { symbol: '*', timeframe: '1d' })).toMatchObject({ added: 0, unchanged: 2 })
  })
})
