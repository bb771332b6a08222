// Meta-labelling (López de Prado, Advances in Financial Machine Learning, ch. 3 and 10): a primary
// strategy decides the side; a model trained on the outcomes of its past entries decides whether to take
// each new one (filter) or how much of it (size). The evaluation trains on entries that closed before a
// cut-off and compares the strategy with and without the model after it — out of sample, side by side.

import { ConfigError, parseTime } from '../core/index.js'
import { backtest, type BacktestOptions, type BacktestResult } from '../backtest/index.js'
import { accuracy, precision, rocAuc, type Labeled, type Model } from '../ml/index.js'
import { normalCdf, performanceMetrics } from '../stats/index.js'
import type { Context, OrderOptions, OrderView, Side, Strategy } from '../strategy/index.js'

/** Per entry decision: how much of the strategy's own size to trade (0 skips it) and why. */
export interface EntryGate {
  decide(ctx: Context<any>, symbol: string, side: Side): { multiplier: number; reason: string }
}

/** Features of an entry, from what the strategy's context shows at the decision (bar close). */
export type EntryFeatures = (ctx: Context<any>, symbol: string, side: Side) => Record<string, number>

/**
 * The strategy with a gate on its entries: an order that opens a position from flat (no position, no
 * working order in the symbol) is resized by the gate's multiplier, or — at 0 — not sent: the strategy
 * sees a REJECTED order whose reason says why, as with a risk cap. All orders of one bar share one
 * decision (the legs of a pair stay together). Exits and orders on open positions pass untouched.
 */
