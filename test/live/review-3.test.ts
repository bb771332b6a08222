// An independent review, by tests, of the newest live-trading work: spot brackets as one OCO list
// (cb3e52f, deb9354, 142ab17, f160582), a restart listing the venue's orders since its journal's last event
// (d3563a8), owed bracket legs placed again at a restart (1921645) and the strategy's state warmed from the
// history (da50b00). The exchange is the Binance stand-in driven through the real ccxt; expected numbers
// come from the stand-in's price function and what it recorded. Each test says how the deployment should
// behave; the seven that failed when the review was written pass since their defects were fixed.

import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { defineStrategy, type Context } from '../../lib/strategy/index.js'
import { standinCandle, type StandinOrder } from '../fixtures/binance-standin.js'
import { cent, M, marketAt, S, T0, world } from './live-harness.js'

const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
/** Keeps the journal's lines before line `at` (what a power loss or a kill leaves). */
function cutAt(file: string, at: number): void {
  expect(at).toBeGreaterThan(0)
  writeFileSync(file, `${linesOf(file).slice(0, at).join('\n')}\n`)
}
const firstIndex = (file: string, test: (e: Record<string, unknown>) => boolean) => linesOf(file).findIndex((l) => l.startsWith('{') && !l.startsWith('{"#') && test(JSON.parse(l) as Record<string, unknown>))
const openAt = (s: { orders: StandinOrder[] }) => s.orders.filter((o) => o.status === 'NEW' || o.status === 'PARTIALLY_FILLED')
type Script = Record<number, (ctx: Context<Record<string, number>>) => void>

