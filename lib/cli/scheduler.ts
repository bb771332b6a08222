// `mtflow scheduler` (issue 21): the jobs of <home>/scheduler/jobs.json — `run` (in this process until
// Ctrl-C or SIGTERM; --once: what is due now, then exit), `list` (each job's next run), `validate` (the
// file, one line and exit 2 when it is wrong), `trigger NAME` (run now, here), `history`. Jobs that run a
// verb (ingest, pipeline, report) run it in this process, as `pipeline pairs` runs its steps.

import { Command } from 'commander'
import { ConfigError } from '../core/index.js'
import { formatTable, lazy, printJson, type CliContext } from './context.js'
import { runVerb as verb } from './run-verb.js'
import type { HistoryLine, RunRecord } from '../scheduler/index.js'

const scheduler = () => lazy('../scheduler/index.js') as typeof import('../scheduler/index.js')


const iso = (ms: number | undefined) => (ms === undefined ? '—' : new Date(ms).toISOString())

function recordRow(r: RunRecord | HistoryLine): string[] {
  return [r.time, r.job, r.trigger, r.status, String(r.ms), r.runId ?? '—', r.error ?? (r as RunRecord).outcome?.summary ?? '']
}

const RECORD_HEADER = ['time', 'job', 'trigger', 'status', 'ms', 'run', 'detail']

function withoutOutcome(r: RunRecord | HistoryLine): HistoryLine & { summary?: string } {
  const { outcome, ...line } = r as RunRecord
  return outcome?.summary === undefined ? line : { ...line, summary: outcome.summary }
}

function options(context: CliContext, log?: (line: string) => void) {
  const home = context.home
  return { home, verb: (args: string[]) => verb(home, args), load: (path: string) => lazy(path), ...(log === undefined ? {} : { log }) }
}

