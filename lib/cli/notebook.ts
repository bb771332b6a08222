// `mtflow notebook run`: execute a notebook headless on the project's tslab kernel.

import { Command } from 'commander'
import { relative } from 'node:path'
import { streamProgressSink } from '../core/index.js'
import { parseParameterArgs } from '../../kernel/parameters.js'
import type { RunNotebookResult } from '../../kernel/runner.js'
import { lazy, parseSeconds, printJson, type CliContext } from './context.js'

interface RunOptions {
  parameter: string[]
  out?: string
  cellTimeout?: string
  startupTimeout?: string
  json?: boolean
  progress: boolean
}

export function notebookCommand(context: CliContext): Command {
  const notebook = new Command('notebook').description('run notebooks headless')
  notebook
    .command('run')
    .description('execute a notebook on the tslab kernel, injecting parameters (papermill style), and save the executed copy')
    .argument('<notebook>', 'the .ipynb file')
    .option('-p, --parameter <key=value>', 'set a parameter (repeatable); numbers, true/false, null and JSON become literals, anything else a string', collect, [])
    .option('-o, --out <file>', 'where to write the executed notebook (default: MTFLOW_HOME/notebook-runs/<name>/<timestamp>.ipynb)')
    .option('--cell-timeout <seconds>', 'fail a cell that runs longer than this')
    .option('--startup-timeout <seconds>', 'how long to wait for the kernel to start', '60')
    .option('--no-progress', 'do not show progress on stderr')
    .option('--json', 'print the result as JSON')
    .action(async (path: string, options: RunOptions) => {
      const parameters = parseParameterArgs(options.parameter)
      const cellTimeout = parseSeconds(options.cellTimeout, '--cell-timeout')
      const startupTimeout = parseSeconds(options.startupTimeout, '--startup-timeout')
      const { defaultRunPath, runNotebook } = lazy('../../kernel/runner.js') as typeof import('../../kernel/runner.js')
      const out = options.out ?? defaultRunPath(path, context.home)
      const result = await runWithInterrupt((signal) =>
        runNotebook(path, {
          parameters,
          cellTimeout,
          startupTimeout,
          out,
          home: context.home,
          signal,
          progress: options.progress ? streamProgressSink(context.stderr) : undefined,
        }),
      )
      reportRun(context, result, options.json === true)
    })
  return notebook
}

/** Print a run's outcome and set the exit code: 0 ok, 1 failed cell, 130 interrupted. */
export function reportRun(context: CliContext, result: RunNotebookResult, json: boolean): void {
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
    })
    return
  }
  const where = result.out === undefined ? '(not saved)' : displayPath(result.out)
  if (result.status === 'ok') {
    context.stdout.write(`executed ${result.cells.filter((c) => c.status === 'ok').length} cells in ${(result.durationMs / 1000).toFixed(1)} s\n`)
    context.stdout.write(`executed notebook: ${where}\n`)
  } else {
    context.stderr.write(`mtflow: ${result.message ?? result.status}\n`)
    context.stderr.write(`executed notebook (with the error): ${where}\n`)
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

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}
