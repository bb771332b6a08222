// `mtflow import FILE …` and `mtflow data list|validate|samples`: files into the lake, and what it holds.

import { Command } from 'commander'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../../kernel/kernelspec.js'
import { ConfigError } from '../core/index.js'
import type { IngestReport } from '../data/index.js'

/** lib/data loads DuckDB, arquero and Arrow: only verbs that use it pay for it. */
const data = async () => lazy('../data/index.js') as typeof import('../data/index.js')
import { formatTable, lazy, numberFlag, printJson, type CliContext } from './context.js'
import { DATE_FORMAT_HELP, withDateFormat } from './time-flags.js'

export function importCommand(context: CliContext): Command {
  return new Command('import')
    .description('import a CSV or Parquet file of OHLCV bars into the lake (validated; bad rows go to quarantine)')
    .argument('<file>', 'CSV or Parquet file with date/time, open, high, low, close[, volume] columns')
    .requiredOption('--symbol <symbol>', 'symbol to store the bars under (e.g. SPX, BTC/USDT)')
    .requiredOption('--timeframe <tf>', 'bar timeframe: 1m 3m 5m 15m 1h 4h 1d 1w or any multiple')
    .option('--source <name>', 'source name in the lake', 'local')
    .option('--delimiter <char>', 'CSV field separator: , ; tab or | (default: sniffed from the header)')
    .option('--decimal <char>', 'decimal mark of the numbers: . or , (default: sniffed; a comma needs another delimiter)')
    .option('--date-format <format>', DATE_FORMAT_HELP)
    .option('--json', 'print the report as JSON')
    .action(async (file: string, options: { symbol: string; timeframe: string; source: string; delimiter?: string; decimal?: string; dateFormat?: string; json?: boolean }) => {
      const { json: _json, ...rest } = options
      const report = await (await data()).importFile(context.home, file, { ...rest, optionPrefix: '--' })
      if (options.json === true) return printJson(context, report)
      context.stdout.write(formatReport(report))
    })
}

export function formatReport(r: IngestReport): string {
  const reasons = Object.entries(r.quarantined)
  const lines = [
    `${r.source}/${r.symbol}/${r.timeframe}: ${r.input} rows read`,
    // Accepted rows whose time the lake holds with other values are quarantined (conflict_existing): said here,
    // or "accepted 72 (36 new, 6 already in the lake)" did not add up (an audit).
    `  accepted     ${r.accepted} (${r.added} new, ${r.unchanged} already in the lake${r.accepted - r.added - r.unchanged > 0 ? `, ${r.accepted - r.added - r.unchanged} differing from what the lake holds: the lake's kept, these quarantined as conflict_existing` : ''})`,
    `  dropped      ${r.duplicates} exact duplicates`,
    `  quarantined  ${reasons.reduce((s, [, n]) => s + (n ?? 0), 0)}${reasons.length > 0 ? ` (${reasons.map(([k, n]) => `${k} ${n}`).join(', ')}; ${r.quarantineAdded} new to the quarantine)` : ''}`,
    `  gaps         ${r.gaps} (reported, not filled)`,
  ]
  if (r.hint !== undefined) lines.push(`  hint         ${r.hint}`)
  if (r.quarantineFile !== undefined) lines.push(`  quarantine file: ${r.quarantineFile}`)
  return `${lines.join('\n')}\n`
}

