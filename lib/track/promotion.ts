// Champion and challenger of a registered model: how it is served (<home>/serving/NAME.json: which alias
// answers, whether a challenger shadows it or takes a share of the traffic, when a version expires), and
// the two moves of the `champion` alias — promotion by explicit out-of-sample rules, and rollback.
// Every move is an alias change in the registry (its audit log says who, when and why) plus one record
// with the whole evidence in <home>/serving/NAME.audit.jsonl. Imports only lib/core and lib/track, so a
// monitor's trigger can call rollbackOnBreach.

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { ConfigError, CorruptFileError, preview, resolveHome, withLockSync, writeFileAtomic } from '../core/index.js'
import { Registry } from './registry.js'
import { Tracker } from './store.js'
import { openRegistry, openTracker } from './remote.js'

export type ServingMode = 'single' | 'shadow' | 'ab'
export const SERVING_MODES: readonly ServingMode[] = ['single', 'shadow', 'ab']

/** <home>/serving/NAME.json. */
export interface ServingConfig {
  /** The alias that answers (default "champion"). */
  champion: string
  /** The alias scored beside it (shadow) or given a share of the requests (ab). */
  challenger?: string
  mode: ServingMode
  /** ab: the share of requests the challenger answers, in (0, 1) (default 0.1). */
  split?: number
  /** A version older than this since its registration stops answering (503): "30d", "12h", "90m", "2w". */
  expireAfter?: string
}

const ALIAS = /^[a-z][a-z0-9_-]{0,39}$/
const NAME = /^[A-Za-z0-9][\w.-]{0,99}$/
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** "30d" → milliseconds (units s, m, h, d, w; a positive whole number before them). */
export function parseDuration(text: string, what = 'expireAfter'): number {
  const m = typeof text === 'string' ? /^([1-9]\d{0,5})([smhdw])$/.exec(text) : null
  if (m === null) throw new ConfigError(`${what} must be a duration such as 30d, 12h, 90m, 45s or 2w (received ${preview(text)})`)
  return Number(m[1]) * UNITS[m[2]!]!
}

