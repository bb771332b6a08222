// `mtflow backtest` and `mtflow sweep`: a strategy (built-in name or file) on lake data — one run
// with its metrics, trades and optional export; or a parameter grid across worker threads.

import { Command } from 'commander'
import { availableParallelism } from 'node:os'
import { ConfigError, isoTime, streamProgressSink } from '../core/index.js'
import type { Bars } from '../data/index.js'
import type { Sizing } from '../strategy/index.js'
import { collect, formatTable, interruptible, lazy, numberFlag, printJson, type CliContext } from './context.js'
import { loadStrategySpec } from './strategy-spec.js'
import { withDateFormat } from './time-flags.js'

const data = () => lazy('../data/index.js') as typeof import('../data/index.js')
const bt = () => lazy('../backtest/index.js') as typeof import('../backtest/index.js')
const strategies = () => lazy('../strategy/index.js') as typeof import('../strategy/index.js')
const track = () => lazy('../track/index.js') as typeof import('../track/index.js')
const exec = () => lazy('../exec/index.js') as typeof import('../exec/index.js')

/**
 * Work inside a tracked run, cancellable: Ctrl-C aborts the signal (the executor cancels what has not
 * started) and the run ends KILLED; the command then exits 130.
 */
async function runCancellable<T>(context: CliContext, run: import('../track/index.js').ActiveRun | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once('SIGINT', stop)
  try {
    return await work(controller.signal)
  } catch (error) {
    if (error instanceof exec().CancelledError) {
      run?.end('KILLED')
      context.stderr.write(`mtflow: ${error.message}\n`)
      context.exitCode = 130
      return undefined
    }
    run?.fail(error)
    throw error
  } finally {
    process.off('SIGINT', stop)
  }
}

/** Work inside a tracked run: a thrown error ends the run FAILED (KILLED on Ctrl-C) before it propagates. */
async function runTracked<T>(run: import('../track/index.js').ActiveRun | undefined, work: () => T | Promise<T>): Promise<T> {
  if (run === undefined) return work()
  const kill = () => {
    run.end('KILLED')
    process.exit(130)
  }
  process.once('SIGINT', kill)
  try {
    return await work()
  } catch (error) {
    run.fail(error)
    throw error
  } finally {
    process.off('SIGINT', kill)
  }
}

interface Common {
  strategy?: string
  symbol: string[]
  timeframe: string
  source?: string
  param: string[]
  cash?: string
  sizeQty?: string
  sizePct?: string
  commission?: string
  slippageBps?: string
  start?: string
  end?: string
  experiment?: string
  track: boolean
  json?: boolean
}

/** A number flag by the CLI's one number grammar (numberFlag: 0x10, Infinity and 0,001 are refused). */
function number(option: string, value: string | undefined, check: (n: number) => boolean, expected: string): number | undefined {
  return numberFlag(value, option, expected, check)
}

/** The shared options, checked before any data is read. */
function parseCommon(o: Common): { symbols: string[]; params: Record<string, string>; cash: number; sizing: Sizing; commission: number; slippageBps: number } {
  if (o.strategy === undefined) throw new ConfigError('--strategy is required: a built-in name (see mtflow backtest --list), a strategy file or a registered NAME@VERSION|ALIAS')
  const symbols = o.symbol.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '')
  if (symbols.length === 0) throw new ConfigError('--symbol is required (a symbol in the lake; comma-separated or repeated for several)')
  const params: Record<string, string> = {}
  for (const text of o.param) {
    const [k, v] = strategies().parseParamArg(text)
    params[k] = v
  }
  if (o.sizeQty !== undefined && o.sizePct !== undefined) throw new ConfigError('give one of --size-qty and --size-pct')
  const qty = number('--size-qty', o.sizeQty, (n) => n > 0, 'a number of units > 0')
  const pct = number('--size-pct', o.sizePct, (n) => n > 0 && n <= 1000, 'a percentage of equity in (0, 1000]')
  return {
    symbols,
    params,
    cash: number('--cash', o.cash, (n) => n > 0, 'an amount > 0') ?? 100_000,
    sizing: qty !== undefined ? { qty } : { percent: (pct ?? 100) / 100 },
    commission: number('--commission', o.commission, (n) => n >= 0 && n < 1, 'a rate on notional in [0, 1), e.g. 0.0005 for 0.05 %') ?? 0,
    slippageBps: number('--slippage-bps', o.slippageBps, (n) => n >= 0, 'basis points ≥ 0') ?? 0,
  }
}

