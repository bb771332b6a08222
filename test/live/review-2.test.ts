// An independent review, by tests, of a55f09c (a live intent fsync'd in the thread pool while its order goes
// out; a live start looking up the client ids after the journal's last). Power losses are simulated by cutting
// the journal file where the disk could have left it; kill -9 by cutting it where the page cache had it. The
// exchange is the Binance stand-in driven through the real ccxt; expected numbers come from the stand-in's
// price function, its fee rate and what it recorded. Each test says how the deployment should behave; the
// eight that failed when the review was written pass since their defects were fixed (lib/live/PLAN.md item 16).

import fs, { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { OrderJournal } from '../../lib/live/index.js'
import { standinPrice } from '../fixtures/binance-standin.js'
import type { Context } from '../../lib/strategy/index.js'
import { cent, cleanup, CREDS, FEE, M, marketAt, r8, S, T0, world } from './live-harness.js'

/** The journal's lines; `cutAt` keeps those before line `at` (what a power loss or a kill leaves). */
const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
function cutAt(file: string, at: number): void {
  expect(at).toBeGreaterThan(0)
  writeFileSync(file, `${linesOf(file).slice(0, at).join('\n')}\n`)
}
const firstIndex = (file: string, test: (e: Record<string, unknown>) => boolean) => linesOf(file).findIndex((l) => l.startsWith('{') && !l.startsWith('{"#') && test(JSON.parse(l) as Record<string, unknown>))
const cids = (posts: { params: Record<string, string> }[]) => posts.map((p) => p.params.newClientOrderId as string)

type Script = Record<number, (ctx: Context<Record<string, number>>) => void>

/**
 * A deployment process like the harness's `start`, with the venue's options in the test's hands: `since` as
 * the CLI leaves it (the venue's own default) and ccxt capabilities switched off.
 */
function startWith(w: Awaited<ReturnType<typeof world>>, name: string, script: Script, venueOpts: { since?: number; without?: string[]; symbols?: string[] } = {}) {
  return w.start(name, script, { since: venueOpts.since ?? 'venue', ...(venueOpts.without === undefined ? {} : { without: venueOpts.without }), ...(venueOpts.symbols === undefined ? {} : { over: { symbols: venueOpts.symbols } }) })
}

describe('review 2: intents a power loss took, found again at the restart', () => {
  it('three intents that reached no venue order, then one that did, all lost: the fourth is still found, and no client id is sent twice', async () => {
    const { start, posts } = await world()
    // One step: three orders ccxt refuses before sending (below the lot step), then one the exchange fills.
    const d1 = start('window', {
      1: (ctx) => {
        for (let k = 0; k < 3; k++) ctx.buy('BTC/USDT', { qty: 0.000001 })
        ctx.buy('BTC/USDT', { qty: 0.01 })
      },
    })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    expect(posts()).toHaveLength(1)
    const [lost] = cids(posts())
    expect(d1.journal().order(lost!).seq).toBe(4)
    // The power loss: all four intents (written within one running fsync) gone.
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent'))

    const d2 = start('window', { 1: (ctx) => [0, 1, 2].forEach(() => ctx.buy('BTC/USDT', { qty: 0.01 })), 2: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
    for (const i of [3, 4, 5, 6]) await d2.step(i)
    const status = await d2.stop()
    // Never the same client id twice at the exchange (Binance accepts a closed order's id again).
    const sent = cids(posts())
    expect(new Set(sent).size).toBe(sent.length)
    // The lost order is the deployment's, journaled from the venue, not a change "outside" it.
    expect(d2.journal().order(lost!)).toMatchObject({ role: 'recovered', state: 'FILLED', filled: 0.01 })
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.05 })])
  })

  it('a recovered order filled in part and still open: cancelled, its fill booked once; two more restarts change nothing', async () => {
    const { s, start } = await world()
    const limit = cent(marketAt(1) - 30)
    const d1 = start('partial', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit }) })
    for (const i of [0, 1, 2]) await d1.step(i)
    const cid = s.orders[0]!.clientOrderId
    s.fill(cid, 0.005)
    await d1.step(3)
    await d1.stop()
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent'))

    const fee = r8(0.005 * limit * FEE)
    const cash = 10_000 - 0.005 * limit - fee
    const d2 = start('partial', {})
    await d2.step(4)
    expect(s.orders[0]!.status).toBe('CANCELED')
    expect(d2.journal().order(cid)).toMatchObject({ role: 'recovered', state: 'CANCELLED', filled: 0.005, avgPrice: limit, fees: fee, kind: 'limit', price: limit, qty: 0.02 })
    expect(d2.status().openOrders).toEqual([])
    const after2 = await d2.stop()
    expect(after2.positions).toEqual([expect.objectContaining({ qty: 0.005, avgPrice: limit })])
    expect(after2.cash).toBeCloseTo(cash, 8)
    const journalAfter2 = readFileSync(file, 'utf8')

    for (const i of [5, 6]) {
      const d = start('partial', {})
      await d.step(i)
      const st = await d.stop()
      expect(st.positions).toEqual([expect.objectContaining({ qty: 0.005, avgPrice: limit })])
      expect(st.cash).toBeCloseTo(cash, 8)
      expect(st.openOrders).toEqual([])
      expect(d.alerts().filter((a) => a.startsWith('recovered '))).toHaveLength(1) // the first restart's, only
    }
    const text = readFileSync(file, 'utf8')
    // Only snapshots and marks were added: the recovered order is journaled once, its fill once, no new skip.
    const added = text.slice(journalAfter2.length).split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { type: string }).type)
    expect(new Set(added)).toEqual(new Set(['mark', 'snapshot']))
    expect(text.match(/"type":"intent"/g)).toHaveLength(1)
    expect(text.match(/"type":"fill"/g)).toHaveLength(1)
    expect(s.balance('BTC')).toEqual({ free: 0.005, locked: 0 })
  })

  it('a torn last line (the intent cut in the middle): the order is recovered once, and the torn line stays harmless over two restarts', async () => {
    const { s, start, posts } = await world()
    const d1 = start('torn', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    const cid = s.orders[0]!.clientOrderId
    const file = d1.journal().file
    const lines = linesOf(file)
    const at = firstIndex(file, (e) => e.type === 'intent')
    writeFileSync(file, `${lines.slice(0, at).join('\n')}\n${lines[at]!.slice(0, 40)}`) // no newline: torn
    expect(d1.journal().current).toMatchObject({ torn: 1, nextSeq: 1 })
    const p1 = marketAt(1)
    for (const i of [3, 5]) {
      const d = start('torn', {})
      await d.step(i)
      const status = await d.stop()
      expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01, avgPrice: p1 })])
      expect(d.journal().order(cid)).toMatchObject({ seq: 1, role: 'recovered', state: 'FILLED', filled: 0.01 })
      expect(d.journal().current.torn).toBe(1)
    }
    const parsed = linesOf(file).flatMap((l) => {
      try {
        return [JSON.parse(l) as { type: string }]
      } catch {
        return [] // the torn line
      }
    })
    expect(parsed.filter((e) => e.type === 'intent')).toHaveLength(1)
    expect(posts()).toHaveLength(1)
  })

  it('a recovered open order whose cancel at the restart failed: the next restart cancels it (it is nobody\'s order), never leaves it working', async () => {
    const { s, start, posts } = await world()
    const limit = cent(marketAt(1) - 30)
    const d1 = start('recancel', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit }) })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    const cid = s.orders[0]!.clientOrderId
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent'))
    // The restart recovers it and asks for its cancel, which the exchange refuses (maintenance, 3 attempts).
    s.fault('DELETE /api/v3/order', ...Array.from({ length: 3 }, () => ({ kind: 'maintenance' as const })))
    const d2 = start('recancel', {})
    await d2.step(3)
    await d2.stop()
    expect(s.orders[0]!.status).toBe('NEW')
    expect(d2.journal().order(cid)).toMatchObject({ role: 'recovered' })
    const d3 = start('recancel', {})
    await d3.step(4)
    await d3.step(5)
    const status = await d3.stop()
    expect(s.orders[0]!.status).toBe('CANCELED')
    expect(d3.journal().order(cid)).toMatchObject({ state: 'CANCELLED', filled: 0 })
    expect(status.openOrders).toEqual([])
    expect(posts()).toHaveLength(1)
  })

  it('a stop-loss leg whose intent was lost (its entry\'s fill on disk): the restart keeps the position protected at the exchange', async () => {
    const { s, start } = await world()
    const p1 = marketAt(1)
    const sl = cent(p1 - 50)
    const d1 = start('leg', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: sl }) })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    expect(s.orders.map((o) => [o.side, o.type, o.status])).toEqual([
      ['BUY', 'MARKET', 'FILLED'],
      ['SELL', 'STOP_LOSS', 'NEW'],
    ])
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent' && e.role === 'stop-loss'))
    expect(d1.journal().position('scripted', 'BTC/USDT')).toBe(0.01)

    const d2 = start('leg', {})
    await d2.step(3)
    await d2.step(4)
    const status = await d2.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01 })])
    // A sell stop for the whole position rests at the exchange, and the deployment knows it as its stop.
    expect(s.orders.filter((o) => o.type === 'STOP_LOSS' && o.status === 'NEW').map((o) => [o.side, o.origQty, o.stopPrice])).toEqual([['SELL', 0.01, sl]])
    expect(status.openOrders.map((o) => [o.role, o.side, o.qty, o.stop])).toEqual([['stop-loss', 'sell', 0.01, sl]])
  })

  it('a restart between a bracket leg\'s cancel (for its replacement) and the new leg\'s intent: the position still gets its stop', async () => {
    const { s, start } = await world()
    let low = T0
    for (let t = T0; t < T0 + 4 * 1440 * M; t += M) if (marketAt((t - T0) / M - 1) < marketAt((low - T0) / M - 1)) low = t
    const stop = cent(marketAt((low - T0) / M - 1) + 2)
    const limit = cent(marketAt(1) - 1)
    const d1 = start('replace', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit, stopLoss: stop }) })
    await d1.step(0)
    await d1.step(1)
    const entry = s.orders[0]!.clientOrderId
    s.fill(entry, 0.008)
    await d1.step(2) // the leg goes out for 0.008
    s.fill(entry, 0.012)
    // The replacement's request never reaches the matching engine: from the exchange's side, the process
    // died after the old leg's cancel was confirmed and before the new leg left.
    s.fault('POST /api/v3/order', { kind: 'stall' })
    await d1.step(3)
    await d1.stop()
    expect(s.orders.map((o) => [o.type, o.origQty, o.status])).toEqual([
      ['LIMIT', 0.02, 'FILLED'],
      ['STOP_LOSS', 0.008, 'CANCELED'],
    ])
    // kill -9 right after the old leg's cancel was journaled (nothing after it was written).
    const file = d1.journal().file
    const at = firstIndex(file, (e) => e.type === 'cancel' && String(e.reason).startsWith('replaced'))
    expect(at).toBeGreaterThan(0)
    cutAt(file, at + 1)
    expect(d1.journal().position('scripted', 'BTC/USDT')).toBe(0.02)

    const d2 = start('replace', {})
    await d2.step(4)
    await d2.step(5)
    const status = await d2.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.02 })])
    expect(s.orders.filter((o) => o.type === 'STOP_LOSS' && o.status === 'NEW').map((o) => [o.origQty, o.stopPrice])).toEqual([[0.02, stop]])
    expect(status.openOrders.map((o) => [o.role, o.qty, o.stop])).toEqual([['stop-loss', 0.02, stop]])
  })
})

