// Files written from pieces (writeFileAtomic with an array, writePieces): the bytes on disk are the pieces
// joined, whatever the kernel's short writes and however many pieces (more than one writev takes); a
// tracked artifact logged as pieces records the sha256 and size of those bytes; columnsParquetPieces
// joined is columnsParquet's file.

import { createHash } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFileAtomic, writePieces } from '../../lib/core/index.js'
import { columnsParquet, columnsParquetPieces, parquetColumns } from '../../lib/core/parquet-columns.js'
import { openTracker } from '../../lib/track/index.js'
import { bytePieces, shortWriter } from '../helpers.js'

const dir = () => mkdtempSync(join(tmpdir(), 'mtflow-pieces-'))

const pieces = bytePieces

describe('writing pieces', () => {
  it('writes the pieces joined, through short writes of any length', () => {
    const { parts, whole } = pieces(300)
    for (const limit of [1, 3, 7, 40, 41, 1000]) {
      const file = join(dir(), 'short.bin')
      const fd = openSync(file, 'w')
      let calls = 0
      writePieces(fd, parts, shortWriter(limit, () => calls++))
      closeSync(fd)
      expect(readFileSync(file).equals(whole), `limit ${limit}`).toBe(true)
      expect(calls).toBeGreaterThan(0)
    }
  })

  it('refuses a write that makes no progress instead of looping', () => {
    const fd = openSync(join(dir(), 'stuck.bin'), 'w')
    expect(() => writePieces(fd, [new Uint8Array(3), new Uint8Array(4)], () => 0)).toThrow(/wrote nothing/)
    closeSync(fd)
  })

  it('writeFileAtomic takes pieces, more of them than one writev takes (2,500)', () => {
    const { parts, whole } = pieces(2_500)
    const file = join(dir(), 'many.bin')
    writeFileAtomic(file, parts)
    expect(readFileSync(file).equals(whole)).toBe(true)
    writeFileAtomic(file, [])
    expect(readFileSync(file).length).toBe(0)
  })

  it('an artifact logged as pieces records the sha256 and size of the bytes on disk', () => {
    const home = dir()
    const tracker = openTracker(home)
    const run = tracker.startRun({ experiment: 'pieces' })
    const { parts, whole } = pieces(500)
    const record = run.logArtifact({ name: 'p.bin', data: parts })
    expect(record.size).toBe(whole.length)
    expect(record.sha256).toBe(createHash('sha256').update(whole).digest('hex'))
    expect(tracker.readArtifact(run.id, 'p.bin').bytes.equals(whole)).toBe(true)
    run.end()
  })

  it('columnsParquetPieces joined is columnsParquet, and reads back', () => {
    const time = Float64Array.from({ length: 70_000 }, (_, i) => Date.UTC(2024, 0, 1) + i * 60_000)
    const equity = Float64Array.from({ length: 70_000 }, (_, i) => 100_000 + Math.sin(i / 50) * 1000)
    const side = Array.from({ length: 70_000 }, (_, i) => (i % 3 === 0 ? 'buy' : i % 3 === 1 ? 'sell' : undefined))
    const whole = columnsParquet({ time, equity, side })
    const joined = Buffer.concat(columnsParquetPieces({ time, equity, side }))
    expect(joined.equals(Buffer.from(whole))).toBe(true)
    const back = parquetColumns(joined, 'pieces.parquet')
    expect(Array.from(back.equity as ArrayLike<number>).slice(0, 3)).toEqual(Array.from(equity.subarray(0, 3)))
    expect((back.time as ArrayLike<number>)[69_999]).toBe(time[69_999])
    expect((back.side as ArrayLike<unknown>)[4]).toBe('sell')
  })
})
