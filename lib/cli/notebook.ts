// `mtflow notebook run`: execute a notebook headless on the project's tslab kernel.
// `mtflow notebook params`: the parameters a notebook declares (its `parameters`-tagged cell).

import { Command } from 'commander'
import { basename, dirname, relative, resolve } from 'node:path'
import { ConfigError, findProjectRoot, gitCommit, streamProgressSink } from '../core/index.js'
import { parseParameterArgs, type Parameters } from '../../kernel/parameters.js'
import { notebookParameters, readParametersFile } from './notebook-params.js'
import type { RunNotebookResult } from '../../kernel/runner.js'
import { collect, formatTable, lazy, parseSeconds, printJson, type CliContext } from './context.js'

interface RunOptions {
  parameter: string[]
  parametersFile?: string
  out?: string
  cellTimeout?: string
  startupTimeout?: string
  json?: boolean
  progress: boolean
  track?: boolean
  experiment?: string
}

export function notebookCommand(context: CliContext): Command {
  const notebook = new Command('notebook').description('run notebooks headless')
  notebook
    .command('run')
    .description('execute a notebook on the tslab kernel, injecting parameters (papermill style), and save the executed copy')
    .argument('<notebook>', 'the .ipynb file')
    .option('-p, --parameter <key=value>', 'set a parameter (repeatable); numbers, true/false, null and JSON become literals, anything else a string', collect, [])
    .option('-f, --parameters-file <file>', 'parameters from a .json file (an object) or a .yaml/.yml file (flat key: value lines); -p values win')
    .option('-o, --out <file>', 'where to write the executed notebook (default: MTFLOW_HOME/notebook-runs/<name>/<timestamp>.ipynb)')
    .option('--cell-timeout <seconds>', 'fail a cell that runs longer than this')
    .option('--startup-timeout <seconds>', 'how long to wait for the kernel to start (it type-checks the lib modules a notebook imports: slow on a busy machine)', '120')
    .option('--no-progress', 'do not show progress on stderr')
    .option('--track', 'record a tracked run (parameters, the executed notebook as an artifact, the runs it made) and register a notebook version')
    .option('--experiment <name>', 'the experiment of the tracked run', 'notebooks')
    .option('--json', 'print the result as JSON')
    .action(async (path: string, options: RunOptions) => {
      const parameters: Parameters = { ...(options.parametersFile === undefined ? {} : readParametersFile(options.parametersFile)), ...parseParameterArgs(options.parameter) }
      // The text of each -p value, for a parameter declared string that reads as a number (start=2010).
      const raw = new Map(options.parameter.map((arg) => [arg.slice(0, arg.indexOf('=')).trim(), arg.slice(arg.indexOf('=') + 1)]))
      warnUnknownParameters(context, path, parameters, raw)
      const cellTimeout = parseSeconds(options.cellTimeout, '--cell-timeout')
      const startupTimeout = parseSeconds(options.startupTimeout, '--startup-timeout')
      const { defaultRunPath } = lazy('../../kernel/runner.js') as typeof import('../../kernel/runner.js')
      const out = options.out ?? defaultRunPath(path, context.home)
      const run = { parameters, cellTimeout, startupTimeout, out, home: context.home, progress: options.progress ? streamProgressSink(context.stderr) : undefined }
      if (options.track === true) {
        const tracked = await runTrackedNotebook(path, { ...run, experiment: options.experiment ?? 'notebooks' })
        reportRun(context, tracked.result, options.json === true, tracked)
        return
      }
      const { runNotebook } = lazy('../../kernel/runner.js') as typeof import('../../kernel/runner.js')
      const result = await runWithInterrupt((signal) => runNotebook(path, { ...run, signal }))
      reportRun(context, result, options.json === true)
    })
  notebook
    .command('params')
    .description("the parameters a notebook declares in its cell tagged `parameters`: names, types and defaults")
    .argument('<notebook>', 'the .ipynb file')
    .option('--json', 'print JSON')
    .action((path: string, o: { json?: boolean }) => {
      const { readNotebook } = lazy('../../kernel/nbformat.js') as typeof import('../../kernel/nbformat.js')
      const found = notebookParameters(readNotebook(path).notebook)
      if (o.json === true) return printJson(context, { notebook: path, hasParametersCell: found !== undefined, parameters: (found ?? []).map(({ annotated: _, ...p }) => p) })
      if (found === undefined) return void context.stdout.write(`${path} has no cell tagged parameters: nothing can be injected\n`)
      context.stdout.write(formatTable(['name', 'type', 'default'], found.map((p) => [p.name, p.type, p.default ?? '—'])))
    })
  return notebook
}

