// `mtflow router build --from TRAIN_RUN --top-k K`: a router model over the best pairs (or symbols) of a
// train run, recorded as a step, registered under one name and moved to a stage — servable with
// `mtflow models serve NAME@Staging`, a row going to the model of its "pair" (or "symbol") field.

import { Command } from 'commander'
import { ConfigError } from '../core/index.js'
import { formatTable, lazy, printJson, type CliContext } from './context.js'

export function routerCommand(context: CliContext): Command {
  const group = new Command('router').description('a router model over the best pairs or symbols, registered and servable')
  group
    .command('build')
    .description('a router over the top K models of a train run by a cross-validated metric: recorded as a step, registered, moved to a stage')
    .requiredOption('--from <run>', 'a `train` run')
    .requiredOption('--top-k <k>', 'routes kept (the K best pairs or symbols)')
    .option('--metric <name>', 'ranking metric of the train summary: rocAuc, prAuc, f1, directionalAccuracy or logLoss (lowest first)', 'rocAuc')
    .option('--pairs <list>', 'only these pairs (Y~X) or symbols may be routed, comma-separated (e.g. the champions select kept)')
    .option('--name <name>', 'registered model name (default <family>-router)')
    .option('--stage <stage>', 'None, Staging, Production or Archived', 'Staging')
    .option('--reason <text>', 'the reason recorded in the registry audit log')
    .option('--json', 'print the run, the registered version and the routes as JSON')
    .action(async (o: { from: string; topK: string; metric: string; pairs?: string; name?: string; stage: string; reason?: string; json?: boolean }) => {
      const topK = Number(o.topK)
      if (!(Number.isInteger(topK) && topK >= 1)) throw new ConfigError(`--top-k must be an integer ≥ 1 (received ${JSON.stringify(o.topK)})`)
      const { routerStep } = lazy('../pipeline/index.js') as typeof import('../pipeline/index.js')
      const r = await routerStep(context.home, {
        from: o.from,
        topK,
        metric: o.metric as import('../pipeline/index.js').RouterMetric,
        stage: o.stage as import('../pipeline/index.js').Stage,
        ...(o.pairs === undefined ? {} : { keys: o.pairs.split(',').map((k) => k.trim()).filter((k) => k !== '') }),
        ...(o.name === undefined ? {} : { name: o.name }),
        ...(o.reason === undefined ? {} : { reason: o.reason }),
      })
      if (o.json === true) return printJson(context, { runId: r.runId, reused: r.reused, name: r.name, version: r.version, created: r.created, stage: r.stage, routes: r.routes })
      context.stdout.write(formatTable(['rank', 'route', o.metric], r.routes.map((x) => [String(x.rank), x.key, x.score.toFixed(4)])))
      context.stdout.write(`${r.reused ? `the same train run and options: run ${r.runId} (reused)` : `saved as run ${r.runId}`}; registered ${r.name}@${r.version}${r.created ? '' : ' (existing)'} at stage ${r.stage}\n`)
    })
  return group
}
