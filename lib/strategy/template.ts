// The files `mtflow strategy new NAME` writes: a complete, commented strategy (NAME.ts) and its tests
// (NAME.test.ts: node:test, run by `mtflow strategy test`). The guide lib/backtest/README.md ("Writing a strategy") shows
// the same strategy; test/cli/strategy-new.test.ts runs what these write.

import { ConfigError } from '../core/index.js'
import { STRATEGIES } from './builtin/index.js'

/** A strategy name: lowercase letters, digits and dashes, starting with a letter (it names files and registry entries). */
export function checkStrategyName(name: string): string {
  if (typeof name !== 'string' || !/^[a-z][a-z0-9-]{0,62}[a-z0-9]$|^[a-z]$/.test(name)) {
    throw new ConfigError(`strategy name must be lowercase letters, digits and dashes, starting with a letter (received ${JSON.stringify(String(name).slice(0, 80))})`)
  }
  if (Object.prototype.hasOwnProperty.call(STRATEGIES, name)) throw new ConfigError(`strategy name ${JSON.stringify(name)} is a built-in strategy's; choose another`)
  return name
}

export function strategyTemplate(name: string): string {
  checkStrategyName(name)
  return `// ${name}: long when the fast SMA crosses above the slow SMA, out when it crosses back below, with an
// optional bracket (a stop-loss and a take-profit placed when the entry fills). Written from mtflow's
// template (mtflow strategy new ${name}); orders fill at the next bar's open.
//
//   mtflow backtest --strategy ./${name}.ts --symbol SPX     run it (mtflow data samples: the bundled S&P 500)
//   mtflow strategy test ./${name}.test.ts                    its tests
//   mtflow strategy register ./${name}.ts                     a version in the registry (then --strategy ${name}@1)

import { crossing, defineStrategy, intParam, realParam, type IndicatorHandle } from 'mtflow'

export interface Params {
  fast: number
  slow: number
  stopLoss: number
  takeProfit: number
}

/** What onStart keeps for each symbol (ctx.state is this run's own; the strategy object is shared). */
interface SymbolState {
  fast: IndicatorHandle
  slow: IndicatorHandle
}

export default defineStrategy<Params>({
  name: '${name}',
  description: 'SMA crossover with an optional stop-loss / take-profit bracket',
  // Each parameter: default, min, max (the range sweeps and tuners search), a description, a sweep step.
  params: {
    fast: intParam(10, 2, 200, 'bars in the fast SMA', 5),
    slow: intParam(30, 3, 1000, 'bars in the slow SMA', 10),
    stopLoss: realParam(0.05, 0, 0.5, 'bracket stop-loss below the entry bar close, as a fraction (0: none)', 0.01),
    takeProfit: realParam(0.15, 0, 2, 'bracket take-profit above the entry bar close, as a fraction (0: none)', 0.01),
  },
  // The series it reads, as { symbol, timeframe } objects (not bare symbols): here every symbol the run
  // names (--symbol), at the run's timeframe (--timeframe).
  universe: (_p, request) => request.symbols.map((symbol) => ({ symbol, timeframe: request.timeframe })),
  // Bars of history before the first onBar: the slow SMA and the bar before it (a cross needs two).
  warmup: (p) => p.slow + 1,
  // Checks across parameters: a message refuses the set (a sweep skips it).
  validate: (p) => (p.fast < p.slow ? undefined : \`fast (\${p.fast}) must be below slow (\${p.slow})\`),
  // Optional: the same decisions over whole arrays, for the vectorized engine and fast sweeps. It must
  // equal what onBar does with plain market orders, so it has no form when a bracket is on.
  signals(p, _bars, indicator) {
    if (p.stopLoss > 0 || p.takeProfit > 0) return undefined
    const fast = indicator('sma', { period: p.fast }).value!
    const slow = indicator('sma', { period: p.slow }).value!
    return { entries: crossing(fast, slow, 'above'), exits: crossing(fast, slow, 'below') }
  },
  // Once per run, before the first bar: indicators are created here and updated by the engine.
  onStart(ctx) {
    for (const { symbol } of ctx.subscriptions) {
      const state: SymbolState = {
        fast: ctx.indicator('sma', { period: ctx.params.fast }, { symbol }),
        slow: ctx.indicator('sma', { period: ctx.params.slow }, { symbol }),
      }
      ctx.state[symbol] = state
    }
  },
  // Each closed bar of each series (after the warmup). at(0) is this bar, at(1) the one before.
  onBar(ctx, bar) {
    const { fast, slow } = ctx.state[bar.symbol] as SymbolState
    const crossedUp = fast.at(0) > slow.at(0) && fast.at(1) <= slow.at(1)
    const crossedDown = fast.at(0) < slow.at(0) && fast.at(1) >= slow.at(1)
    const position = ctx.position(bar.symbol)
    if (crossedUp && position <= 0) {
      const { stopLoss, takeProfit } = ctx.params
      // A market order sized by the run (--size-qty or --size-pct, 100 % of equity by default); the bracket's two exits are placed when it fills,
      // and one cancels the other.
      ctx.buy(bar.symbol, {
        ...(stopLoss > 0 ? { stopLoss: bar.close * (1 - stopLoss) } : {}),
        ...(takeProfit > 0 ? { takeProfit: bar.close * (1 + takeProfit) } : {}),
        tag: 'cross-up',
      })
    } else if (crossedDown && position > 0) {
      // Flatten at market; close() also cancels the bracket's working orders.
      ctx.close(bar.symbol, { tag: 'cross-down' })
    }
  },
  // Optional callbacks: onOrder (status changes), onFill (each execution), onStop (the end of the run).
  onFill(ctx, fill) {
    if (fill.order.role === 'stop-loss') ctx.log(\`\${fill.symbol}: stopped out at \${fill.price.toFixed(2)}\`)
  },
})
`
}

