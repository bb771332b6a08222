// Job kinds of lib/tune, run by lib/exec on local threads or `mtflow worker` processes:
// `tune.walkForwardWindow` — one window of a walk-forward optimisation (its in-sample search and the
// winner out of sample), exactly as walkForwardOptimize runs it in its own thread; `tune.trial` — one
// trial of a study, its parameters drawn by the study before it runs; `tune.automlTrial` — an AutoML
// candidate's purged cross-validation.

import { barsOf } from '../backtest/index.js'
import type { Bars } from '../data/index.js'
import type { JobHandler } from '../exec/types.js'
import { ConfigError } from '../core/index.js'
import { loadModuleRef } from '../exec/module-ref.js'
import { loadStrategyRef, type Strategy } from '../strategy/index.js'
import { sameDistribution, describeDist } from './space.js'
import type { TrialJob, TrialJobContext, TrialJobResult } from './study.js'
import { crossValidate, type AutoMLCandidate, type AutoMLTrialContext, type CandidateScore } from './automl.js'
import { isTrialPruned, Trial } from './trial.js'
import { runWindow, type WalkForwardOptimizeOptions, type WindowJobContext, type WindowRun } from './walk-forward.js'

interface WindowState {
  options: WalkForwardOptimizeOptions
  time: Float64Array
}

const walkForwardWindow: JobHandler<WindowJobContext, WindowState, { w: number; oosStart: number }, WindowRun> = {
  prepare(context, data) {
    const strategy: Strategy<any> = loadStrategyRef(context.strategy)
    const bars: Record<string, Bars> = {}
    for (const [symbol, series] of Object.entries(data)) bars[symbol] = barsOf(series)
    const options = { ...context.options, strategy, data: bars } as WalkForwardOptimizeOptions
    return { options, time: bars[context.options.symbols[0]!]!.time }
  },
  run(state, item, context) {
    return runWindow(state.options, item.w, item.oosStart, state.time, context.space, context.nTrials, context.metric, () => undefined)
  },
}

type ObjectiveFn = (trial: Trial) => unknown

const trial: JobHandler<TrialJobContext, ObjectiveFn, TrialJob, TrialJobResult> = {
  prepare(context) {
    const mod = loadModuleRef(context.objective, 'objective')
    const found = Object.prototype.hasOwnProperty.call(mod, context.exportName) ? mod[context.exportName] : context.exportName === 'default' ? mod : undefined
    if (typeof found !== 'function') throw new ConfigError(`${context.objective.file} has no function export "${context.exportName}" (exports: ${Object.keys(mod).join(', ') || 'none'})`)
    return found as ObjectiveFn
  },
  async run(objective, job) {
    const reports: [number, number][] = []
    // The parameters were drawn before the trial: a suggestion returns the drawn value; one outside the
    // declared space (define-by-run) cannot be asked of a study that is not here.
    const host = {
      suggest: (_n: number, name: string, d: Parameters<typeof sameDistribution>[0]) => {
        const value = job.params[name]
        const drawn = job.distributions[name]
        if (value === undefined || drawn === undefined) throw new ConfigError(`param ${name} is not in the study's declared space: on an executor a trial's parameters are drawn before it runs`)
        if (!sameDistribution(drawn, d)) throw new ConfigError(`param ${name} is ${describeDist(drawn)}; it cannot be suggested as ${describeDist(d)}`)
        return value
      },
      report: (_n: number, step: number, value: number) => {
        reports.push([step, value])
      },
      shouldPrune: () => false,
    }
    try {
      const result = await objective(new Trial(job.number, job.params, job.distributions, host))
      return { outcome: { result }, reports }
    } catch (error) {
      return { outcome: isTrialPruned(error) ? { pruned: true } : { error: error instanceof Error ? error.message : String(error) }, reports }
    }
  },
}

/** One AutoML trial: a candidate model cross-validated on a strategy's searched entries. */
const automlTrial: JobHandler<{ entries: AutoMLTrialContext['entries']; splits: { train: number[]; test: number[] }[]; threshold: number }, AutoMLTrialContext, AutoMLCandidate, CandidateScore> = {
  prepare(context) {
    return { entries: context.entries, splits: context.splits.map((s) => ({ train: Int32Array.from(s.train), test: Int32Array.from(s.test) })), threshold: context.threshold }
  },
  run(state, candidate) {
    return crossValidate(candidate, state.entries, state.splits, state.threshold)
  },
}

export const jobs: Record<string, JobHandler> = { walkForwardWindow, trial, automlTrial }
