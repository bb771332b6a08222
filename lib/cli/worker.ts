// `mtflow worker`: serve the bullmq executor's jobs on this machine until Ctrl-C or SIGTERM (running
// jobs finish first). Data comes by snapshot id from a lake path (default: the workspace) or from a
// server's lake read API (--data-url, default $MTFLOW_TRACKING_URI when set), checked against the id.

import { Command } from 'commander'
import { availableParallelism } from 'node:os'
import { ConfigError, errorMessage } from '../core/index.js'
import { lazy, printJson, type CliContext } from './context.js'

const exec = () => lazy('../exec/index.js') as typeof import('../exec/index.js')
const data = () => lazy('../data/index.js') as typeof import('../data/index.js')

function integer(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new ConfigError(`${flag} must be an integer in [${min}, ${max}] (received ${JSON.stringify(text.slice(0, 40))})`)
  return n
}

export function workerCommand(context: CliContext): Command {
  return new Command('worker')
    .description('run sweep, walk-forward, cross-validation and trial jobs from Redis (the bullmq executor) on this machine until Ctrl-C or SIGTERM')
    .option('--redis <url>', 'the Redis the submitters use (default $MTFLOW_REDIS_URL)')
    .option('--concurrency <n>', "jobs at once, one thread each (default: this machine's cores)")
    .option('--queues <list>', 'queues to serve: jobs (the work) and flows (gathering results)', 'jobs,flows')
    .option('--lake <dir>', 'a lake path holding the jobs\' data (default: the workspace, --home)')
    .option('--data-url <url>', 'read the jobs\' data from this mtflow serve instead (default $MTFLOW_TRACKING_URI when set)')
    .option('--token <token>', 'the server\'s token for --data-url (default $MTFLOW_TRACKING_TOKEN)')
    .option('--stalled-ms <ms>', 'a job whose worker is silent this long goes to another worker', '30000')
    .option('--json', 'print events and the final counts as JSON lines')
    .action(async (o: { redis?: string; concurrency?: string; queues: string; lake?: string; dataUrl?: string; token?: string; stalledMs: string; json?: boolean }) => {
      const concurrency = integer('--concurrency', o.concurrency, 1, 256) ?? availableParallelism()
      const stalledMs = integer('--stalled-ms', o.stalledMs, 1000, 3_600_000)!
      const queues = o.queues.split(',').map((q) => q.trim()).filter((q) => q !== '')
      for (const q of queues) if (!(exec().QUEUES as readonly string[]).includes(q)) throw new ConfigError(`--queues takes ${exec().QUEUES.join(', ')} (received ${JSON.stringify(q.slice(0, 40))})`)
      const url = o.dataUrl ?? (o.lake === undefined ? process.env.MTFLOW_TRACKING_URI : undefined)
      const token = o.token ?? process.env.MTFLOW_TRACKING_TOKEN ?? ''
      if (url !== undefined && url !== '') {
        let u: URL | undefined
        try {
          u = new URL(url)
        } catch {
          u = undefined
        }
        if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new ConfigError(`--data-url must be an http:// or https:// URL of mtflow serve (received ${JSON.stringify(url.slice(0, 200))})`)
        if (token === '') throw new ConfigError('--data-url needs the server\'s token: --token or MTFLOW_TRACKING_TOKEN')
      }
      const source = url !== undefined && url !== '' ? { url, token } : { home: o.lake ?? context.home }
      const log = (line: string) => context.stderr.write(o.json === true ? `${JSON.stringify({ time: new Date().toISOString(), event: line })}\n` : `${line}\n`)
      // Jobs that read the lake or record runs (gated backtests) use this workspace, not the submitter's path.
      process.env.MTFLOW_WORKER_HOME = o.lake ?? context.home
      const worker = await exec().startWorker({
        redis: o.redis,
        concurrency,
        queues,
        stalledMs,
        log,
        resolveData: async (ref) => {
          const { loadSnapshot } = data()
          const bars = await loadSnapshot(source, ref.query as never, ref.snapshot)
          return { meta: { symbol: bars.symbol, timeframe: bars.timeframe }, columns: { time: bars.time, open: bars.open, high: bars.high, low: bars.low, close: bars.close, volume: bars.volume } }
        },
      })
      log(`data from ${'url' in source ? source.url : `the lake at ${source.home}`}; Ctrl-C stops (running jobs finish first)`)
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          resolve()
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
      })
      try {
        await worker.close()
      } catch (error) {
        log(`closing: ${errorMessage(error)}`)
      }
      if (o.json === true) printJson(context, { version: worker.version, ...worker.stats })
      else context.stdout.write(`worker stopped: ${worker.stats.completed} jobs done, ${worker.stats.failed} failed, ${worker.stats.refused} refused\n`)
    })
}
