// AutoML for meta-labelling: for each strategy, record its entries (features at the decision, and whether
// each paid after costs), then search model families × their hyperparameters × feature groups with a
// seeded sampler, scoring every candidate by purged k-fold CV on the entries (a training entry whose
// outcome overlaps a test fold is dropped, plus an embargo). The last entries are held out of the whole
// search: the winner is refitted on the searched entries and judged once on them — the classifier's
// scores and the strategy's Sharpe with and without the model — so the reported figures are not the
// maximum of many tries. holdoutVerdict says whether a winner deserves registering: it must trade on the
// holdout and not lower the strategy's holdout Sharpe.

import { ConfigError, Progress, type ProgressSink } from '../core/index.js'
import type { BacktestOptions, BacktestResult } from '../backtest/index.js'
import { FAMILY_SPACES, accuracy, checkFamily, createModel, f1, logLoss, precision, purgedKFold, rocAuc, type Labeled, type Model, type ModelFamily } from '../ml/index.js'
import type { Strategy } from '../strategy/index.js'
import type { ActiveRun } from '../track/index.js'
import type { Executor } from '../exec/index.js'
import { FeatureCatalog } from './entry-features.js'
import { compareOutOfSample, modelGate, recordEntries, type EntryFeatures, type EntryRecord, type OutOfSampleSummary } from './meta-label.js'
import { randomSampler } from './random.js'
import { choice, floatRange, intRange, type Distribution, type ParamSet } from './space.js'
import { createStudy, type Study } from './study.js'
import { tpeSampler } from './tpe.js'
import type { TrialRecord } from './types.js'

/** Metrics AutoML can rank by (rocAuc, accuracy and f1 higher is better; logLoss lower). */
export const AUTOML_METRICS = ['rocAuc', 'logLoss', 'accuracy', 'f1'] as const
export type AutoMLMetric = (typeof AUTOML_METRICS)[number]
/** The classifier families AutoML knows (ridge is a regressor: entries are classified). */
export const AUTOML_FAMILIES: readonly ModelFamily[] = ['tree', 'forest', 'gbt', 'logistic']

export interface AutoMLStrategy {
  strategy: Strategy<any>
  params?: Readonly<Record<string, number | string>>
  /** Name in the results (default: the strategy's). */
  name?: string
}

export interface AutoMLOptions extends Omit<BacktestOptions, 'strategy' | 'params'> {
  strategies: readonly (Strategy<any> | AutoMLStrategy)[]
  /** Default tree, forest, gbt, logistic. */
  families?: readonly string[]
  /** Feature groups searched: names of ENTRY_FEATURE_GROUPS and of `features` (default all of both). */
  groups?: readonly string[]
  /** Your own feature groups: name → a function of the entry's context giving the same fields every time. */
  features?: Readonly<Record<string, EntryFeatures>>
  /** Trials per strategy. */
  budget: number
  /** Purged CV folds (default 5). */
  folds?: number
  /** Entries embargoed after each test fold: a count, or a fraction of the entries below 1 (default 0.01). */
  embargo?: number
  /** The last fraction of entries held out of the search (default 0.25; 0 for none). */
  holdout?: number
  metric?: AutoMLMetric
  /** P(win) at or above which an entry is taken (accuracy, F1, the gated backtest; default 0.5). */
  threshold?: number
  sampler?: 'tpe' | 'random'
  seed?: number
  /** A tracking run: each strategy's search becomes its child, each trial a grandchild. */
  run?: ActiveRun
  progress?: ProgressSink
  /**
   * Cross-validate the trials as jobs on an executor (lib/exec: local threads, or `mtflow worker`
   * processes through BullMQ), `workers` trials at a time: each wave is asked of the sampler together,
   * then told. With one worker the trials are the ones a search in this thread runs.
   */
  executor?: Executor
  /** Trials per wave on an executor (default 4). */
  workers?: number
}

export interface CandidateScore {
  /** Mean over the folds that could be scored. */
  rocAuc: number
  logLoss: number
  accuracy: number
  f1: number
  /** Folds scored (rocAuc skips folds whose test entries are all one class). */
  folds: number
}

export interface AutoMLCandidate {
  family: ModelFamily
  options: Record<string, number | string | boolean>
  groups: string[]
  columns: string[]
}

