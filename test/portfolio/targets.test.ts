// portfolioTargets on a hand-worked book: two symbols and a pair with known prices, volatilities and
// hedge ratio → the weights volatility targeting gives, each cap binding in turn, the drawdown brake, lot
// rounding and orders = target − current. Every expected number below is worked out in the comments.

import { describe, expect, it } from 'vitest'
import { SYMBOL } from '../../lib/live/config.js'
import { barsPerYearOf, checkCaps, latestHedgeRatio, MARKET_SYMBOL, portfolioTargets, positionVolatility, roundToLot, type PortfolioTargetsOptions, type Signal } from '../../lib/portfolio/index.js'

const sig = (target: string, side: Signal['side'], probability: number): Signal => ({ time: '2024-01-02T00:00:00.000Z', target, model: 'm@1', probability, side, confidence: Math.abs(2 * probability - 1) })

// A long (confidence 0.6), B short (0.4), the pair P~Q long spread (p 0.8: confidence 0.6).
// Shares 0.5, 0.25, 0.25 → raw = confidence × share: A 0.3, B 0.1, P~Q 0.15.
// targetVol 0.2; σ: A 0.2, B 0.4, P~Q 0.1; β 0.5.
// k = 0.2 × raw / σ: A 0.3, B 0.05, P~Q 0.3 → weights A +0.3, B −0.05, P +0.3, Q −0.5 × 0.3 = −0.15.
// Gross 0.8, net 0.4. Prices A 100, B 50, P 20, Q 40, C 10; capital 10,000.
const base: PortfolioTargetsOptions = {
  signals: [sig('A', 'long', 0.8), sig('B', 'short', 0.3), sig('P~Q', 'long spread', 0.8)],
  shares: { A: 0.5, B: 0.25, 'P~Q': 0.25 },
  market: { prices: { A: 100, B: 50, P: 20, Q: 40, C: 10 }, vols: { A: 0.2, B: 0.4, 'P~Q': 0.1 }, betas: { 'P~Q': 0.5 } },
  capital: 10_000,
  targetVol: 0.2,
  current: { A: 10, Q: -40, C: 5 },
}
const caps = (raw: Record<string, unknown>) => checkCaps({ lotSizes: { A: 1, B: 0.5, P: 1, Q: 1 }, ...raw })
const weights = (r: ReturnType<typeof portfolioTargets>) => Object.fromEntries(r.positions.map((p) => [p.symbol, p.weight]))
const bounds = (r: ReturnType<typeof portfolioTargets>) => Object.fromEntries(r.positions.map((p) => [p.symbol, p.bound]))

