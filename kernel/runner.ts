// The headless notebook runner (papermill for TypeScript kernels): executes a notebook's code cells in
// order on the project's tslab kernel, injects parameters, records outputs, timings and lineage, and
// always shuts the kernel down — after success, a cell error, a timeout or an interrupt.

import { randomUUID } from 'node:crypto'
import { accessSync, constants, existsSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, extname, join, resolve } from 'node:path'
import {
  ConfigError,
  Progress,
  fileStamp,
  isoTime,
  resolveHome,
  writeFileAtomic,
  type ProgressSink,
} from '../lib/core/index.js'
import { KernelClient, KernelStartInterrupted, type ExecuteResult } from './client.js'
import { KERNEL_DISPLAY_NAME, KERNEL_NAME, RUNNABLE_KERNELS, kernelArgv } from './kernelspec.js'
import {
  ensureCellIds,
  hasTag,
  joinSource,
  newCodeCell,
  readNotebook,
  serializeNotebook,
  type ErrorOutput,
  type Notebook,
  type Output,
} from './nbformat.js'
import { errorFromReply, OutputCollector } from './outputs.js'
import { newMessage } from './protocol.js'
import { checkParameterName, declaredParameters, injectedSource, toTsLiteral, type Parameters } from './parameters.js'

export type RunStatus = 'ok' | 'error' | 'timeout' | 'interrupted' | 'died'
export type CellStatus = 'ok' | 'error' | 'timeout' | 'interrupted' | 'died' | 'skipped'

export interface RunNotebookOptions {
  /** Values for the notebook's parameters (see kernel/parameters.ts). */
  parameters?: Parameters
  /** Seconds one cell may run before it is interrupted and the run fails. */
  cellTimeout?: number
  /** Seconds to wait for the kernel to start. Default 120: tslab type-checks the lib modules a notebook imports, slow on a busy machine. */
  startupTimeout?: number
  /** Write the executed notebook here (atomically), whatever the status. */
  out?: string
  /** The workspace handed to the kernel as MTFLOW_HOME. Default: resolveHome(). */
  home?: string
  /** Kernel working directory. Default: the notebook's folder, as Jupyter does. */
  cwd?: string
  /** Aborting interrupts the running cell, saves what ran and shuts the kernel down. */
  signal?: AbortSignal
  progress?: ProgressSink
  /** More environment for the kernel (e.g. MTFLOW_PARENT_RUN_ID from `notebook run --track`). */
  env?: Record<string, string>
  /**
   * The notebook as prepareNotebook read it (with these parameters): run as it is, not read again. A caller
   * that records the source's sha256 before the run (`notebook run --track`) passes it, so the executed
   * notebook is the source that sha256 names even if the file is saved meanwhile.
   */
  prepared?: PreparedRun
}

export interface CellRecord {
  /** 1-based position in the executed notebook. */
  index: number
  id: string
  status: CellStatus
  executionCount: number | null
  durationMs: number
}

export interface RunNotebookResult {
  status: RunStatus
  notebook: Notebook
  /** Where the executed notebook was written, when `out` was given. */
  out?: string
  /** The cell that failed, for any status but ok. */
  failedCell?: { index: number; id: string; ename: string; evalue: string }
  /** One line: "cell 4 (id 3f2a…) failed: Error: boom". */
  message?: string
  startTime: string
  endTime: string
  durationMs: number
  cells: CellRecord[]
  sourceSha256: string
}

export interface PreparedRun {
  notebook: Notebook
  sourceSha256: string
  parameters: Parameters
}

/** Check everything that can be checked before a kernel starts; bad input throws ConfigError. */
export async function prepareNotebook(path: string, parameters: Parameters = {}): Promise<PreparedRun> {
  const { notebook, sha256 } = readNotebook(path)
  const kernel = notebook.metadata.kernelspec?.name
  if (kernel !== undefined && !(RUNNABLE_KERNELS as readonly string[]).includes(kernel)) {
    throw new ConfigError(
      `${path} uses kernel ${JSON.stringify(kernel)}; expected a TypeScript notebook (kernelspec ${RUNNABLE_KERNELS.join(' or ')}, or none)`,
    )
  }
  for (const [name, value] of Object.entries(parameters)) {
    checkParameterName(name)
    toTsLiteral(value, name)
  }
  const nb = structuredClone(notebook)
  ensureCellIds(nb, sha256)
  nb.cells = nb.cells.filter((cell) => !hasTag(cell, 'injected-parameters'))
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') continue
    cell.outputs = []
    cell.execution_count = null
    delete cell.metadata.mtflow
  }
  if (Object.keys(parameters).length > 0) {
    const at = nb.cells.findIndex((cell) => cell.cell_type === 'code' && hasTag(cell, 'parameters'))
    const declared = at < 0 ? [] : await declaredParameters(joinSource(nb.cells[at]!.source))
    const ids = new Set(nb.cells.map((cell) => cell.id))
    let id = 'injected-parameters'
    for (let n = 2; ids.has(id); n++) id = `injected-parameters-${n}`
    nb.cells.splice(at + 1, 0, newCodeCell(id, injectedSource(parameters, declared), ['injected-parameters']))
  }
  return { notebook: nb, sourceSha256: sha256, parameters }
}

