// `mtflow alerts` (issue 21 point 3): check the workspace's alert config (monitor/alerts.json), send a test
// alert through every sink, list the alert history (monitor/alerts.jsonl), and forward deployments' new
// alerts through the sinks. A bad config is one line naming the file and the field, exit 2.

import { Command } from 'commander'
import { ConfigError, isoTime } from '../core/index.js'
import { alertsConfigFile, forwardDeploymentAlerts, loadAlerting, readAlertHistory, type AlertOutcome, type Delivery } from '../monitor/alerts.js'
import { formatTable, printJson, type CliContext } from './context.js'

export function alertsCommand(context: CliContext): Command {
  const alerts = new Command('alerts').description('alert sinks: check the configuration, send a test alert, list the history')

  alerts
    .command('check')
    .description('validate MTFLOW_HOME/monitor/alerts.json (exit 2 with one line when it is bad)')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const alerting = loadAlerting(context.home)
      const sinks = alerting.sinks.map((s) => ({ name: s.name, kind: s.kind, target: s.target }))
      if (o.json === true) return printJson(context, { file: alertsConfigFile(context.home), ok: true, sinks })
      if (sinks.length === 0) return void context.stdout.write(`no sinks (${alertsConfigFile(context.home)} is absent or lists none): alerts are only recorded in monitor/alerts.jsonl\n`)
      context.stdout.write(`ok: ${sinks.length} sink${sinks.length === 1 ? '' : 's'}\n${formatTable(['sink', 'kind', 'target'], sinks.map((s) => [s.name, s.kind, s.target]))}`)
    })

  alerts
    .command('test')
    .description('send one test alert through every sink (exit 1 when a sink fails)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const alerting = loadAlerting(context.home, { stdout: sinkStream(context, o.json) })
      if (alerting.sinks.length === 0) throw new ConfigError(`no sinks to test: ${alertsConfigFile(context.home)} is absent or lists none`)
      const out = await alerting.test()
      if (out.deliveries.some((d) => !d.ok)) context.exitCode = 1
      if (o.json === true) return printJson(context, out)
      context.stdout.write(formatTable(['sink', 'result', 'attempts'], out.deliveries.map((d) => [d.sink, result(d), String(d.attempts)])))
    })

  alerts
    .command('list')
    .description('the alert history, oldest first: sent and held (duplicate, cooldown) alerts')
    .option('--limit <n>', 'the last N alerts', '50')
    .option('--json', 'print JSON')
    .action((o: { limit: string; json?: boolean }) => {
      if (!/^\d{1,6}$/.test(o.limit) || Number(o.limit) < 1) throw new ConfigError(`--limit must be an integer from 1 to 999999 (received ${JSON.stringify(o.limit.slice(0, 50))})`)
      const rows = readAlertHistory(context.home, { limit: Number(o.limit) })
      if (o.json === true) return printJson(context, rows)
      if (rows.length === 0) return void context.stdout.write('no alerts yet\n')
      context.stdout.write(formatTable(['time', 'severity', 'source', 'key', 'state', 'count', 'text'], rows.map(row)))
    })

  alerts
    .command('forward')
    .description("send new lines of every deployments/NAME/alerts.jsonl through the sinks (each line once)")
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const alerting = loadAlerting(context.home, { stdout: sinkStream(context, o.json) })
      const out = await forwardDeploymentAlerts(context.home, { alerting })
      if (o.json === true) return printJson(context, out)
      const sent = out.filter((a) => a.sent).length
      context.stdout.write(`${out.length} deployment alert${out.length === 1 ? '' : 's'} forwarded: ${sent} sent, ${out.length - sent} held\n`)
    })

  return alerts
}

/** Where a "stdout" log sink writes: stderr under --json, so stdout stays one JSON document. */
function sinkStream(context: CliContext, json: boolean | undefined): CliContext['stdout'] {
  return json === true ? context.stderr : context.stdout
}

function result(d: Delivery): string {
  if (d.ok) return d.status === undefined ? 'ok' : `ok (${d.status})`
  return `failed: ${d.error ?? 'unknown'}`
}

/** One history line for the table: control characters and long texts flattened. */
function row(a: AlertOutcome): string[] {
  const flat = (t: unknown, max: number) => {
    const s = String(t ?? '').replace(/[\x00-\x1f\x7f]+/g, ' ')
    return s.length > max ? `${s.slice(0, max - 1)}…` : s
  }
  // Lines written by others straight into the history (epoch-ms times, no delivery record) are shown as recorded.
  const t = a.time as unknown
  const time = typeof t === 'string' ? t : typeof t === 'number' && Number.isFinite(t) ? isoTime(t) : ''
  const state = a.sent === true ? `sent${(a.deliveries ?? []).some((d) => !d.ok) ? ' (a sink failed)' : ''}` : a.sent === false ? `held: ${flat(a.held, 20)}` : 'recorded'
  return [flat(time, 30), flat(a.severity, 10), flat(a.source, 40), flat(a.key, 40), state, String(Number(a.count) || 1), flat(a.text, 100)]
}
