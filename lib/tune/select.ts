// Champion selection by explicit rules: every candidate run (a backtest, a model-gated backtest, or one set
// of a sweep) is checked against each rule — minimum trades, minimum (out-of-sample) Sharpe, maximum
// drawdown, optionally a minimum deflated Sharpe — and the survivors are ranked by a metric, one per
// strategy and parameter set (or model version and threshold), the top k kept. Guardrails are on by
// default; every verdict lists each rule with its value, threshold and outcome, and each survivor carries
// its deflated Sharpe and the number of trials it was selected from, so a selection can be audited.

import { ConfigError } from '../core/index.js'
import { deflatedSharpe } from '../stats/index.js'

/**
 * The rules applied when no option says otherwise (`guardrails: false` drops the ones not given):
 * - minTrades 30: below ~30 closed trades a strategy's win rate, expectancy and trade-level t-statistic
 *   rest on a normal approximation that does not hold yet (the usual central-limit floor; López de Prado's
 *   minimum track record length asks for more when returns are skewed);
 * - minSharpe > 0 (strict), out of sample when the run has such a metric: a run that loses money (or makes
 *   none) out of sample is not a champion however it ranks;
 * - maxDrawdown 0.5: a −50 % drawdown needs +100 % to recover; deeper than that no one runs it at size.
 */
export const GUARDRAILS = Object.freeze({ minTrades: 30, minSharpe: 0, maxDrawdown: 0.5 })

/**
 * Out-of-sample Sharpe metrics a run may carry, the first found is used by the Sharpe rule (a walk-forward
 * or holdout figure, e.g. automl's holdout_sharpe_with); without any, the run's own (in-sample) `sharpe`,
 * and the verdict says which.
 */
export const OOS_SHARPE_METRICS: readonly string[] = ['oosSharpe', 'oos_sharpe', 'holdout.sharpe', 'holdout_sharpe', 'holdout_sharpe_with']

export interface SelectionRules {
  /** Ranking metric (default sharpe), higher is better. */
  metric?: string
  /** Apply GUARDRAILS for every rule not given (default true). */
  guardrails?: boolean
  /** Keep runs whose (out-of-sample) Sharpe is ≥ this (the guardrail default is > 0). */
  minSharpe?: number
  /** Largest drawdown allowed, as a fraction (0.5 = −50 %). */
  maxDrawdown?: number
  minTrades?: number
  /** Keep runs whose deflated Sharpe probability is ≥ this (off unless given). */
  minDsr?: number
  /** Champions kept (default 1). */
  topK?: number
}

/** What PSR/DSR need of a run's returns, per bar (lib/stats returnMoments). */
export interface ReturnMoments {
  /** Per-bar Sharpe: mean / sample standard deviation of the bar returns (not annualised). */
  sharpe: number
  n: number
  skew: number
  /** Non-excess (normal = 3). */
  kurtosis: number
}

/** What selection needs of a run (lib/track's RunSummary has it). */
export interface CandidateRun {
  runId: string
  strategy: string
  /** The strategy's own parameters. */
  params: Record<string, number>
  metrics: Record<string, number>
  /** A model-gated backtest: the registered model version whose signals gated the entries, and its threshold. */
  model?: { name: string; version: number; threshold?: number }
  /** Bars per year behind the run's annualised `sharpe` (annualised = per-bar × √periodsPerYear). */
  periodsPerYear?: number
  /**
   * Its trials group when not the default: the model-gated backtests of one batch (one per pair) were tried
   * side by side and the best kept, so each is a trial of all of them.
   */
  group?: string
  /** A model-gated backtest that starts before its model's training ended (tag mtflow.inSample): a guardrail refuses it. */
  inSample?: boolean
}

export interface RuleCheck {
  rule: 'minTrades' | 'minSharpe' | 'maxDrawdown' | 'minDsr' | 'outOfSample'
  /** The metric read (for minSharpe: the out-of-sample one when the run has it). */
  metric: string
  /** null when the run lacks it (the rule then fails). */
  value: number | null
  op: '≥' | '>' | '≤'
  threshold: number
  passed: boolean
  /** A guardrail default or an option given. */
  origin: 'guardrail' | 'option'
}

/** The deflated Sharpe of a run against the trials it was selected from (Bailey & López de Prado 2014). */
export interface Deflation {
  /** Candidates of the same strategy (or model) in the selection, whatever their verdict, plus the extra trials. */
  trials: number
  /** Sample variance of those trials' per-bar Sharpe ratios (0 with fewer than 2 finite ones). */
  variance: number
  /** The per-bar Sharpe the best of `trials` reaches by luck alone. */
  sr0: number
  /** This run's per-bar Sharpe, bar count, skew and kurtosis, from its returns. */
  sharpe: number
  n: number
  skew: number
  kurtosis: number
  /** P(true Sharpe > sr0) and P(true Sharpe > 0). */
  dsr: number
  psr: number
}

