// `mtflow automl`: for each strategy, search model families × hyperparameters × entry-feature groups
// with purged CV on the strategy's entries (lib/tune/automl.ts), judge the winner once on held-out
// entries, print a per-strategy results table, and register each strategy's winner as a packaged model.

import { Command } from 'commander'
import { ConfigError, isoTime, streamProgressSink } from '../core/index.js'
import type { Bars } from '../data/index.js'
import type { AutoMLMetric, AutoMLResult } from '../tune/automl.js'
import { loadStrategySpec } from './strategy-spec.js'
import { withDateFormat } from './time-flags.js'
import { collect, formatTable, interruptible, lazy, numberFlag, printJson, type CliContext } from './context.js'

const METRIC_NAMES: Record<string, AutoMLMetric> = { 'roc-auc': 'rocAuc', 'log-loss': 'logLoss', accuracy: 'accuracy', f1: 'f1' }

interface AutoMLCli {
  strategies: string[]
  symbol: string[]
  timeframe: string
  source?: string
  start?: string
  end?: string
  cash: string
  commission: string
  slippageBps: string
  models: string
  features?: string
  budget: string
  folds: string
  embargo: string
  holdout: string
  metric: string
  threshold: string
  sampler: string
  seed: string
  name: string
  alias?: string
  register: boolean
  guardrails: boolean
  minHoldoutTrades: string
  track: boolean
  executor?: string
  redis?: string
  workers: string
  experiment: string
  json?: boolean
}

function number(option: string, value: string, check: (n: number) => boolean, expected: string): number {
  return numberFlag(value, option, expected, check)!
}

const list = (values: string[]) => values.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '')

