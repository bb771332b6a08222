// `--strategy NAME@VERSION|ALIAS` wherever a strategy is accepted (backtest, sweep, automl): the registered
// version runs — a built-in whose source is the registered one as the built-in, any other from the source
// the registry holds (the original file may be gone) — with the version's params as defaults.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { loadBars } from '../../lib/data/index.js'
import { loadRegisteredStrategy, loadStrategy } from '../../lib/strategy/index.js'
import { Registry } from '../../lib/track/index.js'
import { gridSampler, intRange } from '../../lib/tune/index.js'
import { walkForwardOptimize } from '../../lib/tune/walk-forward.js'
import { ROOT, runCli } from '../helpers.js'

let home: string
let dir: string
const cli = (...args: string[]) => runCli(['--home', home, ...args])
const json = async (...args: string[]) => {
  const r = await cli(...args, '--json')
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

// A strategy with no imports: long from the `enter`-th bar for `hold` bars.
const STEP_IN = `export default {
  name: 'step-in',
  params: {
    enter: { default: 100, min: 1, max: 100000, integer: true, step: 1, description: 'bar to buy on' },
    hold: { default: 50, min: 1, max: 100000, integer: true, step: 1, description: 'bars to hold' },
  },
  universe: (p, o) => o.symbols.map((symbol) => ({ symbol, timeframe: o.timeframe })),
  warmup: () => 1,
  onStart(ctx) { ctx.state.n = 0 },
  onBar(ctx, bar) {
    ctx.state.n += 1
    if (ctx.state.n === ctx.params.enter) ctx.buy(bar.symbol)
    if (ctx.state.n === ctx.params.enter + ctx.params.hold) ctx.close(bar.symbol)
  },
}
`

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-strategy-ref-'))
  dir = mkdtempSync(join(tmpdir(), 'mtflow-strategy-file-'))
  expect((await cli('data', 'samples', '--json')).code).toBe(0)
}, 120_000)
afterAll(() => {
  rmSync(home, { recursive: true, force: true })
  rmSync(dir, { recursive: true, force: true })
})

const headline = (out: { metrics: { sharpe: number; endEquity: number; trades: { trades: number } } }) => [out.metrics.sharpe, out.metrics.endEquity, out.metrics.trades.trades]

