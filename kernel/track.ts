// The notebook's active run (MLflow's fluent API; STYLE keeps this global convenience in kernel/ only):
//   track.start('sma grid') … track.log({ sharpe }) … track.backtest(result, { … }) … track.end()
// Under `mtflow notebook run --track` a run started here is a child of the notebook's run (the runner
// passes MTFLOW_PARENT_RUN_ID, MTFLOW_NOTEBOOK and MTFLOW_NOTEBOOK_SHA256 to the kernel).
// Loaded by tslab (CommonJS, TypeScript 5.0): no import.meta, no top-level await.

import { readFileSync } from 'node:fs'
import { gitCommit, resolveHome, type Lineage } from '../lib/core/index.js'
import { logBacktest, logSweep, type BacktestResult, type SweepResult } from '../lib/backtest/index.js'
import { openTracker, type ActiveRun, type Artifact, type ParamValue, type RunInfo, type RunStatus, type Tracker } from '../lib/track/index.js'

let active: ActiveRun | undefined
let tracker: Tracker | undefined
let exitHook = false

export interface StartOptions {
  /** Default: the notebook run's experiment under --track, else "notebooks". */
  experiment?: string
  params?: Record<string, ParamValue>
  tags?: Record<string, string>
  /** Extra lineage: the data snapshots read, the strategy source (see backtestLineage). */
  lineage?: Lineage
}

function theTracker(): Tracker {
  // openTracker: the server's store when MTFLOW_TRACKING_URI is set, as for the CLI. A local Tracker here
  // recorded a notebook's runs away from the notebook run `notebook run --track` made on the server (and
  // track.start could not find that parent run: "unknown run").
  tracker ??= openTracker(resolveHome())
  return tracker
}

/**
 * How the headless runner ended the notebook, when it did not end ok: it writes FAILED or KILLED to the
 * file MTFLOW_NOTEBOOK_OUTCOME names before it shuts the kernel down (kernel/runner.ts). A run still open
 * then was cut off by the failed or interrupted cell; it must not read FINISHED.
 */
function runnerOutcome(): RunStatus | undefined {
  const file = process.env.MTFLOW_NOTEBOOK_OUTCOME
  if (file === undefined || file === '') return undefined
  try {
    const text = readFileSync(file, 'utf8').trim()
    return text === 'FAILED' || text === 'KILLED' ? text : undefined
  } catch {
    return undefined // no file: not the headless runner's kernel, or it ran through (FINISHED)
  }
}

function current(): ActiveRun {
  if (active === undefined) throw new Error('no active run: call track.start(name) first')
  return active
}

export const track = {
  /** Start the active run (ending the previous one as FINISHED). */
  start(name: string, options: StartOptions = {}): ActiveRun {
    if (active !== undefined) track.end()
    const t = theTracker()
    const parentRunId = process.env.MTFLOW_PARENT_RUN_ID
    const experiment = options.experiment ?? (parentRunId !== undefined && parentRunId !== '' ? t.getExperiment(t.getRun(parentRunId).info.experimentId).name : 'notebooks')
    const notebook = process.env.MTFLOW_NOTEBOOK
    const commit = gitCommit()
    active = t.startRun({
      experiment,
      name,
      params: options.params,
      tags: { 'mtflow.source': 'notebook', ...options.tags },
      ...(parentRunId !== undefined && parentRunId !== '' ? { parentRunId } : {}),
      lineage: {
        ...(notebook !== undefined && notebook !== '' ? { notebook: { path: notebook, sha256: process.env.MTFLOW_NOTEBOOK_SHA256 ?? '' } } : {}),
        ...(commit === undefined ? {} : { gitCommit: commit }),
        ...options.lineage,
      },
    })
    if (!exitHook) {
      // A kernel shut down with a run still open: it ends FINISHED, or FAILED / KILLED when the headless
      // runner stopped the notebook at a failed or interrupted cell (a killed kernel's run is marked FAILED
      // by the heartbeat check instead).
      process.once('exit', () => {
        if (active === undefined) return
        const outcome = runnerOutcome()
        try {
          if (outcome !== undefined) active.setTag('mtflow.failure', `still open when the notebook run stopped (${outcome === 'KILLED' ? 'interrupted' : 'a cell failed'})`)
          active.end(outcome ?? 'FINISHED')
        } catch (error) {
          // A tracking server gone (MTFLOW_TRACKING_URI) or a full disk: one line, not a stack trace that also
          // skips the other exit hooks (the remote tracker's flush of what other runs buffered).
          process.stderr.write(`mtflow: run ${active.id} could not be ended at kernel exit: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`)
        }
      })
      exitHook = true
    }
    return active
  },

  /** End the active run. */
  end(status: RunStatus = 'FINISHED'): RunInfo | undefined {
    const run = active
    active = undefined
    return run?.end(status)
  },

  /** The active run, if any. */
  get run(): ActiveRun | undefined {
    return active
  },

  log(metrics: Record<string, number>, step?: number): void {
    current().logMetrics(metrics, step)
  },

  param(key: string, value: ParamValue): void {
    current().logParam(key, value)
  },

  params(values: Record<string, ParamValue>): void {
    current().logParams(values)
  },

  tag(key: string, value: string): void {
    current().setTag(key, value)
  },

  artifact(name: string, data: string | Uint8Array): Artifact {
    return current().logArtifact({ name, data })
  },

  /** Log a backtest's params, metrics, curves and files into the active run. */
  backtest(result: BacktestResult, options: { params: Record<string, unknown>; config?: Record<string, unknown> }): void {
    logBacktest(current(), result, options)
  },

  /** Log a sweep into the active run: the grid and best set, and one child run per parameter set. */
  sweep(result: SweepResult, options: { grid: Record<string, unknown>; config?: Record<string, unknown> }): string[] {
    return logSweep(current(), result, options)
  },
}
