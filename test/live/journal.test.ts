// The order journal (issue 19, point 2, first step): deterministic client order ids, the fold of events
// into orders and positions (hand-worked), duplicate trade ids counted once, illegal events refused and
// not written, the same state after a reopen, and a process SIGKILLed between send and answer restarting
// with that order UNKNOWN under the same client id (looked up, never sent again).

import { spawn } from 'node:child_process'
import fs, { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { clientOrderId, OrderJournal, positionAfterFill } from '../../lib/live/index.js'
import { FIXTURES } from '../helpers.js'

const dirs: string[] = []
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'mtflow-journal-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('client order ids', () => {
  it('are "mt" + 10 hex digits of the deployment id\'s sha256 + the sequence in base 36: alphanumeric, ≤ 23 characters', () => {
    const hash = createHash('sha256').update('dep-1').digest('hex').slice(0, 10)
    expect(clientOrderId('dep-1', 1)).toBe(`mt${hash}1`)
    expect(clientOrderId('dep-1', 36)).toBe(`mt${hash}10`)
    expect(clientOrderId('dep-1', Number.MAX_SAFE_INTEGER)).toMatch(/^mt[0-9a-f]{10}[0-9a-z]{11}$/)
    expect(clientOrderId('dep-1', Number.MAX_SAFE_INTEGER).length).toBe(23)
    expect(clientOrderId('dep-2', 1)).not.toBe(clientOrderId('dep-1', 1))
    for (const bad of [0, -1, 1.5, NaN]) expect(() => clientOrderId('d', bad)).toThrow('an order sequence number must be an integer ≥ 1')
  })
})

