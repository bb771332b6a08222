// factors.csv of a portfolio whose strategies record different factor sets: every value sits in its own
// strategy's row and column (a column another strategy lacks is empty on its rows), checked against each
// strategy's own factor columns by entry order id.

import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { portfolioBacktest, resultFiles } from '../../lib/backtest/index.js'
import { readBarsCsv } from '../../lib/data/index.js'
import { ROOT } from '../helpers.js'

describe('factors.csv of several strategies', () => {
  it('keeps each value in its own strategy\'s row and column', () => {
    const spx = readBarsCsv(join(ROOT, 'data/samples/sp500-daily-2000-2020.csv'), { symbol: 'SPX', timeframe: '1d' })
    const r = portfolioBacktest({ sleeves: [{ strategy: 'sma-cross', symbols: ['SPX'], timeframe: '1d', weight: 0.5 }, { strategy: 'rsi-reversion', symbols: ['SPX'], timeframe: '1d', weight: 0.5 }], data: { SPX: spx } })
    const [head, ...lines] = resultFiles(r)['factors.csv']!.trim().split('\n')
    const names = head!.split(',')
    expect(names).toContain('sma(10)')
    expect(names).toContain('rsi(14)')
    const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, k) => [names[k]!, v])))
    for (const s of r.strategies) {
      const own = s.factors
      const ids = Array.from(own.entryOrderId!)
      expect(ids.length).toBeGreaterThan(3)
      const mine = rows.filter((row) => row.strategy === s.strategy)
      expect(mine.map((row) => Number(row.entryOrderId))).toEqual(ids)
      for (const name of names.filter((n) => n !== 'strategy' && n !== 'entryTime')) {
        const column = own[name]
        mine.forEach((row, i) => {
          if (column === undefined) expect(row[name], `${s.strategy} ${name}`).toBe('')
          else if (Number.isNaN(column[i])) expect(row[name]).toBe('')
          else expect(Number(row[name]), `${s.strategy} ${name} row ${i}`).toBe(column[i])
        })
      }
    }
  })
})
