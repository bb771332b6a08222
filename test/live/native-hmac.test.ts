// Signatures through node:crypto (lib/live/native-hmac.ts): every signed request is byte for byte what
// ccxt's own pure-JavaScript HMAC produces (a second exchange instance without the replacement is the
// reference), and whatever the replacement cannot compute the same way goes to ccxt's.

import ccxt from 'ccxt'
import { describe, expect, it } from 'vitest'
import { useNativeHmac } from '../../lib/live/native-hmac.js'

type Signer = { sign(path: string, api: string, method: string, params: Record<string, unknown>): { url: string; body?: string }; nonce(): number; hmac: (...args: unknown[]) => unknown; secret: string; apiKey: string }

function binance(): Signer {
  const ex = new ccxt.binance({ apiKey: 'hmac-test-key', secret: 'hmac-test-secret-0b1c' }) as unknown as Signer
  ex.nonce = () => 1_765_000_000_000 // the signed query carries the timestamp: fixed, so two instances agree
  return ex
}

/** Counts the calls that reach ccxt's own hmac on `ex` (installed before the replacement wraps it). */
function counted(ex: Signer): { calls: number } {
  const own = ex.hmac.bind(ex)
  const counter = { calls: 0 }
  ex.hmac = (...args: unknown[]) => {
    counter.calls++
    return own(...args)
  }
  return counter
}

const order = (cid: string) => ({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.01', price: '42000.5', timeInForce: 'GTC', newClientOrderId: cid })

describe('useNativeHmac', () => {
  it('signs Binance requests exactly as ccxt does; ccxt\'s own HMAC runs only for the first (the check)', () => {
    const reference = binance()
    const fast = binance()
    const own = counted(fast)
    expect(useNativeHmac(fast)).toBe(true)
    for (const cid of ['mt0123456789a1', 'mt0123456789a2', 'mt0123456789a3']) {
      const a = reference.sign('order', 'private', 'POST', order(cid))
      const b = fast.sign('order', 'private', 'POST', order(cid))
      expect(b.url).toBe(a.url)
      expect(b.body).toBe(a.body)
      expect(b.body).toMatch(/&signature=[0-9a-f]{64}$/)
    }
    expect(own.calls).toBe(1)
  })

  it('hands ccxt\'s HMAC what it cannot compute the same way: another encoding, an unknown hash', () => {
    const fast = binance()
    const own = counted(fast)
    useNativeHmac(fast)
    const unknownHash = Object.assign((m: Uint8Array) => m.slice(0, 8), { outputLen: 8 })
    const hmac = fast.hmac as (r: Uint8Array | string, s: Uint8Array | string, h?: unknown, d?: string) => unknown
    const sha256 = (() => {
      let seen: unknown
      const probe = binance()
      const inner = probe.hmac.bind(probe)
      probe.hmac = (...args: unknown[]) => {
        seen = args[2]
        return inner(...args)
      }
      probe.sign('order', 'private', 'POST', order('x'))
      return seen
    })()
    const bytes = hmac('message', 'secret', sha256, 'binary')
    expect(bytes).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(bytes as Uint8Array).toString('hex')).toBe(hmac('message', 'secret', sha256, 'hex'))
    // A hash node:crypto does not have goes to ccxt's, which refuses one it did not make: its error, not ours.
    expect(() => hmac('message', 'secret', unknownHash, 'hex')).toThrow('Hash must wrapped by utils.createHasher')
    // binary ×1, the first hex (checked both ways) ×1, the unknown hash ×1.
    expect(own.calls).toBe(3)
    // base64 is computed natively after its own first check, and agrees with the hex digest.
    const b64 = hmac('message', 'secret', sha256, 'base64') as string
    expect(Buffer.from(b64, 'base64').toString('hex')).toBe(hmac('message', 'secret', sha256, 'hex'))
    expect(own.calls).toBe(4)
  })

  it('an exchange whose HMAC differs from node:crypto\'s keeps its own, every time', () => {
    const odd = binance()
    let calls = 0
    odd.hmac = () => {
      calls++
      return 'not-an-hmac'
    }
    useNativeHmac(odd)
    const first = odd.sign('order', 'private', 'POST', order('mt1'))
    const second = odd.sign('order', 'private', 'POST', order('mt2'))
    expect(first.body).toMatch(/&signature=not-an-hmac$/)
    expect(second.body).toMatch(/&signature=not-an-hmac$/)
    expect(calls).toBe(2)
  })
})