describe('portfolioTargets', () => {
  it('volatility targeting, pair legs, lot rounding and orders = target − current', () => {
    const r = portfolioTargets({ ...base, caps: caps({}) })
    expect(r.targets.map((t) => [t.target, t.direction, t.raw, t.scale])).toEqual([
      ['A', 1, expect.closeTo(0.3, 12), expect.closeTo(0.3, 12)],
      ['B', -1, expect.closeTo(0.1, 12), expect.closeTo(0.05, 12)],
      ['P~Q', 1, expect.closeTo(0.15, 12), expect.closeTo(0.3, 12)],
    ])
    expect(weights(r)).toEqual({ A: 0.3, B: -0.05, P: 0.3, Q: -0.15, C: 0 })
    expect([r.gross, r.net, r.bound]).toEqual([0.8, 0.4, []])
    // qty = w × 10,000 / price, toward zero to the lot: A 30, B −10, P 150, Q −37.5 → −37 (lot 1), C 0.
    expect(r.positions.map((p) => [p.symbol, p.targetQty, p.currentQty, p.orderQty, p.notional])).toEqual([
      ['A', 30, 10, 20, 3000],
      ['B', -10, 0, -10, -500],
      ['P', 150, 0, 150, 3000],
      ['Q', -37, -40, 3, -1480],
      ['C', 0, 5, -5, 0],
    ])
    expect(r.orders.map((o) => [o.symbol, o.side, o.qty])).toEqual([['A', 'buy', 20], ['B', 'sell', 10], ['P', 'buy', 150], ['Q', 'buy', 3], ['C', 'sell', 5]])
    expect(r.orders[4]!.reason).toBe('5 → 0 (no signal)')
    expect(r.orders[2]!.reason).toBe('0 → 150 (P~Q long spread)')
  })

  it('equal shares by default; a pair the model does not expect to revert (p < 0.5) is flat; a short spread sells Y and buys β·X', () => {
    // Shares 1/2 each: A raw 0.6 × 0.5 = 0.3 → k = 0.2 × 0.3 / 0.2 = 0.3. P~Q short spread at p 0.9: raw 0.8 × 0.5 = 0.4,
    // k = 0.2 × 0.4 / 0.1 = 0.8 → P −0.8, Q +0.4.
    const r = portfolioTargets({ ...base, shares: undefined, current: {}, signals: [sig('A', 'long', 0.8), sig('P~Q', 'short spread', 0.9)], caps: checkCaps({ maxGross: 2, maxWeightPerAsset: 1 }) })
    expect(weights(r)).toEqual({ A: 0.3, P: -0.8, Q: 0.4 })
    const flat = portfolioTargets({ ...base, current: {}, signals: [sig('P~Q', 'long spread', 0.2)], shares: undefined })
    expect(weights(flat)).toEqual({ P: 0, Q: 0 })
    expect(flat.orders).toEqual([])
  })

  it('each cap binding in turn', () => {
    // Per asset 0.2: A's target scaled to 0.2; the pair P~Q scaled as a whole by 0.2 / 0.3 — P 0.2, Q −0.1,
    // still −β × P (clipping P alone would leave Q at −0.15: a hedge ratio of 0.75, not 0.5). B −0.05 under it.
    const asset = portfolioTargets({ ...base, caps: caps({ maxWeightPerAsset: 0.2 }) })
    expect(weights(asset)).toEqual({ A: 0.2, B: -0.05, P: 0.2, Q: -0.1, C: 0 })
    expect(bounds(asset)).toEqual({ A: ['maxWeightPerAsset'], B: [], P: ['maxWeightPerAsset'], Q: ['maxWeightPerAsset'], C: [] })
    // Gross 0.4 against 0.8: every weight halved.
    const gross = portfolioTargets({ ...base, caps: caps({ maxGross: 0.4 }) })
    expect(weights(gross)).toEqual({ A: 0.15, B: -0.025, P: 0.15, Q: -0.075, C: 0 })
    expect(gross.exposureScale).toBeCloseTo(0.5, 12)
    expect(bounds(gross)).toEqual({ A: ['maxGross'], B: ['maxGross'], P: ['maxGross'], Q: ['maxGross'], C: [] })
    // Net 0.1 against 0.4: every weight × 0.25 (and it binds over gross 0.4, which asks only × 0.5).
    const net = portfolioTargets({ ...base, caps: caps({ maxGross: 0.4, maxNet: 0.1 }) })
    expect(weights(net)).toEqual({ A: 0.075, B: -0.0125, P: 0.075, Q: -0.0375, C: 0 })
    expect(net.bound).toEqual(['maxNet'])
    expect([net.gross, net.net]).toEqual([0.2, 0.1])
    // Q: −0.0375 × 10,000 / 40 = −9.375 → −9.
    expect(net.positions.find((p) => p.symbol === 'Q')!.targetQty).toBe(-9)
  })

  it('the drawdown brake scales the book at or past maxDrawdown; 0 goes flat', () => {
    const c = caps({ maxDrawdown: 0.2, drawdownBrake: 0.5 })
    expect(weights(portfolioTargets({ ...base, caps: c, drawdown: 0.19 }))).toEqual({ A: 0.3, B: -0.05, P: 0.3, Q: -0.15, C: 0 })
    const braked = portfolioTargets({ ...base, caps: c, drawdown: 0.2 })
    expect(braked.braked).toBe(true)
    expect(weights(braked)).toEqual({ A: 0.15, B: -0.025, P: 0.15, Q: -0.075, C: 0 })
    expect(braked.bound).toEqual(['maxDrawdown'])
    const flat = portfolioTargets({ ...base, caps: caps({ maxDrawdown: 0.2, drawdownBrake: 0 }), drawdown: 0.3 })
    expect(flat.orders.map((o) => [o.symbol, o.side, o.qty])).toEqual([['A', 'sell', 10], ['Q', 'buy', 40], ['C', 'sell', 5]])
    // A gross cap of 0 is refused — unless the brake has the book flat anyway.
    expect(() => portfolioTargets({ ...base, caps: caps({ maxGross: 0 }) })).toThrow('caps: maxGross 0 leaves no position (3 signals ask for some); raise maxGross')
    expect(portfolioTargets({ ...base, caps: caps({ maxGross: 0, maxDrawdown: 0.1, drawdownBrake: 0 }), drawdown: 0.1 }).gross).toBe(0)
  })

  it('orders under minNotional are dropped; caps no position can meet are refused', () => {
    // Q buys 3 × 40 = 120 (kept), C sells 5 × 10 = 50 (dropped) at minNotional 100.
    const r = portfolioTargets({ ...base, caps: caps({ minNotional: 100 }) })
    expect(r.orders.map((o) => o.symbol)).toEqual(['A', 'B', 'P', 'Q'])
    expect(r.positions.find((p) => p.symbol === 'C')).toMatchObject({ orderQty: 0, dropped: 'order worth 50 < minNotional 100' })
    // Per asset 0.001 × 10,000 = 10 < minNotional 50: refused from the caps alone.
    expect(() => checkCaps({ maxWeightPerAsset: 0.001, minNotional: 50, capital: 10_000 }, 'caps file c.json')).toThrow('caps file c.json: maxWeightPerAsset 0.001 × capital 10000 = 10 is below minNotional 50: no position could be traded')
    expect(() => portfolioTargets({ ...base, caps: caps({ maxWeightPerAsset: 0.001, minNotional: 50 }) })).toThrow('maxWeightPerAsset 0.001 × capital 10000 = 10 is below minNotional 50')
    // Every position under minNotional after the caps: largest A at 0.3 × 10,000 = 3,000.
    expect(() => portfolioTargets({ ...base, caps: caps({ minNotional: 5000 }) })).toThrow('caps: minNotional 5000: every target position is below it — the largest, A, is worth 3000')
    expect(() => portfolioTargets({ ...base, caps: caps({ maxWeightPerAsset: 0 }) })).toThrow('caps: maxWeightPerAsset 0 leaves no position')
  })

  it('caps: unknown keys, values out of range and contradictions are one line naming the cap', () => {
    expect(() => checkCaps({ maxLeverage: 2 })).toThrow('caps: unknown cap "maxLeverage" (caps: maxWeightPerAsset, maxGross, maxNet, maxDrawdown, drawdownBrake, capital, lotSizes, minNotional)')
    expect(() => checkCaps({ maxGross: -1 })).toThrow('caps: maxGross must be a fraction of the capital ≥ 0 (received -1)')
    expect(() => checkCaps({ maxDrawdown: 0.2, drawdownBrake: 1.5 })).toThrow('caps: drawdownBrake must be a multiplier in [0, 1]')
    expect(() => checkCaps({ drawdownBrake: 0.5 })).toThrow('caps: drawdownBrake is set but maxDrawdown is not')
    expect(() => checkCaps({ lotSizes: { A: 0 } })).toThrow('caps: lotSizes.A must be a quantity > 0 (received 0)')
    expect(() => checkCaps({ capital: Number.NaN })).toThrow('caps: capital must be an amount > 0')
    // maxNet above maxGross is fine (it never binds).
    expect(checkCaps({ maxGross: 0.5, maxNet: 2 }).maxNet).toBe(2)
  })
})