export interface AutoMLResult {
  name: string
  strategy: string
  params: Record<string, number | string>
  /** Closed entries recorded; of them searched (before the holdout, purged) and held out. */
  entries: number
  searched: number
  heldOut: number
  /** Share of searched entries that paid. */
  winRate: number
  trials: number
  /** Trials that ended in an error (each one's message is in its tracked run). */
  failedTrials: number
  /** Set when the strategy could not be searched (too few entries…); the other fields are then partial. */
  skipped?: string
  best?: AutoMLCandidate & { trial: number; cv: CandidateScore; value: number }
  /** Best trial per family, best first. */
  leaderboard: { family: ModelFamily; trial: number; value: number; options: Record<string, number | string | boolean>; groups: string[] }[]
  /** The winner, refitted on the searched entries. */
  model?: Model
  /** The data the winner was refitted on (for packaging: its signature and hash). */
  training?: Labeled
  /** Judged once, after the search: on the held-out entries, and the strategy's backtest from the holdout start. */
  holdout?: {
    start: number
    entries: number
    wins: number
    rocAuc: number
    accuracy: number
    precision: number
    without: OutOfSampleSummary
    with: OutOfSampleSummary
  }
  runId?: string
}

export interface AutoMLReport {
  metric: AutoMLMetric
  results: AutoMLResult[]
  /** Index in results of the best searched strategy by its CV value (undefined when none was searched). */
  best: number | undefined
}

const MIN_ENTRIES = 20