/** A serving config checked whole: every fault names `where` and the field. */
export function checkServingConfig(value: unknown, where = 'serving config'): ServingConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${where} must be a JSON object (received ${preview(value)})`)
  const v = value as Record<string, unknown>
  const unknown = Object.keys(v).find((k) => !['champion', 'challenger', 'mode', 'split', 'expireAfter'].includes(k))
  if (unknown !== undefined) throw new ConfigError(`${where} has an unknown field ${preview(unknown)} (expected champion, challenger, mode, split, expireAfter)`)
  const champion = v.champion ?? 'champion'
  if (typeof champion !== 'string' || !ALIAS.test(champion)) throw new ConfigError(`${where}: champion must be an alias (lowercase letters, digits, _ or -; received ${preview(champion)})`)
  const mode = v.mode ?? 'single'
  if (!SERVING_MODES.includes(mode as ServingMode)) throw new ConfigError(`${where}: mode must be one of ${SERVING_MODES.join(', ')} (received ${preview(mode)})`)
  const out: ServingConfig = { champion, mode: mode as ServingMode }
  if (v.challenger !== undefined) {
    if (typeof v.challenger !== 'string' || !ALIAS.test(v.challenger)) throw new ConfigError(`${where}: challenger must be an alias (received ${preview(v.challenger)})`)
    if (v.challenger === champion) throw new ConfigError(`${where}: challenger and champion are the same alias ${preview(champion)}`)
    out.challenger = v.challenger
  }
  if (out.mode !== 'single' && out.challenger === undefined) throw new ConfigError(`${where}: mode ${out.mode} needs a challenger alias`)
  if (v.split !== undefined) {
    if (typeof v.split !== 'number' || !(v.split > 0 && v.split < 1)) throw new ConfigError(`${where}: split must be a number between 0 and 1, exclusive (received ${preview(v.split)})`)
    out.split = v.split
  }
  if (out.mode === 'ab') out.split ??= 0.1
  if (v.expireAfter !== undefined) {
    parseDuration(v.expireAfter as string, `${where}: expireAfter`)
    out.expireAfter = v.expireAfter as string
  }
  return out
}

export function servingConfigPath(home: string, name: string): string {
  checkModelName(name)
  return join(resolveHome(home), 'serving', `${name}.json`)
}

/** The model's serving config, or undefined when it has none; a damaged file is an error naming it. */
export function readServingConfig(home: string, name: string): ServingConfig | undefined {
  const file = servingConfigPath(home, name)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined
    throw new CorruptFileError(`${file} cannot be read (${(error as { code?: string }).code ?? String(error)})`, file, { cause: error })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new CorruptFileError(`${file} is corrupt: not valid JSON (${(error as Error).message})`, file, { cause: error })
  }
  try {
    return checkServingConfig(parsed, file)
  } catch (error) {
    throw new CorruptFileError((error as Error).message, file, { cause: error })
  }
}

/** Check and write (atomically) the model's serving config; the model must be registered. */
export function writeServingConfig(home: string, name: string, config: Partial<ServingConfig>): ServingConfig {
  const checked = checkServingConfig(config)
  openRegistry(home).entry('models', name)
  const file = servingConfigPath(home, name)
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileAtomic(file, `${JSON.stringify(checked, null, 2)}\n`)
  return checked
}

// ---- promotion -------------------------------------------------------------------------------------

export interface PromotionRules {
  /** The metric compared, higher is better (default "sharpe"); its out-of-sample form is read (see oosMetricKeys). */
  metric?: string
  /** The challenger's figure must be ≥ the champion's + margin (default 0). */
  margin?: number
  /** Out-of-sample observations the challenger's figure rests on, at least (default 30). */
  minObservations?: number
}

/** One side's evidence: a tracked run (walk-forward or holdout), or its metrics given directly. */
export interface EvidenceSide {
  runId?: string
  metrics?: Readonly<Record<string, number>>
}

export interface PromotionEvidence {
  champion: EvidenceSide
  challenger: EvidenceSide
}

export interface SideVerdict {
  alias: string
  version: number | null
  runId: string | null
  /** The metric read (e.g. oosSharpe), its value, and the observations it rests on. */
  metricKey: string | null
  value: number | null
  observations: number | null
}

export interface PromotionResult {
  promoted: boolean
  /** One line: why it was refused, or what moved. */
  reason: string
  rules: Required<PromotionRules>
  champion: SideVerdict
  challenger: SideVerdict
}

/** Where a run keeps the out-of-sample form of a metric: walk-forward (oosX, oos_x) or holdout (holdout_x). */
export function oosMetricKeys(metric: string): string[] {
  if (/^(oos|holdout)/i.test(metric)) return [metric]
  const cap = metric.charAt(0).toUpperCase() + metric.slice(1)
  return [`oos${cap}`, `oos_${metric}`, `oos.${metric}`, `holdout_${metric}`, `holdout.${metric}`, ...(metric === 'sharpe' ? ['holdout_sharpe_with'] : [])]
}

/** Where a run keeps the number of out-of-sample observations (bars, or entries for a holdout of trades). */
export const OOS_OBSERVATION_KEYS: readonly string[] = ['oosObservations', 'oos_observations', 'oos.observations', 'oosBars', 'oos_bars', 'holdout_observations', 'holdout_entries']

function normaliseRules(rules: PromotionRules = {}): Required<PromotionRules> {
  const metric = rules.metric ?? 'sharpe'
  if (typeof metric !== 'string' || !/^[\w.-]{1,100}$/.test(metric)) throw new ConfigError(`metric must be a metric name (received ${preview(metric)})`)
  const margin = rules.margin ?? 0
  if (typeof margin !== 'number' || !Number.isFinite(margin) || margin < 0) throw new ConfigError(`margin must be a finite number ≥ 0 (received ${preview(margin)})`)
  const minObservations = rules.minObservations ?? 30
  if (!Number.isInteger(minObservations) || minObservations < 1) throw new ConfigError(`minObservations must be an integer ≥ 1 (received ${preview(minObservations)})`)
  return { metric, margin, minObservations }
}

export interface PromoteOptions {
  rules?: PromotionRules
  evidence: PromotionEvidence
  /** Aliases (default champion, challenger; the old champion is kept as previous-champion). */
  championAlias?: string
  challengerAlias?: string
  now?: () => number
}

/**
 * Move `champion` to the challenger's version when its out-of-sample figure beats the champion's by the
 * rules: challenger ≥ champion + margin, on ≥ minObservations out-of-sample observations, from two distinct
 * finished runs (or metrics given). The old champion becomes `previous-champion`, the `challenger` alias is
 * removed. A refusal is a value with one line why; both are recorded in NAME.audit.jsonl with the evidence.
 */
export function promoteChallenger(home: string, name: string, options: PromoteOptions): PromotionResult {
  const rules = normaliseRules(options.rules)
  const championAlias = options.championAlias ?? 'champion'
  const challengerAlias = options.challengerAlias ?? 'challenger'
  const now = options.now ?? Date.now
  if (options.evidence?.champion === undefined || options.evidence?.challenger === undefined) throw new ConfigError('evidence needs a champion and a challenger side (a run id or metrics each)')
  const registry = openRegistry(home)
  registry.entry('models', name)
  return withLockSync(lockPath(home, name), () => {
    const aliases = registry.entry('models', name).aliases
    const sides = { champion: side(championAlias, aliases[championAlias]), challenger: side(challengerAlias, aliases[challengerAlias]) }
    const refuse = (reason: string): PromotionResult => {
      const result: PromotionResult = { promoted: false, reason: `not promoted: ${reason}`, rules, ...sides }
      record(home, name, now(), { action: 'refuse', ...result })
      return result
    }
    if (sides.champion.version === null) return refuse(`model ${name} has no ${championAlias} alias`)
    if (sides.challenger.version === null) return refuse(`model ${name} has no ${challengerAlias} alias`)
    if (sides.champion.version === sides.challenger.version) return refuse(`${challengerAlias} and ${championAlias} are the same version (${sides.champion.version})`)
    const tracker = openTracker(home)
    const cited = [options.evidence.champion.runId, options.evidence.challenger.runId]
    if (cited[0] !== undefined && cited[0] === cited[1]) return refuse(`both sides cite the same run ${cited[0]}`)
    const figures: Partial<Record<'champion' | 'challenger', Record<string, number>>> = {}
    for (const role of ['champion', 'challenger'] as const) {
      const ev = options.evidence[role]
      const s = sides[role]
      let metrics: Record<string, number>
      if (ev.runId !== undefined) {
        const run = tracker.getRun(ev.runId)
        if (run.info.status !== 'FINISHED') return refuse(`the ${role}'s evidence run ${ev.runId} is ${run.info.status}, not FINISHED`)
        // The run must be of that side's version: linked to it in the registry, or a backtest gated by it.
        const version = registry.resolve('models', `${name}@${s.version}`)
        const linked = version.runs.includes(ev.runId) || (run.tags['mtflow.signals'] === name && Number(run.tags['mtflow.signalsVersion']) === s.version)
        if (!linked) return refuse(`the ${role}'s evidence run ${ev.runId} is not a run of ${name} v${s.version} (not linked to the version, nor a backtest gated by it)`)
        if (run.tags['mtflow.inSample'] === 'true') return refuse(`the ${role}'s evidence run ${ev.runId} is in sample (it starts before the model's training ended)`)
        metrics = Object.fromEntries(Object.entries(run.metrics).map(([k, m]) => [k, m.value]))
        s.runId = ev.runId
      } else if (ev.metrics !== undefined) metrics = { ...ev.metrics }
      else throw new ConfigError(`the ${role}'s evidence needs a run id or metrics`)
      const keys = oosMetricKeys(rules.metric)
      s.metricKey = keys.find((k) => typeof metrics[k] === 'number') ?? null
      if (s.metricKey !== null) s.value = metrics[s.metricKey]!
      figures[role] = metrics
      const where = ev.runId === undefined ? `the ${role}'s metrics` : `run ${ev.runId} (${role})`
      if (s.value === null || !Number.isFinite(s.value)) return refuse(`${where} has no finite out-of-sample ${rules.metric} (looked for ${keys.join(', ')}): promotion needs walk-forward or holdout results`)
    }
    if (sides.champion.runId !== null && sides.champion.runId === sides.challenger.runId) return refuse(`both sides cite the same run ${sides.champion.runId}`)
    const ch = sides.challenger
    // Walk-forward (oos…) and holdout figures are measured on different windows: not comparable. Both sides
    // are read in the first family both give, the observations of that same family.
    const family = (k: string | null) => (k !== null && /^oos/i.test(k) ? 'walk-forward' : 'holdout')
    const keys = oosMetricKeys(rules.metric)
    const figureKey = (m: Record<string, number>, f: string) => keys.find((k) => family(k) === f && Number.isFinite(m[k]))
    const shared = (['walk-forward', 'holdout'] as const).find((f) => figureKey(figures.champion!, f) !== undefined && figureKey(figures.challenger!, f) !== undefined)
    if (shared !== undefined) {
      for (const role of ['champion', 'challenger'] as const) {
        const m = figures[role]!
        const s = sides[role]
        s.metricKey = figureKey(m, shared)!
        s.value = m[s.metricKey]!
        const obsKey = OOS_OBSERVATION_KEYS.find((k) => family(k) === shared && typeof m[k] === 'number')
        s.observations = obsKey === undefined ? null : m[obsKey]!
      }
    }
    if (shared === undefined || family(sides.champion.metricKey) !== family(ch.metricKey)) return refuse(`the sides give different out-of-sample figures (${championAlias} ${sides.champion.metricKey}, ${family(sides.champion.metricKey)}; ${challengerAlias} ${ch.metricKey}, ${family(ch.metricKey)}): they are measured on different windows`)
    if (sides.champion.observations !== null && sides.champion.observations < rules.minObservations) {
      return refuse(`the champion's out-of-sample ${rules.metric} rests on ${sides.champion.observations} observations, fewer than ${rules.minObservations}: no yardstick`)
    }
    if (ch.observations === null || ch.observations < rules.minObservations) {
      return refuse(`the challenger's out-of-sample ${rules.metric} rests on ${ch.observations ?? 'an unknown number of'} observations, fewer than ${rules.minObservations} (looked for ${OOS_OBSERVATION_KEYS.join(', ')})`)
    }
    const need = sides.champion.value! + rules.margin
    const summary = `${challengerAlias} v${ch.version} ${ch.metricKey} ${fmt(ch.value!)} vs ${championAlias} v${sides.champion.version} ${sides.champion.metricKey} ${fmt(sides.champion.value!)} + margin ${fmt(rules.margin)} on ${ch.observations} out-of-sample observations`
    if (!(ch.value! >= need)) return refuse(`${summary}: below ${fmt(need)}`)
    const evidence = `${summary} (evidence runs: ${sides.champion.runId ?? 'metrics given'}, ${ch.runId ?? 'metrics given'})`
    registry.setAlias('models', name, 'previous-champion', sides.champion.version!, `kept when v${ch.version} was promoted`)
    registry.setAlias('models', name, championAlias, ch.version!, `promoted: ${evidence}`)
    registry.deleteAlias('models', name, challengerAlias, `promoted to ${championAlias}`)
    const result: PromotionResult = { promoted: true, reason: `promoted v${ch.version} to ${championAlias} (v${sides.champion.version} kept as previous-champion): ${summary}`, rules, ...sides }
    record(home, name, now(), { action: 'promote', ...result })
    return result
  })
}

