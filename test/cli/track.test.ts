// Tracking through the CLI, as processes on the bundled samples: a backtest and a sweep log themselves
// (a parent with one child per set, the numbers the commands printed), runs search/show/compare,
// the registry verbs, strategy register with its parity check, --help everywhere, and bad input.

import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { parquetColumns } from '../../lib/core/parquet-columns.js'
import { loadBars } from '../../lib/data/index.js'
import { ROOT, runCli } from '../helpers.js'

let home: string
let backtestOut: { runId: string; metrics: { sharpe: number; endEquity: number; trades: { trades: number } } }
let sweepOut: { runId: string; rows: { params: Record<string, number>; metrics: Record<string, number> }[] }

const cli = (...args: string[]) => runCli(['--home', home, ...args])
const json = async (...args: string[]) => {
  const r = await cli(...args, '--json')
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-track-'))
  expect((await cli('data', 'samples', '--json')).code).toBe(0)
  backtestOut = await json('backtest', '--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'fast=10', '--param', 'slow=30', '--commission', '0.001')
  sweepOut = await json('sweep', '--strategy', 'sma-cross', '--symbol', 'SPX', '--grid', 'fast=5,10', '--grid', 'slow=30,60', '--commission', '0.001', '--workers', '1')
}, 120_000)

