// Signals → risk-capped target positions → orders (pure: prices, volatilities and hedge ratios are given;
// market.ts reads them from the lake). Conventions:
// - A weight is a signed fraction of the capital: +0.2 holds a long position worth 20 % of it.
// - Raw weight of a target = its signal's confidence × its share (--weights; default equal, 1/N targets); the shares sum to at most 1.
// - Volatility targeting: a target's unit position is scaled by k = targetVol × raw / σ, σ its annualised
//   volatility (market.ts: sample sd of per-bar simple returns × √bars-per-year), so its ex-ante volatility
//   is targetVol × raw.
// - A pair "Y~X" is two legs: Y at d·k and X at −d·β·k (d = +1 long spread, −1 short spread; β the hedge
//   ratio of log prices, so β dollars of X hedge one dollar of Y); its σ is that of r_Y − β·r_X.
// - Legs of several targets on one symbol add up; then the caps, in this order: per asset (clip), gross and
//   net (one factor for all weights: the smaller of maxGross/Σ|w| and maxNet/|Σw|), the drawdown brake.
// - Target quantity = weight × capital / latest close, rounded toward zero to the symbol's lot size (a
//   position never exceeds what the caps allow). Order = target − current; orders worth less than
//   minNotional are dropped (the position stays as it is).

import { ConfigError, DataError } from '../core/index.js'
import { checkNotional, DEFAULT_CAPITAL, DEFAULT_CAPS, DEFAULT_LOT, type Caps } from './caps.js'
import { directionOf, legsOf, type Signal } from './signals.js'

export type CapName = 'maxWeightPerAsset' | 'maxGross' | 'maxNet' | 'maxDrawdown'

export interface TargetMarket {
  /** Latest close per symbol: every leg, and every symbol currently held. */
  prices: Readonly<Record<string, number>>
  /** Annualised volatility of each target's unit position (a symbol's returns; a pair's r_Y − β·r_X). */
  vols: Readonly<Record<string, number>>
  /** The latest hedge ratio of each pair target. */
  betas: Readonly<Record<string, number>>
}

export interface PortfolioTargetsOptions {
  /** One signal per target (latestPerTarget). */
  signals: readonly Signal[]
  /** Target → share (default: 1/N each). A target left out has share 0. */
  shares?: Readonly<Record<string, number>>
  market: TargetMarket
  caps?: Caps
  /** Default: caps.capital, else 10,000. */
  capital?: number
  /** Current positions, symbol → signed quantity (default flat). */
  current?: Readonly<Record<string, number>>
  /** Annualised volatility a target of share 1 and confidence 1 is scaled to (default 0.1). */
  targetVol?: number
  /** Current drawdown from the equity's peak, a fraction ≥ 0 (default 0). */
  drawdown?: number
  /** Signals below this confidence are flat (default 0). */
  minConfidence?: number
}

export interface TargetLine {
  target: string
  model: string
  time: string
  side: Signal['side']
  direction: -1 | 0 | 1
  confidence: number
  share: number
  /** confidence × share. */
  raw: number
  /** Annualised volatility of the unit position (NaN when the target is flat and none was given). */
  vol: number
  beta?: number
  /** k = targetVol × raw / vol (0 when flat). */
  scale: number
  legs: { symbol: string; weight: number }[]
}

export interface SymbolTarget {
  symbol: string
  /** Before the caps (the legs summed). */
  rawWeight: number
  /** After the caps. */
  weight: number
  targetQty: number
  currentQty: number
  /** targetQty − currentQty, 0 when dropped. */
  orderQty: number
  price: number
  /** targetQty × price. */
  notional: number
  /** The caps that changed this symbol's weight. */
  bound: CapName[]
  /** Why the order was dropped. */
  dropped?: string
}

export interface PortfolioOrder {
  symbol: string
  side: 'buy' | 'sell'
  qty: number
  price: number
  notional: number
  reason: string
}

