// Champion selection by explicit rules: every candidate run (a backtest, or one set of a sweep) is checked
// against each rule — minimum Sharpe, maximum drawdown, minimum trades — and the survivors are ranked by
// a metric, one per strategy and parameter set, the top k kept. Each candidate says which rule it failed,
// so a selection can be audited.

import { ConfigError } from '../core/index.js'

export interface SelectionRules {
  /** Ranking metric (default sharpe), higher is better. */
  metric?: string
  minSharpe?: number
  /** Largest drawdown allowed, as a fraction (0.5 = −50 %). */
  maxDrawdown?: number
  minTrades?: number
  /** Champions kept (default 1). */
  topK?: number
}

/** What selection needs of a run (lib/track's RunSummary has it). */
export interface CandidateRun {
  runId: string
  strategy: string
  /** The strategy's own parameters. */
  params: Record<string, number>
  metrics: Record<string, number>
}

export interface Verdict extends CandidateRun {
  passed: boolean
  /** The rules it failed, e.g. "sharpe 0.12 < 0.2". */
  failed: string[]
  rank?: number
}

export function selectChampions(candidates: readonly CandidateRun[], rules: SelectionRules): { champions: Verdict[]; verdicts: Verdict[] } {
  const metric = rules.metric ?? 'sharpe'
  const topK = rules.topK ?? 1
  if (!(Number.isInteger(topK) && topK >= 1)) throw new ConfigError(`top-k must be an integer ≥ 1 (received ${topK})`)
  if (rules.maxDrawdown !== undefined && !(rules.maxDrawdown >= 0 && rules.maxDrawdown <= 1)) throw new ConfigError(`max-drawdown is a fraction in [0, 1] (0.5 = −50 %; received ${rules.maxDrawdown})`)
  for (const [name, v] of [['min-sharpe', rules.minSharpe], ['min-trades', rules.minTrades]] as const) {
    if (v !== undefined && !Number.isFinite(v)) throw new ConfigError(`${name} must be a number (received ${v})`)
  }
  const verdicts: Verdict[] = candidates.map((c) => {
    const failed: string[] = []
    const m = (k: string) => c.metrics[k]
    const value = m(metric)
    if (value === undefined || !Number.isFinite(value)) failed.push(`${metric} missing`)
    if (rules.minSharpe !== undefined && !(m('sharpe')! >= rules.minSharpe)) failed.push(`sharpe ${fmt(m('sharpe'))} < ${rules.minSharpe}`)
    if (rules.maxDrawdown !== undefined && !(m('maxDrawdown')! <= rules.maxDrawdown)) failed.push(`drawdown ${fmt(m('maxDrawdown'))} > ${rules.maxDrawdown}`)
    if (rules.minTrades !== undefined && !(m('trades')! >= rules.minTrades)) failed.push(`trades ${fmt(m('trades'))} < ${rules.minTrades}`)
    return { ...c, passed: failed.length === 0, failed }
  })
  // One per strategy and parameter set (its best run), ranked; ties by run id for a stable order.
  const best = new Map<string, Verdict>()
  for (const v of verdicts.filter((v) => v.passed)) {
    const key = `${v.strategy} ${JSON.stringify(Object.entries(v.params).sort())}`
    const held = best.get(key)
    if (held === undefined || v.metrics[metric]! > held.metrics[metric]!) best.set(key, v)
  }
  const ranked = [...best.values()].sort((a, b) => b.metrics[metric]! - a.metrics[metric]! || a.runId.localeCompare(b.runId))
  ranked.forEach((v, i) => (v.rank = i + 1))
  return { champions: ranked.slice(0, topK), verdicts }
}

function fmt(v: number | undefined): string {
  return v === undefined ? 'missing' : Number.isInteger(v) ? String(v) : v.toFixed(4)
}