describe('--strategy NAME@REF', () => {
  it('backtests a registered built-in by alias with its registered params; --param wins', async () => {
    await json('strategy', 'register', 'sma-cross', '--param', 'fast=12', '--param', 'slow=40', '--no-parity')
    await json('registry', 'alias', 'strategies', 'sma-cross@1', 'champion')
    const plain = await json('backtest', '--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'fast=12', '--param', 'slow=40', '--no-track')
    const byRef = await json('backtest', '--strategy', 'sma-cross@champion', '--symbol', 'SPX', '--no-track')
    expect(headline(byRef)).toEqual(headline(plain))
    const override = await json('backtest', '--strategy', 'sma-cross@1', '--symbol', 'SPX', '--param', 'fast=5', '--no-track')
    const plain5 = await json('backtest', '--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'fast=5', '--param', 'slow=40', '--no-track')
    expect(headline(override)).toEqual(headline(plain5))
    expect(headline(plain5)).not.toEqual(headline(plain))
    // A tracked backtest of the version records its source's hash, which register prints beside the version's.
    const again = await runCli(['--home', home, 'strategy', 'register', 'sma-cross', '--param', 'fast=12', '--param', 'slow=40', '--no-parity'])
    const printed = /^unchanged source, already sma-cross@1 sha256:([0-9a-f]{12}) \(source sha256:([0-9a-f]{12}), the lineage\.strategy\.sha256 of its runs\); no parity check/.exec(again.stdout)
    expect(printed, again.stdout).not.toBeNull()
    const tracked = await json('backtest', '--strategy', 'sma-cross@1', '--symbol', 'SPX')
    const run = JSON.parse((await runCli(['--home', home, 'runs', 'show', tracked.runId, '--json'])).stdout)
    expect(run.info.lineage.strategy.sha256.slice(0, 12)).toBe(printed![2])
    expect(printed![1]).not.toBe(printed![2])
  })

  it('backtests a registered file from the registry after the file is gone', async () => {
    const file = join(dir, 'step-in.ts')
    writeFileSync(file, STEP_IN)
    const fromFile = await json('backtest', '--strategy', file, '--symbol', 'SPX', '--param', 'enter=200', '--param', 'hold=300', '--no-track')
    expect(fromFile.metrics.trades.trades).toBe(1)
    const registered = await json('strategy', 'register', file, '--param', 'enter=200', '--param', 'hold=300', '--no-parity')
    rmSync(file)
    const byRef = await json('backtest', '--strategy', `step-in@${registered.version}`, '--symbol', 'SPX', '--no-track')
    expect(headline(byRef)).toEqual(headline(fromFile))

    // In library code (a notebook, a walk-forward): the same version by ref, its params as defaults.
    const { strategy, params, version } = await loadRegisteredStrategy(new Registry(home), `step-in@${registered.version}`)
    expect(version).toMatchObject({ name: 'step-in', version: registered.version })
    expect(params).toEqual({ enter: 200, hold: 300 })
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const here = backtest({ strategy, params: params as Record<string, number>, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars } })
    expect([here.metrics.sharpe, here.metrics.endEquity, here.metrics.trades?.trades]).toEqual(headline(byRef))
    const wf = await walkForwardOptimize({ strategy, data: { SPX: bars }, symbols: ['SPX'], timeframe: '1d', inSample: 1000, outOfSample: 1000, space: { enter: intRange(100, 400, { step: 100 }) }, sampler: () => gridSampler(), nTrials: 4 })
    expect(wf.windows.length).toBeGreaterThan(0)
    // Under a CommonJS loader with a TypeScript hook (a tslab kernel's, the CLI's), import() knows no .ts: the
    // default loader falls back to require (it failed with ERR_UNKNOWN_FILE_EXTENSION).
    const script = `require(${JSON.stringify(join(ROOT, 'lib/strategy/index.ts'))}).loadRegisteredStrategy(new (require(${JSON.stringify(join(ROOT, 'lib/track/index.ts'))}).Registry)(${JSON.stringify(home)}), 'step-in@${registered.version}').then((r) => console.log(r.strategy.name, r.file !== undefined))`
    const cjs = spawnSync(process.execPath, ['-r', join(ROOT, 'lib/core/loader.cjs'), '-e', script], { encoding: 'utf8' })
    expect(cjs.stderr).toBe('')
    expect(cjs.stdout).toBe('step-in true\n')
    // A ref given where a built-in name or a file is expected says where refs go.
    await expect(loadStrategy(`step-in@${registered.version}`)).rejects.toThrow(`loadRegisteredStrategy(registry, "step-in@${registered.version}")`)
  })

  it('sweeps a registered version: the grid over its params', async () => {
    const byRef = await json('sweep', '--strategy', 'sma-cross@champion', '--symbol', 'SPX', '--grid', 'fast=5,10', '--workers', '1', '--no-track')
    const plain = await json('sweep', '--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'slow=40', '--grid', 'fast=5,10', '--workers', '1', '--no-track')
    const rows = (out: { rows: { params: Record<string, number>; metrics: Record<string, number> }[] }) => out.rows.map((r) => [r.params.fast, r.params.slow, r.metrics.sharpe]).sort()
    expect(rows(byRef)).toEqual(rows(plain))
    expect(rows(byRef).map((r) => r[1])).toEqual([40, 40])
  })

  it('an unknown name or alias is one line, exit 2, and no run is recorded', async () => {
    const before = (readdirSync(home, { recursive: true }) as string[]).sort()
    for (const [spec, message] of [
      ['sma-cross@nope', /^mtflow: .*sma-cross.*nope/],
      ['no-such@1', /^mtflow: no strategy named "no-such" in the registry/],
    ] as const) {
      const r = await cli('backtest', '--strategy', spec, '--symbol', 'SPX')
      expect(r.code, spec).toBe(2)
      expect(r.stderr.trim().split('\n'), spec).toHaveLength(1)
      expect(r.stderr, spec).toMatch(message)
    }
    expect((readdirSync(home, { recursive: true }) as string[]).sort()).toEqual(before)
  })
})
