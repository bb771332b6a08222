// `mtflow select`: champions by explicit rules from the tracked backtests and sweep sets — minimum
// Sharpe, maximum drawdown, minimum trades, the top k by a metric — each registered as a strategy version
// with its parameters and the run that validates it; `--alias` points an alias at each strategy's best.

import { Command } from 'commander'
import { ConfigError } from '../core/index.js'
import type { CandidateRun } from '../tune/select.js'
import { collect, formatTable, lazy, printJson, type CliContext } from './context.js'
import { registerStrategyVersion } from './registry.js'

const num = (v: string | undefined, option: string): number | undefined => {
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${option} must be a number (received ${JSON.stringify(v)})`)
  return n
}

export function selectCommand(context: CliContext): Command {
  return new Command('select')
    .description('pick champion strategies from tracked runs by explicit rules and register them')
    .option('--experiment <name>', 'only runs of this experiment (repeatable; default all)', collect, [] as string[])
    .option('--filter <filter>', "a runs filter narrowing the candidates, e.g. 'params.symbol = \"SPX\"'")
    .option('--metric <name>', 'ranking metric, higher is better', 'sharpe')
    .option('--min-sharpe <x>', 'keep runs with Sharpe ≥ x')
    .option('--max-drawdown <f>', 'keep runs whose maximum drawdown is ≤ f (a fraction: 0.5 = −50 %)')
    .option('--min-trades <n>', 'keep runs with at least n trades')
    .option('--top-k <n>', 'champions kept', '1')
    .option('--alias <name>', "point this alias at each selected strategy's best version")
    .option('--dry-run', 'show the verdicts, register nothing')
    .option('--json', 'print the champions and every verdict as JSON')
    .action(async (o: { experiment: string[]; filter?: string; metric: string; minSharpe?: string; maxDrawdown?: string; minTrades?: string; topK: string; alias?: string; dryRun?: boolean; json?: boolean }) => {
      const track = lazy('../track/index.js') as typeof import('../track/index.js')
      const { selectChampions } = lazy('../tune/select.js') as typeof import('../tune/select.js')
      const { findStrategy } = lazy('../strategy/index.js') as typeof import('../strategy/index.js')
      const rules = { metric: o.metric, minSharpe: num(o.minSharpe, '--min-sharpe'), maxDrawdown: num(o.maxDrawdown, '--max-drawdown'), minTrades: num(o.minTrades, '--min-trades'), topK: num(o.topK, '--top-k') }
      const tracker = new track.Tracker(context.home)
      const kinds = 'tags.`mtflow.kind` in ("backtest", "sweep-set") and attributes.status = "FINISHED"'
      const filter = o.filter === undefined ? kinds : `(${o.filter}) and ${kinds}`
      const found = track.searchRuns(tracker, { experiments: o.experiment.length === 0 ? undefined : o.experiment, filter, maxResults: track.MAX_RESULTS })
      const parents = new Map<string, Record<string, string>>()
      const candidates: CandidateRun[] = []
      for (const r of found.runs) {
        let name = r.tags['mtflow.strategy'] ?? r.params.strategy
        if (name === undefined && r.info.parentRunId !== undefined) {
          if (!parents.has(r.info.parentRunId)) parents.set(r.info.parentRunId, tracker.getRun(r.info.parentRunId).params)
          name = parents.get(r.info.parentRunId)!.strategy
        }
        const strategy = name === undefined ? undefined : findStrategy(name)
        if (strategy === undefined) continue // a strategy file outside the built-ins: register it with `strategy register FILE`
        const params = Object.fromEntries(Object.keys(strategy.params).filter((k) => r.params[k] !== undefined).map((k) => [k, Number(r.params[k])]))
        candidates.push({ runId: r.info.runId, strategy: strategy.name, params, metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, m]) => [k, m.value])) })
      }
      const { champions, verdicts } = selectChampions(candidates, rules)
      const registered: { strategy: string; version: number; runId: string; created: boolean }[] = []
      if (o.dryRun !== true) {
        const reg = new track.Registry(context.home)
        const aliased = new Set<string>()
        for (const c of champions) {
          const v = await registerStrategyVersion(context, c.strategy, { params: c.params, runs: [c.runId], description: `selected: ${o.metric} ${c.metrics[o.metric]}` })
          registered.push({ strategy: c.strategy, version: v.version, runId: c.runId, created: v.created })
          if (o.alias !== undefined && !aliased.has(c.strategy)) {
            reg.setAlias('strategies', c.strategy, o.alias, v.version, `mtflow select: best ${o.metric}`)
            aliased.add(c.strategy)
          }
        }
      }
      if (o.json === true) return printJson(context, { rules, candidates: candidates.length, champions, registered, verdicts })
      context.stdout.write(`${candidates.length} candidate runs; ${verdicts.filter((v) => v.passed).length} pass the rules\n`)
      if (champions.length === 0) {
        context.stdout.write('no champion: no run passes every rule\n')
        context.exitCode = 1
        return
      }
      context.stdout.write(
        formatTable(
          ['rank', 'strategy', 'params', o.metric, 'drawdown', 'trades', 'run', 'registered'],
          champions.map((c, i) => [String(c.rank), c.strategy, Object.entries(c.params).map(([k, v]) => `${k}=${v}`).join(' '), fmt(c.metrics[o.metric]), fmt(c.metrics.maxDrawdown), fmt(c.metrics.trades), c.runId, registered[i] === undefined ? '—' : `${registered[i]!.strategy}@${registered[i]!.version}${registered[i]!.created ? '' : ' (existing)'}`]),
        ),
      )
    })
}

function fmt(v: number | undefined): string {
  return v === undefined ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(4)
}