describe('review 3: a bracket as one OCO list on spot', () => {
  it('the take-profit fills in part (Binance expires the stop): the rest of the position is still protected by a stop at the exchange, nothing refused', async () => {
    const { s, start } = await world()
    const p1 = marketAt(1)
    const sl = cent(p1 - 50)
    const tp = cent(p1 + 50)
    const d = start('tp-part', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: sl, takeProfit: tp }) })
    for (const i of [0, 1, 2]) await d.step(i)
    expect(s.lists).toHaveLength(1)
    const take = s.orders.find((o) => o.type === 'LIMIT_MAKER')!
    s.fill(take.clientOrderId, 0.004) // at its limit; the exchange expires the stop at once
    expect(s.orders.find((o) => o.type === 'STOP_LOSS')!.status).toBe('EXPIRED')
    await d.step(3)
    await d.step(4)
    const status = await d.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.006 })])
    // What is left (0.006) must still have a stop at `sl` resting at the exchange: a sell that a fall through
    // the stop would execute, for all of it.
    const stops = openAt(s).filter((o) => o.type === 'STOP_LOSS' && o.side === 'SELL')
    expect(stops.map((o) => [o.stopPrice, Math.round((o.origQty - o.executedQty) * 1e8) / 1e8])).toEqual([[sl, 0.006]])
    expect(d.alerts().filter((a) => a.includes('was refused'))).toEqual([])
  })

  it('an entry filled in two parts while the first list\'s take-profit fills at the exchange: the rest of the position gets one new list, for what is left, nothing refused', async () => {
    const { s, start } = await world()
    const limit = cent(marketAt(1) - 1) // rests: the price moves less than 10 cents a minute
    const sl = cent(limit - 60)
    const tp = cent(limit + 60)
    const d = start('race', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.02, limit, stopLoss: sl, takeProfit: tp }) })
    await d.step(0)
    await d.step(1)
    const entry = s.orders[0]!.clientOrderId
    s.fill(entry, 0.008)
    await d.step(2) // the list goes out for 0.008
    expect(s.lists).toHaveLength(1)
    const take = s.orders.find((o) => o.type === 'LIMIT_MAKER')!
    // Before the deployment hears of the entry's second fill (and replaces the list), the take-profit executes.
    s.fill(entry, 0.012)
    s.fill(take.clientOrderId, 0.008)
    await d.step(3)
    await d.step(4)
    const status = await d.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.012 })])
    // 0.02 bought, 0.008 sold at the take-profit: 0.012 left, under one list of both legs.
    const open = openAt(s)
    expect(open.map((o) => [o.type, o.origQty, o.type === 'STOP_LOSS' ? o.stopPrice : o.price]).sort()).toEqual([
      ['LIMIT_MAKER', 0.012, tp],
      ['STOP_LOSS', 0.012, sl],
    ])
    expect(new Set(open.map((o) => o.orderListId)).size).toBe(1)
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0.012 })
    expect(d.alerts().filter((a) => a.includes('was refused') || a.includes('filled past'))).toEqual([])
  })

  it('closing the position while its list rests: the exit waits until the list is cancelled (one DELETE), then sells all of it', async () => {
    const { s, start, posts } = await world()
    const p1 = marketAt(1)
    const d = start('close-list', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: cent(p1 - 50), takeProfit: cent(p1 + 50) }), 3: (ctx) => ctx.close('BTC/USDT') })
    for (const i of [0, 1, 2]) await d.step(i)
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0.01 })
    s.fault('DELETE /api/v3/order', { kind: 'delay', ms: 300 })
    await d.step(3)
    await d.step(4)
    const status = await d.stop()
    expect(s.orders.map((o) => [o.side, o.type, o.status])).toEqual([
      ['BUY', 'MARKET', 'FILLED'],
      ['SELL', 'LIMIT_MAKER', 'CANCELED'],
      ['SELL', 'STOP_LOSS', 'CANCELED'],
      ['SELL', 'MARKET', 'FILLED'],
    ])
    expect(s.signed.filter((r) => r.method === 'DELETE')).toHaveLength(1)
    expect(posts()).toHaveLength(2) // the entry and the exit (the list went to orderList/oco)
    expect(status.positions).toEqual([])
    expect(status.openOrders).toEqual([])
    expect(status.trades.map((t) => [t.qty, t.entryPrice, t.exitPrice])).toEqual([[0.01, p1, marketAt(3)]])
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0 })
  })

  it('a list the exchange refuses (prices on the wrong side of the market): both legs REJECTED with its reason, an alert for each, nothing rests', async () => {
    const { s, start } = await world()
    const p1 = marketAt(1)
    // The take-profit below the market: Binance answers -2010 "The relationship of the prices ... is not correct".
    const d = start('bad-list', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: cent(p1 - 50), takeProfit: cent(p1 - 20) }) })
    for (const i of [0, 1, 2]) await d.step(i)
    const status = await d.stop()
    expect(s.lists).toEqual([])
    expect(openAt(s)).toEqual([])
    expect(s.signed.filter((r) => r.path === '/api/v3/orderList/oco')).toHaveLength(1) // never retried
    const [, stop, take] = [...d.journal().current.orders.values()]
    expect([stop!.role, stop!.state, take!.role, take!.state]).toEqual(['stop-loss', 'REJECTED', 'take-profit', 'REJECTED'])
    expect(stop!.reason).toMatch(/relationship of the prices/)
    const refused = d.alerts().filter((a) => a.includes('was refused'))
    expect(refused).toHaveLength(2)
    expect(refused.every((a) => a.includes('relationship of the prices'))).toBe(true)
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01 })])
    expect(s.balance('BTC')).toEqual({ free: 0.01, locked: 0 })
  })

  it('kill -9 between the two legs\' "sent" lines: the restart sends nothing again, knows both legs, and a take-profit fill still ends the stop without a cancel request', async () => {
    const { s, start } = await world()
    const p1 = marketAt(1)
    const d1 = start('half-sent', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: cent(p1 - 50), takeProfit: cent(p1 + 50) }) })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    expect(s.lists).toHaveLength(1)
    const file = d1.journal().file
    const firstSent = firstIndex(file, (e) => e.type === 'sent' && e.list !== undefined)
    expect(firstSent).toBeGreaterThan(0)
    cutAt(file, firstSent + 1) // the first leg's "sent" is on disk, the second's is not
    const before = s.signed.filter((r) => r.method === 'POST').length

    const d2 = start('half-sent', {})
    await d2.step(3)
    const take = s.orders.find((o) => o.type === 'LIMIT_MAKER')!
    const stop = s.orders.find((o) => o.type === 'STOP_LOSS')!
    expect(s.signed.filter((r) => r.method === 'POST').length).toBe(before) // nothing sent again
    expect([d2.journal().order(take.clientOrderId).state, d2.journal().order(stop.clientOrderId).state]).toEqual(['ACKED', 'ACKED'])
    s.fill(take.clientOrderId, 0.01)
    await d2.step(4)
    await d2.step(5)
    const status = await d2.stop()
    expect(d2.journal().order(take.clientOrderId).state).toBe('FILLED')
    expect(d2.journal().order(stop.clientOrderId).state).toBe('CANCELLED')
    expect(s.signed.filter((r) => r.method === 'DELETE')).toEqual([])
    expect(status.positions).toEqual([])
    expect(status.openOrders).toEqual([])
  })
  it('a power loss that took the take-profit\'s intent (the stop\'s is on disk, the list went out): after the restart the position still has its stop at the exchange', async () => {
    const { s, start } = await world()
    const p1 = marketAt(1)
    const sl = cent(p1 - 50)
    const tp = cent(p1 + 50)
    const d1 = start('lost-tp', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: sl, takeProfit: tp }) })
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    expect(s.lists).toHaveLength(1)
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent' && e.role === 'take-profit'))
    expect(d1.journal().position('scripted', 'BTC/USDT')).toBe(0.01)

    const d2 = start('lost-tp', {})
    await d2.step(3)
    await d2.step(4)
    const status = await d2.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01 })])
    expect(openAt(s).filter((o) => o.type === 'STOP_LOSS').map((o) => [o.side, o.origQty, o.stopPrice])).toEqual([['SELL', 0.01, sl]])
    expect(status.openOrders.filter((o) => o.role === 'stop-loss').map((o) => [o.side, o.qty, o.stop])).toEqual([['sell', 0.01, sl]])
    expect(d2.alerts().filter((a) => a.includes('was refused'))).toEqual([])
  })
})

