// Selecting champions from tracked runs (lib/tune/select.ts's rules over what the tracker holds): the
// candidates — backtests, model-gated backtests (tagged mtflow.signals) and sweep sets, each with its
// metrics, its bars per year and, for the deflated Sharpe, its equity curve's return moments — then the
// champions registered: a strategy as a strategy version (by the caller's function: the CLI's registry
// code), a model by pointing an alias or a stage at its version, the audit reason carrying the metric, the
// deflated Sharpe and the number of trials. `mtflow select` and `mtflow pipeline pairs` both call it.

import { ConfigError, NotFoundError } from '../core/index.js'
import { readRunEquity } from '../report/tearsheet-inputs.js'
import { returnMoments } from '../stats/index.js'
import { findStrategy } from '../strategy/index.js'
import { MAX_RESULTS, searchRuns, Tracker, openTracker, openRegistry } from '../track/index.js'
import { effectiveRules, selectChampions, type CandidateRun, type EffectiveRules, type ReturnMoments, type SelectionRules, type Verdict } from './select.js'

export const SELECT_STAGES = ['Staging', 'Production'] as const

export interface SelectRunsOptions {
  experiments?: readonly string[]
  filter?: string
  rules: SelectionRules
  /** Model-gated runs only. */
  models?: boolean
  alias?: string
  stage?: string
  dryRun?: boolean
  /** Registers a strategy champion (required when strategies may win and dryRun is not set). */
  registerStrategy?: (strategy: string, options: { params: Record<string, number>; runs: string[]; description: string }) => Promise<{ version: number; created: boolean }>
}

export type Registered =
  | { kind: 'strategy'; strategy: string; version: number; runId: string; created: boolean }
  | { kind: 'model'; model: string; version: number; runId: string; alias?: string; stage?: string }

export interface SelectRunsResult {
  rules: EffectiveRules
  candidates: number
  champions: Verdict[]
  verdicts: Verdict[]
  registered: Registered[]
}

export async function selectRuns(home: string, o: SelectRunsOptions): Promise<SelectRunsResult> {
  const rules = o.rules
  const metric = rules.metric ?? 'sharpe'
  const effective = effectiveRules(rules) // bad rules refused before any run is read
  if (o.stage !== undefined && !(SELECT_STAGES as readonly string[]).includes(o.stage)) throw new ConfigError(`--stage must be one of ${SELECT_STAGES.join(', ')} (received ${JSON.stringify(o.stage)})`)
  const tracker = openTracker(home)
  const kinds = 'tags.`mtflow.kind` in ("backtest", "sweep-set") and attributes.status = "FINISHED"'
  const filter = o.filter === undefined ? kinds : `(${o.filter}) and ${kinds}`
  const found = searchRuns(tracker, { experiments: o.experiments === undefined || o.experiments.length === 0 ? undefined : [...o.experiments], filter, maxResults: MAX_RESULTS })
  const parents = new Map<string, Record<string, string>>()
  const batches = new Map<string, boolean>()
  const batchOf = (runId: string) => {
    if (!batches.has(runId)) batches.set(runId, tracker.getRun(runId).tags['mtflow.kind'] === 'backtest-batch')
    return batches.get(runId)!
  }
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
    // A model-gated backtest of a batch (backtest --signals-from 'PREFIX.*@REF', one per pair): a trial of the whole batch.
    const batch = model !== undefined && r.info.parentRunId !== undefined && batchOf(r.info.parentRunId) ? `batch ${r.info.parentRunId}` : undefined
    candidates.push({ runId: r.info.runId, strategy: strategy?.name ?? name ?? model!.name, params, metrics, ...(model === undefined ? {} : { model }), ...(ppy === undefined ? {} : { periodsPerYear: ppy }), ...(batch === undefined ? {} : { group: batch }), ...(r.tags['mtflow.inSample'] === 'true' ? { inSample: true } : {}) })
    if (model === undefined && r.tags['mtflow.kind'] === 'sweep-set' && r.info.parentRunId !== undefined) sweeps.set(r.info.parentRunId, strategy!.name)
  }
  // The sets of the same sweeps that the filter left out still count as trials (all the sweep's sets were tried).
  const extraTrials: CandidateRun[] = []
  if (sweeps.size > 0) {
    const taken = new Set(candidates.map((c) => c.runId))
    for (const r of searchRuns(tracker, { filter: 'tags.`mtflow.kind` = "sweep-set" and attributes.status = "FINISHED"', maxResults: MAX_RESULTS }).runs) {
      const strategy = r.info.parentRunId === undefined ? undefined : sweeps.get(r.info.parentRunId)
      if (strategy === undefined || taken.has(r.info.runId)) continue
      extraTrials.push({ runId: r.info.runId, strategy, params: {}, metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, m]) => [k, m.value])) })
    }
  }
  const moments = (c: CandidateRun): ReturnMoments | undefined => equityMoments(tracker, c.runId)
  const { champions, verdicts } = selectChampions(candidates, rules, { moments, extraTrials })
  const registered: Registered[] = []
  if (o.dryRun !== true && champions.length > 0) {
    const reg = openRegistry(home)
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
      const why = reason(metric, c)
      if (c.model === undefined) {
        if (o.registerStrategy === undefined) throw new ConfigError(`strategy champion ${c.strategy} (run ${c.runId}): no way to register strategies here`)
        const v = await o.registerStrategy(c.strategy, { params: c.params, runs: [c.runId], description: `selected: ${why}` })
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
  return { rules: effective, candidates: candidates.length, champions, verdicts, registered }
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
function periodsPerYear(tracker: Tracker, runId: string): number | undefined {
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

/** Per-bar return moments of a run's equity curve (undefined without one). */
function equityMoments(tracker: Tracker, runId: string): ReturnMoments | undefined {
  const curve = readRunEquity(tracker, runId)
  if (curve === undefined) return undefined
  const { equity } = curve
  if (equity.length < 4) return undefined
  const returns = new Float64Array(equity.length - 1)
  for (let i = 1; i < equity.length; i++) returns[i - 1] = equity[i]! / equity[i - 1]! - 1
  const m = returnMoments(returns)
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

function fmt(v: number | undefined): string {
  return v === undefined ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(4)
}
