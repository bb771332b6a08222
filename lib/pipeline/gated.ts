// Model-gated backtests (issue 20): a registered model's probability per bar — its features rebuilt from
// its lineage (model-features.ts), exactly as `infer` scores them — lets a strategy's entries through only
// where p ≥ a threshold. A pair model gates the pairs strategy (pairs-zscore by default); a symbol model
// is long while p ≥ threshold and flat otherwise (or gates a given strategy's entries). Each backtest is
// a tracked run like `mtflow backtest`'s, beside the same strategy ungated on the same bars; a batch runs
// one per model under a parent run holding the cross-model summary table.

import { ConfigError, DataError, NotFoundError, Progress, type ProgressSink } from '../core/index.js'
import { backtest, backtestLineage, flatMetrics, logBacktest, type BacktestResult, type FillModel } from '../backtest/index.js'
import { barsHash, resolveKey, sliceBars, toEpochMs, type Bars, type TableColumn } from '../data/index.js'
import { columnsParquetPieces } from '../core/parquet-columns.js'
import { getStrategy, resolveParams, type Context, type OrderOptions, type OrderView, type Sizing, type Strategy } from '../strategy/index.js'
import { lifecycleOf, openRegistry, openTracker } from '../track/index.js'
import { decodeValue, encodeValue, type Executor } from '../exec/index.js'
import { modelBars, modelFeatureTable, modelLineage, modelProbabilityColumn, type ModelLineage } from './model-features.js'

export interface ModelProbabilities {
  /** "NAME@VERSION". */
  model: string
  name: string
  version: number
  trainRun: string
  /** "Y~X" for a pair, else the symbol. */
  target: string
  pair?: [string, string]
  symbols: string[]
  timeframe: string
  sources: Record<string, string | undefined>
  /** The bars scored: a pair's shared times, or the symbol's bars (epoch ms). */
  time: Float64Array
  /** P(label > 0) at each bar, from bars ≤ it only; NaN where a feature the model reads is missing. */
  probability: Float64Array
}

interface Prepared {
  lineage: ModelLineage
  bars: Record<string, Bars>
  probabilities: ModelProbabilities
}

/** A ref that names no model but a run (a backtest's id given as --signals-from): said so in one line. */
function notAModel(home: string, ref: string, error: unknown): unknown {
  if (!(error instanceof NotFoundError) || ref.includes('@')) return error
  let kind: string
  try {
    kind = openTracker(home).getRun(ref).tags['mtflow.kind'] ?? 'tracked'
  } catch {
    return error
  }
  return new ConfigError(`--signals-from ${ref} is a ${kind} run; expected a registered model (NAME@VERSION or NAME@ALIAS)`, { cause: error })
}

async function prepare(home: string, ref: string): Promise<Prepared> {
  let lineage: ModelLineage
  try {
    lineage = await modelLineage(home, ref)
  } catch (error) {
    throw notAModel(home, ref, error)
  }
  const bars = await modelBars(home, lineage)
  const table = modelFeatureTable(lineage, bars)
  const probabilities: ModelProbabilities = {
    model: lineage.ref,
    name: lineage.version.name,
    version: lineage.version.version,
    trainRun: lineage.trainRun,
    target: lineage.target,
    ...(lineage.pair === undefined ? {} : { pair: lineage.pair }),
    symbols: lineage.symbols,
    timeframe: lineage.timeframe,
    sources: lineage.sources,
    time: table.time as Float64Array,
    probability: modelProbabilityColumn(lineage, table),
  }
  return { lineage, bars, probabilities }
}

/** A registered model's probability at every bar of the lake its features can be built on. */
export async function modelProbabilities(home: string, ref: string): Promise<ModelProbabilities> {
  return (await prepare(home, ref)).probabilities
}

/** What a gate did in one backtest: entry orders let through and dropped (a pair's entry is two orders, one per leg). */
export interface GateCounts {
  allowed: number
  blocked: number
}

/**
 * The strategy with its entries gated: onBar delegates, but while `open(bar time)` is false an order that
 * opens or adds to a position is dropped (returned as a REJECTED view that never reaches the engine).
 * Exits — close(), and orders that shrink a position toward flat — always go through. The gate of a bar
 * is the one its onBar was called with (fills and order events keep the last bar's).
 */
