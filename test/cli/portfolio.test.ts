// `mtflow portfolio targets` and `mtflow portfolio weights` as processes, on the bundled European indices
// (1d, 1991–1998). The expected weights are computed here by plain code from the lake's closes (the hedge
// ratio by sums, the volatility of simple returns, the vol-targeting and cap arithmetic written out); the
// orders file is read back by its strict reader; the production config by what `deploy --weights` reads;
// bad input is one line, exit 2, and no file written.

import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { alignCloses, loadBars } from '../../lib/data/index.js'
import { OrderJournal, readWeightsFile, type DeploymentStatus } from '../../lib/live/index.js'
import { readOrdersFile } from '../../lib/live/orders-file.js'
import { runStep } from '../../lib/pipeline/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { runCli, runCliBatch } from '../helpers.js'

let home: string
let dir: string
let closes: Record<string, Float64Array>
let pair: { y: Float64Array; x: Float64Array; time: Float64Array }
let lastTime: number

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-portfolio-'))
  dir = mkdtempSync(join(tmpdir(), 'mtflow-cli-portfolio-f-'))
  const r = await runCli(['--home', home, 'data', 'samples', '--json'])
  expect(r.code, r.stderr).toBe(0)
  closes = {}
  for (const s of ['DAX', 'SMI', 'CAC', 'FTSE']) closes[s] = (await loadBars(home, { symbol: s, timeframe: '1d' })).close
  const aligned = alignCloses({ DAX: await loadBars(home, { symbol: 'DAX', timeframe: '1d' }), SMI: await loadBars(home, { symbol: 'SMI', timeframe: '1d' }) })
  pair = { y: aligned.closes.DAX!, x: aligned.closes.SMI!, time: aligned.time }
  lastTime = aligned.time[aligned.time.length - 1]!
}, 60_000)

const last = (a: Float64Array) => a[a.length - 1]!

/** OLS slope of log y on log x over the last n bars, by sums. */
function plainBeta(y: Float64Array, x: Float64Array, n: number): number {
  let sx = 0
  let sy = 0
  let sxx = 0
  let sxy = 0
  for (let i = y.length - n; i < y.length; i++) {
    const lx = Math.log(x[i]!)
    const ly = Math.log(y[i]!)
    sx += lx
    sy += ly
    sxx += lx * lx
    sxy += lx * ly
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx)
}

/** Sample sd of the last n simple returns of y (minus β × x's), × √(bars per year). */
function plainVol(y: Float64Array, x: Float64Array | undefined, beta: number, n: number, perYear: number): number {
  const r: number[] = []
  for (let i = y.length - n; i < y.length; i++) r.push(y[i]! / y[i - 1]! - 1 - (x === undefined ? 0 : beta * (x[i]! / x[i - 1]! - 1)))
  const m = r.reduce((a, b) => a + b, 0) / n
  return Math.sqrt((r.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1)) * perYear)
}

const signal = (target: string, side: string, probability: number, time = new Date(lastTime).toISOString()) =>
  JSON.stringify({ time, target, model: `m.${target.toLowerCase().replace('~', '-')}@1`, probability, side, confidence: Math.abs(2 * probability - 1) })

function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

// DAX~SMI long spread at p 0.8 (confidence 0.6), CAC short at p 0.3 (0.4). Equal shares 1/2.
// targetVol 0.1, vol window 60, hedge window 60, 252 bars a year.
function expectedRaw(): Record<string, number> {
  const beta = plainBeta(pair.y, pair.x, 60)
  const kPair = (0.1 * 0.6 * 0.5) / plainVol(pair.y, pair.x, beta, 60, 252)
  const kCac = (0.1 * 0.4 * 0.5) / plainVol(closes.CAC!, undefined, 0, 60, 252)
  return { DAX: kPair, SMI: -beta * kPair, CAC: -kCac }
}

