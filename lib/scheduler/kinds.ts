// The code of each job kind. ingest and pipeline run their CLI verb in this process (the CLI hands the
// runner a `verb`: lib/ never imports lib/cli); report finds the newest finished run of an experiment (and
// filter) and runs `report RUN --out FILE`; retrain and reoptimise are library calls (./retrain.ts,
// ./reoptimise.ts); monitor calls lib/monitor's evaluateMonitors, loaded when the job runs, and hands the
// triggers it fired back to the scheduler.

import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ConfigError, errorMessage, resolveInside } from '../core/index.js'
import { rollbackOnBreach, searchRuns, openTracker, openRegistry } from '../track/index.js'
import { resolveTime, verbFlags, type JobKind } from './args.js'
import { schedulerDir } from './jobs.js'
import { reoptimiseStrategy, type ReoptimiseMetric } from './reoptimise.js'
import { retrainModel } from './retrain.js'
import type { JobContext, JobHandler, JobOutcome } from './runner.js'

function needVerb(c: JobContext): (args: string[]) => Promise<string> {
  if (c.verb === undefined) throw new ConfigError(`job ${c.job.name}: ${c.job.kind} jobs run a CLI verb; run them through \`mtflow scheduler\``)
  return c.verb
}

/** The shape of lib/monitor's entry point as the monitor job calls it. */
interface MonitorModule {
  evaluateMonitors(home: string, options: Record<string, unknown> & { now: number }): Promise<{ firedTriggers?: string[] } & Record<string, unknown>> | ({ firedTriggers?: string[] } & Record<string, unknown>)
  loadAlerting?: (home: string) => { alert(a: { source: string; key: string; severity: 'info' | 'warning' | 'critical'; text: string }, o: { now: number }): Promise<unknown> }
  forwardDeploymentAlerts?: (home: string, options: { now: number; alerting: unknown }) => Promise<unknown>
  recordEvaluation?: (home: string, evaluation: { time: number; results: unknown[] }) => void
}

/**
 * lib/monitor, loaded when a monitor job runs (a specifier in a variable: the scheduler builds without it).
 * `require` first — the CLI and tslab load lib/ as CommonJS through tsx, whose hook maps .js to .ts for
 * require but not for a dynamic import() of a computed name — then import() (ESM, as under vitest).
 */
async function loadMonitor(): Promise<MonitorModule> {
  const specifier = '../monitor/index.js'
  let mod: Partial<MonitorModule>
  try {
    try {
      if (typeof require !== 'function') throw new Error('no require here')
      mod = require(specifier) as Partial<MonitorModule>
    } catch {
      mod = (await import(specifier)) as Partial<MonitorModule>
    }
  } catch (error) {
    throw new ConfigError(`monitor jobs need lib/monitor, which could not be loaded (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`, { cause: error })
  }
  if (typeof mod.evaluateMonitors !== 'function') throw new ConfigError('monitor jobs need lib/monitor\'s evaluateMonitors, which this build lacks')
  return mod as MonitorModule
}

const ingest: JobHandler = async (c) => {
  const out = JSON.parse(await needVerb(c)(['ingest', 'ccxt', ...verbFlags('ingest', c.job.args, c.now, c.home), '--json'])) as unknown
  const reports = (Array.isArray(out) ? out : []) as { symbol?: string; added?: number; accepted?: number }[]
  const sum = (k: 'added' | 'accepted') => reports.reduce((a, r) => a + (typeof r[k] === 'number' ? r[k]! : 0), 0)
  return { summary: `ingest: ${reports.map((r) => `${r.symbol} +${r.added ?? 0}`).join(', ')}`, metrics: { series: reports.length, added: sum('added'), accepted: sum('accepted') } }
}

const pipeline: JobHandler = async (c) => {
  const out = JSON.parse(await needVerb(c)(['pipeline', 'pairs', ...verbFlags('pipeline', c.job.args, c.now, c.home), '--json'])) as { runId?: string; champions?: unknown[] }
  if (out.runId !== undefined) c.run.setTag('mtflow.job.pipeline', out.runId)
  return { summary: `pipeline run ${out.runId ?? '?'}, ${out.champions?.length ?? 0} champions`, metrics: { champions: out.champions?.length ?? 0 } }
}