export function gateEntries<P>(inner: Strategy<P>, open: (time: number) => boolean, counts: GateCounts = { allowed: 0, blocked: 0 }): Strategy<P> {
  const wrapped = new WeakMap<Context<P>, { ctx: Context<P>; open: boolean }>()
  const gated = (ctx: Context<P>) => {
    let g = wrapped.get(ctx)
    if (g === undefined) {
      g = { ctx: gatedContext(ctx, () => g!.open, counts), open: false }
      wrapped.set(ctx, g)
    }
    return g
  }
  return {
    ...inner,
    name: `gated-${inner.name}`,
    description: `${inner.name} with entries only where a model's probability clears a threshold`,
    // The vectorized path would bypass the gate.
    signals: undefined,
    onStart: inner.onStart === undefined ? undefined : (ctx) => inner.onStart!(gated(ctx).ctx),
    onBar(ctx, bar) {
      const g = gated(ctx)
      g.open = open(bar.time)
      inner.onBar(g.ctx, bar)
    },
    onOrder: inner.onOrder === undefined ? undefined : (ctx, event) => inner.onOrder!(gated(ctx).ctx, event),
    onFill: inner.onFill === undefined ? undefined : (ctx, event) => inner.onFill!(gated(ctx).ctx, event),
    onStop: inner.onStop === undefined ? undefined : (ctx) => inner.onStop!(gated(ctx).ctx),
  }
}

function gatedContext<P>(ctx: Context<P>, isOpen: () => boolean, counts: GateCounts): Context<P> {
  const dropped = (side: 'buy' | 'sell', symbol: string, o: OrderOptions): OrderView => {
    counts.blocked++
    return { id: -1, strategy: ctx.strategy, symbol, side, type: o.type ?? 'market', role: 'entry', qty: o.qty ?? NaN, filled: 0, avgPrice: NaN, limit: o.limit ?? NaN, stop: o.stop ?? NaN, status: 'REJECTED', reason: 'gate closed: the model probability is below the threshold', parentId: -1, tag: o.tag ?? '' }
  }
  // A buy against a short (a sell against a long) shrinks the position: an exit. While the gate is closed an
  // exit goes through for at most the position (the part that would reverse it is a new entry, and dropped).
  const order = (side: 'buy' | 'sell', symbol: string, o: OrderOptions = {}): OrderView => {
    const position = ctx.position(symbol)
    const exit = side === 'buy' ? position < 0 : position > 0
    if (!exit && !isOpen()) return dropped(side, symbol, o)
    if (!exit) counts.allowed++
    let sized = o
    if (exit && !isOpen()) {
      const held = Math.abs(position)
      const asked = o.qty ?? Infinity
      if (!(asked <= held)) {
        counts.blocked++
        const { notional: _n, percent: _p, risk: _r, ...rest } = o
        sized = { ...rest, qty: held }
      }
    }
    return side === 'buy' ? ctx.buy(symbol, sized) : ctx.sell(symbol, sized)
  }
  return {
    get params() {
      return ctx.params
    },
    get strategy() {
      return ctx.strategy
    },
    get subscriptions() {
      return ctx.subscriptions
    },
    get state() {
      return ctx.state
    },
    get time() {
      return ctx.time
    },
    history: (symbol, timeframe, n) => ctx.history(symbol, timeframe, n),
    indicator: (name, params, options) => ctx.indicator(name, params, options),
    price: (symbol) => ctx.price(symbol),
    cash: () => ctx.cash(),
    equity: () => ctx.equity(),
    position: (symbol) => ctx.position(symbol),
    positions: () => ctx.positions(),
    accountPosition: (symbol) => ctx.accountPosition(symbol),
    openOrders: (symbol) => ctx.openOrders(symbol),
    buy: (symbol, o) => order('buy', symbol, o),
    sell: (symbol, o) => order('sell', symbol, o),
    close: (symbol, o) => ctx.close(symbol, o),
    cancel: (id) => ctx.cancel(id),
    targetPercent(symbol, percent, o) {
      // Toward flat (same side, no larger) is an exit; anything else opens or adds.
      const position = ctx.position(symbol)
      const shrinks = percent === 0 || (position !== 0 && Math.sign(percent) === Math.sign(position) && Math.abs(percent * ctx.equity()) <= Math.abs(position * ctx.price(symbol)))
      if (!shrinks && !isOpen()) {
        counts.blocked++
        // Across zero: the part back to flat is an exit and goes through; the new side does not.
        if (position !== 0 && percent !== 0 && Math.sign(percent) !== Math.sign(position)) return ctx.targetPercent(symbol, 0, o)
        return undefined
      }
      if (!shrinks) counts.allowed++
      return ctx.targetPercent(symbol, percent, o)
    },
    log: (message) => ctx.log(message),
  }
}