describe('market conventions', () => {
  it('volatility: sample sd of simple returns × √bars per year; a pair on r_Y − β·r_X', () => {
    // Y returns 0.1, −0.1, 0.1: mean 1/30, Σ(r − m)² = 24/900, / 2 = 1/75.
    expect(positionVolatility([100, 110, 99, 108.9], undefined, 0, 3, 252)).toBeCloseTo(Math.sqrt(252 / 75), 10)
    // X returns 0, 0.1, 0; β 0.5 → 0.1, −0.15, 0.1: mean 1/60, Σ(r − m)² = 150/3600, / 2 = 1/48.
    expect(positionVolatility([100, 110, 99, 108.9], [10, 10, 11, 11], 0.5, 3, 252)).toBeCloseTo(Math.sqrt(252 / 48), 10)
    expect(positionVolatility([1, 2], undefined, 0, 3, 252)).toBeNaN()
    expect(barsPerYearOf('1h')).toBe(8766)
    expect(barsPerYearOf('1d')).toBe(365.25)
  })

  it('hedge ratio: OLS of log Y on log X over the last window', () => {
    // log y = log 2 + 1.5 log x exactly on the last 4 bars (the first bar is off the line and outside the window).
    const x = [7, 1, 2, 3, 4]
    const y = [1, ...x.slice(1).map((v) => 2 * v ** 1.5)]
    expect(latestHedgeRatio(y, x, 4)).toBeCloseTo(1.5, 10)
    expect(latestHedgeRatio(y, x, 6)).toBeNaN()
  })

  it('lot rounding is toward zero, exact on decimal lots', () => {
    expect(roundToLot(0.3, 0.1)).toBe(0.3)
    expect(roundToLot(-37.5, 1)).toBe(-37)
    expect(roundToLot(0.123456789, 0.001)).toBe(0.123)
    expect(roundToLot(0.0009, 0.001)).toBe(0)
    // Large quantities on a fine lot stay floored (twelve significant digits rounded them up: an audit).
    expect(roundToLot(123456.7890129, 1e-8)).toBe(123456.7890129)
    expect(roundToLot(123456.78901299, 1e-8)).toBe(123456.78901299)
    expect(roundToLot(123456.789012999, 1e-8)).toBe(123456.78901299)
    expect(roundToLot(-9876543.21098765, 1e-8)).toBe(-9876543.21098765)
    expect(roundToLot(9876543.210987659, 1e-8)).toBe(9876543.21098765)
    expect(roundToLot(2.75, 0.25)).toBe(2.75)
    expect(roundToLot(1000.3, 0.25)).toBe(1000.25)
  })

  it('the symbol pattern is lib/live SYMBOL', () => {
    expect(MARKET_SYMBOL.source).toBe(SYMBOL.source)
  })
})

describe('symbols named like object properties', () => {
  it('"constructor" and "toString" are symbols like any other', () => {
    const r = portfolioTargets({
      signals: [sig('constructor', 'long', 0.8)],
      market: { prices: { constructor: 50, toString: 10 } as never, vols: { constructor: 0.2 } as never, betas: {} },
      capital: 10_000,
      targetVol: 0.2,
      current: { toString: 3 } as never,
      caps: checkCaps({ lotSizes: { constructor: 1 } }),
    })
    // k = 0.2 × 0.6 / 0.2 = 0.6 → 6,000 / 50 = 120 units; toString held 3 with no target: sold.
    expect(r.positions.map((p) => [p.symbol, p.targetQty, p.orderQty])).toEqual([['constructor', 120, 120], ['toString', 0, -3]])
  })
})