describe('the fold', () => {
  it('orders, partial fills, fees and positions per strategy, worked by hand', () => {
    const dir = fresh()
    const j = OrderJournal.open(dir, 'd')
    const a = j.intent({ strategy: 'trend', symbol: 'BTC/USDT', side: 'buy', qty: 2, kind: 'limit', price: 100 }, 1)
    const b = j.intent({ strategy: 'revert', symbol: 'BTC/USDT', side: 'sell', qty: 1, kind: 'market' }, 2)
    expect([a.seq, b.seq]).toEqual([1, 2])
    j.sent(a.clientOrderId, 3)
    j.ack(a.clientOrderId, 'X-1', 4)
    expect(j.fill(a.clientOrderId, { tradeId: 't1', qty: 0.5, price: 100, fee: 0.05 }, 5)).toBe(true)
    // The same trade reported again (a REST backfill after the stream): counted once.
    expect(j.fill(a.clientOrderId, { tradeId: 't1', qty: 0.5, price: 100, fee: 0.05 }, 6)).toBe(false)
    expect(j.order(a.clientOrderId)).toMatchObject({ state: 'PARTIALLY_FILLED', filled: 0.5, avgPrice: 100, fees: 0.05, exchangeOrderId: 'X-1' })
    j.fill(a.clientOrderId, { tradeId: 't2', qty: 1.5, price: 96, fee: 0.15 }, 7)
    // Average price (0.5·100 + 1.5·96) / 2 = 97.
    expect(j.order(a.clientOrderId)).toMatchObject({ state: 'FILLED', filled: 2, avgPrice: 97 })
    expect(j.order(a.clientOrderId).fees).toBeCloseTo(0.2, 12)
    // A fill before its ack (the venue's stream can be faster than the answer), then a cancel that raced it.
    j.sent(b.clientOrderId, 8)
    j.fill(b.clientOrderId, { tradeId: 't3', qty: 0.25, price: 99, fee: 0 }, 9)
    j.cancel(b.clientOrderId, 10, 'strategy exit')
    expect(j.order(b.clientOrderId)).toMatchObject({ state: 'CANCELLED', filled: 0.25, reason: 'strategy exit' })
    // A late fill of the cancelled order still counts (the venue is the truth).
    j.fill(b.clientOrderId, { tradeId: 't4', qty: 0.25, price: 98, fee: 0 }, 11)
    expect(j.position('trend', 'BTC/USDT')).toBe(2)
    expect(j.position('revert', 'BTC/USDT')).toBe(-0.5)
    expect(j.current.nextSeq).toBe(3)
    // Reopened from disk: the same state.
    const again = OrderJournal.open(dir, 'd')
    expect([...again.current.orders.values()]).toEqual([...j.current.orders.values()])
    expect([...again.current.positions]).toEqual([
      ['trend|BTC/USDT', 2],
      ['revert|BTC/USDT', -0.5],
    ])
    expect(again.current.nextSeq).toBe(3)
    // 2 intents, 2 sents, 1 ack, 4 fills (the repeated t1 was not written), 1 cancel.
    expect(readFileSync(j.file, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(10)
  })

  it('refuses illegal events without writing them: nothing on disk changes', () => {
    const dir = fresh()
    const j = OrderJournal.open(dir, 'd')
    const o = j.intent({ strategy: 's', symbol: 'ETH/USDT', side: 'buy', qty: 1, kind: 'market' }, 1)
    const before = readFileSync(j.file, 'utf8')
    expect(() => j.fill(o.clientOrderId, { tradeId: 'x', qty: 1, price: 10, fee: 0 }, 2)).toThrow(`order ${o.clientOrderId} is INTENT; a fill cannot follow`)
    j.sent(o.clientOrderId, 2)
    expect(() => j.fill(o.clientOrderId, { tradeId: 'x', qty: 1.5, price: 10, fee: 0 }, 3)).toThrow('past its qty 1')
    j.reject(o.clientOrderId, 'InsufficientFunds', 3)
    expect(() => j.ack(o.clientOrderId, 'X', 4)).toThrow('is REJECTED; a ack cannot follow')
    expect(() => j.cancel('mt-not-ours', 4)).toThrow('"mt-not-ours", which the journal never sent')
    expect(() => j.intent({ strategy: 's', symbol: 'ETH/USDT', side: 'buy', qty: 0, kind: 'market' }, 5)).toThrow('order qty must be a finite number > 0')
    const after = readFileSync(j.file, 'utf8')
    expect(after.startsWith(before)).toBe(true)
    // Only "sent" and "reject" were added.
    expect(after.slice(before.length).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l).type)).toEqual(['sent', 'reject'])
  })

  it("takes a fill's fee units off its position (a buy's and a sell's), and refuses feeQty that is not a number below the fill's qty (on disk too)", () => {
    const dir = fresh()
    const j = OrderJournal.open(dir, 'd')
    const buy = j.intent({ strategy: 's', symbol: 'BTC/USDT', side: 'buy', qty: 0.01, kind: 'market' }, 1)
    const sell = j.intent({ strategy: 's', symbol: 'BTC/USDT', side: 'sell', qty: 0.005, kind: 'market' }, 1)
    j.sent(buy.clientOrderId, 2)
    j.sent(sell.clientOrderId, 2)
    for (const feeQty of [0.01, 0.02, -0.00001, NaN]) {
      expect(() => j.fill(buy.clientOrderId, { tradeId: `b${feeQty}`, qty: 0.01, price: 100, fee: 0.001, feeQty }, 3)).toThrow(/has feeQty .*; expected units below its qty/)
    }
    expect(() => j.fill(sell.clientOrderId, { tradeId: 's9', qty: 0.005, price: 100, fee: 0.001, feeQty: 0.005 }, 3)).toThrow(/\(sell 0\.005\) has feeQty 0\.005/)
    j.fill(buy.clientOrderId, { tradeId: 'b', qty: 0.01, price: 100, fee: 0.001, feeQty: 0.00001 }, 3)
    expect(j.position('s', 'BTC/USDT')).toBeCloseTo(0.00999, 15)
    expect(j.order(buy.clientOrderId)).toMatchObject({ state: 'FILLED', filled: 0.01 })
    // A sell paying its fee in the coins held (BNB/USDT in BNB): 0.00999 − 0.005 − 0.000005.
    j.fill(sell.clientOrderId, { tradeId: 's0', qty: 0.005, price: 100, fee: 0.0005, feeQty: 0.000005 }, 3)
    expect(j.position('s', 'BTC/USDT')).toBeCloseTo(0.004985, 15)
    // A journal whose fill carries feeQty as text (a hand-edited or foreign file) is refused when read.
    const text = readFileSync(j.file, 'utf8').replace('"feeQty":0.00001', '"feeQty":"0.00001"')
    const other = fresh()
    writeFileSync(join(other, 'journal.jsonl'), text)
    expect(() => OrderJournal.open(other, 'd')).toThrow(/has feeQty 0\.00001; expected units below its qty/)
  })
})

