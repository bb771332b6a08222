// Grid, random and NSGA-II samplers: the grid visits every point once (conditional branches included)
// and stops; random draws are reproducible per seed, depend on the trial number only, and have the
// right distributions; NSGA-II's generations, elite selection by hand, and children built from parents.

import { describe, expect, it } from 'vitest'
import { choice, createStudy, elite, floatRange, gridPoints, gridSampler, hypervolume, intRange, nsga2Sampler, randomSampler, spaceFromParamSpace } from '../../lib/tune/index.js'
import type { TrialRecord } from '../../lib/tune/index.js'
import { getStrategy } from '../../lib/strategy/index.js'

describe('grid sampler', () => {
  const space = {
    kernel: choice(['rbf', 'linear']),
    gamma: floatRange(0.1, 0.3, { step: 0.1, when: { kernel: 'rbf' } }),
    c: intRange(1, 3, { step: 2 }),
  }

  it('enumerates conditional branches: rbf × 3 gammas × 2 c + linear × 2 c', () => {
    const points = gridPoints(['kernel', 'gamma', 'c'], space)
    expect(points).toEqual([
      { kernel: 'rbf', gamma: 0.1, c: 1 },
      { kernel: 'rbf', gamma: 0.1, c: 3 },
      { kernel: 'rbf', gamma: 0.2, c: 1 },
      { kernel: 'rbf', gamma: 0.2, c: 3 },
      { kernel: 'rbf', gamma: 0.3, c: 1 },
      { kernel: 'rbf', gamma: 0.3, c: 3 },
      { kernel: 'linear', c: 1 },
      { kernel: 'linear', c: 3 },
    ])
  })

  it('runs every point exactly once, then stops', async () => {
    const study = createStudy({ space, sampler: gridSampler({ shuffle: 3 }) })
    await study.optimize(() => 0, { nTrials: 50 })
    expect(study.trials).toHaveLength(8)
    const seen = study.trials.map((t) => JSON.stringify(t.params)).sort()
    expect(seen).toEqual(gridPoints(['kernel', 'gamma', 'c'], space).map((p) => JSON.stringify(p)).sort())
    // Without nTrials, the grid's end stops optimize.
    const again = createStudy({ space, sampler: gridSampler() })
    await again.optimize(() => 0)
    expect(again.trials).toHaveLength(8)
  })

  it('define-by-run takes the values given', async () => {
    const study = createStudy({ sampler: gridSampler({ values: { a: [1, 2], b: ['x', 'y', 'z'] } }) })
    await study.optimize((t) => (t.suggestInt('a', 0, 5) as number) + (t.suggestCategorical('b', ['x', 'y', 'z']) === 'z' ? 10 : 0))
    expect(study.trials.map((t) => `${t.params.a}${t.params.b}`)).toEqual(['1x', '1y', '1z', '2x', '2y', '2z'])
  })

  it('needs a step or values for a continuous float', async () => {
    const study = createStudy({ space: { x: floatRange(0, 1) }, sampler: gridSampler() })
    await expect(study.optimize(() => 0, { nTrials: 2 })).rejects.toThrow(/grid: param x is a continuous float \(float in \[0, 1\]\); give it a step or gridSampler\(\{ values: \{ x: \[...\] \} \}\)/)
    const given = createStudy({ space: { x: floatRange(0, 1) }, sampler: gridSampler({ values: { x: [0, 0.5, 1] } }) })
    await given.optimize((t) => t.params.x as number)
    expect(given.trials.map((t) => t.params.x)).toEqual([0, 0.5, 1])
    expect(() => gridSampler({ values: { x: [] } })).toThrow(/grid: values of x must be a non-empty list of numbers, strings or booleans \(received \[\]\)/)
  })
})

