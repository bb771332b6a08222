// csvField, the one cell writer of every CSV mtflow writes (exports, weights files, runs.csv): a cell with a
// quote, a comma, a CR or an LF is quoted with its quotes doubled (RFC 4180), anything else left as it is;
// splitCsvLine reads a one-line cell back whole.

import { describe, expect, it } from 'vitest'
import { csvField, splitCsvLine } from '../../lib/core/index.js'

describe('csvField', () => {
  it('quotes only what must be quoted, and a line of them splits back into the same cells', () => {
    expect(csvField('plain')).toBe('plain')
    expect(csvField('')).toBe('')
    expect(csvField('a,b')).toBe('"a,b"')
    expect(csvField('say "hi"')).toBe('"say ""hi"""')
    expect(csvField('two\nlines')).toBe('"two\nlines"')
    expect(csvField('carriage\rreturn')).toBe('"carriage\rreturn"')
    expect(csvField("=1+1 ' -0.5")).toBe("=1+1 ' -0.5")
    const cells = ['a,b', 'say "hi"', 'carriage\rreturn', 'x']
    expect(splitCsvLine(cells.map(csvField).join(','))).toEqual(cells)
  })
})
