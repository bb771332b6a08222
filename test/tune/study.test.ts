// Studies in this thread: ask/tell, best trials, failures that leave the study going, conditional
// spaces, define-by-run, enqueued trials, trials logged as child runs, and bad input → clear errors.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { Tracker } from '../../lib/track/index.js'
import { choice, createStudy, floatRange, intRange, randomSampler, TrialPruned } from '../../lib/tune/index.js'

const homes: string[] = []
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })))
const tempHome = () => {
  const h = mkdtempSync(join(tmpdir(), 'mtflow-tune-study-'))
  homes.push(h)
  return h
}

describe('ask and tell', () => {
  it('records values and picks the best by direction', () => {
    for (const direction of ['minimize', 'maximize'] as const) {
      const study = createStudy({ direction, space: { x: floatRange(0, 1) }, sampler: randomSampler({ seed: 1 }) })
      for (const v of [3, 1, 2, 1, 0.5]) study.tell(study.ask(), v === 0.5 ? { state: 'failed', error: 'told' } : v)
      const values = study.trials.map((t) => t.values?.[0])
      expect(values).toEqual([3, 1, 2, 1, undefined])
      expect(study.bestValue).toBe(direction === 'minimize' ? 1 : 3)
      expect(study.bestTrial!.number).toBe(direction === 'minimize' ? 1 : 0) // the tie of trials 1 and 3: the first
      expect(study.trials[4]!.error).toBe('told')
    }
  })

  it('fails a trial that throws, returns NaN, a wrong count or a non-number, and goes on', async () => {
    const study = createStudy({ directions: ['minimize', 'minimize'], sampler: randomSampler({ seed: 1 }) })
    const results: unknown[] = [[1, 2], 'x', [NaN, 1], [1], null, [0, 0]]
    await study.optimize(
      (trial) => {
        const r = results[trial.number]
        if (r === null) throw new Error('exploded\nwith a stack')
        return r as number[]
      },
      { nTrials: results.length },
    )
    expect(study.trials.map((t) => t.state)).toEqual(['complete', 'failed', 'failed', 'failed', 'failed', 'complete'])
    expect(study.trials.map((t) => t.error)).toEqual([undefined, 'the objective returned "x"; expected 2 numbers', 'the objective returned NaN', 'the objective returned 1 values; expected 2 numbers', 'exploded\nwith a stack', undefined])
    expect(study.bestTrials.map((t) => t.number)).toEqual([5])
    expect(() => study.bestTrial).toThrow(/has 2 objectives; use bestTrials/)
  })

  it('prunes on TrialPruned and keeps the last intermediate value', async () => {
    const study = createStudy()
    await study.optimize(
      (trial) => {
        trial.report(7, 0)
        trial.report(5, 3)
        trial.report(9, 3) // a repeated step keeps its first value
        throw new TrialPruned()
      },
      { nTrials: 1 },
    )
    const t = study.trials[0]!
    expect([t.state, t.values, t.lastStep, [...t.intermediate]]).toEqual(['pruned', [5], 3, [[0, 7], [3, 5]]])
  })

  it('refuses to tell a finished trial or report to a multi-objective study', () => {
    const study = createStudy({ directions: ['minimize', 'maximize'] })
    const t = study.ask()
    expect(() => t.report(1, 0)).toThrow(/needs a single-objective study/)
    study.tell(t, [1, 2])
    expect(() => study.tell(t, [1, 2])).toThrow(/trial 0 is already complete/)
  })
})