describe('review 2: exchanges that look orders up through lists (no fetchOrder / fetchOrderTrades), as the CLI starts the venue', () => {
  it('a restart 5 minutes after a power loss, without fetchOrderTrades: the recovered filled order has its fill, and no outside booking', async () => {
    const w = await world()
    const { s, posts } = w
    const d1 = startWith(w, 'notrades', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) }, { without: ['fetchOrderTrades'] })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    const [lost] = cids(posts())
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent'))
    s.setNow(T0 + 8 * M) // the machine comes back 5 minutes later
    const d2 = startWith(w, 'notrades', {}, { without: ['fetchOrderTrades'] })
    await d2.step(8)
    const status = await d2.stop()
    const p1 = marketAt(1)
    expect(d2.journal().order(lost!)).toMatchObject({ role: 'recovered', state: 'FILLED', filled: 0.01, avgPrice: p1 })
    expect([...d2.journal().current.orders.values()].filter((o) => o.role === 'outside')).toEqual([])
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01, avgPrice: p1 })])
  })

  it('without fetchOrder, two orders lost to a power loss, restarted 5 minutes later: found, and no client id sent twice', async () => {
    const w = await world()
    const { s, posts } = w
    const d1 = startWith(w, 'nofetch', { 1: (ctx) => [0, 1].forEach(() => ctx.buy('BTC/USDT', { qty: 0.01 })) }, { without: ['fetchOrder'] })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    expect(posts()).toHaveLength(2)
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent'))
    s.setNow(T0 + 8 * M)
    const d2 = startWith(w, 'nofetch', { 1: (ctx) => [0, 1].forEach(() => ctx.buy('BTC/USDT', { qty: 0.01 })) }, { without: ['fetchOrder'] })
    for (const i of [8, 9, 10]) await d2.step(i)
    const status = await d2.stop()
    const sent = cids(posts())
    expect(sent).toHaveLength(4)
    expect(new Set(sent).size).toBe(4)
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.04 })])
  })

  it('without fetchOrder, a send left unanswered by a kill, restarted 5 minutes later: the order is found FILLED, not "never reached the venue"', async () => {
    const w = await world()
    const { s, posts } = w
    const d1 = startWith(w, 'unknown60', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) }, { without: ['fetchOrder'] })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    const [cid] = cids(posts())
    const file = d1.journal().file
    // kill -9 after "sent", before the answer: the journal ends with the order SENT (UNKNOWN when read back).
    cutAt(file, firstIndex(file, (e) => e.type === 'sent') + 1)
    expect(d1.journal().order(cid!).state).toBe('UNKNOWN')
    s.setNow(T0 + 8 * M)
    const d2 = startWith(w, 'unknown60', {}, { without: ['fetchOrder'] })
    for (const i of [8, 9, 10]) await d2.step(i)
    const status = await d2.stop()
    const p1 = marketAt(1)
    expect(d2.journal().order(cid!)).toMatchObject({ state: 'FILLED', filled: 0.01, avgPrice: p1 })
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01, avgPrice: p1 })])
    expect(posts()).toHaveLength(1)
  })
})

