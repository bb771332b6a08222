// Trials in worker threads: the same trials whatever the number of workers (seeded random sampler),
// define-by-run suggestions and pruning answered across the thread boundary, failures and dead
// workers failing their trial only, and clear errors for objectives that cannot load.

import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createStudy, floatRange, intRange, choice, medianPruner, randomSampler } from '../../lib/tune/index.js'
import { LocalExecutor } from '../../lib/exec/index.js'

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

describe('trials as jobs on an executor', () => {
  it('runs the same trials as one thread does, in waves, with their reports and failures', async () => {
    const executor = new LocalExecutor(2)
    const run = async (on: boolean, exportName: string, extra: object = {}) => {
      const study = createStudy({ space: { x: floatRange(-2, 2), k: intRange(1, 3), mode: choice(['fast', 'slow']) }, sampler: randomSampler({ seed: 5 }), ...extra })
      await study.optimize({ file: FILE, export: exportName }, { nTrials: 7, workers: on ? 3 : 1, ...(on ? { executor } : {}) })
      return study.trials.map((t) => ({ n: t.number, state: t.state, params: t.params, values: t.values, error: t.error, steps: [...t.intermediate.entries()] }))
    }
    const here = await run(false, 'curve')
    const there = await run(true, 'curve')
    expect(there).toEqual(here)
    expect(here).toHaveLength(7)
    // Every step's report arrived (no pruner here): 4 per trial, the value of the curve at that step.
    for (const t of there) expect(t.steps.map(([step, v]) => [step, v])).toEqual([0, 1, 2, 3].map((step) => [step, (t.params.x as number) ** 2 + (t.params.k as number) + (t.params.mode === 'slow' ? 1 : 0) + 1 / (step + 1)]))
    const failing = await run(true, 'failing')
    expect(failing.map((t) => t.state)).toEqual(['complete', 'failed', 'complete', 'failed', 'complete', 'failed', 'complete'])
    expect(failing[3]!.error).toBe('boom at trial 3')
    // A thread that dies fails its trial only.
    const dying = await run(true, 'dying')
    expect(dying.map((t) => t.state)).toEqual(['complete', 'failed', 'complete', 'complete', 'complete', 'complete', 'complete'])
    expect(dying[1]!.error).toMatch(/job thread died: exited with code 3/)
    await executor.close()
  })

  it('needs a declared space and an objective module', async () => {
    const executor = new LocalExecutor(2)
    await expect(createStudy({}).optimize({ file: FILE, export: 'curve' }, { nTrials: 2, executor })).rejects.toThrow('needs a declared space')
    await expect(createStudy({ space }).optimize(() => 1, { nTrials: 2, executor })).rejects.toThrow('needs an objective module')
    // A define-by-run suggestion outside the declared space fails its trial, saying why.
    const study = createStudy({ space: { x: floatRange(-2, 2) }, sampler: randomSampler({ seed: 1 }) })
    await study.optimize({ file: FILE, export: 'curve' }, { nTrials: 1, executor })
    expect(study.trials[0]!.error).toMatch(/param k is not in the study's declared space/)
  })
})
