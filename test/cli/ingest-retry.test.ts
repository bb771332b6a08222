// `mtflow ingest ccxt` shows each retry as it happens: one stderr line per retry (attempt, error, wait),
// against the loopback Binance stand-in answering HTTP 429 to every second klines request.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBinanceStandin, type Standin } from '../fixtures/binance-standin.js'
import { runCli } from '../helpers.js'

const NOW = Date.UTC(2024, 0, 10, 5, 30)
let standin: Standin
let home: string

beforeAll(async () => {
  standin = await startBinanceStandin({ now: NOW, rateLimitEvery: 2 })
  home = mkdtempSync(join(tmpdir(), 'mtflow-ingest-retry-'))
})
afterAll(async () => {
  await standin.close()
  rmSync(home, { recursive: true, force: true })
})

describe('mtflow ingest ccxt retries', () => {
  it('prints one line per retry as it happens, as many as the report counts', async () => {
    const r = await runCli(['--home', home, 'ingest', 'ccxt', '--exchange', 'binance', '--symbols', 'BTC/USDT,ETH/USDT', '--timeframe', '1h', '--since', '2024-01-09T00:00:00Z', '--api-url', standin.url, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const reports = JSON.parse(r.stdout) as { retried: Record<string, number> }[]
    const counted = reports.reduce((n, rep) => n + Object.values(rep.retried).reduce((a, b) => a + b, 0), 0)
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('mtflow: attempt'))
    expect(counted).toBeGreaterThanOrEqual(1)
    expect(lines).toHaveLength(counted)
    // Every second klines request is refused once, so each retry is the first attempt's, after the first
    // delay (500 ms by default); ccxt's binance classes HTTP 429 as DDoSProtection.
    for (const line of lines) expect(line).toMatch(/^mtflow: attempt 1 of 6 failed \((DDoSProtection|RateLimitExceeded): .+\); retrying in 0\.5 s$/)
  })
})
