// Numbers audit of the portfolio's inputs: shares are fractions of the capital (a weights file in percent is
// refused, not multiplied into every position), a symbol or field a JSON file gives twice is refused (JSON.parse
// keeps the last silently), and the production config keeps a cash reserve. Expected numbers are worked by hand
// in the comments.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parsePositions, parseWeightsTable, portfolioTargets, prodConfig, readCapsFile, stalePrices, targetShares, type Signal } from '../../lib/portfolio/index.js'
import { parseWeights } from '../../lib/live/index.js'
import { makeOrdersFile, parseOrdersFile } from '../../lib/live/orders-file.js'

const sig = (target: string, p: number): Signal => ({ time: '2024-01-02T00:00:00.000Z', target, model: 'm@1', probability: p, side: 'long', confidence: Math.abs(2 * p - 1) })
// A and B long at p 0.75 (confidence 0.5); σ 0.4 each; targetVol 0.1; prices A 100, B 50; capital 10,000.
const book = { signals: [sig('A', 0.75), sig('B', 0.75)], market: { prices: { A: 100, B: 50 }, vols: { A: 0.4, B: 0.4 }, betas: {} }, capital: 10_000, targetVol: 0.1 }

describe('shares are fractions of the capital', () => {
  it('shares 0.6 / 0.4 give k = 0.1 × 0.5 × share / 0.4; the same file in percent (60 / 40) is refused', () => {
    // A: 0.1 × 0.5 × 0.6 / 0.4 = 0.075 → 750 / 100 = 7.5 units; B: 0.1 × 0.5 × 0.4 / 0.4 = 0.05 → 500 / 50 = 10.
    const r = portfolioTargets({ ...book, shares: { A: 0.6, B: 0.4 } })
    expect(r.positions.map((p) => [p.symbol, p.weight, p.targetQty])).toEqual([['A', 0.075, 7.5], ['B', 0.05, 10]])
    // Before: shares 60 and 40 gave k 7.5 and 5, clipped to 1 each, then halved by the gross cap: 0.5 and 0.5 of
    // the capital (50 A, 100 B) — 6.7× and 10× the positions the 0.6 / 0.4 the user meant gives.
    const percent = Object.fromEntries(parseWeightsTable('target,weight\nA,60\nB,40\n', 'w.csv').map((row) => [row.target!, row.weight]))
    expect(() => portfolioTargets({ ...book, shares: percent })).toThrow('the shares of the targets sum to 100; they are fractions of the capital and must sum to at most 1')
    // Shares that sum to 1 up to binary rounding (1/3 × 3) pass.
    expect(() => portfolioTargets({ ...book, signals: [...book.signals, sig('C', 0.75)], market: { ...book.market, prices: { ...book.market.prices, C: 10 }, vols: { ...book.market.vols, C: 0.4 } }, shares: { A: 0.1 + 0.2, B: 0.3, C: 0.4 } })).not.toThrow()
  })
})

describe('a target two strategies trade', () => {
  it('holds both rows\' shares (0.3 + 0.2 = 0.5), as the production config deploys both', () => {
    const rows = parseWeightsTable('strategy,target,weight\ns1@1,A,0.3\ns2@1,A,0.2\ns1@1,B,0.4\n', 'w.csv')
    // Before (portfolio targets): A took the last row's 0.2 — positions sized on 0.2 while 0.5 of the capital is deployed on A.
    expect(targetShares(rows)).toEqual({ A: 0.5, B: 0.4 })
    // With these shares: A 0.1 × 0.5 × 0.5 / 0.4 = 0.0625 → 625 / 100 = 6.25 units; B 0.1 × 0.5 × 0.4 / 0.4 = 0.05 → 10.
    const r = portfolioTargets({ ...book, shares: targetShares(rows) })
    expect(r.positions.map((p) => [p.symbol, p.weight, p.targetQty])).toEqual([['A', 0.0625, 6.25], ['B', 0.05, 10]])
  })
})