describe('tracked CLI runs', () => {
  it('a backtest is a run with lineage, its metrics and its files', async () => {
    const run = await json('runs', 'show', backtestOut.runId)
    expect(run.info).toMatchObject({ status: 'FINISHED', experimentId: 'backtests' })
    expect(run.params).toMatchObject({ fast: '10', slow: '30', commission: '0.001', strategy: 'sma-cross', symbols: 'SPX' })
    expect(run.metrics.sharpe.value).toBe(backtestOut.metrics.sharpe)
    expect(run.metrics.endEquity.value).toBe(backtestOut.metrics.endEquity)
    expect(run.metrics.trades.value).toBe(backtestOut.metrics.trades.trades)
    // Lineage: the strategy's module file hashed here, the data named by source/symbol/timeframe.
    const source = readFileSync(join(ROOT, 'lib', 'strategy', 'builtin', 'sma-cross.ts'))
    expect(run.info.lineage.strategy.sha256).toBe(createHash('sha256').update(source).digest('hex'))
    expect(run.info.lineage.data[0].name).toBe('sample/SPX/1d')
    // The data's snapshot id (remembered by the lake after the first read): sha256 over the bars' bytes, computed here.
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const hash = createHash('sha256').update(JSON.stringify({ source: 'sample', symbol: 'SPX', timeframe: '1d', rows: bars.time.length }))
    for (const column of [bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume]) hash.update(Buffer.from(column.buffer, column.byteOffset, column.byteLength))
    expect(run.info.lineage.data[0].sha256).toBe(hash.digest('hex'))
    expect(run.info.lineage.paramsSha256).toMatch(/^[0-9a-f]{64}$/)
    expect(run.tags['mtflow.strategy.sha256']).toBe(run.info.lineage.strategy.sha256)
    expect(run.artifacts.map((a: { path: string }) => a.path).sort()).toEqual(['equity.parquet', 'factors.parquet', 'fills.parquet', 'orders.parquet', 'results.json', 'trades.parquet'])
    const trades = parquetColumns(readFileSync(join(home, 'runs', 'backtests', backtestOut.runId, 'artifacts', 'trades.parquet')), 'trades.parquet')
    expect(trades.pnl!.length).toBe(backtestOut.metrics.trades.trades + 1) // + the open trade at the end
  })

  it('a sweep is a parent run with one child per parameter set, and counts toward the strategy’s runs', async () => {
    const children = await json('runs', 'search', `attributes.parent_run_id = "${sweepOut.runId}"`, '--order-by', 'params.fast', '--order-by', 'params.slow')
    expect(children.total).toBe(4)
    expect(children.runs.map((r: { params: Record<string, string> }) => `${r.params.fast}/${r.params.slow}`)).toEqual(['5/30', '5/60', '10/30', '10/60'])
    for (const child of children.runs) {
      const row = sweepOut.rows.find((x) => String(x.params.fast) === child.params.fast && String(x.params.slow) === child.params.slow)!
      expect(child.metrics.sharpe.value).toBe(row.metrics.sharpe)
      expect(child.metrics.totalReturn.value).toBe(row.metrics.totalReturn)
    }
    // The sweep set fast=10 slow=30 is the backtest run again: the same Sharpe.
    const same = children.runs.find((r: { params: Record<string, string> }) => r.params.fast === '10' && r.params.slow === '30')
    expect(same.metrics.sharpe.value).toBeCloseTo(backtestOut.metrics.sharpe, 12)
    const parent = await json('runs', 'show', sweepOut.runId)
    expect(parent.children).toBe(4)
    expect(parent.tags['mtflow.kind']).toBe('sweep')
    // The backtest came first (0 earlier runs); the sweep parent saw that one.
    expect(parent.info.lineage.strategyPriorRuns).toBe(1)
    // The same bars, read a second time (the snapshot id from the lake's cache): the same id as the backtest's.
    const backtestRun = await json('runs', 'show', backtestOut.runId)
    expect(parent.info.lineage.data[0].sha256).toBe(backtestRun.info.lineage.data[0].sha256)
  })

  it('searches with the grammar, compares, and points at a malformed filter', async () => {
    const found = await json('runs', 'search', 'metrics.sharpe > -10 and (params.fast = "10" or tags.mtflow.kind = "sweep")')
    // The backtest (fast 10) and the two sweep children with fast 10.
    expect(found.total).toBe(3)
    const compare = await json('runs', 'compare', backtestOut.runId, found.runs[0].info.runId)
    expect(compare.runs).toHaveLength(2)
    const text = await cli('runs', 'compare', ...found.runs.slice(0, 2).map((r: { info: { runId: string } }) => r.info.runId))
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/metrics\.sharpe/)
    const bad = await cli('runs', 'search', 'metrics.sharpe > 1 and (params.fast = "10"')
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim()).toBe('mtflow: invalid filter at position 42: expected a closing ), found the end (in "metrics.sharpe > 1 and (params.fast = \\"10\\"")')
    const unknown = await cli('runs', 'show', 'no-such-run')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.trim()).toBe('mtflow: unknown run "no-such-run"')
  })

  it('registers a strategy once per source, records parity, aliases and retires', async () => {
    const first = await json('strategy', 'register', 'sma-cross', '--run', backtestOut.runId)
    expect(first).toMatchObject({ version: 1, created: true, status: 'active', runs: [backtestOut.runId], params: { fast: 10, slow: 30 } })
    expect(first.parity.agree).toBe(true)
    expect(first.parity.maxRelativeDifference).toBeLessThan(1e-9)
    const again = await json('strategy', 'register', 'sma-cross')
    expect(again).toMatchObject({ version: 1, created: false })
    expect((await json('registry', 'alias', 'strategies', 'sma-cross@1', 'champion', '--reason', 'best so far')).version).toBe(1)
    const list = await json('registry', 'strategies')
    expect(list[0]).toMatchObject({ name: 'sma-cross', aliases: { champion: 1 } })
    const blocked = await cli('strategy', 'retire', 'sma-cross@1')
    expect(blocked.code).toBe(2)
    expect(blocked.stderr).toMatch(/aliased as champion/)
    expect((await cli('strategy', 'retire', 'sma-cross')).stderr).toMatch(/needs NAME@VERSION/)
    await json('registry', 'unalias', 'strategies', 'sma-cross', 'champion')
    expect((await json('strategy', 'retire', 'sma-cross@1', '--reason', 'test')).status).toBe('retired')
    expect((await json('strategy', 'restore', 'sma-cross@1')).status).toBe('active')
    const audit = await json('registry', 'audit', 'strategies', 'sma-cross')
    expect(audit.map((e: { action: string }) => e.action)).toEqual(['register', 'parity', 'alias', 'unalias', 'retire', 'restore'])
    const missing = await cli('registry', 'models', 'nope')
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim()).toBe('mtflow: no model named "nope" in the registry')
  })

  it('has --help for every verb', async () => {
    for (const verb of [['runs', 'list'], ['runs', 'search'], ['runs', 'show'], ['runs', 'compare'], ['runs', 'reindex'], ['registry', 'strategies'], ['registry', 'models'], ['registry', 'alias'], ['registry', 'stage'], ['registry', 'audit'], ['strategy', 'register'], ['strategy', 'retire']]) {
      const r = await runCli([...verb, '--help'])
      expect(r.code, verb.join(' ')).toBe(0)
      expect(r.stdout).toMatch(/--json/)
    }
  })
})