/** Search models for each strategy's entries; see the file comment. */
export async function automl(o: AutoMLOptions): Promise<AutoMLReport> {
  const families = (o.families ?? AUTOML_FAMILIES).map((f) => {
    const family = checkFamily(f)
    if (!AUTOML_FAMILIES.includes(family)) throw new ConfigError(`${family} is a regressor; automl classifies entries (paid or not): use ${AUTOML_FAMILIES.join(', ')}`)
    return family
  })
  if (families.length === 0) throw new ConfigError(`give at least one model family (${AUTOML_FAMILIES.join(', ')})`)
  const catalog = new FeatureCatalog(o.groups, o.features)
  const groups = catalog.groups
  if (!(Number.isInteger(o.budget) && o.budget >= 1)) throw new ConfigError(`budget must be an integer ≥ 1 trials per strategy (received ${o.budget})`)
  const folds = o.folds ?? 5
  if (!(Number.isInteger(folds) && folds >= 2)) throw new ConfigError(`folds must be an integer ≥ 2 (received ${folds})`)
  const holdout = o.holdout ?? 0.25
  if (!(holdout >= 0 && holdout < 1)) throw new ConfigError(`holdout must be a fraction in [0, 1) of the entries (received ${holdout})`)
  const metric = o.metric ?? 'rocAuc'
  if (!AUTOML_METRICS.includes(metric)) throw new ConfigError(`metric must be one of ${AUTOML_METRICS.join(', ')} (received ${JSON.stringify(metric)})`)
  const threshold = o.threshold ?? 0.5
  if (!(threshold >= 0 && threshold <= 1)) throw new ConfigError(`threshold must be in [0, 1] (received ${threshold})`)
  const embargo = o.embargo ?? 0.01
  if (o.strategies.length === 0) throw new ConfigError('give at least one strategy')
  const seed = o.seed ?? 1
  const specs: AutoMLStrategy[] = o.strategies.map((s) => ('onBar' in s ? { strategy: s } : s))
  const progress = new Progress({ label: 'automl', total: specs.length * o.budget, sink: o.progress })
  const results: AutoMLResult[] = []
  const base: Omit<BacktestOptions, 'strategy' | 'params'> = { ...o }
  for (const k of ['strategies', 'families', 'groups', 'features', 'budget', 'folds', 'embargo', 'holdout', 'metric', 'threshold', 'sampler', 'seed', 'run', 'progress', 'executor', 'workers'] as const) delete (base as Record<string, unknown>)[k]
  for (const spec of specs) {
    const name = spec.name ?? spec.strategy.name
    const backtestOptions: BacktestOptions & { strategy: Strategy<any> } = { ...base, strategy: spec.strategy, ...(spec.params === undefined ? {} : { params: spec.params }) }
    const all = catalog.features()
    const recorded = recordEntries({ ...backtestOptions, features: all })
    const params = { ...recorded.result.strategies[0]!.params } as Record<string, number | string>
    const closed = recorded.entries.filter((e) => Number.isFinite(e.exitTime))
    const result: AutoMLResult = { name, strategy: spec.strategy.name, params, entries: closed.length, searched: 0, heldOut: 0, winRate: NaN, trials: 0, failedTrials: 0, leaderboard: [] }
    results.push(result)
    // The holdout: entries from the cut-off on; the search keeps those whose outcome was known before it.
    const cut = holdout > 0 && closed.length > 0 ? closed[Math.min(closed.length - 1, Math.floor((1 - holdout) * closed.length))]!.time : Infinity
    const searched = closed.filter((e) => e.time < cut && e.exitTime < cut)
    const held = closed.filter((e) => e.time >= cut)
    result.searched = searched.length
    result.heldOut = held.length
    const wins = searched.reduce((a, e) => a + e.label, 0)
    result.winRate = searched.length === 0 ? NaN : wins / searched.length
    const need = Math.max(MIN_ENTRIES, 2 * folds)
    if (searched.length < need || wins < folds || searched.length - wins < folds) {
      result.skipped = searched.length < need ? `${searched.length} entries to search (${need} at least)` : `${wins} of ${searched.length} searched entries paid: each class needs ${folds} at least (one per fold)`
      progress.tick(o.budget, `${name}: skipped`)
      continue
    }
    const splits = purgedKFold({ n: searched.length, k: folds, labelEnd: labelEnds(searched), embargo })
    const empty = splits.findIndex((s) => s.train.length === 0)
    if (empty >= 0) {
      // Long holding periods can purge a fold's every training entry: nothing to learn from there.
      result.skipped = `fold ${empty + 1} of ${folds} has no training entries left after purging (the entries' holding periods overlap it): use fewer folds`
      progress.tick(o.budget, `${name}: skipped`)
      continue
    }
    const child = o.run?.child({ name: `automl ${name}`, params: { strategy: spec.strategy.name, ...prefixed('strategy.', params), entries: closed.length, searched: searched.length, heldOut: held.length }, tags: { 'mtflow.kind': 'automl-strategy' } })
    result.runId = child?.id
    try {
      const space = automlSpace(families, groups)
      const study = createStudy({ direction: metric === 'logLoss' ? 'minimize' : 'maximize', space, sampler: o.sampler === 'random' ? randomSampler({ seed }) : tpeSampler({ seed }), ...(child === undefined ? {} : { run: child }) })
      const scores = new Map<number, CandidateScore>()
      const onTrial = (t: TrialRecord) => progress.tick(1, `${name}: trial ${t.number} ${t.state}${t.values === undefined ? '' : ` ${metric} ${t.values[0]!.toFixed(4)}`}`)
      if (o.executor === undefined) {
        await study.optimize(
          async (trial) => {
            const candidate = decode(trial.params as ParamSet, catalog, seed)
            const score = await crossValidate(candidate, searched, splits, threshold)
            scores.set(trial.number, score)
            const v = score[metric]
            if (!Number.isFinite(v)) throw new ConfigError(`no fold could be scored by ${metric}`)
            return v
          },
          { nTrials: o.budget, onTrial },
        )
      } else await trialsOnExecutor(o.executor, o.workers ?? 4, study, o.budget, { entries: searched, splits, threshold, label: `automl ${name}` }, catalog, seed, metric, scores, onTrial)
      result.trials = study.trials.length
      result.failedTrials = study.trials.filter((t) => t.state === 'failed').length
      const best = study.bestTrial
      if (best === undefined) {
        // Every trial failed (their errors are in their runs): this strategy is a skipped row, the others go on.
        result.skipped = `no trial completed: ${study.trials.map((t) => t.error).filter((e) => e !== undefined)[0] ?? 'every trial failed'}`
        child?.end('FAILED')
        continue
      }
      result.leaderboard = leaderboard(study.trials, catalog, seed, metric)
      const candidate = decode(best.params, catalog, seed)
      result.best = { ...candidate, trial: best.number, cv: scores.get(best.number)!, value: best.values![0]! }
      const training = matrix(searched, candidate.columns)
      const model = await fitModel(candidate, training)
      result.model = model
      result.training = training
      if (held.length > 0) result.holdout = judge(backtestOptions, recorded.result, model, catalog.features(candidate.groups), candidate, held, cut, threshold)
      if (child !== undefined) {
        child.logBatch({
          params: { family: candidate.family, features: candidate.groups.join(','), ...prefixed('model.', candidate.options) },
          metrics: [
            { key: `cv_${metric}`, value: result.best.value },
            ...Object.entries(result.holdout ?? {}).filter((kv): kv is [string, number] => typeof kv[1] === 'number' && kv[0] !== 'start').map(([k, v]) => ({ key: `holdout_${k}`, value: v })),
            ...(result.holdout === undefined ? [] : [{ key: 'holdout_sharpe_without', value: result.holdout.without.sharpe }, { key: 'holdout_sharpe_with', value: result.holdout.with.sharpe }]),
          ].filter((m) => Number.isFinite(m.value)),
        })
        child.end()
      }
    } catch (error) {
      child?.fail(error)
      throw error
    }
  }
  progress.finish()
  let best: number | undefined
  const sign = metric === 'logLoss' ? -1 : 1
  results.forEach((r, i) => {
    if (r.best !== undefined && (best === undefined || sign * r.best.value > sign * results[best]!.best!.value)) best = i
  })
  return { metric, results, best }
}

