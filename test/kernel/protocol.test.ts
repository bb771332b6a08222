import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Dealer, Router } from 'zeromq'
import { ProtocolError } from '../../lib/core/index.js'
import { decode, DELIMITER, encode, newMessage, sign } from '../../kernel/protocol.js'
import { freePorts } from '../../kernel/client.js'

const KEY = 'a0b1c2d3-secret'

describe('jupyter wire protocol', () => {
  it('signs the four JSON frames with HMAC-SHA256 (checked with node:crypto directly)', () => {
    const message = newMessage('execute_request', { code: '1 + 1' }, 'session-1')
    const frames = encode(message, KEY)
    expect(frames[0]!.equals(DELIMITER)).toBe(true)
    const [header, parent, metadata, content] = frames.slice(2, 6).map((f) => f.toString())
    const expected = createHmac('sha256', KEY).update(header! + parent! + metadata! + content!).digest('hex')
    expect(frames[1]!.toString()).toBe(expected)
    expect(JSON.parse(content!)).toEqual({ code: '1 + 1' })
    expect(JSON.parse(header!).msg_type).toBe('execute_request')
    expect(JSON.parse(header!).version).toBe('5.3')
  })

  it('round-trips identities, parent header and buffers', () => {
    const message = newMessage('stream', { name: 'stdout', text: 'hi' }, 's')
    message.identities = [Buffer.from('peer-1')]
    message.parent_header = { msg_id: 'abc', msg_type: 'execute_request' }
    message.buffers = [Buffer.from([1, 2, 3])]
    const back = decode(encode(message, KEY), KEY)
    expect(back.identities.map(String)).toEqual(['peer-1'])
    expect(back.parent_header.msg_id).toBe('abc')
    expect(back.content).toEqual({ name: 'stdout', text: 'hi' })
    expect([...back.buffers[0]!]).toEqual([1, 2, 3])
  })

  it('refuses a message with a bad signature, a tampered body or a wrong key', () => {
    const frames = encode(newMessage('kernel_info_request', {}, 's'), KEY)
    const forged = frames.slice()
    forged[1] = Buffer.from('0'.repeat(64))
    expect(() => decode(forged, KEY)).toThrow(ProtocolError)
    expect(() => decode(forged, KEY)).toThrow(/invalid HMAC-SHA256 signature/)
    const tampered = frames.slice()
    tampered[5] = Buffer.from(JSON.stringify({ code: 'process.exit()' }))
    expect(() => decode(tampered, KEY)).toThrow(/invalid HMAC-SHA256 signature/)
    expect(() => decode(frames, 'another-key')).toThrow(/invalid HMAC-SHA256 signature/)
    expect(() => decode(frames.slice(1), KEY)).toThrow(/no <IDS\|MSG> delimiter/)
    expect(() => decode(frames.slice(0, 4), KEY)).toThrow(/expected 5 frames/)
  })

  it('refuses a forged message arriving over a real ZeroMQ socket', async () => {
    const [port] = await freePorts(1)
    const router = new Router({ linger: 0 })
    const dealer = new Dealer({ linger: 0, routingId: 'client' })
    await router.bind(`tcp://127.0.0.1:${port}`)
    dealer.connect(`tcp://127.0.0.1:${port}`)
    try {
      // A ROUTER drops messages to peers it has not heard from yet: let the client speak first.
      await dealer.send(encode(newMessage('kernel_info_request', {}, 's'), KEY))
      const [peer, ...request] = await router.receive()
      expect(peer!.toString()).toBe('client')
      expect(decode(request, KEY).header.msg_type).toBe('kernel_info_request')
      const good = newMessage('status', { execution_state: 'idle' }, 's')
      await router.send([Buffer.from('client'), ...encode(good, KEY)])
      await router.send([Buffer.from('client'), ...encode(good, 'attacker-key')])
      const first = await dealer.receive()
      const second = await dealer.receive()
      expect(decode(first, KEY).content).toEqual({ execution_state: 'idle' })
      expect(() => decode(second, KEY)).toThrow(ProtocolError)
    } finally {
      router.close()
      dealer.close()
    }
  })

  it('an empty key means an unsigned session', () => {
    expect(sign('', [Buffer.from('x')])).toBe('')
    const frames = encode(newMessage('status', {}, 's'), '')
    expect(frames[1]!.toString()).toBe('')
    expect(decode(frames, '').header.msg_type).toBe('status')
  })
})
