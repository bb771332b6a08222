// Running a pipeline step (issue 20): the same step over the same inputs with the same params is the
// run that holds it already (reused, not run again); otherwise its tables are computed, written as Parquet
// artifacts with a manifest, and the run is recorded in the "pipeline" experiment with its lineage. The
// next step takes the run id (stepRun checks its kind) and reads its tables back (readStepTable).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '../core/index.js'
import { readTable, tableParquet, type TableColumn } from '../data/index.js'
import { describeTable, findStep, stepKey, stepRun, type ParamValue, type StepInput, type StepManifest, openTracker } from '../track/index.js'

export interface StepSpec {
  home: string
  /** The step's kind (the run's mtflow.kind tag), e.g. "pairs-screen", "features". */
  step: string
  /** The run's name. */
  name: string
  inputs: readonly StepInput[]
  /** Everything that decides the output besides the inputs (JSON values). */
  params: Record<string, unknown>
  /** The tables, by name (computed only when the step is not reused). */
  compute: () => Promise<Record<string, Record<string, TableColumn>>> | Record<string, Record<string, TableColumn>>
  /** Summary numbers logged as metrics. */
  metrics?: (tables: Record<string, Record<string, TableColumn>>) => Record<string, number>
  /** Other artifacts the step leaves (e.g. model packages), after its tables were computed. */
  files?: () => Record<string, string | Uint8Array>
}

export interface StepResult {
  runId: string
  reused: boolean
  manifest: StepManifest
}

/** Flat run params from a step's params (arrays joined, objects as JSON, null left out). */
function flatParams(params: Record<string, unknown>): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {}
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined) continue
    out[k] = typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : Array.isArray(v) ? v.join(',') : JSON.stringify(v)
  }
  return out
}

/** The artifact file a table is stored in: its name when that is a plain file name, else its position (a pair "A/B~C/D"). */
const fileOf = (name: string, k: number) => (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) && name !== 'manifest' ? `${name}.parquet` : `table-${k + 1}.parquet`)

export async function runStep(spec: StepSpec): Promise<StepResult> {
  const tracker = openTracker(spec.home)
  const key = stepKey(spec.step, spec.inputs, spec.params)
  const found = findStep(tracker, spec.step, key)
  if (found !== undefined) return { runId: found, reused: true, manifest: stepRun(tracker, found, [spec.step], 'the reused step').manifest }
  const tables = await spec.compute()
  const names = Object.keys(tables)
  if (names.length === 0) throw new ConfigError(`${spec.step}: nothing to write (no tables)`)
  const bytes = await Promise.all(names.map((n) => tableParquet(tables[n]!)))
  const manifest: StepManifest = { step: spec.step, key, inputs: [...spec.inputs], params: spec.params, tables: names.map((n, k) => describeTable(n, fileOf(n, k), tables[n]!, bytes[k]!)) }
  const run = tracker.startRun({
    experiment: 'pipeline',
    name: spec.name,
    params: flatParams(spec.params),
    tags: { 'mtflow.kind': spec.step, 'mtflow.step.key': key },
    lineage: { data: spec.inputs.filter((i) => i.kind === 'data').map((i) => ({ name: i.ref, sha256: i.sha256 })), ...(spec.inputs.some((i) => i.kind === 'run') ? { runs: spec.inputs.filter((i) => i.kind === 'run').map((i) => i.ref) } : {}) },
  })
  try {
    names.forEach((n, k) => run.logArtifact({ name: fileOf(n, k), data: bytes[k]! }))
    for (const [name, data] of Object.entries(spec.files?.() ?? {})) run.logArtifact({ name, data })
    run.logArtifact({ name: 'manifest.json', data: `${JSON.stringify(manifest, null, 1)}\n` })
    if (spec.metrics !== undefined) run.logMetrics(spec.metrics(tables))
    run.end()
  } catch (error) {
    run.end('FAILED')
    throw error
  }
  return { runId: run.id, reused: false, manifest }
}

/** One table of a step's run, read back from its Parquet artifact (the manifest names it). */
export async function readStepTable(home: string, runId: string, manifest: StepManifest, name: string): Promise<Record<string, TableColumn>> {
  const entry = manifest.tables.find((t) => t.name === name)
  if (entry === undefined) throw new ConfigError(`run ${runId} has no table ${JSON.stringify(name)}; it has ${manifest.tables.map((t) => t.name).join(', ')}`)
  const bytes = openTracker(home).readArtifact(runId, entry.file).bytes
  const dir = mkdtempSync(join(tmpdir(), 'mtflow-step-'))
  try {
    // A name of our own in a folder of our own: the manifest's file name only picks the artifact.
    const file = join(dir, 'table.parquet')
    writeFileSync(file, bytes)
    return await readTable(file)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
