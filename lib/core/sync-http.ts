// A synchronous HTTP request, for clients whose API is synchronous (the remote Tracker and Registry): one
// worker thread does the fetch while the calling thread sleeps on Atomics.wait over a shared flag, then takes
// the answer off a MessagePort with receiveMessageOnPort. The plain version — an async fetch — would force
// every call site of the Tracker to await.

import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads'
import { MtflowError } from './errors.js'

export interface SyncRequest {
  url: string
  method?: string
  headers?: Readonly<Record<string, string>>
  body?: Uint8Array | string
  /** Milliseconds until the response's headers and body have arrived (default 30 s). */
  timeoutMs?: number
}

export interface SyncResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
}

/** The request never got an answer: refused, unresolvable, timed out. `code` is the system's (ECONNREFUSED…) or TIMEOUT. */
export class SyncHttpError extends MtflowError {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
    this.name = 'SyncHttpError'
  }
}

// The worker's code, plain CommonJS run with eval (no file to find, whether lib runs as TypeScript or not).
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads')
const { flag, port } = workerData
port.on('message', async (req) => {
  let reply
  try {
    const init = { method: req.method, headers: req.headers, signal: AbortSignal.timeout(req.timeoutMs), redirect: 'manual' }
    if (req.body !== undefined) init.body = req.body
    const res = await fetch(req.url, init)
    const body = new Uint8Array(await res.arrayBuffer())
    const headers = {}
    res.headers.forEach((v, k) => { headers[k] = v })
    reply = { status: res.status, headers, body }
  } catch (error) {
    const cause = error && error.cause
    const timedOut = error && (error.name === 'TimeoutError' || error.name === 'AbortError')
    const code = timedOut ? 'TIMEOUT' : String((cause && (cause.code || cause.name)) || (error && error.name) || 'ERROR')
    const detail = timedOut ? 'no answer within ' + req.timeoutMs + ' ms' : String((cause && cause.message) || (error && error.message) || error)
    reply = { error: { code, message: detail.split('\\n')[0].slice(0, 300) } }
  }
  port.postMessage(reply, reply.body ? [reply.body.buffer] : [])
  Atomics.store(flag, 0, 1)
  Atomics.notify(flag, 0)
})
`

interface Channel {
  worker: Worker
  port: MessagePort
  flag: Int32Array
}

let channel: Channel | undefined

function open(): Channel {
  if (channel !== undefined) return channel
  const flag = new Int32Array(new SharedArrayBuffer(4))
  const { port1, port2 } = new MessageChannel()
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { flag, port: port2 }, transferList: [port2] })
  // Neither keeps the process alive: a CLI verb exits when its work is done.
  worker.unref()
  port1.unref()
  worker.on('error', () => {
    channel = undefined
  })
  worker.on('exit', () => {
    channel = undefined
  })
  channel = { worker, port: port1, flag }
  return channel
}

/**
 * Send one request and block this thread until its answer (or `timeoutMs`). Any HTTP status is an answer;
 * a request that gets none is a SyncHttpError with the system's code. One request at a time per thread.
 */
export function syncRequest(request: SyncRequest): SyncResponse {
  const timeoutMs = request.timeoutMs ?? 30_000
  if (!(timeoutMs > 0)) throw new MtflowError(`timeoutMs must be > 0 (received ${timeoutMs})`)
  const c = open()
  Atomics.store(c.flag, 0, 0)
  // A view copied to its own buffer: posting a view clones the whole buffer behind it (a pooled Buffer's slab).
  const raw = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body
  const body = raw === undefined || (raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength) ? raw : new Uint8Array(raw)
  c.port.postMessage({ url: request.url, method: request.method ?? 'GET', headers: { ...request.headers }, body, timeoutMs })
  // The worker answers within timeoutMs (its fetch is aborted then); the margin covers a worker that died.
  if (Atomics.wait(c.flag, 0, 0, timeoutMs + 2_000) === 'timed-out') {
    void c.worker.terminate()
    channel = undefined
    throw new SyncHttpError(`no answer from ${request.url} within ${timeoutMs} ms`, 'TIMEOUT')
  }
  const received = receiveMessageOnPort(c.port)
  if (received === undefined) throw new SyncHttpError(`no answer from ${request.url} (the request thread stopped)`, 'ERROR')
  const reply = received.message as { status: number; headers: Record<string, string>; body: Uint8Array } | { error: { code: string; message: string } }
  if ('error' in reply) throw new SyncHttpError(reply.error.message, reply.error.code)
  return { status: reply.status, headers: reply.headers, body: Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength) }
}
