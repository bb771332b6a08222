// `mtflow lifecycle` (what `npm start` runs): the research lifecycle on the workspace and the bundled
// data — load the samples, run the quickstart, data, features and backtest notebooks headless with
// tracking, sweep sma-cross on the S&P 500, backtest the best set, register it as a strategy version
// (alias champion), publish the dashboards, then serve it all. A second run reuses what is unchanged:
// a notebook whose source matches its last good registered version, a sweep whose data, strategy
// source and grid match the recorded one (state in MTFLOW_HOME/lifecycle.json).

import { Command } from 'commander'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, errorMessage, sha256, sha256File, writeFileAtomic } from '../core/index.js'
import { PROJECT_ROOT } from '../../kernel/kernelspec.js'
import { lazy, printJson, type CliContext } from './context.js'
import { parsePort, serveUntilStopped } from './serve.js'

const NOTEBOOKS = ['00-quickstart', '01-data', '02-features', '03-backtest']
const SWEEP = { strategy: 'sma-cross', symbol: 'SPX', source: 'sample', timeframe: '1d', grid: ['fast=5:50:5', 'slow=20:200:20'], commission: '0.0005' }
const EXPERIMENT = 'lifecycle'
const DASHBOARDS: [string, Record<string, string>][] = [
  ['run-comparison', {}],
  ['strategy', { strategy: SWEEP.strategy }],
  ['data-coverage', {}],
]

interface State {
  sweep?: { key: string; runId: string; backtestRunId: string; best: Record<string, number>; strategyVersion: number }
}

interface Step {
  name: string
  status: 'done' | 'reused' | 'failed'
  detail: string
  ms: number
}

export function lifecycleCommand(context: CliContext, env: NodeJS.ProcessEnv = process.env): Command {
  return new Command('lifecycle')
    .description('the research lifecycle on the workspace: samples, notebooks (tracked), a sweep, the best strategy registered, dashboards published; then serve')
    .option('--port <n>', 'serve on this port when done', '8787')
    .option('--host <address>', 'serve on this address', '127.0.0.1')
    .option('--no-serve', 'stop after the lifecycle instead of serving')
    .option('--fresh', 're-run every step even when its inputs are unchanged')
    .option('--json', 'print the steps as JSON (and {url, token} once serving)')
    // Stray arguments are checked in the action, to name npm's swallowed --port (see npmPort).
    .allowExcessArguments(true)
    .action(async (o: { port: string; host: string; serve: boolean; fresh?: boolean; json?: boolean }, command: Command) => {
      const fromNpm = npmPort(env, command.args, command.getOptionValueSource('port') === 'cli')
      if (fromNpm !== undefined) context.stderr.write(`mtflow: serving on port ${fromNpm}, from npm's --port=${fromNpm} (the documented form: npm start -- --port ${fromNpm})\n`)
      const port = fromNpm ?? parsePort(o.port)
      const steps = await runLifecycle(context, { fresh: o.fresh === true, quiet: o.json === true })
      const failed = steps.filter((s) => s.status === 'failed')
      if (o.json === true) printJson(context, { home: context.home, steps })
      if (failed.length > 0) {
        context.exitCode = 1
        context.stderr.write(`mtflow: ${failed.length} lifecycle step(s) failed: ${failed.map((s) => s.name).join(', ')}\n`)
      }
      if (!o.serve) return
      if (o.json !== true) context.stdout.write('\n')
      await serveUntilStopped(context, { port, host: o.host, json: o.json === true })
    })
}

/**
 * `npm start --port 8790` hands mtflow no --port: npm keeps the flag as its own config (npm_config_port,
 * "true", or the value with --port=8790) and passes "8790" on as a bare argument. A port npm kept is
 * honoured when --port itself was not given; a swallowed one is refused with the form that works.
 */
