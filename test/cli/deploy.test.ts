// `mtflow deploy` as processes on a temp workspace: a paper replay whose trades and equity are the
// backtest's (numbers from `mtflow backtest --json`, not from the deployment code), list/status, the
// registry's deployments, a detached paced replay paused, resumed and stopped, a second start refused, a
// weights file as two deployments stopped one at a time, every bad input (exit 2, one line, nothing
// registered or started, and for live ones nothing asked of the Binance stand-in), and a live deployment
// against the stand-in through the real ccxt whose secret appears nowhere the test can read.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join, sep } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pidAlive } from '../../lib/core/index.js'
import { startServer, workspaceToken } from '../../lib/server/index.js'
import { loadBars } from '../../lib/data/index.js'
import { ROOT, runCli, runCliBatch, waitFor, type CliResult } from '../helpers.js'
import { standinCandle, startBinanceStandin, type Standin } from '../fixtures/binance-standin.js'

let home: string
const cli = (args: string[], env?: NodeJS.ProcessEnv) => runCli(['--home', home, ...args], env === undefined ? {} : { env })
const json = (r: CliResult) => {
  expect(r.code, r.stderr).toBe(0)
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON: ${r.stdout.slice(0, 300)}`)
  }
}
const started: number[] = []

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-deploy-'))
  json(await cli(['data', 'samples', '--json']))
  for (const s of ['sma-cross', 'rsi-reversion']) json(await cli(['strategy', 'register', s, '--no-parity', '--json']))
}, 90_000)

afterAll(() => {
  // A detached deployment a failed test left running.
  for (const pid of started) if (pidAlive(pid)) process.kill(pid, 'SIGKILL')
})

const PAPER = ['--timeframe', '1d', '--paper', '--exchange', 'binance']

/** A strategy file that buys once (sized by the deployment) on its first bar and holds. */
async function registerBuyOnce(): Promise<void> {
  const file = join(home, 'buy-once.ts')
  if (existsSync(file)) return
  writeFileSync(
    file,
    `import { defineStrategy } from '${join(ROOT, 'lib/strategy/index.js')}'
export default defineStrategy({
  name: 'buy-once',
  params: {},
  universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
  warmup: () => 1,
  onBar(ctx, bar) { if (ctx.position(bar.symbol) === 0 && ctx.openOrders().length === 0) ctx.buy(bar.symbol) },
})
`,
  )
  json(await cli(['strategy', 'register', file, '--no-parity', '--json']))
}
const registered = (kind: string) => (existsSync(join(home, 'registry', kind)) ? readdirSync(join(home, 'registry', kind)) : [])

describe('mtflow deploy (paper)', () => {
  it('a paper replay finishes with exactly the backtest\'s trades and equity; status, list and the registry show it', async () => {
    const range = ['--start', '2010-01-01', '--end', '2012-12-31', '--param', 'fast=10', '--param', 'slow=30', '--commission', '0.0005']
    const bt = json(await cli(['backtest', '--strategy', 'sma-cross', '--symbol', 'SPX', ...range, '--no-track', '--json']))
    const out = json(await cli(['deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, ...range, '--name', 'spx-paper', '--json']))
    expect(out).toMatchObject({ name: 'spx-paper', version: 1, created: true, status: { state: 'finished', mode: 'paper', strategy: 'sma-cross@1' } })

    const status = json(await cli(['deploy', 'status', 'spx-paper', '--json']))
    expect(status.state).toBe('finished')
    // Its folder (journal, status, alerts: the account's trading record) is its user's alone.
    expect(statSync(join(home, 'deployments', 'spx-paper')).mode & 0o777).toBe(0o700)
    expect(status.bars).toBe(bt.equity.points)
    expect(status.equity).toBe(bt.equity.end)
    const pick = (t: Record<string, unknown>) => ({ symbol: t.symbol, direction: t.direction, entryTime: t.entryTime, entryPrice: t.entryPrice, qty: t.qty, pnl: t.pnl, open: t.open, ...(t.open === true ? {} : { exitTime: t.exitTime, exitPrice: t.exitPrice }) })
    expect(bt.trades.length).toBeGreaterThan(5)
    expect(status.trades.map(pick)).toEqual(bt.trades.map(pick))
    expect(status.tradeCount).toBe(bt.trades.length)
    // The open trade at the end is the position held.
    const open = bt.trades.filter((t: { open: boolean }) => t.open)
    expect(status.positions.map((p: { symbol: string; qty: number }) => [p.symbol, p.qty])).toEqual(open.map((t: { symbol: string; qty: number }) => [t.symbol, t.qty]))

    const text = await cli(['deploy', 'status', 'spx-paper'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^state\s+finished \(the feed ended\)$/m)
    expect(text.stdout).toMatch(new RegExp(`^equity\\s+${bt.equity.end.toFixed(2)}$`, 'm'))

    const list = json(await cli(['deploy', 'list', '--json']))
    expect(list.map((s: { name: string; state: string }) => [s.name, s.state])).toContainEqual(['spx-paper', 'finished'])
    const listed = await cli(['deploy', 'list'])
    expect(listed.stdout).toMatch(/^spx-paper\s+finished\s+paper\s+sma-cross@1\s+SPX\s+1d/m)

    // The registry: one version; the same config again is the same version, other params a new one.
    const reg = json(await cli(['registry', 'deployments', '--json']))
    expect(reg.map((e: { name: string; versions: unknown[] }) => [e.name, e.versions.length])).toContainEqual(['spx-paper', 1])
    const config = JSON.parse(readFileSync(join(home, 'registry', 'deployments', 'spx-paper', 'v1', 'deployment.json'), 'utf8'))
    expect(config).toMatchObject({ name: 'spx-paper', mode: 'paper', symbols: ['SPX'], timeframe: '1d', params: { fast: 10, slow: 30, short: 0 }, fills: { takerRate: 0.0005 }, feed: { kind: 'replay', start: '2010-01-01', end: '2012-12-31' } })
    expect(config.strategy).toMatchObject({ name: 'sma-cross', version: 1 })
    const again = json(await cli(['deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, ...range, '--name', 'spx-paper', '--json']))
    expect(again).toMatchObject({ version: 1, created: false })
    const other = json(await cli(['deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, ...range, '--param', 'fast=12', '--name', 'spx-paper', '--no-track', '--json']))
    expect(other).toMatchObject({ version: 2, created: true })
    const versions = await cli(['registry', 'deployments', 'spx-paper'])
    expect(versions.stdout.trim().split('\n')).toHaveLength(3)

    // The server: a Deployments card on the home page, and a version's config linked to its pinned strategy version.
    const server = await startServer({ home, token: workspaceToken(home), port: 0 })
    try {
      const get = async (path: string) => (await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${workspaceToken(home)}` } })).text()
      expect(await get('/')).toMatch(/<div class="big">1<\/div><a href="\/registry\/deployments">deployments<\/a>/)
      expect(await get('/registry/deployments/spx-paper')).toContain('href="/registry/deployments/spx-paper/v/2"')
      const page = await get('/registry/deployments/spx-paper/v/1')
      expect(page).toContain('<a href="/registry/strategies/sma-cross/v/1">sma-cross@1</a>')
      expect(page).toContain('"takerRate": 0.0005')
    } finally {
      await server.close()
    }
  })

  it('--detach runs a paced replay in the background: pause, resume and stop it; a second start of the name is refused', async () => {
    const args = ['deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, '--start', '2015-01-01', '--end', '2016-12-31', '--pace-ms', '100', '--name', 'paced']
    const d = json(await cli([...args, '--detach', '--json']))
    started.push(d.pid)
    expect(d).toEqual({ name: 'paced', pid: expect.any(Number), state: 'running', log: join(home, 'deployments', 'paced', 'deploy.log') })
    expect(pidAlive(d.pid)).toBe(true)
    expect(JSON.parse(readFileSync(join(home, 'deployments', 'paced', 'run.pid'), 'utf8')).pid).toBe(d.pid)

    const again = await cli(args)
    expect(again.code).toBe(2)
    expect(again.stderr).toBe(`mtflow: deployment paced is already running (pid ${d.pid}, running); stop it first (mtflow deploy stop paced) or give another --name\n`)
    const detachedAgain = await cli([...args, '--detach'])
    expect(detachedAgain.code).toBe(2)
    expect(detachedAgain.stderr).toMatch(/^mtflow: deployment paced is already running/)

    const paused = await cli(['deploy', 'pause', 'paced'])
    expect(paused.stdout).toBe('deployment paced paused (paused by request: no new orders; working orders and brackets stay)\n')
    expect(json(await cli(['deploy', 'status', 'paced', '--json'])).state).toBe('paused')
    const resumed = json(await cli(['deploy', 'resume', 'paced', '--json']))
    expect(resumed.state).toBe('running')
    const stopped = await cli(['deploy', 'stop', 'paced'])
    expect(stopped.stdout).toBe('deployment paced stopped (stopped by request; working orders and brackets left in place)\n')
    expect(await waitFor(() => !pidAlive(d.pid), 10_000)).toBe(true)
    const status = json(await cli(['deploy', 'status', 'paced', '--json']))
    expect(status.state).toBe('stopped')
    // Stopped before the end: fewer bars than the range holds (2015–2016: 504 trading days).
    expect(status.bars).toBeGreaterThan(0)
    expect(status.bars).toBeLessThan(504)
    expect(existsSync(join(home, 'deployments', 'paced', 'run.pid'))).toBe(false)
    const log = readFileSync(join(home, 'deployments', 'paced', 'deploy.log'), 'utf8')
    expect(log).toMatch(/paused by request/)
    expect(log).toMatch(/: resumed$/m)
    expect(log).toMatch(/^deployment paced stopped/m)

    const notRunning = await cli(['deploy', 'stop', 'paced'])
    expect(notRunning.code).toBe(2)
    expect(notRunning.stderr).toBe('mtflow: deployment paced is not running (state stopped: stopped by request; working orders and brackets left in place)\n')
  })

  it('--weights starts one detached deployment per row; stopping one leaves the other running', async () => {
    const file = join(home, 'weights.csv')
    writeFileSync(file, 'strategy,symbols,weight\nsma-cross@1,SPX,0.5\nrsi-reversion,SPX,0.4\n')
    const out = json(await cli(['deploy', '--weights', file, ...PAPER, '--start', '2015-01-01', '--end', '2016-12-31', '--pace-ms', '100', '--no-track', '--json']))
    for (const d of out) started.push(d.pid)
    expect(out.map((d: { name: string; state: string }) => [d.name, d.state])).toEqual([
      ['sma-cross.SPX', 'running'],
      ['rsi-reversion.SPX', 'running'],
    ])
    expect(out[0].pid).not.toBe(out[1].pid)
    const weight = (name: string) => JSON.parse(readFileSync(join(home, 'registry', 'deployments', name, 'v1', 'deployment.json'), 'utf8')).weight
    expect([weight('sma-cross.SPX'), weight('rsi-reversion.SPX')]).toEqual([0.5, 0.4])

    json(await cli(['deploy', 'stop', 'sma-cross.SPX', '--json']))
    expect(await waitFor(() => !pidAlive(out[0].pid), 10_000)).toBe(true)
    expect(pidAlive(out[1].pid)).toBe(true)
    const states = Object.fromEntries(json(await cli(['deploy', 'list', '--json'])).map((s: { name: string; state: string }) => [s.name, s.state]))
    expect(states['sma-cross.SPX']).toBe('stopped')
    expect(states['rsi-reversion.SPX']).toBe('running')
    json(await cli(['deploy', 'stop', 'rsi-reversion.SPX', '--json']))
    expect(await waitFor(() => !pidAlive(out[1].pid), 10_000)).toBe(true)
  })

  it('stop --flatten is the kill switch: positions closed, orders cancelled; a detached child that fails says why', async () => {
    await registerBuyOnce()
    const d = json(await cli(['deploy', 'buy-once@1', '--symbols', 'SPX', ...PAPER, '--start', '2015-01-01', '--end', '2016-12-31', '--pace-ms', '100', '--size-qty', '10', '--name', 'flat', '--no-track', '--detach', '--json']))
    started.push(d.pid)
    const held = () => JSON.parse(readFileSync(join(home, 'deployments', 'flat', 'status.json'), 'utf8')).positions.length > 0
    expect(await waitFor(held, 20_000)).toBe(true)
    const s = json(await cli(['deploy', 'stop', 'flat', '--flatten', '--json']))
    expect(s.state).toBe('stopped')
    expect(s.reason).toBe('stopped by request; positions closed and orders cancelled (kill switch)')
    expect(s.openOrders).toEqual([])
    expect(s.positions).toEqual([])
    expect(s.fills).toBe(2)
    expect(await waitFor(() => !pidAlive(d.pid), 10_000)).toBe(true)
    // The journal: one buy of 10 and one sell of 10 (the kill switch's order).
    const events = readFileSync(join(home, 'deployments', 'flat', 'journal.jsonl'), 'utf8').split('\n').filter((l) => l.startsWith('{"type":"intent"')).map((l) => JSON.parse(l))
    expect(events.map((e: { side: string; qty: number }) => [e.side, e.qty])).toEqual([['buy', 10], ['sell', 10]])
    // Started again (an operations review: refused, with the re-run's own book written as its status): the
    // journal records the flatten, which a re-run does not repeat, so its fills and open orders are taken over.
    expect(readFileSync(join(home, 'deployments', 'flat', 'journal.jsonl'), 'utf8')).toMatch(/\{"type":"control","command":"flatten","time":\d+\}/)
    const again = await cli(['deploy', 'buy-once@1', '--symbols', 'SPX', ...PAPER, '--start', '2015-01-01', '--end', '2016-12-31', '--size-qty', '10', '--name', 'flat', '--no-track', '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(readFileSync(join(home, 'deployments', 'flat', 'alerts.jsonl'), 'utf8')).toContain('the journal records a pause, resume or flatten, which a re-run does not repeat: its fills and open orders are taken over')
    // Its fills counted as the journal holds them, the two before this start included (an operations review: 0 after a restart).
    const fillsJournaled = readFileSync(join(home, 'deployments', 'flat', 'journal.jsonl'), 'utf8').split('\n').filter((l) => l.startsWith('{"type":"fill"')).length
    expect(fillsJournaled).toBeGreaterThanOrEqual(2)
    expect(JSON.parse(readFileSync(join(home, 'deployments', 'flat', 'status.json'), 'utf8')).fills).toBe(fillsJournaled)

    // Checks the parent cannot make (the lake's bars) fail in the child: its line, exit 2.
    const r = await cli(['deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, '--start', '1990-01-01', '--end', '1990-12-31', '--name', 'empty', '--detach'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('mtflow: deployment empty: no bars for SPX 1d in the lake between 1990-01-01 and 1990-12-31\n')
  })

  it('the control folder: a request file left unreadable is skipped after 5 s with an alert; a flatten is not undone by a stop after it; SIGTERM stops past a wedged folder', async () => {
    await registerBuyOnce()
    const { requestControl } = await import('../../lib/live/deployment.js')
    const start = async (name: string) => {
      const d = json(await cli(['deploy', 'buy-once@1', '--symbols', 'SPX', ...PAPER, '--start', '2015-01-01', '--end', '2016-12-31', '--pace-ms', '100', '--size-qty', '10', '--name', name, '--no-track', '--detach', '--json']))
      started.push(d.pid)
      const status = () => JSON.parse(readFileSync(join(home, 'deployments', name, 'status.json'), 'utf8'))
      expect(await waitFor(() => status().positions.length > 0, 20_000)).toBe(true)
      return { pid: d.pid as number, status, control: join(home, 'deployments', name, 'control') }
    }
    // An empty request file, as a `deploy stop` killed while writing in place left one (an attack review: every
    // request after it, SIGTERM's own included, waited for it forever).
    const a = await start('wedge')
    mkdirSync(a.control, { recursive: true })
    const next = String(Math.max(0, ...readdirSync(a.control).filter((f) => /^\d{12}\.json$/.test(f)).map((f) => Number(f.slice(0, 12)))) + 1).padStart(12, '0')
    writeFileSync(join(a.control, `${next}.json`), '')
    requestControl(home, 'wedge', 'pause')
    expect(await waitFor(() => a.status().state === 'paused', 15_000)).toBe(true)
    expect(readFileSync(join(home, 'deployments', 'wedge', 'alerts.jsonl'), 'utf8')).toContain(`control request ${next}.json could not be read for 5 s: skipped (the requests after it are taken)`)
    // Requests land whole: no temp file left beside them.
    expect(readdirSync(a.control).filter((f) => !/^\d{12}\.json$/.test(f))).toEqual([])
    requestControl(home, 'wedge', 'stop')
    expect(await waitFor(() => !pidAlive(a.pid), 15_000)).toBe(true)

    // Flatten, then a plain stop in the same second: the positions are closed all the same.
    const b = await start('flatten-then-stop')
    requestControl(home, 'flatten-then-stop', 'flatten')
    requestControl(home, 'flatten-then-stop', 'stop')
    expect(await waitFor(() => !pidAlive(b.pid), 15_000)).toBe(true)
    expect(b.status()).toMatchObject({ state: 'stopped', reason: 'stopped by request; positions closed and orders cancelled (kill switch)', positions: [] })

    // A foreground deployment behind a wedged folder still stops at once on SIGTERM.
    let pid = 0
    const running = runCli(['--home', home, 'deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, '--start', '2015-01-01', '--end', '2016-12-31', '--pace-ms', '100', '--name', 'fg-wedged', '--no-track'], { onSpawn: (p) => (pid = p) })
    const file = join(home, 'deployments', 'fg-wedged', 'status.json')
    expect(await waitFor(() => existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).state === 'running', 20_000)).toBe(true)
    mkdirSync(join(home, 'deployments', 'fg-wedged', 'control'), { recursive: true })
    writeFileSync(join(home, 'deployments', 'fg-wedged', 'control', '000000000001.json'), '')
    const t0 = Date.now()
    process.kill(pid, 'SIGTERM')
    const r = await running
    expect(r.code, r.stderr).toBe(0)
    expect(Date.now() - t0).toBeLessThan(4000) // not after the 5 s the folder's unreadable file is waited for
    expect(r.stdout).toMatch(/^deployment fg-wedged stopped \(stopped by request; working orders and brackets left in place\)/)
  })

  it('bad input: one line naming it, exit 2, nothing registered and nothing started', async () => {
    const before = registered('deployments')
    const sum = join(home, 'over.csv')
    writeFileSync(sum, 'strategy,symbols,weight\nsma-cross@1,SPX,0.7\nrsi-reversion@1,SPX,0.6\n')
    const unknown = join(home, 'unknown.csv')
    writeFileSync(unknown, 'strategy,symbols,weight\nsma-cross@1,SPX,0.5\nnope@1,SPX,0.2\n')
    const params = join(home, 'params.json')
    writeFileSync(params, JSON.stringify([{ strategy: 'rsi-reversion@1', symbols: ['SPX'], weight: 0.3 }, { strategy: 'sma-cross@1', symbols: ['SPX'], weight: 0.3, params: { fast: 0 } }]))
    const base = ['deploy', 'sma-cross@1', '--symbols', 'SPX', '--name', 'bad']
    const cases: [string[], string][] = [
      [['deploy', 'sma-cross@9', '--symbols', 'SPX', ...PAPER, '--name', 'bad'], 'strategy sma-cross has no version 9 (versions: 1)'],
      [['deploy', 'nope', '--symbols', 'SPX', ...PAPER, '--name', 'bad'], 'no strategy named "nope" in the registry'],
      [[...base, '--timeframe', '1d', '--paper', '--live', '--exchange', 'binance'], 'give one of --paper and --live, not both'],
      [[...base, '--timeframe', '1d', '--exchange', 'binance'], 'give --paper (simulated exchange) or --live (orders sent to the exchange)'],
      [[...base, '--timeframe', '1d', '--live', '--feed', 'replay', '--exchange', 'binance'], '--feed replay is for --paper deployments; --live trades on live bars: --feed poll or ws'],
      [[...base, ...PAPER, '--cash', '-5'], '--cash must be an amount > 0 (received "-5")'],
      [[...base, ...PAPER, '--weight', '1.5'], '--weight must be a share of the capital in (0, 1] (received "1.5")'],
      [[...base, ...PAPER, '--pace-ms', 'fast'], '--pace-ms must be milliseconds ≥ 0 (received "fast")'],
      [[...base, ...PAPER, '--max-orders-per-minute', '2.5'], '--max-orders-per-minute must be an integer ≥ 1 (received "2.5")'],
      [[...base, ...PAPER, '--param', 'fast=0'], 'strategy sma-cross parameter fast must be an integer in [2, 500] (received 0)'],
      [[...base, '--timeframe', '1d', '--paper', '--exchange', 'kraken2000'], 'unknown exchange "kraken2000"; expected a ccxt exchange id such as binance, kraken, coinbase, bybit, okx'],
      [[...base, '--timeframe', '7x', '--paper', '--exchange', 'binance'], '--timeframe must be a number and a unit m, h, d or w, e.g. 1m, 1h, 1d (received "7x")'],
      [[...base, ...PAPER, '--credentials', join(home, 'creds.json')], '--credentials is for --live deployments; a paper deployment reads no credentials'],
      [['deploy', '--weights', sum, ...PAPER], `weights file ${sum} line 3: the weights sum to 1.3 by this row; they are shares of the capital and must sum to at most 1`],
      [['deploy', '--weights', unknown, ...PAPER], `weights file ${unknown} line 3: unknown strategy "nope@1": no strategy named "nope" in the registry`],
      [['deploy', '--weights', params, ...PAPER], `weights file ${params} entry 2: strategy sma-cross parameter fast must be an integer in [2, 500] (received 0)`],
    ]
    // One process for all of them (the refusals are main's, not the process's): a process each took ~0.5 s.
    const results = await runCliBatch(cases.map(([args]) => ['--home', home, ...args]))
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2)
      expect(r.stderr, args.join(' ')).toBe(`mtflow: ${message}\n`)
      expect(r.stdout).toBe('')
    }
    expect(registered('deployments')).toEqual(before)
    expect(existsSync(join(home, 'deployments', 'bad'))).toBe(false)
    // The valid first rows of the bad weights files were not started either.
    expect(json(await cli(['deploy', 'list', '--json'])).filter((s: { state: string }) => s.state === 'running')).toEqual([])
  })

  it('every verb has --help', async () => {
    const verbs = [[], ['list'], ['status'], ['stop'], ['pause'], ['resume']]
    const results = await runCliBatch(verbs.map((verb) => ['--home', home, 'deploy', ...verb, '--help']))
    for (const [i, verb] of verbs.entries()) {
      const r = results[i]!
      expect(r.code, verb.join(' ')).toBe(0)
      expect(r.stdout).toMatch(/--json/)
    }
  })
})

const T0 = Date.UTC(2024, 0, 10, 5, 30, 15)
const API_KEY = 'live-key-Zq81fVb2'
const SECRET = 'live-secret-Hx93kPw7Ru'

describe('mtflow deploy --live against the Binance stand-in', () => {
  let standin: Standin
  beforeAll(async () => {
    standin = await startBinanceStandin({ now: Date.now() })
  })
  afterAll(async () => {
    await standin.close()
  })

  it('refuses bad live input before anything reaches the exchange', async () => {
    const creds = join(mkdtempSync(join(tmpdir(), 'mtflow-deploy-creds-')), 'open-creds.json')
    writeFileSync(creds, JSON.stringify({ apiKey: API_KEY, secret: SECRET }))
    chmodSync(creds, 0o644)
    const live = (exchange: string) => ['deploy', 'sma-cross@1', '--symbols', 'BTC/USDT', '--timeframe', '1m', '--live', '--exchange', exchange, '--api-url', standin.url, '--name', 'bad-live']
    const noEnv = { MTFLOW_BINANCE_API_KEY: undefined, MTFLOW_BINANCE_SECRET: undefined }
    const cases: [string[], NodeJS.ProcessEnv, string][] = [
      [live('binance'), noEnv, 'live trading on binance needs credentials: set MTFLOW_BINANCE_API_KEY and MTFLOW_BINANCE_SECRET, or give --credentials FILE (JSON { apiKey, secret }, mode 0600)'],
      [live('binance'), { MTFLOW_BINANCE_API_KEY: API_KEY, MTFLOW_BINANCE_SECRET: undefined }, 'MTFLOW_BINANCE_SECRET is not set (MTFLOW_BINANCE_API_KEY is); set MTFLOW_BINANCE_API_KEY and MTFLOW_BINANCE_SECRET, or give --credentials FILE (JSON { apiKey, secret }, mode 0600)'],
      [[...live('binance'), '--credentials', creds], noEnv, `credentials file ${creds} has mode 0644; expected 0600 (readable by its owner only): chmod 600 ${creds}`],
      [live('upbit'), { MTFLOW_UPBIT_API_KEY: API_KEY, MTFLOW_UPBIT_SECRET: SECRET }, 'upbit cannot be traded live through ccxt: it lacks fetchMyTrades (list its trades (fills are read from them)); createStopOrder (stop orders)'],
      [[...live('binance'), '--feed', 'replay'], { MTFLOW_BINANCE_API_KEY: API_KEY, MTFLOW_BINANCE_SECRET: SECRET }, '--feed replay is for --paper deployments; --live trades on live bars: --feed poll or ws'],
    ]
    const results = await runCliBatch(cases.map(([args, env]) => ({ args: ['--home', home, ...args], env })))
    for (const [i, [, , message]] of cases.entries()) {
      const r = results[i]!
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toBe(`mtflow: ${message}\n`)
      expect(r.stdout + r.stderr).not.toContain(SECRET)
    }
    expect(standin.requests).toEqual([])
    expect(standin.signed).toEqual([])
    expect(registered('deployments')).not.toContain('bad-live')
  })

  for (const source of ['env', 'file'] as const) {
    it(`a live deployment on a poll feed (credentials from the ${source === 'env' ? 'environment' : 'file'}) places its order on the exchange; its secret appears in nothing the test can read`, async () => {
      await registerBuyOnce()
      // Each run starts the stand-in's clock at T0 again: a market of its own, so the lake holds nothing past T0 for it.
      const [symbol, market, name] = source === 'env' ? ['BTC/USDT', 'BTCUSDT', 'live-btc'] : ['ETH/USDT', 'ETHUSDT', 'live-eth']
      const credsDir = mkdtempSync(join(tmpdir(), 'mtflow-deploy-creds-'))
      const credsFile = join(credsDir, 'binance.json')
      writeFileSync(credsFile, JSON.stringify({ apiKey: API_KEY, secret: SECRET }), { mode: 0o600 })
      const args = ['--home', home, 'deploy', 'buy-once@1', '--symbols', symbol, '--timeframe', '1m', '--live', '--exchange', 'binance', '--api-url', '{URL}', '--cash', '1000', '--size-qty', '0.01', '--name', name]
      const env = { MTFLOW_BINANCE_API_KEY: undefined, MTFLOW_BINANCE_SECRET: undefined, ...(source === 'env' ? { MTFLOW_BINANCE_API_KEY: API_KEY, MTFLOW_BINANCE_SECRET: SECRET } : {}) }
      const r = await runLive(source === 'env' ? args : [...args, '--credentials', credsFile], env)
      expect(r.code, r.stderr).toBe(0)
      const seen = r.standin
      // One order went out, signed with the key, under the deployment's client id; it filled once.
      const posts = seen.signed.filter((q) => q.method === 'POST' && q.path === '/api/v3/order')
      expect(posts).toHaveLength(1)
      expect(posts[0]).toMatchObject({ apiKey: API_KEY, signed: true, params: { symbol: market, side: 'BUY', type: 'MARKET', quantity: '0.01' } })
      expect(seen.trades).toHaveLength(1)
      const status = json(await cli(['deploy', 'status', name, '--json']))
      expect(status).toMatchObject({ state: 'stopped', mode: 'live', strategy: 'buy-once@1', fills: 1 })
      expect(status.positions).toEqual([expect.objectContaining({ symbol, qty: 0.01, avgPrice: seen.trades[0]!.price })])
      const journal = readFileSync(join(home, 'deployments', name, 'journal.jsonl'), 'utf8')
      expect(journal).toContain(`"clientOrderId":"${posts[0]!.params.newClientOrderId}"`)

      // The lake holds what the deployment saw: the catch-up and the live bars, valued as the stand-in serves them.
      const bars = await loadBars(home, { symbol, timeframe: '1m', source: 'binance' })
      expect(bars.time.length).toBeGreaterThan(300)
      const last = bars.time.length - 1
      expect([bars.open[last], bars.high[last], bars.low[last], bars.close[last], bars.volume[last]]).toEqual(standinCandle(market, bars.time[last]!, 60_000))
      expect(bars.time[last]! + 60_000).toBeLessThanOrEqual(seen.now)
      // The bar the order was placed on (closed just before the fill) came from the live feed, and is in the lake.
      const traded = Math.floor(seen.trades[0]!.time / 60_000) * 60_000 - 60_000
      expect(Array.from(bars.time)).toContain(traded)

      expect(json(await cli(['registry', 'deployments', '--json'])).map((e: { name: string }) => e.name)).toContain(name)
      // The secret and the key: not in the output, nor in any file of the workspace (journal, status, the run, registry, lake, logs).
      for (const text of [r.stdout, r.stderr]) {
        expect(text).not.toContain(SECRET)
        expect(text).not.toContain(API_KEY)
      }
      const files = walk(home)
      expect(files.some((f) => f.includes(`${sep}runs${sep}`) && f.endsWith('journal.jsonl'))).toBe(true)
      for (const f of files) {
        const text = readFileSync(f).toString('latin1')
        expect(text.includes(SECRET), f).toBe(false)
        expect(text.includes(API_KEY), f).toBe(false)
      }
    })
  }
})

describe('mtflow deploy --paper on live bars', () => {
  for (const feed of ['poll', 'ws'] as const) {
    it(`a paper deployment on a ${feed} feed steps live bars into the lake and never signs a request, with credentials in the environment`, async () => {
      const name = `paper-${feed}`
      const args = ['--home', home, 'deploy', 'sma-cross@1', '--symbols', 'BTC/USDT', '--timeframe', '1m', '--paper', '--exchange', 'binance', '--feed', feed, '--api-url', '{URL}', '--param', 'fast=2', '--param', 'slow=3', '--name', name, '--no-track']
      const r = await runLive(args, { MTFLOW_BINANCE_API_KEY: API_KEY, MTFLOW_BINANCE_SECRET: SECRET }, { until: 's.bars >= 3', ws: feed === 'ws' })
      expect(r.code, r.stderr).toBe(0)
      // Paper: no signed request, no account or order endpoint, the key never sent.
      expect(r.standin.signed).toEqual([])
      expect(r.standin.requests.filter((q) => !/^\/api\/v3\/(klines|exchangeInfo|time|ping)\b/.test(q))).toEqual([])
      if (feed === 'ws') expect(r.standin.subscribed.flat()).toContain('btcusdt@kline_1m')
      const status = json(await cli(['deploy', 'status', name, '--json']))
      expect(status).toMatchObject({ state: 'stopped', mode: 'paper' })
      expect(status.bars).toBeGreaterThanOrEqual(3)
      // Every bar stepped is in the lake, with the stand-in's values.
      const bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1m', source: 'binance' })
      const lastBar = Date.parse(status.lastBar) - 60_000
      const k = Array.from(bars.time).indexOf(lastBar)
      expect(k).toBeGreaterThan(0)
      expect([bars.open[k], bars.high[k], bars.low[k], bars.close[k], bars.volume[k]]).toEqual(standinCandle('BTCUSDT', lastBar, 60_000))
      expect(r.stdout + r.stderr).not.toContain(SECRET)
    })
  }

  it('--sandbox keeps the testnet\'s bars apart: catch-up, warm-up and live bars under the lake source binance-sandbox, the real binance source untouched', async () => {
    const name = 'paper-sandbox'
    const before = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1m', source: 'binance' }).then((b) => b.time.length).catch(() => 0)
    const args = ['--home', home, 'deploy', 'sma-cross@1', '--symbols', 'BTC/USDT', '--timeframe', '1m', '--paper', '--exchange', 'binance', '--sandbox', '--feed', 'poll', '--api-url', '{URL}', '--param', 'fast=2', '--param', 'slow=3', '--name', name, '--no-track']
    const r = await runLive(args, {}, { until: 's.bars >= 2' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout + r.stderr).toContain("catching the lake up from binance's sandbox (lake source binance-sandbox)")
    const status = json(await cli(['deploy', 'status', name, '--json']))
    expect(status.bars).toBeGreaterThanOrEqual(2)
    const bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1m', source: 'binance-sandbox' })
    const lastBar = Date.parse(status.lastBar) - 60_000
    const k = Array.from(bars.time).indexOf(lastBar)
    expect(k).toBeGreaterThan(0)
    expect([bars.open[k], bars.close[k]]).toEqual([standinCandle('BTCUSDT', lastBar, 60_000)[0], standinCandle('BTCUSDT', lastBar, 60_000)[3]])
    const after = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1m', source: 'binance' }).then((b) => b.time.length).catch(() => 0)
    expect(after).toBe(before)
  })

  it('a replay on a terminal draws a progress bar of bars stepped out of the range\'s bars', async () => {
    const r = await runLive(['--home', home, 'deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, '--start', '2019-01-01', '--end', '2019-03-31', '--pace-ms', '20', '--name', 'tty', '--no-track'], {}, { tty: true })
    expect(r.code, r.stderr).toBe(0)
    // Q1 2019: 61 trading days in the bundled S&P 500 sample.
    expect(json(await cli(['deploy', 'status', 'tty', '--json'])).bars).toBe(61)
    expect(r.stderr).toContain('\r\x1b[2K')
    expect(r.stderr).toMatch(/tty {2}\[#{24}\] {2}61\/61 {2}100%/)
    expect(r.stderr).toMatch(/\[#*·+\] {2}\d+\/61 /)
  })

  it('Ctrl-C (SIGINT) or SIGTERM stops a foreground deployment cleanly: status stopped, exit 0', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const name = `fg-${signal.toLowerCase()}`
      let pid = 0
      const running = runCli(['--home', home, 'deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, '--start', '2015-01-01', '--end', '2016-12-31', '--pace-ms', '100', '--name', name, '--no-track'], { onSpawn: (p) => (pid = p) })
      const file = join(home, 'deployments', name, 'status.json')
      expect(await waitFor(() => existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).state === 'running', 20_000)).toBe(true)
      process.kill(pid, signal)
      const r = await running
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toContain(`${signal}: stopping deployment ${name}`)
      expect(r.stdout).toMatch(new RegExp(`^deployment ${name} stopped \\(stopped by request; working orders and brackets left in place\\)`))
      expect(json(await cli(['deploy', 'status', name, '--json'])).state).toBe('stopped')
    }
  })
})

function walk(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    const st = statSync(path)
    if (st.isDirectory()) out.push(...walk(path))
    else if (st.isFile()) out.push(path)
  }
  return out
}

/**
 * The CLI in a process of its own with the stand-in in that process too, both on one clock running 60× the
 * wall clock from T0 (a 1m bar closes every second): `main(argv, context)` with the clock in the context.
 * The runner asks the deployment to stop once `until` holds of its status `s` (default: it holds a position),
 * and reports what the stand-in saw. With `ws`, the stand-in also streams klines on its WebSocket.
 */
async function runLive(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { until?: string; ws?: boolean; tty?: boolean } = {},
): Promise<CliResult & { standin: { signed: Standin['signed']; trades: Standin['trades']; requests: string[]; subscribed: string[][]; now: number } }> {
  const dir = mkdtempSync(join(tmpdir(), 'mtflow-deploy-runner-'))
  const runner = join(dir, 'runner.cjs')
  const report = join(dir, 'standin.json')
  writeFileSync(
    runner,
    `'use strict'
require(require.resolve('tsx/cjs/api', { paths: [${JSON.stringify(ROOT)}] })).register()
const { writeFileSync } = require('node:fs')
const { startBinanceStandin } = require(${JSON.stringify(join(ROOT, 'test', 'fixtures', 'binance-standin.ts'))})
const { main } = require(${JSON.stringify(join(ROOT, 'lib', 'cli', 'main.ts'))})
const { readStatus, requestControl } = require(${JSON.stringify(join(ROOT, 'lib', 'live', 'deployment.ts'))})
const { attachBinanceWs } = require(${JSON.stringify(join(ROOT, 'test', 'fixtures', 'binance-ws.ts'))})
const T0 = ${T0}, K = 60, W0 = Date.now()
const clock = { now: () => T0 + (Date.now() - W0) * K, sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms) / K)) }
;(async () => {
  const standin = await startBinanceStandin({ now: T0, balances: { USDT: 10000 } })
  const ws = ${options.ws === true} ? attachBinanceWs(standin) : undefined
  const tick = setInterval(() => {
    standin.setNow(clock.now())
    ws?.push(clock.now())
  }, 2)
  const args = ${JSON.stringify(args)}.map((a) => (a === '{URL}' ? standin.url : a))
  const home = args[1], name = args[args.indexOf('--name') + 1]
  let asked = false
  const watch = setInterval(() => {
    if (asked) return
    try {
      const s = readStatus(home, name)
      if ((${options.until ?? 's.positions.length > 0'}) || Date.now() - W0 > 60000) { requestControl(home, name, 'stop'); asked = true }
    } catch {}
  }, 20)
  const stderr = ${options.tty === true} ? { isTTY: true, write: (t) => process.stderr.write(t) } : process.stderr
  const context = { stdout: process.stdout, stderr, home: '', verbose: false, exitCode: 0, clock }
  const code = await main(args, context)
  clearInterval(watch)
  clearInterval(tick)
  writeFileSync(${JSON.stringify(report)}, JSON.stringify({ signed: standin.signed, trades: standin.trades, requests: standin.requests, subscribed: ws?.subscribed ?? [], now: standin.now() }))
  ws?.close()
  await standin.close()
  process.exitCode = code
})()
`,
  )
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runner], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid!, standin: existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) : { signed: [], trades: [], requests: [], subscribed: [], now: 0 } }))
  })
}

