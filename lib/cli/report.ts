// `mtflow report RUN|equity.csv|trades.csv`: a tearsheet (lib/report) of a tracked run's equity curve and
// trades, or of a CSV file, as one self-contained HTML page (--out) and/or its JSON (--json). Everything is
// read and computed before anything is written: bad input leaves no file behind.

import { Command } from 'commander'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { ConfigError, DataError, NotFoundError, streamProgressSink, timeframeMs, writeFileAtomic, type ProgressSink } from '../core/index.js'
import type { PriceSeries, RunTearsheetParts, Tearsheet, TearsheetInput, TradeColumns } from '../report/index.js'
import { lazy, printJson, type CliContext } from './context.js'

const data = () => lazy('../data/index.js') as typeof import('../data/index.js')
const report = () => lazy('../report/index.js') as typeof import('../report/index.js')
const track = () => lazy('../track/index.js') as typeof import('../track/index.js')

interface Options {
  benchmark?: string
  source?: string
  timeframe?: string
  out?: string
  json?: boolean
  periodsPerYear?: string
  trades?: string
  cash?: string
  title?: string
  dateFormat?: string
}

/** What a tearsheet is made of, before the lake is asked for prices. */
type Loaded = RunTearsheetParts

export function reportCommand(context: CliContext): Command {
  return new Command('report')
    .description('a tearsheet (quantstats metrics and plots) of a tracked run, an equity.csv (time,equity) or a trades.csv (its realised P&L: the account flat between exits, a point every weekday, or every day when trades open or close on weekends)')
    .argument('<input>', 'a run id (backtest or deployment), an equity.csv with columns time,equity, or a backtest trades.csv')
    .option('--benchmark <symbol>', "the lake's bars of this symbol over the same window (default: buy and hold of the traded symbol)")
    .option('--source <name>', 'lake source of the benchmark and price bars (default: the run\'s, else the only one holding the symbol)')
    .option('--timeframe <tf>', "timeframe of the benchmark and price bars (default: the run's, else 1d)")
    .option('--trades <file>', 'a trades.csv to go with an equity.csv')
    .option('--cash <amount>', 'starting capital when the input is a trades.csv alone (default 100000, as mtflow backtest)')
    .option('--periods-per-year <n>', "daily returns per year for annualising (default: a daily run's bars a year; else the curve's days with a point a year, as observed — 365.25 for a market open every day; 252 for a curve within one day)")
    .option('--title <text>', 'page title (default: the run name or the file name)')
    .option('--date-format <format>', 'the order of numeric dates in a CSV input when its values cannot tell it: DD/MM/YYYY, MM/DD/YYYY, YYYY/MM/DD, DD/MM/YY or MM/DD/YY (separators / . -)')
    .option('--out <file>', 'write the tearsheet as one self-contained HTML file (parent folders created)')
    .option('--json', 'print the tearsheet as JSON')
    .action(async (input: string, o: Options) => {
      const out = checkOut(o.out)
      const periodsPerYear = positive(o.periodsPerYear, '--periods-per-year', 'a number of daily returns per year > 0, e.g. 252 or 365')
      if (o.timeframe !== undefined) timeframeMs(o.timeframe)
      const progress = streamProgressSink(context.stderr)
      const loaded = loadInput(context.home, input, o, progress)
      const timeframe = o.timeframe ?? loaded.timeframe ?? '1d'
      const source = o.source ?? loaded.source
      const window = { start: loaded.time[0]!, end: loaded.time[loaded.time.length - 1]! }
      const sheetInput: TearsheetInput = { time: loaded.time, equity: loaded.equity, ...(loaded.trades === undefined ? {} : { trades: loaded.trades }) }
      if (o.benchmark !== undefined) sheetInput.benchmark = await closes(context.home, { symbol: o.benchmark, timeframe, source, ...window }, '--benchmark')
      if (loaded.symbol !== undefined) {
        // The traded symbol's prices: the price chart with the trades, and the buy-and-hold benchmark by default.
        try {
          sheetInput.prices = await closes(context.home, { symbol: loaded.symbol, timeframe, source, ...window }, 'the traded symbol')
        } catch (error) {
          if (!(error instanceof NotFoundError || error instanceof DataError)) throw error
          // Asked for by a flag: the flag is wrong (exit 2). Taken from the run: its bars may have left the lake since; the tearsheet goes on.
          const asked = [...(o.source === undefined ? [] : [`--source ${o.source}`]), ...(o.timeframe === undefined ? [] : [`--timeframe ${o.timeframe}`])]
          if (asked.length > 0) throw new ConfigError(`${asked.join(' and ')}: ${error.message}`, { cause: error })
          context.stderr.write(`mtflow report: no price chart or buy-and-hold benchmark: ${error.message}\n`)
        }
      }
      const sheet = report().tearsheet(sheetInput, { title: o.title ?? loaded.title, periodsPerYear: periodsPerYear ?? loaded.periodsPerYear })
      const html = out === undefined ? undefined : report().tearsheetHtml(sheet)
      if (out !== undefined) writeFileAtomic(out, html!)
      if (o.json === true) return printJson(context, sheet)
      context.stdout.write(summaryText(sheet))
      if (out !== undefined) context.stdout.write(`tearsheet written to ${out}\n`)
    })
}