/** A symbol model's own strategy: long (default sizing) while `long(bar time)`, flat otherwise. */
function modelLong(name: string, long: (time: number) => boolean): Strategy<Record<string, number>> {
  return {
    name,
    description: 'long while the model signal is on, flat while it is off',
    params: {},
    universe: (_p, request) => [{ symbol: request.symbols[0]!, timeframe: request.timeframe }],
    warmup: () => 1,
    onBar(ctx, bar) {
      const on = long(bar.time)
      const position = ctx.position(bar.symbol)
      if (on && position === 0 && ctx.openOrders(bar.symbol).length === 0) ctx.buy(bar.symbol, { tag: 'model on' })
      else if (!on && position > 0) ctx.close(bar.symbol, { tag: 'model off' })
    },
  }
}

export interface GatedBacktestOptions {
  /** The registered model: NAME@VERSION, NAME@ALIAS or NAME (its latest version). */
  ref: string
  /** Entries only at bars where p ≥ this (default 0.5; above 1 blocks every entry). */
  probaThreshold?: number
  /**
   * The strategy whose entries are gated: a built-in name or a loaded strategy (with `file` for its
   * lineage). Default: pairs-zscore for a pair model; for a symbol model, long while p ≥ threshold.
   */
  strategy?: string | Strategy<any>
  file?: string
  /** If given, the symbols and timeframe the caller expects: they must be the model's (its lineage decides them). */
  symbols?: readonly string[]
  timeframe?: string
  /** Strategy params; a pair strategy's `window` defaults to the features' window (the z the model saw). */
  params?: Readonly<Record<string, number | string>>
  /** Default start: the first bar with a probability (before it the model says nothing). */
  start?: string | number
  end?: string | number
  cash?: number
  sizing?: Sizing
  fills?: Partial<FillModel>
  closeAtEnd?: boolean
  /** The experiment of the run (default "backtests"); track: false records nothing. */
  experiment?: string
  track?: boolean
  /** More tags on the run (e.g. mtflow.source). */
  tags?: Record<string, string>
  progress?: ProgressSink
  /** The run this one is a child of (a batch's parent). */
  parentRunId?: string
}

export interface GatedBacktest {
  runId?: string
  experiment?: string
  model: string
  target: string
  trainRun: string
  probaThreshold: number
  strategy: string
  params: Record<string, number>
  symbols: string[]
  timeframe: string
  gate: GateCounts
  result: BacktestResult
  /** The same strategy on the same bars with no gate (buy and hold for a symbol model's own strategy). */
  ungated: BacktestResult
  /** It starts before the model's training ended (its last bar: trainedThrough): in sample. */
  inSample: boolean
  trainedThrough: string
}

interface Plan {
  prepared: Prepared
  strategy: Strategy<any>
  /** The symbol model's own long/flat strategy (no strategy given). */
  own: boolean
  file?: string
  params: Record<string, number>
  threshold: number
  /** The model's probability at a bar time (NaN where it has none). */
  probabilityAt: (time: number) => number
  start: number | string
  end?: string | number
  /** The backtest starts before the model's training ended: its numbers are in sample. */
  inSample: boolean
}

function checkThreshold(p: number | undefined): number {
  const t = p ?? 0.5
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw new ConfigError(`--proba-threshold must be a probability ≥ 0 (above 1 blocks every entry) (received ${String(p)})`)
  return t
}

