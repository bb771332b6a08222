// The reoptimise job: a persistent study (a workspace study, <home>/studies/<name>.jsonl, resumed by every
// run of the job) over the champion strategy's parameter space, warm-started by enqueuing the champion's
// own parameters as the run's first trial, each trial a backtest on the lake's bars from `start` to the
// run's start. The best parameters of this run (trials of earlier runs saw older windows: they warm-start
// the sampler only) are registered as a strategy version (the champion's source, params.json with them)
// and aliased `challenger` — when they beat the champion's own trial on today's window. When none does,
// the alias stays where it is: it once moved to the champion's own version every run, demoting a better
// challenger found before, with a no-op entry in the audit log each time (an operations review).

import { ConfigError } from '../core/index.js'
import { backtest } from '../backtest/index.js'
import { loadBars } from '../data/index.js'
// launch.ts, not lib/live's index: the one function that loads a registered strategy version's module.
import { deploymentStrategy } from '../live/launch.js'
import type { ModuleLoader } from '../strategy/index.js'
import { createStudy, spaceFromParamSpace, TrialPruned } from '../tune/index.js'
import { openRegistry } from '../track/index.js'

export type ReoptimiseMetric = 'sharpe' | 'sortino' | 'calmar' | 'totalReturn' | 'cagr'

export interface ReoptimiseOptions {
  strategy: string
  symbol: string
  timeframe: string
  source?: string
  /** Trials this run adds (default 20). */
  trials?: number
  metric?: ReoptimiseMetric
  /** First bar searched (ISO); default: the lake's first. */
  start?: string
  /** The window's end (epoch ms): the run's start. */
  now: number
  seed?: number
  commission?: number
  cash?: number
  /** The study's name (reopened by every run). */
  study: string
  /** The params searched and their ranges (default: all, over the strategy's ranges); the others keep the champion's values. */
  search?: Record<string, [number, number]>
  from?: string
  alias?: string
  by?: string
  load?: ModuleLoader
  /**
   * No trial starts after this many ms (the job's timeoutMs): the trials run on the scheduler's thread, so the
   * scheduler's own time limit cannot stop them; the run ends with the trials it had (an operations review:
   * a job of 400 trials with timeoutMs 1000 ran 18.9 s and held every other job back).
   */
  timeoutMs?: number
}

export interface ReoptimiseResult {
  strategy: string
  fromVersion: number
  version: number
  created: boolean
  /** Whether the alias was set: false when no trial beat the champion's own on this window (the alias stays where it was). */
  moved: boolean
  alias: string
  params: Record<string, number>
  value: number
  championValue: number
  trials: number
}