/** What a winner must show on the holdout to be registered (see holdoutVerdict). */
export interface HoldoutGuardrails {
  /** Gated trades entered in the holdout, at least (default 1: a model that lets nothing through is no winner). */
  minTrades?: number
}

export interface HoldoutVerdict {
  register: boolean
  /** One line: why it is (or is not) registered. */
  reason: string
  /** Each rule with its value, threshold and outcome (empty when there is nothing to judge). */
  checks: { rule: 'minTrades' | 'sharpeVsBaseline'; value: number | null; op: '≥'; threshold: number; passed: boolean }[]
}

/**
 * Whether a strategy's winner deserves registering: judged once on the holdout, it must make at least
 * `minTrades` trades and its gated Sharpe must not be below the unfiltered strategy's on the same holdout
 * (a model that lowers it is worse than no model, whatever its CV score). A baseline without a Sharpe (no
 * return variation) counts as 0. No holdout: nothing to judge it on, so not registered.
 */
export function holdoutVerdict(result: AutoMLResult, guardrails: HoldoutGuardrails = {}): HoldoutVerdict {
  const minTrades = guardrails.minTrades ?? 1
  if (!(Number.isInteger(minTrades) && minTrades >= 0)) throw new ConfigError(`min holdout trades must be an integer ≥ 0 (received ${minTrades})`)
  if (result.model === undefined || result.best === undefined) return { register: false, reason: result.skipped === undefined ? 'no winner' : `skipped: ${result.skipped}`, checks: [] }
  const h = result.holdout
  if (h === undefined) return { register: false, reason: 'no held-out entries to judge the winner on (give a holdout > 0)', checks: [] }
  const baseline = Number.isFinite(h.without.sharpe) ? h.without.sharpe : 0
  const gated = Number.isFinite(h.with.sharpe) ? h.with.sharpe : null
  const checks: HoldoutVerdict['checks'] = [
    { rule: 'minTrades', value: h.with.trades, op: '≥', threshold: minTrades, passed: h.with.trades >= minTrades },
    { rule: 'sharpeVsBaseline', value: gated, op: '≥', threshold: baseline, passed: gated !== null && gated >= baseline },
  ]
  const two = (x: number | null) => (x === null ? 'none' : x.toFixed(2))
  if (!checks[0]!.passed) return { register: false, reason: `${h.with.trades === 0 ? 'trades nothing' : `makes ${h.with.trades} trades`} on the holdout (${minTrades} at least; ${h.without.trades} without the model)`, checks }
  if (!checks[1]!.passed) return { register: false, reason: `lowers the holdout Sharpe: ${two(h.without.sharpe)} without the model → ${two(gated)} with it`, checks }
  return { register: true, reason: `holdout Sharpe ${two(gated)} ≥ ${two(baseline)} without the model, ${h.with.trades} trades`, checks }
}