// Last in this file: it adds a second source of SPX to the workspace.
describe('mtflow deploy on a symbol the lake holds in two sources (a new-user review)', () => {
  it('refuses before registering anything without --source, naming the sources; deploys with --source', async () => {
    json(await cli(['import', join(ROOT, 'data/samples/sp500-daily-2000-2020.csv'), '--symbol', 'SPX', '--timeframe', '1d', '--source', 'mine', '--json']))
    const before = existsSync(join(home, 'registry', 'deployments', 'spx-two')) ? readdirSync(join(home, 'registry', 'deployments', 'spx-two')) : []
    const range = ['--start', '2016-01-01', '--end', '2016-06-30']
    const refused = await cli(['deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, ...range, '--name', 'spx-two'])
    expect(refused.code).toBe(2)
    expect(refused.stderr.trim()).toBe('mtflow: SPX 1d is in several sources (mine, sample); say which (--source on the command line, source in code)')
    expect(existsSync(join(home, 'registry', 'deployments', 'spx-two')) ? readdirSync(join(home, 'registry', 'deployments', 'spx-two')) : []).toEqual(before)
    const out = json(await cli(['deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, ...range, '--source', 'mine', '--name', 'spx-two', '--json']))
    expect(out).toMatchObject({ name: 'spx-two', version: 1, created: true, status: { state: 'finished' } })
    // The backtest on the same source, the same bars: the same trades.
    const bt = json(await cli(['backtest', '--strategy', 'sma-cross', '--symbol', 'SPX', '--source', 'mine', ...range, '--no-track', '--json']))
    expect(out.status.tradeCount).toBe(bt.trades.length)
    // A source that holds none of them: refused before anything is registered, naming the ones that do (a review).
    const typo = await cli(['deploy', 'sma-cross@1', '--symbols', 'SPX', ...PAPER, ...range, '--source', 'typo', '--name', 'spx-typo'])
    expect(typo.code).toBe(2)
    expect(typo.stderr.trim()).toBe('mtflow: no bars for SPX 1d in source typo (--source mine or sample holds them)')
    expect(existsSync(join(home, 'registry', 'deployments', 'spx-typo'))).toBe(false)
    const live = await cli(['deploy', 'sma-cross@1', '--symbols', 'SPX', '--timeframe', '1d', '--paper', '--exchange', 'binance', '--feed', 'poll', '--source', 'mine', '--name', 'spx-poll'])
    expect(live.code).toBe(2)
    expect(live.stderr.trim()).toBe("mtflow: --source applies to a replay feed only (a poll feed starts from the lake's last bar)")
  })

  it('a paper deployment fed by an exchange that cannot be reached: one line, exit 2, nothing registered (it registered, then failed)', async () => {
    // Port 1 on loopback: the connection is refused at once.
    const out = await cli(['deploy', 'sma-cross@1', '--symbols', 'BTC/USDT', '--timeframe', '1m', '--paper', '--exchange', 'binance', '--feed', 'poll', '--api-url', 'http://127.0.0.1:1', '--name', 'unreachable-poll'])
    expect(out.code, out.stderr).toBe(2)
    expect(out.stderr.trim().split('\n')).toHaveLength(1)
    expect(out.stderr.trim()).toMatch(/^mtflow: the paper deployment's feed cannot read binance's markets \(.+\); nothing registered or started$/)
    expect(existsSync(join(home, 'registry', 'deployments', 'unreachable-poll'))).toBe(false)
  })
})