describe('random sampler', () => {
  const space = { x: floatRange(-1, 1), n: intRange(0, 4), lr: floatRange(1e-4, 1, { log: true }), k: choice(['a', 'b', 'c']), q: floatRange(0, 1, { step: 0.25 }) }

  it('is reproducible per seed and different across seeds', async () => {
    const params = async (seed: number) => {
      const s = createStudy({ space, sampler: randomSampler({ seed }) })
      await s.optimize(() => 0, { nTrials: 20 })
      return s.trials.map((t) => t.params)
    }
    expect(await params(7)).toEqual(await params(7))
    expect(await params(7)).not.toEqual(await params(8))
  })

  it('draws trial n’s parameters from the trial number alone (history does not shift them)', async () => {
    const plain = createStudy({ space, sampler: randomSampler({ seed: 7 }) })
    await plain.optimize(() => 0, { nTrials: 6 })
    const shifted = createStudy({ space, sampler: randomSampler({ seed: 7 }) })
    shifted.enqueueTrial({ x: 0, n: 0 })
    shifted.enqueueTrial({ x: 0.5 })
    await shifted.optimize(() => 0, { nTrials: 6 })
    expect(shifted.trials.slice(2).map((t) => t.params)).toEqual(plain.trials.slice(2).map((t) => t.params))
  })

  it('has the right distributions (counts within 5 standard errors)', async () => {
    const s = createStudy({ space, sampler: randomSampler({ seed: 1 }) })
    const N = 4000
    await s.optimize(() => 0, { nTrials: N })
    const ps = s.trials.map((t) => t.params)
    const near = (count: number, p: number) => expect(Math.abs(count - N * p)).toBeLessThan(5 * Math.sqrt(N * p * (1 - p)))
    for (let v = 0; v <= 4; v++) near(ps.filter((p) => p.n === v).length, 1 / 5)
    for (const k of ['a', 'b', 'c']) near(ps.filter((p) => p.k === k).length, 1 / 3)
    for (const q of [0, 0.25, 0.5, 0.75, 1]) near(ps.filter((p) => p.q === q).length, 1 / 5)
    near(ps.filter((p) => (p.x as number) < 0).length, 1 / 2)
    // Log-uniform on [1e-4, 1] spans four decades, a quarter of the draws in each.
    near(ps.filter((p) => (p.lr as number) < 1e-3).length, 1 / 4)
    near(ps.filter((p) => (p.lr as number) < 1e-2).length, 1 / 2)
    expect(ps.every((p) => (p.lr as number) >= 1e-4 && (p.lr as number) <= 1)).toBe(true)
  })
})