export interface PortfolioTargets {
  targets: TargetLine[]
  positions: SymbolTarget[]
  orders: PortfolioOrder[]
  capital: number
  /** Σ|w| and Σw after the caps. */
  gross: number
  net: number
  /** The factor the gross/net caps applied (1: none bound). */
  exposureScale: number
  /** Whether the drawdown brake is engaged. */
  braked: boolean
  /** Caps that bound anywhere. */
  bound: CapName[]
}

/** Numbers printed and written with 12 significant digits: binary noise (0.30000000000000004) dropped. */
const tidy = (n: number) => (n === 0 ? 0 : Number(n.toPrecision(12)))

/** |w| × capital / price rounded toward zero to a multiple of lot (the 1e-9 absorbs 0.3 / 0.1 = 2.9999999999999996). */
export function roundToLot(qty: number, lot: number): number {
  const n = Math.floor(Math.abs(qty) / lot + 1e-9)
  return n === 0 ? 0 : Math.sign(qty) * onLot(n * lot, lot)
}

/**
 * A multiple of lot, its binary noise dropped at the lot's own decimals (0.1 × 3 is 0.3, not 0.30000000000000004).
 * Twelve significant digits rounded 123,456.7890129 up to 123,456.789013 with a 1e-8 lot: past the floor (an audit).
 */
function onLot(x: number, lot: number): number {
  for (let d = 0; d <= 20; d++) {
    const scaled = lot * 10 ** d
    if (Math.abs(scaled - Math.round(scaled)) <= 1e-9 * scaled) return Number(x.toFixed(d))
  }
  return x
}

