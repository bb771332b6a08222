// Issue 18, point 5 (locks): a call chain that asks again for a lock it holds fails at once instead of
// waiting on itself; two call chains of one process still take turns; a lock file naming this very
// pid that this process does not hold (an earlier process with the same pid) is taken over.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { withLock, withLockSync } from '../../lib/core/index.js'

const dir = () => mkdtempSync(join(tmpdir(), 'mtflow-lock-'))

describe('lock re-entry', () => {
  it('fails at once, naming the lock, when a call chain asks again for a lock it holds', async () => {
    const lock = join(dir(), 'a.lock')
    const started = Date.now()
    await expect(withLock(lock, () => withLock(lock, async () => 1), {})).rejects.toThrow(/a\.lock.*already holds it/)
    expect(Date.now() - started).toBeLessThan(2000)
    expect(() => withLockSync(lock, () => withLockSync(lock, () => 1))).toThrow(/already holds it/)
    // The outer locks were released: the lock can be taken again.
    expect(await withLock(lock, async () => 'free')).toBe('free')
  })

  it('lets two call chains of one process take turns on one lock', async () => {
    const lock = join(dir(), 'b.lock')
    const order: string[] = []
    const chain = (name: string) =>
      withLock(lock, async () => {
        order.push(`${name} in`)
        await new Promise((r) => setTimeout(r, 50))
        order.push(`${name} out`)
      })
    await Promise.all([chain('x'), chain('y')])
    expect(order).toEqual(['x in', 'x out', 'y in', 'y out'])
  })

  it('takes over a lock file that names this pid but that this process does not hold', async () => {
    const lock = join(dir(), 'c.lock')
    writeFileSync(lock, JSON.stringify({ pid: process.pid, at: Date.now() }))
    const started = Date.now()
    expect(await withLock(lock, async () => 'taken')).toBe('taken')
    expect(Date.now() - started).toBeLessThan(2000)
  })
})
