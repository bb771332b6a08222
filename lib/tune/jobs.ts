// Job kinds of lib/tune, run by lib/exec on local threads or `mtflow worker` processes:
// `tune.walkForwardWindow` — one window of a walk-forward optimisation (its in-sample search and the
// winner out of sample), exactly as walkForwardOptimize runs it in its own thread.

import { barsOf } from '../backtest/index.js'
import type { Bars } from '../data/index.js'
import type { JobHandler } from '../exec/types.js'
import { loadStrategyRef, type Strategy } from '../strategy/index.js'
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

export const jobs: Record<string, JobHandler> = { walkForwardWindow }
