// Starting the app on a socket (@hono/node-server): resolves once it listens, with the URL and a close().

import { serve } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import { createApp, type AppOptions } from './app.js'

export interface Listening {
  url: string
  port: number
  close(): Promise<void>
}

export function startServer(options: AppOptions & { port?: number; host?: string }): Promise<Listening> {
  const app = createApp(options)
  const host = options.host ?? '127.0.0.1'
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 8787, hostname: host }, (info: AddressInfo) => {
      const shown = host.includes(':') ? `[${host}]` : host
      resolve({
        url: `http://${shown}:${info.port}`,
        port: info.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      })
    })
    server.once('error', reject)
  })
}