describe('review 2: the journal\'s background fsync', () => {
  const fdsOn = (file: string) =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === file
      } catch {
        return false
      }
    }).length

  it('close() while an fsync runs, reopened by the next intent, closed again: every descriptor is closed once the fsyncs are done, and both intents are on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-review2-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const j = OrderJournal.open(dir, 'reopen')
    const intent = { strategy: 's', symbol: 'BTC/USDT', side: 'buy' as const, qty: 1, kind: 'market' as const }
    j.intent(intent, 1) // its fsync starts in the thread pool
    j.close() // while it runs
    j.intent(intent, 2) // reopens the file
    j.close()
    await j.synced()
    for (let n = 0; n < 50 && fdsOn(j.file) > 0; n++) await new Promise((r) => setTimeout(r, 10))
    expect(fdsOn(j.file)).toBe(0)
    expect([...OrderJournal.open(dir, 'reopen').current.orders.values()].map((o) => o.seq)).toEqual([1, 2])
  })

  it('many intents in one step: each is written before its order leaves, fsyncs run one at a time and the last intent is covered by one', async () => {
    const plain = fs.fsync
    const calls: { fd: number; size: number }[] = []
    let running = 0
    let overlapped = false
    ;(fs as { fsync: unknown }).fsync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
      let file = ''
      try {
        file = readlinkSync(`/proc/self/fd/${fd}`)
      } catch {
        /* closed */
      }
      if (!file.endsWith('journal.jsonl')) return plain(fd, callback)
      calls.push({ fd, size: fs.fstatSync(fd).size })
      if (++running > 1) overlapped = true
      plain(fd, (e) => {
        running--
        callback(e)
      })
    }
    syncBuiltinESMExports()
    try {
      const { start, posts } = await world()
      const d = start('many', { 1: (ctx) => [0, 1, 2, 3, 4, 5, 6, 7].forEach(() => ctx.buy('BTC/USDT', { qty: 0.01 })) })
      await d.step(0)
      await d.step(1)
      const file = d.journal().file
      expect(posts()).toHaveLength(8)
      // The owed fsync starts when the running one returns (on a loaded machine, after the step returned).
      // d.journal() is a new reader of the file (its synced() resolves at once): wait for the deployment's own
      // fsyncs here instead. An owed one starts in the callback of the one before, so none is left once none runs.
      while (running > 0) await new Promise((r) => setTimeout(r, 5))
      expect(overlapped).toBe(false)
      // The last fsync started after the last intent was written: it covers all eight.
      const lines = readFileSync(file, 'utf8')
      const lastIntentEnd = Buffer.byteLength(lines.slice(0, lines.lastIndexOf('"type":"intent"'))) + 1
      expect(calls.length).toBeGreaterThanOrEqual(1)
      expect(Math.max(...calls.map((c) => c.size))).toBeGreaterThanOrEqual(lastIntentEnd)
      await d.stop()
    } finally {
      ;(fs as { fsync: unknown }).fsync = plain
      syncBuiltinESMExports()
    }
  })

  it('a background fsync that fails: no order is sent after it, the deployment stops taking orders and says why (halted or failed, naming the fsync), and a restart knows the order that went out', async () => {
    const plain = fs.fsync
    let fail = false
    ;(fs as { fsync: unknown }).fsync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
      let file = ''
      try {
        file = readlinkSync(`/proc/self/fd/${fd}`)
      } catch {
        /* closed */
      }
      if (fail && file.endsWith('journal.jsonl')) {
        fail = false
        const error = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })
        setImmediate(() => callback(error))
        return
      }
      plain(fd, callback)
    }
    syncBuiltinESMExports()
    try {
      const { s, start, posts } = await world()
      const d = start('eio', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }), 2: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }), 3: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) })
      await d.step(0)
      fail = true
      let error: unknown
      for (const i of [1, 2, 3]) await d.step(i).catch((e: unknown) => (error ??= e))
      const status = await d.stop().catch((e: unknown) => {
        error ??= e
        return d.status()
      })
      expect(posts()).toHaveLength(1) // the order whose intent's fsync failed went out; nothing after it
      expect(['halted', 'failed']).toContain(status.state)
      expect(status.reason).toMatch(/an earlier fsync failed \(EIO/)
      expect(error).toBeInstanceOf(Error)
      expect((error as Error).name).not.toBe('StrategyError')
      // The disk works again: the restart finds the order that went out (its ack never reached the journal).
      ;(fs as { fsync: unknown }).fsync = plain
      syncBuiltinESMExports()
      const again = start('eio', {})
      await again.step(5)
      const after = await again.stop()
      const cid = s.orders[0]!.clientOrderId
      expect(again.journal().order(cid)).toMatchObject({ state: 'FILLED', filled: 0.01, avgPrice: marketAt(1) })
      expect(after.positions).toEqual([expect.objectContaining({ qty: 0.01, avgPrice: marketAt(1) })])
      expect(posts()).toHaveLength(1)
    } finally {
      ;(fs as { fsync: unknown }).fsync = plain
      syncBuiltinESMExports()
    }
  })
})