export function gateEntries<P>(strategy: Strategy<P>, gate: EntryGate): Strategy<P> {
  // Per run (per context): its proxy and the last decision (a strategy object is shared by every run).
  interface RunGate {
    proxy: Context<P>
    decidedAt: number
    decision: { multiplier: number; reason: string }
  }
  const runs = new WeakMap<Context<P>, RunGate>()
  const entry = (ctx: Context<P>, g: RunGate, symbol: string, side: Side, options: OrderOptions | undefined, send: (o: OrderOptions | undefined) => OrderView): OrderView => {
    if (ctx.position(symbol) !== 0 || ctx.openOrders(symbol).length > 0) return send(options)
    if (ctx.time !== g.decidedAt) {
      g.decision = gate.decide(ctx, symbol, side)
      g.decidedAt = ctx.time
      if (!(Number.isFinite(g.decision.multiplier) && g.decision.multiplier >= 0)) throw new ConfigError(`the gate's multiplier must be a number ≥ 0 (received ${g.decision.multiplier})`)
    }
    const { multiplier, reason } = g.decision
    if (multiplier === 0) {
      ctx.log(`${symbol} ${side} entry skipped: ${reason}`)
      return skipped(ctx.strategy, symbol, side, reason, options?.tag ?? '')
    }
    return send(multiplier === 1 ? options : scaled(options, multiplier))
  }
  const wrap = (ctx: Context<P>): Context<P> => {
    let g = runs.get(ctx)
    if (g === undefined) {
      g = { proxy: makeProxy(ctx), decidedAt: NaN, decision: { multiplier: 1, reason: '' } }
      runs.set(ctx, g)
    }
    return g.proxy
  }
  const makeProxy = (ctx: Context<P>): Context<P> =>
    new Proxy(ctx, {
      get(target, prop) {
        if (prop === 'buy') return (symbol: string, o?: OrderOptions) => entry(target, runs.get(target)!, symbol, 'buy', o, (x) => target.buy(symbol, x))
        if (prop === 'sell') return (symbol: string, o?: OrderOptions) => entry(target, runs.get(target)!, symbol, 'sell', o, (x) => target.sell(symbol, x))
        const value = Reflect.get(target, prop, target) as unknown
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    })
  return {
    ...strategy,
    name: `${strategy.name}+meta`,
    onStart: strategy.onStart === undefined ? undefined : (ctx) => strategy.onStart!(wrap(ctx)),
    onBar: (ctx, bar) => strategy.onBar(wrap(ctx), bar),
    onOrder: strategy.onOrder === undefined ? undefined : (ctx, e) => strategy.onOrder!(wrap(ctx), e),
    onFill: strategy.onFill === undefined ? undefined : (ctx, e) => strategy.onFill!(wrap(ctx), e),
    onStop: strategy.onStop === undefined ? undefined : (ctx) => strategy.onStop!(wrap(ctx)),
  }
}

function scaled(o: OrderOptions | undefined, m: number): OrderOptions {
  if (o?.qty !== undefined) return { ...o, qty: o.qty * m }
  if (o?.notional !== undefined) return { ...o, notional: o.notional * m }
  if (o?.percent !== undefined) return { ...o, percent: o.percent * m }
  if (o?.risk !== undefined) return { ...o, risk: o.risk * m }
  throw new ConfigError('sizing by the model needs a strategy that sizes its own entries (qty, notional, percent or risk)')
}

function skipped(strategy: string, symbol: string, side: Side, reason: string, tag: string): OrderView {
  return { id: -1, strategy, symbol, side, type: 'market', role: 'entry', qty: 0, filled: 0, avgPrice: NaN, limit: NaN, stop: NaN, status: 'REJECTED', reason: `meta-label: ${reason}`, parentId: -1, tag }
}

/**
 * Bet size from a probability (AFML 10.1): m = 2Φ(z) − 1 with z = (p − ½)/√(p(1 − p)); 0 at p ≤ ½,
 * rising to 1 as p → 1.
 */
export function betSize(p: number): number {
  if (!(p > 0.5)) return 0
  if (p >= 1) return 1
  return 2 * normalCdf((p - 0.5) / Math.sqrt(p * (1 - p))) - 1
}

export interface ModelGateOptions {
  model: Model
  features: EntryFeatures
  /** 'filter': take the entry when P(win) ≥ threshold; 'size': scale it by betSize(P(win)) (0 below threshold). */
  mode?: 'filter' | 'size'
  /** Default 0.5. */
  threshold?: number
  /** The label meaning "the entry paid" (default 1). */
  positiveClass?: number
}

/** A gate that asks a classifier for the probability that this entry pays. */
export function modelGate(o: ModelGateOptions): EntryGate & { probability(ctx: Context<any>, symbol: string, side: Side): number } {
  const json = o.model.toJSON()
  const classes = json.classes
  if (o.model.task !== 'classification' || classes === undefined) throw new ConfigError('meta-labelling needs a classifier (labels: did the entry pay)')
  const positive = classes.indexOf(o.positiveClass ?? 1)
  if (positive < 0) throw new ConfigError(`the model's classes [${classes.join(', ')}] do not include the positive class ${o.positiveClass ?? 1}`)
  const threshold = o.threshold ?? 0.5
  if (!(threshold >= 0 && threshold <= 1)) throw new ConfigError(`threshold must be in [0, 1] (received ${threshold})`)
  const probability = (ctx: Context<any>, symbol: string, side: Side): number => {
    const f = o.features(ctx, symbol, side)
    const X = Float64Array.from(json.columns, (c) => {
      const v = f[c]
      if (typeof v !== 'number') throw new ConfigError(`the features function gave no ${c} (the model reads ${json.columns.join(', ')})`)
      return v
    })
    return o.model.predictProba({ X, rows: 1, columns: json.columns })[positive]!
  }
  return {
    probability,
    decide(ctx, symbol, side) {
      const p = probability(ctx, symbol, side)
      const reason = `P(win) ${p.toFixed(3)} ${p >= threshold ? '≥' : '<'} ${threshold}`
      if (p < threshold) return { multiplier: 0, reason }
      return { multiplier: o.mode === 'size' ? betSize(p) : 1, reason }
    },
  }
}

/** One entry decision of the primary strategy: its features, when it was taken, and (once closed) its outcome. */
export interface EntryRecord {
  time: number
  features: Record<string, number>
  /** P&L of the trades it opened (all legs), after costs. */
  pnl: number
  /** When its last trade closed (NaN while open). */
  exitTime: number
  /** 1 when it paid (pnl > 0), else 0. */
  label: number
}

/** Run the strategy ungated and record every entry decision with its features and outcome. */
export function recordEntries(options: BacktestOptions & { strategy: Strategy<any>; features: EntryFeatures }): { result: BacktestResult; entries: EntryRecord[] } {
  const decisions: { time: number; features: Record<string, number>; orders: number[] }[] = []
  const recorder: EntryGate = {
    decide(ctx, symbol, side) {
      decisions.push({ time: ctx.time, features: options.features(ctx, symbol, side), orders: [] })
      return { multiplier: 1, reason: 'recorded' }
    },
  }
  // The order ids of each decision: every entry order sent at the decision's bar.
  const base = gateEntries(options.strategy, recorder)
  const strategy: Strategy<any> = {
    ...base,
    onOrder: (ctx, e) => {
      const last = decisions[decisions.length - 1]
      if (last !== undefined && e.order.role === 'entry' && e.order.id >= 0 && ctx.time === last.time && !last.orders.includes(e.order.id)) last.orders.push(e.order.id)
      base.onOrder?.(ctx, e)
    },
  }
  const result = backtest({ ...options, strategy })
  const trades = result.strategies[0]!.trades
  const byOrder = new Map<number, number[]>()
  for (let i = 0; i < trades.entryOrderId.length; i++) {
    const id = trades.entryOrderId[i]!
    if (!byOrder.has(id)) byOrder.set(id, [])
    byOrder.get(id)!.push(i)
  }
  const entries = decisions.flatMap((d) => {
    const rows = d.orders.flatMap((id) => byOrder.get(id) ?? [])
    if (rows.length === 0) return []
    const open = rows.some((i) => trades.open[i] === true)
    const pnl = rows.reduce((a, i) => a + trades.pnl[i]!, 0)
    const exitTime = open ? NaN : Math.max(...rows.map((i) => trades.exitTime[i]!))
    return [{ time: d.time, features: d.features, pnl, exitTime, label: pnl > 0 ? 1 : 0 }]
  })
  return { result, entries }
}

export interface MetaLabelOptions extends BacktestOptions {
  strategy: Strategy<any>
  features: EntryFeatures
  /** A new, unfitted classifier (called once). */
  model: () => Model
  /** Out-of-sample start: epoch ms / ISO date, or a fraction of the entries (default 0.5). Training uses entries closed before it. */
  split?: number | string
  mode?: 'filter' | 'size'
  threshold?: number
}

export interface MetaLabelReport {
  splitTime: number
  train: { entries: number; wins: number }
  test: { entries: number; wins: number; accuracy: number; precision: number; rocAuc: number }
  /** Out of sample, same window and costs: the primary strategy alone and with the model. */
  without: OutOfSampleSummary
  with: OutOfSampleSummary
  model: Model
  /** The entries it was trained on, as a matrix (packageModel's data: the signature and the hash). */
  training: Labeled
  /** The whole-data runs without and with the model (the same until the split; see compareOutOfSample). */
  baseline: BacktestResult
  gated: BacktestResult
}

/** Performance from the out-of-sample start on (the equity's last value before it as the base); trades entered from it. */
export interface OutOfSampleSummary {
  sharpe: number
  sortino: number
  maxDrawdown: number
  totalReturn: number
  /** Trades (each leg of a pair is one) entered from the start and closed by the end; open ones count only in the equity. */
  trades: number
}

/**
 * The strategy with and without a gate, out of sample from `from`: both run over the whole data, the
 * gate passing every entry decided before `from`, so the two runs are the same bar for bar until then —
 * the strategy warmed up, its positions and the entry features' history as they were when the model
 * was trained — and differ only by the gate's decisions after. Metrics are taken on the equity from `from`.
 */
export function compareOutOfSample(
  o: BacktestOptions & { strategy: Strategy<any> },
  gate: EntryGate,
  from: number,
  /** The ungated whole-data run when the caller has it already (recordEntries' result): not run again. */
  baseline: BacktestResult = backtest(o),
): { without: OutOfSampleSummary; with: OutOfSampleSummary; baseline: BacktestResult; gated: BacktestResult } {
  const after: EntryGate = { decide: (ctx, symbol, side) => (ctx.time < from ? { multiplier: 1, reason: 'before the evaluation window' } : gate.decide(ctx, symbol, side)) }
  const gated = backtest({ ...o, strategy: gateEntries(o.strategy, after) })
  return { without: outOfSample(baseline, from), with: outOfSample(gated, from), baseline, gated }
}

function outOfSample(r: BacktestResult, from: number): OutOfSampleSummary {
  const i = r.time.findIndex((t) => t >= from)
  if (i < 0) throw new ConfigError(`the out-of-sample start ${new Date(from).toISOString()} is after the last bar`)
  const equity = r.equity.subarray(Math.max(0, i - 1))
  const trades = r.strategies[0]!.trades
  let n = 0
  for (let k = 0; k < trades.entryTime.length; k++) if (trades.entryTime[k]! >= from && trades.open[k] !== true) n++
  if (equity.length < 2) return { sharpe: NaN, sortino: NaN, maxDrawdown: 0, totalReturn: 0, trades: n }
  const m = performanceMetrics(equity, { periodsPerYear: r.periodsPerYear })
  return { sharpe: m.sharpe, sortino: m.sortino, maxDrawdown: m.maxDrawdown.depth, totalReturn: m.totalReturn, trades: n }
}

/** Train on the entries that closed before the split; evaluate with and without the model after it. */
export async function metaLabelEvaluation(o: MetaLabelOptions): Promise<MetaLabelReport> {
  const { result: recorded, entries } = recordEntries(o)
  if (entries.length < 10) throw new ConfigError(`the strategy made ${entries.length} entries: too few to learn which pay (10 at least)`)
  const splitTime = splitOf(o.split ?? 0.5, entries)
  // Purged: an entry trains only if its outcome was known before the out-of-sample start.
  const train = entries.filter((e) => e.time < splitTime && Number.isFinite(e.exitTime) && e.exitTime < splitTime)
  const test = entries.filter((e) => e.time >= splitTime && Number.isFinite(e.exitTime))
  if (train.length < 5) throw new ConfigError(`only ${train.length} entries closed before the split: move it later`)
  if (test.length === 0) throw new ConfigError('no entries after the split: move it earlier')
  const columns = Object.keys(train[0]!.features)
  const matrix = (rows: EntryRecord[]) => ({ X: Float64Array.from(rows.flatMap((e) => columns.map((c) => e.features[c]!))), rows: rows.length, columns })
  const model = o.model()
  if (model.task !== 'classification') throw new ConfigError('meta-labelling needs a classifier')
  const training = { ...matrix(train), y: train.map((e) => e.label) }
  await model.fit(training)
  const classes = model.toJSON().classes!
  const positive = classes.indexOf(1)
  const proba = model.predictProba(matrix(test))
  const p = test.map((_, r) => (positive < 0 ? 0 : proba[r * classes.length + positive]!))
  const threshold = o.threshold ?? 0.5
  const yTest = test.map((e) => e.label)
  const both = yTest.includes(0) && yTest.includes(1)
  const { without, with: gatedSummary, baseline, gated } = compareOutOfSample(o, modelGate({ model, features: o.features, mode: o.mode, threshold }), splitTime, recorded)
  return {
    splitTime,
    train: { entries: train.length, wins: train.filter((e) => e.label === 1).length },
    test: { entries: test.length, wins: yTest.filter((v) => v === 1).length, accuracy: accuracy(yTest, p.map((v) => (v >= threshold ? 1 : 0))), precision: precision(yTest, p.map((v) => (v >= threshold ? 1 : 0))), rocAuc: both ? rocAuc(yTest, p) : NaN },
    without,
    with: gatedSummary,
    model,
    training,
    baseline,
    gated,
  }
}

function splitOf(split: number | string, entries: EntryRecord[]): number {
  if (typeof split === 'string') {
    // A fraction as text ("0.7"), else a time by the one parser (parseTime: no offset = UTC whatever the
    // machine's zone, epoch numbers by magnitude); Date.parse read "2012-01-01 00:00" in the machine's zone.
    if (/^\s*0?\.\d+\s*$/.test(split)) return splitOf(Number(split), entries)
    try {
      return parseTime(split, { field: 'split' })
    } catch (cause) {
      throw new ConfigError(`${(cause as Error).message}; or a fraction of the entries in (0, 1)`, { cause })
    }
  }
  if (split > 0 && split < 1) return entries[Math.min(entries.length - 1, Math.floor(split * entries.length))]!.time
  if (Number.isFinite(split) && split > 1e11) return split
  throw new ConfigError(`split must be a date, epoch ms or a fraction in (0, 1) (received ${split})`)
}