function side(alias: string, version: number | undefined): SideVerdict {
  return { alias, version: version ?? null, runId: null, metricKey: null, value: null, observations: null }
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4)
}

// ---- rollback --------------------------------------------------------------------------------------

export interface RollbackResult {
  rolledBack: boolean
  /** One line: what moved, or why nothing did. */
  reason: string
  from: number | null
  to: number | null
}

/**
 * `champion` goes back to `previous-champion` (which is then removed; the version rolled back from keeps the
 * alias `rolled-back`), with the reason in the audit log. Nothing to go back to is an error naming why.
 */
export function rollback(home: string, name: string, reason: string, options: { now?: () => number; evidence?: Record<string, unknown> } = {}): RollbackResult {
  if (typeof reason !== 'string' || reason.trim() === '') throw new ConfigError('a rollback needs a reason (received an empty one)')
  const registry = openRegistry(home)
  registry.entry('models', name)
  const now = options.now ?? Date.now
  return withLockSync(lockPath(home, name), () => {
    const aliases = registry.entry('models', name).aliases
    const from = aliases.champion
    const to = aliases['previous-champion']
    if (from === undefined) throw new ConfigError(`model ${name} has no champion alias to roll back`)
    if (to === undefined) throw new ConfigError(`model ${name} has no previous-champion to roll back to`)
    if (to === from) throw new ConfigError(`model ${name}'s previous-champion is the champion (v${from}): nothing to roll back to`)
    registry.setAlias('models', name, 'champion', to, `rollback: ${reason}`)
    registry.setAlias('models', name, 'rolled-back', from, `rolled back from champion: ${reason}`)
    registry.deleteAlias('models', name, 'previous-champion', `restored as champion: ${reason}`)
    const result: RollbackResult = { rolledBack: true, reason: `rolled back ${name} champion from v${from} to v${to}: ${reason}`, from, to }
    record(home, name, now(), { action: 'rollback', ...result, ...(options.evidence === undefined ? {} : { evidence: options.evidence }) })
    return result
  })
}