describe('mtflow portfolio targets', () => {
  it('a signals file, caps and a positions file: vol-targeted weights under the gross cap, lot-rounded targets, orders and an orders file; a production config deploy --weights accepts', async () => {
    const signals = file('signals.jsonl', `${signal('DAX~SMI', 'long spread', 0.8)}\n${signal('CAC', 'short', 0.3)}\n`)
    const caps = file('caps.json', JSON.stringify({ maxGross: 0.2, capital: 100_000, lotSizes: { DAX: 0.01, SMI: 0.01, CAC: 0.01, FTSE: 0.01 }, minNotional: 100 }))
    const positions = file('positions.csv', 'symbol,qty\nDAX,1\nFTSE,2\n')
    const registry = new Registry(home)
    registry.register('strategies', 'pairs-z', { files: { 'source.ts': 'export const v = 1\n' } })
    registry.register('strategies', 'pairs-z', { files: { 'source.ts': 'export const v = 2\n' } })
    const out = join(dir, 'orders.json')
    const prod = join(dir, 'prod.json')
    const r = await runCli(['--home', home, 'portfolio', 'targets', '--signals', signals, '--caps', caps, '--positions', positions, '--timeframe', '1d', '--bars-per-year', '252', '--out', out, '--prod-config', prod, '--strategy', 'pairs-z', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout) as { bound: string[]; gross: number; positions: { symbol: string; weight: number; targetQty: number; currentQty: number; orderQty: number; bound: string[] }[]; orders: { clientOrderId: string; symbol: string; side: string; qty: number }[] }
    // Gross before the cap: |DAX| + |SMI| + |CAC| > 0.2, so every weight × 0.2 / gross.
    const raw = expectedRaw()
    const gross = Math.abs(raw.DAX!) + Math.abs(raw.SMI!) + Math.abs(raw.CAC!)
    expect(gross).toBeGreaterThan(0.2)
    const price: Record<string, number> = { DAX: last(closes.DAX!), SMI: last(closes.SMI!), CAC: last(closes.CAC!), FTSE: last(closes.FTSE!) }
    const want = ['DAX', 'SMI', 'CAC', 'FTSE'].map((s) => {
      const w = s === 'FTSE' ? 0 : (raw[s]! * 0.2) / gross
      const q = (w * 100_000) / price[s]!
      const target = (Math.sign(q) * Math.floor(Math.abs(q) * 100 + 1e-9)) / 100
      return { symbol: s, w, target, current: s === 'DAX' ? 1 : s === 'FTSE' ? 2 : 0 }
    })
    expect(res.positions.map((p) => p.symbol)).toEqual(want.map((w) => w.symbol))
    res.positions.forEach((p, k) => {
      expect(p.weight).toBeCloseTo(want[k]!.w, 9)
      expect(p.targetQty).toBeCloseTo(want[k]!.target, 9)
      expect(p.currentQty).toBe(want[k]!.current)
      expect(p.orderQty).toBeCloseTo(want[k]!.target - want[k]!.current, 9)
      expect(p.bound).toEqual(p.symbol === 'FTSE' ? [] : ['maxGross'])
    })
    expect(res.gross).toBeCloseTo(0.2, 9)
    expect(res.bound).toEqual(['maxGross'])
    // The orders file: the orders of the table, ids mtflow-<hash8>-<n>.
    const orders = readOrdersFile(out)
    expect(orders.orders.map((o) => [o.symbol, o.side])).toEqual(want.map((w) => [w.symbol, w.target - w.current > 0 ? 'buy' : 'sell']))
    orders.orders.forEach((o, k) => expect(o.qty).toBeCloseTo(Math.abs(want[k]!.target - want[k]!.current), 9))
    expect(orders.orders.map((o) => o.clientOrderId)).toEqual(res.orders.map((o) => o.clientOrderId))
    expect(orders.orders[0]!.clientOrderId).toMatch(/^mtflow-[0-9a-f]{8}-1$/)
    expect(orders.signals).toBe(`sha256:${createHash('sha256').update(readFileSync(signals)).digest('hex')}`)
    // The production config: both targets at 1/2, pinned to the latest version; deploy --weights reads it.
    const entries = readWeightsFile(prod, registry)
    expect(entries.map((e) => [e.ref, e.symbols, e.weight])).toEqual([['pairs-z@2', ['DAX', 'SMI'], 0.5], ['pairs-z@2', ['CAC'], 0.5]])
    // The table.
    const table = await runCli(['--home', home, 'portfolio', 'targets', '--signals', signals, '--caps', caps, '--timeframe', '1d'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout.split('\n')[0]).toMatch(/^symbol +weight +target +current +order +price +notional +caps bound$/)
    expect(table.stdout).toContain('caps bound: maxGross')
  })

  it('a positions file that holds positions and no capital is refused (the default 10,000 would size the orders)', async () => {
    const signals = file('signals-cap.jsonl', `${signal('CAC', 'short', 0.3)}\n`)
    const caps = file('caps-nocap.json', JSON.stringify({ maxGross: 0.2 }))
    const held = file('held.csv', 'symbol,qty\nDAX,1\n')
    const r = await runCli(['--home', home, 'portfolio', 'targets', '--signals', signals, '--caps', caps, '--positions', held, '--timeframe', '1d', '--bars-per-year', '252', '--json'])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toEqual([`mtflow: --positions ${held} holds positions but no capital is given: add "capital" (the account's equity) to the --caps file; the targets and orders are sized on it`])
    // Flat (nothing held): the default capital, as the help says.
    const flat = file('flat.csv', 'symbol,qty\nDAX,0\n')
    const ok = await runCli(['--home', home, 'portfolio', 'targets', '--signals', signals, '--caps', caps, '--positions', flat, '--timeframe', '1d', '--bars-per-year', '252', '--json'])
    expect(ok.code).toBe(0)
    expect((JSON.parse(ok.stdout) as { capital: number }).capital).toBe(10_000)
  })

  it('--positions DEPLOYMENT: its positions, its drawdown from the run\'s equity peak (the brake), client ids from its journal\'s next sequence', async () => {
    // A stopped paper deployment as its folder holds it: status.json, deployment.id, a journal with 2 intents,
    // a tracked run whose equity went 10,000 → 12,000 → 9,000 (drawdown 25 %).
    const name = 'paper-pairs'
    const ddir = join(home, 'deployments', name)
    mkdirSync(ddir, { recursive: true })
    writeFileSync(join(ddir, 'deployment.id'), '0123456789abcdef\n')
    const journal = OrderJournal.open(ddir, `${name}#0123456789abcdef`, { durability: 'step' })
    journal.intent({ strategy: 's', symbol: 'DAX', side: 'buy', qty: 1, kind: 'market' }, 1, true)
    journal.intent({ strategy: 's', symbol: 'CAC', side: 'sell', qty: 2, kind: 'market' }, 2, true)
    journal.close()
    const run = new Tracker(home).startRun({ experiment: 'deployments', name })
    run.logMetric('equity', 10_000, 0).logMetric('equity', 12_000, 1).logMetric('equity', 9_000, 2)
    run.end()
    const status: DeploymentStatus = {
      name, state: 'stopped', pid: 1, mode: 'paper', exchange: 'binance', strategy: 's@1', symbols: ['DAX', 'CAC'], timeframe: '1d',
      startedAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-02T00:00:00.000Z', bars: 3, equity: 9_000, cash: 9_000,
      positions: [{ strategy: 's', symbol: 'DAX', qty: 1, avgPrice: 1, value: 1, unrealized: 0 }, { strategy: 's', symbol: 'CAC', qty: -2, avgPrice: 1, value: 1, unrealized: 0 }],
      openOrders: [], trades: [], tradeCount: 0, fills: 2, runId: run.id, journal: join(ddir, 'journal.jsonl'),
    }
    writeFileSync(join(ddir, 'status.json'), JSON.stringify(status))
    const signals = file('signals-dep.jsonl', `${signal('DAX~SMI', 'long spread', 0.8)}\n${signal('CAC', 'short', 0.3)}\n`)
    const caps = file('caps-dep.json', JSON.stringify({ maxDrawdown: 0.25, drawdownBrake: 0.5, lotSizes: { DAX: 0.001, SMI: 0.001, CAC: 0.001 } }))
    const out = join(dir, 'orders-dep.json')
    const r = await runCli(['--home', home, 'portfolio', 'targets', '--signals', signals, '--caps', caps, '--positions', name, '--timeframe', '1d', '--bars-per-year', '252', '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout) as { capital: number; drawdown: number; braked: boolean; positions: { symbol: string; weight: number; currentQty: number; targetQty: number }[] }
    expect([res.capital, res.drawdown, res.braked]).toEqual([9_000, 0.25, true])
    // Gross under 1 here: no cap but the brake; every weight halved.
    const raw = expectedRaw()
    expect(Math.abs(raw.DAX!) + Math.abs(raw.SMI!) + Math.abs(raw.CAC!)).toBeLessThan(1)
    for (const p of res.positions) expect(p.weight).toBeCloseTo(raw[p.symbol]! * 0.5, 9)
    expect(Object.fromEntries(res.positions.map((p) => [p.symbol, p.currentQty]))).toEqual({ DAX: 1, SMI: 0, CAC: -2 })
    const dax = res.positions.find((p) => p.symbol === 'DAX')!
    expect(dax.targetQty).toBeCloseTo(Math.floor(((raw.DAX! * 0.5 * 9_000) / last(closes.DAX!)) * 1000 + 1e-9) / 1000, 9)
    // Ids: the deployment's scheme ("mt" + 10 hex of sha256(id) + seq in base 36) from sequence 3.
    const orders = readOrdersFile(out, { deploymentId: `${name}#0123456789abcdef`, nextSeq: 3 })
    const prefix = `mt${createHash('sha256').update(`${name}#0123456789abcdef`).digest('hex').slice(0, 10)}`
    expect(orders.orders.map((o) => o.clientOrderId)).toEqual(orders.orders.map((_, k) => `${prefix}${(3 + k).toString(36)}`))
    expect([orders.deployment, orders.firstSeq]).toEqual([name, 3])
  })

  it('signals from a run, the latest per target; stale ones ignored with a warning (--max-age)', async () => {
    const old = new Date(pair.time[pair.time.length - 11]!).toISOString()
    const text = [signal('DAX~SMI', 'short spread', 0.9, old), signal('DAX~SMI', 'long spread', 0.8), signal('CAC', 'short', 0.3, old)].join('\n')
    const run = new Tracker(home).startRun({ experiment: 'signals', name: 'infer' })
    run.logArtifact({ name: 'signals.jsonl', data: `${text}\n` })
    run.end()
    const r = await runCli(['--home', home, 'portfolio', 'targets', '--signals', run.id, '--timeframe', '1d', '--bars-per-year', '252', '--max-age', '3', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout) as { signals: string; targets: { target: string; side: string }[]; positions: { symbol: string; weight: number }[] }
    expect(res.signals).toBe(`run:${run.id}`)
    expect(res.targets.map((t) => [t.target, t.side])).toEqual([['DAX~SMI', 'long spread']])
    expect(r.stderr).toBe(`mtflow: signal of CAC at ${old} is 10 bars old (--max-age 3): ignored\n`)
    // One target left, share 1/1: DAX at 0.1 × 0.6 / σ.
    const beta = plainBeta(pair.y, pair.x, 60)
    expect(res.positions.find((p) => p.symbol === 'DAX')!.weight).toBeCloseTo((0.1 * 0.6) / plainVol(pair.y, pair.x, beta, 60, 252), 9)
  })

  it('bad input: one line naming it, exit 2, nothing written', async () => {
    const signals = file('signals-bad.jsonl', `${signal('DAX~SMI', 'long spread', 0.8)}\n${signal('CAC', 'short', 0.3)}\n`)
    new Registry(home).register('strategies', 'pairs-z', { files: { 'source.ts': 'export const v = 1\n' } })
    const caps0 = file('caps-zero.json', JSON.stringify({ maxGross: 0 }))
    const tiny = file('caps-tiny.json', JSON.stringify({ maxWeightPerAsset: 0.001, minNotional: 50 }))
    const unknown = file('caps-unknown.json', JSON.stringify({ maxGros: 1 }))
    const negative = file('caps-negative.json', JSON.stringify({ maxNet: -0.5 }))
    const noTarget = file('weights-target.csv', 'target,weight\nDAX~SMI,0.5\nFTSE~SMI,0.5\n')
    const noStrategy = file('weights-strategy.csv', 'strategy,target,weight\npairs-z,DAX~SMI,0.5\nnosuch,CAC,0.5\n')
    const malformed = file('signals-malformed.jsonl', `${signal('CAC', 'short', 0.3)}\n{"time": "2020-01-01T00:00:00Z", \n`)
    const badField = file('signals-field.jsonl', `${signal('CAC', 'short', 0.3)}\n${signal('DAX', 'long', 0.8).replace('"probability":0.8', '"probability":2')}\n`)
    const wrongSide = file('signals-side.jsonl', `${signal('CAC', 'long spread', 0.8)}\n`)
    const cases: [string[], string | RegExp][] = [
      [['--signals', signals, '--caps', caps0], 'mtflow: caps: maxGross 0 leaves no position (2 signals ask for some); raise maxGross\n'],
      [['--signals', signals, '--caps', tiny], 'mtflow: caps: maxWeightPerAsset 0.001 × capital 10000 = 10 is below minNotional 50: no position could be traded\n'],
      [['--signals', signals, '--caps', unknown], `mtflow: caps file ${unknown}: unknown cap "maxGros" (caps: maxWeightPerAsset, maxGross, maxNet, maxDrawdown, drawdownBrake, capital, lotSizes, minNotional)\n`],
      [['--signals', signals, '--caps', negative], `mtflow: caps file ${negative}: maxNet must be a fraction of the capital ≥ 0 (received -0.5)\n`],
      [['--signals', signals, '--weights', noTarget], `mtflow: weights file ${noTarget} line 3: target "FTSE~SMI" has no signal in ${signals}\n`],
      [['--signals', signals, '--weights', noStrategy], `mtflow: weights file ${noStrategy} line 3: unknown strategy "nosuch": no strategy named "nosuch" in the registry\n`],
      [['--signals', malformed], new RegExp(`^mtflow: ${malformed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: not a JSON object \\(.*\\); expected one signal per line\\n$`)],
      [['--signals', badField], `mtflow: ${badField}:2: probability must be a number in [0, 1] (received 2)\n`],
      [['--signals', wrongSide], `mtflow: ${wrongSide}:1: side "long spread" is for a pair "Y~X"; target CAC is a symbol\n`],
      [['--signals', 'no-such-run'], 'mtflow: --signals no-such-run: no such file and no such run; expected a signals file (mtflow infer --out) or a run with a signals.jsonl artifact\n'],
    ]
    // One process for the refusals (they are main's, not the process's): a process each took ~0.7 s.
    const outs = cases.map((_, i) => [join(dir, `never-${i}.json`), join(dir, `never-prod-${i}.json`)] as const)
    const results = await runCliBatch(cases.map(([args], i) => ['--home', home, 'portfolio', 'targets', '--timeframe', '1d', '--out', outs[i]![0], '--prod-config', outs[i]![1], '--strategy', 'pairs-z', ...args]))
    for (const [i, [args, expected]] of cases.entries()) {
      const r = results[i]!
      expect(existsSync(outs[i]![0]), args.join(' ')).toBe(false)
      expect(existsSync(outs[i]![1]), args.join(' ')).toBe(false)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.split('\n').length, args.join(' ')).toBe(2)
      if (typeof expected === 'string') expect(r.stderr).toBe(expected)
      else expect(r.stderr).toMatch(expected)
    }
  })
})

describe('mtflow portfolio weights', () => {
  it('winners, equal and inverse-vol from a results CSV and from a backtest-batch run; written as a weights CSV that targets reads', async () => {
    const results = file('results.csv', 'name,sharpe,volatility\nDAX~SMI,1.2,0.1\nCAC,-0.3,0.2\nFTSE,0.4,0.4\n')
    const get = async (from: string, scheme: string) => {
      const r = await runCli(['--home', home, 'portfolio', 'weights', '--from', from, '--scheme', scheme, '--json'])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as Record<string, number>
    }
    expect(await get(results, 'winners')).toEqual({ 'DAX~SMI': 0.5, CAC: 0, FTSE: 0.5 })
    const equal = await get(results, 'equal')
    for (const v of Object.values(equal)) expect(v).toBeCloseTo(1 / 3, 12)
    // 1/σ: 10, 5, 2.5 of 17.5.
    const inv = await get(results, 'inverse-vol')
    expect([inv['DAX~SMI'], inv.CAC, inv.FTSE].map((v) => Number(v!.toFixed(12)))).toEqual([0.571428571429, 0.285714285714, 0.142857142857])
    // Long-form returns: σ as the sample sd of each name's returns (0.01, 0.03 → sd √0.0002; 0.02, 0.02, 0.05 → √0.0003).
    const long = file('returns.csv', 'target,returns\nDAX~SMI,0.01\nDAX~SMI,0.03\nCAC,0.02\nCAC,0.02\nCAC,0.05\n')
    const lw = await get(long, 'inverse-vol')
    const a = 1 / Math.sqrt(0.0002)
    const b = 1 / Math.sqrt(0.0003)
    expect(lw['DAX~SMI']).toBeCloseTo(a / (a + b), 9)
    // A backtest-batch run's summary table.
    const batch = await runStep({
      home,
      step: 'backtest-batch',
      name: 'batch',
      inputs: [],
      params: { signalsFrom: 'm.*@1' },
      compute: () => ({ summary: { target: ['DAX~SMI', 'CAC'], model: ['m.dax-smi@1', 'm.cac@1'], trades: Float64Array.of(10, 12), totalReturn: Float64Array.of(0.1, -0.05), cagr: Float64Array.of(0.02, -0.01), sharpe: Float64Array.of(0.8, -0.2), maxDrawdown: Float64Array.of(0.1, 0.2), winRate: Float64Array.of(0.6, 0.4), exposure: Float64Array.of(0.5, 0.5) } }),
    })
    expect(await get(batch.runId, 'winners')).toEqual({ 'DAX~SMI': 1, CAC: 0 })
    const notBatch = await runCli(['--home', home, 'portfolio', 'weights', '--from', 'nosuchrun', '--scheme', 'equal'])
    expect([notBatch.code, notBatch.stderr]).toEqual([2, 'mtflow: --from nosuchrun: no such run; expected the run id of a backtest-batch step\n'])
    // Written, then read by targets: CAC has weight 0 and stays flat; DAX~SMI has the whole share.
    const out = join(dir, 'weights.csv')
    const w = await runCli(['--home', home, 'portfolio', 'weights', '--from', batch.runId, '--scheme', 'winners', '--out', out])
    expect(w.code, w.stderr).toBe(0)
    expect(readFileSync(out, 'utf8')).toBe('target,weight\nDAX~SMI,1\nCAC,0\n')
    const signals = file('signals-w.jsonl', `${signal('DAX~SMI', 'long spread', 0.8)}\n${signal('CAC', 'short', 0.3)}\n`)
    const t = await runCli(['--home', home, 'portfolio', 'targets', '--signals', signals, '--weights', out, '--timeframe', '1d', '--bars-per-year', '252', '--json'])
    expect(t.code, t.stderr).toBe(0)
    const res = JSON.parse(t.stdout) as { positions: { symbol: string; weight: number }[] }
    const beta = plainBeta(pair.y, pair.x, 60)
    expect(res.positions.find((p) => p.symbol === 'DAX')!.weight).toBeCloseTo((0.1 * 0.6) / plainVol(pair.y, pair.x, beta, 60, 252), 9)
    expect(res.positions.find((p) => p.symbol === 'CAC')!.weight).toBe(0)
    // The same through --weights-from directly.
    const t2 = await runCli(['--home', home, 'portfolio', 'targets', '--signals', signals, '--weights-from', batch.runId, '--scheme', 'winners', '--timeframe', '1d', '--bars-per-year', '252', '--json'])
    expect(t2.code, t2.stderr).toBe(0)
    expect((JSON.parse(t2.stdout) as { positions: unknown[] }).positions).toEqual(res.positions)
  })
})

describe('from the pipeline', () => {
  it('infer → targets: the timeframe and the hedge window come from the model\'s features run; --help on both verbs', async () => {
    const screen = JSON.parse((await runCli(['--home', home, 'pairs', 'screen', '--symbols', 'DAX,SMI', '--timeframe', '1d', '--max-pvalue', '1', '--min-corr', '0', '--save', '--json'])).stdout) as { runId: string }
    const feats = JSON.parse((await runCli(['--home', home, 'features', 'build', '--pairs', screen.runId, '--window', '40', '--windows', '10', '--json'])).stdout) as { runId: string; manifest: { tables: { name: string }[] } }
    const ds = JSON.parse((await runCli(['--home', home, 'dataset', 'build', '--features', feats.runId, '--label', 'revertDirection', '--horizon', '5', '--json'])).stdout) as { runId: string }
    const train = JSON.parse((await runCli(['--home', home, 'train', '--dataset', ds.runId, '--model', 'tree', '--hyper', 'maxDepth=2', '--json'])).stdout) as { runId: string }
    const reg = JSON.parse((await runCli(['--home', home, 'registry', 'register-models', '--from', train.runId, '--prefix', 'pf', '--json'])).stdout) as { name: string }[]
    const signals = join(dir, 'inferred.jsonl')
    const inf = await runCli(['--home', home, 'infer', `${reg[0]!.name}@1`, '--last', '2', '--out', signals])
    expect(inf.code, inf.stderr).toBe(0)
    const latest = readFileSync(signals, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { target: string; probability: number; side: string; confidence: number }).pop()!
    const r = await runCli(['--home', home, 'portfolio', 'targets', '--signals', signals, '--bars-per-year', '252', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout) as { timeframe: string; targets: { target: string; beta: number; direction: number }[]; positions: { symbol: string; weight: number }[] }
    expect(res.timeframe).toBe('1d')
    const [ySym, xSym] = latest.target.split('~') as [string, string]
    const { closes: c } = alignCloses({ [ySym]: await loadBars(home, { symbol: ySym, timeframe: '1d' }), [xSym]: await loadBars(home, { symbol: xSym, timeframe: '1d' }) })
    const beta = plainBeta(c[ySym]!, c[xSym]!, 40)
    expect(res.targets[0]!.beta).toBeCloseTo(beta, 9)
    const d = latest.probability < 0.5 ? 0 : latest.side === 'long spread' ? 1 : -1
    expect(res.targets[0]!.direction).toBe(d)
    const w = d === 0 ? 0 : (d * 0.1 * latest.confidence) / plainVol(c[ySym]!, c[xSym]!, beta, 60, 252)
    expect(res.positions.find((p) => p.symbol === ySym)!.weight).toBeCloseTo(Math.max(-1, Math.min(1, w)), 9)
    for (const verb of ['targets', 'weights']) {
      const help = await runCli(['portfolio', verb, '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toContain('--json')
    }
  })
})
