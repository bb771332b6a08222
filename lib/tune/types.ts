// The tuner's shared shapes: directions, trial states and records, the read-only view of a study that
// samplers and pruners get, and the two plug-in contracts (Sampler, Pruner). No logic lives here.

import type { Distribution, ParamValue, ParamSet, Space } from './space.js'

export type Direction = 'minimize' | 'maximize'

/** running → complete | pruned | failed; a trial never leaves a finished state. */
export type TrialState = 'running' | 'complete' | 'pruned' | 'failed'

/** Who runs a trial: a crashed owner's running trials are failed and re-queued when the study is opened. */
export interface TrialOwner {
  host: string
  pid: number
  /** One per Study object: tells two studies of one process apart. */
  session: string
  /** The process's start (clock ticks since boot, from /proc on Linux): a reused pid has another. */
  start?: string
}

/** One trial as stored (Optuna's FrozenTrial). Times are epoch milliseconds. */
export interface TrialRecord {
  readonly number: number
  readonly state: TrialState
  readonly params: Readonly<ParamSet>
  readonly distributions: Readonly<Record<string, Distribution>>
  /** One value per objective; for a pruned trial, its last intermediate value (when finite). */
  readonly values: readonly number[] | undefined
  /** step → intermediate value, as reported. */
  readonly intermediate: ReadonlyMap<number, number>
  readonly lastStep: number | undefined
  /** Sampler and pruner bookkeeping: grid point, NSGA-II generation, successive-halving rungs. */
  readonly system: Readonly<Record<string, unknown>>
  /** Parameters it was enqueued with (enqueueTrial, or a crashed trial's re-run). */
  readonly fixed: Readonly<ParamSet> | undefined
  readonly startedAt: number
  readonly finishedAt: number | undefined
  readonly error: string | undefined
  readonly owner: TrialOwner | undefined
}

/** The study as a sampler or pruner sees it. */
export interface StudyView {
  readonly name: string
  readonly directions: readonly Direction[]
  /** Every trial, indexed by number. */
  readonly trials: readonly TrialRecord[]
  /** Grows whenever a trial finishes: samplers key their caches on it. */
  readonly finishedCount: number
  /** The declared space, when the study has one. */
  readonly space: Space | undefined
  setSystem(trial: number, key: string, value: unknown): void
}

export interface Sampler {
  readonly name: string
  /** Throws a ConfigError if the sampler cannot serve these objectives. */
  check?(directions: readonly Direction[]): void
  /**
   * Values for several parameters at once, when the trial starts (grid points, NSGA-II children).
   * Parameters it leaves out are sampled one by one with sampleIndependent.
   */
  sampleRelative?(study: StudyView, trial: TrialRecord): ParamSet
  sampleIndependent(study: StudyView, trial: TrialRecord, name: string, distribution: Distribution): ParamValue
  /** True when there is nothing left to propose (a finished grid): optimize stops asking. */
  isExhausted?(study: StudyView): boolean
}

export interface Pruner {
  readonly name: string
  /** Whether the trial, after its latest report, should stop. */
  prune(study: StudyView, trial: TrialRecord): boolean
}
