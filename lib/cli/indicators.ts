// `mtflow indicators list|compute` and `mtflow pairs screen`: the indicator registry, indicators over
// lake data to a file, and a cointegration screen of a set of symbols.

import { Command } from 'commander'
import { ConfigError, parseTime, streamProgressSink } from '../core/index.js'
import type { Indicator, Params } from '../indicators/index.js'
import { formatTable, lazy, printJson, type CliContext } from './context.js'
import { withDateFormat } from './time-flags.js'

const data = () => lazy('../data/index.js') as typeof import('../data/index.js')
const indicators = () => lazy('../indicators/index.js') as typeof import('../indicators/index.js')

interface Selection {
  indicator: Indicator
  params: Params
}

/** "rsi", "rsi:period=14", "bbands:period=20,k=2" → the indicator and its validated parameters. */
export function parseSet(spec: string): Selection {
  const [name, rest] = spec.split(':', 2) as [string, string | undefined]
  const indicator = indicators().indicator(name.trim())
  const params: Partial<Params> = {}
  for (const pair of (rest ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [key, value] = pair.split('=', 2)
    const n = Number(value)
    if (key === undefined || value === undefined || value.trim() === '' || !Number.isFinite(n)) {
      throw new ConfigError(`--set ${spec}: expected name:param=number[,param=number…], e.g. bbands:period=20,k=2`)
    }
    params[key.trim()] = n
  }
  return { indicator, params: indicator.resolve(params) }
}

export function indicatorsCommand(context: CliContext): Command {
  const group = new Command('indicators').description('technical indicators: the registry, and indicators over lake data')
  group
    .command('list')
    .description('every indicator with its inputs, parameters (default, range) and outputs')
    .option('--json', 'print as JSON')
    .action((options: { json?: boolean }) => {
      const all = Object.values(indicators().INDICATORS)
      if (options.json === true) {
        return printJson(
          context,
          all.map((i) => ({ name: i.name, description: i.description, inputs: i.inputs, params: i.params, outputs: i.outputs, lookahead: i.lookahead === true })),
        )
      }
      const params = (i: Indicator) =>
        Object.entries(i.params)
          .map(([k, p]) => `${k}=${p.default}`)
          .join(' ')
      context.stdout.write(formatTable(['name', 'inputs', 'params', 'outputs'], all.map((i) => [i.name + (i.lookahead === true ? ' (lookahead)' : ''), i.inputs.join(' '), params(i), i.outputs.join(' ')])))
    })
  withDateFormat(group.command('compute'))
    .description('compute indicators over a dataset of the lake and write them with the bars to a Parquet or CSV file')
    .requiredOption('--symbol <symbol>', 'symbol in the lake')
    .requiredOption('--timeframe <tf>', 'timeframe in the lake, e.g. 1d')
    .option('--source <name>', 'source in the lake (default: the only one holding the symbol)')
    .option('--start <time>', 'first bar (ISO date/time, UTC)')
    .option('--end <time>', 'last bar (inclusive)')
    .option('--set <indicator>', 'an indicator and its parameters, e.g. rsi:period=14 or bbands:period=20,k=2 (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .requiredOption('--out <file>', 'output file: .parquet or .csv')
    .option('--json', 'print a summary as JSON')
    .action(async (options: { symbol: string; timeframe: string; source?: string; start?: string; end?: string; set: string[]; out: string; json?: boolean }) => {
      if (options.set.length === 0) throw new ConfigError('no indicator given; expected --set NAME[:param=value,…] (see: mtflow indicators list)')
      const selections = options.set.map(parseSet) // bad input fails before any data is read
      const { loadBars, writeColumns } = data()
      // Parsed here so that a bad time names its flag (parseTime: no offset = UTC; a bare end date covers its day).
      const start = options.start === undefined ? undefined : parseTime(options.start, { field: '--start' })
      const end = options.end === undefined ? undefined : parseTime(options.end, { field: '--end', endOfDay: true })
      const bars = await loadBars(context.home, { symbol: options.symbol, timeframe: options.timeframe, source: options.source, start, end })
      const columns: Record<string, Float64Array> = { time: bars.time, open: bars.open, high: bars.high, low: bars.low, close: bars.close, volume: bars.volume }
      const counts = new Map<string, number>()
      for (const s of selections) counts.set(s.indicator.name, (counts.get(s.indicator.name) ?? 0) + 1)
      const added: string[] = []
      for (const { indicator, params } of selections) {
        // The column name: the indicator's, with its parameter values when it is asked for twice.
        const base = counts.get(indicator.name)! > 1 ? [indicator.name, ...Object.values(params).map(String)].join('_') : indicator.name
        const result = indicator.compute(bars, params)
        for (const output of indicator.outputs) {
          const name = indicator.outputs.length === 1 ? base : `${base}_${output}`
          if (name in columns) throw new ConfigError(`--set: column ${name} would appear twice; give the repeated indicator different parameters`)
          columns[name] = result[output]!
          added.push(name)
        }
      }
      const written = await writeColumns(options.out, columns)
      const summary = { out: options.out, format: written.format, rows: written.rows, columns: added, first: bars.time.length > 0 ? new Date(bars.time[0]!).toISOString() : null, last: bars.time.length > 0 ? new Date(bars.time[bars.time.length - 1]!).toISOString() : null }
      if (options.json === true) return printJson(context, summary)
      context.stdout.write(`${summary.rows} bars of ${options.symbol} ${options.timeframe} with ${added.join(', ')} → ${options.out}\n`)
    })
  return group
}

export function pairsCommand(context: CliContext): Command {
  const group = new Command('pairs').description('pair trading: screen symbols for cointegration')
  withDateFormat(group.command('screen'))
    .description('test every pair of the symbols for return correlation, Engle–Granger cointegration and spread half-life')
    .requiredOption('--symbols <list>', 'comma-separated symbols in the lake (at least 2)')
    .requiredOption('--timeframe <tf>', 'timeframe, e.g. 1d')
    .option('--source <name>', 'source in the lake (default: the only one holding each symbol)')
    .option('--start <time>', 'first bar (ISO date/time, UTC)')
    .option('--end <time>', 'last bar (inclusive)')
    .option('--max-pvalue <p>', 'largest cointegration p-value to select', '0.05')
    .option('--min-corr <c>', 'smallest |correlation| of log returns to select', '0.5')
    .option('--save', 'record the screen as a pipeline step: a tracked run (experiment "pipeline") with pairs.parquet and manifest.json, reused when the same bars are screened by the same rules')
    .option('--json', 'print every pair as JSON')
    .action(async (options: { symbols: string; timeframe: string; source?: string; start?: string; end?: string; maxPvalue: string; minCorr: string; save?: boolean; json?: boolean }) => {
      const symbols = options.symbols.split(',').map((s) => s.trim()).filter((s) => s !== '')
      if (symbols.length < 2) throw new ConfigError(`--symbols needs at least 2 symbols (received ${JSON.stringify(options.symbols)})`)
      const maxPValue = Number(options.maxPvalue)
      const minCorr = Number(options.minCorr)
      if (!(maxPValue > 0 && maxPValue <= 1)) throw new ConfigError(`--max-pvalue must be a number in (0, 1] (received ${JSON.stringify(options.maxPvalue)})`)
      if (!(minCorr >= 0 && minCorr <= 1)) throw new ConfigError(`--min-corr must be a number in [0, 1] (received ${JSON.stringify(options.minCorr)})`)
      const pipeline = lazy('../pipeline/index.js') as typeof import('../pipeline/index.js')
      const screenOptions = { symbols, timeframe: options.timeframe, maxPValue, minCorr, ...(options.source === undefined ? {} : { source: options.source }), ...(options.start === undefined ? {} : { start: options.start }), ...(options.end === undefined ? {} : { end: options.end }), ...(options.json === true ? {} : { progress: streamProgressSink(context.stderr) }) }
      let result: import('../pipeline/index.js').Screen
      let saved: string | undefined
      if (options.save === true) {
        // A saved screen over the same bars by the same rules is the run that holds it already.
        const step = await pipeline.screenStep(context.home, screenOptions)
        if (step.reused || step.screen === undefined) {
          if (options.json === true) return printJson(context, { runId: step.runId, reused: true })
          context.stdout.write(`the same bars screened by the same rules: run ${step.runId} (reused)\n`)
          return
        }
        result = step.screen
        saved = step.runId
      } else result = await pipeline.screenLake(context.home, screenOptions)
      const time = result.time
      if (options.json === true) return printJson(context, { bars: time.length, first: new Date(time[0]!).toISOString(), last: new Date(time[time.length - 1]!).toISOString(), candidates: result.candidates, selected: result.selected, ...(saved === undefined ? {} : { runId: saved }) })
      const fmt = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : String(v))
      context.stdout.write(
        formatTable(
          ['pair (y ~ x)', 'corr', 'stat', 'p', 'beta', 'half-life', 'selected'],
          result.candidates.map((c) => [`${c.y} ~ ${c.x}`, fmt(c.corr, 3), fmt(c.stat, 3), fmt(c.pvalue, 4), fmt(c.beta, 3), fmt(c.halfLife, 1), c.passed ? 'yes' : `no: ${c.reasons.join('; ')}`]),
        ),
      )
      context.stdout.write(`${result.selected.length} of ${result.candidates.length} pairs selected, on ${time.length} shared bars\n`)
      if (saved !== undefined) context.stdout.write(`saved as run ${saved} (pairs.parquet, manifest.json)\n`)
    })
  return group
}