/** The snapshot id (barsHash) of each dataset loadData read, taken as it was read (lineage and sweep jobs name the data by it). */
const snapshots = new WeakMap<Bars, string>()

async function loadData(context: CliContext, o: Common, symbols: string[], timeframes: string[]): Promise<Record<string, Bars>> {
  const { loadBarsWithSnapshot } = data()
  const out: Record<string, Bars> = {}
  for (const symbol of symbols) {
    for (const timeframe of timeframes) {
      const { bars, snapshot } = await loadBarsWithSnapshot(context.home, { symbol, timeframe, source: o.source, start: o.start, end: o.end })
      snapshots.set(bars, snapshot)
      if (bars.time.length === 0) throw new ConfigError(noBars(context, o, symbol, timeframe))
      out[`${symbol}@${timeframe}`] = bars
    }
  }
  return out
}

/** Why a query read no bars: the source that holds none (and the ones that do), or the range. */
function noBars(context: CliContext, o: Common, symbol: string, timeframe: string): string {
  const range = o.start === undefined && o.end === undefined ? '' : ` between ${o.start ?? 'the start'} and ${o.end ?? 'the end'}`
  return data().missingSource(context.home, { symbol, timeframe, source: o.source }) ?? `no bars for ${symbol} ${timeframe}${range === '' ? ' in the lake' : range}`
}

/**
 * `load` (modules to require) run while `reading` waits on the disk: the reads it issues in this turn of
 * the event loop (loadBars walks the files' pages here and hands their values to the thread pool) are in
 * flight by the time `load` runs. Its errors surface where `reading` is awaited.
 */
async function loadWhileReading(reading: Promise<unknown>, load: () => void): Promise<void> {
  reading.catch(() => undefined)
  await new Promise<void>((resolve) => setImmediate(resolve))
  load()
}

/** The datasets as lineage entries: "source/symbol/timeframe" and the bars read. */
function lineageData(context: CliContext, o: Common, datasets: Record<string, Bars>): { name: string; source: string; bars: Bars; sha256?: string }[] {
  return Object.values(datasets).map((bars) => {
    const source = data().resolveKey(context.home, { symbol: bars.symbol, timeframe: bars.timeframe, source: o.source }).source
    const sha256 = snapshots.get(bars)
    return { name: `${source}/${bars.symbol}/${bars.timeframe}`, source, bars, ...(sha256 === undefined ? {} : { sha256 }) }
  })
}