describe('review 2: two symbols', () => {
  it('lost intents on both symbols, one filled, one open: each found on its own symbol and booked to it; nothing sent twice', async () => {
    const w = await world()
    const { s, posts } = w
    const two = { symbols: ['BTC/USDT', 'ETH/USDT'] }
    const eth = standinPrice('ETHUSDT', T0 + 2 * M + S)
    const limit = cent(eth - 5)
    const d1 = startWith(w, 'two', { 1: (ctx) => {
      ctx.buy('ETH/USDT', { qty: 0.1, limit })
      ctx.buy('BTC/USDT', { qty: 0.01 })
    } }, two)
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    expect(s.orders.map((o) => [o.symbol, o.type, o.status])).toEqual([['ETHUSDT', 'LIMIT', 'NEW'], ['BTCUSDT', 'MARKET', 'FILLED']])
    const [ethCid, btcCid] = s.orders.map((o) => o.clientOrderId)
    s.fill(ethCid!, 0.04) // in part, while down
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent'))
    const d2 = startWith(w, 'two', {}, two)
    await d2.step(3)
    await d2.step(4)
    const status = await d2.stop()
    const j = d2.journal()
    expect(j.order(ethCid!)).toMatchObject({ symbol: 'ETH/USDT', role: 'recovered', state: 'CANCELLED', filled: 0.04, avgPrice: limit })
    expect(j.order(btcCid!)).toMatchObject({ symbol: 'BTC/USDT', role: 'recovered', state: 'FILLED', filled: 0.01, avgPrice: marketAt(1) })
    expect(s.orders[0]!.status).toBe('CANCELED')
    expect(status.positions.map((p) => [p.symbol, p.qty]).sort()).toEqual([['BTC/USDT', 0.01], ['ETH/USDT', 0.04]])
    expect([...j.current.orders.values()].filter((o) => o.role === 'outside')).toEqual([])
    expect(posts()).toHaveLength(2)
  })
})