describe('a JSON file naming a key twice is refused (JSON.parse keeps the last)', () => {
  it('positions: a symbol listed twice, as the CSV reader says', () => {
    // Before: { A: 5, B: 2 } — the first A (1) silently dropped, so the delta order for A was off by 4 units.
    expect(() => parsePositions('{"A": 1, "B": 2, "A": 5}', 'p.json')).toThrow('positions file p.json: "A" is given twice in one object (JSON would keep only the last)')
    expect(parsePositions('{"A": 1, "B": {"x": 1}}'.replace('{"x": 1}', '2'), 'p.json')).toEqual({ A: 1, B: 2 })
  })

  it('caps: a lot size given twice', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-audit-caps-'))
    const file = join(dir, 'caps.json')
    writeFileSync(file, '{"lotSizes": {"A": 1, "A": 0.001}, "maxGross": 0.5}')
    // Before: lot 0.001 for A, 1 silently dropped.
    expect(() => readCapsFile(file)).toThrow(`caps file ${file}: "A" is given twice in one object (JSON would keep only the last)`)
    writeFileSync(file, '{"lotSizes": {"A": 1, "B": 0.001}, "maxGross": 0.5}')
    expect(readCapsFile(file).lotSizes).toEqual({ A: 1, B: 0.001 })
  })

  it('weights: a field given twice in one entry', () => {
    // Before: weight 5 (the last), not 0.5.
    expect(() => parseWeightsTable('[{"target": "A", "weight": 0.5, "weight": 5}]', 'w.json')).toThrow('weights file w.json: "weight" is given twice in one object (JSON would keep only the last)')
  })
})

describe('the production config keeps a cash reserve', () => {
  it('weights summing below 1 stay as they are; above 1 they are rescaled to 1', () => {
    // 0.3 + 0.3 leaves 0.4 in cash; deploy --weights takes a sum ≤ 1. Before: 0.5 + 0.5 (1.67× the capital asked for).
    expect(prodConfig([{ strategy: 's@1', symbols: ['A'], weight: 0.3 }, { strategy: 's@1', symbols: ['B'], weight: 0.3 }]).map((r) => r.weight)).toEqual([0.3, 0.3])
    // 1 + 3 = 4 → 0.25, 0.75.
    expect(prodConfig([{ strategy: 's@1', symbols: ['A'], weight: 1 }, { strategy: 's@1', symbols: ['B'], weight: 3 }]).map((r) => r.weight)).toEqual([0.25, 0.75])
  })
})

describe('numbers in files are read by the lake\'s grammar, not Number()', () => {
  it('a quantity or weight written 0x10, 0b1, Infinity or 1,5 is refused (Number read 0x10 as 16)', () => {
    for (const q of ['0x10', '0b1', '0o7', 'Infinity', '1,5']) {
      expect(() => parsePositions(`{"A": "${q}"}`, 'p.json'), q).toThrow(/the quantity of A must be a finite number/)
      expect(() => parsePositions(`symbol,qty\nA,"${q}"\n`, 'p.csv'), q).toThrow(/the quantity of A must be a finite number/)
      expect(() => parseWeightsTable(`[{"target": "A", "weight": "${q}"}]`, 'w.json'), q).toThrow(/weight/)
    }
    // Plain decimals, signs and exponents still read.
    expect(parsePositions('{"A": "1.5", "B": "-2e-3", "C": " 7 "}', 'p.json')).toEqual({ A: 1.5, B: -0.002, C: 7 })
  })
})

describe('live files naming a key twice are refused', () => {
  it('an orders file whose order gives qty twice; a deployment weights file whose entry gives weight twice', () => {
    const made = makeOrdersFile([{ symbol: 'BTC/USDT', side: 'buy', qty: 0.1, reason: 'target' }], { signals: `sha256:${'a'.repeat(64)}`, createdAt: '2026-01-01T00:00:00.000Z' })
    const text = JSON.stringify(made).replace('"qty":0.1', '"qty":0.1,"qty":10')
    // Before: read as qty 10.
    expect(() => parseOrdersFile(text, 'o.json')).toThrow('orders file o.json: "qty" is given twice in one object (JSON would keep only the last)')
    expect(parseOrdersFile(text.replace(',"qty":10', ''), 'o.json').orders[0]!.qty).toBe(0.1)
    expect(() => parseWeights('[{"strategy": "s@1", "symbols": "BTC/USDT", "weight": 0.2, "weight": 2}]', { file: 'w.json', registry: undefined as never, format: 'json' })).toThrow('weights file w.json: "weight" is given twice in one object (JSON would keep only the last)')
  })
})

describe('a symbol whose series stopped', () => {
  it('is listed with how many bars its price is behind the newest (more than 3 bars)', () => {
    const day = 86_400_000
    const t = Date.UTC(2024, 5, 14)
    // A and C current; B's last bar five days before; D two days (a holiday apart): not listed.
    const market = { priceTimes: { A: t, B: t - 5 * day, C: t, D: t - 2 * day } }
    expect(stalePrices(market, '1d')).toEqual([{ symbol: 'B', time: t - 5 * day, behind: 5 }])
    expect(stalePrices(market, '1h')).toEqual([
      { symbol: 'B', time: t - 5 * day, behind: 120 },
      { symbol: 'D', time: t - 2 * day, behind: 48 },
    ])
  })
})
