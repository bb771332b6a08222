// Review: the tearsheet pairs each strategy return with the benchmark's over the same span, its value at a day
// being its last on or before it — also past the benchmark's last value, where it has none: every strategy
// return after a benchmark that ends earlier was paired with a benchmark return of 0 (pairs counted, beta,
// correlation, the benchmark's volatility and Sharpe diluted), where one that starts later is left out.
import { describe, expect, it } from 'vitest'
import { tearsheet } from '../../lib/report/index.js'

const D = 86_400_000
const JAN1 = Date.UTC(2024, 0, 1)

describe('a benchmark that ends before the strategy', () => {
  it('is paired over the days it has, as one that starts later is', () => {
    let seed = 7
    const time: number[] = []
    const close: number[] = []
    let p = 100
    for (let d = 0; d < 200; d++) {
      seed = (seed * 48271) % 2147483647
      p *= 1 + 0.04 * (seed / 2147483647 - 0.5)
      time.push(JAN1 + d * D)
      close.push(p)
    }
    // The strategy's equity is 1000 × the benchmark's price: over any span both move alike.
    const equity = close.map((c) => 1000 * c)
    const later = tearsheet({ time, equity, benchmark: { name: 'B', time: time.slice(100), close: close.slice(100) } }).benchmark!
    expect(later.pairs).toBe(99)
    expect(later.correlation).toBeCloseTo(1, 12)
    const earlier = tearsheet({ time, equity, benchmark: { name: 'B', time: time.slice(0, 100), close: close.slice(0, 100) } }).benchmark!
    // Its 99 daily returns, not 199 with 100 zeros after its end (correlation 0.71, volatility 0.131 for 0.18).
    expect(earlier.pairs).toBe(99)
    expect(earlier.beta).toBeCloseTo(1, 12)
    expect(earlier.correlation).toBeCloseTo(1, 12)
    const own = tearsheet({ time: time.slice(0, 100), equity: close.slice(0, 100) }).metrics
    expect(earlier.volatility).toBeCloseTo(own.volatility!, 12)
  })
})