describe('review 3: bracket legs a restart places again', () => {
  it('two entries each with its stop; the second stop\'s intent lost: the restart restores only what the second entry owes, so both stops rest and nothing is refused', async () => {
    const { s, start } = await world()
    const sl1 = cent(marketAt(1) - 50)
    const sl2 = cent(marketAt(3) - 60)
    const d1 = start('two-entries', { 1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: sl1 }), 3: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: sl2 }) })
    for (const i of [0, 1, 2, 3, 4]) await d1.step(i)
    await d1.stop()
    expect(openAt(s).map((o) => [o.type, o.origQty, o.stopPrice])).toEqual([
      ['STOP_LOSS', 0.01, sl1],
      ['STOP_LOSS', 0.01, sl2],
    ])
    const file = d1.journal().file
    // The second stop's intent (and all after it) lost; its order was sent, or was not: either way the
    // restart must leave 0.02 protected — sl1's 0.01 and sl2's 0.01.
    cutAt(file, firstIndex(file, (e) => e.type === 'intent' && e.role === 'stop-loss' && e.price === sl2))
    expect(d1.journal().position('scripted', 'BTC/USDT')).toBe(0.02)

    const d2 = start('two-entries', {})
    await d2.step(5)
    await d2.step(6)
    const status = await d2.stop()
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.02 })])
    const resting = openAt(s).filter((o) => o.type === 'STOP_LOSS').map((o) => [o.origQty, o.stopPrice]).sort((a, b) => b[1]! - a[1]!)
    expect(resting).toEqual([[0.01, sl1], [0.01, sl2]].sort((a, b) => b[1]! - a[1]!))
    expect(d2.alerts().filter((a) => a.includes('was refused'))).toEqual([])
    expect(s.balance('BTC')).toEqual({ free: 0, locked: 0.02 })
  })

  it('a stop the strategy cancelled on purpose is not placed again by a restart', async () => {
    const { s, start } = await world()
    const sl = cent(marketAt(1) - 50)
    const d1 = start('no-stop', {
      1: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01, stopLoss: sl }),
      3: (ctx) => {
        for (const o of ctx.openOrders('BTC/USDT')) if (o.role === 'stop-loss') ctx.cancel(o.id)
      },
    })
    for (const i of [0, 1, 2, 3, 4]) await d1.step(i)
    await d1.stop()
    expect(openAt(s)).toEqual([])
    const d2 = start('no-stop', {})
    await d2.step(5)
    await d2.step(6)
    const status = await d2.stop()
    expect(openAt(s)).toEqual([])
    expect(status.openOrders).toEqual([])
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01 })])
  })
})

