// The Jupyter messaging protocol (v5.3) wire format: multipart ZeroMQ messages
//   [identities…, "<IDS|MSG>", hmac, header, parent_header, metadata, content, buffers…]
// signed with HMAC-SHA256 over the four JSON frames. A message whose signature does not verify is refused.

import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
import { ProtocolError } from '../lib/core/index.js'

export const PROTOCOL_VERSION = '5.3'
export const DELIMITER = Buffer.from('<IDS|MSG>')

export interface MessageHeader {
  msg_id: string
  session: string
  username: string
  date: string
  msg_type: string
  version: string
}

export type JsonObject = Record<string, unknown>

export interface JupyterMessage<C extends JsonObject = JsonObject> {
  identities: Buffer[]
  header: MessageHeader
  /** Empty object when the message has no parent. */
  parent_header: Partial<MessageHeader>
  metadata: JsonObject
  content: C
  buffers: Buffer[]
}

/** Hex HMAC-SHA256 of the frames; the empty string when the key is empty (unsigned sessions). */
export function sign(key: string, frames: ReadonlyArray<string | Buffer>): string {
  if (key === '') return ''
  const hmac = createHmac('sha256', key)
  for (const frame of frames) hmac.update(frame)
  return hmac.digest('hex')
}

export function newHeader(msgType: string, session: string, username = 'mtflow'): MessageHeader {
  return {
    msg_id: randomUUID(),
    session,
    username,
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  }
}

export function newMessage<C extends JsonObject>(msgType: string, content: C, session: string): JupyterMessage<C> {
  return { identities: [], header: newHeader(msgType, session), parent_header: {}, metadata: {}, content, buffers: [] }
}

/** Serialise and sign a message into ZeroMQ frames. */
export function encode(message: JupyterMessage, key: string): Buffer[] {
  const body = [message.header, message.parent_header, message.metadata, message.content].map((part) =>
    Buffer.from(JSON.stringify(part), 'utf8'),
  )
  return [...message.identities, DELIMITER, Buffer.from(sign(key, body), 'ascii'), ...body, ...message.buffers]
}

/** Parse and verify ZeroMQ frames; throws ProtocolError on a bad signature or a malformed message. */
export function decode(frames: ReadonlyArray<Buffer>, key: string): JupyterMessage {
  const at = frames.findIndex((frame) => frame.equals(DELIMITER))
  if (at < 0) throw new ProtocolError('jupyter message refused: no <IDS|MSG> delimiter')
  if (frames.length < at + 6) {
    throw new ProtocolError(`jupyter message refused: expected 5 frames after the delimiter, got ${frames.length - at - 1}`)
  }
  const signature = frames[at + 1]!
  const body = frames.slice(at + 2, at + 6)
  if (key !== '') {
    const expected = Buffer.from(sign(key, body), 'ascii')
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw new ProtocolError('jupyter message refused: invalid HMAC-SHA256 signature')
    }
  }
  const [header, parent, metadata, content] = body.map((frame, i) => parseFrame(frame, FRAME_NAMES[i]!))
  if (typeof header!.msg_type !== 'string' || typeof header!.msg_id !== 'string') {
    throw new ProtocolError('jupyter message refused: header lacks msg_id or msg_type')
  }
  return {
    identities: frames.slice(0, at) as Buffer[],
    header: header as unknown as MessageHeader,
    parent_header: parent as Partial<MessageHeader>,
    metadata: metadata!,
    content: content!,
    buffers: frames.slice(at + 6) as Buffer[],
  }
}

const FRAME_NAMES = ['header', 'parent_header', 'metadata', 'content']

function parseFrame(frame: Buffer, name: string): JsonObject {
  let value: unknown
  try {
    value = JSON.parse(frame.toString('utf8'))
  } catch (cause) {
    throw new ProtocolError(`jupyter message refused: ${name} is not JSON`, { cause })
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError(`jupyter message refused: ${name} is not a JSON object`)
  }
  return value as JsonObject
}
