// Pruner decisions on hand-built histories (Optuna semantics), worked out by hand in the comments:
// the median pruner's startup, warm-up, interval and best-so-far rules, and successive-halving rungs.

import { describe, expect, it } from 'vitest'
import { createStudy, medianPruner, percentilePruner, successiveHalvingPruner, TrialPruned } from '../../lib/tune/index.js'
import type { Pruner, Study } from '../../lib/tune/index.js'

/** A study whose complete trials reported these curves (steps 0, 1, 2, …). */
function history(pruner: Pruner, curves: number[][], direction: 'minimize' | 'maximize' = 'minimize'): Study {
  const study = createStudy({ direction, pruner })
  for (const curve of curves) {
    const t = study.ask()
    curve.forEach((v, step) => t.report(v, step))
    study.tell(t, curve[curve.length - 1]!)
  }
  return study
}

/** Report `curve` on a new trial and return shouldPrune() after the last report. */
function decide(study: Study, curve: [number, number][]): boolean {
  const t = study.ask()
  for (const [step, v] of curve) t.report(v, step)
  const verdict = t.shouldPrune()
  study.tell(t, { state: 'pruned' })
  return verdict
}

describe('median pruner', () => {
  // Completed curves: step 0 → 10, 12, 11 (median 11); step 1 → 8, 9, 7 (median 8); step 2 → 6, 5, 4 (median 5).
  const curves = [
    [10, 8, 6],
    [12, 9, 5],
    [11, 7, 4],
  ]

  it('prunes a trial whose best value so far is worse than the median at its step', () => {
    const s = history(medianPruner({ nStartupTrials: 3 }), curves)
    expect(decide(s, [[0, 11.5]])).toBe(true) // 11.5 > 11
    expect(decide(s, [[0, 10.5]])).toBe(false) // 10.5 < 11
    expect(decide(s, [[0, 11]])).toBe(false) // equal to the median: kept
    // Best so far counts, not the latest: [9, 9.5] has best 9 > median 8 at step 1 → pruned;
    // [7.5, 9.5] has best 7.5 < 8 → kept even though 9.5 is worse than the median.
    expect(decide(s, [[0, 9], [1, 9.5]])).toBe(true)
    expect(decide(s, [[0, 7.5], [1, 9.5]])).toBe(false)
  })

  it('waits for nStartupTrials completed trials and nWarmupSteps', () => {
    expect(decide(history(medianPruner({ nStartupTrials: 4 }), curves), [[0, 100]])).toBe(false)
    const warm = history(medianPruner({ nStartupTrials: 3, nWarmupSteps: 1 }), curves)
    expect(decide(warm, [[0, 100]])).toBe(false) // step 0 < warm-up 1
    expect(decide(warm, [[0, 100], [1, 100]])).toBe(true)
  })

  it('checks only at the first report of each interval', () => {
    // intervalSteps 2 from warm-up 0: check points 0, 2, 4. Step-3 median of the completed trials is 3.
    const s = history(medianPruner({ nStartupTrials: 3, intervalSteps: 2 }), curves.map((c) => [...c, 3]))
    // Step 1 after step 0: check point 0 was covered by step 0, so no check (a check would prune: best
    // 10.9 > median 8 at step 1).
    expect(decide(s, [[0, 10.9], [1, 100]])).toBe(false)
    expect(decide(s, [[0, 100], [2, 100]])).toBe(true)
    // Step 3 after step 2: no check, though best 4.9 > 3; step 3 after step 1 is the first report since
    // check point 2, so it is checked and pruned.
    expect(decide(s, [[2, 4.9], [3, 6]])).toBe(false)
    expect(decide(s, [[1, 4.9], [3, 6]])).toBe(true)
  })

  it('averages the two middle values of an even count, and mirrors for maximisation', () => {
    // Step 0 values 10, 12, 11, 13: median 11.5.
    const even = history(medianPruner({ nStartupTrials: 1 }), [...curves, [13, 1, 1]])
    expect(decide(even, [[0, 11.6]])).toBe(true)
    expect(decide(even, [[0, 11.4]])).toBe(false)
    const max = history(medianPruner({ nStartupTrials: 1 }), curves, 'maximize')
    expect(decide(max, [[0, 10.5]])).toBe(true) // below the median 11 when larger is better
    expect(decide(max, [[0, 11.5]])).toBe(false)
  })

  it('percentile 25 keeps only the best quarter; a NaN-only trial is pruned', () => {
    // Step 0 values 10, 11, 12 → 25th percentile (linear) = 10.5.
    const s = history(percentilePruner(25, { nStartupTrials: 1 }), curves)
    expect(decide(s, [[0, 10.6]])).toBe(true)
    expect(decide(s, [[0, 10.4]])).toBe(false)
    expect(decide(s, [[0, NaN]])).toBe(true)
  })

  it('prunes trials in optimize when the objective asks', async () => {
    // Trials 0–4 complete; later trials whose curve starts above the median are pruned at step 0.
    const study = createStudy({ pruner: medianPruner({ nStartupTrials: 5 }) })
    const starts = [5, 6, 7, 8, 9, 100, 1, 100]
    await study.optimize(
      (trial) => {
        const start = starts[trial.number]!
        for (let step = 0; step < 3; step++) {
          trial.report(start - step, step)
          if (trial.shouldPrune()) throw new TrialPruned()
        }
        return start - 3
      },
      { nTrials: starts.length },
    )
    expect(study.trials.map((t) => t.state)).toEqual(['complete', 'complete', 'complete', 'complete', 'complete', 'pruned', 'complete', 'pruned'])
    expect(study.trials[5]!.values).toEqual([100]) // a pruned trial keeps its last intermediate value
  })

  it('rejects bad options', () => {
    expect(() => percentilePruner(120)).toThrow(/percentile must be in \[0, 100\] \(received 120\)/)
    expect(() => medianPruner({ intervalSteps: 0 })).toThrow(/intervalSteps must be an integer ≥ 1 \(received 0\)/)
  })
})