export function npmPort(env: NodeJS.ProcessEnv, args: readonly string[], portGiven: boolean): number | undefined {
  const raw = env.npm_config_port
  if (raw !== undefined && (raw === 'true' || raw === '')) {
    throw new ConfigError(`--port went to npm, not to mtflow: use npm start -- --port ${/^\d+$/.test(args[0] ?? '') ? args[0] : 'N'}`)
  }
  if (args.length > 0) throw new ConfigError(`unexpected argument ${JSON.stringify(args[0])} (mtflow lifecycle takes options only; through npm: npm start -- --port N)`)
  if (raw === undefined || portGiven) return undefined
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new ConfigError(`npm's --port=${JSON.stringify(raw).slice(1, -1)} must be an integer in [0, 65535] (the documented form: npm start -- --port N)`)
  return Number(raw)
}

export async function runLifecycle(context: CliContext, options: { fresh: boolean; quiet: boolean }): Promise<Step[]> {
  const home = context.home
  const steps: Step[] = []
  const say = (text: string) => {
    if (!options.quiet) context.stdout.write(text)
  }
  const step = async (name: string, work: () => Promise<{ status: 'done' | 'reused'; detail: string }>): Promise<boolean> => {
    const started = Date.now()
    say(`▶ ${name}\n`)
    try {
      const { status, detail } = await work()
      steps.push({ name, status, detail, ms: Date.now() - started })
      say(`  ${status === 'reused' ? 'reused' : 'done'}: ${detail} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`)
      return true
    } catch (error) {
      steps.push({ name, status: 'failed', detail: errorMessage(error), ms: Date.now() - started })
      context.stderr.write(`  FAILED: ${errorMessage(error)}\n`)
      return false
    }
  }
  say(`mtflow lifecycle on ${home}\n`)
  const statePath = join(home, 'lifecycle.json')
  const state: State = existsSync(statePath) ? (JSON.parse(readFileSync(statePath, 'utf8')) as State) : {}

  await step('load the bundled samples', async () => {
    const data = lazy('../data/index.js') as typeof import('../data/index.js')
    const have = data.listKeys(home).filter((k) => k.source === data.SAMPLE_SOURCE)
    if (have.length >= 5 && !options.fresh) return { status: 'reused', detail: `${have.length} sample datasets in the lake` }
    const reports = await data.importSamples(home, join(PROJECT_ROOT, 'data', 'samples'))
    return { status: 'done', detail: `${reports.length} datasets, ${reports.reduce((a, r) => a + r.added, 0)} new bars` }
  })

  // Two notebooks at a time (each has its own kernel process); a notebook is reused when its source is
  // the one of its last good registered version.
  const queue = [...NOTEBOOKS]
  const runOne = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const nb = name
      await step(`notebook ${nb}`, async () => {
        const path = join(PROJECT_ROOT, 'notebooks', `${nb}.ipynb`)
        const { openRegistry } = lazy('../track/index.js') as typeof import('../track/index.js')
        const last = openRegistry(home).list('notebooks').find((e) => e.name === nb)?.versions.at(-1)
        const source = sha256File(path)
        if (!options.fresh && last !== undefined && last.metadata?.sourceSha256 === source && last.metadata?.status === 'ok') {
          return { status: 'reused', detail: `${nb}@${last.version} (source unchanged)` }
        }
        const { runTrackedNotebook } = lazy('./notebook.js') as typeof import('./notebook.js')
        const { defaultRunPath } = lazy('../../kernel/runner.js') as typeof import('../../kernel/runner.js')
        const tracked = await runTrackedNotebook(path, { out: defaultRunPath(path, home), home, experiment: 'notebooks' })
        if (tracked.result.status !== 'ok') throw new Error(`${nb}: ${tracked.result.message ?? tracked.result.status} (run ${tracked.runId})`)
        return { status: 'done', detail: `${nb}@${tracked.notebookVersion}, run ${tracked.runId}, ${(tracked.result.durationMs / 1000).toFixed(1)} s` }
      })
    }
  }
  await Promise.all([runOne(), runOne()])

  await step(`sweep ${SWEEP.strategy} on ${SWEEP.symbol}, best set backtested and registered`, async () => {
    const data = lazy('../data/index.js') as typeof import('../data/index.js')
    const strategies = lazy('../strategy/index.js') as typeof import('../strategy/index.js')
    const { openTracker } = lazy('../track/index.js') as typeof import('../track/index.js')
    const { strategy } = await strategies.loadStrategy(SWEEP.strategy, (p) => lazy(p))
    const snapshot = await data.snapshotId(home, { source: SWEEP.source, symbol: SWEEP.symbol, timeframe: SWEEP.timeframe })
    const key = sha256(JSON.stringify({ ...SWEEP, snapshot, source: strategies.strategySource(strategy).sha256 }))
    const tracker = openTracker(home)
    const previous = state.sweep
    if (!options.fresh && previous !== undefined && previous.key === key) {
      const alive = [previous.runId, previous.backtestRunId].every((id) => {
        try {
          return tracker.getRun(id).info.status === 'FINISHED'
        } catch {
          return false
        }
      })
      if (alive) return { status: 'reused', detail: `sweep ${previous.runId}, best ${fmtParams(previous.best)}, ${SWEEP.strategy}@${previous.strategyVersion}` }
    }
    const common = ['--strategy', SWEEP.strategy, '--symbol', SWEEP.symbol, '--source', SWEEP.source, '--timeframe', SWEEP.timeframe, '--commission', SWEEP.commission, '--experiment', EXPERIMENT, '--json']
    const sweep = (await cli(context, ['sweep', ...common, ...SWEEP.grid.flatMap((g) => ['--grid', g])])) as { runId: string; sets: number; best?: { params: Record<string, number> } }
    if (sweep.best === undefined) throw new Error('the sweep found no parameter set with a finite metric')
    const best = sweep.best.params
    const params = Object.entries(best).flatMap(([k, v]) => ['--param', `${k}=${v}`])
    const backtest = (await cli(context, ['backtest', ...common, ...params])) as { runId: string; metrics: { sharpe: number } }
    const registered = (await cli(context, ['strategy', 'register', SWEEP.strategy, ...params, '--run', backtest.runId, '--run', sweep.runId, '--description', `best of the lifecycle sweep (${sweep.sets} sets) by Sharpe`, '--json'])) as { version: number; parity?: { agree: boolean } }
    await cli(context, ['registry', 'alias', 'strategies', `${SWEEP.strategy}@${registered.version}`, 'champion', '--reason', 'best Sharpe of the lifecycle sweep', '--json'])
    state.sweep = { key, runId: sweep.runId, backtestRunId: backtest.runId, best, strategyVersion: registered.version }
    writeFileAtomic(statePath, `${JSON.stringify(state, null, 2)}\n`)
    return { status: 'done', detail: `${sweep.sets} sets (run ${sweep.runId}); best ${fmtParams(best)} Sharpe ${backtest.metrics.sharpe.toFixed(3)} (run ${backtest.runId}); ${SWEEP.strategy}@${registered.version}${registered.parity?.agree === true ? ', engines agree' : ''}` }
  })

  await step('publish the dashboards', async () => {
    const { publishDashboard } = lazy('./dashboard.js') as typeof import('./dashboard.js')
    const out: string[] = []
    let created = 0
    for (const [name, params] of DASHBOARDS) {
      const published = await publishDashboard(home, name, params)
      if (published.created) created++
      out.push(`${name}@${published.version.version}`)
    }
    return { status: created === 0 ? 'reused' : 'done', detail: out.join(', ') }
  })
  return steps
}

/** Run a CLI verb in this process and return its --json output. */
async function cli(context: CliContext, argv: string[]): Promise<unknown> {
  const { main } = lazy('./main.js') as typeof import('./main.js')
  let out = ''
  let err = ''
  const inner: CliContext = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, home: context.home, verbose: false, exitCode: 0 }
  const code = await main(['--home', context.home, ...argv], inner)
  if (code !== 0) throw new Error(`mtflow ${argv.slice(0, 2).join(' ')} failed (exit ${code}): ${err.trim().split('\n').pop() ?? ''}`)
  return JSON.parse(out) as unknown
}

function fmtParams(params: Record<string, number>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
}
