// Pipeline steps' tables as Parquet (lib/data/export.ts tableParquet / readTable): numbers with NaN as NULL,
// text, flags and a time column survive the round trip; the file is read back by DuckDB itself too.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readTable, tableParquet } from '../../lib/data/index.js'
import { duckdb } from '../../lib/data/duckdb.js'

const dir = mkdtempSync(join(tmpdir(), 'mtflow-table-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('tableParquet and readTable', () => {
  it('numbers (NaN ↔ NULL), text, flags and time survive; DuckDB reads the same values', async () => {
    const columns = {
      time: Float64Array.from([Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3)]),
      pair: ['DAX ~ SMI', 'CAC ~ "FTSE"', ''],
      z: Float64Array.from([1.5, NaN, -0.25]),
      selected: [true, false, true],
    }
    const file = join(dir, 't.parquet')
    writeFileSync(file, await tableParquet(columns))
    const back = await readTable(file)
    expect(Object.keys(back)).toEqual(['time', 'pair', 'z', 'selected'])
    expect(Array.from(back.time as Float64Array)).toEqual(Array.from(columns.time))
    expect(back.pair).toEqual(columns.pair)
    expect(Array.from(back.z as Float64Array)).toEqual([1.5, NaN, -0.25])
    expect(back.selected).toEqual(columns.selected)
    const rows = (await (await duckdb()).runAndReadAll(`SELECT epoch_ms(time) AS t, z IS NULL AS missing, typeof(time) AS kind FROM read_parquet('${file}')`)).getRowObjects()
    expect(rows.map((r) => [Number(r.t), r.missing, r.kind])).toEqual([
      [Date.UTC(2024, 0, 1), false, 'TIMESTAMP'],
      [Date.UTC(2024, 0, 2), true, 'TIMESTAMP'],
      [Date.UTC(2024, 0, 3), false, 'TIMESTAMP'],
    ])
  })

  it('bad input: columns of unequal length, a column mixing types, a file that is not Parquet', async () => {
    await expect(tableParquet({ a: Float64Array.of(1, 2), b: ['x'] })).rejects.toThrow('column b has 1 values, expected 2')
    await expect(tableParquet({ a: ['x', 3 as unknown as string] })).rejects.toThrow('column a mixes text with number')
    const junk = join(dir, 'junk.parquet')
    writeFileSync(junk, 'not parquet')
    await expect(readTable(junk)).rejects.toThrow(`${junk} is not a readable Parquet file`)
  })
})

describe('tables written and read at the same time', () => {
  it('queue on the shared DuckDB connection: eight at once all round-trip', async () => {
    const tables = Array.from({ length: 8 }, (_, k) => ({ k: Float64Array.from({ length: 500 }, (_, i) => i * k), name: Array.from({ length: 500 }, (_, i) => `t${k}-${i}`) }))
    const bytes = await Promise.all(tables.map((t) => tableParquet(t)))
    const files = bytes.map((b, k) => {
      const file = join(dir, `many-${k}.parquet`)
      writeFileSync(file, b)
      return file
    })
    const back = await Promise.all(files.map((f) => readTable(f)))
    back.forEach((t, k) => {
      expect(Array.from(t.k as Float64Array)).toEqual(Array.from(tables[k]!.k))
      expect(t.name).toEqual(tables[k]!.name)
    })
  })
})