/** What a monitor's breach says (its rule, value and threshold, and a sentence). */
export interface BreachEvidence {
  monitor?: string
  rule?: string
  value?: number
  threshold?: number
  text?: string
  [key: string]: unknown
}

/**
 * The `rollback` trigger of a monitor: roll the champion back with the breach as the reason. Never throws
 * for "nothing to roll back to" (a trigger must not stop the scheduler): that is a value saying why.
 */
export function rollbackOnBreach(home: string, name: string, evidence: BreachEvidence, options: { now?: () => number } = {}): RollbackResult {
  const what = evidence.text ?? [evidence.monitor, evidence.rule, evidence.value === undefined ? undefined : `value ${evidence.value}`, evidence.threshold === undefined ? undefined : `threshold ${evidence.threshold}`].filter((x) => x !== undefined).join(', ')
  const reason = `monitor breach: ${what === '' ? 'unspecified' : what}`
  try {
    return rollback(home, name, reason, { ...options, evidence })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return { rolledBack: false, reason: `not rolled back: ${error.message}`, from: null, to: null }
  }
}

/** Promotions, refusals and rollbacks with their evidence, oldest first. */
export function promotionLog(home: string, name: string): Record<string, unknown>[] {
  let text: string
  try {
    text = readFileSync(auditPath(home, name), 'utf8')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return []
    throw error
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>]
      } catch {
        return []
      }
    })
}

function auditPath(home: string, name: string): string {
  checkModelName(name)
  return join(resolveHome(home), 'serving', `${name}.audit.jsonl`)
}

function lockPath(home: string, name: string): string {
  const dir = join(resolveHome(home), 'serving')
  mkdirSync(dir, { recursive: true })
  return join(dir, `${name}.lock`)
}

/** One whole line per append (a single write(2) with O_APPEND: concurrent writers never interleave). */
function record(home: string, name: string, time: number, entry: Record<string, unknown>): void {
  const file = auditPath(home, name)
  mkdirSync(join(file, '..'), { recursive: true })
  appendFileSync(file, `${JSON.stringify({ time, user: currentUser(), model: name, ...entry })}\n`)
}

function checkModelName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigError(`model name ${preview(name)} is invalid: expected 1–100 letters, digits, _ . or - (starting with a letter or digit)`)
}

function currentUser(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'unknown'
  }
}
