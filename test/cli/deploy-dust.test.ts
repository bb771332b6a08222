// `mtflow deploy status` shows dust apart from the positions: what a fee taken in the coins bought leaves below the
// market's least order amount (lib/live/README.md). The status file is the one a live deployment writes (its
// `dust` field, test/live/base-fee-dust.test.ts); here it is written by hand so the text is checked alone.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers.js'

describe('mtflow deploy status with dust', () => {
  it('lists the dust under its own heading, not as a position', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-dust-status-'))
    const dir = join(home, 'deployments', 'dusty')
    mkdirSync(dir, { recursive: true })
    const status = {
      name: 'dusty', state: 'stopped', pid: 1, mode: 'live', exchange: 'binance', strategy: 'sma-cross@1', symbols: ['BTC/USDT'], timeframe: '1m',
      startedAt: '2024-01-10T05:00:00.000Z', updatedAt: '2024-01-10T06:00:00.000Z', bars: 60, equity: 10_012.25, cash: 10_012.02,
      positions: [], dust: [{ symbol: 'BTC/USDT', qty: 0.0000077, value: 0.23 }], openOrders: [], trades: [], tradeCount: 1, fills: 2, journal: join(dir, 'journal.jsonl'),
    }
    writeFileSync(join(dir, 'status.json'), JSON.stringify(status))
    const out = await runCli(['--home', home, 'deploy', 'status', 'dusty'])
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout).toMatch(/\npositions\nnone\n/)
    expect(out.stdout).toMatch(/\ndust \(below the market's least order amount: flat for the strategy, in the equity\)\n.*symbol\s+qty\s+value.*\n.*BTC\/USDT\s+0\.0000077\s+0\.23/s)
  })
})
