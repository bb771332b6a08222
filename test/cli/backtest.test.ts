// `mtflow backtest` and `mtflow sweep` as processes on the bundled samples: the golden run's numbers
// through the CLI, the export files, a strategy file, sweeps with 1 and 2 workers, and bad input.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { loadBars } from '../../lib/data/index.js'
import { Tracker } from '../../lib/track/index.js'
import { readRunTable } from '../../lib/track/run-tables.js'
import { ROOT, runCli, runCliBatch } from '../helpers.js'

let home: string
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-bt-'))
  const r = await runCli(['--home', home, 'data', 'samples', '--json'])
  expect(r.code, r.stderr).toBe(0)
}, 60_000)

describe('mtflow backtest', () => {
  it('runs sma-cross on SPX with the golden settings: --json metrics and trades equal the library', async () => {
    const r = await runCli(['--home', home, 'backtest', '--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'fast=10', '--param', 'slow=30', '--size-qty', '1', '--commission', '0.0005', '--cash', '1000000', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const lib = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars }, cash: 1_000_000, sizing: { qty: 1 }, fills: { takerRate: 0.0005 } })
    expect(out.metrics.endEquity).toBeCloseTo(lib.metrics.endEquity, 6)
    expect(out.trades).toHaveLength(lib.strategies[0]!.trades.pnl.length)
    expect(out.trades[0]).toMatchObject({ direction: 'long', qty: 1, entryTime: '2000-03-17T00:00:00.000Z' })
    expect(out.equity).toMatchObject({ points: 5105, start: 1_000_000 })
    expect(out.params).toEqual({ fast: 10, slow: 30, short: 0 })
  })

  it('--export writes trades, orders, fills, equity, factors and results', async () => {
    const dir = join(home, 'export')
    const r = await runCli(['--home', home, 'backtest', '--strategy', 'rsi-reversion', '--symbol', 'SPX', '--commission', '0.001', '--export', dir])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^Sharpe\s+-?\d+\.\d\d$/m)
    const trades = readFileSync(join(dir, 'trades.csv'), 'utf8').trim().split('\n')
    expect(trades[0]).toBe('strategy,symbol,direction,entryTime,entryPrice,exitTime,exitPrice,qty,fees,pnl,returnPct,mae,mfe,barsHeld,entryOrderId,tag,open,exitReason')
    const factors = readFileSync(join(dir, 'factors.csv'), 'utf8').trim().split('\n')
    expect(factors[0]!.split(',').slice(0, 4).join(',')).toBe('strategy,entryOrderId,entryTime,rsi(14)')
    expect(factors[0]).toContain(',factor.slope_20,factor.r2_20,')
    expect(factors.length).toBe(trades.length)
    // Each entry's RSI is below the lower threshold (30): the value the strategy saw.
    for (const line of factors.slice(1)) expect(Number(line.split(',')[3])).toBeLessThan(30)
    const equity = readFileSync(join(dir, 'equity.csv'), 'utf8').trim().split('\n')
    expect(equity).toHaveLength(5106)
    expect(equity[1]).toBe('2000-01-03T00:00:00.000Z,100000,0')
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'))
    expect(results).toMatchObject({ strategy: 'rsi-reversion', commission: 0.001, bars: 5105 })
  })

  it('--size-pct above 100 in a cash account: each entry cut to what the cash buys, said on stderr and in the orders\' reason (a new-user review found it silent)', async () => {
    const dir = join(home, 'export-150')
    const r = await runCli(['--home', home, 'backtest', '--no-track', '--strategy', 'sma-cross', '--symbol', 'SPX', '--size-pct', '150', '--export', dir, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    const full = JSON.parse((await runCli(['--home', home, 'backtest', '--no-track', '--strategy', 'sma-cross', '--symbol', 'SPX', '--size-pct', '100', '--json'])).stdout)
    expect(out.metrics.endEquity).toBeCloseTo(full.metrics.endEquity, 6) // 150 % of a cash account is 100 %
    const lines = readFileSync(join(dir, 'orders.csv'), 'utf8').trim().split('\n')
    const head = lines[0]!.split(',')
    const rows = lines.slice(1).map((l) => l.split(','))
    // Filled entries keep the reason; one that ends otherwise (cancelled at the fill price) says its own.
    const entries = rows.filter((c) => c[head.indexOf('role')] === 'entry' && c[head.indexOf('status')] === 'FILLED')
    expect(entries.length).toBeGreaterThan(10)
    const resized = rows.filter((c) => c[head.indexOf('reason')]!.startsWith('resized: ')).length
    expect(resized).toBe(entries.length)
    for (const c of entries) {
      // "resized: insufficient buying power: WANTED → GOT", GOT the order's qty and WANTED 1.5× it (costs aside: 0 here).
      const m = /^resized: insufficient buying power: ([\d.]+) → ([\d.]+)$/.exec(c[head.indexOf('reason')]!)
      expect(m, c.join(',')).not.toBeNull()
      expect(Number(m![2])).toBeCloseTo(Number(c[head.indexOf('qty')]), 3)
      expect(Number(m![1]) / Number(m![2])).toBeCloseTo(1.5, 2)
    }
    expect(r.stderr).toContain(`mtflow: note: ${entries.length} order(s) were made smaller than their sizing asked (the first: insufficient buying power:`)
    expect(r.stderr).toContain('--size-pct above 100 is cut to what the cash buys')
  })

  it('100 % sizing with costs: no order reported smaller for a cut within rounding; entries the next open made unaffordable are said filled in part (a numbers review)', async () => {
    const dir = join(home, 'export-full')
    const r = await runCli(['--home', home, 'backtest', '--no-track', '--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'fast=10', '--param', 'slow=30', '--commission', '0.001', '--export', dir])
    expect(r.code, r.stderr).toBe(0)
    const lines = readFileSync(join(dir, 'orders.csv'), 'utf8').trim().split('\n')
    const head = lines[0]!.split(',')
    const col = (c: string[], name: string) => c[head.indexOf(name)]!
    const rows = lines.slice(1).map((l) => l.split(','))
    // Sized at 100 % of equity costs included, an entry is never cut by more than rounding at submission.
    expect(rows.filter((c) => col(c, 'reason').startsWith('resized: '))).toEqual([])
    expect(r.stderr).not.toContain('made smaller')
    // An open above the sizing close: filled as far as the cash went, the rest cancelled.
    const short = rows.filter((c) => col(c, 'reason') === 'insufficient buying power at the fill price')
    expect(short.length).toBeGreaterThan(5)
    for (const c of short) {
      expect(col(c, 'status')).toBe('CANCELLED')
      expect(Number(col(c, 'filled'))).toBeGreaterThan(0)
      expect(Number(col(c, 'filled'))).toBeLessThan(Number(col(c, 'qty')))
    }
    expect(r.stderr).toContain(`mtflow: note: ${short.length} order(s) met less buying power at the fill price than at the close they were sized at: each was filled as far as the cash went (${short.length} in part, 0 not at all)`)
  })

  it('runs a strategy from a file', async () => {
    const file = join(home, 'always-long.ts')
    writeFileSync(
      file,
      `import { defineStrategy } from '${join(ROOT, 'lib/strategy/index.js')}'
export default defineStrategy({
  name: 'always-long',
  params: {},
  universe: (_p, r) => [{ symbol: r.symbols[0], timeframe: r.timeframe }],
  warmup: () => 1,
  onBar(ctx, bar) { if (ctx.position(bar.symbol) === 0 && ctx.openOrders().length === 0) ctx.buy(bar.symbol) },
})
`,
    )
    const r = await runCli(['--home', home, 'backtest', '--strategy', file, '--symbol', 'SPX', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.strategy).toBe('always-long')
    expect(out.file).toBe(file)
    // All in: sized at the first close, bought at the second bar's open (no more than the cash buys), held to the end.
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const n = bars.close.length
    const q = Math.min(100_000 / bars.close[0]!, 100_000 / bars.open[1]!)
    expect(out.metrics.endEquity).toBeCloseTo(100_000 - q * bars.open[1]! + q * bars.close[n - 1]!, 4)
  })

  it('bad input: one line naming it, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--strategy', 'nope', '--symbol', 'SPX'], /^mtflow: unknown strategy "nope"; expected one of sma-cross, rsi-reversion/],
      [['--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'speed=3'], /^mtflow: unknown parameter "speed" for strategy sma-cross; expected one of fast, slow, short$/],
      [['--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'fast=1'], /^mtflow: strategy sma-cross parameter fast must be an integer in \[2, 500\] \(received 1\)$/],
      [['--strategy', 'sma-cross', '--symbol', 'NOPE'], /^mtflow: no bars for NOPE 1d in the lake/],
      [['--strategy', 'sma-cross', '--symbol', 'SPX', '--start', '2030-01-01'], /^mtflow: no bars for SPX 1d between 2030-01-01 and the end$/],
      [['--strategy', 'sma-cross', '--symbol', 'SPX', '--commission', '5'], /^mtflow: --commission must be a rate on notional in \[0, 1\)/],
    ]
    // One process for the refusals (they are main's, not the process's).
    const results = await runCliBatch(cases.map(([args]) => ['--home', home, 'backtest', ...args]))
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr.trim()).toMatch(message)
    }
  })

  it('--list shows the built-ins', async () => {
    const r = await runCli(['backtest', '--list', '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).map((s: { name: string }) => s.name)).toEqual(['sma-cross', 'rsi-reversion', 'bollinger-breakout', 'donchian-breakout', 'opening-range-breakout', 'pairs-zscore'])
  })
})

describe('mtflow sweep', () => {
  it('the same table with 1 and 2 workers; the best row by the metric', async () => {
    const args = ['--home', home, 'sweep', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast=5:20:5', '--grid', 'slow=20:60:20', '--commission', '0.0005', '--json']
    const one = await runCli([...args, '--workers', '1'])
    const two = await runCli([...args, '--workers', '2'])
    expect(one.code, one.stderr).toBe(0)
    expect(two.code, two.stderr).toBe(0)
    const a = JSON.parse(one.stdout)
    const b = JSON.parse(two.stdout)
    // 4 × 3 sets, of which fast ≥ slow (20/20) is skipped by the strategy's check.
    expect(a.sets).toBe(11)
    expect(a.skipped).toEqual([{ params: { fast: 20, slow: 20, short: 0 }, reason: 'fast (20) must be below slow (20)' }])
    expect(b.rows).toEqual(a.rows)
    expect(a.engine).toBe('vector')
    const best = Math.max(...a.rows.map((r: { metrics: { sharpe: number } }) => r.metrics.sharpe))
    expect(a.best.metrics.sharpe).toBe(best)
    // The tracked sweep keeps its table as Parquet (CSV only with --out): one row per set, its numbers the rows'.
    const tracker = new Tracker(home)
    const artifacts = tracker.getRun(a.runId).artifacts.map((x) => x.path)
    expect(artifacts.filter((p) => p.startsWith('sweep.'))).toEqual(['sweep.parquet'])
    const table = readRunTable(tracker, a.runId, 'sweep')!
    expect(table.format).toBe('parquet')
    const columns = (table as { columns: Record<string, ArrayLike<number>> }).columns
    expect(Array.from(columns.fast!)).toEqual(a.rows.map((r: { params: { fast: number } }) => r.params.fast))
    expect(Array.from(columns.sharpe!)).toEqual(a.rows.map((r: { metrics: { sharpe: number } }) => r.metrics.sharpe))
  })

  it('rows agree with single backtests', async () => {
    const r = await runCli(['--home', home, 'sweep', '--strategy', 'rsi-reversion', '--symbol', 'SPX', '--grid', 'period=7,14', '--workers', '1', '--json'])
    const out = JSON.parse(r.stdout)
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    for (const row of out.rows) {
      const lib = backtest({ strategy: 'rsi-reversion', params: row.params, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars } })
      expect(row.metrics.endEquity).toBeCloseTo(lib.metrics.endEquity, 6)
      expect(row.metrics.trades).toBe(lib.metrics.trades!.trades)
      expect(row.metrics.sharpe).toBeCloseTo(lib.metrics.sharpe, 9)
    }
  })

  it('bad grids: exit 2 with a reason', async () => {
    const cases: [string[], RegExp][] = [
      [['--grid', 'fast=a:b'], /^mtflow: --grid fast takes min:max:step or a list a,b,c/],
      [['--grid', 'speed=1:3'], /^mtflow: unknown parameter "speed" for strategy sma-cross/],
      [['--grid', 'fast=1:5'], /^mtflow: strategy sma-cross parameter fast must be an integer in \[2, 500\] \(received 1\)$/],
      [[], /^mtflow: --grid is required/],
    ]
    const results = await runCliBatch(cases.map(([extra]) => ['--home', home, 'sweep', '--strategy', 'sma-cross', '--symbol', 'SPX', '--workers', '1', ...extra]))
    for (const [i, [, message]] of cases.entries()) {
      const r = results[i]!
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim()).toMatch(message)
    }
  })

  it('no bars: the message names the source that has none and the ones that do, or the range (a new-user review)', async () => {
    const base = ['--home', home, 'backtest', '--no-track', '--strategy', 'sma-cross', '--symbol', 'SPX']
    const [nope, late] = await runCliBatch([
      [...base, '--source', 'nope'],
      [...base, '--start', '2030-01-01'],
    ])
    expect(nope!.code).toBe(2)
    expect(nope!.stderr.trim()).toBe('mtflow: no bars for SPX 1d in source nope (--source sample holds them)')
    expect(late!.code).toBe(2)
    expect(late!.stderr.trim()).toBe('mtflow: no bars for SPX 1d between 2030-01-01 and the end')
  })

  it('a path that cannot be written, and a --grid without =: exit 2 with one line (a new-user review: exit 1, a raw error naming a temp file)', async () => {
    const missing = join(home, 'no-such-folder', 'x', 'rsi.csv')
    const [exported, out, grid] = await runCliBatch([
      ['--home', home, 'backtest', '--no-track', '--strategy', 'sma-cross', '--symbol', 'SPX', '--export', '/dev/null/x', '--json'],
      ['--home', home, 'indicators', 'compute', '--symbol', 'SPX', '--timeframe', '1d', '--set', 'rsi', '--out', missing],
      ['--home', home, 'sweep', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast'],
    ])
    expect([exported!.code, exported!.stderr.trim()]).toEqual([2, 'mtflow: cannot mkdir /dev/null/x: not a directory (ENOTDIR)'])
    expect([out!.code, out!.stderr.trim()]).toEqual([2, `mtflow: --out ${missing}: the folder ${join(home, 'no-such-folder', 'x')} does not exist`])
    expect([grid!.code, grid!.stderr.trim()]).toEqual([2, 'mtflow: --grid takes name=values (min:max:step or a,b,c) (received "fast")'])
  })

  it('a grid of which no set runs exits 2 saying why; --sample draws valid sets (a new-user review: exit 0, and 1 set of 3)', async () => {
    const none = await runCli(['--home', home, 'sweep', '--no-track', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast=40', '--grid', 'slow=30', '--workers', '1'])
    expect(none.code).toBe(2)
    expect(none.stderr.trim().split('\n').pop()).toBe('mtflow: no parameter set ran: 1 skipped (the first: fast (40) must be below slow (30))')
    // Tracked: refused before a run is recorded (an empty sweep run was stored on every try).
    const tracked = await runCli(['--home', home, 'sweep', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast=40,50', '--grid', 'slow=30', '--experiment', 'none-valid'])
    expect([tracked.code, tracked.stderr.trim()]).toEqual([2, 'mtflow: no parameter set ran: 2 skipped (the first: fast (40) must be below slow (30))'])
    const experiments = JSON.parse((await runCli(['--home', home, 'runs', 'list', '--experiments', '--json'])).stdout) as { name: string }[]
    expect(experiments.map((e) => e.name)).not.toContain('none-valid')
    // fast 10, 20, 40, 60 × slow 30, 50: 5 of the 8 sets are valid (fast < slow).
    const sampled = JSON.parse((await runCli(['--home', home, 'sweep', '--no-track', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast=10,20,40,60', '--grid', 'slow=30,50', '--sample', '3', '--seed', '4', '--workers', '1', '--json'])).stdout)
    expect(sampled.rows).toHaveLength(3)
    expect(sampled.skipped.length).toBeGreaterThan(0) // seed 4 draws invalid sets (2 of its first 3 were, before)
    for (const row of sampled.rows) expect(row.params.fast).toBeLessThan(row.params.slow)
    expect(new Set(sampled.rows.map((r: { params: { fast: number; slow: number } }) => `${r.params.fast}/${r.params.slow}`)).size).toBe(3)
    for (const skip of sampled.skipped) expect(skip.params.fast).toBeGreaterThanOrEqual(skip.params.slow)
    // Asking for more than the valid sets runs them all.
    const all = JSON.parse((await runCli(['--home', home, 'sweep', '--no-track', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast=10,20,40,60', '--grid', 'slow=30,50', '--sample', '7', '--workers', '1', '--json'])).stdout)
    expect(all.rows).toHaveLength(5)
  })
})
