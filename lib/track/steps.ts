// Pipeline steps (issue 20): a step — screen, features, dataset, train, … — is a tracked run tagged
// `mtflow.kind = <step>` whose tables are Parquet artifacts described by a manifest (columns, rows, time
// range, sha256 of each file), whose inputs are earlier steps' runs or lake data (lineage, by content hash),
// and whose key — the hash of the step, its inputs, its params and the step code's version — lets the same
// step over the same inputs be reused instead of run again. The tables' bytes come from the caller (lib/data
// writes Parquet); this module only names, hashes, records and finds.

import { canonicalJson, ConfigError, NotFoundError, sha256 } from '../core/index.js'
import type { Tracker } from './store.js'
import { searchRuns } from './search.js'

/** Bump when a step's output for the same inputs and params changes (old runs are then not reused). */
export const STEP_CODE_VERSION = 1

/** What a step read: another step's run, or a lake dataset ("source/symbol/timeframe"), by content hash. */
export interface StepInput {
  kind: 'run' | 'data'
  ref: string
  sha256: string
}

export interface StepColumn {
  name: string
  type: 'number' | 'text' | 'flag' | 'time'
}

export interface StepTable {
  name: string
  /** The artifact holding it (e.g. "pairs.parquet"). */
  file: string
  rows: number
  columns: StepColumn[]
  /** First and last value of its `time` column (ISO), when it has one with values. */
  timeRange?: [string, string]
  sha256: string
}

export interface StepManifest {
  step: string
  key: string
  inputs: StepInput[]
  params: Record<string, unknown>
  tables: StepTable[]
}

/** The key of a step over these inputs with these params: equal keys, equal outputs. */
export function stepKey(step: string, inputs: readonly StepInput[], params: Readonly<Record<string, unknown>>): string {
  return sha256(canonicalJson({ step, inputs: [...inputs].sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0)), params, version: STEP_CODE_VERSION }))
}

/** The finished run of `step` with `key`, when there is one (newest first). */
export function findStep(tracker: Tracker, step: string, key: string): string | undefined {
  const found = searchRuns(tracker, { filter: `tags.mtflow.step.key = "${key}"`, maxResults: 10 })
  for (const run of found.runs) {
    if (run.info.status === 'FINISHED' && run.tags['mtflow.kind'] === step) return run.info.runId
  }
  return undefined
}

/** A finished run of the given step kind (a run id given to a step as its input), else a one-line error. */
export function stepRun(tracker: Tracker, runId: string, kinds: readonly string[], option: string): { runId: string; manifest: StepManifest } {
  let run: ReturnType<Tracker['getRun']>
  try {
    run = tracker.getRun(runId)
  } catch (error) {
    if (error instanceof NotFoundError) throw new ConfigError(`${option} ${runId}: no such run; expected the run id of a ${kinds.join(' or ')} step`)
    throw error
  }
  const kind = run.tags['mtflow.kind']
  if (kind === undefined || !kinds.includes(kind)) throw new ConfigError(`${option} ${runId} is a ${kind ?? 'untagged'} run; expected the run id of a ${kinds.join(' or ')} step`)
  if (run.info.status !== 'FINISHED') throw new ConfigError(`${option} ${runId} is ${run.info.status}; expected a finished ${kind} step`)
  if (!run.artifacts.some((a) => a.path === 'manifest.json')) throw new ConfigError(`${option} ${runId} has no manifest.json; expected a ${kinds.join(' or ')} step's run`)
  const manifest = JSON.parse(tracker.readArtifact(runId, 'manifest.json').bytes.toString('utf8')) as StepManifest
  return { runId, manifest }
}

/** A table's manifest entry from its columns (as written) and its Parquet bytes. */
export function describeTable(name: string, file: string, columns: Readonly<Record<string, ArrayLike<unknown>>>, bytes: Uint8Array): StepTable {
  const names = Object.keys(columns)
  const rows = names.length === 0 ? 0 : columns[names[0]!]!.length
  const cols: StepColumn[] = names.map((n) => {
    const c = columns[n]!
    const type: StepColumn['type'] = n === 'time' && c instanceof Float64Array ? 'time' : c instanceof Float64Array ? 'number' : c.length > 0 && typeof c[0] === 'boolean' ? 'flag' : 'text'
    return { name: n, type }
  })
  const table: StepTable = { name, file, rows, columns: cols, sha256: sha256(bytes) }
  const time = columns.time
  if (time instanceof Float64Array && time.length > 0) {
    let lo = Infinity
    let hi = -Infinity
    for (const t of time) {
      if (t < lo) lo = t
      if (t > hi) hi = t
    }
    if (lo <= hi) table.timeRange = [new Date(lo).toISOString(), new Date(hi).toISOString()]
  }
  return table
}

/** A train run's chain of steps — the train run, the dataset run it read and that dataset's features run — each checked by kind. */
export function trainChain(tracker: Tracker, trainRun: string, option = 'the train run'): { train: StepRun; datasetRun: string; dataset: StepRun; featuresRun: string; features: StepRun } {
  const train = stepRun(tracker, trainRun, ['train'], option)
  const datasetRun = train.manifest.inputs.find((i) => i.kind === 'run')!.ref
  const dataset = stepRun(tracker, datasetRun, ['dataset'], `train run ${trainRun}'s dataset`)
  const featuresRun = dataset.manifest.inputs.find((i) => i.kind === 'run')!.ref
  const features = stepRun(tracker, featuresRun, ['features'], `dataset run ${datasetRun}'s features`)
  return { train, datasetRun, dataset, featuresRun, features }
}

type StepRun = ReturnType<typeof stepRun>
