// The orders file a deployment takes: written and read back; ids from a deployment's journal sequence
// (the journal's own scheme, checked against OrderJournal) or from the content; hostile files refused with
// one line naming the field.

import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { OrderJournal } from '../../lib/live/journal.js'
import { makeOrdersFile, readOrdersFile, writeOrdersFile, type OrdersFile } from '../../lib/live/orders-file.js'

const dir = mkdtempSync(join(tmpdir(), 'mtflow-orders-file-'))
const SIGNALS = `sha256:${'ab'.repeat(32)}`
const drafts = [
  { symbol: 'BTC/USDT', side: 'buy' as const, qty: 0.5, reason: '0 → 0.5 (BTC/USDT long)' },
  { symbol: 'ETH/USDT', side: 'sell' as const, qty: 2, reason: '2 → 0 (no signal)' },
]
let n = 0
const put = (content: unknown): string => {
  const file = join(dir, `o${++n}.json`)
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

describe('orders files', () => {
  it('for a deployment: the ids its journal gives its next orders; taken only while that is still its next sequence', () => {
    // A journal with two intents: its next sequence is 3, and orders 3 and 4 get the ids it would give them.
    const jdir = mkdtempSync(join(tmpdir(), 'mtflow-orders-journal-'))
    const journal = OrderJournal.open(jdir, 'paper-1#0123456789abcdef', { durability: 'step' })
    journal.intent({ strategy: 's', symbol: 'BTC/USDT', side: 'buy', qty: 1, kind: 'market' }, 1)
    journal.intent({ strategy: 's', symbol: 'BTC/USDT', side: 'sell', qty: 1, kind: 'market' }, 2)
    const next = journal.current.nextSeq
    expect(next).toBe(3)
    const content = makeOrdersFile(drafts, { signals: SIGNALS, createdAt: '2024-05-01T00:00:00.000Z', deployment: { name: 'paper-1', id: 'paper-1#0123456789abcdef', nextSeq: next } })
    const file = join(dir, 'for-deployment.json')
    writeOrdersFile(file, content)
    const back = readOrdersFile(file, { deploymentId: 'paper-1#0123456789abcdef', nextSeq: 3 })
    expect(back).toEqual(content)
    expect(back.orders.map((o) => o.clientOrderId)).toEqual([journal.clientIdOf(3), journal.clientIdOf(4)])
    journal.close()
    // "mt" + 10 hex of sha256(deployment id) + the sequence in base 36 (journal.ts's documented scheme).
    expect(back.orders[1]!.clientOrderId).toBe(`mt${createHash('sha256').update('paper-1#0123456789abcdef').digest('hex').slice(0, 10)}4`)
    expect(() => readOrdersFile(file, { nextSeq: 4 })).toThrow(`orders file ${file} starts at sequence 3 but the deployment's next is 4: it has sent orders since the file was made; make the file again`)
    expect(() => readOrdersFile(file, { deploymentId: 'paper-2#0123456789abcdef' })).toThrow(`orders file ${file} was made for deployment id "paper-1#0123456789abcdef", not "paper-2#0123456789abcdef"`)
  })

  it('without a deployment: mtflow-<hash8>-<n>, the same for the same content', () => {
    const a = makeOrdersFile(drafts, { signals: SIGNALS, createdAt: '2024-05-01T00:00:00.000Z' })
    const b = makeOrdersFile(drafts, { signals: SIGNALS, createdAt: '2024-06-01T00:00:00.000Z' })
    const hash8 = createHash('sha256').update(JSON.stringify({ signals: SIGNALS, orders: drafts.map((o) => [o.symbol, o.side, o.qty, o.reason]) })).digest('hex').slice(0, 8)
    expect(a.orders.map((o) => o.clientOrderId)).toEqual([`mtflow-${hash8}-1`, `mtflow-${hash8}-2`])
    expect(b.orders.map((o) => o.clientOrderId)).toEqual(a.orders.map((o) => o.clientOrderId))
    const file = join(dir, 'plain.json')
    writeOrdersFile(file, a)
    expect(readOrdersFile(file)).toEqual(a)
    expect(() => readOrdersFile(file, { deploymentId: 'paper-1#0123456789abcdef' })).toThrow(`orders file ${file} was made without a deployment (ids mtflow-…); make it with --positions paper-1 for this deployment`)
    // An order's quantity edited by hand no longer matches the ids' hash.
    const edited = put({ ...a, orders: [{ ...a.orders[0]!, qty: 5 }, a.orders[1]] })
    expect(() => readOrdersFile(edited)).toThrow(`orders file ${edited}: orders[0].clientOrderId is "mtflow-${hash8}-1"; expected mtflow-`)
  })

  it('hostile files are refused with one line naming the field, and nothing is written for a bad one', () => {
    const good: OrdersFile = makeOrdersFile(drafts, { signals: SIGNALS, createdAt: '2024-05-01T00:00:00.000Z' })
    const dep = makeOrdersFile(drafts, { signals: SIGNALS, createdAt: '2024-05-01T00:00:00.000Z', deployment: { name: 'd', id: 'd#0123456789abcdef', nextSeq: 1 } })
    const cases: [unknown, string][] = [
      ['{not json', 'is not valid JSON'],
      [[], 'expected an object { version, createdAt, signals, orders, … }'],
      [{ ...good, extra: 1 }, ': no field "extra" (fields: version, deployment, deploymentId, firstSeq, assumed, createdAt, signals, orders)'],
      [{ ...good, version: 2 }, 'version must be 1 (received 2)'],
      [{ ...good, signals: 'whatever' }, 'signals must be "sha256:<64 hex>" or "run:<id>"'],
      [{ ...good, orders: [{ ...good.orders[0]!, qty: 'Infinity' }] }, 'orders[0].qty must be a finite quantity > 0 (received "Infinity")'],
      [{ ...good, orders: [{ ...good.orders[0]!, qty: -1 }] }, 'orders[0].qty must be a finite quantity > 0 (received -1)'],
      [{ ...good, orders: [{ ...good.orders[0]!, symbol: '../../etc/passwd' }] }, 'orders[0].symbol must be a symbol such as BTC/USDT (received "../../etc/passwd")'],
      [{ ...good, orders: [{ ...good.orders[0]!, type: 'limit' }] }, 'orders[0].type must be "market" (received "limit")'],
      [{ ...good, orders: [{ ...good.orders[0]!, price: 1 }] }, 'orders[0] has no field "price" (fields: clientOrderId, symbol, side, type, qty, reason)'],
      [{ ...good, orders: [good.orders[0], good.orders[0]] }, 'orders[1].symbol BTC/USDT has an order already'],
      [{ ...dep, firstSeq: 0 }, 'firstSeq must be an integer ≥ 1 (received 0)'],
      [{ ...dep, orders: [dep.orders[1], dep.orders[0]] }, 'orders[0].clientOrderId is'],
      [{ ...dep, deploymentId: 'other#0123456789abcdef' }, "deploymentId must be the deployment's journal id"],
      [{ ...dep, firstSeq: 2 }, "orders[0].clientOrderId is"],
      [{ ...good, orders: Array.from({ length: 10_001 }, () => good.orders[0]) }, 'orders holds 10001 orders; expected at most 10000'],
    ]
    for (const [content, message] of cases) {
      const file = put(content)
      expect(() => readOrdersFile(file), message).toThrow(message)
      try {
        readOrdersFile(file)
      } catch (error) {
        expect((error as Error).message.startsWith(`orders file ${file}`)).toBe(true)
        expect((error as Error).message).not.toContain('\n')
      }
    }
    const big = join(dir, 'big.json')
    writeFileSync(big, ' '.repeat(4 * 1024 * 1024 + 1))
    expect(() => readOrdersFile(big)).toThrow(`orders file ${big} is 4194305 bytes; expected at most 4194304`)
    expect(() => readOrdersFile(join(dir, 'none.json'))).toThrow('does not exist')
    const out = join(dir, 'refused.json')
    expect(() => writeOrdersFile(out, { ...good, orders: [{ ...good.orders[0]!, qty: Number.NaN }] })).toThrow('orders[0].qty must be a finite quantity > 0')
    expect(existsSync(out)).toBe(false)
  })
})
