// A restart books the journal's fills back into a fresh engine before any bar has come (lib/live/deployment.ts
// restore). Until the warm-up history or the feed marks the symbol, the newest fill is the price known: the
// status written right after the restore valued the position at the journal's oldest fill (a numbers audit:
// equity 10,044.05 where the last price traded was 105, i.e. 10,039.05). Worked by hand below.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { __test } from '../../lib/live/deployment.js'
import { EngineSession, ManualClock, OrderJournal } from '../../lib/live/index.js'
import { smaCross } from '../../lib/strategy/builtin/sma-cross.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('a restart values the restored position at the newest fill until a bar comes', () => {
  it('buy 3 @100 in two fills, sell 5 @110 (a reversal to −2), a limit buy filled 1 of 2 @105: cash, position, realized, and equity at 105', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-restore-mark-'))
    dirs.push(dir)
    const j = OrderJournal.open(dir, 'dep-r')
    const a = j.intent({ strategy: 'sma-cross', symbol: 'SPX', side: 'buy', qty: 3, kind: 'market', role: 'entry' }, 1, true)
    j.fill(a.clientOrderId, { tradeId: 't1', qty: 1.2, price: 100, fee: 0.12 }, 1)
    j.fill(a.clientOrderId, { tradeId: 't2', qty: 1.8, price: 100, fee: 0.18 }, 1)
    const b = j.intent({ strategy: 'sma-cross', symbol: 'SPX', side: 'sell', qty: 5, kind: 'market', role: 'entry' }, 2, true)
    j.fill(b.clientOrderId, { tradeId: 't3', qty: 5, price: 110, fee: 0.55 }, 2)
    const c = j.intent({ strategy: 'sma-cross', symbol: 'SPX', side: 'buy', qty: 2, kind: 'limit', price: 105, role: 'exit' }, 3, true)
    j.fill(c.clientOrderId, { tradeId: 't4', qty: 1, price: 105, fee: 0.1 }, 3)
    j.close()

    const journal = OrderJournal.open(dir, 'dep-r')
    try {
      const session = new EngineSession({ cash: 10_000, sleeves: [{ strategy: smaCross, params: { fast: 10, slow: 30, short: 1 }, symbols: ['SPX'], timeframe: '1d', weight: 1, name: 'sma-cross' }] }, { journal })
      __test.restore(session, journal, new ManualClock(10))
      const book = session.engine.sleeves[0]!.book
      const p = book.positions[0]!
      // Cash: 10,000 − 300 − 0.30 + 550 − 0.55 − 105 − 0.10; realized: 3 × (110 − 100) on the reversal + 1 × (110 − 105).
      expect(book.cash).toBeCloseTo(10_144.05, 9)
      expect(p.qty).toBe(-1)
      expect(p.avgPrice).toBe(110)
      expect(p.realized).toBeCloseTo(35, 9)
      expect(session.engine.marks[0]).toBe(105)
      expect(book.equity).toBeCloseTo(10_144.05 - 105, 9)
    } finally {
      journal.close()
    }
  })
})
