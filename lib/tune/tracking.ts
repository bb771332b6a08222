// Trials as child runs of a tracking run: each trial starts a child (its declared parameters, study and
// trial number as tags), logs its intermediate values as the "intermediate" metric's history, and ends
// with its value(s), every parameter and its state (complete → FINISHED, pruned → KILLED, failed → FAILED).

import type { ActiveRun, RunStatus } from '../track/index.js'
import type { Direction, TrialRecord } from './types.js'

const STATUS: Record<string, RunStatus> = { complete: 'FINISHED', pruned: 'KILLED', failed: 'FAILED' }

export class TrialRuns {
  private readonly runs = new Map<number, ActiveRun>()

  constructor(
    readonly parent: ActiveRun,
    private readonly study: string,
    private readonly directions: readonly Direction[],
  ) {}

  start(trial: TrialRecord): void {
    if (this.runs.has(trial.number)) return
    const run = this.parent.child({
      name: `trial ${trial.number}`,
      params: trial.params,
      tags: { 'mtflow.tune.study': this.study, 'mtflow.tune.trial': String(trial.number), 'mtflow.tune.state': 'running' },
    })
    this.runs.set(trial.number, run)
  }

  report(trial: number, step: number, value: number): void {
    this.runs.get(trial)?.logMetric('intermediate', value, step)
  }

  finish(trial: TrialRecord): void {
    const run = this.runs.get(trial.number)
    if (run === undefined) return
    this.runs.delete(trial.number)
    const metrics: { key: string; value: number }[] = []
    if (trial.values !== undefined) {
      if (this.directions.length === 1) metrics.push({ key: 'value', value: trial.values[0]! })
      else trial.values.forEach((value, k) => metrics.push({ key: `value_${k}`, value }))
    }
    run.logBatch({ params: trial.params, metrics, tags: { 'mtflow.tune.state': trial.state } })
    if (trial.state === 'failed') run.fail(trial.error ?? 'failed')
    else run.end(STATUS[trial.state] ?? 'FINISHED')
  }

  /** The parent's summary after an optimize call: the best value(s) at step = trials so far. */
  summarize(best: readonly TrialRecord[], trials: number): void {
    if (best.length === 0) return
    if (this.directions.length === 1) this.parent.logMetric('best_value', best[0]!.values![0]!, trials)
    else this.parent.logMetric('pareto_size', best.length, trials)
  }
}
