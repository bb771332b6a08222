// KernelClient against a minimal fake kernel (test/fixtures/fake-kernel.mjs): the protocol paths a
// real tslab kernel rarely takes — a late heartbeat, a kernel dying mid-cell, a cell that never ends.

import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { KernelClient, KernelStartInterrupted } from '../../kernel/client.js'
import { FIXTURES, ROOT } from '../helpers.js'

const argv = [process.execPath, join(FIXTURES, 'fake-kernel.mjs'), '--config-path', '{connection_file}']

describe('KernelClient', () => {
  it('survives a late first heartbeat echo and then executes', async () => {
    const kernel = await KernelClient.launch({ argv, cwd: ROOT, env: { FAKE_HB_DELAY_FIRST: '2500' }, startupTimeoutMs: 15_000 })
    try {
      expect(kernel.kernelInfo.implementation).toBe('fake')
      const texts: string[] = []
      const result = await kernel.execute('1', { onIopub: (m) => texts.push(String(m.content.text)) })
      expect(result.status).toBe('ok')
      expect(texts).toEqual(['out\n'])
      expect(await kernel.ping()).toBe(true)
    } finally {
      await kernel.shutdown()
    }
  })

  it("starts the kernel with glibc's allocator settings (kernel/env.ts), a user's own GLIBC_TUNABLES kept", async () => {
    const printed = async (env: Record<string, string>) => {
      const kernel = await KernelClient.launch({ argv, cwd: ROOT, env })
      try {
        const texts: string[] = []
        await kernel.execute('ENV:GLIBC_TUNABLES', { onIopub: (m) => texts.push(String(m.content.text)) })
        return texts.join('')
      } finally {
        await kernel.shutdown()
      }
    }
    expect(await printed({})).toBe('glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824\n')
    expect(await printed({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })).toBe('glibc.malloc.arena_max=2\n')
  })

  it('reports a kernel that dies in the middle of a cell, and a cell past its timeout', async () => {
    const kernel = await KernelClient.launch({ argv, cwd: ROOT })
    try {
      const hang = await kernel.execute('HANG', { timeoutMs: 500 })
      expect(hang).toMatchObject({ status: 'timeout', reason: 'cell timed out after 0.5 s' })
      const died = await kernel.execute('EXIT')
      expect(died.status).toBe('died')
      expect(died.reason).toMatch(/^kernel process exited \(code 3\)/)
      expect(kernel.alive).toBe(false)
      expect((await kernel.execute('1')).status).toBe('died')
    } finally {
      await kernel.shutdown()
    }
  })

  it('stops waiting for a kernel when interrupted during start', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 300)
    const started = Date.now()
    await expect(
      KernelClient.launch({ argv: [process.execPath, '-e', 'setTimeout(() => {}, 60000)', '--', '{connection_file}'], cwd: ROOT, signal: controller.signal }),
    ).rejects.toThrow(KernelStartInterrupted)
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