export function portfolioTargets(options: PortfolioTargetsOptions): PortfolioTargets {
  const caps = options.caps ?? DEFAULT_CAPS
  const capital = options.capital ?? caps.capital ?? DEFAULT_CAPITAL
  if (!(capital > 0 && Number.isFinite(capital))) throw new ConfigError(`capital must be an amount > 0 (received ${capital})`)
  const targetVol = options.targetVol ?? 0.1
  if (!(targetVol > 0 && Number.isFinite(targetVol))) throw new ConfigError(`target volatility must be a fraction > 0, e.g. 0.1 (received ${targetVol})`)
  const drawdown = options.drawdown ?? 0
  if (!(drawdown >= 0 && drawdown <= 1)) throw new ConfigError(`drawdown must be a fraction in [0, 1] (received ${drawdown})`)
  checkNotional(caps, capital)
  const { prices, vols, betas } = options.market
  const n = options.signals.length
  const seen = new Set<string>()

  // Each target's legs.
  const lines: TargetLine[] = options.signals.map((s) => {
    if (seen.has(s.target)) throw new ConfigError(`two signals for ${s.target}; pass one per target (latestPerTarget)`)
    seen.add(s.target)
    const share = options.shares === undefined ? 1 / n : own(options.shares, s.target) ?? 0
    if (!(share >= 0 && Number.isFinite(share))) throw new ConfigError(`the share of ${s.target} must be a number ≥ 0 (received ${share})`)
    const direction = directionOf(s, options.minConfidence ?? 0)
    const raw = s.confidence * share
    const legs = legsOf(s.target)
    const beta = legs.length === 2 ? own(betas, s.target) : undefined
    if (legs.length === 2 && !Number.isFinite(beta)) throw new DataError(`${s.target}: no hedge ratio (not enough aligned bars of its legs?)`)
    const vol = own(vols, s.target) ?? NaN
    const active = direction !== 0 && raw > 0
    if (active && !(vol > 0 && Number.isFinite(vol))) throw new DataError(`${s.target}: its volatility is ${vol}; expected a number > 0 (too few bars, or a price that never moves?)`)
    const scale = active ? (targetVol * raw) / vol : 0
    const weights = legs.length === 2 ? [direction * scale, -direction * beta! * scale] : [direction * scale]
    return {
      target: s.target,
      model: s.model,
      time: s.time,
      side: s.side,
      direction,
      confidence: s.confidence,
      share,
      raw,
      vol,
      ...(beta === undefined ? {} : { beta }),
      scale,
      legs: legs.map((symbol, j) => ({ symbol, weight: weights[j]! === 0 ? 0 : weights[j]! })),
    }
  })

  // Shares are fractions of the capital (of the volatility budget): together at most 1, as the weights file
  // `deploy --weights` takes. A weights file in percent (A,60 / B,40) would otherwise multiply every position
  // 100× and leave only the caps between the book and the whole capital (an audit).
  const shareSum = lines.reduce((a, l) => a + l.share, 0)
  if (shareSum > 1 + 1e-9) throw new ConfigError(`the shares of the targets sum to ${tidy(shareSum)}; they are fractions of the capital and must sum to at most 1 (a weights file in percent? write 0.6, not 60)`)

  // Legs summed per symbol; held symbols without a target go to 0.
  const raw = new Map<string, number>()
  for (const line of lines) for (const leg of line.legs) raw.set(leg.symbol, (raw.get(leg.symbol) ?? 0) + leg.weight)
  for (const symbol of Object.keys(options.current ?? {})) if (!raw.has(symbol)) raw.set(symbol, 0)
  const symbols = [...raw.keys()]
  const bound = new Map<string, CapName[]>(symbols.map((s) => [s, []]))
  // The per-asset cap scales whole targets, never one leg: a pair clipped on one leg alone would no longer be
  // hedged (Y against β·X). The worst symbol over the cap scales every target touching it down to the cap, then
  // the next, until none is over (each pass only lowers scales, so it ends; a symbol netted by two targets is
  // brought to the cap by scaling both).
  const cap = caps.maxWeightPerAsset
  const scales = lines.map(() => 1)
  const sumOf = () => {
    const sum = new Map<string, number>(symbols.map((s) => [s, 0]))
    lines.forEach((line, i) => {
      for (const leg of line.legs) sum.set(leg.symbol, sum.get(leg.symbol)! + leg.weight * scales[i]!)
    })
    return sum
  }
  const capped = new Set<string>()
  for (let pass = 0; pass < 10 * lines.length + 10; pass++) {
    const sum = sumOf()
    let worst: string | undefined
    for (const [symbol, v] of sum) if (Math.abs(v) > cap * (1 + 1e-12) && (worst === undefined || Math.abs(v) > Math.abs(sum.get(worst)!))) worst = symbol
    if (worst === undefined) break
    const f = cap / Math.abs(sum.get(worst)!)
    lines.forEach((line, i) => {
      if (!line.legs.some((leg) => leg.symbol === worst && leg.weight !== 0)) return
      scales[i]! *= f
      for (const leg of line.legs) capped.add(leg.symbol)
    })
  }
  const w = sumOf()
  for (const symbol of symbols) {
    // A symbol some target still leaves over the cap after every pass (it cannot happen with the passes above
    // for fewer than ~10 targets per symbol): clipped as the last resort.
    if (Math.abs(w.get(symbol)!) > cap * (1 + 1e-9)) w.set(symbol, Math.sign(w.get(symbol)!) * cap)
    if (capped.has(symbol)) bound.get(symbol)!.push('maxWeightPerAsset')
  }
  let gross = 0
  let net = 0
  for (const v of w.values()) {
    gross += Math.abs(v)
    net += v
  }
  const byGross = gross > caps.maxGross ? caps.maxGross / gross : 1
  const byNet = Math.abs(net) > caps.maxNet ? caps.maxNet / Math.abs(net) : 1
  const exposureScale = Math.min(byGross, byNet)
  if (exposureScale < 1) {
    const cap: CapName = byGross <= byNet ? 'maxGross' : 'maxNet'
    for (const s of symbols) {
      if (w.get(s)! === 0) continue
      w.set(s, w.get(s)! * exposureScale)
      bound.get(s)!.push(cap)
    }
  }
  const braked = caps.maxDrawdown !== undefined && drawdown >= caps.maxDrawdown
  if (braked) {
    for (const s of symbols) {
      if (w.get(s)! === 0) continue
      w.set(s, w.get(s)! * caps.drawdownBrake)
      bound.get(s)!.push('maxDrawdown')
    }
  }
  // Caps that leave nothing of the positions asked for cannot be met (going flat is the brake's job).
  const asking = lines.filter((l) => l.scale > 0).length
  if (asking > 0 && !(braked && caps.drawdownBrake === 0)) {
    const none = (cap: CapName, value: number): never => {
      throw new ConfigError(`caps: ${cap} ${value} leaves no position (${asking} signal${asking === 1 ? ' asks' : 's ask'} for some); raise ${cap}${caps.maxDrawdown === undefined ? '' : ' (the drawdown brake, not a cap of 0, is how to go flat)'}`)
    }
    if (caps.maxWeightPerAsset === 0) none('maxWeightPerAsset', 0)
    if (exposureScale === 0) none(byGross <= byNet ? 'maxGross' : 'maxNet', byGross <= byNet ? caps.maxGross : caps.maxNet)
    if (caps.minNotional > 0) {
      const largest = symbols.reduce((a, s) => (Math.abs(w.get(s)!) > Math.abs(w.get(a)!) ? s : a), symbols[0]!)
      const most = Math.abs(w.get(largest)!) * capital
      if (most < caps.minNotional) {
        const by = bound.get(largest)!.length > 0 ? ` (${bound.get(largest)!.join(', ')} bound)` : ''
        throw new ConfigError(`caps: minNotional ${caps.minNotional}: every target position is below it — the largest, ${largest}, is worth ${tidy(most)}${by}`)
      }
    }
  }

  // Quantities and orders.
  const positions: SymbolTarget[] = []
  const orders: PortfolioOrder[] = []
  for (const symbol of symbols) {
    const price = own(prices, symbol)
    const currentQty = (options.current === undefined ? undefined : own(options.current, symbol)) ?? 0
    if (!Number.isFinite(currentQty)) throw new ConfigError(`the current position of ${symbol} must be a finite quantity (received ${currentQty})`)
    if (!(price !== undefined && price > 0 && Number.isFinite(price))) throw new DataError(`${symbol}: no latest price (received ${price}); expected a close > 0`)
    const weight = w.get(symbol)! === 0 ? 0 : tidy(w.get(symbol)!)
    const lot = own(caps.lotSizes, symbol) ?? DEFAULT_LOT
    const targetQty = roundToLot((weight * capital) / price, lot)
    const diff = tidy(targetQty - currentQty)
    const line: SymbolTarget = { symbol, rawWeight: tidy(raw.get(symbol)!), weight, targetQty, currentQty, orderQty: diff, price, notional: tidy(targetQty * price), bound: bound.get(symbol)! }
    const notional = tidy(Math.abs(diff) * price)
    if (diff !== 0 && notional < caps.minNotional) {
      line.orderQty = 0
      line.dropped = `order worth ${notional} < minNotional ${caps.minNotional}`
    } else if (diff !== 0) {
      const from = lines.filter((l) => l.legs.some((leg) => leg.symbol === symbol && leg.weight !== 0)).map((l) => `${l.target} ${l.side}`)
      const caps = line.bound.length === 0 ? '' : `; capped by ${line.bound.join(', ')}`
      orders.push({ symbol, side: diff > 0 ? 'buy' : 'sell', qty: Math.abs(diff), price, notional, reason: `${currentQty} → ${targetQty}${from.length === 0 ? ' (no signal)' : ` (${from.join(', ')})`}${caps}` })
    }
    positions.push(line)
  }
  let g = 0
  let nt = 0
  for (const p of positions) {
    g += Math.abs(p.weight)
    nt += p.weight
  }
  const all = new Set<CapName>()
  for (const p of positions) for (const c of p.bound) all.add(c)
  return { targets: lines, positions, orders, capital, gross: tidy(g), net: tidy(nt), exposureScale, braked, bound: [...all] }
}

/** A record's own value for a key (a symbol named "constructor" or "toString" is a symbol, not a method). */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined
}