export interface Verdict extends CandidateRun {
  passed: boolean
  /** The rules it failed, e.g. "trades 12 < 30". */
  failed: string[]
  /** Every rule applied, passed or not. */
  checks: RuleCheck[]
  /** Candidates of its strategy (or model) in this selection: the trials it was chosen from. */
  trials: number
  /** Its deflated Sharpe, when it passed the other rules and its returns are known; else null and why in dsrNote. */
  deflated: Deflation | null
  dsrNote?: string
  rank?: number
}

export interface SelectOptions {
  /** A run's bar-return moments (from its equity curve), asked only of runs that pass the other rules. */
  moments?: (c: CandidateRun) => ReturnMoments | undefined
  /**
   * Runs of the same searches that are not candidates (the sets of a sweep a filter left out): trials of
   * their strategy or model all the same — a filter does not undo the search — never selected.
   */
  extraTrials?: readonly CandidateRun[]
}

/** The rules in force: thresholds with where each came from. */
export interface EffectiveRules {
  metric: string
  guardrails: boolean
  topK: number
  minTrades?: { threshold: number; origin: 'guardrail' | 'option' }
  minSharpe?: { threshold: number; strict: boolean; origin: 'guardrail' | 'option' }
  maxDrawdown?: { threshold: number; origin: 'guardrail' | 'option' }
  minDsr?: { threshold: number; origin: 'option' }
}

/** Validate the rules once and fill in the guardrail defaults. */
export function effectiveRules(rules: SelectionRules): EffectiveRules {
  const metric = rules.metric ?? 'sharpe'
  const topK = rules.topK ?? 1
  const guardrails = rules.guardrails ?? true
  if (!(Number.isInteger(topK) && topK >= 1)) throw new ConfigError(`top-k must be an integer ≥ 1 (received ${topK})`)
  if (rules.maxDrawdown !== undefined && !(rules.maxDrawdown >= 0 && rules.maxDrawdown <= 1)) throw new ConfigError(`max-drawdown is a fraction in [0, 1] (0.5 = −50 %; received ${rules.maxDrawdown})`)
  if (rules.minDsr !== undefined && !(rules.minDsr >= 0 && rules.minDsr <= 1)) throw new ConfigError(`min-dsr is a probability in [0, 1] (received ${rules.minDsr})`)
  for (const [name, v] of [['min-sharpe', rules.minSharpe], ['min-trades', rules.minTrades]] as const) {
    if (v !== undefined && !Number.isFinite(v)) throw new ConfigError(`${name} must be a number (received ${v})`)
  }
  const out: EffectiveRules = { metric, guardrails, topK }
  if (rules.minTrades !== undefined) out.minTrades = { threshold: rules.minTrades, origin: 'option' }
  else if (guardrails) out.minTrades = { threshold: GUARDRAILS.minTrades, origin: 'guardrail' }
  if (rules.minSharpe !== undefined) out.minSharpe = { threshold: rules.minSharpe, strict: false, origin: 'option' }
  else if (guardrails) out.minSharpe = { threshold: GUARDRAILS.minSharpe, strict: true, origin: 'guardrail' }
  if (rules.maxDrawdown !== undefined) out.maxDrawdown = { threshold: rules.maxDrawdown, origin: 'option' }
  else if (guardrails) out.maxDrawdown = { threshold: GUARDRAILS.maxDrawdown, origin: 'guardrail' }
  if (rules.minDsr !== undefined) out.minDsr = { threshold: rules.minDsr, origin: 'option' }
  return out
}

/** The Sharpe the Sharpe rule reads: the first out-of-sample metric the run has, else its own `sharpe`. */
export function sharpeMetricOf(metrics: Readonly<Record<string, number>>): string {
  return OOS_SHARPE_METRICS.find((k) => metrics[k] !== undefined) ?? 'sharpe'
}

/** The trials group of a candidate: its batch when it has one, else its model when it is model-gated, else its strategy. */
export function trialGroup(c: CandidateRun): string {
  return c.group ?? (c.model === undefined ? `strategy ${c.strategy}` : `model ${c.model.name}`)
}

