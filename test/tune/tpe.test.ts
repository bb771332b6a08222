// TPE against hand computations and an independent implementation: the l/g split, Optuna's bandwidth
// rule worked by hand, the mixture density checked against one normalised by numeric integration
// (no erf), categorical smoothing by hand, the sampler's draws against its own density, the startup
// trials, and a search that beats random sampling.

import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { choice, createStudy, defaultWeights, floatRange, intRange, PARZEN_DEFAULTS, ParzenEstimator, randomSampler, tpeSampler, tpeSplit } from '../../lib/tune/index.js'
import type { TrialRecord } from '../../lib/tune/index.js'

function record(number: number, state: TrialRecord['state'], value?: number, intermediate: [number, number][] = []): TrialRecord {
  const map = new Map(intermediate)
  return {
    number,
    state,
    params: {},
    distributions: {},
    values: value === undefined ? undefined : [value],
    intermediate: map,
    lastStep: intermediate.length === 0 ? undefined : Math.max(...intermediate.map(([s]) => s)),
    system: {},
    fixed: undefined,
    startedAt: 0,
    finishedAt: 0,
    error: undefined,
    owner: undefined,
  }
}

/** ∫ N(t; mu, sigma) dt over [a, b] by composite Simpson (an oracle that uses no erf). */
function normalMass(mu: number, sigma: number, a: number, b: number, n = 4000): number {
  const f = (t: number) => Math.exp(-0.5 * ((t - mu) / sigma) ** 2) / (sigma * Math.sqrt(2 * Math.PI))
  const h = (b - a) / n
  let s = f(a) + f(b)
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h)
  return (s * h) / 3
}

describe('the l/g split', () => {
  it('takes the best γ(n) complete trials as below, oldest first', () => {
    const trials = [5, 1, 4, 2, 3].map((v, i) => record(i, 'complete', v))
    const split = tpeSplit(trials, 'minimize', 2)
    expect(split.scored.map((t) => t.number)).toEqual([0, 1, 2, 3, 4])
    expect([...split.below]).toEqual([0, 1, 0, 1, 0])
    expect([...tpeSplit(trials, 'maximize', 2).below]).toEqual([1, 0, 1, 0, 0])
  })

  it('ranks pruned trials after complete ones, the furthest first; running and failed are left out', () => {
    const trials = [
      record(0, 'pruned', undefined, [[0, 0.1], [1, 0.2]]), // got to step 1
      record(1, 'complete', 9),
      record(2, 'running'),
      record(3, 'pruned', undefined, [[0, 0.05]]), // step 0 only: behind trial 0 despite the better value
      record(4, 'failed'),
      record(5, 'pruned'), // no report: last of all
    ]
    const scored = (n: number) => {
      const s = tpeSplit(trials, 'minimize', n)
      return s.scored.filter((_, k) => s.below[k] === 1).map((t) => t.number)
    }
    expect(scored(1)).toEqual([1])
    expect(scored(2)).toEqual([0, 1])
    expect(scored(3)).toEqual([0, 1, 3])
    expect(scored(4)).toEqual([0, 1, 3, 5])
  })

  it('weights: 25 newest equal, older ones on numpy.linspace(1/n, 1) ', () => {
    expect([...defaultWeights(3)]).toEqual([1, 1, 1])
    const w = defaultWeights(30)
    // linspace(1/30, 1, 5): step (1 - 1/30)/4
    const step = (1 - 1 / 30) / 4
    ;[0, 1, 2, 3, 4].forEach((i) => expect(w[i]).toBeCloseTo(1 / 30 + i * step, 14))
    expect([...w.slice(5)]).toEqual(new Array(25).fill(1))
  })
})

