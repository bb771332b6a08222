// Requests the server tests make of a server they started: a page (fetch with the workspace token, the body
// parsed by linkedom) and a raw request (node:http, the path and headers sent as given — fetch normalises
// "..", backslashes and the Host header).

import { request, type IncomingHttpHeaders } from 'node:http'
import { parseHTML } from 'linkedom'
import type { Listening } from '../../lib/server/index.js'

export interface Page {
  status: number
  text: string
  headers: Headers
  /** The body as an HTML document (linkedom). */
  doc: any
}

/** GET `path` with the token (and `init`'s headers, redirect mode …), its body read and parsed. */
export async function getPage(server: Listening, token: string, path: string, init: RequestInit = {}): Promise<Page> {
  const response = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...((init.headers ?? {}) as Record<string, string>) } })
  const text = await response.text()
  return { status: response.status, text, headers: response.headers, doc: parseHTML(text).document }
}

export interface RawReply {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

/** GET `path` byte for byte with exactly these headers (plus Host: 127.0.0.1:port). */
export function sendRaw(server: Listening, path: string, headers: Record<string, string> = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host: `127.0.0.1:${server.port}`, ...headers } }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** An artifact page's table: header cells and body rows, as text. */
export function tableOf(doc: any): { head: string[]; rows: string[][] } {
  const table = doc.querySelector('.artifact-table table')
  return {
    head: [...table.querySelectorAll('thead th')].map((th: any) => th.textContent),
    rows: [...table.querySelectorAll('tbody tr')].map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent)),
  }
}