const report: JobHandler = async (c) => {
  const a = c.job.args as { experiment: string; filter?: string; out?: string }
  const tracker = openTracker(c.home)
  const filter = `attributes.status = "FINISHED"${a.filter === undefined ? '' : ` and (${a.filter})`}`
  const found = searchRuns(tracker, { experiments: [a.experiment], filter, maxResults: 1 })
  const latest = found.runs[0]
  if (latest === undefined) throw new ConfigError(`job ${c.job.name}: no finished run in experiment ${a.experiment}${a.filter === undefined ? '' : ` matching ${a.filter}`}`)
  const out = a.out === undefined ? join(schedulerDir(c.home), 'reports', `${c.job.name}.html`) : resolveInside(c.home, a.out, 'args.out')
  mkdirSync(dirname(out), { recursive: true })
  await needVerb(c)(['report', latest.info.runId, '--out', out, '--json'])
  c.run.setTag('mtflow.job.report', latest.info.runId)
  return { summary: `tearsheet of run ${latest.info.runId} in ${out}` }
}

const retrain: JobHandler = async (c) => {
  const a = c.job.args as { model: string; from?: string; alias?: string }
  const r = await retrainModel(c.home, { model: a.model, from: a.from, alias: a.alias, now: c.now, by: `job ${c.job.name}` })
  c.run.setTags({ 'mtflow.job.model': `${r.model}@${r.version}`, 'mtflow.job.train': r.runs.train })
  return { summary: `${r.model}@${r.alias} → v${r.version}${r.created ? '' : ' (the same model as before)'}, refitted from v${r.fromVersion} (train run ${r.runs.train})`, metrics: { version: r.version, created: r.created ? 1 : 0 } }
}

const reoptimise: JobHandler = async (c) => {
  const a = c.job.args as { strategy: string; symbol: string; timeframe: string; source?: string; trials?: number; metric?: ReoptimiseMetric; start?: string; seed?: number; commission?: number; cash?: number; study?: string; search?: Record<string, [number, number]>; from?: string; alias?: string }
  const r = await reoptimiseStrategy(c.home, { ...a, start: a.start === undefined ? undefined : resolveTime(a.start, c.now), now: c.now, study: a.study ?? `reoptimise-${c.job.name}`, by: `job ${c.job.name}`, load: c.load, ...(c.job.timeoutMs === undefined ? {} : { timeoutMs: c.job.timeoutMs }) })
  c.run.setTags({ 'mtflow.job.strategy': `${r.strategy}@${r.version}` })
  c.run.logParams(Object.fromEntries(Object.entries(r.params).map(([k, v]) => [`best.${k}`, v])))
  const summary = r.moved
    ? `${r.strategy}@${r.alias} → v${r.version}: ${r.value.toFixed(4)} vs the champion's ${r.championValue.toFixed(4)} (${r.trials} trials)`
    : `${r.strategy}: no trial beat the champion's ${r.championValue.toFixed(4)} (${r.trials} trials); ${r.alias} left as it was`
  return { summary, metrics: { version: r.version, value: r.value, championValue: r.championValue, trials: r.trials, moved: r.moved ? 1 : 0 } }
}

/**
 * Evaluates the monitors, then acts on what fired: each breached monitor that alerts goes through the alert
 * sinks (lib/monitor/alerts.ts, key monitor:NAME), the deployments' own alert lines are forwarded to them, a
 * `rollback` trigger on a model monitor moves the model's champion alias back (lib/track/promotion.ts, the
 * audit entry carrying the breach), and the other triggers start the jobs of those names.
 */