/** `MTFLOW_HOME/notebook-runs/<name>/<timestamp>.ipynb` */
export function defaultRunPath(notebookPath: string, home?: string, now = Date.now()): string {
  const name = basename(notebookPath, extname(notebookPath))
  return join(resolveHome(home), 'notebook-runs', name, `${fileStamp(now)}.ipynb`)
}

export async function runNotebook(path: string, options: RunNotebookOptions = {}): Promise<RunNotebookResult> {
  const cellTimeout = options.cellTimeout
  if (cellTimeout !== undefined && !(Number.isFinite(cellTimeout) && cellTimeout > 0)) {
    throw new ConfigError(`cell timeout must be a number of seconds > 0 (received ${cellTimeout})`)
  }
  if (options.out !== undefined) checkOutPath(options.out)
  const prepared = options.prepared ?? (await prepareNotebook(path, options.parameters ?? {}))
  const { notebook } = prepared
  const started = Date.now()
  const codeCells = notebook.cells.filter((cell) => cell.cell_type === 'code' && joinSource(cell.source).trim() !== '')
  const progress = new Progress({ label: basename(path), total: codeCells.length, sink: options.progress })
  const cells: CellRecord[] = []
  let status: RunStatus = 'ok'
  let failed: RunNotebookResult['failedCell']
  let message: string | undefined

  let kernel: KernelClient | undefined
  // Where the run's outcome is left for the kernel's exit (kernel/track.ts): a run the notebook left open
  // when a cell failed or was interrupted ends FAILED or KILLED, not FINISHED.
  // Written FAILED before the kernel starts and replaced once the notebook ran through: a kernel whose process
  // ends on its own mid-run (a cell calling process.exit, a fatal error) finds FAILED, not a missing file.
  const outcomeFile = join(tmpdir(), `mtflow-notebook-outcome-${randomUUID()}`)
  try {
    writeFileSync(outcomeFile, 'FAILED', { mode: 0o600, flag: 'wx' })
  } catch {
    /* not written: open runs end as the runner's last word below says, or FINISHED */
  }
  try {
    kernel = await KernelClient.launch({
      argv: kernelArgv(),
      cwd: options.cwd ?? dirname(resolve(path)),
      env: { ...options.env, MTFLOW_HOME: resolveHome(options.home), MTFLOW_KERNEL_HEADLESS: '1', MTFLOW_NOTEBOOK_OUTCOME: outcomeFile },
      kernelName: KERNEL_NAME,
      startupTimeoutMs: (options.startupTimeout ?? 120) * 1000,
      signal: options.signal,
    })
  } catch (error) {
    if (!(error instanceof KernelStartInterrupted)) {
      rmSync(outcomeFile, { force: true })
      throw error
    }
    status = 'interrupted'
    message = error.message
  }
  let ranThrough = false
  try {
    const collector = new OutputCollector()
    for (const [i, cell] of notebook.cells.entries()) {
      if (cell.cell_type !== 'code') continue
      const record: CellRecord = { index: i + 1, id: cell.id!, status: 'skipped', executionCount: null, durationMs: 0 }
      cells.push(record)
      const source = joinSource(cell.source)
      if (kernel === undefined || status !== 'ok' || source.trim() === '') continue
      const outputs: Output[] = []
      cell.outputs = outputs
      collector.begin(outputs)
      const t0 = Date.now()
      progress.set(progress.state.done, `cell ${i + 1} (${cell.id})`)
      const result: ExecuteResult = await kernel.execute(source, {
        timeoutMs: cellTimeout === undefined ? undefined : cellTimeout * 1000,
        signal: options.signal,
        onIopub: (msg) => collector.handle(msg),
      })
      const t1 = Date.now()
      if (result.missedIdle === true) {
        const note = 'mtflow: the kernel never reported this cell idle; output printed at its end may be missing\n'
        collector.handle(newMessage('stream', { name: 'stderr', text: note }, 'mtflow-runner'))
      }
      cell.execution_count = result.executionCount
      record.executionCount = result.executionCount
      record.durationMs = t1 - t0
      record.status = result.status === 'aborted' ? 'error' : result.status
      cell.metadata.mtflow = {
        start_time: isoTime(t0),
        end_time: isoTime(t1),
        duration_ms: t1 - t0,
        status: record.status,
      }
      cell.metadata.execution = nbclientTiming(result)
      progress.tick(1)
      if (record.status === 'ok') continue
      status = record.status
      const error = cellError(result, outputs)
      if (!outputs.some((o) => o.output_type === 'error')) outputs.push(error)
      failed = { index: i + 1, id: cell.id!, ename: error.ename, evalue: error.evalue }
      message = `cell ${i + 1} (id ${cell.id}) ${verb(record.status)}: ${error.ename}: ${error.evalue}`
    }
    ranThrough = true
  } finally {
    const outcome = status === 'ok' && ranThrough ? 'FINISHED' : status === 'interrupted' ? 'KILLED' : 'FAILED'
    try {
      writeFileSync(outcomeFile, outcome, { mode: 0o600 })
    } catch {
      // Not written: a run through must not be left reading the FAILED written at the start.
      if (outcome === 'FINISHED') rmSync(outcomeFile, { force: true })
    }
    try {
      await kernel?.shutdown()
    } finally {
      rmSync(outcomeFile, { force: true })
    }
    progress.finish(status === 'ok' ? 'done' : message)
  }

  const ended = Date.now()
  notebook.metadata.kernelspec ??= { name: KERNEL_NAME, display_name: KERNEL_DISPLAY_NAME, language: 'typescript' }
  const languageInfo = kernel?.kernelInfo.language_info
  if (languageInfo !== null && typeof languageInfo === 'object') notebook.metadata.language_info = languageInfo as Record<string, unknown>
  notebook.metadata.mtflow = {
    run: {
      status,
      start_time: isoTime(started),
      end_time: isoTime(ended),
      duration_ms: ended - started,
      parameters: prepared.parameters,
      source: { path: resolve(path), sha256: prepared.sourceSha256 },
      kernel: { name: KERNEL_NAME, implementation: kernel?.kernelInfo.implementation ?? null },
      ...(failed === undefined ? {} : { failed_cell: failed }),
    },
  }
  const result: RunNotebookResult = {
    status,
    notebook,
    startTime: isoTime(started),
    endTime: isoTime(ended),
    durationMs: ended - started,
    cells,
    sourceSha256: prepared.sourceSha256,
  }
  if (failed !== undefined) result.failedCell = failed
  if (message !== undefined) result.message = message
  if (options.out !== undefined) {
    writeFileAtomic(resolve(options.out), serializeNotebook(notebook))
    result.out = resolve(options.out)
  }
  return result
}