describe('a deployment killed between send and answer', () => {
  it('restarts with the order UNKNOWN under the same client id, and the next order gets the next sequence', async () => {
    const dir = fresh()
    const child = spawn(process.execPath, [join(FIXTURES, 'journal-writer.cjs'), dir, 'dep-kill'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const id = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve(out.trim())
      })
      child.on('exit', (code) => reject(new Error(`the writer exited (${code}) before printing`)))
    })
    child.kill('SIGKILL')
    await new Promise((r) => child.on('close', r))
    expect(id).toBe(clientOrderId('dep-kill', 1))
    const j = OrderJournal.open(dir, 'dep-kill')
    // Sent, never answered: it may be at the venue. Looked up by this id at reconciliation, never resent.
    expect(j.order(id)).toMatchObject({ state: 'UNKNOWN', qty: 0.5, filled: 0, strategy: 'sma-cross' })
    expect(j.current.torn).toBe(0)
    // The lookup found it at the venue, filled.
    j.ack(id, 'X-77', 2_000)
    j.fill(id, { tradeId: 'T-1', qty: 0.5, price: 42_000, fee: 0.01 }, 2_001)
    expect(j.position('sma-cross', 'BTC/USDT')).toBe(0.5)
    expect(j.intent({ strategy: 'sma-cross', symbol: 'BTC/USDT', side: 'sell', qty: 0.5, kind: 'market' }, 2_002).clientOrderId).toBe(clientOrderId('dep-kill', 2))
  }, 30_000)
})

