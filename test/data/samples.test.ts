import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importSamples, listDatasets, loadBars, weekdayOfYear } from '../../lib/data/index.js'
import { ROOT } from '../helpers.js'

describe('bundled samples', () => {
  it('dates business-time observations on weekdays (hand-checked against a calendar)', () => {
    expect(weekdayOfYear(1991, 0)).toBe(Date.UTC(1991, 0, 1)) // Tuesday 1 January 1991
    expect(weekdayOfYear(1991, 4)).toBe(Date.UTC(1991, 0, 7)) // skips Saturday 5 and Sunday 6
    expect(weekdayOfYear(1991, 129)).toBe(Date.UTC(1991, 6, 1)) // Monday 1 July 1991
  })

  it('loads the S&P 500 and the four European indices into the workspace', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-samples-'))
    const reports = await importSamples(home, join(ROOT, 'data', 'samples'))
    expect(reports.map((r) => [r.symbol, r.accepted, Object.keys(r.quarantined).length])).toEqual([
      ['SPX', 5105, 0],
      ['DAX', 1860, 0],
      ['SMI', 1860, 0],
      ['CAC', 1860, 0],
      ['FTSE', 1860, 0],
    ])
    const csv = readFileSync(join(ROOT, 'data', 'samples', 'eustockmarkets-1991-1998.csv'), 'utf8').trim().split('\n')
    const dax = await loadBars(home, { symbol: 'DAX', timeframe: '1d' })
    expect(dax.close[0]).toBe(Number(csv[1]!.split(',')[1]))
    expect(dax.close[1859]).toBe(Number(csv[1860]!.split(',')[1]))
    expect((await listDatasets(home)).find((d) => d.symbol === 'DAX')?.first).toBe('1991-07-01')
  })
})