function withCommon(cmd: Command): Command {
  return withDateFormat(cmd)
    .option('--strategy <name|file|NAME@REF>', 'a built-in strategy (see mtflow backtest --list), a .ts/.js file exporting one, or a registered version NAME@VERSION|ALIAS (its params are the defaults)')
    .option('--symbol <symbols>', 'symbol(s) in the lake; comma-separated or repeated', collect, [] as string[])
    .option('--timeframe <tf>', 'timeframe in the lake', '1d')
    .option('--source <name>', 'source in the lake (default: the only one holding each symbol)')
    .option('--param <name=value>', 'a strategy parameter (repeatable)', collect, [] as string[])
    .option('--cash <amount>', 'starting capital', '100000')
    .option('--size-qty <units>', 'units per entry')
    .option('--size-pct <percent>', 'percent of equity per entry (default 100, costs included)')
    .option('--commission <rate>', 'commission rate on notional, e.g. 0.0005 = 0.05 %', '0')
    .option('--slippage-bps <bps>', 'slippage on market and stop fills, basis points', '0')
    .option('--start <time>', 'first bar (ISO date/time, UTC)')
    .option('--end <time>', 'last bar (inclusive)')
    .option('--experiment <name>', 'the experiment the run is tracked in')
    .option('--no-track', 'do not record a tracked run')
    .option('--json', 'print the result as JSON')
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)} %` : String(x))
const num = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x))

export function backtestCommand(context: CliContext): Command {
  return withCommon(new Command('backtest').description('backtest a strategy on lake data (event-driven engine): metrics, trades, and --export files'))
    .option('--export <dir>', 'write trades.csv, orders.csv, fills.csv, equity.csv, factors.csv and results.json here')
    .option('--close-at-end', 'close open positions at the last close (default: report them as open trades)')
    .option('--list', 'list the built-in strategies and their parameters, then exit')
    .option('--signals-from <MODEL@REF>', "gate entries by a registered model (NAME@VERSION or NAME@ALIAS): its pair or symbol and timeframe come from its lineage; 'PREFIX.*@REF' runs one per model and prints a summary")
    .option('--proba-threshold <p>', "with --signals-from: enter only where the model's probability is ≥ p", '0.5')
    .option('--executor <name>', "with a batch (--signals-from 'PREFIX.*@REF'): run the backtests on local (worker threads) or bullmq (`mtflow worker` processes through Redis; they need the lake on a shared path)")
    .option('--redis <url>', 'Redis of the bullmq executor (default $MTFLOW_REDIS_URL)')
    .option('--workers <n>', 'threads of the local executor', '4')
    .action(async (o: Common & GatedFlags & { export?: string; closeAtEnd?: boolean; list?: boolean }, cmd: Command) => {
      if (o.list === true) return listStrategies(context, o.json === true)
      if (o.signalsFrom !== undefined) return gatedAction(context, o, cmd)
      if (cmd.getOptionValueSource('probaThreshold') !== 'default') throw new ConfigError('--proba-threshold needs --signals-from MODEL@REF (the model whose probability gates the entries)')
      const c = parseCommon(o)
      const { strategy, file, params: registered, version } = await loadStrategySpec(context.home, o.strategy!)
      const params = strategies().resolveParams(`strategy ${strategy.name}`, strategy.params, { ...registered, ...c.params }) as Record<string, number>
      const problem = strategy.validate?.(params)
      if (problem !== undefined) throw new ConfigError(`strategy ${strategy.name}: ${problem}`)
      const subs = strategy.universe(params, { symbols: c.symbols, timeframe: o.timeframe })
      const reading = loadData(context, o, [...new Set(subs.map((s) => s.symbol))], [...new Set(subs.map((s) => s.timeframe))])
      // The bars are read by the thread pool while the engine's and the tracker's code loads here.
      await loadWhileReading(reading, () => {
        bt()
        if (o.track) track()
      })
      const datasets = await reading
      const tracker = o.track ? track().openTracker(context.home) : undefined
      const run = tracker?.startRun({
        experiment: o.experiment ?? 'backtests',
        name: `${strategy.name} ${c.symbols.join(',')} ${o.timeframe}`,
        lineage: bt().backtestLineage({ strategy, file, params, data: lineageData(context, o, datasets) }),
        // The registered version run (NAME@REF): versions may share a source, so the hash alone cannot say.
        tags: { 'mtflow.source': 'cli', ...(version === undefined ? {} : { 'mtflow.strategy.version': String(version.version) }) },
      })
      const result = await runTracked(run, () => bt().backtest({
        strategy,
        params,
        symbols: c.symbols,
        timeframe: o.timeframe,
        data: (symbol, timeframe) => datasets[`${symbol}@${timeframe}`]!,
        cash: c.cash,
        sizing: c.sizing,
        fills: { takerRate: c.commission, slippageBps: c.slippageBps },
        closeAtEnd: o.closeAtEnd === true,
        progress: o.json === true ? undefined : streamProgressSink(context.stderr),
      }))
      const config = { strategy: strategy.name, ...(file === undefined ? {} : { file }), params, symbols: c.symbols, timeframe: o.timeframe, cash: c.cash, sizing: c.sizing, commission: c.commission, slippageBps: c.slippageBps }
      if (run !== undefined) {
        await bt().logBacktestAsync(run, result, { params, config: { strategy: strategy.name, symbols: c.symbols.join(','), timeframe: o.timeframe, cash: c.cash, sizing: c.sizing, commission: c.commission, slippageBps: c.slippageBps, engine: 'event' } })
        run.end()
      }
      const exported = o.export === undefined ? [] : bt().exportResults(result, o.export, config)
      for (const note of resizedNotes(result)) context.stderr.write(`mtflow: note: ${note}\n`)
      if (o.json === true) {
        const trades = bt().toRows(result.strategies[0]!.trades)
        const e = result.equity
        let min = Infinity
        let max = -Infinity
        for (let i = 0; i < e.length; i++) {
          if (e[i]! < min) min = e[i]!
          if (e[i]! > max) max = e[i]!
        }
        return printJson(context, {
          ...bt().summary(result, config),
          trades: trades.map((t) => ({ ...t, entryTime: isoTime(t.entryTime), exitTime: isoTime(t.exitTime) })),
          equity: { points: e.length, start: e[0], end: e[e.length - 1], min, max },
          ...(exported.length > 0 ? { exported } : {}),
          ...(run === undefined ? {} : { runId: run.id, experiment: run.experimentId }),
        })
      }
      const m = result.metrics
      const rows: [string, string][] = [
        ['period', `${isoTime(result.time[0]!).slice(0, 10)} → ${isoTime(result.time[result.time.length - 1]!).slice(0, 10)} (${result.time.length} bars)`],
        ['equity', `${num(m.startEquity)} → ${num(m.endEquity)}`],
        ['total return', pct(m.totalReturn)],
        ['CAGR', pct(m.cagr)],
        ['volatility', pct(m.volatility)],
        ['Sharpe', num(m.sharpe)],
        ['Sortino', num(m.sortino)],
        ['Calmar', num(m.calmar)],
        ['max drawdown', `${pct(m.maxDrawdown.depth)} (longest ${m.maxDrawdown.longestDuration} bars from a peak to its recovery or the end)`],
        ['trades', `${m.trades?.trades ?? 0} closed${m.openTrades > 0 ? `, ${m.openTrades} open at the end` : ''}`],
        ['win rate', pct(m.trades?.winRate ?? NaN)],
        ['profit factor', num(m.trades?.profitFactor ?? NaN)],
        ['expectancy', num(m.trades?.expectancy ?? NaN)],
        ['exposure', pct(m.exposure ?? NaN)],
        ['fees', num(m.fees)],
      ]
      context.stdout.write(`${strategy.name} ${JSON.stringify(params)} on ${c.symbols.join(', ')} ${o.timeframe}\n`)
      context.stdout.write(formatTable(['metric', 'value'], rows.map(([k, v]) => [k, v])))
      if (exported.length > 0) context.stdout.write(`exported: ${exported.join(', ')}\n`)
      if (run !== undefined) context.stdout.write(`run: ${run.id} (experiment ${run.experimentId}; mtflow runs show ${run.id})\n`)
    })
}

/**
 * What the engine did to orders that the user should know of, one line each: orders made smaller than their
 * sizing asked (buying power, a cap: the engine's "resized: …" reason; a cash account holds equity against
 * every unit bought, so a --size-pct above 100 is cut to what the cash buys), and orders filled only in part
 * because the cash bought less at the fill price (the next open) than at the close they were sized at — the
 * rest cancelled: status CANCELLED with a fill.
 */
function resizedNotes(result: import('../backtest/index.js').BacktestResult): string[] {
  let count = 0
  let first = ''
  let short = 0
  let shortFilled = 0
  for (const s of result.strategies) {
    const reasons = s.orders.reason
    for (let k = 0; k < reasons.length; k++) {
      const reason = reasons[k]!
      if (reason === 'insufficient buying power at the fill price') {
        short++
        if (s.orders.filled[k]! > 0) shortFilled++
      }
      if (!reason.startsWith('resized: ')) continue
      if (count++ === 0) first = reason.slice('resized: '.length)
    }
  }
  const notes: string[] = []
  if (count > 0) notes.push(`${count} order(s) were made smaller than their sizing asked (the first: ${first}); the orders' reason column says by how much${/buying power/.test(first) ? ' (a cash account: --size-pct above 100 is cut to what the cash buys)' : ''}`)
  if (short > 0) notes.push(`${short} order(s) met less buying power at the fill price than at the close they were sized at: each was filled as far as the cash went (${shortFilled} in part, ${short - shortFilled} not at all) and cancelled for the rest (status CANCELLED, reason "insufficient buying power at the fill price"; the orders' filled column says how much)`)
  return notes
}