describe('spaces', () => {
  it('samples a conditional parameter only when its parent takes the given values', async () => {
    const study = createStudy({
      space: {
        kernel: choice(['rbf', 'linear', 'poly']),
        gamma: floatRange(1e-3, 1, { log: true, when: { kernel: 'rbf' } }),
        degree: intRange(2, 5, { when: { kernel: ['poly'] } }),
        coef: floatRange(0, 1, { when: { degree: [4, 5] } }),
      },
      sampler: randomSampler({ seed: 4 }),
    })
    await study.optimize(() => 0, { nTrials: 60 })
    const seen = new Set<string>()
    for (const { params: p } of study.trials) {
      const expected = ['kernel', ...(p.kernel === 'rbf' ? ['gamma'] : []), ...(p.kernel === 'poly' ? ['degree'] : []), ...(p.kernel === 'poly' && (p.degree as number) >= 4 ? ['coef'] : [])]
      expect(Object.keys(p)).toEqual(expected)
      seen.add(expected.join(','))
      if (p.gamma !== undefined) expect((p.gamma as number) >= 1e-3 && (p.gamma as number) <= 1).toBe(true)
    }
    expect(seen).toEqual(new Set(['kernel', 'kernel,gamma', 'kernel,degree', 'kernel,degree,coef']))
  })

  it('mixes a declared space with define-by-run; a conflicting suggestion fails the trial', async () => {
    const study = createStudy({ space: { x: floatRange(0, 1) }, sampler: randomSampler({ seed: 2 }) })
    await study.optimize(
      (trial) => {
        const x = trial.suggestFloat('x', 0, 1) // the declared value
        expect(x).toBe(trial.params.x)
        const n = trial.suggestInt('n', 1, 4)
        if (trial.number === 1) trial.suggestInt('n', 1, 5)
        return x + n
      },
      { nTrials: 2 },
    )
    expect(study.trials[0]!.state).toBe('complete')
    expect(study.trials[1]!.error).toBe('param n of trial 1 is int in [1, 4]; it cannot be suggested as int in [1, 5]')
  })

  it('runs enqueued parameter sets first', async () => {
    const study = createStudy({ space: { x: floatRange(0, 1), k: intRange(0, 9) }, sampler: randomSampler({ seed: 2 }) })
    study.enqueueTrial({ x: 0.25 })
    study.enqueueTrial({ x: 0.5, k: 3 })
    await study.optimize((t) => (t.params.x as number) + (t.params.k as number), { nTrials: 3 })
    expect(study.trials[0]!.params.x).toBe(0.25)
    expect(study.trials[1]!.params).toEqual({ x: 0.5, k: 3 })
    expect(() => study.enqueueTrial({ x: 2 })).toThrow(/enqueueTrial: x = 2 is outside its space \(float in \[0, 1\]\)/)
  })

  it('stops at the timeout', async () => {
    const study = createStudy({ space: { x: floatRange(0, 1) } })
    const started = Date.now()
    await study.optimize(() => new Promise<number>((r) => setTimeout(() => r(1), 20)), { timeout: 0.1, nTrials: 1000 })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(study.trials.length).toBeGreaterThanOrEqual(1)
    expect(study.trials.length).toBeLessThan(20)
  })
})

describe('tracking', () => {
  it('logs each trial as a child run: params, value, intermediate history, state', async () => {
    const tracker = new Tracker(tempHome())
    const parent = tracker.startRun({ experiment: 'tuning', name: 'study' })
    const study = createStudy({ name: 'tracked', space: { x: floatRange(0, 1) }, sampler: randomSampler({ seed: 9 }) })
    await study.optimize(
      (trial) => {
        trial.report(10, 0)
        trial.report(20, 1)
        if (trial.number === 1) throw new Error('no luck')
        if (trial.number === 2) throw new TrialPruned()
        return trial.params.x as number
      },
      { nTrials: 3, run: parent },
    )
    parent.end()
    const children = tracker.childRuns(parent.id).sort((a, b) => Number(a.tags['mtflow.tune.trial']) - Number(b.tags['mtflow.tune.trial']))
    expect(children.map((c) => c.info.status)).toEqual(['FINISHED', 'FAILED', 'KILLED'])
    expect(children.map((c) => c.tags['mtflow.tune.state'])).toEqual(['complete', 'failed', 'pruned'])
    expect(children[0]!.params.x).toBe(String(study.trials[0]!.params.x))
    expect(children[0]!.metrics.value!.value).toBe(study.trials[0]!.params.x)
    expect(children[1]!.tags['mtflow.error']).toBe('no luck')
    expect(tracker.metricHistory(children[2]!.info.runId, 'intermediate').map((p) => [p.step, p.value])).toEqual([[0, 10], [1, 20]])
    expect(tracker.getRun(parent.id).metrics.best_value!.value).toBe(study.bestValue)
  })
})