describe('durability and the written records', () => {
  it('"step" holds events in memory until flush; "each" has every event on disk when the call returns', () => {
    const dir = fresh()
    const step = OrderJournal.open(dir, 'd', { durability: 'step' })
    const o = step.intent({ strategy: 's', symbol: 'X', side: 'buy', qty: 2, kind: 'market' }, 1)
    step.ack(o.clientOrderId, 'ex-1', 2)
    expect(step.current.orders.get(o.clientOrderId)!.state).toBe('ACKED') // folded at once
    expect(() => readFileSync(step.file, 'utf8')).toThrow() // nothing on disk yet
    step.flush()
    expect(OrderJournal.open(dir, 'd').order(o.clientOrderId).state).toBe('ACKED')
    step.close()
    const each = OrderJournal.open(fresh(), 'd')
    each.intent({ strategy: 's', symbol: 'X', side: 'buy', qty: 1, kind: 'market' }, 1)
    expect(readFileSync(each.file, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(1)
    expect(() => OrderJournal.open(fresh(), 'd', { durability: 'sometimes' as 'each' })).toThrow('journal durability must be "each", "strict" or "step" (received "sometimes")')
  })

  it('an amend follows a bracket leg; a tag starting with # and a time of NaN come back as written', () => {
    const dir = fresh()
    const j = OrderJournal.open(dir, 'd')
    const o = j.intent({ strategy: 's', symbol: 'X', side: 'sell', qty: 1, kind: 'stop', price: 95, role: 'stop-loss', tag: '#7', parentCid: 'mtabc1', orderId: 4 }, NaN)
    j.ack(o.clientOrderId, 'e', 1)
    j.fill(o.clientOrderId, { tradeId: 't1', qty: 1, price: 95, fee: 0.1 }, 2)
    expect(j.order(o.clientOrderId).state).toBe('FILLED')
    const p = j.intent({ strategy: 's', symbol: 'X', side: 'sell', qty: 1, kind: 'limit', price: 110 }, 3)
    j.ack(p.clientOrderId, 'e2', 3)
    j.fill(p.clientOrderId, { tradeId: 't2', qty: 0.5, price: 110, fee: 0 }, 4)
    j.amend(p.clientOrderId, 3, 5) // the entry filled more: the leg grows
    expect(j.order(p.clientOrderId)).toMatchObject({ qty: 3, filled: 0.5, state: 'PARTIALLY_FILLED' })
    expect(() => j.amend(p.clientOrderId, 0.25, 6)).toThrow(/amend of .* to qty 0.25/) // below what filled
    j.amend(p.clientOrderId, 0.5, 7) // the sibling filled: this leg shrinks to what it has
    expect(j.order(p.clientOrderId).state).toBe('FILLED')
    const again = OrderJournal.open(dir, 'd').current
    expect(again.orders.get(o.clientOrderId)).toMatchObject({ tag: '#7', role: 'stop-loss', parentCid: 'mtabc1', orderId: 4, price: 95 })
    expect(again.orders.get(p.clientOrderId)).toMatchObject({ qty: 0.5, filled: 0.5, state: 'FILLED' })
    expect(again.positions.get('s|X')).toBe(-1.5)
    const first = JSON.parse(readFileSync(j.file, 'utf8').split('\n').find((l) => l !== '')!) as Record<string, unknown>
    expect(first.time).toBe('#NaN')
    expect(first.tag).toBe('##7')
  })
})

describe('when an intent reaches the disk', () => {
  // node:fs's fsync and fsyncSync wrapped where the journal calls them (ES module importers see the
  // wrapper after syncBuiltinESMExports); `answer` decides how a background fsync returns.
  const plain = { fsync: fs.fsync, fsyncSync: fs.fsyncSync }
  let calls: string[] = []
  let answer: (callback: (error: NodeJS.ErrnoException | null) => void, fd: number) => void = (callback, fd) => plain.fsync(fd, callback)
  /** Counts the calls on files in `dir` only (a journal of an earlier test may still be finishing its fsync). */
  const wrap = (dir: string) => {
    calls = []
    const ours = (fd: number) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)
      } catch {
        return false
      }
    }
    ;(fs as { fsync: unknown }).fsync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
      if (ours(fd)) calls.push('fsync')
      answer(callback, fd)
    }
    fs.fsyncSync = (fd: number) => {
      if (ours(fd)) calls.push('fsyncSync')
      plain.fsyncSync(fd)
    }
    syncBuiltinESMExports()
  }
  afterEach(() => {
    ;(fs as { fsync: unknown }).fsync = plain.fsync
    fs.fsyncSync = plain.fsyncSync
    syncBuiltinESMExports()
    answer = (callback, fd) => plain.fsync(fd, callback)
  })
  const intent = { strategy: 's', symbol: 'X', side: 'buy' as const, qty: 1, kind: 'market' as const }

  it('"each": written before the call returns, its fsync started in the background (nothing synchronous on the way out); "strict": fsync\'d before it returns', async () => {
    const dir = fresh()
    wrap(dir)
    const each = OrderJournal.open(dir, 'd')
    const o = each.intent(intent, 1)
    each.sent(o.clientOrderId, 2)
    expect(calls).toEqual(['fsync']) // started, not waited for
    expect(readFileSync(each.file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l).type)).toEqual(['intent', 'sent'])
    await each.synced()
    // A new file's folder entry is synced once, after its first fsync returned (off the order's way).
    expect(calls).toEqual(['fsync', 'fsyncSync'])
    calls = []
    // A second intent while an fsync runs is owed another one after it (the running one may have missed it).
    answer = (callback, fd) => setTimeout(() => plain.fsync(fd, callback), 20)
    each.intent(intent, 3)
    each.intent(intent, 4)
    each.intent(intent, 5)
    expect(calls).toEqual(['fsync'])
    await each.synced()
    await new Promise((r) => setTimeout(r, 60))
    expect(calls).toEqual(['fsync', 'fsync'])
    each.close()

    const strictDir = fresh()
    wrap(strictDir)
    const strict = OrderJournal.open(strictDir, 'd', { durability: 'strict' })
    strict.intent(intent, 1)
    expect(calls).toEqual(['fsyncSync', 'fsyncSync']) // the file, then (new) its folder
    strict.intent(intent, 2)
    expect(calls).toEqual(['fsyncSync', 'fsyncSync', 'fsyncSync'])
    strict.close()
  })

  it('a background fsync that fails: the next event throws, naming the file and the error, and nothing more is written', async () => {
    const dir = fresh()
    wrap(dir)
    const j = OrderJournal.open(dir, 'd')
    answer = (callback) => setImmediate(() => callback(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })))
    const o = j.intent(intent, 1)
    await j.synced()
    expect(() => j.sent(o.clientOrderId, 2)).toThrow(`${j.file}: an earlier fsync failed (EIO: i/o error, fsync); the journal can no longer promise what is on disk, so nothing more is written (nor sent)`)
    expect(readFileSync(j.file, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(1)
    expect(j.order(o.clientOrderId).state).toBe('INTENT')
  })

  it('close while an fsync runs: closed once it returns; the file is whole and a reopened journal goes on', async () => {
    const dir = fresh()
    wrap(dir)
    const j = OrderJournal.open(dir, 'd')
    answer = (callback, fd) => setTimeout(() => plain.fsync(fd, callback), 30)
    const o = j.intent(intent, 1)
    j.close() // synchronously fsync'd (durable now), the descriptor left to the running fsync
    expect(calls).toEqual(['fsync', 'fsyncSync'])
    await j.synced()
    const again = OrderJournal.open(dir, 'd')
    expect(again.order(o.clientOrderId).state).toBe('UNKNOWN')
    again.ack(o.clientOrderId, 'ex-1', 2)
    again.close()
    expect(OrderJournal.open(dir, 'd').order(o.clientOrderId).state).toBe('ACKED')
  })

  it('skip gives a sequence number up: the next intent takes the one after it, also after a reopen', () => {
    const dir = fresh()
    const j = OrderJournal.open(dir, 'dep')
    j.skip('intent lost', 1)
    j.skip('intent lost', 2)
    const o = j.intent(intent, 3)
    expect(o.seq).toBe(3)
    expect(o.clientOrderId).toBe(clientOrderId('dep', 3))
    expect(j.clientIdOf(4)).toBe(clientOrderId('dep', 4))
    j.close()
    const lines = readFileSync(j.file, 'utf8').split('\n').filter((l) => l !== '')
    expect(lines[0]).toBe('{"type":"skip","seq":1,"reason":"intent lost","time":1}')
    expect(OrderJournal.open(dir, 'dep').current.nextSeq).toBe(4)
    // A skip out of turn is refused and not written.
    writeFileSync(join(dir, 'journal.jsonl'), `${lines.join('\n')}\n{"type":"skip","seq":9,"reason":"x","time":4}\n`)
    expect(() => OrderJournal.open(dir, 'dep')).toThrow('skip of sequence 9 where 4 was next')
  })
})

describe('positionAfterFill: fee units kept in the coins traded', () => {
  it('leave a long position, at most what it still holds; the rest was paid from coins outside it', () => {
    // A buy of 1 with 0.001 kept: 0.999; a sell of 0.5 paying 0.0005 from the coins held: 0.4985.
    expect(positionAfterFill(0, 'buy', 1, 0.001).position).toBeCloseTo(0.999, 15)
    expect(positionAfterFill(0.999, 'sell', 0.5, 0.0005)).toEqual({ position: expect.closeTo(0.4985, 15), outside: 0 })
    // Selling all of it: the fee came from coins outside the position, which stays at 0 (never −0.0004985).
    expect(positionAfterFill(0.4985, 'sell', 0.4985, 0.0004985)).toEqual({ position: 0, outside: 0.0004985 })
    // A short is not where fee units come from (a margin venue charges its fee otherwise): all of it outside.
    expect(positionAfterFill(0, 'sell', 2, 0.002)).toEqual({ position: -2, outside: 0.002 })
  })
})
