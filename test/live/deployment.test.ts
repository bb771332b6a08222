// Deployments run end to end on a workspace (issue 19, points 2, 5, 6, 7): a paper deployment replaying the
// lake's bars gives the backtest's trades and fills and a tracked run; status, pause/resume and stop through
// the control file; a second start of a running name is refused; guards refuse orders outside strategy
// code; and a deployment killed with SIGKILL mid-replay restarts from its journal into exactly the orders
// and fills of a run that was never interrupted — no order placed twice, the same position.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { ingestBars, loadBars, type Bars } from '../../lib/data/index.js'
import { syntheticGbm } from '../../lib/data/synthetic.js'
import { listDeployments, readStatus, requestControl, runDeployment } from '../../lib/live/deployment.js'
import { ManualClock, OrderJournal, ReplayFeed, validateDeploymentConfig, type DeploymentConfig } from '../../lib/live/index.js'
import { defineStrategy, getStrategy } from '../../lib/strategy/index.js'
import { redactSecrets } from '../../lib/live/credentials.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { createHash } from 'node:crypto'
import { FIXTURES } from '../helpers.js'

const T0 = Date.UTC(2024, 0, 1)
const homes: string[] = []
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true })
})

async function workspace(n = 1500): Promise<{ home: string; bars: Bars }> {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-deploy-'))
  homes.push(home)
  const gbm = syntheticGbm({ symbol: 'BTC/USDT', timeframe: '1h', bars: n, seed: 21, start: T0, volatility: 0.5 })
  await ingestBars(home, { ...gbm, symbol: 'BTC/USDT' }, { source: 'binance' })
  return { home, bars: await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1h' }) }
}

const config = (over: Record<string, unknown> = {}): DeploymentConfig =>
  validateDeploymentConfig({
    name: 'sma-paper',
    strategy: { name: 'sma-cross', version: 1, sha256: 'a'.repeat(64) },
    params: { fast: 10, slow: 30 },
    symbols: ['BTC/USDT'],
    timeframe: '1h',
    mode: 'paper',
    venue: { exchange: 'binance' },
    fills: { takerRate: 0.001, slippageBps: 2 },
    feed: { kind: 'replay' },
    ...over,
  })

function journalEvents(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{') && !l.startsWith('{"#'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

describe('a deployment run\'s lineage', () => {
  it('records the source hash a backtest of the same version records (a new-user check: the version hash, with params.json, never matched a backtest)', async () => {
    const { home } = await workspace(200)
    const registry = new Registry(home)
    const source = 'export { smaCross as default } from \'mtflow/lib/strategy/builtin/sma-cross.js\'\n'
    const { version } = registry.register('strategies', 'sma-cross', { files: { 'source.ts': source, 'params.json': '{"fast":10,"slow":30}\n' }, params: { fast: 10, slow: 30 } })
    const sourceHash = createHash('sha256').update(registry.readFile('strategies', 'sma-cross@1', 'source.ts')).digest('hex')
    expect(version.sha256).not.toBe(sourceHash)
    const status = await runDeployment({ home, config: config({ name: 'lineage', strategy: { name: 'sma-cross', version: 1, sha256: version.sha256 } }), strategy: getStrategy('sma-cross') })
    const run = new Tracker(home).getRun(status.runId!)
    expect(run.info.lineage.strategy).toMatchObject({ name: 'sma-cross', sha256: sourceHash })
    expect(run.tags).toMatchObject({ 'mtflow.strategy': 'sma-cross@1', 'mtflow.strategy.sha256': sourceHash, 'mtflow.strategy.version.sha256': version.sha256 })
  })
})

describe('a paper deployment replaying the lake', () => {
  it('trades exactly as the backtest, finishes, and is a tracked run with the journal', async () => {
    const { home, bars } = await workspace()
    const c = config()
    const status = await runDeployment({ home, config: c, strategy: getStrategy('sma-cross') })
    const expected = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['BTC/USDT'], timeframe: '1h', data: { 'BTC/USDT': bars }, fills: { takerRate: 0.001, slippageBps: 2 } })
    const t = expected.strategies[0]!.trades
    expect(t.pnl.length).toBeGreaterThan(10)
    expect(status.state).toBe('finished')
    expect(status.tradeCount).toBe(t.pnl.length)
    expect(status.trades.map((x) => [x.entryPrice, x.exitPrice, x.qty, x.pnl])).toEqual([...t.pnl.keys()].map((k) => [t.entryPrice[k], t.exitPrice[k], t.qty[k], t.pnl[k]]))
    expect(status.equity).toBe(expected.strategies[0]!.metrics.endEquity)
    // The journal's fills are the backtest's fills.
    const f = expected.strategies[0]!.fills
    const fills = journalEvents(status.journal).filter((e) => e.type === 'fill')
    expect(fills.map((e) => [e.qty, e.price, e.fee])).toEqual([...f.qty.keys()].map((k) => [f.qty[k], f.price[k], f.fee[k]]))
    // It ends with a snapshot of its positions: the backtest's last position (Σ signed fills).
    const last = journalEvents(status.journal).at(-1)!
    const held = [...f.qty.keys()].reduce((q, k) => q + (f.side[k] === 'buy' ? f.qty[k]! : -f.qty[k]!), 0)
    expect(last).toMatchObject({ type: 'snapshot', source: 'local', positions: held === 0 ? {} : { 'sma-cross|BTC/USDT': expect.closeTo(held, 9) } })
    // Status as another process reads it, and the tracked run.
    expect(readStatus(home, 'sma-paper')).toMatchObject({ state: 'finished', strategy: 'sma-cross@1', mode: 'paper', tradeCount: t.pnl.length })
    expect(listDeployments(home).map((d) => d.name)).toEqual(['sma-paper'])
    const run = new Tracker(home).getRun(status.runId!)
    expect(run.tags['mtflow.kind']).toBe('deployment')
    expect(run.tags['mtflow.deployment']).toBe('sma-paper')
    expect(new Tracker(home).listArtifacts(status.runId!).map((a) => a.path)).toEqual(expect.arrayContaining(['journal.jsonl', 'trades.parquet', 'fills.parquet', 'orders.parquet', 'equity.parquet']))
  })

  it('pause stops new orders, resume lets them through, stop ends it; a second start of a running name is refused', async () => {
    const { home, bars } = await workspace(400)
    const clock = new ManualClock(0)
    const feed = new ReplayFeed([{ symbol: 'BTC/USDT', timeframe: '1h', bars }], { clock, paceMs: 10 })
    const lines: string[] = []
    const running = runDeployment({ home, config: config({ name: 'ctl' }), strategy: getStrategy('sma-cross'), feed, clock, track: false, log: (l) => lines.push(l) })
    const step = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setImmediate(r))
        clock.advance(10)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    await step(5)
    expect(readStatus(home, 'ctl').state).toBe('running')
    await expect(runDeployment({ home, config: config({ name: 'ctl' }), strategy: getStrategy('sma-cross'), track: false })).rejects.toThrow(/deployment ctl is already running \(pid \d+\); stop it first/)
    requestControl(home, 'ctl', 'pause')
    await step(150)
    const paused = readStatus(home, 'ctl')
    expect(paused.state).toBe('paused')
    const journal = OrderJournal.open(join(home, 'deployments', 'ctl'), 'ctl')
    const intentsWhilePaused = [...journal.current.orders.values()].length
    await step(100)
    expect([...OrderJournal.open(join(home, 'deployments', 'ctl'), 'ctl').current.orders.values()].length).toBe(intentsWhilePaused)
    requestControl(home, 'ctl', 'resume')
    await step(100)
    expect(readStatus(home, 'ctl').state).toBe('running')
    requestControl(home, 'ctl', 'stop')
    await step(3)
    const final = await running
    expect(final.state).toBe('stopped')
    expect(final.reason).toBe('stopped by request; working orders and brackets left in place')
    expect(() => requestControl(home, 'ctl', 'stop')).toThrow(/deployment ctl is not running \(state stopped/)
    expect(lines.some((l) => l.includes('paused by request'))).toBe(true)
  })

  it('guards outside strategy code: with a position notional cap orders are resized, with stale data refused', async () => {
    const { home, bars } = await workspace(300)
    const status = await runDeployment({ home, config: config({ name: 'capped', guards: { maxPositionNotional: 5000 } }), strategy: getStrategy('sma-cross'), track: false })
    expect(status.trades.length).toBeGreaterThan(0)
    // At the reference price (the fill price less the 2 bps slippage) no entry is worth more than the cap.
    for (const t of status.trades) expect((t.qty * t.entryPrice) / 1.0002).toBeLessThanOrEqual(5000 * (1 + 1e-12))
    expect(Math.max(...status.trades.map((t) => (t.qty * t.entryPrice) / 1.0002))).toBeGreaterThan(4990)
    // Stale data: a feed whose newest bar is older than 2 hours by the clock → every order refused, said why.
    const stale = await workspace(300)
    const clock = new ManualClock(Date.UTC(2030, 0, 1))
    const lines: string[] = []
    const s2 = await runDeployment({ home: stale.home, config: config({ name: 'stale', feed: { kind: 'poll' } }), strategy: getStrategy('sma-cross'), feed: new ReplayFeed([{ symbol: 'BTC/USDT', timeframe: '1h', bars: stale.bars }]), clock, track: false, log: (l) => lines.push(l) })
    expect(s2.fills).toBe(0)
    const refused = lines.filter((l) => l.startsWith('alert: BTC/USDT buy'))
    expect(refused.length).toBeGreaterThan(0)
    expect(refused[0]).toMatch(/refused: stale data: the newest closed bar closed at 2024-01-\d\dT\d\d:00:00.000Z, .* ago \(limit 2 × 1h\)/)
    expect(readFileSync(join(stale.home, 'deployments', 'stale', 'alerts.jsonl'), 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(refused.length)
    void bars
  })
})

describe('a paper deployment killed with SIGKILL mid-replay', () => {
  it('of a strategy with state built in onBar (pairs-zscore): re-run up to its last mark, it continues as the uninterrupted run', async () => {
    const pairs = async () => {
      const home = mkdtempSync(join(tmpdir(), 'mtflow-deploy-pairs-'))
      homes.push(home)
      for (const [symbol, seed] of [['BTC/USDT', 21], ['ETH/USDT', 22]] as const) {
        const gbm = syntheticGbm({ symbol, timeframe: '1h', bars: 1200, seed, start: T0, volatility: 0.5 })
        await ingestBars(home, { ...gbm, symbol }, { source: 'binance' })
      }
      return home
    }
    const c = config({ name: 'pairs', strategy: { name: 'pairs-zscore', version: 1, sha256: 'a'.repeat(64) }, params: { window: 30, entry: 1.5, exit: 0.5, stop: 4, log: 1, gross: 1 }, symbols: ['BTC/USDT', 'ETH/USDT'], fills: {} })
    const reference = await pairs()
    await runDeployment({ home: reference, config: c, strategy: getStrategy('pairs-zscore'), track: false })
    const unsalted = (events: Record<string, unknown>[]) => JSON.parse(JSON.stringify(events).replace(/mt[0-9a-f]{10}/g, 'mt*')) as Record<string, unknown>[]
    const orderEvents = (file: string) => unsalted(journalEvents(file).filter((e) => e.type !== 'mark' && e.type !== 'snapshot'))
    const expected = orderEvents(join(reference, 'deployments', 'pairs', 'journal.jsonl'))
    expect(expected.filter((e) => e.type === 'fill').length).toBeGreaterThan(20)
    const home = await pairs()
    const child = spawn(process.execPath, [join(FIXTURES, 'deploy-runner.cjs'), home, JSON.stringify(c), '3'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const file = join(home, 'deployments', 'pairs', 'journal.jsonl')
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => setTimeout(r, 50))
      if (existsSync(file) && journalEvents(file).filter((e) => e.type === 'fill').length >= 4) break
    }
    child.kill('SIGKILL')
    await new Promise((r) => child.on('close', r))
    const killedAt = journalEvents(file).filter((e) => e.type === 'fill').length
    expect(killedAt).toBeGreaterThanOrEqual(4)
    expect(killedAt).toBeLessThan(expected.filter((e) => e.type === 'fill').length)
    const status = await runDeployment({ home, config: c, strategy: getStrategy('pairs-zscore'), track: false })
    expect(status.state).toBe('finished')
    expect(orderEvents(file)).toEqual(expected)
    expect(existsSync(join(home, 'deployments', 'pairs', 'rerun'))).toBe(false)
  }, 60_000)

  it('a journal its replay does not reproduce (the strategy code changed meanwhile) is refused, and kept as it is, with its status\'s book', async () => {
    const { home } = await workspace(400)
    const c = config({ name: 'changed' })
    await runDeployment({ home, config: c, strategy: getStrategy('sma-cross'), track: false })
    const file = join(home, 'deployments', 'changed', 'journal.jsonl')
    const before = readFileSync(file, 'utf8')
    const statusFile = join(home, 'deployments', 'changed', 'status.json')
    // The book: what the deployment holds and did (its process's fields — pid, start, state — are this start's).
    const book = (text: string) => {
      const { lastBar, bars, equity, cash, positions, openOrders, trades, tradeCount, fills } = JSON.parse(text) as Record<string, unknown>
      return { lastBar, bars, equity, cash, positions, openOrders, trades, tradeCount, fills }
    }
    const statusBefore = readFileSync(statusFile, 'utf8')
    // The same config, other code: buys half of what it bought.
    const original = getStrategy('sma-cross')
    const edited = { ...original, onBar: (ctx: Parameters<typeof original.onBar>[0], bar: Parameters<typeof original.onBar>[1]) => original.onBar(Object.assign(Object.create(ctx) as typeof ctx, { buy: (symbol: string) => ctx.buy(symbol, { percent: 0.5 }) }), bar) }
    await expect(runDeployment({ home, config: c, strategy: edited, track: false })).rejects.toThrow(/deployment changed: re-running its replay up to the last step it recorded does not reproduce its journal \(event \d+: .*, or was it paused, resumed or flattened .*\); the journal and its status are kept as they are/)
    expect(readFileSync(file, 'utf8')).toBe(before)
    // The status shows the deployment's own book, not the re-run's (an operations review: it showed trades that never happened).
    const statusAfter = readFileSync(statusFile, 'utf8')
    expect(book(statusAfter)).toEqual(book(statusBefore))
    expect(JSON.parse(statusAfter)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/does not reproduce its journal/), pid: process.pid })
    // This start's, not the one before's (a review: the old start and update times stayed).
    expect(JSON.parse(statusAfter).updatedAt).not.toBe(JSON.parse(statusBefore).updatedAt)
  })

  it('restarts from its journal into exactly the orders and fills of an uninterrupted run', async () => {
    const { home } = await workspace(1200)
    const reference = await workspace(1200)
    const c = config({ name: 'crashy' })
    await runDeployment({ home: reference.home, config: c, strategy: getStrategy('sma-cross'), track: false })
    // Client ids are salted per deployment folder (two workspaces never share one): compared without the prefix.
    const unsalted = (events: Record<string, unknown>[]) => JSON.parse(JSON.stringify(events).replace(/mt[0-9a-f]{10}/g, 'mt*')) as Record<string, unknown>[]
    const expected = unsalted(journalEvents(join(reference.home, 'deployments', 'crashy', 'journal.jsonl')).filter((e) => e.type !== 'mark'))

    const child = spawn(process.execPath, [join(FIXTURES, 'deploy-runner.cjs'), home, JSON.stringify(c), '4'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const file = join(home, 'deployments', 'crashy', 'journal.jsonl')
    // Killed once it has placed and filled a few orders, in the middle of the replay.
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => setTimeout(r, 50))
      if (existsSync(file) && journalEvents(file).filter((e) => e.type === 'fill').length >= 6) break
    }
    child.kill('SIGKILL')
    await new Promise((r) => child.on('close', r))
    const before = journalEvents(file)
    expect(before.filter((e) => e.type === 'fill').length).toBeGreaterThanOrEqual(6)
    expect(before.filter((e) => e.type === 'fill').length).toBeLessThan(expected.filter((e) => e.type === 'fill').length)
    expect(readStatus(home, 'crashy').state).toBe('failed') // its process is gone

    const status = await runDeployment({ home, config: c, strategy: getStrategy('sma-cross'), track: false })
    expect(status.state).toBe('finished')
    const after = journalEvents(file).filter((e) => e.type !== 'mark')
    expect(unsalted(after)).toEqual(expected)
    // The same folder keeps its salt across the restart: one prefix throughout.
    expect(new Set(JSON.stringify(after).match(/mt[0-9a-f]{10}/g))).toHaveProperty('size', 1)
    expect(JSON.stringify(after).match(/mt[0-9a-f]{10}/)![0]).not.toBe(JSON.stringify(journalEvents(join(reference.home, 'deployments', 'crashy', 'journal.jsonl'))).match(/mt[0-9a-f]{10}/)![0])
    const j = OrderJournal.open(join(home, 'deployments', 'crashy'), 'crashy')
    expect(j.position('sma-cross', 'BTC/USDT')).toBe(OrderJournal.open(join(reference.home, 'deployments', 'crashy'), 'crashy').position('sma-cross', 'BTC/USDT'))
  }, 60_000)
})

describe('a deployment failing with a credential in its error (an attack review)', () => {
  it('writes it to no file the server shows: status.json, alerts.jsonl, the run\'s error', async () => {
    const { home } = await workspace(200)
    const secret = 'kP9-s3cr3t-Zq'
    // An error from code other than the venue's (which strips credentials itself) that carries one.
    const leaky = defineStrategy({ name: 'leaky', params: {}, universe: () => [{ symbol: 'BTC/USDT', timeframe: '1h' }], warmup: () => 1, onBar: () => { throw new Error(`signed request with ${secret} refused`) } })
    const failed = runDeployment({ home, config: config({ name: 'leaky', strategy: { name: 'leaky', version: 1, sha256: 'a'.repeat(64) }, params: {} }), strategy: leaky, redact: (t) => redactSecrets(t, [secret]) })
    await expect(failed).rejects.toThrow(/refused/)
    const status = readStatus(home, 'leaky')
    expect(status.state).toBe('failed')
    expect(status.reason).toContain('signed request with *** refused')
    const dir = join(home, 'deployments', 'leaky')
    const written = ['status.json', 'alerts.jsonl'].filter((f) => existsSync(join(dir, f))).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n')
    expect(written).not.toContain(secret)
    const run = new Tracker(home).getRun(status.runId!)
    expect(run.tags['mtflow.error']).toContain('***')
    expect(JSON.stringify(run)).not.toContain(secret)
  })
})