/** Everything checked and read before a run is started: a bad input writes nothing. */
async function plan(home: string, options: GatedBacktestOptions, prepared?: Prepared): Promise<Plan> {
  const threshold = checkThreshold(options.probaThreshold)
  prepared ??= await prepare(home, options.ref)
  const p = prepared.probabilities
  if (options.symbols !== undefined && options.symbols.length > 0 && options.symbols.join(',') !== p.symbols.join(',')) {
    throw new ConfigError(`--symbol ${options.symbols.join(',')} contradicts model ${p.model}, which trades ${p.target}; leave --symbol out (the model's lineage gives its symbols)`)
  }
  if (options.timeframe !== undefined && options.timeframe !== p.timeframe) throw new ConfigError(`--timeframe ${options.timeframe} contradicts model ${p.model}, whose features are ${p.timeframe}; leave --timeframe out`)
  const first = p.probability.findIndex((v) => !Number.isNaN(v))
  if (first < 0) throw new ConfigError(`model ${p.model}: no bar of ${p.target} ${p.timeframe} in the lake has every feature it reads`)
  const byTime = new Map<number, number>()
  p.time.forEach((t, i) => byTime.set(t, p.probability[i]!))
  const probabilityAt = (time: number) => byTime.get(time) ?? NaN
  const given = typeof options.strategy === 'string' ? getStrategy(options.strategy) : options.strategy
  const own = given === undefined && p.pair === undefined
  const strategy = own ? modelLong('model-long', (time) => probabilityAt(time) >= threshold) : (given ?? getStrategy('pairs-zscore'))
  const defaults: Record<string, number | string> = {}
  if (p.pair !== undefined && 'window' in strategy.params && typeof prepared.lineage.featureParams.window === 'number') defaults.window = prepared.lineage.featureParams.window
  const params = resolveParams(`strategy ${strategy.name}`, strategy.params, { ...defaults, ...options.params }) as Record<string, number>
  const problem = strategy.validate?.(params)
  if (problem !== undefined) throw new ConfigError(`strategy ${strategy.name}: ${problem}`)
  strategy.universe(params, { symbols: p.symbols, timeframe: p.timeframe }) // a strategy that cannot trade these symbols says so now
  // By default the backtest starts after the last bar the model was trained on (out of sample); a model
  // trained on every bar the lake holds can only be backtested in sample, which the run says (tag
  // mtflow.inSample, a guardrail of `select`).
  const trainedThrough = prepared.lineage.trainedThrough
  const after = p.time.findIndex((t, i) => i >= first && t > trainedThrough)
  const start = options.start ?? new Date(p.time[after >= 0 ? after : first]!).toISOString()
  // The same parser as sliceBars below (no offset = UTC, epoch numbers by magnitude), so the tag and the bars agree.
  const startMs = toEpochMs(start, 'start (--start)')
  const inSample = !(startMs > trainedThrough)
  for (const symbol of p.symbols) {
    if (sliceBars(prepared.bars[symbol]!, { start, ...(options.end === undefined ? {} : { end: options.end }) }).time.length === 0) {
      throw new ConfigError(`no bars of ${symbol} ${p.timeframe} between ${start} and ${options.end ?? 'the end'}`)
    }
  }
  return { prepared, strategy, own, ...(options.file === undefined ? {} : { file: options.file }), params, threshold, probabilityAt, start, ...(options.end === undefined ? {} : { end: options.end }), inSample }
}

const SUMMARY_METRICS = ['trades', 'totalReturn', 'cagr', 'sharpe', 'maxDrawdown', 'winRate', 'exposure'] as const

/** The summary's numbers of one backtest (closed trades; exposure = mean gross exposure / equity when the engine gives no other). */
function summaryMetrics(result: BacktestResult): Record<(typeof SUMMARY_METRICS)[number], number> {
  const m = flatMetrics(result.metrics)
  return { trades: m.trades ?? 0, totalReturn: m.totalReturn!, cagr: m.cagr!, sharpe: m.sharpe!, maxDrawdown: m.maxDrawdown!, winRate: m.winRate ?? NaN, exposure: m.exposure ?? m.avgExposure! }
}