/**
 * Papermill's warning: a parameter the notebook does not declare is still injected (a cell may read it),
 * but is most often a typo. One line per name on stderr, naming what the notebook declares.
 */
function warnUnknownParameters(context: CliContext, path: string, parameters: Parameters, raw: ReadonlyMap<string, string> = new Map()): void {
  const names = Object.keys(parameters)
  if (names.length === 0) return
  const { readNotebook } = lazy('../../kernel/nbformat.js') as typeof import('../../kernel/nbformat.js')
  let declared: ReturnType<typeof notebookParameters>
  try {
    declared = notebookParameters(readNotebook(path).notebook)
  } catch {
    return // an unreadable notebook is reported by the run itself, as bad input
  }
  if (declared === undefined) {
    context.stderr.write(`mtflow: warning: ${path} has no cell tagged parameters; ${names.join(', ')} injected at the top\n`)
    return
  }
  const known = new Set(declared.map((p) => p.name))
  for (const name of names) {
    if (!known.has(name)) context.stderr.write(`mtflow: warning: passed unknown parameter: ${name} (the notebook declares ${declared.length === 0 ? 'none' : declared.map((p) => p.name).join(', ')})\n`)
  }
  // No value (YAML's "start:" is null) for a parameter that cannot hold one: refused here, naming it, rather
  // than failing cells later over a "null" nobody passed.
  for (const p of declared) {
    if (Object.hasOwn(parameters, p.name) && parameters[p.name] === null && !/\b(null|any|unknown)\b/.test(p.type)) {
      throw new ConfigError(`parameter ${p.name} has no value (null: an empty value in a parameters file?); ${path} declares it as ${p.type}`)
    }
  }
  // A value of the wrong kind for a parameter declared number, string or boolean: refused here, naming it, before a
  // kernel starts (it failed the injected cell's type check, "Type 'string' is not assignable to type 'number'",
  // naming no parameter: a new-user check). A string parameter given what reads as a number is that text.
  // A parameter whose default is a plain literal (`let n = 1`) takes whatever is injected, as papermill's do: a
  // value of another kind is said, not refused.
  for (const p of declared) {
    if (!Object.hasOwn(parameters, p.name)) continue
    const v = parameters[p.name]
    const type = p.type.trim()
    if (type === 'string' && typeof v !== 'string' && v !== null) {
      const text = raw.get(p.name)
      if (text !== undefined) parameters[p.name] = text
      else if (typeof v === 'number') parameters[p.name] = String(v)
      else if (p.annotated === true) throw new ConfigError(`parameter ${p.name}: ${path} declares it as string; received ${JSON.stringify(v)}`)
    } else if ((type === 'number' || type === 'boolean') && typeof v !== type && v !== null) {
      const expected = type === 'number' ? 'a number such as 10 or 0.5' : 'true or false'
      if (p.annotated === true) throw new ConfigError(`parameter ${p.name}: ${path} declares it as ${type}; received ${JSON.stringify(v)} (expected ${expected})`)
      context.stderr.write(`mtflow: warning: parameter ${p.name} is given ${JSON.stringify(v)}, where ${path}'s default is a ${type}; injected as given\n`)
    }
  }
}

export interface TrackedNotebook {
  result: RunNotebookResult
  runId: string
  experimentId: string
  /** The runs the notebook started (children of the notebook's run). */
  childRuns: string[]
  notebookVersion: number
}

/**
 * Run a notebook inside a tracked run: its parameters as params, MTFLOW_PARENT_RUN_ID for the runs it
 * starts, the executed notebook as an artifact and as a registered notebook version linked to them all.
 */