describe('Parzen estimator', () => {
  it('bandwidths by hand: neighbour gaps, end points ignored, magic clip, prior as wide as the range', () => {
    // Observations 0.1 0.3 0.8 + prior 0.5 on [0, 1]; sorted with the ends: 0 .1 .3 .5 .8 1.
    // Larger neighbour gap: .1→.2, .3→.2, .5→.3, .8→.3; end points not neighbours: first = .3-.1, last = .8-.5.
    // Clip below at 1/min(100, 1+4) = 0.2; the prior gets 1.
    const pe = new ParzenEstimator(floatRange(0, 1), [0.1, 0.3, 0.8])
    expect([...pe.mus]).toEqual([0.1, 0.3, 0.8, 0.5])
    ;[0.2, 0.2, 0.3, 1].forEach((s, i) => expect(pe.sigmas[i]).toBeCloseTo(s, 14))
    expect([...pe.weights]).toEqual([0.25, 0.25, 0.25, 0.25])
  })

  it('density: an independent mixture of normals truncated to the range (normalized), or Optuna ≤ 3.4’s form', () => {
    const obs = [0.1, 0.3, 0.8]
    const comps = [
      [0.1, 0.2],
      [0.3, 0.2],
      [0.8, 0.3],
      [0.5, 1],
    ] as const
    const xs = [0, 0.05, 0.3, 0.5, 0.77, 1]
    const normalized = new ParzenEstimator(floatRange(0, 1), obs, { ...PARZEN_DEFAULTS, normalized: true }).logPdf(xs)
    const legacy = new ParzenEstimator(floatRange(0, 1), obs).logPdf(xs)
    xs.forEach((x, j) => {
      let p = 0
      let q = 0
      for (const [mu, s] of comps) {
        const kernel = (0.25 * Math.exp(-0.5 * ((x - mu) / s) ** 2)) / Math.sqrt(2 * Math.PI) / normalMass(mu, s, 0, 1)
        p += kernel / s
        q += kernel // Optuna 3.1's truncnorm.logpdf: the standard normal's density at z, no 1/σ
      }
      expect(normalized[j]).toBeCloseTo(Math.log(p), 9)
      expect(legacy[j]).toBeCloseTo(Math.log(q), 9)
    })
  })

  it('log scale: the density lives on log x', () => {
    // Observations 1 and 100 on [0.1, 1000] (log): centres 0 and ln 100 on [ln .1, ln 1000].
    const pe = new ParzenEstimator(floatRange(0.1, 1000, { log: true }), [1, 100], { ...PARZEN_DEFAULTS, normalized: true })
    expect(pe.mus[0]).toBe(0)
    expect(pe.mus[1]).toBeCloseTo(Math.log(100), 14)
    // Integrating exp(logPdf(e^u)) over u in the log range gives 1.
    const lo = Math.log(0.1)
    const hi = Math.log(1000)
    const n = 2000
    let s = 0
    const us = Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n)
    const dens = pe.logPdf(us.map(Math.exp))
    for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2) * Math.exp(dens[i]!)
    expect((s * (hi - lo)) / n / 3).toBeCloseTo(1, 6)
  })

  it('stepped ints: masses of [k - ½, k + ½] that sum to 1', () => {
    const pe = new ParzenEstimator(intRange(1, 5), [2, 2, 4])
    const p = [...pe.logPdf([1, 2, 3, 4, 5])].map(Math.exp)
    expect(p.reduce((a, b) => a + b)).toBeCloseTo(1, 12)
    // Independent: each component's mass over the cell, over its mass over [0.5, 5.5], weighted.
    const w = [...pe.weights]
    for (let k = 1; k <= 5; k++) {
      let q = 0
      for (let i = 0; i < w.length; i++) q += (w[i]! * normalMass(pe.mus[i]!, pe.sigmas[i]!, k - 0.5, k + 0.5)) / normalMass(pe.mus[i]!, pe.sigmas[i]!, 0.5, 5.5)
      expect(p[k - 1]).toBeCloseTo(q, 9)
    }
  })

  it('categorical: smoothed counts by hand', () => {
    // Observations 0, 2, 2 of 3 choices, prior weight 1: v = 1/4; observed rows (v + [c = o]) / 1.75,
    // prior row 1/3; mixture weights 1/4 each.
    const pe = new ParzenEstimator(choice(['a', 'b', 'c']), [0, 2, 2])
    const p = [...pe.logPdf([0, 1, 2])].map(Math.exp)
    expect(p[0]).toBeCloseTo(0.25 * (1.25 / 1.75 + (2 * 0.25) / 1.75 + 1 / 3), 14)
    expect(p[1]).toBeCloseTo(0.25 * ((3 * 0.25) / 1.75 + 1 / 3), 14)
    expect(p[2]).toBeCloseTo(0.25 * ((0.25 + 2 * 1.25) / 1.75 + 1 / 3), 14)
  })

  it('draws follow the density (histogram of 40,000 draws)', () => {
    const pe = new ParzenEstimator(floatRange(0, 1), [0.1, 0.3, 0.8], { ...PARZEN_DEFAULTS, normalized: true })
    const draws = pe.sample(seededRandom(3), 40_000)
    const bins = 10
    const counts = new Array(bins).fill(0)
    for (const x of draws) counts[Math.min(bins - 1, Math.floor(x * bins))]++
    for (let b = 0; b < bins; b++) {
      const n = 400
      const xs = Array.from({ length: n + 1 }, (_, i) => b / bins + i / (n * bins))
      const d = [...pe.logPdf(xs)].map(Math.exp)
      let mass = 0
      for (let i = 0; i <= n; i++) mass += (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2) * d[i]!
      mass *= 1 / (n * bins) / 3
      // Binomial standard error at 40,000 draws is ≤ 0.0025; allow 4 of them.
      expect(Math.abs(counts[b] / draws.length - mass)).toBeLessThan(0.01)
    }
  })
})