async function execute(home: string, options: GatedBacktestOptions, planned: Plan, parentRunId?: string): Promise<GatedBacktest> {
  const { prepared, threshold, params } = planned
  const p = prepared.probabilities
  const counts: GateCounts = { allowed: 0, blocked: 0 }
  const ownLong = planned.own
  const gatedStrategy = ownLong ? planned.strategy : gateEntries(planned.strategy, (time) => planned.probabilityAt(time) >= threshold, counts)
  const ungatedStrategy = ownLong ? modelLong('buy-and-hold', () => true) : planned.strategy
  const common = {
    params,
    symbols: p.symbols,
    timeframe: p.timeframe,
    data: (symbol: string) => prepared.bars[symbol]!,
    start: planned.start,
    ...(planned.end === undefined ? {} : { end: planned.end }),
    ...(options.cash === undefined ? {} : { cash: options.cash }),
    ...(options.sizing === undefined ? {} : { sizing: options.sizing }),
    ...(options.fills === undefined ? {} : { fills: options.fills }),
    closeAtEnd: options.closeAtEnd === true,
  }
  const track = options.track !== false
  const data = p.symbols.map((symbol) => {
    const source = resolveKey(home, { symbol, timeframe: p.timeframe, ...(p.sources[symbol] === undefined ? {} : { source: p.sources[symbol] }) }).source
    return { name: `${source}/${symbol}/${p.timeframe}`, source, bars: prepared.bars[symbol]! }
  })
  const tracker = track ? openTracker(home) : undefined
  const signalsFrom = p.model
  const run = tracker?.startRun({
    experiment: options.experiment ?? 'backtests',
    name: `${planned.strategy.name} gated by ${p.model} ${p.target} ${p.timeframe}`,
    lineage: { ...backtestLineage({ strategy: planned.strategy, ...(planned.file === undefined ? {} : { file: planned.file }), params, data }), runs: [p.trainRun] },
    tags: { ...options.tags, 'mtflow.signals': p.name, 'mtflow.signalsVersion': String(p.version), 'mtflow.signalsSha256': prepared.lineage.version.sha256, 'mtflow.target': p.target, 'mtflow.inSample': String(planned.inSample), 'mtflow.trainedThrough': new Date(prepared.lineage.trainedThrough).toISOString() },
    ...(parentRunId === undefined ? {} : { parentRunId }),
  })
  try {
    const result = backtest({ ...common, strategy: gatedStrategy, ...(options.progress === undefined ? {} : { progress: options.progress }) })
    const ungated = backtest({ ...common, strategy: ungatedStrategy })
    if (ownLong) {
      // The model-long strategy is its own gate: entries are the bars it bought on.
      counts.allowed = result.strategies[0]!.trades.entryOrderId.length
    }
    if (run !== undefined) {
      const sizing = options.sizing ?? { percent: 1 }
      logBacktest(run, result, {
        params,
        config: { strategy: gatedStrategy.name, symbols: p.symbols.join(','), timeframe: p.timeframe, cash: options.cash ?? 100_000, sizing, commission: options.fills?.takerRate ?? 0, slippageBps: options.fills?.slippageBps ?? 0, engine: 'event', probaThreshold: threshold, signalsFrom, target: p.target },
      })
      const u = summaryMetrics(ungated)
      run.logMetrics({ ...Object.fromEntries(Object.entries(u).map(([k, v]) => [`ungated_${k}`, v])), gateAllowed: counts.allowed, gateBlocked: counts.blocked }, 0)
      // A batch's child keeps its summary row (exactly: NaN included), for another attempt of its job (gatedRow).
      if (options.tags?.[BATCH_ITEM] !== undefined) run.setTag(BATCH_ROW, encodeValue({ target: p.target, model: p.model, ...rowMetrics(result, ungated) }))
      run.end()
    }
    return {
      ...(run === undefined ? {} : { runId: run.id, experiment: run.experimentId }),
      model: p.model,
      target: p.target,
      trainRun: p.trainRun,
      probaThreshold: threshold,
      strategy: gatedStrategy.name,
      params,
      symbols: p.symbols,
      timeframe: p.timeframe,
      gate: counts,
      result,
      ungated,
      inSample: planned.inSample,
      trainedThrough: new Date(prepared.lineage.trainedThrough).toISOString(),
    }
  } catch (error) {
    run?.fail(error)
    throw error
  }
}

/** One model-gated backtest, tracked like `mtflow backtest` (kind backtest, tags mtflow.signals/…). */
export async function gatedBacktest(home: string, options: GatedBacktestOptions): Promise<GatedBacktest> {
  return execute(home, options, await plan(home, options), options.parentRunId)
}

/**
 * The models a --signals-from names: "NAME@REF" (one), or "PREFIX.*@REF" — every registered model whose
 * name starts with "PREFIX." at that version or alias (REF omitted: each one's latest). A model of the
 * prefix without the alias is an error naming it.
 */
