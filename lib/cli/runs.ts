// `mtflow runs list|show|compare|search|reindex`: the tracked runs of the workspace.

import { Command } from 'commander'
import { ConfigError, isoTime } from '../core/index.js'
import type { RunSummary, SearchResult } from '../track/index.js'
import { collect, formatTable, lazy, printJson, type CliContext } from './context.js'
import { addRunsLifecycle, lifecycleView as view } from './runs-lifecycle.js'

const track = () => lazy('../track/index.js') as typeof import('../track/index.js')

/** Metrics shown in run tables when present. */
const HEADLINE = ['sharpe', 'totalReturn', 'maxDrawdown', 'trades']

export function runsCommand(context: CliContext): Command {
  const runs = new Command('runs').description('tracked runs: list, show, compare and search them')

  runs
    .command('list')
    .description('runs, newest first (or the experiments, with --experiments)')
    .option('--experiment <name>', 'only this experiment (repeatable)', collect, [] as string[])
    .option('--experiments', 'list the experiments and how many runs each has')
    .option('--max <n>', 'page size', '50')
    .option('--page-token <token>', 'the next page, from a previous list')
    .option('--deleted', 'only deleted runs (mtflow runs delete)')
    .option('--all', 'active and deleted runs')
    .option('--json', 'print JSON')
    .action((o: { experiment: string[]; experiments?: boolean; max: string; pageToken?: string; deleted?: boolean; all?: boolean; json?: boolean }) => {
      const tracker = new (track().Tracker)(context.home)
      if (o.experiments === true) {
        // Active runs, as `runs list` counts them, the deleted ones beside (as the server's home page).
        const rows = tracker.listExperiments().map((e) => {
          const all = tracker.summaries([e.id])
          const deleted = all.filter((r) => track().lifecycleOf(r) === 'deleted').length
          return { ...e, runs: all.length - deleted, deletedRuns: deleted }
        })
        if (o.json === true) return printJson(context, rows)
        return void context.stdout.write(formatTable(['experiment', 'id', 'runs', 'deleted', 'created'], rows.map((e) => [e.name, e.id, String(e.runs), String(e.deletedRuns), isoTime(e.createdAt)])))
      }
      printSearch(context, track().searchRuns(tracker, { experiments: nonEmpty(o.experiment), maxResults: count(o.max, '--max'), pageToken: o.pageToken, lifecycle: view(o) }), o.json === true)
    })

  runs
    .command('search')
    .description('runs matching a filter, e.g. \'metrics.sharpe > 1 and (params.fast = "10" or tags.mtflow.kind = "sweep")\'')
    .argument('[filter]', 'keys metrics.X, params.X, tags.X, attributes.X; = != < <= > >= like ilike in, is null; and, or, not, ( )', '')
    .option('--experiment <name>', 'only this experiment (repeatable)', collect, [] as string[])
    .option('--order-by <key>', 'e.g. "metrics.sharpe desc" (repeatable; default newest first)', collect, [] as string[])
    .option('--max <n>', 'page size', '50')
    .option('--page-token <token>', 'the next page, from a previous search')
    .option('--deleted', 'only deleted runs (mtflow runs delete)')
    .option('--all', 'active and deleted runs')
    .option('--json', 'print JSON')
    .action((filter: string, o: { experiment: string[]; orderBy: string[]; max: string; pageToken?: string; deleted?: boolean; all?: boolean; json?: boolean }) => {
      const tracker = new (track().Tracker)(context.home)
      const result = track().searchRuns(tracker, { filter, experiments: nonEmpty(o.experiment), orderBy: o.orderBy, maxResults: count(o.max, '--max'), pageToken: o.pageToken, lifecycle: view(o) })
      printSearch(context, result, o.json === true)
    })

  runs
    .command('show')
    .description('one run: status, lineage, params, metrics, tags, artifacts and child runs')
    .argument('<run>', 'run id')
    .option('--json', 'print JSON')
    .action((id: string, o: { json?: boolean }) => {
      const tracker = new (track().Tracker)(context.home)
      const run = tracker.getRun(id)
      const children = tracker.childRuns(id).length
      // Records cut short by a crash are skipped when read; say how many, per file, so none goes unnoticed.
      const torn = tracker.tornRecords(id)
      const tornTotal = Object.values(torn).reduce((a, b) => a + b, 0)
      if (o.json === true) return printJson(context, { ...run, metrics: jsonMetrics(run.metrics), children, tornRecords: torn })
      const i = run.info
      const lines: [string, string][] = [
        ['run', i.runId],
        ['name', i.name],
        ['experiment', i.experimentId],
        ['status', i.status],
        ['start', isoTime(i.startTime)],
        ['end', i.endTime === undefined ? '—' : `${isoTime(i.endTime)} (${((i.endTime - i.startTime) / 1000).toFixed(1)} s)`],
        ...(i.parentRunId === undefined ? [] : [['parent', i.parentRunId] as [string, string]]),
        ...(children > 0 ? [['child runs', String(children)] as [string, string]] : []),
        ...(i.lineage.strategy === undefined ? [] : [['strategy', `${i.lineage.strategy.name} sha256:${i.lineage.strategy.sha256.slice(0, 12)}${i.lineage.strategyPriorRuns === undefined ? '' : ` (${i.lineage.strategyPriorRuns} earlier runs of this source)`}`] as [string, string]]),
        ...(i.lineage.data ?? []).map((d) => ['data', `${d.name} sha256:${d.sha256.slice(0, 12)}`] as [string, string]),
        ...(i.lineage.notebook === undefined ? [] : [['notebook', `${i.lineage.notebook.path} sha256:${i.lineage.notebook.sha256.slice(0, 12)}`] as [string, string]]),
        ...(i.lineage.gitCommit === undefined ? [] : [['git commit', i.lineage.gitCommit] as [string, string]]),
        ...(tornTotal > 0 ? [['torn records', `${tornTotal} (${Object.entries(torn).map(([f, n]) => `${f}: ${n}`).join(', ')}); skipped when read — mtflow doctor --fix moves them aside`] as [string, string]] : []),
      ]
      context.stdout.write(formatTable(['field', 'value'], lines))
      const section = (title: string, rows: string[][], header: string[]) => {
        if (rows.length > 0) context.stdout.write(`\n${title}\n${formatTable(header, rows)}`)
      }
      section('params', Object.entries(run.params).sort().map(([k, v]) => [k, v]), ['param', 'value'])
      section('metrics', Object.entries(run.metrics).sort().map(([k, m]) => [k, formatNumber(m.value), String(m.step)]), ['metric', 'latest', 'step'])
      section('tags', Object.entries(run.tags).sort().map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 77)}…` : v]), ['tag', 'value'])
      section('artifacts', run.artifacts.map((a) => [a.path, String(a.size), a.sha256.slice(0, 16)]), ['artifact', 'bytes', 'sha256'])
    })

  runs
    .command('compare')
    .description('runs side by side: params, metrics and tags as rows, one column per run; * marks rows that differ')
    .argument('<runs...>', 'run ids (two or more)')
    .option('--all', 'also rows where every run has the same value')
    .option('--json', 'print JSON')
    .action((ids: string[], o: { all?: boolean; json?: boolean }) => {
      if (ids.length < 2) throw new ConfigError('compare needs two or more run ids')
      const tracker = new (track().Tracker)(context.home)
      const c = track().compareRuns(tracker, ids)
      if (o.json === true) return printJson(context, { ...c, metrics: c.metrics.map((m) => ({ ...m, values: m.values.map(jsonNumber) })) })
      const header = ['', ...c.runs.map((r) => `${r.name.slice(0, 24)} (${r.runId.slice(-6)})`)]
      const rows: string[][] = [['status', ...c.runs.map((r) => r.status)]]
      const add = (prefix: string, list: { key: string; values: (string | number | undefined)[]; differs: boolean }[]) => {
        for (const row of list) if (o.all === true || row.differs) rows.push([`${row.differs ? '* ' : '  '}${prefix}.${row.key}`, ...row.values.map((v) => (v === undefined ? '—' : typeof v === 'number' ? formatNumber(v) : v))])
      }
      add('params', c.params)
      add('metrics', c.metrics)
      add('tags', c.tags.filter((t) => !t.key.startsWith('mtflow.')))
      context.stdout.write(formatTable(header, rows))
    })

  runs
    .command('reindex')
    .description("rebuild an experiment's run index from its run folders (after a crash); runs whose files are corrupt are kept and listed")
    .argument('<experiment>', 'experiment name or id')
    .option('--json', 'print JSON')
    .action((experiment: string, o: { json?: boolean }) => {
      const result = new (track().Tracker)(context.home).reindex(experiment)
      // The index is rebuilt either way; corrupt run files remain a problem to look at (exit 1).
      if (result.corrupt.length > 0) context.exitCode = 1
      if (o.json === true) return printJson(context, { experiment, ...result })
      context.stdout.write(`reindexed ${result.runs} runs of ${experiment}\n`)
      if (result.corrupt.length > 0) {
        context.stdout.write(`${result.corrupt.length} run(s) with damaged files kept in the index, tagged mtflow.corrupt (what the old index knew of them, else a FAILED placeholder); see mtflow doctor:\n${formatTable(['run', 'error'], result.corrupt.map((c) => [c.runId, c.error]))}`)
      }
    })
  addRunsLifecycle(runs, context)
  return runs
}

function printSearch(context: CliContext, result: SearchResult, json: boolean): void {
  if (json) return printJson(context, { total: result.total, nextPageToken: result.nextPageToken ?? null, runs: result.runs.map((r) => ({ ...r, metrics: jsonMetrics(r.metrics) })), ...(result.hints === undefined ? {} : { hints: result.hints }) })
  for (const hint of result.hints ?? []) context.stderr.write(`mtflow: ${hint}\n`)
  const shown = HEADLINE.filter((m) => result.runs.some((r) => r.metrics[m] !== undefined))
  context.stdout.write(formatTable(['run', 'experiment', 'name', 'status', 'start', ...shown], result.runs.map((r) => row(r, shown))))
  context.stdout.write(`${result.runs.length} of ${result.total} runs${result.nextPageToken === undefined ? '' : `; next page: --page-token ${result.nextPageToken}`}\n`)
}

function row(r: RunSummary, metrics: string[]): string[] {
  const name = r.info.name.length > 40 ? `${r.info.name.slice(0, 39)}…` : r.info.name
  return [r.info.runId, r.info.experimentId, name, r.tags['mtflow.lifecycle'] === 'deleted' ? `${r.info.status} (deleted)` : r.info.status, isoTime(r.info.startTime).slice(0, 19), ...metrics.map((m) => (r.metrics[m] === undefined ? '—' : formatNumber(r.metrics[m]!.value)))]
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  if (Number.isInteger(v)) return String(v)
  return Math.abs(v) >= 1000 ? v.toFixed(2) : v.toPrecision(4)
}

/** JSON has no NaN/Infinity: they print as strings. */
function jsonNumber(v: number | undefined): number | string | null {
  if (v === undefined) return null
  return Number.isFinite(v) ? v : String(v)
}

function jsonMetrics(metrics: RunSummary['metrics']): Record<string, { value: number | string | null; step: number; timestamp: number }> {
  return Object.fromEntries(Object.entries(metrics).map(([k, m]) => [k, { ...m, value: jsonNumber(m.value) }]))
}

function count(text: string, option: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > 50_000) throw new ConfigError(`${option} must be an integer in [1, 50000] (received ${JSON.stringify(text)})`)
  return n
}

function nonEmpty(list: string[]): string[] | undefined {
  return list.length === 0 ? undefined : list
}