describe('successive halving', () => {
  it('promotes through rungs at steps 1, 2, 4 (η = 2) as worked by hand', () => {
    const pruner = successiveHalvingPruner({ minResource: 1, reductionFactor: 2 })
    const study = createStudy({ pruner })
    const run = (curve: [number, number][]) => {
      const t = study.ask()
      const verdicts = curve.map(([step, v]) => {
        t.report(v, step)
        return t.shouldPrune()
      })
      study.tell(t, { state: 'pruned' })
      return verdicts
    }
    // A: alone at each rung → promoted (the best of fewer than η values is promoted).
    expect(run([[1, 5], [2, 4], [4, 3]])).toEqual([false, false, false])
    // B: rung 0 values {5, 6}: keep ⌊2/2⌋ = 1 best → 5; 6 is pruned.
    expect(run([[1, 6]])).toEqual([true])
    // C: rung 0 {5, 6, 4}: best 1 → 4, promoted; rung 1 (step 2) {4, 4.5}: best 1 → 4; 4.5 pruned.
    expect(run([[1, 4], [2, 4.5]])).toEqual([false, true])
    // D: rung 0 {5, 6, 4, 4.8}: best 2 → 4, 4.8 → promoted; rung 1 {4, 4.5, 3.9}: best 1 → 3.9 → promoted;
    // rung 2 is at step 4, so step 2 goes no further.
    expect(run([[1, 4.8], [2, 3.9]])).toEqual([false, false])
    const rung = (n: number) => Object.fromEntries(Object.entries(study.trials[n]!.system).filter(([k]) => k.startsWith('sh:rung')))
    expect(rung(0)).toEqual({ 'sh:rung0': 5, 'sh:rung1': 4, 'sh:rung2': 3 })
    expect(rung(3)).toEqual({ 'sh:rung0': 4.8, 'sh:rung1': 3.9 })
  })

  it('min early-stopping rate moves the first rung; auto min resource waits for a completed trial', () => {
    // rate 1, η 3, minResource 2: first rung at 2·3 = 6.
    const study = createStudy({ pruner: successiveHalvingPruner({ minResource: 2, reductionFactor: 3, minEarlyStoppingRate: 1 }) })
    const a = study.ask()
    a.report(1, 5)
    expect(a.shouldPrune()).toBe(false)
    expect(a.distributions).toEqual({})
    a.report(1, 6)
    expect(a.shouldPrune()).toBe(false)
    expect(study.trials[0]!.system['sh:rung0']).toBe(1)
    const auto = createStudy({ pruner: successiveHalvingPruner() })
    const t = auto.ask()
    t.report(1e9, 500)
    expect(t.shouldPrune()).toBe(false) // no completed trial: the minimum resource is unknown
  })
})