describe('bad input', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['direction', () => createStudy({ direction: 'up' as never }), /a direction must be "minimize" or "maximize" \(received "up"\)/],
    ['both', () => createStudy({ direction: 'minimize', directions: ['minimize'] }), /give direction or directions, not both/],
    ['empty directions', () => createStudy({ directions: [] }), /non-empty list/],
    ['low > high', () => createStudy({ space: { lr: floatRange(1, 0.1) } }), /^param lr: low must be ≤ high \(received low 1, high 0.1\)$/],
    ['log low', () => createStudy({ space: { lr: floatRange(0, 1, { log: true }) } }), /^param lr: a log range needs low > 0 \(received low 0\)$/],
    ['empty choices', () => createStudy({ space: { k: choice([]) } }), /^param k: choices must be a non-empty list \(received \[\]\)$/],
    ['fractional int', () => createStudy({ space: { n: intRange(1.5, 4) } }), /param n: int bounds must be integers \(received low 1.5, high 4\)/],
    ['zero step', () => createStudy({ space: { x: floatRange(0, 1, { step: 0 }) } }), /param x: step must be a number > 0 \(received 0\)/],
    ['log step', () => createStudy({ space: { n: intRange(1, 9, { log: true, step: 2 }) } }), /param n: a log int range takes step 1 \(received step 2\)/],
    ['parent later', () => createStudy({ space: { g: floatRange(0, 1, { when: { k: 'a' } }), k: choice(['a']) } }), /param g: its condition names k, which must be declared before g/],
    ['parent value', () => createStudy({ space: { k: choice(['a', 'b']), g: floatRange(0, 1, { when: { k: 'c' } }) } }), /param g: condition k = "c" is not a value of k \(one of "a", "b"\)/],
    ['float parent', () => createStudy({ space: { k: floatRange(0, 1), g: floatRange(0, 1, { when: { k: 0.5 } }) } }), /condition parent k must be a categorical or int parameter/],
    ['seed and sampler', () => createStudy({ seed: 1, sampler: randomSampler() }), /seed seeds the default sampler/],
    ['pruner with two objectives', () => createStudy({ directions: ['minimize', 'minimize'], pruner: { name: 'x', prune: () => false } }), /pruning needs one objective/],
    ['storage', () => createStudy({ name: 's', storage: 'disk' as never }), /storage must be "memory", "workspace" or \{ home: directory \}/],
    ['workspace without a name', () => createStudy({ storage: { home: tmpdir() } }), /a workspace study needs a name/],
    ['name', () => createStudy({ name: '../evil' }), /study name must be 1–100 letters/],
    ['sampler seed', () => randomSampler({ seed: 1.5 }), /randomSampler seed must be an integer \(received 1.5\)/],
  ]
  for (const [what, make, message] of cases) {
    it(`${what} → ConfigError`, () => {
      expect(make).toThrow(ConfigError)
      expect(make).toThrow(message)
    })
  }

  it('optimize options', async () => {
    const study = createStudy({ space: { x: floatRange(0, 1) } })
    await expect(study.optimize(() => 1, { nTrials: 0 })).rejects.toThrow(/nTrials must be an integer ≥ 1 \(received 0\)/)
    await expect(study.optimize(() => 1, { timeout: -1 })).rejects.toThrow(/timeout must be a number of seconds > 0 \(received -1\)/)
    await expect(study.optimize(() => 1)).rejects.toThrow(/optimize needs nTrials or timeout/)
    await expect(study.optimize(() => 1, { nTrials: 1, workers: 0 })).rejects.toThrow(/workers must be an integer in \[1, 256\] \(received 0\)/)
  })
})