describe('strategy ParamSpace adapter', () => {
  it('turns min/max/integer/step into distributions', () => {
    const strategy = getStrategy('sma-cross')
    const defs = strategy.params as Record<string, { min: number; max: number; integer?: boolean; step?: number }>
    const names = Object.keys(defs)
    const space = spaceFromParamSpace(strategy.params)
    expect(space.names).toEqual(names)
    for (const name of names) {
      const d = space.params[name]!
      expect(d.kind).toBe(defs[name]!.integer === true ? 'int' : 'float')
      expect([(d as { low: number }).low, (d as { high: number }).high]).toEqual([defs[name]!.min, defs[name]!.max])
    }
    expect(() => spaceFromParamSpace(strategy.params, { names: ['nope'] })).toThrow(/param nope is not in the strategy's space/)
  })

  it('keeps a sweep step with discrete, samples on a log scale with log', () => {
    const params = { fast: { default: 10, min: 5, max: 50, integer: true, step: 5 }, k: { default: 2, min: 0.5, max: 3, step: 0.5 } }
    expect(spaceFromParamSpace(params, { discrete: true }).params).toEqual({
      fast: { kind: 'int', low: 5, high: 50, step: 5, log: false },
      k: { kind: 'float', low: 0.5, high: 3, step: 0.5, log: false },
    })
    expect(spaceFromParamSpace(params, { log: ['fast'] }).params.fast).toEqual({ kind: 'int', low: 5, high: 50, step: 1, log: true })
  })
})

describe('NSGA-II', () => {
  const done = (number: number, values: number[]): TrialRecord => ({ number, state: 'complete', values, params: {}, distributions: {}, intermediate: new Map(), lastStep: undefined, system: {}, fixed: undefined, startedAt: 0, finishedAt: 0, error: undefined, owner: undefined })

  it('elite: whole fronts while they fit, the next front cut by crowding distance', () => {
    // Front 0: 0 (1,4), 1 (4,1); front 1: 2 (2,5), 3 (3,4.5), 4 (5,2) (dominated by 0, 0 and 1); front 2: 5 (6,6).
    // Size 4: front 0 (2) fits; front 1 (3) does not. Its crowding: 2 and 4 are extremes (∞); 3 gets
    // (5-2)/3 on each objective = 2. So 2 and 4 go first, then 3.
    const pop = [done(0, [1, 4]), done(1, [4, 1]), done(2, [2, 5]), done(3, [3, 4.5]), done(4, [5, 2]), done(5, [6, 6])]
    expect(elite(pop, ['minimize', 'minimize'], 4).map((t) => t.number)).toEqual([0, 1, 2, 4])
    expect(elite(pop, ['minimize', 'minimize'], 5).map((t) => t.number)).toEqual([0, 1, 2, 4, 3])
    // Exactly filling: front 0 + front 1 + front 2 for size 6 (a front that fits exactly is still sorted).
    expect(elite(pop, ['minimize', 'minimize'], 6).map((t) => t.number).sort()).toEqual([0, 1, 2, 3, 4, 5])
    // Maximising both flips the order of the fronts: 5 alone is the best.
    expect(elite(pop, ['maximize', 'maximize'], 1).map((t) => t.number)).toEqual([5])
  })

  it('numbers generations and builds children from the parents’ values', async () => {
    const study = createStudy({
      directions: ['minimize', 'minimize'],
      space: { x: floatRange(0, 2), y: floatRange(0, 2), k: choice(['a', 'b']) },
      sampler: nsga2Sampler({ seed: 2, populationSize: 6, mutationProb: 0 }),
    })
    await study.optimize((t) => [(t.params.x as number) ** 2 + (t.params.y as number), ((t.params.x as number) - 2) ** 2 + (t.params.k === 'a' ? 0 : 1)], { nTrials: 24 })
    expect(study.trials.map((t) => t.system['nsga2:generation'])).toEqual(Array.from({ length: 24 }, (_, i) => Math.floor(i / 6)))
    // Without mutation, each child parameter is some parent's value: the first generation's values.
    const gen0 = study.trials.slice(0, 6)
    for (const t of study.trials.slice(6, 12)) for (const name of ['x', 'y', 'k']) expect(gen0.map((p) => p.params[name])).toContain(t.params[name])
  })

  it('SBX children stay inside the space and leave the parents’ values', async () => {
    const study = createStudy({
      directions: ['minimize', 'minimize'],
      space: { x: floatRange(0, 1), n: intRange(0, 10), lr: floatRange(1e-3, 1, { log: true }) },
      sampler: nsga2Sampler({ seed: 4, populationSize: 8, crossover: 'sbx', crossoverProb: 1, mutationProb: 0 }),
    })
    await study.optimize((t) => [(t.params.x as number) + (t.params.n as number), (t.params.lr as number) - (t.params.x as number)], { nTrials: 16 })
    const parents = new Set(study.trials.slice(0, 8).map((t) => t.params.x))
    const children = study.trials.slice(8)
    expect(children.every((t) => (t.params.x as number) >= 0 && (t.params.x as number) <= 1 && Number.isInteger(t.params.n) && (t.params.lr as number) >= 1e-3 && (t.params.lr as number) <= 1)).toBe(true)
    // Each gene is a blend with probability ½: among 8 children some x is new.
    expect(children.some((t) => !parents.has(t.params.x))).toBe(true)
  })

  it('improves the front over random search on a two-objective problem (median of 5 seeds)', async () => {
    const f = (x: number, y: number) => [x * x + y * y, (x - 1) ** 2 + y * y]
    const hv = async (sampler: 'nsga2' | 'random', seed: number) => {
      const study = createStudy({
        directions: ['minimize', 'minimize'],
        space: { x: floatRange(-2, 2), y: floatRange(-2, 2) },
        sampler: sampler === 'nsga2' ? nsga2Sampler({ seed, populationSize: 20 }) : randomSampler({ seed }),
      })
      await study.optimize((t) => f(t.params.x as number, t.params.y as number), { nTrials: 200 })
      return hypervolume(study.bestTrials.map((t) => [...t.values!]), [2, 2])
    }
    const median = async (s: 'nsga2' | 'random') => {
      const v: number[] = []
      for (let seed = 0; seed < 5; seed++) v.push(await hv(s, seed))
      return v.sort((a, b) => a - b)[2]!
    }
    expect(await median('nsga2')).toBeGreaterThan(await median('random'))
  })

  it('rejects bad options', () => {
    expect(() => nsga2Sampler({ populationSize: 1 })).toThrow(/populationSize must be an integer ≥ 2 \(received 1\)/)
    expect(() => nsga2Sampler({ mutationProb: 2 })).toThrow(/mutationProb must be in \[0, 1\] \(received 2\)/)
  })
})
