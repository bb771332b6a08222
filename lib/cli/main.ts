// The `mtflow` command. Every verb has --help; verbs that return results have --json.
// Exit codes: 0 success, 1 the work failed (a cell error, a timeout), 2 bad input, 130 interrupted.
// Errors print one line ("mtflow: …"); --verbose adds the stack.

import { Command, CommanderError, Option } from 'commander'
import { clipEchoes, errorMessage, isUserError, MtflowError, resolveHome } from '../core/index.js'
import { kernelCommand } from './kernel.js'
import { notebookCommand } from './notebook.js'
import { lifecycleCommand } from './lifecycle.js'
import { dataCommand, importCommand } from './data.js'
import { ingestCommand } from './ingest.js'
import { indicatorsCommand, pairsCommand } from './indicators.js'
import { backtestCommand, sweepCommand } from './backtest.js'
import { runsCommand } from './runs.js'
import { serveCommand } from './serve.js'
import { modelsCommand } from './models.js'
import { selectCommand } from './select.js'
import { automlCommand } from './automl.js'
import { dashboardCommand } from './dashboard.js'
import { registryCommand, strategyCommand } from './registry.js'
import { doctorCommand } from './doctor.js'
import { deployCommand } from './deploy.js'
import { reportCommand } from './report.js'
import { datasetCommand, featuresCommand, inferCommand, trainCommand } from './pipeline.js'
import { portfolioCommand } from './portfolio.js'
import { routerCommand } from './router.js'
import { pipelineCommand } from './pipeline-pairs.js'
import { monitorCommand } from './monitor.js'
import { alertsCommand } from './alerts.js'
import { schedulerCommand } from './scheduler.js'
import { championCommand } from './champion.js'
import { workerCommand } from './worker.js'
import { lazy, type CliContext } from './context.js'

export function buildProgram(context: CliContext): Command {
  const program = new Command('mtflow')
    .description('mtflow — the machine-trading lifecycle in TypeScript: data, notebooks, backtests, models, tracking')
    .addOption(new Option('--home <dir>', 'workspace directory (default: $MTFLOW_HOME, else ./data)'))
    .option('--verbose', 'print stack traces with errors')
    .option('-V, --version', "print mtflow's version (package.json) and the project version (it and a hash of lib/'s sources)")
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => context.stdout.write(text),
      writeErr: (text) => context.stderr.write(text),
      outputError: (text, write) => write(`mtflow: ${text.replace(/^error: /, '').trim()}\n`),
    })
  program.exitOverride()
  // Computed only when asked: the project version hashes every source file under lib/.
  program.on('option:version', () => {
    const { projectVersion } = lazy('../exec/version.js') as typeof import('../exec/version.js')
    const project = projectVersion()
    context.stdout.write(`mtflow ${project.split('+')[0]} (project ${project})\n`)
    throw new CommanderError(0, 'mtflow.version', '')
  })
  program.hook('preAction', (root, action) => {
    context.home = resolveHome(root.opts<{ home?: string }>().home)
    context.verbose = root.opts<{ verbose?: boolean }>().verbose === true
    warnSecretArguments(context, action.opts<{ redis?: unknown; token?: unknown }>())
  })
  for (const make of [notebookCommand, kernelCommand, ingestCommand, importCommand, dataCommand, indicatorsCommand, pairsCommand, featuresCommand, datasetCommand, trainCommand, inferCommand, routerCommand, portfolioCommand, pipelineCommand, backtestCommand, sweepCommand, reportCommand, runsCommand, registryCommand, strategyCommand, selectCommand, automlCommand, modelsCommand, dashboardCommand, deployCommand, monitorCommand, alertsCommand, schedulerCommand, championCommand, workerCommand, serveCommand, lifecycleCommand, doctorCommand]) {
    const sub = make(context)
    sub.exitOverride()
    sub.configureOutput(program.configureOutput())
    for (const leaf of sub.commands) {
      leaf.exitOverride()
      leaf.configureOutput(program.configureOutput())
    }
    program.addCommand(sub)
  }
  return program
}

/**
 * A secret given as an argument is in every local user's process list (`ps`, /proc/PID/cmdline) while the
 * command runs: said once, with where it goes instead (an attack review read a worker's Redis password and
 * tracking token there, and with the password could make every worker run code).
 */
function warnSecretArguments(context: CliContext, o: { redis?: unknown; token?: unknown }): void {
  let password = false
  try {
    password = typeof o.redis === 'string' && new URL(o.redis).password !== ''
  } catch {
    /* not a URL: refused where it is used */
  }
  if (password) context.stderr.write('mtflow: warning: the password in --redis is visible to every local user in the process list; set MTFLOW_REDIS_URL instead\n')
  if (typeof o.token === 'string') context.stderr.write('mtflow: warning: --token is visible to every local user in the process list; set MTFLOW_TRACKING_TOKEN instead\n')
}

/** Run the CLI; resolves with the exit code (never calls process.exit itself). */
export async function main(argv: string[], context: CliContext = defaultContext()): Promise<number> {
  const program = buildProgram(context)
  if (argv.length === 0) {
    context.stderr.write(program.helpInformation())
    return 2
  }
  try {
    await program.parseAsync(argv, { from: 'user' })
    return context.exitCode
  } catch (error) {
    // --help exits 0; a usage error, or a verb group called without its sub-verb (help on stderr), exits 2.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2
    // Ctrl-C during a batch (context.ts interruptible): one line, exit 130 as `mtflow sweep` does.
    if (error instanceof MtflowError && error.name === 'CancelledError') {
      context.stderr.write(`mtflow: ${errorMessage(error)}\n`)
      return 130
    }
    // What was typed is quoted back at most 200 characters at a time.
    const place = pathError(error)
    context.stderr.write(`mtflow: ${clipEchoes(place ?? errorMessage(error), argv)}\n`)
    if (context.verbose && error instanceof Error && error.stack !== undefined) context.stderr.write(`${error.stack}\n`)
    return isUserError(error) || place !== undefined ? 2 : 1
  }
}

/** Codes of a file system refusal about a path the command was given (a folder that is a file, no such folder, no permission). */
const PATH_ERRORS = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'EEXIST', 'ENAMETOOLONG', 'ELOOP'])

/**
 * A file system refusal about a path, said plainly ("cannot mkdir /dev/null/x: not a directory (ENOTDIR)"):
 * the path is one the command was given (--export, --out), so it is bad input (exit 2), not a failure of
 * mtflow (exit 1). Undefined for anything else.
 */
function pathError(error: unknown): string | undefined {
  const e = error as NodeJS.ErrnoException
  if (!(error instanceof Error) || typeof e.code !== 'string' || !PATH_ERRORS.has(e.code) || typeof e.path !== 'string') return undefined
  const what = /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1] ?? e.code
  return `cannot ${e.syscall ?? 'use'} ${e.path}: ${what} (${e.code})`
}

function defaultContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, home: resolveHome(), verbose: false, exitCode: 0 }
}
