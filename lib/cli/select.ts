// `mtflow select`: champions from the tracked backtests, model-gated backtests and sweep sets, by rules —
// guardrails on by default (min trades, min out-of-sample Sharpe, max drawdown; --no-guardrails to opt
// out), optionally a minimum deflated Sharpe — the top k by a metric, each shown with its deflated Sharpe
// and the number of trials. A strategy champion is registered as a strategy version with its parameters
// and run; a model champion gets a model alias (default champion) or a stage pointed at its model version.

import { Command } from 'commander'
import { collect, formatTable, lazy, numberFlag, printJson, type CliContext } from './context.js'
import { registerStrategyVersion } from './registry.js'

const num = (v: string | undefined, option: string): number | undefined => numberFlag(v, option, 'a number')

interface SelectCli {
  experiment: string[]
  filter?: string
  metric: string
  minSharpe?: string
  maxDrawdown?: string
  minTrades?: string
  minDsr?: string
  guardrails: boolean
  topK: string
  models?: boolean
  alias?: string
  stage?: string
  dryRun?: boolean
  json?: boolean
}


export function selectCommand(context: CliContext): Command {
  return new Command('select')
    .description('pick champion strategies and models from tracked runs by rules (guardrails on by default) and register them')
    .option('--experiment <name>', 'only runs of this experiment (repeatable; default all)', collect, [] as string[])
    .option('--filter <filter>', "a runs filter narrowing the candidates, e.g. 'params.symbol = \"SPX\"'")
    .option('--metric <name>', 'ranking metric, higher is better', 'sharpe')
    .option('--min-trades <n>', 'keep runs with at least n trades (guardrail default 30)')
    .option('--min-sharpe <x>', 'keep runs whose Sharpe — out of sample when the run has one — is ≥ x (guardrail default > 0)')
    .option('--max-drawdown <f>', 'keep runs whose maximum drawdown is ≤ f, a fraction: 0.5 = −50 % (guardrail default 0.5)')
    .option('--min-dsr <p>', 'keep runs whose deflated Sharpe probability is ≥ p (off by default)')
    .option('--no-guardrails', 'apply only the rules given (no default min trades, min Sharpe, max drawdown)')
    .option('--top-k <n>', 'champions kept', '1')
    .option('--models', 'select among model-gated backtests only (runs tagged mtflow.signals); they are picked up anyway when present')
    .option('--alias <name>', "point this alias at each selected strategy's (or model's) best version; models default to champion")
    .option('--stage <stage>', 'move each selected model version to Staging or Production (models only)')
    .option('--dry-run', 'show the verdicts, register nothing')
    .option('--json', 'print the rules, the champions and every verdict as JSON')
    .action(async (o: SelectCli) => {
      const rules = { metric: o.metric, guardrails: o.guardrails, minSharpe: num(o.minSharpe, '--min-sharpe'), maxDrawdown: num(o.maxDrawdown, '--max-drawdown'), minTrades: num(o.minTrades, '--min-trades'), minDsr: num(o.minDsr, '--min-dsr'), topK: num(o.topK, '--top-k') }
      const { selectRuns } = lazy('../tune/select-runs.js') as typeof import('../tune/select-runs.js')
      const { rules: effective, candidates: candidateCount, champions, verdicts, registered } = await selectRuns(context.home, {
        experiments: o.experiment,
        ...(o.filter === undefined ? {} : { filter: o.filter }),
        rules,
        ...(o.models === true ? { models: true } : {}),
        ...(o.alias === undefined ? {} : { alias: o.alias }),
        ...(o.stage === undefined ? {} : { stage: o.stage }),
        ...(o.dryRun === true ? { dryRun: true } : {}),
        registerStrategy: (strategy, options) => registerStrategyVersion(context, strategy, options),
      })
      if (champions.length === 0) context.exitCode = 1
      if (o.json === true) return printJson(context, { rules: effective, candidates: candidateCount, champions, registered, verdicts })
      const passing = verdicts.filter((v) => v.passed).length
      context.stdout.write(`${candidateCount} candidate runs; ${passing} pass the rules (${describeRules(effective)})\n`)
      if (champions.length === 0) {
        context.stdout.write('no champion: no run passes every rule\n')
        const near = verdicts.filter((v) => !v.passed).slice(0, 5)
        for (const v of near) context.stdout.write(`  ${v.runId} ${v.model === undefined ? v.strategy : `${v.model.name}@${v.model.version}`}: ${v.failed.join('; ')}\n`)
        return
      }
      context.stdout.write(
        formatTable(
          ['rank', 'candidate', 'params', o.metric, 'Sharpe rule', 'drawdown', 'trades', 'DSR', 'trials', 'run', 'registered'],
          champions.map((c) => {
            const sharpeCheck = c.checks.find((k) => k.rule === 'minSharpe')
            const reg = registered.find((x) => x.runId === c.runId)
            return [
              String(c.rank),
              c.model === undefined ? c.strategy : `${c.model.name}@${c.model.version}`,
              c.model === undefined ? Object.entries(c.params).map(([k, v]) => `${k}=${v}`).join(' ') : `threshold=${c.model.threshold ?? '—'}`,
              fmt(c.metrics[o.metric]),
              sharpeCheck === undefined ? '—' : `${sharpeCheck.metric} ${fmt(sharpeCheck.value ?? undefined)}`,
              fmt(c.metrics.maxDrawdown),
              fmt(c.metrics.trades),
              c.deflated === null ? '—' : c.deflated.dsr.toFixed(3),
              String(c.trials),
              c.runId,
              reg === undefined ? '—' : reg.kind === 'strategy' ? `${reg.strategy}@${reg.version}${reg.created ? '' : ' (existing)'}` : `${reg.model}@${reg.version}${reg.alias === undefined ? '' : ` @${reg.alias}`}${reg.stage === undefined ? '' : ` ${reg.stage}`}`,
            ]
          }),
        ),
      )
      const notes = champions.filter((c) => c.deflated === null && c.dsrNote !== undefined)
      for (const c of notes) context.stdout.write(`DSR of ${c.runId}: ${c.dsrNote}\n`)
    })
}

function describeRules(r: import('../tune/select.js').EffectiveRules): string {
  const parts: string[] = []
  if (r.minTrades !== undefined) parts.push(`trades ≥ ${r.minTrades.threshold}`)
  if (r.minSharpe !== undefined) parts.push(`Sharpe ${r.minSharpe.strict ? '>' : '≥'} ${r.minSharpe.threshold}`)
  if (r.maxDrawdown !== undefined) parts.push(`drawdown ≤ ${r.maxDrawdown.threshold}`)
  if (r.minDsr !== undefined) parts.push(`DSR ≥ ${r.minDsr.threshold}`)
  return parts.length === 0 ? 'no rules' : `${r.guardrails ? 'guardrails: ' : ''}${parts.join(', ')}`
}

function fmt(v: number | undefined): string {
  return v === undefined ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(4)
}