describe('review 2: signatures by node:crypto on the live path', () => {
  it('every signed request a deployment sends carries HMAC-SHA256(secret, its own query) — computed here, not by ccxt or the code under test', async () => {
    const { s, start, posts } = await world()
    const seen: { method: string; path: string; payload: string }[] = []
    s.server.prependListener('request', (req) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (!/^\/api\/v3\/(order|openOrders|allOrders|myTrades|account)$/.test(url.pathname)) return
      let body = ''
      req.on('data', (b: Buffer) => (body += b.toString()))
      req.on('end', () => seen.push({ method: req.method ?? '', path: url.pathname, payload: [url.search.slice(1), body].filter((x) => x !== '').join('&') }))
    })
    const limit = cent(marketAt(1) - 30)
    let id = 0
    const d = start('hmac', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }), 2: (ctx) => (id = ctx.buy('BTC/USDT', { qty: 0.01, limit }).id), 3: (ctx) => ctx.cancel(id) })
    for (const i of [0, 1, 2, 3, 4]) await d.step(i)
    await d.stop()
    expect(posts()).toHaveLength(2)
    expect(seen.filter((r) => r.method === 'POST')).toHaveLength(2)
    expect(seen.filter((r) => r.method === 'DELETE')).toHaveLength(1)
    expect(seen.length).toBeGreaterThan(5)
    const { createHmac } = await import('node:crypto')
    for (const r of seen) {
      const m = /^(.*)&signature=([0-9a-f]{64})$/.exec(r.payload)
      expect(m, `${r.method} ${r.path}`).not.toBeNull()
      expect(m![2], `${r.method} ${r.path}`).toBe(createHmac('sha256', CREDS.secret).update(m![1]!).digest('hex'))
    }
  })
})
