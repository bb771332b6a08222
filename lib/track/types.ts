// The tracker's records: experiments, runs (info, params, metrics, tags), metric points, artifacts and
// lineage. Times are UTC epoch milliseconds; params and tags are strings (as logged, numbers formatted
// by String()); metric values are numbers and may be NaN or ±Infinity.

import type { Lineage } from '../core/index.js'

export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED'
export const RUN_STATUSES: readonly RunStatus[] = ['RUNNING', 'FINISHED', 'FAILED', 'KILLED']

export interface Experiment {
  id: string
  name: string
  createdAt: number
}

export interface MetricPoint {
  key: string
  value: number
  step: number
  timestamp: number
}

/** A metric's latest value: the point with the highest step, the later timestamp on a tie. */
export interface LatestMetric {
  value: number
  step: number
  timestamp: number
}

export interface Artifact {
  /** Relative to the run's artifact folder, "/"-separated. */
  path: string
  sha256: string
  size: number
  timestamp: number
}

export interface RunInfo {
  runId: string
  experimentId: string
  name: string
  status: RunStatus
  startTime: number
  endTime?: number
  parentRunId?: string
  /** Where the run was made: host and process, for the heartbeat check. */
  host: string
  pid: number
  lineage: Lineage
}

export interface RunSummary {
  info: RunInfo
  params: Record<string, string>
  metrics: Record<string, LatestMetric>
  tags: Record<string, string>
}

export interface Run extends RunSummary {
  artifacts: Artifact[]
}

export type ParamValue = string | number | boolean

export interface MetricInput {
  key: string
  value: number
  step?: number
  timestamp?: number
}

/** One call's worth of logging (MLflow's log_batch): single-value logging is built on it. */
export interface LogBatch {
  metrics?: readonly MetricInput[]
  params?: Readonly<Record<string, ParamValue>>
  tags?: Readonly<Record<string, string>>
}
