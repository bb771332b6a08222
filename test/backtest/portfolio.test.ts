// Average-cost books: cash, realised P&L, flips, equity and margin, by hand.

import { describe, expect, it } from 'vitest'
import { Book, riskLimits } from '../../lib/backtest/index.js'

describe('Book', () => {
  it('averages adds, realises reductions, flips at the fill price', () => {
    const marks = new Float64Array([100])
    const book = new Book('s', 10_000, riskLimits(), ['A'], marks)
    expect(book.apply(0, 10, 100, 1)).toBe(0) // buy 10 @100, fee 1
    expect(book.apply(0, 10, 110, 1)).toBe(0) // buy 10 @110 → avg 105
    const p = book.positions[0]!
    expect(p.avgPrice).toBe(105)
    expect(book.apply(0, -5, 120, 1)).toBe(75) // sell 5 @120: (120 − 105) × 5
    expect(book.apply(0, -25, 100, 1)).toBe(-75) // sell 25 @100: closes 15 at −5 each, opens 10 short @100
    expect(p.qty).toBe(-10)
    expect(p.avgPrice).toBe(100)
    // Cash: 10000 − 1001 − 1101 + 599 + 2499 = 10996.
    expect(book.cash).toBe(10_996)
    marks[0] = 90
    // Equity: 10996 − 10 × 90 = 10096; realised 0, fees 4; short margin 0.5 × 900 = 450.
    expect(book.equity).toBe(10_096)
    expect(book.margin).toBe(450)
    expect(book.buyingPower).toBe(10_096 - 450)
    expect(p.realized).toBe(0)
    expect(book.feesPaid).toBe(4)
    expect(book.apply(0, 10, 90, 0)).toBe(100)
    expect(book.openPositions).toBe(0)
    expect(book.equity).toBe(10_096)
  })

  it('checks its limits', () => {
    expect(() => riskLimits({ shortMargin: 0 })).toThrow('shortMargin must be a number > 0 (received 0)')
    expect(() => riskLimits({ maxOpenPositions: 1.5 })).toThrow('maxOpenPositions must be an integer ≥ 1 (received 1.5)')
  })
})
