// The portfolio monitoring pages over a real socket: /deployments (combined) and /deployments/NAME with the
// numbers of a finished paper replay (its equity the backtest's, run here), a refresh meta while a deployment
// runs and none once it has stopped, hostile text from a deployment's alerts escaped, names outside the
// workspace's deployment folders refused with a 404, and the nav link from the home page.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backtest } from '../../lib/backtest/index.js'
import { ingestBars, loadBars, type Bars } from '../../lib/data/index.js'
import { syntheticGbm } from '../../lib/data/synthetic.js'
import { readStatus, requestControl, runDeployment } from '../../lib/live/deployment.js'
import { ManualClock, ReplayFeed, validateDeploymentConfig, type DeploymentConfig, type DeploymentStatus } from '../../lib/live/index.js'
import { PAGE_CSP } from '../../lib/server/pages.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { getStrategy, strategySource } from '../../lib/strategy/index.js'
import { Registry } from '../../lib/track/index.js'
import { sendRaw, type RawReply } from './http.js'

const HOSTILE = '<script>alert(1)</script>'
const REFRESH = '<meta http-equiv="refresh" content="5">'
let home: string
let server: Listening
let token: string
let bars: Bars
let pin: { name: string; version: number; sha256: string }
let endEquity: number

const send = (path: string, headers: Record<string, string> = {}): Promise<RawReply> => sendRaw(server, path, headers)
const authed = (path: string) => send(path, { authorization: `Bearer ${token}` })

const config = (name: string): DeploymentConfig =>
  validateDeploymentConfig({
    name,
    strategy: pin,
    params: { fast: 10, slow: 30 },
    symbols: ['BTC/USDT'],
    timeframe: '1h',
    mode: 'paper',
    venue: { exchange: 'binance' },
    cash: 30_000,
    fills: { takerRate: 0.001 },
    feed: { kind: 'replay' },
  })

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-portfolio-pages-'))
  const gbm = syntheticGbm({ symbol: 'BTC/USDT', timeframe: '1h', bars: 600, seed: 5, start: Date.UTC(2024, 0, 1), volatility: 0.5 })
  await ingestBars(home, { ...gbm, symbol: 'BTC/USDT' }, { source: 'binance' })
  bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1h' })
  const { version } = new Registry(home).register('strategies', 'sma-cross', { files: { 'source.ts': strategySource(getStrategy('sma-cross')).source }, params: {}, runs: [], source: 'builtin:sma-cross' })
  pin = { name: 'sma-cross', version: version.version, sha256: version.sha256 }
  await runDeployment({ home, config: config('done'), strategy: getStrategy('sma-cross'), track: false })
  appendFileSync(join(home, 'deployments', 'done', 'alerts.jsonl'), `${JSON.stringify({ time: '2024-01-02T00:00:00.000Z', text: `guard refused ${HOSTILE}` })}\n`)
  // A deployment whose status.json was damaged.
  mkdirSync(join(home, 'deployments', 'broken'))
  writeFileSync(join(home, 'deployments', 'broken', 'status.json'), '{"state": "runn')
  // A folder without a status.json is not a deployment.
  mkdirSync(join(home, 'deployments', 'ghost'))
  writeFileSync(join(home, 'deployments', 'ghost', 'config.json'), '{}')
  endEquity = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['BTC/USDT'], timeframe: '1h', data: { 'BTC/USDT': bars }, cash: 30_000, fills: { takerRate: 0.001 } }).metrics.endEquity
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0 })
}, 120_000)

afterAll(async () => {
  await server?.close()
  rmSync(home, { recursive: true, force: true })
})

const money = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 2 })