function cellError(result: ExecuteResult, outputs: Output[]): ErrorOutput {
  const stderr = outputs
    .filter((o) => o.output_type === 'stream' && o.name === 'stderr')
    .map((o) => joinSource((o as { text: string | string[] }).text))
    .join('')
  switch (result.status) {
    case 'timeout':
      return { output_type: 'error', ename: 'CellTimeoutError', evalue: result.reason ?? 'cell timed out', traceback: [] }
    case 'interrupted':
      return { output_type: 'error', ename: 'KeyboardInterrupt', evalue: result.reason ?? 'interrupted', traceback: [] }
    case 'died':
      return { output_type: 'error', ename: 'DeadKernelError', evalue: result.reason ?? 'the kernel died', traceback: [] }
    default:
      return errorFromReply(result.reply, stderr)
  }
}

function verb(status: CellStatus): string {
  return status === 'timeout' ? 'timed out' : status === 'interrupted' ? 'was interrupted' : status === 'died' ? 'lost its kernel' : 'failed'
}

/** The same timing keys nbclient records, so tools that read them work on our notebooks too. */
function nbclientTiming(result: ExecuteResult): Record<string, string> {
  const out: Record<string, string> = {}
  if (result.timing.busy !== undefined) out['iopub.status.busy'] = result.timing.busy
  if (result.timing.executeInput !== undefined) out['iopub.execute_input'] = result.timing.executeInput
  if (result.timing.reply !== undefined) out['shell.execute_reply'] = result.timing.reply
  if (result.timing.idle !== undefined) out['iopub.status.idle'] = result.timing.idle
  return out
}

/** Refuse an --out that cannot be written before any work is done: the run's result must not be lost. */
function checkOutPath(out: string): void {
  if (out.trim() === '') throw new ConfigError('--out needs a file path (received an empty string)')
  const target = resolve(out)
  if (out.endsWith('/') || isDirectory(target)) throw new ConfigError(`--out ${out} is a directory; expected a notebook file path`)
  let dir = dirname(target)
  while (!existsSync(dir)) dir = dirname(dir)
  if (!isDirectory(dir)) throw new ConfigError(`--out ${out} cannot be created: ${dir} is not a directory`)
  try {
    accessSync(dir, constants.W_OK)
  } catch {
    throw new ConfigError(`--out ${out} cannot be created: ${dir} is not writable`)
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