interface GatedFlags {
  signalsFrom?: string
  probaThreshold: string
  executor?: string
  redis?: string
  workers?: string
}

/** `mtflow backtest --signals-from MODEL@REF | 'PREFIX.*@REF'`: model-gated backtests (lib/pipeline/gated.ts). */
async function gatedAction(context: CliContext, o: Common & GatedFlags & { export?: string; closeAtEnd?: boolean }, cmd: Command): Promise<void> {
  const pipeline = lazy('../pipeline/index.js') as typeof import('../pipeline/index.js')
  const threshold = number('--proba-threshold', o.probaThreshold, (n) => n >= 0, 'a probability ≥ 0 (above 1 blocks every entry)')!
  const symbols = o.symbol.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '')
  const params: Record<string, string> = {}
  for (const text of o.param) {
    const [k, v] = strategies().parseParamArg(text)
    params[k] = v
  }
  if (o.sizeQty !== undefined && o.sizePct !== undefined) throw new ConfigError('give one of --size-qty and --size-pct')
  const qty = number('--size-qty', o.sizeQty, (n) => n > 0, 'a number of units > 0')
  const percent = number('--size-pct', o.sizePct, (n) => n > 0 && n <= 1000, 'a percentage of equity in (0, 1000]')
  const cash = number('--cash', o.cash, (n) => n > 0, 'an amount > 0') ?? 100_000
  const commission = number('--commission', o.commission, (n) => n >= 0 && n < 1, 'a rate on notional in [0, 1), e.g. 0.0005 for 0.05 %') ?? 0
  const slippageBps = number('--slippage-bps', o.slippageBps, (n) => n >= 0, 'basis points ≥ 0') ?? 0
  const loaded = o.strategy === undefined ? undefined : await loadStrategySpec(context.home, o.strategy)
  const { refs, batch } = pipeline.expandSignalsFrom(context.home, o.signalsFrom!)
  if (batch && symbols.length > 0) throw new ConfigError(`--symbol cannot be given with a batch (${o.signalsFrom}): each model trades its own pair or symbol`)
  if (batch && o.export !== undefined) throw new ConfigError('--export writes one backtest\'s files; a batch keeps each one\'s in its child run (mtflow runs show RUN)')
  if (!o.track && batch) throw new ConfigError('a batch is recorded as runs; --no-track applies to one backtest only')
  if (!batch && o.executor !== undefined) throw new ConfigError("--executor runs a batch's backtests (--signals-from 'PREFIX.*@REF'); one backtest runs here")
  if (o.redis !== undefined && o.executor !== 'bullmq') throw new ConfigError('--redis goes with --executor bullmq')
  const workers = number('--workers', o.workers, (n) => Number.isInteger(n) && n >= 1 && n <= 256, 'an integer in [1, 256]') ?? 4
  const options = {
    probaThreshold: threshold,
    ...(loaded === undefined ? {} : { strategy: loaded.strategy, ...(loaded.file === undefined ? {} : { file: loaded.file }) }),
    // A registered version's params under the command line's.
    params: loaded?.params === undefined ? params : { ...Object.fromEntries(Object.entries(loaded.params).map(([k, v]) => [k, String(v)])), ...params },
    ...(symbols.length > 0 ? { symbols } : {}),
    ...(cmd.getOptionValueSource('timeframe') === 'default' ? {} : { timeframe: o.timeframe }),
    ...(o.start === undefined ? {} : { start: o.start }),
    ...(o.end === undefined ? {} : { end: o.end }),
    cash,
    sizing: (qty !== undefined ? { qty } : { percent: (percent ?? 100) / 100 }) as Sizing,
    fills: { takerRate: commission, slippageBps },
    closeAtEnd: o.closeAtEnd === true,
    ...(o.experiment === undefined ? {} : { experiment: o.experiment }),
    tags: { 'mtflow.source': 'cli' },
    ...(o.json === true ? {} : { progress: streamProgressSink(context.stderr) }),
  }
  if (batch) {
    const executor = o.executor === undefined ? undefined : interruptible(await exec().createExecutor({ executor: o.executor, threads: workers, redis: o.redis }))
    let out: Awaited<ReturnType<typeof pipeline.gatedBatch>>
    try {
      out = await pipeline.gatedBatch(context.home, { ...options, pattern: o.signalsFrom!, ...(executor === undefined ? {} : { executor }) })
    } finally {
      await executor?.close()
    }
    if (o.json === true) return printJson(context, { runId: out.runId, experiment: out.experiment, signalsFrom: o.signalsFrom, probaThreshold: out.probaThreshold, rows: out.rows })
    context.stdout.write(`${out.rows.length} model-gated backtests (${o.signalsFrom}, p ≥ ${out.probaThreshold}), best Sharpe first; "ungated": the same strategy on the same bars without the gate\n`)
    context.stdout.write(
      formatTable(
        ['target', 'model', 'trades', 'return', 'CAGR', 'Sharpe', 'maxDD', 'win', 'exposure', 'ungated trades', 'ungated return', 'ungated Sharpe', 'ungated maxDD'],
        out.rows.map((r) => [r.target, r.model, String(r.trades), pct(r.totalReturn), pct(r.cagr), num(r.sharpe), pct(r.maxDrawdown), pct(r.winRate), pct(r.exposure), String(r.ungated_trades), pct(r.ungated_totalReturn), num(r.ungated_sharpe), pct(r.ungated_maxDrawdown)]),
      ),
    )
    context.stdout.write(`run: ${out.runId} with ${out.rows.length} child runs (experiment ${out.experiment}; summary.parquet; mtflow runs show ${out.runId})\n`)
    return
  }
  const g = await pipeline.gatedBacktest(context.home, { ...options, ref: refs[0]!, track: o.track })
  const config = { strategy: g.strategy, params: g.params, symbols: g.symbols, timeframe: g.timeframe, cash, commission, slippageBps, signalsFrom: g.model, probaThreshold: g.probaThreshold, target: g.target }
  const exported = o.export === undefined ? [] : bt().exportResults(g.result, o.export, config)
  if (o.json === true) {
    return printJson(context, {
      ...bt().summary(g.result, config),
      gate: g.gate,
      ungated: bt().flatMetrics(g.ungated.metrics),
      inSample: g.inSample,
      trainedThrough: g.trainedThrough,
      ...(exported.length > 0 ? { exported } : {}),
      ...(g.runId === undefined ? {} : { runId: g.runId, experiment: g.experiment }),
    })
  }
  const a = g.result.metrics
  const b = g.ungated.metrics
  const rows: [string, string, string][] = [
    ['total return', pct(a.totalReturn), pct(b.totalReturn)],
    ['CAGR', pct(a.cagr), pct(b.cagr)],
    ['Sharpe', num(a.sharpe), num(b.sharpe)],
    ['max drawdown', pct(a.maxDrawdown.depth), pct(b.maxDrawdown.depth)],
    ['trades', String(a.trades?.trades ?? 0), String(b.trades?.trades ?? 0)],
    ['win rate', pct(a.trades?.winRate ?? NaN), pct(b.trades?.winRate ?? NaN)],
    ['exposure', pct(a.exposure ?? a.avgExposure), pct(b.exposure ?? b.avgExposure)],
  ]
  const time = g.result.time
  context.stdout.write(`${g.strategy} ${JSON.stringify(g.params)} on ${g.target} ${g.timeframe}, entries where ${g.model} gives p ≥ ${g.probaThreshold} (entry orders: ${g.gate.allowed} let through, ${g.gate.blocked} blocked)\n`)
  context.stdout.write(`period ${isoTime(time[0]!).slice(0, 10)} → ${isoTime(time[time.length - 1]!).slice(0, 10)} (${time.length} bars${o.start === undefined && !g.inSample ? ", from the first bar after the model's training" : ''})\n`)
  if (g.inSample) context.stdout.write(`IN SAMPLE: the model was trained on bars through ${g.trainedThrough.slice(0, 16)}, and this backtest starts before that; its numbers flatter the model (select refuses such runs). Give --start after it, or train on fewer bars.\n`)
  context.stdout.write(formatTable(['metric', 'gated', 'ungated'], rows.map((r) => [...r])))
  if (exported.length > 0) context.stdout.write(`exported: ${exported.join(', ')}\n`)
  if (g.runId !== undefined) context.stdout.write(`run: ${g.runId} (experiment ${g.experiment}; mtflow runs show ${g.runId})\n`)
}

