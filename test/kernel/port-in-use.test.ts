// A kernel told to bind a port another process took between the client choosing it and the kernel
// binding it (CI, stop 38: a notebook test's kernel "did not answer within 120 s"; tslab logs the bind's
// EADDRINUSE as an unhandled rejection and stays up, deaf). The launcher exits saying so and the client
// starts it again on fresh ports.

import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { KernelClient, KernelError, KernelStartInterrupted, freePorts } from '../../kernel/client.js'
import { kernelArgv } from '../../kernel/kernelspec.js'
import { ROOT } from '../helpers.js'

const held: Server[] = []
afterAll(() => {
  for (const server of held) server.close()
})

async function holdPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  held.push(server)
  return (server.address() as { port: number }).port
}

describe('a kernel port taken before the kernel binds it', () => {
  it('starts the real kernel again on other ports, and it runs a cell', async () => {
    const taken = await holdPort()
    const offered: number[][] = []
    const pickPorts = async (count: number) => {
      const ports = await freePorts(count)
      if (offered.length === 0) ports[0] = taken
      offered.push(ports)
      return ports
    }
    const kernel = await KernelClient.launch({ argv: kernelArgv(), cwd: join(ROOT, 'notebooks'), env: { MTFLOW_KERNEL_HEADLESS: '1' }, pickPorts, startupTimeoutMs: 120_000 })
    try {
      expect(offered.length).toBe(2)
      expect(Object.values(kernel.connection)).not.toContain(taken)
      const texts: string[] = []
      const result = await kernel.execute('console.log(20 + 22)', { onIopub: (m) => texts.push(String(m.content.text ?? '')) })
      expect(result.status).toBe('ok')
      expect(texts.join('')).toBe('42\n')
    } finally {
      await kernel.shutdown()
    }
  }, 300_000)

  it("keeps the kernel up when a notebook's own server meets a taken port (only the kernel's ports end it: a review)", async () => {
    const taken = await holdPort()
    const kernel = await KernelClient.launch({ argv: kernelArgv(), cwd: join(ROOT, 'notebooks'), env: { MTFLOW_KERNEL_HEADLESS: '1' }, startupTimeoutMs: 120_000 })
    try {
      // once() rejects with the listen error (EADDRINUSE), and nothing handles it: an unhandled rejection.
      const cell = `import { createServer } from 'node:net'\nimport { once } from 'node:events'\nconst s = createServer().listen(${taken}, '127.0.0.1')\nonce(s, 'listening').then(() => console.log('up'))`
      expect((await kernel.execute(cell)).status).toBe('ok')
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const texts: string[] = []
      const next = await kernel.execute('console.log(1 + 1)', { onIopub: (m) => texts.push(String(m.content.text ?? '')) })
      expect(next.status).toBe('ok')
      expect(texts.join('')).toBe('2\n')
      expect(kernel.alive).toBe(true)
    } finally {
      await kernel.shutdown()
    }
  }, 300_000)

  it('reports an interrupt during a start on a taken port as an interrupt', async () => {
    const taken = await holdPort()
    const controller = new AbortController()
    const pickPorts = async (count: number) => {
      const ports = await freePorts(count)
      ports[1] = taken
      setTimeout(() => controller.abort(), 10)
      return ports
    }
    const error = await KernelClient.launch({ argv: kernelArgv(), cwd: join(ROOT, 'notebooks'), env: { MTFLOW_KERNEL_HEADLESS: '1' }, pickPorts, signal: controller.signal }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KernelStartInterrupted)
  }, 300_000)

  it('gives up after a few tries, naming the port', async () => {
    const taken = await holdPort()
    let calls = 0
    const pickPorts = async (count: number) => {
      calls++
      const ports = await freePorts(count)
      ports[2] = taken
      return ports
    }
    const error = await KernelClient.launch({ argv: kernelArgv(), cwd: join(ROOT, 'notebooks'), env: { MTFLOW_KERNEL_HEADLESS: '1' }, pickPorts, startupTimeoutMs: 120_000 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KernelError)
    expect((error as Error).message).toBe(`kernel could not bind its ports after 3 tries, each time one was in use (last: tcp://127.0.0.1:${taken})`)
    expect(calls).toBe(3)
  }, 300_000)
})