const monitor: JobHandler = async (c): Promise<JobOutcome> => {
  const mod = await loadMonitor()
  const names = c.job.args.monitors as string[] | undefined
  // Recorded only once its rollbacks, alerts and triggers are handled (below): a run that fails or is killed
  // before then leaves the breach new to the next run, which delivers it (at least once, never zero times).
  const defer = typeof mod.recordEvaluation === 'function'
  const result = await mod.evaluateMonitors(c.home, { ...(names === undefined ? {} : { monitors: names }), now: c.now, ...(defer ? { defer: true } : {}) })
  const fired = Array.isArray(result?.firedTriggers) ? result.firedTriggers.filter((t): t is string => typeof t === 'string') : []
  const results = (Array.isArray(result.results) ? result.results : []) as { monitor: string; kind: string; target: string; version?: number; value: number | null; threshold: number; fired: string[]; alerted: boolean }[]
  const texts = (Array.isArray(result.alerts) ? result.alerts : []) as string[]
  // Rollbacks first (alert deliveries may take their retries' time): only a monitor on the champion alias
  // whose breached version is still the champion rolls it back (a breaching challenger, or a champion
  // promoted since, is left alone — said in the summary).
  const rolledBack: string[] = []
  const leftAlone: string[] = []
  const registry = openRegistry(c.home)
  for (const r of results.filter((x) => x.fired.includes('rollback'))) {
    const [name, alias] = r.target.split('@') as [string, string | undefined]
    let champion: number | undefined
    try {
      champion = registry.resolve('models', `${name}@champion`).version
    } catch {
      champion = undefined
    }
    if (alias !== 'champion' || r.version === undefined || champion !== r.version) {
      leftAlone.push(`${r.target}${r.version === undefined ? '' : ` v${r.version}`} (champion ${champion === undefined ? 'none' : `v${champion}`})`)
      continue
    }
    const done = rollbackOnBreach(c.home, name, { monitor: r.monitor, rule: r.kind, ...(r.value === null ? {} : { value: r.value }), threshold: r.threshold }, { now: () => c.now })
    if (done.rolledBack) rolledBack.push(name)
  }
  let alerted = 0
  let forwardError: string | undefined
  if (typeof mod.loadAlerting === 'function') {
    const alerting = mod.loadAlerting(c.home)
    for (const r of results.filter((x) => x.alerted)) {
      const text = texts.find((t) => t.startsWith(`monitor ${r.monitor} `)) ?? `monitor ${r.monitor} breached: ${r.kind} of ${r.target}`
      await alerting.alert({ source: 'monitor', key: `monitor:${r.monitor}`, severity: 'warning', text }, { now: c.now })
      alerted++
    }
    // The evaluation is delivered: recorded before the deployments' own lines are forwarded (a forwarding
    // that fails at every run kept it unrecorded: the breach re-alerted each run, its triggers never started).
    if (defer) mod.recordEvaluation!(c.home, { time: c.now, results })
    if (typeof mod.forwardDeploymentAlerts === 'function') {
      try {
        await mod.forwardDeploymentAlerts(c.home, { now: c.now, alerting })
      } catch (error) {
        forwardError = errorMessage(error)
      }
    }
  } else if (defer) mod.recordEvaluation!(c.home, { time: c.now, results })
  const triggers = fired.filter((t) => t !== 'rollback')
  const parts = [triggers.length === 0 ? 'no job triggered' : `triggered ${triggers.join(', ')}`, ...(rolledBack.length === 0 ? [] : [`rolled back ${rolledBack.join(', ')}`]), ...(leftAlone.length === 0 ? [] : [`no rollback for ${leftAlone.join(', ')}`]), ...(alerted === 0 ? [] : [`${alerted} alert${alerted === 1 ? '' : 's'}`]), ...(forwardError === undefined ? [] : [`deployment alerts not forwarded: ${forwardError}`])]
  return { summary: parts.join('; '), metrics: { triggers: triggers.length, rolledBack: rolledBack.length, alerts: alerted }, triggers }
}

export const kindHandlers: Record<JobKind, JobHandler> = { ingest, retrain, reoptimise, monitor, report, pipeline }
