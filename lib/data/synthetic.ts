// Seeded synthetic markets for demos and tests — always labelled: symbols start with "SYN-", the lake
// source is "synthetic", and the returned bars carry `synthetic: true` and the model's parameters.
//   gbm:  geometric Brownian motion whose variance follows GARCH(1,1) (volatility clustering)
//   pair: two cointegrated log-price series, log y = a + β·log x + s, s an AR(1) spread with a half-life

import { ConfigError, seededRandom, timeframeMs, type Random } from '../core/index.js'
import { toEpochMs, type Bars } from './bars.js'
import { emptyBars } from './convert.js'

export interface SyntheticBars extends Bars {
  synthetic: true
  model: Record<string, number | string>
}

export interface GbmOptions {
  symbol?: string
  timeframe?: string
  bars: number
  start?: number | string
  seed?: number
  price?: number
  /** Annualised drift and volatility. */
  drift?: number
  volatility?: number
  /** GARCH(1,1) weights of the last shock and of the last variance (alpha + beta < 1). */
  alpha?: number
  beta?: number
}

const YEAR_MS = 365.25 * 86_400_000

function label(symbol: string | undefined, fallback: string): string {
  const s = symbol ?? fallback
  return s.startsWith('SYN-') ? s : `SYN-${s}`
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`bars must be an integer ≥ 1 (received ${n})`)
}

/** OHLCV around a close path: open = previous close, high/low widened by a seeded intrabar range. */
function barsFromCloses(closes: Float64Array, stepVol: Float64Array, rng: Random, symbol: string, timeframe: string, start: number, model: SyntheticBars['model']): SyntheticBars {
  const step = timeframeMs(timeframe)
  const n = closes.length
  const bars = emptyBars({ symbol, timeframe }, n) as SyntheticBars
  let prev = closes[0]! / Math.exp(stepVol[0]! * rng.normal())
  for (let i = 0; i < n; i++) {
    const o = prev
    const c = closes[i]!
    bars.time[i] = start + i * step
    bars.open[i] = o
    bars.close[i] = c
    bars.high[i] = Math.max(o, c) * Math.exp(Math.abs(rng.normal()) * stepVol[i]! * 0.5)
    bars.low[i] = Math.min(o, c) * Math.exp(-Math.abs(rng.normal()) * stepVol[i]! * 0.5)
    bars.volume[i] = Math.round(1000 * Math.exp(0.5 * rng.normal()) * (1 + Math.abs(Math.log(c / o)) / Math.max(stepVol[i]!, 1e-12)))
    prev = c
  }
  bars.synthetic = true
  bars.model = model
  return bars
}

export function syntheticGbm(options: GbmOptions): SyntheticBars {
  checkCount(options.bars)
  const timeframe = options.timeframe ?? '1m'
  const dt = timeframeMs(timeframe) / YEAR_MS
  const alpha = options.alpha ?? 0.08
  const beta = options.beta ?? 0.9
  if (alpha < 0 || beta < 0 || alpha + beta >= 1) throw new ConfigError(`GARCH needs alpha, beta ≥ 0 and alpha + beta < 1 (received ${alpha}, ${beta})`)
  const sigma = options.volatility ?? 0.6
  const mu = options.drift ?? 0
  const rng = seededRandom(options.seed ?? 1)
  const longRun = sigma * sigma * dt // per-step variance the process reverts to
  const omega = longRun * (1 - alpha - beta)
  const closes = new Float64Array(options.bars)
  const stepVol = new Float64Array(options.bars)
  let h = longRun
  let shock = 0
  let price = options.price ?? 100
  for (let i = 0; i < options.bars; i++) {
    h = omega + alpha * shock * shock + beta * h
    shock = Math.sqrt(h) * rng.normal()
    price *= Math.exp((mu - 0.5 * sigma * sigma) * dt + shock)
    closes[i] = price
    stepVol[i] = Math.sqrt(h)
  }
  const start = toEpochMs(options.start ?? '2024-01-01T00:00:00Z', 'start')
  return barsFromCloses(closes, stepVol, rng, label(options.symbol, 'GBM'), timeframe, start, { kind: 'gbm', seed: options.seed ?? 1, drift: mu, volatility: sigma, alpha, beta })
}

export interface PairOptions {
  symbols?: [string, string]
  timeframe?: string
  bars: number
  start?: number | string
  seed?: number
  /** log y = intercept + hedgeRatio · log x + spread */
  hedgeRatio?: number
  intercept?: number
  /** Half-life of the spread in bars. */
  halfLife?: number
  /** Standard deviation of the spread's stationary distribution (log units). */
  spreadVol?: number
  /** Annualised volatility of x. */
  volatility?: number
}

export function syntheticPair(options: PairOptions): [SyntheticBars, SyntheticBars] {
  checkCount(options.bars)
  const timeframe = options.timeframe ?? '1h'
  const dt = timeframeMs(timeframe) / YEAR_MS
  const hedge = options.hedgeRatio ?? 1.5
  const intercept = options.intercept ?? 0
  const halfLife = options.halfLife ?? 24
  if (!(halfLife > 0)) throw new ConfigError(`halfLife must be > 0 bars (received ${halfLife})`)
  const phi = Math.exp(-Math.LN2 / halfLife) // AR(1) coefficient: s_t = φ s_{t−1} + ε
  const spreadVol = options.spreadVol ?? 0.02
  const innovation = spreadVol * Math.sqrt(1 - phi * phi)
  const sigma = options.volatility ?? 0.5
  const rng = seededRandom(options.seed ?? 1)
  const n = options.bars
  const x = new Float64Array(n)
  const y = new Float64Array(n)
  const vx = new Float64Array(n).fill(sigma * Math.sqrt(dt))
  const vy = new Float64Array(n).fill(Math.hypot(hedge * sigma * Math.sqrt(dt), innovation))
  let logX = Math.log(100)
  let spread = spreadVol * rng.normal()
  for (let i = 0; i < n; i++) {
    logX += -0.5 * sigma * sigma * dt + sigma * Math.sqrt(dt) * rng.normal()
    spread = phi * spread + innovation * rng.normal()
    x[i] = Math.exp(logX)
    y[i] = Math.exp(intercept + hedge * logX + spread)
  }
  const start = toEpochMs(options.start ?? '2024-01-01T00:00:00Z', 'start')
  const model = { kind: 'pair', seed: options.seed ?? 1, hedgeRatio: hedge, intercept, halfLife, spreadVol }
  const [nameY, nameX] = options.symbols ?? ['Y', 'X']
  return [
    barsFromCloses(y, vy, rng, label(nameY, 'Y'), timeframe, start, model),
    barsFromCloses(x, vx, rng, label(nameX, 'X'), timeframe, start, model),
  ]
}