describe('/deployments/NAME', () => {
  it("a finished paper replay: its equity (the backtest's), ~0 tracking error, no refresh, alerts escaped", async () => {
    const r = await authed('/deployments/done')
    expect(r.status, r.text.slice(0, 300)).toBe(200)
    expect(r.headers['content-security-policy']).toBe(PAGE_CSP)
    expect(r.text).toContain('Deployment done')
    expect(r.text).toContain(money(endEquity))
    expect(r.text).toContain('<span class="state state-finished">finished</span>')
    expect(r.text).toMatch(/<div class="big">0\.00 %<\/div>tracking error/)
    expect(r.text).toContain('aria-label="equity against the backtest replay"')
    expect(r.text).toContain('aria-label="underwater"')
    expect(r.text).toContain('aria-label="slippage histogram"')
    expect(r.text).not.toContain(REFRESH)
    expect(r.text).not.toContain(HOSTILE)
    expect(r.text).toContain('guard refused &lt;script&gt;alert(1)&lt;/script&gt;')
  })

  it('names that are not a deployment folder of the workspace are a 404', async () => {
    for (const path of ['/deployments/nope', '/deployments/ghost', '/deployments/..%2Fdone', '/deployments/done%2F..', '/deployments/%2e%2e%2fdeployments%2fdone', '/deployments/%00', `/deployments/${encodeURIComponent(HOSTILE)}`]) {
      const r = await authed(path)
      expect(r.status, path).toBe(404)
      expect(r.headers['content-type'], path).toMatch(/^application\/json/)
      expect(JSON.parse(r.text).error, path).toMatch(/no deployment named/)
      // A name quoted back is JSON, never HTML (and the browser is told not to sniff it).
      expect(r.headers['x-content-type-options']).toBe('nosniff')
    }
  })

  it('a deployment with a damaged status.json: its page is a 500 naming the file, the combined page lists it with the reason', async () => {
    const r = await authed('/deployments/broken')
    expect(r.status).toBe(500)
    expect(JSON.parse(r.text).error).toMatch(/^deployment broken: status\.json is not valid JSON/)
    expect(r.text).not.toContain(home)
    const all = await authed('/deployments')
    expect(all.status).toBe(200)
    expect(all.text).toMatch(/<a href="\/deployments\/broken">broken<\/a><\/td><td>unreadable<\/td>.*deployment broken: status\.json is not valid JSON/)
  })

  it('asks for the token', async () => {
    expect((await send('/deployments')).status).toBe(401)
    expect((await send('/deployments/done')).status).toBe(401)
  })
})

describe('/deployments while one runs, and once it has stopped', () => {
  it('refreshes every 5 s while a deployment runs; not once it has stopped', async () => {
    const clock = new ManualClock(0)
    const feed = new ReplayFeed([{ symbol: 'BTC/USDT', timeframe: '1h', bars }], { clock, paceMs: 10 })
    const running = runDeployment({ home, config: config('paced'), strategy: getStrategy('sma-cross'), feed, clock, track: false })
    const step = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setImmediate(r))
        clock.advance(10)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    let status: DeploymentStatus | undefined
    for (let k = 0; k < 200 && !(status?.state === 'running' && status.bars >= 60); k++) {
      await step(10)
      status = readStatus(home, 'paced')
    }
    expect(status?.state).toBe('running')

    const all = await authed('/deployments')
    expect(all.status, all.text.slice(0, 300)).toBe(200)
    expect(all.text).toContain(REFRESH)
    expect(all.text).toContain('href="/deployments/done"')
    expect(all.text).toContain('href="/deployments/paced"')
    expect(all.text).not.toContain('href="/deployments/ghost"')
    const one = await authed('/deployments/paced')
    expect(one.text).toContain(REFRESH)
    expect(one.text).toContain('<span class="state state-running">running</span>')
    // The finished one's page does not refresh, though another deployment runs.
    expect((await authed('/deployments/done')).text).not.toContain(REFRESH)

    requestControl(home, 'paced', 'stop')
    await step(3)
    const final = await running
    expect(final.state).toBe('stopped')
    const after = await authed('/deployments')
    expect(after.status).toBe(200)
    expect(after.text).not.toContain(REFRESH)
    const stopped = await authed('/deployments/paced')
    expect(stopped.text).not.toContain(REFRESH)
    expect(stopped.text).toContain('<span class="state state-stopped">stopped</span>')
    // The combined equity is the two deployments' equity summed.
    const paced = readStatus(home, 'paced')
    expect(after.text).toContain(`<div class="big">${money(endEquity + paced.equity)}</div>equity (all deployments)`)
  }, 60_000)
})

describe('the home page', () => {
  it('links to the deployments in its nav', async () => {
    const r = await authed('/')
    expect(r.status).toBe(200)
    expect(r.text).toContain('<a href="/deployments">Deployments</a>')
  })
})
