// Trials in worker threads: the same trials whatever the number of workers (seeded random sampler),
// define-by-run suggestions and pruning answered across the thread boundary, failures and dead
// workers failing their trial only, and clear errors for objectives that cannot load.

import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createStudy, floatRange, medianPruner, randomSampler } from '../../lib/tune/index.js'

const FILE = join(import.meta.dirname, 'fixtures', 'objectives.ts')
const space = { x: floatRange(-3, 3), y: floatRange(-3, 3) }

describe('worker threads', () => {
  it('1 and 2 workers run the same trials for a seeded random sampler', async () => {
    const run = async (workers: number) => {
      const study = createStudy({ space, sampler: randomSampler({ seed: 11 }) })
      await study.optimize({ file: FILE, export: 'bowl' }, { nTrials: 16, workers })
      return study.trials.map((t) => ({ n: t.number, state: t.state, params: t.params, values: t.values }))
    }
    const one = await run(1)
    const two = await run(2)
    expect(two).toEqual(one)
    expect(one).toHaveLength(16)
    // Each value is the bowl at the trial's own parameters.
    for (const t of one) expect(t.values![0]).toBeCloseTo((t.params.x as number) ** 2 + (t.params.y as number) ** 2, 12)
  })

  it('answers define-by-run suggestions and pruning questions from the main thread', async () => {
    const study = createStudy({ sampler: randomSampler({ seed: 3 }), pruner: medianPruner({ nStartupTrials: 3 }) })
    await study.optimize({ file: FILE, export: 'curve' }, { nTrials: 12, workers: 2 })
    const trials = study.trials
    expect(trials).toHaveLength(12)
    for (const t of trials) {
      expect(Object.keys(t.params).sort()).toEqual(['k', 'mode', 'x'])
      expect(t.distributions.k).toEqual({ kind: 'int', low: 1, high: 3, step: 1, log: false })
      // Reports arrived for every step run: 4 for complete trials.
      if (t.state === 'complete') expect([...t.intermediate.keys()]).toEqual([0, 1, 2, 3])
    }
    // The same parameters as the seeded sampler draws in this thread.
    const here = createStudy({ sampler: randomSampler({ seed: 3 }) })
    for (let i = 0; i < 12; i++) {
      const t = here.ask()
      const p = { x: t.suggestFloat('x', -2, 2), k: t.suggestInt('k', 1, 3), mode: t.suggestCategorical('mode', ['fast', 'slow']) }
      expect(trials[i]!.params).toEqual(p)
      here.tell(t, 0)
    }
    // After 3 complete trials, a trial whose step-0 value is above the median is pruned at step 0.
    expect(trials.some((t) => t.state === 'pruned')).toBe(true)
  })

  it('fails only the trials that throw, keeping the message', async () => {
    const study = createStudy({ sampler: randomSampler({ seed: 1 }) })
    await study.optimize({ file: FILE, export: 'failing' }, { nTrials: 4, workers: 2 })
    expect(study.trials.map((t) => t.state)).toEqual(['complete', 'failed', 'complete', 'failed'])
    expect(study.trials[3]!.error).toBe('boom at trial 3')
  })

  it('fails the trial of a worker that dies and goes on with a new worker', async () => {
    const study = createStudy({ sampler: randomSampler({ seed: 1 }) })
    await study.optimize({ file: FILE, export: 'dying' }, { nTrials: 4, workers: 1 })
    expect(study.trials.map((t) => t.state)).toEqual(['complete', 'failed', 'complete', 'complete'])
    expect(study.trials[1]!.error).toMatch(/worker died: exited with code 3/)
  })

  it('takes async objectives and several objectives', async () => {
    const study = createStudy({ directions: ['minimize', 'maximize'], sampler: randomSampler({ seed: 1 }) })
    await study.optimize({ file: FILE, export: 'later' }, { nTrials: 3, workers: 2 })
    expect(study.trials.map((t) => t.values)).toEqual([
      [0, -0],
      [1, -1],
      [2, -2],
    ])
  })

  it('explains objectives that cannot load or cannot cross threads', async () => {
    const study = createStudy({ space })
    await expect(study.optimize({ file: join(import.meta.dirname, 'fixtures', 'missing.ts') }, { nTrials: 1 })).rejects.toThrow(/objective file .*missing\.ts does not exist/)
    await expect(study.optimize({ file: FILE, export: 'notAFunction' }, { nTrials: 1 })).rejects.toThrow(/has no function export "notAFunction"/)
    await expect(study.optimize({ file: FILE }, { nTrials: 1 })).rejects.toThrow(/has no function export "objective" \(exports: .*bowl/)
    await expect(study.optimize(() => 1, { nTrials: 1, workers: 2 })).rejects.toThrow(/workers: 2 needs an objective module/)
    expect(study.trials).toHaveLength(0)
  })
})