function listStrategies(context: CliContext, json: boolean): void {
  const all = Object.values(strategies().STRATEGIES)
  if (json) return printJson(context, all.map((s) => ({ name: s.name, description: s.description, params: s.params, vectorized: s.signals !== undefined })))
  context.stdout.write(
    formatTable(
      ['name', 'params (default [min, max])', 'description'],
      all.map((s) => [s.name, Object.entries(s.params).map(([k, d]) => `${k}=${d.default} [${d.min}, ${d.max}]`).join(' '), s.description ?? '']),
    ),
  )
}

export function sweepCommand(context: CliContext): Command {
  return withCommon(new Command('sweep').description('backtest a grid of strategy parameters across worker threads: a table of parameters × metrics'))
    .option('--grid <name=spec>', 'a parameter and its values: min:max:step or a,b,c (repeatable)', collect, [] as string[])
    .option('--workers <n>', 'worker threads (default: the machine\'s cores)')
    .option('--metric <name>', 'the metric to rank by', 'sharpe')
    .option('--sample <n>', 'a seeded random sample of this many parameter sets instead of the whole grid')
    .option('--seed <n>', 'seed of the sample', '1')
    .option('--engine <kind>', 'auto, vector or event', 'auto')
    .option('--top <n>', 'rows to print, best first', '10')
    .option('--out <file>', 'write the whole table as CSV')
    .option('--executor <name>', 'local (worker threads of this process) or bullmq (jobs on Redis for `mtflow worker` processes); default $MTFLOW_EXECUTOR, else local')
    .option('--redis <url>', 'Redis of the bullmq executor (default $MTFLOW_REDIS_URL)')
    .option('--chunk <n>', 'parameter sets per bullmq job', '8')
    .action(async (o: Common & { grid: string[]; workers?: string; metric: string; sample?: string; seed: string; engine: string; top: string; out?: string; executor?: string; redis?: string; chunk: string }) => {
      const c = parseCommon(o)
      if (o.grid.length === 0) throw new ConfigError('--grid is required: a parameter and its values, e.g. --grid fast=5:50:5')
      const api = bt()
      const grid: Record<string, ReturnType<typeof api.parseGridValue>> = {}
      for (const text of o.grid) {
        const [k, v] = strategies().parseParamArg(text.replace(/^--grid\s*/, ''), '--grid')
        grid[k] = api.parseGridValue(k, v)
      }
      const workers = number('--workers', o.workers, (n) => Number.isInteger(n) && n >= 1 && n <= 256, 'an integer in [1, 256]') ?? availableParallelism()
      const sample = number('--sample', o.sample, (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1')
      const seed = number('--seed', o.seed, (n) => Number.isInteger(n), 'an integer')!
      const top = number('--top', o.top, (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0')!
      if (!['auto', 'vector', 'event'].includes(o.engine)) throw new ConfigError(`--engine must be auto, vector or event (received ${JSON.stringify(o.engine)})`)
      if (!api.SWEEP_METRICS.includes(o.metric as never)) throw new ConfigError(`--metric must be one of ${api.SWEEP_METRICS.join(', ')} (received ${JSON.stringify(o.metric)})`)
      const chunk = number('--chunk', o.chunk, (n) => Number.isInteger(n) && n >= 1 && n <= 10_000, 'an integer in [1, 10000]')!
      const executorName = o.executor ?? process.env.MTFLOW_EXECUTOR ?? 'local'
      if (executorName !== 'local' && executorName !== 'bullmq') throw new ConfigError(`--executor must be local or bullmq (received ${JSON.stringify(executorName.slice(0, 40))})`)
      if (executorName === 'local' && o.redis !== undefined) throw new ConfigError('--redis goes with --executor bullmq')
      const loaded = await loadStrategySpec(context.home, o.strategy!)
      if (c.symbols.length !== 1) throw new ConfigError(`a sweep runs on one symbol (received ${c.symbols.length}: ${c.symbols.join(', ')})`)
      // Redis first: an unreachable one is said within 5 s, before any data is read.
      const executor = executorName === 'bullmq' ? await exec().createExecutor({ executor: 'bullmq', redis: o.redis, onNotice: (line) => context.stderr.write(`${line}\n`) }) : undefined
      try {
        const datasets = await loadData(context, o, c.symbols, [o.timeframe])
        const bars = datasets[`${c.symbols[0]}@${o.timeframe}`]!
        const source = data().resolveKey(context.home, { symbol: bars.symbol, timeframe: bars.timeframe, source: o.source }).source
        const dataRef = executor === undefined ? undefined : { snapshot: snapshots.get(bars) ?? data().barsHash(bars, source), query: { symbol: bars.symbol, timeframe: bars.timeframe, source, ...(o.start === undefined ? {} : { start: o.start }), ...(o.end === undefined ? {} : { end: o.end }) } }
        const fixed = strategies().resolveParams(`strategy ${loaded.strategy.name}`, loaded.strategy.params, { ...loaded.params, ...c.params }) as Record<string, number>
        // Every set invalid (fast ≥ slow throughout): refused before a run is recorded (a sweep run with no
        // children was stored on every such try: a new-user check).
        const all = api.gridSets(loaded.strategy, grid, { fixed })
        if (all.length > 0 && all.every((set) => loaded.strategy.validate?.(set as never) !== undefined)) {
          throw new ConfigError(`no parameter set ran: ${all.length} skipped (the first: ${loaded.strategy.validate!(all[0] as never)})`)
        }
        const tracker = o.track ? track().openTracker(context.home) : undefined
        const run = tracker?.startRun({
          experiment: o.experiment ?? 'sweeps',
          name: `sweep ${loaded.strategy.name} ${c.symbols[0]} ${o.timeframe}`,
          lineage: api.backtestLineage({ strategy: loaded.strategy, file: loaded.file, params: { ...fixed, grid: o.grid }, data: lineageData(context, o, datasets) }),
          tags: { 'mtflow.source': 'cli' },
        })
        const result = await runCancellable(context, run, (signal) => api.sweep(loaded, grid, bars, {
          metric: o.metric as keyof import('../backtest/index.js').SweepMetrics,
          workers,
          signal,
          ...(executor === undefined ? {} : { executor, dataRef, chunk }),
          ...(sample === undefined ? {} : { sample }),
          seed,
          fixed,
          engine: o.engine as 'auto' | 'vector' | 'event',
          cash: c.cash,
          sizing: c.sizing,
          commission: c.commission,
          slippageBps: c.slippageBps,
          progress: o.json === true ? undefined : streamProgressSink(context.stderr),
        }))
        if (result === undefined) return
        if (result.engineNote !== undefined) context.stderr.write(`mtflow: warning: ${result.engineNote}\n`)
        const table = o.out !== undefined || run !== undefined ? api.sweepColumns(result) : undefined
        if (o.out !== undefined) {
          const { writeFileAtomic } = lazy('../core/index.js') as typeof import('../core/index.js')
          writeFileAtomic(o.out, api.columnsCsv(table!))
        }
        if (run !== undefined) {
          api.logSweep(run, result, { grid: Object.fromEntries(o.grid.map((g) => strategies().parseParamArg(g, '--grid'))), config: { symbol: c.symbols[0], timeframe: o.timeframe, cash: c.cash, commission: c.commission, slippageBps: c.slippageBps, ...Object.fromEntries(Object.entries(fixed).filter(([k]) => !(k in grid))) }, table })
          run.end()
        }
        const ranked = [...result.rows].sort((a, b) => rank(result.metric, b.metrics[result.metric], a.metrics[result.metric]))
        // No set ran (every one invalid or failing): the command failed, whatever it printed.
        if (result.rows.length === 0) {
          context.exitCode = 2
          const why = result.skipped.length > 0 ? `${result.skipped.length} skipped (the first: ${result.skipped[0]!.reason})` : ''
          const broke = result.failed.length > 0 ? `${result.failed.length} failed (the first: ${result.failed[0]!.error.split('\n')[0]})` : ''
          context.stderr.write(`mtflow: no parameter set ran: ${[why, broke].filter((x) => x !== '').join('; ') || 'the grid is empty'}\n`)
        }
        if (o.json === true) {
          return printJson(context, {
            strategy: result.strategy,
            bars: bars.time.length,
            metric: result.metric,
            engine: result.engine,
            ...(result.engineNote === undefined ? {} : { engineNote: result.engineNote }),
            workers: result.workers,
            executor: result.executor,
            sets: result.rows.length,
            skipped: result.skipped,
            failed: result.failed,
            elapsedMs: Math.round(result.elapsedMs),
            best: result.best ?? null,
            rows: result.rows,
            ...(run === undefined ? {} : { runId: run.id, experiment: run.experimentId }),
          })
        }
        const names = Object.keys(grid)
        context.stdout.write(
          formatTable(
            [...names, result.metric, 'return', 'maxDD', 'trades'],
            ranked.slice(0, top).map((r) => [...names.map((n) => String(r.params[n])), num(r.metrics[result.metric], 3), pct(r.metrics.totalReturn), pct(r.metrics.maxDrawdown), String(r.metrics.trades)]),
          ),
        )
        context.stdout.write(
          `${result.rows.length} parameter sets (${result.skipped.length} skipped${result.failed.length > 0 ? `, ${result.failed.length} failed` : ''}) on ${bars.time.length} bars, ${result.engine} engine, ${result.executor}, ${(result.elapsedMs / 1000).toFixed(1)} s${o.out === undefined ? '' : `; table → ${o.out}`}\n`,
        )
        for (const f of result.failed.slice(0, 5)) context.stdout.write(`failed: ${JSON.stringify(f.params)}: ${f.error}\n`)
        if (result.failed.length > 5) context.stdout.write(`… and ${result.failed.length - 5} more failed sets (--json lists them all)\n`)
        if (run !== undefined) context.stdout.write(`run: ${run.id} with ${result.rows.length + result.failed.length} child runs (experiment ${run.experimentId}; mtflow runs show ${run.id})\n`)
      } finally {
        await executor?.close()
      }
    })
}

/** Sort order: better first (lower is better for drawdown and volatility); NaN last. */
function rank(metric: string, a: number, b: number): number {
  if (a !== a) return b !== b ? 0 : -1
  if (b !== b) return 1
  return metric === 'maxDrawdown' || metric === 'volatility' ? b - a : a - b
}