// ---- input --------------------------------------------------------------------------------------

function loadInput(home: string, input: string, o: Options, progress: ProgressSink): Loaded {
  const isFile = existsSync(input)
  if (!isFile && /\.csv$/i.test(input)) throw new NotFoundError(`${input}: no such file (expected an equity.csv or trades.csv)`)
  if (!isFile) {
    if (o.trades !== undefined || o.cash !== undefined || o.dateFormat !== undefined) throw new ConfigError('--trades, --cash and --date-format go with a CSV input, not a run id')
    return report().loadRunTearsheet(new (track().Tracker)(home), input, progress)
  }
  if (!statSync(input).isFile()) throw new ConfigError(`${input} is a directory; expected a run id, an equity.csv or a trades.csv`)
  const text = readFileSync(input, 'utf8')
  const header = report().csvHeader(text, input)
  const dates = o.dateFormat === undefined ? {} : { dateFormat: o.dateFormat }
  const title = o.title ?? basename(input)
  if (header.includes('equity')) {
    if (o.cash !== undefined) throw new ConfigError('--cash goes with a trades.csv input (an equity.csv has its own amounts)')
    const { time, equity } = report().readEquityCsv(text, input, progress, dates)
    const ppy = report().dailyReturnsPerYear(time)
    if (o.trades === undefined) return { title, time, equity, ...ppy }
    const trades = report().readTradesCsv(readFileSync(o.trades, 'utf8'), o.trades, progress, false, dates)
    return { title, time, equity, trades, ...single(trades), ...ppy }
  }
  if (header.includes('pnl')) {
    if (o.trades !== undefined) throw new ConfigError(`--trades goes with an equity.csv; ${input} is already a trades file`)
    const cash = positive(o.cash, '--cash', 'an amount > 0') ?? 100_000
    const trades = report().readTradesCsv(text, input, progress, false, dates)
    const curve = report().equityOfTrades(trades, cash, input)
    return { title, ...curve, trades, ...single(trades), ...report().dailyReturnsPerYear(curve.time) }
  }
  throw new DataError(`${input} has neither an equity column (equity.csv: time,equity) nor a pnl column (trades.csv: symbol,entryTime,exitTime,pnl…); header: ${header.join(',').slice(0, 200)}`)
}

function single(trades: TradeColumns): { symbol?: string } {
  const symbols = new Set(trades.symbol)
  return symbols.size === 1 ? { symbol: [...symbols][0]! } : {}
}

async function closes(home: string, query: { symbol: string; timeframe: string; source?: string; start: number; end: number }, what: string): Promise<PriceSeries> {
  const bars = await data().loadBars(home, query)
  if (bars.time.length < 2) throw new NotFoundError(`${what} ${query.symbol} ${query.timeframe} has ${bars.time.length} bar(s) in the lake between ${new Date(query.start).toISOString()} and ${new Date(query.end).toISOString()}; expected at least 2`)
  return { name: query.symbol, time: bars.time, close: bars.close }
}

// ---- options and output -------------------------------------------------------------------------

function positive(value: string | undefined, option: string, expected: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !(n > 0 && n < Infinity)) throw new ConfigError(`${option} must be ${expected} (received ${JSON.stringify(value)})`)
  return n
}

/** --out as an absolute file path; an existing directory is refused (the HTML would replace nothing sensible). */
function checkOut(out: string | undefined): string | undefined {
  if (out === undefined) return undefined
  if (out.trim() === '') throw new ConfigError('--out must be a file path, e.g. report.html (received "")')
  const path = resolve(out)
  if (existsSync(path) && statSync(path).isDirectory()) throw new ConfigError(`--out ${out} is a directory; expected a file path, e.g. ${out.replace(/\/+$/, '')}/report.html`)
  return path
}

function summaryText(sheet: Tearsheet): string {
  const { fmtPercent, fmtRatio } = report()
  const m = sheet.metrics
  const rows: [string, string][] = [
    ['period', `${sheet.start} → ${sheet.end} (${sheet.conventions.returns} daily returns, ${sheet.conventions.periodsPerYear.toFixed(2).replace(/\.?0+$/, '')} a year)`],
    ['total return', fmtPercent(m.totalReturn)],
    ['CAGR', fmtPercent(m.cagr)],
    ['volatility', fmtPercent(m.volatility)],
    ['Sharpe', fmtRatio(m.sharpe)],
    ['Sortino', fmtRatio(m.sortino)],
    ['max drawdown', fmtPercent(m.maxDrawdown)],
    ['daily VaR 95 %', fmtPercent(m.valueAtRisk)],
  ]
  if (sheet.benchmark !== null) rows.push([`benchmark ${sheet.benchmark.name} (${sheet.benchmark.source})`, `${fmtPercent(sheet.benchmark.totalReturn)}, beta ${fmtRatio(sheet.benchmark.beta)}`])
  if (sheet.trades !== null) rows.push(['trades', `${sheet.trades.all.trades} closed, win rate ${fmtPercent(sheet.trades.all.winRate)}`])
  const width = Math.max(...rows.map(([k]) => k.length))
  return `${sheet.title}\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`
}
