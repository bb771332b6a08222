// Synthetic markets: seeded, labelled, valid bars, and statistics that match the chosen parameters
// (estimated here with plain formulas, not with lib code).

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { barsHash, ingestBars, syntheticGbm, syntheticPair } from '../../lib/data/index.js'

function logReturns(close: Float64Array): number[] {
  const r: number[] = []
  for (let i = 1; i < close.length; i++) r.push(Math.log(close[i]! / close[i - 1]!))
  return r
}
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length
function autocorr(a: number[], lag: number): number {
  const m = mean(a)
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    den += (a[i]! - m) ** 2
    if (i >= lag) num += (a[i]! - m) * (a[i - lag]! - m)
  }
  return num / den
}

describe('synthetic data', () => {
  it('is seeded, labelled and valid for the lake', async () => {
    const a = syntheticGbm({ bars: 5000, seed: 7 })
    expect(barsHash(syntheticGbm({ bars: 5000, seed: 7 }), 's')).toBe(barsHash(a, 's'))
    expect(barsHash(syntheticGbm({ bars: 5000, seed: 8 }), 's')).not.toBe(barsHash(a, 's'))
    expect(a.symbol).toBe('SYN-GBM')
    expect(a.synthetic).toBe(true)
    const report = await ingestBars(mkdtempSync(join(tmpdir(), 'mtflow-syn-')), a, { source: 'synthetic' })
    expect(report).toMatchObject({ accepted: 5000, quarantined: {}, gaps: 0 })
  })

  it('GBM has the chosen volatility, and GARCH clusters it', () => {
    const sigma = 0.6
    const dt = 60_000 / (365.25 * 86_400_000)
    const clustered = logReturns(syntheticGbm({ bars: 200_000, seed: 3, volatility: sigma }).close)
    const realized = Math.sqrt(mean(clustered.map((r) => r * r)) / dt)
    expect(Math.abs(realized / sigma - 1)).toBeLessThan(0.1)
    // Squared returns are autocorrelated under GARCH, not under constant variance.
    expect(autocorr(clustered.map((r) => r * r), 1)).toBeGreaterThan(0.05)
    const plain = logReturns(syntheticGbm({ bars: 200_000, seed: 3, volatility: sigma, alpha: 0, beta: 0 }).close)
    expect(Math.abs(autocorr(plain.map((r) => r * r), 1))).toBeLessThan(0.02)
  })

  it('a pair is cointegrated with the chosen hedge ratio and half-life', () => {
    const [y, x] = syntheticPair({ bars: 20_000, seed: 11, hedgeRatio: 1.5, intercept: 0.2, halfLife: 24 })
    expect([y.symbol, x.symbol]).toEqual(['SYN-Y', 'SYN-X'])
    const lx = Array.from(x.close, Math.log)
    const ly = Array.from(y.close, Math.log)
    // OLS slope = cov(x, y) / var(x)
    const mx = mean(lx)
    const my = mean(ly)
    let sxy = 0
    let sxx = 0
    for (let i = 0; i < lx.length; i++) {
      sxy += (lx[i]! - mx) * (ly[i]! - my)
      sxx += (lx[i]! - mx) ** 2
    }
    const slope = sxy / sxx
    expect(Math.abs(slope - 1.5)).toBeLessThan(0.02)
    // Half-life from the AR(1) of the spread: φ = Σ s_t s_{t−1} / Σ s_{t−1}², half-life = −ln 2 / ln φ
    const s = ly.map((v, i) => v - (my - slope * mx) - slope * lx[i]!)
    let num = 0
    let den = 0
    for (let i = 1; i < s.length; i++) {
      num += s[i]! * s[i - 1]!
      den += s[i - 1]! ** 2
    }
    const halfLife = -Math.LN2 / Math.log(num / den)
    expect(halfLife).toBeGreaterThan(24 * 0.8)
    expect(halfLife).toBeLessThan(24 * 1.2)
  })
})