describe('review 3: orders a power loss took, listed at the restart', () => {
  /** Three intents ccxt refuses before sending (below the lot step), then one the exchange fills. */
  const script: Script = {
    1: (ctx) => {
      for (let k = 0; k < 3; k++) ctx.buy('BTC/USDT', { qty: 0.000001 })
      ctx.buy('BTC/USDT', { qty: 0.01 })
    },
  }
  /** A restart's orders (bar indexes count from the process's first bar): three, then one. */
  const again: Script = { 1: (ctx) => [0, 1, 2].forEach(() => ctx.buy('BTC/USDT', { qty: 0.01 })), 2: (ctx) => ctx.buy('BTC/USDT', { qty: 0.01 }) }
  const cids = (posts: { params: Record<string, string> }[]) => posts.map((p) => p.params.newClientOrderId as string)

  it('another bot made 1,000 orders on the symbol since the journal\'s last event: the lost order after three unsent intents is still found, no client id sent twice', async () => {
    const { s, start, posts } = await world()
    const d1 = start('busy', script)
    await d1.step(0)
    // Orders by hand (or another bot) on the same account and symbol, in pairs that leave the balance as it was.
    for (let k = 0; k < 500; k++) {
      s.trade('BTCUSDT', 'BUY', 0.001)
      s.trade('BTCUSDT', 'SELL', 0.001)
    }
    await d1.step(1)
    await d1.step(2)
    await d1.stop()
    const [lost] = cids(posts())
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent'))

    // Four new orders: the fourth takes the lost order's client id unless the restart found it.
    const d2 = start('busy', again)
    for (const i of [3, 4, 5, 6]) await d2.step(i)
    const status = await d2.stop()
    const sent = cids(posts())
    expect(new Set(sent).size).toBe(sent.length)
    expect(d2.journal().order(lost!)).toMatchObject({ role: 'recovered', state: 'FILLED', filled: 0.01 })
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.05 })])
  })

  it('restarted 25 hours after the power loss: the lost order after three unsent intents is still found, not booked as a change outside the deployment, no client id sent twice', async () => {
    const { s, start, posts } = await world()
    const d1 = start('late', script)
    for (const i of [0, 1, 2]) await d1.step(i)
    await d1.stop()
    const [lost] = cids(posts())
    const file = d1.journal().file
    cutAt(file, firstIndex(file, (e) => e.type === 'intent'))

    const back = 25 * 60 // bars later
    s.setNow(T0 + back * M + S)
    const d2 = start('late', again)
    for (const i of [back, back + 1, back + 2, back + 3]) await d2.step(i)
    const status = await d2.stop()
    const sent = cids(posts())
    expect(new Set(sent).size).toBe(sent.length)
    expect(d2.journal().order(lost!)).toMatchObject({ role: 'recovered', state: 'FILLED', filled: 0.01 })
    expect([...d2.journal().current.orders.values()].filter((o) => o.role === 'outside')).toEqual([])
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.05 })])
  })
})