export async function reoptimiseStrategy(home: string, o: ReoptimiseOptions): Promise<ReoptimiseResult> {
  const from = o.from ?? 'champion'
  const alias = o.alias ?? 'challenger'
  const metric = o.metric ?? 'sharpe'
  const trials = o.trials ?? 20
  const registry = openRegistry(home)
  const champion = registry.resolve('strategies', `${o.strategy}@${from}`)
  const strategy = await deploymentStrategy(registry, { name: champion.name, version: champion.version, sha256: champion.sha256 }, o.load ?? ((path) => import(path)))
  const championParams: Record<string, number> = { ...Object.fromEntries(Object.entries(strategy.params).map(([k, d]) => [k, (d as { default: number }).default])), ...((champion.params ?? {}) as Record<string, number>) }
  const bars = await loadBars(home, { symbol: o.symbol, timeframe: o.timeframe, ...(o.source === undefined ? {} : { source: o.source }), ...(o.start === undefined ? {} : { start: o.start }), end: o.now })
  if (bars.time.length < 2) throw new ConfigError(`reoptimise ${o.strategy}: the lake holds ${bars.time.length} bars of ${o.symbol} ${o.timeframe} in the window`)
  const defs = strategy.params as Record<string, { min: number; max: number; integer?: boolean; step?: number; default: number }>
  for (const [name, [min, max]] of Object.entries(o.search ?? {})) {
    const d = defs[name]
    if (d === undefined) throw new ConfigError(`reoptimise ${o.strategy}: search names ${name}, which is not a param of the strategy (it has ${Object.keys(defs).join(', ')})`)
    if (min < d.min || max > d.max) throw new ConfigError(`reoptimise ${o.strategy}: search range of ${name} [${min}, ${max}] leaves the strategy's [${d.min}, ${d.max}]`)
  }
  const names = o.search === undefined ? Object.keys(defs) : Object.keys(o.search)
  const ranged = Object.fromEntries(names.map((n) => [n, { ...defs[n]!, ...(o.search?.[n] === undefined ? {} : { min: o.search[n]![0], max: o.search[n]![1] }) }]))
  const study = createStudy({ name: o.study, direction: 'maximize', storage: { home }, space: spaceFromParamSpace(ranged as never), ...(o.seed === undefined ? {} : { seed: o.seed }) })
  const before = study.trials.length
  // The champion's values of the searched params (clipped into the search ranges) are this run's first trial.
  study.enqueueTrial(Object.fromEntries(names.map((n) => [n, Math.min(ranged[n]!.max, Math.max(ranged[n]!.min, championParams[n]!))])))
  const score = (searched: Record<string, number>) => {
    const params = { ...championParams, ...searched }
    const r = backtest({ strategy, params, symbols: [o.symbol], timeframe: o.timeframe, data: { [o.symbol]: bars }, ...(o.cash === undefined ? {} : { cash: o.cash }), ...(o.commission === undefined ? {} : { fills: { takerRate: o.commission } }) })
    return r.metrics[metric] as number
  }
  let championValue = NaN
  await study.optimize(
    (trial) => {
      const value = score(trial.params as Record<string, number>)
      if (trial.number === before) championValue = value
      // A set whose metric is undefined (NaN: one that never trades has no Sharpe) would fail the trial, and TPE
      // learns nothing from failed trials: the study could keep sampling a dead region. Pruned, it ranks behind
      // every scored trial in TPE's split (Optuna's rule for pruned trials), so the sampler moves away from it.
      // (+Infinity — a Sortino with no down period — is a score, the best there is.)
      if (Number.isNaN(value)) throw new TrialPruned(`${metric} is undefined for these params (NaN: no trades, or no drawdown for calmar)`)
      return value
    },
    { nTrials: trials, ...(o.timeoutMs === undefined ? {} : { timeout: Math.max(o.timeoutMs, 1) / 1000 }) },
  )
  // The best of this run's window only: earlier runs' trials scored older bars.
  const mine = study.trials.filter((t) => t.number >= before && t.state === 'complete' && t.values !== undefined && !Number.isNaN(t.values[0]))
  if (mine.length === 0) throw new ConfigError(`reoptimise ${o.strategy}: no trial gave a number for ${metric} (did the strategy trade?)`)
  const best = mine.reduce((a, b) => (b.values![0]! > a.values![0]! ? b : a))
  const params = { ...championParams, ...(best.params as Record<string, number>) }
  if (!(best.values![0]! > championValue) && Number.isFinite(championValue)) {
    // Nothing beat the champion on this window: no version, and the alias is left as it is. The best is the
    // champion itself: its version and params (the run's record names one version, with its own params).
    return { strategy: champion.name, fromVersion: champion.version, version: champion.version, created: false, moved: false, alias, params: championParams, value: championValue, championValue, trials: mine.length }
  }
  const source = champion.files.find((f) => /^source\.[cm]?[tj]s$/.test(f.name))
  if (source === undefined) throw new ConfigError(`strategy ${champion.name}@${champion.version} holds no source file`)
  const { version, created } = registry.register('strategies', champion.name, {
    files: { [source.name]: registry.readFile('strategies', `${champion.name}@${champion.version}`, source.name), 'params.json': `${JSON.stringify(params, null, 2)}\n` },
    params,
    runs: [],
    ...(champion.source === undefined ? {} : { source: champion.source }),
    description: `reoptimised from ${champion.name}@${champion.version}: ${metric} ${best.values![0]!.toFixed(4)} (champion's ${championValue.toFixed(4)}) on ${o.symbol} ${o.timeframe} to ${new Date(o.now).toISOString()}, study ${o.study}`,
  })
  registry.setAlias('strategies', champion.name, alias, version.version, `${o.by ?? 'reoptimise'}: best of ${mine.length} trials of study ${o.study} on ${o.symbol} ${o.timeframe} to ${new Date(o.now).toISOString()} (${metric} ${best.values![0]!.toFixed(4)} vs the champion v${champion.version}'s ${championValue.toFixed(4)})`)
  return { strategy: champion.name, fromVersion: champion.version, version: version.version, created, moved: true, alias, params, value: best.values![0]!, championValue, trials: mine.length }
}