/** The search space: the family, then each family's hyperparameters (active under it), then one switch per feature group. */
export function automlSpace(families: readonly ModelFamily[], groups: readonly string[]): Record<string, Distribution> {
  const space: Record<string, Distribution> = { family: choice([...families]) }
  for (const f of families) {
    for (const [k, r] of Object.entries(FAMILY_SPACES[f])) {
      const when = families.length > 1 ? { when: { family: f } } : {}
      space[`${f}.${k}`] = 'int' in r ? intRange(r.int[0], r.int[1], { log: r.log === true, ...when }) : 'float' in r ? floatRange(r.float[0], r.float[1], { log: r.log === true, ...when }) : choice([...r.choice], when)
    }
  }
  // With one group there is nothing to choose: it is always on.
  if (groups.length > 1) for (const g of groups) space[`features.${g}`] = choice([true, false])
  return space
}

/** A trial's parameters as a model candidate. No group switched on means all of them (never an empty model). */
export function decode(params: Readonly<ParamSet>, catalog: FeatureCatalog, seed: number): AutoMLCandidate {
  const groups = catalog.groups
  const family = checkFamily(String(params.family))
  const options: Record<string, number | string | boolean> = {}
  for (const [k, v] of Object.entries(params)) if (k.startsWith(`${family}.`)) options[k.slice(family.length + 1)] = v
  if (family === 'tree' || family === 'forest' || family === 'gbt') options.seed = seed
  if (family === 'forest') options.workers = 1
  // The entry features' scales differ by orders of magnitude (returns vs RSI): an L2 penalty needs them standardised.
  if (family === 'logistic') options.standardize = true
  const on = groups.length === 1 ? [...groups] : groups.filter((g) => params[`features.${g}`] === true)
  const chosen = on.length === 0 ? [...groups] : on
  return { family, options, groups: chosen, columns: catalog.columns(chosen) }
}