export function automlCommand(context: CliContext): Command {
  return withDateFormat(new Command('automl')
    .description("search model families × hyperparameters × feature groups with purged CV on each strategy's entries (meta-labelling); register the winners that trade on the holdout without lowering its Sharpe")
    .option('--strategies <names>', 'built-in strategies, files, or registered versions NAME@VERSION|ALIAS (comma-separated or repeated)', collect, [] as string[])
    .option('--symbol <symbols>', 'symbol(s) in the lake the strategies trade; comma-separated or repeated', collect, [] as string[])
    .option('--timeframe <tf>', 'timeframe in the lake', '1d')
    .option('--source <name>', 'source in the lake (default: the only one holding each symbol)')
    .option('--start <time>', 'first bar (ISO date/time, UTC)')
    .option('--end <time>', 'last bar (inclusive)'))
    .option('--cash <amount>', 'starting capital', '100000')
    .option('--commission <rate>', 'commission rate on notional, e.g. 0.0005 = 0.05 %', '0')
    .option('--slippage-bps <bps>', 'slippage on market and stop fills, basis points', '0')
    .option('--models <families>', 'model families to search: tree, forest, gbt, logistic', 'tree,forest,gbt,logistic')
    .option('--features <groups>', 'entry-feature groups to search: momentum, trend, volatility, reversion, volume (default all)')
    .option('--budget <n>', 'trials per strategy', '30')
    .option('--folds <k>', 'purged CV folds', '5')
    .option('--embargo <n>', 'entries embargoed after each test fold: a count, or a fraction below 1', '0.01')
    .option('--holdout <f>', 'fraction of the latest entries kept out of the search and judged once (0: none)', '0.25')
    .option('--metric <name>', 'CV metric to optimise: roc-auc, log-loss, accuracy, f1', 'roc-auc')
    .option('--threshold <p>', 'P(win) at or above which an entry is taken', '0.5')
    .option('--sampler <kind>', 'tpe or random', 'tpe')
    .option('--seed <n>', 'seed of the sampler and the models', '1')
    .option('--executor <name>', 'cross-validate trials on: local (worker threads) or bullmq (`mtflow worker` processes through Redis); default: this thread')
    .option('--redis <url>', 'Redis of the bullmq executor (default $MTFLOW_REDIS_URL)')
    .option('--workers <n>', 'trials at a time on the executor (threads of the local one)', '4')
    .option('--name <prefix>', 'winners are registered as PREFIX-STRATEGY (PREFIX-STRATEGY-vN for a registered version)', 'automl')
    .option('--alias <name>', "point this alias at each registered winner")
    .option('--no-register', 'register nothing')
    .option('--min-holdout-trades <n>', 'a winner is registered only with at least n gated trades on the holdout', '1')
    .option('--no-guardrails', "register each winner even if it lowers the strategy's holdout Sharpe or trades nothing there")
    .option('--experiment <name>', 'the experiment the run is tracked in', 'automl')
    .option('--no-track', 'do not record a tracked run')
    .option('--json', 'print the results as JSON')
    .action(async (o: AutoMLCli) => {
      // Every option checked before any data is read.
      const specs = list(o.strategies)
      if (specs.length === 0) throw new ConfigError('--strategies is required: built-in names (see mtflow backtest --list), strategy files or registered NAME@VERSION')
      const symbols = list(o.symbol)
      if (symbols.length === 0) throw new ConfigError('--symbol is required (a symbol in the lake; comma-separated or repeated for several)')
      const tune = lazy('../tune/index.js') as typeof import('../tune/index.js')
      const ml = lazy('../ml/index.js') as typeof import('../ml/index.js')
      const families = list([o.models])
      if (families.length === 0) throw new ConfigError(`--models needs at least one family (${tune.AUTOML_FAMILIES.join(', ')})`)
      for (const f of families) {
        if (!(ml.MODEL_FAMILIES as readonly string[]).includes(f)) throw new ConfigError(`--models: unknown model family ${JSON.stringify(f)} (known: ${tune.AUTOML_FAMILIES.join(', ')})`)
        if (!(tune.AUTOML_FAMILIES as readonly string[]).includes(f)) throw new ConfigError(`--models: ${f} is a regressor; automl classifies entries (paid or not): use ${tune.AUTOML_FAMILIES.join(', ')}`)
      }
      const groups = o.features === undefined ? undefined : list([o.features])
      if (groups !== undefined) new tune.FeatureCatalog(groups) // unknown names refused here, before the work
      const metric = METRIC_NAMES[o.metric]
      if (metric === undefined) throw new ConfigError(`--metric must be one of ${Object.keys(METRIC_NAMES).join(', ')} (received ${JSON.stringify(o.metric)})`)
      if (o.sampler !== 'tpe' && o.sampler !== 'random') throw new ConfigError(`--sampler must be tpe or random (received ${JSON.stringify(o.sampler)})`)
      const budget = number('--budget', o.budget, (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1')
      const folds = number('--folds', o.folds, (n) => Number.isInteger(n) && n >= 2, 'an integer ≥ 2')
      const embargo = number('--embargo', o.embargo, (n) => n >= 0 && (n < 1 || Number.isInteger(n)), 'a count of entries, or a fraction below 1')
      const holdout = number('--holdout', o.holdout, (n) => n >= 0 && n < 1, 'a fraction in [0, 1)')
      const threshold = number('--threshold', o.threshold, (n) => n >= 0 && n <= 1, 'a probability in [0, 1]')
      const seed = number('--seed', o.seed, (n) => Number.isInteger(n), 'an integer')
      const minHoldoutTrades = number('--min-holdout-trades', o.minHoldoutTrades, (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0')
      const cash = number('--cash', o.cash, (n) => n > 0, 'an amount > 0')
      const commission = number('--commission', o.commission, (n) => n >= 0 && n < 1, 'a rate on notional in [0, 1), e.g. 0.0005 for 0.05 %')
      const slippageBps = number('--slippage-bps', o.slippageBps, (n) => n >= 0, 'basis points ≥ 0')
      const workers = number('--workers', o.workers, (n) => Number.isInteger(n) && n >= 1 && n <= 256, 'an integer in [1, 256]')!
      const executorName = o.executor ?? process.env.MTFLOW_EXECUTOR
      if (executorName !== undefined && executorName !== 'local' && executorName !== 'bullmq') throw new ConfigError(`--executor must be local or bullmq (received ${JSON.stringify(executorName.slice(0, 40))})`)
      if (o.redis !== undefined && executorName !== 'bullmq') throw new ConfigError('--redis goes with --executor bullmq')
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(o.name)) throw new ConfigError(`--name must be letters, digits, '.', '_' or '-' (received ${JSON.stringify(o.name)})`)

      const strategiesApi = lazy('../strategy/index.js') as typeof import('../strategy/index.js')
      const track = lazy('../track/index.js') as typeof import('../track/index.js')
      const data = lazy('../data/index.js') as typeof import('../data/index.js')
      const loaded = await Promise.all(specs.map(async (spec) => {
        const at = spec.indexOf('@')
        if (at < 0) {
          const found = await strategiesApi.loadStrategy(spec, (path) => lazy(path))
          return { ...found, ref: found.strategy.name, params: undefined }
        }
        // A registered version: the built-in when its source is the registered one, else the registered source.
        const found = await loadStrategySpec(context.home, spec)
        return { strategy: found.strategy, file: found.file, ref: `${found.version!.name}@${found.version!.version}`, params: found.params as Record<string, number> | undefined }
      }))
      const refs = loaded.map((l) => l.ref)
      const twice = refs.find((r, i) => refs.indexOf(r) !== i)
      if (twice !== undefined) throw new ConfigError(`--strategies names ${twice} twice (a strategy, or one version of it, once)`)
      // Each strategy's data: the series its universe asks for.
      const datasets: Record<string, Bars> = {}
      for (const { strategy, params } of loaded) {
        const p = strategiesApi.resolveParams(`strategy ${strategy.name}`, strategy.params, params ?? {}) as Record<string, number>
        for (const sub of strategy.universe(p, { symbols, timeframe: o.timeframe })) {
          const key = `${sub.symbol}@${sub.timeframe}`
          if (datasets[key] !== undefined) continue
          const bars = await data.loadBars(context.home, { symbol: sub.symbol, timeframe: sub.timeframe, source: o.source, start: o.start, end: o.end })
          if (bars.time.length === 0) throw new ConfigError(`no bars for ${sub.symbol} ${sub.timeframe} between ${o.start ?? 'the start'} and ${o.end ?? 'the end'}`)
          datasets[key] = bars
        }
      }
      // Redis first: an unreachable one is said within 5 s, before the search.
      const exec = lazy('../exec/index.js') as typeof import('../exec/index.js')
      const executor = executorName === undefined ? undefined : interruptible(await exec.createExecutor({ executor: executorName, threads: workers, redis: o.redis, onNotice: (line) => context.stderr.write(`${line}\n`) }))
      const tracker = o.track ? track.openTracker(context.home) : undefined
      const run = tracker?.startRun({
        experiment: o.experiment,
        name: `automl ${loaded.map((l) => l.ref).join(',')} ${symbols.join(',')} ${o.timeframe}`,
        params: { strategies: loaded.map((l) => l.ref).join(','), symbols: symbols.join(','), timeframe: o.timeframe, models: families.join(','), features: groups?.join(',') ?? 'all', budget, folds, embargo, holdout, metric, threshold, sampler: o.sampler, seed, commission, slippageBps, cash },
        tags: { 'mtflow.source': 'cli', 'mtflow.kind': 'automl' },
      })
      let report: import('../tune/automl.js').AutoMLReport
      try {
        report = await tune.automl({
          strategies: loaded.map((l) => ({ strategy: l.strategy, name: l.ref, ...(l.params === undefined ? {} : { params: l.params }) })),
          symbols,
          timeframe: o.timeframe,
          data: (symbol, timeframe) => datasets[`${symbol}@${timeframe}`]!,
          cash,
          fills: { takerRate: commission, slippageBps },
          families,
          ...(groups === undefined ? {} : { groups }),
          budget,
          folds,
          embargo,
          holdout,
          metric,
          threshold,
          sampler: o.sampler,
          seed,
          ...(run === undefined ? {} : { run }),
          ...(executor === undefined ? {} : { executor, workers }),
          progress: o.json === true ? undefined : streamProgressSink(context.stderr),
        })
      } catch (error) {
        run?.fail(error)
        throw error
      } finally {
        await executor?.close()
      }
      const registered: { strategy: string; model: string; version: number; created: boolean }[] = []
      // Each winner judged on the holdout: registered only if it trades there and does not lower the strategy's Sharpe.
      const verdicts = report.results.map((r) => tune.holdoutVerdict(r, { minTrades: minHoldoutTrades }))
      const refused: { strategy: string; reason: string }[] = []
      if (o.register) {
        const registry = new track.Registry(context.home)
        for (const [i, r] of report.results.entries()) {
          if (r.model === undefined || r.best === undefined) continue
          if (o.guardrails && !verdicts[i]!.register) {
            refused.push({ strategy: r.name, reason: verdicts[i]!.reason })
            continue
          }
          // cv_*: the winner's CV scores — the best of the trials, so optimistic; holdout_*: judged once, after the search.
          const cv = Object.fromEntries(Object.entries(r.best.cv).map(([k, v]) => [k === 'folds' ? 'cv_folds' : `cv_${k}`, v]))
          const holdoutMetrics = r.holdout === undefined ? {} : { holdout_entries: r.holdout.entries, holdout_rocAuc: r.holdout.rocAuc, holdout_accuracy: r.holdout.accuracy, holdout_sharpe_without: r.holdout.without.sharpe, holdout_sharpe_with: r.holdout.with.sharpe }
          const metrics = Object.fromEntries(Object.entries({ ...cv, cv_trials: r.trials, ...holdoutMetrics }).filter(([, v]) => Number.isFinite(v)))
          const pkg = ml.packageModel(r.model, {
            data: r.training!,
            label: 'paid',
            metrics,
            ...(r.runId === undefined ? {} : { runId: r.runId }),
            description: `automl meta-label model for ${r.name} ${JSON.stringify(r.params)} on ${symbols.join(',')} ${o.timeframe}: ${r.best.family}, entry features ${r.best.groups.join('+')} (lib/tune entryFeatures); P(entry pays). Best CV ${metric} of ${r.trials} trials; fitted on the ${r.searched} entries closed before ${r.holdout === undefined ? 'the end' : isoTime(r.holdout.start).slice(0, 10)}`,
          })
          const model = `${o.name}-${r.name.replace('@', '-v')}`
          const v = ml.registerPackage(registry, model, pkg, o.alias === undefined ? {} : { alias: o.alias })
          registered.push({ strategy: r.name, model, version: v.version, created: v.created })
        }
      }
      const best = report.best === undefined ? undefined : report.results[report.best]
      if (run !== undefined) {
        if (best?.best !== undefined) run.logMetric(`best_cv_${metric}`, best.best.value)
        run.setTag('mtflow.automl.best', best === undefined ? '' : best.name)
        run.end()
      }
      // No champion (nothing searchable, or every winner refused by the guardrails) exits 1, as select does.
      const noneRegistered = o.register && registered.length === 0 && refused.length > 0
      if (best === undefined || noneRegistered) context.exitCode = 1
      if (o.json === true) {
        return printJson(context, {
          metric,
          best: best?.name ?? null,
          guardrails: o.guardrails ? { minHoldoutTrades, holdoutSharpe: 'gated ≥ unfiltered' } : null,
          results: report.results.map((r, i) => {
            const reg = registered.find((x) => x.strategy === r.name)
            return {
              ...r,
              model: undefined,
              training: undefined,
              holdout: r.holdout === undefined ? undefined : { ...r.holdout, start: isoTime(r.holdout.start) },
              registration: { registered: reg === undefined ? null : { model: reg.model, version: reg.version }, eligible: verdicts[i]!.register, reason: verdicts[i]!.reason, checks: verdicts[i]!.checks },
            }
          }),
          registered,
          ...(run === undefined ? {} : { runId: run.id, experiment: run.experimentId }),
        })
      }
      context.stdout.write(resultsTable(report.results, metric, registered, refused))
      if (best === undefined) return void context.stdout.write('no strategy could be searched (see the skipped rows)\n')
      for (const x of refused) context.stdout.write(`not registered: ${x.strategy} — its winner ${x.reason} (--no-guardrails registers it anyway)\n`)
      context.stdout.write(`best: ${best.name} — ${best.best!.family} on ${best.best!.groups.join('+')}, CV ${metric} ${best.best!.value.toFixed(4)}${registered.length === 0 ? '' : `; registered ${registered.map((r) => `${r.model}@${r.version}`).join(', ')}`}\n`)
      if (noneRegistered) context.stdout.write('no winner registered: each one lowers its strategy\'s holdout Sharpe or trades too little there\n')
      if (run !== undefined) context.stdout.write(`run: ${run.id} (experiment ${run.experimentId}; mtflow runs show ${run.id})\n`)
    })
}

const f = (x: number | undefined, d = 3) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d))

function resultsTable(results: readonly AutoMLResult[], metric: AutoMLMetric, registered: readonly { strategy: string; model: string; version: number }[], refused: readonly { strategy: string }[]): string {
  return formatTable(
    ['strategy', 'entries (search/holdout)', 'win rate (searched)', 'best model', 'features', `CV ${metric}`, 'holdout AUC', 'holdout Sharpe without → with', 'trades without → with', 'registered'],
    results.map((r) => {
      const reg = registered.find((x) => x.strategy === r.name)
      if (r.skipped !== undefined) return [r.name, `${r.searched}/${r.heldOut}`, f(r.winRate), `skipped: ${r.skipped}`, '', '', '', '', '', '']
      const h = r.holdout
      return [
        r.name,
        `${r.searched}/${r.heldOut}`,
        f(r.winRate),
        `${r.best!.family} ${Object.entries(r.best!.options).filter(([k]) => k !== 'seed' && k !== 'workers' && k !== 'standardize').map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(3) : v}`).join(' ')}`,
        r.best!.groups.join('+'),
        f(r.best!.value, 4),
        f(h?.rocAuc),
        h === undefined ? '—' : `${f(h.without.sharpe, 2)} → ${f(h.with.sharpe, 2)}`,
        h === undefined ? '—' : `${h.without.trades} → ${h.with.trades}`,
        reg !== undefined ? `${reg.model}@${reg.version}` : refused.some((x) => x.strategy === r.name) ? 'no (see below)' : '—',
      ]
    }),
  )
}