describe('TPE sampler', () => {
  const space = { x: floatRange(-5, 5), n: intRange(0, 20), c: choice(['a', 'b', 'c']) }
  const objective = (p: Record<string, unknown>) => ((p.x as number) - 1) ** 2 + ((p.n as number) - 7) ** 2 / 10 + (p.c === 'b' ? 0 : 1)

  it('its first 10 trials are the random sampler’s with the same seed', async () => {
    const tpe = createStudy({ space, sampler: tpeSampler({ seed: 5 }) })
    const rnd = createStudy({ space, sampler: randomSampler({ seed: 5 }) })
    await tpe.optimize((t) => objective(t.params), { nTrials: 12 })
    await rnd.optimize((t) => objective(t.params), { nTrials: 12 })
    expect(tpe.trials.slice(0, 10).map((t) => t.params)).toEqual(rnd.trials.slice(0, 10).map((t) => t.params))
    expect(tpe.trials[10]!.params).not.toEqual(rnd.trials[10]!.params)
  })

  it('is reproducible per seed', async () => {
    const run = async (seed: number) => {
      const s = createStudy({ space, sampler: tpeSampler({ seed }) })
      await s.optimize((t) => objective(t.params), { nTrials: 30 })
      return s.trials.map((t) => t.params)
    }
    expect(await run(1)).toEqual(await run(1))
    expect(await run(1)).not.toEqual(await run(2))
  })

  it('finds better values than random search on the same budget (median of 9 seeds)', async () => {
    const best = async (sampler: 'tpe' | 'random', seed: number) => {
      const s = createStudy({ space, sampler: sampler === 'tpe' ? tpeSampler({ seed }) : randomSampler({ seed }) })
      await s.optimize((t) => objective(t.params), { nTrials: 60 })
      return s.bestValue!
    }
    const med = async (sampler: 'tpe' | 'random') => {
      const v: number[] = []
      for (let seed = 0; seed < 9; seed++) v.push(await best(sampler, seed))
      return v.sort((a, b) => a - b)[4]!
    }
    const [tpe, rnd] = [await med('tpe'), await med('random')]
    expect(tpe).toBeLessThan(rnd / 2)
  })

  it('refuses several objectives', () => {
    expect(() => createStudy({ directions: ['minimize', 'maximize'], sampler: tpeSampler() })).toThrow(/tpeSampler optimises one objective \(received 2 directions\)/)
  })
})