export function schedulerCommand(context: CliContext): Command {
  const group = new Command('scheduler').description('scheduled jobs (<home>/scheduler/jobs.json): run, list, validate, trigger, history')

  group
    .command('run')
    .description('run the jobs on their schedules in this process until Ctrl-C or SIGTERM (--once: the jobs due now, then exit)')
    .option('--once', 'run what is due now (and what it triggers), then exit')
    .option('--json', 'print each run as a JSON line (--once: all of them as one JSON array)')
    .action(async (o: { once?: boolean; json?: boolean }) => {
      const { Scheduler } = scheduler()
      if (o.once === true) {
        const s = new Scheduler(options(context))
        const records = await s.runOnce()
        if (records.some((r) => r.status === 'failed')) context.exitCode = 1
        if (o.json === true) return printJson(context, records.map(withoutOutcome))
        if (records.length === 0) return void context.stdout.write(`no job due at ${iso(s.clock.now())} (${s.jobs.length} job${s.jobs.length === 1 ? '' : 's'}; mtflow scheduler list shows when each runs next)\n`)
        context.stdout.write(formatTable(RECORD_HEADER, records.map(recordRow)))
        return
      }
      const s = new Scheduler({
        ...options(context, o.json === true ? undefined : (line) => context.stdout.write(`${line}\n`)),
        ...(o.json === true ? { onRecord: (r: RunRecord | HistoryLine) => context.stdout.write(`${JSON.stringify(withoutOutcome(r))}\n`) } : { onRecord: (r: RunRecord | HistoryLine) => { if (r.status === 'skipped') context.stdout.write(`${r.time} ${r.job} skipped: ${r.error}\n`) } }),
      })
      if (o.json !== true) {
        context.stderr.write(`scheduler: ${s.jobs.length} job${s.jobs.length === 1 ? '' : 's'} from ${scheduler().jobsFile(context.home)}; Ctrl-C stops (running jobs finish first)\n`)
        for (const { job, next } of s.schedule()) context.stderr.write(`  ${job.name}: next ${iso(next)}\n`)
      }
      const stop = () => s.stop()
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      try {
        await s.run()
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
    })

  group
    .command('list')
    .description('the jobs and when each runs next')
    .option('--json', 'print them as JSON')
    .action((o: { json?: boolean }) => {
      const { Scheduler, readState } = scheduler()
      const s = new Scheduler(options(context))
      const state = readState(context.home)
      const rows = s.schedule().map(({ job, next, lastRun }) => ({ ...job, next: next === undefined ? null : iso(next), lastRun: lastRun === undefined ? null : iso(lastRun), lastStatus: state.jobs[job.name]?.lastStatus ?? null }))
      if (o.json === true) return printJson(context, rows)
      if (rows.length === 0) return void context.stdout.write(`no jobs (declare them in ${scheduler().jobsFile(context.home)})\n`)
      context.stdout.write(formatTable(['job', 'kind', 'cron', 'timezone', 'next', 'last', 'status'], rows.map((r) => [r.name, r.kind, r.cron, r.timezone, r.next ?? '—', r.lastRun ?? '—', r.lastStatus ?? '—'])))
    })

  group
    .command('validate')
    .description('check the jobs file (or FILE), and that every monitor trigger starts one of its jobs: one line naming the first fault and exit 2, else the jobs it declares')
    .argument('[file]', 'a jobs file (default <home>/scheduler/jobs.json)')
    .option('--json', 'print the checked jobs, defaults filled in, as JSON')
    .action((file: string | undefined, o: { json?: boolean }) => {
      const { readJobs, jobsFile, checkTriggers } = scheduler()
      const path = file ?? jobsFile(context.home)
      const jobs = readJobs(context.home, path).jobs
      // The workspace's monitors fire triggers by job name: each must start a job of this file.
      checkTriggers((lazy('../monitor/index.js') as typeof import('../monitor/index.js')).loadMonitors(context.home), jobs, path)
      if (o.json === true) return printJson(context, { file: path, jobs })
      context.stdout.write(`${path}: ${jobs.length} job${jobs.length === 1 ? '' : 's'}, all valid${jobs.length === 0 ? '' : ` (${jobs.map((j) => `${j.name}: ${j.kind}`).join(', ')})`}\n`)
    })

  group
    .command('trigger')
    .description('run the job NAME (or every job matching a glob such as "retrain-*") now, in this process')
    .argument('<name>', 'a job name or a glob with *')
    .option('--json', 'print the runs as JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const { Scheduler } = scheduler()
      // The runs are printed below; the scheduler's own notes (a trigger that starts nothing) go to stderr.
      const s = new Scheduler(options(context, (line) => (line.startsWith('scheduler: ') ? context.stderr.write(`${line}\n`) : undefined)))
      const started = s.runTrigger(name, 'manual')
      const records = await Promise.all(started)
      await s.idle() // what they triggered
      if (records.some((r) => r.status !== 'ok')) context.exitCode = 1
      if (o.json === true) return printJson(context, records.map(withoutOutcome))
      context.stdout.write(formatTable(RECORD_HEADER, records.map(recordRow)))
    })

  group
    .command('history')
    .description('past runs and skips, oldest first')
    .option('--job <name>', 'one job only')
    .option('--last <n>', 'the last N lines')
    .option('--json', 'print them as JSON')
    .action((o: { job?: string; last?: string; json?: boolean }) => {
      const last = o.last === undefined ? undefined : Number(o.last)
      if (last !== undefined && !(Number.isInteger(last) && last >= 1)) throw new ConfigError(`--last must be an integer ≥ 1 (received ${JSON.stringify(o.last)})`)
      const lines = scheduler().readHistory(context.home, { ...(o.job === undefined ? {} : { job: o.job }), ...(last === undefined ? {} : { last }) })
      if (o.json === true) return printJson(context, lines)
      if (lines.length === 0) return void context.stdout.write(`no history${o.job === undefined ? '' : ` for job ${o.job}`}\n`)
      context.stdout.write(formatTable(RECORD_HEADER, lines.map(recordRow)))
    })

  return group
}
