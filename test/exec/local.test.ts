// LocalExecutor on worker threads: outcomes in item order, a throwing job or a dying thread failing
// alone, values that JSON loses kept exactly (codec.ts), cancellation that leaves no threads behind.

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { decodeValue, encodeValue } from '../../lib/exec/codec.js'
import { CancelledError, LocalExecutor } from '../../lib/exec/local.js'
import { waitFor } from '../helpers.js'

/** The 64 bits of each double, as hex (NaN payloads and the sign of zero included). */
function bits(values: ArrayLike<number>): string[] {
  const f = Float64Array.from(values as ArrayLike<number>)
  return Array.from(new BigUint64Array(f.buffer), (b) => b.toString(16))
}

/** OS threads of this process (each worker thread adds some while it lives). */
function osThreads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1])
}

describe('LocalExecutor', () => {
  it.each([1, 3])('returns outcomes in item order with %i thread(s), whatever order they finish in', async (threads) => {
    const ex = new LocalExecutor(threads)
    // Early items sleep longest, so with 3 threads later items finish first.
    const items = [40, 30, 20, 10, 0, 5, 1].map((ms, k) => ({ ms, value: `item ${k}` }))
    const out = await ex.run({ kind: 'exec.sleep', context: null, items })
    expect(out).toEqual(items.map((_, k) => ({ ok: true, value: `item ${k}` })))
    const echoed = await ex.run({ kind: 'exec.echo', context: null, items: [3, 1, 4, 1, 5, 9, 2, 6] })
    expect(echoed.map((o) => (o.ok ? o.value : o.error))).toEqual([3, 1, 4, 1, 5, 9, 2, 6])
    await ex.close()
  })

  it('fails a throwing job alone; the others finish', async () => {
    const ex = new LocalExecutor(2)
    const items = [0, 1, 2, 3, 4].map((k) => ({ message: `bad ${k}`, fail: k === 2, value: k * 10 }))
    const out = await ex.run({ kind: 'exec.fail', context: null, items })
    expect(out).toEqual([{ ok: true, value: 0 }, { ok: true, value: 10 }, { ok: false, error: 'bad 2' }, { ok: true, value: 30 }, { ok: true, value: 40 }])
    await ex.close()
  })

  it('keeps NaN, -0, ±Infinity and Float64Array exactly through codec.ts and through the threads', async () => {
    const payloadNaN = new Float64Array(new BigUint64Array([0x7ff8000000000001n]).buffer)[0]!
    const column = new Float64Array([1.5, -0, 0, NaN, payloadNaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MAX_VALUE, 0.1 + 0.2])
    const value = { nan: NaN, negZero: -0, zero: 0, inf: Infinity, ninf: -Infinity, list: [NaN, -0, 1e-310], column, nested: { column: column.subarray(2, 5) } }
    const back = decodeValue(encodeValue(value)) as typeof value
    expect(Object.is(back.nan, NaN) && Object.is(back.negZero, -0) && Object.is(back.zero, 0)).toBe(true)
    expect([back.inf, back.ninf]).toEqual([Infinity, -Infinity])
    expect(bits(back.list)).toEqual(bits([NaN, -0, 1e-310]))
    expect(back.column).toBeInstanceOf(Float64Array)
    expect(bits(back.column)).toEqual(['3ff8000000000000', '8000000000000000', '0', '7ff8000000000000', '7ff8000000000001', '7ff0000000000000', 'fff0000000000000', '1', 'ffefffffffffffff', '3fd3333333333334'])
    expect(bits(back.nested.column)).toEqual(['0', '7ff8000000000000', '7ff8000000000001'])
    const one = new LocalExecutor(1)
    const [out] = await one.run<typeof value, typeof value>({ kind: 'exec.echo', context: null, items: [value] })
    await one.close()
    expect(out!.ok).toBe(true)
    const v = (out as { value: typeof value }).value
    expect(bits([v.nan, v.negZero, v.inf, v.ninf])).toEqual(bits([NaN, -0, Infinity, -Infinity]))
    expect(bits(v.column)).toEqual(bits(column))
  })

  it('keeps the other typed arrays (their type and bytes) through codec.ts, as through the threads', async () => {
    const value = { f32: new Float32Array([1.5, NaN, -0]), i32: new Int32Array([1, -2, 2 ** 31 - 1]), u8: new Uint8Array([0, 255]), part: new Int16Array([1, 2, 3, 4]).subarray(1, 3), big: new BigInt64Array([-(2n ** 63n)]) }
    const one = new LocalExecutor(1)
    const [out] = await one.run<typeof value, typeof value>({ kind: 'exec.echo', context: null, items: [value] })
    await one.close()
    const threads = (out as { value: typeof value }).value
    const back = decodeValue(encodeValue(value)) as typeof value
    // Before: { f32: { '0': 1.5, '1': NaN, '2': -0 }, … } — plain objects — and a BigInt64Array could not be encoded.
    for (const [name, v] of Object.entries(back)) {
      expect(Object.getPrototypeOf(v), name).toBe(Object.getPrototypeOf(threads[name as keyof typeof value]))
      expect(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(value[name as keyof typeof value].buffer, value[name as keyof typeof value].byteOffset, value[name as keyof typeof value].byteLength)), name).toBe(true)
    }
  })

  it('fails the job of a thread that dies with "job thread died"; the others finish', async () => {
    const ex = new LocalExecutor(2)
    const items = [0, 1, 2, 3, 4, 5].map((k) => ({ exit: k === 1 || k === 4, value: k }))
    const out = await ex.run({ kind: 'exec.exit', context: null, items })
    expect(out.map((o) => (o.ok ? o.value : o.error))).toEqual([0, 'job thread died: exited with code 3', 2, 3, 'job thread died: exited with code 3', 5])
    await ex.close()
  })

  it('cancels on abort (CancelledError) and leaves no threads', async () => {
    // Warm up: the first worker threads start V8/libuv helpers that stay; count after them.
    const warm = new LocalExecutor(3)
    await warm.run({ kind: 'exec.echo', context: null, items: [1, 2, 3] })
    await warm.close()
    const before = osThreads()
    const controller = new AbortController()
    const ex = new LocalExecutor(3)
    // Jobs far longer than the test's timeout: only cancellation ends them.
    const running = ex.run({ kind: 'exec.sleep', context: null, items: Array.from({ length: 6 }, () => ({ ms: 600_000 })), signal: controller.signal })
    await waitFor(() => osThreads() >= before + 3, 20_000, 20)
    expect(osThreads()).toBeGreaterThanOrEqual(before + 3)
    controller.abort()
    await expect(running).rejects.toBeInstanceOf(CancelledError)
    await waitFor(() => osThreads() <= before, 20_000, 20)
    expect(osThreads()).toBeLessThanOrEqual(before)
    await ex.close()
  }, 60_000)
})
