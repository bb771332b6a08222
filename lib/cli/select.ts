// `mtflow select`: champions from the tracked backtests, model-gated backtests and sweep sets, by rules —
// guardrails on by default (min trades, min out-of-sample Sharpe, max drawdown; --no-guardrails to opt
// out), optionally a minimum deflated Sharpe — the top k by a metric, each shown with its deflated Sharpe
// and the number of trials. A strategy champion is registered as a strategy version with its parameters
// and run; a model champion gets a model alias (default champion) or a stage pointed at its model version.

import { Command } from 'commander'
import { ConfigError, NotFoundError } from '../core/index.js'
import type { CandidateRun, ReturnMoments, Verdict } from '../tune/select.js'
import { collect, formatTable, lazy, printJson, type CliContext } from './context.js'
import { registerStrategyVersion } from './registry.js'

const num = (v: string | undefined, option: string): number | undefined => {
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${option} must be a number (received ${JSON.stringify(v)})`)
  return n
}

const STAGES = ['Staging', 'Production'] as const

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

type Registered =
  | { kind: 'strategy'; strategy: string; version: number; runId: string; created: boolean }
  | { kind: 'model'; model: string; version: number; runId: string; alias?: string; stage?: string }

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
      const track = lazy('../track/index.js') as typeof import('../track/index.js')
      const tune = lazy('../tune/select.js') as typeof import('../tune/select.js')
      const { findStrategy } = lazy('../strategy/index.js') as typeof import('../strategy/index.js')
      const rules = { metric: o.metric, guardrails: o.guardrails, minSharpe: num(o.minSharpe, '--min-sharpe'), maxDrawdown: num(o.maxDrawdown, '--max-drawdown'), minTrades: num(o.minTrades, '--min-trades'), minDsr: num(o.minDsr, '--min-dsr'), topK: num(o.topK, '--top-k') }
      const effective = tune.effectiveRules(rules) // bad rules refused before any run is read
      if (o.stage !== undefined && !(STAGES as readonly string[]).includes(o.stage)) throw new ConfigError(`--stage must be one of ${STAGES.join(', ')} (received ${JSON.stringify(o.stage)})`)
      const tracker = new track.Tracker(context.home)
      const kinds = 'tags.`mtflow.kind` in ("backtest", "sweep-set") and attributes.status = "FINISHED"'
      const filter = o.filter === undefined ? kinds : `(${o.filter}) and ${kinds}`
      const found = track.searchRuns(tracker, { experiments: o.experiment.length === 0 ? undefined : o.experiment, filter, maxResults: track.MAX_RESULTS })
      const parents = new Map<string, Record<string, string>>()
      const candidates: CandidateRun[] = []
      /** Sweep (parent run) → its strategy, for the sweeps some candidates belong to. */
      const sweeps = new Map<string, string>()
      for (const r of found.runs) {
        let name = r.tags['mtflow.strategy'] ?? r.params.strategy
        if (name === undefined && r.info.parentRunId !== undefined) {
          if (!parents.has(r.info.parentRunId)) parents.set(r.info.parentRunId, tracker.getRun(r.info.parentRunId).params)
          name = parents.get(r.info.parentRunId)!.strategy
        }
        const strategy = name === undefined ? undefined : findStrategy(name)
        const metrics = Object.fromEntries(Object.entries(r.metrics).map(([k, m]) => [k, m.value]))
        const model = modelOf(r.info.runId, r.tags, r.params)
        if (model === undefined && o.models === true) continue
        // A strategy file outside the built-ins: register it with `strategy register FILE` (a model-gated run needs no strategy to point its model).
        if (model === undefined && strategy === undefined) continue
        const params = strategy === undefined ? {} : Object.fromEntries(Object.keys(strategy.params).filter((k) => r.params[k] !== undefined).map((k) => [k, Number(r.params[k])]))
        const ppy = r.tags['mtflow.kind'] === 'backtest' ? periodsPerYear(tracker, r.info.runId) : undefined
        candidates.push({ runId: r.info.runId, strategy: strategy?.name ?? name ?? model!.name, params, metrics, ...(model === undefined ? {} : { model }), ...(ppy === undefined ? {} : { periodsPerYear: ppy }) })
        if (model === undefined && r.tags['mtflow.kind'] === 'sweep-set' && r.info.parentRunId !== undefined) sweeps.set(r.info.parentRunId, strategy!.name)
      }
      // The sets of the same sweeps that the filter left out still count as trials (all the sweep's sets were tried).
      const extraTrials: CandidateRun[] = []
      if (sweeps.size > 0) {
        const taken = new Set(candidates.map((c) => c.runId))
        for (const r of track.searchRuns(tracker, { filter: 'tags.`mtflow.kind` = "sweep-set" and attributes.status = "FINISHED"', maxResults: track.MAX_RESULTS }).runs) {
          const strategy = r.info.parentRunId === undefined ? undefined : sweeps.get(r.info.parentRunId)
          if (strategy === undefined || taken.has(r.info.runId)) continue
          extraTrials.push({ runId: r.info.runId, strategy, params: {}, metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, m]) => [k, m.value])) })
        }
      }
      const moments = (c: CandidateRun): ReturnMoments | undefined => equityMoments(tracker, c.runId)
      const { champions, verdicts } = tune.selectChampions(candidates, rules, { moments, extraTrials })
      const registered: Registered[] = []
      if (o.dryRun !== true && champions.length > 0) {
        const reg = new track.Registry(context.home)
        // Every model version named must exist before anything is written.
        for (const c of champions) {
          if (c.model === undefined) continue
          try {
            reg.resolve('models', `${c.model.name}@${c.model.version}`)
          } catch (error) {
            if (error instanceof NotFoundError) throw new NotFoundError(`champion run ${c.runId} was gated by model ${c.model.name}@${c.model.version}: ${error.message}`, { cause: error })
            throw error
          }
        }
        const aliased = new Set<string>()
        for (const c of champions) {
          const why = reason(o.metric, c)
          if (c.model === undefined) {
            const v = await registerStrategyVersion(context, c.strategy, { params: c.params, runs: [c.runId], description: `selected: ${why}` })
            registered.push({ kind: 'strategy', strategy: c.strategy, version: v.version, runId: c.runId, created: v.created })
            if (o.alias !== undefined && !aliased.has(`s ${c.strategy}`)) {
              reg.setAlias('strategies', c.strategy, o.alias, v.version, `mtflow select: ${why}`)
              aliased.add(`s ${c.strategy}`)
            }
            continue
          }
          const { name, version } = c.model
          const out: Registered = { kind: 'model', model: name, version, runId: c.runId }
          // Only a model's best champion moves its alias or stage (the ranking is best first).
          if (!aliased.has(`m ${name}`)) {
            aliased.add(`m ${name}`)
            reg.linkRuns('models', name, version, [c.runId], `mtflow select: ${why}`)
            const alias = o.alias ?? (o.stage === undefined ? 'champion' : undefined)
            if (alias !== undefined) {
              reg.setAlias('models', name, alias, version, `mtflow select: ${why}`)
              out.alias = alias
            }
            if (o.stage !== undefined) {
              reg.transitionStage(name, version, o.stage as 'Staging' | 'Production', { reason: `mtflow select: ${why}` })
              out.stage = o.stage
            }
          }
          registered.push(out)
        }
      }
      if (champions.length === 0) context.exitCode = 1
      if (o.json === true) return printJson(context, { rules: effective, candidates: candidates.length, champions, registered, verdicts })
      const passing = verdicts.filter((v) => v.passed).length
      context.stdout.write(`${candidates.length} candidate runs; ${passing} pass the rules (${describeRules(effective)})\n`)
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

/** A model-gated backtest's model version: tags mtflow.signals + mtflow.signalsVersion, or param signalsFrom NAME@VERSION. */
function modelOf(runId: string, tags: Record<string, string>, params: Record<string, string>): CandidateRun['model'] {
  const name = tags['mtflow.signals']
  if (name === undefined) return undefined
  let version = tags['mtflow.signalsVersion'] === undefined ? NaN : Number(tags['mtflow.signalsVersion'])
  if (!Number.isInteger(version) && params.signalsFrom !== undefined) version = Number(params.signalsFrom.slice(params.signalsFrom.lastIndexOf('@') + 1))
  if (!(Number.isInteger(version) && version >= 1)) throw new ConfigError(`run ${runId} is tagged mtflow.signals=${name} without a model version (tag mtflow.signalsVersion or param signalsFrom NAME@VERSION)`)
  const threshold = params.probaThreshold === undefined ? undefined : Number(params.probaThreshold)
  return { name, version, ...(threshold === undefined || !Number.isFinite(threshold) ? {} : { threshold }) }
}

/** Bars per year behind a backtest run's annualised metrics (its results.json). */
function periodsPerYear(tracker: import('../track/index.js').Tracker, runId: string): number | undefined {
  let text: string
  try {
    text = tracker.readArtifact(runId, 'results.json').bytes.toString('utf8')
  } catch (error) {
    if (error instanceof NotFoundError) return undefined
    throw error
  }
  const ppy = (JSON.parse(text) as { periodsPerYear?: unknown }).periodsPerYear
  return typeof ppy === 'number' && ppy > 0 && Number.isFinite(ppy) ? ppy : undefined
}

/** Per-bar return moments of a run's equity.csv (undefined without one). */
function equityMoments(tracker: import('../track/index.js').Tracker, runId: string): ReturnMoments | undefined {
  const report = lazy('../report/index.js') as typeof import('../report/index.js')
  const stats = lazy('../stats/index.js') as typeof import('../stats/index.js')
  let text: string
  try {
    text = tracker.readArtifact(runId, 'equity.csv').bytes.toString('utf8')
  } catch (error) {
    if (error instanceof NotFoundError) return undefined
    throw error
  }
  const { equity } = report.readEquityCsv(text, `equity.csv of run ${runId}`)
  if (equity.length < 4) return undefined
  const returns = new Float64Array(equity.length - 1)
  for (let i = 1; i < equity.length; i++) returns[i - 1] = equity[i]! / equity[i - 1]! - 1
  const m = stats.returnMoments(returns)
  return Number.isFinite(m.sharpe) && Number.isFinite(m.skew) && Number.isFinite(m.kurtosis) ? m : undefined
}

/** The audit line: the ranking metric, the Sharpe rule's metric, DSR and trials. */
function reason(metric: string, c: Verdict): string {
  const s = c.checks.find((k) => k.rule === 'minSharpe')
  const d = c.deflated
  return [
    `${metric} ${fmt(c.metrics[metric])}`,
    ...(s === undefined || s.metric === metric ? [] : [`${s.metric} ${fmt(s.value ?? undefined)}`]),
    d === null ? `DSR n/a over ${c.trials} trials` : `DSR ${d.dsr.toFixed(4)} over ${c.trials} trials (per-bar Sharpe ${d.sharpe.toFixed(4)}, trial variance ${d.variance.toExponential(3)})`,
    `run ${c.runId}`,
  ].join(', ')
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