export function expandSignalsFrom(home: string, text: string): { refs: string[]; batch: boolean } {
  const at = text.lastIndexOf('@')
  const name = at < 0 ? text : text.slice(0, at)
  const ref = at < 0 ? undefined : text.slice(at + 1)
  if (!name.endsWith('.*')) return { refs: [text], batch: false }
  const prefix = name.slice(0, -1)
  if (prefix === '.') throw new ConfigError(`--signals-from ${text}: a glob needs a prefix before ".*" (e.g. pairs-tree.*@1)`)
  const registry = openRegistry(home)
  const names = registry.list('models').map((e) => e.name).filter((n) => n.startsWith(prefix))
  if (names.length === 0) throw new ConfigError(`--signals-from ${text}: no registered model's name starts with ${JSON.stringify(prefix)}`)
  const missing: string[] = []
  for (const n of names) {
    try {
      registry.resolve('models', ref === undefined ? n : `${n}@${ref}`)
    } catch {
      missing.push(n)
    }
  }
  if (missing.length > 0) throw new ConfigError(`--signals-from ${text}: ${missing.join(', ')} ha${missing.length === 1 ? 's' : 've'} ${ref === undefined ? 'no active version' : `no version or alias ${JSON.stringify(ref)}`}`)
  return { refs: names.map((n) => (ref === undefined ? n : `${n}@${ref}`)), batch: true }
}

export interface GatedBatchOptions extends Omit<GatedBacktestOptions, 'ref' | 'track' | 'parentRunId'> {
  /** The models: a list of refs, or a pattern "PREFIX.*@REF". */
  refs?: readonly string[]
  pattern?: string
  /**
   * Run the backtests as jobs on an executor (lib/exec: local threads, or `mtflow worker` processes
   * through BullMQ, which read the lake and record their runs where their workspace or
   * MTFLOW_TRACKING_URI says): each child run is recorded by the job that computed it. The rows are the
   * same; `children` is then empty (each backtest's numbers stay in its run).
   */
  executor?: Executor
}

/** What every gated-backtest job of a batch shares (lib/pipeline/jobs.ts). */
export interface GatedJobContext {
  home: string
  options: Omit<GatedBacktestOptions, 'ref' | 'progress' | 'strategy'> & { strategy?: string }
}

/** What the submitter of a batch read for one model: the version's hash and each leg's bars snapshot id. */
export interface GatedInputs {
  sha256: string
  snapshots: Record<string, string>
}

function inputsOf(home: string, planned: Plan): GatedInputs {
  const p = planned.prepared.probabilities
  const snapshots: Record<string, string> = {}
  for (const symbol of p.symbols) {
    const source = resolveKey(home, { symbol, timeframe: p.timeframe, ...(p.sources[symbol] === undefined ? {} : { source: p.sources[symbol] }) }).source
    snapshots[symbol] = barsHash(planned.prepared.bars[symbol]!, source)
  }
  return { sha256: planned.prepared.lineage.version.sha256, snapshots }
}

/**
 * A child of a batch as a job computes it: its summary row. With `expected` (what the submitter read), a
 * model or bars that differ where the job reads them — a worker's own lake or registry, or an import since
 * the batch was planned — fail the job: a job read them by name only, and a worker with another copy of the
 * lake backtested other bars without a word (an executors audit).
 */
export async function gatedRow(home: string, options: GatedBacktestOptions, expected?: GatedInputs): Promise<GatedBatchRow> {
  const planned = await plan(home, options)
  const parent = options.parentRunId
  const tracked = parent !== undefined && options.track !== false
  const item = planned.prepared.probabilities.model
  const tracker = tracked ? openTracker(home) : undefined
  // A child an earlier attempt finished is this job's row, on the inputs it was checked on then: bars imported
  // since (a retry after a kill, a flow Redis lost and the submitter sent again) do not fail it.
  const before = tracker === undefined ? undefined : finishedRows(tracker, parent!, item)[0]
  if (before !== undefined) return before
  if (expected !== undefined) {
    const found = inputsOf(home, planned)
    const model = planned.prepared.probabilities.model
    if (found.sha256 !== expected.sha256) throw new DataError(`model ${model} in the workspace at ${home} is not the one the batch was planned with (sha256 ${found.sha256.slice(0, 12)}, expected ${expected.sha256.slice(0, 12)}): workers need the submitter's registry`)
    for (const [symbol, snapshot] of Object.entries(expected.snapshots)) {
      if (found.snapshots[symbol] !== snapshot) throw new DataError(`the lake at ${home} holds snapshot ${String(found.snapshots[symbol]).slice(0, 12)} of ${symbol} ${planned.prepared.probabilities.timeframe}, not the ${snapshot.slice(0, 12)} the batch was planned with (it changed, or this worker reads another lake): run the batch again`)
    }
  }
  if (tracker === undefined) return rowOf(await execute(home, options, planned, parent))
  // A queue runs a job at least once: again after its worker was killed once it had finished, after Redis lost
  // the flow (every job of it again), and twice at once when a stalled job's worker was only slow. Each attempt
  // recorded its own FINISHED child of the model: the batch's backtests, duplicated in the tracked runs (an
  // executors audit). A child an earlier attempt finished is this job's row; of attempts finishing side by
  // side, the first to finish is kept and the others' runs deleted.
  const own = await execute(home, { ...options, tags: { ...options.tags, [BATCH_ITEM]: item } }, planned, parent)
  const first = finishedRows(tracker, parent!, item)[0]
  if (first !== undefined && first.runId !== own.runId) {
    tracker.deleteRun(own.runId!)
    return first
  }
  return rowOf(own)
}

