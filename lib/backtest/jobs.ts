// Job kinds of lib/backtest, run by lib/exec on local threads or `mtflow worker` processes:
// `backtest.sweep` — a chunk of a sweep's parameter sets, each set's metrics (or its error) in order.

import type { Bars } from '../data/index.js'
import type { JobHandler } from '../exec/types.js'
import { indicatorCache, indicatorSource, loadStrategyRef, type IndicatorCompute, type Strategy } from '../strategy/index.js'
import { barsOf } from './series.js'
import { setOutcome, type SetOutcome, type SweepJobContext } from './sweep.js'

interface SweepState {
  strategy: Strategy<any>
  bars: Bars
  indicator: IndicatorCompute
}

const sweep: JobHandler<SweepJobContext, SweepState, { sets: Record<string, number>[] }, SetOutcome[]> = {
  prepare(context, data) {
    const bars = barsOf(data.bars!)
    return { strategy: loadStrategyRef(context.strategy), bars, indicator: indicatorSource(bars, indicatorCache(context.options.cacheBytes)) }
  },
  run(state, item, context) {
    return item.sets.map((set) => setOutcome(state.strategy, set, state.bars, context.options, context.engine, state.indicator, context.periodsPerYear))
  },
}

export const jobs: Record<string, JobHandler> = { sweep }