export function strategyTestTemplate(name: string): string {
  checkStrategyName(name)
  return `// Tests of ${name} (mtflow strategy test ./${name}.test.ts): node:test and node:assert, run under
// mtflow's loader (which resolves 'mtflow'). On synthetic bars: it runs and trades, it never looks ahead,
// and its vectorized form (signals) makes the same decisions as onBar.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backtest, defaultParams, parityCheck, signalFlags, strategySignals, syntheticGbm, type Bars } from 'mtflow'
import strategy from './${name}.js'

/** Params under which the strategy has a vectorized form (no bracket). */
const VECTOR_PARAMS = { stopLoss: 0, takeProfit: 0 }

const bars = syntheticGbm({ symbol: 'SYN', timeframe: '1d', bars: 600, seed: 7, volatility: 0.3 })

/** The first n bars, copied (a view would share its memory with the later bars). */
function head(b: Bars, n: number): Bars {
  return { symbol: b.symbol, timeframe: b.timeframe, time: b.time.slice(0, n), open: b.open.slice(0, n), high: b.high.slice(0, n), low: b.low.slice(0, n), close: b.close.slice(0, n), volume: b.volume.slice(0, n) }
}

function run(data: Bars, params: Record<string, number> = {}) {
  return backtest({ strategy, params, symbols: [data.symbol], timeframe: data.timeframe, data: { [data.symbol]: data }, cash: 100_000 })
}

/** The strategy's decisions (entries and exits it placed, not bracket children) up to a time. */
function decisions(result: ReturnType<typeof run>, until: number): string[] {
  const o = result.strategies[0]!.orders
  const out: string[] = []
  for (let i = 0; i < o.id.length; i++) {
    if ((o.role[i] === 'entry' || o.role[i] === 'exit') && o.createdAt[i]! <= until) out.push(\`\${o.createdAt[i]} \${o.side[i]} \${o.role[i]} \${o.qty[i]} \${o.tag[i]}\`)
  }
  return out
}

test('runs and trades on synthetic bars', () => {
  const result = run(bars)
  assert.equal(result.equity.length, bars.time.length)
  assert.ok(Number.isFinite(result.metrics.endEquity), 'end equity is not a number')
  assert.ok((result.metrics.trades?.trades ?? 0) > 0, 'no closed trade on 600 bars')
})

test('never looks ahead: decisions on every prefix of the bars equal those on the whole', () => {
  const whole = run(bars)
  const last = bars.time.length
  for (let n = strategy.warmup(defaultParams(strategy.params)) + 1; n < last; n++) {
    const until = bars.time[n]! // the close of bar n − 1
    assert.deepEqual(decisions(run(head(bars, n)), until), decisions(whole, until), \`onBar decided differently with bars after #\${n - 1} present\`)
  }
  const all = strategySignals(strategy, VECTOR_PARAMS, bars)
  if (all === undefined) return
  const entries = signalFlags(all.entries)
  const exits = signalFlags(all.exits)
  for (let n = 2; n < last; n++) {
    const part = strategySignals(strategy, VECTOR_PARAMS, head(bars, n))!
    assert.equal(signalFlags(part.entries)[n - 1], entries[n - 1], \`signals: entry at bar #\${n - 1} depends on later bars\`)
    assert.equal(signalFlags(part.exits)[n - 1], exits[n - 1], \`signals: exit at bar #\${n - 1} depends on later bars\`)
  }
})

test('the vectorized form (signals) equals the event-driven one', (t) => {
  const parity = parityCheck(strategy, VECTOR_PARAMS, bars)
  if (parity === undefined) return t.skip('no vectorized form')
  assert.ok(parity.agree, \`engines disagree: max relative difference \${parity.maxRelativeDifference}, trades \${parity.event.trades} (event) vs \${parity.vector.trades} (vector)\`)
  assert.ok(parity.event.trades! > 0, 'no trade to compare')
})
`
}