/** The tag naming a batch child's model (NAME@VERSION), and the one holding its summary row. */
const BATCH_ITEM = 'mtflow.batchItem'
const BATCH_ROW = 'mtflow.batchRow'

/** The parent's FINISHED children of this model that hold their row, deleted ones left out (childRuns lists them): the first finished first. */
function finishedRows(tracker: ReturnType<typeof openTracker>, parent: string, item: string): GatedBatchRow[] {
  const done = tracker.childRuns(parent).filter((c) => c.info.status === 'FINISHED' && lifecycleOf(c) === 'active' && c.tags[BATCH_ITEM] === item && c.tags[BATCH_ROW] !== undefined)
  done.sort((a, b) => (a.info.endTime ?? 0) - (b.info.endTime ?? 0) || (a.info.runId < b.info.runId ? -1 : a.info.runId > b.info.runId ? 1 : 0))
  return done.map((c) => {
    const { target, model, ...metrics } = decodeValue(c.tags[BATCH_ROW]!) as Omit<GatedBatchRow, 'runId'>
    return { target, model, runId: c.info.runId, ...metrics } as GatedBatchRow
  })
}

function rowOf(c: GatedBacktest): GatedBatchRow {
  return { target: c.target, model: c.model, runId: c.runId!, ...rowMetrics(c.result, c.ungated) }
}

function rowMetrics(result: BacktestResult, ungated: BacktestResult): Omit<GatedBatchRow, 'target' | 'model' | 'runId'> {
  const g = summaryMetrics(result)
  const u = summaryMetrics(ungated)
  return { ...g, ...(Object.fromEntries(Object.entries(u).map(([k, v]) => [`ungated_${k}`, v])) as Record<`ungated_${(typeof SUMMARY_METRICS)[number]}`, number>) }
}

export interface GatedBatchRow extends Record<(typeof SUMMARY_METRICS)[number], number> {
  target: string
  model: string
  runId: string
  ungated_trades: number
  ungated_totalReturn: number
  ungated_cagr: number
  ungated_sharpe: number
  ungated_maxDrawdown: number
  ungated_winRate: number
  ungated_exposure: number
}

export interface GatedBatch {
  runId: string
  experiment: string
  probaThreshold: number
  /** One row per model, best Sharpe first (NaN last). */
  rows: GatedBatchRow[]
  children: GatedBacktest[]
}

/** Sharpe, best first; NaN last. */
function bySharpe(a: { sharpe: number }, b: { sharpe: number }): number {
  if (Number.isNaN(a.sharpe)) return Number.isNaN(b.sharpe) ? 0 : 1
  if (Number.isNaN(b.sharpe)) return -1
  return b.sharpe - a.sharpe
}

/** The summary rows as table columns (what summary.parquet holds). */
export function batchTable(rows: readonly GatedBatchRow[]): Record<string, TableColumn> {
  const text = (k: 'target' | 'model' | 'runId') => rows.map((r) => r[k])
  const num = (k: keyof GatedBatchRow) => Float64Array.from(rows, (r) => r[k] as number)
  const out: Record<string, TableColumn> = { target: text('target'), model: text('model'), runId: text('runId') }
  for (const k of SUMMARY_METRICS) out[k] = num(k)
  for (const k of SUMMARY_METRICS) out[`ungated_${k}`] = num(`ungated_${k}` as keyof GatedBatchRow)
  return out
}