describe('review 3: the strategy\'s state warmed from the history at a live start', () => {
  /** `n` closed 1m bars of `symbol` before T0, as the stand-in serves them. */
  function historyOf(symbol: string, n: number) {
    const time = Float64Array.from({ length: n }, (_, j) => T0 - (n - j) * M)
    const candles = Array.from(time, (t) => standinCandle(symbol.replace('/', ''), t, M))
    const col = (c: number) => Float64Array.from(candles, (k) => k[c]!)
    return { symbol, timeframe: '1m', time, open: col(0), high: col(1), low: col(2), close: col(3), volume: col(4) }
  }

  it('a strategy that remembers its own fills (ctx.state in onFill): the warm-up\'s simulated fills are not carried into the live run, so a flat deployment still enters', async () => {
    const { start, posts } = await world()
    const history = { 'BTC/USDT@1m': historyOf('BTC/USDT', 10) }
    const strategy = defineStrategy<Record<string, never>>({
      name: 'scripted',
      params: {},
      universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
      warmup: () => 0,
      onBar(ctx, bar) {
        if (ctx.state.holding !== true) ctx.buy(bar.symbol, { qty: 0.01 })
      },
      onFill(ctx, ev) {
        if (ev.order.role === 'entry') ctx.state.holding = true
      },
    })
    const d = start('remember', {}, { strategy, history })
    await d.step(0)
    await d.step(1)
    const status = await d.stop()
    // The deployment held nothing when it started: its first live bar enters, once.
    expect(posts()).toHaveLength(1)
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01 })])
  })

  it('a strategy that throws in onBar during the warm-up: an alert naming the failure, the live run goes on with fresh state, nothing of the warm-up sent or journaled', async () => {
    const { start, posts } = await world()
    const history = { 'BTC/USDT@1m': historyOf('BTC/USDT', 5) }
    let atLive = NaN
    const strategy = defineStrategy<Record<string, never>>({
      name: 'scripted',
      params: {},
      universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
      warmup: () => 0,
      onBar(ctx, bar) {
        ctx.state.bars = ((ctx.state.bars as number | undefined) ?? 0) + 1
        if (bar.time === T0) atLive = ctx.state.bars as number
        if (bar.time === T0 - 2 * M) throw new Error('warm-up boom')
        if (bar.time === T0) ctx.buy(bar.symbol, { qty: 0.01 })
        else if (bar.time < T0) ctx.buy(bar.symbol, { qty: 0.002 }) // warm-up only: must never leave the process
      },
    })
    const d = start('throws', {}, { strategy, history })
    await d.step(0)
    await d.step(1)
    const status = await d.stop()
    const warm = d.alerts().filter((a) => a.startsWith('replaying the warm-up history'))
    expect(warm).toHaveLength(1)
    expect(warm[0]).toContain('warm-up boom')
    expect(atLive).toBe(1) // afresh: the live bar is the first its state counted
    expect(posts().map((p) => p.params.quantity)).toEqual(['0.01'])
    const intents = linesOf(d.journal().file).map((l) => JSON.parse(l) as { type: string; qty?: number }).filter((e) => e.type === 'intent')
    expect(intents.map((e) => e.qty)).toEqual([0.01])
    expect(status.positions).toEqual([expect.objectContaining({ qty: 0.01 })])
  })

  it('two symbols: the warm-up replays both histories in time order into one state; nothing of it reaches the exchange', async () => {
    const { start, posts } = await world({ balances: { USDT: 10_000 } })
    const history = { 'BTC/USDT@1m': historyOf('BTC/USDT', 4), 'ETH/USDT@1m': historyOf('ETH/USDT', 4) }
    const seen: string[][] = []
    const strategy = defineStrategy<Record<string, never>>({
      name: 'scripted',
      params: {},
      universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
      warmup: () => 0,
      onStart(ctx) {
        ctx.state.log = []
      },
      onBar(ctx, bar) {
        ;(ctx.state.log as string[]).push(`${bar.symbol}@${(bar.time - T0) / M}`)
        seen.push([...(ctx.state.log as string[])])
        ctx.buy(bar.symbol, { qty: 0.001 })
      },
    })
    const d = start('two-warm', {}, { strategy, history, over: { symbols: ['BTC/USDT', 'ETH/USDT'] } })
    await d.step(0)
    await d.stop()
    const expected: string[] = []
    for (const k of [-4, -3, -2, -1, 0]) expected.push(`BTC/USDT@${k}`, `ETH/USDT@${k}`)
    expect(seen.at(-1)).toEqual(expected)
    expect(posts()).toHaveLength(2) // the live bar's two orders only
  })
})
