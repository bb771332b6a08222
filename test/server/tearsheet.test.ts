// A run's tearsheet over a real socket: the run page of a tracked backtest links to /runs/:id/tearsheet, which
// serves tearsheetHtml under the page CSP with the backtest's numbers and SPX's buy and hold from the raw sample;
// a hostile symbol is escaped; no token 401, a foreign Origin or Host 403; a sweep parent and an unknown run 404.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backtest, logBacktest } from '../../lib/backtest/index.js'
import { importSamples, loadBars } from '../../lib/data/index.js'
import { fmtPercent, tearsheet } from '../../lib/report/index.js'
import { PAGE_CSP } from '../../lib/server/pages.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Tracker } from '../../lib/track/index.js'
import { ROOT, sampleRowsBetween } from '../helpers.js'
import { sendRaw, type RawReply } from './http.js'

const HOSTILE = '<img src=x onerror=alert(1)>'
let home: string
let server: Listening
let token: string
const ids: Record<string, string> = {}
let result: ReturnType<typeof backtest>

const send = (path: string, headers: Record<string, string> = {}): Promise<RawReply> => sendRaw(server, path, headers)
const authed = (path: string, headers: Record<string, string> = {}) => send(path, { authorization: `Bearer ${token}`, ...headers })

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-tearsheet-'))
  await importSamples(home, join(ROOT, 'data', 'samples'))
  const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d', start: '2015-01-01' })
  result = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars }, cash: 100_000, sizing: { percent: 1 } })
  const tracker = new Tracker(home)
  const run = tracker.startRun({ experiment: 'backtests', name: 'sma-cross SPX 1d' })
  logBacktest(run, result, { params: { fast: 10, slow: 30 }, config: { symbols: 'SPX', timeframe: '1d' } })
  run.end()
  ids.backtest = run.id
  // A run whose trades name a hostile symbol (its equity a plain two-day curve).
  const hostile = tracker.startRun({ experiment: 'backtests', name: 'hostile', params: { symbols: HOSTILE, timeframe: '1d' }, tags: { 'mtflow.kind': 'backtest' } })
  hostile.logArtifact({ name: 'equity.csv', data: 'time,equity\n2024-01-01T00:00:00.000Z,100\n2024-01-02T00:00:00.000Z,105\n2024-01-03T00:00:00.000Z,103\n' })
  hostile.logArtifact({ name: 'trades.csv', data: `symbol,entryTime,exitTime,pnl\n"${HOSTILE}",2024-01-01T00:00:00.000Z,2024-01-03T00:00:00.000Z,3\n` })
  hostile.end()
  ids.hostile = hostile.id
  const sweep = tracker.startRun({ experiment: 'sweeps', name: 'grid', tags: { 'mtflow.kind': 'sweep' } })
  sweep.logArtifact({ name: 'sweep.csv', data: 'fast,sharpe\n10,1\n' })
  sweep.end()
  ids.sweep = sweep.id
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0 })
}, 120_000)

afterAll(async () => {
  await server?.close()
  rmSync(home, { recursive: true, force: true })
})

describe('/runs/:id/tearsheet', () => {
  it('the run page of a backtest links to its tearsheet; a sweep parent has no link', async () => {
    const page = await authed(`/runs/${ids.backtest}`)
    expect(page.status).toBe(200)
    expect(page.text).toContain(`href="/runs/${ids.backtest}/tearsheet"`)
    const sweep = await authed(`/runs/${ids.sweep}`)
    expect(sweep.status).toBe(200)
    expect(sweep.text).not.toContain('/tearsheet')
  })

  it("serves the tearsheet under the page CSP: the backtest's return and Sharpe, SPX's buy and hold from the sample", async () => {
    const r = await authed(`/runs/${ids.backtest}/tearsheet`)
    expect(r.status, r.text.slice(0, 300)).toBe(200)
    expect(r.headers['content-type']).toMatch(/^text\/html/)
    expect(r.headers['content-security-policy']).toBe(PAGE_CSP)
    expect(r.text.startsWith('<!DOCTYPE html>')).toBe(true)
    // The site's navigation and its script bundle (the page's only script), as on every page.
    expect([...r.text.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0])).toEqual([expect.stringMatching(/^<script src="\/assets\/mtflow\.[0-9a-f]{16}\.js" defer>$/)])
    expect(r.text).toMatch(/<header class="site">.*<a href="\/runs" class="active"/s)
    const expected = tearsheet({ time: result.time, equity: result.equity }, { periodsPerYear: result.periodsPerYear }).metrics
    expect(r.text).toContain(fmtPercent(expected.totalReturn))
    expect(r.text).toContain(fmtPercent(expected.maxDrawdown))
    // The benchmark row: SPX's own return over the backtest's days, from the sample's text.
    const first = new Date(result.time[0]!).toISOString().slice(0, 10)
    const last = new Date(result.time[result.time.length - 1]!).toISOString().slice(0, 10)
    const spx = sampleRowsBetween(first, last)
    expect(r.text).toContain(fmtPercent(spx.lastClose / spx.firstClose - 1))
    expect(r.text).toContain('Price and trades: SPX')
    // Served again from the cache, the same page.
    expect((await authed(`/runs/${ids.backtest}/tearsheet`)).text).toBe(r.text)
  })

  it('escapes a hostile symbol', async () => {
    const r = await authed(`/runs/${ids.hostile}/tearsheet`)
    expect(r.status, r.text.slice(0, 300)).toBe(200)
    expect(r.text).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(r.text).not.toContain(HOSTILE)
  })

  it('refuses without the token (401), from a foreign Origin or Host (403)', async () => {
    expect((await send(`/runs/${ids.backtest}/tearsheet`)).status).toBe(401)
    expect((await send(`/runs/${ids.backtest}/tearsheet`, { accept: 'text/html' })).status).toBe(401)
    const origin = await authed(`/runs/${ids.backtest}/tearsheet`, { origin: 'http://evil.example' })
    expect(origin.status).toBe(403)
    expect(origin.text).not.toContain('Tearsheet')
    expect((await authed(`/runs/${ids.backtest}/tearsheet`, { host: `evil.example:${server.port}` })).status).toBe(403)
  })

  it('a sweep parent and an unknown run: 404 JSON', async () => {
    const sweep = await authed(`/runs/${ids.sweep}/tearsheet`)
    expect(sweep.status).toBe(404)
    expect(JSON.parse(sweep.text).error).toMatch(/has no equity curve/)
    const unknown = await authed('/runs/nosuchrun42/tearsheet')
    expect(unknown.status).toBe(404)
    expect(JSON.parse(unknown.text).error).toMatch(/unknown run/)
  })
})