/**
 * One gated backtest per model, each a child run of a parent run (kind backtest-batch) that holds the
 * summary table (summary.parquet): per model its numbers and the ungated strategy's on the
 * same bars. Every model is read and checked before the parent run starts.
 */
export async function gatedBatch(home: string, options: GatedBatchOptions): Promise<GatedBatch> {
  if ((options.refs === undefined) === (options.pattern === undefined)) throw new ConfigError('a batch needs refs or a pattern (PREFIX.*@REF), one of them')
  const refs = options.refs !== undefined ? [...options.refs] : expandSignalsFrom(home, options.pattern!).refs
  if (refs.length === 0) throw new ConfigError('a batch needs at least one model')
  const plans: Plan[] = []
  for (const ref of refs) plans.push(await plan(home, { ...options, ref }))
  const threshold = plans[0]!.threshold
  const tracker = openTracker(home)
  const label = options.pattern ?? refs.join(',')
  const parent = tracker.startRun({
    experiment: options.experiment ?? 'backtests',
    name: `gated backtests ${label} (${refs.length} models)`,
    params: { signalsFrom: label, probaThreshold: threshold, models: refs.length, strategy: plans.map((p) => p.strategy.name).filter((n, i, all) => all.indexOf(n) === i).join(',') },
    tags: { ...options.tags, 'mtflow.kind': 'backtest-batch', 'mtflow.signals': label },
    lineage: { runs: [...new Set(plans.map((p) => p.prepared.probabilities.trainRun))] },
  })
  try {
    const progress = new Progress({ label: 'gated backtests', total: plans.length, ...(options.progress === undefined ? {} : { sink: options.progress }) })
    const children: GatedBacktest[] = []
    // Progress is per backtest here: the engine's own bar count would interleave with it.
    const { progress: _engine, executor, refs: _refs, pattern: _pattern, ...child } = options
    let unsorted: GatedBatchRow[]
    if (executor === undefined) {
      for (const planned of plans) {
        progress.tick(0, planned.prepared.probabilities.model)
        children.push(await execute(home, { ...child, ref: planned.prepared.probabilities.model, experiment: options.experiment ?? 'backtests' }, planned, parent.id))
        progress.tick(1, planned.prepared.probabilities.model)
      }
      unsorted = children.map(rowOf)
    } else {
      const strategy = typeof child.strategy === 'string' || child.strategy === undefined ? child.strategy : child.file
      if (child.strategy !== undefined && strategy === undefined) throw new ConfigError(`gated backtests on ${executor.describe} need a built-in strategy or a strategy file (an object cannot cross threads)`)
      const { strategy: _s, ...rest } = child
      const context: GatedJobContext = { home, options: { ...rest, ...(strategy === undefined ? {} : { strategy }), experiment: options.experiment ?? 'backtests', parentRunId: parent.id } }
      const outcomes = await executor.run<{ ref: string; expected: GatedInputs }, GatedBatchRow>({
        kind: 'pipeline.gatedBacktest',
        label: 'gated backtests',
        context,
        // With what this process read, checked where each job reads them (gatedRow).
        items: plans.map((p) => ({ ref: p.prepared.probabilities.model, expected: inputsOf(home, p) })),
        progress: { update: (state) => progress.set(state.done) },
      })
      unsorted = outcomes.map((o, i) => {
        if (!o.ok) throw new ConfigError(`gated backtest of ${plans[i]!.prepared.probabilities.model}: ${o.error}`)
        return o.value
      })
    }
    progress.finish()
    const rows = unsorted.sort(bySharpe)
    const table = batchTable(rows)
    // Written by mtflow's own encoder (uncompressed, what lib/track's run tables read), DuckDB reads it too.
    parent.logArtifact({ name: 'summary.parquet', data: columnsParquetPieces(table as Record<string, ArrayLike<unknown>>) })
    const mean = (k: keyof GatedBatchRow) => rows.reduce((a, r) => a + (r[k] as number), 0) / rows.length
    parent.logMetrics({ models: rows.length, sharpe: mean('sharpe'), ungated_sharpe: mean('ungated_sharpe'), totalReturn: mean('totalReturn'), ungated_totalReturn: mean('ungated_totalReturn') }, 0)
    parent.end()
    return { runId: parent.id, experiment: parent.experimentId, probaThreshold: threshold, rows, children }
  } catch (error) {
    parent.fail(error)
    throw error
  }
}
