// `mtflow ingest ccxt …`: exchange history into the lake, with a progress bar per symbol.

import { Command } from 'commander'
import { streamProgressSink } from '../core/index.js'
import { formatReport } from './data.js'
import { lazy, parseSeconds, printJson, type CliContext } from './context.js'
import { withDateFormat } from './time-flags.js'

interface CcxtOptions {
  exchange: string
  symbols: string
  timeframe: string
  since: string
  until?: string
  apiUrl?: string
  source?: string
  timeout?: string
  json?: boolean
}

export function ingestCommand(context: CliContext): Command {
  const ingest = new Command('ingest').description('pull market data into the lake')
  withDateFormat(ingest.command('ccxt'))
    .description("fetch OHLCV history from an exchange through ccxt (closed candles only; resumes from what the lake holds)")
    .requiredOption('--exchange <id>', 'ccxt exchange id, e.g. binance')
    .requiredOption('--symbols <list>', 'comma-separated symbols, e.g. BTC/USDT,ETH/USDT')
    .requiredOption('--timeframe <tf>', 'candle timeframe, e.g. 1m 1h 1d')
    .requiredOption('--since <time>', 'first candle wanted (ISO date/time, UTC)')
    .option('--until <time>', 'last candle wanted (default: the newest closed one)')
    .option('--api-url <url>', "replace the origin of the exchange's REST URLs (proxies, test stand-ins)")
    .option('--source <name>', 'source name in the lake (default: the exchange id)')
    .option('--timeout <seconds>', 'per-request timeout; a request that takes longer is retried (default 10)')
    .option('--json', 'print the reports as JSON')
    .action(async (options: CcxtOptions) => {
      // ccxt is large: loaded by this verb only.
      const { ingestCcxt } = lazy('../data/sources/ccxt-source.js') as typeof import('../data/sources/ccxt-source.js')
      const reports = await ingestCcxt(context.home, {
        exchange: options.exchange,
        symbols: options.symbols.split(',').map((s) => s.trim()).filter((s) => s !== ''),
        timeframe: options.timeframe,
        since: options.since,
        until: options.until,
        apiUrl: options.apiUrl,
        source: options.source,
        timeoutMs: options.timeout === undefined ? undefined : parseSeconds(options.timeout, '--timeout')! * 1000,
        progress: options.json === true ? undefined : streamProgressSink(context.stderr),
        // Each retry as it happens, one line on stderr (also under --json: stdout stays the reports).
        onRetry: (r) => context.stderr.write(`${context.stderr.isTTY === true ? '\r\x1b[2K' : ''}mtflow: attempt ${r.attempt} of ${r.attempts} failed (${r.error}: ${r.message}); retrying in ${(r.waitMs / 1000).toFixed(1)} s\n`),
      })
      if (options.json === true) return printJson(context, reports)
      for (const r of reports) {
        const retried = Object.entries(r.retried).map(([name, n]) => `${n} ${name}`).join(', ')
        context.stdout.write(`${formatReport(r)}  fetched      ${r.fetched} candles in ${r.requests} requests${retried === '' ? '' : ` (retried: ${retried})`}, from ${r.resumedFrom}${r.backfilled === undefined ? '' : `; before the lake's first bar ${r.backfilled.from} … ${r.backfilled.to}`}${r.emptyPages === 0 ? '' : `; ${r.emptyPages} page${r.emptyPages === 1 ? '' : 's'} without candles (gaps at the exchange) skipped`}${r.stopped === undefined ? '' : `; stopped: ${r.stopped}`}\n`)
      }
    })
  return ingest
}