export function selectChampions(candidates: readonly CandidateRun[], rules: SelectionRules, options: SelectOptions = {}): { rules: EffectiveRules; champions: Verdict[]; verdicts: Verdict[] } {
  const r = effectiveRules(rules)
  const metric = r.metric
  const groups = new Map<string, CandidateRun[]>()
  for (const c of [...candidates, ...(options.extraTrials ?? [])]) {
    const g = trialGroup(c)
    if (!groups.has(g)) groups.set(g, [])
    groups.get(g)!.push(c)
  }
  const verdicts: Verdict[] = candidates.map((c) => {
    const checks: RuleCheck[] = []
    const failed: string[] = []
    const value = c.metrics[metric]
    if (value === undefined || !Number.isFinite(value)) failed.push(`${metric} missing`)
    const check = (rule: RuleCheck['rule'], key: string, v: number | undefined, op: RuleCheck['op'], threshold: number, origin: RuleCheck['origin']) => {
      const known = v !== undefined && !Number.isNaN(v)
      const passed = known && (op === '≥' ? v >= threshold : op === '>' ? v > threshold : v <= threshold)
      checks.push({ rule, metric: key, value: known ? v : null, op, threshold, passed, origin })
      if (!passed) failed.push(`${key} ${fmt(known ? v : undefined)} ${negate(op)} ${threshold}`)
    }
    if (r.minTrades !== undefined) check('minTrades', 'trades', c.metrics.trades, '≥', r.minTrades.threshold, r.minTrades.origin)
    if (r.minSharpe !== undefined) {
      const key = sharpeMetricOf(c.metrics)
      check('minSharpe', key, c.metrics[key], r.minSharpe.strict ? '>' : '≥', r.minSharpe.threshold, r.minSharpe.origin)
    }
    if (r.maxDrawdown !== undefined) check('maxDrawdown', 'maxDrawdown', c.metrics.maxDrawdown, '≤', r.maxDrawdown.threshold, r.maxDrawdown.origin)
    // A model judged on the bars it learned from says nothing of what it will do: refused with the guardrails.
    if (r.guardrails && c.inSample === true) {
      checks.push({ rule: 'outOfSample', metric: 'inSample', value: 1, op: '≤', threshold: 0, passed: false, origin: 'guardrail' })
      failed.push('in sample: the backtest starts before its model\'s training ended')
    }
    const group = groups.get(trialGroup(c))!
    const verdict: Verdict = { ...c, passed: failed.length === 0, failed, checks, trials: group.length, deflated: null }
    // Deflated only where it can matter: a run already out on another rule is not read.
    if (failed.length === 0) {
      const d = deflate(c, group, options.moments)
      if ('note' in d) verdict.dsrNote = d.note
      else verdict.deflated = d
    } else verdict.dsrNote = 'not computed: failed another rule'
    if (r.minDsr !== undefined && failed.length === 0) check('minDsr', 'dsr', verdict.deflated?.dsr, '≥', r.minDsr.threshold, r.minDsr.origin)
    verdict.passed = failed.length === 0
    return verdict
  })
  // One per strategy and parameter set (or model version and threshold): its best run, ranked; ties by run id.
  const best = new Map<string, Verdict>()
  for (const v of verdicts.filter((v) => v.passed)) {
    const key = v.model === undefined ? `${v.strategy} ${JSON.stringify(Object.entries(v.params).sort())}` : `model ${v.model.name}@${v.model.version} ${v.model.threshold ?? ''}`
    const held = best.get(key)
    if (held === undefined || v.metrics[metric]! > held.metrics[metric]!) best.set(key, v)
  }
  const ranked = [...best.values()].sort((a, b) => b.metrics[metric]! - a.metrics[metric]! || a.runId.localeCompare(b.runId))
  ranked.forEach((v, i) => (v.rank = i + 1))
  return { rules: r, champions: ranked.slice(0, rules.topK ?? 1), verdicts }
}

/**
 * DSR of one run against its group. Sharpe units: the tracked `sharpe` metric is annualised (per-bar ×
 * √periodsPerYear, lib/stats performanceMetrics), DSR works per bar with n bars — so the run's own per-bar
 * Sharpe, n, skew and kurtosis come from its returns, and each trial's Sharpe is divided by √ of its
 * periodsPerYear (a trial without one — a sweep set — shares this run's: the sets of a sweep run on one series).
 */
function deflate(c: CandidateRun, group: readonly CandidateRun[], moments: SelectOptions['moments']): Deflation | { note: string } {
  const m = moments?.(c)
  if (m === undefined) return { note: 'no equity curve to take the returns from (a sweep set logs metrics only: backtest it with tracking to deflate it)' }
  const ppy = c.periodsPerYear
  const perBar: number[] = []
  for (const t of group) {
    const p = t.periodsPerYear ?? ppy
    const s = t.metrics.sharpe
    if (p !== undefined && p > 0 && s !== undefined && Number.isFinite(s)) perBar.push(s / Math.sqrt(p))
  }
  let variance = 0
  if (perBar.length >= 2) {
    const mean = perBar.reduce((a, b) => a + b, 0) / perBar.length
    variance = perBar.reduce((a, b) => a + (b - mean) ** 2, 0) / (perBar.length - 1)
  }
  try {
    const d = deflatedSharpe({ sharpe: m.sharpe, n: m.n, skew: m.skew, kurtosis: m.kurtosis, nTrials: group.length, variance })
    return { trials: group.length, variance, sr0: d.sr0, sharpe: m.sharpe, n: m.n, skew: m.skew, kurtosis: m.kurtosis, dsr: d.dsr, psr: d.psr }
  } catch (error) {
    if (error instanceof ConfigError) return { note: `not computed: ${error.message}` }
    throw error
  }
}

function negate(op: RuleCheck['op']): string {
  return op === '≥' ? '<' : op === '>' ? '≤' : '>'
}

function fmt(v: number | undefined): string {
  return v === undefined ? 'missing' : Number.isInteger(v) ? String(v) : v.toFixed(4)
}
