// Starting the app on a socket (node:http + @hono/node-server's request listener): resolves once it
// listens, with the URL and a close(). A request the adapter cannot turn into a URL (a backslash in the
// path, a bad Host header) gets a 400 with a JSON message like every other error.

import { getRequestListener } from '@hono/node-server'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Hono } from 'hono'
import { createApp, type AppOptions } from './app.js'
import { jsonReplacer } from './api.js'
import { flushPredictionLogs } from './champion.js'

export interface Listening {
  url: string
  port: number
  close(): Promise<void>
}

export function startServer(options: AppOptions & { port?: number; host?: string; app?: Hono }): Promise<Listening> {
  const app = options.app ?? createApp(options)
  const host = options.host ?? '127.0.0.1'
  const listener = getRequestListener(app.fetch, {
    hostname: host,
    errorHandler: (error: unknown) =>
      new Response(JSON.stringify({ error: `bad request: ${error instanceof Error ? error.message : String(error)}` }, jsonReplacer), {
        status: 400,
        headers: { 'content-type': 'application/json; charset=utf-8' },
      }),
  })
  const server = createServer(listener)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 8787, host, () => {
      const info = server.address() as AddressInfo
      const shown = host.includes(':') ? `[${host}]` : host
      resolve({
        url: `http://${shown}:${info.port}`,
        port: info.port,
        close: async () => {
          await new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
          // The predictions it answered are on disk once it has closed.
          await flushPredictionLogs()
        },
      })
    })
  })
}
