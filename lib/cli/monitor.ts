// `mtflow monitor` (issue 21 point 1): drift between two tables (CSV or Parquet) with Evidently's defaults,
// and the workspace's monitors (monitor/monitors.json): their last evaluation, or a new one with --evaluate.
// lib/monitor is loaded in the verb that runs (it brings DuckDB and the deployment dashboard along).

import { Command } from 'commander'
import { ConfigError, isoTime } from '../core/index.js'
import type * as Monitor from '../monitor/index.js'
import { formatTable, lazy, numberFlag, printJson, type CliContext } from './context.js'

const CLI_METHODS = ['ks', 'wasserstein', 'psi', 'js'] as const

function monitorLib(): typeof Monitor {
  return lazy('../monitor/index.js') as typeof Monitor
}

export function monitorCommand(context: CliContext): Command {
  const monitor = new Command('monitor').description('drift and performance monitors: mtflow monitor drift, monitor status')

  monitor
    .command('drift')
    .description("drift of each numeric column of --current against --reference, with Evidently's defaults (KS p < 0.05 for a reference of ≤ 1,000 rows, normalised Wasserstein ≥ 0.1 above; the dataset drifts when ≥ 50 % of the columns do)")
    .requiredOption('--reference <file>', 'the reference table (.csv or .parquet)')
    .requiredOption('--current <file>', 'the current table (.csv or .parquet)')
    .option('--columns <list>', 'comma-separated numeric columns (default: every numeric column both tables have, but time)')
    .option('--method <name>', `force one test for every column: ${CLI_METHODS.join(', ')}`)
    .option('--threshold <x>', "the method's threshold (a p-value for ks, a distance otherwise)")
    .option('--share <x>', 'share of drifted columns from which the dataset drifts (default 0.5)')
    .option('--json', 'print JSON')
    .action(async (o: { reference: string; current: string; columns?: string; method?: string; threshold?: string; share?: string; json?: boolean }) => {
      if (o.method !== undefined && !(CLI_METHODS as readonly string[]).includes(o.method)) throw new ConfigError(`--method must be one of ${CLI_METHODS.join(', ')} (received ${JSON.stringify(o.method.slice(0, 40))})`)
      const threshold = number(o.threshold, '--threshold', (v) => v > 0, 'a number > 0')
      const share = number(o.share, '--share', (v) => v > 0 && v <= 1, 'a share in (0, 1]')
      const lib = monitorLib()
      const reference = await lib.readDriftTable(o.reference, 'reference')
      const current = await lib.readDriftTable(o.current, 'current table')
      const numeric = (t: Record<string, unknown>, c: string) => t[c] instanceof Float64Array
      let columns: string[]
      const skipped: string[] = []
      if (o.columns !== undefined) {
        columns = o.columns.split(',').map((c) => c.trim())
        if (columns.length === 0 || columns.some((c) => c === '')) throw new ConfigError(`--columns must be comma-separated column names (received ${JSON.stringify(o.columns.slice(0, 80))})`)
        for (const c of columns) {
          for (const [t, file] of [[reference, o.reference], [current, o.current]] as const) {
            if (t[c] === undefined) throw new ConfigError(`column ${JSON.stringify(c.slice(0, 64))} is not in ${file} (columns: ${Object.keys(t).join(', ').slice(0, 200)})`)
            if (!numeric(t, c)) throw new ConfigError(`column ${JSON.stringify(c.slice(0, 64))} of ${file} is not numeric`)
          }
        }
      } else {
        columns = Object.keys(reference).filter((c) => c !== 'time' && current[c] !== undefined)
        for (const c of columns) if (!numeric(reference, c) || !numeric(current, c)) skipped.push(c)
        columns = columns.filter((c) => !skipped.includes(c))
        if (columns.length === 0) throw new ConfigError(`${o.reference} and ${o.current} have no numeric column in common`)
      }
      const result = lib.datasetDrift(reference, current, { columns, ...(o.method === undefined ? {} : { method: o.method as Monitor.DriftMethod }), ...(threshold === undefined ? {} : { threshold }), ...(share === undefined ? {} : { share }) })
      if (o.json === true) return printJson(context, { ...result, skipped })
      const fmt = (v: number | undefined) => (v === undefined ? '' : Math.abs(v) < 1e-4 && v !== 0 ? v.toExponential(2) : v.toFixed(4))
      context.stdout.write(
        formatTable(
          ['column', 'method', 'score', 'threshold', 'drift', 'ref rows', 'rows'],
          result.columns.map((c) => [c.column, c.method, fmt(c.score), `${c.method === 'ks' || c.method === 'chisquare' || c.method === 'ztest' ? 'p < ' : '≥ '}${c.threshold}`, c.drifted ? 'yes' : 'no', String(c.referenceRows), String(c.currentRows)]),
        ),
      )
      context.stdout.write(`dataset drift: ${result.datasetDrift ? 'yes' : 'no'} (${result.driftedColumns} of ${result.columns.length} columns, ${(100 * result.share).toFixed(0)} %; drifts from ${(100 * result.shareThreshold).toFixed(0)} %)\n`)
      if (skipped.length > 0) context.stdout.write(`not numeric, skipped: ${skipped.join(', ')}\n`)
    })

  monitor
    .command('status')
    .description('the last evaluation of each monitor in MTFLOW_HOME/monitor/monitors.json (--evaluate: evaluate them now first)')
    .option('--evaluate', "evaluate every monitor now (recorded in monitor/state.jsonl) and print the triggers and alerts the scheduler's monitor job would fire; it sends and starts them (a breach seen here is still new to it); exit 1 when a monitor could not be evaluated")
    .option('--json', 'print JSON')
    .action(async (o: { evaluate?: boolean; json?: boolean }) => {
      const lib = monitorLib()
      const declared = lib.loadMonitors(context.home)
      const evaluation = o.evaluate === true ? await lib.evaluateMonitors(context.home, { now: Date.now(), manual: true }) : undefined
      if (evaluation?.results.some((r) => r.status === 'error') === true) context.exitCode = 1
      const status = lib.monitorStatus(context.home)
      const rows = declared.map((m) => status.get(m.name) ?? { monitor: m.name, kind: m.kind, target: m.target })
      if (o.json === true) return printJson(context, { file: lib.monitorsFile(context.home), monitors: rows, ...(evaluation === undefined ? {} : { firedTriggers: evaluation.firedTriggers, alerts: evaluation.alerts }) })
      if (declared.length === 0) return void context.stdout.write(`no monitors: declare them in ${lib.monitorsFile(context.home)}\n`)
      const cell = (v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(4)).toString() : v === null || v === undefined ? '' : String(v))
      context.stdout.write(
        formatTable(
          ['monitor', 'kind', 'target', 'evaluated', 'value', 'threshold', 'status'],
          rows.map((r) => {
            const e = r as Partial<Monitor.MonitorResult> & { monitor: string; kind: string; target: string }
            const state = e.status === undefined ? 'not evaluated' : e.status === 'error' ? `error: ${String(e.error ?? '').replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 120)}` : e.status
            return [e.monitor, e.kind, e.target, e.time === undefined ? '' : isoTime(e.time), cell(e.value), cell(e.threshold), state]
          }),
        ),
      )
      if (evaluation !== undefined) {
        // Nothing is sent or started here: the scheduler's monitor job does it when it next runs.
        context.stdout.write(`triggers the scheduler's monitor job would fire: ${evaluation.firedTriggers.length === 0 ? 'none' : evaluation.firedTriggers.join(', ')}\n`)
        for (const a of evaluation.alerts) context.stdout.write(`alert it would send: ${a}\n`)
      }
    })

  return monitor
}

function number(value: string | undefined, option: string, check: (v: number) => boolean, expected: string): number | undefined {
  return numberFlag(value, option, expected, check)
}