export async function runTrackedNotebook(path: string, options: import('../../kernel/runner.js').RunNotebookOptions & { experiment: string }): Promise<TrackedNotebook> {
  const { prepareNotebook, runNotebook } = lazy('../../kernel/runner.js') as typeof import('../../kernel/runner.js')
  const { openTracker, openRegistry } = lazy('../track/index.js') as typeof import('../track/index.js')
  // Bad input (no such file, another kernel, a bad parameter) fails here, before a run is recorded.
  // The notebook is read once: the sha256 the run records is of the very source the kernel runs (read
  // again, a save in between put one version's hash on another version's executed notebook).
  const prepared = await prepareNotebook(path, options.parameters ?? {})
  const file = resolve(path)
  const root = findProjectRoot(dirname(file))
  const shown = root === undefined ? file : relative(root, file)
  const sourceSha = prepared.sourceSha256
  const tracker = openTracker(options.home)
  const commit = gitCommit(dirname(file))
  const name = basename(file).replace(/\.ipynb$/, '')
  const params: Record<string, string | number | boolean> = {}
  for (const [k, v] of Object.entries(options.parameters ?? {})) params[k] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v)
  const run = tracker.startRun({
    experiment: options.experiment,
    name,
    params,
    tags: { 'mtflow.source': 'notebook', 'mtflow.kind': 'notebook' },
    lineage: { notebook: { path: shown, sha256: sourceSha }, ...(commit === undefined ? {} : { gitCommit: commit }) },
  })
  let result: RunNotebookResult
  try {
    result = await runWithInterrupt((signal) => runNotebook(path, { ...options, prepared, signal, env: { ...options.env, MTFLOW_PARENT_RUN_ID: run.id, MTFLOW_NOTEBOOK: shown, MTFLOW_NOTEBOOK_SHA256: sourceSha } }))
  } catch (error) {
    run.fail(error)
    throw error
  }
  const { serializeNotebook } = lazy('../../kernel/nbformat.js') as typeof import('../../kernel/nbformat.js')
  const executed = serializeNotebook(result.notebook)
  run.logMetrics({ durationMs: result.durationMs, cells: result.cells.length, cellsOk: result.cells.filter((c) => c.status === 'ok').length })
  if (result.message !== undefined) run.setTag('mtflow.error', result.message)
  run.logArtifact({ name: 'notebook.ipynb', data: executed })
  const childRuns = tracker.childRuns(run.id).map((r) => r.info.runId)
  run.end(result.status === 'ok' ? 'FINISHED' : result.status === 'interrupted' ? 'KILLED' : 'FAILED')
  const registryName = name.replace(/[^\w.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'notebook'
  const { version } = openRegistry(options.home).register('notebooks', registryName, {
    files: { 'notebook.ipynb': executed },
    runs: [run.id, ...childRuns],
    source: shown,
    metadata: { status: result.status, parameters: options.parameters ?? {}, sourceSha256: sourceSha, durationMs: result.durationMs },
  })
  return { result, runId: run.id, experimentId: run.experimentId, childRuns, notebookVersion: version.version }
}

/** Print a run's outcome and set the exit code: 0 ok, 1 failed cell, 130 interrupted. */
export function reportRun(context: CliContext, result: RunNotebookResult, json: boolean, tracked?: Omit<TrackedNotebook, 'result'>): void {
  context.exitCode = result.status === 'ok' ? 0 : result.status === 'interrupted' ? 130 : 1
  if (json) {
    printJson(context, {
      status: result.status,
      out: result.out,
      message: result.message,
      failedCell: result.failedCell,
      startTime: result.startTime,
      endTime: result.endTime,
      durationMs: result.durationMs,
      sourceSha256: result.sourceSha256,
      cells: result.cells,
      ...(tracked === undefined ? {} : { runId: tracked.runId, experiment: tracked.experimentId, childRuns: tracked.childRuns, notebookVersion: tracked.notebookVersion }),
    })
    return
  }
  const trackedLine = tracked === undefined ? '' : `run: ${tracked.runId} (experiment ${tracked.experimentId}, ${tracked.childRuns.length} child runs); notebook version ${tracked.notebookVersion}\n`
  const where = result.out === undefined ? '(not saved)' : displayPath(result.out)
  if (result.status === 'ok') {
    context.stdout.write(`executed ${result.cells.filter((c) => c.status === 'ok').length} cells in ${(result.durationMs / 1000).toFixed(1)} s\n`)
    context.stdout.write(`executed notebook: ${where}\n${trackedLine}`)
  } else {
    context.stderr.write(`mtflow: ${result.message ?? result.status}\n`)
    context.stderr.write(`executed notebook (with the error): ${where}\n${trackedLine}`)
  }
}

/**
 * Run with Ctrl-C / SIGTERM turned into an abort: the runner interrupts the cell, saves what ran and
 * shuts the kernel down. A second signal exits at once (the kernel notices its parent is gone).
 */
export async function runWithInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await work(controller.signal)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** Relative to the current folder when inside it, else absolute. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel === '' || rel.startsWith('..') ? path : rel
}