export function dataCommand(context: CliContext): Command {
  const group = new Command('data').description('the market-data lake: coverage, gaps, quarantine, samples')
  group
    .command('list')
    .description('datasets in the lake: first and last bar, rows, gaps')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const datasets = await (await data()).listDatasets(context.home)
      if (options.json === true) return printJson(context, datasets)
      if (datasets.length === 0) return void context.stdout.write(`the lake in ${context.home} is empty (try: mtflow data samples)\n`)
      const rows = datasets.map((d) => [d.source, d.symbol, d.timeframe, d.first, d.last, String(d.rows), String(d.gaps), String(d.missing)])
      context.stdout.write(formatTable(['source', 'symbol', 'tf', 'first', 'last', 'rows', 'gaps', 'missing'], rows))
    })
  group
    .command('validate')
    .description('coverage and gaps of every dataset, and what the quarantine holds by reason')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const { listDatasets, quarantineSummary } = await data()
      const datasets = await listDatasets(context.home)
      const quarantine = await quarantineSummary(context.home)
      if (options.json === true) return printJson(context, { datasets, quarantine })
      context.stdout.write(formatTable(['source', 'symbol', 'tf', 'rows', 'gaps', 'missing', 'largest gap'], datasets.map((d) => [d.source, d.symbol, d.timeframe, String(d.rows), String(d.gaps), String(d.missing), d.largestGap === null ? '' : `${d.largestGap.from} → ${d.largestGap.to}`])))
      if (quarantine.length === 0) return void context.stdout.write('quarantine: empty\n')
      context.stdout.write(`quarantine:\n${formatTable(['source', 'symbol', 'tf', 'rows', 'reasons'], quarantine.map((q) => [q.source, q.symbol, q.timeframe, String(q.rows), Object.entries(q.reasons).map(([k, n]) => `${k} ${n}`).join(', ')]))}`)
    })
  group
    .command('samples')
    .description('load the bundled samples: S&P 500 daily as SPX, and DAX, SMI, CAC, FTSE closes (source "sample", 1d)')
    .option('--json', 'print the reports as JSON')
    .action(async (options: { json?: boolean }) => {
      const reports = await (await data()).importSamples(context.home, join(PROJECT_ROOT, 'data', 'samples'))
      if (options.json === true) return printJson(context, reports)
      for (const report of reports) context.stdout.write(formatReport(report))
    })
  withDateFormat(group.command('synthetic'))
    .description('generate seeded synthetic bars into the lake (source "synthetic", symbols SYN-…)')
    .option('--kind <kind>', 'gbm (GARCH volatility clustering) or pair (cointegrated)', 'gbm')
    .option('--bars <n>', 'number of bars', '10000')
    .option('--timeframe <tf>', 'bar timeframe', '1m')
    .option('--seed <n>', 'random seed', '1')
    .option('--pairs <n>', 'pair: this many cointegrated pairs, SYN-Y1/SYN-X1 … SYN-Yn/SYN-Xn, seeds seed … seed+n−1 (half-lives 12 to 48 bars)')
    .option('--start <time>', 'first bar time', '2024-01-01T00:00:00Z')
    .option('--json', 'print the reports as JSON')
    .action(async (options: { kind: string; bars: string; timeframe: string; seed: string; pairs?: string; start: string; json?: boolean }) => {
      const common = { bars: integerOption(options.bars, '--bars'), timeframe: options.timeframe, seed: integerOption(options.seed, '--seed'), start: options.start }
      if (options.kind !== 'gbm' && options.kind !== 'pair') throw new ConfigError(`--kind ${JSON.stringify(options.kind)} is not known; expected gbm or pair`)
      const pairs = options.pairs === undefined ? undefined : integerOption(options.pairs, '--pairs')
      if (pairs !== undefined && (options.kind !== 'pair' || pairs < 1 || pairs > 100)) throw new ConfigError(`--pairs needs --kind pair and a count from 1 to 100 (received ${JSON.stringify(options.pairs)})`)
      const { ingestBars, syntheticGbm, syntheticPair } = await data()
      const series =
        options.kind === 'gbm'
          ? [syntheticGbm(common)]
          : pairs === undefined
            ? syntheticPair(common)
            : Array.from({ length: pairs }, (_, k) => syntheticPair({ ...common, seed: common.seed + k, symbols: [`SYN-Y${k + 1}`, `SYN-X${k + 1}`], halfLife: 12 + (36 * k) / Math.max(1, pairs - 1), hedgeRatio: 0.8 + 0.2 * k })).flat()
      const reports = []
      for (const bars of series) reports.push(await ingestBars(context.home, bars, { source: 'synthetic', origin: `synthetic:${options.kind}:seed=${options.seed}` }))
      if (options.json === true) return printJson(context, reports)
      for (const report of reports) context.stdout.write(formatReport(report))
    })
  return group
}

function integerOption(value: string, name: string): number {
  return numberFlag(value, name, 'an integer', Number.isInteger)!
}