function prefixed(prefix: string, o: Record<string, number | string | boolean>): Record<string, number | string | boolean> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${prefix}${k}`, v]))
}

/** Each entry's label window in entry rows: the last entry that starts no later than its exit. */
export function labelEnds(entries: readonly EntryRecord[]): Int32Array {
  const out = new Int32Array(entries.length)
  for (let i = 0; i < entries.length; i++) {
    // Entries are in time order: binary search for the last start ≤ this exit (exits need not be in order).
    let lo = i
    let hi = entries.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (entries[mid]!.time <= entries[i]!.exitTime) lo = mid
      else hi = mid - 1
    }
    out[i] = lo
  }
  return out
}

function matrix(entries: readonly EntryRecord[], columns: readonly string[]): Labeled {
  const X = new Float64Array(entries.length * columns.length)
  entries.forEach((e, r) => columns.forEach((c, j) => (X[r * columns.length + j] = e.features[c]!)))
  return { X, rows: entries.length, columns: [...columns], y: entries.map((e) => e.label) }
}

async function fitModel(c: AutoMLCandidate, data: Labeled): Promise<Model> {
  const model = createModel(c.family, 'classification', c.options)
  await model.fit(data)
  return model
}

/** P(paid) for each row (0 when the model never saw a winner). */
function winProbability(model: Model, data: { X: Float64Array; rows: number; columns: string[] }): Float64Array {
  const classes = model.toJSON().classes!
  const positive = classes.indexOf(1)
  const proba = model.predictProba(data)
  return Float64Array.from({ length: data.rows }, (_, r) => (positive < 0 ? 0 : proba[r * classes.length + positive]!))
}

/** What every trial job of one strategy's search shares (lib/tune/jobs.ts, `tune.automlTrial`). */
export interface AutoMLTrialContext {
  entries: readonly EntryRecord[]
  splits: readonly { train: Int32Array; test: Int32Array }[]
  threshold: number
}

/** Waves of `workers` trials: asked together, cross-validated as jobs, told in order. */
async function trialsOnExecutor(
  executor: Executor,
  workers: number,
  study: Study,
  budget: number,
  shared: AutoMLTrialContext & { label: string },
  catalog: FeatureCatalog,
  seed: number,
  metric: AutoMLMetric,
  scores: Map<number, CandidateScore>,
  onTrial: (t: TrialRecord) => void,
): Promise<void> {
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= 256)) throw new ConfigError(`workers must be an integer in [1, 256] (received ${workers})`)
  // Int32Arrays travel as plain arrays (JSON through Redis).
  const context = { entries: shared.entries, splits: shared.splits.map((s) => ({ train: Array.from(s.train), test: Array.from(s.test) })), threshold: shared.threshold }
  let asked = 0
  while (asked < budget) {
    const wave: { trial: ReturnType<Study['ask']>; candidate: AutoMLCandidate }[] = []
    while (wave.length < workers && asked < budget) {
      const trial = study.ask()
      asked++
      wave.push({ trial, candidate: decode(trial.params as ParamSet, catalog, seed) })
    }
    const outcomes = await executor.run<AutoMLCandidate, CandidateScore>({ kind: 'tune.automlTrial', label: shared.label, context, items: wave.map((w) => w.candidate) })
    for (const [k, { trial }] of wave.entries()) {
      const o = outcomes[k]!
      let done: TrialRecord
      if (!o.ok) done = study.tell(trial, { state: 'failed', error: o.error })
      else {
        scores.set(trial.number, o.value)
        const v = o.value[metric]
        done = Number.isFinite(v) ? study.tell(trial, v) : study.tell(trial, { state: 'failed', error: `no fold could be scored by ${metric}` })
      }
      onTrial(done)
    }
  }
}

/** Purged k-fold: each fold's scores on its test entries, averaged over the folds that can be scored. */
export async function crossValidate(c: AutoMLCandidate, entries: readonly EntryRecord[], splits: readonly { train: Int32Array; test: Int32Array }[], threshold: number): Promise<CandidateScore> {
  const sums = { rocAuc: 0, logLoss: 0, accuracy: 0, f1: 0 }
  let aucFolds = 0
  let folds = 0
  for (const s of splits) {
    const train = Array.from(s.train, (i) => entries[i]!)
    const test = Array.from(s.test, (i) => entries[i]!)
    const y = test.map((e) => e.label)
    const trainWins = train.reduce((a, e) => a + e.label, 0)
    // A fold whose training entries all share one outcome predicts its smoothed rate (Laplace: (wins + 1) / (n + 2)),
    // not a certain 0 or 1 that log loss would punish without bound.
    const p = trainWins === 0 || trainWins === train.length ? new Float64Array(test.length).fill((trainWins + 1) / (train.length + 2)) : winProbability(await fitModel(c, matrix(train, c.columns)), matrix(test, c.columns))
    const hard = Array.from(p, (v) => (v >= threshold ? 1 : 0))
    sums.logLoss += logLoss(y, p)
    sums.accuracy += accuracy(y, hard)
    sums.f1 += f1(y, hard)
    folds++
    if (y.includes(0) && y.includes(1)) {
      sums.rocAuc += rocAuc(y, p)
      aucFolds++
    }
  }
  return { rocAuc: aucFolds === 0 ? NaN : sums.rocAuc / aucFolds, logLoss: sums.logLoss / folds, accuracy: sums.accuracy / folds, f1: sums.f1 / folds, folds }
}

function leaderboard(trials: readonly TrialRecord[], catalog: FeatureCatalog, seed: number, metric: AutoMLMetric): AutoMLResult['leaderboard'] {
  const sign = metric === 'logLoss' ? -1 : 1
  const best = new Map<ModelFamily, TrialRecord>()
  for (const t of trials) {
    if (t.state !== 'complete') continue
    const f = String(t.params.family) as ModelFamily
    const b = best.get(f)
    if (b === undefined || sign * t.values![0]! > sign * b.values![0]!) best.set(f, t)
  }
  return [...best.values()]
    .sort((a, b) => sign * (b.values![0]! - a.values![0]!))
    .map((t) => {
      const c = decode(t.params, catalog, seed)
      return { family: c.family, trial: t.number, value: t.values![0]!, options: c.options, groups: c.groups }
    })
}

/** The winner judged once on the held-out entries, and the strategy with and without it from the cut-off. */
function judge(options: BacktestOptions & { strategy: Strategy<any> }, baseline: BacktestResult, model: Model, features: EntryFeatures, c: AutoMLCandidate, held: readonly EntryRecord[], start: number, threshold: number): NonNullable<AutoMLResult['holdout']> {
  const p = winProbability(model, matrix(held, c.columns))
  const y = held.map((e) => e.label)
  const hard = Array.from(p, (v) => (v >= threshold ? 1 : 0))
  const { without, with: gated } = compareOutOfSample(options, modelGate({ model, features, threshold }), start, baseline)
  return {
    start,
    entries: held.length,
    wins: y.filter((v) => v === 1).length,
    rocAuc: y.includes(0) && y.includes(1) ? rocAuc(y, p) : NaN,
    accuracy: accuracy(y, hard),
    precision: precision(y, hard),
    without,
    with: gated,
  }
}
